/* engine/ledger/ledger.h - the LMDB ledger: one writer thread, group commit, idempotency index.
 *
 * Sub-databases of the environment in the data directory (docs/ledger.md describes the values):
 *   meta      "schema" -> version
 *   sendings  sender NUL key -> sequence (u64 LE) + BLAKE2b-256 of the payload   (idempotency)
 *   answers   sequence (u64 BE, appended) -> stored answer: header, Result bytes, native bytes
 *   lines     sequence (u64 BE) + line index (u32 BE), appended -> one line verdict
 *   postings  posting number (u64 BE, appended) -> posting (double entry)
 *   payables  sequence + line -> accepted line not yet paid
 *   paid      sequence + line -> the payment that paid it
 *   payruns, payments, settlements: payment runs (payrun.h)
 * Record layouts: store/records.h.
 *   dedup     line identity [TPC_TARIFF_ID_LEN] -> sequence (accepted lines, see tariff.h)
 *   units     patient + code + day -> units accepted        (max_per_day)
 *   invoices  provider + invoice number -> sequence         (invoice numbers are unique)
 *   ref_*     reference data (refdata.h)

 *
 * Threads: exactly one writer thread (started by tpc_ledger_start) writes; it takes judged jobs
 * from its input queue, many per write transaction, commits durably, then hands every job to the
 * done queue. Workers read through their own tpc_ledger_reader_t (short read transactions).
 * Nothing is handed on before its transaction is durable.
 */
#ifndef TPC_LEDGER_H
#define TPC_LEDGER_H

#include "registry.h"
#include "core/config.h"
#include "pipeline/job.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "refdata/refdata.h"
#include "clearing/tariff.h"

#include <lmdb.h>

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_ledger tpc_ledger_t;
typedef struct tpc_ledger_reader tpc_ledger_reader_t;

/** Open (creating if needed) the ledger in cfg->data_dir.
 *  @param[in]  metrics registry the writer takes its shard from (borrowed, outlives the ledger)
 *  @param[out] out     new ledger, owned by the caller; release with tpc_ledger_free()
 *  @return 0 or a negative TPC_E* code. */
int tpc_ledger_open(const tpc_config_t *cfg, tpc_metrics_t *metrics, tpc_ledger_t **out);

/** Start the writer thread: it pops jobs from @p in (status TPC_JOB_CLEARED or TPC_JOB_FAILED)
 *  and pushes each to @p done once its fate is durable. Both queues are borrowed.
 *  @return 0 or a negative errno. */
int tpc_ledger_start(tpc_ledger_t *l, tpc_queue_t *in, tpc_queue_t *done);

/** The adapters whose settlement encoders payment runs call (borrowed; set before start). */
void tpc_ledger_set_adapters(tpc_ledger_t *l, const tpc_adapters_t *adapters);

/** Directory of the SEPA files (the configured one, or DATA_DIR/payments). */
const char *tpc_ledger_payments_dir(const tpc_ledger_t *l);

/** Wait for the writer to finish: call after closing its input queue. Every job popped before
 *  the close is committed and handed on first. */
void tpc_ledger_join(tpc_ledger_t *l);

/** Close the environment; NULL-safe; sets *@p l to NULL. The writer must have been joined. */
void tpc_ledger_free(tpc_ledger_t **l);

/** Current map size in bytes (for metrics; any thread). */
size_t tpc_ledger_map_size(const tpc_ledger_t *l);

/** Next sequence number the writer will assign (for tests; writer stopped). */
uint64_t tpc_ledger_next_sequence(const tpc_ledger_t *l);

/** @param[out] out a reader for one thread; release with tpc_ledger_reader_free(). */
int tpc_ledger_reader_new(tpc_ledger_t *l, tpc_ledger_reader_t **out);
void tpc_ledger_reader_free(tpc_ledger_reader_t **r);

/** What the ledger holds for one sending. Byte pointers are in the caller's arena. */
typedef struct tpc_stored {
	uint64_t sequence;
	uint64_t committed_ms;
	uint8_t hash[TPC_HASH_LEN];
	const uint8_t *result; /* packed tpclear.Result as stored (ledger fields not included) */
	size_t result_len;
	tpc_blob_t native;
} tpc_stored_t;

/** Decode a value of "answers" (store/records.h: header, then result and native, stored as they
 *  are or as one LZ4 block) into @p arena. @return 0, TPC_EDB or TPC_ENOMEM. */
int tpc_ledger_answer_decode(const void *value, size_t size, tpc_arena_t *arena, tpc_stored_t *out);

/** Look up (sender, key).
 *  @param[in]  arena  receives copies of the stored bytes (borrowed)
 *  @param[out] out    filled when found
 *  @return 0, TPC_ENOENT, TPC_ENOMEM or TPC_EDB. Thread-safe per reader. */
int tpc_ledger_lookup(tpc_ledger_reader_t *r, const char *sender, const char *key,
                      tpc_arena_t *arena, tpc_stored_t *out);

/** Open a snapshot of the ledger for clearing one sending: a read transaction that sees one
 *  committed state of the reference data however long the sending takes. End it with
 *  tpc_ledger_snapshot_end() before any other call on @p r.
 *  @param[out] txn, dbs  valid until the snapshot ends
 *  @return 0 or a negative TPC_E* code. */
int tpc_ledger_snapshot_begin(tpc_ledger_reader_t *r, MDB_txn **txn, const tpc_ledger_dbs_t **dbs);
void tpc_ledger_snapshot_end(tpc_ledger_reader_t *r);

/** Begin a read transaction on every sub-database (ledger queries, engine/ledger/ledger_query.c).
 *  End it with tpc_ledger_read_end() before any other call on @p r.
 *  @param[out] txn, db  valid until the transaction ends
 *  @return 0 or a negative TPC_E* code. */
struct tpc_ledger_db;
int tpc_ledger_read_begin(tpc_ledger_reader_t *r, MDB_txn **txn, const struct tpc_ledger_db **db);
void tpc_ledger_read_end(tpc_ledger_reader_t *r);

/** Count the line verdicts stored for sequence @p seq (tests and tools). */
int tpc_ledger_count_lines(tpc_ledger_reader_t *r, uint64_t seq, uint64_t *count);

/** Count the sendings in the idempotency index (tests and tools). */
int tpc_ledger_count_sendings(tpc_ledger_reader_t *r, uint64_t *count);

/** Sum every posting (tests and tools): @p sum must be 0 at all times; @p credited is what the
 *  payees were credited for accepted lines; @p count the number of postings. @return 0 or a
 * negative TPC_E* code. */
int tpc_ledger_postings_sum(tpc_ledger_reader_t *r, int64_t *sum, int64_t *credited,
                            uint64_t *count);

#endif /* TPC_LEDGER_H */
