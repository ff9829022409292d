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
#include "clearing/budget.h"
#include "clearing/clear.h"
#include "clearing/schemes.h"
#include "core/codes.h"
#include "core/utf8.h"
#include "efact/efact.h"
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

/* ---- the hand packer against protobuf-c -------------------------------------------------------
 *
 * result.c writes the Result's bytes itself. The reference below is the code it replaced: the
 * Result built as protobuf-c structures, every string made valid by tpc_utf8_fix_message(),
 * packed by tpclear__result__pack(). Both must give the same bytes, byte for byte: the stored
 * answers, their checksums and what clients parse depend on it. */

static char *ref_view(tpc_arena_t *arena, tpc_view_t v)
{
	return tpc_arena_strndup(arena, v.ptr ? v.ptr : "", v.len);
}

static void ref_findings(tpc_arena_t *arena, const tpc_adapter_t *a, const tpc_finding_t *f,
                         size_t n, Tpclear__Finding ***out, size_t *nout)
{
	Tpclear__Finding **arr = n ? tpc_arena_alloc(arena, n * sizeof(*arr), 8) : NULL;

	for (size_t i = 0; i < n; i++) {
		Tpclear__Finding *x = tpc_arena_alloc(arena, sizeof(*x), 8);
		char *letter = tpc_arena_alloc(arena, 2, 1);

		cr_assert(x && letter);
		tpclear__finding__init(x);
		letter[0] = f[i].letter;
		x->code = (char *)f[i].code;
		x->letter = letter;
		x->record = f[i].record;
		x->pos = f[i].pos;
		x->len = f[i].len;
		x->reason = (char *)tpc_result_reason(a, NULL, f[i].code);
		arr[i] = x;
	}
	*out = arr;
	*nout = n;
}

static Tpclear__Outcome ref_outcome(uint8_t o)
{
	return o == TPC_OUTCOME_ACCEPTED  ? TPCLEAR__OUTCOME__OUTCOME_ACCEPTED
	       : o == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	                                  : TPCLEAR__OUTCOME__OUTCOME_PENDING;
}

static void ref_line(tpc_arena_t *arena, const tpc_adapter_t *a, const tpc_line_t *ln,
                     Tpclear__LineResult *lr)
{
	int ok = ln->outcome == TPC_OUTCOME_ACCEPTED;

	tpclear__line_result__init(lr);
	lr->record = ln->record;
	lr->code = (char *)ln->code;
	lr->date = ln->date_first;
	lr->units = ln->units;
	lr->outcome = ref_outcome(ln->outcome);
	lr->insurer_cents = ln->insurer_cents;
	lr->patient_cents = ln->patient_cents;
	lr->expected_insurer_cents = ln->expected_insurer_cents;
	lr->expected_patient_cents = ln->expected_patient_cents;
	lr->accepted_cents = ln->accepted_cents;
	lr->scheme = (char *)tpc_scheme_name(ln->scheme);
	lr->budget = ok ? (char *)tpc_budget_name(ln->budget) : "";
	if (ok && ln->share_budget) {
		lr->share_budget = (char *)tpc_budget_name(ln->share_budget);
		lr->share_cents = ln->patient_cents;
	}
	lr->scheme_ref = (char *)(ln->scheme_ref ? ln->scheme_ref : "");
	ref_findings(arena, a, ln->findings, ln->nfindings, &lr->findings, &lr->n_findings);
}

/* The Result of job.sending as protobuf-c packs it, in malloc'd memory (*len bytes). */
static uint8_t *ref_pack(const tpc_adapter_t *a, size_t *len)
{
	tpc_arena_t *arena = job.arena;
	tpc_sending_t *s = &job.sending;
	Tpclear__Result r = TPCLEAR__RESULT__INIT;
	uint32_t ok = 0, ko = 0;
	uint8_t *buf;

	r.sender = job.sender;
	r.key = job.key;
	r.format = (char *)a->name;
	r.payload_hash.data = job.hash;
	r.payload_hash.len = job.hash_len;
	r.invoices = s->ninvoices;
	r.lines = s->nlines;
	r.accepted_cents = s->accepted_cents;
	r.refused_cents = s->refused_cents;
	r.native_type = job.native.ptr ? job.native.type : "";
	ref_findings(arena, a, s->findings, s->nfindings, &r.findings, &r.n_findings);
	r.n_invoice_results = s->ninvoices;
	r.invoice_results = tpc_arena_alloc(arena, (s->ninvoices + 1) * sizeof(void *), 8);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		Tpclear__InvoiceResult *ir = tpc_arena_alloc(arena, sizeof(*ir), 8);

		tpclear__invoice_result__init(ir);
		ir->record = inv->record;
		ir->patient = ref_view(arena, inv->patient);
		ir->provider = ref_view(arena, inv->provider);
		ir->number = ref_view(arena, inv->number);
		ir->outcome = ref_outcome(inv->outcome);
		ir->accepted_cents = inv->accepted_cents;
		ir->refused_cents = inv->refused_cents;
		ref_findings(arena, a, inv->findings, inv->nfindings, &ir->findings,
		             &ir->n_findings);
		ir->n_lines = inv->nlines;
		ir->lines = tpc_arena_alloc(arena, (inv->nlines + 1) * sizeof(void *), 8);
		for (uint32_t k = 0; k < inv->nlines; k++) {
			const tpc_line_t *ln = &s->lines[inv->first_line + k];

			ir->lines[k] = tpc_arena_alloc(arena, sizeof(Tpclear__LineResult), 8);
			ref_line(arena, a, ln, ir->lines[k]);
			if (ln->outcome == TPC_OUTCOME_ACCEPTED)
				ok++;
			else
				ko++;
		}
		r.invoice_results[i] = ir;
	}
	r.lines_accepted = ok;
	r.lines_refused = ko;
	r.outcome = s->outcome == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	            : ko                              ? TPCLEAR__OUTCOME__OUTCOME_PARTIAL
	                                              : TPCLEAR__OUTCOME__OUTCOME_ACCEPTED;
	cr_assert_eq(tpc_utf8_fix_message(&r.base, tpc_arena_host_alloc, arena), 0);
	*len = tpclear__result__get_packed_size(&r);
	buf = malloc(*len + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(tpclear__result__pack(&r, buf), *len);
	return buf;
}

/* Pack job.sending both ways and compare; @p what names the case in a failure. */
static void expect_same_bytes(const tpc_adapter_t *a, const char *what)
{
	size_t len, at = 0;
	uint8_t *ref = ref_pack(a, &len);

	cr_assert_eq(tpc_result_pack(&job, a, NULL), 0, "%s", what);
	while (at < len && at < job.result_len && ref[at] == job.result[at])
		at++;
	cr_assert(job.result_len == len && at == len,
	          "%s: %zu bytes against protobuf-c's %zu, first difference at byte %zu", what,
	          job.result_len, len, at);
	free(ref);
}

/* A small PRNG (xorshift64*): the cases are the same on every run. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

/* Values at the edges of each wire form: zero (not written), one byte, the varint boundaries,
 * negatives (ten bytes, int32 sign-extended) and the extremes. */
static int64_t edgy(uint64_t *x)
{
	static const int64_t v[] = {0,         1,       -1,          127,       128,
	                            16383,     16384,   -2147483647, INT32_MAX, INT64_MAX,
	                            INT64_MIN, 1234567, -98765,      1LL << 35, (1LL << 49) - 1};

	return v[rnd(x) % (sizeof(v) / sizeof(v[0]))];
}

/* Bytes a sender might put in a zone: ASCII, valid UTF-8, broken sequences, a NUL inside. */
static tpc_view_t messy(tpc_arena_t *arena, uint64_t *x)
{
	static const char *const v[] = {"86103130262",
	                                "",
	                                "Brûlé",
	                                "\xff\xfe",
	                                "ab\xc3",
	                                "x\0y",
	                                "\xe2\x82\xac 12345678901234567890 \xed\xa0\x80",
	                                "12345678"};
	static const uint32_t lens[] = {11, 0, 7, 2, 3, 3, 28, 8};
	unsigned i = (unsigned)(rnd(x) % 8);
	char *p = tpc_arena_alloc(arena, lens[i] + 1, 1);

	memcpy(p, v[i], lens[i]);
	return (tpc_view_t){p, lens[i]};
}

static void random_finding(tpc_finding_t *f, uint64_t *x)
{
	static const char *const codes[] = {"500402", TPC_CODE_INTERNAL, "201140", "99999\xff", ""};
	static const char letters[] = {'R', 'E', 'B', 0, (char)0xE9};

	memset(f, 0, sizeof(*f));
	snprintf(f->code, sizeof(f->code), "%s", codes[rnd(x) % 5]);
	f->letter = letters[rnd(x) % 5];
	f->record = (uint32_t)edgy(x);
	f->pos = (uint16_t)edgy(x);
	f->len = (uint16_t)(rnd(x) % 400);
}

/* Every field of job.sending at random from the edges above. */
static void scramble(uint64_t *x)
{
	tpc_sending_t *s = &job.sending;
	static const char *const refs[] = {NULL, "", "DEC-2024-001", "prison \xc3\xa0 Haren",
	                                   "\x80 broken"};

	s->outcome = (uint8_t)(rnd(x) % 3);
	s->accepted_cents = edgy(x);
	s->refused_cents = edgy(x);
	s->nfindings = (uint32_t)(rnd(x) % 3);
	for (uint32_t i = 0; i < s->nfindings; i++)
		random_finding(&s->findings[i], x);
	job.hash_len = rnd(x) % 3 == 0 ? 32 : 16;
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		tpc_invoice_t *inv = &s->invoices[i];

		inv->record = (uint32_t)edgy(x);
		inv->patient = messy(job.arena, x);
		inv->provider = rnd(x) % 4 ? messy(job.arena, x) : (tpc_view_t){NULL, 0};
		inv->number = messy(job.arena, x);
		inv->outcome = (uint8_t)(rnd(x) % 3);
		inv->accepted_cents = edgy(x);
		inv->refused_cents = edgy(x);
		inv->nfindings = (uint8_t)(rnd(x) % (TPC_MAX_FINDINGS + 1));
		for (unsigned k = 0; k < inv->nfindings; k++)
			random_finding(&inv->findings[k], x);
	}
	for (uint32_t i = 0; i < s->nlines; i++) {
		tpc_line_t *ln = &s->lines[i];

		ln->record = (uint32_t)edgy(x);
		snprintf(ln->code, sizeof(ln->code), "%s", rnd(x) % 5 ? "101032" : "\xf5\x01xyz");
		ln->date_first = (int32_t)edgy(x);
		ln->units = (int32_t)edgy(x);
		ln->outcome = (uint8_t)(rnd(x) % 3);
		ln->insurer_cents = edgy(x);
		ln->patient_cents = edgy(x);
		ln->expected_insurer_cents = edgy(x);
		ln->expected_patient_cents = edgy(x);
		ln->accepted_cents = edgy(x);
		ln->scheme = (uint16_t)(rnd(x) % (TPC_SCHEME__COUNT + 1));
		ln->budget = (uint8_t)(rnd(x) % (TPC_BUDGET__COUNT + 1));
		ln->share_budget = (uint8_t)(rnd(x) % (TPC_BUDGET__COUNT + 1));
		ln->scheme_ref = refs[rnd(x) % 5];
		ln->nfindings = (uint8_t)(rnd(x) % (TPC_MAX_FINDINGS + 1));
		for (unsigned k = 0; k < ln->nfindings; k++)
			random_finding(&ln->findings[k], x);
	}
	if (rnd(x) % 2) {
		static const uint8_t native[] = "answer";

		job.native.ptr = native;
		job.native.len = sizeof(native);
		snprintf(job.native.type, sizeof(job.native.type), "%s",
		         rnd(x) % 4 ? "920098" : "92\xff");
	} else {
		job.native.ptr = NULL;
	}
}

Test(result, hand_packer_writes_protobuf_c_bytes_on_every_edge)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char what[64];

	build(4);
	expect_same_bytes(&tpc_canonical_adapter, "the judged sample");
	for (int round = 0; round < 2000; round++) {
		scramble(&x);
		if (round % 7 == 0)
			snprintf(job.key, sizeof(job.key), "%s", round % 2 ? "" : "k\xc3\x28");
		snprintf(what, sizeof(what), "round %d", round);
		expect_same_bytes(round % 2 ? &tpc_efact_adapter : &tpc_canonical_adapter, what);
	}
}

Test(result, hand_packer_writes_protobuf_c_bytes_for_real_efact_files)
{
	static const char *files[] = {
	    "tests/data/efact/clean.920000", "tests/data/efact/faults.920000",
	    "config/samples/sample-hospital.920000", "config/samples/sample-faults.920000",
	    "config/samples/sample-schemes.920000"};
	tpc_host_t host = {tpc_arena_host_alloc, NULL, 0, 0, tpc_arena_host_alloc_uninit};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *p = tpc_test_slurp(tpc_test_src(files[i]), &len);

		cr_assert_not_null(p, "%s", files[i]);
		tpc_arena_reset(job.arena);
		host.arena = job.arena;
		memset(&job.sending, 0, sizeof(job.sending));
		cr_assert_eq(tpc_efact_adapter.decode(NULL, p, len, &host, &job.sending), 0);
		tpc_clear_judge(&job.sending, NULL);
		expect_same_bytes(&tpc_efact_adapter, files[i]);
		free(p);
	}
}

static const char *type_name(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
		return "int32";
	case PROTOBUF_C_TYPE_INT64:
		return "int64";
	case PROTOBUF_C_TYPE_UINT32:
		return "uint32";
	case PROTOBUF_C_TYPE_UINT64:
		return "uint64";
	case PROTOBUF_C_TYPE_BOOL:
		return "bool";
	case PROTOBUF_C_TYPE_ENUM:
		return "enum";
	case PROTOBUF_C_TYPE_STRING:
		return "string";
	case PROTOBUF_C_TYPE_BYTES:
		return "bytes";
	case PROTOBUF_C_TYPE_MESSAGE:
		return "message";
	default:
		return "other";
	}
}

/* The packer knows each message's fields by number and wire form: a field added to (or changed
 * in) tpclear.proto must be added to result.c too, and this test says so. */
Test(result, hand_packer_knows_every_field_of_the_proto)
{
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *fields; /* "number:name:type" in number order; "+" marks repeated */
	} msgs[] = {
	    {&tpclear__finding__descriptor, "1:code:string 2:letter:string 3:record:uint32 "
	                                    "4:pos:uint32 5:len:uint32 6:reason:string "},
	    {&tpclear__line_result__descriptor,
	     "1:record:uint32 2:code:string 3:date:int32 4:units:int32 5:outcome:enum "
	     "6:insurer_cents:int64 7:patient_cents:int64 8:expected_insurer_cents:int64 "
	     "9:expected_patient_cents:int64 10:accepted_cents:int64 11:scheme:string "
	     "12:findings:message+ 13:budget:string 14:share_budget:string 15:share_cents:int64 "
	     "16:scheme_ref:string "},
	    {&tpclear__invoice_result__descriptor,
	     "1:record:uint32 2:patient:string 3:provider:string 4:number:string 5:outcome:enum "
	     "6:accepted_cents:int64 7:refused_cents:int64 8:findings:message+ "
	     "9:lines:message+ "},
	    {&tpclear__result__descriptor,
	     "1:sender:string 2:key:string 3:format:string 4:outcome:enum 5:payload_hash:bytes "
	     "6:sequence:uint64 7:committed_at:uint64 8:invoices:uint32 9:lines:uint32 "
	     "10:lines_accepted:uint32 11:lines_refused:uint32 12:accepted_cents:int64 "
	     "13:refused_cents:int64 14:findings:message+ 15:invoice_results:message+ "
	     "16:replay:bool 17:native_type:string "},
	};

	for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		char got[1024];
		size_t n = 0;

		for (unsigned i = 0; i < msgs[m].d->n_fields; i++) {
			const ProtobufCFieldDescriptor *f = &msgs[m].d->fields[i];

			n += (size_t)snprintf(got + n, sizeof(got) - n, "%u:%s:%s%s ", f->id,
			                      f->name, type_name(f->type),
			                      f->label == PROTOBUF_C_LABEL_REPEATED ? "+" : "");
		}
		cr_assert_str_eq(got, msgs[m].fields,
		                 "tpclear.%s changed: update result.c's packer and this list",
		                 msgs[m].d->name);
	}
}
