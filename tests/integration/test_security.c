/* tests/integration/test_security.c - CURVE, the senders registry, authorization and the
 * per-sender limits, through the real daemon (docs/security.md).
 *
 * The daemon helper (tests/support/daemon.c) starts every daemon with CURVE on and a registry
 * of test identities: "hospital" bills as the sample hospital 18334780004, "gp" as the sample
 * GP 17385467004, "cpas" has neither numbers nor feeds, "fedasil" sends the fedasil feed,
 * "test" (tpc_td_connect) and "ops" are of kind ops.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "pipeline/client.h"
#include "daemon.h"
#include "security/keys.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(security, .fini = teardown, .timeout = 240);

static void *as(const char *id)
{
	void *s = tpc_td_connect_as(&d, id);

	cr_assert_not_null(s, "identity %s", id);
	return s;
}

/* The bytes of a file of the source tree, @p fmt naming it with @p name (the caller frees). */
static uint8_t *source_file(const char *fmt, const char *name, size_t *len)
{
	char rel[128];
	uint8_t *p;

	snprintf(rel, sizeof(rel), fmt, name);
	p = tpc_test_slurp(tpc_test_src(rel), len);
	cr_assert_not_null(p, "%s", rel);
	return p;
}

static uint8_t *sample(const char *name, size_t *len)
{
	return source_file("config/samples/%s", name, len);
}

static long long metric(const char *series)
{
	return tpc_td_metric(&d, series);
}

static long long refusals(const char *reason)
{
	char s[128];

	snprintf(s, sizeof(s), "tpclear_security_refusals_total{reason=\"%s\"}", reason);
	return metric(s);
}

/* The final answer is a refusal with @p code; frees it. */
static void expect_refused(Tpclear__Answer *a, const char *code)
{
	if (!a)
		tpc_td_dump_log(&d);
	cr_assert_not_null(a, "no answer (expected %s)", code);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT, "body %d, expected %s",
	             a->body_case, code);
	cr_assert_str_eq(a->receipt->code, code, "%s: %s", a->receipt->code, a->receipt->reason);
	cr_assert_neq(strlen(a->receipt->reason), 0);
	tpclear__answer__free_unpacked(a, NULL);
}

static Tpclear__Answer *expect_result(Tpclear__Answer *a, Tpclear__Outcome outcome)
{
	if (!a)
		tpc_td_dump_log(&d);
	cr_assert_not_null(a, "no answer");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "body %d (%s)", a->body_case,
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	cr_assert_eq(a->result->outcome, outcome, "outcome %d", a->result->outcome);
	return a;
}

static int answers_ping(void *s, int timeout_ms)
{
	static uint64_t corr = 77000;
	Tpclear__Answer *a;
	int ok;

	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_PING, "x", "", "", ++corr, NULL, 0), 0);
	a = tpc_td_recv(s, timeout_ms, NULL, NULL);
	ok = a && a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
	     a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED;
	if (a)
		tpclear__answer__free_unpacked(a, NULL);
	return ok;
}

Test(security, a_registered_hospital_clears_and_an_unknown_key_gets_nothing)
{
	tpc_keypair_t stranger;
	size_t len;
	uint8_t *p = sample("sample-hospital.920000", &len);
	void *h, *x, *plain;
	Tpclear__Answer *a, *rc = NULL;

	tpc_td_start_or_fail(&d, NULL);
	h = as("hospital");
	a = expect_result(tpc_td_submit(h, "whoever", "k1", "efact", p, len, &rc),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(a->result->sender, "hospital", "the authenticated id, not the envelope's");
	cr_assert_not_null(rc, "a receipt first");
	tpclear__answer__free_unpacked(a, NULL);
	tpclear__answer__free_unpacked(rc, NULL);

	/* an unregistered key: refused at the handshake, not even a receipt */
	cr_assert_eq(tpc_keys_generate(&stranger), 0);
	x = tpc_td_connect_keys(&d, &stranger);
	cr_assert_eq(tpc_td_send(x, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", "k2",
	                         "efact", 1, p, len),
	             0);
	cr_assert_null(tpc_td_recv(x, 1500, NULL, NULL), "an unknown key gets no answer at all");
	/* nor does a client without CURVE */
	plain = tpc_td_connect_keys(&d, NULL);
	cr_assert_eq(answers_ping(plain, 1000), 0);
	cr_assert_geq(refusals("unknown_key"), 1);
	cr_assert_geq(metric("tpclear_zap_requests_total{result=\"denied\"}"), 1);
	cr_assert_geq(metric("tpclear_zap_requests_total{result=\"allowed\"}"), 2);
	cr_assert(tpc_td_log_has(&d, "refused CURVE handshake from 127.0.0.1"));
	cr_assert(tpc_td_log_has(&d, stranger.public_z85), "the refused key is logged");
	/* and nothing of it was stored: the only sending is the hospital's */
	cr_assert_eq(metric("tpclear_ledger_sendings_committed_total"), 1);
	zmq_close(x);
	zmq_close(plain);
	zmq_close(h);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* A canonical sending whose invoice @p inv is billed by @p provider (-1: every invoice, and
 * the third party). */
static uint8_t *canonical_billed(unsigned seed, int inv, const char *provider, size_t *len)
{
	size_t n;
	uint8_t *p = tpc_td_canonical(seed, 3, 2, &n), *out;
	Tpclear__CanonicalSending *cs = tpclear__canonical_sending__unpack(NULL, n, p);
	char *keep[8], *keep_tp;

	cr_assert_not_null(cs);
	cr_assert_leq(cs->n_invoices, 8);
	keep_tp = cs->third_party;
	for (size_t i = 0; i < cs->n_invoices; i++) {
		keep[i] = cs->invoices[i]->provider;
		if (inv < 0 || (size_t)inv == i)
			cs->invoices[i]->provider = (char *)provider;
	}
	if (inv < 0)
		cs->third_party = (char *)provider;
	*len = tpclear__canonical_sending__get_packed_size(cs);
	out = malloc(*len);
	tpclear__canonical_sending__pack(cs, out);
	for (size_t i = 0; i < cs->n_invoices; i++)
		cs->invoices[i]->provider = keep[i];
	cs->third_party = keep_tp;
	tpclear__canonical_sending__free_unpacked(cs, NULL);
	free(p);
	return out;
}

Test(security, billing_as_another_nihii_is_refused_whole_with_its_code)
{
	size_t len, glen;
	uint8_t *gp = sample("sample-gp.920000", &glen), *mixed;
	void *h, *g;
	Tpclear__Answer *a;

	tpc_td_start_or_fail(&d, NULL);
	h = as("hospital");
	/* the hospital sends the GP's eFact file (third party 17385467004), even claiming to be
	 * the GP in the envelope */
	expect_refused(tpc_td_submit(h, "gp", "20261100000002", "efact", gp, glen, NULL), "T00041");
	a = tpc_td_submit(h, "gp", "20261100000002", "efact", gp, glen, NULL);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert(strstr(a->receipt->reason, "17385467004"), "names the number: %s",
	          a->receipt->reason);
	cr_assert(strstr(a->receipt->reason, "hospital"), "%s", a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
	/* nothing was stored: the key is free and the GP's own submission of it clears */
	expect_refused(tpc_td_query(h, "hospital", "20261100000002"), "T00012");
	g = as("gp");
	a = expect_result(tpc_td_submit(g, "gp", "20261100000002", "efact", gp, glen, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	/* one invoice of another provider among the hospital's own refuses the whole sending */
	mixed = canonical_billed(11, 2, "17385467004", &len);
	expect_refused(tpc_td_submit(h, "hospital", "mixed", "canonical", mixed, len, NULL),
	               "T00041");
	free(mixed);
	mixed = canonical_billed(12, 0, "18334780004", &len);
	a = expect_result(tpc_td_submit(h, "hospital", "own", "canonical", mixed, len, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	free(mixed);
	/* a CPAS has no number to bill as: refused at once */
	{
		void *c = as("cpas");

		expect_refused(tpc_td_submit(c, "cpas", "x", "efact", gp, glen, NULL), "T00047");
		zmq_close(c);
	}
	cr_assert_eq(refusals("nihii"), 3);
	cr_assert_eq(refusals("no_nihii"), 1);
	cr_assert(tpc_td_log_has(&d, "refused T00041 from sender 'hospital' at 127.0.0.1"),
	          "logged with the peer address");
	zmq_close(g);
	zmq_close(h);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(gp);
}

static uint8_t *refdata(const char *kind, size_t *len)
{
	return source_file("config/refdata/%s.csv", kind, len);
}

Test(security, a_feed_from_a_sender_not_allowed_to_send_it_is_refused)
{
	size_t len;
	uint8_t *csv = refdata("fedasil", &len);
	void *c, *f, *h;
	Tpclear__Answer *a;

	tpc_td_start_or_fail(&d, NULL);
	c = as("cpas");
	expect_refused(tpc_td_request(c, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "fedasil",
	                              "fedasil.csv", "fedasil", csv, len, NULL, NULL),
	               "T00042");
	expect_refused(tpc_td_request(c, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "fedasil",
	                              "fedasil.csv", "upsert:fedasil", csv, len, NULL, NULL),
	               "T00042");
	/* an unknown kind is still refused as unknown */
	expect_refused(tpc_td_request(c, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "cpas", "x.csv",
	                              "nosuchkind", csv, len, NULL, NULL),
	               "T00017");
	h = as("hospital");
	expect_refused(tpc_td_request(h, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "hospital",
	                              "fedasil.csv", "fedasil", csv, len, NULL, NULL),
	               "T00042");
	/* Fedasil sends its own feed */
	f = as("fedasil");
	a = tpc_td_request(f, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "fedasil", "fedasil.csv",
	                   "fedasil", csv, len, NULL, NULL);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LOAD, "%s",
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_eq(refusals("feed"), 3);
	cr_assert(tpc_td_log_has(&d, "refused T00042 from sender 'cpas' at 127.0.0.1"));
	zmq_close(c);
	zmq_close(f);
	zmq_close(h);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(csv);
}

static Tpclear__Answer *ledger(void *s, Tpclear__LedgerRequest__Op op, const char *target)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

	rq.op = op;
	rq.target = (char *)(target ? target : "");
	return tpc_td_ledger(s, "whoever", &rq);
}

Test(security, one_sender_never_reads_or_collides_with_another)
{
	size_t l1, l2;
	uint8_t *p1 = tpc_td_canonical(21, 1, 2, &l1), *p2 = tpc_td_canonical(22, 1, 2, &l2);
	void *h, *g;
	Tpclear__Answer *a;

	tpc_td_start_or_fail(&d, NULL);
	h = as("hospital");
	g = as("gp");
	a = expect_result(tpc_td_submit(h, "hospital", "SHARED", "canonical", p1, l1, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	/* the GP, even naming the hospital in the envelope, cannot read it */
	expect_refused(tpc_td_query(g, "hospital", "SHARED"), "T00012");
	expect_refused(tpc_td_request(g, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "hospital", "SHARED",
	                              "settlement", NULL, 0, NULL, NULL),
	               "T00012");
	expect_refused(ledger(g, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "SHARED"), "T00024");
	/* nor see the hospital's payee postings, a patient's, or every budget */
	expect_refused(ledger(g, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "18334780004"), "T00044");
	expect_refused(ledger(g, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "86103130262"), "T00044");
	expect_refused(ledger(g, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "18334780004/T22-1"), "T00044");
	expect_refused(ledger(h, TPCLEAR__LEDGER_REQUEST__OP__BALANCE, NULL), "T00043");
	expect_refused(ledger(h, TPCLEAR__LEDGER_REQUEST__OP__EXPORT, NULL), "T00043");
	expect_refused(tpc_td_payrun(h, 0, ""), "T00043");
	/* keys are per sender: the GP's own sending under the same key does not collide */
	{
		size_t lg;
		uint8_t *own = canonical_billed(23, -1, "17385467004", &lg);

		a = tpc_td_submit(g, "hospital", "SHARED", "canonical", own, lg, NULL);
		cr_assert_not_null(a);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "no conflict, body %d",
		             a->body_case);
		cr_assert_eq(a->result->replay, 0);
		cr_assert_str_eq(a->result->sender, "gp");
		tpclear__answer__free_unpacked(a, NULL);
		free(own);
	}
	/* the hospital still gets its own answer, and sees its own sending in the ledger */
	a = expect_result(tpc_td_query(h, "gp", "SHARED"), TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(a->result->sender, "hospital");
	tpclear__answer__free_unpacked(a, NULL);
	a = ledger(h, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "SHARED");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	tpclear__answer__free_unpacked(a, NULL);
	a = ledger(h, TPCLEAR__LEDGER_REQUEST__OP__SHOW, "18334780004");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER, "its own payee number");
	tpclear__answer__free_unpacked(a, NULL);
	/* a resubmission of the other payload under its key by the hospital conflicts */
	a = tpc_td_submit(h, "hospital", "SHARED", "canonical", p2, l2, NULL);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_CONFLICT);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_eq(refusals("ledger_scope"), 3);
	cr_assert_eq(refusals("ops_only"), 3);
	zmq_close(g);
	zmq_close(h);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p1);
	free(p2);
}

Test(security, invoices_lines_and_bytes_per_sending_are_bounded)
{
	size_t len;
	uint8_t *p;
	void *s;
	Tpclear__Answer *a;

	tpc_td_start_or_fail(&d,
	                     "[engine]\nmax_invoices = 2\nmax_lines = 5\nmax_sending_bytes = 2K\n");
	s = as("hospital");
	p = tpc_td_canonical(31, 3, 1, &len); /* 3 invoices */
	expect_refused(tpc_td_submit(s, "hospital", "inv", "canonical", p, len, NULL), "T00013");
	free(p);
	p = tpc_td_canonical(32, 2, 3, &len); /* 6 lines */
	expect_refused(tpc_td_submit(s, "hospital", "lines", "canonical", p, len, NULL), "T00013");
	free(p);
	p = tpc_td_canonical(33, 2, 2, &len); /* within every bound */
	a = expect_result(tpc_td_submit(s, "hospital", "fine", "canonical", p, len, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	free(p);
	{
		char big[4096];

		memset(big, 'x', sizeof(big));
		expect_refused(
		    tpc_td_submit(s, "hospital", "big", "canonical", big, sizeof(big), NULL),
		    "T00005");
	}
	cr_assert(answers_ping(s, 5000), "still serving");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(security, a_feed_file_is_bounded_by_max_load_bytes)
{
	char csv[4096] = "niss,valid_from,valid_to,ct1,ct2,iban\n";
	void *s;
	Tpclear__Answer *a;

	/* the bound applies to feeds only: sendings keep their own */
	tpc_td_start_or_fail(&d, "[engine]\nmax_load_bytes = 1K\n");
	s = tpc_td_connect(&d);
	for (int i = 0; strlen(csv) < 2000; i++)
		sprintf(csv + strlen(csv), "86103130262,20%02d-01-01,20%02d-12-31,110,110,\n", i,
		        i);
	a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "ops", "big.csv", "members", csv,
	                   strlen(csv), NULL, NULL);
	expect_refused(a, "T00046");
	csv[200] = 0;
	csv[strrchr(csv, '\n') - csv + 1] = 0;
	/* forced: a few rows where the samples hold more would be refused T00060 (issue 14) */
	a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "ops", "small.csv",
	                   "force:members", csv, strlen(csv), NULL, NULL);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LOAD, "a small file loads");
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_eq(refusals("load_too_large"), 1);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(security, one_sender_cannot_hold_more_than_its_share_of_the_queue)
{
	enum { N = 12 };
	size_t len, glen;
	uint8_t *g = tpc_td_canonical(99, 1, 1, &glen);
	void *h, *other;
	int busy = 0, received = 0, results = 0;
	Tpclear__Answer *a;

	tpc_td_start_or_fail(
	    &d, "[engine]\nworkers = 1\nmax_in_flight_per_sender = 2\nretry_after_ms = 77\n"
	        "max_sending_bytes = 16M\n");
	h = as("hospital");
	for (int i = 0; i < N; i++) {
		char key[16];
		uint8_t *p = tpc_td_canonical((unsigned)(4000 + i), 40, 250, &len);

		snprintf(key, sizeof(key), "q%d", i);
		cr_assert_eq(tpc_td_send(h, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", key,
		                         "canonical", (uint64_t)i + 1, p, len),
		             0);
		free(p);
	}
	/* another sender is not held up by the hospital's backlog */
	other = as("test");
	a = tpc_td_submit(other, "test", "other", "canonical", g, glen, NULL);
	expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	while (busy + results < N) {
		a = tpc_td_recv(h, 30000, NULL, NULL);
		cr_assert_not_null(a, "stalled: %d busy, %d results", busy, results);
		if (tpc_td_tally(a, &busy, &received, &results) == 'B') {
			cr_assert_str_eq(a->receipt->code, "T00045");
			cr_assert_eq(a->receipt->retry_after_ms, 77);
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_gt(busy, 0, "the bound was never reached");
	cr_assert_geq(received, 2);
	cr_assert_eq(results, received, "every received sending is answered");
	cr_assert_eq(refusals("in_flight"), busy);
	cr_assert_eq(metric("tpclear_in_flight"), 0, "counts come back down");
	zmq_close(h);
	zmq_close(other);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(g);
}

/* Rewrite the registry with only the identities @p ids (their keys from the helper). */
static void write_registry(const char *const *ids, const char *const *sections, int n)
{
	FILE *f = fopen(d.senders, "w");

	cr_assert_not_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "[%s]\nkey = %s\n%s\n", ids[i], tpc_td_keys_of(&d, ids[i])->public_z85,
		        sections[i]);
	fclose(f);
}

Test(security, the_registry_reloads_on_sighup_and_a_bad_one_is_refused)
{
	void *fresh, *g, *h;
	size_t len;
	uint8_t *p = tpc_td_canonical(51, 1, 1, &len);
	Tpclear__Answer *a;
	FILE *f;

	tpc_td_start_or_fail(&d, NULL);
	g = as("gp");
	cr_assert(answers_ping(g, 5000));
	/* a new hospital, registered while the engine runs */
	cr_assert_eq(tpc_td_add_sender(&d, "chu-new", "hospital", "18334780004", ""), 0);
	fresh = as("chu-new");
	cr_assert_eq(answers_ping(fresh, 1000), 0, "not admitted before the reload");
	zmq_close(fresh);
	cr_assert_eq(tpc_td_reload(&d), 0);
	fresh = as("chu-new");
	cr_assert(answers_ping(fresh, 5000), "admitted after the reload, no restart");
	a = expect_result(tpc_td_submit(fresh, "x", "n1", "canonical", p, len, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(a->result->sender, "chu-new");
	tpclear__answer__free_unpacked(a, NULL);

	/* a broken registry is refused with its line; the one in force stays */
	f = fopen(d.senders, "a");
	fprintf(f, "\n[broken]\nkind = dentist\n");
	fclose(f);
	cr_assert_eq(tpc_td_reload(&d), 1, "the reload is refused");
	cr_assert(tpc_td_log_has(&d, "senders.ini:"), "names the file and line");
	cr_assert(tpc_td_log_has(&d, "kind 'dentist'"));
	cr_assert(tpc_td_log_has(&d, "NOT reloaded"));
	cr_assert(answers_ping(fresh, 5000), "the registry in force still admits");
	h = as("hospital");
	cr_assert(answers_ping(h, 5000), "new connections too");
	zmq_close(h);
	cr_assert_eq(metric("tpclear_senders_reloads_total{result=\"failed\"}"), 1);

	/* revoking: the GP removed, its open connection is refused at its next request */
	{
		const char *ids[] = {"test", "chu-new"};
		const char *secs[] = {"kind = ops\nnihii = 18334780004\nfeeds = members",
		                      "kind = hospital\nnihii = 18334780004"};

		write_registry(ids, secs, 2);
	}
	cr_assert_eq(tpc_td_reload(&d), 0);
	cr_assert_eq(
	    tpc_td_send(g, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "gp", "n1", "", 5, NULL, 0), 0);
	expect_refused(tpc_td_recv(g, 5000, NULL, NULL), "T00040");
	cr_assert_eq(refusals("unregistered"), 1);
	zmq_close(g);
	g = as("gp");
	cr_assert_eq(answers_ping(g, 1000), 0, "a new connection of the GP is refused");
	zmq_close(g);
	cr_assert(answers_ping(fresh, 5000));
	zmq_close(fresh);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* Run tpcleard on @p ini in a fresh directory; @return its exit status, stderr in *err. */
static int run_daemon(const char *ini, char **err, char *dir_out, size_t cap)
{
	char cfg[400], cmd[1200], path[400];
	char *t = tpc_test_tmpdir();
	size_t len;
	FILE *f;
	int st;

	snprintf(cfg, sizeof(cfg), "%s/t.ini", t);
	f = fopen(cfg, "w");
	fputs(ini, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --data-dir '%s/data' 2>'%s/err'",
	         getenv("TPC_TPCLEARD"), cfg, t, t);
	st = system(cmd);
	snprintf(path, sizeof(path), "%s/err", t);
	*err = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(*err);
	snprintf(dir_out, cap, "%s", t);
	free(t);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(security, plain_mode_is_refused_on_an_endpoint_other_machines_can_reach)
{
	char *err, dir[400];

	cr_assert_eq(run_daemon("[security]\nmode = plain\n[intake]\nendpoint = tcp://0.0.0.0:*\n",
	                        &err, dir, sizeof(dir)),
	             2);
	cr_assert(strstr(err, "mode = plain"), "%s", err);
	cr_assert(strstr(err, "tcp://0.0.0.0:*"), "%s", err);
	cr_assert(strstr(err, "mode = curve"), "says what to do: %s", err);
	free(err);
	tpc_test_rmtree(dir);
	cr_assert_eq(run_daemon("[security]\nmode = plain\n[http]\nlisten = 0.0.0.0:0\n", &err, dir,
	                        sizeof(dir)),
	             2);
	cr_assert(strstr(err, "[http] listen = 0.0.0.0:0"), "%s", err);
	free(err);
	tpc_test_rmtree(dir);
	/* a configured server key must exist */
	cr_assert_eq(run_daemon("[security]\nmode = curve\nserver_key = /nonexistent/s.key\n"
	                        "[intake]\nendpoint = tcp://127.0.0.1:*\n[http]\nlisten = off\n",
	                        &err, dir, sizeof(dir)),
	             1);
	cr_assert(strstr(err, "/nonexistent/s.key"), "%s", err);
	cr_assert(strstr(err, "tpclear keygen"), "%s", err);
	free(err);
	tpc_test_rmtree(dir);
}

Test(security, plain_on_loopback_warns_and_keeps_envelope_senders)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(61, 1, 1, &len);
	void *s;
	Tpclear__Answer *a;

	memset(&d, 0, sizeof(d));
	cr_assert_eq(tpc_td_start_ex(&d, NULL, NULL, TPC_TD_PLAIN), 0);
	cr_assert(tpc_td_log_has(&d, "SECURITY WARNING: plain mode"));
	s = tpc_td_connect(&d);
	a = expect_result(tpc_td_submit(s, "alpha", "K", "canonical", p, len, NULL),
	                  TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_str_eq(a->result->sender, "alpha", "the envelope's sender, as before");
	tpclear__answer__free_unpacked(a, NULL);
	expect_refused(tpc_td_query(s, "beta", "K"), "T00012");
	cr_assert_eq(metric("tpclear_zap_requests_total{result=\"allowed\"}"), 0);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

static int file_has(const char *dir, const char *name, const char *needle)
{
	char path[600];
	size_t len;
	char *b;
	int found;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	b = (char *)tpc_test_slurp(path, &len);
	found = b && strstr(b, needle) != NULL;
	free(b);
	return found;
}

Test(security, the_server_key_is_made_in_the_data_directory_at_first_start)
{
	char *t = tpc_test_tmpdir(), cfg[400], data[400], path[500], eps[500], pub[64], e[512];
	struct stat st;
	pid_t pid;
	FILE *f;
	int status = 0;

	snprintf(cfg, sizeof(cfg), "%s/t.ini", t);
	snprintf(data, sizeof(data), "%s/data", t);
	f = fopen(cfg, "w");
	fprintf(f, "[security]\nmode = curve\n[intake]\nendpoint = tcp://127.0.0.1:*\n"
	           "[http]\nlisten = off\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/log", t);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		setenv("ASAN_OPTIONS", "detect_leaks=1:exitcode=23", 1);
		execl(getenv("TPC_TPCLEARD"), "tpcleard", "--config", cfg, "--data-dir", data,
		      (char *)NULL);
		_exit(127);
	}
	snprintf(eps, sizeof(eps), "%s/tpcleard.endpoints", data);
	for (int i = 0; i < 3000 && stat(eps, &st) != 0 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	if (stat(eps, &st) != 0) {
		size_t len;
		char *log = (char *)tpc_test_slurp(path, &len);

		kill(pid, SIGKILL);
		cr_assert_fail("did not start without a registry: %s", log ? log : "");
	}
	snprintf(path, sizeof(path), "%s/server.key", data);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "the secret is private");
	snprintf(path, sizeof(path), "%s/server.pub", data);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "the public key is for the senders");
	cr_assert_eq(tpc_keys_read_public(path, pub, e, sizeof(e)), 0, "%s", e);
	cr_assert(file_has(t, "log", "does not exist: no sender can connect"),
	          "a missing registry is said");
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stops cleanly, no leak");
	tpc_test_rmtree(t);
	free(t);
}

Test(security, the_cli_makes_keys_and_says_when_its_key_is_refused)
{
	char cmd[2000], path[600], *out;
	size_t len;
	struct stat st;
	int rc;

	tpc_td_start_or_fail(&d, NULL);
	snprintf(cmd, sizeof(cmd), "'%s' keygen --out '%s/newkey' >'%s/kg.out' 2>&1",
	         getenv("TPC_TPCLEAR"), d.dir, d.dir);
	cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
	snprintf(path, sizeof(path), "%s/newkey.key", d.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/newkey.pub", d.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	/* a second keygen never overwrites */
	cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
	/* the new key is not registered: the CLI stops at once, naming the reason */
	snprintf(cmd, sizeof(cmd),
	         "'%s' --endpoint '%s' --server-key '%s/server.pub' --client-key '%s/newkey' "
	         "--timeout 20000 ping >'%s/ping.out' 2>&1",
	         getenv("TPC_TPCLEAR"), d.intake, d.dir, d.dir, d.dir);
	rc = system(cmd);
	cr_assert_eq(WEXITSTATUS(rc), 1);
	snprintf(path, sizeof(path), "%s/ping.out", d.dir);
	out = (char *)tpc_test_slurp(path, &len);
	cr_assert(strstr(out, "refused this client's CURVE key"), "%s", out);
	free(out);
	/* the registered identity pings through the CLI */
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' %s ping >'%s/ping.out' 2>&1",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, "cpas"), d.dir);
	cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
