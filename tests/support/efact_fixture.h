/* tests/support/efact_fixture.h - the base eFact sending of the eFact adapter suites
 * (test_efact.c, test_efact_answer.c): built with the writer (gen/efact_gen.h), edited zone by
 * zone (resealing the record control when the test targets another rule) and decoded through
 * tpc_efact_adapter with a host over a tpc_arena, as a worker does; the findings are then
 * checked with efx_expect (code, where, letter, record, position and the outcome the letter
 * implies).
 *
 * Positions are those of shared/domain/efact.md section 5 (1-based; record k starts at byte
 * 227 + (k - 1) * 350). The record ordinals of the base sending are drawn at the top of
 * tests/unit/adapters/efact/test_efact.c.
 */
#ifndef TPC_EFACT_FIXTURE_H
#define TPC_EFACT_FIXTURE_H

#include "core/arena.h"
#include "efact/efact.h"
#include "gen/efact_gen.h"

#include <stddef.h>
#include <stdint.h>

/* Record ordinals of the base sending. */
enum {
	R10 = 1,
	R20A = 2,
	R50A0 = 3,
	R51A0 = 4,
	R50A1 = 5,
	R80A = 6,
	R20B = 7,
	R50B0 = 8,
	R80B = 9,
	R20C = 10,
	R50C0 = 11,
	R80C = 12,
	R90 = 13,
	R95_300 = 14,
	R95_600 = 15,
	R96 = 16,
	NREC = 16,
};

/* Lines of the base sending, as indexes into efx.out.lines. */
enum { LA0 = 0, LA1 = 1, LB0 = 2, LC0 = 3 };

/* Insurer totals of the base sending on account A and on account B. */
#define TOTAL_A (2400 + 1234 + 999)
#define TOTAL_B 3920

typedef struct efx {
	tpc_arena_t *arena;
	uint8_t *file; /* the payload being decoded (malloc'd, exact size: ASan sees overreads) */
	size_t len;
	tpc_sending_t out;              /* the last decoded sending */
	tpc_efact_sending_in_t base;    /* the base sending, as given to the writer */
	tpc_efact_invoice_in_t invs[3]; /* its invoices A, B, C */
	tpc_efact_line_in_t la[2], lb[1], lc[1];
} efx_t;

extern efx_t efx;

/** Criterion .init / .fini: the base sending written into efx.file, a fresh arena. */
void efx_setup(void);
void efx_teardown(void);

/** Fill a writer line (an invoice: tpc_efact_invoice() in gen/efact_gen.h). */
void efx_line_in(tpc_efact_line_in_t *l, const char *code, uint32_t date, int32_t units,
                 int64_t ins, int64_t pat, const char *performer, const char *ref);

/** Replace efx.file with the writer's output for @p s. */
void efx_write(const tpc_efact_sending_in_t *s);
/** Write the base sending again (undoing every edit). */
void efx_build_base(void);

/** The number of whole records of efx.file, and record @p k (1-based ordinal). */
uint32_t efx_nrec(void);
char *efx_rec(uint32_t k);
/** A record 10..90 (sequence number and record control), not 95/96. */
int efx_numbered(const char *r);

/** Write @p s at 1-based position @p pos of record @p k, without resealing. */
void efx_set_raw(uint32_t k, unsigned pos, const char *s);
/** The same, then recompute the record control (records 10..90 only) so that only the rule
 *  under test can fire. */
void efx_set(uint32_t k, unsigned pos, const char *s);
/** Write @p s at 1-based position @p pos of the 227-character header (segment 200 = 1..67,
 *  segment 300 = 68..227). */
void efx_set_head(unsigned pos, const char *s);
/** Add @p delta to the signed / unsigned zone at @p pos of record @p k (and reseal). */
void efx_add_signed(uint32_t k, unsigned pos, unsigned width, int64_t delta);
void efx_add_uint(uint32_t k, unsigned pos, unsigned width, uint64_t delta);
/** Break the record control (349-350) of record @p k. */
void efx_break_control(uint32_t k);

/** Decode efx.file into efx.out (arena reset first) with these host bounds (0 = none). */
int efx_decode_bounded(uint32_t max_inv, uint32_t max_lines);
/** The same without bounds, asserting success. */
void efx_decode_ok(void);

/** Findings of efx.out: their number, and all of them as text for assertion messages. */
unsigned efx_total_findings(void);
const char *efx_listing(void);

enum efx_where { ON_SENDING, ON_INVOICE, ON_LINE, ANYWHERE };

#define ANY_RECORD UINT32_MAX
#define ANY_POS    UINT16_MAX

struct efx_hit {
	const tpc_finding_t *f;
	enum efx_where w;
	uint32_t idx;
};

/** The first finding @p code of efx.out (f NULL when there is none). */
struct efx_hit efx_find(const char *code);
/** A B finding on the file, segment 200/300, record 10, 90, 95 or 96 blocks the file (920999);
 *  a B finding on records 20..80 refuses every invoice instead (efact.h). */
int efx_blocks_file(const char *code);
int efx_all_invoices_refused(void);

/** Is @p code among the findings, on @p w (index @p idx), with @p letter, @p record and @p pos,
 *  and the outcome its letter implies? With @p only it must be the one finding of the sending.
 *  @return 1, or 0 with the reason in @p why. */
int efx_verify(const char *code, enum efx_where w, uint32_t idx, char letter, uint32_t record,
               uint16_t pos, int only, char *why, size_t n);
/** efx_verify as an assertion. */
void efx_expect(const char *code, enum efx_where w, uint32_t idx, char letter, uint32_t record,
                uint16_t pos, int only);

#define ONLY(code, w, idx, letter, record, pos) efx_expect(code, w, idx, letter, record, pos, 1)
#define HAS(code, w, idx, letter, record, pos)  efx_expect(code, w, idx, letter, record, pos, 0)

#endif
