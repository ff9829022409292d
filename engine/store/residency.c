/* engine/store/residency.c - see residency.h: the ledger's mapped pages dropped from the
 * daemon's resident set above a budget. */
#include "store/residency.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct tpc_residency {
	uint64_t budget;  /* shared resident bytes allowed before a drop */
	uint64_t last;    /* shared resident bytes at the last look */
	uint64_t next_ms; /* monotonic time of the next look */
	long page;        /* statm counts pages of this size */
	int fd;           /* /proc/self/statm, kept open: one pread per look */
};

int tpc_residency_new(uint64_t budget, tpc_residency_t **out)
{
	tpc_residency_t *r = calloc(1, sizeof(*r));

	if (!r)
		return TPC_ENOMEM;
	r->fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = -errno;

		free(r);
		return rc;
	}
	r->budget = budget;
	r->page = sysconf(_SC_PAGESIZE);
	*out = r;
	return 0;
}

void tpc_residency_free(tpc_residency_t **r)
{
	if (!r || !*r)
		return;
	close((*r)->fd);
	free(*r);
	*r = NULL;
}

/* statm: size resident shared text lib data dt, in pages; "shared" is RssFile + RssShmem. */
static int read_shared(tpc_residency_t *r, uint64_t *out)
{
	char buf[256];
	ssize_t n = pread(r->fd, buf, sizeof(buf) - 1, 0);
	uint64_t size, resident, shared;

	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64, &size, &resident, &shared) != 3)
		return TPC_EIO;
	*out = shared * (uint64_t)r->page;
	return 0;
}

int tpc_residency_check(tpc_residency_t *r, tpc_store_t *st, uint64_t now_ms)
{
	int rc;

	if (now_ms < r->next_ms)
		return 0;
	/* The period bounds the overshoot: between two looks the resident set grows by what the
	 * ledger's readers touch, and at 10^8 lines (random dedup leaves over a 24 GB ledger) that
	 * was ~1 GB in the one second of the first period (VmHWM 1.48 GB against a 512M budget,
	 * docs/benchmarks.md "Issue 15, sixth session: 10^8 lines"). A look is one pread of statm;
	 * a drop still happens only above the budget, so looking ten times as often does not drop
	 * more often: the set needs the same time to fill up again. */
	r->next_ms = now_ms + TPC_RESIDENCY_PERIOD_MS;
	if ((rc = read_shared(r, &r->last)))
		return rc;
	if (r->last <= r->budget)
		return 0;
	if ((rc = tpc_store_unmap_pages(st)))
		return rc;
	return 1;
}

uint64_t tpc_residency_last(const tpc_residency_t *r)
{
	return r->last;
}
