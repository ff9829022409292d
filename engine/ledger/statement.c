/* engine/ledger/statement.c - monthly recovery statements (see statement.h).
 *
 * DESIGN
 * - Three passes over one read snapshot. (1) Scan the postings and keep the SPPIS charges
 *   committed in the month (a malloc'd array of small records; the postings are appended in
 *   commit order, but the wall clock may step back, so the whole table is scanned as the
 *   balance does). (2) Sort them by (sequence, line, part) and fold the parts of a line into
 *   one statement line, reading its line record, its scheme reference and the payee of its
 *   first charge (the PAYABLE posting written right after it, posting number + 1). (3) Sort the
 *   lines by (CPAS, decision, sequence, line), total them per decision, per CPAS and overall,
 *   check the grand total against the charges, then render the document and the message.
 * - The amounts of a line come from its line record, never from the postings: insurer part =
 *   accepted - patient share (when a budget pays the share too), patient share = the invoiced
 *   patient share when SPPIS pays it. The charges come from the postings only. Both are the
 *   ledger writer's bookkeeping of one decision; the statement exists only when they agree.
 * - Sums use __builtin_add_overflow: an overflowing sum cannot reconcile, it is refused T00031.
 * - The XML writer keeps a sticky error as in engine/payments/sepa.c: every helper is a no-op once
 * a libxml2 call failed, and the result is looked at once, at the end.
 */
#include "ledger/statement.h"

#include "clearing/budget.h"
#include "core/codes.h"
#include "common/check.h"
#include "core/error.h"
#include "core/xmlw.h"
#include "core/log.h"
#include "clearing/schemes.h"
#include "refdata/text.h"
#include "store/postings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>

#define STATEMENT_NS "urn:tpclear:sppis-statement:1"
#define MS_PER_DAY   86400000ull

/* One SPPIS charge posting of the month. */
struct charge {
	uint64_t seq;
	uint64_t number; /* posting number */
	uint64_t at_ms;
	uint32_t line;
	uint8_t part;
	char payee[12]; /* the invoicing NIHII: its payable's account, "" when not found */
};

/* One line of the statement: the parts of a line charged to SPPIS in the month, folded. */
struct sline {
	uint64_t seq;
	uint64_t at_ms;
	int64_t insurer, share;
	uint32_t line;
	int32_t date; /* days since epoch */
	int32_t units;
	char code[7];
	char org[11];      /* CPAS BCE */
	const char *ref;   /* decision: in the scheme_refs value, valid as long as the snapshot */
	char provider[12]; /* the payee of the charge: the invoicing NIHII */
};

/* Totals of a range. */
struct sum {
	uint32_t lines;
	int64_t insurer, share, total;
};

/* A decision (lines first..first+n-1) or a CPAS (decisions first..first+n-1), with its sum. */
struct group {
	size_t first, n;
	struct sum s;
};

/* What the passes share. */
struct build {
	MDB_txn *txn;
	const tpc_store_db_t *db;
	tpc_lines_t lines; /* pass 2's reader of the line records */
	tpc_arena_t *arena;
	uint64_t from, until;
	uint32_t month;
	struct charge *ch;
	size_t nch, capch;
	struct sline *ln;
	size_t nln;
	int64_t charged;
	struct group *dec, *cpas; /* pass 3: decisions (ranges of ln), CPAS (ranges of dec) */
	size_t ndec, ncpas;
};

static int add(int64_t *sum, int64_t v)
{
	return __builtin_add_overflow(*sum, v, sum);
}

/* ---- the month ----------------------------------------------------------------------------- */

int tpc_statement_month(uint32_t yyyymm, uint64_t *from_ms, uint64_t *until_ms)
{
	uint32_t y = yyyymm / 100, m = yyyymm % 100;
	int32_t first, last = -1;

	if (TPC_FAILS(from_ms && until_ms))
		return TPC_EINVAL;
	if (y < 1970 || y > 2999 || m < 1 || m > 12)
		return TPC_EINVAL;
	if (tpc_check_date_yyyymmdd(yyyymm * 100 + 1, &first) || first < 0)
		return TPC_EINVAL;
	/* the last day: the first of 31, 30, 29, 28 that exists */
	for (uint32_t d = 31; d >= 28 && last < 0; d--)
		if (tpc_check_date_yyyymmdd(yyyymm * 100 + d, &last))
			last = -1;
	if (last < first)
		return TPC_EINVAL;
	*from_ms = (uint64_t)first * MS_PER_DAY;
	*until_ms = ((uint64_t)last + 1) * MS_PER_DAY;
	return 0;
}

/* ---- pass 1: the month's SPPIS charges ----------------------------------------------------- */

/* The invoicing NIHII of the charge @p c: the PAYABLE posting numbered right after it, of the
 * same line part (a pair's second posting, or the next record before schema 6). */
static void payee_take(struct charge *c, const tpc_posting_rec_t *p, uint64_t num)
{
	if (num != c->number + 1 || p->kind != TPC_POST_PAYABLE || p->sequence != c->seq ||
	    p->line != c->line || p->part != c->part || p->payee_kind != TPC_PAYEE_PROVIDER)
		return;
	snprintf(c->payee, sizeof(c->payee), "%.11s", p->account);
}

/* Keep every SPPIS charge committed in [from, until) and sum them into b->charged. Only charges
 * count: a payment run's settle/payout postings move money the statement already listed, and
 * the payable postings are the other side of the same charges. @return 0, TPC_E2BIG when the
 * sum overflows, TPC_ENOMEM, or an LMDB failure. */
static int collect(struct build *b)
{
	tpc_postings_t it;
	tpc_posting_rec_t p;
	uint64_t num;
	size_t last = SIZE_MAX; /* the charge kept just before */
	int rc, got;

	/* stored and derived postings alike (store/postings.h), in number order */
	if ((rc = tpc_postings_open(&it, b->txn, b->db, 0)))
		return tpc_err_from_mdb(rc);
	while ((got = tpc_postings_next(&it, &p, &num)) == 1) {
		struct charge *c;

		if (last != SIZE_MAX)
			payee_take(&b->ch[last], &p, num);
		last = SIZE_MAX;
		if (p.kind != TPC_POST_CHARGE || p.budget != TPC_BUDGET_SPPIS ||
		    p.at_ms < b->from || p.at_ms >= b->until)
			continue;
		if (b->nch == b->capch) {
			size_t nc = b->capch ? b->capch * 2 : 256;
			struct charge *n = realloc(b->ch, nc * sizeof(*n));

			if (!n) {
				rc = TPC_ENOMEM;
				break;
			}
			b->ch = n;
			b->capch = nc;
		}
		last = b->nch;
		c = &b->ch[b->nch++];
		memset(c, 0, sizeof(*c));
		c->seq = p.sequence;
		c->number = num;
		c->at_ms = p.at_ms;
		c->line = p.line;
		c->part = p.part;
		if (add(&b->charged, p.amount_cents)) {
			rc = TPC_E2BIG;
			break;
		}
	}
	tpc_postings_close(&it);
	/* a damaged posting or block refuses the statement (T00055): its sum would be wrong */
	if (!rc && got == TPC_EDAMAGED)
		tpc_records_damaged(it.bad_db, &it.bad);
	return rc ? rc : got < 0 || got > 1 ? tpc_err_from_mdb(got) : 0;
}

/* ---- pass 2: one statement line per (sequence, line) --------------------------------------- */

/* (sequence, line, part): a line's parts end up adjacent, its insurer part (0) first, so the
 * payee looked up for a line is the one of its first posting pair. Ties cannot happen (a part
 * is charged once), the posting number only makes the order total. */
static int cmp_charge(const void *pa, const void *pb)
{
	const struct charge *a = pa, *b = pb;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->part != b->part)
		return a->part < b->part ? -1 : 1;
	return (a->number > b->number) - (a->number < b->number);
}

/* The scheme reference is written by the ledger writer from the feed row; it is checked again
 * here because it goes into a document with a schema, and a value outside the schema's pattern
 * would make the whole file invalid for SPP IS. */
static int is_bce(const char *s)
{
	if (strnlen(s, 11) != 10)
		return 0;
	for (int i = 0; i < 10; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* A decision id as the mediprima feed accepts it (engine/refdata/refdata.c): free text, 1 to
 * TPC_REF_TEXT_MAX bytes of UTF-8 without control characters, which is what the document's
 * schema allows (DecisionId) and what XML can carry. It is written whole, as SPP IS sent it. */
static int is_decision(const char *s)
{
	return !tpc_text_check(s, strlen(s), TPC_REF_TEXT_MAX, NULL);
}

/* The statement line @p sl of the line charged by @p first (its first charge in part order),
 * from the line's own records. @return 0; TPC_EDB with *@p code T00032 (no accepted line, no
 * Mediprima reference) or T00031 (amounts that overflow); or an LMDB failure. */
static int fold(struct build *b, const struct charge *first, struct sline *sl, const char **code)
{
	uint8_t key[12];
	MDB_val k = {sizeof(key), key}, v;
	tpc_line_rec_t r;
	tpc_scheme_ref_view_t sr;
	int64_t share_part, sum;
	int rc;

	memset(sl, 0, sizeof(*sl));
	sl->seq = first->seq;
	sl->line = first->line;
	sl->at_ms = first->at_ms;
	tpc_key_u64_u32(key, first->seq, first->line);
	/* in either layout (store/records.h): the lines of a sending are read one block */
	rc = tpc_lines_get(&b->lines, first->seq, first->line, &r, NULL);
	if (rc == TPC_EDAMAGED) {
		tpc_records_damaged(TPC_REC_LINES, &k);
		return TPC_EDAMAGED;
	}
	if (rc && rc != MDB_NOTFOUND)
		return tpc_err_from_mdb(rc);
	if (rc)
		goto out_inconsistent;
	if (r.outcome != TPC_OUTCOME_ACCEPTED)
		goto out_inconsistent;
	rc = mdb_get(b->txn, b->db->scheme_refs, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return tpc_err_from_mdb(rc);
	if (rc || tpc_records_scheme_ref_read(&v, &sr) != 0)
		goto out_inconsistent;
	if (sr.scheme != TPC_SCHEME_MEDIPRIMA || !is_decision(sr.ref) || !is_bce(sr.org))
		goto out_inconsistent;
	memcpy(sl->org, sr.org, 10);
	sl->ref = sr.ref;
	memcpy(sl->code, r.code, 6);
	sl->date = r.date_first;
	sl->units = r.units;
	/* what the writer charges (engine/ledger/ledger.c post()), recomputed from the line record
	 */
	share_part = r.share_budget ? r.patient_cents : 0;
	if (r.share_budget == TPC_BUDGET_SPPIS)
		sl->share = r.patient_cents;
	if ((r.budget == TPC_BUDGET_SPPIS &&
	     __builtin_sub_overflow(r.accepted_cents, share_part, &sl->insurer)) ||
	    __builtin_add_overflow(sl->insurer, sl->share, &sum)) {
		*code = TPC_CODE_UNRECONCILED; /* amounts no sum can hold */
		return TPC_EDB;
	}
	memcpy(sl->provider, first->payee, sizeof(first->payee));
	return 0;

out_inconsistent:
	tpc_error("statement: SPPIS charge of sequence %llu line %u has no accepted Mediprima "
	          "line with a decision and a CPAS",
	          (unsigned long long)first->seq, first->line);
	*code = TPC_CODE_STATEMENT_NO_LINE;
	return TPC_EDB;
}

/* Pass 2: sort the charges, fold each run of one (sequence, line) into a statement line. */
static int lines_of(struct build *b, const char **code)
{
	int rc;

	if (!b->nch)
		return 0;
	qsort(b->ch, b->nch, sizeof(*b->ch), cmp_charge);
	b->ln = malloc(b->nch * sizeof(*b->ln)); /* at most one line per charge */
	if (!b->ln)
		return TPC_ENOMEM;
	for (size_t i = 0; i < b->nch;) {
		size_t j = i + 1;

		while (j < b->nch && b->ch[j].seq == b->ch[i].seq && b->ch[j].line == b->ch[i].line)
			j++;
		if ((rc = fold(b, &b->ch[i], &b->ln[b->nln], code)))
			return rc;
		b->nln++;
		i = j;
	}
	return 0;
}

/* ---- pass 3: order, totals, reconciliation ------------------------------------------------- */

/* Document order: CPAS (BCE), decision, then sequence and line, i.e. acceptance order within a
 * decision. BCE numbers are all 10 digits, so strcmp is numeric order. */
static int cmp_line(const void *pa, const void *pb)
{
	const struct sline *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->org, b->org)) || (c = strcmp(a->ref, b->ref)))
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return (a->line > b->line) - (a->line < b->line);
}

/* Add line @p l to @p s. @return nonzero on overflow. */
static int sum_line(struct sum *s, const struct sline *l)
{
	s->lines++;
	return add(&s->insurer, l->insurer) || add(&s->share, l->share) ||
	       add(&s->total, l->insurer) || add(&s->total, l->share);
}

/* Sort the lines and cut them into decisions and CPAS, each with its sum (and @p all).
 * @return 0, TPC_E2BIG when a sum overflows, or TPC_ENOMEM. */
static int group(struct build *b, struct sum *all)
{
	struct group *d = NULL, *c = NULL;

	if (!b->nln)
		return 0;
	qsort(b->ln, b->nln, sizeof(*b->ln), cmp_line);
	/* at most one decision and one CPAS per line */
	b->dec = malloc(b->nln * sizeof(*b->dec));
	b->cpas = malloc(b->nln * sizeof(*b->cpas));
	if (!b->dec || !b->cpas)
		return TPC_ENOMEM;
	/* after the sort a CPAS's lines are adjacent, and within them a decision's: one walk cuts
	 * both levels, each group remembering where it starts */
	for (size_t i = 0; i < b->nln; i++) {
		const struct sline *l = &b->ln[i];
		int new_cpas = i == 0 || strcmp(l->org, l[-1].org) != 0;

		if (new_cpas) {
			c = &b->cpas[b->ncpas++];
			memset(c, 0, sizeof(*c));
			c->first = b->ndec;
		}
		if (new_cpas || strcmp(l->ref, l[-1].ref) != 0) {
			d = &b->dec[b->ndec++];
			memset(d, 0, sizeof(*d));
			d->first = i;
			c->n++;
		}
		d->n++;
		if (sum_line(&d->s, l) || sum_line(&c->s, l) || sum_line(all, l))
			return TPC_E2BIG;
	}
	return 0;
}

/* ---- the document -------------------------------------------------------------------------- */

static void attr_u(tpc_xmlw_t *wr, const char *name, unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", v);
	tpc_xmlw_attr(wr, name, num);
}

static void attr_i(tpc_xmlw_t *wr, const char *name, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	tpc_xmlw_attr(wr, name, num);
}

static void attr_eur(tpc_xmlw_t *wr, const char *name, int64_t cents)
{
	char num[32];

	tpc_xmlw_decimal(num, sizeof(num), cents);
	tpc_xmlw_attr(wr, name, num);
}

/* "2026-11-20T10:11:12.345Z" */
static void instant(char *buf, size_t size, uint64_t ms)
{
	uint32_t d = tpc_check_days_to_yyyymmdd((int32_t)(ms / MS_PER_DAY));
	uint64_t t = ms % MS_PER_DAY;

	snprintf(buf, size, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", d / 10000, d / 100 % 100,
	         d % 100, (unsigned)(t / 3600000), (unsigned)(t / 60000 % 60),
	         (unsigned)(t / 1000 % 60), (unsigned)(t % 1000));
}

static void total(tpc_xmlw_t *wr, const struct sum *s)
{
	attr_u(wr, "lines", s->lines);
	attr_eur(wr, "insurer", s->insurer);
	attr_eur(wr, "share", s->share);
	attr_eur(wr, "total", s->total);
}

/* One Line element: identity (sequence, line), when and by whom, what, then the amounts. */
static void line(tpc_xmlw_t *wr, const struct sline *l)
{
	uint32_t d = tpc_check_days_to_yyyymmdd(l->date);
	char day[16], at[32];

	snprintf(day, sizeof(day), "%04u-%02u-%02u", d / 10000, d / 100 % 100, d % 100);
	instant(at, sizeof(at), l->at_ms);
	tpc_xmlw_start(wr, "Line");
	attr_u(wr, "sequence", l->seq);
	attr_u(wr, "line", l->line);
	tpc_xmlw_attr(wr, "accepted", at);
	if (l->provider[0])
		tpc_xmlw_attr(wr, "provider", l->provider);
	tpc_xmlw_attr(wr, "code", l->code);
	tpc_xmlw_attr(wr, "date", day);
	attr_i(wr, "units", l->units);
	attr_eur(wr, "insurer", l->insurer);
	attr_eur(wr, "share", l->share);
	attr_eur(wr, "total", l->insurer + l->share); /* checked not to overflow by fold() */
	tpc_xmlw_end(wr);
}

struct totals {
	struct sum all;
	int provisional;
};

/* The whole document, in the element order of docs/formats/sppis-statement.xsd. Nothing in it
 * depends on when it is written except Status, so the same month of the same ledger gives the
 * same bytes. */
static void document(tpc_xmlw_t *wr, const struct build *b, const struct totals *t)
{
	uint32_t y = b->month / 100, m = b->month % 100;
	char month[16], from[32], until[32], diff[32];

	snprintf(month, sizeof(month), "%04u-%02u", y, m);
	instant(from, sizeof(from), b->from);
	/* the next month's first instant, from the calendar (2999-12 ends past the day table) */
	snprintf(until, sizeof(until), "%04u-%02u-01T00:00:00.000Z", m == 12 ? y + 1 : y,
	         m == 12 ? 1 : m + 1);
	tpc_xmlw_start(wr, "Header");
	tpc_xmlw_leaf(wr, "Institution", "SPPIS");
	tpc_xmlw_leaf(wr, "Scheme", "MEDIPRIMA");
	tpc_xmlw_leaf(wr, "Budget", tpc_budget_name(TPC_BUDGET_SPPIS));
	tpc_xmlw_leaf(wr, "Month", month);
	tpc_xmlw_leaf(wr, "From", from);
	tpc_xmlw_leaf(wr, "Until", until);
	tpc_xmlw_leaf(wr, "Status", t->provisional ? "provisional" : "final");
	tpc_xmlw_leaf(wr, "Currency", "EUR");
	tpc_xmlw_end(wr);
	for (size_t ci = 0; ci < b->ncpas && !wr->rc; ci++) {
		const struct group *c = &b->cpas[ci];

		tpc_xmlw_start(wr, "Cpas");
		tpc_xmlw_attr(wr, "bce", b->ln[b->dec[c->first].first].org);
		for (size_t di = c->first; di < c->first + c->n; di++) {
			const struct group *d = &b->dec[di];

			tpc_xmlw_start(wr, "Decision");
			tpc_xmlw_attr(wr, "id", b->ln[d->first].ref);
			for (size_t i = d->first; i < d->first + d->n; i++)
				line(wr, &b->ln[i]);
			tpc_xmlw_start(wr, "Total");
			total(wr, &d->s);
			tpc_xmlw_end(wr);
			tpc_xmlw_end(wr); /* Decision */
		}
		tpc_xmlw_start(wr, "Total");
		attr_u(wr, "decisions", c->n);
		total(wr, &c->s);
		tpc_xmlw_end(wr);
		tpc_xmlw_end(wr); /* Cpas */
	}
	tpc_xmlw_start(wr, "Total");
	attr_u(wr, "cpas", b->ncpas);
	attr_u(wr, "decisions", b->ndec);
	total(wr, &t->all);
	tpc_xmlw_end(wr);
	tpc_xmlw_decimal(diff, sizeof(diff), t->all.total + b->charged); /* 0.00: checked before */
	tpc_xmlw_start(wr, "Reconciliation");
	tpc_xmlw_attr(wr, "budget", tpc_budget_name(TPC_BUDGET_SPPIS));
	attr_u(wr, "postings", b->nch);
	attr_eur(wr, "charged", b->charged);
	attr_eur(wr, "total", t->all.total);
	tpc_xmlw_attr(wr, "difference", diff);
	tpc_xmlw_end(wr);
}

/* Render into the arena: libxml2 writes into its own buffer, which is copied once into the arena
 * so the document lives as long as the answer and is released with the job. @return 0 or
 * TPC_ENOMEM. */
static int render(const struct build *b, const struct totals *t, ProtobufCBinaryData *out)
{
	tpc_xmlw_t wr = {0};
	const uint8_t *data;
	size_t n;
	int rc;

	if ((rc = tpc_xmlw_begin(&wr, "RecoveryStatement", STATEMENT_NS)))
		goto out_free;
	document(&wr, b, t);
	if ((rc = tpc_xmlw_finish(&wr, &data, &n)))
		goto out_free;
	out->data = tpc_arena_alloc(b->arena, n + 1, 8);
	if (!out->data) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	memcpy(out->data, data, n);
	if (!n || out->data[n - 1] != '\n')
		out->data[n++] = '\n'; /* the indenting writer ends without a line break */
	out->len = n;

out_free:
	tpc_xmlw_free(&wr);
	return rc;
}

/* ---- the message --------------------------------------------------------------------------- */

static char *dup(tpc_arena_t *a, const char *s)
{
	return tpc_arena_strndup(a, s, strlen(s));
}

static void put_sum(const struct sum *s, uint32_t *lines, int64_t *ins, int64_t *sh, int64_t *tot)
{
	*lines = s->lines;
	*ins = s->insurer;
	*sh = s->share;
	*tot = s->total;
}

/* The groups as messages in the arena. The decisions are one array in document order; each CPAS
 * points at its slice of it, so nothing is copied. @return 0 or TPC_ENOMEM. */
static int message(const struct build *b, Tpclear__Statement *st)
{
	tpc_arena_t *a = b->arena;
	Tpclear__StatementCpas *cp;
	Tpclear__StatementDecision *dp, **dpp;

	if (!b->ncpas)
		return 0;
	st->cpas = tpc_arena_alloc(a, b->ncpas * sizeof(*st->cpas), 8);
	cp = tpc_arena_alloc(a, b->ncpas * sizeof(*cp), 8);
	dp = tpc_arena_alloc(a, b->ndec * sizeof(*dp), 8);
	dpp = tpc_arena_alloc(a, b->ndec * sizeof(*dpp), 8);
	if (!st->cpas || !cp || !dp || !dpp)
		return TPC_ENOMEM;
	for (size_t di = 0; di < b->ndec; di++) {
		const struct group *g = &b->dec[di];
		Tpclear__StatementDecision *d = &dp[di];

		tpclear__statement_decision__init(d);
		if (!(d->decision = dup(a, b->ln[g->first].ref)))
			return TPC_ENOMEM;
		put_sum(&g->s, &d->lines, &d->insurer_cents, &d->patient_cents, &d->total_cents);
		dpp[di] = d;
	}
	for (size_t ci = 0; ci < b->ncpas; ci++) {
		const struct group *g = &b->cpas[ci];
		Tpclear__StatementCpas *c = &cp[ci];

		tpclear__statement_cpas__init(c);
		if (!(c->bce = dup(a, b->ln[b->dec[g->first].first].org)))
			return TPC_ENOMEM;
		c->n_decisions = g->n;
		c->decisions = &dpp[g->first];
		put_sum(&g->s, &c->lines, &c->insurer_cents, &c->patient_cents, &c->total_cents);
		st->cpas[ci] = c;
	}
	st->n_cpas = b->ncpas;
	return 0;
}

/* ---- public API ---------------------------------------------------------------------------- */

int tpc_statement_build(MDB_txn *txn, const tpc_store_db_t *db, const char *institution,
                        uint32_t month, uint64_t now_ms, tpc_arena_t *arena,
                        Tpclear__Statement **out, const char **code)
{
	struct build b = {0};
	struct totals t = {0};
	Tpclear__Statement *st;
	char name[48];
	int rc;

	if (TPC_FAILS(txn && db && arena && out && code))
		return TPC_EINVAL;
	*code = NULL;
	if (!institution || strcasecmp(institution, "sppis") != 0 ||
	    tpc_statement_month(month, &b.from, &b.until)) {
		*code = TPC_CODE_BAD_STATEMENT;
		return TPC_EINVAL;
	}
	b.txn = txn;
	b.db = db;
	tpc_lines_init(&b.lines, txn, db->lines);
	b.arena = arena;
	b.month = month;
	if ((rc = collect(&b)) == TPC_E2BIG) {
		*code = TPC_CODE_UNRECONCILED; /* the charges alone overflow: nothing can agree */
		rc = TPC_EDB;
	}
	if (rc || (rc = lines_of(&b, code)))
		goto out_free;

	/* the lines in document order, their totals; then the check that makes it a statement:
	 * the lines' grand total is what the budget was charged */
	rc = group(&b, &t.all);
	if (rc == TPC_ENOMEM)
		goto out_free;
	if (rc || b.charged == INT64_MIN || t.all.total != -b.charged) {
		tpc_error("statement SPPIS %04u-%02u does not reconcile: lines total %lld cents%s, "
		          "budget charged %lld cents in %zu postings",
		          month / 100, month % 100, (long long)t.all.total, rc ? " (overflow)" : "",
		          (long long)b.charged, b.nch);
		*code = TPC_CODE_UNRECONCILED;
		rc = TPC_EDB;
		goto out_free;
	}
	t.provisional = b.until > now_ms;

	st = tpc_arena_alloc(arena, sizeof(*st), 8);
	if (!st) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	tpclear__statement__init(st);
	snprintf(name, sizeof(name), "sppis-statement-%06u.xml", month);
	st->institution = (char *)tpc_budget_name(TPC_BUDGET_SPPIS);
	st->month = month;
	st->from = b.from;
	st->until = b.until;
	put_sum(&t.all, &st->lines, &st->insurer_cents, &st->patient_cents, &st->total_cents);
	st->charged_cents = b.charged;
	st->charge_postings = b.nch;
	st->decisions = (uint32_t)b.ndec;
	st->provisional = t.provisional;
	st->format = "xml";
	if (!(st->name = dup(arena, name)) || (rc = message(&b, st))) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	if ((rc = render(&b, &t, &st->document))) {
		*code = TPC_CODE_STATEMENT_RENDER;
		goto out_free;
	}
	*out = st;

out_free:
	free(b.cpas);
	free(b.dec);
	free(b.ln);
	free(b.ch);
	return rc;
}
