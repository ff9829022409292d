/* tests/fuzz/fuzz_seeds.c - write the generated seed inputs of tests/fuzz/corpus/.
 *
 *   fuzz_seeds DIR    writes the envelope, eattest, canonical and sepa seeds under DIR
 *
 * The eFact and reference-data seeds are the project's own files (tests/data/efact,
 * config/samples, config/refdata), copied by tests/fuzz/run; the protobuf inputs have no file
 * in the tree, so they are made here from the same values the integration tests use. Rerun
 * after a change to proto/tpclear.proto and commit the result (docs/fuzzing.md).
 */
#include "gen/canonical_gen.h"
#include "tpclear.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;

static int put(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "fuzz_seeds: cannot write '%s'\n", path);
		return 1;
	}
	return 0;
}

static int envelope(const char *name, Tpclear__RequestType type, const char *format,
                    const char *key, uint32_t version)
{
	Tpclear__Envelope e = TPCLEAR__ENVELOPE__INIT;
	uint8_t buf[512];

	e.version = version;
	e.type = type;
	e.sender = "hospital-1";
	e.key = (char *)key;
	e.format = (char *)format;
	e.correlation = 42;
	return put("envelope", name, buf, tpclear__envelope__pack(&e, buf));
}

static int attestation(const char *name, const char *cancels, const char *country)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;
	uint8_t buf[512];

	a.number = "EA-1";
	a.provider = "17385467004";
	a.patient = country ? "60050500573" : "86103130262";
	a.code = "101032";
	a.date = 20261110;
	a.units = 1;
	a.fee_paid_cents = 3000;
	a.reference = "soft-1";
	if (cancels) {
		a.cancels = (char *)cancels;
		a.number = "EA-2";
	}
	if (country) {
		a.country = (char *)country;
		a.fee_paid_cents = 0;
		a.real_cost_cents = 12345;
	}
	return put("eattest", name, buf, tpclear__attestation__pack(&a, buf));
}

static int canonical(const char *name, unsigned seed, int ninv, int nlines)
{
	size_t len;
	uint8_t *b = tpc_canonical_sample(seed, 0, ninv, nlines, &len);
	int rc;

	if (!b)
		return 1;
	rc = put("canonical", name, b, len);
	free(b);
	return rc;
}

static const char sepa_three[] = "TPC-RUN42-BUD1\n"
                                 "TPC-RUN42-BUD1-P1\n"
                                 "1796108138000\n"
                                 "20790\n"
                                 "Mutualite Chretienne\n"
                                 "BE10001232152604\n"
                                 "GKCCBEBB\n"
                                 "RUN42-BUD1-0001\n"
                                 "Clinique Saint-Jean\n"
                                 "BE68539007547034\n"
                                 "GEBABEBB\n"
                                 "1\n"
                                 "Payment run 42 (November 2026)\n"
                                 "RUN42-BUD1-0002\n"
                                 "Dr. A. Dupont\n"
                                 "NL91ABNA0417164300\n"
                                 "\n"
                                 "123456\n"
                                 "Payment run 42\n"
                                 "RUN42-BUD1-0003\n"
                                 "O'Brien + Partners\n"
                                 "DE89370400440532013000\n"
                                 "DEUTDEFF500\n"
                                 "100\n"
                                 "<escaped> & \"quoted\"\n";

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	root = argv[1];
	bad |= envelope("submit-efact", TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "efact",
	                "20261163000007", 1);
	bad |= envelope("submit-canonical", TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "canonical",
	                "T1", 1);
	bad |= envelope("query", TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "", "20261163000007", 1);
	bad |= envelope("query-settlement", TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "settlement",
	                "20261163000007", 1);
	bad |= envelope("ping", TPCLEAR__REQUEST_TYPE__REQUEST_PING, "", "", 1);
	bad |= envelope("load", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "members", "members.csv", 1);
	bad |= envelope("load-upsert", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "upsert:ossom",
	                "ossom-delta.csv", 1);
	bad |= envelope("payrun", TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, "", "run-1", 1);
	bad |= envelope("ledger", TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, "", "balances", 1);
	bad |= envelope("eattest", TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, "eattest", "EA-1", 1);
	bad |= envelope("version-2", TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "efact", "k", 2);
	bad |= attestation("attestation", NULL, NULL);
	bad |= attestation("cancellation", "EA-1", NULL);
	bad |= attestation("abroad", NULL, "FR");
	bad |= canonical("sample-1x2", 1, 1, 2);
	bad |= canonical("sample-3x3", 2, 3, 3);
	bad |= put("sepa", "three-payments", sepa_three, sizeof(sepa_three) - 1);
	return bad;
}
