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
	crypto_generichash(hash, sizeof(hash), zmq_msg_data(&job.payload),
	                   zmq_msg_size(&job.payload), NULL, 0);
	cr_assert_arr_eq(job.hash, hash, TPC_HASH_LEN, "hash is BLAKE2b-256 of the payload");
	cr_assert_eq(job.sending.ninvoices, 2);
	cr_assert_eq(job.sending.nlines, 6);
	cr_assert_eq(job.lines_accepted, 5);
	cr_assert_eq(job.lines_refused, 1);
	cr_assert_null(job.native.ptr, "canonical has no native answer");

	r = unpack_result();
	cr_assert_str_eq(r->sender, "hospital-a");
	cr_assert_str_eq(r->key, "K-1");
	cr_assert_str_eq(r->format, "canonical");
	cr_assert_arr_eq(r->payload_hash.data, hash, TPC_HASH_LEN);
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
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/ledger", dir);
	cr_assert_eq(tpc_writer_open(&cfg, metrics, &l), 0);
	cr_assert_eq(tpc_store_reader_new(tpc_writer_store(l), &r), 0);
	cr_assert_eq(tpc_queue_new(0, 0, &in), 0);
	cr_assert_eq(tpc_queue_new(0, 0, &done), 0);
	cr_assert_eq(tpc_writer_start(l, in, done), 0);

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

	tpc_queue_close(in);
	tpc_writer_join(l);
	tpc_store_reader_free(&r);
	tpc_writer_free(&l);
	tpc_queue_free(&in);
	tpc_queue_free(&done);
	free(first);
	tpc_test_rmtree(dir);
	free(dir);
}
