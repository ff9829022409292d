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
