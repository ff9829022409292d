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

/* ---- the Result, packed by hand ------------------------------------------------------------
 *
 * The bytes are exactly what protobuf-c's tpclear__result__pack() writes for the structures
 * this file used to build (tests/unit/pipeline/test_result_wire.c packs both ways and compares
 * them, and checks that tpclear.proto's Result, InvoiceResult, LineResult and Finding still
 * have the fields written here): fields in number order, proto3's rule that a zero scalar, an
 * empty string or bytes and a NULL message are not written, int32 and enums sign-extended to
 * ten bytes when negative, every string made valid UTF-8 the way tpc_utf8_fix_message() does
 * (core/utf8.h). protobuf-c reaches that through its descriptors, field by field, and sizes
 * every sub-message once per level it is nested in (a line's size three times); here one pass
 * sizes each line and invoice once, keeping their sizes, and a second writes the bytes into a
 * buffer of the exact size. */

/* A writer: p NULL counts the bytes only (the sizing pass). */
struct wire {
	uint8_t *p;
	size_t n;
};

enum { WT_VARINT = 0, WT_LEN = 2 };

static void put_varint64(struct wire *w, uint64_t v)
{
	if (!w->p) {
		do {
			w->n++;
			v >>= 7;
		} while (v);
		return;
	}
	while (v >= 0x80) {
		w->p[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->p[w->n++] = (uint8_t)v;
}

static void put_tag(struct wire *w, unsigned field, unsigned type)
{
	put_varint64(w, (uint64_t)(field << 3 | type));
}

/* uint32, uint64 and int64 (two's complement): a varint of the value; int32 and enums
 * sign-extend first, as protobuf-c's int32_pack does. proto3: zero is not written. */
static void put_u64(struct wire *w, unsigned field, uint64_t v)
{
	if (!v)
		return;
	put_tag(w, field, WT_VARINT);
	put_varint64(w, v);
}

static void put_i64(struct wire *w, unsigned field, int64_t v)
{
	put_u64(w, field, (uint64_t)v);
}

static void put_i32(struct wire *w, unsigned field, int32_t v)
{
	put_u64(w, field, (uint64_t)(int64_t)v);
}

/* Is @p s all ASCII? Inline for the short strings of a line (codes, names): most of them. */
static inline int ascii(const char *s, size_t n)
{
	unsigned char any = 0;

	for (size_t i = 0; i < n; i++)
		any |= (unsigned char)s[i];
	return any < 0x80;
}

/* A string of @p n bytes (no NUL among them): as it is when valid UTF-8, else escaped
 * (tpc_utf8_escape, which also ends the copy with a NUL: the buffer has one byte of room
 * after the Result for the last field). proto3: empty is not written. */
static void put_str(struct wire *w, unsigned field, const char *s, size_t n)
{
	int valid;
	size_t len;

	if (!n)
		return;
	valid = ascii(s, n) || tpc_utf8_valid(s, n);
	len = valid ? n : tpc_utf8_escaped_len(s, n);
	put_tag(w, field, WT_LEN);
	put_varint64(w, len);
	if (w->p && valid)
		memcpy(w->p + w->n, s, n);
	else if (w->p)
		tpc_utf8_escape(s, n, (char *)w->p + w->n, len + 1);
	w->n += len;
}

/* A C string (NULL: empty). */
static void put_cstr(struct wire *w, unsigned field, const char *s)
{
	if (s)
		put_str(w, field, s, strlen(s));
}

/* A payload view: up to its first NUL, as the copy the Result held (tpc_arena_strndup). */
static void put_view(struct wire *w, unsigned field, tpc_view_t v)
{
	if (v.ptr)
		put_str(w, field, v.ptr, strnlen(v.ptr, v.len));
}

/* A length-delimited sub-message of @p size bytes; its fields follow. */
static void put_sub(struct wire *w, unsigned field, size_t size)
{
	put_tag(w, field, WT_LEN);
	put_varint64(w, size);
}

struct packer {
	const tpc_adapter_t *a;
	const void *state;
	char code[7];       /* the last finding's code, and its reason: a sending's findings */
	const char *reason; /* mostly repeat one code, and each is described in both passes */
};

/* The reason of @p code (tpc_result_reason, a search through the code tables), the last one
 * kept. */
static const char *reason_of(struct packer *k, const char code[7])
{
	/* all seven bytes compared: equal ones are one string (a finding's code ends in its NUL) */
	if (!k->reason || memcmp(k->code, code, sizeof(k->code)) != 0) {
		k->reason = tpc_result_reason(k->a, k->state, code);
		memcpy(k->code, code, sizeof(k->code));
	}
	return k->reason;
}

/* tpclear.Finding: 1 code, 2 letter, 3 record, 4 pos, 5 len, 6 reason. */
static void put_finding_body(struct wire *w, const tpc_finding_t *f, const char *reason)
{
	put_str(w, 1, f->code, strnlen(f->code, sizeof(f->code)));
	put_str(w, 2, &f->letter, f->letter ? 1 : 0);
	put_u64(w, 3, f->record);
	put_u64(w, 4, f->pos);
	put_u64(w, 5, f->len);
	put_cstr(w, 6, reason);
}

/* Repeated Finding as field @p field: each sized, then written (findings are rare); the
 * reason, a search through the code tables, once per finding. */
static void put_findings(struct wire *w, struct packer *k, unsigned field, const tpc_finding_t *f,
                         size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *reason = reason_of(k, f[i].code);
		struct wire size = {NULL, 0};

		put_finding_body(&size, &f[i], reason);
		put_sub(w, field, size.n);
		if (w->p)
			put_finding_body(w, &f[i], reason);
		else
			w->n += size.n;
	}
}

static uint32_t outcome_of(uint8_t o)
{
	return o == TPC_OUTCOME_ACCEPTED  ? TPCLEAR__OUTCOME__OUTCOME_ACCEPTED
	       : o == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	                                  : TPCLEAR__OUTCOME__OUTCOME_PENDING;
}

/* tpclear.LineResult, fields 1 to 16. The budgets are a line's only once accepted; the share
 * is the patient's part, paid by that budget. */
static void put_line_body(struct wire *w, struct packer *k, const tpc_line_t *ln)
{
	int ok = ln->outcome == TPC_OUTCOME_ACCEPTED;

	put_u64(w, 1, ln->record);
	put_str(w, 2, ln->code, strnlen(ln->code, sizeof(ln->code)));
	put_i32(w, 3, ln->date_first);
	put_i32(w, 4, ln->units);
	put_u64(w, 5, outcome_of(ln->outcome));
	put_i64(w, 6, ln->insurer_cents);
	put_i64(w, 7, ln->patient_cents);
	put_i64(w, 8, ln->expected_insurer_cents);
	put_i64(w, 9, ln->expected_patient_cents);
	put_i64(w, 10, ln->accepted_cents);
	put_cstr(w, 11, tpc_scheme_name(ln->scheme));
	put_findings(w, k, 12, ln->findings, ln->nfindings);
	if (ok)
		put_cstr(w, 13, tpc_budget_name(ln->budget));
	if (ok && ln->share_budget) {
		put_cstr(w, 14, tpc_budget_name(ln->share_budget));
		put_i64(w, 15, ln->patient_cents);
	}
	put_cstr(w, 16, ln->scheme_ref);
}

/* tpclear.InvoiceResult, fields 1 to 8; its lines (9) are put_invoice_lines(). */
static void put_invoice_head(struct wire *w, struct packer *k, const tpc_invoice_t *inv)
{
	put_u64(w, 1, inv->record);
	put_view(w, 2, inv->patient);
	put_view(w, 3, inv->provider);
	put_view(w, 4, inv->number);
	put_u64(w, 5, outcome_of(inv->outcome));
	put_i64(w, 6, inv->accepted_cents);
	put_i64(w, 7, inv->refused_cents);
	put_findings(w, k, 8, inv->findings, inv->nfindings);
}

/* An invoice's lines as field 9, from their sizes in the sizing pass. */
static void put_invoice_lines(struct wire *w, struct packer *k, const tpc_sending_t *s,
                              const tpc_invoice_t *inv, const size_t *line_size)
{
	for (uint32_t i = inv->first_line; i < inv->first_line + inv->nlines; i++) {
		put_sub(w, 9, line_size[i]);
		if (w->p)
			put_line_body(w, k, &s->lines[i]);
		else
			w->n += line_size[i];
	}
}

/* Everything of a Result the sizing pass learns: the sub-messages' sizes, the line counts and
 * the sending's outcome. */
struct result_sizes {
	size_t *line; /* by index in s->lines */
	size_t *invoice;
	uint32_t lines_ok, lines_ko;
};

/* tpclear.Result, fields 1 to 17: 6 sequence, 7 committed_at and 16 replay are left out, known
 * only at commit (tpc_answer_result() appends them). */
static void put_result(struct wire *w, struct packer *k, const tpc_job_t *job,
                       const struct result_sizes *z)
{
	const tpc_sending_t *s = &job->sending;
	uint32_t outcome = s->outcome == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	                   : z->lines_ko                     ? TPCLEAR__OUTCOME__OUTCOME_PARTIAL
	                                                     : TPCLEAR__OUTCOME__OUTCOME_ACCEPTED;

	put_cstr(w, 1, job->sender);
	put_cstr(w, 2, job->key);
	put_cstr(w, 3, k->a->name);
	put_u64(w, 4, outcome);
	if (job->hash_len) { /* 16: XXH3-128, 32: BLAKE2b-256 (docs/protocol.md) */
		put_tag(w, 5, WT_LEN);
		put_varint64(w, job->hash_len);
		if (w->p)
			memcpy(w->p + w->n, job->hash, job->hash_len);
		w->n += job->hash_len;
	}
	put_u64(w, 8, s->ninvoices);
	put_u64(w, 9, s->nlines);
	put_u64(w, 10, z->lines_ok);
	put_u64(w, 11, z->lines_ko);
	put_i64(w, 12, s->accepted_cents);
	put_i64(w, 13, s->refused_cents);
	put_findings(w, k, 14, s->findings, s->nfindings);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		put_sub(w, 15, z->invoice[i]);
		if (!w->p) {
			w->n += z->invoice[i];
			continue;
		}
		put_invoice_head(w, k, &s->invoices[i]);
		put_invoice_lines(w, k, s, &s->invoices[i], z->line);
	}
	put_cstr(w, 17, job->native.ptr ? job->native.type : "");
}

/* The sizing pass: each line and invoice once, bottom up, and the lines judged. */
static int size_result(tpc_job_t *job, struct packer *k, struct result_sizes *z)
{
	const tpc_sending_t *s = &job->sending;

	z->lines_ok = z->lines_ko = 0;
	z->line = tpc_arena_alloc_uninit(job->arena, (s->nlines + 1) * sizeof(size_t), 8);
	z->invoice = tpc_arena_alloc_uninit(job->arena, (s->ninvoices + 1) * sizeof(size_t), 8);
	if (!z->line || !z->invoice)
		return TPC_ENOMEM;
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		struct wire w = {NULL, 0};

		for (uint32_t l = inv->first_line; l < inv->first_line + inv->nlines; l++) {
			struct wire lw = {NULL, 0};

			put_line_body(&lw, k, &s->lines[l]);
			z->line[l] = lw.n;
			if (s->lines[l].outcome == TPC_OUTCOME_ACCEPTED)
				z->lines_ok++;
			else
				z->lines_ko++;
		}
		put_invoice_head(&w, k, inv);
		put_invoice_lines(&w, k, s, inv, z->line);
		z->invoice[i] = w.n;
	}
	return 0;
}

/* The sending's outcome is derived here from the lines, as clear.c judged them: refused whole,
 * partial when any line was refused, accepted otherwise. Every allocation fails as TPC_ENOMEM
 * from the arena's bound, which the worker reports as T00013 (over the memory bound). */
int tpc_result_pack(tpc_job_t *job, const tpc_adapter_t *a, const void *state)
{
	struct packer k = {a, state, {0}, NULL};
	struct result_sizes z;
	struct wire w = {NULL, 0};
	uint8_t *buf;
	size_t len;

	if (size_result(job, &k, &z))
		return TPC_ENOMEM;
	put_result(&w, &k, job, &z);
	len = w.n;
	/* written whole below; one byte more for the NUL an escaped last string ends with */
	buf = tpc_arena_alloc_uninit(job->arena, len + 1, 8);
	if (!buf)
		return TPC_ENOMEM;
	w = (struct wire){buf, 0};
	put_result(&w, &k, job, &z);
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
