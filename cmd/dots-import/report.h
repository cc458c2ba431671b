/*
 * report.h - what dots-import shows a person on stderr: the one-line
 * progress display (terminal only), log lines, and the end-of-run summary.
 */
#ifndef DOTS_REPORT_H
#define DOTS_REPORT_H

#include <stdbool.h>

#include "import.h"

struct report {
	int verbosity;  /* -1 quiet, 0 normal, 1 verbose */
	bool tty;       /* stderr is a terminal: progress is drawn */
	bool drawn;     /* a progress line is on screen */
	size_t total;   /* rows in the file, when known */
};

void report_init(struct report *r, int verbosity);

/* import_opts.log and import_opts.progress callbacks (ctx = struct report). */
void report_log(void *ctx, enum import_log_level level, const char *msg);
void report_progress(void *ctx, const struct import_stats *st);

/* The summary: counts per status, codes, retries, 429s, elapsed, rate. */
void report_summary(struct report *r, const struct import_stats *st,
		    const char *results_path, bool dry_run);

/* The summary of send-verification (verify = false) or verify. */
void report_codes_summary(struct report *r, const struct import_stats *st,
			  const char *results_path, bool verify);

#endif
