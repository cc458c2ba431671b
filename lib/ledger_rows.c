/*
 * ledger_rows.c - the ledger's users table on SQLite: its prepared
 * statements, writes grouped into fdatasynced WAL commits, and the
 * write-behind mode whose thread (lib/ledger_queue.c) runs them through
 * execute(); the reads are in lib/ledger_read.c. It never opens, binds or
 * closes the file: lib/ledger.c does.
 */
#include "ledger_int.h"

#include <stddef.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ledger_file.h"
#include "ledger_queue.h"

#include "banned.h"

enum op_kind { OP_PUT, OP_SET_VERIF, OP_SET_EXT, OP_COMMIT };

/* A queued write: copies, so the caller's buffers may change at once. */
struct op {
	enum op_kind kind;
	enum ledger_verif verif;
	bool has_ident;  /* OP_PUT: ident holds what the user was created with */
	uint64_t key;
	uint64_t ticket; /* OP_COMMIT */
	int64_t at;
	char country_code[4];
	char phone_number[16];
	char id[65];
	struct ledger_ident ident; /* OP_PUT; OP_SET_EXT: external_id */
};

static int exec(struct ledger *l, const char *sql, struct err *err)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ledger_db_error(l, err, "cannot update");
	return 0;
}

/* Which ledgers a statement is prepared on. */
enum stmt_need {
	NEED_ANY,   /* every ledger */
	NEED_OLD,   /* a read-only ledger without the identity columns */
	NEED_IDENT, /* a ledger with them (every writable one: ledger.c adds them) */
	NEED_WRITE  /* a writable ledger */
};

int ledger_rows_prepare(struct ledger *l, struct err *err)
{
	static const struct {
		size_t off;
		enum stmt_need need;
		const char *sql;
	} stmts[] = {
		{offsetof(struct ledger, find), NEED_IDENT,
		 "SELECT id, verif, country_code, phone_number,"
		 " email, first_name, last_name, external_id FROM users WHERE key = ?1"},
		{offsetof(struct ledger, find), NEED_OLD,
		 "SELECT id, verif, country_code, phone_number,"
		 " NULL, NULL, NULL, NULL FROM users WHERE key = ?1"},
		{offsetof(struct ledger, find_ext), NEED_IDENT,
		 "SELECT key, id, verif, country_code, phone_number,"
		 " email, first_name, last_name, external_id FROM users WHERE external_id = ?1"},
		{offsetof(struct ledger, put), NEED_WRITE,
		 "INSERT INTO users(key, country_code, phone_number, id, verif, created_at, updated_at,"
		 " email, first_name, last_name, external_id)"
		 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)"
		 " ON CONFLICT(key) DO UPDATE SET id = ?4, verif = ?5, updated_at = ?6,"
		 " email = coalesce(email, ?7), first_name = coalesce(first_name, ?8),"
		 " last_name = coalesce(last_name, ?9), external_id = coalesce(?10, external_id)"},
		{offsetof(struct ledger, set_verif), NEED_WRITE,
		 "UPDATE users SET verif = ?2, updated_at = ?3 WHERE key = ?1"},
		{offsetof(struct ledger, set_ext), NEED_WRITE,
		 "UPDATE users SET external_id = ?2, updated_at = ?3 WHERE key = ?1"},
		{offsetof(struct ledger, clear_ext), NEED_WRITE,
		 "UPDATE users SET external_id = NULL, updated_at = ?3"
		 " WHERE external_id = ?2 AND key != ?1"},
		{offsetof(struct ledger, each), NEED_ANY,
		 "SELECT key, id, verif, country_code, phone_number FROM users"
		 " WHERE ((1 << verif) & ?1) != 0 ORDER BY created_at, rowid"},
		{offsetof(struct ledger, count), NEED_ANY,
		 "SELECT count(*) FROM users WHERE ((1 << verif) & ?1) != 0"},
	};

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		sqlite3_stmt **st = (sqlite3_stmt **)((char *)l + stmts[i].off);
		enum stmt_need need = stmts[i].need;

		if ((need == NEED_OLD && l->ident_cols) || (need == NEED_IDENT && !l->ident_cols) ||
		    (need == NEED_WRITE && l->readonly))
			continue;
		if (sqlite3_prepare_v3(l->db, stmts[i].sql, -1,
				       SQLITE_PREPARE_PERSISTENT, st,
				       NULL) != SQLITE_OK)
			return ledger_db_error(l, err, "not a dots-import ledger or corrupt");
	}
	return 0;
}

void ledger_rows_finalize(struct ledger *l)
{
	sqlite3_finalize(l->find);
	sqlite3_finalize(l->put);
	sqlite3_finalize(l->set_verif);
	sqlite3_finalize(l->each);
	sqlite3_finalize(l->count);
	sqlite3_finalize(l->find_ext);
	sqlite3_finalize(l->set_ext);
	sqlite3_finalize(l->clear_ext);
}

/* Commits the open transaction and makes every commit so far durable.
 * SQLite runs with synchronous=NORMAL (it syncs only around checkpoints):
 * this fdatasync of the -wal after each commit is synchronous=FULL's
 * guarantee. */
int ledger_commit_durable(struct ledger *l, struct err *err)
{
	if (l->in_txn) {
		l->in_txn = false;
		if (exec(l, "COMMIT", err) < 0)
			return -1;
		l->unsynced = true;
	}
	if (!l->unsynced)
		return 0;
	if (ledger_file_sync_wal(&l->file, err) < 0)
		return -1;
	l->unsynced = false;
	return 0;
}

static int ensure_txn(struct ledger *l, struct err *err)
{
	if (l->group && !l->in_txn) {
		if (exec(l, "BEGIN IMMEDIATE", err) < 0)
			return -1;
		l->in_txn = true;
	}
	return 0;
}

static int step_done(struct ledger *l, sqlite3_stmt *st, struct err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return ledger_db_error(l, err, "cannot update");
	return 0;
}

/* Binds text, or NULL for "" (not known). */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Takes external_id off every user but key: it is about to be key's. */
static int clear_external(struct ledger *l, const struct op *op, struct err *err)
{
	sqlite3_bind_int64(l->clear_ext, 1, (sqlite3_int64)op->key);
	sqlite3_bind_text(l->clear_ext, 2, op->ident.external_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l->clear_ext, 3, (sqlite3_int64)op->at);
	return step_done(l, l->clear_ext, err);
}

static int do_set_ext(struct ledger *l, const struct op *op, struct err *err)
{
	if (ensure_txn(l, err) < 0 || clear_external(l, op, err) < 0)
		return -1;
	sqlite3_bind_int64(l->set_ext, 1, (sqlite3_int64)op->key);
	sqlite3_bind_text(l->set_ext, 2, op->ident.external_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l->set_ext, 3, (sqlite3_int64)op->at);
	return step_done(l, l->set_ext, err);
}

static int do_put(struct ledger *l, const struct op *op, struct err *err)
{
	static const struct ledger_ident none;
	const struct ledger_ident *id = op->has_ident ? &op->ident : &none;

	if (ensure_txn(l, err) < 0)
		return -1;
	if (id->external_id[0] && clear_external(l, op, err) < 0)
		return -1;
	bind_opt(l->put, 7, id->email);
	bind_opt(l->put, 8, id->first_name);
	bind_opt(l->put, 9, id->last_name);
	bind_opt(l->put, 10, id->external_id);
	sqlite3_bind_int64(l->put, 1, (sqlite3_int64)op->key);
	sqlite3_bind_text(l->put, 2, op->country_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(l->put, 3, op->phone_number, -1, SQLITE_STATIC);
	sqlite3_bind_text(l->put, 4, op->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(l->put, 5, (int)op->verif);
	sqlite3_bind_int64(l->put, 6, (sqlite3_int64)op->at);
	return step_done(l, l->put, err);
}

static int do_set_verif(struct ledger *l, const struct op *op, struct err *err)
{
	if (ensure_txn(l, err) < 0)
		return -1;
	sqlite3_bind_int64(l->set_verif, 1, (sqlite3_int64)op->key);
	sqlite3_bind_int(l->set_verif, 2, (int)op->verif);
	sqlite3_bind_int64(l->set_verif, 3, (sqlite3_int64)op->at);
	return step_done(l, l->set_verif, err);
}


/* ---- async mode: what the queue's thread runs --------------------------- */

/*
 * ledger_queue_run_fn: runs a batch of queued writes. Commits in the batch
 * merge into its last one (one COMMIT and one fdatasync); writes after
 * that stay in the open transaction, as they would without the queue.
 * *ticket = the ticket now durable, 0 = none.
 */
static int execute(void *ctx, const void *batch, size_t n, uint64_t *ticket,
		   struct err *err)
{
	struct ledger *l = ctx;
	const struct op *ops = batch;
	size_t last = n;

	*ticket = 0;
	for (size_t i = n; i-- > 0;)
		if (ops[i].kind == OP_COMMIT) {
			last = i;
			break;
		}
	for (size_t i = 0; i < n; i++) {
		int rc = 0;

		if (ops[i].kind == OP_PUT)
			rc = do_put(l, &ops[i], err);
		else if (ops[i].kind == OP_SET_VERIF)
			rc = do_set_verif(l, &ops[i], err);
		else if (ops[i].kind == OP_SET_EXT)
			rc = do_set_ext(l, &ops[i], err);
		else if (i == last && (rc = ledger_commit_durable(l, err)) == 0)
			*ticket = ops[i].ticket;
		if (rc < 0)
			return -1;
	}
	return 0;
}

int ledger_go_async(struct ledger *l, struct err *err)
{
	if (l->null || l->q)
		return 0;
	/* everything before is durable */
	if (ledger_queue_start(&l->q, sizeof(struct op), l->committed, execute, l, err) < 0)
		return err_prefix(err, "ledger '%s'", l->path);
	ledger_queue_set_wake(l->q, l->wake, l->wake_ctx);
	l->dirty = l->in_txn; /* an open group's writes still need a commit */
	l->group = true;
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

static int check_verif(enum ledger_verif v, struct err *err)
{
	if ((unsigned)v > LEDGER_VERIF_MAX)
		return err_set(err, "ledger: invalid verification state %d", (int)v);
	return 0;
}

/* A write outside a group is a group of its own, durable on return. */
static int submit(struct ledger *l, const struct op *op, struct err *err)
{
	bool solo = !l->group;
	int rc;

	if (l->null)
		return 0;
	if (l->q) {
		l->dirty = true;
		return ledger_queue_push(l->q, op, false, err);
	}
	if (l->readonly)
		return err_set(err, "ledger '%s': opened to read only", l->path);
	l->group = true;
	rc = op->kind == OP_PUT	       ? do_put(l, op, err)
	     : op->kind == OP_SET_EXT ? do_set_ext(l, op, err)
				       : do_set_verif(l, op, err);
	if (solo && ledger_commit(l, rc < 0 ? NULL : err) < 0)
		return -1;
	return rc;
}

/* Copies s into a fixed buffer; fails when it does not fit. */
static int copy_field(char *dst, size_t cap, const char *s, const char *what,
		      struct err *err)
{
	size_t n = strlen(s);

	if (n >= cap)
		return err_set(err, "ledger: %s longer than %zu characters", what, cap - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

int ledger_put(struct ledger *l, uint64_t key, const char *country_code,
	       const char *phone_number, const char *id, enum ledger_verif v,
	       struct err *err)
{
	return ledger_put_ident(l, key, country_code, phone_number, id, v, NULL, err);
}

int ledger_put_ident(struct ledger *l, uint64_t key, const char *country_code,
		     const char *phone_number, const char *id, enum ledger_verif v,
		     const struct ledger_ident *ident, struct err *err)
{
	struct op op = {.kind = OP_PUT, .verif = v, .key = key, .at = (int64_t)time(NULL)};

	if (check_verif(v, err) < 0 ||
	    copy_field(op.country_code, sizeof(op.country_code), country_code,
		       "country code", err) < 0 ||
	    copy_field(op.phone_number, sizeof(op.phone_number), phone_number,
		       "phone number", err) < 0 ||
	    copy_field(op.id, sizeof(op.id), id, "user id", err) < 0)
		return -1;
	if (ident) {
		op.has_ident = true;
		if (copy_field(op.ident.email, sizeof(op.ident.email), ident->email, "email",
			       err) < 0 ||
		    copy_field(op.ident.first_name, sizeof(op.ident.first_name),
			       ident->first_name, "first name", err) < 0 ||
		    copy_field(op.ident.last_name, sizeof(op.ident.last_name), ident->last_name,
			       "last name", err) < 0 ||
		    copy_field(op.ident.external_id, sizeof(op.ident.external_id),
			       ident->external_id, "external id", err) < 0)
			return -1;
	}
	return submit(l, &op, err);
}

int ledger_set_external(struct ledger *l, uint64_t key, const char *external_id,
			struct err *err)
{
	struct op op = {.kind = OP_SET_EXT, .key = key, .at = (int64_t)time(NULL)};

	if (!external_id[0])
		return err_set(err, "ledger: empty external id");
	if (copy_field(op.ident.external_id, sizeof(op.ident.external_id), external_id,
		       "external id", err) < 0)
		return -1;
	return submit(l, &op, err);
}

int ledger_set_verif(struct ledger *l, uint64_t key, enum ledger_verif v,
		     struct err *err)
{
	struct op op = {.kind = OP_SET_VERIF, .verif = v, .key = key,
			.at = (int64_t)time(NULL)};

	if (check_verif(v, err) < 0)
		return -1;
	return submit(l, &op, err);
}

int ledger_begin(struct ledger *l, struct err *err)
{
	(void)err;
	l->group = true;
	return 0;
}

int ledger_commit_async(struct ledger *l, struct err *err)
{
	struct op op = {.kind = OP_COMMIT};

	if (l->null)
		return 0;
	if (!l->q) {
		if (ledger_commit_durable(l, err) < 0)
			return -1;
		l->committed++;
		return 0;
	}
	if (!l->dirty)
		return 0;
	op.ticket = ++l->committed;
	l->dirty = false;
	return ledger_queue_push(l->q, &op, true, err);
}

int ledger_commit(struct ledger *l, struct err *err)
{
	if (ledger_commit_async(l, err) < 0)
		return -1;
	if (l->q)
		return ledger_queue_wait(l->q, l->committed, err);
	l->group = false;
	return 0;
}

uint64_t ledger_next_ticket(const struct ledger *l)
{
	return l->committed + 1;
}

int ledger_durable(struct ledger *l, uint64_t *ticket, struct err *err)
{
	if (l->null) {
		*ticket = UINT64_MAX; /* nothing is ever waiting */
		return 0;
	}
	if (l->q)
		return ledger_queue_durable(l->q, ticket, err);
	*ticket = l->committed;
	return 0;
}

void ledger_set_wake(struct ledger *l, void (*wake)(void *ctx), void *ctx)
{
	l->wake = wake;
	l->wake_ctx = ctx;
	if (l->q)
		ledger_queue_set_wake(l->q, wake, ctx);
}

void ledger_rows_finish(struct ledger *l, bool commit)
{
	if (l->q) {
		if (commit) {
			ledger_commit(l, NULL);
		} else {
			char msg[ERR_MSG_MAX];

			/* the queue drops what is still queued */
			snprintf(msg, sizeof(msg), "ledger '%s': discarded", l->path);
			ledger_queue_fail(l->q, msg);
		}
		ledger_queue_stop(l->q);
		l->q = NULL;
	} else if (commit) {
		ledger_commit_durable(l, NULL);
	}
}
