/* engine/pipeline/job.h - one request travelling through the engine.
 *
 * A job is created by the loop thread when a request arrives and passes, by ownership, through
 * the queues: loop -> job queue -> worker -> ledger queue -> ledger writer -> done queue -> loop.
 * Exactly one thread owns a job at a time; whoever holds it may touch every field. The payload
 * stays in its zmq_msg_t (received without copy) until the answer is sent; the arena holds
 * everything derived from it. The loop thread recycles jobs and their arenas, so a job costs no
 * malloc in the steady state.
 */
#ifndef TPC_JOB_H
#define TPC_JOB_H

#include "adapter.h"
#include "core/arena.h"
#include "core/metrics.h"
#include "security/authz.h"
#include "core/queue.h"
#include "refdata/refdata.h"
#include "clearing/tariff.h"

#include <stdint.h>
#include <zmq.h>

#define TPC_SENDER_MAX    64
#define TPC_KEY_MAX       128
#define TPC_IDENTITY_MAX  256
#define TPC_HASH_LEN      32 /* room for the longest payload hash: BLAKE2b-256 (older records) */
#define TPC_HASH_XXH3_LEN 16 /* the payload hash this engine writes: XXH3-128 */

enum tpc_job_type {
	TPC_JOB_SUBMIT = 0,
	TPC_JOB_QUERY = 1,
	TPC_JOB_LOAD = 2,   /* replace one kind of reference data */
	TPC_JOB_PAYRUN = 3, /* a payment run: executed by the ledger writer, alone in its txn */
	TPC_JOB_LEDGER = 4, /* balances, histories, exports: answered by a worker */
	TPC_JOB_FOLD = 5,   /* the attestation journal's token: wakes the writer to fold (attest.h),
	                     * never answered */
};

/** A settlement to push to its sender after a payment run (packed Answer + native frame). */
typedef struct tpc_push {
	char sender[TPC_SENDER_MAX];
	const uint8_t *answer;
	size_t answer_len;
	tpc_blob_t native;
} tpc_push_t;

/** What became of a job; decides the answer the loop sends. */
enum tpc_job_status {
	TPC_JOB_NEW = 0,
	TPC_JOB_CLEARED,   /* judged by a worker, waiting for the ledger */
	TPC_JOB_COMMITTED, /* durable: answer = fresh result */
	TPC_JOB_REPLAY,    /* (sender, key, hash) already stored: answer = stored result */
	TPC_JOB_CONFLICT,  /* (sender, key) stored with another payload */
	TPC_JOB_FOUND,     /* query answered from the ledger */
	TPC_JOB_FAILED,    /* could not be cleared or stored: answer = refusal with code */
};

struct tpc_line_rec; /* store/records.h */

typedef struct tpc_job {
	tpc_qnode_t node; /* first member: queues carry jobs */
	enum tpc_job_type type;
	enum tpc_job_status status;
	uint64_t correlation;
	uint64_t received_us; /* monotonic clock at receipt */
	/* the stage timestamps (monotonic us; tpclear_stage_*_seconds, docs/metrics.md): a worker
	 * took it and finished judging, its group's commit started and was durable (0: not yet) */
	uint64_t judge0_us, judge1_us, commit0_us, commit1_us;
	uint64_t received_ms;  /* wall clock at receipt (unix ms), kept in the line history */
	uint64_t validated_ms; /* wall clock when the worker finished judging */
	uint8_t identity[TPC_IDENTITY_MAX];
	size_t identity_len;
	char sender[TPC_SENDER_MAX];
	char key[TPC_KEY_MAX];
	tpc_job_auth_t auth; /* who sent it (engine/security/security.h): released when recycled */
	/* loop thread only: the connection's outstanding count this job holds (pipeline/conns.h,
	 * moved to the answer's last frame when sent) and the working memory it holds of
	 * [engine] max_memory_in_flight */
	struct tpc_conn *conn;
	size_t charged;
	size_t charged_payload; /* its payload bytes in the admission bound (admission.h) */
	const tpc_adapter_t *adapter;
	const void *adapter_state;
	zmq_msg_t payload; /* owned; closed when the job is recycled */
	tpc_arena_t *arena;
	/* the payload's hash: XXH3-128 (hash_len 16, zero-padded) or, to compare with a sending
	 * stored by an older engine, its BLAKE2b-256 (32): store/records.h, "Payload hash" */
	uint8_t hash[TPC_HASH_LEN];
	uint8_t hash_len;
	tpc_sending_t sending; /* decoded and judged (submit) */
	/* set by the worker when judged; counted in /metrics once the writer has committed */
	uint32_t lines_accepted, lines_refused;
	uint32_t invoices_accepted, invoices_refused;
	/* the lines again per scheme and per budget (index: the enum's value), for /metrics */
	tpc_metrics_lines_t by_scheme[TPC_METRIC_DIM_MAX], by_budget[TPC_METRIC_DIM_MAX];
	/* the LMDB id of the read snapshot the worker judged against (0: none), which the
	 * writer's check pass compares with the keys taken since (ledger/claims.h) */
	uint64_t snapshot_txn;
	uint8_t ledger_pending;   /* writer: judged, decided in the transaction being written */
	tpc_tariff_marks_t marks; /* per-line data the writer records (dedup, maxima) */
	tpc_ref_table_t table;    /* TPC_JOB_LOAD: parsed rows, in the arena */
	uint8_t load_upsert;      /* TPC_JOB_LOAD: merge the rows (daily delta), not replace */
	uint8_t load_force;       /* TPC_JOB_LOAD: replace even when the guard would refuse */
	uint8_t load_max_drop;    /* TPC_JOB_LOAD: [engine] max_load_drop_percent at intake */
	uint8_t express;          /* eAttest: the express lane (own worker, front of the writer) */
	uint8_t
	    journalled; /* rebuilt from the attestation journal to be folded (ledger/attest.h) */
	/* TPC_JOB_PAYRUN: the request (until: days since epoch, INT32_MAX = all; budget 0 = all) */
	int32_t payrun_until;
	uint8_t payrun_budget;
	char payrun_id[65]; /* the request's idempotency key, "" = none */
	tpc_push_t *pushes; /* settlements to push once durable, in the arena */
	size_t npushes;
	/* TPC_JOB_PAYRUN / TPC_JOB_LEDGER / settlement queries: a complete packed tpclear.Answer
	 * in the arena (answer_ready), sent as is, with native as its second frame if set */
	uint8_t answer_ready;
	uint8_t query_settlement; /* TPC_JOB_QUERY: the latest settlement, not the result */
	/* The sender's answer material, in the arena: */
	uint8_t *result; /* packed tpclear.Result without ledger fields */
	size_t result_len;
	tpc_blob_t native; /* native answer (e.g. eFact 920098), ptr NULL when none */
	/* what the ledger stores of result + native: one LZ4 block made by the worker (the
	 * echoes compress about tenfold), or NULL to store them as they are */
	const uint8_t *stored;
	size_t stored_len;
	/* Computed by the worker, off the writer's path (store/records.h, checksums): the sum of
	 * the answer's body and the bytes it was computed over (stored, else result: the writer
	 * recomputes when they are not the bytes it writes), and the lines block. */
	uint64_t body_sum;
	const uint8_t *body_summed;
	const uint8_t *lines_block; /* the lines block (store/records.h) in the arena, or NULL */
	size_t lines_block_len;
	/* the payload as the ledger keeps it ("payloads", store/payload.h), for a format with a
	 * native settlement: keep_payload set by the worker, payload_stored its value (one LZ4
	 * block, in the arena) or NULL when the arena had no room: the writer then stores the
	 * payload as it is */
	uint8_t keep_payload;
	const uint8_t *payload_stored;
	size_t payload_stored_len;
	/* Set by the ledger writer (or the worker, for replays and queries): */
	uint64_t sequence;
	uint64_t committed_ms;
	uint8_t stored_hash[TPC_HASH_LEN]; /* on conflict, hash_len bytes (same algorithm) */
	const char *fail_code;             /* TPC_JOB_FAILED: own code Tnnnnn (static string) */
	const char *fail_reason;           /* static string, or in the arena */
} tpc_job_t;

/** Container of a queue node. */
static inline tpc_job_t *tpc_job_of(tpc_qnode_t *n)
{
	return (tpc_job_t *)n;
}

#endif /* TPC_JOB_H */
