/*
 * test_summary.c - unit tests for lib/summary.c: the summary JSON's keys
 * and numbers (codes included), the metrics file's lines and mode, the
 * last success time carried over a failed run, and JSON log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "summary.h"

#include "testutil.h"

#include "banned.h"

#define STARTED ((time_t)1796083200) /* 2026-12-01T00:00:00Z */

static int setup(void **state)
{
	return fixture_setup(state, "test_summary", "summary.json");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static struct import_stats stats(void)
{
	struct import_stats st;

	memset(&st, 0, sizeof(st));
	st.rows = 10;
	st.by_status[ROW_CREATED] = 4;
	st.by_status[ROW_EXISTS] = 2;
	st.by_status[ROW_INVALID] = 1;
	st.by_status[ROW_FAILED] = 3;
	st.codes_sent = 5;
	st.codes_failed = 1;
	st.codes_in_doubt = 3;
	st.codes_in_doubt_earlier = 2;
	st.codes_settled = 6;
	st.codes_verified = 7;
	st.requests = 20;
	st.retries = 4;
	st.rate_limited = 2;
	st.elapsed_s = 4.0;
	return st;
}

static struct summary_info info(const struct import_stats *st, int exit_code)
{
	struct summary_info si = {
		.command = "import",
		.input_path = "users.csv",
		.results_path = "results.csv",
		.exit_code = exit_code,
		.started = STARTED,
		.ended = STARTED + 4,
		.dry_run = false,
		.st = st,
	};

	return si;
}

static json_int_t get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("%s: not an integer", key);
	return json_integer_value(v);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	size_t n;

	assert_non_null(fp);
	buf = calloc(1, 16384);
	assert_non_null(buf);
	n = fread(buf, 1, 16383, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void assert_line(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_summary_json_keys_and_numbers(void **state)
{
	struct import_stats st = stats();
	struct summary_info si = info(&st, 1);
	char *text = summary_json(&si);
	json_t *root, *codes, *status;
	json_error_t je;

	(void)state;
	assert_non_null(text);
	root = json_loads(text, 0, &je);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "command")), "import");
	assert_string_equal(json_string_value(json_object_get(root, "input")), "users.csv");
	assert_string_equal(json_string_value(json_object_get(root, "results")), "results.csv");
	assert_true(json_is_false(json_object_get(root, "dry_run")));
	assert_int_equal(get_int(root, "exit_code"), 1);
	assert_string_equal(json_string_value(json_object_get(root, "started_at")),
			    "2026-12-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(root, "ended_at")),
			    "2026-12-01T00:00:04Z");
	assert_true(json_real_value(json_object_get(root, "elapsed_s")) == 4.0);
	assert_int_equal(get_int(root, "rows"), 10);
	status = json_object_get(root, "status");
	assert_int_equal(json_object_size(status), ROW_STATUS_COUNT);
	assert_int_equal(get_int(status, "created"), 4);
	assert_int_equal(get_int(status, "exists"), 2);
	assert_int_equal(get_int(status, "invalid"), 1);
	assert_int_equal(get_int(status, "failed"), 3);
	assert_int_equal(get_int(status, "valid"), 0);
	codes = json_object_get(root, "codes");
	assert_int_equal(json_object_size(codes), 6);
	assert_int_equal(get_int(codes, "sent"), 5);
	assert_int_equal(get_int(codes, "failed"), 1);
	assert_int_equal(get_int(codes, "in_doubt"), 3);
	assert_int_equal(get_int(codes, "in_doubt_from_earlier_runs"), 2);
	assert_int_equal(get_int(codes, "settled"), 6);
	assert_int_equal(get_int(codes, "already_verified"), 7);
	assert_int_equal(get_int(root, "requests"), 20);
	assert_int_equal(get_int(root, "retries"), 4);
	assert_int_equal(get_int(root, "rate_limited"), 2);
	assert_true(json_real_value(json_object_get(root, "requests_per_s")) == 5.0);
	assert_true(json_is_object(json_object_get(root, "latency_ms")));
	assert_true(json_is_null(json_object_get(root, "stopped_early")));
	assert_true(json_is_null(json_object_get(root, "signal")));
	json_decref(root);
	free(text);
}

/* A dry run that read the ledger previews tonight; any other run has none. */
static void test_summary_json_preview_of_a_dry_run(void **state)
{
	struct import_stats st;
	struct summary_info si;
	json_t *root, *preview;
	json_error_t je;
	char *text;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.rows = 9;
	st.by_status[ROW_VALID] = 4;
	st.by_status[ROW_EXISTS] = 2;
	st.by_status[ROW_CHANGED] = 2;
	st.by_status[ROW_CONFLICT] = 1;
	si = info(&st, 1);
	si.dry_run = true;
	for (int previewed = 0; previewed < 2; previewed++) {
		st.previewed = previewed;
		text = summary_json(&si);
		root = json_loads(text, 0, &je);
		assert_non_null(root);
		assert_int_equal(get_int(json_object_get(root, "status"), "changed"), 2);
		assert_int_equal(get_int(json_object_get(root, "status"), "conflict"), 1);
		preview = json_object_get(root, "preview");
		if (!previewed) {
			assert_true(json_is_null(preview));
		} else {
			assert_int_equal(json_object_size(preview), 4);
			assert_int_equal(get_int(preview, "create"), 4);
			assert_int_equal(get_int(preview, "exists"), 2);
			assert_int_equal(get_int(preview, "changed"), 2);
			assert_int_equal(get_int(preview, "conflict"), 1);
		}
		json_decref(root);
		free(text);
	}
}

static void test_summary_json_of_a_stopped_send_verification(void **state)
{
	struct import_stats st = stats();
	struct summary_info si = info(&st, 130);
	json_t *root;
	char *text;

	(void)state;
	si.command = "send-verification";
	si.input_path = NULL;
	si.dry_run = true;
	st.signal = 2;
	st.elapsed_s = 0;
	snprintf(st.abort_reason, sizeof(st.abort_reason), "%s", "interrupted");
	text = summary_json(&si);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	assert_true(json_is_null(json_object_get(root, "input")));
	assert_true(json_is_true(json_object_get(root, "dry_run")));
	assert_int_equal(get_int(root, "signal"), 2);
	assert_string_equal(json_string_value(json_object_get(root, "stopped_early")),
			    "interrupted");
	assert_true(json_real_value(json_object_get(root, "requests_per_s")) == 0.0);
	json_decref(root);
	free(text);
}

static void test_summary_file_is_json_with_newline_mode_0600(void **state)
{
	struct fixture *fx = *state;
	struct import_stats st = stats();
	struct summary_info si = info(&st, 0);
	struct stat sb;
	struct err e;
	char *text;
	json_t *root;

	err_init(&e);
	assert_int_equal(summary_write_json(fx->path, &si, &e), 0);
	text = slurp(fx->path);
	assert_true(strlen(text) > 2 && text[strlen(text) - 1] == '\n');
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	assert_int_equal(get_int(json_object_get(root, "codes"), "settled"), 6);
	json_decref(root);
	free(text);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_metrics_file_lines(void **state)
{
	struct fixture *fx = *state;
	struct import_stats st = stats();
	struct summary_info si = info(&st, 1);
	char path[192], *text;
	struct stat sb;
	struct err e;

	err_init(&e);
	snprintf(path, sizeof(path), "%s/dots.prom", fx->dir);
	assert_int_equal(summary_write_metrics(path, &si, &e), 0);
	text = slurp(path);
	assert_true(strncmp(text, "# HELP dots_import_rows ", 24) == 0);
	assert_line(text, "# TYPE dots_import_rows gauge");
	assert_line(text, "dots_import_rows{command=\"import\",status=\"created\"} 4");
	assert_line(text, "dots_import_rows{command=\"import\",status=\"failed\"} 3");
	assert_line(text, "dots_import_rows{command=\"import\",status=\"pending\"} 0");
	assert_line(text, "dots_import_codes{command=\"import\",result=\"sent\"} 5");
	assert_line(text, "dots_import_codes{command=\"import\",result=\"failed\"} 1");
	assert_line(text, "dots_import_codes{command=\"import\",result=\"in_doubt\"} 3");
	assert_line(text, "dots_import_codes{command=\"import\",result=\"settled\"} 6");
	assert_line(text, "dots_import_codes{command=\"import\",result=\"already_verified\"} 7");
	assert_line(text, "dots_import_codes_in_doubt_from_earlier_runs{command=\"import\"} 2");
	assert_line(text, "dots_import_requests{command=\"import\"} 20");
	assert_line(text, "dots_import_retries{command=\"import\"} 4");
	assert_line(text, "dots_import_rate_limited{command=\"import\"} 2");
	assert_line(text, "dots_import_duration_seconds{command=\"import\"} 4.000");
	assert_line(text, "dots_import_exit_code{command=\"import\"} 1");
	assert_line(text, "dots_import_last_run_timestamp_seconds 1796083204");
	assert_line(text, "dots_import_last_success_timestamp_seconds 1796083204");
	assert_true(text[strlen(text) - 1] == '\n');
	free(text);
	/* world-readable: node_exporter runs as another user (no personal data) */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
}

/* A run that did not complete keeps the last success time of the file it
 * replaces (none: 0). */
static void test_metrics_carry_the_last_success_over_a_failed_run(void **state)
{
	struct fixture *fx = *state;
	struct import_stats st = stats();
	struct summary_info ok = info(&st, 0), bad = info(&st, 3);
	char path[192], *text;
	struct err e;

	err_init(&e);
	snprintf(path, sizeof(path), "%s/dots.prom", fx->dir);
	bad.ended = STARTED + 1000;
	assert_int_equal(summary_write_metrics(path, &bad, &e), 0);
	text = slurp(path);
	assert_line(text, "dots_import_last_success_timestamp_seconds 0");
	free(text);
	assert_int_equal(summary_write_metrics(path, &ok, &e), 0);
	assert_int_equal(summary_write_metrics(path, &bad, &e), 0);
	text = slurp(path);
	assert_line(text, "dots_import_exit_code{command=\"import\"} 3");
	assert_line(text, "dots_import_last_run_timestamp_seconds 1796084200");
	assert_line(text, "dots_import_last_success_timestamp_seconds 1796083204");
	free(text);
}

static void test_event_json_line(void **state)
{
	struct import_event ev = {.kind = IMPORT_EV_ROW, .row = 3, .line = 4, .status = "failed",
				  .msg = "bad \xff byte"};
	char *line;
	json_t *o;

	(void)state;
	line = summary_event_json(&ev, STARTED);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	o = json_loads(line, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "time")), "2026-12-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(o, "event")), "row");
	assert_int_equal(get_int(o, "row"), 3);
	assert_int_equal(get_int(o, "line"), 4);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "bad ? byte");
	json_decref(o);
	free(line);
}

static void add(struct reasons *rs, const char *msg, size_t row)
{
	struct reason_row r = {.row = row, .line = row + 1};

	reasons_add(rs, msg, &r);
}

static void test_summary_json_top_errors_by_count(void **state)
{
	static struct reasons rs; /* (20 reasons with their examples: 20 KiB) */
	struct import_stats st = stats();
	struct summary_info si = info(&st, 1);
	char *text;
	json_t *root, *top, *e;
	char err[64];

	(void)state;
	reasons_init(&rs);
	/* 3 big reasons, then 27 of one row each: 20 kept, by count */
	for (size_t row = 1; row <= 50; row++)
		add(&rs, "email: missing \"@\"", row + 100);
	for (size_t row = 1; row <= 7; row++)
		add(&rs, "HTTP 422: taken", row + 10);
	add(&rs, "duplicate of row 2 (same country_code and phone_number)", 3);
	add(&rs, "duplicate of row 4 (same country_code and phone_number)", 9);
	for (int i = 0; i < 27; i++) {
		snprintf(err, sizeof(err), "HTTP 400: kind %c", 'a' + i);
		add(&rs, err, (size_t)(200 + i));
	}
	reasons_sort(&rs);
	si.reasons = &rs;
	text = summary_json(&si);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	top = json_object_get(root, "top_errors");
	assert_int_equal(json_array_size(top), 20);
	e = json_array_get(top, 0);
	assert_string_equal(json_string_value(json_object_get(e, "reason")), "email: missing \"@\"");
	assert_int_equal(get_int(e, "count"), 50);
	assert_int_equal(get_int(e, "first_row"), 101);
	e = json_array_get(top, 1);
	assert_int_equal(get_int(e, "count"), 7);
	assert_int_equal(get_int(e, "first_row"), 11);
	e = json_array_get(top, 2);
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
			    "duplicate of row N (same country_code and phone_number)");
	assert_int_equal(get_int(e, "count"), 2);
	assert_int_equal(get_int(e, "first_row"), 3);
	e = json_array_get(top, 3); /* ties: the first seen first */
	assert_int_equal(get_int(e, "first_row"), 200);
	assert_int_equal(get_int(root, "rows_with_errors"), 86);
	json_decref(root);
	free(text);
	/* without a table: an empty list */
	si.reasons = NULL;
	text = summary_json(&si);
	root = json_loads(text, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(root, "top_errors")), 0);
	assert_int_equal(get_int(root, "rows_with_errors"), 0);
	json_decref(root);
	free(text);
}

static void test_event_json_request_and_reason(void **state)
{
	struct import_event req = {.kind = IMPORT_EV_REQUEST, .row = 5, .line = 6,
				   .msg = "row 5: create attempt 2: server_error (HTTP 500, 12 ms)",
				   .outcome = "server_error", .http_status = 500, .attempt = 2,
				   .elapsed_ms = 12};
	struct import_event rsn = {.kind = IMPORT_EV_REASON, .row = 7, .msg = "x",
				   .reason = "email: missing \"@\"", .count = 9000};
	char *line;
	json_t *o;

	(void)state;
	line = summary_event_json(&req, STARTED);
	o = json_loads(line, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "request");
	assert_string_equal(json_string_value(json_object_get(o, "outcome")), "server_error");
	assert_int_equal(get_int(o, "http_status"), 500);
	assert_int_equal(get_int(o, "attempt"), 2);
	assert_int_equal(get_int(o, "elapsed_ms"), 12);
	assert_null(json_object_get(o, "status")); /* a request has no row status */
	json_decref(o);
	free(line);
	line = summary_event_json(&rsn, STARTED);
	o = json_loads(line, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "reason");
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "email: missing \"@\"");
	assert_int_equal(get_int(o, "count"), 9000);
	assert_int_equal(get_int(o, "first_row"), 7);
	json_decref(o);
	free(line);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_summary_json_keys_and_numbers),
		T(test_summary_json_preview_of_a_dry_run),
		T(test_summary_json_of_a_stopped_send_verification),
		T(test_summary_file_is_json_with_newline_mode_0600),
		T(test_metrics_file_lines),
		T(test_metrics_carry_the_last_success_over_a_failed_run),
		T(test_event_json_line),
		T(test_summary_json_top_errors_by_count),
		T(test_event_json_request_and_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
