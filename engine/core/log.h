/* engine/core/log.h - one-line log records on stderr (journald and containers collect stderr).
 * Thread-safe: each record is formatted into a local buffer and written with one write(2). */
#ifndef TPC_LOG_H
#define TPC_LOG_H

enum tpc_log_level { TPC_LOG_ERROR = 0, TPC_LOG_WARN = 1, TPC_LOG_INFO = 2, TPC_LOG_DEBUG = 3 };

/** Records above @p level are dropped (default TPC_LOG_INFO). Set once at startup. */
void tpc_log_set_level(enum tpc_log_level level);

/** Write one record: "2026-11-22T23:08:01.123Z tpcleard level: message". */
void tpc_log(enum tpc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tpc_error(...) tpc_log(TPC_LOG_ERROR, __VA_ARGS__)
#define tpc_warn(...)  tpc_log(TPC_LOG_WARN, __VA_ARGS__)
#define tpc_info(...)  tpc_log(TPC_LOG_INFO, __VA_ARGS__)
#define tpc_debug(...) tpc_log(TPC_LOG_DEBUG, __VA_ARGS__)

#endif
