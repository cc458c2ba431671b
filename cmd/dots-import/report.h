/*
 * report.h - what dots-import shows a person and writes for machines while
 * it runs: the one-line progress display (terminal only), events on stderr
 * and in the --log-file, and the end-of-run summary.
 */
#ifndef DOTS_REPORT_H
#define DOTS_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"
#include "import.h"
#include "reasons.h"

struct report {
	int verbosity;  /* -1 quiet, 0 normal, 1 verbose */
	bool tty;       /* stderr is a terminal: progress is drawn */
	bool drawn;     /* a progress line is on screen */
	FILE *log;      /* --log-file, or NULL */
	bool log_json;  /* --log-format json */
	const char *log_path; /* borrowed, for messages */
	int log_errno;  /* a write to the log file failed (0 = none) */
	char shown[512]; /* the run's stop reason as stderr showed it, "" = none */
};

/* Opens the log file (appending, mode 0600) when log_path is set. */
int report_init(struct report *r, int verbosity, const char *log_path, bool log_json,
		struct err *err);

/* Closes the log file. */
void report_release(struct report *r);

/* Whether IMPORT_EV_REQUEST events show anywhere (-v in the log file,
 * -v -v on stderr): else the import does not even format them. */
bool report_wants_requests(const struct report *r);

/* import_opts.log and import_opts.progress callbacks (ctx = struct report). */
void report_event(void *ctx, const struct import_event *ev);

/* import_opts.check: -1 (err names the file) once a log write failed. */
int report_check(void *ctx, struct err *err);
void report_progress(void *ctx, const struct import_stats *st);

/* Whether msg is the stop reason stderr already showed (each error once). */
bool report_shown(const struct report *r, const char *msg);

/* Logs a run-level event that cmd/ itself produces (start, end). */
void report_note(struct report *r, enum import_event_kind kind, const char *msg);

/* The summary of an import: counts per status, the top reasons of the
 * rows' errors (rs sorted, or NULL; the log gets every reason), codes,
 * retries, 429s, elapsed, requests/s, latency percentiles. */
void report_summary(struct report *r, const struct import_stats *st,
		    const struct reasons *rs, const char *results_path, bool dry_run);

/* The summary of send-verification (verify = false) or verify. */
void report_codes_summary(struct report *r, const struct import_stats *st,
			  const struct reasons *rs, const char *results_path, bool verify);

#endif
