/* tests/support/efact_fixture.c - the base eFact sending and its editing (see efact_fixture.h). */
#include "efact_fixture.h"

#include "common/check.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

efx_t efx;

void efx_line_in(tpc_efact_line_in_t *l, const char *code, uint32_t date, int32_t units,
                 int64_t ins, int64_t pat, const char *performer, const char *ref)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->code, sizeof(l->code), "%s", code);
	l->date = date;
	l->units = units;
	l->insurer_cents = ins;
	l->patient_cents = pat;
	snprintf(l->performer, sizeof(l->performer), "%s", performer);
	snprintf(l->reference, sizeof(l->reference), "%s", ref);
}

void efx_write(const tpc_efact_sending_in_t *s)
{
	free(efx.file);
	efx.file = NULL;
	cr_assert_eq(tpc_efact_write(s, &efx.file, &efx.len), 0);
}

void efx_build_base(void)
{
	efx_write(&efx.base);
	cr_assert_eq(efx.len, (size_t)TPC_EFACT_HEADER + NREC * TPC_EFACT_RECORD);
}

void efx_setup(void)
{
	memset(&efx, 0, sizeof(efx));
	efx_line_in(&efx.la[0], "101032", 20261102, 1, 2400, 600, "17385467004", "A1");
	snprintf(efx.la[0].commitment, sizeof(efx.la[0].commitment), "NET-COMMIT-0001");
	efx_line_in(&efx.la[1], "102771", 20261103, 2, 3920, 1500, "17385467004", "A2");
	efx.la[1].date_last = 20261105;
	efx.la[1].supplement_cents = 250;
	efx.la[1].account = 1;
	efx_line_in(&efx.lb[0], "102852", 20261110, 1, 1234, 0, "10065828004", "B1");
	efx_line_in(&efx.lc[0], "475075", 20261115, 3, 999, 1, "", "C1");

	tpc_efact_invoice(&efx.invs[0], "86103130262", "000000000101", "300", efx.la, 2);
	tpc_efact_invoice(&efx.invs[1], "05031412595", "000000000102", "300", efx.lb, 1);
	efx.invs[1].kind = '1';
	efx.invs[1].sex = '2';
	efx.invs[1].admission = 20261101;
	efx.invs[1].discharge = 20261112;
	efx.invs[1].ct1 = efx.invs[1].ct2 = 111;
	tpc_efact_invoice(&efx.invs[2], "75031412581", "000000000103", "600", efx.lc, 1);

	tpc_efact_sending_head(&efx.base, "20261163000007", 7,
	                       TPC_EFACT_HEAD_BCE | TPC_EFACT_HEAD_BANK);
	snprintf(efx.base.contact, sizeof(efx.base.contact), "DUPONT");
	efx.base.invoices = efx.invs;
	efx.base.ninvoices = 3;

	cr_assert_eq(tpc_arena_new(4096, 0, &efx.arena), 0);
	efx_build_base();
}

void efx_teardown(void)
{
	free(efx.file);
	efx.file = NULL;
	tpc_arena_free(&efx.arena);
}

/* ---- editing the payload ------------------------------------------------------------------- */

uint32_t efx_nrec(void)
{
	return efx.len < TPC_EFACT_HEADER
	           ? 0
	           : (uint32_t)((efx.len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD);
}

char *efx_rec(uint32_t k)
{
	cr_assert(k >= 1 && k <= efx_nrec(), "record %u of %u", k, efx_nrec());
	return (char *)efx.file + TPC_EFACT_HEADER + (size_t)(k - 1) * TPC_EFACT_RECORD;
}

int efx_numbered(const char *r)
{
	int t = (r[0] - '0') * 10 + (r[1] - '0');

	return r[0] >= '0' && r[0] <= '9' && r[1] >= '0' && r[1] <= '9' && t >= 10 && t <= 90;
}

/* Reseal record @p k after an edit unless it is a 95 or 96 (they carry no record control). */
static void reseal_numbered(uint32_t k)
{
	if (efx_numbered(efx_rec(k)))
		tpc_efact_reseal(efx_rec(k));
}

void efx_set_raw(uint32_t k, unsigned pos, const char *s)
{
	cr_assert(pos >= 1 && pos - 1 + strlen(s) <= TPC_EFACT_RECORD);
	memcpy(efx_rec(k) + pos - 1, s, strlen(s));
}

void efx_set(uint32_t k, unsigned pos, const char *s)
{
	efx_set_raw(k, pos, s);
	reseal_numbered(k);
}

void efx_set_head(unsigned pos, const char *s)
{
	cr_assert(pos >= 1 && pos - 1 + strlen(s) <= TPC_EFACT_HEADER);
	memcpy(efx.file + pos - 1, s, strlen(s));
}

void efx_add_signed(uint32_t k, unsigned pos, unsigned width, int64_t delta)
{
	int64_t v = 0;

	cr_assert_eq(tpc_check_parse_signed(efx_rec(k) + pos - 1, width, &v), 0);
	tpc_check_put_signed(efx_rec(k) + pos - 1, width, v + delta);
	reseal_numbered(k);
}

void efx_add_uint(uint32_t k, unsigned pos, unsigned width, uint64_t delta)
{
	uint64_t v = 0;

	cr_assert_eq(tpc_check_parse_uint(efx_rec(k) + pos - 1, width, &v), 0);
	tpc_check_put_uint(efx_rec(k) + pos - 1, width, v + delta);
	reseal_numbered(k);
}

void efx_break_control(uint32_t k)
{
	char v[3];

	tpc_check_put_uint(v, 2, tpc_check_record_control(efx_rec(k), 348) % 97 + 1);
	v[2] = 0;
	efx_set_raw(k, 349, v);
}

/* ---- decoding and findings ------------------------------------------------------------------ */

int efx_decode_bounded(uint32_t max_inv, uint32_t max_lines)
{
	tpc_host_t host = {tpc_arena_host_alloc, efx.arena, max_inv, max_lines, NULL};

	tpc_arena_reset(efx.arena);
	memset(&efx.out, 0, sizeof(efx.out));
	return tpc_efact_adapter.decode(NULL, efx.file, efx.len, &host, &efx.out);
}

void efx_decode_ok(void)
{
	int rc = efx_decode_bounded(0, 0);

	cr_assert_eq(rc, 0, "decode returned %d", rc);
}

unsigned efx_total_findings(void)
{
	const tpc_sending_t *o = &efx.out;
	unsigned n = o->nfindings;

	for (uint32_t i = 0; i < o->ninvoices; i++)
		n += o->invoices[i].nfindings;
	for (uint32_t i = 0; i < o->nlines; i++)
		n += o->lines[i].nfindings;
	return n;
}

/* Every finding as " where:code/letter@record.pos". */
const char *efx_listing(void)
{
	static char buf[4096];
	const tpc_sending_t *o = &efx.out;
	size_t n = 0;

#define LIST(where, idx, f)                                                                        \
	do {                                                                                       \
		if (n < sizeof(buf) - 64)                                                          \
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s%u:%s/%c@%u.%u",       \
			                      where, (unsigned)(idx), (f)->code, (f)->letter,      \
			                      (f)->record, (f)->pos);                              \
	} while (0)
	buf[0] = 0;
	for (uint32_t i = 0; i < o->nfindings; i++)
		LIST("S", 0, &o->findings[i]);
	for (uint32_t i = 0; i < o->ninvoices; i++)
		for (unsigned k = 0; k < o->invoices[i].nfindings; k++)
			LIST("I", i, &o->invoices[i].findings[k]);
	for (uint32_t i = 0; i < o->nlines; i++)
		for (unsigned k = 0; k < o->lines[i].nfindings; k++)
			LIST("L", i, &o->lines[i].findings[k]);
#undef LIST
	return n ? buf : " (none)";
}

struct efx_hit efx_find(const char *code)
{
	const tpc_sending_t *o = &efx.out;
	struct efx_hit h = {NULL, ANYWHERE, 0};

	for (uint32_t i = 0; i < o->nfindings && !h.f; i++)
		if (strcmp(o->findings[i].code, code) == 0)
			h = (struct efx_hit){&o->findings[i], ON_SENDING, 0};
	for (uint32_t i = 0; i < o->ninvoices && !h.f; i++)
		for (unsigned k = 0; k < o->invoices[i].nfindings && !h.f; k++)
			if (strcmp(o->invoices[i].findings[k].code, code) == 0)
				h = (struct efx_hit){&o->invoices[i].findings[k], ON_INVOICE, i};
	for (uint32_t i = 0; i < o->nlines && !h.f; i++)
		for (unsigned k = 0; k < o->lines[i].nfindings && !h.f; k++)
			if (strcmp(o->lines[i].findings[k].code, code) == 0)
				h = (struct efx_hit){&o->lines[i].findings[k], ON_LINE, i};
	return h;
}

static const char *where_name(enum efx_where w)
{
	return w == ON_SENDING   ? "sending"
	       : w == ON_INVOICE ? "invoice"
	       : w == ON_LINE    ? "line"
	                         : "?";
}

int efx_blocks_file(const char *code)
{
	return code[0] == 'T' || memcmp(code, "10", 2) == 0 || memcmp(code, "90", 2) == 0;
}

int efx_all_invoices_refused(void)
{
	for (uint32_t i = 0; i < efx.out.ninvoices; i++)
		if (efx.out.invoices[i].outcome != TPC_OUTCOME_REFUSED)
			return 0;
	return 1;
}

int efx_verify(const char *code, enum efx_where w, uint32_t idx, char letter, uint32_t record,
               uint16_t pos, int only, char *why, size_t n)
{
	const tpc_sending_t *o = &efx.out;
	struct efx_hit h = efx_find(code);

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		int k_ = snprintf(why, n, __VA_ARGS__);                                            \
		if (k_ >= 0 && (size_t)k_ < n)                                                     \
			snprintf(why + k_, n - (size_t)k_, "; findings:%s", efx_listing());        \
		return 0;                                                                          \
	} while (0)
	if (!h.f)
		FAIL("no finding %s", code);
	if (w != ANYWHERE && (h.w != w || h.idx != idx))
		FAIL("%s on %s %u, expected on %s %u", code, where_name(h.w), h.idx, where_name(w),
		     idx);
	if (h.f->letter != letter)
		FAIL("%s: letter %c, expected %c", code, h.f->letter, letter);
	if (tpc_efact_letter(code) != letter)
		FAIL("%s: table letter %c, expected %c", code, tpc_efact_letter(code), letter);
	if (!tpc_efact_adapter.describe(NULL, code))
		FAIL("%s not described", code);
	if (record != ANY_RECORD && h.f->record != record)
		FAIL("%s: record %u, expected %u", code, h.f->record, record);
	if (pos != ANY_POS && h.f->pos != pos)
		FAIL("%s: pos %u, expected %u", code, h.f->pos, pos);
	if (letter == 'B' && efx_blocks_file(code) && !o->blocked)
		FAIL("%s blocks the file but the sending is not blocked", code);
	if (letter == 'B' && !efx_blocks_file(code) && !o->blocked && !efx_all_invoices_refused())
		FAIL("%s is blocking but an invoice is not refused", code);
	if (letter == 'F' && h.w == ON_INVOICE && o->invoices[h.idx].outcome != TPC_OUTCOME_REFUSED)
		FAIL("%s (F) leaves its invoice open", code);
	if (letter == 'R' && h.w == ON_LINE && o->lines[h.idx].outcome != TPC_OUTCOME_REFUSED)
		FAIL("%s (R) leaves its line open", code);
	if (only && efx_total_findings() != 1)
		FAIL("%s: %u findings", code, efx_total_findings());
	if (only && o->blocked != (letter == 'B' && efx_blocks_file(code)))
		FAIL("%s: blocked %d", code, o->blocked);
#undef FAIL
	return 1;
}

void efx_expect(const char *code, enum efx_where w, uint32_t idx, char letter, uint32_t record,
                uint16_t pos, int only)
{
	static char why[8192];

	cr_assert(efx_verify(code, w, idx, letter, record, pos, only, why, sizeof(why)), "%s", why);
}
