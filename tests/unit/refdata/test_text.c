/* tests/unit/refdata/test_text.c - UTF-8 checks of free text (engine/refdata/text.c).
 *
 * The decoder against RFC 3629's table: every boundary code point of each length decodes, and
 * each kind of ill-formed sequence (lone continuation, C0/C1, overlong 3 and 4-byte forms,
 * surrogates, above U+10FFFF, F5..FF, cut short, a bad continuation) is refused at its first
 * byte. Then the free-text rule (control characters, XML's noncharacters, empty, too long) with
 * its offset, the prefix that never splits a character, and the character count.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/utf8.h"
#include "refdata/text.h"

/* Decode @p s (whole), expecting one character @p want of @p len bytes. */
static void decodes(const char *s, uint32_t want, size_t len)
{
	uint32_t cp = 0;
	size_t n = tpc_utf8_next((const unsigned char *)s, strlen(s), &cp);

	cr_assert_eq(n, len, "'%s': length %zu, want %zu", s, n, len);
	cr_assert_eq(cp, want, "'%s': U+%04X, want U+%04X", s, cp, want);
}

static void refused(const char *s, size_t n)
{
	cr_assert_eq(tpc_utf8_next((const unsigned char *)s, n, NULL), 0,
	             "accepted %02x (%zu bytes)", (unsigned char)s[0], n);
}

Test(text, every_length_decodes_at_its_bounds)
{
	decodes("A", 0x41, 1);
	decodes("\x7F", 0x7F, 1);
	decodes("\xC2\x80", 0x80, 2);
	decodes("\xC3\xA2", 0xE2, 2); /* a circumflex, Petit-Chateau's */
	decodes("\xDF\xBF", 0x7FF, 2);
	decodes("\xE0\xA0\x80", 0x800, 3);
	decodes("\xE2\x82\xAC", 0x20AC, 3); /* euro sign */
	decodes("\xED\x9F\xBF", 0xD7FF, 3);
	decodes("\xEE\x80\x80", 0xE000, 3);
	decodes("\xEF\xBF\xBF", 0xFFFF, 3);
	decodes("\xF0\x90\x80\x80", 0x10000, 4);
	decodes("\xF0\x9F\x98\x80", 0x1F600, 4);
	decodes("\xF4\x8F\xBF\xBF", 0x10FFFF, 4);
}

Test(text, ill_formed_sequences_are_refused)
{
	refused("\x80", 1); /* a continuation byte alone */
	refused("\xBF", 1);
	refused("\xC0\xAF", 2);         /* overlong '/' */
	refused("\xC1\xBF", 2);         /* overlong DEL */
	refused("\xE0\x80\xAF", 3);     /* overlong 3-byte */
	refused("\xE0\x9F\xBF", 3);     /* overlong U+07FF */
	refused("\xED\xA0\x80", 3);     /* surrogate U+D800 */
	refused("\xED\xBF\xBF", 3);     /* surrogate U+DFFF */
	refused("\xF0\x8F\xBF\xBF", 4); /* overlong 4-byte */
	refused("\xF4\x90\x80\x80", 4); /* U+110000 */
	refused("\xF5\x80\x80\x80", 4);
	refused("\xFE", 1);
	refused("\xFF", 1);
	refused("\xC3", 1); /* cut short by the end */
	refused("\xE2\x82", 2);
	refused("\xF0\x9F\x98", 3);
	refused("\xC3\x41", 2); /* a continuation that is not one */
	refused("\xE2\x82\x41", 3);
	refused("\xF0\x9F\x98\xC3", 4);
	refused("A", 0); /* nothing to read */
}

Test(text, free_text_rule_with_its_offset)
{
	const char *ok = "Invalides de guerre 40-45, Cor\xC3\xA9"
	                 "e, Congo et O.N.U.";
	size_t at = 99;

	cr_assert_null(tpc_text_check(ok, strlen(ok), TPC_REF_TEXT_MAX, &at));
	cr_assert_eq(at, 0);
	cr_assert_str_eq(tpc_text_check("", 0, 10, &at), "empty");
	cr_assert_str_eq(tpc_text_check("ab\xFF\xFE", 4, 10, &at), "not valid UTF-8");
	cr_assert_eq(at, 2);
	cr_assert_str_eq(tpc_text_check("Ch\xC3\xA2teau\tX", 10, 20, &at), "a control character");
	cr_assert_eq(at, 8);
	cr_assert_str_eq(tpc_text_check("a\x7F", 2, 10, &at), "a control character");
	cr_assert_str_eq(tpc_text_check("a\xC2\x85", 3, 10, &at), "a control character"); /* NEL */
	cr_assert_str_eq(tpc_text_check("a\xEF\xBF\xBE", 4, 10, &at), "a control character");
	cr_assert_str_eq(tpc_text_check("abcdef", 6, 5, &at), "too long");
	cr_assert_eq(at, 5);
	cr_assert_null(tpc_text_check("abcde", 5, 5, NULL));
	/* a broken byte past the limit is the news, not the length */
	cr_assert_str_eq(tpc_text_check("abcdef\xFF", 7, 5, &at), "not valid UTF-8");
	cr_assert_eq(at, 6);
}

Test(text, prefix_never_splits_a_character)
{
	const char *s = "Ch\xC3\xA2teau"; /* C h a-circumflex(2) t e a u: 8 bytes */

	cr_assert_eq(tpc_text_prefix(s, 8, 3), 2);
	cr_assert_eq(tpc_text_prefix(s, 8, 4), 4);
	cr_assert_eq(tpc_text_prefix(s, 8, 100), 8);
	cr_assert_eq(tpc_text_prefix("ab\xC3", 3, 3), 2, "a character cut short is dropped");
	cr_assert_eq(tpc_text_prefix("ab\xFF"
	                             "cd",
	                             5, 5),
	             2, "stops at a broken byte");
}

Test(text, chars_count_what_an_editor_shows)
{
	cr_assert_eq(tpc_text_chars("Petit-Ch\xC3\xA2teau", 14), 13);
	cr_assert_eq(tpc_text_chars("\xF0\x9F\x98\x80!", 5), 2);
	cr_assert_eq(tpc_text_chars("a\xFF\xFE"
	                            "b",
	                            4),
	             4, "a broken byte is one");
	cr_assert_eq(tpc_text_chars("", 0), 0);
}
