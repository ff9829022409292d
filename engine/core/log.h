/* engine/core/log.h - one-line log records on stderr (journald and containers collect stderr).
 *
 * One record per event, one line per record, in one of two formats (docs/operations.md, Logs):
 *   logfmt  ts=2026-11-22T23:08:01.123Z level=info msg="sending refused" key=2026... code=T00013
 *   json    {"ts":"...","level":"info","msg":"sending refused","key":"2026...","code":"T00013"}
 * When stderr is the journal's stream (JOURNAL_STREAM names stderr's device and inode, as
 * systemd sets it for a unit) each record starts with its syslog priority, "<3>" (error) to "<7>"
 * (debug), which journald strips and stores as the entry's PRIORITY, and the ts field is left out
 * (journald stamps every entry itself). Values are written as valid UTF-8 whatever their bytes:
 * a byte that is not is written \xHH (core/utf8.h); JSON is built by jansson, never by hand.
 *
 * Thread-safe: each record is formatted into a local buffer and written with one write(2). The
 * level, format and journal mode are set once at startup, before any other thread runs.
 */
#ifndef TPC_LOG_H
#define TPC_LOG_H

#include <stddef.h>
#include <stdint.h>

enum tpc_log_level { TPC_LOG_ERROR = 0, TPC_LOG_WARN = 1, TPC_LOG_INFO = 2, TPC_LOG_DEBUG = 3 };

enum tpc_log_format { TPC_LOG_LOGFMT = 0, TPC_LOG_JSON = 1 };

/** One key=value field of a record. @p str when not NULL, else the number @p num. The strings
 *  are borrowed for the call. */
typedef struct tpc_log_field {
	const char *key;
	const char *str;
	uint64_t num;
} tpc_log_field_t;

/** Records above @p level are dropped (default TPC_LOG_INFO). Set once at startup. */
void tpc_log_set_level(enum tpc_log_level level);

/** Format of the records (default TPC_LOG_LOGFMT). Set once at startup. */
void tpc_log_set_format(enum tpc_log_format format);

/** Journal mode (priority prefixes, no ts): on when @p on > 0, off when 0; when @p on < 0,
 *  decided from JOURNAL_STREAM against stderr's fstat(2). Set once at startup.
 *  @return the mode now in force (1 or 0). */
int tpc_log_set_journal(int on);

/** "error", "warn", "info" or "debug" into @p out. @return 0 or TPC_EINVAL. */
int tpc_log_level_parse(const char *s, enum tpc_log_level *out);

/** "logfmt" or "json" into @p out. @return 0 or TPC_EINVAL. */
int tpc_log_format_parse(const char *s, enum tpc_log_format *out);

/** Write one record: the message and no field. */
void tpc_log(enum tpc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Write one record with @p nfields fields after the message (borrowed for the call). */
void tpc_log_kv(enum tpc_log_level level, const tpc_log_field_t *fields, size_t nfields,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Format a record as tpc_log_kv() would write it, without writing it (the tests' view).
 *  @param[out] out  the record and its '\n', NUL-terminated; cut to @p cap as valid UTF-8
 *  @return the bytes written to @p out (without the NUL). */
size_t tpc_log_format_record(char *out, size_t cap, enum tpc_log_level level,
                             const tpc_log_field_t *fields, size_t nfields, const char *msg);

#define tpc_error(...) tpc_log(TPC_LOG_ERROR, __VA_ARGS__)
#define tpc_warn(...)  tpc_log(TPC_LOG_WARN, __VA_ARGS__)
#define tpc_info(...)  tpc_log(TPC_LOG_INFO, __VA_ARGS__)
#define tpc_debug(...) tpc_log(TPC_LOG_DEBUG, __VA_ARGS__)

#endif
