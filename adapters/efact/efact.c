/* adapters/efact/efact.c - decoding and structural checks of an eFact 920000 file (efact.h).
 *
 * DESIGN: two passes over the records. The first only counts invoices (ET20) and lines (ET50)
 * so the arrays are allocated once from the arena; the second walks the record grammar with a
 * small state machine, fills the sending with views into the payload and records findings.
 * Nothing is copied but the handful of numbers a check needs. Every zone read lies inside a
 * record whose full length was checked first: the decoder must survive any input (it is
 * fuzzed), so no zone is read past the end of the buffer.
 *
 * Where a finding goes (adapter.h): a finding on a service record (50, 51, 52) goes on its line,
 * one on an invoice record (20, 80, or F on a line) on its invoice, everything else (sequence,
 * record control, grammar, 10, 90, segments, 95/96) on the sending. Outcomes:
 *   - a B finding on the file as a whole, segment 200/300, record 10, 90, 95 or 96 sets
 *     blocked: the file is refused at reception (920999) and nothing is cleared;
 *   - a B finding on any other record refuses the sending as a whole (920099): every invoice
 *     is marked refused, so the engine refuses every line;
 *   - F refuses the invoice, R the line; E and S refuse nothing. Other lines stay PENDING.
 *
 * What real files write wins over efact.md (shared/domain/efact-real.md section 2): ET21 is read
 * (its place and number checked, its zones read through), the zones efact.md called reserve that
 * are in use are checked only for their format, and the fillers insurers accept (spaces in an
 * unused account B, '+' and zeros where efact.md expected signs, a blank amount C) pass. Record
 * counts of 95/96 differ between real writers, so how they are judged is the one setting of the
 * adapter (init: [adapter.efact] counts), lenient by default.
 *
 * Positions below are the 1-based positions of shared/domain/efact.md section 5.
 */
#include "efact.h"

#include "common/check.h"
#include "core/error.h"

#include <stdint.h>
#include <string.h>

/* The zone of a record at a 1-based position. */
#define Z(rec, pos) ((rec) + (pos)-1)

/* What the decoder summed for one invoice block (ET20..ET80), for ET80, 95 and 96. */
struct blk {
	int64_t a, b, patient, supplement; /* insurer amounts on account A / B, shares */
	int64_t a80, b80;                  /* ET80 totals as written (its lines' when unreadable) */
	uint64_t codes;                    /* sum of the code zones in scope (7.2) */
	uint64_t codes50, codes51;         /* the part of it from ET50s, from ET51s (95/96) */
	uint32_t records;                  /* records ET20..ET80 */
	uint8_t credit_flagged;            /* 201140 already recorded */
	uint8_t in95;                      /* its mutuality has a record 95 */
};

/* How records 95/96 have their record count (66-73) checked: [adapter.efact] counts. */
enum counts_mode { COUNTS_LENIENT = 0, COUNTS_STRICT, COUNTS_IGNORE };

/* The adapter's state: read-only after init, one of three constants (nothing is allocated). */
struct efact_state {
	enum counts_mode counts;
};

static const struct efact_state states[] = {
    {COUNTS_LENIENT},
    {COUNTS_STRICT},
    {COUNTS_IGNORE},
};

struct dec {
	const uint8_t *buf;
	size_t len;
	const tpc_host_t *host;
	tpc_sending_t *s;
	enum counts_mode counts;
	int oom;
	int refuse_all; /* a B finding on records 20..80: the sending is refused */
	const char *et10;
	struct blk *blks; /* one per invoice */
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

/* B on the file, 200/300, 10, 90, 95 or 96 blocks; B elsewhere refuses the whole sending. */
static void note_blocking(struct dec *d, const tpc_finding_t *f)
{
	if (f->letter != 'B')
		return;
	if (f->code[0] == 'T' || memcmp(f->code, "10", 2) == 0 || memcmp(f->code, "90", 2) == 0)
		d->s->blocked = 1;
	else
		d->refuse_all = 1;
}

static void on_sending(struct dec *d, tpc_finding_t f)
{
	note_blocking(d, &f);
	if (tpc_sending_add_finding(d->s, d->host, &f))
		d->oom = 1;
}

static void on_invoice(struct dec *d, tpc_invoice_t *inv, tpc_finding_t f)
{
	if (!inv) {
		on_sending(d, f);
		return;
	}
	note_blocking(d, &f);
	if (f.letter == 'F')
		inv->outcome = TPC_OUTCOME_REFUSED;
	if (inv->nfindings < TPC_MAX_FINDINGS)
		inv->findings[inv->nfindings++] = f;
	else if (tpc_sending_add_finding(d->s, d->host, &f))
		d->oom = 1;
}

static void on_line(struct dec *d, tpc_line_t *ln, tpc_finding_t f)
{
	if (!ln) {
		on_sending(d, f);
		return;
	}
	note_blocking(d, &f);
	if (f.letter == 'R' || f.letter == 'B')
		ln->outcome = TPC_OUTCOME_REFUSED;
	if (ln->nfindings < TPC_MAX_FINDINGS)
		ln->findings[ln->nfindings++] = f;
	else if (tpc_sending_add_finding(d->s, d->host, &f))
		d->oom = 1;
}

/* ---- zones --------------------------------------------------------------------------------- */

static int digits(const char *p, size_t n)
{
	return tpc_check_all_digits(p, n);
}

/* Value of a zone already checked to be digits (0 otherwise). */
static uint64_t num(const char *p, size_t n)
{
	uint64_t v = 0;

	if (tpc_check_parse_uint(p, n, &v))
		return 0;
	return v;
}

static int zeros(const char *p, size_t n)
{
	return tpc_check_all_char(p, n, '0');
}

enum { ZONE_OK = 0, ZONE_NOT_NUMERIC = 1, ZONE_INVALID = 3, ZONE_NO_SIGN = 5, ZONE_SIGN_IN = 6 };

/* YYYYMMDD zone; all zeros = absent (0). @return ZONE_OK, ZONE_NOT_NUMERIC or ZONE_INVALID. */
static int date_zone(const char *p, int32_t *out)
{
	int rc;

	*out = 0;
	if (zeros(p, 8))
		return ZONE_OK;
	rc = tpc_check_parse_date(p, 8, out);
	return rc == 0 ? ZONE_OK : rc == TPC_EPROTO ? ZONE_NOT_NUMERIC : ZONE_INVALID;
}

/* Signed zone. @return ZONE_OK, ZONE_NO_SIGN (NN 05) or ZONE_SIGN_IN (NN 06); *out 0 on error. */
static int signed_zone(const char *p, size_t n, int64_t *out)
{
	int rc = tpc_check_parse_signed(p, n, out);

	if (rc)
		*out = 0;
	return rc == 0 ? ZONE_OK : rc == TPC_EPROTO ? ZONE_NO_SIGN : ZONE_SIGN_IN;
}

static tpc_view_t view(const char *p, uint32_t n)
{
	tpc_view_t v = {p, n};

	return v;
}

/* A free-text zone without its trailing spaces; a zone of only zeros or spaces is absent. */
static tpc_view_t text(const char *p, uint32_t n)
{
	while (n && p[n - 1] == ' ')
		n--;
	if (zeros(p, n))
		n = 0;
	return view(p, n);
}

/* An hour zone of 5 (108-112, discharge hour): 0HHMM, all zeros = absent.
 * @return ZONE_OK, ZONE_NOT_NUMERIC or ZONE_INVALID. */
static int hour_zone(const char *p)
{
	if (!digits(p, 5))
		return ZONE_NOT_NUMERIC;
	if (p[0] != '0' || num(p + 1, 2) > 23 || num(p + 3, 2) > 59)
		return ZONE_INVALID;
	return ZONE_OK;
}

/* A BIC (ISO 9362) at the start of an 11-character zone, space padded: 8 or 11 characters,
 * the bank and country as letters, location and branch letters or digits. */
static int bic_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';

		if (i < 6 ? !upper : !(upper || digit))
			return 0;
	}
	return n == 8 || n == 11;
}

/* Two account zones (IBAN or BIC) that say the same: equal once unpadded, spaces and zeros both
 * meaning "absent" (real files leave an unused account B in spaces, efact-real.md 2). */
static int same_account(const char *a, const char *b, uint32_t n)
{
	tpc_view_t x = text(a, n), y = text(b, n);

	return x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
}

/* "RR" + "ZZNN": the code of a finding on a record of type rec[0..1]. */
static const char *code_of(char out[7], const char *rec, const char *zznn)
{
	memcpy(out, rec, 2);
	memcpy(out + 2, zznn, 4);
	out[6] = 0;
	return out;
}

/* A signed amount zone of record @p rec: NN 05 / 06 on failure, on the line, the invoice or the
 * sending (whichever is given). @return the value, 0 when unreadable. */
static int64_t amount(struct dec *d, const char *rec, uint32_t ord, const char *zz, uint16_t pos,
                      uint16_t n, tpc_invoice_t *inv, tpc_line_t *ln)
{
	char code[7], nn[5];
	int64_t v;
	int rc = signed_zone(Z(rec, pos), n, &v);

	if (rc == ZONE_OK)
		return v;
	memcpy(nn, zz, 2);
	memcpy(nn + 2, rc == ZONE_NO_SIGN ? "05" : "06", 3);
	code_of(code, rec, nn);
	if (ln)
		on_line(d, ln, mk(code, ord, pos, n));
	else
		on_invoice(d, inv, mk(code, ord, pos, n));
	return 0;
}

/* ---- segments 200 and 300 ------------------------------------------------------------------ */

static void read_segments(struct dec *d)
{
	const char *s200 = (const char *)d->buf, *s300 = s200 + TPC_EFACT_SEG200;
	const uint16_t o = TPC_EFACT_SEG200; /* positions of 300 counted from the file's start */
	int32_t created;
	uint64_t mm;

	if (memcmp(Z(s200, 1), "920000", 6) != 0)
		on_sending(d, mk("T30003", 0, 1, 6));
	if (!digits(Z(s200, 21), 14))
		on_sending(d, mk("T30004", 0, 21, 14));
	else
		d->s->reference = view(Z(s200, 21), 14);
	mm = num(Z(s300, 5), 2);
	if (!digits(Z(s300, 1), 6) || mm < 1 || mm > 12)
		on_sending(d, mk("T30005", 0, o + 1, 6));
	else
		d->s->year_month = (uint32_t)num(Z(s300, 1), 6);
	if (!digits(Z(s300, 9), 3))
		on_sending(d, mk("T30014", 0, o + 9, 3));
	else
		d->s->number = (uint32_t)num(Z(s300, 9), 3);
	if (date_zone(Z(s300, 14), &created) != ZONE_OK || created == 0)
		on_sending(d, mk("T30006", 0, o + 14, 8));
	else
		d->s->created = created;
}

/* ---- records ------------------------------------------------------------------------------- */

/* Sequence number (3-8) and record control (349-350) of a numbered record. */
static void check_numbering(struct dec *d, const char *rec, uint32_t ord, uint32_t want)
{
	char code[7];

	if (!digits(Z(rec, 3), 6)) {
		/* no xx0201 code for records 30/40 in the list: use xx0210 */
		code_of(code, rec, rec[0] == '3' || rec[0] == '4' ? "0210" : "0201");
		on_sending(d, mk(code, ord, 3, 6));
	} else if (num(Z(rec, 3), 6) != want) {
		code_of(code, rec, memcmp(rec, "10", 2) == 0 ? "0110" : "0210");
		on_sending(d, mk(code, ord, 3, 6));
	}
	if (!digits(Z(rec, 349), 2) || num(Z(rec, 349), 2) != tpc_check_record_control(rec, 348))
		on_sending(d, mk(code_of(code, rec, "9902"), ord, 349, 2));
}

/* ET10 account B (BIC 219-229, IBAN 271-304): unused, it is spaces or zeros (both seen in real
 * files); used, the BIC must be one (104303) and the IBAN pass ISO 13616 (104902). */
static void read_account_b(struct dec *d, const char *rec, uint32_t ord)
{
	tpc_view_t bic = text(Z(rec, 219), 11), iban = text(Z(rec, 271), 34);

	if (bic.len && !bic_ok(bic.ptr, bic.len))
		on_sending(d, mk("104303", ord, 219, 11));
	if (iban.len && !tpc_check_iban(iban.ptr, iban.len))
		on_sending(d, mk("104902", ord, 271, 34));
}

/* ET10 position 9, the "code indice": 1 when the sending uses account B (the hospitals'
 * third-party numbers), 0 otherwise; the BIC B (219-229) and the IBAN B (271-304) are there
 * exactly when it is 1 (100313-100316, no date in their labels). Unused, they are spaces or
 * zeros (efact-real.md 2). */
static void read_index_code(struct dec *d, const char *rec, uint32_t ord)
{
	char c = *Z(rec, 9);
	int bic = text(Z(rec, 219), 11).len != 0, iban = text(Z(rec, 271), 34).len != 0;

	if (c < '0' || c > '9') {
		on_sending(d, mk("100301", ord, 9, 1));
		return;
	}
	if (c != '0' && c != '1') {
		on_sending(d, mk("100303", ord, 9, 1));
		return;
	}
	if (iban != (c == '1'))
		on_sending(d, mk(iban ? "100313" : "100314", ord, 271, 34));
	if (bic != (c == '1'))
		on_sending(d, mk(bic ? "100315" : "100316", ord, 219, 11));
}

/* Is the NIHII at @p nihii (11 digits) a person's rather than an institution's? Institutions'
 * numbers (hospitals 71..., 72..., the official labels' 0710XXXCC000 / 0720XXXCC000) start
 * with 7 to 9 and end with the qualification 000; a provider's starts with 1 to 6 (1
 * physicians, 3 dentists...) and carries a qualification. Both must hold: a number that is
 * not clearly a person's is not held to the persons' rule [I]. */
static int is_person(const char *nihii)
{
	return nihii[0] >= '1' && nihii[0] <= '6' && !zeros(nihii + 8, 3);
}

/* ET10 85-87 (zone 18), the profession code of the invoicing third party (efact-real.md 2):
 * zero until 2023-12, numeric from 2024-01, not zero for a person from 2024-04 (real answers
 * refused such sendings with B 101810). A month before 2024-01 is not checked further: the
 * zone was a reserve then (101801 "content not zero" in the older list) and nothing is gained
 * by refusing an old file's filler. */
static void read_profession(struct dec *d, const char *rec, uint32_t ord)
{
	uint64_t month = digits(Z(rec, 109), 6) ? num(Z(rec, 109), 6) : 0;

	if (!digits(Z(rec, 85), 3))
		on_sending(d, mk("101801", ord, 85, 3));
	else if (zeros(Z(rec, 85), 3) && month >= 202404 && digits(Z(rec, 57), 11) &&
	         is_person(Z(rec, 57)))
		on_sending(d, mk("101810", ord, 85, 3));
}

static void read_et10(struct dec *d, const char *rec, uint32_t ord)
{
	const char *s300 = (const char *)d->buf + TPC_EFACT_SEG200;
	int32_t created;
	uint64_t mm;
	tpc_view_t iban;

	d->et10 = rec;
	if (!digits(Z(rec, 33), 3))
		on_sending(d, mk("100701", ord, 33, 3));
	else if (zeros(Z(rec, 33), 3))
		on_sending(d, mk("100703", ord, 33, 3));
	else if (memcmp(Z(rec, 33), Z(s300, 9), 3) != 0)
		on_sending(d, mk("T30007", ord, 33, 3));
	if (!digits(Z(rec, 56), 12))
		on_sending(d, mk("101401", ord, 56, 12));
	else if (*Z(rec, 56) != '0' || !tpc_check_nihii(Z(rec, 57), 11))
		on_sending(d, mk("101402", ord, 56, 12));
	d->s->third_party = view(Z(rec, 57), 11);
	mm = num(Z(rec, 113), 2);
	if (!digits(Z(rec, 108), 5))
		on_sending(d, mk("102201", ord, 108, 5));
	if (!digits(Z(rec, 113), 2))
		on_sending(d, mk("102301", ord, 113, 2));
	else if (mm < 1 || mm > 12)
		on_sending(d, mk("102303", ord, 113, 2));
	else if (memcmp(Z(rec, 109), Z(s300, 1), 4) != 0 || memcmp(Z(rec, 113), Z(s300, 5), 2))
		on_sending(d, mk("T30007", ord, 108, 7));
	switch (date_zone(Z(rec, 120), &created)) {
	case ZONE_NOT_NUMERIC:
		on_sending(d, mk("102501", ord, 120, 8));
		break;
	case ZONE_INVALID:
		on_sending(d, mk("102503", ord, 120, 8));
		break;
	default:
		if (!d->s->created && created)
			d->s->created = created;
	}
	if (!digits(Z(rec, 128), 10))
		on_sending(d, mk("102704", ord, 128, 10));
	else if (!zeros(Z(rec, 128), 10) && !tpc_check_bce(Z(rec, 128), 10))
		on_sending(d, mk("102702", ord, 128, 10));
	iban = text(Z(rec, 179), 34);
	if (iban.len && !tpc_check_iban(iban.ptr, iban.len))
		on_sending(d, mk("103602", ord, 179, 34));
	read_account_b(d, rec, ord);
	read_index_code(d, rec, ord);
	read_profession(d, rec, ord);
}

static void read_et20(struct dec *d, const char *rec, uint32_t ord, uint32_t offset,
                      tpc_invoice_t *inv, const char *prev_mut)
{
	char t = *Z(rec, 51), k = *Z(rec, 50), sex = *Z(rec, 49);
	int dr;

	inv->record = ord;
	inv->offset = offset;
	inv->outcome = TPC_OUTCOME_PENDING;
	/* beneficiary: "00" + NISS */
	if (!digits(Z(rec, 36), 13))
		on_invoice(d, inv, mk("200801", ord, 36, 13));
	else if (!tpc_check_niss(Z(rec, 38), 11))
		on_invoice(d, inv, mk("200802", ord, 36, 13));
	inv->patient = view(Z(rec, 38), 11);
	if (sex != '1' && sex != '2')
		on_invoice(d, inv, mk("200903", ord, 49, 1));
	inv->sex = (uint8_t)(sex == '1' ? 1 : sex == '2' ? 2 : 0);
	if (k != '1' && k != '3' && k != '4' && k != '5' && k != '6' && k != '9')
		on_invoice(d, inv, mk("201003", ord, 50, 1));
	inv->kind = k == '1' ? TPC_INVOICE_HOSPITALISED : TPC_INVOICE_AMBULATORY;
	if (t != '0' && t != '1' && t != '3')
		on_invoice(d, inv, mk("201103", ord, 51, 1));
	inv->invoicing = (uint8_t)(t == '1' || t == '3' ? t - '0' : 0);
	/* invoicing provider: "0" + NIHII, the third party of ET10 */
	if (!digits(Z(rec, 56), 12))
		on_invoice(d, inv, mk("201401", ord, 56, 12));
	else if (*Z(rec, 56) != '0' || !tpc_check_nihii(Z(rec, 57), 11))
		on_invoice(d, inv, mk("201402", ord, 56, 12));
	else if (d->et10 && memcmp(Z(rec, 56), Z(d->et10, 56), 12) != 0)
		on_invoice(d, inv, mk("201412", ord, 56, 12));
	inv->provider = view(Z(rec, 57), 11);
	/* destination mutuality, invoices sorted by it */
	if (!digits(Z(rec, 85), 3))
		on_invoice(d, inv, mk("201801", ord, 85, 3));
	else if (prev_mut && memcmp(Z(rec, 85), prev_mut, 3) < 0)
		on_invoice(d, inv, mk("201812", ord, 85, 3));
	memcpy(inv->mutuality, Z(rec, 85), 3);
	inv->mutuality[3] = 0;
	if (!digits(Z(rec, 115), 12))
		on_invoice(d, inv, mk("202401", ord, 115, 12));
	else if (zeros(Z(rec, 115), 12))
		on_invoice(d, inv, mk("202403", ord, 115, 12));
	inv->number = view(Z(rec, 115), 12);
	if (!digits(Z(rec, 163), 12))
		on_invoice(d, inv, mk("202901", ord, 163, 12));
	inv->previous = text(Z(rec, 163), 12);
	/* a correction or credit note names the invoice it corrects; a normal invoice does not */
	if ((t == '1' || t == '3') && inv->previous.len == 0)
		on_invoice(d, inv, mk("202910", ord, 163, 12));
	else if (t == '0' && inv->previous.len)
		on_invoice(d, inv, mk("202911", ord, 163, 12));
	if ((dr = date_zone(Z(rec, 17), &inv->admission)) != ZONE_OK)
		on_invoice(d, inv, mk(dr == ZONE_NOT_NUMERIC ? "200501" : "200503", ord, 17, 8));
	if ((dr = date_zone(Z(rec, 25), &inv->discharge)) != ZONE_OK)
		on_invoice(d, inv, mk(dr == ZONE_NOT_NUMERIC ? "200601" : "200603", ord, 25, 8));
	else if (inv->admission && inv->discharge && inv->discharge < inv->admission)
		on_invoice(d, inv, mk("200610", ord, 25, 8));
	if ((dr = hour_zone(Z(rec, 108))) != ZONE_OK)
		on_invoice(d, inv, mk(dr == ZONE_NOT_NUMERIC ? "202201" : "202203", ord, 108, 5));
	if (!digits(Z(rec, 128), 10)) {
		on_invoice(d, inv, mk("202701", ord, 128, 10));
	} else {
		inv->ct1 = (uint16_t)num(Z(rec, 132), 3);
		inv->ct2 = (uint16_t)num(Z(rec, 135), 3);
	}
}

/* ET50 zones that efact.md called reserve and real files fill (efact-real.md 2), and the
 * fillers real files write there: 262-269 (zone 47) is 00000000 in real files and +0000000 in
 * S1's, so 8 digits or a sign and 7 digits; 283-285 share in a lump sum and 286 eID-reading
 * flag (zone 50), 316 GPS flag (zone 54a) are digits. 231-260 (the product label, zone 44) is
 * free text, thirty '+' when unused: no format code exists for it, it is read through. */
static void read_et50_zones(struct dec *d, const char *rec, uint32_t ord, tpc_line_t *ln)
{
	const char *z47 = Z(rec, 262);

	if (!digits(z47, 8) && !((z47[0] == '+' || z47[0] == '-') && digits(z47 + 1, 7)))
		on_line(d, ln, mk("504701", ord, 262, 8));
	if (!digits(Z(rec, 283), 3))
		on_line(d, ln, mk("505001", ord, 283, 3));
	if (!digits(Z(rec, 286), 1))
		on_line(d, ln, mk("505001", ord, 286, 1));
	if (!digits(Z(rec, 316), 1))
		on_line(d, ln, mk("505401", ord, 316, 1));
}

/* ET50: one service line. */
static void read_et50(struct dec *d, const char *rec, uint32_t ord, uint32_t offset,
                      tpc_invoice_t *inv, const char *et20, tpc_line_t *ln, struct blk *b)
{
	int64_t units;
	int dr;

	ln->record = ord;
	ln->offset = offset;
	ln->outcome = TPC_OUTCOME_PENDING;
	if (!digits(Z(rec, 10), 7)) {
		on_line(d, ln, mk("500401", ord, 10, 7));
	} else {
		memcpy(ln->code, Z(rec, 11), 6);
		if (*Z(rec, 10) != '0')
			on_line(d, ln, mk("500404", ord, 10, 7));
		else if (!tpc_check_nomenclature(Z(rec, 11), 6))
			on_line(d, ln, mk("500402", ord, 10, 7));
	}
	if ((dr = date_zone(Z(rec, 17), &ln->date_first)) != ZONE_OK || ln->date_first == 0)
		on_line(d, ln, mk(dr == ZONE_NOT_NUMERIC ? "500501" : "500503", ord, 17, 8));
	if ((dr = date_zone(Z(rec, 25), &ln->date_last)) != ZONE_OK)
		on_line(d, ln, mk(dr == ZONE_NOT_NUMERIC ? "500601" : "500603", ord, 25, 8));
	else if (ln->date_last == 0)
		ln->date_last = ln->date_first;
	else if (ln->date_first && ln->date_last < ln->date_first)
		on_line(d, ln, mk("500612", ord, 25, 8));
	if (et20 && memcmp(Z(rec, 33), Z(et20, 33), 3) != 0)
		on_line(d, ln, mk("500712", ord, 33, 3));
	if (!digits(Z(rec, 36), 13))
		on_line(d, ln, mk("500801", ord, 36, 13));
	else if (!tpc_check_niss(Z(rec, 38), 11))
		on_line(d, ln, mk("500802", ord, 36, 13));
	else if (et20 && memcmp(Z(rec, 36), Z(et20, 36), 13) != 0)
		on_invoice(d, inv, mk("500812", ord, 36, 13));
	if (et20 && *Z(rec, 49) != *Z(et20, 49))
		on_line(d, ln, mk("500912", ord, 49, 1));
	if (*Z(rec, 51) != '0' && *Z(rec, 51) != '1')
		on_line(d, ln, mk("501103", ord, 51, 1));
	ln->account = (uint8_t)(*Z(rec, 51) == '1');
	/* performer: "0" + NIHII; all zeros = not given (lump sums) */
	if (!digits(Z(rec, 68), 12))
		on_line(d, ln, mk("501501", ord, 68, 12));
	else if (!zeros(Z(rec, 68), 12) && (*Z(rec, 68) != '0' || !tpc_check_nihii(Z(rec, 69), 11)))
		on_line(d, ln, mk("501502", ord, 68, 12));
	ln->performer = text(Z(rec, 69), 11);
	ln->insurer_cents = amount(d, rec, ord, "19", 88, 12, inv, ln);
	units = amount(d, rec, ord, "22", 108, 5, inv, ln);
	if (units == 0 && tpc_check_parse_signed(Z(rec, 108), 5, &units) == 0)
		on_line(d, ln, mk("502203", ord, 108, 5));
	ln->units = (int32_t)units;
	ln->patient_cents = amount(d, rec, ord, "27", 128, 10, inv, ln);
	ln->supplement_cents = amount(d, rec, ord, "30", 165, 10, inv, ln);
	ln->reference = text(Z(rec, 138), 25);
	read_et50_zones(d, rec, ord, ln);
	/* signs follow the insurer amount */
	if ((ln->insurer_cents < 0 && units > 0) || (ln->insurer_cents > 0 && units < 0))
		on_line(d, ln, mk("502212", ord, 108, 5));
	if ((ln->insurer_cents < 0 && ln->patient_cents > 0) ||
	    (ln->insurer_cents > 0 && ln->patient_cents < 0))
		on_line(d, ln, mk("502712", ord, 128, 10));
	/* a credit note: every amount negative, units too */
	if (inv && inv->invoicing == TPC_INVOICING_CREDIT_NOTE) {
		if (units > 0)
			on_line(d, ln, mk("502248", ord, 108, 5));
		if ((ln->insurer_cents > 0 || ln->patient_cents > 0 || ln->supplement_cents > 0) &&
		    !b->credit_flagged) {
			on_invoice(d, inv, mk("201140", inv->record, 51, 1));
			b->credit_flagged = 1;
		}
	}
	if (ln->account)
		b->b += ln->insurer_cents;
	else
		b->a += ln->insurer_cents;
	b->patient += ln->patient_cents;
	b->supplement += ln->supplement_cents;
}

/* ET51: payment commitment of the preceding line. Its CT1/CT2 (128-137, zone 27: `0000` +
 * CT1 + CT2, confirmed on a CIN file, efact-real.md 2) are the beneficiary's of the ET20. */
static void read_et51(struct dec *d, const char *rec, uint32_t ord, const char *et50,
                      const char *et20, tpc_invoice_t *inv, tpc_line_t *ln)
{
	if (!digits(Z(rec, 10), 7))
		on_line(d, ln, mk("510401", ord, 10, 7));
	else if (!tpc_check_nomenclature(Z(rec, 11), 6))
		on_line(d, ln, mk("510402", ord, 10, 7));
	else if (et50 && memcmp(Z(rec, 10), Z(et50, 10), 7) != 0)
		on_line(d, ln, mk("510412", ord, 10, 7));
	(void)amount(d, rec, ord, "19", 88, 12, inv, ln);
	if (!digits(Z(rec, 128), 10))
		on_line(d, ln, mk("512701", ord, 128, 10));
	else if (!zeros(Z(rec, 128), 4))
		on_line(d, ln, mk("512704", ord, 128, 10));
	else if (et20 && digits(Z(et20, 128), 10) && memcmp(Z(rec, 128), Z(et20, 128), 10) != 0)
		on_line(d, ln,
		        mk("512712", ord, 128, 10)); /* an ET20 zone in error is named there */
	if (ln)
		ln->commitment = text(Z(rec, 213), 48);
}

/* ET52: identity-document reading of the preceding line: its link, and the agreement number
 * of 132-151 (zone 19: 20 digits in real physiotherapy records, efact-real.md 2; zeros when
 * there is none). Its structure (mutuality, number, mod-97 check) is only inferred [I], so
 * the digits alone are checked. */
static void read_et52(struct dec *d, const char *rec, uint32_t ord, const char *et50,
                      tpc_line_t *ln)
{
	if (!digits(Z(rec, 10), 7))
		on_line(d, ln, mk("520401", ord, 10, 7));
	else if (et50 && memcmp(Z(rec, 10), Z(et50, 10), 7) != 0)
		on_line(d, ln, mk("520412", ord, 10, 7));
	if (!digits(Z(rec, 132), 20))
		on_line(d, ln, mk("521901", ord, 132, 20));
}

/* Value of the code zone (10-16) for the controls of 7.2 (0 when not numeric). */
static uint64_t code_value(const char *rec)
{
	return num(Z(rec, 10), 7);
}

static void read_et80(struct dec *d, const char *rec, uint32_t ord, tpc_invoice_t *inv,
                      const char *et20, const struct blk *b)
{
	int64_t a, bb, pat, sup;
	int hr;

	if (et20) {
		if (memcmp(Z(rec, 36), Z(et20, 36), 13) != 0)
			on_invoice(d, inv, mk("800812", ord, 36, 13));
		if (memcmp(Z(rec, 85), Z(et20, 85), 3) != 0)
			on_invoice(d, inv, mk("801812", ord, 85, 3));
		if (memcmp(Z(rec, 115), Z(et20, 115), 12) != 0)
			on_invoice(d, inv, mk("802412", ord, 115, 12));
	}
	/* discharge hour (efact-real.md 2): readable, then the ET20's */
	if ((hr = hour_zone(Z(rec, 108))) != ZONE_OK)
		on_invoice(d, inv, mk(hr == ZONE_NOT_NUMERIC ? "802201" : "802203", ord, 108, 5));
	else if (et20 && memcmp(Z(rec, 108), Z(et20, 108), 5) != 0)
		on_invoice(d, inv, mk("802212", ord, 108, 5));
	bb = amount(d, rec, ord, "15", 68, 12, inv, NULL);
	a = amount(d, rec, ord, "19", 88, 12, inv, NULL);
	pat = amount(d, rec, ord, "27", 128, 10, inv, NULL);
	sup = amount(d, rec, ord, "30", 165, 10, inv, NULL);
	if (signed_zone(Z(rec, 88), 12, &a) == ZONE_OK && a != b->a)
		on_invoice(d, inv, mk("801910", ord, 88, 12));
	if (signed_zone(Z(rec, 68), 12, &bb) == ZONE_OK && bb != b->b)
		on_invoice(d, inv, mk("801510", ord, 68, 12));
	if (signed_zone(Z(rec, 128), 10, &pat) == ZONE_OK && pat != b->patient)
		on_invoice(d, inv, mk("802710", ord, 128, 10));
	if (signed_zone(Z(rec, 165), 10, &sup) == ZONE_OK && sup != b->supplement)
		on_invoice(d, inv, mk("803010", ord, 165, 10));
	if (!digits(Z(rec, 347), 2) || num(Z(rec, 347), 2) != tpc_check_control97(b->codes))
		on_invoice(d, inv, mk("809802", ord, 347, 2));
	if (inv) {
		inv->total_insurer_cents = a + bb;
		inv->total_patient_cents = pat;
	}
}

/* A signed zone's value, or @p fallback when it is unreadable. */
static int64_t total_or(const char *rec, uint16_t pos, uint16_t n, int64_t fallback)
{
	int64_t v;

	return signed_zone(Z(rec, pos), n, &v) == ZONE_OK ? v : fallback;
}

/* ET90: totals of the sending, compared with the sum of the ET80 totals. */
static void read_et90(struct dec *d, const char *rec, uint32_t ord, int64_t sum_a, int64_t sum_b,
                      uint64_t codes)
{
	int64_t a, b;
	const char *e = d->et10;

	b = amount(d, rec, ord, "15", 68, 12, NULL, NULL);
	a = amount(d, rec, ord, "19", 88, 12, NULL, NULL);
	if (signed_zone(Z(rec, 88), 12, &a) == ZONE_OK && a != sum_a)
		on_sending(d, mk("901910", ord, 88, 12));
	if (signed_zone(Z(rec, 68), 12, &b) == ZONE_OK && b != sum_b)
		on_sending(d, mk("901510", ord, 68, 12));
	if (e) {
		if (memcmp(Z(rec, 33), Z(e, 33), 3) != 0)
			on_sending(d, mk("900712", ord, 33, 3));
		if (memcmp(Z(rec, 56), Z(e, 56), 12) != 0)
			on_sending(d, mk("901412", ord, 56, 12));
		if (memcmp(Z(rec, 108), Z(e, 108), 5) != 0)
			on_sending(d, mk("902212", ord, 108, 5));
		if (memcmp(Z(rec, 113), Z(e, 113), 2) != 0)
			on_sending(d, mk("902312", ord, 113, 2));
		if (memcmp(Z(rec, 128), Z(e, 128), 10) != 0)
			on_sending(d, mk("902712", ord, 128, 10));
		if (memcmp(Z(rec, 179), Z(e, 179), 34) != 0)
			on_sending(d, mk("903612", ord, 179, 34));
		/* account B: an unused one may be spaces in one record and zeros in the other */
		if (!same_account(Z(rec, 219), Z(e, 219), 11))
			on_sending(d, mk("904312", ord, 219, 11));
		if (!same_account(Z(rec, 271), Z(e, 271), 34))
			on_sending(d, mk("904912", ord, 271, 34));
	}
	if (!digits(Z(rec, 347), 2))
		on_sending(d, mk("909801", ord, 347, 2));
	else if (num(Z(rec, 347), 2) != tpc_check_control97(codes))
		on_sending(d, mk("909802", ord, 347, 2));
	d->s->total_cents = a + b;
}

/* The record count of a 95/96 (66-73) against @p records, what tpclear counts (S1's reading:
 * ET20..ET80 of the mutuality for a 95, ET10..ET90 for the 96). Real files count otherwise
 * (CIN test files keep fixed counts, a widely used client leaves ET52 out) and insurers settled
 * them all (efact-real.md 2), so by default a count that differs is a signal the sender sees
 * (T30018, S), not a refusal; [adapter.efact] counts = strict refuses it (T30011, B) and
 * counts = ignore does not read it. */
static void check_count(struct dec *d, const char *rec, uint32_t ord, uint32_t records)
{
	if (d->counts == COUNTS_IGNORE)
		return;
	if (digits(Z(rec, 66), 8) && num(Z(rec, 66), 8) == records)
		return;
	on_sending(d, mk(d->counts == COUNTS_STRICT ? "T30011" : "T30018", ord, 66, 8));
}

/* The control of a 95/96 (76-77, efact.md 7.2) over one of the scopes real writers use: the
 * codes of the ET50s, ET51s and ET52s (the invoice control's scope, efact-real.md 2, and
 * what tpclear's writer sums), of the ET50s alone (S1, a widely used client) or of the ET50s and
 * ET51s (the CIN sample, S5). No real answer says which one insurers check, and insurers
 * settled sendings of these writers: a file is not refused for one of them. */
static int control_ok(const char *zone, uint64_t all, uint64_t codes50, uint64_t codes51)
{
	uint64_t v;

	if (!digits(zone, 2))
		return 0;
	v = num(zone, 2);
	return v == tpc_check_control97(all) || v == tpc_check_control97(codes50) ||
	       v == tpc_check_control97(codes50 + codes51);
}

/* The mutuality of the record 96 (5-7): a federation, its digit then 99 (efact.md 5.10; real
 * 920999s refused 96s naming 100 or 134, efact-real.md 1.3), and one the invoices are for:
 * the first digit of one of their destination mutualities (any, when there is none). */
static int federation_of(const struct dec *d, const char *mut)
{
	if (!digits(mut, 3) || mut[0] == '0' || mut[1] != '9' || mut[2] != '9')
		return 0;
	for (uint32_t i = 0; i < d->s->ninvoices; i++)
		if (d->s->invoices[i].mutuality[0] == mut[0])
			return 1;
	return d->s->ninvoices == 0;
}

/* Records 95 (one mutuality) and 96 (whole sending): amounts, record count and control, against
 * the matching invoices. Amounts are compared with the ET80 totals as written, so that a line
 * that does not add up is named once (801910, on its invoice) rather than again here. */
static void read_summary(struct dec *d, const char *rec, uint32_t ord, int is96)
{
	int64_t a, b, ab, c = 0, sa = 0, sb = 0;
	uint64_t codes = 0, codes50 = 0, codes51 = 0;
	uint32_t records = 0, n = d->s->ninvoices;
	int found = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct blk *k = &d->blks[i];

		if (!is96) {
			if (memcmp(d->s->invoices[i].mutuality, Z(rec, 5), 3) != 0)
				continue;
			d->blks[i].in95 = 1;
		}
		found = 1;
		sa += k->a80;
		sb += k->b80;
		codes += k->codes;
		codes50 += k->codes50;
		codes51 += k->codes51;
		records += k->records;
	}
	if (is96)
		records += 2; /* ET10 and ET90 */
	if (!is96 && !found)
		on_sending(d, mk("T30015", ord, 5, 3));
	/* amount C (80-91): blank in real files (efact-real.md 2), else a signed amount */
	if (tpc_check_all_char(Z(rec, 80), 12, ' '))
		c = 0;
	else if (signed_zone(Z(rec, 80), 12, &c))
		on_sending(d, mk("T30017", ord, 80, 12));
	if (signed_zone(Z(rec, 24), 12, &a) || signed_zone(Z(rec, 38), 12, &b) ||
	    signed_zone(Z(rec, 52), 12, &ab) || a != sa || b != sb || ab != a + b + c)
		on_sending(d, mk(is96 ? "T30009" : "T30008", ord, 24, 40));
	if (is96 && !federation_of(d, Z(rec, 5)))
		on_sending(d, mk("T30019", ord, 5, 3));
	check_count(d, rec, ord, records);
	if (!control_ok(Z(rec, 76), codes, codes50, codes51))
		on_sending(d, mk("T30010", ord, 76, 2));
}

/* ---- the walk ------------------------------------------------------------------------------ */

static int type_of(const char *rec)
{
	if (rec[0] < '0' || rec[0] > '9' || rec[1] < '0' || rec[1] > '9')
		return -1;
	return (rec[0] - '0') * 10 + (rec[1] - '0');
}

static int is_detail(int t)
{
	return t == 30 || t == 40 || t == 50 || t == 51 || t == 52;
}

/* May record type @p t follow @p prev? (efact.md 4, and efact-real.md 2: ET21, the reading of
 * the patient's eID at invoice level, sits between ET20 and the invoice's first detail) */
static int may_follow(int prev, int t)
{
	switch (t) {
	case 20:
		return prev == 10 || prev == 80;
	case 21:
		return prev == 20;
	case 30:
	case 40:
	case 50:
		return prev == 20 || prev == 21 || is_detail(prev);
	case 51:
		return prev == 50;
	case 52:
		return prev == 50 || prev == 51;
	case 80:
		return is_detail(prev);
	case 90:
		return prev == 80;
	default:
		return 1;
	}
}

/* May a record of type @p prev be followed by @p t? */
static int may_precede(int prev, int t)
{
	switch (prev) {
	case 10:
		return t == 20;
	case 20:
		return t == 21 || t == 30 || t == 40 || t == 50;
	case 21:
		return t == 30 || t == 40 || t == 50;
	case 50:
	case 51:
		return is_detail(t) || t == 80;
	case 52:
		return t == 30 || t == 40 || t == 50 || t == 80;
	case 80:
		return t == 20 || t == 90;
	case 90:
		return t == 95 || t == 96;
	default:
		return 1;
	}
}

/* Order errors: "t not after prev" (t0110) first, else "prev not followed by t" (prev0111). */
static void check_order(struct dec *d, const char *rec, int prev, const char *prev_rec,
                        uint32_t prev_ord, int t, uint32_t ord)
{
	char code[7];

	if (t == 10) {
		if (prev != 0)
			on_sending(d, mk("T30002", ord, 1, 2));
		return;
	}
	if (prev == 0) {
		on_sending(d, mk("T30016", ord, 1, 2)); /* record 10 missing */
		return;
	}
	if (!may_follow(prev, t)) {
		if (t == 30 || t == 40)
			on_sending(d, mk("T30002", ord, 1, 2));
		else
			on_sending(d, mk(code_of(code, rec, "0110"), ord, 1, 2));
	} else if (!may_precede(prev, t) && prev != 30 && prev != 40) {
		on_sending(d, mk(code_of(code, prev_rec, "0111"), prev_ord, 1, 2));
	}
}

/* The walk's state between records: where we are in the grammar, the current invoice block,
 * and the sums the trailer records (80, 90) are checked against. */
struct walk {
	struct dec d;
	uint32_t nrec, ninv, nlines; /* counted in pass 1 */
	uint32_t seq;                /* the sequence number the next numbered record must carry */
	int prev;                    /* type of the last record other than 95/96 (0: none yet) */
	const char *prev_rec;
	uint32_t prev_ord;
	int seen90, seen96, late_after_90;
	uint32_t et90_ord;
	int64_t sum_a, sum_b; /* ET80 totals, for ET90 */
	uint64_t all_codes;   /* code zones of every closed block, for ET90 */
	const char *et20, *et50, *prev_mut;
	tpc_invoice_t *inv; /* the open invoice block, NULL between blocks */
	tpc_line_t *ln;     /* the last line (ET50), for its 51 and 52 */
	struct blk *b;
};

/* Pass 1: count invoices and lines, so the arrays are allocated once and pass 2 never grows
 * them. @return 0, or TPC_ADAPTER_ETOOBIG past the host's bounds or the sending's memory. */
static int count_and_allocate(struct walk *w)
{
	const tpc_host_t *host = w->d.host;
	tpc_sending_t *s = w->d.s;

	for (uint32_t i = 0; i < w->nrec; i++) {
		int t = type_of((const char *)w->d.buf + TPC_EFACT_HEADER +
		                (size_t)i * TPC_EFACT_RECORD);

		w->ninv += t == 20;
		w->nlines += t == 50;
	}
	if ((host->max_invoices && w->ninv > host->max_invoices) ||
	    (host->max_lines && w->nlines > host->max_lines))
		return TPC_ADAPTER_ETOOBIG;
	s->invoices = host->alloc(host->arena, ((size_t)w->ninv + 1) * sizeof(*s->invoices),
	                          _Alignof(tpc_invoice_t));
	s->lines = host->alloc(host->arena, ((size_t)w->nlines + 1) * sizeof(*s->lines),
	                       _Alignof(tpc_line_t));
	w->d.blks = host->alloc(host->arena, ((size_t)w->ninv + 1) * sizeof(*w->d.blks),
	                        _Alignof(struct blk));
	if (!s->invoices || !s->lines || !w->d.blks)
		return TPC_ADAPTER_ETOOBIG; /* the sending's memory limit (adapter.h) */
	return 0;
}

/* Where the record stands: the grammar's order before ET90; after it only 95s and one 96. */
static void check_place(struct walk *w, const char *rec, uint32_t ord, int t)
{
	if (t != 95 && t != 96) {
		if (!w->seen90)
			check_order(&w->d, rec, w->prev, w->prev_rec, w->prev_ord, t, ord);
		else if (!w->late_after_90++)
			/* once, on the ET90 itself: it is not the last numbered record */
			on_sending(&w->d, mk("900111", w->et90_ord, 1, 2));
	} else if (!w->seen90 || w->seen96) {
		on_sending(&w->d, mk("T30013", ord, 1, 2));
	}
}

/* Records 10..90 are numbered in sequence; 95 and 96 are not. */
static void check_sequence(struct walk *w, const char *rec, uint32_t ord, int t)
{
	switch (t) {
	case 10:
	case 20:
	case 21:
	case 30:
	case 40:
	case 50:
	case 51:
	case 52:
	case 80:
	case 90:
		check_numbering(&w->d, rec, ord, ++w->seq);
		break;
	case 95:
	case 96:
		break;
	default:
		w->seq++; /* an unknown record still takes a sequence number */
		on_sending(&w->d, mk("T30002", ord, 1, 2));
	}
}

/* ET20 opens an invoice block. */
static void walk_et20(struct walk *w, const char *rec, uint32_t ord, size_t off)
{
	tpc_sending_t *s = w->d.s;

	if (s->ninvoices >= w->ninv)
		return; /* cannot happen: counted in pass 1 */
	w->inv = &s->invoices[s->ninvoices];
	w->b = &w->d.blks[s->ninvoices++];
	w->et20 = rec;
	w->et50 = NULL;
	w->ln = NULL;
	read_et20(&w->d, rec, ord, (uint32_t)off, w->inv, w->prev_mut);
	w->prev_mut = Z(rec, 85);
	w->inv->first_line = w->d.s->nlines;
	w->b->records = 1;
}

/* ET50 is a line: of the open invoice, or of none (then refused, but still decoded so its
 * own findings are reported). */
static void walk_et50(struct walk *w, const char *rec, uint32_t ord, size_t off)
{
	tpc_sending_t *s = w->d.s;
	struct blk none;

	if (s->nlines >= w->nlines)
		return;
	w->ln = &s->lines[s->nlines++];
	w->et50 = rec;
	if (w->inv) {
		w->inv->nlines++;
		read_et50(&w->d, rec, ord, (uint32_t)off, w->inv, w->et20, w->ln, w->b);
		w->b->codes += code_value(rec);
		w->b->codes50 += code_value(rec);
		return;
	}
	memset(&none, 0, sizeof(none));
	read_et50(&w->d, rec, ord, (uint32_t)off, NULL, NULL, w->ln, &none);
	w->ln->outcome = TPC_OUTCOME_REFUSED; /* belongs to no invoice */
}

/* ET80 closes the invoice block and adds its totals to what ET90 is checked against. */
static void walk_et80(struct walk *w, const char *rec, uint32_t ord)
{
	struct blk *b = w->b;

	if (w->inv) {
		b->records++;
		read_et80(&w->d, rec, ord, w->inv, w->et20, b);
		/* ET90 is compared with the ET80 totals as written (801910 already names an ET80
		 * that differs from its lines) */
		b->a80 = total_or(rec, 88, 12, b->a);
		b->b80 = total_or(rec, 68, 12, b->b);
		w->sum_a += b->a80;
		w->sum_b += b->b80;
		w->all_codes += b->codes;
	}
	w->inv = NULL;
	w->b = NULL;
	w->ln = NULL;
	w->et20 = w->et50 = NULL;
}

/* Decode one record of type @p t (its place and number are already checked). */
static void walk_record(struct walk *w, const char *rec, uint32_t ord, size_t off, int t)
{
	/* the code zones of records 30..52 count towards the block's ET80 control (7.2) */
	int in_block = w->inv != NULL;

	switch (t) {
	case 10:
		if (!w->d.et10)
			read_et10(&w->d, rec, ord);
		break;
	case 20:
		walk_et20(w, rec, ord, off);
		break;
	case 21:
		/* read through: its zones are not known well enough to judge
		 * (docs/formats/efact.md, "Record 21"); it carries no code, so it adds nothing to
		 * the controls of 7.2 */
		break;
	case 30:
	case 40:
		on_invoice(&w->d, w->inv, mk("T30012", ord, 1, 2));
		if (in_block)
			w->b->codes += code_value(rec);
		w->et50 = NULL;
		w->ln = NULL;
		break;
	case 50:
		walk_et50(w, rec, ord, off);
		break;
	case 51:
		read_et51(&w->d, rec, ord, w->et50, w->et20, w->inv, w->ln);
		if (in_block) {
			w->b->codes += code_value(rec);
			w->b->codes51 += code_value(rec);
		}
		break;
	case 52:
		read_et52(&w->d, rec, ord, w->et50, w->ln);
		if (in_block)
			w->b->codes += code_value(rec);
		break;
	case 80:
		walk_et80(w, rec, ord);
		break;
	case 90:
		/* only the first ET90 is read; a second is already an order finding */
		if (!w->seen90) {
			read_et90(&w->d, rec, ord, w->sum_a, w->sum_b, w->all_codes);
			w->et90_ord = ord;
		}
		w->seen90 = 1;
		break;
	case 95:
		read_summary(&w->d, rec, ord, 0);
		break;
	case 96:
		read_summary(&w->d, rec, ord, 1);
		w->seen96 = 1;
		break;
	default:
		break;
	}
}

/* Pass 2: 10 {20 (30|40|50 [51] [52])+ 80}+ 90 {95} 96, stopping if the arena runs out. */
static void walk_records(struct walk *w)
{
	for (uint32_t i = 0; i < w->nrec && !w->d.oom; i++) {
		size_t off = TPC_EFACT_HEADER + (size_t)i * TPC_EFACT_RECORD;
		const char *rec = (const char *)w->d.buf + off;
		uint32_t ord = i + 1;
		int t = type_of(rec);

		check_place(w, rec, ord, t);
		check_sequence(w, rec, ord, t);
		/* records ET20..ET80 of the block, for the counts of 95/96 */
		if (w->inv && (is_detail(t) || t == 21))
			w->b->records++;
		walk_record(w, rec, ord, off, t);
		/* 95 and 96 stand outside the grammar's order (check_place) */
		if (t != 95 && t != 96) {
			w->prev = t;
			w->prev_rec = rec;
			w->prev_ord = ord;
		}
	}
}

/* What the end of the file says is missing: records at all, ET90, ET96, a 95 per mutuality. */
static void check_end(struct walk *w)
{
	tpc_sending_t *s = w->d.s;

	if (w->nrec == 0)
		on_sending(&w->d, mk("T30016", 0, 0, 0));
	else if (!w->seen90)
		on_sending(&w->d, mk("900104", w->nrec, 0, 0));
	else if (!w->seen96)
		on_sending(&w->d, mk("T30013", w->nrec, 0, 0));
	if (!w->seen90)
		return;
	for (uint32_t i = 0; i < s->ninvoices; i++)
		if (!w->d.blks[i].in95) {
			on_sending(&w->d, mk("T30013", w->nrec, 0, 0));
			return;
		}
}

static int efact_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                        tpc_sending_t *s)
{
	struct walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	/* no state (a caller that skipped init, as the unit tests do): the default, lenient */
	w.d.counts = state ? ((const struct efact_state *)state)->counts : COUNTS_LENIENT;
	w.d.buf = buf;
	w.d.len = len;
	w.d.host = host;
	w.d.s = s;
	if (!buf || len < TPC_EFACT_HEADER || (len - TPC_EFACT_HEADER) % TPC_EFACT_RECORD != 0) {
		on_sending(&w.d, mk("T30001", 0, 0, 0));
		if (!buf || len < TPC_EFACT_HEADER)
			return w.d.oom ? TPC_ADAPTER_ENOMEM : 0;
	}
	read_segments(&w.d);
	/* a partial record at the end is ignored (T30001 above) */
	if ((len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD > UINT32_MAX - 1)
		return TPC_ADAPTER_ETOOBIG;
	w.nrec = (uint32_t)((len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD);
	s->nrecords = w.nrec;
	if ((rc = count_and_allocate(&w)))
		return rc;
	walk_records(&w);
	if (!w.d.oom)
		check_end(&w);
	/* a blocking finding inside the invoice blocks refuses the sending as a whole */
	if (w.d.refuse_all)
		for (uint32_t i = 0; i < s->ninvoices; i++)
			s->invoices[i].outcome = TPC_OUTCOME_REFUSED;
	return w.d.oom ? TPC_ADAPTER_ENOMEM : 0;
}

/* ---- descriptor ---------------------------------------------------------------------------- */

/* Does the line [p, e) read "key=value" with exactly @p key and @p value? */
static int line_is(const char *p, const char *e, const char *key, const char *value)
{
	size_t k = strlen(key), v = strlen(value);

	return (size_t)(e - p) == k + 1 + v && memcmp(p, key, k) == 0 && p[k] == '=' &&
	       memcmp(p + k + 1, value, v) == 0;
}

/* The adapter's section [adapter.efact] as "key=value\n" lines (adapter.h). One key today:
 * counts = lenient | strict | ignore (docs/formats/efact.md, "Record counts of 95/96"). An
 * unknown key or value fails init, so a typo stops the daemon at startup instead of being
 * silently ignored. The state is one of the constant states: nothing to free. */
static int efact_init(const char *config, void **state)
{
	static const char *const names[] = {"lenient", "strict", "ignore"};
	const struct efact_state *st = &states[COUNTS_LENIENT];
	const char *p = config ? config : "";

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t i;

		if (!e)
			e = p + strlen(p);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (line_is(p, e, "counts", names[i]))
				break;
		if (e > p && i == sizeof(names) / sizeof(names[0]))
			return TPC_ADAPTER_EINVAL;
		if (e > p)
			st = &states[i];
		p = *e ? e + 1 : e;
	}
	*state = (void *)(uintptr_t)st; /* read-only: decode() takes it back as const */
	return 0;
}

static void efact_fini(void *state)
{
	(void)state;
}

static const char *efact_describe(const void *state, const char *code)
{
	(void)state;
	return code ? tpc_efact_describe(code) : NULL;
}

const tpc_adapter_t tpc_efact_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "efact",
    .init = efact_init,
    .decode = efact_decode,
    .encode_answer = tpc_efact_encode_answer_,
    .describe = efact_describe,
    .encode_settlement = tpc_efact_encode_settlement_,
    .fini = efact_fini,
};
