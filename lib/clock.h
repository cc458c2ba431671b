/*
 * clock.h - monotonic time in milliseconds and the jitter random numbers
 * of the retry policy. The scheduler takes its clock through a function
 * pointer so tests can drive time; this is the real one.
 */
#ifndef DOTS_CLOCK_H
#define DOTS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t clock_now_ms(void);

/* A seed from the time and the process id (never 0). */
uint64_t clock_seed(void);

/* Next uniform number in [0, 1) from a xorshift64* state (jitter only,
 * nothing secret). *state must not be 0. */
double clock_rand01(uint64_t *state);

#endif
