/* tests/integration/test_efact.c - eFact sendings through the real daemon: AMI clearing of each
 * line against the sample reference data, native answers 931000 / 920098 / 920099. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/check.h"
#include "daemon.h"
#include "efact/efact.h"
#include "gen/efact_gen.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(efact, .fini = teardown, .timeout = 120);

/* The sending of the issue (gen/efact_gen.h): a wrong NISS check digit, an unknown code, a wrong
 * insurer amount, a duplicate line and a service date outside the insurability period, among
 * good lines. */
static uint8_t *faulty_sending(const char *reference, size_t *len)
{
	uint8_t *out = tpc_efact_faults_sample(reference, len);

	cr_assert_not_null(out);
	cr_assert_eq(memcmp(out + TPC_EFACT_HEADER + 3 * TPC_EFACT_RECORD, "50", 2), 0);
	return out;
}

static const Tpclear__LineResult *line_at(const Tpclear__Result *r, uint32_t record)
{
	for (size_t i = 0; i < r->n_invoice_results; i++)
		for (size_t k = 0; k < r->invoice_results[i]->n_lines; k++)
			if (r->invoice_results[i]->lines[k]->record == record)
				return r->invoice_results[i]->lines[k];
	cr_assert_fail("no line at record %u", record);
	return NULL;
}

static void expect_line(const Tpclear__Result *r, uint32_t record, const char *code)
{
	const Tpclear__LineResult *l = line_at(r, record);

	if (!code) {
		cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "record %u", record);
		cr_assert_eq(l->n_findings, 0, "record %u", record);
		return;
	}
	cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED, "record %u", record);
	cr_assert_eq(l->n_findings, 1, "record %u has %zu findings (%s)", record, l->n_findings,
	             l->n_findings ? l->findings[0]->code : "");
	cr_assert_str_eq(l->findings[0]->code, code, "record %u", record);
	cr_assert_str_eq(l->findings[0]->letter, "R");
}

/* Submit @p p as the sample hospital's sending @p key: the answer, asserted to be a result. */
static Tpclear__Answer *submit_result(void *s, const char *key, const uint8_t *p, size_t len)
{
	Tpclear__Answer *a = tpc_td_submit(s, "hospital", key, "efact", p, len, NULL);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	return a;
}

Test(efact, faulty_lines_are_refused_with_their_codes_and_the_rest_accepted)
{
	size_t len, nlen;
	uint8_t *p = faulty_sending("20261100000101", &len), *native = NULL;
	Tpclear__Answer *a;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, "[clearing]\nmax_refused_percent = 100\n"), 0);
	s = tpc_td_connect(&d);
	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", "k1",
	                         "efact", 1, p, len),
	             0);
	/* receipt with its 931000 */
	a = tpc_td_recv(s, 10000, &native, &nlen);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_not_null(native);
	cr_assert_eq(nlen, TPC_EFACT_HEADER);
	cr_assert_eq(memcmp(native, "931000", 6), 0);
	free(native);
	tpclear__answer__free_unpacked(a, NULL);
	/* result with its 920098 */
	a = tpc_td_recv(s, 30000, &native, &nlen);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	const Tpclear__Result *r = a->result;
	cr_assert_eq(r->outcome, TPCLEAR__OUTCOME__OUTCOME_PARTIAL);
	cr_assert_eq(r->lines, 7);
	cr_assert_eq(r->lines_accepted, 2);
	expect_line(r, 3, NULL);
	expect_line(r, 4, "500802"); /* NISS check digit */
	expect_line(r, 5, "500403"); /* no tariff for the code */
	expect_line(r, 6, "501940"); /* insurer amount */
	expect_line(r, 7, "500423"); /* already billed */
	expect_line(r, 10, NULL);
	expect_line(r, 11, "500540"); /* not insured on that date */
	cr_assert_eq(line_at(r, 6)->expected_insurer_cents, 2400);
	cr_assert_eq(r->accepted_cents, 2400 + 1960);
	cr_assert_str_eq(r->native_type, "920098");
	cr_assert_not_null(native);
	cr_assert_eq(memcmp(native, "920098", 6), 0);
	/* ET10, ET20, the four lines in error (records 4-7), ET80, ET20, record 11, ET80, ET90:
	 * 800 characters each, no 95/96 (efact-real.md 1.1) */
	cr_assert_eq(nlen, 67 + 610 + 11 * 800);
	/* record 4's error slot: letter R and code 500802 at 457-463; record 3, accepted without
	 * error, is not echoed: record 4 follows the ET20 */
	{
		const char *r4 = (const char *)native + 67 + 610 + 2 * 800;
		cr_assert_eq(memcmp(r4, "50000004", 8), 0, "%.8s", r4);
		cr_assert_eq(memcmp(r4 + 456, "R500802", 7), 0, "%.21s", r4 + 456);
		cr_assert_eq(memcmp(r4 + 463, " 000000 000000", 14), 0, "%.21s", r4 + 456);
	}
	free(native);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

Test(efact, refused_share_over_the_threshold_refuses_the_sending_with_920099)
{
	size_t len, nlen;
	uint8_t *p = faulty_sending("20261100000102", &len), *native = NULL;
	Tpclear__Answer *a;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0); /* default threshold: 5 % */
	s = tpc_td_connect(&d);
	a = submit_result(s, "k2", p, len);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_eq(a->result->accepted_cents, 0);
	cr_assert_eq(a->result->lines_accepted, 0);
	cr_assert_str_eq(a->result->findings[0]->code, "T00020");
	cr_assert_str_eq(a->result->native_type, "920099");
	tpclear__answer__free_unpacked(a, NULL);
	/* the stored answer, native bytes included, comes back on a query-by-resubmission */
	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", "k2",
	                         "efact", 9, p, len),
	             0);
	while ((a = tpc_td_recv(s, 10000, &native, &nlen)) &&
	       a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		free(native);
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_not_null(a);
	cr_assert_eq(a->result->replay, 1);
	cr_assert_not_null(native);
	cr_assert_eq(memcmp(native, "920099", 6), 0);
	free(native);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

Test(efact, clean_generated_sending_round_trips_to_920098_with_the_generators_amounts)
{
	size_t len;
	uint8_t *p = tpc_efact_sample(4242, 0, 5, 7, &len);
	int64_t expected = 0;
	Tpclear__Answer *a;
	void *s;

	/* the generator's insurer amounts, read back from the file's ET90 total A */
	cr_assert_eq(tpc_check_parse_signed((const char *)p + len - 3 * TPC_EFACT_RECORD + 87, 12,
	                                    &expected),
	             0);
	cr_assert_gt(expected, 0);
	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	a = submit_result(s, "clean", p, len);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(a->result->lines, 35);
	cr_assert_eq(a->result->lines_accepted, 35);
	cr_assert_eq(a->result->n_findings, 0);
	cr_assert_eq(a->result->accepted_cents, expected);
	cr_assert_str_eq(a->result->native_type, "920098");
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

static Tpclear__Answer *submit_invoice(void *s, const char *key, const char *reference,
                                       const char *number, char invoicing, const char *previous,
                                       int sign)
{
	size_t len;
	uint8_t *p =
	    tpc_td_efact_invoice(reference, number, invoicing, previous, sign, 20261102, &len);
	Tpclear__Answer *a = submit_result(s, key, p, len);

	free(p);
	return a;
}

Test(efact, credit_note_cancels_the_lines_of_the_credited_invoice)
{
	Tpclear__Answer *a;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	/* the original invoice */
	a = submit_invoice(s, "c1", "20261100000301", "000000000301", '0', "", 1);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(a->result->accepted_cents, 2400 + 1960);
	tpclear__answer__free_unpacked(a, NULL);
	/* billing the same lines again is refused: already billed */
	a = submit_invoice(s, "c2", "20261100000302", "000000000302", '0', "", 1);
	cr_assert_eq(a->result->lines_accepted, 0);
	cr_assert_str_eq(a->result->invoice_results[0]->lines[0]->findings[0]->code, "500423");
	tpclear__answer__free_unpacked(a, NULL);
	/* a credit note for an invoice never accepted */
	a = submit_invoice(s, "c3", "20261100000303", "000000000303", '3', "000000000999", -1);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_str_eq(a->result->invoice_results[0]->findings[0]->code, "202920");
	tpclear__answer__free_unpacked(a, NULL);
	/* the credit note of the original: accepted, negative amounts */
	a = submit_invoice(s, "c4", "20261100000304", "000000000304", '3', "000000000301", -1);
	cr_assert_eq(a->result->lines_accepted, 2, "%s",
	             a->result->invoice_results[0]->n_findings
	                 ? a->result->invoice_results[0]->findings[0]->code
	                 : "");
	cr_assert_eq(a->result->accepted_cents, -(2400 + 1960));
	tpclear__answer__free_unpacked(a, NULL);
	/* crediting it twice is refused */
	a = submit_invoice(s, "c5", "20261100000305", "000000000305", '3', "000000000301", -1);
	cr_assert_eq(a->result->lines_accepted, 0);
	tpclear__answer__free_unpacked(a, NULL);
	/* the cancelled lines may now be billed again, on a new invoice */
	a = submit_invoice(s, "c6", "20261100000306", "000000000306", '0', "", 1);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(a->result->invoice_results[0]->lines[0]->scheme, "AMI");
	cr_assert_str_eq(a->result->invoice_results[0]->lines[0]->budget, "AMI");
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	/* the books: every posting pair sums to zero; the provider is owed the original, minus
	 * its credit note, plus the corrected billing */
	{
		int64_t sum = -1, credited = 0;
		uint64_t postings = 0, sendings = 0;

		cr_assert_eq(tpc_td_ledger_totals(&d, &sum, &credited, &postings, &sendings), 0);
		cr_assert_eq(sum, 0, "the ledger balances");
		cr_assert_eq(credited, 2400 + 1960);
		cr_assert_eq(postings, 3 * 2 * 2, "two lines, three accepted invoices, two sides");
		cr_assert_eq(sendings, 6);
	}
}
