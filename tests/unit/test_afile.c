/*
 * test_afile.c - unit tests for lib/afile.c in a temporary directory: the
 * commit replaces the target whole (mode 0600), a failed write refuses the
 * commit and leaves the old file, release removes the temporary file, and
 * afile_clean_stale removes only unlocked temporary files of that output.
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

#include "afile.h"

#include "testutil.h"

#include "banned.h"

static int setup(void **state)
{
	return fixture_setup(state, "test_afile", "out.csv");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

/* The whole content of path (malloc'd), or NULL when it does not exist. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!fp)
		return NULL;
	buf = calloc(1, 4096);
	assert_non_null(buf);
	n = fread(buf, 1, 4095, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void assert_content(const char *path, const char *want)
{
	char *got = slurp(path);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
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

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_commit_replaces_the_target_whole(void **state)
{
	struct fixture *fx = *state;
	struct afile f;
	struct stat sb;
	struct err e;
	char tmp[256];

	err_init(&e);
	write_file(fx->path, "old\n");
	assert_int_equal(afile_open(&f, fx->path, &e), 0);
	snprintf(tmp, sizeof(tmp), "%s", f.tmp);
	assert_true(strncmp(tmp, fx->path, strlen(fx->path)) == 0);
	assert_true(strncmp(tmp + strlen(fx->path), ".tmp.", 5) == 0);
	fputs("new\n", f.fp);
	fflush(f.fp);
	/* before the commit: the old file as it was, the new one aside */
	assert_content(fx->path, "old\n");
	assert_content(tmp, "new\n");
	assert_int_equal(stat(tmp, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(afile_commit(&f, &e), 0);
	assert_string_equal(f.tmp, "");
	afile_release(&f);
	assert_content(fx->path, "new\n");
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(count_entries(fx->dir), 1);
	assert_string_equal(e.msg, "");
}

static void test_mode_is_0600_whatever_the_umask(void **state)
{
	struct fixture *fx = *state;
	mode_t old = umask(0);
	struct stat sb;
	struct err e;

	err_init(&e);
	assert_int_equal(afile_write(fx->path, "x", &e), 0);
	umask(old);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_content(fx->path, "x");
}

static void test_failed_write_refuses_commit(void **state)
{
	struct fixture *fx = *state;
	struct afile f;
	struct err e;

	err_init(&e);
	write_file(fx->path, "old\n");
	assert_int_equal(afile_open(&f, fx->path, &e), 0);
	fputs("half", f.fp);
	f.failed = 1; /* as a caller marks a write that failed */
	assert_int_equal(afile_commit(&f, &e), -1);
	assert_non_null(strstr(e.msg, "an earlier write failed"));
	assert_non_null(strstr(e.msg, fx->path));
	afile_release(&f);
	assert_content(fx->path, "old\n");
	assert_int_equal(count_entries(fx->dir), 1);
}

static void test_release_without_commit_removes_temp(void **state)
{
	struct fixture *fx = *state;
	struct afile f;
	struct err e;

	err_init(&e);
	assert_int_equal(afile_open(&f, fx->path, &e), 0);
	fputs("never seen", f.fp);
	assert_int_equal(count_entries(fx->dir), 1);
	afile_release(&f);
	assert_int_equal(count_entries(fx->dir), 0);
	assert_null(f.tmp);
	afile_release(&f); /* a zeroed struct: harmless */
}

static void test_open_fails_in_missing_directory(void **state)
{
	struct fixture *fx = *state;
	struct afile f;
	struct err e;
	char p[256];

	err_init(&e);
	snprintf(p, sizeof(p), "%s/no/such/out.csv", fx->dir);
	assert_int_equal(afile_open(&f, p, &e), -1);
	assert_non_null(strstr(e.msg, p));
	afile_release(&f); /* safe after a failed open */
}

/* Stale temporary files of this output go; a live afile's temporary file,
 * other outputs' and look-alike names stay. */
static void test_clean_stale_removes_only_unlocked_temps_of_that_output(void **state)
{
	struct fixture *fx = *state;
	static const char *const keep[] = {
		"out.csv",              /* the output itself */
		"out.csv.tmp.abc",      /* too short */
		"out.csv.tmp.abcdefg",  /* too long */
		"out.csv.tmp.ab-def",   /* not mkstemp's alphabet */
		"out.csv.tmpx.abcdef",  /* not ".tmp." */
		"other.csv.tmp.abcdef", /* another output's */
		"xout.csv.tmp.abcdef",  /* another output's */
	};
	char p[512], live[256];
	struct afile f;
	struct err e;
	int removed = -1;

	err_init(&e);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fx->dir, keep[i]);
		write_file(p, "keep");
	}
	snprintf(p, sizeof(p), "%s/out.csv.tmp.Ab12Zz", fx->dir);
	write_file(p, "stale 1");
	snprintf(p, sizeof(p), "%s/out.csv.tmp.qqqqqq", fx->dir);
	write_file(p, "stale 2");
	snprintf(p, sizeof(p), "%s/out.csv.tmp.dirdir", fx->dir);
	assert_int_equal(mkdir(p, 0700), 0); /* not a regular file */
	assert_int_equal(afile_open(&f, fx->path, &e), 0); /* a live run's */
	snprintf(live, sizeof(live), "%s", f.tmp);
	fputs("live", f.fp);

	assert_int_equal(afile_clean_stale(fx->path, &removed, &e), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_entries(fx->dir), 7 + 1 + 1);
	assert_int_equal(access(live, F_OK), 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fx->dir, keep[i]);
		assert_int_equal(access(p, F_OK), 0);
	}
	/* the live one commits as if nothing happened */
	assert_int_equal(afile_commit(&f, &e), 0);
	afile_release(&f);
	assert_content(fx->path, "live");
	snprintf(p, sizeof(p), "%s/out.csv.tmp.dirdir", fx->dir);
	rmdir(p);
	/* nothing left to do; a missing directory is no error */
	assert_int_equal(afile_clean_stale(fx->path, &removed, &e), 0);
	assert_int_equal(removed, 0);
	snprintf(p, sizeof(p), "%s/gone/out.csv", fx->dir);
	assert_int_equal(afile_clean_stale(p, &removed, &e), 0);
	assert_int_equal(removed, 0);
	assert_string_equal(e.msg, "");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commit_replaces_the_target_whole),
		T(test_mode_is_0600_whatever_the_umask),
		T(test_failed_write_refuses_commit),
		T(test_release_without_commit_removes_temp),
		T(test_open_fails_in_missing_directory),
		T(test_clean_stale_removes_only_unlocked_temps_of_that_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
