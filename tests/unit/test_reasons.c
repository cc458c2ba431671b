/*
 * test_reasons.c - unit tests for lib/reasons.c: messages become reasons
 * without the row's own values, rows group under them with their first
 * examples, the table is bounded, emails and phones are masked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "reasons.h"

#include "banned.h"

static void test_class_table(void **state)
{
	static const struct {
		const char *msg, *want;
	} cases[] = {
		{"email: missing \"@\"", "email: missing \"@\""},
		{"email: domain \"examplecom\" has no dot", "email: domain \"...\" has no dot"},
		{"line 12: email: empty", "email: empty"},
		{"row 7: HTTP 422: phone already taken", "HTTP 422: phone already taken"},
		{"phone_number: 3 digits, expected 10 for country code 1",
		 "phone_number: N digits, expected N for country code N"},
		{"HTTP 500 after 5 attempts", "HTTP 500 after N attempts"},
		{"name: invalid UTF-8 at byte 3", "name: invalid UTF-8 at byte N"},
		{"HTTP 409: user jane@example.com exists", "HTTP 409: user ...@... exists"},
		{"phone: no digits after '+'", "phone: no digits after '+'"},
		{"phone: '+999' is not an ITU calling code", "phone: '...' is not an ITU calling code"},
		{"unterminated \"quote", "unterminated \"..."},
		{"", ""},
	};
	char out[REASONS_TEXT_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reasons_class(cases[i].msg, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
	reasons_class("HTTP 422: a long message", out, 8); /* cut, terminated */
	assert_string_equal(out, "HTTP 42");
}

static void test_rows_group_with_first_examples(void **state)
{
	struct reasons rs;
	char msg[64];

	(void)state;
	reasons_init(&rs);
	for (size_t i = 1; i <= 9; i++) {
		struct reason_row r = {i, i + 1, "invalid", "", ""};

		snprintf(r.email, sizeof(r.email), "user%zu@example.com", i);
		snprintf(msg, sizeof(msg), "line %zu: email: domain \"x%zu\" has no dot", i + 1, i);
		reasons_add(&rs, msg, &r);
	}
	reasons_add(&rs, "HTTP 500 after 5 attempts", NULL);
	reasons_add(&rs, "", NULL);   /* not an error */
	reasons_add(&rs, NULL, NULL);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.total, 10);
	assert_int_equal(rs.r[0].count, 9);
	assert_int_equal(rs.r[0].nrows, REASONS_EXAMPLES);
	assert_int_equal(rs.r[0].rows[0].row, 1);
	assert_int_equal(rs.r[0].rows[4].line, 6);
	assert_string_equal(rs.r[0].rows[2].email, "user3@example.com");
	assert_int_equal(rs.r[1].nrows, 0);
	reasons_add(&rs, "HTTP 500 after 3 attempts", NULL);
	reasons_add(&rs, "HTTP 500 after 2 attempts", NULL);
	assert_int_equal(rs.r[1].count, 3);
}

static void test_bounded_and_sorted(void **state)
{
	struct reasons rs;
	char msg[64];

	(void)state;
	reasons_init(&rs);
	for (int i = 0; i < REASONS_MAX + 5; i++) {
		snprintf(msg, sizeof(msg), "HTTP %d: no", 400 + i);
		for (int k = 0; k <= i % 3; k++)
			reasons_add(&rs, msg, NULL);
	}
	assert_int_equal(rs.n, REASONS_MAX);
	assert_true(rs.other > 0);
	reasons_sort(&rs);
	for (size_t i = 1; i < rs.n; i++)
		assert_true(rs.r[i - 1].count >= rs.r[i].count);
	assert_string_equal(rs.r[0].text, "HTTP 402: no"); /* first of the threes */
}

static void test_masking(void **state)
{
	char out[64];

	(void)state;
	reasons_mask_email("jane.doe@example.com", out, sizeof(out));
	assert_string_equal(out, "j***@e***.com");
	assert_null(strstr(out, "jane"));
	reasons_mask_email("noat", out, sizeof(out));
	assert_string_equal(out, "n***");
	reasons_mask_email("", out, sizeof(out));
	assert_string_equal(out, "");
	reasons_mask_phone("+1 4155550123", out, sizeof(out));
	assert_string_equal(out, "+1 4*******23");
	reasons_mask_phone("+1 12", out, sizeof(out));
	assert_string_equal(out, "+* **");
	reasons_mask_phone("+44 7700900123", out, 6);
	assert_string_equal(out, "+44 *"); /* cut at 5 bytes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class_table),
		cmocka_unit_test(test_rows_group_with_first_examples),
		cmocka_unit_test(test_bounded_and_sorted),
		cmocka_unit_test(test_masking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
