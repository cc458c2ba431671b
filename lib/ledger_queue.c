/*
 * ledger_queue.c - the ledger's write-behind worker: a double-buffered
 * queue of opaque ops under one mutex, a thread that swaps the buffers and
 * runs a batch through the ledger's callback, durable tickets, the wake
 * call, and a sticky first failure. No SQLite here: lib/ledger_rows.c runs it.
 */
#include "ledger_queue.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* A batch the caller lets grow before the worker is woken without a commit. */
#define LEDGER_QUEUE_BATCH 1024

struct ledger_queue {
	size_t op_size;
	ledger_queue_run_fn run;
	void *run_ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* new work, work done, or stop */
	unsigned char *q;      /* queued ops; the worker runs the other buffer */
	size_t nq, qcap;
	uint64_t enqueued, executed; /* ops so far */
	uint64_t done;         /* newest durable ticket */
	bool failed, stop;
	char fail_msg[ERR_MSG_MAX];
	void (*wake)(void *ctx);
	void *wake_ctx;
};

static void *worker_main(void *arg)
{
	struct ledger_queue *q = arg;
	unsigned char *run = NULL;
	size_t run_cap = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->nq) {
			unsigned char *ops = q->q;
			size_t n = q->nq, cap = q->qcap;
			bool failed = q->failed;
			uint64_t ticket = 0;
			struct err e;
			int rc = 0;

			q->q = run; /* the caller fills the other buffer meanwhile */
			q->qcap = run_cap;
			q->nq = 0;
			run = ops;
			run_cap = cap;
			pthread_mutex_unlock(&q->mu);
			err_init(&e);
			if (!failed)
				rc = q->run(q->run_ctx, run, n, &ticket, &e);
			pthread_mutex_lock(&q->mu);
			if (rc < 0 && !q->failed) {
				q->failed = true;
				memcpy(q->fail_msg, e.msg, sizeof(q->fail_msg));
			}
			if (ticket > q->done)
				q->done = ticket;
			q->executed += n;
			pthread_cond_broadcast(&q->cv);
			if (q->wake && (ticket || rc < 0))
				q->wake(q->wake_ctx); /* under the lock: see ledger_queue_set_wake */
			continue;
		}
		if (q->stop)
			break;
		pthread_cond_wait(&q->cv, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	free(run);
	return NULL;
}

/* Call with mu held. */
static int failure(const struct ledger_queue *q, struct err *err)
{
	return err_set(err, "%s", q->fail_msg);
}

int ledger_queue_start(struct ledger_queue **out, size_t op_size, uint64_t durable,
		       ledger_queue_run_fn run, void *ctx, struct err *err)
{
	struct ledger_queue *q = calloc(1, sizeof(*q));
	sigset_t all, old;
	int rc;

	if (!q)
		return err_set(err, "out of memory");
	q->op_size = op_size;
	q->run = run;
	q->run_ctx = ctx;
	q->done = durable;
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return err_set(err, "cannot create a lock");
	}
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return err_set(err, "cannot create a condition variable");
	}
	/* signals stay with the caller's thread (the worker inherits this) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->thread, NULL, worker_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return err_set(err, "cannot start its thread: %s", strerror(rc));
	}
	*out = q;
	return 0;
}

int ledger_queue_push(struct ledger_queue *q, const void *op, bool now, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->failed) {
		rc = failure(q, err);
	} else if (q->nq == q->qcap) {
		size_t cap = q->qcap ? q->qcap * 2 : 256;
		unsigned char *buf = realloc(q->q, cap * q->op_size);

		if (!buf) {
			rc = err_set(err, "out of memory");
		} else {
			q->q = buf;
			q->qcap = cap;
		}
	}
	if (rc == 0) {
		memcpy(q->q + q->nq * q->op_size, op, q->op_size);
		q->nq++;
		q->enqueued++;
		/* other ops wait for the next commit, or a reader (flush) */
		if (now || q->nq >= LEDGER_QUEUE_BATCH)
			pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int ledger_queue_flush(struct ledger_queue *q, struct err *err)
{
	uint64_t target;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	target = q->enqueued;
	if (q->executed < target)
		pthread_cond_broadcast(&q->cv);
	while (q->executed < target)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->failed)
		rc = failure(q, err);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int ledger_queue_wait(struct ledger_queue *q, uint64_t ticket, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	while (q->done < ticket && !q->failed)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->done < ticket)
		rc = failure(q, err);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int ledger_queue_durable(struct ledger_queue *q, uint64_t *ticket, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	*ticket = q->done;
	if (q->failed)
		rc = failure(q, err);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void ledger_queue_set_wake(struct ledger_queue *q, void (*wake)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&q->mu);
	q->wake = wake;
	q->wake_ctx = ctx;
	pthread_mutex_unlock(&q->mu);
}

void ledger_queue_fail(struct ledger_queue *q, const char *msg)
{
	pthread_mutex_lock(&q->mu);
	if (!q->failed) {
		q->failed = true;
		snprintf(q->fail_msg, sizeof(q->fail_msg), "%s", msg);
	}
	pthread_mutex_unlock(&q->mu);
}

void ledger_queue_stop(struct ledger_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	q->wake = NULL;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->q);
	free(q);
}
