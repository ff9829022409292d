/* engine/main.c - tpcleard: command line, configuration, then the server loop.
 *
 * Everything here runs on the main thread before tpc_server_new() starts another one, which is
 * what lets the log level and libxml2 be set up without locks. Exit status: 2 for a bad command
 * line or configuration (docs/configuration.md: a bad key "stops startup (exit status 2)"), 1
 * when the server cannot start or stops on an error, 0 after a clean drain. */
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "pipeline/server.h"

#include <getopt.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: tpcleard [--config FILE] [--data-dir DIR] [--verbose] [--help] "
	           "[--version]\n"
	           "\n"
	           "Clearing engine for third-party-payer health-care invoices.\n"
	           "  -c, --config FILE    INI configuration (every key has a default; see\n"
	           "                       docs/configuration.md)\n"
	           "  -d, --data-dir DIR   ledger directory (overrides [ledger] data_dir)\n"
	           "  -v, --verbose        debug logging\n"
	           "  -h, --help           this text\n"
	           "  -V, --version        print the version\n"
	           "Stops cleanly on SIGTERM or SIGINT: accepted sendings are committed and\n"
	           "answered first.\n");
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"data-dir", required_argument, NULL, 'd'},
	    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *data_dir = NULL;
	tpc_config_t cfg;
	tpc_server_t *srv = NULL;
	char err[1024];
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:d:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'v':
			/* set now, before any thread reads it (log.h: "set once at startup") */
			tpc_log_set_level(TPC_LOG_DEBUG);
			break;
		case 'h':
			/* stdout and 0: asked-for help is output, not an error */
			usage(stdout);
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
	/* defaults, then the file over them, then --data-dir over the file; the cross-key check
	 * runs last so it judges the values that will really be used */
	tpc_config_defaults(&cfg);
	if (config && tpc_config_load(&cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "tpcleard: configuration error: %s\n", err);
		return 2;
	}
	if (data_dir) {
		/* refused, not cut, as config.c refuses a path too long: a cut path names another
		 * directory, and a ledger would be created there */
		if (strlen(data_dir) >= sizeof(cfg.data_dir)) {
			fprintf(stderr, "tpcleard: --data-dir: path too long\n");
			return 2;
		}
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
	}
	if (tpc_config_check(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tpcleard: configuration error: %s%s%s\n", config ? config : "",
		        config ? ": " : "", err);
		return 2;
	}
	/* A peer that hangs up while a socket of ours (the HTTP listener's, a sender's) is being
	 * written would otherwise kill the daemon with SIGPIPE, whose default action is to end the
	 * process; ignored, the write fails with EPIPE and only that connection is dropped. */
	signal(SIGPIPE, SIG_IGN);
	/* libxml2 is used by several threads (SEPA files on the ledger writer, statements on the
	 * workers); before 2.11 its initialisation must run once, before any of them starts */
	xmlInitParser();
	rc = tpc_server_new(&cfg, &srv);
	if (rc) {
		fprintf(stderr, "tpcleard: cannot start: %s\n", tpc_strerror(rc));
		return 1;
	}
	rc = tpc_server_run(srv);
	tpc_server_free(&srv);
	return rc ? 1 : 0;
}
