/* tests/unit/security/test_senders.c - the senders registry parser and snapshots
 * (engine/security/senders.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "security/keys.h"
#include "security/senders.h"
#include "testutil.h"

TestSuite(senders, .timeout = 30);

static tpc_keypair_t k1, k2, k3;

static void keys(void)
{
	cr_assert_eq(tpc_keys_generate(&k1), 0);
	cr_assert_eq(tpc_keys_generate(&k2), 0);
	cr_assert_eq(tpc_keys_generate(&k3), 0);
}

/* Parse @p text; @return the snapshot (asserting success). */
static tpc_senders_t *parse_ok(const char *text)
{
	tpc_senders_t *r = NULL;
	char err[512];
	int rc = tpc_senders_parse("senders.ini", text, strlen(text), &r, err, sizeof(err));

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_not_null(r);
	return r;
}

/* Parse @p text expecting a refusal whose message contains @p want. */
static void parse_bad(const char *text, const char *want)
{
	tpc_senders_t *r = NULL;
	char err[512];
	int rc = tpc_senders_parse("senders.ini", text, strlen(text), &r, err, sizeof(err));

	cr_assert_eq(rc, TPC_EINVAL, "accepted: %s", text);
	cr_assert_null(r);
	cr_assert(strstr(err, want), "message '%s' should contain '%s'", err, want);
}

/* parse_bad() of @p fmt with k1's public key in its "%s". */
static void parse_bad_keyed(const char *fmt, const char *want)
{
	char text[512];

	snprintf(text, sizeof(text), fmt, k1.public_z85);
	parse_bad(text, want);
}

static uint8_t *raw(const tpc_keypair_t *k)
{
	static uint8_t b[TPC_KEY_BYTES];

	cr_assert_eq(tpc_keys_decode(k->public_z85, TPC_KEY_Z85, b), 0);
	return b;
}

Test(senders, a_registry_is_looked_up_by_key_and_by_id, .init = keys)
{
	char text[2048];
	tpc_senders_t *r;
	const tpc_sender_t *h, *c;

	snprintf(text, sizeof(text),
	         "# the registry\n"
	         "; another comment\n"
	         "[chu-exemple]\n"
	         "kind = hospital\n"
	         "key  = %s\n"
	         "key  = %s\n" /* a second key: rotation */
	         "nihii = 18334780004, 17385467004\n"
	         "nihii = 18334780004\n" /* repeated: deduplicated */
	         "\n"
	         "[cpas-bxl]\r\n"
	         "  kind=cpas\r\n"
	         "  key=%s\r\n"
	         "  feeds =\r\n",
	         k1.public_z85, k2.public_z85, k3.public_z85);
	r = parse_ok(text);
	cr_assert_eq(tpc_senders_count(r), 2);
	h = tpc_senders_by_key(r, raw(&k1));
	cr_assert_not_null(h);
	cr_assert_str_eq(tpc_sender_id(h), "chu-exemple");
	cr_assert_eq(tpc_senders_by_key(r, raw(&k2)), h, "both keys are the hospital's");
	cr_assert_eq(tpc_sender_kind(h), TPC_SENDER_HOSPITAL);
	cr_assert_eq(tpc_sender_line(h), 3);
	cr_assert_eq(tpc_sender_nihii_count(h), 2);
	cr_assert_str_eq(tpc_sender_nihii_at(h, 0), "17385467004", "sorted");
	cr_assert(tpc_sender_may_bill(h, "18334780004", 11));
	cr_assert(!tpc_sender_may_bill(h, "10065828001", 11));
	cr_assert(!tpc_sender_may_bill(h, "1833478000", 10), "a prefix is not a number");
	c = tpc_senders_by_id(r, "cpas-bxl");
	cr_assert_not_null(c);
	cr_assert_eq(tpc_senders_by_key(r, raw(&k3)), c);
	cr_assert_eq(tpc_sender_kind(c), TPC_SENDER_CPAS);
	cr_assert_eq(tpc_sender_nihii_count(c), 0);
	cr_assert_eq(tpc_sender_feed_count(c), 0);
	cr_assert_null(tpc_senders_by_id(r, "nobody"));
	cr_assert_eq(tpc_senders_at(r, 0), h, "file order");
	tpc_senders_unref(&r);
	cr_assert_null(r);
}

Test(senders, feeds_are_kinds_and_only_their_owner_or_ops_may_send_them, .init = keys)
{
	char text[2048];
	tpc_senders_t *r;
	const tpc_sender_t *e;

	snprintf(text, sizeof(text),
	         "[spp-is]\nkind = sppis\nkey = %s\nfeeds = mediprima\n"
	         "[fedasil]\nkind = fedasil\nkey = %s\nfeeds = fedasil fedasil_exclusions\n"
	         "[ops]\nkind = ops\nkey = %s\nfeeds = members, tariffs mediprima\n",
	         k1.public_z85, k2.public_z85, k3.public_z85);
	r = parse_ok(text);
	e = tpc_senders_by_id(r, "spp-is");
	cr_assert(tpc_sender_may_feed(e, "mediprima"));
	cr_assert(!tpc_sender_may_feed(e, "fedasil"));
	e = tpc_senders_by_id(r, "ops");
	cr_assert_eq(tpc_sender_feed_count(e), 3);
	cr_assert(tpc_sender_may_feed(e, "mediprima"), "ops may be granted any feed");
	tpc_senders_unref(&r);

	/* only SPP IS sends mediprima, only Fedasil fedasil, only SPF Justice detention */
	parse_bad_keyed("[cpas]\nkind = cpas\nkey = %s\nfeeds = fedasil\n",
	                "senders.ini:4: sender 'cpas' of kind cpas may not send feed 'fedasil'");
	parse_bad_keyed("[h]\nkind = hospital\nkey = %s\nfeeds = members\n",
	                "may not send feed 'members': only ops do");
	parse_bad_keyed("[j]\nkind = justice\nkey = %s\nfeeds = detentoin\n",
	                "senders.ini:4: feed 'detentoin': not a reference data kind");
	cr_assert_eq(tpc_senders_feed_owner("detention"), TPC_SENDER_JUSTICE);
	cr_assert_eq(tpc_senders_feed_owner("providers"), TPC_SENDER_OPS);
}

Test(senders, every_error_names_its_line, .init = keys)
{
	char text[2048];

	parse_bad("kind = gp\n", "senders.ini:1: 'kind' before the first [sender] section");
	parse_bad("[a b]\n", "senders.ini:1: sender id 'a b'");
	parse_bad("\n\n[]\n", "senders.ini:3: sender id ''");
	parse_bad("[x\n", "senders.ini:1: section header without its closing ']'");
	parse_bad("[x]\nkind gp\n", "senders.ini:2: expected 'key = value'");
	parse_bad_keyed("[x]\nkind = gp\nkey = %s\ncolour = blue\n",
	                "senders.ini:4: unknown key 'colour'");
	parse_bad("[x]\nkind = dentist\n", "senders.ini:2: kind 'dentist'");
	parse_bad("[x]\nkind = gp\nkind = gp\n", "senders.ini:3: kind given twice");
	parse_bad("[x]\nkind = gp\nkey = not-a-key\n", "senders.ini:3: key: expected a CURVE");
	parse_bad("[x]\nkind = gp\n[y]\n", "senders.ini:1: sender 'x' has no key");
	parse_bad_keyed("[x]\nkey = %s\n", "senders.ini:1: sender 'x' has no kind");
	parse_bad_keyed("[x]\nkind = gp\nkey = %s\nnihii = 1738546700\n",
	                "senders.ini:4: nihii '1738546700': expected 11 digits");
	parse_bad_keyed("[x]\nkind = gp\nkey = %s\nnihii = 17385466004\n",
	                "senders.ini:4: nihii 17385466004: check digits wrong");
	parse_bad_keyed("[x]\nkind = gp\nkey = %s\nnihii = 17385467004\x01\n",
	                "senders.ini:4: control character");
	snprintf(text, sizeof(text),
	         "[x]\nkind=gp\nkey=%s\n\n[y]\nkind=gp\nkey=%s\n[x]\nkind=gp\nkey=%s\n",
	         k1.public_z85, k2.public_z85, k3.public_z85);
	parse_bad(text, "senders.ini:8: sender 'x' is already defined at line 1");
	snprintf(text, sizeof(text), "[x]\nkind=gp\nkey=%s\n[y]\nkind=gp\nkey=%s\n", k1.public_z85,
	         k1.public_z85);
	parse_bad(text, "senders.ini:6: key already registered at line 3 (sender 'x')");
}

Test(senders, a_nul_byte_or_an_empty_file)
{
	tpc_senders_t *r = NULL;
	char err[256];
	static const char nul[] = "[x]\nkind = gp\0\n";

	cr_assert_eq(tpc_senders_parse("s", nul, sizeof(nul) - 1, &r, err, sizeof(err)),
	             TPC_EINVAL);
	cr_assert(strstr(err, "s:2: NUL byte"), "%s", err);
	cr_assert_eq(tpc_senders_parse("s", "", 0, &r, err, sizeof(err)), 0, "empty: nobody");
	cr_assert_eq(tpc_senders_count(r), 0);
	cr_assert_null(tpc_senders_by_id(r, "x"));
	tpc_senders_unref(&r);
}

Test(senders, load_reads_a_file_and_reports_a_missing_one, .init = keys)
{
	char *dir = tpc_test_tmpdir(), path[4096], text[512], err[512];
	tpc_senders_t *r = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/senders.ini", dir);
	cr_assert_eq(tpc_senders_load(path, &r, err, sizeof(err)), TPC_ENOENT);
	snprintf(text, sizeof(text), "[x]\nkind = ops\nkey = %s\n\n[y]\nkind = gp\n",
	         k1.public_z85);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	cr_assert_eq(tpc_senders_load(path, &r, err, sizeof(err)), TPC_EINVAL);
	cr_assert(strstr(err, "senders.ini:5: sender 'y' has no key"), "%s", err);
	cr_assert(strncmp(err, path, strlen(path)) == 0, "names the file: %s", err);
	tpc_test_rmtree(dir);
	free(dir);
}

/* A snapshot read on other threads while its first owner drops it: the last one frees it. */
static void *reader(void *arg)
{
	tpc_senders_t *r = arg;

	for (int i = 0; i < 1000; i++)
		cr_assert_not_null(tpc_senders_by_id(r, "x"));
	tpc_senders_unref(&r);
	return NULL;
}

Test(senders, references_keep_a_snapshot_alive_across_threads, .init = keys)
{
	char text[256];
	tpc_senders_t *r;
	pthread_t t[4];

	snprintf(text, sizeof(text), "[x]\nkind = ops\nkey = %s\n", k1.public_z85);
	r = parse_ok(text);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, reader, tpc_senders_ref(r)), 0);
	tpc_senders_unref(&r); /* the readers still hold theirs */
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	tpc_senders_unref(&r); /* NULL-safe */
}

Test(senders, kinds_have_names)
{
	enum tpc_sender_kind k;

	for (int i = 0; i < TPC_SENDER__COUNT; i++) {
		cr_assert_eq(
		    tpc_sender_kind_by_name(tpc_sender_kind_name((enum tpc_sender_kind)i), &k), 0);
		cr_assert_eq(k, (enum tpc_sender_kind)i);
	}
	cr_assert_eq(tpc_sender_kind_by_name("Hospital", &k), TPC_EINVAL);
}
