/*
 * test_results.c - unit tests for lib/results.c: exact CSV output (quoting
 * of commas, quotes, newlines, NULs; the CSV-injection guard), atomicity
 * (nothing under the final name before results_commit, no temporary file
 * left by results_free), mode 0600, and errors naming the path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"

#include "testutil.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
	return fixture_setup(state, "test_results", "out.csv");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

/* Number of entries in dir other than . and .. */
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

/* Whole file into a malloc'd buffer; *len set. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void assert_file(const char *path, const char *want, size_t want_len)
{
	size_t len;
	char *got = slurp(path, &len);

	if (len != want_len || memcmp(got, want, len) != 0)
		fail_msg("file holds \"%s\" (%zu bytes), want \"%s\"", got, len, want);
	free(got);
}

static const char *const header[] = {"row", "status", "error"};

static void test_header_and_rows_after_commit(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	const char *row1[] = {"1", "created", ""};
	const char *row2[] = {"2", NULL, "email: missing \"@\""};
	static const char want[] = "row,status,error\n"
				   "1,created,\n"
				   "2,,\"email: missing \"\"@\"\"\"\n";
	struct stat sb;

	err_init(&e);
	assert_int_equal(results_open(&r, f->path, header, 3, &e), 0);
	assert_int_equal(results_count(r), 0);
	assert_int_equal(results_row(r, row1, NULL, 3, &e), 0);
	assert_int_equal(results_row(r, row2, NULL, 3, &e), 0);
	assert_int_equal(results_count(r), 2);
	assert_int_equal(results_commit(r, &e), 0);
	results_free(r);

	assert_file(f->path, want, sizeof(want) - 1);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(count_entries(f->dir), 1); /* no temp file left */
}

struct cell_case {
	const char *cell;
	size_t len;
	const char *want; /* the cell as written */
	size_t want_len;
};

#define CELL(s, w) {s, sizeof(s) - 1, w, sizeof(w) - 1}

/* clang-format off */
static const struct cell_case cell_cases[] = {
	CELL("plain",             "plain"),
	CELL("",                  ""),
	CELL("a,b",               "\"a,b\""),
	CELL("say \"hi\"",        "\"say \"\"hi\"\"\""),
	CELL("\"",                "\"\"\"\""),
	CELL("two\nlines",        "\"two\nlines\""),
	CELL("cr\rhere",          "\"cr\rhere\""),
	CELL("crlf\r\n",          "\"crlf\r\n\""),
	CELL(" lead",             "\" lead\""),
	CELL("trail ",            "\"trail \""),
	CELL("in side",           "in side"),
	CELL("nul\0byte",         "\"nul\0byte\""),
	CELL("caf\xc3\xa9",       "caf\xc3\xa9"),
	/* CSV injection: a leading ' keeps a spreadsheet from running it */
	CELL("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
	CELL("=1+1",              "'=1+1"),
	CELL("@SUM(A1)",          "'@SUM(A1)"),
	CELL("-1",                "'-1"),
	CELL("+1",                "'+1"),
	CELL("+1 415-555-0100",   "'+1 415-555-0100"),
	CELL("\tx",               "'\tx"),
	CELL("\rx",               "\"'\rx\""),
	CELL("-",                 "'-"),
	CELL("=a,b",              "\"'=a,b\""),
	/* only the first character matters */
	CELL("1-1",               "1-1"),
	CELL("a=b",               "a=b"),
	CELL("'=already",         "'=already"),
	CELL(" =x",               "\" =x\""),
};
/* clang-format on */

static void test_cell_quoting_and_guard_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(cell_cases); i++) {
		const struct cell_case *c = &cell_cases[i];
		struct results *r = NULL;
		struct err e;
		const char *one[] = {"h"};
		const char *cells[] = {"x", c->cell};
		size_t lens[] = {1, c->len};
		char want[256];
		size_t n;
		char *got;

		err_init(&e);
		assert_int_equal(results_open(&r, f->path, one, 1, &e), 0);
		assert_int_equal(results_row(r, cells, lens, 2, &e), 0);
		assert_int_equal(results_commit(r, &e), 0);
		results_free(r);

		memcpy(want, "h\nx,", 4);
		memcpy(want + 4, c->want, c->want_len);
		want[4 + c->want_len] = '\n';
		got = slurp(f->path, &n);
		if (n != c->want_len + 5 || memcmp(got, want, n) != 0)
			fail_msg("case %zu: wrote \"%s\", want \"%.*s\"", i, got,
				 (int)c->want_len + 5, want);
		free(got);
	}
}

static void test_needs_guard(void **state)
{
	static const struct {
		const char *cell;
		int want;
	} cases[] = {
		{"=", 1},  {"+", 1},  {"-", 1},  {"@", 1},  {"\t", 1}, {"\r", 1},
		{"a", 0},  {"1", 0},  {" ", 0},  {"'", 0},  {"\n", 0}, {"", 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		assert_int_equal(results_needs_guard(cases[i].cell,
						     strlen(cases[i].cell)),
				 cases[i].want);
	/* only len bytes are looked at */
	assert_int_equal(results_needs_guard("=", 0), 0);
}

static void test_lens_may_be_null_and_cells_null(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	const char *cells[] = {NULL, "b", NULL};
	const size_t lens[] = {5, 1, 5};
	static const char want[] = "row,status,error\n,b,\n";

	err_init(&e);
	assert_int_equal(results_open(&r, f->path, header, 3, &e), 0);
	assert_int_equal(results_row(r, cells, lens, 3, &e), 0);
	assert_int_equal(results_commit(r, &e), 0);
	results_free(r);
	assert_file(f->path, want, sizeof(want) - 1);
}

static void test_long_cell_is_cut(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	char *big = malloc(10000);
	const char *cells[1];
	const char *one[] = {"h"};
	size_t n;
	char *got;

	assert_non_null(big);
	memset(big, 'z', 9999);
	big[9999] = '\0';
	cells[0] = big;
	err_init(&e);
	assert_int_equal(results_open(&r, f->path, one, 1, &e), 0);
	assert_int_equal(results_row(r, cells, NULL, 1, &e), 0);
	assert_int_equal(results_commit(r, &e), 0);
	results_free(r);
	got = slurp(f->path, &n);
	assert_int_equal(n, 2 + 4096 + 1); /* "h\n" + 4096 bytes + "\n" */
	assert_int_equal(got[n - 2], 'z');
	free(got);
	free(big);
}

static void test_nothing_at_final_path_before_commit(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	const char *row1[] = {"1", "created", ""};
	struct stat sb;

	err_init(&e);
	assert_int_equal(results_open(&r, f->path, header, 3, &e), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(results_row(r, row1, NULL, 3, &e), 0);
	assert_int_equal(stat(f->path, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(f->dir), 1); /* the temp file only */
	assert_int_equal(results_commit(r, &e), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	results_free(r);
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_free_without_commit_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	const char *row1[] = {"1", "created", ""};

	err_init(&e);
	assert_int_equal(results_open(&r, f->path, header, 3, &e), 0);
	assert_int_equal(results_row(r, row1, NULL, 3, &e), 0);
	results_free(r);
	assert_int_equal(count_entries(f->dir), 0);
	results_free(NULL);
}

static void test_commit_replaces_existing_file(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	FILE *fp = fopen(f->path, "w");
	static const char want[] = "row,status,error\n";

	assert_non_null(fp);
	fputs("old content that must go\n", fp);
	fclose(fp);
	err_init(&e);
	assert_int_equal(results_open(&r, f->path, header, 3, &e), 0);
	/* the old file is still intact until commit */
	assert_file(f->path, "old content that must go\n", 25);
	assert_int_equal(results_commit(r, &e), 0);
	results_free(r);
	assert_file(f->path, want, sizeof(want) - 1);
}

static void test_unwritable_directory_names_path(void **state)
{
	struct fixture *f = *state;
	struct results *r = NULL;
	struct err e;
	char path[256], want[320];
	FILE *fp;

	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/missing/out.csv", f->dir);
	err_init(&e);
	assert_int_equal(results_open(&r, path, header, 3, &e), -1);
	assert_null(r);
	snprintf(want, sizeof(want), "cannot create '%s': No such file or directory",
		 path);
	assert_string_equal(e.msg, want);

	/* a "directory" that is a file */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/file/out.csv", f->dir);
	assert_int_equal(results_open(&r, path, header, 3, &e), -1);
	snprintf(want, sizeof(want), "cannot create '%s': Not a directory", path);
	assert_string_equal(e.msg, want);

	/* a directory without write permission (root ignores the mode) */
	snprintf(path, sizeof(path), "%s/ro", f->dir);
	assert_int_equal(mkdir(path, 0500), 0);
	snprintf(path, sizeof(path), "%s/ro/out.csv", f->dir);
	if (geteuid() != 0) {
		assert_int_equal(results_open(&r, path, header, 3, &e), -1);
		snprintf(want, sizeof(want), "cannot create '%s': Permission denied",
			 path);
		assert_string_equal(e.msg, want);
	}
	/* /proc takes no new files, even from root */
	assert_int_equal(results_open(&r, "/proc/dots-results.csv", header, 3, &e), -1);
	assert_memory_equal(e.msg, "cannot create '/proc/dots-results.csv': ", 40);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_header_and_rows_after_commit),
		T(test_cell_quoting_and_guard_table),
		cmocka_unit_test(test_needs_guard),
		T(test_lens_may_be_null_and_cells_null),
		T(test_long_cell_is_cut),
		T(test_nothing_at_final_path_before_commit),
		T(test_free_without_commit_leaves_nothing),
		T(test_commit_replaces_existing_file),
		T(test_unwritable_directory_names_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
