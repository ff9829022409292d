/* engine/job.h - one request travelling through the engine.
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
#include "arena.h"
#include "queue.h"
#include "refdata.h"
#include "tariff.h"

#include <stdint.h>
#include <zmq.h>

#define TPC_SENDER_MAX   64
#define TPC_KEY_MAX      128
#define TPC_IDENTITY_MAX 256
#define TPC_HASH_LEN     32

enum tpc_job_type {
	TPC_JOB_SUBMIT = 0,
	TPC_JOB_QUERY = 1,
	TPC_JOB_LOAD = 2, /* replace one kind of reference data */
};

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

typedef struct tpc_job {
	tpc_qnode_t node; /* first member: queues carry jobs */
	enum tpc_job_type type;
	enum tpc_job_status status;
	uint64_t correlation;
	uint64_t received_us; /* monotonic clock at receipt */
	uint8_t identity[TPC_IDENTITY_MAX];
	size_t identity_len;
	char sender[TPC_SENDER_MAX];
	char key[TPC_KEY_MAX];
	const tpc_adapter_t *adapter;
	const void *adapter_state;
	zmq_msg_t payload; /* owned; closed when the job is recycled */
	tpc_arena_t *arena;
	uint8_t hash[TPC_HASH_LEN];
	tpc_sending_t sending;                  /* decoded and judged (submit) */
	uint32_t lines_accepted, lines_refused; /* set by the worker when judged */
	uint8_t ledger_pending;   /* writer: judged, decided in the transaction being written */
	tpc_tariff_marks_t marks; /* per-line data the writer records (dedup, maxima) */
	tpc_ref_table_t table;    /* TPC_JOB_LOAD: parsed rows, in the arena */
	/* The sender's answer material, in the arena: */
	uint8_t *result; /* packed tpclear.Result without ledger fields */
	size_t result_len;
	tpc_blob_t native; /* native answer (e.g. eFact 920098), ptr NULL when none */
	/* Set by the ledger writer (or the worker, for replays and queries): */
	uint64_t sequence;
	uint64_t committed_ms;
	uint8_t stored_hash[TPC_HASH_LEN]; /* on conflict */
	const char *fail_code;             /* TPC_JOB_FAILED: own code Tnnnnn (static string) */
	const char *fail_reason;           /* static string, or in the arena */
} tpc_job_t;

/** Container of a queue node. */
static inline tpc_job_t *tpc_job_of(tpc_qnode_t *n)
{
	return (tpc_job_t *)n;
}

#endif /* TPC_JOB_H */
