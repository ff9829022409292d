/* tests/unit/clearing/test_tariff.c - AMI clearing of lines against the reference data
 * (engine/clearing/tariff.c).
 *
 * Each test builds an LMDB environment in its own mkdtemp directory with the sub-databases of
 * tpc_ledger_dbs_t (ref_* through tpc_refdata_open, and "dedup", "units", "invoices"), loads the
 * samples of config/refdata/ with tpc_refdata_parse + tpc_refdata_replace, builds a sending by
 * hand in an arena (what an adapter's decode would hand over) and runs tpc_tariff_apply in a read
 * transaction. The sending was created on 2026-11-20 unless a test says otherwise.
 *
 * Sample facts the tests rely on (config/refdata/):
 *   86103130262  ct1 110 (ordinary) from 2020-01-01, open; agreement for 475075 in 2026
 *   05031412595  ct1 111 (BIM) 2024-01-01..2026-12-31
 *   75031412581  ct1 110 2019-01-01..2026-10-31, then ct1 130 from 2026-11-15
 *   90011523152  ct1 121 (BIM) from 2023-05-01, open; no agreement
 *   101032  fee 3000, insurer 2400 / BIM 2900
 *   102771  fee 2600, insurer 1850 / 2450 in 2024-2025; fee 2710, insurer 1960 / 2560 from 2026
 *   102852  fee 4500, insurer 3600 / 4300, max_per_day=1
 *   475075  fee 12000, insurer 10000 / 11500, agreement
 *   560011  fee 800, insurer 600 / 750, max_per_day=4
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "adapter.h"
#include "core/arena.h"
#include "common/check.h"
#include "core/error.h"
#include "refdata/refdata.h"
#include "clearing/tariff.h"
#include "testutil.h"

#include <lmdb.h>

#define MAX_INVOICES 16
#define MAX_LINES    64

/* members */
#define ORDINARY "86103130262"
#define BIM      "05031412595"
#define GAP      "75031412581"
#define BIM_NOAG "90011523152"
/* providers */
#define HOSPITAL "18334780004"
#define GP       "17385467004"

static struct {
	char *dir;
	MDB_env *env;
	tpc_ledger_dbs_t dbs;
	tpc_arena_t *arena;
	tpc_sending_t s;
	tpc_tariff_marks_t marks;
	int32_t today;
	uint32_t record; /* next record ordinal */
} fx;

static void load_sample(MDB_txn *txn, enum tpc_ref_kind kind)
{
	tpc_ref_table_t t = tpc_test_refdata_sample(kind, fx.arena);
	int rc = tpc_refdata_replace(txn, &fx.dbs.ref, &t);

	cr_assert_eq(rc, 0, "%s: %s", tpc_refdata_kind_name(kind), mdb_strerror(rc));
}

/* A new sending, created on 2026-11-20, with room for the invoices and lines of a test. */
static void begin(void)
{
	memset(&fx.s, 0, sizeof(fx.s));
	memset(&fx.marks, 0, sizeof(fx.marks));
	fx.s.created = tpc_test_day(20261120);
	fx.s.invoices = tpc_arena_alloc(fx.arena, MAX_INVOICES * sizeof(tpc_invoice_t), 8);
	fx.s.lines = tpc_arena_alloc(fx.arena, MAX_LINES * sizeof(tpc_line_t), 8);
	cr_assert_not_null(fx.s.invoices);
	cr_assert_not_null(fx.s.lines);
	fx.record = 1;
}

static void setup(void)
{
	MDB_txn *txn;

	memset(&fx, 0, sizeof(fx));
	cr_assert_eq(tpc_arena_new(1 << 16, 0, &fx.arena), 0);
	tpc_test_lmdb_open(&fx.dir, &fx.env, &txn);
	cr_assert_eq(tpc_refdata_open(txn, &fx.dbs.ref), 0);
	cr_assert_eq(mdb_dbi_open(txn, "dedup", MDB_CREATE, &fx.dbs.dedup), 0);
	cr_assert_eq(mdb_dbi_open(txn, "units", MDB_CREATE, &fx.dbs.units), 0);
	cr_assert_eq(mdb_dbi_open(txn, "invoices", MDB_CREATE, &fx.dbs.invoices), 0);
	for (int k = 0; k < TPC_REF__COUNT; k++)
		load_sample(txn, (enum tpc_ref_kind)k);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	fx.today = tpc_test_day(20261125);
	fx.dbs.dedup_form = TPC_DEDUP_XXH3_18; /* a new ledger's (store.c) */
	begin();
}

static void teardown(void)
{
	tpc_test_store_close(&fx.arena, fx.env, fx.dir);
}

TestSuite(tariff, .init = setup, .fini = teardown, .timeout = 60);

/* ---- building a sending ------------------------------------------------------------------- */

static tpc_view_t view(const char *s)
{
	tpc_view_t v = {s, s ? (uint32_t)strlen(s) : 0};

	return v;
}

/* Append an invoice; the lines added next belong to it. NULL gives an empty view. */
static tpc_invoice_t *invoice(const char *patient, const char *provider, const char *number)
{
	tpc_invoice_t *inv;

	cr_assert_lt(fx.s.ninvoices, MAX_INVOICES);
	inv = &fx.s.invoices[fx.s.ninvoices++];
	inv->record = fx.record++;
	inv->patient = view(patient);
	inv->provider = view(provider);
	inv->number = view(number);
	inv->first_line = fx.s.nlines;
	return inv;
}

/* Append a line of @p units to the last invoice, invoiced as @p insurer / @p patient cents. */
static tpc_line_t *line(const char *code, uint32_t date, int32_t units, int64_t insurer,
                        int64_t patient, const char *reference)
{
	tpc_line_t *ln;

	cr_assert_gt(fx.s.ninvoices, 0);
	cr_assert_lt(fx.s.nlines, MAX_LINES);
	ln = &fx.s.lines[fx.s.nlines++];
	fx.s.invoices[fx.s.ninvoices - 1].nlines++;
	ln->record = fx.record++;
	snprintf(ln->code, sizeof(ln->code), "%s", code);
	ln->date_first = ln->date_last = tpc_test_day(date);
	ln->units = units;
	ln->insurer_cents = insurer;
	ln->patient_cents = patient;
	ln->reference = view(reference);
	return ln;
}

static void apply(void)
{
	tpc_refsnap_t *ref;
	MDB_txn *txn;
	int rc;

	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	/* the reference data as a worker reads it: the in-memory snapshot of the committed state */
	cr_assert_eq(tpc_refsnap_build(txn, &fx.dbs.ref, &ref), 0);
	rc = tpc_tariff_apply(txn, &fx.dbs, ref, fx.today, &fx.s, fx.arena, &fx.marks);
	tpc_refsnap_release(&ref);
	mdb_txn_abort(txn);
	cr_assert_eq(rc, 0, "tariff: %s", tpc_strerror(rc));
	cr_assert_eq(fx.marks.nlines, fx.s.nlines);
}

/* Store @p key -> @p val in @p dbi, as an earlier accepted sending would have. */
static void put(MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_txn *txn;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};

	cr_assert_eq(mdb_txn_begin(fx.env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* ---- checking the verdicts ---------------------------------------------------------------- */

static int has_code(const tpc_finding_t *f, unsigned n, const char *code)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(f[i].code, code) == 0)
			return 1;
	return 0;
}

static void accepted(const tpc_line_t *ln)
{
	cr_assert_eq(ln->nfindings, 0, "line %u: %u findings, the first %s", ln->record,
	             ln->nfindings, ln->nfindings ? ln->findings[0].code : "");
	cr_assert_neq(ln->outcome, TPC_OUTCOME_REFUSED, "line %u refused", ln->record);
}

/* @p ln carries exactly one finding, @p code, on its own record, and is refused. */
static void refused_with(const tpc_line_t *ln, const char *code)
{
	cr_assert_eq(ln->nfindings, 1, "line %u: %u findings (first '%s'), want %s", ln->record,
	             ln->nfindings, ln->nfindings ? ln->findings[0].code : "", code);
	cr_assert_str_eq(ln->findings[0].code, code, "line %u", ln->record);
	cr_assert_eq(ln->findings[0].letter, 'R');
	cr_assert_eq(ln->findings[0].record, ln->record);
	cr_assert_eq(ln->outcome, TPC_OUTCOME_REFUSED);
}

static void expected(const tpc_line_t *ln, int64_t insurer, int64_t patient)
{
	cr_assert_eq(ln->expected_insurer_cents, insurer, "line %u: insurer %lld, want %lld",
	             ln->record, (long long)ln->expected_insurer_cents, (long long)insurer);
	cr_assert_eq(ln->expected_patient_cents, patient, "line %u: patient %lld, want %lld",
	             ln->record, (long long)ln->expected_patient_cents, (long long)patient);
}

static void invoice_clean(const tpc_invoice_t *inv)
{
	cr_assert_eq(inv->nfindings, 0, "invoice %u: finding %s", inv->record,
	             inv->nfindings ? inv->findings[0].code : "");
	cr_assert_neq(inv->outcome, TPC_OUTCOME_REFUSED);
}

static void invoice_refused_with(const tpc_invoice_t *inv, const char *code, char letter)
{
	cr_assert_eq(inv->nfindings, 1, "invoice %u: %u findings, want %s", inv->record,
	             inv->nfindings, code);
	cr_assert_str_eq(inv->findings[0].code, code);
	cr_assert_eq(inv->findings[0].letter, letter);
	cr_assert_eq(inv->findings[0].record, inv->record);
	cr_assert_eq(inv->outcome, TPC_OUTCOME_REFUSED);
}

/* ---- amounts ------------------------------------------------------------------------------ */

Test(tariff, ordinary_member_pays_the_ordinary_share)
{
	tpc_line_t *a, *b, *c, *d, *e;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1");
	b = line("102771", 20261105, 1, 1960, 750, "L2");
	c = line("102771", 20251231, 1, 1850, 750, "L3"); /* the 2025 tariff row */
	d = line("102771", 20260101, 1, 1960, 750, "L4"); /* the 2026 one from its first day */
	e = line("101032", 20261106, 2, 4800, 1200, "L5");
	apply();
	invoice_clean(&fx.s.invoices[0]);
	accepted(a);
	expected(a, 2400, 600);
	accepted(b);
	expected(b, 1960, 750);
	accepted(c);
	expected(c, 1850, 750);
	accepted(d);
	expected(d, 1960, 750);
	accepted(e);
	expected(e, 4800, 1200);
	cr_assert_eq(fx.s.nfindings, 0);
}

Test(tariff, bim_member_pays_the_reduced_share)
{
	tpc_line_t *a, *b, *c, *d;

	invoice(BIM, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2900, 100, "L1");
	b = line("102771", 20261105, 1, 2560, 150, "L2");
	c = line("102771", 20251231, 1, 2450, 150, "L3");
	invoice(BIM_NOAG, GP, "INV-2"); /* ct1 121 ends in 1: BIM too */
	d = line("101032", 20261105, 3, 8700, 300, "L1");
	apply();
	accepted(a);
	expected(a, 2900, 100);
	accepted(b);
	expected(b, 2560, 150);
	accepted(c);
	expected(c, 2450, 150);
	accepted(d);
	expected(d, 8700, 300);
}

Test(tariff, the_member_period_of_the_date_decides_bim)
{
	tpc_line_t *a, *b;

	/* 75031412581 is ct1 110 until 2026-10-31 and ct1 130 (not BIM) from 2026-11-15 */
	invoice(GAP, HOSPITAL, "INV-1");
	a = line("101032", 20261031, 1, 2400, 600, "L1");
	b = line("101032", 20261115, 1, 2400, 600, "L2");
	apply();
	accepted(a);
	accepted(b);
	expected(b, 2400, 600);
}

Test(tariff, wrong_insurer_amount_is_501940)
{
	tpc_line_t *a, *b, *c;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2900, 600, "L1");  /* the BIM part for an ordinary member */
	b = line("102771", 20261105, 1, 1850, 750, "L2");  /* the 2025 part in 2026 */
	c = line("101032", 20261106, 2, 2400, 1200, "L3"); /* one unit's part for two */
	apply();
	refused_with(a, "501940");
	expected(a, 2400, 600);
	refused_with(b, "501940");
	refused_with(c, "501940");
	expected(c, 4800, 1200);
}

Test(tariff, wrong_patient_share_is_502741)
{
	tpc_line_t *a, *b;

	invoice(BIM, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2900, 600, "L1");
	b = line("101032", 20261106, 1, 2400, 600, "L2"); /* both wrong: two findings */
	apply();
	refused_with(a, "502741");
	expected(a, 2900, 100);
	cr_assert_eq(b->nfindings, 2);
	cr_assert(has_code(b->findings, b->nfindings, "501940"));
	cr_assert(has_code(b->findings, b->nfindings, "502741"));
	cr_assert_eq(b->outcome, TPC_OUTCOME_REFUSED);
}

/* ---- beneficiary, provider, code ---------------------------------------------------------- */

Test(tariff, unknown_niss_is_500820)
{
	tpc_line_t *a;

	invoice("80010100127", HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1");
	apply();
	refused_with(a, "500820");
	expected(a, 0, 0);
	invoice_clean(&fx.s.invoices[0]);
}

Test(tariff, member_not_covered_on_the_date_is_500540)
{
	tpc_line_t *a, *b, *c;

	invoice(GAP, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1"); /* between the two periods */
	invoice(BIM, HOSPITAL, "INV-2");
	b = line("101032", 20231231, 1, 2900, 100, "L1"); /* before the first period */
	invoice(ORDINARY, HOSPITAL, "INV-3");
	c = line("101032", 20191231, 1, 2400, 600, "L1"); /* the beneficiary is checked first */
	apply();
	refused_with(a, "500540");
	refused_with(b, "500540");
	refused_with(c, "500540");
}

Test(tariff, unknown_provider_is_201420_on_the_invoice)
{
	tpc_invoice_t *i1, *i2, *i3;
	tpc_line_t *a;

	i1 = invoice(ORDINARY, "12345678901", "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1");
	i2 = invoice(ORDINARY, "1833478000", "INV-2"); /* ten digits */
	line("101032", 20261106, 1, 2400, 600, "L1");
	i3 = invoice(ORDINARY, GP, "INV-3");
	line("101032", 20261107, 1, 2400, 600, "L1");
	apply();
	invoice_refused_with(i1, "201420", 'F');
	invoice_refused_with(i2, "201420", 'F');
	invoice_clean(i3);
	/* the lines are still tariffed: the answer names their own faults too */
	expected(a, 2400, 600);
	cr_assert_eq(a->nfindings, 0);
}

Test(tariff, code_without_tariff_is_500403)
{
	tpc_line_t *a;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("109594", 20261105, 1, 1000, 0, "L1");
	apply();
	refused_with(a, "500403");
	expected(a, 0, 0);
}

Test(tariff, code_with_a_tariff_at_another_date_is_500420)
{
	tpc_line_t *a, *b;

	/* every sample tariff starts 2024-01-01: clear in mid-2025 (no creation date: today) so
	 * that 2023-12-31 is within the two years */
	fx.s.created = 0;
	fx.today = tpc_test_day(20250601);
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20231231, 1, 2400, 600, "L1");
	b = line("101032", 20240101, 1, 2400, 600, "L2");
	apply();
	refused_with(a, "500420");
	accepted(b);
}

/* ---- dates -------------------------------------------------------------------------------- */

Test(tariff, date_after_creation_is_500510)
{
	tpc_line_t *a, *b;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261121, 1, 2400, 600, "L1");
	b = line("101032", 20261120, 1, 2400, 600, "L2");
	apply();
	refused_with(a, "500510");
	accepted(b);
}

Test(tariff, no_creation_date_uses_today)
{
	tpc_line_t *a, *b;

	fx.s.created = 0;
	fx.today = tpc_test_day(20261110);
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261111, 1, 2400, 600, "L1");
	b = line("101032", 20261110, 1, 2400, 600, "L2");
	apply();
	refused_with(a, "500510");
	accepted(b);
}

Test(tariff, more_than_two_years_before_creation_is_500546)
{
	tpc_line_t *a, *b;

	/* 2024-11-20 .. 2026-11-20 is 730 days (no 29 February in between) */
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20241119, 1, 2400, 600, "L1");
	b = line("101032", 20241120, 1, 2400, 600, "L2");
	apply();
	refused_with(a, "500546");
	accepted(b);
}

Test(tariff, hospitalised_lines_outside_the_stay_are_500511_500513)
{
	tpc_invoice_t *inv, *amb;
	tpc_line_t *before, *first, *last, *after, *free_date;

	inv = invoice(ORDINARY, HOSPITAL, "INV-1");
	inv->kind = TPC_INVOICE_HOSPITALISED;
	inv->admission = tpc_test_day(20261101);
	inv->discharge = tpc_test_day(20261110);
	before = line("101032", 20261031, 1, 2400, 600, "L1");
	first = line("101032", 20261101, 1, 2400, 600, "L2");
	last = line("101032", 20261110, 1, 2400, 600, "L3");
	after = line("101032", 20261111, 1, 2400, 600, "L4");
	/* an ambulatory invoice's admission dates are not checked */
	amb = invoice(BIM, HOSPITAL, "INV-2");
	amb->kind = TPC_INVOICE_AMBULATORY;
	amb->admission = tpc_test_day(20261101);
	amb->discharge = tpc_test_day(20261110);
	free_date = line("101032", 20261111, 1, 2900, 100, "L1");
	apply();
	refused_with(before, "500511");
	accepted(first);
	accepted(last);
	refused_with(after, "500513");
	accepted(free_date);
}

Test(tariff, hospitalised_without_discharge_is_open)
{
	tpc_invoice_t *inv;
	tpc_line_t *a;

	inv = invoice(ORDINARY, HOSPITAL, "INV-1");
	inv->kind = TPC_INVOICE_HOSPITALISED;
	inv->admission = tpc_test_day(20261101);
	a = line("101032", 20261119, 1, 2400, 600, "L1");
	apply();
	accepted(a);
}

/* ---- prior agreement ---------------------------------------------------------------------- */

Test(tariff, code_needing_an_agreement)
{
	tpc_line_t *with, *without, *other_date, *committed;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	with = line("475075", 20261105, 1, 10000, 2000, "L1");
	other_date = line("475075", 20251231, 1, 10000, 2000, "L2");
	invoice(BIM_NOAG, HOSPITAL, "INV-2");
	without = line("475075", 20261105, 1, 11500, 500, "L1");
	committed = line("475075", 20261106, 1, 11500, 500, "L2");
	committed->commitment = view("ET51-000123");
	apply();
	accepted(with);
	expected(with, 10000, 2000);
	refused_with(other_date, "500548");
	refused_with(without, "5004K2");
	accepted(committed);
}

/* ---- max_per_day -------------------------------------------------------------------------- */

Test(tariff, max_per_day_within_the_sending_is_502255)
{
	tpc_line_t *a, *b, *other_day, *other_patient, *two;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("102852", 20261105, 1, 3600, 900, "L1");
	b = line("102852", 20261105, 1, 3600, 900, "L2");
	other_day = line("102852", 20261106, 1, 3600, 900, "L3");
	two = line("102852", 20261107, 2, 7200, 1800, "L4");
	invoice(BIM, HOSPITAL, "INV-2");
	other_patient = line("102852", 20261105, 1, 4300, 200, "L1");
	apply();
	accepted(a);
	refused_with(b, "502255");
	accepted(other_day);
	refused_with(two, "502255");
	accepted(other_patient);
}

Test(tariff, max_per_day_counts_across_invoices_and_units)
{
	tpc_line_t *a, *b, *c, *d;

	/* 560011 allows 4 units a day; another provider's invoice for the same patient counts */
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("560011", 20261105, 3, 1800, 600, "L1");
	invoice(ORDINARY, GP, "INV-9");
	b = line("560011", 20261105, 1, 600, 200, "L1");
	c = line("560011", 20261105, 1, 600, 200, "L2");
	d = line("560011", 20261104, 4, 2400, 800, "L3");
	apply();
	accepted(a);
	accepted(b);
	refused_with(c, "502255");
	accepted(d);
}

Test(tariff, max_per_day_counts_units_already_accepted)
{
	uint8_t key[21];
	tpc_view_t patient = view(ORDINARY);
	int64_t units = 1;
	tpc_line_t *a, *b, *c, *d;

	cr_assert_eq(tpc_tariff_units_key(&patient, "102852", tpc_test_day(20261105), key), 21);
	put(fx.dbs.units, key, sizeof(key), &units, sizeof(units));
	units = 3;
	tpc_tariff_units_key(&patient, "560011", tpc_test_day(20261105), key);
	put(fx.dbs.units, key, sizeof(key), &units, sizeof(units));

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("102852", 20261105, 1, 3600, 900, "L1");
	b = line("102852", 20261106, 1, 3600, 900, "L2");
	c = line("560011", 20261105, 1, 600, 200, "L3");
	d = line("560011", 20261105, 1, 600, 200, "L4");
	apply();
	refused_with(a, "502255");
	accepted(b);
	accepted(c);
	refused_with(d, "502255");
}

/* Units of a line on an invoice that is refused whole (here: unknown provider) are never
 * accepted, yet tpc_tariff_apply counts them in its per-sending units table, so a valid line of
 * another invoice for the same patient, code and day is refused 502255. The ledger writer only
 * counts accepted lines (ledger.c, indexes/units_before), so the two disagree.
 * BUG (minor): fails until lines of an invoice refused at invoice level (201420, 202420) stay
 * out of the units (and dedup) tables - e.g. check the invoice first and skip counting. */
Test(tariff, max_per_day_ignores_lines_of_a_refused_invoice)
{
	tpc_invoice_t *bad;
	tpc_line_t *b;

	bad = invoice(ORDINARY, "12345678901", "INV-1");
	line("102852", 20261105, 1, 3600, 900, "L1");
	invoice(ORDINARY, HOSPITAL, "INV-2");
	b = line("102852", 20261105, 1, 3600, 900, "L1");
	apply();
	invoice_refused_with(bad, "201420", 'F');
	accepted(b);
}

/* ---- duplicates --------------------------------------------------------------------------- */

Test(tariff, the_same_line_twice_is_500423)
{
	tpc_line_t *a, *b, *other_ref, *other_inv, *other_prov;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1");
	b = line("101032", 20261105, 1, 2400, 600, "L1");
	other_ref = line("101032", 20261105, 1, 2400, 600, "L2");
	invoice(ORDINARY, HOSPITAL, "INV-2"); /* another invoice of the same provider */
	other_inv = line("101032", 20261105, 1, 2400, 600, "L1");
	invoice(ORDINARY, GP, "INV-3"); /* another provider */
	other_prov = line("101032", 20261105, 1, 2400, 600, "L1");
	apply();
	accepted(a);
	refused_with(b, "500423");
	accepted(other_ref);
	refused_with(other_inv, "500423");
	accepted(other_prov);
}

Test(tariff, a_line_accepted_earlier_is_500423)
{
	tpc_invoice_t *inv;
	tpc_line_t *a, *b;
	uint8_t id[TPC_TARIFF_ID_LEN];
	uint64_t seq = 7;
	size_t n;

	inv = invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, "L1");
	b = line("101032", 20261105, 1, 2400, 600, "L2");
	n = tpc_tariff_line_identity(inv, a, fx.dbs.dedup_form, id);
	cr_assert_eq(n, TPC_TARIFF_ID_SHORT);
	put(fx.dbs.dedup, id, n, &seq, sizeof(seq));
	apply();
	refused_with(a, "500423");
	accepted(b);
	cr_assert_eq(fx.marks.id_len, n);
	cr_assert_eq(memcmp(fx.marks.dedup[0], id, n), 0);
}

/* A 5-byte big-endian number of a short identity. */
static uint64_t be40(const uint8_t *p)
{
	uint64_t n = 0;

	for (int i = 0; i < 5; i++)
		n = n << 8 | p[i];
	return n;
}

/* The identity is made the ledger's way (store/dbs.h, enum tpc_dedup_form): 40 bytes ending with
 * the reference's BLAKE2b-64 in a ledger created before issue 15, its XXH3-64 in one created
 * since, 18 bytes (provider and patient as numbers, the XXH3-64 of the 40-byte XXH3 identity)
 * in a new one. Either way a line accepted earlier under that ledger's identity is a duplicate,
 * and another form's key is not this one, which is why the choice stays with the ledger. */
Test(tariff, the_line_identity_is_the_ledgers)
{
	static const char *const num[] = {"INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "INV-6"};
	tpc_invoice_t *inv;
	tpc_line_t *a;
	uint8_t blake[8], xxh[8], id[TPC_TARIFF_ID_LEN], long_id[TPC_TARIFF_ID_LEN];
	uint64_t seq = 7, h = XXH3_64bits("L1", 2), hid;
	size_t n;

	crypto_generichash(blake, 8, (const uint8_t *)"L1", 2, NULL, 0);
	for (int i = 0; i < 8; i++)
		xxh[i] = (uint8_t)(h >> (56 - 8 * i));
	for (unsigned form = 0; form <= TPC_DEDUP_XXH3_18; form++) {
		begin();
		fx.dbs.dedup_form = (uint8_t)form;
		inv = invoice(ORDINARY, HOSPITAL, num[2 * form]);
		a = line("101032", 20261105, 1, 2400, 600, "L1");
		n = tpc_tariff_line_identity(inv, a, form, id);
		if (form == TPC_DEDUP_XXH3_18) {
			cr_assert_eq(n, 18);
			cr_assert_eq(be40(id), 18334780004ull, "the provider as a number leads");
			cr_assert_eq(be40(id + 5), 86103130262ull, "then the patient");
			cr_assert_eq(tpc_tariff_line_identity(inv, a, TPC_DEDUP_XXH3_40, long_id),
			             40);
			hid = XXH3_64bits(long_id, 40);
			for (int i = 0; i < 8; i++)
				cr_assert_eq(id[10 + i], (uint8_t)(hid >> (56 - 8 * i)),
				             "then the hash of the 40-byte identity");
		} else {
			cr_assert_eq(n, 40);
			cr_assert_eq(memcmp(id + 32, form ? xxh : blake, 8), 0, "form %u", form);
		}
		apply();
		accepted(
		    a); /* the other forms' keys, stored in the rounds before, are not this one */
		put(fx.dbs.dedup, id, n, &seq, sizeof(seq));
		begin();
		inv = invoice(ORDINARY, HOSPITAL, num[2 * form + 1]);
		a = line("101032", 20261105, 1, 2400, 600, "L1");
		apply();
		refused_with(a, "500423");
	}
}

/* The short identity's numbers keep the index's order (an invoice's lines together, providers
 * in order); a provider or patient that is not 11 digits still gets a key: above every number,
 * or, shorter, padded with zeros as in the 40-byte identity. */
Test(tariff, short_identities_keep_order_and_take_any_number)
{
	tpc_invoice_t *i1, *i2, *i3, *i4;
	tpc_line_t *l1, *l2, *l3, *l4;
	uint8_t a[TPC_TARIFF_ID_LEN], b[TPC_TARIFF_ID_LEN], c[TPC_TARIFF_ID_LEN],
	    d[TPC_TARIFF_ID_LEN];

	i1 = invoice(ORDINARY, GP, "INV-1");
	l1 = line("101032", 20261105, 1, 2400, 600, "L1");
	i2 = invoice(ORDINARY, HOSPITAL, "INV-2");
	l2 = line("101032", 20261105, 1, 2400, 600, "L1");
	i3 = invoice(ORDINARY, "1833478000A", "INV-3");
	l3 = line("101032", 20261105, 1, 2400, 600, "L1");
	i4 = invoice(ORDINARY, "18334780", "INV-4"); /* pads to 18334780000 */
	l4 = line("101032", 20261105, 1, 2400, 600, "L1");
	tpc_tariff_line_identity(i1, l1, TPC_DEDUP_XXH3_18, a);
	tpc_tariff_line_identity(i2, l2, TPC_DEDUP_XXH3_18, b);
	tpc_tariff_line_identity(i3, l3, TPC_DEDUP_XXH3_18, c);
	tpc_tariff_line_identity(i4, l4, TPC_DEDUP_XXH3_18, d);
	cr_assert_lt(memcmp(a, b, 5), 0, "17385467004 before 18334780004");
	cr_assert_gt(memcmp(c, b, 5), 0, "not digits: after every number");
	cr_assert_geq(c[0], 0x80);
	cr_assert_eq(be40(d), 18334780000ull);
}

Test(tariff, an_invoice_number_accepted_earlier_is_202420)
{
	tpc_invoice_t *used, *fresh, *other_prov, *no_number;
	uint8_t key[160];
	size_t klen;
	uint64_t seq = 3;

	used = invoice(ORDINARY, HOSPITAL, "INV-1");
	line("101032", 20261105, 1, 2400, 600, "L1");
	fresh = invoice(ORDINARY, HOSPITAL, "INV-2");
	line("101032", 20261106, 1, 2400, 600, "L1");
	other_prov = invoice(ORDINARY, GP, "INV-1");
	line("101032", 20261107, 1, 2400, 600, "L1");
	no_number = invoice(ORDINARY, HOSPITAL, NULL);
	line("101032", 20261108, 1, 2400, 600, "L1");
	klen = tpc_tariff_invoice_key(used, key, sizeof(key));
	cr_assert_eq(klen, 11 + 5);
	put(fx.dbs.invoices, key, klen, &seq, sizeof(seq));
	apply();
	invoice_refused_with(used, "202420", 'B');
	invoice_clean(fresh);
	invoice_clean(other_prov);
	invoice_clean(no_number);
}

/* Two invoices of one sending with the same provider and number: tpc_tariff_apply only looks
 * the number up in the "invoices" index of earlier sendings, never within the sending, so both
 * stand. The ledger writer's check pass (ledger.c, indexes(check=1)) also only reads the index,
 * then its write pass puts the second key with MDB_NOOVERWRITE, gets MDB_KEYEXIST, and the whole
 * write group - every sending committed with this one - is aborted ("write transaction failed").
 * BUG: fails until tariff.c tracks the invoice keys of the sending (like `seen` for lines) and
 * refuses the repeat with 202420. */
Test(tariff, an_invoice_number_repeated_in_the_sending_is_202420)
{
	tpc_invoice_t *first, *again;

	first = invoice(ORDINARY, HOSPITAL, "INV-1");
	line("101032", 20261105, 1, 2400, 600, "L1");
	again = invoice(BIM, HOSPITAL, "INV-1");
	line("101032", 20261105, 1, 2900, 100, "L1");
	apply();
	invoice_clean(first);
	invoice_refused_with(again, "202420", 'B');
}

/* ---- adapter findings, marks, overflow ---------------------------------------------------- */

Test(tariff, lines_refused_by_the_adapter_are_skipped)
{
	tpc_finding_t f = {.code = "T00001", .letter = 'R', .record = 0, .pos = 1, .len = 1};
	tpc_line_t *r, *o, *sig, *inv_f;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	r = line("101032", 20261105, 1, 1, 1, "L1"); /* wrong amounts, but already refused */
	r->findings[r->nfindings++] = f;
	o = line("109594", 20261105, 1, 1, 1, "L2"); /* refused by outcome alone */
	o->outcome = TPC_OUTCOME_REFUSED;
	inv_f = line("101032", 20261106, 1, 1, 1, "L3");
	f.letter = 'F';
	inv_f->findings[inv_f->nfindings++] = f;
	sig = line("101032", 20261107, 1, 1, 600, "L4"); /* a signal does not refuse */
	f.letter = 'E';
	sig->findings[sig->nfindings++] = f;
	apply();
	cr_assert_eq(r->nfindings, 1);
	cr_assert_str_eq(r->findings[0].code, "T00001");
	expected(r, 0, 0);
	cr_assert_eq(o->nfindings, 0);
	cr_assert_eq(inv_f->nfindings, 1);
	cr_assert_eq(sig->nfindings, 2);
	cr_assert_str_eq(sig->findings[1].code, "501940");
	expected(sig, 2400, 600);
	cr_assert_eq(fx.s.nfindings, 0);
}

Test(tariff, skipped_lines_do_not_count_as_billed)
{
	tpc_finding_t f = {.code = "T00001", .letter = 'R'};
	tpc_line_t *r, *a;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	r = line("102852", 20261105, 1, 3600, 900, "L1");
	r->findings[r->nfindings++] = f;
	a = line("102852", 20261105, 1, 3600, 900, "L1");
	apply();
	accepted(a);
	cr_assert_eq(fx.marks.max_per_day[1], 1);
}

Test(tariff, marks_carry_identity_and_max_per_day)
{
	tpc_invoice_t *i1, *i2;
	uint8_t id[TPC_TARIFF_ID_LEN];

	i1 = invoice(ORDINARY, HOSPITAL, "INV-1");
	line("102852", 20261105, 1, 3600, 900, "L1"); /* accepted, max 1 */
	line("102852", 20261105, 1, 3600, 900, "L2"); /* refused 502255 */
	line("101032", 20261105, 1, 2400, 600, "L3"); /* accepted, no maximum */
	line("560011", 20261105, 1, 600, 200, "L4");  /* accepted, max 4 */
	line("560011", 20261105, 1, 600, 201, "L5");  /* refused 502741 */
	i2 = invoice(BIM, HOSPITAL, "INV-2");
	line("560011", 20261105, 2, 1500, 100, "L1"); /* accepted, max 4 */
	apply();
	cr_assert_eq(fx.marks.nlines, 6);
	cr_assert_not_null(fx.marks.dedup);
	cr_assert_not_null(fx.marks.max_per_day);
	cr_assert_eq(fx.marks.id_len, TPC_TARIFF_ID_SHORT);
	for (uint32_t i = 0; i < 6; i++) {
		tpc_tariff_line_identity(i < 5 ? i1 : i2, &fx.s.lines[i], fx.dbs.dedup_form, id);
		cr_assert_eq(memcmp(fx.marks.dedup[i], id, TPC_TARIFF_ID_SHORT), 0,
		             "identity of line %u", i);
	}
	cr_assert_eq(fx.marks.max_per_day[0], 1);
	cr_assert_eq(fx.marks.max_per_day[1], 0);
	cr_assert_eq(fx.marks.max_per_day[2], 0);
	cr_assert_eq(fx.marks.max_per_day[3], 4);
	cr_assert_eq(fx.marks.max_per_day[4], 0);
	cr_assert_eq(fx.marks.max_per_day[5], 4);
	/* identities differ by provider, patient, code, date and reference */
	cr_assert_neq(memcmp(fx.marks.dedup[0], fx.marks.dedup[1], TPC_TARIFF_ID_SHORT), 0);
	cr_assert_neq(memcmp(fx.marks.dedup[0], fx.marks.dedup[2], TPC_TARIFF_ID_SHORT), 0);
	cr_assert_neq(memcmp(fx.marks.dedup[3], fx.marks.dedup[5], TPC_TARIFF_ID_SHORT), 0);
	cr_assert_eq(be40(fx.marks.dedup[0]), 18334780004ull, "provider leads");
	cr_assert_eq(be40(fx.marks.dedup[0] + 5), 86103130262ull, "then the patient");
}

Test(tariff, findings_past_three_go_to_the_sending)
{
	tpc_finding_t f = {.code = "T00002", .letter = 'E'};
	tpc_line_t *a;

	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 1, 1, "L1");
	a->findings[a->nfindings++] = f;
	a->findings[a->nfindings++] = f;
	apply();
	cr_assert_eq(a->nfindings, 3);
	cr_assert_str_eq(a->findings[2].code, "501940");
	cr_assert_eq(a->outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(fx.s.nfindings, 1);
	cr_assert_str_eq(fx.s.findings[0].code, "502741");
	cr_assert_eq(fx.s.findings[0].record, a->record);
}

Test(tariff, a_blocked_sending_is_not_tariffed)
{
	tpc_line_t *a;

	fx.s.blocked = 1;
	invoice("80010100127", "12345678901", "INV-1");
	a = line("109594", 20301105, 1, 1, 1, "L1");
	apply();
	cr_assert_eq(a->nfindings, 0);
	cr_assert_eq(fx.s.invoices[0].nfindings, 0);
}

/* ---- empty views and other degenerate input ----------------------------------------------- */

Test(tariff, empty_sending)
{
	apply();
	cr_assert_eq(fx.marks.nlines, 0);
	cr_assert_eq(fx.s.nfindings, 0);
}

Test(tariff, empty_views_never_crash)
{
	tpc_invoice_t *no_patient, *short_patient, *no_provider, *bare;
	tpc_line_t *a, *b, *c, *d, *e, *f;

	/* lines without a reference: identities are still computed, and equal ones are repeats */
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2400, 600, NULL);
	b = line("101032", 20261105, 1, 2400, 600, NULL);
	c = line("", 20261106, 1, 2400, 600, NULL); /* no code at all */
	/* an invoice with no patient: its lines cannot be tariffed (the adapter refuses them) */
	no_patient = invoice(NULL, HOSPITAL, "INV-2");
	d = line("101032", 20261105, 1, 2400, 600, "L1");
	short_patient = invoice("8610313026", HOSPITAL, "INV-3");
	e = line("101032", 20261105, 1, 2400, 600, "L1");
	/* no provider and no number */
	no_provider = invoice(ORDINARY, NULL, NULL);
	f = line("101032", 20261107, 1, 2400, 600, NULL);
	/* nothing at all, and no lines */
	bare = invoice(NULL, NULL, NULL);
	apply();
	accepted(a);
	refused_with(b, "500423");
	refused_with(c, "500403");
	cr_assert_eq(d->nfindings, 0);
	cr_assert_eq(e->nfindings, 0);
	invoice_clean(no_patient);
	invoice_clean(short_patient);
	invoice_refused_with(no_provider, "201420", 'F');
	accepted(f);
	invoice_refused_with(bare, "201420", 'F');
	/* the identity of a line with empty views is zero-padded and deterministic */
	{
		uint8_t id[TPC_TARIFF_ID_LEN];

		cr_assert_eq(tpc_tariff_line_identity(no_patient, d, TPC_DEDUP_XXH3_40, id), 40);
		cr_assert_eq(memcmp(id + 11, "00000000000", 11), 0);
		tpc_tariff_line_identity(no_patient, d, fx.dbs.dedup_form, id);
		cr_assert_eq(memcmp(fx.marks.dedup[3], id, TPC_TARIFF_ID_SHORT), 0);
		cr_assert_eq(be40(id + 5), 0, "no patient: the number 0");
	}
}

Test(tariff, key_helpers_on_empty_and_long_views)
{
	tpc_invoice_t inv;
	uint8_t key[160], small[16];
	tpc_view_t empty = {NULL, 0};
	char big[200];

	memset(&inv, 0, sizeof(inv));
	cr_assert_eq(tpc_tariff_invoice_key(&inv, key, sizeof(key)), 11);
	cr_assert_eq(memcmp(key, "00000000000", 11), 0);
	cr_assert_eq(tpc_tariff_units_key(&empty, "101032", 0, key), 21);
	inv.provider = view(HOSPITAL);
	inv.number = view("INV-0001");
	cr_assert_eq(tpc_tariff_invoice_key(&inv, small, sizeof(small)), 0, "too long for cap");
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	inv.number = view(big);
	cr_assert_eq(tpc_tariff_invoice_key(&inv, key, sizeof(key)), 0);
	inv.previous = view("INV-0001");
	cr_assert_eq(tpc_tariff_credit_key(&inv, key, sizeof(key)), 12 + 8);
	cr_assert_eq(key[0], '~');
	inv.previous = view(big);
	cr_assert_eq(tpc_tariff_credit_key(&inv, key, sizeof(key)), 0);
}

Test(tariff, describe_names_every_code_it_emits)
{
	static const char *const codes[] = {"500820", "500540", "201420", "500403", "500420",
	                                    "500510", "500546", "500511", "500513", "501940",
	                                    "502741", "5004K2", "500548", "502255", "500423",
	                                    "202420", "202920", "202921"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		cr_assert_not_null(tpc_tariff_describe(codes[i]), "%s", codes[i]);
	cr_assert_null(tpc_tariff_describe("999999"));
	cr_assert_null(tpc_tariff_describe(""));
}

Test(tariff, a_reload_is_seen_by_the_next_snapshot)
{
	char err[256];
	tpc_ref_table_t t;
	MDB_txn *txn;
	tpc_line_t *a;
	const char *csv = "code,valid_from,valid_to,fee,insurer,insurer_bim,flags\n"
	                  "101032,2024-01-01,,3100,2500,3000,\n";

	cr_assert_eq(tpc_refdata_parse(TPC_REF_TARIFFS, "t.csv", csv, strlen(csv), fx.arena, &t,
	                               err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, 0, &txn), 0);
	cr_assert_eq(tpc_refdata_replace(txn, &fx.dbs.ref, &t), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	invoice(ORDINARY, HOSPITAL, "INV-1");
	a = line("101032", 20261105, 1, 2500, 600, "L1");
	line("102771", 20261105, 1, 1960, 750, "L2");
	apply();
	accepted(a);
	expected(a, 2500, 600);
	refused_with(&fx.s.lines[1], "500403");
}
