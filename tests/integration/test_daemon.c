/* tests/integration/test_daemon.c - the real tpcleard over real sockets and a real LMDB file.
 *
 * Every test starts its own daemon on kernel-chosen free ports with a temporary data directory
 * (tests/support/daemon.c), talks to it with a DEALER socket and HTTP, and stops it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "core/config.h"
#include "daemon.h"
#include "ledger/ledger.h"
#include "core/metrics.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

static void expect_result(Tpclear__Answer *a, Tpclear__Outcome outcome)
{
	if (!a)
		tpc_td_dump_log(&d);
	cr_assert_not_null(a, "no answer");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "body %d", a->body_case);
	cr_assert_eq(a->result->outcome, outcome, "outcome %d", a->result->outcome);
}

/* Open the stopped daemon's ledger and count the sendings it holds; the books must balance. */
static uint64_t stored_sendings(void)
{
	int64_t sum = -1, credited = 0;
	uint64_t postings = 0, sendings = 0;

	cr_assert_eq(tpc_td_ledger_totals(&d, &sum, &credited, &postings, &sendings), 0);
	cr_assert_eq(sum, 0, "the ledger balances");
	return sendings;
}

TestSuite(daemon, .fini = teardown, .timeout = 240);

Test(daemon, clears_a_sending_and_serves_metrics)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(1, 3, 5, &len);
	Tpclear__Answer *rc = NULL, *a;
	int st;
	char *body;

	tpc_td_start_or_fail(&d, NULL);
	void *s = tpc_td_connect(&d);
	a = tpc_td_submit(s, "hospital-a", "K1", "canonical", p, len, &rc);
	cr_assert_not_null(rc);
	cr_assert_eq(rc->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_eq(rc->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED);
	expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(a->result->invoices, 3);
	cr_assert_eq(a->result->lines, 15);
	cr_assert_eq(a->result->lines_accepted, 15);
	cr_assert_eq(a->result->sequence, 1);
	cr_assert_gt(a->result->committed_at, 0);
	cr_assert_eq(a->result->replay, 0);
	cr_assert_eq(a->result->n_invoice_results, 3);
	cr_assert_eq(a->result->invoice_results[0]->n_lines, 5);

	body = tpc_td_http_get(&d, "/healthz", &st);
	cr_assert_eq(st, 200);
	free(body);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"accepted\"}"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_lines_total{outcome=\"accepted\"}"), 15);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_batch_latency_seconds_count"), 1);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_commits_total"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_in_flight"), 0);
	body = tpc_td_http_get(&d, "/nope", &st);
	cr_assert_eq(st, 404);
	free(body);

	tpclear__answer__free_unpacked(rc, NULL);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* Each thread of the running daemon whose name is @p comm: its niceness (field 19 of
 * /proc/PID/task/TID/stat) must be @p nice. @return how many threads had that name. */
static int threads_at_niceness(pid_t pid, const char *comm, long nice)
{
	char path[PATH_MAX], buf[1024];
	int n = 0;
	DIR *dir;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	cr_assert_not_null(dir);
	while ((e = readdir(dir))) {
		FILE *f;
		char *p;
		long v = -100;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		if (!(f = fopen(path, "r")))
			continue; /* the thread ended meanwhile */
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || strncmp(buf, comm, strlen(comm)) || buf[strlen(comm)] != '\n')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		cr_assert_not_null((f = fopen(path, "r")));
		cr_assert_not_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		/* after the name's closing parenthesis come fields 3 (state) to 19 (nice) */
		cr_assert_not_null((p = strrchr(buf, ')')));
		cr_assert_eq(sscanf(p + 2,
		                    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
		                    "%*d %ld",
		                    &v),
		             1);
		cr_assert_eq(v, nice, "%s thread %s at niceness %ld, not %ld", comm, e->d_name, v,
		             nice);
		n++;
	}
	closedir(dir);
	return n;
}

/* [engine] worker_nice: the workers step back, the writer keeps the daemon's niceness, and a
 * sending is still cleared; 0 leaves the workers at the daemon's niceness. */
Test(daemon, workers_step_back_behind_the_writer)
{
	static const char *const inis[] = {"[engine]\nworkers = 2\nworker_nice = 7\n",
	                                   "[engine]\nworkers = 2\nworker_nice = 0\n"};
	static const long want[] = {7, 0};

	for (int i = 0; i < 2; i++) {
		size_t len;
		uint8_t *p = tpc_td_canonical(1, 1, 4, &len);
		Tpclear__Answer *rc = NULL, *a;

		tpc_td_start_or_fail(&d, inis[i]);
		void *s = tpc_td_connect(&d);
		a = tpc_td_submit(s, "hospital-a", "K1", "canonical", p, len, &rc);
		expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
		cr_assert_eq(threads_at_niceness(d.pid, "tpc-worker", want[i]), 2);
		cr_assert_eq(threads_at_niceness(d.pid, "tpc-writer", 0), 1);
		cr_assert_eq(threads_at_niceness(d.pid, "tpc-express", 0), 1, "the express lane");
		cr_assert_geq(threads_at_niceness(d.pid, "tpcleard", 0), 1, "the event loop");
		cr_assert_eq(tpc_td_log_has(&d, "niceness"), 0, "no refusal logged");
		tpclear__answer__free_unpacked(rc, NULL);
		tpclear__answer__free_unpacked(a, NULL);
		zmq_close(s);
		cr_assert_eq(tpc_td_stop(&d), 0);
		tpc_td_cleanup(&d);
		memset(&d, 0, sizeof(d));
		free(p);
	}
}

Test(daemon, resubmission_replays_and_other_payload_conflicts)
{
	size_t l1, l2;
	uint8_t *p1 = tpc_td_canonical(7, 2, 3, &l1), *p2 = tpc_td_canonical(8, 2, 3, &l2);
	Tpclear__Answer *a, *b, *c, *q;

	tpc_td_start_or_fail(&d, NULL);
	void *s = tpc_td_connect(&d);
	a = tpc_td_submit(s, "hospital-a", "SAME", "canonical", p1, l1, NULL);
	expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	b = tpc_td_submit(s, "hospital-a", "SAME", "canonical", p1, l1, NULL);
	expect_result(b, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(b->result->replay, 1);
	cr_assert_eq(b->result->sequence, a->result->sequence);
	cr_assert_eq(b->result->committed_at, a->result->committed_at);
	cr_assert_eq(b->result->accepted_cents, a->result->accepted_cents);
	c = tpc_td_submit(s, "hospital-a", "SAME", "canonical", p2, l2, NULL);
	cr_assert_not_null(c);
	cr_assert_eq(c->body_case, TPCLEAR__ANSWER__BODY_CONFLICT);
	cr_assert_eq(c->conflict->sequence, a->result->sequence);
	/* another sender may use the same key: keys are scoped by sender (with CURVE, the
	 * sender is the one its key is registered as: another identity) */
	tpclear__answer__free_unpacked(c, NULL);
	{
		void *b2 = tpc_td_connect_as(&d, "hospital");

		c = tpc_td_submit(b2, "hospital-b", "SAME", "canonical", p2, l2, NULL);
		zmq_close(b2);
	}
	expect_result(c, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(c->result->replay, 0);
	/* query from a new connection, as after a reconnect */
	zmq_close(s);
	s = tpc_td_connect(&d);
	q = tpc_td_query(s, "hospital-a", "SAME");
	expect_result(q, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(q->result->sequence, a->result->sequence);
	cr_assert_eq(q->result->lines, 6);
	tpclear__answer__free_unpacked(q, NULL);
	{
		void *c2 = tpc_td_connect_as(&d, "gp");

		q = tpc_td_query(c2, "hospital-c", "SAME");
		zmq_close(c2);
	}
	cr_assert_not_null(q);
	cr_assert_eq(q->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(q->receipt->code, "T00012");
	tpclear__answer__free_unpacked(q, NULL);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"replayed\"}"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"conflict\"}"), 1);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(stored_sendings(), 2, "one ledger entry per (sender, key)");

	/* after a restart the stored answer is still served */
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	q = tpc_td_submit(s, "hospital-a", "SAME", "canonical", p1, l1, NULL);
	expect_result(q, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(q->result->replay, 1);
	cr_assert_eq(q->result->sequence, a->result->sequence);
	tpclear__answer__free_unpacked(q, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	tpclear__answer__free_unpacked(a, NULL);
	tpclear__answer__free_unpacked(b, NULL);
	tpclear__answer__free_unpacked(c, NULL);
	free(p1);
	free(p2);
}

static void expect_refusal(void *s, const char *code)
{
	Tpclear__Answer *a = tpc_td_recv(s, 10000, NULL, NULL);

	cr_assert_not_null(a, "no answer for %s", code);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED);
	cr_assert_str_eq(a->receipt->code, code);
	cr_assert_neq(strlen(a->receipt->reason), 0);
	tpclear__answer__free_unpacked(a, NULL);
}

Test(daemon, bad_envelopes_are_refused_with_codes_and_the_daemon_keeps_serving)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(3, 1, 1, &len);
	const void *frames[4];
	size_t lens[4];
	Tpclear__Answer *a;

	tpc_td_start_or_fail(&d, "[engine]\nmax_sending_bytes = 2K\n");
	void *s = tpc_td_connect(&d);
	/* garbage envelope */
	frames[0] = "\xff\xff\xff garbage";
	lens[0] = 12;
	frames[1] = p;
	lens[1] = len;
	cr_assert_eq(tpc_td_send_raw(s, frames, lens, 2), 0);
	expect_refusal(s, "T00001");
	/* a lone frame */
	cr_assert_eq(tpc_td_send_raw(s, frames, lens, 1), 0);
	expect_refusal(s, "T00002");
	/* too many frames */
	frames[2] = p;
	lens[2] = len;
	frames[3] = p;
	lens[3] = len;
	cr_assert_eq(tpc_td_send_raw(s, frames, lens, 4), 0);
	expect_refusal(s, "T00002");
	/* unknown format, empty payload, missing key, missing sender, oversized payload */
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", "k", "nosuch", 1, p, len),
	    0);
	expect_refusal(s, "T00003");
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", "k", "canonical", 2, "", 0),
	    0);
	expect_refusal(s, "T00014");
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", "", "canonical", 3, p, len),
	    0);
	expect_refusal(s, "T00006");
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "", "k", "canonical", 4, p, len),
	    0);
	expect_refusal(s, "T00008");
	{
		char big[4096];
		memset(big, 'x', sizeof(big));
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", "k",
		                         "canonical", 5, big, sizeof(big)),
		             0);
		expect_refusal(s, "T00005");
	}
	/* a payload that is not a canonical sending is cleared as refused, with a code */
	a = tpc_td_submit(s, "h", "junk", "canonical", "not a protobuf at all\xff", 22, NULL);
	expect_result(a, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_geq(a->result->n_findings, 1);
	cr_assert_str_eq(a->result->findings[0]->code, "T20001");
	tpclear__answer__free_unpacked(a, NULL);
	/* still serving */
	a = tpc_td_submit(s, "h", "fine", "canonical", p, len, NULL);
	expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_bad_requests_total"), 8);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

Test(daemon, many_senders_bursting_are_all_answered)
{
	enum { CLIENTS = 16, EACH = 40 };
	void *socks[CLIENTS];
	int finals[CLIENTS] = {0};
	int total = 0;
	size_t len;

	/* one sender id for every client: lift its in-flight bound (test_security.c tests it) */
	tpc_td_start_or_fail(&d, "[engine]\nqueue_depth = 1000\nmax_in_flight_per_sender = 1000\n");
	for (int c = 0; c < CLIENTS; c++) {
		socks[c] = tpc_td_connect(&d);
		for (int i = 0; i < EACH; i++) {
			char key[32];
			uint8_t *p = tpc_td_canonical((unsigned)(c * 1000 + i), 1, 3, &len);
			snprintf(key, sizeof(key), "c%d-%d", c, i);
			cr_assert_eq(tpc_td_send(socks[c], TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT,
			                         "burst", key, "canonical", (uint64_t)i, p, len),
			             0);
			free(p);
		}
	}
	/* every request gets a receipt then a result: 2 answers each */
	for (int round = 0; round < 2000 && total < CLIENTS * EACH; round++) {
		zmq_pollitem_t items[CLIENTS];
		for (int c = 0; c < CLIENTS; c++)
			items[c] = (zmq_pollitem_t){socks[c], 0, ZMQ_POLLIN, 0};
		if (zmq_poll(items, CLIENTS, 10000) <= 0)
			break;
		for (int c = 0; c < CLIENTS; c++) {
			Tpclear__Answer *a;
			while ((a = tpc_td_recv(socks[c], 0, NULL, NULL))) {
				if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
					cr_assert_eq(a->result->outcome,
					             TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
					finals[c]++;
					total++;
				} else {
					cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
					cr_assert_eq(a->receipt->status,
					             TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED);
				}
				tpclear__answer__free_unpacked(a, NULL);
			}
		}
	}
	cr_assert_eq(total, CLIENTS * EACH, "only %d results", total);
	/* group commit: far fewer transactions than sendings */
	long long commits = tpc_td_metric(&d, "tpclear_ledger_commits_total");
	cr_assert_gt(commits, 0);
	cr_assert_leq(commits, CLIENTS * EACH);
	for (int c = 0; c < CLIENTS; c++)
		zmq_close(socks[c]);
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(stored_sendings(), CLIENTS * EACH);
}

/* The same sending sent many times at once: several copies are judged before the first is
 * durable and the writer replays them; /metrics counts the lines of one sending only. */
Test(daemon, concurrent_copies_count_lines_once)
{
	enum { COPIES = 12 };
	size_t len;
	uint8_t *p = tpc_td_canonical(77, 2, 4, &len);
	int results = 0, fresh = 0;

	tpc_td_start_or_fail(&d, "[engine]\nmax_in_flight_per_sender = 100\n");
	void *s = tpc_td_connect(&d);
	for (int i = 0; i < COPIES; i++)
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "copies", "ONE",
		                         "canonical", (uint64_t)i, p, len),
		             0);
	while (results < COPIES) {
		Tpclear__Answer *a = tpc_td_recv(s, 30000, NULL, NULL);

		cr_assert_not_null(a, "%d results of %d", results, COPIES);
		if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
			cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
			cr_assert_eq(a->result->lines_accepted, 8);
			cr_assert_eq(a->result->sequence, 1);
			fresh += !a->result->replay;
			results++;
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(fresh, 1, "one copy is stored, the others replay it");
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"accepted\"}"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"replayed\"}"), COPIES - 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_lines_total{outcome=\"accepted\"}"), 8);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_invoices_total{outcome=\"accepted\"}"), 2);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(stored_sendings(), 1);
	free(p);
}

/* A burst of @p n canonical sendings of 10,000 lines each (~400 KB), keys PREFIX0.., seeds
 * from @p seed, sent on @p s without reading. */
static void send_burst(void *s, const char *sender, const char *prefix, unsigned seed, int n)
{
	for (int i = 0; i < n; i++) {
		char key[16];
		size_t len;
		uint8_t *p = tpc_td_canonical(seed + (unsigned)i, 40, 250, &len);

		snprintf(key, sizeof(key), "%s%d", prefix, i);
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, sender, key,
		                         "canonical", (uint64_t)i, p, len),
		             0);
		free(p);
	}
}

/* Read the answers of a burst of @p n until each is busy or has its result; every busy says
 * @p code (NULL: none) and a retry hint of @p retry_ms, or at least that with @p at_least.
 * Counts into @p c: busy, received, results. */
static void tally_burst(void *s, int n, const char *code, uint32_t retry_ms, int at_least, int c[3])
{
	while (c[0] + c[2] < n) {
		Tpclear__Answer *a = tpc_td_recv(s, 30000, NULL, NULL);

		cr_assert_not_null(a, "stalled: %d busy %d results", c[0], c[2]);
		if (tpc_td_tally(a, &c[0], &c[1], &c[2]) == 'B') {
			if (at_least)
				cr_assert_geq(a->receipt->retry_after_ms, retry_ms);
			else
				cr_assert_eq(a->receipt->retry_after_ms, retry_ms);
			if (code)
				cr_assert_str_eq(a->receipt->code, code);
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(c[2], c[1], "every received sending gets its result");
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"busy\"}"), c[0]);
}

Test(daemon, full_queue_answers_busy_with_a_retry_hint)
{
	int c[3] = {0}; /* busy, received, results */
	void *s;

	tpc_td_start_or_fail(&d, "[engine]\nworkers = 1\nqueue_depth = 2\nretry_after_ms = 123\n"
	                         "max_sending_bytes = 16M\n");
	s = tpc_td_connect(&d);
	send_burst(s, "bp", "b", 3000, 60);
	tally_burst(s, 60, NULL, 123, 0, c);
	cr_assert_gt(c[0], 0, "queue never filled");
	/* each busy answer by its reason: the queue here */
	cr_assert_eq(tpc_td_metric(&d, "tpclear_busy_refusals_total{reason=\"queue_full\"}"), c[0]);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_busy_refusals_total{reason=\"memory\"}"), 0);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Issue 15, overload: past [engine] max_payload_in_flight bytes of sendings in flight (the cap of
 * the admission bound, pipeline/admission.h) a new one is answered busy T00064 at once, never
 * queued, with a retry hint of at least retry_after_ms (the estimated time to answer what is in
 * flight: tests/integration/test_admission.c); every sending taken is answered, and the engine
 * takes sendings again as soon as the bytes fall under the bound. */
Test(daemon, payload_in_flight_bound_answers_busy_at_once)
{
	int c[3] = {0}, busy = 0, received = 0, results = 0;
	void *s;

	/* the 10,000-line sendings are ~400 KB each: one in flight is already at the bound */
	tpc_td_start_or_fail(&d, "[engine]\nworkers = 1\nmax_payload_in_flight = 64K\n"
	                         "retry_after_ms = 77\nmax_sending_bytes = 16M\n");
	s = tpc_td_connect(&d);
	send_burst(s, "op", "o", 5000, 20);
	tally_burst(s, 20, "T00064", 77, 1, c);
	cr_assert_gt(c[0], 0, "the bound was never reached");
	cr_assert_geq(c[1], 1);
	/* with nothing in flight any more, a sending is taken again */
	send_burst(s, "op", "again", 5999, 1);
	for (int got = 0; !got;) {
		Tpclear__Answer *a = tpc_td_recv(s, 30000, NULL, NULL);

		cr_assert_not_null(a);
		got = tpc_td_tally(a, &busy, &received, &results) == 'S';
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(busy, 0, "taken again once nothing is in flight");
	/* each busy answer by its reason: the payload bytes in flight here */
	cr_assert_eq(tpc_td_metric(&d, "tpclear_busy_refusals_total{reason=\"payload_in_flight\"}"),
	             c[0]);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Note a drained sending's answer: @p received[i] for a receipt of reception, @p answered[i]
 * for a result (i its correlation). @return 1 for a reception, 0 for a result, -1 otherwise. */
static int note_answer(const Tpclear__Answer *a, int *received, int *answered)
{
	int i = (int)a->correlation;

	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
	    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED) {
		received[i] = 1;
		return 1;
	}
	if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		answered[i] = 1;
		return 0;
	}
	return -1;
}

Test(daemon, sigterm_drains_every_received_sending)
{
	enum { N = 80 };
	size_t len;
	uint8_t *p[N];
	char keys[N][16];
	int received[N] = {0}, answered[N] = {0}, nrec = 0;
	void *s;

	tpc_td_start_or_fail(&d, "[engine]\nworkers = 1\nqueue_depth = 1000\n");
	s = tpc_td_connect(&d);
	for (int i = 0; i < N; i++) {
		p[i] = tpc_td_canonical((unsigned)(500 + i), 10, 100, &len);
		snprintf(keys[i], sizeof(keys[i]), "d%d", i);
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "drain", keys[i],
		                         "canonical", (uint64_t)i, p[i], len),
		             0);
	}
	/* stop as soon as the first receipt is in: most sendings are still queued */
	for (;;) {
		Tpclear__Answer *a = tpc_td_recv(s, 10000, NULL, NULL);
		cr_assert_not_null(a);
		nrec += note_answer(a, received, answered) > 0;
		tpclear__answer__free_unpacked(a, NULL);
		if (nrec)
			break;
	}
	kill(d.pid, SIGTERM);
	for (;;) {
		Tpclear__Answer *a = tpc_td_recv(s, 5000, NULL, NULL);
		if (!a)
			break;
		int k = note_answer(a, received, answered);

		nrec += k > 0;
		if (k < 0) {
			/* the only other answer while draining: "shutting down" */
			cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
			cr_assert_str_eq(a->receipt->code, "T00007");
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(tpc_td_stop(&d), 0, "tpcleard exits 0 after draining");
	zmq_close(s);
	for (int i = 0; i < N; i++)
		if (received[i])
			cr_assert(answered[i], "sending %d received but never answered", i);
	/* after restart every received sending is stored */
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	for (int i = 0; i < N; i++) {
		if (!received[i])
			continue;
		Tpclear__Answer *q = tpc_td_query(s, "drain", keys[i]);
		expect_result(q, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
		tpclear__answer__free_unpacked(q, NULL);
	}
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	for (int i = 0; i < N; i++)
		free(p[i]);
}

Test(daemon, map_grows_instead_of_losing_sendings)
{
	enum { N = 30 };
	size_t len;
	void *s;

	tpc_td_start_or_fail(&d, "[ledger]\nmap_size = 1M\nmap_max = 512M\n");
	s = tpc_td_connect(&d);
	for (int i = 0; i < N; i++) {
		char key[16];
		uint8_t *p = tpc_td_canonical((unsigned)(900 + i), 20, 100, &len);
		snprintf(key, sizeof(key), "m%d", i);
		Tpclear__Answer *a = tpc_td_submit(s, "grow", key, "canonical", p, len, NULL);
		expect_result(a, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
		tpclear__answer__free_unpacked(a, NULL);
		free(p);
	}
	cr_assert_gt(tpc_td_metric(&d, "tpclear_ledger_map_grows_total"), 0);
	cr_assert_gt(tpc_td_metric(&d, "tpclear_ledger_map_size_bytes"), 1 << 20);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(stored_sendings(), N);
}

Test(daemon, map_ceiling_refuses_cleanly_and_keeps_serving)
{
	size_t len;
	void *s;
	int full = 0;

	tpc_td_start_or_fail(
	    &d, "[ledger]\nmap_size = 1M\nmap_max = 2M\n[engine]\nmax_sending_bytes = 16M\n");
	s = tpc_td_connect(&d);
	for (int i = 0; i < 40 && !full; i++) {
		char key[16];
		uint8_t *p = tpc_td_canonical((unsigned)(1900 + i), 20, 100, &len);
		snprintf(key, sizeof(key), "f%d", i);
		Tpclear__Answer *a = tpc_td_submit(s, "full", key, "canonical", p, len, NULL);
		cr_assert_not_null(a);
		if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
			cr_assert_str_eq(a->receipt->code, "T00009");
			full = 1;
		}
		tpclear__answer__free_unpacked(a, NULL);
		free(p);
	}
	cr_assert(full, "the ceiling was never reached");
	cr_assert_gt(tpc_td_metric(&d, "tpclear_ledger_map_full_total"), 0);
	/* queries still work */
	Tpclear__Answer *q = tpc_td_query(s, "full", "f0");
	expect_result(q, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(q, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(daemon, plugins_are_loaded_or_refused_with_a_log_line)
{
	char ini[600];
	const char *dir = getenv("TPC_PLUGIN_DIR");
	Tpclear__Answer *a;

	cr_assert_not_null(dir);
	snprintf(ini, sizeof(ini), "[adapters]\ndir = %s\n", dir);
	tpc_td_start_or_fail(&d, ini);
	cr_assert(tpc_td_log_has(&d, "loaded: 'echo'"));
	cr_assert(tpc_td_log_has(&d, "ABI"));
	cr_assert(tpc_td_log_has(&d, "duplicate adapter name"));
	void *s = tpc_td_connect(&d);
	a = tpc_td_submit(s, "p", "e1", "echo", "hello", 5, NULL);
	/* the plugin decoded it (its made-up line then meets the real clearing rules) */
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_str_eq(a->result->format, "echo");
	cr_assert_geq(a->result->lines, 1);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_adapters"), 2, "built-ins and the good plugin");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(daemon, bad_configuration_stops_startup_naming_file_line_and_key)
{
	char cfg[300], cmd[900];
	char *t = tpc_test_tmpdir();
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/bad.ini", t);
	f = fopen(cfg, "w");
	fprintf(f, "[engine]\nworkers = 2\n\n[ledger]\nmap_sise = 1M\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --data-dir '%s/data' 2>'%s/err'",
	         getenv("TPC_TPCLEARD"), cfg, t, t);
	cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
	snprintf(cfg, sizeof(cfg), "%s/err", t);
	size_t len;
	unsigned char *err = tpc_test_slurp(cfg, &len);
	cr_assert_not_null(err);
	cr_assert(strstr((char *)err, "bad.ini:5"), "message: %s", err);
	cr_assert(strstr((char *)err, "map_sise"), "message: %s", err);
	free(err);
	tpc_test_rmtree(t);
	free(t);
}

/* kill -9 at a random moment while sendings are being cleared: after a restart every sending
 * that was answered with a Result is stored, exactly once, with the same sequence. */
Test(daemon, kill_9_loses_nothing_that_was_answered)
{
	enum { TRIALS = 50, N = 40 };
	unsigned seed = 12345;

	tpc_td_start_or_fail(&d, NULL);
	for (int trial = 0; trial < TRIALS; trial++) {
		uint64_t seqs[N] = {0};
		char keys[N][24];
		void *s = tpc_td_connect(&d);
		int answered = 0, stop_after;

		seed = seed * 1103515245u + 12345u;
		stop_after = 1 + (int)(seed >> 16) % (N - 1);
		for (int i = 0; i < N; i++) {
			snprintf(keys[i], sizeof(keys[i]), "k9-%d-%d", trial, i);
			tpc_td_send_canonical(s, "crash", keys[i], (uint64_t)i,
			                      (unsigned)(10000 + trial * 100 + i), 2, 20);
		}
		/* collect results until a random count, then kill the daemon mid-stream */
		while (answered < stop_after) {
			Tpclear__Answer *a = tpc_td_recv(s, 10000, NULL, NULL);
			cr_assert_not_null(a);
			if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
				seqs[a->correlation] = a->result->sequence;
				answered++;
			}
			tpclear__answer__free_unpacked(a, NULL);
		}
		tpc_td_kill9(&d);
		zmq_close(s);
		cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0, "restart after kill -9");
		s = tpc_td_connect(&d);
		for (int i = 0; i < N; i++) {
			if (!seqs[i])
				continue;
			Tpclear__Answer *q = tpc_td_query(s, "crash", keys[i]);
			cr_assert_not_null(q);
			cr_assert_eq(q->body_case, TPCLEAR__ANSWER__BODY_RESULT,
			             "trial %d: answered sending %d lost", trial, i);
			cr_assert_eq(q->result->sequence, seqs[i], "same sequence after restart");
			tpclear__answer__free_unpacked(q, NULL);
		}
		/* resubmitting everything stores each (sender, key) once */
		for (int i = 0; i < N; i++) {
			size_t len;
			uint8_t *p =
			    tpc_td_canonical((unsigned)(10000 + trial * 100 + i), 2, 20, &len);
			Tpclear__Answer *a =
			    tpc_td_submit(s, "crash", keys[i], "canonical", p, len, NULL);

			cr_assert_not_null(a);
			cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
			if (seqs[i])
				cr_assert_eq(a->result->replay, 1);
			tpclear__answer__free_unpacked(a, NULL);
			free(p);
		}
		zmq_close(s);
	}
	cr_assert_eq(tpc_td_stop(&d), 0);
	cr_assert_eq(stored_sendings(), TRIALS * N);
}
