/* engine/refdata/refdata.c - reference data: CSV parsing and LMDB storage (see refdata.h).
 *
 * Parsing checks every field of every row and stops at the first bad one, so a load is all or
 * nothing. Rows are then sorted by key, which both finds overlapping validity periods (adjacent
 * rows of one id) and lets the writer insert with MDB_APPEND after dropping the kind.
 *
 * Text. The reader checks every byte as it reads it: UTF-8 only (refdata/text.h), no control
 * character, no field over TPC_REF_TEXT_MAX bytes, so a bad byte is reported at its own line and
 * column whatever the column it is in, and every message quotes only valid UTF-8 (it travels in
 * a protobuf string and in JSON). Columns count characters, as an editor shows them. Free text
 * is then kept whole in the arena (the row points at it); nothing is cut or re-encoded.
 *
 * Storage. A row with free text is stored as its fixed part followed by its text (refdata.h,
 * "Values"): the alternative, a fixed array as large as the longest text allowed, would make
 * every row about half a kilobyte for names that are mostly under 40 bytes, and a lookup would
 * copy it all; a separate string record would cost a second B-tree lookup per line. Here a
 * lookup is one cursor move, a copy of the small fixed part and a pointer to the text in the
 * map.
 */
#include "refdata/refdata.h"

#include "common/check.h"
#include "core/codes.h"
#include "core/error.h"
#include "payments/sepa.h"
#include "core/utf8.h"
#include "refdata/text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[TPC_REF__COUNT] = {
    "providers",          "members",   "tariffs",     "agreements", "mediprima", "fedasil",
    "fedasil_exclusions", "detention", "war_victims", "ossom"};
static const char *const headers[TPC_REF__COUNT] = {
    "nihii,name,kind,bce,iban,bic",
    "niss,valid_from,valid_to,ct1,ct2,iban",
    "code,valid_from,valid_to,fee,insurer,insurer_bim,flags",
    "niss,code,valid_from,valid_to,reference",
    "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share",
    "niss,valid_from,valid_to,structure",
    "code",
    "niss,prison,valid_from,valid_to",
    "niss,category,valid_from,valid_to",
    "niss,contract,valid_from,valid_to,birth_date,contribution_years",
};
static const size_t row_size[TPC_REF__COUNT] = {
    sizeof(tpc_ref_provider_t),  sizeof(tpc_ref_member_t),    sizeof(tpc_ref_tariff_t),
    sizeof(tpc_ref_agreement_t), sizeof(tpc_ref_mediprima_t), sizeof(tpc_ref_fedasil_t),
    sizeof(tpc_ref_exclusion_t), sizeof(tpc_ref_detention_t), sizeof(tpc_ref_war_victim_t),
    sizeof(tpc_ref_ossom_t)};

#define MAX_FIELDS 8
#define FIELD_MAX  (TPC_REF_TEXT_MAX + 1)      /* every column: free text is the longest */
#define KEY_MAX    (11 + 4 + TPC_REF_TEXT_MAX) /* mediprima: NISS, valid_from, decision */

/* Where a kind's free text is: the offset of its `const char *` in the row struct, which is
 * also the length of the fixed part stored before the text. 0: the kind has none. */
static const size_t text_off[TPC_REF__COUNT] = {
    [TPC_REF_PROVIDERS] = offsetof(tpc_ref_provider_t, name),
    [TPC_REF_AGREEMENTS] = offsetof(tpc_ref_agreement_t, reference),
    [TPC_REF_MEDIPRIMA] = offsetof(tpc_ref_mediprima_t, decision),
    [TPC_REF_FEDASIL] = offsetof(tpc_ref_fedasil_t, structure),
    [TPC_REF_DETENTION] = offsetof(tpc_ref_detention_t, prison),
    [TPC_REF_WAR_VICTIMS] = offsetof(tpc_ref_war_victim_t, category),
};
#define LAYOUT_TEXT 0x01 /* first byte of a value with its text after the fixed part */
#define ROW_MAX     128  /* bytes of the largest row struct */
_Static_assert(sizeof(tpc_ref_provider_t) <= ROW_MAX && sizeof(tpc_ref_member_t) <= ROW_MAX &&
                   sizeof(tpc_ref_tariff_t) <= ROW_MAX && sizeof(tpc_ref_agreement_t) <= ROW_MAX &&
                   sizeof(tpc_ref_mediprima_t) <= ROW_MAX && sizeof(tpc_ref_fedasil_t) <= ROW_MAX &&
                   sizeof(tpc_ref_exclusion_t) <= ROW_MAX &&
                   sizeof(tpc_ref_detention_t) <= ROW_MAX &&
                   sizeof(tpc_ref_war_victim_t) <= ROW_MAX && sizeof(tpc_ref_ossom_t) <= ROW_MAX,
               "every row fits the value buffer of put_rows()");

int tpc_refdata_kind(const char *name, enum tpc_ref_kind *out)
{
	for (int k = 0; k < TPC_REF__COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (enum tpc_ref_kind)k;
			return 0;
		}
	return TPC_EINVAL;
}

const char *tpc_refdata_kind_name(enum tpc_ref_kind kind)
{
	return kind < TPC_REF__COUNT ? kind_names[kind] : "?";
}

/* ---- parsing ------------------------------------------------------------------------------- */

struct parser {
	const char *file;
	const char *p, *end;
	const char *line_start; /* first byte of the record being read */
	unsigned line;
	tpc_arena_t *arena; /* holds the free text of the rows */
	char *err;
	size_t errlen;
	char field[MAX_FIELDS][FIELD_MAX];
	unsigned col[MAX_FIELDS]; /* 1-based column (character) where each field starts */
	int nfields;
};

/* "FILE:LINE:COL: reason" into ps->err. A message may quote a field, and snprintf cuts where
 * the buffer ends, maybe inside a character: the text is cut back to the last whole one, so the
 * message stays valid UTF-8. */
static int vfail_at(struct parser *ps, unsigned col, const char *fmt, va_list ap)
{
	char reason[256];
	size_t n;

	vsnprintf(reason, sizeof(reason), fmt, ap);
	n = strlen(reason);
	reason[tpc_text_prefix(reason, n, n)] = 0;
	snprintf(ps->err, ps->errlen, "%s:%u:%u: %s", ps->file, ps->line, col, reason);
	n = strlen(ps->err);
	ps->err[tpc_text_prefix(ps->err, n, n)] = 0;
	return TPC_EINVAL;
}

/* Refuse at column @p col of the current line. */
static int fail_at(struct parser *ps, unsigned col, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(ps, col, fmt, ap);
	va_end(ap);
	return rc;
}

/* Refuse at the start of field @p field (-1: column 1). */
static int fail(struct parser *ps, int field, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(ps, field >= 0 ? ps->col[field] : 1u, fmt, ap);
	va_end(ap);
	return rc;
}

/* The column of @p at on the current line: the characters before it, plus one. Every byte
 * before @p at was checked when it was read, so they are whole characters. */
static unsigned column(const struct parser *ps, const char *at)
{
	return (unsigned)tpc_text_chars(ps->line_start, (size_t)(at - ps->line_start)) + 1;
}

/* The data character at ps->p, checked: UTF-8, and neither NUL nor a control character (no
 * column of any kind takes one). @return its length in bytes, or TPC_EINVAL (ps->err set). */
static int data_char(struct parser *ps)
{
	const unsigned char *u = (const unsigned char *)ps->p;
	uint32_t cp;
	size_t len = tpc_utf8_next(u, (size_t)(ps->end - ps->p), &cp);

	if (!len)
		return fail_at(ps, column(ps, ps->p),
		               "byte 0x%02X is not valid UTF-8 (byte %zu of the line)", u[0],
		               (size_t)(ps->p - ps->line_start) + 1);
	if (tpc_text_forbidden(cp))
		return fail_at(ps, column(ps, ps->p),
		               "control character U+%04X (byte %zu of the line)", (unsigned)cp,
		               (size_t)(ps->p - ps->line_start) + 1);
	return (int)len;
}

/* Read one CSV record (RFC 4180 quoting, LF or CRLF). @return 1 read, 0 at end, <0 error. */
static int next_record(struct parser *ps)
{
	int f = 0;

	if (ps->p >= ps->end)
		return 0;
	ps->line++;
	ps->line_start = ps->p;
	for (;;) {
		size_t n = 0;
		int quoted = 0, len;

		if (f == MAX_FIELDS)
			return fail(ps, -1, "too many fields (at most %d)", MAX_FIELDS - 1);
		ps->col[f] = column(ps, ps->p);
		if (ps->p < ps->end && *ps->p == '"') {
			quoted = 1;
			ps->p++;
		}
		while (ps->p < ps->end) {
			char c = *ps->p;
			if (quoted) {
				if (c == '"' && ps->p + 1 < ps->end && ps->p[1] == '"') {
					ps->p++;
				} else if (c == '"') {
					quoted = 0;
					ps->p++;
					continue;
				} else if (c == '\n') {
					return fail(ps, f, "line break inside a quoted field");
				}
			} else if (c == ',' || c == '\n' || c == '\r') {
				break;
			} else if (c == '"') {
				return fail(ps, f, "quote inside an unquoted field");
			}
			if ((len = data_char(ps)) < 0)
				return len;
			if (n + (size_t)len >= FIELD_MAX)
				return fail(ps, f, "value longer than %d bytes", FIELD_MAX - 1);
			memcpy(ps->field[f] + n, ps->p, (size_t)len);
			n += (size_t)len;
			ps->p += len;
		}
		if (quoted)
			return fail(ps, f, "unterminated quoted field");
		ps->field[f][n] = 0;
		f++;
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '\r')
			ps->p++;
		if (ps->p < ps->end && *ps->p == '\n')
			ps->p++;
		break;
	}
	ps->nfields = f;
	return 1;
}

static int digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* "YYYY-MM-DD" -> days since epoch */
static int parse_date(struct parser *ps, int f, int32_t *out)
{
	const char *s = ps->field[f];
	uint32_t v;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !isdigit((unsigned char)s[0]))
		return fail(ps, f, "date '%s' is not YYYY-MM-DD", s);
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return fail(ps, f, "date '%s' is not YYYY-MM-DD", s);
	v = (uint32_t)atoi(s) * 10000u + (uint32_t)atoi(s + 5) * 100u + (uint32_t)atoi(s + 8);
	if (tpc_check_date_yyyymmdd(v, out) != 0)
		return fail(ps, f, "date '%s' does not exist", s);
	return 0;
}

static int parse_period(struct parser *ps, int ffrom, int32_t *from, int32_t *to)
{
	int rc;

	if ((rc = parse_date(ps, ffrom, from)))
		return rc;
	if (ps->field[ffrom + 1][0] == 0) {
		*to = TPC_REF_OPEN_END;
		return 0;
	}
	if ((rc = parse_date(ps, ffrom + 1, to)))
		return rc;
	if (*to < *from)
		return fail(ps, ffrom + 1, "valid_to is before valid_from");
	return 0;
}

static int parse_cents(struct parser *ps, int f, int64_t *out)
{
	const char *s = ps->field[f];
	char *end;
	long long v;

	if (!*s || !isdigit((unsigned char)s[0]) || strlen(s) > 15)
		return fail(ps, f, "amount '%s' is not a whole number of cents", s);
	v = strtoll(s, &end, 10);
	if (*end)
		return fail(ps, f, "amount '%s' is not a whole number of cents", s);
	*out = v;
	return 0;
}

static int parse_niss(struct parser *ps, int f, char *dst)
{
	if (!digits(ps->field[f], 11) || !tpc_check_niss(ps->field[f], 11))
		return fail(ps, f, "NISS '%s' is not 11 digits with a valid check", ps->field[f]);
	memcpy(dst, ps->field[f], 12);
	return 0;
}

static int parse_code(struct parser *ps, int f, char *dst)
{
	if (!digits(ps->field[f], 6) || !tpc_check_nomenclature(ps->field[f], 6))
		return fail(ps, f, "code '%s' is not 6 digits with a valid check digit",
		            ps->field[f]);
	memcpy(dst, ps->field[f], 7);
	return 0;
}

static int parse_iban(struct parser *ps, int f, char *dst, int required)
{
	const char *s = ps->field[f];

	if (!*s && !required) {
		dst[0] = 0;
		return 0;
	}
	if (strlen(s) > 34 || !tpc_check_iban(s, strlen(s)))
		return fail(ps, f, "IBAN '%s' is not valid (ISO 13616 mod 97)", s);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* A free-text column (a name, a structure, a prison, a category, a decision id, a reference):
 * 1..TPC_REF_TEXT_MAX bytes, kept whole in the arena. next_record() already refused what is
 * not UTF-8, a control character and a value too long, each at its own column. */
static int parse_text(struct parser *ps, int f, const char **dst, const char *what)
{
	size_t n = strlen(ps->field[f]);
	char *copy;

	if (n == 0)
		return fail(ps, f, "%s is empty (1 to %d bytes of UTF-8)", what, TPC_REF_TEXT_MAX);
	if (TPC_FAILS(!tpc_text_check(ps->field[f], n, TPC_REF_TEXT_MAX, NULL)))
		return fail(ps, f, "%s is not text", what);
	if (!(copy = tpc_arena_strndup(ps->arena, ps->field[f], n)))
		return TPC_ENOMEM;
	*dst = copy;
	return 0;
}

/* ---- one parser per kind: the columns of headers[kind], in order ------------------------ */

/* The field checks stop at the first bad one, so the message points at one column. Each parser
 * fills a zeroed row; optional fields left empty stay zero. */

/* providers are payees: their BIC goes into the SEPA files of a payment run
 * (engine/payments/payrun.c), so a BIC a SEPA file would refuse is refused here, at load. */
static int parse_provider_bic(struct parser *ps, int f, char *dst)
{
	const char *bic = ps->field[f];
	size_t bl = strlen(bic);

	if (bl != 8 && bl != 11)
		return fail(ps, f, "BIC '%s' must be 8 or 11 characters", bic);
	for (size_t i = 0; i < bl; i++)
		if (!isalnum((unsigned char)bic[i]))
			return fail(ps, f, "BIC '%s' must be letters and digits", bic);
	if (!tpc_sepa_bic_ok(bic))
		return fail(ps, f,
		            "BIC '%s' is not an ISO 9362 BIC (upper case: bank 4 letters, "
		            "country 2 letters, location 2, branch 3)",
		            bic);
	memcpy(dst, bic, bl + 1);
	return 0;
}

/* A field that names one of a few values (a provider's kind, a decision's care type). */
struct choice {
	const char *name;
	uint8_t value;
};

/* @p allowed lists the names for the message ("a, b or c"). @return 0 or TPC_EINVAL. */
static int parse_choice(struct parser *ps, int f, const struct choice *c, size_t n,
                        const char *what, const char *allowed, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ps->field[f], c[i].name) == 0) {
			*out = c[i].value;
			return 0;
		}
	return fail(ps, f, "%s '%s' is not %s", what, ps->field[f], allowed);
}

static int parse_provider(struct parser *ps, void *row)
{
	static const struct choice kinds[] = {{"hospital", TPC_PROVIDER_HOSPITAL},
	                                      {"pharmacist", TPC_PROVIDER_PHARMACIST},
	                                      {"gp", TPC_PROVIDER_GP},
	                                      {"other", TPC_PROVIDER_OTHER}};
	tpc_ref_provider_t *r = row;
	int rc;

	if (!digits(ps->field[0], 11) || !tpc_check_nihii(ps->field[0], 11))
		return fail(ps, 0, "NIHII '%s' is not 11 digits with a valid check", ps->field[0]);
	memcpy(r->nihii, ps->field[0], 12);
	if ((rc = parse_text(ps, 1, &r->name, "name")))
		return rc;
	if ((rc = parse_choice(ps, 2, kinds, sizeof(kinds) / sizeof(kinds[0]), "kind",
	                       "hospital, pharmacist, gp or other", &r->kind)))
		return rc;
	if (ps->field[3][0] && (!digits(ps->field[3], 10) || !tpc_check_bce(ps->field[3], 10)))
		return fail(ps, 3, "BCE '%s' is not 10 digits with a valid check", ps->field[3]);
	memcpy(r->bce, ps->field[3], strlen(ps->field[3]) + 1);
	if ((rc = parse_iban(ps, 4, r->iban, 1)))
		return rc;
	return parse_provider_bic(ps, 5, r->bic);
}

static int parse_member(struct parser *ps, void *row)
{
	tpc_ref_member_t *r = row;
	int rc;

	if ((rc = parse_niss(ps, 0, r->niss)) ||
	    (rc = parse_period(ps, 1, &r->valid_from, &r->valid_to)))
		return rc;
	if (!digits(ps->field[3], 3))
		return fail(ps, 3, "ct1 '%s' is not 3 digits", ps->field[3]);
	if (!digits(ps->field[4], 3))
		return fail(ps, 4, "ct2 '%s' is not 3 digits", ps->field[4]);
	r->ct1 = (uint16_t)atoi(ps->field[3]);
	r->ct2 = (uint16_t)atoi(ps->field[4]);
	return parse_iban(ps, 5, r->iban, 0);
}

/* tariffs' flags: "agreement" and "max_per_day=N" in one column, separated by ';' (',' is the
 * CSV's own separator). N is at most 6 digits, so strtoul's value fits the u32 unchecked. */
static int parse_tariff_flags(struct parser *ps, int f, tpc_ref_tariff_t *r)
{
	char flags[FIELD_MAX], *tok, *save = NULL;

	memcpy(flags, ps->field[f], sizeof(flags));
	for (tok = strtok_r(flags, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		const char *n = tok + 12;

		if (strcmp(tok, "agreement") == 0)
			r->flags |= TPC_TARIFF_AGREEMENT;
		else if (strncmp(tok, "max_per_day=", 12) == 0 && n[0] &&
		         strspn(n, "0123456789") == strlen(n) && strlen(n) <= 6 &&
		         strtoul(n, NULL, 10) > 0)
			r->max_per_day = (uint32_t)strtoul(n, NULL, 10);
		else
			return fail(ps, f,
			            "flag '%s' is not 'agreement' or 'max_per_day=N' (N > 0)", tok);
	}
	return 0;
}

static int parse_tariff(struct parser *ps, void *row)
{
	tpc_ref_tariff_t *r = row;
	int rc;

	if ((rc = parse_code(ps, 0, r->code)) ||
	    (rc = parse_period(ps, 1, &r->valid_from, &r->valid_to)) ||
	    (rc = parse_cents(ps, 3, &r->fee)) || (rc = parse_cents(ps, 4, &r->insurer)) ||
	    (rc = parse_cents(ps, 5, &r->insurer_bim)))
		return rc;
	/* the patient share is fee - insurer part: it may not be negative */
	if (r->insurer > r->fee)
		return fail(ps, 4, "insurer part is larger than the fee");
	if (r->insurer_bim > r->fee)
		return fail(ps, 5, "insurer_bim part is larger than the fee");
	return parse_tariff_flags(ps, 6, r);
}

static int parse_agreement(struct parser *ps, void *row)
{
	tpc_ref_agreement_t *r = row;
	int rc;

	if ((rc = parse_niss(ps, 0, r->niss)) || (rc = parse_code(ps, 1, r->code)) ||
	    (rc = parse_period(ps, 2, &r->valid_from, &r->valid_to)))
		return rc;
	return parse_text(ps, 4, &r->reference, "reference");
}

static int parse_mediprima(struct parser *ps, void *row)
{
	static const struct choice cares[] = {{"hospital", TPC_CARE_HOSPITAL},
	                                      {"ambulatory", TPC_CARE_AMBULATORY},
	                                      {"pharmacy", TPC_CARE_PHARMACY},
	                                      {"all", TPC_CARE_ALL}};
	tpc_ref_mediprima_t *r = row;
	const char *cov = ps->field[6];
	int rc;

	/* the decision id is the line's scheme reference, totalled per decision in the SPP IS
	 * statement (engine/ledger/statement.c): free text as SPP IS writes it */
	if ((rc = parse_text(ps, 0, &r->decision, "decision_id")))
		return rc;
	if (!digits(ps->field[1], 10) || !tpc_check_bce(ps->field[1], 10))
		return fail(ps, 1, "cpas_bce '%s' is not 10 digits with a valid BCE check",
		            ps->field[1]);
	memcpy(r->cpas_bce, ps->field[1], 11);
	if ((rc = parse_niss(ps, 2, r->niss)) ||
	    (rc = parse_period(ps, 3, &r->valid_from, &r->valid_to)))
		return rc;
	if ((rc = parse_choice(ps, 5, cares, sizeof(cares) / sizeof(cares[0]), "care",
	                       "hospital, ambulatory, pharmacy or all", &r->care)))
		return rc;
	if (strcmp(cov, "0") != 0 && strcmp(cov, "1") != 0)
		return fail(ps, 6, "covers_patient_share '%s' is not 0 or 1", cov);
	r->covers_patient_share = cov[0] == '1';
	return 0;
}

static int parse_fedasil(struct parser *ps, void *row)
{
	tpc_ref_fedasil_t *r = row;
	int rc;

	if ((rc = parse_niss(ps, 0, r->niss)) ||
	    (rc = parse_period(ps, 1, &r->valid_from, &r->valid_to)))
		return rc;
	return parse_text(ps, 3, &r->structure, "structure");
}

static int parse_exclusion(struct parser *ps, void *row)
{
	return parse_code(ps, 0, ((tpc_ref_exclusion_t *)row)->code);
}

/* The feeds shaped niss,LABEL,valid_from,valid_to (detention: the prison; war victims: the
 * category). */
static int parse_person_label(struct parser *ps, char *niss, const char **label, const char *what,
                              int32_t *from, int32_t *to)
{
	int rc;

	if ((rc = parse_niss(ps, 0, niss)) || (rc = parse_text(ps, 1, label, what)))
		return rc;
	return parse_period(ps, 2, from, to);
}

static int parse_detention(struct parser *ps, void *row)
{
	tpc_ref_detention_t *r = row;

	return parse_person_label(ps, r->niss, &r->prison, "prison", &r->valid_from, &r->valid_to);
}

static int parse_war_victim(struct parser *ps, void *row)
{
	tpc_ref_war_victim_t *r = row;

	return parse_person_label(ps, r->niss, &r->category, "category", &r->valid_from,
	                          &r->valid_to);
}

/* ossom: the birth date and years of contribution decide the deferred rights' minimum age
 * (tpc_ossom_min_age); the IBAN column is optional (see tpc_refdata_parse). */
static int parse_ossom(struct parser *ps, void *row)
{
	tpc_ref_ossom_t *r = row;
	const char *c = ps->field[1], *y = ps->field[5];
	int rc;

	if ((rc = parse_niss(ps, 0, r->niss)))
		return rc;
	if (strcmp(c, "AC") != 0 && strcmp(c, "BC") != 0)
		return fail(ps, 1, "contract '%s' is not AC or BC", c);
	r->contract = c[0];
	if ((rc = parse_period(ps, 2, &r->valid_from, &r->valid_to)) ||
	    (rc = parse_date(ps, 4, &r->birth_date)))
		return rc;
	if (r->birth_date > r->valid_from)
		return fail(ps, 4, "birth_date is after valid_from");
	if (!*y || strlen(y) > 2 || !isdigit((unsigned char)y[0]) ||
	    (y[1] && !isdigit((unsigned char)y[1])))
		return fail(ps, 5, "contribution_years '%s' is not a number 0..99", y);
	r->contribution_years = (uint16_t)atoi(y);
	return ps->nfields > 6 ? parse_iban(ps, 6, r->iban, 0) : 0;
}

/* indexed by enum tpc_ref_kind, like kind_names and headers */
static int (*const row_parsers[TPC_REF__COUNT])(struct parser *, void *) = {
    parse_provider, parse_member,    parse_tariff,    parse_agreement,  parse_mediprima,
    parse_fedasil,  parse_exclusion, parse_detention, parse_war_victim, parse_ossom};

static int parse_row(struct parser *ps, enum tpc_ref_kind kind, void *row)
{
	if ((unsigned)kind >= TPC_REF__COUNT)
		return TPC_EINVAL;
	return row_parsers[kind](ps, row);
}

static void row_period(enum tpc_ref_kind kind, const void *row, int32_t *from, int32_t *to);

/* Key of a row (also the sort order). @return key length. */
static size_t row_key(enum tpc_ref_kind kind, const void *row, uint8_t *key)
{
	uint32_t from = 0;
	size_t n = 0;

	switch (kind) {
	case TPC_REF_PROVIDERS:
		memcpy(key, ((const tpc_ref_provider_t *)row)->nihii, 11);
		return 11;
	case TPC_REF_MEMBERS:
		memcpy(key, ((const tpc_ref_member_t *)row)->niss, 11);
		from = (uint32_t)((const tpc_ref_member_t *)row)->valid_from;
		n = 11;
		break;
	case TPC_REF_TARIFFS:
		memcpy(key, ((const tpc_ref_tariff_t *)row)->code, 6);
		from = (uint32_t)((const tpc_ref_tariff_t *)row)->valid_from;
		n = 6;
		break;
	case TPC_REF_AGREEMENTS:
		memcpy(key, ((const tpc_ref_agreement_t *)row)->niss, 11);
		memcpy(key + 11, ((const tpc_ref_agreement_t *)row)->code, 6);
		from = (uint32_t)((const tpc_ref_agreement_t *)row)->valid_from;
		n = 17;
		break;
	case TPC_REF_FEDASIL_EXCLUSIONS:
		memcpy(key, ((const tpc_ref_exclusion_t *)row)->code, 6);
		return 6;
	case TPC_REF_MEDIPRIMA:
	case TPC_REF_FEDASIL:
	case TPC_REF_DETENTION:
	case TPC_REF_WAR_VICTIMS:
	case TPC_REF_OSSOM: {
		int32_t f, t;

		/* every feed row starts with its NISS */
		memcpy(key,
		       kind == TPC_REF_MEDIPRIMA ? ((const tpc_ref_mediprima_t *)row)->niss
		                                 : (const char *)row,
		       11);
		row_period(kind, row, &f, &t);
		from = (uint32_t)f;
		n = 11;
		break;
	}
	default:
		return 0;
	}
	from ^= 0x80000000u; /* signed days sort as unsigned */
	for (int i = 0; i < 4; i++)
		key[n + (size_t)i] = (uint8_t)(from >> (24 - 8 * i));
	if (kind == TPC_REF_MEDIPRIMA) {
		/* the decision id last: one person's decisions may overlap (one per care). Padded
		 * with NULs to 16 bytes when shorter, as schema 3 stored every decision (1..16
		 * bytes then): a delta of a decision loaded before replaces its row instead of
		 * adding a second one. A decision holds no NUL, so the padding is unambiguous. */
		const char *d = ((const tpc_ref_mediprima_t *)row)->decision;
		size_t dl = strlen(d);

		memset(key + n + 4, 0, 16);
		memcpy(key + n + 4, d, dl);
		return n + 4 + (dl < 16 ? 16 : dl);
	}
	return n + 4;
}

/* The part of the key that names the thing a row is about (its id), before the period. */
static size_t id_len(enum tpc_ref_kind kind)
{
	static const size_t n[TPC_REF__COUNT] = {11, 11, 6, 17, 11, 11, 6, 11, 11, 11};

	return n[kind];
}

/* LMDB's own key order: bytes, then the shorter first. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

static void row_period(enum tpc_ref_kind kind, const void *row, int32_t *from, int32_t *to)
{
	switch (kind) {
	case TPC_REF_MEMBERS:
		*from = ((const tpc_ref_member_t *)row)->valid_from;
		*to = ((const tpc_ref_member_t *)row)->valid_to;
		break;
	case TPC_REF_TARIFFS:
		*from = ((const tpc_ref_tariff_t *)row)->valid_from;
		*to = ((const tpc_ref_tariff_t *)row)->valid_to;
		break;
	case TPC_REF_AGREEMENTS:
		*from = ((const tpc_ref_agreement_t *)row)->valid_from;
		*to = ((const tpc_ref_agreement_t *)row)->valid_to;
		break;
	case TPC_REF_MEDIPRIMA:
		*from = ((const tpc_ref_mediprima_t *)row)->valid_from;
		*to = ((const tpc_ref_mediprima_t *)row)->valid_to;
		break;
	case TPC_REF_FEDASIL:
		*from = ((const tpc_ref_fedasil_t *)row)->valid_from;
		*to = ((const tpc_ref_fedasil_t *)row)->valid_to;
		break;
	case TPC_REF_DETENTION:
		*from = ((const tpc_ref_detention_t *)row)->valid_from;
		*to = ((const tpc_ref_detention_t *)row)->valid_to;
		break;
	case TPC_REF_WAR_VICTIMS:
		*from = ((const tpc_ref_war_victim_t *)row)->valid_from;
		*to = ((const tpc_ref_war_victim_t *)row)->valid_to;
		break;
	case TPC_REF_OSSOM:
		*from = ((const tpc_ref_ossom_t *)row)->valid_from;
		*to = ((const tpc_ref_ossom_t *)row)->valid_to;
		break;
	default:
		*from = 0;
		*to = TPC_REF_OPEN_END;
	}
}

static _Thread_local enum tpc_ref_kind sort_kind;

static int cmp_rows(const void *a, const void *b)
{
	uint8_t ka[KEY_MAX], kb[KEY_MAX];
	size_t an = row_key(sort_kind, a, ka), bn = row_key(sort_kind, b, kb);

	return key_cmp(ka, an, kb, bn);
}

/* The header must be exactly headers[kind], field by field. @p nfields_want is set to the
 * number of columns every row must have. @return 0 or TPC_EINVAL (message in ps->err). */
static int read_header(struct parser *ps, enum tpc_ref_kind kind, size_t *nfields_want)
{
	const char *want = headers[kind];
	int ok = 1, rc = next_record(ps);

	*nfields_want = 1;
	for (const char *h = headers[kind]; *h; h++)
		*nfields_want += *h == ',';
	if (rc == 0) {
		ps->line = 1;
		return fail(ps, -1, "empty file: expected the header '%s'", headers[kind]);
	}
	if (rc < 0)
		return rc;
	if (kind == TPC_REF_OSSOM && ps->nfields == 7 && strcmp(ps->field[6], "iban") == 0) {
		/* ossom may carry the insured's IBAN as a last, optional column */
		ps->nfields = 6;
		*nfields_want = 7;
	}
	for (int f = 0; f < ps->nfields && ok; f++) {
		size_t n = strcspn(want, ",");

		ok = strlen(ps->field[f]) == n && memcmp(ps->field[f], want, n) == 0 &&
		     (want[n] == ',') == (f + 1 < ps->nfields);
		want += n + (want[n] == ',');
	}
	if (!ok || *want) {
		/* say what the file has: a wrong kind is the usual mistake */
		char got[160];
		size_t n = 0;

		got[0] = 0;
		for (int f = 0; f < ps->nfields && n + 2 < sizeof(got); f++) {
			int w =
			    snprintf(got + n, sizeof(got) - n, "%s%s", f ? "," : "", ps->field[f]);
			n += w > 0 ? (size_t)w : 0;
		}
		/* at most 100 bytes of it, cut between characters */
		got[tpc_text_prefix(got, strlen(got), 100)] = 0;
		return fail(ps, -1, "header is '%s', expected '%s'", got, headers[kind]);
	}
	return 0;
}

/* Every data row, in file order, into @p rows (zeroed first), and its line into @p lines.
 * @return 0 or TPC_EINVAL at the first bad row. */
static int read_rows(struct parser *ps, enum tpc_ref_kind kind, size_t nfields_want, uint8_t *rows,
                     uint32_t *lines, uint32_t *nrows)
{
	size_t sz = row_size[kind];
	int rc;

	while ((rc = next_record(ps)) > 0) {
		if (ps->nfields == 1 && ps->field[0][0] == 0)
			continue; /* blank line */
		if ((size_t)ps->nfields != nfields_want)
			return fail(ps, -1, "%d fields, expected %zu (%s)", ps->nfields,
			            nfields_want, headers[kind]);
		memset(rows + *nrows * sz, 0, sz);
		if ((rc = parse_row(ps, kind, rows + *nrows * sz)))
			return rc;
		lines[*nrows] = ps->line;
		(*nrows)++;
	}
	return rc;
}

/* What a clash of two rows with the same id means for @p kind. */
static const char *clash_reason(enum tpc_ref_kind kind)
{
	switch (kind) {
	case TPC_REF_PROVIDERS:
		return "duplicate NIHII";
	case TPC_REF_FEDASIL_EXCLUSIONS:
		return "duplicate code";
	case TPC_REF_MEDIPRIMA:
		return "duplicate decision (same NISS, valid_from and decision_id)";
	default:
		return "validity period overlaps another row of the same key";
	}
}

/* Do sorted neighbours @p a and @p b clash: the same id, and either a kind whose ids are
 * unique or validity periods that overlap? */
static int rows_clash(enum tpc_ref_kind kind, const void *a, const void *b)
{
	uint8_t ka[KEY_MAX], kb[KEY_MAX];
	size_t an = row_key(kind, a, ka), bn = row_key(kind, b, kb);
	int32_t af, at, bf, bt;

	/* whole keys are unique (a mediprima key holds its period and its decision); the other
	 * kinds' rows of one id must not overlap */
	if (kind == TPC_REF_PROVIDERS || kind == TPC_REF_FEDASIL_EXCLUSIONS ||
	    kind == TPC_REF_MEDIPRIMA)
		return key_cmp(ka, an, kb, bn) == 0;
	if (memcmp(ka, kb, id_len(kind)) != 0)
		return 0;
	row_period(kind, a, &af, &at);
	row_period(kind, b, &bf, &bt);
	return bf <= at;
}

/* Sort the rows by key into a copy in @p arena, and refuse duplicates and overlapping periods:
 * sorted, the rows of one id are neighbours. The copy is sorted, not the rows in file order,
 * as those give the line of a clash. @return 0 (out->rows set), TPC_ENOMEM or TPC_EINVAL. */
static int sort_and_check(struct parser *ps, enum tpc_ref_kind kind, const uint8_t *rows,
                          const uint32_t *lines, tpc_arena_t *arena, tpc_ref_table_t *out)
{
	size_t sz = row_size[kind];
	uint8_t *sorted = tpc_arena_alloc(arena, (out->nrows + 1) * sz, 8);

	if (!sorted)
		return TPC_ENOMEM;
	memcpy(sorted, rows, out->nrows * sz);
	sort_kind = kind;
	qsort(sorted, out->nrows, sz, cmp_rows);
	for (uint32_t i = 1; i < out->nrows; i++) {
		const void *a = sorted + (i - 1) * sz, *b = sorted + i * sz;
		unsigned line = 0;

		if (!rows_clash(kind, a, b))
			continue;
		/* find the later source line of the pair for the message */
		for (uint32_t r = 0; r < out->nrows; r++)
			if (memcmp(rows + r * sz, b, sz) == 0 || memcmp(rows + r * sz, a, sz) == 0)
				line = lines[r] > line ? lines[r] : line;
		ps->line = line;
		ps->col[0] = 1;
		return fail(ps, 0, "%s", clash_reason(kind));
	}
	out->rows = sorted;
	return 0;
}

int tpc_refdata_parse(enum tpc_ref_kind kind, const char *file, const char *csv, size_t len,
                      tpc_arena_t *arena, tpc_ref_table_t *out, char *err, size_t errlen)
{
	struct parser ps = {
	    .file = file, .p = csv, .end = csv + len, .arena = arena, .err = err, .errlen = errlen};
	size_t cap = 0, nfields_want, sz = row_size[kind];
	uint32_t *lines;
	uint8_t *rows;
	int rc;

	out->kind = kind;
	out->nrows = 0;
	out->rows = NULL;
	/* an upper bound on rows: one per line end (LF, or a CR the parser also ends a record on)
	 */
	for (size_t i = 0; i < len; i++)
		cap += csv[i] == '\n' || csv[i] == '\r';
	cap++;
	rows = tpc_arena_alloc(arena, cap * sz, 8);
	lines = tpc_arena_alloc(arena, cap * sizeof(*lines), 4);
	if (!rows || !lines)
		return TPC_ENOMEM;
	if (len >= 3 && memcmp(csv, "\xEF\xBB\xBF", 3) == 0)
		ps.p += 3; /* UTF-8 byte order mark */
	if ((rc = read_header(&ps, kind, &nfields_want)) ||
	    (rc = read_rows(&ps, kind, nfields_want, rows, lines, &out->nrows)))
		return rc;
	return sort_and_check(&ps, kind, rows, lines, arena, out);
}

/* ---- storage: the values ------------------------------------------------------------------ */

/* The layouts of ledger schema 3, read as they are (refdata.h, "Values"). Never written. */
struct provider_v3 {
	char nihii[12], name[72], bce[11], iban[35], bic[12];
	uint8_t kind;
};
struct agreement_v3 {
	char niss[12], code[7];
	int32_t valid_from, valid_to;
	char reference[49];
};
struct mediprima_v3 {
	char decision[17], cpas_bce[11], niss[12];
	int32_t valid_from, valid_to;
	uint8_t care, covers_patient_share;
};
struct fedasil_v3 {
	char niss[12];
	int32_t valid_from, valid_to;
	char structure[33];
};
struct detention_v3 {
	char niss[12], prison[33];
	int32_t valid_from, valid_to;
};
struct war_victim_v3 {
	char niss[12], category[17];
	int32_t valid_from, valid_to;
};

/* How a schema 3 value maps onto today's row: its size, where its text array is, and the fixed
 * fields to copy (same names, same sizes in both layouts; only their places moved). */
struct v3_layout {
	uint16_t size, text, cap; /* text: offset of the text array, cap its size */
	struct {
		uint8_t from, to, len;
	} f[6];
};

#define V3_TEXT(OLD, field)                                                                        \
	sizeof(struct OLD), offsetof(struct OLD, field), sizeof(((struct OLD *)0)->field)
#define V3_F(OLD, NEW, field)                                                                      \
	{                                                                                          \
		offsetof(struct OLD, field), offsetof(NEW, field), sizeof(((NEW *)0)->field)       \
	}

static const struct v3_layout v3[TPC_REF__COUNT] = {
    [TPC_REF_PROVIDERS] = {V3_TEXT(provider_v3, name),
                           {V3_F(provider_v3, tpc_ref_provider_t, nihii),
                            V3_F(provider_v3, tpc_ref_provider_t, bce),
                            V3_F(provider_v3, tpc_ref_provider_t, iban),
                            V3_F(provider_v3, tpc_ref_provider_t, bic),
                            V3_F(provider_v3, tpc_ref_provider_t, kind)}},
    [TPC_REF_AGREEMENTS] = {V3_TEXT(agreement_v3, reference),
                            {V3_F(agreement_v3, tpc_ref_agreement_t, niss),
                             V3_F(agreement_v3, tpc_ref_agreement_t, code),
                             V3_F(agreement_v3, tpc_ref_agreement_t, valid_from),
                             V3_F(agreement_v3, tpc_ref_agreement_t, valid_to)}},
    [TPC_REF_MEDIPRIMA] = {V3_TEXT(mediprima_v3, decision),
                           {V3_F(mediprima_v3, tpc_ref_mediprima_t, cpas_bce),
                            V3_F(mediprima_v3, tpc_ref_mediprima_t, niss),
                            V3_F(mediprima_v3, tpc_ref_mediprima_t, valid_from),
                            V3_F(mediprima_v3, tpc_ref_mediprima_t, valid_to),
                            V3_F(mediprima_v3, tpc_ref_mediprima_t, care),
                            V3_F(mediprima_v3, tpc_ref_mediprima_t, covers_patient_share)}},
    [TPC_REF_FEDASIL] = {V3_TEXT(fedasil_v3, structure),
                         {V3_F(fedasil_v3, tpc_ref_fedasil_t, niss),
                          V3_F(fedasil_v3, tpc_ref_fedasil_t, valid_from),
                          V3_F(fedasil_v3, tpc_ref_fedasil_t, valid_to)}},
    [TPC_REF_DETENTION] = {V3_TEXT(detention_v3, prison),
                           {V3_F(detention_v3, tpc_ref_detention_t, niss),
                            V3_F(detention_v3, tpc_ref_detention_t, valid_from),
                            V3_F(detention_v3, tpc_ref_detention_t, valid_to)}},
    [TPC_REF_WAR_VICTIMS] = {V3_TEXT(war_victim_v3, category),
                             {V3_F(war_victim_v3, tpc_ref_war_victim_t, niss),
                              V3_F(war_victim_v3, tpc_ref_war_victim_t, valid_from),
                              V3_F(war_victim_v3, tpc_ref_war_victim_t, valid_to)}},
};

/* A schema 3 value of a kind with text into @p out: the fixed fields copied, the text pointing
 * into the value (its array holds a C string: schema 3 wrote it so). @return 0, or
 * MDB_NOTFOUND when @p v is not one. */
static int decode_v3(enum tpc_ref_kind kind, const MDB_val *v, void *out)
{
	const struct v3_layout *l = &v3[kind];
	const char *b = v->mv_data, *text = b + l->text;

	if (!l->size || v->mv_size != l->size || !memchr(text, 0, l->cap) || !text[0])
		return MDB_NOTFOUND;
	memset(out, 0, row_size[kind]);
	for (size_t i = 0; i < sizeof(l->f) / sizeof(l->f[0]) && l->f[i].len; i++)
		memcpy((char *)out + l->f[i].to, b + l->f[i].from, l->f[i].len);
	memcpy((char *)out + text_off[kind], &text, sizeof(text));
	return 0;
}

/* A stored value of @p kind into the row @p out (refdata.h, "Values"). @return 0, or
 * MDB_NOTFOUND for a value of no layout we know (a damaged page is not a row). */
static int decode_row(enum tpc_ref_kind kind, const MDB_val *v, void *out)
{
	const uint8_t *b = v->mv_data;
	size_t fixed = text_off[kind];
	const char *text;

	if (!fixed) {
		if (v->mv_size != row_size[kind])
			return MDB_NOTFOUND;
		memcpy(out, b, row_size[kind]);
		return 0;
	}
	if (v->mv_size < 1 + fixed + 2 || b[0] != LAYOUT_TEXT || b[v->mv_size - 1] != 0)
		return decode_v3(kind, v, out);
	memcpy(out, b + 1, fixed);
	text = (const char *)b + 1 + fixed;
	memcpy((char *)out + fixed, &text, sizeof(text));
	return 0;
}

/* The value of @p row into @p buf (at least 1 + row_size + TPC_REF_TEXT_MAX + 1 bytes).
 * @return its length. */
static size_t encode_row(enum tpc_ref_kind kind, const void *row, uint8_t *buf)
{
	size_t fixed = text_off[kind], n;
	const char *text;

	if (!fixed) {
		memcpy(buf, row, row_size[kind]);
		return row_size[kind];
	}
	memcpy(&text, (const char *)row + fixed, sizeof(text));
	n = strlen(text);
	buf[0] = LAYOUT_TEXT;
	memcpy(buf + 1, row, fixed);
	memcpy(buf + 1 + fixed, text, n + 1);
	return 1 + fixed + n + 1;
}

/* ---- storage ------------------------------------------------------------------------------- */

int tpc_refdata_open(MDB_txn *txn, tpc_refdata_dbs_t *dbs)
{
	static const char *const names[TPC_REF__COUNT] = {"ref_providers",
	                                                  "ref_members",
	                                                  "ref_tariffs",
	                                                  "ref_agreements",
	                                                  "ref_mediprima",
	                                                  "ref_fedasil",
	                                                  "ref_fedasil_exclusions",
	                                                  "ref_detention",
	                                                  "ref_war_victims",
	                                                  "ref_ossom"};
	int rc;

	/* a mediprima key holds a whole decision id: an LMDB built with smaller keys than its
	 * default 511 bytes could not store the longest one */
	if (mdb_env_get_maxkeysize(mdb_txn_env(txn)) < KEY_MAX)
		return MDB_BAD_VALSIZE;
	for (int k = 0; k < TPC_REF__COUNT; k++)
		if ((rc = mdb_dbi_open(txn, names[k], MDB_CREATE, &dbs->dbi[k])))
			return rc;
	return 0;
}

/* Put every row of @p t (sorted by key) with @p flags. */
static int put_rows(MDB_txn *txn, MDB_dbi dbi, const tpc_ref_table_t *t, unsigned flags)
{
	size_t sz = row_size[t->kind];
	uint8_t key[KEY_MAX], val[1 + ROW_MAX + TPC_REF_TEXT_MAX + 1];
	MDB_val k, v;
	int rc;

	for (uint32_t i = 0; i < t->nrows; i++) {
		const uint8_t *row = (const uint8_t *)t->rows + i * sz;

		k.mv_data = key;
		k.mv_size = row_key(t->kind, row, key);
		v.mv_data = val;
		v.mv_size = encode_row(t->kind, row, val);
		if ((rc = mdb_put(txn, dbi, &k, &v, flags)))
			return rc;
	}
	return 0;
}

int tpc_refdata_replace(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t)
{
	int rc;

	if ((rc = mdb_drop(txn, dbs->dbi[t->kind], 0)))
		return rc;
	return put_rows(txn, dbs->dbi[t->kind], t, MDB_APPEND);
}

/* The guard looks at counts only, not at which rows go: a truncated or wrong file (the careless
 * operator of issue 14) shows as far fewer rows, and counting costs one mdb_stat where matching
 * every stored key against the file would read the whole kind inside the writer's transaction.
 * A file of the same size whose rows are all different is not caught: it is the rarer mistake,
 * and its rows still pass every check of the kind. */
int tpc_refdata_replace_guard(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t,
                              const char *file, unsigned max_drop_percent, const char **code,
                              char *why, size_t whylen)
{
	const char *kind = tpc_refdata_kind_name(t->kind);
	uint64_t stored = 0;
	int rc;

	*code = NULL;
	if ((rc = tpc_refdata_count(txn, dbs, t->kind, &stored)))
		return rc;
	if (t->nrows == 0) {
		*code = TPC_CODE_LOAD_EMPTY;
		snprintf(why, whylen,
		         "%s: no row after the header: replacing %s with it would remove all %llu "
		         "stored rows; nothing changed (send it with --force if that is meant)",
		         file, kind, (unsigned long long)stored);
		return 0;
	}
	/* more than max_drop_percent of the stored rows would go: drop * 100 > max * stored, in
	 * integers (no rounding: a drop of exactly the bound passes) */
	if (stored > t->nrows && (stored - t->nrows) * 100u > (uint64_t)max_drop_percent * stored) {
		*code = TPC_CODE_LOAD_DROP;
		snprintf(why, whylen,
		         "%s: %u rows where %llu %s rows are stored: the replace would remove %llu "
		         "%% of them, more than engine.max_load_drop_percent (%u %%); nothing "
		         "changed (send it with --force if that is meant)",
		         file, t->nrows, (unsigned long long)stored, kind,
		         (unsigned long long)((stored - t->nrows) * 100u / stored),
		         max_drop_percent);
	}
	return 0;
}

int tpc_refdata_upsert(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t)
{
	return put_rows(txn, dbs->dbi[t->kind], t, 0);
}

int tpc_refdata_provider(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const char *nihii,
                         tpc_ref_provider_t *out)
{
	MDB_val k = {11, (void *)nihii}, v;
	int rc = mdb_get(txn, dbs->dbi[TPC_REF_PROVIDERS], &k, &v);

	return rc ? rc : decode_row(TPC_REF_PROVIDERS, &v, out);
}

/* The row of @p id (idlen bytes) whose period covers @p day: the last row with
 * valid_from <= day, if its valid_to >= day. */
static int find_on(MDB_cursor *cur, enum tpc_ref_kind kind, const uint8_t *id, size_t idlen,
                   int32_t day, void *out)
{
	uint8_t key[32];
	uint32_t probe = ((uint32_t)day ^ 0x80000000u) + 1u;
	MDB_val k, v;
	int32_t from, to;
	int rc;

	memcpy(key, id, idlen);
	for (int i = 0; i < 4; i++)
		key[idlen + (size_t)i] = (uint8_t)(probe >> (24 - 8 * i));
	k.mv_data = key;
	k.mv_size = idlen + 4;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc)
		return rc;
	if (k.mv_size != idlen + 4 || memcmp(k.mv_data, id, idlen) != 0 ||
	    decode_row(kind, &v, out) != 0)
		return MDB_NOTFOUND;
	row_period(kind, out, &from, &to);
	if (day < from || day > to)
		return MDB_NOTFOUND;
	return 0;
}

int tpc_refdata_member_on(MDB_cursor *members, const char *niss, int32_t day, tpc_ref_member_t *out)
{
	return find_on(members, TPC_REF_MEMBERS, (const uint8_t *)niss, 11, day, out);
}

int tpc_refdata_tariff_on(MDB_cursor *tariffs, const char *code, int32_t day, tpc_ref_tariff_t *out)
{
	return find_on(tariffs, TPC_REF_TARIFFS, (const uint8_t *)code, 6, day, out);
}

int tpc_refdata_agreement_on(MDB_cursor *agreements, const char *niss, const char *code,
                             int32_t day, tpc_ref_agreement_t *out)
{
	uint8_t id[17];

	memcpy(id, niss, 11);
	memcpy(id + 11, code, 6);
	return find_on(agreements, TPC_REF_AGREEMENTS, id, 17, day, out);
}

int tpc_refdata_feed_on(MDB_cursor *cur, enum tpc_ref_kind kind, const char *niss, int32_t day,
                        void *out)
{
	return find_on(cur, kind, (const uint8_t *)niss, 11, day, out);
}

int tpc_refdata_feed_last(MDB_cursor *cur, enum tpc_ref_kind kind, const char *niss, int32_t day,
                          void *out)
{
	int rc = find_on(cur, kind, (const uint8_t *)niss, 11, day, out);
	MDB_val k, v;
	int32_t from, to;

	if (rc != MDB_NOTFOUND)
		return rc;
	/* find_on left the cursor on the last row starting on or before day, if any */
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT)))
		return MDB_NOTFOUND;
	if (k.mv_size < 15 || memcmp(k.mv_data, niss, 11) != 0 || decode_row(kind, &v, out) != 0)
		return MDB_NOTFOUND;
	row_period(kind, out, &from, &to);
	return from <= day ? 0 : MDB_NOTFOUND;
}

int tpc_refdata_mediprima_on(MDB_cursor *cur, const char *niss, int32_t day, unsigned care,
                             tpc_ref_mediprima_t *out)
{
	MDB_val k = {11, (void *)niss}, v;
	int found = 0, rc;

	/* every decision of the person, in valid_from order: keep the latest that fits */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_ref_mediprima_t r;

		if (k.mv_size < 11 || memcmp(k.mv_data, niss, 11) != 0)
			break;
		if (decode_row(TPC_REF_MEDIPRIMA, &v, &r) != 0)
			continue;
		if (r.valid_from > day)
			break;
		if (r.valid_to >= day && (r.care & care)) {
			*out = r;
			found = 1;
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	return found ? 0 : MDB_NOTFOUND;
}

int tpc_refdata_excluded(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const char *code)
{
	MDB_val k = {6, (void *)code}, v;
	int rc = mdb_get(txn, dbs->dbi[TPC_REF_FEDASIL_EXCLUSIONS], &k, &v);

	if (rc == 0)
		return 1;
	return rc == MDB_NOTFOUND ? 0 : tpc_err_from_mdb(rc);
}

int tpc_refdata_exists(MDB_cursor *cur, const void *id, size_t idlen)
{
	MDB_val k = {idlen, (void *)id}, v;

	return mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size >= idlen &&
	       memcmp(k.mv_data, id, idlen) == 0;
}

int tpc_refdata_walk(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, enum tpc_ref_kind kind,
                     int (*fn)(void *arg, const MDB_val *key, void *row), void *arg)
{
	uint8_t row[ROW_MAX];
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbs->dbi[kind], &c);

	if (rc)
		return rc;
	/* decoded as the lookups decode: the snapshot must see exactly the rows they would */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if ((rc = fn(arg, &k, decode_row(kind, &v, row) == 0 ? row : NULL)))
			break;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

size_t tpc_refdata_row_size(enum tpc_ref_kind kind)
{
	return row_size[kind];
}

size_t tpc_refdata_id_len(enum tpc_ref_kind kind)
{
	return id_len(kind);
}

void tpc_refdata_row_period(enum tpc_ref_kind kind, const void *row, int32_t *from, int32_t *to)
{
	row_period(kind, row, from, to);
}

size_t tpc_refdata_text_offset(enum tpc_ref_kind kind)
{
	return text_off[kind];
}

int tpc_refdata_count(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, enum tpc_ref_kind kind,
                      uint64_t *out)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbs->dbi[kind], &st);

	if (rc == 0)
		*out = st.ms_entries;
	return rc;
}
