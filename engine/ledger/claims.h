/* engine/ledger/claims.h - the index keys recent write transactions took, in memory.
 *
 * DESIGN
 * - Owns: a record of the keys of "dedup", "invoices" and "units" (the indexes a sending is
 *   checked against, tariff.h) that the writer's recent transactions took - wrote, deleted or
 *   were about to - each with the id of the transaction that took it last. The writer asks it,
 *   key by key in its check pass (ledger.c, indexes()), whether a transaction after the worker's
 *   read snapshot may have taken the key: when surely not, the snapshot the worker judged on
 *   still holds for that key and the check pass need not read the B-tree again; when maybe, it
 *   reads it as before. That covers both races the check pass exists for: a sending committed
 *   since the worker's snapshot, and one earlier in the same group (its transaction's id is
 *   after every snapshot).
 * - Only ever errs towards "maybe": a key is recorded before the check pass reads or writes it,
 *   a refused or aborted job leaves its keys recorded (a needless read later, never a missed
 *   race), keys are 64-bit hashes (two keys of one hash share the later id), and a snapshot
 *   older than what the record covers gets "maybe" for every key.
 * - Bounded memory: two tables of TPC_CLAIMS_SLOTS slots (16 bytes each, 8 MiB in all); when the
 *   current one is half full the older is dropped and the record then covers the transactions
 *   from the first the dropped table's successor saw, exclusive (that first one may have been
 *   cut in two by the switch). At ~450 k lines/s that is ~0.3-0.6 s of commits; a job judged
 *   longer ago than that is checked against the B-tree as before.
 * - Allocates at creation only; a take is a hash and one or two probes.
 * - Held keys: the attestation journal (ledger/attest.h) also holds, exactly (a count per key
 *   hash), the keys of the attestations it answered and the writer has not folded yet; a take
 *   or a peek of a held key answers TPC_CLAIMS_HELD, which the check pass refuses as a race
 *   (two keys of one hash: a needless refusal, retried, never a key taken twice).
 * - Threads: the writer takes, the express worker peeks and holds, both under the record's
 *   lock (tpc_claims_lock); without the journal only the writer uses it, and locks uncontended.
 * - Must never: say "surely not" for a key a transaction after the snapshot took. The caller's
 *   part: every key a transaction writes or deletes is taken first, in its check pass, except a
 *   change that cannot turn a verdict (a credit note's units, which only lower a count).
 */
#ifndef TPC_LEDGER_CLAIMS_H
#define TPC_LEDGER_CLAIMS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/** Slots per table (a power of two); a table is switched when half full. */
#define TPC_CLAIMS_SLOTS (1u << 18)

/** Slots of the held keys; a hold is refused when half of them are in use. */
#define TPC_CLAIMS_HELD_SLOTS (1u << 13)

/** tpc_claims_take() and tpc_claims_peek(): the key is held by the journal. */
#define TPC_CLAIMS_HELD 2

typedef struct tpc_claims tpc_claims_t;

/** Create an empty record. @p slots: slots per table, a power of two >= 16 (0: TPC_CLAIMS_SLOTS).
 *  @return 0, TPC_EINVAL or TPC_ENOMEM. The caller owns *out (tpc_claims_free). */
int tpc_claims_new(size_t slots, tpc_claims_t **out);

/** Free the record and set *c to NULL. NULL-safe. */
void tpc_claims_free(tpc_claims_t **c);

/** Record that write transaction @p txn takes @p key (@p len bytes, borrowed), and say whether a
 *  transaction after the read snapshot @p since (an LMDB transaction id; 0: unknown) may have
 *  taken it before: 1 maybe (read the B-tree), 0 surely not, TPC_CLAIMS_HELD held by the
 *  journal. Writer thread, under the lock. */
int tpc_claims_take(tpc_claims_t *c, const void *key, size_t len, uint64_t txn, uint64_t since);

/** The same answer as tpc_claims_take() without recording anything. Under the lock. */
int tpc_claims_peek(const tpc_claims_t *c, const void *key, size_t len, uint64_t since);

/** Hold @p key for the journal (once per holder; counted). @return 0, or TPC_EAGAIN when the held
 *  keys' table is half full (nothing held). Under the lock. */
int tpc_claims_hold(tpc_claims_t *c, const void *key, size_t len);

/** Give back one hold of @p key (a key never held: nothing). Under the lock. */
void tpc_claims_release(tpc_claims_t *c, const void *key, size_t len);

/** Holds in force (for tests and the fast exit). Under the lock. */
size_t tpc_claims_held(const tpc_claims_t *c);

/** The record's lock: around every call above once two threads use the record. */
void tpc_claims_lock(tpc_claims_t *c);
void tpc_claims_unlock(tpc_claims_t *c);

/** pthread_cond_wait on @p cv with the record's lock (held by the caller). */
void tpc_claims_wait(tpc_claims_t *c, pthread_cond_t *cv);

/** The writer starts after transaction @p last (the ledger's last committed one): every later
 *  one takes its keys here, so the record is complete for the transactions after @p last from
 *  now on (a record that already has a floor keeps it). Before the writer thread starts. */
void tpc_claims_begin(tpc_claims_t *c, uint64_t last);

/** The ids the record is complete for: every key taken by a transaction after the returned id
 *  is in it (UINT64_MAX before the first take). For tests and the log. */
uint64_t tpc_claims_floor(const tpc_claims_t *c);

#endif /* TPC_LEDGER_CLAIMS_H */
