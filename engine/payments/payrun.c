/* engine/payments/payrun.c - payment runs (see payrun.h for the DESIGN).
 *
 * A run is built in passes over plain arrays, not in one walk of the store: gather (payables
 * -> items), resolve (items -> bank accounts), pay (groups of items -> payments, postings,
 * payables moved to "paid"), settle (one settlement per sending and payment). Each pass sorts
 * the items the way it needs them, so every pass reads its databases in key order and writes
 * with MDB_APPEND where the keys allow it. All of it runs inside the writer's transaction: a
 * failure anywhere leaves nothing of the run.
 *
 * Why a run is alone in its transaction (architecture.md): the payables it reads must be the
 * ones it consumes, with no sending committing in between, and a MDB_MAP_FULL replay must
 * re-run the run alone, from the same payables, under the same run and posting numbers (the
 * writer restores its posting counter). The LMDB errors of these passes are returned as they
 * are, never translated: the writer compares them with MDB_MAP_FULL.
 *
 * Money: every transfer is booked twice in its budget, a SETTLE on each payee paid (negative)
 * and a PAYOUT on the budget's bank account (positive, the transfer's amount), so each budget
 * still sums to zero after the run (docs/ledger.md, Double entry).
 */
#include "payments/payrun.h"

#include "clearing/budget.h"
#include "core/codes.h"
#include "core/crashpoint.h"
#include "common/check.h"
#include "core/error.h"
#include "core/utf8.h"
#include "core/file.h"
#include "core/log.h"
#include "payments/sepa.h"
#include "store/payload.h"
#include "store/postings.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One unpaid payable taken by the run. The passes re-sort the items, so everything a pass needs
 * travels with the item: its key (seq, line, part), the payable, its account's index and,
 * once paid, its payment number (the settle pass groups by it). */
struct item {
	uint64_t seq;
	uint32_t line;
	uint32_t payment; /* 1-based payment number once paid, 0 = left unpaid */
	tpc_payable_t p;
	uint32_t acct;  /* index into accounts[] */
	uint8_t part;   /* 0 = insurer part, 1 = patient share */
	uint8_t unpaid; /* a bit of "unpaid" (schema 6), else a record of "payables" */
	uint8_t pad[2];
};

/* The bank account of one (budget, payee). */
struct account {
	uint8_t budget;
	uint8_t ok; /* a valid IBAN, and a valid BIC or none: tpc_sepa_render() would take it */
	char payee[12];
	char iban[35];
	char bic[12];
	char name[71];
};

/* A run's state from tpc_payrun_execute() to tpc_payrun_finish(): what the answer reports and
 * what the files are rendered from. It outlives the transaction (finish runs after the commit),
 * so nothing in it points into LMDB. */
struct tpc_payrun {
	uint64_t run;
	uint64_t now_ms;
	int32_t execution_day;
	struct item *items;
	size_t nitems, cap;
	struct account *accounts;
	size_t naccounts;
	tpc_payment_rec_t *payments;
	uint32_t npayments;
	uint64_t lines_paid, lines_carried, lines_no_account;
	int64_t total_cents;
	uint32_t settlements;
	uint32_t budgets_paid;
	char **notes;
	size_t nnotes;
	struct push *pushes; /* settlements to push to connected senders */
	size_t npushes;
	uint8_t replay;      /* the request id ran before: its run, rebuilt from the ledger */
	uint8_t id_stored;   /* the request id was recorded: commit even if nothing was paid */
	const char *refusal; /* a code: the request is refused, nothing to commit */
};

/* A settlement kept for the push after the commit (malloc'd copies). */
struct push {
	char sender[TPC_SENDER_MAX];
	uint8_t *answer;
	size_t answer_len;
	uint8_t *native;
	size_t native_len;
	char native_type[16];
};

#define MAX_PUSHES 10000 /* more settlements stay retrievable with a query */

/* Copy a NUL-terminated string, cut to @p cap - 1 bytes: the fields of the accounts, payments
 * and postings have fixed widths (records.h), and a cut is always NUL-terminated. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* The UTC day of a commit time: the day `--until DATE` and the execution day count in. */
static int64_t day_of_ms(uint64_t ms)
{
	return (int64_t)(ms / 86400000u);
}

/* One file per (run, budget): a file holds one payment information block, i.e. one debtor
 * account, and each budget pays from its own ([budget.NAME] iban). The name is all that links a
 * file to its run, so startup (restore_run()) finds a missing file by this name alone. */
void tpc_payrun_file_name(uint64_t run, unsigned budget, char *out, size_t cap)
{
	snprintf(out, cap, "payrun-%08llu-%s.pain.001.xml", (unsigned long long)run,
	         tpc_budget_name(budget));
}

/* Frees a state in any condition: after an abort the writer frees whatever execute left,
 * complete or stopped half-way by an error. */
void tpc_payrun_free(tpc_payrun_t **pp)
{
	tpc_payrun_t *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	free(p->items);
	free(p->accounts);
	free(p->payments);
	for (size_t i = 0; i < p->nnotes; i++)
		free(p->notes[i]);
	free(p->notes);
	for (size_t i = 0; i < p->npushes; i++) {
		free(p->pushes[i].answer);
		free(p->pushes[i].native);
	}
	free(p->pushes);
	free(p);
	*pp = NULL;
}

/* A replay paid nothing now: its run number was taken by the first request, so the writer
 * must not advance its run counter for it. */
int tpc_payrun_paid(const tpc_payrun_t *p)
{
	return p && !p->replay && p->npayments > 0;
}

int tpc_payrun_replayed(const tpc_payrun_t *p)
{
	return p && p->replay;
}

/* A request id is recorded even when nothing was due, so its retry finds it and stays empty
 * instead of paying what arrived in between: that alone is a reason to commit. */
int tpc_payrun_must_commit(const tpc_payrun_t *p)
{
	return tpc_payrun_paid(p) || (p && p->id_stored);
}

const char *tpc_payrun_refusal(const tpc_payrun_t *p)
{
	return p ? p->refusal : NULL;
}

void tpc_payrun_totals(const tpc_payrun_t *p, uint64_t *payments, uint64_t *lines, int64_t *cents)
{
	*payments = p->npayments;
	*lines = p->lines_paid;
	*cents = p->total_cents;
}

void tpc_payrun_budget_totals(const tpc_payrun_t *p, unsigned budget, uint64_t *payments,
                              int64_t *cents)
{
	*payments = 0;
	*cents = 0;
	for (uint32_t i = 0; i < p->npayments; i++)
		if (p->payments[i].budget == budget) {
			(*payments)++;
			*cents += p->payments[i].amount_cents;
		}
}

/* A note for the requester (PayrunResult.notes): why something was left unpaid. Best effort:
 * a note that cannot be allocated is dropped, a run never fails for want of one. */
static void note(tpc_payrun_t *p, const char *fmt, const char *a, const char *b)
{
	char buf[256], **n;

	if (p->nnotes >= 1000)
		return; /* enough to tell ops what is wrong */
	n = realloc(p->notes, (p->nnotes + 1) * sizeof(*n));
	if (!n)
		return;
	p->notes = n;
	snprintf(buf, sizeof(buf), fmt, a, b);
	p->notes[p->nnotes] = strdup(buf);
	if (p->notes[p->nnotes])
		p->nnotes++;
}

/* resolve()'s order: (budget, payee kind, payee), so one payee's items are neighbours */
static int cmp_payee(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->p.budget != y->p.budget)
		return x->p.budget < y->p.budget ? -1 : 1;
	if (x->p.payee_kind != y->p.payee_kind)
		return x->p.payee_kind < y->p.payee_kind ? -1 : 1;
	return strcmp(x->p.payee, y->p.payee);
}

/* sort items by (budget, usable account first, IBAN, sequence, line); @p arg: the accounts.
 * The last keys make the order total: qsort is not stable, and the same payables must give the
 * same transfers, postings and "paid" entries whatever it does with ties. */
static int cmp_group(const void *a, const void *b, void *arg)
{
	const struct item *x = a, *y = b;
	const struct account *accounts = arg;
	const struct account *ax = &accounts[x->acct], *ay = &accounts[y->acct];
	int c;

	if (ax->budget != ay->budget)
		return ax->budget < ay->budget ? -1 : 1;
	if (ax->ok != ay->ok) /* an unusable account never joins a usable one's transfer */
		return ax->ok ? -1 : 1;
	if ((c = strcmp(ax->iban, ay->iban)))
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->part < y->part ? -1 : x->part > y->part;
}

/* settle()'s order: (sequence, payment, line, part); items left unpaid have payment 0 and
 * sort first within their sending */
static int cmp_line(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->payment != y->payment)
		return x->payment < y->payment ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->part < y->part ? -1 : x->part > y->part;
}

/* The next free item slot (doubling: a run may take millions of payables), zeroed; it counts
 * only once the caller increments nitems, so a payable filtered out reuses it.
 * @return NULL when out of memory. */
static struct item *next_item(tpc_payrun_t *p)
{
	if (p->nitems == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct item *n = realloc(p->items, cap * sizeof(*n));

		if (!n)
			return NULL;
		p->items = n;
		p->cap = cap;
	}
	memset(&p->items[p->nitems], 0, sizeof(p->items[0]));
	return &p->items[p->nitems];
}

/* Take item @p x when the run's filters (budget, day) keep it. */
static void take(const tpc_job_t *job, tpc_payrun_t *p, const struct item *x)
{
	if (job->payrun_budget && x->p.budget != job->payrun_budget)
		return;
	if (day_of_ms(x->p.committed_ms) > job->payrun_until)
		return;
	p->nitems++;
}

/* The payables of schema 3 to 5: one record per unpaid line part ("payables"). */
static int gather_payables(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job,
                           tpc_payrun_t *p)
{
	tpc_iter_t it;
	tpc_txn_t t;

	tpc_txn_wrap(&t, txn);
	tpc_txn_foreach(&it, &t, ctx->db->payables, NULL, 0, 0)
	{
		const uint8_t *k = it.key.mv_data;
		struct item *x;

		/* a payable of another size is a damaged store: the run stops rather than pay
		 * from bytes it cannot read */
		if (it.key.mv_size != TPC_PAYABLE_KEY) {
			tpc_txn_fail(&t, MDB_CORRUPTED);
			break;
		}
		if (!(x = next_item(p))) {
			tpc_txn_fail(&t, ENOMEM);
			break;
		}
		/* nor from one that failed its checksum: the whole run is refused T00055, nothing
		 * is paid, and the next run (once the ledger is restored) pays it all */
		if (tpc_records_payable_read(&it.val, &x->p)) {
			tpc_records_damaged(TPC_REC_PAYABLES, &it.key);
			tpc_txn_fail(&t, TPC_EDAMAGED);
			break;
		}
		x->seq = tpc_get_be64(k);
		x->line = tpc_get_be32(k + 8);
		x->part = k[12];
		take(job, p, x);
	}
	tpc_iter_close(&it);
	return t.ret;
}

/* The payable of part @p part of line @p line of the sending held by @p l, as schema 5 stored
 * it, from its line record, its invoice's payee and the block's commit time.
 * @return 0, or TPC_EDAMAGED (no accepted line part there: the bit lies). */
static int unpaid_item(tpc_lines_t *l, uint64_t seq, uint32_t line, uint8_t part,
                       uint64_t committed_ms, struct item *x)
{
	tpc_line_payee_t y;
	tpc_line_rec_t r;
	int64_t share;
	int rc = tpc_lines_get(l, seq, line, &r, &y);

	if (rc)
		return rc == MDB_NOTFOUND ? TPC_EDAMAGED : rc;
	if (r.outcome != TPC_OUTCOME_ACCEPTED)
		return TPC_EDAMAGED;
	share = r.share_budget ? r.patient_cents : 0;
	x->seq = seq;
	x->line = line;
	x->part = part;
	x->unpaid = 1;
	x->p.committed_ms = committed_ms;
	x->p.amount_cents = part ? share : r.accepted_cents - share;
	x->p.budget = part ? r.share_budget : r.budget;
	x->p.payee_kind = y.payee_kind;
	x->p.account = r.account;
	memcpy(x->p.mutuality, r.mutuality, 3);
	memcpy(x->p.payee, y.payee, sizeof(y.payee));
	x->p.payee[sizeof(x->p.payee) - 1] = 0;
	x->p.invoice = r.invoice;
	return 0;
}

/* The payables of schema 6: the bits of "unpaid", each read from its sending's lines block. */
static int gather_unpaid(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job,
                         tpc_payrun_t *p)
{
	tpc_lines_t l;
	tpc_iter_t it;
	tpc_txn_t t;

	tpc_txn_wrap(&t, txn);
	tpc_lines_init(&l, txn, ctx->db->lines);
	tpc_txn_foreach(&it, &t, ctx->db->unpaid, NULL, 0, 0)
	{
		uint64_t seq = it.key.mv_size == 8 ? tpc_get_be64(it.key.mv_data) : 0;
		tpc_unpaid_hdr_t h;
		tpc_lines_hdr_t lh;
		const uint8_t *bits;
		int rc = seq ? tpc_records_unpaid_read(&it.val, &h, &bits) : TPC_EDAMAGED;

		/* damaged bits, or a block they cannot be read from: refused T00055, as above */
		if (!rc && (rc = tpc_lines_block(&l, seq, &lh)) == 0)
			rc = TPC_EDAMAGED;
		if (rc < 0 || (rc == 1 && lh.nlines != h.nlines)) {
			tpc_records_damaged(TPC_REC_UNPAID, &it.key);
			tpc_txn_fail(&t, TPC_EDAMAGED);
			break;
		}
		for (uint32_t b = 0; b < 2 * h.nlines && !t.ret; b++) {
			struct item *x;

			if (!(bits[b / 8] & (1u << (b % 8))))
				continue;
			if (!(x = next_item(p))) {
				tpc_txn_fail(&t, ENOMEM);
				break;
			}
			if ((rc = unpaid_item(&l, seq, b / 2, (uint8_t)(b % 2), lh.committed_ms,
			                      x))) {
				tpc_records_damaged(TPC_REC_UNPAID, &it.key);
				tpc_txn_fail(&t, rc);
				break;
			}
			take(job, p, x);
		}
		if (t.ret)
			break;
	}
	tpc_iter_close(&it);
	return t.ret;
}

/* Gather the unpaid payables the run takes: those of the requested budget (or all) committed
 * on or before the `until` day (or all), of either schema. The rest stay unpaid for a later
 * run. Every payable is walked: the run's filters (budget, day) are not part of the key, and a
 * run is rare enough that a full walk of the unpaid lines is the simple answer. */
static int gather(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job, tpc_payrun_t *p)
{
	int rc = gather_payables(ctx, txn, job, p);

	return rc ? rc : gather_unpaid(ctx, txn, job, p);
}

/* Resolve the bank account of each (budget, payee) from the reference data. The ledger keeps
 * no account numbers: a payable names its payee (NIHII or NISS), and the account is looked up
 * when it is paid, so a provider's corrected IBAN applies to the next run.
 * Providers: their row (IBAN, BIC, name). The insured: the member period covering the commit
 * day of the payee's first item here, else the last OSSOM feed row on that day. */
static int resolve(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, tpc_payrun_t *p)
{
	MDB_cursor *members = NULL, *ossom = NULL;
	int rc;

	/* sorted by (budget, payee): each account is looked up once, its neighbours reuse it */
	if (p->nitems)
		qsort(p->items, p->nitems, sizeof(*p->items), cmp_payee);
	/* at most one account per item: sized once, no growth inside the loop */
	p->accounts = calloc(p->nitems ? p->nitems : 1, sizeof(*p->accounts));
	if (!p->accounts)
		return ENOMEM;
	if ((rc = mdb_cursor_open(txn, ctx->db->dbs.ref.dbi[TPC_REF_MEMBERS], &members)))
		return rc;
	if ((rc = mdb_cursor_open(txn, ctx->db->dbs.ref.dbi[TPC_REF_OSSOM], &ossom))) {
		mdb_cursor_close(members);
		return rc;
	}
	for (size_t i = 0; i < p->nitems; i++) {
		struct item *it = &p->items[i];
		struct account *a;

		/* one lookup per payee: its other items share the account (and its verdict) */
		if (i > 0 && cmp_payee(it, &p->items[i - 1]) == 0) {
			it->acct = p->items[i - 1].acct;
			continue;
		}
		a = &p->accounts[p->naccounts];
		it->acct = (uint32_t)p->naccounts++;
		a->budget = it->p.budget;
		memcpy(a->payee, it->p.payee, sizeof(a->payee));
		a->payee[sizeof(a->payee) - 1] = 0;
		if (it->p.payee_kind == TPC_PAYEE_PROVIDER) {
			tpc_ref_provider_t pr;

			rc = tpc_refdata_provider(txn, &ctx->db->dbs.ref, a->payee, &pr);
			if (rc == 0) {
				copy_str(a->iban, sizeof(a->iban), pr.iban);
				copy_str(a->bic, sizeof(a->bic), pr.bic);
				/* the SEPA form: the name itself stays whole in ref_providers */
				tpc_sepa_text(pr.name, sizeof(a->name) - 1, a->name);
			} else if (rc != MDB_NOTFOUND) {
				goto out;
			}
		} else if (it->p.payee_kind == TPC_PAYEE_INSURED) {
			/* the insured's account: the members file, else the OSSOM feed */
			int32_t day = (int32_t)day_of_ms(it->p.committed_ms);
			tpc_ref_member_t m;
			tpc_ref_ossom_t o;

			rc = tpc_refdata_member_on(members, a->payee, day, &m);
			if (rc == 0 && m.iban[0])
				copy_str(a->iban, sizeof(a->iban), m.iban);
			else if (rc && rc != MDB_NOTFOUND)
				goto out;
			if (!a->iban[0]) {
				rc = tpc_refdata_feed_last(ossom, TPC_REF_OSSOM, a->payee, day, &o);
				if (rc == 0)
					copy_str(a->iban, sizeof(a->iban), o.iban);
				else if (rc != MDB_NOTFOUND)
					goto out;
			}
			/* neither the members file nor the OSSOM feed has a name column */
			snprintf(a->name, sizeof(a->name), "insured %s", a->payee);
		}
		/* Checked by the rules tpc_sepa_render() applies (IBAN mod 97, BIC when given:
		 * without one the file names the agent NOTPROVIDED), before anything is paid: a
		 * payment the file refused after the commit would leave a run without its file.
		 * An unusable account leaves its payables in "payables", so the first run after
		 * the reference data is corrected pays them. */
		rc = 0;
		a->ok = a->iban[0] && tpc_check_iban(a->iban, strlen(a->iban)) &&
		        (!a->bic[0] || tpc_sepa_bic_ok(a->bic));
		if (!a->name[0])
			copy_str(a->name, sizeof(a->name), a->payee);
		if (!a->ok)
			note(p,
			     "payee %s (%s): no valid IBAN/BIC in the reference data, left unpaid",
			     a->payee, tpc_budget_name(a->budget));
	}
	rc = 0;
out:
	mdb_cursor_close(ossom);
	mdb_cursor_close(members);
	return rc;
}

/* Postings are numbered by the writer's one counter, shared with the sendings' postings, so
 * the numbers only grow across both and MDB_APPEND holds. Each is added to the running
 * balances in the run's transaction (store/postings.h): a few per payment, next to the
 * records a payment writes anyway. */
static int put_posting(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_posting_rec_t *rec)
{
	uint8_t key[8];
	tpc_posting_rec_t sealed = *rec;
	MDB_val k = {sizeof(key), key}, v = {sizeof(sealed), &sealed};
	tpc_balances_t d;
	int rc;

	tpc_records_posting_seal(&sealed);
	tpc_put_be64(key, (*ctx->next_posting)++);
	if ((rc = mdb_put(txn, ctx->db->postings, &k, &v, MDB_APPEND)))
		return rc;
	memset(&d, 0, sizeof(d));
	tpc_balances_count(&d, &sealed);
	return tpc_balances_add(txn, ctx->db, &d);
}

/* Clear the bit of item @p x in its sending's "unpaid" value (read back in this transaction,
 * which sees the bits cleared before): the value is written again, sealed, or removed once no
 * bit is left. @return 0, MDB_NOTFOUND (the bit was not set: what deleting a payable that is
 * not there means), ENOMEM or an LMDB code. */
static int unpaid_clear(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const struct item *x)
{
	uint8_t kb[8], *copy, *bits;
	MDB_val k = tpc_key_u64(kb, x->seq), v;
	uint32_t b = 2 * x->line + x->part;
	tpc_unpaid_hdr_t h;
	const uint8_t *cur;
	size_t nbits, left = 0;
	int rc;

	if ((rc = mdb_get(txn, ctx->db->unpaid, &k, &v)))
		return rc;
	if (tpc_records_unpaid_read(&v, &h, &cur) || b >= 2 * h.nlines)
		return MDB_CORRUPTED; /* gather() read it whole a moment ago */
	if (!(cur[b / 8] & (1u << (b % 8))))
		return MDB_NOTFOUND;
	/* a copy: LMDB's value may not be written in place */
	if (!(copy = malloc(v.mv_size)))
		return ENOMEM;
	memcpy(copy, v.mv_data, v.mv_size);
	bits = copy + sizeof(h);
	bits[b / 8] &= (uint8_t) ~(1u << (b % 8));
	nbits = v.mv_size - sizeof(h);
	for (size_t i = 0; i < nbits && !left; i++)
		left = bits[i];
	if (left) {
		tpc_records_unpaid_seal(copy, v.mv_size);
		v.mv_data = copy;
		rc = mdb_put(txn, ctx->db->unpaid, &k, &v, 0);
	} else {
		rc = mdb_del(txn, ctx->db->unpaid, &k, NULL);
	}
	free(copy);
	return rc;
}

/* Write payment @p pm (items [@p i, @p j) of account @p a): the payees debited (one posting
 * per payee of the account), the budget's bank account @p payer_iban credited, the payment
 * record, and each item's payable moved to "paid". @return 0 or an LMDB code.
 * The SETTLE postings add up to minus the items' sum and the PAYOUT is that sum (pay() made
 * it pm->amount_cents), so the budget still sums to zero. Payment postings carry no sequence:
 * their line field is the payment's number (1-based, p->npayments already counts it). */
static int record_payment(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, tpc_payrun_t *p,
                          const struct account *a, const char *payer_iban, size_t i, size_t j,
                          const tpc_payment_rec_t *pm)
{
	tpc_posting_rec_t rec;
	uint8_t key[TPC_PAYABLE_KEY];
	MDB_val k;
	tpc_txn_t t;

	tpc_txn_wrap(&t, txn);
	for (size_t m = i; m < j && !t.ret;) {
		size_t e = m;
		int64_t part = 0;

		memset(&rec, 0, sizeof(rec));
		while (e < j && p->items[e].acct == p->items[m].acct)
			part += p->items[e++].p.amount_cents;
		/* items of one account are not always adjacent (sorted by IBAN, then sequence): a
		 * payee may get several SETTLE postings in one payment */
		rec.run = p->run;
		rec.line = p->npayments;
		rec.kind = TPC_POST_SETTLE;
		rec.budget = a->budget;
		rec.payee_kind = p->items[m].p.payee_kind;
		copy_str(rec.account, sizeof(rec.account), p->items[m].p.payee);
		rec.amount_cents = -part;
		rec.at_ms = p->now_ms;
		tpc_txn_fail(&t, put_posting(ctx, txn, &rec));
		m = e;
	}
	/* the money leaving the budget's bank account: the account is the payer IBAN, the
	 * debtor of this budget's SEPA file */
	memset(&rec, 0, sizeof(rec));
	rec.run = p->run;
	rec.line = p->npayments;
	rec.kind = TPC_POST_PAYOUT;
	rec.budget = a->budget;
	rec.payee_kind = TPC_PAYEE_BANK;
	copy_str(rec.account, sizeof(rec.account), payer_iban);
	rec.amount_cents = pm->amount_cents;
	rec.at_ms = p->now_ms;
	if (!t.ret)
		tpc_txn_fail(&t, put_posting(ctx, txn, &rec));
	k = tpc_key_u64_u32(key, p->run, p->npayments);
	tpc_txn_put(&t, ctx->db->payments, &k, pm, sizeof(*pm), MDB_APPEND);
	for (size_t m = i; m < j && !t.ret; m++) {
		tpc_paid_t paid = {p->run, p->npayments, 0, p->now_ms, 0};
		int rc;

		tpc_records_paid_seal(&paid);
		p->items[m].payment = p->npayments;
		k = tpc_key_payable(key, p->items[m].seq, p->items[m].line, p->items[m].part);
		/* deleted (its bit cleared) in the paying transaction: no later run can see the
		 * payable again */
		if (p->items[m].unpaid)
			tpc_txn_fail(&t, unpaid_clear(ctx, txn, &p->items[m]));
		else if (!tpc_txn_del(&t, ctx->db->payables, &k) && !t.ret)
			tpc_txn_fail(&t, MDB_NOTFOUND);
		if (t.ret)
			break;
		/* a line already paid is a damaged store, not a race (runs are serialised) */
		rc = mdb_put(txn, ctx->db->paid, &k, &(MDB_val){sizeof(paid), &paid},
		             MDB_NOOVERWRITE);
		tpc_txn_fail(&t, rc == MDB_KEYEXIST ? MDB_CORRUPTED : rc);
	}
	return t.ret;
}

/* Pay the groups: payments, postings, payables moved to "paid". A group (budget, IBAN) is paid
 * whole or not at all: its credit note lines and invoice lines are netted into one transfer,
 * and left unpaid together when the net cannot be paid. The checks run in this order because
 * each names a different cause in the answer: no usable payee account (lines_no_account, the
 * payee already named by resolve()), no debtor account for the budget (lines_no_account, the
 * budget named), a net amount not positive (lines_carried): a credit transfer's amount must
 * be positive, so a credit note larger than the new invoices waits for later ones. */
static int pay(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, tpc_payrun_t *p)
{
	size_t i = 0, j;
	int rc;

	/* sorted by (budget, IBAN): one payment per account, whichever payees share it (a
	 * practice's doctors paid on one account get one transfer) */
	if (p->nitems)
		qsort_r(p->items, p->nitems, sizeof(*p->items), cmp_group, p->accounts);
	p->payments = calloc(p->nitems ? p->nitems : 1, sizeof(*p->payments));
	if (!p->payments)
		return ENOMEM;
	for (; i < p->nitems; i = j) {
		const struct account *a = &p->accounts[p->items[i].acct];
		const tpc_payer_t *payer = &ctx->cfg->payer[a->budget];
		int64_t sum = 0;
		tpc_payment_rec_t *pm;

		for (j = i; j < p->nitems; j++) {
			const struct account *b = &p->accounts[p->items[j].acct];

			if (b->budget != a->budget || b->ok != a->ok ||
			    strcmp(b->iban, a->iban) != 0)
				break;
			/* no LMDB code means "overflow"; any non-zero code aborts the run */
			if (__builtin_add_overflow(sum, p->items[j].p.amount_cents, &sum))
				return MDB_BAD_VALSIZE; /* cannot happen with sane amounts */
		}
		if (!a->ok) {
			p->lines_no_account += j - i;
			continue;
		}
		if (!payer->iban[0]) {
			p->lines_no_account += j - i;
			note(p, "budget %s%s: no payer account configured ([budget.NAME] iban)",
			     tpc_budget_name(a->budget), "");
			continue;
		}
		if (sum <= 0) {
			p->lines_carried += j - i;
			note(p, "account %s (%s): net amount not positive, carried to a later run",
			     a->iban, tpc_budget_name(a->budget));
			continue;
		}
		pm = &p->payments[p->npayments++];
		memset(pm, 0, sizeof(*pm));
		pm->amount_cents = sum;
		pm->lines = j - i;
		pm->budget = a->budget;
		pm->payee_kind = p->items[i].p.payee_kind;
		memcpy(pm->payee, a->payee, sizeof(pm->payee));
		copy_str(pm->iban, sizeof(pm->iban), a->iban);
		copy_str(pm->bic, sizeof(pm->bic), a->bic);
		copy_str(pm->name, sizeof(pm->name), a->name);
		/* the end-to-end id is also the payment reference of the 920900 and of `ledger
		 * show` (records.h): one reference names the payment in the transfer and in the
		 * answers. Each budget paid gets a file (tpc_payrun_finish()). */
		tpc_payment_reference(p->run, p->npayments, pm->end_to_end);
		p->budgets_paid |= 1u << a->budget;
		p->lines_paid += pm->lines;
		p->total_cents += sum;

		if ((rc = record_payment(ctx, txn, p, a, payer->iban, i, j, pm)))
			return rc;
		/* test builds: a kill -9 with this payment written and the transaction still
		 * open (tests/crash/: the run must then be found whole or not at all) */
		TPC_CRASHPOINT("payrun.payment");
	}
	return 0;
}

/* Keep a copy of a settlement answer for the push after the commit (best effort). Pushing is a
 * courtesy to connected senders: the settlement is stored in the run's transaction and a
 * sender may always ask for it (`tpclear query --settlement`), so a copy that cannot be made
 * is dropped without failing the run. malloc'd, not in an arena: the scratch arena is reset
 * for every settlement, and the job's arena only takes them in tpc_payrun_finish(). The
 * correlation is 0, which tells the sender the answer was pushed (docs/protocol.md). */
static void keep_push(tpc_payrun_t *p, const Tpclear__Settlement *st, const tpc_blob_t *native)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	struct push *x;

	if (p->npushes >= MAX_PUSHES)
		return;
	if (p->npushes % 64 == 0) {
		struct push *n = realloc(p->pushes, (p->npushes + 64) * sizeof(*n));

		if (!n)
			return;
		p->pushes = n;
	}
	x = &p->pushes[p->npushes];
	memset(x, 0, sizeof(*x));
	ans.version = 1;
	ans.correlation = 0;
	ans.body_case = TPCLEAR__ANSWER__BODY_SETTLEMENT;
	ans.settlement = (Tpclear__Settlement *)st;
	x->answer_len = tpclear__answer__get_packed_size(&ans);
	x->answer = malloc(x->answer_len ? x->answer_len : 1);
	if (native->ptr && native->len) {
		x->native = malloc(native->len);
		x->native_len = native->len;
		memcpy(x->native_type, native->type, sizeof(x->native_type));
	}
	if (!x->answer || (native->ptr && native->len && !x->native)) {
		free(x->answer);
		free(x->native);
		return;
	}
	tpclear__answer__pack(&ans, x->answer);
	if (x->native)
		memcpy(x->native, native->ptr, native->len);
	snprintf(x->sender, sizeof(x->sender), "%s", st->sender);
	p->npushes++;
}

/* The payload of a sending as the ledger kept it (store/payload.h); ptr NULL when there is
 * none to give the settlement encoder (a sending stored before the ledger kept payloads). */
struct payload {
	const uint8_t *ptr;
	size_t len;
};

/* The payload of sending @p seq into @p arena (where its answer is), checked against the
 * hash of what was received (its answer's header): a payload that is not that sending's is
 * given to no encoder, which then settles from the answer alone, as for an older ledger.
 * @return 0 or an LMDB code (MDB_NOTFOUND is no error: *pl stays empty). */
static int read_payload(MDB_txn *txn, const tpc_store_db_t *db, const tpc_answer_hdr_t *h,
                        tpc_arena_t *arena, struct payload *pl)
{
	uint8_t key[8], hash[TPC_HASH_LEN];
	MDB_val k = tpc_key_u64(key, h->sequence), v;
	int rc = mdb_get(txn, db->payloads, &k, &v);

	pl->ptr = NULL;
	pl->len = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = tpc_payload_decode(v.mv_data, v.mv_size, arena, &pl->ptr, &pl->len);
	if (rc == TPC_ENOMEM)
		return ENOMEM;
	if (rc == 0)
		tpc_records_payload_hash(pl->ptr, pl->len, tpc_records_hash_len(h->flags), hash);
	if (rc || memcmp(hash, h->hash, sizeof(hash)) != 0) {
		tpc_warn("payrun: the stored payload of sending %llu is damaged: its settlement "
		         "echoes the stored answer only",
		         (unsigned long long)h->sequence);
		pl->ptr = NULL;
		pl->len = 0;
	}
	return 0;
}

/* Settlement of one (sending, payment): pack it and store it, under (sequence, run, payment)
 * in the run's transaction, so a settlement exists exactly when its payment does.
 * - Lines: the encoder gets every line of the sending, in order, each with what this payment
 *   paid on it (0 for a refused line or one paid by another payment), and the sending as
 *   received (@p pl, empty for a ledger that did not keep it): the 920900 echoes the records
 *   this payment settles with its amounts (docs/formats/efact.md, Settlement 920900).
 * - Destinations: one per destination mutuality, as the 920900 has one ET91 per mutuality;
 *   the message keeps the first 64, the native answer all of them.
 * - A native settlement the adapter cannot encode is logged and the settlement stored without
 *   it, rather than abort the run and its payments for a missing 920900.
 * - The execution date is the SEPA file's requested execution date, as yyyymmdd. */
static int settle_one(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, tpc_payrun_t *p,
                      const tpc_answer_hdr_t *h, const uint8_t *native, const struct payload *pl,
                      const tpc_line_rec_t *recs, tpc_settled_line_t *lines, uint32_t nlines,
                      const struct item *first, const struct item *end, tpc_arena_t *scratch)
{
	const tpc_payment_rec_t *pm = &p->payments[first->payment - 1];
	Tpclear__Settlement st = TPCLEAR__SETTLEMENT__INIT;
	Tpclear__SettledDestination dest[64], *destp[64];
	size_t ndest = 0, plen;
	tpc_blob_t out = {0};
	const uint8_t *value;
	uint8_t key[20], *packed;
	size_t vlen;
	MDB_val k, v;
	int64_t paid = 0;
	uint32_t npaid = 0;
	int rc;

	for (uint32_t i = 0; i < nlines; i++)
		lines[i].paid_cents = 0;
	for (const struct item *it = first; it < end; it++)
		if (it->line < nlines) {
			/* a line's parts (insurer part, patient share) may be paid together */
			if (lines[it->line].paid_cents == 0)
				npaid++;
			lines[it->line].paid_cents += it->p.amount_cents;
			paid += it->p.amount_cents;
		}
	for (uint32_t i = 0; i < nlines; i++) {
		size_t d;

		for (d = 0; d < ndest; d++)
			if (strcmp(dest[d].mutuality, lines[i].mutuality) == 0)
				break;
		if (d == ndest) {
			if (ndest == 64)
				continue; /* more than 64 destinations: the native answer has them
				           */
			tpclear__settled_destination__init(&dest[d]);
			dest[d].mutuality = lines[i].mutuality;
			destp[d] = &dest[d];
			ndest++;
		}
		dest[d].requested_cents += lines[i].requested_cents;
		dest[d].accepted_cents += recs[i].accepted_cents;
		dest[d].refused_cents += lines[i].requested_cents - recs[i].accepted_cents;
		dest[d].paid_cents += lines[i].paid_cents;
	}
	st.sender = (char *)h->sender;
	st.key = (char *)h->key;
	st.sequence = h->sequence;
	st.run = p->run;
	st.payment = first->payment;
	st.payment_reference = (char *)pm->end_to_end;
	st.budget = (char *)tpc_budget_name(pm->budget);
	st.payee = (char *)first->p.payee;
	st.iban = (char *)pm->iban;
	st.paid_cents = paid;
	st.paid_at = p->now_ms;
	{
		time_t t = (time_t)p->execution_day * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		st.execution_date =
		    (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	}
	st.lines_paid = npaid;
	st.n_destinations = ndest;
	st.destinations = destp;

	tpc_arena_reset(scratch);
	if (ctx->adapters && native && h->native_len) {
		const void *astate;
		const tpc_adapter_t *a = tpc_adapters_find(ctx->adapters, h->format, &astate);
		tpc_host_t host = {tpc_arena_host_alloc, scratch, 0, 0,
		                   tpc_arena_host_alloc_uninit};
		tpc_settlement_t in = {pm->end_to_end, p->run, p->execution_day, nlines, lines};

		if (a && a->encode_settlement &&
		    a->encode_settlement(astate, native, h->native_len, pl->ptr, pl->len, &in,
		                         &host, &out) != 0) {
			tpc_warn("payrun %llu: no native settlement for sending %llu (%s)",
			         (unsigned long long)p->run, (unsigned long long)h->sequence,
			         h->format);
			memset(&out, 0, sizeof(out));
		}
	}
	st.native_type = out.ptr ? out.type : "";
	/* packed, then stored as one LZ4 block with the 920900 (records.h): the echo of the
	 * sending's records is mostly spaces and zeros and shrinks about tenfold */
	plen = tpclear__settlement__get_packed_size(&st);
	packed = tpc_arena_alloc_uninit(scratch, plen ? plen : 1, 8);
	if (!packed)
		return ENOMEM;
	tpclear__settlement__pack(&st, packed);
	if ((rc = tpc_records_settlement_encode(packed, plen, out.ptr ? &out : NULL, scratch,
	                                        &value, &vlen)))
		return rc == TPC_ENOMEM ? ENOMEM : EINVAL;
	tpc_put_be64(key, h->sequence);
	tpc_put_be64(key + 8, p->run);
	tpc_put_be32(key + 16, first->payment);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)value;
	v.mv_size = vlen;
	if ((rc = mdb_put(txn, ctx->db->settlements, &k, &v, 0)))
		return rc;
	p->settlements++;
	keep_push(p, &st, &out);
	return 0;
}

/* The line verdicts of one sending, as the settlement encoders want them (grown as needed,
 * reused from sending to sending: a run settles many). */
struct sending_lines {
	tpc_line_rec_t *recs;
	tpc_settled_line_t *lines;
	uint32_t n;
	size_t cap;
};

/* Make room for one more line; recs[] and lines[] are parallel (index = line index), so they
 * grow together. @return 0 or ENOMEM. */
static int lines_grow(struct sending_lines *rl)
{
	size_t nc = rl->cap ? rl->cap * 2 : 256;
	void *a, *b;

	if (rl->n < rl->cap)
		return 0;
	if (!(a = realloc(rl->recs, nc * sizeof(*rl->recs))))
		return ENOMEM;
	rl->recs = a;
	if (!(b = realloc(rl->lines, nc * sizeof(*rl->lines))))
		return ENOMEM;
	rl->lines = b;
	rl->cap = nc;
	return 0;
}

/* Read every line verdict of sending @p seq into @p rl. @return 0 or an LMDB code. */
static int read_lines(MDB_txn *txn, const tpc_store_db_t *db, uint64_t seq,
                      struct sending_lines *rl)
{
	uint8_t key[12];
	tpc_lines_t l;
	tpc_txn_t t;
	int rc;

	/* the native encoder needs every line of the sending, paid or not: its settlement
	 * message lists the whole sending */
	rl->n = 0;
	tpc_txn_wrap(&t, txn);
	/* in either layout (store/records.h) */
	tpc_lines_init(&l, txn, db->lines);
	for (;;) {
		tpc_line_rec_t *r;
		tpc_settled_line_t *sl;

		if (tpc_txn_fail(&t, lines_grow(rl)))
			break;
		r = &rl->recs[rl->n];
		sl = &rl->lines[rl->n];
		rc = tpc_lines_get(&l, seq, rl->n, r, NULL);
		if (rc == MDB_NOTFOUND)
			break;
		/* a settlement is never built from a damaged line: the run is refused T00055 */
		if (rc == TPC_EDAMAGED) {
			MDB_val k = tpc_key_u64_u32(key, seq, rl->n);

			tpc_records_damaged(TPC_REC_LINES, &k);
		}
		if (tpc_txn_fail(&t, rc))
			break;
		memset(sl, 0, sizeof(*sl));
		sl->record = r->record;
		sl->account = r->account;
		sl->outcome = r->outcome;
		memcpy(sl->mutuality, r->mutuality, 3);
		/* requested: what the scheme was asked to pay (the patient share too when the
		 * scheme pays it) */
		sl->requested_cents = r->insurer_cents + (r->share_budget ? r->patient_cents : 0);
		sl->accepted_cents = r->accepted_cents;
		rl->n++;
	}
	return t.ret;
}

/* One settlement per (sending, payment) paid by the run: a sending whose lines went to two
 * accounts (or two budgets) is settled once per transfer, since a settlement reports one
 * payment reference. A sending the run took nothing of is not settled. */
static int settle(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, tpc_payrun_t *p)
{
	tpc_arena_t *scratch = NULL, *answers = NULL;
	struct sending_lines rl = {0};
	size_t i = 0, j;
	int rc;

	/* sorted by (sequence, payment, line): one stored answer read per sending, and its
	 * items of one payment are adjacent */
	if (p->nitems)
		qsort(p->items, p->nitems, sizeof(*p->items), cmp_line);
	if ((rc = tpc_arena_new(1 << 20, (size_t)1 << 30, &scratch)))
		return ENOMEM;
	if ((rc = tpc_arena_new(1 << 20, (size_t)1 << 30, &answers))) {
		tpc_arena_free(&scratch);
		return ENOMEM;
	}
	for (; i < p->nitems; i = j) {
		uint8_t key[8];
		MDB_val k, v;
		tpc_answer_hdr_t h;
		const uint8_t *native = NULL;
		struct payload pl = {NULL, 0};

		for (j = i; j < p->nitems && p->items[j].seq == p->items[i].seq; j++)
			;
		if (!p->items[j - 1].payment)
			continue; /* nothing of this sending paid (payment 0 sorts first) */
		k = tpc_key_u64(key, p->items[i].seq);
		if ((rc = mdb_get(txn, ctx->db->answers, &k, &v)))
			goto out;
		if ((rc = tpc_records_answer_header_read(v.mv_data, v.mv_size, &h))) {
			if (rc == TPC_EDAMAGED)
				tpc_records_damaged(TPC_REC_ANSWERS, &k);
			else
				rc = MDB_CORRUPTED;
			goto out;
		}
		if (h.native_len) {
			/* the stored answer (perhaps compressed), in an arena of its own: the
			 * settlements' scratch arena is reset for each one */
			tpc_stored_t st;

			tpc_arena_reset(answers);
			if ((rc = tpc_records_answer_decode(v.mv_data, v.mv_size, answers, &st))) {
				rc = rc == TPC_ENOMEM     ? ENOMEM
				     : rc == TPC_EDAMAGED ? TPC_EDAMAGED
				                          : MDB_CORRUPTED;
				goto out;
			}
			native = st.native.ptr;
			/* the sending as received, beside its answer: the native settlement
			 * echoes the records it settles from it */
			if ((rc = read_payload(txn, ctx->db, &h, answers, &pl)))
				goto out;
		}
		/* every line of the sending, in order */
		if ((rc = read_lines(txn, ctx->db, p->items[i].seq, &rl)))
			goto out;
		/* items are sorted by (sequence, payment, line): one settlement per run of a
		 * payment among this sending's items */
		for (size_t a = i, e; a < j; a = e) {
			for (e = a; e < j && p->items[e].payment == p->items[a].payment; e++)
				;
			if (!p->items[a].payment)
				continue;
			rc = settle_one(ctx, txn, p, &h, native, &pl, rl.recs, rl.lines, rl.n,
			                &p->items[a], &p->items[e], scratch);
			if (rc)
				goto out;
		}
	}
	rc = 0;
out:
	free(rl.recs);
	free(rl.lines);
	tpc_arena_free(&scratch);
	tpc_arena_free(&answers);
	return rc;
}

/* The @p count payments of run @p run.
 * @param[out] out  calloc'd array (caller frees), set even on error (NULL or partial)
 * @return 0, MDB_CORRUPTED (fewer or other-sized records than the run says) or an LMDB code. */
static int load_payments(MDB_txn *txn, const tpc_store_db_t *db, uint64_t run, uint32_t count,
                         tpc_payment_rec_t **out, uint32_t *n)
{
	uint8_t key[12];
	tpc_iter_t it;
	tpc_txn_t t;

	*n = 0;
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return ENOMEM;
	tpc_txn_wrap(&t, txn);
	/* the run record says how many payments it made: fewer (or more) is a damaged store, and
	 * no SEPA file is rendered from a partial list */
	tpc_key_u64_u32(key, run, 0);
	tpc_txn_foreach(&it, &t, db->payments, key, 12, 8)
	{
		if (*n == count || it.key.mv_size != 12)
			break;
		if (tpc_txn_fail(&t, tpc_records_read(&it.val, &(*out)[*n], sizeof(**out))
		                         ? MDB_CORRUPTED
		                         : 0))
			break;
		(*n)++;
	}
	tpc_iter_close(&it);
	if (t.ret)
		return t.ret;
	return *n == count ? 0 : MDB_CORRUPTED;
}

/* A request id seen before: the same request gets its first run back (payments read from the
 * ledger, for finish to render), another one is refused. @return an LMDB code.
 * Everything the first answer said is rebuilt from what was stored with it: the run record
 * (totals, execution day, budgets), its payments, and the counts kept in the id's record.
 * The notes were not kept, so a replay answers none (docs/ledger.md, Payment runs). */
static int replay(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job,
                  const tpc_payrun_id_t *id, tpc_payrun_t *p)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	tpc_payrun_rec_t rec;
	int rc;

	/* the same id must mean the same request: answering another request's run would tell the
	 * caller its own request was done */
	if (id->until_day != job->payrun_until || id->budget != job->payrun_budget) {
		p->refusal = TPC_CODE_PAYRUN_ID_REUSED;
		return 0;
	}
	p->replay = 1;
	p->run = id->run;
	p->now_ms = id->at_ms;
	p->settlements = id->settlements;
	p->lines_carried = id->lines_carried;
	p->lines_no_account = id->lines_no_account;
	if (!id->run)
		return 0; /* nothing was due: nothing was stored */
	tpc_put_be64(key, id->run);
	if ((rc = mdb_get(txn, ctx->db->payruns, &k, &v)))
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (v.mv_size != sizeof(rec))
		return MDB_CORRUPTED;
	memcpy(&rec, v.mv_data, sizeof(rec));
	p->now_ms = rec.at_ms;
	p->execution_day = rec.execution_day;
	p->lines_paid = rec.lines;
	p->total_cents = rec.total_cents;
	p->budgets_paid = rec.budgets_paid;
	return load_payments(txn, ctx->db, id->run, rec.payments, &p->payments, &p->npayments);
}

/* The order is the guarantee. The request id is looked up before any payable is read: a
 * retried request must be answered with its first run and pay nothing that arrived since.
 * Then the four passes, then the id (in the same transaction as what it made, so a crash
 * leaves both or neither), then the run record last, only when something was paid: an empty
 * run stores no run and keeps its number free. Run numbers of stored runs stay dense. */
int tpc_payrun_execute(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, const tpc_job_t *job,
                       uint64_t run, uint64_t now_ms, tpc_payrun_t **out)
{
	tpc_payrun_t *p = calloc(1, sizeof(*p));
	tpc_payrun_rec_t rec;
	tpc_payrun_id_t id;
	uint8_t key[8], idk[TPC_SENDER_MAX + 66];
	MDB_val k = {sizeof(key), key}, v = {sizeof(rec), &rec};
	MDB_val ik = {0, idk}, iv;
	int rc;

	/* handed out at once: whatever fails below, the caller frees it with the run's state */
	*out = p;
	if (!p)
		return ENOMEM;
	if (job->payrun_id[0]) {
		ik = tpc_key_names(idk, sizeof(idk), job->sender,
		                   job->payrun_id); /* sender NUL id */
		rc = mdb_get(txn, ctx->db->payrun_ids, &ik, &iv);
		if (rc == 0) {
			if (iv.mv_size != sizeof(id))
				return MDB_CORRUPTED;
			memcpy(&id, iv.mv_data, sizeof(id));
			return replay(ctx, txn, job, &id, p);
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	p->run = run;
	p->now_ms = now_ms;
	/* the requested execution date: the run's day plus [payments] execution_days */
	p->execution_day = (int32_t)day_of_ms(now_ms) + ctx->cfg->execution_days;
	if ((rc = gather(ctx, txn, job, p)) || (rc = resolve(ctx, txn, p)) ||
	    (rc = pay(ctx, txn, p)))
		return rc;
	/* settlements only when something was paid: they report payments */
	if (p->npayments && (rc = settle(ctx, txn, p)))
		return rc;
	if (job->payrun_id[0]) {
		/* remembered even when nothing was due: a retry must not pay what came since */
		memset(&id, 0, sizeof(id));
		id.run = p->npayments ? run : 0;
		id.at_ms = now_ms;
		id.until_day = job->payrun_until;
		id.budget = job->payrun_budget;
		id.settlements = p->settlements;
		id.lines_carried = p->lines_carried;
		id.lines_no_account = p->lines_no_account;
		iv.mv_data = &id;
		iv.mv_size = sizeof(id);
		if ((rc = mdb_put(txn, ctx->db->payrun_ids, &ik, &iv, MDB_NOOVERWRITE)))
			return rc;
		p->id_stored = 1;
	}
	if (!p->npayments)
		return 0; /* nothing paid: no run stored, the run number stays free */
	memset(&rec, 0, sizeof(rec));
	rec.at_ms = now_ms;
	rec.until_day = job->payrun_until;
	rec.execution_day = p->execution_day;
	rec.budget = job->payrun_budget;
	rec.payments = p->npayments;
	rec.lines = p->lines_paid;
	rec.total_cents = p->total_cents;
	rec.budgets_paid = p->budgets_paid;
	tpc_put_be64(key, run);
	return mdb_put(txn, ctx->db->payruns, &k, &v, MDB_APPEND);
}

/* Build one budget's batch from the payments and render it. @return 0 or a TPC_E* code.
 * Everything in the file derives from what is stored (run, budget, commit time, payments)
 * and the configured payer, never from the clock: a file rendered again at startup or for a
 * replay is the same file (the same bytes unless the payer account was reconfigured). */
static int render_budget(const tpc_payrun_ctx_t *ctx, uint64_t run, uint64_t at_ms,
                         int32_t execution_day, unsigned budget, const tpc_payment_rec_t *pm,
                         size_t npm, char **xml, size_t *len, tpc_sepa_totals_t *totals)
{
	const tpc_payer_t *payer = &ctx->cfg->payer[budget];
	tpc_sepa_payment_t *sp = calloc(npm ? npm : 1, sizeof(*sp));
	char(*remit)[64] = calloc(npm ? npm : 1, sizeof(*remit));
	char(*names)[71] = calloc(npm ? npm : 1, sizeof(*names));
	char debtor[71];
	char msgid[36], pmtid[36], err[256];
	tpc_sepa_batch_t b;
	size_t n = 0;
	int rc = TPC_ENOMEM;

	if (!sp || !remit || !names)
		goto out;
	for (size_t i = 0; i < npm; i++) {
		if (pm[i].budget != budget)
			continue;
		snprintf(remit[n], sizeof(remit[n]), "tpclear %s %s payrun %llu", pm[i].end_to_end,
		         tpc_budget_name(budget), (unsigned long long)run);
		sp[n].end_to_end = pm[i].end_to_end;
		tpc_sepa_text(pm[i].name, sizeof(names[n]) - 1, names[n]);
		sp[n].name = names[n];
		sp[n].iban = pm[i].iban;
		sp[n].bic = pm[i].bic;
		sp[n].amount_cents = pm[i].amount_cents;
		sp[n].remittance = remit[n];
		n++;
	}
	snprintf(msgid, sizeof(msgid), "TPC-%08llu-%s", (unsigned long long)run,
	         tpc_budget_name(budget));
	snprintf(pmtid, sizeof(pmtid), "TPC-%08llu-%s-1", (unsigned long long)run,
	         tpc_budget_name(budget));
	memset(&b, 0, sizeof(b));
	b.message_id = msgid;
	b.payment_info_id = pmtid;
	b.created_ms = at_ms;
	b.execution_day = execution_day;
	tpc_sepa_text(payer->name, sizeof(debtor) - 1, debtor);
	b.debtor_name = debtor;
	b.debtor_iban = payer->iban;
	b.debtor_bic = payer->bic;
	b.payments = sp;
	b.npayments = n;
	rc = tpc_sepa_render(&b, xml, len, totals, err, sizeof(err));
	if (rc == TPC_EINVAL)
		tpc_error("payrun %llu: SEPA file for %s refused: %s", (unsigned long long)run,
		          tpc_budget_name(budget), err);
out:
	free(sp);
	free(remit);
	free(names);
	return rc;
}

/* Write one budget's file into the payments directory (made on first use). Atomically: restore
 * runs take a file that exists as written (stat() only), so a half-written file must never
 * exist under the final name. @return 0 or a negative errno. */
static int write_budget_file(const tpc_payrun_ctx_t *ctx, uint64_t run, unsigned budget,
                             const char *xml, size_t len, char *path, size_t cap)
{
	char name[96];
	int rc;

	if (mkdir(ctx->payments_dir, 0750) != 0 && errno != EEXIST) {
		tpc_error("payments directory %s: %s", ctx->payments_dir, strerror(errno));
		return -errno;
	}
	tpc_payrun_file_name(run, budget, name, sizeof(name));
	snprintf(path, cap, "%s/%s", ctx->payments_dir, name);
	if ((rc = tpc_file_write_atomic(path, xml, len)))
		tpc_error("payrun %llu: cannot write %s: %s", (unsigned long long)run, path,
		          strerror(-rc));
	return rc;
}

/* A malloc'd push copied into the job's arena, which the loop thread frees with the job. */
static void *arena_copy(tpc_arena_t *a, const void *src, size_t n)
{
	void *d = tpc_arena_alloc(a, n ? n : 1, 8);

	if (d && n)
		memcpy(d, src, n);
	return d;
}

/* Runs after the commit is durable, never before: a SEPA file may only exist for payments the
 * ledger holds, so a crash can lose a file (rewritten at the next start) but never leave one
 * for a run that was rolled back. A file that cannot be written does not undo anything: the
 * payments are committed, the run stays unmarked, and the next start writes it. The answer
 * carries each file's content so the requester can keep a copy (`tpclear payrun --out`);
 * it is packed into the job's arena, like the settlements to push, because the run's own
 * state is freed here while the loop thread sends them later. */
int tpc_payrun_finish(const tpc_payrun_ctx_t *ctx, tpc_payrun_t **pp, tpc_job_t *job)
{
	int missing = 0;
	tpc_payrun_t *p = *pp;
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__PayrunResult pr = TPCLEAR__PAYRUN_RESULT__INIT;
	Tpclear__SepaFile files[TPC_BUDGET__COUNT], *filesp[TPC_BUDGET__COUNT];
	char paths[TPC_BUDGET__COUNT][TPC_PATH_MAX + 96], names[TPC_BUDGET__COUNT][96];
	char *xmls[TPC_BUDGET__COUNT] = {0};
	size_t nfiles = 0;

	pr.run = p->npayments ? p->run : 0;
	pr.committed_at = p->now_ms;
	pr.payments = p->npayments;
	pr.lines = p->lines_paid;
	pr.total_cents = p->total_cents;
	pr.lines_carried = p->lines_carried;
	pr.lines_no_account = p->lines_no_account;
	pr.settlements = p->settlements;
	pr.n_notes = p->nnotes;
	pr.notes = p->notes;
	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		tpc_sepa_totals_t t = {0};
		size_t len = 0;

		if (!(p->budgets_paid & (1u << b)))
			continue;
		if (render_budget(ctx, p->run, p->now_ms, p->execution_day, b, p->payments,
		                  p->npayments, &xmls[b], &len, &t) != 0) {
			missing++;
			continue;
		}
		tpclear__sepa_file__init(&files[nfiles]);
		tpc_payrun_file_name(p->run, b, names[b], sizeof(names[b]));
		if (p->replay) {
			/* written by the first request (or at the next start); never twice. The
			 * answer carries the file as written while it is there (the payer account
			 * may have been reconfigured since), else as rendered from the ledger */
			uint8_t *disk = NULL;
			size_t dlen = 0;

			snprintf(paths[b], sizeof(paths[b]), "%s/%s", ctx->payments_dir, names[b]);
			if (tpc_file_read_all(paths[b], &disk, &dlen) == 0) {
				free(xmls[b]);
				xmls[b] = (char *)disk;
				len = dlen;
			}
		} else if (write_budget_file(ctx, p->run, b, xmls[b], len, paths[b],
		                             sizeof(paths[b]))) {
			paths[b][0] = 0; /* rewritten at the next start */
			missing++;
		}
		files[nfiles].budget = (char *)tpc_budget_name(b);
		files[nfiles].name = names[b];
		files[nfiles].path = paths[b];
		files[nfiles].transactions = (uint32_t)t.transactions;
		files[nfiles].control_cents = t.control_cents;
		files[nfiles].content.data = (uint8_t *)xmls[b];
		files[nfiles].content.len = len;
		files[nfiles].payer_iban = (char *)ctx->cfg->payer[b].iban;
		filesp[nfiles] = &files[nfiles];
		nfiles++;
		tpc_info("payrun %llu: %s: %zu transfers, %lld cents, %s%s",
		         (unsigned long long)p->run, tpc_budget_name(b), t.transactions,
		         (long long)t.control_cents, paths[b], p->replay ? " (replay)" : "");
	}
	pr.replay = p->replay;
	pr.n_files = nfiles;
	pr.files = filesp;
	ans.version = 1;
	ans.correlation = job->correlation;
	ans.body_case = TPCLEAR__ANSWER__BODY_PAYRUN;
	ans.payrun = &pr;
	/* the files' paths are under the operator's directory, whatever its encoding */
	if (tpc_utf8_fix_message(&ans.base, tpc_arena_host_alloc, job->arena) == 0) {
		size_t n = tpclear__answer__get_packed_size(&ans);
		uint8_t *buf = tpc_arena_alloc(job->arena, n ? n : 1, 8);

		if (buf) {
			job->result = buf;
			job->result_len = tpclear__answer__pack(&ans, buf);
			job->answer_ready = 1;
		}
	}
	for (unsigned b = 0; b < TPC_BUDGET__COUNT; b++)
		free(xmls[b]);
	/* the settlements to push, copied into the job's arena for the loop thread */
	job->pushes =
	    p->npushes ? tpc_arena_alloc(job->arena, p->npushes * sizeof(tpc_push_t), 8) : NULL;
	job->npushes = 0;
	for (size_t i = 0; job->pushes && i < p->npushes; i++) {
		tpc_push_t *x = &job->pushes[job->npushes];
		const struct push *y = &p->pushes[i];

		memcpy(x->sender, y->sender, sizeof(x->sender));
		x->answer = arena_copy(job->arena, y->answer, y->answer_len);
		x->answer_len = y->answer_len;
		memset(&x->native, 0, sizeof(x->native));
		if (y->native) {
			x->native.ptr = arena_copy(job->arena, y->native, y->native_len);
			x->native.len = y->native_len;
			memcpy(x->native.type, y->native_type, sizeof(x->native.type));
			if (!x->native.ptr)
				break;
		}
		if (!x->answer)
			break;
		job->npushes++;
	}
	tpc_payrun_free(pp);
	return missing ? -1 : 0;
}

/* Only the files_written flag of the run record changes; the run's money is never touched
 * again. Without the mark a restart would write the files again, including those an operator
 * has already sent and moved away. */
int tpc_payrun_mark_written(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, uint64_t run)
{
	uint8_t key[8];
	MDB_val k = {sizeof(key), key}, v;
	tpc_payrun_rec_t r;
	int rc;

	tpc_put_be64(key, run);
	if ((rc = mdb_get(txn, ctx->db->payruns, &k, &v)))
		return rc;
	if (v.mv_size != sizeof(r))
		return MDB_CORRUPTED;
	memcpy(&r, v.mv_data, sizeof(r));
	r.files_written = 1;
	v.mv_data = &r;
	return mdb_put(txn, ctx->db->payruns, &k, &v, 0);
}

/* Write the missing SEPA files of committed run @p run. @return 0 when every file is on disk,
 * 1 when one could not be written (the run stays unmarked: tried again at the next start),
 * ENOMEM. @p rewritten counts the files written.
 * A file present under its name counts as written: write_budget_file() renames whole files
 * into place. A marked run, whose files an operator may have moved away, is never looked at. */
static int restore_run(const tpc_payrun_ctx_t *ctx, MDB_txn *txn, uint64_t run,
                       const tpc_payrun_rec_t *r, int *rewritten)
{
	tpc_payment_rec_t *pm = NULL;
	uint32_t npm = 0;
	int failed = 0;

	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		char name[96], path[TPC_PATH_MAX + 96], *xml = NULL;
		struct stat sb;
		size_t len;
		tpc_sepa_totals_t t;

		if (!(r->budgets_paid & (1u << b)))
			continue;
		tpc_payrun_file_name(run, b, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", ctx->payments_dir, name);
		if (stat(path, &sb) == 0)
			continue;
		if (!pm) {
			/* read once per run, and only when a file is missing */
			int lrc = load_payments(txn, ctx->db, run, r->payments, &pm, &npm);

			if (lrc == ENOMEM) {
				free(pm);
				return ENOMEM;
			}
			if (lrc) {
				/* no file from payments that are not the run's */
				tpc_error("payrun %llu: its payments cannot be read: %s",
				          (unsigned long long)run, mdb_strerror(lrc));
				failed = 1;
				break;
			}
		}
		if (render_budget(ctx, run, r->at_ms, r->execution_day, b, pm, npm, &xml, &len,
		                  &t) == 0 &&
		    write_budget_file(ctx, run, b, xml, len, path, sizeof(path)) == 0) {
			tpc_warn("payrun %llu: SEPA file %s was never written, written now "
			         "from the ledger",
			         (unsigned long long)run, path);
			(*rewritten)++;
		} else {
			failed = 1;
		}
		free(xml);
	}
	free(pm);
	return failed;
}

/* Startup, before the writer thread runs, in a write transaction of its own. A committed run
 * can only miss its files between its commit and its mark (a crash, a full disk), so the runs
 * not marked are the only ones to look at; a run whose files still cannot be written is
 * logged and left unmarked, and the engine starts anyway: its payments are in the ledger and
 * the next start tries again. */
int tpc_payrun_restore_files(const tpc_payrun_ctx_t *ctx, MDB_txn *txn)
{
	uint64_t *mark = NULL;
	size_t nmark = 0;
	int rewritten = 0;
	tpc_iter_t it;
	tpc_txn_t t;

	tpc_txn_wrap(&t, txn);
	tpc_txn_foreach(&it, &t, ctx->db->payruns, NULL, 0, 0)
	{
		tpc_payrun_rec_t r;
		uint64_t run;
		uint64_t *m;
		int rc;

		if (it.key.mv_size != 8 || tpc_records_read(&it.val, &r, sizeof(r)))
			continue;
		if (r.files_written)
			continue; /* written once: files moved away by operators stay away */
		/* a run whose file cannot be written now stays unmarked: the next start tries
		 * again, and the operator sees the error in the log meanwhile */
		run = tpc_get_be64(it.key.mv_data);
		rc = restore_run(ctx, txn, run, &r, &rewritten);
		if (rc == 1)
			continue;
		/* marked after the scan: no write under the open cursor */
		m = rc ? NULL : realloc(mark, (nmark + 1) * sizeof(*m));
		if (!m) {
			tpc_txn_fail(&t, ENOMEM);
			break;
		}
		mark = m;
		mark[nmark++] = run;
	}
	tpc_iter_close(&it);
	for (size_t i = 0; i < nmark && !t.ret; i++)
		tpc_txn_fail(&t, tpc_payrun_mark_written(ctx, txn, mark[i]));
	free(mark);
	if (t.ret)
		return tpc_err_from_mdb(t.ret);
	if (rewritten)
		tpc_info("payrun: %d SEPA files written at startup", rewritten);
	return (int)nmark;
}
