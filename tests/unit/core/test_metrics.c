/* tests/unit/core/test_metrics.c - counter shards and the Prometheus text (engine/core/metrics.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "testutil.h"

TestSuite(metrics, .timeout = 60);

#define NTHREADS   4
#define PER_THREAD 50000

struct bumper {
	tpc_metrics_t *m;
	int got_shard;
};

static void *bump(void *arg)
{
	struct bumper *b = arg;
	tpc_metrics_shard_t *s = tpc_metrics_shard(b->m);

	b->got_shard = s != NULL;
	if (!s)
		return NULL;
	for (int i = 0; i < PER_THREAD; i++) {
		tpc_metrics_add(s, TPC_M_sendings_received, 1);
		if (i % 10 == 0)
			tpc_metrics_add(s, TPC_M_lines_accepted, 7);
	}
	tpc_metrics_observe_latency(s, 1500);
	return NULL;
}

Test(metrics, counters_sum_over_shards_of_several_threads)
{
	tpc_metrics_t *m = NULL;
	struct bumper b[NTHREADS];
	pthread_t t[NTHREADS];

	cr_assert_eq(tpc_metrics_new(NTHREADS + 1, &m), 0);
	for (int i = 0; i < NTHREADS; i++) {
		b[i] = (struct bumper){m, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, bump, &b[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		cr_assert(b[i].got_shard, "thread %d got no shard", i);
	cr_assert_eq(tpc_metrics_get(m, TPC_M_sendings_received), (uint64_t)NTHREADS * PER_THREAD);
	cr_assert_eq(tpc_metrics_get(m, TPC_M_lines_accepted),
	             (uint64_t)NTHREADS * (PER_THREAD / 10) * 7);
	cr_assert_eq(tpc_metrics_get(m, TPC_M_lines_refused), 0);

	/* the main thread's own shard adds to the same sums */
	tpc_metrics_shard_t *mine = tpc_metrics_shard(m);
	cr_assert_not_null(mine);
	tpc_metrics_add(mine, TPC_M_sendings_received, 5);
	cr_assert_eq(tpc_metrics_get(m, TPC_M_sendings_received),
	             (uint64_t)NTHREADS * PER_THREAD + 5);
	tpc_metrics_free(&m);
	cr_assert_null(m);
	tpc_metrics_free(&m); /* NULL-safe */
}

Test(metrics, shards_run_out)
{
	tpc_metrics_t *m = NULL;

	cr_assert_eq(tpc_metrics_new(2, &m), 0);
	cr_assert_not_null(tpc_metrics_shard(m));
	cr_assert_not_null(tpc_metrics_shard(m));
	cr_assert_null(tpc_metrics_shard(m), "a third shard from a registry of two");
	cr_assert_null(tpc_metrics_shard(m));
	/* sums still work once the registry is over-asked */
	cr_assert_eq(tpc_metrics_get(m, TPC_M_queries), 0);
	tpc_metrics_free(&m);
}

/* Number of occurrences of @p needle in @p hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Does @p text hold the line @p line exactly? */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
			return 1;
	return 0;
}

static tpc_metrics_t *filled(void)
{
	tpc_metrics_t *m = NULL;
	tpc_metrics_shard_t *a, *b;

	cr_assert_eq(tpc_metrics_new(4, &m), 0);
	a = tpc_metrics_shard(m);
	b = tpc_metrics_shard(m);
	cr_assert(a && b);
	tpc_metrics_add(a, TPC_M_sendings_received, 3);
	tpc_metrics_add(b, TPC_M_sendings_received, 4);
	tpc_metrics_add(b, TPC_M_sendings_busy, 5);
	tpc_metrics_add(a, TPC_M_queries, 11);
	tpc_metrics_add(a, TPC_M_ledger_commits, 2);
	/* latencies: 100us and 500us (le 0.0005), 700us (le 0.001), 3ms (le 0.005), 10s (+Inf) */
	tpc_metrics_observe_latency(a, 100);
	tpc_metrics_observe_latency(b, 500);
	tpc_metrics_observe_latency(a, 700);
	tpc_metrics_observe_latency(b, 3000);
	tpc_metrics_observe_latency(a, 10000000);
	return m;
}

static const tpc_metrics_gauges_t gauges = {
    .job_queue_depth = 17,
    .job_queue_capacity = 256,
    .ledger_queue_depth = 3,
    .in_flight = 20,
    .map_size_bytes = 1048576,
    .workers = 4,
    .adapters = 2,
    .uptime_seconds = 99,
};

Test(metrics, render_families_series_histogram_and_gauges)
{
	tpc_metrics_t *m = filled();
	size_t cap = 64 * 1024, n;
	char *buf = malloc(cap), *line, *save;
	char types[64][128];
	int ntypes = 0;
	uint64_t prev = 0, inf = 0, cnt = 0;
	int nbuckets = 0;

	cr_assert_not_null(buf);
	n = tpc_metrics_render(m, &gauges, buf, cap);
	cr_assert_lt(n, cap);
	cr_assert_eq(strlen(buf), n);

	/* one HELP and one TYPE per family, however many labelled series it has */
	cr_assert_eq(count(buf, "# HELP tpclear_sendings_total "), 1);
	cr_assert_eq(count(buf, "# TYPE tpclear_sendings_total counter\n"), 1);
	cr_assert_eq(count(buf, "# HELP tpclear_lines_total "), 1);
	cr_assert_eq(count(buf, "# TYPE tpclear_batch_latency_seconds histogram\n"), 1);
	/* the labelled and unlabelled series, summed over shards */
	cr_assert(has_line(buf, "tpclear_sendings_total{outcome=\"received\"} 7"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_sendings_total{outcome=\"busy\"} 5"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_sendings_total{outcome=\"failed\"} 0"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_queries_total 11"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_ledger_commits_total 2"), "%s", buf);
	/* the histogram */
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"0.0005\"} 2"), "%s",
	          buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"0.001\"} 3"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"0.002\"} 3"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"0.005\"} 4"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"5\"} 4"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_bucket{le=\"+Inf\"} 5"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_count 5"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_batch_latency_seconds_sum 10.004300"), "%s", buf);
	/* the gauges */
	cr_assert(has_line(buf, "# TYPE tpclear_job_queue_depth gauge"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_job_queue_depth 17"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_job_queue_capacity 256"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_ledger_queue_depth 3"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_in_flight 20"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_ledger_map_size_bytes 1048576"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_workers 4"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_adapters 2"), "%s", buf);
	cr_assert(has_line(buf, "tpclear_uptime_seconds 99"), "%s", buf);

	/* every TYPE line names a distinct family; buckets never decrease; +Inf == count */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long v;

		if (strncmp(line, "# TYPE ", 7) == 0) {
			cr_assert_lt(ntypes, 64);
			sscanf(line + 7, "%127s", types[ntypes]);
			for (int i = 0; i < ntypes; i++)
				cr_assert_str_neq(types[i], types[ntypes], "TYPE %s twice",
				                  types[i]);
			ntypes++;
		} else if (strncmp(line, "tpclear_batch_latency_seconds_bucket{", 37) == 0) {
			cr_assert_eq(sscanf(strchr(line, '}') + 1, "%llu", &v), 1);
			cr_assert_geq(v, prev, "bucket decreases at %s", line);
			prev = v;
			nbuckets++;
			if (strstr(line, "+Inf"))
				inf = v;
		} else if (sscanf(line, "tpclear_batch_latency_seconds_count %llu", &v) == 1) {
			cnt = v;
		}
	}
	cr_assert_eq(nbuckets, TPC_LATENCY_NBUCKETS + 1);
	cr_assert_eq(inf, cnt);
	cr_assert_geq(ntypes, 8 + 1 + 1, "counter families, the histogram and gauges");
	free(buf);
	tpc_metrics_free(&m);
}

Test(metrics, render_without_gauges_omits_them)
{
	tpc_metrics_t *m = filled();
	char buf[16384];
	size_t n = tpc_metrics_render(m, NULL, buf, sizeof(buf));

	cr_assert_lt(n, sizeof(buf));
	cr_assert_null(strstr(buf, "tpclear_workers"));
	cr_assert_not_null(strstr(buf, "tpclear_sendings_total"));
	tpc_metrics_free(&m);
}

Test(metrics, render_into_a_small_buffer_returns_the_size_needed)
{
	tpc_metrics_t *m = filled();
	char small[32];
	size_t need, n;
	char *buf;

	need = tpc_metrics_render(m, &gauges, NULL, 0);
	cr_assert_gt(need, 1000);
	memset(small, 'x', sizeof(small));
	n = tpc_metrics_render(m, &gauges, small, sizeof(small));
	cr_assert_eq(n, need);
	cr_assert_lt(strnlen(small, sizeof(small)), sizeof(small), "not NUL-terminated");

	buf = malloc(need + 1);
	cr_assert_not_null(buf);
	n = tpc_metrics_render(m, &gauges, buf, need + 1);
	cr_assert_eq(n, need);
	cr_assert_eq(strlen(buf), need);
	cr_assert_eq(strncmp(buf, small, strlen(small)), 0, "the truncated text is a prefix");
	free(buf);
	tpc_metrics_free(&m);
}

/* ---- issue 16: labelled counters, more histograms, build info, the process, promtool ---- */

static const char *const scheme_names[] = {"none", "AMI", "DETENTION"};
static const char *const budget_names[] = {"none", "AMI", "SPPIS", NULL, "JUSTICE"};

static tpc_metrics_t *filled_more(void)
{
	tpc_metrics_t *m = filled();
	tpc_metrics_shard_t *s = tpc_metrics_shard(m);
	tpc_metrics_lines_t by_scheme[3] = {{0, 2, 0, 0}, {5, 1, 12345, 0}, {1, 0, 100, 40}};
	tpc_metrics_lines_t by_budget[5] = {
	    {0, 2, 0, 0}, {6, 1, 12000, 40}, {0}, {0}, {0, 0, 7, 0}};

	cr_assert_not_null(s);
	tpc_metrics_name_values(m, TPC_MDIM_SCHEME, scheme_names, 3);
	tpc_metrics_name_values(m, TPC_MDIM_BUDGET, budget_names, 5);
	tpc_metrics_add_lines(s, TPC_MDIM_SCHEME, by_scheme, 3);
	tpc_metrics_add_lines(s, TPC_MDIM_SCHEME, by_scheme, 3); /* a second sending */
	tpc_metrics_add_lines(s, TPC_MDIM_BUDGET, by_budget, 5);
	tpc_metrics_add_vec(s, TPC_MV_budget_paid_cents, 2, 999);
	tpc_metrics_add_vec(s, TPC_MV_budget_paid_cents, TPC_METRIC_DIM_MAX, 1); /* ignored */
	tpc_metrics_add(s, TPC_M_busy_memory, 3);
	/* a group commit of 3 jobs in 1.2 ms, one of 1 job in 80 us */
	tpc_metrics_observe(s, TPC_H_commit_duration, 1200);
	tpc_metrics_observe(s, TPC_H_commit_group, 3);
	tpc_metrics_observe(s, TPC_H_commit_duration, 80);
	tpc_metrics_observe(s, TPC_H_commit_group, 1);
	return m;
}

static char *render_all(const tpc_metrics_t *m, size_t *len)
{
	tpc_metrics_gauges_t g = gauges;
	size_t need;
	char *buf;

	g.map_max_bytes = 1u << 30;
	g.map_used_bytes = 4096 * 3;
	g.readers_used = 2;
	g.readers_max = 126;
	g.nstore_damaged = 1;
	g.store_damaged_db[0] = "answers";
	g.lmdb_version = "LMDB 0.9.24: (July 24, 2019)";
	g.zmq_version = "4.3.4";
	g.libevent_version = "2.1.12-stable";
	tpc_metrics_process(&g.process);
	need = tpc_metrics_render(m, &g, NULL, 0);
	buf = malloc(need + 1);
	cr_assert_not_null(buf);
	*len = tpc_metrics_render(m, &g, buf, need + 1);
	cr_assert_eq(*len, need);
	return buf;
}

Test(metrics, labelled_counters_by_scheme_and_budget)
{
	tpc_metrics_t *m = filled_more();
	size_t n;
	char *buf = render_all(m, &n);

	cr_assert(
	    has_line(buf, "tpclear_scheme_lines_total{scheme=\"AMI\",outcome=\"accepted\"} 10"),
	    "%s", buf);
	cr_assert(
	    has_line(buf, "tpclear_scheme_lines_total{scheme=\"AMI\",outcome=\"refused\"} 2"));
	cr_assert(
	    has_line(buf, "tpclear_scheme_lines_total{scheme=\"none\",outcome=\"refused\"} 4"));
	cr_assert(has_line(buf, "tpclear_scheme_accepted_cents_total{scheme=\"AMI\"} 24690"));
	cr_assert(has_line(buf, "tpclear_scheme_credited_cents_total{scheme=\"DETENTION\"} 80"));
	cr_assert(has_line(buf, "tpclear_budget_accepted_cents_total{budget=\"JUSTICE\"} 7"));
	cr_assert(has_line(buf, "tpclear_budget_paid_cents_total{budget=\"SPPIS\"} 999"));
	/* a NULL name is not rendered; one HELP per family */
	cr_assert_null(strstr(buf, "budget=\"(null)\""));
	cr_assert_eq(count(buf, "tpclear_budget_lines_total{budget=\"AMI\""), 2);
	cr_assert_eq(count(buf, "# TYPE tpclear_scheme_lines_total counter\n"), 1);
	cr_assert_eq(tpc_metrics_get_vec(m, TPC_MV_scheme_lines_accepted, 1), 10);
	cr_assert_eq(tpc_metrics_get_vec(m, TPC_MV_budget_paid_cents, TPC_METRIC_DIM_MAX), 0);
	cr_assert(has_line(buf, "tpclear_busy_refusals_total{reason=\"memory\"} 3"));
	free(buf);
	tpc_metrics_free(&m);
}

Test(metrics, commit_histograms_build_info_and_store_damage)
{
	tpc_metrics_t *m = filled_more();
	size_t n;
	char *buf = render_all(m, &n);

	cr_assert(has_line(buf, "# TYPE tpclear_ledger_commit_duration_seconds histogram"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_duration_seconds_bucket{le=\"0.0001\"} 1"),
	          "%s", buf);
	cr_assert(has_line(buf, "tpclear_ledger_commit_duration_seconds_bucket{le=\"0.001\"} 1"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_duration_seconds_bucket{le=\"0.0025\"} 2"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_duration_seconds_sum 0.001280"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_group_size_bucket{le=\"1\"} 1"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_group_size_bucket{le=\"2\"} 1"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_group_size_bucket{le=\"4\"} 2"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_group_size_sum 4"));
	cr_assert(has_line(buf, "tpclear_ledger_commit_group_size_count 2"));
	/* build info: one series, value 1, the library versions as given */
	cr_assert_not_null(
	    strstr(buf, "\ntpclear_build_info{version=\"" TPC_VERSION "\",revision=\""));
	cr_assert_not_null(strstr(buf, ",lmdb=\"LMDB 0.9.24: (July 24, 2019)\",zeromq=\"4.3.4\","
	                               "libevent=\"2.1.12-stable\"} 1\n"),
	                   "%s", buf);
	cr_assert(has_line(buf, "tpclear_store_damaged_total{db=\"answers\"} 0"));
	cr_assert(has_line(buf, "tpclear_ledger_map_used_bytes 12288"));
	cr_assert(has_line(buf, "tpclear_ledger_readers_max 126"));
	free(buf);
	tpc_metrics_free(&m);
}

Test(metrics, label_values_are_escaped)
{
	tpc_metrics_t *m = filled();
	static const char *const odd[] = {"none", "A\"B\\C\nD"};
	tpc_metrics_gauges_t g = gauges;
	char buf[65536];

	tpc_metrics_name_values(m, TPC_MDIM_SCHEME, odd, 2);
	g.zmq_version = "4\"3";
	cr_assert_lt(tpc_metrics_render(m, &g, buf, sizeof(buf)), sizeof(buf));
	cr_assert(
	    has_line(buf, "tpclear_scheme_accepted_cents_total{scheme=\"A\\\"B\\\\C\\nD\"} 0"),
	    "%s", buf);
	cr_assert_not_null(strstr(buf, "zeromq=\"4\\\"3\""));
	tpc_metrics_free(&m);
}

Test(metrics, process_is_read_from_proc)
{
	tpc_metrics_process_t a, b;
	int fd;
	double now = (double)time(NULL);
	volatile double x = 0;

	tpc_metrics_process(&a);
	cr_assert(a.ok, "/proc/self/stat unreadable");
	cr_assert_gt(a.resident_bytes, 100 * 1024);
	cr_assert_geq(a.virtual_bytes, a.resident_bytes);
	cr_assert_geq(a.open_fds, 3);
	cr_assert_geq(a.max_fds, a.open_fds);
	/* started a moment ago (the test runner forks each test) */
	cr_assert(a.start_time_seconds > now - 600 && a.start_time_seconds <= now + 2,
	          "start %.2f, now %.0f", a.start_time_seconds, now);
	/* one more descriptor is seen; CPU time does not go back */
	fd = dup(0);
	cr_assert_geq(fd, 0);
	for (long i = 0; i < 20000000; i++)
		x += (double)i;
	tpc_metrics_process(&b);
	close(fd);
	cr_assert_eq(b.open_fds, a.open_fds + 1);
	cr_assert_geq(b.cpu_seconds, a.cpu_seconds);
	cr_assert_eq(b.start_time_seconds, a.start_time_seconds);
}

/* Every family /metrics renders is listed in docs/metrics.md (as `name`). */
Test(metrics, every_family_is_documented)
{
	tpc_metrics_t *m = filled_more();
	size_t n, dlen;
	char *buf = render_all(m, &n), *line, *save;
	char *doc = (char *)tpc_test_slurp(tpc_test_src("docs/metrics.md"), &dlen);
	int families = 0;

	cr_assert_not_null(doc);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], quoted[140];

		if (sscanf(line, "# TYPE %127s", name) != 1)
			continue;
		snprintf(quoted, sizeof(quoted), "`%s", name);
		cr_assert_not_null(strstr(doc, quoted), "%s is not in docs/metrics.md", name);
		families++;
	}
	cr_assert_geq(families, 40);
	free(doc);
	free(buf);
	tpc_metrics_free(&m);
}

/* The text passes promtool's own linter (`promtool check metrics`: names, units, suffixes,
 * HELP), when the Debian package prometheus is installed (deploy/deps.sh). */
Test(metrics, promtool_accepts_the_text)
{
	tpc_metrics_t *m = filled_more();
	size_t n;
	char *buf = render_all(m, &n), out[4096];
	int st = tpc_test_promtool_metrics(buf, out, sizeof(out));

	free(buf);
	tpc_metrics_free(&m);
	if (st < 0)
		cr_skip_test("promtool not installed (Debian package prometheus): not checked");
	cr_assert_eq(st, 0, "promtool check metrics: %s", out);
	cr_assert_str_empty(out, "promtool check metrics complains: %s", out);
}
