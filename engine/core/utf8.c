/* engine/core/utf8.c - strict UTF-8 (see utf8.h).
 *
 * The decoder follows RFC 3629's table of well-formed byte sequences rather than decoding
 * first and range-checking after: each lead byte fixes the range its second byte may take
 * (E0 needs A0..BF, else the form is overlong; ED needs 80..9F, else a surrogate; F0 needs
 * 90..BF; F4 needs 80..8F, else above U+10FFFF), so an overlong form, a surrogate or a value
 * past U+10FFFF is refused at the byte where it goes wrong.
 *
 * The message walk reads protobuf-c's descriptors, so one function serves every message of the
 * wire contract: a field added to tpclear.proto is covered without a line here.
 */
#include "core/utf8.h"

#include "core/error.h"

#include <string.h>

size_t tpc_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
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

int tpc_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t len;
		uint64_t w;

		/* ASCII first: nearly every answer string is, and it needs no decoding; eight bytes
		 * at a time while no byte has its top bit set (memcpy: any alignment) */
		if (n - i >= 8) {
			memcpy(&w, u + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		len = tpc_utf8_next(u + i, n - i, NULL);
		if (!len)
			return 0;
		i += len;
	}
	return 1;
}

size_t tpc_utf8_escape(const char *s, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, w = 0;

	if (cap == 0)
		return 0;
	while (i < n) {
		size_t len = tpc_utf8_next(u + i, n - i, NULL);

		if (len) {
			if (w + len >= cap)
				break;
			memcpy(out + w, u + i, len);
			w += len;
			i += len;
			continue;
		}
		if (w + 4 >= cap)
			break;
		out[w++] = '\\';
		out[w++] = 'x';
		out[w++] = hex[u[i] >> 4];
		out[w++] = hex[u[i] & 15];
		i++;
	}
	out[w] = 0;
	return w;
}

size_t tpc_utf8_escaped_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, w = 0;

	while (i < n) {
		size_t len = tpc_utf8_next(u + i, n - i, NULL);

		w += len ? len : 4;
		i += len ? len : 1;
	}
	return w;
}

/* One string field, by the address of its pointer: replaced only when it is not valid. */
static int fix_string(char **at, tpc_utf8_alloc_fn alloc, void *ctx)
{
	size_t n, need;
	char *copy;

	if (!*at)
		return 0;
	n = strlen(*at);
	if (tpc_utf8_valid(*at, n))
		return 0;
	need = tpc_utf8_escaped_len(*at, n) + 1;
	copy = alloc(ctx, need, 1);
	if (!copy)
		return TPC_ENOMEM;
	tpc_utf8_escape(*at, n, copy, need);
	*at = copy;
	return 0;
}

/* Is field @p f present in @p m? A oneof member only when it is the case set; every other
 * field is read (an absent string is "" or NULL, an absent message NULL). */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return 1;
	return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
}

int tpc_utf8_fix_message(ProtobufCMessage *m, tpc_utf8_alloc_fn alloc, void *ctx)
{
	const ProtobufCMessageDescriptor *d;
	int rc = 0;

	if (!m)
		return 0;
	d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *at = (char *)m + f->offset;
		size_t count = 1;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (!present(m, f))
			continue;
		/* a repeated field is a count and a pointer to its array of pointers */
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)((const char *)m + f->quantifier_offset);
			at = *(char **)at;
			if (!at)
				continue;
		}
		for (size_t k = 0; k < count && rc == 0; k++) {
			void **slot = (void **)at + k;

			if (f->type == PROTOBUF_C_TYPE_STRING)
				rc = fix_string((char **)slot, alloc, ctx);
			else
				rc = tpc_utf8_fix_message(*slot, alloc, ctx);
		}
	}
	return rc;
}
