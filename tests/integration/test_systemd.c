/* tests/integration/test_systemd.c - the real tpcleard under what systemd gives a Type=notify
 * unit: a NOTIFY_SOCKET (a real AF_UNIX datagram socket this test binds) that sees READY=1,
 * WATCHDOG=1 pings and STOPPING=1; a ledger writer stuck in a hung fsync (the fault shim's
 * hang-sync) stops the pings, which resume when the disk answers again. Also what an installed
 * engine reads at startup: the default configuration file (TPCLEARD_CONFIG), layered --config
 * files, the sample payer accounts' warning, and its log formats (every JSON record parses). */
#include "daemon.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static pid_t spawned; /* the daemon spawn() started, killed by the suite's fini */
static tpc_td_t d;    /* the daemon of the tests that use tests/support/daemon.c */

/* A failed assertion ends the test before its stop(): the daemon must not outlive it (it
 * would hold the test's output pipes, and Criterion would wait for them until its timeout). */
static void kill_spawned(void)
{
	if (spawned > 0) {
		kill(spawned, SIGKILL);
		waitpid(spawned, NULL, 0);
	}
	spawned = 0;
	if (d.pid > 0)
		tpc_td_kill9(&d);
}

TestSuite(systemd, .timeout = 240, .fini = kill_spawned);

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the NOTIFY_SOCKET harness -------------------------------------------------------------- */

static int notify_fd = -1;
static char notify_path[300];

/* Bind a datagram socket in @p dir and export NOTIFY_SOCKET and WATCHDOG_USEC for the daemon
 * the test starts next (it inherits the environment at exec). */
static void notify_listen(const char *dir, unsigned watchdog_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char usec[32];

	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	cr_assert_lt(strlen(notify_path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", notify_path, 1);
	snprintf(usec, sizeof(usec), "%u", watchdog_ms * 1000);
	setenv("WATCHDOG_USEC", usec, 1);
}

/* What arrived within @p ms: counts of each kind; stops early once @p until is seen. */
struct seen {
	int ready, watchdog, stopping, status;
	char last_status[256];
};

static void notify_collect(struct seen *s, int ms, const char *until)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	char buf[600];

	memset(s, 0, sizeof(*s));
	for (uint64_t t = now_ms(); t < end; t = now_ms()) {
		struct timeval tv = {0, (suseconds_t)((end - t) * 1000)};
		ssize_t n;

		setsockopt(notify_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		s->ready += strstr(buf, "READY=1") != NULL;
		s->watchdog += strstr(buf, "WATCHDOG=1") != NULL;
		s->stopping += strstr(buf, "STOPPING=1") != NULL;
		if (strstr(buf, "STATUS=")) {
			s->status++;
			snprintf(s->last_status, sizeof(s->last_status), "%s",
			         strstr(buf, "STATUS=") + 7);
		}
		if (until && strstr(buf, until))
			return;
	}
}

static void notify_close(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	unlink(notify_path);
}

Test(systemd, ready_then_watchdog_pings_then_stopping_on_the_notify_socket)
{
	char *tmp = tpc_test_tmpdir();
	struct seen s;

	cr_assert_not_null(tmp);
	notify_listen(tmp, 400);
	tpc_td_start_or_fail(&d, NULL);
	/* READY comes once the ledger is open and the sockets bound: the helper has already seen
	 * the endpoints file, so it is waiting in the socket */
	notify_collect(&s, 3000, "READY=1");
	cr_assert_eq(s.ready, 1, "READY=1 on the notify socket");
	cr_assert(strstr(s.last_status, "serving: intake tcp://127.0.0.1:"), "%s", s.last_status);
	/* a tick every quarter of WatchdogSec (100 ms): an idle engine pings */
	notify_collect(&s, 1000, NULL);
	cr_assert_geq(s.watchdog, 5, "WATCHDOG=1 pings while idle (%d in 1 s)", s.watchdog);
	cr_assert_eq(tpc_td_stop(&d), 0);
	notify_collect(&s, 2000, "STOPPING=1");
	cr_assert_eq(s.stopping, 1, "STOPPING=1 when the drain starts");
	cr_assert(strstr(s.last_status, "draining"), "%s", s.last_status);
	notify_close();
	tpc_td_cleanup(&d);
	tpc_test_rmtree(tmp);
	free(tmp);
}

/* ---- a stuck stage --------------------------------------------------------------------------- */

static void set_fault(const char *control, const char *mode)
{
	FILE *f = fopen(control, "w");

	cr_assert_not_null(f);
	fputs(mode, f);
	fclose(f);
}

Test(systemd, a_writer_stuck_in_fsync_stops_the_pings_until_it_takes_work_again)
{
	const char *shim = getenv("TPC_FAULT_SHIM");
	char *tmp = tpc_test_tmpdir(), control[400];
	struct seen s;
	void *sock;
	int results = 0;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("the fault shim is an LD_PRELOAD library, which AddressSanitizer refuses (its "
	             "runtime must come first in the library list)");
#endif
	cr_assert_not_null(shim, "TPC_FAULT_SHIM is not set (tests/CMakeLists.txt)");
	cr_assert_not_null(tmp);
	snprintf(control, sizeof(control), "%s/fault", tmp);
	set_fault(control, "off");
	notify_listen(tmp, 400);
	tpc_td_start_with_shim(&d, shim, control);
	notify_collect(&s, 1000, NULL);
	cr_assert_geq(s.watchdog, 5, "pings before the fault (%d)", s.watchdog);

	/* the disk stops answering: the first sending's commit hangs in fdatasync (the writer
	 * took it, so only the pipeline sees it: in flight, not answered); the ones sent after
	 * it wait in front of the writer */
	set_fault(control, "hang-sync");
	sock = tpc_td_connect(&d);
	cr_assert_not_null(sock);
	for (int i = 0; i < 4; i++) {
		char key[32];

		snprintf(key, sizeof(key), "2026110000%04d", 7100 + i);
		tpc_td_send_canonical(sock, "test", key, 700 + (uint64_t)i, 70 + (unsigned)i, 1, 2);
		if (i == 0)
			sleep_ms(300);
	}
	/* half of WatchdogSec (200 ms) with work waiting and none taken, then no more pings */
	notify_collect(&s, 800, NULL);
	notify_collect(&s, 1500, NULL);
	cr_assert_eq(s.watchdog, 0, "no ping while the writer is stuck (%d)", s.watchdog);
	cr_assert(strstr(s.last_status, "stuck: "), "%s", s.last_status);
	cr_assert(tpc_td_log_has(&d, "stage has work waiting and has taken none"));
	cr_assert(tpc_td_log_has(&d, "watchdog: the ledger writer stage has work waiting"),
	          "the writer named as the stage that stopped taking");

	/* the disk answers again: the writer commits, takes the rest, the pings resume */
	set_fault(control, "off");
	notify_collect(&s, 1500, NULL);
	cr_assert_geq(s.watchdog, 3, "pings resume once the writer takes work (%d)", s.watchdog);
	cr_assert(tpc_td_log_has(&d, "pings resumed"));
	for (Tpclear__Answer *a; results < 4 && (a = tpc_td_recv(sock, 10000, NULL, NULL));) {
		results += a->body_case == TPCLEAR__ANSWER__BODY_RESULT;
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(results, 4, "every sending answered after the hang");
	zmq_close(sock);
	cr_assert_eq(tpc_td_stop(&d), 0);
	notify_close();
	tpc_td_cleanup(&d);
	tpc_test_rmtree(tmp);
	free(tmp);
}

/* ---- what an installed engine reads --------------------------------------------------------- */

/* Start tpcleard with @p args (NULL-terminated, after argv[0]) and stderr to DIR/log; wait for
 * DATA_DIR/tpcleard.endpoints. @return the pid, or the negated exit status when it exited. */
static pid_t spawn(const char *dir, const char *data, const char *const *args)
{
	const char *bin = getenv("TPC_TPCLEARD");
	char log[400], eps[480];
	const char *argv[16] = {bin};
	pid_t pid;
	int st;

	cr_assert_not_null(bin);
	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(eps, sizeof(eps), "%s/tpcleard.endpoints", data);
	unlink(eps); /* a file left by an earlier start in the same directory would look ready */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -(WIFEXITED(st) ? WEXITSTATUS(st) : 128);
		if (access(eps, F_OK) == 0)
			return spawned = pid;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	cr_assert_fail("tpcleard did not get ready");
	return -1;
}

static int stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	spawned = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp_log(const char *dir)
{
	char path[400];
	size_t len;

	snprintf(path, sizeof(path), "%s/log", dir);
	return (char *)tpc_test_slurp(path, &len);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* A configuration on free ports, plain (loopback), data in DIR/data. */
static void write_config(const char *dir, const char *name, const char *extra)
{
	char path[400], text[2048];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(
	    text, sizeof(text),
	    "[intake]\nendpoint = tcp://127.0.0.1:*\n[http]\nlisten = 127.0.0.1:0\n"
	    "[engine]\nworkers = 1\n[security]\nmode = plain\n[ledger]\ndata_dir = %s/data\n%s",
	    dir, extra);
	write_file(path, text);
}

Test(systemd, without_config_it_reads_the_default_file_and_layers_config_files)
{
	char *dir = tpc_test_tmpdir(), cfg[400], data[400], *log;
	pid_t pid;

	cr_assert_not_null(dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	write_config(dir, "default.ini", "");
	snprintf(cfg, sizeof(cfg), "%s/default.ini", dir);
	/* no --config: the file TPCLEARD_CONFIG names (standing in for /etc/tpclear) is read */
	setenv("TPCLEARD_CONFIG", cfg, 1);
	pid = spawn(dir, data, (const char *const[]){NULL});
	cr_assert_gt(pid, 0, "started on the default file (exit %d)", -pid);
	cr_assert_eq(stop(pid), 0);
	log = slurp_log(dir);
	cr_assert(strstr(log, "configuration: ") && strstr(log, "default.ini"), "%s", log);
	free(log);
	/* named on purpose, so it must exist */
	snprintf(cfg, sizeof(cfg), "%s/missing.ini", dir);
	setenv("TPCLEARD_CONFIG", cfg, 1);
	cr_assert_eq(spawn(dir, data, (const char *const[]){NULL}), -2);
	unsetenv("TPCLEARD_CONFIG");
	/* --config twice: the second file's data_dir wins over the first's */
	{
		char a[400], b[400], text[500];

		snprintf(a, sizeof(a), "%s/default.ini", dir);
		snprintf(b, sizeof(b), "%s/over.ini", dir);
		snprintf(data, sizeof(data), "%s/data2", dir);
		snprintf(text, sizeof(text), "[ledger]\ndata_dir = %s\n", data);
		write_file(b, text);
		pid = spawn(dir, data, (const char *const[]){"--config", a, "--config", b, NULL});
	}
	cr_assert_gt(pid, 0, "started on two files (exit %d)", -pid);
	cr_assert_eq(stop(pid), 0);
	tpc_test_rmtree(dir);
	free(dir);
}

Test(systemd, a_configuration_with_the_sample_payer_accounts_warns_loudly)
{
	char *dir = tpc_test_tmpdir(), data[400], cfg[400], *log;
	pid_t pid;

	cr_assert_not_null(dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(cfg, sizeof(cfg), "%s/a.ini", dir);
	write_config(dir, "a.ini", "[budget.AMI]\niban = BE68539007547034\nbic = GKCCBEBB\n");
	pid = spawn(dir, data, (const char *const[]){"--config", cfg, NULL});
	cr_assert_gt(pid, 0);
	cr_assert_eq(stop(pid), 0);
	log = slurp_log(dir);
	/* AMI has a real account now; the five others still have the samples */
	cr_assert_null(strstr(log, "budget AMI pays from the SAMPLE"), "%s", log);
	cr_assert(strstr(log, "level=warn msg=\"PAYMENT WARNING: budget SPPIS pays from the "
	                      "SAMPLE account BE63679000020208"),
	          "%s", log);
	cr_assert(strstr(log, "budget OSSOM pays from the SAMPLE"), "%s", log);
	free(log);
	tpc_test_rmtree(dir);
	free(dir);
}

Test(systemd, json_log_records_parse_and_carry_the_sending_fields)
{
	char *dir = tpc_test_tmpdir(), data[400], cfg[400], eps[480], *log, *line, *next;
	int outcome = 0, records = 0;
	pid_t pid;
	Tpclear__Answer *a;
	void *sock;
	size_t len;
	uint8_t *p;

	cr_assert_not_null(dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(cfg, sizeof(cfg), "%s/a.ini", dir);
	write_config(dir, "a.ini", "");
	cr_assert_eq(
	    spawn(dir, data, (const char *const[]){"--config", cfg, "--log-format", "yaml", NULL}),
	    -2, "an unknown format is a usage error");
	snprintf(eps, sizeof(eps), "%s/log", dir);
	unlink(eps); /* that usage message is not a record */
	pid = spawn(dir, data,
	            (const char *const[]){"--config", cfg, "--log-format", "json", "--log-level",
	                                  "debug", NULL});
	cr_assert_gt(pid, 0);
	/* one sending, as the plain client sends it */
	memset(&d, 0, sizeof(d));
	d.plain = 1;
	snprintf(eps, sizeof(eps), "%s/tpcleard.endpoints", data);
	{
		FILE *f = fopen(eps, "r");
		char l[300];

		cr_assert_not_null(f);
		while (fgets(l, sizeof(l), f))
			if (strncmp(l, "intake=", 7) == 0)
				snprintf(d.intake, sizeof(d.intake), "%.*s",
				         (int)strcspn(l + 7, "\n"), l + 7);
		fclose(f);
	}
	d.zctx = zmq_ctx_new();
	sock = tpc_td_connect(&d);
	p = tpc_td_canonical(5, 1, 2, &len);
	a = tpc_td_submit(sock, "test", "20261100000555", "canonical", p, len, NULL);
	cr_assert_not_null(a, "an answer");
	/* a result: the sending was judged and stored, not refused at intake (which is counted in
	 * /metrics and answered, not logged per request) */
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s",
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	tpclear__answer__free_unpacked(a, NULL);
	free(p);
	zmq_close(sock);
	cr_assert_eq(stop(pid), 0);
	log = slurp_log(dir);
	for (line = log; line && *line; line = next) {
		json_error_t e;
		json_t *j;

		next = strchr(line, '\n');
		cr_assert_not_null(next, "every record ends its line");
		*next++ = 0;
		j = json_loads(line, 0, &e);
		cr_assert_not_null(j, "not JSON (%s): %s", e.text, line);
		records++;
		if (json_object_get(j, "key")) {
			cr_assert_str_eq(json_string_value(json_object_get(j, "key")),
			                 "20261100000555");
			cr_assert(json_is_string(json_object_get(j, "sender")));
			cr_assert(json_is_integer(json_object_get(j, "sequence")) ||
			          json_object_get(j, "code"));
			outcome++;
		}
		json_decref(j);
	}
	cr_assert_geq(records, 3);
	if (outcome != 1) {
		char *again = slurp_log(dir);
		cr_assert_fail("one record for the sending's outcome (%d):\n%s", outcome, again);
	}
	free(log);
	tpc_test_rmtree(dir);
	free(dir);
}
