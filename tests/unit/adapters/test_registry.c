/* tests/unit/adapters/test_registry.c - the adapter registry and plugin loader
 * (adapters/registry.c).
 *
 * The plugins under test are built from tests/plugins/ into TPC_PLUGIN_DIR: plugin_good.so
 * ("echo"), plugin_bad_abi.so (ABI + 1), plugin_old_abi.so (ABI 3, the ABI before the
 * settlement got the payload), abi-min/plugin_abi_min.so ("echo-old": the good one declaring
 * TPC_ADAPTER_ABI_MIN, in a directory of its own), plugin_dup.so (reuses "canonical") and
 * plugin_nocb.so (no decode callback).
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "core/arena.h"
#include "canonical/canonical.h"
#include "core/config.h"
#include "core/error.h"
#include "testutil.h"

static char *dir;
static tpc_config_t config;

/* the registry takes only the adapter sections' lookup (adapters/registry.h) */
static const tpc_adapter_config_t cfg = {tpc_config_adapter_lookup, &config};
static tpc_adapters_t *reg;

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	tpc_config_defaults(&config);
	reg = NULL;
}

static void teardown(void)
{
	tpc_adapters_free(&reg);
	tpc_test_rmtree(dir);
	free(dir);
}

TestSuite(adapters, .init = setup, .fini = teardown, .timeout = 60);

static const char *plugin_dir(void)
{
	const char *d = getenv("TPC_PLUGIN_DIR");

	cr_assert_not_null(d, "TPC_PLUGIN_DIR is not set (run through ctest)");
	return d;
}

static const char *plugin(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s.so", plugin_dir(), name);
	return path;
}

static void new_registry(void)
{
	int rc = tpc_adapters_new(&cfg, &reg);

	cr_assert_eq(rc, 0, "tpc_adapters_new: %s", tpc_strerror(rc));
	cr_assert_not_null(reg);
}

Test(adapters, registry_holds_the_builtins)
{
	const void *state = (const void *)1;
	const tpc_adapter_t *a;
	int builtins = 1;

	new_registry();
	a = tpc_adapters_find(reg, "canonical", &state);
	cr_assert_eq(a, &tpc_canonical_adapter);
	cr_assert_str_eq(a->name, "canonical");
	cr_assert_eq(a->abi, TPC_ADAPTER_ABI);
	cr_assert_null(state, "canonical keeps no state");
	cr_assert_not_null(tpc_adapters_find(reg, "canonical", NULL), "state out-param optional");
#if __has_include("efact/efact.h")
	cr_assert_not_null(tpc_adapters_find(reg, "efact", NULL));
	builtins++;
#endif
	cr_assert_not_null(tpc_adapters_find(reg, "eattest", NULL));
	builtins++;
	cr_assert_eq(tpc_adapters_count(reg), builtins);
	cr_assert_null(tpc_adapters_find(reg, "echo", NULL));
	cr_assert_null(tpc_adapters_find(reg, "", NULL));
}

Test(adapters, good_plugin_loads_and_decodes)
{
	const void *state = NULL;
	const tpc_adapter_t *a;
	tpc_arena_t *arena = NULL;
	tpc_host_t host;
	tpc_sending_t s;
	static const uint8_t payload[] = "101032-echo";
	int before;

	new_registry();
	before = tpc_adapters_count(reg);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin("plugin_good")), 0);
	cr_assert_eq(tpc_adapters_count(reg), before + 1);
	a = tpc_adapters_find(reg, "echo", &state);
	cr_assert_not_null(a);
	cr_assert_not_null(state, "echo's init() built a state");
	cr_assert_str_eq(a->describe(state, "E00001"), "echo finding");

	cr_assert_eq(tpc_arena_new(4096, 0, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 0, 0, NULL};
	memset(&s, 0, sizeof(s));
	cr_assert_eq(a->decode(state, payload, sizeof(payload) - 1, &host, &s), 0);
	cr_assert_eq(s.ninvoices, 1);
	cr_assert_eq(s.nlines, 1);
	cr_assert_eq(s.invoices[0].nlines, 1);
	cr_assert_str_eq(s.lines[0].code, "101032");
	cr_assert_eq(s.lines[0].units, 1, "default units");
	cr_assert_eq(s.lines[0].insurer_cents, 100 * (int64_t)(sizeof(payload) - 1));
	cr_assert_eq(s.lines[0].reference.len, sizeof(payload) - 1);
	cr_assert_eq(s.lines[0].reference.ptr, (const char *)payload,
	             "views point into the payload");
	cr_assert_gt(tpc_arena_used(arena), 0, "decode allocated from the host arena");
	tpc_arena_free(&arena);
}

/* A plugin of the oldest ABI still loaded (4: before tpc_host_t.alloc_uninit) loads and decodes
 * beside this ABI's, through the host this engine lends (alloc_uninit included, which it never
 * reads); the helper an adapter of this ABI calls falls back to the zeroing alloc when a host
 * leaves alloc_uninit NULL. */
Test(adapters, plugin_of_the_oldest_abi_still_loads)
{
	char path[4096];
	const void *state = NULL;
	const tpc_adapter_t *a;
	tpc_arena_t *arena = NULL;
	tpc_host_t host;
	tpc_sending_t s;
	static const uint8_t payload[] = "101032-old";
	uint8_t *p;

	cr_assert_lt(TPC_ADAPTER_ABI_MIN, TPC_ADAPTER_ABI);
	new_registry();
	snprintf(path, sizeof(path), "%s/abi-min/plugin_abi_min.so", plugin_dir());
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, path), 0);
	a = tpc_adapters_find(reg, "echo-old", &state);
	cr_assert_not_null(a);
	cr_assert_eq(a->abi, TPC_ADAPTER_ABI_MIN);
	cr_assert_eq(tpc_arena_new(4096, 0, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 0, 0, tpc_arena_host_alloc_uninit};
	memset(&s, 0, sizeof(s));
	cr_assert_eq(a->decode(state, payload, sizeof(payload) - 1, &host, &s), 0);
	cr_assert_eq(s.nlines, 1);
	cr_assert_str_eq(s.lines[0].code, "101032");
	cr_assert_eq(s.lines[0].insurer_cents, 100 * (int64_t)(sizeof(payload) - 1));

	/* without alloc_uninit the helper hands out zeroed memory from alloc */
	host.alloc_uninit = NULL;
	p = tpc_host_alloc_uninit(&host, 64, 8);
	cr_assert_not_null(p);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(p[i], 0);
	tpc_arena_free(&arena);
}

Test(adapters, plugin_receives_its_config_section)
{
	const void *state = NULL;
	const tpc_adapter_t *a;
	tpc_arena_t *arena = NULL;
	tpc_host_t host;
	tpc_sending_t s;
	char err[256];

	cr_assert_eq(
	    tpc_config_load_string(&config, "t", "[adapter.echo]\nunits = 7\n", err, sizeof(err)),
	    0, "%s", err);
	new_registry();
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin("plugin_good")), 0);
	a = tpc_adapters_find(reg, "echo", &state);
	cr_assert_not_null(a);
	cr_assert_eq(tpc_arena_new(4096, 0, &arena), 0);
	host = (tpc_host_t){tpc_arena_host_alloc, arena, 0, 0, NULL};
	memset(&s, 0, sizeof(s));
	cr_assert_eq(a->decode(state, (const uint8_t *)"475075", 6, &host, &s), 0);
	cr_assert_eq(s.lines[0].units, 7);
	tpc_arena_free(&arena);
}

/* Load plugin @p name into a new registry, asserting it is refused with @p rc and leaves the
 * registry as it was. @return the registry's count, for the test's further checks. */
static int refused(const char *name, int rc)
{
	int before;

	new_registry();
	before = tpc_adapters_count(reg);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin(name)), rc, "%s", name);
	cr_assert_eq(tpc_adapters_count(reg), before, "%s", name);
	return before;
}

Test(adapters, failing_init_is_refused)
{
	char err[256];

	cr_assert_eq(
	    tpc_config_load_string(&config, "t", "[adapter.echo]\nfail = 1\n", err, sizeof(err)), 0,
	    "%s", err);
	refused("plugin_good", TPC_EINVAL);
	cr_assert_null(tpc_adapters_find(reg, "echo", NULL));
}

Test(adapters, bad_abi_is_refused)
{
	refused("plugin_bad_abi", TPC_EABI);
	cr_assert_null(tpc_adapters_find(reg, "badabi", NULL));
	cr_assert_null(dlopen(plugin("plugin_bad_abi"), RTLD_NOW | RTLD_NOLOAD),
	               "a refused plugin must be dlclose'd");
}

/* An ABI 3 plugin (encode_settlement() without the payload) is refused, never called with the
 * ABI 4 signature, and the log line tells the operator what to do: stderr (where core/log.c
 * writes) is read back from a file. */
Test(adapters, old_abi_is_refused_with_what_to_do)
{
	char path[4096], text[2048];
	int saved = dup(STDERR_FILENO), fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	cr_assert(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	refused("plugin_old_abi", TPC_EABI);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	cr_assert_gt(n, 0);
	text[n] = 0;
	cr_assert_not_null(strstr(text, "built for adapter ABI 3, this engine speaks ABI 4"), "%s",
	                   text);
	cr_assert_not_null(strstr(text, "rebuild it against"), "%s", text);
	cr_assert_null(tpc_adapters_find(reg, "oldabi", NULL));
	cr_assert_null(dlopen(plugin("plugin_old_abi"), RTLD_NOW | RTLD_NOLOAD));
}

Test(adapters, duplicate_name_is_refused)
{
	int before = refused("plugin_dup", TPC_EEXIST);

	cr_assert_eq(tpc_adapters_find(reg, "canonical", NULL), &tpc_canonical_adapter,
	             "the built-in keeps its name");
	cr_assert_null(dlopen(plugin("plugin_dup"), RTLD_NOW | RTLD_NOLOAD));

	/* a plugin loaded twice is a duplicate of itself */
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin("plugin_good")), 0);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin("plugin_good")), TPC_EEXIST);
	cr_assert_eq(tpc_adapters_count(reg), before + 1);
}

Test(adapters, missing_callback_is_refused)
{
	refused("plugin_nocb", TPC_EINVAL);
	cr_assert_null(tpc_adapters_find(reg, "nocb", NULL));
	cr_assert_null(dlopen(plugin("plugin_nocb"), RTLD_NOW | RTLD_NOLOAD));
}

Test(adapters, non_plugin_paths_are_enoent)
{
	char path[4096];
	FILE *f;

	new_registry();
	snprintf(path, sizeof(path), "%s/not-a-plugin.so", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("this is text, not a shared object\n", f);
	fclose(f);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, path), TPC_ENOENT);
	snprintf(path, sizeof(path), "%s/missing.so", dir);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, path), TPC_ENOENT);
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, tpc_test_src("CMakeLists.txt")), TPC_ENOENT);
}

Test(adapters, load_dir_loads_exactly_the_good_one)
{
	int before;

	new_registry();
	before = tpc_adapters_count(reg);
	cr_assert_eq(tpc_adapters_load_dir(reg, &cfg, plugin_dir()), 1);
	cr_assert_eq(tpc_adapters_count(reg), before + 1);
	cr_assert_not_null(tpc_adapters_find(reg, "echo", NULL));
	cr_assert_null(tpc_adapters_find(reg, "badabi", NULL));
	cr_assert_null(tpc_adapters_find(reg, "oldabi", NULL));
	cr_assert_null(tpc_adapters_find(reg, "nocb", NULL));
	cr_assert_eq(tpc_adapters_find(reg, "canonical", NULL), &tpc_canonical_adapter);
}

Test(adapters, load_dir_of_a_missing_directory_fails)
{
	char path[4096];

	new_registry();
	snprintf(path, sizeof(path), "%s/nowhere", dir);
	cr_assert_lt(tpc_adapters_load_dir(reg, &cfg, path), 0);
	/* an empty directory loads nothing, without error */
	cr_assert_eq(tpc_adapters_load_dir(reg, &cfg, dir), 0);
}

Test(adapters, free_runs_fini_and_unloads_plugins)
{
	char mark[4096];
	unsigned char *text;
	size_t len = 0;
	void *h;

	snprintf(mark, sizeof(mark), "%s/fini-mark", dir);
	cr_assert_eq(setenv("TPC_TEST_ECHO_MARK", mark, 1), 0);
	new_registry();
	cr_assert_eq(tpc_adapters_load_file(reg, &cfg, plugin("plugin_good")), 0);
	h = dlopen(plugin("plugin_good"), RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(h, "loaded while registered");
	dlclose(h); /* RTLD_NOLOAD took a reference of its own: give it back */
	cr_assert_null(tpc_test_slurp(mark, &len), "fini ran too early");

	tpc_adapters_free(&reg);
	cr_assert_null(reg);
	tpc_adapters_free(&reg); /* NULL-safe */
	text = tpc_test_slurp(mark, &len);
	cr_assert_not_null(text, "fini() did not run");
	cr_assert_str_eq((char *)text, "fini\n", "fini() must run exactly once");
	free(text);
	cr_assert_null(dlopen(plugin("plugin_good"), RTLD_NOW | RTLD_NOLOAD),
	               "the plugin is still mapped after tpc_adapters_free");
}
