/*
 * results.h - CSV output files (results, rejects, verify results) written
 * atomically: rows go to a temporary file beside the target (mode 0600),
 * and only results_commit makes them visible under the final name, so a
 * crash never leaves a truncated file that looks complete.
 *
 * Cells that a spreadsheet would run as a formula (starting with = + - @
 * tab or CR) are written with a leading "'" (CSV injection).
 */
#ifndef DOTS_RESULTS_H
#define DOTS_RESULTS_H

#include <stddef.h>

#include "err.h"

struct results;

/*
 * Creates the temporary file for path (in path's directory) and writes the
 * header cells. Fails with err naming path when the directory is not
 * writable. Nothing exists under path itself until results_commit.
 */
int results_open(struct results **out, const char *path,
		 const char *const *header, size_t ncells, struct err *err);

/* Writes one row. cells[i] may be NULL (empty cell). lens may be NULL
 * (cells are NUL-terminated strings). */
int results_row(struct results *r, const char *const *cells,
		const size_t *lens, size_t ncells, struct err *err);

/* Rows written so far (not counting the header). */
size_t results_count(const struct results *r);

/* Flushes, fsyncs and renames the file into place. After success
 * results_free only frees memory. */
int results_commit(struct results *r, struct err *err);

/* Frees r; an uncommitted temporary file is removed. NULL is a no-op. */
void results_free(struct results *r);

/* True when a cell starting with c needs the "'" prefix. */
int results_needs_guard(const char *cell, size_t len);

#endif
