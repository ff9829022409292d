/* tests/unit/refdata/test_refdata_text.c - free text in the reference data and the feeds
 * (engine/refdata/refdata.c, issue 13).
 *
 * Every free-text column (providers' name, agreements' reference, mediprima's decision id,
 * fedasil's structure, detention's prison, war_victims' category) takes UTF-8 up to 480 bytes,
 * stored and looked up whole: the real Fedasil and war-victims values of the samples, a
 * 255-byte and a 480-byte value of each kind, parsed, stored in LMDB and read back through the
 * lookups clearing uses. A byte that is not UTF-8 is refused with its line and column in any
 * column, header included; so is a control character, and a value over 480 bytes. Columns
 * count characters (an accent before the error counts one), the message also gives the byte.
 * Identifiers keep their exact formats: a NISS with a full-width digit is not a NISS.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "refdata/refdata.h"
#include "refdata/text.h"
#include "testutil.h"

#include <lmdb.h>

#define FEDASIL_STRUCTURE "Centre Fedasil Bruxelles Petit-Ch\xC3\xA2teau"
#define WAR_CATEGORY                                                                               \
	"Invalides de guerre 40-45, Cor\xC3\xA9"                                                   \
	"e, Congo et O.N.U."
#define FED_H "niss,valid_from,valid_to,structure\n"
#define MP_H  "decision_id,cpas_bce,niss,valid_from,valid_to,care,covers_patient_share\n"

static struct {
	char *dir;
	MDB_env *env;
	tpc_refdata_dbs_t dbs;
	tpc_arena_t *arena;
	char err[512];
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

TestSuite(refdata_text, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------------------------ */

static int parse(enum tpc_ref_kind kind, const char *csv, tpc_ref_table_t *t)
{
	fx.err[0] = 0;
	return tpc_refdata_parse(kind, "f.csv", csv, strlen(csv), fx.arena, t, fx.err,
	                         sizeof(fx.err));
}

/* @p csv refused with "f.csv:@p where: " and @p reason in the message, which is valid UTF-8. */
static void refused(enum tpc_ref_kind kind, const char *csv, const char *where, const char *reason)
{
	tpc_ref_table_t t;
	char prefix[64];
	int rc = parse(kind, csv, &t);

	snprintf(prefix, sizeof(prefix), "f.csv:%s: ", where);
	cr_assert_eq(rc, TPC_EINVAL, "accepted (rc %d), want '%s%s'", rc, prefix, reason);
	cr_assert(strncmp(fx.err, prefix, strlen(prefix)) == 0, "got '%s', want '%s...'", fx.err,
	          prefix);
	cr_assert_not_null(strstr(fx.err, reason), "got '%s', want '%s'", fx.err, reason);
	cr_assert_null(tpc_text_check(fx.err, strlen(fx.err), sizeof(fx.err), NULL),
	               "the message is valid UTF-8: '%s'", fx.err);
}

static void store(const tpc_ref_table_t *t)
{
	MDB_txn *txn;

	cr_assert_eq(mdb_txn_begin(fx.env, NULL, 0, &txn), 0);
	cr_assert_eq(tpc_refdata_replace(txn, &fx.dbs, t), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A value of exactly @p n bytes: accented words, commas and spaces, never a split character
 * (the tail is ASCII). In the arena. */
static char *text_of_len(size_t n)
{
	static const char *const words[] = {"Petit-Ch\xC3\xA2teau, ",
	                                    "Cor\xC3\xA9"
	                                    "e ",
	                                    "\xC5\x81\xC3\xB3"
	                                    "d\xC5\xBA ",
	                                    "\xE2\x82\xAC "};
	char *s = tpc_arena_alloc(fx.arena, n + 1, 1);
	size_t len = 0;

	cr_assert_not_null(s);
	for (int w = 0;; w = (w + 1) % 4) {
		size_t wl = strlen(words[w]);

		if (len + wl > n)
			break;
		memcpy(s + len, words[w], wl);
		len += wl;
	}
	memset(s + len, 'x', n - len);
	s[n] = 0;
	return s;
}

/* The row of each kind with @p text in its free-text column, and a file of it. */
static char *csv_with(enum tpc_ref_kind kind, const char *text)
{
	static const char *const fmt[TPC_REF__COUNT] = {
	    [TPC_REF_PROVIDERS] = "nihii,name,kind,bce,iban,bic\n"
	                          "18334780004,\"%s\",hospital,,BE10001232152604,GEBABEBB\n",
	    [TPC_REF_AGREEMENTS] = "niss,code,valid_from,valid_to,reference\n"
	                           "86103130262,475075,2026-01-01,,\"%s\"\n",
	    [TPC_REF_MEDIPRIMA] = MP_H "\"%s\",0212000032,85030300364,2026-11-01,,hospital,1\n",
	    [TPC_REF_FEDASIL] = FED_H "90020200296,2026-06-01,,\"%s\"\n",
	    [TPC_REF_DETENTION] = "niss,prison,valid_from,valid_to\n"
	                          "80010100107,\"%s\",2026-11-01,2026-11-30\n",
	    [TPC_REF_WAR_VICTIMS] = "niss,category,valid_from,valid_to\n"
	                            "40040400465,\"%s\",2000-01-01,\n"};
	size_t cap = strlen(fmt[kind]) + strlen(text) + 1;
	char *csv = tpc_arena_alloc(fx.arena, cap, 1);

	cr_assert_not_null(csv);
	snprintf(csv, cap, fmt[kind], text);
	return csv;
}

/* Look the stored row of @p kind up as clearing does, on 2026-11-10; its text, copied (the
 * lookup's points into the map, valid until the transaction ends). */
static char *stored_text(enum tpc_ref_kind kind)
{
	union {
		tpc_ref_provider_t p;
		tpc_ref_agreement_t a;
		tpc_ref_mediprima_t m;
		tpc_ref_fedasil_t f;
		tpc_ref_detention_t d;
		tpc_ref_war_victim_t w;
	} r;
	int32_t day = tpc_test_day(20261110);
	const char *text = NULL;
	MDB_cursor *c;
	MDB_txn *txn;
	char *copy;
	int rc;

	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, fx.dbs.dbi[kind], &c), 0);
	switch (kind) {
	case TPC_REF_PROVIDERS:
		rc = tpc_refdata_provider(txn, &fx.dbs, "18334780004", &r.p);
		text = r.p.name;
		break;
	case TPC_REF_AGREEMENTS:
		rc = tpc_refdata_agreement_on(c, "86103130262", "475075", day, &r.a);
		text = r.a.reference;
		break;
	case TPC_REF_MEDIPRIMA:
		rc = tpc_refdata_mediprima_on(c, "85030300364", day, TPC_CARE_HOSPITAL, &r.m);
		text = r.m.decision;
		break;
	case TPC_REF_FEDASIL:
		rc = tpc_refdata_feed_on(c, kind, "90020200296", day, &r.f);
		text = r.f.structure;
		break;
	case TPC_REF_DETENTION:
		rc = tpc_refdata_feed_on(c, kind, "80010100107", day, &r.d);
		text = r.d.prison;
		break;
	default:
		rc = tpc_refdata_feed_on(c, kind, "40040400465", day, &r.w);
		text = r.w.category;
		break;
	}
	cr_assert_eq(rc, 0, "%s: lookup %s", tpc_refdata_kind_name(kind), mdb_strerror(rc));
	copy = strdup(text);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return copy;
}

static const enum tpc_ref_kind text_kinds[] = {TPC_REF_PROVIDERS, TPC_REF_AGREEMENTS,
                                               TPC_REF_MEDIPRIMA, TPC_REF_FEDASIL,
                                               TPC_REF_DETENTION, TPC_REF_WAR_VICTIMS};

/* Parse, store and look up @p text in every kind with free text. */
static void round_trips(const char *text)
{
	for (size_t i = 0; i < sizeof(text_kinds) / sizeof(text_kinds[0]); i++) {
		enum tpc_ref_kind k = text_kinds[i];
		tpc_ref_table_t t;
		char *got;

		cr_assert_eq(parse(k, csv_with(k, text), &t), 0, "%s: %s", tpc_refdata_kind_name(k),
		             fx.err);
		store(&t);
		got = stored_text(k);
		cr_assert_str_eq(got, text, "%s: stored whole", tpc_refdata_kind_name(k));
		free(got);
	}
}

/* ---- whole values ------------------------------------------------------------------------- */

Test(refdata_text, the_real_fedasil_and_war_victims_values_load_whole)
{
	tpc_ref_table_t f = tpc_test_refdata_sample(TPC_REF_FEDASIL, fx.arena);
	tpc_ref_table_t w = tpc_test_refdata_sample(TPC_REF_WAR_VICTIMS, fx.arena);
	char *got;

	cr_assert_str_eq(((const tpc_ref_fedasil_t *)f.rows)[0].structure, FEDASIL_STRUCTURE);
	cr_assert_str_eq(((const tpc_ref_war_victim_t *)w.rows)[0].category, WAR_CATEGORY);
	cr_assert_gt(strlen(FEDASIL_STRUCTURE), 32, "longer than the old limit");
	cr_assert_gt(strlen(WAR_CATEGORY), 16, "longer than the old limit");
	store(&f);
	store(&w);
	got = stored_text(TPC_REF_FEDASIL);
	cr_assert_str_eq(got, FEDASIL_STRUCTURE);
	free(got);
	got = stored_text(TPC_REF_WAR_VICTIMS);
	cr_assert_str_eq(got, WAR_CATEGORY);
	free(got);
}

Test(refdata_text, a_255_byte_value_round_trips_in_every_kind)
{
	char *v = text_of_len(255);

	cr_assert_eq(strlen(v), 255);
	cr_assert_null(tpc_text_check(v, 255, 255, NULL), "valid UTF-8");
	cr_assert_gt(strlen(v), tpc_text_chars(v, 255), "multi-byte characters in it");
	round_trips(v);
}

Test(refdata_text, the_documented_maximum_round_trips_and_one_more_byte_is_refused)
{
	char *v = text_of_len(TPC_REF_TEXT_MAX), *over = text_of_len(TPC_REF_TEXT_MAX + 1);
	char where[16];

	round_trips(v);
	for (size_t i = 0; i < sizeof(text_kinds) / sizeof(text_kinds[0]); i++) {
		enum tpc_ref_kind k = text_kinds[i];
		/* the column of the free text (its opening quote) on line 2 */
		unsigned col = k == TPC_REF_PROVIDERS    ? 13
		               : k == TPC_REF_AGREEMENTS ? 32
		               : k == TPC_REF_MEDIPRIMA  ? 1
		               : k == TPC_REF_FEDASIL    ? 25
		                                         : 13;

		snprintf(where, sizeof(where), "2:%u", col);
		refused(k, csv_with(k, over), where, "value longer than 480 bytes");
	}
}

Test(refdata_text, decision_ids_longer_than_16_bytes_are_distinct_keys)
{
	tpc_ref_table_t t;
	MDB_txn *txn;
	uint64_t n;

	/* the same first 16 bytes, then different: two decisions, not a duplicate */
	cr_assert_eq(parse(TPC_REF_MEDIPRIMA,
	                   MP_H "D\xC3\xA9"
	                        "cision CPAS 2026/0001,0212000032,85030300364,2026-11-01,,"
	                        "hospital,1\n"
	                        "D\xC3\xA9"
	                        "cision CPAS 2026/0002,0212000032,85030300364,2026-11-01,,"
	                        "ambulatory,0\n",
	                   &t),
	             0, "%s", fx.err);
	store(&t);
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refdata_count(txn, &fx.dbs, TPC_REF_MEDIPRIMA, &n), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(n, 2);
	/* the same decision twice stays a duplicate */
	refused(TPC_REF_MEDIPRIMA,
	        MP_H "Long decision id 0001,0212000032,85030300364,2026-11-01,,hospital,1\n"
	             "Long decision id 0001,0212000032,85030300364,2026-11-01,,ambulatory,1\n",
	        "3:1", "duplicate decision");
}

/* A delta of a short decision (16 bytes or fewer) must replace its row, whatever layout wrote
 * it: its key is the one schema 3 wrote (padded with NULs to 16 bytes). */
Test(refdata_text, an_upsert_of_a_short_decision_replaces_it)
{
	tpc_ref_table_t t;
	MDB_txn *txn;
	uint64_t n;
	char *got;

	cr_assert_eq(parse(TPC_REF_MEDIPRIMA,
	                   MP_H "MP-1,0212000032,85030300364,2026-11-01,2026-11-05,hospital,1\n",
	                   &t),
	             0, "%s", fx.err);
	store(&t);
	cr_assert_eq(parse(TPC_REF_MEDIPRIMA,
	                   MP_H "MP-1,0212000032,85030300364,2026-11-01,,hospital,1\n", &t),
	             0, "%s", fx.err);
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, 0, &txn), 0);
	cr_assert_eq(tpc_refdata_upsert(txn, &fx.dbs, &t), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(mdb_txn_begin(fx.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tpc_refdata_count(txn, &fx.dbs, TPC_REF_MEDIPRIMA, &n), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(n, 1, "replaced, not added");
	got = stored_text(TPC_REF_MEDIPRIMA);
	cr_assert_str_eq(got, "MP-1", "open-ended now, so 11-10 is covered");
	free(got);
}

/* ---- what is refused, and where ---------------------------------------------------------- */

Test(refdata_text, bad_utf8_is_refused_at_its_byte)
{
	/* "90020200296,2026-06-01,," is 24 characters: the structure starts at column 25 */
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,Centre \xFF\xFE\n", "2:32",
	        "byte 0xFF is not valid UTF-8 (byte 32 of the line)");
	/* after an accent: column 39 (characters), byte 40 */
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,Petit-Ch\xC3\xA2teau \xFF\n",
	        "2:39", "byte 0xFF is not valid UTF-8 (byte 40 of the line)");
	/* overlong forms */
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,A\xC0\xAF\n", "2:26",
	        "byte 0xC0 is not valid UTF-8");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,AB\xE0\x80\xAF\n", "2:27",
	        "byte 0xE0");
	/* a surrogate, a code point past U+10FFFF */
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,\xED\xA0\x80\n", "2:25",
	        "byte 0xED");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,\xF4\x90\x80\x80\n", "2:25",
	        "byte 0xF4");
	/* cut short: by the next field's comma, by a quote, by the end of the file */
	refused(TPC_REF_WAR_VICTIMS,
	        "niss,category,valid_from,valid_to\n40040400465,Cor\xC3,2000-01-01,\n", "2:16",
	        "byte 0xC3");
	refused(TPC_REF_WAR_VICTIMS,
	        "niss,category,valid_from,valid_to\n40040400465,\"Cor\xC3\",2000-01-01,\n", "2:17",
	        "byte 0xC3");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,Ch\xE2\x82", "2:27", "byte 0xE2");
	/* a continuation byte alone, on a later line */
	refused(TPC_REF_FEDASIL,
	        FED_H "90020200296,2026-06-01,2026-06-30,A\n"
	              "90020200296,2026-07-01,,\x80\n",
	        "3:25", "byte 0x80 is not valid UTF-8 (byte 25 of the line)");
}

Test(refdata_text, bad_utf8_is_refused_in_any_column)
{
	/* in an identifier: the byte, not the NISS rule */
	refused(TPC_REF_FEDASIL, FED_H "9002020029\xFF,2026-06-01,,S\n", "2:11", "byte 0xFF");
	/* in a date */
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-0\xC3,,S\n", "2:22", "byte 0xC3");
	/* in the header */
	refused(TPC_REF_FEDASIL, "niss,valid_from,valid_to,struct\xFFure\n", "1:32", "byte 0xFF");
}

Test(refdata_text, control_characters_are_refused_at_their_column)
{
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,Centre\tFedasil\n", "2:31",
	        "control character U+0009");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,\"Ch\xC3\xA2teau\x7F\"\n", "2:33",
	        "control character U+007F");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,A\xC2\x85\n", "2:26",
	        "control character U+0085");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,A\xEF\xBF\xBF\n", "2:26", "U+FFFF");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,\"a\rb\"\n", "2:27",
	        "control character U+000D");
	/* a NUL byte would end the value early in C: refused like any control character */
	{
		static const char nul[] = FED_H "90020200296,2026-06-01,,A\0B\n";
		tpc_ref_table_t t;

		fx.err[0] = 0;
		cr_assert_eq(tpc_refdata_parse(TPC_REF_FEDASIL, "f.csv", nul, sizeof(nul) - 1,
		                               fx.arena, &t, fx.err, sizeof(fx.err)),
		             TPC_EINVAL);
		cr_assert(strstr(fx.err, "f.csv:2:26: control character U+0000"), "%s", fx.err);
	}
}

Test(refdata_text, columns_count_characters_not_bytes)
{
	/* "18334780004,Ch\xC3\xA2teau," is 21 characters (22 bytes): the kind is at column 21 */
	refused(TPC_REF_PROVIDERS,
	        "nihii,name,kind,bce,iban,bic\n"
	        "18334780004,Ch\xC3\xA2teau,dentist,,BE10001232152604,GEBABEBB\n",
	        "2:21", "kind 'dentist'");
}

Test(refdata_text, identifiers_keep_their_exact_formats)
{
	/* a full-width digit is UTF-8, and not a digit */
	refused(TPC_REF_FEDASIL,
	        FED_H "900202002\xEF\xBC\x99"
	              "6,2026-06-01,,S\n",
	        "2:1", "NISS");
	refused(TPC_REF_FEDASIL,
	        FED_H "90020200296,2026-06-\xEF\xBC\x90"
	              "1,,S\n",
	        "2:13", "YYYY-MM-DD");
	refused(TPC_REF_PROVIDERS,
	        "nihii,name,kind,bce,iban,bic\n"
	        "18334780004,Ch\xC3\xA2teau,hospital,,BE10001232152604,G\xC3\x89"
	        "BABEBB\n",
	        "2:48", "BIC");
	refused(TPC_REF_FEDASIL, FED_H "90020200296,2026-06-01,,\n", "2:25", "structure is empty");
}

Test(refdata_text, a_message_quoting_a_long_value_stays_valid_utf8)
{
	/* the header is quoted back, cut at 100 bytes: in the middle of a two-byte character */
	char csv[512] = "x";

	for (int i = 0; i < 150; i++)
		strcat(csv, "\xC3\xA9");
	strcat(csv, "\n");
	refused(TPC_REF_FEDASIL, csv, "1:1", "header is 'x\xC3\xA9");
	cr_assert_not_null(strstr(fx.err, "', expected 'niss,valid_from,valid_to,structure'"), "%s",
	                   fx.err);
}
