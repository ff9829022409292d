/* adapters/eattest/invoicing.c - the eAttest invoicing number (see invoicing.h). */
#include "eattest/invoicing.h"

#include <sodium.h>
#include <string.h>

/* The check pair of the 17 digits OOO 1 YYMMDD NNNNNNN (they fit a uint64_t). */
static unsigned check_pair(uint64_t digits)
{
	return 97u - (unsigned)(digits % 97u);
}

static void put(char *dst, unsigned width, uint64_t v)
{
	for (unsigned i = width; i-- > 0; v /= 10)
		dst[i] = (char)('0' + v % 10);
}

void tpc_invoicing_make(uint32_t yyyymmdd, const uint8_t *buf, size_t len,
                        char out[TPC_INVOICING_LEN + 1])
{
	uint8_t h[8];
	uint64_t d = 0, n, all;

	/* a digest of the whole request: two requests differ in some byte, and the same request
	 * again (a replay) gets the same number */
	crypto_generichash(h, sizeof(h), buf, len, NULL, 0);
	for (int i = 0; i < 8; i++)
		d = d << 8 | h[i];
	n = d % 10000000u;
	all = ((uint64_t)600u * 10u + 1u) * 1000000u + yyyymmdd % 1000000u;
	all = all * 10000000u + n;
	memcpy(out, "600-1-", 6);
	put(out + 6, 6, yyyymmdd % 1000000u);
	out[12] = '-';
	put(out + 13, 7, n);
	out[20] = '-';
	put(out + 21, 2, check_pair(all));
	out[23] = 0;
}

/* Value of the @p w digits at @p p, or -1 when one is not a digit. */
static int64_t digits(const char *p, unsigned w)
{
	int64_t v = 0;

	for (unsigned i = 0; i < w; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int tpc_invoicing_check(const char *p, size_t n)
{
	int64_t ooo, one, date, seq, cc;
	uint64_t all;

	if (n != TPC_INVOICING_LEN || p[3] != '-' || p[5] != '-' || p[12] != '-' || p[20] != '-')
		return TPC_INVOICING_SHAPE;
	ooo = digits(p, 3), one = digits(p + 4, 1), date = digits(p + 6, 6);
	seq = digits(p + 13, 7), cc = digits(p + 21, 2);
	if (ooo < 0 || one != 1 || date < 0 || seq < 0 || cc < 0)
		return TPC_INVOICING_SHAPE;
	all = (((uint64_t)ooo * 10u + 1u) * 1000000u + (uint64_t)date) * 10000000u + (uint64_t)seq;
	if ((unsigned)cc != check_pair(all))
		return TPC_INVOICING_CHECK;
	if (memcmp(p, TPC_INVOICING_INSURER, 3) != 0)
		return TPC_INVOICING_OTHER_INSURER;
	return TPC_INVOICING_OK;
}
