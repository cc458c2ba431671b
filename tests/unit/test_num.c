/*
 * test_num.c - unit tests for lib/num.c: whole-string base-10 integers and
 * finite decimals within a range; blanks around allowed, junk, overflow,
 * NaN/infinity and empty input refused with the output left untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>

#include "num.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UNTOUCHED_L 424242L
#define UNTOUCHED_D 4242.5

struct long_case {
	const char *in;
	long min, max;
	int rc;
	long want;
};

/* clang-format off */
static const struct long_case long_cases[] = {
	{"0",                    0, 10, 0, 0},
	{"10",                   0, 10, 0, 10},
	{"7",                    7, 7,  0, 7},
	{"  42  ",               0, 100, 0, 42},
	{"\t-7\n",             -10, 10, 0, -7},
	{"+5",                   0, 10, 0, 5},
	{"007",                  0, 10, 0, 7},
	{"9223372036854775807",  LONG_MIN, LONG_MAX, 0, LONG_MAX},
	{"-9223372036854775808", LONG_MIN, LONG_MAX, 0, LONG_MIN},
	/* range */
	{"11",                   0, 10, -1, 0},
	{"-1",                   0, 10, -1, 0},
	{"6",                    7, 7,  -1, 0},
	/* overflow */
	{"9223372036854775808",  LONG_MIN, LONG_MAX, -1, 0},
	{"-9223372036854775809", LONG_MIN, LONG_MAX, -1, 0},
	{"99999999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
	/* blanks and empty */
	{"",                     0, 10, -1, 0},
	{"   ",                  0, 10, -1, 0},
	{"\t\n",                 0, 10, -1, 0},
	/* junk */
	{"12a",                  0, 100, -1, 0},
	{"a12",                  0, 100, -1, 0},
	{"1 2",                  0, 100, -1, 0},
	{"1.5",                  0, 100, -1, 0},
	{"1e3",                  0, 10000, -1, 0},
	{"0x10",                 0, 100, -1, 0},
	{"- 5",                -10, 10, -1, 0},
	{"--5",                -10, 10, -1, 0},
	{"+",                    0, 10, -1, 0},
	{"-",                  -10, 10, -1, 0},
	{"5,",                   0, 10, -1, 0},
};
/* clang-format on */

static void test_parse_long_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(long_cases); i++) {
		const struct long_case *c = &long_cases[i];
		long out = UNTOUCHED_L;
		int rc = num_parse_long(c->in, c->min, c->max, &out);

		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->in, rc, c->rc);
		if (out != (c->rc == 0 ? c->want : UNTOUCHED_L))
			fail_msg("case %zu \"%s\": out %ld", i, c->in, out);
	}
}

static void test_parse_long_null_is_refused(void **state)
{
	long out = UNTOUCHED_L;

	(void)state;
	assert_int_equal(num_parse_long(NULL, 0, 10, &out), -1);
	assert_int_equal(out, UNTOUCHED_L);
}

struct double_case {
	const char *in;
	double min, max;
	int rc;
	double want;
};

/* clang-format off */
static const struct double_case double_cases[] = {
	{"1.5",        0, 10, 0, 1.5},
	{" 2.25 ",     0, 10, 0, 2.25},
	{"-0.5",      -1, 1,  0, -0.5},
	{"2e3",        0, 5000, 0, 2000},
	{"10",         0, 10, 0, 10},
	{"0",          0, 10, 0, 0},
	{".5",         0, 1,  0, 0.5},
	/* range */
	{"10.0001",    0, 10, -1, 0},
	{"-0.1",       0, 10, -1, 0},
	/* not finite, overflow */
	{"nan",       -1e300, 1e300, -1, 0},
	{"NAN",       -1e300, 1e300, -1, 0},
	{"inf",       -1e300, 1e300, -1, 0},
	{"-infinity", -1e300, 1e300, -1, 0},
	{"1e400",     -1e300, 1e308, -1, 0},
	/* blanks, junk */
	{"",           0, 10, -1, 0},
	{"  ",         0, 10, -1, 0},
	{"1.5x",       0, 10, -1, 0},
	{"x1.5",       0, 10, -1, 0},
	{"1,5",        0, 10, -1, 0},
	{"1 5",        0, 10, -1, 0},
	{".",          0, 10, -1, 0},
	{"e5",         0, 10, -1, 0},
	/* not decimal: hexadecimal floats */
	{"0x10",       0, 100, -1, 0},
	{"0X1p3",      0, 100, -1, 0},
	{" -0x1",     -10, 10, -1, 0},
};
/* clang-format on */

static void test_parse_double_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(double_cases); i++) {
		const struct double_case *c = &double_cases[i];
		double out = UNTOUCHED_D;
		int rc = num_parse_double(c->in, c->min, c->max, &out);

		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->in, rc, c->rc);
		if (out != (c->rc == 0 ? c->want : UNTOUCHED_D))
			fail_msg("case %zu \"%s\": out %g", i, c->in, out);
	}
}

static void test_parse_double_null_is_refused(void **state)
{
	double out = UNTOUCHED_D;

	(void)state;
	assert_int_equal(num_parse_double(NULL, 0, 10, &out), -1);
	assert_true(out == UNTOUCHED_D);
}

static void test_format_u64_matches_printf(void **state)
{
	static const unsigned long long v[] = {0, 7, 9, 10, 99, 100, 12345, 4294967295ULL,
					       4294967296ULL, 18446744073709551615ULL};
	char got[21], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), "%llu", v[i]);
		assert_string_equal(num_format_u64(v[i], got), want);
	}
	for (unsigned long long x = 0; x < 100000; x += 7) {
		snprintf(want, sizeof(want), "%llu", x);
		assert_ptr_equal(num_format_u64(x, got), got);
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_table),
		cmocka_unit_test(test_parse_long_null_is_refused),
		cmocka_unit_test(test_parse_double_table),
		cmocka_unit_test(test_parse_double_null_is_refused),
		cmocka_unit_test(test_format_u64_matches_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
