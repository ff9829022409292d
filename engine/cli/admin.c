/* engine/cli/admin.c - `tpclear verify` and `tpclear backup` (see admin.h).
 *
 * Neither talks to the engine: they read the data directory the engine writes, through a
 * read-only LMDB environment of their own. LMDB allows that next to a running writer (readers
 * and the writer share the reader table in lock.mdb, and the writer keeps every page a reader's
 * snapshot still uses), which is what makes a backup hot and a verify possible on a live engine.
 * A long verify of a large ledger holds its snapshot for as long as it runs: the daemon's file
 * may grow meanwhile by what it writes, since the pages that snapshot pins cannot be reused.
 */
#include "admin.h"

#include "core/codes.h"
#include "core/error.h"
#include "core/file.h"
#include "ledger/attest.h"
#include "ledger/verify.h"
#include "json.h"
#include "money.h"
#include "store/journal.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --json: the document is streamed (a damaged ledger's problems print as they are found, never
 * held whole), so its punctuation is written here; every value in it goes through jansson
 * (json.h), which is what keeps it valid JSON whatever the keys hold. */
static void jput(json_t *v)
{
	if (v)
		json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	else
		fputs("null", stdout);
	json_decref(v);
}

/* ---- verify -------------------------------------------------------------------------------- */

struct vout {
	int json;
	int bar; /* progress on stderr: a terminal, and not --quiet */
	int bar_shown;
	uint64_t listed;
};

static void clear_bar(struct vout *o)
{
	if (o->bar_shown)
		fputs("\r\033[K", stderr);
	o->bar_shown = 0;
}

/* Each problem as it is found: a damaged ledger may have many, and the operator sees the first
 * ones while the walk goes on. */
static void on_problem(void *arg, const char *db, const char *key, const char *what)
{
	struct vout *o = arg;

	clear_bar(o);
	if (o->json) {
		json_t *p = json_object();

		tpc_cli_jset_str(p, "db", db);
		tpc_cli_jset_str(p, "key", key);
		tpc_cli_jset_str(p, "what", what);
		fputs(o->listed ? ",\n    " : "\n    ", stdout);
		jput(p);
	} else {
		printf("%s %s: %s\n", db, key, what);
	}
	o->listed++;
	fflush(stdout);
}

static void on_progress(void *arg, const char *db, uint64_t done, uint64_t total)
{
	struct vout *o = arg;
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

	if (!o->bar)
		return;
	fprintf(stderr, "\rverify: %3u%% %-12s %llu/%llu records", pct > 100 ? 100 : pct, db,
	        (unsigned long long)done, (unsigned long long)total);
	o->bar_shown = 1;
}

/* A read-only transaction, after adopting a map the daemon grew since the environment was
 * opened (lmdb.h: MDB_MAP_RESIZED, "call mdb_env_set_mapsize(env, 0)" and retry). */
static int begin_read(MDB_env *env, tpc_txn_t *t)
{
	if (tpc_txn_begin(env, MDB_RDONLY, t) == MDB_MAP_RESIZED &&
	    mdb_env_set_mapsize(env, 0) == 0)
		tpc_txn_begin(env, MDB_RDONLY, t);
	return t->ret;
}

static void print_summary_text(const char *dir, uint32_t schema, const tpc_verify_report_t *r)
{
	uint64_t unchecked = 0;

	printf("verify %s: schema %u\n", dir, schema);
	for (unsigned d = 0; d < TPC_REC__COUNT; d++) {
		printf("  %-9s %12llu checked %12llu without checksum %6llu damaged\n",
		       tpc_records_db_name(d), (unsigned long long)r->checked[d],
		       (unsigned long long)r->unchecked[d], (unsigned long long)r->damaged[d]);
		unchecked += r->unchecked[d];
	}
	printf("  indexes   %12llu entries followed\n", (unsigned long long)r->indexes);
	if (unchecked)
		printf("  %llu records carry no checksum (written before schema 5): read, not "
		       "checked\n",
		       (unsigned long long)unchecked);
	if (r->problems)
		printf("damaged: %llu problems\n", (unsigned long long)r->problems);
	else
		printf("clean: every checksum, every budget summing to 0, payables and paid, "
		       "indexes\n");
}

static void print_summary_json(uint32_t schema, const tpc_verify_report_t *r)
{
	uint64_t unchecked = 0;

	printf("%s  ],\n  \"schema\": %u,\n  \"clean\": %s,\n  \"problem_count\": %llu,\n"
	       "  \"records\": {",
	       r->problems ? "\n" : "", schema, r->problems ? "false" : "true",
	       (unsigned long long)r->problems);
	for (unsigned d = 0; d < TPC_REC__COUNT; d++) {
		printf(
		    "%s\n    \"%s\": {\"checked\": %llu, \"unchecked\": %llu, \"damaged\": %llu}",
		    d ? "," : "", tpc_records_db_name(d), (unsigned long long)r->checked[d],
		    (unsigned long long)r->unchecked[d], (unsigned long long)r->damaged[d]);
		unchecked += r->unchecked[d];
	}
	printf("\n  },\n  \"unchecked\": %llu,\n  \"indexes\": %llu,\n  \"budgets\": {",
	       (unsigned long long)unchecked, (unsigned long long)r->indexes);
	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		printf("%s", b > 1 ? ", " : "");
		jput(tpc_cli_js(tpc_budget_name(b)));
		printf(": %lld", (long long)r->budget_cents[b]);
	}
	printf("}\n}\n");
}

/* LMDB trusts the pages it reads: a damaged branch or leaf page (a flipped node offset) makes
 * its cursor read outside the page and the process fault, with no return code to check (seen in
 * 2 of 10 ledgers with 50 random byte flips). verify is the tool an operator runs on exactly such
 * a ledger, so a fault while it walks is its verdict, not a crash: the handler jumps back to
 * tpc_cli_verify(), which reports the ledger damaged and exits 1. Nothing is written and the
 * process ends right after, so leaving LMDB's read transaction mid-walk is harmless. */
static sigjmp_buf walk_fault;
static volatile sig_atomic_t walking;

static void on_fault(int sig)
{
	if (!walking) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(walk_fault, sig);
}

/* The walk under the fault handler. @return tpc_verify_run()'s code, or the signal number (> 0)
 * when reading the ledger faulted. */
static int guarded_walk(tpc_txn_t *t, tpc_store_t *st, struct vout *o, tpc_verify_report_t *r)
{
	struct sigaction sa, old_segv, old_bus;
	volatile int rc;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if ((sig = sigsetjmp(walk_fault, 1)) != 0) {
		rc = sig;
	} else {
		walking = 1;
		rc = tpc_verify_run(t->txn, tpc_store_db(st), on_problem, on_progress, o, r);
	}
	walking = 0;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return rc;
}

/* The attestation journal (store/journal.h), if the engine keeps one: read with the scan the
 * engine's start uses, against the snapshot's last fold. Damage is a problem like a damaged
 * record; a torn last record is not (the start leaves it out). @return the records not folded
 * yet (0 without a journal), or -1 when damaged or unreadable (reported). */
static long verify_journal(const char *data_dir, tpc_txn_t *t, const tpc_store_db_t *db,
                           struct vout *o, tpc_verify_report_t *r)
{
	tpc_journal_t *j = NULL;
	tpc_journal_scan_t sc;
	uint64_t folded = 0;
	char key[32], what[160];
	long n = -1;
	int rc;

	if ((rc = tpc_journal_open(data_dir, 1, &j)) == TPC_ENOENT)
		return 0;
	if (!rc && !(rc = tpc_attest_folded_get(t, db, &folded)))
		rc = TPC_EDAMAGED;
	/* a record being appended by a running engine can read torn with a newer one after it:
	 * read again before calling it damage */
	for (int tries = 0; tries < 20 && rc == TPC_EDAMAGED; tries++)
		rc = tpc_journal_scan(j, folded, &sc);
	if (!rc)
		n = (long)sc.nrecs;
	snprintf(key, sizeof(key), "byte %llu",
	         (unsigned long long)(rc == TPC_EDAMAGED ? sc.damaged_at : 0));
	if (rc == TPC_EDAMAGED)
		snprintf(
		    what, sizeof(what),
		    "a damaged record with good records after it (the engine refuses to start: "
		    "%s)",
		    TPC_CODE_JOURNAL_DAMAGED);
	else if (rc)
		snprintf(what, sizeof(what), "unreadable: %s", tpc_strerror(rc));
	if (rc) {
		on_problem(o, TPC_JOURNAL_NAME, key, what);
		r->problems++;
	}
	tpc_journal_free(&j);
	return n;
}

int tpc_cli_verify(const char *data_dir, int json, int quiet)
{
	struct vout o = {json, !quiet && isatty(STDERR_FILENO), 0, 0};
	tpc_verify_report_t r;
	tpc_store_t *st = NULL;
	uint32_t schema = 0;
	long pending = 0;
	tpc_txn_t t;
	int rc;

	if (tpc_store_open_readonly(data_dir, &st, &schema)) {
		fprintf(stderr, "tpclear: verify: cannot open the ledger in '%s'\n", data_dir);
		return 2;
	}
	if (begin_read(tpc_store_db(st)->env, &t)) {
		fprintf(stderr, "tpclear: verify: '%s': %s\n", data_dir, mdb_strerror(t.ret));
		tpc_store_free(&st);
		return 2;
	}
	if (json) {
		fputs("{\n  \"data_dir\": ", stdout);
		jput(tpc_cli_js(data_dir));
		fputs(",\n  \"problems\": [", stdout);
	}
	rc = guarded_walk(&t, st, &o, &r);
	clear_bar(&o);
	if (rc > 0) {
		/* the transaction is left as the fault left it: the process ends now */
		fprintf(
		    stderr,
		    "tpclear: verify: '%s': damaged: reading the ledger's B-tree faulted (signal "
		    "%d): a page of data.mdb is corrupt; the problems above were found before it "
		    "(docs/operations.md, Damaged records)\n",
		    data_dir, rc);
		if (json)
			printf("\n  ],\n  \"clean\": false,\n  \"fault\": %d\n}\n", rc);
		fflush(stdout);
		return 1;
	}
	if (!rc)
		pending = verify_journal(data_dir, &t, tpc_store_db(st), &o, &r);
	tpc_txn_abort(&t);
	tpc_store_free(&st);
	if (rc) {
		/* the walk stopped: whatever it printed is not a verdict */
		fprintf(stderr, "tpclear: verify: '%s': the walk failed: %s\n", data_dir,
		        tpc_strerror(rc));
		return 2;
	}
	if (json)
		print_summary_json(schema, &r);
	else
		print_summary_text(data_dir, schema, &r);
	if (!json && pending > 0)
		printf("  %s: %ld attestations answered and not folded yet (the engine folds them "
		       "at its next commit or start)\n",
		       TPC_JOURNAL_NAME, pending);
	return r.problems ? 1 : 0;
}

/* ---- backup -------------------------------------------------------------------------------- */

/* fsync @p path (a file or a directory): LMDB's copy does not, and a backup is only one once it
 * is on the disk. @return 0 or -1. */
static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* @return 1 when @p dir holds anything, 0 when it is empty or absent, -1 when unreadable. */
static int dir_used(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int used = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while (!used && (e = readdir(d)))
		used = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return used;
}

/* What a restore does not need, or must not get: the ledger (copied by LMDB), LMDB's and the
 * daemon's lock files and its endpoints file (made at each start), temporary files of a write
 * in progress. */
static int skipped(const char *name)
{
	static const char *const never[] = {"data.mdb", "lock.mdb", "lock", "tpcleard.endpoints",
	                                    TPC_JOURNAL_NAME};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strcmp(name, never[i]) == 0)
			return 1;
	return name[0] == '.' || (n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

/* Copy the regular files of @p from into @p to (created), durably, keeping their modes: the
 * secret key stays 0600. @return the number copied, or -1 (reported). */
static int copy_files(const char *from, const char *to)
{
	char src[4096], dst[4096];
	DIR *d = opendir(from);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	if (mkdir(to, 0750) != 0 && errno != EEXIST)
		n = -1;
	while (n >= 0 && (e = readdir(d))) {
		struct stat sb;
		uint8_t *bytes = NULL;
		size_t len = 0;

		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		if (skipped(e->d_name) || stat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (tpc_file_read_all(src, &bytes, &len) ||
		    tpc_file_write_atomic(dst, bytes, len) || chmod(dst, sb.st_mode & 07777) != 0) {
			fprintf(stderr, "tpclear: backup: cannot copy '%s' to '%s'\n", src, dst);
			n = -1;
		} else {
			n++;
		}
		free(bytes);
	}
	closedir(d);
	return n;
}

/* The attestation journal beside the ledger's copy. Taken while the caller holds a snapshot
 * from before the copy's: the engine does not write over a record a snapshot this old had not
 * folded (pipeline/writer.c, may_rewind()), so every attestation the copy lacks is in the file
 * read now. A record being appended while it is read can read torn with a newer good record
 * after it, which the restore would refuse as damage: read again until the copy scans clean.
 * @return 0 (no journal: 0 too), or -1 (reported). */
static int copy_journal(const char *data_dir, const char *dest, tpc_txn_t *t,
                        const tpc_store_db_t *db)
{
	char src[4096], dst[4096];
	uint64_t folded = 0;
	int rc = TPC_EDAMAGED;

	snprintf(src, sizeof(src), "%s/%s", data_dir, TPC_JOURNAL_NAME);
	snprintf(dst, sizeof(dst), "%s/%s", dest, TPC_JOURNAL_NAME);
	if (access(src, F_OK) != 0)
		return 0;
	if (tpc_attest_folded_get(t, db, &folded))
		rc = t->ret;
	for (int tries = 0; tries < 20 && rc == TPC_EDAMAGED; tries++) {
		uint8_t *bytes = NULL;
		size_t len = 0;
		tpc_journal_t *j = NULL;
		tpc_journal_scan_t sc;

		rc = tpc_file_read_all(src, &bytes, &len);
		if (!rc)
			rc = tpc_file_write_atomic(dst, bytes, len);
		free(bytes);
		if (!rc && !(rc = tpc_journal_open(dest, 1, &j)))
			rc = tpc_journal_scan(j, folded, &sc);
		tpc_journal_free(&j);
	}
	if (rc)
		fprintf(stderr, "tpclear: backup: cannot copy '%s': %s\n", src, tpc_strerror(rc));
	return rc ? -1 : 0;
}

int tpc_cli_backup(const char *data_dir, const char *dest)
{
	char from[4096], to[4096], db[4096];
	tpc_store_t *st = NULL;
	uint32_t schema = 0;
	struct stat sb;
	tpc_txn_t t;
	int used = dir_used(dest), files, payments, rc, journal;

	if (used != 0) {
		fprintf(stderr, "tpclear: backup: '%s' %s: a backup goes into an empty directory\n",
		        dest, used > 0 ? "is not empty" : "cannot be read");
		return 2;
	}
	if (tpc_store_open_readonly(data_dir, &st, &schema)) {
		fprintf(stderr, "tpclear: backup: cannot open the ledger in '%s'\n", data_dir);
		return 2;
	}
	if (mkdir(dest, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "tpclear: backup: cannot make '%s': %s\n", dest, strerror(errno));
		tpc_store_free(&st);
		return 2;
	}
	/* One read snapshot, compacted (free pages dropped, the tree rewritten in order): the
	 * copy is the ledger as of one commit, however long it takes, with the engine running.
	 * A snapshot of our own is held from before it until the journal is copied. */
	if (begin_read(tpc_store_db(st)->env, &t)) {
		fprintf(stderr, "tpclear: backup: '%s': %s\n", data_dir, mdb_strerror(t.ret));
		tpc_store_free(&st);
		return 2;
	}
	rc = mdb_env_copy2(tpc_store_db(st)->env, dest, MDB_CP_COMPACT);
	journal = rc ? 0 : copy_journal(data_dir, dest, &t, tpc_store_db(st));
	tpc_txn_abort(&t);
	tpc_store_free(&st);
	if (rc) {
		fprintf(stderr, "tpclear: backup: copying the ledger to '%s': %s\n", dest,
		        mdb_strerror(rc));
		return 1;
	}
	/* The files after the ledger: a SEPA file of a run in the copy was written before the
	 * run was marked files_written, so it is there now; a run whose file is not (written
	 * after the snapshot) is not marked in the copy, and the engine writes it again at start
	 * (docs/ledger.md, Payment runs). */
	files = copy_files(data_dir, dest);
	snprintf(from, sizeof(from), "%s/payments", data_dir);
	snprintf(to, sizeof(to), "%s/payments", dest);
	payments = stat(from, &sb) == 0 ? copy_files(from, to) : 0;
	snprintf(db, sizeof(db), "%s/data.mdb", dest);
	if (files < 0 || payments < 0 || journal < 0 || stat(db, &sb) != 0 || sync_path(db) ||
	    sync_path(dest)) {
		fprintf(stderr, "tpclear: backup: '%s' is incomplete\n", dest);
		return 1;
	}
	printf("backup %s: data.mdb %lld bytes (schema %u, compacted), %d files, %d payment "
	       "files\n",
	       dest, (long long)sb.st_size, schema, files, payments);
	return 0;
}
