/* tests/integration/test_storage.c - the ledger's storage under a careless operator and a bad
 * disk (issue 14: one daemon per data directory, damage found at startup, a full disk, a failed
 * fsync), on the real tpcleard.
 *
 * A second daemon and the damaged ledgers are run to their exit here (run_to_exit): the point is
 * their exit status and their one log line. The full disk and the failed fsync are made by the
 * fault-injection shim (tests/support/fault/fault.c) preloaded into the daemon, its fault
 * switched through a control file while the daemon runs.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"
#include "store/records.h"
#include "testutil.h"

#include <stddef.h>

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(storage, .fini = teardown, .timeout = 240);

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait up to @p ms for @p pid to end. @return its wait status, or -1 if it still runs. */
static int wait_exit(pid_t pid, int ms)
{
	int st;

	for (int waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		sleep_ms(10);
	}
	return -1;
}

/* Run tpcleard with @p d's configuration on data directory @p data, stderr to @p log, and wait
 * for it to exit (it must, at once: a refusal). @return its wait status; a daemon still running
 * after 20 s is killed and fails the test. */
static int run_to_exit(const tpc_td_t *td, const char *data, const char *log)
{
	const char *bin = getenv("TPC_TPCLEARD");
	char cfg[400];
	pid_t pid;
	int st;

	cr_assert_not_null(bin);
	snprintf(cfg, sizeof(cfg), "%s/tpcleard.ini", td->dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, "--config", cfg, "--data-dir", data, (char *)NULL);
		_exit(127);
	}
	st = wait_exit(pid, 20000);
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cr_assert_fail("tpcleard on %s did not stop by itself", data);
	}
	return st;
}

static int file_has(const char *path, const char *needle)
{
	size_t len;
	unsigned char *b = tpc_test_slurp(path, &len);
	int found = b && strstr((char *)b, needle) != NULL;

	free(b);
	return found;
}

/* Submit a generated canonical sending as @p key and return its final answer (asserted). */
static Tpclear__Answer *submit(void *s, const char *key, unsigned seed)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(seed, 2, 3, &len);
	Tpclear__Answer *a = tpc_td_submit(s, "hospital-a", key, "canonical", p, len, NULL);

	free(p);
	if (!a)
		tpc_td_dump_log(&d);
	cr_assert_not_null(a, "no answer for %s", key);
	return a;
}

static void expect_accepted(Tpclear__Answer *a, const char *key)
{
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s: body %d (%s)", key,
	             a->body_case,
	             a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ? a->receipt->reason : "");
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED, "%s", key);
	tpclear__answer__free_unpacked(a, NULL);
}

static void expect_refused(Tpclear__Answer *a, const char *key, const char *code)
{
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT, "%s: body %d", key, a->body_case);
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED, "%s", key);
	cr_assert_str_eq(a->receipt->code, code, "%s: %s %s", key, a->receipt->code,
	                 a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
}

/* ---- one daemon per data directory ---------------------------------------------------------- */

Test(storage, a_second_daemon_on_the_same_data_is_refused_and_the_first_keeps_clearing)
{
	char log[400], want[1000];
	void *s;
	int st;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "before", 1), "before");
	snprintf(log, sizeof(log), "%s/second.log", d.dir);
	st = run_to_exit(&d, d.data, log);
	cr_assert(WIFEXITED(st), "the second daemon died of a signal (%d)", st);
	cr_assert_eq(WEXITSTATUS(st), 1);
	/* the message names the data directory and the pid that holds it */
	snprintf(want, sizeof(want),
	         "data directory %s is in use by another tpcleard (pid %ld, lock %s/lock)", d.data,
	         (long)d.pid, d.data);
	cr_assert(file_has(log, want), "the second daemon's log does not say '%s'", want);
	/* the first was not disturbed: it clears the next sending (a second writer used to break
	 * its numbering: T00010 for every new sending) */
	expect_accepted(submit(s, "after", 2), "after");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	/* the lock goes with its holder: the directory starts again */
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* ---- damage found at startup ---------------------------------------------------------------- */

/* Overwrite @p n bytes at @p off of @p path with @p byte. */
static void poke(const char *path, off_t off, size_t n, int byte)
{
	uint8_t buf[65536];
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0);
	cr_assert_leq(n, sizeof(buf));
	memset(buf, byte, n);
	cr_assert_eq(pwrite(fd, buf, n, off), (ssize_t)n);
	close(fd);
}

/* Flip a byte of the sequence field of every copy of the stored answer of @p seq (LMDB's
 * copy-on-write leaves older copies of a page in free pages: the live one is among them). */
static int flip_answer_sequence(const char *path, uint64_t seq)
{
	size_t len;
	uint8_t *b = tpc_test_slurp(path, &len);
	int fd = open(path, O_WRONLY), hits = 0;

	cr_assert_not_null(b);
	cr_assert_geq(fd, 0);
	/* the header (store/records.h): its magic, ..., the sequence */
	const uint32_t magic = TPC_ANSWER_MAGIC;
	const size_t at = offsetof(tpc_answer_hdr_t, sequence);

	for (size_t i = 0; i + at + 8 <= len; i++) {
		uint64_t s;

		if (memcmp(b + i, &magic, 4) != 0)
			continue;
		memcpy(&s, b + i + at, 8);
		if (s != seq)
			continue;
		b[i + at] ^= 0x40;
		cr_assert_eq(pwrite(fd, b + i + at, 1, (off_t)(i + at)), 1);
		hits++;
	}
	close(fd);
	free(b);
	return hits;
}

enum damage { HALF, ONE_PAGE, EMPTY, META0, BOTH_METAS, ANSWER };

/* The bytes the ledger's pages take, read before the stop: data.mdb is longer by the zeros
 * written ahead of its last page (store/zeroahead.h), which a cut must go past to damage it. */
static long long ledger_used;

/* Copy the stopped daemon's ledger, damage the copy, start on it: refused with @p message. */
static void refused_when(enum damage how, const char *message)
{
	char data[400], file[450], log[450], cmd[1200], want[700];
	struct stat st;
	int status;

	snprintf(data, sizeof(data), "%s/damaged%d", d.dir, (int)how);
	snprintf(file, sizeof(file), "%s/data.mdb", data);
	snprintf(log, sizeof(log), "%s.log", data);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", data, d.data, data);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(stat(file, &st), 0);
	if (how == HALF || how == ONE_PAGE || how == EMPTY)
		cr_assert_eq(truncate(file, how == HALF       ? (off_t)ledger_used / 2
		                            : how == ONE_PAGE ? 4096
		                                              : 0),
		             0);
	else if (how == META0 || how == BOTH_METAS)
		poke(file, 0, how == META0 ? 4096 : 8192, 0);
	else
		cr_assert_gt(flip_answer_sequence(file, 3), 0, "the newest answer was not found");
	status = run_to_exit(&d, data, log);
	/* an exit with a status, not a signal: a truncated ledger used to be a SIGBUS */
	cr_assert(WIFEXITED(status), "damage %d: killed by signal %d", (int)how,
	          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 1, "damage %d", (int)how);
	snprintf(want, sizeof(want), "ledger %s/data.mdb is damaged: %s", data, message);
	if (!file_has(log, want)) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", log);
		cr_assert_eq(system(cmd), 0);
		cr_assert_fail("damage %d: no line '%s'", (int)how, want);
	}
}

Test(storage, damaged_ledgers_are_refused_at_start_and_a_sound_one_starts)
{
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	for (unsigned i = 1; i <= 3; i++) {
		char key[16];

		snprintf(key, sizeof(key), "K%u", i);
		expect_accepted(submit(s, key, 10 + i), key);
	}
	zmq_close(s);
	ledger_used = tpc_td_metric(&d, "tpclear_ledger_map_used_bytes");
	cr_assert_gt(ledger_used, 8192);
	cr_assert_eq(tpc_td_stop(&d), 0);
	refused_when(HALF, "it is ");
	refused_when(ONE_PAGE, "meta page 1 is missing: the file ends before it");
	refused_when(EMPTY, "it is empty (0 bytes)");
	refused_when(META0, "meta page 0 is not a meta page");
	refused_when(BOTH_METAS, "neither meta page is valid");
	refused_when(ANSWER, "the stored answer of sequence 3: it fails its checksum");
	/* the sound original still starts, and still knows its sendings */
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	expect_accepted(tpc_td_query(s, "hospital-a", "K3"), "K3");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* ---- a full disk and a failed fsync (the shim) ---------------------------------------------- */

static char control[450];

/* Start a daemon with the fault shim preloaded, its fault read from a control file ("off"). */
static void start_with_shim(void)
{
	const char *shim = getenv("TPC_FAULT_SHIM");
	char *tmp = tpc_test_tmpdir();

	cr_assert_not_null(shim, "TPC_FAULT_SHIM is not set (tests/CMakeLists.txt)");
	cr_assert_not_null(tmp);
	snprintf(control, sizeof(control), "%s/fault", tmp);
	free(tmp);
	tpc_td_start_with_shim(&d, shim, control);
}

static void set_fault(const char *mode)
{
	FILE *f = fopen(control, "w");

	cr_assert_not_null(f);
	fputs(mode, f);
	fclose(f);
}

static void skip_under_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("the fault shim is an LD_PRELOAD library, which AddressSanitizer refuses (its "
	             "runtime must come first in the library list)");
#endif
}

Test(storage, a_full_disk_refuses_T00050_and_clearing_resumes_when_space_returns)
{
	void *s;

	skip_under_asan();
	start_with_shim();
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "A", 21), "A");
	/* ENOSPC from the write itself, then a disk that fills in the middle of a write (a short
	 * write, which LMDB reports as EIO): both are a full disk, not a failing one */
	const char *modes[] = {"enospc", "short"};
	for (int m = 0; m < 2; m++) {
		char key[8];

		snprintf(key, sizeof(key), "B%d", m);
		set_fault(modes[m]);
		expect_refused(submit(s, key, 22 + (unsigned)m), key, "T00050");
		cr_assert_eq(tpc_td_metric(&d, "tpclear_disk_full"), 1, "%s", modes[m]);
		/* queries keep working while the disk is full */
		expect_accepted(tpc_td_query(s, "hospital-a", "A"), "A");
		/* nothing of it was stored: a query does not know it */
		expect_refused(tpc_td_query(s, "hospital-a", key), key, "T00012");
		/* space is back: the same sending clears, by itself, no restart */
		set_fault("off");
		expect_accepted(submit(s, key, 22 + (unsigned)m), key);
		cr_assert_eq(tpc_td_metric(&d, "tpclear_disk_full"), 0);
	}
	cr_assert_eq(
	    tpc_td_metric(&d, "tpclear_ledger_commit_failures_total{reason=\"disk_full\"}"), 2);
	cr_assert_eq(tpc_td_metric(&d, "tpclear_ledger_commit_failures_total{reason=\"io_error\"}"),
	             0);
	cr_assert(tpc_td_log_has(&d, "ledger: disk full on device "), "no disk-full log line");
	cr_assert(tpc_td_log_has(&d, "clearing resumed"));
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(storage, a_failed_fsync_answers_T00051_and_stops_the_engine_non_zero)
{
	enum { N = 6 };
	Tpclear__Answer *a;
	int st, got = 0;
	void *s;

	skip_under_asan();
	start_with_shim();
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "A", 31), "A");
	/* Every sending in flight when the fsync fails gets T00051, none a result. Those the
	 * engine had not yet read when it stopped get no answer at all, as at any stop (the
	 * sender's retry meets the restarted engine): so at least the first, maybe all. */
	set_fault("eio-sync");
	for (int i = 0; i < N; i++) {
		char key[8];
		size_t len;
		uint8_t *p = tpc_td_canonical(40 + (unsigned)i, 2, 3, &len);

		snprintf(key, sizeof(key), "E%d", i);
		cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "hospital-a",
		                         key, "canonical", (uint64_t)(100 + i), p, len),
		             0);
		free(p);
	}
	while (got < N && (a = tpc_td_recv(s, 5000, NULL, NULL))) {
		cr_assert_neq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT,
		              "a result after a failed fsync");
		if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
		    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED) {
			cr_assert_str_eq(a->receipt->code, "T00051", "%s", a->receipt->reason);
			got++;
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_geq(got, 1, "no sending was answered T00051");
	/* and the engine stops by itself, with a status its supervisor restarts it on */
	st = wait_exit(d.pid, 30000);
	cr_assert_neq(st, -1, "the engine kept running after a failed fsync");
	d.pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	cr_assert(tpc_td_log_has(&d, "ledger: a write or fsync failed on device "));
	cr_assert(tpc_td_log_has(&d, "the ledger is no longer trusted"));
	zmq_close(s);
	/* restarted (without the fault), its startup checks pass; nothing of E* was stored */
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	s = tpc_td_connect(&d);
	expect_accepted(tpc_td_query(s, "hospital-a", "A"), "A");
	for (int i = 0; i < N; i++) {
		char key[8];

		snprintf(key, sizeof(key), "E%d", i);
		expect_refused(tpc_td_query(s, "hospital-a", key), key, "T00012");
	}
	expect_accepted(submit(s, "E0", 40), "E0");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* A kill while a SEPA file was written leaves its temporary twin behind (core/file.c): the next
 * start removes it, and leaves the payment files themselves alone. */
Test(storage, a_start_removes_the_temporaries_of_interrupted_payment_files)
{
	char dir[600], tmp[700], keep[700];
	FILE *f;

	tpc_td_start_or_fail(&d, NULL);
	cr_assert_eq(tpc_td_stop(&d), 0);
	snprintf(dir, sizeof(dir), "%s/payments", d.data);
	mkdir(dir, 0750);
	snprintf(tmp, sizeof(tmp), "%s/payrun-000007-AMI.pain.001.xml.tmp.4242", dir);
	snprintf(keep, sizeof(keep), "%s/notes.txt.tmp.1", dir);
	cr_assert_not_null(f = fopen(tmp, "w"));
	fclose(f);
	cr_assert_not_null(f = fopen(keep, "w"));
	fclose(f);
	cr_assert_eq(tpc_td_start(&d, d.dir, NULL), 0);
	cr_assert_neq(access(tmp, F_OK), 0, "the temporary is still there");
	cr_assert_eq(access(keep, F_OK), 0, "a file not ours was removed");
	cr_assert(tpc_td_log_has(&d, "left by an interrupted write"));
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* ---- zeros written ahead of the last page (store/zeroahead.h) ------------------------------- */

static long long file_len(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Are the bytes of @p path from @p from to its end all zero? */
static int zeros_from(const char *path, long long from)
{
	FILE *f = fopen(path, "rb");
	int c, ok = f != NULL;

	if (f && fseeko(f, (off_t)from, SEEK_SET) != 0)
		ok = 0;
	while (ok && (c = fgetc(f)) != EOF)
		ok = c == 0;
	if (f)
		fclose(f);
	return ok;
}

Test(storage, zeros_are_written_ahead_while_idle_and_the_ledger_reads_and_grows_as_before)
{
	char path[400];
	long long used = -1, len = -1;
	void *s;

	tpc_td_start_or_fail(&d, "[ledger]\nzero_ahead = 4M\n");
	snprintf(path, sizeof(path), "%s/data.mdb", d.data);
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "Z1", 51), "Z1");
	/* idle now: within a few steps the file holds 4 MiB of zeros past the ledger's last page */
	for (int waited = 0; waited < 10000; waited += 20) {
		used = tpc_td_metric(&d, "tpclear_ledger_map_used_bytes");
		len = file_len(path);
		if (used > 0 && len >= used + 4 * 1024 * 1024)
			break;
		sleep_ms(20);
	}
	cr_assert_gt(used, 0);
	cr_assert_eq(len, used + 4 * 1024 * 1024, "file %lld bytes, ledger %lld", len, used);
	cr_assert(zeros_from(path, used), "past the last page: zeros only");
	/* the ledger grows into them, and is read back whole after a restart */
	expect_accepted(submit(s, "Z2", 52), "Z2");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	len = file_len(path); /* Z2's commit, then zeros again while idle */
	cr_assert_eq(tpc_td_start(&d, d.dir, "[ledger]\nzero_ahead = 0\n"), 0);
	s = tpc_td_connect(&d);
	expect_accepted(tpc_td_query(s, "hospital-a", "Z1"), "Z1");
	expect_accepted(tpc_td_query(s, "hospital-a", "Z2"), "Z2");
	expect_accepted(submit(s, "Z3", 53), "Z3");
	used = tpc_td_metric(&d, "tpclear_ledger_map_used_bytes");
	/* off: nothing more is added (the zeros of the first run are still there, or used) */
	sleep_ms(300);
	cr_assert_leq(file_len(path), used > len ? used : len);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Wait up to 5 s for tpclear_ledger_map_page_drops_total to reach @p n. @return its value. */
static long long drops_reach(long long n)
{
	long long v = 0;

	for (int waited = 0; waited < 5000; waited += 20) {
		if ((v = tpc_td_metric(&d, "tpclear_ledger_map_page_drops_total")) >= n)
			break;
		sleep_ms(20);
	}
	return v;
}

/* [ledger] map_resident_max: above it the writer drops the ledger's mapped pages between groups,
 * at most once a second, and every answer read back through the map afterwards is the same; at
 * 0 it never does. */
Test(storage, mapped_pages_leave_the_resident_set_and_read_back_the_same)
{
	void *s;

	struct timespec t0, t1;

	tpc_td_start_or_fail(&d, "[ledger]\nmap_resident_max = 1\n");
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "R1", 61), "R1");
	/* the look follows the answers out of the writer: wait for it */
	cr_assert_eq(drops_reach(1), 1, "the first group's look: over one byte");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_accepted(submit(s, "R2", 62), "R2");
	sleep_ms(100);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* a slow machine (a sanitizer build) may take the second: only then is a look due */
	if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 800)
		cr_assert_eq(tpc_td_metric(&d, "tpclear_ledger_map_page_drops_total"), 1,
		             "within the second: no second look");
	sleep_ms(1100);
	expect_accepted(submit(s, "R3", 63), "R3");
	cr_assert_geq(drops_reach(2), 2);
	/* the stored answers, read through the map after the drops */
	expect_accepted(tpc_td_query(s, "hospital-a", "R1"), "R1");
	expect_accepted(tpc_td_query(s, "hospital-a", "R2"), "R2");
	expect_accepted(tpc_td_query(s, "hospital-a", "R3"), "R3");
	cr_assert_eq(tpc_td_log_has(&d, "not dropped"), 0, "no failure logged");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);

	cr_assert_eq(tpc_td_start(&d, d.dir, "[ledger]\nmap_resident_max = 0\n"), 0);
	s = tpc_td_connect(&d);
	expect_accepted(submit(s, "R4", 64), "R4");
	expect_accepted(tpc_td_query(s, "hospital-a", "R1"), "R1");
	cr_assert_eq(tpc_td_metric(&d, "tpclear_ledger_map_page_drops_total"), 0, "0 = never");
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
