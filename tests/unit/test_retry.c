/*
 * test_retry.c - unit tests for lib/retry.c with fixed random numbers:
 * full-jitter backoff growth and cap, Retry-After (bounded) winning over a
 * shorter backoff, 429 pausing everything, and the verdict for every request
 * kind x outcome: sends are never resent after they may have acted unless
 * the operator allows it; 401/403 abort; DNS/TLS configuration errors stop
 * the run with their own verdict; rejections fail at once; attempts run out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct retry_policy policy = {
	.max_attempts = 5,
	.base_delay_ms = 250,
	.max_delay_ms = 30000,
	.max_retry_after_ms = 60000,
	.resend_in_doubt = 0,
};

static void test_backoff_doubles_then_caps(void **state)
{
	/* ceiling = min(30000, 250 * 2^(attempt-1)); rnd 0.5 gives half of it */
	static const long half[21] = {
		0,     125,   250,   500,   1000,  2000,  4000,
		8000,  15000, 15000, 15000, 15000, 15000, 15000,
		15000, 15000, 15000, 15000, 15000, 15000, 15000,
	};

	(void)state;
	for (int a = 1; a <= 20; a++) {
		long got = retry_backoff_ms(&policy, a, 0.5);

		if (got != half[a])
			fail_msg("attempt %d: %ld ms, want %ld", a, got, half[a]);
		assert_int_equal(retry_backoff_ms(&policy, a, 0.0), 0);
	}
}

static void test_backoff_stays_within_ceiling(void **state)
{
	static const struct {
		int attempt;
		double rnd;
		long want;
	} cases[] = {
		{1, 0.999999, 249},   {1, 0.25, 62},    {3, 0.75, 750},
		{8, 0.999999, 29999}, {20, 0.1, 3000},  {1000, 0.5, 15000},
		/* out-of-range random numbers are clamped into [0, 1) */
		{1, 1.0, 249},        {1, 7.5, 249},    {1, -0.5, 0},
		{9, 1.0, 29999},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		long got = retry_backoff_ms(&policy, cases[i].attempt, cases[i].rnd);

		if (got != cases[i].want)
			fail_msg("attempt %d rnd %g: %ld, want %ld", cases[i].attempt,
				 cases[i].rnd, got, cases[i].want);
	}
}

static void test_backoff_with_small_cap(void **state)
{
	struct retry_policy p = policy;

	(void)state;
	p.base_delay_ms = 100;
	p.max_delay_ms = 300;
	assert_int_equal(retry_backoff_ms(&p, 1, 0.5), 50);
	assert_int_equal(retry_backoff_ms(&p, 2, 0.5), 100);
	assert_int_equal(retry_backoff_ms(&p, 3, 0.5), 150); /* 400 capped at 300 */
	assert_int_equal(retry_backoff_ms(&p, 30, 0.5), 150);
}

struct decide_case {
	enum request_kind kind;
	enum outcome o;
	int attempt;
	long retry_after_ms;
	double rnd;
	int resend_in_doubt;
	enum retry_verdict verdict;
	long delay_ms;
	int pause_all;
};

#define C REQUEST_CREATE
#define S REQUEST_SEND
#define V REQUEST_VERIFY

/* clang-format off */
static const struct decide_case decide_cases[] = {
	/* success */
	{C, OUTCOME_OK, 1, -1, 0.5, 0, RETRY_DONE, 0, 0},
	{S, OUTCOME_OK, 3, -1, 0.5, 0, RETRY_DONE, 0, 0},
	{V, OUTCOME_OK, 1, 5000, 0.5, 0, RETRY_DONE, 0, 0},
	/* 401/403: the run stops, whatever the kind or attempt */
	{C, OUTCOME_AUTH, 1, -1, 0.5, 0, RETRY_ABORT, 0, 0},
	{S, OUTCOME_AUTH, 1, -1, 0.5, 1, RETRY_ABORT, 0, 0},
	{V, OUTCOME_AUTH, 5, -1, 0.5, 0, RETRY_ABORT, 0, 0},
	/* DNS/TLS: the run stops too, told apart from 401/403; never retried
	 * (not even with a Retry-After or attempts left), never in doubt */
	{C, OUTCOME_CONFIG, 1, -1, 0.5, 0, RETRY_CONFIG, 0, 0},
	{C, OUTCOME_CONFIG, 1, 3000, 0.5, 0, RETRY_CONFIG, 0, 0},
	{S, OUTCOME_CONFIG, 1, -1, 0.5, 0, RETRY_CONFIG, 0, 0},
	{S, OUTCOME_CONFIG, 2, -1, 0.5, 1, RETRY_CONFIG, 0, 0},
	{V, OUTCOME_CONFIG, 5, -1, 0.5, 0, RETRY_CONFIG, 0, 0},
	/* 400/404/409/422: final, never retried */
	{C, OUTCOME_REJECTED, 1, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	{S, OUTCOME_REJECTED, 1, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	{S, OUTCOME_REJECTED, 1, -1, 0.5, 1, RETRY_FAIL, 0, 0},
	{V, OUTCOME_REJECTED, 1, 3000, 0.5, 0, RETRY_FAIL, 0, 0},
	/* unusable response: not retried; for a send it may have acted */
	{C, OUTCOME_BAD_RESPONSE, 1, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	{S, OUTCOME_BAD_RESPONSE, 1, -1, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	{S, OUTCOME_BAD_RESPONSE, 1, -1, 0.5, 1, RETRY_FAIL, 0, 0},
	{V, OUTCOME_BAD_RESPONSE, 1, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	/* creates and verifies: every transient failure is retried */
	{C, OUTCOME_NOT_SENT,     1, -1, 0.5, 0, RETRY_AGAIN, 125, 0},
	{C, OUTCOME_TIMEOUT,      1, -1, 0.5, 0, RETRY_AGAIN, 125, 0},
	{C, OUTCOME_LOST,         2, -1, 0.5, 0, RETRY_AGAIN, 250, 0},
	{C, OUTCOME_SERVER_ERROR, 3, -1, 0.5, 0, RETRY_AGAIN, 500, 0},
	{C, OUTCOME_UNAVAILABLE,  4, -1, 0.5, 0, RETRY_AGAIN, 1000, 0},
	{C, OUTCOME_UNAVAILABLE,  1, 3000, 0.5, 0, RETRY_AGAIN, 3000, 0},
	{V, OUTCOME_TIMEOUT,      1, -1, 0.5, 0, RETRY_AGAIN, 125, 0},
	{V, OUTCOME_LOST,         1, -1, 0.5, 0, RETRY_AGAIN, 125, 0},
	{V, OUTCOME_SERVER_ERROR, 2, -1, 0.5, 0, RETRY_AGAIN, 250, 0},
	/* 429: retried, and everything pauses (at least the base delay) */
	{C, OUTCOME_RATE_LIMITED, 1, -1, 0.5, 0, RETRY_AGAIN, 250, 1},
	{C, OUTCOME_RATE_LIMITED, 1, -1, 0.0, 0, RETRY_AGAIN, 250, 1},
	{C, OUTCOME_RATE_LIMITED, 1, 0,  0.0, 0, RETRY_AGAIN, 250, 1},
	{C, OUTCOME_RATE_LIMITED, 3, -1, 0.5, 0, RETRY_AGAIN, 500, 1},
	/* Retry-After longer than the backoff wins ... */
	{C, OUTCOME_RATE_LIMITED, 1, 5000, 0.5, 0, RETRY_AGAIN, 5000, 1},
	{C, OUTCOME_RATE_LIMITED, 4, 1001, 0.5, 0, RETRY_AGAIN, 1001, 1},
	/* ... a shorter one does not ... */
	{C, OUTCOME_RATE_LIMITED, 4, 100, 0.5, 0, RETRY_AGAIN, 1000, 1},
	/* ... and it is bounded by max_retry_after_ms */
	{C, OUTCOME_RATE_LIMITED, 1, 120000, 0.5, 0, RETRY_AGAIN, 60000, 1},
	{C, OUTCOME_SERVER_ERROR, 1, 999999, 0.5, 0, RETRY_AGAIN, 60000, 0},
	/* sends: retried only when the API certainly did not act */
	{S, OUTCOME_NOT_SENT,     1, -1, 0.5, 0, RETRY_AGAIN, 125, 0},
	{S, OUTCOME_UNAVAILABLE,  2, -1, 0.5, 0, RETRY_AGAIN, 250, 0},
	{S, OUTCOME_RATE_LIMITED, 1, 2000, 0.5, 0, RETRY_AGAIN, 2000, 1},
	{S, OUTCOME_TIMEOUT,      1, -1, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	{S, OUTCOME_LOST,         1, -1, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	{S, OUTCOME_SERVER_ERROR, 1, -1, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	{S, OUTCOME_SERVER_ERROR, 1, 4000, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	/* ... unless the operator says --resend-in-doubt */
	{S, OUTCOME_TIMEOUT,      1, -1, 0.5, 1, RETRY_AGAIN, 125, 0},
	{S, OUTCOME_LOST,         2, -1, 0.5, 1, RETRY_AGAIN, 250, 0},
	{S, OUTCOME_SERVER_ERROR, 3, -1, 0.5, 1, RETRY_AGAIN, 500, 0},
	/* attempts exhausted (5 of 5) */
	{C, OUTCOME_TIMEOUT,      5, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	{C, OUTCOME_SERVER_ERROR, 5, 3000, 0.5, 0, RETRY_FAIL, 0, 0},
	{S, OUTCOME_NOT_SENT,     5, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	{S, OUTCOME_TIMEOUT,      5, -1, 0.5, 0, RETRY_IN_DOUBT, 0, 0},
	{S, OUTCOME_TIMEOUT,      5, -1, 0.5, 1, RETRY_FAIL, 0, 0},
	{V, OUTCOME_LOST,         6, -1, 0.5, 0, RETRY_FAIL, 0, 0},
	/* a 429 allows RETRY_RATE_LIMITED_FACTOR x the attempts; the final
	 * one fails the row but still pauses every other request */
	{C, OUTCOME_RATE_LIMITED, 5, 2000, 0.5, 0, RETRY_AGAIN, 2000, 1},
	{C, OUTCOME_RATE_LIMITED, 50, 2000, 0.5, 0, RETRY_FAIL, 15000, 1},
	{C, OUTCOME_RATE_LIMITED, 5, -1, 0.0, 0, RETRY_AGAIN, 250, 1},
	{C, OUTCOME_RATE_LIMITED, 50, -1, 0.0, 0, RETRY_FAIL, 250, 1},
};
/* clang-format on */

static void test_decide_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(decide_cases); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct retry_policy p = policy;
		struct retry_decision d;

		p.resend_in_doubt = c->resend_in_doubt;
		d = retry_decide(&p, c->kind, c->o, c->attempt, c->retry_after_ms,
				 c->rnd);
		if (d.verdict != c->verdict || d.delay_ms != c->delay_ms ||
		    d.pause_all != c->pause_all)
			fail_msg("case %zu (kind %d, %s, attempt %d, retry-after %ld): "
				 "verdict %d delay %ld pause %d, want %d %ld %d",
				 i, (int)c->kind, outcome_name(c->o), c->attempt,
				 c->retry_after_ms, (int)d.verdict, d.delay_ms,
				 d.pause_all, (int)c->verdict, c->delay_ms, c->pause_all);
	}
}

static void test_single_attempt_policy_never_retries(void **state)
{
	struct retry_policy p = policy;
	static const enum outcome transient[] = {
		OUTCOME_RATE_LIMITED, OUTCOME_UNAVAILABLE, OUTCOME_SERVER_ERROR,
		OUTCOME_NOT_SENT,     OUTCOME_TIMEOUT,     OUTCOME_LOST,
	};

	(void)state;
	p.max_attempts = 1;
	for (size_t i = 0; i < ARRAY_LEN(transient); i++) {
		struct retry_decision d = retry_decide(&p, REQUEST_CREATE,
						       transient[i], 1, -1, 0.5);

		if (d.verdict != RETRY_FAIL)
			fail_msg("%s: verdict %d", outcome_name(transient[i]),
				 (int)d.verdict);
	}
}

static void test_retries_until_attempts_run_out(void **state)
{
	int again = 0, attempt;
	struct retry_decision d;

	(void)state;
	for (attempt = 1;; attempt++) {
		d = retry_decide(&policy, REQUEST_CREATE, OUTCOME_UNAVAILABLE,
				 attempt, -1, 0.5);
		if (d.verdict != RETRY_AGAIN)
			break;
		again++;
	}
	assert_int_equal(again, policy.max_attempts - 1);
	assert_int_equal(attempt, policy.max_attempts);
	assert_int_equal(d.verdict, RETRY_FAIL);
}

/* Every outcome has a verdict; only OUTCOME_CONFIG gives RETRY_CONFIG. */
static void test_config_verdict_is_only_for_config(void **state)
{
	static const enum request_kind kinds[] = {REQUEST_CREATE, REQUEST_SEND,
						  REQUEST_VERIFY};

	(void)state;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
			for (int a = 1; a <= 6; a++) {
				struct retry_decision d = retry_decide(
				    &policy, kinds[k], (enum outcome)o, a, -1, 0.5);

				if ((d.verdict == RETRY_CONFIG) != (o == OUTCOME_CONFIG))
					fail_msg("%s kind %d attempt %d: verdict %d",
						 outcome_name((enum outcome)o), (int)kinds[k],
						 a, (int)d.verdict);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_then_caps),
		cmocka_unit_test(test_backoff_stays_within_ceiling),
		cmocka_unit_test(test_backoff_with_small_cap),
		cmocka_unit_test(test_decide_table),
		cmocka_unit_test(test_single_attempt_policy_never_retries),
		cmocka_unit_test(test_retries_until_attempts_run_out),
		cmocka_unit_test(test_config_verdict_is_only_for_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
