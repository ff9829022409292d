/* tests/support/fault/fault.c - a fault-injection LD_PRELOAD shim for the ledger's writes.
 *
 * Built for the tests only (tests/CMakeLists.txt: tpc_fault), never linked into the engine. It
 * sits in front of the C library calls liblmdb makes through its PLT to write and flush the
 * data file, and makes them fail on a file whose path contains TPC_FAULT_PATH (default
 * "data.mdb"); every other file (the log, the SEPA files, lock.mdb) is left alone.
 *
 *   TPC_FAULT=enospc    pwrite, pwrite64, write, writev, pwritev fail with ENOSPC
 *   TPC_FAULT=short     the same calls write half of what they were asked and return the short
 *                       count, and statvfs / fstatvfs report no space left: a disk that fills
 *                       in the middle of a write, as a real one does
 *   TPC_FAULT=eio-sync  fdatasync, fsync and msync fail with EIO
 *   TPC_FAULT=hang-sync fdatasync and fsync wait for as long as the mode stays on, then do their
 *                       work: a disk that stops answering (a dead path, a hung NFS server),
 *                       which sticks the ledger writer inside a commit (the watchdog's test)
 *   TPC_FAULT_AFTER=N   the first N matching calls of the faulted kind pass (default 0)
 *   TPC_FAULT_CONTROL=F the mode is the first word of file F, read again at every matching call,
 *                       so a test can turn a fault on and off while the daemon runs ("off" or
 *                       an empty or missing file: no fault); TPC_FAULT is then ignored
 *
 * Why interpose rather than fill a real file system: a full disk or a failing fsync cannot be
 * made on demand without root (a loop device, dm-flakey), and the shim aims exactly at the
 * ledger's file, at the call chosen. Under AddressSanitizer LD_PRELOAD cannot be used (the ASan
 * runtime must come first in the library list): the tests that use the shim skip there.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum mode { M_OFF, M_ENOSPC, M_SHORT, M_EIO_SYNC, M_HANG_SYNC };

static _Atomic long passed_writes, passed_syncs;

static enum mode parse_mode(const char *s)
{
	if (!s)
		return M_OFF;
	if (strncmp(s, "enospc", 6) == 0)
		return M_ENOSPC;
	if (strncmp(s, "short", 5) == 0)
		return M_SHORT;
	if (strncmp(s, "eio-sync", 8) == 0)
		return M_EIO_SYNC;
	if (strncmp(s, "hang-sync", 9) == 0)
		return M_HANG_SYNC;
	return M_OFF;
}

/* The mode in force now: the control file when there is one (read with the raw system calls,
 * which this shim does not interpose), else the environment. */
static enum mode current_mode(void)
{
	const char *ctl = getenv("TPC_FAULT_CONTROL");
	char buf[32];
	ssize_t n;
	int fd;

	if (!ctl)
		return parse_mode(getenv("TPC_FAULT"));
	fd = open(ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return M_OFF;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return parse_mode(buf);
}

/* Does @p fd name the file under test? Asked of /proc at each call: LMDB opens its files
 * before any test could say which descriptors they got. */
static int targeted(int fd)
{
	const char *want = getenv("TPC_FAULT_PATH");
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = 0;
	return strstr(path, want && *want ? want : "data.mdb") != NULL;
}

/* Past the first TPC_FAULT_AFTER matching calls of its kind? */
static int past_after(_Atomic long *counter)
{
	const char *a = getenv("TPC_FAULT_AFTER");
	long after = a ? atol(a) : 0;

	return atomic_fetch_add(counter, 1) >= after;
}

/* What a write on @p fd must do: 0 pass, else the mode that fails it. */
static enum mode write_fault(int fd)
{
	enum mode m = current_mode();

	if ((m != M_ENOSPC && m != M_SHORT) || !targeted(fd) || !past_after(&passed_writes))
		return M_OFF;
	return m;
}

static int sync_fault(int fd)
{
	return current_mode() == M_EIO_SYNC && targeted(fd) && past_after(&passed_syncs);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	enum mode m = write_fault(fd);

	if (m == M_ENOSPC) {
		errno = ENOSPC;
		return -1;
	}
	/* a short write: half lands, as when the last free blocks are taken mid-call */
	return REAL(pwrite)(fd, buf, m == M_SHORT && n > 1 ? n / 2 : n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	enum mode m = write_fault(fd);

	if (m == M_ENOSPC) {
		errno = ENOSPC;
		return -1;
	}
	return REAL(write)(fd, buf, m == M_SHORT && n > 1 ? n / 2 : n);
}

/* writev and pwritev: a short write is the first buffer only (LMDB gathers whole pages) */
ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	enum mode m = write_fault(fd);

	if (m == M_ENOSPC) {
		errno = ENOSPC;
		return -1;
	}
	return REAL(writev)(fd, iov, m == M_SHORT && cnt > 1 ? 1 : cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	enum mode m = write_fault(fd);

	if (m == M_ENOSPC) {
		errno = ENOSPC;
		return -1;
	}
	return REAL(pwritev)(fd, iov, m == M_SHORT && cnt > 1 ? 1 : cnt, off);
}

/* hang-sync: wait while the mode is on (read again every 20 ms, so the test can end the hang) */
static void hang_while_on(int fd)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	while (current_mode() == M_HANG_SYNC && targeted(fd))
		nanosleep(&ts, NULL);
}

int fdatasync(int fd)
{
	hang_while_on(fd);
	if (sync_fault(fd)) {
		errno = EIO;
		return -1;
	}
	return REAL(fdatasync)(fd);
}

int fsync(int fd)
{
	hang_while_on(fd);
	if (sync_fault(fd)) {
		errno = EIO;
		return -1;
	}
	return REAL(fsync)(fd);
}

int msync(void *addr, size_t len, int flags)
{
	/* no descriptor to match: an msync in eio-sync mode fails whatever it flushes (LMDB
	 * calls it only with MDB_WRITEMAP, which tpclear does not use) */
	if (current_mode() == M_EIO_SYNC && past_after(&passed_syncs)) {
		errno = EIO;
		return -1;
	}
	return REAL(msync)(addr, len, flags);
}

/* In "short" mode the file system says it is full, as it would after such a write. */
int fstatvfs(int fd, struct statvfs *buf)
{
	int rc = REAL(fstatvfs)(fd, buf);

	if (rc == 0 && current_mode() == M_SHORT)
		buf->f_bavail = buf->f_bfree = 0;
	return rc;
}

int statvfs(const char *path, struct statvfs *buf)
{
	int rc = REAL(statvfs)(path, buf);

	if (rc == 0 && current_mode() == M_SHORT)
		buf->f_bavail = buf->f_bfree = 0;
	return rc;
}
