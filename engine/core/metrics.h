/* engine/core/metrics.h - Prometheus metrics, defined once.
 *
 * TPC_METRIC_COUNTERS lists every counter once: (id, family, labels, help). The list generates
 * the counter enum, the per-thread shard layout, the scrape-time sum and the Prometheus text.
 * Each thread takes one shard at startup and bumps its own counters with relaxed atomics, so the
 * hot path takes no lock and shares no cache line with another writer. Gauges are sampled at
 * scrape time by the loop thread (queue depths, in-flight, map size) and passed to the renderer.
 */
#ifndef TPC_METRICS_H
#define TPC_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Entries of one family must be adjacent: HELP/TYPE are written when the family changes. */
#define TPC_METRIC_COUNTERS(X)                                                                     \
	X(sendings_received, "tpclear_sendings_total", "outcome=\"received\"",                     \
	  "Sendings by outcome at intake and after clearing")                                      \
	X(sendings_busy, "tpclear_sendings_total", "outcome=\"busy\"", "")                         \
	X(sendings_refused_intake, "tpclear_sendings_total", "outcome=\"refused_intake\"", "")     \
	X(sendings_accepted, "tpclear_sendings_total", "outcome=\"accepted\"", "")                 \
	X(sendings_partial, "tpclear_sendings_total", "outcome=\"partial\"", "")                   \
	X(sendings_refused, "tpclear_sendings_total", "outcome=\"refused\"", "")                   \
	X(sendings_replayed, "tpclear_sendings_total", "outcome=\"replayed\"", "")                 \
	X(sendings_conflict, "tpclear_sendings_total", "outcome=\"conflict\"", "")                 \
	X(sendings_failed, "tpclear_sendings_total", "outcome=\"failed\"", "")                     \
	X(invoices_accepted, "tpclear_invoices_total", "outcome=\"accepted\"",                     \
	  "Invoices cleared, by outcome")                                                          \
	X(invoices_refused, "tpclear_invoices_total", "outcome=\"refused\"", "")                   \
	X(lines_accepted, "tpclear_lines_total", "outcome=\"accepted\"",                           \
	  "Invoice lines cleared, by outcome")                                                     \
	X(lines_refused, "tpclear_lines_total", "outcome=\"refused\"", "")                         \
	X(queries, "tpclear_queries_total", "", "Queries answered")                                \
	X(bad_requests, "tpclear_bad_requests_total", "", "Requests refused before decoding")      \
	X(ledger_commits, "tpclear_ledger_commits_total", "", "LMDB write transactions committed") \
	X(ledger_sendings, "tpclear_ledger_sendings_committed_total", "",                          \
	  "Sendings made durable by the ledger writer")                                            \
	X(ledger_map_grows, "tpclear_ledger_map_grows_total", "", "Times the LMDB map was grown")  \
	X(ledger_map_drops, "tpclear_ledger_map_page_drops_total", "",                             \
	  "Times the ledger's mapped pages were dropped from the daemon's resident set")           \
	X(ledger_map_full, "tpclear_ledger_map_full_total", "",                                    \
	  "Sendings refused because the map reached its ceiling")                                  \
	X(commit_failed_disk_full, "tpclear_ledger_commit_failures_total", "reason=\"disk_full\"", \
	  "Ledger write transactions that failed, by reason (docs/operations.md)")                 \
	X(commit_failed_io, "tpclear_ledger_commit_failures_total", "reason=\"io_error\"", "")     \
	X(commit_failed_other, "tpclear_ledger_commit_failures_total", "reason=\"other\"", "")     \
	X(answers_dropped, "tpclear_answers_dropped_total", "",                                    \
	  "Answers ZeroMQ could not deliver (peer gone or queue full); results stay queryable")    \
	X(refdata_loads, "tpclear_refdata_loads_total", "", "Reference data files made live")      \
	X(payruns, "tpclear_payruns_total", "",                                                    \
	  "Payment runs committed (runs that paid something)")                                     \
	X(payruns_replayed, "tpclear_payruns_replayed_total", "",                                  \
	  "Payment run requests answered from an earlier request with the same request_id")        \
	X(payments, "tpclear_payments_total", "", "Credit transfers made by payment runs")         \
	X(payment_lines, "tpclear_payment_lines_total", "", "Payables paid by payment runs")       \
	X(paid_cents, "tpclear_paid_cents_total", "", "Amount paid by payment runs, in cents")     \
	X(settlements_pushed, "tpclear_settlements_pushed_total", "",                              \
	  "Settlements pushed to connected senders after a payment run")                           \
	X(ledger_queries, "tpclear_ledger_queries_total", "",                                      \
	  "Ledger balances, histories and exports answered")                                       \
	X(http_requests, "tpclear_http_requests_total", "", "HTTP requests served")                \
	X(zap_allowed, "tpclear_zap_requests_total", "result=\"allowed\"",                         \
	  "CURVE handshakes decided by the ZAP handler (docs/security.md)")                        \
	X(zap_denied, "tpclear_zap_requests_total", "result=\"denied\"", "")                       \
	X(sec_unknown_key, "tpclear_security_refusals_total", "reason=\"unknown_key\"",            \
	  "Handshakes and requests refused by authentication, authorization and sender limits")    \
	X(sec_bad_handshake, "tpclear_security_refusals_total", "reason=\"bad_handshake\"", "")    \
	X(sec_unregistered, "tpclear_security_refusals_total", "reason=\"unregistered\"", "")      \
	X(sec_nihii, "tpclear_security_refusals_total", "reason=\"nihii\"", "")                    \
	X(sec_no_nihii, "tpclear_security_refusals_total", "reason=\"no_nihii\"", "")              \
	X(sec_feed, "tpclear_security_refusals_total", "reason=\"feed\"", "")                      \
	X(sec_ops_only, "tpclear_security_refusals_total", "reason=\"ops_only\"", "")              \
	X(sec_ledger_scope, "tpclear_security_refusals_total", "reason=\"ledger_scope\"", "")      \
	X(sec_in_flight, "tpclear_security_refusals_total", "reason=\"in_flight\"", "")            \
	X(sec_load_too_large, "tpclear_security_refusals_total", "reason=\"load_too_large\"", "")  \
	X(senders_reloaded, "tpclear_senders_reloads_total", "result=\"ok\"",                      \
	  "Reloads of the senders registry (SIGHUP)")                                              \
	X(senders_reload_failed, "tpclear_senders_reloads_total", "result=\"failed\"", "")         \
	X(busy_queue_full, "tpclear_busy_refusals_total", "reason=\"queue_full\"",                 \
	  "Requests answered busy (retry later), by reason (docs/metrics.md)")                     \
	X(busy_connection, "tpclear_busy_refusals_total", "reason=\"connection\"", "")             \
	X(busy_memory, "tpclear_busy_refusals_total", "reason=\"memory\"", "")                     \
	X(busy_sender, "tpclear_busy_refusals_total", "reason=\"sender_in_flight\"", "")           \
	X(busy_payload, "tpclear_busy_refusals_total", "reason=\"payload_in_flight\"", "")         \
	X(busy_other, "tpclear_busy_refusals_total", "reason=\"other\"", "")                       \
	X(payruns_failed, "tpclear_payruns_failed_total", "",                                      \
	  "Payment run requests answered with a refusal code (nothing paid by them)")

enum tpc_metric {
#define X(id, family, labels, help) TPC_M_##id,
	TPC_METRIC_COUNTERS(X)
#undef X
	    TPC_M__COUNT
};

/* Counters by one label whose values are an engine enumeration: the scheme that pays a line,
 * the budget charged (engine/clearing). core knows neither list: the caller names the values
 * once (tpc_metrics_name_values()) and bumps by index, the enumeration's value. Each id is
 * (id, family, dimension, fixed labels, help); entries of one family adjacent, as above. The
 * amounts are in cents (the engine's unit; Prometheus has no base unit for money): a credit
 * note's lines are negative, and a counter only grows, so they go to a *_credited_cents_total
 * family of their own, as absolute values (net = accepted - credited). */
enum tpc_metric_dim { TPC_MDIM_SCHEME, TPC_MDIM_BUDGET, TPC_MDIM__COUNT };
#define TPC_METRIC_DIM_MAX 8 /* values of one dimension (index 0 = none) */
#define TPC_METRIC_VECTORS(X)                                                                      \
	X(scheme_lines_accepted, "tpclear_scheme_lines_total", SCHEME, "outcome=\"accepted\"",     \
	  "Invoice lines made durable, by the scheme that pays them and outcome")                  \
	X(scheme_lines_refused, "tpclear_scheme_lines_total", SCHEME, "outcome=\"refused\"", "")   \
	X(scheme_accepted_cents, "tpclear_scheme_accepted_cents_total", SCHEME, "",                \
	  "Amount accepted on invoice lines, by scheme, in cents")                                 \
	X(scheme_credited_cents, "tpclear_scheme_credited_cents_total", SCHEME, "",                \
	  "Amount accepted on credit-note lines (absolute value), by scheme, in cents")            \
	X(budget_lines_accepted, "tpclear_budget_lines_total", BUDGET, "outcome=\"accepted\"",     \
	  "Invoice lines made durable, by the budget charged and outcome")                         \
	X(budget_lines_refused, "tpclear_budget_lines_total", BUDGET, "outcome=\"refused\"", "")   \
	X(budget_accepted_cents, "tpclear_budget_accepted_cents_total", BUDGET, "",                \
	  "Amount charged to a budget by accepted invoice lines, in cents")                        \
	X(budget_credited_cents, "tpclear_budget_credited_cents_total", BUDGET, "",                \
	  "Amount given back to a budget by accepted credit-note lines (absolute), in cents")      \
	X(budget_payments, "tpclear_budget_payments_total", BUDGET, "",                            \
	  "Credit transfers made by payment runs, by budget")                                      \
	X(budget_paid_cents, "tpclear_budget_paid_cents_total", BUDGET, "",                        \
	  "Amount paid by payment runs, by budget, in cents")

enum tpc_metric_vec {
#define X(id, family, dim, labels, help) TPC_MV_##id,
	TPC_METRIC_VECTORS(X)
#undef X
	    TPC_MV__COUNT
};

/** What one sending adds to one value of a dimension (pipeline/job.h keeps one per scheme and
 *  per budget, filled by the worker, counted at commit). */
typedef struct tpc_metrics_lines {
	uint32_t accepted, refused;              /* lines */
	uint64_t accepted_cents, credited_cents; /* accepted amounts, >= 0 and < 0 (absolute) */
} tpc_metrics_lines_t;

/* Histograms: (id, name, help, scale, bounds). Observations are integers (microseconds for the
 * durations, jobs for the group size), rendered divided by scale. */
#define TPC_HIST_MAXB 12
enum tpc_histogram {
	TPC_H_batch_latency,   /* tpclear_batch_latency_seconds, microseconds */
	TPC_H_commit_duration, /* tpclear_ledger_commit_duration_seconds, microseconds */
	TPC_H_commit_group,    /* tpclear_ledger_commit_group_size, jobs */
	/* where a committed sending's time went (pipeline/job.h, stage timestamps), microseconds */
	TPC_H_stage_wait_worker, /* tpclear_stage_wait_worker_seconds */
	TPC_H_stage_judge,       /* tpclear_stage_judge_seconds */
	TPC_H_stage_wait_writer, /* tpclear_stage_wait_writer_seconds */
	TPC_H_stage_commit,      /* tpclear_stage_commit_seconds */
	TPC_H_stage_answer,      /* tpclear_stage_answer_seconds */
	TPC_H__COUNT
};

/** Bucket upper bounds of the batch-latency histogram, in microseconds. */
#define TPC_LATENCY_BUCKETS_US                                                                     \
	{                                                                                          \
		500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000,       \
		    5000000                                                                        \
	}
#define TPC_LATENCY_NBUCKETS 12

typedef struct tpc_metrics tpc_metrics_t;
typedef struct tpc_metrics_shard tpc_metrics_shard_t;

/** The process, read from /proc/self at scrape time (tpc_metrics_process()). */
typedef struct tpc_metrics_process {
	int ok; /* 0: /proc could not be read; the process_* family is not rendered */
	double cpu_seconds, start_time_seconds;
	uint64_t resident_bytes, virtual_bytes, open_fds, max_fds;
} tpc_metrics_process_t;

/** Gauges sampled by the caller at scrape time. */
typedef struct tpc_metrics_gauges {
	uint64_t job_queue_depth;
	uint64_t job_queue_capacity;
	uint64_t ledger_queue_depth;
	uint64_t in_flight;
	uint64_t map_size_bytes;
	uint64_t map_max_bytes;             /* the ceiling the map may grow to ([ledger] map_max) */
	uint64_t map_used_bytes;            /* pages in use (last page number + 1) x page size */
	uint64_t readers_used, readers_max; /* LMDB reader slots */
	uint64_t workers;
	uint64_t adapters;
	uint64_t uptime_seconds;
	uint64_t disk_full; /* 1 while the ledger's file system is full (writer.h) */
	/* the overload bound (pipeline/admission.h): payload bytes in flight, the bound, the rate
	 * answered (bytes/s, 0 = none measured yet), the estimated time to answer what is in flight
	 */
	uint64_t admission_in_flight_bytes, admission_bound_bytes, admission_rate_bytes;
	double admission_delay_seconds;
	/* Counters kept outside the shards (found on any thread, store/records.h), rendered as
	 * tpclear_store_damaged_total{db="NAME"}; the caller names them, core knows no store. */
	unsigned nstore_damaged; /* 0: the family is not rendered */
	const char *store_damaged_db[8];
	uint64_t store_damaged[8];
	/* tpclear_build_info{version, revision, lmdb, zeromq, libevent} 1: the libraries' versions
	 * as linked at run time (NULL = ""); version and revision are the build's own */
	const char *lmdb_version, *zmq_version, *libevent_version;
	tpc_metrics_process_t process;
} tpc_metrics_gauges_t;

/** @param[out] out new registry with room for @p max_shards threads. @return 0 or TPC_ENOMEM */
int tpc_metrics_new(int max_shards, tpc_metrics_t **out);
/** Free the registry and its shards; NULL-safe; sets *@p m to NULL. */
void tpc_metrics_free(tpc_metrics_t **m);
/** Take a shard for the calling thread (at startup, not on the hot path).
 *  @return the shard (owned by the registry), or NULL when every shard is taken. */
tpc_metrics_shard_t *tpc_metrics_shard(tpc_metrics_t *m);

/** Name the values of dimension @p dim: @p names[i] labels index i (borrowed: static strings
 *  that outlive the registry). Values past @p n (or TPC_METRIC_DIM_MAX) are not rendered, nor
 *  is a value whose name is NULL. Call before the threads start. */
void tpc_metrics_name_values(tpc_metrics_t *m, enum tpc_metric_dim dim, const char *const *names,
                             unsigned n);

/** Add @p n to counter @p id of @p shard (relaxed atomic, no lock). */
void tpc_metrics_add(tpc_metrics_shard_t *shard, enum tpc_metric id, uint64_t n);
/** Add @p n to value @p index of the labelled counter @p id (ignored past TPC_METRIC_DIM_MAX). */
void tpc_metrics_add_vec(tpc_metrics_shard_t *shard, enum tpc_metric_vec id, unsigned index,
                         uint64_t n);
/** Add one sending's lines of dimension @p dim, @p n values (index = enumeration value). */
void tpc_metrics_add_lines(tpc_metrics_shard_t *shard, enum tpc_metric_dim dim,
                           const tpc_metrics_lines_t *v, unsigned n);
/** Record one batch latency in microseconds. */
void tpc_metrics_observe_latency(tpc_metrics_shard_t *shard, uint64_t us);
/** Record one observation @p v (the histogram's unit, see enum tpc_histogram). */
void tpc_metrics_observe(tpc_metrics_shard_t *shard, enum tpc_histogram h, uint64_t v);
/** Sum of counter @p id over every shard. */
uint64_t tpc_metrics_get(const tpc_metrics_t *m, enum tpc_metric id);
/** Sum of value @p index of labelled counter @p id over every shard. */
uint64_t tpc_metrics_get_vec(const tpc_metrics_t *m, enum tpc_metric_vec id, unsigned index);

/** Read the calling process's CPU time, memory, descriptors and start time from /proc/self
 *  (and /proc/stat for the boot time). Not for the hot path: a few small reads.
 *  @param[out] out  out->ok is 0 when /proc could not be read. */
void tpc_metrics_process(tpc_metrics_process_t *out);

/** Write the Prometheus text exposition into @p buf.
 *  @return bytes written (excluding NUL), or the size needed when @p cap is too small. */
size_t tpc_metrics_render(const tpc_metrics_t *m, const tpc_metrics_gauges_t *g, char *buf,
                          size_t cap);

#endif /* TPC_METRICS_H */
