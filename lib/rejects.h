/*
 * rejects.h - the fix-and-retry file (--rejects): every input row that did
 * not end `created` or `exists` (nor `valid` in a dry run), in the input's
 * own columns plus an `error` column, so an operator can fix the rows in a
 * spreadsheet and import the file as it is.
 */
#ifndef DOTS_REJECTS_H
#define DOTS_REJECTS_H

#include "err.h"
#include "reader.h"

/*
 * Reads the finished results file and the input side by side (both are in
 * input order) and writes the rejected input rows to out_path atomically.
 * Memory stays bounded by one record of each. Returns the number of rows
 * written, or -1 with err set.
 */
long rejects_write(const char *input_path, const struct reader_opts *input_opts,
		   const char *results_path, const char *out_path, struct err *err);

#endif
