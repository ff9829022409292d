/* tests/integration/test_small_first.c - issue 15, latency at half load: the real tpcleard takes
 * the smallest sending waiting first ([engine] small_first_ms, core/queue.h), so a GP's small
 * sending received just after a few large hospital sendings is not held behind them.
 *
 * One worker, so that what waits for it is a queue with an order to see: a large sending keeps
 * it busy while three more large ones and then a small one arrive. The test compares the order
 * of the Results, never milliseconds, so a slow host (a sanitizer build) changes nothing: the
 * large sendings only have to take longer to judge than the five take to arrive.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(small_first, .fini = teardown, .timeout = 120);

enum { LARGE = 4, LARGE_LINES = 20000, SMALL_LINES = 10 };

/* Send LARGE large sendings then one small one without reading, and return the rank (0 = first)
 * of the small one's Result among the five Results. */
static int small_rank(const char *extra_ini)
{
	uint8_t *p[LARGE + 1];
	size_t len[LARGE + 1];
	int rank = -1, results = 0;
	void *s;

	tpc_td_start_or_fail(&d, extra_ini);
	s = tpc_td_connect(&d);
	for (int i = 0; i < LARGE; i++)
		p[i] = tpc_td_canonical(9100u + (unsigned)i, 50, LARGE_LINES / 50, &len[i]);
	p[LARGE] = tpc_td_canonical(9200u, 1, SMALL_LINES, &len[LARGE]);
	for (int i = 0; i <= LARGE; i++) {
		char key[16];

		snprintf(key, sizeof(key), "sf%d", i);
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "order", key,
		                         "canonical", (uint64_t)i, p[i], len[i]),
		             0);
	}
	while (results <= LARGE) {
		Tpclear__Answer *a = tpc_td_recv(s, 60000, NULL, NULL);

		cr_assert_not_null(a, "no answer within 60 s");
		if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT)
			cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED,
			             "%s %s", a->receipt->code, a->receipt->reason);
		else {
			cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
			cr_assert_eq(a->result->lines_accepted,
			             a->correlation == LARGE ? SMALL_LINES : LARGE_LINES);
			if (a->correlation == LARGE)
				rank = results;
			results++;
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	/* the stages of docs/metrics.md: one observation per committed sending each, and the
	 * judging of a 20,000-line sending is not nothing */
	cr_assert_eq(tpc_td_metric(&d, "tpclear_stage_wait_worker_seconds_count"), LARGE + 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_stage_answer_seconds_count"), LARGE + 1);
	cr_assert_leq(tpc_td_metric(&d, "tpclear_stage_judge_seconds_bucket{le=\"0.0001\"}"), 1);
	zmq_close(s);
	for (int i = 0; i <= LARGE; i++)
		free(p[i]);
	cr_assert_eq(tpc_td_stop(&d), 0);
	return rank;
}

Test(small_first, a_small_sending_overtakes_the_large_ones_waiting)
{
	/* a bound no slow host reaches: only the sizes decide */
	int rank = small_rank("[engine]\nworkers = 1\nsmall_first_ms = 60000\n");

	/* the first large one was being judged when the small one came; the small one is judged
	 * next, so at most that one and one more (a group shared with the writer) answer first */
	cr_assert_leq(rank, 2, "the small sending answered %d-th of 5, behind the large ones",
	              rank + 1);
}

Test(small_first, zero_keeps_arrival_order)
{
	/* the control: the same sendings in arrival order answer the small one last, so the test
	 * above sees the order, not a small sending that happened to be fast */
	int rank = small_rank("[engine]\nworkers = 1\nsmall_first_ms = 0\n");

	cr_assert_eq(rank, LARGE, "arrival order: the small sending answered %d-th of 5", rank + 1);
}
