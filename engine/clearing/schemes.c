/* engine/clearing/schemes.c - the order of the schemes and each one's rule (see schemes.h).
 *
 * docs/schemes.md is the reference for every rule below and its worked examples. Two things
 * hold the whole function together:
 * - First match wins, and CAAMI's own insured come last: a detainee or a war victim may be an
 *   ordinary member too (the detainee of docs/schemes.md is), and must get the scheme that
 *   pays the patient share while it covers the date, not plain AMI.
 * - A person not covered on the date is refused 500540 when known anywhere (members or any
 *   feed, any period) and 500820 when unknown: each miss below records whether the person
 *   exists in that feed, so the code names the right failure.
 */
#include "clearing/schemes.h"

#include "clearing/budget.h"
#include "common/check.h"
#include "core/error.h"

#include <string.h>

/* One sending's lookups: the reference data snapshot it was judged against, and the last
 * references interned (the per-line path allocates nothing it can avoid). */
struct tpc_schemes {
	const tpc_refsnap_t *ref;
	tpc_arena_t *arena;
	const char *last_ref, *last_org; /* interned: most lines of an invoice share them */
};

static const char *const names[TPC_SCHEME__COUNT] = {
    [TPC_SCHEME_NONE] = "",
    [TPC_SCHEME_AMI] = "AMI",
    [TPC_SCHEME_DETENTION] = "DETENTION",
    [TPC_SCHEME_FEDASIL] = "FEDASIL",
    [TPC_SCHEME_MEDIPRIMA] = "MEDIPRIMA",
    [TPC_SCHEME_WAR_VICTIMS] = "WAR_VICTIMS",
    [TPC_SCHEME_OSSOM] = "OSSOM",
};

const char *tpc_scheme_name(unsigned scheme)
{
	return scheme < TPC_SCHEME__COUNT ? names[scheme] : "";
}

/* OSSOM deferred rights (docs/schemes.md): none under 16 contribution years, then 57 less one
 * year per two years beyond 16, never below 50. */
int tpc_ossom_min_age(unsigned contribution_years)
{
	int age;

	if (contribution_years < 16)
		return -1;
	age = 57 - (int)((contribution_years - 16) / 2);
	return age < 50 ? 50 : age;
}

/* Whole years, compared as yyyymmdd so no calendar arithmetic is needed: someone born on
 * 29 February (0229) is not yet older on 28 February (0228) and is on 1 March (0301), the rule
 * docs/schemes.md states and tests/unit/clearing/test_schemes.c checks. */
int tpc_age_on(int32_t birth, int32_t day)
{
	uint32_t b = tpc_check_days_to_yyyymmdd(birth), d = tpc_check_days_to_yyyymmdd(day);
	int age = (int)(d / 10000) - (int)(b / 10000);

	if (d % 10000 < b % 10000)
		age--; /* birthday not reached yet this year */
	return age;
}

int tpc_schemes_begin(const tpc_refsnap_t *ref, tpc_arena_t *arena, tpc_schemes_t **out)
{
	tpc_schemes_t *s = tpc_arena_alloc(arena, sizeof(*s), 8);

	if (!s)
		return TPC_ENOMEM;
	memset(s, 0, sizeof(*s));
	s->ref = ref;
	s->arena = arena;
	*out = s;
	return 0;
}

/* An arena copy of @p v, the previous one when equal. The reference must outlive the snapshot
 * (the ledger writer stores it in "scheme_refs"), so it is copied; consecutive lines of one
 * invoice usually share it, so one copy per distinct reference is enough. */
static const char *intern(tpc_schemes_t *s, const char **last, const char *v)
{
	if (*last && strcmp(*last, v) == 0)
		return *last;
	*last = tpc_arena_strndup(s->arena, v, strlen(v));
	return *last;
}

static void set(tpc_scheme_out_t *o, unsigned scheme, unsigned budget, unsigned share_budget,
                int bim)
{
	o->scheme = (uint16_t)scheme;
	o->budget = (uint8_t)budget;
	o->share_budget = (uint8_t)share_budget;
	o->bim = (uint8_t)bim;
}

/* BIM by the member's ct1 on the day (ends in 1), ordinary when not a member then. Detention
 * and war victims pay the insurer part "as AMI", so they use the member's rate too. */
static int member_bim(const tpc_scheme_in_t *in)
{
	return in->member && in->member->ct1 % 10 == 1;
}

int tpc_schemes_resolve(tpc_schemes_t *s, const tpc_scheme_in_t *in, tpc_scheme_out_t *o)
{
	const tpc_refsnap_t *ref = s->ref;
	union {
		const void *any;
		const tpc_ref_detention_t *detention;
		const tpc_ref_fedasil_t *fedasil;
		const tpc_ref_mediprima_t *mediprima;
		const tpc_ref_war_victim_t *war;
		const tpc_ref_ossom_t *ossom;
	} row;
	int known = in->member_known;

	memset(o, 0, sizeof(*o));
	/* 1. detention: the insurer part as for any insured, the patient share by SPF Justice */
	if (tpc_refsnap_feed_on(ref, TPC_REF_DETENTION, in->niss, in->day, &row.any) == 0) {
		set(o, TPC_SCHEME_DETENTION, TPC_BUDGET_AMI, TPC_BUDGET_JUSTICE, member_bim(in));
		o->ref = intern(s, &s->last_ref, row.detention->prison);
		return o->ref ? 0 : TPC_ENOMEM;
	}
	known |= tpc_refsnap_exists(ref, TPC_REF_DETENTION, in->niss);
	/* 2. Fedasil: everything at the BIM rate, patient share included; excluded codes never */
	if (tpc_refsnap_feed_on(ref, TPC_REF_FEDASIL, in->niss, in->day, &row.any) == 0) {
		if (tpc_refsnap_excluded(ref, in->code)) {
			o->refuse = "500431"; /* third-party payment forbidden for this code */
			return 0;
		}
		set(o, TPC_SCHEME_FEDASIL, TPC_BUDGET_FEDASIL, TPC_BUDGET_FEDASIL, 1);
		o->ref = intern(s, &s->last_ref, row.fedasil->structure);
		return o->ref ? 0 : TPC_ENOMEM;
	}
	known |= tpc_refsnap_exists(ref, TPC_REF_FEDASIL, in->niss);
	/* 3. Mediprima: a CPAS decision for the date and the care type, SPP IS pays */
	if (tpc_refsnap_mediprima_on(ref, in->niss, in->day, in->care, &row.mediprima) == 0) {
		set(o, TPC_SCHEME_MEDIPRIMA, TPC_BUDGET_SPPIS,
		    row.mediprima->covers_patient_share ? TPC_BUDGET_SPPIS : TPC_BUDGET_NONE, 1);
		o->ref = intern(s, &s->last_ref, row.mediprima->decision);
		/* the CPAS, for SPP IS's monthly statement per CPAS (ledger "scheme_refs") */
		o->org = intern(s, &s->last_org, row.mediprima->cpas_bce);
		return o->ref && o->org ? 0 : TPC_ENOMEM;
	}
	known |= tpc_refsnap_exists(ref, TPC_REF_MEDIPRIMA, in->niss);
	/* 4. war victims: the insurer part as AMI, the patient share by the war victims budget */
	if (tpc_refsnap_feed_on(ref, TPC_REF_WAR_VICTIMS, in->niss, in->day, &row.any) == 0) {
		set(o, TPC_SCHEME_WAR_VICTIMS, TPC_BUDGET_AMI, TPC_BUDGET_WARVICTIMS,
		    member_bim(in));
		o->ref = intern(s, &s->last_ref, row.war->category);
		return o->ref ? 0 : TPC_ENOMEM;
	}
	known |= tpc_refsnap_exists(ref, TPC_REF_WAR_VICTIMS, in->niss);
	/* 5. OSSOM: a contract covering the date, or the deferred rights after it; hence the
	 *    last contract begun by the date, not only one covering it */
	if (tpc_refsnap_feed_last(ref, TPC_REF_OSSOM, in->niss, in->day, &row.any) == 0) {
		int active = in->day <= row.ossom->valid_to;
		int min_age = tpc_ossom_min_age(row.ossom->contribution_years);

		if (active ||
		    (min_age >= 0 && tpc_age_on(row.ossom->birth_date, in->day) >= min_age)) {
			set(o, TPC_SCHEME_OSSOM, TPC_BUDGET_OSSOM, TPC_BUDGET_NONE, 0);
			o->ossom_double = row.ossom->contract == 'B';
			o->ref = row.ossom->contract == 'B' ? "BC" : "AC";
			return 0;
		}
	}
	known |= tpc_refsnap_exists(ref, TPC_REF_OSSOM, in->niss);
	/* 6. CAAMI's own insured */
	if (in->member) {
		set(o, TPC_SCHEME_AMI, TPC_BUDGET_AMI, TPC_BUDGET_NONE, member_bim(in));
		return 0;
	}
	o->refuse = known ? "500540" : "500820";
	return 0;
}

/* The expected amounts (tariff.c compares the invoiced ones with them: 501940, 502741). The
 * patient share is whatever of the fee the insurer part leaves, so the two always add up to
 * units x fee, to the cent. */
void tpc_schemes_amounts(const tpc_scheme_out_t *v, const tpc_ref_tariff_t *t, int32_t units,
                         int64_t *insurer, int64_t *patient)
{
	int64_t fee = (int64_t)units * t->fee;
	int64_t ins = (int64_t)units * (v->bim ? t->insurer_bim : t->insurer);

	/* a credit note's units are negative, and so are fee and insurer part: there the cap
	 * "never above the fee" reads "never below it" */
	if (v->ossom_double) {
		ins *= 2; /* contract BC: doubled, never above the fee actually charged */
		if ((units >= 0 && ins > fee) || (units < 0 && ins < fee))
			ins = fee;
	}
	*insurer = ins;
	*patient = fee - ins;
}
