/* tests/integration/test_claims.c - sendings judged at the same time against one snapshot, through
 * the real daemon: the writer's check pass (engine/ledger/ledger.c, indexes()) must still refuse
 * every copy but one although it now reads again only the keys the claims record
 * (engine/ledger/claims.h) says were taken since the worker's snapshot.
 *
 * Each round pipelines copies of one invoice (same lines, other invoice numbers and keys) on
 * two connections, so that several workers judge them before the first is committed: exactly one
 * bills its lines, every other is refused, by its worker (500423: already billed) or by the
 * writer (T00019: judged at the same time). With a record that missed a key, two copies would
 * bill the same line. The books are checked at the end.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(claims, .fini = teardown, .timeout = 300);

#define COPIES 8
#define ROUNDS 12

/* What became of the copies of one round. */
struct tally {
	int accepted_lines, races, answers;
};

/* Count one final answer: a result (its accepted lines, or a line refused 500423 / 202921), or
 * a refusal receipt with its code. A receipt of reception is not final: @return 0 then. */
static int count(const Tpclear__Answer *a, struct tally *t)
{
	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		if (!a->receipt->code || !a->receipt->code[0])
			return 0;
		cr_assert_str_eq(a->receipt->code, "T00019", "refused %s: %s", a->receipt->code,
		                 a->receipt->reason);
		t->races++;
		return 1;
	}
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	t->accepted_lines += (int)a->result->lines_accepted;
	return 1;
}

/* Send COPIES copies of one invoice (tpc_td_efact_invoice()) at once on two connections and count
 * their fates. */
static struct tally round_of(void *s[2], int round, char invoicing, const char *previous, int sign,
                             uint32_t day)
{
	struct tally t = {0};
	char key[64], ref[32], num[32];

	for (int i = 0; i < COPIES; i++) {
		size_t len;
		uint8_t *p;

		snprintf(key, sizeof(key), "r%d-%c-%d", round, invoicing, i);
		snprintf(ref, sizeof(ref), "2026%02d%c%07d", round, invoicing, i);
		snprintf(num, sizeof(num), "%c%02d%09d", invoicing, round, i);
		p = tpc_td_efact_invoice(ref, num, invoicing, previous, sign, day, &len);
		cr_assert_eq(tpc_td_send(s[i % 2], TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT,
		                         "hospital", key, "efact", (uint64_t)i + 1, p, len),
		             0);
		free(p);
	}
	while (t.answers < COPIES) {
		zmq_pollitem_t items[2] = {{s[0], 0, ZMQ_POLLIN, 0}, {s[1], 0, ZMQ_POLLIN, 0}};

		cr_assert_gt(zmq_poll(items, 2, 30000), 0, "no answer within 30 s");
		for (int c = 0; c < 2; c++) {
			Tpclear__Answer *a;

			if (!(items[c].revents & ZMQ_POLLIN))
				continue;
			a = tpc_td_recv(s[c], 1000, NULL, NULL);
			cr_assert_not_null(a);
			t.answers += count(a, &t);
			tpclear__answer__free_unpacked(a, NULL);
		}
	}
	return t;
}

Test(claims, copies_judged_at_once_bill_their_lines_once)
{
	uint64_t paid, unpaid;
	int races = 0;
	void *s[2];

	/* four workers: copies judged in parallel, against the snapshot before the first commit */
	cr_assert_eq(tpc_td_start(&d, NULL, "[engine]\nworkers = 4\n"), 0);
	s[0] = tpc_td_connect(&d);
	s[1] = tpc_td_connect(&d);
	for (int r = 0; r < ROUNDS; r++) {
		/* another day each round: other line identities, other daily units */
		struct tally t = round_of(s, r, '0', "", 1, 20261102 + (uint32_t)r);

		cr_assert_eq(t.accepted_lines, 2, "round %d: %d lines billed by %d copies", r,
		             t.accepted_lines, COPIES);
		races += t.races;
	}
	/* the check pass was met: copies reached the writer judged on one snapshot */
	cr_assert_gt(races, 0, "no copy was refused T00019 in %d rounds", ROUNDS);
	zmq_close(s[0]);
	zmq_close(s[1]);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 2 * ROUNDS, "one payable per line billed");
}

Test(claims, credit_notes_judged_at_once_credit_their_invoice_once)
{
	uint64_t paid, unpaid;
	Tpclear__Answer *a;
	size_t len;
	uint8_t *p;
	void *s[2];
	struct tally t;

	cr_assert_eq(tpc_td_start(&d, NULL, "[engine]\nworkers = 4\n"), 0);
	s[0] = tpc_td_connect(&d);
	s[1] = tpc_td_connect(&d);
	p = tpc_td_efact_invoice("20261100000401", "000000000401", '0', "", 1, 20261102, &len);
	a = tpc_td_submit(s[0], "hospital", "orig", "efact", p, len, NULL);
	free(p);
	cr_assert_not_null(a);
	cr_assert_eq(a->result->lines_accepted, 2);
	tpclear__answer__free_unpacked(a, NULL);
	/* COPIES credit notes of it at once: one cancels its two lines, the others are refused
	 * (202921 by their worker, or T00019 by the writer) */
	t = round_of(s, 50, '3', "000000000401", -1, 20261102);
	cr_assert_eq(t.accepted_lines, 2, "%d credit lines accepted", t.accepted_lines);
	/* the cancelled lines may be billed again, once */
	t = round_of(s, 51, '0', "", 1, 20261102);
	cr_assert_eq(t.accepted_lines, 2, "%d lines billed again", t.accepted_lines);
	zmq_close(s[0]);
	zmq_close(s[1]);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 6, "the original, its credit and the new billing: two lines each");
}
