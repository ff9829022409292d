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

/* A value that is not an answer this engine wrote fails its checksum: T00055, not T00011.
 * (Before schema 5 these were TPC_EDB; issue 14 names damage apart from other failures.) */
Test(records, damaged_answers_are_refused)
{
	tpc_answer_hdr_t h;
	tpc_stored_t st;
	uint8_t buf[sizeof(h) + 4];

	memset(&h, 0, sizeof(h));
	h.magic = TPC_ANSWER_MAGIC;
	h.result_len = 8; /* says 8, holds 4 */
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(tpc_records_answer_decode(buf, sizeof(buf), arena, &st), TPC_EDAMAGED);
	cr_assert_eq(tpc_records_answer_decode(buf, sizeof(h) - 1, arena, &st), TPC_EDAMAGED);
	h.magic = 0;
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(tpc_records_answer_header_read(buf, sizeof(buf), &h), TPC_EDAMAGED);
	/* a TPA2 answer (schema 4, no sum) whose lengths do not add up is still TPC_EDB */
	h.magic = TPC_ANSWER_MAGIC_V4;
	memcpy(buf, &h, TPC_ANSWER_HDR_V4);
	cr_assert_eq(tpc_records_answer_decode(buf, TPC_ANSWER_HDR_V4 + 4, arena, &st), TPC_EDB);
}

/* ---- checksums (schema 5) ------------------------------------------------------------------- */

/* Flip each bit of @p n bytes at @p rec in turn; @p read must refuse every one, and accept the
 * record again once the bit is back. */
#define EVERY_BIT_REFUSED(rec, n, read)                                                            \
	do {                                                                                       \
		uint8_t *b_ = (uint8_t *)(rec);                                                    \
		for (size_t i_ = 0; i_ < (n)*8; i_++) {                                            \
			b_[i_ / 8] ^= (uint8_t)(1u << (i_ % 8));                                   \
			cr_assert_eq(read, TPC_EDAMAGED, "bit %zu flipped was read", i_);          \
			b_[i_ / 8] ^= (uint8_t)(1u << (i_ % 8));                                   \
		}                                                                                  \
		cr_assert_eq(read, 0);                                                             \
	} while (0)

Test(records, every_flipped_bit_of_a_line_record_is_refused)
{
	tpc_line_rec_t rec, back;
	MDB_val v = {sizeof(rec), &rec};

	memset(&rec, 0, sizeof(rec));
	memcpy(rec.code, "101032", 6);
	rec.accepted_cents = 6000;
	tpc_records_line_seal(&rec);
	cr_assert_neq(rec.sum, 0);
	EVERY_BIT_REFUSED(&rec, sizeof(rec), tpc_records_line_read(&v, &back));
	cr_assert_arr_eq(&back, &rec, sizeof(rec));
	/* a schema 4 record (96 bytes) is read, unchecked, with sum 0 */
	v.mv_size = TPC_LINE_REC_V4;
	cr_assert_eq(tpc_records_line_read(&v, &back), 0);
	cr_assert_eq(back.sum, 0);
	cr_assert_eq(back.accepted_cents, 6000);
	v.mv_size = TPC_LINE_REC_V4 + 1;
	cr_assert_eq(tpc_records_line_read(&v, &back), TPC_EDAMAGED, "no line record's size");
}

Test(records, every_flipped_bit_of_a_posting_payable_or_paid_is_refused)
{
	tpc_posting_rec_t p, pb;
	tpc_payable_t y, yb;
	tpc_paid_t d, db;
	MDB_val pv = {sizeof(p), &p}, yv = {sizeof(y), &y}, dv = {sizeof(d), &d};

	memset(&p, 0, sizeof(p));
	p.sequence = 12;
	p.amount_cents = -4800;
	snprintf(p.account, sizeof(p.account), "AMI");
	tpc_records_posting_seal(&p);
	EVERY_BIT_REFUSED(&p, sizeof(p) - sizeof(p.pad2), tpc_records_posting_read(&pv, &pb));
	memset(&y, 0, sizeof(y));
	y.amount_cents = 4800;
	tpc_records_payable_seal(&y);
	EVERY_BIT_REFUSED(&y, sizeof(y), tpc_records_payable_read(&yv, &yb));
	d = (tpc_paid_t){7, 3, 0, 123456, 0};
	tpc_records_paid_seal(&d);
	EVERY_BIT_REFUSED(&d, sizeof(d), tpc_records_paid_read(&dv, &db));
	cr_assert_eq(db.run, 7);
	/* written before schema 5: a zero sum (postings, payables) or 24 bytes (paid) */
	p.sum = 0;
	y.sum = 0;
	cr_assert_eq(tpc_records_posting_read(&pv, &pb), 0);
	cr_assert_eq(tpc_records_payable_read(&yv, &yb), 0);
	dv.mv_size = TPC_PAID_V4;
	cr_assert_eq(tpc_records_paid_read(&dv, &db), 0);
	cr_assert_eq(db.sum, 0);
	cr_assert_eq(db.paid_ms, 123456);
}

/* An answer as the writer stores it, from a job whose worker computed the body's sum. */
static MDB_val stored_answer(tpc_job_t *job, int worker_summed)
{
	static const uint8_t result[] = {8, 1, 16, 2, 24, 3};
	static const char native[] = "920098 the native answer";
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, 9), v;
	tpc_answer_hdr_t h;
	void *space;

	memset(job, 0, sizeof(*job));
	job->sequence = 9;
	strcpy(job->sender, "hospital-a");
	strcpy(job->key, "k-9");
	job->result = (uint8_t *)result;
	job->result_len = sizeof(result);
	job->native.ptr = (const uint8_t *)native;
	job->native.len = sizeof(native);
	if (worker_summed) {
		job->body_sum = tpc_records_answer_body_sum(job);
		job->body_summed = job->result;
	}
	tpc_records_answer_header(job, 3000, &h);
	space = tpc_txn_reserve(&t, dbi, &k, tpc_records_answer_size(job), 0);
	cr_assert_not_null(space);
	tpc_records_answer_encode(job, &h, space);
	cr_assert(tpc_txn_find(&t, dbi, &k, &v));
	return v;
}

Test(records, every_flipped_bit_of_a_stored_answer_is_refused)
{
	tpc_job_t job;
	tpc_stored_t st;
	uint8_t copy[1024];
	MDB_val v = stored_answer(&job, 1);

	cr_assert_leq(v.mv_size, sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	cr_assert_eq(tpc_records_answer_check(copy, v.mv_size), 0);
	EVERY_BIT_REFUSED(copy, v.mv_size, tpc_records_answer_decode(copy, v.mv_size, arena, &st));
	cr_assert_eq(st.result_len, job.result_len);
	cr_assert_arr_eq(st.result, job.result, job.result_len);
}

/* The worker's body sum and the writer's own give the same stored bytes; a job whose result
 * was replaced after the worker summed it is summed again by the writer. */
Test(records, the_writer_sums_what_the_worker_did_not)
{
	tpc_job_t job;
	tpc_answer_hdr_t h;
	uint8_t a[1024], b[1024];
	MDB_val v = stored_answer(&job, 1);
	size_t n = v.mv_size;
	static const uint8_t other[] = {8, 1, 16, 2, 24, 3};

	memcpy(a, v.mv_data, n);
	v = stored_answer(&job, 0);
	memcpy(b, v.mv_data, n);
	cr_assert_arr_eq(a, b, n, "worker or writer: the same sum");
	/* same bytes at another address: the worker's sum is not trusted for them */
	job.body_sum = 1;
	job.body_summed = job.result;
	job.result = (uint8_t *)other;
	tpc_records_answer_header(&job, 3000, &h);
	tpc_records_answer_encode(&job, &h, b);
	cr_assert_eq(tpc_records_answer_check(b, n), 0);
}

/* A stored answer of schema 4 (magic TPA2, a 320-byte header, no sum) is still read. */
Test(records, an_answer_of_schema_4_is_read_unchecked)
{
	static const uint8_t result[] = {8, 1};
	uint8_t buf[TPC_ANSWER_HDR_V4 + sizeof(result)];
	tpc_answer_hdr_t h;
	tpc_stored_t st;

	memset(&h, 0, sizeof(h));
	h.magic = TPC_ANSWER_MAGIC_V4;
	h.result_len = sizeof(result);
	h.sequence = 4;
	strcpy(h.key, "old-key");
	memcpy(buf, &h, TPC_ANSWER_HDR_V4);
	memcpy(buf + TPC_ANSWER_HDR_V4, result, sizeof(result));
	cr_assert_eq(tpc_records_answer_check(buf, sizeof(buf)), 1, "unchecked");
	cr_assert_eq(tpc_records_answer_decode(buf, sizeof(buf), arena, &st), 0);
	cr_assert_eq(st.sequence, 4);
	cr_assert_arr_eq(st.result, result, sizeof(result));
	cr_assert_eq(tpc_records_answer_header_read(buf, sizeof(buf), &h), 0);
	cr_assert_str_eq(h.key, "old-key");
	cr_assert_eq(h.sum, 0);
}

/* Schema 6: the worker encodes one lines block per sending; read back through tpc_lines_get()
 * each line is the record schema 5 stored (tpc_records_line_encode()), but for its sum (the
 * block's); every flipped bit of the block is refused, and the line it hits is named. */
Test(records, the_lines_block_reads_back_as_the_line_records)
{
	tpc_invoice_t inv[2];
	tpc_line_t ln[3];
	tpc_job_t job;
	tpc_line_rec_t rec, back;
	tpc_line_payee_t payee;
	tpc_lines_hdr_t h;
	tpc_lines_t l;
	uint8_t key[8], *copy;
	MDB_val k, v;

	memset(inv, 0, sizeof(inv));
	memset(ln, 0, sizeof(ln));
	memset(&job, 0, sizeof(job));
	inv[0].nlines = 2;
	inv[0].provider = (tpc_view_t){"18334780004", 11};
	inv[1].first_line = 2;
	inv[1].nlines = 1;
	inv[1].provider = (tpc_view_t){"17385467004", 11};
	memcpy(inv[1].mutuality, "319", 3);
	for (int i = 0; i < 3; i++) {
		memcpy(ln[i].code, "101032", 7);
		ln[i].accepted_cents = 100 * i;
		ln[i].outcome = TPC_OUTCOME_ACCEPTED;
		ln[i].record = 10 + (uint32_t)i;
	}
	ln[1].outcome = TPC_OUTCOME_REFUSED;
	ln[1].nfindings = 2;
	memcpy(ln[1].findings[0].code, "500423", 7);
	memcpy(ln[1].findings[1].code, "202920", 7);
	job.arena = arena;
	job.sending.invoices = inv;
	job.sending.ninvoices = 2;
	job.sending.lines = ln;
	job.sending.nlines = 3;
	cr_assert_eq(tpc_records_lines_encode(&job), 0);
	cr_assert_not_null(job.lines_block);
	cr_assert_eq(job.lines_block_len, sizeof(h) + 2 * sizeof(tpc_line_payee_t) +
	                                      3 * sizeof(tpc_line6_t) +
	                                      2 * sizeof(tpc_line_finding_t));
	copy = tpc_arena_alloc(arena, job.lines_block_len, 8);
	memcpy(copy, job.lines_block, job.lines_block_len);
	tpc_records_lines_seal(copy, 7, 1234);
	k = tpc_key_u64(key, 5);
	v = (MDB_val){job.lines_block_len, copy};
	tpc_txn_put(&t, dbi, &k, copy, job.lines_block_len, 0);
	cr_assert_eq(t.ret, 0);
	tpc_lines_init(&l, t.txn, dbi);
	cr_assert_eq(tpc_lines_block(&l, 5, &h), 1);
	cr_assert_eq(h.first_posting, 7);
	cr_assert_eq(h.committed_ms, 1234);
	for (uint32_t i = 0; i < 3; i++) {
		tpc_records_line_encode(&job.sending, i, i < 2 ? 0 : 1, &rec);
		cr_assert_eq(tpc_lines_get(&l, 5, i, &back, &payee), 0);
		cr_assert_eq(back.sum, h.sum, "a block's line carries the block's sum");
		back.sum = rec.sum = 0;
		cr_assert_arr_eq(&back, &rec, sizeof(rec), "line %u", i);
		cr_assert_str_eq(payee.payee, i < 2 ? "18334780004" : "17385467004");
		cr_assert_eq(payee.payee_kind, TPC_PAYEE_PROVIDER);
	}
	cr_assert_arr_eq(back.mutuality, "319", 3);
	cr_assert_eq(tpc_lines_get(&l, 5, 3, &back, NULL), MDB_NOTFOUND);
	cr_assert_eq(tpc_lines_get(&l, 6, 0, &back, NULL), MDB_NOTFOUND);
	for (size_t bit = 0; bit < v.mv_size * 8; bit++) {
		size_t line0 = sizeof(h) + 2 * sizeof(tpc_line_payee_t);

		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(tpc_records_lines_check(&v, &h), TPC_EDAMAGED, "bit %zu", bit);
		/* a bit of a line's own bytes names that line */
		if (bit / 8 >= line0 && bit / 8 < line0 + 3 * sizeof(tpc_line6_t))
			cr_assert(tpc_records_lines_line_damaged(
			              &v, (uint32_t)((bit / 8 - line0) / sizeof(tpc_line6_t))),
			          "bit %zu", bit);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	cr_assert_eq(tpc_records_lines_check(&v, &h), 0);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert(!tpc_records_lines_line_damaged(&v, i), "line %u is sound", i);
}

/* Schema 6: a settlement is stored as one LZ4 block (the 920900 echo shrinks about tenfold),
 * with its sum; decoded back byte for byte; every flipped bit refused; a TPS1 value of an
 * older ledger (32-byte header, parts as they are, no sum) still read. */
Test(records, settlements_compressed_summed_and_read_back)
{
	uint8_t proto[40], native[3000], old[32 + sizeof(proto) + 10];
	tpc_blob_t nb = {.ptr = native, .len = sizeof(native)};
	tpc_settlement_view_t sv;
	tpc_settlement_hdr_t h;
	const uint8_t *v;
	uint8_t *copy;
	size_t n;

	for (size_t i = 0; i < sizeof(proto); i++)
		proto[i] = (uint8_t)(i * 7);
	memset(native, ' ', sizeof(native));
	memcpy(native, "920900", 6);
	memcpy(nb.type, "efact-920900", 13);
	cr_assert_eq(tpc_records_settlement_encode(proto, sizeof(proto), &nb, arena, &v, &n), 0);
	cr_assert_lt(n, sizeof(native) / 4, "compressed: %zu bytes", n);
	memcpy(&h, v, sizeof(h));
	cr_assert_eq(h.magic, TPC_SETTLEMENT_MAGIC);
	cr_assert_eq(h.flags, TPC_SETTLEMENT_LZ4);
	cr_assert_eq(tpc_records_settlement_decode(v, n, arena, &sv), 0);
	cr_assert_eq(sv.proto_len, sizeof(proto));
	cr_assert_eq(memcmp(sv.proto, proto, sizeof(proto)), 0);
	cr_assert_eq(sv.native.len, sizeof(native));
	cr_assert_eq(memcmp(sv.native.ptr, native, sizeof(native)), 0);
	cr_assert_str_eq(sv.native.type, "efact-920900");
	copy = tpc_arena_alloc(arena, n, 8);
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(copy, v, n);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(tpc_records_settlement_decode(copy, n, arena, &sv), TPC_EDAMAGED,
		             "bit %zu", bit);
	}
	/* no native part, nothing to gain: stored as it is, still summed */
	cr_assert_eq(tpc_records_settlement_encode(proto, sizeof(proto), NULL, arena, &v, &n), 0);
	cr_assert_eq(n, sizeof(h) + sizeof(proto));
	cr_assert_eq(tpc_records_settlement_decode(v, n, arena, &sv), 0);
	cr_assert_null(sv.native.ptr);
	cr_assert_eq(memcmp(sv.proto, proto, sizeof(proto)), 0);
	/* TPS1 as schemas 3 to 5 wrote it */
	memset(&h, 0, sizeof(h));
	h.magic = TPC_SETTLEMENT_MAGIC_V5;
	h.proto_len = sizeof(proto);
	h.native_len = 10;
	memcpy(h.native_type, "efact-920900", 13);
	memcpy(old, &h, TPC_SETTLEMENT_HDR_V5);
	memcpy(old + 32, proto, sizeof(proto));
	memcpy(old + 32 + sizeof(proto), "9209000000", 10);
	cr_assert_eq(tpc_records_settlement_decode(old, sizeof(old), arena, &sv), 0);
	cr_assert_eq(memcmp(sv.proto, proto, sizeof(proto)), 0);
	cr_assert_eq(sv.native.len, 10);
	cr_assert_eq(memcmp(sv.native.ptr, "9209000000", 10), 0);
	cr_assert_eq(tpc_records_settlement_decode(old, sizeof(old) - 1, arena, &sv), TPC_EDB,
	             "a TPS1 value whose lengths do not add up");
}
