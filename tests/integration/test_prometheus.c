/* tests/integration/test_prometheus.c - the running daemon's /metrics as Prometheus sees it:
 * the new series move with real traffic, `promtool check metrics` accepts a real scrape, and a
 * real Prometheus (Debian's package) scrapes the daemon with the shipped alert rules loaded and
 * answers queries on its HTTP API. Without promtool or prometheus those parts skip, saying so
 * (deploy/deps.sh installs them).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clearing/budget.h"
#include "clearing/schemes.h"
#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;
static pid_t prom = -1;

static void teardown(void)
{
	if (prom > 0) {
		kill(prom, SIGTERM);
		waitpid(prom, NULL, 0);
		prom = -1;
	}
	tpc_td_cleanup(&d);
}

TestSuite(prometheus, .fini = teardown, .timeout = 180);

static int have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* Sum of one labelled family over the names of an engine enumeration (value 0: "none"). */
static long long sum_over(const char *family, const char *label, const char *(*name)(unsigned),
                          unsigned n, const char *extra)
{
	long long sum = 0;
	char series[256];

	for (unsigned i = 0; i < n; i++) {
		long long v;

		snprintf(series, sizeof(series), "%s{%s=\"%s\"%s}", family, label,
		         i ? name(i) : "none", extra);
		v = tpc_td_metric(&d, series);
		cr_assert_geq(v, 0, "%s is not rendered", series);
		sum += v;
	}
	return sum;
}

static void send_some(void)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(42, 3, 5, &len);
	void *s = tpc_td_connect(&d);
	Tpclear__Answer *a = tpc_td_submit(s, "hospital-a", "P1", "canonical", p, len, NULL);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->lines_accepted, 15);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	free(p);
}

Test(prometheus, new_series_move_with_traffic)
{
	char *body;
	int st;

	tpc_td_start_or_fail(&d, NULL);
	send_some();
	/* per scheme and per budget, the 15 lines of the sending, all accepted */
	cr_assert_eq(sum_over("tpclear_scheme_lines_total", "scheme", tpc_scheme_name,
	                      TPC_SCHEME__COUNT, ",outcome=\"accepted\""),
	             15);
	cr_assert_eq(sum_over("tpclear_budget_lines_total", "budget", tpc_budget_name,
	                      TPC_BUDGET__COUNT, ",outcome=\"accepted\""),
	             15);
	cr_assert_gt(sum_over("tpclear_scheme_accepted_cents_total", "scheme", tpc_scheme_name,
	                      TPC_SCHEME__COUNT, ""),
	             0);
	/* one group commit at least, of one job at least */
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_commit_duration_seconds_count"), 1);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_commit_group_size_count"), 1);
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_commit_group_size_sum"), 1);
	/* the map: in use within its size within its ceiling; the reader slots */
	cr_assert_gt(tpc_td_metric(&d, "tpclear_ledger_map_used_bytes"), 0);
	cr_assert_leq(tpc_td_metric(&d, "tpclear_ledger_map_used_bytes"),
	              tpc_td_metric(&d, "tpclear_ledger_map_size_bytes"));
	cr_assert_leq(tpc_td_metric(&d, "tpclear_ledger_map_size_bytes"),
	              tpc_td_metric(&d, "tpclear_ledger_map_max_bytes"));
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_readers"), 1, "the workers read");
	cr_assert_geq(tpc_td_metric(&d, "tpclear_ledger_readers_max"),
	              tpc_td_metric(&d, "tpclear_ledger_readers"));
	/* the process: the daemon's own, not the test's */
	cr_assert_gt(tpc_td_metric(&d, "process_resident_memory_bytes"), 1 << 20);
	cr_assert_geq(tpc_td_metric(&d, "process_open_fds"), 5);
	cr_assert_gt(tpc_td_metric(&d, "process_max_fds"), tpc_td_metric(&d, "process_open_fds"));
	cr_assert_geq(tpc_td_metric(&d, "process_start_time_seconds"), (long long)time(NULL) - 120);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_busy_refusals_total{reason=\"queue_full\"}"), 0);
	body = tpc_td_http_get(&d, "/metrics", &st);
	cr_assert_eq(st, 200);
	cr_assert_not_null(
	    strstr(body, "\ntpclear_build_info{version=\"" TPC_VERSION "\",revision=\""), "%s",
	    body);
	cr_assert_not_null(strstr(body, "\",lmdb=\"LMDB 0."), "%s", body);
	free(body);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* promtool's linter on what the running daemon serves, after real traffic. */
Test(prometheus, promtool_accepts_a_real_scrape)
{
	char *body, out[4096];
	int st;

	if (!have("promtool"))
		cr_skip_test("promtool not installed (Debian package prometheus): not checked");
	tpc_td_start_or_fail(&d, NULL);
	send_some();
	body = tpc_td_http_get(&d, "/metrics", &st);
	cr_assert_eq(st, 200);
	st = tpc_test_promtool_metrics(body, out, sizeof(out));
	free(body);
	cr_assert_eq(st, 0, "promtool check metrics: %s", out);
	cr_assert_str_empty(out, "promtool check metrics complains: %s", out);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* A TCP port nobody listens on now (bound to 0, then released). */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* GET @p path of the Prometheus on @p port (the daemon helper's HTTP client, pointed there). */
static char *prom_get(int port, const char *path, int *st)
{
	tpc_td_t p = d;

	snprintf(p.http_host, sizeof(p.http_host), "127.0.0.1");
	p.http_port = port;
	return tpc_td_http_get(&p, path, st);
}

/* Poll @p path until its body holds @p needle (30 s). @return the body (malloc'd) or NULL. */
static char *prom_wait(int port, const char *path, const char *needle)
{
	for (int i = 0; i < 300; i++) {
		int st;
		char *b = prom_get(port, path, &st);

		if (b && st == 200 && strstr(b, needle))
			return b;
		free(b);
		usleep(100 * 1000);
	}
	return NULL;
}

static void start_prometheus(int port)
{
	char conf[600], tsdb[600], logp[600], listen[64], cfgarg[700], tsdbarg[700];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/prometheus.yml", d.dir);
	snprintf(tsdb, sizeof(tsdb), "%s/tsdb", d.dir);
	snprintf(logp, sizeof(logp), "%s/prometheus.log", d.dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	/* the shipped rules, loaded as an operator would: they must load against real series */
	fprintf(f,
	        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	        "rule_files:\n  - %s\n"
	        "scrape_configs:\n  - job_name: tpcleard\n    static_configs:\n"
	        "      - targets: ['%s:%d']\n",
	        tpc_test_src("deploy/prometheus/alerts.yml"), d.http_host, d.http_port);
	fclose(f);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", conf);
	snprintf(tsdbarg, sizeof(tsdbarg), "--storage.tsdb.path=%s", tsdb);
	prom = fork();
	cr_assert_geq(prom, 0);
	if (prom == 0) {
		FILE *log = freopen(logp, "w", stderr);

		(void)log;
		dup2(2, 1);
		execlp("prometheus", "prometheus", cfgarg, tsdbarg, listen, "--log.level=warn",
		       (char *)NULL);
		_exit(127);
	}
}

Test(prometheus, a_real_prometheus_scrapes_the_daemon)
{
	int port;
	char *b;

	if (!have("prometheus"))
		cr_skip_test("prometheus not installed (Debian package prometheus): not run");
	tpc_td_start_or_fail(&d, NULL);
	send_some();
	port = free_port();
	cr_assert_gt(port, 0);
	start_prometheus(port);
	/* up == 1: it scraped, and the text parsed (a parse error makes up 0) */
	b = prom_wait(port, "/api/v1/query?query=up%7Bjob%3D%22tpcleard%22%7D", "\"1\"]");
	cr_assert_not_null(b, "prometheus never scraped the daemon (DIR/prometheus.log)");
	cr_assert_not_null(strstr(b, "\"status\":\"success\""), "%s", b);
	free(b);
	/* a tpclear series, with the value the daemon counted */
	b = prom_wait(port, "/api/v1/query?query=tpclear_lines_total%7Boutcome%3D%22accepted%22%7D",
	              "\"15\"]");
	cr_assert_not_null(b, "tpclear_lines_total never reached 15 in prometheus");
	free(b);
	b = prom_wait(port, "/api/v1/query?query=tpclear_build_info", "\"version\":\"" TPC_VERSION);
	cr_assert_not_null(b, "tpclear_build_info not in prometheus");
	free(b);
	/* the shipped rules loaded and evaluated without error; the engine is up: none fires
	 * but the ones a fresh daemon may (a restart needs two start times: none here) */
	b = prom_wait(port, "/api/v1/rules", "\"name\":\"TpclearStoreDamaged\"");
	cr_assert_not_null(b, "the alert rules were not loaded");
	cr_assert_null(strstr(b, "\"health\":\"err\""), "a rule fails to evaluate: %s", b);
	free(b);
	b = prom_wait(port, "/api/v1/alerts", "\"status\":\"success\"");
	cr_assert_not_null(b);
	cr_assert_null(strstr(b, "\"state\":\"firing\""), "an alert fires on a healthy engine: %s",
	               b);
	free(b);
	kill(prom, SIGTERM);
	waitpid(prom, NULL, 0);
	prom = -1;
	cr_assert_eq(tpc_td_stop(&d), 0);
}
