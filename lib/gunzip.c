/*
 * gunzip.c - gzip input decompressed on the fly with zlib's inflate; the
 * only file that includes <zlib.h>. Memory is zlib's 32 KiB window plus
 * its state, whatever the ratio of the data.
 */
#include "gunzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "banned.h"

struct gunzip {
	z_stream z;
	bool live;      /* inflateInit2 done */
	bool member_end; /* the last member ended; more input starts another */
};

bool gunzip_magic(const unsigned char *p, size_t n)
{
	return n >= 2 && p[0] == 0x1F && p[1] == 0x8B;
}

int gunzip_new(struct gunzip **out, struct err *err)
{
	struct gunzip *g = calloc(1, sizeof(*g));

	if (!g)
		return err_set(err, "out of memory");
	/* 16 + MAX_WBITS: a gzip wrapper only (no raw deflate, no zlib) */
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
		free(g);
		return err_set(err, "out of memory");
	}
	g->live = true;
	*out = g;
	return 0;
}

int gunzip_restart(struct gunzip *g, struct err *err)
{
	g->member_end = false;
	if (inflateReset(&g->z) != Z_OK)
		return err_set(err, "cannot restart gzip decompression");
	return 0;
}

int gunzip_run(struct gunzip *g, const unsigned char **in, size_t *in_n, bool at_end,
	       unsigned char *out, size_t cap, size_t *got, bool *done, struct err *err)
{
	int rc;

	*got = 0;
	*done = false;
	while (*got < cap) {
		if (g->member_end) {
			if (*in_n == 0) {
				*done = at_end;
				return 0;
			}
			/* another member follows (`cat a.gz b.gz`) */
			if (*in_n >= 2 && !gunzip_magic(*in, *in_n))
				return err_set(err, "data after the end of the gzip stream");
			if (*in_n < 2 && !at_end)
				return 0; /* wait for the second magic byte */
			if (inflateReset(&g->z) != Z_OK)
				return err_set(err, "cannot restart gzip decompression");
			g->member_end = false;
		}
		if (*in_n == 0 && !at_end)
			return 0;
		g->z.next_in = (Bytef *)(uintptr_t)*in;
		g->z.avail_in = (uInt)(*in_n > 1u << 30 ? 1u << 30 : *in_n);
		g->z.next_out = out + *got;
		g->z.avail_out = (uInt)(cap - *got > 1u << 30 ? 1u << 30 : cap - *got);
		{
			size_t before_in = g->z.avail_in, before_out = g->z.avail_out;

			rc = inflate(&g->z, Z_NO_FLUSH);
			*in += before_in - g->z.avail_in;
			*in_n -= before_in - g->z.avail_in;
			*got += before_out - g->z.avail_out;
			if (rc == Z_STREAM_END) {
				g->member_end = true;
				continue;
			}
			if (rc == Z_BUF_ERROR || (rc == Z_OK && before_in == g->z.avail_in &&
						  before_out == g->z.avail_out)) {
				/* no progress: inflate needs more input */
				if (*in_n > 0)
					return err_set(err, "corrupt gzip data");
				if (at_end)
					return err_set(err, "gzip data cut short (the file "
							    "ends inside a compressed member)");
				return 0;
			}
			if (rc != Z_OK)
				return err_set(err, "corrupt gzip data: %s",
					       g->z.msg ? g->z.msg : "inflate failed");
		}
	}
	return 0;
}

void gunzip_free(struct gunzip *g)
{
	if (!g)
		return;
	if (g->live)
		inflateEnd(&g->z);
	free(g);
}
