/* adapters/efact/efact_settlement.c - the settlement answer 920900 (efact.md sections 2, 5.11
 * and 6, efact-real.md 1.1 and 1.4; layout in docs/formats/efact.md, "Settlement 920900").
 *
 *   920900  segment 200 of the stored 920098/920099 with type 920900, its 610-character 300
 *           with 00000 at 141-145 (as real settlements write), then in the sending's order the
 *           records the stored answer echoes - ET10, each invoice's ET20, its detail records
 *           in error and its ET80, ET90 - and the records this payment settles - each ET50 it
 *           paid and the ET51 / ET52 that follow it - with the amount this payment paid at
 *           478-489 (zone 114) of each ET50 and ET80, then one ET91 per destination
 *           mutuality, ascending, and one ET92 for the whole sending, 800 characters each.
 *           Nothing else: 677 + k x 800 characters.
 *
 * DESIGN: the settlement is built from the adapter's own result answer (byte for byte what
 * the sender got: its error slots, its references) and from the sending as received, which the
 * ledger keeps beside it ("payloads", engine/store/payload.h). Real settlements "also echo the
 * records they settle" (efact-real.md 1.1); the records are the ET50 a line is (tpc_line_t)
 * and the ET51 / ET52 of the same service, as the echo of a line in error holds them too. A
 * ledger written before it kept payloads gives none: the settlement is then the echo alone,
 * settled per line on the ET50s it holds, per invoice on every ET80, per mutuality in the
 * ET91s. Steps, all on borrowed input:
 *   1. walk the answer and check its shape - type 920098/920099, 67 + 610 characters, then
 *      800-character records only: ET10 first, ET90 last, invoices ET20 .. ET80 between them,
 *      every other record's place in the sending read back from our reference (413-434,
 *      efact_trailer.c) and increasing. encode_answer() writes nothing else for a sending it
 *      did not block, so any other shape is not one of ours (EINVAL);
 *   2. match the settlement's lines (every line of the sending, in order) against it: each
 *      line's record inside one echoed invoice, of that invoice's destination mutuality, and
 *      every echoed ET50 one of the lines;
 *   3. with a payload, check it is that sending (every echoed record is its record at its
 *      place, over the 350 characters sent) and list the records the paid lines bring;
 *   4. sum per mutuality (requested, accepted, rejected = requested - accepted, per account)
 *      and per invoice (paid), check every zone fits 11 digits, then allocate the answer once
 *      from host->alloc and write it, merging the echo and the settled records by place.
 *
 * Reentrant: no state, no global, nothing allocated but the answer and small arrays (the
 * invoices, the mutualities, the places of the records), all from host->alloc.
 */
#include "efact.h"

#include "common/check.h"
#include "efact/efact_trailer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest amount a signed zone of sign + 11 digits holds, in cents. */
#define MAX_CENTS 99999999999LL

/* The payment reference zones (A, 22 characters). */
#define REF_LEN 22

#define HEAD (TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER)

/* 0-based offsets of the zones of an ET91/ET92 (efact.md 5.10 and 5.11). */
enum {
	Z_MUT = 4,       /*   5-7   mutuality (92: federation digit + 99) */
	Z_REQ_A = 23,    /*  24-35  requested, account A */
	Z_REQ_B = 37,    /*  38-49  requested, account B */
	Z_REQ_T = 51,    /*  52-63  requested, A + B */
	Z_COUNT = 65,    /*  66-73  record count */
	Z_ACC_A = 79,    /*  80-91  accepted, account A */
	Z_REJ_A = 93,    /*  94-105 rejected, account A */
	Z_ACC_B = 107,   /* 108-119 accepted, account B */
	Z_REJ_B = 121,   /* 122-133 rejected, account B */
	Z_ACC_T = 135,   /* 136-147 total accepted */
	Z_REJ_T = 149,   /* 150-161 total rejected */
	Z_REF_A = 163,   /* 164-185 payment reference, account A (ET91 only) */
	Z_REF_B = 187,   /* 188-209 payment reference, account B (ET91 only) */
	Z_BLANK = 211,   /* 212-275 blank, third reference included (ET91 only) */
	Z_END_91 = 211,  /* error fields of an ET91 end before 212 */
	Z_END_92 = 163,  /* 164-800 reserve of an ET92 */
	N_BLANK_91 = 64, /* 212-275 */
};

/* 0-based offsets of the 2-digit error field after each zone (all "00"). */
static const unsigned short err_fields[] = {2,  7,   21,  35,  49,  63,  73,  77,
                                            91, 105, 119, 133, 147, 161, 185, 209};

/* One echoed invoice: its ET20 .. ET80, by place in the sending. */
struct inv {
	uint32_t first, last; /* places of its ET20 and ET80 */
	char mut[3];          /* destination mutuality (trailer 368-370) */
	int64_t paid;         /* what this payment paid on its lines */
	struct mut *m;
};

/* One destination mutuality and what the settlement says about it. */
struct mut {
	char code[3];
	int64_t req[2], acc[2]; /* per account: 0 = A, 1 = B */
	int paid[2];            /* this payment paid something on that account */
	uint32_t records;       /* records ET20..ET80 of its invoices in the sending */
};

/* The answer's parts, found by walk(), and the payload's, found by with_payload(). */
struct shape {
	const char *records; /* first 800-character record */
	uint32_t n800;
	uint32_t *ord; /* place in the sending of each echoed record (ET10 1, ET90 last) */
	struct inv *invs;
	uint32_t ninv;
	struct mut *muts;
	uint32_t nmut;
	/* the sending as received, when the ledger kept it (NULL otherwise) */
	const char *payload; /* its first character: segment 200 */
	const char *precs;   /* its first 350-character record */
	uint32_t pn;         /* its records */
	uint32_t *extra;     /* places of the settled records the echo lacks, ascending */
	uint32_t nextra;
};

static int type_of(const char *rec)
{
	if (rec[0] < '0' || rec[0] > '9' || rec[1] < '0' || rec[1] > '9')
		return -1;
	return (rec[0] - '0') * 10 + (rec[1] - '0');
}

/* A record of an invoice block (efact.md 4, efact-real.md 2: ET21). */
static int is_detail(int t)
{
	return t == 21 || t == 30 || t == 40 || t == 50 || t == 51 || t == 52;
}

/* Step 1, first half: 920098/920099, 800-character records, ET10 first and ET90 last, types
 * known. @return the number of ET20s, or -1. */
static int64_t frame(const uint8_t *a, size_t len, struct shape *sh)
{
	int64_t ninv = 0;

	memset(sh, 0, sizeof(*sh));
	if (!a || len < HEAD + 2 * TPC_EFACT_RECORD_ANSWER ||
	    (len - HEAD) % TPC_EFACT_RECORD_ANSWER != 0 ||
	    (memcmp(a, "920098", 6) != 0 && memcmp(a, "920099", 6) != 0))
		return -1;
	sh->records = (const char *)a + HEAD;
	sh->n800 = (uint32_t)((len - HEAD) / TPC_EFACT_RECORD_ANSWER);
	for (uint32_t i = 0; i < sh->n800; i++) {
		int t = type_of(sh->records + (size_t)i * TPC_EFACT_RECORD_ANSWER);
		int first = i == 0, last = i + 1 == sh->n800;

		if ((t == 10) != first || (t == 90) != last ||
		    (!first && !last && t != 20 && t != 80 && !is_detail(t)))
			return -1;
		ninv += t == 20;
	}
	return ninv;
}

static int by_code(const void *x, const void *y)
{
	return memcmp(((const struct mut *)x)->code, ((const struct mut *)y)->code, 3);
}

/* Step 1, second half: the invoices by place, and their mutualities sorted and distinct.
 * @return 0, TPC_ADAPTER_EINVAL or TPC_ADAPTER_ENOMEM. */
static int walk(const uint8_t *a, size_t len, const tpc_host_t *host, struct shape *sh)
{
	int64_t n = frame(a, len, sh);
	struct inv *open = NULL;
	uint32_t prev = 0;

	if (n <= 0)
		return TPC_ADAPTER_EINVAL;
	sh->invs = host->alloc(host->arena, (size_t)n * sizeof(*sh->invs), _Alignof(struct inv));
	sh->muts = host->alloc(host->arena, (size_t)n * sizeof(*sh->muts), _Alignof(struct mut));
	sh->ord = host->alloc(host->arena, (size_t)sh->n800 * sizeof(*sh->ord), _Alignof(uint32_t));
	if (!sh->invs || !sh->muts || !sh->ord)
		return TPC_ADAPTER_ENOMEM;
	/* ET10 is the sending's first record; ET90's place is known only from the payload, and
	 * it is the last of the echo either way */
	sh->ord[0] = 1;
	sh->ord[sh->n800 - 1] = UINT32_MAX;
	for (uint32_t i = 1; i + 1 < sh->n800; i++) {
		const char *rec = sh->records + (size_t)i * TPC_EFACT_RECORD_ANSWER;
		int t = type_of(rec);
		uint32_t ord;

		if (tpc_efact_trailer_ordinal(rec, &ord) != 0 || ord <= prev || (t == 20) == !!open)
			return TPC_ADAPTER_EINVAL; /* not ours, out of order, or outside an invoice
			                            */
		prev = ord;
		sh->ord[i] = ord;
		if (t == 20) {
			open = &sh->invs[sh->ninv++];
			memset(open, 0, sizeof(*open));
			open->first = ord;
			memcpy(open->mut, rec + TPC_EFACT_TR_MUT, 3);
			if (!tpc_check_all_digits(open->mut, 3))
				return TPC_ADAPTER_EINVAL;
		} else if (t == 80) {
			open->last = ord;
			open = NULL;
		}
	}
	if (open)
		return TPC_ADAPTER_EINVAL;
	for (uint32_t i = 0; i < sh->ninv; i++) {
		memset(&sh->muts[i], 0, sizeof(sh->muts[i]));
		memcpy(sh->muts[i].code, sh->invs[i].mut, 3);
	}
	qsort(sh->muts, sh->ninv, sizeof(*sh->muts), by_code);
	for (uint32_t i = 0; i < sh->ninv; i++)
		if (sh->nmut == 0 || memcmp(sh->muts[sh->nmut - 1].code, sh->muts[i].code, 3) != 0)
			sh->muts[sh->nmut++] = sh->muts[i];
	for (uint32_t i = 0; i < sh->ninv; i++) {
		struct mut key;

		memcpy(key.code, sh->invs[i].mut, 3);
		sh->invs[i].m = bsearch(&key, sh->muts, sh->nmut, sizeof(*sh->muts), by_code);
		sh->invs[i].m->records += sh->invs[i].last - sh->invs[i].first + 1;
	}
	return 0;
}

/* *@p sum += @p v, keeping |sum| within an 11-digit zone.
 * @return 0, or -1 when the sum no longer fits (then *sum is unchanged). */
static int add(int64_t *sum, int64_t v)
{
	int64_t r;

	/* |*sum| <= MAX_CENTS and |v| <= MAX_CENTS here: no overflow */
	r = *sum + v;
	if (r > MAX_CENTS || r < -MAX_CENTS)
		return -1;
	*sum = r;
	return 0;
}

static int fits(int64_t v)
{
	return v <= MAX_CENTS && v >= -MAX_CENTS;
}

/* Step 2: every line inside one echoed invoice of its mutuality, in order, summed; every echoed
 * ET50 one of the lines. @return 0 or -1. */
static int match(const tpc_settlement_t *st, struct shape *sh)
{
	uint32_t k = 0, prev = 0, j = 0;

	for (uint32_t i = 0; i < st->nlines; i++) {
		const tpc_settled_line_t *l = &st->lines[i];
		struct inv *v;

		while (k < sh->ninv && sh->invs[k].last <= l->record)
			k++;
		if (k == sh->ninv || l->record <= prev || l->record <= sh->invs[k].first)
			return -1;
		v = &sh->invs[k];
		prev = l->record;
		if (l->account > 1 || memcmp(l->mutuality, v->mut, 3) != 0 ||
		    !fits(l->requested_cents) || !fits(l->accepted_cents) || !fits(l->paid_cents) ||
		    add(&v->m->req[l->account], l->requested_cents) ||
		    add(&v->m->acc[l->account], l->accepted_cents) || add(&v->paid, l->paid_cents))
			return -1;
		v->m->paid[l->account] |= l->paid_cents != 0;
	}
	for (uint32_t i = 1; i + 1 < sh->n800; i++) {
		const char *rec = sh->records + (size_t)i * TPC_EFACT_RECORD_ANSWER;
		uint32_t ord;

		if (type_of(rec) != 50)
			continue;
		(void)tpc_efact_trailer_ordinal(rec, &ord); /* ours: walk() */
		while (j < st->nlines && st->lines[j].record < ord)
			j++;
		if (j == st->nlines || st->lines[j].record != ord)
			return -1;
	}
	return 0;
}

/* Totals of one ET91 (or ET92), every one checked to fit its zone. */
struct totals {
	int64_t req_a, req_b, req_t, acc_a, acc_b, acc_t, rej_a, rej_b, rej_t;
};

static int totals_of(const int64_t req[2], const int64_t acc[2], struct totals *t)
{
	t->req_a = req[0];
	t->req_b = req[1];
	t->acc_a = acc[0];
	t->acc_b = acc[1];
	t->req_t = req[0] + req[1];
	t->acc_t = acc[0] + acc[1];
	t->rej_a = req[0] - acc[0];
	t->rej_b = req[1] - acc[1];
	t->rej_t = t->req_t - t->acc_t;
	return fits(t->req_t) && fits(t->acc_t) && fits(t->rej_a) && fits(t->rej_b) &&
	               fits(t->rej_t)
	           ? 0
	           : -1;
}

/* Write an ET91 (@p type "91") or ET92 ("92") over 800 characters at @p p: mutuality, record
 * count and amounts; the summary-invoice number (10-21) and the control (76-77) of the
 * sender's record 95/96 are not in the stored answer and stay zeros. */
static void put_summary(char *p, const char *type, const char *mut, uint32_t records,
                        const struct totals *t, int end)
{
	memset(p, '0', TPC_EFACT_RECORD_ANSWER);
	memcpy(p, type, 2);
	memcpy(p + Z_MUT, mut, 3);
	tpc_check_put_uint(p + Z_COUNT, 8, records);
	tpc_check_put_signed(p + Z_REQ_A, 12, t->req_a);
	tpc_check_put_signed(p + Z_REQ_B, 12, t->req_b);
	tpc_check_put_signed(p + Z_REQ_T, 12, t->req_t);
	tpc_check_put_signed(p + Z_ACC_A, 12, t->acc_a);
	tpc_check_put_signed(p + Z_REJ_A, 12, t->rej_a);
	tpc_check_put_signed(p + Z_ACC_B, 12, t->acc_b);
	tpc_check_put_signed(p + Z_REJ_B, 12, t->rej_b);
	tpc_check_put_signed(p + Z_ACC_T, 12, t->acc_t);
	tpc_check_put_signed(p + Z_REJ_T, 12, t->rej_t);
	for (size_t k = 0; k < sizeof(err_fields) / sizeof(err_fields[0]); k++)
		if (err_fields[k] < (unsigned)end)
			memcpy(p + err_fields[k], "00", 2);
}

/* The payment reference zone: @p ref left-aligned, space-padded; spaces when @p used is 0. */
static void put_reference(char *dst, const char *ref, size_t n, int used)
{
	memset(dst, ' ', REF_LEN);
	if (used)
		memcpy(dst, ref, n);
}

/* Is @p ref a payment reference an A zone of 22 characters can carry? */
static int reference_ok(const char *ref, size_t *n)
{
	size_t i;

	for (i = 0; ref[i]; i++)
		if (i == REF_LEN || (unsigned char)ref[i] < 0x20 || (unsigned char)ref[i] > 0x7e)
			return 0;
	*n = i;
	return 1;
}

/* ---- the payload: the records the settlement echoes besides the stored answer ------------ */

/* Record @p ord (1-based) of the payload. */
static const char *precord(const struct shape *sh, uint32_t ord)
{
	return sh->precs + (size_t)(ord - 1) * TPC_EFACT_RECORD;
}

/* Is @p ord one of the echoed records? (sh->ord ascends: binary search) */
static int echoed(const struct shape *sh, uint32_t ord)
{
	uint32_t lo = 0, hi = sh->n800;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (sh->ord[mid] == ord)
			return 1;
		if (sh->ord[mid] < ord)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The records a line paid by this payment brings to the echo: its ET50, then the ET51 and
 * ET52 that follow it (its commitment and its reading: the line as sent, efact-real.md 1.1),
 * those the echo does not hold already. Written to @p out when not NULL.
 * @return how many, or -1 when the line's record is not an ET50 of the payload. */
static int64_t settled_records(const struct shape *sh, const tpc_settled_line_t *l, uint32_t *out)
{
	int64_t n = 0;

	if (l->record == 0 || l->record > sh->pn || type_of(precord(sh, l->record)) != 50)
		return -1;
	for (uint32_t o = l->record; o <= sh->pn; o++) {
		int t = type_of(precord(sh, o));

		if (o > l->record && t != 51 && t != 52)
			break;
		if (!echoed(sh, o)) {
			if (out)
				out[n] = o;
			n++;
		}
	}
	return n;
}

/* Take the payload (efact-real.md 1.1: a 920900 also echoes the records it settles): check it
 * is the sending the answer echoes - a 920000 of whole records whose ET10, ET90 and every
 * echoed record are, over their first 350 characters, the echo's - then list the records the
 * lines this payment paid bring. @return 0, TPC_ADAPTER_EINVAL or TPC_ADAPTER_ENOMEM. */
static int with_payload(const uint8_t *pl, size_t plen, const tpc_settlement_t *st,
                        const tpc_host_t *host, struct shape *sh)
{
	uint32_t ord90 = 0;
	int64_t n = 0, k;

	if (plen < TPC_EFACT_HEADER || (plen - TPC_EFACT_HEADER) % TPC_EFACT_RECORD != 0 ||
	    memcmp(pl, "920000", 6) != 0 ||
	    (plen - TPC_EFACT_HEADER) / TPC_EFACT_RECORD > UINT32_MAX)
		return TPC_ADAPTER_EINVAL;
	sh->payload = (const char *)pl;
	sh->precs = sh->payload + TPC_EFACT_HEADER;
	sh->pn = (uint32_t)((plen - TPC_EFACT_HEADER) / TPC_EFACT_RECORD);
	for (uint32_t o = 1; o <= sh->pn && !ord90; o++)
		if (type_of(precord(sh, o)) == 90)
			ord90 = o;
	if (!ord90 || ord90 <= sh->ord[sh->n800 - 2])
		return TPC_ADAPTER_EINVAL;
	sh->ord[sh->n800 - 1] = ord90;
	for (uint32_t i = 0; i < sh->n800; i++)
		if (sh->ord[i] > sh->pn || memcmp(sh->records + (size_t)i * TPC_EFACT_RECORD_ANSWER,
		                                  precord(sh, sh->ord[i]), TPC_EFACT_RECORD) != 0)
			return TPC_ADAPTER_EINVAL;
	for (uint32_t j = 0; j < st->nlines; j++) {
		if (!st->lines[j].paid_cents)
			continue;
		if ((k = settled_records(sh, &st->lines[j], NULL)) < 0)
			return TPC_ADAPTER_EINVAL;
		n += k;
	}
	sh->extra =
	    host->alloc(host->arena, (size_t)(n ? n : 1) * sizeof(*sh->extra), _Alignof(uint32_t));
	if (!sh->extra)
		return TPC_ADAPTER_ENOMEM;
	for (uint32_t j = 0; j < st->nlines; j++)
		if (st->lines[j].paid_cents)
			sh->nextra +=
			    (uint32_t)settled_records(sh, &st->lines[j], sh->extra + sh->nextra);
	return 0;
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Where the merge of the echo and the payload's records stands. */
struct merge {
	const struct shape *sh;
	const tpc_settlement_t *st;
	uint32_t line; /* next line whose record is not behind the merge */
	uint32_t inv;  /* next invoice whose ET80 is not behind the merge */
};

/* What this payment paid on the line of record @p ord (0: none). */
static int64_t paid_on(struct merge *m, uint32_t ord, int *is_line)
{
	while (m->line < m->st->nlines && m->st->lines[m->line].record < ord)
		m->line++;
	*is_line = m->line < m->st->nlines && m->st->lines[m->line].record == ord;
	return *is_line ? m->st->lines[m->line].paid_cents : 0;
}

/* Echoed record @p i, as stored, with what this payment paid at 478-489 (zone 114) of an ET50
 * (its line) and an ET80 (its invoice). */
static void put_echoed(char *p, struct merge *m, uint32_t i)
{
	const struct shape *sh = m->sh;
	int t, is_line;

	memcpy(p, sh->records + (size_t)i * TPC_EFACT_RECORD_ANSWER, TPC_EFACT_RECORD_ANSWER);
	t = type_of(p);
	if (t == 50)
		tpc_check_put_signed(p + TPC_EFACT_TR_ZONE114, 12,
		                     paid_on(m, sh->ord[i], &is_line));
	else if (t == 80)
		tpc_check_put_signed(p + TPC_EFACT_TR_ZONE114, 12, sh->invs[m->inv++].paid);
}

/* Payload record @p ord (a settled ET50, or its ET51 / ET52) as an answer record: as sent,
 * with the trailer the 920098 gives a record (efact_trailer.c), no error, the amount paid on
 * the ET50. */
static void put_settled(char *p, struct merge *m, uint32_t ord)
{
	const struct shape *sh = m->sh;
	const struct inv *v = sh->invs;
	tpc_efact_trailer_t t;
	int is_line;

	while (v->last < ord) /* inside one: with_payload() took it from a line of one */
		v++;
	memset(&t, 0, sizeof(t));
	t.s300 = sh->payload + TPC_EFACT_SEG200;
	t.et20 = precord(sh, v->first);
	t.ordinal = ord;
	t.index = ord - v->first + 1;
	t.account_b = sh->precs[8] == '1'; /* ET10 position 9, the "code indice" */
	t.amount_cents = paid_on(m, ord, &is_line);
	t.with_amount = is_line;
	tpc_efact_trailer_write(p, precord(sh, ord), &t);
}

/* The echo and the settled records merged in the sending's order. @return the end. */
static char *put_records(char *p, const struct shape *sh, const tpc_settlement_t *st)
{
	struct merge m = {sh, st, 0, 0};
	uint32_t i = 0, e = 0;

	while (i < sh->n800 || e < sh->nextra) {
		if (e == sh->nextra || (i < sh->n800 && sh->ord[i] < sh->extra[e]))
			put_echoed(p, &m, i++);
		else
			put_settled(p, &m, sh->extra[e++]);
		p += TPC_EFACT_RECORD_ANSWER;
	}
	return p;
}

/* The sender's record @p type ("95" of mutuality @p mut, or "96") in the payload, or NULL. */
static const char *sender_summary(const struct shape *sh, const char *type, const char *mut)
{
	for (uint32_t o = sh->pn; sh->payload && o >= 1; o--) {
		const char *r = precord(sh, o);

		if (type_of(r) == 90)
			break;
		if (memcmp(r, type, 2) == 0 && (!mut || memcmp(r + Z_MUT, mut, 3) == 0))
			return r;
	}
	return NULL;
}

/* The summary-invoice number (10-21) and the control (76-77) of the sender's 95 / 96, which
 * an ET91 / ET92 repeats (efact.md 5.11: "positions 1-79 as record 95"), when the payload has
 * them as digits; zeros otherwise. */
static void put_sender_zones(char *p, const char *rec)
{
	if (rec && tpc_check_all_digits(rec + 9, 12))
		memcpy(p + 9, rec + 9, 12);
	if (rec && tpc_check_all_digits(rec + 75, 2))
		memcpy(p + 75, rec + 75, 2);
}

int tpc_efact_encode_settlement_(const void *state, const uint8_t *answer, size_t len,
                                 const uint8_t *payload, size_t payload_len,
                                 const tpc_settlement_t *st, const tpc_host_t *host,
                                 tpc_blob_t *out)
{
	struct shape sh;
	struct totals t, all;
	int64_t sum_req[2] = {0, 0}, sum_acc[2] = {0, 0};
	uint32_t records = 2; /* ET10 and ET90, for the ET92 */
	const char *ref;
	char fed[3];
	size_t nref = 0;
	char *o, *p;
	int rc;

	(void)state;
	if (!st || !host || !out || (st->nlines && !st->lines))
		return TPC_ADAPTER_EINVAL;
	ref = st->payment_reference ? st->payment_reference : "";
	if (!reference_ok(ref, &nref))
		return TPC_ADAPTER_EINVAL;
	if ((rc = walk(answer, len, host, &sh)))
		return rc;
	if (match(st, &sh))
		return TPC_ADAPTER_EINVAL;
	/* an older ledger kept no payload: the echo alone, as before it did */
	if (payload && (rc = with_payload(payload, payload_len, st, host, &sh)))
		return rc;
	for (uint32_t i = 0; i < sh.nmut; i++) {
		records += sh.muts[i].records;
		if (totals_of(sh.muts[i].req, sh.muts[i].acc, &t) ||
		    add(&sum_req[0], sh.muts[i].req[0]) || add(&sum_req[1], sh.muts[i].req[1]) ||
		    add(&sum_acc[0], sh.muts[i].acc[0]) || add(&sum_acc[1], sh.muts[i].acc[1]))
			return TPC_ADAPTER_EINVAL;
	}
	if (totals_of(sum_req, sum_acc, &all))
		return TPC_ADAPTER_EINVAL;

	o = host->alloc(
	    host->arena,
	    HEAD + ((size_t)sh.n800 + sh.nextra + sh.nmut + 1) * TPC_EFACT_RECORD_ANSWER, 1);
	if (!o)
		return TPC_ADAPTER_ENOMEM;
	/* 200 (type 920900) and 300 as stored, the share of errors 00000 as insurers write it */
	memcpy(o, answer, HEAD);
	memcpy(o, "920900", 6);
	memcpy(o + TPC_EFACT_SEG200 + 140, "00000", 5);
	p = put_records(o + HEAD, &sh, st);

	/* ET91 per mutuality, ascending; ET92 for the sending (federation digit + 99) */
	for (uint32_t i = 0; i < sh.nmut; i++, p += TPC_EFACT_RECORD_ANSWER) {
		(void)totals_of(sh.muts[i].req, sh.muts[i].acc, &t); /* fits: checked above */
		put_summary(p, "91", sh.muts[i].code, sh.muts[i].records, &t, Z_END_91);
		put_sender_zones(p, sender_summary(&sh, "95", sh.muts[i].code));
		put_reference(p + Z_REF_A, ref, nref, sh.muts[i].paid[0]);
		put_reference(p + Z_REF_B, ref, nref, sh.muts[i].paid[1]);
		memset(p + Z_BLANK, ' ', N_BLANK_91);
	}
	fed[0] = sh.muts[0].code[0];
	fed[1] = fed[2] = '9';
	put_summary(p, "92", fed, records, &all, Z_END_92);
	put_sender_zones(p, sender_summary(&sh, "96", NULL));
	p += TPC_EFACT_RECORD_ANSWER;

	out->ptr = (const uint8_t *)o;
	out->len = (size_t)(p - o);
	snprintf(out->type, sizeof(out->type), "920900");
	return 0;
}
