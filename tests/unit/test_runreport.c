/*
 * test_runreport.c - unit tests for lib/runreport.c and lib/runchart.c:
 * the page is written atomically with mode 0600, escapes every string it
 * is given, masks examples unless asked, draws one polyline per chart
 * line, carries its figures in a parseable data block that cannot close
 * its <script> early, and loads nothing from anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runchart.h"
#include "runreport.h"

#include "testutil.h"

#include "banned.h"

static int setup(void **state)
{
	return fixture_setup(state, "test_runreport", "report.html");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A run of 3 minutes with hostile strings everywhere a string goes. */
struct fake {
	struct import_stats st;
	struct series s;
	struct reasons rs;
	struct runreport rr;
};

static void fake_run(struct fake *f, bool pii)
{
	struct err e;
	struct reason_row row = {5, 6, "invalid", "jane.doe@example.com", "+1 4155550123"};

	memset(f, 0, sizeof(*f));
	f->st.rows = 100;
	f->st.by_status[ROW_CREATED] = 90;
	f->st.by_status[ROW_INVALID] = 10;
	f->st.requests = 95;
	f->st.retries = 4;
	f->st.rate_limited = 1;
	f->st.elapsed_s = 180;
	f->st.latency_hist[40] = 95;
	snprintf(f->st.abort_reason, sizeof(f->st.abort_reason), "</script><b>x</b>");
	assert_int_equal(series_init(&f->s, &e), 0);
	for (int64_t t = 0; t <= 180000; t += 100) {
		series_count(&f->s, t, 1, 1, t == 90000, 0);
		series_gauge(&f->s, t, 8, 50, false);
		series_latency(&f->s, t, 40, 1);
	}
	reasons_init(&f->rs);
	reasons_add(&f->rs, "email: domain \"<img src=x>\" has no dot", &row);
	reasons_add(&f->rs, "HTTP 422: <script>alert(1)</script> & \xff\xfe bad", NULL);
	f->rr = (struct runreport){{"import", "in<put>.csv", "results.csv", 1, 0, 180, false, &f->st,
				    &f->rs},
				   pii, &f->s};
}

static void test_page_is_escaped_masked_and_self_contained(void **state)
{
	struct fixture *fx = *state;
	struct fake f;
	struct err e;
	struct stat sb;
	char *html;

	fake_run(&f, false);
	assert_int_equal(runreport_write(fx->path, &f.rr, &e), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	html = slurp(fx->path);
	/* nothing of the run's strings runs or renders as markup */
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>x"));
	assert_null(strstr(html, "alert(1)</script>"));
	assert_int_equal(count(html, "</script>"), 1); /* the data block's own */
	assert_int_equal(count(html, "<script"), 1);
	assert_non_null(strstr(html, "<script type=\"application/json\""));
	assert_non_null(strstr(html, "in&lt;put&gt;.csv"));
	/* ill-formed UTF-8 does not reach the page */
	assert_null(strstr(html, "\xff"));
	/* masked by default */
	assert_null(strstr(html, "jane.doe"));
	assert_null(strstr(html, "4155550123"));
	assert_non_null(strstr(html, "j***@e***.com"));
	assert_non_null(strstr(html, "row 5 (line 6)"));
	/* nothing fetched: no URL but the SVG namespace, a CSP forbidding it */
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "href="));
	assert_int_equal(count(html, "http"), count(html, "http://www.w3.org/2000/svg") +
						   count(html, "http-equiv"));
	assert_non_null(strstr(html, "default-src 'none'"));
	/* four charts, each line drawn */
	assert_int_equal(count(html, "<svg"), 4);
	assert_true(count(html, "<polyline") >= 7);
	assert_non_null(strstr(html, "data-k=\"rows\" data-v=\"100\""));
	assert_non_null(strstr(html, "data-k=\"status.created\" data-v=\"90\""));
	assert_non_null(strstr(html, "Finished, some rows did not succeed"));
	free(html);
	series_release(&f.s);
}

static void test_pii_shown_when_asked(void **state)
{
	struct fixture *fx = *state;
	struct fake f;
	struct err e;
	char *html;

	fake_run(&f, true);
	assert_int_equal(runreport_write(fx->path, &f.rr, &e), 0);
	html = slurp(fx->path);
	assert_non_null(strstr(html, "jane.doe@example.com"));
	assert_non_null(strstr(html, "+1 4155550123"));
	free(html);
	series_release(&f.s);
}

static void test_data_block_holds_the_figures(void **state)
{
	struct fake f;
	json_t *root, *series, *done;
	json_error_t je;
	char *text;
	long long sum = 0;

	(void)state;
	fake_run(&f, false);
	text = runreport_json(&f.rr);
	assert_non_null(text);
	assert_null(strchr(text, '<'));
	assert_non_null(strstr(text, "\\u003c/script>"));
	root = json_loads(text, 0, &je);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "rows")), 100);
	assert_int_equal(json_integer_value(json_object_get(root, "exit_code")), 1);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(root, "status"), "invalid")),
			 10);
	assert_int_equal(json_array_size(json_object_get(root, "reasons")), 2);
	series = json_object_get(root, "series");
	done = json_object_get(series, "done");
	assert_int_equal(json_array_size(done), 181);
	for (size_t i = 0; i < json_array_size(done); i++)
		sum += json_integer_value(json_array_get(done, i));
	assert_int_equal(sum, 1801); /* every sample's row, once */
	assert_int_equal(json_array_size(json_object_get(series, "latency_p95_ms")), 181);
	json_decref(root);
	free(text);
	series_release(&f.s);
}

static void test_unwritable_path_fails_with_its_name(void **state)
{
	struct fake f;
	struct err e;

	(void)state;
	fake_run(&f, false);
	err_init(&e);
	assert_int_equal(runreport_write("/nonexistent-dir/r.html", &f.rr, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent-dir/r.html"));
	series_release(&f.s);
}

static void test_empty_run_says_no_data(void **state)
{
	struct fixture *fx = *state;
	struct import_stats st = {0};
	struct runreport rr = {{"verify", NULL, NULL, 2, 0, 0, false, &st, NULL}, false, NULL};
	struct err e;
	char *html;

	assert_int_equal(runreport_write(fx->path, &rr, &e), 0);
	html = slurp(fx->path);
	assert_int_equal(count(html, "no data in this run"), 4);
	assert_non_null(strstr(html, "Stopped before sending"));
	free(html);
}

/* A week-long run with every point of the series in use, 20 reasons with
 * long texts and full examples: the page stays under 2 MB. */
static void test_longest_run_stays_under_2mb(void **state)
{
	struct fixture *fx = *state;
	struct fake f;
	struct err e;
	struct stat sb;
	char msg[200];

	fake_run(&f, true);
	for (int64_t t = 0; t < 7LL * 86400 * 1000; t += 997) {
		series_count(&f.s, t, 12345, 23456, t % 7 == 0, 3);
		series_gauge(&f.s, t, 255, 12345.678, t % 3 == 0);
		series_latency(&f.s, t, (double)(t % 30011), 7);
	}
	for (int i = 0; i < 40; i++) {
		struct reason_row r = {1000000 + (size_t)i, 1000001 + (size_t)i, "failed", "", ""};

		memset(r.email, 'e', REASONS_CELL_MAX);
		memset(r.phone, '&', REASONS_CELL_MAX); /* escaped: 5 bytes each */
		snprintf(msg, sizeof(msg), "HTTP %d: %0150d", 400 + i, 0);
		for (int k = 0; k < 10; k++)
			reasons_add(&f.rs, msg, &r);
	}
	assert_int_equal(f.s.n > SERIES_CAP / 2, 1);
	assert_int_equal(runreport_write(fx->path, &f.rr, &e), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	print_message("report of a full series: %lld bytes\n", (long long)sb.st_size);
	assert_true(sb.st_size < 2 * 1024 * 1024);
	series_release(&f.s);
}

static void test_chart_helpers(void **state)
{
	char out[32];

	(void)state;
	assert_true(runchart_nice_max(0) == 1);
	assert_true(runchart_nice_max(7) == 10);
	assert_true(runchart_nice_max(10) == 10);
	assert_true(runchart_nice_max(11) == 20);
	assert_true(runchart_nice_max(0.03) > 0.049 && runchart_nice_max(0.03) < 0.051);
	runchart_duration(45, out, sizeof(out));
	assert_string_equal(out, "45 s");
	runchart_duration(725, out, sizeof(out));
	assert_string_equal(out, "12:05");
	runchart_duration(10960, out, sizeof(out));
	assert_string_equal(out, "3:02:40");
	assert_string_equal(runreport_outcome(143), "Interrupted (SIGTERM)");
	assert_string_equal(runreport_outcome(99), "Unknown outcome");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_page_is_escaped_masked_and_self_contained),
		T(test_pii_shown_when_asked),
		T(test_data_block_holds_the_figures),
		T(test_unwritable_path_fails_with_its_name),
		T(test_empty_run_says_no_data),
		T(test_longest_run_stays_under_2mb),
		T(test_chart_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
