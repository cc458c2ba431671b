/*
 * run.h - what every command's run shares (import, send-verification,
 * verify): the options it is given, how it ended, its events and its
 * figures for the summary. cmd/ fills import_opts and reads the rest.
 */
#ifndef DOTS_RUN_H
#define DOTS_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "err.h"
#include "status.h"
#include "verif.h"

/* "created", "exists", ... as in the results file. */
const char *import_status_name(enum row_status s);
const char *import_verif_name(enum verif_status v);

/* How a run ended; cmd/ maps these to exit codes. */
enum import_result {
	IMPORT_COMPLETE,    /* every row created/exists, every code sent */
	IMPORT_PARTIAL,     /* finished, some rows or codes did not succeed */
	IMPORT_INPUT_ERROR, /* usage, input, state or output problem: nothing sent */
	IMPORT_ABORTED,     /* 401/403, circuit breaker, --max-failures, a
			     * configuration error found mid-run (404 on the
			     * users route, TLS, DNS), the input changed after
			     * requests were sent */
	IMPORT_INTERRUPTED, /* a signal: see stats.signal */
	IMPORT_LOCAL_FAILURE /* a local write or read failed after requests were
			      * sent (disk full, ledger unwritable): err says
			      * which file; a rerun completes */
};

/* Things that happen in a run, for stderr and the log file. */
enum import_event_kind {
	IMPORT_EV_START,      /* after validation: msg says rows and file */
	IMPORT_EV_END,        /* msg: the outcome */
	IMPORT_EV_PAUSE,      /* a 429 paused all requests (msg: how long) */
	IMPORT_EV_ABORT,      /* the run stops early: breaker, 401/403, limit */
	IMPORT_EV_SIGNAL,     /* a signal: in-flight requests finish */
	IMPORT_EV_ROW,        /* a row that did not fully succeed (row, line) */
	IMPORT_EV_REQUEST,    /* one HTTP attempt (debug): the attempt fields */
	IMPORT_EV_REASON      /* end of run: one class of row errors (reason, count, row) */
};

struct import_event {
	enum import_event_kind kind;
	size_t row, line;     /* for IMPORT_EV_ROW / IMPORT_EV_REQUEST */
	const char *status;   /* IMPORT_EV_ROW: the row's status */
	const char *msg;      /* one line, never a credential */
	/* IMPORT_EV_REQUEST: the attempt's real outcome */
	const char *outcome;  /* outcome_name: "ok", "rejected", "server_error", ... */
	long http_status;     /* 0 = no HTTP answer */
	int attempt;          /* 1-based */
	long elapsed_ms;
	/* IMPORT_EV_ROW and IMPORT_EV_REASON: the error's class (reasons.h);
	 * IMPORT_EV_REASON: count rows, the first one is row */
	const char *reason;
	size_t count;
};

/* A results line that carries an error, for the run report (--report).
 * Strings are borrowed for the call; email and phone are personal data. */
struct import_row {
	size_t row, line;     /* 0 when the command has none (send-verification) */
	const char *status;   /* as in the results */
	const char *error;
	const char *email;    /* "" when the command has none */
	const char *country_code, *phone_number;
};

#define IMPORT_LAT_BUCKETS ENGINE_LAT_BUCKETS

struct import_stats {
	size_t rows;                         /* data rows read */
	size_t by_status[ROW_STATUS_COUNT];
	size_t codes_sent, codes_failed, codes_in_doubt;
	size_t codes_in_doubt_earlier;       /* of codes_in_doubt: from earlier runs */
	size_t codes_settled;                /* in doubt, recorded as sent (--settle-in-doubt) */
	size_t codes_verified;               /* users the API says are verified: no code */
	size_t requests;                     /* HTTP attempts made */
	size_t retries;
	size_t rate_limited;                 /* 429 answers */
	size_t in_flight;                    /* now (for progress) */
	size_t done;                         /* rows written to results */
	size_t total;                        /* rows to handle (known after validation) */
	size_t invalid_rows;                 /* found by validation */
	uint32_t latency_hist[IMPORT_LAT_BUCKETS]; /* per request, see import_latency_ms */
	double elapsed_s;
	int signal;                          /* signal that stopped the run */
	char abort_reason[512];
	double rate_now;                     /* the pace now, requests/s (0 = unlimited) */
	double learned_rate;                 /* the API's limit as learned, 0 = none */
	int64_t paused_ms;                   /* time all requests waited after 429s */
	bool paused;                         /* waiting now */
	long long input_appended;            /* bytes appended to the input during the run */
	bool results_written;                /* the results file is complete */
	bool previewed;                      /* a dry run read the ledger: exists,
					      * changed and conflict are tonight's */
	bool stopping;                       /* a signal or an abort: winding down */
	int64_t pause_left_ms;               /* of the current 429 pause */
	size_t limit_left;                   /* valid rows left for the next run (--limit) */
};

struct import_opts {
	const struct config *cfg;
	const char *input_path;
	const char *results_path;
	const char *state_path;     /* ledger file, NULL = --no-state */
	const char *client_id;      /* secrets: borrowed, never logged */
	const char *api_key;
	const char *app_id;         /* Api-App-Id header or NULL */
	bool dry_run;
	bool resend_in_doubt;
	bool settle_in_doubt;       /* record in-doubt codes as sent, without sending */
	/* A known external id with a new phone is created as a new user (the
	 * id moves to it) instead of a conflict. */
	bool allow_phone_change;
	long max_invalid;           /* -1 = no limit */
	long max_failures;          /* -1 = no limit */
	long limit;                 /* --limit: rows needing a request (import) or codes
				     * (send-verification) this run; 0 = all */
	/* Set asynchronously to a signal number to stop the run gracefully. */
	volatile sig_atomic_t *stop;
	/* Set asynchronously (a later second signal): stop at once, in-flight
	 * requests abandoned (sends among them in doubt), outputs still written. */
	volatile sig_atomic_t *abandon;
	/* Optional: checked while the run goes on; < 0 (err set) when a local
	 * output of the caller's (the log file) failed: the run stops as after
	 * any local failure. */
	int (*check)(void *ctx, struct err *err);
	unsigned shard_k, shard_n;  /* --shard K/N; shard_n == 0: every row */
	/* Optional: every event (no credentials ever). */
	void (*log)(void *ctx, const struct import_event *ev);
	bool log_requests;          /* IMPORT_EV_REQUEST events wanted too */
	/* Optional: called at most every 100 ms with the running figures. */
	void (*progress)(void *ctx, const struct import_stats *st);
	/* Optional: every results line with an error, as it is written. */
	void (*row_error)(void *ctx, const struct import_row *r);
	void *ctx;
	/* Optional clock (milliseconds, monotonic); NULL = CLOCK_MONOTONIC. */
	int64_t (*now_ms)(void *ctx);
	uint64_t seed;              /* jitter randomness; 0 = from time and pid */
	const struct engine_transport *transport; /* tests: a fake instead of http (NULL = http) */
};

struct http_opts;

/* The HTTP engine settings of a run (credentials, timeouts, concurrency),
 * for import_run and the follow-up commands alike. */
void import_http_opts(const struct import_opts *o, struct http_opts *out);

/* The engine settings of a run (retry policy, rate, signals, clock). */
void import_engine_opts(const struct import_opts *o, struct engine_opts *out);

/* An IMPORT_EV_REQUEST event's attempt fields from the job's last attempt. */
void import_event_attempt(struct import_event *ev, const struct engine_job *j);

/* The run event an engine event is. */
enum import_event_kind import_event_of(enum engine_event ev);

/* The engine's request figures into st (requests, retries, 429s, latency,
 * signal, abort reason). */
void import_take_figures(const struct engine *e, struct import_stats *st);

/*
 * The running figures (requests, in flight, elapsed since start_ms) to
 * o->progress, at most every 100 ms unless force; *last_ms is when it was
 * last called. Nothing when o->progress is NULL.
 */
void import_progress(const struct import_opts *o, const struct engine *e,
		     struct import_stats *st, int64_t now, int64_t start_ms, int64_t *last_ms,
		     bool force);

/* The p-th percentile (0..100) of request latency in milliseconds, or -1
 * when no request was made. */
double import_latency_ms(const struct import_stats *st, double p);

#endif
