/* tests/unit/ledger/test_statement.c - SPP IS monthly recovery statements
 * (engine/ledger/statement.c).
 *
 * Every test opens a real ledger in its own mkdtemp directory (tests/support/ledgerfix.h) with
 * the sample reference data: patient 85030300364 holds two Mediprima decisions
 * (config/refdata/mediprima.csv), MP-2026-0001 of CPAS 0212000032 for hospital care with the
 * patient share covered, and MP-2026-0002 of CPAS 0207123407 for ambulatory care without it.
 * Code 101032 is 3000 cents, 2900 at the BIM rate, so a hospitalised unit charges SPPIS 2900 +
 * 100 and an ambulatory one 2900.
 *
 * The ledger of most tests (book()), each sending committed through the writer and then moved
 * to a fixed commit time by rewriting its postings (the ledger closed, raw LMDB, reopened), so
 * that months and their boundaries do not depend on the day the suite runs:
 *   K-1, 2026-11-20T10:00Z: H-1 hospitalised for the Mediprima patient, R1 (1 unit) and R2
 *        (2 units): MP-2026-0001, 3000 + 6000; H-2 for the AMI member 86103130262, R3: AMI.
 *   K-2, 2026-11-30T23:59:59.999Z (the month's last instant): A-1 ambulatory by the GP for the
 *        Mediprima patient, R4 (1 unit): MP-2026-0002, 2900; R5 refused (wrong insurer part).
 *   K-3, 2026-12-01T00:00:00.000Z (the next month's first instant): C-1, the credit note of
 *        R4 -1 unit, -2900.
 * November: 3 lines, 11600 insurer + 300 share = 11900, five charge postings of -11900;
 * December: the credit line, -2900, one posting of +2900.
 */
#include <criterion/criterion.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clearing/budget.h"
#include "clearing/schemes.h"
#include "core/codes.h"
#include "core/error.h"
#include "store/postings.h"
#include "store/records.h"
#include "ledger/ledger_query.h"
#include "ledgerfix.h"
#include "ledger/statement.h"
#include "testutil.h"

#define MP_PATIENT "85030300364"
#define CPAS_HOSP  "0212000032" /* MP-2026-0001: hospital, share covered */
#define CPAS_AMB   "0207123407" /* MP-2026-0002: ambulatory, share not covered */
#define DEC_HOSP   "MP-2026-0001"
#define DEC_AMB    "MP-2026-0002"
#define BIM        2900 /* 101032 at the BIM rate */
#define BIM_SHARE  100
#define NS         "urn:tpclear:sppis-statement:1"

#define NOV_K1 1795168800000ull /* 2026-11-20T10:00:00.000Z */
#define NOV_K2 1796083199999ull /* 2026-11-30T23:59:59.999Z */
#define DEC_K3 1796083200000ull /* 2026-12-01T00:00:00.000Z */

static struct {
	uint64_t k1, k2, k3; /* sequences of book()'s sendings */
} fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	lfx_setup();
	lfx_open();
	lfx_load_samples(NULL);
}

TestSuite(statement, .init = setup, .fini = lfx_teardown, .timeout = 60);

/* ---- raw LMDB: what the ledger writer would never do, to set times and break invariants ---- */

static MDB_env *raw_open(MDB_txn **txn)
{
	MDB_env *env;

	lfx_close(); /* one environment per process: the ledger must be closed first */
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_open(env, lfx.cfg.data_dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, txn), 0);
	return env;
}

static MDB_dbi raw_dbi(MDB_txn *txn, const char *name)
{
	MDB_dbi dbi;

	cr_assert_eq(mdb_dbi_open(txn, name, 0, &dbi), 0, "no sub-database %s", name);
	return dbi;
}

static void raw_close(MDB_env *env, MDB_txn *txn)
{
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	lfx_open();
}

/* Give every posting of sending @p seq the commit time @p at_ms. */
static void retime(uint64_t seq, uint64_t at_ms)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(&txn);
	MDB_cursor *cur;
	MDB_val k, v;
	int n = 0;

	cr_assert_eq(mdb_cursor_open(txn, raw_dbi(txn, "postings"), &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_posting_rec_t p;
		tpc_posting_pair_t q; /* a line part's two postings (schema 6) */
		MDB_val nv = {sizeof(p), &p};

		if (v.mv_size == sizeof(q)) {
			memcpy(&q, v.mv_data, sizeof(q));
			if (q.sequence != seq)
				continue;
			q.at_ms = at_ms;
			tpc_records_posting_pair_seal(&q); /* a rewrite, not damage */
			nv = (MDB_val){sizeof(q), &q};
			cr_assert_eq(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
			n++;
			continue;
		}
		cr_assert_eq(v.mv_size, sizeof(p));
		memcpy(&p, v.mv_data, sizeof(p));
		if (p.sequence != seq)
			continue;
		p.at_ms = at_ms;
		tpc_records_posting_seal(&p); /* a rewrite, not damage: sealed again */
		cr_assert_eq(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
		n++;
	}
	mdb_cursor_close(cur);
	/* schema 7: the postings derived from the lines block take its commit time */
	{
		uint8_t kb[8];
		MDB_val bk = tpc_key_u64(kb, seq);
		uint8_t *copy;
		tpc_lines_hdr_t h;

		if (mdb_get(txn, raw_dbi(txn, "lines"), &bk, &v) == 0 && v.mv_size >= sizeof(h)) {
			copy = malloc(v.mv_size);
			cr_assert_not_null(copy);
			memcpy(copy, v.mv_data, v.mv_size);
			memcpy(&h, copy, sizeof(h));
			tpc_records_lines_seal(copy, h.first_posting, at_ms); /* a rewrite */
			v.mv_data = copy;
			cr_assert_eq(mdb_put(txn, raw_dbi(txn, "lines"), &bk, &v, 0), 0);
			free(copy);
			n++;
		}
	}
	cr_assert_gt(n, 0, "no postings for sequence %llu", (unsigned long long)seq);
	raw_close(env, txn);
}

/* Add @p delta to the accepted amount of line (@p seq, @p line) in its line record. */
static void bend_line(uint64_t seq, uint32_t line, int64_t delta)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(&txn);
	MDB_dbi dbi = raw_dbi(txn, "lines");
	uint8_t key[8], *b;
	MDB_val k = {sizeof(key), key}, v;
	tpc_lines_hdr_t h;
	tpc_line6_t r;
	size_t at;

	/* the sending's lines block (schema 6): line @p line after the invoices' payees */
	tpc_put_be64(key, seq);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	b = malloc(v.mv_size);
	cr_assert_not_null(b);
	memcpy(b, v.mv_data, v.mv_size);
	memcpy(&h, b, sizeof(h));
	cr_assert_lt(line, h.nlines);
	at = sizeof(h) + h.ninvoices * sizeof(tpc_line_payee_t) + line * sizeof(r);
	memcpy(&r, b + at, sizeof(r));
	r.accepted_cents += delta;
	memcpy(b + at, &r, sizeof(r));
	tpc_records_lines_resum(b, v.mv_size); /* a rewrite, not damage: sealed again */
	v.mv_data = b;
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	free(b);
	raw_close(env, txn);
}

/* A stored charge of @p cents more on line (@p seq, @p line), part 0, at its sending's commit
 * time, numbered after every posting: since schema 7 a line's own postings are derived from
 * its record and cannot disagree with it, a stored posting (a pair of schema 6, a posting
 * before) can. */
static void stray_charge(uint64_t seq, uint32_t line, int64_t cents)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(&txn);
	tpc_store_db_t db = {.env = env,
	                     .meta = raw_dbi(txn, "meta"),
	                     .lines = raw_dbi(txn, "lines"),
	                     .postings = raw_dbi(txn, "postings")};
	uint8_t key[8];
	MDB_val k = tpc_key_u64(key, seq), v;
	tpc_lines_hdr_t h;
	tpc_posting_rec_t p;
	uint64_t next;

	cr_assert_eq(mdb_get(txn, db.lines, &k, &v), 0);
	memcpy(&h, v.mv_data, sizeof(h));
	cr_assert_eq(tpc_postings_next_number(txn, &db, &next), 0);
	memset(&p, 0, sizeof(p));
	p.sequence = seq;
	p.line = line;
	p.kind = TPC_POST_CHARGE;
	p.budget = TPC_BUDGET_SPPIS;
	snprintf(p.account, sizeof(p.account), "SPPIS");
	p.amount_cents = -cents;
	p.at_ms = h.committed_ms;
	tpc_records_posting_seal(&p);
	k = tpc_key_u64(key, next);
	cr_assert_eq(mdb_put(txn, db.postings, &k, &(MDB_val){sizeof(p), &p}, 0), 0);
	raw_close(env, txn);
}

/* Remove the scheme reference of line (@p seq, @p line). */
static void drop_ref(uint64_t seq, uint32_t line)
{
	MDB_txn *txn;
	MDB_env *env = raw_open(&txn);
	uint8_t key[12];
	MDB_val k = {sizeof(key), key};

	tpc_put_be64(key, seq);
	tpc_put_be32(key + 8, line);
	cr_assert_eq(mdb_del(txn, raw_dbi(txn, "scheme_refs"), &k, NULL), 0);
	raw_close(env, txn);
}

/* ---- the ledger ---------------------------------------------------------------------------- */

static void book(void)
{
	tpc_job_t *j;

	lfx_begin("K-1");
	lfx_invoice(LFX_HOSPITAL, "H-1", 0, NULL);
	lfx_invoice_for(MP_PATIENT, 1);
	lfx_line("R1", 1, BIM, BIM_SHARE);
	lfx_line("R2", 2, 2 * BIM, 2 * BIM_SHARE);
	lfx_invoice(LFX_HOSPITAL, "H-2", 0, NULL);
	lfx_good_line("R3", 1);
	j = lfx_submit();
	fx.k1 = j->sequence;
	cr_assert_eq(j->sending.lines[0].outcome, TPC_OUTCOME_ACCEPTED);
	cr_assert_eq(j->sending.lines[0].budget, TPC_BUDGET_SPPIS, "Mediprima pays R1");
	cr_assert_eq(j->sending.lines[0].share_budget, TPC_BUDGET_SPPIS, "and its share");
	cr_assert_eq(j->sending.lines[2].budget, TPC_BUDGET_AMI);

	lfx_begin("K-2");
	lfx_invoice(LFX_GP, "A-1", 0, NULL);
	lfx_invoice_for(MP_PATIENT, 0);
	lfx_line("R4", 1, BIM, BIM_SHARE);
	lfx_line("R5", 1, LFX_INSURER, LFX_SHARE); /* the AMI rate: refused */
	j = lfx_submit();
	fx.k2 = j->sequence;
	cr_assert_eq(j->sending.lines[0].budget, TPC_BUDGET_SPPIS);
	cr_assert_eq(j->sending.lines[0].share_budget, TPC_BUDGET_NONE, "the patient pays");
	cr_assert_eq(j->sending.lines[1].outcome, TPC_OUTCOME_REFUSED);

	lfx_begin("K-3");
	lfx_invoice(LFX_GP, "C-1", 3, "A-1");
	lfx_invoice_for(MP_PATIENT, 0);
	lfx_line("R4", -1, -BIM, -BIM_SHARE);
	j = lfx_submit();
	fx.k3 = j->sequence;
	cr_assert_eq(j->sending.lines[0].outcome, TPC_OUTCOME_ACCEPTED, "the credit line");
	cr_assert_eq(j->sending.lines[0].accepted_cents, -BIM);

	lfx_postings_zero(NULL);
	retime(fx.k1, NOV_K1);
	retime(fx.k2, NOV_K2);
	retime(fx.k3, DEC_K3);
}

/* ---- asking -------------------------------------------------------------------------------- */

/* Ask for the statement of @p institution / @p month through tpc_ledger_query, as a worker
 * does. @return the job (FOUND or FAILED); @p rc gets the return code. */
static tpc_job_t *ask_rc(const char *institution, uint32_t month, int *rc)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	tpc_job_t *j = lfx_job(TPC_JOB_LEDGER, "ledger");
	size_t len;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = (char *)institution;
	rq.month = month;
	len = tpclear__ledger_request__get_packed_size(&rq);
	zmq_msg_close(&j->payload);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	tpclear__ledger_request__pack(&rq, zmq_msg_data(&j->payload));
	j->correlation = 9;
	*rc = tpc_ledger_query(lfx.reader, j);
	return j;
}

static Tpclear__Statement *ask(uint32_t month)
{
	int rc;
	tpc_job_t *j = ask_rc("sppis", month, &rc);
	Tpclear__Answer *a;

	cr_assert_eq(rc, 0, "statement %u refused: %s (%s)", month, tpc_strerror(rc),
	             j->fail_code ? j->fail_code : "");
	cr_assert_eq(j->status, TPC_JOB_FOUND);
	a = lfx_answer(j);
	cr_assert_eq(a->correlation, 9);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_LEDGER);
	cr_assert_not_null(a->ledger->statement, "a STATEMENT answer carries its statement");
	return a->ledger->statement;
}

static void refused(const char *institution, uint32_t month, const char *code)
{
	int rc;
	tpc_job_t *j = ask_rc(institution, month, &rc);

	cr_assert_neq(rc, 0, "answered, want %s", code);
	cr_assert_eq(j->status, TPC_JOB_FAILED);
	cr_assert_str_eq(j->fail_code, code);
	cr_assert_not_null(j->fail_reason);
	cr_assert(!j->answer_ready, "a refused statement has no answer");
}

/* SPPIS charged up to the end of day @p at, from a BALANCE query. */
static int64_t sppis_charged_at(int32_t at)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	tpc_job_t *j = lfx_job(TPC_JOB_LEDGER, "ledger");
	Tpclear__LedgerAnswer *la;
	size_t len;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	rq.budget = "SPPIS";
	rq.at = at;
	len = tpclear__ledger_request__get_packed_size(&rq);
	zmq_msg_close(&j->payload);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	tpclear__ledger_request__pack(&rq, zmq_msg_data(&j->payload));
	cr_assert_eq(tpc_ledger_query(lfx.reader, j), 0);
	la = lfx_answer(j)->ledger;
	cr_assert_eq(la->n_balances, 1);
	return la->balances[0]->charged_cents;
}

static const Tpclear__StatementCpas *cpas_of(const Tpclear__Statement *s, size_t i, const char *bce)
{
	cr_assert_lt(i, s->n_cpas);
	cr_assert_str_eq(s->cpas[i]->bce, bce);
	return s->cpas[i];
}

static void check_decision(const Tpclear__StatementCpas *c, size_t i, const char *id,
                           uint32_t lines, int64_t insurer, int64_t share)
{
	const Tpclear__StatementDecision *d;

	cr_assert_lt(i, c->n_decisions);
	d = c->decisions[i];
	cr_assert_str_eq(d->decision, id);
	cr_assert_eq(d->lines, lines, "%s: %u lines", id, d->lines);
	cr_assert_eq(d->insurer_cents, insurer, "%s insurer %lld", id, (long long)d->insurer_cents);
	cr_assert_eq(d->patient_cents, share, "%s share %lld", id, (long long)d->patient_cents);
	cr_assert_eq(d->total_cents, insurer + share);
}

/* ---- the document -------------------------------------------------------------------------- */

static xmlDocPtr parse(const Tpclear__Statement *s)
{
	xmlDocPtr doc = xmlReadMemory((const char *)s->document.data, (int)s->document.len, s->name,
	                              NULL, XML_PARSE_NONET);

	cr_assert_not_null(doc, "the document is well formed");
	return doc;
}

/* The string value of XPath @p expr (prefix s = the statement's namespace), malloc'd. */
static char *xq(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;
	xmlChar *t;
	char *out, buf[512];

	snprintf(buf, sizeof(buf), "string(%s)", expr);
	xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST NS);
	o = xmlXPathEvalExpression(BAD_CAST buf, ctx);
	cr_assert_not_null(o, "xpath %s", expr);
	t = xmlXPathCastToString(o);
	out = strdup((const char *)t);
	xmlFree(t);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return out;
}

static void xeq(xmlDocPtr doc, const char *expr, const char *want)
{
	char *got = xq(doc, expr);

	cr_assert_str_eq(got, want, "%s = '%s', want '%s'", expr, got, want);
	free(got);
}

/* The document validates against docs/formats/sppis-statement.xsd. */
static void validates(xmlDocPtr doc)
{
	xmlSchemaParserCtxtPtr pc =
	    xmlSchemaNewParserCtxt(tpc_test_src("docs/formats/sppis-statement.xsd"));
	xmlSchemaPtr schema = xmlSchemaParse(pc);
	xmlSchemaValidCtxtPtr vc;

	cr_assert_not_null(schema, "the schema parses");
	vc = xmlSchemaNewValidCtxt(schema);
	cr_assert_eq(xmlSchemaValidateDoc(vc, doc), 0, "the statement validates against its XSD");
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
}

/* ---- tests --------------------------------------------------------------------------------- */

Test(statement, months_are_utc_calendar_months)
{
	uint64_t from, until;

	cr_assert_eq(tpc_statement_month(202611, &from, &until), 0);
	cr_assert_eq(from, 1793491200000ull); /* 2026-11-01T00:00Z */
	cr_assert_eq(until, DEC_K3);
	cr_assert_eq(tpc_statement_month(202602, &from, &until), 0);
	cr_assert_eq(until - from, 28ull * 86400000u);
	cr_assert_eq(tpc_statement_month(202402, &from, &until), 0);
	cr_assert_eq(until - from, 29ull * 86400000u, "leap year");
	cr_assert_eq(tpc_statement_month(202612, &from, &until), 0);
	cr_assert_eq(until, 1798761600000ull, "2027-01-01T00:00Z");
	cr_assert_eq(tpc_statement_month(197001, &from, &until), 0);
	cr_assert_eq(from, 0);
	cr_assert_eq(tpc_statement_month(299912, &from, &until), 0);
	cr_assert_eq(tpc_statement_month(196912, &from, &until), TPC_EINVAL);
	cr_assert_eq(tpc_statement_month(202600, &from, &until), TPC_EINVAL);
	cr_assert_eq(tpc_statement_month(202613, &from, &until), TPC_EINVAL);
	cr_assert_eq(tpc_statement_month(20261101, &from, &until), TPC_EINVAL);
	cr_assert_eq(tpc_statement_month(0, &from, &until), TPC_EINVAL);
}

Test(statement, a_month_with_nothing_is_an_empty_statement)
{
	Tpclear__Statement *s;
	xmlDocPtr doc;

	book();
	s = ask(202610);
	cr_assert_str_eq(s->institution, "SPPIS");
	cr_assert_eq(s->month, 202610);
	cr_assert_eq(s->n_cpas, 0);
	cr_assert_eq(s->lines, 0);
	cr_assert_eq(s->decisions, 0);
	cr_assert_eq(s->total_cents, 0);
	cr_assert_eq(s->charged_cents, 0);
	cr_assert_eq(s->charge_postings, 0);
	cr_assert(!s->provisional, "October 2026 is over");
	cr_assert_str_eq(s->name, "sppis-statement-202610.xml");
	cr_assert_str_eq(s->format, "xml");
	doc = parse(s);
	validates(doc);
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Month", "2026-10");
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Status", "final");
	xeq(doc, "count(/s:RecoveryStatement/s:Cpas)", "0");
	xeq(doc, "/s:RecoveryStatement/s:Total/@lines", "0");
	xeq(doc, "/s:RecoveryStatement/s:Total/@total", "0.00");
	xeq(doc, "/s:RecoveryStatement/s:Reconciliation/@difference", "0.00");
	xmlFreeDoc(doc);
}

Test(statement, an_empty_ledger_gives_an_empty_statement)
{
	Tpclear__Statement *s = ask(202611);

	cr_assert_eq(s->n_cpas, 0);
	cr_assert_eq(s->total_cents, 0);
	cr_assert_gt(s->document.len, 0, "an empty statement is still a document");
}

Test(statement, totals_per_cpas_and_decision_reconcile_with_the_budget_charges)
{
	const Tpclear__StatementCpas *c;
	Tpclear__Statement *s;

	book();
	s = ask(202611);
	cr_assert_eq(s->n_cpas, 2);
	/* BCE order: 0207123407 before 0212000032 */
	c = cpas_of(s, 0, CPAS_AMB);
	cr_assert_eq(c->n_decisions, 1);
	check_decision(c, 0, DEC_AMB, 1, BIM, 0);
	cr_assert_eq(c->lines, 1);
	cr_assert_eq(c->total_cents, BIM);
	c = cpas_of(s, 1, CPAS_HOSP);
	cr_assert_eq(c->n_decisions, 1);
	check_decision(c, 0, DEC_HOSP, 2, 3 * BIM, 3 * BIM_SHARE);
	cr_assert_eq(c->lines, 2);
	cr_assert_eq(c->insurer_cents, 3 * BIM);
	cr_assert_eq(c->patient_cents, 3 * BIM_SHARE);
	cr_assert_eq(c->total_cents, 3 * (BIM + BIM_SHARE));

	cr_assert_eq(s->lines, 3, "the refused line and the AMI line are not in it");
	cr_assert_eq(s->decisions, 2);
	cr_assert_eq(s->insurer_cents, 4 * BIM);
	cr_assert_eq(s->patient_cents, 3 * BIM_SHARE);
	cr_assert_eq(s->total_cents, 4 * BIM + 3 * BIM_SHARE);
	cr_assert_eq(s->charge_postings, 5, "R1 and R2 in two parts, R4 in one");
	cr_assert_eq(s->charged_cents, -s->total_cents, "reconciled to the cent");
	/* and the same charges as the balance sees them: November = end of November - end of
	 * October */
	cr_assert_eq(s->charged_cents, sppis_charged_at(20261130) - sppis_charged_at(20261031));
	cr_assert_eq(s->from, 1793491200000ull);
	cr_assert_eq(s->until, DEC_K3);
}

Test(statement, a_credit_note_counts_in_the_month_it_was_accepted)
{
	const Tpclear__StatementCpas *c;
	Tpclear__Statement *s;

	book();
	s = ask(202612); /* K-3 sits on the first instant of December */
	cr_assert_eq(s->n_cpas, 1);
	c = cpas_of(s, 0, CPAS_AMB);
	check_decision(c, 0, DEC_AMB, 1, -BIM, 0);
	cr_assert_eq(s->total_cents, -BIM);
	cr_assert_eq(s->charged_cents, BIM, "a credit note's charge is positive");
	cr_assert_eq(s->charge_postings, 1);
	cr_assert_eq(s->charged_cents, sppis_charged_at(20261231) - sppis_charged_at(20261130));
	/* November kept its last instant (K-2) and does not see the credit note */
	s = ask(202611);
	cr_assert_eq(s->total_cents, 4 * BIM + 3 * BIM_SHARE);
}

Test(statement, the_document_lists_every_line_in_order_and_validates)
{
	Tpclear__Statement *s;
	xmlDocPtr doc;
	const char *r = "/s:RecoveryStatement";
	char x[256];

	book();
	s = ask(202611);
	doc = parse(s);
	validates(doc);
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Institution", "SPPIS");
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Month", "2026-11");
	xeq(doc, "/s:RecoveryStatement/s:Header/s:From", "2026-11-01T00:00:00.000Z");
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Until", "2026-12-01T00:00:00.000Z");
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Status", "final");
	xeq(doc, "count(/s:RecoveryStatement/s:Cpas)", "2");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/@bce", CPAS_AMB);
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/@bce", CPAS_HOSP);
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/@id", DEC_HOSP);
	/* the hospital decision's two lines, in (sequence, line) order, with their details */
	snprintf(x, sizeof(x), "%s/s:Cpas[2]/s:Decision/s:Line[1]", r);
	{
		char e[320], seq[24];

		snprintf(seq, sizeof(seq), "%llu", (unsigned long long)fx.k1);
		snprintf(e, sizeof(e), "%s/@sequence", x);
		xeq(doc, e, seq);
		snprintf(e, sizeof(e), "%s/@line", x);
		xeq(doc, e, "0");
		snprintf(e, sizeof(e), "%s/@accepted", x);
		xeq(doc, e, "2026-11-20T10:00:00.000Z");
		snprintf(e, sizeof(e), "%s/@provider", x);
		xeq(doc, e, LFX_HOSPITAL);
		snprintf(e, sizeof(e), "%s/@code", x);
		xeq(doc, e, LFX_CODE);
		snprintf(e, sizeof(e), "%s/@date", x);
		xeq(doc, e, "2026-11-10");
		snprintf(e, sizeof(e), "%s/@units", x);
		xeq(doc, e, "1");
		snprintf(e, sizeof(e), "%s/@insurer", x);
		xeq(doc, e, "29.00");
		snprintf(e, sizeof(e), "%s/@share", x);
		xeq(doc, e, "1.00");
		snprintf(e, sizeof(e), "%s/@total", x);
		xeq(doc, e, "30.00");
	}
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/s:Line[2]/@line", "1");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/s:Line[2]/@units", "2");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/s:Line[2]/@total", "60.00");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/s:Total/@total", "90.00");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Total/@decisions", "1");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/s:Decision/s:Line/@provider", LFX_GP);
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/s:Decision/s:Line/@accepted",
	    "2026-11-30T23:59:59.999Z");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/s:Decision/s:Line/@share", "0.00");
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/s:Total/@total", "29.00");
	xeq(doc, "/s:RecoveryStatement/s:Total/@cpas", "2");
	xeq(doc, "/s:RecoveryStatement/s:Total/@lines", "3");
	xeq(doc, "/s:RecoveryStatement/s:Total/@insurer", "116.00");
	xeq(doc, "/s:RecoveryStatement/s:Total/@share", "3.00");
	xeq(doc, "/s:RecoveryStatement/s:Total/@total", "119.00");
	xeq(doc, "/s:RecoveryStatement/s:Reconciliation/@postings", "5");
	xeq(doc, "/s:RecoveryStatement/s:Reconciliation/@charged", "-119.00");
	xeq(doc, "/s:RecoveryStatement/s:Reconciliation/@difference", "0.00");
	/* the lines' own amounts add up to the totals the document states */
	xeq(doc, "sum(//s:Line/@total) * 100", "11900");
	xeq(doc, "count(//s:Line)", "3");
	xmlFreeDoc(doc);

	/* the credit note's month: a negative line */
	doc = parse(ask(202612));
	validates(doc);
	xeq(doc, "//s:Line/@units", "-1");
	xeq(doc, "//s:Line/@total", "-29.00");
	xeq(doc, "/s:RecoveryStatement/s:Reconciliation/@charged", "29.00");
	xmlFreeDoc(doc);
}

Test(statement, asked_again_the_same_ledger_gives_the_same_bytes)
{
	Tpclear__Statement *a, *b;

	book();
	a = ask(202611);
	b = ask(202611);
	cr_assert_eq(a->document.len, b->document.len);
	cr_assert_eq(memcmp(a->document.data, b->document.data, a->document.len), 0);
	/* a restart (a new reader, a new environment) changes nothing either */
	lfx_close();
	lfx_open();
	b = ask(202611);
	cr_assert_eq(a->document.len, b->document.len);
	cr_assert_eq(memcmp(a->document.data, b->document.data, a->document.len), 0);
}

Test(statement, a_month_not_over_is_provisional)
{
	const tpc_store_db_t *db;
	Tpclear__Statement *s;
	const char *code = "x";
	tpc_arena_t *arena;
	MDB_txn *txn;
	xmlDocPtr doc;

	book();
	cr_assert_eq(tpc_arena_new(4096, 0, &arena), 0);
	cr_assert_eq(tpc_store_read_begin(lfx.reader, &txn, &db), 0);
	/* asked on the last instant of November: provisional; on the first of December: final */
	cr_assert_eq(tpc_statement_build(txn, db, "SPPIS", 202611, NOV_K2, arena, &s, &code), 0);
	cr_assert_null(code);
	cr_assert(s->provisional);
	doc = parse(s);
	xeq(doc, "/s:RecoveryStatement/s:Header/s:Status", "provisional");
	xmlFreeDoc(doc);
	cr_assert_eq(tpc_statement_build(txn, db, "sppis", 202611, DEC_K3, arena, &s, &code), 0);
	cr_assert(!s->provisional);
	cr_assert_eq(s->total_cents, 4 * BIM + 3 * BIM_SHARE);
	tpc_store_read_end(lfx.reader);
	tpc_arena_free(&arena);
}

Test(statement, bad_requests_are_refused_t00030)
{
	refused("fedasil", 202611, TPC_CODE_BAD_STATEMENT);
	refused("", 202611, TPC_CODE_BAD_STATEMENT);
	refused("sppis", 202613, TPC_CODE_BAD_STATEMENT);
	refused("sppis", 0, TPC_CODE_BAD_STATEMENT);
	refused("sppis", 20261101, TPC_CODE_BAD_STATEMENT);
	refused("sppis", 196912, TPC_CODE_BAD_STATEMENT);
	cr_assert_eq(ask(202611)->n_cpas, 0, "still answered after refusals");
	cr_assert_not_null(tpc_codes_describe(TPC_CODE_BAD_STATEMENT));
}

Test(statement, lines_that_disagree_with_the_charges_refuse_the_statement_t00031)
{
	int64_t before, after;

	book();
	/* bending R2's record bends its charge with it (derived from the record: schema 7) */
	before = ask(202611)->total_cents;
	bend_line(fx.k1, 1, 1);
	after = ask(202611)->total_cents;
	cr_assert_eq(llabs(after - before), 1, "%lld then %lld", (long long)before,
	             (long long)after);
	/* one cent more charged for R2 than its record says (issue 15, schema 7: bending the
	 * record itself bends its derived charge with it, so the disagreement is a stored one) */
	stray_charge(fx.k1, 1, 1);
	refused("sppis", 202611, TPC_CODE_UNRECONCILED);
	/* another month is not affected */
	cr_assert_eq(ask(202612)->total_cents, -BIM);
}

Test(statement, a_charge_without_its_decision_refuses_the_statement_t00032)
{
	book();
	drop_ref(fx.k2, 0);
	refused("sppis", 202611, TPC_CODE_STATEMENT_NO_LINE);
	cr_assert_not_null(tpc_codes_describe(TPC_CODE_STATEMENT_NO_LINE));
	cr_assert_not_null(tpc_codes_describe(TPC_CODE_UNRECONCILED));
	cr_assert_not_null(tpc_codes_describe(TPC_CODE_STATEMENT_RENDER));
}

/* ---- free text in decision ids (issue 13) -------------------------------------------------- */

/* Decision ids as SPP IS might write them: UTF-8, longer than the 32 bytes a scheme reference
 * held before. */
#define LONG_HOSP                                                                                  \
	"D\xC3\xA9"                                                                                \
	"cision CPAS de Saint-Gilles n\xC2\xB0 2026/0001 \xE2\x80\x94 aide m\xC3\xA9"              \
	"dicale urgente"
#define LONG_AMB                                                                                   \
	"D\xC3\xA9"                                                                                \
	"cision CPAS d'Anderlecht n\xC2\xB0 2026/0002 & <suite>"

Test(statement, long_utf8_decision_ids_are_written_whole_and_validate)
{
	Tpclear__Statement *s;
	xmlDocPtr doc;

	lfx_load(TPC_REF_MEDIPRIMA,
	         "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	         "\"" LONG_HOSP "\",0212000032,85030300364,2026-11-01,2026-11-15,hospital,1\n"
	         "\"" LONG_AMB "\",0207123407,85030300364,2026-11-01,2026-12-31,ambulatory,0\n");
	book();
	s = ask(202611);
	check_decision(cpas_of(s, 0, CPAS_AMB), 0, LONG_AMB, 1, BIM, 0);
	check_decision(cpas_of(s, 1, CPAS_HOSP), 0, LONG_HOSP, 2, 3 * BIM, 3 * BIM_SHARE);
	doc = parse(s);
	validates(doc);
	/* the XML escapes & and <, a reader gets the id back byte for byte */
	xeq(doc, "/s:RecoveryStatement/s:Cpas[1]/s:Decision/@id", LONG_AMB);
	xeq(doc, "/s:RecoveryStatement/s:Cpas[2]/s:Decision/@id", LONG_HOSP);
	{
		char *text = strndup((const char *)s->document.data, s->document.len);

		cr_assert_not_null(strstr(text, "&amp; &lt;suite&gt;"), "%s", text);
		free(text);
	}
	xmlFreeDoc(doc);
}

/* Rewrite the scheme reference of (@p seq, @p line) in the 48-byte layout of ledger schema 3,
 * as a ledger written before issue 13 holds it. */
static void ref_as_schema_3(uint64_t seq, uint32_t line)
{
	struct {
		uint8_t scheme, pad[3];
		char ref[33], org[11];
	} old;
	MDB_txn *txn;
	MDB_env *env = raw_open(&txn);
	MDB_dbi dbi = raw_dbi(txn, "scheme_refs");
	uint8_t key[12];
	MDB_val k = {sizeof(key), key}, v, nv = {sizeof(old), &old};
	tpc_scheme_ref_view_t sr;

	_Static_assert(sizeof(old) == 48, "the schema 3 layout");
	tpc_put_be64(key, seq);
	tpc_put_be32(key + 8, line);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
	cr_assert_eq(tpc_records_scheme_ref_read(&v, &sr), 0);
	memset(&old, 0, sizeof(old));
	old.scheme = (uint8_t)sr.scheme;
	snprintf(old.ref, sizeof(old.ref), "%s", sr.ref);
	snprintf(old.org, sizeof(old.org), "%s", sr.org);
	cr_assert_eq(mdb_put(txn, dbi, &k, &nv, 0), 0);
	raw_close(env, txn);
}

Test(statement, scheme_references_of_a_schema_3_ledger_are_still_read)
{
	Tpclear__Statement *s;

	book();
	ref_as_schema_3(fx.k1, 0);
	ref_as_schema_3(fx.k1, 1);
	s = ask(202611);
	check_decision(cpas_of(s, 1, CPAS_HOSP), 0, DEC_HOSP, 2, 3 * BIM, 3 * BIM_SHARE);
}

/* A reference that is not text a document can carry (written by hand into the ledger) refuses
 * the statement T00032 rather than make an invalid document. */
Test(statement, a_decision_id_xml_cannot_carry_refuses_the_statement_t00032)
{
	MDB_txn *txn;
	MDB_env *env;
	uint8_t key[12], val[64];
	MDB_val k = {sizeof(key), key}, v;

	book();
	env = raw_open(&txn);
	tpc_put_be64(key, fx.k2);
	tpc_put_be32(key + 8, 0);
	tpc_records_scheme_ref_encode(TPC_SCHEME_MEDIPRIMA,
	                              "MP\x01"
	                              "2026",
	                              CPAS_AMB, val);
	v.mv_size = tpc_records_scheme_ref_size("MP\x01"
	                                        "2026");
	v.mv_data = val;
	cr_assert_eq(mdb_put(txn, raw_dbi(txn, "scheme_refs"), &k, &v, 0), 0);
	raw_close(env, txn);
	refused("sppis", 202611, TPC_CODE_STATEMENT_NO_LINE);
}
