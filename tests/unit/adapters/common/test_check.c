/* tests/unit/adapters/common/test_check.c - check digits, controls, dates and zones, on the worked
 * examples of shared/domain/efact.md section 7. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/check.h"
#include "core/error.h"

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
	cr_assert_not(tpc_check_niss(NULL, 11));
}

Test(check, niss_remainder_zero_gives_97)
{
	/* 000000097 mod 97 = 0 -> check 97 (month and day 00: unknown birth date) */
	cr_assert(tpc_check_niss(S("00000009797")));
	cr_assert_not(tpc_check_niss(S("00000009700")));
}

Test(check, niss_bis_numbers)
{
	/* month + 20 and + 40 are BIS numbers; other months are not */
	static const unsigned long bases[] = {862031302ul, 864031302ul, 865231302ul};
	char bis[12];

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		snprintf(bis, sizeof(bis), "%09lu%02lu", bases[i], 97 - bases[i] % 97);
		cr_assert(tpc_check_niss(bis, 11), "%s", bis);
	}
	snprintf(bis, sizeof(bis), "%09lu%02lu", 861531302ul, 97 - 861531302ul % 97);
	cr_assert_not(tpc_check_niss(bis, 11), "month 15 is no month: %s", bis);
	snprintf(bis, sizeof(bis), "%09lu%02lu", 861032302ul, 97 - 861032302ul % 97);
	cr_assert_not(tpc_check_niss(bis, 11), "day 32: %s", bis);
}

Test(check, nihii)
{
	/* efact.md 7.4: 183347 -> 80, 173854 -> 67, 100658 -> 28, 165824 -> 46, 143721 -> 33,
	 * 155542 -> 46, 545123 -> 17 */
	static const char *ok[] = {"18334780004", "17385467004", "10065828001", "16582446000",
	                           "14372133000", "15554246000", "54512317000"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(tpc_check_nihii(ok[i], 11), "%s", ok[i]);
	cr_assert_not(tpc_check_nihii(S("18334781004")));
	cr_assert_not(tpc_check_nihii(S("1833478000")));
	/* the 12-digit zone form: "0" + NIHII (the CIN sample 018334780004) */
	cr_assert(tpc_check_nihii("018334780004" + 1, 11));
}

Test(check, nomenclature)
{
	static const char *ok[] = {"101032", "102771", "102852", "428035", "750116", "768025",
	                           "793041", "960046", "475075", "560011", "567011", "109594"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(tpc_check_nomenclature(ok[i], 6), "%s", ok[i]);
	cr_assert_not(tpc_check_nomenclature(S("101075"))); /* S1's deliberately wrong value */
	cr_assert_not(tpc_check_nomenclature(S("10103")));
	cr_assert_not(tpc_check_nomenclature(S("10103x")));
}

Test(check, bce)
{
	cr_assert(tpc_check_bce(S("0999999922")));
	cr_assert_not(tpc_check_bce(S("0999999923")));
	cr_assert_not(tpc_check_bce(S("099999992")));
}

Test(check, iban_any_country)
{
	cr_assert(tpc_check_iban(S("BE10001232152604"))); /* CIN sample */
	cr_assert(tpc_check_iban(S("BE68539007547034")));
	cr_assert(tpc_check_iban(S("GB82WEST12345698765432"))); /* letters in the BBAN */
	cr_assert(tpc_check_iban(S("DE89370400440532013000")));
	cr_assert(tpc_check_iban(S("FR1420041010050500013M02606")));
	cr_assert_not(tpc_check_iban(S("BE68539007547035")));
	cr_assert_not(tpc_check_iban(S("GB82WEST12345698765433")));
	cr_assert_not(tpc_check_iban(S("be68539007547034")));
	cr_assert_not(tpc_check_iban(S("BE68 5390 0754 7034")));
	cr_assert_not(tpc_check_iban(S("BE6")));
}

Test(check, dates_round_trip)
{
	int32_t d;

	cr_assert_eq(tpc_check_date_yyyymmdd(19700101, &d), 0);
	cr_assert_eq(d, 0);
	cr_assert_eq(tpc_check_date_yyyymmdd(20000229, &d), 0); /* 2000 is a leap year */
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 20000229);
	cr_assert_eq(tpc_check_date_yyyymmdd(19000228, &d), 0);
	cr_assert_lt(d, 0);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 19000228);
	cr_assert_eq(tpc_check_date_yyyymmdd(19000229, &d), TPC_EINVAL); /* 1900 is not */
	cr_assert_eq(tpc_check_date_yyyymmdd(20261131, &d), TPC_EINVAL);
	cr_assert_eq(tpc_check_date_yyyymmdd(20261300, &d), TPC_EINVAL);
	cr_assert_eq(tpc_check_date_yyyymmdd(20261100, &d), TPC_EINVAL);
	cr_assert_eq(tpc_check_date_yyyymmdd(30000101, &d), TPC_EINVAL);
	for (int32_t x = -25000; x < 60000; x += 7) { /* 1901 .. 2134 */
		int32_t back;
		cr_assert_eq(tpc_check_date_yyyymmdd(tpc_check_days_to_yyyymmdd(x), &back), 0);
		cr_assert_eq(back, x);
	}
}

Test(check, date_zones)
{
	int32_t d = 12345;

	cr_assert_eq(tpc_check_parse_date(S("20141125"), &d), 0);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 20141125);
	cr_assert_eq(tpc_check_parse_date(S("2014112"), &d), TPC_EPROTO);
	cr_assert_eq(tpc_check_parse_date(S("2014 125"), &d), TPC_EPROTO);
	cr_assert_eq(tpc_check_parse_date(S("20140230"), &d), TPC_EINVAL);
	cr_assert_eq(tpc_check_parse_date(S("00000000"), &d), TPC_EINVAL);
	cr_assert_eq(tpc_check_days_to_yyyymmdd(d), 20141125, "untouched on failure");
}

Test(check, record_control_worked_example)
{
	/* efact.md 7.1: an ET10 built from the CIN sample holds 247 digits summing to 138, 73
	 * spaces and 28 letters worth 473: 1341 mod 97 = 80. The control is a plain sum, so the
	 * order of the characters does not matter: lay the sample's values out one after the
	 * other, fill the remaining digit positions with zeros and the blank zones with spaces. */
	static const char *digits[] = {"10",       "000001",        "0001999", "509",
	                               "040",      "018334780004",  "02014",   "11",
	                               "20141125", "10001232152604"};
	static const char *texts[] = {"Fichier genere au CIN", "GEBABEBB", "BE"};
	char rec[349];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(digits) / sizeof(digits[0]); i++) {
		memcpy(rec + n, digits[i], strlen(digits[i]));
		n += strlen(digits[i]);
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memcpy(rec + n, texts[i], strlen(texts[i]));
		n += strlen(texts[i]);
	}
	/* the text holds 3 spaces: 70 more, then zeros up to 348 */
	memset(rec + n, ' ', 70);
	n += 70;
	memset(rec + n, '0', 348 - n);
	cr_assert_eq(tpc_check_record_control(rec, 348), 80);

	/* 0 is written as 97 */
	memset(rec, '0', 348);
	cr_assert_eq(tpc_check_record_control(rec, 348), 97);
	/* lower case counts as upper case; anything else is 37 */
	cr_assert_eq(tpc_check_record_control("a", 1), tpc_check_record_control("A", 1));
	cr_assert_eq(tpc_check_record_control("a", 1), 11);
	cr_assert_eq(tpc_check_record_control("+", 1), 37);
	cr_assert_eq(tpc_check_record_control(" ", 1), 10);
}

/* every byte value, alone and in a long run, against the rule as the format states it */
Test(check, record_control_every_byte_value)
{
	char run[500];

	for (int c = 0; c < 256; c++) {
		unsigned v = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c == ' '             ? 10
		             : c >= 'A' && c <= 'Z' ? 11 + (unsigned)(c - 'A')
		             : c >= 'a' && c <= 'z' ? 11 + (unsigned)(c - 'a')
		                                    : 37;
		char one = (char)c;
		unsigned want = (v * 500) % 97;

		cr_assert_eq(tpc_check_record_control(&one, 1), v % 97 ? v % 97 : 97, "byte %d", c);
		memset(run, c, sizeof(run));
		cr_assert_eq(tpc_check_record_control(run, sizeof(run)), want ? want : 97,
		             "byte %d", c);
	}
}

/* The rule byte by byte, for the test below. */
static unsigned record_control_ref(const unsigned char *p, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];

		sum += c >= '0' && c <= '9'   ? c - '0'
		       : c == ' '             ? 10
		       : c >= 'A' && c <= 'Z' ? 11 + c - 'A'
		       : c >= 'a' && c <= 'z' ? 11 + c - 'a'
		                              : 37;
	}
	return sum % 97 ? (unsigned)(sum % 97) : 97;
}

/* every length from 0 to 400 at every alignment, of bytes drawn mostly from the record's
 * alphabet and sometimes anything: the 32- and 16-byte blocks and the masked last blocks
 * (check.c) sum as the rule does, on every path the CPU can take (AVX2, SSE2, bytes) */
static void every_length_and_alignment(int widest)
{
	static unsigned char buf[420];
	static const char alphabet[] =
	    "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t x = 12345;

	tpc_check_limit_vectors(widest);
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (x >> 16) % 8
			             ? (unsigned char)alphabet[(x >> 20) % (sizeof(alphabet) - 1)]
			             : (unsigned char)(x >> 24);
		}
		for (size_t off = 0; off < 16; off++)
			for (size_t n = 0; n + off <= 400; n++)
				cr_assert_eq(tpc_check_record_control((const char *)buf + off, n),
				             record_control_ref(buf + off, n),
				             "paths up to %d, round %d, offset %zu, %zu bytes",
				             widest, round, off, n);
	}
	tpc_check_limit_vectors(2);
}

Test(check, record_control_every_length_and_alignment)
{
	every_length_and_alignment(2);
}

Test(check, record_control_every_length_and_alignment_sse2)
{
	every_length_and_alignment(1);
}

Test(check, record_control_every_length_and_alignment_bytes)
{
	every_length_and_alignment(0);
}

Test(check, record_control_counts_the_example_composition)
{
	/* the same example counted by kind: 247 digits, 73 spaces, 28 letters */
	static const char *texts = "Fichier genere au CINGEBABEBBBE";
	size_t letters = 0, spaces = 0;

	for (const char *c = texts; *c; c++) {
		letters += (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z');
		spaces += *c == ' ';
	}
	cr_assert_eq(letters, 28);
	cr_assert_eq(spaces + 70, 73);
	cr_assert_eq(348 - 73 - 28, 247);
}

Test(check, invoice_control_worked_example)
{
	/* efact.md 7.2: ET50 and ET51 both with code 0101032: 202064 mod 97 = 13 */
	cr_assert_eq(tpc_check_control97(101032 + 101032), 13);
	cr_assert_eq(tpc_check_control97(0), 97);
	cr_assert_eq(tpc_check_control97(97 * 5), 97);
	cr_assert_eq(tpc_check_control97(98), 1);
}

Test(check, signed_and_unsigned_zones)
{
	int64_t v = 77;
	uint64_t u;

	cr_assert_eq(tpc_check_parse_signed(S("+00000012345"), &v), 0);
	cr_assert_eq(v, 12345);
	cr_assert_eq(tpc_check_parse_signed(S("-000000100"), &v), 0);
	cr_assert_eq(v, -100);
	cr_assert_eq(tpc_check_parse_signed(S("-0000"), &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(tpc_check_parse_signed(S("0000000100"), &v), TPC_EPROTO); /* NN 05 */
	cr_assert_eq(tpc_check_parse_signed(S("+00-000100"), &v), TPC_EINVAL); /* NN 06 */
	cr_assert_eq(tpc_check_parse_signed(S("+"), &v), TPC_EINVAL);
	cr_assert_eq(tpc_check_parse_signed(S("+999999999999999999"), &v), 0);
	cr_assert_eq(v, 999999999999999999);
	cr_assert_eq(tpc_check_parse_signed(S("+9999999999999999999"), &v), TPC_EINVAL);
	cr_assert_eq(tpc_check_parse_uint(S("000123"), &u), 0);
	cr_assert_eq(u, 123);
	cr_assert_eq(tpc_check_parse_uint(S("12 3"), &u), TPC_EINVAL);
	cr_assert_eq(tpc_check_parse_uint(S(""), &u), TPC_EINVAL);
	cr_assert(tpc_check_all_digits(S("0123456789")));
	cr_assert_not(tpc_check_all_digits(S("")));
	cr_assert(tpc_check_all_char(S("   "), ' '));
	cr_assert_not(tpc_check_all_char(S(" 0 "), ' '));
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
	char z[21] = {0};

	tpc_check_put_uint(z, 6, 4321);
	cr_assert_str_eq(z, "004321");
	tpc_check_put_signed(z, 12, -12345);
	cr_assert_str_eq(z, "-00000012345");
	tpc_check_put_signed(z, 12, 7);
	cr_assert_str_eq(z, "+00000000007");
	tpc_check_put_signed(z, 20, INT64_MIN);
	cr_assert_str_eq(z, "-9223372036854775808");
}

Test(check, token_bounds_and_characters)
{
	cr_assert(tpc_check_token("", 0, 64), "empty allowed when min is 0");
	cr_assert_not(tpc_check_token("", 1, 64));
	cr_assert(tpc_check_token("daily-2026-11-30", 1, 64));
	cr_assert(tpc_check_token("!~", 1, 2), "0x21 and 0x7e are in");
	cr_assert_not(tpc_check_token("abc", 1, 2), "one character too many");
	cr_assert_not(tpc_check_token("has space", 0, 64));
	cr_assert_not(tpc_check_token("tab\there", 0, 64));
	cr_assert_not(tpc_check_token("del\x7f", 0, 64));
	cr_assert_not(tpc_check_token("\xc3\xa9t\xc3\xa9", 0, 64), "no bytes over 0x7e");
}

/* The digit zones are judged and valued eight bytes at a time (check.c): every length from 1
 * to 19, every value pattern, and a non-digit at every position (the bytes on either side of
 * '0'..'9' included) must give what a byte-by-byte reading gives. */
Test(check, digit_zones_eight_at_a_time_match_byte_by_byte)
{
	static const char bad[] = {'/', ':', ' ', '\0', (char)0xB0, (char)0x39 + 0x80, 'a', '+'};
	uint64_t x = 88172645463325252ull;

	for (size_t n = 1; n <= 19; n++)
		for (int round = 0; round < 200; round++) {
			char z[20];
			uint64_t want = 0, got = 99;

			for (size_t i = 0; i < n; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				z[i] = (char)('0' + (round < 10 ? round : (int)(x % 10)));
				want = want * 10 + (uint64_t)(z[i] - '0');
			}
			cr_assert(tpc_check_all_digits(z, n), "%zu digits", n);
			cr_assert_eq(tpc_check_parse_uint(z, n, &got), 0);
			cr_assert_eq(got, want, "%.*s read as %llu", (int)n, z,
			             (unsigned long long)got);
			for (size_t at = 0; at < n && round < 8; at++) {
				char c = z[at];

				z[at] = bad[round];
				cr_assert_not(tpc_check_all_digits(z, n),
				              "byte 0x%02x at %zu of %zu",
				              (unsigned char)bad[round], at, n);
				cr_assert_eq(tpc_check_parse_uint(z, n, &got), TPC_EINVAL);
				z[at] = c;
			}
		}
}
