/* engine/core/log.c - see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
	             "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ tpcleard %s: ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (int)(tv.tv_usec / 1000), names[level]);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}
