/* tests/integration/test_hospital_sendings.c - sendings written the way hospital software writes
 * them (shared/domain/efact-real.md 2), through the real daemon: an ET21 per invoice, ET52s, the
 * fillers real files use (spaces in the unused account B, thirty '+' in the product label,
 * 00000000 at ET50 262-269, a blank amount C in 95/96), a discharge hour, and the record counts
 * of three writers (tpclear's, a client that leaves ET52 out, the CIN test files' fixed ones).
 * They clear and are not refused; a count that differs is a signal the sender sees (T30018),
 * unless [adapter.efact] counts = strict. The bad twin of each filler is refused with its code.
 *
 * The sending: tpc_efact_hospital_sample() (gen/efact_gen.h), records by ordinal:
 *   1 ET10 | 2 ET20, 3 ET21, 4 ET50, 5 ET52, 6 ET50, 7 ET51, 8 ET52, 9 ET80 (a stay, 300)
 *   | 10 ET20, 11 ET21, 12 ET50, 13 ET52, 14 ET80 (ambulatory, 600) | 15 ET90 | 16, 17 95 | 18 96
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/check.h"
#include "daemon.h"
#include "efact/efact.h"
#include "efact_reader.h"
#include "gen/efact_gen.h"

#include <lmdb.h>

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(hospital_sendings, .fini = teardown, .timeout = 180);

/* The three lines' insurer amounts: 101032 twice, 102771 once (config/refdata/tariffs.csv). */
#define HOSPITAL_CENTS (2400 + 1960 + 2400)

static char *rec(uint8_t *p, unsigned k)
{
	return (char *)p + TPC_EFACT_HEADER + (size_t)(k - 1) * TPC_EFACT_RECORD;
}

/* Write @p s at 1-based position @p pos of record @p k, and reseal it (records 10..90) unless
 * @p raw: so that only the rule under test fires. */
static void edit(uint8_t *p, unsigned k, unsigned pos, const char *s, int raw)
{
	char *r = rec(p, k);

	memcpy(r + pos - 1, s, strlen(s));
	if (!raw && memcmp(r, "95", 2) != 0 && memcmp(r, "96", 2) != 0)
		tpc_efact_reseal(r);
}

static uint8_t *hospital(const char *reference, int counts, size_t *len)
{
	uint8_t *p = tpc_efact_hospital_sample(reference, counts, len);

	cr_assert_not_null(p);
	return p;
}

/* Submit as the sample hospital: the Result, asserted to be one. */
static Tpclear__Answer *submit(void *s, const char *key, const uint8_t *p, size_t len)
{
	Tpclear__Answer *a = tpc_td_submit(s, "hospital", key, "efact", p, len, NULL);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	return a;
}

/* Is @p code among the Result's findings, of the sending, an invoice or a line? */
static const Tpclear__Finding *finding(const Tpclear__Result *r, const char *code)
{
	for (size_t i = 0; i < r->n_findings; i++)
		if (strcmp(r->findings[i]->code, code) == 0)
			return r->findings[i];
	for (size_t i = 0; i < r->n_invoice_results; i++) {
		const Tpclear__InvoiceResult *v = r->invoice_results[i];

		for (size_t k = 0; k < v->n_findings; k++)
			if (strcmp(v->findings[k]->code, code) == 0)
				return v->findings[k];
		for (size_t l = 0; l < v->n_lines; l++)
			for (size_t k = 0; k < v->lines[l]->n_findings; k++)
				if (strcmp(v->lines[l]->findings[k]->code, code) == 0)
					return v->lines[l]->findings[k];
	}
	return NULL;
}

Test(hospital_sendings, clear_whatever_counts_their_writer_uses)
{
	static const struct {
		int counts;
		const char *reference;
		size_t signals; /* T30018 on the 95 (300), the 95 (600) and the 96 */
	} writers[] = {
	    {TPC_EFACT_COUNTS_TPCLEAR, "20261100000911", 0},
	    {TPC_EFACT_COUNTS_NO_ET52, "20261100000912", 3},
	    {TPC_EFACT_COUNTS_CIN, "20261100000913", 3},
	};

	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		size_t len;
		uint8_t *p = hospital(writers[i].reference, writers[i].counts, &len);
		Tpclear__Answer *a;
		void *s;

		/* a fresh daemon each: the same lines again would be "already billed" (500423) */
		tpc_td_start_or_fail(&d, NULL);
		s = tpc_td_connect(&d);
		a = submit(s, writers[i].reference, p, len);
		cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "writer %zu",
		             i);
		cr_assert_str_eq(a->result->native_type, "920098", "writer %zu", i);
		cr_assert_eq(a->result->lines, 3);
		cr_assert_eq(a->result->lines_accepted, 3, "writer %zu", i);
		cr_assert_eq(a->result->accepted_cents, HOSPITAL_CENTS);
		cr_assert_eq(a->result->n_findings, writers[i].signals, "writer %zu", i);
		for (size_t k = 0; k < a->result->n_findings; k++) {
			cr_assert_str_eq(a->result->findings[k]->code, "T30018");
			cr_assert_str_eq(a->result->findings[k]->letter, "S");
			cr_assert_eq(a->result->findings[k]->record, 16 + k);
		}
		tpclear__answer__free_unpacked(a, NULL);
		zmq_close(s);
		cr_assert_eq(tpc_td_stop(&d), 0);
		tpc_td_cleanup(&d);
		free(p);
	}
}

/* What a count the CIN test files write becomes under each setting; under strict, counts as
 * tpclear counts them still pass (the other settings cleared the same lines already, so a
 * second sending of them would be "already billed"). */
Test(hospital_sendings, the_counts_setting_decides_what_a_differing_count_does)
{
	static const struct {
		const char *ini;
		Tpclear__Outcome outcome;
		const char *native, *code; /* code NULL: no finding at all */
	} settings[] = {
	    {NULL, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "920098", "T30018"},
	    {"[adapter.efact]\ncounts = lenient\n", TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "920098",
	     "T30018"},
	    {"[adapter.efact]\ncounts = strict\n", TPCLEAR__OUTCOME__OUTCOME_REFUSED, "920999",
	     "T30011"},
	    {"[adapter.efact]\ncounts = ignore\n", TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "920098",
	     NULL},
	};

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		size_t len, glen;
		uint8_t *cin = hospital("20261100000921", TPC_EFACT_COUNTS_CIN, &len);
		uint8_t *good = hospital("20261100000922", TPC_EFACT_COUNTS_TPCLEAR, &glen);
		Tpclear__Answer *a;
		void *s;

		tpc_td_start_or_fail(&d, settings[i].ini);
		s = tpc_td_connect(&d);
		a = submit(s, "cin", cin, len);
		cr_assert_eq(a->result->outcome, settings[i].outcome, "setting %zu", i);
		cr_assert_str_eq(a->result->native_type, settings[i].native, "setting %zu", i);
		if (settings[i].code)
			cr_assert_not_null(finding(a->result, settings[i].code), "setting %zu", i);
		else
			cr_assert_eq(a->result->n_findings, 0, "setting %zu", i);
		tpclear__answer__free_unpacked(a, NULL);
		if (settings[i].outcome == TPCLEAR__OUTCOME__OUTCOME_REFUSED) {
			a = submit(s, "good", good, glen);
			cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED,
			             "setting %zu", i);
			cr_assert_eq(a->result->n_findings, 0, "setting %zu", i);
			tpclear__answer__free_unpacked(a, NULL);
		}
		zmq_close(s);
		cr_assert_eq(tpc_td_stop(&d), 0);
		tpc_td_cleanup(&d);
		free(cin);
		free(good);
	}
}

/* ---- the settlement 920900 of a hospital's sending ----------------------------------------- */

/* Submit @p p as @p key and return its native answer (malloc'd), read with the reader. */
static uint8_t *submit_native(void *s, const char *key, const uint8_t *p, size_t len,
                              efr_answer_t *r, size_t *nl)
{
	uint8_t *n = NULL;
	char why[160] = "";
	Tpclear__Answer *a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital",
	                                    key, "efact", p, len, &n, nl);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->lines_accepted, 3);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_not_null(n);
	cr_assert_eq(efr_parse(n, *nl, r, why, sizeof(why)), 0, "%s", why);
	return n;
}

/* Run a payment run and fetch the 920900 of @p key, read with the reader. */
static uint8_t *settle_and_fetch(void *s, const char *key, efr_answer_t *r)
{
	Tpclear__Answer *a = tpc_td_payrun(s, 0, "");
	uint8_t *n = NULL;
	size_t nl = 0;
	char why[160] = "";

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	tpclear__answer__free_unpacked(a, NULL);
	a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "hospital", key, "settlement",
	                   NULL, 0, &n, &nl);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_SETTLEMENT);
	tpclear__answer__free_unpacked(a, NULL);
	cr_assert_not_null(n, "no 920900");
	cr_assert_eq(efr_parse(n, nl, r, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(r->type, "920900");
	return n;
}

/* The settlement echoes the records it settles (efact-real.md 1.1): each paid ET50 with the
 * ET51/ET52 of the same service, as sent, among the frames, in the sending's order; the
 * ET91s repeat the sender's 95s. The count a widely used client writes (no ET52) is in the
 * 920098's ET90 slots. */
Test(hospital_sendings, the_920900_echoes_the_settled_lines_with_their_et51_and_et52)
{
	static const uint32_t seqs[] = {1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15};
	static const long long paid50[] = {2400, 1960, 2400};
	size_t len, nl;
	uint8_t *p = hospital("20261100000931", TPC_EFACT_COUNTS_NO_ET52, &len), *n, *st;
	efr_answer_t r, q;
	unsigned k50 = 0;
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	n = submit_native(s, "stay", p, len, &r, &nl);
	cr_assert_eq(r.nrec, 6, "ET10, 2 x (ET20, ET80), ET90");
	cr_assert_eq(r.rec[5].type, 90);
	cr_assert_eq(r.rec[5].nslots, 3, "the three counts that differ");
	for (unsigned i = 0; i < 3; i++)
		cr_assert(r.rec[5].slots[i].letter == 'S' &&
		          strcmp(r.rec[5].slots[i].code, "T30018") == 0);
	efr_release(&r);
	free(n);

	st = settle_and_fetch(s, "stay", &q);
	cr_assert_eq(q.nrec, 13 + 2 + 1, "13 records, 2 ET91, 1 ET92");
	for (uint32_t i = 0; i < 13; i++) {
		const efr_record_t *x = &q.rec[i];

		cr_assert_eq(x->seq, seqs[i], "record %u: sequence %u", i, x->seq);
		cr_assert_eq(memcmp(x->raw, rec(p, seqs[i]), 350), 0, "record %u as sent", i);
		if (x->type == 50) {
			cr_assert(x->has_amount && x->amount == paid50[k50], "ET50 %u paid %lld",
			          k50, x->amount);
			cr_assert_eq(x->nslots, 0);
			k50++;
		}
		if (x->type == 51 || x->type == 52)
			cr_assert(!x->has_amount && x->nslots == 0 && x->index > 1);
	}
	cr_assert_eq(k50, 3, "every paid ET50, none else");
	for (uint32_t i = 0; i < 3; i++) {
		const char *x = q.rec[13 + i].raw, *sent = rec(p, 16 + i);

		cr_assert_eq(q.rec[13 + i].type, i < 2 ? 91 : 92);
		cr_assert_eq(memcmp(x + 9, sent + 9, 12), 0, "summary-invoice number %.12s", x + 9);
		cr_assert_eq(memcmp(x + 75, sent + 75, 2), 0, "control %.2s", x + 75);
	}
	efr_release(&q);
	free(st);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* A ledger of an engine that kept no payload: its sendings are settled from the stored answer
 * alone, as before (the "payloads" database emptied between a submission and the run). */
Test(hospital_sendings, a_sending_stored_without_its_payload_is_settled_from_its_answer)
{
	size_t len, nl;
	uint8_t *p = hospital("20261100000932", TPC_EFACT_COUNTS_TPCLEAR, &len), *n, *st;
	efr_answer_t r, q;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	n = submit_native(s, "old", p, len, &r, &nl);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	/* the ledger as an older engine left it: no payload */
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
	cr_assert_eq(mdb_env_open(env, d.data, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "payloads", 0, &dbi), 0);
	cr_assert_eq(mdb_stat(txn, dbi, &ms), 0);
	cr_assert_eq(ms.ms_entries, 1, "the sending's payload was kept");
	cr_assert_eq(mdb_drop(txn, dbi, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	st = settle_and_fetch(s, "old", &q);
	cr_assert_eq(q.nrec, r.nrec + 2 + 1, "the 920098's records, 2 ET91, 1 ET92");
	for (uint32_t i = 0; i < r.nrec; i++)
		cr_assert_eq(memcmp(q.rec[i].raw, r.rec[i].raw, 477), 0, "record %u", i);
	cr_assert_eq(efr_find(&q, 50, 0), -1, "no ET50: none was in error");
	cr_assert(tpc_check_all_char(q.rec[r.nrec].raw + 9, 12, '0'), "no sender's 95");
	efr_release(&r);
	efr_release(&q);
	free(n);
	free(st);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

Test(hospital_sendings, an_unknown_efact_setting_stops_the_daemon)
{
	memset(&d, 0, sizeof(d));
	cr_assert_neq(tpc_td_start(&d, NULL, "[adapter.efact]\ncounts = loose\n"), 0);
	cr_assert(tpc_td_log_has(&d, "init() failed"));
}

/* The bad twin of a filler, and what it must come back as. */
struct twin {
	const char *what;
	unsigned k[2], pos[2]; /* up to two edits (k 0 = none) */
	const char *text[2];
	int raw; /* do not reseal: the twin is the record control itself */
	const char *code;
	const char *native; /* 920999 at reception, 920099 refused, 920098 accepted in part */
	Tpclear__Outcome outcome;
};

#define IBAN_BAD "BE10001232152605                  "

static const struct twin twins[] = {
    {"IBAN B with a wrong check",
     {1, 15},
     {271, 271},
     {IBAN_BAD, IBAN_BAD},
     0,
     "104902",
     "920999",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"BIC B not a BIC",
     {1, 15},
     {219, 219},
     {"GEBA1EBB   ", "GEBA1EBB   "},
     0,
     "104303",
     "920999",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"ET90 account B not the ET10's",
     {15, 0},
     {219, 0},
     {"GEBABEBB   ", NULL},
     0,
     "904312",
     "920999",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"ET50 262-269 garbage",
     {4, 0},
     {262, 0},
     {"+00000A0", NULL},
     0,
     "504701",
     "920099",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"ET50 share in a lump sum not numeric",
     {6, 0},
     {283, 0},
     {"1 0", NULL},
     0,
     "505001",
     "920099",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"ET50 GPS flag not numeric",
     {6, 0},
     {316, 0},
     {"Y", NULL},
     0,
     "505401",
     "920099",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    {"95 amount C garbage",
     {16, 0},
     {80, 0},
     {"+0000000000?", NULL},
     0,
     "T30017",
     "920999",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
    /* the stay's invoice is refused, the ambulatory one cleared */
    {"ET80 discharge hour not the ET20's",
     {9, 0},
     {108, 0},
     {"01500", NULL},
     0,
     "802212",
     "920098",
     TPCLEAR__OUTCOME__OUTCOME_PARTIAL},
    /* 00 is never a record control: 0 is written 97 */
    {"ET21 record control",
     {3, 0},
     {349, 0},
     {"00", NULL},
     1,
     "219902",
     "920099",
     TPCLEAR__OUTCOME__OUTCOME_REFUSED},
};

Test(hospital_sendings, each_fillers_bad_twin_is_refused_with_its_code)
{
	void *s;

	/* every refused share is allowed: the twins are judged by their own codes */
	tpc_td_start_or_fail(&d, "[clearing]\nmax_refused_percent = 100\n");
	s = tpc_td_connect(&d);
	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++) {
		const struct twin *t = &twins[i];
		char reference[15], key[16];
		size_t len;
		uint8_t *p;
		Tpclear__Answer *a;
		const Tpclear__Finding *f;

		snprintf(reference, sizeof(reference), "202611000009%02zu", 40 + i);
		snprintf(key, sizeof(key), "twin%zu", i);
		p = hospital(reference, TPC_EFACT_COUNTS_TPCLEAR, &len);
		for (int k = 0; k < 2; k++)
			if (t->k[k])
				edit(p, t->k[k], t->pos[k], t->text[k], t->raw);
		a = submit(s, key, p, len);
		f = finding(a->result, t->code);
		cr_assert_not_null(f, "%s: no %s", t->what, t->code);
		cr_assert_eq(f->record, t->k[0], "%s", t->what);
		cr_assert_str_eq(a->result->native_type, t->native, "%s", t->what);
		cr_assert_eq(a->result->outcome, t->outcome, "%s", t->what);
		tpclear__answer__free_unpacked(a, NULL);
		free(p);
	}
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
