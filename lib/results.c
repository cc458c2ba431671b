/*
 * results.c - atomic CSV writer (temp file + fsync + rename), quoting via
 * libcsv's csv_fwrite. Must not write anywhere but the temp file until
 * results_commit, and never leave the temp file behind on failure.
 */
#include "results.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define GUARD_MAX 4096 /* cells longer than this are cut in output files */

struct results {
	char *path;
	char *tmp;
	FILE *fp;
	size_t rows;
	int failed; /* a write failed: commit must refuse */
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
		return csv_fwrite(r->fp, s, n) == 0 ? 0 : -1;
	return fwrite(s, 1, n, r->fp) == n ? 0 : -1;
}

int results_open(struct results **out, const char *path,
		 const char *const *header, size_t ncells, struct err *err)
{
	struct results *r = calloc(1, sizeof(*r));
	size_t n = strlen(path);
	int fd;

	if (!r)
		return err_set(err, "out of memory");
	r->path = strdup(path);
	r->tmp = malloc(n + 16);
	if (!r->path || !r->tmp) {
		results_free(r);
		return err_set(err, "out of memory");
	}
	snprintf(r->tmp, n + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(r->tmp); /* mode 0600 */
	if (fd < 0) {
		err_set(err, "cannot create '%s': %s", path, strerror(errno));
		r->tmp[0] = '\0';
		results_free(r);
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || !(r->fp = fdopen(fd, "w"))) {
		err_set(err, "cannot create '%s': %s", path, strerror(errno));
		close(fd);
		results_free(r);
		return -1;
	}
	setvbuf(r->fp, NULL, _IOFBF, 1 << 18);
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

		if (i && fputc(',', r->fp) == EOF)
			rc = -1;
		if (rc == 0)
			rc = write_cell(r, c, n);
	}
	if (rc == 0 && fputc('\n', r->fp) == EOF)
		rc = -1;
	if (rc < 0) {
		r->failed = 1;
		return err_set(err, "cannot write '%s': %s", r->path,
			       strerror(errno));
	}
	r->rows++;
	return 0;
}

size_t results_count(const struct results *r)
{
	return r->rows;
}

static void fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int results_commit(struct results *r, struct err *err)
{
	int rc;

	if (r->failed)
		return err_set(err, "cannot write '%s': an earlier write failed",
			       r->path);
	rc = fflush(r->fp) == 0 && fsync(fileno(r->fp)) == 0 ? 0 : -1;
	if (fclose(r->fp) != 0)
		rc = -1;
	r->fp = NULL;
	if (rc < 0)
		return err_set(err, "cannot write '%s': %s", r->path,
			       strerror(errno));
	if (rename(r->tmp, r->path) < 0)
		return err_set(err, "cannot rename results into '%s': %s",
			       r->path, strerror(errno));
	r->tmp[0] = '\0';
	fsync_dir(r->path);
	return 0;
}

void results_free(struct results *r)
{
	if (!r)
		return;
	if (r->fp)
		fclose(r->fp);
	if (r->tmp && r->tmp[0])
		unlink(r->tmp);
	free(r->tmp);
	free(r->path);
	free(r);
}
