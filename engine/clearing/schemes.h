/* engine/clearing/schemes.h - who pays a line: the schemes, their order and their rules.
 *
 * DESIGN
 * - One place. The order in which schemes are tried and each scheme's rule live in
 *   engine/clearing/schemes.c, in one table (docs/schemes.md explains every rule with a worked
 *   example). A line is evaluated on its own service date, first match wins:
 *
 *   scheme      matches when (feed row covering the date)   insurer part       patient share
 *   detention   detention                                   AMI rate -> AMI    -> JUSTICE
 *   fedasil     fedasil (code not in fedasil_exclusions,    BIM rate           -> FEDASIL
 *               else refused 500431)                        -> FEDASIL
 *   mediprima   a decision covering the date and care type  BIM rate -> SPPIS  -> SPPIS when
 *               (hospital / ambulatory / pharmacy; all)                        the decision
 *                                                                              covers it
 *   war_victims war_victims                                 AMI rate -> AMI    -> WARVICTIMS
 *   ossom       a contract covering the date, or deferred   Belgian scale,     patient
 *               rights after it (>= 16 years, old enough)   BC doubles it      (capped: fee)
 *                                                           -> OSSOM
 *   ami         a members period covering the date          by ct1 -> AMI      patient
 *
 *   "AMI rate" is the member's (BIM when ct1 ends in 1) when the person is a member on that
 *   date, the ordinary rate otherwise. No match: refused 500540 (known person, not covered on
 *   that date) or 500820 (unknown person).
 * - Per sending, one lookup state (cursors on the feed sub-databases, inside the sending's read
 *   snapshot) in the sending's arena; the per-line path allocates only the scheme reference
 *   strings it keeps, once per distinct reference.
 */
#ifndef TPC_SCHEMES_H
#define TPC_SCHEMES_H

#include "core/arena.h"
#include "refdata/refdata.h"
#include "refdata/snapshot.h"

#include <lmdb.h>
#include <stdint.h>

/** Schemes (tpc_line_t.scheme). Stored in the ledger: never renumber, only append. */
enum tpc_scheme {
	TPC_SCHEME_NONE = 0,
	TPC_SCHEME_AMI = 1,         /* CAAMI's own insured */
	TPC_SCHEME_DETENTION = 2,   /* detainees: the patient share by SPF Justice */
	TPC_SCHEME_FEDASIL = 3,     /* applicants for international protection */
	TPC_SCHEME_MEDIPRIMA = 4,   /* urgent medical aid decided by a CPAS, SPP IS budget */
	TPC_SCHEME_WAR_VICTIMS = 5, /* the patient share by the war victims budget */
	TPC_SCHEME_OSSOM = 6,       /* overseas social security */
	TPC_SCHEME__COUNT
};

typedef struct tpc_schemes tpc_schemes_t;

/** What the rule needs to know of one line. All borrowed. */
typedef struct tpc_scheme_in {
	const char *niss;               /* 11 digits, NUL-terminated */
	int32_t day;                    /* service date, days since epoch */
	unsigned care;                  /* one enum tpc_care bit */
	const char *code;               /* 6 digits */
	const tpc_ref_member_t *member; /* the person's members period on the day, or NULL */
	int member_known;               /* a members row exists for the person (any period) */
} tpc_scheme_in_t;

/** Who pays. */
typedef struct tpc_scheme_out {
	uint16_t scheme;      /* enum tpc_scheme; NONE when refused */
	uint8_t budget;       /* enum tpc_budget charged with the insurer part */
	uint8_t share_budget; /* enum tpc_budget that also pays the patient share, 0 = patient */
	const char *refuse;   /* finding code refusing the line, or NULL */
	const char *ref;      /* the scheme's reference (decision, prison...), arena, or NULL */
	const char *org;      /* Mediprima: the CPAS BCE, arena, or NULL */
	/* how the insurer part is computed (tpc_schemes_amounts) */
	uint8_t bim;          /* BIM rate */
	uint8_t ossom_double; /* OSSOM contract BC: insurer part doubled, capped at the fee */
} tpc_scheme_out_t;

/** The lookups of one sending in the reference data snapshot @p ref (borrowed: held by the
 *  caller as long as @p out is used).
 *  @param[out] out  in @p arena, gone with it: nothing to close
 *  @return 0 or TPC_ENOMEM. */
int tpc_schemes_begin(const tpc_refsnap_t *ref, tpc_arena_t *arena, tpc_schemes_t **out);

/** Decide which scheme pays a line (see the DESIGN comment).
 *  @return 0 (out filled, possibly with a refusal) or TPC_ENOMEM. */
int tpc_schemes_resolve(tpc_schemes_t *s, const tpc_scheme_in_t *in, tpc_scheme_out_t *out);

/** Expected amounts of a line of @p units units under the verdict @p v and tariff row @p t:
 *  insurer part and patient share (units x fee - insurer part), in cents. */
void tpc_schemes_amounts(const tpc_scheme_out_t *v, const tpc_ref_tariff_t *t, int32_t units,
                         int64_t *insurer, int64_t *patient);

/** Name of a scheme ("AMI", "MEDIPRIMA"...), "" for none. */
const char *tpc_scheme_name(unsigned scheme);

/** OSSOM deferred health-care rights: the minimum age for @p contribution_years
 *  (57 - floor((years - 16) / 2), never below 50), or -1 below 16 years. */
int tpc_ossom_min_age(unsigned contribution_years);

/** Age in whole years on @p day of a person born on @p birth (days since epoch). */
int tpc_age_on(int32_t birth, int32_t day);

#endif /* TPC_SCHEMES_H */
