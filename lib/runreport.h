/*
 * runreport.h - the run report: one self-contained HTML page per run
 * (--report), written atomically (mode 0600: it can hold personal data).
 * It shows the outcome in words with what to do next, the counts, the
 * top error reasons with their first rows, and charts of the run drawn as
 * inline SVG; the same figures sit in a <script type="application/json">
 * data block for machines. No script, style sheet, font or image is
 * fetched: a Content-Security-Policy forbids it. Every string from the
 * run is HTML-escaped; no credential is ever given to it.
 */
#ifndef DOTS_RUNREPORT_H
#define DOTS_RUNREPORT_H

#include <stdbool.h>
#include <time.h>

#include "err.h"
#include "reasons.h"
#include "run.h"
#include "series.h"
#include "summary.h"

struct runreport {
	/* what the summary JSON says of the run (its reasons: the examples'
	 * table, sorted) */
	struct summary_info run;
	bool pii;                     /* examples' emails and phones unmasked */
	const struct series *series;  /* NULL or empty: charts say "no data" */
};

/* The outcome of an exit code in words, and what to do next. */
const char *runreport_outcome(int exit_code);
const char *runreport_next_step(int exit_code);

/* Writes the page to path atomically. Fails with err naming the file. */
int runreport_write(const char *path, const struct runreport *rr, struct err *err);

/* The data block's JSON (malloc'd, caller frees; "<" never occurs in it:
 * it is written \u003c), or NULL on OOM. */
char *runreport_json(const struct runreport *rr);

#endif
