/* engine/ledger/attest.h - attestations answered from the journal, folded by the writer
 * (docs/ledger.md, "The attestation journal"; [ledger] attest_journal).
 *
 * DESIGN
 * - Owns: the journal file (store/journal.h), the records written and not folded yet (pending,
 *   then grabbed by the writer's group that folds them), the next sequence number shared by the
 *   express worker and the writer, and the token job that wakes an idle writer.
 * - The express worker (tpc_attest_journal) takes the journal only when it is sure; in every
 *   other case it returns 1 and the attestation goes to the writer as before. Sure: a judged
 *   eAttest (no credit note, its lines block encoded, its payload compressed when kept), and
 *   under the claims record's lock (ledger/claims.h) every key it takes - (sender, key),
 *   invoices, line identities, units - neither taken by a transaction after its snapshot (the
 *   writer's current transaction included: it records its keys in its check pass) nor held by
 *   another record. Then, still under the lock: its keys held, the next sequence taken, the
 *   write counted in flight; the record is written without the lock (one O_DSYNC pwrite) and
 *   joins the pending ones. Its answer: COMMITTED under that sequence and the write's time.
 * - The writer (tpc_attest_begin_group at the start of each transaction) waits for a write in
 *   flight, grabs the pending records and reserves its own sequences after every number given
 *   out: the records fold first in its transaction (their sequences are below the group's),
 *   posting numbers taken at the fold (the answer shows none). After a durable commit
 *   (tpc_attest_committed) their keys are given back - the B-tree and the claims' transaction
 *   ids answer for them from then on - and with nothing pending the file is rewound. A failed
 *   transaction keeps the grabbed records for the next one. Numbers reserved and not used are
 *   gaps, never used twice (the readers accept gaps: ledger_query test "gaps_in_the_...").
 * - Startup: the records after the ledger's meta "attest_folded" are folded before the intake
 *   opens (pipeline/writer.c); a torn last record is cut, damage refuses the start (T00065).
 * - Threads: tpc_attest_journal on the express worker; the rest on the writer (or the main
 *   thread before it starts). One lock: the claims record's.
 * - Must never: answer before the record is durable; let a key be taken twice (a sending, an
 *   attestation); fold a record twice (meta "attest_folded" in the fold's transaction).
 */
#ifndef TPC_LEDGER_ATTEST_H
#define TPC_LEDGER_ATTEST_H

#include "core/arena.h"
#include "ledger/claims.h"
#include "ledger/ledger.h"
#include "pipeline/job.h"
#include "store/journal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_attest tpc_attest_t;

/** Open the journal in @p dir and read what it holds after @p folded (the ledger's meta
 *  "attest_folded"): tpc_attest_recovered() lists it. @p claims is borrowed (its lock is the
 *  module's). @return 0, TPC_EDAMAGED (damage before good records: the start is refused), or a
 *  negative errno. The caller owns *out (tpc_attest_free). */
int tpc_attest_open(const char *dir, tpc_claims_t *claims, uint64_t folded, tpc_attest_t **out);

void tpc_attest_free(tpc_attest_t **a);

/** The records found at open that are to be folded before anything else (bodies borrowed). */
const tpc_journal_entry_t *tpc_attest_recovered(const tpc_attest_t *a, size_t *n);

/** The recovered records are folded (durably): forget them, rewind. Then the express worker may
 *  journal, numbering from @p next_seq. */
void tpc_attest_start(tpc_attest_t *a, uint64_t next_seq);

/** Express worker: journal and answer @p job (judged CLEARED). @return 0 when it is answered
 *  (status COMMITTED, sequence and commit time set: hand it to the done queue; then, if
 *  *@p wake is set, push it to the writer's queue front), 1 when the writer must decide it as
 *  before. */
int tpc_attest_journal(tpc_attest_t *a, tpc_job_t *job, tpc_job_t **wake);

/** Writer, at the start of a transaction of @p n jobs: wait for a write in flight, grab the
 *  pending records. @return the first of the @p n sequences reserved for the jobs. */
uint64_t tpc_attest_begin_group(tpc_attest_t *a, size_t n);

/** The grabbed records, in journal order (bodies owned by the module until
 *  tpc_attest_committed; the array until the next call). NULL with *n 0 when out of memory. */
const tpc_journal_entry_t *tpc_attest_grabbed(tpc_attest_t *a, size_t *n);

/** Writer: the grabbed records are folded durably. With nothing pending and @p may_rewind (no
 *  reader of the ledger holds a snapshot from before the last fold: a hot backup copies the
 *  journal while it holds one, cli/admin.c), the next record goes at the file's start. */
void tpc_attest_committed(tpc_attest_t *a, int may_rewind);

/** Writer: it popped the token job (the express worker may push it again). */
void tpc_attest_token_popped(tpc_attest_t *a);

/** 1 while records are pending, grabbed or being written (a fold is due). */
int tpc_attest_waiting(tpc_attest_t *a);

/** Rebuild the job a record (@p body, @p len) was made of, for tpc_ledger_write_job(): status
 *  CLEARED, its sequence; everything it points to in @p arena or @p body (both must outlive it).
 *  @p fmt receives the format's name for the stored answer's header. @return 0 or TPC_EDAMAGED
 *  (a record of another layout or engine). */
int tpc_attest_rebuild(const uint8_t *body, size_t len, tpc_arena_t *arena, tpc_adapter_t *fmt,
                       tpc_job_t *job, uint64_t *committed_ms);

/** The last journal sequence folded into the ledger (meta "attest_folded", 0 when none), read in
 *  @p t. @return t->ret. */
int tpc_attest_folded_get(tpc_txn_t *t, const tpc_store_db_t *db, uint64_t *folded);

/** Fold @p n records (journal order) into @p t: each rebuilt and written by
 *  tpc_ledger_write_job() under its own sequence, posting numbers from @p c, then meta
 *  "attest_folded". @p arena holds the rebuilt jobs (the caller resets it after the commit).
 *  Writer thread. @return t->ret. */
int tpc_attest_fold(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                    tpc_claims_t *claims, const tpc_journal_entry_t *recs, size_t n,
                    tpc_arena_t *arena);

/** Encode @p job as a record body (malloc'd, the caller frees). For tests and the journal.
 *  @return 0, 1 (not a job the journal takes) or TPC_ENOMEM. */
int tpc_attest_encode(const tpc_job_t *job, uint64_t seq, uint64_t committed_ms, uint8_t **out,
                      size_t *len);

#endif /* TPC_LEDGER_ATTEST_H */
