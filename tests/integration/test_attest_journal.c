/* tests/integration/test_attest_journal.c - eAttests answered from the attestation journal
 * ([ledger] attest_journal = 1, ledger/attest.h) through the real daemon: answered once their
 * record is durable and folded into the ledger by the next commit; in the ledger after a
 * restart, after a kill -9 with the record written and not answered, and after one between the
 * answer and the fold; a sending and an attestation under one key at once, and two
 * attestations of one act at once: one wins; a copy sent before the fold answers the same. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	unsetenv("TPC_CRASHPOINT");
	tpc_td_cleanup(&d);
}

TestSuite(attest_journal, .fini = teardown, .timeout = 180);

#define ON     "[ledger]\nattest_journal = 1\n"
#define GP     "17385467004"
#define MEMBER "86103130262" /* ordinary member: 2400 of 101032 */

static size_t pack_att(const char *number, int32_t date, const char *ref, uint8_t *buf)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;

	a.number = (char *)number;
	a.provider = GP;
	a.patient = MEMBER;
	a.code = "101032";
	a.date = date;
	a.units = 1;
	a.fee_paid_cents = 3000;
	a.reference = (char *)ref;
	return tpclear__attestation__pack(&a, buf);
}

static void send_att(void *s, const char *number, int32_t date, const char *ref, uint64_t corr)
{
	uint8_t buf[512];
	size_t n = pack_att(number, date, ref, buf);

	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, "test", number, "",
	                         corr, buf, n),
	             0);
}

/* The final answer to correlation @p corr (receipts of reception skipped), or NULL after
 * @p timeout_ms. */
static Tpclear__Answer *final_of(void *s, int timeout_ms)
{
	for (;;) {
		Tpclear__Answer *a = tpc_td_recv(s, timeout_ms, NULL, NULL);

		if (!a || a->body_case != TPCLEAR__ANSWER__BODY_RECEIPT ||
		    (a->receipt->code && a->receipt->code[0]))
			return a;
		tpclear__answer__free_unpacked(a, NULL);
	}
}

/* Attestation @p number of the act on @p date with @p ref, and its final answer (a result). */
static Tpclear__Answer *attest_of(void *s, const char *number, int32_t date, const char *ref)
{
	Tpclear__Answer *a;

	send_att(s, number, date, ref, 1);
	a = final_of(s, 30000);
	cr_assert_not_null(a, "%s: no answer", number);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s: %s %s", number,
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->code : "",
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	return a;
}

static Tpclear__Answer *attest(void *s, const char *number)
{
	return attest_of(s, number, 20261118, "soft-1");
}

/* The journal's first record header: "TPJ1" when an attestation was answered from it. */
static int journal_written(void)
{
	char path[400], magic[4] = {0};
	FILE *f;

	snprintf(path, sizeof(path), "%s/eattest.journal", d.data);
	if (!(f = fopen(path, "rb")))
		return 0;
	if (fread(magic, 1, 4, f) != 4)
		magic[0] = 0;
	fclose(f);
	return memcmp(magic, "TPJ1", 4) == 0;
}

/* Start again in the same directory, with crash point @p crash (NULL: none) in its environment. */
static void start_again(const char *crash)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s", d.dir);
	if (crash)
		setenv("TPC_CRASHPOINT", crash, 1);
	cr_assert_eq(tpc_td_start(&d, dir, ON), 0);
	unsetenv("TPC_CRASHPOINT");
}

/* Start again after the daemon died (a crash point) or to kill it (kill -9). */
static void restart(void)
{
	tpc_td_kill9(&d); /* reaps a daemon already dead */
	start_again(NULL);
}

/* Run tpclear with the arguments made from @p fmt. @return its exit status. */
static int cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cli(const char *fmt, ...)
{
	char args[1200], cmd[1600];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>>'%s/cli.err'", getenv("TPC_TPCLEAR"),
	         args, d.dir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(attest_journal, answered_from_the_journal_and_in_the_ledger_after_a_restart)
{
	char path[600];
	uint64_t paid, unpaid, seq;
	Tpclear__Answer *a;
	void *s;

	tpc_td_start_or_fail(&d, ON);
	s = tpc_td_connect(&d);
	a = attest(s, "J-1");
	cr_assert_eq(a->result->accepted_cents, 2400);
	cr_assert_eq(a->result->replay, 0);
	seq = a->result->sequence;
	cr_assert_gt(seq, 0);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert(journal_written(), "answered from the journal");
	/* the live engine's files: verify reads the journal, backup copies it */
	cr_assert_eq(cli("verify --data-dir '%s'", d.data), 0);
	cr_assert_eq(cli("backup '%s/bk' --data-dir '%s'", d.dir, d.data), 0);
	snprintf(path, sizeof(path), "%s/bk/eattest.journal", d.dir);
	cr_assert_eq(access(path, F_OK), 0, "the backup holds the journal");
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 1, "folded into the ledger: one line to pay");
	start_again(NULL);
	s = tpc_td_connect(&d);
	a = attest(s, "J-1");
	cr_assert_eq(a->result->replay, 1);
	cr_assert_eq(a->result->sequence, seq);
	cr_assert_eq(a->result->accepted_cents, 2400);
	tpclear__answer__free_unpacked(a, NULL);
	a = tpc_td_payrun(s, 0, "");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(a->payrun->total_cents, 2400);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(paid, 1);
	cr_assert_eq(unpaid, 0);
}

/* A kill -9 right after the record is durable, before the answer: folded at the next start, so
 * the copy sent again is its replay. Then one after the answer, as the writer begins the fold. */
Test(attest_journal, a_kill_between_the_journal_and_the_fold_loses_nothing)
{
	uint64_t paid, unpaid, seq = 0;
	Tpclear__Answer *a;
	void *s;

	tpc_td_start_or_fail(&d, ON);
	s = tpc_td_connect(&d);
	a = attest(s, "K-0"); /* the writer's first commit: the journal's claims cover it now */
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	start_again("attest.journalled:1");
	s = tpc_td_connect(&d);
	a = attest(s, "K-0"); /* a replay: not journalled */
	tpclear__answer__free_unpacked(a, NULL);
	send_att(s, "K-1", 20261118, "soft-2", 1);
	cr_assert_null(final_of(s, 3000), "killed before the answer");
	zmq_close(s);
	restart();
	cr_assert(tpc_td_log_has(&d, "folded into the ledger"));
	s = tpc_td_connect(&d);
	a = attest_of(s, "K-1", 20261118, "soft-2");
	cr_assert_eq(a->result->replay, 1, "stored before the intake opened");
	cr_assert_eq(a->result->accepted_cents, 2400);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);

	/* answered, then killed as the writer folds it */
	start_again("attest.fold:1");
	s = tpc_td_connect(&d);
	send_att(s, "K-2", 20261119, "soft-3", 1);
	a = final_of(s, 3000);
	if (a) { /* the answer may beat the kill, or not: the ledger must hold it either way */
		cr_assert_eq(a->result->accepted_cents, 2400);
		seq = a->result->sequence;
		tpclear__answer__free_unpacked(a, NULL);
	}
	zmq_close(s);
	restart();
	s = tpc_td_connect(&d);
	a = attest_of(s, "K-2", 20261119, "soft-3");
	cr_assert_eq(a->result->replay, 1);
	cr_assert_eq(a->result->accepted_cents, 2400);
	cr_assert(!seq || a->result->sequence == seq, "the sequence it was answered with");
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 3, "K-0, K-1, K-2");
}

/* Round @p r: an attestation and a sending under one key, sent at once (which first: @p r's
 * parity). @return 1 when the attestation won. */
static int one_key_round(void *s, int r)
{
	char key[32];
	int fresh = 0, att_won = 0;
	size_t len;
	uint8_t *p = tpc_td_canonical((unsigned)r + 1, 1, 2, &len);

	snprintf(key, sizeof(key), "SAME-%d", r);
	for (int i = 0; i < 2; i++) {
		if ((i + r) % 2 == 0)
			send_att(s, key, 20261101 + r, "soft-k", 1);
		else
			cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "test",
			                         key, "canonical", 2, p, len),
			             0);
	}
	free(p);
	for (int i = 0; i < 2; i++) {
		Tpclear__Answer *a = final_of(s, 30000);

		cr_assert_not_null(a);
		if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT && !a->result->replay) {
			fresh++;
			att_won = a->correlation == 1;
		} else if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
			cr_assert_str_eq(a->receipt->code, "T00019", "%s", a->receipt->reason);
		} else {
			cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_CONFLICT, "round %d", r);
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(fresh, 1, "round %d: one of the two is stored under the key", r);
	return att_won;
}

Test(attest_journal, a_sending_and_an_attestation_under_one_key_one_wins)
{
	uint64_t paid, unpaid;
	Tpclear__Answer *a;
	int won = 0;
	void *s;

	tpc_td_start_or_fail(&d, ON);
	s = tpc_td_connect(&d);
	a = attest(s, "W-0"); /* a first commit, for the claims */
	tpclear__answer__free_unpacked(a, NULL);
	/* every round must store exactly one of the two (one_key_round); which one wins is the
	 * host's timing: on a loaded host the express lane can win every round, so rounds go on
	 * (up to 40) until each side has won one, and a one-sided run is reported, not failed */
	int r = 0;

	for (; r < 40 && (r < 10 || won == 0 || won == r); r++)
		won += one_key_round(s, r);
	if (won == 0 || won == r)
		cr_log_warn("one side won all %d rounds (%d to the attestation): the race was not "
		            "met on this host",
		            r, won);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
}

/* Two attestations of one act (two numbers: the same line identity) at once, many times: the act
 * is reimbursed once; and a copy of an attestation sent right behind it answers the same. */
Test(attest_journal, one_act_twice_at_once_is_paid_once_and_a_copy_answers_the_same)
{
	uint64_t paid, unpaid;
	Tpclear__Answer *a, *b;
	char n1[32], n2[32], ref[32];
	int accepted = 0, replays = 0;
	void *s;

	tpc_td_start_or_fail(&d, ON);
	s = tpc_td_connect(&d);
	a = attest(s, "T-0");
	tpclear__answer__free_unpacked(a, NULL);
	for (int r = 0; r < 10; r++) {
		snprintf(n1, sizeof(n1), "A-%d", r);
		snprintf(n2, sizeof(n2), "B-%d", r);
		snprintf(ref, sizeof(ref), "act-%d", r);
		send_att(s, n1, 20261101 + r, ref, 1);
		send_att(s, n2, 20261101 + r, ref, 2);
		for (int i = 0; i < 2; i++) {
			a = final_of(s, 30000);
			cr_assert_not_null(a);
			if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT)
				accepted += a->result->accepted_cents == 2400;
			else
				cr_assert_str_eq(a->receipt->code, "T00019");
			tpclear__answer__free_unpacked(a, NULL);
		}
		cr_assert_eq(accepted, r + 1, "round %d: the act reimbursed once", r);
		/* a copy right behind the original */
		snprintf(n1, sizeof(n1), "C-%d", r);
		snprintf(ref, sizeof(ref), "copy-%d", r);
		send_att(s, n1, 20261101 + r, ref, 1);
		send_att(s, n1, 20261101 + r, ref, 1);
		a = final_of(s, 30000);
		b = final_of(s, 30000);
		cr_assert(a && b);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
		cr_assert_eq(b->body_case, TPCLEAR__ANSWER__BODY_RESULT);
		cr_assert_eq(a->result->replay + b->result->replay, 1, "one original, one replay");
		cr_assert_eq(a->result->sequence, b->result->sequence);
		cr_assert_eq(a->result->accepted_cents, 2400);
		cr_assert_eq(b->result->accepted_cents, 2400);
		replays++;
		tpclear__answer__free_unpacked(a, NULL);
		tpclear__answer__free_unpacked(b, NULL);
	}
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 1 + 10 + 10, "T-0, one act a round, one copy a round");
}

Test(attest_journal, off_by_default)
{
	Tpclear__Answer *a;
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	a = attest(s, "O-1");
	cr_assert_eq(a->result->accepted_cents, 2400);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert(!journal_written());
	zmq_close(s);
}
