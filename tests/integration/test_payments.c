/* tests/integration/test_payments.c - payment runs through the real daemon: SEPA files whose
 * control sums equal the accepted amounts, settlements (920900) pushed and queryable, balances
 * that sum to zero, nothing paid twice across resubmissions, credit notes and kill -9. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "clearing/budget.h"
#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(payments, .fini = teardown, .timeout = 600);

/* The per-budget payment counters add up to the totals (docs/metrics.md). */
static void expect_budget_totals(long long cents, long long payments)
{
	long long sum_cents = 0, sum_payments = 0;
	char series[128];

	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		snprintf(series, sizeof(series), "tpclear_budget_paid_cents_total{budget=\"%s\"}",
		         tpc_budget_name(b));
		sum_cents += tpc_td_metric(&d, series);
		snprintf(series, sizeof(series), "tpclear_budget_payments_total{budget=\"%s\"}",
		         tpc_budget_name(b));
		sum_payments += tpc_td_metric(&d, series);
	}
	cr_assert_eq(sum_cents, cents, "paid per budget %lld, in all %lld", sum_cents, cents);
	cr_assert_eq(sum_payments, payments);
	cr_assert_gt(payments, 0);
}

static const char *samples[] = {"sample-hospital.920000", "sample-gp.920000", "sample-canonical.pb",
                                "sample-faults.920000"};

/* The text of @p expr in a pain.001 document ("p:" its namespace), malloc'd. */
static char *xpath_text(xmlDocPtr doc, const char *expr)
{
	return tpc_test_xpath_string(doc, "p", "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
	                             expr);
}

static void eur(char *buf, size_t cap, int64_t cents)
{
	snprintf(buf, cap, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
}

/* The file is well formed, its totals are the run's, and it validates against the
 * pain.001.001.03 schema when tests/run found a copy (TPC_PAIN001_XSD). */
static void check_sepa(const Tpclear__SepaFile *f)
{
	xmlDocPtr doc = xmlReadMemory((const char *)f->content.data, (int)f->content.len, f->name,
	                              NULL, XML_PARSE_NONET);
	char want[32], n[16], *ctrl, *nb;
	const char *xsd = getenv("TPC_PAIN001_XSD");
	struct stat st;

	cr_assert_not_null(doc, "%s is well formed", f->name);
	ctrl = xpath_text(doc, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum");
	nb = xpath_text(doc, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs");
	eur(want, sizeof(want), f->control_cents);
	snprintf(n, sizeof(n), "%u", f->transactions);
	cr_assert_str_eq(ctrl, want);
	cr_assert_str_eq(nb, n);
	free(ctrl);
	free(nb);
	cr_assert_eq(stat(f->path, &st), 0, "the engine wrote %s", f->path);
	cr_assert_eq((size_t)st.st_size, f->content.len);
	if (xsd && *xsd) {
		xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
		xmlSchemaPtr schema = xmlSchemaParse(pc);
		xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);

		cr_assert_not_null(schema, "schema %s", xsd);
		cr_assert_eq(xmlSchemaValidateDoc(vc, doc), 0, "%s validates against %s", f->name,
		             xsd);
		xmlSchemaFreeValidCtxt(vc);
		xmlSchemaFree(schema);
		xmlSchemaFreeParserCtxt(pc);
	} else {
		/* (a Criterion warning would make the run exit 1 although every test passed) */
		fprintf(stderr,
		        "note: TPC_PAIN001_XSD not set: %s checked well formed, not validated\n",
		        f->name);
	}
	xmlFreeDoc(doc);
}

static const Tpclear__BudgetBalance *balance_of(const Tpclear__Answer *a, const char *budget)
{
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	for (size_t i = 0; i < a->ledger->n_balances; i++)
		if (strcmp(a->ledger->balances[i]->budget, budget) == 0)
			return a->ledger->balances[i];
	cr_assert_fail("no budget %s", budget);
	return NULL;
}

static Tpclear__Answer *balance(void *s)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a = tpc_td_ledger(s, "ops", &rq);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	cr_assert_eq(a->ledger->total_cents, 0, "the ledger sums to zero");
	return a;
}

static void check_books(uint64_t want_paid, uint64_t want_unpaid)
{
	uint64_t paid, unpaid;

	tpc_td_books(&d, &paid, &unpaid);
	if (want_paid != UINT64_MAX)
		cr_assert_eq(paid, want_paid);
	if (want_unpaid != UINT64_MAX)
		cr_assert_eq(unpaid, want_unpaid);
}

Test(payments, samples_are_paid_once_by_a_sepa_file_matching_the_accepted_amounts)
{
	void *ops, *hosp;
	int64_t accepted = 0, hospital_accepted = 0;
	uint32_t accepted_lines = 0;
	Tpclear__Answer *a, *push = NULL;
	uint8_t *native = NULL;
	size_t nlen = 0;
	char hospital_key[64] = "";

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	ops = tpc_td_connect(&d);
	hosp = tpc_td_connect_as(&d, "hospital"); /* CURVE: its own sender id */
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char rel[96];
		size_t len;
		uint8_t *p;
		int is_hosp = i == 0;

		snprintf(rel, sizeof(rel), "config/samples/%s", samples[i]);
		p = tpc_test_slurp(tpc_test_src(rel), &len);
		cr_assert_not_null(p);
		a = tpc_td_submit(is_hosp ? hosp : ops, is_hosp ? "hospital" : "local", samples[i],
		                  strstr(samples[i], ".pb") ? "canonical" : "efact", p, len, NULL);
		cr_assert_not_null(a);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s", samples[i]);
		accepted += a->result->accepted_cents;
		accepted_lines += a->result->lines_accepted;
		if (is_hosp) {
			hospital_accepted = a->result->accepted_cents;
			snprintf(hospital_key, sizeof(hospital_key), "%s", a->result->key);
		}
		tpclear__answer__free_unpacked(a, NULL);
		free(p);
	}
	cr_assert_gt(accepted, 0);
	cr_assert_gt(hospital_accepted, 0);

	/* before any run: everything owed, nothing paid */
	a = balance(ops);
	cr_assert_eq(balance_of(a, "AMI")->charged_cents, -accepted);
	cr_assert_eq(balance_of(a, "AMI")->owed_cents, accepted);
	cr_assert_eq(balance_of(a, "AMI")->paid_out_cents, 0);
	tpclear__answer__free_unpacked(a, NULL);

	a = tpc_td_payrun(ops, 0, "");
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(a->payrun->run, 1);
	cr_assert_eq(a->payrun->total_cents, accepted, "the run pays what was accepted");
	cr_assert_eq(a->payrun->lines, accepted_lines);
	cr_assert_eq(a->payrun->n_files, 1);
	cr_assert_str_eq(a->payrun->files[0]->budget, "AMI");
	cr_assert_eq(a->payrun->files[0]->control_cents, accepted);
	cr_assert_eq(a->payrun->files[0]->transactions, a->payrun->payments);
	cr_assert_eq(a->payrun->payments, 2, "two providers, two accounts");
	cr_assert_geq(a->payrun->settlements, 3);
	check_sepa(a->payrun->files[0]);
	tpclear__answer__free_unpacked(a, NULL);

	/* the hospital is connected: its settlement was pushed (correlation 0) */
	push = tpc_td_recv(hosp, 10000, &native, &nlen);
	cr_assert_not_null(push, "settlement pushed to the connected sender");
	cr_assert_eq(push->correlation, 0);
	cr_assert_eq(push->body_case, TPCLEAR__ANSWER__BODY_SETTLEMENT);
	cr_assert_eq(push->settlement->paid_cents, hospital_accepted);
	cr_assert_str_eq(push->settlement->payment_reference, "TPC00000001-000001");
	cr_assert_not_null(native);
	cr_assert_eq(memcmp(native, "920900", 6), 0);
	free(native);
	tpclear__answer__free_unpacked(push, NULL);

	/* ... and it stays retrievable */
	a = tpc_td_request(hosp, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "hospital", hospital_key,
	                   "settlement", NULL, 0, &native, &nlen);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_SETTLEMENT);
	cr_assert_eq(a->settlement->paid_cents, hospital_accepted);
	cr_assert_not_null(native);
	cr_assert_eq(memcmp(native, "920900", 6), 0);
	free(native);
	tpclear__answer__free_unpacked(a, NULL);
	/* another sender cannot see it */
	a = tpc_td_request(ops, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "local", hospital_key,
	                   "settlement", NULL, 0, NULL, NULL);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, "T00012");
	tpclear__answer__free_unpacked(a, NULL);

	a = balance(ops);
	cr_assert_eq(balance_of(a, "AMI")->paid_out_cents, accepted);
	cr_assert_eq(balance_of(a, "AMI")->owed_cents, 0);
	cr_assert_eq(balance_of(a, "AMI")->sum_cents, 0);
	tpclear__answer__free_unpacked(a, NULL);

	/* a second run pays nothing */
	a = tpc_td_payrun(ops, 0, "");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(a->payrun->run, 0);
	cr_assert_eq(a->payrun->n_files, 0);
	tpclear__answer__free_unpacked(a, NULL);

	/* resubmitting everything: stored answers, no new payable, nothing paid */
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char rel[96];
		size_t len;
		uint8_t *p;

		snprintf(rel, sizeof(rel), "config/samples/%s", samples[i]);
		p = tpc_test_slurp(tpc_test_src(rel), &len);
		a = tpc_td_submit(i == 0 ? hosp : ops, i == 0 ? "hospital" : "local", samples[i],
		                  strstr(samples[i], ".pb") ? "canonical" : "efact", p, len, NULL);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
		cr_assert(a->result->replay, "%s replayed", samples[i]);
		tpclear__answer__free_unpacked(a, NULL);
		free(p);
	}
	a = tpc_td_payrun(ops, 0, "");
	cr_assert_eq(a->payrun->run, 0, "resubmissions pay nothing");
	tpclear__answer__free_unpacked(a, NULL);

	/* the line history of the hospital's sending: every line paid, with its reference */
	{
		Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

		rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
		rq.target = hospital_key;
		a = tpc_td_ledger(hosp, "hospital", &rq);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
		cr_assert_eq(a->ledger->n_sendings, 1);
		cr_assert_gt(a->ledger->sendings[0]->received_at, 0);
		cr_assert_geq(a->ledger->sendings[0]->validated_at,
		              a->ledger->sendings[0]->received_at);
		cr_assert_geq(a->ledger->sendings[0]->committed_at,
		              a->ledger->sendings[0]->validated_at);
		for (size_t i = 0; i < a->ledger->sendings[0]->n_lines; i++) {
			const Tpclear__LineHistory *l = a->ledger->sendings[0]->lines[i];

			cr_assert_eq(l->paid_cents, l->accepted_cents);
			cr_assert_eq(l->accepted_cents, l->expected_insurer_cents);
			cr_assert_gt(l->paid_at, 0);
			cr_assert_str_eq(l->payment_reference, "TPC00000001-000001");
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(tpc_td_metric(&d, "tpclear_payruns_total"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_paid_cents_total"), accepted);
	expect_budget_totals(accepted, tpc_td_metric(&d, "tpclear_payments_total"));
	zmq_close(hosp);
	zmq_close(ops);
	cr_assert_eq(tpc_td_stop(&d), 0);
	check_books(accepted_lines, 0);
}

/* One invoice of the hospital of the sample reference data: two lines on @p day and the next,
 * negative for a credit note. */
static Tpclear__Answer *invoice(void *s, const char *reference, const char *number, char invoicing,
                                const char *previous, int sign, uint32_t day)
{
	size_t len;
	uint8_t *out =
	    tpc_td_efact_invoice(reference, number, invoicing, previous, sign, day, &len);
	Tpclear__Answer *a;

	cr_assert_not_null(out);
	a = tpc_td_submit(s, "hospital", reference, "efact", out, len, NULL);
	free(out);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	return a;
}

static int64_t run(void *s, uint64_t *runs_paid)
{
	Tpclear__Answer *a = tpc_td_payrun(s, 0, "");
	int64_t t;

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	t = a->payrun->total_cents;
	if (a->payrun->run)
		(*runs_paid)++;
	for (size_t i = 0; i < a->payrun->n_files; i++)
		check_sepa(a->payrun->files[i]);
	tpclear__answer__free_unpacked(a, NULL);
	return t;
}

Test(payments, credit_notes_net_against_later_payments_and_the_books_balance)
{
	const int64_t amount = 2400 + 1960;
	int64_t paid = 0, net = 0;
	uint64_t runs = 0;
	Tpclear__Answer *a;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	a = invoice(s, "20261100000401", "000000000401", '0', "", 1, 20261102);
	cr_assert_eq(a->result->accepted_cents, amount);
	net += amount;
	tpclear__answer__free_unpacked(a, NULL);
	paid += run(s, &runs);
	cr_assert_eq(paid, amount, "the invoice is paid");

	/* the credit note of the paid invoice: a negative payable */
	a = invoice(s, "20261100000402", "000000000402", '3', "000000000401", -1, 20261102);
	cr_assert_eq(a->result->accepted_cents, -amount);
	net -= amount;
	tpclear__answer__free_unpacked(a, NULL);
	/* the corrected billing of the same lines: net zero for the provider, carried */
	a = invoice(s, "20261100000403", "000000000403", '0', "", 1, 20261102);
	cr_assert_eq(a->result->accepted_cents, amount);
	net += amount;
	tpclear__answer__free_unpacked(a, NULL);
	{
		Tpclear__Answer *r = tpc_td_payrun(s, 0, "");

		cr_assert_eq(r->payrun->run, 0, "net zero: nothing to pay");
		cr_assert_eq(r->payrun->lines_carried, 4);
		tpclear__answer__free_unpacked(r, NULL);
	}
	/* a new invoice: the next run pays it, netted with the credit note and the rebilling */
	a = invoice(s, "20261100000404", "000000000404", '0', "", 1, 20261105);
	cr_assert_eq(a->result->accepted_cents, amount);
	net += amount;
	tpclear__answer__free_unpacked(a, NULL);
	/* resubmissions on the way change nothing */
	a = invoice(s, "20261100000404", "000000000404", '0', "", 1, 20261105);
	cr_assert(a->result->replay);
	tpclear__answer__free_unpacked(a, NULL);
	paid += run(s, &runs);
	cr_assert_eq(paid, net, "paid in all = accepted minus credited");
	cr_assert_eq(runs, 2);
	cr_assert_eq(run(s, &runs), 0);
	a = balance(s);
	cr_assert_eq(balance_of(a, "AMI")->charged_cents, -net);
	cr_assert_eq(balance_of(a, "AMI")->paid_out_cents, net);
	cr_assert_eq(balance_of(a, "AMI")->owed_cents, 0);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	check_books(8, 0);
}

static void expect_refused(Tpclear__Answer *a, const char *code)
{
	cr_assert_not_null(a, "no answer (expected %s)", code);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT, "body %d, expected %s",
	             a->body_case, code);
	cr_assert_str_eq(a->receipt->code, code, "%s: %s", a->receipt->code, a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
}

/* A retried payment run request (same request_id) gets its first run back and pays nothing
 * that arrived since, across a restart; the same id with other parameters is refused. */
Test(payments, a_retried_request_id_replays_its_run_and_pays_nothing_new)
{
	const int64_t amount = 2400 + 1960;
	Tpclear__Answer *a, *first, *again;
	uint64_t runs = 0;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	a = invoice(s, "20261100000501", "000000000501", '0', "", 1, 20261102);
	cr_assert_eq(a->result->accepted_cents, amount);
	tpclear__answer__free_unpacked(a, NULL);
	first = tpc_td_payrun_id(s, 0, "", "daily-2026-11-30");
	cr_assert_not_null(first);
	cr_assert_eq(first->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(first->payrun->run, 1);
	cr_assert_eq(first->payrun->total_cents, amount);
	cr_assert_not(first->payrun->replay);
	cr_assert_eq(first->payrun->n_files, 1);

	/* a new invoice, then the retry: the first run again, the new invoice left unpaid */
	a = invoice(s, "20261100000502", "000000000502", '0', "", 1, 20261103);
	tpclear__answer__free_unpacked(a, NULL);
	again = tpc_td_payrun_id(s, 0, "", "daily-2026-11-30");
	cr_assert_not_null(again);
	cr_assert_eq(again->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert(again->payrun->replay);
	cr_assert_eq(again->payrun->run, 1);
	cr_assert_eq(again->payrun->committed_at, first->payrun->committed_at);
	cr_assert_eq(again->payrun->payments, first->payrun->payments);
	cr_assert_eq(again->payrun->lines, first->payrun->lines);
	cr_assert_eq(again->payrun->total_cents, amount);
	cr_assert_eq(again->payrun->settlements, first->payrun->settlements);
	cr_assert_gt(again->payrun->settlements, 0);
	cr_assert_eq(again->payrun->n_files, 1);
	cr_assert_str_eq(again->payrun->files[0]->path, first->payrun->files[0]->path);
	cr_assert_eq(again->payrun->files[0]->content.len, first->payrun->files[0]->content.len);
	cr_assert_eq(memcmp(again->payrun->files[0]->content.data,
	                    first->payrun->files[0]->content.data,
	                    first->payrun->files[0]->content.len),
	             0, "the replayed SEPA file is the one written");
	check_sepa(again->payrun->files[0]);
	tpclear__answer__free_unpacked(again, NULL);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_payruns_replayed_total"), 1);
	/* the replay carries the file as it is on disk, else (moved away) as rendered from the
	 * ledger: the bytes first written either way when nobody touched them */
	{
		const Tpclear__SepaFile *f0 = first->payrun->files[0];
		char moved[700];
		FILE *f;

		snprintf(moved, sizeof(moved), "%s.archived", f0->path);
		cr_assert_eq(rename(f0->path, moved), 0);
		again = tpc_td_payrun_id(s, 0, "", "daily-2026-11-30");
		cr_assert(again->payrun->replay);
		cr_assert_eq(again->payrun->files[0]->content.len, f0->content.len);
		cr_assert_eq(memcmp(again->payrun->files[0]->content.data, f0->content.data,
		                    f0->content.len),
		             0, "rendered again from the ledger: the same bytes");
		tpclear__answer__free_unpacked(again, NULL);
		f = fopen(f0->path, "wb");
		cr_assert_not_null(f);
		cr_assert_eq(fwrite("as on disk", 1, 10, f), 10);
		fclose(f);
		again = tpc_td_payrun_id(s, 0, "", "daily-2026-11-30");
		cr_assert_eq(again->payrun->files[0]->content.len, 10, "the file as on disk");
		tpclear__answer__free_unpacked(again, NULL);
		cr_assert_eq(rename(moved, f0->path), 0);
	}
	cr_assert_eq(tpc_td_metric(&d, "tpclear_payruns_total"), 1);
	/* the same id asking something else */
	expect_refused(tpc_td_payrun_id(s, 0, "AMI", "daily-2026-11-30"), "T00027");
	expect_refused(tpc_td_payrun_id(s, 20261130, "", "daily-2026-11-30"), "T00027");
	expect_refused(tpc_td_payrun_id(s, 0, "", "has space"), "T00023");
	{
		char longest[66];

		memset(longest, 'x', 65);
		longest[65] = 0;
		expect_refused(tpc_td_payrun_id(s, 0, "", longest), "T00023"); /* 65 > 64 */
		longest[64] = 0;
		a = tpc_td_payrun_id(s, 20251231, "", longest); /* 64 characters: accepted */
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
		tpclear__answer__free_unpacked(a, NULL);
	}
	/* the four refusals, counted for the alert on payment-run failures */
	cr_assert_eq(tpc_td_metric(&d, "tpclear_payruns_failed_total"), 4);

	/* an id whose run found nothing due stays so */
	a = tpc_td_payrun_id(s, 20251231, "", "nothing-due");
	cr_assert_eq(a->payrun->run, 0);
	cr_assert_not(a->payrun->replay);
	tpclear__answer__free_unpacked(a, NULL);
	a = tpc_td_payrun_id(s, 20251231, "", "nothing-due");
	cr_assert_eq(a->payrun->run, 0);
	cr_assert(a->payrun->replay);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);

	/* durable: after a restart the id still answers run 1; a new id pays the new invoice */
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	a = tpc_td_payrun_id(s, 0, "", "daily-2026-11-30");
	cr_assert(a->payrun->replay);
	cr_assert_eq(a->payrun->run, 1);
	tpclear__answer__free_unpacked(a, NULL);
	a = tpc_td_payrun_id(s, 0, "", "daily-2026-12-01");
	cr_assert_eq(a->payrun->run, 2);
	cr_assert_eq(a->payrun->total_cents, amount);
	cr_assert_not(a->payrun->replay);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_eq(run(s, &runs), 0, "everything is paid");
	tpclear__answer__free_unpacked(first, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	check_books(4, 0);
}

static int file_exists(const char *dir, uint64_t run)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/payments/payrun-%08llu-AMI.pain.001.xml", dir,
	         (unsigned long long)run);
	return stat(path, &st) == 0 && st.st_size > 0;
}

Test(payments, kill_9_during_sendings_and_payment_runs_pays_nothing_twice)
{
	enum { N = 16 };
	int trials = getenv("TPC_LONG") ? 300 : 50;
	unsigned seed = 777;
	uint64_t runs_seen[512];
	size_t nruns = 0;
	int64_t answered_paid = 0;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	for (int trial = 0; trial < trials; trial++) {
		uint64_t seqs[N + 1] = {0};
		char keys[N][32];
		void *s = tpc_td_connect(&d);
		int answered = 0, stop_after;

		seed = seed * 1103515245u + 12345u;
		stop_after = 1 + (int)(seed >> 16) % N;
		for (int i = 0; i < N; i++) {
			snprintf(keys[i], sizeof(keys[i]), "p9-%d-%d", trial, i);
			tpc_td_send_canonical(s, "crash", keys[i], (uint64_t)i + 1,
			                      (unsigned)(50000 + trial * 100 + i), 2, 10);
			if (i == N / 2) {
				/* a payment run in the middle of the stream */
				uint8_t buf[8];
				Tpclear__PayrunRequest rq = TPCLEAR__PAYRUN_REQUEST__INIT;
				size_t n = tpclear__payrun_request__pack(&rq, buf);

				cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN,
				                         "ops", "payrun", "", 1000, buf, n),
				             0);
			}
		}
		while (answered < stop_after) {
			Tpclear__Answer *a = tpc_td_recv(s, 20000, NULL, NULL);

			cr_assert_not_null(a, "trial %d: no answer", trial);
			if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT && a->correlation <= N) {
				seqs[a->correlation] = a->result->sequence;
				answered++;
			} else if (a->body_case == TPCLEAR__ANSWER__BODY_PAYRUN) {
				if (a->payrun->run && nruns < 512)
					runs_seen[nruns++] = a->payrun->run;
				answered_paid += a->payrun->total_cents;
			}
			tpclear__answer__free_unpacked(a, NULL);
		}
		tpc_td_kill9(&d);
		zmq_close(s);
		cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0, "restart after kill -9");
		/* every answered run has its SEPA file (rewritten at startup if the kill came
		 * between the commit and the file) */
		for (size_t r = 0; r < nruns; r++)
			cr_assert(file_exists(d.data, runs_seen[r]), "trial %d: file of run %llu",
			          trial, (unsigned long long)runs_seen[r]);
		s = tpc_td_connect(&d);
		for (int i = 0; i < N; i++) {
			Tpclear__Answer *q;

			if (!seqs[i + 1])
				continue;
			q = tpc_td_query(s, "crash", keys[i]);
			cr_assert_eq(q->body_case, TPCLEAR__ANSWER__BODY_RESULT,
			             "trial %d: answered sending %d lost", trial, i);
			cr_assert_eq(q->result->sequence, seqs[i + 1]);
			tpclear__answer__free_unpacked(q, NULL);
		}
		zmq_close(s);
		if (trial % 10 == 9) {
			/* the books, read from the files: balanced, each line paid at most once */
			cr_assert_eq(tpc_td_stop(&d), 0);
			check_books(UINT64_MAX, UINT64_MAX);
			cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
		}
	}
	cr_assert_gt(nruns, 0, "some payment runs were answered before a kill");
	/* pay what is left: afterwards every accepted line is paid exactly once */
	{
		void *s = tpc_td_connect(&d);
		Tpclear__Answer *a = tpc_td_payrun(s, 0, "");

		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
		tpclear__answer__free_unpacked(a, NULL);
		a = balance(s);
		cr_assert_eq(balance_of(a, "AMI")->owed_cents, 0);
		cr_assert_geq(balance_of(a, "AMI")->paid_out_cents, answered_paid);
		tpclear__answer__free_unpacked(a, NULL);
		zmq_close(s);
	}
	cr_assert_eq(tpc_td_stop(&d), 0);
	check_books(UINT64_MAX, 0);
}
