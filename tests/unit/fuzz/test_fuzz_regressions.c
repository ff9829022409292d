/* tests/unit/fuzz/test_fuzz_regressions.c - every input a fuzz harness (tests/fuzz,
 * docs/fuzzing.md) ever failed on, replayed through the same decoder path, under the plain and the
 * ASan+UBSan builds of tests/run.
 *
 * Inputs live in tests/data/fuzz-regressions/<harness>/, one file each, named for what they
 * broke. Each harness directory has a replay test below that feeds every file of it the way the
 * engine does (decode, judge, the refusal threshold, the native result answer), so a new
 * finding needs only its file; the known ones also have a test that says what must now happen.
 * Under UBSan (-fno-sanitize-recover) the signed overflows they caused abort the test.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "canonical/canonical.h"
#include "clearing/clear.h"
#include "eattest/eattest.h"
#include "efact/efact.h"
#include "core/error.h"
#include "refdata/refdata.h"
#include "testutil.h"
#include "tpclear.pb-c.h"

static tpc_arena_t *arena;
static tpc_host_t host;

static void setup(void)
{
	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 100000, 1000000, NULL};
}

static void teardown(void)
{
	tpc_arena_free(&arena);
}

TestSuite(fuzz_regressions, .init = setup, .fini = teardown, .timeout = 60);

/* The worker's path for one payload (engine/pipeline/worker.c, without the ledger). */
static void clear_one(const tpc_adapter_t *a, const uint8_t *buf, size_t len, tpc_sending_t *s)
{
	tpc_blob_t answer;
	int rc;

	memset(s, 0, sizeof(*s));
	tpc_arena_reset(arena);
	rc = a->decode(NULL, buf, len, &host, s);
	cr_assert(rc == 0 || rc == TPC_ADAPTER_ENOMEM || rc == TPC_ADAPTER_ETOOBIG, "decode: %d",
	          rc);
	if (rc)
		return;
	tpc_clear_judge(s, NULL);
	cr_assert_geq(tpc_clear_threshold(s, 5, &host, NULL), 0);
	memset(&answer, 0, sizeof(answer));
	rc = a->encode_answer(NULL, buf, len, s, TPC_ANSWER_RESULT, &host, &answer);
	cr_assert(rc == 0 || rc == TPC_ADAPTER_ENOTSUP, "encode_answer: %d", rc);
}

/* Feed every file of tests/data/fuzz-regressions/@p harness to @p feed; @return how many. */
static int replay(const char *harness, void (*feed)(const uint8_t *, size_t, const char *))
{
	char rel[256];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(rel, sizeof(rel), "tests/data/fuzz-regressions/%s", harness);
	d = opendir(tpc_test_src(rel));
	if (!d)
		return 0; /* no finding for that harness yet */
	while ((e = readdir(d))) {
		char file[512];
		unsigned char *buf;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", rel, e->d_name);
		buf = tpc_test_slurp(tpc_test_src(file), &len);
		cr_assert_not_null(buf, "cannot read %s", file);
		feed(buf, len, e->d_name);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void feed_efact(const uint8_t *buf, size_t len, const char *name)
{
	tpc_sending_t s;

	(void)name;
	clear_one(&tpc_efact_adapter, buf, len, &s);
}

static void feed_canonical(const uint8_t *buf, size_t len, const char *name)
{
	tpc_sending_t s;

	(void)name;
	clear_one(&tpc_canonical_adapter, buf, len, &s);
}

static void feed_eattest(const uint8_t *buf, size_t len, const char *name)
{
	tpc_sending_t s;

	(void)name;
	clear_one(&tpc_eattest_adapter, buf, len, &s);
}

static void feed_refdata(const uint8_t *buf, size_t len, const char *name)
{
	char err[512];
	tpc_ref_table_t t;

	(void)name;
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		int rc;

		tpc_arena_reset(arena);
		rc = tpc_refdata_parse((enum tpc_ref_kind)k, "regression.csv", (const char *)buf,
		                       len, arena, &t, err, sizeof(err));
		cr_assert(rc == 0 || rc == TPC_EINVAL || rc == TPC_ENOMEM);
	}
}

Test(fuzz_regressions, every_input_replays)
{
	static const char *const kinds[] = {"refdata_providers",
	                                    "refdata_members",
	                                    "refdata_tariffs",
	                                    "refdata_agreements",
	                                    "refdata_mediprima",
	                                    "refdata_fedasil",
	                                    "refdata_fedasil_exclusions",
	                                    "refdata_detention",
	                                    "refdata_war_victims",
	                                    "refdata_ossom"};
	int n = 0;

	n += replay("efact", feed_efact);
	n += replay("canonical", feed_canonical);
	n += replay("eattest", feed_eattest);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		n += replay(kinds[i], feed_refdata);
	cr_assert_geq(n, 4, "the regression inputs of tests/data/fuzz-regressions were not found");
}

/* ---- the known findings -------------------------------------------------------------------- */

static int has_code(const tpc_finding_t *f, unsigned n, const char *code)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(f[i].code, code) == 0)
			return 1;
	return 0;
}

static void load_and_clear(const tpc_adapter_t *a, const char *rel, tpc_sending_t *s)
{
	size_t len;
	unsigned char *buf = tpc_test_slurp(tpc_test_src(rel), &len);

	cr_assert_not_null(buf, "cannot read %s", rel);
	clear_one(a, buf, len, s);
	free(buf);
}

/* Clear tests/data/fuzz-regressions/eattest/@p name into @p s: its line must be refused with
 * @p code (the sanity check that caught the overflow). */
static void eattest_refused(const char *name, const char *code, tpc_sending_t *s)
{
	char rel[160];

	snprintf(rel, sizeof(rel), "tests/data/fuzz-regressions/eattest/%s", name);
	load_and_clear(&tpc_eattest_adapter, rel, s);
	cr_assert_geq(s->nlines, 1, "%s: no line", name);
	cr_assert(has_code(s->lines[0].findings, s->lines[0].nfindings, code), "%s: no %s", name,
	          code);
	cr_assert_eq(s->lines[0].outcome, TPC_OUTCOME_REFUSED);
}

/* adapters/eattest ea_decode negated the units of a cancellation: -1 * INT32_MIN. */
Test(fuzz_regressions, eattest_cancellation_of_int32_min_units)
{
	tpc_sending_t s;

	eattest_refused("cancel-units-int32-min", "T40002", &s);
	cr_assert_eq(s.nlines, 1);
	cr_assert_eq(s.lines[0].units, INT32_MIN);
}

/* ... and the fee paid: -1 * INT64_MIN. */
Test(fuzz_regressions, eattest_cancellation_of_int64_min_fee)
{
	tpc_sending_t s;

	eattest_refused("cancel-fee-int64-min", "T40003", &s);
	cr_assert_eq(s.lines[0].patient_cents, 0);
}

/* ... and the real cost of care abroad: -1 * INT64_MIN. */
Test(fuzz_regressions, eattest_cancellation_of_int64_min_real_cost)
{
	tpc_sending_t s;

	eattest_refused("cancel-abroad-cost-int64-min", "T40005", &s);
	cr_assert_eq(s.lines[0].real_cost_cents, 0);
}

/* An amount over 11 digits is refused and not carried: the engine's 75 % of a real cost
 * (engine/clearing/tariff.c) and its sums would overflow on it. */
Test(fuzz_regressions, eattest_amounts_over_eleven_digits)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;
	uint8_t buf[256];
	size_t n;
	tpc_sending_t s;

	a.number = "EA-1";
	a.provider = "17385467004";
	a.patient = "60050500573";
	a.code = "101032";
	a.date = 20261110;
	a.units = 1;
	a.fee_paid_cents = 100000000000LL; /* 12 digits */
	a.country = "FR";
	a.real_cost_cents = INT64_MAX;
	n = tpclear__attestation__pack(&a, buf);
	clear_one(&tpc_eattest_adapter, buf, n, &s);
	cr_assert_eq(s.nlines, 1);
	cr_assert_eq(s.lines[0].nfindings, 2);
	cr_assert_str_eq(s.lines[0].findings[0].code, "T40006");
	cr_assert_eq(s.lines[0].findings[0].pos, 6);
	cr_assert_str_eq(s.lines[0].findings[1].code, "T40006");
	cr_assert_eq(s.lines[0].findings[1].pos, 8);
	cr_assert_eq(s.lines[0].patient_cents, 0);
	cr_assert_eq(s.lines[0].real_cost_cents, 0);
	cr_assert_eq(s.lines[0].outcome, TPC_OUTCOME_REFUSED);
}

/* adapters/canonical can_decode summed line amounts into the invoice total unchecked: two lines
 * of INT64_MAX overflowed. Such a sending is now refused whole (T20006) before any sum. */
Test(fuzz_regressions, canonical_line_amounts_that_overflow_the_sums)
{
	tpc_sending_t s;

	load_and_clear(&tpc_canonical_adapter,
	               "tests/data/fuzz-regressions/canonical/line-sum-int64-overflow", &s);
	cr_assert_eq(s.blocked, 1);
	cr_assert_eq(s.ninvoices, 0);
	cr_assert(has_code(s.findings, s.nfindings, "T20006"));
	cr_assert_eq(s.outcome, TPC_OUTCOME_REFUSED);
}
