/* tests/integration/test_statement.c - the SPP IS monthly recovery statement through the real
 * daemon: canonical sendings for the Mediprima patient of config/refdata/mediprima.csv (two
 * decisions of two CPAS), a line after a decision ended, an AMI line beside them, a credit note;
 * then the statement of the month over the wire and with `tpclear statement`: per CPAS and
 * decision totals, and a grand total equal to the SPPIS charges of `ledger balance`, to the
 * cent. A month with nothing is an empty statement, not an error.
 *
 * Commit times are the daemon's clock, so "the month" is the month the sendings were committed
 * in (their Result.committed_at); should the suite run across a month's end, the expectations
 * hold for the sum of the months touched, which is what the test adds up.
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
#include "testutil.h"

#define HOSPITAL   "18334780004" /* config/refdata/providers.csv */
#define AMI_MEMBER "86103130262" /* ordinary member */
#define MP_PATIENT "85030300364" /* two Mediprima decisions */
#define CPAS_HOSP  "0212000032"  /* MP-2026-0001: hospital, 11-01..11-15, share covered */
#define CPAS_AMB   "0207123407"  /* MP-2026-0002: ambulatory, 11-01..12-31, share not covered */
#define DEC_HOSP   "MP-2026-0001"
#define DEC_AMB    "MP-2026-0002"
#define CODE       "101032" /* fee 3000: 2400 ordinary, 2900 BIM */
#define NS         "urn:tpclear:sppis-statement:1"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(statement, .fini = teardown, .timeout = 300);

/* ---- canonical sendings -------------------------------------------------------------------- */

struct line {
	const char *ref;
	int32_t date;
	int units;
	int64_t insurer, patient;
};

struct inv {
	const char *patient, *number, *previous;
	int kind, invoicing;
	int32_t admission, discharge;
	const struct line *lines;
	size_t nlines;
};

/* Submit one canonical sending of @p ninv invoices by the sample hospital as "hospital".
 * @return the Result answer (caller frees). */
static Tpclear__Answer *submit(void *s, const char *key, const struct inv *invs, size_t ninv)
{
	Tpclear__CanonicalSending cs = TPCLEAR__CANONICAL_SENDING__INIT;
	Tpclear__CanonicalInvoice ci[4], *cip[4];
	Tpclear__CanonicalLine cl[4][4], *clp[4][4];
	Tpclear__Answer *a;
	uint8_t *buf;
	size_t len;

	cr_assert_leq(ninv, 4);
	for (size_t i = 0; i < ninv; i++) {
		tpclear__canonical_invoice__init(&ci[i]);
		cip[i] = &ci[i];
		ci[i].patient = (char *)invs[i].patient;
		ci[i].provider = HOSPITAL;
		ci[i].number = (char *)invs[i].number;
		ci[i].kind = invs[i].kind;
		ci[i].invoicing = invs[i].invoicing;
		ci[i].previous = (char *)(invs[i].previous ? invs[i].previous : "");
		ci[i].admission = invs[i].admission;
		ci[i].discharge = invs[i].discharge;
		ci[i].mutuality = "100";
		cr_assert_leq(invs[i].nlines, 4);
		for (size_t l = 0; l < invs[i].nlines; l++) {
			const struct line *src = &invs[i].lines[l];

			tpclear__canonical_line__init(&cl[i][l]);
			clp[i][l] = &cl[i][l];
			cl[i][l].code = CODE;
			cl[i][l].date = src->date;
			cl[i][l].units = src->units;
			cl[i][l].insurer_cents = src->insurer;
			cl[i][l].patient_cents = src->patient;
			cl[i][l].reference = (char *)src->ref;
		}
		ci[i].n_lines = invs[i].nlines;
		ci[i].lines = clp[i];
	}
	cs.reference = "12345678901234";
	cs.third_party = HOSPITAL;
	cs.created = 20261120;
	cs.year_month = 202611;
	cs.n_invoices = ninv;
	cs.invoices = cip;
	len = tpclear__canonical_sending__get_packed_size(&cs);
	buf = malloc(len);
	cr_assert_not_null(buf);
	tpclear__canonical_sending__pack(&cs, buf);
	a = tpc_td_submit(s, "hospital", key, "canonical", buf, len, NULL);
	free(buf);
	cr_assert_not_null(a, "%s answered", key);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s: a result (body %d)", key,
	             a->body_case);
	return a;
}

/* ---- months -------------------------------------------------------------------------------- */

static uint32_t month_of(uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	return (uint32_t)((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
}

static uint32_t prev_month(uint32_t m)
{
	return m % 100 == 1 ? (m / 100 - 1) * 100 + 12 : m - 1;
}

/* YYYYMMDD of the last day of month @p m. */
static int32_t last_day(uint32_t m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = m / 100, mo = m % 100;
	int n = days[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));

	return (int32_t)(m * 100 + (uint32_t)n);
}

/* ---- ledger requests ----------------------------------------------------------------------- */

static Tpclear__Answer *statement(void *s, const char *institution, uint32_t month)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = (char *)institution;
	rq.month = month;
	a = tpc_td_ledger(s, "ops", &rq);
	cr_assert_not_null(a, "statement answered");
	return a;
}

static const Tpclear__Statement *statement_ok(Tpclear__Answer *a)
{
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER, "a ledger answer (body %d: %s)",
	             a->body_case,
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->code : "");
	cr_assert_not_null(a->ledger->statement);
	return a->ledger->statement;
}

/* SPPIS charged up to the end of day @p at (0 = now), from `ledger balance`. */
static int64_t sppis_charged(void *s, int32_t at)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;
	int64_t c;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	rq.budget = "SPPIS";
	rq.at = at;
	a = tpc_td_ledger(s, "ops", &rq);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	cr_assert_eq(a->ledger->n_balances, 1);
	cr_assert_str_eq(a->ledger->balances[0]->budget, "SPPIS");
	c = a->ledger->balances[0]->charged_cents;
	tpclear__answer__free_unpacked(a, NULL);
	return c;
}

/* Totals of one (CPAS, decision), summed over the months asked. */
struct agg {
	char bce[16], decision[40];
	uint32_t lines;
	int64_t insurer, patient, total;
};

static struct agg *agg_of(struct agg *t, size_t *n, const char *bce, const char *dec)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(t[i].bce, bce) == 0 && strcmp(t[i].decision, dec) == 0)
			return &t[i];
	cr_assert_lt(*n, 8);
	memset(&t[*n], 0, sizeof(t[*n]));
	snprintf(t[*n].bce, sizeof(t[*n].bce), "%s", bce);
	snprintf(t[*n].decision, sizeof(t[*n].decision), "%s", dec);
	return &t[(*n)++];
}

/* ---- the document -------------------------------------------------------------------------- */

static char *xq(xmlDocPtr doc, const char *expr)
{
	return tpc_test_xpath_string(doc, "s", NS, expr);
}

static void eur(char *buf, size_t cap, int64_t cents)
{
	unsigned long long a = cents < 0 ? (unsigned long long)-cents : (unsigned long long)cents;

	snprintf(buf, cap, "%s%llu.%02llu", cents < 0 ? "-" : "", a / 100, a % 100);
}

/* Well formed, valid against docs/formats/sppis-statement.xsd, and its totals are the
 * message's. */
static void check_document(const Tpclear__Statement *st)
{
	xmlDocPtr doc = xmlReadMemory((const char *)st->document.data, (int)st->document.len,
	                              st->name, NULL, XML_PARSE_NONET);
	xmlSchemaParserCtxtPtr pc =
	    xmlSchemaNewParserCtxt(tpc_test_src("docs/formats/sppis-statement.xsd"));
	xmlSchemaPtr schema = xmlSchemaParse(pc);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	char want[32], *got;

	cr_assert_not_null(doc, "%s is well formed", st->name);
	cr_assert_not_null(schema);
	cr_assert_eq(xmlSchemaValidateDoc(vc, doc), 0, "%s validates", st->name);
	eur(want, sizeof(want), st->total_cents);
	got = xq(doc, "/s:RecoveryStatement/s:Total/@total");
	cr_assert_str_eq(got, want);
	free(got);
	eur(want, sizeof(want), st->charged_cents);
	got = xq(doc, "/s:RecoveryStatement/s:Reconciliation/@charged");
	cr_assert_str_eq(got, want);
	free(got);
	for (size_t i = 0; i < st->n_cpas; i++) {
		char expr[200];

		snprintf(expr, sizeof(expr), "/s:RecoveryStatement/s:Cpas[%zu]/@bce", i + 1);
		got = xq(doc, expr);
		cr_assert_str_eq(got, st->cpas[i]->bce,
		                 "the document's CPAS order is the answer's");
		free(got);
		snprintf(expr, sizeof(expr), "/s:RecoveryStatement/s:Cpas[%zu]/s:Total/@total",
		         i + 1);
		got = xq(doc, expr);
		eur(want, sizeof(want), st->cpas[i]->total_cents);
		cr_assert_str_eq(got, want);
		free(got);
	}
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	xmlFreeDoc(doc);
}

/* ---- the CLI ------------------------------------------------------------------------------- */

/* Run tpclear as ops (its CURVE identity) with @p args; stdout into *@p out (malloc'd), stderr
 * in DIR/cli.err. @return its exit status. */
static int tpclear(const char *args, char **out, size_t *outlen)
{
	char cmd[4096], path[400];
	int st;

	snprintf(path, sizeof(path), "%s/cli.out", d.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' --sender ops %s %s >'%s' 2>'%s/cli.err'",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, "ops"), args, path, d.dir);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, outlen);
	cr_assert_not_null(*out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *cli_err(void)
{
	char path[400];
	size_t n;

	snprintf(path, sizeof(path), "%s/cli.err", d.dir);
	return (char *)tpc_test_slurp(path, &n);
}

/* ---- tests --------------------------------------------------------------------------------- */

Test(statement, the_month_per_cpas_and_decision_reconciles_with_the_sppis_budget)
{
	uint64_t paid, unpaid;
	/* S1: a hospital stay (MP-2026-0001 ends on 11-15: the line of 11-16 is not covered), and
	 * an AMI member's invoice beside it */
	static const struct line stay[] = {
	    {"S1-L1", 20261110, 1, 2900, 100},
	    {"S1-L2", 20261111, 1, 2900, 100},
	    {"S1-L3", 20261116, 1, 2900, 100},
	};
	static const struct line ami[] = {{"S1-L4", 20261110, 1, 2400, 600}};
	/* S2: ambulatory care (MP-2026-0002, the patient pays the share); S3 credits its L2 */
	static const struct line amb[] = {
	    {"S2-L1", 20261110, 1, 2900, 100},
	    {"S2-L2", 20261112, 2, 5800, 200},
	};
	static const struct line credit[] = {{"S2-L2", 20261112, -2, -5800, -200}};
	const struct inv s1[] = {
	    {MP_PATIENT, "H-100", NULL, 1, 0, 20261105, 20261120, stay, 3},
	    {AMI_MEMBER, "H-101", NULL, 0, 0, 0, 0, ami, 1},
	};
	const struct inv s2[] = {{MP_PATIENT, "A-200", NULL, 0, 0, 0, 0, amb, 2}};
	const struct inv s3[] = {{MP_PATIENT, "C-200", "A-200", 0, 3, 0, 0, credit, 1}};
	uint32_t months[3];
	size_t nmonths = 0;
	struct agg t[8];
	size_t nt = 0;
	int64_t grand = 0, charged = 0;
	uint32_t lines = 0;
	Tpclear__Answer *a;
	void *s, *ops;

	/* S1 refuses a line on purpose: the whole sending must not be refused for its share */
	cr_assert_eq(tpc_td_start(&d, NULL, "[clearing]\nmax_refused_percent = 100\n"), 0);
	s = tpc_td_connect(&d);
	ops = tpc_td_connect(&d);
	for (int k = 0; k < 3; k++) {
		const char *key = k == 0 ? "MP-S1" : k == 1 ? "MP-S2" : "MP-S3";
		uint32_t m;

		a = k == 0   ? submit(s, key, s1, 2)
		    : k == 1 ? submit(s, key, s2, 1)
		             : submit(s, key, s3, 1);
		if (k == 0) {
			const Tpclear__InvoiceResult *ir = a->result->invoice_results[0];

			cr_assert_eq(a->result->lines_accepted, 3, "S1: L1, L2 and the AMI line");
			cr_assert_eq(ir->lines[0]->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
			cr_assert_str_eq(ir->lines[0]->scheme, "MEDIPRIMA");
			cr_assert_str_eq(ir->lines[0]->scheme_ref, DEC_HOSP);
			cr_assert_str_eq(ir->lines[0]->share_budget, "SPPIS");
			cr_assert_eq(ir->lines[2]->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED,
			             "11-16: the hospital decision has ended");
			cr_assert_str_eq(a->result->invoice_results[1]->lines[0]->budget, "AMI");
		} else if (k == 1) {
			cr_assert_eq(a->result->lines_accepted, 2);
			cr_assert_str_eq(a->result->invoice_results[0]->lines[0]->scheme_ref,
			                 DEC_AMB);
			cr_assert_str_eq(a->result->invoice_results[0]->lines[0]->share_budget, "");
		} else {
			cr_assert_eq(a->result->lines_accepted, 1, "the credit line");
			cr_assert_eq(a->result->accepted_cents, -5800);
		}
		m = month_of(a->result->committed_at);
		if (!nmonths || months[nmonths - 1] != m)
			months[nmonths++] = m;
		tpclear__answer__free_unpacked(a, NULL);
	}

	/* the statements of the month(s) the sendings were accepted in */
	for (size_t i = 0; i < nmonths; i++) {
		const Tpclear__Statement *st;

		a = statement(ops, "sppis", months[i]);
		st = statement_ok(a);
		cr_assert_str_eq(st->institution, "SPPIS");
		cr_assert_eq(st->month, months[i]);
		cr_assert(st->provisional, "this month is not over");
		cr_assert_eq(st->total_cents, -st->charged_cents, "reconciled to the cent");
		/* the budget's charges of the month, as `ledger balance` sees them */
		cr_assert_eq(st->charged_cents,
		             sppis_charged(ops, last_day(months[i])) -
		                 sppis_charged(ops, last_day(prev_month(months[i]))));
		for (size_t c = 0; c < st->n_cpas; c++) {
			const Tpclear__StatementCpas *cp = st->cpas[c];
			int64_t sum = 0;

			if (c)
				cr_assert_gt(strcmp(cp->bce, st->cpas[c - 1]->bce), 0, "BCE order");
			for (size_t k = 0; k < cp->n_decisions; k++) {
				const Tpclear__StatementDecision *dd = cp->decisions[k];
				struct agg *x = agg_of(t, &nt, cp->bce, dd->decision);

				cr_assert_eq(dd->total_cents,
				             dd->insurer_cents + dd->patient_cents);
				x->lines += dd->lines;
				x->insurer += dd->insurer_cents;
				x->patient += dd->patient_cents;
				x->total += dd->total_cents;
				sum += dd->total_cents;
			}
			cr_assert_eq(cp->total_cents, sum, "a CPAS is the sum of its decisions");
		}
		check_document(st);
		grand += st->total_cents;
		charged += st->charged_cents;
		lines += st->lines;
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(nt, 2, "two CPAS, one decision each");
	{
		struct agg *h = agg_of(t, &nt, CPAS_HOSP, DEC_HOSP);
		struct agg *m = agg_of(t, &nt, CPAS_AMB, DEC_AMB);

		cr_assert_eq(h->lines, 2);
		cr_assert_eq(h->insurer, 5800);
		cr_assert_eq(h->patient, 200, "MP-2026-0001 covers the patient share");
		cr_assert_eq(h->total, 6000);
		cr_assert_eq(m->lines, 3, "two lines and the credit line");
		cr_assert_eq(m->insurer, 2900 + 5800 - 5800);
		cr_assert_eq(m->patient, 0, "MP-2026-0002 does not cover it");
		cr_assert_eq(m->total, 2900);
	}
	cr_assert_eq(lines, 5);
	cr_assert_eq(grand, 8900);
	cr_assert_eq(charged, -8900);
	cr_assert_eq(sppis_charged(ops, 0), -8900, "== the SPPIS budget's charges in the ledger");

	/* a month with nothing: an empty statement, not an error */
	a = statement(ops, "sppis", 202601);
	cr_assert_eq(statement_ok(a)->n_cpas, 0);
	cr_assert_eq(a->ledger->statement->total_cents, 0);
	cr_assert(!a->ledger->statement->provisional);
	check_document(a->ledger->statement);
	tpclear__answer__free_unpacked(a, NULL);
	/* a refusal is a coded receipt */
	a = statement(ops, "fedasil", months[0]);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, "T00030");
	tpclear__answer__free_unpacked(a, NULL);
	/* a statement is an operator's request: a hospital may not ask for one
	 * (engine/security/authz.h) */
	{
		void *h = tpc_td_connect_as(&d, "hospital");

		cr_assert_not_null(h);
		a = statement(h, "sppis", months[0]);
		cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
		cr_assert_str_eq(a->receipt->code, "T00043", "ops only");
		tpclear__answer__free_unpacked(a, NULL);
		zmq_close(h);
	}

	/* the command line: --out FILE gets the same bytes as the answer, the summary is on stdout;
	 * without --out the document is stdout */
	{
		char args[600], path[400], *out, *file, *err, mm[16], *doc0;
		size_t n, flen, dlen;
		const Tpclear__Statement *st;

		a = statement(ops, "sppis", months[0]);
		st = statement_ok(a);
		snprintf(mm, sizeof(mm), "%04u-%02u", months[0] / 100, months[0] % 100);
		snprintf(path, sizeof(path), "%s/statement.xml", d.dir);
		snprintf(args, sizeof(args), "statement sppis --month %s --out '%s'", mm, path);
		cr_assert_eq(tpclear(args, &out, &n), 0, "tpclear %s: %s", args, out);
		file = (char *)tpc_test_slurp(path, &flen);
		cr_assert_not_null(file, "the document is in %s", path);
		cr_assert_eq(flen, st->document.len);
		cr_assert_eq(memcmp(file, st->document.data, flen), 0, "the answer's document");
		cr_assert(strstr(out, CPAS_HOSP) && strstr(out, CPAS_AMB), "%s", out);
		cr_assert(strstr(out, "reconciled"), "%s", out);
		free(file);
		free(out);

		snprintf(args, sizeof(args), "statement sppis --month %s", mm);
		cr_assert_eq(tpclear(args, &doc0, &dlen), 0);
		cr_assert_eq(dlen, st->document.len, "the document on stdout");
		cr_assert_eq(memcmp(doc0, st->document.data, dlen), 0);
		err = cli_err();
		cr_assert(err && strstr(err, CPAS_AMB), "the summary on stderr: %s", err);
		free(err);
		free(doc0);

		snprintf(args, sizeof(args), "statement sppis --month %s --out '%s' --json", mm,
		         path);
		cr_assert_eq(tpclear(args, &out, &n), 0);
		{
			char want[64];

			snprintf(want, sizeof(want), "\"total_cents\":%lld",
			         (long long)st->total_cents);
			cr_assert(strstr(out, want), "%s", out);
			cr_assert(strstr(out, "\"bce\":\"" CPAS_HOSP "\""), "%s", out);
		}
		free(out);
		tpclear__answer__free_unpacked(a, NULL);

		cr_assert_eq(tpclear("statement sppis --month 2026-01 --out -", &out, &n), 0);
		cr_assert(strstr(out, "<RecoveryStatement"), "an empty month is a document: %s",
		          out);
		free(out);
		cr_assert_eq(tpclear("statement fedasil --month 2026-11", &out, &n), 1,
		             "a refusal exits 1");
		err = cli_err();
		cr_assert(err && strstr(err, "T00030"), "%s", err);
		free(err);
		free(out);
		cr_assert_eq(tpclear("statement sppis --month 2026-13", &out, &n), 2,
		             "usage error");
		free(out);
	}
	zmq_close(ops);
	zmq_close(s);
	tpc_td_stop_books(&d, &paid, &unpaid);
	cr_assert_eq(unpaid, 8, "6 lines accepted, S1-L1 and S1-L2 in two parts each");
}
