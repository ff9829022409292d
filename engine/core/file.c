/* engine/core/file.c - see file.h. */
#include "core/file.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* write(2) may write less than asked (a signal, a full pipe, some filesystems near quota) and
 * may be interrupted before writing anything; only a real error stops the loop. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The directory holding @p path: "." without a slash, "/" for a file at the root. */
static int dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!slash)
		return snprintf(dir, size, ".") < (int)size ? 0 : -ENAMETOOLONG;
	if (n == 0)
		n = 1;
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	return 0;
}

int tpc_file_write_atomic(const char *path, const void *bytes, size_t len)
{
	const char *data = bytes;
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, rc;

	if (TPC_FAILS(path && *path && (data || !len)))
		return TPC_EINVAL;
	/* Beside the target, not in /tmp: rename(2) is atomic only within one filesystem. The pid
	 * keeps two processes (the daemon and a CLI) writing the same path off each other's
	 * temporary. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((rc = dir_of(path, dir, sizeof(dir))))
		return rc;

	/* No O_EXCL: a crash leaves "<path>.tmp.<pid>" behind, and in a container the daemon gets
	 * the same pid on every start, so an exclusive create would block that path for good. Mode
	 * 0640 because the files list account numbers (the ledger's LMDB files use 0640 too).
	 * O_NOFOLLOW because that name is predictable: a symlink planted there would otherwise
	 * redirect the write to any file the daemon may open. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	/* fsync before rename: otherwise the rename can reach the disk before the data, and a
	 * crash leaves the new name on an empty or partial file. close() can report a delayed
	 * write error (NFS), so its result counts too. */
	rc = write_all(fd, data, len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		goto out_unlink;
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto out_unlink;
	}

	/* the rename is durable once the directory is: without this a crash may bring back the old
	 * file, or none; the new file itself is already complete. A failure here is reported
	 * although the new file is in place: the caller cannot count on it surviving a crash. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;

out_unlink:
	unlink(tmp);
	return rc;
}

int tpc_file_read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, r;
	int rc = 0;

	if (!f)
		return -errno;
	/* Read until EOF instead of trusting fstat's size: the path may be a pipe or /dev/stdin
	 * (file.h), which have none. The buffer doubles, so a large file costs log2(n) reallocs. */
	for (;;) {
		if (n == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	/* fread returns 0 at EOF and on error alike; ferror tells them apart. -EIO because stdio
	 * does not promise that errno still names the failure here. */
	if (ferror(f)) {
		rc = -EIO;
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}
