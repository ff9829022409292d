/* adapters/common/date.h - the one calendar check of tpclear: which YYYYMMDD dates and YYYYMM
 * months exist, and why one does not.
 *
 * Shared by the engine (payment-run, ledger and statement requests; check.h's
 * tpc_check_date_yyyymmdd() is this check without the reason) and by the command-line client
 * (tpclear --until, --at, --from, --to, --month, eattest date=), so a date the client lets
 * through is a date the engine takes, and a refusal names the value and the rule on both sides:
 * "2026-11-31: November has 30 days".
 *
 * Rules: proleptic Gregorian calendar, years 1900..2999 (the range eFact dates and the ledger
 * use), months 01..12, days 01..the month's length (February 29 in leap years only). A date
 * that does not exist is refused, never normalised: 2026-02-30 is not 2 March.
 *
 * Pure functions: no allocation, no state, safe from any thread. @p why buffers may be NULL
 * (no reason wanted); when given they receive a NUL-terminated, lowercase-first reason that
 * starts with the value as it was given.
 */
#ifndef TPC_DATE_H
#define TPC_DATE_H

#include <stddef.h>
#include <stdint.h>

/** Check the calendar date @p yyyymmdd (an integer such as 20261130).
 *  @param[out] days  days since 1970-01-01 (negative before), set on success only; may be NULL
 *  @param[out] why   on failure, e.g. "20261131: November has 30 days"
 *  @return 0, or TPC_EINVAL when the date does not exist or is outside 1900..2999. */
int tpc_date_check(uint32_t yyyymmdd, int32_t *days, char *why, size_t whylen);

/** Parse a date written YYYY-MM-DD or YYYYMMDD (exactly: ASCII digits, nothing before or
 *  after) and check it with tpc_date_check()'s rules.
 *  @param[out] yyyymmdd  the date as an integer, set on success only
 *  @param[out] why       on failure, e.g. "2026-11-31: November has 30 days" or
 *                        "31/11/2026: not a date (YYYY-MM-DD)"
 *  @return 0, or TPC_EINVAL. */
int tpc_date_parse(const char *s, uint32_t *yyyymmdd, char *why, size_t whylen);

/** Parse a month written YYYY-MM or YYYYMM; years 1970..2999 (a month is a range of posting
 *  times, which are unix milliseconds).
 *  @param[out] yyyymm  the month as an integer (202611), set on success only
 *  @param[out] why     on failure, e.g. "2026-13: month 13 does not exist (01..12)"
 *  @return 0, or TPC_EINVAL. */
int tpc_date_parse_month(const char *s, uint32_t *yyyymm, char *why, size_t whylen);

/** The number of days of month @p m (1..12) of year @p y. @return 28..31, or 0 for a bad @p m. */
unsigned tpc_date_month_days(int y, unsigned m);

#endif /* TPC_DATE_H */
