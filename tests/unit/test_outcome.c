/*
 * test_outcome.c - unit tests for lib/outcome.c: every transport result and
 * every HTTP status named in the README (plus unlisted 1xx-5xx
 * samples) to one outcome; outcome names; which outcomes certainly did not
 * act and which are in doubt; DNS/TLS as configuration errors; the error
 * line (describe) with its hints, and with the credentials masked even when
 * a JSON message spells them with \u escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "outcome.h"
#include "scrub.h"

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
	/* configuration errors: nothing reached the API, resending cannot help */
	{TRANSPORT_DNS,      0,   OUTCOME_CONFIG},
	{TRANSPORT_DNS,      200, OUTCOME_CONFIG},
	{TRANSPORT_TLS,      0,   OUTCOME_CONFIG},
	{TRANSPORT_TLS,      401, OUTCOME_CONFIG},
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
	{OUTCOME_CONFIG,       "config_error",    true,  false},
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

struct describe_case {
	const char *name;
	struct outcome_info in;
	const char *prefix;
	const char *want;
};

#define BODY(s) .body = (s), .body_len = sizeof(s) - 1

/* clang-format off */
static const struct describe_case describe_cases[] = {
	{"422 with message",
	 {.outcome = OUTCOME_REJECTED, .status = 422,
	  BODY("{\"message\":\"phone invalid\"}"), .attempts = 1},
	 "", "HTTP 422: phone invalid"},
	{"503 exhausted",
	 {.outcome = OUTCOME_UNAVAILABLE, .status = 503, .attempts = 5,
	  .exhausted = true},
	 "verification: ", "verification: HTTP 503 after 5 attempts"},
	{"not sent",
	 {.outcome = OUTCOME_NOT_SENT, .transport = TRANSPORT_NOT_SENT,
	  .detail = "Failed to connect", .attempts = 2},
	 "", "cannot connect after 2 attempts: Failed to connect"},
	{"TLS",
	 {.outcome = OUTCOME_CONFIG, .transport = TRANSPORT_TLS,
	  .detail = "SSL certificate problem: self-signed certificate", .attempts = 1},
	 "", "TLS: certificate not trusted (SSL certificate problem: self-signed "
	     "certificate): use --ca-cert FILE, or check the base URL's host"},
	{"DNS with host",
	 {.outcome = OUTCOME_CONFIG, .transport = TRANSPORT_DNS,
	  .detail = "Could not resolve host: api.dots.invalid",
	  .host = "api.dots.invalid", .attempts = 1},
	 "", "cannot resolve host 'api.dots.invalid': check --base-url"},
	{"DNS of the proxy",
	 {.outcome = OUTCOME_CONFIG, .transport = TRANSPORT_DNS,
	  .detail = "Could not resolve proxy: proxy.invalid", .attempts = 1},
	 "verification: ",
	 "verification: cannot resolve host (Could not resolve proxy: proxy.invalid): "
	 "check --base-url and the proxy environment variables"},
	{"a caller's 404 verdict",
	 {.outcome = OUTCOME_CONFIG, .transport = TRANSPORT_OK, .status = 404,
	  BODY("{\"message\":\"Not Found\"}"), .attempts = 1},
	 "", "HTTP 404 on the users route: does the base URL end in /api?"},
};
/* clang-format on */

static void test_describe_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(describe_cases); i++) {
		const struct describe_case *c = &describe_cases[i];
		char out[512];

		outcome_describe(&c->in, c->prefix, out, sizeof(out));
		if (strcmp(out, c->want) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", c->name, out, c->want);
	}
}

static void test_hint_404(void **state)
{
	(void)state;
	assert_string_equal(outcome_hint_404(),
			    "HTTP 404 on the users route: does the base URL end in /api?");
}

/* The raw body holds no secret; the decoded message spells the key. */
static void test_describe_masks_decoded_secret(void **state)
{
	static const char body[] =
	    "{\"message\":\"key \\u0073k_live_42 and id \\u0063lient-7 refused\"}";
	struct scrub s;
	struct err e;
	struct outcome_info in = {.outcome = OUTCOME_REJECTED,
				  .transport = TRANSPORT_OK,
				  .status = 400,
				  .body = body,
				  .body_len = sizeof(body) - 1,
				  .attempts = 1};
	char out[256];

	(void)state;
	err_init(&e);
	assert_int_equal(scrub_init(&s, "client-7", "sk_live_42", &e), 0);
	assert_null(strstr(body, "sk_live_42"));
	outcome_describe(&in, "", out, sizeof(out));
	assert_string_equal(out, "HTTP 400: key sk_live_42 and id client-7 refused");
	in.scrub = &s;
	outcome_describe(&in, "", out, sizeof(out));
	assert_string_equal(out, "HTTP 400: key ********** and id ******** refused");
	/* detail and why are masked too */
	in.outcome = OUTCOME_BAD_RESPONSE;
	in.status = 200;
	in.why = "echoed sk_live_42";
	outcome_describe(&in, "", out, sizeof(out));
	assert_string_equal(out, "HTTP 200: echoed **********");
	in.outcome = OUTCOME_CONFIG;
	in.transport = TRANSPORT_TLS;
	in.detail = "bad cert for client-7";
	outcome_describe(&in, "", out, sizeof(out));
	assert_non_null(strstr(out, "(bad cert for ********)"));
	scrub_release(&s);
}

/* A secret across the 200-byte cut of the message, or across the caller's
 * cap, leaves no prefix of itself behind. */
static void test_describe_cut_leaves_no_prefix(void **state)
{
	char body[400];
	struct scrub s;
	struct err e;
	struct outcome_info in = {.outcome = OUTCOME_REJECTED,
				  .transport = TRANSPORT_OK,
				  .status = 400,
				  .attempts = 1};
	char out[512], small[40];

	(void)state;
	err_init(&e);
	assert_int_equal(scrub_init(&s, NULL, "sk_live_0123456789", &e), 0);
	memset(body, 'x', sizeof(body));
	memcpy(body + 190, "sk_live_0123456789", 18); /* over byte 197 */
	in.body = body;
	in.body_len = sizeof(body);
	in.scrub = &s;
	outcome_describe(&in, "", out, sizeof(out));
	assert_null(strstr(out, "sk_live"));
	assert_non_null(strstr(out, "*******..."));
	memcpy(body + 20, "sk_live_0123456789", 18); /* over the 40-byte cap */
	outcome_describe(&in, "", small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(strstr(small, "sk_"));
	scrub_release(&s);
}

static void test_describe_zero_cap(void **state)
{
	struct outcome_info in = {.outcome = OUTCOME_TIMEOUT, .attempts = 1};
	char out[1] = {'z'};

	(void)state;
	outcome_describe(&in, "", out, 0);
	assert_int_equal(out[0], 'z');
	outcome_describe(&in, "", out, 1);
	assert_int_equal(out[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_every_outcome_has_name_and_flags),
		cmocka_unit_test(test_out_of_range_outcome_is_unknown),
		cmocka_unit_test(test_describe_table),
		cmocka_unit_test(test_hint_404),
		cmocka_unit_test(test_describe_masks_decoded_secret),
		cmocka_unit_test(test_describe_cut_leaves_no_prefix),
		cmocka_unit_test(test_describe_zero_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
