/* tests/unit/test_check.c - check digits and dates, on the worked examples of efact.md 7. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/check.h"

#define S(x) (x), strlen(x)

Test(check, niss_both_century_rules)
{
	cr_assert(tpc_check_niss(S("86103130262"))); /* 861031302 mod 97 = 35 -> 62 */
	cr_assert(tpc_check_niss(S("05031412595"))); /* born 2005: 2 050 314 125 rule -> 95 */
	/* the century is not in the number: the old rule (66) is accepted too */
	cr_assert(tpc_check_niss(S("05031412566")));
	cr_assert_not(tpc_check_niss(S("05031412567")));
	cr_assert_not(tpc_check_niss(S("86103130263")));
	cr_assert_not(tpc_check_niss(S("8610313026")));
	cr_assert_not(tpc_check_niss(S("8610313026a")));
}

Test(check, niss_bis_numbers)
{
	/* month + 40 (BIS): 86 50 31 302 -> 865031302 mod 97 */
	char bis[12];
	unsigned long base = 865031302ul;
	snprintf(bis, sizeof(bis), "%09lu%02lu", base, 97 - base % 97);
	cr_assert(tpc_check_niss(bis, 11));
}

Test(check, nihii)
{
	static const char *ok[] = {"18334780004", "17385467004", "10065828001", "16582446000",
	                           "14372133000", "15554246000", "54512317000"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(tpc_check_nihii(ok[i], 11), "%s", ok[i]);
	cr_assert_not(tpc_check_nihii(S("18334781004")));
}

Test(check, nomenclature)
{
	static const char *ok[] = {"101032", "102771", "102852", "428035", "750116", "768025",
	                           "793041", "960046", "475075", "560011", "567011", "109594"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(tpc_check_nomenclature(ok[i], 6), "%s", ok[i]);
	cr_assert_not(tpc_check_nomenclature(S("101075"))); /* S1's deliberately wrong value */
}

Test(check, bce_and_iban)
{
	cr_assert(tpc_check_bce(S("0999999922")));
	cr_assert_not(tpc_check_bce(S("0999999923")));
	cr_assert(tpc_check_iban(S("BE10001232152604")));
	cr_assert(tpc_check_iban(S("BE68539007547034")));
	cr_assert_not(tpc_check_iban(S("BE68539007547035")));
	cr_assert_not(tpc_check_iban(S("be68539007547034")));
	cr_assert_not(tpc_check_iban(S("BE6")));
}

Test(check, dates_round_trip)
{
	int32_t d;

	cr_assert_eq(tpc_check_date_yyyymmdd(19700101, &d), 0);
	cr_assert_eq(d, 0);
	cr_assert_eq(tpc_check_date_yyyymmdd(20000229, &d), 0);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 20000229);
	cr_assert_eq(tpc_check_date_yyyymmdd(19000228, &d), 0);
	cr_assert_lt(d, 0);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 19000228);
	cr_assert_neq(tpc_check_date_yyyymmdd(19000229, &d), 0); /* 1900 is not a leap year */
	cr_assert_neq(tpc_check_date_yyyymmdd(20261131, &d), 0);
	cr_assert_neq(tpc_check_date_yyyymmdd(20261300, &d), 0);
	for (int32_t x = -25000; x < 60000; x += 7) { /* 1901 .. 2134 */
		int32_t back;
		cr_assert_eq(tpc_check_date_yyyymmdd(tpc_check_days_to_yyyymmdd(x), &back), 0);
		cr_assert_eq(back, x);
	}
}

Test(check, record_control_worked_example)
{
	/* efact.md 7.1: 247 digits summing to 138, 73 spaces, 28 letters worth 473 -> 1341 -> 80.
	 * Rebuild a string with the same composition. */
	char rec[349];
	size_t n = 0;
	int digit_sum = 0, letters = 0;

	memset(rec, 0, sizeof(rec));
	for (int i = 0; i < 247; i++)
		rec[n++] = '0';
	/* 138 as fifteen 9s and one 3 */
	for (int i = 0; i < 15; i++)
		rec[i] = '9';
	rec[15] = '3';
	digit_sum = 138;
	for (int i = 0; i < 73; i++)
		rec[n++] = ' ';
	/* 28 letters worth 473: 25 x 'G'(17) = 425, then 3 letters worth 48: 'P'(26) 'K'(21)
	 * 'A'(11)
	 * -> 26 + 11 + 11 = 48: P, A, A */
	for (int i = 0; i < 25; i++, letters++)
		rec[n++] = 'G';
	rec[n++] = 'P';
	rec[n++] = 'A';
	rec[n++] = 'A';
	letters += 3;
	cr_assert_eq(n, 348);
	cr_assert_eq(digit_sum, 138);
	cr_assert_eq(letters, 28);
	cr_assert_eq(tpc_check_record_control(rec, 348), 80);
	/* 0 is written as 97 */
	memset(rec, '0', 348);
	cr_assert_eq(tpc_check_record_control(rec, 348), 97);
}

Test(check, signed_and_unsigned_zones)
{
	int64_t v;
	uint64_t u;

	cr_assert_eq(tpc_check_parse_signed(S("+00000012345"), &v), 0);
	cr_assert_eq(v, 12345);
	cr_assert_eq(tpc_check_parse_signed(S("-000000100"), &v), 0);
	cr_assert_eq(v, -100);
	cr_assert_eq(tpc_check_parse_signed(S("0000000100"), &v), -EDOM);
	cr_assert_eq(tpc_check_parse_signed(S("+00-000100"), &v), -EINVAL);
	cr_assert_eq(tpc_check_parse_uint(S("000123"), &u), 0);
	cr_assert_eq(u, 123);
	cr_assert_neq(tpc_check_parse_uint(S("12 3"), &u), 0);
}

Test(check, generated_niss_are_valid_and_distinct)
{
	char a[12], b[12];

	for (uint32_t k = 0; k < 200000; k += 7) {
		tpc_check_make_niss(k, a);
		cr_assert(tpc_check_niss(a, 11), "%u -> %s", k, a);
		tpc_check_make_niss(k + 1, b);
		cr_assert_str_neq(a, b);
	}
}

Test(check, zone_writers)
{
	char z[13] = {0};

	tpc_check_put_uint(z, 6, 4321);
	cr_assert_str_eq(z, "004321");
	tpc_check_put_signed(z, 12, -12345);
	cr_assert_str_eq(z, "-00000012345");
	tpc_check_put_signed(z, 12, 7);
	cr_assert_str_eq(z, "+00000000007");
}
