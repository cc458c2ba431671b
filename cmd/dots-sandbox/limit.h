/*
 * limit.h - the sandbox's request limiter (--limit-*, /_sandbox/limit):
 * a token bucket or a fixed window over every routed, authenticated API
 * request, a separate token bucket for send-verification-token, a schedule
 * of rate changes and the accepted-requests-per-second history.
 *
 * Independent of the legacy --rate-limit bucket in faults.c. Times are
 * passed in (monotonic nanoseconds), never read. Thread-safe after
 * limit_init(): one mutex guards settings and state, so a replacement is
 * atomic with respect to every decision.
 */
#ifndef SANDBOX_LIMIT_H
#define SANDBOX_LIMIT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LIMIT_STEPS_MAX 32	/* --limit-schedule entries */
#define LIMIT_HISTORY 3600	/* accepted_per_s keeps this many seconds */
#define LIMIT_RATE_MAX 1e7	/* requests/s, or per window */
#define LIMIT_WINDOW_MAX 86400	/* seconds */
#define LIMIT_AT_MAX 864000.0	/* schedule times, seconds */

enum limit_kind {
	LIMIT_NONE = 0, /* no general limit (an SMS limit may still apply) */
	LIMIT_BUCKET,	/* token bucket: rate/s, burst tokens */
	LIMIT_WINDOW,	/* at most rate requests per window_s seconds */
};

/*
 * One --limit-schedule entry: at at_ns the limiter becomes a bucket of
 * rate/s (0: no general limit). at_ns is an offset: from the start for
 * limit_init and limit_get, from the replacement for limit_replace.
 */
struct limit_step {
	uint64_t at_ns;
	double rate;
};

struct limit_settings {
	enum limit_kind kind;
	double rate;	 /* bucket: tokens/s; window: requests per window */
	long window_s;	 /* window length (LIMIT_WINDOW only) */
	double burst;	 /* bucket size; 0: max(1, rate / 10) */
	int no_retry_after; /* 1: refusals carry no Retry-After */
	double sms_rate; /* send-verification-token bucket/s; 0: none */
	size_t n_steps;	 /* pending schedule, at_ns ascending */
	struct limit_step steps[LIMIT_STEPS_MAX];
};

/* The verdict for one request. */
enum limit_verdict {
	LIMIT_OK = 0,
	LIMIT_REFUSED,	   /* the general limit: 429 */
	LIMIT_REFUSED_SMS, /* the SMS limit: 429 */
};

struct limit_stats {
	unsigned long limited;	   /* every 429 from the limiter */
	unsigned long limited_sms; /* of which the SMS limit's */
};

struct limit_bucket {
	double tokens;
	uint64_t last_ns; /* last refill */
	int primed;	  /* 0: full at first use */
};

struct limit {
	pthread_mutex_t lock;
	struct limit_settings set;
	uint64_t start_ns;	  /* second 0 of the history */
	struct limit_bucket main; /* LIMIT_BUCKET */
	struct limit_bucket sms;
	uint64_t win_index; /* LIMIT_WINDOW: now_ns / window, + 1 */
	unsigned long win_count;
	struct limit_stats st;
	uint64_t hist_head; /* newest second recorded, + 1 (0: none) */
	uint32_t hist[LIMIT_HISTORY];
};

/* No limits, Retry-After on: all zero. */
void limit_settings_default(struct limit_settings *s);

/* Checks ranges, the window's whole numbers and the schedule's order. */
int limit_settings_check(const struct limit_settings *s, struct err *err);

/* The bucket size the settings give (burst, or max(1, rate / 10)). */
double limit_burst_of(double rate, double burst);

/*
 * Starts the limiter with s at start_ns, the server's start (second 0 of
 * the history, the schedule's origin). Returns 0 or -1 (err).
 */
int limit_init(struct limit *l, const struct limit_settings *s,
	       uint64_t start_ns, struct err *err);
void limit_release(struct limit *l);

/*
 * Decides a request at now_ns (sms: a send-verification-token; it passes
 * the general limit, then the SMS bucket, and uses neither's quota when
 * either refuses). On a
 * refusal sets *retry_s to the whole seconds (>= 1) until it could pass, or
 * -1 when the settings say no Retry-After; counts it. Otherwise counts the
 * request in the per-second history.
 */
enum limit_verdict limit_take(struct limit *l, uint64_t now_ns, int sms,
			      long *retry_s);

/*
 * Replaces the settings at now_ns (state starts afresh: buckets full, a new
 * window count); the schedule in s replaces the pending one. Returns 0 or
 * -1 (err, nothing changed).
 */
int limit_replace(struct limit *l, const struct limit_settings *s,
		  uint64_t now_ns, struct err *err);

/* The current settings at now_ns (due schedule steps applied first). */
void limit_get(struct limit *l, uint64_t now_ns, struct limit_settings *out);

/* The counters. */
void limit_snapshot(struct limit *l, struct limit_stats *out);

/*
 * Accepted requests per second since start, oldest first, up to and
 * including now_ns's second: at most LIMIT_HISTORY entries into out.
 * Returns how many were written.
 */
size_t limit_history(struct limit *l, uint64_t now_ns,
		     uint32_t out[LIMIT_HISTORY]);

#endif
