/*
 * test_progress.c - unit tests for lib/progress.c: the progress line fits
 * every terminal width without wrapping, keeps the rows and the state
 * first, says paused/stopping, and never shows 100 % for rows not done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "progress.h"

#include "banned.h"

static struct import_stats running(void)
{
	struct import_stats st;

	memset(&st, 0, sizeof(st));
	st.total = 10000;
	st.done = 2500;
	st.by_status[ROW_CREATED] = 2500;
	st.elapsed_s = 25;
	st.in_flight = 16;
	st.retries = 12;
	st.rate_limited = 3;
	st.rate_now = 118;
	return st;
}

static void test_fits_every_width(void **state)
{
	static const size_t widths[] = {1, 2, 10, 20, 30, 40, 59, 60, 79, 80, 120, 200};
	struct import_stats st = running();
	char line[512];

	(void)state;
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		progress_line(&st, widths[i], line, sizeof(line));
		if (strlen(line) > (widths[i] > 1 ? widths[i] - 1 : 1))
			fail_msg("width %zu: %zu columns: %s", widths[i], strlen(line), line);
	}
	progress_line(&st, 200, line, sizeof(line));
	assert_string_equal(line, "2500/10000 rows  25.0%  100 rows/s  ETA 1:15  16 in flight  "
				  "12 retries  3 x 429  pace 118/s");
	/* 60 columns: the rows, rate, ETA and the state; the rest left out */
	progress_line(&st, 60, line, sizeof(line));
	assert_string_equal(line, "2500/10000 rows  25.0%  100 rows/s  ETA 1:15  pace 118/s");
	progress_line(&st, 30, line, sizeof(line));
	assert_string_equal(line, "2500/10000 rows  25.0%");
	progress_line(&st, 10, line, sizeof(line));
	assert_string_equal(line, "2500/1000"); /* the head, cut */
}

static void test_paused_and_stopping(void **state)
{
	struct import_stats st = running();
	char line[512];

	(void)state;
	st.paused = true;
	st.pause_left_ms = 2049;
	progress_line(&st, 60, line, sizeof(line));
	assert_non_null(strstr(line, "paused 2.0s (429)"));
	assert_null(strstr(line, "pace"));
	st.stopping = true;
	progress_line(&st, 60, line, sizeof(line));
	assert_non_null(strstr(line, "stopping"));
	assert_null(strstr(line, "paused"));
	assert_non_null(strstr(line, "ETA --:--")); /* no estimate for a run that stops */
}

static void test_never_100_for_rows_not_done(void **state)
{
	struct import_stats st = running();
	char line[512];

	(void)state;
	/* an interrupted run: every row written, 7500 of them pending */
	st.done = 10000;
	st.by_status[ROW_PENDING] = 7500;
	st.stopping = true;
	progress_line(&st, 120, line, sizeof(line));
	assert_true(strncmp(line, "2500/10000 rows  25.0%", 22) == 0);
	/* 9999 of 10000 rounds to 100.0: it says 99.9 until the last row */
	st = running();
	st.done = 9999;
	progress_line(&st, 120, line, sizeof(line));
	assert_true(strncmp(line, "9999/10000 rows  99.9%", 22) == 0);
	st.done = 10000;
	progress_line(&st, 120, line, sizeof(line));
	assert_true(strncmp(line, "10000/10000 rows 100.0%", 23) == 0);
	/* before the total is known, and a small buffer */
	memset(&st, 0, sizeof(st));
	progress_line(&st, 80, line, 8);
	assert_int_equal(strlen(line), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits_every_width),
		cmocka_unit_test(test_paused_and_stopping),
		cmocka_unit_test(test_never_100_for_rows_not_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
