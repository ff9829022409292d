/* adapters/common/check.c - see check.h. Worked examples: tests/unit/adapters/common/test_check.c.
 *
 * DESIGN: every check works on the digit string, never on a parsed integer of the whole
 * identifier, so leading zeros survive and no width can overflow: the largest value computed
 * is a 19-digit zone (below 2^64) or a running remainder (IBAN).
 */
#include "check.h"
#include "date.h"

#include "core/error.h"

#include <string.h>

#if defined(__SSE2__) && defined(__x86_64__)
#define TPC_CHECK_SSE2 1
#include <emmintrin.h>
/* the record control also has an AVX2 body, chosen at run time (the build targets plain x86-64) */
#if defined(__GNUC__)
#define TPC_CHECK_AVX2 1
#include <immintrin.h>
#endif
#endif

/* What senders, idempotency keys and request ids may be (check.h). The length is checked inside
 * the loop, so an overlong string is refused without reading all of it. */
bool tpc_check_token(const char *s, size_t min, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= max || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
			return false;
	return n >= min;
}

/* Eight digits at a time where the byte order allows it: a zone is loaded as one little-endian
 * word (memcpy: any alignment) and judged or valued with a few arithmetic operations instead
 * of a loop of eight (amounts, NISS, NIHII and dates are 8 to 19 digits; four amounts a line).
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TPC_CHECK_SWAR 1
#endif

#ifdef TPC_CHECK_SWAR
/* Every byte of @p x in '0'..'9': its high nibble is 3, and still 3 after adding 6 (0x3A..0x3F
 * become 0x40..0x45). The first test rules out the carries the addition could make. */
static inline bool digits8(uint64_t x)
{
	const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull, three = 0x3030303030303030ull;

	return (x & hi) == three && ((x + 0x0606060606060606ull) & hi) == three;
}

/* The value of eight digits, the first in the lowest byte: pairs, then fours, then all eight
 * (each step multiplies the higher half by its weight and adds the lower). */
static inline uint64_t value8(uint64_t x)
{
	x -= 0x3030303030303030ull;
	x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFull;
	x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFull;
	return (x * 10000 + (x >> 32)) & 0xFFFFFFFFull;
}
#endif

bool tpc_check_all_digits(const char *p, size_t n)
{
	size_t i = 0;

	if (!p || n == 0)
		return false;
#ifdef TPC_CHECK_SWAR
	for (; i + 8 <= n; i += 8) {
		uint64_t x;

		memcpy(&x, p + i, 8);
		if (!digits8(x))
			return false;
	}
#endif
	for (; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

bool tpc_check_all_char(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* Value of @p n digits already known to be digits (n <= 19: 10^19 - 1 is below 2^64, 10^20 - 1
 * is not). */
static uint64_t num(const char *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

#ifdef TPC_CHECK_SWAR
	for (; i + 8 <= n; i += 8) {
		uint64_t x;

		memcpy(&x, p + i, 8);
		v = v * 100000000u + value8(x);
	}
#endif
	for (; i < n; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

int tpc_check_parse_uint(const char *p, size_t n, uint64_t *out)
{
	if (n > 19 || !tpc_check_all_digits(p, n))
		return TPC_EINVAL;
	*out = num(p, n);
	return 0;
}

int tpc_check_parse_signed(const char *p, size_t n, int64_t *out)
{
	uint64_t v;

	if (!p || n < 2 || n > 19)
		return TPC_EINVAL;
	/* two codes because eFact has two errors: NN 05 "sign position" when the first
	 * character is no sign, NN 06 "sign inside the number" for a non-digit after it */
	if (p[0] != '+' && p[0] != '-')
		return TPC_EPROTO;
	if (!tpc_check_all_digits(p + 1, n - 1))
		return TPC_EINVAL;
	v = num(p + 1, n - 1); /* at most 18 digits: fits an int64_t */
	*out = p[0] == '-' ? -(int64_t)v : (int64_t)v;
	return 0;
}

void tpc_check_put_uint(char *dst, size_t width, uint64_t v)
{
	for (size_t i = width; i-- > 0; v /= 10)
		dst[i] = (char)('0' + v % 10);
}

void tpc_check_put_signed(char *dst, size_t width, int64_t v)
{
	/* |INT64_MIN| does not fit an int64_t: negate in unsigned arithmetic */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (width == 0)
		return;
	dst[0] = v < 0 ? '-' : '+';
	tpc_check_put_uint(dst + 1, width - 1, mag);
}

/* ---- dates ---------------------------------------------------------------------------------- */

/* The calendar's rules live in date.c alone (shared with the engine's requests and the
 * client): this is the same check, without the reason, on the per-line path. */
int tpc_check_date_yyyymmdd(uint32_t v, int32_t *days)
{
	return tpc_date_check(v, days, NULL, 0);
}

int tpc_check_parse_date(const char *p, size_t n, int32_t *days)
{
	if (n != 8 || !tpc_check_all_digits(p, 8))
		return TPC_EPROTO;
	return tpc_check_date_yyyymmdd((uint32_t)num(p, 8), days);
}

/* The inverse of date.c's days_from_civil() (same March-based year and 400-year eras), with no
 * table and no loop: schemes.c's ages, the statement and the SEPA file turn stored days back into
 * calendar dates with it. */
uint32_t tpc_check_days_to_yyyymmdd(int32_t z)
{
	int era, y;
	unsigned doe, yoe, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153; /* March = 0 */
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return (uint32_t)y * 10000u + m * 100u + d;
}

/* ---- identifiers ---------------------------------------------------------------------------- */

bool tpc_check_niss(const char *p, size_t n)
{
	uint64_t base, check;
	unsigned mm, dd;

	if (n != 11 || !tpc_check_all_digits(p, 11))
		return false;
	mm = (unsigned)num(p + 2, 2);
	dd = (unsigned)num(p + 4, 2);
	/* 00 = unknown; +20 / +40 = BIS number */
	if (!(mm <= 12 || (mm >= 20 && mm <= 32) || (mm >= 40 && mm <= 52)) || dd > 31)
		return false;
	/* efact.md 7.3: the century is not in the number, so either rule may hold; both are
	 * tried (a remainder of 0 gives check 97, which 97 - 0 yields by itself) */
	base = num(p, 9);
	check = num(p + 9, 2);
	return check == 97 - base % 97 || check == 97 - (2000000000u + base) % 97;
}

/* efact.md 7.4: the last three digits are the qualification, outside the check, so a provider
 * with a new qualification keeps a valid number. */
bool tpc_check_nihii(const char *p, size_t n)
{
	if (n != 11 || !tpc_check_all_digits(p, 11))
		return false;
	return num(p + 6, 2) == 97 - num(p, 6) % 97;
}

bool tpc_check_nomenclature(const char *p, size_t n)
{
	if (n != 6 || !tpc_check_all_digits(p, 6))
		return false;
	return (uint64_t)(p[5] - '0') == num(p, 5) % 7;
}

bool tpc_check_bce(const char *p, size_t n)
{
	if (n != 10 || !tpc_check_all_digits(p, 10))
		return false;
	return num(p + 8, 2) == 97 - num(p, 8) % 97;
}

/* ISO 13616 (efact.md 7.6): the first four characters moved to the end, letters read as 10..35,
 * the whole number mod 97 must be 1. Upper case only, as IBANs are written in files (SEPA). */
bool tpc_check_iban(const char *p, size_t n)
{
	unsigned r = 0;

	if (!p || n < 5 || n > 34 || p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z' ||
	    !tpc_check_all_digits(p + 2, 2))
		return false;
	/* read from the fifth character on, wrapping to the first four; keep only the remainder,
	 * so no length overflows (a letter is two decimal digits) */
	for (size_t k = 0; k < n; k++) {
		char c = p[(k + 4) % n];

		if (c >= '0' && c <= '9')
			r = (r * 10 + (unsigned)(c - '0')) % 97;
		else if (c >= 'A' && c <= 'Z')
			r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return false;
	}
	return r == 1;
}

/* ---- eFact controls ------------------------------------------------------------------------- */

/* Each byte's value in a record control sum: digits 0-9, space 10, letters 11-36 (either
 * case), anything else 37. Only the sum mod 97 is kept, so on x86-64 each byte is given a
 * value congruent to its own mod 97 that costs fewer instructions, 16 bytes at a time (SSE2):
 * 37 for every byte, plus c + 12 for a digit (37 + c + 12 = c - '0' + 97), (c | 0x20) + 71 for
 * a letter (= its value + 2 x 97) and 70 for a space (= 10 + 97); at most 230, so a byte holds
 * it. The 37 is added once for all n bytes at the end; _mm_sad_epu8 adds the rest up into two
 * 64-bit lanes. The last bytes of a record past a multiple of 16 are read as the last 16
 * bytes, the ones already counted masked off: no byte-by-byte tail (that tail and spilled
 * registers made the first SSE2 version 971 instructions a 348-byte record; now 714 with SSE2
 * and about 490 with AVX2: docs/benchmarks.md, "Issue 15, sixth session"). Shorter than 16
 * bytes, byte by byte. */
static inline unsigned record_value(unsigned char c)
{
	unsigned d = (unsigned char)(c - '0'), l = (unsigned char)((c | 0x20) - 'a');
	unsigned v = c == ' ' ? 10u : 37u;

	v = l < 26 ? 11 + l : v;
	return d < 10 ? d : v;
}

#ifdef TPC_CHECK_SSE2
/* The values above 37 of 16 bytes (see above), @p keep selecting which count. */
static inline __m128i record_values16(__m128i c, __m128i keep)
{
	const __m128i c0 = _mm_set1_epi8('0'), ca = _mm_set1_epi8('a'), low = _mm_set1_epi8(0x20);
	const __m128i n9 = _mm_set1_epi8(9), n25 = _mm_set1_epi8(25), sp = _mm_set1_epi8(' ');
	/* a digit has 0x20 set already: (c | 0x20) is c itself for digits and the lower case
	 * for letters */
	__m128i cl = _mm_or_si128(c, low);
	__m128i d = _mm_sub_epi8(c, c0), l = _mm_sub_epi8(cl, ca);
	__m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, n9), d);  /* d <= 9, unsigned */
	__m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, n25), l); /* l <= 25, unsigned */
	__m128i iss = _mm_cmpeq_epi8(c, sp);
	__m128i w = _mm_or_si128(_mm_or_si128(_mm_and_si128(isd, _mm_set1_epi8(12)),
	                                      _mm_and_si128(isl, _mm_set1_epi8(71))),
	                         _mm_and_si128(iss, _mm_set1_epi8(70)));

	w = _mm_add_epi8(w, _mm_and_si128(_mm_or_si128(isd, isl), cl));
	return _mm_and_si128(w, keep);
}
#endif

#ifdef TPC_CHECK_AVX2
/* The same values, 32 bytes at a time (AVX2), with the same masked last block. @p n >= 32.
 * @return the sum of the values above 37 (see above). */
__attribute__((target("avx2"))) static uint64_t record_sum_avx2(const unsigned char *u, size_t n)
{
	static const unsigned char tail_mask[64] = {
	    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	    0,    0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const __m256i c0 = _mm256_set1_epi8('0'), ca = _mm256_set1_epi8('a');
	const __m256i low = _mm256_set1_epi8(0x20), n9 = _mm256_set1_epi8(9);
	const __m256i n25 = _mm256_set1_epi8(25), sp = _mm256_set1_epi8(' ');
	const __m256i w12 = _mm256_set1_epi8(12), w71 = _mm256_set1_epi8(71);
	const __m256i w70 = _mm256_set1_epi8(70), zero = _mm256_setzero_si256();
	__m256i acc = zero, keep = _mm256_set1_epi8(-1);
	size_t i = 0;

	for (;;) {
		__m256i c, cl, d, l, isd, isl, iss, w;

		if (i + 32 <= n) {
			c = _mm256_loadu_si256((const __m256i *)(const void *)(u + i));
		} else if (i < n) {
			c = _mm256_loadu_si256((const __m256i *)(const void *)(u + n - 32));
			keep = _mm256_loadu_si256(
			    (const __m256i *)(const void *)(tail_mask + (n - i)));
		} else {
			break;
		}
		cl = _mm256_or_si256(c, low);
		d = _mm256_sub_epi8(c, c0);
		l = _mm256_sub_epi8(cl, ca);
		isd = _mm256_cmpeq_epi8(_mm256_min_epu8(d, n9), d);
		isl = _mm256_cmpeq_epi8(_mm256_min_epu8(l, n25), l);
		iss = _mm256_cmpeq_epi8(c, sp);
		w = _mm256_or_si256(
		    _mm256_or_si256(_mm256_and_si256(isd, w12), _mm256_and_si256(isl, w71)),
		    _mm256_and_si256(iss, w70));
		w = _mm256_add_epi8(w, _mm256_and_si256(_mm256_or_si256(isd, isl), cl));
		acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_and_si256(w, keep), zero));
		i += 32;
	}
	return (uint64_t)_mm256_extract_epi64(acc, 0) + (uint64_t)_mm256_extract_epi64(acc, 1) +
	       (uint64_t)_mm256_extract_epi64(acc, 2) + (uint64_t)_mm256_extract_epi64(acc, 3);
}
#endif

/* 2 = AVX2, 1 = SSE2, 0 = bytes: lowered by tests only, to run the narrower paths on a CPU that
 * has the wider ones (the engine's CPU decides which path it takes, so each must be tested) */
static int vectors_widest = 2;

void tpc_check_limit_vectors(int widest)
{
	vectors_widest = widest;
}

unsigned tpc_check_record_control(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t sum = 0;
	size_t i = 0;

#ifdef TPC_CHECK_AVX2
	if (n >= 32 && vectors_widest >= 2 && __builtin_cpu_supports("avx2"))
		return tpc_check_control97(record_sum_avx2(u, n) + 37u * (uint64_t)n);
#endif
#ifdef TPC_CHECK_SSE2
	if (n >= 16 && vectors_widest >= 1) {
		/* 16 bytes of 0, then 16 of 0xff: 16 bytes read from k on keep the last k */
		static const unsigned char tail_mask[32] = {
		    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
		    0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		const __m128i all = _mm_set1_epi8(-1), zero = _mm_setzero_si128();
		__m128i acc = zero;
		size_t rest;

		for (; i + 16 <= n; i += 16) {
			__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(u + i));

			acc = _mm_add_epi64(acc, _mm_sad_epu8(record_values16(c, all), zero));
		}
		if ((rest = n - i) > 0) {
			__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(u + n - 16));
			__m128i keep =
			    _mm_loadu_si128((const __m128i *)(const void *)(tail_mask + rest));

			acc = _mm_add_epi64(acc, _mm_sad_epu8(record_values16(c, keep), zero));
		}
		sum = (uint64_t)_mm_cvtsi128_si64(acc) +
		      (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)) + 37u * (uint64_t)n;
		i = n;
	}
#endif
	for (; i < n; i++)
		sum += record_value(u[i]);
	return tpc_check_control97(sum);
}

/* efact.md 7.1 and 7.2: the control is the sum mod 97, but 0 is written as 97, so a control
 * zone never reads 00 */
unsigned tpc_check_control97(uint64_t sum)
{
	unsigned c = (unsigned)(sum % 97);

	return c ? c : 97;
}

/* ---- generators ----------------------------------------------------------------------------- */

/* For the sample generators: distinct valid numbers from an index, born 1930-1999 so the pre-2000
 * check rule is the right one. */
void tpc_check_make_niss(uint32_t index, char out[12])
{
	/* year 30..99, month 1..12, day 1..28, serial 1..997: 70 * 12 * 28 * 997 combinations */
	uint32_t yy = 30 + index % 70, mm = 1 + index / 70 % 12, dd = 1 + index / 840 % 28;
	uint32_t serial = 1 + index / 23520 % 997;
	uint64_t base = (uint64_t)yy * 10000000u + mm * 100000u + dd * 1000u + serial;

	tpc_check_put_uint(out, 9, base);
	tpc_check_put_uint(out + 9, 2, 97 - base % 97);
	out[11] = 0;
}
