/* engine/core/arena.h - per-sending bump allocator.
 *
 * A sending's decoded structures, findings, result message and answers all come from one arena
 * and are released together once the sending's result is committed and answered. Allocation is
 * a pointer bump; chunks grow geometrically and the largest chunk is kept across resets, so a
 * worker that reuses its arena allocates nothing in the steady state. A byte limit bounds what one
 * sending may take. Not thread-safe: an arena belongs to one thread at a time.
 */
#ifndef TPC_ARENA_H
#define TPC_ARENA_H

#include <stddef.h>

typedef struct tpc_arena tpc_arena_t;

/** Create an arena.
 *  @param[in]  first  size of the first chunk (the largest chunk is what resets keep)
 *  @param[in]  limit  most bytes the arena may hold in all (0 = no limit)
 *  @param[out] out    new arena, owned by the caller; release with tpc_arena_free().
 *  @return 0 or TPC_ENOMEM. */
int tpc_arena_new(size_t first, size_t limit, tpc_arena_t **out);

/** Free the arena and everything allocated from it; set *@p a to NULL. Accepts NULL. */
void tpc_arena_free(tpc_arena_t **a);

/** Allocate @p size zeroed bytes aligned to @p align (a power of two, at most 64).
 *  @return memory valid until the next reset, or NULL on limit or out of memory. */
void *tpc_arena_alloc(tpc_arena_t *a, size_t size, size_t align);

/** The same, not zeroed: for buffers written whole right away (packed messages, compressed
 *  blocks), so the per-sending path does not clear bytes it then overwrites. */
void *tpc_arena_alloc_uninit(tpc_arena_t *a, size_t size, size_t align);

/** Give back the tail of the latest allocation @p p, which keeps its first @p size bytes (for
 *  a buffer sized for the worst case, e.g. a compression bound). Does nothing when @p p is not
 *  the latest allocation or @p size is not smaller. */
void tpc_arena_shrink(tpc_arena_t *a, void *p, size_t size);

/** Duplicate @p len bytes as a NUL-terminated string. @return NULL on failure. */
char *tpc_arena_strndup(tpc_arena_t *a, const char *s, size_t len);

/** Release every allocation at once; the largest chunk up to the keep bound is kept for reuse
 *  (the smallest when all are larger), the others go back to the allocator. */
void tpc_arena_reset(tpc_arena_t *a);

/** The largest chunk tpc_arena_reset() keeps (default: any size). A job's arena is recycled
 *  with its job, so what it keeps stays allocated while the engine is idle. */
void tpc_arena_set_keep(tpc_arena_t *a, size_t keep);

/** Bytes currently handed out (for metrics and tests). */
size_t tpc_arena_used(const tpc_arena_t *a);

/** Adapter-host trampoline with the tpc_host_t.alloc signature. */
void *tpc_arena_host_alloc(void *arena, size_t size, size_t align);

/** Adapter-host trampoline with the tpc_host_t.alloc_uninit signature (not zeroed). */
void *tpc_arena_host_alloc_uninit(void *arena, size_t size, size_t align);

#endif /* TPC_ARENA_H */
