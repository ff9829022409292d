/* engine/clearing/clear.c - outcome of lines, invoices and sendings (see clear.h).
 *
 * The verdict reads the findings the adapter and the tariff checks attached (and the outcomes
 * they already set), by their official letter (shared/domain/efact.md section 6, "Letter"): B
 * blocks the whole sending, F refuses an invoice, R a line. E and S are reported but refuse nothing
 * (docs/formats/efact.md: the spec leaves open whether they stop payment, and the decoder emits
 * neither). Amounts are summed here from the lines, zeroed first, whatever the adapter left in
 * them. */
#include "clearing/clear.h"

#include "core/codes.h"

#include <string.h>

int tpc_clear_letter_refuses(char letter)
{
	return letter == 'B' || letter == 'F' || letter == 'R';
}

/* A finding refuses what it is attached to: a sending finding is handled through s->blocked,
 * an invoice's or a line's here. */
static int any_refusing(const tpc_finding_t *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (tpc_clear_letter_refuses(f[i].letter))
			return 1;
	return 0;
}

/* The refused share of @p refused in @p total, in hundredths of a percent, truncated (1 of 6
 * is 1666: 16.66 %), within 0..10000. A credit note's amounts are all negative: the share is
 * the same ratio. Nothing invoiced is nothing refused. */
static uint16_t share_of(int64_t refused, int64_t total)
{
	int64_t v;

	if (total == 0)
		return 0;
	if (total < 0) {
		refused = -refused;
		total = -total;
	}
	/* 10000 * refused must not overflow: past 9.2e14 cents only the leading digits matter */
	while (total > INT64_MAX / 10000 || refused > INT64_MAX / 10000 ||
	       refused < -(INT64_MAX / 10000)) {
		refused /= 10;
		total /= 10;
	}
	if (total == 0)
		return 0;
	v = refused * 10000 / total;
	return (uint16_t)(v < 0 ? 0 : v > 10000 ? 10000 : v);
}

void tpc_clear_judge(tpc_sending_t *s, tpc_clear_summary_t *sum)
{
	tpc_clear_summary_t c;

	memset(&c, 0, sizeof(c));
	s->accepted_cents = 0;
	s->refused_cents = 0;
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		tpc_invoice_t *inv = &s->invoices[i];
		/* top down: a blocked sending refuses every invoice, a refused invoice (F, or
		 * refused by a tariff check on the invoice) every one of its lines */
		int inv_refused = s->blocked || inv->outcome == TPC_OUTCOME_REFUSED ||
		                  any_refusing(inv->findings, inv->nfindings);

		uint32_t kept = 0;

		inv->accepted_cents = 0;
		inv->refused_cents = 0;
		/* bounded by s->nlines too: an adapter's invoice must not lead past the lines */
		for (uint32_t k = 0; k < inv->nlines && inv->first_line + k < s->nlines; k++) {
			tpc_line_t *ln = &s->lines[inv->first_line + k];
			int refused = inv_refused || ln->outcome == TPC_OUTCOME_REFUSED ||
			              any_refusing(ln->findings, ln->nfindings);

			if (refused) {
				ln->outcome = TPC_OUTCOME_REFUSED;
				ln->accepted_cents = 0;
				inv->refused_cents += ln->insurer_cents;
				c.lines_refused++;
			} else {
				ln->outcome = TPC_OUTCOME_ACCEPTED;
				/* the insurer part, and the patient share when a scheme pays it */
				ln->accepted_cents =
				    ln->insurer_cents + (ln->share_budget ? ln->patient_cents : 0);
				inv->accepted_cents += ln->accepted_cents;
				c.lines_accepted++;
				kept++;
			}
		}
		/* an invoice stands when it is not refused as a whole and keeps a line */
		if (inv_refused || kept == 0) {
			inv->outcome = TPC_OUTCOME_REFUSED;
			c.invoices_refused++;
		} else {
			inv->outcome = TPC_OUTCOME_ACCEPTED;
			c.invoices_accepted++;
		}
		s->accepted_cents += inv->accepted_cents;
		s->refused_cents += inv->refused_cents;
	}
	/* what the threshold judges and the answers report (920098/920099 141-145) */
	s->refused_share = share_of(s->refused_cents, s->accepted_cents + s->refused_cents);
	/* Refused when blocked, or when nothing at all is accepted (efact.md: a 920099 when every
	 * invoice is rejected); a sending without lines has nothing to pay either. */
	if (s->blocked || (c.lines_accepted == 0 && s->nlines > 0) || s->nlines == 0)
		s->outcome = TPC_OUTCOME_REFUSED;
	else
		s->outcome = TPC_OUTCOME_ACCEPTED;
	if (sum)
		*sum = c;
}

int tpc_clear_threshold(tpc_sending_t *s, unsigned percent, const tpc_host_t *host,
                        tpc_clear_summary_t *sum)
{
	int64_t total = s->accepted_cents + s->refused_cents;
	tpc_finding_t f;

	/* A sending refused already keeps its own reason: T00020 is only for one refused for its
	 * share (efact-real.md: refusal type 02, not 01). Cross-multiplied, so the comparison is
	 * exact in cents, and strict: a share of exactly the threshold passes. */
	if (s->outcome == TPC_OUTCOME_REFUSED || total <= 0 ||
	    s->refused_cents * 100 <= (int64_t)percent * total)
		return 0;
	memset(&f, 0, sizeof(f));
	memcpy(f.code, TPC_CODE_REFUSED_SHARE, 6);
	f.letter = 'B';
	if (tpc_sending_add_finding(s, host, &f))
		return -12; /* TPC_ENOMEM */
	/* refused whole: every line and invoice refused, the accepted amounts moved to refused,
	 * so the ledger writer posts nothing and indexes nothing of it (ledger.c only takes
	 * accepted lines) and the lines can be billed again */
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		s->invoices[i].outcome = TPC_OUTCOME_REFUSED;
		s->invoices[i].refused_cents += s->invoices[i].accepted_cents;
		s->invoices[i].accepted_cents = 0;
	}
	for (uint32_t i = 0; i < s->nlines; i++) {
		s->lines[i].outcome = TPC_OUTCOME_REFUSED;
		s->lines[i].accepted_cents = 0;
	}
	s->refused_cents = total;
	s->accepted_cents = 0;
	s->outcome = TPC_OUTCOME_REFUSED;
	if (sum) {
		sum->lines_refused += sum->lines_accepted;
		sum->lines_accepted = 0;
		sum->invoices_refused += sum->invoices_accepted;
		sum->invoices_accepted = 0;
	}
	return 1;
}
