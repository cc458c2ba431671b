/*
 * reportfile.h - the --report file: while a command runs it samples the
 * running figures into a bounded time series and groups the rows' errors
 * into reasons; at the end it writes the HTML page (lib/runreport.h). Its
 * callbacks stand in for the stderr/log reporter's and pass every event
 * on to it, so the run sees one context.
 */
#ifndef DOTS_REPORTFILE_H
#define DOTS_REPORTFILE_H

#include <stdbool.h>
#include <time.h>

#include "import.h"
#include "options.h"
#include "reasons.h"
#include "report.h"
#include "series.h"
#include "summary.h"

struct reportfile {
	struct report *rep;     /* stderr and log file: every event goes on there */
	const char *path;       /* --report or import.report; NULL = none */
	bool pii;               /* --report-pii */
	bool draw;              /* the progress line is drawn (import only) */
	struct series series;
	struct reasons reasons;
	/* the running figures at the last sample: the series gets the growth */
	size_t done, requests, rate_limited, retries;
	uint32_t hist[IMPORT_LAT_BUCKETS];
};

/* Set up for command o (path NULL: only passes events on). */
int reportfile_init(struct reportfile *rf, struct report *rep, const struct options *o,
		    struct err *err);
void reportfile_release(struct reportfile *rf);

/* import_opts callbacks, ctx = struct reportfile. */
void reportfile_event(void *ctx, const struct import_event *ev);
int reportfile_check(void *ctx, struct err *err);
void reportfile_progress(void *ctx, const struct import_stats *st);
void reportfile_row(void *ctx, const struct import_row *r);

/* Writes the page for the run si describes (its reasons: rf's, sorted),
 * a last sample first. Failures are said on stderr; they never change the
 * exit code. */
void reportfile_write(struct reportfile *rf, const struct summary_info *si);

#endif
