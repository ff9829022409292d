/* engine/core/config.h - tpcleard configuration: embedded defaults, overridden by an INI file.
 *
 * DESIGN: unlike other modules, tpc_config_t is a plain value struct: it is read once at startup
 * by the main thread, then only read (copied into the modules that need it), so hiding it would
 * buy nothing. Every key of the fixed sections is one row of the X-macro table TPC_CONFIG_KEYS
 * in config.c (section, name, type and bounds, default, one doc line); that row drives the
 * parser, the embedded defaults and `tpcleard --help`, and tests/unit/core/test_config_doc.c
 * checks docs/configuration.md and config/tpcleard.ini against it. The sections with a name in
 * them ([budget.NAME], [adapter.NAME]) are parsed by hand.
 *
 * config checks its own fields, so it knows the syntax of the values it holds (a local endpoint,
 * a BIC) and depends on no domain module beyond the budget list; the domain modules that need the
 * same checks (security/, payments/) call these functions rather than the other way round.
 */
#ifndef TPC_CONFIG_H
#define TPC_CONFIG_H

#include "clearing/budget.h"

#include <stddef.h>
#include <stdint.h>

#define TPC_PATH_MAX 1024
/* The file tpcleard reads when no --config is given, if it exists (the package installs it);
 * TPCLEARD_CONFIG names another one. */
#define TPC_CONFIG_DEFAULT_PATH  "/etc/tpclear/tpcleard.ini"
#define TPC_MAX_ADAPTER_SECTIONS 16

/** [security] mode: who may talk to the intake (docs/security.md). */
enum tpc_security_mode {
	TPC_SECURITY_AUTO = 0,  /* curve unless every endpoint is loopback or ipc (the default) */
	TPC_SECURITY_CURVE = 1, /* CURVE, admitting the keys of the senders registry only */
	TPC_SECURITY_PLAIN = 2, /* no authentication: refused unless every endpoint is local */
};

/** Durability of ledger commits. */
enum tpc_sync {
	TPC_SYNC_FULL = 0,       /* fsync data and meta page on every commit (default) */
	TPC_SYNC_NOMETASYNC = 1, /* skip the meta-page fsync: a crash may lose the last commit */
	TPC_SYNC_NONE = 2,       /* no fsync: benchmarks of the ceiling only, never production */
};

typedef struct tpc_config {
	/* [engine] */
	int workers;              /* worker threads; 0 = online CPUs */
	int queue_depth;          /* jobs waiting for a worker before "busy" */
	size_t max_sending_bytes; /* largest payload accepted */
	uint32_t max_invoices;    /* most invoices per sending */
	uint32_t max_lines;       /* most lines per sending */
	int retry_after_ms;       /* hint given with "busy" */
	size_t max_load_bytes;    /* largest reference data (feed) file accepted */
	/* requests of one sender in flight at once; 0 = no bound */
	uint32_t max_in_flight_per_sender;
	/* requests of one connection not yet answered or whose answer ZeroMQ still holds; 0 = none
	 */
	uint32_t max_outstanding_per_connection;
	size_t max_memory_in_flight;  /* estimated working memory of the requests in flight */
	size_t max_payload_in_flight; /* payload bytes of the sendings in flight: the most */
	uint32_t admission_delay_ms;  /* what a new sending may wait behind those in flight; 0 = */
	                              /* max_payload_in_flight alone (pipeline/admission.h) */
	int worker_nice;              /* niceness the worker threads take (0..19): the writer */
	                              /* runs before them when the cores are contended */
	uint32_t small_first_ms;      /* how long a sending may be overtaken by smaller ones */
	                              /* in the workers' and writer's queues; 0 = arrival order */
	int max_load_drop_percent;    /* a replace removing more of the kind's rows is refused */
	/* [intake] */
	char endpoint[256]; /* ZeroMQ ROUTER endpoint */
	int sndhwm, rcvhwm;
	/* [http] */
	char http_listen[128]; /* host:port, or "off" */
	/* [security] */
	enum tpc_security_mode security_mode;
	char server_key[TPC_PATH_MAX];   /* engine's secret key; "" = DATA_DIR/server.key */
	char senders_path[TPC_PATH_MAX]; /* senders registry; "" = DATA_DIR/senders.ini */
	/* [ledger] */
	char data_dir[TPC_PATH_MAX];
	size_t map_size;         /* initial LMDB map size */
	size_t map_max;          /* ceiling the map may grow to */
	int group_max;           /* most sendings per write transaction */
	int group_max_lines;     /* most lines per write transaction (one sending always) */
	size_t zero_ahead;       /* written zeros kept past the ledger's last page (0: off) */
	int attest_journal;      /* 1: eAttests answered from the journal (ledger/attest.h) */
	size_t map_resident_max; /* shared resident bytes above which the ledger's mapped pages */
	                         /* are dropped from the daemon (store/residency.h); 0: never */
	enum tpc_sync sync;
	/* [clearing] */
	int max_refused_percent; /* refuse the whole sending above this refused share */
	int32_t as_of_day;       /* clear as of this day (days since epoch), 0 = the system date */
	/* [payments] */
	char payments_dir[TPC_PATH_MAX]; /* SEPA files; "" = DATA_DIR/payments */
	int execution_days;              /* requested execution date = run date + this many days */
	/* [budget.NAME]: the payer account of each budget (index: enum tpc_budget) */
	tpc_payer_t payer[TPC_BUDGET__COUNT];
	/* [adapters] */
	char adapter_dir[TPC_PATH_MAX]; /* plugins directory; "" = no plugins */
	/* [adapter.NAME]: raw "key=value\n" lines handed to that adapter's init() */
	int nadapter_sections;
	struct {
		char name[32];
		char text[1024];
	} adapter_sections[TPC_MAX_ADAPTER_SECTIONS];
} tpc_config_t;

/** Fill @p cfg with the embedded defaults (no file needed). */
void tpc_config_defaults(tpc_config_t *cfg);

/** Does budget @p b still pay from the sample account of the embedded defaults (a made-up
 *  IBAN with valid check digits, not a real account)? @return 1 or 0. */
int tpc_config_payer_is_sample(const tpc_config_t *cfg, enum tpc_budget b);

/** Apply the INI file @p path over @p cfg.
 *  @param[out] err  on failure, a message naming the file, line and key
 *  @return 0, TPC_ENOENT when the file cannot be read, or TPC_ECONFIG. */
int tpc_config_load(tpc_config_t *cfg, const char *path, char *err, size_t errlen);

/** Apply INI text (same rules as a file; @p name is used in messages). */
int tpc_config_load_string(tpc_config_t *cfg, const char *name, const char *text, char *err,
                           size_t errlen);

/** Check cross-key consistency after loading: map_size within map_max, and plain security
 *  mode only when every endpoint is local (tpc_config_endpoint_is_local()).
 *  @param[out] err  on failure, which keys and what to do
 *  @return 0 or TPC_ECONFIG with @p err set. */
int tpc_config_check(const tpc_config_t *cfg, char *err, size_t errlen);

/** The adapter section text for @p name, or "" when there is none. */
const char *tpc_config_adapter_text(const tpc_config_t *cfg, const char *name);

/** The same with @p cfg untyped: the lookup the adapter registry takes
 *  (tpc_adapter_config_t in adapters/registry.h, which does not know tpc_config_t), so the
 *  daemon, the bench and the tests hand `{tpc_config_adapter_lookup, cfg}` to it.
 *  @param[in] cfg  a tpc_config_t (borrowed) */
const char *tpc_config_adapter_lookup(const void *cfg, const char *name);

/** Parse a size with an optional K/M/G/T suffix (powers of 1024). @return 0 or TPC_EINVAL. */
int tpc_config_parse_size(const char *s, size_t *out);

/** Is a ZeroMQ endpoint reachable only from this machine: ipc://, inproc://, or tcp:// on
 *  127.0.0.0/8, ::1, localhost or the interface lo? Anything else (a wildcard, another address,
 *  another transport, a source address) is not. Pure; safe from any thread. */
int tpc_config_endpoint_is_local(const char *endpoint);

/** The same for an HTTP listen address (host:port); "off" is local (nothing listens). */
int tpc_config_http_is_local(const char *listen);

/** Is @p bic a BIC the SEPA files accept: ISO 9362, 8 or 11 characters, upper case, within the
 *  BICIdentifier pattern of pain.001.001.03? NULL is not. Pure; safe from any thread. */
int tpc_config_bic_ok(const char *bic);

/** What --help and the documentation check know of one key of a fixed section. */
typedef struct tpc_config_key_info {
	const char *section; /* "ledger" (static storage, like every string here) */
	const char *name;    /* "map_size" */
	const char *def;     /* the default as an INI file writes it: "64M"; "" = empty */
	const char *doc;     /* one line */
	char values[64]; /* accepted values: "0..256", "1M or more", "full, nometasync or none" */
} tpc_config_key_info_t;

/** Describe key @p i of the table; keys come in the order of docs/configuration.md.
 *  @param[out] out  filled on success
 *  @return 0, or TPC_ENOENT when @p i is past the last key. */
int tpc_config_key_info(size_t i, tpc_config_key_info_t *out);

#endif /* TPC_CONFIG_H */
