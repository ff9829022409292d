/* tests/integration/test_cli.c - the tpclear command line against the real daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(cli, .fini = teardown, .timeout = 120);

/* Run tpclear with @p args; stdout into @p out (malloc'd). @return exit status. */
static int tpclear(const char *args, char **out)
{
	char cmd[2048], path[400];
	size_t len;
	int st;

	snprintf(path, sizeof(path), "%s/out.txt", d.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' %s %s >'%s' 2>>'%s/cli.err'",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, NULL), args, path, d.dir);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(*out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Remove the first occurrence of @p needle from @p s. */
static void strip(char *s, const char *needle)
{
	char *at = strstr(s, needle);

	if (at)
		memmove(at, at + strlen(needle), strlen(at + strlen(needle)) + 1);
}

Test(cli, submit_json_twice_gives_the_same_answer_and_one_ledger_entry)
{
	char file[400], args[800], *a, *b, *q;
	size_t len;
	uint8_t *p = tpc_td_canonical(42, 2, 4, &len);

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(file, sizeof(file), "%s/s1.pb", d.dir);
	write_file(file, p, len);
	snprintf(args, sizeof(args), "submit --json '%s'", file);
	cr_assert_eq(tpclear(args, &a), 0, "first submit: %s", a);
	cr_assert_eq(tpclear(args, &b), 0, "second submit: %s", b);
	cr_assert(strstr(a, "\"outcome\":\"accepted\""), "%s", a);
	cr_assert(strstr(a, "\"key\":\"T42\""), "key from the sending's reference: %s", a);
	cr_assert(strstr(a, "\"replay\":false"));
	cr_assert(strstr(b, "\"replay\":true"));
	/* apart from the replay flag the two answers are identical */
	strip(a, "\"replay\":false");
	strip(b, "\"replay\":true");
	cr_assert_str_eq(a, b);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_ledger_sendings_committed_total"), 1);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_sendings_total{outcome=\"replayed\"}"), 1);
	/* query the key */
	cr_assert_eq(tpclear("query T42", &q), 0);
	cr_assert(strstr(q, "T42"), "%s", q);
	cr_assert(strstr(q, "accepted"), "%s", q);
	free(q);
	cr_assert_eq(tpclear("query --json nosuchkey", &q), 1);
	cr_assert(strstr(q, "T00012"), "%s", q);
	free(q);
	free(a);
	free(b);
	free(p);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(cli, exit_status_reports_refused_sendings_and_text_names_findings)
{
	char good[400], bad[400], args[1200], *out;
	size_t len;
	uint8_t *p = tpc_td_canonical(5, 1, 2, &len);

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(good, sizeof(good), "%s/good.pb", d.dir);
	snprintf(bad, sizeof(bad), "%s/bad.pb", d.dir);
	write_file(good, p, len);
	write_file(bad, "\x0a\xff\xff garbage", 10);
	snprintf(args, sizeof(args), "submit --format canonical '%s'", good);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	cr_assert(strstr(out, "accepted"), "%s", out);
	free(out);
	snprintf(args, sizeof(args), "submit --format canonical '%s' '%s'", good, bad);
	cr_assert_eq(tpclear(args, &out), 1, "one refused sending makes the exit status 1: %s",
	             out);
	cr_assert(strstr(out, "T20001"), "the refusal code is printed: %s", out);
	free(out);
	cr_assert_eq(tpclear("ping", &out), 0);
	cr_assert(strstr(out, "pong"));
	free(out);
	free(p);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(cli, unreachable_engine_times_out_with_status_1)
{
	char *out;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(d.intake, sizeof(d.intake), "tcp://127.0.0.1:1");
	cr_assert_eq(tpclear("--timeout 300 ping", &out), 1);
	free(out);
}

Test(cli, load_replaces_reference_data_or_refuses_the_file_with_its_line)
{
	char good[400], bad[400], args[1200], *out;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(good, sizeof(good), "%s/members.csv", d.dir);
	snprintf(bad, sizeof(bad), "%s/broken.csv", d.dir);
	write_file(good,
	           "niss,valid_from,valid_to,ct1,ct2,iban\n86103130262,2020-01-01,,110,110,\n", 71);
	write_file(bad,
	           "niss,valid_from,valid_to,ct1,ct2,iban\n86103130262,2020-01-01,,110,110,\n"
	           "86103130262,2021-13-01,,110,110,\n",
	           104);
	/* one row where the samples hold several: forced past the guard (issue 14) */
	snprintf(args, sizeof(args), "load --force members '%s'", good);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	cr_assert(strstr(out, "members replaced: 1 rows"), "%s", out);
	free(out);
	snprintf(args, sizeof(args), "load members '%s'", bad);
	cr_assert_eq(tpclear(args, &out), 1, "%s", out);
	cr_assert(strstr(out, "T00018"), "%s", out);
	cr_assert(strstr(out, "broken.csv:3:13:"), "file, line and column: %s", out);
	free(out);
	snprintf(args, sizeof(args), "load nosuchkind '%s'", good);
	cr_assert_eq(tpclear(args, &out), 1);
	cr_assert(strstr(out, "T00017"), "%s", out);
	free(out);
	/* the refused file changed nothing: the one member loaded first is still there */
	cr_assert_eq(tpc_td_metric(&d, "tpclear_refdata_loads_total"), 11, "10 at start + 1");
	cr_assert_eq(tpc_td_stop(&d), 0);
}
