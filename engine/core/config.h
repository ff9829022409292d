/* engine/core/config.h - tpcleard configuration: embedded defaults, overridden by an INI file.
 *
 * Unlike other modules, tpc_config_t is a plain value struct: it is read once at startup, then
 * only read (copied into the modules that need it), so hiding it would buy nothing. Every key
 * is documented in docs/configuration.md; keep that file and the table in config.c in step.
 */
#ifndef TPC_CONFIG_H
#define TPC_CONFIG_H

#include "clearing/budget.h"

#include <stddef.h>
#include <stdint.h>

#define TPC_PATH_MAX             1024
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
	size_t map_size; /* initial LMDB map size */
	size_t map_max;  /* ceiling the map may grow to */
	int group_max;   /* most sendings per write transaction */
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

/** Apply the INI file @p path over @p cfg.
 *  @param[out] err  on failure, a message naming the file, line and key
 *  @return 0, TPC_ENOENT when the file cannot be read, or TPC_ECONFIG. */
int tpc_config_load(tpc_config_t *cfg, const char *path, char *err, size_t errlen);

/** Apply INI text (same rules as a file; @p name is used in messages). */
int tpc_config_load_string(tpc_config_t *cfg, const char *name, const char *text, char *err,
                           size_t errlen);

/** Check cross-key consistency after loading. @return 0 or TPC_ECONFIG with @p err set. */
int tpc_config_check(const tpc_config_t *cfg, char *err, size_t errlen);

/** The adapter section text for @p name, or "" when there is none. */
const char *tpc_config_adapter_text(const tpc_config_t *cfg, const char *name);

/** Parse a size with an optional K/M/G/T suffix (powers of 1024). @return 0 or TPC_EINVAL. */
int tpc_config_parse_size(const char *s, size_t *out);

#endif /* TPC_CONFIG_H */
