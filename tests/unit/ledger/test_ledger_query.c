/* tests/unit/ledger/test_ledger_query.c - balances, histories and exports
 * (engine/ledger/ledger_query.c).
 *
 * Every test opens a real ledger in its own mkdtemp directory (tests/support/ledgerfix.h),
 * commits canonical sendings judged by the worker path (AMI tariff over the sample reference
 * data: every accepted line is 2400 cents charged to AMI), runs payment runs through the writer
 * thread, and asks tpc_ledger_query on the fixture's reader with a packed tpclear.LedgerRequest
 * in the job's payload, as a worker does for a TPC_JOB_LEDGER job.
 *
 * The common ledger of most tests (book()): K-1 = invoice H-1 by the hospital (R1 accepted, R2
 * refused for a wrong insurer part, R3 accepted with 2 units) and G-1 by the GP (R4); K-2 =
 * H-2 by the hospital (R5). 5 units accepted, 12000 cents; 4 accepted lines, 8 postings.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearing/budget.h"
#include "core/codes.h"
#include "common/check.h"
#include "core/error.h"
#include "ledger/ledger_query.h"
#include "ledger/verify.h"
#include "store/postings.h"
#include "store/records.h"
#include "ledgerfix.h"

#define ACCEPTED (5 * LFX_INSURER)

static struct {
	tpc_job_t *k1, *k2; /* the sendings of book() */
} fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	lfx_setup();
	lfx_open();
	lfx_load_samples(NULL);
}

TestSuite(ledger_query, .init = setup, .fini = lfx_teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------------------------- */

/* K-1 of book(), built (lfx_begin): its bytes are the same each time. */
static void build_k1(void)
{
	lfx_begin("K-1");
	lfx_invoice(LFX_HOSPITAL, "H-1", 0, NULL);
	lfx_good_line("R1", 1);
	lfx_line("R2", 1, 2000, 1000);
	lfx_good_line("R3", 2);
	lfx_invoice(LFX_GP, "G-1", 0, NULL);
	lfx_good_line("R4", 1);
}

static void book(void)
{
	build_k1();
	fx.k1 = lfx_submit();
	lfx_begin("K-2");
	lfx_invoice(LFX_HOSPITAL, "H-2", 0, NULL);
	lfx_good_line("R5", 1);
	fx.k2 = lfx_submit();
	cr_assert_eq(lfx_postings_zero(NULL), 8);
}

/* Ask @p rq as @p sender. The payload is built and closed here, so the answer cannot lean on
 * it. @return the job (status FOUND or FAILED); @p rc gets tpc_ledger_query's return. */
static tpc_job_t *ask_as(const char *sender, const Tpclear__LedgerRequest *rq, int *rc)
{
	tpc_job_t *j = lfx_job(TPC_JOB_LEDGER, "ledger");
	size_t len = tpclear__ledger_request__get_packed_size(rq);
	uint8_t *buf = malloc(len ? len : 1);

	cr_assert_not_null(buf);
	cr_assert_eq(tpclear__ledger_request__pack(rq, buf), len);
	snprintf(j->sender, sizeof(j->sender), "%s", sender);
	j->correlation = 5;
	zmq_msg_close(&j->payload);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	memcpy(zmq_msg_data(&j->payload), buf, len);
	free(buf);
	*rc = tpc_ledger_query(lfx.reader, j);
	zmq_msg_close(&j->payload);
	zmq_msg_init(&j->payload); /* the job is freed later: leave it an empty message */
	return j;
}

/* Ask @p rq as LFX_SENDER; assert it is answered. */
static Tpclear__LedgerAnswer *ask(const Tpclear__LedgerRequest *rq)
{
	int rc;
	tpc_job_t *j = ask_as(LFX_SENDER, rq, &rc);
	Tpclear__Answer *a;

	cr_assert_eq(rc, 0, "query refused: %s (%s)", tpc_strerror(rc),
	             j->fail_code ? j->fail_code : "");
	cr_assert_eq(j->status, TPC_JOB_FOUND, "status %d", j->status);
	a = lfx_answer(j);
	cr_assert_eq(a->correlation, 5);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER, "body %d", a->body_case);
	cr_assert_not_null(a->ledger);
	return a->ledger;
}

/* Ask @p rq as @p sender; assert it is refused with @p code. */
static void refused_as(const char *sender, const Tpclear__LedgerRequest *rq, const char *code)
{
	int rc;
	tpc_job_t *j = ask_as(sender, rq, &rc);

	cr_assert_neq(rc, 0, "answered, want %s", code);
	cr_assert_eq(j->status, TPC_JOB_FAILED, "status %d", j->status);
	cr_assert_not_null(j->fail_code);
	cr_assert_str_eq(j->fail_code, code);
	cr_assert_not_null(j->fail_reason);
	cr_assert(!j->answer_ready, "a refused query has no answer");
}

static void refused(const Tpclear__LedgerRequest *rq, const char *code)
{
	refused_as(LFX_SENDER, rq, code);
}

static Tpclear__LedgerAnswer *balance(const char *budget, int32_t at)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	rq.budget = (char *)budget;
	rq.at = at;
	return ask(&rq);
}

static const Tpclear__BudgetBalance *balance_of(const Tpclear__LedgerAnswer *la, const char *b)
{
	for (size_t i = 0; i < la->n_balances; i++)
		if (strcmp(la->balances[i]->budget, b) == 0)
			return la->balances[i];
	cr_assert_fail("no balance for %s", b);
	return NULL;
}

static void check_balance(const Tpclear__BudgetBalance *b, int64_t charged, int64_t settled,
                          uint64_t postings)
{
	cr_assert_eq(b->charged_cents, -charged, "%s charged %lld", b->budget,
	             (long long)b->charged_cents);
	cr_assert_eq(b->payable_cents, charged, "%s payable %lld", b->budget,
	             (long long)b->payable_cents);
	cr_assert_eq(b->settled_cents, -settled, "%s settled %lld", b->budget,
	             (long long)b->settled_cents);
	cr_assert_eq(b->paid_out_cents, settled, "%s paid out %lld", b->budget,
	             (long long)b->paid_out_cents);
	cr_assert_eq(b->owed_cents, charged - settled, "%s owed %lld", b->budget,
	             (long long)b->owed_cents);
	cr_assert_eq(b->sum_cents, 0);
	cr_assert_eq(b->postings, postings, "%s: %llu postings", b->budget,
	             (unsigned long long)b->postings);
}

/* Every budget but AMI is empty. */
static void only_ami(const Tpclear__LedgerAnswer *la, int64_t charged, int64_t settled,
                     uint64_t postings)
{
	cr_assert_eq(la->n_balances, TPC_BUDGET__COUNT - 1, "one balance per budget");
	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		cr_assert_str_eq(la->balances[b - 1]->budget, tpc_budget_name(b));
		if (b == TPC_BUDGET_AMI)
			check_balance(la->balances[b - 1], charged, settled, postings);
		else
			check_balance(la->balances[b - 1], 0, 0, 0);
	}
	cr_assert_eq(la->total_cents, 0);
}

static Tpclear__LedgerAnswer *show_as(const char *sender, const char *target)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	int rc;
	tpc_job_t *j;
	Tpclear__Answer *a;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	rq.target = (char *)target;
	j = ask_as(sender, &rq, &rc);
	cr_assert_eq(rc, 0, "SHOW %s: %s (%s)", target, tpc_strerror(rc),
	             j->fail_code ? j->fail_code : "");
	a = lfx_answer(j);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	cr_assert_str_eq(a->ledger->target, target);
	return a->ledger;
}

static Tpclear__LedgerAnswer *show(const char *target)
{
	return show_as(LFX_SENDER, target);
}

static void show_refused_as(const char *sender, const char *target, const char *code)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	rq.target = (char *)target;
	refused_as(sender, &rq, code);
}

static Tpclear__LedgerAnswer *export_page(uint64_t after, uint32_t limit, int32_t from, int32_t to)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__EXPORT;
	rq.after = after;
	rq.limit = limit;
	rq.from = from;
	rq.to = to;
	return ask(&rq);
}

static int32_t days(uint32_t yyyymmdd)
{
	int32_t d;

	cr_assert_eq(tpc_check_date_yyyymmdd(yyyymmdd, &d), 0);
	return d;
}

/* YYYYMMDD of the day of @p ms, shifted by @p delta days. */
static int32_t ymd(uint64_t ms, int delta)
{
	return lfx_yyyymmdd(lfx_day_of_ms(ms) + delta);
}

/* ---- BALANCE ------------------------------------------------------------------------------- */

Test(ledger_query, balance_of_an_empty_ledger_is_zero)
{
	only_ami(balance("", 0), 0, 0, 0);
}

Test(ledger_query, balance_per_budget_follows_charges_and_payments)
{
	Tpclear__PayrunResult *pr;
	tpc_job_t *run;

	book();
	only_ami(balance("", 0), ACCEPTED, 0, 8);

	run = lfx_payrun(INT32_MAX, 0);
	pr = lfx_payrun_result(run);
	cr_assert_eq(pr->total_cents, ACCEPTED);
	cr_assert_eq(pr->payments, 2, "hospital and GP");
	/* 2 payments: one SETTLE per payee and one PAYOUT each */
	only_ami(balance("", 0), ACCEPTED, ACCEPTED, 8 + 4);

	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	lfx_submit();
	only_ami(balance("", 0), ACCEPTED + LFX_INSURER, ACCEPTED, 8 + 4 + 2);
	lfx_postings_zero(NULL);

	/* at the end of today: everything; of yesterday, or long before: nothing */
	only_ami(balance("", ymd(run->committed_ms, 0)), ACCEPTED + LFX_INSURER, ACCEPTED, 14);
	only_ami(balance("", ymd(fx.k1->committed_ms, -1)), 0, 0, 0);
	only_ami(balance("", 20200101), 0, 0, 0);
}

Test(ledger_query, balance_of_one_budget)
{
	Tpclear__LedgerAnswer *la;

	book();
	la = balance("AMI", 0);
	cr_assert_eq(la->n_balances, 1);
	cr_assert_str_eq(la->balances[0]->budget, "AMI");
	check_balance(la->balances[0], ACCEPTED, 0, 8);
	cr_assert_eq(la->total_cents, 0);
	check_balance(balance_of(balance("", 0), "AMI"), ACCEPTED, 0, 8);

	la = balance("SPPIS", 0);
	cr_assert_eq(la->n_balances, 1);
	cr_assert_str_eq(la->balances[0]->budget, "SPPIS");
	check_balance(la->balances[0], 0, 0, 0);
	la = balance("AMI", ymd(fx.k1->committed_ms, -1));
	cr_assert_eq(la->n_balances, 1);
	check_balance(la->balances[0], 0, 0, 0);
}

Test(ledger_query, bad_balance_requests_are_refused_with_t00022)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	tpc_job_t *j;
	int rc;

	book();
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	rq.budget = "NOPE";
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);
	rq.budget = "ami"; /* names are case-sensitive */
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);
	rq.budget = "";
	rq.at = 20261341; /* not a date */
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);
	rq.at = -1;
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);

	/* not a LedgerRequest at all, and an operation that does not exist */
	j = lfx_job(TPC_JOB_LEDGER, "ledger");
	lfx_set_payload(j, "\xff\xff\xff", 3);
	cr_assert_neq(tpc_ledger_query(lfx.reader, j), 0);
	cr_assert_eq(j->status, TPC_JOB_FAILED);
	cr_assert_str_eq(j->fail_code, TPC_CODE_BAD_LEDGER_REQ);
	rq.at = 0;
	rq.op = (Tpclear__LedgerRequest__Op)9;
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);

	/* the reader is still usable after refusals */
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	j = ask_as(LFX_SENDER, &rq, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_eq(j->status, TPC_JOB_FOUND);
}

/* ---- SHOW ---------------------------------------------------------------------------------- */

static void check_line(const Tpclear__LineHistory *l, uint32_t index, uint32_t invoice,
                       int32_t units, int64_t invoiced_insurer, int64_t invoiced_patient)
{
	int accepted = invoiced_insurer == (int64_t)units * LFX_INSURER;

	cr_assert_eq(l->index, index, "index %u, want %u", l->index, index);
	cr_assert_eq(l->invoice, invoice, "line %u: invoice %u", index, l->invoice);
	cr_assert_str_eq(l->code, LFX_CODE);
	cr_assert_eq(l->date, days(LFX_DATE));
	cr_assert_eq(l->units, units);
	cr_assert_str_eq(l->mutuality, "100");
	cr_assert_eq(l->invoiced_insurer_cents, invoiced_insurer);
	cr_assert_eq(l->invoiced_patient_cents, invoiced_patient);
	cr_assert_eq(l->expected_insurer_cents, (int64_t)units * LFX_INSURER);
	cr_assert_eq(l->expected_patient_cents, (int64_t)units * LFX_SHARE);
	if (accepted) {
		cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "line %u", index);
		cr_assert_str_eq(l->budget, "AMI");
		cr_assert_eq(l->accepted_cents, invoiced_insurer);
		cr_assert_eq(l->n_findings, 0);
	} else {
		cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED, "line %u", index);
		cr_assert_str_eq(l->budget, "", "a refused line charges no budget");
		cr_assert_eq(l->accepted_cents, 0);
		cr_assert_geq(l->n_findings, 1);
		cr_assert_str_eq(l->findings[0], "501940", "finding %s", l->findings[0]);
	}
}

static void check_unpaid(const Tpclear__LineHistory *l)
{
	cr_assert_eq(l->paid_cents, 0, "line %u paid %lld", l->index, (long long)l->paid_cents);
	cr_assert_eq(l->paid_at, 0);
	cr_assert_str_eq(l->payment_reference, "");
}

Test(ledger_query, show_a_sending_gives_every_line_verdict_and_payment)
{
	Tpclear__LedgerAnswer *la;
	Tpclear__SendingHistory *h;
	Tpclear__PayrunResult *pr;
	tpc_job_t *run;

	book();
	la = show("K-1");
	cr_assert_str_eq(la->target_kind, "sending");
	cr_assert_eq(la->n_sendings, 1);
	h = la->sendings[0];
	cr_assert_str_eq(h->sender, LFX_SENDER);
	cr_assert_str_eq(h->key, "K-1");
	cr_assert_str_eq(h->format, "canonical");
	cr_assert_eq(h->sequence, fx.k1->sequence);
	cr_assert_eq(h->received_at, fx.k1->received_ms);
	cr_assert_eq(h->validated_at, fx.k1->validated_ms);
	cr_assert_eq(h->committed_at, fx.k1->committed_ms);
	cr_assert_gt(h->received_at, 0);
	cr_assert_leq(h->received_at, h->validated_at);
	cr_assert_leq(h->validated_at, h->committed_at);
	cr_assert_eq(h->n_lines, 4);
	check_line(h->lines[0], 0, 0, 1, LFX_INSURER, LFX_SHARE);
	check_line(h->lines[1], 1, 0, 1, 2000, 1000);
	check_line(h->lines[2], 2, 0, 2, 2 * LFX_INSURER, 2 * LFX_SHARE);
	check_line(h->lines[3], 3, 1, 1, LFX_INSURER, LFX_SHARE);
	for (size_t i = 0; i < h->n_lines; i++)
		check_unpaid(h->lines[i]);
	cr_assert_eq(h->n_settlements, 0);

	run = lfx_payrun(INT32_MAX, 0);
	pr = lfx_payrun_result(run);
	cr_assert_eq(pr->payments, 2);
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	lfx_submit();

	h = show("K-1")->sendings[0];
	cr_assert_eq(h->n_lines, 4);
	/* payments are numbered in IBAN order: the hospital's BE10... is 1, the GP's BE68... 2 */
	for (size_t i = 0; i < h->n_lines; i++) {
		const Tpclear__LineHistory *l = h->lines[i];

		if (l->outcome != TPCLEAR__OUTCOME__OUTCOME_ACCEPTED) {
			check_unpaid(l);
			continue;
		}
		cr_assert_eq(l->paid_cents, l->accepted_cents, "line %zu", i);
		cr_assert_eq(l->paid_at, run->committed_ms, "line %zu", i);
		cr_assert_str_eq(l->payment_reference,
		                 l->invoice == 0 ? "TPC00000001-000001" : "TPC00000001-000002",
		                 "line %zu: %s", i, l->payment_reference);
	}
	cr_assert_eq(h->n_settlements, 2, "one per payment that paid K-1");
	cr_assert_str_eq(h->settlements[0]->payee, LFX_HOSPITAL);
	cr_assert_eq(h->settlements[0]->paid_cents, 3 * LFX_INSURER);
	cr_assert_str_eq(h->settlements[1]->payee, LFX_GP);
	cr_assert_eq(h->settlements[1]->paid_cents, LFX_INSURER);

	/* committed after the run: not paid */
	h = show("K-3")->sendings[0];
	cr_assert_eq(h->n_lines, 1);
	check_line(h->lines[0], 0, 0, 1, LFX_INSURER, LFX_SHARE);
	check_unpaid(h->lines[0]);
	cr_assert_eq(h->n_settlements, 0);
}

Test(ledger_query, show_of_another_senders_key_is_not_found)
{
	book();
	show_refused_as("hospital-b", "K-1", TPC_CODE_UNKNOWN_TARGET);
	show_refused_as(LFX_SENDER, "K-9", TPC_CODE_UNKNOWN_TARGET);
	show_refused_as(LFX_SENDER, "", TPC_CODE_UNKNOWN_TARGET);
	/* the owner still sees it */
	cr_assert_str_eq(show("K-1")->target_kind, "sending");
}

Test(ledger_query, show_an_invoice_gives_its_lines_only)
{
	Tpclear__LedgerAnswer *la;
	Tpclear__SendingHistory *h;

	book();
	la = show(LFX_HOSPITAL "/H-1");
	cr_assert_str_eq(la->target_kind, "invoice");
	cr_assert_eq(la->n_sendings, 1);
	h = la->sendings[0];
	cr_assert_str_eq(h->key, "K-1");
	cr_assert_eq(h->sequence, fx.k1->sequence);
	cr_assert_eq(h->n_lines, 3, "H-1 has 3 lines, got %zu", h->n_lines);
	check_line(h->lines[0], 0, 0, 1, LFX_INSURER, LFX_SHARE);
	check_line(h->lines[1], 1, 0, 1, 2000, 1000);
	check_line(h->lines[2], 2, 0, 2, 2 * LFX_INSURER, 2 * LFX_SHARE);

	h = show(LFX_GP "/G-1")->sendings[0];
	cr_assert_eq(h->sequence, fx.k1->sequence);
	cr_assert_eq(h->n_lines, 1);
	check_line(h->lines[0], 3, 1, 1, LFX_INSURER, LFX_SHARE);

	h = show(LFX_HOSPITAL "/H-2")->sendings[0];
	cr_assert_str_eq(h->key, "K-2");
	cr_assert_eq(h->n_lines, 1);

	/* invoices are an operator view: another sender sees them too */
	cr_assert_eq(show_as("hospital-b", LFX_HOSPITAL "/H-1")->sendings[0]->n_lines, 3);
	show_refused_as(LFX_SENDER, LFX_HOSPITAL "/H-9", TPC_CODE_UNKNOWN_TARGET);
	show_refused_as(LFX_SENDER, LFX_GP "/H-1", TPC_CODE_UNKNOWN_TARGET);
	show_refused_as(LFX_SENDER, LFX_HOSPITAL "/", TPC_CODE_UNKNOWN_TARGET);
}

Test(ledger_query, show_a_credit_note_gives_its_negative_lines)
{
	Tpclear__SendingHistory *h;

	book();
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "CN-1", TPC_INVOICING_CREDIT_NOTE, "H-1");
	lfx_good_line("R3", -2);
	lfx_submit();
	h = show(LFX_HOSPITAL "/CN-1")->sendings[0];
	cr_assert_str_eq(h->key, "K-3");
	cr_assert_eq(h->n_lines, 1);
	check_line(h->lines[0], 0, 0, -2, -2 * LFX_INSURER, -2 * LFX_SHARE);
	only_ami(balance("", 0), ACCEPTED - 2 * LFX_INSURER, 0, 10);
}

Test(ledger_query, show_a_payee_gives_its_postings_and_balance)
{
	Tpclear__LedgerAnswer *la;

	book();
	la = show(LFX_HOSPITAL);
	cr_assert_str_eq(la->target_kind, "payee");
	cr_assert_eq(la->n_postings, 3, "R1, R3 and R5 credited: %zu postings", la->n_postings);
	for (size_t i = 0; i < la->n_postings; i++) {
		cr_assert_str_eq(la->postings[i]->account, LFX_HOSPITAL);
		cr_assert_str_eq(la->postings[i]->kind, "payable");
		cr_assert_str_eq(la->postings[i]->budget, "AMI");
		cr_assert_gt(la->postings[i]->sequence, 0);
		if (i)
			cr_assert_gt(la->postings[i]->number, la->postings[i - 1]->number);
	}
	cr_assert_eq(la->postings[0]->sequence, fx.k1->sequence);
	cr_assert_eq(la->postings[0]->line, 0);
	cr_assert_eq(la->postings[1]->line, 2);
	cr_assert_eq(la->postings[1]->amount_cents, 2 * LFX_INSURER);
	cr_assert_eq(la->postings[2]->sequence, fx.k2->sequence);
	cr_assert_eq(la->total_cents, 4 * LFX_INSURER, "owed to the hospital");
	la = show(LFX_GP);
	cr_assert_eq(la->n_postings, 1);
	cr_assert_eq(la->total_cents, LFX_INSURER);

	lfx_payrun(INT32_MAX, 0);
	la = show(LFX_HOSPITAL);
	cr_assert_eq(la->n_postings, 4, "and one settle posting");
	cr_assert_str_eq(la->postings[3]->kind, "settle");
	cr_assert_eq(la->postings[3]->run, 1);
	cr_assert_eq(la->postings[3]->line, 1, "payment 1");
	cr_assert_eq(la->postings[3]->amount_cents, -4 * LFX_INSURER);
	cr_assert_eq(la->total_cents, 0, "paid in full");

	/* a provider with no postings, and a number that is nobody */
	show_refused_as(LFX_SENDER, LFX_PHARMACY, TPC_CODE_UNKNOWN_TARGET);
	show_refused_as(LFX_SENDER, "12345678901", TPC_CODE_UNKNOWN_TARGET);
}

/* ---- EXPORT -------------------------------------------------------------------------------- */

/* Page through every posting @p limit at a time; @return how many, each seen once. */
static size_t export_all(uint32_t limit, uint64_t *numbers, size_t cap, int64_t *sum)
{
	uint64_t after = 0;
	size_t n = 0, pages = 0;

	*sum = 0;
	do {
		Tpclear__LedgerAnswer *la = export_page(after, limit, 0, 0);

		cr_assert_leq(la->n_postings, limit);
		cr_assert(la->n_postings > 0 || pages == 0, "an empty page after a full one");
		for (size_t i = 0; i < la->n_postings; i++) {
			cr_assert_lt(n, cap);
			cr_assert_gt(la->postings[i]->number, after, "posting %llu again",
			             (unsigned long long)la->postings[i]->number);
			if (n)
				cr_assert_gt(la->postings[i]->number, numbers[n - 1]);
			numbers[n++] = la->postings[i]->number;
			*sum += la->postings[i]->amount_cents;
		}
		if (la->next_after) {
			cr_assert_eq(la->n_postings, limit, "a short page that is not the last");
			cr_assert_eq(la->next_after, la->postings[la->n_postings - 1]->number);
		}
		after = la->next_after;
		pages++;
		cr_assert_lt(pages, 100, "next_after does not end");
	} while (after);
	return n;
}

Test(ledger_query, export_pages_through_every_posting_exactly_once)
{
	uint64_t numbers[64], total;
	int64_t sum;
	size_t n;

	book();
	lfx_payrun(INT32_MAX, 0);
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	lfx_submit();
	total = lfx_postings_zero(NULL);
	cr_assert_eq(total, 14);

	for (uint32_t limit = 1; limit <= 15; limit++) {
		n = export_all(limit, numbers, 64, &sum);
		cr_assert_eq(n, total, "limit %u: %zu postings of %llu", limit, n,
		             (unsigned long long)total);
		cr_assert_eq(sum, 0, "limit %u", limit);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(numbers[i], i + 1, "posting numbers are dense from 1");
	}
}

Test(ledger_query, export_postings_carry_what_was_posted)
{
	Tpclear__LedgerAnswer *la;

	book();
	lfx_payrun(INT32_MAX, 0);
	la = export_page(0, 3, 0, 0);
	cr_assert_eq(la->n_postings, 3);
	cr_assert_eq(la->next_after, 3);
	/* R1 of K-1: the budget charged, the hospital credited */
	cr_assert_eq(la->postings[0]->number, 1);
	cr_assert_str_eq(la->postings[0]->kind, "charge");
	cr_assert_str_eq(la->postings[0]->account, "AMI");
	cr_assert_eq(la->postings[0]->amount_cents, -LFX_INSURER);
	cr_assert_eq(la->postings[0]->sequence, fx.k1->sequence);
	cr_assert_eq(la->postings[0]->line, 0);
	cr_assert_eq(la->postings[0]->run, 0);
	cr_assert_eq(la->postings[0]->at, fx.k1->committed_ms);
	cr_assert_str_eq(la->postings[1]->kind, "payable");
	cr_assert_str_eq(la->postings[1]->account, LFX_HOSPITAL);
	cr_assert_eq(la->postings[1]->amount_cents, LFX_INSURER);
	/* R3 (line 2, R2 refused posts nothing) */
	cr_assert_str_eq(la->postings[2]->kind, "charge");
	cr_assert_eq(la->postings[2]->line, 2);
	cr_assert_eq(la->postings[2]->amount_cents, -2 * LFX_INSURER);
	cr_assert_eq(la->total_cents, -2 * LFX_INSURER, "the page's own sum");

	/* the payment run's postings: settle and payout, run 1, sequence 0 */
	la = export_page(8, 0, 0, 0);
	cr_assert_eq(la->n_postings, 4);
	cr_assert_eq(la->next_after, 0);
	cr_assert_str_eq(la->postings[0]->kind, "settle");
	cr_assert_eq(la->postings[0]->run, 1);
	cr_assert_eq(la->postings[0]->sequence, 0);
	cr_assert_str_eq(la->postings[1]->kind, "payout");
	cr_assert_str_eq(la->postings[1]->account, lfx.cfg.payer[TPC_BUDGET_AMI].iban);
	cr_assert_eq(la->total_cents, 0);
	/* past the end */
	la = export_page(14, 3, 0, 0);
	cr_assert_eq(la->n_postings, 0);
	cr_assert_eq(la->next_after, 0);
}

Test(ledger_query, export_filters_by_day)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__LedgerAnswer *la;
	int32_t today;

	book();
	today = ymd(fx.k1->committed_ms, 0);
	cr_assert_eq(ymd(fx.k2->committed_ms, 0), today, "the test ran across midnight");
	la = export_page(0, 0, today, today);
	cr_assert_eq(la->n_postings, 8);
	la = export_page(0, 0, today, 0);
	cr_assert_eq(la->n_postings, 8);
	la = export_page(0, 0, 0, today);
	cr_assert_eq(la->n_postings, 8);
	la = export_page(0, 0, ymd(fx.k1->committed_ms, -30), ymd(fx.k1->committed_ms, 30));
	cr_assert_eq(la->n_postings, 8);
	la = export_page(0, 0, ymd(fx.k1->committed_ms, 1), 0);
	cr_assert_eq(la->n_postings, 0, "from tomorrow");
	cr_assert_eq(la->next_after, 0);
	la = export_page(0, 0, 0, ymd(fx.k1->committed_ms, -1));
	cr_assert_eq(la->n_postings, 0, "up to yesterday");
	cr_assert_eq(la->next_after, 0);
	/* filters and paging together */
	la = export_page(0, 3, today, today);
	cr_assert_eq(la->n_postings, 3);
	cr_assert_eq(la->next_after, 3);
	la = export_page(la->next_after, 3, today, today);
	cr_assert_eq(la->postings[0]->number, 4);

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__EXPORT;
	rq.from = 20261232;
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);
	rq.from = 0;
	rq.to = 19690101;
	refused(&rq, TPC_CODE_BAD_LEDGER_REQ);
}

/* ---- a schema 5 ledger under schema 6 ------------------------------------------------------ */

static void no_problem(void *arg, const char *db, const char *key, const char *what)
{
	(void)arg;
	cr_assert_fail("verify: %s %s: %s", db, key, what);
}

/* The lines blocks and "unpaid" bits of open transaction @p txn as schema 5 wrote them: one
 * 104-byte line record per (sequence, line) and one payable per unpaid line part. Collected
 * first, written after (the rewrite would move keys under the cursor). */
static void old_lines(MDB_txn *txn)
{
	MDB_dbi lines, unpaid, payables;
	tpc_line_rec_t rec[64];
	uint64_t seq[64], committed[64];
	uint32_t idx[64];
	tpc_line_payee_t who[64];
	uint8_t bits[64][8];
	size_t n = 0, nblocks = 0, nu = 0;
	uint64_t blocks[16], useq[16];
	tpc_lines_t l;
	MDB_cursor *cur;
	MDB_val k, v;

	cr_assert_eq(mdb_dbi_open(txn, "lines", 0, &lines), 0);
	cr_assert_eq(mdb_dbi_open(txn, "unpaid", 0, &unpaid), 0);
	cr_assert_eq(mdb_dbi_open(txn, "payables", 0, &payables), 0);
	tpc_lines_init(&l, txn, lines);
	cr_assert_eq(mdb_cursor_open(txn, lines, &cur), 0);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_lines_hdr_t h;

		cr_assert_eq(k.mv_size, 8, "a ledger made at 6 holds blocks only");
		blocks[nblocks] = tpc_get_be64(k.mv_data);
		cr_assert_eq(tpc_lines_block(&l, blocks[nblocks], &h), 1);
		for (uint32_t i = 0; i < h.nlines; i++, n++) {
			cr_assert_lt(n, 64);
			cr_assert_eq(tpc_lines_get(&l, blocks[nblocks], i, &rec[n], &who[n]), 0);
			tpc_records_line_seal(&rec[n]);
			seq[n] = blocks[nblocks];
			idx[n] = i;
			committed[n] = h.committed_ms;
		}
		nblocks++;
	}
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_cursor_open(txn, unpaid, &cur), 0);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT), nu++) {
		tpc_unpaid_hdr_t h;
		const uint8_t *b;

		cr_assert_eq(tpc_records_unpaid_read(&v, &h, &b), 0);
		cr_assert_leq(v.mv_size - sizeof(h), sizeof(bits[0]));
		useq[nu] = tpc_get_be64(k.mv_data);
		memset(bits[nu], 0, sizeof(bits[nu]));
		memcpy(bits[nu], b, v.mv_size - sizeof(h));
	}
	mdb_cursor_close(cur);
	for (size_t b = 0; b < nblocks; b++)
		cr_assert_eq(mdb_del(txn, lines,
		                     &(MDB_val){8, tpc_key_u64((uint8_t[8]){0}, blocks[b]).mv_data},
		                     NULL),
		             0);
	cr_assert_eq(mdb_drop(txn, unpaid, 0), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t key[TPC_PAYABLE_KEY];
		MDB_val lk = tpc_key_u64_u32(key, seq[i], idx[i]);
		int64_t share = rec[i].share_budget ? rec[i].patient_cents : 0;

		cr_assert_eq(mdb_put(txn, lines, &lk, &(MDB_val){sizeof(rec[i]), &rec[i]}, 0), 0);
		for (size_t u = 0; u < nu; u++)
			for (uint8_t part = 0; part < 2 && useq[u] == seq[i]; part++) {
				uint32_t bit = 2 * idx[i] + part;
				tpc_payable_t p;

				if (!(bits[u][bit / 8] & (1u << (bit % 8))))
					continue;
				memset(&p, 0, sizeof(p));
				p.committed_ms = committed[i];
				p.amount_cents = part ? share : rec[i].accepted_cents - share;
				p.budget = part ? rec[i].share_budget : rec[i].budget;
				p.payee_kind = who[i].payee_kind;
				p.account = rec[i].account;
				memcpy(p.mutuality, rec[i].mutuality, 3);
				memcpy(p.payee, who[i].payee, 11);
				p.invoice = rec[i].invoice;
				tpc_records_payable_seal(&p);
				cr_assert_eq(
				    mdb_put(txn, payables,
				            &(MDB_val){
				                TPC_PAYABLE_KEY,
				                tpc_key_payable(key, seq[i], idx[i], part).mv_data},
				            &(MDB_val){sizeof(p), &p}, 0),
				    0);
			}
	}
}

/* Close the fixture's ledger and open its environment raw, for a rewrite: a write transaction in
 * *@p txn (the caller commits, then closes *@p env). */
static void raw_open(MDB_env **env, MDB_txn **txn)
{
	lfx_close();
	cr_assert_eq(mdb_env_create(env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(*env, 64), 0);
	cr_assert_eq(mdb_env_open(*env, lfx.cfg.data_dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

/* Every posting of the ledger open in @p txn, stored or derived from the lines blocks, into
 * @p all and @p num (at most @p cap); "postings" is then emptied for the caller's rewrite.
 * @return how many. */
static int take_postings(MDB_txn *txn, tpc_posting_rec_t *all, uint64_t *num, int cap)
{
	tpc_store_db_t sdb;
	tpc_postings_t it;
	int count = 0, g = 0;

	memset(&sdb, 0, sizeof(sdb));
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &sdb.meta), 0);
	cr_assert_eq(mdb_dbi_open(txn, "postings", 0, &sdb.postings), 0);
	cr_assert_eq(mdb_dbi_open(txn, "lines", 0, &sdb.lines), 0);
	cr_assert_eq(tpc_postings_open(&it, txn, &sdb, 0), 0);
	while (count < cap && (g = tpc_postings_next(&it, &all[count], &num[count])) == 1)
		count++;
	tpc_postings_close(&it);
	cr_assert_eq(g, 0, "every posting read (at most %d)", cap);
	cr_assert_eq(mdb_drop(txn, sdb.postings, 0), 0);
	return count;
}

/* Rewrite the closed ledger as schema 5 wrote it: line records and payables (old_lines()),
 * each line part's posting pair as two postings
 * of 96 bytes (the charge under the pair's number, the payable under the next), each TPS2
 * settlement as TPS1 (32-byte header, parts as they are, no sum), meta schema 5 without
 * "schema6_from". @return the settlements rewritten. */
static int as_schema_5(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi post, sett, meta;
	MDB_cursor *cur;
	MDB_val k, v;
	uint32_t five = 5;
	int nsett = 0;
	tpc_arena_t *arena;

	cr_assert_eq(tpc_arena_new(1 << 16, 1 << 22, &arena), 0);
	raw_open(&env, &txn);
	cr_assert_eq(mdb_dbi_open(txn, "postings", 0, &post), 0);
	cr_assert_eq(mdb_dbi_open(txn, "settlements", 0, &sett), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	/* postings: collected first (the rewrite adds keys under the cursor), stored or derived
	 * from the lines blocks (schema 7) alike */
	{
		tpc_posting_rec_t all[128];
		uint64_t num[128];
		int count = take_postings(txn, all, num, 128);

		for (int i = 0; i < count; i++) {
			uint8_t key[8];
			MDB_val kk = tpc_key_u64(key, num[i]);
			MDB_val vv = {sizeof(all[i]), &all[i]};

			tpc_records_posting_seal(&all[i]);
			cr_assert_eq(mdb_put(txn, post, &kk, &vv, 0), 0);
		}
		/* no running balances before schema 7 */
		cr_assert_eq(mdb_del(txn, meta,
		                     &(MDB_val){sizeof(TPC_BALANCES_KEY) - 1, TPC_BALANCES_KEY},
		                     NULL),
		             0);
	}
	cr_assert_eq(mdb_cursor_open(txn, sett, &cur), 0);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_settlement_view_t sv;
		tpc_settlement_hdr_t h;
		uint8_t old[4096], key[20];
		MDB_val nv = {0, old}, kk = {sizeof(key), key};

		cr_assert_eq(tpc_records_settlement_decode(v.mv_data, v.mv_size, arena, &sv), 0);
		memset(&h, 0, sizeof(h));
		h.magic = TPC_SETTLEMENT_MAGIC_V5;
		h.proto_len = (uint32_t)sv.proto_len;
		h.native_len = (uint32_t)sv.native.len;
		memcpy(h.native_type, sv.native.type, sizeof(h.native_type));
		nv.mv_size = TPC_SETTLEMENT_HDR_V5 + sv.proto_len + sv.native.len;
		cr_assert_leq(nv.mv_size, sizeof(old));
		memcpy(old, &h, TPC_SETTLEMENT_HDR_V5);
		memcpy(old + TPC_SETTLEMENT_HDR_V5, sv.proto, sv.proto_len);
		if (sv.native.len)
			memcpy(old + TPC_SETTLEMENT_HDR_V5 + sv.proto_len, sv.native.ptr,
			       sv.native.len);
		/* the key copied out of the page the put rewrites (the value changes size) */
		cr_assert_eq(k.mv_size, sizeof(key));
		memcpy(key, k.mv_data, sizeof(key));
		cr_assert_eq(mdb_cursor_put(cur, &kk, &nv, MDB_CURRENT), 0);
		nsett++;
	}
	mdb_cursor_close(cur);
	old_lines(txn);
	cr_assert_eq(mdb_put(txn, meta, &(MDB_val){6, "schema"}, &(MDB_val){4, &five}, 0), 0);
	cr_assert_eq(
	    mdb_del(txn, meta, &(MDB_val){sizeof(TPC_SCHEMA6_FROM) - 1, TPC_SCHEMA6_FROM}, NULL),
	    MDB_NOTFOUND, "a ledger made at 6 notes no raise");
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	tpc_arena_free(&arena);
	return nsett;
}

/* Schema 6 (issue 15): a schema 5 ledger opens, its two-record postings and TPS1 settlements
 * are read beside the new pairs and TPS2 settlements: balances, exports (numbers unbroken),
 * histories, payment runs and verify give what they gave. */
Test(ledger_query, a_schema_5_ledger_reads_its_old_records_beside_new_ones)
{
	Tpclear__SendingHistory *h;
	tpc_verify_report_t r;
	const tpc_store_db_t *db;
	MDB_txn *txn;
	uint64_t after = 0, n = 0;
	int64_t sum = 0;

	book();
	lfx_payrun_result(lfx_payrun(INT32_MAX, 0));
	/* K-4: left unpaid at the raise, an old payable for the next run */
	lfx_begin("K-4");
	lfx_invoice(LFX_HOSPITAL, "H-4", 0, NULL);
	lfx_good_line("R7", 1);
	lfx_submit();
	cr_assert_eq(as_schema_5(), 3, "K-1 paid to two payees, K-2 to one");
	lfx_open(); /* raised to 6 */
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	lfx_submit();
	cr_assert_eq(lfx_postings_zero(NULL), 8 + 4 + 2 + 2);
	only_ami(balance("", 0), ACCEPTED + 2 * LFX_INSURER, ACCEPTED, 16);
	/* the export: 1 to 16 in order, old and new, summing to zero */
	do {
		Tpclear__LedgerAnswer *la = export_page(after, 3, 0, 0);

		for (size_t i = 0; i < la->n_postings; i++) {
			cr_assert_eq(la->postings[i]->number, ++n);
			sum += la->postings[i]->amount_cents;
		}
		after = la->next_after;
	} while (after);
	cr_assert_eq(n, 16);
	cr_assert_eq(sum, 0);
	/* the old line records and settlements read as they are */
	h = show("K-1")->sendings[0];
	cr_assert_eq(h->n_lines, 4);
	cr_assert_eq(h->n_settlements, 2);
	cr_assert_eq(h->settlements[0]->paid_cents, 3 * LFX_INSURER);
	cr_assert_eq(h->settlements[1]->paid_cents, LFX_INSURER);
	/* a run after the raise pays the old payable (K-4) and the new line (K-3): one transfer */
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents, 2 * LFX_INSURER);
	cr_assert_eq(lfx_postings_zero(NULL), 18);
	only_ami(balance("", 0), ACCEPTED + 2 * LFX_INSURER, ACCEPTED + 2 * LFX_INSURER, 18);
	cr_assert_eq(show("K-3")->sendings[0]->n_settlements, 1);
	cr_assert_eq(show("K-4")->sendings[0]->n_settlements, 1);
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents, 0, "paid once");
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(tpc_verify_run(txn, db, no_problem, NULL, NULL, &r), 0);
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(r.problems, 0);
	cr_assert_eq(r.damaged[TPC_REC_POSTINGS] + r.damaged[TPC_REC_SETTLEMENTS], 0);
	/* K-3's charge and payable are derived from its block (schema 7): no record */
	cr_assert_eq(r.checked[TPC_REC_POSTINGS], 14 + 2, "14 old, two payment");
	cr_assert_eq(r.checked[TPC_REC_LINES], 6 + 1, "6 old records, a block of 1");
	cr_assert_eq(r.unchecked[TPC_REC_SETTLEMENTS], 3, "TPS1: no sum");
	cr_assert_eq(r.checked[TPC_REC_SETTLEMENTS], 2);
}

/* ---- a schema 6 ledger under schema 7 (issue 15: postings derived from the lines blocks) --- */

/* The export and the balances as text: what a reader of the ledger is given. */
static void ledger_text(char *out, size_t cap)
{
	Tpclear__LedgerAnswer *la = export_page(0, 1000, 0, 0);
	size_t o = 0;

	for (size_t i = 0; i < la->n_postings && o < cap; i++) {
		const Tpclear__Posting *p = la->postings[i];

		o += (size_t)snprintf(out + o, cap - o, "%llu %s %s %s %lld %llu %u %llu %llu\n",
		                      (unsigned long long)p->number, p->kind, p->budget, p->account,
		                      (long long)p->amount_cents, (unsigned long long)p->sequence,
		                      p->line, (unsigned long long)p->run,
		                      (unsigned long long)p->at);
	}
	la = balance("", 0);
	for (size_t i = 0; i < la->n_balances && o < cap; i++) {
		const Tpclear__BudgetBalance *b = la->balances[i];

		o += (size_t)snprintf(out + o, cap - o, "%s %lld %lld %lld %lld %lld %lld %llu\n",
		                      b->budget, (long long)b->charged_cents,
		                      (long long)b->payable_cents, (long long)b->settled_cents,
		                      (long long)b->paid_out_cents, (long long)b->insured_cents,
		                      (long long)b->third_party_cents,
		                      (unsigned long long)b->postings);
	}
	cr_assert_lt(o, cap);
}

/* Rewrite the closed ledger as schema 6 wrote it: each line part's charge and payable (derived
 * from the lines blocks by this engine) as one 56-byte pair under the charge's number, the
 * payment postings as they are, no running balances, meta schema 6 without "schema7_from".
 * @return the pairs written. */
static int as_schema_6(void)
{
	MDB_env *env;
	MDB_txn *txn;
	tpc_posting_rec_t all[128];
	uint64_t num[128];
	uint32_t six = 6;
	int count, pairs = 0;
	MDB_dbi meta, post;

	raw_open(&env, &txn);
	count = take_postings(txn, all, num, 128);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	cr_assert_eq(mdb_dbi_open(txn, "postings", 0, &post), 0);
	for (int i = 0; i < count; i++) {
		const tpc_posting_rec_t *c = &all[i], *y = &all[i + 1];
		uint8_t key[8];
		MDB_val k = tpc_key_u64(key, num[i]), v = {sizeof(all[i]), &all[i]};
		tpc_posting_pair_t q;

		if (c->kind == TPC_POST_CHARGE && i + 1 < count && num[i + 1] == num[i] + 1 &&
		    y->kind == TPC_POST_PAYABLE && y->sequence == c->sequence &&
		    y->line == c->line && y->part == c->part) {
			memset(&q, 0, sizeof(q));
			q.sequence = c->sequence;
			q.line = c->line;
			q.budget = c->budget;
			q.payee_kind = y->payee_kind;
			q.part = c->part;
			q.amount_cents = y->amount_cents;
			q.at_ms = c->at_ms;
			memcpy(q.payee, y->account, sizeof(q.payee) - 1);
			tpc_records_posting_pair_seal(&q);
			v = (MDB_val){sizeof(q), &q};
			i++;
			pairs++;
		} else {
			cr_assert(c->kind == TPC_POST_SETTLE || c->kind == TPC_POST_PAYOUT);
		}
		cr_assert_eq(mdb_put(txn, post, &k, &v, MDB_APPEND), 0);
	}
	cr_assert_eq(mdb_put(txn, meta, &(MDB_val){6, "schema"}, &(MDB_val){4, &six}, 0), 0);
	cr_assert_eq(
	    mdb_del(txn, meta, &(MDB_val){sizeof(TPC_BALANCES_KEY) - 1, TPC_BALANCES_KEY}, NULL),
	    0);
	cr_assert_eq(
	    mdb_del(txn, meta, &(MDB_val){sizeof(TPC_SCHEMA7_FROM) - 1, TPC_SCHEMA7_FROM}, NULL),
	    MDB_NOTFOUND, "a ledger made at 7 notes no raise");
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return pairs;
}

/* Schema 7 (issue 15): a schema 6 ledger opens and is raised; its pairs are read beside the
 * postings derived from the new sendings' blocks: the export and the balances give the same
 * text as before the rewrite, numbers go on unbroken, a payment run pays the payable left
 * from before and the new one, and verify finds the running balances the raise computed. */
Test(ledger_query, a_schema_6_ledger_reads_its_pairs_beside_derived_postings)
{
	static char before[8192], after[8192];
	tpc_verify_report_t r;
	const tpc_store_db_t *db;
	tpc_sums_from_t from;
	MDB_txn *txn;
	MDB_val v;
	uint64_t numbers[64];
	int64_t sum;

	book();
	lfx_payrun_result(lfx_payrun(INT32_MAX, 0));
	lfx_begin("K-4"); /* left unpaid at the raise: its payable is an old pair's */
	lfx_invoice(LFX_HOSPITAL, "H-4", 0, NULL);
	lfx_good_line("R7", 1);
	lfx_submit();
	ledger_text(before, sizeof(before));
	cr_assert_eq(as_schema_6(), 5, "K-1: 3 accepted line parts, K-2: 1, K-4: 1");
	lfx_open(); /* raised to 7 */
	ledger_text(after, sizeof(after));
	cr_assert_str_eq(after, before, "the same answers from the pairs");
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(
	    mdb_get(txn, db->meta, &(MDB_val){sizeof(TPC_SCHEMA7_FROM) - 1, TPC_SCHEMA7_FROM}, &v),
	    0);
	memcpy(&from, v.mv_data, sizeof(from));
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(from.sequence, 4, "K-1, K-2, K-4 before the raise");
	cr_assert_eq(from.posting, lfx_postings_zero(NULL) + 1);
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	lfx_submit();
	cr_assert_eq(export_all(4, numbers, 64, &sum), lfx_postings_zero(NULL));
	cr_assert_eq(sum, 0);
	for (size_t i = 0; i < lfx_postings_zero(NULL); i++)
		cr_assert_eq(numbers[i], i + 1, "numbers go on unbroken across the raise");
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents, 2 * LFX_INSURER);
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents, 0, "paid once");
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(tpc_verify_run(txn, db, no_problem, NULL, NULL, &r), 0);
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(r.problems, 0);
	cr_assert_eq(r.checked[TPC_REC_POSTINGS], 5 + 4 + 2, "5 pairs, 4 + 2 payment postings");
}

/* ---- a ledger with 40-byte dedup keys under the short ones -------------------------------- */

/* The number of keys of @p len bytes in "dedup", through the fixture's reader. */
static size_t dedup_keys(size_t len)
{
	const tpc_store_db_t *db;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	size_t n = 0;

	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(mdb_cursor_open(txn, db->dbs.dedup, &cur), 0);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n += k.mv_size == len;
	mdb_cursor_close(cur);
	tpc_store_read_end(lfx.reader);
	return n;
}

/* Rewrite the closed ledger's "dedup" index as the engine before the short keys wrote it: the
 * 40-byte identity (tariff.h) of every accepted line of @p jobs in @p form, and meta
 * "dedup_hash" to match ("xxh3-64"; none for BLAKE2b-64). */
static void as_long_keys(tpc_job_t *const *jobs, size_t njobs, unsigned form)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dedup, meta;
	MDB_val hk = {10, "dedup_hash"};

	raw_open(&env, &txn);
	cr_assert_eq(mdb_dbi_open(txn, "dedup", 0, &dedup), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	cr_assert_eq(mdb_drop(txn, dedup, 0), 0);
	for (size_t j = 0; j < njobs; j++) {
		const tpc_sending_t *s = &jobs[j]->sending;

		for (uint32_t i = 0; i < s->ninvoices; i++)
			for (uint32_t n = 0; n < s->invoices[i].nlines; n++) {
				const tpc_line_t *ln = &s->lines[s->invoices[i].first_line + n];
				uint8_t id[TPC_TARIFF_ID_LEN];
				MDB_val k = {0, id}, v = {8, &jobs[j]->sequence};

				if (ln->outcome != TPC_OUTCOME_ACCEPTED)
					continue;
				k.mv_size = tpc_tariff_line_identity(&s->invoices[i], ln, form, id);
				cr_assert_eq(k.mv_size, TPC_TARIFF_ID_LEN);
				cr_assert_eq(mdb_put(txn, dedup, &k, &v, MDB_NOOVERWRITE), 0);
			}
	}
	if (form == TPC_DEDUP_XXH3_40)
		cr_assert_eq(mdb_put(txn, meta, &hk, &(MDB_val){7, "xxh3-64"}, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, meta, &hk, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The line @p li of judged job @p j: accepted, or refused with @p code. */
static void verdict(const tpc_job_t *j, uint32_t li, const char *code)
{
	const tpc_line_t *ln = &j->sending.lines[li];

	if (!code) {
		cr_assert_eq(ln->outcome, TPC_OUTCOME_ACCEPTED, "line %u", li);
		return;
	}
	cr_assert_eq(ln->outcome, TPC_OUTCOME_REFUSED, "line %u", li);
	cr_assert_geq(ln->nfindings, 1);
	cr_assert_str_eq(ln->findings[0].code, code, "line %u", li);
}

/* Issue 15's short dedup keys: a ledger whose index holds 40-byte keys (made by an engine before
 * them, @p form) keeps making them after the upgrade, so a line it accepted before is still
 * found when sent again, a credit note still cancels one, and verify finds nothing wrong. */
static void long_keys_kept(unsigned form)
{
	tpc_job_t *k1, *k5, *r;
	tpc_verify_report_t rep;
	const tpc_store_db_t *db;
	MDB_txn *txn;

	book();
	cr_assert_eq(dedup_keys(TPC_TARIFF_ID_SHORT), 4, "made with the short keys");
	as_long_keys((tpc_job_t *[]){fx.k1, fx.k2}, 2, form);
	lfx_open();
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(db->dbs.dedup_form, form, "the ledger's form is kept");
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(dedup_keys(TPC_TARIFF_ID_LEN), 4);
	/* K-1 again, byte for byte: the stored answer */
	build_k1();
	k1 = lfx_process();
	cr_assert_eq(k1->status, TPC_JOB_REPLAY);
	cr_assert_eq(k1->sequence, fx.k1->sequence);
	cr_assert_eq(k1->result_len, fx.k1->result_len);
	cr_assert_eq(memcmp(k1->result, fx.k1->result, k1->result_len), 0);
	/* K-1's R1 and R3 in a new invoice: billed already; R8 is new */
	lfx_begin("K-5");
	lfx_invoice(LFX_HOSPITAL, "H-5", 0, NULL);
	lfx_good_line("R1", 1);
	lfx_good_line("R3", 2);
	lfx_good_line("R8", 1);
	k5 = lfx_submit();
	verdict(k5, 0, "500423");
	verdict(k5, 1, "500423");
	verdict(k5, 2, NULL);
	cr_assert_eq(dedup_keys(TPC_TARIFF_ID_LEN), 5, "R8 keyed as the ledger keys");
	cr_assert_eq(dedup_keys(TPC_TARIFF_ID_SHORT), 0);
	/* a credit note of H-2 cancels K-2's R5 under its old key: R5 may be billed again */
	lfx_begin("K-6");
	lfx_invoice(LFX_HOSPITAL, "C-2", 3, "H-2");
	lfx_good_line("R5", -1);
	verdict(lfx_submit(), 0, NULL);
	cr_assert_eq(dedup_keys(TPC_TARIFF_ID_LEN), 4);
	lfx_begin("K-7");
	lfx_invoice(LFX_HOSPITAL, "H-7", 0, NULL);
	lfx_good_line("R5", 1);
	r = lfx_submit();
	verdict(r, 0, NULL);
	cr_assert_eq(lfx_postings_zero(NULL), 8 + 2 + 2 + 2);
	only_ami(balance("", 0), ACCEPTED + LFX_INSURER, 0, 14); /* R8; R5 credited, billed again */
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(tpc_verify_run(txn, db, no_problem, NULL, NULL, &rep), 0);
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(rep.problems, 0);
}

Test(ledger_query, a_ledger_with_40_byte_xxh3_dedup_keys_keeps_them)
{
	long_keys_kept(TPC_DEDUP_XXH3_40);
}

Test(ledger_query, a_ledger_with_blake2b_dedup_keys_keeps_them)
{
	long_keys_kept(TPC_DEDUP_BLAKE2B_40);
}

/* ---- gaps in the numbering (the attestation journal's prerequisite) ----------------------- */

/* K-3 written by hand, as a fold would write it, under sequence @p seq and first posting
 * @p posting, with the writer opened and not started (the only writer of the moment). */
static void write_at(tpc_job_t *j, uint64_t seq, uint64_t posting)
{
	const tpc_store_db_t *db = tpc_store_db(tpc_writer_store(lfx.ledger));
	tpc_ledger_counters_t ctr = {seq, posting};
	tpc_txn_t t;

	cr_assert_eq(tpc_txn_begin(db->env, 0, &t), 0);
	cr_assert_eq(tpc_ledger_write_job(&t, db, &ctr, NULL, j, fx.k2->committed_ms), 0);
	cr_assert_eq(j->status, TPC_JOB_COMMITTED);
	cr_assert_eq(tpc_txn_commit(&t), 0);
}

/* The attestation journal designed in docs/benchmarks.md ("Issue 15, sixth session") gives
 * sequences and posting numbers out that an aborted or refused group never uses: the ledger must
 * read a gap in either as it reads none. The writer resumes after the last, the export lists
 * every posting once in order, a payment run pays every line once, verify finds nothing. */
Test(ledger_query, gaps_in_the_sequences_and_posting_numbers_are_read_as_none)
{
	Tpclear__LedgerAnswer *la;
	tpc_verify_report_t rep;
	const tpc_store_db_t *db;
	uint64_t after = 0, prev = 0, n = 0;
	int64_t sum = 0;
	tpc_job_t *k3, *k4;
	MDB_txn *txn;

	book(); /* sequences 1 and 2, postings 1 to 8 */
	cr_assert_eq(fx.k2->sequence, 2);
	lfx_close();
	lfx_open_stopped();
	lfx_begin("K-3");
	lfx_invoice(LFX_HOSPITAL, "H-3", 0, NULL);
	lfx_good_line("R6", 1);
	k3 = lfx_judge();
	write_at(k3, 7, 15); /* sequences 3-6 and postings 9-14 never used */
	lfx_close();
	lfx_open();
	lfx_begin("K-4");
	lfx_invoice(LFX_HOSPITAL, "H-4", 0, NULL);
	lfx_good_line("R7", 1);
	k4 = lfx_submit();
	cr_assert_eq(k4->sequence, 8, "resumed after the last stored sequence");
	cr_assert_eq(lfx_postings_zero(NULL), 8 + 2 + 2);
	do {
		la = export_page(after, 3, 0, 0);
		for (size_t i = 0; i < la->n_postings; i++, n++) {
			cr_assert_gt(la->postings[i]->number, prev, "in order, each once");
			prev = la->postings[i]->number;
			sum += la->postings[i]->amount_cents;
		}
		after = la->next_after;
	} while (after);
	cr_assert_eq(n, 12);
	cr_assert_eq(prev, 18, "K-4's after K-3's 15 and 16");
	cr_assert_eq(sum, 0);
	cr_assert_eq(show("K-3")->sendings[0]->sequence, 7);
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents,
	             ACCEPTED + 2 * LFX_INSURER);
	cr_assert_eq(lfx_payrun_result(lfx_payrun(INT32_MAX, 0))->total_cents, 0, "paid once");
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	cr_assert_eq(tpc_verify_run(txn, db, no_problem, NULL, NULL, &rep), 0);
	tpc_store_read_end(lfx.reader);
	cr_assert_eq(rep.problems, 0);
}
