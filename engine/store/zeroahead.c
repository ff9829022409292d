/* engine/store/zeroahead.c - written zeros ahead of the ledger's last page (see zeroahead.h). */
#include "store/zeroahead.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2 MiB a step: at the ~1 GB/s this disk writes sequentially, plus one flush, a sending that
 * arrives during a step waits ~2-3 ms; smaller steps would pay the file system's journal commit
 * (the cost moved out of the commits) more often for the same room. */
#define ZEROAHEAD_CHUNK (2u << 20)

struct tpc_zeroahead {
	int fd;
	uint64_t headroom;
};

/* One page of zeros written as many times as a chunk needs (pwritev would need a vector of
 * pointers to it anyway): static, so a step allocates nothing. */
static const char zeros[64 * 1024];

int tpc_zeroahead_new(const char *path, uint64_t headroom, tpc_zeroahead_t **out)
{
	tpc_zeroahead_t *z = calloc(1, sizeof(*z));

	if (!z)
		return TPC_ENOMEM;
	/* O_WRONLY without O_APPEND or O_CREAT: the file is LMDB's and exists; writes go to
	 * offsets chosen past its end */
	z->fd = open(path, O_WRONLY | O_CLOEXEC);
	if (z->fd < 0) {
		int rc = -errno;
		free(z);
		return rc;
	}
	z->headroom = headroom;
	*out = z;
	return 0;
}

void tpc_zeroahead_free(tpc_zeroahead_t **z)
{
	if (!z || !*z)
		return;
	close((*z)->fd);
	free(*z);
	*z = NULL;
}

int tpc_zeros_write(int fd, uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t n = to - from < sizeof(zeros) ? (size_t)(to - from) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)from);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		from += (uint64_t)w;
	}
	return 0;
}

int tpc_zeroahead_step(tpc_zeroahead_t *z, uint64_t used_end, uint64_t limit)
{
	struct stat st;
	uint64_t size, want;
	int rc;

	if (fstat(z->fd, &st) != 0)
		return -errno;
	size = (uint64_t)st.st_size;
	/* A file shorter than LMDB's last page would be a ledger whose pages are not all written
	 * yet (never between committed transactions): zeros there could land on them. */
	if (size < used_end)
		return 0;
	want = used_end + z->headroom;
	if (want > limit)
		want = limit;
	if (size >= want)
		return 0;
	if (want - size > ZEROAHEAD_CHUNK)
		want = size + ZEROAHEAD_CHUNK;
	/* the sync makes the new blocks and the new size durable now, in idle time: that journal
	 * commit is the one the ledger's own commits no longer pay */
	if ((rc = tpc_zeros_write(z->fd, size, want)) || fdatasync(z->fd) != 0)
		return rc ? rc : -errno;
	return 1;
}
