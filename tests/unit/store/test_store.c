/* tests/unit/store/test_store.c - a ledger of schema 4 opens under schema 5 (engine/store/store.c)
 * and its records, which carry no checksum, are still read; verify counts them (issue 14).
 *
 * The schema 4 records are written by hand in their layouts of that time (a 320-byte TPA2
 * answer header, a 96-byte line, a posting and a payable whose sum field was padding), into a
 * store whose meta says 4. The engine must raise it to 5, note where the checksummed records
 * begin (meta "sums_from"), serve the old answer, and tpc_verify_run() must count the old
 * records as unchecked, not damaged, while a record without a sum written after the raise is.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearing/budget.h"
#include "core/error.h"
#include "ledger/verify.h"
#include "store/records.h"
#include "store/store.h"
#include "testutil.h"

static struct {
	char *dir;
	tpc_store_t *st;
	tpc_arena_t *arena;
	int problems;
	char last[256];
	char all[2048]; /* every problem of the last verify, one a line */
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

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

static void open_store(void)
{
	tpc_store_opts_t o = {.dir = fx.dir, .map_size = 1u << 24, .map_max = 1u << 26};

	tpc_store_free(&fx.st);
	cr_assert_eq(tpc_store_open(&o, &fx.st), 0);
}

static void put(MDB_txn *txn, MDB_dbi dbi, MDB_val k, const void *v, size_t n)
{
	MDB_val val = {n, (void *)v};

	cr_assert_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
}

/* Sending 1 of sender "h", key "old", as schema 4 wrote it: its answer, one accepted line of
 * 100 cents to AMI, the posting pair and the payable. */
static void make_schema_4_store(void)
{
	const tpc_store_db_t *db;
	uint8_t k8[8], k12[12], k13[13], sval[8 + TPC_HASH_LEN] = {0}, ans[TPC_ANSWER_HDR_V4 + 4];
	uint64_t seq = 1;
	uint32_t four = 4;
	tpc_answer_hdr_t h;
	tpc_line_rec_t line;
	tpc_posting_rec_t p;
	tpc_payable_t pay;
	MDB_txn *txn;

	open_store();
	db = tpc_store_db(fx.st);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	memcpy(sval, &seq, 8);
	put(txn, db->sendings, (MDB_val){5, "h\0old"}, sval, sizeof(sval));
	memset(&h, 0, sizeof(h));
	h.magic = TPC_ANSWER_MAGIC_V4;
	h.result_len = 4;
	h.sequence = 1;
	strcpy(h.sender, "h");
	strcpy(h.key, "old");
	memcpy(ans, &h, TPC_ANSWER_HDR_V4);
	/* a packed tpclear.Result: sequence 1, lines 1 (the store's startup check unpacks the
	 * newest Results and counts their line records) */
	memcpy(ans + TPC_ANSWER_HDR_V4, "\x30\x01\x48\x01", 4);
	put(txn, db->answers, tpc_key_u64(k8, 1), ans, sizeof(ans));
	memset(&line, 0, sizeof(line));
	memcpy(line.code, "101032", 6);
	line.outcome = TPC_OUTCOME_ACCEPTED;
	line.budget = TPC_BUDGET_AMI;
	line.accepted_cents = 100;
	put(txn, db->lines, tpc_key_u64_u32(k12, 1, 0), &line, TPC_LINE_REC_V4);
	memset(&p, 0, sizeof(p));
	p.sequence = 1;
	p.kind = TPC_POST_CHARGE;
	p.budget = TPC_BUDGET_AMI;
	p.amount_cents = -100;
	put(txn, db->postings, tpc_key_u64(k8, 1), &p, sizeof(p));
	p.kind = TPC_POST_PAYABLE;
	p.payee_kind = TPC_PAYEE_PROVIDER;
	p.amount_cents = 100;
	put(txn, db->postings, tpc_key_u64(k8, 2), &p, sizeof(p));
	memset(&pay, 0, sizeof(pay));
	pay.amount_cents = 100;
	pay.budget = TPC_BUDGET_AMI;
	put(txn, db->payables, tpc_key_payable(k13, 1, 0, 0), &pay, sizeof(pay));
	put(txn, db->meta, (MDB_val){6, "schema"}, &four, 4);
	cr_assert_eq(mdb_del(txn, db->meta, &(MDB_val){9, "sums_from"}, NULL), MDB_NOTFOUND,
	             "a new store has every record checked: no sums_from");
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void on_problem(void *arg, const char *db, const char *key, const char *what)
{
	(void)arg;
	size_t n = strlen(fx.all);

	fx.problems++;
	snprintf(fx.last, sizeof(fx.last), "%s %s: %s", db, key, what);
	snprintf(fx.all + n, sizeof(fx.all) - n, "%s\n", fx.last);
}

static void verify(tpc_verify_report_t *r)
{
	MDB_txn *txn;

	fx.problems = 0;
	fx.all[0] = 0;
	cr_assert_eq(mdb_txn_begin(tpc_store_db(fx.st)->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_verify_run(txn, tpc_store_db(fx.st), on_problem, NULL, NULL, r), 0);
	mdb_txn_abort(txn);
}

/* The dedup keys' form is the ledger's, fixed at creation (store/dbs.h, enum tpc_dedup_form): a
 * new ledger records the short keys, one that names XXH3-64 (made by an engine between issue
 * 15's first steps and its short keys) keeps its 40-byte XXH3 keys, one without the record (an
 * older engine's) keeps BLAKE2b-64, and a record naming something else is refused rather than
 * guessed. */
Test(store, the_dedup_form_is_chosen_when_the_ledger_is_created)
{
	const tpc_store_db_t *db;
	MDB_val k = {10, "dedup_hash"}, v;
	MDB_txn *txn;

	open_store();
	db = tpc_store_db(fx.st);
	cr_assert_eq(db->dbs.dedup_form, TPC_DEDUP_XXH3_18, "a new ledger makes short keys");
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 10);
	cr_assert_eq(memcmp(v.mv_data, "xxh3-64-18", 10), 0);
	/* as the engine before the short keys created it */
	cr_assert_eq(mdb_put(txn, db->meta, &k, &(MDB_val){7, "xxh3-64"}, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	open_store();
	db = tpc_store_db(fx.st);
	cr_assert_eq(db->dbs.dedup_form, TPC_DEDUP_XXH3_40, "keeps its 40-byte XXH3 keys");
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 7, "and its record");
	/* as an engine before issue 15 created it: no record */
	cr_assert_eq(mdb_del(txn, db->meta, &k, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	open_store();
	db = tpc_store_db(fx.st);
	cr_assert_eq(db->dbs.dedup_form, TPC_DEDUP_BLAKE2B_40, "an older ledger keeps BLAKE2b-64");
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), MDB_NOTFOUND, "and is not given one");
	v = (MDB_val){6, "sha256"};
	cr_assert_eq(mdb_put(txn, db->meta, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	tpc_store_free(&fx.st);
	cr_assert_neq(
	    tpc_store_open(
	        &(tpc_store_opts_t){.dir = fx.dir, .map_size = 1u << 24, .map_max = 1u << 26},
	        &fx.st),
	    0, "an unknown dedup hash is refused");
}

Test(store, a_schema_4_ledger_is_raised_to_5_and_its_records_read_unchecked)
{
	tpc_store_reader_t *rd;
	tpc_verify_report_t r;
	tpc_sums_from_t from;
	tpc_stored_t st;
	MDB_txn *txn;
	MDB_val v;
	uint32_t schema;

	make_schema_4_store();
	open_store(); /* the raise */
	cr_assert_eq(mdb_txn_begin(tpc_store_db(fx.st)->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, tpc_store_db(fx.st)->meta, &(MDB_val){6, "schema"}, &v), 0);
	memcpy(&schema, v.mv_data, 4);
	cr_assert_eq(schema, TPC_LEDGER_SCHEMA);
	cr_assert_eq(mdb_get(txn, tpc_store_db(fx.st)->meta, &(MDB_val){9, "sums_from"}, &v), 0);
	cr_assert_eq(v.mv_size, sizeof(from));
	memcpy(&from, v.mv_data, sizeof(from));
	mdb_txn_abort(txn);
	cr_assert_eq(from.sequence, 2, "checksummed from the next sending on");
	cr_assert_eq(from.posting, 3);
	cr_assert_eq(from.run, 1);

	/* the old answer is served, unchecked */
	cr_assert_eq(tpc_store_reader_new(fx.st, &rd), 0);
	cr_assert_eq(tpc_store_lookup(rd, "h", "old", fx.arena, &st), 0);
	cr_assert_eq(st.sequence, 1);
	cr_assert_eq(st.result_len, 4);
	tpc_store_reader_free(&rd);

	/* verify: clean, the old records counted as carrying no checksum */
	verify(&r);
	cr_assert_eq(fx.problems, 0, "%s", fx.last);
	cr_assert_eq(r.unchecked[TPC_REC_ANSWERS], 1);
	cr_assert_eq(r.unchecked[TPC_REC_LINES], 1);
	cr_assert_eq(r.unchecked[TPC_REC_POSTINGS], 2);
	cr_assert_eq(r.unchecked[TPC_REC_PAYABLES], 1);
	cr_assert_eq(r.checked[TPC_REC_LINES], 0);

	/* a line of sending 2 without a sum: written after the raise, so damaged */
	{
		uint8_t k12[12];
		tpc_line_rec_t line;

		memset(&line, 0, sizeof(line));
		cr_assert_eq(mdb_txn_begin(tpc_store_db(fx.st)->env, NULL, 0, &txn), 0);
		put(txn, tpc_store_db(fx.st)->lines, tpc_key_u64_u32(k12, 2, 0), &line,
		    TPC_LINE_REC_V4);
		cr_assert_eq(mdb_txn_commit(txn), 0);
	}
	verify(&r);
	cr_assert_geq(fx.problems, 1);
	cr_assert_eq(r.damaged[TPC_REC_LINES], 1, "%s", fx.last);
}

Test(store, a_schema_this_engine_does_not_read_is_refused)
{
	tpc_store_opts_t o = {.dir = fx.dir, .map_size = 1u << 24, .map_max = 1u << 26};
	uint32_t schemas[] = {2, TPC_LEDGER_SCHEMA + 1};

	for (size_t i = 0; i < 2; i++) {
		MDB_txn *txn;
		uint32_t ro;

		open_store();
		cr_assert_eq(mdb_txn_begin(tpc_store_db(fx.st)->env, NULL, 0, &txn), 0);
		put(txn, tpc_store_db(fx.st)->meta, (MDB_val){6, "schema"}, &schemas[i], 4);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		tpc_store_free(&fx.st);
		cr_assert_neq(tpc_store_open(&o, &fx.st), 0, "schema %u", schemas[i]);
		cr_assert_neq(tpc_store_open_readonly(fx.dir, &fx.st, &ro), 0, "schema %u",
		              schemas[i]);
		/* put the schema back for the next round */
		{
			MDB_env *env;
			uint32_t five = TPC_LEDGER_SCHEMA;
			MDB_dbi meta;

			cr_assert_eq(mdb_env_create(&env), 0);
			cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
			cr_assert_eq(mdb_env_open(env, fx.dir, 0, 0640), 0);
			cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
			cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
			put(txn, meta, (MDB_val){6, "schema"}, &five, 4);
			cr_assert_eq(mdb_txn_commit(txn), 0);
			mdb_env_close(env);
		}
	}
}

/* The read-only open of the tools writes nothing: a ledger of schema 4 stays 4 under it. */
Test(store, the_read_only_open_raises_nothing)
{
	tpc_store_t *ro = NULL;
	uint32_t schema = 0;

	make_schema_4_store();
	tpc_store_free(&fx.st);
	cr_assert_eq(tpc_store_open_readonly(fx.dir, &ro, &schema), 0);
	cr_assert_eq(schema, 4);
	tpc_store_free(&ro);
	cr_assert_eq(tpc_store_open_readonly(fx.dir, &ro, &schema), 0);
	cr_assert_eq(schema, 4, "still 4: only the daemon raises it");
	tpc_store_free(&ro);
}

/* Records that pass their checksums but no longer agree: verify names each broken invariant. */
Test(store, verify_names_a_ledger_whose_records_disagree)
{
	const tpc_store_db_t *db;
	tpc_verify_report_t r;
	tpc_posting_rec_t p;
	uint8_t k8[8], k13[13];
	MDB_txn *txn;
	MDB_val v;

	make_schema_4_store();
	open_store();
	verify(&r);
	cr_assert_eq(fx.problems, 0, "%s", fx.all);
	db = tpc_store_db(fx.st);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	/* the payable posting one cent off: the budget no longer sums to 0 */
	cr_assert_eq(mdb_get(txn, db->postings, &(MDB_val){8, tpc_key_u64(k8, 2).mv_data}, &v), 0);
	memcpy(&p, v.mv_data, sizeof(p));
	p.amount_cents += 1;
	put(txn, db->postings, tpc_key_u64(k8, 2), &p, sizeof(p));
	cr_assert_eq(mdb_txn_commit(txn), 0);
	verify(&r);
	cr_assert_eq(r.budget_cents[TPC_BUDGET_AMI], 1);
	/* and, since schema 7, the running balances the raise computed no longer match */
	cr_assert_eq(fx.problems, 3, "the posting's amount, the budget, the balances: %s", fx.all);
	cr_assert(strstr(fx.all, "postings AMI: the budget sums to 1 cents"), "%s", fx.all);
	cr_assert(strstr(fx.all, "meta balances AMI: payable 100 cents, its postings sum to 101"),
	          "%s", fx.all);

	/* the payable gone: the accepted line part is neither payable nor paid */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(
	    mdb_del(txn, db->payables, &(MDB_val){13, tpc_key_payable(k13, 1, 0, 0).mv_data}, NULL),
	    0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	verify(&r);
	cr_assert_eq(fx.problems, 4, "%s", fx.all);
	cr_assert(strstr(fx.all,
	                 "payables sequence 1 line 0 part 0: the accepted line part is neither "
	                 "payable nor paid"),
	          "%s", fx.all);

	/* the answer gone: the sendings index and the line point at nothing */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_del(txn, db->answers, &(MDB_val){8, tpc_key_u64(k8, 1).mv_data}, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	verify(&r);
	cr_assert_eq(fx.problems, 6, "%s", fx.all);
	cr_assert(strstr(fx.all, "sendings h/old: no stored answer under its sequence"), "%s",
	          fx.last);
}
