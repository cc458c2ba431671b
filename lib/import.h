/*
 * import.h - one import run: reader → validate → ledger → payload → http →
 * outcome → retry → ledger/results (CONTRACT sections 3 and 4).
 *
 * import_run owns the run context; it never prints or exits. What the user
 * sees comes back through struct import_stats and the log callback.
 */
#ifndef DOTS_IMPORT_H
#define DOTS_IMPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

enum row_status {
	ROW_CREATED,
	ROW_EXISTS,
	ROW_VALID,
	ROW_INVALID,
	ROW_DUPLICATE,
	ROW_FAILED,
	ROW_PENDING,
	ROW_STATUS_COUNT
};

enum verif_status {
	VERIF_NONE, /* no user: empty cell */
	VERIF_SENT,
	VERIF_FAILED,
	VERIF_IN_DOUBT,
	VERIF_OFF,
	VERIF_STATUS_COUNT
};

/* "created", "exists", ... as in the results file. */
const char *import_status_name(enum row_status s);
const char *import_verif_name(enum verif_status v);

/* How a run ended; cmd/ maps these to exit codes. */
enum import_result {
	IMPORT_COMPLETE,    /* every row created/exists, every code sent */
	IMPORT_PARTIAL,     /* finished, some rows or codes did not succeed */
	IMPORT_INPUT_ERROR, /* usage, input, state or output problem: nothing sent */
	IMPORT_ABORTED,     /* 401/403, circuit breaker, --max-failures */
	IMPORT_INTERRUPTED  /* a signal: see stats.signal */
};

enum import_log_level { IMPORT_LOG_INFO, IMPORT_LOG_DEBUG };

struct import_stats {
	size_t rows;                         /* data rows read */
	size_t by_status[ROW_STATUS_COUNT];
	size_t codes_sent, codes_failed, codes_in_doubt;
	size_t requests;                     /* HTTP attempts made */
	size_t retries;
	size_t rate_limited;                 /* 429 answers */
	size_t in_flight;                    /* now (for progress) */
	size_t done;                         /* rows written to results */
	double elapsed_s;
	int signal;                          /* signal that stopped the run */
	char abort_reason[256];
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
	long max_invalid;           /* -1 = no limit */
	long max_failures;          /* -1 = no limit */
	/* Set asynchronously to a signal number to stop the run gracefully. */
	volatile sig_atomic_t *stop;
	/* Optional: one line per event (no credentials ever). */
	void (*log)(void *ctx, enum import_log_level level, const char *msg);
	/* Optional: called at most every 100 ms with the running figures. */
	void (*progress)(void *ctx, const struct import_stats *st);
	void *ctx;
	/* Optional clock (milliseconds, monotonic); NULL = CLOCK_MONOTONIC. */
	int64_t (*now_ms)(void *ctx);
	uint64_t seed;              /* jitter randomness; 0 = from time and pid */
};

/*
 * Runs an import. Returns an enum import_result; *st holds the figures
 * for the summary in every case. When the result is IMPORT_INPUT_ERROR,
 * err says why and no request was sent. Results are written (atomically)
 * whenever the run got as far as sending.
 */
enum import_result import_run(const struct import_opts *o,
			      struct import_stats *st, struct err *err);

#endif
