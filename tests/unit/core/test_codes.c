/* tests/unit/core/test_codes.c - the registries of codes and request types against their docs.
 *
 * Against docs/errors.md: TPC_CODE_LIST (engine/core/codes.h) and the canonical and eAttest
 * adapters' own codes. Against docs/formats/efact.md: the eFact adapter's EFACT_CODES
 * (adapters/efact/efact_codes.c). Against the RequestType enum of proto/tpclear.proto:
 * TPC_REQUEST_TYPES (engine/pipeline/request.h). Each table is written by hand in two places on
 * purpose (the doc explains, the code answers); these tests keep them from drifting apart again.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical/canonical.h"
#include "clearing/tariff.h"
#include "core/codes.h"
#include "eattest/eattest.h"
#include "efact/efact.h"
#include "pipeline/request.h"
#include "testutil.h"

#define MAX_CODES 512

static const struct {
	const char *code;
	const char *constant; /* TPC_CODE_<name>, which must spell the same code */
	char letter;
	const char *text;
} registry[] = {
#define X(name, code, letter, text) {code, TPC_CODE_##name, letter, text},
    TPC_CODE_LIST(X)
#undef X
};

#define NREGISTRY (sizeof(registry) / sizeof(registry[0]))

/* ---- helpers -------------------------------------------------------------------------------- */

/* A doc of the source tree as one NUL-terminated string (the caller frees it). */
static char *read_doc(const char *rel)
{
	size_t len;
	char *text = (char *)tpc_test_slurp(tpc_test_src(rel), &len);

	cr_assert_not_null(text, "cannot read %s (is TPC_SOURCE_DIR set?)", tpc_test_src(rel));
	return text;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* tpclear's own code: "T" and five digits. */
static int own_code(const char *c)
{
	return strlen(c) == 6 && c[0] == 'T' && all_digits(c + 1, 5);
}

/* An official eFact code: six digits, RRZZNN. */
static int official_code(const char *c)
{
	return strlen(c) == 6 && all_digits(c, 6);
}

/* The 6-character tokens between backticks in [p, end): `T00001`, `500402`, `xx0201`. Other
 * backticked text (`tpclear.Envelope`) is not a code and is skipped. @return how many. */
static size_t codes_in(const char *p, const char *end, char out[][7], size_t cap)
{
	size_t n = 0;

	while (p < end && (p = memchr(p, '`', (size_t)(end - p))) != NULL) {
		const char *close = memchr(p + 1, '`', (size_t)(end - p - 1));

		if (!close)
			break;
		if (close - p - 1 == 6 && n < cap) {
			memcpy(out[n], p + 1, 6);
			out[n][6] = 0;
			if (own_code(out[n]) || official_code(out[n]) ||
			    (memcmp(out[n], "xx", 2) == 0 && all_digits(out[n] + 2, 4)))
				n++;
		}
		p = close + 1;
	}
	return n;
}

/* The cell @p i (0-based) of a table row "| a | b | c |", trimmed, into @p out. @return 0, or -1
 * when the row has fewer cells. */
static int cell(const char *row, const char *end, int i, char *out, size_t cap)
{
	const char *p = row, *q;

	for (int k = 0; k <= i; k++) {
		p = memchr(p, '|', (size_t)(end - p));
		if (!p)
			return -1;
		p++;
	}
	q = memchr(p, '|', (size_t)(end - p));
	if (!q)
		return -1;
	while (p < q && *p == ' ')
		p++;
	while (q > p && q[-1] == ' ')
		q--;
	snprintf(out, cap, "%.*s", (int)(q - p), p);
	return 0;
}

static const char *line_end(const char *p)
{
	const char *e = strchr(p, '\n');

	return e ? e : p + strlen(p);
}

/* ---- tpclear's own codes -------------------------------------------------------------------- */

Test(codes, registry_is_well_formed_and_unique)
{
	for (size_t i = 0; i < NREGISTRY; i++) {
		const char *c = registry[i].code;

		/* the engine's range is T000nn; adapters number theirs T2/T3/T4 (docs/errors.md) */
		cr_assert(own_code(c) && memcmp(c, "T00", 3) == 0, "%s: not T00 + 3 digits", c);
		cr_assert_str_eq(registry[i].constant, c);
		cr_assert(strchr("-BFRES", registry[i].letter) != NULL, "%s: letter %c", c,
		          registry[i].letter);
		cr_assert_gt(strlen(registry[i].text), 0, "%s: no text", c);
		cr_assert_str_eq(tpc_codes_describe(c), registry[i].text);
		for (size_t k = i + 1; k < NREGISTRY; k++)
			cr_assert_str_neq(c, registry[k].code, "%s listed twice", c);
	}
	cr_assert_null(tpc_codes_describe("T99999"));
	cr_assert_null(tpc_codes_describe(""));
	cr_assert_null(tpc_codes_describe(NULL));
}

Test(codes, errors_md_documents_every_code_and_only_those)
{
	char *doc = read_doc("docs/errors.md");
	unsigned seen[NREGISTRY] = {0};
	char code[16], letter[8];

	/* the engine's rows are the table rows whose first cell is a T000nn code */
	for (const char *p = doc; *p; p = *line_end(p) ? line_end(p) + 1 : line_end(p)) {
		const char *end = line_end(p);
		size_t i;

		if (strncmp(p, "| `T00", 6) != 0)
			continue;
		cr_assert_eq(cell(p, end, 0, code, sizeof(code)), 0);
		cr_assert_eq(cell(p, end, 1, letter, sizeof(letter)), 0, "%s: no letter cell",
		             code);
		cr_assert(strlen(code) == 8 && code[7] == '`', "first cell '%s' is not one code",
		          code);
		memmove(code, code + 1, 6); /* `T00001` -> T00001 */
		code[6] = 0;
		cr_assert(own_code(code), "'%s' is not T + 5 digits", code);
		for (i = 0; i < NREGISTRY && strcmp(registry[i].code, code) != 0; i++)
			;
		cr_assert_lt(i, NREGISTRY, "docs/errors.md documents %s, which TPC_CODE_LIST lacks",
		             code);
		cr_assert_eq(seen[i]++, 0, "docs/errors.md documents %s twice", code);
		cr_assert_eq(strlen(letter), 1, "%s: letter cell '%s'", code, letter);
		cr_assert_eq(letter[0], registry[i].letter,
		             "%s: docs/errors.md says %c, the list %c", code, letter[0],
		             registry[i].letter);
	}
	for (size_t i = 0; i < NREGISTRY; i++)
		cr_assert_eq(seen[i], 1, "%s is not in docs/errors.md", registry[i].code);
	free(doc);
}

/* The canonical (T200nn) and eAttest (T400nn) adapters keep their codes in private tables: probe
 * their describe() over the whole range instead, which finds a code either side forgot. */
static void check_adapter_range(const char *doc, const tpc_adapter_t *a, const char *prefix)
{
	char code[8], row[16];

	for (int i = 0; i < 100; i++) {
		int described, listed;

		snprintf(code, sizeof(code), "%s%02d", prefix, i);
		snprintf(row, sizeof(row), "| `%s` |", code);
		described = a->describe(NULL, code) != NULL;
		listed = strstr(doc, row) != NULL;
		cr_assert_eq(described, listed, "%s: %s by the %s adapter, %s in docs/errors.md",
		             code, described ? "described" : "unknown", a->name,
		             listed ? "documented" : "missing");
	}
}

Test(codes, errors_md_documents_the_canonical_and_eattest_codes)
{
	char *doc = read_doc("docs/errors.md");

	check_adapter_range(doc, &tpc_canonical_adapter, "T200");
	check_adapter_range(doc, &tpc_eattest_adapter, "T400");
	free(doc);
}

/* ---- the official codes the eFact adapter emits --------------------------------------------- */

Test(codes, efact_codes_are_well_formed_and_apart_from_the_engine)
{
	const char *codes[MAX_CODES];
	size_t n = tpc_efact_codes(codes, MAX_CODES);

	cr_assert_lt(n, MAX_CODES);
	for (size_t i = 0; i < n; i++) {
		/* official RRZZNN, or the adapter's own T3xxxx where the official list has none */
		cr_assert(official_code(codes[i]) || (own_code(codes[i]) && codes[i][1] == '3'),
		          "%s: neither 6 digits nor T3 + 4 digits", codes[i]);
		cr_assert_null(tpc_codes_describe(codes[i]), "%s is also an engine code", codes[i]);
		for (size_t k = i + 1; k < n; k++)
			cr_assert_str_neq(codes[i], codes[k], "%s listed twice", codes[i]);
	}
}

/* The section "## Checks and codes" of docs/formats/efact.md: [*start, *end). */
static void checks_section(const char *doc, const char **start, const char **end)
{
	const char *s = strstr(doc, "\n## Checks and codes\n");

	cr_assert_not_null(s, "docs/formats/efact.md has no section 'Checks and codes'");
	*start = s + 1;
	*end = strstr(*start + 3, "\n## ");
	if (!*end)
		*end = *start + strlen(*start);
}

/* Whether @p code is among the doc's @p n codes; `xx0201` stands for every RR0201 (the doc
 * writes the not-numeric sequence number of every record type that way). */
static int documented(const char *code, char doc[][7], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(doc[i], code) == 0 ||
		    (memcmp(doc[i], "xx", 2) == 0 && strcmp(doc[i] + 2, code + 2) == 0))
			return 1;
	return 0;
}

Test(codes, efact_md_documents_every_adapter_code_and_only_those)
{
	char *doc = read_doc("docs/formats/efact.md");
	static char found[MAX_CODES * 2][7];
	const char *codes[MAX_CODES], *start, *end;
	size_t n = tpc_efact_codes(codes, MAX_CODES), nfound = 0;

	/* only the section's table rows: its prose also names the engine's clearing codes
	 * (engine/clearing/tariff.c), which the adapter does not emit */
	checks_section(doc, &start, &end);
	for (const char *p = start; p < end; p = line_end(p) + 1) {
		if (*p == '|')
			nfound += codes_in(p, line_end(p), found + nfound,
			                   sizeof(found) / sizeof(found[0]) - nfound);
	}
	cr_assert_gt(nfound, 100, "found only %zu codes in docs/formats/efact.md", nfound);
	for (size_t i = 0; i < nfound; i++) {
		int known = 0;

		for (size_t k = 0; k < n && !known; k++)
			known = documented(codes[k], &found[i], 1);
		cr_assert(known, "docs/formats/efact.md lists %s, which the adapter never emits",
		          found[i]);
	}
	for (size_t k = 0; k < n; k++)
		cr_assert(documented(codes[k], found, nfound), "%s is not in docs/formats/efact.md",
		          codes[k]);
	free(doc);
}

Test(codes, efact_md_gives_the_adapter_letter_of_its_own_codes)
{
	char *doc = read_doc("docs/formats/efact.md");
	const char *start, *end;
	char first[64], letter[8], own[4][7];
	unsigned rows = 0;

	/* the T3xxxx table: | `T30008` / `T30009` | B | meaning | */
	checks_section(doc, &start, &end);
	for (const char *p = start; p < end; p = line_end(p) + 1) {
		const char *e = line_end(p);
		size_t n;

		if (strncmp(p, "| `T3", 5) != 0)
			continue;
		cr_assert_eq(cell(p, e, 0, first, sizeof(first)), 0);
		cr_assert_eq(cell(p, e, 1, letter, sizeof(letter)), 0);
		n = codes_in(first, first + strlen(first), own, 4);
		cr_assert_gt(n, 0, "row without a code: %.*s", (int)(e - p), p);
		for (size_t i = 0; i < n; i++, rows++)
			cr_assert_eq(letter[0], tpc_efact_letter(own[i]),
			             "%s: docs/formats/efact.md says %s, the adapter %c", own[i],
			             letter, tpc_efact_letter(own[i]));
	}
	/* every T3xxxx code of the adapter, once: as many rows' codes as the adapter has */
	{
		const char *codes[MAX_CODES];
		size_t n = tpc_efact_codes(codes, MAX_CODES), own_n = 0;

		for (size_t i = 0; i < n; i++)
			own_n += own_code(codes[i]);
		cr_assert_eq(rows, own_n, "%u T3xxxx codes documented with a letter, %zu emitted",
		             rows, own_n);
	}
	free(doc);
}

/* ---- request types -------------------------------------------------------------------------- */

Test(codes, every_proto_request_type_has_its_name)
{
	const ProtobufCEnumDescriptor *d = &tpclear__request_type__descriptor;
	static const char *const listed[] = {
#define X(id, name) name,
	    TPC_REQUEST_TYPES(X)
#undef X
	};

	/* the proto's REQUEST_EATTEST is named "eattest": the name is the value's, lower case */
	cr_assert_eq(d->n_values, sizeof(listed) / sizeof(listed[0]),
	             "proto/tpclear.proto has %u request types, TPC_REQUEST_TYPES %zu", d->n_values,
	             sizeof(listed) / sizeof(listed[0]));
	for (unsigned i = 0; i < d->n_values; i++) {
		const char *proto = d->values[i].name;
		char want[32];
		size_t k;

		cr_assert_eq(strncmp(proto, "REQUEST_", 8), 0, "%s", proto);
		for (k = 0; proto[8 + k] && k < sizeof(want) - 1; k++)
			want[k] = (char)tolower((unsigned char)proto[8 + k]);
		want[k] = 0;
		cr_assert_str_eq(tpc_request_type_name((Tpclear__RequestType)d->values[i].value),
		                 want);
	}
	cr_assert_str_eq(tpc_request_type_name((Tpclear__RequestType)99), "request");
	cr_assert_str_eq(tpc_request_type_name((Tpclear__RequestType)-1), "request");
}

/* ---- clearing's official codes (engine/clearing/tariff.h, TPC_CLEARING_CODES) --------------- */

static const struct {
	const char *code;
	char letter;
	const char *reason;
} clearing[] = {
#define X(code, letter, reason) {code, letter, reason},
    TPC_CLEARING_CODES(X)
#undef X
};

#define NCLEARING (sizeof(clearing) / sizeof(clearing[0]))

/* A code of clearing: "RRZZNN", digits but for the fifth place ("5004K2"). */
static int clearing_code(const char *c)
{
	return strlen(c) == 6 && all_digits(c, 4) && isalnum((unsigned char)c[4]) &&
	       isdigit((unsigned char)c[5]);
}

Test(codes, clearing_codes_are_well_formed_unique_and_described)
{
	for (size_t i = 0; i < NCLEARING; i++) {
		cr_assert(clearing_code(clearing[i].code), "clearing code '%s' is not RRZZNN",
		          clearing[i].code);
		cr_assert(strchr("BFRS", clearing[i].letter), "%s: letter '%c'", clearing[i].code,
		          clearing[i].letter);
		cr_assert_str_eq(tpc_tariff_describe(clearing[i].code), clearing[i].reason);
		cr_assert_null(tpc_codes_describe(clearing[i].code), "%s is also an engine code",
		               clearing[i].code);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(clearing[i].code, clearing[j].code, "%s listed twice",
			                  clearing[i].code);
	}
}

/* Every quoted six-character code written in the .c files of engine/clearing/ ("500820") must be in
 * the list, or a finding would go out with no reason and a guessed letter (500431 did, before the
 * list existed). The sources are read as text: a new check that forgets the list fails here. */
Test(codes, every_code_clearing_writes_is_in_its_list)
{
	static const char *const files[] = {"engine/clearing/tariff.c", "engine/clearing/schemes.c",
	                                    "engine/clearing/clear.c"};
	size_t found = 0;

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char *text = read_doc(files[f]);

		for (const char *p = text; (p = strchr(p, '"')) != NULL; p++) {
			char c[7];

			if (strlen(p) < 8 || p[7] != '"')
				continue;
			memcpy(c, p + 1, 6);
			c[6] = 0;
			if (!clearing_code(c))
				continue;
			found++;
			cr_assert_not_null(tpc_tariff_describe(c),
			                   "%s writes code %s, not in TPC_CLEARING_CODES", files[f],
			                   c);
			p += 7;
		}
		free(text);
	}
	cr_assert_geq(found, NCLEARING - 1,
	              "only %zu codes found in engine/clearing: the scan is broken", found);
}

Test(codes, the_docs_name_every_clearing_code)
{
	char *efact = read_doc("docs/formats/efact.md");
	char *schemes = read_doc("docs/schemes.md");

	for (size_t i = 0; i < NCLEARING; i++) {
		char quoted[9];

		snprintf(quoted, sizeof(quoted), "`%s`", clearing[i].code);
		cr_assert(strstr(efact, quoted) || strstr(schemes, quoted),
		          "%s is in neither docs/formats/efact.md nor docs/schemes.md",
		          clearing[i].code);
	}
	free(efact);
	free(schemes);
}
