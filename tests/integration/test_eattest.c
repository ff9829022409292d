/* tests/integration/test_eattest.c - electronic attestations through the real daemon:
 * reimbursed to the insured (AMI by status, OSSOM abroad at 75 % of the real cost), refused for
 * publics cleared in third-party payment, idempotent by attestation number, cancelled by a
 * reversal, paid by a payment run to the insured's IBAN, and answered while a large sending is
 * being cleared (the express lane). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(eattest, .fini = teardown, .timeout = 120);

#define GP       "17385467004"
#define MEMBER   "86103130262" /* ordinary member, IBAN BE68539007547034 */
#define OSSOM_BC "60050500573" /* OSSOM, IBAN BE40063000070763 in the feed */
#define DETAINEE "80010100107"

static Tpclear__Attestation att(const char *number, const char *patient, const char *code,
                                int32_t date, int64_t fee)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;

	a.number = (char *)number;
	a.provider = GP;
	a.patient = (char *)patient;
	a.code = (char *)code;
	a.date = date;
	a.units = 1;
	a.fee_paid_cents = fee;
	a.reference = "soft-1";
	return a;
}

static Tpclear__Answer *send_att(void *s, const Tpclear__Attestation *a)
{
	uint8_t buf[512];
	size_t n = tpclear__attestation__pack(a, buf);
	Tpclear__Answer *r = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, "gp",
	                                    a->number, "", buf, n, NULL, NULL);

	cr_assert_not_null(r);
	cr_assert_eq(r->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s",
	             r->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? r->receipt->reason : "");
	return r;
}

/* An attestation of care abroad (@p country, real cost @p cost) sent by the GP on 2026-11-10:
 * the answer, a result. */
static Tpclear__Answer *send_abroad(void *s, const char *number, const char *patient,
                                    const char *code, const char *country, int64_t cost)
{
	Tpclear__Attestation a = att(number, patient, code, 20261110, 0);

	a.country = (char *)country;
	a.real_cost_cents = cost;
	return send_att(s, &a);
}

static const Tpclear__LineResult *the_line(const Tpclear__Answer *a)
{
	cr_assert_eq(a->result->n_invoice_results, 1);
	cr_assert_eq(a->result->invoice_results[0]->n_lines, 1);
	return a->result->invoice_results[0]->lines[0];
}

static void refused_with(const Tpclear__Answer *a, const char *code)
{
	const Tpclear__LineResult *l = the_line(a);

	cr_assert_eq(l->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_str_eq(l->findings[0]->code, code);
}

Test(eattest, reimbursed_to_the_insured_and_paid_to_their_account)
{
	uint64_t paid, unpaid;
	Tpclear__Attestation a;
	Tpclear__Answer *r;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	/* AMI by status: the ordinary insurer part */
	a = att("EA-1", MEMBER, "101032", 20261118, 3000);
	r = send_att(s, &a);
	cr_assert_eq(the_line(r)->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(the_line(r)->scheme, "AMI");
	cr_assert_eq(r->result->accepted_cents, 2400);
	cr_assert_eq(r->result->replay, 0);
	tpclear__answer__free_unpacked(r, NULL);
	/* the same attestation number again: the stored answer, nothing twice */
	r = send_att(s, &a);
	cr_assert_eq(r->result->replay, 1);
	cr_assert_eq(r->result->accepted_cents, 2400);
	tpclear__answer__free_unpacked(r, NULL);
	/* never more than what the patient paid */
	a = att("EA-2", MEMBER, "102771", 20261118, 1500);
	r = send_att(s, &a);
	cr_assert_eq(r->result->accepted_cents, 1500);
	tpclear__answer__free_unpacked(r, NULL);
	/* OSSOM, care abroad: 75 % of the real cost, rounded to the cent (9258.75 -> 9259) */
	r = send_abroad(s, "EA-3", OSSOM_BC, "101032", "FR", 12345);
	cr_assert_str_eq(the_line(r)->scheme, "OSSOM");
	cr_assert_str_eq(the_line(r)->budget, "OSSOM");
	cr_assert_eq(r->result->accepted_cents, 9259);
	tpclear__answer__free_unpacked(r, NULL);
	/* abroad, a code without a Belgian tariff that day: nothing */
	r = send_abroad(s, "EA-4", OSSOM_BC, "109594", "FR", 5000);
	refused_with(r, "500403");
	tpclear__answer__free_unpacked(r, NULL);
	/* abroad, not an OSSOM insured */
	r = send_abroad(s, "EA-5", MEMBER, "101032", "ES", 5000);
	refused_with(r, "T00026");
	tpclear__answer__free_unpacked(r, NULL);
	/* a detainee's care is cleared in third-party payment, not by eAttest */
	a = att("EA-6", DETAINEE, "101032", 20261103, 3000);
	r = send_att(s, &a);
	refused_with(r, "T00025");
	tpclear__answer__free_unpacked(r, NULL);

	/* a payment run pays the insured, each to their own account */
	r = tpc_td_payrun(s, 0, "");
	cr_assert_eq(r->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(r->payrun->total_cents, 2400 + 1500 + 9259);
	cr_assert_eq(r->payrun->payments, 2, "the member and the OSSOM insured");
	{
		int seen_member = 0, seen_ossom = 0;

		for (size_t i = 0; i < r->payrun->n_files; i++) {
			const char *x = (const char *)r->payrun->files[i]->content.data;
			size_t n = r->payrun->files[i]->content.len;
			char *copy = strndup(x, n);

			seen_member |= strstr(copy, "BE68539007547034") != NULL;
			seen_ossom |= strstr(copy, "BE40063000070763") != NULL;
			free(copy);
		}
		cr_assert(seen_member, "transfer to the member's IBAN");
		cr_assert(seen_ossom, "transfer to the OSSOM insured's IBAN");
	}
	tpclear__answer__free_unpacked(r, NULL);

	/* cancelling EA-1 (its fields repeated) posts the reversal: a negative payable */
	a = att("EA-7", MEMBER, "101032", 20261118, 3000);
	a.cancels = "EA-1";
	r = send_att(s, &a);
	cr_assert_eq(the_line(r)->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "%s",
	             the_line(r)->n_findings ? the_line(r)->findings[0]->code : "");
	cr_assert_eq(r->result->accepted_cents, -2400);
	tpclear__answer__free_unpacked(r, NULL);
	/* cancelling it twice: refused */
	a.number = "EA-8";
	r = send_att(s, &a);
	cr_assert_eq(r->result->lines_accepted, 0);
	tpclear__answer__free_unpacked(r, NULL);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(paid, 3);
	cr_assert_eq(unpaid, 1, "the reversal waits for the next run");
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

Test(eattest, answered_while_a_large_sending_is_being_cleared)
{
	size_t len;
	uint8_t *big = tpc_td_canonical(424242, 100, 1000, &len); /* 100,000 lines */
	void *bulk, *desk;
	Tpclear__Attestation a = att("EA-RT", MEMBER, "101032", 20261118, 3000);
	uint8_t buf[512];
	size_t n = tpclear__attestation__pack(&a, buf);
	uint64_t t0, t_att = 0, t_big = 0;
	int got = 0;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	bulk = tpc_td_connect(&d);
	desk = tpc_td_connect(&d);
	t0 = now_us();
	cr_assert_eq(tpc_td_send(bulk, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", "BIG-1",
	                         "canonical", 1, big, len),
	             0);
	free(big);
	/* the big sending is received; now the attestation */
	{
		Tpclear__Answer *rc = tpc_td_recv(bulk, 10000, NULL, NULL);

		cr_assert_not_null(rc);
		cr_assert_eq(rc->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
		tpclear__answer__free_unpacked(rc, NULL);
	}
	cr_assert_eq(
	    tpc_td_send(desk, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, "gp", "EA-RT", "", 2, buf, n),
	    0);
	while (got < 2) {
		zmq_pollitem_t pi[2] = {{bulk, 0, ZMQ_POLLIN, 0}, {desk, 0, ZMQ_POLLIN, 0}};

		cr_assert_gt(zmq_poll(pi, 2, 60000), 0, "no answer");
		for (int i = 0; i < 2; i++) {
			Tpclear__Answer *x;

			if (!(pi[i].revents & ZMQ_POLLIN))
				continue;
			x = tpc_td_recv(i ? desk : bulk, 1000, NULL, NULL);
			cr_assert_not_null(x);
			if (x->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
				if (i)
					t_att = now_us() - t0;
				else
					t_big = now_us() - t0;
				got++;
				if (i)
					cr_assert_eq(x->result->accepted_cents, 2400);
				else
					cr_assert_eq(x->result->lines, 100000);
			}
			tpclear__answer__free_unpacked(x, NULL);
		}
	}
	cr_assert_lt(t_att, t_big,
	             "the attestation (%llu us) is answered before the large sending (%llu us)",
	             (unsigned long long)t_att, (unsigned long long)t_big);
	zmq_close(bulk);
	zmq_close(desk);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
