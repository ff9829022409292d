/* engine/main.c - tpcleard: command line, configuration, then the server loop.
 *
 * Everything here runs on the main thread before tpc_server_new() starts another one, which is
 * what lets the log level and libxml2 be set up without locks. Exit status: 2 for a bad command
 * line or configuration (docs/configuration.md: a bad key "stops startup (exit status 2)"), 1
 * when the server cannot start or stops on an error, 0 after a clean drain. */
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "pipeline/server.h"

#include <getopt.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The usage text is the source the man page (docs/man/tpcleard.8) is checked against
 * (tests/package/test_manpage): every option, exit status, environment variable and file named
 * here must be in it, and every option it names must be here. */
static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tpcleard [--config FILE]... [--data-dir DIR] [--log-level LEVEL]\n"
	        "                [--log-format FORMAT] [--verbose] [--help] [--version]\n"
	        "\n"
	        "Clearing engine for third-party-payer health-care invoices.\n"
	        "  -c, --config FILE    INI configuration; may be given more than once, each file\n"
	        "                       applied over the ones before (every key has a default;\n"
	        "                       see docs/configuration.md). Without it the file\n"
	        "                       " TPC_CONFIG_DEFAULT_PATH " is read when it exists\n"
	        "  -d, --data-dir DIR   ledger directory (overrides [ledger] data_dir)\n"
	        "  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
	        "  -f, --log-format FORMAT  logfmt (default) or json: one record per line\n"
	        "  -v, --verbose        debug logging (--log-level debug)\n"
	        "  -h, --help           this text\n"
	        "  -V, --version        print the version\n"
	        "Stops cleanly on SIGTERM or SIGINT: accepted sendings are committed and\n"
	        "answered first. SIGHUP reloads the senders registry.\n");
}

/* The rest of --help: what the man page's EXIT STATUS, ENVIRONMENT and FILES sections hold. */
static void print_reference(FILE *f)
{
	fprintf(f,
	        "\nExit status:\n"
	        "  0  stopped cleanly after a drain\n"
	        "  1  could not start (ledger, lock, sockets), or stopped on an error\n"
	        "  2  bad command line or configuration\n"
	        "\nEnvironment:\n"
	        "  TPCLEARD_CONFIG   the file read when no --config is given (default\n"
	        "                    " TPC_CONFIG_DEFAULT_PATH "); it must exist when set\n"
	        "  NOTIFY_SOCKET     systemd readiness: READY=1, STOPPING=1, STATUS= (sd_notify)\n"
	        "  WATCHDOG_USEC     systemd watchdog: WATCHDOG=1 pings while the stages progress\n"
	        "  JOURNAL_STREAM    when it names stderr, records carry <N> priority prefixes\n"
	        "\nFiles:\n"
	        "  " TPC_CONFIG_DEFAULT_PATH "   configuration (the packaged one sets\n"
	        "                    data_dir = /var/lib/tpclear)\n"
	        "  DATA_DIR/data.mdb ledger (LMDB); DATA_DIR/lock: one daemon per directory\n"
	        "  DATA_DIR/tpcleard.endpoints  the bound endpoints, written once ready\n"
	        "  DATA_DIR/senders.ini, DATA_DIR/server.key  senders registry, CURVE key\n"
	        "  DATA_DIR/payments/  SEPA files of the payment runs\n");
}

/* --help lists every key from the table in core/config.c, so the list cannot miss a key or
 * show a stale default; the error path keeps the short usage above. */
static void print_keys(FILE *f)
{
	tpc_config_key_info_t k;
	char head[128];

	fprintf(f, "\nConfiguration keys (section.key = default, then the values it takes; every\n"
	           "key is documented in docs/configuration.md):\n");
	for (size_t i = 0; tpc_config_key_info(i, &k) == 0; i++) {
		snprintf(head, sizeof(head), "%s.%s =%s%s", k.section, k.name, *k.def ? " " : "",
		         k.def);
		fprintf(f, "  %-44s %s\n      %s\n", head, k.values, k.doc);
	}
	fprintf(f, "  budget.NAME.name, .iban, .bic\n"
	           "      payer account of budget NAME (AMI, SPPIS, FEDASIL, JUSTICE, WARVICTIMS,\n"
	           "      OSSOM); the defaults are sample accounts, not real ones\n"
	           "  adapter.NAME.KEY\n"
	           "      handed to adapter NAME's init() as a KEY=value line\n");
}

#define MAX_CONFIGS 8

struct args {
	const char *configs[MAX_CONFIGS]; /* --config, in the order given */
	int nconfigs;
	const char *data_dir;
};

/* Parse the command line into @p a and set up the log.
 * @return -1 to go on, else the exit status (0 after --help or --version, 2 on an error). */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	enum tpc_log_level level;
	enum tpc_log_format format;
	int c;

	/* the level and format are set now, before any thread reads them (log.h: "set once at
	 * startup") */
	while ((c = getopt_long(argc, argv, "c:d:l:f:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (a->nconfigs == MAX_CONFIGS) {
				fprintf(stderr, "tpcleard: more than %d --config files\n",
				        MAX_CONFIGS);
				return 2;
			}
			a->configs[a->nconfigs++] = optarg;
			break;
		case 'd':
			a->data_dir = optarg;
			break;
		case 'l':
			if (tpc_log_level_parse(optarg, &level) != 0) {
				fprintf(stderr,
				        "tpcleard: --log-level '%s': expected error, warn, "
				        "info or debug\n",
				        optarg);
				return 2;
			}
			tpc_log_set_level(level);
			break;
		case 'f':
			if (tpc_log_format_parse(optarg, &format) != 0) {
				fprintf(stderr,
				        "tpcleard: --log-format '%s': expected logfmt or json\n",
				        optarg);
				return 2;
			}
			tpc_log_set_format(format);
			break;
		case 'v':
			tpc_log_set_level(TPC_LOG_DEBUG);
			break;
		case 'h':
			/* stdout and 0: asked-for help is output, not an error */
			usage(stdout);
			print_reference(stdout);
			print_keys(stdout);
			return 0;
		case 'V':
			printf("tpcleard %s\n", TPC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* tpcleard takes no operands. A stray word is refused rather than ignored: "tpcleard
	 * my.ini" (no -c) would otherwise start on the defaults, with a ledger in ./tpclear-data */
	if (optind != argc) {
		fprintf(stderr, "tpcleard: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Defaults, then each file over them, then --data-dir over the files; the cross-key check runs
 * last so it judges the values that will really be used. Without --config the packaged file is
 * read when it exists, and the embedded defaults serve alone when it does not (the demo and a
 * developer's build tree). @return 0 or 2 (the message printed). */
static int load_config(const struct args *a, tpc_config_t *cfg, int *from_file)
{
	const char *def = getenv("TPCLEARD_CONFIG"), *last = NULL;
	char err[1024];

	tpc_config_defaults(cfg);
	*from_file = 0;
	for (int i = 0; i < a->nconfigs; i++) {
		if (tpc_config_load(cfg, a->configs[i], err, sizeof(err)) != 0)
			goto bad;
		last = a->configs[i];
		*from_file = 1;
	}
	/* TPCLEARD_CONFIG names a file on purpose, so it must exist; the default path is read
	 * only if it is there */
	if (a->nconfigs == 0 && (def || access(TPC_CONFIG_DEFAULT_PATH, F_OK) == 0)) {
		last = def ? def : TPC_CONFIG_DEFAULT_PATH;
		if (tpc_config_load(cfg, last, err, sizeof(err)) != 0)
			goto bad;
		*from_file = 1;
	}
	if (a->data_dir) {
		/* refused, not cut, as config.c refuses a path too long: a cut path names another
		 * directory, and a ledger would be created there */
		if (strlen(a->data_dir) >= sizeof(cfg->data_dir)) {
			fprintf(stderr, "tpcleard: --data-dir: path too long\n");
			return 2;
		}
		snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", a->data_dir);
	}
	if (tpc_config_check(cfg, err, sizeof(err)) == 0) {
		if (last)
			tpc_info("configuration: %s", last);
		return 0;
	}
	fprintf(stderr, "tpcleard: configuration error: %s%s%s\n", last ? last : "",
	        last ? ": " : "", err);
	return 2;
bad:
	fprintf(stderr, "tpcleard: configuration error: %s\n", err);
	return 2;
}

/* The sample payer accounts are fine for the demo, which runs on the embedded defaults, and a
 * trap anywhere else: a payment run would name them as debtor in real SEPA files. A
 * configuration file is how an engine is deployed (the package installs one), so an engine
 * started from a file that still has them says so loudly, once per budget. */
static void warn_sample_payers(const tpc_config_t *cfg, int from_file)
{
	int n = 0;

	for (int b = 1; b < TPC_BUDGET__COUNT; b++) {
		if (!tpc_config_payer_is_sample(cfg, (enum tpc_budget)b))
			continue;
		n++;
		if (from_file)
			tpc_warn(
			    "PAYMENT WARNING: budget %s pays from the SAMPLE account %s, not a "
			    "real one: set [budget.%s] iban and bic before any payment run",
			    tpc_budget_name((enum tpc_budget)b), cfg->payer[b].iban,
			    tpc_budget_name((enum tpc_budget)b));
	}
	if (n && !from_file)
		tpc_info("demo: %d budgets use the sample payer accounts (no configuration file)",
		         n);
}

int main(int argc, char **argv)
{
	struct args a = {0};
	tpc_config_t cfg;
	tpc_server_t *srv = NULL;
	int rc, from_file;

	/* journald reads a priority only from a record that starts with it; decided before the
	 * first record, from the stream stderr really is */
	tpc_log_set_journal(-1);
	if ((rc = parse_args(argc, argv, &a)) >= 0)
		return rc;
	if (load_config(&a, &cfg, &from_file) != 0)
		return 2;
	warn_sample_payers(&cfg, from_file);
	/* A peer that hangs up while a socket of ours (the HTTP listener's, a sender's) is being
	 * written would otherwise kill the daemon with SIGPIPE, whose default action is to end the
	 * process; ignored, the write fails with EPIPE and only that connection is dropped. */
	signal(SIGPIPE, SIG_IGN);
	/* libxml2 is used by several threads (SEPA files on the ledger writer, statements on the
	 * workers); before 2.11 its initialisation must run once, before any of them starts */
	xmlInitParser();
	rc = tpc_server_new(&cfg, &srv);
	if (rc) {
		tpc_error("cannot start: %s", tpc_strerror(rc));
		tpc_sdnotify_status("failed to start: %s", tpc_strerror(rc));
		return 1;
	}
	rc = tpc_server_run(srv);
	tpc_server_free(&srv);
	return rc ? 1 : 0;
}
