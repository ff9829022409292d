/* adapters/efact/efact.c - decoding and structural checks of an eFact 920000 file (efact.h).
 *
 * DESIGN: two passes over the records. The first only counts invoices (ET20) and lines (ET50)
 * so the arrays are allocated once from the arena; the second walks the record grammar with a
 * small state machine, fills the sending with views into the payload and records findings.
 * Nothing is copied but the handful of numbers a check needs. Every length is checked before a
 * zone is read: the decoder must survive any input (it is fuzzed).
 *
 * Positions below are the 1-based positions of shared/domain/efact.md section 5.
 */
#include "efact.h"

#include "common/check.h"

#include <errno.h>
#include <string.h>

/* A zone of a record: 1-based position and length. */
#define Z(rec, pos) ((rec) + (pos)-1)

struct dec {
	const uint8_t *buf;
	size_t len;
	const tpc_host_t *host;
	tpc_sending_t *s;
	int oom;
	/* ET10 values every later record is compared with */
	const char *third_party; /* zone 56-67 of ET10 */
	const char *sending_no;  /* zone 33-35 of ET10 */
	int32_t created;
};

/* ---- findings ------------------------------------------------------------------------------ */

static tpc_finding_t mk(const char *code, uint32_t record, uint16_t pos, uint16_t len)
{
	tpc_finding_t f;

	memset(&f, 0, sizeof(f));
	memcpy(f.code, code, 6);
	f.letter = tpc_efact_letter(code);
	f.record = record;
	f.pos = pos;
	f.len = len;
	return f;
}

static void on_sending(struct dec *d, tpc_finding_t f)
{
	if (f.letter == 'B')
		d->s->blocked = 1;
	if (tpc_sending_add_finding(d->s, d->host, &f))
		d->oom = 1;
}

static void on_invoice(struct dec *d, tpc_invoice_t *inv, tpc_finding_t f)
{
	if (f.letter == 'B')
		d->s->blocked = 1;
	if (f.letter == 'F' || f.letter == 'B')
		inv->outcome = TPC_OUTCOME_REFUSED;
	if (inv->nfindings < TPC_MAX_FINDINGS)
		inv->findings[inv->nfindings++] = f;
	else
		on_sending(d, f);
}

static void on_line(struct dec *d, tpc_line_t *ln, tpc_finding_t f)
{
	if (f.letter == 'B')
		d->s->blocked = 1;
	if (f.letter == 'R' || f.letter == 'B')
		ln->outcome = TPC_OUTCOME_REFUSED;
	if (ln->nfindings < TPC_MAX_FINDINGS)
		ln->findings[ln->nfindings++] = f;
	else
		on_sending(d, f);
}

/* ---- zones --------------------------------------------------------------------------------- */

static int digits(const char *p, size_t n)
{
	return tpc_check_all_digits(p, n);
}

static uint64_t num(const char *p, size_t n)
{
	uint64_t v = 0;

	tpc_check_parse_uint(p, n, &v);
	return v;
}

static int all_char(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* YYYYMMDD zone; all zeros = absent (0). @return 0 ok, 1 not numeric, 2 not a date. */
static int date_zone(const char *p, int32_t *out)
{
	*out = 0;
	if (!digits(p, 8))
		return 1;
	if (all_char(p, 8, '0'))
		return 0;
	return tpc_check_date_yyyymmdd((uint32_t)num(p, 8), out) ? 2 : 0;
}

/* Signed zone: @return 0 ok, 5 no sign in front, 6 digits not numeric. */
static int signed_zone(const char *p, size_t n, int64_t *out)
{
	int rc = tpc_check_parse_signed(p, n, out);

	*out = rc ? 0 : *out;
	return rc == 0 ? 0 : rc == -EDOM ? 5 : 6;
}

static tpc_view_t view(const char *p, uint32_t n)
{
	tpc_view_t v = {p, n};

	return v;
}

/* A free-text zone without its trailing spaces (and leading/trailing zeros-only = absent). */
static tpc_view_t text(const char *p, uint32_t n)
{
	while (n && (p[n - 1] == ' ' || p[n - 1] == 0))
		n--;
	if (all_char(p, n, '0'))
		n = 0;
	return view(p, n);
}

/* Code of a record type (2 digits) for RRZZNN codes: "10" ... "96". */
static void code_of(char out[7], const char *rr, const char *zznn)
{
	memcpy(out, rr, 2);
	memcpy(out + 2, zznn, 4);
	out[6] = 0;
}

/* ---- the segments -------------------------------------------------------------------------- */

static void check_segments(struct dec *d)
{
	const char *s200 = (const char *)d->buf, *s300 = s200 + TPC_EFACT_SEG200;
	int32_t created;

	if (memcmp(Z(s200, 1), "920000", 6) != 0)
		on_sending(d, mk("T30003", 0, 1, 6));
	if (!digits(Z(s200, 21), 14))
		on_sending(d, mk("T30004", 0, 21, 14));
	else
		d->s->reference = view(Z(s200, 21), 14);
	if (!digits(Z(s300, 1), 6) || num(Z(s300, 5), 2) < 1 || num(Z(s300, 5), 2) > 12)
		on_sending(d, mk("T30005", 0, TPC_EFACT_SEG200 + 1, 6));
	else
		d->s->year_month = (uint32_t)num(Z(s300, 1), 6);
	if (!digits(Z(s300, 9), 3))
		on_sending(d, mk("T30014", 0, TPC_EFACT_SEG200 + 9, 3));
	else
		d->s->number = (uint32_t)num(Z(s300, 9), 3);
	if (date_zone(Z(s300, 14), &created) != 0 || created == 0)
		on_sending(d, mk("T30006", 0, TPC_EFACT_SEG200 + 14, 8));
	else
		d->s->created = d->created = created;
}

/* ---- the records --------------------------------------------------------------------------- */

/* Check zone 99 and the sequence number; @p rr the record type text. */
static void check_numbering(struct dec *d, const char *rec, uint32_t ord, uint32_t want_seq)
{
	char code[7];

	if (!digits(Z(rec, 3), 6)) {
		code_of(code, rec, "0201");
		on_sending(d, mk(code, ord, 3, 6));
	} else if (num(Z(rec, 3), 6) != want_seq) {
		code_of(code, rec, memcmp(rec, "10", 2) == 0 ? "0110" : "0210");
		on_sending(d, mk(code, ord, 3, 6));
	}
	if (!digits(Z(rec, 349), 2) || num(Z(rec, 349), 2) != tpc_check_record_control(rec, 348)) {
		code_of(code, rec, "9902");
		on_sending(d, mk(code, ord, 349, 2));
	}
}

static void read_et10(struct dec *d, const char *rec, uint32_t ord)
{
	int32_t created;

	if (!digits(Z(rec, 56), 12))
		on_sending(d, mk("101401", ord, 56, 12));
	else if (!tpc_check_nihii(Z(rec, 57), 11))
		on_sending(d, mk("101402", ord, 56, 12));
	d->third_party = Z(rec, 56);
	d->s->third_party = view(Z(rec, 57), 11);
	if (!digits(Z(rec, 33), 3))
		on_sending(d, mk("100701", ord, 33, 3));
	d->sending_no = Z(rec, 33);
	if (!digits(Z(rec, 108), 7))
		on_sending(d, mk("102201", ord, 108, 5));
	switch (date_zone(Z(rec, 120), &created)) {
	case 1:
		on_sending(d, mk("102501", ord, 120, 8));
		break;
	case 2:
		on_sending(d, mk("102503", ord, 120, 8));
		break;
	default:
		if (!d->created && created)
			d->s->created = d->created = created;
	}
	if (!all_char(Z(rec, 128), 10, '0') && !tpc_check_bce(Z(rec, 128), 10))
		on_sending(d, mk("102702", ord, 128, 10));
	{
		tpc_view_t iban = text(Z(rec, 179), 34);
		if (iban.len && !tpc_check_iban(iban.ptr, iban.len))
			on_sending(d, mk("103602", ord, 179, 34));
	}
}

static void read_et20(struct dec *d, const char *rec, uint32_t ord, uint32_t offset,
                      tpc_invoice_t *inv)
{
	char t = *Z(rec, 51), k = *Z(rec, 50);
	int dr;

	inv->record = ord;
	inv->offset = offset;
	inv->outcome = TPC_OUTCOME_PENDING;
	if (!digits(Z(rec, 36), 13))
		on_invoice(d, inv, mk("200801", ord, 36, 13));
	else if (!tpc_check_niss(Z(rec, 38), 11))
		on_invoice(d, inv, mk("200802", ord, 36, 13));
	inv->patient = view(Z(rec, 38), 11);
	if (!digits(Z(rec, 56), 12))
		on_invoice(d, inv, mk("201401", ord, 56, 12));
	else if (!tpc_check_nihii(Z(rec, 57), 11))
		on_invoice(d, inv, mk("201402", ord, 56, 12));
	else if (d->third_party && memcmp(Z(rec, 56), d->third_party, 12) != 0)
		on_invoice(d, inv, mk("201412", ord, 56, 12));
	inv->provider = view(Z(rec, 57), 11);
	if (!digits(Z(rec, 115), 12))
		on_invoice(d, inv, mk("202401", ord, 115, 12));
	inv->number = view(Z(rec, 115), 12);
	inv->previous = text(Z(rec, 163), 12);
	memcpy(inv->mutuality, Z(rec, 85), 3);
	inv->mutuality[3] = 0;
	inv->sex = (uint8_t)(*Z(rec, 49) == '1' ? 1 : *Z(rec, 49) == '2' ? 2 : 0);
	if (t != '0' && t != '1' && t != '3')
		on_invoice(d, inv, mk("201103", ord, 51, 1));
	inv->invoicing = (uint8_t)(t - '0');
	/* a correction or credit note names the invoice it corrects; a normal invoice does not */
	if ((t == '1' || t == '3') && inv->previous.len == 0)
		on_invoice(d, inv, mk("202910", ord, 163, 12));
	else if (t == '0' && inv->previous.len)
		on_invoice(d, inv, mk("202911", ord, 163, 12));
	if (k != '1' && k != '3' && k != '4' && k != '5' && k != '6' && k != '9')
		on_invoice(d, inv, mk("201003", ord, 50, 1));
	inv->kind = k == '1' ? TPC_INVOICE_HOSPITALISED : TPC_INVOICE_AMBULATORY;
	if ((dr = date_zone(Z(rec, 17), &inv->admission)) != 0)
		on_invoice(d, inv, mk(dr == 1 ? "200801" : "200503", ord, 17, 8));
	if ((dr = date_zone(Z(rec, 25), &inv->discharge)) != 0)
		on_invoice(d, inv, mk(dr == 1 ? "200801" : "200603", ord, 25, 8));
	else if (inv->admission && inv->discharge && inv->discharge < inv->admission)
		on_invoice(d, inv, mk("200610", ord, 25, 8));
	if (digits(Z(rec, 128), 10)) {
		inv->ct1 = (uint16_t)num(Z(rec, 132), 3);
		inv->ct2 = (uint16_t)num(Z(rec, 135), 3);
	}
}

static void read_et50(struct dec *d, const char *rec, uint32_t ord, uint32_t offset,
                      tpc_invoice_t *inv, tpc_line_t *ln)
{
	int64_t units;
	int dr, sr;

	ln->record = ord;
	ln->offset = offset;
	if (!digits(Z(rec, 10), 7)) {
		on_line(d, ln, mk("500401", ord, 10, 7));
	} else {
		memcpy(ln->code, Z(rec, 11), 6);
		if (*Z(rec, 10) != '0')
			on_line(d, ln, mk("500404", ord, 10, 7));
		else if (!tpc_check_nomenclature(Z(rec, 11), 6))
			on_line(d, ln, mk("500402", ord, 10, 7));
	}
	if ((dr = date_zone(Z(rec, 17), &ln->date_first)) != 0 || ln->date_first == 0)
		on_line(d, ln, mk(dr == 1 ? "500501" : "500503", ord, 17, 8));
	if ((dr = date_zone(Z(rec, 25), &ln->date_last)) != 0)
		on_line(d, ln, mk(dr == 1 ? "500601" : "500603", ord, 25, 8));
	else if (ln->date_last == 0)
		ln->date_last = ln->date_first;
	else if (ln->date_first && ln->date_last < ln->date_first)
		on_line(d, ln, mk("500612", ord, 25, 8));
	if (!digits(Z(rec, 36), 13))
		on_line(d, ln, mk("500801", ord, 36, 13));
	else if (!tpc_check_niss(Z(rec, 38), 11))
		on_line(d, ln, mk("500802", ord, 36, 13));
	else if (inv && memcmp(Z(rec, 38), inv->patient.ptr, 11) != 0)
		on_line(d, ln, mk("500812", ord, 36, 13));
	if (*Z(rec, 51) != '0' && *Z(rec, 51) != '1')
		on_line(d, ln, mk("501103", ord, 51, 1));
	ln->account = (uint8_t)(*Z(rec, 51) == '1');
	if (!digits(Z(rec, 68), 12))
		on_line(d, ln, mk("501501", ord, 68, 12));
	else if (!all_char(Z(rec, 68), 12, '0') && !tpc_check_nihii(Z(rec, 69), 11))
		on_line(d, ln, mk("501502", ord, 68, 12));
	ln->performer = text(Z(rec, 69), 11);
	if ((sr = signed_zone(Z(rec, 88), 12, &ln->insurer_cents)))
		on_line(d, ln, mk(sr == 5 ? "501905" : "501906", ord, 88, 12));
	if ((sr = signed_zone(Z(rec, 108), 5, &units)))
		on_line(d, ln, mk(sr == 5 ? "502205" : "502206", ord, 108, 5));
	else if (units == 0)
		on_line(d, ln, mk("502203", ord, 108, 5));
	ln->units = (int32_t)units;
	if ((sr = signed_zone(Z(rec, 128), 10, &ln->patient_cents)))
		on_line(d, ln, mk(sr == 5 ? "502705" : "502706", ord, 128, 10));
	if ((sr = signed_zone(Z(rec, 165), 10, &ln->supplement_cents)))
		on_line(d, ln, mk(sr == 5 ? "503005" : "503006", ord, 165, 10));
	ln->reference = text(Z(rec, 138), 25);
	if (inv && inv->invoicing == TPC_INVOICING_CREDIT_NOTE && ln->units > 0)
		on_line(d, ln, mk("502248", ord, 108, 5));
}

/* Sum of the 7-digit code zones of a record for invoice/sending controls. */
static uint64_t code_value(const char *rec)
{
	return digits(Z(rec, 10), 7) ? num(Z(rec, 10), 7) : 0;
}

static unsigned control97(uint64_t sum)
{
	unsigned c = (unsigned)(sum % 97);

	return c ? c : 97;
}

struct totals {
	int64_t a, b, patient;
	uint64_t codes;
	uint32_t records;
};

static void read_et80(struct dec *d, const char *rec, uint32_t ord, tpc_invoice_t *inv,
                      const struct totals *t, struct totals *mut)
{
	int64_t a, b, pat;
	int sr;

	if ((sr = signed_zone(Z(rec, 88), 12, &a)))
		on_sending(d, mk("801905", ord, 88, 12));
	else if (inv && a != t->a)
		on_invoice(d, inv, mk("801910", ord, 88, 12));
	if ((sr = signed_zone(Z(rec, 68), 12, &b)))
		on_sending(d, mk("801505", ord, 68, 12));
	else if (inv && b != t->b)
		on_invoice(d, inv, mk("801510", ord, 68, 12));
	if ((sr = signed_zone(Z(rec, 128), 10, &pat)))
		on_sending(d, mk("802705", ord, 128, 10));
	else if (inv && pat != t->patient)
		on_invoice(d, inv, mk("802710", ord, 128, 10));
	if (!digits(Z(rec, 347), 2) || num(Z(rec, 347), 2) != control97(t->codes))
		on_sending(d, mk("809802", ord, 347, 2));
	if (inv) {
		inv->total_insurer_cents = a + b;
		inv->total_patient_cents = pat;
	}
	mut->a += a;
	mut->b += b;
}

static void read_et90(struct dec *d, const char *rec, uint32_t ord, const struct totals *inv_sum,
                      uint64_t codes)
{
	int64_t a, b;
	int sr;

	if ((sr = signed_zone(Z(rec, 88), 12, &a)))
		on_sending(d, mk("901905", ord, 88, 12));
	else if (a != inv_sum->a)
		on_sending(d, mk("901910", ord, 88, 12));
	if ((sr = signed_zone(Z(rec, 68), 12, &b)))
		on_sending(d, mk("901505", ord, 68, 12));
	else if (b != inv_sum->b)
		on_sending(d, mk("901510", ord, 68, 12));
	if (d->third_party && memcmp(Z(rec, 56), d->third_party, 12) != 0)
		on_sending(d, mk("901412", ord, 56, 12));
	if (d->sending_no && memcmp(Z(rec, 33), d->sending_no, 3) != 0)
		on_sending(d, mk("900712", ord, 33, 3));
	if (!digits(Z(rec, 347), 2) || num(Z(rec, 347), 2) != control97(codes))
		on_sending(d, mk("909802", ord, 347, 2));
	d->s->total_cents = (sr ? 0 : a + b);
}

/* Records 95 (one per destination mutuality) and 96 (whole sending): amounts, count and
 * control, each against what the decoder summed. */
static void read_summary(struct dec *d, const char *rec, uint32_t ord, const struct totals *t,
                         int is96)
{
	int64_t a, b, ab;

	if (signed_zone(Z(rec, 24), 12, &a) || signed_zone(Z(rec, 38), 12, &b) ||
	    signed_zone(Z(rec, 52), 12, &ab) || a != t->a || b != t->b || ab != a + b)
		on_sending(d, mk(is96 ? "T30009" : "T30008", ord, 24, 40));
	if (!digits(Z(rec, 66), 8) || num(Z(rec, 66), 8) != t->records)
		on_sending(d, mk("T30011", ord, 66, 8));
	if (!digits(Z(rec, 76), 2) || num(Z(rec, 76), 2) != control97(t->codes))
		on_sending(d, mk("T30010", ord, 76, 2));
}

/* ---- the walk ------------------------------------------------------------------------------ */

static int type_of(const char *rec)
{
	if (rec[0] < '0' || rec[0] > '9' || rec[1] < '0' || rec[1] > '9')
		return -1;
	return (rec[0] - '0') * 10 + (rec[1] - '0');
}

#define MAX_MUTUALITIES 64

static int efact_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                        tpc_sending_t *s)
{
	struct dec d = {buf, len, host, s, 0, NULL, NULL, 0};
	struct totals inv_t = {0}, all_t = {0}, sum_inv = {0};
	struct {
		char mut[3];
		struct totals t;
	} muts[MAX_MUTUALITIES];
	int nmuts = 0, prev = 0, seen90 = 0, seen95 = 0, seen96 = 0, credit_flagged = 0;
	uint32_t nrec, ninv = 0, nlines = 0, seq = 0, cur_mut = 0;
	tpc_invoice_t *inv = NULL;
	tpc_line_t *ln = NULL;

	(void)state;
	memset(muts, 0, sizeof(muts));
	if (len < TPC_EFACT_HEADER || (len - TPC_EFACT_HEADER) % TPC_EFACT_RECORD != 0) {
		on_sending(&d, mk("T30001", 0, 0, 0));
		if (len < TPC_EFACT_HEADER)
			return d.oom ? TPC_ADAPTER_ENOMEM : 0;
	}
	check_segments(&d);
	nrec = (uint32_t)((len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD);
	s->nrecords = nrec;
	/* pass 1: count */
	for (uint32_t i = 0; i < nrec; i++) {
		int t =
		    type_of((const char *)buf + TPC_EFACT_HEADER + (size_t)i * TPC_EFACT_RECORD);
		ninv += t == 20;
		nlines += t == 50;
	}
	if ((host->max_invoices && ninv > host->max_invoices) ||
	    (host->max_lines && nlines > host->max_lines))
		return TPC_ADAPTER_ETOOBIG;
	s->invoices = host->alloc(host->arena, (ninv + 1) * sizeof(*s->invoices), 8);
	s->lines = host->alloc(host->arena, (nlines + 1) * sizeof(*s->lines), 8);
	if (!s->invoices || !s->lines)
		return TPC_ADAPTER_ETOOBIG;

	/* pass 2: the grammar 10 {20 (50 [51] [52])+ 80}+ 90 {95} 96 */
	for (uint32_t i = 0; i < nrec && !d.oom; i++) {
		uint32_t off = TPC_EFACT_HEADER + i * TPC_EFACT_RECORD, ord = i + 1;
		const char *rec = (const char *)buf + off;
		int t = type_of(rec);

		if (t >= 10 && t <= 90 && t != 95 && t != 96) {
			seq++;
			if (t == 10 || t == 20 || t == 50 || t == 51 || t == 52 || t == 80 ||
			    t == 90)
				check_numbering(&d, rec, ord, seq);
		}
		switch (t) {
		case 10:
			if (prev != 0)
				on_sending(&d, mk("T30002", ord, 1, 2));
			read_et10(&d, rec, ord);
			break;
		case 20:
			if (prev == 10 || prev == 80) {
				/* fine */
			} else {
				on_sending(&d, mk("200110", ord, 1, 2));
			}
			inv = &s->invoices[s->ninvoices++];
			credit_flagged = 0;
			read_et20(&d, rec, ord, off, inv);
			inv->first_line = s->nlines;
			memset(&inv_t, 0, sizeof(inv_t));
			inv_t.records = 1;
			{
				int m;
				for (m = 0; m < nmuts; m++)
					if (memcmp(muts[m].mut, Z(rec, 85), 3) == 0)
						break;
				if (m == nmuts && nmuts < MAX_MUTUALITIES)
					memcpy(muts[nmuts++].mut, Z(rec, 85), 3);
				cur_mut = (uint32_t)(m < MAX_MUTUALITIES ? m : MAX_MUTUALITIES - 1);
			}
			break;
		case 30:
		case 40:
			if (inv)
				on_invoice(&d, inv, mk("T30012", ord, 1, 2));
			else
				on_sending(&d, mk("T30002", ord, 1, 2));
			inv_t.records++;
			break;
		case 50:
			if (prev != 20 && prev != 50 && prev != 51 && prev != 52 && prev != 30 &&
			    prev != 40)
				on_sending(&d, mk("500110", ord, 1, 2));
			ln = &s->lines[s->nlines++];
			read_et50(&d, rec, ord, off, inv, ln);
			if (inv) {
				inv->nlines++;
				if (inv->invoicing == TPC_INVOICING_CREDIT_NOTE &&
				    (ln->insurer_cents > 0 || ln->patient_cents > 0) &&
				    !credit_flagged) {
					on_invoice(&d, inv, mk("201140", inv->record, 51, 1));
					credit_flagged = 1;
				}
			}
			if (ln->account)
				inv_t.b += ln->insurer_cents;
			else
				inv_t.a += ln->insurer_cents;
			inv_t.patient += ln->patient_cents;
			inv_t.codes += code_value(rec);
			inv_t.records++;
			break;
		case 51:
			if (prev != 50)
				on_sending(&d, mk("510110", ord, 1, 2));
			if (ln && digits(Z(rec, 11), 6) && !tpc_check_nomenclature(Z(rec, 11), 6))
				on_line(&d, ln, mk("510402", ord, 10, 7));
			if (ln)
				ln->commitment = text(Z(rec, 213), 48);
			inv_t.codes += code_value(rec);
			inv_t.records++;
			break;
		case 52:
			if (prev != 50 && prev != 51)
				on_sending(&d, mk("520110", ord, 1, 2));
			inv_t.codes += code_value(rec);
			inv_t.records++;
			break;
		case 80:
			if (prev != 50 && prev != 51 && prev != 52 && prev != 30 && prev != 40)
				on_sending(&d, mk("800110", ord, 1, 2));
			inv_t.records++;
			read_et80(&d, rec, ord, inv, &inv_t, &sum_inv);
			muts[cur_mut].t.a += inv_t.a;
			muts[cur_mut].t.b += inv_t.b;
			muts[cur_mut].t.codes += inv_t.codes;
			muts[cur_mut].t.records += inv_t.records;
			all_t.codes += inv_t.codes;
			all_t.records += inv_t.records;
			inv = NULL;
			break;
		case 90:
			if (prev != 80)
				on_sending(&d, mk("900110", ord, 1, 2));
			seen90 = 1;
			read_et90(&d, rec, ord, &sum_inv, all_t.codes);
			break;
		case 95: {
			int m;

			if (prev != 90 && prev != 95)
				on_sending(&d, mk("T30013", ord, 1, 2));
			seen95 = 1;
			for (m = 0; m < nmuts; m++)
				if (memcmp(muts[m].mut, Z(rec, 5), 3) == 0)
					break;
			if (m == nmuts) {
				struct totals none = {0};
				read_summary(&d, rec, ord, &none, 0);
			} else {
				read_summary(&d, rec, ord, &muts[m].t, 0);
			}
			break;
		}
		case 96: {
			struct totals whole = {sum_inv.a, sum_inv.b, 0, all_t.codes,
			                       all_t.records + 2};

			if (prev != 95 && prev != 90)
				on_sending(&d, mk("T30013", ord, 1, 2));
			seen96 = 1;
			read_summary(&d, rec, ord, &whole, 1);
			break;
		}
		default:
			on_sending(&d, mk("T30002", ord, 1, 2));
			break;
		}
		if (seen90 && t != 90 && t != 95 && t != 96)
			on_sending(&d, mk("900111", ord, 1, 2));
		if (prev == 10 && t != 20)
			on_sending(&d, mk("100111", ord, 1, 2));
		if (prev == 20 && t != 50 && t != 30 && t != 40)
			on_sending(&d, mk("200111", ord, 1, 2));
		prev = t;
	}
	if (!seen90 && nrec)
		on_sending(&d, mk("900104", nrec, 0, 0));
	if (seen90 && (!seen95 || !seen96))
		on_sending(&d, mk("T30013", nrec, 0, 0));
	return d.oom ? TPC_ADAPTER_ENOMEM : 0;
}

/* ---- descriptor ---------------------------------------------------------------------------- */

static int efact_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return 0;
}

static void efact_fini(void *state)
{
	(void)state;
}

static const char *efact_describe(const void *state, const char *code)
{
	(void)state;
	return tpc_efact_describe(code);
}

const tpc_adapter_t tpc_efact_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "efact",
    .init = efact_init,
    .decode = efact_decode,
    .encode_answer = tpc_efact_encode_answer_,
    .describe = efact_describe,
    .fini = efact_fini,
};
