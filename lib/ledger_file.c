/*
 * ledger_file.c - the ledger's files apart from their content: path
 * resolution, side files (-wal/-shm/-journal) without their ledger, making
 * a new ledger under a temporary name and linking it into place, the
 * flock, and the syncs of the -wal file and the directory. No SQLite.
 */
#include "ledger_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

/* "dir/name" in a new string, or NULL (out of memory). */
static char *join(const char *dir, size_t dir_len, const char *name)
{
	size_t n = strlen(name);
	bool slash = dir_len && dir[dir_len - 1] == '/';
	char *p = malloc(dir_len + !slash + n + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dir_len);
	if (!slash)
		p[dir_len] = '/';
	memcpy(p + dir_len + !slash, name, n + 1);
	return p;
}

/*
 * The path to open for path: realpath when it exists; for a dangling
 * symlink, its target (followed link by link); for a missing file, the
 * realpath of its directory + its name. *out is malloc'd.
 */
static int resolve_path(const char *path, char **out, struct err *err)
{
	char *cur = strdup(path), *slash, *dir, *res;
	char target[PATH_MAX];
	struct stat sb;
	int hops = 0;

	if (!cur)
		return err_set(err, "out of memory");
	for (;;) {
		ssize_t n;

		res = realpath(cur, NULL);
		if (res) {
			free(cur);
			*out = res;
			return 0;
		}
		if (errno != ENOENT) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
			goto fail;
		}
		if (lstat(cur, &sb) < 0 || !S_ISLNK(sb.st_mode))
			break;
		/* a dangling link: go on with its target */
		if (++hops > 40) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(ELOOP));
			goto fail;
		}
		n = readlink(cur, target, sizeof(target) - 1);
		if (n < 0) {
			err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
			goto fail;
		}
		target[n] = '\0';
		if (target[0] == '/') {
			res = strdup(target);
		} else {
			slash = strrchr(cur, '/');
			res = slash ? join(cur, (size_t)(slash - cur) + 1, target)
				    : strdup(target);
		}
		if (!res) {
			err_set(err, "out of memory");
			goto fail;
		}
		free(cur);
		cur = res;
	}
	/* missing: resolve the directory, keep the name */
	slash = strrchr(cur, '/');
	if (slash && slash[1] == '\0') {
		err_set(err, "cannot open ledger '%s': %s", path, strerror(EISDIR));
		goto fail;
	}
	if (!slash) {
		dir = realpath(".", NULL);
	} else if (slash == cur) {
		dir = realpath("/", NULL);
	} else {
		*slash = '\0';
		dir = realpath(cur, NULL);
		*slash = '/';
	}
	if (!dir) {
		err_set(err, "cannot open ledger '%s': %s", path, strerror(errno));
		goto fail;
	}
	res = join(dir, strlen(dir), slash ? slash + 1 : cur);
	free(dir);
	if (!res) {
		err_set(err, "out of memory");
		goto fail;
	}
	free(cur);
	*out = res;
	return 0;
fail:
	free(cur);
	return -1;
}

static const char *const side_suffix[] = {"-wal", "-shm", "-journal"};

/* The first of real-wal, real-shm, real-journal that exists: its index,
 * or -1 for none. */
static int find_side_file(const struct ledger_file *f)
{
	char p[PATH_MAX + 16];
	struct stat sb;

	for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->real, side_suffix[i]);
		if (lstat(p, &sb) == 0)
			return (int)i;
	}
	return -1;
}

/* For messages: a side file beside the path given, or beside the link's
 * target when the path given is a symlink. */
static const char *side_base(const struct ledger_file *f)
{
	struct stat sb;

	return lstat(f->path, &sb) == 0 && S_ISLNK(sb.st_mode) ? f->real : f->path;
}

static int side_file_refusal(const struct ledger_file *f, int i, struct err *err)
{
	return err_set(err,
		       "'%s%s' exists without its ledger '%s': the ledger may have been deleted after a crash; "
		       "restore it, or use restore-ledger, or remove the %s file if you are sure",
		       side_base(f), side_suffix[i], f->path, side_suffix[i]);
}

/*
 * Makes a new ledger (through make, then synced) under a temporary name
 * beside real, then links it to real only if nothing is there: a crash
 * never leaves an empty or half-made file under the ledger's name, and a
 * file that appeared meanwhile is never replaced. Returns 1 made, 0 real
 * exists now (nothing made), -1 error.
 */
static int make_new(struct ledger_file *f, ledger_file_make_fn make, void *ctx,
		    struct err *err)
{
	size_t n = strlen(f->real) + sizeof(".new-XXXXXX");
	char *tmp = malloc(n);
	int fd, rc = -1;

	if (!tmp)
		return err_set(err, "out of memory");
	snprintf(tmp, n, "%s.new-XXXXXX", f->real);
	fd = mkstemp(tmp); /* mode 0600: SQLite gives its -wal the same */
	if (fd < 0) {
		err_set(err, "cannot create ledger '%s': %s", f->path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (make(ctx, tmp, err) < 0)
		goto out;
	while (fsync(fd) < 0)
		if (errno != EINTR) {
			err_set(err, "cannot create ledger '%s': %s", f->path, strerror(errno));
			goto out;
		}
	if (link(tmp, f->real) == 0) {
		rc = 1;
	} else if (errno == EEXIST) {
		rc = 0;
	} else if (errno == EPERM || errno == ENOTSUP || errno == ENOSYS ||
		   errno == EOPNOTSUPP || errno == EMLINK) {
		/* no hard links here: a plain rename, checked just before */
		struct stat sb;

		if (lstat(f->real, &sb) == 0)
			rc = 0;
		else if (rename(tmp, f->real) == 0)
			rc = 1;
		else
			err_set(err, "cannot create ledger '%s': %s", f->path, strerror(errno));
	} else {
		err_set(err, "cannot create ledger '%s': %s", f->path, strerror(errno));
	}
out:
	close(fd);
	unlink(tmp); /* after a link: the name only; after a rename: nothing */
	free(tmp);
	return rc;
}

int ledger_file_init(struct ledger_file *f, const char *path, struct err *err)
{
	size_t n;

	memset(f, 0, sizeof(*f));
	f->lock_fd = -1;
	f->wal_fd = -1;
	f->path = strdup(path);
	if (!f->path)
		return err_set(err, "out of memory");
	if (resolve_path(path, &f->real, err) < 0)
		return -1;
	n = strlen(f->real) + sizeof("-wal");
	f->wal_path = malloc(n);
	if (!f->wal_path)
		return err_set(err, "out of memory");
	snprintf(f->wal_path, n, "%s-wal", f->real);
	return 0;
}

/* An existing file must start like an SQLite database: a 1-byte file
 * would be taken for an empty database and overwritten. */
static int check_magic(const struct ledger_file *f, const struct stat *sb, struct err *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];

	if (sb->st_size < (off_t)sizeof(head) ||
	    pread(f->lock_fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, magic, sizeof(head)) != 0)
		return err_set(err,
			       "ledger '%s' is not a dots-import ledger or is corrupt: file is not a database",
			       f->path);
	return 0;
}

/* Takes the ledger's lock (never waiting: another process holds it, or
 * this one may go on) and reads its size and mode. */
static int lock_and_stat(struct ledger_file *f, struct stat *sb, struct err *err)
{
	if (flock(f->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return err_set(err, errno == EWOULDBLOCK
					    ? "ledger '%s' is in use by another dots-import process"
					    : "cannot lock ledger '%s'",
			       f->path);
	f->locked = true;
	if (fstat(f->lock_fd, sb) < 0)
		return err_set(err, "cannot open ledger '%s': %s", f->path, strerror(errno));
	return 0;
}

int ledger_file_open(struct ledger_file *f, bool must_create, ledger_file_make_fn make,
		     void *ctx, struct err *err)
{
	struct stat sb;
	int side;

	if (must_create) {
		if (lstat(f->real, &sb) == 0)
			return err_set(err, "refusing to overwrite '%s': it already exists",
				       f->path);
		side = find_side_file(f);
		if (side >= 0)
			return err_set(err,
				       "refusing to overwrite '%s%s': it already exists (move it away first)",
				       side_base(f), side_suffix[side]);
	} else {
		f->lock_fd = open(f->real, O_RDWR | O_CLOEXEC);
		if (f->lock_fd < 0 && errno == ENOENT) {
			side = find_side_file(f);
			if (side >= 0)
				return side_file_refusal(f, side, err);
		}
	}
	if (f->lock_fd < 0 && (must_create || errno == ENOENT)) {
		int made = make_new(f, make, ctx, err);

		if (made < 0)
			return -1;
		if (made == 0 && must_create)
			return err_set(err, "refusing to overwrite '%s': it already exists",
				       f->path);
		f->created = made == 1;
		f->lock_fd = open(f->real, O_RDWR | O_CLOEXEC);
	}
	if (f->lock_fd < 0)
		return err_set(err, "cannot open ledger '%s': %s", f->path, strerror(errno));
	if (lock_and_stat(f, &sb, err) < 0)
		return -1;
	if (sb.st_size == 0) {
		side = find_side_file(f);
		if (side >= 0)
			return side_file_refusal(f, side, err);
		return err_set(err,
			       "'%s' is empty: not a ledger; move it away (a new ledger is made only "
			       "where no file exists), or put back the ledger it replaced",
			       f->path);
	}
	if (check_magic(f, &sb, err) < 0)
		return -1;
	if (sb.st_mode & 077)
		fchmod(f->lock_fd, 0600);
	return 0;
}

int ledger_file_open_read(struct ledger_file *f, struct err *err)
{
	struct stat sb;
	int side;

	f->lock_fd = open(f->real, O_RDONLY | O_CLOEXEC);
	if (f->lock_fd < 0) {
		if (errno != ENOENT)
			return err_set(err, "cannot open ledger '%s': %s", f->path,
				       strerror(errno));
		side = find_side_file(f);
		return side >= 0 ? side_file_refusal(f, side, err) : 0;
	}
	if (lock_and_stat(f, &sb, err) < 0)
		return -1;
	if (sb.st_size == 0)
		return err_set(err, "'%s' is empty: not a ledger", f->path);
	if (check_magic(f, &sb, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
		char p[PATH_MAX + 16];

		snprintf(p, sizeof(p), "%s%s", f->real, side_suffix[i]);
		f->had_side[i] = lstat(p, &sb) == 0;
	}
	f->readonly = true;
	return 1;
}

int ledger_file_sync_wal(struct ledger_file *f, struct err *err)
{
	if (f->wal_fd < 0) {
		f->wal_fd = open(f->wal_path, O_RDONLY | O_CLOEXEC);
		if (f->wal_fd < 0)
			return err_set(err, "ledger '%s': cannot open '%s': %s", f->path,
				       f->wal_path, strerror(errno));
	}
	while (fdatasync(f->wal_fd) < 0)
		if (errno != EINTR)
			return err_set(err, "ledger '%s': cannot sync to disk: %s", f->path,
				       strerror(errno));
	return 0;
}

int ledger_file_sync_dir(const struct ledger_file *f, struct err *err)
{
	const char *slash = strrchr(f->real, '/'); /* real is absolute */
	char dir[PATH_MAX];
	int fd, rc;

	snprintf(dir, sizeof(dir), "%.*s", slash == f->real ? 1 : (int)(slash - f->real),
		 f->real);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "ledger '%s': cannot open its directory: %s", f->path,
			       strerror(errno));
	do
		rc = fsync(fd);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINVAL) /* EINVAL: this file system cannot */
		err_set(err, "ledger '%s': cannot sync its directory: %s", f->path,
			strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

void ledger_file_close(struct ledger_file *f, bool remove)
{
	if (f->wal_fd >= 0)
		close(f->wal_fd);
	if (f->readonly && f->locked) {
		/* what a read-only SQLite connection made: still under our flock */
		for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
			char p[PATH_MAX + 16];

			snprintf(p, sizeof(p), "%s%s", f->real, side_suffix[i]);
			if (!f->had_side[i])
				unlink(p);
		}
	}
	if (remove && f->created && f->locked) {
		/* still under our flock: nobody else uses them */
		for (size_t i = 0; i < sizeof(side_suffix) / sizeof(side_suffix[0]); i++) {
			char p[PATH_MAX + 16];

			snprintf(p, sizeof(p), "%s%s", f->real, side_suffix[i]);
			unlink(p);
		}
		unlink(f->real);
	}
	if (f->lock_fd >= 0)
		close(f->lock_fd); /* releases the flock */
	free(f->path);
	free(f->real);
	free(f->wal_path);
	f->path = f->real = f->wal_path = NULL;
	f->wal_fd = f->lock_fd = -1;
}
