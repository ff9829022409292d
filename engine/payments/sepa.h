/* engine/payments/sepa.h - SEPA credit-transfer files (ISO 20022 pain.001.001.03) for payment runs.
 *
 * A payment run (engine/payments/payrun.c) pays, per budget, one credit transfer per payee account.
 * This module turns one budget's transfers into one pain.001.001.03 document, written with
 * libxml2's xmlTextWriter: one GrpHdr (message id, creation time, number of transactions, control
 * sum), one PmtInf (method TRF, batch booking, SEPA service level, requested execution date, the
 * budget's payer account as debtor, charge bearer SLEV) and one CdtTrfTxInf per payment
 * (end-to-end id, amount in EUR, creditor BIC when known, name, IBAN, unstructured remittance).
 *
 * Everything is checked before a byte is written: IBANs (ISO 13616 mod 97), BICs (ISO 9362:
 * 4 letters bank, 2 letters country, 2 alphanumeric location, optional 3 alphanumeric branch),
 * identifiers (1..35 characters of the SEPA Latin set), names (1..70), amounts (> 0 cents) and
 * the sums (no overflow). A refusal names the payment (1-based) and the field. The names of the
 * reference data are UTF-8 of any length: tpc_sepa_text() makes them SEPA text first.
 *
 * Money is integer cents throughout; amounts are printed as "123.45" without floating point.
 * Every call is reentrant (one libxml2 writer per call); in tpcleard the ledger writer thread
 * is the only caller.
 */
#ifndef TPC_SEPA_H
#define TPC_SEPA_H

#include <stddef.h>
#include <stdint.h>

/** One credit transfer. All strings borrowed, NUL-terminated. */
typedef struct tpc_sepa_payment {
	const char *end_to_end; /* EndToEndId, 1..35 characters, unique in the file */
	const char *name;       /* creditor name, 1..70 characters (longer is refused) */
	const char *iban;       /* creditor IBAN, no spaces */
	const char *bic;        /* creditor BIC, 8 or 11 characters, or "" when unknown */
	int64_t amount_cents;   /* > 0 */
	const char *remittance; /* unstructured remittance information, 0..140 characters */
} tpc_sepa_payment_t;

/** One file: one budget's payments of one run. All strings borrowed, NUL-terminated. */
typedef struct tpc_sepa_batch {
	const char *message_id;      /* MsgId, 1..35, unique per file */
	const char *payment_info_id; /* PmtInfId, 1..35 */
	uint64_t created_ms;         /* CreDtTm, unix milliseconds (written in UTC) */
	int32_t execution_day;       /* ReqdExctnDt, days since 1970-01-01 */
	const char *debtor_name;     /* the budget's payer, 1..70 */
	const char *debtor_iban;
	const char *debtor_bic; /* 8 or 11 characters, or "" */
	const tpc_sepa_payment_t *payments;
	size_t npayments; /* >= 1 */
} tpc_sepa_batch_t;

/** Totals of a batch, as written in GrpHdr/PmtInf. */
typedef struct tpc_sepa_totals {
	size_t transactions;
	int64_t control_cents;
} tpc_sepa_totals_t;

/** Longest name pain.001.001.03 takes (Max70Text): creditor and debtor names are cut there. */
#define TPC_SEPA_NAME_MAX 70

/** @p utf8 in the SEPA Latin set (a-z A-Z 0-9 / - ? : ( ) . , ' + space), following the EPC's
 *  conversion best practice (EPC217-08): a letter with a diacritic becomes its base letter
 *  (é e, Č C, ł l), ß ss, Æ AE, Œ OE, Þ TH, & +, typographic quotes ', dashes -, spaces of
 *  any kind a space, € EUR, and any other character (or a byte that is not UTF-8) a full stop.
 *  The result is cut at @p max characters, because the file's field holds no more, and its
 *  trailing spaces dropped; an empty result is "-" (a SEPA name has at least one character).
 *  This is the only place a reference-data value is shortened (docs/formats/reference-data.md).
 *  @param[out] out  at least @p max + 1 bytes; NUL-terminated, never NULL input (NULL = "")
 *  @return 1 when characters were cut, 0 when the whole text fit. */
int tpc_sepa_text(const char *utf8, size_t max, char *out);

/** Check a BIC (ISO 9362, 8 or 11 characters, upper case). */
int tpc_sepa_bic_ok(const char *bic);

/** Check every field of @p b (see the DESIGN comment).
 *  @param[out] err  on failure: "payment N: field: reason", "debtor: field: reason" or
 *                   "batch: field: reason"
 *  @return 0, TPC_EINVAL, or TPC_ENOMEM (the duplicate end-to-end id check sorts an index). */
int tpc_sepa_check(const tpc_sepa_batch_t *b, char *err, size_t errlen);

/** Render @p b as a pain.001.001.03 document (UTF-8, with XML declaration).
 *  @param[out] xml     new buffer, owned by the caller, release with free(); NUL-terminated
 *  @param[out] len     its length without the NUL
 *  @param[out] totals  may be NULL
 *  @param[out] err     on TPC_EINVAL, why
 *  @return 0, TPC_EINVAL (checks failed, nothing rendered) or TPC_ENOMEM. */
int tpc_sepa_render(const tpc_sepa_batch_t *b, char **xml, size_t *len, tpc_sepa_totals_t *totals,
                    char *err, size_t errlen);

#endif /* TPC_SEPA_H */
