/* tests/integration/test_eattest.c - electronic attestations through the real daemon:
 * reimbursed to the insured (AMI by status, OSSOM abroad at 75 % of the real cost), refused for
 * publics cleared in third-party payment, idempotent by attestation number, cancelled by a
 * reversal, paid by a payment run to the insured's IBAN, and answered while a large sending is
 * being cleared (the express lane). The Kmehr eAttest v3 request: answered in Kmehr with an
 * invoicing number (read back with libxml2), the same again answered identically, cancelled by
 * its invoicing number, and sent by `tpclear eattest --kmehr`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* ---- the Kmehr eAttest v3 request ---------------------------------------------------------- */

#define KMEHR_SAMPLE "config/samples/sample-eattest.kmehr.xml"
#define SAMPLE_ID    "17385467004.20261118101500"

/* Send the Kmehr request @p x (NUL-terminated) under @p key; the Result, and the Kmehr answer
 * (malloc'd, NUL-terminated) in *native. */
static Tpclear__Answer *send_kmehr(void *s, const char *key, const char *x, char **native)
{
	uint8_t *n = NULL;
	size_t nlen = 0;
	Tpclear__Answer *r = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, "gp", key,
	                                    "", x, strlen(x), &n, &nlen);

	cr_assert_not_null(r);
	cr_assert_eq(r->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s",
	             r->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? r->receipt->reason : "");
	cr_assert_str_eq(r->result->native_type, "kmehr");
	cr_assert_not_null(n, "no Kmehr answer frame");
	*native = realloc(n, nlen + 1);
	(*native)[nlen] = 0;
	return r;
}

#define KX_EQ(a, expr, want)                                                                       \
	do {                                                                                       \
		char *got_ = tpc_test_kmehr_string(a, strlen(a), expr);                            \
		cr_assert_str_eq(got_, want, "%s in\n%s", expr, a);                                \
		free(got_);                                                                        \
	} while (0)

#define INVOICING                                                                                  \
	"/p:SendTransactionResponse/c:kmehrmessage/k:folder/k:transaction[k:cd='cga']/"            \
	"k:item[k:cd='invoicingnumber']/k:content/k:text"

static char *cancel_request(const char *number)
{
	char *x;

	cr_assert(
	    asprintf(
	        &x,
	        "<?xml version=\"1.0\"?>\n<kmehr:kmehrmessage "
	        "xmlns:kmehr=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v1\">"
	        "<kmehr:header><kmehr:date>2026-11-19</kmehr:date><kmehr:sender><kmehr:hcparty>"
	        "<kmehr:id S=\"ID-HCPARTY\" SV=\"1.0\">" GP "</kmehr:id></kmehr:hcparty>"
	        "</kmehr:sender></kmehr:header><kmehr:folder><kmehr:patient><kmehr:id "
	        "S=\"ID-PATIENT\" SV=\"1.0\">" MEMBER "</kmehr:id></kmehr:patient>"
	        "<kmehr:transaction><kmehr:cd S=\"CD-TRANSACTION-MYCARENET\" SV=\"1.5\">"
	        "cgacancellation</kmehr:cd><kmehr:item><kmehr:cd S=\"CD-ITEM-MYCARENET\" "
	        "SV=\"1.6\">invoicingnumber</kmehr:cd><kmehr:content><kmehr:text L=\"en\">%s"
	        "</kmehr:text></kmehr:content></kmehr:item></kmehr:transaction></kmehr:folder>"
	        "</kmehr:kmehrmessage>",
	        number) > 0);
	return x;
}

Test(eattest, kmehr_request_answered_with_an_invoicing_number_and_cancelled_by_it)
{
	size_t len;
	char *x = (char *)tpc_test_slurp(tpc_test_src(KMEHR_SAMPLE), &len), *a, *b, *num, *c;
	Tpclear__Answer *r;
	uint64_t paid, unpaid;
	void *s;

	cr_assert_not_null(x);
	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	r = send_kmehr(s, SAMPLE_ID, x, &a);
	cr_assert_eq(r->result->accepted_cents, 2400, "AMI, as the protobuf form");
	cr_assert_eq(r->result->replay, 0);
	num = strdup(r->result->invoice_results[0]->number);
	tpclear__answer__free_unpacked(r, NULL);
	/* the answer, read back with libxml2 */
	KX_EQ(a, "/p:SendTransactionResponse/c:acknowledge/c:iscomplete", "true");
	KX_EQ(a, "count(//c:error)", "0");
	KX_EQ(a, INVOICING, num);
	cr_assert_eq(strlen(num), 23);
	cr_assert(strncmp(num, "600-1-261118-", 13) == 0, "%s", num);
	KX_EQ(a, "//k:transaction[k:cd='cgd']/k:item[k:cd='claim']/k:content/k:cd[@S='CD-NIHDI']",
	      "101032");
	KX_EQ(a, "//k:transaction[k:cd='cgd']/k:item[k:cd='encounterdatetime']/k:content/k:date",
	      "2026-11-18");
	KX_EQ(a, "//k:transaction[k:cd='cgd']/k:item[k:cd='fee']/k:cost/k:decimal", "24.00");
	KX_EQ(a, "/p:SendTransactionResponse/c:response/c:request/c:id", SAMPLE_ID);

	/* the same request again: the stored answer, byte for byte */
	r = send_kmehr(s, SAMPLE_ID, x, &b);
	cr_assert_eq(r->result->replay, 1);
	cr_assert_str_eq(b, a);
	tpclear__answer__free_unpacked(r, NULL);
	free(b);

	/* cancelled by its invoicing number: the reversal of what was reimbursed */
	c = cancel_request(num);
	r = send_kmehr(s, "CANCEL-1", c, &b);
	cr_assert_eq(r->result->accepted_cents, -2400, "%s", b);
	cr_assert_eq(r->result->invoice_results[0]->n_lines, 1);
	tpclear__answer__free_unpacked(r, NULL);
	KX_EQ(b, "/p:SendTransactionResponse/c:acknowledge/c:iscomplete", "true");
	KX_EQ(b,
	      "//k:transaction[k:cd='cgacancellation']/k:item[k:cd='invoicingnumber']/k:content/"
	      "k:text",
	      num);
	free(b);
	/* twice: refused, in Kmehr (the credited invoice is already credited) */
	r = send_kmehr(s, "CANCEL-2", c, &b);
	cr_assert_eq(r->result->lines_accepted, 0);
	tpclear__answer__free_unpacked(r, NULL);
	KX_EQ(b, "/p:SendTransactionResponse/c:acknowledge/c:iscomplete", "false");
	KX_EQ(b, "//c:error[1]/k:cd[@S='CD-ERROR']", "202921");
	free(b);
	free(c);
	/* a number nobody was given: refused */
	c = cancel_request("600-1-261118-0000001-68");
	r = send_kmehr(s, "CANCEL-3", c, &b);
	cr_assert_eq(r->result->lines_accepted, 0);
	tpclear__answer__free_unpacked(r, NULL);
	KX_EQ(b, "//c:error[1]/k:cd[@S='CD-ERROR']", "202920");
	free(b);
	free(c);

	/* malformed XML: refused with its line, answered in Kmehr, the engine keeps serving */
	x[len / 3] = 0;
	r = send_kmehr(s, "BROKEN-1", x, &b);
	cr_assert_eq(r->result->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_str_eq(r->result->findings[0]->code, "T40007");
	tpclear__answer__free_unpacked(r, NULL);
	KX_EQ(b, "//c:error[1]/k:cd", "T40007");
	free(b);
	free(a);
	free(num);
	free(x);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 2, "the reimbursement and its reversal, netted at the next run");
}

/* Run tpclear with @p args; stdout into @p out (malloc'd). @return exit status. */
static int tpclear(const char *args, char **out)
{
	char cmd[2048], path[400];
	size_t len;
	int st;

	snprintf(path, sizeof(path), "%s/out.txt", d.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' --sender gp %s %s >'%s' 2>>'%s/cli.err'",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, NULL), args, path, d.dir);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(*out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(eattest, tpclear_eattest_kmehr_sends_the_file_and_prints_the_answer)
{
	char args[1200], dir[400], saved[600], *out, *again, *k;
	size_t len;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/answers", d.dir);
	snprintf(args, sizeof(args), "eattest --kmehr '%s' --save-answers '%s'",
	         tpc_test_src(KMEHR_SAMPLE), dir);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	cr_assert(strstr(out, "attestation 600-1-261118-"), "%s", out);
	cr_assert(strstr(out, "reimbursed EUR 24.00"), "%s", out);
	cr_assert(strstr(out, "service 101032 on 2026-11-18: EUR 24.00"), "%s", out);
	/* the Kmehr answer, as the engine sent it */
	snprintf(saved, sizeof(saved), "%s/" SAMPLE_ID ".kmehr", dir);
	k = (char *)tpc_test_slurp(saved, &len);
	cr_assert_not_null(k, "no %s", saved);
	cr_assert(strstr(k, "<kmehr:cd S=\"CD-ITEM-MYCARENET\" SV=\"1.6\">invoicingnumber"), "%s",
	          k);
	free(k);
	snprintf(args, sizeof(args), "eattest --json --kmehr '%s'", tpc_test_src(KMEHR_SAMPLE));
	cr_assert_eq(tpclear(args, &again), 0, "%s", again);
	cr_assert(strstr(again, "\"replay\":true"), "%s", again);
	cr_assert(strstr(again, "\"invoicing_number\":\"600-1-261118-"), "%s", again);
	cr_assert(strstr(again, "\"fee_cents\":2400"), "%s", again);
	free(again);
	free(out);
	/* not a Kmehr request: said, exit status 2 */
	snprintf(args, sizeof(args), "eattest --kmehr '%s'",
	         tpc_test_src("config/samples/sample-canonical.pb"));
	cr_assert_eq(tpclear(args, &out), 2);
	free(out);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* An amount past what int64 cents can hold is refused at the command line, never wrapped into
 * a negative or small fee: 92233720368547759 euros times 100 overflows int64. */
Test(eattest, tpclear_eattest_refuses_an_amount_that_would_overflow)
{
	char errpath[400], *out, *err;
	size_t len;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	cr_assert_eq(tpclear("eattest number=OVF1 fee=92233720368547759", &out), 2, "%s", out);
	free(out);
	snprintf(errpath, sizeof(errpath), "%s/cli.err", d.dir);
	err = (char *)tpc_test_slurp(errpath, &len);
	cr_assert_not_null(err);
	cr_assert(strstr(err, "fee=92233720368547759: unknown key or bad value"), "%s", err);
	free(err);
	/* the largest amount that fits is still read */
	cr_assert_eq(
	    tpclear("eattest number=OVF2 fee=92233720368547757.99 date=2026-11-18", &out) != 2, 1,
	    "%s", out);
	free(out);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
