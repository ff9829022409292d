/* engine/core/log.c - see log.h.
 *
 * No stdio stream and no lock: every thread formats its record into a stack buffer and hands it
 * to the kernel in one write(2). Records of 1 KiB stay under PIPE_BUF (4 KiB), so when stderr is
 * a pipe (journald, a container runtime) records of two threads never interleave mid-line. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Atomic because every thread reads it; set before the threads start (main.c), so the
 * default sequentially consistent access costs nothing that matters. */
static _Atomic int log_level = TPC_LOG_INFO;

void tpc_log_set_level(enum tpc_log_level level)
{
	atomic_store(&log_level, (int)level);
}

void tpc_log(enum tpc_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	char buf[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, m;

	if ((int)level > atomic_load(&log_level))
		return;
	/* UTC with milliseconds; gmtime_r because gmtime's static
	 * result would be shared by the threads */
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
	             "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ tpcleard %s: ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (int)(tv.tv_usec / 1000), names[level]);
	/* "- 1" keeps a byte for the '\n'; vsnprintf returns the length it wanted, so a long
	 * message is cut to the buffer below rather than written past it */
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* nowhere left to report a failed log write; the if only silences warn_unused_result */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}
