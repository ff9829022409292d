/* adapters/registry.c - adapter registry and plugin loader (see registry.h).
 *
 * Built-ins and plugins go through the same add(): one set of checks, so a built-in cannot
 * rely on something a plugin would be refused for. A refused plugin is logged and closed and
 * the engine goes on with the others: one bad file in the plugin directory does not stop the
 * formats that work. A built-in that fails is fatal (registry.h, tpc_adapters_new()).
 */
#include "registry.h"

#include "canonical/canonical.h"
#include "eattest/eattest.h"
#include "efact/efact.h"
#include "core/error.h"
#include "core/log.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixed table: the registry is built once at startup and read without a lock by every
 * thread afterwards, so it never moves or grows while in use. */
#define MAX_ADAPTERS 32
/* a plugin's path as logged: the plugin directory is a config path (TPC_PATH_MAX, 1024 bytes)
 * plus a file name; the same bound, so the registry needs no part of the config */
#define PLUGIN_PATH_MAX 1024

/* One registered adapter. The state is the adapter's (made by its init(), freed by its fini());
 * the path is kept only for the log lines. */
struct entry {
	const tpc_adapter_t *desc;
	void *state;
	void *dl; /* NULL for built-ins */
	char path[PLUGIN_PATH_MAX];
};

struct tpc_adapters {
	int n;
	struct entry e[MAX_ADAPTERS];
};

static const tpc_adapter_t *const builtin[] = {
    &tpc_canonical_adapter,
    &tpc_eattest_adapter,
    &tpc_efact_adapter,
};

/* [a-z0-9_-]{1,31}: the name appears in a [adapter.NAME] section of the configuration, in log
 * lines, and in every stored answer's header (records.h: format, 32 bytes with its NUL), so it
 * must fit there and read as a plain word. */
static int valid_name(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 31;
}

/* What an operator should do with a plugin of another ABI. No shim per old ABI: ABI 3 and 4
 * differ in the signature of encode_settlement(), so an ABI 3 plugin called as ABI 4 would take
 * the payload for its settlement, and a shim would be code the engine carries for plugins a
 * rebuild fixes. ABI 4 needs none: ABI 5 only appended tpc_host_t.alloc_uninit, which it never
 * reads (adapter.h, "ABI history"), so TPC_ADAPTER_ABI_MIN admits it as it is. */
static const char *abi_advice(uint32_t abi)
{
	if (abi == 3)
		return "rebuild it against this engine's adapters/adapter.h (ABI 4: "
		       "encode_settlement() takes the sending's payload, refused_share is a field)";
	if (abi < TPC_ADAPTER_ABI_MIN)
		return "it is older: rebuild it against this engine's adapters/adapter.h";
	return "it was built for a newer engine: use that engine, or rebuild the plugin against "
	       "this one's adapters/adapter.h";
}

/* The checks every adapter passes, built in or not. Fills *why on refusal. All run before
 * init(), so no code of an adapter runs unless its descriptor is sound; a duplicate name is
 * refused rather than replacing the first one, as a name must lead to one adapter. */
static int abi_ok(uint32_t abi)
{
	return abi >= TPC_ADAPTER_ABI_MIN && abi <= TPC_ADAPTER_ABI;
}

static int check_desc(const tpc_adapters_t *r, const tpc_adapter_t *a, const char **why)
{
	if (!abi_ok(a->abi)) {
		*why = "ABI mismatch";
		return TPC_EABI;
	}
	if (!valid_name(a->name)) {
		*why = "missing or invalid name (want [a-z0-9_-]{1,31})";
		return TPC_EINVAL;
	}
	if (!a->init || !a->decode || !a->encode_answer || !a->describe || !a->fini) {
		*why = "a callback is missing";
		return TPC_EINVAL;
	}
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->e[i].desc->name, a->name) == 0) {
			*why = "duplicate adapter name";
			return TPC_EEXIST;
		}
	if (r->n == MAX_ADAPTERS) {
		*why = "too many adapters";
		return TPC_E2BIG;
	}
	return 0;
}

static int add(tpc_adapters_t *r, const tpc_adapter_config_t *cfg, const tpc_adapter_t *a, void *dl,
               const char *path, const char **why)
{
	void *state = NULL;
	int rc = check_desc(r, a, why);

	if (rc)
		return rc;
	/* the adapter gets only its own [adapter.NAME] section, never the engine's config */
	rc = a->init(cfg->text(cfg->ctx, a->name), &state);
	/* a failed init() leaves no entry, so fini() is never called on a state that was not
	 * made; the plugin is closed by the caller */
	if (rc) {
		*why = "init() failed";
		return TPC_EINVAL;
	}
	r->e[r->n].desc = a;
	r->e[r->n].state = state;
	r->e[r->n].dl = dl;
	snprintf(r->e[r->n].path, sizeof(r->e[r->n].path), "%s", path);
	r->n++;
	return 0;
}

int tpc_adapters_new(const tpc_adapter_config_t *cfg, tpc_adapters_t **out)
{
	tpc_adapters_t *r = calloc(1, sizeof(*r));
	const char *why = "";
	int rc;

	if (!r)
		return TPC_ENOMEM;
	/* built-ins first: a plugin can then never take a built-in's name, it is refused as a
	 * duplicate */
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		rc = add(r, cfg, builtin[i], NULL, "(built-in)", &why);
		if (rc) {
			tpc_error("built-in adapter %zu refused: %s", i, why);
			tpc_adapters_free(&r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

int tpc_adapters_load_file(tpc_adapters_t *r, const tpc_adapter_config_t *cfg, const char *path)
{
	const tpc_adapter_t *a;
	const char *why = "";
	void *dl;
	int rc;

	/* RTLD_NOW: a missing symbol refuses the plugin here, at startup, not in a worker at its
	 * first sending. RTLD_LOCAL: every plugin exports the same "tpc_adapter" symbol, and each
	 * dlsym() must find its own. */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		tpc_warn("adapter plugin %s refused: dlopen: %s", path, dlerror());
		return TPC_ENOENT;
	}
	a = dlsym(dl, "tpc_adapter");
	if (!a) {
		tpc_warn("adapter plugin %s refused: no 'tpc_adapter' descriptor", path);
		rc = TPC_EINVAL;
		goto out_dlclose;
	}
	/* The ABI first and alone (add() checks it again): abi is the descriptor's first field,
	 * and until it matches nothing after it can be read, the layout may differ. The log line
	 * below names the name only when it is a valid one, never arbitrary bytes. */
	if (!abi_ok(a->abi)) {
		tpc_warn("adapter plugin %s refused: built for adapter ABI %u, this engine speaks "
		         "ABI %u-%u: %s",
		         path, a->abi, TPC_ADAPTER_ABI_MIN, TPC_ADAPTER_ABI, abi_advice(a->abi));
		rc = TPC_EABI;
		goto out_dlclose;
	}
	rc = add(r, cfg, a, dl, path, &why);
	if (rc) {
		tpc_warn("adapter plugin %s refused: %s (adapter name '%s')", path, why,
		         valid_name(a->name) ? a->name : "?");
		goto out_dlclose;
	}
	tpc_info("adapter plugin %s loaded: '%s'", path, a->name);
	return 0;

out_dlclose:
	dlclose(dl);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted by name, so the order plugins load in (and which of two with one name wins: the
 * first) does not depend on the order readdir() happens to return. Names are collected and
 * sorted before any is loaded; past 256 files the rest are not looked at. */
int tpc_adapters_load_dir(tpc_adapters_t *r, const tpc_adapter_config_t *cfg, const char *dir)
{
	char *names[256];
	int n = 0, loaded = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		tpc_warn("adapter directory %s: cannot open", dir);
		return TPC_ENOENT;
	}
	while ((de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);
		if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		char path[PLUGIN_PATH_MAX];
		if (names[i]) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			if (tpc_adapters_load_file(r, cfg, path) == 0)
				loaded++;
		}
		free(names[i]);
	}
	return loaded;
}

/* A linear scan: at most MAX_ADAPTERS names, and the state returned is read-only after init
 * (decode must be reentrant, STYLE.md rule 9), so workers share it without a lock. */
const tpc_adapter_t *tpc_adapters_find(const tpc_adapters_t *r, const char *name,
                                       const void **state)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->e[i].desc->name, name) == 0) {
			if (state)
				*state = r->e[i].state;
			return r->e[i].desc;
		}
	return NULL;
}

int tpc_adapters_count(const tpc_adapters_t *r)
{
	return r->n;
}

void tpc_adapters_free(tpc_adapters_t **rp)
{
	tpc_adapters_t *r;

	if (!rp || !*rp)
		return;
	r = *rp;
	/* in reverse order of loading, and fini() before dlclose(): the descriptor and the code
	 * of fini() live in the library being closed */
	for (int i = r->n - 1; i >= 0; i--) {
		r->e[i].desc->fini(r->e[i].state);
		if (r->e[i].dl)
			dlclose(r->e[i].dl);
	}
	free(r);
	*rp = NULL;
}
