/* engine/pipeline/worker.h - the pool of worker threads that judge sendings.
 *
 * Each worker pops a job from the job queue, and for a submission: hashes the payload, checks
 * the ledger for an earlier submission of the same key (read transaction), decodes the payload
 * through its adapter into the job's arena, judges it, packs the Result and the native answer,
 * and pushes the job to the ledger writer. Queries, replays, conflicts and refusals skip the
 * writer and go straight to the done queue. Workers never write LMDB and share nothing but the
 * three queues.
 */
#ifndef TPC_WORKER_H
#define TPC_WORKER_H

#include "core/config.h"
#include "ledger/ledger.h"
#include "core/metrics.h"
#include "core/queue.h"

typedef struct tpc_workers tpc_workers_t;

/** Which lane a pool serves: its threads' name, and whether they step back behind the writer
 *  (`[engine] worker_nice`; the express lane keeps the daemon's niceness, an eAttest must not
 *  wait for a core behind the decoding of large sendings). */
enum tpc_workers_lane { TPC_WORKERS_BULK = 0, TPC_WORKERS_EXPRESS = 1 };

/** Start @p n workers of @p lane. Queues, ledger and metrics are borrowed and must outlive the
 *  pool.
 *  @param[out] out the pool; stop it with tpc_workers_join() after closing @p jobs.
 *  @return 0 or a negative TPC_E* code. */
int tpc_workers_start(int n, enum tpc_workers_lane lane, const tpc_config_t *cfg, tpc_queue_t *jobs,
                      tpc_queue_t *to_ledger, tpc_queue_t *done, tpc_store_t *ledger,
                      tpc_metrics_t *metrics, tpc_workers_t **out);

/** Wait for every worker to exit (they exit once @p jobs is closed and drained), then free the
 *  pool; NULL-safe; sets *@p w to NULL. */
void tpc_workers_join(tpc_workers_t **w);

/** Process one job synchronously on the calling thread (benchmarks and tests: the same code
 *  path as a worker, without the queues). @return the queue the job should go to next:
 *  0 = ledger writer, 1 = done. */
int tpc_worker_process(tpc_ledger_reader_t *reader, tpc_metrics_shard_t *shard,
                       const tpc_config_t *cfg, tpc_job_t *job);

#endif
