/* engine/store/dirlock.c - the data directory's lock (see dirlock.h). */
#include "store/dirlock.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The holder's pid as its file says, for the refusal; 0 when the file is empty, as it is for the
 * instant between the holder's flock and its write. */
static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

int tpc_dirlock_take(const char *dir, int *out)
{
	char path[4096], pid[32];
	int fd, n, rc;
	long other;

	snprintf(path, sizeof(path), "%s/lock", dir);
	/* close-on-exec: a child of the daemon must not keep the lock after the daemon died */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		tpc_error("data directory %s: cannot open its lock %s: %s", dir, path,
		          strerror(errno));
		return rc;
	}
	/* flock, not fcntl locks: those belong to the process and are dropped when any descriptor
	 * of the file is closed, e.g. by a library; a flock belongs to this open file */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? TPC_EBUSY : -errno;
		other = holder_pid(fd);
		if (rc == TPC_EBUSY && other > 0)
			tpc_error(
			    "data directory %s is in use by another tpcleard (pid %ld, lock %s): "
			    "one daemon per data directory",
			    dir, other, path);
		else if (rc == TPC_EBUSY)
			tpc_error("data directory %s is in use by another tpcleard (pid not yet "
			          "written, lock %s): one daemon per data directory",
			          dir, path);
		else
			tpc_error("data directory %s: cannot lock %s: %s", dir, path,
			          strerror(-rc));
		close(fd);
		return rc;
	}
	/* the pid only informs the message above: a failure to write it is not worth refusing */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		tpc_warn("data directory %s: cannot write the pid into %s: %s", dir, path,
		         strerror(errno));
	*out = fd;
	return 0;
}

void tpc_dirlock_release(int *fd)
{
	if (!fd || *fd < 0)
		return;
	close(*fd); /* drops the flock */
	*fd = -1;
}
