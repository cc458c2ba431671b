/*
 * testutil.h - the temporary-directory fixture the file-based unit tests
 * share: a fresh mkdtemp directory per test and a file path inside it,
 * everything removed afterwards (also read-only leftovers).
 */
#ifndef DOTS_TESTUTIL_H
#define DOTS_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char path[128];
};

/* *state = a fixture with dir "/tmp/<name>.XXXXXX" and path dir/<file>. */
static inline int fixture_setup(void **state, const char *name, const char *file)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, file);
	*state = f;
	return 0;
}

/* Removes every entry of the fixture's directory (one level), then it. */
static inline int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d;
	struct dirent *de;
	char p[512];

	chmod(f->dir, 0700);
	d = opendir(f->dir);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			chmod(p, 0700);
			unlink(p);
			rmdir(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

#endif
