/* tests/unit/core/test_config.c - embedded defaults and INI loading (engine/core/config.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	tpc_test_rmtree(dir);
	free(dir);
	dir = NULL;
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 60);

/* Write @p text to <dir>/<name>; @return the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	fclose(f);
	return path;
}

Test(config, defaults)
{
	tpc_config_t c;
	char err[256] = "";

	memset(&c, 0x5a, sizeof(c)); /* defaults must not depend on prior contents */
	tpc_config_defaults(&c);
	cr_assert_eq(c.workers, 0);
	cr_assert_eq(c.queue_depth, 256);
	cr_assert_eq(c.max_sending_bytes, (size_t)64 << 20);
	cr_assert_eq(c.max_invoices, 100000);
	cr_assert_eq(c.max_lines, 1000000);
	cr_assert_eq(c.retry_after_ms, 200);
	cr_assert_str_eq(c.endpoint, "tcp://127.0.0.1:5570");
	cr_assert_eq(c.sndhwm, 10000);
	cr_assert_eq(c.rcvhwm, 10000);
	cr_assert_str_eq(c.http_listen, "127.0.0.1:9570");
	cr_assert_str_eq(c.data_dir, "tpclear-data");
	cr_assert_eq(c.map_size, (size_t)64 << 20);
	cr_assert_eq(c.map_max, (size_t)64 << 30);
	cr_assert_eq(c.group_max, 256);
	cr_assert_eq(c.sync, TPC_SYNC_FULL);
	cr_assert_eq(c.worker_nice, 0);
	cr_assert_str_eq(c.adapter_dir, "");
	cr_assert_eq(c.nadapter_sections, 0);
	cr_assert_str_eq(tpc_config_adapter_text(&c, "efact"), "");
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), 0, "defaults refused: %s", err);
}

Test(config, file_overrides_every_section)
{
	tpc_config_t c;
	char err[512] = "";
	const char *path = write_file("all.ini", "; a comment\n"
	                                         "[engine]\n"
	                                         "workers = 6\n"
	                                         "queue_depth = 1000\n"
	                                         "max_sending_bytes = 8M\n"
	                                         "max_invoices = 500\n"
	                                         "max_lines = 9000\n"
	                                         "retry_after_ms = 750\n"
	                                         "\n"
	                                         "[intake]\n"
	                                         "endpoint = ipc:///tmp/tpclear.sock\n"
	                                         "sndhwm = 123\n"
	                                         "rcvhwm = 456\n"
	                                         "[http]\n"
	                                         "listen = off\n"
	                                         "[ledger]\n"
	                                         "data_dir = /var/lib/tpclear\n"
	                                         "map_size = 2G\n"
	                                         "map_max = 512G\n"
	                                         "group_max = 64\n"
	                                         "sync = nometasync\n"
	                                         "[adapters]\n"
	                                         "dir = /usr/lib/tpclear/adapters\n");

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.workers, 6);
	cr_assert_eq(c.queue_depth, 1000);
	cr_assert_eq(c.max_sending_bytes, (size_t)8 << 20);
	cr_assert_eq(c.max_invoices, 500);
	cr_assert_eq(c.max_lines, 9000);
	cr_assert_eq(c.retry_after_ms, 750);
	cr_assert_str_eq(c.endpoint, "ipc:///tmp/tpclear.sock");
	cr_assert_eq(c.sndhwm, 123);
	cr_assert_eq(c.rcvhwm, 456);
	cr_assert_str_eq(c.http_listen, "off");
	cr_assert_str_eq(c.data_dir, "/var/lib/tpclear");
	cr_assert_eq(c.map_size, (size_t)2 << 30);
	cr_assert_eq(c.map_max, (size_t)512 << 30);
	cr_assert_eq(c.group_max, 64);
	cr_assert_eq(c.sync, TPC_SYNC_NOMETASYNC);
	cr_assert_str_eq(c.adapter_dir, "/usr/lib/tpclear/adapters");
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, keys_not_in_the_file_keep_their_defaults)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(
	    tpc_config_load_string(&c, "inline", "[ledger]\nsync = none\n", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(c.sync, TPC_SYNC_NONE);
	cr_assert_eq(c.queue_depth, 256);
	cr_assert_eq(c.map_size, (size_t)64 << 20);
	cr_assert_str_eq(c.endpoint, "tcp://127.0.0.1:5570");
}

/* The message must name the file, the line number and the key. */
static void expect_error(const char *name, const char *text, int line, const char *key)
{
	tpc_config_t c;
	char err[512] = "", at[64];
	const char *path = write_file(name, text);
	int rc;

	tpc_config_defaults(&c);
	rc = tpc_config_load(&c, path, err, sizeof(err));
	cr_assert_eq(rc, TPC_ECONFIG, "%s: rc %d (%s)", name, rc, tpc_strerror(rc));
	cr_assert_not_null(strstr(err, path), "file not named in '%s'", err);
	snprintf(at, sizeof(at), ":%d:", line);
	cr_assert_not_null(strstr(err, at), "line %d not named in '%s'", line, err);
	cr_assert_not_null(strstr(err, key), "key %s not named in '%s'", key, err);
}

Test(config, bad_value_names_file_line_and_key)
{
	expect_error("bad.ini", "[engine]\nworkers = 4\nqueue_depth = lots\nmax_lines = 10\n", 3,
	             "queue_depth");
	expect_error("range.ini", "[engine]\n\n\n\nworkers = 100000\n", 5, "workers");
	expect_error("sync.ini", "[ledger]\nmap_size = 4M\nsync = sometimes\n", 3, "sync");
	expect_error("size.ini", "[ledger]\nmap_size = 12X\n", 2, "map_size");
	expect_error("endpoint.ini", "[intake]\nendpoint = localhost\n", 2, "endpoint");
	/* niceness: 19 is the lowest priority there is, and a negative one would need a privilege
	 */
	expect_error("nice.ini", "[engine]\nworker_nice = 20\n", 2, "worker_nice");
	expect_error("nice2.ini", "[engine]\nworker_nice = -1\n", 2, "worker_nice");
}

Test(config, unknown_key_names_file_line_and_key)
{
	expect_error("unknown.ini", "[engine]\nworkers = 2\n\n[ledger]\nmap_sise = 1G\n", 5,
	             "map_sise");
	expect_error("section.ini", "[nowhere]\nkey = 1\n", 2, "key");
}

Test(config, first_error_is_reported)
{
	expect_error("two.ini", "[engine]\nworkers = x\nqueue_depth = y\n", 2, "workers");
}

Test(config, missing_file_is_enoent)
{
	tpc_config_t c;
	char err[512] = "", path[4096];

	snprintf(path, sizeof(path), "%s/does-not-exist.ini", dir);
	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load(&c, path, err, sizeof(err)), TPC_ENOENT);
	cr_assert_not_null(strstr(err, path), "file not named in '%s'", err);
}

Test(config, load_string_uses_the_given_name)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(
	    tpc_config_load_string(&c, "from-test", "[http]\nlisten = nocolon\n", err, sizeof(err)),
	    TPC_ECONFIG);
	cr_assert_not_null(strstr(err, "from-test:2:"), "'%s'", err);
	cr_assert_not_null(strstr(err, "listen"), "'%s'", err);
}

Test(config, sizes_take_k_m_g_suffixes)
{
	size_t v = 0;

	cr_assert_eq(tpc_config_parse_size("512", &v), 0);
	cr_assert_eq(v, 512);
	cr_assert_eq(tpc_config_parse_size("4K", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(tpc_config_parse_size("4k", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(tpc_config_parse_size("16M", &v), 0);
	cr_assert_eq(v, (size_t)16 << 20);
	cr_assert_eq(tpc_config_parse_size("3G", &v), 0);
	cr_assert_eq(v, (size_t)3 << 30);
	cr_assert_eq(tpc_config_parse_size("2T", &v), 0);
	cr_assert_eq(v, (size_t)2 << 40);
	cr_assert_eq(tpc_config_parse_size("64MiB", &v), 0);
	cr_assert_eq(v, (size_t)64 << 20);

	v = 7;
	cr_assert_eq(tpc_config_parse_size("", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("M", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("-1K", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("12X", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("1K2", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("99999999999999999999", &v), TPC_EINVAL);
	cr_assert_eq(tpc_config_parse_size("99999999999999T", &v), TPC_EINVAL, "overflow");
	cr_assert_eq(v, 7, "a refused size leaves the output alone");
}

Test(config, sizes_in_the_file)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load_string(&c, "sizes",
	                                    "[engine]\nmax_sending_bytes = 512K\n"
	                                    "[ledger]\nmap_size = 1M\nmap_max = 3G\n",
	                                    err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(c.max_sending_bytes, 512 * 1024);
	cr_assert_eq(c.map_size, 1024 * 1024);
	cr_assert_eq(c.map_max, (size_t)3 << 30);
}

Test(config, adapter_sections_are_collected_as_text)
{
	tpc_config_t c;
	char err[512] = "";
	const char *path = write_file("adapters.ini", "[adapters]\n"
	                                              "dir = /opt/plugins\n"
	                                              "[adapter.efact]\n"
	                                              "strict = yes\n"
	                                              "mutualities = 100,200,300\n"
	                                              "[adapter.echo]\n"
	                                              "units=7\n"
	                                              "[adapter.efact]\n"
	                                              "extra = 1\n");

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.nadapter_sections, 2);
	cr_assert_str_eq(tpc_config_adapter_text(&c, "efact"),
	                 "strict=yes\nmutualities=100,200,300\nextra=1\n");
	cr_assert_str_eq(tpc_config_adapter_text(&c, "echo"), "units=7\n");
	cr_assert_str_eq(tpc_config_adapter_text(&c, "canonical"), "");
	cr_assert_str_eq(c.adapter_dir, "/opt/plugins");
}

Test(config, adapter_section_overflow_is_refused)
{
	tpc_config_t c;
	char err[512] = "", *text;
	size_t cap = 64 * 1024, len = 0;

	/* one section's text is bounded; going past it is a config error, not a truncation */
	text = malloc(cap);
	cr_assert_not_null(text);
	len += (size_t)snprintf(text + len, cap - len, "[adapter.big]\n");
	for (int i = 0; i < 200; i++)
		len += (size_t)snprintf(text + len, cap - len, "key%03d = value\n", i);
	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load_string(&c, "big", text, err, sizeof(err)), TPC_ECONFIG);
	cr_assert_not_null(strstr(err, "big:"), "'%s'", err);
	free(text);
}

Test(config, check_refuses_map_size_above_map_max)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load_string(&c, "maps", "[ledger]\nmap_size = 2G\nmap_max = 1G\n",
	                                    err, sizeof(err)),
	             0, "each key is valid on its own: %s", err);
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), TPC_ECONFIG);
	cr_assert_not_null(strstr(err, "map_size"), "'%s'", err);

	c.map_max = c.map_size;
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), 0, "equal sizes are fine");
}

Test(config, shipped_file_states_the_embedded_defaults)
{
	tpc_config_t def, file;
	char err[512] = "";

	tpc_config_defaults(&def);
	tpc_config_defaults(&file);
	/* start from other payer accounts, so the file must set every one */
	for (int b = 1; b < TPC_BUDGET__COUNT; b++)
		memset(&file.payer[b], 0, sizeof(file.payer[b]));
	cr_assert_eq(tpc_config_load(&file, tpc_test_src("config/tpcleard.ini"), err, sizeof(err)),
	             0, "%s", err);
	for (int b = 1; b < TPC_BUDGET__COUNT; b++) {
		cr_assert_str_eq(file.payer[b].name, def.payer[b].name);
		cr_assert_str_eq(file.payer[b].iban, def.payer[b].iban);
		cr_assert_str_eq(file.payer[b].bic, def.payer[b].bic);
	}
	cr_assert_eq(file.execution_days, def.execution_days);
	cr_assert_str_eq(file.payments_dir, def.payments_dir);
	cr_assert_eq(file.queue_depth, def.queue_depth);
	cr_assert_eq(file.map_max, def.map_max);
}

Test(config, budget_sections_set_checked_payer_accounts)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load_string(&c, "b.ini",
	                                    "[budget.SPPIS]\nname = SPP IS\niban = "
	                                    "BE68539007547034\nbic =\n[payments]\ndir = /srv/pay\n",
	                                    err, sizeof(err)),
	             0, "%s", err);
	cr_assert_str_eq(c.payer[TPC_BUDGET_SPPIS].iban, "BE68539007547034");
	cr_assert_str_eq(c.payer[TPC_BUDGET_SPPIS].bic, "");
	cr_assert_str_eq(c.payments_dir, "/srv/pay");
	expect_error("iban.ini", "[budget.AMI]\niban = BE68539007547035\n", 2, "iban");
	expect_error("bic.ini", "[budget.AMI]\nbic = GEBA\n", 2, "bic");
	expect_error("who.ini", "[budget.NOBODY]\niban = BE68539007547034\n", 2, "iban");
	expect_error("days.ini", "[payments]\nexecution_days = 99\n", 2, "execution_days");
}

Test(config, as_of_sets_the_clearing_day_for_replays)
{
	tpc_config_t c;
	char err[512] = "";

	tpc_config_defaults(&c);
	cr_assert_eq(c.as_of_day, 0, "the system date by default");
	cr_assert_eq(tpc_config_load_string(&c, "a.ini", "[clearing]\nas_of = 2024-12-31\n", err,
	                                    sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(c.as_of_day, 20088, "2024-12-31 is day 20088");
	cr_assert_eq(tpc_config_load_string(&c, "a.ini", "[clearing]\nas_of =\n", err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(c.as_of_day, 0);
	expect_error("asof.ini", "[clearing]\nas_of = 2024-13-01\n", 2, "as_of");
}
