/*
 * batch.h - a bounded set of independent API requests run to completion:
 * concurrency, retries with backoff, 429 pause, rate limit, circuit
 * breaker and graceful stop, as in an import run. Used by the
 * send-verification and verify commands, which have no input order to keep
 * beyond the batch itself.
 */
#ifndef DOTS_BATCH_H
#define DOTS_BATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http.h"
#include "pace.h"
#include "retry.h"

#define BATCH_URL_MAX 512
#define BATCH_ERROR_MAX 300

struct batch_job {
	char url[BATCH_URL_MAX];
	const char *body;        /* borrowed; NULL = empty POST */
	size_t body_len;
	enum request_kind kind;
	void *cookie;            /* the caller's */
	/* filled by batch_run: */
	bool done;               /* reached a verdict */
	enum retry_verdict verdict; /* DONE, FAIL, IN_DOUBT or ABORT when done */
	bool acted_maybe;        /* an attempt may have reached the API */
	long http_status;
	int attempts;
	char error[BATCH_ERROR_MAX + 1];
	/* internal */
	bool in_flight;
	int64_t ready_at_ms;
};

struct batch {
	struct http *http;       /* borrowed engine */
	struct retry_policy policy;
	struct pace pace;        /* persists across batches */
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *abandon; /* stop at once, in-flight abandoned */
	uint64_t rng;
	/* Called before a job's request leaves (e.g. to record a send intent),
	 * then commit once per group of starts. Either may be NULL. */
	int (*before_start)(void *ctx, struct batch_job *j, struct err *err);
	int (*commit)(void *ctx, struct err *err);
	/* Called as soon as a job has its verdict (e.g. to record a send's
	 * outcome, which the next commit makes durable). May be NULL. */
	int (*on_done)(void *ctx, struct batch_job *j, struct err *err);
	void *ctx;
	/* figures and how it ended */
	size_t requests, retries, rate_limited;
	size_t probe_requests;   /* of requests: the run's first read (probe.h) */
	bool aborted;
	char abort_reason[512];
	int signal;
};

/*
 * Runs jobs[0..n) until each has a verdict or the run stops (signal, abort).
 * Jobs not done when it returns were stopped: their verdict is meaningless.
 * Returns 0, or -1 on an engine or callback failure.
 */
int batch_run(struct batch *b, struct batch_job *jobs, size_t n,
	      struct err *err);

/* Stops when the grace period after a signal ran out: 10 s. */
#define BATCH_STOP_GRACE_MS 10000

#endif
