/* engine/store/txn.c - sticky-error transactions, keys and prefix iteration (see txn.h). */
#include "store/txn.h"

#include <assert.h>
#include <string.h>

int tpc_txn_begin(MDB_env *env, unsigned flags, tpc_txn_t *t)
{
	t->txn = NULL;
	t->own = 1;
	t->ret = mdb_txn_begin(env, NULL, flags, &t->txn);
	if (t->ret)
		t->txn = NULL; /* nothing to end: commit and abort become no-ops */
	return t->ret;
}

void tpc_txn_wrap(tpc_txn_t *t, MDB_txn *txn)
{
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

bool tpc_txn_find(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, MDB_val *val)
{
	int rc;

	if (t->ret)
		return false;
	rc = mdb_get(t->txn, dbi, (MDB_val *)key, val);
	if (rc && rc != MDB_NOTFOUND)
		tpc_txn_fail(t, rc);
	return rc == 0;
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
	MDB_val v = {size, (void *)val};

	if (!t->ret)
		tpc_txn_fail(t, mdb_put(t->txn, dbi, (MDB_val *)key, &v, flags));
}

void *tpc_txn_reserve(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, size_t size, unsigned flags)
{
	MDB_val v = {size, NULL};

	if (t->ret ||
	    tpc_txn_fail(t, mdb_put(t->txn, dbi, (MDB_val *)key, &v, flags | MDB_RESERVE)))
		return NULL;
	return v.mv_data;
}

bool tpc_txn_del(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key)
{
	int rc;

	if (t->ret)
		return false;
	rc = mdb_del(t->txn, dbi, (MDB_val *)key, NULL);
	if (rc && rc != MDB_NOTFOUND)
		tpc_txn_fail(t, rc);
	return rc == 0;
}

uint64_t tpc_txn_last_u64(tpc_txn_t *t, MDB_dbi dbi)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (t->ret || tpc_txn_fail(t, mdb_cursor_open(t->txn, dbi, &cur)))
		return 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		tpc_txn_fail(t, rc);
	return rc == 0 && k.mv_size == 8 ? tpc_get_be64(k.mv_data) : 0;
}

/* ---- iteration ----------------------------------------------------------------------------- */

/* Is the current key inside the prefix? A mismatch ends the walk, and so does an error. */
static void settle_step(tpc_iter_t *it, int rc)
{
	it->valid =
	    rc == 0 && (it->plen == 0 || (it->key.mv_size >= it->plen &&
	                                  memcmp(it->key.mv_data, it->from, it->plen) == 0));
	if (rc && rc != MDB_NOTFOUND)
		tpc_txn_fail(it->t, rc);
	if (!it->valid)
		tpc_iter_close(it); /* the loop's natural end leaves nothing open */
}

void tpc_iter_seek(tpc_iter_t *it, tpc_txn_t *t, MDB_dbi dbi, const void *from, size_t flen,
                   size_t plen)
{
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
