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

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The build's revision (git describe at configure time, CMakeLists.txt); a source tree without
 * git says "unknown". */
#ifndef TPC_REVISION
#define TPC_REVISION "unknown"
#endif

struct hist {
	_Atomic uint64_t buckets[TPC_HIST_MAXB + 1]; /* per bucket (not cumulative); last = +Inf */
	_Atomic uint64_t sum, count;
};

struct tpc_metrics_shard {
	_Atomic uint64_t counters[TPC_M__COUNT];
	_Atomic uint64_t vec[TPC_MV__COUNT][TPC_METRIC_DIM_MAX];
	struct hist hist[TPC_H__COUNT];
	char pad[64]; /* keep neighbouring shards off each other's cache lines (false sharing
	               * would make every worker's bump a cache-line transfer) */
};

struct tpc_metrics {
	int max;
	_Atomic int used; /* shards handed out; may pass max by the failed requests */
	struct tpc_metrics_shard *shards;
	const char *const *names[TPC_MDIM__COUNT]; /* label values per dimension (borrowed) */
	unsigned nnames[TPC_MDIM__COUNT];
};

/* One histogram: its name, help, the divisor from the observed unit to the rendered one, and
 * its upper bounds in the observed unit, ascending. */
static const struct hist_def {
	const char *name, *help;
	double scale;
	unsigned n;
	uint64_t bounds[TPC_HIST_MAXB];
} hist_defs[TPC_H__COUNT] = {
    [TPC_H_batch_latency] = {"tpclear_batch_latency_seconds",
                             "Time from receipt to answer of a sending", 1e6, TPC_LATENCY_NBUCKETS,
                             TPC_LATENCY_BUCKETS_US},
    /* a group commit on a disk that syncs: a few hundred microseconds to tens of ms; the top
     * buckets are where an alert looks (a slow disk, a huge group) */
    [TPC_H_commit_duration] = {"tpclear_ledger_commit_duration_seconds",
                               "Time to write and commit one ledger write transaction "
                               "(a group of sendings)",
                               1e6,
                               12,
                               {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                                250000, 1000000}},
    /* powers of two up to the largest [engine] group_max worth having */
    [TPC_H_commit_group] = {"tpclear_ledger_commit_group_size",
                            "Jobs (sendings, reference data loads) written per ledger write "
                            "transaction",
                            1,
                            10,
                            {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}},
/* the stages of a committed sending, each 0.1 ms to 1 s like a commit: a stage of the 1k tail
 * (tens of ms) lands in the upper half, where the buckets are */
#define STAGE_US                                                                                   \
	{                                                                                          \
		100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000      \
	}
    [TPC_H_stage_wait_worker] = {"tpclear_stage_wait_worker_seconds",
                                 "Time a committed sending waited for a worker", 1e6, 12, STAGE_US},
    [TPC_H_stage_judge] = {"tpclear_stage_judge_seconds",
                           "Time a worker took to judge a committed sending", 1e6, 12, STAGE_US},
    [TPC_H_stage_wait_writer] = {"tpclear_stage_wait_writer_seconds",
                                 "Time a judged sending waited for its group's commit to start",
                                 1e6, 12, STAGE_US},
    [TPC_H_stage_commit] = {"tpclear_stage_commit_seconds",
                            "Time of the group commit a sending was in, per sending", 1e6, 12,
                            STAGE_US},
    [TPC_H_stage_answer] = {"tpclear_stage_answer_seconds",
                            "Time from a sending's durable commit to its answer sent", 1e6, 12,
                            STAGE_US},
#undef STAGE_US
};

static const struct vec_def {
	const char *family, *labels, *help;
	enum tpc_metric_dim dim;
} vec_defs[TPC_MV__COUNT] = {
#define X(id, family, dim, labels, help) {family, labels, help, TPC_MDIM_##dim},
    TPC_METRIC_VECTORS(X)
#undef X
};

static const char *const dim_labels[TPC_MDIM__COUNT] = {"scheme", "budget"};

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

void tpc_metrics_name_values(tpc_metrics_t *m, enum tpc_metric_dim dim, const char *const *names,
                             unsigned n)
{
	m->names[dim] = names;
	m->nnames[dim] = n < TPC_METRIC_DIM_MAX ? n : TPC_METRIC_DIM_MAX;
}

void tpc_metrics_add(tpc_metrics_shard_t *s, enum tpc_metric id, uint64_t n)
{
	atomic_fetch_add_explicit(&s->counters[id], n, memory_order_relaxed);
}

void tpc_metrics_add_vec(tpc_metrics_shard_t *s, enum tpc_metric_vec id, unsigned index, uint64_t n)
{
	if (index < TPC_METRIC_DIM_MAX && n)
		atomic_fetch_add_explicit(&s->vec[id][index], n, memory_order_relaxed);
}

void tpc_metrics_add_lines(tpc_metrics_shard_t *s, enum tpc_metric_dim dim,
                           const tpc_metrics_lines_t *v, unsigned n)
{
	/* the four families of a dimension, in the order of TPC_METRIC_VECTORS */
	enum tpc_metric_vec first =
	    dim == TPC_MDIM_SCHEME ? TPC_MV_scheme_lines_accepted : TPC_MV_budget_lines_accepted;

	for (unsigned i = 0; i < n && i < TPC_METRIC_DIM_MAX; i++) {
		/* most values see nothing of a given sending: skip them without an atomic (a share
		 * budget may see cents without lines: the line is counted under its budget) */
		if (!v[i].accepted && !v[i].refused && !v[i].accepted_cents && !v[i].credited_cents)
			continue;
		tpc_metrics_add_vec(s, first, i, v[i].accepted);
		tpc_metrics_add_vec(s, first + 1, i, v[i].refused);
		tpc_metrics_add_vec(s, first + 2, i, v[i].accepted_cents);
		tpc_metrics_add_vec(s, first + 3, i, v[i].credited_cents);
	}
}

void tpc_metrics_observe(tpc_metrics_shard_t *s, enum tpc_histogram h, uint64_t v)
{
	const struct hist_def *d = &hist_defs[h];
	unsigned b = 0;

	/* Per-bucket counts, made cumulative only at render time, so an observation touches one
	 * bucket instead of every bucket above it. "v > bound" puts a value equal to a bound in
	 * that bound's bucket: Prometheus' le is "less than or equal". */
	while (b < d->n && v > d->bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->hist[h].buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->hist[h].sum, v, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->hist[h].count, 1, memory_order_relaxed);
}

void tpc_metrics_observe_latency(tpc_metrics_shard_t *s, uint64_t us)
{
	tpc_metrics_observe(s, TPC_H_batch_latency, us);
}

static int shards_used(const tpc_metrics_t *m)
{
	int n = atomic_load(&m->used);

	return n > m->max ? m->max : n;
}

uint64_t tpc_metrics_get(const tpc_metrics_t *m, enum tpc_metric id)
{
	uint64_t sum = 0;
	int n = shards_used(m);

	for (int i = 0; i < n; i++)
		sum += atomic_load_explicit(&m->shards[i].counters[id], memory_order_relaxed);
	return sum;
}

uint64_t tpc_metrics_get_vec(const tpc_metrics_t *m, enum tpc_metric_vec id, unsigned index)
{
	uint64_t sum = 0;
	int n = shards_used(m);

	if (index >= TPC_METRIC_DIM_MAX)
		return 0;
	for (int i = 0; i < n; i++)
		sum += atomic_load_explicit(&m->shards[i].vec[id][index], memory_order_relaxed);
	return sum;
}

/* ---- /proc ---------------------------------------------------------------------------------- */

/* Read a small /proc file whole into @p buf (NUL-terminated). @return its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Boot time, seconds since the epoch ("btime" of /proc/stat, whose "intr" line before it can be
 * long on a big machine: read by lines). @return 0 when unknown. */
static uint64_t boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	unsigned long long bt = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

static uint64_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	/* the directory's own descriptor was open while it was read */
	return n ? n - 1 : 0;
}

void tpc_metrics_process(tpc_metrics_process_t *out)
{
	char buf[1024];
	const char *p;
	unsigned long long utime, stime, start, vsize, rss;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;

	memset(out, 0, sizeof(*out));
	/* proc(5): fields after the command name, which is in parentheses and may itself hold
	 * spaces and parentheses, so the parse starts after the last ')': state (3) first, then
	 * utime (14), stime (15), starttime (22), vsize (23), rss in pages (24) */
	if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return;
	if (sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
	           "%*d %llu %llu %llu",
	           &utime, &stime, &start, &vsize, &rss) != 5 ||
	    tck <= 0 || page <= 0)
		return;
	out->cpu_seconds = (double)(utime + stime) / (double)tck;
	out->start_time_seconds = (double)boot_time() + (double)start / (double)tck;
	out->virtual_bytes = vsize;
	out->resident_bytes = rss * (uint64_t)page;
	out->open_fds = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	out->ok = 1;
}

/* ---- the text exposition -------------------------------------------------------------------- */

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

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "gauge", help);
	emit(o, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value as the exposition format wants it: backslash, quote and newline escaped. */
static void label_value(struct out *o, const char *v)
{
	for (; v && *v; v++)
		if (*v == '\\' || *v == '"')
			emit(o, "\\%c", *v);
		else if (*v == '\n')
			emit(o, "\\n");
		else
			emit(o, "%c", *v);
}

static void render_counters(struct out *o, const tpc_metrics_t *m)
{
	const char *prev = "";

	/* HELP and TYPE once per family, as the exposition format requires; this relies on the
	 * entries of a family being adjacent in TPC_METRIC_COUNTERS (metrics.h says so). */
#define X(id, fam, labels, help)                                                                   \
	if (strcmp(prev, fam) != 0) {                                                              \
		family(o, fam, "counter", help);                                                   \
		prev = fam;                                                                        \
	}                                                                                          \
	emit(o, "%s%s%s%s %llu\n", fam, *labels ? "{" : "", labels, *labels ? "}" : "",            \
	     (unsigned long long)tpc_metrics_get(m, TPC_M_##id));
	TPC_METRIC_COUNTERS(X)
#undef X
}

/* The labelled counters: one series per named value of the family's dimension. A dimension
 * nobody named renders its families with no series (HELP and TYPE only). */
static void render_vectors(struct out *o, const tpc_metrics_t *m)
{
	const char *prev = "";

	for (unsigned id = 0; id < TPC_MV__COUNT; id++) {
		const struct vec_def *d = &vec_defs[id];

		if (strcmp(prev, d->family) != 0) {
			family(o, d->family, "counter", d->help);
			prev = d->family;
		}
		for (unsigned i = 0; i < m->nnames[d->dim]; i++) {
			if (!m->names[d->dim][i])
				continue;
			emit(o, "%s{%s=\"", d->family, dim_labels[d->dim]);
			label_value(o, m->names[d->dim][i]);
			emit(o, "\"%s%s} %llu\n", *d->labels ? "," : "", d->labels,
			     (unsigned long long)tpc_metrics_get_vec(m, id, i));
		}
	}
}

static void render_histogram(struct out *o, const tpc_metrics_t *m, enum tpc_histogram h)
{
	const struct hist_def *d = &hist_defs[h];
	uint64_t buckets[TPC_HIST_MAXB + 1] = {0}, sum = 0, count = 0, cum = 0;
	int n = shards_used(m);

	for (int i = 0; i < n; i++) {
		const struct hist *s = &m->shards[i].hist[h];

		for (unsigned b = 0; b <= d->n; b++)
			buckets[b] += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
		sum += atomic_load_explicit(&s->sum, memory_order_relaxed);
		count += atomic_load_explicit(&s->count, memory_order_relaxed);
	}
	family(o, d->name, "histogram", d->help);
	for (unsigned b = 0; b < d->n; b++) {
		cum += buckets[b];
		emit(o, "%s_bucket{le=\"%g\"} %llu\n", d->name, (double)d->bounds[b] / d->scale,
		     (unsigned long long)cum);
	}
	/* +Inf and _count are summed from separate counters, so a scrape racing an observation may
	 * see them differ by one; the next scrape agrees again. */
	cum += buckets[d->n];
	emit(o, "%s_bucket{le=\"+Inf\"} %llu\n", d->name, (unsigned long long)cum);
	if (d->scale == 1)
		emit(o, "%s_sum %llu\n", d->name, (unsigned long long)sum);
	else
		emit(o, "%s_sum %.6f\n", d->name, (double)sum / d->scale);
	emit(o, "%s_count %llu\n", d->name, (unsigned long long)count);
}

static void render_gauges(struct out *o, const tpc_metrics_gauges_t *g)
{
	gauge(o, "tpclear_job_queue_depth", "Sendings waiting for a worker", g->job_queue_depth);
	gauge(o, "tpclear_job_queue_capacity", "Bound of the job queue", g->job_queue_capacity);
	gauge(o, "tpclear_ledger_queue_depth", "Judged sendings waiting for the ledger writer",
	      g->ledger_queue_depth);
	gauge(o, "tpclear_in_flight", "Sendings received and not yet answered", g->in_flight);
	gauge(o, "tpclear_ledger_map_size_bytes", "Current LMDB map size", g->map_size_bytes);
	gauge(o, "tpclear_ledger_map_max_bytes",
	      "Ceiling the LMDB map may grow to ([ledger] map_max)", g->map_max_bytes);
	gauge(o, "tpclear_ledger_map_used_bytes",
	      "Bytes of the LMDB map in use (last page number + 1, times the page size)",
	      g->map_used_bytes);
	gauge(o, "tpclear_ledger_readers", "LMDB reader slots in use", g->readers_used);
	gauge(o, "tpclear_ledger_readers_max", "LMDB reader slots", g->readers_max);
	gauge(o, "tpclear_workers", "Worker threads", g->workers);
	gauge(o, "tpclear_adapters", "Adapters loaded (built-in and plugins)", g->adapters);
	gauge(o, "tpclear_uptime_seconds", "Seconds since start", g->uptime_seconds);
	gauge(o, "tpclear_disk_full",
	      "1 while sendings are refused because the ledger's disk is full (T00050)",
	      g->disk_full);
	gauge(o, "tpclear_admission_in_flight_bytes",
	      "Payload bytes of the sendings received and not yet answered (admission)",
	      g->admission_in_flight_bytes);
	gauge(o, "tpclear_admission_bound_bytes",
	      "Payload bytes in flight at which new sendings are answered busy (T00064)",
	      g->admission_bound_bytes);
	gauge(o, "tpclear_admission_rate_bytes_per_second",
	      "Payload bytes answered per second while sendings were in flight (0: none yet)",
	      g->admission_rate_bytes);
	family(o, "tpclear_admission_delay_seconds", "gauge",
	       "Estimated time to answer the sendings in flight (admission_delay_ms bounds it)");
	emit(o, "tpclear_admission_delay_seconds %.3f\n", g->admission_delay_seconds);
	if (g->nstore_damaged)
		family(o, "tpclear_store_damaged_total", "counter",
		       "Stored records found damaged (checksum mismatch) and not served (T00055)");
	for (unsigned i = 0; i < g->nstore_damaged && i < 8; i++)
		emit(o, "tpclear_store_damaged_total{db=\"%s\"} %llu\n", g->store_damaged_db[i],
		     (unsigned long long)g->store_damaged[i]);
}

/* tpclear_build_info: the usual "info" gauge, always 1, whose labels say what runs. */
static void render_build_info(struct out *o, const tpc_metrics_gauges_t *g)
{
	const char *labels[][2] = {{"version", TPC_VERSION},
	                           {"revision", TPC_REVISION},
	                           {"lmdb", g->lmdb_version},
	                           {"zeromq", g->zmq_version},
	                           {"libevent", g->libevent_version}};

	family(o, "tpclear_build_info", "gauge",
	       "Version and revision of tpcleard and of the libraries it runs with");
	emit(o, "tpclear_build_info{");
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		emit(o, "%s%s=\"", i ? "," : "", labels[i][0]);
		label_value(o, labels[i][1]);
		emit(o, "\"");
	}
	emit(o, "} 1\n");
}

/* The process_* family under the names every Prometheus client library uses, so the usual
 * dashboards and alerts work unchanged. */
static void render_process(struct out *o, const tpc_metrics_process_t *p)
{
	if (!p->ok)
		return;
	family(o, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds");
	emit(o, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
	gauge(o, "process_resident_memory_bytes", "Resident memory size in bytes",
	      p->resident_bytes);
	gauge(o, "process_virtual_memory_bytes", "Virtual memory size in bytes", p->virtual_bytes);
	gauge(o, "process_open_fds", "Number of open file descriptors", p->open_fds);
	gauge(o, "process_max_fds", "Maximum number of open file descriptors", p->max_fds);
	family(o, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds");
	emit(o, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

size_t tpc_metrics_render(const tpc_metrics_t *m, const tpc_metrics_gauges_t *g, char *buf,
                          size_t cap)
{
	struct out o = {buf, cap, 0};

	if (buf && cap)
		buf[0] = 0;
	render_counters(&o, m);
	render_vectors(&o, m);
	for (int h = 0; h < TPC_H__COUNT; h++)
		render_histogram(&o, m, (enum tpc_histogram)h);
	if (g) {
		render_gauges(&o, g);
		render_build_info(&o, g);
		render_process(&o, &g->process);
	}
	return o.len;
}
