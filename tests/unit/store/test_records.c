/* tests/unit/store/test_records.c - records written then read back (engine/store/records.c).
 *
 * A stage-boundary check: a line verdict and a stored answer are encoded from a judged job as
 * the writer does, put in a real LMDB database under the keys the store uses, read back and
 * decoded, and must come back field for field.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "store/records.h"
#include "store/txn.h"
#include "testutil.h"

static char *dir;
static MDB_env *env;
static MDB_dbi dbi;
static tpc_txn_t t;
static tpc_arena_t *arena;

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_NOSYNC, 0640), 0);
	cr_assert_eq(tpc_txn_begin(env, 0, &t), 0);
	cr_assert_eq(mdb_dbi_open(t.txn, "r", MDB_CREATE, &dbi), 0);
	cr_assert_eq(tpc_arena_new(1 << 16, 1 << 20, &arena), 0);
}

static void teardown(void)
{
	tpc_txn_abort(&t);
	mdb_env_close(env);
	tpc_arena_free(&arena);
	tpc_test_rmtree(dir);
	free(dir);
}

TestSuite(records, .init = setup, .fini = teardown);

Test(records, line_record_roundtrip)
{
	tpc_invoice_t inv[2];
	tpc_line_t ln[3];
	tpc_sending_t s;
	tpc_line_rec_t rec, back;
	uint8_t key[12];
	MDB_val k, v;

	memset(inv, 0, sizeof(inv));
	memset(ln, 0, sizeof(ln));
	memset(&s, 0, sizeof(s));
	memcpy(inv[1].mutuality, "319", 3);
	inv[1].first_line = 2;
	inv[1].nlines = 1;
	memcpy(ln[2].code, "101032", 7);
	ln[2].outcome = TPC_OUTCOME_ACCEPTED;
	ln[2].units = 2;
	ln[2].record = 17;
	ln[2].budget = 1;
	ln[2].share_budget = 2;
	ln[2].insurer_cents = 4800;
	ln[2].patient_cents = 1200;
	ln[2].accepted_cents = 6000;
	ln[2].nfindings = 1;
	memcpy(ln[2].findings[0].code, "500423", 7);
	s.invoices = inv;
	s.ninvoices = 2;
	s.lines = ln;
	s.nlines = 3;
	tpc_records_line_encode(&s, 2, 1, &rec);
	k = tpc_key_u64_u32(key, 5, 2);
	tpc_txn_put(&t, dbi, &k, &rec, sizeof(rec), 0);
	cr_assert(tpc_txn_find(&t, dbi, &k, &v));
	cr_assert_eq(tpc_records_read(&v, &back, sizeof(back)), 0);
	cr_assert_arr_eq(back.code, "101032", 6);
	cr_assert_eq(back.invoice, 1);
	cr_assert_eq(back.record, 17);
	cr_assert_arr_eq(back.mutuality, "319", 3);
	cr_assert_eq(back.budget, 1);
	cr_assert_eq(back.share_budget, 2);
	cr_assert_eq(back.accepted_cents, 6000);
	cr_assert_arr_eq(back.finding[0], "500423", 6);
	cr_assert_arr_eq(&back, &rec, sizeof(rec), "byte for byte");
	/* a refused line charges no budget */
	ln[2].outcome = TPC_OUTCOME_REFUSED;
	tpc_records_line_encode(&s, 2, 1, &rec);
	cr_assert_eq(rec.budget, 0);
	cr_assert_eq(rec.share_budget, 0);
	/* and a value of another size is refused */
	v.mv_size--;
	cr_assert_eq(tpc_records_read(&v, &back, sizeof(back)), TPC_EDB);
}

Test(records, stored_answer_roundtrip)
{
	static const uint8_t result[] = {1, 2, 3, 4, 5};
	static const char native[] = "920098 native";
	tpc_job_t job;
	tpc_answer_hdr_t h, back;
	tpc_stored_t st;
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 77), v;
	void *space;

	memset(&job, 0, sizeof(job));
	job.sequence = 77;
	job.received_ms = 1000;
	job.validated_ms = 2000;
	memset(job.hash, 0xab, sizeof(job.hash));
	strcpy(job.sender, "hospital-a");
	strcpy(job.key, "k-1");
	job.result = (uint8_t *)result;
	job.result_len = sizeof(result);
	job.native.ptr = (const uint8_t *)native;
	job.native.len = sizeof(native);
	strcpy(job.native.type, "efact");
	tpc_records_answer_header(&job, 3000, &h);
	space = tpc_txn_reserve(&t, dbi, &k, tpc_records_answer_size(&job), MDB_APPEND);
	cr_assert_not_null(space);
	tpc_records_answer_encode(&job, &h, space);

	cr_assert(tpc_txn_find(&t, dbi, &k, &v));
	cr_assert_eq(v.mv_size, sizeof(h) + sizeof(result) + sizeof(native));
	cr_assert_eq(tpc_records_answer_header_read(v.mv_data, v.mv_size, &back), 0);
	cr_assert_eq(back.magic, TPC_ANSWER_MAGIC);
	cr_assert_eq(back.sequence, 77);
	cr_assert_eq(back.committed_ms, 3000);
	cr_assert_eq(back.received_ms, 1000);
	cr_assert_eq(back.validated_ms, 2000);
	cr_assert_str_eq(back.sender, "hospital-a");
	cr_assert_str_eq(back.key, "k-1");
	cr_assert_eq(tpc_records_answer_decode(v.mv_data, v.mv_size, arena, &st), 0);
	cr_assert_eq(st.sequence, 77);
	cr_assert_eq(st.committed_ms, 3000);
	cr_assert_arr_eq(st.hash, job.hash, sizeof(job.hash));
	cr_assert_eq(st.result_len, sizeof(result));
	cr_assert_arr_eq(st.result, result, sizeof(result));
	cr_assert_eq(st.native.len, sizeof(native));
	cr_assert_arr_eq(st.native.ptr, native, sizeof(native));
	cr_assert_str_eq(st.native.type, "efact");
}

Test(records, damaged_answers_are_refused)
{
	tpc_answer_hdr_t h;
	tpc_stored_t st;
	uint8_t buf[sizeof(h) + 4];

	memset(&h, 0, sizeof(h));
	h.magic = TPC_ANSWER_MAGIC;
	h.result_len = 8; /* says 8, holds 4 */
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(tpc_records_answer_decode(buf, sizeof(buf), arena, &st), TPC_EDB);
	cr_assert_eq(tpc_records_answer_decode(buf, sizeof(h) - 1, arena, &st), TPC_EDB);
	h.magic = 0;
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(tpc_records_answer_header_read(buf, sizeof(buf), &h), TPC_EDB);
}
