/* tests/unit/core/test_config_doc.c - the key table of engine/core/config.c against what is
 * written elsewhere: docs/configuration.md's tables, the sample config/tpcleard.ini and
 * `tpcleard --help`. Each of them is read line by line; a key missing on either side, or a
 * default or bounds that drifted, names the key and the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "testutil.h"

TestSuite(config_doc, .timeout = 60);

enum { MAX_KEYS = 64 };

static size_t nkeys;
static tpc_config_key_info_t keys[MAX_KEYS];

static void load_keys(void)
{
	nkeys = 0;
	while (nkeys < MAX_KEYS && tpc_config_key_info(nkeys, &keys[nkeys]) == 0)
		nkeys++;
	cr_assert_gt(nkeys, 20, "the table lists every key of the fixed sections");
	cr_assert_lt(nkeys, MAX_KEYS, "raise MAX_KEYS");
}

/* @return the index of [section] name in keys[], or -1. */
static int find(const char *section, const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Read @p rel under TPC_SOURCE_DIR; @return a malloc'd NUL-terminated text. */
static char *read_source(const char *rel)
{
	size_t len;
	char *text = (char *)tpc_test_slurp(tpc_test_src(rel), &len);

	cr_assert_not_null(text, "cannot read %s (is TPC_SOURCE_DIR set?)", tpc_test_src(rel));
	return text;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = 0;
	return s;
}

Test(config_doc, key_info_describes_types_and_bounds)
{
	tpc_config_key_info_t k;

	load_keys();
	cr_assert_eq(tpc_config_key_info(nkeys, &k), TPC_ENOENT);
	cr_assert_str_eq(keys[find("engine", "workers")].values, "0..256");
	cr_assert_str_eq(keys[find("engine", "max_sending_bytes")].values, "1K..4G");
	cr_assert_str_eq(keys[find("engine", "max_invoices")].values, "1 or more");
	cr_assert_str_eq(keys[find("ledger", "map_max")].values, "1M or more");
	cr_assert_str_eq(keys[find("ledger", "map_max")].def, "64G");
	cr_assert_str_eq(keys[find("security", "mode")].values, "curve, plain or auto");
	cr_assert_str_eq(keys[find("payments", "dir")].def, "");
	for (size_t i = 0; i < nkeys; i++) {
		cr_assert(*keys[i].doc, "%s.%s has a doc line", keys[i].section, keys[i].name);
		cr_assert(*keys[i].values, "%s.%s has values", keys[i].section, keys[i].name);
		cr_assert_eq(find(keys[i].section, keys[i].name), (int)i, "%s.%s listed twice",
		             keys[i].section, keys[i].name);
	}
}

/* One row of a key table, "| `key` | `default` | values | meaning |", split in place.
 * @return 0, or -1 when @p line is not a key row. */
static int split_row(char *line, char **key, char **def, char **values)
{
	char *cell[3], *p = line;

	if (strncmp(p, "| `", 3) != 0)
		return -1;
	p += 2;
	for (int i = 0; i < 3; i++) {
		char *bar = strstr(p, " | ");

		cr_assert_not_null(bar, "a key row has four cells: %s", line);
		*bar = 0;
		cell[i] = trim(p);
		p = bar + 3;
	}
	cr_assert(cell[0][0] == '`' && cell[0][strlen(cell[0]) - 1] == '`', "key in backquotes");
	cell[0][strlen(cell[0]) - 1] = 0;
	*key = cell[0] + 1;
	*def = cell[1];
	*values = cell[2];
	return 0;
}

Test(config_doc, configuration_md_documents_every_key_with_its_default_and_values)
{
	char *text = read_source("docs/configuration.md"), *save = NULL, section[64] = "";
	int seen[MAX_KEYS] = {0};

	load_keys();
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *key, *def, *values, want[300];
		int i;

		if (sscanf(line, "## [%63[^]]]", section) == 1)
			continue;
		/* [budget.NAME] and [adapter.NAME] are parsed by hand, outside the table */
		if (strstr(section, ".NAME") || split_row(line, &key, &def, &values) != 0)
			continue;
		i = find(section, key);
		cr_assert_geq(i, 0,
		              "docs/configuration.md documents [%s] %s, which the table lacks",
		              section, key);
		cr_assert_eq(seen[i]++, 0, "[%s] %s documented twice", section, key);
		if (*keys[i].def)
			snprintf(want, sizeof(want), "`%s`", keys[i].def);
		else
			snprintf(want, sizeof(want), "(empty)");
		cr_assert_str_eq(def, want, "default of [%s] %s", section, key);
		cr_assert_str_eq(values, keys[i].values, "values of [%s] %s", section, key);
	}
	for (size_t i = 0; i < nkeys; i++)
		cr_assert(seen[i],
		          "[%s] %s is not in docs/configuration.md (row: | `%s` | ... | %s |)",
		          keys[i].section, keys[i].name, keys[i].name, keys[i].values);
	free(text);
}

Test(config_doc, sample_file_states_every_key_with_its_embedded_default)
{
	char *text = read_source("config/tpcleard.ini"), *save = NULL, section[64] = "";
	int seen[MAX_KEYS] = {0};

	load_keys();
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq, *key, *value;
		int i;

		line = trim(line);
		if (*line == ';' || *line == '#' || !*line)
			continue;
		if (sscanf(line, "[%63[^]]]", section) == 1)
			continue;
		eq = strchr(line, '=');
		cr_assert_not_null(eq, "config/tpcleard.ini: not a key line: %s", line);
		*eq = 0;
		key = trim(line);
		value = trim(eq + 1);
		/* the payer accounts: shipped_file_states_the_embedded_defaults (test_config.c) */
		if (strncmp(section, "budget.", 7) == 0)
			continue;
		i = find(section, key);
		cr_assert_geq(i, 0, "config/tpcleard.ini sets [%s] %s, which is not a key", section,
		              key);
		cr_assert_eq(seen[i]++, 0, "[%s] %s set twice", section, key);
		cr_assert_str_eq(value, keys[i].def, "config/tpcleard.ini: [%s] %s", section, key);
	}
	for (size_t i = 0; i < nkeys; i++)
		cr_assert(seen[i], "[%s] %s is missing from config/tpcleard.ini", keys[i].section,
		          keys[i].name);
	free(text);
}

Test(config_doc, help_lists_every_key_with_its_default_and_doc)
{
	const char *exe = getenv("TPC_TPCLEARD");
	char cmd[4200], *out;
	size_t len = 0, cap = 1 << 16, n;
	FILE *p;

	cr_assert_not_null(exe, "TPC_TPCLEARD names the daemon");
	load_keys();
	snprintf(cmd, sizeof(cmd), "'%s' --help", exe);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	out = malloc(cap);
	cr_assert_not_null(out);
	while ((n = fread(out + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	out[len] = 0;
	cr_assert_eq(pclose(p), 0, "--help exits 0");
	cr_assert(strstr(out, "usage: tpcleard"), "the usage comes first: %s", out);
	for (size_t i = 0; i < nkeys; i++) {
		char head[300];

		snprintf(head, sizeof(head), "  %s.%s =%s%s ", keys[i].section, keys[i].name,
		         *keys[i].def ? " " : "", keys[i].def);
		cr_assert(strstr(out, head), "--help lacks '%s'", head);
		cr_assert(strstr(out, keys[i].doc), "--help lacks the doc of %s.%s",
		          keys[i].section, keys[i].name);
	}
	free(out);
}

Test(config_doc, config_checks_its_own_fields)
{
	/* the BIC rule and the locality rule moved here from payments/ and security/; their full
	 * cases stay in test_sepa.c and test_security.c, through the wrappers */
	cr_assert(tpc_config_bic_ok("GEBABEBB"));
	cr_assert(tpc_config_bic_ok("GEBABEBB36A"));
	cr_assert(!tpc_config_bic_ok("GEBA"));
	cr_assert(!tpc_config_bic_ok("GEBABE1B"), "location may not start with 1");
	cr_assert(!tpc_config_bic_ok(NULL));
	cr_assert(tpc_config_endpoint_is_local("tcp://127.0.0.1:5570"));
	cr_assert(tpc_config_endpoint_is_local("ipc:///run/tpclear.sock"));
	cr_assert(!tpc_config_endpoint_is_local("tcp://*:5570"));
	cr_assert(tpc_config_http_is_local("off"));
	cr_assert(!tpc_config_http_is_local("0.0.0.0:9570"));
}
