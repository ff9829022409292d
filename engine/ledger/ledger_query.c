/* engine/ledger/ledger_query.c - balances, histories, exports and settlements (see ledger_query.h).
 *
 * Every query runs on a worker inside the one read transaction tpc_ledger_query() opens, so an
 * answer reads one snapshot: a balance never sees half of a payment run, a history never a
 * line without its payment. LMDB's bytes are only valid until that transaction ends, and the
 * loop thread sends the answer later, so whatever an answer points to is copied into the job's
 * arena (str(), the protobuf allocator below) and packed there by finish().
 *
 * Refusals follow whose fault it is: a malformed request or an unknown target is the
 * requester's (T00022, T00024), a store that cannot be read is ours (T00011). A record that
 * fails its checksum or cannot be a record of its sub-database refuses the whole answer
 * (T00055, named in the log by damaged()): a balance or a history without it would be a wrong
 * answer, not a partial one.
 */
#include "ledger/ledger_query.h"

#include "clearing/budget.h"
#include "core/codes.h"
#include "common/check.h"
#include "common/date.h"
#include "core/error.h"
#include "core/utf8.h"
#include "store/postings.h"
#include "store/records.h"
#include "store/txn.h"
#include "clearing/schemes.h"
#include "ledger/statement.h"
#include "tpclear.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* No answer is unbounded (ledger_query.h): an export or a payee view answers at most a page
 * and says where to resume (next_after); a history stops at SHOW_MAX_LINES lines. */
#define EXPORT_PAGE    10000u
#define SHOW_MAX_LINES 100000u

/* protobuf-c unpacks requests and stored settlements into the job's arena: nothing is freed
 * one by one, the whole arena goes when the loop thread recycles the job, hence pa_free() does
 * nothing. */
static void *pa_alloc(void *data, size_t size)
{
	return tpc_arena_alloc(data, size ? size : 1, 8);
}

static void pa_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

/* Refuse the query with @p code (codes.h) and its text: the requester gets a coded answer and
 * the worker goes on with the next job. */
static void fail(tpc_job_t *job, const char *code)
{
	job->status = TPC_JOB_FAILED;
	job->fail_code = code;
	job->fail_reason = tpc_codes_describe(code);
}

/* Note a damaged record of @p db under @p key (records.h) and fail the walk that read it: the
 * sticky error carries TPC_EDAMAGED up to tpc_ledger_query(), which answers T00055. */
static void damaged(tpc_txn_t *t, enum tpc_rec_db db, const MDB_val *key)
{
	tpc_records_damaged(db, key);
	tpc_txn_fail(t, TPC_EDAMAGED);
}

/* A posting's kind by the name docs/ledger.md and the export's CSV use. A kind this build does
 * not know exports as "" rather than failing the page. */
static const char *kind_name(unsigned k)
{
	switch (k) {
	case TPC_POST_CHARGE:
		return "charge";
	case TPC_POST_PAYABLE:
		return "payable";
	case TPC_POST_SETTLE:
		return "settle";
	case TPC_POST_PAYOUT:
		return "payout";
	default:
		return "";
	}
}

/* Pack @p ans into the job's arena as its answer. The correlation is the requester's: with
 * several requests in flight on one connection, it is how the client pairs the answer. Out of
 * arena (a bounded amount per job), the query is refused rather than answered in part. */
static int finish(tpc_job_t *job, Tpclear__Answer *ans)
{
	size_t n;
	uint8_t *buf;

	ans->version = 1;
	ans->correlation = job->correlation;
	/* a SHOW echoes its target, the sender's own bytes (core/utf8.h) */
	if (tpc_utf8_fix_message(&ans->base, tpc_arena_host_alloc, job->arena) != 0) {
		fail(job, TPC_CODE_TOO_MANY);
		return TPC_ENOMEM;
	}
	n = tpclear__answer__get_packed_size(ans);
	buf = tpc_arena_alloc(job->arena, n ? n : 1, 8);
	if (!buf) {
		fail(job, TPC_CODE_TOO_MANY);
		return TPC_ENOMEM;
	}
	job->result = buf;
	job->result_len = tpclear__answer__pack(ans, buf);
	job->answer_ready = 1;
	job->status = TPC_JOB_FOUND;
	return 0;
}

/* A fixed-width record field as a C string in the arena: record fields are NUL-padded, and
 * one that fills its width has no NUL at all, hence strnlen. */
static char *str(tpc_arena_t *a, const char *s, size_t n)
{
	size_t l = strnlen(s, n);

	return tpc_arena_strndup(a, s, l);
}

/* End of day @p yyyymmdd in unix ms; UINT64_MAX for 0 (now). @return 0 or TPC_EINVAL.
 * Days are UTC days (postings carry UTC commit times), inclusive: "--at 2026-11-30" is the
 * balance at 23:59:59.999 that day. Dates before 1970 cannot hold a posting and are refused.
 * A refusal fails @p job with T00022 and a reason naming the field, the value and the rule
 * (common/date.h, the client's own check), copied into the job's arena. */
static int day_end_ms(tpc_job_t *job, const char *field, int32_t yyyymmdd, uint64_t *out)
{
	char why[160], reason[200];
	int32_t d;

	if (yyyymmdd == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (yyyymmdd < 0) {
		snprintf(why, sizeof(why), "%d: not a date (YYYYMMDD)", yyyymmdd);
	} else if (tpc_date_check((uint32_t)yyyymmdd, &d, why, sizeof(why)) == 0) {
		if (d >= 0) {
			*out = ((uint64_t)d + 1) * 86400000u - 1;
			return 0;
		}
		snprintf(why, sizeof(why), "%d: before 1970, when no posting can be", yyyymmdd);
	}
	fail(job, TPC_CODE_BAD_LEDGER_REQ);
	snprintf(reason, sizeof(reason), "ledger request refused: %s %s", field, why);
	job->fail_reason = tpc_arena_strndup(job->arena, reason, strlen(reason));
	if (!job->fail_reason)
		job->fail_reason = tpc_codes_describe(TPC_CODE_BAD_LEDGER_REQ);
	return TPC_EINVAL;
}

/* Add one posting to its budget's balance. The kinds are summed apart because the balance
 * answers two questions: what a budget owes (charged, payable, settled) and what left its bank
 * account (paid out). */
static void balance_add(Tpclear__BudgetBalance *x, const tpc_posting_rec_t *p)
{
	x->postings++;
	x->sum_cents += p->amount_cents;
	switch (p->kind) {
	case TPC_POST_CHARGE:
		x->charged_cents += p->amount_cents;
		break;
	case TPC_POST_PAYABLE:
		x->payable_cents += p->amount_cents;
		if (p->payee_kind == TPC_PAYEE_INSURED)
			x->insured_cents += p->amount_cents;
		else
			x->third_party_cents += p->amount_cents;
		break;
	case TPC_POST_SETTLE:
		x->settled_cents += p->amount_cents;
		break;
	case TPC_POST_PAYOUT:
		x->paid_out_cents += p->amount_cents;
		break;
	}
}

/* `tpclear ledger balance`: per budget, charged, paid out and owed, from the postings committed
 * up to the end of rq->at (docs/ledger.md, Queries). The balances are computed, never stored:
 * the postings are the only record, so a balance cannot drift from them. A budget filter or a
 * date the requester got wrong is refused T00022 before anything is read. */
static int balance(MDB_txn *txn, const tpc_store_db_t *db, const Tpclear__LedgerRequest *rq,
                   tpc_job_t *job, Tpclear__LedgerAnswer *la)
{
	Tpclear__BudgetBalance *b, **bp;
	enum tpc_budget only = TPC_BUDGET_NONE;
	uint64_t until, num;
	tpc_postings_t it;
	tpc_posting_rec_t p;
	tpc_txn_t t;
	int rc;

	if (rq->budget[0] && tpc_budget_by_name(rq->budget, &only)) {
		fail(job, TPC_CODE_BAD_LEDGER_REQ);
		return TPC_EINVAL;
	}
	if (day_end_ms(job, "at", rq->at, &until))
		return TPC_EINVAL;
	b = tpc_arena_alloc(job->arena, TPC_BUDGET__COUNT * sizeof(*b), 8);
	bp = tpc_arena_alloc(job->arena, TPC_BUDGET__COUNT * sizeof(*bp), 8);
	if (!b || !bp)
		return TPC_ENOMEM;
	for (unsigned i = 0; i < TPC_BUDGET__COUNT; i++) {
		tpclear__budget_balance__init(&b[i]);
		b[i].budget = (char *)tpc_budget_name(i);
	}
	/* every posting, stored or derived from a lines block (store/postings.h): a balance at a
	 * date is the sum of what was posted up to it */
	tpc_txn_wrap(&t, txn);
	if ((rc = tpc_postings_open(&it, txn, db, 0)))
		return tpc_err_from_mdb(rc);
	while ((rc = tpc_postings_next(&it, &p, &num)) == 1) {
		/* (appended in commit order, but the wall clock may step back) */
		if (p.at_ms > until || p.budget >= TPC_BUDGET__COUNT || (only && p.budget != only))
			continue;
		balance_add(&b[p.budget], &p);
	}
	tpc_postings_close(&it);
	if (rc == TPC_EDAMAGED)
		damaged(&t, it.bad_db, &it.bad);
	else
		tpc_txn_fail(&t, rc);
	if (t.ret)
		return tpc_err_from_mdb(t.ret);
	/* Budget 0 (NONE) names no budget and is not reported. Owed = payable + settle (settle
	 * is negative): what payees still have to receive. total_cents is the sum over the
	 * budgets answered, which the double entry keeps at 0; the CLI prints it as the last row,
	 * so a ledger that no longer balances shows at once. */
	for (unsigned i = 1; i < TPC_BUDGET__COUNT; i++) {
		if (only && i != only)
			continue;
		b[i].owed_cents = b[i].payable_cents + b[i].settled_cents;
		la->total_cents += b[i].sum_cents;
		bp[la->n_balances++] = &b[i];
	}
	la->balances = bp;
	return 0;
}

/* One posting of an export, its account copied into the job's arena (@p p is the caller's
 * stack copy of the record, gone before the answer is packed). @return NULL when out of
 * memory. */
static Tpclear__Posting *export_one(tpc_job_t *job, Tpclear__Posting *x, uint64_t number,
                                    const tpc_posting_rec_t *p)
{
	tpclear__posting__init(x);
	x->number = number;
	x->sequence = p->sequence;
	x->run = p->run;
	x->line = p->line;
	x->kind = (char *)kind_name(p->kind);
	x->budget = (char *)tpc_budget_name(p->budget);
	x->account = str(job->arena, p->account, sizeof(p->account));
	x->amount_cents = p->amount_cents;
	x->at = p->at_ms;
	return x->account ? x : NULL;
}

/* Posting @p num of an export's walk, @p p, added to the page when @p wanted and, with
 * @p account, on that account. @return 0 (go on), 1 (the page is full: one more posting
 * matched, so the requester is told where to resume) or TPC_ENOMEM. */
static int export_add(tpc_job_t *job, Tpclear__LedgerAnswer *la, Tpclear__Posting *arr,
                      Tpclear__Posting **ptr, uint32_t limit, uint64_t num,
                      const tpc_posting_rec_t *p, int wanted, const char *account)
{
	/* a payee's postings are those on its account (payable and settle): the account field
	 * holds the NIHII or NISS, NUL-padded */
	if (!wanted || (account && strncmp(p->account, account, sizeof(p->account)) != 0))
		return 0;
	/* next_after stays 0 on the last page */
	if (la->n_postings == limit) {
		la->next_after = la->postings[limit - 1]->number;
		return 1;
	}
	if (!export_one(job, &arr[la->n_postings], num, p))
		return TPC_ENOMEM;
	la->total_cents += p->amount_cents;
	ptr[la->n_postings] = &arr[la->n_postings];
	la->n_postings++;
	la->postings = ptr;
	return 0;
}

/* `tpclear ledger export` (and, with @p account, a payee's postings for `ledger show`): one
 * page of postings committed between the start of rq->from and the end of rq->to, in posting
 * order. Pages are keyed by posting number, not by offset, because postings are only ever
 * appended: a page boundary stays valid while the writer commits between two pages. */
static int export_postings(MDB_txn *txn, const tpc_store_db_t *db, const Tpclear__LedgerRequest *rq,
                           const char *account, tpc_job_t *job, Tpclear__LedgerAnswer *la)
{
	uint64_t from_ms = 0, to_ms = UINT64_MAX;
	uint32_t limit = rq->limit && rq->limit < EXPORT_PAGE ? rq->limit : EXPORT_PAGE;
	Tpclear__Posting *arr, **ptr;
	tpc_postings_t it;
	tpc_posting_rec_t p;
	uint64_t num;
	tpc_txn_t t;
	int rc, added = 0;

	if (rq->from) {
		if (day_end_ms(job, "from", rq->from, &from_ms))
			return TPC_EINVAL;
		from_ms -= 86400000u - 1; /* from the first millisecond of that day */
	}
	if (rq->to && day_end_ms(job, "to", rq->to, &to_ms))
		return TPC_EINVAL;
	arr = tpc_arena_alloc(job->arena, limit * sizeof(*arr), 8);
	ptr = tpc_arena_alloc(job->arena, limit * sizeof(*ptr), 8);
	if (!arr || !ptr)
		return TPC_ENOMEM;
	/* pages: the caller passes the last number it got, the walk resumes after it (in
	 * either stream: postings.h) */
	tpc_txn_wrap(&t, txn);
	if ((rc = tpc_postings_open(&it, txn, db, rq->after + 1)))
		return tpc_err_from_mdb(rc);
	while ((rc = tpc_postings_next(&it, &p, &num)) == 1) {
		/* appended in commit order, so the first posting past the end day ends the walk
		 * (balance() reads on instead, in case the wall clock stepped back) */
		if (p.at_ms > to_ms) {
			rc = 0;
			break;
		}
		/* kept apart from rc: the walk's LMDB codes include positive errno values (EIO),
		 * which must fail the page, while the page's "full" (1) ends it as a success */
		added = export_add(job, la, arr, ptr, limit, num, &p,
		                   num > rq->after && p.at_ms >= from_ms, account);
		if (added) {
			rc = 0;
			break;
		}
	}
	tpc_postings_close(&it);
	if (added == TPC_ENOMEM)
		return added;
	if (rc == TPC_EDAMAGED)
		damaged(&t, it.bad_db, &it.bad);
	else
		tpc_txn_fail(&t, rc);
	la->postings = ptr;
	return tpc_err_from_mdb(t.ret);
}

/* Sequence of (sender, key) in the idempotency index (store.h). @return 0 or an LMDB code
 * (MDB_NOTFOUND for an empty or too long key). The key is always looked up under the
 * requesting sender: another sender's sending stays invisible even to one who knows its key.
 * A key too long for the index was never stored, so it is simply not found. */
static int find_sending(MDB_txn *txn, const tpc_store_db_t *db, const char *sender, const char *key,
                        uint64_t *seq)
{
	uint8_t buf[TPC_SENDER_MAX + TPC_KEY_MAX + 2];
	tpc_txn_t t;

	if (!*key || !tpc_key_names(buf, sizeof(buf), sender, key).mv_size)
		return MDB_NOTFOUND;
	tpc_txn_wrap(&t, txn);
	if (tpc_store_find_sending(&t, db, sender, key, seq, NULL, NULL))
		return 0;
	return t.ret ? t.ret : MDB_NOTFOUND;
}

/* Append @p st to the arena array *@p out (grown by doubling). The arena never frees: the old
 * array stays until the job is recycled, a small price for not counting first.
 * @return 0 or ENOMEM. */
static int settlement_push(tpc_arena_t *arena, Tpclear__Settlement ***out, size_t *n, size_t *cap,
                           Tpclear__Settlement *st)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		Tpclear__Settlement **a = tpc_arena_alloc(arena, nc * sizeof(*a), 8);

		if (!a)
			return ENOMEM;
		if (*n)
			memcpy(a, *out, *n * sizeof(*a));
		*out = a;
		*cap = nc;
	}
	(*out)[(*n)++] = st;
	return 0;
}

/* Settlements stored for @p seq, unpacked into the arena. Keys sort by (sequence, run,
 * payment), so they come in run order and the last one is the latest: @p last_native, when
 * asked, keeps only that one's native answer (the settlement query answers the latest). */
static int settlements_of(MDB_txn *txn, const tpc_store_db_t *db, uint64_t seq, tpc_arena_t *arena,
                          Tpclear__Settlement ***out, size_t *n, tpc_blob_t *last_native)
{
	ProtobufCAllocator pa = {pa_alloc, pa_free, arena};
	uint8_t key[20];
	size_t cap = 0;
	tpc_iter_t it;
	tpc_txn_t t;

	*out = NULL;
	*n = 0;
	tpc_txn_wrap(&t, txn);
	/* every (run, payment) of the sequence: a sending's lines may be paid over several runs */
	tpc_key_settlement(key, seq, 0, 0);
	tpc_txn_foreach(&it, &t, db->settlements, key, 20, 8)
	{
		tpc_settlement_view_t sv;
		Tpclear__Settlement *st;
		int rc;

		if (it.key.mv_size != 20)
			break;
		/* a damaged value is skipped (and logged, counted): the other payments'
		 * settlements still show */
		rc = tpc_records_settlement_decode(it.val.mv_data, it.val.mv_size, arena, &sv);
		if (rc == TPC_ENOMEM && tpc_txn_fail(&t, ENOMEM))
			break;
		if (rc == TPC_EDAMAGED)
			tpc_records_damaged(TPC_REC_SETTLEMENTS, &it.key);
		if (rc)
			continue;
		st = tpclear__settlement__unpack(&pa, sv.proto_len, sv.proto);
		if (tpc_txn_fail(&t, st ? settlement_push(arena, out, n, &cap, st) : ENOMEM))
			break;
		/* the latest comes last (keys in run order): it overwrites the earlier ones */
		if (last_native)
			*last_native = sv.native;
	}
	tpc_iter_close(&it);
	return t.ret;
}

/* The header of sending @p seq's history, from its stored answer's header: only the header is
 * read, the (perhaps compressed) answer bytes are not needed for a history. */
static int history_head(MDB_txn *txn, const tpc_store_db_t *db, uint64_t seq, tpc_arena_t *a,
                        Tpclear__SendingHistory *sh)
{
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, seq), v;
	tpc_answer_hdr_t h;
	int rc;

	if ((rc = mdb_get(txn, db->answers, &k, &v)))
		return rc;
	if ((rc = tpc_records_answer_header_read(v.mv_data, v.mv_size, &h))) {
		tpc_records_damaged(TPC_REC_ANSWERS, &k);
		return rc;
	}
	sh->sender = str(a, h.sender, sizeof(h.sender));
	sh->key = str(a, h.key, sizeof(h.key));
	sh->format = str(a, h.format, sizeof(h.format));
	if (!sh->sender || !sh->key || !sh->format)
		return ENOMEM;
	sh->sequence = seq;
	sh->received_at = h.received_ms;
	sh->validated_at = h.validated_ms;
	sh->committed_at = h.committed_ms;
	return 0;
}

/* What paid a line and under which scheme reference: its parts in "paid" (each part - insurer
 * part, patient share - is paid on its own) and its entry in "scheme_refs".
 * @return 0, or TPC_EDAMAGED for a paid record that failed its checksum. */
static int line_paid(MDB_txn *txn, const tpc_store_db_t *db, const uint8_t *lkey,
                     const tpc_line_rec_t *r, tpc_arena_t *a, Tpclear__LineHistory *lh)
{
	int64_t share = r->share_budget ? r->patient_cents : 0;
	MDB_val k = {12, (void *)lkey}, v;
	tpc_scheme_ref_view_t sr;

	/* "paid" records which payment paid a part, not how much: the amount of each part is
	 * split from the line record the way ledger.c's post() split it (the patient share is a
	 * part of its own only when a scheme pays it). With both parts paid, the date and the
	 * reference shown are the patient share's (read last). */
	for (uint8_t part = 0; part < 2; part++) {
		uint8_t pk[TPC_PAYABLE_KEY];
		MDB_val pkv = {sizeof(pk), pk};
		tpc_paid_t pd;
		char *ref;

		memcpy(pk, lkey, 12);
		pk[12] = part;
		if (mdb_get(txn, db->paid, &pkv, &v) != 0)
			continue;
		if (tpc_records_paid_read(&v, &pd)) {
			tpc_records_damaged(TPC_REC_PAID, &pkv);
			return TPC_EDAMAGED;
		}
		lh->paid_at = pd.paid_ms;
		lh->paid_cents += part ? share : r->accepted_cents - share;
		ref = tpc_arena_alloc(a, 24, 1);
		if (ref) {
			tpc_payment_reference(pd.run, pd.payment, ref);
			lh->payment_reference = ref;
		}
	}
	/* the scheme's reference, for lines a scheme pays */
	if (mdb_get(txn, db->scheme_refs, &k, &v) == 0 &&
	    tpc_records_scheme_ref_read(&v, &sr) == 0) {
		lh->scheme_ref = str(a, sr.ref, strlen(sr.ref));
		lh->scheme_org = str(a, sr.org, strlen(sr.org));
	}
	return 0;
}

/* One line of a history, from its verdict (key: sequence + index).
 * @param[out] out  the line, in the arena
 * @return 0, ENOMEM or TPC_EDAMAGED (its payment record). */
static int line_history(MDB_txn *txn, const tpc_store_db_t *db, const uint8_t *lkey,
                        const tpc_line_rec_t *r, tpc_arena_t *a, Tpclear__LineHistory **out)
{
	Tpclear__LineHistory *lh = tpc_arena_alloc(a, sizeof(*lh), 8);

	if (!lh)
		return ENOMEM;
	tpclear__line_history__init(lh);
	lh->index = tpc_get_be32(lkey + 8);
	lh->record = r->record;
	lh->invoice = r->invoice;
	lh->code = str(a, r->code, sizeof(r->code));
	lh->date = r->date_first;
	lh->units = r->units;
	lh->outcome = r->outcome == TPC_OUTCOME_ACCEPTED  ? TPCLEAR__OUTCOME__OUTCOME_ACCEPTED
	              : r->outcome == TPC_OUTCOME_REFUSED ? TPCLEAR__OUTCOME__OUTCOME_REFUSED
	                                                  : TPCLEAR__OUTCOME__OUTCOME_PENDING;
	lh->budget = (char *)tpc_budget_name(r->budget);
	lh->invoiced_insurer_cents = r->insurer_cents;
	lh->invoiced_patient_cents = r->patient_cents;
	lh->expected_insurer_cents = r->expected_insurer_cents;
	lh->expected_patient_cents = r->expected_patient_cents;
	lh->accepted_cents = r->accepted_cents;
	lh->mutuality = str(a, r->mutuality, sizeof(r->mutuality));
	lh->n_findings = r->nfindings < 3 ? r->nfindings : 3;
	/* a line record keeps at most three findings (records.h), so three slots always do */
	lh->findings = tpc_arena_alloc(a, 3 * sizeof(char *), 8);
	if (!lh->code || !lh->mutuality || !lh->findings)
		return ENOMEM;
	for (size_t f = 0; f < lh->n_findings; f++)
		if (!(lh->findings[f] = str(a, r->finding[f], sizeof(r->finding[f]))))
			return ENOMEM;
	lh->payment_reference = ""; /* until line_paid() finds a payment */
	lh->share_budget = (char *)tpc_budget_name(r->share_budget);
	lh->scheme = (char *)tpc_scheme_name(r->scheme);
	*out = lh;
	return line_paid(txn, db, lkey, r, a, lh);
}

/* Append @p lh to the history's lines (grown by doubling in the arena). @return 0 or ENOMEM. */
static int history_push(tpc_arena_t *a, Tpclear__SendingHistory *sh, size_t *cap,
                        Tpclear__LineHistory *lh)
{
	if (sh->n_lines == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		Tpclear__LineHistory **arr = tpc_arena_alloc(a, nc * sizeof(*arr), 8);

		if (!arr)
			return ENOMEM;
		if (sh->n_lines)
			memcpy(arr, sh->lines, sh->n_lines * sizeof(*arr));
		sh->lines = arr;
		*cap = nc;
	}
	sh->lines[sh->n_lines++] = lh;
	return 0;
}

/* The history of sending @p seq (only the lines of invoice @p invoice when >= 0). */
static int history(MDB_txn *txn, const tpc_store_db_t *db, uint64_t seq, int64_t invoice,
                   tpc_job_t *job, Tpclear__SendingHistory **out)
{
	tpc_arena_t *a = job->arena;
	Tpclear__SendingHistory *sh = tpc_arena_alloc(a, sizeof(*sh), 8);
	uint8_t key[12];
	size_t cap = 0;
	tpc_lines_t lines;
	tpc_txn_t t;
	int rc;

	if (!sh)
		return ENOMEM;
	/* the head first: a sequence without its stored answer is a damaged store, refused
	 * before any line is read */
	tpclear__sending_history__init(sh);
	if ((rc = history_head(txn, db, seq, a, sh)))
		return rc;
	tpc_txn_wrap(&t, txn);
	tpc_lines_init(&lines, txn, db->lines);
	/* the lines of the sending, in index order, in either layout (store/records.h) */
	for (uint32_t i = 0; !t.ret; i++) {
		tpc_line_rec_t r;
		Tpclear__LineHistory *lh = NULL;
		MDB_val k = tpc_key_u64_u32(key, seq, i);

		rc = tpc_lines_get(&lines, seq, i, &r, NULL);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc == TPC_EDAMAGED) {
			damaged(&t, TPC_REC_LINES, &k);
			break;
		}
		if (tpc_txn_fail(&t, rc))
			break;
		if (invoice >= 0 && r.invoice != (uint32_t)invoice)
			continue;
		/* the answer's bound; the history carries no mark that it was cut here */
		if (sh->n_lines == SHOW_MAX_LINES)
			break;
		if (tpc_txn_fail(&t, line_history(txn, db, key, &r, a, &lh)) ||
		    tpc_txn_fail(&t, history_push(a, sh, &cap, lh)))
			break;
	}
	if (t.ret)
		return t.ret;
	/* then every settlement of the sending: its lines may be paid over several runs */
	if ((rc = settlements_of(txn, db, seq, a, &sh->settlements, &sh->n_settlements, NULL)))
		return rc;
	*out = sh;
	return 0;
}

/* Exactly @p n ASCII digits: a NIHII or a NISS (11), the shape a payee account has. */
static int is_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* `tpclear ledger show TARGET` (docs/ledger.md, Queries). One argument names three kinds of
 * thing, tried in this order: a sending key of the requesting sender, PROVIDER/NUMBER (an
 * 11-digit NIHII, a slash, an invoice number), an 11-digit payee. The order is behaviour: a
 * sender's own key wins even when it looks like an invoice or a NIHII. For an invoice, the
 * "invoices" index only gives the sequence of the sending that holds it; which of its invoices it
 * is comes from the stored Result (line records know their invoice's index, not its number), and
 * when the number is not found there the whole sending is shown. A payee's view covers all time
 * (the request's dates are dropped); a payee with no posting at all is unknown (T00024), not a
 * balance of 0. */
static int show(MDB_txn *txn, const tpc_store_db_t *db, const Tpclear__LedgerRequest *rq,
                tpc_job_t *job, Tpclear__LedgerAnswer *la)
{
	const char *t = rq->target;
	const char *slash = strchr(t, '/');
	uint64_t seq;
	int rc;

	la->target = (char *)t;
	rc = find_sending(txn, db, job->sender, t, &seq);
	if (rc == 0) {
		la->target_kind = "sending";
		la->sendings = tpc_arena_alloc(job->arena, sizeof(*la->sendings), 8);
		if (!la->sendings)
			return TPC_ENOMEM;
		if ((rc = history(txn, db, seq, -1, job, &la->sendings[0])))
			return tpc_err_from_mdb(rc);
		la->n_sendings = 1;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return tpc_err_from_mdb(rc);
	if (slash && slash - t == 11) {
		/* PROVIDER/NUMBER: the invoice index, then that invoice's lines */
		uint8_t key[160];
		size_t nl = strlen(slash + 1);
		MDB_val k, v;
		int64_t inv = -1;

		if (nl == 0 || 11 + nl > sizeof(key))
			goto unknown;
		memcpy(key, t, 11);
		memcpy(key + 11, slash + 1, nl);
		k.mv_data = key;
		k.mv_size = 11 + nl;
		if ((rc = mdb_get(txn, db->dbs.invoices, &k, &v)))
			return rc == MDB_NOTFOUND ? (fail(job, TPC_CODE_UNKNOWN_TARGET), TPC_ENOENT)
			                          : tpc_err_from_mdb(rc);
		memcpy(&seq, v.mv_data, 8);
		/* which invoice of the sending: its number in the stored Result */
		{
			ProtobufCAllocator pa = {pa_alloc, pa_free, job->arena};
			uint8_t sk[8];
			MDB_val ak = {8, sk}, av;
			tpc_stored_t st;
			Tpclear__Result *res;

			tpc_put_be64(sk, seq);
			if ((rc = mdb_get(txn, db->answers, &ak, &av)))
				return tpc_err_from_mdb(rc);
			if ((rc = tpc_records_answer_decode(av.mv_data, av.mv_size, job->arena,
			                                    &st))) {
				if (rc == TPC_EDAMAGED)
					tpc_records_damaged(TPC_REC_ANSWERS, &ak);
				return rc;
			}
			res = tpclear__result__unpack(&pa, st.result_len, st.result);
			if (!res)
				return TPC_ENOMEM;
			for (size_t i = 0; i < res->n_invoice_results; i++) {
				const Tpclear__InvoiceResult *ir = res->invoice_results[i];

				if (strcmp(ir->number, slash + 1) == 0 &&
				    strncmp(ir->provider, t, 11) == 0) {
					inv = (int64_t)i;
					break;
				}
			}
		}
		la->target_kind = "invoice";
		la->sendings = tpc_arena_alloc(job->arena, sizeof(*la->sendings), 8);
		if (!la->sendings)
			return TPC_ENOMEM;
		if ((rc = history(txn, db, seq, inv, job, &la->sendings[0])))
			return tpc_err_from_mdb(rc);
		la->n_sendings = 1;
		return 0;
	}
	if (is_digits(t, 11)) {
		Tpclear__LedgerRequest all = *rq;

		la->target_kind = "payee";
		all.from = all.to = 0;
		if ((rc = export_postings(txn, db, &all, t, job, la)))
			return rc;
		if (la->n_postings)
			return 0;
	}
unknown:
	fail(job, TPC_CODE_UNKNOWN_TARGET);
	return TPC_ENOENT;
}

/* An institution's monthly recovery statement (engine/ledger/statement.h). The clock is read
 * here because the statement says whether its month is over (provisional until then); on a
 * refusal statement.c names the code (T00030-T00033), else the failure is a store error. */
static int statement(MDB_txn *txn, const tpc_store_db_t *db, const Tpclear__LedgerRequest *rq,
                     tpc_job_t *job, Tpclear__LedgerAnswer *la)
{
	const char *code = NULL;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	rc = tpc_statement_build(txn, db, rq->institution, rq->month,
	                         (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
	                         job->arena, &la->statement, &code);
	if (rc && code)
		fail(job, code);
	return rc;
}

int tpc_ledger_query(tpc_store_reader_t *r, tpc_job_t *job)
{
	ProtobufCAllocator pa = {pa_alloc, pa_free, job->arena};
	Tpclear__LedgerRequest *rq;
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__LedgerAnswer la = TPCLEAR__LEDGER_ANSWER__INIT;
	const tpc_store_db_t *db;
	MDB_txn *txn;
	int rc;

	/* unpacked straight from the received message into the arena: the payload is never
	 * copied (architecture.md, Jobs) */
	rq = tpclear__ledger_request__unpack(&pa, zmq_msg_size(&job->payload),
	                                     zmq_msg_data(&job->payload));
	if (!rq) {
		fail(job, TPC_CODE_BAD_LEDGER_REQ);
		return TPC_EINVAL;
	}
	if ((rc = tpc_store_read_begin(r, &txn, &db))) {
		fail(job, TPC_CODE_STORED_UNREADABLE);
		return rc;
	}
	switch (rq->op) {
	case TPCLEAR__LEDGER_REQUEST__OP__BALANCE:
		rc = balance(txn, db, rq, job, &la);
		break;
	case TPCLEAR__LEDGER_REQUEST__OP__SHOW:
		rc = show(txn, db, rq, job, &la);
		break;
	case TPCLEAR__LEDGER_REQUEST__OP__EXPORT:
		rc = export_postings(txn, db, rq, NULL, job, &la);
		break;
	case TPCLEAR__LEDGER_REQUEST__OP__STATEMENT:
		rc = statement(txn, db, rq, job, &la);
		break;
	default:
		fail(job, TPC_CODE_BAD_LEDGER_REQ);
		rc = TPC_EINVAL;
		break;
	}
	/* A query refused with its own code keeps it; any other failure is the arena's bound
	 * (T00013), a damaged record (T00055) or the store's (T00011). */
	if (rc == 0) {
		ans.body_case = TPCLEAR__ANSWER__BODY_LEDGER;
		ans.ledger = &la;
		rc = finish(job, &ans);
	} else if (job->status != TPC_JOB_FAILED) {
		fail(job, rc == TPC_ENOMEM     ? TPC_CODE_TOO_MANY
		          : rc == TPC_EDAMAGED ? TPC_CODE_STORED_DAMAGED
		                               : TPC_CODE_STORED_UNREADABLE);
	}
	tpc_store_read_end(r);
	return rc;
}

/* `tpclear query --settlement KEY`: like the ledger queries, one snapshot and a coded refusal
 * (T00012 unknown key, T00021 not paid yet). The body is the latest settlement; its native
 * answer (eFact 920900) goes beside it in job->native, the way a sending's native answer does,
 * already copied into the arena since the loop thread sends it after the snapshot ended. */
int tpc_ledger_query_settlement(tpc_store_reader_t *r, tpc_job_t *job)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__Settlement **sts;
	const tpc_store_db_t *db;
	tpc_blob_t native = {0};
	MDB_txn *txn;
	uint64_t seq;
	size_t n;
	int rc;

	if ((rc = tpc_store_read_begin(r, &txn, &db))) {
		fail(job, TPC_CODE_STORED_UNREADABLE);
		return rc;
	}
	rc = find_sending(txn, db, job->sender, job->key, &seq);
	if (rc == MDB_NOTFOUND) {
		fail(job, TPC_CODE_UNKNOWN_KEY);
		rc = TPC_ENOENT;
		goto out;
	}
	if (rc == 0)
		rc = settlements_of(txn, db, seq, job->arena, &sts, &n, &native);
	if (rc) {
		fail(job, TPC_CODE_STORED_UNREADABLE);
		rc = tpc_err_from_mdb(rc);
		goto out;
	}
	/* a sending accepted but not yet paid by any run is not an error of the store: T00021
	 * tells the sender to ask again after the next payment run */
	if (!n) {
		fail(job, TPC_CODE_NOT_SETTLED);
		rc = TPC_ENOENT;
		goto out;
	}
	ans.body_case = TPCLEAR__ANSWER__BODY_SETTLEMENT;
	ans.settlement = sts[n - 1];
	if ((rc = finish(job, &ans)) == 0)
		job->native = native;
out:
	tpc_store_read_end(r);
	return rc;
}
