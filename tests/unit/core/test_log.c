/* tests/unit/core/test_log.c - the log records of engine/core/log.c: logfmt quoting and
 * escaping, JSON that jansson parses back (non-ASCII and invalid UTF-8 values included), the
 * journald priority prefixes and when JOURNAL_STREAM turns them on, the level filter. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

TestSuite(log, .timeout = 30);

static char rec[8192];

static const char *fmt(enum tpc_log_level level, const tpc_log_field_t *f, size_t n,
                       const char *msg)
{
	tpc_log_format_record(rec, sizeof(rec), level, f, n, msg);
	return rec;
}

Test(log, logfmt_has_ts_level_msg_and_fields_on_one_line)
{
	tpc_log_field_t f[] = {{"key", "20261100000101", 0},
	                       {"sender", "hospital", 0},
	                       {"sequence", NULL, 42},
	                       {"code", "T00013", 0}};

	tpc_log_set_format(TPC_LOG_LOGFMT);
	tpc_log_set_journal(0);
	fmt(TPC_LOG_INFO, f, 4, "sending refused");
	cr_assert(strncmp(rec, "ts=", 3) == 0, "%s", rec);
	cr_assert(strstr(rec, "Z level=info msg=\"sending refused\" key=20261100000101 "
	                      "sender=hospital sequence=42 code=T00013\n"),
	          "%s", rec);
	cr_assert_eq(strchr(rec, '\n'), rec + strlen(rec) - 1, "one line");
}

Test(log, logfmt_quotes_and_escapes_what_would_split_the_value)
{
	tpc_log_field_t f[] = {{"file", "a \"b\"\\c\nd=e", 0}, {"empty", "", 0}};

	tpc_log_set_format(TPC_LOG_LOGFMT);
	tpc_log_set_journal(0);
	fmt(TPC_LOG_WARN, f, 2, "x");
	cr_assert(strstr(rec, " file=\"a \\\"b\\\"\\\\c\\nd=e\" empty=\"\"\n"), "%s", rec);
	cr_assert(strstr(rec, " msg=x "), "a plain word is not quoted: %s", rec);
}

Test(log, logfmt_keeps_utf8_and_escapes_invalid_bytes)
{
	tpc_log_field_t f[] = {{"file", "d\xc3\xa9p\xc3\xb4t-\xff\xfe.920000", 0}};

	tpc_log_set_format(TPC_LOG_LOGFMT);
	tpc_log_set_journal(0);
	fmt(TPC_LOG_INFO, f, 1, "m\x80");
	cr_assert(strstr(rec, " file=\"d\xc3\xa9p\xc3\xb4t-\\xFF\\xFE.920000\"\n"), "%s", rec);
	cr_assert(strstr(rec, " msg=\"m\\x80\""), "%s", rec);
}

/* Parse the record back with jansson: it must be one valid JSON object. */
static json_t *parse(void)
{
	json_error_t e;
	json_t *j = json_loads(rec, JSON_REJECT_DUPLICATES, &e);

	cr_assert_not_null(j, "not JSON (%s at %d): %s", e.text, e.position, rec);
	cr_assert(json_is_object(j));
	return j;
}

Test(log, json_parses_with_non_ascii_and_invalid_utf8_values)
{
	tpc_log_field_t f[] = {
	    {"key", "clé-\xe2\x82\xac", 0}, {"file", "x\xff\"y\"\n\x01", 0}, {"sequence", NULL, 7}};
	json_t *j;

	tpc_log_set_format(TPC_LOG_JSON);
	tpc_log_set_journal(0);
	fmt(TPC_LOG_ERROR, f, 3, "quoted \"msg\" \xc3");
	cr_assert_eq(strchr(rec, '\n'), rec + strlen(rec) - 1, "one line: %s", rec);
	j = parse();
	cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "error");
	cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "quoted \"msg\" \\xC3");
	cr_assert_str_eq(json_string_value(json_object_get(j, "key")), "clé-\xe2\x82\xac");
	cr_assert_str_eq(json_string_value(json_object_get(j, "file")), "x\\xFF\"y\"\n\x01");
	cr_assert_eq(json_integer_value(json_object_get(j, "sequence")), 7);
	cr_assert(json_is_string(json_object_get(j, "ts")));
	json_decref(j);
	tpc_log_set_format(TPC_LOG_LOGFMT);
}

Test(log, journal_mode_prefixes_the_priority_and_drops_the_timestamp)
{
	static const struct {
		enum tpc_log_level level;
		const char *prefix;
	} want[] = {{TPC_LOG_ERROR, "<3>level=error "},
	            {TPC_LOG_WARN, "<4>level=warn "},
	            {TPC_LOG_INFO, "<6>level=info "},
	            {TPC_LOG_DEBUG, "<7>level=debug "}};
	json_t *j;

	tpc_log_set_format(TPC_LOG_LOGFMT);
	tpc_log_set_journal(1);
	for (size_t i = 0; i < 4; i++) {
		fmt(want[i].level, NULL, 0, "m");
		cr_assert(strncmp(rec, want[i].prefix, strlen(want[i].prefix)) == 0, "%s", rec);
		cr_assert_null(strstr(rec, "ts="), "%s", rec);
	}
	tpc_log_set_format(TPC_LOG_JSON);
	fmt(TPC_LOG_WARN, NULL, 0, "m");
	cr_assert(strncmp(rec, "<4>{", 4) == 0, "%s", rec);
	memmove(rec, rec + 3, strlen(rec + 3) + 1);
	j = parse();
	cr_assert_null(json_object_get(j, "ts"));
	json_decref(j);
	tpc_log_set_format(TPC_LOG_LOGFMT);
	tpc_log_set_journal(0);
}

/* JOURNAL_STREAM counts only when it names the stream stderr really is: a child that inherited
 * it with stderr sent to a file must not prefix its records. */
Test(log, journal_stream_must_name_stderr)
{
	struct stat st;
	char v[64];

	cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	cr_assert_eq(tpc_log_set_journal(-1), 1);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	cr_assert_eq(tpc_log_set_journal(-1), 0);
	setenv("JOURNAL_STREAM", "garbage", 1);
	cr_assert_eq(tpc_log_set_journal(-1), 0);
	unsetenv("JOURNAL_STREAM");
	cr_assert_eq(tpc_log_set_journal(-1), 0);
}

Test(log, level_filter_and_names)
{
	char path[] = "/tmp/tpc-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	enum tpc_log_level l;
	enum tpc_log_format f;
	char buf[4096] = "";

	cr_assert_eq(tpc_log_level_parse("warn", &l), 0);
	cr_assert_eq(l, TPC_LOG_WARN);
	cr_assert_eq(tpc_log_level_parse("verbose", &l), TPC_EINVAL);
	cr_assert_eq(tpc_log_format_parse("json", &f), 0);
	cr_assert_eq(f, TPC_LOG_JSON);
	cr_assert_eq(tpc_log_format_parse("text", &f), TPC_EINVAL);
	/* records go to stderr: point it at a file for the length of the test */
	cr_assert_geq(fd, 0);
	dup2(fd, STDERR_FILENO);
	tpc_log_set_journal(0);
	tpc_log_set_level(TPC_LOG_WARN);
	tpc_info("dropped");
	tpc_warn("kept %d", 1);
	tpc_log_set_level(TPC_LOG_INFO);
	dup2(saved, STDERR_FILENO);
	cr_assert_gt(pread(fd, buf, sizeof(buf) - 1, 0), 0);
	close(fd);
	unlink(path);
	cr_assert_null(strstr(buf, "dropped"), "%s", buf);
	cr_assert(strstr(buf, "level=warn msg=\"kept 1\""), "%s", buf);
}
