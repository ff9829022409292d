/* tests/integration/test_verify.c - checksums, `tpclear verify` and `tpclear backup` against
 * the real daemon (issue 14, items 2 and 3; docs/operations.md).
 *
 * Bit flips are placed at known records of a copied ledger: the copy is opened read-only with
 * LMDB, the record looked up by its key (the stored answer of a sending, a line record), and
 * its offset in data.mdb is its address minus the map's (an MDB_RDONLY environment maps the
 * file as it is, so the two agree); the bytes there are checked against what the record must
 * hold (the answer's magic "TPA5" and the sending's key 160 bytes further, the line's code)
 * before one bit is flipped with pwrite.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "store/check.h"
#include "store/records.h"
#include "store/txn.h"
#include "testutil.h"

static tpc_td_t d, d2;
static char *spare; /* a directory of the test's own: backups, copies */

static void setup(void)
{
	spare = tpc_test_tmpdir();
}

static void teardown(void)
{
	tpc_td_cleanup(&d);
	tpc_td_cleanup(&d2);
	tpc_test_rmtree_free(&spare);
}

TestSuite(verify, .init = setup, .fini = teardown, .timeout = 300);

/* Run tpclear with @p args; stdout into *@p out (malloc'd, may be NULL). @return exit status. */
static int tpclear(const char *args, char **out)
{
	char cmd[2048], path[400];
	size_t len;
	int st;

	snprintf(path, sizeof(path), "%s/out.txt", spare);
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>>'%s/cli.err'", getenv("TPC_TPCLEAR"), args,
	         path, spare);
	st = system(cmd);
	if (st != 0) { /* for a failing test: what tpclear said on stderr */
		snprintf(cmd, sizeof(cmd), "cat '%s/cli.err' >&2", spare);
		(void)!system(cmd);
	}
	if (out) {
		*out = (char *)tpc_test_slurp(path, &len);
		cr_assert_not_null(*out);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One eFact invoice of the sample hospital under @p reference (the idempotency key). */
static Tpclear__Answer *invoice(void *s, const char *reference, const char *number, char kind,
                                const char *previous, int sign, uint32_t day)
{
	size_t len;
	uint8_t *p = tpc_td_efact_invoice(reference, number, kind, previous, sign, day, &len);
	Tpclear__Answer *a;

	cr_assert_not_null(p);
	a = tpc_td_submit(s, "hospital", reference, "efact", p, len, NULL);
	free(p);
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s", reference);
	return a;
}

static void invoices(void *s, int from, int n)
{
	char ref[32], num[24];

	for (int i = from; i < from + n; i++) {
		snprintf(ref, sizeof(ref), "2026110000%04d", i);
		snprintf(num, sizeof(num), "00000000%04d", i);
		/* a day each: the same care on the same day would be refused as a duplicate */
		tpclear__answer__free_unpacked(invoice(s, ref, num, '0', "", 1, 20261101 + i),
		                               NULL);
	}
}

/* A ledger of every kind of record: invoices, a credit note, a payment run that pays them,
 * then invoices left unpaid. */
static void book(void *s)
{
	Tpclear__Answer *a;

	invoices(s, 1, 4);
	tpclear__answer__free_unpacked(
	    invoice(s, "20261100009002", "000000009002", '3', "000000000002", -1, 20261103), NULL);
	a = tpc_td_payrun(s, 0, "");
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN);
	cr_assert_gt(a->payrun->payments, 0);
	tpclear__answer__free_unpacked(a, NULL);
	invoices(s, 10, 3);
}

Test(verify, a_clean_ledger_verifies_live_and_stopped_and_its_json_parses)
{
	char args[800], *out, py[1200];
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	book(s);
	zmq_close(s);
	/* while the daemon runs on it: read-only, no lock of its taken */
	snprintf(args, sizeof(args), "verify --data-dir '%s'", d.data);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	cr_assert(strstr(out, "clean"), "%s", out);
	cr_assert(strstr(out, "lines"), "%s", out);
	free(out);
	cr_assert_eq(tpc_td_stop(&d), 0);
	snprintf(args, sizeof(args), "verify --data-dir '%s' --json", d.data);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	free(out);
	/* the document parses, says clean, and counted checked records of every kind a ledger made
	 * at schema 6 holds (no payables: its unpaid parts are bits in "unpaid") */
	snprintf(py, sizeof(py),
	         "python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); "
	         "assert j[\"clean\"] is True and j[\"problems\"] == [], j; "
	         "assert all(j[\"records\"][k][\"checked\"] > 0 for k in "
	         "(\"answers\",\"lines\",\"postings\",\"unpaid\",\"paid\",\"settlements\")), j; "
	         "assert j[\"records\"][\"payables\"][\"checked\"] == 0, j; "
	         "assert all(v == 0 for v in j[\"budgets\"].values()), j' '%s/out.txt'",
	         spare);
	cr_assert_eq(system(py), 0, "verify --json: not the document expected");
}

/* The value of @p key in sub-database @p name of the ledger in @p dir: its first bytes into
 * @p head. @return its size. */
static size_t value_of(const char *dir, const char *name, const MDB_val *key, uint8_t *head,
                       size_t nhead)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = *key, v;

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, name, 0, &dbi), 0);
	cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0, "%s: no such key", name);
	cr_assert_geq(v.mv_size, nhead);
	memcpy(head, v.mv_data, nhead);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return v.mv_size;
}

/* Flip bit @p bit of the byte @p at bytes into every copy of @p pattern in DIR/data.mdb (LMDB
 * copies a page on write, so an older copy of the record may sit in a free page: the live one
 * is among them). @return the copies found. */
static int flip(const char *dir, const uint8_t *pattern, size_t n, size_t at, int bit)
{
	char path[400];
	size_t len;
	uint8_t *file, *p;
	int found = 0, fd;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	file = tpc_test_slurp(path, &len);
	cr_assert_not_null(file);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	for (p = file; (p = memmem(p, len - (size_t)(p - file), pattern, n)); p++) {
		uint8_t b = p[at] ^ (uint8_t)(1u << bit);

		cr_assert_eq(pwrite(fd, &b, 1, (off_t)(p - file) + (off_t)at), 1);
		found++;
	}
	close(fd);
	free(file);
	return found;
}

static uint64_t sequence_of(void *s, const char *key)
{
	Tpclear__Answer *a = tpc_td_query(s, "hospital", key);
	uint64_t seq;

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	seq = a->result->sequence;
	tpclear__answer__free_unpacked(a, NULL);
	return seq;
}

static void expect_code(Tpclear__Answer *a, const char *code)
{
	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT, "answered, not refused");
	cr_assert_str_eq(a->receipt->code, code);
	tpclear__answer__free_unpacked(a, NULL);
}

/* Flip one bit in the stored answer of the first invoice (in its result bytes, after the
 * 328-byte header) and one in a line record of the second, in a copy of the ledger. Each is
 * found in the file by its own bytes as LMDB returns them: the answer's header (its magic
 * "TPA5", the payload hash, the key) and the whole 72-byte line record in its sending's
 * lines block (its sum makes it unique). */
static void damage_copy(const char *dir, uint64_t seq_a, uint64_t seq_b)
{
	uint8_t kb[12], head[sizeof(tpc_answer_hdr_t)];
	MDB_val k = tpc_key_u64(kb, seq_a);
	size_t len = value_of(dir, "answers", &k, head, sizeof(head));

	cr_assert_arr_eq(head, "TPA5", 4, "an answer of schema 5");
	cr_assert_str_eq((char *)head + offsetof(tpc_answer_hdr_t, key), "20261100000001");
	cr_assert_gt(len, sizeof(tpc_answer_hdr_t) + 8);
	cr_assert_geq(flip(dir, head, sizeof(head), sizeof(head) + 5, 3), 1);
	/* the sending's lines block (schema 6): line 1's record, after the header and the
	 * invoices' payees */
	k = tpc_key_u64(kb, seq_b);
	len = value_of(dir, "lines", &k, head, sizeof(tpc_lines_hdr_t));
	{
		tpc_lines_hdr_t h;
		uint8_t *block = malloc(len);
		size_t at;

		memcpy(&h, head, sizeof(h));
		cr_assert_eq(h.magic, TPC_LINES_MAGIC);
		cr_assert_geq(h.nlines, 2);
		at = sizeof(h) + h.ninvoices * sizeof(tpc_line_payee_t) + sizeof(tpc_line6_t);
		cr_assert_not_null(block);
		value_of(dir, "lines", &k, block, len);
		cr_assert_arr_eq(block + at + offsetof(tpc_line6_t, code), "102771", 6,
		                 "the line record of code 102771");
		cr_assert_geq(flip(dir, block + at, sizeof(tpc_line6_t),
		                   offsetof(tpc_line6_t, accepted_cents), 6),
		              1);
		free(block);
	}
}

Test(verify, bit_flips_are_named_by_verify_and_answered_t00055_never_served)
{
	char args[800], *out, path[1200], want[64];
	uint64_t seq_a, seq_b;
	uint8_t *bytes;
	size_t len;
	void *s;
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	invoices(s, 1, 3);
	seq_a = sequence_of(s, "20261100000001");
	seq_b = sequence_of(s, "20261100000002");
	/* 64 sendings more, so the damaged two are older than the newest ones the startup check
	 * reads back (store/check.h, TPC_CHECK_NEWEST): a damage there stops the start
	 * (test_storage.c); here the engine starts, and the damage is met when read */
	for (int i = 0; i < TPC_CHECK_NEWEST; i++) {
		char ref[32], num[24];

		snprintf(ref, sizeof(ref), "2026110000%04d", 100 + i);
		snprintf(num, sizeof(num), "00000000%04d", 100 + i);
		tpclear__answer__free_unpacked(invoice(s, ref, num, '0', "", 1, 20261001 + i % 28),
		                               NULL);
	}
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);

	/* a copy of the ledger, damaged, under a second daemon (its own keys, same identities) */
	tpc_td_start_or_fail(&d2, NULL);
	cr_assert_eq(tpc_td_stop(&d2), 0);
	snprintf(path, sizeof(path), "%s/data.mdb", d.data);
	bytes = tpc_test_slurp(path, &len);
	cr_assert_not_null(bytes);
	snprintf(path, sizeof(path), "%s/data.mdb", d2.data);
	{
		FILE *f = fopen(path, "wb");

		cr_assert_not_null(f);
		cr_assert_eq(fwrite(bytes, 1, len, f), len);
		fclose(f);
	}
	free(bytes);
	damage_copy(d2.data, seq_a, seq_b);

	snprintf(args, sizeof(args), "verify --data-dir '%s'", d2.data);
	cr_assert_eq(tpclear(args, &out), 1, "%s", out);
	snprintf(want, sizeof(want), "answers sequence %llu:", (unsigned long long)seq_a);
	cr_assert(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "lines sequence %llu line 1:", (unsigned long long)seq_b);
	cr_assert(strstr(out, want), "%s", out);
	free(out);
	/* and as one JSON document, which parses and names both */
	snprintf(args, sizeof(args), "verify --json --data-dir '%s'", d2.data);
	cr_assert_eq(tpclear(args, NULL), 1);
	snprintf(path, sizeof(path),
	         "python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); "
	         "assert j[\"clean\"] is False, j; "
	         "assert {p[\"db\"] for p in j[\"problems\"]} >= {\"answers\", \"lines\"}, j; "
	         "assert j[\"records\"][\"answers\"][\"damaged\"] == 1, j' '%s/out.txt'",
	         spare);
	cr_assert_eq(system(path), 0, "verify --json of a damaged ledger");

	cr_assert_eq(tpc_td_start(&d2, d2.dir, NULL), 0);
	s = tpc_td_connect(&d2);
	/* the damaged answer: neither queried nor replayed */
	expect_code(tpc_td_query(s, "hospital", "20261100000001"), "T00055");
	{
		uint8_t *p = tpc_td_efact_invoice("20261100000001", "000000000001", '0', "", 1,
		                                  20261102, &len);

		expect_code(tpc_td_submit(s, "hospital", "20261100000001", "efact", p, len, NULL),
		            "T00055");
		free(p);
	}
	/* the damaged line: its sending's history is refused, not shown without it */
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	rq.target = "20261100000002";
	expect_code(tpc_td_ledger(s, "hospital", &rq), "T00055");
	/* the rest is served, and new sendings clear */
	cr_assert_gt(sequence_of(s, "20261100000003"), 0);
	invoices(s, 20, 1);
	cr_assert_geq(tpc_td_metric(&d2, "tpclear_store_damaged_total{db=\"answers\"}"), 2);
	cr_assert_geq(tpc_td_metric(&d2, "tpclear_store_damaged_total{db=\"lines\"}"), 1);
	cr_assert_eq(tpc_td_metric(&d2, "tpclear_store_damaged_total{db=\"postings\"}"), 0);
	cr_assert(tpc_td_log_has(&d2, "damaged record in answers, sequence"));
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d2), 0);
}

/* ---- backup and restore under load --------------------------------------------------------- */

static atomic_int stop_load;
static atomic_int load_sent;

/* A client that keeps submitting while the backup runs (its own socket: ZeroMQ sockets are
 * not shared between threads). */
static void *load(void *arg)
{
	void *s = tpc_td_connect(arg);

	for (int i = 100; !atomic_load(&stop_load) && i < 2000; i++) {
		char ref[32], num[24];
		uint8_t *p;
		size_t len;
		Tpclear__Answer *a;

		snprintf(ref, sizeof(ref), "2026110000%04d", i);
		snprintf(num, sizeof(num), "00000000%04d", i);
		p = tpc_td_efact_invoice(ref, num, '0', "", 1, 20261101 + i % 28, &len);
		a = tpc_td_submit(s, "hospital", ref, "efact", p, len, NULL);
		free(p);
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		atomic_fetch_add(&load_sent, 1);
	}
	zmq_close(s);
	return NULL;
}

/* The stored answer of @p key as the engine sends it (the Result, the native frame). */
static Tpclear__Answer *stored(void *s, const char *key, uint8_t **native, size_t *nlen)
{
	Tpclear__Answer *a = tpc_td_request(s, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "hospital",
	                                    key, "", NULL, 0, native, nlen);

	cr_assert_not_null(a);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT, "%s", key);
	return a;
}

static void restore(const char *backup, const char *data)
{
	char cmd[1200];

	/* stop (done), replace, start: docs/operations.md, Backup and restore */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", data, backup, data);
	cr_assert_eq(system(cmd), 0);
}

Test(verify, a_backup_taken_under_load_restores_verifies_and_replays_byte_for_byte)
{
	char args[800], backup[400], *out, ref[32];
	pthread_t th;
	void *s, *s2;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	book(s);
	atomic_store(&stop_load, 0);
	cr_assert_eq(pthread_create(&th, NULL, load, &d), 0);
	while (atomic_load(&load_sent) < 5)
		usleep(10000);
	snprintf(backup, sizeof(backup), "%s/backup", spare);
	snprintf(args, sizeof(args), "backup '%s' --data-dir '%s'", backup, d.data);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	free(out);
	atomic_store(&stop_load, 1);
	pthread_join(th, NULL);
	cr_assert_gt(atomic_load(&load_sent), 5, "the client kept submitting during the backup");

	/* restored into a fresh engine */
	tpc_td_start_or_fail(&d2, NULL);
	cr_assert_eq(tpc_td_stop(&d2), 0);
	restore(backup, d2.data);
	cr_assert_eq(tpc_td_start(&d2, d2.dir, NULL), 0);
	snprintf(args, sizeof(args), "verify --data-dir '%s'", d2.data);
	cr_assert_eq(tpclear(args, &out), 0, "%s", out);
	free(out);
	/* every sending answered before the backup began, byte for byte */
	s2 = tpc_td_connect(&d2);
	for (int i = 1; i <= 12; i++) {
		uint8_t *n1 = NULL, *n2 = NULL;
		size_t l1 = 0, l2 = 0, p1, p2;
		Tpclear__Answer *a, *b;
		uint8_t *b1, *b2;

		if (i > 4 && i < 10)
			continue;
		snprintf(ref, sizeof(ref), "2026110000%04d", i);
		a = stored(s, ref, &n1, &l1);
		b = stored(s2, ref, &n2, &l2);
		p1 = tpclear__result__get_packed_size(a->result);
		p2 = tpclear__result__get_packed_size(b->result);
		cr_assert_eq(p1, p2, "%s", ref);
		b1 = malloc(p1);
		b2 = malloc(p2);
		tpclear__result__pack(a->result, b1);
		tpclear__result__pack(b->result, b2);
		cr_assert_arr_eq(b1, b2, p1, "%s: the Result", ref);
		cr_assert_gt(l1, 0);
		cr_assert_eq(l1, l2, "%s", ref);
		cr_assert_arr_eq(n1, n2, l1, "%s: the native answer", ref);
		free(b1), free(b2), free(n1), free(n2);
		tpclear__answer__free_unpacked(a, NULL);
		tpclear__answer__free_unpacked(b, NULL);
	}
	zmq_close(s2);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d2), 0);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

Test(verify, a_backup_into_a_non_empty_directory_is_refused)
{
	char args[800], path[400], *out;
	struct stat sb;

	tpc_td_start_or_fail(&d, NULL);
	snprintf(path, sizeof(path), "%s/keep.txt", spare);
	cr_assert_eq(system("true"), 0);
	{
		FILE *f = fopen(path, "w");

		cr_assert_not_null(f);
		fputs("not a backup\n", f);
		fclose(f);
	}
	snprintf(args, sizeof(args), "backup '%s' --data-dir '%s'", spare, d.data);
	cr_assert_eq(tpclear(args, &out), 2);
	free(out);
	snprintf(path, sizeof(path), "%s/data.mdb", spare);
	cr_assert_neq(stat(path, &sb), 0, "nothing was written");
	/* nor can a directory that is no ledger be verified or backed up */
	snprintf(args, sizeof(args), "verify --data-dir '%s/none'", spare);
	cr_assert_eq(tpclear(args, NULL), 2);
	snprintf(args, sizeof(args), "backup '%s/b' --data-dir '%s/none'", spare, spare);
	cr_assert_eq(tpclear(args, NULL), 2);
	cr_assert_eq(tpclear("verify extra", NULL), 2, "usage");
	cr_assert_eq(tpc_td_stop(&d), 0);
}
