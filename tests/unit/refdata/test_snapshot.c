/* tests/unit/refdata/test_snapshot.c - the reference data in memory (engine/refdata/snapshot.c).
 *
 * The snapshot must answer what the cursor lookups of refdata.h answer, on the same committed
 * state: the same row (fixed part and text) or the same miss, for every id the sample data
 * holds and ids it does not, on every day around every period's bounds. Damaged values (no
 * known layout) are misses in both. The live holder keeps a released snapshot alive for as long
 * as someone holds it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "refdata/refdata.h"
#include "refdata/snapshot.h"
#include "testutil.h"

#include <lmdb.h>

static struct {
	char *dir;
	MDB_env *env;
	tpc_refdata_dbs_t dbs;
	tpc_arena_t *arena;
} fx;

/* A value of no known layout under @p key, as a damaged page would hold. */
static void put_damaged(MDB_txn *txn, enum tpc_ref_kind kind, const char *id, size_t idlen,
                        uint32_t yyyymmdd)
{
	uint8_t key[32];
	uint32_t from = (uint32_t)tpc_test_day(yyyymmdd) ^ 0x80000000u;
	MDB_val k = {idlen + 4, key}, v = {3, "bad"};

	memcpy(key, id, idlen);
	for (int i = 0; i < 4; i++)
		key[idlen + (size_t)i] = (uint8_t)(from >> (24 - 8 * i));
	cr_assert_eq(mdb_put(txn, fx.dbs.dbi[kind], &k, &v, 0), 0);
}

static void setup(void)
{
	MDB_txn *txn;

	memset(&fx, 0, sizeof(fx));
	cr_assert_eq(tpc_arena_new(1 << 16, 0, &fx.arena), 0);
	tpc_test_lmdb_open(&fx.dir, &fx.env, &txn);
	cr_assert_eq(tpc_refdata_open(txn, &fx.dbs), 0);
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		tpc_ref_table_t t = tpc_test_refdata_sample((enum tpc_ref_kind)k, fx.arena);

		cr_assert_eq(tpc_refdata_replace(txn, &fx.dbs, &t), 0);
	}
	/* a damaged member period of a known person (after its good one) and of a new one */
	put_damaged(txn, TPC_REF_MEMBERS, "86103130262", 11, 20300101);
	put_damaged(txn, TPC_REF_MEMBERS, "99999999999", 11, 20200101);
	put_damaged(txn, TPC_REF_TARIFFS, "101032", 6, 20300101);
	put_damaged(txn, TPC_REF_FEDASIL, "99999999998", 11, 20200101);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void teardown(void)
{
	tpc_test_store_close(&fx.arena, fx.env, fx.dir);
}

TestSuite(snapshot, .init = setup, .fini = teardown, .timeout = 60);

/* The same row: fixed part byte for byte, text by its content. */
static void same_row(enum tpc_ref_kind kind, const void *a, const void *b, const char *what)
{
	size_t off = tpc_refdata_text_offset(kind);
	const char *ta, *tb;

	if (!off) {
		cr_assert_eq(memcmp(a, b, tpc_refdata_row_size(kind)), 0, "%s", what);
		return;
	}
	cr_assert_eq(memcmp(a, b, off), 0, "%s", what);
	memcpy(&ta, (const char *)a + off, sizeof(ta));
	memcpy(&tb, (const char *)b + off, sizeof(tb));
	cr_assert_str_eq(ta, tb, "%s", what);
}

/* Every id of @p kind in the sample, plus unknown ones, as the first id_len bytes of its key. */
static size_t ids_of(MDB_txn *txn, enum tpc_ref_kind kind, char ids[][17], size_t cap)
{
	size_t n = 0, len = tpc_refdata_id_len(kind);
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	cr_assert_eq(mdb_cursor_open(txn, fx.dbs.dbi[kind], &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n + 2 < cap;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (!n || memcmp(ids[n - 1], k.mv_data, len) != 0)
			memcpy(ids[n++], k.mv_data, len);
	mdb_cursor_close(c);
	memcpy(ids[n++], "00000000000475075", len); /* before every id */
	memcpy(ids[n++], "99999999998999999", len); /* between or after */
	return n;
}

/* Compare every period lookup of @p kind for every id and every day of 2018-2030: every bound
 * of the sample's periods is met, and the days on either side of it. */
static void compare_kind(MDB_txn *txn, const tpc_refsnap_t *s, enum tpc_ref_kind kind)
{
	char ids[256][17], what[96];
	size_t n = ids_of(txn, kind, ids, 256);
	uint8_t row[256];
	MDB_cursor *c;

	cr_assert_eq(mdb_cursor_open(txn, fx.dbs.dbi[kind], &c), 0);
	for (size_t i = 0; i < n; i++)
		for (int32_t d = tpc_test_day(20180101); d < tpc_test_day(20310101); d++) {
			const void *got = NULL;
			const tpc_ref_member_t *gm;
			const tpc_ref_tariff_t *gt;
			const tpc_ref_agreement_t *ga;
			const tpc_ref_mediprima_t *gp;
			int want, have;

			snprintf(what, sizeof(what), "%s %.17s day %d", tpc_refdata_kind_name(kind),
			         ids[i], d);
			if (kind == TPC_REF_MEMBERS) {
				want = tpc_refdata_member_on(c, ids[i], d, (void *)row);
				have = tpc_refsnap_member_on(s, ids[i], d, &gm);
				got = gm;
			} else if (kind == TPC_REF_TARIFFS) {
				want = tpc_refdata_tariff_on(c, ids[i], d, (void *)row);
				have = tpc_refsnap_tariff_on(s, ids[i], d, &gt);
				got = gt;
			} else if (kind == TPC_REF_AGREEMENTS) {
				want = tpc_refdata_agreement_on(c, ids[i], ids[i] + 11, d,
				                                (void *)row);
				have = tpc_refsnap_agreement_on(s, ids[i], ids[i] + 11, d, &ga);
				got = ga;
			} else if (kind == TPC_REF_MEDIPRIMA) {
				unsigned care = 1u << (d % 3);

				want = tpc_refdata_mediprima_on(c, ids[i], d, care, (void *)row);
				have = tpc_refsnap_mediprima_on(s, ids[i], d, care, &gp);
				got = gp;
			} else if (kind == TPC_REF_OSSOM && d % 2) {
				want = tpc_refdata_feed_last(c, kind, ids[i], d, row);
				have = tpc_refsnap_feed_last(s, kind, ids[i], d, &got);
			} else {
				want = tpc_refdata_feed_on(c, kind, ids[i], d, row);
				have = tpc_refsnap_feed_on(s, kind, ids[i], d, &got);
			}
			cr_assert_eq(have, want, "%s: snapshot %d, cursor %d", what, have, want);
			if (want == 0)
				same_row(kind, got, row, what);
		}
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tpc_refsnap_exists(s, kind, ids[i]),
		             tpc_refdata_exists(c, ids[i], tpc_refdata_id_len(kind)),
		             "exists %.17s", ids[i]);
	mdb_cursor_close(c);
}

Test(snapshot, answers_what_the_cursor_lookups_answer)
{
	static const enum tpc_ref_kind periods[] = {
	    TPC_REF_MEMBERS, TPC_REF_TARIFFS,   TPC_REF_AGREEMENTS,  TPC_REF_MEDIPRIMA,
	    TPC_REF_FEDASIL, TPC_REF_DETENTION, TPC_REF_WAR_VICTIMS, TPC_REF_OSSOM};
	char ids[256][17];
	tpc_refsnap_t *s;
	MDB_txn *txn;
	size_t n;

	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refsnap_build(txn, &fx.dbs, &s), 0);
	cr_assert_gt(tpc_refsnap_rows(s), 0);
	for (size_t k = 0; k < sizeof(periods) / sizeof(periods[0]); k++)
		compare_kind(txn, s, periods[k]);
	/* providers: exact NIHII */
	n = ids_of(txn, TPC_REF_PROVIDERS, ids, 256);
	for (size_t i = 0; i < n; i++) {
		tpc_ref_provider_t want;
		const tpc_ref_provider_t *got;
		int rc = tpc_refdata_provider(txn, &fx.dbs, ids[i], &want);

		cr_assert_eq(tpc_refsnap_provider(s, ids[i], &got), rc, "provider %.11s", ids[i]);
		if (rc == 0)
			same_row(TPC_REF_PROVIDERS, got, &want, "provider");
	}
	/* Fedasil exclusions: exact code */
	n = ids_of(txn, TPC_REF_FEDASIL_EXCLUSIONS, ids, 256);
	for (size_t i = 0; i < n; i++) {
		char code[7] = {0};

		memcpy(code, ids[i], 6);
		cr_assert_eq(tpc_refsnap_excluded(s, code),
		             tpc_refdata_excluded(txn, &fx.dbs, code), "excluded %s", code);
	}
	cr_assert(tpc_refsnap_exists(s, TPC_REF_MEMBERS, "99999999999"),
	          "a damaged row still names its person");
	/* a feed's only row damaged: the last row begun by a day (no period check) is still none,
	 * from the entry's copy of the row's flag (snapshot.c) */
	{
		const void *row;

		cr_assert_eq(tpc_refsnap_feed_last(s, TPC_REF_FEDASIL, "99999999998",
		                                   tpc_test_day(20210101), &row),
		             MDB_NOTFOUND);
	}
	tpc_refsnap_release(&s);
	cr_assert_null(s);
	mdb_txn_abort(txn);
}

/* The holder hands out the snapshot in force; one held across a publish stays readable until
 * its holder lets it go, and the new one is what the next acquire gets. */
Test(snapshot, a_held_snapshot_outlives_its_replacement)
{
	tpc_refsnap_live_t *live;
	tpc_refsnap_t *a, *b, *held, *next;
	const tpc_ref_member_t *m;
	MDB_txn *txn;

	cr_assert_eq(tpc_refsnap_live_new(&live), 0);
	cr_assert_null(tpc_refsnap_live_acquire(live), "nothing published yet");
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refsnap_build(txn, &fx.dbs, &a), 0);
	cr_assert_eq(tpc_refsnap_build(txn, &fx.dbs, &b), 0);
	mdb_txn_abort(txn);
	tpc_refsnap_live_publish(live, &a);
	cr_assert_null(a, "the holder took the reference");
	held = tpc_refsnap_live_acquire(live);
	cr_assert_not_null(held);
	tpc_refsnap_live_publish(live, &b); /* the holder drops its reference to the first */
	cr_assert_eq(tpc_refsnap_member_on(held, "86103130262", tpc_test_day(20240110), &m), 0);
	cr_assert_eq(m->ct1, 110, "still readable while held");
	next = tpc_refsnap_live_acquire(live);
	cr_assert_neq(next, held);
	tpc_refsnap_release(&held); /* the last reference: freed here */
	tpc_refsnap_release(&next);
	tpc_refsnap_live_free(&live);
	cr_assert_null(live);
}
