/* engine/ledger/credit.h - a cancellation that names only what it cancels.
 *
 * A credit note repeats the lines it credits (eFact; the protobuf eAttest's `cancels`). The
 * Kmehr eAttest cancellation does not: it names the invoicing number and nothing else
 * (docs/formats/eattest.md, "Cancellation"). Such a credit note - one invoice, no line, a
 * credited number - is given the accepted lines of the credited invoice here, read back from
 * the ledger (the invoice-number index, then the line verdicts), negated, before the tariff
 * judges it; from there it is cleared, stored and posted as any credit note, through the same
 * rules (engine/clearing/tariff.c check_credit_line, engine/ledger/ledger.c credit()).
 *
 * Threads: a worker, inside its clearing snapshot (read transaction).
 */
#ifndef TPC_LEDGER_CREDIT_H
#define TPC_LEDGER_CREDIT_H

#include "adapter.h"
#include "core/arena.h"
#include "store/dbs.h"

#include <lmdb.h>

/** Give @p s (decoded, not tariffed) the lines of the invoice it credits, when it is such a
 *  credit note; otherwise leave it as it is. A credited invoice that is not in the index is
 *  left to the tariff's own check (202920); one that has no accepted line to credit gets
 *  202920 here.
 *  @param[in] arena  the sending's (the new lines live there)
 *  @return 0, TPC_ENOMEM, or a TPC_E* code translated from LMDB. */
int tpc_credit_whole_invoice(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, tpc_sending_t *s,
                             tpc_arena_t *arena);

#endif
