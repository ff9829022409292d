/* tests/unit/test_arena.c - the per-sending bump allocator. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"

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
