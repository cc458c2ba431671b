/*
 * test_ledger.c - unit tests for lib/ledger.c on real files in a temporary
 * directory: creation with mode 0600, put/find/set_verif round trips,
 * reopening, the binding to a base URL and client id (the id itself never
 * on disk), the single-owner lock, refusing files that are not ledgers
 * without touching them, group commits, and ledger_each in creation order;
 * refusing empty files and -wal/-shm/-journal files without their ledger,
 * symlinked ledgers, unwritable ledgers found at open, the VERIFIED state,
 * ledger_count, and ledger_each's error contract; the client fingerprint
 * of earlier versions, discarding in async mode, and the null ledger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger.h"

#include "testutil.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define BASE "https://api.dots.example"
#define CLIENT "client-Zq8rT3secret-Id"
#define CLIENT_FP "e4ca4a54c366c611"

static int setup(void **state)
{
	return fixture_setup(state, "test_ledger", "state.db");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static struct ledger *must_open(const char *path, const char *base,
				const char *client)
{
	struct ledger *l = NULL;
	struct err e;

	err_init(&e);
	if (ledger_open(&l, path, base, client, &e) < 0)
		fail_msg("ledger_open: %s", e.msg);
	assert_non_null(l);
	return l;
}

static void must_put(struct ledger *l, uint64_t key, const char *cc,
		     const char *pn, const char *id, enum ledger_verif v)
{
	struct err e;

	err_init(&e);
	if (ledger_put(l, key, cc, pn, id, v, &e) < 0)
		fail_msg("ledger_put: %s", e.msg);
}

static void assert_user(struct ledger *l, uint64_t key, const char *id,
			enum ledger_verif v, const char *cc, const char *pn)
{
	struct ledger_user u;
	struct err e;

	err_init(&e);
	memset(&u, 0, sizeof(u));
	assert_int_equal(ledger_find(l, key, &u, &e), 1);
	assert_string_equal(u.id, id);
	assert_int_equal(u.verif, v);
	assert_string_equal(u.country_code, cc);
	assert_string_equal(u.phone_number, pn);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Entries in dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int file_contains(const char *path, const char *needle)
{
	size_t len, nl = strlen(needle);
	char *buf = slurp(path, &len);
	int found = 0;

	if (!buf)
		return 0;
	for (size_t i = 0; i + nl <= len && !found; i++)
		found = memcmp(buf + i, needle, nl) == 0;
	free(buf);
	return found;
}

static void test_open_creates_file_with_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct ledger *l;
	struct stat sb;
	mode_t old = umask(022);

	l = must_open(f->path, BASE, CLIENT);
	umask(old);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	ledger_close(l);
	ledger_close(NULL);
}

static void test_open_tightens_mode_of_existing_ledger(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct stat sb;

	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_NONE);
	ledger_close(l);
	assert_int_equal(chmod(f->path, 0644), 0);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_user(l, 1, "usr", LEDGER_VERIF_NONE, "1", "2");
	ledger_close(l);
}

static void test_put_find_set_verif_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct ledger_user u;
	struct err e;
	const uint64_t big = UINT64_C(0x7fffffffffffffff);

	err_init(&e);
	assert_int_equal(ledger_find(l, 14155550100, &u, &e), 0);
	must_put(l, 14155550100, "1", "4155550100", "usr_1", LEDGER_VERIF_NONE);
	must_put(l, big, "998", "12345678901", "usr_big", LEDGER_VERIF_OFF);
	assert_user(l, 14155550100, "usr_1", LEDGER_VERIF_NONE, "1", "4155550100");
	assert_user(l, big, "usr_big", LEDGER_VERIF_OFF, "998", "12345678901");

	static const enum ledger_verif steps[] = {
		LEDGER_VERIF_INTENT, LEDGER_VERIF_SENT, LEDGER_VERIF_FAILED,
		LEDGER_VERIF_IN_DOUBT, LEDGER_VERIF_OFF, LEDGER_VERIF_NONE,
	};
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		assert_int_equal(ledger_set_verif(l, 14155550100, steps[i], &e), 0);
		assert_user(l, 14155550100, "usr_1", steps[i], "1", "4155550100");
	}

	/* put again: the id and state are replaced, no second row */
	must_put(l, 14155550100, "1", "4155550100", "usr_1b", LEDGER_VERIF_SENT);
	assert_user(l, 14155550100, "usr_1b", LEDGER_VERIF_SENT, "1", "4155550100");

	/* set_verif of an unknown user creates nothing */
	assert_int_equal(ledger_set_verif(l, 999, LEDGER_VERIF_SENT, &e), 0);
	assert_int_equal(ledger_find(l, 999, &u, &e), 0);
	ledger_close(l);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);

	must_put(l, 447946095800, "44", "7946095800", "usr_uk", LEDGER_VERIF_INTENT);
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 447946095800, "usr_uk", LEDGER_VERIF_INTENT, "44", "7946095800");
	ledger_close(l);
}

static void test_binding_to_base_url_and_client(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct ledger *other = NULL;
	struct err e;
	char want[512];

	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_NONE);
	ledger_close(l);

	err_init(&e);
	assert_int_equal(ledger_open(&other, f->path, "https://sandbox.dots.example",
				     CLIENT, &e), -1);
	snprintf(want, sizeof(want),
		 "ledger '%s' belongs to base URL '" BASE
		 "', not 'https://sandbox.dots.example': use another --state file",
		 f->path);
	assert_string_equal(e.msg, want);

	assert_int_equal(ledger_open(&other, f->path, BASE, CLIENT "x", &e), -1);
	snprintf(want, sizeof(want),
		 "ledger '%s' was made with another client id: use another --state file",
		 f->path);
	assert_string_equal(e.msg, want);

	/* the refused opens changed nothing */
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 1, "usr", LEDGER_VERIF_NONE, "1", "2");
	ledger_close(l);
}

static void test_client_id_is_never_on_disk(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	char wal[160], shm[160];

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	snprintf(shm, sizeof(shm), "%s-shm", f->path);
	for (uint64_t k = 1; k <= 50; k++)
		must_put(l, k, "1", "4155550100", "usr", LEDGER_VERIF_SENT);
	/* while open: the WAL holds the recent pages */
	assert_true(access(wal, F_OK) == 0);
	assert_false(file_contains(f->path, CLIENT));
	assert_false(file_contains(wal, CLIENT));
	assert_false(file_contains(shm, CLIENT));
	/* a sanity check that the search works: the base URL is stored */
	assert_true(file_contains(f->path, BASE) || file_contains(wal, BASE));
	ledger_close(l);
	assert_false(file_contains(f->path, CLIENT));
	assert_false(file_contains(wal, CLIENT));
	/* the fingerprint (FNV-1a 64 of "dots-import-client:" + id) is the
	 * one earlier versions stored: their ledgers still open */
	assert_true(file_contains(f->path, CLIENT_FP) || file_contains(wal, CLIENT_FP));
}

static void test_second_open_is_refused_while_in_use(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct ledger *l2 = NULL;
	struct err e;
	char want[512];

	err_init(&e);
	assert_int_equal(ledger_open(&l2, f->path, BASE, CLIENT, &e), -1);
	assert_null(l2);
	snprintf(want, sizeof(want),
		 "ledger '%s' is in use by another dots-import process", f->path);
	assert_string_equal(e.msg, want);
	/* the first one still works */
	must_put(l, 7, "1", "2", "usr_7", LEDGER_VERIF_NONE);
	assert_user(l, 7, "usr_7", LEDGER_VERIF_NONE, "1", "2");
	ledger_close(l);
	/* and once closed, the file can be opened again */
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 7, "usr_7", LEDGER_VERIF_NONE, "1", "2");
	ledger_close(l);
}

static void test_non_ledger_files_are_refused_untouched(void **state)
{
	struct fixture *f = *state;
	static const char *const texts[] = {
		"email,phone\nada@example.com,+1 415 555 0100\n",
		("SQLite format 3 but not really, just some text that is long enough "
		 "to fill a database header of one hundred bytes, and then some more.\n"),
		"x",
	};

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		struct ledger *l = NULL;
		struct err e;
		FILE *fp = fopen(f->path, "wb");
		char prefix[256], wal[160];
		size_t len;
		char *after;

		assert_non_null(fp);
		fputs(texts[i], fp);
		fclose(fp);
		err_init(&e);
		if (ledger_open(&l, f->path, BASE, CLIENT, &e) != -1) {
			ledger_close(l);
			fail_msg("text %zu was opened as a ledger", i);
		}
		snprintf(prefix, sizeof(prefix),
			 "ledger '%s' is not a dots-import ledger or is corrupt", f->path);
		if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
			fail_msg("text %zu: \"%s\"", i, e.msg);
		after = slurp(f->path, &len);
		assert_int_equal(len, strlen(texts[i]));
		assert_memory_equal(after, texts[i], len);
		free(after);
		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_int_equal(access(wal, F_OK), -1);
	}
}

static void test_foreign_sqlite_database_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = NULL;
	struct err e;
	sqlite3 *db;
	size_t len_before, len_after;
	char *before, *after, want[512];

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE accounts(id INTEGER);"
					  "INSERT INTO accounts VALUES(1);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	before = slurp(f->path, &len_before);

	err_init(&e);
	assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT, &e), -1);
	snprintf(want, sizeof(want), "ledger '%s' is not a dots-import ledger",
		 f->path);
	assert_string_equal(e.msg, want);
	after = slurp(f->path, &len_after);
	assert_int_equal(len_after, len_before);
	assert_memory_equal(after, before, len_before);
	free(before);
	free(after);
}

/* Rows in users as another connection sees them (committed only). */
static int committed_users(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM users", -1,
					    &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * Committed rows as seen after the process using the ledger dies without
 * closing it (kill -9): the work runs in a child that _exit()s, and the
 * parent counts what survived. (The ledger holds SQLite's lock exclusively
 * while open, so no second connection can look in the meantime.)
 */
static int survivors_after_crash(const char *path, void (*work)(struct ledger *))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct err e;
		struct ledger *l = NULL;

		if (ledger_open(&l, path, BASE, CLIENT, &e) < 0)
			_exit(3);
		work(l);
		_exit(0); /* no ledger_close: a crash */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return committed_users(path);
}

static void work_single(struct ledger *l)
{
	/* without a group, each change is committed at once */
	must_put(l, 1, "1", "2", "a", LEDGER_VERIF_NONE);
}

static void work_group(struct ledger *l)
{
	struct err e;

	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 2, "1", "2", "b", LEDGER_VERIF_NONE);
	must_put(l, 3, "1", "2", "c", LEDGER_VERIF_NONE);
	assert_int_equal(ledger_set_verif(l, 1, LEDGER_VERIF_INTENT, &e), 0);
	/* visible to the ledger itself before the commit */
	assert_user(l, 3, "c", LEDGER_VERIF_NONE, "1", "2");
	assert_int_equal(ledger_commit(l, &e), 0);
	/* an open group that never commits is lost in a crash */
	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 4, "1", "2", "d", LEDGER_VERIF_NONE);
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct ledger *l;
	struct err e;

	err_init(&e);
	assert_int_equal(survivors_after_crash(f->path, work_single), 1);
	assert_int_equal(survivors_after_crash(f->path, work_group), 3);

	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 1, "a", LEDGER_VERIF_INTENT, "1", "2");
	/* a commit without changes, and a second one, are fine */
	assert_int_equal(ledger_begin(l, &e), 0);
	assert_int_equal(ledger_commit(l, &e), 0);
	assert_int_equal(ledger_commit(l, &e), 0);
	/* ledger_close commits an open group */
	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 5, "1", "2", "e", LEDGER_VERIF_NONE);
	ledger_close(l);
	assert_int_equal(committed_users(f->path), 4);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 5, "e", LEDGER_VERIF_NONE, "1", "2");
	assert_int_equal(ledger_users_at_open(l), 4);
	ledger_close(l);
}

static void count_wake(void *ctx)
{
	(*(int *)ctx)++; /* the sync thread; read after ledger_set_wake(NULL) */
}

/* Polls until every commit asked for so far is durable. */
static void wait_all_durable(struct ledger *l)
{
	struct err e;
	uint64_t d = 0;

	for (;;) {
		assert_int_equal(ledger_durable(l, &d, &e), 0);
		if (d + 1 >= ledger_next_ticket(l))
			return;
		usleep(1000);
	}
}

/* Async mode: writes queued for the ledger's thread; commits durable at
 * their ticket, with a wake-up; reads see queued writes; the group stays
 * open (and is lost in a crash); bad fields are refused at once. */
static void work_async(struct ledger *l)
{
	struct err e;
	uint64_t t1, t2, d0 = 0, d = 0;
	int wakes = 0;

	err_init(&e);
	assert_int_equal(ledger_begin(l, &e), 0);
	ledger_set_wake(l, count_wake, &wakes);
	assert_int_equal(ledger_go_async(l, &e), 0);
	assert_int_equal(ledger_durable(l, &d0, &e), 0);
	assert_int_equal(ledger_next_ticket(l), d0 + 1); /* nothing pending */
	must_put(l, 7, "1", "2", "g", LEDGER_VERIF_INTENT);
	t1 = ledger_next_ticket(l);
	assert_true(t1 > d0);
	assert_int_equal(ledger_commit_async(l, &e), 0);
	must_put(l, 8, "1", "2", "h", LEDGER_VERIF_NONE);
	assert_int_equal(ledger_set_verif(l, 8, LEDGER_VERIF_INTENT, &e), 0);
	assert_user(l, 8, "h", LEDGER_VERIF_INTENT, "1", "2"); /* waits for the queue */
	t2 = ledger_next_ticket(l);
	assert_int_equal(t2, t1 + 1);
	wait_all_durable(l);
	assert_int_equal(ledger_commit_async(l, &e), 0);
	wait_all_durable(l);
	assert_int_equal(ledger_durable(l, &d, &e), 0);
	assert_true(d >= t2);
	/* nothing new: no commit, the ticket stays */
	assert_int_equal(ledger_commit_async(l, &e), 0);
	assert_int_equal(ledger_next_ticket(l), t2 + 1);
	ledger_set_wake(l, NULL, NULL);
	assert_true(wakes >= 2);
	assert_int_equal(ledger_put(l, 10, "1234", "2", "x", LEDGER_VERIF_NONE, &e), -1);
	assert_string_equal(e.msg, "ledger: country code longer than 3 characters");
	/* still a group: this one is never committed */
	must_put(l, 9, "1", "2", "i", LEDGER_VERIF_NONE);
}

static void test_async_commit(void **state)
{
	struct fixture *f = *state;
	struct ledger *l;
	struct err e;
	uint64_t d = 0;

	err_init(&e);
	assert_int_equal(survivors_after_crash(f->path, work_async), 2);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 8, "h", LEDGER_VERIF_INTENT, "1", "2");
	/* closing commits what is queued */
	assert_int_equal(ledger_go_async(l, &e), 0);
	must_put(l, 11, "1", "2", "k", LEDGER_VERIF_SENT);
	ledger_close(l);
	assert_int_equal(committed_users(f->path), 3);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 11, "k", LEDGER_VERIF_SENT, "1", "2");
	/* a blocking commit in async mode returns once durable */
	assert_int_equal(ledger_go_async(l, &e), 0);
	assert_int_equal(ledger_set_verif(l, 11, LEDGER_VERIF_IN_DOUBT, &e), 0);
	assert_int_equal(ledger_commit(l, &e), 0);
	assert_int_equal(ledger_durable(l, &d, &e), 0);
	assert_int_equal(d + 1, ledger_next_ticket(l));
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 11, "k", LEDGER_VERIF_IN_DOUBT, "1", "2");
	ledger_close(l);
}

struct collected {
	uint64_t key[16];
	char id[16][65];
	enum ledger_verif verif[16];
	size_t n;
	size_t stop_after; /* 0 = never stop */
};

static int collect(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct collected *c = ctx;

	if (c->n < ARRAY_LEN(c->key)) {
		c->key[c->n] = key;
		snprintf(c->id[c->n], sizeof(c->id[c->n]), "%s", u->id);
		c->verif[c->n] = u->verif;
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

#define BIT(v) (1u << (v))

static void test_each_by_mask_in_creation_order(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	/* created in this order; keys deliberately not sorted */
	static const struct {
		uint64_t key;
		const char *id;
		enum ledger_verif v;
	} users[] = {
		{500, "u500", LEDGER_VERIF_INTENT}, {100, "u100", LEDGER_VERIF_NONE},
		{900, "u900", LEDGER_VERIF_INTENT}, {300, "u300", LEDGER_VERIF_IN_DOUBT},
		{200, "u200", LEDGER_VERIF_SENT},   {700, "u700", LEDGER_VERIF_NONE},
	};
	static const struct {
		unsigned mask;
		const char *ids; /* in order, space separated */
	} cases[] = {
		{0, ""},
		{BIT(LEDGER_VERIF_NONE), "u100 u700"},
		{BIT(LEDGER_VERIF_INTENT), "u500 u900"},
		{BIT(LEDGER_VERIF_NONE) | BIT(LEDGER_VERIF_IN_DOUBT), "u100 u300 u700"},
		{BIT(LEDGER_VERIF_SENT) | BIT(LEDGER_VERIF_OFF), "u200"},
		{BIT(LEDGER_VERIF_FAILED), ""},
		{0x3f, "u500 u100 u900 u300 u200 u700"},
	};
	struct err e;

	for (size_t i = 0; i < ARRAY_LEN(users); i++)
		must_put(l, users[i].key, "1", "2", users[i].id, users[i].v);
	/* updating a user does not move it */
	must_put(l, 500, "1", "2", "u500", LEDGER_VERIF_INTENT);
	err_init(&e);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct collected c = {0};
		char got[256] = "";
		size_t o = 0;

		assert_int_equal(ledger_each(l, cases[i].mask, collect, &c, &e), 0);
		for (size_t k = 0; k < c.n; k++)
			o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s",
					      k ? " " : "", c.id[k]);
		if (strcmp(got, cases[i].ids) != 0)
			fail_msg("mask 0x%x: \"%s\", want \"%s\"", cases[i].mask, got,
				 cases[i].ids);
		for (size_t k = 0; k < c.n; k++)
			assert_true(BIT(c.verif[k]) & cases[i].mask);
	}
	ledger_close(l);
}

static void test_each_stops_when_asked_and_allows_updates(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct collected c = {0};
	struct err e;

	for (uint64_t k = 1; k <= 5; k++)
		must_put(l, k, "1", "2", "u", LEDGER_VERIF_INTENT);
	err_init(&e);
	c.stop_after = 2;
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_INTENT), collect, &c, &e), 0);
	assert_int_equal(c.n, 2);
	/* the statement was reset: a new walk starts from the beginning */
	memset(&c, 0, sizeof(c));
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_INTENT), collect, &c, &e), 0);
	assert_int_equal(c.n, 5);
	assert_int_equal(c.key[0], 1);
	assert_int_equal(c.key[4], 5);
	ledger_close(l);
}

/* ---- refusing files that would be taken for a new ledger -------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Entries of dir, sorted names joined by spaces: what a refusal left. */
static void list_dir(const char *dir, char *out, size_t cap)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t o = 0;

	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && o < cap)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "",
					      names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static void test_empty_file_is_refused_untouched(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = NULL;
	struct stat sb;
	struct err e;
	char want[512], ls[256];

	write_file(f->path, "", 0644);
	err_init(&e);
	assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT, &e), -1);
	assert_null(l);
	snprintf(want, sizeof(want),
		 "'%s' is empty: not a ledger; move it away (a new ledger is made only "
		 "where no file exists), or put back the ledger it replaced",
		 f->path);
	assert_string_equal(e.msg, want);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(sb.st_mode & 0777, 0644); /* not even its mode */
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "state.db");
}

static void work_put_and_crash(struct ledger *l)
{
	for (uint64_t k = 1; k <= 5; k++)
		must_put(l, k, "1", "4155550100", "usr", LEDGER_VERIF_SENT);
}

/* Runs work on the ledger in a child that dies without closing it. */
static void crash_after(const char *path, void (*work)(struct ledger *))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct err e;
		struct ledger *l = NULL;

		if (ledger_open(&l, path, BASE, CLIENT, &e) < 0)
			_exit(3);
		work(l);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_side_files_without_ledger_are_refused_untouched(void **state)
{
	struct fixture *f = *state;
	static const char *const sfx[] = {"-wal", "-shm", "-journal"};
	char side[160], want[768], ls[256];
	struct ledger *l = NULL;
	struct err e;
	size_t len_before, len_after;
	char *before, *after;

	/* the story: a run killed with its users in the WAL, then the
	 * ledger deleted; the rerun must not start afresh */
	err_init(&e);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	crash_after(f->path, work_put_and_crash);
	assert_true(exists(side));
	assert_int_equal(unlink(f->path), 0);
	{
		before = slurp(side, &len_before);
		assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT, &e), -1);
		assert_null(l);
		snprintf(want, sizeof(want),
			 "'%s-wal' exists without its ledger '%s': the ledger may have been "
			 "deleted after a crash; restore it, or use restore-ledger, or remove "
			 "the -wal file if you are sure",
			 f->path, f->path);
		assert_string_equal(e.msg, want);
		assert_false(exists(f->path));
		after = slurp(side, &len_after);
		assert_int_equal(len_after, len_before);
		assert_memory_equal(after, before, len_before);
		free(before);
		free(after);
	}

	/* each kind of side file, with the ledger missing or empty */
	for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
		for (int empty_main = 0; empty_main <= 1; empty_main++) {
			char expect_ls[256];

			for (size_t k = 0; k < ARRAY_LEN(sfx); k++) {
				snprintf(side, sizeof(side), "%s%s", f->path, sfx[k]);
				unlink(side);
			}
			unlink(f->path);
			snprintf(side, sizeof(side), "%s%s", f->path, sfx[i]);
			write_file(side, "precious", 0600);
			if (empty_main)
				write_file(f->path, "", 0600);
			err_init(&e);
			assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT, &e), -1);
			snprintf(want, sizeof(want),
				 "'%s' exists without its ledger '%s': the ledger may have "
				 "been deleted after a crash; restore it, or use restore-ledger, "
				 "or remove the %s file if you are sure",
				 side, f->path, sfx[i]);
			assert_string_equal(e.msg, want);
			after = slurp(side, &len_after);
			assert_int_equal(len_after, 8);
			assert_memory_equal(after, "precious", 8);
			free(after);
			list_dir(f->dir, ls, sizeof(ls));
			snprintf(expect_ls, sizeof(expect_ls), "%sstate.db%s",
				 empty_main ? "state.db " : "", sfx[i]);
			assert_string_equal(ls, expect_ls);
		}
	}
}

/* ---- symlinks ---------------------------------------------------------- */

static void test_symlinked_ledger_commits_beside_its_target(void **state)
{
	struct fixture *f = *state;
	char target[160], link1[160], link2[160], path[200], ls[256];
	struct ledger *l;
	struct err e;
	uint64_t d = 0, t;

	err_init(&e);
	snprintf(target, sizeof(target), "%s/target.db", f->dir);
	snprintf(link1, sizeof(link1), "%s/link.db", f->dir);
	snprintf(link2, sizeof(link2), "%s/link2.db", f->dir);
	/* a dangling relative link: the ledger is made at its target */
	assert_int_equal(symlink("target.db", link1), 0);
	l = must_open(link1, BASE, CLIENT);
	must_put(l, 1, "1", "2", "u1", LEDGER_VERIF_SENT); /* a solo commit */
	assert_int_equal(ledger_begin(l, &e), 0);
	assert_int_equal(ledger_go_async(l, &e), 0);
	must_put(l, 2, "1", "2", "u2", LEDGER_VERIF_INTENT);
	t = ledger_next_ticket(l);
	assert_int_equal(ledger_commit_async(l, &e), 0);
	for (int i = 0; i < 5000 && d < t; i++) {
		if (ledger_durable(l, &d, &e) < 0)
			fail_msg("ledger_durable: %s", e.msg);
		usleep(1000);
	}
	assert_true(d >= t);
	assert_int_equal(ledger_commit(l, &e), 0);
	snprintf(path, sizeof(path), "%s-wal", target);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s-wal", link1);
	assert_false(exists(path));
	ledger_close(l);
	assert_int_equal(committed_users(target), 2);

	/* a link to a link, absolute: the same ledger */
	assert_int_equal(symlink(link1, link2), 0);
	l = must_open(link2, BASE, CLIENT);
	assert_user(l, 2, "u2", LEDGER_VERIF_INTENT, "1", "2");
	assert_int_equal(ledger_go_async(l, &e), 0);
	assert_int_equal(ledger_set_verif(l, 2, LEDGER_VERIF_SENT, &e), 0);
	assert_int_equal(ledger_commit(l, &e), 0);
	ledger_close(l);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "link.db link2.db target.db");

	/* a -wal beside the target without the target: refused, named */
	assert_int_equal(rename(target, path), 0); /* path = link.db-wal */
	snprintf(path, sizeof(path), "%s-wal", target);
	snprintf(ls, sizeof(ls), "%s-wal", link1);
	assert_int_equal(rename(ls, path), 0);
	{
		struct ledger *l2 = NULL;
		char want[768];

		assert_int_equal(ledger_open(&l2, link1, BASE, CLIENT, &e), -1);
		snprintf(want, sizeof(want),
			 "'%s-wal' exists without its ledger '%s': the ledger may have been "
			 "deleted after a crash; restore it, or use restore-ledger, or remove "
			 "the -wal file if you are sure",
			 target, link1);
		assert_string_equal(e.msg, want);
	}
}

/* ---- unwritable ledgers are found at open ------------------------------ */

#define NOBODY 65534

/*
 * Runs ledger_open on path in a child that cannot write what the parent
 * made read-only (as root: the child becomes nobody, the fixture's
 * files handed to it). Returns the child's exit status: 0 = refused with
 * a message naming path, 1 = opened, 2 = refused without naming it.
 */
static int open_as_other_user(struct fixture *f, const char *path)
{
	pid_t pid;
	int status;

	if (geteuid() == 0) {
		struct dirent **names;
		int n = scandir(f->dir, &names, NULL, alphasort);
		char p[512];

		assert_true(n >= 0);
		assert_int_equal(chown(f->dir, NOBODY, NOBODY), 0);
		for (int i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]->d_name);
			if (names[i]->d_name[0] != '.')
				assert_int_equal(lchown(p, NOBODY, NOBODY), 0);
			free(names[i]);
		}
		free(names);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger *l = NULL;
		struct err e;

		err_init(&e);
		if (geteuid() == 0 && (setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
			_exit(3);
		if (ledger_open(&l, path, BASE, CLIENT, &e) == 0) {
			ledger_close(l);
			_exit(1);
		}
		_exit(strstr(e.msg, path) ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_unwritable_ledger_is_refused_at_open(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	char other[160], ls[256];
	size_t len_before, len_after;
	char *before, *after;

	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_SENT);
	ledger_close(l);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "state.db"); /* closing removed the -wal */
	before = slurp(f->path, &len_before);

	/* a read-only directory: the -wal cannot be made */
	assert_int_equal(chmod(f->dir, 0500), 0);
	assert_int_equal(open_as_other_user(f, f->path), 0);
	/* and a new ledger cannot be made there */
	snprintf(other, sizeof(other), "%s/new.db", f->dir);
	assert_int_equal(open_as_other_user(f, other), 0);
	assert_int_equal(chmod(f->dir, 0700), 0);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "state.db");

	/* a read-only file in a writable directory */
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(open_as_other_user(f, f->path), 0);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "state.db");

	after = slurp(f->path, &len_after);
	assert_int_equal(len_after, len_before);
	assert_memory_equal(after, before, len_before);
	free(before);
	free(after);
}

static void test_lock_of_another_program_is_refused_at_open(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct err e;
	sqlite3 *db;
	char want[256];

	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_SENT);
	ledger_close(l);
	/* e.g. the sqlite3 shell, in a write transaction (no flock) */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	err_init(&e);
	l = NULL;
	assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT, &e), -1);
	assert_null(l);
	snprintf(want, sizeof(want), "ledger '%s' is locked by another program", f->path);
	if (strncmp(e.msg, want, strlen(want)) != 0)
		fail_msg("\"%s\"", e.msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 1, "usr", LEDGER_VERIF_SENT, "1", "2");
	ledger_close(l);
}

/* ---- ledger_create ----------------------------------------------------- */

static void test_create_refuses_existing_files(void **state)
{
	struct fixture *f = *state;
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	struct ledger *l = NULL;
	struct err e;
	char p[160], want[512], ls[256];

	for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		write_file(p, "", 0600);
		err_init(&e);
		assert_int_equal(ledger_create(&l, f->path, BASE, CLIENT, &e), -1);
		snprintf(want, sizeof(want), "refusing to overwrite '%s'", p);
		if (strncmp(e.msg, want, strlen(want)) != 0)
			fail_msg("\"%s\"", e.msg);
		list_dir(f->dir, ls, sizeof(ls));
		assert_string_equal(ls, strrchr(p, '/') + 1);
		assert_int_equal(unlink(p), 0);
	}
	/* then it makes one; and a discarded ledger leaves nothing */
	l = NULL;
	assert_int_equal(ledger_create(&l, f->path, BASE, CLIENT, &e), 0);
	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_SENT);
	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 2, "1", "3", "usr2", LEDGER_VERIF_SENT);
	ledger_discard(l);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "");
	/* discarding an existing ledger keeps it, without the open group */
	l = must_open(f->path, BASE, CLIENT);
	must_put(l, 1, "1", "2", "usr", LEDGER_VERIF_SENT);
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 2, "1", "3", "usr2", LEDGER_VERIF_SENT);
	ledger_discard(l);
	assert_int_equal(committed_users(f->path), 1);
}

/* ---- VERIFIED, ledger_count, ledger_each errors ------------------------ */

static void test_verified_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct collected c = {0};
	struct err e;

	err_init(&e);
	must_put(l, 1, "1", "2", "u1", LEDGER_VERIF_VERIFIED);
	must_put(l, 2, "1", "3", "u2", LEDGER_VERIF_SENT);
	assert_user(l, 1, "u1", LEDGER_VERIF_VERIFIED, "1", "2");
	assert_int_equal(ledger_set_verif(l, 2, LEDGER_VERIF_VERIFIED, &e), 0);
	assert_user(l, 2, "u2", LEDGER_VERIF_VERIFIED, "1", "3");
	/* unknown states are refused */
	assert_int_equal(ledger_put(l, 3, "1", "4", "u3", (enum ledger_verif)7, &e), -1);
	assert_string_equal(e.msg, "ledger: invalid verification state 7");
	assert_int_equal(ledger_set_verif(l, 1, (enum ledger_verif)-1, &e), -1);
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 1, "u1", LEDGER_VERIF_VERIFIED, "1", "2");
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_VERIFIED), collect, &c, &e), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.verif[0], LEDGER_VERIF_VERIFIED);
	ledger_close(l);
}

static long long count(struct ledger *l, unsigned mask)
{
	long long n = -1;
	struct err e;

	err_init(&e);
	if (ledger_count(l, mask, &n, &e) < 0)
		fail_msg("ledger_count: %s", e.msg);
	return n;
}

static void test_count_by_mask(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct err e;
	const unsigned all = (1u << (LEDGER_VERIF_MAX + 1)) - 1;

	err_init(&e);
	assert_int_equal(count(l, all), 0);
	must_put(l, 1, "1", "2", "a", LEDGER_VERIF_SENT);
	must_put(l, 2, "1", "3", "b", LEDGER_VERIF_SENT);
	must_put(l, 3, "1", "4", "c", LEDGER_VERIF_VERIFIED);
	must_put(l, 4, "1", "5", "d", LEDGER_VERIF_NONE);
	assert_int_equal(count(l, all), 4);
	assert_int_equal(count(l, 0), 0);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_SENT)), 2);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_VERIFIED) | BIT(LEDGER_VERIF_NONE)), 2);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_OFF)), 0);
	/* an open group's writes count */
	assert_int_equal(ledger_begin(l, &e), 0);
	must_put(l, 5, "1", "6", "e", LEDGER_VERIF_OFF);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_OFF)), 1);
	/* async: queued writes count */
	assert_int_equal(ledger_go_async(l, &e), 0);
	for (uint64_t k = 10; k < 2010; k++)
		must_put(l, k, "1", "7", "f", LEDGER_VERIF_IN_DOUBT);
	assert_int_equal(ledger_set_verif(l, 1, LEDGER_VERIF_VERIFIED, &e), 0);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_IN_DOUBT)), 2000);
	assert_int_equal(count(l, BIT(LEDGER_VERIF_VERIFIED)), 2);
	assert_int_equal(count(l, all), 2005);
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(count(l, all), 2005);
	ledger_close(l);
}

struct failing {
	struct err *err; /* the caller's err, for the callback */
	size_t n, fail_at;
	bool set_msg;
};

static int fail_cb(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct failing *c = ctx;

	(void)key;
	(void)u;
	if (++c->n < c->fail_at)
		return 0;
	if (c->set_msg)
		return err_set(c->err, "out of memory");
	return -1;
}

static void test_each_callback_error_is_reported(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct collected col = {0};
	struct err e;
	struct failing c = {&e, 0, 2, true};
	char want[256];

	for (uint64_t k = 1; k <= 5; k++)
		must_put(l, k, "1", "2", "u", LEDGER_VERIF_NONE);
	/* the callback's message */
	err_init(&e);
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_NONE), fail_cb, &c, &e), -1);
	assert_string_equal(e.msg, "out of memory");
	assert_int_equal(c.n, 2);
	/* none from the callback (an old message stays the caller's): generic */
	snprintf(e.msg, sizeof(e.msg), "an earlier message");
	c.n = 0;
	c.set_msg = false;
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_NONE), fail_cb, &c, &e), -1);
	snprintf(want, sizeof(want), "ledger '%s': listing users stopped on an error",
		 f->path);
	assert_string_equal(e.msg, want);
	/* > 0 stops early, not an error: err untouched */
	err_init(&e);
	col.stop_after = 3;
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_NONE), collect, &col, &e), 0);
	assert_int_equal(col.n, 3);
	assert_string_equal(e.msg, "");
	/* the statement was reset after the error: a full walk works */
	memset(&col, 0, sizeof(col));
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_NONE), collect, &col, &e), 0);
	assert_int_equal(col.n, 5);
	/* and in async mode */
	assert_int_equal(ledger_go_async(l, &e), 0);
	must_put(l, 6, "1", "2", "u", LEDGER_VERIF_NONE);
	c.n = 0;
	c.fail_at = 6;
	c.set_msg = true;
	assert_int_equal(ledger_each(l, BIT(LEDGER_VERIF_NONE), fail_cb, &c, &e), -1);
	assert_int_equal(c.n, 6);
	assert_string_equal(e.msg, "out of memory");
	ledger_close(l);
}

/* A new ledger appears under its name complete (made aside, linked into
 * place): never as an empty file a crash could leave behind. */
static void test_new_ledger_appears_complete(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	size_t len;
	char *head, ls[256];

	head = slurp(f->path, &len);
	assert_true(len >= 100);
	assert_memory_equal(head, "SQLite format 3", 16);
	free(head);
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "state.db state.db-wal"); /* no temporary left */
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(ledger_users_at_open(l), 0);
	ledger_close(l);
}

/* Discarding in async mode drops what is queued; a ledger this handle
 * made goes with its side files, an existing one keeps its old users. */
static void test_async_discard_drops_queued_writes(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path, BASE, CLIENT);
	struct err e;

	err_init(&e);
	assert_int_equal(ledger_go_async(l, &e), 0);
	must_put(l, 1, "1", "2", "a", LEDGER_VERIF_NONE);
	ledger_discard(l);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(count_entries(f->dir), 0);

	l = must_open(f->path, BASE, CLIENT);
	must_put(l, 1, "1", "2", "a", LEDGER_VERIF_NONE);
	ledger_close(l);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(ledger_go_async(l, &e), 0);
	assert_int_equal(ledger_go_async(l, &e), 0); /* twice: still one thread */
	must_put(l, 2, "1", "3", "b", LEDGER_VERIF_NONE);
	assert_int_equal(ledger_set_verif(l, 1, LEDGER_VERIF_SENT, &e), 0);
	ledger_discard(l);
	assert_int_equal(committed_users(f->path), 1);
	l = must_open(f->path, BASE, CLIENT);
	assert_user(l, 1, "a", LEDGER_VERIF_NONE, "1", "2");
	ledger_close(l);
}

static int count_user(void *ctx, uint64_t key, const struct ledger_user *u)
{
	(void)key;
	(void)u;
	(*(int *)ctx)++;
	return 0;
}

static void never_wake(void *ctx)
{
	(*(int *)ctx)++;
}

/* The null ledger (--no-state) keeps nothing, touches no file, and never
 * makes a send wait for the disk. */
static void test_null_ledger_keeps_nothing(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = NULL;
	struct ledger_user u;
	struct err e;
	uint64_t d = 0, t;
	long long n = -1;
	int calls = 0, wakes = 0;

	err_init(&e);
	assert_int_equal(ledger_open_null(&l, &e), 0);
	assert_non_null(l);
	assert_int_equal(ledger_users_at_open(l), 0);
	ledger_set_wake(l, never_wake, &wakes);
	assert_int_equal(ledger_go_async(l, &e), 0);
	assert_int_equal(ledger_begin(l, &e), 0);
	t = ledger_next_ticket(l);
	assert_int_equal(ledger_put(l, 7, "1", "4155550100", "usr_1", LEDGER_VERIF_INTENT, &e), 0);
	assert_int_equal(ledger_set_verif(l, 7, LEDGER_VERIF_SENT, &e), 0);
	assert_int_equal(ledger_find(l, 7, &u, &e), 0);
	assert_int_equal(ledger_commit_async(l, &e), 0);
	assert_int_equal(ledger_durable(l, &d, &e), 0);
	assert_true(d >= t);
	assert_true(d >= ledger_next_ticket(l));
	assert_int_equal(ledger_commit(l, &e), 0);
	assert_int_equal(ledger_count(l, (1u << (LEDGER_VERIF_MAX + 1)) - 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ledger_each(l, (1u << (LEDGER_VERIF_MAX + 1)) - 1, count_user,
				     &calls, &e), 0);
	assert_int_equal(calls, 0);
	ledger_set_wake(l, NULL, NULL);
	assert_int_equal(wakes, 0);
	assert_string_equal(e.msg, "");
	ledger_close(l);
	assert_int_equal(ledger_open_null(&l, &e), 0);
	ledger_discard(l);
	assert_int_equal(count_entries(f->dir), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_creates_file_with_mode_0600),
		T(test_open_tightens_mode_of_existing_ledger),
		T(test_put_find_set_verif_round_trip),
		T(test_reopen_keeps_data),
		T(test_binding_to_base_url_and_client),
		T(test_client_id_is_never_on_disk),
		T(test_second_open_is_refused_while_in_use),
		T(test_non_ledger_files_are_refused_untouched),
		T(test_foreign_sqlite_database_is_refused_untouched),
		T(test_group_commit),
		T(test_async_commit),
		T(test_each_by_mask_in_creation_order),
		T(test_each_stops_when_asked_and_allows_updates),
		T(test_empty_file_is_refused_untouched),
		T(test_side_files_without_ledger_are_refused_untouched),
		T(test_symlinked_ledger_commits_beside_its_target),
		T(test_unwritable_ledger_is_refused_at_open),
		T(test_lock_of_another_program_is_refused_at_open),
		T(test_create_refuses_existing_files),
		T(test_verified_round_trip),
		T(test_count_by_mask),
		T(test_each_callback_error_is_reported),
		T(test_new_ledger_appears_complete),
		T(test_async_discard_drops_queued_writes),
		T(test_null_ledger_keeps_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
