/*
 * test_sandbox_logic.c - unit tests for the pure parts of dots-sandbox:
 * rng (repeatable ids and codes), faults (decisions, token bucket, 429
 * pauses with a fake clock), auth (Basic header table), store (one user per
 * phone, SMS counts, last-code verify, list, verify-users), userdoc
 * (validation messages, status, ?limit, verify-users bodies, list shape)
 * and echo (the --fault-echo text and its percent-encoding).
 * The sandbox is not in libdots.a, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* System headers first: each included .c ends with banned.h. */
#include "../../cmd/dots-sandbox/auth.c"
#include "../../cmd/dots-sandbox/echo.c"
#include "../../cmd/dots-sandbox/faults.c"
#include "../../cmd/dots-sandbox/rng.c"
#include "../../cmd/dots-sandbox/store.c"
#include "../../cmd/dots-sandbox/userdoc.c"

#include "banned.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static void test_rng_repeats_and_formats(void **state)
{
	struct rng a, b;
	char ua[RNG_UUID_LEN + 1], ub[RNG_UUID_LEN + 1], code[RNG_CODE_LEN + 1];
	int i;

	(void)state;
	rng_init(&a, 42);
	rng_init(&b, 42);
	rng_uuid(&a, ua);
	rng_uuid(&b, ub);
	assert_string_equal(ua, ub);
	assert_int_equal(strlen(ua), 36);
	assert_int_equal(ua[14], '4');		 /* version 4 */
	assert_non_null(strchr("89ab", ua[19])); /* RFC 4122 variant */
	assert_true(ua[8] == '-' && ua[13] == '-' && ua[18] == '-' &&
		    ua[23] == '-');
	rng_init(&b, 43);
	rng_uuid(&b, ub);
	assert_string_not_equal(ua, ub);
	for (i = 0; i < 1000; i++) {
		rng_code(&a, code);
		assert_int_equal(strlen(code), 6);
		assert_int_equal(strspn(code, "0123456789"), 6);
	}
}

static void faults_cfg(struct faults_config *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->pause_grace_ms = 200;
}

static void test_faults_probabilities(void **state)
{
	struct faults_config c;
	struct faults f;
	struct faults_decision d;
	struct faults_stats st;
	struct err e;
	int i, n500 = 0;

	(void)state;
	faults_cfg(&c);
	assert_int_equal(faults_init(&f, &c, &e), 0);
	for (i = 0; i < 100; i++) {
		faults_decide(&f, (uint64_t)i * MS, 1, &d);
		assert_int_equal(d.kind, FAULT_NONE);
		assert_false(d.rate_limited);
	}
	faults_release(&f);

	c.prob[FAULT_500] = 0.25;
	c.prob[FAULT_RESET] = 0.25;
	c.after_effect = 1;
	assert_int_equal(faults_init(&f, &c, &e), 0);
	for (i = 0; i < 4000; i++) {
		faults_decide(&f, (uint64_t)i * MS, 1, &d);
		assert_true(d.kind == FAULT_NONE || d.kind == FAULT_500 ||
			    d.kind == FAULT_RESET);
		assert_int_equal(d.effect_first, d.kind != FAULT_NONE);
		n500 += d.kind == FAULT_500;
	}
	faults_snapshot(&f, &st);
	assert_int_equal(st.count[FAULT_500], n500);
	assert_true(n500 > 800 && n500 < 1200);
	assert_int_equal(st.after_effects,
			 st.count[FAULT_500] + st.count[FAULT_RESET]);
	faults_release(&f);

	c.prob[FAULT_503] = 0.6; /* sum 1.1 */
	assert_int_equal(faults_config_check(&c, &e), -1);
	assert_non_null(strstr(e.msg, "more than 1"));
}

static void test_faults_token_bucket(void **state)
{
	struct faults_config c;
	struct faults f;
	struct faults_decision d;
	struct err e;
	int i, ok = 0;

	(void)state;
	faults_cfg(&c);
	c.rate_limit = 100; /* burst 10 */
	assert_int_equal(faults_init(&f, &c, &e), 0);
	for (i = 0; i < 20; i++) {
		faults_decide(&f, 1 * SEC, 0, &d);
		ok += !d.rate_limited;
	}
	assert_int_equal(ok, 10);
	faults_decide(&f, 1 * SEC + 10 * MS, 0, &d); /* one token back */
	assert_false(d.rate_limited);
	faults_decide(&f, 1 * SEC + 10 * MS, 0, &d);
	assert_true(d.rate_limited);
	faults_release(&f);
}

static void test_faults_pause_window(void **state)
{
	struct faults_config c;
	struct faults f;
	struct faults_stats st;
	struct err e;

	(void)state;
	faults_cfg(&c);
	assert_int_equal(faults_init(&f, &c, &e), 0);
	faults_arrive(&f, 5 * SEC); /* no pause yet */
	faults_note_429(&f, 10 * SEC, 2);
	faults_arrive(&f, 10 * SEC + 100 * MS); /* in grace */
	faults_arrive(&f, 10 * SEC + 300 * MS); /* counted */
	faults_arrive(&f, 11 * SEC + 900 * MS); /* counted */
	faults_arrive(&f, 12 * SEC + 1 * MS);	/* pause over */
	faults_snapshot(&f, &st);
	assert_int_equal(st.during_pause, 2);
	/* A 429 inside the pause extends it, keeping the first grace. */
	faults_note_429(&f, 20 * SEC, 1);
	faults_note_429(&f, 20 * SEC + 500 * MS, 1);
	faults_arrive(&f, 21 * SEC + 200 * MS);
	faults_snapshot(&f, &st);
	assert_int_equal(st.during_pause, 3);
	faults_release(&f);
}

static void test_auth_table(void **state)
{
	static const struct {
		const char *header, *id, *key;
		int want;
	} cases[] = {
	    {"Basic Y2lkOmtleQ==", "cid", "key", 0}, /* cid:key */
	    {"basic   Y2lkOmtleQ==  ", "cid", "key", 0},
	    {"Basic Y2lkOmtleQ", "cid", "key", 0},    /* unpadded */
	    {"Basic Y2lkOmtleTI=", "cid", "key", -1}, /* cid:key2 */
	    {"Basic Y2lkOmtl", "cid", "key", -1},     /* cid:ke */
	    {"Basic Y2lkOmtleQ==", NULL, NULL, 0},
	    {"Basic Og==", NULL, NULL, -1},	    /* ":" */
	    {"Basic bm9jb2xvbg==", NULL, NULL, -1}, /* nocolon */
	    {"Bearer Y2lkOmtleQ==", NULL, NULL, -1},
	    {"Basic !!!!", NULL, NULL, -1},
	    {"Basic", NULL, NULL, -1},
	    {NULL, NULL, NULL, -1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    auth_check(cases[i].header, cases[i].id, cases[i].key),
		    cases[i].want);
}

static void count_view(const struct store_view *v, void *cls)
{
	(void)v;
	(*(int *)cls)++;
}

static void test_store_one_user_per_phone(void **state)
{
	struct store s;
	struct store_stats st;
	struct store_input in = {"a@b.c", "1",	"4155550100", "A",
				 "B",	  NULL, "{\"k\":1}"};
	char id[RNG_UUID_LEN + 1], id2[RNG_UUID_LEN + 1];
	struct rng r;
	struct err e;
	int seen = 0, i;

	(void)state;
	rng_init(&r, 1);
	assert_int_equal(store_init(&s, &e), 0);
	rng_uuid(&r, id);
	rng_uuid(&r, id2);
	assert_int_equal(store_create(&s, &in, id, NULL, NULL), 1);
	assert_int_equal(store_create(&s, &in, id2, NULL, NULL), 0);
	assert_int_equal(store_get(&s, id2, NULL, NULL), -1);
	assert_int_equal(store_verify(&s, id, "123456"), STORE_VERIFY_NO_CODE);
	assert_int_equal(store_send_code(&s, id, "111111"), 0);
	assert_int_equal(store_send_code(&s, id, "222222"), 0);
	assert_int_equal(store_send_code(&s, "nope", "333333"), -1);
	assert_int_equal(store_verify(&s, id, "111111"), STORE_VERIFY_WRONG);
	assert_int_equal(store_verify(&s, id, "222222"), STORE_VERIFY_OK);
	assert_int_equal(store_verify(&s, "nope", "222222"),
			 STORE_VERIFY_UNKNOWN_USER);
	/* Enough users to make the tables grow; all stay findable. */
	for (i = 0; i < 5000; i++) {
		char phone[16];

		snprintf(phone, sizeof(phone), "%d", 1000000 + i);
		in.phone_number = phone;
		rng_uuid(&r, id2);
		assert_int_equal(store_create(&s, &in, id2, NULL, NULL), 1);
		assert_int_equal(store_get(&s, id2, NULL, NULL), 0);
	}
	assert_int_equal(store_get(&s, id, NULL, NULL), 0);
	store_each(&s, count_view, &seen);
	store_stats(&s, &st);
	assert_int_equal(seen, 5001);
	assert_int_equal(st.users, 5001);
	assert_int_equal(st.creates, 5001);
	assert_int_equal(st.existing_returned, 1);
	assert_int_equal(st.sms, 2);
	assert_int_equal(st.max_sms_per_user, 2);
	assert_int_equal(st.users_with_multiple_sms, 1);
	assert_int_equal(st.verifies_ok, 1);
	assert_int_equal(st.verifies_failed, 2);
	store_release(&s);
}

static void test_userdoc_validation(void **state)
{
	static const struct {
		const char *body;
		int want;
		const char *msg;
	} cases[] = {
	    {"{\"email\":\"a@b.c\",\"country_code\":\"44\",\"phone_number\":"
	     "\"2079460958\",\"first_name\":\"A\",\"last_name\":\"B\","
	     "\"metadata\":{\"x\":[1]}}",
	     USERDOC_OK, ""},
	    {"not json", USERDOC_BAD_JSON, ""},
	    {"[]", USERDOC_BAD_JSON, ""},
	    {"{}", USERDOC_INVALID, "email: missing"},
	    {"{\"email\":\"ab.c\",\"country_code\":\"1\",\"phone_number\":"
	     "\"1\",\"first_name\":\"A\",\"last_name\":\"B\"}",
	     USERDOC_INVALID, "email: missing \"@\""},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1234\",\"phone_number\":"
	     "\"1\",\"first_name\":\"A\",\"last_name\":\"B\"}",
	     USERDOC_INVALID, "country_code: must be 1-3 digits"},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1\",\"phone_number\":"
	     "\"12-3\",\"first_name\":\"A\",\"last_name\":\"B\"}",
	     USERDOC_INVALID, "phone_number: must contain only digits"},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1\",\"phone_number\":"
	     "\"1234567890123456\",\"first_name\":\"A\",\"last_name\":\"B\"}",
	     USERDOC_INVALID, "phone_number: too long"},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1\",\"phone_number\":"
	     "\"1\",\"first_name\":7,\"last_name\":\"B\"}",
	     USERDOC_INVALID, "first_name: must be a string"},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1\",\"phone_number\":"
	     "\"1\",\"first_name\":\"A\",\"last_name\":\"B\",\"metadata\":[]}",
	     USERDOC_INVALID, "metadata: must be a string, object or null"},
	};
	char msg[USERDOC_MSG_MAX];
	struct userdoc_create c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = userdoc_parse_create(cases[i].body,
					      strlen(cases[i].body), &c, msg);

		assert_int_equal(rc, cases[i].want);
		if (rc == USERDOC_INVALID)
			assert_string_equal(msg, cases[i].msg);
		if (rc == USERDOC_OK) {
			assert_string_equal(c.in.country_code, "44");
			assert_string_equal(c.in.metadata, "{\"x\":[1]}");
			userdoc_create_release(&c);
		}
	}
}

/* ---- status, list, verify-users, echo ------------------------------ */

static const char *status_of(json_t *doc)
{
	return json_string_value(json_object_get(doc, "status"));
}

/* Keeps the API and the /_sandbox/ documents of the user a call shows. */
struct docs {
	json_t *api;
	json_t *sandbox;
};

static void keep_docs(const struct store_view *v, void *cls)
{
	struct docs *d = cls;

	json_decref(d->api);
	json_decref(d->sandbox);
	d->api = userdoc_user(v);
	d->sandbox = userdoc_sandbox_user(v);
}

static void docs_expect(struct docs *d, const char *status)
{
	assert_non_null(d->api);
	assert_non_null(d->sandbox);
	assert_string_equal(status_of(d->api), status);
	assert_string_equal(status_of(d->sandbox), status);
	json_decref(d->api);
	json_decref(d->sandbox);
	d->api = d->sandbox = NULL;
}

static void test_userdoc_status(void **state)
{
	struct store s;
	struct store_stats st;
	struct store_input in = {"a@b.c", "1", "4155550100", "A",
				 "B",	  NULL, NULL};
	struct store_phone ph[] = {{"1", "4155550101"}, {"44", "4155550101"},
				   {"1", "4155550101"}};
	struct docs d = {NULL, NULL};
	char id[RNG_UUID_LEN + 1], id2[RNG_UUID_LEN + 1];
	struct rng r;
	struct err e;

	(void)state;
	rng_init(&r, 7);
	assert_int_equal(store_init(&s, &e), 0);
	rng_uuid(&r, id);
	rng_uuid(&r, id2);
	assert_int_equal(store_create(&s, &in, id, keep_docs, &d), 1);
	docs_expect(&d, "unverified");
	/* A repeated create returns the existing user, status included. */
	assert_int_equal(store_create(&s, &in, id2, keep_docs, &d), 0);
	docs_expect(&d, "unverified");
	assert_int_equal(store_send_code(&s, id, "123456"), 0);
	assert_int_equal(store_verify(&s, id, "654321"), STORE_VERIFY_WRONG);
	assert_int_equal(store_get(&s, id, keep_docs, &d), 0);
	docs_expect(&d, "unverified");
	assert_int_equal(store_verify(&s, id, "123456"), STORE_VERIFY_OK);
	assert_int_equal(store_get(&s, id, keep_docs, &d), 0);
	docs_expect(&d, "verified");
	assert_int_equal(store_create(&s, &in, id2, keep_docs, &d), 0);
	docs_expect(&d, "verified");

	/* The test hook: by phone (unknown skipped, repeats count), or all. */
	in.phone_number = "4155550101";
	assert_int_equal(store_create(&s, &in, id2, keep_docs, &d), 1);
	docs_expect(&d, "unverified");
	assert_int_equal(store_mark_verified(&s, 0, ph, 2), 1);
	assert_int_equal(store_get(&s, id2, keep_docs, &d), 0);
	docs_expect(&d, "verified");
	assert_int_equal(store_mark_verified(&s, 0, ph, 3), 2);
	assert_int_equal(store_mark_verified(&s, 0, NULL, 0), 0);
	assert_int_equal(store_mark_verified(&s, 1, NULL, 0), 2);
	store_stats(&s, &st);
	assert_int_equal(st.verified_users, 2); /* each user counted once */
	assert_int_equal(st.verifies_ok, 1);	/* the hook is no verify */
	store_release(&s);
}

static void test_store_list(void **state)
{
	struct store s;
	struct store_input in = {"a@b.c", "1", NULL, "A", "B", NULL, NULL};
	static const struct {
		size_t limit, calls;
	} cases[] = {{0, 0}, {1, 1}, {2, 2}, {5, 5}, {10, 5}, {100, 5}};
	char id[RNG_UUID_LEN + 1], phone[16];
	struct rng r;
	struct err e;
	size_t i;
	int n;

	(void)state;
	rng_init(&r, 3);
	assert_int_equal(store_init(&s, &e), 0);
	n = 0;
	assert_int_equal(store_list(&s, 10, count_view, &n), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < 5; i++) {
		snprintf(phone, sizeof(phone), "41555501%02zu", i);
		in.phone_number = phone;
		rng_uuid(&r, id);
		assert_int_equal(store_create(&s, &in, id, NULL, NULL), 1);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 0;
		assert_int_equal(store_list(&s, cases[i].limit, count_view, &n),
				 5);
		assert_int_equal((size_t)n, cases[i].calls);
	}
	store_release(&s);
}

static void test_userdoc_limit(void **state)
{
	static const struct {
		const char *text;
		int want;
		long limit;
	} cases[] = {
	    {NULL, USERDOC_OK, 10}, /* absent: the default */
	    {"1", USERDOC_OK, 1},
	    {"10", USERDOC_OK, 10},
	    {"100", USERDOC_OK, 100},
	    {"007", USERDOC_OK, 7},
	    {"", USERDOC_INVALID, 0}, /* "?limit" or "?limit=" */
	    {"0", USERDOC_INVALID, 0},
	    {"101", USERDOC_INVALID, 0},
	    {"1000", USERDOC_INVALID, 0},
	    {"0010", USERDOC_INVALID, 0},
	    {"-5", USERDOC_INVALID, 0},
	    {"+5", USERDOC_INVALID, 0},
	    {" 5", USERDOC_INVALID, 0},
	    {"5 ", USERDOC_INVALID, 0},
	    {"1e2", USERDOC_INVALID, 0},
	    {"ten", USERDOC_INVALID, 0},
	    {"99999999999999999999", USERDOC_INVALID, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = -1;

		assert_int_equal(userdoc_parse_limit(cases[i].text, &got),
				 cases[i].want);
		if (cases[i].want == USERDOC_OK)
			assert_int_equal(got, cases[i].limit);
		else
			assert_int_equal(got, -1); /* untouched */
	}
}

static void test_userdoc_verify_body(void **state)
{
	static const struct {
		const char *body;
		int want;
		const char *msg; /* USERDOC_INVALID */
		int all;
		size_t n;
	} cases[] = {
	    {"{\"all\": true}", USERDOC_OK, "", 1, 0},
	    {"{\"phones\": []}", USERDOC_OK, "", 0, 0},
	    {"{\"phones\": [{\"country_code\": \"1\", \"phone_number\": "
	     "\"4155550100\"}, {\"country_code\": \"44\", "
	     "\"phone_number\": \"2079460958\", \"x\": 1}]}",
	     USERDOC_OK, "", 0, 2},
	    {"{\"all\": false, \"phones\": [{\"country_code\": \"1\", "
	     "\"phone_number\": \"4155550100\"}]}",
	     USERDOC_OK, "", 0, 1},
	    {"", USERDOC_BAD_JSON, "", 0, 0},
	    {"all", USERDOC_BAD_JSON, "", 0, 0},
	    {"[]", USERDOC_BAD_JSON, "", 0, 0},
	    {"{}", USERDOC_INVALID, "phones: missing (or give \"all\": true)",
	     0, 0},
	    {"{\"all\": false}", USERDOC_INVALID,
	     "phones: missing (or give \"all\": true)", 0, 0},
	    {"{\"all\": 1}", USERDOC_INVALID, "all: must be true or false", 0,
	     0},
	    {"{\"all\": true, \"phones\": []}", USERDOC_INVALID,
	     "phones: not allowed together with \"all\"", 0, 0},
	    {"{\"phones\": {}}", USERDOC_INVALID, "phones: must be an array", 0,
	     0},
	    {"{\"phones\": [\"14155550100\"]}", USERDOC_INVALID,
	     "phones[0]: must be an object", 0, 0},
	    {"{\"phones\": [{\"country_code\": \"1\", \"phone_number\": "
	     "\"1\"}, {\"country_code\": \"1\"}]}",
	     USERDOC_INVALID, "phones[1].phone_number: missing", 0, 0},
	    {"{\"phones\": [{\"country_code\": 1, \"phone_number\": "
	     "\"1\"}]}",
	     USERDOC_INVALID, "phones[0].country_code: must be a string", 0, 0},
	    {"{\"phones\": [{\"country_code\": \"1234\", "
	     "\"phone_number\": \"1\"}]}",
	     USERDOC_INVALID, "phones[0].country_code: must be 1-3 digits", 0,
	     0},
	    {"{\"phones\": [{\"country_code\": \"1\", \"phone_number\": "
	     "\"415-555\"}]}",
	     USERDOC_INVALID, "phones[0].phone_number: must contain only digits",
	     0, 0},
	    {"{\"phones\": [{\"country_code\": \"1\", \"phone_number\": "
	     "\"1234567890123456\"}]}",
	     USERDOC_INVALID, "phones[0].phone_number: too long", 0, 0},
	};
	char msg[USERDOC_MSG_MAX];
	struct userdoc_verify v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = userdoc_parse_verify(cases[i].body,
					      strlen(cases[i].body), &v, msg);

		assert_int_equal(rc, cases[i].want);
		if (rc == USERDOC_INVALID)
			assert_string_equal(msg, cases[i].msg);
		if (rc != USERDOC_OK) {
			assert_null(v.root);
			assert_null(v.phones);
			continue;
		}
		assert_int_equal(v.all, cases[i].all);
		assert_int_equal(v.n, cases[i].n);
		if (v.n > 0) {
			assert_string_equal(v.phones[0].country_code, "1");
			assert_string_equal(v.phones[0].phone_number,
					    "4155550100");
		}
		if (v.n > 1) {
			assert_string_equal(v.phones[1].country_code, "44");
			assert_string_equal(v.phones[1].phone_number,
					    "2079460958");
		}
		userdoc_verify_release(&v);
	}
}

static void test_userdoc_list_and_echo_docs(void **state)
{
	json_t *data = json_array(), *doc;
	char *text;

	(void)state;
	json_array_append_new(data, json_string("u"));
	doc = userdoc_list(data, 1);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"data\":[\"u\"],\"has_more\":true}");
	free(text);
	json_decref(doc);
	doc = userdoc_list(json_array(), 0);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"data\":[],\"has_more\":false}");
	free(text);
	json_decref(doc);
	assert_null(userdoc_list(NULL, 0));

	doc = userdoc_echo("key k (k) auth Basic x");
	assert_string_equal(
	    json_string_value(json_object_get(doc, "message")),
	    "key k (k) auth Basic x");
	assert_string_equal(json_string_value(json_object_get(doc, "error")),
			    "key k (k) auth Basic x");
	json_decref(doc);
	assert_null(userdoc_echo("\xff not UTF-8")); /* falls back to text */
}

static void test_echo_pct_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"AZaz09-._~", "AZaz09-._~"},
	    {"e2e-secret-key-5b8d2e41", "e2e-secret-key-5b8d2e41"},
	    {"a b", "a%20b"},
	    {":/?#[]@", "%3A%2F%3F%23%5B%5D%40"},
	    {"!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D"},
	    {"100%", "100%25"},
	    {"\xc3\xa9", "%C3%A9"}, /* UTF-8 e-acute, byte by byte */
	    {"\x01\x7f\xff", "%01%7F%FF"},
	    {"\"\\", "%22%5C"},
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(echo_pct_encode(cases[i].in, out, sizeof(out)),
				 strlen(cases[i].out));
		assert_string_equal(out, cases[i].out);
	}
	/* Cut to fit like snprintf; the needed length is still returned. */
	assert_int_equal(echo_pct_encode("a b", out, 4), 5);
	assert_string_equal(out, "a%2");
	assert_int_equal(echo_pct_encode("ab", out, 1), 2);
	assert_string_equal(out, "");
}

static void test_echo_text(void **state)
{
	static const struct {
		const char *header, *want;
	} cases[] = {
	    /* cid:key */
	    {"Basic Y2lkOmtleQ==",
	     "bad request from client cid (cid) key key (key) auth Basic "
	     "Y2lkOmtleQ=="},
	    /* "c id:k:ey/+" - the key runs past the first colon */
	    {"Basic YyBpZDprOmV5Lys=",
	     "bad request from client c id (c%20id) key k:ey/+ (k%3Aey%2F%2B) "
	     "auth Basic YyBpZDprOmV5Lys="},
	    /* e2e-client-7f3a9c:e2e-secret-key-5b8d2e41 */
	    {"basic  ZTJlLWNsaWVudC03ZjNhOWM6ZTJlLXNlY3JldC1rZXktNWI4ZDJlNDE= ",
	     "bad request from client e2e-client-7f3a9c (e2e-client-7f3a9c) "
	     "key e2e-secret-key-5b8d2e41 (e2e-secret-key-5b8d2e41) auth "
	     "basic  ZTJlLWNsaWVudC03ZjNhOWM6ZTJlLXNlY3JldC1rZXktNWI4ZDJlNDE= "},
	    {"Bearer abc.def",
	     "bad request from client  () key  () auth Bearer abc.def"},
	    {"Basic bm9jb2xvbg==", /* nocolon */
	     "bad request from client  () key  () auth Basic bm9jb2xvbg=="},
	    {NULL, "bad request from client  () key  () auth (none)"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = echo_text(cases[i].header);

		assert_non_null(t);
		assert_string_equal(t, cases[i].want);
		free(t);
	}
}

static void test_auth_decode(void **state)
{
	char id[AUTH_DECODED_MAX + 1], key[AUTH_DECODED_MAX + 1], small[4];

	(void)state;
	assert_int_equal(auth_decode("Basic Y2lkOmtleQ==", id, sizeof(id), key,
				     sizeof(key)),
			 0);
	assert_string_equal(id, "cid");
	assert_string_equal(key, "key");
	assert_int_equal(auth_decode("Basic Og==", id, sizeof(id), key,
				     sizeof(key)),
			 0); /* ":" decodes to two empty strings */
	assert_string_equal(id, "");
	assert_string_equal(key, "");
	assert_int_equal(auth_decode("Basic !!", id, sizeof(id), key,
				     sizeof(key)),
			 -1);
	assert_string_equal(id, "");
	assert_int_equal(auth_decode(NULL, id, sizeof(id), key, sizeof(key)),
			 -1);
	/* e2e-client-7f3a9c:e2e-secret-key-5b8d2e41, cut to fit */
	assert_int_equal(
	    auth_decode("Basic ZTJlLWNsaWVudC03ZjNhOWM6ZTJlLXNlY3JldC1rZXktNWI4"
			"ZDJlNDE=",
			small, sizeof(small), key, sizeof(key)),
	    0);
	assert_string_equal(small, "e2e");
	assert_string_equal(key, "e2e-secret-key-5b8d2e41");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rng_repeats_and_formats),
	    cmocka_unit_test(test_faults_probabilities),
	    cmocka_unit_test(test_faults_token_bucket),
	    cmocka_unit_test(test_faults_pause_window),
	    cmocka_unit_test(test_auth_table),
	    cmocka_unit_test(test_store_one_user_per_phone),
	    cmocka_unit_test(test_userdoc_validation),
	    cmocka_unit_test(test_userdoc_status),
	    cmocka_unit_test(test_store_list),
	    cmocka_unit_test(test_userdoc_limit),
	    cmocka_unit_test(test_userdoc_verify_body),
	    cmocka_unit_test(test_userdoc_list_and_echo_docs),
	    cmocka_unit_test(test_echo_pct_encode),
	    cmocka_unit_test(test_echo_text),
	    cmocka_unit_test(test_auth_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
