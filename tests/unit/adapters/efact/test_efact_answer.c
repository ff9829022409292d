/* tests/unit/adapters/efact/test_efact_answer.c - the native answers of the eFact adapter
 * (adapters/efact/efact_answer.c): the 931000 receipt (segment 200 echoed, 300 naming 920000),
 * the 920098 result of an accepted sending (every record echoed in 800 characters with its
 * trailer, error slots and amount paid, records 95/96 at 350, the error percentage), the same
 * with a refused line, the 920099 of a refused sending and the 920999 of a file blocked at
 * reception (error code after the type, records 95/96 echoed). The answers are encoded from the
 * base sending of tests/support/efact_fixture.h (record ordinals drawn in test_efact.c), decoded
 * and then judged by hand as the engine would.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "common/check.h"
#include "efact/efact.h"
#include "efact_fixture.h"

#define ANSWER_LEN (TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER + 13 * 800 + 3 * 350)

TestSuite(efact_answer, .init = efx_setup, .fini = efx_teardown, .timeout = 120);

static int encode(enum tpc_answer_kind kind, const tpc_sending_t *s, tpc_blob_t *blob)
{
	tpc_host_t host = {tpc_arena_host_alloc, efx.arena, 0, 0};

	memset(blob, 0, sizeof(*blob));
	return tpc_efact_adapter.encode_answer(NULL, efx.file, efx.len, s, kind, &host, blob);
}

/* Judge by hand: every line accepted but @p refuse_line (or all with @p refuse_sending),
 * invoices and the sending from them. */
static void judge(int refuse_line, int refuse_sending)
{
	efx.out.accepted_cents = efx.out.refused_cents = 0;
	for (uint32_t i = 0; i < efx.out.ninvoices; i++) {
		tpc_invoice_t *v = &efx.out.invoices[i];
		int kept = 0;

		v->accepted_cents = v->refused_cents = 0;
		for (uint32_t k = v->first_line; k < v->first_line + v->nlines; k++) {
			tpc_line_t *l = &efx.out.lines[k];
			int refused = refuse_sending || (int)k == refuse_line;

			l->outcome = refused ? TPC_OUTCOME_REFUSED : TPC_OUTCOME_ACCEPTED;
			l->accepted_cents = refused ? 0 : l->insurer_cents;
			v->accepted_cents += l->accepted_cents;
			v->refused_cents += refused ? l->insurer_cents : 0;
			kept += !refused;
		}
		v->outcome = kept ? TPC_OUTCOME_ACCEPTED : TPC_OUTCOME_REFUSED;
		efx.out.accepted_cents += v->accepted_cents;
		efx.out.refused_cents += v->refused_cents;
	}
	efx.out.outcome = refuse_sending ? TPC_OUTCOME_REFUSED : TPC_OUTCOME_ACCEPTED;
}

/* The 800-character echo of record @p k in a 920098/920099 answer. */
static const char *echo(const tpc_blob_t *b, uint32_t k)
{
	return (const char *)b->ptr + TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER +
	       (size_t)(k - 1) * TPC_EFACT_RECORD_ANSWER;
}

static int all_bytes(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

Test(efact_answer, answer_931000_receipt)
{
	tpc_blob_t b;

	cr_assert_eq(encode(TPC_ANSWER_RECEIPT, NULL, &b), 0);
	cr_assert_str_eq(b.type, "931000");
	cr_assert_eq(b.len, TPC_EFACT_HEADER);
	cr_assert_eq(memcmp(b.ptr, "931000", 6), 0);
	cr_assert_eq(memcmp(b.ptr + 6, efx.file + 6, TPC_EFACT_SEG200 - 6), 0,
	             "segment 200 echoed (provider reference at 21-34)");
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200, "920000", 6), 0, "300 names 920000");
	cr_assert(all_bytes((const char *)b.ptr + TPC_EFACT_SEG200 + 6, TPC_EFACT_SEG300 - 6, '0'));
}

Test(efact_answer, answer_920098_clean)
{
	static const char *mut[NREC + 1] = {NULL,  "000", "300", "300", "300", "300", "300",
	                                    "300", "300", "300", "600", "600", "600", "000"};
	static const int64_t paid[NREC + 1] = {
	    [R50A0] = 2400, [R50A1] = 3920, [R50B0] = 1234, [R50C0] = 999};
	tpc_blob_t b;
	const char *s300;

	efx_decode_ok();
	judge(-1, 0);
	cr_assert_eq(efx.out.accepted_cents, TOTAL_A + TOTAL_B);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920098");
	cr_assert_eq(b.len, ANSWER_LEN);
	cr_assert_eq(b.len, TPC_EFACT_SEG200 + 610 + 13 * 800 + 3 * 350,
	             "300 of 610, records 10..90 of 800, 95/96 of 350");
	cr_assert_eq(memcmp(b.ptr, "920098", 6), 0);
	cr_assert_eq(memcmp(b.ptr + 6, efx.file + 6, TPC_EFACT_SEG200 - 6), 0);
	s300 = (const char *)b.ptr + TPC_EFACT_SEG200;
	cr_assert_eq(memcmp(s300, efx.file + TPC_EFACT_SEG200, 140), 0);
	cr_assert_eq(memcmp(s300 + 140, "00000", 5), 0, "error percentage (141-145)");
	cr_assert_eq(memcmp(s300 + 147, "00", 2), 0, "refusal type (148-149)");
	for (uint32_t k = R10; k <= R90; k++) {
		const char *e = echo(&b, k);
		char idx[7], amount[13];

		cr_assert_eq(memcmp(e, efx_rec(k), TPC_EFACT_RECORD), 0, "record %u echoed", k);
		cr_assert_eq(memcmp(e + 350, "007", 3), 0, "record %u: sending no.", k);
		cr_assert_eq(memcmp(e + 353, "20261120", 8), 0, "record %u: creation date", k);
		cr_assert_eq(memcmp(e + 361, "202611", 6), 0, "record %u: invoiced month", k);
		cr_assert_eq(memcmp(e + 367, mut[k], 3), 0, "record %u: mutuality %.3s", k,
		             e + 367);
		cr_assert(all_bytes(e + 456, 21, ' '), "record %u: error slots blank", k);
		if (memcmp(efx_rec(k), "50", 2) == 0) {
			tpc_check_put_signed(amount, 12, paid[k]);
			cr_assert_eq(memcmp(e + 477, amount, 12), 0, "record %u: paid %.12s", k,
			             e + 477);
		}
		tpc_check_put_uint(idx, 6, k);
		cr_assert_eq(memcmp(e + 794, idx, 6), 0, "record %u: index", k);
	}
	for (uint32_t k = R95_300; k <= R96; k++)
		cr_assert_eq(memcmp(echo(&b, R90 + 1) + (size_t)(k - R95_300) * TPC_EFACT_RECORD,
		                    efx_rec(k), TPC_EFACT_RECORD),
		             0, "record %u echoed at 350", k);
}

Test(efact_answer, answer_920098_with_a_refused_line)
{
	tpc_blob_t b;
	const char *e;

	efx_set(R50B0, 68, "010065829004"); /* 501502 R on line B0 */
	efx_decode_ok();
	ONLY("501502", ON_LINE, LB0, 'R', R50B0, 68);
	judge(LB0, 0);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920098");
	cr_assert_eq(b.len, ANSWER_LEN);
	e = echo(&b, R50B0);
	/* positions 457-463: letter + code; then two blank slots */
	cr_assert_eq(e[456], 'R');
	cr_assert_eq(memcmp(e + 457, "501502", 6), 0, "%.7s", e + 456);
	cr_assert(all_bytes(e + 463, 14, ' '));
	cr_assert_eq(memcmp(e + 477, "+00000000000", 12), 0, "nothing paid on the line");
	for (uint32_t k = R10; k <= R90; k++)
		if (k != R50B0)
			cr_assert(all_bytes(echo(&b, k) + 456, 21, ' '), "record %u", k);
	/* 1234 of 8553 refused: 14.42% in hundredths */
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 140, "01442", 5), 0, "%.5s",
	             b.ptr + TPC_EFACT_SEG200 + 140);
	/* the percentage is the sending's refused share: 1000 of 10000 is 10.00% */
	efx.out.accepted_cents = 9000;
	efx.out.refused_cents = 1000;
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 140, "01000", 5), 0, "%.5s",
	             b.ptr + TPC_EFACT_SEG200 + 140);
}

Test(efact_answer, answer_920099_refused)
{
	tpc_blob_t b;

	efx_decode_ok();
	judge(-1, 1);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920099");
	cr_assert_eq(b.len, ANSWER_LEN);
	cr_assert_eq(memcmp(b.ptr, "920099", 6), 0);
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 140, "10000", 5), 0);
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200 + 147, "01", 2), 0);
	cr_assert_eq(memcmp(echo(&b, R50A0) + 477, "+00000000000", 12), 0);
}

Test(efact_answer, answer_920099_blocking_line_finding)
{
	tpc_blob_t b;

	efx_set(R50B0, 10, "1000005"); /* 500404 B on a line: refused after reception */
	efx_decode_ok();
	cr_assert_eq(efx.out.blocked, 0);
	cr_assert(efx_all_invoices_refused());
	judge(-1, 1);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920099");
	cr_assert_eq(echo(&b, R50B0)[456], 'B');
	cr_assert_eq(memcmp(echo(&b, R50B0) + 457, "500404", 6), 0);
}

Test(efact_answer, answer_920999_blocked_at_reception)
{
	tpc_blob_t b;

	efx_set_head(1, "920001");
	efx_decode_ok();
	ONLY("T30003", ON_SENDING, 0, 'B', 0, 1);
	judge(-1, 1);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920999");
	cr_assert_eq(b.len, TPC_EFACT_HEADER + 3 * TPC_EFACT_RECORD);
	cr_assert_eq(memcmp(b.ptr, "92099922", 8), 0, "type then error 22 (not 920000)");
	cr_assert_eq(memcmp(b.ptr + 8, efx.file + 8, TPC_EFACT_HEADER - 8), 0, "200/300 echoed");
	for (uint32_t k = R95_300; k <= R96; k++)
		cr_assert_eq(
		    memcmp(b.ptr + TPC_EFACT_HEADER + (size_t)(k - R95_300) * TPC_EFACT_RECORD,
		           efx_rec(k), TPC_EFACT_RECORD),
		    0, "record %u echoed", k);
	/* a wrong record 95 amount: error 41 after amount A (36-37) of that record's echo */
	efx_build_base();
	efx_add_signed(R95_300, 24, 12, 1);
	efx_decode_ok();
	ONLY("T30008", ON_SENDING, 0, 'B', R95_300, 24);
	judge(-1, 1);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920999");
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_HEADER + 35, "41", 2), 0, "%.2s",
	             b.ptr + TPC_EFACT_HEADER + 35);
	cr_assert_eq(
	    memcmp(b.ptr + TPC_EFACT_HEADER + 37, efx_rec(R95_300) + 37, TPC_EFACT_RECORD - 37), 0,
	    "the rest of the record 95 echoed");
}

Test(efact_answer, answer_920999_et10_blocking)
{
	tpc_blob_t b;

	efx_set(R10, 128, "0999999923"); /* 102702 B on record 10 */
	efx_decode_ok();
	cr_assert_eq(efx.out.blocked, 1);
	judge(-1, 1);
	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, &b), 0);
	cr_assert_str_eq(b.type, "920999");
	cr_assert_eq(memcmp(b.ptr, "92099900", 8), 0);
	cr_assert_eq(b.len, TPC_EFACT_HEADER + 3 * TPC_EFACT_RECORD);
}
