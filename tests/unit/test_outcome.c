/*
 * test_outcome.c - unit tests for lib/outcome.c: every transport result and
 * every HTTP status named in CONTRACT section 4 (plus unlisted 1xx-5xx
 * samples) to one outcome; outcome names; which outcomes certainly did not
 * act and which are in doubt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>

#include "outcome.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct classify_case {
	enum transport t;
	long status;
	enum outcome want;
};

/* clang-format off */
static const struct classify_case classify_cases[] = {
	/* a complete response: the status decides */
	{TRANSPORT_OK, 200, OUTCOME_OK},
	{TRANSPORT_OK, 201, OUTCOME_OK},
	{TRANSPORT_OK, 204, OUTCOME_OK},
	{TRANSPORT_OK, 299, OUTCOME_OK},
	{TRANSPORT_OK, 400, OUTCOME_REJECTED},
	{TRANSPORT_OK, 401, OUTCOME_AUTH},
	{TRANSPORT_OK, 403, OUTCOME_AUTH},
	{TRANSPORT_OK, 404, OUTCOME_REJECTED},
	{TRANSPORT_OK, 409, OUTCOME_REJECTED},
	{TRANSPORT_OK, 418, OUTCOME_REJECTED},
	{TRANSPORT_OK, 422, OUTCOME_REJECTED},
	{TRANSPORT_OK, 429, OUTCOME_RATE_LIMITED},
	{TRANSPORT_OK, 499, OUTCOME_REJECTED},
	{TRANSPORT_OK, 500, OUTCOME_SERVER_ERROR},
	{TRANSPORT_OK, 501, OUTCOME_SERVER_ERROR},
	{TRANSPORT_OK, 502, OUTCOME_SERVER_ERROR},
	{TRANSPORT_OK, 503, OUTCOME_UNAVAILABLE},
	{TRANSPORT_OK, 504, OUTCOME_SERVER_ERROR},
	{TRANSPORT_OK, 599, OUTCOME_SERVER_ERROR},
	{TRANSPORT_OK, 100, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 199, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 301, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 302, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 304, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 0,   OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, 600, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_OK, -1,  OUTCOME_BAD_RESPONSE},
	/* no usable response: the status is ignored */
	{TRANSPORT_NOT_SENT, 0,   OUTCOME_NOT_SENT},
	{TRANSPORT_NOT_SENT, 200, OUTCOME_NOT_SENT},
	{TRANSPORT_TIMEOUT,  0,   OUTCOME_TIMEOUT},
	{TRANSPORT_TIMEOUT,  200, OUTCOME_TIMEOUT},
	{TRANSPORT_LOST,     0,   OUTCOME_LOST},
	{TRANSPORT_LOST,     503, OUTCOME_LOST},
	{TRANSPORT_TOO_BIG,  200, OUTCOME_BAD_RESPONSE},
	{TRANSPORT_TOO_BIG,  0,   OUTCOME_BAD_RESPONSE},
	{TRANSPORT_ERROR,    0,   OUTCOME_BAD_RESPONSE},
	{TRANSPORT_ERROR,    429, OUTCOME_BAD_RESPONSE},
};
/* clang-format on */

static void test_classify_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(classify_cases); i++) {
		const struct classify_case *c = &classify_cases[i];
		enum outcome got = outcome_classify(c->t, c->status);

		if (got != c->want)
			fail_msg("transport %d status %ld: %s, want %s", (int)c->t,
				 c->status, outcome_name(got), outcome_name(c->want));
	}
}

struct props {
	enum outcome o;
	const char *name;
	bool not_acted;
	bool in_doubt;
};

/* clang-format off */
static const struct props props[] = {
	{OUTCOME_OK,           "ok",              false, false},
	{OUTCOME_REJECTED,     "rejected",        false, false},
	{OUTCOME_AUTH,         "unauthorized",    true,  false},
	{OUTCOME_RATE_LIMITED, "rate_limited",    true,  false},
	{OUTCOME_UNAVAILABLE,  "unavailable",     true,  false},
	{OUTCOME_SERVER_ERROR, "server_error",    false, true},
	{OUTCOME_NOT_SENT,     "not_sent",        true,  false},
	{OUTCOME_TIMEOUT,      "timeout",         false, true},
	{OUTCOME_LOST,         "connection_lost", false, true},
	{OUTCOME_BAD_RESPONSE, "bad_response",    false, true},
};
/* clang-format on */

static void test_every_outcome_has_name_and_flags(void **state)
{
	(void)state;
	assert_int_equal(ARRAY_LEN(props), OUTCOME_COUNT);
	for (size_t i = 0; i < ARRAY_LEN(props); i++) {
		const struct props *p = &props[i];

		assert_string_equal(outcome_name(p->o), p->name);
		if (outcome_not_acted(p->o) != p->not_acted)
			fail_msg("%s: not_acted should be %d", p->name, p->not_acted);
		if (outcome_in_doubt(p->o) != p->in_doubt)
			fail_msg("%s: in_doubt should be %d", p->name, p->in_doubt);
		/* never both: either the API certainly did not act, or it may have */
		assert_false(outcome_not_acted(p->o) && outcome_in_doubt(p->o));
	}
}

static void test_out_of_range_outcome_is_unknown(void **state)
{
	(void)state;
	assert_string_equal(outcome_name(OUTCOME_COUNT), "unknown");
	assert_string_equal(outcome_name((enum outcome)1000), "unknown");
	assert_false(outcome_not_acted(OUTCOME_COUNT));
	assert_false(outcome_in_doubt(OUTCOME_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_every_outcome_has_name_and_flags),
		cmocka_unit_test(test_out_of_range_outcome_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
