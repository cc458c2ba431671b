/*
 * test_utf8.c - unit tests for lib/utf8.c: well-formed and ill-formed
 * sequences, characters named for messages, and the streaming check that
 * tells a UTF-8 file from a Windows-1252 one across chunk ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "utf8.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_decode(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xE9);
	assert_int_equal(utf8_decode((const unsigned char *)"\xef\xbc\x8b", 3, &cp), 3);
	assert_int_equal(cp, 0xFF0B);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x9f\x9a\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F680);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3", 1, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"", 0, &cp), 0);
}

struct name_case {
	const char *in;
	size_t used;
	const char *want;
};

static const struct name_case name_cases[] = {
    {"x", 1, "'x'"},
    {"\x07", 1, "0x07"},
    {"\x7f", 1, "0x7F"},
    {"\xc3\xa9x", 2, "'\xc3\xa9' (U+00E9)"},
    {"\xef\xbc\x8b", 3, "'\xef\xbc\x8b' (U+FF0B)"},
    {"\xf0\x9f\x9a\x80", 4, "'\xf0\x9f\x9a\x80' (U+1F680)"},
    {"\xc2\xa0", 2, "U+00A0"},        /* no-break space: invisible */
    {"\xe2\x80\x8b", 3, "U+200B"},    /* zero-width space */
    {"\xe2\x80\xae", 3, "U+202E"},    /* right-to-left override */
    {"\xe2\x80\xa8", 3, "U+2028"},    /* line separator */
    {"\xc2\x85", 2, "U+0085"},        /* C1 control */
    {"\xe9x", 1, "0xE9"},             /* Windows-1252 é: not UTF-8 */
    {"\xc3", 1, "0xC3"},              /* cut short */
};

static void test_char_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(name_cases); i++) {
		char out[UTF8_NAME_MAX];
		const struct name_case *c = &name_cases[i];
		size_t n = utf8_char_name((const unsigned char *)c->in, strlen(c->in), out);

		assert_string_equal(out, c->want);
		assert_int_equal(n, c->used);
	}
}

/* Feeds s one byte at a time (every sequence crosses a chunk end). */
static void scan_bytes(struct utf8_scan *s, const char *p, size_t tag)
{
	utf8_scan_init(s);
	for (size_t i = 0; p[i]; i++)
		utf8_scan_feed(s, (const unsigned char *)p + i, 1, tag + i);
	utf8_scan_end(s, 999);
}

static void test_scan(void **state)
{
	struct utf8_scan s;

	(void)state;
	scan_bytes(&s, "plain ASCII", 1);
	assert_false(utf8_scan_looks_cp1252(&s));
	assert_int_equal(s.invalid, 0);

	scan_bytes(&s, "Ren\xc3\xa9 J\xc3\xbcrgen \xe6\x9d\x90 \xf0\x9f\x9a\x80", 1);
	assert_int_equal(s.invalid, 0);
	assert_int_equal(s.valid_multi, 4);
	assert_false(utf8_scan_looks_cp1252(&s));

	scan_bytes(&s, "Ren\xe9, M\xfcller, \x80 5", 1);
	assert_true(utf8_scan_looks_cp1252(&s));
	assert_int_equal(s.first_bad, 0xE9);
	assert_int_equal(s.first_bad_tag, 5); /* the tag of the byte after */

	/* UTF-8 with one bad byte: a UTF-8 file, rows say where */
	scan_bytes(&s, "J\xc3\xbcrgen \xe9", 1);
	assert_int_equal(s.invalid, 1);
	assert_false(utf8_scan_looks_cp1252(&s));

	/* 0x81 is not Windows-1252 */
	scan_bytes(&s, "a\x81 b\xe9", 1);
	assert_false(utf8_scan_looks_cp1252(&s));

	/* cut short at the end */
	scan_bytes(&s, "ab\xe6\x9d", 1);
	assert_int_equal(s.invalid, 1);
	assert_int_equal(s.first_bad, 0xE6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_char_name),
	    cmocka_unit_test(test_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
