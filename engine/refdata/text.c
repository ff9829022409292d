/* engine/refdata/text.c - free text of the reference data: UTF-8 checks (see text.h). The
 * decoder itself is core/utf8.c's, shared with the answers' sanitizing. */
#include "refdata/text.h"

#include "core/utf8.h"

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
		size_t len = tpc_utf8_next(u + i, n - i, &cp);

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
		size_t len = tpc_utf8_next((const unsigned char *)s + i, n - i, NULL);

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
		size_t len = tpc_utf8_next((const unsigned char *)s + i, n - i, NULL);

		i += len ? len : 1;
		chars++;
	}
	return chars;
}
