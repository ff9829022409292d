/* tests/unit/adapters/efact/test_efact_settlement.c - the eFact settlement answer 920900
 * (adapters/efact/efact_settlement.c, docs/formats/efact.md "Settlement 920900").
 *
 * Each test writes a valid 920000 with the writer (gen/efact_gen.h), decodes it through
 * tpc_efact_adapter, judges the lines by hand as the engine would, encodes the 920098 (or
 * 920099) and then the 920900 from it, as the ledger does after a payment run. The answers are
 * copied to malloc'd buffers of their exact size, so ASan sees any read past their end, and
 * read back with the independent reader (tests/support/efact_reader.h).
 *
 * The sending (records by ordinal; positions below are 1-based, offsets in C are pos - 1):
 *    1 ET10
 *    2 ET20 invoice 1 (mutuality 300)   3 ET50 line 0 (A, 2400, paid 2400)
 *    4 ET51 of line 0                    5 ET50 line 1 (B, 3920, paid 3920)
 *    6 ET80
 *    7 ET20 invoice 2 (mutuality 300)   8 ET50 line 2 (A, 1234, accepted, paid by another payment)
 *    9 ET80
 *   10 ET20 invoice 3 (mutuality 600)  11 ET50 line 3 (A, 999, refused: 500403)
 *                                      12 ET50 line 4 (B, 1500, 1200 accepted and paid)
 *   13 ET80
 *   14 ET90   15 95 (300)   16 95 (600)   17 96 (399)
 *
 * The 920098 echoes ET10, the three ET20/ET80 pairs, the refused ET50 of ordinal 11 and ET90:
 *    echo 0: 1   1: 2   2: 6   3: 7   4: 9   5: 10   6: 11   7: 13   8: 14
 * With the payload (a ledger that keeps it), the 920900 adds the records this payment settles:
 * the ET50s of lines 0, 1 and 4 (ordinals 3, 5, 12) and the ET51 of line 0 (4), in place.
 * Without it (a ledger written before "payloads") it is the echo alone.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "common/check.h"
#include "efact/efact.h"
#include "gen/efact_gen.h"
#include "efact_fixture.h"
#include "efact_reader.h"

enum { SETTLE_NREC = 17, N800 = 9, NLINES = 5, NMUT = 2 };

/* the place in the sending of each echoed record */
static const uint32_t echo_ord[N800] = {1, 2, 6, 7, 9, 10, 11, 13, 14};

static const int64_t accepted[NLINES] = {2400, 3920, 1234, 0, 1200};
static const int64_t paid[NLINES] = {2400, 3920, 0, 0, 1200};

#define HEAD        (TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER)
#define RESULT_LEN  ((size_t)HEAD + N800 * 800)
#define SETTLED_LEN ((size_t)HEAD + (N800 + NMUT + 1) * 800)
#define PAYREF      "RUN42-PAY-000017"

static tpc_efact_line_in_t l1[2], l2[1], l3[2];
static tpc_efact_invoice_in_t invs[3];
static tpc_efact_sending_in_t in;

static tpc_arena_t *arena;
static tpc_host_t host;
static uint8_t *file; /* the 920000 */
static size_t flen;
static uint8_t *answer; /* the 920098/920099, malloc'd at its exact size */
static size_t alen;
static tpc_sending_t sending;
static tpc_settled_line_t lines[NLINES + 1];
static tpc_settlement_t st;

static void setup(void)
{
	l1[0] = tpc_efact_line("101032", 20261102, 2400, 600, "A1");
	snprintf(l1[0].commitment, sizeof(l1[0].commitment), "NET-COMMIT-0001");
	l1[1] = tpc_efact_line("102771", 20261103, 3920, 1500, "A2");
	l1[1].account = 1;
	l2[0] = tpc_efact_line("102852", 20261110, 1234, 0, "B1");
	l3[0] = tpc_efact_line("475075", 20261115, 999, 1, "C1");
	l3[1] = tpc_efact_line("101032", 20261116, 1500, 400, "C2");
	l3[1].account = 1;
	tpc_efact_invoice(&invs[0], "86103130262", "000000000101", "300", l1, 2);
	tpc_efact_invoice(&invs[1], "05031412595", "000000000102", "300", l2, 1);
	tpc_efact_invoice(&invs[2], "75031412581", "000000000103", "600", l3, 2);

	tpc_efact_sending_head(&in, "20261163000007", 7, TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	snprintf(in.contact, sizeof(in.contact), "DUPONT");
	in.invoices = invs;
	in.ninvoices = 3;

	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 0, 0, NULL};
	file = answer = NULL;
	cr_assert_eq(tpc_efact_write(&in, &file, &flen), 0);
	cr_assert_eq(flen, (size_t)TPC_EFACT_HEADER + SETTLE_NREC * TPC_EFACT_RECORD);
}

static void teardown(void)
{
	free(file);
	free(answer);
	tpc_arena_free(&arena);
}

TestSuite(efact_settlement, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the sending, judged, and its result answer -------------------------------------------- */

/* Decode, judge as the engine would (line 3 refused by the tariff check, line 4 accepted at
 * 1200 of 1500; everything refused with @p refuse_all), encode the result answer into a
 * buffer of its exact size, and build the settlement from the judged lines. */
static void result(int refuse_all)
{
	tpc_blob_t b;
	tpc_finding_t *f;

	memset(&sending, 0, sizeof(sending));
	cr_assert_eq(tpc_efact_adapter.decode(NULL, file, flen, &host, &sending), 0);
	cr_assert_eq(sending.nfindings, 0);
	cr_assert_eq(sending.nlines, NLINES);
	cr_assert_eq(sending.ninvoices, 3);
	f = &sending.lines[3].findings[sending.lines[3].nfindings++];
	memset(f, 0, sizeof(*f));
	memcpy(f->code, "500403", 7);
	f->letter = 'R';
	f->record = sending.lines[3].record;
	f->pos = 10;
	f->len = 7;
	for (uint32_t i = 0; i < sending.ninvoices; i++) {
		tpc_invoice_t *v = &sending.invoices[i];

		for (uint32_t k = v->first_line; k < v->first_line + v->nlines; k++) {
			tpc_line_t *l = &sending.lines[k];

			l->accepted_cents = refuse_all ? 0 : accepted[k];
			l->outcome =
			    !refuse_all && k != 3 ? TPC_OUTCOME_ACCEPTED : TPC_OUTCOME_REFUSED;
			v->accepted_cents += l->accepted_cents;
			v->refused_cents += l->insurer_cents - l->accepted_cents;
			memset(&lines[k], 0, sizeof(lines[k]));
			lines[k].record = l->record;
			lines[k].account = l->account;
			lines[k].outcome = l->outcome;
			memcpy(lines[k].mutuality, v->mutuality, 4);
			lines[k].requested_cents = l->insurer_cents;
			lines[k].accepted_cents = l->accepted_cents;
			lines[k].paid_cents = refuse_all ? 0 : paid[k];
		}
		v->outcome = v->accepted_cents ? TPC_OUTCOME_ACCEPTED : TPC_OUTCOME_REFUSED;
		sending.accepted_cents += v->accepted_cents;
		sending.refused_cents += v->refused_cents;
	}
	sending.outcome = refuse_all ? TPC_OUTCOME_REFUSED : TPC_OUTCOME_ACCEPTED;
	memset(&b, 0, sizeof(b));
	cr_assert_eq(tpc_efact_adapter.encode_answer(NULL, file, flen, &sending, TPC_ANSWER_RESULT,
	                                             &host, &b),
	             0);
	cr_assert_str_eq(b.type, refuse_all ? "920099" : "920098");
	cr_assert_eq(b.len, RESULT_LEN);
	free(answer);
	answer = malloc(b.len);
	cr_assert_not_null(answer);
	memcpy(answer, b.ptr, b.len);
	alen = b.len;

	memset(&st, 0, sizeof(st));
	st.payment_reference = PAYREF;
	st.run = 42;
	st.paid_on = 20781;
	st.nlines = NLINES;
	st.lines = lines;
}

static int settle_buf(const uint8_t *a, size_t n, const tpc_settlement_t *s, tpc_blob_t *b)
{
	memset(b, 0, sizeof(*b));
	return tpc_efact_adapter.encode_settlement(NULL, a, n, NULL, 0, s, &host, b);
}

static int settle(tpc_blob_t *b)
{
	return settle_buf(answer, alen, &st, b);
}

/* A copy of the answer, @p n bytes of it, with @p pos (1-based in the answer) overwritten by
 * @p s when s is not NULL; the caller frees it. */
static uint8_t *variant(size_t n, size_t pos, const char *s)
{
	uint8_t *v = malloc(n ? n : 1);

	cr_assert_not_null(v);
	memset(v, '0', n);
	memcpy(v, answer, n < alen ? n : alen);
	if (s) {
		cr_assert(pos >= 1 && pos - 1 + strlen(s) <= n);
		memcpy(v + pos - 1, s, strlen(s));
	}
	return v;
}

static int refused_variant(size_t n, size_t pos, const char *s)
{
	uint8_t *v = variant(n, pos, s);
	tpc_blob_t b;
	int rc = settle_buf(v, n, &st, &b);

	free(v);
	return rc;
}

/* ---- reading the answers ------------------------------------------------------------------- */

/* Echoed record @p k (0-based) in a 920098 or a 920900. */
static const char *echo(const uint8_t *a, uint32_t k)
{
	return (const char *)a + HEAD + (size_t)k * TPC_EFACT_RECORD_ANSWER;
}

/* ET91 number @p i (0-based), or the ET92 with i == NMUT. */
static const char *summary(const tpc_blob_t *b, uint32_t i)
{
	return (const char *)b->ptr + HEAD + (size_t)(N800 + i) * TPC_EFACT_RECORD_ANSWER;
}

/* The signed 12-character amount at 1-based position @p pos. */
static int64_t amount(const char *rec, unsigned pos)
{
	int64_t v = INT64_MIN;

	cr_assert_eq(tpc_check_parse_signed(rec + pos - 1, 12, &v), 0, "amount at %u: %.12s", pos,
	             rec + pos - 1);
	return v;
}

static int all_bytes(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* The expected amounts of one mutuality (NULL = all), summed from the settlement lines. */
struct sums {
	int64_t req[2], acc[2], rej[2];
	int paid[2];
};

static struct sums sums_of(const char *mut)
{
	struct sums s;

	memset(&s, 0, sizeof(s));
	for (uint32_t i = 0; i < st.nlines; i++) {
		const tpc_settled_line_t *l = &st.lines[i];

		if (mut && memcmp(l->mutuality, mut, 3) != 0)
			continue;
		s.req[l->account] += l->requested_cents;
		s.acc[l->account] += l->accepted_cents;
		s.rej[l->account] += l->requested_cents - l->accepted_cents;
		s.paid[l->account] |= l->paid_cents != 0;
	}
	return s;
}

/* Every amount zone of the ET91/ET92 @p r equals @p s, and every error field is "00". */
static void check_amounts(const char *r, const struct sums *s, int is92)
{
	static const unsigned errs[] = {3,  8,   22,  36,  50,  64,  74,  78,
	                                92, 106, 120, 134, 148, 162, 186, 210};

	cr_assert_eq(amount(r, 24), s->req[0], "requested A");
	cr_assert_eq(amount(r, 38), s->req[1], "requested B");
	cr_assert_eq(amount(r, 52), s->req[0] + s->req[1], "requested A+B");
	cr_assert_eq(amount(r, 80), s->acc[0], "accepted A");
	cr_assert_eq(amount(r, 94), s->rej[0], "rejected A");
	cr_assert_eq(amount(r, 108), s->acc[1], "accepted B");
	cr_assert_eq(amount(r, 122), s->rej[1], "rejected B");
	cr_assert_eq(amount(r, 136), s->acc[0] + s->acc[1], "total accepted");
	cr_assert_eq(amount(r, 150), s->rej[0] + s->rej[1], "total rejected");
	for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
		if (!is92 || errs[k] < 164)
			cr_assert_eq(memcmp(r + errs[k] - 1, "00", 2), 0, "error field at %u: %.2s",
			             errs[k], r + errs[k] - 1);
	/* the sender's summary-invoice number and control are not in the stored answer */
	cr_assert(all_bytes(r + 9, 12, '0'), "10-21: %.12s", r + 9);
	cr_assert(all_bytes(r + 75, 2, '0'), "76-77: %.2s", r + 75);
}

/* ---- the answer ---------------------------------------------------------------------------- */

Test(efact_settlement, descriptor_has_the_callback)
{
	cr_assert(tpc_efact_adapter.encode_settlement == tpc_efact_encode_settlement_);
}

Test(efact_settlement, the_result_echoes_only_the_frames_and_the_line_in_error)
{
	result(0);
	for (uint32_t k = 0; k < N800; k++)
		cr_assert_eq(
		    memcmp(echo(answer, k),
		           file + TPC_EFACT_HEADER + (size_t)(echo_ord[k] - 1) * TPC_EFACT_RECORD,
		           TPC_EFACT_RECORD),
		    0, "echo %u is record %u", k, echo_ord[k]);
}

Test(efact_settlement, echo_typed_920900_with_the_amount_paid_on_each_et50_and_et80)
{
	static const int64_t paid_80[3] = {2400 + 3920, 0, 1200};
	uint8_t *before;
	tpc_blob_t b;
	efr_answer_t r;
	char why[160] = "";
	uint32_t inv = 0;

	result(0);
	before = variant(alen, 0, NULL);
	cr_assert_eq(settle(&b), 0);
	cr_assert_eq(memcmp(answer, before, alen), 0, "the stored answer is left alone");
	free(before);
	cr_assert_str_eq(b.type, "920900");
	cr_assert_eq(b.len, SETTLED_LEN, "677 + (9 + 2 + 1) x 800: %zu", b.len);
	cr_assert_eq(memcmp(b.ptr, "920900", 6), 0);
	cr_assert_eq(memcmp(b.ptr + 6, answer + 6, TPC_EFACT_SEG200 - 6), 0, "rest of 200 echoed");
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200, answer + TPC_EFACT_SEG200, 140), 0);
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 140, "00000", 5), 0, "141-145: 00000");
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 145, answer + TPC_EFACT_SEG200 + 145,
	                    TPC_EFACT_SEG300_ANSWER - 145),
	             0, "the rest of 300 echoed");
	for (uint32_t k = 0; k < N800; k++) {
		const char *e = echo(b.ptr, k), *a = echo(answer, k);

		if (memcmp(a, "50", 2) != 0 && memcmp(a, "80", 2) != 0) {
			cr_assert_eq(memcmp(e, a, 800), 0, "echo %u copied", k);
			continue;
		}
		cr_assert_eq(memcmp(e, a, 477), 0, "echo %u: 1-477 copied", k);
		cr_assert_eq(memcmp(e + 489, a + 489, 800 - 489), 0, "echo %u: 490-800 copied", k);
		if (memcmp(a, "80", 2) == 0)
			cr_assert_eq(amount(e, 478), paid_80[inv++], "ET80 %u: %.12s", k, e + 477);
		else
			cr_assert_eq(amount(e, 478), 0, "the refused line: nothing paid");
	}
	cr_assert_eq(inv, 3);
	cr_assert_eq(memcmp(echo(b.ptr, 6) + 456, "R500403", 7), 0, "%.7s", echo(b.ptr, 6) + 456);
	cr_assert_eq(memcmp(summary(&b, 0), "91", 2), 0);
	cr_assert_eq(memcmp(summary(&b, 1), "91", 2), 0);
	cr_assert_eq(memcmp(summary(&b, 2), "92", 2), 0);
	/* a client reads it: 800-character records, no 95/96 */
	cr_assert_eq(efr_parse(b.ptr, b.len, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r.nrec, N800 + NMUT + 1);
	cr_assert_eq(r.share, 0);
	efr_release(&r);
}

Test(efact_settlement, one_et91_per_mutuality_ascending_with_its_sums)
{
	static const char *muts[NMUT] = {"300", "600"};
	static const uint32_t records[NMUT] = {5 + 3, 4}; /* ET20..ET80 of their invoices */
	tpc_blob_t b;

	result(0);
	cr_assert_eq(settle(&b), 0);
	for (uint32_t i = 0; i < NMUT; i++) {
		const char *r = summary(&b, i);
		struct sums s = sums_of(muts[i]);
		char count[9];

		cr_assert_eq(memcmp(r, "9100", 4), 0);
		cr_assert_eq(memcmp(r + 4, muts[i], 3), 0, "ET91 %u: mutuality %.3s", i, r + 4);
		snprintf(count, sizeof(count), "%08u", records[i]);
		cr_assert_eq(memcmp(r + 65, count, 8), 0, "record count %.8s", r + 65);
		check_amounts(r, &s, 0);
		cr_assert(all_bytes(r + 211, 275 - 211, ' '), "ET91 %u: 212-275 blank", i);
		cr_assert(all_bytes(r + 275, 800 - 275, '0'), "ET91 %u: reserve 276-800 zeros", i);
	}
	/* the same, to the cent, without the helper */
	cr_assert_eq(amount(summary(&b, 0), 24), 2400 + 1234);
	cr_assert_eq(amount(summary(&b, 0), 38), 3920);
	cr_assert_eq(amount(summary(&b, 0), 80), 2400 + 1234);
	cr_assert_eq(amount(summary(&b, 0), 94), 0);
	cr_assert_eq(amount(summary(&b, 0), 108), 3920);
	cr_assert_eq(amount(summary(&b, 0), 122), 0);
	cr_assert_eq(amount(summary(&b, 1), 24), 999);
	cr_assert_eq(amount(summary(&b, 1), 38), 1500);
	cr_assert_eq(amount(summary(&b, 1), 52), 2499);
	cr_assert_eq(amount(summary(&b, 1), 80), 0);
	cr_assert_eq(amount(summary(&b, 1), 94), 999, "the refused line");
	cr_assert_eq(amount(summary(&b, 1), 108), 1200);
	cr_assert_eq(amount(summary(&b, 1), 122), 300, "1500 requested, 1200 accepted");
	cr_assert_eq(amount(summary(&b, 1), 136), 1200);
	cr_assert_eq(amount(summary(&b, 1), 150), 1299);
	cr_assert_eq(memcmp(summary(&b, 1) + 79, "+00000000000", 12), 0, "sign + 11 digits");
}

Test(efact_settlement, et91s_ascend_whatever_the_order_of_the_invoices)
{
	uint8_t *v;
	tpc_blob_t b;

	result(0);
	/* invoice 3 names mutuality 100 (trailer 368-370 of its ET20), its lines too */
	v = variant(alen, HEAD + 5 * 800 + 368, "100");
	memcpy(lines[3].mutuality, "100", 4);
	memcpy(lines[4].mutuality, "100", 4);
	cr_assert_eq(settle_buf(v, alen, &st, &b), 0);
	cr_assert_eq(memcmp(summary(&b, 0) + 4, "100", 3), 0, "%.3s", summary(&b, 0) + 4);
	cr_assert_eq(amount(summary(&b, 0), 150), 1299);
	cr_assert_eq(memcmp(summary(&b, 1) + 4, "300", 3), 0, "%.3s", summary(&b, 1) + 4);
	cr_assert_eq(amount(summary(&b, 1), 24), 2400 + 1234);
	cr_assert_eq(memcmp(summary(&b, NMUT) + 4, "199", 3), 0, "the lowest federation + 99");
	free(v);
}

Test(efact_settlement, et92_holds_the_sum_of_the_et91s)
{
	static const unsigned zones[] = {24, 38, 52, 80, 94, 108, 122, 136, 150};
	tpc_blob_t b;
	const char *r;
	struct sums all;

	result(0);
	cr_assert_eq(settle(&b), 0);
	r = summary(&b, NMUT);
	cr_assert_eq(memcmp(r, "9200", 4), 0);
	cr_assert_eq(memcmp(r + 4, "399", 3), 0, "federation digit + 99, as a 96: %.3s", r + 4);
	cr_assert_eq(memcmp(r + 65, "00000014", 8), 0, "records ET10..ET90: %.8s", r + 65);
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		int64_t sum = 0;

		for (uint32_t i = 0; i < NMUT; i++)
			sum += amount(summary(&b, i), zones[z]);
		cr_assert_eq(amount(r, zones[z]), sum, "ET92 zone at %u", zones[z]);
	}
	all = sums_of(NULL);
	check_amounts(r, &all, 1);
	cr_assert_eq(amount(r, 52), 2400 + 3920 + 1234 + 999 + 1500);
	cr_assert_eq(amount(r, 136), 2400 + 3920 + 1234 + 1200);
	cr_assert_eq(amount(r, 150), 999 + 300);
	cr_assert(all_bytes(r + 163, 800 - 163, '0'), "ET92: reserve 164-800 zeros");
}

Test(efact_settlement, payment_references_on_the_accounts_this_payment_paid)
{
	tpc_blob_t b;
	char ref[23];

	snprintf(ref, sizeof(ref), "%-22s", PAYREF);
	result(0);
	cr_assert_eq(settle(&b), 0);
	/* 300: paid on A (line 0) and B (line 1) */
	cr_assert_eq(memcmp(summary(&b, 0) + 163, ref, 22), 0, "%.22s", summary(&b, 0) + 163);
	cr_assert_eq(memcmp(summary(&b, 0) + 187, ref, 22), 0, "%.22s", summary(&b, 0) + 187);
	/* 600: nothing paid on A (line 3 refused), B paid (line 4) */
	cr_assert(all_bytes(summary(&b, 1) + 163, 22, ' '), "%.22s", summary(&b, 1) + 163);
	cr_assert_eq(memcmp(summary(&b, 1) + 187, ref, 22), 0, "%.22s", summary(&b, 1) + 187);

	/* 22 characters fill the zone */
	st.payment_reference = "ABCDEFGHIJKLMNOPQRSTUV";
	cr_assert_eq(settle(&b), 0);
	cr_assert_eq(memcmp(summary(&b, 0) + 163, "ABCDEFGHIJKLMNOPQRSTUV00", 24), 0);
	/* no reference: spaces */
	st.payment_reference = NULL;
	cr_assert_eq(settle(&b), 0);
	cr_assert(all_bytes(summary(&b, 0) + 163, 22, ' '));
}

Test(efact_settlement, from_a_920099_nothing_is_paid)
{
	tpc_blob_t b;

	result(1);
	cr_assert_eq(memcmp(answer, "920099", 6), 0);
	cr_assert_eq(settle(&b), 0);
	cr_assert_str_eq(b.type, "920900");
	cr_assert_eq(b.len, SETTLED_LEN);
	for (uint32_t k = 0; k < N800; k++)
		if (memcmp(echo(b.ptr, k), "50", 2) == 0 || memcmp(echo(b.ptr, k), "80", 2) == 0)
			cr_assert_eq(amount(echo(b.ptr, k), 478), 0, "echo %u", k);
	cr_assert_eq(amount(summary(&b, NMUT), 136), 0);
	cr_assert_eq(amount(summary(&b, NMUT), 150), 2400 + 3920 + 1234 + 999 + 1500);
	cr_assert(all_bytes(summary(&b, 0) + 163, 22, ' '));
	cr_assert(all_bytes(summary(&b, 0) + 187, 22, ' '));
}

/* ---- with the payload ---------------------------------------------------------------------- */

enum { N_WITH = N800 + 4 };

/* the place in the sending of each record of the 920900 built with the payload */
static const uint32_t with_ord[N_WITH] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14};

static int settle_with(const uint8_t *pl, size_t n, tpc_blob_t *b)
{
	memset(b, 0, sizeof(*b));
	return tpc_efact_adapter.encode_settlement(NULL, answer, alen, pl, n, &st, &host, b);
}

/* Record @p ord (1-based) of the 920000. */
static const char *sent(uint32_t ord)
{
	return (const char *)file + TPC_EFACT_HEADER + (size_t)(ord - 1) * TPC_EFACT_RECORD;
}

/* A malloc'd copy of the 920000 with @p s at 1-based position @p pos of record @p ord. */
static uint8_t *payload_variant(uint32_t ord, size_t pos, const char *s)
{
	uint8_t *v = malloc(flen);

	cr_assert_not_null(v);
	memcpy(v, file, flen);
	memcpy(v + TPC_EFACT_HEADER + (size_t)(ord - 1) * TPC_EFACT_RECORD + pos - 1, s, strlen(s));
	return v;
}

Test(efact_settlement, with_the_payload_it_echoes_the_records_it_settles)
{
	/* the added records: place, index within the invoice, amount paid (-1: no amount) */
	static const struct {
		uint32_t ord, index;
		int64_t paid;
		const char *mut;
	} added[] = {
	    {3, 2, 2400, "300"}, {4, 3, -1, "300"}, {5, 4, 3920, "300"}, {12, 3, 1200, "600"}};
	tpc_blob_t b, old;
	efr_answer_t r;
	char why[160] = "", ref[23];
	uint32_t a = 0, e = 0;

	result(0);
	cr_assert_eq(settle_with(file, flen, &b), 0);
	cr_assert_eq(b.len, (size_t)HEAD + (N_WITH + NMUT + 1) * 800, "%zu", b.len);
	cr_assert_eq(settle(&old), 0);
	cr_assert_eq(memcmp(b.ptr, old.ptr, HEAD), 0, "segments 200 and 300 as without it");
	for (uint32_t k = 0; k < N_WITH; k++) {
		const char *x = echo(b.ptr, k);

		cr_assert_eq(memcmp(x, sent(with_ord[k]), 350), 0, "record %u is %u as sent", k,
		             with_ord[k]);
		if (a < 4 && added[a].ord == with_ord[k]) {
			const char *p = x + 350;

			snprintf(ref, sizeof(ref), "007/202611/%s/%06u", added[a].mut,
			         added[a].ord);
			cr_assert_eq(memcmp(p + 11, "202611", 6), 0, "362-367: %.6s", p + 11);
			cr_assert_eq(memcmp(p + 17, added[a].mut, 3), 0, "368-370");
			cr_assert_eq(memcmp(x + 394, "018334780004", 12), 0, "395-406: %.12s",
			             x + 394);
			cr_assert_eq(memcmp(x + 406, "110110", 6), 0, "CT1/CT2: %.6s", x + 406);
			cr_assert_eq(memcmp(x + 412, ref, strlen(ref)), 0, "413-434: %.22s",
			             x + 412);
			cr_assert(all_bytes(x + 434, 22, ' '), "no account B reference");
			cr_assert_eq(memcmp(x + 456, " 000000 000000 000000", 21), 0, "no error");
			if (added[a].paid < 0)
				cr_assert(all_bytes(x + 477, 12, '0'), "ET51: no amount");
			else
				cr_assert_eq(amount(x, 478), added[a].paid, "paid on %u",
				             added[a].ord);
			snprintf(ref, sizeof(ref), "%06u", added[a].index);
			cr_assert_eq(memcmp(x + 794, ref, 6), 0, "795-800: %.6s", x + 794);
			a++;
			continue;
		}
		/* a record of the echo: as the payment without the payload writes it */
		cr_assert_eq(memcmp(x, echo(old.ptr, e), 800), 0, "echo %u copied", e);
		e++;
	}
	cr_assert_eq(a, 4);
	cr_assert_eq(e, N800);
	/* the reader lists the ET50s: paid ones are exactly the lines this payment paid, the
	 * others exactly the records in error */
	cr_assert_eq(efr_parse(b.ptr, b.len, &r, why, sizeof(why)), 0, "%s", why);
	{
		uint32_t seq[8], nseq = 0;

		for (uint32_t k = 0; k < r.nrec; k++)
			if (r.rec[k].type == 50 && r.rec[k].has_amount && r.rec[k].amount)
				seq[nseq++] = r.rec[k].seq;
			else if (r.rec[k].type == 50)
				cr_assert_eq(r.rec[k].nslots, 1, "an unpaid ET50 is one in error");
		cr_assert_eq(nseq, 3);
		cr_assert(seq[0] == 3 && seq[1] == 5 && seq[2] == 12, "%u %u %u", seq[0], seq[1],
		          seq[2]);
	}
	efr_release(&r);
}

Test(efact_settlement, with_the_payload_the_et91s_repeat_the_senders_95_and_96)
{
	tpc_blob_t b;

	result(0);
	cr_assert_eq(settle_with(file, flen, &b), 0);
	for (uint32_t i = 0; i <= NMUT; i++) {
		const char *x = echo(b.ptr, N_WITH + i), *s = sent(15 + i);

		cr_assert_eq(memcmp(x, i < NMUT ? "91" : "92", 2), 0);
		cr_assert_eq(memcmp(x + 9, s + 9, 12), 0, "10-21: %.12s", x + 9);
		cr_assert_eq(memcmp(x + 75, s + 75, 2), 0, "76-77: %.2s / %.2s", x + 75, s + 75);
		cr_assert(!all_bytes(x + 75, 2, '0'), "a real control");
	}
}

Test(efact_settlement, with_the_payload_only_this_payments_lines)
{
	tpc_blob_t b;

	result(0);
	/* another payment of the run paid line 2 (record 8) alone */
	for (uint32_t i = 0; i < NLINES; i++)
		lines[i].paid_cents = i == 2 ? 1234 : 0;
	cr_assert_eq(settle_with(file, flen, &b), 0);
	cr_assert_eq(b.len, (size_t)HEAD + (N800 + 1 + NMUT + 1) * 800, "%zu", b.len);
	cr_assert_eq(memcmp(echo(b.ptr, 4), sent(8), 350), 0, "record 8 between 7 and 9");
	cr_assert_eq(amount(echo(b.ptr, 4), 478), 1234);
	cr_assert_eq(amount(echo(b.ptr, 5), 478), 1234, "its ET80");
}

Test(efact_settlement, refuses_a_payload_that_is_not_the_sending)
{
	static const struct {
		uint32_t ord;
		size_t pos;
		const char *text, *why;
	} others[] = {
	    {11, 140, "X", "an echoed record differs"},
	    {1, 33, "008", "another sending's ET10"},
	    {3, 1, "30", "a paid line is no ET50"},
	};
	tpc_blob_t b;
	uint8_t *v;

	result(0);
	cr_assert_eq(settle_with(file, flen - 1, &b), TPC_ADAPTER_EINVAL, "a byte short");
	cr_assert_eq(settle_with(file, TPC_EFACT_HEADER - 1, &b), TPC_ADAPTER_EINVAL);
	cr_assert_eq(settle_with(file, flen - 4 * TPC_EFACT_RECORD, &b), TPC_ADAPTER_EINVAL,
	             "no ET90");
	cr_assert_eq(settle_with(answer, alen, &b), TPC_ADAPTER_EINVAL, "the answer itself");
	v = payload_variant(1, 1, "1");
	memcpy(v, "920001", 6);
	cr_assert_eq(settle_with(v, flen, &b), TPC_ADAPTER_EINVAL, "not a 920000");
	free(v);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		v = payload_variant(others[i].ord, others[i].pos, others[i].text);
		cr_assert_eq(settle_with(v, flen, &b), TPC_ADAPTER_EINVAL, "%s", others[i].why);
		free(v);
	}
	/* a record nobody settles may differ: it is not echoed */
	v = payload_variant(8, 140, "X");
	cr_assert_eq(settle_with(v, flen, &b), 0);
	free(v);
}

/* ---- refusals ------------------------------------------------------------------------------ */

Test(efact_settlement, refuses_what_is_not_a_920098_or_920099)
{
	static const char noise[] = "this is not an eFact answer at all";
	tpc_blob_t b;
	uint8_t *v;

	result(0);
	cr_assert_eq(settle_buf(NULL, alen, &st, &b), TPC_ADAPTER_EINVAL);
	cr_assert_eq(settle_buf(answer, 0, &st, &b), TPC_ADAPTER_EINVAL);
	cr_assert_eq(settle_buf((const uint8_t *)noise, sizeof(noise) - 1, &st, &b),
	             TPC_ADAPTER_EINVAL);
	cr_assert_eq(settle_buf(file, flen, &st, &b), TPC_ADAPTER_EINVAL, "the 920000 itself");
	cr_assert_eq(settle_buf(answer, HEAD, &st, &b), TPC_ADAPTER_EINVAL, "header alone");
	/* type */
	cr_assert_eq(refused_variant(alen, 1, "920999"), TPC_ADAPTER_EINVAL);
	cr_assert_eq(refused_variant(alen, 1, "931000"), TPC_ADAPTER_EINVAL);
	cr_assert_eq(refused_variant(alen, 1, "920900"), TPC_ADAPTER_EINVAL, "a settlement");
	/* length arithmetic */
	cr_assert_eq(refused_variant(alen - 1, 0, NULL), TPC_ADAPTER_EINVAL, "one byte short");
	cr_assert_eq(refused_variant(alen + 1, 0, NULL), TPC_ADAPTER_EINVAL, "one byte more");
	cr_assert_eq(refused_variant(alen + 350, 0, NULL), TPC_ADAPTER_EINVAL, "a 350 appended");
	cr_assert_eq(refused_variant(alen + 800, alen + 1, "95"), TPC_ADAPTER_EINVAL,
	             "a 95 after the 90");
	cr_assert_eq(refused_variant(alen - 800, 0, NULL), TPC_ADAPTER_EINVAL, "90 missing");
	/* record types and places */
	cr_assert_eq(refused_variant(alen, HEAD + 1, "20"), TPC_ADAPTER_EINVAL, "10 not first");
	cr_assert_eq(refused_variant(alen, HEAD + 8 * 800 + 1, "80"), TPC_ADAPTER_EINVAL,
	             "90 not last");
	cr_assert_eq(refused_variant(alen, HEAD + 4 * 800 + 1, "7X"), TPC_ADAPTER_EINVAL,
	             "unknown record type");
	cr_assert_eq(refused_variant(alen, HEAD + 4 * 800 + 1, "95"), TPC_ADAPTER_EINVAL,
	             "a 95 among the records");
	cr_assert_eq(refused_variant(alen, HEAD + 2 * 800 + 1, "50"), TPC_ADAPTER_EINVAL,
	             "invoice 1 never closed");
	cr_assert_eq(refused_variant(alen, HEAD + 3 * 800 + 1, "50"), TPC_ADAPTER_EINVAL,
	             "a line outside any invoice");
	cr_assert_eq(refused_variant(alen, HEAD + 800 + 368, "3A0"), TPC_ADAPTER_EINVAL,
	             "mutuality of an ET20 not numeric");
	/* our reference at 413-434: the record's place, numeric and increasing */
	cr_assert_eq(refused_variant(alen, HEAD + 2 * 800 + 428, "00000X"), TPC_ADAPTER_EINVAL);
	cr_assert_eq(refused_variant(alen, HEAD + 2 * 800 + 428, "000002"), TPC_ADAPTER_EINVAL,
	             "place not increasing");
	cr_assert_eq(refused_variant(alen, HEAD + 2 * 800 + 413, "                      "),
	             TPC_ADAPTER_EINVAL, "no reference");
	/* the unchanged answer still settles */
	v = variant(alen, 0, NULL);
	cr_assert_eq(settle_buf(v, alen, &st, &b), 0);
	free(v);
}

Test(efact_settlement, refuses_lines_that_do_not_fit_the_echo)
{
	tpc_blob_t b;

	result(0);
	cr_assert_eq(settle_buf(answer, alen, NULL, &b), TPC_ADAPTER_EINVAL);
	st.lines = NULL;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "lines NULL");
	st.lines = lines;
	st.nlines = 0;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "no line for the echoed ET50");
	st.nlines = 3;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "the echoed ET50's line missing");
	st.nlines = NLINES;
	cr_assert_eq(settle(&b), 0);

	/* a line on a record that is no line: ET20, ET80, ET90, past the end */
	lines[0].record = 2;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "the ET20's place");
	lines[0].record = 6;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "the ET80's place");
	lines[0].record = 3;
	lines[4].record = 14;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "the ET90's place");
	lines[4].record = 99;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "past every invoice");
	lines[4].record = 12;
	{
		tpc_settled_line_t t = lines[3];

		lines[3] = lines[4];
		lines[4] = t;
		cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "lines out of order");
		lines[4] = lines[3];
		lines[3] = t;
	}
	cr_assert_eq(settle(&b), 0);

	/* a mutuality other than its invoice's; not numeric; account not A/B */
	memcpy(lines[2].mutuality, "600", 4);
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "invoice 2 is of mutuality 300");
	memcpy(lines[2].mutuality, "3 0", 4);
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL);
	memcpy(lines[2].mutuality, "300", 4);
	lines[2].account = 2;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "account 2");
	lines[2].account = 0;
	cr_assert_eq(settle(&b), 0);
}

Test(efact_settlement, refuses_references_and_amounts_that_do_not_fit)
{
	tpc_blob_t b;

	result(0);
	st.payment_reference = "ABCDEFGHIJKLMNOPQRSTUVW"; /* 23 */
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL);
	st.payment_reference = "RUN42\nPAY";
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "control character");
	st.payment_reference = "RUN42-\xc3\xa9";
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "not ASCII");
	st.payment_reference = PAYREF;

	lines[0].paid_cents = 100000000000LL; /* 12 digits */
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "zone 114");
	lines[0].paid_cents = 99999999999LL;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "paid on invoice 1 over 11 digits");
	lines[0].paid_cents = 2400;
	lines[0].requested_cents = lines[0].accepted_cents = 99999999999LL;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "requested A of 300 over 11 digits");
	lines[0].requested_cents = 99999999999LL - 1234;
	lines[0].accepted_cents = 0;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "requested A+B of 300 over 11 digits");
	lines[0].requested_cents = 99999999999LL - 1234 - 3920;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "requested of the ET92 over 11 digits");
	lines[0].requested_cents = -99999999999LL;
	lines[0].accepted_cents = 99999999999LL - 1234;
	cr_assert_eq(settle(&b), TPC_ADAPTER_EINVAL, "rejected A of 300 over 11 digits");
	lines[0].requested_cents = lines[0].accepted_cents = 2400;
	cr_assert_eq(settle(&b), 0);
}

static void *no_memory(void *arena_, size_t size, size_t align)
{
	(void)arena_;
	(void)size;
	(void)align;
	return NULL;
}

Test(efact_settlement, out_of_memory)
{
	tpc_blob_t b;
	tpc_host_t none = {no_memory, NULL, 0, 0, no_memory};

	result(0);
	memset(&b, 0, sizeof(b));
	cr_assert_eq(
	    tpc_efact_adapter.encode_settlement(NULL, answer, alen, NULL, 0, &st, &none, &b),
	    TPC_ADAPTER_ENOMEM);
	cr_assert_eq(
	    tpc_efact_adapter.encode_settlement(NULL, answer, alen, file, flen, &st, &none, &b),
	    TPC_ADAPTER_ENOMEM);
	cr_assert_null(b.ptr);
}
