/* tests/unit/clearing/test_schemes.c - who pays a line (engine/clearing/schemes.c): the order of
 * the schemes, each rule, the OSSOM age/years table row by row, the BC doubling cap, Mediprima care
 * types, Fedasil exclusions, BIS numbers. The feeds are real rows in a real LMDB file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "clearing/budget.h"
#include "common/check.h"
#include "core/error.h"
#include "refdata/refdata.h"
#include "clearing/schemes.h"
#include "testutil.h"

#include <lmdb.h>

static struct {
	char *dir;
	MDB_env *env;
	tpc_refdata_dbs_t dbs;
	tpc_arena_t *arena;
} fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	tpc_test_refdata_open(1 << 16, &fx.arena, &fx.dir, &fx.env, &fx.dbs);
}

static void teardown(void)
{
	tpc_test_store_close(&fx.arena, fx.env, fx.dir);
}

TestSuite(schemes, .init = setup, .fini = teardown, .timeout = 60);

/* Replace (or with @p upsert, merge into) one kind with a CSV text. */
static void load(const char *kind, const char *csv, int upsert)
{
	enum tpc_ref_kind k;
	tpc_ref_table_t t;
	char err[512] = "";
	MDB_txn *txn;

	cr_assert_eq(tpc_refdata_kind(kind, &k), 0, "%s", kind);
	cr_assert_eq(tpc_refdata_parse(k, kind, csv, strlen(csv), fx.arena, &t, err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, 0, &txn), 0);
	cr_assert_eq(upsert ? tpc_refdata_upsert(txn, &fx.dbs, &t)
	                    : tpc_refdata_replace(txn, &fx.dbs, &t),
	             0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* Who pays a line of @p code for @p niss on @p yyyymmdd, for care @p care; @p member: an AMI
 * members period of ct1 @p ct1 (0 = not a member on that day). */
static tpc_scheme_out_t who(const char *niss, uint32_t yyyymmdd, unsigned care, const char *code,
                            unsigned ct1)
{
	tpc_ref_member_t m;
	tpc_scheme_out_t out;
	tpc_schemes_t *s;
	tpc_refsnap_t *ref;
	MDB_txn *txn;

	memset(&m, 0, sizeof(m));
	m.ct1 = (uint16_t)ct1;
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	/* the reference data as a worker reads it: the in-memory snapshot of the committed state */
	cr_assert_eq(tpc_refsnap_build(txn, &fx.dbs, &ref), 0);
	cr_assert_eq(tpc_schemes_begin(ref, fx.arena, &s), 0);
	{
		tpc_scheme_in_t in = {niss, tpc_test_day(yyyymmdd), care,
		                      code, ct1 ? &m : NULL,        ct1 != 0};

		cr_assert_eq(tpc_schemes_resolve(s, &in, &out), 0);
	}
	/* the references a verdict names are the arena's: they outlive the snapshot */
	tpc_refsnap_release(&ref);
	mdb_txn_abort(txn);
	return out;
}

static void pays(const tpc_scheme_out_t *o, unsigned scheme, unsigned budget, unsigned share,
                 int bim)
{
	cr_assert_null(o->refuse, "refused %s", o->refuse ? o->refuse : "");
	cr_assert_str_eq(tpc_scheme_name(o->scheme), tpc_scheme_name(scheme));
	cr_assert_str_eq(tpc_budget_name(o->budget), tpc_budget_name(budget));
	cr_assert_str_eq(tpc_budget_name(o->share_budget), tpc_budget_name(share));
	cr_assert_eq(o->bim, bim);
}

/* who() of these, asserted paid by @p scheme (see pays()); the answer, for further checks. */
static tpc_scheme_out_t paid_by(const char *niss, uint32_t yyyymmdd, unsigned care,
                                const char *code, unsigned ct1, unsigned scheme, unsigned budget,
                                unsigned share, int bim)
{
	tpc_scheme_out_t o = who(niss, yyyymmdd, care, code, ct1);

	pays(&o, scheme, budget, share, bim);
	return o;
}

/* who() of these, asserted refused with @p code (@p why the failure's explanation). */
static void refused(const char *niss, uint32_t yyyymmdd, unsigned care, const char *code,
                    unsigned ct1, const char *want, const char *why)
{
	tpc_scheme_out_t o = who(niss, yyyymmdd, care, code, ct1);

	cr_assert_not_null(o.refuse, "%s %u %s: paid, want %s %s", niss, yyyymmdd, code, want, why);
	cr_assert_str_eq(o.refuse, want, "%s %u %s: %s", niss, yyyymmdd, code, why);
}

#define P1 "80010100107"
#define P2 "90020200296"
#define P3 "85030300364"
#define C  TPC_CARE_AMBULATORY

Test(schemes, ossom_minimum_age_for_each_number_of_years)
{
	static const struct {
		unsigned years;
		int age;
	} table[] = {{0, -1},  {10, -1}, {15, -1}, {16, 57}, {17, 57}, {18, 56}, {19, 56},
	             {20, 55}, {21, 55}, {22, 54}, {24, 53}, {26, 52}, {28, 51}, {29, 51},
	             {30, 50}, {31, 50}, {32, 50}, {40, 50}, {99, 50}};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		cr_assert_eq(tpc_ossom_min_age(table[i].years), table[i].age, "%u years",
		             table[i].years);
}

Test(schemes, age_counts_whole_years_to_the_birthday)
{
	cr_assert_eq(tpc_age_on(tpc_test_day(19650606), tpc_test_day(20210605)), 55);
	cr_assert_eq(tpc_age_on(tpc_test_day(19650606), tpc_test_day(20210606)), 56);
	cr_assert_eq(tpc_age_on(tpc_test_day(19640229), tpc_test_day(20210228)), 56,
	             "29 February: not yet");
	cr_assert_eq(tpc_age_on(tpc_test_day(19640229), tpc_test_day(20210301)), 57);
	cr_assert_eq(tpc_age_on(tpc_test_day(19991231), tpc_test_day(20000101)), 0);
}

/* Row by row: a contract that ended in 1995; the deferred rights open on the birthday that
 * reaches the table's age, never the day before, and never with fewer than 16 years. */
Test(schemes, ossom_deferred_rights_row_by_row)
{
	static const struct {
		unsigned years;
		int age; /* -1: never */
	} rows[] = {{15, -1}, {16, 57}, {18, 56}, {20, 55}, {22, 54},
	            {24, 53}, {26, 52}, {28, 51}, {30, 50}, {34, 50}};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char csv[256];
		/* born 1950-03-10: turns the table's age on 10 March of 1950 + age */
		uint32_t birthday =
		    rows[i].age > 0 ? (uint32_t)(1950 + rows[i].age) * 10000u + 310u : 20260310u;
		tpc_scheme_out_t o;

		snprintf(csv, sizeof(csv),
		         "niss,contract,valid_from,valid_to,birth_date,contribution_years\n"
		         "65010100477,AC,1980-01-01,1995-12-31,1950-03-10,%u\n",
		         rows[i].years);
		load("ossom", csv, 0);
		o = who("65010100477", birthday - 1, C, "101032", 0);
		cr_assert_not_null(o.refuse, "%u years: not covered the day before %u",
		                   rows[i].years, birthday);
		cr_assert_str_eq(o.refuse, "500540");
		o = who("65010100477", birthday, C, "101032", 0);
		if (rows[i].age < 0) {
			cr_assert_not_null(o.refuse, "%u years: never deferred rights",
			                   rows[i].years);
		} else {
			pays(&o, TPC_SCHEME_OSSOM, TPC_BUDGET_OSSOM, TPC_BUDGET_NONE, 0);
			cr_assert_eq(o.ossom_double, 0);
		}
	}
}

Test(schemes, ossom_contract_covers_its_period_and_bc_doubles_capped_by_the_fee)
{
	tpc_ref_tariff_t cheap = {.fee = 5000, .insurer = 2000, .insurer_bim = 2500};
	tpc_ref_tariff_t dear = {.fee = 3000, .insurer = 2400, .insurer_bim = 2900};
	tpc_scheme_out_t o;
	int64_t ins, pat;

	load("ossom",
	     "niss,contract,valid_from,valid_to,birth_date,contribution_years\n"
	     "60010100271,BC,2020-01-01,2026-12-31,1990-01-01,3\n",
	     0);
	o = paid_by("60010100271", 20261108, C, "101032", 0, TPC_SCHEME_OSSOM, TPC_BUDGET_OSSOM,
	            TPC_BUDGET_NONE, 0);
	cr_assert_eq(o.ossom_double, 1);
	tpc_schemes_amounts(&o, &cheap, 1, &ins, &pat);
	cr_assert_eq(ins, 4000, "2 x 2000 stays under the fee");
	cr_assert_eq(pat, 1000);
	tpc_schemes_amounts(&o, &dear, 2, &ins, &pat);
	cr_assert_eq(ins, 6000, "2 x 2 x 2400 = 9600 capped at 2 x 3000");
	cr_assert_eq(pat, 0);
	tpc_schemes_amounts(&o, &dear, -1, &ins, &pat);
	cr_assert_eq(ins, -3000, "a credit note is capped the same way");
	cr_assert_eq(pat, 0);
	/* after the contract, 3 years: no deferred rights */
	refused("60010100271", 20270101, C, "101032", 0, "500540", "");
}

Test(schemes, the_first_scheme_in_the_order_wins)
{
	load("detention", "niss,prison,valid_from,valid_to\n" P1 ",Lantin,2026-11-01,2026-11-04\n",
	     0);
	load("fedasil",
	     "niss,valid_from,valid_to,structure\n" P1 ",2026-01-01,,Centre A\n" P2
	     ",2026-01-01,,Centre B\n",
	     0);
	load("mediprima",
	     "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	     "D1,0212000032," P2 ",2026-01-01,,all,1\nD2,0212000032," P3 ",2026-01-01,,all,1\n",
	     0);
	load("war_victims", "niss,category,valid_from,valid_to\n" P3 ",civil,2000-01-01,\n", 0);
	{
		tpc_scheme_out_t o = paid_by(P1, 20261103, C, "101032", 110, TPC_SCHEME_DETENTION,
		                             TPC_BUDGET_AMI, TPC_BUDGET_JUSTICE, 0);

		cr_assert_str_eq(o.ref, "Lantin");
		o = paid_by(P1, 20261105, C, "101032", 110, TPC_SCHEME_FEDASIL, TPC_BUDGET_FEDASIL,
		            TPC_BUDGET_FEDASIL, 1);
		o = paid_by(P2, 20261105, C, "101032", 0, TPC_SCHEME_FEDASIL, TPC_BUDGET_FEDASIL,
		            TPC_BUDGET_FEDASIL, 1);
		o = paid_by(P3, 20261105, C, "101032", 110, TPC_SCHEME_MEDIPRIMA, TPC_BUDGET_SPPIS,
		            TPC_BUDGET_SPPIS, 1);
		cr_assert_str_eq(o.org, "0212000032");
	}
}

Test(schemes, detainee_and_war_victim_insurer_part_follows_the_member_status)
{
	load("detention", "niss,prison,valid_from,valid_to\n" P1 ",Lantin,2026-11-01,\n", 0);
	load("war_victims", "niss,category,valid_from,valid_to\n" P2 ",military,2000-01-01,\n", 0);
	paid_by(P1, 20261103, C, "101032", 121, TPC_SCHEME_DETENTION, TPC_BUDGET_AMI,
	        TPC_BUDGET_JUSTICE, 1);
	paid_by(P1, 20261103, C, "101032", 0, TPC_SCHEME_DETENTION, TPC_BUDGET_AMI,
	        TPC_BUDGET_JUSTICE, 0);
	paid_by(P2, 20261103, C, "101032", 111, TPC_SCHEME_WAR_VICTIMS, TPC_BUDGET_AMI,
	        TPC_BUDGET_WARVICTIMS, 1);
}

Test(schemes, mediprima_needs_a_decision_for_the_care_type)
{
	tpc_scheme_out_t o;

	load("mediprima",
	     "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	     "H1,0212000032," P3 ",2026-11-01,2026-11-15,hospital,1\n"
	     "P1,0207123407," P3 ",2026-11-01,2026-11-30,pharmacy,0\n"
	     "A1,0207123407," P2 ",2026-11-01,2026-11-30,all,0\n",
	     0);
	o = paid_by(P3, 20261114, TPC_CARE_HOSPITAL, "101032", 0, TPC_SCHEME_MEDIPRIMA,
	            TPC_BUDGET_SPPIS, TPC_BUDGET_SPPIS, 1);
	cr_assert_str_eq(o.ref, "H1");
	refused(P3, 20261116, TPC_CARE_HOSPITAL, "101032", 0, "500540",
	        "the hospital decision ended on 11-15");
	o = paid_by(P3, 20261116, TPC_CARE_PHARMACY, "101032", 0, TPC_SCHEME_MEDIPRIMA,
	            TPC_BUDGET_SPPIS, TPC_BUDGET_NONE, 1);
	cr_assert_str_eq(o.ref, "P1");
	refused(P3, 20261110, TPC_CARE_AMBULATORY, "101032", 0, "500540", "no ambulatory decision");
	o = paid_by(P2, 20261110, TPC_CARE_HOSPITAL, "101032", 0, TPC_SCHEME_MEDIPRIMA,
	            TPC_BUDGET_SPPIS, TPC_BUDGET_NONE, 1);
}

Test(schemes, fedasil_never_pays_an_excluded_code)
{
	load("fedasil", "niss,valid_from,valid_to,structure\n" P2 ",2026-01-01,,Centre B\n", 0);
	load("fedasil_exclusions", "code\n475075\n", 0);
	refused(P2, 20261105, C, "475075", 0, "500431", "");
	paid_by(P2, 20261105, C, "101032", 0, TPC_SCHEME_FEDASIL, TPC_BUDGET_FEDASIL,
	        TPC_BUDGET_FEDASIL, 1);
}

Test(schemes, a_bis_number_is_a_niss_like_any_other)
{
	cr_assert(tpc_check_niss("85450300169", 11), "month 45: a BIS number");
	load("detention", "niss,prison,valid_from,valid_to\n85450300169,Lantin,2026-11-01,\n", 0);
	paid_by("85450300169", 20261103, C, "101032", 0, TPC_SCHEME_DETENTION, TPC_BUDGET_AMI,
	        TPC_BUDGET_JUSTICE, 0);
}

Test(schemes, nobody_pays_for_an_unknown_or_uncovered_person)
{
	load("detention", "niss,prison,valid_from,valid_to\n" P1 ",Lantin,2026-11-01,2026-11-04\n",
	     0);
	refused(P1, 20261106, C, "101032", 0, "500540",
	        "known to the detention feed, not covered then");
	refused(P2, 20261106, C, "101032", 0, "500820", "unknown everywhere");
	paid_by(P2, 20261106, C, "101032", 110, TPC_SCHEME_AMI, TPC_BUDGET_AMI, TPC_BUDGET_NONE, 0);
}

Test(schemes, an_upsert_changes_one_period_and_keeps_the_others)
{
	tpc_scheme_out_t o;

	load("detention",
	     "niss,prison,valid_from,valid_to\n" P1 ",Lantin,2026-11-01,2026-11-04\n" P1
	     ",Lantin,2026-11-10,\n" P2 ",Haren,2026-01-01,\n",
	     0);
	load("detention", "niss,prison,valid_from,valid_to\n" P1 ",Lantin,2026-11-10,2026-11-15\n",
	     1);
	o = who(P1, 20261103, C, "101032", 110);
	cr_assert_eq(o.scheme, TPC_SCHEME_DETENTION, "the first period stays");
	o = who(P1, 20261116, C, "101032", 110);
	cr_assert_eq(o.scheme, TPC_SCHEME_AMI, "the second ended on 11-15");
	o = who(P2, 20261116, C, "101032", 0);
	cr_assert_eq(o.scheme, TPC_SCHEME_DETENTION, "another person's rows untouched");
}

Test(schemes, feed_files_are_checked_row_by_row)
{
	static const struct {
		const char *kind, *csv, *where;
	} bad[] = {
	    {"mediprima",
	     "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	     "D1,0212000033," P3 ",2026-01-01,,all,1\n",
	     "2:4:"},
	    {"mediprima",
	     "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	     "D1,0212000032," P3 ",2026-01-01,,dental,1\n",
	     "2:39:"},
	    {"mediprima",
	     "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"
	     "D1,0212000032," P3 ",2026-01-01,,all,2\n",
	     "2:43:"},
	    {"ossom",
	     "niss,contract,valid_from,valid_to,birth_date,contribution_years\n" P1
	     ",CC,2020-01-01,,1960-01-01,20\n",
	     "2:13:"},
	    {"detention",
	     "niss,prison,valid_from,valid_to\n" P1 ",L,2026-11-01,2026-11-10\n" P1
	     ",L,2026-11-05,\n",
	     "overlaps"},
	    {"fedasil_exclusions", "code\n475075\n475075\n", "duplicate code"},
	    {"war_victims", "niss,category,valid_from,valid_to\n12345678901,c,2020-01-01,\n",
	     "2:1:"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum tpc_ref_kind k;
		tpc_ref_table_t t;
		char err[512] = "";

		cr_assert_eq(tpc_refdata_kind(bad[i].kind, &k), 0);
		cr_assert_eq(tpc_refdata_parse(k, "f.csv", bad[i].csv, strlen(bad[i].csv), fx.arena,
		                               &t, err, sizeof(err)),
		             TPC_EINVAL, "row %zu accepted", i);
		cr_assert_not_null(strstr(err, bad[i].where), "row %zu: '%s' lacks '%s'", i, err,
		                   bad[i].where);
	}
}
