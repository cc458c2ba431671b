/*
 * results.c - CSV output with libcsv's csv_fwrite quoting and the formula
 * guard, written through afile (temp file + fsync + rename): nothing appears
 * under the final name before results_commit.
 */
#include "results.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"

#include "banned.h"

#define GUARD_MAX 4096 /* cells longer than this are cut in output files */

struct results {
	struct afile f; /* the temporary file and its target */
	size_t rows;
	char guard[GUARD_MAX + 2];
};

int results_needs_guard(const char *cell, size_t len)
{
	if (!len)
		return 0;
	return cell[0] == '=' || cell[0] == '+' || cell[0] == '-' ||
	       cell[0] == '@' || cell[0] == '\t' || cell[0] == '\r';
}

static int needs_quotes(const char *s, size_t n)
{
	if (n && (s[0] == ' ' || s[n - 1] == ' '))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' ||
		    s[i] == '\r' || s[i] == '\0')
			return 1;
	return 0;
}

static int write_cell(struct results *r, const char *s, size_t n)
{
	if (n > GUARD_MAX)
		n = GUARD_MAX;
	if (results_needs_guard(s, n)) {
		r->guard[0] = '\'';
		memcpy(r->guard + 1, s, n);
		s = r->guard;
		n++;
	}
	if (needs_quotes(s, n))
		return csv_fwrite(r->f.fp, s, n) == 0 ? 0 : -1;
	return fwrite(s, 1, n, r->f.fp) == n ? 0 : -1;
}

int results_open(struct results **out, const char *path,
		 const char *const *header, size_t ncells, struct err *err)
{
	struct results *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(err, "out of memory");
	if (afile_open(&r->f, path, err) < 0) {
		free(r);
		return -1;
	}
	if (results_row(r, header, NULL, ncells, err) < 0) {
		results_free(r);
		return -1;
	}
	r->rows = 0;
	*out = r;
	return 0;
}

int results_row(struct results *r, const char *const *cells,
		const size_t *lens, size_t ncells, struct err *err)
{
	int rc = 0;

	for (size_t i = 0; i < ncells && rc == 0; i++) {
		const char *c = cells[i] ? cells[i] : "";
		size_t n = lens && cells[i] ? lens[i] : strlen(c);

		if (i && fputc(',', r->f.fp) == EOF)
			rc = -1;
		if (rc == 0)
			rc = write_cell(r, c, n);
	}
	if (rc == 0 && fputc('\n', r->f.fp) == EOF)
		rc = -1;
	if (rc < 0) {
		r->f.failed = 1;
		return err_set(err, "cannot write '%s': %s", r->f.path,
			       strerror(errno));
	}
	r->rows++;
	return 0;
}

size_t results_count(const struct results *r)
{
	return r->rows;
}

int results_commit(struct results *r, struct err *err)
{
	return afile_commit(&r->f, err);
}

void results_free(struct results *r)
{
	if (!r)
		return;
	afile_release(&r->f);
	free(r);
}
