/* tests/unit/adapters/canonical/test_canonical.c - the built-in "canonical" adapter
 * (adapters/canonical).
 *
 * Each test starts from one valid tpclear.CanonicalSending (two invoices of two lines), applies
 * one targeted fault, packs it with protobuf-c and decodes it through tpc_canonical_adapter with
 * a host over a tpc_arena, as a worker does.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "canonical/canonical.h"
#include "tpclear.pb-c.h"

#define MAXI 4
#define MAXL 8

static Tpclear__CanonicalSending cs;
static Tpclear__CanonicalInvoice inv[MAXI], *invp[MAXI];
static Tpclear__CanonicalLine ln[MAXI][MAXL], *lnp[MAXI][MAXL];
static tpc_arena_t *arena;
static uint8_t *payload; /* the packed message: views in the sending may point into it */
static tpc_sending_t out;

/* Days since 1970-01-01 of the dates used below. */
#define D_20240101 19723
#define D_20240110 19732
#define D_20240111 19733
#define D_20240112 19734
#define D_20240115 19737
#define D_20240229 19782

static void set_line(int i, int k, const char *code, int32_t date, int32_t units, int64_t insurer,
                     int64_t patient)
{
	Tpclear__CanonicalLine *l = &ln[i][k];

	tpclear__canonical_line__init(l);
	l->code = (char *)code;
	l->date = date;
	l->units = units;
	l->insurer_cents = insurer;
	l->patient_cents = patient;
	lnp[i][k] = l;
}

static void setup(void)
{
	tpclear__canonical_sending__init(&cs);
	cs.reference = "12345678901234";
	cs.third_party = "18334780004";
	cs.created = 20240115;
	cs.year_month = 202401;
	cs.n_invoices = 2;
	cs.invoices = invp;
	for (int i = 0; i < MAXI; i++) {
		tpclear__canonical_invoice__init(&inv[i]);
		invp[i] = &inv[i];
		inv[i].lines = lnp[i];
	}
	inv[0].patient = "86103130262";
	inv[0].provider = "18334780004";
	inv[0].number = "INV-1";
	inv[0].mutuality = "600";
	inv[0].n_lines = 2;
	set_line(0, 0, "101032", 20240110, 1, 2500, 500);
	ln[0][0].performer = "17385467004";
	ln[0][0].reference = "ref-0";
	set_line(0, 1, "102771", 20240111, 2, 4000, 0);
	ln[0][1].date_last = 20240112;

	inv[1].patient = "05031412595";
	inv[1].provider = "17385467004";
	inv[1].number = "INV-2";
	inv[1].kind = 1;
	inv[1].admission = 20240101;
	inv[1].discharge = 20240115;
	inv[1].n_lines = 2;
	set_line(1, 0, "102852", 20240229, 1, 1234, 100);
	set_line(1, 1, "475075", 20240115, 3, 999, 1);

	cr_assert_eq(tpc_arena_new(4096, 0, &arena), 0);
	payload = NULL;
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	free(payload);
	tpc_arena_free(&arena);
}

TestSuite(canonical, .init = setup, .fini = teardown, .timeout = 60);

/* Decode @p buf into out with the given bounds. */
static int decode_bytes(const uint8_t *buf, size_t len, uint32_t max_inv, uint32_t max_lines)
{
	tpc_host_t host = {tpc_arena_host_alloc, arena, max_inv, max_lines, NULL};

	memset(&out, 0, sizeof(out));
	return tpc_canonical_adapter.decode(NULL, buf, len, &host, &out);
}

/* Pack cs and decode it. */
static int decode_bounded(uint32_t max_inv, uint32_t max_lines)
{
	size_t len = tpclear__canonical_sending__get_packed_size(&cs);

	free(payload);
	payload = malloc(len ? len : 1);
	cr_assert_not_null(payload);
	cr_assert_eq(tpclear__canonical_sending__pack(&cs, payload), len);
	return decode_bytes(payload, len, max_inv, max_lines);
}

static void decode_ok(void)
{
	int rc = decode_bounded(0, 0);

	cr_assert_eq(rc, 0, "decode returned %d", rc);
}

static int view_eq(tpc_view_t v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

/* Findings anywhere in the sending. */
static unsigned total_findings(void)
{
	unsigned n = out.nfindings;

	for (uint32_t i = 0; i < out.ninvoices; i++)
		n += out.invoices[i].nfindings;
	for (uint32_t i = 0; i < out.nlines; i++)
		n += out.lines[i].nfindings;
	return n;
}

static const tpc_finding_t *find_in(const tpc_finding_t *f, unsigned n, const char *code)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(f[i].code, code) == 0)
			return &f[i];
	return NULL;
}

static void check_finding(const tpc_finding_t *f, const char *code, char letter, uint32_t record,
                          uint16_t pos)
{
	cr_assert_not_null(f, "no finding %s", code);
	cr_assert_eq(f->letter, letter, "%s: letter %c, expected %c", code, f->letter, letter);
	cr_assert_eq(f->record, record, "%s: record %u, expected %u", code, f->record, record);
	cr_assert_eq(f->pos, pos, "%s: pos %u, expected %u", code, f->pos, pos);
	cr_assert_not_null(tpc_canonical_adapter.describe(NULL, code), "%s not described", code);
}

/* Exactly one finding, @p code, on invoice @p i. */
static void expect_invoice_finding(uint32_t i, const char *code, char letter, uint16_t pos)
{
	const tpc_invoice_t *v = &out.invoices[i];

	check_finding(find_in(v->findings, v->nfindings, code), code, letter, v->record, pos);
	cr_assert_eq(total_findings(), 1, "%s: %u findings in all", code, total_findings());
	cr_assert_eq(out.blocked, 0);
}

/* Exactly one finding, @p code, on line @p k (index in out.lines). */
static void expect_line_finding(uint32_t k, const char *code, char letter, uint16_t pos)
{
	const tpc_line_t *l = &out.lines[k];

	check_finding(find_in(l->findings, l->nfindings, code), code, letter, l->record, pos);
	cr_assert_eq(total_findings(), 1, "%s: %u findings in all", code, total_findings());
	cr_assert_eq(out.blocked, 0);
}

Test(canonical, valid_sending_decodes_without_findings)
{
	decode_ok();
	cr_assert_eq(total_findings(), 0, "%u findings", total_findings());
	cr_assert_eq(out.blocked, 0);
	cr_assert(view_eq(out.reference, "12345678901234"));
	cr_assert(view_eq(out.third_party, "18334780004"));
	cr_assert_eq(out.created, D_20240115);
	cr_assert_eq(out.year_month, 202401);
	cr_assert_eq(out.ninvoices, 2);
	cr_assert_eq(out.nlines, 4);
	cr_assert_eq(out.nrecords, 6);
	cr_assert_eq(out.total_cents, 2500 + 4000 + 1234 + 999);

	const tpc_invoice_t *a = &out.invoices[0], *b = &out.invoices[1];
	cr_assert_eq(a->record, 1);
	cr_assert(view_eq(a->patient, "86103130262"));
	cr_assert(view_eq(a->provider, "18334780004"));
	cr_assert(view_eq(a->number, "INV-1"));
	cr_assert_eq(memcmp(a->mutuality, "600", 3), 0);
	cr_assert_eq(a->first_line, 0);
	cr_assert_eq(a->nlines, 2);
	cr_assert_eq(a->total_insurer_cents, 6500);
	cr_assert_eq(a->total_patient_cents, 500);
	cr_assert_eq(a->kind, TPC_INVOICE_AMBULATORY);
	cr_assert_eq(a->invoicing, TPC_INVOICING_NORMAL);
	cr_assert_eq(b->record, 4);
	cr_assert(view_eq(b->patient, "05031412595"));
	cr_assert_eq(b->first_line, 2);
	cr_assert_eq(b->nlines, 2);
	cr_assert_eq(b->kind, TPC_INVOICE_HOSPITALISED);
	cr_assert_eq(b->admission, D_20240101);
	cr_assert_eq(b->discharge, D_20240115);
	cr_assert_eq(b->total_insurer_cents, 2233);
	cr_assert_eq(b->total_patient_cents, 101);

	const tpc_line_t *l = out.lines;
	cr_assert_eq(l[0].record, 2);
	cr_assert_str_eq(l[0].code, "101032");
	cr_assert_eq(l[0].date_first, D_20240110);
	cr_assert_eq(l[0].date_last, D_20240110, "a single act ends on its first day");
	cr_assert_eq(l[0].units, 1);
	cr_assert_eq(l[0].insurer_cents, 2500);
	cr_assert_eq(l[0].patient_cents, 500);
	cr_assert(view_eq(l[0].performer, "17385467004"));
	cr_assert(view_eq(l[0].reference, "ref-0"));
	cr_assert_eq(l[1].record, 3);
	cr_assert_str_eq(l[1].code, "102771");
	cr_assert_eq(l[1].date_first, D_20240111);
	cr_assert_eq(l[1].date_last, D_20240112);
	cr_assert_eq(l[1].units, 2);
	cr_assert_eq(l[2].record, 5);
	cr_assert_str_eq(l[2].code, "102852");
	cr_assert_eq(l[2].date_first, D_20240229, "leap day");
	cr_assert_eq(l[3].record, 6);
	cr_assert_str_eq(l[3].code, "475075");
	cr_assert_eq(l[3].units, 3);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(l[i].outcome, TPC_OUTCOME_PENDING, "judging is the engine's job");
}

Test(canonical, valid_credit_note_has_no_findings)
{
	inv[1].invoicing = TPC_INVOICING_CREDIT_NOTE;
	inv[1].previous = "INV-0";
	for (int k = 0; k < 2; k++) {
		ln[1][k].units = -ln[1][k].units;
		ln[1][k].insurer_cents = -ln[1][k].insurer_cents;
		ln[1][k].patient_cents = -ln[1][k].patient_cents;
	}
	decode_ok();
	cr_assert_eq(total_findings(), 0, "%u findings", total_findings());
	cr_assert_eq(out.invoices[1].invoicing, TPC_INVOICING_CREDIT_NOTE);
	cr_assert(view_eq(out.invoices[1].previous, "INV-0"));
	cr_assert_eq(out.invoices[1].total_insurer_cents, -2233);
}

/* ---- one finding per targeted fault -------------------------------------------------------- */

Test(canonical, garbage_is_blocked_with_t20001)
{
	static const uint8_t bad_wiretype[] = {0x0f, 0x00, 0x01};
	static const uint8_t truncated_varint[] = {0xff, 0xff, 0xff};
	static const uint8_t overlong_field[] = {0x2a, 0x50, 0x01};
	const struct {
		const uint8_t *p;
		size_t len;
	} cases[] = {{bad_wiretype, sizeof(bad_wiretype)},
	             {truncated_varint, sizeof(truncated_varint)},
	             {overlong_field, sizeof(overlong_field)}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(decode_bytes(cases[i].p, cases[i].len, 0, 0), 0,
		             "case %zu: garbage is a finding, not an error", i);
		cr_assert_eq(out.blocked, 1, "case %zu", i);
		cr_assert_eq(out.nfindings, 1, "case %zu", i);
		cr_assert_str_eq(out.findings[0].code, "T20001");
		cr_assert_eq(out.findings[0].letter, 'B');
		cr_assert_eq(out.ninvoices, 0);
		cr_assert_eq(out.nlines, 0);
	}
}

Test(canonical, no_invoice_is_blocked_with_t20002)
{
	cs.n_invoices = 0;
	decode_ok();
	cr_assert_eq(out.blocked, 1);
	cr_assert_eq(out.nfindings, 1);
	cr_assert_str_eq(out.findings[0].code, "T20002");
	cr_assert_eq(out.findings[0].letter, 'B');

	/* an empty payload is an empty message: no invoice either */
	cr_assert_eq(decode_bytes((const uint8_t *)"", 0, 0, 0), 0);
	cr_assert_eq(out.blocked, 1);
	cr_assert_str_eq(out.findings[0].code, "T20002");
}

Test(canonical, invoice_without_lines_gives_t20003)
{
	inv[1].n_lines = 0;
	decode_ok();
	cr_assert_eq(out.nlines, 2);
	cr_assert_eq(out.invoices[1].nlines, 0);
	expect_invoice_finding(1, "T20003", 'F', 10);
}

Test(canonical, zero_units_give_t20004)
{
	ln[1][1].units = 0;
	decode_ok();
	expect_line_finding(3, "T20004", 'R', 4);
}

Test(canonical, negative_amount_outside_a_credit_note_gives_t20005)
{
	ln[0][1].insurer_cents = -5;
	decode_ok();
	expect_line_finding(1, "T20005", 'R', 5);
}

Test(canonical, negative_patient_share_gives_t20005)
{
	ln[1][0].patient_cents = -1;
	decode_ok();
	expect_line_finding(2, "T20005", 'R', 5);
}

Test(canonical, bad_niss_gives_200802)
{
	inv[0].patient = "86103130263";
	decode_ok();
	expect_invoice_finding(0, "200802", 'F', 1);
}

Test(canonical, missing_niss_gives_200802)
{
	inv[1].patient = "";
	decode_ok();
	expect_invoice_finding(1, "200802", 'F', 1);
}

Test(canonical, bad_provider_nihii_gives_201402)
{
	inv[0].provider = "18334779004";
	decode_ok();
	expect_invoice_finding(0, "201402", 'F', 2);
}

Test(canonical, missing_invoice_number_gives_202403)
{
	inv[0].number = "";
	decode_ok();
	expect_invoice_finding(0, "202403", 'F', 3);
}

Test(canonical, credit_note_with_a_positive_amount_gives_201140)
{
	inv[1].invoicing = TPC_INVOICING_CREDIT_NOTE;
	for (int k = 0; k < 2; k++) {
		ln[1][k].units = -ln[1][k].units;
		ln[1][k].insurer_cents = -ln[1][k].insurer_cents;
		ln[1][k].patient_cents = -ln[1][k].patient_cents;
	}
	ln[1][1].insurer_cents = 10; /* one positive amount */
	decode_ok();
	expect_invoice_finding(1, "201140", 'F', 5);
}

Test(canonical, bad_nomenclature_check_digit_gives_500402)
{
	ln[0][0].code = "101033";
	decode_ok();
	expect_line_finding(0, "500402", 'R', 1);
}

Test(canonical, short_nomenclature_code_gives_500402)
{
	ln[1][1].code = "10103";
	decode_ok();
	expect_line_finding(3, "500402", 'R', 1);
	cr_assert_str_eq(out.lines[3].code, "", "a malformed code is not copied");
}

Test(canonical, invalid_first_date_gives_500503)
{
	ln[0][0].date = 20240230;
	decode_ok();
	expect_line_finding(0, "500503", 'R', 2);
}

Test(canonical, missing_first_date_gives_500503)
{
	ln[1][0].date = 0;
	decode_ok();
	expect_line_finding(2, "500503", 'R', 2);
}

Test(canonical, invalid_last_date_gives_500603)
{
	ln[0][1].date_last = 20241301;
	decode_ok();
	expect_line_finding(1, "500603", 'R', 3);
}

Test(canonical, last_date_before_first_gives_500612)
{
	ln[0][1].date_last = 20240109;
	decode_ok();
	expect_line_finding(1, "500612", 'R', 3);
}

Test(canonical, bad_performer_nihii_gives_501502)
{
	ln[0][0].performer = "17385466004";
	decode_ok();
	expect_line_finding(0, "501502", 'R', 7);
}

Test(canonical, findings_past_three_overflow_to_the_sending)
{
	ln[0][0].code = "101033";           /* 500402 */
	ln[0][0].date = 20240230;           /* 500503 */
	ln[0][0].units = 0;                 /* T20004 */
	ln[0][0].performer = "17385466004"; /* 501502 */
	decode_ok();
	cr_assert_eq(out.lines[0].nfindings, TPC_MAX_FINDINGS);
	cr_assert_eq(out.nfindings, 1, "the fourth finding goes to the sending");
	cr_assert_eq(total_findings(), 4);
	cr_assert_str_eq(out.findings[0].code, "501502");
	cr_assert_eq(out.findings[0].record, out.lines[0].record, "it still names its record");
	cr_assert_eq(out.blocked, 0, "an overflowing finding does not block");
}

Test(canonical, every_emitted_code_is_described)
{
	static const char *codes[] = {"T20001", "T20002", "T20003", "T20004", "T20005",
	                              "200802", "201402", "202403", "201140", "500402",
	                              "500503", "500603", "500612", "501502"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		cr_assert_not_null(tpc_canonical_adapter.describe(NULL, codes[i]), "%s", codes[i]);
	cr_assert_null(tpc_canonical_adapter.describe(NULL, "999999"));
}

/* ---- bounds -------------------------------------------------------------------------------- */

Test(canonical, max_invoices_bound)
{
	cr_assert_eq(decode_bounded(1, 0), TPC_ADAPTER_ETOOBIG);
	cr_assert_eq(decode_bounded(2, 0), 0, "the bound itself is allowed");
	cr_assert_eq(out.ninvoices, 2);
}

Test(canonical, max_lines_bound)
{
	cr_assert_eq(decode_bounded(0, 3), TPC_ADAPTER_ETOOBIG);
	cr_assert_eq(decode_bounded(0, 4), 0, "the bound itself is allowed");
	cr_assert_eq(out.nlines, 4);
	/* lines are counted over the whole sending, not per invoice */
	cr_assert_eq(decode_bounded(100, 2), TPC_ADAPTER_ETOOBIG);
}

/* adapter.h: host->alloc returns NULL "when the sending's memory limit is reached (decode then
 * returns TPC_ADAPTER_ETOOBIG)". A valid sending larger than the arena's limit must come back
 * as ETOOBIG (or ENOMEM), never as a decoded sending with findings.
 *
 * ADAPTER BUG (adapters/canonical/canonical.c, can_decode, lines 114-117): when host->alloc
 * returns NULL inside tpclear__canonical_sending__unpack, protobuf-c returns NULL and the adapter
 * reports T20001 "payload is not a tpclear.CanonicalSending message" (blocked, return 0), so the
 * worker stores a durable REFUSED result for a well-formed sending instead of failing it with
 * T00013 (not stored, retryable). It also means max_invoices/max_lines are only checked after
 * the whole message has been unpacked into the arena. */
Test(canonical, memory_limit_is_an_error_not_a_finding)
{
	static Tpclear__CanonicalLine many[MAXL * 64], *manyp[MAXL * 64];

	for (int k = 0; k < MAXL * 64; k++) {
		tpclear__canonical_line__init(&many[k]);
		many[k] = ln[0][0];
		manyp[k] = &many[k];
	}
	inv[0].lines = manyp;
	inv[0].n_lines = MAXL * 64;
	tpc_arena_free(&arena);
	cr_assert_eq(tpc_arena_new(4096, 16 * 1024, &arena), 0);
	int rc = decode_bounded(0, 0);
	cr_assert(rc == TPC_ADAPTER_ETOOBIG || rc == TPC_ADAPTER_ENOMEM,
	          "rc %d, blocked %d, first finding %s", rc, out.blocked,
	          out.nfindings ? out.findings[0].code : "(none)");
}
