/*
 * ledger.h - the durable state ledger (SQLite, WAL, every commit fsynced,
 * mode 0600): every user this tool created, keyed by phone, with its Dots id and
 * verification state, bound to the base URL and client it was made with.
 *
 * It is what makes reruns safe: a user in the ledger is never created
 * again, and a code whose send intent is recorded is never sent again
 * unless the operator says so. One process, one connection; a second
 * process on the same file is refused at once.
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
	LEDGER_VERIF_OFF = 5       /* created with --no-verification */
};

struct ledger_user {
	char id[65];
	enum ledger_verif verif;
	char country_code[4];
	char phone_number[16];
};

struct ledger;

/*
 * Opens (creating when absent) the ledger at path. Fails with err when the
 * file is not a ledger or is corrupt (left as it was), when another process
 * holds it, or when it was made for another base URL or client id (compared
 * by fingerprint: the client id itself is never stored).
 */
int ledger_open(struct ledger **out, const char *path, const char *base_url,
		const char *client_id, struct err *err);

/* Users in the ledger when it was opened (0 for a new ledger: a first
 * import need not look each row up). */
long long ledger_users_at_open(const struct ledger *l);

/* Looks up a user by phone key: 1 found (*u filled), 0 absent, -1 error. */
int ledger_find(struct ledger *l, uint64_t key, struct ledger_user *u,
		struct err *err);

/* Records a created user (insert or replace its id) with a verification state. */
int ledger_put(struct ledger *l, uint64_t key, const char *country_code,
	       const char *phone_number, const char *id, enum ledger_verif v,
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
 * (1 << enum ledger_verif), in creation order. fn returns 0 to go on,
 * non-zero to stop. Used by send-verification.
 */
int ledger_each(struct ledger *l, unsigned mask,
		int (*fn)(void *ctx, uint64_t key, const struct ledger_user *u),
		void *ctx, struct err *err);

/* Commits an open group and closes. NULL is a no-op. */
void ledger_close(struct ledger *l);

#endif
