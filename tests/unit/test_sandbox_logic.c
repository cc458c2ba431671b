/*
 * test_sandbox_logic.c - unit tests for the pure parts of dots-sandbox:
 * rng (repeatable ids and codes), faults (decisions, token bucket, 429
 * pauses with a fake clock), auth (Basic header table), store (one user per
 * phone, SMS counts, last-code verify) and userdoc (validation messages).
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
