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
	X(senders_reload_failed, "tpclear_senders_reloads_total", "result=\"failed\"", "")

enum tpc_metric {
#define X(id, family, labels, help) TPC_M_##id,
	TPC_METRIC_COUNTERS(X)
#undef X
	    TPC_M__COUNT
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

/** Gauges sampled by the caller at scrape time. */
typedef struct tpc_metrics_gauges {
	uint64_t job_queue_depth;
	uint64_t job_queue_capacity;
	uint64_t ledger_queue_depth;
	uint64_t in_flight;
	uint64_t map_size_bytes;
	uint64_t workers;
	uint64_t adapters;
	uint64_t uptime_seconds;
	uint64_t disk_full; /* 1 while the ledger's file system is full (writer.h) */
	/* Counters kept outside the shards (found on any thread, store/records.h), rendered as
	 * tpclear_store_damaged_total{db="NAME"}; the caller names them, core knows no store. */
	unsigned nstore_damaged; /* 0: the family is not rendered */
	const char *store_damaged_db[8];
	uint64_t store_damaged[8];
} tpc_metrics_gauges_t;

/** @param[out] out new registry with room for @p max_shards threads. @return 0 or TPC_ENOMEM */
int tpc_metrics_new(int max_shards, tpc_metrics_t **out);
/** Free the registry and its shards; NULL-safe; sets *@p m to NULL. */
void tpc_metrics_free(tpc_metrics_t **m);
/** Take a shard for the calling thread (at startup, not on the hot path).
 *  @return the shard (owned by the registry), or NULL when every shard is taken. */
tpc_metrics_shard_t *tpc_metrics_shard(tpc_metrics_t *m);

/** Add @p n to counter @p id of @p shard (relaxed atomic, no lock). */
void tpc_metrics_add(tpc_metrics_shard_t *shard, enum tpc_metric id, uint64_t n);
/** Record one batch latency in microseconds. */
void tpc_metrics_observe_latency(tpc_metrics_shard_t *shard, uint64_t us);
/** Sum of counter @p id over every shard. */
uint64_t tpc_metrics_get(const tpc_metrics_t *m, enum tpc_metric id);

/** Write the Prometheus text exposition into @p buf.
 *  @return bytes written (excluding NUL), or the size needed when @p cap is too small. */
size_t tpc_metrics_render(const tpc_metrics_t *m, const tpc_metrics_gauges_t *g, char *buf,
                          size_t cap);

#endif /* TPC_METRICS_H */
