/* tests/unit/adapters/efact/test_efact_answer.c - the native answers of the eFact adapter
 * (adapters/efact/efact_answer.c, efact_trailer.c) in the shape insurers write them
 * (efact-real.md 1): the 931000 receipt; the 920098 of an accepted sending (ET10, each
 * invoice's ET20 and ET80, ET90 and only the detail records in error, 800 characters each,
 * every trailer zone; no 95/96); the 920099 of a sending refused for blocking errors (01) or
 * for its share of errors (02, with that share); the 920999 of a file blocked at reception
 * (only the 95/96 in error, status 40). Every answer is also read back with the independent
 * reader of tests/support/efact_reader.h. The answers are encoded from the base sending of
 * tests/support/efact_fixture.h (record ordinals there), decoded, then judged by the
 * engine's own clearing functions (engine/clearing/clear.h), as a worker does.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clearing/clear.h"
#include "common/check.h"
#include "core/arena.h"
#include "efact/efact.h"
#include "efact_fixture.h"
#include "efact_reader.h"

#define HEAD (TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER)

TestSuite(efact_answer, .init = efx_setup, .fini = efx_teardown, .timeout = 120);

/* The answers' buffers come from host->alloc_uninit (adapter.h, ABI 5): the adapter must write
 * every byte of them. Here that memory is poisoned with a byte no eFact answer holds (they are
 * ASCII), so encode() sees any byte the adapter left unwritten. */
#define POISON 0xa5

static void *alloc_poisoned(void *arena, size_t size, size_t align)
{
	void *p = tpc_arena_host_alloc_uninit(arena, size, align);

	if (p)
		memset(p, POISON, size);
	return p;
}

static int encode(enum tpc_answer_kind kind, const tpc_sending_t *s, tpc_blob_t *blob)
{
	tpc_host_t host = {tpc_arena_host_alloc, efx.arena, 0, 0, alloc_poisoned};
	int rc;

	memset(blob, 0, sizeof(*blob));
	rc = tpc_efact_adapter.encode_answer(NULL, efx.file, efx.len, s, kind, &host, blob);
	if (rc == 0)
		cr_assert_null(
		    memchr(blob->ptr, POISON, blob->len), "answer %s: byte %zu left unwritten",
		    blob->type,
		    (size_t)((const uint8_t *)memchr(blob->ptr, POISON, blob->len) - blob->ptr));
	return rc;
}

/* Judge as a worker does: the findings, then the refusal threshold at @p percent. */
static void judge(unsigned percent)
{
	tpc_host_t host = {tpc_arena_host_alloc, efx.arena, 0, 0, NULL};

	tpc_clear_judge(&efx.out, NULL);
	cr_assert_geq(tpc_clear_threshold(&efx.out, percent, &host, NULL), 0);
}

/* Encode the result of the judged sending, assert its type and read it back. */
static void result(const char *type, tpc_blob_t *b, efr_answer_t *r)
{
	char why[160] = "";

	cr_assert_eq(encode(TPC_ANSWER_RESULT, &efx.out, b), 0);
	cr_assert_str_eq(b->type, type);
	cr_assert_eq(efr_parse(b->ptr, b->len, r, why, sizeof(why)), 0, "unreadable: %s", why);
	cr_assert_str_eq(r->type, type);
}

/* The records a 920098/920099 echoes must be exactly @p ords, in order, each the record as
 * sent in its first 350 characters. */
static void expect_echo(const efr_answer_t *r, const uint32_t *ords, uint32_t n)
{
	cr_assert_eq(r->nrec, n, "%u records echoed, %u expected", r->nrec, n);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(memcmp(r->rec[i].raw, efx_rec(ords[i]), TPC_EFACT_RECORD), 0,
		             "echo %u is record %u as sent", i, ords[i]);
}

static int all_bytes(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* The trailer of an echoed invoice record: zones from its ET20 @p et20, our reference. */
static void expect_trailer(const efr_record_t *e, uint32_t ord, uint32_t et20, uint32_t index)
{
	const char *h = efx_rec(et20);
	char ref[23];

	cr_assert_str_eq(e->month, "202611", "record %u", ord);
	cr_assert_eq(memcmp(e->mutuality, h + 84, 3), 0, "record %u: mutuality %s", ord,
	             e->mutuality);
	cr_assert_eq(memcmp(e->third_party, h + 55, 12), 0, "record %u: %s", ord, e->third_party);
	cr_assert_eq(memcmp(e->ct1, h + 131, 3), 0, "record %u: CT1 %s", ord, e->ct1);
	cr_assert_eq(memcmp(e->ct2, h + 134, 3), 0, "record %u: CT2 %s", ord, e->ct2);
	snprintf(ref, sizeof(ref), "007/202611/%.3s/%06u ", h + 84, ord);
	cr_assert_str_eq(e->ref_a, ref, "record %u: our reference", ord);
	cr_assert(all_bytes(e->ref_b, 22, ' '), "record %u: no account B: '%s'", ord, e->ref_b);
	cr_assert_eq(e->index, index, "record %u: index %u in its invoice", ord, e->index);
	/* empty slots are written " 000000" */
	for (unsigned k = e->nslots; k < 3; k++)
		cr_assert_eq(memcmp(e->raw + 456 + 7 * k, " 000000", 7), 0, "record %u slot %u",
		             ord, k);
}

static int64_t zone114(const efr_record_t *e)
{
	int64_t v = INT64_MIN;

	cr_assert_eq(tpc_check_parse_signed(e->raw + 477, 12, &v), 0, "%.12s", e->raw + 477);
	return v;
}

Test(efact_answer, answer_931000_receipt)
{
	tpc_blob_t b;
	efr_answer_t r;

	cr_assert_eq(encode(TPC_ANSWER_RECEIPT, NULL, &b), 0);
	cr_assert_str_eq(b.type, "931000");
	cr_assert_eq(b.len, TPC_EFACT_HEADER);
	cr_assert_eq(memcmp(b.ptr, "931000", 6), 0);
	cr_assert_eq(memcmp(b.ptr + 6, efx.file + 6, TPC_EFACT_SEG200 - 6), 0,
	             "segment 200 echoed (provider reference at 21-34)");
	cr_assert_eq(memcmp(b.ptr + TPC_EFACT_SEG200, "920000", 6), 0, "300 names 920000");
	cr_assert(all_bytes((const char *)b.ptr + TPC_EFACT_SEG200 + 6, TPC_EFACT_SEG300 - 6, '0'));
	cr_assert_eq(efr_parse(b.ptr, b.len, &r, NULL, 0), 0);
	efr_release(&r);
}

Test(efact_answer, answer_920098_clean_echoes_the_frames_only)
{
	static const uint32_t ords[] = {R10, R20A, R80A, R20B, R80B, R20C, R80C, R90};
	tpc_blob_t b;
	efr_answer_t r;

	efx_decode_ok();
	judge(5);
	cr_assert_eq(efx.out.accepted_cents, TOTAL_A + TOTAL_B);
	result("920098", &b, &r);
	cr_assert_eq(b.len, HEAD + 8 * 800, "677 + 8 x 800, no 95/96: %zu", b.len);
	cr_assert_eq(memcmp(b.ptr + 6, efx.file + 6, TPC_EFACT_SEG200 - 6), 0);
	cr_assert_eq(memcmp(r.s300, efx.file + TPC_EFACT_SEG200, 140), 0);
	cr_assert_eq(r.share, 0, "share of errors (141-145)");
	cr_assert_str_eq(r.refusal, "00", "refusal type (148-149)");
	expect_echo(&r, ords, 8);
	cr_assert_eq(r.rec[0].filler, '1', "ET10 trailer all 1s");
	cr_assert_eq(r.rec[7].filler, '9', "ET90 trailer all 9s");
	expect_trailer(&r.rec[1], R20A, R20A, 1);
	expect_trailer(&r.rec[2], R80A, R20A, R80A - R20A + 1);
	expect_trailer(&r.rec[3], R20B, R20B, 1);
	expect_trailer(&r.rec[4], R80B, R20B, 3);
	expect_trailer(&r.rec[6], R80C, R20C, 3);
	cr_assert_str_eq(r.rec[4].ct1, "111", "invoice B's CT1");
	cr_assert_str_eq(r.rec[6].mutuality, "600");
	for (uint32_t i = 1; i < 7; i++)
		cr_assert_eq(r.rec[i].nslots, 0, "record %u carries no error", ords[i]);
	/* the accepted amount of each invoice on its ET80 (zone 114) */
	cr_assert_eq(zone114(&r.rec[2]), 2400 + 3920, "%.12s", r.rec[2].raw + 477);
	cr_assert_eq(zone114(&r.rec[4]), 1234);
	cr_assert_eq(zone114(&r.rec[6]), 999);
	efr_release(&r);
}

Test(efact_answer, account_b_reference_when_the_sending_uses_account_b)
{
	tpc_blob_t b;
	efr_answer_t r;

	/* code indice: account B used, its BIC and IBAN in ET10 and ET90 (100314 / 100316) */
	efx_set(R10, 9, "1");
	efx_set(R10, 219, "GEBABEBB   ");
	efx_set(R10, 271, "BE10001232152604                  ");
	efx_set(R90, 219, "GEBABEBB   ");
	efx_set(R90, 271, "BE10001232152604                  ");
	efx_decode_ok();
	cr_assert_eq(efx_total_findings(), 0, "findings:%s", efx_listing());
	judge(5);
	result("920098", &b, &r);
	cr_assert_str_eq(r.rec[1].ref_b, r.rec[1].ref_a, "'%s'", r.rec[1].ref_b);
	efr_release(&r);
}

Test(efact_answer, answer_920098_echoes_the_line_in_error)
{
	static const uint32_t ords[] = {R10, R20A, R80A, R20B, R50B0, R80B, R20C, R80C, R90};
	tpc_blob_t b;
	efr_answer_t r;

	efx_set(R50B0, 68, "010065829004"); /* 501502 R on line B0 */
	efx_decode_ok();
	ONLY("501502", ON_LINE, LB0, 'R', R50B0, 68);
	judge(100);
	result("920098", &b, &r);
	cr_assert_eq(b.len, HEAD + 9 * 800);
	expect_echo(&r, ords, 9);
	cr_assert_eq(r.rec[4].nslots, 1);
	cr_assert_eq(r.rec[4].slots[0].letter, 'R');
	cr_assert_str_eq(r.rec[4].slots[0].code, "501502");
	expect_trailer(&r.rec[4], R50B0, R20B, 2);
	cr_assert_eq(zone114(&r.rec[4]), 0, "nothing accepted on the line");
	cr_assert_eq(zone114(&r.rec[5]), 0, "nor on its invoice");
	/* 1234 of 8553 refused: 14.42 %, truncated */
	cr_assert_eq(efx.out.refused_share, 1442);
	cr_assert_eq(r.share, 1442, "%.5s", r.s300 + 140);
	cr_assert_str_eq(r.refusal, "00");
	efr_release(&r);
	/* the share written is the one the engine judged */
	efx.out.refused_share = 1000;
	result("920098", &b, &r);
	cr_assert_eq(memcmp(r.s300 + 140, "01000", 5), 0);
	efr_release(&r);
}

Test(efact_answer, an_et51_in_error_is_echoed_with_its_index)
{
	tpc_blob_t b;
	efr_answer_t r;

	tpc_finding_t *f;

	/* 510412 (not the code of its ET50) on line A0, found on its ET51, as the decoder files
	 * it; set by hand so the controls of ET80, ET90 and 95/96 stay right */
	efx_decode_ok();
	f = &efx.out.lines[LA0].findings[efx.out.lines[LA0].nfindings++];
	memset(f, 0, sizeof(*f));
	memcpy(f->code, "510412", 7);
	f->letter = 'R';
	f->record = R51A0;
	judge(100);
	result("920098", &b, &r);
	cr_assert_eq(r.nrec, 9);
	cr_assert_eq(r.rec[2].type, 51);
	cr_assert_eq(memcmp(r.rec[2].raw, efx_rec(R51A0), 350), 0);
	cr_assert_str_eq(r.rec[2].slots[0].code, "510412");
	expect_trailer(&r.rec[2], R51A0, R20A, 3);
	cr_assert_eq(efr_find(&r, 50, 0), -1, "its ET50 carries no error: not echoed");
	efr_release(&r);
}

Test(efact_answer, refused_only_for_its_share_says_02_with_that_share)
{
	tpc_blob_t b;
	efr_answer_t r;

	efx_set(R50B0, 68, "010065829004"); /* 501502 R: 14.42 % refused, above 5 % */
	efx_decode_ok();
	judge(5);
	cr_assert_eq(efx.out.outcome, TPC_OUTCOME_REFUSED);
	result("920099", &b, &r);
	cr_assert_eq(r.share, 1442, "the share the threshold judged, not 100 %%: %.5s",
	             r.s300 + 140);
	cr_assert_str_eq(r.refusal, "02", "over the threshold, not blocking errors");
	cr_assert_eq(r.nrec, 9, "the line in error echoed");
	cr_assert_eq(zone114(&r.rec[2]), 0, "nothing accepted on invoice A");
	efr_release(&r);
}

Test(efact_answer, every_line_refused_by_its_own_errors_says_02)
{
	tpc_blob_t b;
	efr_answer_t r;

	efx_decode_ok();
	for (uint32_t i = 0; i < efx.out.nlines; i++) {
		tpc_line_t *l = &efx.out.lines[i];
		tpc_finding_t *f = &l->findings[l->nfindings++];

		memset(f, 0, sizeof(*f));
		memcpy(f->code, "500403", 7);
		f->letter = 'R';
		f->record = l->record;
	}
	judge(100);
	result("920099", &b, &r);
	cr_assert_eq(r.share, 10000);
	cr_assert_str_eq(r.refusal, "02");
	cr_assert_eq(r.nrec, 8 + 4, "ET10/20/80/90 and the four lines");
	efr_release(&r);
}

Test(efact_answer, refused_for_a_blocking_error_says_01)
{
	tpc_blob_t b;
	efr_answer_t r;
	int k;

	efx_set(R50B0, 10, "1000005"); /* 500404 B on a line: refused after reception */
	efx_decode_ok();
	cr_assert_eq(efx.out.blocked, 0);
	cr_assert(efx_all_invoices_refused());
	judge(5);
	result("920099", &b, &r);
	cr_assert_str_eq(r.refusal, "01");
	cr_assert_eq(r.share, 10000);
	k = efr_find(&r, 50, 0);
	cr_assert_geq(k, 0);
	cr_assert_eq(r.rec[k].slots[0].letter, 'B');
	cr_assert_str_eq(r.rec[k].slots[0].code, "500404");
	efr_release(&r);
}

Test(efact_answer, answer_920999_blocked_at_reception)
{
	tpc_blob_t b;
	efr_answer_t r;

	efx_set_head(1, "920001");
	efx_decode_ok();
	ONLY("T30003", ON_SENDING, 0, 'B', 0, 1);
	judge(5);
	result("920999", &b, &r);
	cr_assert_eq(b.len, TPC_EFACT_HEADER, "no 95/96 in error: 200 + 300 alone");
	cr_assert_eq(memcmp(b.ptr, "92099922", 8), 0, "type then error 22 (not 920000)");
	cr_assert_str_eq(r.status, "40", "message status (17-18)");
	cr_assert_eq(memcmp(b.ptr + 8, efx.file + 8, 8), 0);
	cr_assert_eq(memcmp(b.ptr + 18, efx.file + 18, TPC_EFACT_HEADER - 18), 0, "200/300 echoed");
	efr_release(&r);

	/* a wrong record 95 amount: that record alone, error 41 after amount A (36-37) */
	efx_build_base();
	efx_add_signed(R95_300, 24, 12, 1);
	efx_decode_ok();
	ONLY("T30008", ON_SENDING, 0, 'B', R95_300, 24);
	judge(5);
	result("920999", &b, &r);
	cr_assert_eq(b.len, TPC_EFACT_HEADER + TPC_EFACT_RECORD, "227 + 1 x 350");
	cr_assert_eq(r.nrec, 1);
	cr_assert_eq(r.rec[0].type, 95);
	cr_assert_eq(r.rec[0].nzone_errors, 1);
	cr_assert_eq(r.rec[0].zone_errors[0].pos, 36);
	cr_assert_str_eq(r.rec[0].zone_errors[0].value, "41");
	cr_assert_eq(memcmp(r.rec[0].raw, efx_rec(R95_300), 35), 0);
	cr_assert_eq(memcmp(r.rec[0].raw + 37, efx_rec(R95_300) + 37, TPC_EFACT_RECORD - 37), 0,
	             "the rest of the record 95 echoed");
	efr_release(&r);
}

Test(efact_answer, answer_920999_et10_blocking)
{
	tpc_blob_t b;
	efr_answer_t r;

	efx_set(R10, 128, "0999999923"); /* 102702 B on record 10 */
	efx_decode_ok();
	cr_assert_eq(efx.out.blocked, 1);
	judge(5);
	result("920999", &b, &r);
	cr_assert_eq(memcmp(b.ptr, "92099900", 8), 0);
	cr_assert_eq(b.len, TPC_EFACT_HEADER, "no 95/96 in error");
	efr_release(&r);
}

/* Record 95/96 zone errors of the T-codes issue 13 left without one: amount C (T30017, error 40
 * after it, 92-93) and the mutuality of the 96 (T30019, error 20 after it, 8-9). */
Test(efact_answer, answer_920999_amount_c_and_96_mutuality)
{
	static const struct {
		uint32_t rec;
		uint16_t pos;
		const char *text, *code;
		unsigned err_pos;
		const char *err;
	} cases[] = {
	    {R95_300, 80, "X00000000000", "T30017", 92, "40"},
	    {R96, 80, "+0000000001-", "T30017", 92, "40"},
	    {R96, 5, "100", "T30019", 8, "20"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tpc_blob_t b;
		efr_answer_t r;

		efx_build_base();
		efx_set_raw(cases[i].rec, cases[i].pos, cases[i].text);
		efx_decode_ok();
		ONLY(cases[i].code, ON_SENDING, 0, 'B', cases[i].rec, cases[i].pos);
		judge(5);
		result("920999", &b, &r);
		cr_assert_eq(r.nrec, 1, "case %zu", i);
		cr_assert_eq(memcmp(r.rec[0].raw, efx_rec(cases[i].rec), 2), 0);
		cr_assert_eq(r.rec[0].nzone_errors, 1, "case %zu", i);
		cr_assert_eq(r.rec[0].zone_errors[0].pos, cases[i].err_pos, "case %zu", i);
		cr_assert_str_eq(r.rec[0].zone_errors[0].value, cases[i].err, "case %zu", i);
		efr_release(&r);
	}
}

/* A record count that differs (T30018, S, lenient) is on a 95, which no 920098 echoes: the
 * sender sees it in the ET90's error slots. */
Test(efact_answer, a_count_that_differs_shows_in_the_et90_slots)
{
	tpc_blob_t b;
	efr_answer_t r;
	const efr_record_t *e90;

	efx_set_raw(R95_300, 66, "00000099");
	efx_set_raw(R96, 66, "00000098");
	efx_decode_ok();
	cr_assert_eq(efx_total_findings(), 2, "findings:%s", efx_listing());
	judge(5);
	result("920098", &b, &r);
	e90 = &r.rec[r.nrec - 1];
	cr_assert_eq(e90->type, 90);
	cr_assert_eq(e90->nslots, 2);
	for (unsigned k = 0; k < 2; k++) {
		cr_assert_eq(e90->slots[k].letter, 'S');
		cr_assert_str_eq(e90->slots[k].code, "T30018");
	}
	cr_assert(all_bytes(e90->raw + 350, 456 - 350, '9'), "the rest of the trailer: 9s");
	cr_assert_eq(memcmp(e90->raw + 470, " 000000", 7), 0, "the third slot empty");
	cr_assert(all_bytes(e90->raw + 477, 800 - 477, '9'), "after the slots: 9s");
	cr_assert_eq(r.nrec, 8, "ET10, 3 x (ET20, ET80), ET90: no 95/96");
	efr_release(&r);
}

/* ---- the reader itself: what a real client refuses ------------------------------------------ */

Test(efact_answer, reader_refuses_what_real_clients_cannot_read)
{
	tpc_blob_t b;
	efr_answer_t r;
	char why[160];
	uint8_t buf[HEAD + 9 * 800 + 350];

	efx_decode_ok();
	judge(5);
	result("920098", &b, &r);
	efr_release(&r);
	memcpy(buf, b.ptr, b.len);
	/* a 350-character 95 appended, as efact.md 3 once suggested */
	memcpy(buf + b.len, efx_rec(R95_300), 350);
	cr_assert_eq(efr_parse(buf, b.len + 350, &r, why, sizeof(why)), -1);
	/* as an 800-character record: a 95 has no place here */
	memset(buf + b.len, '0', 800);
	memcpy(buf + b.len, "95", 2);
	cr_assert_eq(efr_parse(buf, b.len + 800, &r, why, sizeof(why)), -1, "%s", why);
	/* the three spellings of an empty slot are read; anything else is not */
	memcpy(buf + HEAD + 800 + 456, "0000000 0000   000000", 21);
	cr_assert_eq(efr_parse(buf, b.len, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r.rec[1].nslots, 0);
	efr_release(&r);
	memcpy(buf + HEAD + 800 + 456, "       ", 7);
	cr_assert_eq(efr_parse(buf, b.len, &r, why, sizeof(why)), -1);
	/* an unknown code is read */
	memcpy(buf + HEAD + 800 + 456, "S050000", 7);
	cr_assert_eq(efr_parse(buf, b.len, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(r.rec[1].slots[0].code, "050000");
	efr_release(&r);
}
