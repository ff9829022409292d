/* engine/refdata/refdata.c - reference data: CSV parsing and LMDB storage (see refdata.h).
 *
 * Parsing checks every field of every row and stops at the first bad one, so a load is all or
 * nothing. Rows are then sorted by key, which both finds overlapping validity periods (adjacent
 * rows of one id) and lets the writer insert with MDB_APPEND after dropping the kind.
 */
#include "refdata/refdata.h"

#include "common/check.h"
#include "core/error.h"
#include "payments/sepa.h"

#include <ctype.h>
#include <stdarg.h>
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
#define FIELD_MAX  128

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
	unsigned line;
	char *err;
	size_t errlen;
	char field[MAX_FIELDS][FIELD_MAX];
	unsigned col[MAX_FIELDS]; /* 1-based column (character) where each field starts */
	int nfields;
};

static int fail(struct parser *ps, int field, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u:%u: %s", ps->file, ps->line,
	         field >= 0 ? ps->col[field] : 1u, reason);
	return TPC_EINVAL;
}

/* Read one CSV record (RFC 4180 quoting, LF or CRLF). @return 1 read, 0 at end, <0 error. */
static int next_record(struct parser *ps)
{
	const char *start;
	unsigned col = 1;
	int f = 0;

	if (ps->p >= ps->end)
		return 0;
	ps->line++;
	start = ps->p;
	for (;;) {
		size_t n = 0;
		int quoted = 0;

		if (f == MAX_FIELDS)
			return fail(ps, -1, "too many fields (at most %d)", MAX_FIELDS - 1);
		ps->col[f] = col;
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
			if (n + 1 >= FIELD_MAX)
				return fail(ps, f, "field longer than %d characters",
				            FIELD_MAX - 1);
			ps->field[f][n++] = c;
			ps->p++;
		}
		if (quoted)
			return fail(ps, f, "unterminated quoted field");
		ps->field[f][n] = 0;
		f++;
		col = (unsigned)(ps->p - start) + 2;
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

/* A free label (prison, structure, category): 1..cap-1 printable characters. */
static int parse_label(struct parser *ps, int f, char *dst, size_t cap, const char *what)
{
	const char *s = ps->field[f];
	size_t n = strlen(s);

	if (n == 0 || n >= cap)
		return fail(ps, f, "%s '%s' must be 1 to %zu characters", what, s, cap - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return fail(ps, f, "%s has a control character", what);
	memcpy(dst, s, n + 1);
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
	if (!ps->field[1][0] || strlen(ps->field[1]) >= sizeof(r->name))
		return fail(ps, 1, "name must be 1 to %zu characters", sizeof(r->name) - 1);
	memcpy(r->name, ps->field[1], strlen(ps->field[1]) + 1);
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
	if (!ps->field[4][0] || strlen(ps->field[4]) >= sizeof(r->reference))
		return fail(ps, 4, "reference must be 1 to %zu characters",
		            sizeof(r->reference) - 1);
	memcpy(r->reference, ps->field[4], strlen(ps->field[4]) + 1);
	return 0;
}

/* The decision id is the line's scheme reference, totalled per decision in the SPP IS
 * statement (engine/ledger/statement.c): a short token of a few safe characters. */
static int parse_decision_id(struct parser *ps, int f, char *dst)
{
	const char *id = ps->field[f];
	size_t n = strlen(id);

	if (n < 1 || n > 16)
		return fail(ps, f, "decision_id '%s' must be 1 to 16 characters", id);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("-/.", id[i]))
			return fail(ps, f, "decision_id '%s': letters, digits, - / . only", id);
	memcpy(dst, id, n + 1);
	return 0;
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

	if ((rc = parse_decision_id(ps, 0, r->decision)))
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
	return parse_label(ps, 3, r->structure, sizeof(r->structure), "structure");
}

static int parse_exclusion(struct parser *ps, void *row)
{
	return parse_code(ps, 0, ((tpc_ref_exclusion_t *)row)->code);
}

/* The feeds shaped niss,LABEL,valid_from,valid_to (detention: the prison; war victims: the
 * category). */
static int parse_person_label(struct parser *ps, char *niss, char *label, size_t cap,
                              const char *what, int32_t *from, int32_t *to)
{
	int rc;

	if ((rc = parse_niss(ps, 0, niss)) || (rc = parse_label(ps, 1, label, cap, what)))
		return rc;
	return parse_period(ps, 2, from, to);
}

static int parse_detention(struct parser *ps, void *row)
{
	tpc_ref_detention_t *r = row;

	return parse_person_label(ps, r->niss, r->prison, sizeof(r->prison), "prison",
	                          &r->valid_from, &r->valid_to);
}

static int parse_war_victim(struct parser *ps, void *row)
{
	tpc_ref_war_victim_t *r = row;

	return parse_person_label(ps, r->niss, r->category, sizeof(r->category), "category",
	                          &r->valid_from, &r->valid_to);
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
		/* the decision id last: one person's decisions may overlap (one per care) */
		memset(key + n + 4, 0, 16);
		memcpy(key + n + 4, ((const tpc_ref_mediprima_t *)row)->decision,
		       strnlen(((const tpc_ref_mediprima_t *)row)->decision, 16));
		return n + 4 + 16;
	}
	return n + 4;
}

static size_t id_len(enum tpc_ref_kind kind)
{
	static const size_t n[TPC_REF__COUNT] = {11, 11, 6, 17, 31, 11, 6, 11, 11, 11};

	return n[kind];
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
	uint8_t ka[40], kb[40];
	size_t n = row_key(sort_kind, a, ka);

	row_key(sort_kind, b, kb);
	return memcmp(ka, kb, n);
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
		return fail(ps, -1, "header is '%.100s', expected '%s'", got, headers[kind]);
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
	uint8_t ka[40], kb[40];
	int32_t af, at, bf, bt;
	int unique = kind == TPC_REF_PROVIDERS || kind == TPC_REF_FEDASIL_EXCLUSIONS ||
	             kind == TPC_REF_MEDIPRIMA;

	row_key(kind, a, ka);
	row_key(kind, b, kb);
	if (memcmp(ka, kb, id_len(kind)) != 0)
		return 0;
	row_period(kind, a, &af, &at);
	row_period(kind, b, &bf, &bt);
	return unique || bf <= at;
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
	struct parser ps = {.file = file, .p = csv, .end = csv + len, .err = err, .errlen = errlen};
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

	for (int k = 0; k < TPC_REF__COUNT; k++)
		if ((rc = mdb_dbi_open(txn, names[k], MDB_CREATE, &dbs->dbi[k])))
			return rc;
	return 0;
}

int tpc_refdata_replace(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t)
{
	MDB_dbi dbi = dbs->dbi[t->kind];
	size_t sz = row_size[t->kind];
	uint8_t key[40];
	MDB_val k, v;
	int rc;

	if ((rc = mdb_drop(txn, dbi, 0)))
		return rc;
	for (uint32_t i = 0; i < t->nrows; i++) {
		const uint8_t *row = (const uint8_t *)t->rows + i * sz;

		k.mv_data = key;
		k.mv_size = row_key(t->kind, row, key);
		v.mv_data = (void *)row;
		v.mv_size = sz;
		if ((rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND)))
			return rc;
	}
	return 0;
}

int tpc_refdata_upsert(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t)
{
	MDB_dbi dbi = dbs->dbi[t->kind];
	size_t sz = row_size[t->kind];
	uint8_t key[40];
	MDB_val k, v;
	int rc;

	for (uint32_t i = 0; i < t->nrows; i++) {
		const uint8_t *row = (const uint8_t *)t->rows + i * sz;

		k.mv_data = key;
		k.mv_size = row_key(t->kind, row, key);
		v.mv_data = (void *)row;
		v.mv_size = sz;
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)))
			return rc;
	}
	return 0;
}

int tpc_refdata_provider(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const char *nihii,
                         tpc_ref_provider_t *out)
{
	MDB_val k = {11, (void *)nihii}, v;
	int rc = mdb_get(txn, dbs->dbi[TPC_REF_PROVIDERS], &k, &v);

	if (rc == 0 && v.mv_size != sizeof(*out))
		rc = MDB_NOTFOUND;
	if (rc == 0)
		memcpy(out, v.mv_data, sizeof(*out));
	return rc;
}

/* The row of @p id (idlen bytes) whose period covers @p day: the last row with
 * valid_from <= day, if its valid_to >= day. LMDB aligns values on two bytes only, so the row
 * is copied out into @p out (row_size[kind] bytes) rather than read in place. */
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
	    v.mv_size != row_size[kind])
		return MDB_NOTFOUND;
	memcpy(out, v.mv_data, row_size[kind]);
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

	if (rc != MDB_NOTFOUND)
		return rc;
	/* find_on left the cursor on the last row starting on or before day, if any */
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT)))
		return MDB_NOTFOUND;
	if (k.mv_size < 15 || memcmp(k.mv_data, niss, 11) != 0 || v.mv_size != row_size[kind])
		return MDB_NOTFOUND;
	memcpy(out, v.mv_data, row_size[kind]);
	{
		int32_t from, to;

		row_period(kind, out, &from, &to);
		return from <= day ? 0 : MDB_NOTFOUND;
	}
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
		if (v.mv_size != sizeof(r))
			continue;
		memcpy(&r, v.mv_data, sizeof(r));
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

int tpc_refdata_count(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, enum tpc_ref_kind kind,
                      uint64_t *out)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbs->dbi[kind], &st);

	if (rc == 0)
		*out = st.ms_entries;
	return rc;
}
