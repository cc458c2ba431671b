/*
 * reader_src.c - the reader's bytes: the file, or standard input spooled
 * to a private file; raw blocks hashed as read (reader_seal) and decoded to
 * UTF-8 (decode.c). Knows nothing of CSV: it must not parse records or look
 * at the header (reader.c and reader_columns.c do).
 */
#include "reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"

#include "banned.h"

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
static int check_block(struct reader_src *s, size_t n, struct err *err)
{
	uint64_t h = block_hash(s->raw, n);

	if (!s->sealed) {
		if (s->nblocks == s->blocks_cap) {
			size_t cap = s->blocks_cap ? s->blocks_cap * 2 : 64;
			uint64_t *p = realloc(s->block_hash, cap * sizeof(*p));

			if (!p)
				return err_set(err, "out of memory");
			s->block_hash = p;
			s->blocks_cap = cap;
		}
		s->block_hash[s->nblocks++] = h;
		return 0;
	}
	if (s->block_no < s->nblocks && s->block_hash[s->block_no] == h)
		return 0;
	s->changed = true;
	return err_set(err,
		       "%s changed while it was being imported: bytes %llu-%llu differ "
		       "from the file that was validated; stopping (rows added at the end "
		       "are the next run's work, but validated rows must not change)",
		       s->name, (unsigned long long)(s->offset - n),
		       (unsigned long long)s->offset);
}

/* The decoder's source: the next raw block of the file, READ_CHUNK bytes
 * unless the file (or, in pass 2, the validated part of it) ends first.
 * Every block is hashed as read, before any decoding. Fails on an I/O
 * error or when a block differs from pass 1. */
static int raw_block(void *ctx, const unsigned char **p, size_t *np, struct err *err)
{
	struct reader_src *s = ctx;
	size_t n = 0, want = sizeof(s->raw);

	if (s->sealed && s->sealed_len - s->offset < want)
		want = (size_t)(s->sealed_len - s->offset);
	while (n < want) {
		ssize_t k = read(s->fd, s->raw + n, want - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set(err, "cannot read %s: %s", s->name,
				       strerror(errno));
		if (k == 0)
			break;
		n += (size_t)k;
	}
	s->offset += n;
	if (n > 0 || (s->sealed && s->block_no < s->nblocks)) {
		if (check_block(s, n, err) < 0)
			return -1;
		s->block_no++;
	}
	*p = s->raw;
	*np = n;
	return 0;
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

int reader_src_open(struct reader_src *s, const char *path, const char *name,
		    const char *encoding, struct err *err)
{
	bool is_stdin = strcmp(path, "-") == 0;

	s->name = name;
	if (encoding && !(s->encoding = strdup(encoding)))
		return err_set(err, "out of memory");
	if (decode_new(&s->dec, s->encoding, name, raw_block, s, err) < 0)
		return -1;
	s->fd = is_stdin ? spool_stdin(err) : open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		if (!is_stdin)
			err_set(err, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int reader_src_rewind(struct reader_src *s, struct err *err)
{
	if (lseek(s->fd, 0, SEEK_SET) < 0)
		return err_set(err, "cannot seek %s: %s", s->name,
			       strerror(errno));
	if (decode_restart(s->dec, err) < 0)
		return -1;
	s->offset = 0;
	s->block_no = 0;
	if (!s->sealed)
		s->nblocks = 0;
	return 0;
}

int reader_src_read(struct reader_src *s, unsigned char *out, size_t cap, size_t *got,
		    struct err *err)
{
	return decode_read(s->dec, out, cap, got, err);
}

bool reader_src_plain(const struct reader_src *s)
{
	return !s->encoding && decode_passthrough(s->dec);
}

const char *reader_src_describe(const struct reader_src *s)
{
	return decode_describe(s->dec);
}

void reader_src_seal(struct reader_src *s)
{
	if (!s->sealed) {
		s->sealed_len = s->offset;
		s->sealed = true;
	}
}

long long reader_src_appended(const struct reader_src *s)
{
	struct stat sb;

	if (!s->sealed || fstat(s->fd, &sb) < 0 || (uint64_t)sb.st_size <= s->sealed_len)
		return 0;
	return (long long)((uint64_t)sb.st_size - s->sealed_len);
}

void reader_src_close(struct reader_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	decode_free(s->dec);
	s->dec = NULL;
	free(s->encoding);
	s->encoding = NULL;
	free(s->block_hash);
	s->block_hash = NULL;
}
