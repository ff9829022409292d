/* engine/refdata/text.c - free text of the reference data: UTF-8 checks (see text.h).
 *
 * The decoder follows RFC 3629's table of well-formed byte sequences rather than decoding
 * first and range-checking after: each lead byte fixes the range its second byte may take
 * (E0 needs A0..BF, else the form is overlong; ED needs 80..9F, else a surrogate; F0 needs
 * 90..BF; F4 needs 80..8F, else above U+10FFFF), so an overlong form, a surrogate or a value
 * past U+10FFFF is refused at the byte where it goes wrong.
 */
#include "refdata/text.h"

size_t tpc_text_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c;
	unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
	size_t len;
	uint32_t v;

	if (!n)
		return 0;
	c = s[0];
	if (c < 0x80) {
		len = 1;
		v = c;
	} else if (c >= 0xC2 && c <= 0xDF) { /* C0, C1: overlong forms of ASCII */
		len = 2;
		v = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		v = c & 0x0Fu;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		v = c & 0x07u;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0; /* a continuation byte alone, C0, C1, F5..FF */
	}
	if (len > n)
		return 0; /* cut short by the end of the value */
	for (size_t i = 1; i < len; i++) {
		unsigned char b = s[i];

		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
			return 0;
		v = (v << 6) | (b & 0x3Fu);
	}
	if (cp)
		*cp = v;
	return len;
}

int tpc_text_forbidden(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF;
}

const char *tpc_text_check(const char *s, size_t n, size_t max, size_t *at)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t dummy, i = 0;

	if (!at)
		at = &dummy;
	*at = 0;
	if (n == 0)
		return "empty";
	/* the characters before the length: a value too long may also be broken, and the
	 * broken byte is the more useful news */
	while (i < n) {
		uint32_t cp;
		size_t len = tpc_text_utf8_next(u + i, n - i, &cp);

		*at = i;
		if (!len)
			return "not valid UTF-8";
		if (tpc_text_forbidden(cp))
			return "a control character";
		i += len;
	}
	if (n > max) {
		*at = max;
		return "too long";
	}
	*at = 0;
	return NULL;
}

size_t tpc_text_prefix(const char *s, size_t n, size_t max)
{
	size_t i = 0;

	while (i < n) {
		size_t len = tpc_text_utf8_next((const unsigned char *)s + i, n - i, NULL);

		/* a broken byte ends it too: what is kept must be valid UTF-8, and a character cut
		 * short by an earlier truncation is one */
		if (!len || i + len > max)
			break;
		i += len;
	}
	return i;
}

size_t tpc_text_chars(const char *s, size_t n)
{
	size_t i = 0, chars = 0;

	while (i < n) {
		size_t len = tpc_text_utf8_next((const unsigned char *)s + i, n - i, NULL);

		i += len ? len : 1;
		chars++;
	}
	return chars;
}
