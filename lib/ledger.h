/*
 * ledger.h - the durable state ledger (SQLite, WAL, every commit fsynced,
 * mode 0600): every user this tool created, keyed by phone, with its Dots id and
 * verification state, bound to the base URL and client it was made with.
 *
 * It is what makes reruns safe: a user in the ledger is never created
 * again, and a code whose send intent is recorded is never sent again
 * unless the operator says so. One process, one connection; a second
 * process on the same file is refused at once.
 *
 * A ledger is made only where nothing exists: an empty file, or a -wal,
 * -shm or -journal file without its ledger (a ledger deleted after a
 * crash), is refused, never taken for a new ledger. A symlinked path is
 * resolved once at open; the ledger and its -wal/-shm/-journal files live
 * beside the link's target.
 */
#ifndef DOTS_LEDGER_H
#define DOTS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum ledger_verif {
	LEDGER_VERIF_NONE = 0,     /* created, no send decided yet */
	LEDGER_VERIF_INTENT = 1,   /* send about to go out (committed first) */
	LEDGER_VERIF_SENT = 2,     /* API accepted the send */
	LEDGER_VERIF_FAILED = 3,   /* API certainly did not send */
	LEDGER_VERIF_IN_DOUBT = 4, /* outcome unknown: never resent by default */
	LEDGER_VERIF_OFF = 5,      /* created with --no-verification */
	LEDGER_VERIF_VERIFIED = 6  /* the API says the user is verified: never send a code */
};

/* The highest enum ledger_verif value; a mask of every state is
 * (1u << (LEDGER_VERIF_MAX + 1)) - 1. */
#define LEDGER_VERIF_MAX LEDGER_VERIF_VERIFIED

struct ledger_user {
	char id[65];
	enum ledger_verif verif;
	char country_code[4];
	char phone_number[16];
};

#define LEDGER_EMAIL_MAX 254       /* bytes */
#define LEDGER_NAME_MAX 200        /* bytes (50 code points of <= 4 bytes) */
#define LEDGER_EXTERNAL_ID_MAX 128 /* bytes */

/*
 * What a user was created with: its email and names as sent to the API,
 * and the source system's id for it (external_id). "" = not known: users
 * recorded before the ledger kept these fields (or by restore-ledger)
 * have none, and a user may have no external id.
 */
struct ledger_ident {
	char email[LEDGER_EMAIL_MAX + 1];
	char first_name[LEDGER_NAME_MAX + 1];
	char last_name[LEDGER_NAME_MAX + 1];
	char external_id[LEDGER_EXTERNAL_ID_MAX + 1];
};

struct ledger;

/*
 * Opens the ledger at path, creating a new one only when neither path nor
 * any of path-wal, path-shm, path-journal exists. A symlink is resolved
 * once (for a dangling link: the target's directory resolved + its name);
 * SQLite and every check use the resolved path, messages the path given.
 *
 * Fails with err naming the file and what to do, leaving every existing
 * file as it was, when:
 *  - path is an empty (0-byte) file: not a ledger;
 *  - path is missing or empty but a -wal, -shm or -journal file exists
 *    (the ledger may have been deleted after a crash: the -wal may hold
 *    committed users);
 *  - the file is not a ledger or is corrupt;
 *  - another dots-import process holds it, or another program holds an
 *    SQLite lock on it;
 *  - it was made for another base URL or client id (compared by
 *    fingerprint: the client id itself is never stored);
 *  - it cannot be written and synced (read-only file or directory, full
 *    disk): opening does a real, synced write (an "opened_at" meta row),
 *    so such problems are found here and not at the first commit.
 * A new ledger is made complete (schema and binding, synced) under a
 * temporary name and linked into place only if nothing is there, so a
 * crash while making it never leaves an empty file; one that then fails
 * to open is removed again.
 */
int ledger_open(struct ledger **out, const char *path, const char *base_url,
		const char *client_id, struct err *err);

/*
 * Like ledger_open, but only makes a new ledger: fails with "refusing to
 * overwrite '<file>' ..." (nothing touched) when path or any of its -wal,
 * -shm, -journal files exists. Used to rebuild a lost ledger.
 */
int ledger_create(struct ledger **out, const char *path, const char *base_url,
		  const char *client_id, struct err *err);

/*
 * Opens an existing ledger to read it only (a dry run's preview): nothing
 * in it or beside it is written or left behind. Returns 1 opened, 0 when
 * there is no ledger at path (*out NULL: nothing to preview), -1 with err
 * set for what ledger_open refuses too: a -wal/-shm/-journal file without
 * its ledger, an empty file, not a ledger, another process holding it,
 * another base URL, or another client (checked only when client_id is not
 * NULL). A ledger from before the identity fields reads with them empty.
 * Only the reads (find, find_external, count, each) may be used on it.
 */
int ledger_open_read(struct ledger **out, const char *path, const char *base_url,
		     const char *client_id, struct err *err);

/*
 * The null ledger, for --no-state: keeps nothing, so callers need no NULL
 * checks. put, set_verif, begin, commit, commit_async and go_async succeed
 * and do nothing; find returns 0 (absent); users_at_open and count are 0;
 * each calls fn for no user; durable always returns a ticket >=
 * ledger_next_ticket (nothing ever waits for the disk); set_wake is a
 * no-op (the wake function is never called); close and discard free it.
 * Fails only on out of memory. No file is touched.
 */
int ledger_open_null(struct ledger **out, struct err *err);

/* Users in the ledger when it was opened (0 for a new ledger: a first
 * import need not look each row up). */
long long ledger_users_at_open(const struct ledger *l);

/* Looks up a user by phone key: 1 found (*u filled), 0 absent, -1 error. */
int ledger_find(struct ledger *l, uint64_t key, struct ledger_user *u,
		struct err *err);

/* Like ledger_find, and fills *ident (may be NULL) with what the user was
 * created with ("" for a field the ledger does not have). */
int ledger_find_ident(struct ledger *l, uint64_t key, struct ledger_user *u,
		      struct ledger_ident *ident, struct err *err);

/*
 * Looks up the user an external id belongs to: 1 found (*key, *u and
 * *ident, which may be NULL, filled), 0 absent (also for "" and on a
 * ledger without the field), -1 error.
 */
int ledger_find_external(struct ledger *l, const char *external_id, uint64_t *key,
			 struct ledger_user *u, struct ledger_ident *ident,
			 struct err *err);

/* Records a created user (insert or replace its id) with a verification
 * state. What it was created with is not recorded: see ledger_put_ident. */
int ledger_put(struct ledger *l, uint64_t key, const char *country_code,
	       const char *phone_number, const char *id, enum ledger_verif v,
	       struct err *err);

/*
 * Like ledger_put, and records what the user was created with (ident may
 * be NULL: nothing). A user already in the ledger keeps the email and
 * names stored first (Dots keeps what it was created with). A non-empty
 * external id is mapped to this user and taken off any other user that
 * had it: an external id belongs to one user at most. Fails (nothing
 * queued) when a field is longer than its maximum.
 */
int ledger_put_ident(struct ledger *l, uint64_t key, const char *country_code,
		     const char *phone_number, const char *id, enum ledger_verif v,
		     const struct ledger_ident *ident, struct err *err);

/* Maps a non-empty external id to the known user key (taking it off any
 * other user); a key the ledger does not have changes nothing. */
int ledger_set_external(struct ledger *l, uint64_t key, const char *external_id,
			struct err *err);

/* Changes a known user's verification state. */
int ledger_set_verif(struct ledger *l, uint64_t key, enum ledger_verif v,
		     struct err *err);

/*
 * Group commits: changes between ledger_begin and ledger_commit become
 * durable together; ledger_commit returns once they (and every earlier
 * commit) are on disk. Without an open group each change commits on its
 * own and is durable on return.
 */
int ledger_begin(struct ledger *l, struct err *err);
int ledger_commit(struct ledger *l, struct err *err);

/*
 * From now on writes and commits are queued: a thread of the ledger's own
 * runs the statements, commits and fdatasyncs, then calls the wake
 * function, so the caller never waits for SQLite or the disk. Reads wait
 * for the queued writes first. A failure on that thread sticks: every
 * later call reports it. The caller's thread keeps its signals. Used by
 * the import loop; without it everything runs on the caller's thread.
 */
int ledger_go_async(struct ledger *l, struct err *err);

/*
 * Commits the group's changes so far without waiting for the disk; the
 * group stays open. They are durable once ledger_durable reaches the
 * ticket ledger_next_ticket returned before the commit. (Without
 * ledger_go_async this waits for the disk.)
 */
int ledger_commit_async(struct ledger *l, struct err *err);

/* The ticket of the next commit: changes made now are durable when
 * ledger_durable reaches it. */
uint64_t ledger_next_ticket(const struct ledger *l);

/* The newest durable ticket. -1 (err set) once a sync failed. */
int ledger_durable(struct ledger *l, uint64_t *ticket, struct err *err);

/* Called from the ledger's thread after each durable commit (and on a
 * failure), with its lock held: keep it short and thread-safe, e.g.
 * curl_multi_wakeup. NULL = none; once this returns the old one is not
 * running. */
void ledger_set_wake(struct ledger *l, void (*wake)(void *ctx), void *ctx);

/*
 * Calls fn for every user whose verification state is one of the mask bits
 * (1 << enum ledger_verif), in creation order (after the queued writes in
 * async mode). fn returns 0 to go on, > 0 to stop early (not an error:
 * ledger_each returns 0), < 0 for an error: ledger_each stops and returns
 * -1. fn reports its error by setting the same struct err (reach it
 * through ctx); when fn leaves *err unchanged, ledger_each sets a generic
 * message. Returns 0, or -1 with err set (read error or fn's error).
 * Used by send-verification.
 */
int ledger_each(struct ledger *l, unsigned mask,
		int (*fn)(void *ctx, uint64_t key, const struct ledger_user *u),
		void *ctx, struct err *err);

/*
 * *n = the number of users whose verification state is one of the mask
 * bits (1 << enum ledger_verif), counting the writes queued in async mode
 * and an open group's. Returns 0, or -1 with err set.
 */
int ledger_count(struct ledger *l, unsigned mask, long long *n, struct err *err);

/* The API's request rate an earlier run learned (requests/s), 0 when none:
 * tonight's run starts from it instead of finding it again. */
double ledger_learned_rate(const struct ledger *l);

/* The rate this run learned: stored (durably) when the ledger is closed. */
void ledger_keep_rate(struct ledger *l, double rate);

/* Commits an open group and closes. NULL is a no-op. */
void ledger_close(struct ledger *l);

/*
 * Closes without committing: an open group's changes are dropped. When
 * this handle made the ledger (ledger_create, or ledger_open on a path
 * where nothing existed), the ledger and its -wal, -shm and -journal
 * files are removed. For a rebuild that failed half-way. NULL is a no-op.
 */
void ledger_discard(struct ledger *l);

#endif
