/* tests/unit/refdata/test_refdata_compat.c - a ledger of schema 3 still opens and keeps its
 * reference data (engine/store/store.c, engine/refdata/refdata.c, issue 13).
 *
 * Schema 3 stored a reference row as its struct, text in fixed arrays (name 72, reference 49,
 * decision 17, structure and prison 33, category 17 bytes). The rows below are written in that
 * layout by hand (the structs are copied from the schema 3 header, not taken from the engine),
 * into a store whose meta says 3; the engine must open it, raise it to 4, read every old row
 * through the lookups clearing uses, and mix old rows with new ones a delta adds. A schema it
 * does not know (2) is refused.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "refdata/refdata.h"
#include "store/records.h"
#include "store/store.h"
#include "testutil.h"

#include <lmdb.h>

/* ---- the schema 3 layouts (engine/refdata/refdata.h before issue 13) ---------------------- */

struct provider3 {
	char nihii[12], name[72], bce[11], iban[35], bic[12];
	uint8_t kind;
};
struct mediprima3 {
	char decision[17], cpas_bce[11], niss[12];
	int32_t valid_from, valid_to;
	uint8_t care, covers_patient_share;
};
struct fedasil3 {
	char niss[12];
	int32_t valid_from, valid_to;
	char structure[33];
};
struct war3 {
	char niss[12], category[17];
	int32_t valid_from, valid_to;
};

static struct {
	char *dir;
	tpc_store_t *st;
	tpc_arena_t *arena;
} fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.dir = tpc_test_tmpdir();
	cr_assert_eq(tpc_arena_new(1 << 16, 0, &fx.arena), 0);
}

static void teardown(void)
{
	tpc_store_free(&fx.st);
	tpc_arena_free(&fx.arena);
	tpc_test_rmtree_free(&fx.dir);
}

TestSuite(refdata_compat, .init = setup, .fini = teardown, .timeout = 60);

static int open_store(void)
{
	tpc_store_opts_t o = {.dir = fx.dir, .map_size = 1u << 24, .map_max = 1u << 26};

	tpc_store_free(&fx.st);
	return tpc_store_open(&o, &fx.st);
}

static const tpc_store_db_t *db(void)
{
	return tpc_store_db(fx.st);
}

/* The key of a period row: id + valid_from (u32 BE, sign bit flipped). */
static MDB_val period_key(uint8_t *buf, const char *id, size_t idlen, int32_t from)
{
	uint32_t f = (uint32_t)from ^ 0x80000000u;

	memcpy(buf, id, idlen);
	for (int i = 0; i < 4; i++)
		buf[idlen + (size_t)i] = (uint8_t)(f >> (24 - 8 * i));
	return (MDB_val){idlen + 4, buf};
}

static void put(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const void *v, size_t n)
{
	MDB_val val = {n, (void *)v};

	cr_assert_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
}

static void set_schema(uint32_t v)
{
	MDB_txn *txn;

	cr_assert_eq(mdb_txn_begin(db()->env, NULL, 0, &txn), 0);
	put(txn, db()->meta, (MDB_val){6, "schema"}, &v, sizeof(v));
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static uint32_t schema(void)
{
	MDB_txn *txn;
	MDB_val k = {6, "schema"}, v;
	uint32_t s = 0;

	cr_assert_eq(mdb_txn_begin(db()->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db()->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 4);
	memcpy(&s, v.mv_data, 4);
	mdb_txn_abort(txn);
	return s;
}

/* A store of schema 3 with one old row of four kinds and an old scheme reference. */
static void make_schema_3_store(void)
{
	struct provider3 p = {.nihii = "18334780004",
	                      .name = "Clinique Saint-Exemple, Bruxelles",
	                      .iban = "BE10001232152604",
	                      .bic = "GEBABEBB",
	                      .kind = TPC_PROVIDER_HOSPITAL};
	struct mediprima3 m = {.decision = "MP-2026-0001",
	                       .cpas_bce = "0212000032",
	                       .niss = "85030300364",
	                       .valid_from = tpc_test_day(20261101),
	                       .valid_to = tpc_test_day(20261115),
	                       .care = TPC_CARE_HOSPITAL,
	                       .covers_patient_share = 1};
	struct fedasil3 f = {.niss = "90020200296",
	                     .valid_from = tpc_test_day(20260601),
	                     .valid_to = TPC_REF_OPEN_END,
	                     .structure = "Centre Fedasil Petit-Chateau"};
	struct war3 w = {.niss = "40040400465",
	                 .category = "civil war victim",
	                 .valid_from = tpc_test_day(20000101),
	                 .valid_to = TPC_REF_OPEN_END};
	struct {
		uint8_t scheme, pad[3];
		char ref[33], org[11];
	} sr = {.scheme = 4, .ref = "MP-2026-0001", .org = "0212000032"};
	const tpc_refdata_dbs_t *ref;
	uint8_t kb[64];
	MDB_txn *txn;

	cr_assert_eq(open_store(), 0);
	ref = &db()->dbs.ref;
	cr_assert_eq(mdb_txn_begin(db()->env, NULL, 0, &txn), 0);
	put(txn, ref->dbi[TPC_REF_PROVIDERS], (MDB_val){11, p.nihii}, &p, sizeof(p));
	/* mediprima: the decision after the period, NUL-padded to 16 bytes */
	{
		MDB_val k = period_key(kb, m.niss, 11, m.valid_from);

		memset(kb + 15, 0, 16);
		memcpy(kb + 15, m.decision, strlen(m.decision));
		k.mv_size = 31;
		put(txn, ref->dbi[TPC_REF_MEDIPRIMA], k, &m, sizeof(m));
	}
	put(txn, ref->dbi[TPC_REF_FEDASIL], period_key(kb, f.niss, 11, f.valid_from), &f,
	    sizeof(f));
	put(txn, ref->dbi[TPC_REF_WAR_VICTIMS], period_key(kb, w.niss, 11, w.valid_from), &w,
	    sizeof(w));
	{
		uint8_t key[12];

		tpc_put_be64(key, 1);
		tpc_put_be32(key + 8, 0);
		put(txn, db()->scheme_refs, (MDB_val){12, key}, &sr, sizeof(sr));
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	set_schema(3);
	tpc_store_free(&fx.st);
}

Test(refdata_compat, a_schema_3_store_opens_is_raised_to_4_and_its_rows_are_read)
{
	tpc_ref_provider_t p;
	tpc_ref_mediprima_t m;
	tpc_ref_fedasil_t f;
	tpc_ref_war_victim_t w;
	tpc_scheme_ref_view_t sr;
	MDB_cursor *cm, *cf, *cw;
	MDB_txn *txn;
	uint8_t key[12];
	MDB_val k = {12, key}, v;
	const tpc_refdata_dbs_t *ref;

	make_schema_3_store();
	cr_assert_eq(open_store(), 0, "a schema 3 ledger opens");
	cr_assert_eq(schema(), TPC_LEDGER_SCHEMA, "and is raised to this schema");
	ref = &db()->dbs.ref;
	cr_assert_eq(mdb_txn_begin(db()->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refdata_provider(txn, ref, "18334780004", &p), 0);
	cr_assert_str_eq(p.name, "Clinique Saint-Exemple, Bruxelles");
	cr_assert_str_eq(p.iban, "BE10001232152604");
	cr_assert_str_eq(p.bic, "GEBABEBB");
	cr_assert_eq(p.kind, TPC_PROVIDER_HOSPITAL);
	cr_assert_eq(mdb_cursor_open(txn, ref->dbi[TPC_REF_MEDIPRIMA], &cm), 0);
	cr_assert_eq(mdb_cursor_open(txn, ref->dbi[TPC_REF_FEDASIL], &cf), 0);
	cr_assert_eq(mdb_cursor_open(txn, ref->dbi[TPC_REF_WAR_VICTIMS], &cw), 0);
	cr_assert_eq(tpc_refdata_mediprima_on(cm, "85030300364", tpc_test_day(20261110),
	                                      TPC_CARE_HOSPITAL, &m),
	             0);
	cr_assert_str_eq(m.decision, "MP-2026-0001");
	cr_assert_str_eq(m.cpas_bce, "0212000032");
	cr_assert_eq(m.covers_patient_share, 1);
	cr_assert_eq(
	    tpc_refdata_feed_on(cf, TPC_REF_FEDASIL, "90020200296", tpc_test_day(20261110), &f), 0);
	cr_assert_str_eq(f.structure, "Centre Fedasil Petit-Chateau");
	cr_assert_eq(
	    tpc_refdata_feed_on(cw, TPC_REF_WAR_VICTIMS, "40040400465", tpc_test_day(20261110), &w),
	    0);
	cr_assert_str_eq(w.category, "civil war victim");
	tpc_put_be64(key, 1);
	tpc_put_be32(key + 8, 0);
	cr_assert_eq(mdb_get(txn, db()->scheme_refs, &k, &v), 0);
	cr_assert_eq(tpc_records_scheme_ref_read(&v, &sr), 0);
	cr_assert_eq(sr.scheme, 4);
	cr_assert_str_eq(sr.ref, "MP-2026-0001");
	cr_assert_str_eq(sr.org, "0212000032");
	mdb_cursor_close(cm);
	mdb_cursor_close(cf);
	mdb_cursor_close(cw);
	mdb_txn_abort(txn);
	/* opened again: 4 stays 4 */
	cr_assert_eq(open_store(), 0);
	cr_assert_eq(schema(), TPC_LEDGER_SCHEMA);
}

/* A delta into a schema 3 kind: the old rows stay readable beside the new, and a row of the same
 * key (a short decision id) replaces its old row rather than adding one. */
Test(refdata_compat, a_delta_mixes_new_rows_with_old_ones)
{
	static const char delta[] =
	    "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	    "MP-2026-0001,0212000032,85030300364,2026-11-01,2026-11-30,hospital,0\n"
	    "D\xC3\xA9"
	    "cision CPAS d'Anderlecht n\xC2\xB0 2026/0002,0207123407,85030300364,"
	    "2026-11-01,,ambulatory,0\n";
	char err[256] = "";
	tpc_ref_table_t t;
	tpc_ref_mediprima_t m;
	MDB_cursor *c;
	MDB_txn *txn;
	uint64_t n;

	make_schema_3_store();
	cr_assert_eq(open_store(), 0);
	cr_assert_eq(tpc_refdata_parse(TPC_REF_MEDIPRIMA, "delta.csv", delta, sizeof(delta) - 1,
	                               fx.arena, &t, err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(mdb_txn_begin(db()->env, NULL, 0, &txn), 0);
	cr_assert_eq(tpc_refdata_upsert(txn, &db()->dbs.ref, &t), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(mdb_txn_begin(db()->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refdata_count(txn, &db()->dbs.ref, TPC_REF_MEDIPRIMA, &n), 0);
	cr_assert_eq(n, 2, "MP-2026-0001 replaced, the long decision added");
	cr_assert_eq(mdb_cursor_open(txn, db()->dbs.ref.dbi[TPC_REF_MEDIPRIMA], &c), 0);
	cr_assert_eq(tpc_refdata_mediprima_on(c, "85030300364", tpc_test_day(20261120),
	                                      TPC_CARE_HOSPITAL, &m),
	             0, "the new period of MP-2026-0001 covers 11-20");
	cr_assert_eq(m.covers_patient_share, 0);
	cr_assert_eq(tpc_refdata_mediprima_on(c, "85030300364", tpc_test_day(20261120),
	                                      TPC_CARE_AMBULATORY, &m),
	             0);
	cr_assert_str_eq(m.decision, "D\xC3\xA9"
	                             "cision CPAS d'Anderlecht n\xC2\xB0 2026/0002");
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
}

Test(refdata_compat, a_schema_this_engine_does_not_read_is_refused)
{
	cr_assert_eq(open_store(), 0);
	set_schema(2);
	tpc_store_free(&fx.st);
	cr_assert_neq(open_store(), 0, "schema 2 refused");
	fx.st = NULL;
}
