/* engine/store/postings.c - the postings as every reader sees them (see postings.h).
 *
 * Two appended streams, each in number order: the records of "postings" and the blocks of
 * "lines" from meta "schema7_from" on. Their numbers come from one counter (the writer's), so
 * a merge by number gives the order they were posted in, and an export page that ends on a
 * number resumes after it in either stream.
 */
#include "store/postings.h"

#include "clearing/budget.h"
#include "core/error.h"
#include "store/txn.h"

#include <string.h>

_Static_assert(TPC_BUDGET__COUNT <= TPC_BALANCES_BUDGETS, "a balances row per budget");

int tpc_postings_derive_from(MDB_txn *txn, const tpc_store_db_t *db, uint64_t *out)
{
	MDB_val k = {6, "schema"}, f = {sizeof(TPC_SCHEMA7_FROM) - 1, TPC_SCHEMA7_FROM}, v;
	uint32_t schema = 0;
	tpc_sums_from_t from;
	int rc;

	*out = UINT64_MAX;
	if ((rc = mdb_get(txn, db->meta, &k, &v)))
		return rc == MDB_NOTFOUND ? 0 : rc; /* an empty store: nothing to derive */
	if (v.mv_size == 4)
		memcpy(&schema, v.mv_data, 4);
	if (schema < 7)
		return 0;
	/* raised to 7: the sendings before the raise have their pairs stored */
	rc = mdb_get(txn, db->meta, &f, &v);
	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (v.mv_size != sizeof(from))
		return MDB_CORRUPTED;
	memcpy(&from, v.mv_data, sizeof(from));
	*out = from.sequence;
	return 0;
}

/* Line part @p part of line @p r (its invoice's payee @p y) as the pair the writer of schema 6
 * stored: the same expansion (records.c) gives the same two postings. */
static void derive_pair(uint64_t seq, uint32_t line, const tpc_line6_t *r,
                        const tpc_line_payee_t *y, uint8_t part, int64_t amount,
                        const tpc_lines_hdr_t *h, tpc_posting_rec_t out[2])
{
	tpc_posting_pair_t q;

	memset(&q, 0, sizeof(q));
	q.sequence = seq;
	q.line = line;
	q.budget = part ? r->share_budget : r->budget;
	q.payee_kind = y->payee_kind;
	q.part = part;
	q.amount_cents = amount;
	q.at_ms = h->committed_ms;
	memcpy(q.payee, y->payee, sizeof(q.payee));
	q.payee[sizeof(q.payee) - 1] = 0;
	/* the block's sum stands for the pair's: non-zero, so no reader takes it for a posting
	 * written before checksums */
	q.sum = h->sum;
	tpc_records_pair_expand(&q, out);
}

/* From (line, part) on in block @p blk, the next part that moves money: its pair in @p out.
 * @return 1, or 0 when the block has no part left. */
static int block_next(const uint8_t *blk, const tpc_lines_hdr_t *h, uint64_t seq, uint32_t *line,
                      uint8_t *part, tpc_posting_rec_t out[2])
{
	const uint8_t *inv = blk + sizeof(*h);
	const uint8_t *lines = inv + (size_t)h->ninvoices * sizeof(tpc_line_payee_t);

	for (; *line < h->nlines; (*line)++, *part = 0) {
		tpc_line6_t r;
		tpc_line_payee_t y;
		int64_t amount[2];
		unsigned parts;

		memcpy(&r, lines + (size_t)*line * sizeof(r), sizeof(r));
		parts = tpc_line_parts(r.outcome, r.accepted_cents, r.share_budget, r.patient_cents,
		                       amount);
		for (; *part < 2; (*part)++) {
			if (!(parts & (1u << *part)))
				continue;
			memset(&y, 0, sizeof(y));
			if (r.invoice < h->ninvoices)
				memcpy(&y, inv + (size_t)r.invoice * sizeof(y), sizeof(y));
			derive_pair(seq, *line, &r, &y, *part, amount[*part], h, out);
			(*part)++;
			return 1;
		}
	}
	return 0;
}

int tpc_postings_of_block(uint64_t seq, const uint8_t *block, const tpc_lines_hdr_t *h,
                          tpc_postings_fn fn, void *arg)
{
	tpc_posting_rec_t pp[2];
	uint64_t num = h->first_posting;
	uint32_t line = 0;
	uint8_t part = 0;
	int rc = 0;

	while (!rc && block_next(block, h, seq, &line, &part, pp)) {
		if (!(rc = fn(arg, &pp[0], num)))
			rc = fn(arg, &pp[1], num + 1);
		num += 2;
	}
	return rc;
}

static int bad(tpc_postings_t *it, enum tpc_rec_db db, const MDB_val *k)
{
	it->bad_db = db;
	it->bad.mv_size = k->mv_size < sizeof(it->bad_key) ? k->mv_size : sizeof(it->bad_key);
	memcpy(it->bad_key, k->mv_data, it->bad.mv_size);
	it->bad.mv_data = it->bad_key;
	return TPC_EDAMAGED;
}

/* The next stored record into it->sp (op: MDB_NEXT, or the first positioning). */
static int stored_fill(tpc_postings_t *it, MDB_cursor_op op, MDB_val *k)
{
	MDB_val v;
	int rc = mdb_cursor_get(it->stored, k, &v, op);

	it->si = it->sn = 0;
	if (rc == MDB_NOTFOUND) {
		it->s_end = 1;
		return 0;
	}
	if (rc)
		return rc;
	if ((it->sn = tpc_records_postings_read(k, &v, it->sp, it->snum)) < 0) {
		it->sn = 0;
		return bad(it, TPC_REC_POSTINGS, k);
	}
	return 0;
}

/* The next block of the derived stream (op: MDB_NEXT, or the first positioning): its sums
 * checked once, its numbers from its header. A sending without lines has no block. */
static int block_fill(tpc_postings_t *it, MDB_cursor_op op, MDB_val *k)
{
	MDB_val v;
	int rc = mdb_cursor_get(it->lines, k, &v, op);

	it->blk = NULL;
	if (rc == MDB_NOTFOUND) {
		it->d_end = 1;
		return 0;
	}
	if (rc)
		return rc;
	if (k->mv_size != 8 || tpc_records_lines_check(&v, &it->h))
		return bad(it, TPC_REC_LINES, k);
	it->blk = v.mv_data;
	it->seq = tpc_get_be64(k->mv_data);
	it->dnum = it->h.first_posting;
	it->line = 0;
	it->part = 0;
	return 0;
}

/* The derived pair held, or the next one (next blocks as needed). @return 0 or an error. */
static int derived(tpc_postings_t *it)
{
	MDB_val k;
	int rc;

	while (it->di >= it->dn && !it->d_end) {
		it->di = it->dn = 0;
		if (it->blk && block_next(it->blk, &it->h, it->seq, &it->line, &it->part, it->dp)) {
			it->dpnum[0] = it->dnum;
			it->dpnum[1] = it->dnum + 1;
			it->dnum += 2;
			it->dn = 2;
			while (it->di < it->dn && it->dpnum[it->di] < it->from)
				it->di++;
			continue;
		}
		if ((rc = block_fill(it, MDB_NEXT, &k)))
			return rc;
	}
	return 0;
}

/* The stored posting held, or the next one. @return 0 or an error. */
static int stored(tpc_postings_t *it)
{
	MDB_val k;
	int rc;

	while (it->si >= it->sn && !it->s_end) {
		if ((rc = stored_fill(it, MDB_NEXT, &k)))
			return rc;
		while (it->si < it->sn && it->snum[it->si] < it->from)
			it->si++;
	}
	return 0;
}

/* The last block whose first posting is at most it->from: a bisection over the sequences
 * (first postings grow with them), then the walk skips the numbers before it->from. */
static int seek_block(tpc_postings_t *it, uint64_t last)
{
	uint64_t lo = it->derive_from, hi = last;
	uint8_t kb[8];
	MDB_val k, v;
	tpc_lines_hdr_t h;
	int rc;

	while (it->from > 1 && lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2, s;

		k = tpc_key_u64(kb, mid);
		if ((rc = mdb_cursor_get(it->lines, &k, &v, MDB_SET_RANGE)))
			return rc;
		s = k.mv_size == 8 ? tpc_get_be64(k.mv_data) : hi;
		if (v.mv_size >= sizeof(h))
			memcpy(&h, v.mv_data, sizeof(h));
		if (k.mv_size == 8 && v.mv_size >= sizeof(h) && h.first_posting <= it->from &&
		    s <= hi)
			lo = s;
		else
			hi = mid - 1;
	}
	k = tpc_key_u64(kb, lo);
	return block_fill(it, MDB_SET_RANGE, &k);
}

/* The body of tpc_postings_open(): may leave a cursor open when it fails, which the caller
 * closes. */
static int open_walk(tpc_postings_t *it, MDB_txn *txn, const tpc_store_db_t *db, uint64_t from)
{
	uint8_t kb[8];
	MDB_val k, v;
	int rc;

	memset(it, 0, sizeof(*it));
	it->txn = txn;
	it->from = from;
	it->d_end = 1;
	if ((rc = tpc_postings_derive_from(txn, db, &it->derive_from)))
		return rc;
	if ((rc = mdb_cursor_open(txn, db->postings, &it->stored)))
		return rc;
	/* from the record holding from - 1: it may be a pair whose payable is from */
	k = tpc_key_u64(kb, from > 1 ? from - 1 : 0);
	rc = stored_fill(it, MDB_SET_RANGE, &k);
	while (!rc && it->si < it->sn && it->snum[it->si] < from)
		it->si++;
	if (rc || it->derive_from == UINT64_MAX)
		return rc == TPC_EDAMAGED ? 0 : rc; /* damage: reported by the first next() */
	if ((rc = mdb_cursor_open(txn, db->lines, &it->lines)))
		return rc;
	it->d_end = 0;
	k = tpc_key_u64(kb, UINT64_MAX);
	if ((rc = mdb_cursor_get(it->lines, &k, &v, MDB_LAST)) == MDB_NOTFOUND) {
		it->d_end = 1;
		return 0;
	}
	if (rc || k.mv_size != 8 || tpc_get_be64(k.mv_data) < it->derive_from) {
		it->d_end = 1; /* no block since the raise (a 12-byte key: schema 3-5 records) */
		return rc;
	}
	rc = seek_block(it, tpc_get_be64(k.mv_data));
	return rc == TPC_EDAMAGED ? 0 : rc;
}

int tpc_postings_open(tpc_postings_t *it, MDB_txn *txn, const tpc_store_db_t *db, uint64_t from)
{
	int rc = open_walk(it, txn, db, from);

	/* "then nothing to close" (postings.h): LMDB never frees a read transaction's cursors
	 * itself, and a damaged page met on the way must not leak one per query */
	if (rc)
		tpc_postings_close(it);
	return rc;
}

int tpc_postings_next(tpc_postings_t *it, tpc_posting_rec_t *p, uint64_t *num)
{
	int rc, s, d;

	if (it->bad.mv_data)
		return TPC_EDAMAGED; /* met at open or in a previous call: the walk stops there */
	if ((rc = stored(it)) || (rc = derived(it)))
		return rc;
	s = it->si < it->sn;
	d = it->di < it->dn;
	if (!s && !d)
		return 0;
	/* the lower number first; equal numbers would be damage, the stored one goes first */
	if (s && (!d || it->snum[it->si] <= it->dpnum[it->di])) {
		*p = it->sp[it->si];
		*num = it->snum[it->si++];
	} else {
		*p = it->dp[it->di];
		*num = it->dpnum[it->di++];
	}
	return 1;
}

void tpc_postings_close(tpc_postings_t *it)
{
	if (it->stored)
		mdb_cursor_close(it->stored);
	if (it->lines)
		mdb_cursor_close(it->lines);
	it->stored = it->lines = NULL;
}

/* Counts the postings a block derives (tpc_postings_next_number()). */
static int count_one(void *arg, const tpc_posting_rec_t *p, uint64_t num)
{
	(void)p;
	*(uint64_t *)arg = num + 1;
	return 0;
}

int tpc_postings_next_number(MDB_txn *txn, const tpc_store_db_t *db, uint64_t *out)
{
	uint64_t from, next = 1;
	MDB_cursor *cur;
	tpc_lines_hdr_t h;
	MDB_val k, v;
	int rc;

	if ((rc = tpc_postings_derive_from(txn, db, &from)) ||
	    (rc = mdb_cursor_open(txn, db->postings, &cur)))
		return rc;
	/* the last key is the last number used, plus its pair's payable (records.h) */
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == 0 && k.mv_size == 8)
		next = tpc_get_be64(k.mv_data) + (v.mv_size == sizeof(tpc_posting_pair_t) ? 2 : 1);
	else if (rc != MDB_NOTFOUND)
		return rc ? rc : MDB_CORRUPTED;
	*out = next;
	if (from == UINT64_MAX)
		return 0;
	if ((rc = mdb_cursor_open(txn, db->lines, &cur)))
		return rc;
	/* the last block: its first posting, then two per part it derives */
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 8 || tpc_get_be64(k.mv_data) < from)))
		return 0;
	if (rc)
		return rc;
	if (tpc_records_lines_check(&v, &h))
		return TPC_EDAMAGED;
	next = h.first_posting;
	tpc_postings_of_block(tpc_get_be64(k.mv_data), v.mv_data, &h, count_one, &next);
	*out = next > *out ? next : *out;
	return 0;
}

/* ---- running balances ---------------------------------------------------------------------- */

void tpc_balances_count(tpc_balances_t *b, const tpc_posting_rec_t *p)
{
	if (p->budget >= TPC_BALANCES_BUDGETS || p->kind < TPC_POST_CHARGE ||
	    p->kind > TPC_POST_PAYOUT)
		return;
	b->postings++;
	b->cents[p->budget][p->kind - 1] += p->amount_cents;
	if (p->kind == TPC_POST_PAYABLE && p->payee_kind == TPC_PAYEE_INSURED)
		b->insured[p->budget] += p->amount_cents;
}

int tpc_balances_get(MDB_txn *txn, const tpc_store_db_t *db, tpc_balances_t *out)
{
	MDB_val k = {sizeof(TPC_BALANCES_KEY) - 1, TPC_BALANCES_KEY}, v;
	int rc = mdb_get(txn, db->meta, &k, &v);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	return tpc_records_balances_read(&v, out);
}

int tpc_balances_add(MDB_txn *txn, const tpc_store_db_t *db, const tpc_balances_t *delta)
{
	MDB_val k = {sizeof(TPC_BALANCES_KEY) - 1, TPC_BALANCES_KEY}, v;
	tpc_balances_t b;
	int rc = tpc_balances_get(txn, db, &b);

	/* read back in this transaction, which sees the sendings before it in the group. A
	 * damaged value is left as it is, for tpclear verify to report, and the sending or run
	 * commits: the postings are what the ledger is, the balances only check them. */
	if (rc == TPC_EDAMAGED) {
		tpc_records_damaged(TPC_REC_POSTINGS, &k);
		return 0;
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	b.postings += delta->postings;
	for (unsigned i = 0; i < TPC_BALANCES_BUDGETS; i++) {
		for (unsigned j = 0; j < 4; j++)
			b.cents[i][j] += delta->cents[i][j];
		b.insured[i] += delta->insured[i];
	}
	tpc_records_balances_seal(&b);
	v.mv_data = &b;
	v.mv_size = sizeof(b);
	return mdb_put(txn, db->meta, &k, &v, 0);
}

int tpc_balances_compute(MDB_txn *txn, const tpc_store_db_t *db, tpc_balances_t *out)
{
	tpc_postings_t it;
	tpc_posting_rec_t p;
	uint64_t num;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tpc_postings_open(&it, txn, db, 0)))
		return rc;
	while ((rc = tpc_postings_next(&it, &p, &num)) == 1)
		tpc_balances_count(out, &p);
	tpc_postings_close(&it);
	return rc;
}
