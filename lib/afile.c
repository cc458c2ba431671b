/*
 * afile.c - temp file + fsync + rename. Never writes to the target path
 * directly and never leaves its temporary file behind on failure.
 */
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

int afile_open(struct afile *f, const char *path, struct err *err)
{
	size_t n = strlen(path);
	int fd;

	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->tmp = malloc(n + 16);
	if (!f->path || !f->tmp) {
		afile_release(f);
		return err_set(err, "out of memory");
	}
	snprintf(f->tmp, n + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(f->tmp); /* mode 0600 */
	if (fd < 0) {
		err_set(err, "cannot create '%s': %s", path, strerror(errno));
		f->tmp[0] = '\0';
		afile_release(f);
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || !(f->fp = fdopen(fd, "w"))) {
		err_set(err, "cannot create '%s': %s", path, strerror(errno));
		close(fd);
		afile_release(f);
		return -1;
	}
	setvbuf(f->fp, NULL, _IOFBF, 1 << 18);
	return 0;
}

static void fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int afile_commit(struct afile *f, struct err *err)
{
	int rc;

	if (f->failed || !f->fp)
		return err_set(err, "cannot write '%s': an earlier write failed", f->path);
	rc = fflush(f->fp) == 0 && fsync(fileno(f->fp)) == 0 ? 0 : -1;
	if (fclose(f->fp) != 0)
		rc = -1;
	f->fp = NULL;
	if (rc < 0)
		return err_set(err, "cannot write '%s': %s", f->path, strerror(errno));
	if (rename(f->tmp, f->path) < 0)
		return err_set(err, "cannot rename into '%s': %s", f->path, strerror(errno));
	f->tmp[0] = '\0';
	fsync_dir(f->path);
	return 0;
}

void afile_release(struct afile *f)
{
	if (f->fp)
		fclose(f->fp);
	if (f->tmp && f->tmp[0])
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

int afile_write(const char *path, const char *text, struct err *err)
{
	struct afile f;
	int rc;

	if (afile_open(&f, path, err) < 0)
		return -1;
	if (fputs(text, f.fp) == EOF)
		f.failed = 1;
	rc = afile_commit(&f, err);
	afile_release(&f);
	return rc;
}
