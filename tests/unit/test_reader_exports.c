/*
 * test_reader_exports.c - unit tests for files as people have them: the
 * delimiter found in the header line (, ; tab |) or forced, UTF-16LE/BE by
 * BOM, gzip by magic bytes, --encoding, a Windows-1252 file read as UTF-8
 * (one error at the end of pass 1), rows of empty cells skipped, standard
 * input spooled, explicit column names winning over built-in ones, and the
 * missing-column message with the header and the closest name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "reader.h"

#include "testutil.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int setup(void **state)
{
	return fixture_setup(state, "test_reader_exports", "in.csv");
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

static void write_gzip(const char *path, const void *data, size_t len)
{
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
}

/* Every row of the file joined: cells with '|', rows with '\n'. Returns 0,
 * or -1 with the error in err (when the reading failed). */
static int read_all(struct reader *r, char *out, size_t cap, struct err *e)
{
	struct reader_row row;
	size_t o = 0;
	int rc;

	out[0] = '\0';
	while ((rc = reader_next(r, &row, e)) == 1) {
		for (size_t i = 0; i < row.nfields; i++) {
			if (i && o + 1 < cap)
				out[o++] = '|';
			for (size_t k = 0; k < row.len[i] && o + 1 < cap; k++)
				out[o++] = row.field[i][k];
		}
		if (o + 1 < cap)
			out[o++] = '\n';
		out[o] = '\0';
	}
	return rc;
}

static struct reader *open_opts(struct fixture *f, char delim, const char *enc)
{
	struct reader_opts o = {delim, enc};
	struct reader *r = NULL;
	struct err e;

	err_init(&e);
	if (reader_open_opts(&r, f->path, &o, &e) < 0)
		fail_msg("reader_open_opts: %s", e.msg);
	return r;
}

/* ---- delimiter ------------------------------------------------------------ */

struct delim_case {
	const char *name, *in;
	char force;        /* 0 = detect */
	char want_delim;
	const char *header0; /* first header cell */
	const char *rows;
};

/* clang-format off */
static const struct delim_case delim_cases[] = {
	{"comma", "a,b\n1,2\n", 0, ',', "a", "1|2\n"},
	{"semicolon (European Excel)", "a;b;c\n1,5;2;3\n", 0, ';', "a", "1,5|2|3\n"},
	{"tab", "a\tb\tc\n1\t2\t3\n", 0, '\t', "a", "1|2|3\n"},
	{"pipe", "a|b|c\n1|2|3\n", 0, '|', "a", "1|2|3\n"},
	{"tie goes to comma", "a;b,c\n1;2,3\n", 0, ',', "a;b", "1;2|3\n"},
	{"quoted candidates do not count", "\"a;b;c\",d,e\n1,2,3\n", 0, ',', "a;b;c", "1|2|3\n"},
	{"one column", "email\nx\n", 0, ',', "email", "x\n"},
	{"blank lines before the header", "\n\r\na;b\n1;2\n", 0, ';', "a", "1|2\n"},
	{"forced semicolon", "a,b;c\n1,2;3\n", ';', ';', "a,b", "1,2|3\n"},
	{"forced tab", "a;b\tc\n1;2\t3\n", '\t', '\t', "a;b", "1;2|3\n"},
	{"quoted delimiter in a cell", "a;b\n\"x;y\";2\n", 0, ';', "a", "x;y|2\n"},
};
/* clang-format on */

static void test_delimiter(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(delim_cases); i++) {
		const struct delim_case *c = &delim_cases[i];
		struct reader *r;
		char got[256];
		struct err e;

		write_file(f->path, c->in, strlen(c->in));
		r = open_opts(f, c->force, NULL);
		if (reader_delimiter(r) != c->want_delim)
			fail_msg("%s: delimiter '%c'", c->name, reader_delimiter(r));
		assert_string_equal(reader_header(r, 0), c->header0);
		assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
		if (strcmp(got, c->rows) != 0)
			fail_msg("%s: rows \"%s\", want \"%s\"", c->name, got, c->rows);
		/* pass 2 uses the same delimiter */
		assert_int_equal(reader_seal(r, &e), 0);
		assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
		assert_string_equal(got, c->rows);
		reader_free(r);
	}
}

/* ---- encodings ------------------------------------------------------------ */

static const char plain[] = "email;first_name\r\na@example.com;Ren\xc3\xa9\r\n"
			    "b@example.com;\xe6\x9d\x90\r\n";
static const char plain_rows[] = "a@example.com|Ren\xc3\xa9\nb@example.com|\xe6\x9d\x90\n";

/* plain as UTF-16 (with BOM), little or big endian. */
static size_t utf16(char *out, bool le)
{
	/* every character of plain is in the BMP: é U+00E9, 材 U+6750 */
	static const unsigned short cps[] = {0};
	const unsigned char *p = (const unsigned char *)plain;
	size_t o = 0;

	(void)cps;
	out[o++] = le ? (char)0xFF : (char)0xFE;
	out[o++] = le ? (char)0xFE : (char)0xFF;
	while (*p) {
		unsigned cp;

		if (*p < 0x80) {
			cp = *p++;
		} else if ((*p & 0xE0) == 0xC0) {
			cp = (unsigned)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
			p += 2;
		} else {
			cp = (unsigned)(p[0] & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 |
			     (p[2] & 0x3F);
			p += 3;
		}
		out[o++] = (char)(le ? cp & 0xFF : cp >> 8);
		out[o++] = (char)(le ? cp >> 8 : cp & 0xFF);
	}
	return o;
}

static void check_plain(struct fixture *f, const char *enc, const char *desc)
{
	struct reader *r = open_opts(f, 0, enc);
	char got[256];
	struct err e;

	assert_int_equal(reader_delimiter(r), ';');
	assert_string_equal(reader_header(r, 0), "email");
	assert_string_equal(reader_encoding(r), desc);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_string_equal(got, plain_rows);
	assert_int_equal(reader_seal(r, &e), 0);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_string_equal(got, plain_rows);
	reader_free(r);
}

static void test_utf16_by_bom(void **state)
{
	struct fixture *f = *state;
	char buf[512];
	size_t n;

	n = utf16(buf, true);
	write_file(f->path, buf, n);
	check_plain(f, NULL, "UTF-16LE");
	check_plain(f, "windows-1252", "UTF-16LE"); /* the BOM wins */
	n = utf16(buf, false);
	write_file(f->path, buf, n);
	check_plain(f, NULL, "UTF-16BE");
	write_gzip(f->path, buf, n);
	check_plain(f, NULL, "gzip, UTF-16BE");
}

static void test_gzip(void **state)
{
	struct fixture *f = *state;

	write_gzip(f->path, plain, strlen(plain));
	check_plain(f, NULL, "gzip, UTF-8");
}

/* Many rows, compressed far below the read buffers: every row, in order. */
static void test_gzip_large(void **state)
{
	struct fixture *f = *state;
	size_t cap = 4u << 20, n = 0, rows = 0;
	char *buf = malloc(cap);
	struct reader *r;
	struct reader_row row;
	struct err e;

	assert_non_null(buf);
	n += (size_t)snprintf(buf, cap, "email,first_name\n");
	while (n + 64 < cap) {
		n += (size_t)snprintf(buf + n, cap - n, "u%zu@example.com,Name\n", rows);
		rows++;
	}
	write_gzip(f->path, buf, n);
	free(buf);
	r = open_opts(f, 0, NULL);
	for (size_t i = 0; i < rows; i++) {
		char want[48];

		assert_int_equal(reader_next(r, &row, &e), 1);
		snprintf(want, sizeof(want), "u%zu@example.com", i);
		assert_string_equal(row.field[0], want);
		assert_int_equal(row.line, i + 2);
	}
	assert_int_equal(reader_next(r, &row, &e), 0);
	assert_int_equal(reader_seal(r, &e), 0);
	for (size_t i = 0; i < rows; i++)
		assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(reader_next(r, &row, &e), 0);
	reader_free(r);
}

static void test_gzip_corrupt_or_cut(void **state)
{
	struct fixture *f = *state;
	char buf[4096];
	struct reader *r = NULL;
	struct err e;
	FILE *fp;
	size_t n;

	write_gzip(f->path, plain, strlen(plain));
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	write_file(f->path, buf, n - 12); /* cut inside the member */
	err_init(&e);
	if (reader_open(&r, f->path, &e) == 0) {
		char got[256];

		assert_int_equal(read_all(r, got, sizeof(got), &e), -1);
		reader_free(r);
	}
	assert_non_null(strstr(e.msg, "gzip"));
	buf[12] ^= 0x55; /* damage the deflate data */
	write_file(f->path, buf, n);
	err_init(&e);
	r = NULL;
	if (reader_open(&r, f->path, &e) == 0) {
		char got[256];

		assert_int_equal(read_all(r, got, sizeof(got), &e), -1);
		reader_free(r);
	}
	assert_non_null(strstr(e.msg, "gzip"));
}

/* Pass 2 checks the raw (compressed) bytes: a changed .gz stops it. */
static void test_gzip_changed_after_seal(void **state)
{
	struct fixture *f = *state;
	static const char other[] = "email;first_name\r\na@example.com;Rene\r\n"
				    "b@example.com;X\r\n";
	struct reader *r;
	struct reader_row row;
	struct err e;
	char got[256];

	write_gzip(f->path, plain, strlen(plain));
	r = open_opts(f, 0, NULL);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	write_gzip(f->path, other, strlen(other));
	err_init(&e);
	assert_int_equal(reader_seal(r, &e), -1);
	assert_true(reader_changed(r));
	assert_non_null(strstr(e.msg, "changed while it was being imported"));
	(void)row;
	reader_free(r);
}

static const char cp1252[] = "email,first_name\na@example.com,Ren\xe9\n"
			     "b@example.com,Bo\nc@example.com,M\xfcller \x80\n";

static void test_windows_1252_read_as_utf8_is_one_error(void **state)
{
	struct fixture *f = *state;
	struct reader *r;
	char got[256];
	struct err e;

	write_file(f->path, cp1252, strlen(cp1252));
	r = open_opts(f, 0, NULL);
	err_init(&e);
	assert_int_equal(read_all(r, got, sizeof(got), &e), -1);
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "'%s' is not UTF-8 (byte 0xE9 at line 2); it looks like "
			 "Windows-1252: use --encoding windows-1252",
			 f->path);
		assert_string_equal(e.msg, want);
	}
	reader_free(r);
}

static void test_encoding_option(void **state)
{
	struct fixture *f = *state;
	struct reader *r;
	char got[256];
	struct err e;

	write_file(f->path, cp1252, strlen(cp1252));
	r = open_opts(f, 0, "windows-1252");
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_string_equal(got, "a@example.com|Ren\xc3\xa9\nb@example.com|Bo\n"
				 "c@example.com|M\xc3\xbcller \xe2\x82\xac\n");
	reader_free(r);
	r = open_opts(f, 0, "latin1");
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_non_null(strstr(got, "Ren\xc3\xa9"));
	reader_free(r);
	/* an explicit UTF-8: the rows say what is wrong, no file error */
	r = open_opts(f, 0, "UTF-8");
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	reader_free(r);
}

static void test_bytes_not_in_the_encoding(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "email,first_name\na@example.com,Bo\nb@x.com,\x81x\n";
	struct reader *r;
	char got[256], want[256];
	struct err e;

	struct reader_opts o = {0, "windows-1252"};

	write_file(f->path, bad, strlen(bad));
	/* found when the block is decoded: at open for a small file */
	err_init(&e);
	r = NULL;
	if (reader_open_opts(&r, f->path, &o, &e) == 0) {
		assert_int_equal(read_all(r, got, sizeof(got), &e), -1);
		reader_free(r);
	}
	snprintf(want, sizeof(want),
		 "'%s' is not valid windows-1252 (byte 0x81 at line 3): check --encoding",
		 f->path);
	assert_string_equal(e.msg, want);
	/* read as UTF-8, 0x81 is not Windows-1252 either: rows say it */
	r = open_opts(f, 0, NULL);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	reader_free(r);
}

/* A UTF-8 file with a stray bad byte is UTF-8: its rows say where. */
static void test_utf8_with_a_bad_byte_reads_on(void **state)
{
	struct fixture *f = *state;
	static const char mixed[] = "email,first_name\na@example.com,J\xc3\xbcrgen\n"
				    "b@example.com,\xe9x\n";
	struct reader *r;
	char got[256];
	struct err e;

	write_file(f->path, mixed, strlen(mixed));
	r = open_opts(f, 0, NULL);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	reader_free(r);
}

/* ---- rows of empty cells --------------------------------------------------- */

static void test_empty_rows_skipped(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "a,b,c\n1,2,3\n,,\n\"\",,\n , ,\t\n4,5,6\n,,\n,,\n";
	struct reader *r;
	struct reader_row row;
	struct err e;

	write_file(f->path, in, strlen(in));
	r = open_opts(f, 0, NULL);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.row, 1);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.row, 2); /* not counted, like blank lines */
	assert_int_equal(row.line, 6);
	assert_string_equal(row.field[0], "4");
	assert_int_equal(reader_next(r, &row, &e), 0);
	reader_free(r);

	/* with tabs as the delimiter, a line of tabs is a row of empty cells,
	 * and the next row's line is still right */
	write_file(f->path, "a\tb\tc\n\t\t\n\t\t\t\t\n1\t2\t3\n", 20);
	r = open_opts(f, 0, NULL);
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.line, 3);
	assert_non_null(row.problem); /* 5 fields: too many, not skipped */
	assert_int_equal(reader_next(r, &row, &e), 1);
	assert_int_equal(row.row, 2);
	assert_int_equal(row.line, 4);
	assert_int_equal(reader_next(r, &row, &e), 0);
	reader_free(r);
}

/* ---- standard input --------------------------------------------------------- */

static void test_stdin_is_spooled(void **state)
{
	struct fixture *f = *state;
	int saved = dup(STDIN_FILENO), fd;
	struct reader *r = NULL;
	char got[256];
	struct err e;

	write_file(f->path, plain, strlen(plain));
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	setenv("TMPDIR", f->dir, 1);
	err_init(&e);
	assert_int_equal(reader_open(&r, "-", &e), 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	unsetenv("TMPDIR");
	unlink(f->path);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_string_equal(got, plain_rows);
	assert_int_equal(reader_seal(r, &e), 0);
	assert_int_equal(read_all(r, got, sizeof(got), &e), 0);
	assert_string_equal(got, plain_rows);
	reader_free(r);
	/* the spool file was unlinked at once: the directory is empty */
	{
		DIR *d = opendir(f->dir);
		struct dirent *de;
		int n = 0;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 0);
	}
}

/* ---- column mapping ---------------------------------------------------------- */

static void test_explicit_mapping_wins(void **state)
{
	struct fixture *f = *state;
	/* an Auth0 / Firebase export */
	static const char in[] = "email,phone_number,given_name,family_name\n";
	const char *names[USER_FIELD_COUNT] = {NULL};
	int col[USER_FIELD_COUNT];
	struct reader *r;
	struct err e;

	names[USER_PHONE] = "phone_number";
	names[USER_FIRST_NAME] = "given_name";
	names[USER_LAST_NAME] = "family_name";
	write_file(f->path, in, strlen(in));
	r = open_opts(f, 0, NULL);
	err_init(&e);
	if (reader_map_columns(r, names, col, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(col[USER_EMAIL], 0);
	assert_int_equal(col[USER_PHONE], 1);
	assert_int_equal(col[USER_PHONE_NUMBER], -1);
	assert_int_equal(col[USER_COUNTRY_CODE], -1);
	assert_int_equal(col[USER_FIRST_NAME], 2);
	assert_int_equal(col[USER_LAST_NAME], 3);
	assert_int_equal(col[USER_DATE_OF_BIRTH], -1);
	reader_free(r);

	/* a header an explicit name takes is not another field's built-in */
	write_file(f->path, "email,username,first_name,last_name,phone\n", 42);
	memset(names, 0, sizeof(names));
	names[USER_FIRST_NAME] = "username";
	names[USER_USERNAME] = "first_name";
	r = open_opts(f, 0, NULL);
	assert_int_equal(reader_map_columns(r, names, col, &e), 0);
	assert_int_equal(col[USER_FIRST_NAME], 1);
	assert_int_equal(col[USER_USERNAME], 2);
	reader_free(r);
}

struct missing_case {
	const char *header;
	const char *rest; /* after "'<path>': " */
};

/* clang-format off */
static const struct missing_case missing_cases[] = {
	{"E-mail;Name;Phone\n",
	 "missing required column \"email\" (header: \"E-mail;Name;Phone\"; closest: \"E-mail\")"},
	{"Email Address,First Name,Last Name,Phone\n",
	 "missing required column \"email\" (header: \"Email Address,First Name,Last Name,Phone\")"},
	{"email,First Name,last_name,phone\n",
	 "missing required column \"first_name\" (header: \"email,First Name,last_name,phone\"; closest: \"First Name\")"},
	{"email\tfirst_name\tlast_name\n",
	 "missing required column \"phone_number\" (or a single \"phone\" column) (header: \"email\\tfirst_name\\tlast_name\")"},
	{"email,first_name,last_name,phone_number\n",
	 "missing required column \"country_code\" (header: \"email,first_name,last_name,phone_number\")"},
};
/* clang-format on */

static void test_missing_column_message(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(missing_cases); i++) {
		const struct missing_case *c = &missing_cases[i];
		int col[USER_FIELD_COUNT];
		struct reader *r;
		char want[512];
		struct err e;

		write_file(f->path, c->header, strlen(c->header));
		r = open_opts(f, 0, NULL);
		err_init(&e);
		assert_int_equal(reader_map_columns(r, NULL, col, &e), -1);
		snprintf(want, sizeof(want), "'%s': %s", f->path, c->rest);
		assert_string_equal(e.msg, want);
		reader_free(r);
	}
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_delimiter),
	    T(test_utf16_by_bom),
	    T(test_gzip),
	    T(test_gzip_large),
	    T(test_gzip_corrupt_or_cut),
	    T(test_gzip_changed_after_seal),
	    T(test_windows_1252_read_as_utf8_is_one_error),
	    T(test_encoding_option),
	    T(test_bytes_not_in_the_encoding),
	    T(test_utf8_with_a_bad_byte_reads_on),
	    T(test_empty_rows_skipped),
	    T(test_stdin_is_spooled),
	    T(test_explicit_mapping_wins),
	    T(test_missing_column_message),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
