/*
 * test_reader.c - unit tests for lib/reader.c: records with their data row
 * number and the physical line they start on, across BOM, CRLF/LF/CR line
 * ends, quoted fields (commas, doubled quotes, embedded newlines), blank
 * lines, NUL bytes, malformed and oversized records (a row problem, the next
 * row still right), rewinding, header errors, and mapping header names to
 * user fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

#include "testutil.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
	return fixture_setup(state, "test_reader", "in.csv");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static struct reader *open_bytes(struct fixture *f, const void *data, size_t len)
{
	struct reader *r = NULL;
	struct err e;

	write_file(f->path, data, len);
	err_init(&e);
	if (reader_open(&r, f->path, &e) < 0)
		fail_msg("reader_open: %s", e.msg);
	return r;
}

/* The fields of row joined with '|' (test inputs hold no '|'). */
static void join(const struct reader_row *row, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < row->nfields; i++) {
		if (i && o + 1 < cap)
			out[o++] = '|';
		for (size_t k = 0; k < row->len[i] && o + 1 < cap; k++)
			out[o++] = row->field[i][k];
	}
	out[o] = '\0';
}

struct want_row {
	size_t line;
	const char *fields;  /* joined with '|' */
	const char *problem; /* NULL = none */
};

struct read_case {
	const char *name;
	const char *in;
	size_t nheader;
	struct want_row rows[6];
	size_t nrows;
};

/* clang-format off */
static const struct read_case read_cases[] = {
	{"lf", "a,b\n1,2\n3,4\n", 2,
	 {{2, "1|2", NULL}, {3, "3|4", NULL}}, 2},
	{"no final newline", "a,b\n1,2\n3,4", 2,
	 {{2, "1|2", NULL}, {3, "3|4", NULL}}, 2},
	{"bom", "\xef\xbb\xbf" "a,b\n1,2\n", 2,
	 {{2, "1|2", NULL}}, 1},
	{"crlf", "a,b\r\n1,2\r\n3,4\r\n", 2,
	 {{2, "1|2", NULL}, {3, "3|4", NULL}}, 2},
	{"lone cr", "a,b\r1,2\r3,4\r", 2,
	 {{2, "1|2", NULL}, {3, "3|4", NULL}}, 2},
	{"mixed line ends", "a,b\r\n1,2\n3,4\r5,6\r\r\n7,8", 2,
	 {{2, "1|2", NULL}, {3, "3|4", NULL}, {4, "5|6", NULL}, {6, "7|8", NULL}}, 4},
	{"quoted comma and quotes", "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"\",\"\"\"\"\n", 2,
	 {{2, "x,y|say \"hi\"", NULL}, {3, "|\"", NULL}}, 2},
	{"embedded lf", "a,b\n\"l1\nl2\nl3\",z\n1,2\n", 2,
	 {{2, "l1\nl2\nl3|z", NULL}, {5, "1|2", NULL}}, 2},
	{"embedded crlf", "a,b\r\n\"l1\r\nl2\",z\r\n1,2\r\n", 2,
	 {{2, "l1\r\nl2|z", NULL}, {4, "1|2", NULL}}, 2},
	{"embedded lone cr", "a,b\r\"l1\rl2\",z\r1,2\r", 2,
	 {{2, "l1\rl2|z", NULL}, {4, "1|2", NULL}}, 2},
	{"embedded blank line", "a,b\nx,\"l1\n\n\nl4\"\n1,2\n", 2,
	 {{2, "x|l1\n\n\nl4", NULL}, {6, "1|2", NULL}}, 2},
	{"blank lines skipped", "a,b\n\n1,2\n\n\n3,4\n\n", 2,
	 {{3, "1|2", NULL}, {6, "3|4", NULL}}, 2},
	{"space-only lines skipped", "a,b\n   \n\t\n1,2\n  \r\n3,4\n   ", 2,
	 {{4, "1|2", NULL}, {6, "3|4", NULL}}, 2},
	{"blank lines before header", "\n\r\n  \na,b\n1,2\n", 2,
	 {{5, "1|2", NULL}}, 1},
	{"rows of empty cells are skipped", "a,b\n,\n\"\",\"\"\n , \n1,2\n", 2,
	 {{5, "1|2", NULL}}, 1},
	{"too few fields", "a,b,c\n1,2\n1\n1,2,3\n", 3,
	 {{2, "1|2", "2 fields, the header has 3"},
	  {3, "1", "1 field, the header has 3"},
	  {4, "1|2|3", NULL}}, 3},
	{"too many fields", "a,b\n1,2,3\n4,5\n", 2,
	 {{2, "1|2|3", "3 fields, the header has 2"}, {3, "4|5", NULL}}, 2},
	{"unterminated quote at eof", "a,b\n1,2\n3,\"oops\n4,5\n", 2,
	 {{2, "1|2", NULL}, {3, "3|oops\n4,5\n", "unterminated quoted field"}}, 2},
	{"unterminated quote, no newline", "a,b\n1,\"x", 2,
	 {{2, "1|x", "unterminated quoted field"}}, 1},
	{"closed quote at eof", "a,b\n1,\"x\"", 2,
	 {{2, "1|x", NULL}}, 1},
	{"header only", "a,b\n", 2, {{0, NULL, NULL}}, 0},
	{"header only, blank lines", "a,b\r\n\r\n  \r\n", 2, {{0, NULL, NULL}}, 0},
	{"header, no newline", "a,b", 2, {{0, NULL, NULL}}, 0},
};
/* clang-format on */

static void check_rows(struct reader *r, const struct read_case *c)
{
	struct reader_row row;
	struct err e;
	char got[256];

	err_init(&e);
	for (size_t i = 0; i < c->nrows; i++) {
		const struct want_row *w = &c->rows[i];

		if (reader_next(r, &row, &e) != 1)
			fail_msg("%s: row %zu missing (%s)", c->name, i + 1, e.msg);
		join(&row, got, sizeof(got));
		if (row.row != i + 1 || row.line != w->line)
			fail_msg("%s: row %zu: row %zu line %zu, want line %zu",
				 c->name, i + 1, row.row, row.line, w->line);
		if (strcmp(got, w->fields) != 0)
			fail_msg("%s: row %zu: fields \"%s\", want \"%s\"", c->name,
				 i + 1, got, w->fields);
		if (!w->problem != !row.problem ||
		    (w->problem && strcmp(w->problem, row.problem) != 0))
			fail_msg("%s: row %zu: problem \"%s\", want \"%s\"", c->name,
				 i + 1, row.problem ? row.problem : "(none)",
				 w->problem ? w->problem : "(none)");
		for (size_t k = 0; k < row.nfields; k++)
			assert_int_equal(row.field[k][row.len[k]], '\0');
	}
	if (reader_next(r, &row, &e) != 0)
		fail_msg("%s: extra row at line %zu", c->name, row.line);
	/* end of file stays end of file */
	assert_int_equal(reader_next(r, &row, &e), 0);
}

static void test_read_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(read_cases); i++) {
		const struct read_case *c = &read_cases[i];
		struct reader *r = open_bytes(f, c->in, strlen(c->in));

		if (reader_header_count(r) != c->nheader)
			fail_msg("%s: %zu header cells", c->name, reader_header_count(r));
		check_rows(r, c);
		reader_free(r);
	}
}

static void test_bom_is_not_part_of_first_header(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "\xef\xbb\xbf" "email,phone\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);

	assert_int_equal(reader_header_count(r), 2);
	assert_string_equal(reader_header(r, 0), "email");
	assert_string_equal(reader_header(r, 1), "phone");
	assert_null(reader_header(r, 2));
	reader_free(r);
}

static void test_nul_bytes_inside_field(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "a,b\nx\0y,\"q\0\"\n\0,2\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);
	struct reader_row row;
	struct err e;

	err_init(&e);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.nfields, 2);
	assert_int_equal(row.len[0], 3);
	assert_memory_equal(row.field[0], "x\0y", 3);
	assert_int_equal(row.len[1], 2);
	assert_memory_equal(row.field[1], "q\0", 2);
	assert_null(row.problem);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.line, 3);
	assert_int_equal(row.len[0], 1);
	assert_int_equal(row.field[0][0], '\0');
	assert_memory_equal(row.field[1], "2", 2);
	assert_int_equal(reader_next(r, &row, &e), 0);
	reader_free(r);
}

/* "a,b\n" + prefix + n bytes of fill + suffix + "\n3,4\n" */
static char *oversized_file(const char *prefix, size_t n, char fill,
			    const char *suffix, size_t *len)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *buf = malloc(4 + pl + n + sl + 5);
	size_t o = 0;

	assert_non_null(buf);
	memcpy(buf, "a,b\n", 4);
	o = 4;
	memcpy(buf + o, prefix, pl);
	o += pl;
	memset(buf + o, fill, n);
	o += n;
	memcpy(buf + o, suffix, sl);
	o += sl;
	memcpy(buf + o, "\n3,4\n", 5);
	*len = o + 5;
	return buf;
}

static void test_oversized_record_is_a_row_problem(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name;
		const char *prefix;
		size_t n;
		const char *suffix;
		size_t next_line;
	} cases[] = {
		{"1.5 MB unquoted", "1,", 1536 * 1024, "", 3},
		{"1.5 MB quoted", "1,\"", 1536 * 1024, "\"", 3},
		{"1.5 MB then more fields", "1,", 1536 * 1024, ",x,y,z", 3},
		{"just over the limit", "1,", READER_MAX_RECORD + 10, "", 3},
		{"many fields over the limit", "", 1800 * 1024, "", 3},
		{"crlf", "1,", 1536 * 1024, "\r", 3},
		{"1.5 MB quoted over lines", "1,\"", 1536 * 1024, "\nmore\n\"", 5},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len;
		char *buf = oversized_file(cases[i].prefix, cases[i].n, 'x',
					   cases[i].suffix, &len);
		struct reader *r;
		struct reader_row row;
		struct err e;
		char got[64];

		if (strcmp(cases[i].name, "many fields over the limit") == 0) {
			/* two fields of 900 KB each: over the limit together */
			buf[4 + 900 * 1024] = ',';
		}
		r = open_bytes(f, buf, len);
		free(buf);
		err_init(&e);
		assert_int_equal(reader_next(r, &row, &e), 1);
		assert_int_equal(row.row, 1);
		assert_int_equal(row.line, 2);
		if (!row.problem ||
		    strcmp(row.problem, "record longer than 1048576 bytes") != 0)
			fail_msg("%s: problem %s", cases[i].name,
				 row.problem ? row.problem : "(none)");
		if (reader_next(r, &row, &e) != 1)
			fail_msg("%s: next row lost", cases[i].name);
		join(&row, got, sizeof(got));
		if (row.row != 2 || row.line != cases[i].next_line ||
		    strcmp(got, "3|4") != 0 || row.problem)
			fail_msg("%s: next row %zu at line %zu: \"%s\" (%s), want line %zu",
				 cases[i].name, row.row, row.line, got,
				 row.problem ? row.problem : "ok", cases[i].next_line);
		assert_int_equal(reader_next(r, &row, &e), 0);
		reader_free(r);
	}
}

static void test_too_many_fields(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	size_t o;
	struct reader *r;
	struct reader_row row;
	struct err e;

	/* a 7-column header, then a 300-field row, then a good one */
	o = (size_t)snprintf(buf, sizeof(buf), "a,b,c,d,e,f,g\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", i ? "," : "", i);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\n1,2,3,4,5,6,7\n");
	r = open_bytes(f, buf, o);
	err_init(&e);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.line, 2);
	assert_non_null(row.problem);
	assert_string_equal(row.problem, "over 256 fields, the header has 7");
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.line, 3);
	assert_int_equal(row.nfields, 7);
	assert_null(row.problem);
	reader_free(r);

	/* 256 columns are fine in the header and in rows */
	o = 0;
	for (int line = 0; line < 2; line++) {
		for (int i = 0; i < READER_MAX_FIELDS; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d",
					      i ? "," : "", i);
		buf[o++] = '\n';
	}
	r = open_bytes(f, buf, o);
	assert_int_equal(reader_header_count(r), READER_MAX_FIELDS);
	assert_string_equal(reader_header(r, 255), "255");
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.nfields, READER_MAX_FIELDS);
	assert_null(row.problem);
	reader_free(r);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *in;
		size_t len;
		const char *suffix;
	} cases[] = {
		{"", 0, "' is empty: a header row is required"},
		{"\xef\xbb\xbf", 3, "' is empty: a header row is required"},
		{"\n\r\n   \n", 7, "' is empty: a header row is required"},
		{"email,\"phone\n1,2\n", 17, "': header row has an unterminated quoted field"},
	};
	struct reader *r = NULL;
	struct err e;
	char want[512], path[256];
	char *big;
	size_t o = 0;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		write_file(f->path, cases[i].in, cases[i].len);
		err_init(&e);
		assert_int_equal(reader_open(&r, f->path, &e), -1);
		snprintf(want, sizeof(want), "'%s%s", f->path, cases[i].suffix);
		assert_string_equal(e.msg, want);
	}

	/* a header over the field limit */
	big = malloc(8192);
	assert_non_null(big);
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(big + o, 8192 - o, "%sc%d", i ? "," : "", i);
	write_file(f->path, big, o);
	free(big);
	assert_int_equal(reader_open(&r, f->path, &e), -1);
	snprintf(want, sizeof(want), "'%s': header row is too long", f->path);
	assert_string_equal(e.msg, want);

	snprintf(path, sizeof(path), "%s/nope.csv", f->dir);
	assert_int_equal(reader_open(&r, path, &e), -1);
	snprintf(want, sizeof(want), "cannot open '%s': No such file or directory",
		 path);
	assert_string_equal(e.msg, want);

	/* a directory opens but cannot be read */
	assert_int_equal(reader_open(&r, f->dir, &e), -1);
	snprintf(want, sizeof(want), "cannot read '%s': Is a directory", f->dir);
	assert_string_equal(e.msg, want);
	reader_free(NULL);
}

static void test_rewind_gives_same_rows(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "\xef\xbb\xbf" "a,b\r\n1,2\r\n\r\n\"x\ny\",3\r\nshort\r\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);
	struct reader_row row;
	struct err e;
	char first[3][64], got[64];
	size_t lines[3];

	err_init(&e);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(reader_next(r, &row, &e), 1);
		join(&row, first[i], sizeof(first[i]));
		lines[i] = row.line;
	}
	assert_int_equal(lines[0], 2);
	assert_int_equal(lines[1], 4);
	assert_int_equal(lines[2], 6);
	assert_int_equal(reader_next(r, &row, &e), 0);

	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(reader_rewind(r, &e), 0);
		assert_int_equal(reader_header_count(r), 2);
		assert_string_equal(reader_header(r, 0), "a");
		for (int i = 0; i < 3; i++) {
			assert_int_equal(reader_next(r, &row, &e), 1);
			join(&row, got, sizeof(got));
			assert_int_equal(row.row, (size_t)i + 1);
			assert_int_equal(row.line, lines[i]);
			assert_string_equal(got, first[i]);
		}
		assert_string_equal(row.problem, "1 field, the header has 2");
		assert_int_equal(reader_next(r, &row, &e), 0);
	}
	/* rewinding in the middle works too */
	assert_int_equal(reader_rewind(r, &e), 0);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(reader_rewind(r, &e), 0);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.row, 1);
	assert_int_equal(row.line, 2);
	reader_free(r);
}

static void test_long_file_line_numbers(void **state)
{
	struct fixture *f = *state;
	/* more than one 64 KiB read: line numbers stay right across reads */
	size_t cap = 20000 * 32, o = 0;
	char *buf = malloc(cap);
	struct reader *r;
	struct reader_row row;
	struct err e;
	size_t n = 0;

	assert_non_null(buf);
	o += (size_t)snprintf(buf + o, cap - o, "a,b\r\n");
	for (int i = 0; i < 20000; i++) {
		if (i % 7 == 3)
			o += (size_t)snprintf(buf + o, cap - o, "\r\n");
		o += (size_t)snprintf(buf + o, cap - o, "%d,\"v\r\n%d\"\r\n", i, i);
	}
	r = open_bytes(f, buf, o);
	free(buf);
	err_init(&e);
	while (reader_next(r, &row, &e) == 1) {
		/* row i starts at 2 + 2 * i + (blank lines before it) */
		size_t i = n, blanks = (i + 4) / 7;
		char want[32];

		snprintf(want, sizeof(want), "v\r\n%zu", i);
		assert_int_equal(row.line, 2 + 2 * i + blanks);
		assert_int_equal(row.len[1], strlen(want));
		assert_memory_equal(row.field[1], want, strlen(want));
		n++;
	}
	assert_int_equal(n, 20000);
	reader_free(r);
}

/* ---- reader_map_columns --------------------------------------------- */

struct map_case {
	const char *name;
	const char *header;
	const char *names[USER_FIELD_COUNT];
	int rc;
	/* email, cc, number, first, last, username, metadata, phone, dob, external_id */
	int col[USER_FIELD_COUNT];
	const char *error; /* after "'<path>': " */
};

/* clang-format off */
static const struct map_case map_cases[] = {
	{"defaults", "email,country_code,phone_number,first_name,last_name,username,metadata\n",
	 {NULL}, 0, {0, 1, 2, 3, 4, 5, 6, -1, -1, -1}, NULL},
	{"order and unknown columns", "x,last_name,first_name,phone_number,y,country_code,email\n",
	 {NULL}, 0, {6, 5, 3, 2, 1, -1, -1, -1, -1, -1}, NULL},
	{"case and blanks", " EMAIL ,\tCountry_Code,phone_number  ,First_Name,LAST_NAME\t,Metadata\n",
	 {NULL}, 0, {0, 1, 2, 3, 4, -1, 5, -1, -1, -1}, NULL},
	{"single phone column", "email,phone,first_name,last_name\n",
	 {NULL}, 0, {0, -1, -1, 2, 3, -1, -1, 1, -1, -1}, NULL},
	{"phone and split columns", "email,phone,country_code,phone_number,first_name,last_name\n",
	 {NULL}, 0, {0, 2, 3, 4, 5, -1, -1, 1, -1, -1}, NULL},
	{"custom names", "E-Mail,Mobile,Given Name,Family Name,CC\n",
	 {"e-mail", "cc", "MOBILE", "given name", "Family Name", NULL, NULL, NULL},
	 0, {0, 4, 1, 2, 3, -1, -1, -1, -1, -1}, NULL},
	{"custom phone", "mail,intl,fn,ln\n",
	 {"mail", NULL, NULL, "fn", "ln", NULL, NULL, "intl"},
	 0, {0, -1, -1, 2, 3, -1, -1, 1, -1, -1}, NULL},
	{"inner blanks matter", "e mail,country_code,phone_number,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"email\""},
	{"missing email", "country_code,phone_number,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"email\""},
	{"missing first_name", "email,country_code,phone_number,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"first_name\""},
	{"missing last_name", "email,country_code,phone_number,first_name\n",
	 {NULL}, -1, {0}, "missing required column \"last_name\""},
	{"missing custom name", "email,country_code,phone_number,first_name\n",
	 {NULL, NULL, NULL, NULL, "Surname", NULL, NULL, NULL},
	 -1, {0}, "missing required column \"Surname\""},
	{"no phone at all", "email,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"phone_number\" (or a single \"phone\" column)"},
	{"only country_code", "email,country_code,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"phone_number\""},
	{"only phone_number", "email,phone_number,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"country_code\""},
	{"only phone_number, with phone", "email,phone_number,phone,first_name,last_name\n",
	 {NULL}, -1, {0}, "missing required column \"country_code\""},
	{"only custom country code", "email,cc,first_name,last_name\n",
	 {NULL, "cc", "number", NULL, NULL, NULL, NULL, NULL},
	 -1, {0}, "missing required column \"number\""},
	{"duplicate", "email,country_code,phone_number,first_name,last_name,Email\n",
	 {NULL}, -1, {0}, "column \"email\" appears twice in the header"},
	{"duplicate after trimming", "email,phone, phone ,first_name,last_name\n",
	 {NULL}, -1, {0}, "column \"phone\" appears twice in the header"},
	{"duplicate optional", "email,phone,first_name,last_name,metadata,METADATA\n",
	 {NULL}, -1, {0}, "column \"metadata\" appears twice in the header"},
	{"external_id", "email,phone,first_name,last_name,External_ID\n",
	 {NULL}, 0, {0, -1, -1, 2, 3, -1, -1, 1, -1, 4}, NULL},
	{"external_id mapped", "email,phone,first_name,last_name,uid,external_id\n",
	 {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "uid"},
	 0, {0, -1, -1, 2, 3, -1, -1, 1, -1, 4}, NULL},
	{"duplicate unknown is fine", "email,phone,first_name,last_name,x,x\n",
	 {NULL}, 0, {0, -1, -1, 2, 3, -1, -1, 1, -1, -1}, NULL},
};
/* clang-format on */

static int all_null(const char *const names[USER_FIELD_COUNT])
{
	for (int i = 0; i < USER_FIELD_COUNT; i++)
		if (names[i])
			return 0;
	return 1;
}

static void test_map_columns_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(map_cases); i++) {
		const struct map_case *c = &map_cases[i];
		struct reader *r = open_bytes(f, c->header, strlen(c->header));
		int col[USER_FIELD_COUNT];
		struct err e;
		char want[512];
		int rc;

		err_init(&e);
		rc = reader_map_columns(r, all_null(c->names) ? NULL : c->names, col, &e);
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s)", c->name, rc, e.msg);
		if (rc == 0) {
			for (int k = 0; k < USER_FIELD_COUNT; k++)
				if (col[k] != c->col[k])
					fail_msg("%s: %s in column %d, want %d", c->name,
						 user_field_names[k], col[k], c->col[k]);
		} else {
			/* the message goes on with the header and the closest
			 * name: test_reader_exports.c checks those */
			snprintf(want, sizeof(want), "'%s': %s", f->path, c->error);
			if (strncmp(e.msg, want, strlen(want)) != 0)
				fail_msg("%s: \"%s\", want \"%s\"", c->name, e.msg, want);
		}
		reader_free(r);
	}
}

static void test_map_columns_all_null_names_same_as_null(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "email,country_code,phone_number,first_name,last_name\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);
	const char *names[USER_FIELD_COUNT] = {NULL};
	int a[USER_FIELD_COUNT], b[USER_FIELD_COUNT];
	struct err e;

	err_init(&e);
	assert_int_equal(reader_map_columns(r, NULL, a, &e), 0);
	assert_int_equal(reader_map_columns(r, names, b, &e), 0);
	assert_memory_equal(a, b, sizeof(a));
	reader_free(r);
}

static void test_find_column(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "id, User Id ,EMAIL,x,x\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);

	assert_int_equal(reader_find_column(r, "id"), 0);
	assert_int_equal(reader_find_column(r, "user id"), 1);
	assert_int_equal(reader_find_column(r, "Email"), 2);
	assert_int_equal(reader_find_column(r, "x"), 3); /* the first one */
	assert_int_equal(reader_find_column(r, "userid"), -1);
	assert_int_equal(reader_find_column(r, ""), -1);
	reader_free(r);
}

/* Pass 2 after reader_seal reads exactly the validated bytes: rows appended
 * later are not seen; a change to validated bytes stops the reader before
 * any row of the changed block is returned. */
static void test_seal_appended_rows_ignored_changes_refused(void **state)
{
	struct fixture *f = *state;
	char big[300000];
	size_t n = 0;
	struct reader *r;
	struct reader_row row;
	struct err e;
	size_t rows = 0;
	FILE *fp;

	n += (size_t)snprintf(big + n, sizeof(big) - n, "a,b\n");
	for (int i = 0; n + 32 < sizeof(big); i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "row%06d,x\n", i);
	r = open_bytes(f, big, n);
	err_init(&e);
	while (reader_next(r, &row, &e) == 1)
		rows++;
	assert_int_equal(reader_seal(r, &e), 0);
	/* appended after validation */
	fp = fopen(f->path, "ab");
	assert_non_null(fp);
	fputs("appended,1\nappended,2\n", fp);
	fclose(fp);
	for (size_t i = 0; i < rows; i++)
		assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(reader_next(r, &row, &e), 0);
	assert_false(reader_changed(r));
	assert_int_equal(reader_appended(r), 22);

	/* a validated byte in the last block changes: refused before its rows */
	assert_int_equal(reader_seal(r, &e), 0);
	fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	fseek(fp, (long)n - 5, SEEK_SET);
	fputc('Z', fp);
	fclose(fp);
	size_t got = 0;
	int rc;
	while ((rc = reader_next(r, &row, &e)) == 1)
		got++;
	assert_int_equal(rc, -1);
	assert_true(reader_changed(r));
	assert_non_null(strstr(e.msg, "changed while it was being imported"));
	assert_true(got < rows);
	/* every row returned came from an unchanged block */
	assert_true(got <= (n / 65536) * 65536 / 11);
	reader_free(r);
}

/* A file that shrank after validation is a change too. */
static void test_seal_truncated_file_refused(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "a,b\n1,2\n3,4\n5,6\n";
	struct reader *r = open_bytes(f, in, sizeof(in) - 1);
	struct reader_row row;
	struct err e;

	err_init(&e);
	while (reader_next(r, &row, &e) == 1)
		;
	write_file(f->path, in, sizeof(in) - 5);
	assert_int_equal(reader_seal(r, &e), -1);
	assert_true(reader_changed(r));
	reader_free(r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_table),
		T(test_bom_is_not_part_of_first_header),
		T(test_nul_bytes_inside_field),
		T(test_oversized_record_is_a_row_problem),
		T(test_too_many_fields),
		T(test_open_errors),
		T(test_rewind_gives_same_rows),
		T(test_long_file_line_numbers),
		T(test_map_columns_table),
		T(test_map_columns_all_null_names_same_as_null),
		T(test_find_column),
		T(test_seal_appended_rows_ignored_changes_refused),
		T(test_seal_truncated_file_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
