/* engine/core/log.c - see log.h.
 *
 * No stdio stream and no lock: every thread formats its record into a stack buffer and hands it
 * to the kernel in one write(2). A record of up to 4 KiB (PIPE_BUF) is written whole, so when
 * stderr is a pipe (journald, a container runtime) records of two threads never interleave
 * mid-line; the message is cut to 1 KiB and each field value to 256 bytes, which keeps every
 * ordinary record far below that.
 *
 * Escaping: a log line must stay one line and valid UTF-8 whatever a sender put in a key or a
 * file name. logfmt quotes a value holding a space, '=', '"', '\' or a control character and
 * escapes inside the quotes (\" \\ \n \r \t, other controls \xHH); a byte that is not valid
 * UTF-8 is written \xHH in both formats, as core/utf8.h does for answers. JSON objects are built
 * and serialised by jansson, which escapes what JSON requires; the values it is given are made
 * valid UTF-8 first, because jansson refuses a string that is not. */
#include "core/log.h"

#include "core/error.h"
#include "core/utf8.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX   1024 /* the formatted message, before escaping */
#define VALUE_MAX 256  /* one field value, before escaping */
#define REC_MAX   8192 /* one record after escaping: room for the worst case of both */

/* Atomic because every thread reads them; set before the threads start (main.c), so the
 * default sequentially consistent access costs nothing that matters. */
static _Atomic int log_level = TPC_LOG_INFO;
static _Atomic int log_format = TPC_LOG_LOGFMT;
static _Atomic int log_journal;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities (sd-daemon.h SD_ERR .. SD_DEBUG): what journald reads from "<N>" */
static const int level_prio[] = {3, 4, 6, 7};

void tpc_log_set_level(enum tpc_log_level level)
{
	atomic_store(&log_level, (int)level);
}

void tpc_log_set_format(enum tpc_log_format format)
{
	/* jansson seeds its hash function on the first object; done here, on the main thread
	 * before the others start, rather than racing on the first JSON record */
	if (format == TPC_LOG_JSON)
		json_object_seed(0);
	atomic_store(&log_format, (int)format);
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for a unit whose stderr is connected to the journal
 * (systemd.exec(5)); it is inherited by children whose stderr may be something else, so it
 * counts only when stderr is that very stream. */
static int stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int tpc_log_set_journal(int on)
{
	int mode = on < 0 ? stderr_is_journal() : on > 0;

	atomic_store(&log_journal, mode);
	return mode;
}

int tpc_log_level_parse(const char *s, enum tpc_log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum tpc_log_level)i;
			return 0;
		}
	return TPC_EINVAL;
}

int tpc_log_format_parse(const char *s, enum tpc_log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = TPC_LOG_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = TPC_LOG_JSON;
	else
		return TPC_EINVAL;
	return 0;
}

/* ---- logfmt --------------------------------------------------------------------------------- */

/* An output buffer that refuses a piece that does not fit, so a record cut short still ends on
 * a whole character or escape; two bytes stay reserved for the '\n' and the NUL. */
struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 2 > o->cap)
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Does a logfmt value need quotes? Yes when it is empty, holds a byte that would end or split
 * the value when read back, or will be escaped (an escape means something only inside quotes);
 * a byte of a valid multi-byte character never does. */
static int needs_quotes(const char *v)
{
	if (!*v || !tpc_utf8_valid(v, strlen(v)))
		return 1;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
			return 1;
	return 0;
}

static void put_logfmt_value(struct out *o, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v), k;
	int q = needs_quotes(v);
	char esc[8];

	if (q)
		put(o, "\"", 1);
	for (size_t i = 0; i < n; i += k) {
		k = tpc_utf8_next(p + i, n - i, NULL);
		if (k > 1 ||
		    (k == 1 && p[i] >= ' ' && p[i] != 0x7f && p[i] != '"' && p[i] != '\\')) {
			put(o, (const char *)p + i, k);
			continue;
		}
		k = 1; /* an invalid byte or an ASCII byte that needs an escape */
		if (p[i] == '"' || p[i] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", p[i]);
		else if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t')
			snprintf(esc, sizeof(esc), "\\%c",
			         p[i] == '\n' ? 'n' : (p[i] == '\r' ? 'r' : 't'));
		else
			snprintf(esc, sizeof(esc), "\\x%02X", p[i]);
		puts_(o, esc);
	}
	if (q)
		put(o, "\"", 1);
}

static void put_logfmt_field(struct out *o, const char *key, const char *v)
{
	put(o, " ", o->len && o->p[o->len - 1] != '>');
	puts_(o, key);
	put(o, "=", 1);
	put_logfmt_value(o, v);
}

static const char *field_text(const tpc_log_field_t *f, char *num, size_t len)
{
	if (f->str)
		return f->str;
	snprintf(num, len, "%llu", (unsigned long long)f->num);
	return num;
}

static void format_logfmt(struct out *o, const char *ts, enum tpc_log_level level,
                          const tpc_log_field_t *fields, size_t nfields, const char *msg)
{
	char num[24], cut[VALUE_MAX + 1];

	if (ts)
		put_logfmt_field(o, "ts", ts);
	put_logfmt_field(o, "level", level_names[level]);
	put_logfmt_field(o, "msg", msg);
	for (size_t i = 0; i < nfields; i++) {
		snprintf(cut, sizeof(cut), "%s", field_text(&fields[i], num, sizeof(num)));
		put_logfmt_field(o, fields[i].key, cut);
	}
}

/* ---- json ----------------------------------------------------------------------------------- */

/* A jansson string of @p s made valid UTF-8 (\xHH for a byte that is not) and cut to @p max. */
static json_t *json_text(const char *s, size_t max)
{
	char buf[MSG_MAX * 4 + 1];
	size_t n = strlen(s);

	if (n > max)
		n = max;
	n = tpc_utf8_escape(s, n, buf, sizeof(buf));
	return json_stringn(buf, n);
}

static void format_json(struct out *o, const char *ts, enum tpc_log_level level,
                        const tpc_log_field_t *fields, size_t nfields, const char *msg)
{
	json_t *obj = json_object();
	size_t n;

	if (!obj)
		return;
	/* json_object_set_new takes the value's reference, and ignores a NULL one */
	if (ts)
		json_object_set_new(obj, "ts", json_string(ts));
	json_object_set_new(obj, "level", json_string(level_names[level]));
	json_object_set_new(obj, "msg", json_text(msg, MSG_MAX));
	for (size_t i = 0; i < nfields; i++)
		json_object_set_new(obj, fields[i].key,
		                    fields[i].str ? json_text(fields[i].str, VALUE_MAX)
		                                  : json_integer((json_int_t)fields[i].num));
	/* JSON_PRESERVE_ORDER: ts, level and msg first, as in logfmt; json_dumpb returns the
	 * length it needed, so a record that does not fit is left out rather than cut mid-way */
	n = json_dumpb(obj, o->p + o->len, o->cap - o->len - 2, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (n <= o->cap - o->len - 2)
		o->len += n;
	json_decref(obj);
}

/* ---- records -------------------------------------------------------------------------------- */

size_t tpc_log_format_record(char *out, size_t cap, enum tpc_log_level level,
                             const tpc_log_field_t *fields, size_t nfields, const char *msg)
{
	struct out o = {out, 0, cap};
	char ts[80], prio[8];
	struct timeval tv;
	struct tm tm;
	int journal = atomic_load(&log_journal);

	if (cap < 3)
		return 0;
	if (journal) {
		snprintf(prio, sizeof(prio), "<%d>", level_prio[level]);
		puts_(&o, prio);
	} else {
		/* UTC with milliseconds; gmtime_r because gmtime's static result would be
		 * shared by the threads */
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         (int)(tv.tv_usec / 1000));
	}
	if (atomic_load(&log_format) == TPC_LOG_JSON)
		format_json(&o, journal ? NULL : ts, level, fields, nfields, msg);
	else
		format_logfmt(&o, journal ? NULL : ts, level, fields, nfields, msg);
	out[o.len++] = '\n';
	out[o.len] = 0;
	return o.len;
}

static void vlog(enum tpc_log_level level, const tpc_log_field_t *fields, size_t nfields,
                 const char *fmt, va_list ap)
{
	char msg[MSG_MAX], rec[REC_MAX];
	size_t n;

	/* vsnprintf cuts a long message to the buffer rather than writing past it */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = tpc_log_format_record(rec, sizeof(rec), level, fields, nfields, msg);
	/* nowhere left to report a failed log write; the if only silences warn_unused_result */
	if (write(STDERR_FILENO, rec, n) < 0)
		return;
}

void tpc_log(enum tpc_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	vlog(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void tpc_log_kv(enum tpc_log_level level, const tpc_log_field_t *fields, size_t nfields,
                const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	vlog(level, fields, nfields, fmt, ap);
	va_end(ap);
}
