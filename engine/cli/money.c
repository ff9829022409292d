/* engine/cli/money.c - payrun, ledger and settlement commands of tpclear (see money.h).
 *
 * Money is printed from integer cents and read into integer cents (eur(), parse_eur()): no
 * floating point anywhere, so what is shown is to the cent what the ledger holds. Every
 * printer has two forms. The text form is for people and may change; the --json form (and the
 * CSV of `ledger export`) is for scripts: built with jansson (json.h), amounts as integer
 * NAME_cents beside decimal NAME_eur, times as ISO 8601 strings, field names following
 * proto/tpclear.proto, so a script never parses "EUR 12.34".
 */
#include "money.h"

#include "common/date.h"
#include "core/file.h"
#include "json.h"
#include "refdata/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The text form's amounts: euros with two decimals (json.c, shared with the JSON's NAME_eur) */
#define eur tpc_cli_eur
#define S   tpc_cli_s

/* The engine's times are unix milliseconds, printed in UTC (the Z says so): the clock the
 * engine counts its days in, so the day shown is the day --until, --at and --from mean.
 * 0 means "not yet" (a line not paid) and prints "-". */
static void when(char *buf, size_t cap, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(buf, cap, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int tpc_cli_payrun_request(int32_t until, const char *budget, const char *request_id, uint8_t **out,
                           size_t *len)
{
	Tpclear__PayrunRequest rq = TPCLEAR__PAYRUN_REQUEST__INIT;

	/* "" is no budget (every budget) and no request id; until 0 is "everything committed so
	 * far" to the engine (worker.c) */
	rq.until = until;
	rq.budget = (char *)(budget ? budget : "");
	rq.request_id = (char *)(request_id ? request_id : "");
	*len = tpclear__payrun_request__get_packed_size(&rq);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return -1;
	tpclear__payrun_request__pack(&rq, *out);
	return 0;
}

/* Packed again for every page of an export: only rq->after changes, to the next_after of the
 * page before (tpclear.c). */
int tpc_cli_ledger_request(const Tpclear__LedgerRequest *rq, uint8_t **out, size_t *len)
{
	*len = tpclear__ledger_request__get_packed_size(rq);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return -1;
	tpclear__ledger_request__pack(rq, *out);
	return 0;
}

/* A copy of a SEPA file under --out DIR, written atomically like the engine's own: a file
 * that may be sent to a bank must never exist half written. The name is the engine's
 * (payrun-RRRRRRRR-BUDGET.pain.001.xml), so the copy and the original match. */
static int write_file(const char *dir, const char *name, const ProtobufCBinaryData *b)
{
	char path[4096];
	int rc;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((rc = tpc_file_write_atomic(path, b->data, b->len))) {
		errno = -rc;
		return -1;
	}
	return 0;
}

int tpc_cli_print_payrun(FILE *f, const Tpclear__PayrunResult *r, int json, const char *out_dir)
{
	char a[32], t[32];
	int rc = 0;

	/* Copies first, then the report, whatever became of them: the run is committed in the
	 * engine either way, and the user must still see what was paid; a failed copy only
	 * changes the exit status. */
	for (size_t i = 0; out_dir && i < r->n_files; i++)
		if (write_file(out_dir, r->files[i]->name, &r->files[i]->content) != 0) {
			fprintf(stderr, "tpclear: cannot write %s/%s: %s\n", out_dir,
			        r->files[i]->name, strerror(errno));
			rc = -1;
		}
	/* The JSON names each file and where the engine wrote it (a path on the engine's
	 * machine), not its content: the XML goes to files, with --out for a local copy. */
	if (json) {
		json_t *o = json_object(), *files = json_array(), *notes = json_array();

		json_object_set_new(o, "run", json_integer((json_int_t)r->run));
		tpc_cli_jset_time(o, "committed_at", r->committed_at);
		json_object_set_new(o, "payments", json_integer(r->payments));
		json_object_set_new(o, "lines", json_integer((json_int_t)r->lines));
		tpc_cli_jset_money(o, "total", r->total_cents);
		json_object_set_new(o, "lines_carried", json_integer((json_int_t)r->lines_carried));
		json_object_set_new(o, "lines_no_account",
		                    json_integer((json_int_t)r->lines_no_account));
		json_object_set_new(o, "settlements", json_integer(r->settlements));
		json_object_set_new(o, "replay", json_boolean(r->replay));
		for (size_t i = 0; i < r->n_files; i++) {
			const Tpclear__SepaFile *x = r->files[i];
			json_t *j = json_object();

			tpc_cli_jset_str(j, "budget", x->budget);
			tpc_cli_jset_str(j, "name", x->name);
			tpc_cli_jset_str(j, "path", x->path);
			tpc_cli_jset_str(j, "payer_iban", x->payer_iban);
			json_object_set_new(j, "transactions", json_integer(x->transactions));
			tpc_cli_jset_money(j, "control", x->control_cents);
			json_array_append_new(files, j);
		}
		json_object_set_new(o, "files", files);
		for (size_t i = 0; i < r->n_notes; i++)
			json_array_append_new(notes, tpc_cli_js(r->notes[i]));
		json_object_set_new(o, "notes", notes);
		return tpc_cli_jprint(f, o) ? -1 : rc;
	}
	/* a replay is said first: what follows is the first run's, nothing was paid now */
	if (r->replay)
		fprintf(f, "(replay: this request id was run before; nothing was run now)\n");
	/* run 0 is a run that found nothing to pay and stored nothing (docs/ledger.md); lines
	 * left unpaid are still worth saying, they are why nothing was paid */
	if (!r->run) {
		fprintf(f, "payment run: nothing to pay");
		if (r->lines_carried || r->lines_no_account)
			fprintf(f, " (%" PRIu64 " line%s carried, %" PRIu64 " without an account)",
			        r->lines_carried, S(r->lines_carried), r->lines_no_account);
		fprintf(f, "\n");
	} else {
		eur(a, sizeof(a), r->total_cents);
		when(t, sizeof(t), r->committed_at);
		fprintf(f,
		        "payment run %" PRIu64 " committed %s: %u transfer%s, %" PRIu64
		        " line%s, EUR %s, %u settlement%s\n",
		        r->run, t, r->payments, S(r->payments), r->lines, S(r->lines), a,
		        r->settlements, S(r->settlements));
	}
	/* per file, the figures a bank checks a pain.001 by (number of transactions, control
	 * sum) and the debtor account it will debit */
	for (size_t i = 0; i < r->n_files; i++) {
		const Tpclear__SepaFile *x = r->files[i];

		eur(a, sizeof(a), x->control_cents);
		fprintf(f, "  %-10s %u transfer%s, control sum EUR %s, from %s: %s", x->budget,
		        x->transactions, S(x->transactions), a, x->payer_iban, x->path);
		if (out_dir)
			fprintf(f, " (copy in %s/%s)", out_dir, x->name);
		fprintf(f, "\n");
	}
	/* the two reasons apart: a net not positive resolves itself with later invoices, a
	 * missing account needs the reference data fixed (the notes name the payees) */
	if (r->lines_carried || r->lines_no_account)
		fprintf(f,
		        "  left unpaid: %" PRIu64 " line%s carried (net not positive), %" PRIu64
		        " line%s without a valid account\n",
		        r->lines_carried, S(r->lines_carried), r->lines_no_account,
		        S(r->lines_no_account));
	/* the notes name each payee or budget left unpaid and why (payrun.c keeps at most
	 * 1000); a replay has none, they are not stored */
	for (size_t i = 0; i < r->n_notes; i++)
		fprintf(f, "  note: %s\n", r->notes[i]);
	return rc;
}

/* Shared by `query --settlement` and the settlements inside a `ledger show` history, so a
 * script reads one shape for both. */
json_t *tpc_cli_j_settlement(const Tpclear__Settlement *s)
{
	json_t *o = json_object(), *dests = json_array();

	tpc_cli_jset_str(o, "sender", s->sender);
	tpc_cli_jset_str(o, "key", s->key);
	json_object_set_new(o, "sequence", json_integer((json_int_t)s->sequence));
	json_object_set_new(o, "run", json_integer((json_int_t)s->run));
	json_object_set_new(o, "payment", json_integer(s->payment));
	tpc_cli_jset_str(o, "payment_reference", s->payment_reference);
	tpc_cli_jset_str(o, "budget", s->budget);
	tpc_cli_jset_str(o, "payee", s->payee);
	tpc_cli_jset_str(o, "iban", s->iban);
	/* two dates on purpose: paid_at is when the run committed, execution_date the day the
	 * bank was asked to execute the transfer (the SEPA file's) */
	tpc_cli_jset_money(o, "paid", s->paid_cents);
	tpc_cli_jset_time(o, "paid_at", s->paid_at);
	tpc_cli_jset_date(o, "execution_date", s->execution_date);
	json_object_set_new(o, "lines_paid", json_integer(s->lines_paid));
	tpc_cli_jset_str(o, "native_type", s->native_type);
	/* per destination mutuality, as the 920900 reports it (ET91): requested, accepted,
	 * refused (requested - accepted), and what this payment paid */
	for (size_t i = 0; i < s->n_destinations; i++) {
		const Tpclear__SettledDestination *d = s->destinations[i];
		json_t *x = json_object();

		tpc_cli_jset_str(x, "mutuality", d->mutuality);
		tpc_cli_jset_money(x, "requested", d->requested_cents);
		tpc_cli_jset_money(x, "accepted", d->accepted_cents);
		tpc_cli_jset_money(x, "refused", d->refused_cents);
		tpc_cli_jset_money(x, "paid", d->paid_cents);
		json_array_append_new(dests, x);
	}
	json_object_set_new(o, "destinations", dests);
	return o;
}

void tpc_cli_print_settlement(FILE *f, const Tpclear__Settlement *s, int json)
{
	char a[32], t[32];

	if (json) {
		tpc_cli_jprint(f, tpc_cli_j_settlement(s));
		return;
	}
	/* One line for the payment, then one per destination mutuality, as the 920900 has an
	 * ET91 per mutuality. The payment reference is the transfer's SEPA end-to-end id. */
	/* one payee is shown: a payment pays every payee of one account (one IBAN, payrun.c),
	 * and the settlement names the payee of the first of this sending's lines it paid */
	eur(a, sizeof(a), s->paid_cents);
	when(t, sizeof(t), s->paid_at);
	fprintf(f,
	        "%s: settled by payment run %" PRIu64 " (%s, %s): EUR %s for %u line%s to %s (%s), "
	        "execution %04d-%02d-%02d%s%s\n",
	        s->key, s->run, s->payment_reference, t, a, s->lines_paid, S(s->lines_paid),
	        s->payee, s->iban, s->execution_date / 10000, s->execution_date / 100 % 100,
	        s->execution_date % 100, s->native_type[0] ? ", native answer " : "",
	        s->native_type);
	for (size_t i = 0; i < s->n_destinations; i++) {
		const Tpclear__SettledDestination *d = s->destinations[i];
		char q[32], c[32], r[32], p[32];

		eur(q, sizeof(q), d->requested_cents);
		eur(c, sizeof(c), d->accepted_cents);
		eur(r, sizeof(r), d->refused_cents);
		eur(p, sizeof(p), d->paid_cents);
		fprintf(
		    f,
		    "  mutuality %s: requested EUR %s, accepted EUR %s, refused EUR %s, paid EUR "
		    "%s\n",
		    d->mutuality, q, c, r, p);
	}
}

static const char *outcome(Tpclear__Outcome o)
{
	return o == TPCLEAR__OUTCOME__OUTCOME_ACCEPTED  ? "accepted"
	       : o == TPCLEAR__OUTCOME__OUTCOME_REFUSED ? "refused"
	                                                : "pending";
}

/* One sending as a claims system keeps it (docs/ledger.md, Queries): per line, what was
 * invoiced, what the tariff expected, what was accepted and what was paid, with when and under
 * which payment reference, then the settlements. */
static json_t *j_history(const Tpclear__SendingHistory *h)
{
	json_t *o = json_object(), *lines = json_array(), *sets = json_array();

	tpc_cli_jset_str(o, "sender", h->sender);
	tpc_cli_jset_str(o, "key", h->key);
	tpc_cli_jset_str(o, "format", h->format);
	json_object_set_new(o, "sequence", json_integer((json_int_t)h->sequence));
	tpc_cli_jset_time(o, "received_at", h->received_at);
	tpc_cli_jset_time(o, "validated_at", h->validated_at);
	tpc_cli_jset_time(o, "committed_at", h->committed_at);
	for (size_t i = 0; i < h->n_lines; i++) {
		const Tpclear__LineHistory *l = h->lines[i];
		json_t *x = json_object(), *codes = json_array();

		json_object_set_new(x, "index", json_integer(l->index));
		json_object_set_new(x, "record", json_integer(l->record));
		json_object_set_new(x, "invoice", json_integer(l->invoice));
		tpc_cli_jset_str(x, "code", l->code);
		tpc_cli_jset_day(x, "date", l->date);
		json_object_set_new(x, "units", json_integer(l->units));
		json_object_set_new(x, "outcome", json_string(outcome(l->outcome)));
		tpc_cli_jset_str(x, "budget", l->budget);
		tpc_cli_jset_str(x, "mutuality", l->mutuality);
		/* who pays under which reference: the feed's text, whole */
		tpc_cli_jset_str(x, "scheme", l->scheme);
		tpc_cli_jset_str(x, "share_budget", l->share_budget);
		tpc_cli_jset_str(x, "scheme_ref", l->scheme_ref);
		tpc_cli_jset_str(x, "scheme_org", l->scheme_org);
		tpc_cli_jset_money(x, "invoiced_insurer", l->invoiced_insurer_cents);
		tpc_cli_jset_money(x, "invoiced_patient", l->invoiced_patient_cents);
		tpc_cli_jset_money(x, "expected_insurer", l->expected_insurer_cents);
		tpc_cli_jset_money(x, "expected_patient", l->expected_patient_cents);
		tpc_cli_jset_money(x, "accepted", l->accepted_cents);
		tpc_cli_jset_money(x, "paid", l->paid_cents);
		tpc_cli_jset_time(x, "paid_at", l->paid_at);
		tpc_cli_jset_str(x, "payment_reference", l->payment_reference);
		/* codes only: a stored line keeps its finding codes, not their texts (records.h);
		 * docs/errors.md and docs/formats/efact.md give the reasons */
		for (size_t k = 0; k < l->n_findings; k++)
			json_array_append_new(codes, tpc_cli_js(l->findings[k]));
		json_object_set_new(x, "findings", codes);
		json_array_append_new(lines, x);
	}
	json_object_set_new(o, "lines", lines);
	for (size_t i = 0; i < h->n_settlements; i++)
		json_array_append_new(sets, tpc_cli_j_settlement(h->settlements[i]));
	json_object_set_new(o, "settlements", sets);
	return o;
}

/* The same as text, for people. */
static void print_history(FILE *f, const Tpclear__SendingHistory *h)
{
	char r[32], v[32], c[32];

	/* "decided" is the commit: a verdict is final, and answered, only once it is durable
	 * (docs/ledger.md, Guarantees) */
	when(r, sizeof(r), h->received_at);
	when(v, sizeof(v), h->validated_at);
	when(c, sizeof(c), h->committed_at);
	fprintf(f, "sending %s of %s (%s), sequence %" PRIu64 "\n", h->key, h->sender, h->format,
	        h->sequence);
	fprintf(f, "  received %s, validated %s, decided %s\n", r, v, c);
	fprintf(f, "  %-5s %-6s %-6s %-8s %-8s %12s %12s %12s %12s %12s  %s\n", "line", "record",
	        "code", "outcome", "budget", "invoiced", "expected", "accepted", "paid", "patient",
	        "paid at / ref / findings");
	for (size_t i = 0; i < h->n_lines; i++) {
		const Tpclear__LineHistory *l = h->lines[i];
		char inv[32], exp[32], acc[32], paid[32], pat[32], pa[32];

		eur(inv, sizeof(inv), l->invoiced_insurer_cents);
		eur(exp, sizeof(exp), l->expected_insurer_cents);
		eur(acc, sizeof(acc), l->accepted_cents);
		eur(paid, sizeof(paid), l->paid_cents);
		eur(pat, sizeof(pat), l->invoiced_patient_cents);
		when(pa, sizeof(pa), l->paid_at);
		/* a line refused before its scheme was known has no budget: "-" keeps the
		 * columns aligned */
		fprintf(f, "  %-5u %-6u %-6s %-8s %-8s %12s %12s %12s %12s %12s  %s %s", l->index,
		        l->record, l->code, outcome(l->outcome), l->budget[0] ? l->budget : "-",
		        inv, exp, acc, paid, pat, pa, l->payment_reference);
		for (size_t k = 0; k < l->n_findings; k++)
			fprintf(f, " %s", l->findings[k]);
		if (l->scheme_ref && *l->scheme_ref)
			fprintf(f, " [%s: %s]", l->scheme, l->scheme_ref);
		fputc('\n', f);
	}
	for (size_t i = 0; i < h->n_settlements; i++) {
		fprintf(f, "  ");
		tpc_cli_print_settlement(f, h->settlements[i], 0);
	}
}

/* One page of `ledger export`. tpclear.c prints each page as it arrives and frees it, so two
 * million postings are never held whole: hence JSON lines (one object per line, which pages
 * can simply follow) rather than one array, and the CSV header on the first page only, so the
 * pages make one CSV. Fields are not quoted: kinds, budget names, NIHII/NISS and IBANs hold no
 * comma or quote. Amounts are euros in the CSV, cents in JSON. */
void tpc_cli_print_postings(FILE *f, const Tpclear__LedgerAnswer *a, int json, int first)
{
	if (!json && first)
		fprintf(f, "number,committed_at,kind,budget,account,amount,sequence,line,run\n");
	for (size_t i = 0; i < a->n_postings; i++) {
		const Tpclear__Posting *p = a->postings[i];
		char amt[32], t[32];

		eur(amt, sizeof(amt), p->amount_cents);
		when(t, sizeof(t), p->at);
		if (json) {
			json_t *o = json_object();

			json_object_set_new(o, "number", json_integer((json_int_t)p->number));
			tpc_cli_jset_time(o, "at", p->at);
			tpc_cli_jset_str(o, "kind", p->kind);
			tpc_cli_jset_str(o, "budget", p->budget);
			tpc_cli_jset_str(o, "account", p->account);
			tpc_cli_jset_money(o, "amount", p->amount_cents);
			json_object_set_new(o, "sequence", json_integer((json_int_t)p->sequence));
			json_object_set_new(o, "line", json_integer(p->line));
			json_object_set_new(o, "run", json_integer((json_int_t)p->run));
			tpc_cli_jprint(f, o);
		} else {
			fprintf(f, "%" PRIu64 ",%s,%s,%s,%s,%s,%" PRIu64 ",%u,%" PRIu64 "\n",
			        p->number, t, p->kind, p->budget, p->account, amt, p->sequence,
			        p->line, p->run);
		}
	}
}

void tpc_cli_print_ledger(FILE *f, const Tpclear__LedgerAnswer *a, Tpclear__LedgerRequest__Op op,
                          int json)
{
	char t[32];

	/* Balance: the text shows the figures docs/ledger.md defines (charged, paid = payouts,
	 * owed = payable + settle, the budget's sum) and the total row, which the double entry
	 * keeps at 0, so a ledger that no longer balances shows on the last line. The JSON form
	 * adds the sub-sums (payable, settled, third-party and insured shares) a reconciliation
	 * needs. */
	if (op == TPCLEAR__LEDGER_REQUEST__OP__BALANCE) {
		if (json) {
			json_t *o = json_object(), *arr = json_array();

			for (size_t i = 0; i < a->n_balances; i++) {
				const Tpclear__BudgetBalance *b = a->balances[i];
				json_t *x = json_object();

				tpc_cli_jset_str(x, "budget", b->budget);
				tpc_cli_jset_money(x, "charged", b->charged_cents);
				tpc_cli_jset_money(x, "payable", b->payable_cents);
				tpc_cli_jset_money(x, "settled", b->settled_cents);
				tpc_cli_jset_money(x, "paid_out", b->paid_out_cents);
				tpc_cli_jset_money(x, "owed", b->owed_cents);
				tpc_cli_jset_money(x, "sum", b->sum_cents);
				json_object_set_new(x, "postings",
				                    json_integer((json_int_t)b->postings));
				tpc_cli_jset_money(x, "third_party", b->third_party_cents);
				tpc_cli_jset_money(x, "insured", b->insured_cents);
				json_array_append_new(arr, x);
			}
			json_object_set_new(o, "budgets", arr);
			tpc_cli_jset_money(o, "total", a->total_cents);
			tpc_cli_jprint(f, o);
			return;
		}
		/* the amounts are euros: said once in the header, the columns stay figures */
		fprintf(f, "%-10s %16s %16s %16s %16s %10s\n", "budget", "charged (EUR)",
		        "paid (EUR)", "owed (EUR)", "sum (EUR)", "postings");
		for (size_t i = 0; i < a->n_balances; i++) {
			const Tpclear__BudgetBalance *b = a->balances[i];
			char c[32], p[32], o[32], s[32];

			eur(c, sizeof(c), b->charged_cents);
			eur(p, sizeof(p), b->paid_out_cents);
			eur(o, sizeof(o), b->owed_cents);
			eur(s, sizeof(s), b->sum_cents);
			fprintf(f, "%-10s %16s %16s %16s %16s %10" PRIu64 "\n", b->budget, c, p, o,
			        s, b->postings);
		}
		eur(t, sizeof(t), a->total_cents);
		fprintf(f, "%-10s %16s %16s %16s %16s\n", "total", "", "", "", t);
		return;
	}
	if (json) {
		json_t *o = json_object(), *sends = json_array(), *posts = json_array();

		tpc_cli_jset_str(o, "target", a->target);
		tpc_cli_jset_str(o, "kind", a->target_kind);
		for (size_t i = 0; i < a->n_sendings; i++)
			json_array_append_new(sends, j_history(a->sendings[i]));
		json_object_set_new(o, "sendings", sends);
		/* a payee's postings without their account: it is the target, named once above */
		for (size_t i = 0; i < a->n_postings; i++) {
			const Tpclear__Posting *p = a->postings[i];
			json_t *x = json_object();

			json_object_set_new(x, "number", json_integer((json_int_t)p->number));
			tpc_cli_jset_str(x, "kind", p->kind);
			tpc_cli_jset_str(x, "budget", p->budget);
			tpc_cli_jset_money(x, "amount", p->amount_cents);
			tpc_cli_jset_time(x, "at", p->at);
			json_array_append_new(posts, x);
		}
		json_object_set_new(o, "postings", posts);
		tpc_cli_jset_money(o, "total", a->total_cents);
		tpc_cli_jprint(f, o);
		return;
	}
	/* show: a sending or an invoice comes as a history, a payee as postings. The payee's
	 * balance is the sum of the postings in this answer (its payables and settles): what it
	 * is still owed, positive. The engine answers at most one export page (10,000 postings)
	 * here and `ledger show` asks for no further page. */
	for (size_t i = 0; i < a->n_sendings; i++)
		print_history(f, a->sendings[i]);
	if (a->n_postings) {
		fprintf(f, "payee %s: %zu posting%s\n", a->target, a->n_postings, S(a->n_postings));
		tpc_cli_print_postings(f, a, 0, 1);
		eur(t, sizeof(t), a->total_cents);
		fprintf(f, "balance of the payee: EUR %s (positive = still owed)\n", t);
	}
}

/* ---- statements ---------------------------------------------------------------------------- */

int tpc_cli_write_document(const char *path, const ProtobufCBinaryData *doc)
{
	int rc;

	/* On stdout the write and the flush are both checked: a full disk or a closed pipe must
	 * fail the command, not leave a cut statement behind an exit status of 0. */
	if (!path) {
		if (fwrite(doc->data, 1, doc->len, stdout) != doc->len || fflush(stdout) != 0)
			return -1;
		return 0;
	}
	if ((rc = tpc_file_write_atomic(path, doc->data, doc->len))) {
		errno = -rc;
		return -1;
	}
	return 0;
}

void tpc_cli_print_statement(FILE *f, const Tpclear__Statement *s, int json, const char *file)
{
	char ins[32], sh[32], tot[32], ch[32];

	/* --json prints the summary only; tpclear.c requires --out then, so the document is in a
	 * file and stdout holds one JSON object */
	if (json) {
		json_t *o = json_object(), *cpas = json_array();
		char month[16];

		snprintf(month, sizeof(month), "%04u-%02u", s->month / 100, s->month % 100);
		tpc_cli_jset_str(o, "institution", s->institution);
		json_object_set_new(o, "month", json_string(month));
		json_object_set_new(o, "provisional", json_boolean(s->provisional));
		json_object_set_new(o, "lines", json_integer(s->lines));
		json_object_set_new(o, "decisions", json_integer(s->decisions));
		tpc_cli_jset_money(o, "insurer", s->insurer_cents);
		tpc_cli_jset_money(o, "patient", s->patient_cents);
		tpc_cli_jset_money(o, "total", s->total_cents);
		tpc_cli_jset_money(o, "charged", s->charged_cents);
		json_object_set_new(o, "charge_postings",
		                    json_integer((json_int_t)s->charge_postings));
		json_object_set_new(o, "file", file ? tpc_cli_js(file) : json_null());
		tpc_cli_jset_str(o, "name", s->name);
		for (size_t i = 0; i < s->n_cpas; i++) {
			const Tpclear__StatementCpas *c = s->cpas[i];
			json_t *x = json_object(), *decs = json_array();

			tpc_cli_jset_str(x, "bce", c->bce);
			json_object_set_new(x, "lines", json_integer(c->lines));
			tpc_cli_jset_money(x, "insurer", c->insurer_cents);
			tpc_cli_jset_money(x, "patient", c->patient_cents);
			tpc_cli_jset_money(x, "total", c->total_cents);
			for (size_t k = 0; k < c->n_decisions; k++) {
				const Tpclear__StatementDecision *d = c->decisions[k];
				json_t *y = json_object();

				tpc_cli_jset_str(y, "decision", d->decision);
				json_object_set_new(y, "lines", json_integer(d->lines));
				tpc_cli_jset_money(y, "insurer", d->insurer_cents);
				tpc_cli_jset_money(y, "patient", d->patient_cents);
				tpc_cli_jset_money(y, "total", d->total_cents);
				json_array_append_new(decs, y);
			}
			json_object_set_new(x, "decisions", decs);
			json_array_append_new(cpas, x);
		}
		json_object_set_new(o, "cpas", cpas);
		tpc_cli_jprint(f, o);
		return;
	}
	/* text: the summary per CPAS and the totals; the document itself is the XML (file or
	 * stdout). A statement asked before the month is over says so: more lines may come. */
	fprintf(f, "%s recovery statement %04u-%02u (%s): %u line%s, %u decision%s of %zu CPAS\n",
	        s->institution, s->month / 100, s->month % 100,
	        s->provisional ? "provisional: the month is not over" : "final", s->lines,
	        S(s->lines), s->decisions, S(s->decisions), s->n_cpas);
	fprintf(f, "%-12s %9s %7s %14s %14s %14s\n", "cpas", "decisions", "lines", "insurer",
	        "share", "total");
	for (size_t i = 0; i < s->n_cpas; i++) {
		const Tpclear__StatementCpas *c = s->cpas[i];

		eur(ins, sizeof(ins), c->insurer_cents);
		eur(sh, sizeof(sh), c->patient_cents);
		eur(tot, sizeof(tot), c->total_cents);
		fprintf(f, "%-12s %9zu %7u %14s %14s %14s\n", c->bce, c->n_decisions, c->lines, ins,
		        sh, tot);
	}
	eur(ins, sizeof(ins), s->insurer_cents);
	eur(sh, sizeof(sh), s->patient_cents);
	eur(tot, sizeof(tot), s->total_cents);
	eur(ch, sizeof(ch), s->charged_cents);
	fprintf(f, "%-12s %9u %7u %14s %14s %14s\n", "total", s->decisions, s->lines, ins, sh, tot);
	/* "reconciled" is not a guess: the engine refuses a statement whose lines do not add up
	 * to the budget's charges of the month (T00031), so one that arrives is reconciled */
	fprintf(f, "budget %s charged EUR %s in %" PRIu64 " postings of the month: reconciled\n",
	        s->institution, ch, s->charge_postings);
	fprintf(f, "document %s: %s (%zu bytes)\n", s->name, file ? file : "stdout",
	        s->document.len);
}

/* "12.34" or "12" (euros) to cents, no floating point. @return 0 or -1.
 * A decimal comma is read like a point ("12,34"). One decimal means tens of cents ("12.5" is
 * 12.50); a third decimal, a sign or anything after the number is refused, never rounded or
 * ignored: an amount of money is taken as written or not at all. The check on e bounds how
 * many digits reach the multiplication. */
static int parse_eur(const char *v, int64_t *out)
{
	int64_t e = 0, c = 0;
	const char *p = v;
	int nd = 0;

	if (!*p)
		return -1;
	/* bounded so that e * 100 + 99 below cannot overflow: amounts past about 92 million
	 * billion euros are refused, not wrapped */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (e > (INT64_MAX - 99) / 100 / 10)
			return -1;
		e = e * 10 + (*p - '0');
	}
	if (e > (INT64_MAX - 99) / 100)
		return -1;
	if (*p == '.' || *p == ',') {
		for (p++; *p >= '0' && *p <= '9' && nd < 2; p++, nd++)
			c = c * 10 + (*p - '0');
		if (nd == 1)
			c *= 10;
		if (nd == 0)
			return -1;
	}
	if (*p)
		return -1;
	*out = e * 100 + c;
	return 0;
}

int tpc_cli_eattest_request(int argc, char **argv, uint8_t **out, size_t *len, char *number,
                            size_t cap, char *err, size_t errlen)
{
	Tpclear__Attestation at = TPCLEAR__ATTESTATION__INIT;

	/* KEY=VALUE rather than options: the fields are those of tpclear.Attestation
	 * (docs/formats/eattest.md) under the same names. One unit unless told; a key given
	 * twice takes its last value. A bad value is refused here with the key named, before
	 * anything is sent. */
	at.units = 1;
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *k = argv[i], *v;
		char why[160];
		uint32_t d;

		if (!eq) {
			snprintf(err, errlen, "'%s': expected KEY=VALUE", argv[i]);
			return -1;
		}
		/* split in place (money.h says the arguments are modified): the message borrows
		 * the values from argv until it is packed below */
		*eq = 0;
		v = eq + 1;
		if (strcmp(k, "number") == 0)
			at.number = (char *)v;
		else if (strcmp(k, "provider") == 0)
			at.provider = (char *)v;
		else if (strcmp(k, "patient") == 0)
			at.patient = (char *)v;
		else if (strcmp(k, "code") == 0)
			at.code = (char *)v;
		else if (strcmp(k, "reference") == 0)
			at.reference = (char *)v;
		else if (strcmp(k, "cancels") == 0)
			at.cancels = (char *)v;
		else if (strcmp(k, "country") == 0)
			at.country = (char *)v;
		else if (strcmp(k, "date") == 0) {
			/* the engine's own calendar rules (common/date.h), said with the value */
			if (tpc_date_parse(v, &d, why, sizeof(why))) {
				snprintf(err, errlen, "date=%s", why);
				return -1;
			}
			at.date = (int32_t)d;
		}
		/* units >= 1 (docs/formats/eattest.md): a cancellation repeats the attestation
		 * with cancels=N, never negative units */
		else if (strcmp(k, "units") == 0 && atoi(v) > 0)
			at.units = atoi(v);
		else if (strcmp(k, "fee") == 0 && parse_eur(v, &at.fee_paid_cents) == 0)
			;
		else if (strcmp(k, "real_cost") == 0 && parse_eur(v, &at.real_cost_cents) == 0)
			;
		else {
			snprintf(err, errlen, "%s=%s: unknown key or bad value", k, v);
			return -1;
		}
	}
	/* the number is the envelope's key, the idempotency key of the attestation: without it
	 * there is nothing to send under */
	if (!at.number || !*at.number) {
		snprintf(err, errlen, "number=... (the attestation number) is required");
		return -1;
	}
	snprintf(number, cap, "%s", at.number);
	*len = tpclear__attestation__get_packed_size(&at);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return -1;
	tpclear__attestation__pack(&at, *out);
	return 0;
}

/* An attestation is one invoice of one line (eattest adapter), so its answer is read from the
 * first line; findings on the invoice (a malformed provider or patient) are printed too. The
 * exit status says reimbursed (0) or refused (1), so a provider's software can branch on it
 * without parsing the output. A replay is the stored answer of the same attestation number. */
int tpc_cli_print_eattest(FILE *f, const Tpclear__Answer *a, int json)
{
	const Tpclear__Result *r = a->result;
	const Tpclear__LineResult *l = NULL;
	char eur_back[32];

	if (a->body_case != TPCLEAR__ANSWER__BODY_RESULT)
		return 1;
	/* an attestation that is not an Attestation message at all has no invoice (T40001, on
	 * the sending): l stays NULL */
	if (r->n_invoice_results && r->invoice_results[0]->n_lines)
		l = r->invoice_results[0]->lines[0];
	eur(eur_back, sizeof(eur_back), r->accepted_cents);
	if (json) {
		json_t *o = json_object(), *codes = json_array();

		tpc_cli_jset_str(o, "number", r->key);
		/* the reimbursement is the accepted amount of the attestation's one line
		 * (docs/formats/eattest.md, Answer) */
		json_object_set_new(o, "accepted", json_boolean(r->lines_accepted));
		tpc_cli_jset_money(o, "reimbursed", r->accepted_cents);
		tpc_cli_jset_str(o, "scheme", l ? l->scheme : "");
		tpc_cli_jset_str(o, "budget", l ? l->budget : "");
		json_object_set_new(o, "sequence", json_integer((json_int_t)r->sequence));
		json_object_set_new(o, "replay", json_boolean(r->replay));
		for (size_t i = 0; l && i < l->n_findings; i++)
			json_array_append_new(codes, tpc_cli_js(l->findings[i]->code));
		for (size_t i = 0; i < r->n_invoice_results; i++)
			for (size_t k = 0; k < r->invoice_results[i]->n_findings; k++)
				json_array_append_new(
				    codes, tpc_cli_js(r->invoice_results[i]->findings[k]->code));
		json_object_set_new(o, "findings", codes);
		tpc_cli_jprint(f, o);
		return r->lines_accepted ? 0 : 1;
	}
	if (r->lines_accepted)
		fprintf(f, "attestation %s: reimbursed EUR %s to the insured (%s, budget %s)%s\n",
		        r->key, eur_back, l ? l->scheme : "", l ? l->budget : "",
		        r->replay ? " (stored answer)" : "");
	else
		fprintf(f, "attestation %s: refused\n", r->key);
	for (size_t i = 0; i < r->n_invoice_results; i++)
		for (size_t k = 0; k < r->invoice_results[i]->n_findings; k++)
			fprintf(f, "  %s: %s\n", r->invoice_results[i]->findings[k]->code,
			        r->invoice_results[i]->findings[k]->reason);
	for (size_t i = 0; l && i < l->n_findings; i++)
		fprintf(f, "  %s: %s\n", l->findings[i]->code, l->findings[i]->reason);
	return r->lines_accepted ? 0 : 1;
}
