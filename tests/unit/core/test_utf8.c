/* tests/unit/core/test_utf8.c - escaping what is not UTF-8, and making a whole message's
 * strings valid (engine/core/utf8.h). The decoder's own cases are in tests/unit/refdata/
 * test_text.c, where it was first written. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/utf8.h"
#include "tpclear.pb-c.h"

Test(utf8, escapes_bad_bytes_and_keeps_the_rest)
{
	char out[64];

	cr_assert(tpc_utf8_valid("caf\xc3\xa9", 5));
	cr_assert_not(tpc_utf8_valid("\xff\xfe", 2));
	cr_assert_not(tpc_utf8_valid("\xc3", 1), "a character cut short");
	cr_assert_eq(tpc_utf8_escape("a\xff\xfe"
	                             "b\xc3\xa9",
	                             6, out, sizeof(out)),
	             12);
	cr_assert_str_eq(out, "a\\xFF\\xFEb\xc3\xa9");
	cr_assert_eq(tpc_utf8_escaped_len("a\xff\xfe"
	                                  "b\xc3\xa9",
	                                  6),
	             12);
	/* a short buffer stops before an escape that would not fit: still valid */
	cr_assert_eq(tpc_utf8_escape("ab\xff", 3, out, 5), 2);
	cr_assert_str_eq(out, "ab");
	cr_assert_eq(tpc_utf8_escape("\xc3\xa9", 2, out, 2), 0, "nor a character cut");
}

Test(utf8, fixes_every_string_of_a_message_tree)
{
	Tpclear__Answer ans = TPCLEAR__ANSWER__INIT;
	Tpclear__Result r = TPCLEAR__RESULT__INIT;
	Tpclear__InvoiceResult ir = TPCLEAR__INVOICE_RESULT__INIT, *irs[1] = {&ir};
	Tpclear__Finding f = TPCLEAR__FINDING__INIT, *fs[1] = {&f};
	char patient[] = "\xff"
	                 "6103130262",
	     reason[] = "ok";
	tpc_arena_t *a = NULL;

	cr_assert_eq(tpc_arena_new(4096, 0, &a), 0);
	ir.patient = patient;
	ir.findings = fs;
	ir.n_findings = 1;
	f.reason = "bad \xfe byte";
	f.code = reason;
	r.invoice_results = irs;
	r.n_invoice_results = 1;
	r.key = "K";
	ans.body_case = TPCLEAR__ANSWER__BODY_RESULT;
	ans.result = &r;
	cr_assert_eq(tpc_utf8_fix_message(&ans.base, tpc_arena_host_alloc, a), 0);
	cr_assert_str_eq(ir.patient, "\\xFF6103130262");
	cr_assert_str_eq(f.reason, "bad \\xFE byte");
	cr_assert_eq(f.code, reason, "a valid string is not copied");
	cr_assert_eq((unsigned char)patient[0], 0xff, "the original bytes are left alone");
	tpc_arena_free(&a);
}

static void *no_memory(void *ctx, size_t size, size_t align)
{
	(void)ctx;
	(void)size;
	(void)align;
	return NULL;
}

Test(utf8, a_refused_copy_is_enomem)
{
	Tpclear__Receipt rc = TPCLEAR__RECEIPT__INIT;

	rc.reason = "\xff";
	cr_assert_eq(tpc_utf8_fix_message(&rc.base, no_memory, NULL), TPC_ENOMEM);
	rc.reason = "fine";
	cr_assert_eq(tpc_utf8_fix_message(&rc.base, no_memory, NULL), 0);
}

/* tpc_utf8_valid() skips ASCII eight bytes at a time: a bad byte, or a good multi-byte
 * character, at every position around those blocks must be judged as the byte-wise decoder
 * judges it. */
Test(utf8, the_ascii_fast_path_misses_nothing)
{
	static const char *const inserts[] = {
	    "\xff", "\x80", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xed\xa0\x80"};
	static const int valid[] = {0, 0, 1, 1, 1, 0, 0};

	for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++)
		for (size_t at = 0; at <= 24; at++) {
			char buf[64];
			size_t n = strlen(inserts[k]);

			memset(buf, 'a', sizeof(buf));
			memcpy(buf + at, inserts[k], n);
			cr_assert_eq(tpc_utf8_valid(buf, at + n + 9), valid[k], "insert %zu at %zu",
			             k, at);
			/* cut short at the end of the value */
			cr_assert_eq(tpc_utf8_valid(buf, at + n), valid[k],
			             "insert %zu at the end, %zu", k, at);
		}
	cr_assert(tpc_utf8_valid("", 0));
	cr_assert(tpc_utf8_valid("0123456789abcdef", 16));
}
