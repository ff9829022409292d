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

uint8_t *tpc_canonical_sample(unsigned seed, unsigned patients, int ninv, int nlines, size_t *len)
{
	static const char *nihii[] = {"18334780004", "17385467004"};
	/* consistent with config/refdata: 86103130262 is an ordinary member, 05031412595 a BIM
	 * one; 101032 and 102771 have no maximum and need no agreement */
	static const char *codes[] = {"101032", "102771"};
	static const int64_t fee[] = {3000, 2710}, ins[] = {2400, 1960}, bim[] = {2900, 2560};
	Tpclear__CanonicalSending cs = TPCLEAR__CANONICAL_SENDING__INIT;
	Tpclear__CanonicalInvoice *inv = calloc((size_t)ninv, sizeof(*inv));
	Tpclear__CanonicalInvoice **invp = calloc((size_t)ninv, sizeof(*invp));
	Tpclear__CanonicalLine *ln = calloc((size_t)(ninv * nlines), sizeof(*ln));
	Tpclear__CanonicalLine **lnp = calloc((size_t)(ninv * nlines), sizeof(*lnp));
	char *numbers = calloc((size_t)ninv, 16);
	char *refs = calloc((size_t)(ninv * nlines), 24);
	char *patient_buf = calloc((size_t)ninv + 1, 12);
	char ref[32];
	uint8_t *out;

	out = NULL;
	if (!inv || !invp || !ln || !lnp || !numbers || !refs || !patient_buf)
		goto out_free;
	snprintf(ref, sizeof(ref), "T%u", seed);
	cs.reference = ref;
	cs.third_party = (char *)nihii[0];
	cs.created = 20261120;
	cs.year_month = 202611;
	cs.n_invoices = (size_t)ninv;
	cs.invoices = invp;
	for (int i = 0; i < ninv; i++) {
		tpclear__canonical_invoice__init(&inv[i]);
		invp[i] = &inv[i];
		int is_bim;

		tpc_sample_patient(seed, patients, i, patient_buf + 12 * i, &is_bim);
		inv[i].patient = patient_buf + 12 * i;
		inv[i].provider = (char *)nihii[0];
		snprintf(numbers + 16 * i, 16, "%u-%d", seed, i);
		inv[i].number = numbers + 16 * i;
		inv[i].mutuality = "600";
		inv[i].n_lines = (size_t)nlines;
		inv[i].lines = lnp + i * nlines;
		for (int k = 0; k < nlines; k++) {
			Tpclear__CanonicalLine *l = &ln[i * nlines + k];
			tpclear__canonical_line__init(l);
			lnp[i * nlines + k] = l;
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
	*len = tpclear__canonical_sending__get_packed_size(&cs);
	out = malloc(*len ? *len : 1);
	if (out)
		tpclear__canonical_sending__pack(&cs, out);
out_free:
	free(inv);
	free(invp);
	free(ln);
	free(lnp);
	free(numbers);
	free(refs);
	free(patient_buf);
	return out;
}
