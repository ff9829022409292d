/* engine/pipeline/result.c - packing answers (see result.h).
 *
 * Two halves. tpc_result_pack() runs on a worker once per sending and packs the Result into
 * the job's arena: it is stored as is (docs/architecture.md, "Result framing without
 * re-encoding") and every protobuf-c structure it builds points into the arena or into
 * static strings, so nothing is freed one by one. The framing functions run on the loop thread
 * when the answer goes out, and add only what is known after the commit. */
#include "pipeline/result.h"

#include "clearing/budget.h"

#include "core/codes.h"
#include "core/error.h"
#include "core/utf8.h"
#include "clearing/tariff.h"
#include "tpclear.pb-c.h"

#include <string.h>

/* The engine's own tables first (T-codes, then the clearing's official codes), the adapter's
 * last: those two need no adapter, so a finding keeps its reason even when a == NULL. A code
 * nobody knows gets "", never NULL: callers put the reason straight into a string field. */
const char *tpc_result_reason(const tpc_adapter_t *a, const void *state, const char *code)
{
	const char *r = tpc_codes_describe(code);

	if (!r)
		r = tpc_tariff_describe(code);
	if (!r && a)
		r = a->describe(state, code);
	return r ? r : "";
}

/* Views point into the payload and are not NUL-terminated; protobuf-c wants C strings, so
 * each becomes a copy in the arena (the payload and the arena die together anyway). */
static char *view_str(tpc_arena_t *arena, tpc_view_t v)
{
	return tpc_arena_strndup(arena, v.ptr ? v.ptr : "", v.len);
}

static int pack_findings(tpc_arena_t *arena, const tpc_adapter_t *a, const void *state,
                         const tpc_finding_t *f, size_t n, Tpclear__Finding ***out, size_t *nout)
{
	Tpclear__Finding **arr;

	*out = NULL;
	*nout = 0;
	if (!n)
		return 0;
	arr = tpc_arena_alloc(arena, n * sizeof(*arr), 8);
	if (!arr)
		return TPC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* the letter is a one-character string in the proto; zeroed memory ends it */
		Tpclear__Finding *x = tpc_arena_alloc(arena, sizeof(*x), 8);
		char *letter = tpc_arena_alloc(arena, 2, 1);

		if (!x || !letter)
			return TPC_ENOMEM;
		tpclear__finding__init(x);
		letter[0] = f[i].letter;
		x->code = (char *)f[i].code;
		x->letter = letter;
		x->record = f[i].record;
		x->pos = f[i].pos;
		x->len = f[i].len;
		x->reason = (char *)tpc_result_reason(a, state, f[i].code);
		arr[i] = x;
	}
	*out = arr;
	*nout = n;
	return 0;
}

static Tpclear__Outcome outcome_of(uint8_t o)
{
	return o == TPC_OUTCOME_ACCEPTED  ? TPCLEAR__OUTCOME__OUTCOME_ACCEPTED
	       : o == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	                                  : TPCLEAR__OUTCOME__OUTCOME_PENDING;
}

/* Sequence, committed_at and replay are deliberately left unset (0: proto3 does not write
 * them), because they are not known yet: tpc_answer_result() appends them at send time. The
 * sending's outcome is derived here from the lines, as clear.c judged them: refused whole,
 * partial when any line was refused, accepted otherwise. Every allocation fails as TPC_ENOMEM
 * from the arena's bound, which the worker reports as T00013 (over the memory bound). */
int tpc_result_pack(tpc_job_t *job, const tpc_adapter_t *a, const void *state)
{
	tpc_arena_t *arena = job->arena;
	tpc_sending_t *s = &job->sending;
	Tpclear__Result r = TPCLEAR__RESULT__INIT;
	uint32_t lines_ok = 0, lines_ko = 0;
	uint8_t *buf;
	size_t len;

	r.sender = job->sender;
	r.key = job->key;
	r.format = (char *)a->name;
	r.payload_hash.data = job->hash;
	r.payload_hash.len = job->hash_len; /* 16: XXH3-128, 32: BLAKE2b-256 (docs/protocol.md) */
	r.invoices = s->ninvoices;
	r.lines = s->nlines;
	r.accepted_cents = s->accepted_cents;
	r.refused_cents = s->refused_cents;
	r.native_type = job->native.ptr ? job->native.type : "";
	if (pack_findings(arena, a, state, s->findings, s->nfindings, &r.findings, &r.n_findings))
		return TPC_ENOMEM;
	if (s->ninvoices) {
		r.invoice_results = tpc_arena_alloc(arena, s->ninvoices * sizeof(void *), 8);
		if (!r.invoice_results)
			return TPC_ENOMEM;
		r.n_invoice_results = s->ninvoices;
	}
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		Tpclear__InvoiceResult *ir = tpc_arena_alloc(arena, sizeof(*ir), 8);

		if (!ir)
			return TPC_ENOMEM;
		tpclear__invoice_result__init(ir);
		ir->record = inv->record;
		ir->patient = view_str(arena, inv->patient);
		ir->provider = view_str(arena, inv->provider);
		ir->number = view_str(arena, inv->number);
		if (!ir->patient || !ir->provider || !ir->number)
			return TPC_ENOMEM;
		ir->outcome = outcome_of(inv->outcome);
		ir->accepted_cents = inv->accepted_cents;
		ir->refused_cents = inv->refused_cents;
		if (pack_findings(arena, a, state, inv->findings, inv->nfindings, &ir->findings,
		                  &ir->n_findings))
			return TPC_ENOMEM;
		if (inv->nlines) {
			Tpclear__LineResult *lr =
			    tpc_arena_alloc(arena, inv->nlines * sizeof(*lr), 8);
			ir->lines = tpc_arena_alloc(arena, inv->nlines * sizeof(void *), 8);
			if (!lr || !ir->lines)
				return TPC_ENOMEM;
			ir->n_lines = inv->nlines;
			for (uint32_t k = 0; k < inv->nlines; k++) {
				const tpc_line_t *ln = &s->lines[inv->first_line + k];

				tpclear__line_result__init(&lr[k]);
				lr[k].record = ln->record;
				lr[k].code = (char *)ln->code;
				lr[k].date = ln->date_first;
				lr[k].units = ln->units;
				lr[k].outcome = outcome_of(ln->outcome);
				lr[k].insurer_cents = ln->insurer_cents;
				lr[k].patient_cents = ln->patient_cents;
				lr[k].expected_insurer_cents = ln->expected_insurer_cents;
				lr[k].expected_patient_cents = ln->expected_patient_cents;
				lr[k].accepted_cents = ln->accepted_cents;
				lr[k].scheme = (char *)tpc_scheme_name(ln->scheme);
				lr[k].budget = ln->outcome == TPC_OUTCOME_ACCEPTED
				                   ? (char *)tpc_budget_name(ln->budget)
				                   : "";
				if (ln->outcome == TPC_OUTCOME_ACCEPTED && ln->share_budget) {
					lr[k].share_budget =
					    (char *)tpc_budget_name(ln->share_budget);
					lr[k].share_cents = ln->patient_cents;
				}
				lr[k].scheme_ref = (char *)(ln->scheme_ref ? ln->scheme_ref : "");
				if (pack_findings(arena, a, state, ln->findings, ln->nfindings,
				                  &lr[k].findings, &lr[k].n_findings))
					return TPC_ENOMEM;
				if (ln->outcome == TPC_OUTCOME_ACCEPTED)
					lines_ok++;
				else
					lines_ko++;
				ir->lines[k] = &lr[k];
			}
		}
		r.invoice_results[i] = ir;
	}
	r.lines_accepted = lines_ok;
	r.lines_refused = lines_ko;
	if (s->outcome == TPC_OUTCOME_REFUSED)
		r.outcome = TPCLEAR__OUTCOME__OUTCOME_REFUSED;
	else if (lines_ko)
		r.outcome = TPCLEAR__OUTCOME__OUTCOME_PARTIAL;
	else
		r.outcome = TPCLEAR__OUTCOME__OUTCOME_ACCEPTED;
	/* the patient, provider and number views, a line's code: the sender's bytes, which an
	 * eFact file may carry in any encoding (core/utf8.h) */
	if (tpc_utf8_fix_message(&r.base, tpc_arena_host_alloc, arena))
		return TPC_ENOMEM;
	len = tpclear__result__get_packed_size(&r);
	buf = tpc_arena_alloc_uninit(arena, len ? len : 1, 8); /* packed whole just below */
	if (!buf)
		return TPC_ENOMEM;
	tpclear__result__pack(&r, buf);
	job->result = buf;
	job->result_len = len;
	return 0;
}

/* ---- framing ------------------------------------------------------------------------------- */

/* The stored Result is sent without unpacking it: the Answer around it is written by hand
 * (field 4, length-delimited), and the fields only the commit knows go after the stored bytes
 * inside the same length. Protobuf merges a message's fields in any order and keeps the last
 * value of a scalar, so a reader sees one Result with them set. */

/* Base-128 varint, low group first (the protobuf wire format); at most 10 bytes for a u64. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t tpc_answer_result_size(size_t result_len)
{
	/* Answer: version (2) + correlation (11) + result tag and length (1 + 10)
	 * Suffix: sequence (11) + committed_at (11) + replay (3) */
	return result_len + 64;
}

size_t tpc_answer_result(uint64_t correlation, const uint8_t *result, size_t len, uint64_t sequence,
                         uint64_t committed_ms, int replay, uint8_t *buf)
{
	uint8_t suffix[32];
	size_t sn = 0, n = 0;

	/* Result fields 6 (sequence), 7 (committed_at), 16 (replay); wire type 0 (varint). A tag
	 * below 16 fits one byte; field 16's tag is 128 and needs the varint form. replay is
	 * written only when true, as proto3 would. */
	suffix[sn++] = (6 << 3) | 0;
	sn += put_varint(suffix + sn, sequence);
	suffix[sn++] = (7 << 3) | 0;
	sn += put_varint(suffix + sn, committed_ms);
	if (replay) {
		sn += put_varint(suffix + sn, (16 << 3) | 0);
		suffix[sn++] = 1;
	}
	buf[n++] = (1 << 3) | 0; /* Answer.version = 1 */
	buf[n++] = 1;
	buf[n++] = (2 << 3) | 0; /* Answer.correlation */
	n += put_varint(buf + n, correlation);
	buf[n++] = (4 << 3) | 2; /* Answer.result */
	/* the length covers the stored bytes and the suffix: both are one Result to the reader */
	n += put_varint(buf + n, len + sn);
	if (len)
		memcpy(buf + n, result, len);
	n += len;
	memcpy(buf + n, suffix, sn);
	return n + sn;
}

/* The escaped copies of a receipt's or a conflict's strings (core/utf8.h), on the packer's
 * stack: these answers are a few hundred bytes, and the loop thread packs them without malloc.
 */
struct bump {
	char buf[2048];
	size_t used;
};

static void *bump_alloc(void *ctx, size_t size, size_t align)
{
	struct bump *b = ctx;

	(void)align; /* strings only: any address will do */
	if (size > sizeof(b->buf) - b->used)
		return NULL;
	b->used += size;
	return b->buf + b->used - size;
}

/* Pack @p ans into @p buf once its strings are valid UTF-8; 0 when they cannot be made so in
 * the bump buffer or the answer does not fit @p cap (nothing is sent rather than a cut
 * message). */
static size_t pack_small(Tpclear__Answer *ans, uint8_t *buf, size_t cap)
{
	struct bump b = {.used = 0};

	if (tpc_utf8_fix_message(&ans->base, bump_alloc, &b) != 0 ||
	    tpclear__answer__get_packed_size(ans) > cap)
		return 0;
	return tpclear__answer__pack(ans, buf);
}

/* Receipts and conflicts are small and rare enough to pack normally, into the caller's stack
 * buffer. */
size_t tpc_answer_receipt(uint64_t correlation, int status, const char *code, const char *reason,
                          uint32_t retry_after_ms, const char *key, uint8_t *buf, size_t cap)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__Receipt rc = TPCLEAR__RECEIPT__INIT;

	rc.status = (Tpclear__ReceiptStatus)status;
	rc.code = (char *)(code ? code : "");
	rc.reason = (char *)(reason ? reason : "");
	rc.retry_after_ms = retry_after_ms;
	rc.key = (char *)(key ? key : "");
	ans.version = 1;
	ans.correlation = correlation;
	ans.body_case = TPCLEAR__ANSWER__BODY_RECEIPT;
	ans.receipt = &rc;
	return pack_small(&ans, buf, cap);
}

size_t tpc_answer_conflict(uint64_t correlation, const char *key, const uint8_t *stored_hash,
                           const uint8_t *payload_hash, size_t hash_len, uint64_t sequence,
                           uint8_t *buf, size_t cap)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__Conflict c = TPCLEAR__CONFLICT__INIT;

	c.key = (char *)key;
	c.stored_hash.data = (uint8_t *)stored_hash;
	c.stored_hash.len = hash_len;
	c.payload_hash.data = (uint8_t *)payload_hash;
	c.payload_hash.len = hash_len;
	c.sequence = sequence;
	c.reason = "idempotency key already used for a different payload; nothing changed";
	ans.version = 1;
	ans.correlation = correlation;
	ans.body_case = TPCLEAR__ANSWER__BODY_CONFLICT;
	ans.conflict = &c;
	return pack_small(&ans, buf, cap);
}
