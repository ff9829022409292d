/* tests/support/gen/canonical_gen.c - deterministic canonical sendings (see canonical_gen.h). */
#include "gen/canonical_gen.h"

#include "common/check.h"
#include "tpclear.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tpc_sample_patient(unsigned seed, unsigned patients, int i, char niss[12], int *bim)
{
	static const char *fixed[] = {"86103130262", "05031412595"}; /* config/refdata */
	unsigned k;

	if (!patients) {
		*bim = (int)((seed + (unsigned)i) % 2);
		memcpy(niss, fixed[*bim], 12);
		return;
	}
	k = (seed * 2654435761u + (unsigned)i * 40503u) % patients;
	tpc_check_make_niss(k, niss);
	*bim = k % 5 == 0;
}

int tpc_canonical_frame_new(tpc_canonical_frame_t *f, size_t ninv, size_t nlines)
{
	/* one more of each: calloc(0) may answer NULL, which is not out of memory */
	memset(f, 0, sizeof(*f));
	tpclear__canonical_sending__init(&f->cs);
	f->inv = calloc(ninv + 1, sizeof(*f->inv));
	f->invp = calloc(ninv + 1, sizeof(*f->invp));
	f->ln = calloc(nlines + 1, sizeof(*f->ln));
	f->lnp = calloc(nlines + 1, sizeof(*f->lnp));
	if (!f->inv || !f->invp || !f->ln || !f->lnp) {
		tpc_canonical_frame_free(f);
		return -1;
	}
	for (size_t i = 0; i < ninv; i++) {
		tpclear__canonical_invoice__init(&f->inv[i]);
		f->invp[i] = &f->inv[i];
	}
	for (size_t k = 0; k < nlines; k++) {
		tpclear__canonical_line__init(&f->ln[k]);
		f->lnp[k] = &f->ln[k];
	}
	f->cs.n_invoices = ninv;
	f->cs.invoices = f->invp;
	return 0;
}

uint8_t *tpc_canonical_frame_pack(const tpc_canonical_frame_t *f, size_t *len)
{
	uint8_t *out;

	*len = tpclear__canonical_sending__get_packed_size(&f->cs);
	out = malloc(*len ? *len : 1);
	if (out)
		tpclear__canonical_sending__pack(&f->cs, out);
	return out;
}

void tpc_canonical_frame_free(tpc_canonical_frame_t *f)
{
	free(f->inv);
	free(f->invp);
	free(f->ln);
	free(f->lnp);
	f->inv = NULL;
	f->invp = NULL;
	f->ln = NULL;
	f->lnp = NULL;
}

uint8_t *tpc_canonical_sample(unsigned seed, unsigned patients, int ninv, int nlines, size_t *len)
{
	static const char *nihii[] = {"18334780004", "17385467004"};
	/* consistent with config/refdata: 86103130262 is an ordinary member, 05031412595 a BIM
	 * one; 101032 and 102771 have no maximum and need no agreement */
	static const char *codes[] = {"101032", "102771"};
	static const int64_t fee[] = {3000, 2710}, ins[] = {2400, 1960}, bim[] = {2900, 2560};
	tpc_canonical_frame_t f;
	char *numbers = calloc((size_t)ninv, 16);
	char *refs = calloc((size_t)(ninv * nlines), 24);
	char *patient_buf = calloc((size_t)ninv + 1, 12);
	char ref[32];
	uint8_t *out = NULL;

	if (tpc_canonical_frame_new(&f, (size_t)ninv, (size_t)(ninv * nlines)) != 0)
		goto out_strings;
	if (!numbers || !refs || !patient_buf)
		goto out_frame;
	snprintf(ref, sizeof(ref), "T%u", seed);
	f.cs.reference = ref;
	f.cs.third_party = (char *)nihii[0];
	f.cs.created = 20261120;
	f.cs.year_month = 202611;
	for (int i = 0; i < ninv; i++) {
		Tpclear__CanonicalInvoice *inv = &f.inv[i];
		int is_bim;

		tpc_sample_patient(seed, patients, i, patient_buf + 12 * i, &is_bim);
		inv->patient = patient_buf + 12 * i;
		inv->provider = (char *)nihii[0];
		snprintf(numbers + 16 * i, 16, "%u-%d", seed, i);
		inv->number = numbers + 16 * i;
		inv->mutuality = "600";
		inv->n_lines = (size_t)nlines;
		inv->lines = f.lnp + i * nlines;
		for (int k = 0; k < nlines; k++) {
			Tpclear__CanonicalLine *l = &f.ln[i * nlines + k];
			int c = (int)((seed + (unsigned)k) % 2);
			char *lref = refs + 24 * (i * nlines + k);

			l->code = (char *)codes[c];
			l->date = 20261101 + (k % 20);
			l->units = 1 + k % 3;
			l->insurer_cents = l->units * (is_bim ? bim[c] : ins[c]);
			l->patient_cents = l->units * fee[c] - l->insurer_cents;
			snprintf(lref, 24, "%u-%d-%d", seed, i, k);
			l->reference = lref;
			l->performer = (char *)nihii[1];
		}
	}
	out = tpc_canonical_frame_pack(&f, len);
out_frame:
	tpc_canonical_frame_free(&f);
out_strings:
	free(numbers);
	free(refs);
	free(patient_buf);
	return out;
}
