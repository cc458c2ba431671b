/*
 * jobq.h - the scheduler's two queues of window-slot indexes: a FIFO ring
 * (work ready now, in arrival order) and a min-heap of not-before times
 * (retries waiting for their backoff). Fixed capacity, no allocation after
 * init, no clock of their own.
 */
#ifndef DOTS_JOBQ_H
#define DOTS_JOBQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fifo {
	size_t *v;
	size_t cap, head, n;
};

/* Allocates room for cap entries. Returns 0 or -1 (out of memory). */
int fifo_init(struct fifo *q, size_t cap);
/* Appends v. The caller keeps n below cap (the window bounds it). */
void fifo_push(struct fifo *q, size_t v);
/* Removes and returns the oldest entry; q must not be empty. */
size_t fifo_pop(struct fifo *q);
/* The oldest entry without removing it; q must not be empty. */
size_t fifo_peek(const struct fifo *q);
void fifo_release(struct fifo *q);

struct timer_item {
	int64_t due_ms; /* not before this time */
	size_t idx;
};

struct timerq {
	struct timer_item *v;
	size_t cap, n;
};

int timerq_init(struct timerq *t, size_t cap);
/* Adds idx, due at due_ms. The caller keeps n below cap. */
void timerq_push(struct timerq *t, int64_t due_ms, size_t idx);
/* Pops the earliest entry if it is due at now_ms: returns true with *idx. */
bool timerq_pop_due(struct timerq *t, int64_t now_ms, size_t *idx);
/* The earliest due time, or INT64_MAX when empty. */
int64_t timerq_next_ms(const struct timerq *t);
void timerq_release(struct timerq *t);

#endif
