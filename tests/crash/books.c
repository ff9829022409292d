/* tests/crash/books.c - the offline checks of a stopped engine's data directory (see crash.h).
 *
 * tpc_td_ledger_check() (tests/support/daemon.c) already proves the double entry: the postings
 * sum to zero overall and per budget, every payable posting is either unpaid or paid, never
 * both, never twice. On top of it this reads the money the way an auditor would, from the
 * stored records only:
 *   - each payment's amount and line count are those of the lines marked paid by it, and its
 *     SETTLE and PAYOUT postings book exactly that amount;
 *   - each run's record (payments, lines, total) is the sum of its payments;
 *   - each accepted line's payable postings add up to its accepted amount (so what is paid for
 *     a line can never exceed what was accepted for it);
 *   - every run has its SEPA file per budget it paid, whose NbOfTxs and CtrlSum are that run's
 *     payments, and the run is marked written; no file names a run the ledger does not hold;
 *   - as many sendings are stored as the client was answered (nothing stored twice, nothing
 *     stored that was refused).
 * A payment that disagrees with its lines counts as paid twice: money left the budget that no
 * line accounts for.
 */
#include "crash.h"

#include "clearing/budget.h"
#include "core/config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "payments/payrun.h"
#include "pipeline/writer.h"
#include "store/postings.h"
#include "store/records.h"
#include "store/store.h"
#include "store/txn.h"
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* A payable posting: its key (sequence, line, part) and amount. */
struct payable {
	uint8_t key[TPC_PAYABLE_KEY];
	int64_t amount;
};

/* A payment and what the other records say of it. */
struct payment {
	uint64_t run;
	uint32_t n;
	uint8_t budget;
	int64_t amount, paid_sum, settle, payout;
	uint64_t lines, paid_lines;
};

struct books {
	struct payable *pay;
	size_t npay;
	struct payment *pm;
	size_t npm;
};

static int cmp_payable(const void *a, const void *b)
{
	return memcmp(a, b, TPC_PAYABLE_KEY);
}

static int cmp_payment(const void *a, const void *b)
{
	const struct payment *x = a, *y = b;

	if (x->run != y->run)
		return x->run < y->run ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

static struct payment *payment_of(struct books *b, uint64_t run, uint32_t n)
{
	struct payment k = {.run = run, .n = n};

	return bsearch(&k, b->pm, b->npm, sizeof(k), cmp_payment);
}

static int64_t payable_of(const struct books *b, const uint8_t key[TPC_PAYABLE_KEY], int *found)
{
	const struct payable *p = bsearch(key, b->pay, b->npay, sizeof(*p), cmp_payable);

	*found = p != NULL;
	return p ? p->amount : 0;
}

static void *grow(void *v, size_t n, size_t size)
{
	/* called with the current count before each append: 64 first, then doubling at each
	 * power of two from 64 on */
	if (n && (n < 64 || (n & (n - 1))))
		return v;
	v = realloc(v, (n ? n * 2 : 64) * size);
	if (!v)
		abort();
	return v;
}

/* Payable postings and the payments' own records, then the postings of the payments. */
static int read_money(crash_ctx_t *c, MDB_txn *txn, const tpc_store_db_t *db, struct books *b)
{
	tpc_postings_t it;
	tpc_posting_rec_t q;
	uint64_t num;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	/* a walk that stops on an error would leave the books short, and the checks after it
	 * would blame the engine for sums that were never read: fail here, naming the error */
	if ((rc = mdb_cursor_open(txn, db->payments, &cur)))
		return crash_fail(c, "payments: cursor: %s", mdb_strerror(rc));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_payment_rec_t p;

		if (k.mv_size != 12 || tpc_records_read(&v, &p, sizeof(p)))
			continue;
		b->pm = grow(b->pm, b->npm, sizeof(*b->pm));
		b->pm[b->npm++] = (struct payment){tpc_get_be64(k.mv_data),
		                                   tpc_get_be32((uint8_t *)k.mv_data + 8),
		                                   p.budget,
		                                   p.amount_cents,
		                                   0,
		                                   0,
		                                   0,
		                                   p.lines,
		                                   0};
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return crash_fail(c, "payments: walk: %s", mdb_strerror(rc));
	/* every posting: stored, or derived from a lines block (schema 7, store/postings.h) */
	if ((rc = tpc_postings_open(&it, txn, db, 0)))
		return crash_fail(c, "postings: open: %s", mdb_strerror(rc));
	while ((rc = tpc_postings_next(&it, &q, &num)) == 1) {
		struct payment *pm;

		if (q.kind == TPC_POST_PAYABLE) {
			b->pay = grow(b->pay, b->npay, sizeof(*b->pay));
			tpc_key_payable(b->pay[b->npay].key, q.sequence, q.line, q.part);
			b->pay[b->npay++].amount = q.amount_cents;
		} else if ((q.kind == TPC_POST_SETTLE || q.kind == TPC_POST_PAYOUT) &&
		           (pm = payment_of(b, q.run, q.line))) {
			*(q.kind == TPC_POST_SETTLE ? &pm->settle : &pm->payout) += q.amount_cents;
		}
	}
	tpc_postings_close(&it);
	if (rc)
		return crash_fail(c, "postings: walk stopped at %llu: %s", (unsigned long long)num,
		                  rc == TPC_EDAMAGED ? "a record failed its sum"
		                                     : mdb_strerror(rc));
	qsort(b->pay, b->npay, sizeof(*b->pay), cmp_payable);
	return 0;
}

/* Each paid line counted into the payment that paid it; each payment then agrees. */
static int check_payments(crash_ctx_t *c, MDB_txn *txn, const tpc_store_db_t *db, struct books *b)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0, found;

	mdb_cursor_open(txn, db->paid, &cur);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !rc;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_paid_t pd;
		struct payment *pm;
		int64_t amount;

		if (k.mv_size != TPC_PAYABLE_KEY || tpc_records_read(&v, &pd, sizeof(pd)))
			continue;
		amount = payable_of(b, k.mv_data, &found);
		pm = payment_of(b, pd.run, pd.payment);
		if (!found || !pm)
			rc = crash_fail(c, "a paid line names %s",
			                !found ? "no payable posting" : "no stored payment");
		else
			pm->paid_sum += amount, pm->paid_lines++;
	}
	mdb_cursor_close(cur);
	for (size_t i = 0; i < b->npm && !rc; i++) {
		const struct payment *p = &b->pm[i];
		uint8_t key[8];
		MDB_val rk = {8, key};

		/* a run is stored whole or not at all: no payment without its run's record */
		tpc_put_be64(key, p->run);
		if (mdb_get(txn, db->payruns, &rk, &v) != 0) {
			rc = crash_fail(c, "payment %llu/%u is stored, its run is not",
			                (unsigned long long)p->run, p->n);
			break;
		}
		if (p->paid_sum != p->amount || p->paid_lines != p->lines ||
		    p->settle != -p->amount || p->payout != p->amount) {
			c->st->paid_twice++;
			rc = crash_fail(
			    c,
			    "PAID TWICE? payment %llu/%u of %lld cents (%llu lines): its "
			    "lines paid %lld (%llu), SETTLE %lld, PAYOUT %lld",
			    (unsigned long long)p->run, p->n, (long long)p->amount,
			    (unsigned long long)p->lines, (long long)p->paid_sum,
			    (unsigned long long)p->paid_lines, (long long)p->settle,
			    (long long)p->payout);
		}
	}
	return rc;
}

/* Line (@p seq, @p line), @p l: its payable postings sum to its accepted amount. */
static int check_line(crash_ctx_t *c, const struct books *b, uint64_t seq, uint32_t line,
                      const tpc_line_rec_t *l)
{
	uint8_t key[TPC_PAYABLE_KEY];
	int64_t sum = 0, want;
	int found;

	for (uint8_t part = 0; part < 2; part++) {
		tpc_key_payable(key, seq, line, part);
		sum += payable_of(b, key, &found);
	}
	want = l->outcome == TPC_OUTCOME_ACCEPTED ? l->accepted_cents : 0;
	if (sum != want)
		return crash_fail(c, "line %llu/%u: payables %lld cents, accepted %lld",
		                  (unsigned long long)seq, line, (long long)sum, (long long)want);
	return 0;
}

/* Each accepted line's payable postings sum to its accepted amount; a refused one has none.
 * Lines are a block per sending (schema 6) or, older, one record per (sequence, line). */
static int check_lines(crash_ctx_t *c, MDB_txn *txn, const tpc_store_db_t *db,
                       const struct books *b)
{
	MDB_cursor *cur;
	MDB_val k, v;
	tpc_lines_t ls;
	int rc = 0;

	tpc_lines_init(&ls, txn, db->lines);
	mdb_cursor_open(txn, db->lines, &cur);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !rc;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t seq = k.mv_size >= 8 ? tpc_get_be64(k.mv_data) : 0;
		tpc_line_rec_t l;

		if (k.mv_size == 8) {
			for (uint32_t i = 0; !rc && tpc_lines_get(&ls, seq, i, &l, NULL) == 0; i++)
				rc = check_line(c, b, seq, i, &l);
			continue;
		}
		if (k.mv_size != 12 || tpc_records_read(&v, &l, sizeof(l)))
			continue;
		rc = check_line(c, b, seq, tpc_get_be32((uint8_t *)k.mv_data + 8), &l);
	}
	mdb_cursor_close(cur);
	return rc;
}

/* The number between <tag> and </tag> (the first one: the group header's), or -1. */
static long long xml_number(const char *xml, const char *tag, int cents)
{
	char open[32];
	const char *p;
	long long whole = 0, frac = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	p = strstr(xml, open);
	if (!p || sscanf(p + strlen(open), "%lld.%2lld", &whole, &frac) < 1)
		return -1;
	return cents ? whole * 100 + frac : whole;
}

/* One run's SEPA file for @p budget: there, and its totals are the run's payments there. */
static int check_file(crash_ctx_t *c, const char *data, uint64_t run, unsigned budget,
                      const struct books *b)
{
	char name[96], path[700];
	unsigned char *xml;
	size_t len;
	long long n = 0, sum = 0, got_n, got_sum;

	tpc_payrun_file_name(run, budget, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/payments/%s", data, name);
	xml = tpc_test_slurp(path, &len);
	c->st->sepa_checked++;
	if (!xml) {
		c->st->sepa_failures++;
		return crash_fail(c, "run %llu paid %s but its SEPA file %s is missing",
		                  (unsigned long long)run, tpc_budget_name(budget), name);
	}
	for (size_t i = 0; i < b->npm; i++)
		if (b->pm[i].run == run && b->pm[i].budget == budget)
			n++, sum += b->pm[i].amount;
	got_n = xml_number((char *)xml, "NbOfTxs", 0);
	got_sum = xml_number((char *)xml, "CtrlSum", 1);
	free(xml);
	if (got_n != n || got_sum != sum) {
		c->st->sepa_failures++;
		return crash_fail(c, "%s: %lld transfers of %lld cents, the ledger %lld of %lld",
		                  name, got_n, got_sum, n, sum);
	}
	return 0;
}

/* Every run's record agrees with its payments and has its files; no file without a run. */
static int check_runs(crash_ctx_t *c, MDB_txn *txn, const tpc_store_db_t *db, const char *data,
                      const struct books *b)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = 0;

	mdb_cursor_open(txn, db->payruns, &cur);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !rc;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_payrun_rec_t r;
		uint64_t run, lines = 0;
		uint32_t n = 0;
		int64_t total = 0;

		if (k.mv_size != 8 || tpc_records_read(&v, &r, sizeof(r)))
			continue;
		run = tpc_get_be64(k.mv_data);
		for (size_t i = 0; i < b->npm; i++)
			if (b->pm[i].run == run)
				n++, lines += b->pm[i].lines, total += b->pm[i].amount;
		if (n != r.payments || lines != r.lines || total != r.total_cents)
			rc = crash_fail(
			    c,
			    "run %llu: record %u payments %llu lines %lld cents, payments "
			    "%u %llu %lld",
			    (unsigned long long)run, r.payments, (unsigned long long)r.lines,
			    (long long)r.total_cents, n, (unsigned long long)lines,
			    (long long)total);
		else if (!r.files_written)
			rc = crash_fail(c, "run %llu: files not marked written after a restart",
			                (unsigned long long)run);
		for (unsigned bu = 1; bu < TPC_BUDGET__COUNT && !rc; bu++)
			if (r.budgets_paid & (1u << bu))
				rc = check_file(c, data, run, bu, b);
	}
	mdb_cursor_close(cur);
	return rc;
}

/* Files in the payments directory: each SEPA file names a stored run; leftovers of an atomic
 * write cut by the kill (NAME.tmp.PID) are counted, not failed (no operator takes them for a
 * file: they do not end in .xml). */
static int check_dir(crash_ctx_t *c, MDB_txn *txn, const tpc_store_db_t *db, const char *data)
{
	char dir[400];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/payments", data);
	c->st->stray_last = 0;
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)) && !rc) {
		unsigned long long run;
		uint8_t key[8];
		MDB_val k = {8, key}, v;

		if (strstr(e->d_name, ".tmp.")) {
			c->st->stray_last++;
			continue;
		}
		if (sscanf(e->d_name, "payrun-%llu-", &run) != 1)
			continue;
		tpc_put_be64(key, run);
		if (mdb_get(txn, db->payruns, &k, &v) != 0)
			rc = crash_fail(
			    c, "SEPA file %s names run %llu, which the ledger does not hold",
			    e->d_name, run);
	}
	closedir(d);
	return rc;
}

/* Open the ledger as the engine does and run the record checks. @return 0 or -1. */
static int check_records(crash_ctx_t *c, const char *data, const crash_model_t *m)
{
	tpc_config_t cfg;
	tpc_metrics_t *mt = NULL;
	tpc_writer_t *w = NULL;
	tpc_store_reader_t *r = NULL;
	const tpc_store_db_t *db;
	struct books b = {0};
	MDB_txn *txn;
	uint64_t stored = 0;
	int rc = -1;

	tpc_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data);
	if (tpc_metrics_new(1, &mt) || tpc_writer_open(&cfg, mt, &w) ||
	    tpc_store_reader_new(tpc_writer_store(w), &r) || tpc_store_read_begin(r, &txn, &db)) {
		crash_fail(c, "cannot open the ledger in %s", data);
		goto out;
	}
	rc = read_money(c, txn, db, &b);
	if (!rc)
		rc = check_payments(c, txn, db, &b);
	if (!rc)
		rc = check_lines(c, txn, db, &b);
	if (!rc)
		rc = check_runs(c, txn, db, data, &b);
	if (!rc)
		rc = check_dir(c, txn, db, data);
	tpc_store_read_end(r);
	if (!rc && m && (tpc_store_count_sendings(r, &stored) || stored != crash_model_stored(m)))
		rc = crash_fail(c, "%llu sendings stored, %zu answered to the client",
		                (unsigned long long)stored, crash_model_stored(m));
out:
	free(b.pay);
	free(b.pm);
	tpc_store_reader_free(&r);
	tpc_writer_free(&w);
	tpc_metrics_free(&mt);
	return rc;
}

int crash_check_books(crash_ctx_t *c, const char *data, const crash_model_t *m)
{
	tpc_td_t tmp;
	char err[256];
	uint64_t paid, unpaid;

	memset(&tmp, 0, sizeof(tmp));
	snprintf(tmp.data, sizeof(tmp.data), "%s", data);
	if (tpc_td_ledger_check(&tmp, err, sizeof(err), &paid, &unpaid) != 0) {
		/* a payable both paid and unpaid, or paid twice, can be paid again */
		if (strstr(err, "paid") || strstr(err, "two payable"))
			c->st->paid_twice++;
		else
			c->st->book_failures++;
		return crash_fail(c, "books: %s", err);
	}
	if (check_records(c, data, m) != 0) {
		c->st->book_failures++;
		return -1;
	}
	return 0;
}

/* ---- tpclear verify ---------------------------------------------------------------------- */

/* Run @p cmd through the shell, its output into @p out (cut). @return its exit status, -1. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	out[0] = 0;
	if (!p)
		return -1;
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), p))
		n = strlen(out);
	while (fgetc(p) != EOF)
		; /* the rest, so the command never blocks on a full pipe */
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Does this tpclear have `verify`? The merged one answers `verify --help` with a text naming
 * it; one without the command prints the general usage, which does not. */
static int verify_available(void)
{
	static int known = -1;
	const char *bin = getenv("TPC_TPCLEAR");
	char cmd[600], out[8192];

	if (known >= 0)
		return known;
	known = 0;
	if (bin) {
		snprintf(cmd, sizeof(cmd), "'%s' verify --help 2>&1", bin);
		known = run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "verify") != NULL;
	}
	return known;
}

int crash_verify(crash_ctx_t *c, const char *data)
{
	char cmd[800], out[2048];
	int rc;

	if (!verify_available())
		return 0;
	snprintf(cmd, sizeof(cmd), "'%s' verify --data-dir '%s' --json 2>&1", getenv("TPC_TPCLEAR"),
	         data);
	rc = run_cmd(cmd, out, sizeof(out));
	c->st->verify_runs++;
	if (rc == 0)
		return 0;
	c->st->verify_failures++;
	return crash_fail(c, "tpclear verify: exit %d (%s): %.300s", rc,
	                  rc == 1   ? "damaged"
	                  : rc == 2 ? "cannot open"
	                            : "?",
	                  out);
}
