/*
 * fuzz_reader.c - libFuzzer target for the CSV reader and row validation:
 * the bytes become an input file; every record is read (twice, as the
 * importer does), normalised with and without a default calling code, and
 * every valid user is turned into a request body. Each input is read with
 * everything detected (delimiter, gzip, UTF-16 BOM, Windows-1252 check) and
 * again with a delimiter and an encoding forced by its last byte.
 * Checks, besides memory safety: rows are numbered 1..n on both passes with
 * the same lines, cells are NUL-terminated at their length, messages are one
 * line, a valid user re-normalises to itself and always has a body, and a
 * file that does not decode fails the same way on both passes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "reader.h"
#include "user.h"

#include "fuzz_common.h"

#define MAX_ROWS 4096 /* line numbers remembered for the second pass */

static size_t first_lines[MAX_ROWS];

/* "'=x": a value that user_normalise would defuse once more. Only one "'"
 * is dropped (user.h), so a cell "'\r'=x" gives "'=x", which as input
 * gives "=x": by design, not a finding. */
static int guarded(const char *s)
{
	return s && s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]);
}

/* A normalised user, fed back in split form, must come out unchanged. */
static void check_idempotent(const struct user *u)
{
	struct user_input in;
	struct user v;
	struct err e;

	if (guarded(u->email) || guarded(u->first_name) ||
	    guarded(u->last_name) || guarded(u->username) ||
	    (u->metadata_len >= 2 && u->metadata[0] == '\'' &&
	     strchr("=+-@\t\r", u->metadata[1])))
		return;
	memset(&in, 0, sizeof(in));
	in.field[USER_EMAIL] = u->email;
	in.field[USER_COUNTRY_CODE] = u->country_code;
	in.field[USER_PHONE_NUMBER] = u->phone_number;
	in.field[USER_FIRST_NAME] = u->first_name;
	in.field[USER_LAST_NAME] = u->last_name;
	in.field[USER_USERNAME] = u->username;
	in.field[USER_METADATA] = u->metadata;
	for (int f = 0; f < USER_FIELD_COUNT; f++)
		if (in.field[f])
			in.len[f] = f == USER_METADATA ? u->metadata_len
						       : strlen(in.field[f]);
	err_init(&e);
	if (user_normalise(&v, &in, NULL, &e) != 0) {
		fprintf(stderr, "re-normalise failed: %s\n", e.msg);
		FUZZ_CHECK(0);
	}
	FUZZ_CHECK(strcmp(u->email, v.email) == 0);
	FUZZ_CHECK(strcmp(u->country_code, v.country_code) == 0);
	FUZZ_CHECK(strcmp(u->phone_number, v.phone_number) == 0);
	FUZZ_CHECK(strcmp(u->first_name, v.first_name) == 0);
	FUZZ_CHECK(strcmp(u->last_name, v.last_name) == 0);
	FUZZ_CHECK(strcmp(u->username, v.username) == 0);
	FUZZ_CHECK(u->metadata_len == v.metadata_len);
	FUZZ_CHECK(user_phone_key(u) == user_phone_key(&v));
}

static void validate(const int col[USER_FIELD_COUNT],
		     const struct reader_row *row, const char *default_cc)
{
	struct user_rules rules = {default_cc};
	struct user_input in;
	struct user u;
	struct err e;
	char *body;
	size_t len = 0;

	reader_user_input(row, col, &in);
	err_init(&e);
	if (user_normalise(&u, &in, &rules, &e) != 0) {
		FUZZ_CHECK(e.msg[0] != '\0');
		FUZZ_CHECK(fuzz_one_line(e.msg));
		return;
	}
	FUZZ_CHECK(strlen(u.country_code) >= 1 && strlen(u.country_code) <= 3);
	FUZZ_CHECK(strlen(u.country_code) + strlen(u.phone_number) <= 15);
	FUZZ_CHECK(u.phone_number[strspn(u.phone_number, "0123456789")] == '\0');
	check_idempotent(&u);
	body = payload_create_user(NULL, &u, &len, &e);
	if (!body)
		fprintf(stderr, "payload_create_user failed: %s\n", e.msg);
	FUZZ_CHECK(body != NULL);
	FUZZ_CHECK(strlen(body) == len);
	free(body);
}

/* Reads every record; returns how many, comparing lines with pass 1. */
static size_t read_all(struct reader *r, const int col[USER_FIELD_COUNT],
		       int pass)
{
	struct reader_row row;
	struct err e;
	size_t n = 0, last_line = 0;
	int rc;

	err_init(&e);
	while ((rc = reader_next(r, &row, &e)) == 1) {
		n++;
		FUZZ_CHECK(row.row == n);
		FUZZ_CHECK(row.line > last_line); /* a record starts a line */
		last_line = row.line;
		if (n <= MAX_ROWS) {
			if (pass == 1)
				first_lines[n - 1] = row.line;
			else
				FUZZ_CHECK(first_lines[n - 1] == row.line);
		}
		if (row.problem) {
			FUZZ_CHECK(fuzz_one_line(row.problem));
		} else {
			FUZZ_CHECK(row.nfields <= READER_MAX_FIELDS);
		}
		for (size_t i = 0; i < row.nfields; i++) {
			FUZZ_CHECK(row.len[i] <= READER_MAX_RECORD);
			FUZZ_CHECK(row.field[i][row.len[i]] == '\0');
		}
		if (pass == 1) {
			if (row.problem)
				continue;
			validate(col, &row, NULL);
			validate(col, &row, "44");
			validate(col, &row, "1");
		}
	}
	/* a regular file gives no I/O error, but its bytes may not decode
	 * (gzip, UTF-16, an encoding, a Windows-1252 file read as UTF-8):
	 * one file-level error, on one line, at the same row both passes */
	FUZZ_CHECK(rc == 0 || fuzz_one_line(e.msg));
	return rc < 0 ? n + 1000000 : n;
}


/* One run of the reader over path with opts: both passes agree. */
static void run_reader(const char *path, const struct reader_opts *opts)
{
	struct reader *r = NULL;
	int col[USER_FIELD_COUNT];
	struct err e;
	size_t n1, n2;

	err_init(&e);
	if (reader_open_opts(&r, path, opts, &e) != 0) {
		FUZZ_CHECK(r == NULL);
		FUZZ_CHECK(fuzz_one_line(e.msg));
		return;
	}
	if (reader_map_columns(r, NULL, col, &e) != 0) {
		/* Keep going with what is there: more of user.c gets fuzzed. */
		FUZZ_CHECK(fuzz_one_line(e.msg));
		for (int f = 0; f < USER_FIELD_COUNT; f++)
			col[f] = reader_find_column(r, user_field_names[f]);
	}
	for (size_t i = 0; i < reader_header_count(r); i++)
		FUZZ_CHECK(reader_header(r, i) != NULL);
	FUZZ_CHECK(reader_header(r, reader_header_count(r)) == NULL);
	n1 = read_all(r, col, 1);
	FUZZ_CHECK(reader_rewind(r, &e) == 0);
	n2 = read_all(r, col, 2);
	FUZZ_CHECK(n1 == n2);
	reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', ';', '\t', '|'};
	static const char *const encodings[] = {NULL, "windows-1252", "UTF-16LE",
						"latin1"};
	const char *path = fuzz_write_file(data, size, ".csv");
	struct reader_opts opts = {0, NULL};

	if (!path)
		abort();
	run_reader(path, NULL); /* everything detected */
	/* and forced: the last byte picks a delimiter and an encoding */
	if (size > 0) {
		opts.delimiter = delims[data[size - 1] & 3];
		opts.encoding = encodings[(data[size - 1] >> 2) & 3];
		run_reader(path, &opts);
	}
	return 0;
}
