/*
 * decode.h - the bytes of an input file as UTF-8: gzip (by its magic bytes)
 * is decompressed, UTF-16LE/BE (by BOM) or a named encoding (--encoding) is
 * converted with iconv, a UTF-8 BOM is dropped. Streaming, in bounded
 * memory (a few 64 KiB buffers, whatever the file compresses or expands to).
 *
 * The raw bytes come from the caller's source function, so the caller sees
 * (and can hash) exactly the bytes of the file, before any decoding.
 */
#ifndef DOTS_DECODE_H
#define DOTS_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Gives the next raw block of the file in *p, its length in *n (0 at the end).
 * Returns 0 or -1 with err set (the caller's message is passed on). */
typedef int (*decode_source)(void *ctx, const unsigned char **p, size_t *n,
			     struct err *err);

struct decode;

/*
 * encoding: an iconv name ("windows-1252", "latin1", "UTF-16LE"), or NULL
 * for UTF-8 (a BOM still wins: UTF-16 files are read by theirs). name is
 * how messages call the file ("'users.csv'"), borrowed.
 */
int decode_new(struct decode **out, const char *encoding, const char *name,
	       decode_source src, void *ctx, struct err *err);

/*
 * Reads up to cap decoded bytes into out: *got == 0 only at the end.
 * Errors (exit 2 for the caller): corrupt gzip, bytes that are not in the
 * encoding ("'x.csv' is not valid windows-1252 (byte 0x81 at line 3)").
 */
int decode_read(struct decode *d, unsigned char *out, size_t cap, size_t *got,
		struct err *err);

/* Back to the start of the stream; the source must restart too. */
int decode_restart(struct decode *d, struct err *err);

/* True when the output is the file's own bytes taken as UTF-8 (no BOM of
 * UTF-16, no --encoding): the caller then checks that they are UTF-8.
 * Known after the first decode_read. */
bool decode_passthrough(const struct decode *d);

/* What was found: "gzip, UTF-16LE", "UTF-8", ... (after the first read). */
const char *decode_describe(const struct decode *d);

/* Checks that iconv can convert name to UTF-8; err names the option. */
int decode_check_encoding(const char *name, const char *what, struct err *err);

void decode_free(struct decode *d);

#endif
