/* tests/unit/clearing/test_clear.c - judging a decoded sending (engine/clearing/clear.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "clearing/clear.h"

/* A sending of two invoices: invoice 0 holds lines 0..2, invoice 1 holds lines 3..4. */
static tpc_invoice_t inv[2];
static tpc_line_t lines[5];
static tpc_sending_t s;

static void setup(void)
{
	static const int64_t insurer[5] = {1000, 2000, 3000, 400, 500};

	memset(inv, 0, sizeof(inv));
	memset(lines, 0, sizeof(lines));
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 5; i++) {
		memcpy(lines[i].code, "101032", 7);
		lines[i].units = 1;
		lines[i].insurer_cents = insurer[i];
		lines[i].patient_cents = 100;
		lines[i].accepted_cents = -1; /* must be overwritten */
	}
	inv[0].first_line = 0;
	inv[0].nlines = 3;
	inv[1].first_line = 3;
	inv[1].nlines = 2;
	s.invoices = inv;
	s.ninvoices = 2;
	s.lines = lines;
	s.nlines = 5;
}

TestSuite(clear, .init = setup, .timeout = 30);

static void add_finding(tpc_finding_t *slots, uint8_t *n, const char *code, char letter)
{
	tpc_finding_t *f = &slots[(*n)++];

	memset(f, 0, sizeof(*f));
	memcpy(f->code, code, 6);
	f->letter = letter;
}

Test(clear, all_clean_accepts_every_line)
{
	tpc_clear_summary_t sum;

	tpc_clear_judge(&s, &sum);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lines[i].outcome, TPC_OUTCOME_ACCEPTED, "line %d", i);
		cr_assert_eq(lines[i].accepted_cents, lines[i].insurer_cents, "line %d", i);
	}
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(inv[0].accepted_cents, 6000);
	cr_assert_eq(inv[0].refused_cents, 0);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(inv[1].accepted_cents, 900);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.accepted_cents, 6900);
	cr_assert_eq(s.refused_cents, 0);
	cr_assert_eq(sum.lines_accepted, 5);
	cr_assert_eq(sum.lines_refused, 0);
	cr_assert_eq(sum.invoices_accepted, 2);
	cr_assert_eq(sum.invoices_refused, 0);
}

Test(clear, summary_is_optional)
{
	tpc_clear_judge(&s, NULL);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
}

Test(clear, r_finding_refuses_only_its_line)
{
	tpc_clear_summary_t sum;

	add_finding(lines[1].findings, &lines[1].nfindings, "500402", 'R');
	tpc_clear_judge(&s, &sum);
	cr_assert_eq(lines[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(lines[1].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(lines[1].accepted_cents, 0);
	cr_assert_eq(lines[2].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_ACCEPTED, "the invoice keeps its other lines");
	cr_assert_eq(inv[0].accepted_cents, 4000);
	cr_assert_eq(inv[0].refused_cents, 2000);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.accepted_cents, 4900);
	cr_assert_eq(s.refused_cents, 2000);
	cr_assert_eq(sum.lines_accepted, 4);
	cr_assert_eq(sum.lines_refused, 1);
	cr_assert_eq(sum.invoices_accepted, 2);
	cr_assert_eq(sum.invoices_refused, 0);
}

Test(clear, f_finding_refuses_the_whole_invoice)
{
	tpc_clear_summary_t sum;

	add_finding(inv[1].findings, &inv[1].nfindings, "200802", 'F');
	tpc_clear_judge(&s, &sum);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(lines[i].outcome, TPC_OUTCOME_ACCEPTED, "line %d", i);
	for (int i = 3; i < 5; i++) {
		cr_assert_eq(lines[i].outcome, TPC_OUTCOME_REFUSED, "line %d", i);
		cr_assert_eq(lines[i].accepted_cents, 0, "line %d", i);
	}
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(inv[1].accepted_cents, 0);
	cr_assert_eq(inv[1].refused_cents, 900);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED, "the other invoice stands");
	cr_assert_eq(s.accepted_cents, 6000);
	cr_assert_eq(s.refused_cents, 900);
	cr_assert_eq(sum.invoices_accepted, 1);
	cr_assert_eq(sum.invoices_refused, 1);
	cr_assert_eq(sum.lines_accepted, 3);
	cr_assert_eq(sum.lines_refused, 2);
}

Test(clear, blocked_sending_refuses_everything)
{
	tpc_clear_summary_t sum;

	s.blocked = 1;
	tpc_clear_judge(&s, &sum);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lines[i].outcome, TPC_OUTCOME_REFUSED, "line %d", i);
		cr_assert_eq(lines[i].accepted_cents, 0, "line %d", i);
	}
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.accepted_cents, 0);
	cr_assert_eq(s.refused_cents, 6900);
	cr_assert_eq(sum.lines_accepted, 0);
	cr_assert_eq(sum.lines_refused, 5);
	cr_assert_eq(sum.invoices_accepted, 0);
	cr_assert_eq(sum.invoices_refused, 2);
}

Test(clear, blocked_sending_without_invoices_is_refused)
{
	tpc_clear_summary_t sum;

	memset(&s, 0, sizeof(s));
	s.blocked = 1;
	tpc_clear_judge(&s, &sum);
	cr_assert_eq(s.outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(sum.lines_accepted + sum.lines_refused, 0);
}

Test(clear, e_and_s_letters_refuse_nothing)
{
	tpc_clear_summary_t sum;

	add_finding(lines[0].findings, &lines[0].nfindings, "500100", 'E');
	add_finding(lines[0].findings, &lines[0].nfindings, "500200", 'S');
	add_finding(inv[1].findings, &inv[1].nfindings, "200100", 'E');
	add_finding(inv[1].findings, &inv[1].nfindings, "200200", 'S');
	tpc_clear_judge(&s, &sum);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(lines[i].outcome, TPC_OUTCOME_ACCEPTED, "line %d", i);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.accepted_cents, 6900);
	cr_assert_eq(sum.lines_refused, 0);
}

Test(clear, letters_that_refuse)
{
	cr_assert(tpc_clear_letter_refuses('B'));
	cr_assert(tpc_clear_letter_refuses('F'));
	cr_assert(tpc_clear_letter_refuses('R'));
	cr_assert_not(tpc_clear_letter_refuses('E'));
	cr_assert_not(tpc_clear_letter_refuses('S'));
	cr_assert_not(tpc_clear_letter_refuses(0));
}

Test(clear, a_refusing_finding_after_a_signal_still_refuses)
{
	add_finding(lines[4].findings, &lines[4].nfindings, "500100", 'E');
	add_finding(lines[4].findings, &lines[4].nfindings, "500200", 'S');
	add_finding(lines[4].findings, &lines[4].nfindings, "500503", 'R');
	tpc_clear_judge(&s, NULL);
	cr_assert_eq(lines[4].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(lines[3].outcome, TPC_OUTCOME_ACCEPTED);
}

Test(clear, invoice_with_every_line_refused_is_refused)
{
	tpc_clear_summary_t sum;

	add_finding(lines[3].findings, &lines[3].nfindings, "500402", 'R');
	add_finding(lines[4].findings, &lines[4].nfindings, "500503", 'R');
	tpc_clear_judge(&s, &sum);
	cr_assert_eq(lines[3].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(lines[4].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_REFUSED, "no line left: the invoice falls");
	cr_assert_eq(inv[1].refused_cents, 900);
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(sum.invoices_accepted, 1);
	cr_assert_eq(sum.invoices_refused, 1);
}

Test(clear, sending_with_every_line_refused_is_refused)
{
	tpc_clear_summary_t sum;

	for (int i = 0; i < 5; i++)
		add_finding(lines[i].findings, &lines[i].nfindings, "500402", 'R');
	tpc_clear_judge(&s, &sum);
	cr_assert_eq(s.outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.refused_cents, 6900);
	cr_assert_eq(sum.invoices_refused, 2);
}

Test(clear, invoice_without_lines_is_refused)
{
	tpc_clear_summary_t sum;

	inv[1].nlines = 0;
	s.nlines = 3;
	tpc_clear_judge(&s, &sum);
	cr_assert_eq(inv[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(inv[1].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(sum.invoices_refused, 1);
	cr_assert_eq(s.outcome, TPC_OUTCOME_ACCEPTED);
}

Test(clear, judging_twice_gives_the_same_verdict)
{
	tpc_clear_summary_t a, b;

	add_finding(lines[1].findings, &lines[1].nfindings, "500402", 'R');
	tpc_clear_judge(&s, &a);
	tpc_clear_judge(&s, &b);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
	cr_assert_eq(s.accepted_cents, 4900, "amounts are recomputed, not accumulated");
	cr_assert_eq(inv[0].accepted_cents, 4000);
}

Test(clear, refused_share_is_the_one_the_threshold_judges)
{
	tpc_host_t host = {NULL, NULL, 0, 0, NULL};
	tpc_finding_t buf[4];

	/* 2000 of 6900 refused: 28.98 %, truncated (two implied decimals) */
	add_finding(lines[1].findings, &lines[1].nfindings, "500402", 'R');
	tpc_clear_judge(&s, NULL);
	cr_assert_eq(s.refused_share, 2898);
	/* the threshold refuses everything but leaves the share it judged */
	s.findings = buf;
	s.findings_cap = 4;
	cr_assert_eq(tpc_clear_threshold(&s, 5, &host, NULL), 1);
	cr_assert_eq(s.refused_cents, 6900);
	cr_assert_eq(s.refused_share, 2898);
	/* nothing refused; a credit note (negative amounts) gives the same ratio */
	setup();
	tpc_clear_judge(&s, NULL);
	cr_assert_eq(s.refused_share, 0);
	for (int i = 0; i < 5; i++)
		lines[i].insurer_cents = -lines[i].insurer_cents;
	add_finding(lines[1].findings, &lines[1].nfindings, "500402", 'R');
	tpc_clear_judge(&s, NULL);
	cr_assert_eq(s.refused_share, 2898);
	/* amounts past 10^15 cents do not overflow (their last digits are dropped: 19.9999... %
	 * may read 20.00) */
	setup();
	lines[0].insurer_cents = 4000000000000000000LL;
	lines[1].insurer_cents = 1000000000000000000LL;
	add_finding(lines[1].findings, &lines[1].nfindings, "500402", 'R');
	tpc_clear_judge(&s, NULL);
	cr_assert(s.refused_share == 1999 || s.refused_share == 2000, "%u", s.refused_share);
}
