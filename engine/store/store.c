/* engine/store/store.c - the LMDB environment, its sub-databases and readers (see store.h).
 *
 * Everything here is either startup (open, schema) or the readers' side of the one lock shared
 * outside a queue (resize_lock). The write path lives in the writer (pipeline/writer.c) and the
 * ledger (ledger/ledger.c); the only write made here is the schema number of a new store.
 */
#include "store/store.h"

#include "core/error.h"
#include "core/log.h"
#include "store/check.h"
#include "store/dirlock.h"
#include "store/postings.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tpc_store {
	tpc_store_db_t db;
	pthread_rwlock_t resize_lock; /* shared: a reader's transaction; exclusive: a resize */
	_Atomic size_t map_size;      /* read by the metrics scrape on the loop thread */
	size_t map_max;               /* [ledger] map_max; at it, sendings are refused T00009 */
	int lock_fd;                  /* DATA_DIR/lock, held exclusively while the store is open */
	char device[512];             /* the device holding the ledger, for a full disk's log */
	tpc_refsnap_live_t *refdata;  /* the reference data in memory (refdata/snapshot.h) */
	struct tpc_attest *attest;    /* the attestation journal, set before any worker starts */
};

struct tpc_store_reader {
	tpc_store_t *st;
	MDB_txn *txn; /* reset between uses, renewed on the next one: no allocation per read */
};

/* Every sub-database, by the name docs/ledger.md gives it: the names are the on-disk
 * contract, so they are listed once, here. All are opened in the one startup transaction, before
 * any other thread exists: lmdb.h forbids mdb_dbi_open from concurrent transactions, and a
 * handle becomes usable by other transactions only once the one that opened it commits. The
 * handles then stay valid, read-only, for the life of the environment. */
static int open_dbis(MDB_txn *txn, tpc_store_db_t *db, unsigned flags)
{
	const struct {
		const char *name;
		MDB_dbi *dbi;
	} all[] = {
	    {"meta", &db->meta},
	    {"sendings", &db->sendings},
	    {"answers", &db->answers},
	    {"lines", &db->lines},
	    {"postings", &db->postings},
	    {"dedup", &db->dbs.dedup},
	    {"units", &db->dbs.units},
	    {"invoices", &db->dbs.invoices},
	    {"payables", &db->payables},
	    {"paid", &db->paid},
	    {"payruns", &db->payruns},
	    {"payrun_ids", &db->payrun_ids},
	    {"payments", &db->payments},
	    {"settlements", &db->settlements},
	    {"scheme_refs", &db->scheme_refs},
	    /* a ledger of an older engine gets it empty here: its sendings have no payload,
	     * which the settlements read as "none" (store/payload.h), so it is no schema change */
	    {"payloads", &db->payloads},
	    /* schema 6: created at the raise (or with the store), empty in an older ledger */
	    {"unpaid", &db->unpaid},
	};
	int rc;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		/* a tool reading a ledger no engine of schema 6 opened yet: no "unpaid" there,
		 * its handle stays 0 (dbs.h) */
		if (all[i].dbi == &db->unpaid && !(flags & MDB_CREATE) &&
		    (rc = mdb_dbi_open(txn, all[i].name, flags, all[i].dbi)) == MDB_NOTFOUND) {
			db->unpaid = 0;
			continue;
		}
		if ((rc = mdb_dbi_open(txn, all[i].name, flags, all[i].dbi))) {
			if (rc == MDB_NOTFOUND)
				tpc_error("ledger: no sub-database '%s': not a tpclear ledger",
				          all[i].name);
			return rc;
		}
	}
	db->dbs.lines = db->lines; /* the clearing snapshot reads it too (ledger/credit.h) */
	/* read-only (the tools): the reference data is not theirs to read, and creating its
	 * handles is a write */
	return flags & MDB_CREATE ? tpc_refdata_open(txn, &db->dbs.ref) : 0;
}

/* Where the records of a schema begin in a store raised to it: the next sequence, posting and
 * run numbers at the raise (records.h, tpc_sums_from_t), under meta @p name ("sums_from": the
 * checksummed records of schema 5; "schema6_from": the settlements with a sum). */
static int put_sums_from(MDB_txn *txn, const tpc_store_db_t *db, const char *name)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	tpc_sums_from_t from;
	tpc_txn_t t;

	tpc_txn_wrap(&t, txn);
	from.sequence = tpc_txn_last_u64(&t, db->answers) + 1;
	from.posting = tpc_txn_last_u64(&t, db->postings) + 1;
	from.run = tpc_txn_last_u64(&t, db->payruns) + 1;
	if (t.ret)
		return t.ret;
	v.mv_data = &from;
	v.mv_size = sizeof(from);
	return mdb_put(txn, db->meta, &k, &v, 0);
}

/* The raise of a schema 3 to 6 store to 7: from the next sequence on, a sending's line postings
 * are derived from its block (meta "schema7_from", store/postings.h); the running balances
 * start as the sums of every posting stored so far (one walk, at the daemon's start). Read
 * before the schema number changes: the walk reads the postings as the old schema stored them.
 */
static int raise_to_7(MDB_txn *txn, const tpc_store_db_t *db)
{
	MDB_val k = {sizeof(TPC_SCHEMA7_FROM) - 1, TPC_SCHEMA7_FROM}, v;
	tpc_balances_t b;
	tpc_sums_from_t from;
	tpc_txn_t t;
	int rc;

	/* a damaged posting: the store is not served (docs/operations.md, Startup checks) */
	if ((rc = tpc_balances_compute(txn, db, &b)) || (rc = tpc_balances_add(txn, db, &b)))
		return rc == TPC_EDAMAGED ? MDB_CORRUPTED : rc;
	tpc_txn_wrap(&t, txn);
	from.sequence = tpc_txn_last_u64(&t, db->answers) + 1;
	from.run = tpc_txn_last_u64(&t, db->payruns) + 1;
	if (t.ret)
		return t.ret;
	if ((rc = tpc_postings_next_number(txn, db, &from.posting)))
		return rc == TPC_EDAMAGED ? MDB_CORRUPTED : rc;
	v.mv_data = &from;
	v.mv_size = sizeof(from);
	return mdb_put(txn, db->meta, &k, &v, 0);
}

/* How this store's "dedup" keys are made (store/dbs.h, enum tpc_dedup_form): chosen once, when
 * the store is created (@p create: this engine's short keys), and never changed, since every
 * key of the index must be made the same way for a resubmitted line to be found. No record:
 * BLAKE2b-64 (before issue 15). A value this engine does not know (a later engine's form) is
 * refused rather than guessed: its keys would not be found. */
static const char *const dedup_forms[] = {
    [TPC_DEDUP_XXH3_40] = "xxh3-64",
    [TPC_DEDUP_XXH3_18] = "xxh3-64-18",
};
static int dedup_hash(MDB_txn *txn, tpc_store_db_t *db, int create, const char *dir)
{
	const char *mine = dedup_forms[TPC_DEDUP_XXH3_18];
	MDB_val k = {10, "dedup_hash"}, v = {strlen(mine), (void *)mine};
	int rc;

	if (create && (rc = mdb_put(txn, db->meta, &k, &v, 0)))
		return rc;
	db->dbs.dedup_form = TPC_DEDUP_BLAKE2B_40;
	rc = mdb_get(txn, db->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	for (uint8_t f = TPC_DEDUP_XXH3_40; f <= TPC_DEDUP_XXH3_18; f++)
		if (v.mv_size == strlen(dedup_forms[f]) &&
		    !memcmp(v.mv_data, dedup_forms[f], v.mv_size)) {
			db->dbs.dedup_form = f;
			return 0;
		}
	tpc_error("ledger %s: meta \"dedup_hash\" names no hash this engine knows; not served",
	          dir);
	return MDB_INCOMPATIBLE;
}

/* A new store gets this engine's schema number; an existing one must already have it, or be
 * of a schema this engine still reads (TPC_LEDGER_SCHEMA_READ and up: its records are read as
 * they are, records.h says how), which is then raised to this one in the same transaction:
 * from here on it may hold records an older engine would misread, and the number makes that
 * engine refuse it. A raise from below 5 also notes where the checksummed records begin
 * (put_sums_from(): tpclear verify counts the older ones as unchecked). Anything else is
 * refused rather than misread. */
static int check_schema(MDB_txn *txn, tpc_store_db_t *db, const char *dir)
{
	uint32_t ver = TPC_LEDGER_SCHEMA, old = 0;
	MDB_val k = {6, "schema"}, v;
	MDB_stat ans;
	int rc = mdb_get(txn, db->meta, &k, &v);

	/* no schema number is a new store only if it holds no sending: a ledger that lost its
	 * "meta" record must not be renumbered and served as if it were this engine's */
	if (rc == MDB_NOTFOUND && mdb_stat(txn, db->answers, &ans) == 0 && ans.ms_entries) {
		tpc_error("ledger %s/data.mdb is damaged: it holds %zu sendings but no schema "
		          "version; not served (docs/operations.md, Startup checks)",
		          dir, ans.ms_entries);
		return MDB_INCOMPATIBLE;
	}
	if (rc == 0 && v.mv_size == 4)
		memcpy(&old, v.mv_data, 4);
	if (rc == MDB_NOTFOUND ||
	    (rc == 0 && v.mv_size == 4 && old >= TPC_LEDGER_SCHEMA_READ && old < ver)) {
		if (rc == 0 && old < 5 && (rc = put_sums_from(txn, db, "sums_from")))
			return rc;
		if (rc == 0 && old < 6 && (rc = put_sums_from(txn, db, TPC_SCHEMA6_FROM)))
			return rc;
		if (rc == 0 && old < 7 && (rc = raise_to_7(txn, db)))
			return rc;
		if (old)
			tpc_info("ledger %s: schema %u raised to %u", dir, old, ver);
		v.mv_data = &ver;
		v.mv_size = sizeof(ver);
		if ((rc = mdb_put(txn, db->meta, &k, &v, 0)))
			return rc;
		return dedup_hash(txn, db, !old, dir); /* a new store: this engine's choice */
	}
	if (rc)
		return rc;
	if (v.mv_size != 4 || old != ver) {
		tpc_error(
		    "ledger %s/data.mdb: schema version %u is not one this engine reads (%u, "
		    "or %u and up raised to it); not served (docs/operations.md, Startup checks)",
		    dir, old, TPC_LEDGER_SCHEMA, TPC_LEDGER_SCHEMA_READ);
		return MDB_INCOMPATIBLE;
	}
	return dedup_hash(txn, db, 0, dir);
}

/* Create and open the environment with the configured durability. */
static int open_env(tpc_store_t *st, const tpc_store_opts_t *o)
{
	/* MDB_NOTLS: readers reuse their transaction on any worker thread */
	unsigned flags = MDB_NOTLS | (o->env_flags & (MDB_NOMETASYNC | MDB_NOSYNC));
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_create(&st->db.env)))
		return rc;
	/* maxdbs, maxreaders and the first mapsize can only be set between create and open */
	/* 32 named databases: 16 of the store and the reference data's, with room to grow;
	 * 512 readers: one per worker and per tool, far above what a deployment runs */
	if ((rc = mdb_env_set_maxdbs(st->db.env, 32)) ||
	    (rc = mdb_env_set_maxreaders(st->db.env, 512)) ||
	    (rc = mdb_env_set_mapsize(st->db.env, o->map_size)))
		goto out_close_env;
	if ((rc = mdb_env_open(st->db.env, o->dir, flags, 0640))) {
		tpc_error("ledger %s: %s", o->dir, mdb_strerror(rc));
		goto out_close_env;
	}
	/* an existing environment may be larger than the configured initial size: adopt it */
	if ((rc = mdb_env_info(st->db.env, &info)))
		goto out_close_env;
	atomic_store(&st->map_size, info.me_mapsize);
	return 0;

out_close_env:
	mdb_env_close(st->db.env); /* lmdb.h: close the env after a failed open */
	st->db.env = NULL;
	return rc;
}

/* The tools' side of the schema: read, never raised (the daemon raises it at its start). */
static int read_schema(MDB_txn *txn, MDB_dbi meta, const char *dir, uint32_t *schema)
{
	MDB_val k = {6, "schema"}, v;
	int rc = mdb_get(txn, meta, &k, &v);

	if (rc == 0 && v.mv_size == 4)
		memcpy(schema, v.mv_data, 4);
	if (rc == 0 &&
	    (v.mv_size != 4 || *schema < TPC_LEDGER_SCHEMA_READ || *schema > TPC_LEDGER_SCHEMA)) {
		tpc_error("ledger %s: schema version %u is not one this build reads (%u to %u)",
		          dir, *schema, TPC_LEDGER_SCHEMA_READ, TPC_LEDGER_SCHEMA);
		return MDB_INCOMPATIBLE;
	}
	return rc;
}

/* Every sub-database handle and the schema, in one transaction. The daemon's (@p ro_schema
 * NULL) writes: a store is either fully set up (every database, the schema checked or raised) or
 * not touched at all. The tools' is read-only, and committed too: an aborted transaction closes
 * the handles it opened, read-only or not (lmdb.h, mdb_dbi_open). @return 0 or an LMDB code. */
static int open_all(tpc_store_t *st, const char *dir, uint32_t *ro_schema)
{
	tpc_txn_t t;

	if (tpc_txn_begin(st->db.env, ro_schema ? MDB_RDONLY : 0, &t) == 0) {
		tpc_txn_fail(&t, open_dbis(t.txn, &st->db, ro_schema ? 0 : MDB_CREATE));
		if (!t.ret)
			tpc_txn_fail(&t, ro_schema ? read_schema(t.txn, st->db.meta, dir, ro_schema)
			                           : check_schema(t.txn, &st->db, dir));
		tpc_txn_commit(&t);
	}
	return t.ret;
}

/* Release a store that failed to open (its environment, if made). @return @p rc translated. */
static int discard(tpc_store_t *st, int rc)
{
	if (st->db.env)
		mdb_env_close(st->db.env); /* lmdb.h: close the env after a failed open */
	pthread_rwlock_destroy(&st->resize_lock);
	tpc_dirlock_release(&st->lock_fd); /* last: nothing of the ledger is open any more */
	free(st);
	return tpc_err_from_mdb(rc);
}

/* One writer process per data directory, and a file LMDB can map without reading past its end,
 * both before LMDB touches anything (store.h). @return 0 or a negative TPC_E* code (logged). */
static int take_dir(tpc_store_t *st, const tpc_store_opts_t *opts)
{
	int rc;

	if ((rc = tpc_dirlock_take(opts->dir, &st->lock_fd)))
		return rc;
	if ((rc = tpc_check_file(opts->dir)))
		tpc_dirlock_release(&st->lock_fd);
	return rc;
}

int tpc_store_open(const tpc_store_opts_t *opts, tpc_store_t **out)
{
	pthread_rwlockattr_t attr;
	char path[4096];
	tpc_store_t *st;
	int rc;

	/* LMDB creates its files but not their directory. 0750, like the files' 0640: the ledger
	 * holds care lines and account numbers, for the owner and its group only. */
	if (mkdir(opts->dir, 0750) != 0 && errno != EEXIST) {
		tpc_error("data directory %s: %s", opts->dir, strerror(errno));
		return -errno;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return TPC_ENOMEM;
	st->map_max = opts->map_max;
	st->lock_fd = -1;
	if ((rc = take_dir(st, opts))) {
		free(st);
		return rc;
	}
	/* writer-preferring: a steady stream of readers must not starve a map resize */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->resize_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if ((rc = open_env(st, opts)))
		return discard(st, rc);
	/* the file's device, not the directory's: data.mdb may be a link to another disk */
	snprintf(path, sizeof(path), "%s/data.mdb", opts->dir);
	tpc_check_device(path, st->device, sizeof(st->device));
	if ((rc = open_all(st, opts->dir, NULL)))
		return discard(st, rc);
	/* the schema is known: the newest sendings can be read back with this engine's decoders */
	if ((rc = tpc_check_newest(&st->db, TPC_CHECK_NEWEST, opts->dir)))
		return discard(st, rc);
	if ((rc = tpc_refsnap_live_new(&st->refdata)) || (rc = tpc_store_refdata_rebuild(st)))
		return discard(st, rc);
	*out = st;
	return 0;
}

int tpc_store_refdata_rebuild(tpc_store_t *st)
{
	struct timespec t0, t1;
	tpc_refsnap_t *s = NULL;
	MDB_txn *txn;
	int rc;

	/* the writer's thread (or the opener's, before any other thread): it alone resizes the
	 * map, so its read transaction needs no share of the resize lock */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = mdb_txn_begin(st->db.env, NULL, MDB_RDONLY, &txn)))
		return tpc_err_from_mdb(rc);
	rc = tpc_refsnap_build(txn, &st->db.dbs.ref, &s);
	mdb_txn_abort(txn);
	if (rc) {
		/* the snapshot in force stays: clearing goes on against the data before the load */
		tpc_error("reference data: the in-memory copy could not be rebuilt (%s); the one "
		          "before stays in force",
		          tpc_strerror(rc));
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tpc_info("reference data in memory: %llu rows, %zu bytes, built in %ld ms",
	         (unsigned long long)tpc_refsnap_rows(s), tpc_refsnap_bytes(s),
	         (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	tpc_refsnap_live_publish(st->refdata, &s);
	return 0;
}

tpc_refsnap_t *tpc_store_refdata(tpc_store_reader_t *r)
{
	return r->st->refdata ? tpc_refsnap_live_acquire(r->st->refdata) : NULL;
}

int tpc_store_open_readonly(const char *dir, tpc_store_t **out, uint32_t *schema)
{
	tpc_store_t *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return TPC_ENOMEM;
	st->lock_fd = -1; /* a reader takes no lock: store.h */
	pthread_rwlock_init(&st->resize_lock, NULL);
	/* MDB_RDONLY: nothing written, no lock the daemon holds is taken (the daemon's own lock
	 * is not LMDB's); LMDB's reader table in lock.mdb is shared with the daemon, so the
	 * daemon keeps the pages of this reader's snapshot while it writes. MDB_NOTLS: the
	 * read transaction may outlive any thread-local slot. The map size 0 adopts the file's. */
	if ((rc = mdb_env_create(&st->db.env))) {
		st->db.env = NULL;
		return discard(st, rc);
	}
	if ((rc = mdb_env_set_maxdbs(st->db.env, 32)) ||
	    (rc = mdb_env_open(st->db.env, dir, MDB_RDONLY | MDB_NOTLS, 0))) {
		tpc_error("ledger %s: %s", dir, mdb_strerror(rc));
		return discard(st, rc);
	}
	if ((rc = open_all(st, dir, schema)))
		return discard(st, rc);
	*out = st;
	return 0;
}

void tpc_store_free(tpc_store_t **stp)
{
	tpc_store_t *st;

	if (!stp || !*stp)
		return;
	st = *stp;
	tpc_refsnap_live_free(&st->refdata);
	mdb_env_close(st->db.env);
	pthread_rwlock_destroy(&st->resize_lock);
	tpc_dirlock_release(&st->lock_fd); /* after the close: another daemon may start now */
	free(st);
	*stp = NULL;
}

const tpc_store_db_t *tpc_store_db(const tpc_store_t *st)
{
	return &st->db;
}

int tpc_store_grow(tpc_store_t *st)
{
	size_t cur = atomic_load(&st->map_size), want = cur * 2;
	int rc;

	/* Doubling: each grow stalls every reader (below), so grows must be rare; doubling keeps
	 * their number logarithmic in the ledger's size. The last step stops at map_max; there the
	 * writer refuses sendings (T00009) instead of growing. */
	if (cur >= st->map_max)
		return TPC_EMAPFULL;
	if (want > st->map_max)
		want = st->map_max;
	/* Exclusive: no reader may hold a transaction while the map moves. lmdb.h: set_mapsize
	 * "may be called ... if no transactions are active in this process" and does not check it
	 * itself; a reader inside a transaction during the remap could read unmapped memory. The
	 * writer's own transaction is already over: the failed commit freed it (store.h: "with no
	 * transaction of its own"). */
	pthread_rwlock_wrlock(&st->resize_lock);
	rc = mdb_env_set_mapsize(st->db.env, want);
	pthread_rwlock_unlock(&st->resize_lock);
	if (rc) {
		tpc_error("ledger: cannot grow the map to %zu bytes: %s", want, mdb_strerror(rc));
		return tpc_err_from_mdb(rc);
	}
	/* published after the resize succeeded: a failed grow leaves the gauge on the real size */
	atomic_store(&st->map_size, want);
	tpc_info("ledger: map grown from %zu to %zu bytes", cur, want);
	return 0;
}

size_t tpc_store_map_size(const tpc_store_t *st)
{
	return atomic_load(&st->map_size);
}

int tpc_store_extent(tpc_store_t *st, uint64_t *used, uint64_t *map)
{
	MDB_envinfo info;
	MDB_stat s;
	int rc;

	/* both read the environment's current meta page: no transaction needed */
	if ((rc = mdb_env_info(st->db.env, &info)) || (rc = mdb_env_stat(st->db.env, &s)))
		return tpc_err_from_mdb(rc);
	*used = ((uint64_t)info.me_last_pgno + 1) * s.ms_psize;
	*map = info.me_mapsize;
	return 0;
}

/* Where LMDB mapped data.mdb: the map's address is private to LMDB (mdb_env_info's me_mapaddr
 * is only the address asked for with MDB_FIXEDMAP). A value read in a read transaction points
 * into the map, so the process's table of mappings is searched for the one holding it: by
 * address rather than by the file's device and inode, which btrfs subvolumes and overlayfs
 * report differently in stat() and in /proc. Writer thread, with no transaction of its own.
 * @return 0, TPC_ENOENT when no mapping holds it, or a negative error. */
static int map_range(tpc_store_t *st, uintptr_t *start, uintptr_t *end)
{
	MDB_val k = {6, "schema"}, v = {0, NULL};
	char line[512];
	uintptr_t at;
	MDB_txn *txn;
	FILE *f;
	int rc;

	if ((rc = mdb_txn_begin(st->db.env, NULL, MDB_RDONLY, &txn)))
		return tpc_err_from_mdb(rc);
	rc = mdb_get(txn, st->db.meta, &k, &v);
	at = (uintptr_t)v.mv_data; /* only its address is used, after the transaction */
	mdb_txn_abort(txn);
	if (rc)
		return tpc_err_from_mdb(rc);
	if (!(f = fopen("/proc/self/maps", "re")))
		return -errno;
	rc = TPC_ENOENT;
	while (rc && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && lo <= at && at < hi) {
			*start = (uintptr_t)lo;
			*end = (uintptr_t)hi;
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

int tpc_store_unmap_pages(tpc_store_t *st)
{
	MDB_envinfo info;
	MDB_stat s;
	uintptr_t start = 0, end = 0, used;
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	if ((rc = mdb_env_info(st->db.env, &info)) || (rc = mdb_env_stat(st->db.env, &s)))
		return tpc_err_from_mdb(rc);
	if ((rc = map_range(st, &start, &end)))
		return rc;
	/* up to LMDB's last page, rounded up to whole pages: past it the map holds only what a
	 * later transaction writes */
	used = ((uint64_t)info.me_last_pgno + 1) * s.ms_psize;
	used = (used + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	if (used < end - start)
		end = start + used;
	if (madvise((void *)start, end - start, MADV_DONTNEED))
		return -errno;
	return 0;
}

const char *tpc_store_device(const tpc_store_t *st)
{
	return st->device;
}

int tpc_store_usable(tpc_store_t *st)
{
	MDB_txn *txn;
	int rc;

	/* LMDB marks the environment MDB_FATAL_ERROR when a commit failed while writing its meta
	 * page, and then refuses every transaction with MDB_PANIC, readers' too: a read
	 * transaction begun and dropped says which case this is, without writing anything. The
	 * resize lock is not needed: only the writer calls this, and it is the one that resizes. */
	rc = mdb_txn_begin(st->db.env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		mdb_txn_abort(txn);
	return tpc_err_from_mdb(rc);
}

/* ---- readers ------------------------------------------------------------------------------- */

int tpc_store_reader_new(tpc_store_t *st, tpc_store_reader_t **out)
{
	/* no transaction yet: the first read begins one, later reads renew it (MDB_NOTLS lets
	 * the reader move between threads with its owner's jobs) */
	tpc_store_reader_t *r = calloc(1, sizeof(*r));

	if (!r)
		return TPC_ENOMEM;
	r->st = st;
	*out = r;
	return 0;
}

void tpc_store_reader_free(tpc_store_reader_t **rp)
{
	if (!rp || !*rp)
		return;
	if ((*rp)->txn)
		mdb_txn_abort((*rp)->txn);
	free(*rp);
	*rp = NULL;
}

/* Begin a read transaction with the resize lock held shared; end with read_end(). The lock is
 * held for as long as the transaction, which is why a reader must never wait on a queue inside
 * one (store.h): a grow waiting for the lock would stall, and since the lock prefers writers,
 * every other reader would then queue behind the grow as well. */
static int read_begin(tpc_store_reader_t *r)
{
	int rc;

	pthread_rwlock_rdlock(&r->st->resize_lock);
	if (r->txn)
		rc = mdb_txn_renew(r->txn);
	else
		rc = mdb_txn_begin(r->st->db.env, NULL, MDB_RDONLY, &r->txn);
	if (rc) {
		/* a failed renew leaves the handle unusable: start afresh next time */
		if (r->txn) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
		}
		pthread_rwlock_unlock(&r->st->resize_lock);
	}
	return rc;
}

/* Reset, not abort: the snapshot is released (old pages can be reused, the map can move) but
 * the handle and its reader-table slot are kept for mdb_txn_renew(), so a read allocates
 * nothing. The lock goes last: the transaction has ended by then. */
static void read_end(tpc_store_reader_t *r)
{
	mdb_txn_reset(r->txn);
	pthread_rwlock_unlock(&r->st->resize_lock);
}

int tpc_store_read_begin(tpc_store_reader_t *r, MDB_txn **txn, const tpc_store_db_t **db)
{
	int rc = read_begin(r);

	if (rc)
		return tpc_err_from_mdb(rc);
	*txn = r->txn;
	*db = &r->st->db;
	return 0;
}

void tpc_store_read_end(tpc_store_reader_t *r)
{
	read_end(r);
}

int tpc_store_snapshot_begin(tpc_store_reader_t *r, MDB_txn **txn, const tpc_ledger_dbs_t **dbs)
{
	const tpc_store_db_t *db = NULL;
	int rc = tpc_store_read_begin(r, txn, &db);

	/* the same read transaction: only the view of it is narrower */
	if (rc == 0)
		*dbs = &db->dbs;
	return rc;
}

void tpc_store_snapshot_end(tpc_store_reader_t *r)
{
	read_end(r);
}

bool tpc_store_find_sending(tpc_txn_t *t, const tpc_store_db_t *db, const char *sender,
                            const char *key, uint64_t *seq, uint8_t hash[TPC_HASH_LEN],
                            size_t *hash_len)
{
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2];
	MDB_val k = tpc_key_names(kbuf, sizeof(kbuf), sender, key), v;

	if (!k.mv_size) {
		tpc_txn_fail(t, MDB_BAD_VALSIZE); /* what mdb_get says of an empty key */
		return false;
	}
	if (!tpc_txn_find(t, db->sendings, &k, &v))
		return false;
	/* value: sequence (u64, host order) then the payload's hash, whose length names its
	 * algorithm (store/records.h, "Payload hash") */
	if (v.mv_size != 8 + TPC_HASH_LEN && v.mv_size != 8 + TPC_HASH_XXH3_LEN) {
		tpc_txn_fail(t, MDB_CORRUPTED);
		return false;
	}
	if (seq)
		memcpy(seq, v.mv_data, 8);
	if (hash) {
		memset(hash, 0, TPC_HASH_LEN);
		memcpy(hash, (const uint8_t *)v.mv_data + 8, v.mv_size - 8);
	}
	if (hash_len)
		*hash_len = v.mv_size - 8;
	return true;
}

int tpc_store_lookup(tpc_store_reader_t *r, const char *sender, const char *key, tpc_arena_t *arena,
                     tpc_stored_t *out)
{
	/* the answer is copied into the caller's arena before the transaction ends: LMDB's bytes
	 * are only valid until then, and the job outlives it */
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2], skey[8];
	MDB_val ak = tpc_key_u64(skey, 0), av;
	uint64_t seq;
	tpc_txn_t t;
	int rc;

	/* a sender or key too long for any stored key is refused before taking the lock */
	if (!tpc_key_names(kbuf, sizeof(kbuf), sender, key).mv_size)
		return TPC_EINVAL;
	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	tpc_txn_wrap(&t, r->txn);
	if (!tpc_store_find_sending(&t, &r->st->db, sender, key, &seq, NULL, NULL)) {
		read_end(r);
		return t.ret ? tpc_err_from_mdb(t.ret) : TPC_ENOENT;
	}
	ak = tpc_key_u64(skey, seq);
	if (tpc_txn_find(&t, r->st->db.answers, &ak, &av)) {
		rc = tpc_records_answer_decode(av.mv_data, av.mv_size, arena, out);
		if (rc == TPC_EDAMAGED)
			tpc_records_damaged(TPC_REC_ANSWERS, &ak);
	} else /* indexed but not stored: the two are written in one transaction */
		rc = tpc_err_from_mdb(t.ret ? t.ret : MDB_CORRUPTED);
	read_end(r);
	return rc;
}

int tpc_store_count_lines(tpc_store_reader_t *r, uint64_t seq, uint64_t *count)
{
	uint8_t key[12];
	tpc_lines_hdr_t h;
	tpc_lines_t l;
	tpc_iter_t it;
	tpc_txn_t t;
	int rc;

	*count = 0;
	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	tpc_txn_wrap(&t, r->txn);
	/* a lines block holds them all (schema 6); older lines are keyed (sequence, index):
	 * the 8-byte sequence is the prefix */
	tpc_lines_init(&l, r->txn, r->st->db.lines);
	rc = tpc_lines_block(&l, seq, &h);
	if (rc == 1)
		*count = h.nlines;
	else if (rc)
		tpc_txn_fail(&t, rc);
	tpc_key_u64_u32(key, seq, 0);
	if (rc == 0)
		tpc_txn_foreach(&it, &t, r->st->db.lines, key, 12, 8)(*count)++;
	if (rc == 0)
		tpc_iter_close(&it);
	read_end(r);
	return tpc_err_from_mdb(t.ret);
}

int tpc_store_count_sendings(tpc_store_reader_t *r, uint64_t *count)
{
	MDB_stat st;
	int rc;

	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	/* the B-tree keeps its entry count: no walk needed */
	rc = mdb_stat(r->txn, r->st->db.sendings, &st);
	if (rc == 0)
		*count = st.ms_entries;
	read_end(r);
	return tpc_err_from_mdb(rc);
}

void tpc_store_set_attest(tpc_store_t *st, struct tpc_attest *a)
{
	st->attest = a;
}

struct tpc_attest *tpc_store_attest(const tpc_store_t *st)
{
	return st->attest;
}
