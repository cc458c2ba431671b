/*
 * test_ledger_ident.c - unit tests for what the ledger keeps of each user
 * besides its id (lib/ledger.c, lib/ledger_rows.c, lib/ledger_read.c):
 * email, names and external id round trips, an external id belonging to one
 * user at most, the first stored email kept, the migration of a ledger made
 * before these fields (its users read back with none), and ledger_open_read
 * (a dry run's preview): nothing written or left behind, the refusals it
 * shares with ledger_open, old ledgers read without migrating them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger.h"

#include "testutil.h"

#include "banned.h"

#define BASE "https://api.dots.example"
#define CLIENT "client-Zq8rT3secret-Id"
#define CLIENT_FP "e4ca4a54c366c611" /* the fingerprint ledger.c stores for CLIENT */

static int setup(void **state)
{
	return fixture_setup(state, "test_ledger_ident", "state.db");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static struct ledger *must_open(const char *path)
{
	struct ledger *l = NULL;
	struct err e;

	err_init(&e);
	if (ledger_open(&l, path, BASE, CLIENT, &e) < 0)
		fail_msg("ledger_open: %s", e.msg);
	return l;
}

static struct ledger_ident ident(const char *email, const char *first, const char *last,
				 const char *ext)
{
	struct ledger_ident id;

	memset(&id, 0, sizeof(id));
	snprintf(id.email, sizeof(id.email), "%s", email);
	snprintf(id.first_name, sizeof(id.first_name), "%s", first);
	snprintf(id.last_name, sizeof(id.last_name), "%s", last);
	snprintf(id.external_id, sizeof(id.external_id), "%s", ext);
	return id;
}

static void must_put(struct ledger *l, uint64_t key, const char *pn, const char *id,
		     const struct ledger_ident *ident_or_null)
{
	struct err e;

	err_init(&e);
	if (ledger_put_ident(l, key, "1", pn, id, LEDGER_VERIF_SENT, ident_or_null, &e) < 0)
		fail_msg("ledger_put_ident: %s", e.msg);
}

static void assert_ident(struct ledger *l, uint64_t key, const char *email, const char *first,
			 const char *last, const char *ext)
{
	struct ledger_user u;
	struct ledger_ident id;
	struct err e;

	err_init(&e);
	memset(&id, 'x', sizeof(id));
	assert_int_equal(ledger_find_ident(l, key, &u, &id, &e), 1);
	assert_string_equal(id.email, email);
	assert_string_equal(id.first_name, first);
	assert_string_equal(id.last_name, last);
	assert_string_equal(id.external_id, ext);
}

/* The external id's user: its key, or 0 when nobody has it. */
static uint64_t owner_of(struct ledger *l, const char *ext)
{
	struct ledger_user u;
	uint64_t key = 0;
	struct err e;
	int rc;

	err_init(&e);
	rc = ledger_find_external(l, ext, &key, &u, NULL, &e);
	assert_true(rc >= 0);
	return rc == 1 ? key : 0;
}

static void test_ident_round_trip_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct ledger_ident b = ident("bo@example.com", "Bo", "\xc3\x96z", "");

	must_put(l, 11, "4155550111", "usr_a", &a);
	must_put(l, 12, "4155550112", "usr_b", &b);
	must_put(l, 13, "4155550113", "usr_c", NULL); /* as restore-ledger writes */
	assert_ident(l, 11, "ann@example.com", "Ann", "Lee", "crm-1");
	assert_ident(l, 12, "bo@example.com", "Bo", "\xc3\x96z", "");
	assert_ident(l, 13, "", "", "", "");
	ledger_close(l);
	l = must_open(f->path);
	assert_ident(l, 11, "ann@example.com", "Ann", "Lee", "crm-1");
	assert_int_equal(owner_of(l, "crm-1"), 11);
	assert_int_equal(owner_of(l, "crm-2"), 0);
	assert_int_equal(owner_of(l, ""), 0);
	ledger_close(l);
}

static void test_external_id_belongs_to_one_user(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct ledger_ident a2 = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct err e;

	err_init(&e);
	must_put(l, 21, "4155550121", "usr_old", &a);
	/* the same person with a new phone (--allow-phone-change): the id moves */
	must_put(l, 22, "4155550122", "usr_new", &a2);
	assert_int_equal(owner_of(l, "crm-1"), 22);
	assert_ident(l, 21, "ann@example.com", "Ann", "Lee", "");
	/* a known user adopts an external id, taken off the other */
	assert_int_equal(ledger_set_external(l, 21, "crm-1", &e), 0);
	assert_int_equal(owner_of(l, "crm-1"), 21);
	assert_ident(l, 22, "ann@example.com", "Ann", "Lee", "");
	assert_int_equal(ledger_set_external(l, 21, "", &e), -1);
	ledger_close(l);
}

static void test_first_stored_fields_are_kept(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "");
	struct ledger_ident later = ident("other@example.com", "Zed", "Zed", "crm-9");

	must_put(l, 31, "4155550131", "usr_a", &a);
	/* a second put (a repeated create answers with the same user): Dots
	 * keeps what it was created with; a new external id is recorded */
	must_put(l, 31, "4155550131", "usr_a", &later);
	assert_ident(l, 31, "ann@example.com", "Ann", "Lee", "crm-9");
	/* a user recorded without them gets them from its first put with them */
	must_put(l, 32, "4155550132", "usr_b", NULL);
	must_put(l, 32, "4155550132", "usr_b", &a);
	assert_ident(l, 32, "ann@example.com", "Ann", "Lee", "");
	ledger_close(l);
}

static void test_too_long_fields_are_refused(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("a@example.com", "A", "B", "");
	char big[LEDGER_EXTERNAL_ID_MAX + 2];
	struct err e;

	err_init(&e);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ledger_set_external(l, 1, big, &e), -1);
	assert_non_null(strstr(e.msg, "external id longer than"));
	big[LEDGER_EXTERNAL_ID_MAX] = '\0'; /* the maximum fits */
	memcpy(a.external_id, big, sizeof(a.external_id));
	must_put(l, 71, "4155550171", "usr_a", &a);
	assert_int_equal(owner_of(l, big), 71);
	ledger_close(l);
}

static void test_async_put_ident_then_find(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct err e;

	err_init(&e);
	assert_int_equal(ledger_begin(l, &e), 0);
	assert_int_equal(ledger_go_async(l, &e), 0);
	must_put(l, 41, "4155550141", "usr_a", &a);
	assert_int_equal(ledger_commit_async(l, &e), 0);
	/* reads wait for the queued writes */
	assert_ident(l, 41, "ann@example.com", "Ann", "Lee", "crm-1");
	assert_int_equal(owner_of(l, "crm-1"), 41);
	ledger_close(l);
}

/* A ledger as versions before the identity fields made it: their schema,
 * binding and one user. */
static void make_old_ledger(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL;"
			 "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
			 "CREATE TABLE users(key INTEGER NOT NULL UNIQUE,"
			 " country_code TEXT NOT NULL, phone_number TEXT NOT NULL,"
			 " id TEXT NOT NULL, verif INTEGER NOT NULL,"
			 " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
			 "INSERT INTO meta VALUES('format', 'dots-import-ledger-1');"
			 "INSERT INTO meta VALUES('base_url', '" BASE "');"
			 "INSERT INTO meta VALUES('client', '" CLIENT_FP "');"
			 "INSERT INTO users VALUES(51, '1', '4155550151', 'usr_old', 2, 1, 1);",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	chmod(path, 0600);
}

static int count_columns(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = 0;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('users')",
					    -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_old_ledger_is_migrated_and_its_users_have_no_fields(void **state)
{
	struct fixture *f = *state;
	struct ledger *l;
	struct ledger_ident a = ident("new@example.com", "New", "User", "crm-5");

	make_old_ledger(f->path);
	assert_int_equal(count_columns(f->path), 7);
	l = must_open(f->path);
	assert_int_equal(ledger_users_at_open(l), 1);
	assert_ident(l, 51, "", "", "", "");
	must_put(l, 52, "4155550152", "usr_new", &a);
	ledger_close(l);
	assert_int_equal(count_columns(f->path), 11);
	l = must_open(f->path); /* opens again: the index is ours */
	assert_ident(l, 51, "", "", "", "");
	assert_ident(l, 52, "new@example.com", "New", "User", "crm-5");
	assert_int_equal(owner_of(l, "crm-5"), 52);
	ledger_close(l);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
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

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_open_read_of_no_ledger_makes_nothing(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = (struct ledger *)1;
	struct err e;

	err_init(&e);
	assert_int_equal(ledger_open_read(&l, f->path, BASE, CLIENT, &e), 0);
	assert_null(l);
	assert_int_equal(entries(f->dir), 0);
}

static void test_open_read_reads_and_leaves_everything_as_it_was(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path);
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct ledger_user u;
	struct stat before, after;
	size_t n0, n1;
	char *b0, *b1;
	uint64_t key = 0;
	long long n;
	struct err e;

	err_init(&e);
	must_put(l, 61, "4155550161", "usr_a", &a);
	ledger_close(l);
	assert_int_equal(entries(f->dir), 1);
	assert_int_equal(stat(f->path, &before), 0);
	b0 = slurp(f->path, &n0);
	l = NULL;
	/* credentials are not needed for a dry run: no client, no check of it */
	assert_int_equal(ledger_open_read(&l, f->path, BASE, NULL, &e), 1);
	assert_int_equal(ledger_users_at_open(l), 1);
	assert_ident(l, 61, "ann@example.com", "Ann", "Lee", "crm-1");
	assert_int_equal(ledger_find_external(l, "crm-1", &key, &u, NULL, &e), 1);
	assert_int_equal(key, 61);
	assert_string_equal(u.id, "usr_a");
	assert_int_equal(ledger_count(l, 1u << LEDGER_VERIF_SENT, &n, &e), 0);
	assert_int_equal(n, 1);
	/* writes are refused */
	assert_int_equal(ledger_put(l, 62, "1", "4155550162", "x", LEDGER_VERIF_NONE, &e), -1);
	assert_int_equal(ledger_set_verif(l, 61, LEDGER_VERIF_NONE, &e), -1);
	ledger_close(l);
	assert_int_equal(entries(f->dir), 1); /* no -wal or -shm left behind */
	assert_int_equal(stat(f->path, &after), 0);
	b1 = slurp(f->path, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(b0, b1, n0);
	assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
		    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	free(b0);
	free(b1);
}

static void test_open_read_refusals(void **state)
{
	struct fixture *f = *state;
	struct ledger *l = must_open(f->path), *r = NULL;
	char side[256];
	struct err e;
	int fd;

	err_init(&e);
	/* in use by a run */
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), -1);
	assert_non_null(strstr(e.msg, "in use by another dots-import process"));
	ledger_close(l);
	assert_int_equal(ledger_open_read(&r, f->path, "https://other.example/api", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "belongs to base URL"));
	assert_int_equal(ledger_open_read(&r, f->path, BASE, "another-client", &e), -1);
	assert_non_null(strstr(e.msg, "another client id"));
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), 1);
	ledger_close(r);
	/* a -wal without its ledger: refused, as a run would */
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	fd = open(side, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), -1);
	assert_non_null(strstr(e.msg, "exists without its ledger"));
	unlink(side);
	/* an empty file */
	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), -1);
	assert_non_null(strstr(e.msg, "is empty"));
}

/* After a crash the users are in the -wal: a read sees them, and leaves
 * the -wal for the next run (which checkpoints it) and no -shm. */
static void test_open_read_after_a_crash_reads_the_wal(void **state)
{
	struct fixture *f = *state;
	struct ledger_ident a = ident("ann@example.com", "Ann", "Lee", "crm-1");
	struct ledger *r = NULL;
	char wal[256], shm[256];
	struct stat sb;
	struct err e;
	pid_t pid;
	int status;

	err_init(&e);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	snprintf(shm, sizeof(shm), "%s-shm", f->path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger *l = must_open(f->path);

		must_put(l, 81, "4155550181", "usr_a", &a); /* durable on return */
		_exit(0);                                   /* no close: a crash */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), 1);
	assert_ident(r, 81, "ann@example.com", "Ann", "Lee", "crm-1");
	ledger_close(r);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	assert_int_equal(stat(shm, &sb), -1);
	r = must_open(f->path); /* the next run has them too */
	assert_ident(r, 81, "ann@example.com", "Ann", "Lee", "crm-1");
	ledger_close(r);
}

static void test_open_read_of_old_ledger_does_not_migrate(void **state)
{
	struct fixture *f = *state;
	struct ledger *r = NULL;
	struct ledger_user u;
	uint64_t key;
	struct err e;

	err_init(&e);
	make_old_ledger(f->path);
	assert_int_equal(ledger_open_read(&r, f->path, BASE, CLIENT, &e), 1);
	assert_ident(r, 51, "", "", "", "");
	assert_int_equal(ledger_find_external(r, "crm-1", &key, &u, NULL, &e), 0);
	ledger_close(r);
	assert_int_equal(entries(f->dir), 1); /* (count_columns may leave a -shm) */
	assert_int_equal(count_columns(f->path), 7);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ident_round_trip_and_reopen),
		T(test_external_id_belongs_to_one_user),
		T(test_first_stored_fields_are_kept),
		T(test_too_long_fields_are_refused),
		T(test_async_put_ident_then_find),
		T(test_old_ledger_is_migrated_and_its_users_have_no_fields),
		T(test_open_read_of_no_ledger_makes_nothing),
		T(test_open_read_reads_and_leaves_everything_as_it_was),
		T(test_open_read_refusals),
		T(test_open_read_after_a_crash_reads_the_wal),
		T(test_open_read_of_old_ledger_does_not_migrate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
