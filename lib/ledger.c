/*
 * ledger.c - the ledger's file on SQLite: open or create (schema, binding
 * to base URL and client, pragmas, the synced opening transaction), the
 * null ledger, the meta table (learned_rate), close and discard. It never
 * touches the users table: lib/ledger_rows.c does; files: lib/ledger_file.c.
 */
#include "ledger_int.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "ledger_file.h"

#include "banned.h"

#define LEDGER_FORMAT "dots-import-ledger-1"

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
	" updated_at INTEGER NOT NULL,"
	" email TEXT, first_name TEXT, last_name TEXT, external_id TEXT);";

/* What a user was created with: columns a ledger made before them gets
 * at open (ALTER TABLE: the rows it has keep NULL, "not known"). */
static const char *const ident_columns[] = {"email", "first_name", "last_name",
					    "external_id"};
#define IDENT_INDEX "users_external_id"

/* SQLite's message, and the system's reason behind an I/O error
 * ("disk I/O error (No space left on device)"). */
int ledger_db_error(struct ledger *l, struct err *err, const char *what)
{
	int sys = sqlite3_system_errno(l->db);
	int code = sqlite3_errcode(l->db) & 0xff;

	if (sys && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
		return err_set(err, "ledger '%s': %s: %s (%s)", l->path, what,
			       sqlite3_errmsg(l->db), strerror(sys));
	return err_set(err, "ledger '%s': %s: %s", l->path, what,
		       sqlite3_errmsg(l->db));
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
		return ledger_db_error(l, err, "not a dots-import ledger or corrupt");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = ledger_db_error(l, err, "not a dots-import ledger or corrupt");
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
		return ledger_db_error(l, err, "cannot update");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ledger_db_error(l, err, "cannot update");
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
	if (rc == 0 && l->readonly)
		return err_set(err, "ledger '%s': binding is missing (corrupt?)", l->path);
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
	if ((client_id || !l->readonly) && strcmp(fp, want_fp) != 0)
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
			       " ('meta', 'users', '" IDENT_INDEX "') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
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

/* Which identity columns the users table has. Returns 0, or -1 with err set. */
static int ident_columns_present(struct ledger *l, bool have[4], struct err *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(have, 0, 4 * sizeof(bool));
	if (sqlite3_prepare_v2(l->db, "SELECT name FROM pragma_table_info('users')", -1, &st,
			       NULL) != SQLITE_OK)
		return ledger_db_error(l, err, "not a dots-import ledger or corrupt");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		for (int i = 0; name && i < 4; i++)
			if (strcmp(name, ident_columns[i]) == 0)
				have[i] = true;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ledger_db_error(l, err, "not a dots-import ledger or corrupt");
	return 0;
}

/*
 * A ledger made before the identity fields gets them (inside the opening
 * transaction): the users it has keep them NULL, so they are never
 * reported as changed. The external id's index makes its lookup cheap
 * and keeps an external id to one user.
 */
static int migrate(struct ledger *l, struct err *err)
{
	static const char *const add[] = {
		"ALTER TABLE users ADD COLUMN email TEXT",
		"ALTER TABLE users ADD COLUMN first_name TEXT",
		"ALTER TABLE users ADD COLUMN last_name TEXT",
		"ALTER TABLE users ADD COLUMN external_id TEXT",
	};
	bool have[4];

	if (ident_columns_present(l, have, err) < 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!have[i] && sqlite3_exec(l->db, add[i], NULL, NULL, NULL) != SQLITE_OK)
			return open_error(l, err);
	if (sqlite3_exec(l->db,
			 "CREATE UNIQUE INDEX IF NOT EXISTS " IDENT_INDEX " ON users(external_id)",
			 NULL, NULL, NULL) != SQLITE_OK)
		return open_error(l, err);
	l->ident_cols = true;
	return 0;
}

static int count_users(struct ledger *l, struct err *err)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(l->db, "SELECT count(*) FROM users", -1, &st, NULL) != SQLITE_OK)
		return ledger_db_error(l, err, "cannot read");
	if (sqlite3_step(st) == SQLITE_ROW) {
		l->users_at_open = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		ledger_db_error(l, err, "cannot read");
	}
	sqlite3_finalize(st);
	return rc;
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

/* Opens the SQLite connection on the ledger file (FULLMUTEX: in async
 * mode the worker writes while the caller reads); never waits on a lock. */
static int open_db(struct ledger *l, int mode, const char *path, struct err *err)
{
	if (sqlite3_open_v2(l->file.real, &l->db, mode | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		if (l->db)
			return open_error(l, err);
		return err_set(err, "cannot open ledger '%s': out of memory", path);
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, 0);
	return 0;
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
	if (bind_ledger(l, base_url, client_id, err) < 0 || migrate(l, err) < 0)
		return -1; /* the transaction is rolled back at close */
	if (meta_set(l, "opened_at", now, err) < 0)
		return open_error(l, err);
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return open_error(l, err);
	l->unsynced = true;
	return ledger_commit_durable(l, err);
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
	if (open_db(l, SQLITE_OPEN_READWRITE, path, err) < 0)
		goto fail;
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
	    ledger_rows_prepare(l, err) < 0 || count_users(l, err) < 0)
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

int ledger_open_read(struct ledger **out, const char *path, const char *base_url,
		     const char *client_id, struct err *err)
{
	struct ledger *l = calloc(1, sizeof(*l));
	bool have[4];
	int rc;

	*out = NULL;
	if (!l)
		return err_set(err, "out of memory");
	l->readonly = true;
	if (ledger_file_init(&l->file, path, err) < 0)
		goto fail;
	l->path = l->file.path;
	rc = ledger_file_open_read(&l->file, err);
	if (rc <= 0) {
		destroy(l, false);
		return rc;
	}
	if (open_db(l, SQLITE_OPEN_READONLY, path, err) < 0)
		goto fail;
	if (check_existing(l, err) < 0 || bind_ledger(l, base_url, client_id, err) < 0 ||
	    ident_columns_present(l, have, err) < 0)
		goto fail;
	l->ident_cols = have[0] && have[1] && have[2] && have[3];
	if (ledger_rows_prepare(l, err) < 0 || count_users(l, err) < 0)
		goto fail;
	*out = l;
	return 1;
fail:
	destroy(l, false);
	return -1;
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

/* Closes. With commit, an open group is committed first; without (a
 * discard, or a failed open), it is dropped and the files this handle
 * created are removed. */
static void destroy(struct ledger *l, bool commit)
{
	if (l->null) {
		free(l);
		return;
	}
	ledger_rows_finish(l, commit);
	if (commit && l->db && l->keep_rate > 0) {
		char rate[32];

		snprintf(rate, sizeof(rate), "%.3f", l->keep_rate);
		if (meta_set(l, "learned_rate", rate, NULL) == 0) {
			l->unsynced = true;
			ledger_commit_durable(l, NULL);
		}
	}
	ledger_rows_finalize(l);
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
