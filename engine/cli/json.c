/* engine/cli/json.c - see json.h.
 *
 * Why jansson and not our own writer: the hand-written writer it replaces emitted invalid JSON
 * for a Latin-1 file name (issue 16). jansson escapes what JSON requires and refuses a string
 * that is not UTF-8, so the one thing left to us is what to do with such bytes.
 *
 * Escape, not replace: a byte that is not UTF-8 becomes the four characters \xHH (its value in
 * upper-case hexadecimal), as the engine already writes them in its answers (core/utf8.h). So a
 * Latin-1 name "caf\xE9.pb" prints "caf\\xE9.pb" in JSON: valid, still readable, and two names
 * that differ by one such byte stay different, which U+FFFD would have merged. A script that
 * needs the original bytes reverses \xHH (the text form prints the name as it is). A NUL inside
 * a counted string is escaped the same way (\x00): C strings around it end at the first one.
 */
#include "json.h"

#include "core/utf8.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *tpc_cli_jsn(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char stack[256], *buf = stack;
	size_t out = 0;
	json_t *j;

	if (!s)
		return json_string("");
	/* the common case, valid UTF-8 without NUL, goes to jansson as it is */
	if (tpc_utf8_valid(s, n) && !memchr(s, 0, n))
		return json_stringn(s, n);
	/* at most four bytes out per byte in */
	if (4 * n + 1 > sizeof(stack) && !(buf = malloc(4 * n + 1)))
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = p[i] ? tpc_utf8_next(p + i, n - i, NULL) : 0;

		if (len) {
			memcpy(buf + out, p + i, len);
			out += len;
			i += len;
		} else {
			out += (size_t)snprintf(buf + out, 5, "\\x%02X", p[i]);
			i++;
		}
	}
	j = json_stringn(buf, out);
	if (buf != stack)
		free(buf);
	return j;
}

json_t *tpc_cli_js(const char *s)
{
	return tpc_cli_jsn(s, s ? strlen(s) : 0);
}

json_t *tpc_cli_jhex(const uint8_t *p, size_t n)
{
	char stack[129], *buf = n * 2 + 1 <= sizeof(stack) ? stack : malloc(n * 2 + 1);
	json_t *j;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * n] = 0;
	j = json_stringn(buf, 2 * n);
	if (buf != stack)
		free(buf);
	return j;
}

void tpc_cli_jset_str(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, tpc_cli_js(s));
}

void tpc_cli_eur(char *buf, size_t cap, int64_t cents)
{
	/* the magnitude in unsigned arithmetic, so even INT64_MIN prints right */
	uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

	snprintf(buf, cap, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", a / 100, a % 100);
}

void tpc_cli_jset_money(json_t *o, const char *key, int64_t cents)
{
	char name[64], eur[32];

	/* both forms from the same integer: a script sums the cents, a person reads the euros,
	 * and neither goes through a float */
	snprintf(name, sizeof(name), "%s_cents", key);
	json_object_set_new(o, name, json_integer(cents));
	snprintf(name, sizeof(name), "%s_eur", key);
	tpc_cli_eur(eur, sizeof(eur), cents);
	json_object_set_new(o, name, json_string(eur));
}

void tpc_cli_jset_time(json_t *o, const char *key, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	char buf[48], when[32];
	struct tm tm;

	/* 0 is "not yet" in the engine's records (a line not paid): null, not 1970 */
	if (!ms || !gmtime_r(&t, &tm)) {
		json_object_set_new(o, key, json_null());
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, sizeof(buf), "%s.%03uZ", when, (unsigned)(ms % 1000));
	json_object_set_new(o, key, json_string(buf));
}

void tpc_cli_jset_date(json_t *o, const char *key, int32_t v)
{
	char buf[16];

	if (v <= 0) {
		json_object_set_new(o, key, json_null());
		return;
	}
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d", v / 10000, v / 100 % 100, v % 100);
	json_object_set_new(o, key, json_string(buf));
}

/* Days since 1970-01-01 to a civil date (the inverse of date.c's days_from_civil()), inline
 * here: the client prints days the engine stored, including before 1970. */
void tpc_cli_jset_day(json_t *o, const char *key, int32_t z)
{
	int32_t era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	tpc_cli_jset_date(o, key, (y + (m <= 2)) * 10000 + m * 100 + d);
}

int tpc_cli_jprint(FILE *f, json_t *doc)
{
	int rc;

	if (!doc) {
		fprintf(stderr, "tpclear: out of memory while writing JSON\n");
		return -1;
	}
	/* compact: one value per line, so JSON lines stay one per line; insertion order kept
	 * (jansson >= 2.8), so fields read in the order the docs list them */
	rc = json_dumpf(doc, f, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	if (rc == 0)
		fputc('\n', f);
	return rc ? -1 : 0;
}
