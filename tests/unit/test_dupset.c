/*
 * test_dupset.c - duplicate detection gives exactly the answer of a naive
 * search: first occurrences pass, later ones name the first row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dupset.h"

static void run_pass(struct dupset *d, const uint64_t *keys, size_t n)
{
	struct err e;

	dupset_init(d);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dupset_add(d, keys[i], &e), 0);
	assert_int_equal(dupset_seal(d, &e), 0);
}

static void test_table(void **state)
{
	static const struct {
		uint64_t keys[6];
		size_t n;
		int want[6];          /* dupset_check result per row */
		size_t first[6];      /* first row when a duplicate */
	} cases[] = {
		{{1, 2, 3}, 3, {0, 0, 0}, {0}},
		{{7, 7}, 2, {0, 1}, {0, 1}},
		{{5, 6, 5, 6, 5}, 5, {0, 0, 1, 1, 1}, {0, 0, 1, 2, 1}},
		{{UINT64_MAX, 1, UINT64_MAX}, 3, {0, 0, 1}, {0, 0, 1}},
		{{0x1234}, 1, {0}, {0}},
	};
	struct err e;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct dupset d;

		run_pass(&d, cases[c].keys, cases[c].n);
		for (size_t i = 0; i < cases[c].n; i++) {
			size_t first = 0;
			int rc = dupset_check(&d, cases[c].keys[i], i + 1, &first, &e);

			assert_int_equal(rc, cases[c].want[i]);
			if (rc == 1)
				assert_int_equal(first, cases[c].first[i]);
		}
		dupset_release(&d);
	}
}

static int cmp_row(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* 200 000 keys drawn from 150 000 values: compared with sort-and-scan. */
static void test_matches_naive_search(void **state)
{
	enum { N = 200000 };
	uint64_t *keys = malloc(N * sizeof(*keys));
	uint64_t (*pairs)[2] = malloc(N * sizeof(*pairs));
	size_t *want_first = calloc(N, sizeof(*want_first));
	uint64_t x = 88172645463325252ULL;
	struct dupset d;
	struct err e;
	size_t dups = 0;

	(void)state;
	assert_non_null(keys);
	assert_non_null(pairs);
	assert_non_null(want_first);
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		keys[i] = (x % 150000) * 0x10000001ULL + 1;
		pairs[i][0] = keys[i];
		pairs[i][1] = i + 1;
	}
	qsort(pairs, N, sizeof(*pairs), cmp_row);
	for (size_t i = 1; i < N; i++) {
		size_t j = i;
		while (j > 0 && pairs[j - 1][0] == pairs[i][0])
			j--;
		if (j < i)
			want_first[pairs[i][1] - 1] = (size_t)pairs[j][1];
	}
	run_pass(&d, keys, N);
	for (size_t i = 0; i < N; i++) {
		size_t first = 0;
		int rc = dupset_check(&d, keys[i], i + 1, &first, &e);

		assert_int_equal(rc, want_first[i] ? 1 : 0);
		if (rc == 1) {
			assert_int_equal(first, want_first[i]);
			dups++;
		}
	}
	assert_true(dups > 10000);
	dupset_release(&d);
	free(keys);
	free(pairs);
	free(want_first);
}

static void test_empty(void **state)
{
	struct dupset d;
	size_t first = 0;
	struct err e;

	(void)state;
	run_pass(&d, NULL, 0);
	assert_int_equal(dupset_check(&d, 42, 1, &first, &e), 0);
	dupset_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_matches_naive_search),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
