/* engine/clearing/clear.h - judging a decoded sending: outcome of every line, invoice and the
 * sending.
 *
 * Runs on worker threads after the adapter's structural validation. Today it applies the
 * findings the adapter recorded (R refuses the line, F the invoice, a blocked sending refuses
 * everything) and sums accepted and refused amounts; tariffing and schemes plug in here.
 * Pure function of its inputs: no allocation, no I/O.
 */
#ifndef TPC_CLEAR_H
#define TPC_CLEAR_H

#include "adapter.h"

/** Summary counts of a judged sending. */
typedef struct tpc_clear_summary {
	uint32_t invoices_accepted, invoices_refused;
	uint32_t lines_accepted, lines_refused;
} tpc_clear_summary_t;

/** Judge @p s in place: set outcome and amounts on every line and invoice and on the sending,
 *  and s->refused_share, the refused share of the judged insurer amount in hundredths of a
 *  percent (truncated), which tpc_clear_threshold() judges and leaves as it is (the answers
 *  report it: eFact segment 300, 141-145).
 *  @param[out] sum  counts (may be NULL). */
void tpc_clear_judge(tpc_sending_t *s, tpc_clear_summary_t *sum);

/** The refusal threshold (eFact 920099): when the refused share of the invoiced insurer amount
 *  is above @p percent, the whole sending is refused - every line, nothing paid - and a
 *  sending finding T00020 says why. Call after tpc_clear_judge().
 *  @param[in]     host  allocates the finding
 *  @param[in,out] sum   updated counts (may be NULL)
 *  @return 1 when the sending was refused by the threshold, 0 when not, TPC_ENOMEM. */
int tpc_clear_threshold(tpc_sending_t *s, unsigned percent, const tpc_host_t *host,
                        tpc_clear_summary_t *sum);

/** Does this finding letter refuse what it is attached to? (B, F, R refuse; E, S do not.) */
int tpc_clear_letter_refuses(char letter);

#endif
