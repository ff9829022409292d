/* engine/pipeline/server.c - the loop thread (see server.h).
 *
 * DESIGN
 * Threads: main (this file: libevent loop, every socket), N workers, one ledger writer.
 * Queues:  loop --jobs (bounded)--> workers --to_ledger--> writer --done (eventfd)--> loop.
 *          Workers also push straight to done (queries, replays, conflicts, failures).
 * Intake:  the ROUTER's ZMQ_FD is edge-triggered. On every wakeup (and after every send, since
 *          a send may consume the edge) we receive until EAGAIN (drain_intake()); a
 *          budget per wakeup keeps HTTP responsive under bursts, and when it runs out the event
 *          is re-activated by hand so nothing waits for an edge that will not come.
 * Back-pressure: the job queue is bounded. When it is full the sender gets "busy" with a
 *          retry-after hint and the job is recycled; nothing grows. The ledger queue makes
 *          workers wait when the writer lags, which fills the job queue, which answers busy.
 * Answers: a receipt at once; the Result (or Conflict, or a refusal) only when the job comes
 *          back on the done queue, i.e. after its commit is durable.
 * Drain:   on SIGTERM/SIGINT new requests are refused (T00007); when in_flight reaches zero
 *          the loop exits, queues are closed in flow order and threads joined. The same drain
 *          follows a failed write of the ledger (writer.h), refusing T00051, and the run then
 *          ends in error so that the process exits non-zero for its supervisor.
 * Memory:  jobs and their arenas are recycled through a free list owned by this thread, each
 *          keeping at most JOB_ARENA_KEEP. Bounded per connection (outstanding requests,
 *          pipeline/conns.h) and over all (working memory in flight, take_memory()); once idle
 *          the loop thread trims the heaps (on_idle()). docs/operations.md, Memory. */
#include "pipeline/server.h"

#include "registry.h"
#include "common/check.h"
#include "clearing/budget.h"
#include "clearing/schemes.h"
#include "common/pb.h"
#include "core/codes.h"
#include "core/error.h"
#include "pipeline/admission.h"
#include "pipeline/conns.h"
#include "pipeline/job.h"
#include "pipeline/writer.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "core/sdnotify.h"
#include "pipeline/result.h"
#include "security/security.h"
#include "store/records.h"
#include "tpclear.pb-c.h"
#include "pipeline/worker.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Requests received per ZMQ_FD wakeup before the loop lets HTTP, signals and the done queue
 * run (see drain_intake()). */
#define DRAIN_BUDGET 512
#define METRICS_BUF  (64 * 1024) /* first size of the /metrics text buffer; grown on demand */
/* The largest arena chunk a recycled job keeps (core/arena.h): enough for the sendings of a
 * few thousand lines to reuse it, small enough that the free list (queue_depth + 2 x workers +
 * 16 jobs) holds at most a few tens of MiB while idle (docs/operations.md, Memory). */
#define JOB_ARENA_KEEP (256 * 1024)
/* From this size glibc serves and frees allocations with mmap/munmap, so a big chunk goes back
 * to the kernel as soon as it is freed. Below it, chunks come from glibc's heaps and a freed one
 * is reused warm by the next sending: at 1 MiB every hospital sending's arena was mapped,
 * faulted in, zeroed and unmapped again, a third of the daemon's CPU under load
 * (docs/benchmarks.md, "Issue 15 after the merge"). Only the largest sendings (chunks over
 * 32 MiB, glibc's own ceiling for this threshold) still map their own. */
#define MMAP_THRESHOLD (32 * 1024 * 1024)
/* Freed heap memory is not handed back on every free (glibc would at 128 KiB, undoing the
 * reuse above): while busy it serves the next sendings, bounded by what is in flight
 * ([engine] max_memory_in_flight); on_idle()'s malloc_trim() returns it once idle. */
#define TRIM_THRESHOLD (1024 * 1024 * 1024)
/* How long nothing must be in flight before the loop thread gives freed memory back */
#define IDLE_TRIM_MS 500

struct tpc_server {
	tpc_config_t cfg;
	struct event_base *base;
	void *zctx;
	void *router;
	struct event *zmq_ev, *done_ev, *sigterm_ev, *sigint_ev;
	struct evhttp *http;
	tpc_queue_t *jobs, *to_ledger, *done;
	tpc_writer_t *ledger;
	tpc_workers_t *workers;
	tpc_queue_t *express;           /* eAttest: the express lane's job queue */
	tpc_workers_t *express_workers; /* its one worker */
	tpc_adapters_t *adapters;
	tpc_metrics_t *metrics;
	tpc_metrics_shard_t *shard;
	tpc_security_t *sec;     /* CURVE, the senders registry, per-sender bounds */
	tpc_conns_t *conns;      /* requests outstanding per connection (pipeline/conns.h) */
	size_t memory_in_flight; /* estimated working memory of the jobs in flight */
	/* the overload bound in time, express lane aside (pipeline/admission.h) */
	tpc_admission_t *admission;
	struct event *idle_ev;     /* one-shot: IDLE_TRIM_MS after in_flight reached 0 */
	struct event *watchdog_ev; /* systemd watchdog tick (NULL without WATCHDOG_USEC) */
	tpc_watchdog_t *wd;        /* judges whether the stages progress (core/sdnotify.h) */
	const char *wd_stuck;      /* the stage the last tick found stuck, NULL = none */
	tpc_arena_t *scratch;      /* loop thread: receipts, answer framing */
	tpc_job_t *free_jobs;      /* recycled jobs (linked through node.next) */
	size_t nfree, max_free;
	size_t in_flight; /* queued and not yet answered; the drain waits for 0 */
	int nworkers;
	int draining;
	int lost; /* the writer lost trust in the ledger: stopping, then exit status 1 */
	int threads_started;
	uint64_t started_us;
	char *metrics_buf;
	size_t metrics_cap; /* bytes at metrics_buf; grown when a render needs more */
	char intake_endpoint[256];
	char http_endpoint[160];
	/* the last routing identity seen per sender id, for settlements pushed after a payment
	 * run (open addressing, loop thread only; a full table forgets nothing it has, it just
	 * stops learning new senders) */
	struct peer {
		char sender[TPC_SENDER_MAX];
		uint8_t identity[TPC_IDENTITY_MAX];
		uint16_t identity_len;
	} * peers;
};

#define PEERS         4096 /* power of two */
#define EXPRESS_DEPTH 256  /* eAttests waiting for the express worker before "busy" */

/* A queued job's weight in the workers' order ([engine] small_first_ms, core/queue.h): its
 * payload bytes, known before anything is decoded and about proportional to its lines, so a
 * worker judges a GP's sending before a hospital's of a few thousand lines received with it. */
static size_t job_bytes(const tpc_qnode_t *n)
{
	return zmq_msg_size(&tpc_job_of((tpc_qnode_t *)n)->payload);
}

/* Linear probing from an FNV-1a hash. Entries are never removed, so a probe may stop at the
 * first empty slot: no tombstones, and a lookup that finds none is definite. */
static size_t peer_slot(tpc_server_t *s, const char *sender, int insert)
{
	uint32_t h = 2166136261u;

	for (const char *c = sender; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	for (size_t i = 0; i < PEERS; i++) {
		size_t at = (h + i) & (PEERS - 1);
		struct peer *p = &s->peers[at];

		if (p->sender[0] == 0)
			return insert ? at : SIZE_MAX;
		if (strcmp(p->sender, sender) == 0)
			return at;
	}
	return SIZE_MAX;
}

/* Every request refreshes its sender's identity: a sender that reconnects gets a new routing
 * identity from the ROUTER, and only the latest one still reaches it. */
static void peer_seen(tpc_server_t *s, const char *sender, const uint8_t *id, size_t idlen)
{
	size_t at;

	if (!s->peers || !sender[0] || idlen > TPC_IDENTITY_MAX)
		return;
	at = peer_slot(s, sender, 1);
	if (at == SIZE_MAX)
		return;
	snprintf(s->peers[at].sender, sizeof(s->peers[at].sender), "%s", sender);
	memcpy(s->peers[at].identity, id, idlen);
	s->peers[at].identity_len = (uint16_t)idlen;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Monotonic for durations (latency, uptime): a clock step must not make them negative. */
static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

/* From the free list when it can: a recycled job keeps its arena and the arena its largest
 * chunk (arena.c), which is how a warm engine calls no malloc per sending. */
static tpc_job_t *job_get(tpc_server_t *s)
{
	tpc_job_t *job = s->free_jobs;
	tpc_arena_t *arena;

	if (job) {
		s->free_jobs = (tpc_job_t *)job->node.next;
		s->nfree--;
		arena = job->arena;
	} else {
		job = malloc(sizeof(*job));
		if (!job)
			return NULL;
		/* a sending's structures take a few times its bytes: bound them accordingly */
		size_t biggest = s->cfg.max_sending_bytes > s->cfg.max_load_bytes
		                     ? s->cfg.max_sending_bytes
		                     : s->cfg.max_load_bytes;

		if (tpc_arena_new(64 * 1024, 8 * biggest + (16u << 20), &arena)) {
			free(job);
			return NULL;
		}
		tpc_arena_set_keep(arena, JOB_ARENA_KEEP);
	}
	/* a recycled job starts as new: status NEW, no auth, no leftovers of its last sending */
	memset(job, 0, sizeof(*job));
	job->arena = arena;
	zmq_msg_init(&job->payload);
	return job;
}

/* The end of every job, answered or refused: its in-flight count and registry reference go
 * back, the payload frame is released to ZeroMQ, and the job is kept for reuse up to max_free
 * (a full queue plus the jobs in workers), beyond which a burst's extra jobs are freed. */
static void job_put(tpc_server_t *s, tpc_job_t *job)
{
	tpc_security_release(s->sec, &job->auth, job->sender);
	/* a job never answered through send_frames() (refused at intake) still holds its count */
	tpc_conns_release(job->conn);
	s->memory_in_flight -= job->charged;
	/* still charged: taken, then refused (a full queue); an answered job gave it back */
	if (job->charged_payload)
		tpc_admission_done(s->admission, job->charged_payload, 0, mono_us());
	zmq_msg_close(&job->payload);
	tpc_arena_reset(job->arena);
	if (s->nfree >= s->max_free) {
		tpc_arena_free(&job->arena);
		free(job);
		return;
	}
	job->node.next = s->free_jobs ? &s->free_jobs->node : NULL;
	s->free_jobs = job;
	s->nfree++;
}

/* ---- sending answers ------------------------------------------------------------------------ */

/* @return 0 when ZeroMQ took the message for a connected peer, -1 when it was dropped (peer
 * gone: the ROUTER is ZMQ_ROUTER_MANDATORY; or its queue full). A job's final answer passes its
 * connection's outstanding count in *@p conn: the last frame carries it (pipeline/conns.h) and
 * gives it back when ZeroMQ has written or dropped it; *@p conn is NULL afterwards either way. */
static int send_frames(tpc_server_t *s, const uint8_t *id, size_t idlen, const uint8_t *a,
                       size_t alen, const uint8_t *native, size_t nlen, tpc_conn_t **conn)
{
	int more = native && nlen ? ZMQ_SNDMORE : 0;
	zmq_msg_t last;

	/* the last frame first: a multipart message must not be left half sent */
	if (tpc_conns_msg(&last, more ? native : a, more ? nlen : alen, conn ? *conn : NULL))
		goto out_dropped;
	if (conn)
		*conn = NULL; /* the message holds the count now */
	/* ZMQ_DONTWAIT: the loop thread must never block on one slow peer. A dropped answer is
	 * counted, not retried: the result is durable and the sender can query it. */
	if (zmq_send(s->router, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    (more && zmq_send(s->router, a, alen, more | ZMQ_DONTWAIT) < 0) ||
	    zmq_msg_send(&last, s->router, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&last); /* gives the count back */
		goto out_dropped;
	}
	return 0;

out_dropped:
	tpc_metrics_add(s->shard, TPC_M_answers_dropped, 1);
	return -1;
}

/* tpclear_busy_refusals_total by reason, from the code of a busy receipt: every busy answer
 * passes here, whichever bound gave it (docs/metrics.md). No code = the job queue was full. */
static void count_busy(tpc_server_t *s, const char *code)
{
	enum tpc_metric m = !code                                      ? TPC_M_busy_queue_full
	                    : strcmp(code, TPC_CODE_CONN_BUSY) == 0    ? TPC_M_busy_connection
	                    : strcmp(code, TPC_CODE_MEMORY_BUSY) == 0  ? TPC_M_busy_memory
	                    : strcmp(code, TPC_CODE_SENDER_BUSY) == 0  ? TPC_M_busy_sender
	                    : strcmp(code, TPC_CODE_PAYLOAD_BUSY) == 0 ? TPC_M_busy_payload
	                                                               : TPC_M_busy_other;

	tpc_metrics_add(s->shard, m, 1);
}

static void send_receipt_reason(tpc_server_t *s, const uint8_t *id, size_t idlen, uint64_t corr,
                                int status, const char *code, const char *reason, const char *key,
                                const tpc_blob_t *native, tpc_conn_t **conn)
{
	uint8_t buf[2048];
	size_t n;

	uint32_t retry = 0;

	if (status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
		count_busy(s, code);
		/* the admission bound knows when the engine has room again: what is in flight
		 * drained at the rate answered (never under the configured hint) */
		retry = code && strcmp(code, TPC_CODE_PAYLOAD_BUSY) == 0
		            ? tpc_admission_retry_ms(s->admission, (uint32_t)s->cfg.retry_after_ms)
		            : (uint32_t)s->cfg.retry_after_ms;
	}
	n = tpc_answer_receipt(corr, status, code, reason, retry, key, buf, sizeof(buf));

	if (n)
		send_frames(s, id, idlen, buf, n, native ? native->ptr : NULL,
		            native ? native->len : 0, conn);
}

static void send_receipt(tpc_server_t *s, const uint8_t *id, size_t idlen, uint64_t corr,
                         int status, const char *code, const char *key, const tpc_blob_t *native)
{
	send_receipt_reason(s, id, idlen, corr, status, code, code ? tpc_codes_describe(code) : "",
	                    key, native, NULL);
}

static void answer_load(tpc_server_t *s, tpc_job_t *job)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__LoadResult lr = TPCLEAR__LOAD_RESULT__INIT;
	uint8_t buf[1024];

	lr.kind = (char *)tpc_refdata_kind_name(job->table.kind);
	lr.file = (char *)job->key;
	lr.rows = job->table.nrows;
	lr.committed_at = job->committed_ms;
	ans.version = 1;
	ans.correlation = job->correlation;
	ans.body_case = TPCLEAR__ANSWER__BODY_LOAD;
	ans.load = &lr;
	if (tpclear__answer__get_packed_size(&ans) <= sizeof(buf))
		send_frames(s, job->identity, job->identity_len, buf,
		            tpclear__answer__pack(&ans, buf), NULL, 0, &job->conn);
}

static void answer_job(tpc_server_t *s, tpc_job_t *job)
{
	uint8_t small[512];
	uint8_t *buf;
	size_t n;

	/* payment runs and ledger answers are built whole by the writer or a worker */
	if (job->answer_ready && job->status != TPC_JOB_FAILED) {
		send_frames(s, job->identity, job->identity_len, job->result, job->result_len,
		            job->native.ptr, job->native.ptr ? job->native.len : 0, &job->conn);
		return;
	}
	if (job->type == TPC_JOB_LOAD && job->status == TPC_JOB_COMMITTED) {
		tpc_info("reference data: %s replaced from '%s' (%u rows)",
		         tpc_refdata_kind_name(job->table.kind), job->key, job->table.nrows);
		answer_load(s, job);
		return;
	}
	switch (job->status) {
	case TPC_JOB_COMMITTED:
	case TPC_JOB_REPLAY:
	case TPC_JOB_FOUND:
		/* framed in the job's own arena: the buffer dies with the job, after the send
		 * (zmq_send copies it) */
		buf = tpc_arena_alloc(job->arena, tpc_answer_result_size(job->result_len), 8);
		if (!buf) {
			send_receipt_reason(
			    s, job->identity, job->identity_len, job->correlation,
			    TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED, TPC_CODE_INTERNAL,
			    tpc_codes_describe(TPC_CODE_INTERNAL), job->key, NULL, &job->conn);
			return;
		}
		n = tpc_answer_result(job->correlation, job->result, job->result_len, job->sequence,
		                      job->committed_ms, job->status != TPC_JOB_COMMITTED, buf);
		send_frames(s, job->identity, job->identity_len, buf, n, job->native.ptr,
		            job->native.ptr ? job->native.len : 0, &job->conn);
		break;
	case TPC_JOB_CONFLICT:
		n = tpc_answer_conflict(job->correlation, job->key, job->stored_hash, job->hash,
		                        job->hash_len, job->sequence, small, sizeof(small));
		if (n)
			send_frames(s, job->identity, job->identity_len, small, n, NULL, 0,
			            &job->conn);
		break;
	default:
		send_receipt_reason(s, job->identity, job->identity_len, job->correlation,
		                    TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED,
		                    job->fail_code ? job->fail_code : TPC_CODE_INTERNAL,
		                    job->fail_reason ? job->fail_reason
		                                     : tpc_codes_describe(TPC_CODE_INTERNAL),
		                    job->key, NULL, &job->conn);
		break;
	}
}

/* Where a sending's time went, once answered (tpclear_stage_*_seconds, docs/metrics.md): only
 * a bulk sending that went through a commit has all five stages (a replay or a refusal skips
 * the writer; the express lane has its own queue and worker and is read from the eAttest probe). */
static void observe_stages(tpc_server_t *s, const tpc_job_t *job)
{
	if (job->express || !job->commit1_us || !job->judge1_us)
		return;
	tpc_metrics_observe(s->shard, TPC_H_stage_wait_worker, job->judge0_us - job->received_us);
	tpc_metrics_observe(s->shard, TPC_H_stage_judge, job->judge1_us - job->judge0_us);
	tpc_metrics_observe(s->shard, TPC_H_stage_wait_writer, job->commit0_us - job->judge1_us);
	tpc_metrics_observe(s->shard, TPC_H_stage_commit, job->commit1_us - job->commit0_us);
	tpc_metrics_observe(s->shard, TPC_H_stage_answer, mono_us() - job->commit1_us);
}

/* After a payment run: each settlement to its sender, if it has been seen and is connected
 * (a ROUTER drops a message to a gone peer; the settlement stays queryable). */
static void push_settlements(tpc_server_t *s, const tpc_job_t *job)
{
	for (size_t i = 0; i < job->npushes; i++) {
		const tpc_push_t *p = &job->pushes[i];
		size_t at = s->peers ? peer_slot(s, p->sender, 0) : SIZE_MAX;

		if (at == SIZE_MAX)
			continue;
		if (send_frames(s, s->peers[at].identity, s->peers[at].identity_len, p->answer,
		                p->answer_len, p->native.ptr, p->native.ptr ? p->native.len : 0,
		                NULL) == 0)
			tpc_metrics_add(s->shard, TPC_M_settlements_pushed, 1);
	}
}

static void count_outcome(tpc_server_t *s, const tpc_job_t *job)
{
	enum tpc_metric m;

	if (job->type == TPC_JOB_PAYRUN && job->status == TPC_JOB_FAILED)
		tpc_metrics_add(s->shard, TPC_M_payruns_failed, 1);
	if (job->type != TPC_JOB_SUBMIT)
		return;
	switch (job->status) {
	case TPC_JOB_COMMITTED:
		tpc_metrics_add_lines(s->shard, TPC_MDIM_SCHEME, job->by_scheme,
		                      TPC_METRIC_DIM_MAX);
		tpc_metrics_add_lines(s->shard, TPC_MDIM_BUDGET, job->by_budget,
		                      TPC_METRIC_DIM_MAX);
		m = job->sending.outcome == TPC_OUTCOME_REFUSED ? TPC_M_sendings_refused
		    : job->lines_refused                        ? TPC_M_sendings_partial
		                                                : TPC_M_sendings_accepted;
		/* counted once durable: a sending the writer refuses (T00019) adds no lines */
		tpc_metrics_add(s->shard, TPC_M_invoices_accepted, job->invoices_accepted);
		tpc_metrics_add(s->shard, TPC_M_invoices_refused, job->invoices_refused);
		tpc_metrics_add(s->shard, TPC_M_lines_accepted, job->lines_accepted);
		tpc_metrics_add(s->shard, TPC_M_lines_refused, job->lines_refused);
		break;
	case TPC_JOB_REPLAY:
		m = TPC_M_sendings_replayed;
		break;
	case TPC_JOB_CONFLICT:
		m = TPC_M_sendings_conflict;
		break;
	default:
		m = TPC_M_sendings_failed;
		break;
	}
	tpc_metrics_add(s->shard, m, 1);
	tpc_metrics_observe_latency(s->shard, mono_us() - job->received_us);
	observe_stages(s, job);
}

/* One record per clearing event, with the fields an operator searches by (docs/operations.md,
 * Logs): a sending refused whole, in conflict or failed is info (someone has to look), one
 * cleared or replayed is debug (the counters of /metrics tell the volume). */
static void log_outcome(const tpc_job_t *job)
{
	tpc_log_field_t f[4] = {{"key", job->key, 0},
	                        {"sender", job->sender, 0},
	                        {"sequence", NULL, job->sequence},
	                        {"code", NULL, 0}};

	if (job->type != TPC_JOB_SUBMIT)
		return;
	switch (job->status) {
	case TPC_JOB_COMMITTED:
		if (job->sending.outcome == TPC_OUTCOME_REFUSED) {
			f[3].str = "refused";
			tpc_log_kv(TPC_LOG_INFO, f, 4, "sending refused whole (%u lines)",
			           job->lines_refused + job->lines_accepted);
		} else {
			tpc_log_kv(TPC_LOG_DEBUG, f, 3,
			           "sending cleared: %u lines accepted, %u refused",
			           job->lines_accepted, job->lines_refused);
		}
		break;
	case TPC_JOB_REPLAY:
		tpc_log_kv(TPC_LOG_DEBUG, f, 3, "sending replayed: the stored answer");
		break;
	case TPC_JOB_CONFLICT:
		f[3].str = "conflict";
		tpc_log_kv(TPC_LOG_INFO, f, 4,
		           "sending conflict: the key was stored with other content");
		break;
	case TPC_JOB_FAILED:
		f[2] = (tpc_log_field_t){"code",
		                         job->fail_code ? job->fail_code : TPC_CODE_INTERNAL, 0};
		tpc_log_kv(TPC_LOG_INFO, f, 3, "sending refused: %s",
		           job->fail_reason ? job->fail_reason : "internal error");
		break;
	default:
		break;
	}
}

/* Idle: nothing has been in flight for IDLE_TRIM_MS (the timer is armed when in_flight reaches
 * 0, and whatever arrived since made it non-zero or was answered at once). Then the memory
 * freed after the last burst goes back to the kernel: glibc keeps freed chunks in its heaps (one
 * per thread that allocated, the workers' included) until malloc_trim() hands their free pages
 * back, and the connections with nothing outstanding are forgotten. Some milliseconds of work,
 * once per idle period, on a thread that has nothing else to do. */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	tpc_server_t *s = arg;

	(void)fd;
	(void)what;
	if (s->in_flight)
		return;
	tpc_arena_reset(s->scratch);
	tpc_conns_sweep(s->conns);
	malloc_trim(0);
}

static void maybe_finish(tpc_server_t *s)
{
	if (s->draining && s->in_flight == 0)
		event_base_loopexit(s->base, NULL);
}

static void drain_intake(tpc_server_t *s);

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	tpc_server_t *s = arg;
	tpc_qnode_t *head, *next;

	(void)fd;
	(void)what;
	/* ack before popping (queue.c), then take everything: the eventfd was kicked once for
	 * however many jobs arrived since the last wakeup */
	tpc_queue_ack(s->done);
	while (tpc_queue_pop_many(s->done, SIZE_MAX, 0, &head) > 0) {
		for (; head; head = next) {
			tpc_job_t *job = tpc_job_of(head);

			next = head->next;
			answer_job(s, job);
			/* answered: its bytes count in the rate the admission bound is made of */
			if (job->charged_payload)
				tpc_admission_done(s->admission, job->charged_payload, 1,
				                   mono_us());
			job->charged_payload = 0;
			log_outcome(job);
			if (job->type == TPC_JOB_PAYRUN)
				push_settlements(s, job);
			count_outcome(s, job);
			s->in_flight--;
			job_put(s, job);
		}
	}
	/* The writer stopped trusting the ledger (a failed write or fsync): its jobs were answered
	 * T00051 above; drain the rest and stop, for the supervisor to restart the engine. Read
	 * after the answers: the writer raises the flag before it hands those jobs on. */
	if (!s->lost && tpc_writer_lost(s->ledger)) {
		s->lost = 1;
		tpc_error("stopping: the ledger is no longer trusted after a failed write; new "
		          "sendings refused T00051, exit status 1 for a restart");
		tpc_server_request_stop(s);
	}
	if (s->in_flight == 0 && s->idle_ev) {
		struct timeval tv = {0, IDLE_TRIM_MS * 1000};

		evtimer_add(s->idle_ev, &tv); /* re-armed: the idle period starts now */
	}
	/* sending may have consumed the ZMQ_FD edge: look at the intake again */
	drain_intake(s);
	maybe_finish(s);
}

/* ---- intake -------------------------------------------------------------------------------- */

/* protobuf-c allocator over a fixed buffer: envelopes are tiny, so no malloc per request */
struct fixed_alloc {
	uint8_t buf[4096];
	size_t used;
};

/* A bump allocator over the request's stack buffer, 16-byte aligned like malloc; when it is
 * full the unpack fails and the request is refused as a bad envelope (T00001): the strings of
 * a valid one (sender, key, format) are far below 4 KiB. */
static void *fixed_alloc_fn(void *data, size_t size)
{
	struct fixed_alloc *f = data;
	size_t at = (f->used + 15) & ~(size_t)15;

	if (at + size > sizeof(f->buf))
		return NULL;
	f->used = at + size;
	return f->buf + at;
}

/* nothing to free one by one: the buffer goes with the request */
static void fixed_free_fn(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

/* One request while the loop thread handles it: its frames, the decoded envelope and who sent
 * it. It lives on receive_one's stack; everything a worker needs is copied into the job, so the
 * request can be closed as soon as the job is queued. */
struct request {
	zmq_msg_t frames[3]; /* routing identity, envelope, payload */
	int nframes;         /* frames to close (at most 3) */
	int extra;           /* frames beyond the third, already closed */
	struct fixed_alloc fa;
	ProtobufCAllocator pa;
	Tpclear__Envelope *env; /* NULL until the envelope unpacks */
	const uint8_t *id;      /* frames[0]: where every answer goes */
	size_t idlen;
	tpc_job_auth_t auth;         /* admitted sender; moved into the job once there is one */
	char sender[TPC_SENDER_MAX]; /* the authenticated sender, else the envelope's */
};

/* A refusal at intake: receipt REFUSED, nothing follows. Counted twice on purpose: as a bad
 * request and as a sending outcome (docs/metrics.md). */
static void refuse(tpc_server_t *s, const uint8_t *id, size_t idlen, uint64_t corr,
                   const char *code, const char *key)
{
	tpc_metrics_add(s->shard, TPC_M_bad_requests, 1);
	tpc_metrics_add(s->shard, TPC_M_sendings_refused_intake, 1);
	send_receipt(s, id, idlen, corr, TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED, code, key, NULL);
}

/* refuse() for a request whose envelope is known: the answer echoes its correlation */
static void refuse_request(tpc_server_t *s, const struct request *r, const char *code,
                           const char *key)
{
	refuse(s, r->id, r->idlen, r->env->correlation, code, key);
}

/* Read every frame of one multipart message; frames beyond the third are read and dropped so
 * the next message starts clean. @return -1 when nothing was waiting (EAGAIN), else 0. */
static int read_frames(tpc_server_t *s, struct request *r)
{
	int more = 1;

	while (more) {
		zmq_msg_t *m = r->nframes < 3 ? &r->frames[r->nframes] : NULL;
		zmq_msg_t sink;

		if (!m)
			m = &sink;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, s->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (r->nframes == 0)
				return -1; /* EAGAIN: nothing to read */
			break;             /* cannot happen: multipart messages arrive whole */
		}
		more = zmq_msg_more(m);
		if (m == &sink) {
			zmq_msg_close(m);
			r->extra++;
		} else {
			r->nframes++;
		}
	}
	r->id = zmq_msg_data(&r->frames[0]);
	r->idlen = zmq_msg_size(&r->frames[0]);
	return 0;
}

/* A NUL byte inside an envelope string, found on the wire (protobuf-c hands the string over cut
 * at the NUL: "K1\0aaa" would pass as the key "K1"). Each field is refused with the code of a
 * value of that field that cannot be right: the sender T00008, the key T00006, the format the
 * code of a name nobody knows (T00017 for a load's kind, T00003 otherwise), since
 * "efact\0junk" names no adapter. @return the refusal code, NULL when there is none. */
static const char *envelope_nul(const Tpclear__Envelope *env, const uint8_t *wire, size_t len)
{
	const ProtobufCFieldDescriptor *f =
	    tpc_pb_nul_string(&tpclear__envelope__descriptor, wire, len);

	if (!f)
		return NULL;
	if (strcmp(f->name, "sender") == 0)
		return TPC_CODE_BAD_SENDER;
	if (strcmp(f->name, "key") == 0)
		return TPC_CODE_BAD_KEY;
	return env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD ? TPC_CODE_UNKNOWN_KIND
	                                                        : TPC_CODE_UNKNOWN_FORMAT;
}

/* The envelope's own fields, checked before anyone looks the sender up: version, NUL bytes,
 * sender and key shapes, request type. @return the refusal code, NULL when well formed. */
static const char *check_envelope(const Tpclear__Envelope *env, const uint8_t *wire, size_t len)
{
	const char *code;

	/* 0 is accepted as 1: proto3 does not send a field at its default, so a client that
	 * leaves version unset cannot be told from one that sets 0 */
	if (env->version > 1)
		return TPC_CODE_BAD_VERSION;
	if ((code = envelope_nul(env, wire, len)))
		return code;
	if (!tpc_check_token(env->sender, 1, TPC_SENDER_MAX - 1))
		return TPC_CODE_BAD_SENDER;
	/* a ping carries no sending, so it needs no key */
	if (env->type != TPCLEAR__REQUEST_TYPE__REQUEST_PING &&
	    !tpc_check_token(env->key, 1, TPC_KEY_MAX - 1))
		return TPC_CODE_BAD_KEY;
	/* an open enum in proto3: unknown numbers unpack fine and must be refused here */
	if (env->type > TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST)
		return TPC_CODE_BAD_TYPE;
	return NULL;
}

/* Parse: frames, then the envelope. Anything malformed is refused here, before security sees
 * it. @return 0 when the request may go on, -1 when it was answered (or cannot be). */
static int parse_request(tpc_server_t *s, struct request *r)
{
	const char *code;

	if (r->idlen > TPC_IDENTITY_MAX)
		return -1; /* ROUTER identities are at most 255 bytes: cannot happen */
	/* correlation 0: without a readable envelope there is no correlation to echo */
	if (r->nframes != 3 || r->extra) {
		refuse(s, r->id, r->idlen, 0, TPC_CODE_BAD_FRAMES, "");
		return -1;
	}
	r->fa.used = 0;
	r->env = tpclear__envelope__unpack(&r->pa, zmq_msg_size(&r->frames[1]),
	                                   zmq_msg_data(&r->frames[1]));
	if (!r->env) {
		refuse(s, r->id, r->idlen, 0, TPC_CODE_BAD_ENVELOPE, "");
		return -1;
	}
	code = check_envelope(r->env, zmq_msg_data(&r->frames[1]), zmq_msg_size(&r->frames[1]));
	if (code) {
		/* the key is not echoed: it may be what was malformed */
		refuse_request(s, r, code, "");
		return -1;
	}
	return 0;
}

/* Admit: who sent it and may they (engine/security/security.h: logged and counted there); a
 * ping is answered here, and while draining nothing new is taken.
 * @return 0 when a job should be made, -1 when the request was answered. */
static int admit_request(tpc_server_t *s, struct request *r)
{
	const char *code;

	code = tpc_security_admit(s->sec, &r->frames[1], r->env, &r->auth, r->sender);
	if (code) {
		refuse_request(s, r, code, r->env->key);
		return -1;
	}
	/* A ping is answered after admission (an unregistered key gets its T00040, not a sign of
	 * life) and before the drain check, so a draining engine still shows it is alive. */
	if (r->env->type == TPCLEAR__REQUEST_TYPE__REQUEST_PING) {
		send_receipt(s, r->id, r->idlen, r->env->correlation,
		             TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED, NULL, "", NULL);
		return -1;
	}
	if (s->draining) {
		refuse_request(s, r, s->lost ? TPC_CODE_LEDGER_LOST : TPC_CODE_SHUTTING_DOWN,
		               r->env->key);
		return -1;
	}
	return 0;
}

/* The request's identity and sender, copied into @p job (the frames die with the request). */
static void job_fill(tpc_server_t *s, struct request *r, tpc_job_t *job)
{
	job->auth = r->auth; /* the job holds the sender's registry reference from here on */
	memset(&r->auth, 0, sizeof(r->auth));
	memcpy(job->identity, r->id, r->idlen);
	job->identity_len = r->idlen;
	job->correlation = r->env->correlation;
	/* two clocks: received_us measures the latency histogram, received_ms is stored */
	job->received_us = mono_us();
	job->received_ms = wall_ms();
	/* the authenticated sender (curve), else the envelope's: keys, queries, settlements */
	peer_seen(s, r->sender, r->id, r->idlen);
	snprintf(job->sender, sizeof(job->sender), "%s", r->sender);
	snprintf(job->key, sizeof(job->key), "%s", r->env->key);
}

/* A load or a submission: which table or adapter it is for, and whether its payload fits.
 * @return the refusal code, NULL when the payload may be taken. */
static const char *route_sending(tpc_server_t *s, const Tpclear__Envelope *env, size_t len,
                                 tpc_job_t *job)
{
	const char *code = NULL;

	if (env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD) {
		/* "KIND" replaces the kind; "upsert:KIND" merges a delta into it; "force:KIND"
		 * replaces it even past the guard (max_load_drop_percent, an empty file) */
		const char *kind = env->format;

		job->type = TPC_JOB_LOAD;
		job->load_max_drop = (uint8_t)s->cfg.max_load_drop_percent;
		if (strncmp(kind, "upsert:", 7) == 0) {
			job->load_upsert = 1;
			kind += 7;
		} else if (strncmp(kind, "force:", 6) == 0) {
			job->load_force = 1;
			kind += 6;
		}
		if (tpc_refdata_kind(kind, &job->table.kind) != 0)
			code = TPC_CODE_UNKNOWN_KIND;
	} else {
		/* an eAttest takes the express lane: its own worker, the front of the ledger
		 * writer's queue */
		int eattest = env->type == TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST;

		job->type = TPC_JOB_SUBMIT;
		job->express = (uint8_t)eattest;
		job->adapter = tpc_adapters_find(s->adapters, eattest ? "eattest" : env->format,
		                                 &job->adapter_state);
		if (!job->adapter)
			code = TPC_CODE_UNKNOWN_FORMAT;
	}
	/* the kind or format is judged before the size: an unknown one says so even when big */
	if (code)
		return code;
	if (len == 0)
		return TPC_CODE_EMPTY_PAYLOAD;
	if (job->type == TPC_JOB_LOAD && len > s->cfg.max_load_bytes)
		return TPC_CODE_LOAD_TOO_LARGE;
	if (job->type != TPC_JOB_LOAD && len > s->cfg.max_sending_bytes)
		return TPC_CODE_TOO_LARGE;
	return NULL;
}

/* Decide the job's type from the envelope and take the payload into it.
 * @return 0, or -1 when the request was refused (the caller recycles the job). */
static int job_take_payload(tpc_server_t *s, struct request *r, tpc_job_t *job)
{
	const Tpclear__Envelope *env = r->env;
	const char *code;

	if (env->type == TPCLEAR__REQUEST_TYPE__REQUEST_QUERY) {
		/* a query's answer is built from the ledger: its payload frame is not kept */
		job->type = TPC_JOB_QUERY;
		job->query_settlement = strcmp(env->format, "settlement") == 0;
		return 0;
	}
	if (env->type == TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN ||
	    env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER) {
		/* the request may be empty (every field at its default) */
		job->type = env->type == TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN ? TPC_JOB_PAYRUN
		                                                               : TPC_JOB_LEDGER;
		/* these requests are a few fields (PayrunRequest, LedgerRequest); 64 KiB is far
		 * above any real one and keeps a worker from unpacking megabytes of nonsense */
		if (zmq_msg_size(&r->frames[2]) > 65536) {
			refuse_request(s, r, TPC_CODE_TOO_LARGE, env->key);
			return -1;
		}
		/* moved, not copied: the job now owns the frame ZeroMQ received */
		zmq_msg_move(&job->payload, &r->frames[2]);
		return 0;
	}
	code = route_sending(s, env, zmq_msg_size(&r->frames[2]), job);
	if (code) {
		/* an oversized load is a security event too (a feed that grew, or abuse) */
		if (strcmp(code, TPC_CODE_LOAD_TOO_LARGE) == 0)
			tpc_security_refused(s->sec, code, &job->auth, job->sender, job->key, NULL);
		refuse_request(s, r, code, env->key);
		return -1;
	}
	zmq_msg_move(&job->payload, &r->frames[2]);
	return 0;
}

/* The native receipt (eFact 931000), built before the job leaves this thread: after the push
 * the payload belongs to a worker. An adapter that cannot build one just sends none. */
static void native_receipt(tpc_server_t *s, tpc_job_t *job, tpc_blob_t *native)
{
	tpc_host_t host = {tpc_arena_host_alloc, s->scratch, 0, 0, tpc_arena_host_alloc_uninit};

	tpc_arena_reset(s->scratch);
	if (job->adapter->encode_answer(job->adapter_state, zmq_msg_data(&job->payload),
	                                zmq_msg_size(&job->payload), NULL, TPC_ANSWER_RECEIPT,
	                                &host, native) != 0)
		memset(native, 0, sizeof(*native));
}

/* Working memory per payload byte while a request is in flight, beyond the payload itself:
 * decoded structures, findings, the packed Result and native answer in its arena, and the
 * ledger's dirty pages when it is written. Measured (docs/operations.md, Memory): a line takes
 * about 1.2 KiB of arena (1,160 B measured in issue 15) and 540 bytes of LMDB dirty pages; an eFact
 * line is 350 to 700 bytes on the wire (its records), a canonical one about 45. A plugin's is
 * unknown: 8, the factor of a job arena's limit. */
static size_t expansion(const tpc_job_t *job)
{
	if (job->type == TPC_JOB_LOAD)
		return 4;
	/* a few fields; a query's answer is bounded per connection instead (conns.h) */
	if (job->type != TPC_JOB_SUBMIT)
		return 0;
	if (strcmp(job->adapter->name, "efact") == 0)
		return 7;
	if (strcmp(job->adapter->name, "canonical") == 0 ||
	    strcmp(job->adapter->name, "eattest") == 0)
		return 36;
	return 8;
}

/* The overload bound (pipeline/admission.h; docs/benchmarks.md, "Issue 15: admission in
 * time"): the time the sendings received and not yet answered would take to answer, their
 * payload bytes over the rate the engine recently answered. Past [engine] admission_delay_ms a
 * sending is answered busy at once, before anything is built for it, and its sender retries
 * when the engine has room, instead of the queues filling with seconds of work that stretch
 * every answer and the RSS: under overload a fixed bound in bytes let the wait grow with
 * whatever slowed the engine (seconds measured behind 32M). In bytes, not sendings: the loop
 * thread knows a payload's size before decoding it, and a sending's cost is its lines. An
 * eAttest (express lane, a few hundred bytes, its own bounded queue) is not counted: under
 * overload attestations still go through; nor are loads (rare, an operator's).
 * @return 0, or -1 (counted busy) when the request would pass the bound. */
static int take_payload(tpc_server_t *s, tpc_job_t *job, size_t len)
{
	if (job->express || job->type != TPC_JOB_SUBMIT)
		return 0;
	if (tpc_admission_take(s->admission, len, mono_us()) != 0) {
		tpc_metrics_add(s->shard, TPC_M_sendings_busy, 1);
		return -1;
	}
	job->charged_payload = len;
	return 0;
}

/* The memory bounds of a request (docs/operations.md, Memory): its connection's outstanding
 * count, then the working memory in flight, estimated from the payload. Each is given back by
 * job_put(), or with the answer's last frame for the count. A lone request always passes the
 * memory bound, so a sending up to max_sending_bytes is never refused for it.
 * @return a busy code, TPC_CODE_INTERNAL, or NULL. */
static const char *take_memory(tpc_server_t *s, const struct request *r, tpc_job_t *job)
{
	size_t len = zmq_msg_size(&job->payload), charge = len * (1 + expansion(job));
	int rc = tpc_conns_take(s->conns, r->id, r->idlen, &job->conn);

	if (rc == TPC_EAGAIN) {
		tpc_metrics_add(s->shard, TPC_M_sendings_busy, 1);
		return TPC_CODE_CONN_BUSY;
	}
	if (rc)
		return TPC_CODE_INTERNAL;
	if (s->memory_in_flight && s->memory_in_flight + charge > s->cfg.max_memory_in_flight) {
		tpc_metrics_add(s->shard, TPC_M_sendings_busy, 1);
		return TPC_CODE_MEMORY_BUSY;
	}
	if (take_payload(s, job, len) != 0)
		return TPC_CODE_PAYLOAD_BUSY;
	s->memory_in_flight += charge;
	job->charged = charge;
	return NULL;
}

/* Enqueue: take the sender's share of the queue, push to the workers (or the express lane),
 * answer "received". @return 0 when the job was queued; on -1 it was answered and the caller
 * recycles it. */
static int enqueue_job(tpc_server_t *s, const struct request *r, tpc_job_t *job)
{
	tpc_queue_t *q = job->express ? s->express : s->jobs;
	tpc_blob_t native = {0};
	const char *code;

	/* Busy is decided first, before anything is built for the request (the native receipt),
	 * so that under overload a refused sending costs the loop thread as little as possible.
	 * One sender may not hold more than its share of the queue: the per-sender bound before
	 * the global ones, so a sender over its share is told it is busy without taking a slot of
	 * the job queue from the others. */
	code = tpc_security_take(s->sec, &job->auth, job->sender, job->key);
	if (!code)
		code = take_memory(s, r, job);
	if (code) {
		send_receipt(s, r->id, r->idlen, r->env->correlation,
		             strcmp(code, TPC_CODE_INTERNAL) != 0
		                 ? TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY
		                 : TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED,
		             code, r->env->key, NULL);
		return -1;
	}
	/* The loop thread is the only producer of both queues: room seen here is still there at
	 * the push below (a worker can only take more). The push checks again all the same. */
	if (tpc_queue_depth(q) < tpc_queue_capacity(q) && job->type == TPC_JOB_SUBMIT)
		native_receipt(s, job, &native);
	if (tpc_queue_try_push(q, &job->node)) {
		/* the queue is full: "busy" is back-pressure, the sender retries later */
		tpc_metrics_add(s->shard, TPC_M_sendings_busy, 1);
		send_receipt(s, r->id, r->idlen, r->env->correlation,
		             TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY, NULL, r->env->key, NULL);
		return -1;
	}
	s->in_flight++;
	if (job->type == TPC_JOB_SUBMIT)
		tpc_metrics_add(s->shard, TPC_M_sendings_received, 1);
	/* the job now belongs to a worker: answer from our copies of the envelope fields */
	send_receipt(s, r->id, r->idlen, r->env->correlation,
	             TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED, NULL, r->env->key,
	             native.ptr ? &native : NULL);
	return 0;
}

/* A job for an admitted request, queued or refused. The job is recycled on any refusal. */
static void make_job(tpc_server_t *s, struct request *r)
{
	tpc_job_t *job = job_get(s);

	if (!job) {
		refuse_request(s, r, TPC_CODE_INTERNAL, r->env->key);
		return;
	}
	job_fill(s, r, job);
	if (job_take_payload(s, r, job) != 0 || enqueue_job(s, r, job) != 0)
		job_put(s, job);
}

/* Receive one whole multipart request and act on it: parse, admit, make a job and enqueue it.
 * Each stage answers its own refusals, so the order of checks (and of codes) is the order of
 * the stages. @return 0 when a message was read, -1 when none was waiting. */
static int receive_one(tpc_server_t *s)
{
	struct request r = {.nframes = 0};

	r.pa = (ProtobufCAllocator){fixed_alloc_fn, fixed_free_fn, &r.fa};
	if (read_frames(s, &r) != 0)
		return -1;
	if (parse_request(s, &r) == 0 && admit_request(s, &r) == 0)
		make_job(s, &r);
	tpc_security_release(s->sec, &r.auth, r.sender); /* admitted but never made a job (ping) */
	if (r.env)
		tpclear__envelope__free_unpacked(r.env, &r.pa);
	for (int i = 0; i < r.nframes; i++)
		zmq_msg_close(&r.frames[i]);
	return 0;
}

/* ZMQ_FD is edge-triggered and signals only that the socket's state should be read again
 * (zmq_getsockopt(3)): stopping while a message waits would leave it to an edge that will not
 * come. A receive that finds nothing is that reading: libzmq's non-blocking recv processes
 * every pending command (the same process_commands(0) ZMQ_EVENTS runs, which resets the FD)
 * before it answers EAGAIN, so receiving until EAGAIN leaves the FD armed for the next
 * message, with no ZMQ_EVENTS call per request. After the budget, ZMQ_EVENTS says whether
 * more waits. */
static void drain_intake(tpc_server_t *s)
{
	uint32_t events = 0;
	size_t sz = sizeof(events);

	for (int budget = DRAIN_BUDGET; budget > 0; budget--)
		if (receive_one(s) != 0)
			return; /* EAGAIN: drained */
	if (zmq_getsockopt(s->router, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN))
		/* more is waiting but no new edge will come: come back after other events */
		event_active(s->zmq_ev, EV_READ, 0);
}

static void on_zmq(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_intake(arg);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static void http_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                       const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	/* evhttp_send_reply() moves the buffer's bytes into the connection's output, so the
	 * buffer is freed right after it and the body (metrics_buf) may be reused */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* Make the /metrics buffer at least @p need bytes (loop thread; the previous reply's body is
 * no longer referenced: http_reply() copies it).
 * @return 0 or TPC_ENOMEM, the old buffer kept. */
static int grow_metrics_buf(tpc_server_t *s, size_t need)
{
	char *nb = realloc(s->metrics_buf, need);

	if (!nb)
		return TPC_ENOMEM;
	s->metrics_buf = nb;
	s->metrics_cap = need;
	return 0;
}

/* Gauges sampled now, on the thread that owns in_flight; the counters are summed from every
 * thread's shard by the renderer. */
static void sample_gauges(tpc_server_t *s, tpc_metrics_gauges_t *g)
{
	MDB_env *env = tpc_store_db(tpc_writer_store(s->ledger))->env;
	MDB_envinfo info;
	MDB_stat st;
	static char zv[32]; /* loop thread only, like every scrape */
	int major, minor, patch;

	zmq_version(&major, &minor, &patch);
	snprintf(zv, sizeof(zv), "%d.%d.%d", major, minor, patch);
	*g = (tpc_metrics_gauges_t){
	    .job_queue_depth = tpc_queue_depth(s->jobs),
	    .job_queue_capacity = tpc_queue_capacity(s->jobs),
	    .ledger_queue_depth = tpc_queue_depth(s->to_ledger),
	    .in_flight = s->in_flight,
	    .map_size_bytes = tpc_writer_map_size(s->ledger),
	    .map_max_bytes = s->cfg.map_max,
	    .workers = (uint64_t)s->nworkers,
	    .adapters = (uint64_t)tpc_adapters_count(s->adapters),
	    .uptime_seconds = (mono_us() - s->started_us) / 1000000u,
	    .disk_full = (uint64_t)tpc_writer_disk_full(s->ledger),
	    .admission_in_flight_bytes = tpc_admission_in_flight(s->admission),
	    .admission_bound_bytes = tpc_admission_bound(s->admission),
	    .admission_rate_bytes = tpc_admission_rate(s->admission),
	    .admission_delay_seconds = (double)tpc_admission_delay_ms(s->admission) / 1000.0,
	    .nstore_damaged = TPC_REC__COUNT,
	    .lmdb_version = mdb_version(NULL, NULL, NULL),
	    .zmq_version = zv,
	    .libevent_version = event_get_version(),
	};
	for (unsigned i = 0; i < TPC_REC__COUNT; i++) {
		g->store_damaged_db[i] = tpc_records_db_name(i);
		g->store_damaged[i] = tpc_records_damaged_total(i);
	}
	/* The map in use: LMDB hands out pages up to the last page number of the last committed
	 * transaction and reuses freed ones below it, so (last + 1) x page size is what the file
	 * needs of the map - what an alert compares with the ceiling. Any thread may ask. */
	if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0) {
		g->map_used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
		g->readers_used = info.me_numreaders;
		g->readers_max = info.me_maxreaders;
	}
	tpc_metrics_process(&g->process);
}

static void serve_metrics(tpc_server_t *s, struct evhttp_request *req)
{
	tpc_metrics_gauges_t g;
	size_t n;

	sample_gauges(s, &g);
	n = tpc_metrics_render(s->metrics, &g, s->metrics_buf, s->metrics_cap);
	/* the text grows with the label sets (schemes, budgets, codes): rather than cut it (a
	 * truncated exposition is a parse error for Prometheus), grow the buffer and render
	 * again; it stays grown, so this happens once per new size */
	if (n >= s->metrics_cap && grow_metrics_buf(s, n + 1) == 0)
		n = tpc_metrics_render(s->metrics, &g, s->metrics_buf, s->metrics_cap);
	if (n >= s->metrics_cap) {
		http_reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
		return;
	}
	http_reply(req, 200, "OK", "text/plain; version=0.0.4", s->metrics_buf, n);
}

static void on_http(struct evhttp_request *req, void *arg)
{
	tpc_server_t *s = arg;
	const char *uri = evhttp_request_get_uri(req);

	tpc_metrics_add(s->shard, TPC_M_http_requests, 1);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_reply(req, 405, "Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strcmp(uri, "/metrics") == 0) {
		serve_metrics(s, req);
	} else if (strcmp(uri, "/healthz") == 0) {
		/* 503 while draining: a health check sees the engine is on its way out while it
		 * still answers what it has */
		if (s->draining)
			http_reply(req, 503, "Service Unavailable", "text/plain", "draining\n", 9);
		else
			http_reply(req, 200, "OK", "text/plain", "ok\n", 3);
	} else {
		http_reply(req, 404, "Not Found", "text/plain", "not found\n", 10);
	}
}

static int start_http(tpc_server_t *s)
{
	char host[128];
	char *colon;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int port;

	if (strcmp(s->cfg.http_listen, "off") == 0)
		return 0;
	snprintf(host, sizeof(host), "%s", s->cfg.http_listen);
	colon = strrchr(host, ':');
	*colon = 0;
	port = atoi(colon + 1);
	s->http = evhttp_new(s->base);
	if (!s->http)
		return TPC_ENOMEM;
	evhttp_set_gencb(s->http, on_http, s);
	/* POST is let through to on_http(), which answers it 405 "GET only"; methods not listed
	 * here get evhttp's own refusal */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	bs = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
	if (!bs) {
		tpc_error("http: cannot listen on %s", s->cfg.http_listen);
		return TPC_EIO;
	}
	/* port 0 picks a free port (tests): ask the socket which, to publish it, for IPv4 and
	 * IPv6 listeners alike */
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	snprintf(s->http_endpoint, sizeof(s->http_endpoint), "%s:%d", host, port);
	return 0;
}

/* ---- signals and lifecycle ----------------------------------------------------------------- */

/* The drain (docs/architecture.md): nothing new is taken (admit_request() refuses T00007,
 * /healthz says 503), while every job in flight is still committed and answered; the loop exits
 * from maybe_finish() when the last one is. */
void tpc_server_request_stop(tpc_server_t *s)
{
	if (!s->draining) {
		s->draining = 1;
		tpc_info("stopping: refusing new sendings, %zu in flight", s->in_flight);
		tpc_sdnotify_stopping("draining: %zu in flight", s->in_flight);
	}
	maybe_finish(s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	tpc_info("signal %d received", (int)sig);
	tpc_server_request_stop(arg);
}

/* ---- systemd watchdog (core/sdnotify.h) ----------------------------------------------------- */

/* Every quarter of WatchdogSec: ping unless a stage is stuck. A stage counts as stuck after half
 * of it with work waiting and none taken (the workers', the express worker's and the writer's
 * queues; and the pipeline as a whole, requests in flight and none answered, for a stage that
 * holds every request in hand with nothing left waiting in front of it), so a stuck engine stops
 * pinging well before systemd gives up on it, and a stage that resumes pings again before systemd
 * has given up. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	tpc_server_t *s = arg;
	const char *stuck = tpc_watchdog_check(s->wd, mono_us());

	(void)fd;
	(void)what;
	if (stuck && stuck != s->wd_stuck)
		tpc_error("watchdog: the %s stage has work waiting and has taken none for half of "
		          "WatchdogSec: pings withheld, systemd will restart the engine",
		          stuck);
	else if (!stuck && s->wd_stuck)
		tpc_warn("watchdog: the %s stage is taking work again: pings resumed", s->wd_stuck);
	s->wd_stuck = stuck;
	if (stuck) {
		tpc_sdnotify_status("stuck: %s stage, %zu in flight", stuck, s->in_flight);
		return;
	}
	tpc_sdnotify_watchdog();
}

/* Armed only when systemd asked for a watchdog (WATCHDOG_USEC for this pid). */
static int start_watchdog(tpc_server_t *s)
{
	uint64_t usec = tpc_sdnotify_watchdog_usec();
	struct timeval tick;
	int rc;

	if (!usec)
		return 0;
	tick.tv_sec = (time_t)(usec / 4 / 1000000);
	tick.tv_usec = (suseconds_t)(usec / 4 % 1000000);
	if ((rc = tpc_watchdog_new(usec / 2, &s->wd)) ||
	    (rc = tpc_watchdog_watch(s->wd, "workers", s->jobs, NULL)) ||
	    (rc = tpc_watchdog_watch(s->wd, "express worker", s->express, NULL)) ||
	    (rc = tpc_watchdog_watch(s->wd, "ledger writer", s->to_ledger, NULL)) ||
	    (rc = tpc_watchdog_watch(s->wd, "pipeline", s->done, &s->in_flight)))
		return rc;
	s->watchdog_ev = event_new(s->base, -1, EV_PERSIST, on_watchdog, s);
	if (!s->watchdog_ev || event_add(s->watchdog_ev, &tick) != 0)
		return TPC_ENOMEM;
	tpc_info("watchdog: pings every %llu ms while the stages take work",
	         (unsigned long long)(usec / 4000));
	return 0;
}

static int start_intake(tpc_server_t *s)
{
	int fd, linger = 2000, one = 1, rc;
	size_t sz = sizeof(fd), elen = sizeof(s->intake_endpoint);

	s->zctx = zmq_ctx_new();
	if (!s->zctx)
		return TPC_EZMQ;
	/* CURVE and its ZAP handler first: no handshake may happen before they are in place */
	if ((rc = tpc_security_new(&s->cfg, s->zctx, s->base, s->metrics, s->shard, &s->sec)))
		return rc;
	s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (!s->router || tpc_security_router(s->sec, s->router) != 0)
		return TPC_EZMQ;
	/* per-peer bounds inside ZeroMQ; past SNDHWM an answer is dropped (send_frames) rather
	 * than queued without end for a peer that does not read */
	zmq_setsockopt(s->router, ZMQ_SNDHWM, &s->cfg.sndhwm, sizeof(int));
	zmq_setsockopt(s->router, ZMQ_RCVHWM, &s->cfg.rcvhwm, sizeof(int));
	/* answers already queued get two seconds to leave at shutdown */
	zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof(int));
	/* a message to a peer that is gone fails (EHOSTUNREACH) instead of vanishing: counted */
	zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(int));
	if (strchr(s->cfg.endpoint, '['))
		zmq_setsockopt(s->router, ZMQ_IPV6, &one, sizeof(int)); /* an IPv6 address */
	if (zmq_bind(s->router, s->cfg.endpoint) != 0) {
		tpc_error("intake: cannot bind %s: %s", s->cfg.endpoint, zmq_strerror(errno));
		return TPC_EZMQ;
	}
	zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->intake_endpoint, &elen);
	/* libevent only polls ZMQ_FD for readability, nobody reads or writes it; the socket
	 * itself is used from this thread alone (zguide: do not share sockets between threads) */
	if (zmq_getsockopt(s->router, ZMQ_FD, &fd, &sz) != 0)
		return TPC_EZMQ;
	s->zmq_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_zmq, s);
	if (!s->zmq_ev || event_add(s->zmq_ev, NULL) != 0)
		return TPC_ENOMEM;
	return 0;
}

/* DATA_DIR/tpcleard.endpoints: the endpoints actually bound (a "*" port or port 0 is resolved
 * only now), for tests and scripts that start the daemon on free ports (tests/support/daemon.c).
 * Written to a temporary and renamed, so a reader never sees half a file; best effort, since the
 * daemon serves without it. */
static void write_endpoints(tpc_server_t *s)
{
	char path[TPC_PATH_MAX + 32], tmp[TPC_PATH_MAX + 40];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tpcleard.endpoints", s->cfg.data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "intake=%s\nhttp=%s\npid=%ld\n", s->intake_endpoint,
	        s->http ? s->http_endpoint : "off", (long)getpid());
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* The label values of the per-scheme and per-budget counters: the names the engine prints
 * (tpclear CLI, ledger, SEPA file names), "none" for the 0 of each list. */
static void name_metric_values(tpc_metrics_t *m)
{
	static const char *schemes[TPC_SCHEME__COUNT], *budgets[TPC_BUDGET__COUNT];

	for (unsigned i = 0; i < TPC_SCHEME__COUNT; i++)
		schemes[i] = i ? tpc_scheme_name(i) : "none";
	for (unsigned i = 0; i < TPC_BUDGET__COUNT; i++)
		budgets[i] = i ? tpc_budget_name(i) : "none";
	tpc_metrics_name_values(m, TPC_MDIM_SCHEME, schemes, TPC_SCHEME__COUNT);
	tpc_metrics_name_values(m, TPC_MDIM_BUDGET, budgets, TPC_BUDGET__COUNT);
}

int tpc_server_new(const tpc_config_t *cfg, tpc_server_t **out)
{
	const tpc_adapter_config_t adapter_cfg = {tpc_config_adapter_lookup, cfg};
	tpc_server_t *s;
	long cpus;
	int rc;

	/* libsodium must be initialised before any thread hashes (crypto_generichash) */
	if (sodium_init() < 0)
		return TPC_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return TPC_ENOMEM;
	s->cfg = *cfg;
	s->started_us = mono_us();
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->nworkers = cfg->workers > 0 ? cfg->workers : (cpus > 0 ? (int)cpus : 1);
	/* recycled jobs for a full queue plus two per worker: the steady state mallocs none */
	s->max_free = (size_t)cfg->queue_depth + (size_t)s->nworkers * 2 + 16;
	s->peers = calloc(PEERS, sizeof(*s->peers));
	s->metrics_cap = METRICS_BUF;
	/* before the threads start: mallopt is not meant to race with allocations */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	if ((rc = tpc_conns_new(cfg->max_outstanding_per_connection, &s->conns)) ||
	    (rc = tpc_admission_new(cfg->admission_delay_ms, TPC_ADMISSION_FLOOR,
	                            cfg->max_payload_in_flight, &s->admission)))
		goto out_free;
	s->metrics_buf = malloc(METRICS_BUF);
	if (!s->metrics_buf) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	/* shards: the workers, the express worker, the writer, the loop and the ZAP threads */
	if ((rc = tpc_metrics_new(s->nworkers + 8, &s->metrics)))
		goto out_free;
	s->shard = tpc_metrics_shard(s->metrics);
	name_metric_values(s->metrics);
	if ((rc = tpc_arena_new(64 * 1024, 0, &s->scratch)))
		goto out_free;
	tpc_arena_set_keep(s->scratch, JOB_ARENA_KEEP);
	/* the bounds of docs/architecture.md: jobs by queue_depth, the writer's by twice a group;
	 * done needs none, its jobs are bounded upstream */
	if ((rc = tpc_queue_new((size_t)cfg->queue_depth, 0, &s->jobs)) ||
	    (rc = tpc_queue_new(EXPRESS_DEPTH, 0, &s->express)) ||
	    (rc = tpc_queue_new((size_t)cfg->group_max * 2, 0, &s->to_ledger)) ||
	    (rc = tpc_queue_new(0, TPC_QUEUE_EVENTFD, &s->done)))
		goto out_free;
	/* the workers take the smallest sending first (the writer orders its own queue) */
	tpc_queue_set_order(s->jobs, job_bytes, (uint64_t)cfg->small_first_ms * 1000u,
	                    TPC_QUEUE_SCAN);
	if ((rc = tpc_adapters_new(&adapter_cfg, &s->adapters)))
		goto out_free;
	if (cfg->adapter_dir[0])
		tpc_adapters_load_dir(s->adapters, &adapter_cfg, cfg->adapter_dir);
	if ((rc = tpc_writer_open(cfg, s->metrics, &s->ledger)))
		goto out_free;
	s->base = event_base_new();
	if (!s->base) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	if ((rc = start_intake(s)) || (rc = start_http(s)))
		goto out_free;
	s->done_ev = event_new(s->base, tpc_queue_fd(s->done), EV_READ | EV_PERSIST, on_done, s);
	s->sigterm_ev = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sigint_ev = evsignal_new(s->base, SIGINT, on_signal, s);
	s->idle_ev = evtimer_new(s->base, on_idle, s);
	if (!s->done_ev || !s->sigterm_ev || !s->sigint_ev || !s->idle_ev ||
	    event_add(s->done_ev, NULL) || event_add(s->sigterm_ev, NULL) ||
	    event_add(s->sigint_ev, NULL)) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	tpc_writer_set_adapters(s->ledger, s->adapters);
	if ((rc = tpc_writer_start(s->ledger, s->to_ledger, s->done)))
		goto out_free;
	rc = tpc_workers_start(s->nworkers, TPC_WORKERS_BULK, &s->cfg, s->jobs, s->to_ledger,
	                       s->done, tpc_writer_store(s->ledger), s->metrics, &s->workers);
	if (rc == 0) {
		/* the express lane: one worker of its own, so an eAttest never waits behind the
		 * decoding of large sendings */
		rc = tpc_workers_start(1, TPC_WORKERS_EXPRESS, &s->cfg, s->express, s->to_ledger,
		                       s->done, tpc_writer_store(s->ledger), s->metrics,
		                       &s->express_workers);
		if (rc) {
			tpc_queue_close(s->jobs);
			tpc_workers_join(&s->workers);
		}
	}
	if (rc) {
		tpc_queue_close(s->to_ledger);
		tpc_writer_join(s->ledger);
		goto out_free;
	}
	s->threads_started = 1;
	if ((rc = start_watchdog(s)))
		goto out_free;
	write_endpoints(s);
	tpc_info("tpcleard %s ready: intake %s, http %s, %d workers, data %s, sync %s", TPC_VERSION,
	         s->intake_endpoint, s->http ? s->http_endpoint : "off", s->nworkers, cfg->data_dir,
	         cfg->sync == TPC_SYNC_FULL         ? "full"
	         : cfg->sync == TPC_SYNC_NOMETASYNC ? "nometasync"
	                                            : "none (NOT DURABLE)");
	/* the ledger is open and every socket bound: what a unit ordered After= this one needs */
	tpc_sdnotify_ready("serving: intake %s, http %s, %d workers", s->intake_endpoint,
	                   s->http ? s->http_endpoint : "off", s->nworkers);
	*out = s;
	return 0;

out_free:
	tpc_server_free(&s);
	return rc;
}

int tpc_server_run(tpc_server_t *s)
{
	drain_intake(s); /* messages may already wait: the edge came before the event was added */
	if (event_base_dispatch(s->base) < 0)
		return TPC_EIO;
	if (s->lost) {
		tpc_error("stopped after a failed write of the ledger: restart the engine (its "
		          "startup checks read the ledger again)");
		return TPC_EIO;
	}
	tpc_info("stopped cleanly");
	return 0;
}

void tpc_server_free(tpc_server_t **sp)
{
	tpc_server_t *s;
	tpc_qnode_t *head, *next;

	if (!sp || !*sp)
		return;
	s = *sp;
	if (s->threads_started) {
		/* flow order: no more jobs -> workers exit -> writer drains and exits; closing
		 * to_ledger earlier would fail a worker's push, which is fatal (worker.c) */
		tpc_queue_close(s->jobs);
		tpc_queue_close(s->express);
		tpc_workers_join(&s->workers);
		tpc_workers_join(&s->express_workers);
		tpc_queue_close(s->to_ledger);
		tpc_writer_join(s->ledger);
	}
	/* jobs left in queues (only after an aborted start) are freed here */
	if (s->done)
		while (tpc_queue_pop_many(s->done, SIZE_MAX, 0, &head) > 0)
			for (; head; head = next) {
				next = head->next;
				job_put(s, tpc_job_of(head));
			}
	while (s->free_jobs) {
		tpc_job_t *j = s->free_jobs;
		s->free_jobs = (tpc_job_t *)j->node.next;
		tpc_arena_free(&j->arena);
		free(j);
	}
	if (s->zmq_ev)
		event_free(s->zmq_ev);
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->sigterm_ev)
		event_free(s->sigterm_ev);
	if (s->sigint_ev)
		event_free(s->sigint_ev);
	if (s->idle_ev)
		event_free(s->idle_ev);
	if (s->watchdog_ev)
		event_free(s->watchdog_ev);
	tpc_watchdog_free(&s->wd);
	if (s->http)
		evhttp_free(s->http);
	if (s->router)
		zmq_close(s->router);
	tpc_security_free(&s->sec); /* the ZAP handler outlives the CURVE socket it serves */
	/* last of the ZeroMQ objects: zmq_ctx_term() blocks until every socket is closed */
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	/* after the context: the answers ZeroMQ still held gave their counts back as it freed them
	 */
	tpc_conns_free(&s->conns);
	tpc_admission_free(&s->admission);
	if (s->base)
		event_base_free(s->base);
	tpc_writer_free(&s->ledger);
	tpc_adapters_free(&s->adapters);
	tpc_queue_free(&s->jobs);
	tpc_queue_free(&s->express);
	tpc_queue_free(&s->to_ledger);
	tpc_queue_free(&s->done);
	tpc_arena_free(&s->scratch);
	tpc_metrics_free(&s->metrics);
	free(s->metrics_buf);
	free(s->peers);
	free(s);
	*sp = NULL;
}
