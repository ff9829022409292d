/* tests/integration/test_conformance.c - every eFact answer the real daemon emits, read with
 * the reader of tests/support/efact_reader.h (written from shared/domain/efact-real.md, shares
 * no code with adapters/efact) and checked against the real layouts:
 *   - 931000: 227 characters;
 *   - 920098 / 920099 / 920900: 677 + k x 800 characters, no 95/96; the echo holds the
 *     sending's ET10 and ET90, each invoice's ET20 and ET80 and exactly the records the Result
 *     names a finding on, each its first 350 characters as sent, with the trailer zones of
 *     efact-real.md 1.1; segment 300 with the share of errors and the refusal type;
 *   - 920999: 227 + k x 350, only the records 95/96 in error, status 40;
 *   - 920900: besides the 920098's records, exactly the ET50s of the lines it paid, as sent,
 *     each with its amount at 478-489;
 *   - the stored answer comes back byte for byte on every resubmission, a payment run
 *     included.
 * Sendings: a clean one, one with faulty lines (accepted in part; refused for its share at
 * the default 5 %), one with a blocking error on a line, one refused at reception for a
 * record 95 fault, an invoice and its credit note, then a payment run and its 920900s.
 *
 * The open-source eFact client the issue mentions cannot be run here (no network, not in the
 * local package lists): the reader stands in for it, and follows what efact-real.md says that
 * client does (every 800 characters after 677 one record, nothing shorter).
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

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(conformance, .fini = teardown, .timeout = 240);

/* What one submission brought back: the Result and both native answers. */
struct got {
	Tpclear__Answer *a;
	uint8_t *receipt, *native;
	size_t receipt_len, native_len;
};

static void got_free(struct got *g)
{
	if (g->a)
		tpclear__answer__free_unpacked(g->a, NULL);
	free(g->receipt);
	free(g->native);
	memset(g, 0, sizeof(*g));
}

/* Submit @p p as the hospital's sending @p key; the receipt (931000) and the result. */
static struct got submit(void *s, const char *key, const uint8_t *p, size_t len)
{
	static uint64_t corr = 100;
	struct got g;
	Tpclear__Answer *a;
	uint8_t *n;
	size_t nl;

	memset(&g, 0, sizeof(g));
	corr++;
	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital", key, "efact",
	                         corr, p, len),
	             0);
	while ((a = tpc_td_recv(s, 30000, &n, &nl))) {
		if (a->correlation != corr) {
			free(n);
			tpclear__answer__free_unpacked(a, NULL);
			continue;
		}
		if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT && !g.receipt) {
			g.receipt = n;
			g.receipt_len = nl;
			tpclear__answer__free_unpacked(a, NULL);
			continue;
		}
		g.a = a;
		g.native = n;
		g.native_len = nl;
		break;
	}
	cr_assert_not_null(g.a, "%s: no result", key);
	cr_assert_eq(g.a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s", key);
	cr_assert_not_null(g.native, "%s: no native answer", key);
	cr_assert_not_null(g.receipt, "%s: no receipt", key);
	return g;
}

/* Read @p n bytes with the reader, asserting a real client could. */
static void read_ok(const uint8_t *p, size_t n, const char *type, efr_answer_t *r)
{
	char why[200] = "";

	cr_assert_eq(efr_parse(p, n, r, why, sizeof(why)), 0, "a client cannot read it: %s", why);
	cr_assert_str_eq(r->type, type);
}

/* The receipt: 931000, 200 + 300 (160). */
static void check_receipt(const struct got *g)
{
	efr_answer_t r;

	cr_assert_eq(g->receipt_len, 227);
	read_ok(g->receipt, g->receipt_len, "931000", &r);
	efr_release(&r);
}

/* Record @p ord (1-based) of the sending @p p. */
static const char *sent(const uint8_t *p, uint32_t ord)
{
	return (const char *)p + 227 + (size_t)(ord - 1) * 350;
}

/* The Result's findings on record @p ord: their number, their codes in @p codes. */
static unsigned findings_on(const Tpclear__Result *res, uint32_t ord, char codes[][7], unsigned cap)
{
	unsigned n = 0;

#define TAKE(arr, cnt)                                                                             \
	for (size_t f = 0; f < (cnt); f++)                                                         \
		if ((arr)[f]->record == ord) {                                                     \
			if (n < cap)                                                               \
				snprintf(codes[n], 7, "%s", (arr)[f]->code);                       \
			n++;                                                                       \
		}
	TAKE(res->findings, res->n_findings);
	for (size_t i = 0; i < res->n_invoice_results; i++) {
		const Tpclear__InvoiceResult *v = res->invoice_results[i];

		TAKE(v->findings, v->n_findings);
		for (size_t k = 0; k < v->n_lines; k++)
			TAKE(v->lines[k]->findings, v->lines[k]->n_findings);
	}
#undef TAKE
	return n;
}

/* Every record of a 920098 / 920099 against the sending @p p and the Result @p res: the echo
 * is exactly the frames and the records in error, in order, each with its trailer. */
static void check_echo(const efr_answer_t *r, const uint8_t *p, size_t len,
                       const Tpclear__Result *res)
{
	uint32_t nrec = (uint32_t)((len - 227) / 350), e = 0, et20 = 0;

	for (uint32_t ord = 1; ord <= nrec; ord++) {
		const char *rec = sent(p, ord), *h = et20 ? sent(p, et20) : NULL;
		char codes[8][7], ref[23];
		unsigned nf = findings_on(res, ord, codes, 8);
		int frame = !memcmp(rec, "10", 2) || !memcmp(rec, "20", 2) ||
		            !memcmp(rec, "80", 2) || !memcmp(rec, "90", 2);
		const efr_record_t *x;

		if (!memcmp(rec, "20", 2))
			et20 = ord, h = rec;
		if (!memcmp(rec, "95", 2) || !memcmp(rec, "96", 2) || (!frame && nf == 0))
			continue; /* not echoed; the count below proves it */
		cr_assert_lt(e, r->nrec, "record %u missing from the echo", ord);
		x = &r->rec[e++];
		cr_assert_eq(memcmp(x->raw, rec, 350), 0, "echo %u is record %u as sent", e, ord);
		if (!memcmp(rec, "10", 2) || !memcmp(rec, "90", 2)) {
			cr_assert_eq(x->filler, rec[0], "record %u: trailer all %c", ord, rec[0]);
			continue;
		}
		cr_assert_eq(memcmp(x->month, (const char *)p + 67, 6), 0, "record %u: %s", ord,
		             x->month);
		cr_assert_eq(memcmp(x->mutuality, h + 84, 3), 0, "record %u", ord);
		cr_assert_eq(memcmp(x->third_party, h + 55, 12), 0, "record %u", ord);
		cr_assert_eq(memcmp(x->ct1, h + 131, 3), 0, "record %u", ord);
		cr_assert_eq(memcmp(x->ct2, h + 134, 3), 0, "record %u", ord);
		/* our reference (docs/formats/efact.md): sending number/month/mutuality/place */
		snprintf(ref, sizeof(ref), "%.3s/%.6s/%.3s/%06u ", (const char *)p + 67 + 8,
		         (const char *)p + 67, h + 84, ord);
		cr_assert_str_eq(x->ref_a, ref, "record %u", ord);
		cr_assert_eq(x->index, ord - et20 + 1, "record %u: index in its invoice", ord);
		cr_assert_eq(x->nslots, nf < 3 ? nf : 3, "record %u: %u slots for %u findings", ord,
		             x->nslots, nf);
		for (unsigned k = 0; k < x->nslots; k++) {
			int found = 0;

			for (unsigned f = 0; f < nf && f < 8; f++)
				found |= strcmp(codes[f], x->slots[k].code) == 0;
			cr_assert(found, "record %u: slot %s is not a finding of the Result", ord,
			          x->slots[k].code);
		}
		if (!frame)
			cr_assert_gt(x->nslots, 0, "record %u echoed without an error", ord);
	}
	cr_assert_eq(e, r->nrec, "%u records echoed, %u expected", r->nrec, e);
}

/* A 920098 / 920099 in full: the length rule, the reader, the echo, share and refusal. */
static void check_result(const struct got *g, const uint8_t *p, size_t len, const char *type,
                         int share, const char *refusal)
{
	efr_answer_t r;

	check_receipt(g);
	cr_assert_str_eq(g->a->result->native_type, type);
	cr_assert_geq(g->native_len, 677);
	cr_assert_eq((g->native_len - 677) % 800, 0, "677 + k x 800: %zu", g->native_len);
	read_ok(g->native, g->native_len, type, &r);
	for (uint32_t i = 0; i < r.nrec; i++)
		cr_assert(r.rec[i].type != 95 && r.rec[i].type != 96);
	cr_assert_eq(r.share, share, "share of errors %.5s", r.s300 + 140);
	cr_assert_str_eq(r.refusal, refusal);
	check_echo(&r, p, len, g->a->result);
	efr_release(&r);
}

/* The share of errors as insurers write it: refused insurer amount over the invoiced one,
 * hundredths of a percent, truncated - from the Result's lines as judged before any threshold
 * (@p res of a run where nothing was refused as a whole). */
static int share_of(const Tpclear__Result *res)
{
	int64_t total = 0;

	for (size_t i = 0; i < res->n_invoice_results; i++)
		for (size_t k = 0; k < res->invoice_results[i]->n_lines; k++)
			total += res->invoice_results[i]->lines[k]->insurer_cents;
	return (int)((total - res->accepted_cents) * 10000 / total);
}

/* Resubmit and compare both answers byte for byte with @p first. */
static void expect_replay(void *s, const char *key, const uint8_t *p, size_t len,
                          const struct got *first)
{
	struct got g = submit(s, key, p, len);

	cr_assert(g.a->result->replay, "%s replayed", key);
	cr_assert_eq(g.native_len, first->native_len, "%s: %zu then %zu bytes", key,
	             first->native_len, g.native_len);
	cr_assert_eq(memcmp(g.native, first->native, g.native_len), 0,
	             "%s: the stored answer differs from the first", key);
	got_free(&g);
}

Test(conformance, faulty_lines_are_echoed_alone_in_a_920098)
{
	size_t len;
	uint8_t *p = tpc_efact_faults_sample("20261100000501", &len);
	struct got g;
	void *s;

	tpc_td_start_or_fail(&d, "[clearing]\nmax_refused_percent = 100\n");
	s = tpc_td_connect_as(&d, "hospital");
	g = submit(s, "faulty", p, len);
	cr_assert_eq(g.a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_PARTIAL);
	check_result(&g, p, len, "920098", share_of(g.a->result), "00");
	cr_assert_eq(share_of(g.a->result), 7017, "10260 of 14620 refused");
	expect_replay(s, "faulty", p, len, &g);
	got_free(&g);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* A clean sending with record 95 (the first one) amount A off by one cent. */
static uint8_t *with_95_fault(const uint8_t *clean, size_t len)
{
	uint8_t *p = malloc(len);
	int64_t a;

	cr_assert_not_null(p);
	memcpy(p, clean, len);
	for (size_t off = 227; off + 350 <= len; off += 350)
		if (!memcmp(p + off, "95", 2)) {
			cr_assert_eq(tpc_check_parse_signed((char *)p + off + 23, 12, &a), 0);
			tpc_check_put_signed((char *)p + off + 23, 12, a + 1);
			return p;
		}
	cr_assert_fail("no record 95");
	return NULL;
}

/* The clean sample with one line's insurer amount stripped of its sign (501905, B). */
static uint8_t *with_blocking_line(const uint8_t *clean, size_t len)
{
	uint8_t *p = malloc(len);

	cr_assert_not_null(p);
	memcpy(p, clean, len);
	for (size_t off = 227; off + 350 <= len; off += 350)
		if (!memcmp(p + off, "50", 2)) {
			p[off + 87] = '0';
			tpc_efact_reseal((char *)p + off);
			return p;
		}
	cr_assert_fail("no record 50");
	return NULL;
}

static void check_920999(const struct got *g, const uint8_t *p)
{
	efr_answer_t r;
	int k;

	check_receipt(g);
	cr_assert_str_eq(g->a->result->native_type, "920999");
	cr_assert_eq(g->native_len, 227 + 350, "200 + 300 + the one 95 in error");
	read_ok(g->native, g->native_len, "920999", &r);
	cr_assert_str_eq(r.status, "40");
	cr_assert_eq(r.nrec, 1);
	cr_assert_eq(r.rec[0].type, 95);
	cr_assert_eq(r.rec[0].nzone_errors, 1);
	cr_assert_eq(r.rec[0].zone_errors[0].pos, 36, "error after amount A");
	for (k = 0; memcmp(sent(p, (uint32_t)k + 1), "95", 2); k++)
		;
	cr_assert_eq(memcmp(r.rec[0].raw, sent(p, (uint32_t)k + 1), 35), 0, "the 95 as sent");
	efr_release(&r);
}

/* The ET50s of a 920900 that carry a payment are exactly the lines of @p res accepted with an
 * amount (one payment of one budget pays them all here), each the record as sent in @p p at
 * the line's place, paid its accepted amount. */
static void check_settled_lines(const efr_answer_t *r, const uint8_t *p, const Tpclear__Result *res)
{
	uint32_t k = 0;

	for (size_t i = 0; i < res->n_invoice_results; i++)
		for (size_t l = 0; l < res->invoice_results[i]->n_lines; l++) {
			const Tpclear__LineResult *ln = res->invoice_results[i]->lines[l];

			if (!ln->accepted_cents)
				continue;
			while (k < r->nrec &&
			       !(r->rec[k].type == 50 && r->rec[k].has_amount && r->rec[k].amount))
				k++;
			cr_assert_lt(k, r->nrec, "line of record %u not settled", ln->record);
			cr_assert_eq(r->rec[k].seq, ln->record);
			cr_assert_eq(memcmp(r->rec[k].raw, sent(p, ln->record), 350), 0);
			cr_assert_eq(r->rec[k].amount, ln->accepted_cents);
			k++;
		}
	for (; k < r->nrec; k++)
		cr_assert(r->rec[k].type != 50 || !r->rec[k].has_amount || !r->rec[k].amount,
		          "an ET50 paid that is no accepted line: %u", r->rec[k].seq);
}

/* The 920900 of @p key, fetched from the store: read, its invoices paid on their ET80, the
 * lines it settles echoed (@p p: the sending). */
static void check_settlement(void *s, const char *key, const uint8_t *p, const Tpclear__Result *res)
{
	Tpclear__Answer *a;
	uint8_t *n = NULL;
	size_t nl = 0;
	efr_answer_t r;
	int k, inv = 0, n91 = 0;
	int64_t paid = 0;

	a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "hospital", key, "settlement",
	                   NULL, 0, &n, &nl);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_SETTLEMENT, "%s", key);
	cr_assert_not_null(n, "%s: no 920900", key);
	cr_assert_eq((nl - 677) % 800, 0, "677 + k x 800: %zu", nl);
	read_ok(n, nl, "920900", &r);
	cr_assert_eq(r.share, 0, "a 920900 writes 00000 at 141-145");
	for (uint32_t i = 0; i < r.nrec; i++) {
		const efr_record_t *x = &r.rec[i];
		int64_t v;

		cr_assert(x->type != 95 && x->type != 96);
		if (x->type == 91) {
			n91++;
			continue;
		}
		if (x->type != 80)
			continue;
		cr_assert_eq(tpc_check_parse_signed(x->raw + 477, 12, &v), 0);
		cr_assert_eq(v, res->invoice_results[inv]->accepted_cents, "%s: invoice %d paid",
		             key, inv);
		paid += v;
		inv++;
	}
	cr_assert_eq((size_t)inv, res->n_invoice_results);
	cr_assert_eq(paid, a->settlement->paid_cents, "%s: the ET80s add up to the payment", key);
	cr_assert_geq(n91, 1);
	cr_assert_eq(r.rec[r.nrec - 1].type, 92, "ET92 last");
	check_settled_lines(&r, p, res);
	k = efr_find(&r, 91, 0);
	cr_assert_eq(r.rec[k - 1].type, 90, "ET91s follow the ET90");
	efr_release(&r);
	free(n);
	tpclear__answer__free_unpacked(a, NULL);
}

Test(conformance, every_answer_of_a_day_reads_as_insurers_write_it)
{
	size_t clen, flen, ilen, nlen;
	uint8_t *clean = tpc_efact_sample(4242, 0, 5, 7, &clen);
	uint8_t *faulty = tpc_efact_faults_sample("20261100000502", &flen);
	uint8_t *bad95 = with_95_fault(clean, clen), *blocking = with_blocking_line(clean, clen);
	uint8_t *inv =
	    tpc_td_efact_invoice("20261100000503", "000000000503", '0', "", 1, 20261102, &ilen);
	uint8_t *note = tpc_td_efact_invoice("20261100000504", "000000000504", '3', "000000000503",
	                                     -1, 20261102, &nlen);
	struct got gc, gf, g95, gb, gi, gn;
	Tpclear__Answer *a;
	void *s, *ops;

	tpc_td_start_or_fail(&d, NULL); /* the default threshold: 5 % */
	s = tpc_td_connect_as(&d, "hospital");
	ops = tpc_td_connect(&d);

	/* clean: the frames alone, nothing refused */
	gc = submit(s, "clean", clean, clen);
	cr_assert_eq(gc.a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	check_result(&gc, clean, clen, "920098", 0, "00");
	cr_assert_eq(gc.native_len, 677 + (2 + 2 * 5) * 800);

	/* faulty lines, 70.17 % refused: refused for its share, 02 with that share */
	gf = submit(s, "share", faulty, flen);
	cr_assert_eq(gf.a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	check_result(&gf, faulty, flen, "920099", 7017, "02");

	/* a blocking error on a line: refused for it, 01 */
	gb = submit(s, "blocking", blocking, clen);
	check_result(&gb, blocking, clen, "920099", 10000, "01");

	/* a record 95 fault: refused at reception */
	g95 = submit(s, "bad95", bad95, clen);
	check_920999(&g95, bad95);

	/* an invoice and its credit note */
	gi = submit(s, "invoice", inv, ilen);
	check_result(&gi, inv, ilen, "920098", 0, "00");
	gn = submit(s, "credit", note, nlen);
	cr_assert_eq(gn.a->result->accepted_cents, -(2400 + 1960));
	check_result(&gn, note, nlen, "920098", 0, "00");

	/* the payment run, then a 920900 per paid sending */
	a = tpc_td_payrun(ops, 0, "");
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_geq(a->payrun->settlements, 1);
	tpclear__answer__free_unpacked(a, NULL);
	check_settlement(s, "clean", clean, gc.a->result);

	/* every stored answer, byte for byte, after the run too */
	expect_replay(s, "clean", clean, clen, &gc);
	expect_replay(s, "share", faulty, flen, &gf);
	expect_replay(s, "blocking", blocking, clen, &gb);
	expect_replay(s, "bad95", bad95, clen, &g95);
	expect_replay(s, "credit", note, nlen, &gn);

	got_free(&gc);
	got_free(&gf);
	got_free(&gb);
	got_free(&g95);
	got_free(&gi);
	got_free(&gn);
	zmq_close(s);
	zmq_close(ops);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(clean);
	free(faulty);
	free(bad95);
	free(blocking);
	free(inv);
	free(note);
}
