/* tests/integration/test_cli.c - the tpclear command line against the real daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

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

/* tpclear() with stderr apart, into *@p err (malloc'd). */
static int tpclear_err(const char *args, char **out, char **err)
{
	char cmd[2048], path[400], epath[400];
	size_t len;
	int st;

	snprintf(path, sizeof(path), "%s/out.txt", d.dir);
	snprintf(epath, sizeof(epath), "%s/err.txt", d.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' %s %s >'%s' 2>'%s'", getenv("TPC_TPCLEAR"),
	         d.intake, tpc_td_cli_keys(&d, NULL), args, path, epath);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, &len);
	*err = (char *)tpc_test_slurp(epath, &len);
	cr_assert(*out && *err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP port on 127.0.0.1 nobody listens on: bound by the kernel's choice, then closed. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Every line of @p path parses as JSON, read as strict UTF-8 (Python's json, a reader we did
 * not write). */
static void json_lines_parse(const char *path)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd),
	         "python3 -c 'import json,sys; n=[json.loads(l) for l in open(sys.argv[1], "
	         "encoding=\"utf-8\", errors=\"strict\") if l.strip()]; assert n' '%s'",
	         path);
	cr_assert_eq(system(cmd), 0, "not JSON lines: %s", path);
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

/* Issue 16: a wrong endpoint used to cost --timeout per file and exit 1 like a refusal. Now a
 * ping with a short timeout comes first: exit 3, within 5 s, the endpoint named on stderr. */
Test(cli, unreachable_engine_exits_3_within_5_seconds_naming_the_endpoint)
{
	static const char *const cmds[] = {"ping", "payrun", "ledger balance", "query K1",
	                                   "eattest number=U-1 provider=17385467004 "
	                                   "patient=86103130262 code=101032 date=2026-11-18 "
	                                   "fee=30.00"};
	char args[600], want[200], *out, *err;
	int port = free_port();

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(d.intake, sizeof(d.intake), "tcp://127.0.0.1:%d", port);
	snprintf(want, sizeof(want), "no engine answers at tcp://127.0.0.1:%d", port);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int64_t t0 = mono_ms();

		cr_assert_eq(tpclear_err(cmds[i], &out, &err), 3, "%s: %s", cmds[i], err);
		cr_assert_lt(mono_ms() - t0, 5000, "%s took %lld ms", cmds[i],
		             (long long)(mono_ms() - t0));
		cr_assert(strstr(err, want), "%s: %s", cmds[i], err);
		cr_assert_eq(out[0], 0, "nothing on stdout: %s", out);
		free(out);
		free(err);
	}
	/* and a long --timeout does not make it wait longer: the ping's own is short */
	snprintf(args, sizeof(args), "--timeout 600000 submit '%s'",
	         tpc_test_src("config/samples/sample-hospital.920000"));
	cr_assert_eq(tpclear_err(args, &out, &err), 3, "%s", err);
	free(out);
	free(err);
}

/* Something that is not tpcleard listens there (the engine's own HTTP port): exit 3 too. */
Test(cli, an_endpoint_that_is_not_the_engine_exits_3_within_5_seconds)
{
	char args[600], *out, *err;
	int64_t t0;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(d.intake, sizeof(d.intake), "tcp://%s:%d", d.http_host, d.http_port);
	snprintf(args, sizeof(args), "submit '%s'",
	         tpc_test_src("config/samples/sample-hospital.920000"));
	t0 = mono_ms();
	cr_assert_eq(tpclear_err(args, &out, &err), 3, "%s", err);
	cr_assert_lt(mono_ms() - t0, 5000);
	cr_assert(strstr(err, "no engine answers at"), "%s", err);
	free(out);
	free(err);
}

/* --timeout and --window are numbers or usage errors (exit 2), never read as something else */
Test(cli, timeout_and_window_are_validated)
{
	static const char *const bad[] = {"--timeout 0 ping",    "--timeout 5s ping",
	                                  "--timeout -1 ping",   "--timeout '' ping",
	                                  "--window 0 submit x", "--timeout 99999999999 ping"};
	char *out, *err;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(tpclear_err(bad[i], &out, &err), 2, "%s: %s", bad[i], err);
		cr_assert(strstr(err, "is not a whole number from 1"), "%s: %s", bad[i], err);
		free(out);
		free(err);
	}
	cr_assert_eq(tpclear_err("--timeout 5000 ping", &out, &err), 0, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("--nosuchoption ping", &out, &err), 2);
	cr_assert(strstr(err, "unknown option '--nosuchoption'"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpc_td_stop(&d), 0);
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
	cr_assert(strstr(out, "members replaced: 1 row, live"), "%s", out);
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

/* One calendar (common/date.h) on both sides: the CLI refuses 2026-11-31 itself (exit 2) with
 * the value and the rule, and the engine, asked directly, refuses it with the same words. */
Test(cli, dates_follow_one_rule_in_the_cli_and_the_engine_and_name_value_and_rule)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;
	char *out, *err;
	void *s;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	cr_assert_eq(tpclear_err("payrun --until 2026-11-31", &out, &err), 2, "%s", err);
	cr_assert(strstr(err, "--until 2026-11-31: November has 30 days"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("ledger balance --at 2027-02-29", &out, &err), 2, "%s", err);
	cr_assert(strstr(err, "2027-02-29: February 2027 has 28 days (2027 is not a leap year)"),
	          "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("ledger export --from 2026-1-5", &out, &err), 2, "%s", err);
	cr_assert(strstr(err, "2026-1-5: not a date (YYYY-MM-DD)"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("statement sppis --month 2026-13", &out, &err), 2, "%s", err);
	cr_assert(strstr(err, "2026-13: month 13 does not exist (01..12)"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("eattest number=D-1 provider=17385467004 patient=86103130262 "
	                         "code=101032 date=2026-04-31 fee=30.00",
	                         &out, &err),
	             2, "%s", err);
	cr_assert(strstr(err, "date=2026-04-31: April has 30 days"), "%s", err);
	free(out);
	free(err);
	/* a leap day that exists passes the CLI and the engine */
	cr_assert_eq(tpclear_err("ledger balance --at 2028-02-29", &out, &err), 0, "%s", err);
	free(out);
	free(err);
	/* the engine, without the CLI in front */
	s = tpc_td_connect(&d);
	a = tpc_td_payrun(s, 20261131, "");
	cr_assert(a && a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, "T00023");
	cr_assert(strstr(a->receipt->reason, "until 20261131: November has 30 days"), "%s",
	          a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
	rq.at = 20270229;
	a = tpc_td_ledger(s, "test", &rq);
	cr_assert(a && a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, "T00022");
	cr_assert(strstr(a->receipt->reason, "at 20270229: February 2027 has 28 days"), "%s",
	          a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Every --json output parses as strict UTF-8 JSON, with a UTF-8 file name, a Latin-1 one (its
 * byte escaped as \xE9, json.c) and a Latin-1 value (a load whose key is not a token); amounts
 * carry _cents and _eur, times are ISO 8601. */
Test(cli, every_json_output_parses_with_non_ascii_and_latin1_names)
{
	char utf[400], lat[400], args[1600], path[400], *out, *err;
	size_t len;
	uint8_t *p1 = tpc_td_canonical(71, 1, 2, &len), *p2;
	size_t len2;
	static const char *const cmds[] = {
	    "payrun --json",
	    "ledger balance --json",
	    "ledger show T71 --json",
	    "ledger export --json",
	    "query --json T71 T72",
	    "query --settlement --json T71",
	    "eattest --json number=J-1 provider=17385467004 patient=86103130262 code=101032 "
	    "date=2026-11-18 fee=30.00",
	};

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/out.txt", d.dir);
	snprintf(utf, sizeof(utf), "%s/caf\xc3\xa9 \xc3\xbc.pb", d.dir);
	snprintf(lat, sizeof(lat), "%s/caf\xe9.pb", d.dir);
	p2 = tpc_td_canonical(72, 1, 2, &len2);
	write_file(utf, p1, len);
	write_file(lat, p2, len2);
	snprintf(args, sizeof(args), "submit --json '%s' '%s'", utf, lat);
	cr_assert_eq(tpclear_err(args, &out, &err), 0, "%s %s", out, err);
	json_lines_parse(path);
	cr_assert(strstr(out, "caf\xc3\xa9 \xc3\xbc.pb\""), "UTF-8 kept as it is: %s", out);
	cr_assert(strstr(out, "caf\\\\xE9.pb\""), "Latin-1 byte escaped: %s", out);
	cr_assert(strstr(out, "\"accepted_cents\":"), "%s", out);
	cr_assert(strstr(out, "\"accepted_eur\":\""), "%s", out);
	cr_assert(strstr(out, "\"committed_at\":\"20"), "ISO 8601: %s", out);
	cr_assert(strstr(out, "Z\""), "UTC: %s", out);
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = tpclear_err(cmds[i], &out, &err);

		/* a sending with no payee account is not settled (T00021): a refusal, in JSON too
		 */
		cr_assert(rc == 0 || (rc == 1 && strstr(cmds[i], "--settlement")), "%s: %d %s",
		          cmds[i], rc, err);
		json_lines_parse(path);
		free(out);
		free(err);
	}
	/* a Latin-1 value: the file's base name is the load's key */
	snprintf(lat, sizeof(lat), "%s/membr\xe9s.csv", d.dir);
	write_file(lat, "niss,valid_from\n", 16);
	snprintf(args, sizeof(args), "load --json members '%s'", lat);
	cr_assert_eq(tpclear_err(args, &out, &err), 1, "%s %s", out, err);
	json_lines_parse(path);
	cr_assert(strstr(err, "T000"), "the refusal's code on stderr: %s", err);
	free(out);
	free(err);
	free(p1);
	free(p2);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Every failure says why on stderr with its code: a refused request, a refused sending, an
 * eAttest number reused with other fields (a conflict, which used to be silent). */
Test(cli, every_failure_says_why_on_stderr_with_its_code)
{
	char bad[400], args[800], *out, *err;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	cr_assert_eq(tpclear_err("query nosuchkey", &out, &err), 1);
	cr_assert(strstr(err, "refused T00012"), "%s", err);
	free(out);
	free(err);
	snprintf(bad, sizeof(bad), "%s/bad.pb", d.dir);
	write_file(bad, "\x0a\xff\xff garbage", 10);
	snprintf(args, sizeof(args), "submit --format canonical '%s'", bad);
	cr_assert_eq(tpclear_err(args, &out, &err), 1);
	cr_assert(strstr(err, "T20001"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("eattest number=C-1 provider=17385467004 patient=86103130262 "
	                         "code=101032 date=2026-11-18 fee=30.00",
	                         &out, &err),
	             0, "%s %s", out, err);
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("eattest number=C-1 provider=17385467004 patient=86103130262 "
	                         "code=101032 date=2026-11-18 fee=31.00",
	                         &out, &err),
	             1, "%s %s", out, err);
	cr_assert(strstr(err, "C-1: conflict: key C-1 was stored (sequence "), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Progress only on a terminal: redirected, stderr stays empty on success; under a pty (script)
 * the bar shows. */
Test(cli, progress_shows_on_a_terminal_only)
{
	char f1[400], f2[400], args[1200], cmd[3000], path[400], *out, *err;
	size_t len;
	uint8_t *p1 = tpc_td_canonical(81, 1, 2, &len), *p2;
	size_t len2;

	cr_assert_eq(tpc_td_start(&d, NULL, NULL), 0);
	p2 = tpc_td_canonical(82, 1, 2, &len2);
	snprintf(f1, sizeof(f1), "%s/p1.pb", d.dir);
	snprintf(f2, sizeof(f2), "%s/p2.pb", d.dir);
	write_file(f1, p1, len);
	write_file(f2, p2, len2);
	snprintf(args, sizeof(args), "submit '%s' '%s'", f1, f2);
	cr_assert_eq(tpclear_err(args, &out, &err), 0, "%s", err);
	cr_assert_str_eq(err, "", "progress or messages on a redirected stderr");
	free(out);
	free(err);
	cr_assert_eq(tpclear_err("payrun", &out, &err), 0, "%s", err);
	cr_assert_str_eq(err, "");
	free(out);
	free(err);
	if (system("command -v script >/dev/null 2>&1") != 0)
		cr_skip("script (util-linux) not installed: the terminal side is not tested");
	/* the same files again (stored answers), stderr a pty */
	snprintf(path, sizeof(path), "%s/tty.txt", d.dir);
	snprintf(cmd, sizeof(cmd), "script -qec \"'%s' --endpoint '%s' %s %s\" '%s' >/dev/null",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, NULL), args, path);
	cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
	out = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(out);
	cr_assert(strstr(out, "] 2/2"), "no progress bar on a terminal: %s", out);
	free(out);
	free(p1);
	free(p2);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
