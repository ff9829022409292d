/* engine/cli/json.h - tpclear's JSON output, through jansson (a Debian-packaged JSON library:
 * libjansson-dev), so every document it prints is valid UTF-8 JSON (RFC 8259).
 *
 * Conventions (docs/operations.md, "The CLI"), the same in every command:
 *  - one JSON value per line: a document, or one object per sending / per posting (JSON lines);
 *  - amounts: an integer NAME_cents and beside it NAME_eur, the same amount in euros as a
 *    decimal string ("-12.30"), never a float;
 *  - times: ISO 8601 strings in UTC, "2026-11-18T10:11:12.345Z"; calendar days "2026-11-18";
 *    months "2026-11"; a time not yet reached (a line not paid) is null;
 *  - strings: UTF-8 as stored; a byte that is not UTF-8 (a Latin-1 file name) is replaced by
 *    U+FFFD (json.c says why).
 * Every builder takes a borrowed string and returns a new reference (jansson's own rules); a
 * builder never fails on content, only on memory, and the printer then says so.
 */
#ifndef TPC_CLI_JSON_H
#define TPC_CLI_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** A JSON string of @p s (NULL = ""), each byte that is not UTF-8 replaced by U+FFFD.
 *  @return a new reference, or NULL on out-of-memory. */
json_t *tpc_cli_js(const char *s);

/** The same for @p n bytes (NULs included, replaced by U+FFFD too: JSON text from C strings
 *  must not carry them). */
json_t *tpc_cli_jsn(const char *s, size_t n);

/** Bytes as a lowercase hexadecimal string (hashes). */
json_t *tpc_cli_jhex(const uint8_t *p, size_t n);

/** Set @p key to the string @p s (tpc_cli_js()) in @p o. */
void tpc_cli_jset_str(json_t *o, const char *key, const char *s);

/** Set KEY_cents (an integer) and KEY_eur (a decimal string) in @p o. */
void tpc_cli_jset_money(json_t *o, const char *key, int64_t cents);

/** Set @p key to the ISO 8601 UTC time of unix milliseconds @p ms, or to null when 0. */
void tpc_cli_jset_time(json_t *o, const char *key, uint64_t ms);

/** Set @p key to the day @p days (since 1970-01-01) as "YYYY-MM-DD". */
void tpc_cli_jset_day(json_t *o, const char *key, int32_t days);

/** Set @p key to the date @p yyyymmdd as "YYYY-MM-DD" (null when 0). */
void tpc_cli_jset_date(json_t *o, const char *key, int32_t yyyymmdd);

/** Print @p doc on one line and a newline, then release it (takes the reference; NULL is an
 *  out-of-memory while building, said on stderr). @return 0, or -1 when it could not be
 *  printed. */
int tpc_cli_jprint(FILE *f, json_t *doc);

/** "s" for a count that is not 1, "" for 1: "1 line", "2 lines", "0 lines". */
static inline const char *tpc_cli_s(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/** Cents as euros with two decimals, "-" in front of a negative amount ("-0.05"). */
void tpc_cli_eur(char *buf, size_t cap, int64_t cents);

#endif /* TPC_CLI_JSON_H */
