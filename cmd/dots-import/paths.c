/*
 * paths.c - before anything is written: no two paths of a run may be the
 * same file (-o users.csv users.csv would overwrite the input, --state n.db
 * -o n.db would turn the ledger into a CSV), and the CA bundle is readable.
 */
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"

#include "banned.h"

#define PATHS_MAX 64

struct path_id {
	char label[48];        /* how the user named it: "the input", "--state" */
	char real[PATH_MAX];   /* resolved: realpath, or realpath(dir)/name */
	bool exists;
	dev_t dev;
	ino_t ino;
};

/* Resolves path; a missing file is named by its directory's real path. */
static void resolve(const char *path, struct path_id *p)
{
	struct stat sb;

	p->exists = stat(path, &sb) == 0;
	if (p->exists) {
		p->dev = sb.st_dev;
		p->ino = sb.st_ino;
	}
	if (realpath(path, p->real))
		return;
	char *dcopy = strdup(path), *bcopy = strdup(path);
	char dir[PATH_MAX];

	if (dcopy && bcopy && realpath(dirname(dcopy), dir) &&
	    strlen(dir) + 1 + strlen(basename(bcopy)) < sizeof(p->real)) {
		size_t n = strlen(dir);

		memcpy(p->real, dir, n);
		p->real[n] = '/';
		memcpy(p->real + n + 1, basename(bcopy), strlen(basename(bcopy)) + 1);
	} else
		snprintf(p->real, sizeof(p->real), "%s", path); /* compared as given */
	free(dcopy);
	free(bcopy);
}

static void add(struct path_id *ids, size_t *n, const char *label, const char *path,
		const char *suffix)
{
	char full[PATH_MAX];

	if (!path || strcmp(path, "-") == 0 || *n >= PATHS_MAX)
		return;
	snprintf(full, sizeof(full), "%s%s", path, suffix);
	snprintf(ids[*n].label, sizeof(ids[*n].label), "%s%s", label, suffix);
	resolve(full, &ids[(*n)++]);
}

static bool same(const struct path_id *a, const struct path_id *b)
{
	return (a->exists && b->exists && a->dev == b->dev && a->ino == b->ino) ||
	       strcmp(a->real, b->real) == 0;
}

/* The CA bundle must be readable and hold a PEM certificate. */
static int check_ca(const char *path, struct err *err)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, "--ca-cert '%s': %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return err_set(err, "--ca-cert '%s': %s", path, strerror(errno));
	buf[n] = '\0';
	if (!strstr(buf, "-----BEGIN CERTIFICATE-----"))
		return err_set(err, "--ca-cert '%s': no PEM certificate in it "
				    "(expected -----BEGIN CERTIFICATE-----)", path);
	return 0;
}

int paths_check(const struct options *o, struct err *err)
{
	static const char *const ledger_suffixes[] = {"", "-wal", "-shm", "-journal"};
	struct path_id *ids = calloc(PATHS_MAX, sizeof(*ids));
	const char *outputs[] = {o->output, o->rejects, o->summary_json, o->metrics_file,
				 o->cfg.report};
	size_t n = 0;
	int rc = 0;

	if (!ids)
		return err_set(err, "out of memory");
	add(ids, &n, "the input", o->input, "");
	for (size_t i = 0; i < o->ninputs; i++)
		add(ids, &n, "a results file", o->inputs[i], "");
	if (!o->no_state)
		for (size_t i = 0; i < 4; i++)
			add(ids, &n, "the ledger (--state)", o->cfg.state, ledger_suffixes[i]);
	add(ids, &n, "the results (-o)", o->output, "");
	add(ids, &n, "--rejects", o->rejects, "");
	add(ids, &n, "--summary-json", o->summary_json, "");
	add(ids, &n, "--metrics-file", o->metrics_file, "");
	add(ids, &n, "--log-file", o->log_file, "");
	add(ids, &n, "--report", o->cfg.report, "");
	for (size_t i = 0; i < n && rc == 0; i++)
		for (size_t j = i + 1; j < n && rc == 0; j++)
			if (same(&ids[i], &ids[j]) &&
			    !(strcmp(ids[i].label, "a results file") == 0 &&
			      strcmp(ids[j].label, "a results file") == 0))
				rc = err_set(err, "%s and %s are the same file ('%s'): each input "
						  "and output needs a path of its own; nothing written",
					     ids[i].label, ids[j].label, ids[i].real);
	free(ids);
	if (rc < 0)
		return -1;
	if (o->cfg.ca_cert && check_ca(o->cfg.ca_cert, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		int removed = 0;

		if (outputs[i] && afile_clean_stale(outputs[i], &removed, err) < 0)
			return -1;
	}
	return 0;
}
