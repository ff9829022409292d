/* engine/ledger/verify.h - check a whole ledger offline: `tpclear verify` (docs/operations.md).
 *
 * DESIGN
 * - Owns the ledger's invariants as a reader can check them from the stored records alone:
 *   every checksum (store/records.h), every budget summing to zero (the postings), every
 *   accepted line part payable xor paid for the amount its line says, and every index pointing
 *   at records that exist (sendings -> answers, dedup -> lines, invoices -> answers,
 *   scheme_refs -> lines, settlements -> payments, payments -> payruns).
 * - Threads: the caller's, inside one read transaction it owns: the whole check reads one
 *   snapshot, so a daemon committing meanwhile (on the same data directory) changes nothing it
 *   sees. Writes nothing.
 * - Memory: bounded whatever the ledger's size: every walk is a cursor, and what one walk
 *   needs of another is looked up, never collected.
 */
#ifndef TPC_LEDGER_VERIFY_H
#define TPC_LEDGER_VERIFY_H

#include "clearing/budget.h"
#include "store/dbs.h"
#include "store/records.h"

#include <lmdb.h>
#include <stdint.h>

/** What a check found wrong: the sub-database, the record's key as text, what is wrong. */
typedef void (*tpc_verify_problem_fn)(void *arg, const char *db, const char *key, const char *what);

/** Progress: @p done records of @p total walked, now in @p db. Called every few thousand. */
typedef void (*tpc_verify_progress_fn)(void *arg, const char *db, uint64_t done, uint64_t total);

/** The figures of a verification. */
typedef struct tpc_verify_report {
	uint64_t checked[TPC_REC__COUNT];        /* records whose checksum matched */
	uint64_t unchecked[TPC_REC__COUNT];      /* records written before schema 5: no checksum */
	uint64_t damaged[TPC_REC__COUNT];        /* records that failed theirs (or their size) */
	uint64_t indexes;                        /* index entries followed */
	int64_t budget_cents[TPC_BUDGET__COUNT]; /* the sum of each budget's postings */
	uint64_t problems;                       /* everything reported to the problem callback */
} tpc_verify_report_t;

/** Check the ledger @p db in read transaction @p txn (borrowed, read-only).
 *  @param problem   called for each problem found (required)
 *  @param progress  may be NULL
 *  @param[out] out  the figures (zeroed first)
 *  @return 0 when the walk completed (out->problems says whether the ledger is clean), or a
 *  negative TPC_E* code when it could not (the store failed under it, out of memory). */
int tpc_verify_run(MDB_txn *txn, const tpc_store_db_t *db, tpc_verify_problem_fn problem,
                   tpc_verify_progress_fn progress, void *arg, tpc_verify_report_t *out);

#endif /* TPC_LEDGER_VERIFY_H */
