/* tests/unit/support/gen/test_efact_gen.c - the eFact writer and the committed samples: what the
 * writer and tpcgen produce decodes with exactly the findings intended. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "common/check.h"
#include "efact/efact.h"
#include "gen/efact_gen.h"

static tpc_arena_t *arena;
static tpc_host_t host;

static void setup(void)
{
	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &arena), 0);
	memset(&host, 0, sizeof(host));
	host.alloc = tpc_arena_host_alloc;
	host.arena = arena;
}

static void teardown(void)
{
	tpc_arena_free(&arena);
}

TestSuite(efact_gen, .init = setup, .fini = teardown);

static uint8_t *slurp(const char *rel, size_t *len)
{
	const char *root = getenv("TPC_SOURCE_DIR");
	char path[4096];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Every finding as "code@record " in one string. */
static void findings(const tpc_sending_t *s, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < s->nfindings; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s@%u ", s->findings[i].code,
		                      s->findings[i].record);
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (unsigned k = 0; k < s->invoices[i].nfindings; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s@%u ",
			                      s->invoices[i].findings[k].code,
			                      s->invoices[i].findings[k].record);
	for (uint32_t i = 0; i < s->nlines; i++)
		for (unsigned k = 0; k < s->lines[i].nfindings; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s@%u ",
			                      s->lines[i].findings[k].code,
			                      s->lines[i].findings[k].record);
}

static void decode(const uint8_t *buf, size_t len, tpc_sending_t *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(tpc_efact_adapter.decode(NULL, buf, len, &host, s), 0);
}

Test(efact_gen, clean_samples_decode_without_findings)
{
	static const char *files[] = {"tests/data/efact/clean.920000",
	                              "config/samples/sample-hospital.920000",
	                              "config/samples/sample-gp.920000"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *p = slurp(files[i], &len);
		tpc_sending_t s;
		char msg[2048];

		decode(p, len, &s);
		findings(&s, msg, sizeof(msg));
		cr_expect_str_eq(msg, "", "%s", files[i]);
		cr_expect_geq(s.ninvoices, 3, "%s", files[i]);
		cr_expect_eq(s.blocked, 0);
		free(p);
		tpc_arena_reset(arena);
	}
}

Test(efact_gen, faults_sample_holds_one_fault_per_line)
{
	size_t len;
	uint8_t *p = slurp("tests/data/efact/faults.920000", &len);
	tpc_sending_t s;
	char msg[2048];

	/* as printed by: tpcgen efact --seed 4 --invoices 4 --max-lines 6 --faults 35 */
	decode(p, len, &s);
	findings(&s, msg, sizeof(msg));
	cr_assert_str_eq(msg, "502203@3 500402@4 502203@12 500612@18 501502@20 502712@21 ");
	cr_assert_eq(s.blocked, 0);
	for (uint32_t i = 0; i < s.nlines; i++)
		cr_assert_eq(s.lines[i].outcome,
		             s.lines[i].nfindings ? TPC_OUTCOME_REFUSED : TPC_OUTCOME_PENDING);
	free(p);
}

Test(efact_gen, generated_sample_decodes_without_findings)
{
	size_t len;
	uint8_t *p = tpc_efact_sample(77, 0, 6, 9, &len);
	tpc_sending_t s;
	char msg[2048];

	cr_assert_not_null(p);
	decode(p, len, &s);
	findings(&s, msg, sizeof(msg));
	cr_assert_str_eq(msg, "");
	cr_assert_eq(s.ninvoices, 6);
	cr_assert_eq(s.nlines, 54);
	free(p);
}

static tpc_efact_line_in_t line(const char *code, int64_t ins)
{
	tpc_efact_line_in_t l;

	memset(&l, 0, sizeof(l));
	snprintf(l.code, sizeof(l.code), "%s", code);
	l.date = 20261110;
	l.units = 1;
	l.insurer_cents = ins;
	l.patient_cents = 100;
	snprintf(l.performer, sizeof(l.performer), "18334780004");
	return l;
}

Test(efact_gen, one_record_95_per_mutuality_in_ascending_order)
{
	static tpc_efact_line_in_t l[3];
	static tpc_efact_invoice_in_t inv[3];
	static const char *muts[] = {"100", "300", "300"};
	tpc_efact_sending_in_t s;
	uint8_t *out;
	size_t len;
	tpc_sending_t d;
	char msg[1024];
	const char *r;
	int64_t v;
	uint64_t u;

	l[0] = line("101032", 1000);
	l[1] = line("102771", 2000);
	l[2] = line("102852", 4000);
	memset(inv, 0, sizeof(inv));
	for (int i = 0; i < 3; i++) {
		snprintf(inv[i].niss, sizeof(inv[i].niss), "86103130262");
		snprintf(inv[i].number, sizeof(inv[i].number), "%d", 500 + i);
		snprintf(inv[i].mutuality, sizeof(inv[i].mutuality), "%s", muts[i]);
		inv[i].lines = &l[i];
		inv[i].nlines = 1;
	}
	tpc_efact_sending_head(&s, "20261100000777", 7, 0);
	s.invoices = inv;
	s.ninvoices = 3;
	cr_assert_eq(tpc_efact_write(&s, &out, &len), 0);
	/* 10, 3 x (20 50 80), 90, 95 (100), 95 (300), 96 */
	cr_assert_eq(len, TPC_EFACT_HEADER + 14 * TPC_EFACT_RECORD);
	decode(out, len, &d);
	findings(&d, msg, sizeof(msg));
	cr_assert_str_eq(msg, "");
	r = (const char *)out + TPC_EFACT_HEADER + 11 * TPC_EFACT_RECORD;
	cr_assert_eq(memcmp(r, "95", 2), 0);
	cr_assert_eq(memcmp(r + 4, "100", 3), 0);
	cr_assert_eq(memcmp(r + 9, "261100000777", 12), 0);
	r += TPC_EFACT_RECORD;
	cr_assert_eq(memcmp(r + 4, "300", 3), 0);
	cr_assert_eq(tpc_check_parse_signed(r + 23, 12, &v), 0);
	cr_assert_eq(v, 6000);
	cr_assert_eq(tpc_check_parse_uint(r + 65, 8, &u), 0);
	cr_assert_eq(u, 6); /* two invoices of three records */
	cr_assert_eq(tpc_check_parse_uint(r + 75, 2, &u), 0);
	cr_assert_eq(u, tpc_check_control97(102771 + 102852));
	r += TPC_EFACT_RECORD;
	cr_assert_eq(memcmp(r, "96", 2), 0);
	cr_assert_eq(tpc_check_parse_signed(r + 51, 12, &v), 0);
	cr_assert_eq(v, 7000);
	cr_assert_eq(tpc_check_parse_uint(r + 65, 8, &u), 0);
	cr_assert_eq(u, 11); /* ET10 .. ET90 */
	free(out);
}

Test(efact_gen, refuses_fields_that_do_not_fit)
{
	static tpc_efact_line_in_t l[1];
	static tpc_efact_invoice_in_t inv[1];
	tpc_efact_sending_in_t s;
	uint8_t *out = NULL;
	size_t len;

	l[0] = line("10103A", 1000); /* not digits */
	memset(inv, 0, sizeof(inv));
	snprintf(inv[0].niss, sizeof(inv[0].niss), "86103130262");
	snprintf(inv[0].mutuality, sizeof(inv[0].mutuality), "100");
	inv[0].lines = l;
	inv[0].nlines = 1;
	memset(&s, 0, sizeof(s));
	snprintf(s.reference, sizeof(s.reference), "20261100000777");
	snprintf(s.third_party, sizeof(s.third_party), "18334780004");
	s.invoices = inv;
	s.ninvoices = 1;
	cr_assert_eq(tpc_efact_write(&s, &out, &len), TPC_ADAPTER_EINVAL);
	cr_assert_null(out);
	snprintf(l[0].code, sizeof(l[0].code), "101032");
	snprintf(s.reference, sizeof(s.reference), "2026110000077A");
	cr_assert_eq(tpc_efact_write(&s, &out, &len), TPC_ADAPTER_EINVAL);
	snprintf(s.reference, sizeof(s.reference), "20261100000777");
	cr_assert_eq(tpc_efact_write(&s, &out, &len), 0);
	free(out);
}

Test(efact_gen, reseal_recomputes_the_record_control)
{
	size_t len;
	uint8_t *p = tpc_efact_sample(3, 0, 1, 1, &len);
	char *rec = (char *)p + TPC_EFACT_HEADER;
	uint64_t u;

	rec[140] = 'Z';
	tpc_efact_reseal(rec);
	cr_assert_eq(tpc_check_parse_uint(rec + 348, 2, &u), 0);
	cr_assert_eq(u, tpc_check_record_control(rec, 348));
	free(p);
}

/* ---- sendings as hospital software writes them (efact-real.md 2) ---------------------------- */

/* Record @p k (1-based) of a written file. */
static const char *rec_at(const uint8_t *p, uint32_t k)
{
	return (const char *)p + TPC_EFACT_HEADER + (size_t)(k - 1) * TPC_EFACT_RECORD;
}

static uint64_t uint_at(const char *rec, unsigned pos, unsigned width)
{
	uint64_t u = UINT64_MAX;

	cr_assert_eq(tpc_check_parse_uint(rec + pos - 1, width, &u), 0, "%.*s", (int)width,
	             rec + pos - 1);
	return u;
}

static int all_of(const char *rec, unsigned pos, unsigned width, char c)
{
	return tpc_check_all_char(rec + pos - 1, width, c);
}

Test(efact_gen, hospital_sample_has_et21_et52_and_the_fillers_where_real_files_put_them)
{
	static const char *types[] = {"10", "20", "21", "50", "52", "50", "51", "52", "80",
	                              "20", "21", "50", "52", "80", "90", "95", "95", "96"};
	size_t len;
	uint8_t *p = tpc_efact_hospital_sample("20261100000901", TPC_EFACT_COUNTS_TPCLEAR, &len);

	cr_assert_not_null(p);
	cr_assert_eq(len, TPC_EFACT_HEADER + 18 * TPC_EFACT_RECORD);
	for (uint32_t k = 1; k <= 18; k++)
		cr_assert_eq(memcmp(rec_at(p, k), types[k - 1], 2), 0, "record %u", k);
	/* unused account B in spaces: ET10 and ET90 BIC B and IBAN B, ET20 reference B */
	for (uint32_t k = 1; k <= 15; k += 14) {
		cr_assert(all_of(rec_at(p, k), 219, 11, ' '), "record %u BIC B", k);
		cr_assert(all_of(rec_at(p, k), 271, 34, ' '), "record %u IBAN B", k);
	}
	cr_assert(all_of(rec_at(p, 2), 271, 22, ' '));
	/* ET50: product label thirty '+', zone 47 in zeros, 283-286 and 316 as given */
	cr_assert(all_of(rec_at(p, 4), 231, 30, '+'));
	cr_assert(all_of(rec_at(p, 4), 262, 8, '0'));
	cr_assert_eq(rec_at(p, 4)[285], '1');
	cr_assert_eq(memcmp(rec_at(p, 6) + 282, "100", 3), 0);
	cr_assert_eq(rec_at(p, 6)[315], '1');
	/* ET52 carries the code of its line; discharge hour in ET20 and ET80 */
	cr_assert_eq(memcmp(rec_at(p, 5) + 9, "0101032", 7), 0);
	cr_assert_eq(memcmp(rec_at(p, 8) + 9, "0102771", 7), 0);
	cr_assert_eq(memcmp(rec_at(p, 2) + 107, "01430", 5), 0);
	cr_assert_eq(memcmp(rec_at(p, 9) + 107, "01430", 5), 0);
	cr_assert_eq(memcmp(rec_at(p, 10) + 107, "00000", 5), 0);
	/* the invoice control sums the codes of ET50, ET51 and ET52 (efact-real.md 2) */
	cr_assert_eq(uint_at(rec_at(p, 9), 347, 2), tpc_check_control97(2 * 101032 + 3 * 102771));
	cr_assert_eq(uint_at(rec_at(p, 14), 347, 2), tpc_check_control97(2 * 101032));
	cr_assert_eq(uint_at(rec_at(p, 15), 347, 2), tpc_check_control97(4 * 101032 + 3 * 102771));
	/* 95/96 amount C and its error field blank */
	for (uint32_t k = 16; k <= 18; k++)
		cr_assert(all_of(rec_at(p, k), 80, 14, ' '), "record %u", k);
	free(p);
}

Test(efact_gen, hospital_sample_counts_in_each_style)
{
	/* 95 (300), 95 (600), 96 */
	static const struct {
		int style;
		uint64_t c300, c600, c96;
	} want[] = {
	    {TPC_EFACT_COUNTS_TPCLEAR, 8, 5, 15}, /* ET20..ET80 of the mutuality; ET10..ET90 */
	    {TPC_EFACT_COUNTS_NO_ET52, 6, 4, 12}, /* the same without the three ET52 */
	    {TPC_EFACT_COUNTS_CIN, 6, 6, 8},      /* fixed */
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t len;
		uint8_t *p = tpc_efact_hospital_sample("20261100000901", want[i].style, &len);

		cr_assert_not_null(p);
		cr_assert_eq(uint_at(rec_at(p, 16), 66, 8), want[i].c300, "style %d",
		             want[i].style);
		cr_assert_eq(uint_at(rec_at(p, 17), 66, 8), want[i].c600, "style %d",
		             want[i].style);
		cr_assert_eq(uint_at(rec_at(p, 18), 66, 8), want[i].c96, "style %d", want[i].style);
		free(p);
	}
}

Test(efact_gen, hospital_sample_decodes_clean_and_other_counts_are_a_signal_only)
{
	static const struct {
		int style;
		const char *findings;
	} want[] = {
	    {TPC_EFACT_COUNTS_TPCLEAR, ""},
	    {TPC_EFACT_COUNTS_NO_ET52, "T30018@16 T30018@17 T30018@18 "},
	    {TPC_EFACT_COUNTS_CIN, "T30018@16 T30018@17 T30018@18 "},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t len;
		uint8_t *p = tpc_efact_hospital_sample("20261100000901", want[i].style, &len);
		tpc_sending_t s;
		char msg[2048];

		cr_assert_not_null(p);
		decode(p, len, &s);
		findings(&s, msg, sizeof(msg));
		cr_assert_str_eq(msg, want[i].findings, "style %d: %s", want[i].style, msg);
		cr_assert_eq(s.blocked, 0);
		cr_assert_eq(s.ninvoices, 2);
		cr_assert_eq(s.nlines, 3);
		for (uint32_t k = 0; k < s.ninvoices; k++)
			cr_assert_eq(s.invoices[k].outcome, TPC_OUTCOME_PENDING);
		for (uint32_t k = 0; k < s.nfindings; k++)
			cr_assert_eq(s.findings[k].letter, 'S');
		free(p);
		tpc_arena_reset(arena);
	}
}

Test(efact_gen, styles_leave_the_default_bytes_alone)
{
	/* the committed samples are the writer's default output: the new fields at zero write what
	 * the writer wrote before them (S1's +0000000 at 262-269, zeros in account B) */
	size_t len;
	uint8_t *p = tpc_efact_sample(1, 0, 1, 1, &len);

	cr_assert_not_null(p);
	cr_assert_eq(memcmp(rec_at(p, 3) + 261, "+0000000", 8), 0);
	cr_assert(all_of(rec_at(p, 3), 231, 30, '0'));
	cr_assert(all_of(rec_at(p, 1), 271, 34, '0'));
	cr_assert_eq(memcmp(rec_at(p, 5), "90", 2), 0);
	cr_assert_eq(memcmp(rec_at(p, 6) + 79, "+00000000000", 12), 0);
	free(p);
}
