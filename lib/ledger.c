/*
 * ledger.c - the state ledger on SQLite: prepared statements only, WAL,
 * grouped commits, an flock so one process owns it. Durability: SQLite runs
 * with synchronous=NORMAL (it syncs only around checkpoints) and every
 * commit is followed by our own fdatasync of the -wal file - the guarantee
 * of synchronous=FULL. After ledger_go_async, writes are queued and a
 * worker thread runs the statements, commits and syncs, so the import loop
 * never waits for SQLite or the disk. The only file that includes
 * <sqlite3.h>. Never stores credentials: the client id is kept as a one-way
 * fingerprint. Opening refuses files that are not safe to take for a new
 * ledger (empty, or -wal/-shm/-journal files without their ledger) and
 * writes once, so an unwritable ledger fails at open, not mid-run.
 */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define LEDGER_FORMAT "dots-import-ledger-1"

struct ledger {
	sqlite3 *db;
	int lock_fd;
	char *path;            /* as given: for messages */
	char *real;            /* resolved (symlinks followed): what is opened */
	char *wal_path;        /* real + "-wal" */
	bool created;          /* this handle made the file: discard removes it */
	bool locked;           /* the flock is ours */
	bool group;  /* ledger_begin called: writes join one transaction */
	bool in_txn; /* a transaction is open */
	long long users_at_open;
	sqlite3_stmt *find, *put, *set_verif, *each, *count;
	int wal_fd;            /* the -wal file, from the first commit on */
	bool unsynced;         /* committed, not fdatasynced yet */
	uint64_t committed;    /* commits asked for = the newest ticket */
	bool dirty;            /* async: writes queued since the last commit */

	/* async mode: the worker owns put/set_verif/in_txn/unsynced; the
	 * fields below are shared under mu */
	bool async;
	pthread_t worker;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* new work, work done, or stop */
	struct op *q;          /* queued writes */
	size_t nq, qcap;
	uint64_t enqueued, executed; /* ops so far */
	uint64_t done;         /* newest durable ticket */
	bool failed, stop;
	char fail_msg[ERR_MSG_MAX];
	void (*wake)(void *ctx);
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
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *salt = "dots-import-client:";

	for (const char *p = salt; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (const char *p = client_id ? client_id : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
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
 * Before anything is written: an existing file must be an SQLite database
 * (a 1-byte file would be taken for an empty one and overwritten) holding
 * nothing but a ledger's tables. Returns 0, or -1 with err set.
 */
static int check_existing(struct ledger *l, struct err *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;
	sqlite3_stmt *st;
	int rc;

	if (fstat(l->lock_fd, &sb) < 0)
		return err_set(err, "cannot open ledger '%s': %s", l->path,
			       strerror(errno));
	if (sb.st_size == 0)
		return 0;
	if (sb.st_size < (off_t)sizeof(head) ||
	    pread(l->lock_fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, magic, sizeof(head)) != 0)
		return err_set(err,
			       "ledger '%s' is not a dots-import ledger or is corrupt: file is not a database",
			       l->path);
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

/* The -wal file, opened at the first sync (SQLite creates it at the
 * first write). */
static int open_wal(struct ledger *l, struct err *err)
{
	if (l->wal_fd >= 0)
		return 0;
	l->wal_fd = open(l->wal_path, O_RDONLY | O_CLOEXEC);
	if (l->wal_fd < 0)
		return err_set(err, "ledger '%s': cannot open '%s': %s", l->path, l->wal_path,
			       strerror(errno));
	return 0;
}

/* Commits the open transaction and makes every commit so far durable. */
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
	if (open_wal(l, err) < 0)
		return -1;
	while (fdatasync(l->wal_fd) < 0)
		if (errno != EINTR)
			return err_set(err, "ledger '%s': cannot sync to disk: %s", l->path,
				       strerror(errno));
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

/* "dir/name" in a new string, or NULL (out of memory). */
static char *join(const char *dir, size_t dir_len, const char *name)
{
	size_t n = strlen(name);
	bool slash = dir_len && dir[dir_len - 1] == '/';
	char *p = malloc(dir_len + !slash + n + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dir_len);
	if (!slash)
		p[dir_len] = '/';
	memcpy(p + dir_len + !slash, name, n + 1);
	return p;
}

/*
 * The path to open for path: realpath when it exists; for a dangling
 * symlink, its target (followed link by link); for a missing file, the
 * realpath of its directory + its name. *out is malloc'd.
 */
static int resolve_path(const char *path, char **out, struct err *err)
{
	char *cur = strdup(path), *slash, *dir, *res;
	char target[PATH_MAX];
	struct stat sb;
	int hops = 0;

	if (!cur)
		return err_set(err, "out of memory");
	for (;;) {
		ssize_t n;

		res = realpath(cur, NULL);
		if (res) {
			free(cur);
			*out = res;
			return 0;
		}
		if (errno != ENOENT) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
			goto fail;
		}
		if (lstat(cur, &sb) < 0 || !S_ISLNK(sb.st_mode))
			break;
		/* a dangling link: go on with its target */
		if (++hops > 40) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(ELOOP));
			goto fail;
		}
		n = readlink(cur, target, sizeof(target) - 1);
		if (n < 0) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
			goto fail;
		}
		target[n] = '\0';
		if (target[0] == '/') {
			res = strdup(target);
		} else {
			slash = strrchr(cur, '/');
			res = slash ? join(cur, (size_t)(slash - cur) + 1, target)
				    : strdup(target);
		}
		if (!res) {
			err_set(err, "out of memory");
			goto fail;
		}
		free(cur);
		cur = res;
	}
	/* missing: resolve the directory, keep the name */
	slash = strrchr(cur, '/');
	if (slash && slash[1] == '\0') {
		err_set(err, "cannot open ledger '%s': %s", path, strerror(EISDIR));
		goto fail;
	}
	if (!slash) {
		dir = realpath(".", NULL);
	} else if (slash == cur) {
		dir = realpath("/", NULL);
	} else {
		*slash = '\0';
		dir = realpath(cur, NULL);
		*slash = '/';
	}
	if (!dir) {
		err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
		goto fail;
	}
	res = join(dir, strlen(dir), slash ? slash + 1 : cur);
	free(dir);
	if (!res) {
		err_set(err, "out of memory");
		goto fail;
	}
	free(cur);
	*out = res;
	return 0;
fail:
	free(cur);
	return -1;
}

static const char *const side_suffix[] = {"-wal", "-shm", "-journal"};

/* The first of real-wal, real-shm, real-journal that exists: its index,
 * or -1 for none. */
static int find_side_file(const struct ledger *l)
{
	char p[PATH_MAX + 16];
	struct stat sb;

	for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", l->real, side_suffix[i]);
		if (lstat(p, &sb) == 0)
			return (int)i;
	}
	return -1;
}

/* For messages: a side file beside the path given, or beside the link's
 * target when the path given is a symlink. */
static const char *side_base(const struct ledger *l)
{
	struct stat sb;

	return lstat(l->path, &sb) == 0 && S_ISLNK(sb.st_mode) ? l->real : l->path;
}

static int side_file_refusal(const struct ledger *l, int i, struct err *err)
{
	return err_set(err,
		       "'%s%s' exists without its ledger '%s': the ledger may have been deleted after a crash; "
		       "restore it, or use restore-ledger, or remove the %s file if you are sure",
		       side_base(l), side_suffix[i], l->path, side_suffix[i]);
}

/*
 * Makes a new ledger (schema and binding, complete and synced) under a
 * temporary name beside real, then links it to real only if nothing is
 * there: a crash never leaves an empty or half-made file under the
 * ledger's name, and a file that appeared meanwhile is never replaced.
 * Returns 1 made, 0 real exists now (nothing made), -1 error.
 */
static int make_new(struct ledger *l, const char *base_url, const char *client_id,
		    struct err *err)
{
	size_t n = strlen(l->real) + sizeof(".new-XXXXXX");
	char *tmp = malloc(n);
	sqlite3 *db = NULL;
	int fd, rc = -1;

	if (!tmp)
		return err_set(err, "out of memory");
	snprintf(tmp, n, "%s.new-XXXXXX", l->real);
	fd = mkstemp(tmp); /* mode 0600: SQLite gives its -wal the same */
	if (fd < 0) {
		err_set(err, "cannot create ledger '%s': %s", l->path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		err_set(err, "cannot create ledger '%s': %s", l->path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	l->db = db; /* for bind_ledger */
	if (sqlite3_exec(db, "PRAGMA journal_mode=OFF", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		open_error(l, err);
		goto out;
	}
	if (bind_ledger(l, base_url, client_id, err) < 0)
		goto out;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		open_error(l, err);
		goto out;
	}
	while (fsync(fd) < 0)
		if (errno != EINTR) {
			err_set(err, "cannot create ledger '%s': %s", l->path, strerror(errno));
			goto out;
		}
	if (link(tmp, l->real) == 0) {
		rc = 1;
	} else if (errno == EEXIST) {
		rc = 0;
	} else if (errno == EPERM || errno == ENOTSUP || errno == ENOSYS ||
		   errno == EOPNOTSUPP || errno == EMLINK) {
		/* no hard links here: a plain rename, checked just before */
		struct stat sb;

		if (lstat(l->real, &sb) == 0)
			rc = 0;
		else if (rename(tmp, l->real) == 0)
			rc = 1;
		else
			err_set(err, "cannot create ledger '%s': %s", l->path, strerror(errno));
	} else {
		err_set(err, "cannot create ledger '%s': %s", l->path, strerror(errno));
	}
out:
	l->db = NULL;
	sqlite3_close(db);
	close(fd);
	unlink(tmp); /* after a link: the name only; after a rename: nothing */
	free(tmp);
	return rc;
}

/*
 * Opens (or with must_create, creates) the file and takes the flock.
 * A new ledger is made only where nothing exists, and appears complete.
 */
static int open_file(struct ledger *l, bool must_create, const char *base_url,
		     const char *client_id, struct err *err)
{
	struct stat sb;
	int side;

	if (must_create) {
		if (lstat(l->real, &sb) == 0)
			return err_set(err, "refusing to overwrite '%s': it already exists",
				       l->path);
		side = find_side_file(l);
		if (side >= 0)
			return err_set(err,
				       "refusing to overwrite '%s%s': it already exists (move it away first)",
				       side_base(l), side_suffix[side]);
	} else {
		l->lock_fd = open(l->real, O_RDWR | O_CLOEXEC);
		if (l->lock_fd < 0 && errno == ENOENT) {
			side = find_side_file(l);
			if (side >= 0)
				return side_file_refusal(l, side, err);
		}
	}
	if (l->lock_fd < 0 && (must_create || errno == ENOENT)) {
		int made = make_new(l, base_url, client_id, err);

		if (made < 0)
			return -1;
		if (made == 0 && must_create)
			return err_set(err, "refusing to overwrite '%s': it already exists",
				       l->path);
		l->created = made == 1;
		l->lock_fd = open(l->real, O_RDWR | O_CLOEXEC);
	}
	if (l->lock_fd < 0)
		return err_set(err, "cannot open ledger '%s': %s", l->path, strerror(errno));
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return err_set(err, errno == EWOULDBLOCK
					    ? "ledger '%s' is in use by another dots-import process"
					    : "cannot lock ledger '%s'",
			       l->path);
	l->locked = true;
	if (fstat(l->lock_fd, &sb) < 0)
		return err_set(err, "cannot open ledger '%s': %s", l->path, strerror(errno));
	if (sb.st_size == 0) {
		side = find_side_file(l);
		if (side >= 0)
			return side_file_refusal(l, side, err);
		return err_set(err,
			       "'%s' is empty: not a ledger; move it away (a new ledger is made only "
			       "where no file exists), or put back the ledger it replaced",
			       l->path);
	}
	if (sb.st_mode & 077)
		fchmod(l->lock_fd, 0600);
	return 0;
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

/* Syncs the directory, so that the entries of a new ledger and of the
 * -wal file (SQLite makes it at open) survive a crash too. */
static int sync_dir(struct ledger *l, struct err *err)
{
	const char *slash = strrchr(l->real, '/'); /* real is absolute */
	char dir[PATH_MAX];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%.*s", slash == l->real ? 1 : (int)(slash - l->real),
		 l->real);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "ledger '%s': cannot open its directory: %s", l->path,
			       strerror(errno));
	do
		rc = fsync(fd);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINVAL) /* EINVAL: this file system cannot */
		err_set(err, "ledger '%s': cannot sync its directory: %s", l->path,
			strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

static void destroy(struct ledger *l, bool commit);

static int open_ledger(struct ledger **out, const char *path, const char *base_url,
		       const char *client_id, bool must_create, struct err *err)
{
	struct ledger *l = calloc(1, sizeof(*l));
	size_t n;

	if (!l)
		return err_set(err, "out of memory");
	l->lock_fd = -1;
	l->wal_fd = -1;
	l->path = strdup(path);
	if (!l->path) {
		err_set(err, "out of memory");
		goto fail;
	}
	if (resolve_path(path, &l->real, err) < 0)
		goto fail;
	n = strlen(l->real) + sizeof("-wal");
	l->wal_path = malloc(n);
	if (!l->wal_path) {
		err_set(err, "out of memory");
		goto fail;
	}
	snprintf(l->wal_path, n, "%s-wal", l->real);
	if (open_file(l, must_create, base_url, client_id, err) < 0)
		goto fail;
	/* FULLMUTEX: in async mode the worker writes while the caller reads */
	if (sqlite3_open_v2(l->real, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
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
	if (open_write(l, base_url, client_id, err) < 0 || sync_dir(l, err) < 0 ||
	    prepare(l, err) < 0 || count_users(l, err) < 0)
		goto fail;
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

/* ---- async mode: the worker thread ------------------------------------ */

/*
 * Runs a batch of queued writes. Commits in the batch merge into its last
 * one (one COMMIT and one fdatasync); writes after that stay in the open
 * transaction, as they would without the queue. *ticket = the ticket now
 * durable, 0 = none.
 */
static int execute(struct ledger *l, const struct op *ops, size_t n, uint64_t *ticket,
		   struct err *err)
{
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

static void *worker_main(void *arg)
{
	struct ledger *l = arg;
	struct op *run = NULL;
	size_t run_cap = 0;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		if (l->nq) {
			struct op *ops = l->q;
			size_t n = l->nq, cap = l->qcap;
			bool failed = l->failed;
			uint64_t ticket = 0;
			struct err e;
			int rc = 0;

			l->q = run; /* the caller fills the other buffer meanwhile */
			l->qcap = run_cap;
			l->nq = 0;
			run = ops;
			run_cap = cap;
			pthread_mutex_unlock(&l->mu);
			err_init(&e);
			if (!failed)
				rc = execute(l, run, n, &ticket, &e);
			pthread_mutex_lock(&l->mu);
			if (rc < 0 && !l->failed) {
				l->failed = true;
				memcpy(l->fail_msg, e.msg, sizeof(l->fail_msg));
			}
			if (ticket > l->done)
				l->done = ticket;
			l->executed += n;
			pthread_cond_broadcast(&l->cv);
			if (l->wake && (ticket || rc < 0))
				l->wake(l->wake_ctx); /* under the lock: see ledger_set_wake */
			continue;
		}
		if (l->stop)
			break;
		pthread_cond_wait(&l->cv, &l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	free(run);
	return NULL;
}

/* Call with mu held. */
static int failure(const struct ledger *l, struct err *err)
{
	return err_set(err, "%s", l->fail_msg);
}

static int enqueue(struct ledger *l, const struct op *op, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	if (l->failed) {
		rc = failure(l, err);
	} else if (l->nq == l->qcap) {
		size_t cap = l->qcap ? l->qcap * 2 : 256;
		struct op *q = realloc(l->q, cap * sizeof(*q));

		if (!q) {
			rc = err_set(err, "out of memory");
		} else {
			l->q = q;
			l->qcap = cap;
		}
	}
	if (rc == 0) {
		l->q[l->nq++] = *op;
		l->enqueued++;
		/* writes wait for the next commit, or a reader (flush) */
		if (op->kind == OP_COMMIT || l->nq >= 1024)
			pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Waits until the worker has run every write queued so far (a read then
 * sees them). */
static int flush(struct ledger *l, struct err *err)
{
	uint64_t target;
	int rc = 0;

	if (!l->async)
		return 0;
	pthread_mutex_lock(&l->mu);
	target = l->enqueued;
	if (l->executed < target)
		pthread_cond_broadcast(&l->cv);
	while (l->executed < target)
		pthread_cond_wait(&l->cv, &l->mu);
	if (l->failed)
		rc = failure(l, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Waits until ticket is durable. */
static int wait_done(struct ledger *l, uint64_t ticket, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	while (l->done < ticket && !l->failed)
		pthread_cond_wait(&l->cv, &l->mu);
	if (l->done < ticket)
		rc = failure(l, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int ledger_go_async(struct ledger *l, struct err *err)
{
	sigset_t all, old;
	int rc;

	if (l->async)
		return 0;
	if (pthread_mutex_init(&l->mu, NULL) != 0)
		return err_set(err, "cannot create a lock");
	if (pthread_cond_init(&l->cv, NULL) != 0) {
		pthread_mutex_destroy(&l->mu);
		return err_set(err, "cannot create a condition variable");
	}
	l->done = l->committed; /* everything before is durable */
	l->dirty = l->in_txn;   /* an open group's writes still need a commit */
	l->group = true;
	/* signals stay with the caller's thread (the worker inherits this) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->worker, NULL, worker_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		return err_set(err, "ledger '%s': cannot start its thread: %s", l->path,
			       strerror(rc));
	}
	l->async = true;
	return 0;
}

/* Stops the worker after it ran everything queued. */
static void stop_worker(struct ledger *l)
{
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	l->wake = NULL;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->worker, NULL);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->q);
	l->q = NULL;
	l->async = false;
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

int ledger_find(struct ledger *l, uint64_t key, struct ledger_user *u,
		struct err *err)
{
	int rc;

	if (flush(l, err) < 0)
		return -1;
	sqlite3_bind_int64(l->find, 1, (sqlite3_int64)key);
	rc = sqlite3_step(l->find);
	if (rc == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(l->find, 0);
		const unsigned char *cc = sqlite3_column_text(l->find, 2);
		const unsigned char *pn = sqlite3_column_text(l->find, 3);
		int v = sqlite3_column_int(l->find, 1);

		snprintf(u->id, sizeof(u->id), "%s", id ? (const char *)id : "");
		snprintf(u->country_code, sizeof(u->country_code), "%s",
			 cc ? (const char *)cc : "");
		snprintf(u->phone_number, sizeof(u->phone_number), "%s",
			 pn ? (const char *)pn : "");
		u->verif = verif_of(v);
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

	if (l->async) {
		l->dirty = true;
		return enqueue(l, op, err);
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

	if (!l->async) {
		if (commit_durable(l, err) < 0)
			return -1;
		l->committed++;
		return 0;
	}
	if (!l->dirty)
		return 0;
	op.ticket = ++l->committed;
	l->dirty = false;
	return enqueue(l, &op, err);
}

int ledger_commit(struct ledger *l, struct err *err)
{
	if (ledger_commit_async(l, err) < 0)
		return -1;
	if (l->async) {
		if (wait_done(l, l->committed, err) < 0)
			return -1;
	} else {
		l->group = false;
	}
	return 0;
}

uint64_t ledger_next_ticket(const struct ledger *l)
{
	return l->committed + 1;
}

int ledger_durable(struct ledger *l, uint64_t *ticket, struct err *err)
{
	int rc = 0;

	if (!l->async) {
		*ticket = l->committed;
		return 0;
	}
	pthread_mutex_lock(&l->mu);
	*ticket = l->done;
	if (l->failed)
		rc = failure(l, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void ledger_set_wake(struct ledger *l, void (*wake)(void *ctx), void *ctx)
{
	if (l->async)
		pthread_mutex_lock(&l->mu);
	l->wake = wake;
	l->wake_ctx = ctx;
	if (l->async)
		pthread_mutex_unlock(&l->mu);
}

int ledger_each(struct ledger *l, unsigned mask,
		int (*fn)(void *ctx, uint64_t key, const struct ledger_user *u),
		void *ctx, struct err *err)
{
	char before[ERR_MSG_MAX] = "";
	int rc, stop = 0;

	if (flush(l, err) < 0)
		return -1;
	if (err)
		memcpy(before, err->msg, sizeof(before));
	sqlite3_bind_int64(l->each, 1, (sqlite3_int64)mask);
	while ((rc = sqlite3_step(l->each)) == SQLITE_ROW) {
		struct ledger_user u;
		const unsigned char *id = sqlite3_column_text(l->each, 1);
		const unsigned char *cc = sqlite3_column_text(l->each, 3);
		const unsigned char *pn = sqlite3_column_text(l->each, 4);

		snprintf(u.id, sizeof(u.id), "%s", id ? (const char *)id : "");
		snprintf(u.country_code, sizeof(u.country_code), "%s",
			 cc ? (const char *)cc : "");
		snprintf(u.phone_number, sizeof(u.phone_number), "%s",
			 pn ? (const char *)pn : "");
		u.verif = verif_of(sqlite3_column_int(l->each, 2));
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
	bool remove = !commit && l->created && l->locked;

	if (l->async) {
		if (commit) {
			ledger_commit(l, NULL);
		} else {
			/* the worker drops what is still queued */
			pthread_mutex_lock(&l->mu);
			if (!l->failed) {
				l->failed = true;
				snprintf(l->fail_msg, sizeof(l->fail_msg),
					 "ledger '%s': discarded", l->path);
			}
			pthread_mutex_unlock(&l->mu);
		}
		stop_worker(l);
	} else if (commit) {
		commit_durable(l, NULL);
	}
	if (l->wal_fd >= 0)
		close(l->wal_fd);
	sqlite3_finalize(l->find);
	sqlite3_finalize(l->put);
	sqlite3_finalize(l->set_verif);
	sqlite3_finalize(l->each);
	sqlite3_finalize(l->count);
	if (l->db)
		sqlite3_close(l->db); /* rolls back an open transaction */
	if (remove) {
		/* still under our flock: nobody else uses them */
		for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
			char p[PATH_MAX + 16];

			snprintf(p, sizeof(p), "%s%s", l->real, side_suffix[i]);
			unlink(p);
		}
		unlink(l->real);
	}
	if (l->lock_fd >= 0)
		close(l->lock_fd); /* releases the flock */
	free(l->path);
	free(l->real);
	free(l->wal_path);
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
