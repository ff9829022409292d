/* adapters/efact/efact_settlement.c - the settlement answer 920900 (efact.md sections 2, 5.10,
 * 5.11 and 6; layout in docs/formats/efact.md, "Settlement 920900").
 *
 *   920900  segment 200 of the stored 920098/920099 with type 920900, its 610-character 300,
 *           every record 10..90 at 800 characters with the amount this payment paid written
 *           on each ET50 at 478-489 (zone 114), then one ET91 per destination mutuality in
 *           ascending order and one ET92 for the whole sending, 800 characters each, instead
 *           of the records 95/96.
 *
 * DESIGN: the settlement is built from the adapter's own result answer, not from the 920000:
 * that answer is what the sender already holds, so the 920900 echoes the same records with the
 * same per-record errors, and nothing has to be decoded again. Three steps, all on borrowed
 * input:
 *   1. walk the answer and check its shape - type 920098/920099, 67 + 610 characters of
 *      header, then records 10..90 at 800 characters (types 10, 20, 30, 40, 50, 51, 52, 80,
 *      90; ordinal at 795-800 numeric and increasing; 10 first and 90 last), then one or more
 *      95 and exactly one 96 at 350 characters, which end the answer. encode_answer()
 *      writes nothing else for a sending it did not block, so any other shape is not one of
 *      ours (EINVAL);
 *   2. match the settlement against the echoed ET50s: one line per ET50, in order, and the
 *      line's record (tpc_line_t.record, the ordinal the decoder gave the ET50) equal to the
 *      ordinal the echo carries at 795-800. The ordinal, not the sequence number at 3-8:
 *      ET51/ET52 take ordinals between lines, and in a 920099 the sequence may be what was
 *      wrong. Each line's mutuality must be one the echo has a record 95 for;
 *   3. sum per mutuality (requested, accepted, rejected = requested - accepted, per account),
 *      check every zone fits 11 digits, then allocate the answer once from host->alloc and
 *      write it. The summary-invoice number, record count and control (10-21, 66-73, 76-77)
 *      of an ET91 are those of the mutuality's record 95 (and the ET92's those of the 96):
 *      they describe the sending, which the settlement does not change.
 *
 * Reentrant: no state, no global, nothing allocated but the answer and one small array of
 * mutualities, both from host->alloc (the sending's arena).
 */
#include "efact.h"

#include "common/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest amount a signed zone of sign + 11 digits holds, in cents. */
#define MAX_CENTS 99999999999LL

/* The payment reference zones (A, 22 characters). */
#define REF_LEN 22

/* 0-based offsets of the zones of an ET91/ET92 (efact.md 5.10 and 5.11). */
enum {
	Z_MUT = 4,       /*   5-7   mutuality (92: federation digit + 99) */
	Z_REQ_A = 23,    /*  24-35  requested, account A */
	Z_REQ_B = 37,    /*  38-49  requested, account B */
	Z_REQ_T = 51,    /*  52-63  requested, A + B */
	Z_ACC_A = 79,    /*  80-91  accepted, account A */
	Z_REJ_A = 93,    /*  94-105 rejected, account A */
	Z_ACC_B = 107,   /* 108-119 accepted, account B */
	Z_REJ_B = 121,   /* 122-133 rejected, account B */
	Z_ACC_T = 135,   /* 136-147 total accepted */
	Z_REJ_T = 149,   /* 150-161 total rejected */
	Z_REF_A = 163,   /* 164-185 payment reference, account A (ET91 only) */
	Z_REF_B = 187,   /* 188-209 payment reference, account B (ET91 only) */
	Z_COPIED = 79,   /*   1-79  as the echoed record 95/96 */
	Z_END_91 = 211,  /* 212-800 reserve of an ET91 */
	Z_END_92 = 163,  /* 164-800 reserve of an ET92 */
	Z_TRAILER = 477, /* 478-489 zone 114 of a record's error trailer */
	Z_ORDINAL = 794, /* 795-800 the record's ordinal in the sending */
};

/* 0-based offsets of the 2-digit error field after each zone (all "00"). */
static const unsigned short err_fields[] = {2,  7,   21,  35,  49,  63,  73,  77,
                                            91, 105, 119, 133, 147, 161, 185, 209};

/* One destination mutuality: its echoed record 95 and what the settlement says about it. */
struct mut {
	const char *rec95;      /* first echoed record 95 naming it */
	int64_t req[2], acc[2]; /* per account: 0 = A, 1 = B */
	int paid[2];            /* this payment paid something on that account */
};

/* The answer's parts, found by walk(). */
struct shape {
	const char *records; /* first 800-character record */
	uint32_t n800;       /* records 10..90 */
	uint32_t n50;        /* of which ET50 */
	const char *first95; /* first record 95 */
	uint32_t n95;
	const char *rec96;
};

static int type_of(const char *rec)
{
	if (rec[0] < '0' || rec[0] > '9' || rec[1] < '0' || rec[1] > '9')
		return -1;
	return (rec[0] - '0') * 10 + (rec[1] - '0');
}

/* A record echoed at 800 characters (efact.md 4: the numbered records). */
static int is_long(int t)
{
	return t == 10 || t == 20 || t == 30 || t == 40 || t == 50 || t == 51 || t == 52 ||
	       t == 80 || t == 90;
}

/* Step 1: is @p a an answer encode_answer() writes for a sending it did not block?
 * @return 0 or TPC_ADAPTER_EINVAL. */
static int walk(const uint8_t *a, size_t len, struct shape *sh)
{
	const size_t head = TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER;
	size_t off = head;
	uint64_t prev = 0;
	int last = -1;

	memset(sh, 0, sizeof(*sh));
	if (!a || len < head || (memcmp(a, "920098", 6) != 0 && memcmp(a, "920099", 6) != 0))
		return TPC_ADAPTER_EINVAL;
	sh->records = (const char *)a + head;
	while (off + 2 <= len && is_long(type_of((const char *)a + off))) {
		const char *rec = (const char *)a + off;
		uint64_t ord;

		if (len - off < TPC_EFACT_RECORD_ANSWER ||
		    tpc_check_parse_uint(rec + Z_ORDINAL, 6, &ord) != 0 || ord <= prev)
			return TPC_ADAPTER_EINVAL;
		last = type_of(rec);
		if (sh->n800 == 0 && last != 10)
			return TPC_ADAPTER_EINVAL;
		prev = ord;
		sh->n800++;
		sh->n50 += last == 50;
		off += TPC_EFACT_RECORD_ANSWER;
	}
	if (last != 90)
		return TPC_ADAPTER_EINVAL;
	sh->first95 = (const char *)a + off;
	while (len - off >= TPC_EFACT_RECORD && type_of((const char *)a + off) == 95) {
		if (!tpc_check_all_digits((const char *)a + off + Z_MUT, 3))
			return TPC_ADAPTER_EINVAL;
		sh->n95++;
		off += TPC_EFACT_RECORD;
	}
	if (sh->n95 == 0 || len - off != TPC_EFACT_RECORD || type_of((const char *)a + off) != 96 ||
	    !tpc_check_all_digits((const char *)a + off + Z_MUT, 3))
		return TPC_ADAPTER_EINVAL;
	sh->rec96 = (const char *)a + off;
	return 0;
}

static int by_mutuality(const void *x, const void *y)
{
	const struct mut *a = x, *b = y;
	int c = memcmp(a->rec95 + Z_MUT, b->rec95 + Z_MUT, 3);

	/* equal mutualities keep their order in the answer, so the first 95 comes first */
	return c ? c : (a->rec95 < b->rec95 ? -1 : a->rec95 > b->rec95);
}

/* @return the mutuality named @p code (3 digits) in the sorted @p m, or NULL. */
static struct mut *find(struct mut *m, uint32_t n, const char *code)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(m[mid].rec95 + Z_MUT, code, 3);

		if (c == 0)
			return &m[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
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

/* Write an ET91 (@p type "91") or ET92 ("92") over 800 characters at @p p: positions 1-79 of
 * the echoed record @p src with every amount replaced, then the settlement amounts. */
static void put_summary(char *p, const char *type, const char *src, const struct totals *t, int end)
{
	memset(p, '0', TPC_EFACT_RECORD_ANSWER);
	memcpy(p, src, Z_COPIED);
	memcpy(p, type, 2);
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

int tpc_efact_encode_settlement_(const void *state, const uint8_t *answer, size_t len,
                                 const tpc_settlement_t *st, const tpc_host_t *host,
                                 tpc_blob_t *out)
{
	const size_t head = TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER;
	struct shape sh;
	struct mut *m;
	struct totals t, all;
	int64_t sum_req[2] = {0, 0}, sum_acc[2] = {0, 0};
	const char *ref;
	size_t nref = 0;
	uint32_t nmut = 0, line = 0;
	char *o, *p;

	(void)state;
	if (!st || !host || !out || (st->nlines && !st->lines) || walk(answer, len, &sh) != 0)
		return TPC_ADAPTER_EINVAL;
	ref = st->payment_reference ? st->payment_reference : "";
	if (!reference_ok(ref, &nref) || st->nlines != sh.n50)
		return TPC_ADAPTER_EINVAL;

	/* the destination mutualities, one per distinct record 95, ascending */
	m = host->alloc(host->arena, (size_t)sh.n95 * sizeof(*m), _Alignof(struct mut));
	if (!m)
		return TPC_ADAPTER_ENOMEM;
	for (uint32_t i = 0; i < sh.n95; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].rec95 = sh.first95 + (size_t)i * TPC_EFACT_RECORD;
	}
	qsort(m, sh.n95, sizeof(*m), by_mutuality);
	for (uint32_t i = 0; i < sh.n95; i++)
		if (nmut == 0 || memcmp(m[nmut - 1].rec95 + Z_MUT, m[i].rec95 + Z_MUT, 3) != 0)
			m[nmut++] = m[i];

	/* step 2: line j is the j-th echoed ET50, by ordinal; step 3: the sums */
	for (uint32_t i = 0; i < sh.n800; i++) {
		const char *rec = sh.records + (size_t)i * TPC_EFACT_RECORD_ANSWER;
		const tpc_settled_line_t *l;
		struct mut *mu;
		uint64_t ord;

		if (type_of(rec) != 50)
			continue;
		l = &st->lines[line++];
		(void)tpc_check_parse_uint(rec + Z_ORDINAL, 6, &ord); /* numeric: walk() */
		if (l->record != ord || l->account > 1 || !tpc_check_all_digits(l->mutuality, 3) ||
		    !(mu = find(m, nmut, l->mutuality)) || !fits(l->requested_cents) ||
		    !fits(l->accepted_cents) || !fits(l->paid_cents) ||
		    add(&mu->req[l->account], l->requested_cents) ||
		    add(&mu->acc[l->account], l->accepted_cents))
			return TPC_ADAPTER_EINVAL;
		mu->paid[l->account] |= l->paid_cents != 0;
	}
	for (uint32_t i = 0; i < nmut; i++)
		if (totals_of(m[i].req, m[i].acc, &t) || add(&sum_req[0], m[i].req[0]) ||
		    add(&sum_req[1], m[i].req[1]) || add(&sum_acc[0], m[i].acc[0]) ||
		    add(&sum_acc[1], m[i].acc[1]))
			return TPC_ADAPTER_EINVAL;
	if (totals_of(sum_req, sum_acc, &all))
		return TPC_ADAPTER_EINVAL;

	o = host->alloc(host->arena, head + ((size_t)sh.n800 + nmut + 1) * TPC_EFACT_RECORD_ANSWER,
	                1);
	if (!o)
		return TPC_ADAPTER_ENOMEM;

	/* 200 (type 920900) and 300 as echoed, then records 10..90 with zone 114 = paid */
	memcpy(o, answer, head);
	memcpy(o, "920900", 6);
	p = o + head;
	memcpy(p, sh.records, (size_t)sh.n800 * TPC_EFACT_RECORD_ANSWER);
	line = 0;
	for (uint32_t i = 0; i < sh.n800; i++, p += TPC_EFACT_RECORD_ANSWER)
		if (type_of(p) == 50)
			tpc_check_put_signed(p + Z_TRAILER, 12, st->lines[line++].paid_cents);

	/* ET91 per mutuality, ascending; ET92 for the sending */
	for (uint32_t i = 0; i < nmut; i++, p += TPC_EFACT_RECORD_ANSWER) {
		(void)totals_of(m[i].req, m[i].acc, &t); /* fits: checked above */
		put_summary(p, "91", m[i].rec95, &t, Z_END_91);
		put_reference(p + Z_REF_A, ref, nref, m[i].paid[0]);
		put_reference(p + Z_REF_B, ref, nref, m[i].paid[1]);
	}
	put_summary(p, "92", sh.rec96, &all, Z_END_92);
	p += TPC_EFACT_RECORD_ANSWER;

	out->ptr = (const uint8_t *)o;
	out->len = (size_t)(p - o);
	snprintf(out->type, sizeof(out->type), "920900");
	return 0;
}
