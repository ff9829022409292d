/* tests/unit/adapters/common/test_date.c - the one calendar check (common/date.h): what exists,
 * and the reason given for what does not, with the value and the rule. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/check.h"
#include "common/date.h"
#include "core/error.h"

/* @p s refused, its reason exactly @p why */
static void refused(const char *s, const char *why)
{
	char got[160];
	uint32_t v = 7;

	cr_assert_eq(tpc_date_parse(s, &v, got, sizeof(got)), TPC_EINVAL, "%s accepted", s);
	cr_assert_str_eq(got, why);
	cr_assert_eq(v, 7, "%s: the out-parameter is set on success only", s);
}

Test(date, real_dates_parse_in_both_spellings)
{
	uint32_t v;

	cr_assert_eq(tpc_date_parse("2026-11-30", &v, NULL, 0), 0);
	cr_assert_eq(v, 20261130);
	cr_assert_eq(tpc_date_parse("20261130", &v, NULL, 0), 0);
	cr_assert_eq(v, 20261130);
	cr_assert_eq(tpc_date_parse("2028-02-29", &v, NULL, 0), 0, "2028 is a leap year");
	cr_assert_eq(tpc_date_parse("2000-02-29", &v, NULL, 0), 0, "2000: divisible by 400");
	cr_assert_eq(tpc_date_parse("1900-01-01", &v, NULL, 0), 0);
	cr_assert_eq(tpc_date_parse("2999-12-31", &v, NULL, 0), 0);
}

Test(date, days_that_do_not_exist_name_the_value_and_the_rule)
{
	refused("2026-11-31", "2026-11-31: November has 30 days");
	refused("20260431", "20260431: April has 30 days");
	refused("2027-02-29", "2027-02-29: February 2027 has 28 days (2027 is not a leap year)");
	refused("1900-02-29", "1900-02-29: February 1900 has 28 days (1900 is not a leap year)");
	refused("2028-02-30", "2028-02-30: February 2028 has 29 days (2028 is a leap year)");
	refused("2026-13-01", "2026-13-01: month 13 does not exist (01..12)");
	refused("2026-00-10", "2026-00-10: month 00 does not exist (01..12)");
	refused("2026-11-00", "2026-11-00: day 00 does not exist (days start at 01)");
	refused("1899-12-31", "1899-12-31: year 1899 is outside 1900..2999");
	refused("3000-01-01", "3000-01-01: year 3000 is outside 1900..2999");
}

Test(date, what_is_not_a_date_is_said_so)
{
	refused("2026-1-5", "2026-1-5: not a date (YYYY-MM-DD)");
	refused("31/11/2026", "31/11/2026: not a date (YYYY-MM-DD)");
	refused("2026-11-30 ", "2026-11-30 : not a date (YYYY-MM-DD)");
	refused("2026-11-3x", "2026-11-3x: not a date (YYYY-MM-DD)");
	refused("", ": not a date (YYYY-MM-DD)");
	refused("+0261130", "+0261130: not a date (YYYY-MM-DD)");
}

Test(date, the_integer_check_is_the_same_rule_and_check_h_uses_it)
{
	char why[160];
	int32_t days = -1;

	cr_assert_eq(tpc_date_check(20261131, &days, why, sizeof(why)), TPC_EINVAL);
	cr_assert_str_eq(why, "20261131: November has 30 days");
	cr_assert_eq(days, -1);
	cr_assert_eq(tpc_date_check(19700101, &days, NULL, 0), 0);
	cr_assert_eq(days, 0);
	cr_assert_eq(tpc_date_check(20261130, &days, NULL, 0), 0);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(days), 20261130u);
	/* check.h's per-line check agrees on every day of four years, leap year included */
	for (uint32_t y = 2026; y <= 2029; y++)
		for (uint32_t m = 0; m <= 13; m++)
			for (uint32_t d = 0; d <= 32; d++) {
				uint32_t v = y * 10000 + m * 100 + d;
				int32_t a = 0, b = 0;

				cr_assert_eq(tpc_check_date_yyyymmdd(v, &a) == 0,
				             tpc_date_check(v, &b, NULL, 0) == 0, "%u", v);
				cr_assert_eq(a, b, "%u", v);
				cr_assert_eq(tpc_date_check(v, NULL, NULL, 0) == 0,
				             d >= 1 && m >= 1 && m <= 12 &&
				                 d <= tpc_date_month_days((int)y, m),
				             "%u", v);
			}
}

Test(date, months)
{
	char why[160];
	uint32_t v;

	cr_assert_eq(tpc_date_parse_month("2026-11", &v, NULL, 0), 0);
	cr_assert_eq(v, 202611);
	cr_assert_eq(tpc_date_parse_month("202611", &v, NULL, 0), 0);
	cr_assert_eq(tpc_date_parse_month("2026-13", &v, why, sizeof(why)), TPC_EINVAL);
	cr_assert_str_eq(why, "2026-13: month 13 does not exist (01..12)");
	cr_assert_eq(tpc_date_parse_month("1969-12", &v, why, sizeof(why)), TPC_EINVAL);
	cr_assert_str_eq(why, "1969-12: year 1969 is outside 1970..2999");
	cr_assert_eq(tpc_date_parse_month("2026-11-01", &v, why, sizeof(why)), TPC_EINVAL);
	cr_assert_str_eq(why, "2026-11-01: not a month (YYYY-MM)");
}
