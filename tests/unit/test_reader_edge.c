/*
 * test_reader_edge.c - the reader on inputs too big for a data file in the
 * repository, generated in /tmp at test time: a field of 1 MB (read whole)
 * and one of 1 MiB + 1 byte, a 10 MB line, a 10 MB quoted field spanning
 * lines, a 10 MB line of tiny fields, and an oversized header. Each
 * oversized record is one row with a problem and the right line number, the
 * next row reads normally, and live heap stays bounded (a few MiB, never
 * the size of the line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#include "banned.h"

#define MB 1000000u
#define MIB (1024u * 1024u)
#define HEAP_BOUND (4u * MIB) /* reader's growth we accept for any record */

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

/* Bytes of heap in use now (ASan's own count under make asan). */
#ifdef TEST_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_live(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_live(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}
#endif

struct fixture {
	char dir[64];
	char path[128];
	FILE *fp; /* the file being generated */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_reader_edge.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/big.csv", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->fp)
		fclose(f->fp);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void gen_start(struct fixture *f)
{
	f->fp = fopen(f->path, "wb");
	assert_non_null(f->fp);
}

static void put(struct fixture *f, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(fwrite(s, 1, n, f->fp), n);
}

/* n bytes of a repeating pattern (no NUL), written in chunks. */
static void put_repeat(struct fixture *f, const char *pattern, size_t n)
{
	char chunk[8192];
	size_t plen = strlen(pattern);

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = pattern[i % plen];
	assert_int_equal(sizeof(chunk) % plen, 0);
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		assert_int_equal(fwrite(chunk, 1, k, f->fp), k);
		n -= k;
	}
}

static void gen_end(struct fixture *f)
{
	assert_int_equal(fclose(f->fp), 0);
	f->fp = NULL;
}

static const char header[] = "email,country_code,phone_number,first_name,last_name\n";
static const char good_row[] = "a@example.com,1,4155550100,Ann,Lee\n";

static struct reader *open_file(struct fixture *f)
{
	struct reader *r = NULL;
	struct err e;

	err_init(&e);
	if (reader_open(&r, f->path, &e) < 0)
		fail_msg("reader_open: %s", e.msg);
	return r;
}

/* Reads the next row, failing the test at end of file or on error. */
static void next(struct reader *r, struct reader_row *row)
{
	struct err e;

	err_init(&e);
	assert_int_equal(reader_next(r, row, &e), 1);
}

static void expect_eof(struct reader *r)
{
	struct reader_row row;
	struct err e;

	err_init(&e);
	assert_int_equal(reader_next(r, &row, &e), 0);
}

static void expect_good(const struct reader_row *row, size_t rowno,
			size_t line)
{
	assert_int_equal(row->row, rowno);
	assert_int_equal(row->line, line);
	assert_null(row->problem);
	assert_int_equal(row->nfields, 5);
	assert_string_equal(row->field[0], "a@example.com");
	assert_string_equal(row->field[4], "Lee");
}

static void expect_too_long(const struct reader_row *row, size_t rowno,
			    size_t line)
{
	assert_int_equal(row->row, rowno);
	assert_int_equal(row->line, line);
	assert_non_null(row->problem);
	assert_string_equal(row->problem, "record longer than 1048576 bytes");
}

/*
 * Reads: good row, the big record (too long unless big_ok), good row, with
 * the lines given; checks the heap the reader grew while doing it; then
 * rewinds and checks the second pass sees the same.
 */
static void check_big(struct fixture *f, size_t big_line, size_t after_line,
		      int big_ok, size_t big_field, size_t big_len)
{
	size_t base = heap_live(), peak = 0, now;
	struct reader *r = open_file(f);
	struct reader_row row;
	struct err e;

	for (int pass = 0; pass < 2; pass++) {
		next(r, &row);
		expect_good(&row, 1, 2);
		next(r, &row);
		if (big_ok) {
			assert_int_equal(row.row, 2);
			assert_int_equal(row.line, big_line);
			assert_null(row.problem);
			assert_true(row.nfields > big_field);
			assert_int_equal(row.len[big_field], big_len);
		} else {
			expect_too_long(&row, 2, big_line);
		}
		now = heap_live();
		peak = now > peak ? now : peak;
		next(r, &row);
		expect_good(&row, 3, after_line);
		expect_eof(r);
		err_init(&e);
		if (pass == 0 && reader_rewind(r, &e) < 0)
			fail_msg("reader_rewind: %s", e.msg);
	}
	reader_free(r);
	if (peak > base + HEAP_BOUND)
		fail_msg("reader grew the heap by %zu bytes (bound %u)",
			 peak - base, HEAP_BOUND);
}

/* A 1 MB (10^6 bytes) field fits the 1 MiB record limit: read whole. */
static void test_1mb_field_read_whole(void **state)
{
	struct fixture *f = *state;

	gen_start(f);
	put(f, header);
	put(f, good_row);
	put(f, "b@example.com,1,4155550101,Bo,");
	put_repeat(f, "x", MB);
	put(f, "\n");
	put(f, good_row);
	gen_end(f);
	check_big(f, 3, 4, 1, 4, MB);
}

/* 1 MiB + 1 byte in one quoted field holding newlines: one invalid row,
 * the next row on the right line. */
static void test_field_over_1mib_invalid(void **state)
{
	struct fixture *f = *state;

	gen_start(f);
	put(f, header);
	put(f, good_row);
	put(f, "b@example.com,1,4155550101,Bo,\"");
	put_repeat(f, "abcdefg\n", MIB); /* MIB/8 newlines */
	put(f, "!\"\n");
	put(f, good_row);
	gen_end(f);
	check_big(f, 3, 3 + MIB / 8 + 1, 0, 0, 0);
}

/* A 10 MB line, unquoted: invalid, bounded memory, the run goes on. */
static void test_10mb_line_invalid(void **state)
{
	struct fixture *f = *state;

	gen_start(f);
	put(f, header);
	put(f, good_row);
	put(f, "b@example.com,1,4155550101,Bo,");
	put_repeat(f, "y", 10 * MB);
	put(f, "\r\n");
	put(f, good_row);
	gen_end(f);
	check_big(f, 3, 4, 0, 0, 0);
}

/* A 10 MB quoted field with doubled quotes, commas and CRLFs inside: the
 * record still ends where its quotes say, not at the first line end. */
static void test_10mb_quoted_field_invalid(void **state)
{
	struct fixture *f = *state;

	gen_start(f);
	put(f, header);
	put(f, good_row);
	put(f, "b@example.com,1,4155550101,Bo,\"");
	put_repeat(f, "a\"\",bc\r\n", 10 * MB); /* 8-byte pattern */
	put(f, "\"\n");
	put(f, good_row);
	gen_end(f);
	check_big(f, 3, 3 + 10 * MB / 8 + 1, 0, 0, 0);
}

/* A 10 MB line of empty fields: too many fields and too long, one row. */
static void test_10mb_line_of_fields_invalid(void **state)
{
	struct fixture *f = *state;

	gen_start(f);
	put(f, header);
	put(f, good_row);
	put_repeat(f, ",", 10 * MB);
	put(f, "\n");
	put(f, good_row);
	gen_end(f);
	{
		struct reader *r = open_file(f);
		struct reader_row row;
		size_t base = heap_live();

		next(r, &row);
		expect_good(&row, 1, 2);
		next(r, &row);
		assert_int_equal(row.line, 3);
		assert_non_null(row.problem);
		assert_true(heap_live() < base + HEAP_BOUND);
		next(r, &row);
		expect_good(&row, 3, 4);
		expect_eof(r);
		reader_free(r);
	}
}

/* A header over the limit is a file-level error (exit 2 in the importer). */
static void test_header_over_limit_refused(void **state)
{
	struct fixture *f = *state;
	struct reader *r = NULL;
	struct err e;

	gen_start(f);
	put(f, "email,");
	put_repeat(f, "h", 2 * MIB);
	put(f, "\n");
	put(f, good_row);
	gen_end(f);
	err_init(&e);
	assert_int_equal(reader_open(&r, f->path, &e), -1);
	assert_null(r);
	assert_non_null(strstr(e.msg, "header row is too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_1mb_field_read_whole, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_field_over_1mib_invalid, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_10mb_line_invalid, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_10mb_quoted_field_invalid,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_10mb_line_of_fields_invalid,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_over_limit_refused,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
