/*
 * import.h - one import run: reader -> validate -> ledger -> payload ->
 * engine -> ledger/results. The types every command shares are in run.h.
 *
 * import_run owns the run context; it never prints or exits. What the user
 * sees comes back through struct import_stats and the log callback.
 */
#ifndef DOTS_IMPORT_H
#define DOTS_IMPORT_H

#include "run.h"

/*
 * Runs an import. Returns an enum import_result; *st holds the figures
 * for the summary in every case. When the result is IMPORT_INPUT_ERROR,
 * err says why and no request was sent. Results are written (atomically)
 * whenever the run got as far as sending.
 */
enum import_result import_run(const struct import_opts *o,
			      struct import_stats *st, struct err *err);

#endif
