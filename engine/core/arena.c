/* engine/core/arena.c - chunked bump allocator (see arena.h).
 *
 * DESIGN: a list of chunks, newest first; only the newest (head) is ever bumped. When an
 * allocation does not fit, the space left in the head is abandoned rather than searched later:
 * the hot path stays a round, a compare and an add, at the price of the tail of each full
 * chunk. Nothing is freed one by one; tpc_arena_reset() gives
 * every byte back at once when the loop thread recycles the job (docs/architecture.md, "Jobs").
 */
#include "core/arena.h"

#include "core/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
	struct chunk *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	max_align_t data[]; /* keeps data aligned for any type */
};

struct tpc_arena {
	struct chunk *head;  /* current chunk; older chunks follow through next */
	struct chunk *first; /* the chunk kept by the last reset */
	size_t limit;        /* 0 = none; a job's: 8 x the largest payload + 16 MiB (server.c) */
	size_t keep;         /* largest chunk a reset keeps (SIZE_MAX = any) */
	size_t total;        /* bytes of every chunk */
	size_t used;         /* bytes handed out */
	void *last;          /* the latest allocation (tpc_arena_shrink()), NULL after a reset */
	size_t last_size;    /* its size */
};

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);

	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

int tpc_arena_new(size_t first, size_t limit, tpc_arena_t **out)
{
	tpc_arena_t *a;

	/* below a page the chunk header and malloc's own overhead outweigh what is saved */
	if (first < 4096)
		first = 4096;
	a = calloc(1, sizeof(*a));
	if (!a)
		return TPC_ENOMEM;
	a->first = chunk_new(first);
	if (!a->first) {
		free(a);
		return TPC_ENOMEM;
	}
	a->head = a->first;
	a->limit = limit;
	a->keep = SIZE_MAX;
	a->total = first;
	*out = a;
	return 0;
}

static void free_chain(struct chunk *c, struct chunk *stop)
{
	while (c && c != stop) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
}

void tpc_arena_free(tpc_arena_t **ap)
{
	tpc_arena_t *a;

	if (!ap || !*ap)
		return;
	a = *ap;
	free_chain(a->head, NULL);
	free(a);
	*ap = NULL;
}

void *tpc_arena_alloc(tpc_arena_t *a, size_t size, size_t align)
{
	void *p = tpc_arena_alloc_uninit(a, size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

void *tpc_arena_alloc_uninit(tpc_arena_t *a, size_t size, size_t align)
{
	struct chunk *c = a->head;
	uintptr_t base, p;
	size_t off;

	if (align == 0)
		align = 1;
	/* Round the address, not the offset: malloc only promises max_align_t for data[], and an
	 * align of 32 or 64 (arena.h allows up to 64) must hold in absolute terms. */
	base = (uintptr_t)c->data;
	p = (base + c->used + (align - 1)) & ~(uintptr_t)(align - 1);
	off = p - base;
	if (off + size > c->size) {
		/* Doubling keeps the number of chunks (and mallocs) logarithmic in the sending's
		 * size; the "+ align" leaves room for the rounding below, so the new chunk always
		 * fits. */
		size_t want = c->size * 2;

		if (want < size + align)
			want = size + align;
		/* Near the limit, fall back to a chunk of exactly this request: refusing it because
		 * the doubled chunk would cross the limit would fail a sending that fits. The limit
		 * counts whole chunks (total), so it bounds real memory, not just bytes handed out.
		 */
		if (a->limit && a->total + want > a->limit) {
			if (a->total + size + align > a->limit)
				return NULL;
			want = size + align;
		}
		c = chunk_new(want);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		a->total += want;
		base = (uintptr_t)c->data;
		p = (base + (align - 1)) & ~(uintptr_t)(align - 1);
		off = p - base;
	}
	c->used = off + size;
	a->used += size; /* payload only, without padding: what metrics and tests compare */
	a->last = (void *)p;
	a->last_size = size;
	return (void *)p;
}

/* Only the latest allocation can give bytes back: it ends at its chunk's bump pointer, so
 * lowering that pointer is all it takes. A worker compresses into a buffer sized for the
 * worst case (LZ4's bound) and keeps a seventh of it: without this, the rest stayed in the
 * arena as dead bytes, a third of a sending's arena, pages every later sending faulted in. */
void tpc_arena_shrink(tpc_arena_t *a, void *p, size_t size)
{
	if (!p || p != a->last || size >= a->last_size)
		return;
	a->head->used -= a->last_size - size;
	a->used -= a->last_size - size;
	a->last_size = size;
}

char *tpc_arena_strndup(tpc_arena_t *a, const char *s, size_t len)
{
	char *d = tpc_arena_alloc(a, len + 1, 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void tpc_arena_set_keep(tpc_arena_t *a, size_t keep)
{
	a->keep = keep;
}

/* Is chunk @p c a better one to keep than @p best? One within @p bound beats one above it;
 * among those within, the larger; among those above, the smaller. */
static int better(const struct chunk *c, const struct chunk *best, size_t bound)
{
	int fits = c->size <= bound, best_fits = best->size <= bound;

	if (fits != best_fits)
		return fits;
	return fits ? c->size > best->size : c->size < best->size;
}

void tpc_arena_reset(tpc_arena_t *a)
{
	struct chunk *c, *keep = a->head, *next;

	/* Keep the largest chunk: a worker clearing sendings of a steady size then reuses one
	 * chunk and calls malloc no more. (arena.h still says "the first chunk"; since chunks grow
	 * geometrically the largest is usually the newest, so keeping the first would re-grow the
	 * chain for every sending.) The kept chunk starts empty, so its older neighbours go.
	 * Only a chunk up to the keep bound is kept: a recycled job that once held a 50 MB sending
	 * would otherwise hold its chunk while idle (issue 14: 1.27 GB after a burst). When every
	 * chunk is above it, the smallest stays, so the arena never needs a malloc to be usable. */
	for (c = a->head->next; c; c = c->next)
		if (better(c, keep, a->keep))
			keep = c;
	for (c = a->head; c; c = next) {
		next = c->next;
		if (c != keep)
			free(c);
	}
	keep->next = NULL;
	keep->used = 0;
	a->last = NULL;
	a->head = a->first = keep;
	a->total = keep->size;
	a->used = 0;
}

size_t tpc_arena_used(const tpc_arena_t *a)
{
	return a->used;
}

/* The void * signature is tpc_host_t.alloc's (adapters/adapter.h): a plugin is built against
 * adapter.h alone and never sees tpc_arena_t. Zeroed, not uninit: adapter.h promises adapters
 * "zeroed memory", so a structure they fill only in part has its other fields at 0. */
void *tpc_arena_host_alloc(void *arena, size_t size, size_t align)
{
	return tpc_arena_alloc(arena, size, align);
}

/* alloc_uninit (adapter.h, ABI 5): for a buffer the adapter writes whole, like the 920098 echo,
 * which is most of an answer's bytes and was cleared only to be overwritten. */
void *tpc_arena_host_alloc_uninit(void *arena, size_t size, size_t align)
{
	return tpc_arena_alloc_uninit(arena, size, align);
}
