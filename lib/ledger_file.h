/*
 * ledger_file.h - internal to lib/ledger*.c: the ledger's files, apart from
 * what is in them. Resolves the path given (symlinks followed once),
 * refuses what is not safe to take for a new ledger (an empty file, a
 * -wal/-shm/-journal file without its ledger), makes a new ledger under a
 * temporary name and links it into place only where nothing exists,
 * holds the flock that makes one process the owner, and syncs the -wal
 * file and the directory. No SQLite here: the ledger fills a new file
 * through a callback.
 */
#ifndef DOTS_LEDGER_FILE_H
#define DOTS_LEDGER_FILE_H

#include <stdbool.h>

#include "err.h"

struct ledger_file {
	char *path;     /* as given: for messages */
	char *real;     /* resolved (symlinks followed): what is opened */
	char *wal_path; /* real + "-wal" */
	int lock_fd;    /* the ledger file, flocked once locked */
	int wal_fd;     /* the -wal file, from the first sync on */
	bool created;   /* this handle made the file: a discard removes it */
	bool locked;    /* the flock is ours */
	bool readonly;  /* ledger_file_open_read */
	bool had_side[3]; /* readonly: -wal, -shm, -journal existed at open */
};

/*
 * Makes a new ledger in the empty file tmp_path (mode 0600): complete,
 * committed, but not necessarily synced (the caller of the callback
 * fsyncs). Returns 0, or -1 with err set.
 */
typedef int (*ledger_file_make_fn)(void *ctx, const char *tmp_path, struct err *err);

/*
 * Sets f up for path: copies it, resolves it (for a dangling link: the
 * target's directory resolved + its name; for a missing file: its
 * directory resolved + its name). Nothing is opened. On failure (err
 * names path) f is still safe to pass to ledger_file_close.
 */
int ledger_file_init(struct ledger_file *f, const char *path, struct err *err);

/*
 * Opens the ledger file and takes the flock. When nothing is there (with
 * must_create: always; a file or side file that exists is then refused
 * with "refusing to overwrite"), calls make on a temporary file beside
 * it, syncs that and links it into place only if nothing appeared
 * meanwhile. Refuses, touching nothing: a -wal/-shm/-journal file without
 * its ledger, an empty file, a file that does not start like an SQLite
 * database, a file another process has flocked. Makes the mode 0600.
 */
int ledger_file_open(struct ledger_file *f, bool must_create, ledger_file_make_fn make,
		     void *ctx, struct err *err);

/*
 * Opens an existing ledger file to read it and takes the flock (one
 * process at a time, as for ledger_file_open). Returns 1 opened, 0 when
 * neither the file nor any side file exists (nothing to read), -1 with
 * err set, touching nothing, for what ledger_file_open refuses. Notes
 * which side files exist: ledger_file_close removes the ones that appear
 * meanwhile (a read-only SQLite connection makes an empty -wal and a
 * -shm), so reading leaves the directory as it was.
 */
int ledger_file_open_read(struct ledger_file *f, struct err *err);

/* fdatasyncs the -wal file (opened at the first call: SQLite makes it at
 * the first write). */
int ledger_file_sync_wal(struct ledger_file *f, struct err *err);

/* fsyncs the directory, so that the entries of a new ledger and of its
 * -wal file survive a crash too (a file system that cannot is fine). */
int ledger_file_sync_dir(const struct ledger_file *f, struct err *err);

/*
 * Closes the files (releasing the flock) and frees the strings. Opened
 * with ledger_file_open_read, the side files that did not exist at open
 * are removed first (the caller closed SQLite before). With
 * remove, when this handle made the ledger and still holds the flock, the
 * ledger and its -wal, -shm and -journal files are removed first. Safe
 * after a failed ledger_file_init.
 */
void ledger_file_close(struct ledger_file *f, bool remove);

#endif
