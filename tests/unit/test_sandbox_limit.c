/*
 * test_sandbox_limit.c - unit tests for dots-sandbox's limiter (limit.c,
 * limitdoc.c) with fixed times: token bucket refill and burst, fixed window
 * boundaries, Retry-After values, the SMS limit, runtime replacement, the
 * schedule, the per-second history, and the limiter seen through api.c
 * (refused requests act on nothing; /_sandbox/limit). Texts: limitdoc.
 * The sandbox is not in libdots.a, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* System headers first: each included .c ends with banned.h. */
#include "../../cmd/dots-sandbox/api.c"
#include "../../cmd/dots-sandbox/auth.c"
#include "../../cmd/dots-sandbox/echo.c"
#include "../../cmd/dots-sandbox/faults.c"
#include "../../cmd/dots-sandbox/hooks.c"
#include "../../cmd/dots-sandbox/limit.c"
#include "../../cmd/dots-sandbox/limitdoc.c"
#include "../../cmd/dots-sandbox/reply.c"
#include "../../cmd/dots-sandbox/rng.c"
#include "../../cmd/dots-sandbox/stats.c"
#include "../../cmd/dots-sandbox/store.c"
#include "../../cmd/dots-sandbox/userdoc.c"

#include "banned.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (36000 * SEC) /* a multiple of every window used here */
#define WALL ((time_t)1700000000)
#define AUTH_OK "Basic Y2lkOmtleQ==" /* cid:key */

/* ---- helpers -------------------------------------------------------- */

static struct limit *lim_new(const struct limit_settings *s, uint64_t start)
{
	struct limit *l = malloc(sizeof(*l));
	struct err e;

	assert_non_null(l);
	err_init(&e);
	assert_int_equal(limit_init(l, s, start, &e), 0);
	return l;
}

static void lim_free(struct limit *l)
{
	limit_release(l);
	free(l);
}

static struct limit_settings bucket(double rate, double burst)
{
	struct limit_settings s;

	limit_settings_default(&s);
	s.kind = LIMIT_BUCKET;
	s.rate = rate;
	s.burst = burst;
	return s;
}

/* Asserts the verdict at at_ns, and Retry-After (0: not checked). */
static void take(struct limit *l, uint64_t at_ns, int sms,
		 enum limit_verdict want, long want_retry)
{
	long retry = 99;

	assert_int_equal(limit_take(l, at_ns, sms, &retry), want);
	if (want == LIMIT_OK)
		assert_int_equal(retry, -1);
	else if (want_retry != 0)
		assert_int_equal(retry, want_retry);
}

static void take_n(struct limit *l, uint64_t at_ns, int n)
{
	while (n-- > 0)
		take(l, at_ns, 0, LIMIT_OK, 0);
}

/* ---- limit.c -------------------------------------------------------- */

static void test_limit_bucket(void **state)
{
	struct limit_settings s = bucket(10, 0); /* burst max(1, 1) */
	struct limit *l = lim_new(&s, T0);
	struct limit_stats st;

	(void)state;
	take(l, T0, 0, LIMIT_OK, 0); /* full at first use */
	take(l, T0, 0, LIMIT_REFUSED, 1);
	take(l, T0 + 50 * MS, 0, LIMIT_REFUSED, 1); /* half a token */
	take(l, T0 + 100 * MS, 0, LIMIT_OK, 0);
	take(l, T0 + 10 * SEC, 0, LIMIT_OK, 0); /* never above the burst */
	take(l, T0 + 10 * SEC, 0, LIMIT_REFUSED, 1);
	limit_snapshot(l, &st);
	assert_int_equal(st.limited, 3);
	assert_int_equal(st.limited_sms, 0);
	lim_free(l);

	s = bucket(10, 5); /* explicit burst */
	l = lim_new(&s, T0);
	take_n(l, T0, 5);
	take(l, T0, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 300 * MS, 3); /* 3 tokens earned */
	take(l, T0 + 300 * MS, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 60 * SEC, 5); /* refilled to 5, not 600 */
	take(l, T0 + 60 * SEC, 0, LIMIT_REFUSED, 1);
	lim_free(l);

	s = bucket(0.25, 0); /* one request per 4 s: Retry-After rounds up */
	l = lim_new(&s, T0);
	take(l, T0, 0, LIMIT_OK, 0);
	take(l, T0, 0, LIMIT_REFUSED, 4);
	take(l, T0 + 1500 * MS, 0, LIMIT_REFUSED, 3); /* 2.5 s to go */
	take(l, T0 + 3999 * MS, 0, LIMIT_REFUSED, 1);
	take(l, T0 + 4000 * MS, 0, LIMIT_OK, 0);
	lim_free(l);
	s = bucket(0, 0);
	assert_int_equal(limit_settings_check(&s, NULL), -1);
}

static void test_limit_window(void **state)
{
	struct limit_settings s;
	struct limit *l;

	(void)state;
	limit_settings_default(&s);
	s.kind = LIMIT_WINDOW;
	s.rate = 3;
	s.window_s = 10;
	l = lim_new(&s, T0 + 3 * SEC); /* aligned on the clock, not start */
	take_n(l, T0 + 2 * SEC, 3);	/* window [T0, T0 + 10 s) */
	take(l, T0 + 2 * SEC, 0, LIMIT_REFUSED, 8);
	take(l, T0 + 9500 * MS, 0, LIMIT_REFUSED, 1);
	take(l, T0 + 9999 * MS, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 10 * SEC, 2); /* the next window */
	take(l, T0 + 7 * SEC, 0, LIMIT_OK, 0); /* late: counts as now */
	take(l, T0 + 10 * SEC, 0, LIMIT_REFUSED, 10);
	take_n(l, T0 + 25 * SEC, 3); /* windows skipped: a fresh one */
	take(l, T0 + 29 * SEC, 0, LIMIT_REFUSED, 1);
	lim_free(l);

	s.rate = 600; /* 600/60: exactly N per window */
	s.window_s = 60;
	l = lim_new(&s, T0);
	take_n(l, T0 + 59 * SEC, 600);
	take(l, T0 + 59 * SEC, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 60 * SEC, 600);
	take(l, T0 + 60 * SEC, 0, LIMIT_REFUSED, 60);
	lim_free(l);

	s.rate = 1.5; /* a window counts whole requests */
	assert_int_equal(limit_settings_check(&s, NULL), -1);
	s.rate = 5;
	s.window_s = 0;
	assert_int_equal(limit_settings_check(&s, NULL), -1);
}

static void test_limit_no_retry_after(void **state)
{
	struct limit_settings s = bucket(1, 0);
	struct limit *l;

	(void)state;
	s.no_retry_after = 1;
	s.sms_rate = 1;
	l = lim_new(&s, T0);
	take(l, T0, 0, LIMIT_OK, 0);
	take(l, T0, 0, LIMIT_REFUSED, -1);
	take(l, T0 + SEC, 1, LIMIT_OK, 0);
	take(l, T0 + 2 * SEC, 1, LIMIT_OK, 0);
	take(l, T0 + 2 * SEC, 0, LIMIT_REFUSED, -1);
	lim_free(l);
}

static void test_limit_sms(void **state)
{
	struct limit_settings s = bucket(100, 100);
	struct limit_stats st;
	struct limit *l;

	(void)state;
	s.sms_rate = 0.5; /* burst max(1, 0.05) = 1, a token per 2 s */
	l = lim_new(&s, T0);
	take(l, T0, 1, LIMIT_OK, 0);
	take(l, T0, 1, LIMIT_REFUSED_SMS, 2);
	take_n(l, T0, 10); /* other requests are not held back */
	take(l, T0 + SEC, 1, LIMIT_REFUSED_SMS, 1);
	take(l, T0 + 2 * SEC, 1, LIMIT_OK, 0);
	limit_snapshot(l, &st);
	assert_int_equal(st.limited, 2);
	assert_int_equal(st.limited_sms, 2);
	lim_free(l);

	limit_settings_default(&s); /* no general limit, only SMS */
	s.sms_rate = 1;
	l = lim_new(&s, T0);
	take(l, T0, 1, LIMIT_OK, 0);
	take(l, T0, 1, LIMIT_REFUSED_SMS, 1);
	take_n(l, T0, 1000);
	lim_free(l);

	s = bucket(1, 0); /* the general limit still applies to sends */
	s.sms_rate = 10;
	l = lim_new(&s, T0);
	take(l, T0, 1, LIMIT_OK, 0);
	take(l, T0, 1, LIMIT_REFUSED, 1);
	limit_snapshot(l, &st);
	assert_int_equal(st.limited, 1);
	assert_int_equal(st.limited_sms, 0);
	lim_free(l);
}

static void test_limit_replace(void **state)
{
	struct limit_settings s = bucket(1, 0), got;
	struct limit *l = lim_new(&s, T0);
	struct err e;

	(void)state;
	err_init(&e);
	take(l, T0, 0, LIMIT_OK, 0);
	take(l, T0, 0, LIMIT_REFUSED, 1);
	limit_settings_default(&s);
	s.kind = LIMIT_WINDOW;
	s.rate = 2;
	s.window_s = 1;
	assert_int_equal(limit_replace(l, &s, T0 + 100 * MS, &e), 0);
	take_n(l, T0 + 100 * MS, 2);
	take(l, T0 + 100 * MS, 0, LIMIT_REFUSED, 1);
	s.rate = 0; /* refused whole: nothing changes */
	assert_int_equal(limit_replace(l, &s, T0 + 200 * MS, &e), -1);
	assert_non_null(strstr(e.msg, "rate"));
	limit_get(l, T0 + 200 * MS, &got);
	assert_int_equal(got.kind, LIMIT_WINDOW);
	assert_true(got.rate == 2);
	take(l, T0 + 200 * MS, 0, LIMIT_REFUSED, 1);
	limit_settings_default(&s);
	assert_int_equal(limit_replace(l, &s, T0 + 300 * MS, &e), 0);
	take_n(l, T0 + 300 * MS, 100);
	s = bucket(5, 2); /* a new bucket starts full */
	assert_int_equal(limit_replace(l, &s, T0 + 400 * MS, &e), 0);
	take_n(l, T0 + 400 * MS, 2);
	take(l, T0 + 400 * MS, 0, LIMIT_REFUSED, 1);
	lim_free(l);
}

static void test_limit_schedule(void **state)
{
	struct limit_settings s = bucket(1, 10), got;
	struct limit *l;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(limitdoc_parse_schedule("10:4, 20:0", &s, &e), 0);
	assert_int_equal(s.n_steps, 2);
	l = lim_new(&s, T0);
	take_n(l, T0, 10);
	take(l, T0, 0, LIMIT_REFUSED, 1);
	limit_get(l, T0 + 5 * SEC, &got);
	assert_int_equal(got.n_steps, 2);
	assert_true(got.steps[0].at_ns == 10 * SEC && got.steps[0].rate == 4);
	/* at 10 s: 10 tokens earned at 1/s, then 4/s */
	take_n(l, T0 + 10 * SEC, 10);
	take(l, T0 + 10 * SEC, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 12500 * MS, 10);
	take(l, T0 + 12500 * MS, 0, LIMIT_REFUSED, 1);
	limit_get(l, T0 + 15 * SEC, &got);
	assert_int_equal(got.kind, LIMIT_BUCKET);
	assert_true(got.rate == 4 && got.burst == 10);
	assert_int_equal(got.n_steps, 1);
	take_n(l, T0 + 20 * SEC, 1000); /* 0: no limit */
	limit_get(l, T0 + 20 * SEC, &got);
	assert_int_equal(got.kind, LIMIT_NONE);
	assert_int_equal(got.n_steps, 0);
	lim_free(l);

	/* from no limit; halving a default burst; several steps at once */
	limit_settings_default(&s);
	assert_int_equal(limitdoc_parse_schedule("1:200,2:100,2:50", &s, &e),
			 0);
	l = lim_new(&s, T0);
	take_n(l, T0 + 500 * MS, 500);
	take_n(l, T0 + 1 * SEC, 20); /* burst 20 */
	take(l, T0 + 1 * SEC, 0, LIMIT_REFUSED, 1);
	take_n(l, T0 + 3 * SEC, 5); /* 50/s: burst 5 */
	take(l, T0 + 3 * SEC, 0, LIMIT_REFUSED, 1);
	lim_free(l);

	/* a replacement drops the pending schedule unless it brings one */
	s = bucket(1, 0);
	assert_int_equal(limitdoc_parse_schedule("5:100", &s, &e), 0);
	l = lim_new(&s, T0);
	s.n_steps = 0;
	assert_int_equal(limit_replace(l, &s, T0 + SEC, &e), 0);
	limit_get(l, T0 + 10 * SEC, &got);
	assert_true(got.kind == LIMIT_BUCKET && got.rate == 1);
	assert_int_equal(limitdoc_parse_schedule("2:7", &s, &e), 0);
	assert_int_equal(limit_replace(l, &s, T0 + 10 * SEC, &e), 0);
	limit_get(l, T0 + 11 * SEC, &got);
	assert_true(got.rate == 1 && got.steps[0].at_ns == 12 * SEC);
	limit_get(l, T0 + 12 * SEC, &got);
	assert_true(got.rate == 7 && got.n_steps == 0);
	lim_free(l);
}

static void test_limit_history(void **state)
{
	struct limit_settings s;
	uint32_t *h = malloc(LIMIT_HISTORY * sizeof(*h));
	struct limit *l;
	size_t n;

	(void)state;
	assert_non_null(h);
	limit_settings_default(&s);
	l = lim_new(&s, T0);
	assert_int_equal(limit_history(l, T0, h), 1);
	assert_int_equal(h[0], 0);
	take(l, T0 + 100 * MS, 0, LIMIT_OK, 0);
	take(l, T0 + 2500 * MS, 0, LIMIT_OK, 0);
	take(l, T0 + 3500 * MS, 0, LIMIT_OK, 0);
	take(l, T0 + 1500 * MS, 0, LIMIT_OK, 0); /* late, in its second */
	n = limit_history(l, T0 + 5 * SEC, h);
	assert_int_equal(n, 6);
	assert_int_equal(h[0], 1);
	assert_int_equal(h[1], 1);
	assert_int_equal(h[2], 1);
	assert_int_equal(h[3], 1);
	assert_int_equal(h[4] + h[5], 0);
	/* two hours on: the last 3600 seconds only */
	take(l, T0 + 7200 * SEC, 0, LIMIT_OK, 0);
	take(l, T0 + 3000 * SEC, 0, LIMIT_OK, 0); /* too old: dropped */
	n = limit_history(l, T0 + 7201 * SEC, h);
	assert_int_equal(n, LIMIT_HISTORY);
	assert_int_equal(h[LIMIT_HISTORY - 2], 1);
	assert_int_equal(h[LIMIT_HISTORY - 1], 0);
	assert_int_equal(h[0], 0);
	free(h);
	lim_free(l);
}

/* ---- through api.c -------------------------------------------------- */

static const char user_body[] =
    "{\"email\":\"u%d@example.com\",\"country_code\":\"1\","
    "\"phone_number\":\"41555500%02d\",\"first_name\":\"F\","
    "\"last_name\":\"L\"}";

static struct api *api_lim(const struct limit_settings *s)
{
	struct api *a = malloc(sizeof(*a));
	struct api_config c;
	struct err e;

	assert_non_null(a);
	memset(&c, 0, sizeof(c));
	c.client_id = "cid";
	c.api_key = "key";
	c.retry_after_s = 1;
	c.faults.seed = 1;
	c.limit = *s;
	c.start_ns = T0;
	err_init(&e);
	assert_int_equal(api_init(a, &c, &e), 0);
	return a;
}

static unsigned req(struct api *a, const char *method, const char *url,
		    const char *body, uint64_t at, struct reply *out)
{
	struct api_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.authorization = AUTH_OK;
	rq.body = body ? body : "";
	rq.body_len = body ? strlen(body) : 0;
	rq.arrival_ns = rq.now_ns = at;
	rq.now_wall = WALL;
	api_arrive(a, url, at);
	api_handle(a, &rq, out);
	return out->status;
}

static unsigned req_clear(struct api *a, const char *method, const char *url,
			  const char *body, uint64_t at)
{
	struct reply r;
	unsigned st = req(a, method, url, body, at, &r);

	reply_clear(&r);
	return st;
}

static json_t *req_json(struct api *a, const char *method, const char *url,
			const char *body, uint64_t at, unsigned want)
{
	struct reply r;
	json_t *doc;

	assert_int_equal(req(a, method, url, body, at, &r), want);
	doc = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(doc);
	reply_clear(&r);
	return doc;
}

static json_int_t num(json_t *o, const char *key)
{
	assert_true(json_is_integer(json_object_get(o, key)));
	return json_integer_value(json_object_get(o, key));
}

static void test_api_limit_refusals_act_on_nothing(void **state)
{
	struct limit_settings s;
	char body[256], url[128];
	struct reply r;
	json_t *doc, *st;
	struct api *a;
	int i;

	(void)state;
	limit_settings_default(&s);
	s.kind = LIMIT_WINDOW;
	s.rate = 3;
	s.window_s = 60;
	s.sms_rate = 1;
	a = api_lim(&s);
	snprintf(body, sizeof(body), user_body, 1, 1);
	doc = req_json(a, "POST", "/api/v2/users", body, T0, 201);
	snprintf(url, sizeof(url), "/api/v2/users/%s/send-verification-token",
		 json_string_value(json_object_get(doc, "id")));
	json_decref(doc);
	assert_int_equal(req_clear(a, "POST", url, NULL, T0), 200);
	assert_int_equal(req(a, "POST", url, NULL, T0, &r), 429); /* SMS */
	assert_string_equal(reply_header_get(&r, "Retry-After"), "1");
	assert_int_equal(r.retry_after_s, 1);
	reply_clear(&r);
	snprintf(body, sizeof(body), user_body, 2, 2);
	assert_int_equal(req_clear(a, "POST", "/api/v2/users", body, T0), 201);
	snprintf(body, sizeof(body), user_body, 3, 3);
	assert_int_equal(req(a, "POST", "/api/v2/users", body, T0 + SEC, &r),
			 429); /* the window's 4th */
	assert_string_equal(reply_header_get(&r, "Retry-After"), "59");
	reply_clear(&r);
	for (i = 0; i < 20; i++) /* /_sandbox is never limited */
		assert_int_equal(
		    req_clear(a, "GET", "/_sandbox/users", NULL, T0 + SEC),
		    200);
	st = req_json(a, "GET", "/_sandbox/stats", NULL, T0 + 2500 * MS, 200);
	assert_int_equal(num(st, "users"), 2);
	assert_int_equal(num(st, "sms"), 1);
	assert_int_equal(num(st, "limited"), 2);
	assert_int_equal(num(st, "limited_sms"), 1);
	assert_int_equal(num(st, "rate_limited"), 0); /* the legacy bucket */
	doc = json_object_get(st, "accepted_per_s");
	assert_int_equal(json_array_size(doc), 3);
	assert_int_equal(json_integer_value(json_array_get(doc, 0)), 3);
	assert_int_equal(json_integer_value(json_array_get(doc, 1)), 0);
	json_decref(st);
	api_release(a);
	free(a);
}

static void test_api_limit_route(void **state)
{
	struct limit_settings s = bucket(2, 0);
	struct reply r;
	json_t *doc;
	struct api *a;

	(void)state;
	s.no_retry_after = 1;
	a = api_lim(&s);
	doc = req_json(a, "GET", "/_sandbox/limit", NULL, T0, 200);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")),
			    "bucket");
	assert_int_equal(num(doc, "rate"), 2);
	assert_int_equal(num(doc, "burst"), 1);
	assert_true(json_is_false(json_object_get(doc, "retry_after")));
	json_decref(doc);
	assert_int_equal(req_clear(a, "GET", "/api/v2/users", NULL, T0), 200);
	assert_int_equal(req(a, "GET", "/api/v2/users", NULL, T0, &r), 429);
	assert_null(reply_header_get(&r, "Retry-After"));
	assert_int_equal(r.retry_after_s, -1);
	reply_clear(&r);

	doc = req_json(a, "POST", "/_sandbox/limit",
		       "{\"kind\":\"window\",\"rate\":2,\"window_s\":10,"
		       "\"retry_after\":true,\"schedule\":\"30:5\"}",
		       T0, 200);
	assert_int_equal(num(doc, "window_s"), 10);
	assert_int_equal(num(json_array_get(json_object_get(doc, "schedule"),
					    0),
			     "in_s"),
			 30);
	json_decref(doc);
	assert_int_equal(req_clear(a, "GET", "/api/v2/users", NULL, T0), 200);
	assert_int_equal(req_clear(a, "GET", "/api/v2/users", NULL, T0), 200);
	assert_int_equal(req(a, "GET", "/api/v2/users", NULL, T0, &r), 429);
	assert_string_equal(reply_header_get(&r, "Retry-After"), "10");
	reply_clear(&r);
	doc = req_json(a, "POST", "/_sandbox/limit", "{\"kind\":\"bucket\"}",
		       T0, 422);
	assert_non_null(strstr(json_string_value(json_object_get(doc, "message")),
			       "rate: required"));
	json_decref(doc);
	doc = req_json(a, "POST", "/_sandbox/limit", "{", T0, 400);
	json_decref(doc);
	doc = req_json(a, "DELETE", "/_sandbox/limit", NULL, T0, 405);
	json_decref(doc);
	doc = req_json(a, "GET", "/_sandbox/limit", NULL, T0 + 31 * SEC, 200);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")),
			    "bucket"); /* the schedule's step at 30 s */
	assert_int_equal(num(doc, "rate"), 5);
	json_decref(doc);
	api_release(a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit_bucket),
	    cmocka_unit_test(test_limit_window),
	    cmocka_unit_test(test_limit_no_retry_after),
	    cmocka_unit_test(test_limit_sms),
	    cmocka_unit_test(test_limit_replace),
	    cmocka_unit_test(test_limit_schedule),
	    cmocka_unit_test(test_limit_history),
	    cmocka_unit_test(test_api_limit_refusals_act_on_nothing),
	    cmocka_unit_test(test_api_limit_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
