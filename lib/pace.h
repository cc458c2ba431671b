/*
 * pace.h - when the next request may start: the global token bucket
 * (--rate), the pause every request honours after a 429, and the circuit
 * breaker that counts consecutive failed requests.
 *
 * Pure: the caller passes the time in; nothing sleeps.
 */
#ifndef DOTS_PACE_H
#define DOTS_PACE_H

#include <stdbool.h>
#include <stdint.h>

#include "outcome.h"

#define PACE_BREAKER_LIMIT 50 /* consecutive failed requests that stop a run */

struct pace {
	double rate;              /* requests/s, 0 = unlimited */
	double tokens;            /* available now (<= burst) */
	int64_t tokens_at_ms;     /* when tokens was last refilled */
	int64_t pause_until_ms;   /* no request starts before this */
	int consecutive_failures; /* reset by any non-failure */
};

/* Starts with one token: the first request may go at once. */
void pace_init(struct pace *p, double rate, int64_t now_ms);

/* True when a request may start now; takes its token. */
bool pace_take(struct pace *p, int64_t now_ms);

/* True when a request could start now (does not take a token). */
bool pace_ready(struct pace *p, int64_t now_ms);

/* Milliseconds until pace_take can succeed (0 = now). */
int64_t pace_wait_ms(const struct pace *p, int64_t now_ms);

/* Changes the rate (adaptive pacing); the credit earned so far is kept,
 * up to the new burst. 0 = unlimited. */
void pace_set_rate(struct pace *p, double rate, int64_t now_ms);

/* Holds every new request until until_ms (a later pause wins). */
void pace_pause(struct pace *p, int64_t until_ms);

/*
 * Counts an outcome for the circuit breaker. Failures are transport errors
 * and 5xx; an accepted request or an API rejection of the data (4xx)
 * resets the count; a 429 is a pacing signal and does neither. Returns true
 * when the limit is reached.
 */
bool pace_count(struct pace *p, enum outcome o);

#endif
