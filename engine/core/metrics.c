/* engine/core/metrics.c - per-thread counter shards and the Prometheus renderer (see metrics.h).
 *
 * DESIGN: each writing thread (workers, the ledger writer, the loop thread, the ZAP thread) owns
 * one shard and is its only writer; the loop thread sums the shards when /metrics is scraped.
 * Every access is a relaxed atomic: a counter is a number on its own, nothing is published
 * through it, so no ordering between counters (or with the data they count) is needed. The
 * price is that one scrape is not a consistent cut: two counters read a microsecond apart may
 * disagree by an event in flight. */
#include "core/metrics.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tpc_metrics_shard {
	_Atomic uint64_t counters[TPC_M__COUNT];
	_Atomic uint64_t latency_buckets[TPC_LATENCY_NBUCKETS + 1]; /* last = +Inf */
	_Atomic uint64_t latency_sum_us;
	_Atomic uint64_t latency_count;
	char pad[64]; /* keep neighbouring shards off each other's cache lines (false sharing
	               * would make every worker's bump a cache-line transfer) */
};

struct tpc_metrics {
	int max;
	_Atomic int used; /* shards handed out; may pass max by the failed requests */
	struct tpc_metrics_shard *shards;
};

static const uint64_t latency_bounds[TPC_LATENCY_NBUCKETS] = TPC_LATENCY_BUCKETS_US;

int tpc_metrics_new(int max_shards, tpc_metrics_t **out)
{
	/* aligned_alloc wants a size that is a multiple of the alignment */
	size_t bytes = (sizeof(struct tpc_metrics_shard) * (size_t)max_shards + 63) & ~(size_t)63;
	tpc_metrics_t *m = calloc(1, sizeof(*m));

	if (!m)
		return TPC_ENOMEM;
	/* 64-byte aligned so shard 0 starts on a cache line; pad then keeps the others apart */
	m->shards = aligned_alloc(64, bytes);
	if (!m->shards) {
		free(m);
		return TPC_ENOMEM;
	}
	memset(m->shards, 0, bytes);
	m->max = max_shards;
	*out = m;
	return 0;
}

void tpc_metrics_free(tpc_metrics_t **mp)
{
	if (!mp || !*mp)
		return;
	free((*mp)->shards);
	free(*mp);
	*mp = NULL;
}

tpc_metrics_shard_t *tpc_metrics_shard(tpc_metrics_t *m)
{
	/* Threads take their shard as they start, possibly at once: fetch_add hands each a distinct
	 * index without a lock. A thread that comes too late gets NULL (callers check) and used
	 * stays past max, which is why the readers clamp it. */
	int i = atomic_fetch_add(&m->used, 1);

	if (i >= m->max)
		return NULL;
	return &m->shards[i];
}

void tpc_metrics_add(tpc_metrics_shard_t *s, enum tpc_metric id, uint64_t n)
{
	atomic_fetch_add_explicit(&s->counters[id], n, memory_order_relaxed);
}

void tpc_metrics_observe_latency(tpc_metrics_shard_t *s, uint64_t us)
{
	int b = 0;

	/* Per-bucket counts, made cumulative only at render time, so an observation touches one
	 * bucket instead of every bucket above it. "us > bound" puts a value equal to a bound in
	 * that bound's bucket: Prometheus' le is "less than or equal". */
	while (b < TPC_LATENCY_NBUCKETS && us > latency_bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->latency_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->latency_count, 1, memory_order_relaxed);
}

uint64_t tpc_metrics_get(const tpc_metrics_t *m, enum tpc_metric id)
{
	uint64_t sum = 0;
	int n = atomic_load(&m->used);

	if (n > m->max)
		n = m->max;
	for (int i = 0; i < n; i++)
		sum += atomic_load_explicit(&m->shards[i].counters[id], memory_order_relaxed);
	return sum;
}

struct out {
	char *buf;
	size_t cap, len;
};

/* Once the buffer is full, vsnprintf(NULL, 0) keeps measuring without writing, so the returned
 * length is the size needed (metrics.h) and the caller can tell it got a truncated text. */
static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL,
	              o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	emit(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
	     (unsigned long long)v);
}

size_t tpc_metrics_render(const tpc_metrics_t *m, const tpc_metrics_gauges_t *g, char *buf,
                          size_t cap)
{
	struct out o = {buf, cap, 0};
	const char *prev = "";
	uint64_t buckets[TPC_LATENCY_NBUCKETS + 1] = {0}, sum = 0, count = 0, cum = 0;
	int n = atomic_load(&m->used);

	if (n > m->max)
		n = m->max;
		/* HELP and TYPE once per family, as the exposition format requires; this relies on
		 * the entries of a family being adjacent in TPC_METRIC_COUNTERS (metrics.h says
		 * so). */
#define X(id, family, labels, help)                                                                \
	if (strcmp(prev, family) != 0) {                                                           \
		emit(&o, "# HELP %s %s\n# TYPE %s counter\n", family, help, family);               \
		prev = family;                                                                     \
	}                                                                                          \
	emit(&o, "%s%s%s%s %llu\n", family, *labels ? "{" : "", labels, *labels ? "}" : "",        \
	     (unsigned long long)tpc_metrics_get(m, TPC_M_##id));
	TPC_METRIC_COUNTERS(X)
#undef X
	for (int i = 0; i < n; i++) {
		for (int b = 0; b <= TPC_LATENCY_NBUCKETS; b++)
			buckets[b] += atomic_load_explicit(&m->shards[i].latency_buckets[b],
			                                   memory_order_relaxed);
		sum += atomic_load_explicit(&m->shards[i].latency_sum_us, memory_order_relaxed);
		count += atomic_load_explicit(&m->shards[i].latency_count, memory_order_relaxed);
	}
	emit(&o, "# HELP tpclear_batch_latency_seconds Time from receipt to answer of a sending\n"
	         "# TYPE tpclear_batch_latency_seconds histogram\n");
	for (int b = 0; b < TPC_LATENCY_NBUCKETS; b++) {
		cum += buckets[b];
		emit(&o, "tpclear_batch_latency_seconds_bucket{le=\"%g\"} %llu\n",
		     (double)latency_bounds[b] / 1e6, (unsigned long long)cum);
	}
	/* +Inf and _count are summed from separate counters, so a scrape racing an observation may
	 * see them differ by one; the next scrape agrees again. */
	cum += buckets[TPC_LATENCY_NBUCKETS];
	emit(&o, "tpclear_batch_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
	     (unsigned long long)cum);
	emit(&o, "tpclear_batch_latency_seconds_sum %.6f\n", (double)sum / 1e6);
	emit(&o, "tpclear_batch_latency_seconds_count %llu\n", (unsigned long long)count);
	if (g) {
		gauge(&o, "tpclear_job_queue_depth", "Sendings waiting for a worker",
		      g->job_queue_depth);
		gauge(&o, "tpclear_job_queue_capacity", "Bound of the job queue",
		      g->job_queue_capacity);
		gauge(&o, "tpclear_ledger_queue_depth",
		      "Judged sendings waiting for the ledger writer", g->ledger_queue_depth);
		gauge(&o, "tpclear_in_flight", "Sendings received and not yet answered",
		      g->in_flight);
		gauge(&o, "tpclear_ledger_map_size_bytes", "Current LMDB map size",
		      g->map_size_bytes);
		gauge(&o, "tpclear_workers", "Worker threads", g->workers);
		gauge(&o, "tpclear_adapters", "Adapters loaded (built-in and plugins)",
		      g->adapters);
		gauge(&o, "tpclear_uptime_seconds", "Seconds since start", g->uptime_seconds);
		gauge(&o, "tpclear_disk_full",
		      "1 while sendings are refused because the ledger's disk is full (T00050)",
		      g->disk_full);
		if (g->nstore_damaged)
			emit(&o, "# HELP tpclear_store_damaged_total Stored records found damaged "
			         "(checksum mismatch) and not served (T00055)\n"
			         "# TYPE tpclear_store_damaged_total counter\n");
		for (unsigned i = 0; i < g->nstore_damaged && i < 8; i++)
			emit(&o, "tpclear_store_damaged_total{db=\"%s\"} %llu\n",
			     g->store_damaged_db[i], (unsigned long long)g->store_damaged[i]);
	}
	return o.len;
}
