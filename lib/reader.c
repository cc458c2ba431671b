/*
 * reader.c - the input CSV, one record at a time, on libcsv.
 * The only file that parses CSV. Memory is bounded by READER_MAX_RECORD
 * whatever the file holds; a malformed record becomes a row problem, never
 * a crash or a stop. Raw blocks are hashed as read, then decoded (gzip,
 * UTF-16, --encoding: decode.c), then parsed with the delimiter found in
 * the header line. Standard input ("-") is spooled to a private file.
 */
#include "reader.h"

#include <csv.h>
#include <ctype.h>
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

#include "decode.h"
#include "utf8.h"

#include "banned.h"

#ifndef READ_CHUNK /* lowered by the fuzz build to cross chunk ends often */
#define READ_CHUNK 65536
#endif

#define HEADER_SHOW_MAX 120 /* bytes of the header quoted in a message */

struct reader {
	int fd;
	char *path;
	char *name;        /* for messages: "'users.csv'", "standard input" */
	struct csv_parser parser;
	bool parser_live;

	unsigned char raw[READ_CHUNK]; /* the last block read from the file */
	struct decode *dec;            /* raw -> UTF-8 */
	char *encoding;                /* --encoding, NULL = UTF-8 */
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
	uint64_t h = block_hash(r->raw, n);

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
		       "%s changed while it was being imported: bytes %llu-%llu differ "
		       "from the file that was validated; stopping (rows added at the end "
		       "are the next run's work, but validated rows must not change)",
		       r->name, (unsigned long long)(r->offset - n),
		       (unsigned long long)r->offset);
}

/* The decoder's source: the next raw block of the file, READ_CHUNK bytes
 * unless the file (or, in pass 2, the validated part of it) ends first.
 * Every block is hashed as read, before any decoding. Fails on an I/O
 * error or when a block differs from pass 1. */
static int raw_block(void *ctx, const unsigned char **p, size_t *np, struct err *err)
{
	struct reader *r = ctx;
	size_t n = 0, want = sizeof(r->raw);

	if (r->sealed && r->sealed_len - r->offset < want)
		want = (size_t)(r->sealed_len - r->offset);
	while (n < want) {
		ssize_t k = read(r->fd, r->raw + n, want - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set(err, "cannot read %s: %s", r->name,
				       strerror(errno));
		if (k == 0)
			break;
		n += (size_t)k;
	}
	r->offset += n;
	if (n > 0 || (r->sealed && r->block_no < r->nblocks)) {
		if (check_block(r, n, err) < 0)
			return -1;
		r->block_no++;
	}
	*p = r->raw;
	*np = n;
	return 0;
}

/*
 * The delimiter of the header line p[0..n) (leading blank lines skipped):
 * the candidate that occurs most often outside quotes; comma on a tie or
 * when none occurs.
 */
static unsigned char detect_delim(const unsigned char *p, size_t n)
{
	static const unsigned char cand[] = {',', ';', '\t', '|'};
	size_t count[sizeof(cand)] = {0}, i = 0, k, best = 0;
	bool quoted = false;

	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	for (; i < n; i++) {
		if (p[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted)
			continue;
		if (p[i] == '\n' || p[i] == '\r')
			break;
		for (k = 0; k < sizeof(cand); k++)
			if (p[i] == cand[k])
				count[k]++;
	}
	for (k = 1; k < sizeof(cand); k++)
		if (count[k] > count[best])
			best = k;
	return cand[best];
}

/* Fills buf with decoded bytes (full unless the stream ends). At the
 * start of the stream, finds the delimiter and whether to check UTF-8. */
static int fill(struct reader *r, struct err *err)
{
	size_t n = 0, got;

	r->buf_pos = 0;
	r->buf_len = 0;
	do {
		if (decode_read(r->dec, r->buf + n, sizeof(r->buf) - n, &got, err) < 0)
			return -1;
		n += got;
	} while (got > 0 && n < sizeof(r->buf));
	r->buf_len = n;
	if (n == 0)
		r->eof = true;
	if (r->at_start) {
		if (!r->delim_known) {
			r->delim = detect_delim(r->buf, n);
			r->delim_known = true;
			csv_set_delim(&r->parser, r->delim);
		}
		r->scanning = !r->sealed && !r->encoding && decode_passthrough(r->dec);
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
	if (lseek(r->fd, 0, SEEK_SET) < 0)
		return err_set(err, "cannot seek %s: %s", r->name,
			       strerror(errno));
	if (decode_restart(r->dec, err) < 0)
		return -1;
	r->scanning = false;
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

/*
 * Copies standard input to a private temporary file (mode 0600, unlinked at
 * once, in $TMPDIR or /tmp) so that it can be read twice like a file.
 * Returns its descriptor at offset 0, or -1 with err set.
 */
static int spool_stdin(struct err *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	unsigned char buf[READ_CHUNK];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/dots-import-stdin-XXXXXX", dir) >=
	    sizeof(path))
		return err_set(err, "TMPDIR is too long");
	fd = mkstemp(path);
	if (fd < 0)
		return err_set(err, "cannot create a temporary file in %s for standard "
			       "input: %s", dir, strerror(errno));
	unlink(path);
	if (fchmod(fd, 0600) < 0)
		goto fail;
	for (;;) {
		ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
		size_t done = 0;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err_set(err, "cannot read standard input: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		while (done < (size_t)k) {
			ssize_t w = write(fd, buf + done, (size_t)k - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				goto fail;
			done += (size_t)w;
		}
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:
	err_set(err, "cannot spool standard input to %s: %s", dir, strerror(errno));
	close(fd);
	return -1;
}

int reader_open_opts(struct reader **out, const char *path,
		     const struct reader_opts *opts, struct err *err)
{
	struct reader *r = calloc(1, sizeof(*r));
	bool is_stdin = strcmp(path, "-") == 0;
	size_t n;

	if (!r)
		return err_set(err, "out of memory");
	r->fd = -1;
	n = strlen(path) + 3;
	r->path = strdup(path);
	r->name = malloc(n < 16 ? 16 : n);
	if (!r->path || !r->name ||
	    (opts && opts->encoding && !(r->encoding = strdup(opts->encoding)))) {
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
	if (decode_new(&r->dec, r->encoding, r->name, raw_block, r, err) < 0) {
		reader_free(r);
		return -1;
	}
	r->fd = is_stdin ? spool_stdin(err) : open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		if (!is_stdin)
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
	return decode_describe(r->dec);
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

/* ASCII case-insensitive edit distance (Levenshtein) of a and b, both cut
 * to 64 bytes; blanks around a are ignored. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la, lb, i, j, row[65];

	while (*a == ' ' || *a == '\t')
		a++;
	la = strlen(a);
	while (la && (a[la - 1] == ' ' || a[la - 1] == '\t'))
		la--;
	lb = strlen(b);
	la = la > 64 ? 64 : la;
	lb = lb > 64 ? 64 : lb;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
					      tolower((unsigned char)b[j - 1])
					  ? 0
					  : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Appends s[0..n) to out (cap bytes incl. NUL) as printable text. */
static size_t show_append(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t' && o + 2 < cap) {
			out[o++] = '\\';
			out[o++] = 't';
		} else {
			out[o++] = c < 0x20 || c == 0x7F || c == '"' ? '?' : (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

/* "missing required column "x" (header: "a;b;c"; closest: "X")". */
static int missing_column(const struct reader *r, const char *name, const char *also,
			  struct err *err)
{
	char header[HEADER_SHOW_MAX + 8], closest[72] = "";
	char delim = (char)r->delim;
	size_t o = 0, best = SIZE_MAX, bi = 0;

	header[0] = '\0';
	for (size_t i = 0; i < r->header_n && o < HEADER_SHOW_MAX; i++) {
		size_t d = edit_distance(r->header[i], name);

		if (i > 0)
			o = show_append(header, o, HEADER_SHOW_MAX, &delim, 1);
		o = show_append(header, o, HEADER_SHOW_MAX, r->header[i],
				strlen(r->header[i]));
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	if (o >= HEADER_SHOW_MAX - 1)
		memcpy(header + o, "...", 4);
	if (r->header_n && best > 0 && best <= (strlen(name) + 1) / 2) {
		const char *c = r->header[bi];
		size_t n;

		while (*c == ' ' || *c == '\t')
			c++;
		n = strlen(c);
		while (n && (c[n - 1] == ' ' || c[n - 1] == '\t'))
			n--;
		show_append(closest, 0, 64, c, n);
	}
	return err_set(err, "%s: missing required column \"%s\"%s (header: \"%s\"%s%s%s)%s",
		       r->name, name, also, header, closest[0] ? "; closest: \"" : "",
		       closest, closest[0] ? "\"" : "",
		       r->scanning && r->scan.invalid && !r->scan.valid_multi
			       ? "; the file is not UTF-8: use --encoding (e.g. windows-1252)"
			       : "");
}

int reader_map_columns(const struct reader *r,
		       const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err)
{
	bool split, claimed[READER_MAX_FIELDS] = {false};
	bool phone_only = names && names[USER_PHONE] && !names[USER_COUNTRY_CODE] &&
			  !names[USER_PHONE_NUMBER];
	char also[96];

	/* An explicit columns: mapping wins: the headers it names are not
	 * taken by another field's built-in name ("phone: phone_number"). */
	for (int pass = 0; pass < 2; pass++) {
		for (int f = 0; f < USER_FIELD_COUNT; f++) {
			bool explicit_name = names && names[f];
			const char *name = explicit_name ? names[f] : user_field_names[f];

			if (explicit_name != (pass == 0))
				continue;
			col[f] = -1;
			/* an explicit single "phone" column replaces the pair */
			if (!explicit_name && phone_only &&
			    (f == USER_COUNTRY_CODE || f == USER_PHONE_NUMBER))
				continue;
			for (size_t i = 0; i < r->header_n; i++) {
				if (!header_matches(r->header[i], name) ||
				    (!explicit_name && i < READER_MAX_FIELDS && claimed[i]))
					continue;
				if (col[f] >= 0)
					return err_set(err,
						       "%s: column \"%s\" appears twice in the header",
						       r->name, name);
				col[f] = (int)i;
			}
			if (explicit_name && col[f] >= 0 && col[f] < READER_MAX_FIELDS)
				claimed[col[f]] = true;
		}
	}
	split = col[USER_COUNTRY_CODE] >= 0 || col[USER_PHONE_NUMBER] >= 0;
	static const enum user_field required[] = {USER_EMAIL, USER_FIRST_NAME,
						   USER_LAST_NAME};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		enum user_field f = required[i];
		if (col[f] < 0)
			return missing_column(r,
					      names && names[f] ? names[f]
								: user_field_names[f],
					      "", err);
	}
	if (!split && col[USER_PHONE] < 0) {
		snprintf(also, sizeof(also), " (or a single \"%.64s\" column)",
			 names && names[USER_PHONE] ? names[USER_PHONE] : "phone");
		return missing_column(r,
				      names && names[USER_PHONE_NUMBER]
					      ? names[USER_PHONE_NUMBER]
					      : "phone_number",
				      also, err);
	}
	if (split && col[USER_COUNTRY_CODE] < 0)
		return missing_column(r,
				      names && names[USER_COUNTRY_CODE]
					      ? names[USER_COUNTRY_CODE]
					      : "country_code",
				      "", err);
	if (split && col[USER_PHONE_NUMBER] < 0)
		return missing_column(r,
				      names && names[USER_PHONE_NUMBER]
					      ? names[USER_PHONE_NUMBER]
					      : "phone_number",
				      "", err);
	return 0;
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
	if (r->fd >= 0)
		close(r->fd);
	decode_free(r->dec);
	free(r->encoding);
	free(r->name);
	for (size_t i = 0; i < r->header_n; i++)
		free(r->header[i]);
	free(r->header);
	free(r->rec);
	free(r->block_hash);
	free(r->path);
	free(r);
}
