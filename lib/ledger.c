/*
 * ledger.c - the ledger on SQLite (the only file with <sqlite3.h>): schema,
 * binding, prepared statements, WAL commits each followed by an fdatasync,
 * and the null ledger. Files: lib/ledger_file.c; after ledger_go_async,
 * lib/ledger_queue.c's thread runs the queued writes through execute().
 */
#include "ledger.h"

#include <stddef.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "ledger_file.h"
#include "ledger_queue.h"

#include "banned.h"

#define LEDGER_FORMAT "dots-import-ledger-1"

struct ledger {
	bool null;             /* ledger_open_null: keeps nothing */
	sqlite3 *db;
	struct ledger_file file;
	const char *path;      /* file.path: as given, for messages */
	bool group;  /* ledger_begin called: writes join one transaction */
	bool in_txn; /* a transaction is open */
	long long users_at_open;
	double learned_rate;   /* the API's rate a run learned ("learned_rate") */
	double keep_rate;      /* to store at close, 0 = none */
	sqlite3_stmt *find, *put, *set_verif, *each, *count;
	bool unsynced;         /* committed, not fdatasynced yet */
	uint64_t committed;    /* commits asked for = the newest ticket */
	bool dirty;            /* async: writes queued since the last commit */
	/* async mode: the queue's thread owns db writes, in_txn, unsynced */
	struct ledger_queue *q;
	void (*wake)(void *ctx); /* until the queue exists */
	void *wake_ctx;
};

enum op_kind { OP_PUT, OP_SET_VERIF, OP_COMMIT };

/* A queued write: copies, so the caller's buffers may change at once. */
struct op {
	enum op_kind kind;
	enum ledger_verif verif;
	uint64_t key;
	uint64_t ticket; /* OP_COMMIT */
	int64_t at;
	char country_code[4];
	char phone_number[16];
	char id[65];
};

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS meta("
	" k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS users("
	" key INTEGER NOT NULL UNIQUE," /* not the rowid: rowid = creation order */
	" country_code TEXT NOT NULL,"
	" phone_number TEXT NOT NULL,"
	" id TEXT NOT NULL,"
	" verif INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);";

/* SQLite's message, and the system's reason behind an I/O error
 * ("disk I/O error (No space left on device)"). */
static int db_error(struct ledger *l, struct err *err, const char *what)
{
	int sys = sqlite3_system_errno(l->db);
	int code = sqlite3_errcode(l->db) & 0xff;

	if (sys && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
		return err_set(err, "ledger '%s': %s: %s (%s)", l->path, what,
			       sqlite3_errmsg(l->db), strerror(sys));
	return err_set(err, "ledger '%s': %s: %s", l->path, what,
		       sqlite3_errmsg(l->db));
}

static int exec(struct ledger *l, const char *sql, struct err *err)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(l, err, "cannot update");
	return 0;
}

/* One-way fingerprint of the client id (FNV-1a 64): binds the ledger to a
 * client without writing the id to disk. */
static void fingerprint(const char *client_id, char out[17])
{
	static const char salt[] = "dots-import-client:";
	uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, salt, sizeof(salt) - 1);

	if (client_id)
		h = hash_fnv1a64(h, client_id, strlen(client_id));
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int meta_get(struct ledger *l, const char *k, char *out, size_t cap,
		    struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return db_error(l, err, "not a dots-import ledger or corrupt");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_error(l, err, "not a dots-import ledger or corrupt");
	}
	sqlite3_finalize(st);
	return rc;
}

static int meta_set(struct ledger *l, const char *k, const char *v,
		    struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(l, err, "cannot update");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(l, err, "cannot update");
	sqlite3_finalize(st);
	return rc;
}

/* Checks (or, on a new file, writes) the format and the binding. Runs
 * inside the opening transaction. */
static int bind_ledger(struct ledger *l, const char *base_url,
		       const char *client_id, struct err *err)
{
	char fmt[64], url[1024], fp[17], want_fp[17];
	int rc;

	fingerprint(client_id, want_fp);
	rc = meta_get(l, "format", fmt, sizeof(fmt), err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (meta_set(l, "format", LEDGER_FORMAT, err) < 0 ||
		    meta_set(l, "base_url", base_url, err) < 0 ||
		    meta_set(l, "client", want_fp, err) < 0)
			return -1;
		return 0;
	}
	if (strcmp(fmt, LEDGER_FORMAT) != 0)
		return err_set(err, "ledger '%s': unknown format \"%s\"", l->path, fmt);
	if (meta_get(l, "base_url", url, sizeof(url), err) != 1 ||
	    meta_get(l, "client", fp, sizeof(fp), err) != 1)
		return err_set(err, "ledger '%s': binding is missing (corrupt?)",
			       l->path);
	if (strcmp(url, base_url) != 0)
		return err_set(err,
			       "ledger '%s' belongs to base URL '%s', not '%s': use another --state file",
			       l->path, url, base_url);
	if (strcmp(fp, want_fp) != 0)
		return err_set(err,
			       "ledger '%s' was made with another client id: use another --state file",
			       l->path);
	return 0;
}

static int open_error(struct ledger *l, struct err *err);

/*
 * Before anything is written: an existing file (ledger_file_open checked
 * that it is an SQLite database) must hold nothing but a ledger's tables.
 * Returns 0, or -1 with err set.
 */
static int check_existing(struct ledger *l, struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(l->db,
			       "SELECT count(*) FROM sqlite_master WHERE name NOT IN"
			       " ('meta', 'users') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
			       -1, &st, NULL) != SQLITE_OK)
		return open_error(l, err);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		open_error(l, err);
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != 0)
		return err_set(err, "ledger '%s' is not a dots-import ledger", l->path);
	return 0;
}

static int prepare(struct ledger *l, struct err *err)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{offsetof(struct ledger, find),
		 "SELECT id, verif, country_code, phone_number FROM users WHERE key = ?1"},
		{offsetof(struct ledger, put),
		 "INSERT INTO users(key, country_code, phone_number, id, verif, created_at, updated_at)"
		 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)"
		 " ON CONFLICT(key) DO UPDATE SET id = ?4, verif = ?5, updated_at = ?6"},
		{offsetof(struct ledger, set_verif),
		 "UPDATE users SET verif = ?2, updated_at = ?3 WHERE key = ?1"},
		{offsetof(struct ledger, each),
		 "SELECT key, id, verif, country_code, phone_number FROM users"
		 " WHERE ((1 << verif) & ?1) != 0 ORDER BY created_at, rowid"},
		{offsetof(struct ledger, count),
		 "SELECT count(*) FROM users WHERE ((1 << verif) & ?1) != 0"},
	};

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		sqlite3_stmt **st = (sqlite3_stmt **)((char *)l + stmts[i].off);

		if (sqlite3_prepare_v3(l->db, stmts[i].sql, -1,
				       SQLITE_PREPARE_PERSISTENT, st,
				       NULL) != SQLITE_OK)
			return db_error(l, err, "not a dots-import ledger or corrupt");
	}
	return 0;
}

static int count_users(struct ledger *l, struct err *err)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(l->db, "SELECT count(*) FROM users", -1, &st, NULL) != SQLITE_OK)
		return db_error(l, err, "cannot read");
	if (sqlite3_step(st) == SQLITE_ROW) {
		l->users_at_open = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		db_error(l, err, "cannot read");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Commits the open transaction and makes every commit so far durable.
 * SQLite runs with synchronous=NORMAL (it syncs only around checkpoints):
 * this fdatasync of the -wal after each commit is synchronous=FULL's
 * guarantee. */
static int commit_durable(struct ledger *l, struct err *err)
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

/*
 * An SQLite failure while opening, said in the words an operator needs:
 * a lock held by another program, a file or directory that cannot be
 * written, a full disk; anything else means the file is not a ledger.
 */
static int open_error(struct ledger *l, struct err *err)
{
	const char *why = sqlite3_errmsg(l->db);

	switch (sqlite3_errcode(l->db) & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return err_set(err,
			       "ledger '%s' is locked by another program (%s): close it and run again",
			       l->path, why);
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return err_set(err,
			       "ledger '%s' cannot be written (%s): make the file and its directory writable, then run again",
			       l->path, why);
	case SQLITE_FULL:
		return err_set(err,
			       "ledger '%s' cannot be written (%s): free disk space, then run again",
			       l->path, why);
	case SQLITE_IOERR:
		return err_set(err, "ledger '%s' cannot be written: %s", l->path, why);
	default:
		return err_set(err, "ledger '%s' is not a dots-import ledger or is corrupt: %s",
			       l->path, why);
	}
}

struct make_ctx {
	struct ledger *l;
	const char *base_url, *client_id;
};

/* ledger_file_make_fn: schema and binding in the empty file tmp, committed
 * (ledger_file_open syncs and links it). */
static int make_new(void *ctx, const char *tmp, struct err *err)
{
	struct make_ctx *m = ctx;
	struct ledger *l = m->l;
	sqlite3 *db = NULL;
	int rc = -1;

	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		err_set(err, "cannot create ledger '%s': %s", l->path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	l->db = db; /* for bind_ledger */
	if (sqlite3_exec(db, "PRAGMA journal_mode=OFF", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		open_error(l, err);
	else if (bind_ledger(l, m->base_url, m->client_id, err) == 0) {
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			open_error(l, err);
		else
			rc = 0;
	}
	l->db = NULL;
	sqlite3_close(db);
	return rc;
}

/*
 * The opening transaction: schema, binding, and an "opened_at" row, all
 * committed and synced, so a ledger that cannot be written (read-only
 * file or directory, another program's lock, a full disk) fails here.
 */
static int open_write(struct ledger *l, const char *base_url,
		      const char *client_id, struct err *err)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return open_error(l, err);
	if (bind_ledger(l, base_url, client_id, err) < 0)
		return -1; /* the transaction is rolled back at close */
	if (meta_set(l, "opened_at", now, err) < 0)
		return open_error(l, err);
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return open_error(l, err);
	l->unsynced = true;
	return commit_durable(l, err);
}

static void destroy(struct ledger *l, bool commit);

static int open_ledger(struct ledger **out, const char *path, const char *base_url,
		       const char *client_id, bool must_create, struct err *err)
{
	struct ledger *l = calloc(1, sizeof(*l));
	struct make_ctx mk = {l, base_url, client_id};

	if (!l)
		return err_set(err, "out of memory");
	if (ledger_file_init(&l->file, path, err) < 0)
		goto fail;
	l->path = l->file.path;
	if (ledger_file_open(&l->file, must_create, make_new, &mk, err) < 0)
		goto fail;
	/* FULLMUTEX: in async mode the worker writes while the caller reads */
	if (sqlite3_open_v2(l->file.real, &l->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		if (l->db)
			open_error(l, err);
		else
			err_set(err, "cannot open ledger '%s': out of memory", path);
		goto fail;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, 0);
	if (check_existing(l, err) < 0)
		goto fail;
	/* The flock already makes this process the only user: keep SQLite's
	 * own locks for the whole session instead of taking them per
	 * transaction (no fcntl storm, and the WAL index lives in memory). */
	if (sqlite3_exec(l->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, "PRAGMA cache_size=-8192", NULL, NULL, NULL) != SQLITE_OK ||
	    /* checkpoints (two fsyncs on the writer's thread) every 16 MB of
	     * WAL instead of 4 MB: random phone keys dirty many index pages */
	    sqlite3_exec(l->db, "PRAGMA wal_autocheckpoint=4000", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK) {
		open_error(l, err);
		goto fail;
	}
	if (open_write(l, base_url, client_id, err) < 0 || ledger_file_sync_dir(&l->file, err) < 0 ||
	    prepare(l, err) < 0 || count_users(l, err) < 0)
		goto fail;
	{
		char rate[32];

		if (meta_get(l, "learned_rate", rate, sizeof(rate), err) == 1)
			l->learned_rate = strtod(rate, NULL);
		if (!(l->learned_rate > 0 && l->learned_rate < 1e6))
			l->learned_rate = 0;
	}
	*out = l;
	return 0;
fail:
	destroy(l, false);
	return -1;
}

int ledger_open(struct ledger **out, const char *path, const char *base_url,
		const char *client_id, struct err *err)
{
	return open_ledger(out, path, base_url, client_id, false, err);
}

int ledger_create(struct ledger **out, const char *path, const char *base_url,
		  const char *client_id, struct err *err)
{
	return open_ledger(out, path, base_url, client_id, true, err);
}

int ledger_open_null(struct ledger **out, struct err *err)
{
	struct ledger *l = calloc(1, sizeof(*l));

	if (!l)
		return err_set(err, "out of memory");
	l->null = true;
	l->path = "(none)";
	*out = l;
	return 0;
}

long long ledger_users_at_open(const struct ledger *l)
{
	return l->users_at_open;
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
		return db_error(l, err, "cannot update");
	return 0;
}

static int do_put(struct ledger *l, const struct op *op, struct err *err)
{
	if (ensure_txn(l, err) < 0)
		return -1;
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
		else if (i == last && (rc = commit_durable(l, err)) == 0)
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

/* Waits until the queue has run every write queued so far (a read then
 * sees them). */
static int flush(struct ledger *l, struct err *err)
{
	return l->q ? ledger_queue_flush(l->q, err) : 0;
}

/* ---- reads and writes --------------------------------------------------- */

/* A stored state; one this version does not know is taken as in doubt
 * (never resent by default). */
static enum ledger_verif verif_of(int v)
{
	return v >= LEDGER_VERIF_NONE && v <= LEDGER_VERIF_MAX ? (enum ledger_verif)v
							       : LEDGER_VERIF_IN_DOUBT;
}

static int check_verif(enum ledger_verif v, struct err *err)
{
	if ((unsigned)v > LEDGER_VERIF_MAX)
		return err_set(err, "ledger: invalid verification state %d", (int)v);
	return 0;
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

int ledger_find(struct ledger *l, uint64_t key, struct ledger_user *u,
		struct err *err)
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
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_error(l, err, "cannot read");
	}
	sqlite3_reset(l->find);
	return rc;
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
	l->group = true;
	rc = op->kind == OP_PUT ? do_put(l, op, err) : do_set_verif(l, op, err);
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
	struct op op = {.kind = OP_PUT, .verif = v, .key = key, .at = (int64_t)time(NULL)};

	if (check_verif(v, err) < 0 ||
	    copy_field(op.country_code, sizeof(op.country_code), country_code,
		       "country code", err) < 0 ||
	    copy_field(op.phone_number, sizeof(op.phone_number), phone_number,
		       "phone number", err) < 0 ||
	    copy_field(op.id, sizeof(op.id), id, "user id", err) < 0)
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
		if (commit_durable(l, err) < 0)
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
		db_error(l, err, "cannot read");
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
		db_error(l, err, "cannot read");
	sqlite3_reset(l->count);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Closes. With commit, an open group is committed first; without (a
 * discard, or a failed open), it is dropped and the files this handle
 * created are removed. */
static void destroy(struct ledger *l, bool commit)
{
	if (l->null) {
		free(l);
		return;
	}
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
		commit_durable(l, NULL);
	}
	if (commit && l->db && l->keep_rate > 0) {
		char rate[32];

		snprintf(rate, sizeof(rate), "%.3f", l->keep_rate);
		if (meta_set(l, "learned_rate", rate, NULL) == 0) {
			l->unsynced = true;
			commit_durable(l, NULL);
		}
	}
	sqlite3_finalize(l->find);
	sqlite3_finalize(l->put);
	sqlite3_finalize(l->set_verif);
	sqlite3_finalize(l->each);
	sqlite3_finalize(l->count);
	if (l->db)
		sqlite3_close(l->db); /* rolls back an open transaction */
	/* a discard (or a failed open) removes the files this handle made */
	ledger_file_close(&l->file, !commit);
	free(l);
}

void ledger_close(struct ledger *l)
{
	/* a failure here was reported by the earlier calls */
	if (l)
		destroy(l, true);
}

void ledger_discard(struct ledger *l)
{
	if (l)
		destroy(l, false);
}

double ledger_learned_rate(const struct ledger *l)
{
	return l->null ? 0 : l->learned_rate;
}

void ledger_keep_rate(struct ledger *l, double rate)
{
	if (!l->null && rate > 0)
		l->keep_rate = rate;
}
