/* engine/payments/payrun.h - payment runs: unpaid payables become credit transfers, exactly once.
 *
 * DESIGN
 * - Owns: the payment runs' records ("payables" -> "paid", "payruns", "payrun_ids",
 *   "payments", "settlements", their postings) and the SEPA files. Thread: the ledger writer
 *   (pipeline/writer.c) calls tpc_payrun_execute/finish/mark_written, and
 *   tpc_payrun_restore_files() before it starts. Must never: open or commit a transaction of
 *   its own (the writer does), or write a SEPA file before its run is durable.
 * - A run is one write transaction of the ledger writer (the only LMDB writer), alone in its
 *   transaction: it reads every unpaid payable (value of "payables") committed up to the run's
 *   day and of the requested budget, groups them per (budget, payee IBAN), and for each group
 *   whose net amount is positive writes one payment (value of "payments"), its postings (the
 *   payees debited, the budget's bank account credited), moves each payable from "payables"
 *   to "paid", and stores one settlement per (sending, payment) with the format's native
 *   answer (eFact 920900). Either all of it commits or none of it: a crash in the middle leaves
 *   no trace, and the next run pays the same payables. A payable is deleted from "payables" in
 *   the transaction that pays it, so no later run can see it again: nothing is paid twice.
 * - Groups whose net amount is not positive (credit notes larger than new invoices) and payees
 *   without a valid IBAN are left unpaid for a later run and reported.
 * - The SEPA files (pain.001.001.03, one per budget of the run) are a rendering of the stored
 *   payments: they are written after the commit, atomically (temporary file, fsync, rename),
 *   and rewritten at startup for any committed run whose file is missing (a crash between the
 *   commit and the file); once written, a run is marked so, and files an operator moved
 *   away are not written again. The file never decides anything; the ledger does.
 * - A request may carry an idempotency key (PayrunRequest.request_id, per sender), recorded in
 *   "payrun_ids" in the run's transaction, even when nothing was due. The same key again is
 *   answered from the ledger: the run it made (its SEPA files rendered again from the stored
 *   payments, not written), marked replay; the same key with another until or budget is
 *   refused. A retried request never pays what arrived since the first.
 * - Payment runs are rare (daily at most) and may touch millions of payables: they allocate
 *   with malloc, outside the per-sending arenas, and free everything before returning.
 */
#ifndef TPC_PAYRUN_H
#define TPC_PAYRUN_H

#include "registry.h"
#include "core/arena.h"
#include "core/config.h"
#include "pipeline/job.h"
#include "store/store.h"

#include <lmdb.h>
#include <stdint.h>

/** What the writer lends a run. All borrowed. */
typedef struct tpc_payrun_ctx {
	const tpc_store_db_t *db;
	const tpc_config_t *cfg;        /* payer accounts, payments dir, execution days */
	const tpc_adapters_t *adapters; /* settlement encoders; NULL = none */
	const char *payments_dir;       /* where the SEPA files go */
	uint64_t *next_posting;         /* the writer's posting counter (advanced) */
} tpc_payrun_ctx_t;

typedef struct tpc_payrun tpc_payrun_t;

/** Execute the run requested by @p job (payrun_until, payrun_budget) as run number @p run
 *  inside the write transaction @p txn.
 *  @param[out] out  the run's state, owned by the caller: hand it to tpc_payrun_finish() after
 *                   a successful commit, or to tpc_payrun_free() after an abort
 *  @return 0 or an LMDB code (MDB_MAP_FULL included: abort, grow, run again). */
int tpc_payrun_execute(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job,
                       uint64_t run, uint64_t now_ms, tpc_payrun_t **out);

/** Did the run pay anything (so that its run number is used)? 0 for a replay. */
int tpc_payrun_paid(const tpc_payrun_t *p);

/** Was the request answered from an earlier one with the same request id? */
int tpc_payrun_replayed(const tpc_payrun_t *p);

/** Must the transaction be committed (something paid, or the request id recorded)? */
int tpc_payrun_must_commit(const tpc_payrun_t *p);

/** The code refusing the request (request id reused with other parameters), else NULL:
 *  abort the transaction and answer the code. */
const char *tpc_payrun_refusal(const tpc_payrun_t *p);

/** What the run paid: transfers, lines and cents (for metrics). */
void tpc_payrun_totals(const tpc_payrun_t *p, uint64_t *payments, uint64_t *lines, int64_t *cents);

/** What the run paid from budget @p budget: transfers and cents (for metrics). */
void tpc_payrun_budget_totals(const tpc_payrun_t *p, unsigned budget, uint64_t *payments,
                              int64_t *cents);

/** After the commit: write the SEPA files, pack the PayrunResult answer into the job's arena
 *  (job->result, answer_ready) and the settlements to push (job->pushes). Frees @p *p.
 *  @return 0 when every file of the run was written, -1 when one is missing (it is rewritten
 *          at the next start). */
int tpc_payrun_finish(const tpc_payrun_ctx_t *ctx, tpc_payrun_t **p, tpc_job_t *job);

/** Record that run @p run's files were written, so a restart never writes them again (an
 *  operator may move sent files away). Writer thread, in a write transaction.
 *  @return an LMDB code. */
int tpc_payrun_mark_written(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, uint64_t run);

/** Release a run's state (after an abort). NULL-safe; sets *@p p to NULL. */
void tpc_payrun_free(tpc_payrun_t **p);

/** Startup: write the SEPA files of every committed run not marked written (a crash between
 *  the run's commit and its files: the files missing are written from the ledger), and mark
 *  those runs.
 *  @param[in] txn  a write transaction (before the writer thread starts)
 *  @return the number of runs marked (commit @p txn when > 0), or a negative TPC_E* code. */
int tpc_payrun_restore_files(const tpc_payrun_ctx_t *ctx, MDB_txn *txn);

/** Name of the SEPA file of (@p run, @p budget): payrun-RRRRRRRR-BUDGET.pain.001.xml. */
void tpc_payrun_file_name(uint64_t run, unsigned budget, char *out, size_t cap);

#endif /* TPC_PAYRUN_H */
