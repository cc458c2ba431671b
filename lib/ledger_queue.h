/*
 * ledger_queue.h - internal to lib/ledger*.c: the write-behind worker of
 * an async ledger. A thread of its own runs queued operations in batches
 * through a callback, hands out durability by ticket, calls a wake
 * function after each durable batch, and remembers its first failure.
 * It knows nothing of SQLite nor of what an operation means: ops are
 * opaque fixed-size records, copied when queued.
 */
#ifndef DOTS_LEDGER_QUEUE_H
#define DOTS_LEDGER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct ledger_queue;

/*
 * Runs n queued ops (op_size bytes each, in the order queued) on the
 * worker thread, outside the queue's lock. Sets *ticket to the newest
 * ticket the batch made durable (0 = none). Returns 0, or -1 with err
 * set: the queue then fails for good (see ledger_queue_fail).
 */
typedef int (*ledger_queue_run_fn)(void *ctx, const void *ops, size_t n,
				   uint64_t *ticket, struct err *err);

/*
 * Starts the worker thread with every signal blocked (they stay with the
 * caller's threads). durable is the ticket already durable. run and ctx
 * must outlive the queue. Fails (err set, nothing started) when the lock,
 * condition variable, or thread cannot be made. *out is freed by
 * ledger_queue_stop.
 */
int ledger_queue_start(struct ledger_queue **out, size_t op_size, uint64_t durable,
		       ledger_queue_run_fn run, void *ctx, struct err *err);

/*
 * Queues a copy of op. now = wake the worker at once (a commit);
 * otherwise it waits for more ops, a reader's flush, or a full batch.
 * Fails with the sticky failure, or on out of memory.
 */
int ledger_queue_push(struct ledger_queue *q, const void *op, bool now, struct err *err);

/* Waits until every op queued so far has run. Fails with the sticky failure. */
int ledger_queue_flush(struct ledger_queue *q, struct err *err);

/* Waits until ticket is durable. Fails with the sticky failure if it never is. */
int ledger_queue_wait(struct ledger_queue *q, uint64_t ticket, struct err *err);

/* *ticket = the newest durable ticket; -1 (err set) once the queue failed. */
int ledger_queue_durable(struct ledger_queue *q, uint64_t *ticket, struct err *err);

/*
 * The function the worker calls, with the queue's lock held, after each
 * batch that made a ticket durable or failed. NULL = none. Once this
 * returns the old function is not running.
 */
void ledger_queue_set_wake(struct ledger_queue *q, void (*wake)(void *ctx), void *ctx);

/*
 * Makes the queue fail with msg unless it already failed: every later
 * call reports the first message, and ops still queued are dropped, not
 * run.
 */
void ledger_queue_fail(struct ledger_queue *q, const char *msg);

/* Lets the worker run (or, after a failure, drop) what is queued, joins
 * it, and frees q. NULL is a no-op. */
void ledger_queue_stop(struct ledger_queue *q);

#endif
