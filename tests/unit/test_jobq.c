/*
 * test_jobq.c - the scheduler's queues: FIFO order across the ring's wrap,
 * and timers come out earliest first, only once due.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobq.h"

static void test_fifo_keeps_order_across_wrap(void **state)
{
	struct fifo q;

	(void)state;
	assert_int_equal(fifo_init(&q, 4), 0);
	for (size_t round = 0; round < 10; round++) {
		fifo_push(&q, round * 10 + 1);
		fifo_push(&q, round * 10 + 2);
		fifo_push(&q, round * 10 + 3);
		assert_int_equal(fifo_peek(&q), round * 10 + 1);
		assert_int_equal(fifo_pop(&q), round * 10 + 1);
		assert_int_equal(fifo_pop(&q), round * 10 + 2);
		assert_int_equal(fifo_pop(&q), round * 10 + 3);
		assert_int_equal(q.n, 0);
	}
	fifo_release(&q);
}

static void test_timers_earliest_first_when_due(void **state)
{
	static const struct {
		int64_t due;
		size_t idx;
	} in[] = {{50, 5}, {10, 1}, {30, 3}, {10, 9}, {40, 4}, {20, 2}, {0, 0}};
	static const int64_t want_due[] = {0, 10, 10, 20, 30, 40, 50};
	struct timerq t;
	size_t idx, n = sizeof(in) / sizeof(in[0]);

	(void)state;
	assert_int_equal(timerq_init(&t, n), 0);
	assert_true(timerq_next_ms(&t) == INT64_MAX);
	for (size_t i = 0; i < n; i++)
		timerq_push(&t, in[i].due, in[i].idx);
	assert_false(timerq_pop_due(&t, -1, &idx));
	for (size_t i = 0; i < n; i++) {
		assert_true(timerq_next_ms(&t) == want_due[i]);
		assert_false(timerq_pop_due(&t, want_due[i] - 1, &idx));
		assert_true(timerq_pop_due(&t, want_due[i], &idx));
		if (want_due[i] != 10)
			assert_int_equal(idx, (size_t)want_due[i] / 10);
		else
			assert_true(idx == 1 || idx == 9);
	}
	assert_false(timerq_pop_due(&t, INT64_MAX, &idx));
	timerq_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_keeps_order_across_wrap),
		cmocka_unit_test(test_timers_earliest_first_when_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
