/* engine/clear.c - outcome of lines, invoices and sendings (see clear.h). */
#include "clear.h"

#include <string.h>

int tpc_clear_letter_refuses(char letter)
{
	return letter == 'B' || letter == 'F' || letter == 'R';
}

static int any_refusing(const tpc_finding_t *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (tpc_clear_letter_refuses(f[i].letter))
			return 1;
	return 0;
}

void tpc_clear_judge(tpc_sending_t *s, tpc_clear_summary_t *sum)
{
	tpc_clear_summary_t c;

	memset(&c, 0, sizeof(c));
	s->accepted_cents = 0;
	s->refused_cents = 0;
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		tpc_invoice_t *inv = &s->invoices[i];
		int inv_refused = s->blocked || inv->outcome == TPC_OUTCOME_REFUSED ||
		                  any_refusing(inv->findings, inv->nfindings);

		uint32_t kept = 0;

		inv->accepted_cents = 0;
		inv->refused_cents = 0;
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
				ln->accepted_cents = ln->insurer_cents;
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
	if (s->blocked || (c.lines_accepted == 0 && s->nlines > 0) || s->nlines == 0)
		s->outcome = TPC_OUTCOME_REFUSED;
	else
		s->outcome = TPC_OUTCOME_ACCEPTED;
	if (sum)
		*sum = c;
}
