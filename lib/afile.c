/*
 * afile.c - temp file + fsync + rename. Never writes to the target path
 * directly and never leaves its temporary file behind on failure.
 */
#include "afile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <stdbool.h>
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
	/* held while the file lives: afile_clean_stale leaves a locked
	 * temporary file alone (a run writing it right now) */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fchmod(fd, 0600) < 0 ||
	    !(f->fp = fdopen(fd, "w"))) {
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

int afile_set_mode(struct afile *f, unsigned mode, struct err *err)
{
	if (!f->fp || fchmod(fileno(f->fp), (mode_t)mode) < 0)
		return err_set(err, "cannot set the mode of '%s': %s", f->path, strerror(errno));
	return 0;
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

/* "<base>.tmp.XXXXXX" as afile_open names its temporary files. */
static bool is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
		return false;
	name += n + 5;
	if (strlen(name) != 6)
		return false;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
		      (*name >= '0' && *name <= '9')))
			return false;
	return true;
}

int afile_clean_stale(const char *path, int *removed, struct err *err)
{
	char *dcopy = strdup(path), *bcopy = strdup(path);
	const char *dir, *base;
	struct dirent *de;
	DIR *d;
	int dfd;

	*removed = 0;
	if (!dcopy || !bcopy) {
		free(dcopy);
		free(bcopy);
		return err_set(err, "out of memory");
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	d = opendir(dir);
	if (!d) { /* a missing directory is reported when the file is opened */
		free(dcopy);
		free(bcopy);
		return 0;
	}
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat sb;
		int fd;

		if (!is_temp_of(de->d_name, base))
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		/* only a regular file of ours that no live run holds */
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dfd, de->d_name, 0) == 0)
			(*removed)++;
		close(fd);
	}
	closedir(d);
	free(dcopy);
	free(bcopy);
	return 0;
}
