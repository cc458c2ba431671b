/*
 * test_ledger.c - unit tests for lib/ledger.c on real files in a temporary
 * directory: creation with mode 0600, put/find/set_verif round trips,
 * reopening, the binding to a base URL and client id (the id itself never
 * on disk), the single-owner lock, refusing files that are not ledgers
 * without touching them, group commits, and ledger_each in creation order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
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

static void test_open_tightens_mode_of_existing_empty_file(void **state)
{
	struct fixture *f = *state;
	struct ledger *l;
	struct stat sb;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(chmod(f->path, 0644), 0);
	l = must_open(f->path, BASE, CLIENT);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
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

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_creates_file_with_mode_0600),
		T(test_open_tightens_mode_of_existing_empty_file),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
