/* bench/tpcgen.c - the deterministic sending generator.
 *
 *   tpcgen efact|canonical --seed N --invoices N [--min-lines A --max-lines B] [--faults PCT]
 *          [--provider NIHII] [--year-month YYYYMM] [--shape mixed|hospital|gp|pharmacist]
 *          [--refdata] [--members M] --out FILE
 *   tpcgen refdata [--members M] [--hospitals H] [--gps G] [--pharmacists P] --out-dir DIR
 *   tpcgen pack efact|canonical|eattest --seed N --lines L [--first I] [--faults PCT] [--members M]
 *          [--hospitals H] [--gps G] [--pharmacists P] [--year-month YYYYMM] --out FILE
 *   tpcgen year [--scale F] [--seed N] --out-dir DIR
 *
 * The first form writes one sending: an eFact 920000 file (tests/support/gen/efact_gen.c
 * computes sequence numbers, controls, totals and records 95/96) or the same sending as a packed
 * tpclear.CanonicalSending. Every identifier is valid (NISS, NIHII, code check digits, BCE,
 * IBAN) and amounts are in cents. Invoices take one of three shapes: a GP visit (ambulatory, a
 * few consultation lines), a hospital stay (admission and discharge, many lines, some on
 * account B) or a pharmacist's delivery (ambulatory, product pseudo-codes with units).
 *
 * --refdata keeps to what config/refdata/ knows (its members, codes 101032 and 102771 with their
 * 2026 tariffs, provider 18334780004 or 17385467004), so the sending clears fully once that
 * reference data is loaded. --members M instead draws each patient from the M members that
 * `tpcgen refdata --members M` writes, so the sending clears against that generated reference
 * data. --faults PCT corrupts about PCT % of the lines, one fault per line, and names each on
 * stderr (record ordinal, the code the decoder will emit).
 *
 * `refdata` writes a consistent population (docs/benchmarks.md): M members (38 % BIM, as at
 * CAAMI in 2024, spread over CAAMI's regional offices in the proportions of its 2024 report),
 * H hospitals, G GPs and P pharmacists with valid bank accounts, and the tariff of every code
 * the generator can emit (fee and insurer parts as the generated lines compute them).
 *
 * `pack` writes many sendings into one file (bench/pack.h), at least L lines in all: each
 * sending comes from one provider of the population (half GPs, 30 % pharmacists, 20 %
 * hospitals), 20-110, 30-100 or 5-40 invoices, invoices of 1-4, 1-12 or 1-200 lines. Sending i
 * depends only on (seed, i), invoice numbers are unique per provider over the pack, and its
 * faults are counted, not named, and each refuses its line only (no fault that refuses a whole
 * invoice). It prints the pack's figures as key=value lines. `pack eattest` writes L
 * attestations instead (tpclear.Attestation, docs/formats/eattest.md): members at GPs, the
 * patient having paid the fee.
 *
 * `year` writes CAAMI's 2024 as its annual report gives it (the seed report), times F (default
 * 1, at most six decimals), exact to the cent after scaling: DIR/ami.pack (members' sendings
 * whose AMI insurer parts total EUR 237,564,220.29), DIR/mediprima.pack (2,295 sendings of
 * 148,473 invoices from hospitals and GPs, charged to SPP IS for EUR 94,977,403.10 under the
 * rules of docs/schemes.md), DIR/eattest.pack (attestations whose reimbursements to the insured
 * total EUR 5,196,745.99), DIR/refdata/ (the population of `refdata` for 166,978 members,
 * a `mediprima` feed of the CPAS decisions, the balancing tariffs) and DIR/year.txt (the
 * totals the ledger must show). Every line is valid and clears; one line per total, on a code
 * of its own, carries the cents left below one ordinary invoice.
 *
 * DESIGN: the output depends on the arguments only. The random source is splitmix64 (Steele,
 * Lea and Flood 2014: a 64-bit counter stepped by the golden-ratio constant, then two
 * xor-shift-multiply rounds), written out below, so every machine produces the same bytes. New
 * options draw from it only when given, so the bytes of the first form without them never
 * change (tests/data/efact/ holds files made by it).
 */
#include "common/check.h"
#include "efact/efact.h"
#include "gen/canonical_gen.h"
#include "gen/efact_gen.h"
#include "pack.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	uint32_t members; /* > 0: patients drawn from the generated members (tpcgen refdata) */
	int numbered;     /* pack: invoice numbers from number_base, unique over the pack */
	uint64_t number_base;
	int quiet;       /* count faults instead of naming them */
	int line_faults; /* only faults that refuse the line alone (see corrupt) */
	char provider[12];
	const char *out;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tpcgen efact|canonical --seed N --invoices N [--min-lines A] "
	        "[--max-lines B]\n"
	        "              [--faults PCT] [--provider NIHII] [--year-month YYYYMM]\n"
	        "              [--shape mixed|hospital|gp|pharmacist] [--refdata] [--members M]\n"
	        "              --out FILE\n"
	        "       tpcgen refdata [--members M] [--hospitals H] [--gps G] [--pharmacists P]\n"
	        "              --out-dir DIR\n"
	        "       tpcgen pack efact|canonical|eattest --seed N --lines L [--first I] "
	        "[--faults PCT]\n"
	        "              [--members M] [--hospitals H] [--gps G] [--pharmacists P]\n"
	        "              [--year-month YYYYMM] --out FILE\n"
	        "       tpcgen year [--scale F] [--seed N] --out-dir DIR\n");
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

/* The --shape named @p name into @p out. @return 0, or -1 for a name it does not know. */
static int shape_named(const char *name, enum shape *out)
{
	static const struct {
		const char *name;
		enum shape shape;
	} shapes[] = {{"mixed", SHAPE_MIXED},
	              {"hospital", SHAPE_HOSPITAL},
	              {"gp", SHAPE_GP},
	              {"pharmacist", SHAPE_PHARMACIST}};

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (strcmp(name, shapes[i].name) == 0) {
			*out = shapes[i].shape;
			return 0;
		}
	return -1;
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
			if (shape_named(v, &o->shape) != 0)
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
		} else if (strcmp(a, "--members") == 0 && u > 0) {
			o->members = u;
		} else {
			return -1;
		}
	}
	if (o->refdata && o->members) {
		fprintf(stderr, "tpcgen: --refdata and --members exclude each other\n");
		return -1;
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

/* ---- the generated population (tpcgen refdata, --members, pack) -------------------------- */

/* The output function of splitmix64 on its own: a fixed scramble of an index, so the traits of
 * a member depend on its number only, never on the order of generation. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* CAAMI's regional offices and their members on 31 December 2024 (annual report 2024, "Nombre
 * de membres par OR"). The report's 5,539 detainees belong to offices too: they are spread over
 * them in proportion. */
static const struct {
	const char *code;
	uint32_t members;
} offices[] = {
    {"601", 18469}, {"602", 35030}, {"603", 10935}, {"604", 17622}, {"605", 18655},
    {"606", 13955}, {"607", 5211},  {"608", 3214},  {"609", 8975},  {"610", 6025},
    {"612", 2256},  {"615", 12563}, {"620", 2594},  {"622", 3260},  {"675", 2675},
};
#define OFFICES_MEMBERS 161439u /* their sum */

/* BIM members (increased reimbursement), per mille: "près de 38 %" in the 2024 report. */
#define BIM_PER_MILLE 380u

static int member_bim(uint32_t k)
{
	return mix64(k) % 1000u < BIM_PER_MILLE;
}

static const char *member_office(uint32_t k)
{
	uint32_t r = (uint32_t)(mix64((uint64_t)k ^ 0x0FF1CEull) % OFFICES_MEMBERS);

	for (size_t i = 0; i < sizeof(offices) / sizeof(offices[0]); i++) {
		if (r < offices[i].members)
			return offices[i].code;
		r -= offices[i].members;
	}
	return offices[0].code;
}

/* Insurer part of a fee per shape, in cents: what generated lines claim and generated tariffs
 * grant (integer percent, rounded down like the lines always were). */
static int64_t insurer_part(enum shape sh, int bim, int64_t fee)
{
	int64_t pct = sh == SHAPE_GP           ? (bim ? 90 : 75)
	              : sh == SHAPE_PHARMACIST ? (bim ? 100 : 80)
	                                       : (bim ? 95 : 85);

	return fee * pct / 100;
}

static enum shape shape_of_kind(uint32_t kind)
{
	return kind == TPC_PACK_GP           ? SHAPE_GP
	       : kind == TPC_PACK_PHARMACIST ? SHAPE_PHARMACIST
	                                     : SHAPE_HOSPITAL;
}

/* Most providers of each kind: their NIHII bases must not overlap (see provider_nihii). */
static const uint32_t kind_max[TPC_PACK__KINDS] = {10000, 100000, 100000};

/* Provider i of a kind: NIHII bases from 710000 (hospitals), 100000 (GPs), 500000
 * (pharmacists); qualification 003 for GPs, 000 otherwise. */
static void provider_nihii(uint32_t kind, uint32_t i, char out[12])
{
	static const uint32_t base[TPC_PACK__KINDS] = {710000, 100000, 500000};

	make_nihii(out, base[kind] + i, kind == TPC_PACK_GP ? 3 : 0);
}

/* A Belgian IBAN: bank code, 7-digit account, national check (mod 97, 97 for 0), then the
 * ISO 13616 check digits over BBAN + "BE00". */
static void make_iban(char out[17], uint32_t bank, uint32_t account)
{
	uint64_t bban10 = (uint64_t)(bank % 1000u) * 10000000u + account % 10000000u;
	char digits[19];
	unsigned r = 0, national = (unsigned)(bban10 % 97u);

	tpc_check_put_uint(digits, 10, bban10);
	tpc_check_put_uint(digits + 10, 2, national ? national : 97);
	memcpy(digits + 12, "111400", 6); /* B = 11, E = 14, then 00 */
	digits[18] = 0;
	for (int i = 0; i < 18; i++)
		r = (r * 10 + (unsigned)(digits[i] - '0')) % 97;
	snprintf(out, 17, "BE%02u%.12s", 98 - r, digits);
}

/* ---- the sending -------------------------------------------------------------------------- */

struct gen {
	struct opts o;
	tpc_efact_sending_in_t s;
	tpc_efact_invoice_in_t *inv;
	tpc_efact_line_in_t **lines; /* per invoice */
	uint32_t *ord;               /* per line (flat): record ordinal of its ET50 */
	int *post_fault;             /* per line (flat): fault patched after writing, or -1 */
	size_t nlines_total;
	size_t nfaults; /* lines corrupted */
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
		} else if (o->members) {
			uint32_t k = between(0, o->members - 1);

			tpc_check_make_niss(k, inv->niss);
			snprintf(inv->mutuality, sizeof(inv->mutuality), "%s", member_office(k));
			inv->sex = (inv->niss[8] - '0') % 2 ? '1' : '2'; /* serial parity */
			inv->ct1 = inv->ct2 = member_bim(k) ? 111 : 110;
		} else {
			tpc_check_make_niss(between(0, 999999), inv->niss);
			snprintf(inv->mutuality, sizeof(inv->mutuality), "%s",
			         mutualities[between(0, 6)]);
			inv->sex = (inv->niss[8] - '0') % 2 ? '1' : '2'; /* serial parity */
			inv->ct1 = inv->ct2 = between(0, 4) ? 110 : 111;
		}
		bim = inv->ct1 % 10 == 1;
		if (o->numbered)
			snprintf(inv->number, sizeof(inv->number), "%07u%05u",
			         (unsigned)(o->number_base % 10000000u), (i + 1) % 100000u);
		else
			snprintf(inv->number, sizeof(inv->number), "%04u%08u",
			         (unsigned)(o->seed % 10000u), (i + 1) % 100000000u);
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
				ins = insurer_part(SHAPE_GP, bim, fee);
				l->units = 1;
			} else if (sh == SHAPE_PHARMACIST) {
				/* product pseudo-codes 75xxxx, delivered in units */
				make_code(l->code, 75000 + between(0, 999));
				fee = fee_of(l->code);
				ins = insurer_part(SHAPE_PHARMACIST, bim, fee);
				l->units = (int32_t)between(1, 3);
			} else {
				/* hospital: daily lump sums 76xxxx, acts 2xxxxx-4xxxxx */
				make_code(l->code, between(0, 3) ? 20000 + between(0, 29999)
				                                 : 76800 + between(0, 99));
				fee = fee_of(l->code);
				ins = insurer_part(SHAPE_HOSPITAL, bim, fee);
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
			/* a sign patched into the file makes the ET80 totals disagree (801910, F):
			 * the whole invoice is refused, and a hospital invoice holds ~100 lines */
			if (g->o.line_faults && f == F_AMOUNT_SIGN)
				f = F_NISS;
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
			g->nfaults++;
			if (g->o.quiet)
				continue;
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
	tpc_canonical_frame_t f;
	size_t ninv = g->s.ninvoices, flat = 0;
	uint8_t *out;

	if (tpc_canonical_frame_new(&f, ninv, g->nlines_total) != 0)
		return NULL;
	f.cs.reference = (char *)g->s.reference;
	f.cs.third_party = (char *)g->s.third_party;
	f.cs.created = (int32_t)g->s.created;
	f.cs.year_month = g->s.year_month;
	for (size_t i = 0; i < ninv; i++) {
		const tpc_efact_invoice_in_t *in = &g->inv[i];
		Tpclear__CanonicalInvoice *inv = &f.inv[i];

		inv->patient = (char *)in->niss;
		inv->provider = (char *)g->s.third_party;
		inv->number = (char *)in->number;
		inv->kind = in->kind == '1' ? 1 : 0;
		inv->invoicing = 0;
		inv->previous = "";
		inv->admission = (int32_t)in->admission;
		inv->discharge = (int32_t)in->discharge;
		inv->mutuality = (char *)in->mutuality;
		inv->n_lines = in->nlines;
		inv->lines = f.lnp + flat;
		for (size_t k = 0; k < in->nlines; k++, flat++) {
			const tpc_efact_line_in_t *l = &in->lines[k];
			Tpclear__CanonicalLine *c = &f.ln[flat];

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
	out = tpc_canonical_frame_pack(&f, len);
	tpc_canonical_frame_free(&f);
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

/* Build, corrupt and encode the sending described by g->o. @return 0, or 1 with a message. */
static int make_sending(struct gen *g, uint8_t **buf, size_t *len)
{
	if (build(g) != 0 || corrupt(g) != 0) {
		fprintf(stderr, "tpcgen: out of memory\n");
		return 1;
	}
	if (g->o.canonical) {
		*buf = pack_canonical(g, len);
		if (!*buf) {
			fprintf(stderr, "tpcgen: out of memory\n");
			return 1;
		}
	} else {
		int w = tpc_efact_write(&g->s, buf, len);

		if (w != 0) {
			fprintf(stderr, "tpcgen: cannot write the sending (%d)\n", w);
			return 1;
		}
		patch(g, *buf);
	}
	return 0;
}

static int cmd_sending(int argc, char **argv)
{
	struct gen g;
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 1;

	memset(&g, 0, sizeof(g));
	if (parse_args(argc, argv, &g.o) != 0) {
		usage(stderr);
		return 2;
	}
	rng_state = g.o.seed;
	if (make_sending(&g, &buf, &len) != 0)
		goto out_free;
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

/* ---- refdata and pack --------------------------------------------------------------------- */

struct popts {
	int canonical;
	uint64_t seed;
	uint64_t lines; /* pack: at least this many lines */
	uint64_t first; /* pack: the index of its first sending (a chunk of a larger pack) */
	uint32_t faults, year_month, members;
	uint32_t kinds[TPC_PACK__KINDS]; /* providers of each kind */
	const char *out, *out_dir;
};

static int parse_popts(int argc, char **argv, int first, struct popts *o)
{
	memset(o, 0, sizeof(*o));
	o->year_month = 202611;
	o->members = 166978; /* CAAMI's members on 31 December 2024 */
	o->kinds[TPC_PACK_HOSPITAL] = 100;
	o->kinds[TPC_PACK_GP] = 3000;
	o->kinds[TPC_PACK_PHARMACIST] = 1500;
	for (int i = first; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long n;
		char *end;

		if (!v)
			return -1;
		if (strcmp(a, "--out") == 0) {
			o->out = v;
			continue;
		}
		if (strcmp(a, "--out-dir") == 0) {
			o->out_dir = v;
			continue;
		}
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno || end == v || *end || v[0] == '-') {
			fprintf(stderr, "tpcgen: '%s' needs a number, not '%s'\n", a, v);
			return -1;
		}
		if (strcmp(a, "--seed") == 0)
			o->seed = n;
		else if (strcmp(a, "--lines") == 0)
			o->lines = n;
		else if (strcmp(a, "--first") == 0 && n < 10000000ull)
			o->first = n;
		else if (strcmp(a, "--faults") == 0 && n <= 100)
			o->faults = (uint32_t)n;
		else if (strcmp(a, "--year-month") == 0 && n % 100 >= 1 && n % 100 <= 12 &&
		         n / 100 >= 2000 && n / 100 <= 2999)
			o->year_month = (uint32_t)n;
		else if (strcmp(a, "--members") == 0 && n > 0 && n <= 23000000)
			o->members = (uint32_t)n;
		else if (strcmp(a, "--hospitals") == 0 && n > 0 && n <= kind_max[TPC_PACK_HOSPITAL])
			o->kinds[TPC_PACK_HOSPITAL] = (uint32_t)n;
		else if (strcmp(a, "--gps") == 0 && n > 0 && n <= kind_max[TPC_PACK_GP])
			o->kinds[TPC_PACK_GP] = (uint32_t)n;
		else if (strcmp(a, "--pharmacists") == 0 && n > 0 &&
		         n <= kind_max[TPC_PACK_PHARMACIST])
			o->kinds[TPC_PACK_PHARMACIST] = (uint32_t)n;
		else {
			fprintf(stderr, "tpcgen: unknown or out-of-range option '%s %s'\n", a, v);
			return -1;
		}
	}
	return 0;
}

static FILE *open_in(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "tpcgen: cannot write '%s': %s\n", path, strerror(errno));
	return f;
}

/* Every code a shape can emit: its 5-digit bases (make_code adds the check digit). */
static const struct {
	enum shape shape;
	uint32_t first, count;
} code_ranges[] = {
    {SHAPE_GP, 10100, 300},          /* consultations and visits */
    {SHAPE_PHARMACIST, 75000, 1000}, /* product pseudo-codes */
    {SHAPE_HOSPITAL, 20000, 30000},  /* acts */
    {SHAPE_HOSPITAL, 76800, 100},    /* daily lump sums */
};

static const char *kind_csv[TPC_PACK__KINDS] = {"hospital", "gp", "pharmacist"};
static const char *kind_label[TPC_PACK__KINDS] = {"Hopital", "Dr", "Pharmacie"};

static int cmd_refdata(int argc, char **argv)
{
	struct popts o;
	FILE *f;
	uint64_t tariffs = 0, providers = 0;

	if (parse_popts(argc, argv, 2, &o) != 0 || !o.out_dir) {
		usage(stderr);
		return 2;
	}
	if (mkdir(o.out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "tpcgen: cannot create '%s': %s\n", o.out_dir, strerror(errno));
		return 1;
	}
	/* providers: a valid bank account each (payment runs pay them) */
	if (!(f = open_in(o.out_dir, "providers.csv")))
		return 1;
	fprintf(f, "nihii,name,kind,bce,iban,bic\n");
	for (uint32_t k = 0; k < TPC_PACK__KINDS; k++)
		for (uint32_t i = 0; i < o.kinds[k]; i++) {
			char nihii[12], iban[17];

			provider_nihii(k, i, nihii);
			make_iban(iban, 1, k * 1000000u + i);
			fprintf(f, "%s,%s generique %05u,%s,,%s,GEBABEBB\n", nihii, kind_label[k],
			        i, kind_csv[k], iban);
			providers++;
		}
	if (fclose(f) != 0)
		return 1;
	/* members: one open period each from 2020, ordinary (110) or BIM (111), and a bank account
	 * (eAttest reimbursements are paid to the insured) */
	if (!(f = open_in(o.out_dir, "members.csv")))
		return 1;
	fprintf(f, "niss,valid_from,valid_to,ct1,ct2,iban\n");
	for (uint32_t k = 0; k < o.members; k++) {
		char niss[12], iban[17];
		int bim = member_bim(k);

		tpc_check_make_niss(k, niss);
		make_iban(iban, 63, k);
		fprintf(f, "%s,2020-01-01,,%s,%s,%s\n", niss, bim ? "111" : "110",
		        bim ? "111" : "110", iban);
	}
	if (fclose(f) != 0)
		return 1;
	/* tariffs: every code the shapes emit, from 2024 (the year replay) on */
	if (!(f = open_in(o.out_dir, "tariffs.csv")))
		return 1;
	fprintf(f, "code,valid_from,valid_to,fee,insurer,insurer_bim,flags\n");
	for (size_t r = 0; r < sizeof(code_ranges) / sizeof(code_ranges[0]); r++)
		for (uint32_t i = 0; i < code_ranges[r].count; i++) {
			char code[7];
			int64_t fee;

			make_code(code, code_ranges[r].first + i);
			fee = fee_of(code);
			fprintf(f, "%s,2024-01-01,,%lld,%lld,%lld,\n", code, (long long)fee,
			        (long long)insurer_part(code_ranges[r].shape, 0, fee),
			        (long long)insurer_part(code_ranges[r].shape, 1, fee));
			tariffs++;
		}
	if (fclose(f) != 0)
		return 1;
	if (!(f = open_in(o.out_dir, "agreements.csv")))
		return 1;
	fprintf(f, "niss,code,valid_from,valid_to,reference\n");
	if (fclose(f) != 0)
		return 1;
	printf("members=%u\nproviders=%llu\ntariffs=%llu\n", o.members,
	       (unsigned long long)providers, (unsigned long long)tariffs);
	return 0;
}

/* ---- eAttest ------------------------------------------------------------------------------ */

/* One attestation (docs/formats/eattest.md) of member @p k at GP @p gp: a GP code on @p yyyymmdd,
 * one unit, the patient paid @p fee_paid (0: the code's fee). Its number and reference derive
 * from @p tag and @p n. @p code: NULL draws a GP code. @return malloc'd packed bytes or NULL. */
static uint8_t *attestation(uint32_t k, uint32_t gp, const char *code, uint32_t yyyymmdd,
                            int64_t fee_paid, const char *tag, uint64_t n, size_t *len)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;
	char niss[12], nihii[12], c[7], number[32];
	uint8_t *out;

	tpc_check_make_niss(k, niss);
	provider_nihii(TPC_PACK_GP, gp, nihii);
	if (code)
		snprintf(c, sizeof(c), "%s", code);
	else
		make_code(c, 10100 + between(0, 299));
	snprintf(number, sizeof(number), "%s%llu", tag, (unsigned long long)n);
	a.provider = nihii;
	a.patient = niss;
	a.code = c;
	a.date = (int32_t)yyyymmdd;
	a.units = 1;
	a.fee_paid_cents = fee_paid ? fee_paid : fee_of(c);
	a.reference = number;
	a.number = number;
	*len = tpclear__attestation__get_packed_size(&a);
	out = malloc(*len ? *len : 1);
	if (out)
		tpclear__attestation__pack(&a, out);
	return out;
}

/* pack eattest: L attestations (one line each) of members at GPs, in November 2026, the patient
 * paying the fee: the eAttest probe of bench/run. */
static int cmd_pack_eattest(const struct popts *o)
{
	tpc_pack_header_t h;
	FILE *f = fopen(o->out, "wb");
	int rc = 1;

	if (!f) {
		fprintf(stderr, "tpcgen: cannot write '%s': %s\n", o->out, strerror(errno));
		return 1;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TPC_PACK_MAGIC, 8);
	h.format = TPC_PACK_EATTEST;
	h.seed = o->seed;
	if (fwrite(&h, sizeof(h), 1, f) != 1)
		goto out_close;
	rng_state = mix64(o->seed ^ 0xEA77E57ull);
	for (uint64_t i = 0; i < o->lines; i++) {
		uint32_t k = between(0, o->members - 1), gp = between(0, o->kinds[TPC_PACK_GP] - 1);
		uint32_t day = o->year_month * 100 + between(1, 20);
		size_t len;
		uint8_t *buf =
		    attestation(k, gp, NULL, day, 0, "EA", o->seed * 100000000ull + i, &len);
		int bad = !buf || tpc_pack_put(f, buf, len, 1, 0, TPC_PACK_GP) != 0;

		free(buf);
		if (bad)
			goto out_close;
		h.sendings++;
		h.lines++;
	}
	if (fseek(f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof(h), 1, f) != 1)
		goto out_close;
	rc = 0;
out_close:
	if (fclose(f) != 0 || rc) {
		fprintf(stderr, "tpcgen: cannot write '%s'\n", o->out);
		return 1;
	}
	printf("format=eattest\nattestations=%llu\n", (unsigned long long)h.sendings);
	return 0;
}

static int cmd_pack(int argc, char **argv)
{
	tpc_pack_header_t h;
	struct popts o;
	uint64_t per_kind[TPC_PACK__KINDS] = {0}, lines_kind[TPC_PACK__KINDS] = {0}, faults = 0;
	uint64_t bytes = 0, i;
	FILE *f;
	int rc = 1;

	if (argc < 3 ||
	    (strcmp(argv[2], "efact") != 0 && strcmp(argv[2], "canonical") != 0 &&
	     strcmp(argv[2], "eattest") != 0) ||
	    parse_popts(argc, argv, 3, &o) != 0 || !o.out || o.lines == 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[2], "eattest") == 0)
		return cmd_pack_eattest(&o);
	o.canonical = strcmp(argv[2], "canonical") == 0;
	f = fopen(o.out, "wb");
	if (!f) {
		fprintf(stderr, "tpcgen: cannot write '%s': %s\n", o.out, strerror(errno));
		return 1;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TPC_PACK_MAGIC, 8);
	h.format = o.canonical ? TPC_PACK_CANONICAL : TPC_PACK_EFACT;
	h.faults = o.faults;
	h.seed = o.seed;
	if (fwrite(&h, sizeof(h), 1, f) != 1) /* counts stay 0 until the end */
		goto out_close;
	/* a chunk starting at sending --first holds the same sendings as the whole pack from
	 * there: bench/run --long makes its 10^8 lines chunk by chunk, ~4 GB at a time */
	for (i = o.first; h.lines < o.lines; i++) {
		static const uint32_t inv_lo[] = {5, 20, 30}, inv_hi[] = {40, 110, 100};
		uint64_t sseed = o.seed * 10000000ull + i;
		struct gen g;
		uint8_t *buf = NULL;
		size_t len = 0;
		uint32_t r, kind;
		int bad;

		if (i >= 10000000ull) {
			fprintf(stderr, "tpcgen: more than 10^7 sendings in one pack\n");
			goto out_close;
		}
		/* sending i depends on (seed, i) only */
		rng_state = mix64(sseed);
		r = between(0, 9);
		kind = r < 5 ? TPC_PACK_GP : r < 8 ? TPC_PACK_PHARMACIST : TPC_PACK_HOSPITAL;
		memset(&g, 0, sizeof(g));
		g.o.canonical = o.canonical;
		g.o.seed = sseed;
		g.o.invoices = between(inv_lo[kind], inv_hi[kind]);
		g.o.min_lines = 1;
		g.o.max_lines = 200;
		g.o.faults = o.faults;
		g.o.year_month = o.year_month;
		g.o.shape = shape_of_kind(kind);
		g.o.members = o.members;
		g.o.numbered = 1;
		g.o.number_base = i;
		g.o.quiet = 1;
		g.o.line_faults = 1;
		provider_nihii(kind, between(0, o.kinds[kind] - 1), g.o.provider);
		bad = make_sending(&g, &buf, &len) != 0 ||
		      tpc_pack_put(f, buf, len, (uint32_t)g.nlines_total, g.o.invoices, kind) != 0;
		h.sendings++;
		h.lines += g.nlines_total;
		h.invoices += g.o.invoices;
		per_kind[kind]++;
		lines_kind[kind] += g.nlines_total;
		faults += g.nfaults;
		bytes += len;
		free(buf);
		gen_free(&g);
		if (bad)
			goto out_close;
	}
	if (fseek(f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof(h), 1, f) != 1)
		goto out_close;
	rc = 0;
out_close:
	if (fclose(f) != 0 || rc) {
		fprintf(stderr, "tpcgen: cannot write '%s'\n", o.out);
		return 1;
	}
	printf("format=%s\nfirst_sending=%llu\nnext_sending=%llu\nsendings=%llu\ninvoices=%llu\n"
	       "lines=%llu\nfaulty_lines=%llu\npayload_bytes=%llu\nbytes_per_line=%.1f\n",
	       o.canonical ? "canonical" : "efact", (unsigned long long)o.first,
	       (unsigned long long)i, (unsigned long long)h.sendings,
	       (unsigned long long)h.invoices, (unsigned long long)h.lines,
	       (unsigned long long)faults, (unsigned long long)bytes,
	       (double)bytes / (double)h.lines);
	for (uint32_t k = 0; k < TPC_PACK__KINDS; k++)
		printf("sendings_%s=%llu\nlines_%s=%llu\n", tpc_pack_kind_name(k),
		       (unsigned long long)per_kind[k], tpc_pack_kind_name(k),
		       (unsigned long long)lines_kind[k]);
	return 0;
}

/* ---- year: CAAMI's 2024 ------------------------------------------------------------------ */

/* The seed report's figures (CAAMI annual report 2024), in cents. */
#define Y_MEMBERS            166978
#define Y_AMI_CENTS          23756422029ll /* third-party payment to providers */
#define Y_MEDIPRIMA_SENDINGS 2295
#define Y_MEDIPRIMA_INVOICES 148473
#define Y_MEDIPRIMA_CENTS    9497740310ll /* charged to SPP IS, not to AMI */
#define Y_EATTEST_CENTS      519674599ll  /* eAttest reimbursements to the insured */

/* Balancing codes: one line of each total is the remainder below one ordinary line, on a code
 * of its own whose tariff (fee = insurer part = that remainder) the generated reference data
 * carries. Bases outside every shape's range. */
#define Y_BALANCE_AMI       99990u
#define Y_BALANCE_MEDIPRIMA 99991u
#define Y_BALANCE_EATTEST   99992u

/* Mediprima beneficiaries are not members: their NISS come from indexes past every member. */
#define Y_MEDIPRIMA_FIRST 20000000u

struct year {
	struct popts p;
	uint32_t scale_num, scale_den; /* --scale as a fraction */
	uint32_t members, mp_persons, mp_cpas;
	int64_t ami_cents, mp_cents, ea_cents;
	uint32_t mp_sendings, mp_invoices;
	int64_t balance[3]; /* remainder put on each balancing code (0: none) */
	uint64_t sending;   /* sendings written so far (numbers invoices and references) */
	uint64_t lines[3], invoices[3], sendings[3];
	int64_t cents[3]; /* what was generated: AMI, Mediprima, eAttest */
};

/* @p v x scale, rounded half up, in integers (money never goes through a double). */
static int64_t scaled(const struct year *y, int64_t v)
{
	return (v * y->scale_num + y->scale_den / 2) / y->scale_den;
}

/* "0.01" -> 1/100 (at most six decimals; 0 < scale <= 1). @return 0 or -1. */
static int parse_scale(const char *s, uint32_t *num, uint32_t *den)
{
	uint32_t n = 0, d = 1;
	int decimals = -1;

	for (; *s; s++) {
		if (*s == '.' && decimals < 0) {
			decimals = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || decimals >= 6 || n > 100000000u)
			return -1;
		n = n * 10 + (uint32_t)(*s - '0');
		if (decimals >= 0) {
			decimals++;
			d *= 10;
		}
	}
	if (n == 0 || n > d)
		return -1;
	*num = n;
	*den = d;
	return 0;
}

/* A BCE number with its check (97 - first 8 digits mod 97): CPAS @p i. */
static void make_bce(char out[11], uint32_t i)
{
	uint32_t base = 2000000u + i * 37u; /* 8 digits, leading 0 */

	tpc_check_put_uint(out, 8, base);
	tpc_check_put_uint(out + 8, 2, 97 - base % 97);
	out[10] = 0;
}

/* Mediprima person j: does its CPAS decision pay the patient share too (half of them)? */
static int mp_covers(uint32_t j)
{
	return mix64((uint64_t)j ^ 0xC0FFEEull) % 2u == 0;
}

/* The cents a scheme is charged for a line of @p fee per unit (its insurer part; Mediprima
 * pays at the BIM rate, and the patient share too when the decision says so: docs/schemes.md). */
static int64_t charged(enum shape sh, int mediprima, int bim, int covers, int64_t fee,
                       int32_t units, int64_t *insurer)
{
	int64_t ins = insurer_part(sh, mediprima ? 1 : bim, fee);

	*insurer = ins * units;
	return mediprima && covers ? fee * units : ins * units;
}

/* Draw one line of shape @p sh for @p inv (code, units, dates, performer, reference) and say
 * what it charges. */
static int64_t year_line(const struct gen *g, tpc_efact_invoice_in_t *inv, enum shape sh,
                         int mediprima, int bim, int covers, const uint32_t doctors[4], uint32_t ym,
                         uint32_t li, tpc_efact_line_in_t *l)
{
	int64_t fee, ins, c;

	memset(l, 0, sizeof(*l));
	if (sh == SHAPE_GP) {
		make_code(l->code, 10100 + between(0, 299));
		l->units = 1;
	} else if (sh == SHAPE_PHARMACIST) {
		make_code(l->code, 75000 + between(0, 999));
		l->units = (int32_t)between(1, 3);
	} else {
		make_code(l->code,
		          between(0, 3) ? 20000 + between(0, 29999) : 76800 + between(0, 99));
		l->units = (int32_t)between(1, 2);
	}
	fee = fee_of(l->code);
	c = charged(sh, mediprima, bim, covers, fee, l->units, &ins);
	l->insurer_cents = ins;
	l->patient_cents = fee * l->units - ins;
	l->date = sh == SHAPE_HOSPITAL ? between(inv->admission, inv->discharge)
	                               : ym * 100 + between(1, 20);
	if (sh == SHAPE_HOSPITAL)
		make_nihii(l->performer, doctors[between(0, 3)], 3 + between(0, 1));
	else
		snprintf(l->performer, sizeof(l->performer), "%s", g->s.third_party);
	/* the invoice number's last five digits are its index */
	snprintf(l->reference, sizeof(l->reference), "Y%llu-%.5s-%u",
	         (unsigned long long)g->o.number_base, inv->number + 7, li + 1);
	return c;
}

/* The balancing line: @p cents on the balancing code @p base, one unit, no patient share. */
static void balance_line(const struct gen *g, tpc_efact_invoice_in_t *inv, uint32_t base,
                         int64_t cents, uint32_t ym, uint32_t li, tpc_efact_line_in_t *l)
{
	memset(l, 0, sizeof(*l));
	make_code(l->code, base);
	l->units = 1;
	l->insurer_cents = cents;
	l->date = inv->kind == '1' ? inv->admission : ym * 100 + 20;
	snprintf(l->performer, sizeof(l->performer), "%s", g->s.third_party);
	snprintf(l->reference, sizeof(l->reference), "Y%llu-%.5s-%u",
	         (unsigned long long)g->o.number_base, inv->number + 7, li + 1);
}

/* What one invoice of a year sending is: who, which rule, how much it may charge. */
struct yinv {
	enum shape shape;
	int mediprima, bim, covers;
	uint32_t person; /* member index, or Mediprima person index */
	int64_t budget;  /* most cents its lines may charge (INT64_MAX: natural line count) */
	int64_t balance; /* > 0: end with a balancing line of these cents */
	uint32_t balance_base;
};

/* Start sending number y->sending of @p kind from provider @p i in month @p ym. */
static void year_header(struct year *y, struct gen *g, uint32_t kind, uint32_t i, uint32_t ym)
{
	memset(g, 0, sizeof(*g));
	g->o.canonical = y->p.canonical;
	g->o.numbered = 1;
	g->o.number_base = y->sending;
	provider_nihii(kind, i, g->o.provider);
	snprintf(g->s.reference, sizeof(g->s.reference), "%06u%08llu", ym,
	         (unsigned long long)(y->sending % 100000000u));
	snprintf(g->s.third_party, sizeof(g->s.third_party), "%s", g->o.provider);
	g->s.sending_no = 1 + (uint32_t)(y->sending % 999);
	g->s.year_month = ym;
	g->s.created = ym * 100 + 20;
	snprintf(g->s.bce, sizeof(g->s.bce), "0999999922");
	make_iban(g->s.iban, 1, kind * 1000000u + i);
	snprintf(g->s.bic, sizeof(g->s.bic), "GEBABEBB");
	snprintf(g->s.contact, sizeof(g->s.contact), "TPCGEN YEAR");
}

/* Fill the sending @p g with the invoices @p plan describes. @return charged cents, or -1. */
static int64_t year_fill(struct gen *g, const struct yinv *plan, uint32_t n, uint32_t ym)
{
	uint32_t doctors[4];
	int64_t total = 0;

	g->inv = calloc(n, sizeof(*g->inv));
	g->lines = calloc(n, sizeof(*g->lines));
	if (!g->inv || !g->lines)
		return -1;
	g->o.invoices = n;
	for (int k = 0; k < 4; k++)
		doctors[k] = between(100000, 199999);
	for (uint32_t i = 0; i < n; i++) {
		const struct yinv *p = &plan[i];
		tpc_efact_invoice_in_t *inv = &g->inv[i];
		uint32_t cap =
		    p->budget == INT64_MAX
		        ? line_count(&(struct opts){.min_lines = 1, .max_lines = 200}, p->shape)
		        : 200;
		tpc_efact_line_in_t *l = calloc(cap + 1, sizeof(*l));
		int64_t spent = 0;
		uint32_t nl = 0;

		if (!l)
			return -1;
		g->lines[i] = l;
		tpc_check_make_niss(p->mediprima ? Y_MEDIPRIMA_FIRST + p->person : p->person,
		                    inv->niss);
		snprintf(inv->mutuality, sizeof(inv->mutuality), "%s", member_office(p->person));
		inv->sex = (inv->niss[8] - '0') % 2 ? '1' : '2';
		inv->ct1 = inv->ct2 = p->mediprima || p->bim ? 111 : 110;
		snprintf(inv->number, sizeof(inv->number), "%07u%05u",
		         (unsigned)(g->o.number_base % 10000000u), (i + 1) % 100000u);
		inv->invoicing = '0';
		inv->kind = p->shape == SHAPE_HOSPITAL ? '1' : '3';
		if (p->shape == SHAPE_HOSPITAL) {
			uint32_t d = between(1, 14);

			inv->admission = ym * 100 + d;
			inv->discharge = ym * 100 + d + between(0, 6);
		}
		for (int misses = 0; nl < cap && misses < 8;) {
			int64_t c = year_line(g, inv, p->shape, p->mediprima, p->bim, p->covers,
			                      doctors, ym, nl, &l[nl]);

			/* a budgeted invoice takes only lines that fit (a few tries at the end) */
			if (p->budget != INT64_MAX && spent + c > p->budget) {
				misses++;
				continue;
			}
			spent += c;
			nl++;
		}
		if (p->balance > 0) {
			balance_line(g, inv, p->balance_base, p->balance, ym, nl, &l[nl]);
			spent += p->balance;
			nl++;
		}
		inv->lines = l;
		inv->nlines = nl;
		g->nlines_total += nl;
		total += spent;
	}
	qsort(g->inv, n, sizeof(*g->inv), cmp_mutuality);
	g->s.invoices = g->inv;
	g->s.ninvoices = n;
	return total;
}

static int year_put(struct year *y, FILE *f, tpc_pack_header_t *h, struct gen *g, uint32_t kind,
                    int scheme)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (g->o.canonical)
		buf = pack_canonical(g, &len);
	else if (tpc_efact_write(&g->s, &buf, &len) != 0)
		buf = NULL;
	rc = buf ? tpc_pack_put(f, buf, len, (uint32_t)g->nlines_total, g->o.invoices, kind) : -1;
	h->sendings++;
	h->lines += g->nlines_total;
	h->invoices += g->o.invoices;
	y->lines[scheme] += g->nlines_total;
	y->invoices[scheme] += g->o.invoices;
	y->sendings[scheme]++;
	y->sending++;
	free(buf);
	gen_free(g);
	return rc;
}

static FILE *pack_begin(const char *dir, const char *name, const struct year *y,
                        tpc_pack_header_t *h)
{
	FILE *f = open_in(dir, name);

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, TPC_PACK_MAGIC, 8);
	h->format = y->p.canonical ? TPC_PACK_CANONICAL : TPC_PACK_EFACT;
	h->seed = y->p.seed;
	if (f && fwrite(h, sizeof(*h), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	return f;
}

static int pack_end(FILE *f, const tpc_pack_header_t *h)
{
	int bad = fseek(f, 0, SEEK_SET) != 0 || fwrite(h, sizeof(*h), 1, f) != 1;

	return fclose(f) != 0 || bad ? -1 : 0;
}

/* Close a total: the balancing line on the last invoice of @p g. */
static void close_total(struct gen *g, uint32_t base, int64_t cents, uint32_t ym)
{
	tpc_efact_invoice_in_t *inv = &g->inv[g->o.invoices - 1];
	tpc_efact_line_in_t *l = (tpc_efact_line_in_t *)inv->lines;

	/* year_fill leaves room for one more line in every invoice */
	balance_line(g, inv, base, cents, ym, (uint32_t)inv->nlines, &l[inv->nlines]);
	inv->nlines++;
	g->nlines_total++;
}

/* AMI: sendings of the usual mix (hospitals, GPs, pharmacists) with their natural shapes while
 * one more cannot overshoot; then GP sendings of budgeted invoices (400 EUR each) until less
 * than one invoice is left, which the balancing line closes. */
static int year_ami(struct year *y, const char *dir)
{
	static const uint32_t inv_lo[] = {5, 20, 30}, inv_hi[] = {40, 110, 100};
	tpc_pack_header_t h;
	struct yinv *plan = calloc(110, sizeof(*plan));
	FILE *f = pack_begin(dir, "ami.pack", y, &h);
	uint64_t draw = 0;
	int natural = 1;

	if (!f || !plan)
		return -1;
	while (y->cents[0] < y->ami_cents) {
		int64_t left = y->ami_cents - y->cents[0], c;
		uint32_t ym = 202401 + (uint32_t)(12 * y->cents[0] / y->ami_cents % 12), r, kind, n;
		struct gen g;

		rng_state = mix64(y->p.seed * 1000003ull + draw++);
		r = between(0, 9);
		kind = !natural ? TPC_PACK_GP
		       : r < 5  ? TPC_PACK_GP
		       : r < 8  ? TPC_PACK_PHARMACIST
		                : TPC_PACK_HOSPITAL;
		n = between(inv_lo[kind], inv_hi[kind]);
		year_header(y, &g, kind, between(0, y->p.kinds[kind] - 1), ym);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = between(0, y->members - 1);

			plan[i] = (struct yinv){
			    shape_of_kind(kind), 0, member_bim(k), 0, k, INT64_MAX, 0, 0};
			if (!natural) {
				plan[i].budget = left < 80000 ? left : 40000;
				left -= plan[i].budget;
				if (left == 0) {
					n = i + 1;
					break;
				}
			}
		}
		c = year_fill(&g, plan, n, ym);
		if (c < 0)
			return -1;
		if (natural && y->cents[0] + c > y->ami_cents - 100000) {
			/* this one would leave less than 1,000 EUR: budgeted sendings from here */
			gen_free(&g);
			natural = 0;
			continue;
		}
		left = y->ami_cents - y->cents[0] - c;
		if (!natural && left > 0 && left < 40000) {
			close_total(&g, Y_BALANCE_AMI, left, ym);
			y->balance[0] = left;
			c += left;
		}
		y->cents[0] += c;
		if (year_put(y, f, &h, &g, kind, 0) != 0)
			return -1;
	}
	free(plan);
	return pack_end(f, &h);
}

/* Mediprima: exactly mp_sendings sendings (hospitals and GPs) of mp_invoices invoices in all;
 * each invoice's budget is its weight's share of what is left (a hospital invoice weighs ten
 * GP ones), and the very last invoice ends with the balancing line. */
static int year_mediprima(struct year *y, const char *dir)
{
	tpc_pack_header_t h;
	FILE *f = pack_begin(dir, "mediprima.pack", y, &h);
	uint64_t weight_left = 0;
	int64_t left = y->mp_cents;
	uint32_t inv_done = 0;
	struct yinv *plan;

	if (!f)
		return -1;
	/* the weights of every invoice, to share the total */
	for (uint32_t j = 0; j < y->mp_sendings; j++) {
		uint32_t n = (uint32_t)((uint64_t)(j + 1) * y->mp_invoices / y->mp_sendings -
		                        (uint64_t)j * y->mp_invoices / y->mp_sendings);

		rng_state = mix64(y->p.seed * 2000003ull + j);
		weight_left += (uint64_t)n * (between(0, 9) < 3 ? 10 : 1);
	}
	plan = calloc(y->mp_invoices / y->mp_sendings + 2, sizeof(*plan));
	if (!plan)
		return -1;
	for (uint32_t j = 0; j < y->mp_sendings; j++) {
		uint32_t n = (uint32_t)((uint64_t)(j + 1) * y->mp_invoices / y->mp_sendings -
		                        (uint64_t)j * y->mp_invoices / y->mp_sendings);
		uint32_t ym = 202401 + (uint32_t)((uint64_t)j * 12 / y->mp_sendings), kind, w;
		struct gen g;
		int64_t c, reserved = 0;

		rng_state = mix64(y->p.seed * 2000003ull + j);
		kind = between(0, 9) < 3 ? TPC_PACK_HOSPITAL : TPC_PACK_GP;
		w = kind == TPC_PACK_HOSPITAL ? 10 : 1;
		year_header(y, &g, kind, between(0, y->p.kinds[kind] - 1), ym);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t person = between(0, y->mp_persons - 1);
			int last = inv_done + i + 1 == y->mp_invoices;

			plan[i] = (struct yinv){
			    shape_of_kind(kind), 1, 1, mp_covers(person), person, 0, 0, 0};
			/* budget: this invoice's share of what no earlier invoice took */
			plan[i].budget =
			    last ? left - reserved
			         : (left - reserved) * (int64_t)w / (int64_t)weight_left;
			weight_left -= w;
			reserved += plan[i].budget;
		}
		c = year_fill(&g, plan, n, ym);
		if (c < 0)
			return -1;
		left -= c;
		inv_done += n;
		if (inv_done == y->mp_invoices) {
			if (left < 0) {
				fprintf(stderr,
				        "tpcgen: Mediprima overshot its total by %lld cents\n",
				        (long long)-left);
				return -1;
			}
			if (left > 0) {
				close_total(&g, Y_BALANCE_MEDIPRIMA, left, ym);
				y->balance[1] = left;
				c += left;
				left = 0;
			}
		}
		y->cents[1] += c;
		if (year_put(y, f, &h, &g, kind, 1) != 0)
			return -1;
	}
	free(plan);
	return pack_end(f, &h);
}

/* eAttest: attestations of members at GPs (the patient paid the fee, the reimbursement is the
 * AMI insurer part at the member's rate, docs/formats/eattest.md) until less than one is left,
 * which one attestation on the balancing code (fee = insurer part = the rest) closes. */
static int year_eattest(struct year *y, const char *dir)
{
	tpc_pack_header_t h;
	FILE *f = pack_begin(dir, "eattest.pack", y, &h);
	int64_t left = y->ea_cents;

	if (!f)
		return -1;
	h.format = TPC_PACK_EATTEST;
	rng_state = mix64(y->p.seed * 3000003ull);
	while (left > 0) {
		uint32_t k = between(0, y->members - 1), ym = 202401 + between(0, 11);
		uint32_t gp = between(0, y->p.kinds[TPC_PACK_GP] - 1),
		         day = ym * 100 + between(1, 28);
		char code[7];
		int64_t fee, c;
		size_t len;
		uint8_t *buf;
		int bad;

		make_code(code, 10100 + between(0, 299));
		fee = fee_of(code);
		c = insurer_part(SHAPE_GP, member_bim(k), fee);
		if (c > left) {
			make_code(code, Y_BALANCE_EATTEST);
			fee = c = left;
			y->balance[2] = left;
		}
		buf = attestation(k, gp, code, day, fee, "Y", h.sendings, &len);
		bad = !buf || tpc_pack_put(f, buf, len, 1, 0, TPC_PACK_GP) != 0;
		free(buf);
		if (bad)
			return -1;
		h.sendings++;
		h.lines++;
		y->sendings[2]++;
		y->lines[2]++;
		y->cents[2] += c;
		left -= c;
	}
	return pack_end(f, &h);
}

static int cmd_year(int argc, char **argv)
{
	struct year y;
	const char *scale = "1";
	char sub[4096];
	FILE *f;
	int a = 2;

	memset(&y, 0, sizeof(y));
	/* --scale is ours; the rest are the population options */
	if (argc >= 4 && strcmp(argv[2], "--scale") == 0) {
		scale = argv[3];
		a = 4;
	}
	if (parse_scale(scale, &y.scale_num, &y.scale_den) != 0 ||
	    parse_popts(argc, argv, a, &y.p) != 0 || !y.p.out_dir) {
		fprintf(stderr, "usage: tpcgen year [--scale F] [--seed N] --out-dir DIR "
		                "(0 < F <= 1, at most six decimals)\n");
		return 2;
	}
	y.members = (uint32_t)scaled(&y, Y_MEMBERS);
	y.ami_cents = scaled(&y, Y_AMI_CENTS);
	y.mp_cents = scaled(&y, Y_MEDIPRIMA_CENTS);
	y.ea_cents = scaled(&y, Y_EATTEST_CENTS);
	y.mp_sendings = (uint32_t)scaled(&y, Y_MEDIPRIMA_SENDINGS);
	y.mp_invoices = (uint32_t)scaled(&y, Y_MEDIPRIMA_INVOICES);
	if (y.members < 100)
		y.members = 100;
	if (y.mp_sendings < 1)
		y.mp_sendings = 1;
	if (y.mp_invoices < y.mp_sendings)
		y.mp_invoices = y.mp_sendings;
	/* about ten Mediprima invoices per person over the year, one CPAS per 250 persons */
	y.mp_persons = y.mp_invoices / 10 + 1;
	y.mp_cpas = y.mp_persons / 250 + 1;
	for (uint32_t k = 0; k < TPC_PACK__KINDS; k++) {
		uint32_t v = (uint32_t)scaled(&y, y.p.kinds[k]);

		y.p.kinds[k] = v < 3 ? 3 : v;
	}
	if (mkdir(y.p.out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "tpcgen: cannot create '%s': %s\n", y.p.out_dir, strerror(errno));
		return 1;
	}
	if (year_ami(&y, y.p.out_dir) != 0 || year_mediprima(&y, y.p.out_dir) != 0 ||
	    year_eattest(&y, y.p.out_dir) != 0) {
		fprintf(stderr, "tpcgen: cannot write the year under '%s'\n", y.p.out_dir);
		return 1;
	}
	/* reference data: the population of `tpcgen refdata`, the balancing tariffs, the Mediprima
	 * decisions (one per person for the year, every care type) */
	snprintf(sub, sizeof(sub), "%s/refdata", y.p.out_dir);
	{
		char m[16], h[16], gp[16], ph[16];
		char *rargv[] = {argv[0], "refdata", "--members",     m,  "--hospitals", h,
		                 "--gps", gp,        "--pharmacists", ph, "--out-dir",   sub};

		snprintf(m, sizeof(m), "%u", y.members);
		snprintf(h, sizeof(h), "%u", y.p.kinds[TPC_PACK_HOSPITAL]);
		snprintf(gp, sizeof(gp), "%u", y.p.kinds[TPC_PACK_GP]);
		snprintf(ph, sizeof(ph), "%u", y.p.kinds[TPC_PACK_PHARMACIST]);
		if (cmd_refdata(12, rargv) != 0)
			return 1;
	}
	snprintf(sub, sizeof(sub), "%s/refdata/tariffs.csv", y.p.out_dir);
	f = fopen(sub, "a");
	for (int b = 0; f && b < 3; b++)
		if (y.balance[b] > 0) {
			char code[7];

			make_code(code, Y_BALANCE_AMI + (uint32_t)b);
			fprintf(f, "%s,2024-01-01,,%lld,%lld,%lld,\n", code,
			        (long long)y.balance[b], (long long)y.balance[b],
			        (long long)y.balance[b]);
		}
	if (!f || fclose(f) != 0)
		return 1;
	snprintf(sub, sizeof(sub), "%s/refdata", y.p.out_dir);
	f = open_in(sub, "mediprima.csv");
	if (!f)
		return 1;
	fprintf(f, "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n");
	for (uint32_t j = 0; j < y.mp_persons; j++) {
		char niss[12], bce[11];

		tpc_check_make_niss(Y_MEDIPRIMA_FIRST + j, niss);
		make_bce(bce, j % y.mp_cpas);
		fprintf(f, "MP-2024-%07u,%s,%s,2024-01-01,2024-12-31,all,%d\n", j, bce, niss,
		        mp_covers(j));
	}
	if (fclose(f) != 0)
		return 1;
	/* what the replay must find in the ledger */
	f = open_in(y.p.out_dir, "year.txt");
	if (!f)
		return 1;
	fprintf(f,
	        "scale=%s\nmembers=%u\nami_cents=%lld\nami_sendings=%llu\nami_invoices=%llu\n"
	        "ami_lines=%llu\nsppis_cents=%lld\nmediprima_sendings=%llu\n"
	        "mediprima_invoices=%llu\nmediprima_lines=%llu\nmediprima_persons=%u\n"
	        "eattest_cents=%lld\neattest_attestations=%llu\n",
	        scale, y.members, (long long)y.cents[0], (unsigned long long)y.sendings[0],
	        (unsigned long long)y.invoices[0], (unsigned long long)y.lines[0],
	        (long long)y.cents[1], (unsigned long long)y.sendings[1],
	        (unsigned long long)y.invoices[1], (unsigned long long)y.lines[1], y.mp_persons,
	        (long long)y.cents[2], (unsigned long long)y.sendings[2]);
	if (fclose(f) != 0)
		return 1;
	if (y.cents[0] != y.ami_cents || y.cents[1] != y.mp_cents || y.cents[2] != y.ea_cents) {
		fprintf(stderr, "tpcgen: totals missed: AMI %lld of %lld, Mediprima %lld of %lld\n",
		        (long long)y.cents[0], (long long)y.ami_cents, (long long)y.cents[1],
		        (long long)y.mp_cents);
		return 1;
	}
	snprintf(sub, sizeof(sub), "%s/year.txt", y.p.out_dir);
	f = fopen(sub, "r");
	while (f && fgets(sub, sizeof(sub), f))
		fputs(sub, stdout);
	if (f)
		fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "refdata") == 0)
		return cmd_refdata(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "pack") == 0)
		return cmd_pack(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "year") == 0)
		return cmd_year(argc, argv);
	return cmd_sending(argc, argv);
}
