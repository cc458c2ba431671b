/*
 * retry.h - the retry policy as a pure decision: given what happened to a
 * request, retry it (after how long), give up, or call it in doubt.
 *
 * No I/O, no clock, no randomness of its own: the caller passes a random
 * number, so tests are exact (the README).
 */
#ifndef DOTS_RETRY_H
#define DOTS_RETRY_H

#include <stdint.h>

#include "outcome.h"

/* What a request does at the API; decides what is safe to resend. */
enum request_kind {
	REQUEST_CREATE, /* idempotent by phone number: safe to resend */
	REQUEST_SEND,   /* sends an SMS: resend only if it certainly did not act */
	REQUEST_VERIFY  /* submits a code: resending the same code is harmless */
};

enum retry_verdict {
	RETRY_DONE,     /* success: nothing to do */
	RETRY_AGAIN,    /* try again after delay_ms */
	RETRY_FAIL,     /* final failure (rejected, or attempts exhausted) */
	RETRY_IN_DOUBT, /* a side effect may have happened: do not resend */
	RETRY_ABORT,    /* the whole run must stop: the API refused the
			 * credentials (401/403) */
	RETRY_CONFIG    /* the whole run must stop: the configuration is wrong
			 * (OUTCOME_CONFIG: host does not resolve, certificate
			 * not trusted). Nothing reached the API; the request
			 * is not in doubt. outcome_describe says what to fix. */
};

#define RETRY_RATE_LIMITED_FACTOR 10 /* attempts a 429 allows, x max_attempts */

struct retry_policy {
	int max_attempts;      /* attempts incl. the first, >= 1 */
	long base_delay_ms;    /* backoff base (250) */
	long max_delay_ms;     /* backoff cap (30000) */
	long max_retry_after_ms; /* bound on a server's Retry-After */
	int resend_in_doubt;   /* operator allows resending in-doubt sends */
};

struct retry_decision {
	enum retry_verdict verdict;
	long delay_ms;      /* for RETRY_AGAIN */
	int pause_all;      /* 429: hold every new request for delay_ms */
};

/*
 * Decides after attempt number `attempt` (1 = first) ended in o.
 * retry_after_ms is the server's Retry-After (-1 = none). rnd is a uniform
 * random number in [0, 1) used for full jitter.
 */
struct retry_decision retry_decide(const struct retry_policy *p,
				   enum request_kind kind, enum outcome o,
				   int attempt, long retry_after_ms, double rnd);

/* Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^(attempt-1))]. */
long retry_backoff_ms(const struct retry_policy *p, int attempt, double rnd);

#endif
