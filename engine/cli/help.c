/* engine/cli/help.c - see help.h.
 *
 * DESIGN: the table below is the only place a command is described. Its texts are plain ASCII
 * prose, pre-wrapped for a terminal of 80 columns (help prints them as they are); the man page
 * generator lets troff fill the same lines, turns a blank line into a new paragraph and escapes
 * what troff reads as markup (a leading dot, a backslash, a hyphen in an option's name). A
 * command whose option is not in its row here is a command whose help, man page and README
 * are all wrong together, which a reader notices; a row with no command is caught by
 * tests/integration/test_cli_help.c, which runs every command named here.
 */
#include "help.h"

#include <string.h>

struct optdoc {
	const char *flag; /* "--format F" */
	const char *help; /* one line */
};

struct cmddoc {
	const char *name;
	const char *args;    /* what follows the name; several forms one per line */
	const char *summary; /* one line, no full stop */
	struct optdoc opts[10];
	const char *body; /* the long description, pre-wrapped; "" when the summary says it all */
};

#define KINDS_REF  "providers, members, tariffs, agreements"
#define KINDS_FEED "mediprima, fedasil, fedasil_exclusions, detention, war_victims, ossom"

static const struct cmddoc commands[] = {
    {"submit",
     "[--format F] [--key K] [--json] [--save-answers DIR] [--window N] FILE...",
     "clear each file and print its receipt and result",
     {{"--format F", "adapter name: canonical, efact, or a plugin's (guessed when absent)"},
      {"--key K", "idempotency key (one FILE only; default: the sending's own reference)"},
      {"--json", "one JSON object per sending on stdout (JSON lines)"},
      {"--save-answers DIR", "write each native answer frame to DIR/KEY.TYPE, byte for byte"},
      {"--window N", "sendings in flight at once (default 8)"}},
     "The format is guessed when absent: .pb is canonical, a file starting with 920000\n"
     "is efact. The key defaults to the sending's own reference (eFact segment 200\n"
     "positions 21-34, canonical 'reference'), else a hash of the file. Resubmitting\n"
     "the same file returns the stored answer; the same key with other content is a\n"
     "conflict (T00013) and changes nothing. Exit 0 only when every sending was\n"
     "accepted (some lines refused included); a refused sending or a conflict is 1.\n"},
    {"query",
     "[--settlement] [--json] [--save-answers DIR] KEY...",
     "print the stored result of each of this sender's keys",
     {{"--settlement", "the latest settlement of the sending (eFact 920900) instead"},
      {"--json", "one JSON object per key on stdout"},
      {"--save-answers DIR", "write the native answer (931000, 920098, 920900) to DIR"}},
     "A key never submitted by this sender is refused T00012; a sending no payment\n"
     "run has paid has no settlement yet (T00021).\n"},
    {"load",
     "[--upsert | --force] KIND FILE...",
     "replace one kind of reference data, or a scheme feed, with a CSV file",
     {{"--upsert", "the file is a delta: its rows replace the stored rows of the same key"},
      {"--force", "replace even when the file empties the kind or drops many rows"},
      {"--json", "one JSON object per file on stdout"}},
     "KIND is reference data (" KINDS_REF ",\n"
     "docs/formats/reference-data.md) or a scheme feed (" KINDS_FEED ",\n"
     "docs/formats/feeds.md). Each file replaces the whole kind in one transaction,\n"
     "live without a restart; a bad row refuses the file with its line, column and\n"
     "reason (T00018), and nothing changes. --upsert keys: NISS and valid_from\n"
     "(members and feeds), code (tariffs), decision (mediprima). A replace by a file\n"
     "with no row, or with fewer rows than stored by more than [engine]\n"
     "max_load_drop_percent (10 %), is refused (T00061, T00060) unless --force.\n"},
    {"eattest",
     "number=N provider=NIHII patient=NISS code=C date=YYYY-MM-DD fee=EUR [units=1] "
     "[country=CC real_cost=EUR] [cancels=N] [reference=TEXT] [--json]\n"
     "--kmehr FILE [--key K] [--json] [--save-answers DIR]",
     "send one electronic attestation, answered at once with the reimbursement",
     {{"--kmehr FILE", "send FILE, a Kmehr eAttest v3 request as MyCareNet clients write it"},
      {"--key K", "with --kmehr: the key (default: the request's id)"},
      {"--json", "the answer as one JSON object"},
      {"--save-answers DIR", "with --kmehr: write the Kmehr answer to DIR/KEY.kmehr"}},
     "One attestation (docs/formats/eattest.md), answered with the reimbursement to the\n"
     "insured and the scheme. The number is the idempotency key: the same attestation\n"
     "again gets the stored answer, other fields under the same number are a conflict\n"
     "(T00013, exit 1, said on stderr). cancels=N, repeating N's fields, reverses\n"
     "attestation N. With --kmehr the answer is the invoicing number\n"
     "(OOO-1-YYMMDD-NNNNNNN-CC) and each service's fee, or the findings; a\n"
     "cgacancellation naming an invoicing number cancels that attestation.\n"
     "Exit 0 when reimbursed, 1 when refused.\n"},
    {"payrun",
     "[--until DATE] [--budget B] [--request-id ID] [--out DIR] [--json]",
     "pay every unpaid accepted line: SEPA credit-transfer files and settlements",
     {{"--until DATE", "only lines committed up to DATE (YYYY-MM-DD, UTC)"},
      {"--budget B", "only budget B (INAMI, SPPIS, FEDASIL, ...)"},
      {"--request-id ID", "make the request idempotent (1-64 printable ASCII, no space)"},
      {"--out DIR", "write a copy of each SEPA file to DIR"},
      {"--json", "the run as one JSON object"}},
     "One credit transfer per payee account and budget, marked paid in the same\n"
     "transaction; the engine writes one SEPA pain.001.001.03 file per budget in its\n"
     "payments directory. Running it again pays nothing twice. The same --request-id\n"
     "again answers the run it made the first time (marked replay); with another\n"
     "--until or --budget it is refused T00027. A progress line on stderr while the\n"
     "engine works, when stderr is a terminal.\n"},
    {"ledger",
     "balance [--budget B] [--at DATE] [--json]\n"
     "show KEY [--json]\n"
     "export [--from DATE] [--to DATE] [--json]",
     "balances per budget, a sending's or payee's history, postings as CSV",
     {{"--budget B", "balance: one budget only"},
      {"--at DATE", "balance: as at the end of DATE (UTC)"},
      {"--from DATE", "export: postings committed from DATE"},
      {"--to DATE", "export: postings committed up to DATE"},
      {"--json", "one JSON object (export: one per posting)"}},
     "balance: per budget, charged, paid, still owed; every budget sums to 0.\n"
     "show: a sending key of this sender, PROVIDER/INVOICE, or a payee NIHII: amounts\n"
     "per line (invoiced, expected, accepted, paid) and history.\n"
     "export: every posting in commit order, as CSV (euros) or JSON lines (cents).\n"},
    {"statement",
     "sppis --month YYYY-MM [--out FILE] [--json]",
     "the SPP IS monthly recovery statement of the Mediprima lines (XML)",
     {{"--month YYYY-MM", "the month (UTC) whose accepted lines are stated; required"},
      {"--out FILE", "write the XML document to FILE (atomically), the summary on stdout"},
      {"--json", "the summary as one JSON object (needs --out)"}},
     "Per CPAS and per decision: lines, insurer part, patient share and totals,\n"
     "reconciled to the cent with the SPPIS budget's charges of the month, credit\n"
     "notes included (docs/formats/sppis-statement.md). Without --out (or with --out -)\n"
     "the document goes to stdout and the summary to stderr. A month not over yet is\n"
     "marked provisional. Refused T00030..T00033 (exit 1).\n"},
    {"ping", "", "check that the engine answers (exit 0), or say why not (exit 3)", {{0}}, ""},
    {"verify",
     "[--data-dir D] [--json] [--quiet]",
     "check the ledger offline: checksums, budgets, payables, indexes",
     {{"--data-dir D", "the engine's data directory"},
      {"--json", "one JSON document"},
      {"--quiet", "no progress bar"}},
     "Read-only, without any lock: it works while the engine runs on D. Every record's\n"
     "checksum, every budget summing to 0, each accepted line payable or paid (not\n"
     "both) for its amount, every index pointing at stored records. Each problem is\n"
     "one line on stdout (sub-database, key, what). Exit 0 when clean, 1 when damaged,\n"
     "2 when D cannot be opened.\n"},
    {"backup",
     "DIR [--data-dir D]",
     "hot, consistent copy of the data directory into the empty DIR",
     {{"--data-dir D", "the engine's data directory"}},
     "Copies the ledger into DIR/data.mdb while the engine runs (one snapshot,\n"
     "compacted), then the files a restore needs (server.key/.pub, senders.ini,\n"
     "payments/). DIR must be empty or absent. Restore: docs/operations.md.\n"
     "Exit 0 when done, 1 when the copy failed, 2 on a bad DIR or D.\n"},
    {"keygen",
     "[--out PREFIX]",
     "make a CURVE key pair: PREFIX.key (secret) and PREFIX.pub (public)",
     {{"--out PREFIX", "where to write (default 'tpclear'); never overwrites"}},
     "PREFIX.key is mode 0600: keep it on this machine. Give PREFIX.pub to the\n"
     "engine's operators for the senders registry (docs/security.md).\n"},
    {"help", "[COMMAND]", "this overview, or one command's usage and options", {{0}}, ""},
};

static const struct optdoc global_opts[] = {
    {"--endpoint E", "engine intake (default $TPCLEAR_ENDPOINT or tcp://127.0.0.1:5570)"},
    {"--sender S", "sender id (default $TPCLEAR_SENDER or \"local\")"},
    {"--timeout MS", "give up on a request after MS milliseconds (default 60000)"},
    {"--server-key FILE", "CURVE: the engine's public key (default $TPCLEAR_SERVER_KEY)"},
    {"--client-key PREFIX", "CURVE: this client's key pair PREFIX.key ($TPCLEAR_CLIENT_KEY)"},
    {"--data-dir D", "verify, backup: the data directory ($TPCLEAR_DATA_DIR, tpclear-data)"},
    {"--quiet", "no progress on stderr"},
    {"--version", "print the version and exit"},
    {"--help", "this overview, or with a command its usage"},
};

static const struct optdoc exit_statuses[] = {
    {"0", "done: every request answered and accepted (verify: clean)"},
    {"1", "refused: the engine refused a request or a sending, a conflict, verify found damage"},
    {"2", "usage: a bad option, argument or date, an unreadable file or data directory"},
    {"3", "unreachable: no engine answered at the endpoint within the ping's few seconds, or"
          " a request got no answer within --timeout"},
};

static const struct optdoc environment[] = {
    {"TPCLEAR_ENDPOINT", "default of --endpoint"},
    {"TPCLEAR_SENDER", "default of --sender"},
    {"TPCLEAR_SERVER_KEY", "default of --server-key"},
    {"TPCLEAR_CLIENT_KEY", "default of --client-key"},
    {"TPCLEAR_DATA_DIR", "default of --data-dir"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct cmddoc *find(const char *name)
{
	for (size_t i = 0; i < N(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Each line of @p args after "tpclear NAME", with @p lead before the first and as many spaces
 * before the others. */
static void print_forms(FILE *f, const char *lead, const struct cmddoc *c)
{
	const char *p = c->args;
	int first = 1;

	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(f, "%*s%s %s%s%.*s\n", first ? 0 : (int)strlen(lead), "", first ? lead : "",
		        c->name, len ? " " : "", len, p);
		first = 0;
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

static void print_opts(FILE *f, const struct optdoc *o, size_t n)
{
	for (size_t i = 0; i < n && o[i].flag; i++)
		fprintf(f, "  %-20s %s\n", o[i].flag, o[i].help);
}

void tpc_cli_help_overview(FILE *f)
{
	fprintf(f, "usage: tpclear [OPTIONS] COMMAND [ARGS]\n       tpclear help COMMAND\n\n"
	           "commands:\n");
	for (size_t i = 0; i < N(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\noptions:\n");
	print_opts(f, global_opts, N(global_opts));
	fprintf(f, "\nexit status:\n");
	print_opts(f, exit_statuses, N(exit_statuses));
}

int tpc_cli_help_command(FILE *f, const char *name)
{
	const struct cmddoc *c = find(name);

	if (!c)
		return -1;
	print_forms(f, "usage: tpclear", c);
	fprintf(f, "%s\n", c->summary);
	if (c->opts[0].flag) {
		fprintf(f, "\noptions:\n");
		print_opts(f, c->opts, N(c->opts));
	}
	if (*c->body)
		fprintf(f, "\n%s", c->body);
	return 0;
}

/* ---- man page ------------------------------------------------------------------------------ */

/* Text for troff: a backslash is \e, a hyphen \- (so option names copy and search right), a
 * line starting with a dot or quote is protected by \&, and a blank line starts a paragraph. */
static void roff(FILE *f, const char *s)
{
	int bol = 1;

	for (; *s; s++) {
		if (bol && *s == '\n') {
			fputs(".PP\n", f);
			continue;
		}
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
	if (!bol)
		fputc('\n', f);
}

static void roff_list(FILE *f, const struct optdoc *o, size_t n, int bold)
{
	for (size_t i = 0; i < n && o[i].flag; i++) {
		fputs(bold ? ".TP\n.B " : ".TP\n", f);
		roff(f, o[i].flag);
		roff(f, o[i].help);
	}
}

void tpc_cli_help_man(FILE *f, const char *version)
{
	fprintf(f,
	        ".\\\" generated by `tpclear help --man` from engine/cli/help.c: do not edit\n"
	        ".TH TPCLEAR 1 \"\" \"tpclear %s\" \"User Commands\"\n"
	        ".SH NAME\ntpclear \\- submit health-care sendings to tpcleard, query results,"
	        " run payments\n.SH SYNOPSIS\n.B tpclear\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR"
	        " [\\fIARGS\\fR]\n.SH DESCRIPTION\n",
	        version);
	roff(f,
	     "tpclear is the command-line client of tpcleard(8), the clearing engine of Belgian\n"
	     "third-party-payer invoices. It speaks the engine's ZeroMQ protocol (CURVE when\n"
	     "keys are given). Before its first request it pings the engine with a short\n"
	     "timeout, so a wrong or dead endpoint is reported within seconds (exit 3).\n"
	     "Results go to stdout (text, --json, CSV); messages, refusals with their code,\n"
	     "and progress (on a terminal only) go to stderr.\n");
	fputs(".SH COMMANDS\n", f);
	for (size_t i = 0; i < N(commands); i++) {
		const struct cmddoc *c = &commands[i];

		fputs(".SS ", f);
		roff(f, c->name);
		fputs(".nf\n", f);
		for (const char *p = c->args, *nl; p; p = nl ? nl + 1 : NULL) {
			char line[400];

			nl = strchr(p, '\n');
			snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - p) : (int)strlen(p),
			         p);
			fprintf(f, "\\fBtpclear %s\\fR ", c->name);
			roff(f, line);
		}
		fputs(".fi\n.PP\n", f);
		roff(f, c->summary);
		roff_list(f, c->opts, N(c->opts), 1);
		if (*c->body) {
			fputs(".PP\n", f);
			roff(f, c->body);
		}
	}
	fputs(".SH OPTIONS\n", f);
	roff_list(f, global_opts, N(global_opts), 1);
	fputs(".SH EXIT STATUS\n", f);
	roff_list(f, exit_statuses, N(exit_statuses), 0);
	fputs(".SH ENVIRONMENT\n", f);
	roff_list(f, environment, N(environment), 1);
	fputs(".SH FILES\n", f);
	roff(f, "DATA_DIR/server.pub, the engine's public key (--server-key); PREFIX.key and\n"
	        "PREFIX.pub, this client's key pair (keygen, --client-key).\n");
	fputs(".SH SEE ALSO\ntpcleard(8); docs/operations.md, docs/protocol.md\n", f);
}

void tpc_cli_help_readme(FILE *f)
{
	for (size_t i = 0; i < N(commands); i++) {
		const struct cmddoc *c = &commands[i];

		fprintf(f, "- `tpclear %s%s", c->name, *c->args ? " " : "");
		for (const char *p = c->args; *p; p++)
			if (*p == '\n')
				fprintf(f, "`, `tpclear %s ", c->name);
			else
				fputc(*p, f);
		fprintf(f, "`: %s\n", c->summary);
	}
}
