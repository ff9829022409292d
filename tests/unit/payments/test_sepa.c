/* tests/unit/payments/test_sepa.c - SEPA credit-transfer files, pain.001.001.03
 * (engine/payments/sepa.c).
 *
 * Rendering: a 3-payment batch gives the text of tests/data/sepa/three_payments.xml byte for byte
 * (element order, indentation, amounts); the document parses back with libxml2 and its NbOfTxs
 * and CtrlSum, in GrpHdr and PmtInf, equal the count and the sum of the InstdAmt read from the
 * parsed tree. Optional elements (creditor agent, remittance, debtor BIC) come and go with their
 * fields. With TPC_PAIN001_XSD naming a copy of pain.001.001.03.xsd the documents are also
 * validated against the schema (the test is skipped without it).
 *
 * Checks: every refusal returns TPC_EINVAL with "payment N: field: reason", "debtor: field: ..."
 * or "batch: field: ...", and render refuses the same batch with the same message and no output.
 *
 * The files are written by tpc_file_write_atomic (tests/unit/core/test_file.c).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "core/error.h"
#include "payments/sepa.h"
#include "testutil.h"

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define NS "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

/* 1796108138250 ms = 2026-12-01T06:55:38.250Z */
#define CREATED_MS 1796108138250ull
#define MAX_CENTS  999999999999999999LL /* 18 digits, the schema's limit */

static struct {
	tpc_sepa_payment_t pay[8];
	tpc_sepa_batch_t b;
	char err[256];
	char *xml;
	size_t len;
} fx;

static int32_t day(uint32_t yyyymmdd)
{
	int32_t d;

	cr_assert_eq(tpc_check_date_yyyymmdd(yyyymmdd, &d), 0, "bad test date %u", yyyymmdd);
	return d;
}

/* Three payments: 1 cent, 1234.56 and 1.00; the second has no BIC, the third no remittance. */
static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.pay[0] = (tpc_sepa_payment_t){.end_to_end = "RUN42-BUD1-0001",
	                                 .name = "Clinique Saint-Jean",
	                                 .iban = "BE68539007547034",
	                                 .bic = "GEBABEBB",
	                                 .amount_cents = 1,
	                                 .remittance = "Payment run 42 (November 2026)"};
	fx.pay[1] = (tpc_sepa_payment_t){.end_to_end = "RUN42-BUD1-0002",
	                                 .name = "Dr. A. Dupont",
	                                 .iban = "NL91ABNA0417164300",
	                                 .bic = "",
	                                 .amount_cents = 123456,
	                                 .remittance = "Ref: 2026/11 - 17 invoices"};
	fx.pay[2] = (tpc_sepa_payment_t){.end_to_end = "RUN42-BUD1-0003",
	                                 .name = "O'Brien + Partners",
	                                 .iban = "DE89370400440532013000",
	                                 .bic = "DEUTDEFF500",
	                                 .amount_cents = 100,
	                                 .remittance = ""};
	fx.b = (tpc_sepa_batch_t){
	    .message_id = "TPC-RUN42-BUD1",
	    .payment_info_id = "TPC-RUN42-BUD1-P1",
	    .created_ms = CREATED_MS,
	    .execution_day = day(20261203),
	    .debtor_name = "Mutualite Chretienne",
	    .debtor_iban = "BE10001232152604",
	    .debtor_bic = "GKCCBEBB",
	    .payments = fx.pay,
	    .npayments = 3,
	};
}

static void teardown(void)
{
	free(fx.xml);
}

TestSuite(sepa, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------------------------ */

/* A file under the source tree: TPC_SOURCE_DIR under ctest; run by hand, found from this file's
 * own path (CMake compiles with absolute paths). */
static const char *src_path(const char *rel)
{
	static char path[4096];
	const char *self = __FILE__, *tail = "tests/unit/payments/test_sepa.c";
	size_t n = strlen(self), t = strlen(tail);

	if (getenv("TPC_SOURCE_DIR") || n < t || strcmp(self + n - t, tail) != 0)
		return tpc_test_src(rel);
	snprintf(path, sizeof(path), "%.*s%s", (int)(n - t), self, rel);
	return path;
}

static void render_ok(void)
{
	int rc;

	free(fx.xml);
	fx.xml = NULL;
	fx.err[0] = 0;
	rc = tpc_sepa_render(&fx.b, &fx.xml, &fx.len, NULL, fx.err, sizeof(fx.err));
	cr_assert_eq(rc, 0, "refused: rc %d, '%s'", rc, fx.err);
	cr_assert_not_null(fx.xml);
	cr_assert_eq(strlen(fx.xml), fx.len);
}

static int contains(const char *needle)
{
	return strstr(fx.xml, needle) != NULL;
}

/* The batch must be refused by check and by render, with a message starting with @p prefix. */
static void refused(const char *prefix)
{
	char *xml = NULL;
	size_t len = 0;
	int rc;

	fx.err[0] = 0;
	rc = tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err));
	cr_assert_eq(rc, TPC_EINVAL, "accepted (rc %d), want '%s...'", rc, prefix);
	cr_assert(strncmp(fx.err, prefix, strlen(prefix)) == 0, "got '%s', want '%s...'", fx.err,
	          prefix);

	fx.err[0] = 0;
	rc = tpc_sepa_render(&fx.b, &xml, &len, NULL, fx.err, sizeof(fx.err));
	cr_assert_eq(rc, TPC_EINVAL, "render accepted (rc %d)", rc);
	cr_assert_null(xml, "render wrote output for a refused batch");
	cr_assert(strncmp(fx.err, prefix, strlen(prefix)) == 0, "render: got '%s', want '%s...'",
	          fx.err, prefix);
}

static void refused_because(const char *prefix, const char *reason)
{
	refused(prefix);
	cr_assert_not_null(strstr(fx.err, reason), "got '%s', want reason '%s'", fx.err, reason);
}

static xmlDocPtr parse_xml(void)
{
	xmlDocPtr doc = xmlReadMemory(fx.xml, (int)fx.len, "sepa.xml", NULL, XML_PARSE_NONET);

	cr_assert_not_null(doc, "not well-formed:\n%s", fx.xml);
	return doc;
}

static xmlXPathObjectPtr eval(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr obj;

	cr_assert_not_null(ctx);
	cr_assert_eq(xmlXPathRegisterNs(ctx, BAD_CAST "p", BAD_CAST NS), 0);
	obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlXPathFreeContext(ctx);
	cr_assert_not_null(obj, "bad XPath %s", expr);
	return obj;
}

static int count(xmlDocPtr doc, const char *expr)
{
	xmlXPathObjectPtr obj = eval(doc, expr);
	int n = obj->nodesetval ? obj->nodesetval->nodeNr : 0;

	xmlXPathFreeObject(obj);
	return n;
}

/* Text of the single node @p expr selects, into @p out. */
static void text_of(xmlDocPtr doc, const char *expr, char *out, size_t size)
{
	xmlXPathObjectPtr obj = eval(doc, expr);
	xmlChar *s;

	cr_assert(obj->nodesetval && obj->nodesetval->nodeNr == 1, "%s: not exactly one node",
	          expr);
	s = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	snprintf(out, size, "%s", (const char *)s);
	xmlFree(s);
	xmlXPathFreeObject(obj);
}

/* "1234.56" -> 123456; the form must be digits, a dot and exactly two decimals. */
static int64_t cents_of(const char *s)
{
	int64_t v = 0;
	const char *dot = strchr(s, '.');

	cr_assert(dot && dot > s && strlen(dot) == 3, "amount '%s' is not N.NN", s);
	for (const char *p = s; *p; p++) {
		if (p == dot)
			continue;
		cr_assert(*p >= '0' && *p <= '9', "amount '%s'", s);
		v = v * 10 + (*p - '0');
	}
	return v;
}

static int64_t cents_at(xmlDocPtr doc, const char *expr)
{
	char buf[64];

	text_of(doc, expr, buf, sizeof(buf));
	return cents_of(buf);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* ---- rendering ---------------------------------------------------------------------------- */

Test(sepa, renders_three_payments)
{
	tpc_sepa_totals_t t;
	int rc;

	rc = tpc_sepa_render(&fx.b, &fx.xml, &fx.len, &t, fx.err, sizeof(fx.err));
	cr_assert_eq(rc, 0, "refused: rc %d, '%s'", rc, fx.err);
	cr_assert_eq(t.transactions, 3);
	cr_assert_eq(t.control_cents, 1 + 123456 + 100);
	cr_assert(strncmp(fx.xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
	cr_assert(contains("<Document xmlns=\"" NS "\">"));
	cr_assert(contains("<NbOfTxs>3</NbOfTxs>"));
	cr_assert(contains("<CtrlSum>1235.57</CtrlSum>"));
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">0.01</InstdAmt>"));
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">1234.56</InstdAmt>"));
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">1.00</InstdAmt>"));
	cr_assert(contains("<CreDtTm>2026-12-01T06:55:38</CreDtTm>"));
	cr_assert(contains("<ReqdExctnDt>2026-12-03</ReqdExctnDt>"));
	cr_assert(contains("<Nm>O'Brien + Partners</Nm>"));
}

Test(sepa, matches_golden_file)
{
	const char *path = src_path("tests/data/sepa/three_payments.xml");
	unsigned char *want;
	size_t len;

	render_ok();
	want = tpc_test_slurp(path, &len);
	cr_assert_not_null(want, "cannot read %s", path);
	cr_expect_eq(fx.len, len);
	cr_expect_str_eq(fx.xml, (const char *)want);
	free(want);
}

Test(sepa, parsed_totals_match_amounts)
{
	const char *tx = "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf";
	xmlXPathObjectPtr amts;
	xmlDocPtr doc;
	int64_t sum = 0;
	int n;

	/* a larger batch, so the sums are not the ones the golden file already pins */
	for (int i = 3; i < 8; i++) {
		fx.pay[i] = fx.pay[i % 3];
		fx.pay[i].amount_cents = 99999 * i + 7;
	}
	fx.pay[3].end_to_end = "E4";
	fx.pay[4].end_to_end = "E5";
	fx.pay[5].end_to_end = "E6";
	fx.pay[6].end_to_end = "E7";
	fx.pay[7].end_to_end = "E8";
	fx.b.npayments = 8;
	render_ok();
	doc = parse_xml();

	n = count(doc, tx);
	cr_assert_eq(n, 8);
	amts = eval(doc, "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Amt/"
	                 "p:InstdAmt[@Ccy='EUR']");
	cr_assert_eq(amts->nodesetval->nodeNr, n, "every InstdAmt is in EUR");
	for (int i = 0; i < amts->nodesetval->nodeNr; i++) {
		xmlChar *s = xmlNodeGetContent(amts->nodesetval->nodeTab[i]);

		sum += cents_of((const char *)s);
		xmlFree(s);
	}
	xmlXPathFreeObject(amts);

	cr_assert_eq(cents_at(doc, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum"), sum);
	cr_assert_eq(cents_at(doc, "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum"), sum);
	cr_assert_eq(count(doc, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs[. = 8]"), 1);
	cr_assert_eq(count(doc, "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:NbOfTxs[. = 8]"), 1);
	cr_assert_eq(sum, 1 + 123456 + 100 + 99999 * (3 + 4 + 5 + 6 + 7) + 5 * 7);
	xmlFreeDoc(doc);
}

Test(sepa, optional_elements_follow_fields)
{
	const char *tx = "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf";
	char path[256], buf[64];
	xmlDocPtr doc;

	render_ok();
	doc = parse_xml();
	/* creditor agent only with a BIC (payments 1, 3); remittance only when non-empty (1, 2) */
	snprintf(path, sizeof(path), "%s[1]/p:CdtrAgt/p:FinInstnId/p:BIC", tx);
	text_of(doc, path, buf, sizeof(buf));
	cr_assert_str_eq(buf, "GEBABEBB");
	snprintf(path, sizeof(path), "%s[2]/p:CdtrAgt", tx);
	cr_assert_eq(count(doc, path), 0);
	snprintf(path, sizeof(path), "%s[3]/p:CdtrAgt/p:FinInstnId/p:BIC", tx);
	cr_assert_eq(count(doc, path), 1);
	snprintf(path, sizeof(path), "%s[2]/p:RmtInf/p:Ustrd", tx);
	text_of(doc, path, buf, sizeof(buf));
	cr_assert_str_eq(buf, "Ref: 2026/11 - 17 invoices");
	snprintf(path, sizeof(path), "%s[3]/p:RmtInf", tx);
	cr_assert_eq(count(doc, path), 0);
	cr_assert_eq(count(doc, "//p:DbtrAgt/p:FinInstnId/p:BIC[. = 'GKCCBEBB']"), 1);
	cr_assert_eq(count(doc, "//p:DbtrAgt//p:Othr"), 0);
	xmlFreeDoc(doc);

	/* a NULL remittance is no remittance; an unknown debtor BIC becomes NOTPROVIDED */
	fx.pay[0].remittance = NULL;
	fx.b.debtor_bic = "";
	render_ok();
	doc = parse_xml();
	snprintf(path, sizeof(path), "%s[1]/p:RmtInf", tx);
	cr_assert_eq(count(doc, path), 0);
	cr_assert_eq(count(doc, "//p:DbtrAgt/p:FinInstnId/p:BIC"), 0);
	text_of(doc, "//p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", buf, sizeof(buf));
	cr_assert_str_eq(buf, "NOTPROVIDED");
	xmlFreeDoc(doc);
}

Test(sepa, header_fields_in_schema_order)
{
	static const char *const grphdr[] = {"MsgId", "CreDtTm", "NbOfTxs", "CtrlSum", "InitgPty"};
	static const char *const pmtinf[] = {"PmtInfId", "PmtMtd",   "BtchBookg",   "NbOfTxs",
	                                     "CtrlSum",  "PmtTpInf", "ReqdExctnDt", "Dbtr",
	                                     "DbtrAcct", "DbtrAgt",  "ChrgBr",      "CdtTrfTxInf"};
	xmlXPathObjectPtr obj;
	xmlDocPtr doc;
	char buf[64];

	render_ok();
	doc = parse_xml();
	obj = eval(doc, "/p:Document/p:CstmrCdtTrfInitn/p:GrpHdr/*");
	cr_assert_eq(obj->nodesetval->nodeNr, 5);
	for (int i = 0; i < 5; i++)
		cr_assert_str_eq((const char *)obj->nodesetval->nodeTab[i]->name, grphdr[i]);
	xmlXPathFreeObject(obj);
	obj = eval(doc, "/p:Document/p:CstmrCdtTrfInitn/p:PmtInf/*");
	cr_assert_eq(obj->nodesetval->nodeNr, 14); /* 11 fields and 3 transactions */
	for (int i = 0; i < 14; i++)
		cr_assert_str_eq((const char *)obj->nodesetval->nodeTab[i]->name,
		                 pmtinf[i < 11 ? i : 11]);
	xmlXPathFreeObject(obj);

	text_of(doc, "//p:GrpHdr/p:InitgPty/p:Nm", buf, sizeof(buf));
	cr_assert_str_eq(buf, "Mutualite Chretienne");
	text_of(doc, "//p:PmtInf/p:PmtMtd", buf, sizeof(buf));
	cr_assert_str_eq(buf, "TRF");
	text_of(doc, "//p:PmtInf/p:BtchBookg", buf, sizeof(buf));
	cr_assert_str_eq(buf, "true");
	text_of(doc, "//p:PmtInf/p:PmtTpInf/p:SvcLvl/p:Cd", buf, sizeof(buf));
	cr_assert_str_eq(buf, "SEPA");
	text_of(doc, "//p:PmtInf/p:ChrgBr", buf, sizeof(buf));
	cr_assert_str_eq(buf, "SLEV");
	text_of(doc, "//p:PmtInf/p:DbtrAcct/p:Id/p:IBAN", buf, sizeof(buf));
	cr_assert_str_eq(buf, "BE10001232152604");
	xmlFreeDoc(doc);
}

Test(sepa, dates_are_utc_and_bounded)
{
	fx.b.created_ms = 0;
	fx.b.execution_day = 0;
	render_ok();
	cr_assert(contains("<CreDtTm>1970-01-01T00:00:00</CreDtTm>"));
	cr_assert(contains("<ReqdExctnDt>1970-01-01</ReqdExctnDt>"));

	/* the last millisecond and the last day accepted */
	fx.b.created_ms = 32503679999999ull;
	fx.b.execution_day = day(29991231);
	render_ok();
	cr_assert(contains("<CreDtTm>2999-12-31T23:59:59</CreDtTm>"));
	cr_assert(contains("<ReqdExctnDt>2999-12-31</ReqdExctnDt>"));

	fx.b.created_ms = 32503680000000ull;
	refused("batch: created_ms: ");
	fx.b.created_ms = CREATED_MS;
	fx.b.execution_day = day(29991231) + 1;
	refused("batch: execution_day: ");
	fx.b.execution_day = -1;
	refused("batch: execution_day: ");
}

Test(sepa, amounts_at_the_limits)
{
	/* the largest amount the schema allows, alone */
	fx.pay[0].amount_cents = MAX_CENTS;
	fx.b.npayments = 1;
	render_ok();
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">9999999999999999.99</InstdAmt>"));
	cr_assert(contains("<CtrlSum>9999999999999999.99</CtrlSum>"));

	fx.pay[0].amount_cents = 10;
	render_ok();
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">0.10</InstdAmt>"));
	fx.pay[0].amount_cents = 123456;
	render_ok();
	cr_assert(contains("<InstdAmt Ccy=\"EUR\">1234.56</InstdAmt>"));
}

Test(sepa, validates_against_schema)
{
	const char *xsd = getenv("TPC_PAIN001_XSD");
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaValidCtxtPtr vc;
	xmlSchemaPtr schema;
	char *name, *remit;

	if (!xsd || !*xsd)
		cr_skip_test("TPC_PAIN001_XSD is not set (path of pain.001.001.03.xsd)");
	pc = xmlSchemaNewParserCtxt(xsd);
	cr_assert_not_null(pc);
	schema = xmlSchemaParse(pc);
	cr_assert_not_null(schema, "cannot parse %s", xsd);
	xmlSchemaFreeParserCtxt(pc);
	vc = xmlSchemaNewValidCtxt(schema);
	cr_assert_not_null(vc);

	/* the 3-payment batch; then every optional element flipped and every field at its limit */
	name = repeat('N', 70);
	remit = repeat('r', 140);
	for (int pass = 0; pass < 2; pass++) {
		xmlDocPtr doc;

		if (pass == 1) {
			fx.b.message_id = "M-3456789012345678901234567890-2345";
			fx.b.debtor_bic = "";
			fx.b.debtor_name = name;
			fx.pay[0].name = name;
			fx.pay[0].remittance = remit;
			fx.pay[0].amount_cents = MAX_CENTS / 2;
			fx.pay[1].amount_cents = MAX_CENTS / 2;
			fx.pay[1].bic = "KREDBEBB";
			fx.pay[2].amount_cents = 1; /* the sum: MAX_CENTS exactly */
			fx.pay[2].remittance = NULL;
			fx.pay[2].end_to_end = "/-?:().,'+ azAZ09";
		}
		render_ok();
		doc = parse_xml();
		cr_expect_eq(xmlSchemaValidateDoc(vc, doc), 0, "pass %d not valid:\n%s", pass,
		             fx.xml);
		xmlFreeDoc(doc);
	}
	free(name);
	free(remit);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
}

/* ---- checks ------------------------------------------------------------------------------- */

Test(sepa, bic_ok)
{
	static const char *const good[] = {"GEBABEBB",    "KREDBEBB", "DEUTDEFF500",
	                                   "BBRUBEBBXXX", "ABCDBE2A", "ABCDBE22"};
	static const char *const bad[] = {
	    "",         "GEBABEB",     "GEBABEBBX", "GEBABEBBXX", "GEBABEBBXXXX", "gebabebb",
	    "GEBABEbb", "GEB4BEBB",    "GEBAB3BB",  "GEBABE-B",   "GEBABEBBxxx",  "GEBABEBB-XX",
	    "GEBABE0B",             /* location: first character not 0 or 1 (schema pattern) */
	    "GEBABE1B", "GEBABEBO", /* second not O */
	    "GEBABE B", "GEBABEBB XX",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(tpc_sepa_bic_ok(good[i]), "'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!tpc_sepa_bic_ok(bad[i]), "'%s' accepted", bad[i]);
	cr_expect(!tpc_sepa_bic_ok(NULL));
}

Test(sepa, good_batch_passes_check)
{
	cr_assert_eq(tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err)), 0, "'%s'", fx.err);
	/* NULL and empty BIC and remittance are all "absent" */
	fx.pay[0].bic = NULL;
	fx.pay[0].remittance = NULL;
	fx.b.debtor_bic = NULL;
	cr_assert_eq(tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err)), 0, "'%s'", fx.err);
	/* a NULL error buffer is allowed */
	fx.pay[1].iban = "BE68539007547035";
	cr_assert_eq(tpc_sepa_check(&fx.b, NULL, 0), TPC_EINVAL);
}

Test(sepa, refuses_bad_iban_check_digits)
{
	fx.pay[1].iban = "NL91ABNA0417164301";
	refused_because("payment 2: iban: ", "'NL91ABNA0417164301' is not a valid IBAN");
	fx.pay[1].iban = "nl91abna0417164300";
	refused("payment 2: iban: ");
	fx.pay[1].iban = "BE68 5390 0754 7034";
	refused("payment 2: iban: ");
	fx.pay[1].iban = "";
	refused_because("payment 2: iban: ", "missing");
	fx.pay[1].iban = NULL;
	refused_because("payment 2: iban: ", "missing");
	fx.pay[1].iban = "NL91ABNA0417164300";
	fx.b.debtor_iban = "BE68539007547035";
	refused_because("debtor: iban: ", "not a valid IBAN");
}

Test(sepa, refuses_bad_bic)
{
	fx.pay[2].bic = "DEUTDEFF50";
	refused_because("payment 3: bic: ", "'DEUTDEFF50' is not a BIC");
	fx.pay[2].bic = "deutdeff";
	refused("payment 3: bic: ");
	fx.pay[2].bic = "DEUTDEFF";
	fx.b.debtor_bic = "GKCC BEBB";
	refused("debtor: bic: ");
}

Test(sepa, refuses_empty_name)
{
	fx.pay[2].name = "";
	refused_because("payment 3: name: ", "empty");
	fx.pay[2].name = NULL;
	refused_because("payment 3: name: ", "missing");
	fx.pay[2].name = "X";
	fx.b.debtor_name = "";
	refused_because("debtor: name: ", "empty");
	fx.b.debtor_name = "Mutualite";
	fx.pay[0].end_to_end = "";
	refused_because("payment 1: end_to_end: ", "empty");
	fx.pay[0].end_to_end = "E1";
	fx.b.message_id = "";
	refused_because("batch: message_id: ", "empty");
	fx.b.message_id = "M";
	fx.b.payment_info_id = NULL;
	refused_because("batch: payment_info_id: ", "missing");
}

Test(sepa, refuses_too_long_fields)
{
	char *s36 = repeat('A', 36), *s35 = repeat('A', 35), *s71 = repeat('n', 71),
	     *s141 = repeat('r', 141);

	fx.pay[1].end_to_end = s36;
	refused_because("payment 2: end_to_end: ", "36 characters, at most 35");
	fx.pay[1].end_to_end = s35;
	cr_assert_eq(tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err)), 0, "'%s'", fx.err);
	fx.b.message_id = s36;
	refused_because("batch: message_id: ", "at most 35");
	fx.b.message_id = "M";
	fx.b.payment_info_id = s36;
	refused_because("batch: payment_info_id: ", "at most 35");
	fx.b.payment_info_id = "P";
	fx.pay[0].name = s71;
	refused_because("payment 1: name: ", "71 characters, at most 70");
	fx.pay[0].name = "N";
	fx.b.debtor_name = s71;
	refused_because("debtor: name: ", "at most 70");
	fx.b.debtor_name = "D";
	fx.pay[2].remittance = s141;
	refused_because("payment 3: remittance: ", "141 characters, at most 140");
	free(s36);
	free(s35);
	free(s71);
	free(s141);
}

Test(sepa, refuses_forbidden_characters)
{
	fx.pay[0].name = "Clinique Sainte-H\xc3\xa9l\xc3\xa8ne"; /* UTF-8 e acute */
	refused_because("payment 1: name: ", "character 18 (0xc3) is outside the SEPA Latin set");
	fx.pay[0].name = "Clinique";
	fx.pay[1].end_to_end = "RUN42_0002";
	refused_because("payment 2: end_to_end: ", "character 6 (0x5f)");
	fx.pay[1].end_to_end = "RUN42-0002";
	fx.pay[2].remittance = "invoices <1> & <2>";
	refused_because("payment 3: remittance: ", "character 10 (0x3c)");
	fx.pay[2].remittance = "line\nbreak";
	refused("payment 3: remittance: ");
	fx.pay[2].remittance = "";
	fx.b.debtor_name = "Mutualit\xc3\xa9";
	refused("debtor: name: ");
	fx.b.debtor_name = "Mutualite";
	fx.b.message_id = "MSG#1";
	refused("batch: message_id: ");
}

Test(sepa, refuses_non_positive_amount)
{
	fx.pay[1].amount_cents = 0;
	refused_because("payment 2: amount_cents: ", "0 is not positive");
	fx.pay[1].amount_cents = -100;
	refused_because("payment 2: amount_cents: ", "-100 is not positive");
	fx.pay[1].amount_cents = INT64_MIN;
	refused("payment 2: amount_cents: ");
}

Test(sepa, refuses_duplicate_end_to_end)
{
	fx.pay[2].end_to_end = fx.pay[0].end_to_end;
	refused_because("payment 3: end_to_end: ", "'RUN42-BUD1-0001' repeats payment 1");

	/* A B C B A: the first repeat in input order is payment 4 (of 2), not 5 (of 1) */
	fx.pay[3] = fx.pay[1];
	fx.pay[4] = fx.pay[0];
	fx.pay[0].end_to_end = "A";
	fx.pay[1].end_to_end = "B";
	fx.pay[2].end_to_end = "C";
	fx.pay[3].end_to_end = "B";
	fx.pay[4].end_to_end = "A";
	fx.b.npayments = 5;
	refused_because("payment 4: end_to_end: ", "'B' repeats payment 2");

	/* three times the same: the second repeats the first */
	fx.pay[1].end_to_end = "A";
	fx.pay[2].end_to_end = "A";
	fx.b.npayments = 3;
	refused_because("payment 2: end_to_end: ", "repeats payment 1");
}

Test(sepa, refuses_no_payments)
{
	fx.b.npayments = 0;
	refused_because("batch: payments: ", "no payments");
	fx.b.npayments = 3;
	fx.b.payments = NULL;
	refused("batch: payments: ");
}

Test(sepa, refuses_overflow)
{
	/* each amount fits, their sum does not fit in the schema's 18 digits (nor, later, int64) */
	fx.pay[0].amount_cents = MAX_CENTS / 2 + 1;
	fx.pay[1].amount_cents = MAX_CENTS / 2 + 1;
	refused_because("payment 2: amount_cents: ", "control sum overflows");
	fx.pay[1].amount_cents = INT64_MAX;
	refused_because("payment 2: amount_cents: ", "more than 18 digits");
	fx.pay[0].amount_cents = MAX_CENTS + 1;
	refused_because("payment 1: amount_cents: ", "more than 18 digits");

	/* exactly at the limit is fine */
	fx.pay[0].amount_cents = MAX_CENTS - 101;
	fx.pay[1].amount_cents = 100;
	fx.pay[2].amount_cents = 1;
	cr_assert_eq(tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err)), 0, "'%s'", fx.err);
	fx.pay[2].amount_cents = 2;
	refused_because("payment 3: amount_cents: ", "control sum overflows");
}

Test(sepa, first_bad_field_in_reading_order)
{
	/* batch before debtor before payments, payments in order, duplicates last */
	fx.pay[2].end_to_end = fx.pay[0].end_to_end;
	fx.pay[1].amount_cents = 0;
	fx.pay[1].iban = "XX";
	refused("payment 2: iban: ");
	fx.b.debtor_bic = "x";
	refused("debtor: bic: ");
	fx.b.message_id = "";
	refused("batch: message_id: ");
}

/* ---- tpc_sepa_text: reference-data names into the SEPA Latin set ---------------------------- */

/* @p in as SEPA text of at most @p max characters must be @p want; @p cut: whether characters
 * were dropped. The result always passes the SEPA name check. */
static void sepa_text_is(const char *in, size_t max, const char *want, int cut)
{
	char out[TPC_SEPA_NAME_MAX + 1];

	cr_assert_leq(max, TPC_SEPA_NAME_MAX);
	cr_assert_eq(tpc_sepa_text(in, max, out), cut, "'%s' cut?", in);
	cr_assert_str_eq(out, want);
	fx.pay[0].name = out;
	cr_assert_eq(tpc_sepa_check(&fx.b, fx.err, sizeof(fx.err)), 0, "'%s': %s", out, fx.err);
	fx.pay[0].name = "N";
}

Test(sepa, text_transliterates_the_feeds_real_values)
{
	sepa_text_is("Centre Fedasil Bruxelles Petit-Ch\xC3\xA2teau", 70,
	             "Centre Fedasil Bruxelles Petit-Chateau", 0);
	sepa_text_is("Invalides de guerre 40-45, Cor\xC3\xA9"
	             "e, Congo et O.N.U.",
	             70, "Invalides de guerre 40-45, Coree, Congo et O.N.U.", 0);
	/* the EPC's conversions: base letters, ligatures and sharp s spelled out */
	sepa_text_is("\xC3\x80\xC3\xA7\xC3\xB1\xC3\xBF \xC3\x86\xC3\xA6 \xC5\x92\xC5\x93 "
	             "Stra\xC3\x9F"
	             "e \xC3\x9E\xC3\xB0",
	             70, "Acny AEae OEoe Strasse THd", 0);
	/* Central European letters (Latin Extended-A) */
	sepa_text_is("\xC5\x81\xC3\xB3"
	             "d\xC5\xBA \xC4\x8C"
	             "esk\xC3\xBD Krumlov "
	             "G\xC5\x91z\xC3\xB6l\xC5\x91s \xC4\xB2sselmeer",
	             70, "Lodz Cesky Krumlov Gozolos IJsselmeer", 0);
	/* punctuation: & is +, typographic quotes and dashes, no-break space, euro */
	sepa_text_is("Dupont & Fils \xE2\x80\x93 l\xE2\x80\x99"
	             "atelier\xC2\xA0"
	             "50\xE2\x82\xAC",
	             70, "Dupont + Fils - l'atelier 50EUR", 0);
	/* what has no equivalent becomes a full stop, a broken byte too */
	sepa_text_is("Caf\xC3\xA9 <Chez Lui> #1 \xE4\xB8\xAD \xFF", 70, "Cafe .Chez Lui. .1 . .",
	             0);
}

Test(sepa, text_is_cut_at_the_field_only)
{
	/* 122 bytes of UTF-8: 70 characters kept, as Max70Text allows, trailing space dropped */
	sepa_text_is("Centre Hospitalier Universitaire Saint-Pierre \xE2\x80\x93 Site C\xC3\xA9"
	             "sar De Paepe, H\xC3\xB4pital de la Ville de Bruxelles (\xC5\x92uvre sociale)",
	             TPC_SEPA_NAME_MAX,
	             "Centre Hospitalier Universitaire Saint-Pierre - Site Cesar De Paepe, H", 1);
	/* an expansion at the edge is cut inside (ss: s) */
	sepa_text_is("abcd\xC3\x9F", 5, "abcds", 1);
	sepa_text_is("abc \xC3\xA9", 4, "abc", 1);
	/* exactly the limit is not a cut */
	sepa_text_is("abcde", 5, "abcde", 0);
	/* nothing left: a SEPA name has one character at least */
	sepa_text_is("   ", 70, "-", 0);
	sepa_text_is(NULL, 70, "-", 0);
}
