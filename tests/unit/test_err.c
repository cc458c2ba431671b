/*
 * test_err.c - unit tests for lib/err.c: err_init, err_set and err_prefix,
 * including truncation at ERR_MSG_MAX - 1 bytes and a NULL err.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "err.h"

#include "banned.h"

static void test_init_clears_message(void **state)
{
	struct err e;

	(void)state;
	memset(e.msg, 'x', sizeof(e.msg));
	err_init(&e);
	assert_string_equal(e.msg, "");
	err_init(NULL); /* no crash */
}

static void test_set_formats_and_returns_minus_one(void **state)
{
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(err_set(&e, "cannot open '%s': %s (%d)", "a.csv",
				 "No such file", 2),
			 -1);
	assert_string_equal(e.msg, "cannot open 'a.csv': No such file (2)");
	/* a later set replaces the message */
	assert_int_equal(err_set(&e, "second"), -1);
	assert_string_equal(e.msg, "second");
}

static void test_set_with_null_err_returns_minus_one(void **state)
{
	(void)state;
	assert_int_equal(err_set(NULL, "x %d", 1), -1);
	assert_int_equal(err_prefix(NULL, "p"), -1);
}

static void test_set_truncates_to_max_minus_one(void **state)
{
	struct err e;
	char big[ERR_MSG_MAX * 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_int_equal(e.msg[0], 'a');
	assert_int_equal(e.msg[ERR_MSG_MAX - 2], 'a');
}

static void test_prefix_puts_context_in_front(void **state)
{
	struct err e;

	(void)state;
	err_set(&e, "email: missing \"@\"");
	assert_int_equal(err_prefix(&e, "%s:%d", "users.csv", 12), -1);
	assert_string_equal(e.msg, "users.csv:12: email: missing \"@\"");
	err_prefix(&e, "import");
	assert_string_equal(e.msg, "import: users.csv:12: email: missing \"@\"");
}

static void test_prefix_on_empty_message(void **state)
{
	struct err e;

	(void)state;
	err_init(&e);
	err_prefix(&e, "ctx");
	assert_string_equal(e.msg, "ctx: ");
}

static void test_prefix_truncates_old_message(void **state)
{
	struct err e;
	char old[ERR_MSG_MAX];
	size_t len;

	(void)state;
	memset(old, 'm', sizeof(old) - 1);
	old[sizeof(old) - 1] = '\0';
	err_set(&e, "%s", old); /* 511 'm' */
	err_prefix(&e, "pre");
	len = strlen(e.msg);
	assert_int_equal(len, ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "pre: mmm", 8);
	assert_int_equal(e.msg[len - 1], 'm');
}

static void test_prefix_truncates_long_prefix(void **state)
{
	struct err e;
	char pre[ERR_MSG_MAX + 100];

	(void)state;
	memset(pre, 'p', sizeof(pre) - 1);
	pre[sizeof(pre) - 1] = '\0';
	err_set(&e, "old");
	err_prefix(&e, "%s", pre);
	/* the prefix is cut so that ": " still fits; nothing of old remains */
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_int_equal(e.msg[ERR_MSG_MAX - 4], 'p');
	assert_string_equal(e.msg + ERR_MSG_MAX - 3, ": ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_clears_message),
		cmocka_unit_test(test_set_formats_and_returns_minus_one),
		cmocka_unit_test(test_set_with_null_err_returns_minus_one),
		cmocka_unit_test(test_set_truncates_to_max_minus_one),
		cmocka_unit_test(test_prefix_puts_context_in_front),
		cmocka_unit_test(test_prefix_on_empty_message),
		cmocka_unit_test(test_prefix_truncates_old_message),
		cmocka_unit_test(test_prefix_truncates_long_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
