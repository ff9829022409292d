/* adapters/common/check.h - check digits, dates and fixed-width zones of Belgian health-care
 * identifiers (shared/domain/efact.md section 7). Pure functions: no allocation, no state,
 * safe from any thread. Identifiers are strings of digits: leading zeros matter.
 */
#ifndef TPC_CHECK_H
#define TPC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Are the @p n bytes at @p p all ASCII digits (and n > 0)? */
bool tpc_check_all_digits(const char *p, size_t n);

/** NISS / INSZ national number (11 digits): check = 97 - (first 9 digits mod 97), or for people
 *  born from 2000 97 - ((2000000000 + first 9) mod 97); either rule is accepted because the
 *  century is not in the number. BIS numbers (month + 20 or + 40) pass the same rule.
 *  @return true when @p n == 11, all digits, and one rule gives the last two digits. */
bool tpc_check_niss(const char *p, size_t n);

/** NIHII / INAMI provider number (11 digits): digits 7-8 = 97 - (digits 1-6 mod 97). */
bool tpc_check_nihii(const char *p, size_t n);

/** Nomenclature code (6 digits): the sixth digit = first five digits mod 7. */
bool tpc_check_nomenclature(const char *p, size_t n);

/** BCE / KBO enterprise number (10 digits): last two = 97 - (first 8 mod 97). */
bool tpc_check_bce(const char *p, size_t n);

/** IBAN (ISO 13616): 5 to 34 upper-case letters and digits, country + 2 check digits, and the
 *  rearranged number mod 97 == 1. */
bool tpc_check_iban(const char *p, size_t n);

/** Calendar date YYYYMMDD (years 1900-2999) to days since 1970-01-01.
 *  @param[out] days  set on success
 *  @return 0, or TPC_EINVAL (-22) when the date does not exist. */
int tpc_check_date_yyyymmdd(uint32_t yyyymmdd, int32_t *days);

/** Days since 1970-01-01 back to YYYYMMDD. */
uint32_t tpc_check_days_to_yyyymmdd(int32_t days);

/** eFact record control (efact.md 7.1) of the first @p n characters: the sum of per-character
 *  values (digit = its value, space = 10, letter = 11..36, other = 37) mod 97, 0 written as 97.
 *  @return 1..97. */
unsigned tpc_check_record_control(const char *p, size_t n);

/** Parse an unsigned fixed-width numeric zone of @p n digits. @return 0 or -22 (not digits). */
int tpc_check_parse_uint(const char *p, size_t n, uint64_t *out);

/** Parse a signed zone: one '+' or '-' then @p n - 1 digits (eFact amounts, units).
 *  @return 0, -22 when the digits are not all digits, or -33 (EDOM) when the first character
 *  is not a sign. */
int tpc_check_parse_signed(const char *p, size_t n, int64_t *out);

/** A valid NISS made from @p index (distinct for index < 23,000,000): people born 1930-1999,
 *  for generators and benchmarks. @param[out] out 11 digits and a NUL. */
void tpc_check_make_niss(uint32_t index, char out[12]);

/** Write @p v as a zero-padded fixed-width numeric zone of @p width digits (the high digits
 *  of a larger value are dropped). */
void tpc_check_put_uint(char *dst, size_t width, uint64_t v);

/** Write @p v as a signed zone: '+' or '-' then @p width - 1 zero-padded digits. */
void tpc_check_put_signed(char *dst, size_t width, int64_t v);

#endif /* TPC_CHECK_H */
