/*
 * restore.h - rebuilds a lost ledger (lib/ledger.h) from the results files
 * of earlier runs, so that a rerun after the ledger was deleted neither
 * creates those users again nor sends their customers a second code.
 *
 * A results file is a CSV with a header naming at least the columns
 * status, user_id, verification, country_code and phone_number (in any
 * order, ASCII case and surrounding blanks ignored; other columns such as
 * row, line, http_status, attempts, error, email are ignored). A cell that
 * starts with "'" followed by = + - @ tab or CR has the "'" dropped: the
 * results writer adds it against CSV injection.
 *
 * Every row whose status is "created" or "exists" and whose user_id is
 * not empty becomes a user keyed by its phone exactly as the importer
 * keys it: country_code and phone_number go through phone_check
 * (lib/phone.h) and user_phone_key (lib/user.h). Its verification cell
 * gives the ledger state:
 *     "sent" -> SENT, "in_doubt" -> IN_DOUBT, "failed" -> FAILED,
 *     "verified" -> VERIFIED, "off" -> OFF, "" -> NONE.
 * A phone seen in several rows or files keeps the state that protects the
 * customer most, VERIFIED > SENT > IN_DOUBT > FAILED > OFF > NONE (a code
 * recorded as sent is never downgraded), and the user id of its first
 * occurrence (a different id later is counted as a conflict). Users are
 * recorded in the order of their first occurrence.
 */
#ifndef DOTS_RESTORE_H
#define DOTS_RESTORE_H

#include <stddef.h>

#include "err.h"
#include "ledger.h"

struct restore_opts {
	const char *ledger_path; /* the ledger to make: must not exist */
	/* The binding, as for ledger_open: the rebuilt ledger opens only
	 * with the same base URL and client id (never stored: fingerprinted). */
	const char *base_url;
	const char *client_id;
	const char *const *results_paths; /* results CSV files, read in order */
	size_t nresults;                  /* >= 1 */
};

struct restore_stats {
	size_t files;     /* results files read */
	size_t rows;      /* data rows read, all files */
	size_t skipped;   /* rows not restored: another status, or no user_id */
	size_t conflicts; /* rows whose phone was seen before with another user_id */
	long long users;  /* users in the new ledger */
	long long by_state[LEDGER_VERIF_MAX + 1]; /* users per enum ledger_verif */
};

/*
 * Builds a new ledger at o->ledger_path from o->results_paths, filling *st
 * (zeroed first). Returns 0 once the ledger is complete and durable.
 *
 * Returns -1 with err set, leaving no ledger behind (what this call
 * created is removed; nothing that existed is touched), when:
 *  - no results file is given, a file cannot be read, or its header lacks
 *    one of the needed columns ("'<file>': missing column \"<name>\"";
 *    every file's header is checked before the ledger is made);
 *  - the ledger path (a symlink is followed), or its -wal, -shm or
 *    -journal file, already exists ("refusing to overwrite '<file>' ...";
 *    nothing is written);
 *  - a row is malformed ("'<file>' line N: <problem>"), or a row to
 *    restore has an unknown verification value, an invalid country_code
 *    or phone_number, or a user_id longer than 64 bytes or holding a NUL;
 *  - the ledger cannot be created or written (see ledger_create).
 * The error names the file (and line) at fault.
 */
int restore_ledger(const struct restore_opts *o, struct restore_stats *st,
		   struct err *err);

#endif
