/* adapters/common/check.c - see check.h. Worked examples: tests/unit/test_check.c. */
#include "check.h"

#include "error.h"

bool tpc_check_all_digits(const char *p, size_t n)
{
	if (!p || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static uint64_t num(const char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

bool tpc_check_niss(const char *p, size_t n)
{
	uint64_t base, check;

	if (n != 11 || !tpc_check_all_digits(p, 11))
		return false;
	base = num(p, 9);
	check = num(p + 9, 2);
	return check == 97 - base % 97 || check == 97 - (2000000000u + base) % 97;
}

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

bool tpc_check_iban(const char *p, size_t n)
{
	unsigned r = 0;

	if (!p || n < 5 || n > 34 || p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z' ||
	    !tpc_check_all_digits(p + 2, 2))
		return false;
	/* the first four characters move to the end; letters count as 10..35 */
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

/* Days from civil (proleptic Gregorian), shifted so 1970-01-01 is 0. */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	int era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

int tpc_check_date_yyyymmdd(uint32_t v, int32_t *days)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = (int)(v / 10000);
	unsigned m = v / 100 % 100, d = v % 100, last;

	if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
		return TPC_EINVAL;
	last = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d > last)
		return TPC_EINVAL;
	*days = days_from_civil(y, m, d);
	return 0;
}

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
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return (uint32_t)y * 10000u + m * 100u + d;
}

unsigned tpc_check_record_control(const char *p, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			sum += (unsigned)(c - '0');
		else if (c == ' ')
			sum += 10;
		else if (c >= 'A' && c <= 'Z')
			sum += 11 + (unsigned)(c - 'A');
		else if (c >= 'a' && c <= 'z')
			sum += 11 + (unsigned)(c - 'a');
		else
			sum += 37;
	}
	sum %= 97;
	return sum ? sum : 97;
}

int tpc_check_parse_uint(const char *p, size_t n, uint64_t *out)
{
	if (!tpc_check_all_digits(p, n) || n > 19)
		return TPC_EINVAL;
	*out = num(p, n);
	return 0;
}

int tpc_check_parse_signed(const char *p, size_t n, int64_t *out)
{
	if (n < 2 || (p[0] != '+' && p[0] != '-'))
		return -EDOM;
	if (!tpc_check_all_digits(p + 1, n - 1) || n - 1 > 18)
		return TPC_EINVAL;
	*out = (int64_t)num(p + 1, n - 1);
	if (p[0] == '-')
		*out = -*out;
	return 0;
}

void tpc_check_put_uint(char *dst, size_t width, uint64_t v)
{
	for (size_t i = width; i-- > 0; v /= 10)
		dst[i] = (char)('0' + v % 10);
}

void tpc_check_put_signed(char *dst, size_t width, int64_t v)
{
	dst[0] = v < 0 ? '-' : '+';
	tpc_check_put_uint(dst + 1, width - 1, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

void tpc_check_make_niss(uint32_t index, char out[12])
{
	uint32_t yy = 30 + index % 70, mm = 1 + index / 70 % 12, dd = 1 + index / 840 % 28;
	uint32_t serial = 1 + index / 23520 % 997;
	uint64_t base = (uint64_t)yy * 10000000u + mm * 100000u + dd * 1000u + serial;

	tpc_check_put_uint(out, 9, base);
	tpc_check_put_uint(out + 9, 2, 97 - base % 97);
	out[11] = 0;
}
