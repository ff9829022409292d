/* engine/refdata/snapshot.h - the reference data in memory, as the per-line path reads it.
 *
 * DESIGN
 * - What: an immutable copy of every row of every kind (members, tariffs, agreements, the
 *   providers and the scheme feeds), built from LMDB in one read transaction, with lookups of
 *   the same meaning as refdata.h's cursor lookups: same rows found, same misses, the text
 *   whole. Clearing (engine/clearing/tariff.c, schemes.c) reads it instead of opening cursors
 *   per sending and walking B-trees per line: a lookup is one hash probe and a short scan of
 *   the person's (or code's) periods. dedup, units and invoices stay in LMDB: the writer adds
 *   to them with every sending.
 * - Life: the store builds one when it opens and again after each committed load of reference
 *   data (tpc_store_refdata_rebuild(), store/store.h), and publishes it in a tpc_refsnap_live_t:
 *   a pointer swap under a mutex held for a few instructions. A worker takes a reference to the
 *   snapshot in force per sending and drops it when the sending is judged; whoever drops the
 *   last reference frees it. So a sending sees one state of the reference data from its first
 *   line to its last, a reload never waits for a sending, and a load that fails or is refused
 *   publishes nothing.
 * - Threads: a snapshot is read by any number of threads without a lock (nothing in it changes
 *   after the build); the live holder is shared by the writer (publish) and the workers
 *   (acquire, release).
 * - Memory: rows as their structs (fixed parts) plus every text once, a sorted id array and an
 *   open-addressing index of twice the ids: about 100 bytes per members row
 *   (docs/formats/reference-data.md, "In memory", has the measured figures). Two snapshots live
 *   at once for as long as a sending still holds the old one after a reload.
 */
#ifndef TPC_REFDATA_SNAPSHOT_H
#define TPC_REFDATA_SNAPSHOT_H

#include "refdata/refdata.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tpc_refsnap tpc_refsnap_t;           /* one immutable snapshot */
typedef struct tpc_refsnap_live tpc_refsnap_live_t; /* the snapshot in force */

/** Build a snapshot of every kind from @p txn (any transaction: it reads only).
 *  @param[out] out  one reference, owned by the caller: tpc_refsnap_release() it.
 *  @return 0, TPC_ENOMEM, or a negative TPC_E* translated from LMDB. */
int tpc_refsnap_build(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, tpc_refsnap_t **out);

/** Drop one reference and set *@p s to NULL; the last one frees the snapshot. Any thread;
 *  accepts NULL and *s == NULL. */
void tpc_refsnap_release(tpc_refsnap_t **s);

/** Rows held (all kinds) and bytes allocated for them, for the log and the docs' figures. */
uint64_t tpc_refsnap_rows(const tpc_refsnap_t *s);
size_t tpc_refsnap_bytes(const tpc_refsnap_t *s);

/** The holder of the snapshot in force. @return 0 or TPC_ENOMEM. */
int tpc_refsnap_live_new(tpc_refsnap_live_t **out);
/** Free the holder and drop its reference; *@p l set to NULL. Accepts NULL. */
void tpc_refsnap_live_free(tpc_refsnap_live_t **l);
/** Put *@p s in force (ownership of its reference passes to @p l, *s set to NULL) and drop the
 *  holder's reference to the one before. */
void tpc_refsnap_live_publish(tpc_refsnap_live_t *l, tpc_refsnap_t **s);
/** The snapshot in force with one more reference (release it with tpc_refsnap_release()), or
 *  NULL when none was published. */
tpc_refsnap_t *tpc_refsnap_live_acquire(tpc_refsnap_live_t *l);

/* Lookups. Each answers exactly what refdata.h's lookup of the same name answers on the
 * transaction the snapshot was built from. Rows and their text belong to the snapshot: valid
 * while the caller holds its reference. @return 0 (*out set) or MDB_NOTFOUND. */
int tpc_refsnap_provider(const tpc_refsnap_t *s, const char *nihii, const tpc_ref_provider_t **out);
int tpc_refsnap_member_on(const tpc_refsnap_t *s, const char *niss, int32_t day,
                          const tpc_ref_member_t **out);
int tpc_refsnap_tariff_on(const tpc_refsnap_t *s, const char *code, int32_t day,
                          const tpc_ref_tariff_t **out);
int tpc_refsnap_agreement_on(const tpc_refsnap_t *s, const char *niss, const char *code,
                             int32_t day, const tpc_ref_agreement_t **out);
/** A feed's period row (fedasil, detention, war_victims, ossom): @p out gets the kind's row. */
int tpc_refsnap_feed_on(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const char *niss,
                        int32_t day, const void **out);
/** The row of the period begun last on or before @p day, covering it or not (OSSOM). */
int tpc_refsnap_feed_last(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const char *niss,
                          int32_t day, const void **out);
int tpc_refsnap_mediprima_on(const tpc_refsnap_t *s, const char *niss, int32_t day, unsigned care,
                             const tpc_ref_mediprima_t **out);
/** Is @p code in fedasil_exclusions? @return 1 or 0. */
int tpc_refsnap_excluded(const tpc_refsnap_t *s, const char *code);
/** Does any row of @p kind name @p id (tpc_refdata_id_len(kind) bytes), whatever its period?
 *  @return 1 or 0. */
int tpc_refsnap_exists(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const void *id);

#endif /* TPC_REFDATA_SNAPSHOT_H */
