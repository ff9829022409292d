/* engine/clearing/tariff.h - AMI clearing of every line against the reference data and the ledger.
 *
 * Runs on a worker, inside one read snapshot of the ledger (reference data and the indexes of
 * earlier accepted sendings), after the adapter's structural checks and before judging
 * (engine/clearing/clear.c). For each line still standing it checks, in order:
 *   - the beneficiary is a member with an insurability period covering the service date
 *     (500820 unknown, 500540 not in order on that date); BIM when that period's ct1 ends in 1;
 *   - the invoicing provider is known (201420, on the invoice);
 *   - the code has a tariff row valid on the date (500403 unknown code, 500420 not valid then);
 *   - dates: not after the sending's creation date (500510), not more than two years before
 *     it (500546), within admission..discharge for a hospitalised invoice (500511 / 500513);
 *   - amounts: insurer part = units x (BIM ? insurer_bim : insurer) (501940) and patient share
 *     = units x fee - insurer part (502741), to the cent;
 *   - a code flagged `agreement` has a payment-commitment reference or an agreement covering
 *     (patient, code, date) (5004K2; 500548 when an agreement exists but not on that date);
 *   - max_per_day: units of (patient, code, date) in this sending plus earlier accepted
 *     sendings stay within the maximum (502255);
 *   - duplicates: (provider, patient, code, date, line reference) not already accepted, here or
 *     earlier (500423); invoice numbers unique per provider (202420, on the invoice).
 * The checks against earlier sendings are repeated by the ledger writer inside its write
 * transaction (tpc_tariff_marks_t carries what it needs), so two sendings judged at once
 * cannot both pass.
 */
#ifndef TPC_TARIFF_H
#define TPC_TARIFF_H

#include "adapter.h"
#include "core/arena.h"
#include "refdata/refdata.h"
#include "clearing/schemes.h"
#include "store/dbs.h" /* tpc_ledger_dbs_t: the sub-databases the checks read */

#include <lmdb.h>

/** Length of a line identity: provider[11] + patient[11] + code[6] + day[4] + hash of the
 *  line reference[8]. Provider and patient lead, so one invoice's lines are neighbours in the
 *  index. */
#define TPC_TARIFF_ID_LEN 40

/** What the writer needs to record (and re-check) for an accepted sending: per line. */
typedef struct tpc_tariff_marks {
	uint8_t (*dedup)[TPC_TARIFF_ID_LEN]; /* identity of each line */
	uint32_t *max_per_day;               /* 0 = no maximum */
	uint32_t nlines;
} tpc_tariff_marks_t;

/** Tariff every line of @p s (see the DESIGN comment above), adding findings.
 *  @param[in]  txn, dbs  the snapshot (borrowed)
 *  @param[in]  today     days since epoch, used when the sending has no creation date
 *  @param[out] marks     per-line data for the writer, allocated in @p arena
 *  @return 0 or TPC_ENOMEM, or a negative TPC_E* code for an LMDB failure. */
int tpc_tariff_apply(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, int32_t today, tpc_sending_t *s,
                     tpc_arena_t *arena, tpc_tariff_marks_t *marks);

/** Short reason for a code the tariff checks emit, or NULL. */
const char *tpc_tariff_describe(const char *code);

/** The identity of a line (provider, patient, code, first date, reference). */
void tpc_tariff_line_identity(const tpc_invoice_t *inv, const tpc_line_t *ln,
                              uint8_t out[TPC_TARIFF_ID_LEN]);

/** Key of the units index for (patient, code, day). @return key length (21). */
size_t tpc_tariff_units_key(const tpc_view_t *patient, const char *code, int32_t day,
                            uint8_t out[21]);

/** Key marking invoice @p inv->previous as credited (same index as invoice numbers, prefix
 *  '~'). @return key length, 0 if the number is too long. */
size_t tpc_tariff_credit_key(const tpc_invoice_t *inv, uint8_t *out, size_t cap);

/** Units accepted on a (patient, code, day) key of the units index; 0 when absent.
 *  @return 0 or an LMDB code. */
int tpc_tariff_units_get(MDB_txn *txn, MDB_dbi units, const uint8_t key[21], int64_t *out);

/** Add @p delta (negative for a credit note) to a units key, never below 0.
 *  @return 0 or an LMDB code. Writer thread only. */
int tpc_tariff_units_add(MDB_txn *txn, MDB_dbi units, const uint8_t key[21], int64_t delta);

/** Key of the invoice-number index. @return key length, 0 if the number is too long. */
size_t tpc_tariff_invoice_key(const tpc_invoice_t *inv, uint8_t *out, size_t cap);

#endif
