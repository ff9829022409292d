/* engine/ledger/statement.h - an institution's monthly recovery statement, read from the ledger.
 *
 * SPP IS pays the Mediprima lines (engine/clearing/) and recovers them from the CPAS that took
 * each decision, so once a month it wants to know, per CPAS and per decision, which lines were
 * charged to its budget and how much. This module answers that from one read snapshot of the
 * ledger (docs/formats/sppis-statement.md describes the document, docs/ledger.md the records):
 *
 * - which lines: the charge postings (TPC_POST_CHARGE) of budget SPPIS whose commit time falls
 *   in the month, UTC. A line is in the statement of the month it was accepted in, whatever its
 *   service date; a credit note's (negative) lines count in the month the credit note was
 *   accepted. Each posting names its (sequence, line, part): the line record gives the code,
 *   date, units and amounts, the scheme_refs row the decision and the CPAS.
 * - two sums, computed independently: the lines' amounts from their line records (insurer part,
 *   and the patient share when the decision covers it), and the budget's charges from the
 *   postings. The statement is produced only when the grand total equals minus the charges to
 *   the cent; otherwise the ledger contradicts itself (a bug), and the request is refused
 *   T00031 with both figures in the log, rather than sending SPP IS a wrong statement.
 * - the document is XML (libxml2 xmlTextWriter, as engine/payments/sepa.c), ordered by CPAS,
 * decision, then sequence and line, and a pure function of the month's postings: asked again, the
 * same ledger gives the same bytes. Only `provisional` (the month is not over yet) depends on when
 *   it is asked.
 *
 * Thread-safety: reentrant; runs on a worker inside the caller's read transaction. Everything
 * the result holds is in the caller's arena; scratch memory is malloc'd and freed before return.
 */
#ifndef TPC_STATEMENT_H
#define TPC_STATEMENT_H

#include "core/arena.h"
#include "store/store.h"
#include "tpclear.pb-c.h"

#include <lmdb.h>
#include <stdint.h>

/** The instants of month @p yyyymm (UTC): [@p from_ms, @p until_ms) in unix milliseconds.
 *  @return 0, or TPC_EINVAL when @p yyyymm is not a month of 1970-01..2999-12. */
int tpc_statement_month(uint32_t yyyymm, uint64_t *from_ms, uint64_t *until_ms);

/** Build the statement of @p institution for @p month inside the read snapshot @p txn.
 *  @param[in]  institution  "sppis" (any case)
 *  @param[in]  month        YYYYMM: the month the lines were accepted in (commit time, UTC)
 *  @param[in]  now_ms       when it is asked: the statement is provisional while the month is
 *                           not over
 *  @param[in]  arena        holds the result: messages, strings and the document
 *  @param[out] out          the statement, in @p arena (valid after @p txn ends)
 *  @param[out] code         on a refusal, the code to answer with (codes.h):
 *                           T00030 unknown institution or not a month (TPC_EINVAL),
 *                           T00031 the lines do not reconcile with the budget's charges,
 *                           T00032 a charge without its Mediprima line, decision or CPAS
 *                           (both TPC_EDB: the ledger contradicts itself),
 *                           T00033 the document could not be written (TPC_ENOMEM)
 *  @return 0 (a month with nothing is an empty statement, not an error), a refusal above, or
 *          a negative TPC_E* code for an LMDB failure or lack of memory (*code left NULL). */
int tpc_statement_build(MDB_txn *txn, const tpc_store_db_t *db, const char *institution,
                        uint32_t month, uint64_t now_ms, tpc_arena_t *arena,
                        Tpclear__Statement **out, const char **code);

#endif /* TPC_STATEMENT_H */
