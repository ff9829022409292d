/* tests/fuzz/fuzz.h - what the libFuzzer harnesses share (docs/fuzzing.md).
 *
 * Each harness fuzz_<name>.c defines LLVMFuzzerTestOneInput and feeds one input to one decoder
 * the way the engine does (engine/pipeline/server.c, engine/pipeline/worker.c), then checks what
 * the decoder gave back. A crash, a sanitizer report, a leak or a broken invariant (FUZZ_CHECK) is
 * a finding.
 *
 * Memory: the adapter harnesses lend the decoders an exact host allocator instead of the
 * engine's bump arena (engine/core/arena.h): every host->alloc is its own malloc, so
 * AddressSanitizer sees the bounds of each array an adapter allocates, where inside an arena chunk
 * a read past one array would land silently in the next. Same contract as tpc_arena_host_alloc:
 * zeroed, aligned, NULL once the sending's byte limit is reached; all released after each input.
 */
#ifndef TPC_FUZZ_H
#define TPC_FUZZ_H

#include "adapter.h"

#include <stddef.h>
#include <stdint.h>

/** Report a broken invariant and abort (libFuzzer saves the input as a crash). */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

/** Print "file:line: invariant broken: what" and abort. */
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/** The exact allocator: one malloc per allocation, at most @p limit bytes in all. */
typedef struct fuzz_heap {
	void **blocks;
	size_t nblocks, cap;
	size_t used, limit;
} fuzz_heap_t;

/** A host over @p heap with the engine's default bounds (config.c: 100000 invoices, 1000000
 *  lines) and a byte limit of @p limit. */
void fuzz_host_init(tpc_host_t *host, fuzz_heap_t *heap, size_t limit);

/** Free every allocation of @p heap; it can be used again. */
void fuzz_heap_release(fuzz_heap_t *heap);

/** Check what a decoder returned: indexes in range, findings well formed (6-character code,
 *  a known letter), counts within their slots; read every byte of every view, so a view
 *  pointing outside its memory is an AddressSanitizer report. When @p buf is not NULL the
 *  views must point into [buf, buf + len) (eFact decodes in place). */
void fuzz_check_sending(const tpc_sending_t *s, const uint8_t *buf, size_t len);

/** After tpc_clear_judge(): every line and invoice has an outcome, amounts add up. */
void fuzz_check_judged(const tpc_sending_t *s);

/** The worker's path after decode (engine/pipeline/worker.c): judge, the refusal threshold, the
 * native result answer (TPC_ANSWER_RESULT; ENOTSUP is fine) and the packed tpclear.Result.
 *  @param[out] answer  the native answer, in @p host memory (ptr NULL when none)
 *  @return 0, or a TPC_ADAPTER_E* code when memory ran out (not a finding). */
int fuzz_judge_and_answer(const tpc_adapter_t *a, const uint8_t *buf, size_t len, tpc_sending_t *s,
                          const tpc_host_t *host, tpc_blob_t *answer);

#endif /* TPC_FUZZ_H */
