/* engine/store/zeroahead.h - written zeros kept ahead of the ledger's last page, so that a
 * commit's fdatasync flushes data and nothing else.
 *
 * Why: LMDB appends pages past the end of data.mdb as the ledger grows. On ext4 a file that
 * grew (a new size, blocks allocated at writeback) makes fdatasync commit the file system's
 * journal as well as write the data: more device writes and flushes on every commit, in the
 * path of every answer. Blocks that already hold written zeros are overwritten in place, and
 * fdatasync then writes the data only. Measured in docs/benchmarks.md ("Zeros written ahead").
 *
 * DESIGN
 * - Only the ledger writer calls tpc_zeroahead_step(), and only between transactions while its
 *   queue is empty: LMDB writes nothing then, and the range zeroed lies past both the file's end
 *   and LMDB's last page, where LMDB writes only inside a later transaction. So the zeros never
 *   overwrite a page, and under sustained load (never idle) the file grows as it always did:
 *   there throughput counts, and the group commit already shares each sync among many sendings.
 * - One step writes one chunk (ZEROAHEAD_CHUNK) and syncs it: a sending that arrives meanwhile
 *   waits a few milliseconds at most.
 * - Never past the map size: LMDB maps no more, and a file longer than its map is refused by no
 *   one but still useless. The map grows by doubling (store.c), the zeros follow.
 * - Its own file descriptor: Linux reports a write-back error to every open file description
 *   of the file, so an error met here does not hide one from LMDB's next commit.
 * - The zeros past the last page are never read: LMDB, verify and `tpclear backup`
 *   (mdb_env_copy) stop at the last page.
 */
#ifndef TPC_STORE_ZEROAHEAD_H
#define TPC_STORE_ZEROAHEAD_H

#include <stdint.h>

typedef struct tpc_zeroahead tpc_zeroahead_t;

/** @param[in]  path     the ledger's data.mdb (borrowed; opened for writing here)
 *  @param[in]  headroom bytes to keep zeroed past LMDB's last page (> 0)
 *  @param[out] out      owned by the caller, released with tpc_zeroahead_free()
 *  @return 0, TPC_ENOMEM or a negative errno from open(). */
int tpc_zeroahead_new(const char *path, uint64_t headroom, tpc_zeroahead_t **out);
/** Close and free; NULL-safe; NULLs *@p z. */
void tpc_zeroahead_free(tpc_zeroahead_t **z);
/** Write and sync one chunk of zeros at the file's end when fewer than headroom bytes past
 *  @p used_end are there, never past @p limit.
 *  @param[in] used_end the bytes LMDB uses: (last page number + 1) x page size
 *  @param[in] limit    the map size
 *  @return 1 a chunk was written and synced (more may be wanted), 0 nothing to do, or a
 *          negative errno (the file is left as it was or longer by what was written; the
 *          caller stops calling). */
int tpc_zeroahead_step(tpc_zeroahead_t *z, uint64_t used_end, uint64_t limit);

/** Write [@p from, @p to) of @p fd with zeros (pwrite, retried on EINTR and short writes; the
 *  attestation journal's growth too, store/journal.c). @return 0 or a negative errno (ENOSPC
 *  when the disk is full). */
int tpc_zeros_write(int fd, uint64_t from, uint64_t to);

#endif /* TPC_STORE_ZEROAHEAD_H */
