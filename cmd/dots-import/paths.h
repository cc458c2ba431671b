/*
 * paths.h - the local checks every run makes before it writes or sends
 * anything: every input and output path is a different file, the --ca-cert
 * bundle can be read, and temporary files that killed runs left beside our
 * outputs are removed.
 */
#ifndef DOTS_PATHS_H
#define DOTS_PATHS_H

#include "err.h"
#include "options.h"

/*
 * Fails (exit 2, nothing written) when two of the input, the ledger (with
 * its -wal, -shm and -journal), the results, rejects, summary, metrics and
 * log files are the same file - compared by real path and, for files that
 * exist, by device and inode (symlinks and hard links included) - or when
 * --ca-cert cannot be read or holds no PEM certificate. Then removes stale
 * temporary files of our outputs (afile_clean_stale).
 */
int paths_check(const struct options *o, struct err *err);

#endif
