/*
 * faults.h - what the sandbox does wrong on purpose, and when.
 *
 * One seeded generator (rng.h) behind one mutex makes every random choice:
 * which fault a request gets, whether its effect happens first, how much
 * jitter it waits, and the ids and codes store.c records. Time is passed in
 * (monotonic nanoseconds), so everything here is testable without a clock.
 * All functions are thread-safe after faults_init().
 */
#ifndef SANDBOX_FAULTS_H
#define SANDBOX_FAULTS_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

/* Injected misbehaviour. The random kinds run FAULT_429..FAULT_ECHO. */
enum fault_kind {
	FAULT_NONE = 0,
	FAULT_429, /* 429 + Retry-After */
	FAULT_500, /* status with a JSON error body */
	FAULT_502,
	FAULT_503,
	FAULT_504,
	FAULT_RESET,	 /* connection closed, no response */
	FAULT_HANG,	 /* no answer until shutdown (or --hang-ms) */
	FAULT_MALFORMED, /* 200/201 with a body that is not JSON */
	FAULT_OVERSIZE,	 /* 200 with a 5 MiB body */
	FAULT_NOID,	 /* 201 with a JSON object lacking "id" */
	FAULT_HTML,	 /* 502 with an HTML page */
	FAULT_ECHO,	 /* 422 echoing the request's credentials back */
	FAULT_REDIRECT,	 /* 302 to --redirect (not random, counted here) */
	FAULT_KIND_COUNT
};

#define FAULT_FIRST_RANDOM FAULT_429
#define FAULT_LAST_RANDOM FAULT_ECHO

struct faults_config {
	double
	    prob[FAULT_KIND_COUNT]; /* per random kind, each 0..1, sum <= 1 */
	double after_effect;	    /* 0..1: effect first, then the fault */
	long latency_ms;	    /* fixed delay per API request */
	long jitter_ms;		    /* plus uniform 0..jitter_ms */
	double rate_limit;	    /* requests/s over all clients, 0 = off */
	long pause_grace_ms;	    /* in-flight allowance after a 429 */
	uint64_t seed;		    /* --seed */
};

/* The verdict for one routed, authenticated API request. */
struct faults_decision {
	enum fault_kind kind; /* FAULT_NONE: answer normally */
	int rate_limited;     /* 1: over --rate-limit, answer 429 (kind NONE) */
	int effect_first;     /* 1: apply the effect, then the fault */
};

/* Counters for /_sandbox/stats, copied out under the lock. */
struct faults_stats {
	unsigned long count[FAULT_KIND_COUNT]; /* injected, by kind */
	unsigned long rate_limited;	       /* 429s from the token bucket */
	unsigned long during_pause;	       /* arrivals inside a 429 pause */
	unsigned long after_effects; /* faults whose effect happened */
};

struct faults {
	pthread_mutex_t lock;
	struct faults_config cfg;
	struct rng rng;
	double tokens;		 /* token bucket content */
	double burst;		 /* bucket size: max(1, rate / 10) */
	uint64_t bucket_ns;	 /* last refill time */
	uint64_t pause_from_ns;	 /* arrivals after this ... */
	uint64_t pause_until_ns; /* ... and before this count as violations */
	struct faults_stats st;
};

/* "429", "reset", ... as used in the stats JSON; "none" for FAULT_NONE. */
const char *faults_kind_name(enum fault_kind k);

/* Checks ranges and that the probabilities add up to at most 1. */
int faults_config_check(const struct faults_config *cfg, struct err *err);

/* Seeds the generator and fills the token bucket. Returns 0 or -1 (err). */
int faults_init(struct faults *f, const struct faults_config *cfg,
		struct err *err);
void faults_release(struct faults *f);

/*
 * Notes an API request arriving at now_ns; counts it in during_pause when it
 * falls after a 429's grace period and before its Retry-After ran out.
 */
void faults_arrive(struct faults *f, uint64_t now_ns);

/*
 * Decides the fate of a routed, authenticated API request: token bucket
 * first, then one draw for the fault kind, then (only when a fault was
 * chosen and has_effect) one draw for effect-first. Counts what it injects.
 */
void faults_decide(struct faults *f, uint64_t now_ns, int has_effect,
		   struct faults_decision *out);

/* Delay before answering an API request: latency plus a jitter draw. */
long faults_delay_ms(struct faults *f);

/* Records that a 429 with Retry-After retry_after_s went out at now_ns. */
void faults_note_429(struct faults *f, uint64_t now_ns, long retry_after_s);

/* Counts a fault decided outside faults_decide (the redirect). */
void faults_count(struct faults *f, enum fault_kind k);

/* Draws a user id / a verification code from the shared generator. */
void faults_uuid(struct faults *f, char out[RNG_UUID_LEN + 1]);
void faults_code(struct faults *f, char out[RNG_CODE_LEN + 1]);

void faults_snapshot(struct faults *f, struct faults_stats *out);

#endif
