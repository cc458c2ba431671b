/*
 * gunzip.h - streaming gzip decompression (RFC 1952) on zlib, in bounded
 * memory: the caller hands in compressed bytes and gets back at most as
 * many decompressed bytes as its buffer holds, however well they compress.
 * Concatenated members (what `cat a.gz b.gz` gives) are one stream.
 */
#ifndef DOTS_GUNZIP_H
#define DOTS_GUNZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct gunzip;

/* True when p[0..n) starts with the gzip magic bytes 1f 8b. */
bool gunzip_magic(const unsigned char *p, size_t n);

int gunzip_new(struct gunzip **out, struct err *err);

/* Back to the start of a stream (for a second pass). */
int gunzip_restart(struct gunzip *g, struct err *err);

/*
 * Decompresses from *in (*in_n bytes; both advanced past what was used)
 * into out[0..cap), *got bytes. at_end says no input follows *in: then a
 * member cut short is an error. *done is set once the stream is complete
 * (a member ended, and at_end with no input left). Errors name the damage
 * ("corrupt gzip data: invalid distance too far back"); the caller adds
 * the file name.
 */
int gunzip_run(struct gunzip *g, const unsigned char **in, size_t *in_n, bool at_end,
	       unsigned char *out, size_t cap, size_t *got, bool *done, struct err *err);

void gunzip_free(struct gunzip *g);

#endif
