/*
 * reader.c - the input CSV, one record at a time, on libcsv.
 * The only file that parses CSV. Memory is bounded by READER_MAX_RECORD
 * whatever the file holds; a malformed record becomes a row problem, never
 * a crash or a stop.
 */
#include "reader.h"

#include <csv.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#ifndef READ_CHUNK /* lowered by the fuzz build to cross chunk ends often */
#define READ_CHUNK 65536
#endif

struct reader {
	int fd;
	char *path;
	struct csv_parser parser;
	bool parser_live;

	unsigned char buf[READ_CHUNK]; /* bytes read, not yet fed */
	size_t buf_pos, buf_len;
	bool eof;          /* read() returned 0 */
	bool at_start;     /* nothing read yet: a BOM may follow */
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

	/* What pass 1 read, so that pass 2 reads exactly the same bytes: a
	 * hash per block of READ_CHUNK bytes, checked before a block is
	 * parsed again (see reader_seal). */
	uint64_t *block_hash;
	size_t nblocks, blocks_cap;
	size_t block_no;     /* next block to read */
	uint64_t offset;     /* bytes read from the file so far */
	bool sealed;         /* pass 2: reads stop at sealed_len and are checked */
	uint64_t sealed_len;
	bool changed;        /* a block differed from pass 1 */

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

static bool is_blank_chunk(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
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

/* A fast 64-bit hash of one block (not cryptographic: it tells an
 * operator's edit from the bytes validated, not an attacker's collision). */
static uint64_t block_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001B3ULL;
	h ^= h >> 29;
	return h * 0xC4CEB9FE1A85EC53ULL;
}

/* Pass 1 keeps each block's hash; pass 2 compares. */
static int check_block(struct reader *r, size_t n, struct err *err)
{
	uint64_t h = block_hash(r->buf, n);

	if (!r->sealed) {
		if (r->nblocks == r->blocks_cap) {
			size_t cap = r->blocks_cap ? r->blocks_cap * 2 : 64;
			uint64_t *p = realloc(r->block_hash, cap * sizeof(*p));

			if (!p)
				return err_set(err, "out of memory");
			r->block_hash = p;
			r->blocks_cap = cap;
		}
		r->block_hash[r->nblocks++] = h;
		return 0;
	}
	if (r->block_no < r->nblocks && r->block_hash[r->block_no] == h)
		return 0;
	r->changed = true;
	return err_set(err,
		       "'%s' changed while it was being imported: bytes %llu-%llu differ "
		       "from the file that was validated; stopping (rows added at the end "
		       "are the next run's work, but validated rows must not change)",
		       r->path, (unsigned long long)(r->offset - n),
		       (unsigned long long)r->offset);
}

/* Reads the next block into buf: READ_CHUNK bytes unless the file (or,
 * in pass 2, the validated part of it) ends first. Returns 0, or -1 on an
 * I/O error or when a block differs from pass 1. */
static int fill(struct reader *r, struct err *err)
{
	size_t n = 0, want = sizeof(r->buf);

	if (r->sealed && r->sealed_len - r->offset < want)
		want = (size_t)(r->sealed_len - r->offset);
	while (n < want) {
		ssize_t k = read(r->fd, r->buf + n, want - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set(err, "cannot read '%s': %s", r->path,
				       strerror(errno));
		if (k == 0)
			break;
		n += (size_t)k;
	}
	r->offset += n;
	r->buf_pos = 0;
	r->buf_len = 0;
	if (n > 0 || (r->sealed && r->block_no < r->nblocks)) {
		if (check_block(r, n, err) < 0)
			return -1;
		r->block_no++;
	}
	r->buf_len = n;
	if (n == 0)
		r->eof = true;
	if (r->at_start && r->buf_len >= 3 && r->buf[0] == 0xEF &&
	    r->buf[1] == 0xBB && r->buf[2] == 0xBF)
		r->buf_pos = 3;
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

		if (!r->in_record && !is_blank_chunk(p, n)) {
			r->in_record = true;
			r->rec_line = r->line;
		}
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
		return err_set(err, "'%s' is empty: a header row is required",
			       r->path);
	if (r->too_long || r->too_many_fields)
		return err_set(err, "'%s': header row is too long", r->path);
	if (r->unterminated)
		return err_set(err, "'%s': header row has an unterminated quoted field",
			       r->path);
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
	if (lseek(r->fd, 0, SEEK_SET) < 0)
		return err_set(err, "cannot seek '%s': %s", r->path,
			       strerror(errno));
	r->offset = 0;
	r->block_no = 0;
	if (!r->sealed)
		r->nblocks = 0;
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

int reader_open(struct reader **out, const char *path, struct err *err)
{
	struct reader *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(err, "out of memory");
	r->fd = -1;
	r->path = strdup(path);
	if (!r->path) {
		reader_free(r);
		return err_set(err, "out of memory");
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		err_set(err, "cannot open '%s': %s", path, strerror(errno));
		reader_free(r);
		return -1;
	}
	if (reader_rewind(r, err) < 0) {
		reader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int reader_seal(struct reader *r, struct err *err)
{
	if (!r->sealed) {
		r->sealed_len = r->offset;
		r->sealed = true;
	}
	return reader_rewind(r, err);
}

bool reader_changed(const struct reader *r)
{
	return r->changed;
}

long long reader_appended(const struct reader *r)
{
	struct stat sb;

	if (!r->sealed || fstat(r->fd, &sb) < 0 || (uint64_t)sb.st_size <= r->sealed_len)
		return 0;
	return (long long)((uint64_t)sb.st_size - r->sealed_len);
}

size_t reader_header_count(const struct reader *r)
{
	return r->header_n;
}

const char *reader_header(const struct reader *r, size_t i)
{
	return i < r->header_n ? r->header[i] : NULL;
}

/* Header comparison: ASCII case-insensitive, blanks around ignored. */
static bool header_matches(const char *cell, const char *name)
{
	size_t n;

	while (*cell == ' ' || *cell == '\t')
		cell++;
	n = strlen(cell);
	while (n && (cell[n - 1] == ' ' || cell[n - 1] == '\t'))
		n--;
	return strlen(name) == n && strncasecmp(cell, name, n) == 0;
}

void reader_user_input(const struct reader_row *row, const int col[USER_FIELD_COUNT],
		       struct user_input *in)
{
	for (int f = 0; f < USER_FIELD_COUNT; f++) {
		int c = col[f];

		in->field[f] = c < 0 ? NULL : (size_t)c < row->nfields ? row->field[c] : "";
		in->len[f] = c >= 0 && (size_t)c < row->nfields ? row->len[c] : 0;
	}
}

int reader_find_column(const struct reader *r, const char *name)
{
	for (size_t i = 0; i < r->header_n; i++)
		if (header_matches(r->header[i], name))
			return (int)i;
	return -1;
}

int reader_map_columns(const struct reader *r,
		       const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err)
{
	bool split;

	for (int f = 0; f < USER_FIELD_COUNT; f++) {
		const char *name = names && names[f] ? names[f]
						       : user_field_names[f];

		col[f] = -1;
		for (size_t i = 0; i < r->header_n; i++) {
			if (!header_matches(r->header[i], name))
				continue;
			if (col[f] >= 0)
				return err_set(err,
					       "'%s': column \"%s\" appears twice in the header",
					       r->path, name);
			col[f] = (int)i;
		}
	}
	split = col[USER_COUNTRY_CODE] >= 0 || col[USER_PHONE_NUMBER] >= 0;
	static const enum user_field required[] = {USER_EMAIL, USER_FIRST_NAME,
						   USER_LAST_NAME};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		enum user_field f = required[i];
		if (col[f] < 0)
			return err_set(err, "'%s': missing required column \"%s\"",
				       r->path,
				       names && names[f] ? names[f]
							 : user_field_names[f]);
	}
	if (!split && col[USER_PHONE] < 0)
		return err_set(err,
			       "'%s': missing required column \"%s\" (or a single \"%s\" column)",
			       r->path,
			       names && names[USER_PHONE_NUMBER]
				       ? names[USER_PHONE_NUMBER]
				       : "phone_number",
			       names && names[USER_PHONE] ? names[USER_PHONE] : "phone");
	if (split && col[USER_COUNTRY_CODE] < 0)
		return err_set(err, "'%s': missing required column \"%s\"", r->path,
			       names && names[USER_COUNTRY_CODE]
				       ? names[USER_COUNTRY_CODE]
				       : "country_code");
	if (split && col[USER_PHONE_NUMBER] < 0)
		return err_set(err, "'%s': missing required column \"%s\"", r->path,
			       names && names[USER_PHONE_NUMBER]
				       ? names[USER_PHONE_NUMBER]
				       : "phone_number");
	return 0;
}

int reader_next(struct reader *r, struct reader_row *row, struct err *err)
{
	int rc;

	record_reset(r);
	rc = pump(r, err);
	if (rc <= 0)
		return rc;
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
	if (r->fd >= 0)
		close(r->fd);
	for (size_t i = 0; i < r->header_n; i++)
		free(r->header[i]);
	free(r->header);
	free(r->rec);
	free(r->block_hash);
	free(r->path);
	free(r);
}
