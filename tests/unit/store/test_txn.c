/* tests/unit/store/test_txn.c - the sticky-error transaction, key builders and prefix iteration
 * (engine/store/txn.c).
 *
 * Each test opens an LMDB environment in its own mkdtemp directory with one database "t" and
 * works in one write transaction through tpc_txn_t.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/txn.h"
#include "testutil.h"

static char *dir;
static MDB_env *env;
static MDB_dbi dbi;
static tpc_txn_t t;

static void setup(void)
{
	tpc_txn_t mk;

	dir = tpc_test_tmpdir();
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_NOSYNC, 0640), 0);
	cr_assert_eq(tpc_txn_begin(env, 0, &mk), 0);
	cr_assert_eq(mdb_dbi_open(mk.txn, "t", MDB_CREATE, &dbi), 0);
	cr_assert_eq(tpc_txn_commit(&mk), 0);
	cr_assert_eq(tpc_txn_begin(env, 0, &t), 0);
}

static void teardown(void)
{
	tpc_txn_abort(&t);
	mdb_env_close(env);
	tpc_test_rmtree(dir);
	free(dir);
}

/* (seq, line) -> line as u32, for seq in [1, nseq] and line in [0, nline) */
static void fill(uint64_t nseq, uint32_t nline)
{
	uint8_t key[12];

	for (uint64_t s = 1; s <= nseq; s++)
		for (uint32_t l = 0; l < nline; l++) {
			MDB_val k = tpc_key_u64_u32(key, s, l);

			tpc_txn_put(&t, dbi, &k, &l, sizeof(l), MDB_APPEND);
		}
	cr_assert_eq(t.ret, 0);
}

TestSuite(txn, .init = setup, .fini = teardown);

Test(txn, put_find_del_roundtrip)
{
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 42), v;
	uint64_t val = 7, got = 0;

	cr_assert_not(tpc_txn_find(&t, dbi, &k, &v), "empty db");
	cr_assert_eq(t.ret, 0, "absent is an answer, not an error");
	tpc_txn_put(&t, dbi, &k, &val, sizeof(val), 0);
	cr_assert(tpc_txn_get_rec(&t, dbi, &k, &got, sizeof(got)));
	cr_assert_eq(got, 7);
	cr_assert(tpc_txn_del(&t, dbi, &k));
	cr_assert_not(tpc_txn_del(&t, dbi, &k));
	cr_assert_eq(t.ret, 0);
}

Test(txn, sticky_error_stops_later_ops)
{
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 1), v;
	uint32_t a = 1, b = 2;
	void *space;

	tpc_txn_put(&t, dbi, &k, &a, sizeof(a), MDB_NOOVERWRITE);
	tpc_txn_put(&t, dbi, &k, &b, sizeof(b), MDB_NOOVERWRITE);
	cr_assert_eq(t.ret, MDB_KEYEXIST);
	/* every later op is a no-op that reports nothing */
	k = tpc_key_u64(key, 2);
	tpc_txn_put(&t, dbi, &k, &b, sizeof(b), 0);
	cr_assert_not(tpc_txn_find(&t, dbi, &k, &v));
	space = tpc_txn_reserve(&t, dbi, &k, 8, 0);
	cr_assert_null(space);
	k = tpc_key_u64(key, 1);
	cr_assert_not(tpc_txn_find(&t, dbi, &k, &v), "found nothing once failed");
	cr_assert_not(tpc_txn_del(&t, dbi, &k));
	cr_assert_eq(tpc_txn_last_u64(&t, dbi), 0);
	cr_assert_eq(tpc_txn_fail(&t, MDB_CORRUPTED), MDB_KEYEXIST, "the first error wins");
	/* commit aborts: nothing of it is stored */
	cr_assert_eq(tpc_txn_commit(&t), MDB_KEYEXIST);
	cr_assert_null(t.txn);
	cr_assert_eq(tpc_txn_begin(env, MDB_RDONLY, &t), 0);
	cr_assert_not(tpc_txn_find(&t, dbi, &k, &v));
}

Test(txn, commit_makes_durable)
{
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 9);
	uint32_t a = 5, got = 0;

	tpc_txn_put(&t, dbi, &k, &a, sizeof(a), 0);
	cr_assert_eq(tpc_txn_commit(&t), 0);
	cr_assert_eq(tpc_txn_begin(env, MDB_RDONLY, &t), 0);
	cr_assert(tpc_txn_get_rec(&t, dbi, &k, &got, sizeof(got)));
	cr_assert_eq(got, 5);
	cr_assert_eq(tpc_txn_last_u64(&t, dbi), 9);
}

Test(txn, wrong_record_size_is_corruption)
{
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 3);
	uint32_t small = 1;
	uint64_t big;

	tpc_txn_put(&t, dbi, &k, &small, sizeof(small), 0);
	cr_assert_not(tpc_txn_get_rec(&t, dbi, &k, &big, sizeof(big)));
	cr_assert_eq(t.ret, MDB_CORRUPTED);
}

Test(txn, wrapped_txn_is_never_ended)
{
	MDB_txn *raw;
	tpc_txn_t w;
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 1);
	uint32_t a = 1;

	tpc_txn_abort(&t); /* one write transaction at a time */
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &raw), 0);
	tpc_txn_wrap(&w, raw);
	tpc_txn_put(&w, dbi, &k, &a, sizeof(a), 0);
	cr_assert_eq(tpc_txn_commit(&w), 0, "reports only");
	tpc_txn_abort(&w);
	cr_assert_eq(w.txn, raw, "still the owner's");
	cr_assert_eq(mdb_txn_commit(raw), 0);
}

Test(txn, foreach_stays_inside_the_prefix)
{
	uint8_t key[12];
	uint32_t n = 0;
	tpc_iter_t it;

	fill(3, 5);
	tpc_key_u64_u32(key, 2, 0);
	tpc_txn_foreach(&it, &t, dbi, key, 12, 8)
	{
		uint32_t line;

		cr_assert_eq(tpc_get_be64(it.key.mv_data), 2);
		memcpy(&line, it.val.mv_data, sizeof(line));
		cr_assert_eq(line, n);
		n++;
	}
	tpc_iter_close(&it);
	cr_assert_eq(n, 5, "the 5 lines of sequence 2, none of 3");
	cr_assert_null(it.cur, "the loop's end closed the cursor");
	cr_assert_eq(t.ret, 0);
}

Test(txn, foreach_from_a_key_in_the_middle)
{
	uint8_t key[12];
	uint32_t n = 0;
	tpc_iter_t it;

	fill(2, 4);
	tpc_key_u64_u32(key, 1, 2);
	tpc_txn_foreach(&it, &t, dbi, key, 12, 8) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 2, "lines 2 and 3 of sequence 1");
	n = 0;
	tpc_txn_foreach(&it, &t, dbi, key, 12, 0) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 6, "no prefix: to the end of the db");
	n = 0;
	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 8, "every record");
}

Test(txn, foreach_on_an_empty_db_or_absent_prefix)
{
	uint8_t key[12];
	uint32_t n = 0;
	tpc_iter_t it;

	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 0);
	fill(2, 3);
	tpc_key_u64_u32(key, 7, 0);
	tpc_txn_foreach(&it, &t, dbi, key, 12, 8) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 0, "past the last key");
	cr_assert_eq(t.ret, 0, "running off the end is no error");
}

Test(txn, foreach_stops_on_an_error_set_in_the_body)
{
	uint32_t n = 0;
	tpc_iter_t it;

	fill(1, 10);
	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0)
	{
		if (++n == 3)
			tpc_txn_fail(&t, MDB_CORRUPTED);
	}
	tpc_iter_close(&it);
	cr_assert_eq(n, 3);
	cr_assert_eq(t.ret, MDB_CORRUPTED);
	/* and a failed transaction iterates nothing */
	n = 0;
	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0) n++;
	tpc_iter_close(&it);
	cr_assert_eq(n, 0);
}

Test(txn, break_then_close_is_safe)
{
	tpc_iter_t it;

	fill(1, 4);
	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0) break;
	cr_assert_not_null(it.cur);
	tpc_iter_close(&it);
	tpc_iter_close(&it);
	cr_assert_null(it.cur);
}

Test(txn, key_builders_are_big_endian)
{
	uint8_t b[20];
	MDB_val k;
	static const uint8_t want[20] = {0, 0, 0, 0, 0, 0, 1, 2, 0, 0,
	                                 0, 0, 0, 0, 0, 3, 0, 0, 0, 4};

	k = tpc_key_settlement(b, 0x0102, 3, 4);
	cr_assert_eq(k.mv_size, 20);
	cr_assert_arr_eq(b, want, 20);
	k = tpc_key_payable(b, 0x0102, 3, 1);
	cr_assert_eq(k.mv_size, 13);
	cr_assert_eq(tpc_get_be64(b), 0x0102);
	cr_assert_eq(tpc_get_be32(b + 8), 3);
	cr_assert_eq(b[12], 1);
}

Test(txn, names_key_and_its_limit)
{
	uint8_t b[8];
	MDB_val k = tpc_key_names(b, sizeof(b), "ab", "cde");

	cr_assert_eq(k.mv_size, 6);
	cr_assert_arr_eq(b, "ab\0cde", 6);
	k = tpc_key_names(b, sizeof(b), "abcd", "efgh");
	cr_assert_eq(k.mv_size, 0, "9 bytes do not fit 8");
}
