/* tests/integration/test_cli_help.c - tpclear's documentation cannot drift: `tpclear help`,
 * the man page tpclear(1) the build made (build/man/tpclear.1), and README's command list come
 * from one table (engine/cli/help.c). Needs no daemon: the binary alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Run `tpclear ARGS`, stdout and stderr into malloc'd strings. @return the exit status. */
static int run(const char *args, char **out, char **err)
{
	char cmd[1200], o[200], e[200];
	size_t len;
	int st;

	snprintf(o, sizeof(o), "/tmp/tpc-help-%d.out", (int)getpid());
	snprintf(e, sizeof(e), "/tmp/tpc-help-%d.err", (int)getpid());
	snprintf(cmd, sizeof(cmd), "'%s' %s >%s 2>%s", getenv("TPC_TPCLEAR"), args, o, e);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(o, &len);
	*err = (char *)tpc_test_slurp(e, &len);
	cr_assert(*out && *err);
	unlink(o);
	unlink(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The command names of the overview, in order, into @p names (each a pointer into @p help). */
static int command_names(char *help, char **names, int cap)
{
	char *p = strstr(help, "commands:\n"), *end = strstr(help, "\noptions:");
	int n = 0;

	cr_assert(p && end, "%s", help);
	for (p = strchr(p, '\n') + 1; p < end && n < cap; p = strchr(p, '\n') + 1) {
		char *name = p + 2, *sp = strchr(name, ' ');

		*sp = 0;
		names[n++] = name;
		p = sp + 1;
	}
	return n;
}

Test(cli_help, readme_lists_exactly_the_commands_of_the_table)
{
	char *list, *err, *readme, *from, *to;
	size_t len;

	cr_assert_eq(run("help --readme", &list, &err), 0, "%s", err);
	readme = (char *)tpc_test_slurp(tpc_test_src("README.md"), &len);
	cr_assert_not_null(readme);
	from = strstr(readme, "<!-- tpclear help --readme: begin -->\n");
	to = strstr(readme, "<!-- tpclear help --readme: end -->");
	cr_assert(from && to && to > from, "README.md has no generated command list");
	from = strchr(from, '\n') + 1;
	*to = 0;
	cr_assert_str_eq(from, list,
	                 "README.md's command list is not `tpclear help --readme`: paste it "
	                 "again (README.md, Commands)");
	free(readme);
	free(list);
	free(err);
}

Test(cli_help, the_built_man_page_is_the_help_table_and_names_every_command_and_option)
{
	char path[600], *man, *built, *err, *help, *names[40];
	size_t len;
	int n;

	cr_assert_eq(run("help --man", &man, &err), 0, "%s", err);
	free(err);
	snprintf(path, sizeof(path), "%s/man/tpclear.1", getenv("TPC_BUILD_DIR"));
	built = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(built, "%s: not built (target tpclear_man)", path);
	cr_assert_str_eq(built, man, "build/man/tpclear.1 is stale: rebuild");
	cr_assert(strstr(man, ".SH EXIT STATUS") && strstr(man, ".SH ENVIRONMENT") &&
	          strstr(man, ".SH FILES"));
	cr_assert_eq(run("help", &help, &err), 0, "%s", err);
	free(err);
	n = command_names(help, names, 40);
	cr_assert_geq(n, 12, "%s", help);
	for (int i = 0; i < n; i++) {
		char want[80], args[120], *cmd, *p;

		snprintf(want, sizeof(want), ".SS %s\n", names[i]);
		cr_assert(strstr(man, want), "the man page has no section for %s", names[i]);
		/* every option `help COMMAND` lists is in the man page (as troff writes it) */
		snprintf(args, sizeof(args), "help %s", names[i]);
		cr_assert_eq(run(args, &cmd, &err), 0, "%s", err);
		for (p = strstr(cmd, "\n  --"); p; p = strstr(p + 1, "\n  --")) {
			char flag[64], troff[128];
			size_t k = 0, t = 0;

			sscanf(p + 3, "%63s", flag);
			for (; flag[k] && t + 3 < sizeof(troff); k++) {
				if (flag[k] == '-')
					troff[t++] = '\\';
				troff[t++] = flag[k];
			}
			troff[t] = 0;
			cr_assert(strstr(man, troff), "%s: option %s not in the man page", names[i],
			          flag);
		}
		free(cmd);
		free(err);
	}
	free(help);
	free(built);
	free(man);
}

/* Every command the help names is one tpclear runs, and the list is all there: eattest,
 * load --upsert/--force, the feed kinds, query --settlement. */
Test(cli_help, every_documented_command_exists_and_the_list_is_complete)
{
	char *help, *err, *names[40], *one;
	int n, st;

	cr_assert_eq(run("help", &help, &err), 0, "%s", err);
	free(err);
	cr_assert(strstr(help, "\n  eattest "), "%s", help);
	n = command_names(help, names, 40);
	for (int i = 0; i < n; i++) {
		char args[200];

		if (strcmp(names[i], "help") == 0)
			continue;
		/* a dead endpoint and two arguments that name nothing: every command fails (none
		 * takes them, keygen writes nothing), but as itself, never as "unknown command" */
		snprintf(args, sizeof(args),
		         "--endpoint tcp://127.0.0.1:1 --timeout 1 --data-dir /nonexistent/d %s "
		         "/nonexistent/a /nonexistent/b",
		         names[i]);
		st = run(args, &one, &err);
		cr_assert(st >= 1 && st <= 3, "%s: exit %d: %s", names[i], st, err);
		cr_assert_null(strstr(err, "unknown command"), "%s: %s", names[i], err);
		cr_assert_neq(err[0], 0, "%s failed without saying why", names[i]);
		free(one);
		free(err);
	}
	cr_assert_eq(run("help load", &one, &err), 0);
	cr_assert(strstr(one, "--upsert") && strstr(one, "--force"), "%s", one);
	cr_assert(strstr(one, "fedasil_exclusions") && strstr(one, "war_victims"), "%s", one);
	free(one);
	free(err);
	cr_assert_eq(run("help query", &one, &err), 0);
	cr_assert(strstr(one, "--settlement"), "%s", one);
	free(one);
	free(err);
	cr_assert_eq(run("help nosuch", &one, &err), 2);
	cr_assert(strstr(err, "no command 'nosuch'"), "%s", err);
	free(one);
	free(err);
	free(help);
}

Test(cli_help, version_names_the_project_version)
{
	char *out, *err, want[64];

	cr_assert_eq(run("--version", &out, &err), 0, "%s", err);
	snprintf(want, sizeof(want), "tpclear %s", TPC_VERSION);
	cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s", out);
	free(out);
	free(err);
}
