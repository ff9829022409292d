/* tests/support/gen/efact_gen.c - see gen/efact_gen.h. Positions: shared/domain/efact.md 5. */
#include "gen/efact_gen.h"

#include "adapter.h"
#include "common/check.h"
#include "gen/canonical_gen.h"
#include "efact/efact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R TPC_EFACT_RECORD

struct w {
	char *buf;
	size_t len, cap;
	uint32_t seq;
	int bad;
};

static char *rec_new(struct w *w, const char *type)
{
	char *r;

	if (w->len + R > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64 * R;
		char *n = realloc(w->buf, cap);
		if (!n) {
			w->bad = TPC_ADAPTER_ENOMEM;
			return NULL;
		}
		w->buf = n;
		w->cap = cap;
	}
	r = w->buf + w->len;
	w->len += R;
	memset(r, '0', R);
	memcpy(r, type, 2);
	return r;
}

/* Left-aligned text, space padded. */
static void txt(struct w *w, char *dst, size_t width, const char *s)
{
	size_t n = strlen(s);

	if (n > width)
		w->bad = TPC_ADAPTER_EINVAL;
	memset(dst, ' ', width);
	memcpy(dst, s, n < width ? n : width);
}

/* Right-aligned digits, zero padded (identifiers keep their leading zeros). */
static void digits(struct w *w, char *dst, size_t width, const char *s)
{
	size_t n = strlen(s);

	if (n > width || (n && !tpc_check_all_digits(s, n)))
		w->bad = TPC_ADAPTER_EINVAL;
	memset(dst, '0', width);
	if (n <= width)
		memcpy(dst + width - n, s, n);
}

void tpc_efact_reseal(char *rec)
{
	tpc_check_put_uint(rec + 348, 2, tpc_check_record_control(rec, 348));
}

static void seal(struct w *w, char *rec)
{
	tpc_check_put_uint(rec + 2, 6, ++w->seq);
	tpc_efact_reseal(rec);
}

/* What one invoice block adds to the controls and counts of ET80, ET90 and 95/96. */
struct block_sums {
	uint64_t codes;   /* code zones of its ET50, ET51 and ET52 (efact-real.md 2) */
	uint32_t records; /* ET20..ET80 */
	uint32_t et52; /* of which ET52 (the counts a widely used client writes leave them out) */
};

/* ET21 after an ET20: the patient's eID read at invoice level. Its zones are our guess (the
 * layout of an ET52 without a code); the decoder reads it through. */
static int write_et21(struct w *w, const tpc_efact_sending_in_t *in,
                      const tpc_efact_invoice_in_t *inv, struct block_sums *bs)
{
	char *r = rec_new(w, "21");

	if (!r)
		return -1;
	tpc_check_put_uint(r + 24, 8, in->created);
	digits(w, r + 35, 13, inv->niss);
	r[48] = '1'; /* read from the chip */
	r[49] = '1'; /* an eID */
	memcpy(r + 51, "0900", 4);
	memcpy(r + 79, "592123456789012", 15);
	seal(w, r);
	bs->records++;
	return 0;
}

/* ET52 after a line (and its ET51): the eID read for this service, with the line's code. */
static int write_et52(struct w *w, const tpc_efact_invoice_in_t *inv, const tpc_efact_line_in_t *l,
                      struct block_sums *bs)
{
	char *r = rec_new(w, "52");

	if (!r)
		return -1;
	digits(w, r + 10, 6, l->code);
	tpc_check_put_uint(r + 16, 8, l->date);
	tpc_check_put_uint(r + 24, 8, l->date);
	digits(w, r + 35, 13, inv->niss);
	r[48] = '1';
	r[49] = '1';
	memcpy(r + 51, "0900", 4);
	digits(w, r + 67, 12, l->performer);
	memcpy(r + 79, "592123456789012", 15);
	seal(w, r);
	bs->codes += strtoul(l->code, NULL, 10);
	bs->records++;
	bs->et52++;
	return 0;
}

/* ET50 of one line, then its ET51 (a payment commitment) and its ET52 when asked for. */
static int write_line(struct w *w, const tpc_efact_sending_in_t *in,
                      const tpc_efact_invoice_in_t *inv, const tpc_efact_line_in_t *l,
                      struct block_sums *bs)
{
	char *r = rec_new(w, "50");

	if (!r)
		return -1;
	r[9] = '0';
	digits(w, r + 10, 6, l->code);
	tpc_check_put_uint(r + 16, 8, l->date);
	tpc_check_put_uint(r + 24, 8, l->date_last ? l->date_last : l->date);
	digits(w, r + 32, 3, inv->mutuality);
	digits(w, r + 35, 13, inv->niss);
	r[48] = inv->sex ? inv->sex : '1';
	r[50] = l->account ? '1' : '0';
	memcpy(r + 52, "990", 3);
	digits(w, r + 67, 12, l->performer);
	r[79] = '1';
	tpc_check_put_signed(r + 87, 12, l->insurer_cents);
	tpc_check_put_signed(r + 107, 5, l->units);
	tpc_check_put_signed(r + 127, 10, l->patient_cents);
	txt(w, r + 137, 25, l->reference);
	tpc_check_put_signed(r + 164, 10, l->supplement_cents);
	if (in->style & TPC_EFACT_STYLE_FILLERS)
		memset(r + 230, '+', 30); /* 262-269 stay 00000000 */
	else
		memcpy(r + 261, "+0000000", 8);
	if (l->lump_share > 999)
		w->bad = TPC_ADAPTER_EINVAL;
	tpc_check_put_uint(r + 282, 3, l->lump_share % 1000);
	if (l->eid_flag)
		r[285] = l->eid_flag;
	if (l->gps_flag)
		r[315] = l->gps_flag;
	seal(w, r);
	bs->codes += strtoul(l->code, NULL, 10);
	bs->records++;
	if (l->commitment[0]) {
		if (!(r = rec_new(w, "51")))
			return -1;
		digits(w, r + 10, 6, l->code);
		tpc_check_put_uint(r + 16, 8, l->date);
		digits(w, r + 35, 13, inv->niss);
		digits(w, r + 67, 12, l->performer);
		tpc_check_put_signed(r + 87, 12, l->insurer_cents);
		tpc_check_put_uint(r + 131, 3, inv->ct1);
		tpc_check_put_uint(r + 134, 3, inv->ct2);
		txt(w, r + 212, 48, l->commitment);
		seal(w, r);
		bs->codes += strtoul(l->code, NULL, 10);
		bs->records++;
	}
	return l->et52 ? write_et52(w, inv, l, bs) : 0;
}

/* The record count a 95 (@p is96 0) or the 96 carries, in the style @p counts. */
static uint32_t count_of(int counts, int is96, uint32_t records, uint32_t et52)
{
	switch (counts) {
	case TPC_EFACT_COUNTS_NO_ET52:
		return records - et52;
	case TPC_EFACT_COUNTS_CIN:
		return is96 ? 8 : 6;
	default:
		return records;
	}
}

/* Account B unused: zeros, or spaces as real files write them (TPC_EFACT_STYLE_FILLERS). */
static void account_b(const tpc_efact_sending_in_t *in, char *r)
{
	if (in->style & TPC_EFACT_STYLE_FILLERS) {
		memset(r + 218, ' ', 11);
		memset(r + 270, ' ', 34);
	}
}

int tpc_efact_write(const tpc_efact_sending_in_t *in, uint8_t **out, size_t *len)
{
	struct w w = {0};
	char head[TPC_EFACT_HEADER], *r;
	uint64_t all_codes = 0;
	int64_t all_a = 0, all_b = 0;
	uint32_t all_records = 2, all_et52 = 0;
	struct {
		char mut[4];
		int64_t a, b;
		uint64_t codes;
		uint32_t records, et52;
	} muts[64];
	int nmuts = 0;

	/* segments 200 and 300 */
	memset(head, '0', sizeof(head));
	memcpy(head, "920000", 6);
	memcpy(head + 8, "02", 2);
	memcpy(head + 12, "12", 2);
	digits(&w, head + 20, 14, in->reference);
	tpc_check_put_uint(head + 67, 6, in->year_month);
	tpc_check_put_uint(head + 67 + 8, 3, in->sending_no);
	tpc_check_put_uint(head + 67 + 13, 8, in->created);
	txt(&w, head + 67 + 23, 13, "TPCLEAR");
	memcpy(head + 67 + 38, "0001999", 7);
	txt(&w, head + 67 + 47, 45, in->contact[0] ? in->contact : "CONTACT");
	txt(&w, head + 67 + 94, 24, "");
	memcpy(head + 67 + 132, "03", 2);
	memcpy(head + 67 + 136, "01", 2);

	/* ET10 */
	if (!(r = rec_new(&w, "10")))
		goto out_fail;
	memcpy(r + 9, "0001999", 7);
	tpc_check_put_uint(r + 32, 3, in->sending_no);
	memcpy(r + 52, "040", 3);
	digits(&w, r + 55, 12, in->third_party);
	digits(&w, r + 84, 3, in->profession[0] ? in->profession : "001");
	tpc_check_put_uint(r + 107, 5, in->year_month / 100);
	tpc_check_put_uint(r + 112, 2, in->year_month % 100);
	tpc_check_put_uint(r + 119, 8, in->created);
	digits(&w, r + 127, 10, in->bce);
	txt(&w, r + 137, 25, "TPCLEAR SAMPLE");
	txt(&w, r + 166, 11, in->bic);
	txt(&w, r + 178, 34, in->iban);
	account_b(in, r);
	seal(&w, r);

	for (size_t i = 0; i < in->ninvoices; i++) {
		const tpc_efact_invoice_in_t *inv = &in->invoices[i];
		int64_t a = 0, b = 0, pat = 0, sup = 0;
		struct block_sums bs = {0, 2, 0}; /* ET20 and ET80 */
		char hour[6];
		int m;

		snprintf(hour, sizeof(hour), "0%04u", inv->discharge_hour % 10000u);
		if (inv->discharge_hour > 2359 || inv->discharge_hour % 100 > 59)
			w.bad = TPC_ADAPTER_EINVAL;

		if (!(r = rec_new(&w, "20")))
			goto out_fail;
		tpc_check_put_uint(r + 16, 8, inv->admission);
		tpc_check_put_uint(r + 24, 8, inv->discharge);
		digits(&w, r + 32, 3, inv->mutuality); /* affiliation = destination here */
		digits(&w, r + 35, 13, inv->niss);
		r[48] = inv->sex ? inv->sex : '1';
		r[49] = inv->kind ? inv->kind : '3';
		r[50] = inv->invoicing ? inv->invoicing : '0';
		memcpy(r + 52, inv->kind == '1' ? "210" : "990", 3);
		digits(&w, r + 55, 12, in->third_party);
		digits(&w, r + 84, 3, inv->mutuality);
		memcpy(r + 107, hour, 5);
		digits(&w, r + 114, 12, inv->number);
		tpc_check_put_uint(r + 131, 3, inv->ct1);
		tpc_check_put_uint(r + 134, 3, inv->ct2);
		txt(&w, r + 137, 25, "");
		digits(&w, r + 162, 12, inv->previous);
		r[174] = '1';
		if (in->style & TPC_EFACT_STYLE_FILLERS)
			memset(r + 270, ' ', 22); /* reference for account B */
		seal(&w, r);
		if ((in->style & TPC_EFACT_STYLE_ET21) && write_et21(&w, in, inv, &bs))
			goto out_fail;
		for (size_t k = 0; k < inv->nlines; k++) {
			const tpc_efact_line_in_t *l = &inv->lines[k];

			if (write_line(&w, in, inv, l, &bs))
				goto out_fail;
			if (l->account)
				b += l->insurer_cents;
			else
				a += l->insurer_cents;
			pat += l->patient_cents;
			sup += l->supplement_cents;
		}
		if (!(r = rec_new(&w, "80")))
			goto out_fail;
		tpc_check_put_uint(r + 16, 8, inv->admission);
		tpc_check_put_uint(r + 24, 8, inv->discharge);
		digits(&w, r + 32, 3, inv->mutuality);
		digits(&w, r + 35, 13, inv->niss);
		r[48] = inv->sex ? inv->sex : '1';
		r[49] = inv->kind ? inv->kind : '3';
		digits(&w, r + 55, 12, in->third_party);
		tpc_check_put_signed(r + 67, 12, b);
		digits(&w, r + 84, 3, inv->mutuality);
		tpc_check_put_signed(r + 87, 12, a);
		tpc_check_put_uint(r + 99, 8, in->created);
		memcpy(r + 107, hour, 5);
		digits(&w, r + 114, 12, inv->number);
		tpc_check_put_signed(r + 127, 10, pat);
		txt(&w, r + 137, 25, "");
		tpc_check_put_signed(r + 164, 10, sup);
		r[174] = '1';
		tpc_check_put_signed(r + 182, 12, 0);
		tpc_check_put_uint(r + 346, 2, tpc_check_control97(bs.codes));
		seal(&w, r);
		for (m = 0; m < nmuts; m++)
			if (strcmp(muts[m].mut, inv->mutuality) == 0)
				break;
		if (m == nmuts) {
			if (nmuts == 64) {
				w.bad = TPC_ADAPTER_EINVAL;
				goto out_fail;
			}
			memset(&muts[m], 0, sizeof(muts[m]));
			snprintf(muts[m].mut, sizeof(muts[m].mut), "%s", inv->mutuality);
			nmuts++;
		}
		muts[m].a += a;
		muts[m].b += b;
		muts[m].codes += bs.codes;
		muts[m].records += bs.records;
		muts[m].et52 += bs.et52;
		all_a += a;
		all_b += b;
		all_codes += bs.codes;
		all_records += bs.records;
		all_et52 += bs.et52;
	}

	/* ET90 */
	if (!(r = rec_new(&w, "90")))
		goto out_fail;
	tpc_check_put_uint(r + 32, 3, in->sending_no);
	digits(&w, r + 55, 12, in->third_party);
	tpc_check_put_signed(r + 67, 12, all_b);
	tpc_check_put_signed(r + 87, 12, all_a);
	tpc_check_put_uint(r + 107, 5, in->year_month / 100);
	tpc_check_put_uint(r + 112, 2, in->year_month % 100);
	digits(&w, r + 127, 10, in->bce);
	txt(&w, r + 137, 25, "");
	txt(&w, r + 166, 11, in->bic);
	txt(&w, r + 178, 34, in->iban);
	account_b(in, r);
	tpc_check_put_uint(r + 346, 2, tpc_check_control97(all_codes));
	seal(&w, r);

	/* 95 per mutuality (ascending), then 96 */
	for (int pass = 0; pass < nmuts; pass++) {
		int best = -1;
		for (int m = 0; m < nmuts; m++)
			if (muts[m].records != UINT32_MAX &&
			    (best < 0 || strcmp(muts[m].mut, muts[best].mut) < 0))
				best = m;
		if (!(r = rec_new(&w, "95")))
			goto out_fail;
		memcpy(r + 4, muts[best].mut, 3);
		memcpy(r + 9, head + 20 + 2, 12); /* last 12 digits of the reference */
		tpc_check_put_signed(r + 23, 12, muts[best].a);
		tpc_check_put_signed(r + 37, 12, muts[best].b);
		tpc_check_put_signed(r + 51, 12, muts[best].a + muts[best].b);
		tpc_check_put_uint(r + 65, 8,
		                   count_of(in->counts, 0, muts[best].records, muts[best].et52));
		tpc_check_put_uint(r + 75, 2, tpc_check_control97(muts[best].codes));
		tpc_check_put_signed(r + 79, 12, 0);
		memset(r + (in->style & TPC_EFACT_STYLE_FILLERS ? 79 : 93), ' ',
		       R - (in->style & TPC_EFACT_STYLE_FILLERS ? 79 : 93));
		muts[best].records = UINT32_MAX; /* written */
	}
	if (!(r = rec_new(&w, "96")))
		goto out_fail;
	r[4] = nmuts ? muts[0].mut[0] : '6';
	memcpy(r + 5, "99", 2);
	tpc_check_put_signed(r + 23, 12, all_a);
	tpc_check_put_signed(r + 37, 12, all_b);
	tpc_check_put_signed(r + 51, 12, all_a + all_b);
	tpc_check_put_uint(r + 65, 8, count_of(in->counts, 1, all_records, all_et52));
	tpc_check_put_uint(r + 75, 2, tpc_check_control97(all_codes));
	tpc_check_put_signed(r + 79, 12, 0);
	memset(r + (in->style & TPC_EFACT_STYLE_FILLERS ? 79 : 93), ' ',
	       R - (in->style & TPC_EFACT_STYLE_FILLERS ? 79 : 93));
	if (w.bad)
		goto out_fail;

	*out = malloc(TPC_EFACT_HEADER + w.len);
	if (!*out) {
		w.bad = TPC_ADAPTER_ENOMEM;
		goto out_fail;
	}
	memcpy(*out, head, TPC_EFACT_HEADER);
	memcpy(*out + TPC_EFACT_HEADER, w.buf, w.len);
	*len = TPC_EFACT_HEADER + w.len;
	free(w.buf);
	return 0;

out_fail:
	free(w.buf);
	return w.bad ? w.bad : TPC_ADAPTER_ENOMEM;
}

void tpc_efact_sending_head(tpc_efact_sending_in_t *s, const char *reference, uint32_t sending_no,
                            int with)
{
	/* every sample and test sending comes from the same third party and month: the refdata
	 * in config/ knows this provider, and the tests' dates fall in November 2026 */
	memset(s, 0, sizeof(*s));
	snprintf(s->reference, sizeof(s->reference), "%s", reference);
	snprintf(s->third_party, sizeof(s->third_party), "18334780004");
	s->sending_no = sending_no;
	s->year_month = 202611;
	s->created = 20261120;
	if (with & TPC_EFACT_HEAD_BCE)
		snprintf(s->bce, sizeof(s->bce), "0999999922");
	if (with & TPC_EFACT_HEAD_BANK) {
		snprintf(s->iban, sizeof(s->iban), "BE10001232152604");
		snprintf(s->bic, sizeof(s->bic), "GEBABEBB");
	}
}

void tpc_efact_invoice(tpc_efact_invoice_in_t *v, const char *niss, const char *number,
                       const char *mut, const tpc_efact_line_in_t *lines, size_t n)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->niss, sizeof(v->niss), "%s", niss);
	snprintf(v->number, sizeof(v->number), "%s", number);
	snprintf(v->mutuality, sizeof(v->mutuality), "%s", mut);
	v->kind = '3';
	v->invoicing = '0';
	v->sex = '1';
	v->ct1 = v->ct2 = 110;
	v->lines = lines;
	v->nlines = n;
}

uint8_t *tpc_efact_sample(unsigned seed, unsigned patients, int ninv, int nlines, size_t *len)
{
	/* consistent with config/refdata: see canonical_gen.h */
	static const char *codes[] = {"101032", "102771"};
	static const int64_t fee[] = {3000, 2710}, ins[] = {2400, 1960}, bim[] = {2900, 2560};
	tpc_efact_sending_in_t s;
	char ref[15];
	tpc_efact_invoice_in_t *inv = calloc((size_t)ninv, sizeof(*inv));
	tpc_efact_line_in_t *ln = calloc((size_t)(ninv * nlines) + 1, sizeof(*ln));
	uint8_t *out = NULL;

	if (!inv || !ln)
		goto out_free;
	snprintf(ref, sizeof(ref), "2026116%07u", seed % 10000000u);
	tpc_efact_sending_head(&s, ref, 1 + seed % 999, TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	s.invoices = inv;
	s.ninvoices = (size_t)ninv;
	for (int i = 0; i < ninv; i++) {
		char number[13];
		int is_bim;

		snprintf(number, sizeof(number), "%08u%04u", seed % 100000000u,
		         (unsigned)i % 10000u);
		tpc_efact_invoice(&inv[i], "", number, "600", ln + i * nlines, (size_t)nlines);
		tpc_sample_patient(seed, patients, i, inv[i].niss, &is_bim);
		/* a BIM patient's insurability code: the tariff's preferential rate applies */
		inv[i].ct1 = is_bim ? 111 : 110;
		inv[i].ct2 = inv[i].ct1;
		for (int k = 0; k < nlines; k++) {
			tpc_efact_line_in_t *l = &ln[i * nlines + k];
			int c = (int)((seed + (unsigned)k) % 2);

			snprintf(l->code, sizeof(l->code), "%s", codes[c]);
			l->date = 20261101 + (uint32_t)(k % 20);
			l->units = 1 + k % 3;
			l->insurer_cents = l->units * (is_bim ? bim[c] : ins[c]);
			l->patient_cents = l->units * fee[c] - l->insurer_cents;
			snprintf(l->performer, sizeof(l->performer), "17385467004");
			snprintf(l->reference, sizeof(l->reference), "%u-%d-%d", seed, i, k);
		}
	}
	if (tpc_efact_write(&s, &out, len) != 0)
		out = NULL;
out_free:
	free(inv);
	free(ln);
	return out;
}

tpc_efact_line_in_t tpc_efact_line(const char *code, uint32_t date, int64_t ins, int64_t pat,
                                   const char *ref)
{
	tpc_efact_line_in_t l;

	memset(&l, 0, sizeof(l));
	snprintf(l.code, sizeof(l.code), "%s", code);
	l.date = date;
	l.units = 1;
	l.insurer_cents = ins;
	l.patient_cents = pat;
	snprintf(l.performer, sizeof(l.performer), "17385467004");
	snprintf(l.reference, sizeof(l.reference), "%s", ref);
	return l;
}

uint8_t *tpc_efact_faults_sample(const char *reference, size_t *len)
{
	tpc_efact_line_in_t l1[5], l2[2];
	tpc_efact_invoice_in_t inv[2];
	tpc_efact_sending_in_t s;
	char number[13];
	uint8_t *out;
	char *rec;

	l1[0] = tpc_efact_line("101032", 20261102, 2400, 600, "A1");
	l1[1] = tpc_efact_line("101032", 20261103, 2400, 600, "A2"); /* NISS broken below */
	l1[2] = tpc_efact_line("109594", 20261103, 1000, 100, "A3"); /* no tariff */
	l1[3] = tpc_efact_line("101032", 20261104, 2500, 600, "A4"); /* insurer part is 2400 */
	l1[4] = tpc_efact_line("101032", 20261102, 2400, 600, "A1"); /* same as the first */
	l2[0] = tpc_efact_line("102771", 20261116, 1960, 750, "B1");
	l2[1] = tpc_efact_line("102771", 20261105, 1960, 750, "B2"); /* between two periods */
	/* invoice numbers follow the reference, as a provider's software numbers them */
	snprintf(number, sizeof(number), "%.10s01", reference + 4);
	tpc_efact_invoice(&inv[0], "86103130262", number, "600", l1, 5);
	snprintf(number, sizeof(number), "%.10s02", reference + 4);
	tpc_efact_invoice(&inv[1], "75031412581", number, "600", l2, 2);
	tpc_efact_sending_head(&s, reference, 1, TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	s.invoices = inv;
	s.ninvoices = 2;
	if (tpc_efact_write(&s, &out, len) != 0)
		return NULL;
	/* record 4 is the second line: break its beneficiary's check digit, keep its control */
	rec = (char *)out + TPC_EFACT_HEADER + 3 * TPC_EFACT_RECORD;
	rec[47] = rec[47] == '9' ? '0' : (char)(rec[47] + 1);
	tpc_efact_reseal(rec);
	return out;
}

uint8_t *tpc_efact_hospital_sample(const char *reference, int counts, size_t *len)
{
	tpc_efact_line_in_t l1[2], l2[1];
	tpc_efact_invoice_in_t inv[2];
	tpc_efact_sending_in_t s;
	char number[13];
	uint8_t *out;

	/* a stay of 2 to 6 November, left at 14:30: a consultation read on the eID, a second one
	 * with a payment commitment; then an ambulatory visit after the second patient's cover
	 * began (config/refdata/members.csv) */
	l1[0] = tpc_efact_line("101032", 20261103, 2400, 600, "H1");
	l1[0].eid_flag = '1';
	l1[1] = tpc_efact_line("102771", 20261104, 1960, 750, "H2");
	snprintf(l1[1].commitment, sizeof(l1[1].commitment), "NET-COMMIT-0002");
	l1[1].lump_share = 100;
	l1[1].gps_flag = '1';
	l2[0] = tpc_efact_line("101032", 20261116, 2400, 600, "H3");
	l1[0].et52 = l1[1].et52 = l2[0].et52 = 1;
	snprintf(number, sizeof(number), "%.10s21", reference + 4);
	tpc_efact_invoice(&inv[0], "86103130262", number, "300", l1, 2);
	inv[0].kind = '1';
	inv[0].admission = 20261102;
	inv[0].discharge = 20261106;
	inv[0].discharge_hour = 1430;
	snprintf(number, sizeof(number), "%.10s22", reference + 4);
	tpc_efact_invoice(&inv[1], "75031412581", number, "600", l2, 1);
	tpc_efact_sending_head(&s, reference, 2, TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	s.style = TPC_EFACT_STYLE_ET21 | TPC_EFACT_STYLE_FILLERS;
	s.counts = counts;
	s.invoices = inv;
	s.ninvoices = 2;
	if (tpc_efact_write(&s, &out, len) != 0)
		return NULL;
	return out;
}

/* A line of the schemes sample: lines of one invoice follow each other under its ordinal. */
struct scheme_row {
	int inv; /* invoice ordinal */
	const char *niss;
	char kind; /* '1' hospitalised, '3' ambulatory */
	uint32_t admission, discharge;
	const char *code;
	uint32_t date;
	int64_t insurer_cents, patient_cents;
	const char *ref;
	int refusal; /* written only when the sample wants refusals */
};

static const struct scheme_row scheme_rows[] = {
    /* detained, released (AMI), detained again: each line on its own date */
    {0, "80010100107", '3', 0, 0, "101032", 20261103, 2400, 600, "D1", 0},
    {0, "80010100107", '3', 0, 0, "101032", 20261106, 2400, 600, "D2", 0},
    {0, "80010100107", '3', 0, 0, "101032", 20261112, 2400, 600, "D3", 0},
    /* Fedasil: BIM rate, share paid; a code Fedasil never pays */
    {1, "90020200296", '3', 0, 0, "101032", 20261105, 2900, 100, "F1", 0},
    {1, "90020200296", '3', 0, 0, "475075", 20261105, 11500, 500, "F2", 1},
    /* Mediprima in hospital: the decision ends on 11-15, mid-stay */
    {2, "85030300364", '1', 20261110, 20261120, "101032", 20261114, 2900, 100, "M1", 0},
    {2, "85030300364", '1', 20261110, 20261120, "101032", 20261116, 2900, 100, "M2", 1},
    /* Mediprima ambulatory: another decision, the share left to the patient */
    {3, "85030300364", '3', 0, 0, "102771", 20261116, 2560, 150, "M3", 0},
    {4, "40040400465", '3', 0, 0, "101032", 20261107, 2400, 600, "W1", 0},
    /* OSSOM BC: doubled (2 x 2000 < 5000), doubled and capped at the fee (3000) */
    {5, "60050500573", '3', 0, 0, "471100", 20261108, 4000, 1000, "O1", 0},
    {5, "60050500573", '3', 0, 0, "101032", 20261108, 3000, 0, "O2", 0},
    {6, "65060600657", '3', 0, 0, "101032", 20261108, 2400, 600, "O3", 0},
    {7, "86103130262", '3', 0, 0, "101032", 20261109, 2400, 600, "A1", 0},
    /* an unknown person */
    {8, "70070700741", '3', 0, 0, "101032", 20261109, 2400, 600, "N1", 1},
};

#define SCHEME_ROWS (sizeof(scheme_rows) / sizeof(scheme_rows[0]))

uint8_t *tpc_efact_schemes_sample(const char *reference, int refusals, size_t *len)
{
	tpc_efact_line_in_t l[SCHEME_ROWS];
	tpc_efact_invoice_in_t inv[SCHEME_ROWS];
	tpc_efact_sending_in_t s;
	size_t n = 0, nl = 0;
	int cur = -1;
	uint8_t *out = NULL;

	for (size_t r = 0; r < SCHEME_ROWS; r++) {
		const struct scheme_row *w = &scheme_rows[r];

		if (w->refusal && !refusals)
			continue;
		if (w->inv != cur) {
			char number[13];

			/* invoice numbers follow the reference, from 10 on */
			snprintf(number, sizeof(number), "%.10s%02zu", reference + 4, 10 + n);
			tpc_efact_invoice(&inv[n], w->niss, number, "600", &l[nl], 0);
			/* the hospital stays: the schemes judge a day against the stay's dates */
			inv[n].kind = w->kind;
			inv[n].admission = w->admission;
			inv[n].discharge = w->discharge;
			n++;
			cur = w->inv;
		}
		l[nl++] =
		    tpc_efact_line(w->code, w->date, w->insurer_cents, w->patient_cents, w->ref);
		inv[n - 1].nlines++;
	}
	tpc_efact_sending_head(&s, reference, 7, TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	s.invoices = inv;
	s.ninvoices = n;
	if (tpc_efact_write(&s, &out, len) != 0)
		return NULL;
	return out;
}
