/*
 * test_series.c - unit tests for lib/series.c with made-up times: one
 * point per second, merging neighbours at the cap keeps every count and
 * the latency histogram, the memory stays at SERIES_CAP points for a run
 * of days, percentiles come from the log buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "series.h"

#include "banned.h"

static void test_one_point_per_second(void **state)
{
	struct series s;
	struct err e;

	(void)state;
	assert_int_equal(series_init(&s, &e), 0);
	series_count(&s, 0, 3, 4, 0, 0);
	series_count(&s, 999, 1, 1, 0, 0);
	series_count(&s, 1000, 5, 5, 1, 2);
	series_count(&s, 4500, 7, 7, 0, 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.step_ms, 1000);
	assert_int_equal(s.pt[0].done, 4);
	assert_int_equal(s.pt[1].done, 5);
	assert_int_equal(s.pt[1].rate_limited, 1);
	assert_int_equal(s.pt[1].retries, 2);
	assert_int_equal(s.pt[2].done, 0); /* nothing happened then */
	assert_int_equal(s.pt[4].done, 7);
	assert_int_equal(s.end_ms, 4500);
	series_release(&s);
}

static uint64_t total_done(const struct series *s)
{
	uint64_t t = 0;

	for (size_t i = 0; i < s->n; i++)
		t += s->pt[i].done;
	return t;
}

static void test_merging_keeps_every_count(void **state)
{
	struct series s;
	struct err e;
	uint64_t lat = 0;

	(void)state;
	assert_int_equal(series_init(&s, &e), 0);
	/* a week, one sample every 10 s */
	for (int64_t t = 0; t < 7LL * 86400 * 1000; t += 10000) {
		series_count(&s, t, 2, 3, 0, 0);
		series_gauge(&s, t, 8, 100, false);
		series_latency(&s, t, 40, 3);
	}
	assert_true(s.n <= SERIES_CAP);
	assert_true(s.n > SERIES_CAP / 2); /* not merged more than needed */
	assert_int_equal(total_done(&s), 2 * 7 * 8640);
	for (size_t i = 0; i < s.n; i++)
		for (int b = 0; b < SERIES_LAT_BUCKETS; b++)
			lat += s.pt[i].lat[b];
	assert_int_equal(lat, 3 * 7 * 8640);
	/* step = 1 s doubled until a week fits 2048 points: 512 s */
	assert_int_equal(s.step_ms, 512000);
	/* a gauge is a mean of its samples */
	assert_true(fabs(s.pt[3].in_flight_sum / s.pt[3].samples - 8) < 1e-9);
	assert_int_equal(s.pt[3].in_flight_max, 8);
	series_release(&s);
}

static void test_merge_takes_max_and_sums(void **state)
{
	struct series s;
	struct err e;

	(void)state;
	assert_int_equal(series_init(&s, &e), 0);
	series_gauge(&s, 0, 2, 10, false);
	series_gauge(&s, 1000, 6, 20, true);
	series_count(&s, (int64_t)SERIES_CAP * 1000, 1, 0, 0, 0); /* forces a merge */
	assert_int_equal(s.step_ms, 2000);
	assert_int_equal(s.pt[0].samples, 2);
	assert_int_equal(s.pt[0].paused_samples, 1);
	assert_int_equal(s.pt[0].in_flight_max, 6);
	assert_true(fabs(s.pt[0].rate_sum - 30) < 1e-9);
	assert_int_equal(s.n, SERIES_CAP / 2 + 1);
	assert_int_equal(s.pt[SERIES_CAP / 2].done, 1);
	series_release(&s);
}

static void test_latency_buckets_and_percentiles(void **state)
{
	struct series_point p = {0};

	(void)state;
	assert_int_equal(series_lat_bucket(0), 0);
	assert_int_equal(series_lat_bucket(0.5), 0);
	assert_int_equal(series_lat_bucket(1), 1);
	assert_int_equal(series_lat_bucket(1e9), SERIES_LAT_BUCKETS - 1);
	assert_int_equal(series_lat_bucket(NAN), 0);
	/* a bucket's value is within 13 % of every latency in it */
	for (double ms = 1; ms < 40000; ms *= 1.07) {
		double v = series_lat_value(series_lat_bucket(ms));

		assert_true(fabs(v - ms) / ms < 0.13);
	}
	assert_true(series_percentile(&p, 50) < 0); /* none */
	p.lat[series_lat_bucket(10)] = 90;
	p.lat[series_lat_bucket(500)] = 10;
	assert_true(fabs(series_percentile(&p, 50) - 10) / 10 < 0.13);
	assert_true(fabs(series_percentile(&p, 90) - 10) / 10 < 0.13);
	assert_true(fabs(series_percentile(&p, 95) - 500) / 500 < 0.13);
}

static void test_negative_time_is_the_start(void **state)
{
	struct series s;
	struct err e;

	(void)state;
	assert_int_equal(series_init(&s, &e), 0);
	series_count(&s, -5000, 1, 0, 0, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.pt[0].done, 1);
	series_release(&s);
	series_release(&s); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_point_per_second),
		cmocka_unit_test(test_merging_keeps_every_count),
		cmocka_unit_test(test_merge_takes_max_and_sums),
		cmocka_unit_test(test_latency_buckets_and_percentiles),
		cmocka_unit_test(test_negative_time_is_the_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
