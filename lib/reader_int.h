/*
 * reader_int.h - the reader's private parts, shared by reader.c (libcsv
 * record assembly), reader_src.c (the bytes: file or spooled standard
 * input, block hashes for reader_seal, decoding) and reader_columns.c (the
 * header line: delimiter detection, column mapping). No libcsv here.
 * Nothing outside those three files includes it.
 */
#ifndef DOTS_READER_INT_H
#define DOTS_READER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "reader.h"
#include "user.h"

#ifndef READ_CHUNK /* lowered by the fuzz build to cross chunk ends often */
#define READ_CHUNK 65536
#endif

struct decode;

/*
 * The byte source (reader_src.c): the file read in raw blocks of READ_CHUNK
 * bytes, each hashed as read (pass 1 keeps the hashes, pass 2 after
 * reader_src_seal compares them and stops at the validated length), then
 * decoded to UTF-8 (gzip, UTF-16, --encoding: decode.c).
 */
struct reader_src {
	int fd;             /* -1 until opened */
	const char *name;   /* for messages, borrowed from the reader */
	unsigned char raw[READ_CHUNK]; /* the last block read from the file */
	struct decode *dec; /* raw -> UTF-8 */
	char *encoding;     /* --encoding, NULL = UTF-8 */

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
};

/* Opens path ("-": standard input, spooled to a private file) and sets up
 * its decoder. s->fd must be -1 before; on failure (err set) what was set
 * up is released by reader_src_close. name is borrowed for messages. */
int reader_src_open(struct reader_src *s, const char *path, const char *name,
		    const char *encoding, struct err *err);

/* Back to the first byte of the file (and of the decoded stream). */
int reader_src_rewind(struct reader_src *s, struct err *err);

/* Up to cap decoded bytes into out; *got == 0 at the end of the stream. */
int reader_src_read(struct reader_src *s, unsigned char *out, size_t cap, size_t *got,
		    struct err *err);

/* The bytes are read as they are, as UTF-8: no BOM, no --encoding. */
bool reader_src_plain(const struct reader_src *s);

/* How the file is decoded: "UTF-8", "gzip, UTF-16LE", "windows-1252". */
const char *reader_src_describe(const struct reader_src *s);

/* Ends pass 1: from the next rewind on, reads stop at the bytes read so
 * far and are checked against their hashes. */
void reader_src_seal(struct reader_src *s);

/* Bytes the file has beyond the sealed length, 0 when none or unsealed. */
long long reader_src_appended(const struct reader_src *s);

/* Closes the file and frees the decoder and hashes. */
void reader_src_close(struct reader_src *s);

/* The header record, as the column mapping (reader_columns.c) reads it. */
struct reader_header {
	char *const *cell;
	size_t n;
	const char *file; /* for messages: "'users.csv'", "standard input" */
	char delim;
	bool not_utf8;    /* pass 1 has seen bytes that are not UTF-8 */
};

/* The delimiter of the header line p[0..n) (leading blank lines skipped):
 * the candidate that occurs most often outside quotes; comma on a tie or
 * when none occurs. */
unsigned char reader_detect_delim(const unsigned char *p, size_t n);

/* reader_find_column over h. */
int reader_columns_find(const struct reader_header *h, const char *name);

/* reader_map_columns over h. */
int reader_columns_map(const struct reader_header *h,
		       const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err);

#endif
