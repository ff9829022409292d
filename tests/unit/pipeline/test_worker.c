/* tests/unit/pipeline/test_worker.c - one job through the worker path, synchronously
 * (engine/pipeline/worker.c).
 *
 * tpc_worker_process is the code a worker thread runs on each job, minus the queues: hash,
 * (optional) ledger pre-check, decode through the job's adapter, judge, pack the Result.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/arena.h"
#include "canonical/canonical.h"
#include "core/codes.h"
#include "core/config.h"
#include "core/error.h"
#include "pipeline/job.h"
#include "ledger/ledger.h"
#include "pipeline/writer.h"
#include "core/metrics.h"
#include "tpclear.pb-c.h"
#include "pipeline/worker.h"
#include "gen/canonical_gen.h"
#include "testutil.h"

static tpc_config_t cfg;
static tpc_metrics_t *metrics;
static tpc_metrics_shard_t *shard;
static tpc_job_t job;

static void setup(void)
{
	tpc_config_defaults(&cfg);
	cr_assert_eq(tpc_metrics_new(4, &metrics), 0);
	shard = tpc_metrics_shard(metrics);
	cr_assert_not_null(shard);
	memset(&job, 0, sizeof(job));
	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &job.arena), 0);
	zmq_msg_init(&job.payload);
	job.type = TPC_JOB_SUBMIT;
	snprintf(job.sender, sizeof(job.sender), "hospital-a");
	snprintf(job.key, sizeof(job.key), "K-1");
	job.adapter = &tpc_canonical_adapter;
	job.adapter_state = NULL;
}

static void teardown(void)
{
	zmq_msg_close(&job.payload);
	tpc_arena_free(&job.arena);
	tpc_metrics_free(&metrics);
}

TestSuite(worker, .init = setup, .fini = teardown, .timeout = 60);

/* A canonical sending of @p ninv invoices of @p nlines valid lines, with line @p bad_line (index
 * over the sending, -1 = none) given a wrong nomenclature check digit. Packed into job.payload. */
static void set_payload(int ninv, int nlines, int bad_line)
{
	tpc_canonical_frame_t f;
	uint8_t *packed;
	size_t len;

	cr_assert_eq(tpc_canonical_frame_new(&f, (size_t)ninv, (size_t)(ninv * nlines)), 0);
	f.cs.reference = "12345678901234";
	f.cs.third_party = "18334780004";
	f.cs.created = 20240115;
	f.cs.year_month = 202401;
	for (int i = 0; i < ninv; i++) {
		Tpclear__CanonicalInvoice *inv = &f.inv[i];

		inv->patient = i % 2 ? "05031412595" : "86103130262";
		inv->provider = "18334780004";
		inv->number = "INV";
		inv->n_lines = (size_t)nlines;
		inv->lines = f.lnp + i * nlines;
		for (int k = 0; k < nlines; k++) {
			int idx = i * nlines + k;
			Tpclear__CanonicalLine *l = &f.ln[idx];

			l->code = idx == bad_line ? "101033" : "101032";
			l->date = 20240110;
			l->units = 1;
			l->insurer_cents = 1000;
			l->patient_cents = 200;
		}
	}
	packed = tpc_canonical_frame_pack(&f, &len);
	cr_assert_not_null(packed);
	zmq_msg_close(&job.payload);
	cr_assert_eq(zmq_msg_init_size(&job.payload, len), 0);
	memcpy(zmq_msg_data(&job.payload), packed, len);
	free(packed);
	tpc_canonical_frame_free(&f);
}

static Tpclear__Result *unpack_result(void)
{
	Tpclear__Result *r;

	cr_assert_not_null(job.result);
	r = tpclear__result__unpack(NULL, job.result_len, job.result);
	cr_assert_not_null(r, "the job's result does not parse");
	return r;
}

Test(worker, clears_a_canonical_sending)
{
	Tpclear__Result *r;
	uint8_t hash[TPC_HASH_LEN];

	set_payload(2, 3, 4);
	cfg.max_refused_percent = 100; /* judged line by line: no refusal threshold here */
	cr_assert_eq(tpc_worker_process(NULL, shard, &cfg, &job), 0, "next stop: the ledger");
	cr_assert_eq(job.status, TPC_JOB_CLEARED, "status %d (%s)", job.status,
	             job.fail_code ? job.fail_code : "");
	/* XXH3-128 of the payload, in its canonical (big-endian) form (issue 15: it was
	 * BLAKE2b-256) */
	XXH128_canonicalFromHash(
	    (XXH128_canonical_t *)hash,
	    XXH3_128bits(zmq_msg_data(&job.payload), zmq_msg_size(&job.payload)));
	cr_assert_eq(job.hash_len, TPC_HASH_XXH3_LEN);
	cr_assert_arr_eq(job.hash, hash, TPC_HASH_XXH3_LEN, "hash is XXH3-128 of the payload");
	cr_assert_eq(job.sending.ninvoices, 2);
	cr_assert_eq(job.sending.nlines, 6);
	cr_assert_eq(job.lines_accepted, 5);
	cr_assert_eq(job.lines_refused, 1);
	cr_assert_null(job.native.ptr, "canonical has no native answer");

	r = unpack_result();
	cr_assert_str_eq(r->sender, "hospital-a");
	cr_assert_str_eq(r->key, "K-1");
	cr_assert_str_eq(r->format, "canonical");
	cr_assert_eq(r->payload_hash.len, TPC_HASH_XXH3_LEN);
	cr_assert_arr_eq(r->payload_hash.data, hash, TPC_HASH_XXH3_LEN);
	tpc_test_expect_totals(
	    r, (tpc_test_totals_t){TPCLEAR__OUTCOME__OUTCOME_PARTIAL, 2, 6, 5, 1, 5000, 1000});
	cr_assert_eq(r->invoice_results[1]->lines[1]->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_str_eq(r->invoice_results[1]->lines[1]->findings[0]->code, "500402");
	tpclear__result__free_unpacked(r, NULL);

	/* counted by the server once the writer has committed, not when judged */
	cr_assert_eq(job.invoices_accepted, 2);
	cr_assert_eq(job.invoices_refused, 0);
	cr_assert_eq(tpc_metrics_get(metrics, TPC_M_lines_accepted), 0);
	cr_assert_eq(tpc_metrics_get(metrics, TPC_M_invoices_accepted), 0);
}

Test(worker, refused_share_over_the_threshold_refuses_the_whole_sending)
{
	Tpclear__Result *r;

	set_payload(2, 3, 4); /* one refused line of six: 1000 of 6000 cents, 16.7 % */
	cfg.max_refused_percent = 10;
	cr_assert_eq(tpc_worker_process(NULL, shard, &cfg, &job), 0);
	cr_assert_eq(job.status, TPC_JOB_CLEARED);
	cr_assert_eq(job.lines_accepted, 0);
	cr_assert_eq(job.lines_refused, 6);
	r = unpack_result();
	cr_assert_eq(r->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_eq(r->accepted_cents, 0);
	cr_assert_eq(r->refused_cents, 6000);
	cr_assert_str_eq(r->findings[0]->code, "T00020");
	tpclear__result__free_unpacked(r, NULL);
}

Test(worker, garbage_is_cleared_as_refused)
{
	Tpclear__Result *r;

	zmq_msg_close(&job.payload);
	cr_assert_eq(zmq_msg_init_size(&job.payload, 3), 0);
	memcpy(zmq_msg_data(&job.payload), "\x0f\x00\x01", 3);
	cr_assert_eq(tpc_worker_process(NULL, shard, &cfg, &job), 0);
	cr_assert_eq(job.status, TPC_JOB_CLEARED, "a refusal is a result to store");
	r = unpack_result();
	cr_assert_eq(r->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_eq(r->n_findings, 1);
	cr_assert_str_eq(r->findings[0]->code, "T20001");
	tpclear__result__free_unpacked(r, NULL);
}

Test(worker, oversized_sending_fails_with_t00013)
{
	cfg.max_lines = 2;
	set_payload(1, 3, -1);
	cr_assert_eq(tpc_worker_process(NULL, shard, &cfg, &job), 1, "next stop: done queue");
	cr_assert_eq(job.status, TPC_JOB_FAILED);
	cr_assert_str_eq(job.fail_code, TPC_CODE_TOO_MANY);
	cr_assert_not_null(job.fail_reason);

	cfg.max_lines = 1000;
	cfg.max_invoices = 1;
	set_payload(2, 1, -1);
	cr_assert_eq(tpc_worker_process(NULL, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_FAILED);
	cr_assert_str_eq(job.fail_code, TPC_CODE_TOO_MANY);
}

/* Judge the payload in job.payload (with reader @p r, or none) and hand it to the writer.
 * @return the status the writer gave it. */
static enum tpc_job_status judge_and_write(tpc_store_reader_t *r, tpc_queue_t *in,
                                           tpc_queue_t *done, int blake2b)
{
	tpc_qnode_t *n;

	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	job.result = NULL;
	job.sequence = 0;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 0);
	cr_assert_eq(job.status, TPC_JOB_CLEARED);
	if (blake2b) {
		/* what an engine before issue 15 stored: BLAKE2b-256, a 40-byte "sendings" value
		 * and no TPC_ANSWER_XXH3 in the answer header */
		crypto_generichash(job.hash, TPC_HASH_LEN, zmq_msg_data(&job.payload),
		                   zmq_msg_size(&job.payload), NULL, 0);
		job.hash_len = TPC_HASH_LEN;
	}
	cr_assert_eq(tpc_queue_push(in, &job.node), 0);
	cr_assert_eq(tpc_queue_pop(done, &n), 0);
	return job.status;
}

/* A ledger in DIR/ledger with its writer thread running on two fresh queues, and a reader: what
 * the tests that judge and write sendings through the real writer start from. */
static void start_ledger(const char *dir, tpc_writer_t **l, tpc_store_reader_t **r,
                         tpc_queue_t **in, tpc_queue_t **done)
{
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/ledger", dir);
	cr_assert_eq(tpc_writer_open(&cfg, metrics, l), 0);
	cr_assert_eq(tpc_store_reader_new(tpc_writer_store(*l), r), 0);
	cr_assert_eq(tpc_queue_new(0, 0, in), 0);
	cr_assert_eq(tpc_queue_new(0, 0, done), 0);
	cr_assert_eq(tpc_writer_start(*l, *in, *done), 0);
}

/* start_ledger()'s undoing: the writer drained and joined, then everything freed. */
static void stop_ledger(tpc_writer_t **l, tpc_store_reader_t **r, tpc_queue_t **in,
                        tpc_queue_t **done)
{
	tpc_queue_close(*in);
	tpc_writer_join(*l);
	tpc_store_reader_free(r);
	tpc_writer_free(l);
	tpc_queue_free(in);
	tpc_queue_free(done);
}

/* A sending stored with the old payload hash (BLAKE2b-256) is still replayed when sent again
 * and still a conflict under other bytes, found by the worker's pre-check and by the writer's
 * own check alike; the hashes of a conflict are both BLAKE2b-256, comparable. */
Test(worker, sending_stored_with_blake2b_replays_and_conflicts)
{
	char *dir = tpc_test_tmpdir();
	tpc_writer_t *l = NULL;
	tpc_store_reader_t *r = NULL;
	tpc_queue_t *in = NULL, *done = NULL;
	uint8_t old[TPC_HASH_LEN], other[TPC_HASH_LEN];
	tpc_stored_t st;
	uint64_t seq;

	cr_assert_not_null(dir);
	start_ledger(dir, &l, &r, &in, &done);

	set_payload(1, 2, -1);
	cr_assert_eq(judge_and_write(r, in, done, 1), TPC_JOB_COMMITTED);
	seq = job.sequence;
	memcpy(old, job.hash, sizeof(old));
	cr_assert_eq(tpc_store_lookup(r, job.sender, job.key, job.arena, &st), 0);
	cr_assert_eq(st.hash_len, TPC_HASH_LEN, "stored as an older engine did");

	/* the same bytes: a replay, decided by the worker's pre-check ... */
	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_REPLAY, "status %d", job.status);
	cr_assert_eq(job.sequence, seq);
	/* ... and by the writer, handed an XXH3-128 (a worker whose pre-check missed) */
	cr_assert_eq(judge_and_write(NULL, in, done, 0), TPC_JOB_REPLAY);
	cr_assert_eq(job.sequence, seq);

	/* other bytes under the key: a conflict, with two BLAKE2b-256 to compare */
	set_payload(1, 3, -1);
	crypto_generichash(other, sizeof(other), zmq_msg_data(&job.payload),
	                   zmq_msg_size(&job.payload), NULL, 0);
	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_CONFLICT, "status %d", job.status);
	cr_assert_eq(job.hash_len, TPC_HASH_LEN);
	cr_assert_arr_eq(job.stored_hash, old, TPC_HASH_LEN);
	cr_assert_arr_eq(job.hash, other, TPC_HASH_LEN);
	cr_assert_eq(judge_and_write(NULL, in, done, 0), TPC_JOB_CONFLICT);
	cr_assert_eq(job.hash_len, TPC_HASH_LEN);
	cr_assert_arr_eq(job.stored_hash, old, TPC_HASH_LEN);
	cr_assert_arr_eq(job.hash, other, TPC_HASH_LEN);

	/* a new sending beside it is stored with XXH3-128, and the ledger opens again: the
	 * startup check reads both kinds of "sendings" entries back (store/check.c) */
	snprintf(job.key, sizeof(job.key), "K-2");
	cr_assert_eq(judge_and_write(r, in, done, 0), TPC_JOB_COMMITTED);
	cr_assert_eq(tpc_store_lookup(r, job.sender, job.key, job.arena, &st), 0);
	cr_assert_eq(st.hash_len, TPC_HASH_XXH3_LEN);
	tpc_queue_close(in);
	tpc_writer_join(l);
	tpc_store_reader_free(&r);
	tpc_writer_free(&l);
	cr_assert_eq(tpc_writer_open(&cfg, metrics, &l), 0);
	tpc_writer_free(&l);

	tpc_queue_free(&in);
	tpc_queue_free(&done);
	tpc_test_rmtree(dir);
	free(dir);
}

/* Load @p csv as reference data of @p kind the way `tpclear load` does: parsed by a worker,
 * written by the writer. @return the status the load ended with. */
static enum tpc_job_status load_refdata(tpc_store_reader_t *r, tpc_queue_t *in, tpc_queue_t *done,
                                        enum tpc_ref_kind kind, const char *csv, size_t len)
{
	tpc_job_t *j = calloc(1, sizeof(*j));
	enum tpc_job_status st;
	tpc_qnode_t *n;

	cr_assert_not_null(j);
	cr_assert_eq(tpc_arena_new(1 << 20, 0, &j->arena), 0);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	memcpy(zmq_msg_data(&j->payload), csv, len);
	j->type = TPC_JOB_LOAD;
	j->table.kind = kind;
	j->load_max_drop = 10;
	snprintf(j->key, sizeof(j->key), "%s.csv", tpc_refdata_kind_name(kind));
	if (tpc_worker_process(r, shard, &cfg, j) == 0) {
		cr_assert_eq(tpc_queue_push(in, &j->node), 0);
		cr_assert_eq(tpc_queue_pop(done, &n), 0);
	}
	st = j->status;
	zmq_msg_close(&j->payload);
	tpc_arena_free(&j->arena);
	free(j);
	return st;
}

/* The finding codes of the first line of the sending in job.payload, judged now with @p r. */
static int first_line_has(tpc_store_reader_t *r, const char *code)
{
	const tpc_line_t *ln;

	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 0);
	ln = &job.sending.lines[0];
	for (unsigned i = 0; i < ln->nfindings; i++)
		if (memcmp(ln->findings[i].code, code, 6) == 0)
			return 1;
	return 0;
}

/* Reference data in memory (refdata/snapshot.h): a committed load is what the next sending is
 * judged against, a sending holding the snapshot before it keeps seeing the old data, and a
 * load refused (bad rows at the worker, or no row at the writer) puts nothing new in force. */
Test(worker, a_load_reaches_the_next_sending_not_one_in_flight)
{
	static const char bad[] = "niss,valid_from,valid_to,ct1,ct2,iban\n8610313026,x,,1,1,\n";
	static const char empty[] = "niss,valid_from,valid_to,ct1,ct2,iban\n";
	char *dir = tpc_test_tmpdir();
	tpc_writer_t *l = NULL;
	tpc_store_reader_t *r = NULL;
	tpc_queue_t *in = NULL, *done = NULL;
	tpc_refsnap_t *before, *after, *again;
	const tpc_ref_member_t *m;
	unsigned char *csv;
	size_t len = 0;

	cr_assert_not_null(dir);
	cfg.max_refused_percent = 100;
	start_ledger(dir, &l, &r, &in, &done);

	/* no members yet: the patient is unknown (500820) */
	set_payload(1, 2, -1);
	cr_assert(first_line_has(r, "500820"));
	before = tpc_store_refdata(r); /* a sending in flight holds this one */
	cr_assert_not_null(before);
	cr_assert_eq(tpc_refsnap_member_on(before, "86103130262", tpc_test_day(20240110), &m),
	             MDB_NOTFOUND);

	csv = tpc_test_slurp(tpc_test_src("config/refdata/members.csv"), &len);
	cr_assert_not_null(csv);
	cr_assert_eq(load_refdata(r, in, done, TPC_REF_MEMBERS, (const char *)csv, len),
	             TPC_JOB_COMMITTED);
	free(csv);
	after = tpc_store_refdata(r);
	cr_assert_neq(after, before, "a committed load puts a new snapshot in force");
	cr_assert_eq(tpc_refsnap_member_on(after, "86103130262", tpc_test_day(20240110), &m), 0);
	cr_assert_eq(m->ct1, 110);
	cr_assert_not(first_line_has(r, "500820"), "the next sending knows the patient");
	cr_assert_eq(tpc_refsnap_member_on(before, "86103130262", tpc_test_day(20240110), &m),
	             MDB_NOTFOUND, "the one in flight still has the data it began with");
	tpc_refsnap_release(&before);

	/* refused loads: bad rows (the worker), no row at all (the writer's guard, T00061) */
	cr_assert_eq(load_refdata(r, in, done, TPC_REF_MEMBERS, bad, sizeof(bad) - 1),
	             TPC_JOB_FAILED);
	cr_assert_eq(load_refdata(r, in, done, TPC_REF_MEMBERS, empty, sizeof(empty) - 1),
	             TPC_JOB_FAILED);
	again = tpc_store_refdata(r);
	cr_assert_eq(again, after, "nothing new in force after refused loads");
	tpc_refsnap_release(&again);
	tpc_refsnap_release(&after);

	stop_ledger(&l, &r, &in, &done);
	tpc_test_rmtree(dir);
	free(dir);
}

/* With a reader, a resubmission is decided before decoding: replay or conflict. */
Test(worker, reader_precheck_finds_replays_and_conflicts)
{
	char *dir = tpc_test_tmpdir();
	tpc_writer_t *l = NULL;
	tpc_store_reader_t *r = NULL;
	tpc_queue_t *in = NULL, *done = NULL;
	tpc_qnode_t *n;
	uint8_t *first = NULL;
	size_t first_len;
	uint64_t seq;

	cr_assert_not_null(dir);
	start_ledger(dir, &l, &r, &in, &done);

	/* first submission: unknown to the ledger, cleared, then committed */
	set_payload(1, 2, -1);
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 0);
	cr_assert_eq(job.status, TPC_JOB_CLEARED);
	first_len = job.result_len;
	first = malloc(first_len);
	cr_assert_not_null(first);
	memcpy(first, job.result, first_len);
	cr_assert_eq(tpc_queue_push(in, &job.node), 0);
	cr_assert_eq(tpc_queue_pop(done, &n), 0);
	cr_assert_eq(job.status, TPC_JOB_COMMITTED);
	seq = job.sequence;

	/* the same payload again: a replay of the stored result, without decoding */
	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	job.result = NULL;
	job.sequence = 0;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_REPLAY, "status %d", job.status);
	cr_assert_eq(job.sequence, seq);
	cr_assert_eq(job.result_len, first_len);
	cr_assert_arr_eq(job.result, first, first_len);

	/* the same key with another payload: a conflict */
	tpc_arena_reset(job.arena);
	job.status = TPC_JOB_NEW;
	set_payload(1, 3, -1);
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_CONFLICT, "status %d", job.status);
	cr_assert_eq(job.sequence, seq);
	cr_assert_eq(job.hash_len, TPC_HASH_XXH3_LEN, "both hashes XXH3-128");

	/* a query for the key, and for an unknown one */
	tpc_arena_reset(job.arena);
	job.type = TPC_JOB_QUERY;
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_FOUND);
	cr_assert_eq(job.sequence, seq);
	cr_assert_arr_eq(job.result, first, first_len);
	snprintf(job.key, sizeof(job.key), "UNKNOWN");
	cr_assert_eq(tpc_worker_process(r, shard, &cfg, &job), 1);
	cr_assert_eq(job.status, TPC_JOB_FAILED);
	cr_assert_str_eq(job.fail_code, TPC_CODE_UNKNOWN_KEY);
	cr_assert_eq(tpc_metrics_get(metrics, TPC_M_queries), 2);

	stop_ledger(&l, &r, &in, &done);
	free(first);
	tpc_test_rmtree(dir);
	free(dir);
}
