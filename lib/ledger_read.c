/*
 * ledger_read.c - reads of the ledger's users table: one user by key or
 * by external_id, every user in a set of verification states, and their
 * count. Each first waits for the queued writes (write-behind mode), so a
 * read sees every write made before it. Never writes.
 */
#include "ledger_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

/* Waits until the queue has run every write queued so far (a read then
 * sees them). */
static int flush(struct ledger *l, struct err *err)
{
	return l->q ? ledger_queue_flush(l->q, err) : 0;
}

/* A stored state; one this version does not know is taken as in doubt
 * (never resent by default). */
static enum ledger_verif verif_of(int v)
{
	return v >= LEDGER_VERIF_NONE && v <= LEDGER_VERIF_MAX ? (enum ledger_verif)v
							       : LEDGER_VERIF_IN_DOUBT;
}

/* A user's columns from st, starting at column first: id, verif,
 * country_code, phone_number. */
static void read_user(sqlite3_stmt *st, int first, struct ledger_user *u)
{
	const unsigned char *id = sqlite3_column_text(st, first);
	const unsigned char *cc = sqlite3_column_text(st, first + 2);
	const unsigned char *pn = sqlite3_column_text(st, first + 3);

	snprintf(u->id, sizeof(u->id), "%s", id ? (const char *)id : "");
	snprintf(u->country_code, sizeof(u->country_code), "%s", cc ? (const char *)cc : "");
	snprintf(u->phone_number, sizeof(u->phone_number), "%s", pn ? (const char *)pn : "");
	u->verif = verif_of(sqlite3_column_int(st, first + 1));
}

/* Copies column i (NULL = "") into dst, cut at cap - 1 bytes. */
static void read_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* What the user was created with, from column first on: email,
 * first_name, last_name, external_id. */
static void read_ident(sqlite3_stmt *st, int first, struct ledger_ident *id)
{
	read_text(st, first, id->email, sizeof(id->email));
	read_text(st, first + 1, id->first_name, sizeof(id->first_name));
	read_text(st, first + 2, id->last_name, sizeof(id->last_name));
	read_text(st, first + 3, id->external_id, sizeof(id->external_id));
}

int ledger_find(struct ledger *l, uint64_t key, struct ledger_user *u,
		struct err *err)
{
	return ledger_find_ident(l, key, u, NULL, err);
}

int ledger_find_external(struct ledger *l, const char *external_id, uint64_t *key,
			 struct ledger_user *u, struct ledger_ident *ident,
			 struct err *err)
{
	int rc;

	if (l->null || !l->find_ext || !external_id[0])
		return 0;
	if (flush(l, err) < 0)
		return -1;
	sqlite3_bind_text(l->find_ext, 1, external_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(l->find_ext);
	if (rc == SQLITE_ROW) {
		*key = (uint64_t)sqlite3_column_int64(l->find_ext, 0);
		read_user(l->find_ext, 1, u);
		if (ident)
			read_ident(l->find_ext, 5, ident);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = ledger_db_error(l, err, "cannot read");
	}
	sqlite3_reset(l->find_ext);
	return rc;
}

int ledger_find_ident(struct ledger *l, uint64_t key, struct ledger_user *u,
		      struct ledger_ident *ident, struct err *err)
{
	int rc;

	if (l->null)
		return 0;
	if (flush(l, err) < 0)
		return -1;
	sqlite3_bind_int64(l->find, 1, (sqlite3_int64)key);
	rc = sqlite3_step(l->find);
	if (rc == SQLITE_ROW) {
		read_user(l->find, 0, u);
		if (ident)
			read_ident(l->find, 4, ident);
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = ledger_db_error(l, err, "cannot read");
	}
	sqlite3_reset(l->find);
	return rc;
}

int ledger_each(struct ledger *l, unsigned mask,
		int (*fn)(void *ctx, uint64_t key, const struct ledger_user *u),
		void *ctx, struct err *err)
{
	char before[ERR_MSG_MAX] = "";
	int rc, stop = 0;

	if (l->null)
		return 0;
	if (flush(l, err) < 0)
		return -1;
	if (err)
		memcpy(before, err->msg, sizeof(before));
	sqlite3_bind_int64(l->each, 1, (sqlite3_int64)mask);
	while ((rc = sqlite3_step(l->each)) == SQLITE_ROW) {
		struct ledger_user u;

		read_user(l->each, 1, &u);
		stop = fn(ctx, (uint64_t)sqlite3_column_int64(l->each, 0), &u);
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		ledger_db_error(l, err, "cannot read");
	sqlite3_reset(l->each);
	if (rc != SQLITE_DONE)
		return -1;
	if (stop < 0) {
		if (err && memcmp(before, err->msg, sizeof(before)) == 0)
			err_set(err, "ledger '%s': listing users stopped on an error", l->path);
		return -1;
	}
	return 0;
}

int ledger_count(struct ledger *l, unsigned mask, long long *n, struct err *err)
{
	int rc;

	if (l->null) {
		*n = 0;
		return 0;
	}
	if (flush(l, err) < 0)
		return -1;
	sqlite3_bind_int64(l->count, 1, (sqlite3_int64)mask);
	rc = sqlite3_step(l->count);
	if (rc == SQLITE_ROW)
		*n = (long long)sqlite3_column_int64(l->count, 0);
	else
		ledger_db_error(l, err, "cannot read");
	sqlite3_reset(l->count);
	return rc == SQLITE_ROW ? 0 : -1;
}
