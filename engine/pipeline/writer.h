/* engine/pipeline/writer.h - the ledger writer: the one thread that writes the store, with the
 * group commit.
 *
 * DESIGN
 * - Owns: the store (store/store.h) once opened, the write transactions, the writer's numbering
 *   (sequences, postings, payment runs), and the hand-off of judged jobs to the done queue.
 * - Thread: tpc_writer_start() starts it; it pops judged jobs (status TPC_JOB_CLEARED or
 *   TPC_JOB_FAILED) from its input queue, many per write transaction (up to group_max), writes
 *   them through tpc_ledger_write_job() (ledger/ledger.h) and tpc_payrun_execute()
 *   (payments/payrun.h), commits durably, then pushes every job to the done queue. Workers read
 *   through their own readers (tpc_writer_store(), store.h), never through the writer.
 * - Group commit: one fsync covers every sending of a group; while it syncs, workers keep
 *   judging and the next group grows. A payment run has a transaction of its own, in arrival
 *   order, so it sees every sending committed before it.
 * - Map growth: MDB_MAP_FULL aborts the group, the map doubles (tpc_store_grow, up to map_max)
 *   and the group is replayed from memory; at the ceiling jobs are retried one by one and those
 *   that still do not fit are answered T00009 (storage full) - refused, never half-stored.
 * - A failed write: a full disk refuses the group T00050 (nothing stored) until a commit goes
 *   through again; any other failed write or fsync makes the writer stop trusting the ledger:
 *   it refuses every job from then on with T00051 and raises tpc_writer_lost(), on which the
 *   loop thread stops the engine with a non-zero status (docs/operations.md).
 * - Must never: hand a job on before its transaction is durable; open a write transaction on
 *   any other thread (LMDB allows one at a time: we make that structural); block on anything
 *   but its input queue (the done queue is unbounded, its jobs bounded upstream).
 */
#ifndef TPC_WRITER_H
#define TPC_WRITER_H

#include "core/config.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "registry.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_writer tpc_writer_t;

/** Open (creating if needed) the store in cfg->data_dir, resume the numbering after what it
 *  holds, and write again the SEPA files of a payment run committed just before a crash.
 *  @param[in]  cfg      copied (payer accounts, payments directory, group size, map bounds)
 *  @param[in]  metrics  registry the writer takes its shard from (borrowed, outlives the writer)
 *  @param[out] out      new writer, owned by the caller; release with tpc_writer_free()
 *  @return 0 or a negative TPC_E* code. */
int tpc_writer_open(const tpc_config_t *cfg, tpc_metrics_t *metrics, tpc_writer_t **out);

/** The adapters whose settlement encoders payment runs call (borrowed; set before start). */
void tpc_writer_set_adapters(tpc_writer_t *w, const tpc_adapters_t *adapters);

/** Start the writer thread: it pops jobs from @p in and pushes each to @p done once its fate is
 *  durable. Both queues are borrowed. @return 0 or a negative errno. */
int tpc_writer_start(tpc_writer_t *w, tpc_queue_t *in, tpc_queue_t *done);

/** Wait for the writer to finish: call after closing its input queue. Every job popped before
 *  the close is committed and handed on first. NULL-safe; a writer never started is left. */
void tpc_writer_join(tpc_writer_t *w);

/** Close the store; NULL-safe; sets *@p w to NULL. The thread must have been joined. */
void tpc_writer_free(tpc_writer_t **w);

/** The store, for readers (borrowed, valid until tpc_writer_free()). Any thread. */
tpc_store_t *tpc_writer_store(const tpc_writer_t *w);

/** Directory of the SEPA files (the configured one, or DATA_DIR/payments). */
const char *tpc_writer_payments_dir(const tpc_writer_t *w);

/** Current map size in bytes (for metrics; any thread). */
size_t tpc_writer_map_size(const tpc_writer_t *w);

/** 1 while the ledger's disk is full (the last commit failed for want of space), else 0. Any
 *  thread (the metrics scrape). */
int tpc_writer_disk_full(const tpc_writer_t *w);

/** 1 once a write or fsync of the ledger failed otherwise than for space: the writer refuses
 *  every job with T00051 and the engine must stop. Any thread. */
int tpc_writer_lost(const tpc_writer_t *w);

/** Next sequence number the writer will assign (for tests; writer stopped). */
uint64_t tpc_writer_next_sequence(const tpc_writer_t *w);

#endif /* TPC_WRITER_H */
