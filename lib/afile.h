/*
 * afile.h - a file written atomically: all writes go to a temporary file
 * beside the target (mode 0600), and afile_commit fsyncs it and renames it
 * into place, so readers see the old file or the whole new one, never a
 * truncated one.
 */
#ifndef DOTS_AFILE_H
#define DOTS_AFILE_H

#include <stdio.h>

#include "err.h"

struct afile {
	char *path;  /* target */
	char *tmp;   /* temporary file, "" once renamed */
	FILE *fp;    /* write here */
	int failed;  /* a write failed: commit refuses */
};

/* Creates the temporary file. Fails with err naming path. */
int afile_open(struct afile *f, const char *path, struct err *err);

/* The mode the file gets when committed (default 0600: personal data;
 * 0644 for a file another user's service reads, the metrics). */
int afile_set_mode(struct afile *f, unsigned mode, struct err *err);

/* Flushes, fsyncs, renames into place, fsyncs the directory. */
int afile_commit(struct afile *f, struct err *err);

/* Closes; removes the temporary file unless committed. Safe on a zeroed
 * struct and after a failed afile_open. */
void afile_release(struct afile *f);

/*
 * Removes the temporary files that runs killed before their commit left
 * beside path ("<path>.tmp.XXXXXX": personal data), and nothing else: only
 * regular files of this user that no live afile holds (each holds a lock
 * on its temporary file). *removed says how many went.
 */
int afile_clean_stale(const char *path, int *removed, struct err *err);

/* Writes a whole string atomically to path. */
int afile_write(const char *path, const char *text, struct err *err);

#endif
