/* engine/store/txn.c - sticky-error transactions, keys and prefix iteration (see txn.h).
 *
 * Every operation starts by testing t->ret: that one test is what turns a run of puts into
 * straight-line code (Knot DNS's knot_lmdb does the same). The LMDB codes are kept as they are
 * (not translated to TPC_E*) because the writer must tell MDB_MAP_FULL, which it cures by
 * growing the map, from every other failure; callers translate with tpc_err_from_mdb() at their
 * own boundary.
 */
#include "store/txn.h"

#include <assert.h>
#include <string.h>

int tpc_txn_begin(MDB_env *env, unsigned flags, tpc_txn_t *t)
{
	/* a failed begin still leaves a usable tpc_txn_t: every op is a no-op on it */
	t->txn = NULL;
	t->own = 1;
	t->ret = mdb_txn_begin(env, NULL, flags, &t->txn);
	if (t->ret)
		t->txn = NULL; /* nothing to end: commit and abort become no-ops */
	return t->ret;
}

void tpc_txn_wrap(tpc_txn_t *t, MDB_txn *txn)
{
	/* a reader's snapshot or the writer's group transaction: their owner ends them, so a
	 * helper used inside them must not (own = 0) */
	t->txn = txn;
	t->ret = 0;
	t->own = 0;
}

int tpc_txn_fail(tpc_txn_t *t, int rc)
{
	/* the first error wins: later ones are consequences of it */
	if (!t->ret)
		t->ret = rc;
	return t->ret;
}

int tpc_txn_commit(tpc_txn_t *t)
{
	if (!t->own || !t->txn)
		return t->ret;
	if (t->ret) {
		mdb_txn_abort(t->txn);
	} else {
		/* mdb_txn_commit frees the transaction even when it fails */
		t->ret = mdb_txn_commit(t->txn);
	}
	t->txn = NULL;
	return t->ret;
}

void tpc_txn_abort(tpc_txn_t *t)
{
	if (t->own && t->txn)
		mdb_txn_abort(t->txn);
	if (t->own)
		t->txn = NULL;
}

/* MDB_NOTFOUND is an answer ("absent"), every other non-zero code an error. */
static bool found(tpc_txn_t *t, int rc)
{
	if (rc && rc != MDB_NOTFOUND)
		tpc_txn_fail(t, rc);
	return rc == 0;
}

bool tpc_txn_find(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, MDB_val *val)
{
	return !t->ret && found(t, mdb_get(t->txn, dbi, (MDB_val *)key, val));
}

bool tpc_txn_get_rec(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, void *out, size_t size)
{
	MDB_val v;

	if (!tpc_txn_find(t, dbi, key, &v))
		return false;
	/* a record of another size is another schema or a damaged page: never half-read it */
	if (v.mv_size != size) {
		tpc_txn_fail(t, MDB_CORRUPTED);
		return false;
	}
	memcpy(out, v.mv_data, size); /* LMDB aligns values on two bytes only */
	return true;
}

void tpc_txn_put(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, const void *val, size_t size,
                 unsigned flags)
{
	/* MDB_KEYEXIST under MDB_NOOVERWRITE is an error here, unlike MDB_NOTFOUND in a lookup:
	 * the store's writes never expect a key to be taken (the races are checked first) */
	MDB_val v = {size, (void *)val};

	if (!t->ret)
		tpc_txn_fail(t, mdb_put(t->txn, dbi, (MDB_val *)key, &v, flags));
}

void *tpc_txn_reserve(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, size_t size, unsigned flags)
{
	/* MDB_RESERVE: the answer is encoded straight into the page, no staging copy */
	MDB_val v = {size, NULL};

	if (t->ret ||
	    tpc_txn_fail(t, mdb_put(t->txn, dbi, (MDB_val *)key, &v, flags | MDB_RESERVE)))
		return NULL;
	return v.mv_data;
}

bool tpc_txn_del(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key)
{
	return !t->ret && found(t, mdb_del(t->txn, dbi, (MDB_val *)key, NULL));
}

uint64_t tpc_txn_last_u64(tpc_txn_t *t, MDB_dbi dbi)
{
	/* the numbering resumes from the data itself, never from a counter stored beside it:
	 * there is nothing to keep in step */
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (t->ret || tpc_txn_fail(t, mdb_cursor_open(t->txn, dbi, &cur)))
		return 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	return found(t, rc) && k.mv_size == 8 ? tpc_get_be64(k.mv_data) : 0;
}

/* ---- iteration ----------------------------------------------------------------------------- */

/* Is the current key inside the prefix? A mismatch ends the walk, and so does an error. */
static void settle_step(tpc_iter_t *it, int rc)
{
	it->valid =
	    rc == 0 && (it->plen == 0 || (it->key.mv_size >= it->plen &&
	                                  memcmp(it->key.mv_data, it->from, it->plen) == 0));
	found(it->t, rc); /* running off the end is not an error */
	if (!it->valid)
		tpc_iter_close(it); /* the loop's natural end leaves nothing open */
}

void tpc_iter_seek(tpc_iter_t *it, tpc_txn_t *t, MDB_dbi dbi, const void *from, size_t flen,
                   size_t plen)
{
	/* a cursor per iterator, not one in the transaction as knot_lmdb has: the payment runs
	 * walk two databases at once (runs and their payments) */
	int rc;

	assert(plen <= flen);
	memset(it, 0, sizeof(*it));
	it->t = t;
	it->from = from;
	it->plen = plen;
	if (t->ret || tpc_txn_fail(t, mdb_cursor_open(t->txn, dbi, &it->cur))) {
		it->cur = NULL;
		return;
	}
	/* MDB_SET_RANGE: the first key >= from, so a prefix padded with zeros (sequence + line
	 * 0) lands on its first record */
	it->key.mv_data = (void *)from;
	it->key.mv_size = flen;
	rc = mdb_cursor_get(it->cur, &it->key, &it->val, flen ? MDB_SET_RANGE : MDB_FIRST);
	settle_step(it, rc);
}

void tpc_iter_next(tpc_iter_t *it)
{
	if (!it->cur)
		return;
	if (it->t->ret) {
		/* an error set inside the loop body stops the walk too */
		it->valid = 0;
		tpc_iter_close(it);
		return;
	}
	settle_step(it, mdb_cursor_get(it->cur, &it->key, &it->val, MDB_NEXT));
}

void tpc_iter_close(tpc_iter_t *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
	it->valid = 0;
}

/* ---- keys ---------------------------------------------------------------------------------- */

MDB_val tpc_key_names(uint8_t *buf, size_t cap, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* no trailing NUL: the stored keys never had one (docs/ledger.md) */
	if (la + 1 + lb > cap)
		return (MDB_val){0, buf};
	memcpy(buf, a, la);
	buf[la] = 0;
	memcpy(buf + la + 1, b, lb);
	return (MDB_val){la + 1 + lb, buf};
}
