/* adapters/common/check.h - check digits, dates and fixed-width zones of Belgian health-care
 * identifiers (shared/domain/efact.md section 7).
 *
 * Pure functions: no allocation, no state, safe from any thread. Identifiers are strings of
 * digits, never integers: leading zeros matter (a NIHII may start with 0). Every function takes
 * a <pointer, length> pair and reads exactly that many bytes; a NULL pointer is treated as an
 * empty zone. Predicates return bool; functions that can fail return 0 or a negative TPC_E*
 * code (engine/core/error.h) and write their out-parameter only on success.
 */
#ifndef TPC_CHECK_H
#define TPC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- digit runs and fixed-width zones ----------------------------------------------------- */

/** Is the NUL-terminated @p s a token: @p min to @p max characters, each printable ASCII
 *  without space (0x21..0x7e)? Senders, idempotency keys and request ids are tokens. */
bool tpc_check_token(const char *s, size_t min, size_t max);

/** Are the @p n bytes at @p p all ASCII digits?
 *  @return false when @p n is 0 or @p p is NULL. */
bool tpc_check_all_digits(const char *p, size_t n);

/** Are the @p n bytes at @p p all equal to @p c? (true for n == 0) */
bool tpc_check_all_char(const char *p, size_t n, char c);

/** Parse an unsigned numeric zone of exactly @p n digits (1..19), zero-padded on the left.
 *  @param[out] out  the value, set on success only
 *  @return 0, or TPC_EINVAL when a byte is not a digit or @p n is 0 or above 19. */
int tpc_check_parse_uint(const char *p, size_t n, uint64_t *out);

/** Parse a signed zone of @p n characters: one '+' or '-' then @p n - 1 digits (eFact amounts
 *  in cents and units, efact.md 3). "-000" parses as 0.
 *  @param[out] out  the value, set on success only
 *  @return 0; TPC_EPROTO when the first character is not a sign (eFact error NN 05); TPC_EINVAL
 *          when the numeric part holds a non-digit, e.g. a sign inside the number (NN 06), or
 *          when @p n is below 2 or above 19. */
int tpc_check_parse_signed(const char *p, size_t n, int64_t *out);

/** Write @p v as a zero-padded numeric zone of @p width digits. The high digits of a value that
 *  does not fit are dropped (callers check the range first). No NUL is written. */
void tpc_check_put_uint(char *dst, size_t width, uint64_t v);

/** Write @p v as a signed zone of @p width characters: '+' (also for 0) or '-', then
 *  @p width - 1 zero-padded digits of |v|. No NUL is written. */
void tpc_check_put_signed(char *dst, size_t width, int64_t v);

/* ---- dates -------------------------------------------------------------------------------- */

/** Calendar date YYYYMMDD (proleptic Gregorian, years 1900..2999) to days since 1970-01-01.
 *  @param[out] days  set on success (negative before 1970)
 *  @return 0, or TPC_EINVAL when the date does not exist (month 13, 31 April, 29 February of a
 *          common year, ...) or lies outside 1900..2999. */
int tpc_check_date_yyyymmdd(uint32_t yyyymmdd, int32_t *days);

/** The same for an 8-character zone.
 *  @return 0; TPC_EPROTO when @p n != 8 or a byte is not a digit; TPC_EINVAL when the digits do
 *          not name a real date. An all-zero zone is TPC_EINVAL: callers that allow "absent"
 *          test tpc_check_all_char(p, 8, '0') first. */
int tpc_check_parse_date(const char *p, size_t n, int32_t *days);

/** Days since 1970-01-01 back to YYYYMMDD (inverse of tpc_check_date_yyyymmdd() over its
 *  range). */
uint32_t tpc_check_days_to_yyyymmdd(int32_t days);

/* ---- identifiers -------------------------------------------------------------------------- */

/** NISS / INSZ national number (11 digits, efact.md 7.3): YYMMDD + 3-digit serial + 2 check
 *  digits. Check = 97 - (first 9 digits mod 97), or for people born from 2000
 *  97 - ((2000000000 + first 9) mod 97); the century is not in the number, so either rule is
 *  accepted. A remainder of 0 gives check 97. The month may be 00..12, or 20..32 / 40..52 for
 *  BIS numbers (month + 20 / + 40); the day 00..31 (00 = unknown birth date).
 *  @return true when @p n == 11, all digits, plausible month/day and one rule matches. */
bool tpc_check_niss(const char *p, size_t n);

/** NIHII / INAMI / RIZIV provider number (11 digits, efact.md 7.4): digits 7-8 =
 *  97 - (digits 1-6 mod 97); digits 9-11 are the qualification and are not checked.
 *  @return true when @p n == 11, all digits, and the check matches. */
bool tpc_check_nihii(const char *p, size_t n);

/** Nomenclature code or pseudo-code (6 digits, efact.md 7.5): sixth digit = the 5-digit base
 *  mod 7 (e.g. 101032: 10103 mod 7 = 2).
 *  @return true when @p n == 6, all digits, and the check matches. */
bool tpc_check_nomenclature(const char *p, size_t n);

/** BCE / KBO enterprise number (10 digits, efact.md 7.6): last two = 97 - (first 8 mod 97).
 *  @return true when @p n == 10, all digits, and the check matches. */
bool tpc_check_bce(const char *p, size_t n);

/** IBAN (ISO 13616), any country: 5..34 characters, two upper-case letters (country), two check
 *  digits, then upper-case letters and digits (the BBAN); moving the first four characters to
 *  the end and reading letters as 10..35, the number mod 97 must be 1. No spaces: callers strip
 *  the zone's padding first.
 *  @return true when the IBAN is well formed and its check digits match. */
bool tpc_check_iban(const char *p, size_t n);

/* ---- eFact controls ----------------------------------------------------------------------- */

/** eFact record control (zone 99, efact.md 7.1) over the first @p n characters (348 for a
 *  record): the sum of per-character values - digit = its value, space = 10, letter A-Z or a-z
 *  = 11..36, anything else = 37 - mod 97, with 0 written as 97.
 *  @return 1..97. */
unsigned tpc_check_record_control(const char *p, size_t n);

/** Tests only: the widest vector path tpc_check_record_control() may take - 2 AVX2 (the
 *  default, where the CPU has it), 1 SSE2, 0 byte by byte - so that a test on an AVX2 machine
 *  also runs the narrower paths. Not thread-safe; the engine never calls it. */
void tpc_check_limit_vectors(int widest);

/** Control number of efact.md 7.2 (invoice ET80, sending ET90, records 95/96): @p sum is the
 *  integer sum of the code zones in scope; the control is sum mod 97, with 0 written as 97.
 *  @return 1..97. */
unsigned tpc_check_control97(uint64_t sum);

/* ---- generators --------------------------------------------------------------------------- */

/** A valid NISS made from @p index (distinct for index < 23,000,000): people born 1930-1999,
 *  for generators and benchmarks.
 *  @param[out] out  11 digits and a NUL. */
void tpc_check_make_niss(uint32_t index, char out[12]);

#endif /* TPC_CHECK_H */
