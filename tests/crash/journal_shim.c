/* tests/crash/journal_shim.c - an LD_PRELOAD library that journals every write to the ledger's
 * data file and every fsync of it, so that a power loss can be replayed offline
 * (tests/crash/powercut.c, docs/reliability.md).
 *
 * Loaded into tpcleard with TPC_PL_JOURNAL=PATH set, it watches the files whose name ends in
 * "/data.mdb" (the LMDB data file; the lock file is rebuilt at every open and does not matter)
 * and appends to PATH, in the order the calls returned:
 *   W  a write of len bytes at off (pwrite, pwritev, or write/writev at the file position),
 *      with flag 1 when the descriptor was opened O_DSYNC (LMDB's meta-page descriptor under
 *      sync = full: such a write is on disk when it returns), then the bytes;
 *   S  an fsync or fdatasync of the file: every write before it is on disk;
 *   T  an ftruncate to off;
 *   R  a rename(2) onto a name ending in ".pain.001.xml" (a payment run's SEPA file put in
 *      place, core/file.c), followed by that base name (len bytes): the files a cut keeps.
 * The records are written after the real call succeeded, under one mutex, so the journal's
 * order is an order the kernel saw. Nothing else is changed: every call goes to libc as asked.
 *
 * Separate from tests/support/fault/ (which makes calls fail): this one only watches. It cannot
 * be used with AddressSanitizer, whose runtime must be the first library loaded.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "journal.h"

#define MAX_FD 4096

/* Per descriptor: 0 untracked, 1 the data file, 2 the data file opened O_DSYNC, 3 the
 * attestation journal (DATA_DIR/eattest.journal, always O_DSYNC: only its writes are recorded,
 * tagged file 1; it is never synced nor truncated, and an 'S' must not flush data.mdb's writes
 * in powercut.c's model). */
static unsigned char tracked[MAX_FD];
static int journal_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_rename)(const char *, const char *);

/* The real functions, found once (the constructor runs before main). */
__attribute__((constructor)) static void shim_init(void)
{
	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_close = dlsym(RTLD_NEXT, "close");
	real_write = dlsym(RTLD_NEXT, "write");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	real_writev = dlsym(RTLD_NEXT, "writev");
	real_pwritev = dlsym(RTLD_NEXT, "pwritev");
	real_fsync = dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
	real_rename = dlsym(RTLD_NEXT, "rename");
}

static int is_tracked(int fd)
{
	return fd >= 0 && fd < MAX_FD && tracked[fd];
}

/* A whole record, retried on short writes; the journal is only read after the daemon died. */
static void put(const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = real_write(journal_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void record(char type, int fd, uint64_t off, const struct iovec *iov, int iovcnt, size_t len)
{
	struct tpc_journal_rec r;
	int saved = errno;

	memset(&r, 0, sizeof(r));
	r.magic = TPC_JOURNAL_MAGIC;
	r.type = (uint8_t)type;
	r.dsync = fd >= 0 && fd < MAX_FD && tracked[fd] >= 2;
	r.file = fd >= 0 && fd < MAX_FD && tracked[fd] == 3;
	r.off = off;
	r.len = type == 'W' || type == 'R' ? len : 0;
	put(&r, sizeof(r));
	/* the bytes written, which may be fewer than the vectors hold (a short write) */
	for (int i = 0; (type == 'W' || type == 'R') && i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		put(iov[i].iov_base, n);
		len -= n;
	}
	errno = saved;
}

static void track(int fd, const char *path, int flags)
{
	size_t n = path ? strlen(path) : 0;
	unsigned char kind = 0;

	if (fd < 0 || fd >= MAX_FD)
		return;
	tracked[fd] = 0;
	if (n >= 16 && strcmp(path + n - 16, "/eattest.journal") == 0)
		kind = 3;
	else if (n < 8 || strcmp(path + n - 8, "data.mdb") != 0 || (n > 8 && path[n - 9] != '/'))
		return;
	pthread_mutex_lock(&lock);
	if (journal_fd < 0) {
		const char *j = getenv("TPC_PL_JOURNAL");

		if (j)
			journal_fd = real_open(j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	if (journal_fd >= 0)
		tracked[fd] = kind ? kind : (flags & O_DSYNC) ? 2 : 1;
	pthread_mutex_unlock(&lock);
}

/* The mode argument of an open call, present only when it creates: one body for the three
 * variadic wrappers below. */
#define MODE_OF(flags, mode)                                                                       \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, flags);                                                               \
		mode = ((flags) & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;                    \
		va_end(ap);                                                                        \
	} while (0)

/* Open with @p call, then watch the descriptor when it is the data file. */
#define OPEN_WITH(call)                                                                            \
	do {                                                                                       \
		int fd, mode;                                                                      \
		MODE_OF(flags, mode);                                                              \
		fd = call;                                                                         \
		track(fd, path, flags);                                                            \
		return fd;                                                                         \
	} while (0)

int open(const char *path, int flags, ...)
{
	OPEN_WITH(real_open(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	OPEN_WITH((real_open64 ? real_open64 : real_open)(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_WITH(real_openat(dirfd, path, flags, mode));
}

int close(int fd)
{
	if (fd >= 0 && fd < MAX_FD)
		tracked[fd] = 0;
	return real_close(fd);
}

/* One write at @p off of the vectors, journaled when it touched the data file. */
static ssize_t journaled(int fd, off_t off, const struct iovec *iov, int iovcnt, ssize_t n)
{
	if (n > 0) {
		pthread_mutex_lock(&lock);
		record('W', fd, (uint64_t)off, iov, iovcnt, (size_t)n);
		pthread_mutex_unlock(&lock);
	}
	return n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct iovec v = {(void *)buf, len};
	off_t at;

	if (!is_tracked(fd))
		return real_write(fd, buf, len);
	at = lseek(fd, 0, SEEK_CUR);
	return journaled(fd, at, &v, 1, real_write(fd, buf, len));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = {(void *)buf, len};

	if (!is_tracked(fd))
		return real_pwrite(fd, buf, len, off);
	return journaled(fd, off, &v, 1, real_pwrite(fd, buf, len, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = {(void *)buf, len};
	ssize_t (*f)(int, const void *, size_t, off_t) =
	    real_pwrite64 ? real_pwrite64 : real_pwrite;

	if (!is_tracked(fd))
		return f(fd, buf, len, off);
	return journaled(fd, off, &v, 1, f(fd, buf, len, off));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	off_t at;

	if (!is_tracked(fd))
		return real_writev(fd, iov, iovcnt);
	/* LMDB seeks, then writev()s a run of dirty pages */
	at = lseek(fd, 0, SEEK_CUR);
	return journaled(fd, at, iov, iovcnt, real_writev(fd, iov, iovcnt));
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	if (!is_tracked(fd))
		return real_pwritev(fd, iov, iovcnt, off);
	return journaled(fd, off, iov, iovcnt, real_pwritev(fd, iov, iovcnt, off));
}

static int synced(int fd, int rc)
{
	if (rc == 0 && is_tracked(fd) && tracked[fd] != 3) {
		pthread_mutex_lock(&lock);
		record('S', fd, 0, NULL, 0, 0);
		pthread_mutex_unlock(&lock);
	}
	return rc;
}

int fsync(int fd)
{
	return synced(fd, real_fsync(fd));
}

int fdatasync(int fd)
{
	return synced(fd, real_fdatasync(fd));
}

int ftruncate(int fd, off_t len)
{
	int rc = real_ftruncate(fd, len);

	if (rc == 0 && is_tracked(fd) && tracked[fd] != 3) {
		pthread_mutex_lock(&lock);
		record('T', fd, (uint64_t)len, NULL, 0, 0);
		pthread_mutex_unlock(&lock);
	}
	return rc;
}

int rename(const char *from, const char *to)
{
	int rc = real_rename(from, to);
	size_t n = to ? strlen(to) : 0;
	const char *base = to ? strrchr(to, '/') : NULL;

	if (rc == 0 && journal_fd >= 0 && n > 13 && strcmp(to + n - 13, ".pain.001.xml") == 0) {
		struct iovec v;

		base = base ? base + 1 : to;
		v.iov_base = (void *)base;
		v.iov_len = strlen(base);
		pthread_mutex_lock(&lock);
		record('R', -1, 0, &v, 1, v.iov_len);
		pthread_mutex_unlock(&lock);
	}
	return rc;
}
