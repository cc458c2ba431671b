/*
 * test_hash.c - unit tests for lib/hash.c: FNV-1a 64's published test
 * vectors, chaining, and that --shard still puts a phone where earlier
 * versions did (scan_shard_of is built on it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hash.h"
#include "scan.h"

#include "banned.h"

static uint64_t fnv(const char *s)
{
	return hash_fnv1a64(HASH_FNV1A64_INIT, s, strlen(s));
}

static void test_published_vectors(void **state)
{
	(void)state;
	assert_true(fnv("") == 0xcbf29ce484222325ULL);
	assert_true(fnv("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(fnv("foobar") == 0x85944171f73967e8ULL);
	assert_true(hash_fnv1a64(42, NULL, 0) == 42);
}

static void test_chained_pieces_hash_as_one(void **state)
{
	uint64_t h;

	(void)state;
	h = hash_fnv1a64(HASH_FNV1A64_INIT, "foo", 3);
	h = hash_fnv1a64(h, "bar", 3);
	assert_true(h == fnv("foobar"));
	/* bytes above 0x7f count as unsigned */
	assert_true(fnv("\xff") != fnv("\x7f"));
}

static void test_shards_are_stable(void **state)
{
	(void)state;
	assert_int_equal(scan_shard_of("1", "4155550100", 7), 2);
	assert_int_equal(scan_shard_of("44", "7700900123", 1000), 234);
	assert_int_equal(scan_shard_of("1", "4155550100", 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_vectors),
		cmocka_unit_test(test_chained_pieces_hash_as_one),
		cmocka_unit_test(test_shards_are_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
