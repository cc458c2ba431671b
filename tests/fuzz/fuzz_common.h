/*
 * fuzz_common.h - helpers shared by the libFuzzer targets: a per-process
 * scratch file that each input is written to (the reader and the config
 * loader take a path), and a check that aborts so libFuzzer keeps the input.
 * Fuzzing only: never linked into the importer.
 */
#ifndef DOTS_FUZZ_COMMON_H
#define DOTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A finding that is not a memory error: print why and abort (a crash for
 * libFuzzer, which then saves the input). */
#define FUZZ_CHECK(cond)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/*
 * Writes data to this process's scratch file (created once under $TMPDIR or
 * /tmp, removed at exit) and returns its path, or NULL when that fails.
 */
static char fuzz_path[256];

static inline void fuzz_unlink(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

static inline const char *fuzz_write_file(const uint8_t *data, size_t size,
					  const char *suffix)
{
	FILE *fp;

	if (!fuzz_path[0]) {
		const char *tmp = getenv("TMPDIR");
		int fd;

		snprintf(fuzz_path, sizeof(fuzz_path), "%s/dots-fuzz-XXXXXX%s",
			 tmp && *tmp ? tmp : "/tmp", suffix);
		fd = mkstemps(fuzz_path, (int)strlen(suffix));
		if (fd < 0) {
			fuzz_path[0] = '\0';
			return NULL;
		}
		close(fd);
		atexit(fuzz_unlink);
	}
	fp = fopen(fuzz_path, "wb");
	if (!fp)
		return NULL;
	if (size && fwrite(data, 1, size, fp) != size) {
		fclose(fp);
		return NULL;
	}
	if (fclose(fp) != 0)
		return NULL;
	return fuzz_path;
}

/* True when s (NUL-terminated) is one line: no LF or CR in it. */
static inline int fuzz_one_line(const char *s)
{
	return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL;
}

#endif
