/*
 * test_pace.c - when requests may start: the token bucket keeps --rate with
 * a small burst (two at 100/s), a 429 pause holds every request until its end (never a
 * millisecond early: the clock truncates), a later pause wins, and the
 * breaker trips on the 50th consecutive failure only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pace.h"

static void test_unlimited_never_waits(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 1000);
	for (int i = 0; i < 1000; i++)
		assert_true(pace_take(&p, 1000));
	assert_int_equal(pace_wait_ms(&p, 1000), 0);
}

static void test_rate_is_kept_with_a_small_burst(void **state)
{
	struct pace p;
	int taken = 0;

	(void)state;
	pace_init(&p, 100, 0); /* 100/s: one every 10 ms */
	assert_true(pace_take(&p, 0));
	assert_false(pace_take(&p, 0));
	assert_int_equal(pace_wait_ms(&p, 0), 11); /* rounded up, never early */
	assert_false(pace_take(&p, 9));
	assert_true(pace_take(&p, 10));
	/* over one second, the rate (tokens are fractions: allow 1 ms of drift) */
	for (int64_t t = 10; t <= 1015; t++)
		while (pace_take(&p, t))
			taken++;
	assert_int_equal(taken, 100);
	/* idle time does not pile up beyond the burst */
	assert_true(pace_take(&p, 5000));
	assert_true(pace_take(&p, 5000));
	assert_false(pace_take(&p, 5000));
}

static void test_pause_holds_every_request_to_its_end(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 0);
	pace_pause(&p, 1000 + 2000); /* a 429 stamped at 1000, Retry-After 2 s */
	assert_false(pace_ready(&p, 1000));
	assert_false(pace_take(&p, 2999));
	/* the 429 may have come at 1000.9: 3000 would be 0.9 ms early */
	assert_false(pace_take(&p, 3000));
	assert_int_equal(pace_wait_ms(&p, 2990), 11);
	assert_true(pace_take(&p, 3001));
	/* an earlier end does not shorten a pause, a later one extends it */
	pace_pause(&p, 4000);
	pace_pause(&p, 3500);
	assert_false(pace_take(&p, 4000));
	assert_true(pace_take(&p, 4001));
}

static void test_breaker_trips_on_the_fiftieth_failure(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 0);
	for (int i = 1; i < PACE_BREAKER_LIMIT; i++)
		assert_false(pace_count(&p, OUTCOME_UNAVAILABLE));
	assert_false(pace_count(&p, OUTCOME_OK)); /* resets */
	for (int i = 1; i < PACE_BREAKER_LIMIT; i++)
		assert_false(pace_count(&p, OUTCOME_RATE_LIMITED));
	assert_false(pace_count(&p, OUTCOME_REJECTED)); /* the API answered: resets */
	for (int i = 1; i < PACE_BREAKER_LIMIT; i++)
		assert_false(pace_count(&p, OUTCOME_SERVER_ERROR));
	assert_true(pace_count(&p, OUTCOME_SERVER_ERROR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited_never_waits),
		cmocka_unit_test(test_rate_is_kept_with_a_small_burst),
		cmocka_unit_test(test_pause_holds_every_request_to_its_end),
		cmocka_unit_test(test_breaker_trips_on_the_fiftieth_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
