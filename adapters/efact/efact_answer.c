/* adapters/efact/efact_answer.c - native eFact answers, in the shape insurers write them
 * (efact-real.md 1; zone by zone in docs/formats/efact.md, "Answers").
 *
 *   931000  at reception: segment 200 (type 931000) + a 160-character 300 naming 920000.
 *   920999  refused at reception (s->blocked): segment 200 (type 920999, status 40 at 17-18)
 *           + the 160-character 300 + only the records 95/96 in error (350 each), with the
 *           2-digit error after each zone at fault.
 *   920099  the sending is refused; 920098 it is accepted (possibly with refused lines).
 *           Both: segment 200 + the 610-character 300 (refused share at 141-145, refusal
 *           type at 148-149) + 800-character records and nothing else: ET10, each invoice's
 *           ET20 and ET80, the detail records that carry an error, ET90 - each with its
 *           trailer (efact_trailer.c). No records 95/96: a client reads every 800 characters
 *           after position 677 as one record.
 *
 * DESIGN: the answer is built from the payload as received and the findings' record
 * ordinals, not from the decoder's view of the grammar, so whatever record carries an error
 * (ET21, ET30/40, a record out of place) is echoed as it was sent. Two passes over the
 * records: the first counts what is echoed, so the answer is allocated once from the
 * sending's arena; the second writes it. Nothing else is allocated but one array of slot
 * pointers per record.
 */
#include "efact.h"

#include "common/check.h"
#include "efact/efact_trailer.h"

#include <stdio.h>
#include <string.h>

/* Up to three findings per record, from lines, invoices and the sending, by record ordinal. */
typedef const tpc_finding_t *slots_t[3];

/* @p f in a free slot of record @p ord (its own record, or where it is shown instead). */
static void slot_add_at(slots_t *sl, uint32_t nrec, uint32_t ord, const tpc_finding_t *f)
{
	if (ord == 0 || ord > nrec)
		return;
	for (int k = 0; k < 3; k++)
		if (!sl[ord - 1][k]) {
			sl[ord - 1][k] = f;
			return;
		}
}

static void slot_add(slots_t *sl, uint32_t nrec, const tpc_finding_t *f)
{
	slot_add_at(sl, nrec, f->record, f);
}

static int is_type(const char *rec, const char *t)
{
	return rec[0] == t[0] && rec[1] == t[1];
}

/* The ordinal of the sending's ET90 (the first), 0 when it has none. */
static uint32_t et90_of(const char *recs, uint32_t nrec)
{
	for (uint32_t i = 0; i < nrec; i++)
		if (is_type(recs + (size_t)i * TPC_EFACT_RECORD, "90"))
			return i + 1;
	return 0;
}

/* Every finding of @p s in the slots of its record (line, invoice, then sending order). A
 * finding on a record 95/96 - in an answer that is no 920999, only a signal: the count that
 * differs, T30018 - goes to the ET90's slots: the answer echoes no 95/96 (efact-real.md 1.1),
 * and ET90 is the sending's own record, the one that closes what the 95/96 sum up. */
static slots_t *collect(const tpc_sending_t *s, const char *recs, uint32_t nrec,
                        const tpc_host_t *host)
{
	slots_t *sl = host->alloc(host->arena, ((size_t)nrec + 1) * sizeof(*sl), 8);
	uint32_t ord90 = et90_of(recs, nrec);

	if (!sl)
		return NULL;
	for (uint32_t i = 0; i < s->nlines; i++)
		for (unsigned k = 0; k < s->lines[i].nfindings; k++)
			slot_add(sl, nrec, &s->lines[i].findings[k]);
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (unsigned k = 0; k < s->invoices[i].nfindings; k++)
			slot_add(sl, nrec, &s->invoices[i].findings[k]);
	for (uint32_t i = 0; i < s->nfindings; i++) {
		const tpc_finding_t *f = &s->findings[i];
		const char *r = f->record && f->record <= nrec
		                    ? recs + (size_t)(f->record - 1) * TPC_EFACT_RECORD
		                    : NULL;

		if (r && ord90 && (is_type(r, "95") || is_type(r, "96")))
			slot_add_at(sl, nrec, ord90, f);
		else
			slot_add(sl, nrec, f);
	}
	return sl;
}

/* Is record @p rec echoed? The sending's and invoices' frames always, a detail record when it
 * carries an error, records 95/96 never (efact-real.md 1.1). */
static int echoed(const char *rec, const slots_t sl)
{
	if (is_type(rec, "95") || is_type(rec, "96"))
		return 0;
	return is_type(rec, "10") || is_type(rec, "20") || is_type(rec, "80") ||
	       is_type(rec, "90") || sl[0] != NULL;
}

/* 148-149: 00 accepted; 01 refused for blocking errors (a B finding other than the
 * threshold's); 02 refused because too much of it is wrong - the threshold, or every line
 * refused by its own errors (efact-real.md 1.2: a sending refused only for its share says 02). */
static const char *refusal_type(const tpc_sending_t *s, slots_t *sl, uint32_t nrec)
{
	if (s->outcome != TPC_OUTCOME_REFUSED)
		return "00";
	for (uint32_t i = 0; i < s->nfindings; i++)
		if (s->findings[i].letter == 'B' && memcmp(s->findings[i].code, "T00020", 6) != 0)
			return "01";
	for (uint32_t i = 0; i < nrec; i++)
		for (int k = 0; k < 3 && sl[i][k]; k++)
			if (sl[i][k]->letter == 'B')
				return "01";
	return "02";
}

/* Segment 200 and the answer's 610-character 300. */
static char *put_head(char *p, const uint8_t *buf, const tpc_sending_t *s, const char *type,
                      const char *refusal)
{
	memcpy(p, buf, TPC_EFACT_SEG200);
	memcpy(p, type, 6);
	p += TPC_EFACT_SEG200;
	memset(p, '0', TPC_EFACT_SEG300_ANSWER);
	memcpy(p, buf + TPC_EFACT_SEG200, 140);
	/* the share the threshold judged, two implied decimals (clear.h) */
	tpc_check_put_uint(p + 140, 5, s->refused_share > 10000 ? 10000 : s->refused_share);
	memcpy(p + 147, refusal, 2);
	return p + TPC_EFACT_SEG300_ANSWER;
}

/* Where the walk stands: the open invoice and the next line, both found by record ordinal. */
struct walk {
	const tpc_sending_t *s;
	const char *et20;
	uint32_t et20_ord;
	uint32_t inv;  /* index of the invoice ET20 opened, s->ninvoices when none */
	uint32_t next; /* next invoice whose record is not behind the walk */
	uint32_t line; /* next line whose record is not behind the walk */
};

/* The trailer of record @p ord (1-based) of type @p rec, as the walk stands. */
static void trailer_of(struct walk *w, const char *rec, uint32_t ord, int refused,
                       tpc_efact_trailer_t *t)
{
	const tpc_sending_t *s = w->s;

	if (is_type(rec, "20")) {
		w->et20 = rec;
		w->et20_ord = ord;
		while (w->next < s->ninvoices && s->invoices[w->next].record < ord)
			w->next++;
		w->inv = w->next < s->ninvoices && s->invoices[w->next].record == ord
		             ? w->next
		             : s->ninvoices;
	}
	t->et20 = w->et20;
	t->ordinal = ord;
	t->index = w->et20 ? ord - w->et20_ord + 1 : 0;
	t->with_amount = 0;
	t->amount_cents = 0;
	if (is_type(rec, "50")) {
		while (w->line < s->nlines && s->lines[w->line].record < ord)
			w->line++;
		t->with_amount = 1;
		if (w->line < s->nlines && s->lines[w->line].record == ord && !refused)
			t->amount_cents = s->lines[w->line].accepted_cents;
	} else if (is_type(rec, "80")) {
		t->with_amount = 1;
		if (w->inv < s->ninvoices && !refused)
			t->amount_cents = s->invoices[w->inv].accepted_cents;
	}
}

static int encode_result(const uint8_t *buf, size_t len, const tpc_sending_t *s,
                         const tpc_host_t *host, tpc_blob_t *out)
{
	const char *recs = (const char *)buf + TPC_EFACT_HEADER;
	uint32_t nrec = (uint32_t)((len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD), n800 = 0;
	int refused = s->outcome == TPC_OUTCOME_REFUSED;
	const char *type = refused ? "920099" : "920098";
	struct walk w = {s, NULL, 0, s->ninvoices, 0, 0};
	tpc_efact_trailer_t t;
	slots_t *sl = collect(s, recs, nrec, host);
	char *o, *p;

	if (!sl)
		return TPC_ADAPTER_ENOMEM;
	for (uint32_t i = 0; i < nrec; i++)
		n800 += echoed(recs + (size_t)i * TPC_EFACT_RECORD, sl[i]);
	/* not zeroed: put_head() and tpc_efact_trailer_write() write every byte of it */
	o = tpc_host_alloc_uninit(
	    host,
	    TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER + (size_t)n800 * TPC_EFACT_RECORD_ANSWER, 1);
	if (!o)
		return TPC_ADAPTER_ENOMEM;
	p = put_head(o, buf, s, type, refusal_type(s, sl, nrec));

	memset(&t, 0, sizeof(t));
	t.s300 = (const char *)buf + TPC_EFACT_SEG200;
	/* ET10 position 9, the "code indice": 1 when account B is used */
	t.account_b = nrec && is_type(recs, "10") && recs[8] == '1';
	for (uint32_t i = 0; i < nrec; i++) {
		const char *rec = recs + (size_t)i * TPC_EFACT_RECORD;

		trailer_of(&w, rec, i + 1, refused, &t);
		if (echoed(rec, sl[i])) {
			memcpy(t.slots, sl[i], sizeof(t.slots));
			tpc_efact_trailer_write(p, rec, &t);
			p += TPC_EFACT_RECORD_ANSWER;
		}
		if (is_type(rec, "80")) {
			w.et20 = NULL; /* ET80 closes the invoice */
			w.inv = s->ninvoices;
		}
	}
	out->ptr = (const uint8_t *)o;
	out->len = (size_t)(p - o);
	snprintf(out->type, sizeof(out->type), "%s", type);
	return 0;
}

/* Where a finding of 920999 goes: the 2-digit error field after the zone it names, in segment
 * 200/300 (offset from the file's start) or in a record 95/96 (offset in the record). */
static const struct {
	const char *code;
	int in_record; /* 0: header, 1: record 95/96 */
	uint16_t at;   /* 0-based offset of the 2-digit field */
	char err[3];
} err_fields[] = {
    {"T30003", 0, 6, "22"},                     /* 200: not 920000 */
    {"T30004", 0, 34, "20"},                    /* 200: reference */
    {"T30005", 0, TPC_EFACT_SEG200 + 6, "20"},  /* 300: year-month */
    {"T30014", 0, TPC_EFACT_SEG200 + 11, "20"}, /* 300: sending number */
    {"T30007", 0, TPC_EFACT_SEG200 + 11, "20"}, /* 300: differs from ET10 */
    {"T30006", 0, TPC_EFACT_SEG200 + 21, "20"}, /* 300: creation date */
    {"T30013", 1, 2, "20"},                     /* 95/96: out of place */
    {"T30015", 1, 7, "21"},                     /* 95: mutuality not in detail */
    {"T30008", 1, 35, "41"},                    /* 95: amount A differs */
    {"T30009", 1, 35, "41"},                    /* 96: amount A differs */
    {"T30019", 1, 7, "20"},                     /* 96: mutuality not x99 */
    {"T30011", 1, 73, "20"},                    /* 95/96: record count */
    {"T30010", 1, 77, "20"},                    /* 95/96: control */
    {"T30017", 1, 91, "40"},                    /* 95/96: amount C, its sign */
};

#define N_ERR_FIELDS (sizeof(err_fields) / sizeof(err_fields[0]))

/* The error fields of the findings on record 95/96 @p ord in its echo @p rec.
 * @return the number of findings on it (0: the record is not in error). */
static unsigned mark_record(char *rec, uint32_t ord, const tpc_sending_t *s)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < s->nfindings; i++) {
		size_t k;

		if (s->findings[i].record != ord)
			continue;
		n++;
		for (k = 0; k < N_ERR_FIELDS; k++)
			if (err_fields[k].in_record &&
			    strcmp(s->findings[i].code, err_fields[k].code) == 0)
				break;
		/* a finding without a zone of its own marks the record type (3-4) */
		memcpy(rec + (k < N_ERR_FIELDS ? err_fields[k].at : 2),
		       k < N_ERR_FIELDS ? err_fields[k].err : "20", 2);
	}
	return n;
}

/* 920999: segment 200 (type 920999, status 40) and the 160-character 300 as received, with
 * the 2-digit errors that can be placed there, then only the records 95/96 in error. The
 * findings themselves travel in the Result. */
static int encode_refusal(const uint8_t *buf, size_t len, const tpc_sending_t *s,
                          const tpc_host_t *host, tpc_blob_t *out)
{
	size_t head = len < TPC_EFACT_HEADER ? len : TPC_EFACT_HEADER, n;
	/* not zeroed: the header is set below, and out->len covers only the records copied */
	char *o = tpc_host_alloc_uninit(host, TPC_EFACT_HEADER + len, 1);

	if (!o)
		return TPC_ADAPTER_ENOMEM;
	memset(o, '0', TPC_EFACT_HEADER);
	if (buf && head)
		memcpy(o, buf, head);
	memcpy(o, "920999", 6);
	memcpy(o + 16, "40", 2); /* 17-18 message status: refused (efact-real.md 1.3) */
	for (uint32_t i = 0; i < s->nfindings; i++)
		for (size_t k = 0; k < N_ERR_FIELDS; k++)
			if (!err_fields[k].in_record &&
			    strcmp(s->findings[i].code, err_fields[k].code) == 0)
				memcpy(o + err_fields[k].at, err_fields[k].err, 2);
	n = TPC_EFACT_HEADER;
	for (size_t off = TPC_EFACT_HEADER; buf && off + TPC_EFACT_RECORD <= len;
	     off += TPC_EFACT_RECORD) {
		uint32_t ord = (uint32_t)((off - TPC_EFACT_HEADER) / TPC_EFACT_RECORD) + 1;

		if (buf[off] != '9' || (buf[off + 1] != '5' && buf[off + 1] != '6'))
			continue;
		memcpy(o + n, buf + off, TPC_EFACT_RECORD);
		if (mark_record(o + n, ord, s))
			n += TPC_EFACT_RECORD; /* kept: it is in error */
	}
	out->ptr = (const uint8_t *)o;
	out->len = n;
	snprintf(out->type, sizeof(out->type), "920999");
	return 0;
}

static int encode_receipt(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_blob_t *out)
{
	char *o = tpc_host_alloc_uninit(host, TPC_EFACT_HEADER, 1); /* set whole below */

	if (!o)
		return TPC_ADAPTER_ENOMEM;
	memset(o, '0', TPC_EFACT_HEADER);
	if (buf && len)
		memcpy(o, buf, len < TPC_EFACT_SEG200 ? len : TPC_EFACT_SEG200);
	memcpy(o, "931000", 6);
	memcpy(o + TPC_EFACT_SEG200, "920000", 6);
	out->ptr = (const uint8_t *)o;
	out->len = TPC_EFACT_HEADER;
	snprintf(out->type, sizeof(out->type), "931000");
	return 0;
}

int tpc_efact_encode_answer_(const void *state, const uint8_t *buf, size_t len,
                             const tpc_sending_t *s, enum tpc_answer_kind kind,
                             const tpc_host_t *host, tpc_blob_t *out)
{
	(void)state;
	if (kind == TPC_ANSWER_RECEIPT)
		return encode_receipt(buf, len, host, out);
	if (!s)
		return TPC_ADAPTER_EINVAL;
	if (!buf || len < TPC_EFACT_HEADER || s->blocked)
		return encode_refusal(buf, len, s, host, out);
	return encode_result(buf, len, s, host, out);
}
