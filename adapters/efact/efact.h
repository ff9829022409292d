/* adapters/efact/efact.h - the built-in eFact adapter (message 920000, docs/formats/efact.md).
 *
 * decode() reads segments 200 and 300 and the 350-character records 10, 20, 21, 50, 51, 52, 80,
 * 90, 95 and 96 in place (views into the payload, arrays from the sending's arena), and checks the
 * structure: record grammar and sequence numbers, record/invoice/sending controls, numeric and
 * signed zones, check digits (NISS, NIHII, nomenclature code, BCE, IBAN), dates, the totals of
 * ET80, ET90, 95 and 96, and credit-note signs. Records 30 and 40 are recognised and refuse
 * their invoice. Each problem becomes a finding with the official code and letter
 * (efact-errors.md), or one of the adapter's own T3xxxx codes where the official list has none
 * (the file's length, segments 200/300, records 95/96).
 *
 * Outcomes set by decode(): blocked = 1 when a B finding hits the file as a whole, segment
 * 200/300, record 10, 90, 95 or 96 (refused at reception, 920999); a B finding on records 20..80
 * marks every invoice refused (the sending is refused, 920099); F refuses the invoice, R the
 * line. Everything else is left PENDING for the engine.
 *
 * encode_answer() writes the native answers in the shape insurers write them (efact-real.md 1):
 * 931000 at reception; after judging 920999 when s->blocked (only the 95/96 in error), 920099
 * when the sending is refused, otherwise 920098 - segment 300 of 610 with the share of errors
 * (s->refused_share) and the refusal type 00/01/02, then 800-character records only: ET10,
 * each invoice's ET20 and ET80, the detail records that carry an error, ET90, each with its
 * trailer (efact_trailer.h), no 95/96.
 *
 * encode_settlement() writes the settlement 920900 of a payment from the stored 920098/920099
 * and the sending as received: the same echo, typed 920900 with 00000 at 141-145, plus the
 * records the payment settles (each ET50 it paid, with the ET51 / ET52 that follow it), in the
 * sending's order, with the amount paid at 478-489 (zone 114) of each ET50 and of each ET80 (per
 * invoice), then one ET91 per destination mutuality (requested, accepted and rejected amounts
 * per account, the payment reference, the sender's summary-invoice number and control) and one
 * ET92 with the sending's totals (efact_settlement.c). Without the payload (a ledger older
 * than "payloads") the echo alone. It refuses with TPC_ADAPTER_EINVAL an answer of another
 * shape, a payload that is not that sending and a settlement whose lines do not fit the echo.
 *
 * init() reads the adapter's section [adapter.efact]: counts = lenient (default) | strict |
 * ignore, how the record counts of 95/96 are judged (a signal T30018, a refusal T30011, not at
 * all; docs/formats/efact.md, "Record counts of 95/96"); an unknown key or value fails init. The
 * state is a constant: nothing is allocated, fini() has nothing to free.
 *
 * Every function here is reentrant and keeps no mutable state.
 */
#ifndef TPC_EFACT_H
#define TPC_EFACT_H

#include "adapter.h"

/** The descriptor (name "efact", abi TPC_ADAPTER_ABI), registered by adapters/registry.c. */
extern const tpc_adapter_t tpc_efact_adapter;

/* Lengths of the file's parts. */
#define TPC_EFACT_SEG200 67
#define TPC_EFACT_SEG300 160
#define TPC_EFACT_RECORD 350
#define TPC_EFACT_HEADER (TPC_EFACT_SEG200 + TPC_EFACT_SEG300)
/* Lengths in the answers. */
#define TPC_EFACT_SEG300_ANSWER 610
#define TPC_EFACT_RECORD_ANSWER 800

/** Short English reason for one of the codes the adapter emits.
 *  @return a static string, or NULL for a code the adapter never emits (or NULL). */
const char *tpc_efact_describe(const char *code);

/** Letter of one of the codes the adapter emits ('B', 'F', 'R', 'E' or 'S').
 *  @return the letter, or 'B' for a code the adapter does not know. */
char tpc_efact_letter(const char *code);

/** The codes the adapter can emit, for tests and documentation.
 *  @param[out] out  up to @p cap static code strings
 *  @return the number of codes (may exceed @p cap). */
size_t tpc_efact_codes(const char **out, size_t cap);

/** The descriptor's encode_answer (efact_answer.c); see tpc_adapter_t. */
int tpc_efact_encode_answer_(const void *state, const uint8_t *buf, size_t len,
                             const tpc_sending_t *s, enum tpc_answer_kind kind,
                             const tpc_host_t *host, tpc_blob_t *out);

/** The descriptor's encode_settlement (efact_settlement.c); see tpc_adapter_t and
 *  docs/formats/efact.md, "Settlement 920900".
 *  @param[in]  answer  a 920098 or 920099 written by tpc_efact_encode_answer_() (borrowed)
 *  @param[in]  payload the 920000 it answers, byte for byte (borrowed), or NULL: then only
 *                      the records of the answer are echoed (a ledger older than "payloads")
 *  @param[in]  st      every line of the sending in order, record = the ET50's ordinal in the
 *                      sending, inside an echoed invoice and of its mutuality; every echoed
 *                      ET50 among them; amounts and sums within 11 digits of cents (borrowed)
 *  @param[out] out     the 920900, allocated with host->alloc
 *  @return 0, TPC_ADAPTER_EINVAL (answer of another shape, a payload that is not the sending
 *          it answers, lines that do not fit it, a zone that does not fit, a payment reference
 *          over 22 characters or not printable ASCII)
 *          or TPC_ADAPTER_ENOMEM. Reentrant. */
int tpc_efact_encode_settlement_(const void *state, const uint8_t *answer, size_t len,
                                 const uint8_t *payload, size_t payload_len,
                                 const tpc_settlement_t *st, const tpc_host_t *host,
                                 tpc_blob_t *out);

#endif /* TPC_EFACT_H */
