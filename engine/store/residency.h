/* engine/store/residency.h - the ledger's pages kept out of the daemon's resident set.
 *
 * Why: LMDB reads the ledger through a read-only shared map of data.mdb, and every page it reads
 * stays mapped into the daemon and counts in its resident set (RssFile): the leaf the writer
 * appends to is read back at the next group, so over time almost every page of every appended
 * table is read once. At 10^7 lines that was 1.47 GB of a 1.87 GB peak RSS against 109 MB of
 * the daemon's own memory (docs/benchmarks.md, "Issue 15, fourth session"). Those pages are the
 * kernel's page cache either way; counted in the daemon's RSS they make it look like a leak to
 * the operations team's alerts, and they weigh in the OOM killer's choice (its badness counts
 * file pages), which would pick the clearing engine first on a host short of memory.
 *
 * DESIGN
 * - The ledger writer calls tpc_residency_check() between groups. At most every
 *   TPC_RESIDENCY_PERIOD_MS it reads the daemon's shared resident pages (/proc/self/statm, RssFile
 * + RssShmem: the daemon maps no shared memory but the ledger and its own code), and above the
 * budget asks the store to drop the map's pages from the daemon's page tables
 * (tpc_store_unmap_pages).
 * - Safe for readers at any moment: the map is read-only and shared (no MDB_WRITEMAP), so
 *   MADV_DONTNEED only removes page-table entries; the pages stay in the page cache and the
 *   next read faults the same bytes back in (a minor fault, no disk read while the cache holds
 *   them). Only the writer calls it, the one thread that remaps the map (tpc_store_grow), so
 *   the range dropped is always the current map.
 * - Cost: after a drop the pages still in use fault back in, about a microsecond each; a budget
 *   of a few hundred MB keeps that under a few percent of a core: a drop needs the set to
 *   fill the budget again first, however often the writer looks
 *   (measured in docs/benchmarks.md, "Issue 15, fifth session: the ledger's resident pages").
 * - A failure to read statm or to drop is logged once by the caller and changes nothing else:
 *   the ledger works as before, with a larger RSS.
 */
#ifndef TPC_STORE_RESIDENCY_H
#define TPC_STORE_RESIDENCY_H

#include "store/store.h"

#include <stdint.h>

typedef struct tpc_residency tpc_residency_t;

/** The least time between two looks at statm, ms: the resident set can pass the budget by
 *  what the readers touch in that time. */
#define TPC_RESIDENCY_PERIOD_MS 100

/** @param[in]  budget shared resident bytes above which the map's pages are dropped (> 0)
 *  @param[out] out    owned by the caller, released with tpc_residency_free()
 *  @return 0, TPC_ENOMEM or a negative errno from opening /proc/self/statm. */
int tpc_residency_new(uint64_t budget, tpc_residency_t **out);
/** Close and free; NULL-safe; NULLs *@p r. */
void tpc_residency_free(tpc_residency_t **r);
/** Writer thread, between transactions: when TPC_RESIDENCY_PERIOD_MS have passed since the last
 * look
 *  (@p now_ms, monotonic) and the shared resident bytes exceed the budget, drop the map's pages.
 *  @return 1 when pages were dropped, 0 when nothing was to do, or a negative error (statm
 *  unreadable, madvise refused). */
int tpc_residency_check(tpc_residency_t *r, tpc_store_t *st, uint64_t now_ms);
/** Shared resident bytes at the last look (0 before the first): the figure the budget is
 *  compared with. */
uint64_t tpc_residency_last(const tpc_residency_t *r);

#endif /* TPC_STORE_RESIDENCY_H */
