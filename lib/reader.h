/*
 * reader.h - streaming reader of the input CSV (RFC 4180 via libcsv).
 *
 * Reads a file of any size in bounded memory: one record at a time, with
 * its 1-based data row number and the physical line it starts on. Handles
 * a UTF-8 BOM, CRLF, LF and lone CR line ends, quoted fields with commas,
 * quotes and newlines, and skips blank lines and rows of empty cells. The
 * delimiter (, ; tab |) is found in the header line unless forced; gzip and
 * UTF-16 (by BOM) are read transparently, another encoding on request.
 * Maps header names to user fields (the README: case and surrounding
 * spaces are ignored).
 */
#ifndef DOTS_READER_H
#define DOTS_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "user.h"

/* The fuzz build (tests/fuzz/run.sh) lowers these to reach the limits with
 * small inputs; every other build uses the values here. */
#ifndef READER_MAX_FIELDS
#define READER_MAX_FIELDS 256          /* fields per record kept; more = row error */
#endif
#ifndef READER_MAX_RECORD
#define READER_MAX_RECORD (1024 * 1024) /* bytes per record; more = row error */
#endif

struct reader;

/* One record, borrowed from the reader until the next reader_next call. */
struct reader_row {
	size_t row;            /* 1-based data row (the header is row 0) */
	size_t line;           /* physical line (1-based) where the record starts */
	size_t nfields;        /* fields in the record */
	const char *const *field; /* NUL-terminated cells (may hold inner NULs) */
	const size_t *len;     /* cell lengths */
	/* A problem that makes this row invalid whatever its cells say
	 * ("record longer than 1048576 bytes", "2 fields, header has 7"),
	 * or NULL. */
	const char *problem;
};

/* How to read a file; a zeroed struct (or NULL) means: detect. */
struct reader_opts {
	/* ',' ';' '\t' '|', or 0: the candidate found most often outside
	 * quotes in the header line (comma on a tie). */
	char delimiter;
	/* iconv name of the file's encoding ("windows-1252"), converted to
	 * UTF-8; NULL = UTF-8. A BOM wins either way (UTF-16LE/BE files are
	 * read by theirs). Borrowed during reader_open_opts only. */
	const char *encoding;
};

/*
 * Opens path and reads its header record. Fails (returning -1 with err set,
 * nothing allocated) when the file cannot be opened or read, is empty, or
 * its header is not a CSV record, or cannot be decoded. "-" is standard
 * input, spooled to a private temporary file (0600, unlinked at once, in
 * $TMPDIR or /tmp) so that it is read twice like a file.
 *
 * A file read as UTF-8 (no BOM, no encoding) that turns out not to be UTF-8
 * at all but reads as Windows-1252 makes the first pass fail once at its
 * end: reader_next returns -1 with "'x.csv' is not UTF-8 (byte 0xE9 at line
 * 3); it looks like Windows-1252: use --encoding windows-1252". A UTF-8
 * file with a few bad bytes reads on: its rows say where.
 */
int reader_open_opts(struct reader **out, const char *path,
		     const struct reader_opts *opts, struct err *err);

/* reader_open_opts with every option detected. */
int reader_open(struct reader **out, const char *path, struct err *err);

/* The field delimiter in use (forced or detected). */
char reader_delimiter(const struct reader *r);

/* How the file was decoded: "UTF-8", "gzip, UTF-16LE", "windows-1252". */
const char *reader_encoding(const struct reader *r);

/* Header cells, borrowed while the reader lives. */
size_t reader_header_count(const struct reader *r);
const char *reader_header(const struct reader *r, size_t i);

/*
 * Finds the column of every user field. names[f] is the header name for field
 * f (NULL = user_field_names[f]). Comparison ignores ASCII case and
 * surrounding blanks. col[f] is set to the column index or -1. An explicit
 * name wins: a header it names is not taken by another field's built-in
 * name, and an explicit "phone" (with no explicit country_code or
 * phone_number) leaves the built-in pair unmapped. Fails when a required
 * column is missing (email, first_name, last_name, and either country_code
 * + phone_number or phone), naming it with the header as read and the
 * closest header name: missing required column "email" (header:
 * "E-mail;Name;Phone"; closest: "E-mail"); or when a mapped name appears
 * twice in the header.
 */
int reader_map_columns(const struct reader *r, const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err);

/* Column index of a header name (ASCII case and blanks ignored), or -1. */
int reader_find_column(const struct reader *r, const char *name);

/*
 * The user-field view of a row: field f is the cell of column col[f]
 * (from reader_map_columns), "" when the row is too short for it, NULL
 * when the file has no such column. Cells stay borrowed from the row.
 */
void reader_user_input(const struct reader_row *row, const int col[USER_FIELD_COUNT],
		       struct user_input *in);

/*
 * Reads the next data record. Returns 1 with *row filled, 0 at end of file,
 * or -1 with err set on an I/O error (file-level: the run must stop).
 * Malformed records are returned with row->problem set, never as -1.
 */
int reader_next(struct reader *r, struct reader_row *row, struct err *err);

/* Restarts at the first data row (for the second pass). */
int reader_rewind(struct reader *r, struct err *err);

/*
 * Ends the first pass: the bytes read so far are the validated file, and
 * the reader restarts at the first data row. From now on it reads exactly
 * those bytes and no more (rows appended since are left for the next run),
 * and checks each block against what the first pass read before parsing
 * it: when the file changed, reader_next fails (-1, err says where) and
 * reader_changed is true, so no row that was not validated is ever seen.
 */
int reader_seal(struct reader *r, struct err *err);

/* A block read after reader_seal differed from the validated file. */
bool reader_changed(const struct reader *r);

/* Bytes the file has now beyond the validated part (appended during the
 * run), 0 when none or before reader_seal. */
long long reader_appended(const struct reader *r);

/* Closes the file and frees everything. NULL is a no-op. */
void reader_free(struct reader *r);

#endif
