/* engine/store/records.c - encode and decode the store's records (see records.h).
 *
 * The encoders are the only place a judged job becomes stored bytes and the decoders the only
 * place those bytes become a job's answer again: a replay, a lookup, a history and a
 * settlement all read through here, so they cannot disagree about a layout.
 */
#include "store/records.h"

#include "clearing/budget.h"
#include "core/error.h"
#include "core/log.h"

#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <lz4.h>
#include <stdio.h>
/* XXH3_state_t on the stack (tpc_records_answer_body_sum()) instead of XXH3_createState()'s
 * malloc: its layout is the header's, which ships with the library (Debian libxxhash-dev) */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

int tpc_records_read(const MDB_val *v, void *out, size_t size)
{
	/* a record of another size belongs to another schema or a damaged page */
	if (v->mv_size != size)
		return TPC_EDB;
	memcpy(out, v->mv_data, size);
	return 0;
}

/* ---- checksums ------------------------------------------------------------------------------ */

/* XXH3-64, not BLAKE2b: the sum guards against damage (bit rot, a torn or misdirected write),
 * not against someone who can write the file, and XXH3 hashes a 104-byte record in about 20 ns
 * where libsodium's BLAKE2b (its shortest output is 16 bytes) takes about 500 (docs/ledger.md,
 * "Checksums"): the writer thread seals every posting and payable itself. */
uint64_t tpc_records_sum(const void *p, size_t n)
{
	uint64_t s = XXH3_64bits(p, n);

	/* 0 is "no sum" in the records that keep theirs in former padding */
	return s ? s : 1;
}

/* XXH3-128 for this engine's sendings: at about 0.1 ns a byte it is a tenth of what BLAKE2b
 * cost the worker (21 % of its path, docs/benchmarks.md), and 128 bits keep an accidental
 * collision between two payloads under one key out of reach. The canonical form is big
 * endian, the bytes a client can recompute with any xxHash library. */
void tpc_records_payload_hash(const uint8_t *buf, size_t len, size_t hash_len,
                              uint8_t out[TPC_HASH_LEN])
{
	memset(out, 0, TPC_HASH_LEN);
	if (hash_len == TPC_HASH_XXH3_LEN) {
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
		memcpy(out, c.digest, TPC_HASH_XXH3_LEN);
		return;
	}
	crypto_generichash(out, TPC_HASH_LEN, buf, len, NULL, 0);
}

/* Process-wide, the one mutable state of this module: damage is found on any thread, by code
 * that holds no metrics shard (the clearing snapshot, the statement builder, the payment runs),
 * and it is rare; the scrape reads these (tpclear_store_damaged_total). */
static _Atomic uint64_t damaged[TPC_REC__COUNT];

const char *tpc_records_db_name(enum tpc_rec_db db)
{
	static const char *const names[TPC_REC__COUNT] = {
	    "answers", "lines", "postings", "payables", "paid", "settlements", "unpaid"};

	return (unsigned)db < TPC_REC__COUNT ? names[db] : "?";
}

/* The key as the operator searches for it: the big-endian numbers the keys are made of
 * (sequence, line, part; a posting number), else hex. */
void tpc_records_key_text(enum tpc_rec_db db, const MDB_val *k, char *out, size_t cap)
{
	const uint8_t *b = k ? k->mv_data : NULL;
	size_t n = k ? k->mv_size : 0, o = 0;

	/* meta "balances" (schema 7), counted with the postings it sums */
	if (n == sizeof(TPC_BALANCES_KEY) - 1 && !memcmp(b, TPC_BALANCES_KEY, n)) {
		snprintf(out, cap, "meta %s", TPC_BALANCES_KEY);
		return;
	}
	if (n == 8 && db != TPC_REC_PAYABLES && db != TPC_REC_PAID && db != TPC_REC_SETTLEMENTS) {
		snprintf(out, cap, "%s %llu", db == TPC_REC_POSTINGS ? "posting" : "sequence",
		         (unsigned long long)tpc_get_be64(b));
		return;
	}
	if (n == 12 || n == TPC_PAYABLE_KEY) {
		o = (size_t)snprintf(out, cap, "sequence %llu line %u",
		                     (unsigned long long)tpc_get_be64(b), tpc_get_be32(b + 8));
		if (n == TPC_PAYABLE_KEY && o < cap)
			snprintf(out + o, cap - o, " part %u", b[12]);
		return;
	}
	if (n == 20 && db == TPC_REC_SETTLEMENTS) {
		snprintf(out, cap, "sequence %llu run %llu payment %u",
		         (unsigned long long)tpc_get_be64(b),
		         (unsigned long long)tpc_get_be64(b + 8), tpc_get_be32(b + 16));
		return;
	}
	out[0] = 0;
	for (size_t i = 0; i < n && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", b[i]);
}

void tpc_records_damaged(enum tpc_rec_db db, const MDB_val *key)
{
	char k[64];

	if ((unsigned)db >= TPC_REC__COUNT)
		return;
	atomic_fetch_add_explicit(&damaged[db], 1, memory_order_relaxed);
	tpc_records_key_text(db, key, k, sizeof(k));
	tpc_error("ledger: damaged record in %s, %s: checksum mismatch, not served (T00055); "
	          "run tpclear verify (docs/operations.md, Damaged records)",
	          tpc_records_db_name(db), k);
}

uint64_t tpc_records_damaged_total(enum tpc_rec_db db)
{
	return (unsigned)db < TPC_REC__COUNT ? atomic_load(&damaged[db]) : 0;
}

/* The records that keep their sum at the end (lines, paid) hash what comes before it; those
 * that keep it in former padding (postings, payables) hash the whole record with the sum 0. */
void tpc_records_line_seal(tpc_line_rec_t *r)
{
	r->sum = tpc_records_sum(r, offsetof(tpc_line_rec_t, sum));
}

void tpc_records_paid_seal(tpc_paid_t *p)
{
	p->sum = tpc_records_sum(p, offsetof(tpc_paid_t, sum));
}

void tpc_records_posting_seal(tpc_posting_rec_t *p)
{
	p->sum = 0;
	p->sum = tpc_records_sum(p, sizeof(*p));
}

void tpc_records_payable_seal(tpc_payable_t *p)
{
	p->sum = 0;
	p->sum = tpc_records_sum(p, sizeof(*p));
}

void tpc_records_posting_pair_seal(tpc_posting_pair_t *p)
{
	p->sum = tpc_records_sum(p, offsetof(tpc_posting_pair_t, sum));
}

/* A record of schema 5 (@p full bytes, sum at @p sum_at) or of schema 4 (@p old bytes, the
 * same fields without the sum): copied out, the sum checked. */
static int read_tail_sum(const MDB_val *v, void *out, size_t full, size_t old, size_t sum_at)
{
	uint64_t sum;

	if (v->mv_size == old && old) {
		memset(out, 0, full);
		memcpy(out, v->mv_data, old);
		return 0;
	}
	if (v->mv_size != full)
		return TPC_EDAMAGED;
	memcpy(out, v->mv_data, full);
	memcpy(&sum, (const uint8_t *)out + sum_at, 8);
	return tpc_records_sum(out, sum_at) == sum ? 0 : TPC_EDAMAGED;
}

/* A record whose sum replaced padding: 0 there means written before schema 5. */
static int read_pad_sum(const MDB_val *v, void *out, size_t size, size_t sum_at)
{
	uint64_t sum, zero = 0;

	if (v->mv_size != size)
		return TPC_EDAMAGED;
	memcpy(out, v->mv_data, size);
	memcpy(&sum, (const uint8_t *)out + sum_at, 8);
	if (!sum)
		return 0;
	memcpy((uint8_t *)out + sum_at, &zero, 8);
	if (tpc_records_sum(out, size) != sum)
		return TPC_EDAMAGED;
	memcpy((uint8_t *)out + sum_at, &sum, 8);
	return 0;
}

int tpc_records_line_read(const MDB_val *v, tpc_line_rec_t *out)
{
	return read_tail_sum(v, out, sizeof(*out), TPC_LINE_REC_V4, offsetof(tpc_line_rec_t, sum));
}

int tpc_records_paid_read(const MDB_val *v, tpc_paid_t *out)
{
	return read_tail_sum(v, out, sizeof(*out), TPC_PAID_V4, offsetof(tpc_paid_t, sum));
}

int tpc_records_posting_read(const MDB_val *v, tpc_posting_rec_t *out)
{
	return read_pad_sum(v, out, sizeof(*out), offsetof(tpc_posting_rec_t, sum));
}

/* The pair as the two postings schema 5 wrote for a line part: every reader (balances,
 * exports, statements, verify, the tests' ledger check) sees postings, numbered as before. */
void tpc_records_pair_expand(const tpc_posting_pair_t *q, tpc_posting_rec_t out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	for (int side = 0; side < 2; side++) {
		out[side].sequence = q->sequence;
		out[side].line = q->line;
		out[side].budget = q->budget;
		out[side].part = q->part;
		out[side].at_ms = q->at_ms;
		out[side].sum = q->sum;
	}
	out[0].kind = TPC_POST_CHARGE;
	out[0].payee_kind = TPC_PAYEE_BUDGET;
	snprintf(out[0].account, sizeof(out[0].account), "%s", tpc_budget_name(q->budget));
	out[0].amount_cents = -q->amount_cents;
	out[1].kind = TPC_POST_PAYABLE;
	out[1].payee_kind = q->payee_kind;
	memcpy(out[1].account, q->payee, sizeof(q->payee));
	out[1].account[sizeof(q->payee) - 1] = 0;
	out[1].amount_cents = q->amount_cents;
}

int tpc_records_postings_read(const MDB_val *k, const MDB_val *v, tpc_posting_rec_t out[2],
                              uint64_t num[2])
{
	tpc_posting_pair_t q;

	if (k->mv_size != 8)
		return TPC_EDAMAGED;
	num[0] = tpc_get_be64(k->mv_data);
	num[1] = num[0] + 1;
	if (v->mv_size != sizeof(q))
		return tpc_records_posting_read(v, &out[0]) ? TPC_EDAMAGED : 1;
	if (read_tail_sum(v, &q, sizeof(q), 0, offsetof(tpc_posting_pair_t, sum)))
		return TPC_EDAMAGED;
	tpc_records_pair_expand(&q, out);
	return 2;
}

void tpc_records_balances_seal(tpc_balances_t *b)
{
	b->magic = TPC_BALANCES_MAGIC;
	b->budgets = TPC_BALANCES_BUDGETS;
	b->sum = tpc_records_sum(b, offsetof(tpc_balances_t, sum));
}

int tpc_records_balances_read(const MDB_val *v, tpc_balances_t *out)
{
	/* rows beyond TPC_BALANCES_BUDGETS would be a later engine's layout: a size mismatch */
	if (read_tail_sum(v, out, sizeof(*out), 0, offsetof(tpc_balances_t, sum)) ||
	    out->magic != TPC_BALANCES_MAGIC || out->budgets != TPC_BALANCES_BUDGETS)
		return TPC_EDAMAGED;
	return 0;
}

void tpc_records_unpaid_seal(void *value, size_t size)
{
	tpc_unpaid_hdr_t h;

	memcpy(&h, value, sizeof(h));
	h.sum = 0;
	memcpy(value, &h, sizeof(h));
	h.sum = tpc_records_sum(value, size);
	memcpy(value, &h, sizeof(h));
}

int tpc_records_unpaid_read(const MDB_val *v, tpc_unpaid_hdr_t *h, const uint8_t **bits)
{
	XXH3_state_t st;
	tpc_unpaid_hdr_t z;
	uint64_t sum;

	if (v->mv_size < sizeof(*h))
		return TPC_EDAMAGED;
	memcpy(h, v->mv_data, sizeof(*h));
	if (h->magic != TPC_UNPAID_MAGIC || v->mv_size != tpc_unpaid_size(h->nlines))
		return TPC_EDAMAGED;
	/* the sum of the value with its sum field 0, without copying the bits */
	z = *h;
	z.sum = 0;
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, &z, sizeof(z));
	XXH3_64bits_update(&st, (const uint8_t *)v->mv_data + sizeof(z), v->mv_size - sizeof(z));
	sum = XXH3_64bits_digest(&st);
	if ((sum ? sum : 1) != h->sum)
		return TPC_EDAMAGED;
	*bits = (const uint8_t *)v->mv_data + sizeof(*h);
	return 0;
}

int tpc_records_payable_read(const MDB_val *v, tpc_payable_t *out)
{
	return read_pad_sum(v, out, sizeof(*out), offsetof(tpc_payable_t, sum));
}

/* ---- LZ4 blocks ----------------------------------------------------------------------------- */

/* One rule for every compressed record (answers: worker.c; payloads; settlements): LZ4 on
 * bytes that are mostly spaces and zeros, stored raw when it saves less than an eighth. */
size_t tpc_records_lz4_bound(size_t len)
{
	/* LZ4 takes int sizes: a larger value is stored as it is */
	return len <= (size_t)LZ4_MAX_INPUT_SIZE ? (size_t)LZ4_compressBound((int)len) : 0;
}

size_t tpc_records_lz4_pack(const void *src, size_t len, void *dst, size_t cap)
{
	int n;

	if (!cap || len > (size_t)LZ4_MAX_INPUT_SIZE || cap > INT_MAX)
		return 0;
	n = LZ4_compress_default(src, dst, (int)len, (int)cap);
	return n > 0 && (size_t)n < len - len / 8 ? (size_t)n : 0;
}

int tpc_records_lz4_unpack(const void *src, size_t n, void *dst, size_t raw)
{
	/* _safe: the input is bytes from disk, and never writes past raw whatever they say; a
	 * raw size beyond int (a damaged length) must not reach the casts */
	if (raw > INT_MAX || n > INT_MAX)
		return TPC_EDB;
	return LZ4_decompress_safe(src, dst, (int)n, (int)raw) == (int)raw ? 0 : TPC_EDB;
}

/* The bytes after a header (answers, settlements): @p n bytes at @p body, as they are (then
 * exactly @p raw) or, with @p lz4, one LZ4 block of @p raw bytes (the decompressor must give
 * exactly that size), copied into @p arena with one zero byte more, so the caller's pointers
 * outlive its transaction. @return 0, TPC_EDB or TPC_ENOMEM. */
static int body_copy(const uint8_t *body, size_t n, int lz4, size_t raw, tpc_arena_t *arena,
                     uint8_t **out)
{
	uint8_t *copy;

	/* raw > INT_MAX: LZ4's sizes are ints, so a damaged length must not reach a cast */
	if ((!lz4 && n != raw) || raw > INT_MAX)
		return TPC_EDB;
	if (!(copy = tpc_arena_alloc(arena, raw + 1, 8)))
		return TPC_ENOMEM;
	if (!lz4)
		memcpy(copy, body, raw);
	else if (tpc_records_lz4_unpack(body, n, copy, raw))
		return TPC_EDB;
	*out = copy;
	return 0;
}

/* ---- settlements ------------------------------------------------------------------------- */

static uint64_t settlement_sum(const tpc_settlement_hdr_t *h, const void *body, size_t n)
{
	tpc_settlement_hdr_t z = *h;

	z.sum = 0;
	return XXH3_64bits_withSeed(&z, sizeof(z), XXH3_64bits(body, n));
}

int tpc_records_settlement_encode(const uint8_t *proto, size_t proto_len, const tpc_blob_t *native,
                                  tpc_arena_t *arena, const uint8_t **out, size_t *out_len)
{
	size_t nlen = native && native->ptr ? native->len : 0, raw = proto_len + nlen, bound, n;
	tpc_settlement_hdr_t h;
	uint8_t *v, *parts;

	if (proto_len > UINT32_MAX || nlen > UINT32_MAX)
		return TPC_EINVAL;
	bound = tpc_records_lz4_bound(raw);
	/* the parts side by side (LZ4 wants one run of bytes), then the value: header + block */
	parts = tpc_arena_alloc_uninit(arena, raw ? raw : 1, 8);
	v = tpc_arena_alloc_uninit(arena, sizeof(h) + (bound > raw ? bound : raw), 8);
	if (!parts || !v)
		return TPC_ENOMEM;
	if (proto_len)
		memcpy(parts, proto, proto_len);
	if (nlen)
		memcpy(parts + proto_len, native->ptr, nlen);
	/* zeroed: padding and the unused tail of the type are stored bytes too */
	memset(&h, 0, sizeof(h));
	h.magic = TPC_SETTLEMENT_MAGIC;
	h.proto_len = (uint32_t)proto_len;
	h.native_len = (uint32_t)nlen;
	if (nlen)
		memcpy(h.native_type, native->type, sizeof(h.native_type));
	n = tpc_records_lz4_pack(parts, raw, v + sizeof(h), bound);
	if (n)
		h.flags = TPC_SETTLEMENT_LZ4;
	else
		memcpy(v + sizeof(h), parts, raw), n = raw;
	h.sum = settlement_sum(&h, v + sizeof(h), n);
	memcpy(v, &h, sizeof(h));
	*out = v;
	*out_len = sizeof(h) + n;
	return 0;
}

int tpc_records_settlement_decode(const void *value, size_t size, tpc_arena_t *arena,
                                  tpc_settlement_view_t *out)
{
	const uint8_t *p = value;
	tpc_settlement_hdr_t h;
	size_t hs = sizeof(h), raw;
	uint8_t *copy;
	int rc;

	if (size < TPC_SETTLEMENT_HDR_V5)
		return TPC_EDAMAGED;
	/* copied out, not cast: LMDB aligns values on two bytes only */
	memset(&h, 0, sizeof(h));
	memcpy(&h, p, TPC_SETTLEMENT_HDR_V5);
	if (h.magic == TPC_SETTLEMENT_MAGIC_V5) {
		hs = TPC_SETTLEMENT_HDR_V5; /* no sum, never compressed */
		h.flags = 0;
	} else if (h.magic != TPC_SETTLEMENT_MAGIC || size < sizeof(h) ||
	           (memcpy(&h, p, sizeof(h)), settlement_sum(&h, p + hs, size - hs) != h.sum) ||
	           (h.flags & ~TPC_SETTLEMENT_LZ4)) {
		return TPC_EDAMAGED;
	}
	raw = (size_t)h.proto_len + h.native_len;
	if ((rc = body_copy(p + hs, size - hs, h.flags & TPC_SETTLEMENT_LZ4, raw, arena, &copy)))
		return rc;
	memset(out, 0, sizeof(*out));
	out->proto = copy;
	out->proto_len = h.proto_len;
	if (h.native_len) {
		out->native.ptr = copy + h.proto_len;
		out->native.len = h.native_len;
		memcpy(out->native.type, h.native_type, sizeof(out->native.type));
		out->native.type[sizeof(out->native.type) - 1] = 0;
	}
	return 0;
}

/* The answer's sum: its header with the sum field 0, seeded with the body's sum. */
static uint64_t answer_sum(const tpc_answer_hdr_t *h, uint64_t body)
{
	tpc_answer_hdr_t z = *h;

	z.sum = 0;
	return XXH3_64bits_withSeed(&z, sizeof(z), body);
}

int tpc_records_answer_check(const void *value, size_t size)
{
	tpc_answer_hdr_t h;
	uint32_t magic;

	if (size < sizeof(magic))
		return TPC_EDAMAGED;
	memcpy(&magic, value, sizeof(magic));
	if (magic == TPC_ANSWER_MAGIC_V4 && size >= TPC_ANSWER_HDR_V4)
		return 1;
	if (magic != TPC_ANSWER_MAGIC || size < sizeof(h))
		return TPC_EDAMAGED;
	memcpy(&h, value, sizeof(h));
	if (answer_sum(&h, XXH3_64bits((const uint8_t *)value + sizeof(h), size - sizeof(h))) !=
	    h.sum)
		return TPC_EDAMAGED;
	return 0;
}

uint64_t tpc_records_answer_body_sum(const tpc_job_t *job)
{
	XXH3_state_t st;

	if (job->stored)
		return XXH3_64bits(job->stored, job->stored_len);
	/* result then native, as encode() lays them out: the streaming form hashes the two
	 * buffers as the one run of bytes they become, without copying them together */
	XXH3_64bits_reset(&st);
	if (job->result_len)
		XXH3_64bits_update(&st, job->result, job->result_len);
	if (job->native.ptr && job->native.len)
		XXH3_64bits_update(&st, job->native.ptr, job->native.len);
	return XXH3_64bits_digest(&st);
}

void tpc_records_answer_header(const tpc_job_t *job, uint64_t committed_ms, tpc_answer_hdr_t *h)
{
	/* zeroed first: the padding and the unused tails of the names are stored bytes too, and
	 * two stores of one answer must be byte-identical */
	memset(h, 0, sizeof(*h));
	h->magic = TPC_ANSWER_MAGIC;
	h->flags = (job->stored ? TPC_ANSWER_LZ4 : 0) |
	           (job->hash_len == TPC_HASH_XXH3_LEN ? TPC_ANSWER_XXH3 : 0);
	h->result_len = (uint32_t)job->result_len;
	h->native_len = job->native.ptr ? (uint32_t)job->native.len : 0;
	memcpy(h->native_type, job->native.type, sizeof(h->native_type));
	/* the whole field: an XXH3-128 is followed by the zeros tpc_records_payload_hash() left */
	memcpy(h->hash, job->hash, TPC_HASH_LEN);
	h->committed_ms = committed_ms;
	h->sequence = job->sequence;
	h->received_ms = job->received_ms;
	h->validated_ms = job->validated_ms;
	snprintf(h->sender, sizeof(h->sender), "%s", job->sender);
	snprintf(h->key, sizeof(h->key), "%s", job->key);
	snprintf(h->format, sizeof(h->format), "%s", job->adapter ? job->adapter->name : "");
}

size_t tpc_records_answer_size(const tpc_job_t *job)
{
	size_t native = job->native.ptr ? job->native.len : 0;

	/* the worker's LZ4 block replaces both raw parts when it compressed them */
	return sizeof(tpc_answer_hdr_t) +
	       (job->stored ? job->stored_len : job->result_len + native);
}

void tpc_records_answer_encode(const tpc_job_t *job, const tpc_answer_hdr_t *h, void *out)
{
	const uint8_t *summed = job->stored ? job->stored : job->result;
	uint8_t *p = out;
	uint64_t body, sum;

	memcpy(p, h, sizeof(*h));
	p += sizeof(*h);
	if (job->stored) {
		memcpy(p, job->stored, job->stored_len);
	} else {
		if (h->result_len)
			memcpy(p, job->result, h->result_len);
		if (h->native_len)
			memcpy(p + h->result_len, job->native.ptr, h->native_len);
	}
	/* the worker's body sum holds only for the bytes it hashed: a job whose result was
	 * replaced since (a replay undone by an aborted group) is hashed again here */
	body = job->body_summed && job->body_summed == summed ? job->body_sum
	                                                      : tpc_records_answer_body_sum(job);
	sum = answer_sum(h, body);
	memcpy((uint8_t *)out + offsetof(tpc_answer_hdr_t, sum), &sum, sizeof(sum));
}

/* Copy the header out of @p value after its sum was checked: a TPA2 header is 320 bytes and
 * gets sum 0. @return the header's size on disk, or 0 when @p value is not an answer. */
static size_t header_of(const void *value, size_t size, tpc_answer_hdr_t *h)
{
	int rc = tpc_records_answer_check(value, size);

	if (rc < 0)
		return 0;
	/* copied out, not cast: LMDB aligns values on two bytes only, and the header has u64s */
	memset(h, 0, sizeof(*h));
	memcpy(h, value, rc == 1 ? TPC_ANSWER_HDR_V4 : sizeof(*h));
	return rc == 1 ? TPC_ANSWER_HDR_V4 : sizeof(*h);
}

int tpc_records_answer_header_read(const void *value, size_t size, tpc_answer_hdr_t *h)
{
	if (!header_of(value, size, h))
		return TPC_EDAMAGED;
	/* the names are written with snprintf, but a damaged value must not run off its end */
	h->sender[sizeof(h->sender) - 1] = h->key[sizeof(h->key) - 1] = 0;
	h->format[sizeof(h->format) - 1] = 0;
	return 0;
}

int tpc_records_answer_decode(const void *value, size_t size, tpc_arena_t *arena, tpc_stored_t *out)
{
	tpc_answer_hdr_t h;
	const uint8_t *p = value;
	size_t raw, hs = header_of(value, size, &h);
	uint8_t *copy;
	int rc;

	if (!hs)
		return TPC_EDAMAGED;
	raw = (size_t)h.result_len + (size_t)h.native_len;
	/* With a matching sum, a body that does not give the raw size happens only on a TPA2
	 * answer (no sum) or a bug: TPC_EDB, not damage. */
	if ((rc = body_copy(p + hs, size - hs, h.flags & TPC_ANSWER_LZ4, raw, arena, &copy)))
		return rc;
	/* the pointers go into the arena copy, never into LMDB's page: the caller keeps them
	 * after its transaction ends */
	out->sequence = h.sequence;
	out->committed_ms = h.committed_ms;
	memcpy(out->hash, h.hash, TPC_HASH_LEN);
	out->hash_len = (uint8_t)tpc_records_hash_len(h.flags);
	out->result = copy;
	out->result_len = h.result_len;
	out->native.ptr = h.native_len ? copy + h.result_len : NULL;
	out->native.len = h.native_len;
	memcpy(out->native.type, h.native_type, sizeof(out->native.type));
	out->native.type[sizeof(out->native.type) - 1] = 0;
	return 0;
}

int tpc_records_lines_encode(tpc_job_t *job)
{
	const tpc_sending_t *s = &job->sending;
	size_t n = tpc_records_lines_size(s);
	uint8_t *b;

	job->lines_block = NULL;
	b = tpc_arena_alloc_uninit(job->arena, n, 8);
	if (!b)
		return TPC_ENOMEM;
	tpc_records_lines_block(s, b);
	job->lines_block = b;
	job->lines_block_len = n;
	return 0;
}

/* ---- lines blocks ---------------------------------------------------------------------------- */

/* Findings kept per line: the fixed record of schema 5 had room for three; nfindings still
 * says how many the line had. */
static uint32_t kept_findings(const tpc_line_t *ln)
{
	return ln->nfindings < 3 ? ln->nfindings : 3;
}

size_t tpc_records_lines_size(const tpc_sending_t *s)
{
	size_t f = 0;

	for (uint32_t i = 0; i < s->nlines; i++)
		f += kept_findings(&s->lines[i]);
	return sizeof(tpc_lines_hdr_t) + s->ninvoices * sizeof(tpc_line_payee_t) +
	       s->nlines * sizeof(tpc_line6_t) + f * sizeof(tpc_line_finding_t);
}

/* The compact line: the fields of tpc_records_line_encode() but the invoice's and the sum. */
static void line6_encode(const tpc_line_t *ln, uint32_t invoice, tpc_line6_t *o)
{
	int accepted = ln->outcome == TPC_OUTCOME_ACCEPTED;

	memset(o, 0, sizeof(*o));
	memcpy(o->code, ln->code, 6);
	o->outcome = ln->outcome;
	o->nfindings = ln->nfindings;
	o->date_first = ln->date_first;
	o->units = ln->units;
	o->invoice = invoice;
	o->record = ln->record;
	o->account = ln->account;
	o->scheme = (uint8_t)ln->scheme;
	/* a refused line charges no budget: statements and settlements skip it by this */
	o->budget = accepted ? ln->budget : 0;
	o->share_budget = accepted ? ln->share_budget : 0;
	o->insurer_cents = ln->insurer_cents;
	o->patient_cents = ln->patient_cents;
	o->expected_insurer_cents = ln->expected_insurer_cents;
	o->expected_patient_cents = ln->expected_patient_cents;
	o->accepted_cents = ln->accepted_cents;
	o->sum = (uint32_t)XXH3_64bits(o, offsetof(tpc_line6_t, sum));
}

/* A compact line as the record of schema 5 (its mutuality from its invoice; no findings, no
 * sum: the caller's). */
static void line6_expand(const tpc_line6_t *r, const char mutuality[3], tpc_line_rec_t *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->code, r->code, 6);
	out->outcome = r->outcome;
	out->nfindings = r->nfindings;
	out->date_first = r->date_first;
	out->units = r->units;
	out->invoice = r->invoice;
	out->record = r->record;
	memcpy(out->mutuality, mutuality, 3);
	out->account = r->account;
	out->budget = r->budget;
	out->scheme = r->scheme;
	out->share_budget = r->share_budget;
	out->insurer_cents = r->insurer_cents;
	out->patient_cents = r->patient_cents;
	out->expected_insurer_cents = r->expected_insurer_cents;
	out->expected_patient_cents = r->expected_patient_cents;
	out->accepted_cents = r->accepted_cents;
}

void tpc_records_line_encode(const tpc_sending_t *s, uint32_t line, uint32_t invoice,
                             tpc_line_rec_t *out)
{
	const tpc_line_t *ln = &s->lines[line];
	tpc_line6_t r;

	line6_encode(ln, invoice, &r);
	/* no invoice to read the mutuality from when the sending has none (invoices[] unset) */
	line6_expand(&r, s->ninvoices ? s->invoices[invoice].mutuality : "\0\0\0", out);
	/* "up to three finding codes" (docs/ledger.md); nfindings still says how many */
	for (uint32_t f = 0; f < kept_findings(ln); f++)
		memcpy(out->finding[f], ln->findings[f].code, 6);
	tpc_records_line_seal(out);
}

void tpc_records_lines_block(const tpc_sending_t *s, void *out)
{
	uint8_t *p = out, *body;
	tpc_lines_hdr_t h;
	int insured = s->payee == TPC_PAYEE_PATIENT;

	memset(&h, 0, sizeof(h));
	h.magic = TPC_LINES_MAGIC;
	h.nlines = s->nlines;
	h.ninvoices = s->ninvoices;
	body = p + sizeof(h);
	p = body;
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		tpc_view_t who = insured ? inv->patient : inv->provider;
		tpc_line_payee_t y;

		/* zeroed: the unused tail of the payee is stored bytes too */
		memset(&y, 0, sizeof(y));
		if (who.len) /* a payee not given (NULL, 0): memcpy's pointer must still be valid */
			memcpy(y.payee, who.ptr, who.len < 11 ? who.len : 11);
		memcpy(y.mutuality, inv->mutuality, 3);
		y.payee_kind = insured ? TPC_PAYEE_INSURED : TPC_PAYEE_PROVIDER;
		memcpy(p, &y, sizeof(y));
		p += sizeof(y);
	}
	for (uint32_t i = 0, inv = 0; i < s->nlines; i++, p += sizeof(tpc_line6_t)) {
		tpc_line6_t r;

		/* the invoice of line i: invoices hold consecutive runs of lines */
		while (inv + 1 < s->ninvoices &&
		       i >= s->invoices[inv].first_line + s->invoices[inv].nlines)
			inv++;
		line6_encode(&s->lines[i], inv, &r);
		memcpy(p, &r, sizeof(r));
	}
	for (uint32_t i = 0; i < s->nlines; i++)
		for (uint32_t f = 0; f < kept_findings(&s->lines[i]); f++, h.nfindings++) {
			tpc_line_finding_t x;

			memset(&x, 0, sizeof(x));
			x.line = i;
			memcpy(x.code, s->lines[i].findings[f].code, 6);
			memcpy(p, &x, sizeof(x));
			p += sizeof(x);
		}
	h.body_sum = XXH3_64bits(body, (size_t)(p - body));
	memcpy(out, &h, sizeof(h));
}

static uint64_t lines_hdr_sum(const tpc_lines_hdr_t *h)
{
	tpc_lines_hdr_t z = *h;

	uint64_t sum;

	z.sum = 0;
	sum = XXH3_64bits_withSeed(&z, sizeof(z), h->body_sum);
	return sum ? sum : 1; /* 0 is "no sum", as for every record */
}

void tpc_records_lines_seal(void *block, uint64_t first_posting, uint64_t committed_ms)
{
	tpc_lines_hdr_t h;

	memcpy(&h, block, sizeof(h));
	h.first_posting = first_posting;
	h.committed_ms = committed_ms;
	h.sum = lines_hdr_sum(&h);
	memcpy(block, &h, sizeof(h));
}

int tpc_records_lines_check(const MDB_val *v, tpc_lines_hdr_t *h)
{
	const uint8_t *b = v->mv_data;

	if (v->mv_size < sizeof(*h))
		return TPC_EDAMAGED;
	memcpy(h, b, sizeof(*h));
	if (h->magic != TPC_LINES_MAGIC || lines_hdr_sum(h) != h->sum ||
	    XXH3_64bits(b + sizeof(*h), v->mv_size - sizeof(*h)) != h->body_sum ||
	    v->mv_size != sizeof(*h) + (size_t)h->ninvoices * sizeof(tpc_line_payee_t) +
	                      (size_t)h->nlines * sizeof(tpc_line6_t) +
	                      (size_t)h->nfindings * sizeof(tpc_line_finding_t))
		return TPC_EDAMAGED;
	return 0;
}

int tpc_records_lines_line_damaged(const MDB_val *v, uint32_t line)
{
	const uint8_t *b = v->mv_data;
	tpc_lines_hdr_t h;
	tpc_line6_t r;
	size_t at;

	if (v->mv_size < sizeof(h))
		return 1;
	memcpy(&h, b, sizeof(h));
	at = sizeof(h) + (size_t)h.ninvoices * sizeof(tpc_line_payee_t) + (size_t)line * sizeof(r);
	if (h.ninvoices > v->mv_size || at + sizeof(r) > v->mv_size)
		return 1;
	memcpy(&r, b + at, sizeof(r));
	return (uint32_t)XXH3_64bits(&r, offsetof(tpc_line6_t, sum)) != r.sum;
}

void tpc_records_lines_resum(void *block, size_t size)
{
	uint8_t *lines;
	tpc_lines_hdr_t h;

	memcpy(&h, block, sizeof(h));
	lines = (uint8_t *)block + sizeof(h) + (size_t)h.ninvoices * sizeof(tpc_line_payee_t);
	for (uint32_t i = 0; i < h.nlines; i++) {
		tpc_line6_t r;

		memcpy(&r, lines + (size_t)i * sizeof(r), sizeof(r));
		r.sum = (uint32_t)XXH3_64bits(&r, offsetof(tpc_line6_t, sum));
		memcpy(lines + (size_t)i * sizeof(r), &r, sizeof(r));
	}
	h.body_sum = XXH3_64bits((uint8_t *)block + sizeof(h), size - sizeof(h));
	memcpy(block, &h, sizeof(h));
	tpc_records_lines_seal(block, h.first_posting, h.committed_ms);
}

void tpc_lines_init(tpc_lines_t *l, MDB_txn *txn, MDB_dbi dbi)
{
	memset(l, 0, sizeof(*l));
	l->txn = txn;
	l->dbi = dbi;
}

/* Hold the block of @p seq (its sums checked once). @return 1, 0 (none), TPC_EDAMAGED or an
 * LMDB code. */
static int hold(tpc_lines_t *l, uint64_t seq)
{
	uint8_t kb[8];
	MDB_val k = tpc_key_u64(kb, seq), v;
	int rc;

	if (l->seq == seq && l->seq)
		return l->bad ? TPC_EDAMAGED : l->block != NULL;
	l->seq = seq;
	l->block = NULL;
	l->bad = 0;
	if ((rc = mdb_get(l->txn, l->dbi, &k, &v)))
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (tpc_records_lines_check(&v, &l->h)) {
		l->bad = 1;
		return TPC_EDAMAGED;
	}
	l->block = v.mv_data;
	l->size = v.mv_size;
	return 1;
}

int tpc_lines_block(tpc_lines_t *l, uint64_t seq, tpc_lines_hdr_t *h)
{
	int rc = hold(l, seq);

	if (rc == 1 && h)
		*h = l->h;
	return rc;
}

/* Line @p line of the held block, expanded to the record of schema 5. */
static int block_line(const tpc_lines_t *l, uint32_t line, tpc_line_rec_t *out,
                      tpc_line_payee_t *payee)
{
	const uint8_t *inv = l->block + sizeof(tpc_lines_hdr_t);
	const uint8_t *lines = inv + (size_t)l->h.ninvoices * sizeof(tpc_line_payee_t);
	const uint8_t *f = lines + (size_t)l->h.nlines * sizeof(tpc_line6_t);
	tpc_line_payee_t y;
	tpc_line_finding_t x;
	tpc_line6_t r;
	uint32_t nf = 0, lo = 0, hi = l->h.nfindings;

	if (line >= l->h.nlines)
		return MDB_NOTFOUND;
	memcpy(&r, lines + (size_t)line * sizeof(r), sizeof(r));
	memset(&y, 0, sizeof(y));
	if (r.invoice < l->h.ninvoices)
		memcpy(&y, inv + (size_t)r.invoice * sizeof(y), sizeof(y));
	line6_expand(&r, y.mutuality, out);
	out->sum = l->h.sum;
	/* the tail is in line order: the line's first finding by bisection, then its others */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		memcpy(&x, f + (size_t)mid * sizeof(x), sizeof(x));
		if (x.line < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < l->h.nfindings && nf < 3; i++) {
		memcpy(&x, f + (size_t)i * sizeof(x), sizeof(x));
		if (x.line != line)
			break;
		memcpy(out->finding[nf++], x.code, 6);
	}
	if (payee)
		*payee = y;
	return 0;
}

int tpc_lines_get(tpc_lines_t *l, uint64_t seq, uint32_t line, tpc_line_rec_t *out,
                  tpc_line_payee_t *payee)
{
	uint8_t kb[12];
	MDB_val k, v;
	int rc = hold(l, seq);

	if (rc == 1)
		return block_line(l, line, out, payee);
	if (rc)
		return rc;
	/* no block: a record of schema 3 to 5 under (sequence, line) */
	if (payee)
		memset(payee, 0, sizeof(*payee));
	k = tpc_key_u64_u32(kb, seq, line);
	if ((rc = mdb_get(l->txn, l->dbi, &k, &v)))
		return rc;
	return tpc_records_line_read(&v, out);
}

/* ---- scheme references ---------------------------------------------------------------------- */

/* Schema 3 kept the reference in a 33-byte array: a Fedasil structure of 40 characters was
 * refused at load because it could not be stored. Now the reference follows the head, as long
 * as it is; this record is read back as it was written. */
struct scheme_ref_v3 {
	uint8_t scheme;
	uint8_t pad[3];
	char ref[33];
	char org[11];
};
_Static_assert(sizeof(struct scheme_ref_v3) == 48, "schema 3 layout");

size_t tpc_records_scheme_ref_size(const char *ref)
{
	return sizeof(tpc_scheme_ref_t) + strlen(ref) + 1;
}

void tpc_records_scheme_ref_encode(unsigned scheme, const char *ref, const char *org, void *out)
{
	tpc_scheme_ref_t h;
	size_t n = strlen(ref);

	/* zeroed: the unused tail of org is stored bytes too */
	memset(&h, 0, sizeof(h));
	h.scheme = (uint8_t)scheme;
	h.layout = TPC_SCHEME_REF_LAYOUT;
	h.ref_len = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	if (org)
		snprintf(h.org, sizeof(h.org), "%s", org);
	memcpy(out, &h, sizeof(h));
	memcpy((char *)out + sizeof(h), ref, n + 1);
}

int tpc_records_scheme_ref_read(const MDB_val *v, tpc_scheme_ref_view_t *out)
{
	const char *b = v->mv_data;
	tpc_scheme_ref_t h;

	/* schema 3: 48 bytes, whose second byte (padding) was always 0 */
	if (v->mv_size == sizeof(struct scheme_ref_v3) && b[1] == 0) {
		const struct scheme_ref_v3 *o = v->mv_data; /* char arrays: any alignment */

		if (!memchr(o->ref, 0, sizeof(o->ref)) || !memchr(o->org, 0, sizeof(o->org)))
			return TPC_EDB;
		out->scheme = (uint8_t)b[0];
		out->ref = o->ref;
		out->org = o->org;
		return 0;
	}
	if (v->mv_size < sizeof(h) + 1)
		return TPC_EDB;
	memcpy(&h, b, sizeof(h));
	if (h.layout != TPC_SCHEME_REF_LAYOUT || v->mv_size != sizeof(h) + h.ref_len + 1u ||
	    b[v->mv_size - 1] != 0 || !memchr(h.org, 0, sizeof(h.org)))
		return TPC_EDB;
	out->scheme = h.scheme;
	out->ref = b + sizeof(h);
	out->org = b + offsetof(tpc_scheme_ref_t, org);
	return 0;
}
