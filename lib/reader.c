/*
 * reader.c - the input CSV, one record at a time, on libcsv.
 * The only reader file that parses CSV. Memory is bounded by
 * READER_MAX_RECORD whatever the file holds; a malformed record becomes a
 * row problem, never a crash or a stop. The decoded bytes come from
 * reader_src.c (file or spooled stdin, block hashes, decoding); the header
 * line's delimiter and the column mapping are reader_columns.c's.
 */
#include "reader.h"

#include <csv.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reader_int.h"
#include "utf8.h"

#include "banned.h"

struct reader {
	char *path;
	char *name;        /* for messages: "'users.csv'", "standard input" */
	struct csv_parser parser;
	bool parser_live;

	struct reader_src src;         /* the file's bytes, decoded to UTF-8 */
	unsigned char delim;           /* the field delimiter */
	bool delim_known;              /* forced, or found in the header line */

	/* Pass 1 of a file read as UTF-8: is it UTF-8 at all? */
	struct utf8_scan scan;
	bool scanning;

	unsigned char buf[READ_CHUNK]; /* decoded bytes, not yet fed */
	size_t buf_pos, buf_len;
	bool eof;          /* the decoded stream ended */
	bool at_start;     /* nothing read yet: the header line follows */
	bool finished;     /* csv_fini done */

	size_t line;       /* physical line of the next byte to feed */
	bool prev_cr;      /* last byte fed was CR (CRLF counts once) */

	/* The record being assembled: cells stored back to back, NUL after each. */
	char *rec;
	size_t rec_len, rec_cap;
	size_t nf;
	size_t off[READER_MAX_FIELDS];
	size_t lens[READER_MAX_FIELDS];
	const char *ptrs[READER_MAX_FIELDS];
	bool in_record;    /* a record has started and not ended */
	bool record_done;  /* cb2 fired: a full record is waiting */
	size_t rec_line;
	bool too_many_fields;
	bool too_long;
	bool unterminated; /* the file ended inside a quoted field */

	size_t header_n;
	char **header;
	size_t row_no;
	char problem[160];
};

/* libcsv's buffer may not grow past one record's limit: bounded memory. */
static void *bounded_realloc(void *p, size_t size)
{
	if (size > READER_MAX_RECORD + 4096)
		return NULL;
	return realloc(p, size);
}

static int parser_start(struct reader *r, struct err *err)
{
	if (r->parser_live) {
		csv_free(&r->parser);
		r->parser_live = false;
	}
	if (csv_init(&r->parser, CSV_APPEND_NULL) != 0)
		return err_set(err, "out of memory");
	csv_set_realloc_func(&r->parser, bounded_realloc);
	if (r->delim_known)
		csv_set_delim(&r->parser, r->delim);
	/* libcsv grows its field buffer linearly, by blk_size (128 bytes):
	 * 8192 reallocs, a full copy each under ASan or valgrind, to reach a
	 * 1 MiB field. 64 KiB steps need 16, and keep the bound: libcsv
	 * halves a step that bounded_realloc refuses until it fits. */
	r->parser.blk_size = READ_CHUNK;
	r->parser_live = true;
	return 0;
}

static void record_reset(struct reader *r)
{
	r->rec_len = 0;
	r->nf = 0;
	r->in_record = false;
	r->record_done = false;
	r->too_many_fields = false;
	r->too_long = false;
	r->unterminated = false;
}

static void on_field(void *s, size_t len, void *data)
{
	struct reader *r = data;
	size_t need;

	if (r->nf >= READER_MAX_FIELDS) {
		r->too_many_fields = true;
		return;
	}
	if (r->too_long || len > READER_MAX_RECORD - r->rec_len) {
		r->too_long = true;
		len = 0;
	}
	need = r->rec_len + len + 1;
	if (need > r->rec_cap) {
		size_t cap = r->rec_cap ? r->rec_cap : 1024;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(r->rec, cap);
		if (!p) {
			r->too_long = true;
			return;
		}
		r->rec = p;
		r->rec_cap = cap;
	}
	if (len)
		memcpy(r->rec + r->rec_len, s, len);
	r->rec[r->rec_len + len] = '\0';
	r->off[r->nf] = r->rec_len;
	r->lens[r->nf] = len;
	r->nf++;
	r->rec_len += len + 1;
}

static void on_record(int c, void *data)
{
	struct reader *r = data;

	(void)c;
	r->record_done = true;
	r->in_record = false;
}

/* Nothing libcsv makes a record of: blanks (a tab delimiter is not one). */
static bool is_blank_chunk(const unsigned char *p, size_t n, unsigned char delim)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') ||
		    p[i] == delim)
			return false;
	return true;
}

/*
 * libcsv could not grow its field buffer past the record limit. The record
 * is invalid either way; drop what the field holds so far and let libcsv go
 * on, so that the record still ends where its quotes say (a quoted field may
 * span lines). Only the tail that libcsv may still take back (trailing
 * spaces and a closing quote) is kept; "some spaces" stays "some spaces",
 * which is all libcsv asks of the count.
 */
static int drop_field_bytes(struct csv_parser *p, struct err *err)
{
	size_t keep;

	if (p->spaces > 64)
		p->spaces = 64;
	keep = p->spaces + 1;
	if (!p->entry_buf || keep >= p->entry_pos) /* nothing to drop: real OOM */
		return err_set(err, "out of memory");
	memmove(p->entry_buf, p->entry_buf + p->entry_pos - keep, keep);
	p->entry_pos = keep;
	return 0;
}

/* Fills buf with decoded bytes (full unless the stream ends). At the
 * start of the stream, finds the delimiter and whether to check UTF-8. */
static int fill(struct reader *r, struct err *err)
{
	size_t n = 0, got;

	r->buf_pos = 0;
	r->buf_len = 0;
	do {
		if (reader_src_read(&r->src, r->buf + n, sizeof(r->buf) - n, &got, err) < 0)
			return -1;
		n += got;
	} while (got > 0 && n < sizeof(r->buf));
	r->buf_len = n;
	if (n == 0)
		r->eof = true;
	if (r->at_start) {
		if (!r->delim_known) {
			r->delim = reader_detect_delim(r->buf, n);
			r->delim_known = true;
			csv_set_delim(&r->parser, r->delim);
		}
		r->scanning = !r->src.sealed && reader_src_plain(&r->src);
		if (r->scanning)
			utf8_scan_init(&r->scan);
	}
	r->at_start = false;
	return 0;
}

/* Line accounting for one fed chunk (ends at a line end or a buffer end). */
static void count_lines(struct reader *r, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!r->prev_cr)
				r->line++;
			r->prev_cr = false;
		} else if (p[i] == '\r') {
			r->line++;
			r->prev_cr = true;
		} else {
			r->prev_cr = false;
		}
	}
}

/*
 * Feeds bytes to libcsv one line (or buffer remainder) at a time until a
 * record completes or the file ends. Returns 1 when a record is waiting,
 * 0 at end of file, -1 on I/O error.
 */
static int pump(struct reader *r, struct err *err)
{
	while (!r->record_done) {
		const unsigned char *p, *nl;
		size_t n;

		if (r->buf_pos == r->buf_len) {
			if (r->eof) {
				if (!r->finished) {
					r->finished = true;
					if (r->scanning)
						utf8_scan_end(&r->scan, r->line);
					/* strict fini refuses (and leaves the
					 * parser as it was) exactly when a quoted
					 * field is still open */
					csv_set_opts(&r->parser, CSV_APPEND_NULL |
						     CSV_STRICT | CSV_STRICT_FINI);
					if (csv_fini(&r->parser, on_field,
						     on_record, r) != 0) {
						r->unterminated = true;
						csv_set_opts(&r->parser, CSV_APPEND_NULL);
						csv_fini(&r->parser, on_field,
							 on_record, r);
					}
					continue;
				}
				return 0;
			}
			if (fill(r, err) < 0)
				return -1;
			continue;
		}
		p = r->buf + r->buf_pos;
		n = r->buf_len - r->buf_pos;
		for (nl = p; nl < p + n && *nl != '\n' && *nl != '\r'; nl++)
			;
		if (nl < p + n)
			n = (size_t)(nl - p) + 1;
		r->buf_pos += n;

		if (!r->in_record && !is_blank_chunk(p, n, r->delim)) {
			r->in_record = true;
			r->rec_line = r->line;
		}
		if (r->scanning)
			utf8_scan_feed(&r->scan, p, n, r->line);
		for (size_t done = 0;;) {
			done += csv_parse(&r->parser, p + done, n - done,
					  on_field, on_record, r);
			if (done >= n)
				break;
			/* Only a field over the size limit gets here
			 * (bounded realloc refused). */
			r->too_long = true;
			if (drop_field_bytes(&r->parser, err) < 0)
				return -1;
		}
		count_lines(r, p, n);
	}
	return 1;
}

static int read_header(struct reader *r, struct err *err)
{
	int rc = pump(r, err);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(err, "%s is empty: a header row is required",
			       r->name);
	if (r->too_long || r->too_many_fields)
		return err_set(err, "%s: header row is too long", r->name);
	if (r->unterminated)
		return err_set(err, "%s: header row has an unterminated quoted field",
			       r->name);
	if (!r->header) {
		r->header = calloc(r->nf ? r->nf : 1, sizeof(*r->header));
		if (!r->header)
			return err_set(err, "out of memory");
		for (size_t i = 0; i < r->nf; i++) {
			r->header[i] = strdup(r->rec + r->off[i]);
			if (!r->header[i])
				return err_set(err, "out of memory");
		}
		r->header_n = r->nf;
	}
	record_reset(r);
	return 0;
}

int reader_rewind(struct reader *r, struct err *err)
{
	if (reader_src_rewind(&r->src, err) < 0)
		return -1;
	r->scanning = false;
	r->buf_pos = r->buf_len = 0;
	r->eof = r->finished = r->prev_cr = false;
	r->at_start = true;
	r->line = 1;
	r->row_no = 0;
	record_reset(r);
	if (parser_start(r, err) < 0)
		return -1;
	return read_header(r, err);
}

int reader_open_opts(struct reader **out, const char *path,
		     const struct reader_opts *opts, struct err *err)
{
	struct reader *r = calloc(1, sizeof(*r));
	bool is_stdin = strcmp(path, "-") == 0;
	size_t n;

	if (!r)
		return err_set(err, "out of memory");
	r->src.fd = -1;
	n = strlen(path) + 3;
	r->path = strdup(path);
	r->name = malloc(n < 16 ? 16 : n);
	if (!r->path || !r->name) {
		reader_free(r);
		return err_set(err, "out of memory");
	}
	if (is_stdin)
		snprintf(r->name, 16, "standard input");
	else
		snprintf(r->name, n, "'%s'", path);
	if (opts && opts->delimiter) {
		r->delim = (unsigned char)opts->delimiter;
		r->delim_known = true;
	}
	if (reader_src_open(&r->src, path, r->name, opts ? opts->encoding : NULL, err) < 0 ||
	    reader_rewind(r, err) < 0) {
		reader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int reader_open(struct reader **out, const char *path, struct err *err)
{
	return reader_open_opts(out, path, NULL, err);
}

char reader_delimiter(const struct reader *r)
{
	return (char)r->delim;
}

const char *reader_encoding(const struct reader *r)
{
	return reader_src_describe(&r->src);
}

int reader_seal(struct reader *r, struct err *err)
{
	reader_src_seal(&r->src);
	return reader_rewind(r, err);
}

bool reader_changed(const struct reader *r)
{
	return r->src.changed;
}

long long reader_appended(const struct reader *r)
{
	return reader_src_appended(&r->src);
}

size_t reader_header_count(const struct reader *r)
{
	return r->header_n;
}

const char *reader_header(const struct reader *r, size_t i)
{
	return i < r->header_n ? r->header[i] : NULL;
}

/* The header as reader_columns.c reads it. */
static struct reader_header header_of(const struct reader *r)
{
	struct reader_header h = {
		.cell = r->header,
		.n = r->header_n,
		.file = r->name,
		.delim = (char)r->delim,
		.not_utf8 = r->scanning && r->scan.invalid && !r->scan.valid_multi,
	};

	return h;
}

int reader_find_column(const struct reader *r, const char *name)
{
	struct reader_header h = header_of(r);

	return reader_columns_find(&h, name);
}

int reader_map_columns(const struct reader *r,
		       const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err)
{
	struct reader_header h = header_of(r);

	return reader_columns_map(&h, names, col, err);
}

/* True when every cell of the record is empty or blank (Excel's ",,,,"). */
static bool record_empty(const struct reader *r)
{
	for (size_t i = 0; i < r->nf; i++)
		for (size_t k = 0; k < r->lens[i]; k++)
			if (r->rec[r->off[i] + k] != ' ' && r->rec[r->off[i] + k] != '\t')
				return false;
	return true;
}

int reader_next(struct reader *r, struct reader_row *row, struct err *err)
{
	int rc;

	for (;;) {
		record_reset(r);
		rc = pump(r, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (r->scanning && utf8_scan_looks_cp1252(&r->scan))
				return err_set(err,
					       "%s is not UTF-8 (byte 0x%02X at line %zu); it "
					       "looks like Windows-1252: use --encoding "
					       "windows-1252",
					       r->name, (unsigned)r->scan.first_bad,
					       r->scan.first_bad_tag);
			return 0;
		}
		/* a row of empty cells is skipped like a blank line */
		if (r->too_long || r->unterminated || r->too_many_fields ||
		    r->nf > r->header_n || !record_empty(r))
			break;
	}
	for (size_t i = 0; i < r->nf; i++)
		r->ptrs[i] = r->rec + r->off[i];
	r->row_no++;
	row->row = r->row_no;
	row->line = r->rec_line;
	row->nfields = r->nf;
	row->field = r->ptrs;
	row->len = r->lens;
	row->problem = NULL;
	if (r->too_long) {
		snprintf(r->problem, sizeof(r->problem),
			 "record longer than %d bytes", READER_MAX_RECORD);
		row->problem = r->problem;
		row->nfields = 0;
	} else if (r->unterminated) {
		snprintf(r->problem, sizeof(r->problem),
			 "unterminated quoted field");
		row->problem = r->problem;
	} else if (r->too_many_fields || r->nf > r->header_n) {
		snprintf(r->problem, sizeof(r->problem),
			 "%s%zu fields, the header has %zu",
			 r->too_many_fields ? "over " : "", r->nf, r->header_n);
		row->problem = r->problem;
	} else if (r->nf < r->header_n) {
		snprintf(r->problem, sizeof(r->problem),
			 "%zu field%s, the header has %zu", r->nf,
			 r->nf == 1 ? "" : "s", r->header_n);
		row->problem = r->problem;
	}
	return 1;
}

void reader_free(struct reader *r)
{
	if (!r)
		return;
	if (r->parser_live)
		csv_free(&r->parser);
	reader_src_close(&r->src);
	free(r->name);
	for (size_t i = 0; i < r->header_n; i++)
		free(r->header[i]);
	free(r->header);
	free(r->rec);
	free(r->path);
	free(r);
}
