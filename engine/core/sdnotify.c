/* engine/core/sdnotify.c - see sdnotify.h.
 *
 * sd_notify() comes from libsystemd (Debian's libsystemd0, which systemd itself uses), rather
 * than a hand-written datagram: it handles the abstract-namespace sockets, the credentials and
 * the corner cases of the protocol. It returns 0 without NOTIFY_SOCKET, so a daemon started by
 * hand or by the tests pays one getenv per call. unset_environment is 0: the variables stay for
 * the next call (the watchdog pings for the whole life of the process).
 *
 * The judge keeps, per stage, the queue's count of nodes taken at the last look and since when
 * the stage has held work without taking any. Looking is cheap (two relaxed atomic loads per
 * stage), so the loop thread does it at every watchdog tick. */
#include "core/sdnotify.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

static void notify(const char *head, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%sSTATUS=", head);

	/* the status is cut to the buffer: it is a line for `systemctl status`, not a record */
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	sd_notify(0, buf);
}

void tpc_sdnotify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify("READY=1\n", fmt, ap);
	va_end(ap);
}

void tpc_sdnotify_stopping(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify("STOPPING=1\n", fmt, ap);
	va_end(ap);
}

void tpc_sdnotify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify("", fmt, ap);
	va_end(ap);
}

void tpc_sdnotify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t tpc_sdnotify_watchdog_usec(void)
{
	uint64_t usec = 0;

	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process: a
	 * child that inherited the variables does not ping for its parent */
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

/* ---- the judge ------------------------------------------------------------------------------ */

struct tpc_watchdog {
	uint64_t stall_us;
	size_t n;
	struct stage {
		const char *name;
		const tpc_queue_t *q;
		const size_t *work; /* NULL = the queue's depth */
		size_t taken;       /* the queue's count at the last look */
		uint64_t blocked;   /* since when it holds work without taking; 0 = it is not */
	} st[TPC_WATCHDOG_STAGES];
};

int tpc_watchdog_new(uint64_t stall_us, tpc_watchdog_t **out)
{
	tpc_watchdog_t *w = calloc(1, sizeof(*w));

	if (!w)
		return TPC_ENOMEM;
	w->stall_us = stall_us;
	*out = w;
	return 0;
}

int tpc_watchdog_watch(tpc_watchdog_t *w, const char *name, const tpc_queue_t *q,
                       const size_t *work)
{
	if (w->n == TPC_WATCHDOG_STAGES)
		return TPC_ENOSPC;
	w->st[w->n] = (struct stage){name, q, work, tpc_queue_taken(q), 0};
	w->n++;
	return 0;
}

/* A stage that took something since the last look is progressing, whatever is queued now; one
 * that took nothing is blocked from the first look that saw work waiting. The clock restarts
 * as soon as it takes one node, so a slow stage (a long payment run on the writer) counts as
 * stuck only if one node of its takes longer than the stall time. */
const char *tpc_watchdog_check(tpc_watchdog_t *w, uint64_t now_us)
{
	const char *stuck = NULL;

	for (size_t i = 0; i < w->n; i++) {
		struct stage *s = &w->st[i];
		size_t taken = tpc_queue_taken(s->q);

		size_t work = s->work ? *s->work : tpc_queue_depth(s->q);

		if (taken != s->taken || work == 0) {
			s->taken = taken;
			s->blocked = 0;
			continue;
		}
		if (!s->blocked)
			s->blocked = now_us ? now_us : 1;
		if (!stuck && now_us - s->blocked >= w->stall_us)
			stuck = s->name;
	}
	return stuck;
}

void tpc_watchdog_free(tpc_watchdog_t **w)
{
	if (!w || !*w)
		return;
	free(*w);
	*w = NULL;
}
