/* engine/clearing/tariff.h - AMI clearing of every line against the reference data and the ledger.
 *
 * DESIGN (engine/clearing/): the rules a sending is judged by - this file's checks, the schemes
 * that decide who pays (schemes.h), the verdict and the refusal threshold (clear.h), budgets
 * (budget.h), and the line identities and index keys the ledger writer records. Runs on the
 * worker threads, on one job's arena and one read snapshot at a time, so it holds no state of
 * its own between sendings. It must never write to LMDB or keep anything across sendings: the
 * indexes it reads belong to the ledger writer, which records them (the key builders and
 * tpc_tariff_units_add() below) and repeats the checks against earlier sendings in its own
 * write transaction.
 *
 * Runs on a worker, inside one read snapshot of the ledger (reference data and the indexes of
 * earlier accepted sendings), after the adapter's structural checks and before judging
 * (engine/clearing/clear.c).
 *
 * This list is the order of the checks, and engine/clearing/tariff.c mirrors it (one function
 * per check, named for it, run from one table): the first check that refuses a line names its
 * finding, so the order is behaviour. Per invoice, first:
 *   - provider: the invoicing provider is known (201420, on the invoice);
 *   - invoice number: unique per provider, here and earlier (202420, on the invoice);
 *   - credited invoice: a credit note's credited invoice was accepted (202920) and not credited
 *     yet (202921).
 * Then for each line still standing, in order, stopping at the first refusal:
 *   1. beneficiary: a member with an insurability period covering the service date (500820
 *      unknown, 500540 not in order on that date), or another scheme that covers the person
 *      (engine/clearing/schemes.h decides who pays); BIM when that period's ct1 ends in 1;
 *   2. dates: not after the sending's creation date (500510), not more than two years before
 *      it (500546), within admission..discharge for a hospitalised invoice (500511 / 500513);
 *   3. tariff: the code has a tariff row valid on the date (500403 unknown code, 500420 not
 *      valid then);
 *   4. amounts: insurer part = units x (BIM ? insurer_bim : insurer) (501940) and patient share
 *      = units x fee - insurer part (502741), to the cent; both reported, neither stops. An
 *      eAttest is instead reimbursed what the patient paid (AMI or OSSOM only, T40xxx);
 *   5. agreement: a code flagged `agreement` has a payment-commitment reference or an agreement
 *      covering (patient, code, date) (5004K2; 500548 when an agreement exists but not on that
 *      date);
 *      (gate: a line refused so far, or of a refused invoice, stops here: it must not use up
 *      a maximum or count as billed)
 *   6. credit line: a credit note's line repeats an accepted line (202921) once (500423), and
 *      stops there;
 *   7. duplicates: (provider, patient, code, date, line reference) not already accepted, here or
 *      earlier (500423);
 *   8. max_per_day: units of (patient, code, date) in this sending plus earlier accepted
 *      sendings stay within the maximum (502255).
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
#include "refdata/snapshot.h"
#include "store/dbs.h" /* tpc_ledger_dbs_t: the sub-databases the checks read */

#include <lmdb.h>

/** Longest line identity, the 40 bytes of an older ledger's key: provider[11] + patient[11] +
 *  code[6] + day[4] + hash of the line reference[8]. A ledger created since issue 15's fourth
 *  target keys its lines with TPC_TARIFF_ID_SHORT bytes instead (store/dbs.h, enum
 *  tpc_dedup_form): provider and patient in binary, then a hash of the 40 bytes. Either way
 *  provider and patient lead, so one invoice's lines are neighbours in the index. */
#define TPC_TARIFF_ID_LEN   40
#define TPC_TARIFF_ID_SHORT 18

/** What the writer needs to record (and re-check) for an accepted sending: per line. */
typedef struct tpc_tariff_marks {
	uint8_t (*dedup)[TPC_TARIFF_ID_LEN]; /* identity of each line: its first id_len bytes */
	uint32_t *max_per_day;               /* 0 = no maximum */
	uint32_t nlines;
	uint8_t id_len; /* length of every identity: the ledger's form (tpc_tariff_line_identity) */
} tpc_tariff_marks_t;

/** Tariff every line of @p s (see the DESIGN comment above), adding findings.
 *  @param[in]  txn, dbs  the ledger's read snapshot: earlier sendings' dedup, units and
 *                        invoices (borrowed)
 *  @param[in]  ref       the reference data (refdata/snapshot.h; borrowed, held by the caller
 *                        until the sending's lines no longer point into it: the scheme
 *                        references are copied into @p arena)
 *  @param[in]  today     days since epoch, used when the sending has no creation date
 *  @param[out] marks     per-line data for the writer, allocated in @p arena
 *  @return 0 or TPC_ENOMEM, or a negative TPC_E* code for an LMDB failure. */
int tpc_tariff_apply(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, const tpc_refsnap_t *ref,
                     int32_t today, tpc_sending_t *s, tpc_arena_t *arena,
                     tpc_tariff_marks_t *marks);

/* The official codes clearing emits (tariff.c, schemes.c), each with its letter and reason: the one
 * list behind tpc_tariff_describe() and the letters of clearing's findings.
 * tests/unit/core/test_codes.c checks that every code literal in engine/clearing/ is listed here
 * and that docs/formats/efact.md or docs/schemes.md names each one. */
#define TPC_CLEARING_CODES(X)                                                                      \
	X("500820", 'R', "beneficiary unknown to the insurer")                                     \
	X("500540", 'R', "beneficiary not in order (not insured) on the service date")             \
	X("201420", 'F', "invoicing provider unknown")                                             \
	X("500403", 'R', "nomenclature code unknown (no tariff)")                                  \
	X("500420", 'R', "nomenclature code not valid on the service date")                        \
	X("500510", 'R', "service date after the sending's creation date")                         \
	X("500546", 'R', "limitation period expired: service more than two years old")             \
	X("500511", 'R', "service date before the admission")                                      \
	X("500513", 'R', "service date after the discharge")                                       \
	X("501940", 'R', "insurer amount differs from the tariff")                                 \
	X("502741", 'R', "patient share differs from the tariff")                                  \
	X("5004K2", 'R', "prior agreement required and missing")                                   \
	X("500548", 'R', "service date outside the agreement period")                              \
	X("502255", 'R', "maximum units per day exceeded")                                         \
	X("500423", 'R', "service already billed")                                                 \
	X("202420", 'B', "individual invoice number already used by this provider")                \
	X("202920", 'F', "credited invoice unknown (not accepted for this provider)")              \
	X("202921", 'F',                                                                           \
	  "credit note does not match the credited invoice (already credited, or a line "          \
	  "that was not accepted)")                                                                \
	X("500431", 'R', "third-party payment forbidden for this code (Fedasil exclusions)")

/** Short reason for a code the tariff checks emit, or NULL. */
const char *tpc_tariff_describe(const char *code);

/** The identity of a line (provider, patient, code, first date, reference) as the ledger's
 *  "dedup" keys are made, @p form (enum tpc_dedup_form: tpc_ledger_dbs_t.dedup_form, fixed
 *  when the ledger was created): 40 bytes, the reference hashed to 8 bytes with BLAKE2b-64 or
 *  XXH3-64, or TPC_TARIFF_ID_SHORT bytes (docs/ledger.md, "dedup").
 *  @return the identity's length (written to @p out). */
size_t tpc_tariff_line_identity(const tpc_invoice_t *inv, const tpc_line_t *ln, unsigned form,
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
