/*
 * test_restore.c - unit tests for lib/restore.c on real files in a
 * temporary directory: states merged across rows and files, columns in any
 * order, guarded and quoted cells, refusing to overwrite, missing columns
 * and bad files leaving no ledger, and the rebuilt ledger opened as the
 * importer opens it (same keys, same binding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "restore.h"
#include "user.h"

#include "testutil.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define BASE "https://api.dots.example"
#define CLIENT "client-Zq8rT3secret-Id"
#define HEADER                                                                    \
	"row,line,status,user_id,verification,http_status,attempts,error,email,"  \
	"country_code,phone_number\n"

static int setup(void **state)
{
	return fixture_setup(state, "test_restore", "state.db");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

/* Writes dir/name and returns its path (static storage, one per slot). */
static const char *write_results(struct fixture *f, int slot, const char *name,
				 const char *text)
{
	static char paths[4][192];
	FILE *fp;

	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", f->dir, name);
	fp = fopen(paths[slot], "wb");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	return paths[slot];
}

/* Entries of dir, sorted names joined by spaces. */
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

static int run_restore(struct fixture *f, const char *const *files, size_t n,
		       struct restore_stats *st, struct err *e)
{
	struct restore_opts o = {f->path, BASE, CLIENT, files, n};

	err_init(e);
	return restore_ledger(&o, st, e);
}

/* The key as the importer makes it: user_normalise on a whole row. */
static uint64_t import_key(const char *cc, const char *pn)
{
	struct user_input in = {{0}, {0}};
	struct user u;
	struct err e;

	in.field[USER_EMAIL] = "ada@example.com";
	in.field[USER_FIRST_NAME] = "Ada";
	in.field[USER_LAST_NAME] = "Lovelace";
	in.field[USER_COUNTRY_CODE] = cc;
	in.field[USER_PHONE_NUMBER] = pn;
	for (int i = 0; i < USER_FIELD_COUNT; i++)
		in.len[i] = in.field[i] ? strlen(in.field[i]) : 0;
	err_init(&e);
	if (user_normalise(&u, &in, NULL, &e) < 0)
		fail_msg("user_normalise: %s", e.msg);
	return user_phone_key(&u);
}

static void assert_found(struct ledger *l, const char *cc, const char *pn,
			 const char *id, enum ledger_verif v)
{
	struct ledger_user u;
	struct err e;

	err_init(&e);
	if (ledger_find(l, import_key(cc, pn), &u, &e) != 1)
		fail_msg("+%s %s not in the ledger (%s)", cc, pn, e.msg);
	assert_string_equal(u.id, id);
	assert_int_equal(u.verif, v);
	assert_string_equal(u.country_code, cc);
	assert_string_equal(u.phone_number, pn);
}

static void assert_absent(struct ledger *l, const char *cc, const char *pn)
{
	struct ledger_user u;
	struct err e;

	err_init(&e);
	assert_int_equal(ledger_find(l, import_key(cc, pn), &u, &e), 0);
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

struct ids {
	char s[512];
	size_t o;
};

static int collect_ids(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct ids *c = ctx;

	(void)key;
	c->o += (size_t)snprintf(c->s + c->o, sizeof(c->s) - c->o, "%s%s", c->o ? " " : "",
				 u->id);
	return 0;
}

static void test_states_merge_across_rows_and_files(void **state)
{
	struct fixture *f = *state;
	const char *files[2];
	struct restore_stats st;
	struct ledger *l;
	struct ids ids = {"", 0};
	struct err e;

	files[0] = write_results(
	    f, 0, "run1.csv",
	    HEADER
	    "1,2,created,usr_a,sent,201,1,,a@x.io,1,4155550100\n"
	    "2,3,created,usr_b,,201,1,,b@x.io,1,4155550101\n"
	    "3,4,exists,usr_c,in_doubt,,0,,c@x.io,44,7946095800\n"
	    "4,5,invalid,,,,0,email: missing \"@\",d,1,4155550102\n"
	    "5,6,created,usr_e,failed,201,1,,e@x.io,1,4155550103\n"
	    "6,7,created,usr_f,verified,201,1,,f@x.io,49,15123456789\n"
	    "7,8,failed,,,500,4,HTTP 500,g@x.io,1,4155550104\n"
	    "8,9,duplicate,,,,0,duplicate of row 1,a@x.io,1,4155550100\n"
	    "9,10,created,,sent,201,1,,h@x.io,1,4155550105\n");
	files[1] = write_results(
	    f, 1, "run2.csv",
	    HEADER
	    "1,2,exists,usr_a,,,0,,a@x.io,1,4155550100\n"          /* no downgrade */
	    "2,3,created,usr_b2,sent,201,1,,b@x.io,1,4155550101\n" /* conflict, upgrade */
	    "3,4,created,usr_c,failed,201,1,,c@x.io,44,7946095800\n"
	    "4,5,created,usr_e,off,201,1,,e@x.io,1,4155550103\n"
	    "5,6,exists,usr_f,sent,,0,,f@x.io,49,15123456789\n"
	    "6,7,created,usr_g,off,201,1,,g@x.io,1,4155550104\n"
	    "7,8,created,usr_h,verified,201,1,,h@x.io,1,4155550105\n");
	assert_int_equal(run_restore(f, files, 2, &st, &e), 0);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.rows, 16);
	assert_int_equal(st.skipped, 4);
	assert_int_equal(st.conflicts, 1);
	assert_int_equal(st.users, 7);
	assert_int_equal(st.by_state[LEDGER_VERIF_SENT], 2);
	assert_int_equal(st.by_state[LEDGER_VERIF_IN_DOUBT], 1);
	assert_int_equal(st.by_state[LEDGER_VERIF_FAILED], 1);
	assert_int_equal(st.by_state[LEDGER_VERIF_VERIFIED], 2);
	assert_int_equal(st.by_state[LEDGER_VERIF_OFF], 1);
	assert_int_equal(st.by_state[LEDGER_VERIF_NONE], 0);
	assert_int_equal(st.by_state[LEDGER_VERIF_INTENT], 0);

	/* opened as the importer opens it, found by the importer's key */
	l = must_open(f->path);
	assert_int_equal(ledger_users_at_open(l), 7);
	assert_found(l, "1", "4155550100", "usr_a", LEDGER_VERIF_SENT);
	assert_found(l, "1", "4155550101", "usr_b", LEDGER_VERIF_SENT);
	assert_found(l, "44", "7946095800", "usr_c", LEDGER_VERIF_IN_DOUBT);
	assert_found(l, "1", "4155550103", "usr_e", LEDGER_VERIF_FAILED);
	assert_found(l, "49", "15123456789", "usr_f", LEDGER_VERIF_VERIFIED);
	assert_found(l, "1", "4155550104", "usr_g", LEDGER_VERIF_OFF);
	assert_found(l, "1", "4155550105", "usr_h", LEDGER_VERIF_VERIFIED);
	assert_absent(l, "1", "4155550102");
	/* in the order of first occurrence */
	err_init(&e);
	assert_int_equal(ledger_each(l, 0x7f, collect_ids, &ids, &e), 0);
	assert_string_equal(ids.s, "usr_a usr_b usr_c usr_e usr_f usr_g usr_h");
	ledger_close(l);
}

static void test_columns_any_order_guarded_and_quoted_cells(void **state)
{
	struct fixture *f = *state;
	const char *files[1];
	struct restore_stats st;
	struct ledger *l;
	struct err e;

	files[0] = write_results(
	    f, 0, "r.csv",
	    "\xEF\xBB\xBF" /* a BOM */
	    "Phone_Number , note,VERIFICATION,country_code,user_id,status\r\n"
	    "4155550100,\"a, \"\"quoted\"\" note\nover two lines\",sent,1,'-usr1,created\r\n"
	    "4155550101,x,'@x,1,'usr2,created\r\n" /* "'@x": not ours, unknown */
	    "\"4155550102\",,\"'=\",1,\"'=usr3\",exists\r\n");
	/* "'@x" is a guarded "@x": an unknown verification, an error */
	assert_int_equal(run_restore(f, files, 1, &st, &e), -1);
	assert_non_null(strstr(e.msg, "line 4: unknown verification \"@x\""));

	files[0] = write_results(
	    f, 0, "r.csv",
	    "\xEF\xBB\xBF"
	    "Phone_Number , note,VERIFICATION,country_code,user_id,status\r\n"
	    "4155550100,\"a, \"\"quoted\"\" note\nover two lines\",sent,1,'-usr1,created\r\n"
	    "4155550101,x,,1,'usr2,created\r\n"
	    "\"4155550102\",,in_doubt,1,\"'=usr3\",exists\r\n"
	    "4155550103,,off,1,''+usr4,created\r\n");
	assert_int_equal(run_restore(f, files, 1, &st, &e), 0);
	assert_int_equal(st.users, 4);
	l = must_open(f->path);
	assert_found(l, "1", "4155550100", "-usr1", LEDGER_VERIF_SENT);
	assert_found(l, "1", "4155550101", "'usr2", LEDGER_VERIF_NONE); /* not a guard */
	assert_found(l, "1", "4155550102", "=usr3", LEDGER_VERIF_IN_DOUBT);
	assert_found(l, "1", "4155550103", "''+usr4", LEDGER_VERIF_OFF); /* "'" follows */
	ledger_close(l);
}

static void test_refuses_to_overwrite(void **state)
{
	struct fixture *f = *state;
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	const char *files[1];
	struct restore_stats st;
	struct err e;
	char p[192], want[256], ls[256], expect[256];

	files[0] = write_results(f, 0, "r.csv",
				 HEADER "1,2,created,usr_a,sent,201,1,,a@x.io,1,4155550100\n");
	for (size_t i = 0; i < ARRAY_LEN(sfx); i++) {
		FILE *fp;

		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		fp = fopen(p, "wb");
		assert_non_null(fp);
		fputs("precious", fp);
		fclose(fp);
		assert_int_equal(run_restore(f, files, 1, &st, &e), -1);
		snprintf(want, sizeof(want), "refusing to overwrite '%s'", p);
		if (strncmp(e.msg, want, strlen(want)) != 0)
			fail_msg("\"%s\"", e.msg);
		list_dir(f->dir, ls, sizeof(ls));
		snprintf(expect, sizeof(expect), "r.csv state.db%s", sfx[i]);
		assert_string_equal(ls, expect);
		fp = fopen(p, "rb");
		assert_non_null(fp);
		assert_non_null(fgets(want, sizeof(want), fp));
		fclose(fp);
		assert_string_equal(want, "precious");
		assert_int_equal(unlink(p), 0);
	}
	/* and a second restore onto a restored ledger */
	assert_int_equal(run_restore(f, files, 1, &st, &e), 0);
	assert_int_equal(run_restore(f, files, 1, &st, &e), -1);
	snprintf(want, sizeof(want), "refusing to overwrite '%s'", f->path);
	assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
}

static void test_missing_column_leaves_no_ledger(void **state)
{
	struct fixture *f = *state;
	static const char *const cols[] = {"status", "user_id", "verification",
					   "country_code", "phone_number"};
	const char *files[2];
	struct restore_stats st;
	struct err e;
	char want[256], ls[256], header[256];

	files[0] = write_results(f, 0, "good.csv",
				 HEADER "1,2,created,usr_a,sent,201,1,,a@x.io,1,4155550100\n");
	for (size_t i = 0; i < ARRAY_LEN(cols); i++) {
		size_t o = 0;

		for (size_t k = 0; k < ARRAY_LEN(cols); k++)
			if (k != i)
				o += (size_t)snprintf(header + o, sizeof(header) - o,
						      "%s%s", o ? "," : "", cols[k]);
		snprintf(header + o, sizeof(header) - o, "\n");
		files[1] = write_results(f, 1, "bad.csv", header);
		assert_int_equal(run_restore(f, files, 2, &st, &e), -1);
		snprintf(want, sizeof(want),
			 "'%s': missing column \"%s\" (not a dots-import results file?)",
			 files[1], cols[i]);
		assert_string_equal(e.msg, want);
		list_dir(f->dir, ls, sizeof(ls));
		assert_string_equal(ls, "bad.csv good.csv");
	}
}

static void test_bad_files_leave_no_ledger(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text; /* NULL: the file does not exist */
		const char *msg;  /* expected in the error */
	} cases[] = {
		{NULL, "cannot open '"},
		{"", "is empty: a header row is required"},
		{HEADER "1,2,created,usr_x,sent,201\n", "line 2: 6 fields, the header has 11"},
		{HEADER "1,2,created,usr_x,sent,201,1,,a@x.io,1,4155550100,extra\n",
		 "line 2: 12 fields, the header has 11"},
		{HEADER "1,2,created,usr_x,maybe,201,1,,a@x.io,1,4155550100\n",
		 "line 2: unknown verification \"maybe\""},
		{HEADER "1,2,created,usr_x,sent,201,1,,a@x.io,1,41555501x0\n",
		 "line 2: phone_number: "},
		{HEADER "1,2,created,usr_x,sent,201,1,,a@x.io,999,4155550100\n",
		 "line 2: country_code: "},
		{HEADER
		 "1,2,created,usr_0123456789012345678901234567890123456789012345678901234567890,"
		 "sent,201,1,,a@x.io,1,4155550100\n",
		 "line 2: user_id longer than 64 bytes"},
		{HEADER "1,2,created,\"usr_a\nb,sent,201,1,,a@x.io,1,4155550100\n",
		 "unterminated quoted field"},
	};
	const char *files[2];
	struct restore_stats st;
	struct err e;
	char ls[256];

	files[0] = write_results(
	    f, 0, "good.csv",
	    HEADER "1,2,created,usr_a,sent,201,1,,a@x.io,1,4155550100\n"
		   "2,3,created,usr_b,sent,201,1,,b@x.io,1,4155550101\n");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char bad[192];

		snprintf(bad, sizeof(bad), "%s/bad.csv", f->dir);
		unlink(bad);
		files[1] = cases[i].text ? write_results(f, 1, "bad.csv", cases[i].text) : bad;
		assert_int_equal(run_restore(f, files, 2, &st, &e), -1);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: \"%s\", want \"%s\"", i, e.msg, cases[i].msg);
		if (cases[i].text && !strstr(e.msg, files[1]))
			fail_msg("case %zu: \"%s\" does not name the file", i, e.msg);
		list_dir(f->dir, ls, sizeof(ls));
		assert_string_equal(ls, cases[i].text ? "bad.csv good.csv" : "good.csv");
	}
	/* no files at all */
	assert_int_equal(run_restore(f, files, 0, &st, &e), -1);
	assert_string_equal(e.msg, "restore-ledger: no results file given");
	list_dir(f->dir, ls, sizeof(ls));
	assert_string_equal(ls, "bad.csv good.csv");
}

static void test_restored_ledger_is_bound_to_base_url_and_client(void **state)
{
	struct fixture *f = *state;
	const char *files[1];
	struct restore_stats st;
	struct ledger *l = NULL;
	struct err e;
	char want[512];

	files[0] = write_results(f, 0, "r.csv",
				 HEADER "1,2,created,usr_a,sent,201,1,,a@x.io,44,7946095800\n");
	assert_int_equal(run_restore(f, files, 1, &st, &e), 0);
	err_init(&e);
	assert_int_equal(ledger_open(&l, f->path, BASE, CLIENT "x", &e), -1);
	snprintf(want, sizeof(want),
		 "ledger '%s' was made with another client id: use another --state file",
		 f->path);
	assert_string_equal(e.msg, want);
	assert_int_equal(ledger_open(&l, f->path, "https://sandbox.dots.example", CLIENT,
				     &e),
			 -1);
	l = must_open(f->path);
	assert_found(l, "44", "7946095800", "usr_a", LEDGER_VERIF_SENT);
	ledger_close(l);
}

/* More rows than one transaction holds. */
static void test_many_rows(void **state)
{
	struct fixture *f = *state;
	const char *files[1];
	struct restore_stats st;
	struct ledger *l;
	struct err e;
	char path[192];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/big.csv", f->dir);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs(HEADER, fp);
	for (int i = 0; i < 25000; i++)
		fprintf(fp, "%d,%d,created,usr_%d,%s,201,1,,u@x.io,1,415%07d\n", i + 1, i + 2,
			i, i % 2 ? "sent" : "", i);
	fclose(fp);
	files[0] = path;
	assert_int_equal(run_restore(f, files, 1, &st, &e), 0);
	assert_int_equal(st.users, 25000);
	assert_int_equal(st.by_state[LEDGER_VERIF_SENT], 12500);
	assert_int_equal(st.by_state[LEDGER_VERIF_NONE], 12500);
	l = must_open(f->path);
	assert_found(l, "1", "4150024999", "usr_24999", LEDGER_VERIF_SENT);
	ledger_close(l);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_states_merge_across_rows_and_files),
		T(test_columns_any_order_guarded_and_quoted_cells),
		T(test_refuses_to_overwrite),
		T(test_missing_column_leaves_no_ledger),
		T(test_bad_files_leave_no_ledger),
		T(test_restored_ledger_is_bound_to_base_url_and_client),
		T(test_many_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
