/* tests/crash/powercut.c - power losses replayed from the write journal (see crash.h).
 *
 * A power cut keeps what reached the disk and loses what was still in the page cache. The
 * engine runs under journal_shim.c, which records every write to data.mdb and every fsync of
 * it; after the load, each cut point p (a position in the journal) gives two files:
 *   F(p)  every write before p applied: the file as the engine saw it at p. Every sending it
 *         holds may have been answered by then (the engine answers after its commit returns,
 *         and the commit returns after the writes), so none of them may be lost;
 *   C(p)  what a power cut at p could leave: the writes made durable before p (by a later
 *         fsync/fdatasync before p, or by an O_DSYNC descriptor: LMDB writes its meta page
 *         that way under sync = full) plus a random share of the other writes before p, page
 *         by page, in their order (the kernel may have written any dirty page back, or not).
 * The checks: C(p) opens, holds every record of F(p) byte for byte (under sync = full the two
 * must hold the same records), the real engine starts on it and answers every sending of
 * F(p) with the bytes the client was first answered, and the stopped engine's books are
 * sound (books.c) and `tpclear verify` is clean. Torn pages (a page half written) are not
 * modelled: disks write a 4 KiB sector whole or not at all on the drives LMDB supports.
 */
#include "crash.h"

#include "core/error.h"
#include "journal.h"
#include "ledger/attest.h"
#include "store/journal.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define PAGE 4096u

/* One journal record. */
struct ev {
	char type;
	uint8_t dsync;
	uint64_t off, len;
	const uint8_t *data;
	size_t durable_at; /* 'W': the event that made it durable, SIZE_MAX = never */
	uint8_t file;      /* 'W': 0 data.mdb, 1 eattest.journal */
};

struct journal {
	unsigned char *raw;
	struct ev *ev;
	size_t n;
};

/* Read the journal and work out when each write became durable. @return 0 or -1. */
static int journal_read(const char *path, struct journal *j)
{
	size_t len, at = 0, cap = 0, pending_n = 0, *pending = NULL;

	memset(j, 0, sizeof(*j));
	if (!(j->raw = tpc_test_slurp(path, &len)))
		return -1;
	while (at + sizeof(struct tpc_journal_rec) <= len) {
		struct tpc_journal_rec r;
		struct ev *e;

		memcpy(&r, j->raw + at, sizeof(r));
		if (r.magic != TPC_JOURNAL_MAGIC || at + sizeof(r) + r.len > len)
			break; /* the kill may cut the last record: it never returned */
		if (j->n == cap) {
			cap = cap ? cap * 2 : 1024;
			j->ev = realloc(j->ev, cap * sizeof(*j->ev));
			pending = realloc(pending, cap * sizeof(*pending));
		}
		e = &j->ev[j->n];
		*e = (struct ev){(char)r.type, r.dsync, r.off, r.len, j->raw + at + sizeof(r),
		                 SIZE_MAX,     r.file};
		at += sizeof(r) + r.len;
		if (e->type == 'W' && e->dsync)
			e->durable_at = j->n;
		else if (e->type == 'W')
			pending[pending_n++] = j->n;
		else if (e->type == 'S') {
			/* fsync and fdatasync flush every dirty page of the file, whichever
			 * descriptor wrote it */
			for (size_t i = 0; i < pending_n; i++)
				j->ev[pending[i]].durable_at = j->n;
			pending_n = 0;
		}
		j->n++;
	}
	free(pending);
	return j->n ? 0 : -1;
}

static void journal_free(struct journal *j)
{
	free(j->raw);
	free(j->ev);
	memset(j, 0, sizeof(*j));
}

/* The file at cut @p p: every write before it (@p keep_pc < 0), or the durable ones plus each
 * other page kept with probability keep_pc %. Written to DIR/data.mdb. @return 0 or -1. */
static int build_image(const struct journal *j, size_t p, int keep_pc, crash_rng_t *r,
                       const char *dir)
{
	uint8_t *img = NULL;
	size_t size = 0, cap = 0;
	char path[600];
	int fd, rc = 0;

	for (size_t i = 0; i < p; i++) {
		const struct ev *e = &j->ev[i];

		if (e->type == 'T')
			size = e->off;
		if (e->type != 'W' || e->file)
			continue;
		if (e->off + e->len > cap) {
			size_t ncap = (e->off + e->len) * 2;

			img = realloc(img, ncap);
			memset(img + cap, 0, ncap - cap);
			cap = ncap;
		}
		for (uint64_t o = e->off; o < e->off + e->len;) {
			uint64_t end = (o / PAGE + 1) * PAGE;

			if (end > e->off + e->len)
				end = e->off + e->len;
			/* one page of the write: on disk if durable by p, else maybe */
			if (keep_pc < 0 || e->durable_at < p ||
			    crash_chance(r, (unsigned)keep_pc)) {
				memcpy(img + o, e->data + (o - e->off), end - o);
				if (end > size)
					size = end;
			}
			o = end;
		}
	}
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, img, size) != (ssize_t)size)
		rc = -1;
	if (fd >= 0)
		close(fd);
	free(img);
	return rc;
}

/* The attestation journal at cut @p p: every write of it before the cut, each durable when it
 * returned (O_DSYNC), none after. Written to DIR/eattest.journal when it was ever written.
 * @return 0 or -1. */
static int build_journal_image(const struct journal *j, size_t p, const char *dir)
{
	uint8_t *img = NULL;
	size_t size = 0;
	char path[600];
	FILE *f;
	int rc = 0;

	for (size_t i = 0; i < p; i++) {
		const struct ev *e = &j->ev[i];

		if (e->type != 'W' || !e->file)
			continue;
		if (e->off + e->len > size) {
			img = realloc(img, e->off + e->len);
			memset(img + size, 0, e->off + e->len - size);
			size = e->off + e->len;
		}
		memcpy(img + e->off, e->data, e->len);
	}
	if (!size)
		return 0;
	snprintf(path, sizeof(path), "%s/eattest.journal", dir);
	if (!(f = fopen(path, "wb")) || fwrite(img, 1, size, f) != size)
		rc = -1;
	if (f)
		fclose(f);
	free(img);
	return rc;
}

/* The SEPA files a cut at @p p keeps: those renamed into place before it (copied from
 * @p saved, the payments directory as the load left it: a file is never rewritten with other
 * bytes, so the last copy is the one written then). @return 0 or -1. */
static int cut_files(const struct journal *j, size_t p, const char *saved, const char *data)
{
	char dir[600], from[900], to[900];
	unsigned char *b;
	size_t len;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/payments", data);
	mkdir(dir, 0750);
	for (size_t i = 0; i < p; i++) {
		const struct ev *e = &j->ev[i];

		if (e->type != 'R')
			continue;
		snprintf(from, sizeof(from), "%s/%.*s", saved, (int)e->len, (const char *)e->data);
		snprintf(to, sizeof(to), "%s/%.*s", dir, (int)e->len, (const char *)e->data);
		if (!(b = tpc_test_slurp(from, &len)))
			return -1;
		f = fopen(to, "wb");
		if (!f || fwrite(b, 1, len, f) != len) {
			free(b);
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
		free(b);
	}
	return 0;
}

/* What comparing C(p) with F(p) found (sent from the child that opened them). */
struct diff {
	int opened;               /* both environments opened */
	int f_opened;             /* F(p) opened */
	uint64_t f_txnid;         /* F(p)'s last committed transaction, 0 = none yet */
	unsigned long f_sendings; /* sendings in F(p) */
	unsigned long lost;       /* sendings of F(p) missing from C(p) */
	unsigned long runs_lost;  /* payment runs of F(p) missing from C(p) */
	unsigned long differ;     /* records of F(p) missing or different in C(p), any database */
	unsigned long extra;      /* records of C(p) that F(p) does not hold */
	char first[160];          /* the first difference */
};

static int env_open(const char *dir, MDB_env **env)
{
	if (mdb_env_create(env))
		return -1;
	mdb_env_set_maxdbs(*env, 128);
	if (mdb_env_open(*env, dir, MDB_RDONLY | MDB_NOLOCK, 0) == 0)
		return 0;
	mdb_env_close(*env);
	*env = NULL;
	return -1;
}

/* Compare one named database of F with C. */
static void compare_db(MDB_txn *tf, MDB_txn *tc, const char *name, struct diff *df)
{
	MDB_dbi fdb, cdb;
	MDB_cursor *cur;
	MDB_val k, v, w;
	MDB_stat sf, sc;
	int is_sendings = strcmp(name, "sendings") == 0, is_runs = strcmp(name, "payruns") == 0;
	int have_c;

	if (mdb_dbi_open(tf, name, 0, &fdb))
		return;
	have_c = mdb_dbi_open(tc, name, 0, &cdb) == 0;
	mdb_cursor_open(tf, fdb, &cur);
	for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int same = have_c && mdb_get(tc, cdb, &k, &w) == 0 && w.mv_size == v.mv_size &&
		           memcmp(w.mv_data, v.mv_data, v.mv_size) == 0;

		df->f_sendings += is_sendings;
		if (same)
			continue;
		df->differ++;
		df->lost += is_sendings;
		df->runs_lost += is_runs && !(have_c && mdb_get(tc, cdb, &k, &w) == 0);
		if (!df->first[0])
			snprintf(df->first, sizeof(df->first), "%.64s: a record of %zu bytes %s",
			         name, v.mv_size,
			         have_c && mdb_get(tc, cdb, &k, &w) == 0 ? "differs"
			                                                 : "is missing");
	}
	mdb_cursor_close(cur);
	if (have_c && mdb_stat(tf, fdb, &sf) == 0 && mdb_stat(tc, cdb, &sc) == 0 &&
	    sc.ms_entries > sf.ms_entries)
		df->extra += sc.ms_entries - sf.ms_entries;
}

/* In a child process: a damaged image may make LMDB read past the end of the file (SIGBUS),
 * which must fail the cut, not end the campaign. */
static void compare_child(const char *fdir, const char *cdir, int out)
{
	MDB_env *fe = NULL, *ce = NULL;
	MDB_txn *tf, *tc;
	MDB_cursor *cur;
	MDB_dbi main_db;
	MDB_val k, v;
	struct diff df;
	char name[256];

	memset(&df, 0, sizeof(df));
	if (env_open(fdir, &fe) == 0) {
		MDB_envinfo info;

		df.f_opened = 1;
		if (mdb_env_info(fe, &info) == 0)
			df.f_txnid = info.me_last_txnid;
	}
	if (df.f_opened && env_open(cdir, &ce) == 0 &&
	    mdb_txn_begin(fe, NULL, MDB_RDONLY, &tf) == 0 &&
	    mdb_txn_begin(ce, NULL, MDB_RDONLY, &tc) == 0 &&
	    mdb_dbi_open(tf, NULL, 0, &main_db) == 0) {
		df.opened = 1;
		/* the main database lists the named ones: compare every one, whatever this
		 * engine's schema names */
		mdb_cursor_open(tf, main_db, &cur);
		for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
		     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			snprintf(name, sizeof(name), "%.*s", (int)k.mv_size, (char *)k.mv_data);
			compare_db(tf, tc, name, &df);
		}
		mdb_cursor_close(cur);
	}
	if (write(out, &df, sizeof(df)) != (ssize_t)sizeof(df))
		_exit(2);
	_exit(0);
}

/* Compare C(p) in @p cdir with F(p) in @p fdir. @return 0, or -1 when the child died. */
static int compare(crash_ctx_t *c, const char *fdir, const char *cdir, struct diff *df)
{
	int fds[2], st;
	pid_t pid;
	ssize_t got;

	memset(df, 0, sizeof(*df));
	if (pipe(fds) != 0)
		return crash_fail(c, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		compare_child(fdir, cdir, fds[1]);
	}
	close(fds[1]);
	got = read(fds[0], df, sizeof(*df));
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (got != (ssize_t)sizeof(*df) || !WIFEXITED(st))
		return crash_fail(c, "reading the cut image killed the reader (%s %d)",
		                  WIFSIGNALED(st) ? "signal" : "status",
		                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return 0;
}

/* Attestations only a cut's journal image held, for the campaign's summary (one thread). */
static unsigned long journal_only;

/* Add the answered sending of @p all keyed @p key (@p kl bytes) to @p out, once. */
static void held_add(const crash_model_t *all, const char *key, size_t kl, crash_model_t *out)
{
	for (size_t i = 0; i < out->n; i++)
		if (strlen(out->s[i].key) == kl && memcmp(out->s[i].key, key, kl) == 0)
			return; /* in the ledger image and still in the journal's */
	for (size_t i = 0; i < all->n; i++)
		if (all->s[i].state == CRASH_ANSWERED && strlen(all->s[i].key) == kl &&
		    memcmp(all->s[i].key, key, kl) == 0) {
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 64;
				out->s = realloc(out->s, out->cap * sizeof(*out->s));
			}
			out->s[out->n++] = all->s[i];
		}
}

/* The attestations the journal image in @p dir holds (durable when written: the engine folds
 * them at its start), added to @p out like the sendings of the ledger image. Read with the
 * engine's own scan and record layout (ledger/attest.h). @return 0 or -1. */
static int journal_held(const char *dir, const crash_model_t *all, crash_model_t *out)
{
	tpc_journal_t *jn = NULL;
	tpc_journal_scan_t sc;
	tpc_arena_t *arena = NULL;
	int rc = tpc_journal_open(dir, 1, &jn);

	if (rc == TPC_ENOENT)
		return 0;
	if (rc || tpc_journal_scan(jn, 0, &sc) || tpc_arena_new(64 * 1024, 0, &arena)) {
		tpc_journal_free(&jn);
		return -1;
	}
	for (size_t i = 0; i < sc.nrecs && !rc; i++) {
		tpc_adapter_t fmt = {0};
		tpc_job_t job;
		uint64_t at;

		memset(&job, 0, sizeof(job));
		rc = tpc_attest_rebuild(sc.recs[i].body, sc.recs[i].len, arena, &fmt, &job, &at);
		if (!rc) {
			size_t before = out->n;

			held_add(all, job.key, strlen(job.key), out);
			journal_only += out->n - before;
		}
		tpc_arena_reset(arena);
	}
	tpc_arena_free(&arena);
	tpc_journal_free(&jn);
	return rc ? -1 : 0;
}

/* The sendings of @p all that F(p) in @p fdir holds, borrowed into @p out (free out->s only):
 * what may have been answered by the cut, with the bytes the client was answered. An
 * attestation answered from the journal and not folded yet is held by the journal's image. */
static int model_of_image(const char *fdir, const crash_model_t *all, crash_model_t *out)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = -1;

	crash_model_init(out, all->segment);
	if (env_open(fdir, &env) != 0)
		return -1;
	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		/* no "sendings" yet: an engine that had not stored one, nothing to query */
		rc = mdb_dbi_open(txn, "sendings", 0, &dbi) == MDB_NOTFOUND ? 0 : -1;
		if (rc && mdb_dbi_open(txn, "sendings", 0, &dbi) == 0 &&
		    mdb_cursor_open(txn, dbi, &cur) == 0) {
			for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
			     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
				const char *nul = memchr(k.mv_data, 0, k.mv_size);
				size_t kl =
				    nul ? k.mv_size - (size_t)(nul + 1 - (char *)k.mv_data) : 0;

				if (nul)
					held_add(all, nul + 1, kl, out);
			}
			mdb_cursor_close(cur);
			rc = 0;
		}
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc ? rc : journal_held(fdir, all, out);
}

/* Start the real engine on C(p) (in @p root/data), query the sendings the image in
 * @p held_dir holds, stop it, check its books and verify it. @return 0 or -1. */
static int engine_on_cut(crash_ctx_t *c, const char *root, const char *held_dir,
                         const crash_model_t *all, int strict)
{
	crash_ctx_t e = *c;
	crash_model_t held;
	crash_stats_t scratch;
	int rc = 0;

	e.why[0] = 0;
	/* under nometasync what fails here is a finding, not a campaign failure: its counts stay
	 * out of the campaign's (one_cut() counts it) */
	memset(&scratch, 0, sizeof(scratch));
	if (!strict) {
		e.st = &scratch;
		e.findings = 1;
	}
	if (model_of_image(held_dir, all, &held) != 0)
		return crash_fail(c, "cannot read the sendings of %s", held_dir);
	/* a new engine in the same directory: its data/ is now C(p) */
	if (crash_start(&e, root, NULL, NULL) != 0) {
		free(held.s);
		tpc_td_kill9(&e.d);
		return crash_fail(c, "the engine does not start on the cut image");
	}
	rc |= crash_check_answers(&e, &held);
	zmq_close(e.sock);
	if (tpc_td_stop(&e.d) != 0)
		rc |= crash_fail(&e, "the engine on the cut image did not stop cleanly");
	rc |= crash_check_books(&e, e.d.data, strict ? &held : NULL);
	rc |= crash_verify(&e, e.d.data);
	if (rc && !c->why[0] && strict)
		snprintf(c->why, sizeof(c->why), "%s", e.why);
	if (rc && !strict) {
		c->st->nms_broken++;
		rc = 0;
	}
	free(held.s); /* borrowed sendings: the bytes belong to @p all */
	return rc ? -1 : 0;
}

/* A cut before the engine's first commit: nothing was ever answered. LMDB writes a new file's
 * two meta pages without a sync, so C(p) may be empty (the engine starts it anew) or hold
 * one of them, which LMDB may refuse (MDB_INVALID). Whether the engine starts on it is counted
 * and logged, not failed (docs/reliability.md, findings). @return 0. */
static int unborn_cut(crash_ctx_t *c, const char *root, size_t p, size_t n, int opened)
{
	crash_ctx_t e = *c;
	int started = crash_start(&e, root, NULL, NULL) == 0;

	if (started) {
		zmq_close(e.sock);
		tpc_td_stop(&e.d);
	} else {
		tpc_td_kill9(&e.d);
	}
	c->st->cuts_unborn++;
	c->st->unborn_refused += !started;
	fprintf(c->log, "  cut at %zu/%zu: before the first commit, C(p) %s; the engine %s\n", p, n,
	        opened ? "opens" : "does not open read-only",
	        started ? "starts" : "does not start");
	return 0;
}

/* A cut point: 40 % just after a meta-page write (the last write of a commit, where a lost
 * write loses an answered sending), 20 % just after a SEPA file was put in place (before the
 * commit that marks it: a file whose run a cut lost would be paid again), the rest anywhere. */
static size_t pick_cut(const struct journal *j, crash_rng_t *r)
{
	unsigned roll = crash_below(r, 100);

	for (int tries = 0; roll < 60 && tries < 256; tries++) {
		size_t i = crash_below(r, (unsigned)j->n);
		const struct ev *e = &j->ev[i];

		if (roll < 40 ? e->type == 'W' && e->off < 2 * PAGE : e->type == 'R')
			return i + 1;
	}
	return 1 + crash_below(r, (unsigned)j->n);
}

/* One cut: build F(p) and C(p) under @p root, compare, run the engine on C(p). */
static int one_cut(crash_ctx_t *c, const struct journal *j, crash_rng_t *r, const char *root,
                   const char *saved, const crash_model_t *m, int nometasync)
{
	static const int keep[] = {0, 25, 50, 75, 100};
	size_t p = pick_cut(j, r);
	int keep_pc = keep[crash_below(r, 5)], rc = 0;
	char fdir[500], cdir[500];
	struct diff df;

	snprintf(fdir, sizeof(fdir), "%s/full", root);
	snprintf(cdir, sizeof(cdir), "%s/data", root);
	tpc_test_rmtree(fdir);
	tpc_test_rmtree(cdir);
	if (build_image(j, p, -1, r, fdir) || build_image(j, p, keep_pc, r, cdir) ||
	    build_journal_image(j, p, fdir) || build_journal_image(j, p, cdir) ||
	    cut_files(j, p, saved, cdir))
		return crash_fail(c, "cannot write the images of cut %zu", p);
	if (compare(c, fdir, cdir, &df) != 0)
		return -1;
	if (df.f_opened && df.f_txnid == 0)
		return unborn_cut(c, root, p, j->n, df.opened);
	fprintf(c->log,
	        "  cut at %zu/%zu, %d %% of unsynced pages kept: %lu sendings, %lu lost, "
	        "%lu payment runs lost, %lu records differ, %lu extra\n",
	        p, j->n, keep_pc, df.f_sendings, df.lost, df.runs_lost, df.differ, df.extra);
	if (nometasync) {
		c->st->nms_cuts++;
		c->st->nms_cuts_lost += df.lost > 0;
		c->st->nms_sendings_lost += df.lost;
		c->st->nms_runs_lost += df.runs_lost;
	} else {
		c->st->cuts++;
		c->st->cut_sendings += df.f_sendings;
		c->st->cut_losses += (unsigned)df.lost;
		if (!df.opened)
			rc = crash_fail(c, "cut %zu: the image does not open", p);
		else if (df.differ || df.extra)
			rc = crash_fail(c,
			                "LOSS: cut %zu: %lu records of what the engine had "
			                "written differ (%lu sendings lost); %s",
			                p, df.differ, df.lost, df.first);
	}
	/* the engine must serve what F(p) holds; under nometasync, what C(p) kept of it (the
	 * loss is counted above, not failed: docs/reliability.md) */
	if (df.opened && engine_on_cut(c, root, nometasync ? cdir : fdir, m, !nometasync) != 0)
		rc = -1;
	if (rc)
		c->st->cut_failures++;
	c->st->cut_journal = journal_only;
	return rc;
}

int crash_power_trial(crash_ctx_t *c, crash_rng_t *r, unsigned cuts, int nometasync)
{
	const char *shim = getenv("TPC_CRASH_SHIM");
	char *jdir = tpc_test_tmpdir(), jpath[400], saved[450], from[450];
	/* the whole load answered (no kill before the end): the cuts choose the instants */
	crash_plan_t plan = {.requests = 30 + crash_below(r, 40),
	                     .window = 1 + crash_below(r, 4),
	                     .kill_after = -1,
	                     .payrun_pc = 12};
	crash_model_t m;
	struct journal j;
	int rc = 0, end;

	if (!shim || !jdir)
		return crash_fail(c, "no journal shim (TPC_CRASH_SHIM) or temporary directory");
	snprintf(jpath, sizeof(jpath), "%s/journal", jdir);
	crash_model_init(&m, 900000 + c->st->power_trials);
	c->st->power_trials++;
	/* only the engine runs under the shim: the variables are unset once it has started */
	setenv("LD_PRELOAD", shim, 1);
	setenv("TPC_PL_JOURNAL", jpath, 1);
	rc = crash_start(c, NULL, nometasync ? "[ledger]\nsync = nometasync\n" : NULL, NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("TPC_PL_JOURNAL");
	if (rc != 0) {
		rc = crash_fail(c, "the engine does not start under the journal shim");
		goto out;
	}
	end = crash_load(c, &m, r, &plan);
	zmq_close(c->sock);
	tpc_td_kill9(&c->d); /* the power cut, wherever the load was */
	if (end < 0 || journal_read(jpath, &j) != 0) {
		rc = end < 0 ? -1 : crash_fail(c, "the journal %s is empty", jpath);
		goto out;
	}
	fprintf(c->log,
	        "power-loss trial (%s): %zu requests, %zu sendings answered, %zu journal "
	        "records\n",
	        nometasync ? "sync = nometasync" : "sync = full", (size_t)plan.requests,
	        crash_model_stored(&m), j.n);
	/* the SEPA files as the load left them, out of the directory the cuts rebuild */
	snprintf(saved, sizeof(saved), "%s/payments", jdir);
	snprintf(from, sizeof(from), "%s/payments", c->d.data);
	if (rename(from, saved) != 0)
		mkdir(saved, 0700); /* no run paid anything */
	for (unsigned k = 0; k < cuts; k++)
		rc |= one_cut(c, &j, r, c->d.dir, saved, &m, nometasync);
	journal_free(&j);
out:
	tpc_td_cleanup(&c->d);
	memset(&c->d, 0, sizeof(c->d));
	tpc_test_rmtree(jdir);
	free(jdir);
	crash_model_release(&m);
	return rc ? -1 : 0;
}
