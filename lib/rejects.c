/*
 * rejects.c - writes the rejects file from the results file and the input,
 * streaming both. Never changes either of them.
 */
#include "rejects.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "reader.h"
#include "results.h"

#include "banned.h"

static bool accepted(const char *status)
{
	return strcmp(status, "created") == 0 || strcmp(status, "exists") == 0 ||
	       strcmp(status, "valid") == 0;
}

long rejects_write(const char *input_path, const struct reader_opts *input_opts,
		   const char *results_path, const char *out_path, struct err *err)
{
	struct reader *in = NULL, *res = NULL;
	struct results *out = NULL;
	const char **header = NULL, **cells = NULL;
	size_t *lens = NULL;
	size_t nh;
	int c_row, c_status, c_error, rc;
	long written = -1, count = 0;
	struct reader_row rr, ir;

	if (reader_open_opts(&in, input_path, input_opts, err) < 0 ||
	    reader_open(&res, results_path, err) < 0)
		goto done;
	c_row = reader_find_column(res, "row");
	c_status = reader_find_column(res, "status");
	c_error = reader_find_column(res, "error");
	if (c_row < 0 || c_status < 0 || c_error < 0) {
		err_set(err, "'%s' is not a results file", results_path);
		goto done;
	}
	nh = reader_header_count(in);
	header = calloc(nh + 1, sizeof(*header));
	cells = calloc(nh + 1, sizeof(*cells));
	lens = calloc(nh + 1, sizeof(*lens));
	if (!header || !cells || !lens) {
		err_set(err, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nh; i++)
		header[i] = reader_header(in, i);
	header[nh] = "error";
	if (results_open(&out, out_path, header, nh + 1, err) < 0)
		goto done;
	while ((rc = reader_next(res, &rr, err)) == 1) {
		long want;

		if (rr.problem || (size_t)c_status >= rr.nfields || (size_t)c_error >= rr.nfields ||
		    num_parse_long(rr.field[c_row], 1, 0x7fffffffL, &want) < 0) {
			err_set(err, "'%s' line %zu: not a results row", results_path, rr.line);
			goto done;
		}
		if (accepted(rr.field[c_status]))
			continue;
		do
			rc = reader_next(in, &ir, err);
		while (rc == 1 && ir.row < (size_t)want);
		if (rc != 1 || ir.row != (size_t)want) {
			if (rc >= 0)
				err_set(err, "'%s' has no row %ld: results and input disagree",
					input_path, want);
			goto done;
		}
		for (size_t i = 0; i < nh; i++) {
			cells[i] = i < ir.nfields ? ir.field[i] : "";
			lens[i] = i < ir.nfields ? ir.len[i] : 0;
		}
		cells[nh] = rr.field[c_error];
		lens[nh] = rr.len[c_error];
		if (results_row(out, cells, lens, nh + 1, err) < 0)
			goto done;
		count++;
	}
	if (rc < 0 || results_commit(out, err) < 0)
		goto done;
	written = count;
done:
	results_free(out);
	reader_free(in);
	reader_free(res);
	free(header);
	free(cells);
	free(lens);
	return written;
}
