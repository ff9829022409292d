/* tests/unit/adapters/eattest/test_kmehr.c - the Kmehr eAttest v3 request and its answer
 * (adapters/eattest/kmehr.c, kmehr_answer.c, invoicing.c) through the "eattest" adapter.
 *
 * Each test starts from config/samples/sample-eattest.kmehr.xml (a request written the way the
 * public MyCareNet clients write it), applies one targeted edit to its text, and decodes it
 * through tpc_eattest_adapter with a host over a tpc_arena, as a worker does. Answers are read
 * back with libxml2 and XPath, separately from the writer.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "clearing/clear.h"
#include "eattest/eattest.h"
#include "eattest/invoicing.h"
#include "testutil.h"

static char *sample; /* the sample request */
static char *doc;    /* the request under test (an edited copy) */
static tpc_arena_t *arena;
static tpc_host_t host;
static tpc_sending_t out;

static void setup(void)
{
	size_t n;

	sample =
	    (char *)tpc_test_slurp(tpc_test_src("config/samples/sample-eattest.kmehr.xml"), &n);
	cr_assert_not_null(sample);
	doc = strdup(sample);
	cr_assert_eq(tpc_arena_new(1 << 16, 64 << 20, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 0, 0, NULL};
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	free(sample);
	free(doc);
	tpc_arena_free(&arena);
}

TestSuite(kmehr, .init = setup, .fini = teardown);

/* Replace the @p nth (1-based) occurrence of @p from in the request by @p to. */
static void edit_nth(const char *from, const char *to, int nth)
{
	char *at = doc, *n;
	size_t lf = strlen(from), lt = strlen(to), len = strlen(doc);

	for (int i = 0; i < nth; i++, at += i < nth ? lf : 0) {
		at = strstr(at, from);
		cr_assert_not_null(at, "'%s' (occurrence %d) not in the request", from, nth);
	}
	n = malloc(len - lf + lt + 1);
	memcpy(n, doc, (size_t)(at - doc));
	memcpy(n + (at - doc), to, lt);
	strcpy(n + (at - doc) + lt, at + lf);
	free(doc);
	doc = n;
}

static void edit(const char *from, const char *to)
{
	edit_nth(from, to, 1);
}

/* Remove the text from the @p nth @p start up to and including the next @p stop. */
static void cut(const char *start, const char *stop, int nth)
{
	char *a = doc, *b;

	for (int i = 0; i < nth; i++) {
		a = strstr(i ? a + 1 : a, start);
		cr_assert_not_null(a, "'%s' not in the request", start);
	}
	b = strstr(a, stop);
	cr_assert_not_null(b);
	memmove(a, b + strlen(stop), strlen(b + strlen(stop)) + 1);
}

static void decode(void)
{
	memset(&out, 0, sizeof(out));
	cr_assert_eq(
	    tpc_eattest_adapter.decode(NULL, (const uint8_t *)doc, strlen(doc), &host, &out), 0);
}

static int has(const tpc_finding_t *f, unsigned n, const char *code, uint32_t record, uint16_t pos)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(f[i].code, code) == 0 && f[i].record == record && f[i].pos == pos)
			return 1;
	return 0;
}

/* @p code at (@p record, @p pos) anywhere: the sending, the attestation or a service. */
static int found(const char *code, uint32_t record, uint16_t pos)
{
	if (has(out.findings, out.nfindings, code, record, pos))
		return 1;
	for (uint32_t i = 0; i < out.ninvoices; i++)
		if (has(out.invoices[i].findings, out.invoices[i].nfindings, code, record, pos))
			return 1;
	for (uint32_t i = 0; i < out.nlines; i++)
		if (has(out.lines[i].findings, out.lines[i].nfindings, code, record, pos))
			return 1;
	return 0;
}

static unsigned nfindings(void)
{
	unsigned n = out.nfindings;

	for (uint32_t i = 0; i < out.ninvoices; i++)
		n += out.invoices[i].nfindings;
	for (uint32_t i = 0; i < out.nlines; i++)
		n += out.lines[i].nfindings;
	return n;
}

#define EXPECT(code, record, pos)                                                                  \
	cr_assert(found(code, record, pos), "no %s at record %u pos %u (%u findings)", code,       \
	          (unsigned)(record), (unsigned)(pos), nfindings())

Test(kmehr, the_sample_is_one_attestation_of_one_service)
{
	tpc_clear_summary_t sum;

	decode();
	cr_assert_eq(nfindings(), 0, "%u findings, first %s", nfindings(),
	             out.nfindings ? out.findings[0].code : "");
	cr_assert_eq(out.ninvoices, 1);
	cr_assert_eq(out.nlines, 1);
	cr_assert_eq(out.payee, TPC_PAYEE_PATIENT);
	cr_assert_eq(out.invoices[0].record, 1);
	cr_assert_eq(out.invoices[0].total_patient_cents, 3000);
	cr_assert_eq(out.invoices[0].provider.len, 11);
	cr_assert(memcmp(out.invoices[0].provider.ptr, "17385467004", 11) == 0);
	cr_assert(memcmp(out.invoices[0].patient.ptr, "86103130262", 11) == 0);
	/* the invoice number the engine indexes is the invoicing number */
	cr_assert_eq(out.invoices[0].number.len, TPC_INVOICING_LEN);
	cr_assert_eq(tpc_invoicing_check(out.invoices[0].number.ptr, out.invoices[0].number.len),
	             TPC_INVOICING_OK);
	cr_assert(memcmp(out.invoices[0].number.ptr, "600-1-261118-", 13) == 0);
	cr_assert_str_eq(out.lines[0].code, "101032");
	cr_assert_eq(out.lines[0].record, 2);
	cr_assert_eq(out.lines[0].date_first, tpc_test_day(20261118));
	cr_assert_eq(out.lines[0].units, 1);
	cr_assert_eq(out.lines[0].patient_cents, 3000);
	cr_assert_eq(out.lines[0].reference.len, 0);
	tpc_clear_judge(&out, &sum);
	cr_assert_eq(out.outcome, TPC_OUTCOME_ACCEPTED);
}

Test(kmehr, a_bare_kmehrmessage_with_prefixes_of_its_own_is_read_too)
{
	char *km = strstr(doc, "<core:kmehrmessage>"), *end = strstr(doc, "</core:kmehrmessage>");
	char *bare;

	*end = 0;
	cr_assert(asprintf(&bare,
	                   "<?xml version=\"1.0\"?>\n<k:kmehrmessage "
	                   "xmlns:k=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v1\" "
	                   "xmlns:kmehr=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v1\">%s"
	                   "</k:kmehrmessage>",
	                   km + strlen("<core:kmehrmessage>")) > 0);
	free(doc);
	doc = bare;
	decode();
	cr_assert_eq(nfindings(), 0, "first %s", out.nfindings ? out.findings[0].code : "?");
	cr_assert_eq(out.nlines, 1);
}

/* Repeat the sample's cgd (transaction 2) right after itself. */
static void second_cgd(void)
{
	char *cgd = strstr(doc, "<kmehr:id S=\"ID-KMEHR\" SV=\"1.0\">2</kmehr:id>\n        "
	                        "<kmehr:cd S=\"CD-TRANSACTION-MYCARENET\"");
	char *from, *end, *n;
	size_t head;

	cr_assert_not_null(cgd);
	from = strstr(cgd - 40, "      <kmehr:transaction>");
	end = strstr(cgd, "</kmehr:transaction>\n") + strlen("</kmehr:transaction>\n");
	head = (size_t)(end - doc);
	n = malloc(strlen(doc) + (size_t)(end - from) + 1);
	memcpy(n, doc, head);
	memcpy(n + head, from, (size_t)(end - from));
	strcpy(n + head + (end - from), end);
	free(doc);
	doc = n;
}

Test(kmehr, several_cgd_are_several_lines_and_amounts_are_exact_cents)
{
	second_cgd();
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>", "<kmehr:decimal>42.5</kmehr:decimal>", 1);
	/* each edit takes the first occurrence left: the cga's, then each cgd's */
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>", "<kmehr:decimal>+12.500</kmehr:decimal>",
	         1);
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>", "<kmehr:decimal>30</kmehr:decimal>", 1);
	edit_nth("<kmehr:decimal>1</kmehr:decimal>", "<kmehr:decimal>2.0</kmehr:decimal>", 2);
	decode();
	cr_assert_eq(nfindings(), 0, "first %s", out.nfindings ? out.findings[0].code : "?");
	cr_assert_eq(out.nlines, 2);
	cr_assert_eq(out.invoices[0].total_patient_cents, 4250);
	cr_assert_eq(out.lines[0].patient_cents, 1250);
	cr_assert_eq(out.lines[0].record, 2);
	cr_assert_eq(out.lines[1].patient_cents, 3000);
	cr_assert_eq(out.lines[1].units, 2);
	cr_assert_eq(out.lines[1].record, 3);
}

/* ---- each required item missing ------------------------------------------------------------ */

Test(kmehr, no_provider_nihii)
{
	edit_nth("<kmehr:id S=\"ID-HCPARTY\" SV=\"1.0\">17385467004</kmehr:id>\n          "
	         "<kmehr:cd S=\"CD-HCPARTY\" SV=\"1.16\">persphysician</kmehr:cd>\n          "
	         "<kmehr:firstname>",
	         "<kmehr:cd S=\"CD-HCPARTY\" SV=\"1.16\">persphysician</kmehr:cd>\n          "
	         "<kmehr:firstname>",
	         1);
	decode();
	EXPECT("201402", 0, 2);
}

Test(kmehr, no_patient_niss)
{
	edit("<kmehr:id S=\"ID-PATIENT\" SV=\"1.0\">86103130262</kmehr:id>", "");
	decode();
	EXPECT("200802", 0, 3);
}

Test(kmehr, no_header_date)
{
	edit("<kmehr:date>2026-11-18</kmehr:date>\n      <kmehr:time>10:15:00</kmehr:time>\n      "
	     "<kmehr:sender>",
	     "<kmehr:sender>");
	decode();
	EXPECT("T40010", 0, 4);
	cr_assert(out.blocked);
}

Test(kmehr, no_cga)
{
	edit(">cga<", ">cgx<");
	decode();
	EXPECT("T40021", 1, 0);
	EXPECT("T40011", 0, 5);
}

Test(kmehr, no_cga_patientpaid)
{
	edit("<kmehr:cd S=\"CD-ITEM-MYCARENET\" SV=\"1.6\">patientpaid</kmehr:cd>",
	     "<kmehr:cd S=\"CD-ITEM-MYCARENET\" SV=\"1.6\">nothing</kmehr:cd>");
	decode();
	EXPECT("T40012", 1, 0);
	cr_assert_eq(out.invoices[0].nfindings, 1);
}

Test(kmehr, no_receiving_party_and_a_wrong_company_number)
{
	edit(">0203201340<", ">0203201341<");
	decode();
	EXPECT("T40013", 1, 2);
	edit(">paymentreceivingparty<", ">other<");
	decode();
	EXPECT("T40013", 1, 0);
}

Test(kmehr, no_cgd)
{
	edit(">cgd<", ">cga<");
	decode();
	EXPECT("T40014", 0, 5);
	EXPECT("T40011", 0, 5); /* two cga now */
}

Test(kmehr, no_claim)
{
	edit(">claim<", ">other<");
	decode();
	EXPECT("T40015", 2, 0);
	cr_assert(!found("500402", 2, 0), "the missing code is reported once");
	cut("<kmehr:content><kmehr:cd S=\"CD-NIHDI\"", "</kmehr:content>", 1);
	edit(">other<", ">claim<");
	decode();
	EXPECT("T40015", 2, 1);
}

Test(kmehr, no_norm_and_a_bad_code)
{
	cut("<kmehr:content><kmehr:cd S=\"LOCAL\" SL=\"NIHDI-CLAIM-NORM\"", "</kmehr:content>", 1);
	edit(">101032<", ">101033<");
	decode();
	EXPECT("T40016", 2, 1);
	EXPECT("500402", 2, 1);
	cr_assert_eq(out.lines[0].nfindings, 2);
}

Test(kmehr, no_encounter_date)
{
	edit(">encounterdatetime<", ">other<");
	decode();
	EXPECT("T40017", 2, 0);
	cr_assert_eq(out.lines[0].nfindings, 1, "reported once, not also as a bad date");
}

Test(kmehr, no_cgd_patientpaid)
{
	edit_nth(">patientpaid<", ">other<", 2);
	decode();
	EXPECT("T40018", 2, 0);
}

/* ---- values --------------------------------------------------------------------------------- */

static void bad_amount(const char *v)
{
	char to[80];

	free(doc);
	doc = strdup(sample);
	snprintf(to, sizeof(to), "<kmehr:decimal>%s</kmehr:decimal>", v);
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>", to, 2);
	decode();
	cr_assert(found("T40019", 2, 3), "'%s' read as an amount", v);
	cr_assert_eq(out.lines[0].patient_cents, 0, "'%s' carried", v);
}

Test(kmehr, amounts_that_are_not_euros_to_the_cent)
{
	bad_amount("12,5");
	bad_amount("1e3");
	bad_amount("-1.00");
	bad_amount("12.505");
	bad_amount("");
	bad_amount("0x10");
	bad_amount("1 000");
	bad_amount("NaN");
}

Test(kmehr, an_amount_over_eleven_digits_of_cents)
{
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>",
	         "<kmehr:decimal>123456789012345678901234567890</kmehr:decimal>", 2);
	decode();
	EXPECT("T40006", 2, 3);
	cr_assert_eq(out.lines[0].patient_cents, 0);
}

Test(kmehr, the_cga_total_is_checked_against_the_services)
{
	edit_nth("<kmehr:decimal>30.00</kmehr:decimal>", "<kmehr:decimal>31.00</kmehr:decimal>", 1);
	decode();
	EXPECT("T40020", 1, 1);
}

Test(kmehr, dates_that_are_not_days)
{
	edit("<kmehr:content><kmehr:date>2026-11-18</kmehr:date></kmehr:content>",
	     "<kmehr:content><kmehr:date>2026-02-30</kmehr:date></kmehr:content>");
	decode();
	EXPECT("500503", 2, 2);
	free(doc);
	doc = strdup(sample);
	edit("<kmehr:content><kmehr:date>2026-11-18</kmehr:date></kmehr:content>",
	     "<kmehr:content><kmehr:date>18/11/2026</kmehr:date></kmehr:content>");
	decode();
	EXPECT("500503", 2, 2);
	free(doc);
	doc = strdup(sample);
	edit("<kmehr:content><kmehr:date>2026-11-18</kmehr:date></kmehr:content>",
	     "<kmehr:content><kmehr:date>2026-11-18+01:00</kmehr:date></kmehr:content>");
	decode();
	cr_assert_eq(nfindings(), 0, "a time zone is allowed");
}

Test(kmehr, units_must_be_whole)
{
	edit("<kmehr:decimal>1</kmehr:decimal>", "<kmehr:decimal>1.5</kmehr:decimal>");
	decode();
	EXPECT("T40002", 2, 1);
}

Test(kmehr, location_and_requestor_carry_valid_numbers)
{
	edit(">71000436000<", ">71000437000<");
	decode();
	EXPECT("T40025", 2, 5);
	free(doc);
	doc = strdup(sample);
	edit(">490<", ">49<");
	decode();
	EXPECT("T40025", 2, 5);
}

/* ---- what is not a Kmehr request ----------------------------------------------------------- */

Test(kmehr, malformed_xml_is_a_finding_with_its_line_and_column)
{
	edit("</kmehr:familyname>\n        <kmehr:sex>", "</kmehr:familyname>\n        <kmehr:sex");
	decode();
	cr_assert(out.blocked);
	cr_assert_eq(out.ninvoices, 0);
	cr_assert_eq(out.nfindings, 1);
	cr_assert_str_eq(out.findings[0].code, "T40007");
	cr_assert_eq(out.findings[0].record, 46, "line %u", out.findings[0].record);
	cr_assert_gt(out.findings[0].pos, 0);
}

Test(kmehr, truncated_and_empty_documents)
{
	doc[strlen(doc) / 2] = 0;
	decode();
	cr_assert_str_eq(out.findings[0].code, "T40007");
	strcpy(doc, "<");
	decode();
	cr_assert_str_eq(out.findings[0].code, "T40007");
	cr_assert(out.blocked);
}

Test(kmehr, a_wrong_namespace_is_refused)
{
	edit("xmlns:kmehr=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v1\"",
	     "xmlns:kmehr=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v2\"");
	decode();
	EXPECT("T40011", 0, 5); /* no kmehr folder */
	cr_assert(out.blocked);
	free(doc);
	doc = strdup(sample);
	edit("xmlns=\"http://www.ehealth.fgov.be/messageservices/protocol/v1\"",
	     "xmlns=\"urn:other\"");
	decode();
	EXPECT("T40009", 0, 1);
	cr_assert_eq(out.ninvoices, 0);
}

/* Replace the request by tests/data/eattest/@p name. */
static void load(const char *name)
{
	char rel[128];
	size_t n;

	snprintf(rel, sizeof(rel), "tests/data/eattest/%s", name);
	free(doc);
	doc = (char *)tpc_test_slurp(tpc_test_src(rel), &n);
	cr_assert_not_null(doc, "%s", rel);
}

Test(kmehr, an_external_entity_is_never_read)
{
	load("xxe-external-entity.xml");
	decode();
	cr_assert(out.blocked);
	cr_assert_eq(out.nfindings, 1);
	cr_assert_str_eq(out.findings[0].code, "T40008");
	cr_assert_eq(out.ninvoices, 0);
}

Test(kmehr, a_billion_laughs_is_refused_unread)
{
	load("billion-laughs.xml");
	decode();
	cr_assert_str_eq(out.findings[0].code, "T40008");
}

Test(kmehr, the_cancellation_file_names_its_invoicing_number)
{
	load("cancellation.xml");
	decode();
	cr_assert_eq(nfindings(), 0);
	cr_assert_eq(out.invoices[0].invoicing, TPC_INVOICING_CREDIT_NOTE);
	cr_assert(memcmp(out.invoices[0].previous.ptr, "600-1-261118-0000001-68", 23) == 0);
}

Test(kmehr, a_protobuf_attestation_is_not_read_as_kmehr)
{
	cr_assert(tpc_eattest_is_kmehr((const uint8_t *)"\xef\xbb\xbf \n<x/>", 9));
	cr_assert(!tpc_eattest_is_kmehr((const uint8_t *)"\x0a\x0b"
	                                                 "17385467004",
	                                13));
	cr_assert(!tpc_eattest_is_kmehr((const uint8_t *)"", 0));
}

/* ---- cancellation -------------------------------------------------------------------------- */

static const char cancel_fmt[] =
    "<?xml version=\"1.0\"?>\n<kmehr:kmehrmessage "
    "xmlns:kmehr=\"http://www.ehealth.fgov.be/standards/kmehr/schema/v1\">"
    "<kmehr:header><kmehr:date>2026-11-19</kmehr:date><kmehr:sender><kmehr:hcparty>"
    "<kmehr:id S=\"ID-HCPARTY\" SV=\"1.0\">17385467004</kmehr:id></kmehr:hcparty></kmehr:sender>"
    "</kmehr:header><kmehr:folder><kmehr:patient><kmehr:id S=\"ID-PATIENT\" "
    "SV=\"1.0\">86103130262</kmehr:id></kmehr:patient><kmehr:transaction><kmehr:cd "
    "S=\"CD-TRANSACTION-MYCARENET\" SV=\"1.5\">cgacancellation</kmehr:cd><kmehr:item><kmehr:cd "
    "S=\"CD-ITEM-MYCARENET\" SV=\"1.6\">invoicingnumber</kmehr:cd><kmehr:content><kmehr:text "
    "L=\"en\">%s</kmehr:text></kmehr:content><kmehr:content><kmehr:cd S=\"LOCAL\" "
    "SL=\"NIHDI-CANCELLATION-REASON\" SV=\"1.0\">1</kmehr:cd></kmehr:content></kmehr:item>"
    "</kmehr:transaction></kmehr:folder></kmehr:kmehrmessage>";

static void cancel_of(const char *number)
{
	free(doc);
	cr_assert(asprintf(&doc, cancel_fmt, number) > 0);
	decode();
}

Test(kmehr, a_cancellation_credits_the_invoicing_number)
{
	char n[TPC_INVOICING_LEN + 1];

	tpc_invoicing_make(20261118, (const uint8_t *)"x", 1, n);
	cancel_of(n);
	cr_assert_eq(nfindings(), 0, "first %s", out.nfindings ? out.findings[0].code : "?");
	cr_assert_eq(out.ninvoices, 1);
	cr_assert_eq(out.nlines, 0, "the engine credits the cancelled lines");
	cr_assert_eq(out.invoices[0].invoicing, TPC_INVOICING_CREDIT_NOTE);
	cr_assert_eq(out.invoices[0].previous.len, TPC_INVOICING_LEN);
	cr_assert(memcmp(out.invoices[0].previous.ptr, n, TPC_INVOICING_LEN) == 0);
	cr_assert_eq(out.invoices[0].number.len, 0);
}

Test(kmehr, a_cancellation_of_a_bad_number)
{
	char n[TPC_INVOICING_LEN + 1];

	cancel_of("600-1-261118-123456");
	EXPECT("T40022", 1, 1);
	tpc_invoicing_make(20261118, (const uint8_t *)"x", 1, n);
	n[15] = n[15] == '9' ? '0' : (char)(n[15] + 1); /* one digit wrong */
	cancel_of(n);
	EXPECT("T40023", 1, 1);
	tpc_invoicing_make(20261118, (const uint8_t *)"x", 1, n);
	memcpy(n, "100", 3);
	cancel_of(n);
	cr_assert(found("T40023", 1, 1) || found("T40024", 1, 1));
}

/* ---- the invoicing number ------------------------------------------------------------------ */

Test(kmehr, the_invoicing_number_check_pair_catches_one_digit_and_swaps)
{
	char n[TPC_INVOICING_LEN + 1], m[TPC_INVOICING_LEN + 1];
	static const int digit[] = {0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19};

	tpc_invoicing_make(20261118, (const uint8_t *)doc, strlen(doc), n);
	cr_assert_eq(strlen(n), TPC_INVOICING_LEN);
	cr_assert_eq(tpc_invoicing_check(n, TPC_INVOICING_LEN), TPC_INVOICING_OK);
	for (size_t i = 0; i < sizeof(digit) / sizeof(digit[0]); i++)
		for (char c = '0'; c <= '9'; c++) {
			if (c == n[digit[i]])
				continue;
			memcpy(m, n, sizeof(m));
			m[digit[i]] = c;
			cr_assert_neq(tpc_invoicing_check(m, TPC_INVOICING_LEN), TPC_INVOICING_OK,
			              "%s", m);
		}
	memcpy(m, n, sizeof(m));
	m[14] = n[13], m[13] = n[14];
	cr_assert(n[13] == n[14] || tpc_invoicing_check(m, TPC_INVOICING_LEN) != 0);
	/* the same request, the same number; another, another */
	tpc_invoicing_make(20261118, (const uint8_t *)doc, strlen(doc), m);
	cr_assert_str_eq(m, n);
	tpc_invoicing_make(20261118, (const uint8_t *)doc, strlen(doc) - 1, m);
	cr_assert_str_neq(m, n);
}

/* ---- the answer ----------------------------------------------------------------------------- */

/* Judge @p s, encode its Kmehr answer into @p b. */
static void answer_of(tpc_sending_t *s, tpc_blob_t *b)
{
	tpc_clear_summary_t sum;

	tpc_clear_judge(s, &sum);
	memset(b, 0, sizeof(*b));
	cr_assert_eq(tpc_eattest_adapter.encode_answer(NULL, (const uint8_t *)doc, strlen(doc), s,
	                                               TPC_ANSWER_RESULT, &host, b),
	             0);
	cr_assert_str_eq(b->type, "kmehr");
}

#define XP_EQ(b, expr, want)                                                                       \
	do {                                                                                       \
		char *got_ = tpc_test_kmehr_string((b).ptr, (b).len, expr);                        \
		cr_assert_str_eq(got_, want, "%s", expr);                                          \
		free(got_);                                                                        \
	} while (0)

Test(kmehr, an_accepted_attestation_is_answered_with_its_invoicing_number_and_fees)
{
	tpc_blob_t b;
	char num[TPC_INVOICING_LEN + 1];

	decode();
	memcpy(num, out.invoices[0].number.ptr, TPC_INVOICING_LEN);
	num[TPC_INVOICING_LEN] = 0;
	out.lines[0].insurer_cents = 2660; /* what the engine would reimburse */
	answer_of(&out, &b);
	XP_EQ(b, "/p:SendTransactionResponse/c:acknowledge/c:iscomplete", "true");
	XP_EQ(b, "count(//c:error)", "0");
	XP_EQ(b, "/p:SendTransactionResponse/c:response/c:request/c:id",
	      "17385467004.20261118101500");
	XP_EQ(b,
	      "/p:SendTransactionResponse/c:kmehrmessage/k:folder/k:transaction[k:cd="
	      "'cga']/k:item[k:cd='invoicingnumber']/k:content/k:text",
	      num);
	XP_EQ(b, "count(//k:transaction[k:cd='cgd'])", "1");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[1]/k:content/k:cd[@S='CD-NIHDI']", "101032");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[1]/k:content/k:cd[@SL='NIHDI-CLAIM-NORM']",
	      "0");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[2]/k:content/k:date", "2026-11-18");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[2]/k:content/k:time", "10:00:00");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[3]/k:cd", "fee");
	XP_EQ(b, "//k:transaction[k:cd='cgd']/k:item[3]/k:cost/k:decimal", "26.60");
	XP_EQ(b, "//k:folder/k:patient/k:id", "86103130262");
}

Test(kmehr, a_refusal_is_answered_with_errors_naming_the_item)
{
	tpc_blob_t b;

	edit_nth(">patientpaid<", ">other<", 2);
	decode();
	answer_of(&out, &b);
	XP_EQ(b, "/p:SendTransactionResponse/c:acknowledge/c:iscomplete", "false");
	XP_EQ(b, "count(/p:SendTransactionResponse/c:kmehrmessage)", "0");
	XP_EQ(b, "//c:error[1]/k:cd[@S='CD-ERROR']", "T40018");
	XP_EQ(b, "//c:error[1]/k:url",
	      "/SendTransactionRequest/kmehrmessage/folder/transaction[2]");
}

Test(kmehr, malformed_xml_is_answered_too)
{
	tpc_blob_t b;
	char *d;

	edit("<kmehr:sex>", "<kmehr:sex");
	decode();
	answer_of(&out, &b);
	XP_EQ(b, "//c:error[1]/k:cd", "T40007");
	d = tpc_test_kmehr_string(b.ptr, b.len, "//c:error[1]/k:description");
	cr_assert(strstr(d, "line 46"), "%s", d);
	free(d);
}

Test(kmehr, the_answer_is_the_same_bytes_for_the_same_request)
{
	tpc_blob_t a, b;

	decode();
	answer_of(&out, &a);
	decode();
	answer_of(&out, &b);
	cr_assert_eq(a.len, b.len);
	cr_assert(memcmp(a.ptr, b.ptr, a.len) == 0);
}

Test(kmehr, the_protobuf_form_still_has_no_native_answer)
{
	tpc_blob_t b = {0};
	static const uint8_t pb[] = {0x0a, 0x0b, '1', '7', '3', '8', '5',
	                             '4',  '6',  '7', '0', '0', '4'};

	decode();
	cr_assert_eq(tpc_eattest_adapter.encode_answer(NULL, pb, sizeof(pb), &out,
	                                               TPC_ANSWER_RESULT, &host, &b),
	             TPC_ADAPTER_ENOTSUP);
}
