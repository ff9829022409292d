/* tests/support/efact_reader.c - a reader of eFact answers from efact-real.md (see
 * efact_reader.h). Written from the page, not from adapters/efact: every length, position and
 * spelling below is the page's. */
#include "efact_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S200      67
#define S300      160
#define S300_LONG 610
#define R350      350
#define R800      800

static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static uint32_t number(const char *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint32_t)(p[i] - '0');
	return v;
}

/* Copy zone @p pos (1-based), @p n characters, into @p dst (NUL-terminated). */
static void zone(char *dst, const char *rec, unsigned pos, size_t n)
{
	memcpy(dst, rec + pos - 1, n);
	dst[n] = 0;
}

static int all(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* An empty slot, in any of the three spellings insurers use (efact-real.md 1.1). */
static int empty_slot(const char *s)
{
	return memcmp(s, " 000000", 7) == 0 || memcmp(s, "0000000", 7) == 0 ||
	       memcmp(s, " 0000  ", 7) == 0;
}

static int code_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* The trailer of an 800-character record 10..90 (efact-real.md 1.1). */
static int read_trailer(efr_record_t *r, uint32_t k, char *why, size_t n)
{
	const char *t = r->raw;

	if (all(t + 350, R800 - 350, '1'))
		r->filler = '1';
	else if (all(t + 350, R800 - 350, '9'))
		r->filler = '9';
	if (r->filler)
		return 0;
	zone(r->month, t, 362, 6);
	zone(r->mutuality, t, 368, 3);
	zone(r->third_party, t, 395, 12);
	zone(r->ct1, t, 407, 3);
	zone(r->ct2, t, 410, 3);
	zone(r->ref_a, t, 413, 22);
	zone(r->ref_b, t, 435, 22);
	if (!digits(r->month, 6) || !digits(r->mutuality, 3) || !digits(r->third_party, 12) ||
	    !digits(t + 406, 6))
		return fail(why, n, "record %u (type %02d): trailer 362-412 not numeric", k,
		            r->type);
	for (int s = 0; s < 3; s++) {
		const char *slot = t + 456 + 7 * s;

		if (empty_slot(slot))
			continue;
		if (slot[0] < 'A' || slot[0] > 'Z')
			return fail(why, n, "record %u: error slot %d letter '%c'", k, s + 1,
			            slot[0]);
		for (int c = 1; c < 7; c++)
			if (!code_char(slot[c]))
				return fail(why, n, "record %u: error slot %d code '%.6s'", k,
				            s + 1, slot + 1);
		r->slots[r->nslots].letter = slot[0];
		zone(r->slots[r->nslots].code, slot, 2, 6);
		r->nslots++;
	}
	if ((t[477] == '+' || t[477] == '-') && digits(t + 478, 11)) {
		r->has_amount = 1;
		r->amount = (long long)number(t + 478, 9) * 100 + number(t + 487, 2);
		if (t[477] == '-')
			r->amount = -r->amount;
	} else if (!digits(t + 477, 12)) {
		return fail(why, n, "record %u: 478-489 '%.12s' neither an amount nor digits", k,
		            t + 477);
	}
	if (!digits(t + 794, 6))
		return fail(why, n, "record %u: index 795-800 '%.6s'", k, t + 794);
	r->index = number(t + 794, 6);
	return 0;
}

/* The 2-digit error fields of a record 95/96 (efact.md 5.10). */
static const unsigned err95[] = {3, 8, 22, 36, 50, 64, 74, 78, 92};

/* Cut the @p left characters at @p p into records of @p size, typed by their first two
 * characters: every @p size characters is one record, a shorter rest cannot be read. */
static int split(efr_answer_t *a, const char *p, size_t left, size_t size, char *why, size_t n)
{
	size_t count = left / size;

	if (left % size)
		return fail(why, n, "%s: %zu characters after the segments, not a multiple of %zu",
		            a->type, left, size);
	a->rec = calloc(count ? count : 1, sizeof(*a->rec));
	if (!a->rec)
		return fail(why, n, "out of memory");
	for (size_t k = 0; k < count; k++) {
		efr_record_t *r = &a->rec[a->nrec++];

		r->raw = p + k * size;
		r->len = size;
		r->type = digits(r->raw, 2) ? (int)number(r->raw, 2) : -1;
	}
	return 0;
}

static int read_350(efr_answer_t *a, const char *p, size_t left, char *why, size_t n)
{
	if (split(a, p, left, R350, why, n))
		return -1;
	for (size_t k = 0; k < a->nrec; k++) {
		efr_record_t *r = &a->rec[k];

		if (r->type != 95 && r->type != 96)
			return fail(why, n, "920999: record %zu is a '%.2s', not a 95/96", k + 1,
			            r->raw);
		for (size_t e = 0; e < sizeof(err95) / sizeof(err95[0]); e++) {
			const char *f = r->raw + err95[e] - 1;

			if (!digits(f, 2))
				return fail(why, n, "920999: record %zu error field %u '%.2s'",
				            k + 1, err95[e], f);
			if (memcmp(f, "00", 2) != 0) {
				r->zone_errors[r->nzone_errors].pos = err95[e];
				zone(r->zone_errors[r->nzone_errors].value, f, 1, 2);
				r->nzone_errors++;
			}
		}
	}
	return 0;
}

static int is_known(int t, int settlement)
{
	switch (t) {
	case 10:
	case 20:
	case 21:
	case 30:
	case 40:
	case 50:
	case 51:
	case 52:
	case 80:
	case 90:
		return 1;
	case 91:
	case 92:
		return settlement;
	default:
		return 0;
	}
}

static int read_800(efr_answer_t *a, const char *p, size_t left, char *why, size_t n)
{
	int settlement = strcmp(a->type, "920900") == 0;

	/* every 800 characters after 677 is a record (what the real clients do) */
	if (split(a, p, left, R800, why, n))
		return -1;
	for (size_t k = 0; k < a->nrec; k++) {
		efr_record_t *r = &a->rec[k];

		if (r->type == 95 || r->type == 96)
			return fail(why, n, "%s: record %zu is a %d: no 95/96 in this answer",
			            a->type, k + 1, r->type);
		if (!is_known(r->type, settlement))
			return fail(why, n, "%s: record %zu of unknown type '%.2s'", a->type, k + 1,
			            r->raw);
		if (r->type == 91 || r->type == 92)
			continue;
		r->seq = digits(r->raw + 2, 6) ? number(r->raw + 2, 6) : 0;
		if (read_trailer(r, (uint32_t)k + 1, why, n))
			return -1;
	}
	return 0;
}

int efr_parse(const uint8_t *buf, size_t len, efr_answer_t *out, char *why, size_t n)
{
	const char *p = (const char *)buf;
	int rc;

	memset(out, 0, sizeof(*out));
	out->share = -1;
	if (!buf || len < S200 + S300)
		return fail(why, n, "%zu characters: shorter than segments 200 + 300", len);
	zone(out->type, p, 1, 6);
	zone(out->status, p, 17, 2);
	out->s200 = p;
	out->s300 = p + S200;
	if (strcmp(out->type, "931000") == 0) {
		out->s300_len = S300;
		return len == S200 + S300 ? 0 : fail(why, n, "931000 of %zu characters", len);
	}
	if (strcmp(out->type, "920999") == 0) {
		out->s300_len = S300;
		rc = read_350(out, p + S200 + S300, len - S200 - S300, why, n);
	} else if (!strcmp(out->type, "920098") || !strcmp(out->type, "920099") ||
	           !strcmp(out->type, "920900")) {
		if (len < S200 + S300_LONG)
			return fail(why, n, "%s of %zu characters", out->type, len);
		out->s300_len = S300_LONG;
		if (!digits(out->s300 + 140, 5) || !digits(out->s300 + 147, 2))
			return fail(why, n, "segment 300: share '%.5s', refusal type '%.2s'",
			            out->s300 + 140, out->s300 + 147);
		out->share = (int)number(out->s300 + 140, 5);
		zone(out->refusal, out->s300, 148, 2);
		rc = read_800(out, p + S200 + S300_LONG, len - S200 - S300_LONG, why, n);
	} else {
		return fail(why, n, "unknown answer type '%s'", out->type);
	}
	if (rc)
		efr_release(out);
	return rc;
}

void efr_release(efr_answer_t *a)
{
	free(a->rec);
	a->rec = NULL;
	a->nrec = 0;
}

int efr_find(const efr_answer_t *a, int type, uint32_t from)
{
	for (uint32_t i = from; i < a->nrec; i++)
		if (a->rec[i].type == type)
			return (int)i;
	return -1;
}
