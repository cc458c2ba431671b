/*
 * engine.h - the one request engine every command runs on. An import, a
 * send-verification run, verify, the first request of a run and the
 * webhook hand it jobs and learn each job's end through one callback.
 *
 * It owns what they all share: the transport's slots, pacing (the rate and
 * the pause after a 429), retries with backoff as not-before times (never
 * a sleep), the circuit breaker, the stop grace after a signal, aborts,
 * events and the request figures. The clock and the transport are
 * injectable: tests drive it with a fake of each, in milliseconds of CPU.
 *
 * What a job means (a user, a code) is the caller's: the engine never
 * touches the ledger or the results.
 */
#ifndef DOTS_ENGINE_H
#define DOTS_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http.h"
#include "adapt.h"
#include "outcome.h"
#include "pace.h"
#include "retry.h"

#define ENGINE_STOP_GRACE_MS 10000   /* in-flight requests may finish in this */
#define ENGINE_MAX_RETRY_AFTER_MS 300000 /* a longer Retry-After is cut */
#define ENGINE_LAT_BUCKETS 1200      /* 0-999 ms by 1 ms, then by 100 ms to 21 s */
#define ENGINE_MAX_IN_FLIGHT 256

/* The transport: the http module (engine_http_transport) or a test's fake.
 * Results carry the job as their cookie. */
struct engine_transport {
	void *ctx;
	int (*free_slots)(void *ctx);
	int (*in_flight)(void *ctx);
	int (*start)(void *ctx, const struct http_request *req, struct err *err);
	/* waits up to timeout_ms (0 = not at all) and drives the transfers */
	int (*poll)(void *ctx, int timeout_ms, struct err *err);
	int (*next_result)(void *ctx, struct http_result *res);
};

/* The http engine as a transport. */
void engine_http_transport(struct http *h, struct engine_transport *t);

/* One request, run until it has a verdict (retries included). */
struct engine_job {
	/* set by the caller before engine_run hands it over */
	const char *url;         /* borrowed until the job ends */
	const char *body;        /* borrowed; NULL = empty */
	size_t body_len;
	enum request_kind kind;  /* decides what is safe to retry */
	bool get;                /* GET instead of POST */
	bool once;               /* at most once on the wire (an SMS) */
	bool url_repeats;        /* the same URL for many jobs (creates) */
	void *cookie;            /* the caller's */
	/* kept by the engine; the caller reads them in its callbacks */
	int attempts;            /* attempts of this job */
	bool maybe_acted;        /* an attempt may have reached the API */
	bool in_flight;          /* an attempt is on the wire */
	bool queued;             /* waiting for a retry's not-before time */
	long http_status;        /* last HTTP status, 0 = none */
	/* the attempt that just ended, for ENGINE_EV_REQUEST: its outcome,
	 * its HTTP status (0 = no answer) and how long it took */
	enum outcome last_outcome;
	long last_status, last_elapsed_ms;
	int64_t ready_at_ms;     /* a waiting retry: not before */
};

/* How a job ended, for the done callback. */
struct engine_end {
	enum retry_verdict verdict; /* DONE, FAIL, IN_DOUBT, ABORT or CONFIG */
	bool cut;                /* the run stopped first: no verdict (see below) */
	bool abandoned;          /* cut while on the wire: the outcome is unknown */
	enum outcome outcome;    /* of the last attempt */
	const struct http_result *res; /* the last attempt, NULL when cut without one */
	const char *why;         /* the accept callback's reason, or NULL */
	bool exhausted;          /* attempts ran out (vs a final answer) */
};

enum engine_event {
	ENGINE_EV_PAUSE,   /* a 429 paused every new request */
	ENGINE_EV_ABORT,   /* the run stops early (msg says why) */
	ENGINE_EV_SIGNAL,  /* a signal: in-flight requests finish */
	ENGINE_EV_REQUEST  /* one attempt finished (only when log_requests) */
};

/* Why the run stopped early. */
enum engine_halt {
	ENGINE_RUNNING,
	ENGINE_HALT_SIGNAL,  /* a signal (engine_stats.signal) */
	ENGINE_HALT_ABORT,   /* 401/403, breaker, config error, the caller's abort */
	ENGINE_HALT_LOCAL    /* the caller's local failure */
};

struct engine_stats {
	size_t requests;          /* attempts made */
	size_t retries;
	size_t rate_limited;      /* 429 answers */
	uint32_t latency_hist[ENGINE_LAT_BUCKETS];
	int signal;               /* the signal that stopped the run, 0 = none */
	double rate;              /* the pace now, requests/s (0 = unlimited) */
	double learned_rate;      /* the API's limit as learned, 0 = none */
	int64_t paused_ms;        /* time every new request waited after 429s */
	bool paused;              /* waiting now */
	int64_t pause_left_ms;    /* of the current pause, 0 = none */
	char abort_reason[512];   /* why the run was aborted, "" = not aborted */
};

struct engine_opts {
	struct retry_policy policy;
	double rate;                          /* ceiling, requests/s; 0 = none */
	bool adaptive;                        /* --rate auto (under the ceiling) */
	double learned_rate;                  /* from an earlier run, 0 = none */
	unsigned sharers;                     /* processes sharing the limit (--shard), 0 = 1 */
	volatile sig_atomic_t *stop;          /* a signal number, asynchronously */
	volatile sig_atomic_t *abandon;       /* stop waiting for in-flight requests */
	int64_t (*now_ms)(void *ctx);         /* NULL = CLOCK_MONOTONIC */
	void *clock_ctx;
	uint64_t seed;                        /* jitter; 0 = from time and pid */
	bool log_requests;                    /* ENGINE_EV_REQUEST wanted */
	/* Optional: events; msg is one line, never a credential. job may be NULL. */
	void (*event)(void *ctx, enum engine_event ev, const struct engine_job *j,
		      const char *msg);
	void *ctx;
};

/*
 * The caller's side of a run (engine_run): where jobs come from.
 * turn      called at the top of every turn with the engine's time: admit
 *           work, commit, write what finished. < 0 fails the run.
 * next      the next job to start, or NULL; asked only while a slot is
 *           free and the pace allows, never while the run stops.
 * idle      true when the caller will hand over no more jobs: with none in
 *           flight or waiting, the run ends.
 * wait_ms   optional: how long the caller can wait before its next turn
 *           (a gather time); the engine waits no longer.
 * accept    optional: a 2xx the caller must be able to use (a create's
 *           id): 0 = fine, -1 with why set = a bad response (retry_decide
 *           then decides, as for any bad response).
 * done      required: every job handed over ends here exactly once.
 */
struct engine_feed {
	void *ctx;
	int (*accept)(void *ctx, struct engine_job *j, const struct http_result *res,
		      struct err *why);
	int (*done)(void *ctx, struct engine_job *j, const struct engine_end *end,
		    struct err *err);
	int (*turn)(void *ctx, int64_t now_ms, struct err *err);
	struct engine_job *(*next)(void *ctx, int64_t now_ms);
	bool (*idle)(void *ctx);
	int64_t (*wait_ms)(void *ctx, int64_t now_ms);
};

struct engine {
	struct engine_opts o;
	struct engine_transport t;
	struct engine_stats st;
	struct pace pace;
	struct adapt adapt;                   /* adaptive pacing: sets the pace's rate */
	int64_t pause_until_ms;               /* the current 429 pause, for stats */
	uint64_t rng;
	enum engine_halt halt;
	int64_t deadline_ms;                  /* halted: in-flight requests until then */
	struct engine_job **waiting;          /* retries, a min-heap by ready_at_ms */
	size_t nwaiting, cap_waiting;
	struct engine_job *flying[ENGINE_MAX_IN_FLIGHT]; /* on the wire */
	size_t nflying;
	const struct engine_feed *feed;       /* of the run in progress */
	struct engine_job *held;              /* handed over, waiting for the pace */
};

/* Sets the engine up over a transport. The transport stays the caller's. */
int engine_init(struct engine *e, const struct engine_opts *o,
		const struct engine_transport *t, struct err *err);
void engine_release(struct engine *e);

/* Runs one job alone (the first request of a run, a webhook): *end is
 * filled for its end (end->res NULL: the result is gone by then) and,
 * unless it succeeded, desc holds its engine_describe line. Returns 0, or
 * -1 (err set) on a transport failure. */
int engine_run_one(struct engine *e, struct engine_job *j, struct engine_end *end,
		   char *desc, size_t desc_cap, struct err *err);

/* The engine's clock. */
int64_t engine_now(const struct engine *e);

/*
 * Runs until the feed is idle and every job has ended, or the run halts:
 * then requests in flight get ENGINE_STOP_GRACE_MS to finish (none after
 * a second, later signal: *abandon), and every job still held ends cut
 * (abandoned when it was on the wire). Returns 0, or -1 with err set when
 * the transport or a callback failed (jobs still held are then cut too).
 */
int engine_run(struct engine *e, const struct engine_feed *f, struct err *err);

/* Stops the run early (no job starts from now on); the first reason
 * stays. ENGINE_HALT_ABORT sets stats.abort_reason. */
void engine_halt(struct engine *e, enum engine_halt why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Whether the run is stopping: callers hand over no new work. */
bool engine_halted(const struct engine *e);

/* Requests on the wire now. */
size_t engine_in_flight(const struct engine *e);

/* The one-line error cell of a job that did not succeed ("HTTP 422: ...",
 * "timeout after 5 attempts"), scrubbed of credentials; prefix goes first. */
void engine_describe(const struct engine_job *j, const struct engine_end *end,
		     const char *prefix, char *out, size_t cap);

/* The p-th percentile (0..100) of request latency in ms, -1 when none. */
double engine_latency_ms(const uint32_t hist[ENGINE_LAT_BUCKETS], double p);

#endif
