/* tests/unit/pipeline/test_result.c - packing Results and framing Answers
 * (engine/pipeline/result.c).
 *
 * Everything packed by the engine is read back with the protobuf-c unpackers generated from
 * proto/tpclear.proto, i.e. as a client would.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "canonical/canonical.h"
#include "clearing/clear.h"
#include "core/codes.h"
#include "pipeline/job.h"
#include "pipeline/result.h"
#include "testutil.h"
#include "tpclear.pb-c.h"

static tpc_job_t job;

static void setup(void)
{
	memset(&job, 0, sizeof(job));
	cr_assert_eq(tpc_arena_new(4096, 0, &job.arena), 0);
	snprintf(job.sender, sizeof(job.sender), "hospital-a");
	snprintf(job.key, sizeof(job.key), "12345678901234");
	for (int i = 0; i < TPC_HASH_LEN; i++)
		job.hash[i] = (uint8_t)(i * 7);
	job.hash_len = TPC_HASH_LEN;
}

static void teardown(void)
{
	tpc_arena_free(&job.arena);
}

TestSuite(result, .init = setup, .fini = teardown, .timeout = 60);

static tpc_view_t view(const char *s)
{
	return (tpc_view_t){s, (uint32_t)strlen(s)};
}

static tpc_finding_t finding(const char *code, char letter, uint32_t record, uint16_t pos)
{
	tpc_finding_t f;

	memset(&f, 0, sizeof(f));
	memcpy(f.code, code, 6);
	f.letter = letter;
	f.record = record;
	f.pos = pos;
	f.len = 3;
	return f;
}

/* Two invoices in job.arena: invoice 0 has three lines, line 1 refused by an R finding;
 * invoice 1 has @p nlines1 lines and an E signal. One sending-level finding (T00016, an own
 * code). Judged. */
static void build(uint32_t nlines1)
{
	tpc_sending_t *s = &job.sending;
	uint32_t n = 3 + nlines1;

	s->ninvoices = 2;
	s->invoices = tpc_arena_alloc(job.arena, 2 * sizeof(tpc_invoice_t), 8);
	s->nlines = n;
	s->lines = tpc_arena_alloc(job.arena, n * sizeof(tpc_line_t), 8);
	s->findings = tpc_arena_alloc(job.arena, 4 * sizeof(tpc_finding_t), 8);
	cr_assert(s->invoices && s->lines && s->findings);
	s->findings_cap = 4;
	s->findings[s->nfindings++] = finding(TPC_CODE_INTERNAL, 'E', 0, 0);

	tpc_invoice_t *a = &s->invoices[0], *b = &s->invoices[1];
	a->record = 1;
	a->patient = view("86103130262");
	a->provider = view("18334780004");
	a->number = view("INV-1");
	a->first_line = 0;
	a->nlines = 3;
	b->record = 5;
	b->patient = view("05031412595");
	b->provider = view("17385467004");
	b->number = view("INV-2");
	b->first_line = 3;
	b->nlines = nlines1;
	b->findings[b->nfindings++] = finding("201140", 'E', 5, 5);
	for (uint32_t i = 0; i < n; i++) {
		tpc_line_t *ln = &s->lines[i];

		ln->record = i < 3 ? 2 + i : 6 + (i - 3);
		memcpy(ln->code, i % 2 ? "102771" : "101032", 7);
		ln->date_first = 19732 + (int32_t)i;
		ln->date_last = ln->date_first;
		ln->units = 1 + (int32_t)(i % 3);
		ln->insurer_cents = 1000 * (int64_t)(i + 1);
		ln->patient_cents = 250;
		ln->expected_insurer_cents = ln->insurer_cents;
		ln->expected_patient_cents = 250;
	}
	s->lines[1].findings[s->lines[1].nfindings++] = finding("500402", 'R', 3, 1);
	tpc_clear_judge(s, NULL);
}

static Tpclear__Result *pack_and_unpack(void)
{
	Tpclear__Result *r;

	cr_assert_eq(tpc_result_pack(&job, &tpc_canonical_adapter, NULL), 0);
	cr_assert_not_null(job.result);
	cr_assert_gt(job.result_len, 0);
	r = tpclear__result__unpack(NULL, job.result_len, job.result);
	cr_assert_not_null(r, "the packed Result does not parse");
	return r;
}

Test(result, pack_round_trips_counts_amounts_and_findings)
{
	Tpclear__Result *r;

	build(2);
	r = pack_and_unpack();
	cr_assert_str_eq(r->sender, "hospital-a");
	cr_assert_str_eq(r->key, "12345678901234");
	cr_assert_str_eq(r->format, "canonical");
	cr_assert_eq(r->payload_hash.len, TPC_HASH_LEN);
	cr_assert_arr_eq(r->payload_hash.data, job.hash, TPC_HASH_LEN);
	/* partial: one line refused; insurer amounts 1000..5000, line 1 (2000) refused */
	tpc_test_expect_totals(
	    r, (tpc_test_totals_t){TPCLEAR__OUTCOME__OUTCOME_PARTIAL, 2, 5, 4, 1, 13000, 2000});
	cr_assert_eq(r->sequence, 0, "ledger fields are appended later");
	cr_assert_eq(r->committed_at, 0);
	cr_assert_not(r->replay);
	cr_assert_str_eq(r->native_type, "");

	/* sending-level finding: an own code, described by tpclear's table */
	cr_assert_eq(r->n_findings, 1);
	cr_assert_str_eq(r->findings[0]->code, TPC_CODE_INTERNAL);
	cr_assert_str_eq(r->findings[0]->letter, "E");
	cr_assert_str_eq(r->findings[0]->reason, tpc_codes_describe(TPC_CODE_INTERNAL));

	cr_assert_eq(r->n_invoice_results, 2);
	Tpclear__InvoiceResult *a = r->invoice_results[0], *b = r->invoice_results[1];
	cr_assert_eq(a->record, 1);
	cr_assert_str_eq(a->patient, "86103130262");
	cr_assert_str_eq(a->provider, "18334780004");
	cr_assert_str_eq(a->number, "INV-1");
	cr_assert_eq(a->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(a->accepted_cents, 4000);
	cr_assert_eq(a->refused_cents, 2000);
	cr_assert_eq(a->n_findings, 0);
	cr_assert_eq(a->n_lines, 3);
	cr_assert_eq(b->record, 5);
	cr_assert_str_eq(b->patient, "05031412595");
	cr_assert_eq(b->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(b->accepted_cents, 9000);
	cr_assert_eq(b->n_lines, 2);
	/* invoice finding: an adapter code, described by the adapter */
	cr_assert_eq(b->n_findings, 1);
	cr_assert_str_eq(b->findings[0]->code, "201140");
	cr_assert_str_eq(b->findings[0]->letter, "E");
	cr_assert_eq(b->findings[0]->record, 5);
	cr_assert_eq(b->findings[0]->pos, 5);
	cr_assert_eq(b->findings[0]->len, 3);
	cr_assert_str_eq(b->findings[0]->reason, tpc_canonical_adapter.describe(NULL, "201140"));

	/* lines */
	Tpclear__LineResult *l0 = a->lines[0], *l1 = a->lines[1], *l4 = b->lines[1];
	cr_assert_eq(l0->record, 2);
	cr_assert_str_eq(l0->code, "101032");
	cr_assert_eq(l0->date, 19732);
	cr_assert_eq(l0->units, 1);
	cr_assert_eq(l0->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	cr_assert_eq(l0->insurer_cents, 1000);
	cr_assert_eq(l0->patient_cents, 250);
	cr_assert_eq(l0->expected_insurer_cents, 1000);
	cr_assert_eq(l0->expected_patient_cents, 250);
	cr_assert_eq(l0->accepted_cents, 1000);
	cr_assert_eq(l0->n_findings, 0);
	cr_assert_eq(l1->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_eq(l1->accepted_cents, 0);
	cr_assert_str_eq(l1->code, "102771");
	cr_assert_eq(l1->n_findings, 1);
	cr_assert_str_eq(l1->findings[0]->code, "500402");
	cr_assert_str_eq(l1->findings[0]->letter, "R");
	cr_assert_eq(l1->findings[0]->record, 3);
	cr_assert_str_eq(l1->findings[0]->reason, "nomenclature code missing or check digit wrong");
	cr_assert_eq(l4->record, 7);
	cr_assert_eq(l4->date, 19732 + 4);
	cr_assert_eq(l4->accepted_cents, 5000);
	tpclear__result__free_unpacked(r, NULL);
}

Test(result, refused_sending_packs_as_refused)
{
	Tpclear__Result *r;

	build(2);
	job.sending.blocked = 1;
	tpc_clear_judge(&job.sending, NULL);
	r = pack_and_unpack();
	tpc_test_expect_totals(
	    r, (tpc_test_totals_t){TPCLEAR__OUTCOME__OUTCOME_REFUSED, 2, 5, 0, 5, 0, 15000});
	tpclear__result__free_unpacked(r, NULL);
}

Test(result, unknown_codes_get_an_empty_reason)
{
	cr_assert_str_eq(tpc_result_reason(&tpc_canonical_adapter, NULL, "999999"), "");
	cr_assert_str_eq(tpc_result_reason(NULL, NULL, "999999"), "");
	cr_assert_str_eq(tpc_result_reason(NULL, NULL, TPC_CODE_STORAGE_FULL),
	                 tpc_codes_describe(TPC_CODE_STORAGE_FULL));
}

Test(result, native_type_is_named)
{
	Tpclear__Result *r;
	static const uint8_t native[] = "answer";

	build(1);
	job.native.ptr = native;
	job.native.len = sizeof(native);
	snprintf(job.native.type, sizeof(job.native.type), "920098");
	r = pack_and_unpack();
	cr_assert_str_eq(r->native_type, "920098");
	tpclear__result__free_unpacked(r, NULL);
}

/* Frame job.result and parse the Answer back. */
static Tpclear__Answer *frame(uint64_t correlation, uint64_t seq, uint64_t ms, int replay)
{
	size_t cap = tpc_answer_result_size(job.result_len), n;
	uint8_t *buf = malloc(cap);
	Tpclear__Answer *a;

	cr_assert_not_null(buf);
	n = tpc_answer_result(correlation, job.result, job.result_len, seq, ms, replay, buf);
	cr_assert_gt(n, job.result_len);
	cr_assert_leq(n, cap, "wrote %zu bytes into %zu", n, cap);
	a = tpclear__answer__unpack(NULL, n, buf);
	free(buf);
	cr_assert_not_null(a, "the framed Answer does not parse");
	return a;
}

Test(result, answer_framing_appends_the_ledger_fields)
{
	Tpclear__Answer *a;

	build(2);
	cr_assert_eq(tpc_result_pack(&job, &tpc_canonical_adapter, NULL), 0);
	a = frame(42, 7, 1763856000123ull, 0);
	cr_assert_eq(a->version, 1);
	cr_assert_eq(a->correlation, 42);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->sequence, 7);
	cr_assert_eq(a->result->committed_at, 1763856000123ull);
	cr_assert_not(a->result->replay);
	/* the packed Result is intact under the appended fields */
	cr_assert_str_eq(a->result->key, "12345678901234");
	cr_assert_eq(a->result->lines, 5);
	cr_assert_eq(a->result->n_invoice_results, 2);
	cr_assert_eq(a->result->invoice_results[1]->n_lines, 2);
	tpclear__answer__free_unpacked(a, NULL);

	a = frame(43, 8, 1, 1);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert(a->result->replay, "replay flag lost");
	cr_assert_eq(a->result->sequence, 8);
	tpclear__answer__free_unpacked(a, NULL);
}

Test(result, answer_framing_with_extreme_values_and_a_large_result)
{
	Tpclear__Answer *a;

	build(1000); /* a Result well over 16 KiB */
	cr_assert_eq(tpc_result_pack(&job, &tpc_canonical_adapter, NULL), 0);
	cr_assert_gt(job.result_len, 16 * 1024, "result only %zu bytes", job.result_len);
	a = frame(UINT64_MAX, UINT64_MAX, UINT64_MAX - 1, 1);
	cr_assert_eq(a->correlation, UINT64_MAX);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->sequence, UINT64_MAX);
	cr_assert_eq(a->result->committed_at, UINT64_MAX - 1);
	cr_assert(a->result->replay);
	cr_assert_eq(a->result->lines, 1003);
	cr_assert_eq(a->result->invoice_results[1]->n_lines, 1000);
	tpclear__answer__free_unpacked(a, NULL);

	/* sequences on every varint length boundary */
	for (int bits = 0; bits < 64; bits += 7) {
		uint64_t seq = (uint64_t)1 << bits;

		a = frame(seq - 1, seq, seq + 1, 0);
		cr_assert_eq(a->correlation, seq - 1);
		cr_assert_eq(a->result->sequence, seq, "bits %d", bits);
		cr_assert_eq(a->result->committed_at, seq + 1);
		tpclear__answer__free_unpacked(a, NULL);
	}
}

Test(result, answer_framing_of_an_empty_result)
{
	uint8_t buf[128];
	size_t n;
	Tpclear__Answer *a;

	cr_assert_leq(tpc_answer_result_size(0), sizeof(buf));
	n = tpc_answer_result(5, NULL, 0, 3, 4, 1, buf);
	a = tpclear__answer__unpack(NULL, n, buf);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->sequence, 3);
	cr_assert_eq(a->result->committed_at, 4);
	cr_assert(a->result->replay);
	tpclear__answer__free_unpacked(a, NULL);
}

Test(result, receipt_round_trips)
{
	uint8_t buf[512];
	size_t n;
	Tpclear__Answer *a;

	n = tpc_answer_receipt(77, 2, "T00005", "too large", 250, "K-9", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	a = tpclear__answer__unpack(NULL, n, buf);
	cr_assert_not_null(a);
	cr_assert_eq(a->version, 1);
	cr_assert_eq(a->correlation, 77);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY);
	cr_assert_str_eq(a->receipt->code, "T00005");
	cr_assert_str_eq(a->receipt->reason, "too large");
	cr_assert_eq(a->receipt->retry_after_ms, 250);
	cr_assert_str_eq(a->receipt->key, "K-9");
	tpclear__answer__free_unpacked(a, NULL);

	/* NULL strings are sent as empty ones */
	n = tpc_answer_receipt(1, 0, NULL, NULL, 0, NULL, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	a = tpclear__answer__unpack(NULL, n, buf);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED);
	cr_assert_str_eq(a->receipt->code, "");
	tpclear__answer__free_unpacked(a, NULL);
}

Test(result, conflict_round_trips)
{
	uint8_t buf[512], h1[TPC_HASH_LEN], h2[TPC_HASH_LEN];
	size_t n;
	Tpclear__Answer *a;

	memset(h1, 0xa1, sizeof(h1));
	memset(h2, 0xb2, sizeof(h2));
	n = tpc_answer_conflict(UINT64_MAX, "K-1", h1, h2, TPC_HASH_LEN, 123456789012ull, buf,
	                        sizeof(buf));
	cr_assert_gt(n, 0);
	a = tpclear__answer__unpack(NULL, n, buf);
	cr_assert_not_null(a);
	cr_assert_eq(a->correlation, UINT64_MAX);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_CONFLICT);
	cr_assert_str_eq(a->conflict->key, "K-1");
	cr_assert_eq(a->conflict->stored_hash.len, TPC_HASH_LEN);
	cr_assert_arr_eq(a->conflict->stored_hash.data, h1, TPC_HASH_LEN);
	cr_assert_eq(a->conflict->payload_hash.len, TPC_HASH_LEN);
	cr_assert_arr_eq(a->conflict->payload_hash.data, h2, TPC_HASH_LEN);
	cr_assert_eq(a->conflict->sequence, 123456789012ull);
	cr_assert_gt(strlen(a->conflict->reason), 0);
	tpclear__answer__free_unpacked(a, NULL);
}

Test(result, too_small_buffers_return_zero)
{
	uint8_t buf[512], h[TPC_HASH_LEN] = {0};
	size_t need;

	cr_assert_eq(tpc_answer_receipt(1, 1, "T00001", "bad", 0, "K", buf, 4), 0);
	cr_assert_eq(tpc_answer_receipt(1, 1, "T00001", "bad", 0, "K", buf, 0), 0);
	cr_assert_eq(tpc_answer_conflict(1, "K", h, h, TPC_HASH_LEN, 1, buf, 16), 0);
	/* exactly the packed size is enough */
	need = tpc_answer_receipt(1, 1, "T00001", "bad", 0, "K", buf, sizeof(buf));
	cr_assert_gt(need, 0);
	cr_assert_eq(tpc_answer_receipt(1, 1, "T00001", "bad", 0, "K", buf, need), need);
	cr_assert_eq(tpc_answer_receipt(1, 1, "T00001", "bad", 0, "K", buf, need - 1), 0);
	need = tpc_answer_conflict(1, "K", h, h, TPC_HASH_LEN, 1, buf, sizeof(buf));
	cr_assert_gt(need, 0);
	cr_assert_eq(tpc_answer_conflict(1, "K", h, h, TPC_HASH_LEN, 1, buf, need), need);
	cr_assert_eq(tpc_answer_conflict(1, "K", h, h, TPC_HASH_LEN, 1, buf, need - 1), 0);
}
