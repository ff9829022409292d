/* tests/unit/core/test_arena.c - the per-sending bump allocator. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"

Test(arena, aligns_and_zeroes)
{
	tpc_arena_t *a = NULL;

	cr_assert_eq(tpc_arena_new(4096, 0, &a), 0);
	for (int i = 1; i < 200; i++) {
		size_t align = (size_t)1 << (i % 7);
		unsigned char *p = tpc_arena_alloc(a, (size_t)i * 13, align);

		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % align, 0);
		for (int k = 0; k < i * 13; k++)
			cr_assert_eq(p[k], 0);
		memset(p, 0xab, (size_t)i * 13);
	}
	tpc_arena_free(&a);
	cr_assert_null(a);
	tpc_arena_free(&a); /* NULL-safe */
}

Test(arena, enforces_limit)
{
	tpc_arena_t *a = NULL;

	cr_assert_eq(tpc_arena_new(4096, 64 * 1024, &a), 0);
	cr_assert_not_null(tpc_arena_alloc(a, 30000, 8));
	cr_assert_null(tpc_arena_alloc(a, 100000, 8));
	tpc_arena_free(&a);
}

Test(arena, reset_keeps_largest_chunk)
{
	tpc_arena_t *a = NULL;

	cr_assert_eq(tpc_arena_new(4096, 0, &a), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_not_null(tpc_arena_alloc(a, 1000, 8));
	cr_assert_eq(tpc_arena_used(a), 100000);
	tpc_arena_reset(a);
	cr_assert_eq(tpc_arena_used(a), 0);
	/* the kept chunk now holds a whole sending of the same shape */
	void *first = tpc_arena_alloc(a, 1000, 8);
	cr_assert_not_null(first);
	tpc_arena_free(&a);
}

/* the uninitialised variant aligns, counts against the limit, and does not disturb the
 * zeroing of the next tpc_arena_alloc after a reset over dirty memory */
Test(arena, uninit_aligns_and_counts_against_the_limit)
{
	tpc_arena_t *a = NULL;
	unsigned char *p, *q;

	cr_assert_eq(tpc_arena_new(4096, 64 * 1024, &a), 0);
	p = tpc_arena_alloc_uninit(a, 3000, 64);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 64, 0);
	memset(p, 0xcd, 3000);
	cr_assert_null(tpc_arena_alloc_uninit(a, 100000, 8));
	tpc_arena_reset(a);
	q = tpc_arena_alloc(a, 3000, 64);
	cr_assert_not_null(q);
	for (int k = 0; k < 3000; k++)
		cr_assert_eq(q[k], 0, "byte %d", k);
	tpc_arena_free(&a);
}

/* A reset keeps the largest chunk up to the keep bound and frees the others. Seen through the
 * limit, which counts whole chunks: after the reset, what is left under the limit says which
 * chunk stayed. */
Test(arena, reset_keeps_no_chunk_above_the_keep_bound)
{
	tpc_arena_t *a = NULL;

	cr_assert_eq(tpc_arena_new(4096, 1 << 20, &a), 0);
	tpc_arena_set_keep(a, 16 * 1024);
	/* chunks of 4, 8, 16, 32... KiB, about 600 KiB in all */
	for (int i = 0; i < 150; i++)
		cr_assert_not_null(tpc_arena_alloc(a, 4000, 8));
	tpc_arena_reset(a);
	/* the 16 KiB chunk stayed: 16 KiB + 1000 KiB fit the 1 MiB limit; had the largest
	 * (256 KiB or more) stayed, they would not */
	cr_assert_not_null(tpc_arena_alloc(a, 1000 * 1024, 8));
	tpc_arena_free(&a);
	/* every chunk above the bound: the smallest stays, the arena still works */
	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &a), 0);
	tpc_arena_set_keep(a, 1024);
	cr_assert_not_null(tpc_arena_alloc(a, 200 * 1024, 8));
	tpc_arena_reset(a);
	cr_assert_not_null(tpc_arena_alloc(a, 1000, 8));
	tpc_arena_free(&a);
}

/* tpc_arena_shrink() gives the tail of the latest allocation back to the next one, and touches
 * nothing else: not an older allocation, not one growing, not after a reset. */
Test(arena, shrink_gives_back_only_the_latest_tail)
{
	tpc_arena_t *a = NULL;
	unsigned char *p, *q, *r;

	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &a), 0);
	p = tpc_arena_alloc_uninit(a, 1000, 8);
	q = tpc_arena_alloc_uninit(a, 8000, 8);
	cr_assert_eq(tpc_arena_used(a), 9000);
	memset(q, 'q', 100);
	tpc_arena_shrink(a, q, 100);
	cr_assert_eq(tpc_arena_used(a), 1100);
	r = tpc_arena_alloc_uninit(a, 16, 8);
	cr_assert_eq(r, q + 104, "the next allocation starts after the kept 100 bytes, aligned");
	for (int k = 0; k < 100; k++)
		cr_assert_eq(q[k], 'q', "the kept bytes are untouched");
	/* not the latest any more, or not smaller: nothing changes */
	tpc_arena_shrink(a, q, 10);
	tpc_arena_shrink(a, p, 10);
	tpc_arena_shrink(a, r, 32);
	cr_assert_eq(tpc_arena_used(a), 1116);
	/* to zero: the allocation is gone, the next one takes its place */
	tpc_arena_shrink(a, r, 0);
	cr_assert_eq(tpc_arena_alloc_uninit(a, 8, 8), r);
	/* after a reset the old pointer is no allocation of the arena's */
	tpc_arena_reset(a);
	tpc_arena_shrink(a, r, 0);
	cr_assert_eq(tpc_arena_used(a), 0);
	p = tpc_arena_alloc_uninit(a, 24, 8);
	cr_assert_eq(tpc_arena_used(a), 24);
	tpc_arena_free(&a);
}
