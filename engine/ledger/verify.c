/* engine/ledger/verify.c - the offline check of a whole ledger (see verify.h).
 *
 * Each walk reads one sub-database with a cursor and checks what it can from the record and a
 * few point lookups into the others (LMDB lookups are a B-tree descent, cheap next to a walk):
 * memory stays bounded on a ledger of any size, at the price of a log factor. The record
 * decoders are store/records.c's, the ones the daemon serves through, so a record verify calls
 * sound is one the daemon reads. A damaged record is reported once, by the walk of its own
 * sub-database; the other walks skip what they cannot read instead of reporting it again.
 *
 * Records without a checksum: a store raised from schema 3 or 4 keeps its old records as they
 * were (meta "sums_from" says where the checksummed ones begin); they are counted, and only a
 * record after that point without one is a problem (its size or its zeroed sum was damaged).
 */
#include "ledger/verify.h"

#include "core/arena.h"
#include "core/error.h"
#include "store/postings.h"
#include "store/txn.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TICK 4096u /* records between two progress calls */

struct vctx {
	MDB_txn *txn;
	const tpc_store_db_t *db;
	tpc_sums_from_t from;  /* records from these on must carry a sum */
	tpc_sums_from_t from6; /* settlements from these on are TPS2 (schema 6) */
	tpc_verify_problem_fn problem;
	tpc_verify_progress_fn progress;
	void *arg;
	tpc_verify_report_t *r;
	uint64_t done, total;
	const char *cur;           /* the sub-database being walked (progress) */
	tpc_arena_t *scratch;      /* decoded answers of schema 4, reset per answer */
	uint64_t parts;            /* accepted line parts that move money (lines walk) */
	uint64_t payable_postings; /* PAYABLE postings of lines (postings walk) */
	uint64_t last_seq;         /* the lines walk's previous sequence */
	tpc_lines_t lines;         /* reads line records in either layout */
	uint64_t unpaid_seq;       /* the sending of unpaid_bits (0: none yet) */
	const uint8_t *unpaid_bits;
	uint64_t unpaid_n;     /* bits in unpaid_bits */
	uint64_t derive_from;  /* first sequence whose postings are derived (store/postings.h) */
	uint64_t derived_next; /* the number after the last block's derived postings */
	uint32_t schema;
	tpc_balances_t seen;      /* what every posting, stored or derived, sums to */
	const MDB_val *block_key; /* the block whose postings are being checked */
};

static void report(struct vctx *c, const char *db, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct vctx *c, const char *db, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	c->r->problems++;
	c->problem(c->arg, db, key, what);
}

static void tick(struct vctx *c)
{
	if (++c->done % TICK == 0 && c->progress)
		c->progress(c->arg, c->cur, c->done, c->total);
}

/* A key of a sub-database without records of its own: numbers for the numeric keys
 * ("sequence S run R payment P"), the names of "sendings" and "invoices" with their NUL shown
 * as '/', hex for anything else (dedup's identities). */
static void key_text(const char *db, const MDB_val *k, char *out, size_t cap)
{
	const uint8_t *b = k->mv_data;
	size_t n = k->mv_size, o = 0;
	int text = n > 0;

	if (n == 20 && strcmp(db, "settlements") == 0) {
		snprintf(out, cap, "sequence %llu run %llu payment %u",
		         (unsigned long long)tpc_get_be64(b),
		         (unsigned long long)tpc_get_be64(b + 8), tpc_get_be32(b + 16));
		return;
	}
	if (n == 12 && strcmp(db, "payments") == 0) {
		snprintf(out, cap, "run %llu payment %u", (unsigned long long)tpc_get_be64(b),
		         tpc_get_be32(b + 8));
		return;
	}
	if (n == 12) { /* scheme_refs: a line's key */
		tpc_records_key_text(TPC_REC_LINES, k, out, cap);
		return;
	}
	for (size_t i = 0; i < n; i++)
		text &= b[i] == 0 || (isprint(b[i]) && b[i] != '/');
	out[0] = 0;
	for (size_t i = 0; i < n && o + 3 < cap; i++)
		o += (size_t)(text ? snprintf(out + o, cap - o, "%c", b[i] ? b[i] : '/')
		                   : snprintf(out + o, cap - o, "%02x", b[i]));
}

/* Report a record of sub-database @p db (records.h) under @p k. */
static void report_rec(struct vctx *c, enum tpc_rec_db db, const MDB_val *k, const char *what)
{
	char key[96];

	tpc_records_key_text(db, k, key, sizeof(key));
	report(c, tpc_records_db_name(db), key, "%s", what);
}

/* Count a decoded record: @p rc from its reader, @p sum its sum field (0: none), @p after
 * whether it was written after the raise to schema 5 (it must have one then).
 * @return 1 when the record can be used. */
static int count_rec(struct vctx *c, enum tpc_rec_db db, const MDB_val *k, int rc, uint64_t sum,
                     int after)
{
	if (rc) {
		c->r->damaged[db]++;
		report_rec(c, db, k, "checksum mismatch (or not a record of its size): damaged");
		return 0;
	}
	if (sum) {
		c->r->checked[db]++;
		return 1;
	}
	c->r->unchecked[db]++;
	if (after) {
		c->r->damaged[db]++;
		report_rec(c, db, k, "no checksum, yet written after the ledger became schema 5");
		return 0;
	}
	return 1;
}

static int exists(struct vctx *c, MDB_dbi dbi, const void *key, size_t n)
{
	MDB_val k = {n, (void *)key}, v;

	return mdb_get(c->txn, dbi, &k, &v) == 0;
}

/* Does sending @p seq have a line record (a block, or the first key of its prefix)? */
static int has_lines(struct vctx *c, uint64_t seq)
{
	uint8_t kb[12];
	MDB_val k = tpc_key_u64_u32(kb, seq, 0), v;
	MDB_cursor *cur;
	int rc;

	if (mdb_cursor_open(c->txn, c->db->lines, &cur))
		return 0;
	k.mv_size = 8; /* a block's key sorts before its sequence's records would */
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = rc == 0 && k.mv_size >= 8 && tpc_get_be64(k.mv_data) == seq;
	mdb_cursor_close(cur);
	return rc;
}

/* The line record (@p seq, @p line), in either layout. @return 1 when there and sound (a
 * damaged one is the lines walk's to report). */
static int get_line(struct vctx *c, uint64_t seq, uint32_t line, tpc_line_rec_t *out)
{
	return tpc_lines_get(&c->lines, seq, line, out, NULL) == 0;
}

/* The parts of a line that move money, as ledger.c's post() counts them (records.h). */
static unsigned line_parts(const tpc_line_rec_t *r, int64_t amount[2])
{
	return tpc_line_parts(r->outcome, r->accepted_cents, r->share_budget, r->patient_cents,
	                      amount);
}

/* One walk: every record of @p dbi, in key order, to @p visit. @return 0 or an LMDB code. */
typedef void (*visit_fn)(struct vctx *c, const MDB_val *k, const MDB_val *v);

static int walk(struct vctx *c, MDB_dbi dbi, const char *name, visit_fn visit)
{
	tpc_iter_t it;
	tpc_txn_t t;

	if (!dbi)
		return 0; /* "unpaid" of a ledger no engine of schema 6 opened (store/dbs.h) */
	c->cur = name;
	c->last_seq = 0;
	tpc_txn_wrap(&t, c->txn);
	tpc_txn_foreach(&it, &t, dbi, NULL, 0, 0)
	{
		tick(c);
		visit(c, &it.key, &it.val);
	}
	tpc_iter_close(&it);
	return t.ret;
}

/* ---- the records with checksums ------------------------------------------------------------ */

static void visit_answer(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	uint64_t seq = k->mv_size == 8 ? tpc_get_be64(k->mv_data) : 0;
	int rc = tpc_records_answer_check(v->mv_data, v->mv_size);
	tpc_answer_hdr_t h;
	tpc_stored_t st;

	if (!count_rec(c, TPC_REC_ANSWERS, k, rc < 0, rc == 0, seq >= c->from.sequence))
		return;
	/* an answer without a sum is at least decoded whole (lengths, LZ4) */
	tpc_arena_reset(c->scratch);
	if (tpc_records_answer_header_read(v->mv_data, v->mv_size, &h) ||
	    (rc == 1 && tpc_records_answer_decode(v->mv_data, v->mv_size, c->scratch, &st) != 0))
		report_rec(c, TPC_REC_ANSWERS, k, "cannot be decoded");
	else if (h.sequence != seq)
		report_rec(c, TPC_REC_ANSWERS, k, "its header names another sequence");
}

/* Is part @p part of line @p line of sending @p seq unpaid in "unpaid" (schema 6)? The value of
 * the sending asked last is kept: the lines walk asks line after line. A damaged value is the
 * unpaid walk's to report: it counts as no bit set here. */
static int unpaid_bit(struct vctx *c, uint64_t seq, uint32_t line, uint8_t part)
{
	uint8_t kb[8];
	MDB_val k = tpc_key_u64(kb, seq), v;
	tpc_unpaid_hdr_t h;
	uint64_t b = 2 * (uint64_t)line + part;

	if (!c->db->unpaid)
		return 0; /* a ledger no engine of schema 6 opened: none */
	if (c->unpaid_seq != seq) {
		c->unpaid_seq = seq;
		c->unpaid_bits = NULL;
		c->unpaid_n = 0;
		if (mdb_get(c->txn, c->db->unpaid, &k, &v) == 0 &&
		    tpc_records_unpaid_read(&v, &h, &c->unpaid_bits) == 0)
			c->unpaid_n = 2 * (uint64_t)h.nlines;
	}
	return b < c->unpaid_n && (c->unpaid_bits[b / 8] & (1u << (b % 8)));
}

/* One expected part of an accepted line: payable xor paid, the payable of its amount. */
static void check_part(struct vctx *c, const MDB_val *lk, uint8_t part, int64_t amount)
{
	uint8_t kb[TPC_PAYABLE_KEY];
	MDB_val k = {sizeof(kb), kb}, v;
	int payable, paid;
	tpc_payable_t p;
	char key[96];

	memcpy(kb, lk->mv_data, 12);
	kb[12] = part;
	payable = mdb_get(c->txn, c->db->payables, &k, &v) == 0 ||
	          unpaid_bit(c, tpc_get_be64(kb), tpc_get_be32(kb + 8), part);
	paid = exists(c, c->db->paid, kb, sizeof(kb));
	tpc_records_key_text(TPC_REC_PAYABLES, &k, key, sizeof(key));
	if (payable && paid)
		report(c, "paid", key, "the line part is both payable and paid");
	else if (!payable && !paid)
		report(c, "payables", key, "the accepted line part is neither payable nor paid");
	else if (payable && tpc_records_payable_read(&v, &p) == 0 && p.amount_cents != amount)
		report(c, "payables", key, "amount %lld cents, the line says %lld",
		       (long long)p.amount_cents, (long long)amount);
}

/* One line: its parts payable xor paid. @p k is its key as schema 5 wrote it. */
static void line_parts_check(struct vctx *c, const MDB_val *k, const tpc_line_rec_t *r)
{
	int64_t amount[2];
	unsigned parts = line_parts(r, amount);

	for (uint8_t part = 0; part < 2; part++)
		if (parts & (1u << part)) {
			c->parts++;
			check_part(c, k, part, amount[part]);
		}
}

/* A posting of a line (charge, payable): of an accepted line part, for its amount. @p db and
 * @p k name the record it was read from (a posting, or a lines block it is derived from). */
static void check_line_posting(struct vctx *c, enum tpc_rec_db db, const MDB_val *k,
                               const tpc_posting_rec_t *p)
{
	tpc_line_rec_t line;
	int64_t amount[2], want;

	if (p->kind == TPC_POST_PAYABLE)
		c->payable_postings++;
	if (!get_line(c, p->sequence, p->line, &line) || p->part > 1 ||
	    !(line_parts(&line, amount) & (1u << p->part))) {
		report_rec(c, db, k, "no accepted line part of its sequence and line");
		return;
	}
	want = p->kind == TPC_POST_CHARGE ? -amount[p->part] : amount[p->part];
	if (p->amount_cents != want) {
		char what[128];

		snprintf(what, sizeof(what), "amount %lld cents, its line says %lld",
		         (long long)p->amount_cents, (long long)want);
		report_rec(c, db, k, what);
	}
}

/* One posting, stored or derived: summed into its budget (and into the balances the stored
 * ones are compared with), checked against its line or its run. @return 1 when it is of no
 * budget or kind this engine knows (the rest of its record is skipped). */
static int check_posting(struct vctx *c, enum tpc_rec_db db, const MDB_val *k,
                         const tpc_posting_rec_t *p)
{
	uint8_t rk[8];

	if (p->budget >= TPC_BUDGET__COUNT || p->kind < TPC_POST_CHARGE ||
	    p->kind > TPC_POST_PAYOUT) {
		report_rec(c, db, k, "unknown budget or kind");
		return 1;
	}
	c->r->budget_cents[p->budget] += p->amount_cents;
	tpc_balances_count(&c->seen, p);
	if (p->kind == TPC_POST_CHARGE || p->kind == TPC_POST_PAYABLE)
		check_line_posting(c, db, k, p);
	else if (!p->run || !exists(c, c->db->payruns, tpc_key_u64(rk, p->run).mv_data, 8))
		report_rec(c, db, k, "a payment posting of no stored run");
	return 0;
}

/* A derived posting of the block in c->block_key (tpc_postings_of_block()). */
static int derived_posting(void *arg, const tpc_posting_rec_t *p, uint64_t num)
{
	struct vctx *c = arg;

	c->derived_next = num + 1;
	check_posting(c, TPC_REC_LINES, c->block_key, p);
	return 0;
}

/* A lines block (schema 6): its sums, then each of its lines. Counted as one record per line,
 * like the records it replaces. */
static void visit_block(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	uint64_t seq = tpc_get_be64(k->mv_data);
	tpc_lines_hdr_t h;
	uint8_t kb[12];

	if (tpc_records_lines_check(v, &h)) {
		int named = 0;

		/* the lines that fail their own sums are named; else the block itself */
		memcpy(&h, v->mv_data, v->mv_size < sizeof(h) ? v->mv_size : sizeof(h));
		for (uint32_t i = 0; v->mv_size >= sizeof(h) && i < h.nlines; i++) {
			MDB_val lk = tpc_key_u64_u32(kb, seq, i);

			if (!tpc_records_lines_line_damaged(v, i))
				continue;
			if (named++ == 100)
				break; /* a block of garbage: the first hundred are enough */
			c->r->damaged[TPC_REC_LINES]++;
			report_rec(c, TPC_REC_LINES, &lk, "checksum mismatch: damaged");
		}
		if (!named) {
			c->r->damaged[TPC_REC_LINES]++;
			report_rec(c, TPC_REC_LINES, k,
			           "lines block: checksum mismatch (or sizes that do not add up)");
		}
		return;
	}
	c->r->checked[TPC_REC_LINES] += h.nlines;
	if (!exists(c, c->db->answers, k->mv_data, 8))
		report_rec(c, TPC_REC_LINES, k, "no stored answer of its sequence");
	/* schema 7: its line postings are derived from it, numbered after the previous block's */
	if (seq >= c->derive_from) {
		if (h.first_posting < c->derived_next)
			report_rec(c, TPC_REC_LINES, k,
			           "its first posting number is below the previous block's last");
		c->derived_next = h.first_posting;
		c->block_key = k;
		tpc_postings_of_block(seq, v->mv_data, &h, derived_posting, c);
	}
	for (uint32_t i = 0; i < h.nlines; i++) {
		tpc_line_rec_t r;
		MDB_val lk = tpc_key_u64_u32(kb, seq, i);

		if (tpc_lines_get(&c->lines, seq, i, &r, NULL) == 0)
			line_parts_check(c, &lk, &r);
	}
}

static void visit_line(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	uint64_t seq = k->mv_size == 12 ? tpc_get_be64(k->mv_data) : 0;
	tpc_line_rec_t r;
	int rc;

	if (k->mv_size == 8) {
		visit_block(c, k, v);
		return;
	}
	rc = tpc_records_line_read(v, &r);
	if (!count_rec(c, TPC_REC_LINES, k, rc, rc ? 0 : r.sum, seq >= c->from.sequence))
		return;
	if (seq != c->last_seq && !exists(c, c->db->answers, k->mv_data, 8))
		report_rec(c, TPC_REC_LINES, k, "no stored answer of its sequence");
	c->last_seq = seq;
	line_parts_check(c, k, &r);
}

/* "unpaid" (schema 6): its sum, and each bit set an accepted line part that moves money. */
static void visit_unpaid(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	uint64_t seq = k->mv_size == 8 ? tpc_get_be64(k->mv_data) : 0;
	const uint8_t *bits;
	tpc_unpaid_hdr_t h;
	uint8_t kb[TPC_PAYABLE_KEY];
	int rc = seq ? tpc_records_unpaid_read(v, &h, &bits) : TPC_EDAMAGED;

	if (!count_rec(c, TPC_REC_UNPAID, k, rc, 1, 1))
		return;
	for (uint64_t b = 0; b < 2 * (uint64_t)h.nlines; b++) {
		tpc_line_rec_t r;
		int64_t amount[2];
		MDB_val pk;

		if (!(bits[b / 8] & (1u << (b % 8))))
			continue;
		if (get_line(c, seq, (uint32_t)(b / 2), &r) &&
		    (line_parts(&r, amount) & (1u << (b % 2))))
			continue;
		tpc_key_payable(kb, seq, (uint32_t)(b / 2), (uint8_t)(b % 2));
		pk = (MDB_val){sizeof(kb), kb};
		report_rec(c, TPC_REC_PAYABLES, &pk, "unpaid, yet no accepted line part");
	}
}

/* Payables and paid: of an accepted line part, and a paid one of a stored payment. */
static void visit_part(struct vctx *c, enum tpc_rec_db db, const MDB_val *key, const MDB_val *v)
{
	const uint8_t *k = key->mv_data;
	tpc_payable_t p = {0};
	tpc_paid_t d = {0};
	tpc_line_rec_t line;
	int64_t amount[2];
	uint8_t pk[12];
	int rc =
	    db == TPC_REC_PAID ? tpc_records_paid_read(v, &d) : tpc_records_payable_read(v, &p);

	if (!count_rec(c, db, key, rc || key->mv_size != TPC_PAYABLE_KEY,
	               db == TPC_REC_PAID ? d.sum : p.sum,
	               db == TPC_REC_PAID ? d.run >= c->from.run
	                                  : tpc_get_be64(k) >= c->from.sequence))
		return;
	if (!get_line(c, tpc_get_be64(k), tpc_get_be32(k + 8), &line) || k[12] > 1 ||
	    !(line_parts(&line, amount) & (1u << k[12])))
		report_rec(c, db, key, "no accepted line part of this key");
	if (db == TPC_REC_PAID &&
	    !exists(c, c->db->payments, tpc_key_u64_u32(pk, d.run, d.payment).mv_data, 12))
		report_rec(c, db, key, "the payment it names is not stored");
}

static void visit_payable(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	visit_part(c, TPC_REC_PAYABLES, k, v);
}

static void visit_paid(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	visit_part(c, TPC_REC_PAID, k, v);
}

/* A record of "postings": one posting, or a line part's pair of two (records.h), each summed
 * into its budget and checked against its line or its run. */
static void visit_posting(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	uint64_t n = k->mv_size == 8 ? tpc_get_be64(k->mv_data) : 0, num[2];
	tpc_posting_rec_t pp[2];
	int np = tpc_records_postings_read(k, v, pp, num);

	if (!count_rec(c, TPC_REC_POSTINGS, k, np < 0, np < 0 ? 0 : pp[0].sum,
	               n >= c->from.posting))
		return;
	for (int i = 0; i < np; i++)
		if (check_posting(c, TPC_REC_POSTINGS, k, &pp[i]))
			return;
}

/* ---- indexes ------------------------------------------------------------------------------- */

/* "sendings": (sender, key) -> the answer of its sequence, which names the same sender, key
 * and payload hash. */
static void visit_sending(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	const char *kb = k->mv_data;
	size_t sl = strnlen(kb, k->mv_size);
	uint64_t seq;
	uint8_t sk[8];
	MDB_val ak, av;
	tpc_answer_hdr_t h;
	char key[200];

	c->r->indexes++;
	key_text("sendings", k, key, sizeof(key));
	if (v->mv_size != 8 + TPC_HASH_LEN && v->mv_size != 8 + TPC_HASH_XXH3_LEN) {
		report(c, "sendings", key, "value of %zu bytes, not a sequence and a hash",
		       v->mv_size);
		return;
	}
	memcpy(&seq, v->mv_data, 8); /* LMDB aligns values on two bytes only */
	ak = tpc_key_u64(sk, seq);
	if (mdb_get(c->txn, c->db->answers, &ak, &av) != 0) {
		report(c, "sendings", key, "no stored answer under its sequence");
		return;
	}
	if (tpc_records_answer_header_read(av.mv_data, av.mv_size, &h))
		return; /* damaged: the answers walk reports it */
	if (sl >= k->mv_size || strncmp(h.sender, kb, sl + 1) != 0 ||
	    strlen(h.key) != k->mv_size - sl - 1 ||
	    memcmp(h.key, kb + sl + 1, k->mv_size - sl - 1) != 0 ||
	    v->mv_size != 8 + tpc_records_hash_len(h.flags) ||
	    memcmp(h.hash, (const uint8_t *)v->mv_data + 8, v->mv_size - 8) != 0)
		report(c, "sendings", key, "its answer names another sender, key or payload");
}

/* An index whose value is a sequence: "dedup" (a line identity: the sending has lines) and
 * "invoices" (an invoice number: the sending is stored). */
static void seq_index(struct vctx *c, const MDB_val *k, const MDB_val *v, int want_lines)
{
	uint64_t seq = 0;
	uint8_t sk[8];
	char key[200];

	c->r->indexes++;
	if (v->mv_size == 8)
		memcpy(&seq, v->mv_data, 8);
	if (v->mv_size == 8 &&
	    (want_lines ? has_lines(c, seq)
	                : exists(c, c->db->answers, tpc_key_u64(sk, seq).mv_data, 8)))
		return;
	key_text(c->cur, k, key, sizeof(key));
	report(c, c->cur, key, "points at sequence %llu, which has no %s", (unsigned long long)seq,
	       want_lines ? "line" : "stored answer");
}

static void visit_dedup(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	seq_index(c, k, v, 1);
}

static void visit_invoice(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	seq_index(c, k, v, 0);
}

/* A settlement's own sum (TPS2; a TPS1 value of an older run has none): decoded in the
 * scratch arena, which is reset for each. @return 1 when it can be used. */
static int settlement_sum(struct vctx *c, const MDB_val *k, const MDB_val *v)
{
	tpc_settlement_view_t sv;
	uint32_t magic = 0;
	int rc;

	tpc_arena_reset(c->scratch);
	rc = tpc_records_settlement_decode(v->mv_data, v->mv_size, c->scratch, &sv);
	if (rc == TPC_ENOMEM)
		return 1; /* not damage: the walk goes on */
	if (v->mv_size >= 4)
		memcpy(&magic, v->mv_data, 4);
	return count_rec(c, TPC_REC_SETTLEMENTS, k, rc, magic == TPC_SETTLEMENT_MAGIC,
	                 k->mv_size == 20 &&
	                     tpc_get_be64((const uint8_t *)k->mv_data + 8) >= c->from6.run);
}

/* "scheme_refs" -> its line; "settlements" -> its payment and its sending; "payments" -> its
 * run. The key of each names what it points at; c->cur says which index this is. */
static void visit_keyed_index(struct vctx *c, const MDB_val *key, const MDB_val *v)
{
	const uint8_t *k = key->mv_data;
	size_t n = key->mv_size;
	tpc_scheme_ref_view_t sr;
	tpc_line_rec_t line;
	char text[200];
	int ok;

	c->r->indexes++;
	if (strcmp(c->cur, "scheme_refs") == 0)
		ok = n == 12 && get_line(c, tpc_get_be64(k), tpc_get_be32(k + 8), &line) &&
		     tpc_records_scheme_ref_read(v, &sr) == 0;
	else if (strcmp(c->cur, "settlements") == 0 && !settlement_sum(c, key, v))
		return; /* damaged: reported as such */
	else if (strcmp(c->cur, "settlements") == 0)
		ok = n == 20 && exists(c, c->db->payments, k + 8, 12) &&
		     exists(c, c->db->answers, k, 8);
	else
		ok = n == 12 && exists(c, c->db->payruns, k, 8);
	if (ok)
		return;
	key_text(c->cur, key, text, sizeof(text));
	report(c, c->cur, text, "points at a record that is not stored (or is unreadable)");
}

/* Where the checksummed records begin: meta "sums_from" in a store raised to schema 5, the
 * start in a store made at 5, nowhere in a store not yet raised (tpc_store_open_readonly()
 * opens schemas 3 and 4 as they are). */
static int sums_from(struct vctx *c)
{
	MDB_val k = {6, "schema"}, f = {9, "sums_from"}, v;
	MDB_val f6 = {sizeof(TPC_SCHEMA6_FROM) - 1, TPC_SCHEMA6_FROM};
	uint32_t schema = 0;
	int rc;

	if ((rc = mdb_get(c->txn, c->db->meta, &k, &v)))
		return rc;
	if (v.mv_size == 4)
		memcpy(&schema, v.mv_data, 4);
	c->schema = schema;
	if ((rc = tpc_postings_derive_from(c->txn, c->db, &c->derive_from)))
		return rc;
	memset(&c->from, schema < 5 ? 0xff : 0, sizeof(c->from));
	memset(&c->from6, schema < 6 ? 0xff : 0, sizeof(c->from6));
	rc = mdb_get(c->txn, c->db->meta, &f, &v);
	if (rc == 0 && v.mv_size == sizeof(c->from))
		memcpy(&c->from, v.mv_data, sizeof(c->from));
	else if (rc == 0)
		report(c, "meta", "sums_from", "value of %zu bytes", v.mv_size);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	/* the same for schema 6's settlement sums */
	rc = mdb_get(c->txn, c->db->meta, &f6, &v);
	if (rc == 0 && v.mv_size == sizeof(c->from6))
		memcpy(&c->from6, v.mv_data, sizeof(c->from6));
	else if (rc == 0)
		report(c, "meta", TPC_SCHEMA6_FROM, "value of %zu bytes", v.mv_size);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One walk of tpc_verify_run(). */
struct walk_def {
	MDB_dbi dbi;
	const char *name;
	visit_fn visit;
};

/* Schema 7: the running balances (meta "balances") against what every posting sums to, kind by
 * kind, and each budget's row summing to zero. */
static void check_balances(struct vctx *c)
{
	static const char *const kinds[4] = {"charge", "payable", "settle", "payout"};
	tpc_balances_t b;
	int rc = tpc_balances_get(c->txn, c->db, &b);
	char n[64];

	if (rc == TPC_EDAMAGED || (rc && rc != MDB_NOTFOUND)) {
		c->r->damaged[TPC_REC_POSTINGS]++;
		report(c, "meta", TPC_BALANCES_KEY, "checksum mismatch (or a size not its own)");
		return;
	}
	if (b.postings != c->seen.postings)
		report(c, "meta", TPC_BALANCES_KEY, "counts %llu postings, the ledger holds %llu",
		       (unsigned long long)b.postings, (unsigned long long)c->seen.postings);
	for (unsigned i = 0; i < TPC_BALANCES_BUDGETS; i++) {
		int64_t row = 0;

		snprintf(n, sizeof(n), "%s %s", TPC_BALANCES_KEY, tpc_budget_name(i));
		for (unsigned j = 0; j < 4; j++) {
			row += b.cents[i][j];
			if (b.cents[i][j] != c->seen.cents[i][j])
				report(c, "meta", n, "%s %lld cents, its postings sum to %lld",
				       kinds[j], (long long)b.cents[i][j],
				       (long long)c->seen.cents[i][j]);
		}
		if (b.insured[i] != c->seen.insured[i])
			report(c, "meta", n, "payable to insured %lld cents, its postings %lld",
			       (long long)b.insured[i], (long long)c->seen.insured[i]);
		if (row)
			report(c, "meta", n, "sums to %lld cents, not 0", (long long)row);
	}
}

/* The totals that need every walk: the budgets' sums, and as many payable postings as line
 * parts that move money. */
static void totals(struct vctx *c)
{
	char n[32];

	for (unsigned b = 0; b < TPC_BUDGET__COUNT; b++)
		if (c->r->budget_cents[b])
			report(c, "postings", tpc_budget_name(b),
			       "the budget sums to %lld cents, not 0",
			       (long long)c->r->budget_cents[b]);
	if (c->schema >= 7)
		check_balances(c);
	snprintf(n, sizeof(n), "%llu parts", (unsigned long long)c->parts);
	if (c->payable_postings != c->parts)
		report(c, "postings", n,
		       "%llu payable postings of lines for %llu accepted line parts",
		       (unsigned long long)c->payable_postings, (unsigned long long)c->parts);
}

int tpc_verify_run(MDB_txn *txn, const tpc_store_db_t *db, tpc_verify_problem_fn problem,
                   tpc_verify_progress_fn progress, void *arg, tpc_verify_report_t *out)
{
	/* the records first (each reports its own damage), then what points at them */
	const struct walk_def walks[] = {
	    {db->answers, "answers", visit_answer},
	    {db->lines, "lines", visit_line},
	    {db->payables, "payables", visit_payable},
	    {db->paid, "paid", visit_paid},
	    {db->unpaid, "unpaid", visit_unpaid},
	    {db->postings, "postings", visit_posting},
	    {db->sendings, "sendings", visit_sending},
	    {db->dbs.dedup, "dedup", visit_dedup},
	    {db->dbs.invoices, "invoices", visit_invoice},
	    {db->scheme_refs, "scheme_refs", visit_keyed_index},
	    {db->settlements, "settlements", visit_keyed_index},
	    {db->payments, "payments", visit_keyed_index},
	};
	struct vctx c = {.txn = txn,
	                 .db = db,
	                 .lines = {.txn = txn, .dbi = db->lines},
	                 .problem = problem,
	                 .progress = progress,
	                 .arg = arg,
	                 .r = out,
	                 .cur = ""};
	MDB_stat st;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tpc_arena_new(1 << 16, (size_t)1 << 31, &c.scratch)))
		return rc;
	for (i = 0; i < sizeof(walks) / sizeof(walks[0]); i++)
		if (walks[i].dbi && mdb_stat(txn, walks[i].dbi, &st) == 0)
			c.total += st.ms_entries; /* the progress's total */
	rc = sums_from(&c);
	for (i = 0; !rc && i < sizeof(walks) / sizeof(walks[0]); i++)
		rc = walk(&c, walks[i].dbi, walks[i].name, walks[i].visit);
	if (!rc)
		totals(&c);
	if (progress)
		progress(arg, "done", c.done, c.total);
	tpc_arena_free(&c.scratch);
	return tpc_err_from_mdb(rc);
}
