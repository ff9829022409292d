/* tests/unit/core/test_metrics.c - counter shards and the Prometheus text (engine/core/metrics.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

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
