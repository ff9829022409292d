/* tests/integration/test_feeds.c - feeds with real values through the real daemon (issue 13).
 *
 * The sample feeds (config/refdata/) carry the real Fedasil structure "Centre Fedasil Bruxelles
 * Petit-Chateau" (with its circumflex, 39 bytes: refused whole before, over 32) and the real
 * war-victims category "Invalides de guerre 40-45, Coree, Congo et O.N.U." (accented, over 16).
 * On top of them the test loads, over the intake, Mediprima decisions whose ids are long UTF-8
 * text and a hospital whose name is 122 bytes of UTF-8; then one eFact sending with a line of
 * every scheme is cleared, and each value must come out whole where it is shown:
 *   - the answer's line results (scheme_ref) and `tpclear ledger show --json` (valid JSON,
 *     UTF-8 as loaded);
 *   - the SPP IS statement (the Decision ids, the document valid against its XSD);
 *   - the SEPA files of the payment run, where the hospital's name is transliterated to the SEPA
 *     Latin set and cut at 70 characters: the one place a value is shortened, because
 *     pain.001's Max70Text says so.
 * A 255-byte category goes through the same path; bad UTF-8 and a value over 480 bytes are
 * refused with T00018 and their exact position, and the engine keeps serving.
 */
#include <criterion/criterion.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include "daemon.h"
#include "gen/efact_gen.h"
#include "testutil.h"

#define NO_THRESHOLD "[clearing]\nmax_refused_percent = 100\n"

#define FEDASIL_STRUCTURE "Centre Fedasil Bruxelles Petit-Ch\xC3\xA2teau"
#define WAR_CATEGORY                                                                               \
	"Invalides de guerre 40-45, Cor\xC3\xA9"                                                   \
	"e, Congo et O.N.U."
/* Mediprima decisions as a CPAS might write them: accents, a degree sign, an em dash */
#define DEC_HOSP                                                                                   \
	"D\xC3\xA9"                                                                                \
	"cision CPAS de Saint-Gilles n\xC2\xB0 2026/0001 \xE2\x80\x94 aide m\xC3\xA9"              \
	"dicale urgente"
#define DEC_AMB                                                                                    \
	"D\xC3\xA9"                                                                                \
	"cision CPAS d'Anderlecht n\xC2\xB0 2026/0002"
/* the sample hospital, renamed: 122 bytes, an en dash, accents, an OE ligature */
#define HOSPITAL_NAME                                                                              \
	"Centre Hospitalier Universitaire Saint-Pierre \xE2\x80\x93 Site C\xC3\xA9"                \
	"sar De "                                                                                  \
	"Paepe, H\xC3\xB4pital de la Ville de Bruxelles (\xC5\x92uvre sociale)"
/* ...as its SEPA files name it: transliterated (EPC217-08), cut at 70 characters */
#define HOSPITAL_SEPA "Centre Hospitalier Universitaire Saint-Pierre - Site Cesar De Paepe, H"
#define STATEMENT_NS  "urn:tpclear:sppis-statement:1"
#define PAIN001_NS    "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(feeds, .fini = teardown, .timeout = 180);

/* ---- helpers ------------------------------------------------------------------------------ */

/* Load @p csv as @p format ("mediprima", "upsert:war_victims"...) over the intake; NULL when
 * loaded, else the refusal's "CODE reason" (static). */
static const char *load(void *s, const char *format, const char *file, const char *csv)
{
	static char why[600];
	Tpclear__Answer *a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "test", file,
	                                    format, csv, strlen(csv), NULL, NULL);

	cr_assert_not_null(a, "load %s answered", file);
	if (a->body_case == TPCLEAR__ANSWER__BODY_LOAD) {
		tpclear__answer__free_unpacked(a, NULL);
		return NULL;
	}
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	snprintf(why, sizeof(why), "%s %s", a->receipt->code, a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
	return why;
}

static void load_ok(void *s, const char *format, const char *file, const char *csv)
{
	const char *why = load(s, format, file, csv);

	cr_assert_null(why, "%s refused: %s", file, why ? why : "");
}

/* The real values on top of the samples: long decision ids, a long hospital name. */
static void load_real_values(void *s)
{
	load_ok(s, "mediprima", "decisions.csv",
	        "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	        "\"" DEC_HOSP "\",0212000032,85030300364,2026-11-01,2026-11-15,hospital,1\n"
	        "\"" DEC_AMB "\",0207123407,85030300364,2026-11-01,2026-12-31,ambulatory,0\n");
	load_ok(s, "providers", "providers.csv",
	        "nihii,name,kind,bce,iban,bic\n"
	        "18334780004,\"" HOSPITAL_NAME "\",hospital,0999999922,BE10001232152604,GEBABEBB\n"
	        "17385467004,Dr. Exemple (general practice),gp,,BE68539007547034,BBRUBEBB\n"
	        "10065828001,Pharmacie du Centre,pharmacist,,BE71096123456769,GKCCBEBB\n");
}

/* Clear the sending with a line of every scheme (tests/support/gen: the people of the sample
 * feeds), sent by the hospital's identity @p h. @return its Result answer. */
static Tpclear__Answer *clear_mixed(void *h, const char *reference)
{
	size_t len;
	uint8_t *p = tpc_efact_schemes_sample(reference, 1, &len);
	Tpclear__Answer *a;

	cr_assert_not_null(p);
	a = tpc_td_submit(h, "hospital", reference, "efact", p, len, NULL);
	free(p);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	return a;
}

/* The scheme_ref of every accepted line of @p scheme, in order, joined by '|'. */
static void refs_of(const Tpclear__Result *r, const char *scheme, char *out, size_t cap)
{
	out[0] = 0;
	for (size_t i = 0; i < r->n_invoice_results; i++)
		for (size_t k = 0; k < r->invoice_results[i]->n_lines; k++) {
			const Tpclear__LineResult *l = r->invoice_results[i]->lines[k];

			if (l->outcome != TPCLEAR__OUTCOME__OUTCOME_ACCEPTED ||
			    strcmp(l->scheme, scheme) != 0)
				continue;
			if (out[0])
				strncat(out, "|", cap - strlen(out) - 1);
			strncat(out, l->scheme_ref, cap - strlen(out) - 1);
		}
}

/* Run tpclear as identity @p id; stdout into *@p out. @return its exit status. */
static int tpclear(const char *id, const char *args, char **out, char *path, size_t pcap)
{
	char cmd[4096];
	size_t n;
	int st;

	snprintf(path, pcap, "%s/cli-%s.out", d.dir, id);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' --sender %s %s %s >'%s' 2>>'%s/cli.err'",
	         getenv("TPC_TPCLEAR"), d.intake, id, tpc_td_cli_keys(&d, id), args, path, d.dir);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, &n);
	cr_assert_not_null(*out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The JSON in @p path parses (Python's json module, a reader we did not write), when python3
 * is there; else the check is said to be skipped. */
static void json_parses(const char *path)
{
	char cmd[600];
	int st;

	if (system("python3 -c '' >/dev/null 2>&1") != 0) {
		fprintf(stderr, "note: no python3: %s not parsed as JSON\n", path);
		return;
	}
	snprintf(cmd, sizeof(cmd),
	         "python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding=\"utf-8\"))' "
	         "'%s'",
	         path);
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s is valid JSON", path);
}

/* This month (UTC) as YYYYMM: the statement of the lines committed now. */
static uint32_t this_month(void)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	return (uint32_t)(tm.tm_year + 1900) * 100u + (uint32_t)tm.tm_mon + 1u;
}

/* Every value of @p expr in @p doc (namespace prefix p = @p ns), joined by '|'. */
static void xpath_all(xmlDocPtr doc, const char *ns, const char *expr, char *out, size_t cap)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;

	out[0] = 0;
	cr_assert_not_null(ctx);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"p", (const xmlChar *)ns);
	o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	cr_assert_not_null(o, "%s", expr);
	for (int i = 0; o->nodesetval && i < o->nodesetval->nodeNr; i++) {
		xmlChar *v = xmlNodeGetContent(o->nodesetval->nodeTab[i]);

		if (out[0])
			strncat(out, "|", cap - strlen(out) - 1);
		strncat(out, (const char *)v, cap - strlen(out) - 1);
		xmlFree(v);
	}
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The answer and `ledger show --json` carry every scheme's reference whole. */
static void check_answer_and_json(const Tpclear__Result *r, const char *reference)
{
	char refs[2048], args[200], path[400], *out;

	refs_of(r, "FEDASIL", refs, sizeof(refs));
	cr_assert_str_eq(refs, FEDASIL_STRUCTURE);
	refs_of(r, "WAR_VICTIMS", refs, sizeof(refs));
	cr_assert_str_eq(refs, WAR_CATEGORY);
	refs_of(r, "MEDIPRIMA", refs, sizeof(refs));
	cr_assert_str_eq(refs, DEC_HOSP "|" DEC_AMB);
	refs_of(r, "DETENTION", refs, sizeof(refs));
	cr_assert_str_eq(refs, "Prison de Haren|Prison de Haren");

	snprintf(args, sizeof(args), "ledger show %s --json", reference);
	cr_assert_eq(tpclear("hospital", args, &out, path, sizeof(path)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "\"scheme_ref\":\"" FEDASIL_STRUCTURE "\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"scheme_ref\":\"" WAR_CATEGORY "\""), "%s", out);
	cr_assert_not_null(
	    strstr(out, "\"scheme_ref\":\"" DEC_HOSP "\",\"scheme_org\":\"0212000032\""), "%s",
	    out);
	cr_assert_not_null(strstr(out, "\"scheme_ref\":\"" DEC_AMB "\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"scheme\":\"FEDASIL\""), "%s", out);
	json_parses(path);
	free(out);
}

/* The SPP IS statement of this month names both decisions whole and validates. */
static void check_statement(void *s)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	const Tpclear__Statement *st;
	Tpclear__Answer *a;
	xmlDocPtr doc;
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr schema;
	xmlSchemaValidCtxtPtr vc;
	char ids[1024], want[1024];

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = "sppis";
	rq.month = this_month();
	a = tpc_td_ledger(s, "ops", &rq);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER, "%s",
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	st = a->ledger->statement;
	cr_assert_eq(st->n_cpas, 2);
	doc = xmlReadMemory((const char *)st->document.data, (int)st->document.len, st->name, NULL,
	                    XML_PARSE_NONET);
	cr_assert_not_null(doc);
	/* CPAS in BCE order: 0207123407 (the ambulatory decision) first */
	xpath_all(doc, STATEMENT_NS, "/p:RecoveryStatement/p:Cpas/p:Decision/@id", ids,
	          sizeof(ids));
	snprintf(want, sizeof(want), "%s|%s", DEC_AMB, DEC_HOSP);
	cr_assert_str_eq(ids, want);
	cr_assert_str_eq(st->cpas[0]->decisions[0]->decision, DEC_AMB);
	cr_assert_str_eq(st->cpas[1]->decisions[0]->decision, DEC_HOSP);
	pc = xmlSchemaNewParserCtxt(tpc_test_src("docs/formats/sppis-statement.xsd"));
	schema = xmlSchemaParse(pc);
	vc = xmlSchemaNewValidCtxt(schema);
	cr_assert_not_null(schema);
	cr_assert_eq(xmlSchemaValidateDoc(vc, doc), 0, "the statement validates");
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	xmlFreeDoc(doc);
	tpclear__answer__free_unpacked(a, NULL);
}

/* Every SEPA file of a run names the hospital by its SEPA form, and is valid pain.001. */
static void check_sepa_files(void *s)
{
	Tpclear__Answer *a = tpc_td_payrun(s, 0, "");
	const char *xsd = getenv("TPC_PAIN001_XSD");

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_eq(a->payrun->n_files, 6, "one file per budget");
	for (size_t i = 0; i < a->payrun->n_files; i++) {
		const Tpclear__SepaFile *f = a->payrun->files[i];
		xmlDocPtr doc = xmlReadMemory((const char *)f->content.data, (int)f->content.len,
		                              f->name, NULL, XML_PARSE_NONET);
		char names[1024];

		cr_assert_not_null(doc, "%s well formed", f->name);
		xpath_all(doc, PAIN001_NS, "//p:CdtTrfTxInf/p:Cdtr/p:Nm", names, sizeof(names));
		cr_assert_str_eq(names, HOSPITAL_SEPA, "%s: the hospital, in SEPA text", f->name);
		cr_assert_eq(strlen(HOSPITAL_SEPA), 70);
		if (xsd && *xsd) {
			xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
			xmlSchemaPtr schema = xmlSchemaParse(pc);
			xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);

			cr_assert_eq(xmlSchemaValidateDoc(vc, doc), 0, "%s validates", f->name);
			xmlSchemaFreeValidCtxt(vc);
			xmlSchemaFree(schema);
			xmlSchemaFreeParserCtxt(pc);
		}
		xmlFreeDoc(doc);
	}
	tpclear__answer__free_unpacked(a, NULL);
}

Test(feeds, real_values_load_clear_and_come_out_whole)
{
	Tpclear__Answer *a;
	void *s, *h;

	cr_assert_eq(tpc_td_start(&d, NULL, NO_THRESHOLD), 0);
	s = tpc_td_connect(&d);
	h = tpc_td_connect_as(&d, "hospital");
	cr_assert(s && h);
	load_real_values(s);
	a = clear_mixed(h, "20261100000901");
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_PARTIAL);
	check_answer_and_json(a->result, "20261100000901");
	tpclear__answer__free_unpacked(a, NULL);
	check_statement(s);
	check_sepa_files(s);
	zmq_close(h);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* 255 bytes of UTF-8 in a war-victims category: loaded as a delta, cleared, shown whole. */
Test(feeds, a_255_byte_category_round_trips_through_the_engine)
{
	char csv[1024], cat[256], refs[1024];
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;
	size_t n = 0;
	int found = 0;
	void *s, *h;

	/* "Invalides de guerre 40-45, Coree, " (35 bytes) then "e-acute" pairs, then ASCII */
	n = (size_t)snprintf(cat, sizeof(cat), "%s",
	                     "Invalides de guerre 40-45, Cor\xC3\xA9"
	                     "e, ");
	while (n + 2 <= 254) {
		memcpy(cat + n, "\xC3\xA9", 2);
		n += 2;
	}
	while (n < 255)
		cat[n++] = 'x';
	cat[n] = 0;
	cr_assert_eq(strlen(cat), 255);
	snprintf(csv, sizeof(csv),
	         "niss,category,valid_from,valid_to\n40040400465,\"%s\",2000-01-01,\n", cat);
	cr_assert_eq(tpc_td_start(&d, NULL, NO_THRESHOLD), 0);
	s = tpc_td_connect(&d);
	h = tpc_td_connect_as(&d, "hospital");
	cr_assert(s && h);
	load_ok(s, "upsert:war_victims", "war-delta.csv", csv);
	a = clear_mixed(h, "20261100000902");
	refs_of(a->result, "WAR_VICTIMS", refs, sizeof(refs));
	cr_assert_str_eq(refs, cat);
	tpclear__answer__free_unpacked(a, NULL);
	/* the ledger keeps it whole */
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	rq.target = "20261100000902";
	a = tpc_td_ledger(h, "hospital", &rq);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	for (size_t i = 0; i < a->ledger->n_sendings; i++)
		for (size_t k = 0; k < a->ledger->sendings[i]->n_lines; k++) {
			const Tpclear__LineHistory *l = a->ledger->sendings[i]->lines[k];

			if (strcmp(l->scheme, "WAR_VICTIMS") == 0) {
				cr_assert_str_eq(l->scheme_ref, cat);
				found++;
			}
		}
	cr_assert_eq(found, 1);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(h);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(feeds, bad_utf8_and_overlong_values_are_refused_with_their_position)
{
	char csv[1024];
	const char *why;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	s = tpc_td_connect(&d);
	why = load(s, "fedasil", "fedasil-1116.csv",
	           "niss,valid_from,valid_to,structure\n"
	           "90020200296,2026-06-01,,Centre \xFF\xFE\n");
	cr_assert_not_null(why, "refused");
	cr_assert_str_eq(why, "T00018 fedasil-1116.csv:2:32: byte 0xFF is not valid UTF-8 (byte 32 "
	                      "of the line)");
	/* an overlong form, after an accent: the column counts characters */
	why = load(s, "upsert:detention", "detention.csv",
	           "niss,prison,valid_from,valid_to\n"
	           "80010100107,Prison de Saint-Gilles \xC3\xA0 \xC0\xAF,2026-11-01,\n");
	cr_assert_not_null(why, "refused");
	cr_assert_str_eq(why, "T00018 detention.csv:2:38: byte 0xC0 is not valid UTF-8 (byte 39 "
	                      "of the line)");
	/* over the documented 480 bytes */
	snprintf(csv, sizeof(csv),
	         "niss,category,valid_from,valid_to\n40040400465,%0481d,2000-01-01,\n", 0);
	why = load(s, "war_victims", "war.csv", csv);
	cr_assert_not_null(why, "refused");
	cr_assert_str_eq(why, "T00018 war.csv:2:13: value longer than 480 bytes");
	/* nothing changed, and the engine serves: the sample structure is still there, a good
	 * delta loads */
	load_ok(s, "upsert:fedasil", "fedasil-ok.csv",
	        "niss,valid_from,valid_to,structure\n90020200296,2026-06-01,,\"" FEDASIL_STRUCTURE
	        "\"\n");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
