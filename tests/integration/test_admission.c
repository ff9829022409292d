/* tests/integration/test_admission.c - issue 15, overload: the real tpcleard flooded by a real
 * ZeroMQ sender. Past the admission bound (pipeline/admission.h: the sendings in flight would
 * take [engine] admission_delay_ms to answer) a sending is answered busy T00064 with a retry
 * hint of the estimated time to answer what is in flight; every sending taken is answered, and
 * a sender that sends its busy ones again after the hint gets every one in, once.
 */
#include <criterion/criterion.h>
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

TestSuite(admission, .fini = teardown, .timeout = 120);

enum { N = 48, LINES = 10000 }; /* 48 canonical sendings of ~400 KB: ~19 MB, over the 8 MiB floor */

struct flood {
	uint8_t *p[N];
	size_t len[N];
	uint64_t due_ms[N]; /* when to send again a sending answered busy; 0 = not waiting */
	int results[N];     /* results seen per sending: exactly one each */
	int busy, received, answered;
	uint32_t least_retry, most_retry;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void send_one(void *s, struct flood *f, int i)
{
	char key[16];

	snprintf(key, sizeof(key), "adm%d", i);
	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "flood", key,
	                         "canonical", (uint64_t)i, f->p[i], f->len[i]),
	             0);
}

/* One answer: a busy one is noted to be sent again after its hint, a result counted. */
static void note(struct flood *f, const Tpclear__Answer *a)
{
	int i = (int)a->correlation;

	cr_assert(i >= 0 && i < N, "correlation %d", i);
	if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		cr_assert_eq(a->result->lines, LINES);
		cr_assert_eq(a->result->lines_accepted, LINES, "a valid sending, accepted whole");
		cr_assert_eq(a->result->replay, 0, "sent again only after busy: never a replay");
		f->results[i]++;
		f->answered++;
		return;
	}
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	if (a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED) {
		f->received++;
		return;
	}
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY, "%s %s",
	             a->receipt->code, a->receipt->reason);
	cr_assert_str_eq(a->receipt->code, "T00064");
	f->busy++;
	if (a->receipt->retry_after_ms < f->least_retry)
		f->least_retry = a->receipt->retry_after_ms;
	if (a->receipt->retry_after_ms > f->most_retry)
		f->most_retry = a->receipt->retry_after_ms;
	f->due_ms[i] = now_ms() + a->receipt->retry_after_ms;
}

/* Send again every busy sending whose hint has passed. */
static void resend_due(void *s, struct flood *f)
{
	uint64_t now = now_ms();

	for (int i = 0; i < N; i++)
		if (f->due_ms[i] && f->due_ms[i] <= now) {
			f->due_ms[i] = 0;
			send_one(s, f, i);
		}
}

Test(admission, overload_answers_busy_with_the_drain_time_and_loses_nothing)
{
	struct flood f = {.least_retry = UINT32_MAX};
	uint64_t paid, unpaid, postings, sendings;
	int64_t sum, credited;
	void *s;

	/* the cap and the memory bound far away: only the bound in time (250 ms, set here) and
	 * its 8 MiB floor answer busy here; a configured hint far under the estimate */
	tpc_td_start_or_fail(&d, "[engine]\nworkers = 1\nretry_after_ms = 20\n"
	                         "admission_delay_ms = 250\n"
	                         "max_payload_in_flight = 1G\nmax_memory_in_flight = 4G\n"
	                         "max_sending_bytes = 16M\n");
	s = tpc_td_connect(&d);
	for (int i = 0; i < N; i++)
		f.p[i] = tpc_td_canonical(7000u + (unsigned)i, 40, LINES / 40, &f.len[i]);
	for (int i = 0; i < N; i++) /* the burst: sent without reading */
		send_one(s, &f, i);
	while (f.answered < N) {
		Tpclear__Answer *a = tpc_td_recv(s, 100, NULL, NULL);

		if (a) {
			note(&f, a);
			tpclear__answer__free_unpacked(a, NULL);
		}
		resend_due(s, &f);
		cr_assert(f.busy < 20 * N, "no progress: %d busy, %d answered", f.busy, f.answered);
	}
	cr_assert_gt(f.busy, 0, "the burst never reached the bound");
	/* the hint is the time to answer what is in flight, at least the delay target: the bytes
	 * in flight are at the bound, at least rate x 250 ms (ms rounded down) */
	cr_assert_geq(f.least_retry, 249, "retry_after_ms %u: not the estimated drain time",
	              f.least_retry);
	cr_assert_leq(f.most_retry, 60000);
	cr_assert_eq(f.received, N, "each sending taken once");
	for (int i = 0; i < N; i++)
		cr_assert_eq(f.results[i], 1, "sending %d: %d results", i, f.results[i]);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_busy_refusals_total{reason=\"payload_in_flight\"}"),
	             f.busy);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_admission_in_flight_bytes"), 0, "all given back");
	cr_assert_gt(tpc_td_metric(&d, "tpclear_admission_rate_bytes_per_second"), 0);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_admission_bound_bytes"), 8 << 20, "the floor");
	zmq_close(s);
	for (int i = 0; i < N; i++)
		free(f.p[i]);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, (uint64_t)N * LINES, "every line payable once, none paid");
	cr_assert_eq(tpc_td_ledger_totals(&d, &sum, &credited, &postings, &sendings), 0);
	cr_assert_eq(sendings, N, "every sending stored once");
}
