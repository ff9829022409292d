/* adapters/registry.h - the adapter registry: built-ins plus dlopen'd plugins.
 *
 * Every adapter, built in or plugin, passes the same checks before use: ABI number from
 * TPC_ADAPTER_ABI_MIN to TPC_ADAPTER_ABI, a valid unique name, every callback set, init()
 * succeeding. A plugin that fails any check is refused with a log line naming the file and the
 * reason, dlclose'd, and the engine goes on with the others. The registry is built on the main
 * thread before any worker starts and is read-only afterwards, so lookups need no lock.
 */
#ifndef TPC_ADAPTERS_H
#define TPC_ADAPTERS_H

#include "adapter.h"

typedef struct tpc_adapters tpc_adapters_t;

/** Where each adapter's configuration text comes from: the registry needs nothing else of the
 *  engine's configuration, so it takes this lookup rather than the whole config (the daemon
 *  passes one over tpc_config_adapter_text(), engine/core/config.h).
 *  text() returns the body of the [adapter.NAME] section for @p name, "" when there is none;
 *  the string is borrowed and must stay valid during the init() it is passed to. */
typedef struct tpc_adapter_config {
	const char *(*text)(const void *ctx, const char *name);
	const void *ctx; /* passed to text() as is */
} tpc_adapter_config_t;

/** Create a registry holding the built-in adapters (canonical, efact, eattest), initialised
 *  with their [adapter.NAME] configuration sections.
 *  @param[in]  cfg  where those sections come from (borrowed, only during the call)
 *  @param[out] out  new registry, owned by the caller; free with tpc_adapters_free()
 *  @return 0 or a negative TPC_E* code (a built-in failing init is fatal). */
int tpc_adapters_new(const tpc_adapter_config_t *cfg, tpc_adapters_t **out);

/** Load every "*.so" in @p dir (sorted by name). Refusals are logged, not fatal.
 *  @return the number of plugins loaded, or a negative code when @p dir cannot be read. */
int tpc_adapters_load_dir(tpc_adapters_t *r, const tpc_adapter_config_t *cfg, const char *dir);

/** Load one plugin file.
 *  @return 0, TPC_EABI (ABI mismatch), TPC_EEXIST (name taken), TPC_EINVAL (no descriptor,
 *          bad name, missing callback, init failed) or TPC_ENOENT (dlopen failed). */
int tpc_adapters_load_file(tpc_adapters_t *r, const tpc_adapter_config_t *cfg, const char *path);

/** Find an adapter by name. @param[out] state its state (may be NULL).
 *  @return the descriptor (owned by the registry) or NULL. Thread-safe after setup. */
const tpc_adapter_t *tpc_adapters_find(const tpc_adapters_t *r, const char *name,
                                       const void **state);

/** Number of adapters registered. */
int tpc_adapters_count(const tpc_adapters_t *r);

/** fini() every adapter, dlclose plugins, free; NULL-safe; sets *@p r to NULL. */
void tpc_adapters_free(tpc_adapters_t **r);

#endif
