/*
 * test_scrub.c - unit tests for lib/scrub.c, table-driven: the key, the
 * client id and the Basic token masked as they are, percent-encoded (upper
 * and lower hex) and JSON-escaped; adjacent, overlapping and edge
 * occurrences; short and absent secrets; no false positives; a large text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrub.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* base64("client-1:k3y/Secret+x") */
#define TOKEN "Y2xpZW50LTE6azN5L1NlY3JldCt4"

struct scrub_case {
	const char *name;
	const char *id;
	const char *key;
	const char *in;
	const char *want;
	size_t count;
};

/* clang-format off */
static const struct scrub_case cases[] = {
	{"nothing to mask", "client-1", "k3y/Secret+x",
	 "{\"message\":\"phone number invalid\"}",
	 "{\"message\":\"phone number invalid\"}", 0},
	{"plain key", "client-1", "k3y/Secret+x",
	 "bad key k3y/Secret+x here", "bad key ************ here", 1},
	{"plain client id", "client-1", "k3y/Secret+x",
	 "id=client-1;", "id=********;", 1},
	{"percent upper", "client-1", "k3y/Secret+x",
	 "key=k3y%2FSecret%2Bx&", "key=****************&", 1},
	{"percent lower", "client-1", "k3y/Secret+x",
	 "key=k3y%2fSecret%2bx&", "key=****************&", 1},
	{"json escaped slash", "client-1", "k3y/Secret+x",
	 "{\"k\":\"k3y\\/Secret+x\"}", "{\"k\":\"*************\"}", 1},
	{"basic token", "client-1", "k3y/Secret+x",
	 "Authorization: Basic " TOKEN "\r\n",
	 "Authorization: Basic ****************************\r\n", 1},
	{"token percent-encoded (no special bytes: same form)", "client-1", "k3y/Secret+x",
	 "t=" TOKEN, "t=****************************", 1},
	{"at both edges", "client-1", "k3y/Secret+x",
	 "k3y/Secret+x middle client-1", "************ middle ********", 2},
	{"whole text", "client-1", "k3y/Secret+x", "k3y/Secret+x", "************", 1},
	{"adjacent", "client-1", "k3y/Secret+x",
	 "k3y/Secret+xk3y/Secret+xclient-1", "********************************", 3},
	{"overlapping", "abab", "zzzzzz", "xababab", "x******", 2},
	{"overlapping 3", "aaaa", "zzzzzz", "aaaaaa", "******", 3},
	{"prefix only is kept", "client-1", "k3y/Secret+x",
	 "k3y/Secre and client-", "k3y/Secre and client-", 0},
	{"case matters", "client-1", "k3y/Secret+x",
	 "K3Y/SECRET+X", "K3Y/SECRET+X", 0},
	{"short secret still masked", "ab", "xy",
	 "grab xylophone", "gr** **lophone", 2},
	{"one-byte secret", "7", "k3y/Secret+x", "row 17 of 77", "row 1* of **", 3},
	{"null key", "client-1", NULL, "client-1 k3y", "******** k3y", 1},
	{"null id: no token", NULL, "k3y/Secret+x",
	 "client-1 k3y/Secret+x " TOKEN,
	 "client-1 ************ " TOKEN, 1},
	{"both null", NULL, NULL, "k3y/Secret+x client-1", "k3y/Secret+x client-1", 0},
	{"both empty", "", "", "Og== text", "Og== text", 0},
	{"empty id: token of \":key\"", "", "key1",
	 "OmtleTE= key1", "******** ****", 2},
	{"quote and backslash", "id", "a\"b\\c",
	 "{\"m\":\"a\\\"b\\\\c\"} raw a\"b\\c", "{\"m\":\"*******\"} raw *****", 2},
	{"key holding the mask byte", "client-1", "***",
	 "x***y", "x!!!y", 1},
};
/* clang-format on */

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct scrub_case *c = &cases[i];
		struct scrub s;
		struct err e;
		size_t n = strlen(c->in), got;
		char *buf = malloc(n + 1);

		assert_non_null(buf);
		memcpy(buf, c->in, n + 1);
		err_init(&e);
		assert_int_equal(scrub_init(&s, c->id, c->key, &e), 0);
		got = scrub_apply(&s, buf, n);
		if (strcmp(buf, c->want) != 0 || got != c->count)
			fail_msg("%s: \"%s\" (%zu), want \"%s\" (%zu)", c->name, buf, got,
				 c->want, c->count);
		assert_int_equal(buf[n], '\0');
		scrub_release(&s);
		free(buf);
	}
}

/* Only text[0..len) is touched; NULL and zeroed scrubs are no-ops. */
static void test_bounds_and_noops(void **state)
{
	struct scrub s, zero;
	struct err e;
	char text[] = "key1key1";

	(void)state;
	err_init(&e);
	assert_int_equal(scrub_init(&s, NULL, "key1", &e), 0);
	assert_int_equal(scrub_apply(&s, text, 6), 1);
	assert_string_equal(text, "****key1");
	assert_int_equal(scrub_apply(&s, text, 0), 0);
	assert_int_equal(scrub_apply(NULL, text, 8), 0);
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(scrub_apply(&zero, text, 8), 0);
	assert_string_equal(text, "****key1");
	scrub_release(&s);
	scrub_release(&s); /* released twice: still a no-op */
	assert_int_equal(scrub_apply(&s, text, 8), 0);
	scrub_release(&zero);
}

/* Bytes outside the unreserved set, every one of them, in both hex cases. */
static void test_percent_every_byte(void **state)
{
	char key[] = "a b!\x01\xff~.-_";
	char text[] = "[a%20b%21%01%FF~.-_][a%20b%21%01%ff~.-_]";
	struct scrub s;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(scrub_init(&s, NULL, key, &e), 0);
	assert_int_equal(scrub_apply(&s, text, strlen(text)), 2);
	assert_string_equal(text, "[******************][******************]");
	scrub_release(&s);
}

/* A 600-byte body with the secrets scattered, masked in one pass, many
 * times over: no allocation, nothing left behind. Not timed. */
static void test_large_text(void **state)
{
	static const char key[] = "sk_live_0123456789abcdef";
	char base[4096], work[4096];
	size_t n = 0;
	struct scrub s;
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(scrub_init(&s, "client-42", key, &e), 0);
	for (int i = 0; n + 64 < sizeof(base) && i < 60; i++)
		n += (size_t)snprintf(base + n, sizeof(base) - n, "%s ",
				      i % 7 == 0 ? key : (i % 5 == 0 ? "client-42" : "word"));
	for (int round = 0; round < 10000; round++) {
		memcpy(work, base, n + 1);
		assert_int_equal(scrub_apply(&s, work, n), 9 + 10);
	}
	assert_null(strstr(work, key));
	assert_null(strstr(work, "client-42"));
	assert_non_null(strstr(work, "word"));
	scrub_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bounds_and_noops),
		cmocka_unit_test(test_percent_every_byte),
		cmocka_unit_test(test_large_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
