/*
 * outputs.h - the files and messages a run leaves besides its results:
 * --summary-json, --metrics-file, --rejects and --notify-url.
 */
#ifndef DOTS_OUTPUTS_H
#define DOTS_OUTPUTS_H

#include <stdbool.h>
#include <time.h>

#include "import.h"
#include "options.h"
#include "report.h"
#include "summary.h"

/* Checks before the run that every output path can be created (exit 2
 * before anything is sent otherwise). */
int outputs_preflight(const struct options *o, struct err *err);

/*
 * What the run's summary says of it: the command, paths, exit code, times
 * and figures. ran: it got as far as writing results (else no results
 * path). reasons (sorted, or NULL) give the summary's top_errors.
 */
struct summary_info outputs_info(const struct options *o, const struct import_stats *st,
				 const struct reasons *reasons, int exit_code, time_t started,
				 bool ran);

/*
 * Writes the outputs after a run that got as far as writing results
 * (ran = true) or failed before (ran = false: only summary, metrics and
 * notification). Failures are reported on stderr; they never change the
 * exit code except a rejects file that cannot be written (returns -1).
 */
int outputs_write(const struct options *o, struct report *rep, const struct summary_info *si,
		  bool ran);

#endif
