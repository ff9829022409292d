/* engine/ledger/ledger.h - the double-entry postings of a judged sending, and what they sum to.
 *
 * DESIGN
 * - Owns: what a judged sending leaves in the store (store/records.h has the layouts): its
 *   idempotency entry, stored answer and line verdicts, the indexes later sendings are checked
 *   against (tariff.h), and the double entry - a CHARGE to the budget and a PAYABLE to the
 *   payee per accepted line (part), a payable for the payment runs, the scheme references.
 *   Balances, histories, exports and statements read them back (ledger_query.h, statement.h).
 * - Threads: tpc_ledger_write_job() runs on the ledger writer thread only (pipeline/writer.h),
 *   inside the group's write transaction; it decides idempotency there (replay, conflict) and
 *   the races between sendings judged at once, so two copies of one sending store once. The
 *   readers' functions run on any thread through its own tpc_ledger_reader_t.
 * - Must never: open or commit a transaction (the writer owns the group commit), change a
 *   posting once written (postings are appended under monotonic numbers), or write anything of
 *   a sending it refuses as a race.
 *
 * Sub-databases (docs/ledger.md describes the values; store/dbs.h has the handles):
 *   meta      "schema" -> version, "dedup_hash" -> "xxh3-64-18" (or an older
 *             ledger's "xxh3-64", absent: BLAKE2b-64; store/dbs.h enum tpc_dedup_form)
 *   sendings  sender NUL key -> sequence (u64 LE) + XXH3-128 of the payload, or BLAKE2b-256 of
 *             a sending an older engine stored (the length says: store/records.h)  (idempotency)
 *   answers   sequence (u64 BE, appended) -> stored answer: header, Result bytes, native bytes
 *   lines     sequence (u64 BE) + line index (u32 BE), appended -> one line verdict
 *   payloads  sequence (u64 BE, appended) -> the sending as received, LZ4 (store/payload.h);
 *             only formats with a native settlement, not a sending refused at reception
 *   postings  posting number (u64 BE, appended) -> posting (double entry)
 *   payables  sequence + line -> accepted line not yet paid
 *   paid      sequence + line -> the payment that paid it
 *   payruns, payments, settlements: payment runs (payments/payrun.h)
 *   dedup     line identity (tariff.h: 18 or 40 bytes) -> sequence (accepted lines, see tariff.h)
 *   units     patient + code + day -> units accepted        (max_per_day)
 *   invoices  provider + invoice number -> sequence         (invoice numbers are unique)
 *   ref_*     reference data (refdata.h)
 */
#ifndef TPC_LEDGER_H
#define TPC_LEDGER_H

#include "ledger/claims.h"
#include "pipeline/job.h"
#include "store/store.h"
#include "store/txn.h"

#include <stdint.h>

/** The writer's numbering, lent to the postings and the payment runs. Writer thread only; the
 *  writer restores both fields when a group's transaction aborts. */
typedef struct tpc_ledger_counters {
	uint64_t next_seq;     /* sequence the next stored sending gets */
	uint64_t next_posting; /* number of the next posting */
} tpc_ledger_counters_t;

/** Write one judged job (status TPC_JOB_CLEARED, or a reference data load) inside @p t: decide
 *  replay or conflict, refuse a race, else store it and its postings, advancing @p c.
 *  @p claims (borrowed, may be NULL: every key is read again) records the index keys taken
 *  and spares the check pass the keys untaken since the job's snapshot (ledger/claims.h).
 *  Sets job->status (COMMITTED, REPLAY, CONFLICT, or FAILED with a code).
 *  @return t->ret: 0, or an LMDB code (MDB_MAP_FULL included) after which the whole
 *  transaction must be aborted. Writer thread only. */
int tpc_ledger_write_job(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                         tpc_claims_t *claims, tpc_job_t *job, uint64_t committed_ms);

/** The number of the next posting in "postings" (1 in an empty ledger): the last key plus one,
 *  or plus two when the last record is a line part's pair (store/records.h). Errors in
 *  t->ret. Writer thread, at its start. */
uint64_t tpc_ledger_next_posting(tpc_txn_t *t, const tpc_store_db_t *db);

/** A reader of the store (store.h); the name the engine's callers know. */
typedef tpc_store_reader_t tpc_ledger_reader_t;

/** Sum every posting (tests and tools): @p sum must be 0 at all times; @p credited is what the
 *  payees were credited for accepted lines; @p count the number of postings. @return 0 or a
 *  negative TPC_E* code. */
int tpc_ledger_postings_sum(tpc_ledger_reader_t *r, int64_t *sum, int64_t *credited,
                            uint64_t *count);

/* Thin names kept for the workers and the security checks (store.h documents them). */
static inline int tpc_ledger_reader_new(tpc_store_t *st, tpc_ledger_reader_t **out)
{
	return tpc_store_reader_new(st, out);
}

static inline void tpc_ledger_reader_free(tpc_ledger_reader_t **r)
{
	tpc_store_reader_free(r);
}

static inline int tpc_ledger_lookup(tpc_ledger_reader_t *r, const char *sender, const char *key,
                                    tpc_arena_t *arena, tpc_stored_t *out)
{
	return tpc_store_lookup(r, sender, key, arena, out);
}

static inline int tpc_ledger_snapshot_begin(tpc_ledger_reader_t *r, MDB_txn **txn,
                                            const tpc_ledger_dbs_t **dbs)
{
	return tpc_store_snapshot_begin(r, txn, dbs);
}

static inline void tpc_ledger_snapshot_end(tpc_ledger_reader_t *r)
{
	tpc_store_snapshot_end(r);
}

#endif /* TPC_LEDGER_H */
