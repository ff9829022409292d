/* tests/integration/test_schemes.c - multi-scheme clearing through the real daemon: one eFact
 * sending with lines of every scheme (detention, Fedasil, Mediprima, war victims, OSSOM, AMI),
 * each charged to the right budgets with the right amounts, the books per budget, a payment run
 * per budget, and a feed delta (upsert) changing who pays. The people are those of the sample
 * feeds in config/refdata/ (docs/schemes.md tells their story). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon.h"
#include "gen/efact_gen.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(schemes, .fini = teardown, .timeout = 120);

/* every line's findings count here: no whole-sending refusal for its refused share */
#define NO_THRESHOLD "[clearing]\nmax_refused_percent = 100\n"

#define DETAINEE  "80010100107" /* in detention 11-01..11-04 and from 11-10; an AMI member */
#define FEDASIL   "90020200296"
#define MEDIPRIMA "85030300364" /* hospital decision to 11-15 (share paid), ambulatory to 12-31 */
#define WAR       "40040400465"
#define OSSOM_BC  "60050500573"
#define OSSOM_DEF "65060600657" /* contract ended 2020, 18 years: deferred rights from 56 */
#define MEMBER    "86103130262"
#define NOBODY    "70070700741"

static uint8_t *mixed_sending(const char *reference, size_t *len)
{
	uint8_t *out = tpc_efact_schemes_sample(reference, 1, len);

	cr_assert_not_null(out);
	return out;
}

static const Tpclear__LineResult *line(const Tpclear__Result *r, size_t inv, size_t k)
{
	cr_assert_lt(inv, r->n_invoice_results);
	cr_assert_lt(k, r->invoice_results[inv]->n_lines);
	return r->invoice_results[inv]->lines[k];
}

static void expect(const Tpclear__Result *r, size_t inv, size_t k, const char *scheme,
                   const char *budget, const char *share_budget, int64_t accepted, int64_t share)
{
	const Tpclear__LineResult *l = line(r, inv, k);

	cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "invoice %zu line %zu: %s",
	             inv, k, l->n_findings ? l->findings[0]->code : "");
	cr_assert_str_eq(l->scheme, scheme, "invoice %zu line %zu", inv, k);
	cr_assert_str_eq(l->budget, budget, "invoice %zu line %zu", inv, k);
	cr_assert_str_eq(l->share_budget, share_budget, "invoice %zu line %zu", inv, k);
	cr_assert_eq(l->accepted_cents, accepted, "invoice %zu line %zu", inv, k);
	cr_assert_eq(l->share_cents, share, "invoice %zu line %zu", inv, k);
}

static void refused(const Tpclear__Result *r, size_t inv, size_t k, const char *code)
{
	const Tpclear__LineResult *l = line(r, inv, k);

	cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED, "invoice %zu line %zu", inv, k);
	cr_assert_str_eq(l->findings[0]->code, code, "invoice %zu line %zu", inv, k);
}

static Tpclear__Answer *balances(void *s)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a = tpc_td_ledger(s, "ops", &rq);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	cr_assert_eq(a->ledger->total_cents, 0);
	return a;
}

static int64_t charged(const Tpclear__Answer *a, const char *budget)
{
	for (size_t i = 0; i < a->ledger->n_balances; i++)
		if (strcmp(a->ledger->balances[i]->budget, budget) == 0) {
			cr_assert_eq(a->ledger->balances[i]->sum_cents, 0, "%s sums to 0", budget);
			return -a->ledger->balances[i]->charged_cents;
		}
	cr_assert_fail("no budget %s", budget);
	return 0;
}

/* The bundled sample is the same sending without its refused lines (deploy/demo clears it). */
Test(schemes, the_bundled_sample_is_the_generated_one)
{
	size_t len, flen;
	uint8_t *p = tpc_efact_schemes_sample("20261100000701", 0, &len);
	unsigned char *f =
	    tpc_test_slurp(tpc_test_src("config/samples/sample-schemes.920000"), &flen);

	cr_assert_not_null(p);
	cr_assert_not_null(f, "config/samples/sample-schemes.920000");
	cr_assert_eq(flen, len);
	cr_assert_arr_eq(f, p, len, "regenerate the sample with tpc_efact_schemes_sample()");
	free(p);
	free(f);
}

Test(schemes, a_mixed_sending_charges_every_line_to_its_schemes_budgets)
{
	uint64_t paid, unpaid;
	size_t len;
	uint8_t *p = mixed_sending("20261100000701", &len);
	Tpclear__Answer *a, *b;
	const Tpclear__Result *r;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NO_THRESHOLD), 0);
	s = tpc_td_connect(&d);
	a = tpc_td_submit(s, "hospital", "20261100000701", "efact", p, len, NULL);
	free(p);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	r = a->result;
	cr_assert_eq(r->outcome, TPCLEAR__OUTCOME__OUTCOME_PARTIAL, "%s",
	             r->n_findings ? r->findings[0]->code : "");
	/* detained / released / detained again, within one invoice */
	expect(r, 0, 0, "DETENTION", "AMI", "JUSTICE", 3000, 600);
	expect(r, 0, 1, "AMI", "AMI", "", 2400, 0);
	expect(r, 0, 2, "DETENTION", "AMI", "JUSTICE", 3000, 600);
	cr_assert_str_eq(line(r, 0, 0)->scheme_ref, "Prison de Haren");
	/* Fedasil: everything at the BIM rate; the excluded code refused */
	expect(r, 1, 0, "FEDASIL", "FEDASIL", "FEDASIL", 3000, 100);
	refused(r, 1, 1, "500431");
	/* Mediprima: the hospital decision ends mid-stay */
	expect(r, 2, 0, "MEDIPRIMA", "SPPIS", "SPPIS", 3000, 100);
	cr_assert_str_eq(line(r, 2, 0)->scheme_ref, "MP-2026-0001");
	refused(r, 2, 1, "500540");
	expect(r, 3, 0, "MEDIPRIMA", "SPPIS", "", 2560, 0);
	cr_assert_str_eq(line(r, 3, 0)->scheme_ref, "MP-2026-0002");
	expect(r, 4, 0, "WAR_VICTIMS", "AMI", "WARVICTIMS", 3000, 600);
	/* OSSOM BC: doubled; doubled and capped at the fee */
	expect(r, 5, 0, "OSSOM", "OSSOM", "", 4000, 0);
	cr_assert_eq(line(r, 5, 0)->expected_insurer_cents, 4000);
	expect(r, 5, 1, "OSSOM", "OSSOM", "", 3000, 0);
	cr_assert_eq(line(r, 5, 1)->expected_patient_cents, 0);
	/* OSSOM deferred rights: contract ended in 2020, 18 years, aged 61 */
	expect(r, 6, 0, "OSSOM", "OSSOM", "", 2400, 0);
	expect(r, 7, 0, "AMI", "AMI", "", 2400, 0);
	refused(r, 8, 0, "500820");
	tpclear__answer__free_unpacked(a, NULL);

	/* the books: each budget charged what its lines say, each summing to zero */
	b = balances(s);
	cr_assert_eq(charged(b, "AMI"), 2400 + 2400 + 2400 + 2400 + 2400);
	cr_assert_eq(charged(b, "JUSTICE"), 600 + 600);
	cr_assert_eq(charged(b, "FEDASIL"), 3000);
	cr_assert_eq(charged(b, "SPPIS"), 3000 + 2560);
	cr_assert_eq(charged(b, "WARVICTIMS"), 600);
	cr_assert_eq(charged(b, "OSSOM"), 4000 + 3000 + 2400);
	tpclear__answer__free_unpacked(b, NULL);

	/* one payment run: a SEPA file per budget, every budget paid what it was charged */
	a = tpc_td_payrun(s, 0, "");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(a->payrun->n_files, 6, "one file per budget");
	cr_assert_eq(a->payrun->total_cents, 12000 + 1200 + 3000 + 5560 + 600 + 9400);
	tpclear__answer__free_unpacked(a, NULL);
	b = balances(s);
	for (size_t i = 0; i < b->ledger->n_balances; i++) {
		cr_assert_eq(b->ledger->balances[i]->owed_cents, 0);
		cr_assert_eq(b->ledger->balances[i]->paid_out_cents,
		             -b->ledger->balances[i]->charged_cents);
	}
	tpclear__answer__free_unpacked(b, NULL);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 0);
	cr_assert_eq(paid, 11 + 5, "11 accepted lines, 5 of them with a second part");
}

/* A feed delta: SPF Justice reports that the second detention ended on 11-15. A line of 11-16
 * is then AMI's alone; before the delta it was a detainee's. */
Test(schemes, a_detention_delta_changes_who_pays_from_the_next_sending)
{
	static const char delta[] =
	    "niss,prison,valid_from,valid_to\n" DETAINEE ",Prison de Haren,2026-11-10,2026-11-15\n";
	tpc_efact_line_in_t l;
	tpc_efact_invoice_in_t inv;
	tpc_efact_sending_in_t sd;
	Tpclear__Answer *a;
	uint8_t *p;
	size_t len;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "justice", "delta.csv",
	                   "upsert:detention", delta, sizeof(delta) - 1, NULL, NULL);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LOAD, "%s",
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	cr_assert_eq(a->load->rows, 1);
	tpclear__answer__free_unpacked(a, NULL);
	l = tpc_efact_line("101032", 20261116, 2400, 600, "U1");
	tpc_efact_invoice(&inv, DETAINEE, "000000000801", "600", &l, 1);
	tpc_efact_sending_head(&sd, "20261100000801", 8, TPC_EFACT_HEAD_BANK);
	sd.invoices = &inv;
	sd.ninvoices = 1;
	cr_assert_eq(tpc_efact_write(&sd, &p, &len), 0);
	a = tpc_td_submit(s, "hospital", "20261100000801", "efact", p, len, NULL);
	free(p);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	expect(a->result, 0, 0, "AMI", "AMI", "", 2400, 0);
	tpclear__answer__free_unpacked(a, NULL);
	/* the first detention period, untouched by the delta, still applies */
	a = tpc_td_query(s, "hospital", "20261100000801");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
