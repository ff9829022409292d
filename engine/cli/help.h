/* engine/cli/help.h - tpclear's documentation, written once: every command, its arguments and
 * options, a one-line and a long description, the global options, the exit statuses, the
 * environment. From this one table come `tpclear help`, `tpclear help COMMAND`, the man page
 * tpclear(1) (`tpclear help --man`, run by the build: build/man/tpclear.1) and README's command
 * list (`tpclear help --readme`, checked against README.md by tests/integration/test_cli_help.c),
 * so none of them can drift from the others.
 */
#ifndef TPC_CLI_HELP_H
#define TPC_CLI_HELP_H

#include <stdio.h>

/** Exit statuses of every command (docs/operations.md, "The CLI"). */
enum tpc_cli_exit {
	TPC_CLI_OK = 0,          /* done: every item accepted, the ledger clean */
	TPC_CLI_REFUSED = 1,     /* the engine (or verify, backup) refused or found a fault */
	TPC_CLI_USAGE = 2,       /* a usage error: bad option, argument, unreadable input */
	TPC_CLI_UNREACHABLE = 3, /* no engine answered at the endpoint (or stopped answering) */
};

/** The overview: synopsis, every command's one-line description, the global options. */
void tpc_cli_help_overview(FILE *f);

/** One command's usage, options and description. @return 0, or -1 when @p name is no command
 *  (nothing printed). */
int tpc_cli_help_command(FILE *f, const char *name);

/** The man page tpclear(1) in troff (man(7) macros); @p version goes in its footer. */
void tpc_cli_help_man(FILE *f, const char *version);

/** README's command list: one Markdown bullet per command (synopsis and one-line description). */
void tpc_cli_help_readme(FILE *f);

#endif /* TPC_CLI_HELP_H */
