/*
 * progress.h - the progress display of a run as one line of text, sized
 * for a terminal: what cmd/ redraws at most ten times a second.
 */
#ifndef DOTS_PROGRESS_H
#define DOTS_PROGRESS_H

#include <stddef.h>

#include "run.h"

/*
 * The line for a terminal width columns wide into out (cap bytes, always
 * terminated): at most width - 1 columns, so it never wraps. The rows
 * ("120/400 rows  30.0%") and the state ("stopping" once the run winds
 * down, "paused 2.0s (429)" during a 429 pause, else "pace N/s") come
 * first; then rows/s, ETA, in flight, retries and 429s, each while it
 * fits, shown in that order. Rows that came out pending (a stopped run)
 * are not done, and the percentage never reaches 100 before the last row.
 * Every part is ASCII: bytes are columns.
 */
void progress_line(const struct import_stats *st, size_t width, char *out, size_t cap);

#endif
