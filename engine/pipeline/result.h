/* engine/pipeline/result.h - the answers of the wire contract (proto/tpclear.proto), built without
 * malloc.
 *
 * A sending's Result is packed once by the worker (into the job's arena) and stored as is. The
 * fields known only after the durable commit (sequence, committed_at) and the replay flag are
 * appended when the Answer is framed: protobuf merges repeated occurrences of a message's
 * fields, so "Result bytes ++ extra fields" parses as one Result. Receipts and conflicts are
 * small and packed on the stack.
 */
#ifndef TPC_RESULT_H
#define TPC_RESULT_H

#include "adapter.h"
#include "pipeline/job.h"

#include <stddef.h>
#include <stdint.h>

/** Pack job->sending as a tpclear.Result into job->arena; sets job->result/result_len.
 *  @param[in] a, state  the adapter (names its finding codes)
 *  @return 0 or TPC_ENOMEM. */
int tpc_result_pack(tpc_job_t *job, const tpc_adapter_t *a, const void *state);

/** Room needed to frame a result of @p result_len bytes with tpc_answer_result(). */
size_t tpc_answer_result_size(size_t result_len);

/** Frame a stored result as a tpclear.Answer into @p buf (at least
 *  tpc_answer_result_size(len) bytes). @return bytes written. */
size_t tpc_answer_result(uint64_t correlation, const uint8_t *result, size_t len, uint64_t sequence,
                         uint64_t committed_ms, int replay, uint8_t *buf);

/** Pack a Receipt answer. status: 0 received, 1 refused, 2 busy (tpclear.ReceiptStatus).
 *  @return bytes written, or 0 when @p cap is too small. */
size_t tpc_answer_receipt(uint64_t correlation, int status, const char *code, const char *reason,
                          uint32_t retry_after_ms, const char *key, uint8_t *buf, size_t cap);

/** Pack a Conflict answer. The two hashes are @p hash_len bytes each, of one algorithm
 *  (16: XXH3-128, 32: BLAKE2b-256 of a sending stored by an older engine).
 *  @return bytes written, or 0 when @p cap is too small. */
size_t tpc_answer_conflict(uint64_t correlation, const char *key, const uint8_t *stored_hash,
                           const uint8_t *payload_hash, size_t hash_len, uint64_t sequence,
                           uint8_t *buf, size_t cap);

/** Describe a finding code: tpclear's own table first, then the adapter's. Never NULL. */
const char *tpc_result_reason(const tpc_adapter_t *a, const void *state, const char *code);

#endif
