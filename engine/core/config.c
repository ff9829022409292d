/* engine/core/config.c - defaults and INI loading (see config.h).
 *
 * DESIGN: every key of a fixed section is one row of TPC_CONFIG_KEYS below. The row is expanded
 * twice: once into compile-time checks that the key's type matches its field in tpc_config_t
 * (a size key on an int field would overwrite its neighbour), once into the table keys[] that
 * the parser, tpc_config_defaults() and tpc_config_key_info() (--help, the documentation test)
 * read. Defaults are written as an INI file would write them and parsed by the same setters, so
 * the sample file, the doc and the compiled-in values cannot disagree without a test noticing.
 *
 * inih calls handler() once per key; the first bad key is remembered with its line so the
 * message names file, line and key, then startup stops. Only the main thread loads a
 * configuration, before any other thread starts.
 */
#include "core/config.h"

#include "common/check.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB (1LL << 10)
#define MIB (1LL << 20)
#define GIB (1LL << 30)

/* ---- the table ------------------------------------------------------------------------------ */

/* One row per key: X(section, name, field of tpc_config_t, type and bounds, default, doc line).
 * Types: INT(lo, hi) and U32(lo, hi) integers, INT_ZERO and U32_ZERO the same with what 0 means
 * (said in the error message); SIZE(lo, hi) a size with a K/M/G/T suffix (hi 0 = no ceiling);
 * ENUM(type, names) one word of names[]; PATH any string that fits, NONEMPTY_PATH the same but
 * not empty; ENDPOINT a ZeroMQ endpoint; LISTEN host:port or off; DAY YYYY-MM-DD or empty. Each
 * type is a pair (C type of the field, initializers of struct key), taken apart by KEY_CTYPE and
 * KEY_INIT below. The order is docs/configuration.md's. */
#define TPC_CONFIG_KEYS(X)                                                                         \
	X(engine, workers, workers, INT_ZERO(0, 256, "online CPUs"), "0",                          \
	  "worker threads that decode, validate and judge sendings; 0 = one per online CPU")       \
	X(engine, queue_depth, queue_depth, INT(1, 1000000), "256",                                \
	  "sendings waiting for a worker; when full, new ones are answered busy")                  \
	X(engine, max_sending_bytes, max_sending_bytes, SIZE(1 * KIB, 4 * GIB), "64M",             \
	  "largest payload accepted; larger ones are refused T00005 at intake")                    \
	X(engine, max_invoices, max_invoices, U32(1, INT_MAX), "100000",                           \
	  "most invoices in one sending; more is refused T00013")                                  \
	X(engine, max_lines, max_lines, U32(1, INT_MAX), "1000000",                                \
	  "most lines in one sending; more is refused T00013")                                     \
	X(engine, retry_after_ms, retry_after_ms, INT(1, 600000), "200",                           \
	  "hint sent with a busy receipt")                                                         \
	X(engine, max_load_bytes, max_load_bytes, SIZE(1 * KIB, 4 * GIB), "64M",                   \
	  "largest reference data (feed) file a LOAD may carry; larger ones are refused T00046")   \
	X(engine, max_in_flight_per_sender, max_in_flight_per_sender,                              \
	  U32_ZERO(0, 1000000, "no bound"), "128",                                                 \
	  "requests of one sender received and not yet answered; 0 = no bound")                    \
	X(engine, max_outstanding_per_connection, max_outstanding_per_connection,                  \
	  U32_ZERO(0, 1000000, "no bound"), "128",                                                 \
	  "requests of one connection whose answer is not yet answered or not yet read (still "    \
	  "queued in ZeroMQ); more are answered busy T00062; 0 = no bound")                        \
	X(engine, max_memory_in_flight, max_memory_in_flight, SIZE(1 * MIB, 0), "512M",            \
	  "working memory of all requests received and not yet answered, estimated from their "    \
	  "payloads; past it new ones are answered busy T00063 (one is always taken when none is " \
	  "in flight)")                                                                            \
	X(engine, max_payload_in_flight, max_payload_in_flight, SIZE(64 * KIB, 0), "32M",          \
	  "payload bytes of the sendings received and not yet answered: the most the admission "   \
	  "bound may reach (eAttests and loads aside)")                                            \
	X(engine, admission_delay_ms, admission_delay_ms, U32_ZERO(0, 600000, "bytes only"),       \
	  "100",                                                                                   \
	  "a new sending is answered busy T00064 at once while the sendings in flight would take " \
	  "this long to answer at the rate recently answered; 0 = max_payload_in_flight alone")    \
	X(engine, worker_nice, worker_nice, INT(0, 19), "0",                                       \
	  "niceness the worker threads add to the daemon's: the ledger writer, the one stage "     \
	  "every sending goes "                                                                    \
	  "through in turn, runs first when the cores are all busy; 0 = the workers as the "       \
	  "writer")                                                                                \
	X(engine, small_first_ms, small_first_ms, U32_ZERO(0, 600000, "arrival order"), "50",      \
	  "the workers and the ledger writer take the smallest sending waiting first, unless the " \
	  "oldest has waited this long; 0 = arrival order")                                        \
	X(engine, max_load_drop_percent, max_load_drop_percent, INT(0, 100), "10",                 \
	  "a LOAD replacing a kind with this share of its rows fewer is refused T00060 unless "    \
	  "forced")                                                                                \
	X(intake, endpoint, endpoint, ENDPOINT, "tcp://127.0.0.1:5570",                            \
	  "ZeroMQ ROUTER endpoint senders connect to (tcp://host:* picks a free port)")            \
	X(intake, sndhwm, sndhwm, INT(1, 10000000), "10000",                                       \
	  "ZeroMQ send high-water mark (messages per peer)")                                       \
	X(intake, rcvhwm, rcvhwm, INT(1, 10000000), "10000", "ZeroMQ receive high-water mark")     \
	X(http, listen, http_listen, LISTEN, "127.0.0.1:9570",                                     \
	  "HTTP listener for /metrics and /healthz; port 0 picks a free port; off disables it")    \
	X(security, mode, security_mode, ENUM(enum tpc_security_mode, security_modes), "auto",     \
	  "who may submit; auto = plain when every endpoint is loopback or ipc, else curve")       \
	X(security, server_key, server_key, PATH, "",                                              \
	  "the engine's secret CURVE key file; empty = DATA_DIR/server.key")                       \
	X(security, senders, senders_path, PATH, "",                                               \
	  "the senders registry, reloaded on SIGHUP; empty = DATA_DIR/senders.ini")                \
	X(ledger, data_dir, data_dir, NONEMPTY_PATH, "tpclear-data",                               \
	  "directory of the LMDB environment (created if missing)")                                \
	X(ledger, map_size, map_size, SIZE(1 * MIB, 0), "64M", "initial LMDB map size")            \
	X(ledger, map_max, map_max, SIZE(1 * MIB, 0), "64G",                                       \
	  "ceiling the map may grow to; at the ceiling sendings are refused T00009")               \
	X(ledger, group_max, group_max, INT(1, 100000), "256",                                     \
	  "most sendings committed in one write transaction (group commit)")                       \
	X(ledger, group_max_lines, group_max_lines, INT(1, 100000000), "65536",                    \
	  "most lines in one write transaction; a larger sending is a group of its own")           \
	X(ledger, zero_ahead, zero_ahead, SIZE(0, 0), "16M",                                       \
	  "written zeros kept past the ledger's last page while idle; 0 = off")                    \
	X(ledger, map_resident_max, map_resident_max, SIZE(0, 0), "512M",                          \
	  "the ledger's pages mapped into the daemon (RssFile) above which they are dropped from " \
	  "its resident set, staying in the page cache; 0 = never")                                \
	X(ledger, sync, sync, ENUM(enum tpc_sync, sync_modes), "full",                             \
	  "fsync every commit (full), all but the meta page (nometasync), or nothing (none)")      \
	X(ledger, attest_journal, attest_journal, INT(0, 1), "0",                                  \
	  "1 = eAttests answered once written to DATA_DIR/eattest.journal, folded into the "       \
	  "ledger by the next commit (sync = full only); 0 = answered after their own commit")     \
	X(clearing, as_of, as_of_day, DAY, "",                                                     \
	  "clear as of this day instead of the system date (replays of a past period only)")       \
	X(clearing, max_refused_percent, max_refused_percent, INT(0, 100), "5",                    \
	  "refuse the whole sending (920099) above this refused share, in percent")                \
	X(payments, dir, payments_dir, PATH, "",                                                   \
	  "directory of the payment runs' SEPA files; empty = DATA_DIR/payments")                  \
	X(payments, execution_days, execution_days, INT(0, 30), "1",                               \
	  "requested execution date of the transfers = the run's day + this many days")            \
	X(adapters, dir, adapter_dir, PATH, "",                                                    \
	  "directory of adapter plugins (*.so), loaded at startup; empty = built-ins only")

enum key_type { T_INT, T_U32, T_SIZE, T_ENUM, T_PATH, T_NONEMPTY, T_ENDPOINT, T_LISTEN, T_DAY };

/* One word of an ENUM key; a list ends with a NULL name. */
struct enum_name {
	const char *name;
	int value;
};

/* Listed in the order the error message names them. */
static const struct enum_name security_modes[] = {{"curve", TPC_SECURITY_CURVE},
                                                  {"plain", TPC_SECURITY_PLAIN},
                                                  {"auto", TPC_SECURITY_AUTO},
                                                  {NULL, 0}};
static const struct enum_name sync_modes[] = {{"full", TPC_SYNC_FULL},
                                              {"nometasync", TPC_SYNC_NOMETASYNC},
                                              {"none", TPC_SYNC_NONE},
                                              {NULL, 0}};

/* A row of the table. Every type shares this one shape, so a single loop serves the parser, the
 * defaults and the descriptions; the fields a type does not use stay zero. */
struct key {
	const char *section, *name;
	enum key_type type;
	size_t off, cap;               /* the field: offset in tpc_config_t and its size */
	long long lo, hi;              /* INT, U32, SIZE bounds (SIZE: hi 0 = none) */
	const char *zero;              /* INT, U32: what 0 means, or NULL */
	const struct enum_name *names; /* ENUM */
	const char *def, *doc;
};

/* The types of the table: (C type of the field, initializers of its row). */
#define INT(lo_, hi_)            (int, .type = T_INT, .lo = (lo_), .hi = (hi_))
#define INT_ZERO(lo_, hi_, what) (int, .type = T_INT, .lo = (lo_), .hi = (hi_), .zero = (what))
#define U32(lo_, hi_)            (uint32_t, .type = T_U32, .lo = (lo_), .hi = (hi_))
#define U32_ZERO(lo_, hi_, what) (uint32_t, .type = T_U32, .lo = (lo_), .hi = (hi_), .zero = (what))
#define SIZE(lo_, hi_)           (size_t, .type = T_SIZE, .lo = (lo_), .hi = (hi_))
#define ENUM(ctype, list)        (ctype, .type = T_ENUM, .names = (list))
#define PATH                     (char *, .type = T_PATH)
#define NONEMPTY_PATH            (char *, .type = T_NONEMPTY)
#define ENDPOINT                 (char *, .type = T_ENDPOINT)
#define LISTEN                   (char *, .type = T_LISTEN)
#define DAY                      (int32_t, .type = T_DAY)
#define KEY_CTYPE_(ctype, ...)   ctype
#define KEY_INIT_(ctype, ...)    __VA_ARGS__
#define KEY_CTYPE(spec)          KEY_CTYPE_ spec
#define KEY_INIT(spec)           KEY_INIT_ spec

/* First expansion: the field has the C type the key's setter writes (a size key on an int field
 * would overwrite its neighbour). _Generic does not evaluate the field access through a null
 * pointer, it only reads its type; a char array decays to char *. */
#define X(section, name, field, spec, def, doc)                                                    \
	_Static_assert(_Generic(((tpc_config_t *)0)->field, KEY_CTYPE(spec) : 1, default : 0),     \
	               "[" #section "] " #name ": the key's type is not its field's type");
TPC_CONFIG_KEYS(X)
#undef X

/* Second expansion: the rows of keys[]. */
#define X(section_, name_, field, spec, def_, doc_)                                                \
	{.section = #section_,                                                                     \
	 .name = #name_,                                                                           \
	 .off = offsetof(tpc_config_t, field),                                                     \
	 .cap = sizeof(((tpc_config_t *)0)->field),                                                \
	 KEY_INIT(spec),                                                                           \
	 .def = (def_),                                                                            \
	 .doc = (doc_)},
static const struct key keys[] = {TPC_CONFIG_KEYS(X)};
#undef X

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The text of the types whose values and message do not depend on the row. */
static const struct {
	const char *values, *why;
} fixed_text[] = {
    [T_PATH] = {"path", "path too long"},
    [T_NONEMPTY] = {"non-empty path", "expected a non-empty path"},
    [T_ENDPOINT] = {"ZeroMQ endpoint", NULL}, /* the message quotes the default */
    [T_LISTEN] = {"host:port or off", "expected host:port or off"},
    [T_DAY] = {"YYYY-MM-DD or empty", "expected YYYY-MM-DD, or empty for the system date"},
};

/* ---- value parsers -------------------------------------------------------------------------- */

int tpc_config_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	/* A digit first, because strtoull itself skips blanks and accepts a sign: "-1" would come
	 * back as ULLONG_MAX, a map size of 16 EiB instead of an error. */
	if (!s || !isdigit((unsigned char)*s))
		return TPC_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return TPC_EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return TPC_EINVAL;
	}
	/* "64MiB" and "64MB" read as 64M: people write sizes all three ways */
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'B' || *end == 'b'))
		end++;
	if (*end)
		return TPC_EINVAL;
	/* the shift must not drop high bits: "20000000T" would otherwise wrap to a small size */
	if (shift && v > (ULLONG_MAX >> shift))
		return TPC_EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

/* strtol rather than atoi: "10s" or an overflow must be refused, not read as 10 or LONG_MAX. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return TPC_EINVAL;
	*out = (int)v;
	return 0;
}

/* A string that does not fit is refused, never truncated: a cut path would name another file. */
static int parse_str(const char *s, char *dst, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap)
		return TPC_EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

/* ---- one typed setter per key type ---------------------------------------------------------- */

/* U32 keys go through the same int parser, which is why the table caps them at INT_MAX:
 * parse_int() stores an int, so a hi above INT_MAX would let through a value that the (int)
 * cast then wraps. The cap is far above any real count of invoices or lines. */
static int set_int(const struct key *k, void *field, const char *v)
{
	int n;

	if (parse_int(v, (long)k->lo, (long)k->hi, &n))
		return TPC_EINVAL;
	if (k->type == T_U32)
		*(uint32_t *)field = (uint32_t)n; /* lo >= 0: the value is never negative */
	else
		*(int *)field = n;
	return 0;
}

static int set_size(const struct key *k, void *field, const char *v)
{
	size_t sz;

	if (tpc_config_parse_size(v, &sz) || sz < (size_t)k->lo || (k->hi && sz > (size_t)k->hi))
		return TPC_EINVAL;
	*(size_t *)field = sz;
	return 0;
}

static int set_enum(const struct key *k, void *field, const char *v)
{
	for (const struct enum_name *e = k->names; e->name; e++)
		if (strcmp(v, e->name) == 0) {
			/* the field is an enum: memcpy stores its int value whatever the enum's
			 * underlying type is called (the type check above pinned the field) */
			TPC_REQUIRE(k->cap == sizeof(e->value));
			memcpy(field, &e->value, sizeof(e->value));
			return 0;
		}
	return TPC_EINVAL;
}

/* The string types differ only in what they check before the copy. The checks are syntax only:
 * whether the endpoint can bind is for the server to find out, with its own message. */
static int set_string(const struct key *k, void *field, const char *v)
{
	if (k->type == T_NONEMPTY && !*v)
		return TPC_EINVAL;
	if (k->type == T_ENDPOINT && !strstr(v, "://"))
		return TPC_EINVAL;
	if (k->type == T_LISTEN && strcmp(v, "off") != 0 && !strrchr(v, ':'))
		return TPC_EINVAL;
	return parse_str(v, field, k->cap);
}

/* Empty means "the system date" (0), so a file can say so explicitly. */
static int set_day(void *field, const char *v)
{
	int32_t d;
	unsigned y, m, dd;
	char tail;

	if (!*v) {
		*(int32_t *)field = 0;
		return 0;
	}
	/* %c catches trailing text; d <= 0 is refused because day 0 already means "the system
	 * date", so 1970-01-01 and earlier cannot be asked for */
	if (sscanf(v, "%4u-%2u-%2u%c", &y, &m, &dd, &tail) != 3 ||
	    tpc_check_date_yyyymmdd(y * 10000u + m * 100u + dd, &d) != 0 || d <= 0)
		return TPC_EINVAL;
	*(int32_t *)field = d;
	return 0;
}

/* Parse @p v as key @p k and store it in @p cfg; on failure the field is left as it was. The
 * field is reached through its offset, so one setter per type serves every key of that type. */
static int set_value(const struct key *k, tpc_config_t *cfg, const char *v)
{
	void *field = (char *)cfg + k->off;

	switch (k->type) {
	case T_INT:
	case T_U32:
		return set_int(k, field, v);
	case T_SIZE:
		return set_size(k, field, v);
	case T_ENUM:
		return set_enum(k, field, v);
	case T_PATH:
	case T_NONEMPTY:
	case T_ENDPOINT:
	case T_LISTEN:
		return set_string(k, field, v);
	case T_DAY:
		return set_day(field, v);
	}
	return TPC_EINVAL; /* not reached: every type is a case above */
}

/* ---- describing a key: --help, the doc check and error messages ----------------------------- */

/* A size the way the doc writes it: the largest unit that divides it (1K, 4G, 64M). */
static void format_size(long long v, char *buf, size_t len)
{
	static const char units[] = "TGMK";

	for (int shift = 40, u = 0; shift > 0; shift -= 10, u++)
		if (v >= (1LL << shift) && v % (1LL << shift) == 0) {
			snprintf(buf, len, "%lld%c", v >> shift, units[u]);
			return;
		}
	snprintf(buf, len, "%lld", v);
}

/* "a, b or c": the words of an ENUM key, as both the values and the message say them. */
static void join_names(const struct enum_name *e, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (; e->name && used < len; e++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		                         used == 0   ? ""
		                         : e[1].name ? ", "
		                                     : " or ",
		                         e->name);
}

/* The accepted values of @p k, as the doc's "values" column writes them. */
static void describe_values(const struct key *k, char *buf, size_t len)
{
	char lo[24], hi[24];

	switch (k->type) {
	case T_INT:
	case T_U32:
		/* INT_MAX is no real ceiling (the field is a count), so do not print it */
		if (k->hi == INT_MAX)
			snprintf(buf, len, "%lld or more", k->lo);
		else
			snprintf(buf, len, "%lld..%lld", k->lo, k->hi);
		return;
	case T_SIZE:
		format_size(k->lo, lo, sizeof(lo));
		format_size(k->hi, hi, sizeof(hi));
		if (k->hi)
			snprintf(buf, len, "%s..%s", lo, hi);
		else
			snprintf(buf, len, "%s or more", lo);
		return;
	case T_ENUM:
		join_names(k->names, buf, len);
		return;
	default:
		snprintf(buf, len, "%s", fixed_text[k->type].values);
		return;
	}
}

/* Why a value of @p k was refused. The texts are the ones operators have seen since the first
 * release (tests and runbooks grep them), so each type keeps its own wording. */
static void explain(const struct key *k, char *why, size_t len)
{
	char values[64], lo[24], hi[24];

	switch (k->type) {
	case T_INT:
	case T_U32:
		if (k->lo == 1 && k->hi == INT_MAX)
			snprintf(why, len, "expected a positive integer");
		else
			snprintf(why, len, "expected an integer %lld..%lld%s%s%s", k->lo, k->hi,
			         k->zero ? " (0 = " : "", k->zero ? k->zero : "",
			         k->zero ? ")" : "");
		return;
	case T_SIZE:
		format_size(k->lo, lo, sizeof(lo));
		format_size(k->hi, hi, sizeof(hi));
		if (k->hi)
			snprintf(why, len, "expected a size (e.g. %s) between %s and %s", k->def,
			         lo, hi);
		else
			snprintf(why, len, "expected a size (e.g. %s) of at least %s", k->def, lo);
		return;
	case T_ENUM:
		join_names(k->names, values, sizeof(values));
		snprintf(why, len, "expected %s", values);
		return;
	case T_ENDPOINT:
		snprintf(why, len, "expected a ZeroMQ endpoint such as %s", k->def);
		return;
	default:
		snprintf(why, len, "%s", fixed_text[k->type].why);
		return;
	}
}

/* The values are rendered from the bounds, not written beside them, so they cannot drift. */
int tpc_config_key_info(size_t i, tpc_config_key_info_t *out)
{
	if (i >= NKEYS)
		return TPC_ENOENT;
	out->section = keys[i].section;
	out->name = keys[i].name;
	out->def = keys[i].def;
	out->doc = keys[i].doc;
	describe_values(&keys[i], out->values, sizeof(out->values));
	return 0;
}

/* A linear scan: two dozen keys, looked up once per line of a file read at startup. */
static const struct key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* ---- defaults ------------------------------------------------------------------------------- */

/* Sample payer accounts (valid check digits, not real accounts): the demo's; replace them in
 * production. tpc_config_payer_is_sample() compares against these, so main.c can warn. */
static const char *const sample_ibans[TPC_BUDGET__COUNT] = {"",
                                                            "BE10679000010104",
                                                            "BE63679000020208",
                                                            "BE19679000030312",
                                                            "BE72679000040416",
                                                            "BE28679000050520",
                                                            "BE81679000060624"};
static const char *const sample_names[TPC_BUDGET__COUNT] = {"",
                                                            "CAAMI-HZIV AMI",
                                                            "CAAMI-HZIV for SPP IS",
                                                            "CAAMI-HZIV for Fedasil",
                                                            "CAAMI-HZIV for SPF Justice",
                                                            "CAAMI-HZIV war victims",
                                                            "CAAMI-HZIV OSSOM"};

int tpc_config_payer_is_sample(const tpc_config_t *cfg, enum tpc_budget b)
{
	if ((int)b <= 0 || b >= TPC_BUDGET__COUNT)
		return 0;
	return strcmp(cfg->payer[b].iban, sample_ibans[b]) == 0;
}

void tpc_config_defaults(tpc_config_t *cfg)
{
	/* Zeroed first: fields outside the table (payer[], adapter sections) start empty, and the
	 * strings are NUL-terminated before any setter copies into them. */
	memset(cfg, 0, sizeof(*cfg));
	/* a default the setter refuses is a bug in the table, caught by the first test that runs */
	for (size_t i = 0; i < NKEYS; i++)
		TPC_REQUIRE(set_value(&keys[i], cfg, keys[i].def) == 0);
	for (int b = 1; b < TPC_BUDGET__COUNT; b++) {
		snprintf(cfg->payer[b].name, sizeof(cfg->payer[b].name), "%s", sample_names[b]);
		snprintf(cfg->payer[b].iban, sizeof(cfg->payer[b].iban), "%s", sample_ibans[b]);
		snprintf(cfg->payer[b].bic, sizeof(cfg->payer[b].bic), "PCHQBEBB");
	}
}

/* ---- sections with a name in them ----------------------------------------------------------- */

/* [budget.NAME]: NAME must be a budget, and its three keys are checked as the SEPA writer will
 * need them, so a bad account stops startup instead of the first payment run. */
static int set_budget_key(tpc_config_t *c, const char *budget, const char *key, const char *v,
                          const char **why)
{
	enum tpc_budget b;
	tpc_payer_t *p;

	*why = "unknown budget (AMI, SPPIS, FEDASIL, JUSTICE, WARVICTIMS, OSSOM)";
	if (tpc_budget_by_name(budget, &b))
		return TPC_EINVAL;
	p = &c->payer[b];
	if (strcmp(key, "name") == 0) {
		*why = "expected 1..70 characters";
		return *v ? parse_str(v, p->name, sizeof(p->name)) : TPC_EINVAL;
	}
	if (strcmp(key, "iban") == 0) {
		*why = "expected an IBAN with valid check digits, no spaces";
		if (!tpc_check_iban(v, strlen(v)) || strlen(v) >= sizeof(p->iban))
			return TPC_EINVAL;
		return parse_str(v, p->iban, sizeof(p->iban));
	}
	if (strcmp(key, "bic") == 0) {
		*why = "expected a BIC of 8 or 11 characters, or empty";
		if (*v && !tpc_config_bic_ok(v))
			return TPC_EINVAL;
		return parse_str(v, p->bic, sizeof(p->bic));
	}
	*why = "unknown key (name, iban, bic)";
	return TPC_EINVAL;
}

/* [adapter.NAME]: the engine does not know an adapter's keys, so it hands each section over as
 * "key=value\n" lines; a section seen twice continues the same text. */
static int add_adapter_line(tpc_config_t *c, const char *name, const char *key, const char *v,
                            const char **why)
{
	int i;

	*why = "too many adapter sections, or section text too long";
	for (i = 0; i < c->nadapter_sections; i++)
		if (strcmp(c->adapter_sections[i].name, name) == 0)
			break;
	if (i == c->nadapter_sections) {
		if (i == TPC_MAX_ADAPTER_SECTIONS || strlen(name) >= 32 || !*name)
			return TPC_EINVAL;
		snprintf(c->adapter_sections[i].name, 32, "%s", name);
		c->nadapter_sections++;
	}
	char *t = c->adapter_sections[i].text;
	size_t used = strlen(t), add = strlen(key) + strlen(v) + 2;
	/* refused rather than cut: an adapter reading half a line would misread its setting */
	if (used + add >= sizeof(c->adapter_sections[i].text))
		return TPC_EINVAL;
	snprintf(t + used, sizeof(c->adapter_sections[i].text) - used, "%s=%s\n", key, v);
	return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Apply one "key = value" of [section]; on failure @p why says what was expected. */
static int set_key(tpc_config_t *c, const char *section, const char *key, const char *v, char *why,
                   size_t whylen)
{
	const struct key *k = find_key(section, key);
	const char *text = "unknown key";
	int rc = TPC_EINVAL;

	if (k) {
		if (set_value(k, c, v) == 0)
			return 0;
		explain(k, why, whylen);
		return TPC_EINVAL;
	}
	if (strncmp(section, "budget.", 7) == 0)
		rc = set_budget_key(c, section + 7, key, v, &text);
	else if (strncmp(section, "adapter.", 8) == 0)
		rc = add_adapter_line(c, section + 8, key, v, &text);
	if (rc)
		snprintf(why, whylen, "%s", text);
	return rc;
}

struct load_ctx {
	tpc_config_t *cfg;
	const char *name;
	char *err;
	size_t errlen;
	int failed;
};

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *x = user;
	char why[160];

	if (x->failed)
		return 1; /* keep the first error only */
	if (set_key(x->cfg, section, key, value, why, sizeof(why)) != 0) {
		x->failed = 1;
		snprintf(x->err, x->errlen, "[%s] %s = '%s': %s", section, key, value, why);
		return 0; /* inih then reports this line's number as its result */
	}
	return 1;
}

/* inih's result: 0, -1 when the file cannot be opened (-2 out of memory: both "cannot read"), or
 * the number of the first line that failed: the line our handler refused, or a syntax error. */
static int finish(struct load_ctx *x, int rc)
{
	char detail[512];

	if (rc == 0 && !x->failed)
		return 0;
	if (rc < 0) {
		snprintf(x->err, x->errlen, "%s: cannot read the file", x->name);
		return TPC_ENOENT;
	}
	snprintf(detail, sizeof(detail), "%s", x->failed ? x->err : "syntax error");
	snprintf(x->err, x->errlen, "%s:%d: %s", x->name, rc, detail);
	return TPC_ECONFIG;
}

int tpc_config_load(tpc_config_t *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx x = {cfg, path, err, errlen, 0};

	return finish(&x, ini_parse(path, handler, &x));
}

int tpc_config_load_string(tpc_config_t *cfg, const char *name, const char *text, char *err,
                           size_t errlen)
{
	struct load_ctx x = {cfg, name, err, errlen, 0};

	return finish(&x, ini_parse_string(text, handler, &x));
}

/* ---- checks across keys --------------------------------------------------------------------- */

/* A host (no port) is local when it names the loopback: 127.0.0.0/8, ::1 (also written as the
 * v4-mapped ::ffff:127.x.y.z), localhost or the interface lo. */
static int host_is_local(const char *h, size_t n)
{
	char buf[128];
	struct in_addr a4;
	struct in6_addr a6;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = 0;
	/* ZeroMQ and "host:port" write an IPv6 address in brackets, so the port's colon is not
	 * confused with the address's own: "[::1]:5570". inet_pton wants it bare. */
	if (buf[0] == '[' && buf[n - 1] == ']') {
		memmove(buf, buf + 1, n - 2);
		buf[n - 2] = 0;
	}
	if (strcmp(buf, "localhost") == 0 || strcmp(buf, "lo") == 0)
		return 1;
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0; /* a wildcard, a name, another interface */
}

int tpc_config_endpoint_is_local(const char *ep)
{
	const char *host, *colon;

	/* ipc:// is a Unix socket (file permissions decide who connects), inproc:// never leaves
	 * the process; any transport not named here (pgm, ws, tipc...) counts as reachable */
	if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
		return 1;
	if (strncmp(ep, "tcp://", 6) != 0)
		return 0;
	/* the last colon is the port's, also for "[::1]:5570" */
	host = ep + 6;
	if (strchr(host, ';'))
		return 0; /* a source address: not a bind endpoint we can judge */
	colon = strrchr(host, ':');
	return colon && host_is_local(host, (size_t)(colon - host));
}

int tpc_config_http_is_local(const char *listen)
{
	const char *colon;

	if (strcmp(listen, "off") == 0)
		return 1;
	colon = strrchr(listen, ':');
	return colon && host_is_local(listen, (size_t)(colon - listen));
}

/* The pattern of BICIdentifier in pain.001.001.03, [A-Z]{6,6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3,3})?:
 * the ISO 9362 shape, plus the schema's two exclusions in the location (first character not 0 or
 * 1, second not O), so that no BIC we accept makes a SEPA file invalid. It lives here because
 * [budget.NAME] bic is checked at load, and payments/sepa.c uses the same rule. */
int tpc_config_bic_ok(const char *bic)
{
	size_t n;

	if (!bic)
		return 0;
	n = strlen(bic);
	if (n != 8 && n != 11)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = bic[i];
		int upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';

		if (i < 6 ? !upper : !(upper || digit))
			return 0;
	}
	return bic[6] != '0' && bic[6] != '1' && bic[7] != 'O';
}

/* Plain mode takes the envelope's sender at its word, which is safe only when nobody else can
 * reach the intake or the HTTP listener. Auto never needs this: it resolves to plain only when
 * both are local, and to curve otherwise (docs/security.md). */
static int check_plain_is_local(const tpc_config_t *cfg, char *err, size_t errlen)
{
	const char *what = NULL, *value = NULL;

	if (cfg->security_mode != TPC_SECURITY_PLAIN)
		return 0;
	if (!tpc_config_endpoint_is_local(cfg->endpoint)) {
		what = "[intake] endpoint";
		value = cfg->endpoint;
	} else if (!tpc_config_http_is_local(cfg->http_listen)) {
		what = "[http] listen";
		value = cfg->http_listen;
	}
	if (!what)
		return 0;
	/* The message names the ways out, not only the fault: it stops startup, and both fixes
	 * (curve, or a local bind) are one line of the file. */
	snprintf(err, errlen,
	         "[security] mode = plain, but %s = %s can be reached from other machines: "
	         "without CURVE anyone who reaches it can submit and bill as any sender. Use "
	         "mode = curve with a senders registry (docs/security.md), or bind to 127.0.0.1, "
	         "::1 or ipc://",
	         what, value);
	return TPC_ECONFIG;
}

int tpc_config_check(const tpc_config_t *cfg, char *err, size_t errlen)
{
	/* each key is valid alone; the map can only grow, so a start above the ceiling is a typo */
	if (cfg->map_size > cfg->map_max) {
		snprintf(err, errlen, "[ledger] map_size is larger than map_max");
		return TPC_ECONFIG;
	}
	return check_plain_is_local(cfg, err, errlen);
}

/* "" rather than NULL: every adapter's init() gets a string, configured or not. */
const char *tpc_config_adapter_text(const tpc_config_t *cfg, const char *name)
{
	for (int i = 0; i < cfg->nadapter_sections; i++)
		if (strcmp(cfg->adapter_sections[i].name, name) == 0)
			return cfg->adapter_sections[i].text;
	return "";
}

const char *tpc_config_adapter_lookup(const void *cfg, const char *name)
{
	return tpc_config_adapter_text(cfg, name);
}
