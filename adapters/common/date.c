/* adapters/common/date.c - see date.h. Worked examples: tests/unit/adapters/common/test_date.c.
 *
 * DESIGN: one set of rules, written once. The engine checks dates that arrive as integers
 * (YYYYMMDD in a protobuf field) and the client checks dates typed by a person; both end in
 * tpc_date_check(), so they cannot disagree on what exists. The reason is built only on failure
 * and only when asked for, so the engine's per-line path (check.h) pays nothing for it.
 */
#include "date.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};

/* Writes the reason when the caller wants one; always returns TPC_EINVAL so a refusal reads
 * `return refuse(why, n, ...)`. */
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return TPC_EINVAL;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned tpc_date_month_days(int y, unsigned m)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m < 1 || m > 12)
		return 0;
	return mdays[m - 1] + (m == 2 && is_leap(y));
}

/* Days from a civil date, shifted so 1970-01-01 is day 0. The year starts in March so the leap
 * day is the last day of the (shifted) year; eras of 400 years repeat exactly (146097 days). */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	int era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);                       /* year of era, 0..399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* day of year, 0..365 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* day of era */
	return era * 146097 + (int32_t)doe - 719468;
}

/* The rules on the parts, the reason naming @p shown (the value as the user or the request
 * wrote it). February gets its own wording, because "February has 28 days" alone would puzzle
 * whoever remembers the 29th. */
static int check_parts(int y, unsigned m, unsigned d, const char *shown, int32_t *days, char *why,
                       size_t whylen)
{
	unsigned last;

	if (y < 1900 || y > 2999)
		return refuse(why, whylen, "%s: year %d is outside 1900..2999", shown, y);
	if (m < 1 || m > 12)
		return refuse(why, whylen, "%s: month %02u does not exist (01..12)", shown, m);
	last = tpc_date_month_days(y, m);
	if (d < 1)
		return refuse(why, whylen, "%s: day 00 does not exist (days start at 01)", shown);
	if (d > last && m == 2)
		return refuse(why, whylen, "%s: February %d has %u days (%d is %sa leap year)",
		              shown, y, last, y, last == 29 ? "" : "not ");
	if (d > last)
		return refuse(why, whylen, "%s: %s has %u days", shown, month_names[m - 1], last);
	if (days)
		*days = days_from_civil(y, m, d);
	return 0;
}

int tpc_date_check(uint32_t v, int32_t *days, char *why, size_t whylen)
{
	char shown[16];

	/* the value is printed only when refused: the accepted path formats nothing */
	if (v / 10000 >= 1900 && v / 10000 <= 2999 && v / 100 % 100 >= 1 && v / 100 % 100 <= 12 &&
	    v % 100 >= 1 && v % 100 <= tpc_date_month_days((int)(v / 10000), v / 100 % 100)) {
		if (days)
			*days = days_from_civil((int)(v / 10000), v / 100 % 100, v % 100);
		return 0;
	}
	snprintf(shown, sizeof(shown), "%u", v);
	return check_parts((int)(v / 10000), v / 100 % 100, v % 100, shown, days, why, whylen);
}

/* Exactly @p n ASCII digits at @p s, as a number. @return -1 when one is not a digit.
 * (check.h's tpc_check_parse_uint() does this too, but check.c includes this module for its
 * calendar, and the house rules forbid the cycle back.) */
static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int tpc_date_parse(const char *s, uint32_t *out, char *why, size_t whylen)
{
	size_t n = s ? strlen(s) : 0;
	int y, m, d;

	/* two spellings, both with every digit: "2026-1-5" is refused rather than guessed, as is
	 * anything around the date (a space, a time) */
	if (n == 10 && s[4] == '-' && s[7] == '-') {
		y = digits(s, 4);
		m = digits(s + 5, 2);
		d = digits(s + 8, 2);
	} else if (n == 8) {
		y = digits(s, 4);
		m = digits(s + 4, 2);
		d = digits(s + 6, 2);
	} else {
		y = m = d = -1;
	}
	if (y < 0 || m < 0 || d < 0)
		return refuse(why, whylen, "%.40s: not a date (YYYY-MM-DD)", s ? s : "");
	if (check_parts(y, (unsigned)m, (unsigned)d, s, NULL, why, whylen))
		return TPC_EINVAL;
	*out = (uint32_t)(y * 10000 + m * 100 + d);
	return 0;
}

int tpc_date_parse_month(const char *s, uint32_t *out, char *why, size_t whylen)
{
	size_t n = s ? strlen(s) : 0;
	int y = -1, m = -1;

	if (n == 7 && s[4] == '-') {
		y = digits(s, 4);
		m = digits(s + 5, 2);
	} else if (n == 6) {
		y = digits(s, 4);
		m = digits(s + 4, 2);
	}
	if (y < 0 || m < 0)
		return refuse(why, whylen, "%.40s: not a month (YYYY-MM)", s ? s : "");
	/* a statement month is a range of posting times (unix milliseconds): from 1970 */
	if (y < 1970 || y > 2999)
		return refuse(why, whylen, "%s: year %d is outside 1970..2999", s, y);
	if (m < 1 || m > 12)
		return refuse(why, whylen, "%s: month %02d does not exist (01..12)", s, m);
	*out = (uint32_t)(y * 100 + m);
	return 0;
}
