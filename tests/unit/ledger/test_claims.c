/* tests/unit/ledger/test_claims.c - the record of index keys recent transactions took
 * (engine/ledger/claims.h): "surely not" only when true, across its table switches. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ledger/claims.h"

static int take(tpc_claims_t *c, const char *key, uint64_t txn, uint64_t since)
{
	return tpc_claims_take(c, key, strlen(key), txn, since);
}

Test(claims, a_key_taken_after_the_snapshot_is_maybe_and_one_before_is_not)
{
	tpc_claims_t *c = NULL;

	cr_assert_eq(tpc_claims_new(64, &c), 0);
	cr_assert_eq(tpc_claims_floor(c), UINT64_MAX, "nothing covered before the first take");
	/* the first transaction after startup (id 10): the snapshot 9 saw everything before */
	cr_assert_eq(take(c, "line-a", 10, 9), 0, "new key, snapshot up to date");
	cr_assert_eq(tpc_claims_floor(c), 9);
	/* the same key again in the same transaction: earlier in the group */
	cr_assert_eq(take(c, "line-a", 10, 9), 1);
	/* in the next transaction, judged on a snapshot before 10: maybe */
	cr_assert_eq(take(c, "line-a", 11, 9), 1);
	/* judged on the snapshot of 11 or later: the worker saw it */
	cr_assert_eq(take(c, "line-a", 12, 11), 0);
	cr_assert_eq(take(c, "line-b", 12, 11), 0, "another key is not taken");
	tpc_claims_free(&c);
	cr_assert_null(c);
}

Test(claims, an_unknown_or_too_old_snapshot_is_always_maybe)
{
	tpc_claims_t *c = NULL;

	cr_assert_eq(tpc_claims_new(0, &c), 0);
	cr_assert_eq(take(c, "x", 100, 99), 0);
	cr_assert_eq(take(c, "y", 101, 0), 1, "no snapshot: read the B-tree");
	cr_assert_eq(take(c, "z", 101, 50), 1, "a snapshot before the record began");
	tpc_claims_free(&c);
}

Test(claims, refuses_a_size_not_a_power_of_two)
{
	tpc_claims_t *c = NULL;

	cr_assert_eq(tpc_claims_new(100, &c), TPC_EINVAL);
	cr_assert_eq(tpc_claims_new(8, &c), TPC_EINVAL);
	cr_assert_null(c);
	tpc_claims_free(&c); /* NULL-safe */
}

/* Against an exact model, in a small record that switches tables often: for every take, a key
 * taken by a transaction after the snapshot must be "maybe". Transactions take 1-40 keys of 2000
 * (a switch every ~25 transactions), snapshots lag 1-40 transactions, some transactions abort
 * (their id is used again). */
Test(claims, never_misses_a_key_taken_after_the_snapshot_across_switches)
{
	static uint64_t last[2000]; /* the last transaction that took each key; 0: none */
	uint64_t rng = 0x9E3779B97F4A7C15u, txn = 1000, skipped = 0, takes = 0;
	tpc_claims_t *c = NULL;
	char key[16];

	cr_assert_eq(tpc_claims_new(1024, &c), 0);
	for (int round = 0; round < 20000; round++) {
		unsigned n, lag;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		n = 1 + (unsigned)(rng % 40);
		lag = 1 + (unsigned)((rng >> 8) % 40);
		for (unsigned i = 0; i < n; i++) {
			unsigned k;
			uint64_t since = txn - lag < 999 ? 999 : txn - lag;
			int maybe;

			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			k = (unsigned)(rng % 2000);
			snprintf(key, sizeof(key), "key-%u", k);
			maybe = take(c, key, txn, since);
			cr_assert(maybe || last[k] <= since,
			          "key %u taken by %llu, snapshot %llu: said surely not", k,
			          (unsigned long long)last[k], (unsigned long long)since);
			skipped += !maybe;
			takes++;
			last[k] = txn;
		}
		/* one transaction in ten aborts: the next one has its id again */
		if ((rng >> 20) % 10)
			txn++;
	}
	/* and the record does spare reads: most snapshots are within what it covers */
	cr_assert_gt(skipped, takes / 10, "%llu of %llu takes spared", (unsigned long long)skipped,
	             (unsigned long long)takes);
	tpc_claims_free(&c);
}
