/* tests/unit/test_efact.c - the eFact adapter: decoding a writer-built sending, every code the
 * decoder emits (each from a valid sending corrupted at one zone), robustness on truncated and
 * random input, and the native answers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "common/check.h"
#include "efact/efact.h"
#include "efact/efact_writer.h"

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

TestSuite(efact, .init = setup, .fini = teardown);

/* ---- the valid sending -------------------------------------------------------------------- */

/* Records: 1 ET10 | 2 ET20 (mutuality 100) | 3 ET50 | 4 ET50 | 5 ET51 | 6 ET50 (account B) |
 * 7 ET80 | 8 ET20 (mutuality 300) | 9 ET50 | 10 ET50 | 11 ET80 | 12 ET90 | 13 95 (100) |
 * 14 95 (300) | 15 96 */
static tpc_efact_line_in_t mkline(const char *code, uint32_t date, int32_t units, int64_t ins,
                                  int64_t pat, const char *ref)
{
	tpc_efact_line_in_t l;

	memset(&l, 0, sizeof(l));
	snprintf(l.code, sizeof(l.code), "%s", code);
	l.date = date;
	l.units = units;
	l.insurer_cents = ins;
	l.patient_cents = pat;
	snprintf(l.performer, sizeof(l.performer), "17385467004");
	snprintf(l.reference, sizeof(l.reference), "%s", ref);
	return l;
}

static uint8_t *valid(size_t *len)
{
	static tpc_efact_line_in_t l1[3], l2[2];
	static tpc_efact_invoice_in_t inv[2];
	tpc_efact_sending_in_t s;
	uint8_t *out = NULL;

	l1[0] = mkline("101032", 20261102, 1, 2400, 600, "L1");
	l1[1] = mkline("102771", 20261103, 1, 1960, 750, "L2");
	snprintf(l1[1].commitment, sizeof(l1[1].commitment), "COMMIT-0001");
	l1[2] = mkline("560011", 20261104, 2, 1200, 400, "L3");
	l1[2].account = 1;
	l1[2].supplement_cents = 150;
	l2[0] = mkline("101032", 20261105, 1, 2900, 100, "L4");
	l2[1] = mkline("102771", 20261106, 1, 2560, 150, "L5");
	l2[1].date_last = 20261107;
	memset(inv, 0, sizeof(inv));
	snprintf(inv[0].niss, sizeof(inv[0].niss), "86103130262");
	snprintf(inv[0].number, sizeof(inv[0].number), "000000000101");
	snprintf(inv[0].mutuality, sizeof(inv[0].mutuality), "100");
	inv[0].sex = '1';
	inv[0].ct1 = inv[0].ct2 = 110;
	inv[0].lines = l1;
	inv[0].nlines = 3;
	snprintf(inv[1].niss, sizeof(inv[1].niss), "05031412595");
	snprintf(inv[1].number, sizeof(inv[1].number), "000000000102");
	snprintf(inv[1].mutuality, sizeof(inv[1].mutuality), "300");
	inv[1].sex = '2';
	inv[1].kind = '1';
	inv[1].admission = 20261105;
	inv[1].discharge = 20261107;
	inv[1].ct1 = inv[1].ct2 = 111;
	inv[1].lines = l2;
	inv[1].nlines = 2;
	memset(&s, 0, sizeof(s));
	snprintf(s.reference, sizeof(s.reference), "20261100000101");
	snprintf(s.third_party, sizeof(s.third_party), "18334780004");
	s.sending_no = 1;
	s.year_month = 202611;
	s.created = 20261120;
	snprintf(s.bce, sizeof(s.bce), "0999999922");
	snprintf(s.iban, sizeof(s.iban), "BE10001232152604");
	snprintf(s.bic, sizeof(s.bic), "GEBABEBB");
	s.invoices = inv;
	s.ninvoices = 2;
	cr_assert_eq(tpc_efact_write(&s, &out, len), 0);
	cr_assert_eq(*len, TPC_EFACT_HEADER + 15 * TPC_EFACT_RECORD);
	return out;
}

static char *rec_at(uint8_t *buf, uint32_t ord)
{
	return (char *)buf + TPC_EFACT_HEADER + (size_t)(ord - 1) * TPC_EFACT_RECORD;
}

static int decode(const uint8_t *buf, size_t len, tpc_sending_t *s)
{
	memset(s, 0, sizeof(*s));
	return tpc_efact_adapter.decode(NULL, buf, len, &host, s);
}

static size_t count_findings(const tpc_sending_t *s)
{
	size_t n = s->nfindings;

	for (uint32_t i = 0; i < s->ninvoices; i++)
		n += s->invoices[i].nfindings;
	for (uint32_t i = 0; i < s->nlines; i++)
		n += s->lines[i].nfindings;
	return n;
}

static const tpc_finding_t *find(const tpc_sending_t *s, const char *code)
{
	for (uint32_t i = 0; i < s->nfindings; i++)
		if (strcmp(s->findings[i].code, code) == 0)
			return &s->findings[i];
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (unsigned k = 0; k < s->invoices[i].nfindings; k++)
			if (strcmp(s->invoices[i].findings[k].code, code) == 0)
				return &s->invoices[i].findings[k];
	for (uint32_t i = 0; i < s->nlines; i++)
		for (unsigned k = 0; k < s->lines[i].nfindings; k++)
			if (strcmp(s->lines[i].findings[k].code, code) == 0)
				return &s->lines[i].findings[k];
	return NULL;
}

static void dump(const tpc_sending_t *s, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < s->nfindings && n + 16 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s@%u ", s->findings[i].code,
		                      s->findings[i].record);
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (unsigned k = 0; k < s->invoices[i].nfindings && n + 16 < cap; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s@%u ",
			                      s->invoices[i].findings[k].code,
			                      s->invoices[i].findings[k].record);
	for (uint32_t i = 0; i < s->nlines; i++)
		for (unsigned k = 0; k < s->lines[i].nfindings && n + 16 < cap; k++)
			n += (size_t)snprintf(out + n, cap - n, "%s@%u ",
			                      s->lines[i].findings[k].code,
			                      s->lines[i].findings[k].record);
}

Test(efact, valid_sending_decodes_without_findings)
{
	size_t len;
	uint8_t *p = valid(&len);
	tpc_sending_t s;
	char msg[512];

	cr_assert_eq(decode(p, len, &s), 0);
	dump(&s, msg, sizeof(msg));
	cr_assert_eq(count_findings(&s), 0, "%s", msg);
	cr_assert_eq(s.blocked, 0);
	cr_assert_eq(s.nrecords, 15);
	cr_assert_eq(s.ninvoices, 2);
	cr_assert_eq(s.nlines, 5);
	cr_assert_eq(s.number, 1);
	cr_assert_eq(s.year_month, 202611);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(s.created), 20261120);
	cr_assert_eq(s.reference.len, 14);
	cr_assert_eq(memcmp(s.reference.ptr, "20261100000101", 14), 0);
	cr_assert_eq(s.third_party.len, 11);
	cr_assert_eq(memcmp(s.third_party.ptr, "18334780004", 11), 0);
	cr_assert_eq(s.total_cents, 2400 + 1960 + 1200 + 2900 + 2560);

	const tpc_invoice_t *a = &s.invoices[0], *b = &s.invoices[1];
	cr_assert_eq(a->record, 2);
	cr_assert_eq(a->offset, TPC_EFACT_HEADER + TPC_EFACT_RECORD);
	cr_assert_eq(memcmp(a->patient.ptr, "86103130262", 11), 0);
	cr_assert_eq(memcmp(a->provider.ptr, "18334780004", 11), 0);
	cr_assert_eq(memcmp(a->number.ptr, "000000000101", 12), 0);
	cr_assert_str_eq(a->mutuality, "100");
	cr_assert_eq(a->kind, TPC_INVOICE_AMBULATORY);
	cr_assert_eq(a->invoicing, TPC_INVOICING_NORMAL);
	cr_assert_eq(a->sex, 1);
	cr_assert_eq(a->ct1, 110);
	cr_assert_eq(a->first_line, 0);
	cr_assert_eq(a->nlines, 3);
	cr_assert_eq(a->total_insurer_cents, 2400 + 1960 + 1200);
	cr_assert_eq(a->total_patient_cents, 600 + 750 + 400);
	cr_assert_eq(a->previous.len, 0);
	cr_assert_eq(b->record, 8);
	cr_assert_str_eq(b->mutuality, "300");
	cr_assert_eq(b->kind, TPC_INVOICE_HOSPITALISED);
	cr_assert_eq(b->sex, 2);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(b->admission), 20261105);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(b->discharge), 20261107);
	cr_assert_eq(b->first_line, 3);
	cr_assert_eq(b->nlines, 2);

	const tpc_line_t *l = s.lines;
	cr_assert_str_eq(l[0].code, "101032");
	cr_assert_eq(l[0].record, 3);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(l[0].date_first), 20261102);
	cr_assert_eq(l[0].date_last, l[0].date_first);
	cr_assert_eq(l[0].units, 1);
	cr_assert_eq(l[0].insurer_cents, 2400);
	cr_assert_eq(l[0].patient_cents, 600);
	cr_assert_eq(memcmp(l[0].performer.ptr, "17385467004", 11), 0);
	cr_assert_eq(l[0].reference.len, 2);
	cr_assert_eq(memcmp(l[0].reference.ptr, "L1", 2), 0);
	cr_assert_eq(l[1].commitment.len, 11);
	cr_assert_eq(memcmp(l[1].commitment.ptr, "COMMIT-0001", 11), 0);
	cr_assert_eq(l[2].record, 6);
	cr_assert_eq(l[2].account, 1);
	cr_assert_eq(l[2].units, 2);
	cr_assert_eq(l[2].supplement_cents, 150);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(l[4].date_last), 20261107);
	for (uint32_t i = 0; i < s.nlines; i++)
		cr_assert_eq(s.lines[i].outcome, TPC_OUTCOME_PENDING);
	free(p);
}

/* ---- every code, from one corruption each ------------------------------------------------- */

/* One change: record ordinal (0 = the header, positions counted from the file's start), 1-based
 * position, the bytes written there. */
struct change {
	uint32_t rec;
	uint16_t pos;
	const char *bytes;
};

struct fault {
	const char *code;
	uint32_t want_rec; /* record of the finding; 0 = not checked */
	int keep_control;  /* 1: do not recompute the record controls (the test targets them) */
	struct change c[3];
};

#define H         0 /* the header */
#define P300(pos) ((uint16_t)(TPC_EFACT_SEG200 + (pos)))

static const struct fault faults[] = {
    /* segments 200 and 300, the file */
    {"T30002", 6, 0, {{6, 1, "77"}}},
    {"T30003", 0, 0, {{H, 1, "920001"}}},
    {"T30004", 0, 0, {{H, 21, "2026110000010A"}}},
    {"T30005", 0, 0, {{H, P300(5), "13"}}},
    {"T30006", 0, 0, {{H, P300(14), "20261131"}}},
    {"T30007", 1, 0, {{1, 33, "002"}}},
    {"T30007", 1, 0, {{1, 113, "10"}}},
    {"T30008", 13, 0, {{13, 35, "9"}}},
    {"T30009", 15, 0, {{15, 35, "9"}}},
    {"T30010", 13, 0, {{13, 76, "00"}}},
    {"T30011", 13, 0, {{13, 66, "00000099"}}},
    {"T30012", 6, 0, {{6, 1, "30"}}},
    {"T30013", 0, 0, {{15, 1, "95"}}},
    {"T30013", 15, 0, {{14, 1, "96"}}},
    {"T30014", 0, 0, {{H, P300(9), "0A1"}}},
    {"T30015", 13, 0, {{13, 5, "200"}}},
    {"T30016", 1, 0, {{1, 1, "11"}}},
    /* order */
    {"100111", 1, 0, {{2, 1, "AA"}}},
    {"200110", 7, 0, {{7, 1, "20"}}},
    {"200111", 2, 0, {{3, 1, "AA"}}},
    {"500110", 8, 0, {{8, 1, "50"}}},
    {"500111", 3, 0, {{4, 1, "AA"}}},
    {"510110", 6, 0, {{6, 1, "51"}}},
    {"510111", 5, 0, {{6, 1, "AA"}}},
    {"520110", 3, 0, {{3, 1, "52"}}},
    {"520111", 5, 0, {{5, 1, "52"}, {6, 1, "AA"}}},
    {"800110", 3, 0, {{3, 1, "80"}}},
    {"800111", 7, 0, {{8, 1, "AA"}}},
    {"900104", 0, 0, {{12, 1, "AA"}}},
    {"900110", 11, 0, {{11, 1, "90"}}},
    {"900111", 12, 0, {{13, 1, "20"}}}, /* reported on the ET90 (record 12) */
    /* sequence numbers */
    {"100110", 1, 0, {{1, 3, "000002"}}},
    {"100201", 1, 0, {{1, 3, "00000A"}}},
    {"200201", 2, 0, {{2, 3, "00000A"}}},
    {"500201", 3, 0, {{3, 3, "00000A"}}},
    {"510201", 5, 0, {{5, 3, "00000A"}}},
    {"520201", 5, 0, {{5, 1, "52"}, {5, 3, "00000A"}}},
    {"800201", 7, 0, {{7, 3, "00000A"}}},
    {"900201", 12, 0, {{12, 3, "00000A"}}},
    {"200210", 2, 0, {{2, 3, "000099"}}},
    {"300210", 6, 0, {{6, 1, "30"}, {6, 3, "000099"}}},
    {"400210", 6, 0, {{6, 1, "40"}, {6, 3, "000099"}}},
    {"500210", 3, 0, {{3, 3, "000099"}}},
    {"510210", 5, 0, {{5, 3, "000099"}}},
    {"520210", 5, 0, {{5, 1, "52"}, {5, 3, "000099"}}},
    {"800210", 7, 0, {{7, 3, "000099"}}},
    {"900210", 12, 0, {{12, 3, "000099"}}},
    /* controls */
    {"109902", 1, 1, {{1, 349, "00"}}},
    {"209902", 2, 1, {{2, 349, "00"}}},
    {"309902", 6, 1, {{6, 1, "30"}}},
    {"409902", 6, 1, {{6, 1, "40"}}},
    {"509902", 3, 1, {{3, 138, "X"}}},
    {"519902", 5, 1, {{5, 213, "X"}}},
    {"529902", 5, 1, {{5, 1, "52"}}},
    {"809902", 7, 1, {{7, 349, "00"}}},
    {"909902", 12, 1, {{12, 349, "AA"}}},
    {"809802", 7, 0, {{7, 347, "00"}}},
    {"909801", 12, 0, {{12, 347, "AA"}}},
    {"909802", 12, 0, {{12, 347, "00"}}},
    /* record 10 */
    {"100701", 1, 0, {{1, 33, "0A1"}}},
    {"100703", 1, 0, {{1, 33, "000"}}},
    {"101401", 1, 0, {{1, 56, "A"}}},
    {"101402", 1, 0, {{1, 63, "81"}}},
    {"102201", 1, 0, {{1, 108, "A"}}},
    {"102301", 1, 0, {{1, 113, "A1"}}},
    {"102303", 1, 0, {{1, 113, "13"}}},
    {"102501", 1, 0, {{1, 120, "2026112A"}}},
    {"102503", 1, 0, {{1, 120, "20261131"}}},
    {"102702", 1, 0, {{1, 128, "0999999923"}}},
    {"102704", 1, 0, {{1, 128, "099999992A"}}},
    {"103602", 1, 0, {{1, 179, "BE11"}}},
    /* record 20 */
    {"200501", 2, 0, {{2, 17, "2026110A"}}},
    {"200503", 2, 0, {{2, 17, "20261131"}}},
    {"200601", 2, 0, {{2, 25, "2026110A"}}},
    {"200603", 2, 0, {{2, 25, "20261131"}}},
    {"200610", 8, 0, {{8, 25, "20261101"}}},
    {"200801", 2, 0, {{2, 36, "A"}}},
    {"200802", 2, 0, {{2, 47, "63"}}},
    {"200903", 2, 0, {{2, 49, "7"}}},
    {"201003", 2, 0, {{2, 50, "7"}}},
    {"201103", 2, 0, {{2, 51, "7"}}},
    {"201140", 2, 0, {{2, 51, "3"}, {2, 163, "000000000001"}}},
    {"201401", 2, 0, {{2, 56, "A"}}},
    {"201402", 2, 0, {{2, 63, "81"}}},
    {"201412", 2, 0, {{2, 56, "017385467004"}}},
    {"201801", 2, 0, {{2, 85, "A00"}}},
    {"201812", 8, 0, {{8, 85, "050"}}},
    {"202401", 2, 0, {{2, 115, "A"}}},
    {"202403", 2, 0, {{2, 115, "000000000000"}}},
    {"202701", 2, 0, {{2, 128, "A"}}},
    {"202901", 2, 0, {{2, 163, "A"}}},
    {"202910", 2, 0, {{2, 51, "1"}}},
    {"202911", 2, 0, {{2, 163, "000000000001"}}},
    /* record 50 */
    {"500401", 3, 0, {{3, 10, "A"}}},
    {"500402", 3, 0, {{3, 16, "3"}}},
    {"500404", 3, 0, {{3, 10, "1"}}},
    {"500501", 3, 0, {{3, 17, "A"}}},
    {"500503", 3, 0, {{3, 17, "20261131"}}},
    {"500503", 3, 0, {{3, 17, "00000000"}}},
    {"500601", 3, 0, {{3, 25, "A"}}},
    {"500603", 3, 0, {{3, 25, "20261131"}}},
    {"500612", 3, 0, {{3, 25, "20261001"}}},
    {"500712", 3, 0, {{3, 33, "999"}}},
    {"500801", 3, 0, {{3, 36, "A"}}},
    {"500802", 3, 0, {{3, 47, "63"}}},
    {"500812", 3, 0, {{3, 36, "0005031412595"}}},
    {"500912", 3, 0, {{3, 49, "2"}}},
    {"501103", 3, 0, {{3, 51, "5"}}},
    {"501501", 3, 0, {{3, 68, "A"}}},
    {"501502", 3, 0, {{3, 75, "81"}}},
    {"501905", 3, 0, {{3, 88, "0"}}},
    {"501906", 3, 0, {{3, 89, "-"}}},
    {"502203", 3, 0, {{3, 108, "+0000"}}},
    {"502205", 3, 0, {{3, 108, "0"}}},
    {"502206", 3, 0, {{3, 109, "-"}}},
    {"502212", 3, 0, {{3, 108, "-"}}},
    {"502248", 3, 0, {{2, 51, "3"}, {2, 163, "000000000001"}}},
    {"502705", 3, 0, {{3, 128, "0"}}},
    {"502706", 3, 0, {{3, 129, "-"}}},
    {"502712", 3, 0, {{3, 128, "-"}}},
    {"503005", 3, 0, {{3, 165, "0"}}},
    {"503006", 3, 0, {{3, 166, "-"}}},
    /* records 51 and 52 */
    {"510401", 5, 0, {{5, 10, "A"}}},
    {"510402", 5, 0, {{5, 16, "2"}}},
    {"510412", 5, 0, {{5, 10, "0101032"}}},
    {"511905", 5, 0, {{5, 88, "0"}}},
    {"511906", 5, 0, {{5, 89, "-"}}},
    {"520401", 5, 0, {{5, 1, "52"}, {5, 10, "A"}}},
    {"520412", 5, 0, {{5, 1, "52"}, {5, 10, "0101032"}}},
    /* record 80 */
    {"800812", 7, 0, {{7, 36, "0005031412595"}}},
    {"801505", 7, 0, {{7, 68, "0"}}},
    {"801506", 7, 0, {{7, 69, "-"}}},
    {"801510", 7, 0, {{7, 68, "+00000999999"}}},
    {"801812", 7, 0, {{7, 85, "200"}}},
    {"801905", 7, 0, {{7, 88, "0"}}},
    {"801906", 7, 0, {{7, 89, "-"}}},
    {"801910", 7, 0, {{7, 88, "+00000999999"}}},
    {"802412", 7, 0, {{7, 115, "000000009999"}}},
    {"802705", 7, 0, {{7, 128, "0"}}},
    {"802706", 7, 0, {{7, 129, "-"}}},
    {"802710", 7, 0, {{7, 128, "+000099999"}}},
    {"803005", 7, 0, {{7, 165, "0"}}},
    {"803006", 7, 0, {{7, 166, "-"}}},
    {"803010", 7, 0, {{7, 165, "+000099999"}}},
    /* record 90 */
    {"900712", 12, 0, {{12, 33, "002"}}},
    {"901412", 12, 0, {{12, 56, "017385467004"}}},
    {"901505", 12, 0, {{12, 68, "0"}}},
    {"901506", 12, 0, {{12, 69, "-"}}},
    {"901510", 12, 0, {{12, 68, "+00000999999"}}},
    {"901905", 12, 0, {{12, 88, "0"}}},
    {"901906", 12, 0, {{12, 89, "-"}}},
    {"901910", 12, 0, {{12, 88, "+00000999999"}}},
    {"902212", 12, 0, {{12, 108, "02025"}}},
    {"902312", 12, 0, {{12, 113, "10"}}},
    {"902712", 12, 0, {{12, 128, "0000000000"}}},
    {"903612", 12, 0, {{12, 179, "BE68539007547034"}}},
};

#define NFAULTS (sizeof(faults) / sizeof(faults[0]))

/* Apply @p f to a fresh valid sending and decode it. */
static uint8_t *faulty(const struct fault *f, size_t *len, tpc_sending_t *s)
{
	uint8_t *p = valid(len);

	for (int k = 0; k < 3 && f->c[k].bytes; k++) {
		char *at = f->c[k].rec == H ? (char *)p + f->c[k].pos - 1
		                            : rec_at(p, f->c[k].rec) + f->c[k].pos - 1;
		memcpy(at, f->c[k].bytes, strlen(f->c[k].bytes));
	}
	if (!f->keep_control)
		for (uint32_t r = 1; r <= 12; r++)
			tpc_efact_reseal(rec_at(p, r));
	cr_assert_eq(decode(p, *len, s), 0);
	return p;
}

Test(efact, every_code_from_a_corrupted_zone)
{
	for (size_t i = 0; i < NFAULTS; i++) {
		const struct fault *f = &faults[i];
		tpc_sending_t s;
		size_t len;
		char msg[1024];
		uint8_t *p = faulty(f, &len, &s);
		const tpc_finding_t *got = find(&s, f->code);

		dump(&s, msg, sizeof(msg));
		cr_expect_not_null(got, "%s (case %zu) not found; got %s", f->code, i, msg);
		if (got) {
			cr_expect_eq(got->letter, tpc_efact_letter(f->code), "%s", f->code);
			if (f->want_rec)
				cr_expect_eq(got->record, f->want_rec, "%s at record %u, want %u",
				             f->code, got->record, f->want_rec);
		}
		free(p);
		tpc_arena_reset(arena);
	}
}

Test(efact, every_emitted_code_is_tested_and_described)
{
	const char *all[512];
	size_t n = tpc_efact_codes(all, 512);

	cr_assert_lt(n, 512);
	for (size_t i = 0; i < n; i++) {
		int tested = strcmp(all[i], "T30001") == 0; /* the length: tested below */

		for (size_t k = 0; k < NFAULTS && !tested; k++)
			tested = strcmp(faults[k].code, all[i]) == 0;
		cr_expect(tested, "code %s has no test", all[i]);
		cr_expect_not_null(tpc_efact_describe(all[i]), "%s", all[i]);
		cr_expect_not_null(tpc_efact_adapter.describe(NULL, all[i]), "%s", all[i]);
		cr_expect(strchr("BFRES", tpc_efact_letter(all[i])) != NULL, "%s", all[i]);
		for (size_t k = i + 1; k < n; k++)
			cr_expect_str_neq(all[i], all[k], "duplicate code");
	}
	cr_assert_null(tpc_efact_describe("999999"));
	cr_assert_null(tpc_efact_adapter.describe(NULL, NULL));
}

/* ---- outcomes ----------------------------------------------------------------------------- */

static const struct fault *fault_of(const char *code)
{
	for (size_t i = 0; i < NFAULTS; i++)
		if (strcmp(faults[i].code, code) == 0)
			return &faults[i];
	cr_assert_fail("no fault %s", code);
	return NULL;
}

Test(efact, r_finding_refuses_its_line_only)
{
	size_t len;
	tpc_sending_t s;
	uint8_t *p = faulty(fault_of("500802"), &len, &s);

	cr_assert_eq(s.blocked, 0);
	cr_assert_eq(s.lines[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.lines[0].nfindings, 1);
	cr_assert_eq(s.lines[0].findings[0].record, 3);
	cr_assert_eq(s.lines[0].findings[0].pos, 36);
	cr_assert_eq(s.lines[0].findings[0].len, 13);
	for (uint32_t i = 1; i < s.nlines; i++)
		cr_assert_eq(s.lines[i].outcome, TPC_OUTCOME_PENDING);
	for (uint32_t i = 0; i < s.ninvoices; i++)
		cr_assert_eq(s.invoices[i].outcome, TPC_OUTCOME_PENDING);
	free(p);
}

Test(efact, a_wrong_code_check_digit_also_breaks_the_controls)
{
	size_t len;
	tpc_sending_t s;
	uint8_t *p = faulty(fault_of("500402"), &len, &s);

	/* the code is part of the invoice, sending and 95/96 controls (efact.md 7.2) */
	cr_assert_eq(s.lines[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_not_null(find(&s, "809802"));
	cr_assert_not_null(find(&s, "909802"));
	cr_assert_not_null(find(&s, "T30010"));
	cr_assert_eq(s.blocked, 1);
	free(p);
}

Test(efact, f_finding_refuses_its_invoice)
{
	size_t len;
	tpc_sending_t s;
	uint8_t *p = faulty(fault_of("200802"), &len, &s);

	cr_assert_eq(s.blocked, 0);
	cr_assert_eq(s.invoices[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.invoices[0].findings[0].record, 2);
	cr_assert_eq(s.invoices[0].findings[0].pos, 36);
	cr_assert_eq(s.invoices[0].findings[0].len, 13);
	cr_assert_eq(s.invoices[1].outcome, TPC_OUTCOME_PENDING);
	free(p);
}

Test(efact, b_finding_on_a_line_refuses_the_sending_without_blocking)
{
	size_t len;
	tpc_sending_t s;
	uint8_t *p = faulty(fault_of("501906"), &len, &s);

	cr_assert_eq(s.blocked, 0);
	cr_assert_eq(s.lines[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.invoices[0].outcome, TPC_OUTCOME_REFUSED);
	cr_assert_eq(s.invoices[1].outcome, TPC_OUTCOME_REFUSED);
	free(p);
}

Test(efact, b_finding_on_record_10_90_or_the_header_blocks)
{
	static const char *codes[] = {"101402", "909802", "T30003", "T30008", "103602"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t len;
		tpc_sending_t s;
		uint8_t *p = faulty(fault_of(codes[i]), &len, &s);

		cr_expect_eq(s.blocked, 1, "%s", codes[i]);
		free(p);
	}
}

Test(efact, credit_note_with_negative_amounts_is_clean)
{
	size_t len;
	uint8_t *p = valid(&len);
	tpc_sending_t s;
	char msg[512];

	/* turn invoice 2 (records 8..11) into a credit note: every sign negative */
	memcpy(rec_at(p, 8) + 50, "3", 1);
	memcpy(rec_at(p, 8) + 162, "000000000102", 12);
	for (uint32_t r = 9; r <= 10; r++) {
		rec_at(p, r)[87] = '-';
		rec_at(p, r)[107] = '-';
		rec_at(p, r)[127] = '-';
	}
	rec_at(p, 11)[87] = '-';
	rec_at(p, 11)[127] = '-';
	/* the sending total A and the 95/96 amounts change: rewrite them */
	tpc_check_put_signed(rec_at(p, 12) + 87, 12, 2400 + 1960 - 2900 - 2560);
	tpc_check_put_signed(rec_at(p, 14) + 23, 12, -2900 - 2560);
	tpc_check_put_signed(rec_at(p, 14) + 51, 12, -2900 - 2560);
	tpc_check_put_signed(rec_at(p, 15) + 23, 12, 2400 + 1960 - 2900 - 2560);
	tpc_check_put_signed(rec_at(p, 15) + 51, 12, 2400 + 1960 + 1200 - 2900 - 2560);
	for (uint32_t r = 1; r <= 12; r++)
		tpc_efact_reseal(rec_at(p, r));
	cr_assert_eq(decode(p, len, &s), 0);
	dump(&s, msg, sizeof(msg));
	cr_assert_eq(count_findings(&s), 0, "%s", msg);
	cr_assert_eq(s.invoices[1].invoicing, TPC_INVOICING_CREDIT_NOTE);
	cr_assert_eq(s.lines[3].units, -1);
	cr_assert_eq(s.lines[3].insurer_cents, -2900);
	cr_assert_eq(s.invoices[1].total_insurer_cents, -2900 - 2560);
	free(p);
}

Test(efact, truncated_or_padded_file_is_blocked)
{
	size_t len;
	uint8_t *p = valid(&len);
	tpc_sending_t s;

	cr_assert_eq(decode(p, len - 1, &s), 0);
	cr_assert_not_null(find(&s, "T30001"));
	cr_assert_eq(s.blocked, 1);
	cr_assert_eq(decode(p, TPC_EFACT_HEADER - 1, &s), 0);
	cr_assert_not_null(find(&s, "T30001"));
	cr_assert_eq(s.ninvoices, 0);
	cr_assert_eq(decode(NULL, 0, &s), 0);
	cr_assert_eq(s.blocked, 1);
	free(p);
}

Test(efact, bounds_refuse_with_etoobig)
{
	size_t len;
	uint8_t *p = valid(&len);
	tpc_sending_t s;

	host.max_lines = 4;
	cr_assert_eq(decode(p, len, &s), TPC_ADAPTER_ETOOBIG);
	host.max_lines = 5;
	cr_assert_eq(decode(p, len, &s), 0);
	host.max_invoices = 1;
	cr_assert_eq(decode(p, len, &s), TPC_ADAPTER_ETOOBIG);
	free(p);
}

/* ---- robustness --------------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void decode_and_answer(const uint8_t *p, size_t len)
{
	tpc_sending_t s;
	tpc_blob_t out;

	/* an exact-size copy, so ASan sees any read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, p, len);
	if (decode(copy, len, &s) == 0) {
		cr_assert_eq(tpc_efact_adapter.encode_answer(NULL, copy, len, &s, TPC_ANSWER_RESULT,
		                                             &host, &out),
		             0);
		cr_assert_gt(out.len, 0);
	}
	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, copy, len, NULL, TPC_ANSWER_RECEIPT, &host, &out),
	    0);
	free(copy);
	tpc_arena_reset(arena);
}

Test(efact, every_prefix_decodes_without_crashing)
{
	size_t len;
	uint8_t *p = valid(&len);

	for (size_t n = 0; n <= len; n++)
		decode_and_answer(p, n);
	free(p);
}

Test(efact, random_garbage_and_mutations_never_crash)
{
	size_t len;
	uint8_t *p = valid(&len), *g = malloc(len + 700);
	static const char alphabet[] = "0123456789+- A9520185";

	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)(next() % (len + 700));

		if (round % 2) {
			for (size_t i = 0; i < n; i++)
				g[i] = (uint8_t)next();
		} else {
			/* a valid file with a few bytes changed to characters that matter */
			n = round % 6 == 0 ? n : len;
			memcpy(g, p, n < len ? n : len);
			for (size_t i = len; i < n; i++)
				g[i] = '0';
			for (int k = 0; k < 1 + round % 8 && n; k++)
				g[next() % n] = (uint8_t)alphabet[next() % (sizeof(alphabet) - 1)];
		}
		decode_and_answer(g, n);
	}
	free(g);
	free(p);
}

/* ---- answers ------------------------------------------------------------------------------ */

Test(efact, receipt_is_931000)
{
	size_t len;
	uint8_t *p = valid(&len);
	tpc_blob_t out;

	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, p, len, NULL, TPC_ANSWER_RECEIPT, &host, &out),
	    0);
	cr_assert_str_eq(out.type, "931000");
	cr_assert_eq(out.len, TPC_EFACT_SEG200 + TPC_EFACT_SEG300);
	cr_assert_eq(memcmp(out.ptr, "931000", 6), 0);
	cr_assert_eq(memcmp(out.ptr + 20, p + 20, 14), 0, "the sender's reference is kept");
	cr_assert_eq(memcmp(out.ptr + TPC_EFACT_SEG200, "920000", 6), 0);
	free(p);
}

Test(efact, result_920098_echoes_800_character_records_with_error_slots)
{
	size_t len;
	tpc_sending_t s;
	tpc_blob_t out;
	uint8_t *p = faulty(fault_of("500802"), &len, &s);
	const char *o, *r3;

	/* as the engine leaves it: accepted, the refused line named */
	s.outcome = TPC_OUTCOME_ACCEPTED;
	s.accepted_cents = 9000;
	s.refused_cents = 1000;
	for (uint32_t i = 0; i < s.ninvoices; i++)
		s.invoices[i].outcome = TPC_OUTCOME_ACCEPTED;
	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, p, len, &s, TPC_ANSWER_RESULT, &host, &out), 0);
	cr_assert_str_eq(out.type, "920098");
	cr_assert_eq(out.len, TPC_EFACT_SEG200 + 610 + 12 * 800 + 3 * 350);
	o = (const char *)out.ptr;
	cr_assert_eq(memcmp(o, "920098", 6), 0);
	cr_assert_eq(memcmp(o + 67, p + 67, 140), 0);
	cr_assert_eq(memcmp(o + 67 + 140, "01000", 5), 0, "10.00 %% refused");
	/* record 3 (an ET50) carries R500802 at 457-463, then two blank slots */
	r3 = o + 67 + 610 + 2 * 800;
	cr_assert_eq(memcmp(r3, p + TPC_EFACT_HEADER + 2 * 350, 350), 0);
	cr_assert_eq(memcmp(r3 + 456, "R500802", 7), 0, "%.21s", r3 + 456);
	cr_assert_eq(memcmp(r3 + 463, "              ", 14), 0);
	/* trailer: sending number, creation date, month, mutuality; ordinal at 795-800 */
	cr_assert_eq(memcmp(r3 + 350, "00120261120202611100", 20), 0, "%.20s", r3 + 350);
	cr_assert_eq(memcmp(r3 + 794, "000003", 6), 0);
	/* record 4 has no error */
	cr_assert_eq(memcmp(o + 67 + 610 + 3 * 800 + 456, "       ", 7), 0);
	/* records 95/96 at 350 at the end */
	cr_assert_eq(memcmp(o + out.len - 350, rec_at(p, 15), 350), 0);
	cr_assert_eq(memcmp(o + out.len - 3 * 350, rec_at(p, 13), 2), 0);
	free(p);
}

Test(efact, result_920099_when_the_sending_is_refused)
{
	size_t len;
	tpc_sending_t s;
	tpc_blob_t out;
	uint8_t *p = valid(&len);

	cr_assert_eq(decode(p, len, &s), 0);
	s.outcome = TPC_OUTCOME_REFUSED;
	s.refused_cents = 100;
	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, p, len, &s, TPC_ANSWER_RESULT, &host, &out), 0);
	cr_assert_str_eq(out.type, "920099");
	cr_assert_eq(memcmp(out.ptr, "920099", 6), 0);
	cr_assert_eq(out.len, TPC_EFACT_SEG200 + 610 + 12 * 800 + 3 * 350);
	free(p);
}

Test(efact, result_920999_for_a_blocked_file)
{
	size_t len;
	tpc_sending_t s;
	tpc_blob_t out;
	uint8_t *p = faulty(fault_of("T30003"), &len, &s);

	cr_assert_eq(s.blocked, 1);
	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, p, len, &s, TPC_ANSWER_RESULT, &host, &out), 0);
	cr_assert_str_eq(out.type, "920999");
	cr_assert_eq(out.len, TPC_EFACT_HEADER + 3 * 350);
	cr_assert_eq(memcmp(out.ptr, "92099922", 8), 0, "error 22 after the type");
	cr_assert_eq(memcmp(out.ptr + TPC_EFACT_HEADER, rec_at(p, 13), 350), 0);
	free(p);

	/* a wrong 95 amount: error 41 after amount A of that record */
	p = faulty(fault_of("T30008"), &len, &s);
	cr_assert_eq(
	    tpc_efact_adapter.encode_answer(NULL, p, len, &s, TPC_ANSWER_RESULT, &host, &out), 0);
	cr_assert_str_eq(out.type, "920999");
	cr_assert_eq(memcmp(out.ptr + TPC_EFACT_HEADER + 35, "41", 2), 0);
	free(p);
}
