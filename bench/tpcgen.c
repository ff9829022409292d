/* bench/tpcgen.c - the deterministic sending generator.
 *
 *   tpcgen efact|canonical --seed N --invoices N [--min-lines A --max-lines B] [--faults PCT]
 *          [--provider NIHII] [--year-month YYYYMM] [--shape mixed|hospital|gp|pharmacist]
 *          [--refdata] --out FILE
 *
 * writes one sending: an eFact 920000 file (adapters/efact/efact_writer.c computes sequence
 * numbers, controls, totals and records 95/96) or the same sending as a packed
 * tpclear.CanonicalSending. Every identifier is valid (NISS, NIHII, code check digits, BCE,
 * IBAN) and amounts are in cents. Invoices take one of three shapes: a GP visit (ambulatory, a
 * few consultation lines), a hospital stay (admission and discharge, many lines, some on
 * account B) or a pharmacist's delivery (ambulatory, product pseudo-codes with units).
 *
 * --refdata keeps to what config/refdata/ knows (its members, codes 101032 and 102771 with their
 * 2026 tariffs, provider 18334780004 or 17385467004), so the sending clears fully once that
 * reference data is loaded. --faults PCT corrupts about PCT % of the lines, one fault per line,
 * and names each on stderr (record ordinal, the code the decoder will emit).
 *
 * DESIGN: the output depends on the arguments only. The random source is splitmix64 (Steele,
 * Lea and Flood 2014: a 64-bit counter stepped by the golden-ratio constant, then two
 * xor-shift-multiply rounds), written out below, so every machine produces the same bytes.
 */
#include "common/check.h"
#include "efact/efact.h"
#include "efact/efact_writer.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the random source ------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (the tiny modulo bias does not matter here). */
static uint32_t between(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd() % ((uint64_t)hi - lo + 1));
}

/* ---- options ------------------------------------------------------------------------------ */

enum shape { SHAPE_MIXED, SHAPE_HOSPITAL, SHAPE_GP, SHAPE_PHARMACIST };

struct opts {
	int canonical;
	uint64_t seed;
	uint32_t invoices, min_lines, max_lines, faults, year_month;
	enum shape shape;
	int refdata;
	char provider[12];
	const char *out;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tpcgen efact|canonical --seed N --invoices N [--min-lines A] "
	           "[--max-lines B]\n"
	           "              [--faults PCT] [--provider NIHII] [--year-month YYYYMM]\n"
	           "              [--shape mixed|hospital|gp|pharmacist] [--refdata] --out FILE\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int have_seed = 0, have_inv = 0;

	memset(o, 0, sizeof(*o));
	o->min_lines = 1;
	o->max_lines = 200;
	o->year_month = 202611;
	snprintf(o->provider, sizeof(o->provider), "18334780004");
	if (argc < 2)
		return -1;
	if (strcmp(argv[1], "efact") == 0)
		o->canonical = 0;
	else if (strcmp(argv[1], "canonical") == 0)
		o->canonical = 1;
	else
		return -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint32_t u = 0;

		if (strcmp(a, "--refdata") == 0) {
			o->refdata = 1;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (strcmp(a, "--out") == 0) {
			o->out = v;
		} else if (strcmp(a, "--provider") == 0) {
			if (strlen(v) != 11 || !tpc_check_nihii(v, 11)) {
				fprintf(stderr, "tpcgen: provider '%s' is not a valid NIHII\n", v);
				return -1;
			}
			snprintf(o->provider, sizeof(o->provider), "%s", v);
		} else if (strcmp(a, "--shape") == 0) {
			if (strcmp(v, "mixed") == 0)
				o->shape = SHAPE_MIXED;
			else if (strcmp(v, "hospital") == 0)
				o->shape = SHAPE_HOSPITAL;
			else if (strcmp(v, "gp") == 0)
				o->shape = SHAPE_GP;
			else if (strcmp(v, "pharmacist") == 0)
				o->shape = SHAPE_PHARMACIST;
			else
				return -1;
		} else if (parse_u32(v, &u) != 0) {
			fprintf(stderr, "tpcgen: '%s' needs a number, not '%s'\n", a, v);
			return -1;
		} else if (strcmp(a, "--seed") == 0) {
			o->seed = u;
			have_seed = 1;
		} else if (strcmp(a, "--invoices") == 0) {
			o->invoices = u;
			have_inv = 1;
		} else if (strcmp(a, "--min-lines") == 0) {
			o->min_lines = u;
		} else if (strcmp(a, "--max-lines") == 0) {
			o->max_lines = u;
		} else if (strcmp(a, "--faults") == 0) {
			o->faults = u;
		} else if (strcmp(a, "--year-month") == 0) {
			o->year_month = u;
		} else {
			return -1;
		}
	}
	if (!have_seed || !have_inv || !o->out || o->invoices == 0 || o->min_lines == 0 ||
	    o->max_lines < o->min_lines || o->faults > 100 || o->year_month % 100 < 1 ||
	    o->year_month % 100 > 12 || o->year_month / 100 < 2000 || o->year_month / 100 > 2999) {
		fprintf(stderr, "tpcgen: missing or out-of-range option\n");
		return -1;
	}
	return 0;
}

/* ---- identifiers and amounts -------------------------------------------------------------- */

/* A valid NIHII: 6-digit base, 2 check digits, 3-digit qualification. */
static void make_nihii(char out[12], uint32_t base, uint32_t qualification)
{
	tpc_check_put_uint(out, 6, base);
	tpc_check_put_uint(out + 6, 2, 97 - base % 97);
	tpc_check_put_uint(out + 8, 3, qualification);
	out[11] = 0;
}

/* A valid nomenclature code from a 5-digit base. */
static void make_code(char out[7], uint32_t base)
{
	tpc_check_put_uint(out, 5, base);
	out[5] = (char)('0' + base % 7);
	out[6] = 0;
}

/* Official fee of a code in cents: a fixed function of the code, so a code keeps its fee. */
static int64_t fee_of(const char *code)
{
	uint64_t h = 1469598103934665603ull;

	for (int i = 0; i < 6; i++)
		h = (h ^ (uint8_t)code[i]) * 1099511628211ull;
	return 800 + (int64_t)(h % 9200); /* 8.00 .. 99.99 EUR */
}

/* The members of config/refdata/members.csv valid in 2026 and their CT1 (111/121: BIM). */
static const struct {
	const char *niss;
	uint16_t ct;
	char sex;
	const char *mutuality;
} ref_members[] = {
    {"86103130262", 110, '1', "100"},
    {"05031412595", 111, '1', "300"},
    {"90011523152", 121, '1', "500"},
};

/* Codes of config/refdata/tariffs.csv without maximum or agreement, and their 2026 tariffs. */
static const struct {
	const char *code;
	int64_t fee, insurer, insurer_bim;
} ref_codes[] = {
    {"101032", 3000, 2400, 2900},
    {"102771", 2710, 1960, 2560},
};

static const char *mutualities[] = {"100", "200", "300", "400", "500", "600", "900"};

/* ---- the sending -------------------------------------------------------------------------- */

struct gen {
	struct opts o;
	tpc_efact_sending_in_t s;
	tpc_efact_invoice_in_t *inv;
	tpc_efact_line_in_t **lines; /* per invoice */
	uint32_t *ord;               /* per line (flat): record ordinal of its ET50 */
	int *post_fault;             /* per line (flat): fault patched after writing, or -1 */
	size_t nlines_total;
};

static int cmp_mutuality(const void *a, const void *b)
{
	const tpc_efact_invoice_in_t *x = a, *y = b;
	int c = strcmp(x->mutuality, y->mutuality);

	/* keep generation order within a mutuality: number is increasing with it */
	return c ? c : strcmp(x->number, y->number);
}

static enum shape pick_shape(const struct opts *o)
{
	uint32_t r;

	if (o->shape != SHAPE_MIXED)
		return o->shape;
	r = between(0, 9);
	return r < 5 ? SHAPE_GP : r < 8 ? SHAPE_PHARMACIST : SHAPE_HOSPITAL;
}

static uint32_t line_count(const struct opts *o, enum shape sh)
{
	uint32_t n = between(o->min_lines, o->max_lines), cap;

	/* a GP visit has a few lines, a delivery a dozen at most; a stay takes the full range */
	cap = sh == SHAPE_GP ? 4 : sh == SHAPE_PHARMACIST ? 12 : o->max_lines;
	if (cap < o->min_lines)
		cap = o->min_lines;
	return n < cap ? n : cap;
}

static int build(struct gen *g)
{
	const struct opts *o = &g->o;
	uint32_t ym = o->year_month, doctors[4];

	g->inv = calloc(o->invoices, sizeof(*g->inv));
	g->lines = calloc(o->invoices, sizeof(*g->lines));
	if (!g->inv || !g->lines)
		return -1;
	for (int k = 0; k < 4; k++)
		doctors[k] = between(100000, 199999);
	snprintf(g->s.reference, sizeof(g->s.reference), "%06u%08u", ym,
	         (unsigned)(o->seed % 100000000u));
	snprintf(g->s.third_party, sizeof(g->s.third_party), "%s", o->provider);
	g->s.sending_no = 1 + (uint32_t)(o->seed % 999);
	g->s.year_month = ym;
	g->s.created = ym * 100 + 20;
	snprintf(g->s.bce, sizeof(g->s.bce), "0999999922");
	snprintf(g->s.iban, sizeof(g->s.iban), "BE10001232152604");
	snprintf(g->s.bic, sizeof(g->s.bic), "GEBABEBB");
	snprintf(g->s.contact, sizeof(g->s.contact), "TPCGEN");
	for (uint32_t i = 0; i < o->invoices; i++) {
		tpc_efact_invoice_in_t *inv = &g->inv[i];
		enum shape sh = o->refdata ? SHAPE_GP : pick_shape(o);
		uint32_t n = line_count(o, o->refdata ? SHAPE_HOSPITAL : sh), m = 0;
		int bim;
		tpc_efact_line_in_t *l;

		if (o->refdata) {
			m = between(0, sizeof(ref_members) / sizeof(ref_members[0]) - 1);
			snprintf(inv->niss, sizeof(inv->niss), "%s", ref_members[m].niss);
			snprintf(inv->mutuality, sizeof(inv->mutuality), "%s",
			         ref_members[m].mutuality);
			inv->sex = ref_members[m].sex;
			inv->ct1 = inv->ct2 = ref_members[m].ct;
		} else {
			tpc_check_make_niss(between(0, 999999), inv->niss);
			snprintf(inv->mutuality, sizeof(inv->mutuality), "%s",
			         mutualities[between(0, 6)]);
			inv->sex = (inv->niss[8] - '0') % 2 ? '1' : '2'; /* serial parity */
			inv->ct1 = inv->ct2 = between(0, 4) ? 110 : 111;
		}
		bim = inv->ct1 % 10 == 1;
		snprintf(inv->number, sizeof(inv->number), "%04u%08u", (unsigned)(o->seed % 10000u),
		         (i + 1) % 100000000u);
		inv->invoicing = '0';
		inv->kind = sh == SHAPE_HOSPITAL ? '1' : '3';
		if (sh == SHAPE_HOSPITAL) {
			uint32_t d = between(1, 14);

			inv->admission = ym * 100 + d;
			inv->discharge = ym * 100 + d + between(0, 6);
		}
		l = calloc(n, sizeof(*l));
		if (!l)
			return -1;
		g->lines[i] = l;
		inv->lines = l;
		inv->nlines = n;
		for (uint32_t k = 0; k < n; k++, l++) {
			int64_t fee, ins;

			if (o->refdata) {
				uint32_t c = between(0, 1);

				snprintf(l->code, sizeof(l->code), "%s", ref_codes[c].code);
				fee = ref_codes[c].fee;
				ins = bim ? ref_codes[c].insurer_bim : ref_codes[c].insurer;
				l->units = 1;
			} else if (sh == SHAPE_GP) {
				/* consultations and visits: 101xx, 102xx, 103xx */
				make_code(l->code, 10100 + between(0, 299));
				fee = fee_of(l->code);
				ins = fee * (bim ? 90 : 75) / 100;
				l->units = 1;
			} else if (sh == SHAPE_PHARMACIST) {
				/* product pseudo-codes 75xxxx, delivered in units */
				make_code(l->code, 75000 + between(0, 999));
				fee = fee_of(l->code);
				ins = fee * (bim ? 100 : 80) / 100;
				l->units = (int32_t)between(1, 3);
			} else {
				/* hospital: daily lump sums 76xxxx, acts 2xxxxx-4xxxxx */
				make_code(l->code, between(0, 3) ? 20000 + between(0, 29999)
				                                 : 76800 + between(0, 99));
				fee = fee_of(l->code);
				ins = fee * (bim ? 95 : 85) / 100;
				l->units = (int32_t)between(1, 2);
			}
			l->insurer_cents = ins * l->units;
			l->patient_cents = (fee - ins) * l->units;
			l->date = sh == SHAPE_HOSPITAL && inv->admission
			              ? (uint32_t)between(inv->admission, inv->discharge)
			              : ym * 100 + between(1, 20);
			if (o->refdata)
				snprintf(l->performer, sizeof(l->performer), "17385467004");
			else if (sh == SHAPE_HOSPITAL)
				make_nihii(l->performer, doctors[between(0, 3)], 3 + between(0, 1));
			else
				snprintf(l->performer, sizeof(l->performer), "%s", o->provider);
			snprintf(l->reference, sizeof(l->reference), "G%llu-%u-%u",
			         (unsigned long long)o->seed, i + 1, k + 1);
			if (sh == SHAPE_HOSPITAL && !o->refdata) {
				l->account = between(0, 9) == 0;
				l->supplement_cents =
				    between(0, 4) ? 0 : (int64_t)between(100, 5000);
			}
			if (!o->refdata && between(0, 19) == 0)
				snprintf(l->commitment, sizeof(l->commitment), "ENG-%llu-%u-%u",
				         (unsigned long long)o->seed, i + 1, k + 1);
		}
		g->nlines_total += n;
	}
	/* invoices go in ascending destination mutuality (efact.md 4) */
	qsort(g->inv, o->invoices, sizeof(*g->inv), cmp_mutuality);
	g->s.invoices = g->inv;
	g->s.ninvoices = o->invoices;
	return 0;
}

/* ---- faults ------------------------------------------------------------------------------- */

enum fault {
	F_NISS,        /* ET50 beneficiary check digit (patched in the file): 500802 */
	F_AMOUNT_SIGN, /* ET50 insurer amount without its sign (patched in the file): 501905 */
	F_CODE,        /* code check digit: 500402 */
	F_PATIENT,     /* patient share with the opposite sign: 502712 */
	F_DATES,       /* last date before the first: 500612 */
	F_PERFORMER,   /* performer NIHII check digit: 501502 */
	F_UNITS_ZERO,  /* zero units: 502203 */
	F_UNITS_SIGN,  /* units with the opposite sign: 502212 */
	F_COUNT
};

static const char *fault_name[] = {
    "wrong NISS check digit on the line (500802)",
    "insurer amount without its sign (501905)",
    "wrong nomenclature code check digit (500402)",
    "patient share with the opposite sign (502712)",
    "last service date before the first (500612)",
    "wrong performer NIHII check digit (501502)",
    "zero units (502203)",
    "units with the opposite sign (502212)",
};

/* Corrupt about faults % of the lines in the description; faults that live only in the file's
 * bytes are remembered in post_fault and patched after writing. */
static int corrupt(struct gen *g)
{
	uint32_t ord = 1; /* ET10 */
	size_t flat = 0;

	g->ord = calloc(g->nlines_total + 1, sizeof(*g->ord));
	g->post_fault = calloc(g->nlines_total + 1, sizeof(*g->post_fault));
	if (!g->ord || !g->post_fault)
		return -1;
	for (size_t i = 0; i < g->s.ninvoices; i++) {
		tpc_efact_invoice_in_t *inv = &g->inv[i];
		tpc_efact_line_in_t *l = (tpc_efact_line_in_t *)inv->lines;

		ord++; /* ET20 */
		for (size_t k = 0; k < inv->nlines; k++, l++, flat++) {
			int f;

			g->ord[flat] = ++ord;
			g->post_fault[flat] = -1;
			if (l->commitment[0])
				ord++; /* ET51 */
			if (g->o.faults == 0 || between(1, 100) > g->o.faults)
				continue;
			/* the canonical format has no per-line NISS and no sign characters */
			f = (int)between(g->o.canonical ? F_CODE : 0, F_COUNT - 1);
			switch (f) {
			case F_NISS:
			case F_AMOUNT_SIGN:
				g->post_fault[flat] = f;
				break;
			case F_CODE:
				l->code[5] =
				    (char)('0' + (l->code[5] - '0' + 1 + between(0, 7)) % 10);
				if (tpc_check_nomenclature(l->code, 6))
					l->code[5] = (char)('0' + (l->code[5] - '0' + 1) % 10);
				break;
			case F_PATIENT:
				if (l->patient_cents == 0)
					l->patient_cents = 100;
				l->patient_cents = -l->patient_cents;
				break;
			case F_DATES:
				if (l->date % 100 < 2)
					l->date++;
				l->date_last = l->date - 1;
				break;
			case F_PERFORMER:
				l->performer[6] = (char)('0' + (l->performer[6] - '0' + 1) % 10);
				break;
			case F_UNITS_ZERO:
				l->units = 0;
				break;
			default:
				l->units = -l->units;
				break;
			}
			if (g->o.canonical)
				fprintf(stderr, "tpcgen: invoice %zu, line %zu: %s\n", i + 1, k + 1,
				        fault_name[f]);
			else
				fprintf(stderr, "tpcgen: record %u (invoice %zu, line %zu): %s\n",
				        g->ord[flat], i + 1, k + 1, fault_name[f]);
		}
		ord++; /* ET80 */
	}
	return 0;
}

static void patch(struct gen *g, uint8_t *buf)
{
	for (size_t i = 0; i < g->nlines_total; i++) {
		char *rec;

		if (g->post_fault[i] < 0)
			continue;
		rec = (char *)buf + TPC_EFACT_HEADER + (size_t)(g->ord[i] - 1) * TPC_EFACT_RECORD;
		if (g->post_fault[i] == F_NISS) /* the last check digit, zone 36-48 */
			rec[47] = (char)('0' + (rec[47] - '0' + 1) % 10);
		else
			rec[87] = '0'; /* the sign of zone 88-99 */
		tpc_efact_reseal(rec);
	}
}

/* ---- canonical ---------------------------------------------------------------------------- */

static uint8_t *pack_canonical(const struct gen *g, size_t *len)
{
	Tpclear__CanonicalSending cs = TPCLEAR__CANONICAL_SENDING__INIT;
	size_t ninv = g->s.ninvoices, nl = g->nlines_total;
	Tpclear__CanonicalInvoice *inv = calloc(ninv, sizeof(*inv));
	Tpclear__CanonicalInvoice **invp = calloc(ninv, sizeof(*invp));
	Tpclear__CanonicalLine *ln = calloc(nl + 1, sizeof(*ln));
	Tpclear__CanonicalLine **lnp = calloc(nl + 1, sizeof(*lnp));
	uint8_t *out = NULL;
	size_t flat = 0;

	if (!inv || !invp || !ln || !lnp)
		goto out_free;
	cs.reference = (char *)g->s.reference;
	cs.third_party = (char *)g->s.third_party;
	cs.created = (int32_t)g->s.created;
	cs.year_month = g->s.year_month;
	cs.n_invoices = ninv;
	cs.invoices = invp;
	for (size_t i = 0; i < ninv; i++) {
		const tpc_efact_invoice_in_t *in = &g->inv[i];

		tpclear__canonical_invoice__init(&inv[i]);
		invp[i] = &inv[i];
		inv[i].patient = (char *)in->niss;
		inv[i].provider = (char *)g->s.third_party;
		inv[i].number = (char *)in->number;
		inv[i].kind = in->kind == '1' ? 1 : 0;
		inv[i].invoicing = 0;
		inv[i].previous = "";
		inv[i].admission = (int32_t)in->admission;
		inv[i].discharge = (int32_t)in->discharge;
		inv[i].mutuality = (char *)in->mutuality;
		inv[i].n_lines = in->nlines;
		inv[i].lines = lnp + flat;
		for (size_t k = 0; k < in->nlines; k++, flat++) {
			const tpc_efact_line_in_t *l = &in->lines[k];
			Tpclear__CanonicalLine *c = &ln[flat];

			tpclear__canonical_line__init(c);
			lnp[flat] = c;
			c->code = (char *)l->code;
			c->date = (int32_t)l->date;
			c->date_last = (int32_t)l->date_last;
			c->units = l->units;
			c->insurer_cents = l->insurer_cents;
			c->patient_cents = l->patient_cents;
			c->performer = (char *)l->performer;
			c->reference = (char *)l->reference;
			c->commitment = (char *)l->commitment;
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
	return out;
}

/* ---- main --------------------------------------------------------------------------------- */

static void gen_free(struct gen *g)
{
	for (uint32_t i = 0; g->lines && i < g->o.invoices; i++)
		free(g->lines[i]);
	free(g->lines);
	free(g->inv);
	free(g->ord);
	free(g->post_fault);
}

int main(int argc, char **argv)
{
	struct gen g;
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 1;

	memset(&g, 0, sizeof(g));
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (parse_args(argc, argv, &g.o) != 0) {
		usage(stderr);
		return 2;
	}
	rng_state = g.o.seed;
	if (build(&g) != 0 || corrupt(&g) != 0) {
		fprintf(stderr, "tpcgen: out of memory\n");
		goto out_free;
	}
	if (g.o.canonical) {
		buf = pack_canonical(&g, &len);
		if (!buf) {
			fprintf(stderr, "tpcgen: out of memory\n");
			goto out_free;
		}
	} else {
		int w = tpc_efact_write(&g.s, &buf, &len);

		if (w != 0) {
			fprintf(stderr, "tpcgen: cannot write the sending (%d)\n", w);
			goto out_free;
		}
		patch(&g, buf);
	}
	f = fopen(g.o.out, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "tpcgen: cannot write '%s': %s\n", g.o.out, strerror(errno));
		goto out_free;
	}
	rc = 0;
out_free:
	free(buf);
	gen_free(&g);
	return rc;
}
