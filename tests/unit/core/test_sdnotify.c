/* tests/unit/core/test_sdnotify.c - engine/core/sdnotify.c: the notifications reach a real
 * AF_UNIX datagram socket named by NOTIFY_SOCKET, the watchdog interval is read only for this
 * process, and the judge calls a stage stuck only when its queue holds work and takes none. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"
#include "core/queue.h"
#include "core/sdnotify.h"

TestSuite(sdnotify, .timeout = 30);

/* A datagram socket bound in a fresh directory, NOTIFY_SOCKET pointing at it. */
static int listen_notify(char *path, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/tpc-notify-XXXXXX";
	struct timeval tv = {2, 0};
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, len, "%s/notify", dir);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setenv("NOTIFY_SOCKET", path, 1);
	return fd;
}

static void recv_text(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	cr_assert_gt(n, 0, "no datagram on NOTIFY_SOCKET");
	buf[n] = 0;
}

Test(sdnotify, ready_stopping_status_and_watchdog_reach_notify_socket)
{
	char path[128], buf[600];
	int fd = listen_notify(path, sizeof(path));

	tpc_sdnotify_ready("serving: %d workers", 2);
	recv_text(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "READY=1\nSTATUS=serving: 2 workers");
	tpc_sdnotify_watchdog();
	recv_text(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "WATCHDOG=1");
	tpc_sdnotify_stopping("draining: %d in flight", 3);
	recv_text(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "STOPPING=1\nSTATUS=draining: 3 in flight");
	tpc_sdnotify_status("stuck");
	recv_text(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "STATUS=stuck");
	close(fd);
	unlink(path);
}

Test(sdnotify, watchdog_interval_is_this_process_only)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	cr_assert_eq(tpc_sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "2000000", 1);
	unsetenv("WATCHDOG_PID");
	cr_assert_eq(tpc_sdnotify_watchdog_usec(), 2000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(tpc_sdnotify_watchdog_usec(), 2000000);
	/* inherited from a parent: the pings are the parent's business */
	snprintf(pid, sizeof(pid), "%ld", (long)getppid());
	setenv("WATCHDOG_PID", pid, 1);
	cr_assert_eq(tpc_sdnotify_watchdog_usec(), 0);
}

Test(sdnotify, a_stage_is_stuck_only_with_work_waiting_and_none_taken)
{
	tpc_queue_t *q;
	tpc_watchdog_t *w;
	tpc_qnode_t a = {0}, b = {0}, *head;

	cr_assert_eq(tpc_queue_new(8, 0, &q), 0);
	cr_assert_eq(tpc_watchdog_new(1000, &w), 0);
	cr_assert_eq(tpc_watchdog_watch(w, "writer", q, NULL), 0);
	/* idle: never stuck, however long */
	cr_assert_null(tpc_watchdog_check(w, 1));
	cr_assert_null(tpc_watchdog_check(w, 100000));
	/* work waiting, none taken: stuck once the stall time has passed, not before */
	cr_assert_eq(tpc_queue_try_push(q, &a), 0);
	cr_assert_null(tpc_watchdog_check(w, 200000));
	cr_assert_null(tpc_watchdog_check(w, 200999));
	cr_assert_str_eq(tpc_watchdog_check(w, 201000), "writer");
	cr_assert_str_eq(tpc_watchdog_check(w, 500000), "writer");
	/* it takes one: progressing again, even with more waiting; the clock restarts at the
	 * next look that sees work and nothing taken */
	cr_assert_eq(tpc_queue_try_push(q, &b), 0);
	cr_assert_eq(tpc_queue_pop_many(q, 1, 0, &head), 1);
	cr_assert_null(tpc_watchdog_check(w, 600000));
	cr_assert_null(tpc_watchdog_check(w, 600500));
	cr_assert_null(tpc_watchdog_check(w, 601499));
	cr_assert_str_eq(tpc_watchdog_check(w, 601500), "writer");
	cr_assert_eq(tpc_queue_pop_many(q, 1, 0, &head), 1);
	cr_assert_null(tpc_watchdog_check(w, 700000));
	tpc_watchdog_free(&w);
	cr_assert_null(w);
	tpc_queue_free(&q);
}

Test(sdnotify, stages_are_bounded)
{
	tpc_queue_t *q;
	tpc_watchdog_t *w;

	cr_assert_eq(tpc_queue_new(1, 0, &q), 0);
	cr_assert_eq(tpc_watchdog_new(1, &w), 0);
	for (int i = 0; i < TPC_WATCHDOG_STAGES; i++)
		cr_assert_eq(tpc_watchdog_watch(w, "s", q, NULL), 0);
	cr_assert_eq(tpc_watchdog_watch(w, "s", q, NULL), TPC_ENOSPC);
	tpc_watchdog_free(&w);
	tpc_queue_free(&q);
}

/* The pipeline as a stage: work is the requests in flight, progress the answers taken off the
 * done queue; a stage holding every request in hand (nothing waiting anywhere) is caught. */
Test(sdnotify, work_in_hand_counts_when_a_counter_is_given)
{
	tpc_queue_t *done;
	tpc_watchdog_t *w;
	tpc_qnode_t a = {0}, *head;
	size_t in_flight = 0;

	cr_assert_eq(tpc_queue_new(0, 0, &done), 0);
	cr_assert_eq(tpc_watchdog_new(1000, &w), 0);
	cr_assert_eq(tpc_watchdog_watch(w, "pipeline", done, &in_flight), 0);
	cr_assert_null(tpc_watchdog_check(w, 1));
	in_flight = 2; /* received, nothing answered, the done queue empty */
	cr_assert_null(tpc_watchdog_check(w, 10));
	cr_assert_str_eq(tpc_watchdog_check(w, 1010), "pipeline");
	cr_assert_eq(tpc_queue_try_push(done, &a), 0);
	cr_assert_eq(tpc_queue_pop_many(done, 8, 0, &head), 1);
	in_flight = 1; /* one answered: progress */
	cr_assert_null(tpc_watchdog_check(w, 1020));
	in_flight = 0;
	cr_assert_null(tpc_watchdog_check(w, 100000));
	tpc_watchdog_free(&w);
	tpc_queue_free(&done);
}
