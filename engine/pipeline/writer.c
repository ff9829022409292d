/* engine/pipeline/writer.c - the ledger writer thread and its group commit (see writer.h).
 *
 * Idempotency is decided in the write transaction (ledger.c), so two copies of one sending
 * judged in parallel still store once; workers pre-check with a read transaction only to skip
 * work. Sequence and posting numbers only grow, so answers, lines and postings are appended
 * (MDB_APPEND: no page splits in the middle of the tree); the writer restores its counters when
 * a transaction aborts so that the replayed group gets the same numbers.
 *
 * A failed commit has three fates (commit_failed()). The disk is full: the group is refused
 * T00050, nothing of it stored, and the next commit that succeeds clears the state, so clearing
 * resumes by itself. Any other failed write or fsync: the writer stops trusting the ledger (after
 * a failed fsync the kernel may have dropped the dirty pages it could not write, and the page
 * cache no longer says what the disk holds), refuses everything from then on with T00051, and
 * the loop thread stops the engine with a non-zero status for its supervisor to restart it, the
 * startup checks reading the ledger again. Anything else (an LMDB limit) is T00010 as before.
 */
#include "pipeline/writer.h"

#include "clearing/budget.h"
#include "core/codes.h"
#include "core/crashpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "ledger/attest.h"
#include "ledger/claims.h"
#include "ledger/ledger.h"
#include "payments/payrun.h"
#include "store/residency.h"
#include "store/zeroahead.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

struct tpc_writer {
	tpc_store_t *store;
	tpc_config_t cfg; /* copy: payer accounts, payments directory */
	char payments_dir[TPC_PATH_MAX];
	const tpc_adapters_t *adapters; /* settlement encoders (borrowed) */
	/* The next numbers to hand out. Plain fields: only the writer thread (or the main thread
	 * before it starts) touches them, and they are restored when a transaction aborts. */
	tpc_ledger_counters_t ctr; /* writer thread only */
	uint64_t next_run;         /* writer thread only */
	int group_max, group_max_lines;
	tpc_claims_t *claims;    /* index keys recent groups took (ledger/claims.h) */
	tpc_attest_t *attest;    /* NULL: [ledger] attest_journal = 0 (ledger/attest.h) */
	tpc_arena_t *fold_arena; /* the folded records' rebuilt jobs, reset after each commit */
	uint64_t last_fold_txn;  /* the last transaction that folded records (may_rewind()) */
	tpc_zeroahead_t *zero;   /* NULL: [ledger] zero_ahead = 0 or sync = none */
	int zero_failing;        /* the last step failed (logged once, until one succeeds) */
	tpc_residency_t *resid;  /* NULL: [ledger] map_resident_max = 0, or no /proc */
	int resid_failing;       /* the last look failed (logged once, until one succeeds) */
	tpc_queue_t *in, *done;
	pthread_t thread;
	int started;
	tpc_metrics_t *metrics;
	tpc_metrics_shard_t *shard; /* the writer thread's */
	/* Written by the writer thread, read by the loop thread (metrics, the stop): atomics. */
	_Atomic int disk_full; /* the last commit failed for want of space */
	_Atomic int lost;      /* a write failed otherwise: nothing is written any more */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fail_job(tpc_job_t *job, const char *code)
{
	job->status = TPC_JOB_FAILED;
	job->fail_code = code;
	job->fail_reason = tpc_codes_describe(code);
}

/* The payment runs see the store and the configuration through this, and share the posting
 * counter with the sendings: both append to "postings", whose keys must keep growing. */
static tpc_payrun_ctx_t payrun_ctx(tpc_writer_t *w)
{
	return (tpc_payrun_ctx_t){tpc_store_db(w->store), &w->cfg, w->adapters, w->payments_dir,
	                          &w->ctr.next_posting};
}

/* Resume the numbering after the last stored answer, posting and payment run. */
static int resume(tpc_writer_t *w)
{
	const tpc_store_db_t *db = tpc_store_db(w->store);
	tpc_txn_t t;

	/* the last key of each append-only database is the last number used (txn.c: numbering
	 * resumes from the data, never from a counter stored beside it) */
	if (tpc_txn_begin(db->env, MDB_RDONLY, &t))
		return t.ret;
	w->ctr.next_seq = tpc_txn_last_u64(&t, db->answers) + 1;
	w->ctr.next_posting = tpc_ledger_next_posting(&t, db);
	w->next_run = tpc_txn_last_u64(&t, db->payruns) + 1;
	tpc_txn_abort(&t); /* read only: nothing to commit */
	return t.ret;
}

/* A crash between a run's commit and its SEPA files: write them again (before the writer
 * thread starts, so this transaction is the only writer). */
/* A kill while a SEPA file was being written leaves its temporary twin
 * ("payrun-....xml.tmp.<pid>", core/file.c) behind; nothing else ever reads it, and the file
 * itself is written again below if its run needs it. Safe to remove: this engine holds the data
 * directory's lock (store/dirlock.h), so no other engine is writing there. */
static void remove_stale_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[TPC_PATH_MAX + 256];

	if (!d)
		return; /* no payments directory yet: nothing was ever written */
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "payrun-", 7) != 0 || !strstr(e->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			tpc_info("payments: removed %s, left by an interrupted write", path);
	}
	closedir(d);
}

static int restore_payrun_files(tpc_writer_t *w)
{
	tpc_payrun_ctx_t ctx = payrun_ctx(w);
	tpc_txn_t t;
	int n;

	remove_stale_temporaries(w->payments_dir);

	if (tpc_txn_begin(tpc_store_db(w->store)->env, 0, &t))
		return t.ret;
	/* Not fatal: the runs are committed and paid in the ledger; only their files are missing,
	 * and the next start tries again. Committed only when some file was rewritten (n > 0). */
	n = tpc_payrun_restore_files(&ctx, t.txn);
	if (n < 0)
		tpc_error("ledger: cannot check the SEPA files of past payment runs");
	if (n > 0)
		return tpc_txn_commit(&t);
	tpc_txn_abort(&t);
	return 0;
}

/* Zeros ahead of the last page (store/zeroahead.h): only where commits sync (with sync = none
 * no fdatasync waits for the journal), and not fatal when the file cannot be opened again: the
 * ledger works as before, its commits only pay for the file's growth. */
static void open_zero_ahead(tpc_writer_t *w, const tpc_config_t *cfg)
{
	char path[TPC_PATH_MAX + 16];
	int rc;

	if (!cfg->zero_ahead || cfg->sync == TPC_SYNC_NONE)
		return;
	snprintf(path, sizeof(path), "%s/data.mdb", cfg->data_dir);
	if ((rc = tpc_zeroahead_new(path, cfg->zero_ahead, &w->zero)))
		tpc_warn("ledger: %s: no zeros written ahead: %s", path, tpc_strerror(rc));
}

/* Before the intake opens, what would otherwise make the first answers of a fresh daemon wait
 * (docs/benchmarks.md, "Issue 15: the smallest first", the start): a data.mdb just copied,
 * restored or written by the previous run still has its pages dirty in the page cache, and the
 * first commit's fdatasync would write them all (a fresh daemon's first commits took 60-72 ms
 * on a 34 MB ledger copied just before); and the zeros ahead of the last page, which the idle
 * writer otherwise writes one synced chunk at a time while the first sendings wait for each.
 * Both are done here once, with nobody waiting. Not fatal: a failure leaves the first commits
 * to pay for them, as before, and a failed write shows again at the first commit. */
static void warm_up(tpc_writer_t *w, const tpc_config_t *cfg)
{
	uint64_t used, map;
	int rc = 1;

	if (cfg->sync == TPC_SYNC_NONE)
		return;
	if ((rc = mdb_env_sync(tpc_store_db(w->store)->env, 1)))
		tpc_warn("ledger: data.mdb not synced before the intake opens: %s",
		         mdb_strerror(rc));
	for (rc = 1; w->zero && rc == 1;)
		if ((rc = tpc_store_extent(w->store, &used, &map)) == 0)
			rc = tpc_zeroahead_step(w->zero, used, map);
}

/* The attestation journal (ledger/attest.h): what it holds past the ledger's last fold is folded
 * now, before any worker exists and the intake opens, in one transaction; the numbering then
 * resumes after it. Only with sync = full: the fold's commit must be durable before the journal
 * is written over. */
static int open_attest(tpc_writer_t *w, const tpc_config_t *cfg)
{
	const tpc_store_db_t *db = tpc_store_db(w->store);
	const tpc_journal_entry_t *recs;
	uint64_t folded = 0;
	MDB_envinfo info;
	size_t n;
	tpc_txn_t t;
	int rc;

	if (!cfg->attest_journal)
		return 0;
	if (cfg->sync != TPC_SYNC_FULL) {
		tpc_warn("ledger: attest_journal needs sync = full: eAttests are answered after "
		         "their own commit");
		return 0;
	}
	if (tpc_txn_begin(db->env, MDB_RDONLY, &t))
		return t.ret;
	tpc_attest_folded_get(&t, db, &folded);
	tpc_txn_abort(&t);
	if (t.ret)
		return t.ret;
	if ((rc = tpc_arena_new(64 * 1024, 0, &w->fold_arena)) ||
	    (rc = tpc_attest_open(cfg->data_dir, w->claims, folded, &w->attest)))
		return rc;
	recs = tpc_attest_recovered(w->attest, &n);
	if (n) {
		if (tpc_txn_begin(db->env, 0, &t))
			return t.ret;
		tpc_attest_fold(&t, db, &w->ctr, w->claims, recs, n, w->fold_arena);
		if (tpc_txn_commit(&t))
			return t.ret;
		tpc_arena_reset(w->fold_arena);
		tpc_info(
		    "ledger: %zu attestations answered from the journal folded into the ledger", n);
		if ((rc = resume(w)))
			return rc;
	}
	/* the express worker asks the claims about snapshots from now on: they cover every
	 * transaction after the last one committed, the writer's being the only ones */
	if ((rc = mdb_env_info(db->env, &info)))
		return rc;
	tpc_claims_begin(w->claims, info.me_last_txnid);
	tpc_attest_start(w->attest, w->ctr.next_seq);
	tpc_store_set_attest(w->store, w->attest);
	return 0;
}

int tpc_writer_open(const tpc_config_t *cfg, tpc_metrics_t *metrics, tpc_writer_t **out)
{
	tpc_store_opts_t opts = {cfg->data_dir, cfg->map_size, cfg->map_max, 0};
	tpc_writer_t *w = calloc(1, sizeof(*w));
	int rc;

	/* durability is a configuration choice: NOMETASYNC loses at most the last commit on a
	 * power cut, NONE leaves it to the OS (tests, benchmarks) */
	if (cfg->sync == TPC_SYNC_NOMETASYNC)
		opts.env_flags = MDB_NOMETASYNC;
	else if (cfg->sync == TPC_SYNC_NONE)
		opts.env_flags = MDB_NOSYNC;
	if (!w)
		return TPC_ENOMEM;
	w->cfg = *cfg;
	if (cfg->payments_dir[0])
		snprintf(w->payments_dir, sizeof(w->payments_dir), "%s", cfg->payments_dir);
	else
		snprintf(w->payments_dir, sizeof(w->payments_dir), "%.*s/payments",
		         (int)sizeof(w->payments_dir) - 10, cfg->data_dir);
	w->group_max = cfg->group_max;
	w->group_max_lines = cfg->group_max_lines;
	w->metrics = metrics;
	if ((rc = tpc_claims_new(0, &w->claims)))
		goto out_free;
	if ((rc = tpc_store_open(&opts, &w->store)))
		goto out_free;
	if ((rc = resume(w)) || (rc = restore_payrun_files(w)) || (rc = open_attest(w, cfg))) {
		rc = tpc_err_from_mdb(rc);
		goto out_close_store;
	}
	open_zero_ahead(w, cfg);
	warm_up(w, cfg);
	/* without /proc the ledger works as before, with its pages counted in the RSS */
	if (cfg->map_resident_max && (rc = tpc_residency_new(cfg->map_resident_max, &w->resid)))
		tpc_warn("ledger: the mapped pages are not kept under map_resident_max: %s",
		         tpc_strerror(rc));
	*out = w;
	return 0;

out_close_store:
	tpc_attest_free(&w->attest);
	tpc_arena_free(&w->fold_arena);
	tpc_store_free(&w->store);
out_free:
	tpc_claims_free(&w->claims);
	free(w);
	return rc;
}

/* Grow the map after MDB_MAP_FULL. @return 0, or non-zero at the ceiling or on failure. */
/* Called with no transaction open: write_group's failed commit has already freed its own
 * (tpc_store_grow() needs no active transaction in the process). */
static int grow_map(tpc_writer_t *w)
{
	int rc = tpc_store_grow(w->store);

	if (rc == 0)
		tpc_metrics_add(w->shard, TPC_M_ledger_map_grows, 1);
	return rc;
}

/* Free bytes under which a failed write is taken for a full disk: LMDB turns a short write into
 * EIO (mdb_page_flush: a write of fewer bytes than asked is EIO), and a write that meets the
 * last free blocks of a file system is short, so a full disk reaches us as EIO too. */
#define FULL_BELOW (1u << 20)

/* Is the file system of the ledger (all but) full? */
static int fs_full(const tpc_writer_t *w)
{
	struct statvfs v;

	if (statvfs(w->cfg.data_dir, &v) != 0)
		return 0;
	return (uint64_t)v.f_bavail * v.f_frsize < FULL_BELOW;
}

/* A commit went through: a full disk is over. Said once, when it is. */
static void commit_ok(tpc_writer_t *w)
{
	if (atomic_exchange(&w->disk_full, 0))
		tpc_info("ledger: space is back on device %s: clearing resumed",
		         tpc_store_device(w->store));
}

/* What a failed commit (@p rc, an LMDB code) means (the file header): logged once per episode,
 * counted, and the code to refuse its jobs with. The transaction is already aborted. */
static const char *commit_failed(tpc_writer_t *w, int rc)
{
	int full = rc == ENOSPC || rc == EDQUOT || (rc == EIO && fs_full(w));
	const char *code, *what, *then;
	enum tpc_metric m;
	_Atomic int *state;

	/* A full disk that struck the meta page write leaves LMDB refusing every transaction
	 * (MDB_PANIC): that one is not a state clearing can resume from. */
	if (full && tpc_store_usable(w->store) == 0) {
		m = TPC_M_commit_failed_disk_full, state = &w->disk_full, code = TPC_CODE_DISK_FULL;
		what = "disk full";
		then = "sendings refused T00050, nothing stored; queries go on, clearing resumes "
		       "by itself when space returns";
	} else if (full || (rc > 0 && rc != ENOMEM) || rc == MDB_PANIC || rc == MDB_CORRUPTED ||
	           rc == MDB_PAGE_NOTFOUND) {
		m = TPC_M_commit_failed_io, state = &w->lost, code = TPC_CODE_LEDGER_LOST;
		what = "a write or fsync failed";
		then = "the ledger is no longer trusted; sendings refused T00051, the engine stops "
		       "for a restart";
	} else {
		tpc_metrics_add(w->shard, TPC_M_commit_failed_other, 1);
		tpc_error("ledger: write transaction failed: %s", mdb_strerror(rc));
		return TPC_CODE_LEDGER_FAILED;
	}
	tpc_metrics_add(w->shard, m, 1);
	if (!atomic_exchange(state, 1))
		tpc_error("ledger: %s on device %s holding %s/data.mdb (%s): %s", what,
		          tpc_store_device(w->store), w->cfg.data_dir, mdb_strerror(rc), then);
	return code;
}

/* The journal's grabbed records into @p t. @return how many. */
static size_t fold_grabbed(tpc_writer_t *w, tpc_txn_t *t, const tpc_store_db_t *db)
{
	size_t nrecs;
	const tpc_journal_entry_t *recs = tpc_attest_grabbed(w->attest, &nrecs);

	if (!recs)
		tpc_txn_fail(t, TPC_ENOMEM);
	else if (nrecs) {
		/* test builds: a kill -9 with attestations answered and not folded */
		TPC_CRASHPOINT("attest.fold");
		tpc_attest_fold(t, db, &w->ctr, w->claims, recs, nrecs, w->fold_arena);
	}
	return recs ? nrecs : 0;
}

/* One line of mdb_reader_list(): "pid thread txnid", txnid "-" for a slot not in a read. */
static int oldest_reader(const char *line, void *arg)
{
	uint64_t *oldest = arg;
	unsigned long long txn;

	if (sscanf(line, "%*d %*x %llu", &txn) == 1 && txn < *oldest)
		*oldest = txn;
	return 0;
}

/* May the journal be written over from its start? Not while a reader holds a snapshot from
 * before the last fold: `tpclear backup` copies the journal while it holds the snapshot its copy
 * of the ledger was taken from, and needs the records that snapshot had not folded yet. */
static int may_rewind(tpc_writer_t *w)
{
	uint64_t oldest = UINT64_MAX;

	if (mdb_reader_list(tpc_store_db(w->store)->env, oldest_reader, &oldest) < 0)
		return 0;
	return oldest >= w->last_fold_txn;
}

/* Write the @p n jobs of @p jobs in one transaction. @return 0, MDB_MAP_FULL, or another LMDB
 * code; on any non-zero return nothing of the group is stored and statuses are restored. */
static int write_group(tpc_writer_t *w, tpc_job_t **jobs, size_t n)
{
	const tpc_store_db_t *db = tpc_store_db(w->store);
	tpc_ledger_counters_t first;
	uint64_t now = now_ms(), txn_id;
	size_t folds = 0;
	tpc_txn_t t;

	/* the attestations answered from the journal since the last group fold first, under the
	 * sequences they were answered with; the group's own follow them (ledger/attest.h) */
	if (w->attest)
		w->ctr.next_seq = tpc_attest_begin_group(w->attest, n);
	first = w->ctr;
	if (tpc_txn_begin(db->env, 0, &t))
		return t.ret;
	if (w->attest)
		folds = fold_grabbed(w, &t, db);
	txn_id = mdb_txn_id(t.txn);
	/* ledger_pending marks the jobs this transaction decides (the payment runs have their
	 * own), so that an abort puts exactly those back to CLEARED for the replay */
	for (size_t i = 0; i < n; i++)
		jobs[i]->ledger_pending =
		    jobs[i]->status == TPC_JOB_CLEARED && jobs[i]->type != TPC_JOB_PAYRUN;
	/* the sticky error makes every job after a failure a no-op */
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->ledger_pending)
			tpc_ledger_write_job(&t, db, &w->ctr, w->claims, jobs[i], now);
	if (tpc_txn_commit(&t) == 0) {
		if (w->attest) {
			if (folds)
				w->last_fold_txn = txn_id;
			tpc_attest_committed(w->attest, may_rewind(w));
			tpc_arena_reset(w->fold_arena);
		}
		return 0;
	}
	w->ctr = first;
	/* Everything decided in the aborted transaction is undone: a commit, a conflict, a replay
	 * of a sending written earlier in it, a race refusal. Such jobs are decided again on the
	 * retry. (A replay's result bytes are the stored copy of the same payload's result, so
	 * storing them on the retry stores the same thing.) */
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->ledger_pending) {
			jobs[i]->status = TPC_JOB_CLEARED;
			jobs[i]->fail_code = NULL;
			jobs[i]->fail_reason = NULL;
		}
	return t.ret;
}

/* The group commit with its two recoveries. MDB_MAP_FULL: grow the map and replay the same
 * group from memory (docs/architecture.md, Durability); at the ceiling, split the group so that
 * the sendings that still fit are stored and only the others are refused (T00009). Any other
 * failure refuses the whole group with commit_failed()'s code: nothing of it was stored. */
static void commit_jobs(tpc_writer_t *w, tpc_job_t **jobs, size_t n)
{
	const char *code;
	int rc;

	for (;;) {
		rc = write_group(w, jobs, n);
		if (rc != MDB_MAP_FULL || grow_map(w) != 0)
			break;
	}
	if (rc == MDB_MAP_FULL && n > 1) {
		/* at the ceiling: store what fits, one sending per transaction */
		for (size_t i = 0; i < n; i++)
			commit_jobs(w, &jobs[i], 1);
		return;
	}
	if (rc == MDB_MAP_FULL) {
		tpc_metrics_add(w->shard, TPC_M_ledger_map_full, 1);
		if (n && jobs[0]->status == TPC_JOB_CLEARED)
			fail_job(jobs[0], TPC_CODE_STORAGE_FULL);
		return;
	}
	if (rc) {
		code = commit_failed(w, rc);
		for (size_t i = 0; i < n; i++)
			if (jobs[i]->status == TPC_JOB_CLEARED)
				fail_job(jobs[i], code);
		return;
	}
	commit_ok(w);
	tpc_metrics_add(w->shard, TPC_M_ledger_commits, 1);
}

/* A run's transfers and amounts per budget (tpclear_budget_payments_total, _paid_cents_total):
 * what the dashboard shows per budget. A transfer's amount is positive (payrun.c pays no net
 * amount below a cent). */
static void budget_metrics(tpc_writer_t *w, const tpc_payrun_t *p)
{
	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++) {
		uint64_t payments;
		int64_t cents;

		tpc_payrun_budget_totals(p, b, &payments, &cents);
		tpc_metrics_add_vec(w->shard, TPC_MV_budget_payments, b, payments);
		tpc_metrics_add_vec(w->shard, TPC_MV_budget_paid_cents, b,
		                    cents > 0 ? (uint64_t)cents : 0);
	}
}

/* Count a committed payment run. */
/* Three fates, counted apart: a run that paid (a commit and its totals), a request that stored
 * only its request_id (a commit, nothing paid), and a replay of an earlier request_id (no
 * commit at all, docs/ledger.md). */
static void payrun_metrics(tpc_writer_t *w, const tpc_payrun_t *p)
{
	uint64_t payments, lines;
	int64_t cents;

	if (tpc_payrun_paid(p)) {
		tpc_payrun_totals(p, &payments, &lines, &cents);
		tpc_metrics_add(w->shard, TPC_M_ledger_commits, 1);
		tpc_metrics_add(w->shard, TPC_M_payruns, 1);
		tpc_metrics_add(w->shard, TPC_M_payments, payments);
		tpc_metrics_add(w->shard, TPC_M_payment_lines, lines);
		tpc_metrics_add(w->shard, TPC_M_paid_cents, (uint64_t)cents);
		budget_metrics(w, p);
	} else if (tpc_payrun_must_commit(p)) {
		tpc_metrics_add(w->shard, TPC_M_ledger_commits, 1); /* the request id */
	} else if (tpc_payrun_replayed(p)) {
		tpc_metrics_add(w->shard, TPC_M_payruns_replayed, 1);
	}
}

/* After a payment run's commit: its SEPA files and answer, then the mark that the files are
 * on disk (a second transaction: the files are written after the first is durable). */
static void payrun_finish(tpc_writer_t *w, tpc_payrun_t **pp, tpc_job_t *job, uint64_t now)
{
	tpc_payrun_ctx_t ctx = payrun_ctx(w);
	int paid = tpc_payrun_paid(*pp);
	uint64_t run;
	tpc_txn_t t;

	/* a run number is used only by a run that paid something: a run with nothing to pay, or a
	 * replayed request_id, stores no run under it */
	payrun_metrics(w, *pp);
	if (paid)
		w->next_run++;
	run = w->next_run - 1;
	job->committed_ms = now;
	job->status = TPC_JOB_COMMITTED;
	/* test builds (tests/crash/): a kill -9 after the commit, before the files, and after
	 * the files, before their mark; restore_payrun_files() must settle both at startup */
	if (paid)
		TPC_CRASHPOINT("payrun.committed");
	if (tpc_payrun_finish(&ctx, pp, job) == 0 && paid) {
		TPC_CRASHPOINT("payrun.files");
		if (tpc_txn_begin(tpc_store_db(w->store)->env, 0, &t) == 0) {
			/* files on disk: never write them again (a failure only means they are
			 * written again at the next start; but a failed write is judged like any
			 * other) */
			tpc_txn_fail(&t, tpc_payrun_mark_written(&ctx, t.txn, run));
			if (tpc_txn_commit(&t) != 0)
				commit_failed(w, t.ret);
		}
	}
	/* committed, but tpc_payrun_finish() built no answer: the run stands, and the sender
	 * learns of the failure with a code rather than silence */
	if (!job->answer_ready)
		fail_job(job, TPC_CODE_TOO_MANY);
}

/* A payment run, alone in its write transaction (payrun.h). */
static void run_payrun(tpc_writer_t *w, tpc_job_t *job)
{
	tpc_payrun_ctx_t ctx = payrun_ctx(w);

	for (;;) {
		uint64_t first_posting = w->ctr.next_posting, now = now_ms();
		tpc_payrun_t *p = NULL;
		tpc_txn_t t;

		if (tpc_txn_begin(tpc_store_db(w->store)->env, 0, &t) == 0) {
			tpc_txn_fail(&t,
			             tpc_payrun_execute(&ctx, t.txn, job, w->next_run, now, &p));
			if (!t.ret && tpc_payrun_refusal(p)) {
				tpc_txn_abort(&t);
				fail_job(job, tpc_payrun_refusal(p));
				tpc_payrun_free(&p);
				return;
			}
			if (!t.ret && tpc_payrun_must_commit(p)) {
				if (tpc_txn_commit(&t) == 0)
					commit_ok(w);
			} else
				tpc_txn_abort(&t); /* failed, a replay, or nothing to store */
		}
		if (t.ret == 0) {
			payrun_finish(w, &p, job, now);
			return;
		}
		/* the postings numbered in the aborted transaction were never stored: reuse them */
		tpc_payrun_free(&p);
		w->ctr.next_posting = first_posting;
		if (t.ret == MDB_MAP_FULL && grow_map(w) == 0)
			continue;
		/* a damaged payable, line or answer (logged where it was read): nothing paid, the
		 * engine goes on, and the run is refused with the code that says why */
		if (t.ret == TPC_EDAMAGED) {
			fail_job(job, TPC_CODE_STORED_DAMAGED);
			return;
		}
		if (t.ret == MDB_MAP_FULL) {
			tpc_error("ledger: payment run failed: %s", mdb_strerror(t.ret));
			fail_job(job, TPC_CODE_STORAGE_FULL);
		} else {
			fail_job(job, commit_failed(w, t.ret));
		}
		return;
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* commit_jobs() observed for /metrics: how long a group took from its transaction's start to
 * durable (the recoveries included: a grown map or a split group is what the sender waited for)
 * and how many jobs it held (tpclear_ledger_commit_duration_seconds, _group_size). */
static void timed_commit(tpc_writer_t *w, tpc_job_t **jobs, size_t n)
{
	uint64_t t0 = mono_us(), t1;

	commit_jobs(w, jobs, n);
	t1 = mono_us();
	/* each job's stage timestamps (job.h), observed when it is answered (server.c) */
	for (size_t i = 0; i < n; i++) {
		jobs[i]->commit0_us = t0;
		jobs[i]->commit1_us = t1;
	}
	tpc_metrics_observe(w->shard, TPC_H_commit_duration, t1 - t0);
	tpc_metrics_observe(w->shard, TPC_H_commit_group, n);
}

/* Write one popped batch, in arrival order: runs of sendings share a transaction, a payment
 * run has its own (it sees every sending committed before it). */
static void write_batch(tpc_writer_t *w, tpc_job_t **jobs, size_t n)
{
	for (size_t a = 0, e; a < n; a = e) {
		/* nothing is written after a failed write (the file header), not even the rest of
		 * this batch: every job still to be written is refused while the engine stops */
		if (atomic_load(&w->lost)) {
			for (; a < n; a++)
				if (jobs[a]->status == TPC_JOB_CLEARED)
					fail_job(jobs[a], TPC_CODE_LEDGER_LOST);
			return;
		}
		/* the journal's token, and before a payment run: fold what the journal holds, so
		 * that an attestation answered before the run is paid by it */
		if (w->attest &&
		    (jobs[a]->type == TPC_JOB_FOLD || jobs[a]->type == TPC_JOB_PAYRUN)) {
			if (jobs[a]->type == TPC_JOB_FOLD)
				tpc_attest_token_popped(w->attest);
			if (tpc_attest_waiting(w->attest))
				timed_commit(w, NULL, 0);
		}
		if (jobs[a]->type == TPC_JOB_FOLD) {
			e = a + 1;
			continue;
		}
		if (jobs[a]->type == TPC_JOB_PAYRUN) {
			if (jobs[a]->status == TPC_JOB_CLEARED)
				run_payrun(w, jobs[a]);
			e = a + 1;
			continue;
		}
		/* The express lane's jobs (push_front: only ever at the head of a pop) are a
		 * group of their own, committed first: an eAttest waits for its own small commit,
		 * not for the sendings popped with it as well. */
		for (e = a; e < n && jobs[e]->type != TPC_JOB_PAYRUN &&
		            jobs[e]->type != TPC_JOB_FOLD && jobs[e]->express == jobs[a]->express;
		     e++)
			;
		timed_commit(w, &jobs[a], e - a);
	}
}

/* A queued job's weight in a group: its lines (tpc_queue_pop_group(), under the queue's lock).
 * Only judged jobs reach the writer, so a sending's lines are known; anything else counts 1. */
static size_t job_lines(const tpc_qnode_t *n)
{
	const tpc_job_t *job = tpc_job_of((tpc_qnode_t *)n);

	return job->type == TPC_JOB_SUBMIT && job->sending.nlines ? job->sending.nlines : 1;
}

/* While nothing waits to be committed, keep zeros written ahead of the last page, one chunk at a
 * time so that a sending arriving meanwhile waits for one chunk at most. A failed step (a full
 * disk, an I/O error) is logged once and tried again at the next idle moment: a disk that fills
 * and frees again must not leave the ledger without its zeros until a restart, and the ledger's
 * own commits report what concerns them (T00050, T00051). Nothing while the disk is full. */
static void zero_while_idle(tpc_writer_t *w)
{
	uint64_t used, map;
	int rc = 1;

	while (w->zero && rc == 1 && tpc_queue_depth(w->in) == 0 && !atomic_load(&w->lost) &&
	       !atomic_load(&w->disk_full)) {
		if ((rc = tpc_store_extent(w->store, &used, &map)) == 0)
			rc = tpc_zeroahead_step(w->zero, used, map);
		if (rc < 0 && !w->zero_failing)
			tpc_warn("ledger: no zeros written ahead of the last page for now: %s",
			         tpc_strerror(rc));
		else if (rc >= 0 && w->zero_failing)
			tpc_info("ledger: zeros written ahead of the last page again");
		w->zero_failing = rc < 0;
	}
}

/* Between groups, on the thread that alone remaps the map: the ledger's pages read through the
 * map leave the daemon's resident set once it passes [ledger] map_resident_max
 * (store/residency.h). A failure is logged once and leaves the pages where they are. */
static void keep_map_resident(tpc_writer_t *w)
{
	int rc;

	if (!w->resid)
		return;
	rc = tpc_residency_check(w->resid, w->store, mono_us() / 1000);
	if (rc == 1)
		tpc_metrics_add(w->shard, TPC_M_ledger_map_drops, 1);
	if (rc < 0 && !w->resid_failing)
		tpc_warn("ledger: mapped pages not dropped from the resident set: %s",
		         tpc_strerror(rc));
	w->resid_failing = rc < 0;
}

static void *writer_main(void *arg)
{
	tpc_writer_t *w = arg;
	/* one array for the thread's life, sized by the largest pop: no malloc per group */
	tpc_job_t **jobs = calloc((size_t)w->group_max, sizeof(*jobs));
	tpc_qnode_t *head;
	size_t n, i, committed;

	TPC_REQUIRE(jobs);
	w->shard = tpc_metrics_shard(w->metrics);
	TPC_REQUIRE(w->shard);
	/* named for per-thread views (top -H, /proc/PID/task/TID/comm); a failure changes nothing
	 */
	(void)pthread_setname_np(pthread_self(), "tpc-writer");
	/* Group commit: whatever waits (up to group_max sendings and group_max_lines lines) shares
	 * one transaction and its fsyncs; under light load a group is one sending and nothing
	 * waits for company. The lines bound keeps a group's time (and so an eAttest's wait for
	 * it) and its dirty pages bounded when the queue is long: past a few thousand lines a
	 * larger group saves no more fsync time per line. Jobs go to done only after the commit
	 * returned, so nothing is answered before it is durable. */
	for (;;) {
		zero_while_idle(w);
		n = tpc_queue_pop_group(w->in, (size_t)w->group_max, (size_t)w->group_max_lines,
		                        job_lines, 1, &head);
		if (n == 0)
			break;
		i = 0;
		for (tpc_qnode_t *q = head; q; q = q->next)
			jobs[i++] = tpc_job_of(q);
		write_batch(w, jobs, n);
		/* reference data loaded: the in-memory copy is rebuilt before the load is answered,
		 * so a sending sent after its answer is judged against it (refdata/snapshot.h) */
		for (i = 0; i < n; i++)
			if (jobs[i]->status == TPC_JOB_COMMITTED && jobs[i]->type == TPC_JOB_LOAD) {
				(void)tpc_store_refdata_rebuild(w->store); /* it logs a failure */
				break;
			}
		committed = 0;
		for (i = 0; i < n; i++) {
			if (jobs[i]->type == TPC_JOB_FOLD)
				continue; /* the journal's own: never answered */
			/* stage boundary: a job leaves with its fate decided, never still CLEARED
			 */
			assert(jobs[i]->status != TPC_JOB_CLEARED);
			if (jobs[i]->status == TPC_JOB_COMMITTED && jobs[i]->type == TPC_JOB_LOAD)
				tpc_metrics_add(w->shard, TPC_M_refdata_loads, 1);
			else if (jobs[i]->status == TPC_JOB_COMMITTED &&
			         jobs[i]->type == TPC_JOB_SUBMIT)
				committed++;
			/* the done queue is unbounded: its jobs are bounded by the job queue
			 * upstream */
			if (tpc_queue_push(w->done, &jobs[i]->node) != 0)
				TPC_REQUIRE(!"done queue closed before the ledger writer");
		}
		tpc_metrics_add(w->shard, TPC_M_ledger_sendings, committed);
		/* after the answers left: the drop never delays the group it follows */
		keep_map_resident(w);
	}
	/* stopping: the workers are gone, nothing is written to the journal any more; fold what
	 * it holds, so that a stopped engine's ledger holds every attestation it answered */
	if (w->attest && tpc_attest_waiting(w->attest))
		timed_commit(w, NULL, 0);
	free(jobs);
	return NULL;
}

void tpc_writer_set_adapters(tpc_writer_t *w, const tpc_adapters_t *adapters)
{
	w->adapters = adapters;
}

int tpc_writer_start(tpc_writer_t *w, tpc_queue_t *in, tpc_queue_t *done)
{
	int rc;

	w->in = in;
	w->done = done;
	/* smallest first when what waits does not fit one group ([engine] small_first_ms): under a
	 * backlog a small sending is not left for the group after a large one. Set before the
	 * workers start pushing (tpc_queue_set_order()). */
	tpc_queue_set_order(in, job_lines, (uint64_t)w->cfg.small_first_ms * 1000u, TPC_QUEUE_SCAN);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc)
		return -rc;
	w->started = 1;
	return 0;
}

void tpc_writer_join(tpc_writer_t *w)
{
	if (w && w->started) {
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
}

void tpc_writer_free(tpc_writer_t **wp)
{
	tpc_writer_t *w;

	if (!wp || !*wp)
		return;
	w = *wp;
	/* closing the environment under a running writer would free its transaction's pages */
	TPC_REQUIRE(!w->started);
	tpc_zeroahead_free(&w->zero);
	tpc_residency_free(&w->resid);
	tpc_store_free(&w->store);
	tpc_attest_free(&w->attest);
	tpc_arena_free(&w->fold_arena);
	tpc_claims_free(&w->claims);
	free(w);
	*wp = NULL;
}

tpc_store_t *tpc_writer_store(const tpc_writer_t *w)
{
	return w->store;
}

const char *tpc_writer_payments_dir(const tpc_writer_t *w)
{
	return w->payments_dir;
}

size_t tpc_writer_map_size(const tpc_writer_t *w)
{
	return tpc_store_map_size(w->store);
}

int tpc_writer_disk_full(const tpc_writer_t *w)
{
	return atomic_load(&w->disk_full);
}

int tpc_writer_lost(const tpc_writer_t *w)
{
	return atomic_load(&w->lost);
}

uint64_t tpc_writer_next_sequence(const tpc_writer_t *w)
{
	return w->ctr.next_seq;
}
