/*
 * delayq.h - wake-up timer for parked requests (latency, jitter, hangs).
 *
 * One thread sleeps until the earliest due time in a min-heap and hands each
 * due item to a wake callback (server.c resumes the suspended connection),
 * so a delayed request never occupies a worker thread. Capacity is fixed at
 * init; delayq_add refuses when full or stopping, and the caller then
 * answers at once. Thread-safe.
 */
#ifndef SANDBOX_DELAYQ_H
#define SANDBOX_DELAYQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DELAYQ_NEVER UINT64_MAX /* due time of a hang: only stop wakes it */

/* Called on the timer thread, without the queue lock held. */
typedef void (*delayq_wake_fn)(void *item, void *cls);

struct delayq_entry {
	uint64_t due_ns; /* monotonic */
	uint64_t seq;	 /* insertion order, breaks ties */
	void *item;
};

struct delayq {
	pthread_mutex_t lock;
	pthread_cond_t cond;	  /* timer thread: add and stop; monotonic */
	pthread_cond_t stop_cond; /* delayq_sleep_until: stop; monotonic */
	struct delayq_entry *heap;
	size_t len, cap;
	uint64_t seq;
	int stopping; /* set once by delayq_stop, under lock */
	int running;  /* timer thread started */
	pthread_t thread;
	delayq_wake_fn wake;
	void *cls;
};

/* Monotonic clock in nanoseconds. */
uint64_t delayq_now_ns(void);

/* Prepares a queue for up to cap items; starts nothing. */
int delayq_init(struct delayq *q, size_t cap, delayq_wake_fn wake, void *cls,
		struct err *err);

/* Starts the timer thread. */
int delayq_start(struct delayq *q, struct err *err);

/* Schedules item at due_ns. Returns 0, or -1 when full or stopping. */
int delayq_add(struct delayq *q, uint64_t due_ns, void *item);

/* 1 once delayq_stop has begun. */
int delayq_stopping(struct delayq *q);

/*
 * Blocks the calling thread until due_ns or until the queue stops, for
 * modes where a thread per connection may sleep. Returns 0 when due_ns
 * was reached, -1 when stopping.
 */
int delayq_sleep_until(struct delayq *q, uint64_t due_ns);

/*
 * Refuses further adds, wakes every queued item at once (hangs included)
 * and joins the timer thread. Idempotent.
 */
void delayq_stop(struct delayq *q);

/* Frees the heap; call after delayq_stop. q may be NULL. */
void delayq_release(struct delayq *q);

#endif
