/*
 * decode.c - an input file's bytes turned into UTF-8 on the way to the CSV
 * parser: gzip by magic bytes (gunzip.c), UTF-16 by BOM or --encoding via
 * glibc's iconv; the only file that includes <iconv.h>. Each stage has one
 * fixed buffer: memory does not depend on the file.
 */
#include "decode.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gunzip.h"

#include "banned.h"

#ifndef DECODE_BUF /* lowered by the fuzz build to cross buffer ends often */
#define DECODE_BUF 65536
#endif

struct decode {
	decode_source src;
	void *ctx;
	const char *name;
	char *encoding; /* requested (--encoding), NULL = UTF-8 */

	/* raw: the source's current block */
	const unsigned char *raw;
	size_t raw_n;
	bool raw_end;

	/* after gunzip, before the character set */
	bool sniffed;
	bool gz;
	struct gunzip *gzs;
	unsigned char mid[DECODE_BUF];
	size_t mid_pos, mid_len;
	bool mid_end;

	/* the character set */
	bool started;      /* the BOM (or its absence) was seen */
	bool convert;      /* iconv from `from`; else bytes pass as they are */
	iconv_t cd;
	char from[64];
	size_t lines;      /* line ends in the output so far (for messages) */
	bool prev_cr;
	char desc[96];
};

static int pull_raw(struct decode *d, struct err *err)
{
	if (d->raw_n > 0 || d->raw_end)
		return 0;
	if (d->src(d->ctx, &d->raw, &d->raw_n, err) < 0)
		return -1;
	if (d->raw_n == 0)
		d->raw_end = true;
	return 0;
}

/* Fills mid as far as it goes (to full, or to the end of the stream). */
static int fill_mid(struct decode *d, struct err *err)
{
	if (d->mid_pos > 0) {
		memmove(d->mid, d->mid + d->mid_pos, d->mid_len - d->mid_pos);
		d->mid_len -= d->mid_pos;
		d->mid_pos = 0;
	}
	while (d->mid_len < sizeof(d->mid) && !d->mid_end) {
		if (pull_raw(d, err) < 0)
			return -1;
		if (!d->sniffed) {
			d->sniffed = true;
			d->gz = gunzip_magic(d->raw, d->raw_n);
			if (d->gz && !d->gzs && gunzip_new(&d->gzs, err) < 0)
				return -1;
		}
		if (d->gz) {
			size_t got;
			bool done;

			if (gunzip_run(d->gzs, &d->raw, &d->raw_n, d->raw_end,
				       d->mid + d->mid_len, sizeof(d->mid) - d->mid_len,
				       &got, &done, err) < 0)
				return err_prefix(err, "%s", d->name);
			d->mid_len += got;
			if (done)
				d->mid_end = true;
		} else {
			size_t k = sizeof(d->mid) - d->mid_len;

			if (k > d->raw_n)
				k = d->raw_n;
			memcpy(d->mid + d->mid_len, d->raw, k);
			d->raw += k;
			d->raw_n -= k;
			d->mid_len += k;
			if (d->raw_end && d->raw_n == 0)
				d->mid_end = true;
		}
	}
	return 0;
}

static bool is_utf8_name(const char *s)
{
	return !strcasecmp(s, "UTF-8") || !strcasecmp(s, "UTF8");
}

/* Looks at the first bytes: a BOM, or the requested encoding. */
static int start(struct decode *d, struct err *err)
{
	const unsigned char *p = d->mid + d->mid_pos;
	size_t n = d->mid_len - d->mid_pos;
	const char *from = NULL;

	d->started = true;
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		d->mid_pos += 3;
	} else if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
		d->mid_pos += 2;
		from = "UTF-16LE";
	} else if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
		d->mid_pos += 2;
		from = "UTF-16BE";
	} else if (d->encoding && !is_utf8_name(d->encoding)) {
		from = d->encoding;
	}
	d->convert = from != NULL;
	snprintf(d->desc, sizeof(d->desc), "%s%s", d->gz ? "gzip, " : "",
		 from ? from : "UTF-8");
	if (!from)
		return 0;
	snprintf(d->from, sizeof(d->from), "%s", from);
	d->cd = iconv_open("UTF-8", d->from);
	if (d->cd == (iconv_t)-1) {
		d->convert = false;
		return err_set(err, "%s: cannot convert from %s: %s", d->name, d->from,
			       strerror(errno));
	}
	return 0;
}

static void count_lines(struct decode *d, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !d->prev_cr)
			d->lines++;
		else if (p[i] == '\r')
			d->lines++;
		d->prev_cr = p[i] == '\r';
	}
}

int decode_read(struct decode *d, unsigned char *out, size_t cap, size_t *got,
		struct err *err)
{
	size_t done = 0;

	*got = 0;
	if (d->mid_pos == d->mid_len && fill_mid(d, err) < 0)
		return -1;
	if (!d->started) {
		if (d->mid_len - d->mid_pos < 4 && !d->mid_end && fill_mid(d, err) < 0)
			return -1;
		if (start(d, err) < 0)
			return -1;
	}
	while (done < cap) {
		if (d->mid_pos == d->mid_len) {
			if (d->mid_end)
				break;
			if (fill_mid(d, err) < 0)
				return -1;
			continue;
		}
		if (!d->convert) {
			size_t k = d->mid_len - d->mid_pos;

			if (k > cap - done)
				k = cap - done;
			memcpy(out + done, d->mid + d->mid_pos, k);
			d->mid_pos += k;
			done += k;
			continue;
		}
		{
			char *in = (char *)(d->mid + d->mid_pos);
			size_t in_left = d->mid_len - d->mid_pos;
			char *o = (char *)(out + done);
			size_t o_left = cap - done;
			size_t rc = iconv(d->cd, &in, &in_left, &o, &o_left);
			int e = errno;

			d->mid_pos = d->mid_len - in_left;
			count_lines(d, out + done, (size_t)((unsigned char *)o - (out + done)));
			done = (size_t)((unsigned char *)o - out);
			if (rc != (size_t)-1)
				continue;
			if (e == E2BIG)
				break;
			if (e == EINVAL) { /* a character cut by the buffer end */
				if (d->mid_end)
					return err_set(err, "%s is not valid %s: it ends inside "
						       "a character", d->name, d->from);
				if (d->mid_pos == 0 && d->mid_len == sizeof(d->mid))
					return err_set(err, "%s is not valid %s", d->name, d->from);
				if (fill_mid(d, err) < 0)
					return -1;
				continue;
			}
			return err_set(err, "%s is not valid %s (byte 0x%02X at line %zu)%s",
				       d->name, d->from, (unsigned)d->mid[d->mid_pos],
				       d->lines + 1,
				       d->encoding ? ": check --encoding" : "");
		}
	}
	*got = done;
	return 0;
}

int decode_new(struct decode **out, const char *encoding, const char *name,
	       decode_source src, void *ctx, struct err *err)
{
	struct decode *d = calloc(1, sizeof(*d));

	if (!d)
		return err_set(err, "out of memory");
	d->src = src;
	d->ctx = ctx;
	d->name = name;
	d->cd = (iconv_t)-1;
	if (encoding && !(d->encoding = strdup(encoding))) {
		free(d);
		return err_set(err, "out of memory");
	}
	*out = d;
	return 0;
}

int decode_restart(struct decode *d, struct err *err)
{
	d->raw = NULL;
	d->raw_n = 0;
	d->raw_end = false;
	d->sniffed = false;
	d->mid_pos = d->mid_len = 0;
	d->mid_end = false;
	d->started = false;
	d->convert = false;
	if (d->cd != (iconv_t)-1)
		iconv_close(d->cd);
	d->cd = (iconv_t)-1;
	d->lines = 0;
	d->prev_cr = false;
	if (d->gzs && gunzip_restart(d->gzs, err) < 0)
		return -1;
	return 0;
}

bool decode_passthrough(const struct decode *d)
{
	return !d->convert;
}

const char *decode_describe(const struct decode *d)
{
	return d->started ? d->desc : "";
}

int decode_check_encoding(const char *name, const char *what, struct err *err)
{
	iconv_t cd;

	if (!name || !*name || strlen(name) >= 64 || strchr(name, '/'))
		return err_set(err, "%s: expected an encoding name such as windows-1252, "
			       "latin1 or UTF-16LE, got '%.64s'", what, name ? name : "");
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return err_set(err, "%s: unknown encoding '%s' (iconv names: "
			       "windows-1252, latin1, UTF-16LE, ...; see iconv -l)",
			       what, name);
	iconv_close(cd);
	return 0;
}

void decode_free(struct decode *d)
{
	if (!d)
		return;
	if (d->cd != (iconv_t)-1)
		iconv_close(d->cd);
	gunzip_free(d->gzs);
	free(d->encoding);
	free(d);
}
