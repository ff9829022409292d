/* engine/ledger/ledger_query.h - what the ledger can tell: balances, histories, exports,
 * settlements.
 *
 * DESIGN
 * - Read-only, on a worker, inside one read transaction (one MVCC snapshot): an answer is
 *   consistent with itself even while the writer commits. Answers are complete packed
 *   tpclear.Answer messages built in the job's arena (job->result, job->answer_ready), so the
 *   loop thread only sends bytes.
 * - Scoping: a sending is found by (requesting sender, key); another sender's keys are
 *   invisible. Invoices (PROVIDER/NUMBER) and payees (NIHII or NISS) are operator views.
 * - Balance and payee views scan the postings (sequential, appended pages); export pages
 *   through them by posting number (`after`), so no answer is unbounded.
 * - STATEMENT is an institution's monthly recovery statement (SPP IS), built by
 *   engine/ledger/statement.h on the same snapshot: one document for the month, not paged.
 */
#ifndef TPC_LEDGER_QUERY_H
#define TPC_LEDGER_QUERY_H

#include "pipeline/job.h"
#include "ledger/ledger.h"

/** Answer a REQUEST_LEDGER job: its payload is a packed tpclear.LedgerRequest.
 *  Sets job->result/result_len/answer_ready and status TPC_JOB_FOUND, or fails the job with a
 *  coded refusal (bad request, unknown target).
 *  @return 0 or a negative TPC_E* code (the job is failed either way on error). */
int tpc_ledger_query(tpc_ledger_reader_t *r, tpc_job_t *job);

/** Answer a settlement query: the latest stored settlement of (job->sender, job->key), with its
 *  native answer (eFact 920900) in job->native. Fails the job T00012 when the key is unknown,
 *  T00021 when the sending has no settlement yet.
 *  @return 0 or a negative TPC_E* code. */
int tpc_ledger_query_settlement(tpc_ledger_reader_t *r, tpc_job_t *job);

#endif /* TPC_LEDGER_QUERY_H */
