/*
 * test_sandbox_limitdoc.c - unit tests for dots-sandbox's limiter texts
 * (limitdoc.c): the --limit-window and --limit-schedule values and the
 * POST /_sandbox/limit bodies merged onto the current settings, with the
 * message each bad one gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* System headers first: each included .c ends with banned.h. */
#include "../../cmd/dots-sandbox/limit.c"
#include "../../cmd/dots-sandbox/limitdoc.c"
#include "../../cmd/dots-sandbox/reply.c"
#include "../../cmd/dots-sandbox/rng.c"
#include "../../cmd/dots-sandbox/userdoc.c"

#include "banned.h"

#define MS 1000000ULL

static struct limit_settings bucket(double rate, double burst)
{
	struct limit_settings s;

	limit_settings_default(&s);
	s.kind = LIMIT_BUCKET;
	s.rate = rate;
	s.burst = burst;
	return s;
}

static void test_limitdoc_texts(void **state)
{
	static const char *const bad_window[] = {
	    "0/1", "5/0", "5", "a/b", "5/86401", "1.5/2", "/5", "5/", "",
	};
	static const char *const bad_schedule[] = {
	    "", "10", "10:x", "20:1,10:1", "1:1,", "-1:3", ":3", "1:-1",
	    "1:2:3", "1:1e8", "999999:1",
	};
	struct limit_settings s;
	struct err e;
	char many[512];
	double n;
	long w;
	size_t i;

	(void)state;
	err_init(&e);
	assert_int_equal(limitdoc_parse_window("600/60", &n, &w, &e), 0);
	assert_true(n == 600 && w == 60);
	assert_int_equal(limitdoc_parse_window("300/1", &n, &w, &e), 0);
	assert_true(n == 300 && w == 1);
	for (i = 0; i < sizeof(bad_window) / sizeof(bad_window[0]); i++)
		assert_int_equal(
		    limitdoc_parse_window(bad_window[i], &n, &w, &e), -1);
	assert_non_null(strstr(e.msg, "N/S"));
	assert_int_equal(limitdoc_parse_schedule("0.5:10,1:20", &s, &e), 0);
	assert_true(s.steps[0].at_ns == 500 * MS && s.steps[1].rate == 20);
	for (i = 0; i < sizeof(bad_schedule) / sizeof(bad_schedule[0]); i++)
		assert_int_equal(
		    limitdoc_parse_schedule(bad_schedule[i], &s, &e), -1);
	many[0] = '\0';
	for (i = 0; i <= LIMIT_STEPS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%s%zu:1", i ? "," : "", i);
	assert_int_equal(limitdoc_parse_schedule(many, &s, &e), -1);
	assert_non_null(strstr(e.msg, "more than"));
}

static void test_limitdoc_post_bodies(void **state)
{
	static const struct {
		const char *body;
		enum limitdoc_rc rc;
		const char *msg; /* in err, for LIMITDOC_INVALID */
	} t[] = {
	    {"{\"kind\":\"window\",\"rate\":5,\"window_s\":2}", LIMITDOC_OK, ""},
	    {"{\"rate\":7}", LIMITDOC_OK, ""},
	    {"{\"kind\":\"none\"}", LIMITDOC_OK, ""},
	    {"{}", LIMITDOC_OK, ""},
	    {"{\"schedule\":[{\"in_s\":1,\"rate\":2}]}", LIMITDOC_OK, ""},
	    {"{\"rate\":", LIMITDOC_BAD_JSON, ""},
	    {"", LIMITDOC_BAD_JSON, ""},
	    {"[1]", LIMITDOC_INVALID, "JSON object"},
	    {"{\"kind\":\"leaky\"}", LIMITDOC_INVALID, "kind"},
	    {"{\"kind\":\"window\",\"rate\":5}", LIMITDOC_INVALID,
	     "window_s: required"},
	    {"{\"kind\":\"window\",\"window_s\":5}", LIMITDOC_INVALID,
	     "rate: required"},
	    {"{\"window_s\":5}", LIMITDOC_INVALID, "only for kind window"},
	    {"{\"rate\":\"9\"}", LIMITDOC_INVALID, "rate: must be a number"},
	    {"{\"rate\":0}", LIMITDOC_INVALID, "rate"},
	    {"{\"burst\":0.5}", LIMITDOC_INVALID, "burst"},
	    {"{\"sms_rate\":-1}", LIMITDOC_INVALID, "sms_rate"},
	    {"{\"retry_after\":1}", LIMITDOC_INVALID, "true or false"},
	    {"{\"schedule\":\"x\"}", LIMITDOC_INVALID, "schedule"},
	    {"{\"schedule\":[{\"in_s\":-1,\"rate\":2}]}", LIMITDOC_INVALID,
	     "schedule"},
	    {"{\"rate\":1,\"rate\":2}", LIMITDOC_BAD_JSON, ""},
	    {"{\"speed\":1}", LIMITDOC_INVALID, "unknown field 'speed'"},
	};
	struct limit_settings cur = bucket(10, 0), out;
	struct err e;
	size_t i;

	(void)state;
	cur.sms_rate = 3;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err_init(&e);
		assert_int_equal(limitdoc_parse(t[i].body, strlen(t[i].body),
						&cur, &out, &e),
				 t[i].rc);
		if (t[i].rc == LIMITDOC_INVALID)
			assert_non_null(strstr(e.msg, t[i].msg));
	}
	err_init(&e);
	assert_int_equal(limitdoc_parse("{\"rate\":7,\"retry_after\":false}",
					30, &cur, &out, &e),
			 LIMITDOC_OK);
	assert_true(out.kind == LIMIT_BUCKET && out.rate == 7);
	assert_true(out.sms_rate == 3 && out.no_retry_after == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limitdoc_texts),
	    cmocka_unit_test(test_limitdoc_post_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
