/* engine/store/txn.h - a small LMDB helper in the manner of Knot DNS's knot_lmdb: a transaction
 * with a sticky error, key builders for the store's big-endian keys, and an iterator over the
 * keys that share a prefix.
 *
 * DESIGN
 * - Sticky error. tpc_txn_t.ret holds the first LMDB code an operation returned (an MDB_* code
 *   or an errno value, never a TPC_E* code: callers such as the writer compare it with
 *   MDB_MAP_FULL). Once it is set every operation on the transaction is a no-op that reports
 *   "nothing", and tpc_txn_commit() aborts instead of committing. A sequence of puts is thus
 *   straight-line code with one check at the end. MDB_NOTFOUND from a lookup is an answer, not
 *   an error: it never sets ret.
 * - Borrowed or owned. tpc_txn_begin() opens a transaction the helper ends (commit or abort);
 *   tpc_txn_wrap() lends an existing one (a reader's snapshot, the writer's group transaction)
 *   and ending it stays its owner's business.
 * - Iterators own a cursor. The foreach loop closes it when it runs off the prefix; a loop left
 *   early (break, goto, return) must call tpc_iter_close(), which is idempotent, so calling it
 *   after every loop is always right.
 * - Threads: a tpc_txn_t belongs to the thread of its MDB_txn (LMDB's rule); nothing here locks.
 */
#ifndef TPC_STORE_TXN_H
#define TPC_STORE_TXN_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A transaction with a sticky error. Embed it (stack or struct); no allocation. */
typedef struct tpc_txn {
	MDB_txn *txn; /* the LMDB transaction (owned when @c own) */
	int ret;      /* first LMDB error, 0 while every operation succeeded */
	int own;      /* begun by tpc_txn_begin(): tpc_txn_commit/abort end it */
} tpc_txn_t;

/** Begin a transaction on @p env (@p flags: 0 or MDB_RDONLY) into @p t.
 *  @return t->ret: 0 or the LMDB code of mdb_txn_begin. */
int tpc_txn_begin(MDB_env *env, unsigned flags, tpc_txn_t *t);

/** Lend @p txn (borrowed: never ended by the helper) to @p t, with no error set. */
void tpc_txn_wrap(tpc_txn_t *t, MDB_txn *txn);

/** Record @p rc as the error unless one is set already. @return t->ret. */
int tpc_txn_fail(tpc_txn_t *t, int rc);

/** Commit an owned transaction, or abort it when an error is set (then t->ret is returned
 *  unchanged). On a borrowed one, only report t->ret. @return 0 or an LMDB code. */
int tpc_txn_commit(tpc_txn_t *t);

/** Abort an owned transaction (a borrowed one is left alone). Safe to call twice. */
void tpc_txn_abort(tpc_txn_t *t);

/** Look up @p key. @param[out] val  bytes owned by LMDB, valid until the transaction ends.
 *  @return true when found; false when absent or on error (then t->ret is set). */
bool tpc_txn_find(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, MDB_val *val);

/** Look up @p key and copy its value, which must be exactly @p size bytes (a record layout of
 *  store/records.h) into @p out. A value of another size sets MDB_CORRUPTED.
 *  @return true when found and copied. */
bool tpc_txn_get_rec(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, void *out, size_t size);

/** Store @p size bytes of @p val under @p key (@p flags: MDB_APPEND, MDB_NOOVERWRITE...).
 *  An existing key under MDB_NOOVERWRITE sets MDB_KEYEXIST. */
void tpc_txn_put(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, const void *val, size_t size,
                 unsigned flags);

/** Reserve @p size bytes under @p key (MDB_RESERVE | @p flags) for the caller to fill.
 *  @return the space (owned by LMDB, writable until the next write), NULL on error. */
void *tpc_txn_reserve(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key, size_t size, unsigned flags);

/** Delete @p key. @return true when it existed; false when absent or on error. */
bool tpc_txn_del(tpc_txn_t *t, MDB_dbi dbi, const MDB_val *key);

/** The last key of @p dbi read as a big-endian u64 (appended sequences, posting and run
 *  numbers). @return it, or 0 when the database is empty or its last key is not 8 bytes. */
uint64_t tpc_txn_last_u64(tpc_txn_t *t, MDB_dbi dbi);

/* ---- iteration over a prefix --------------------------------------------------------------- */

/** A cursor walking the keys that start with a prefix. Fields key/val are valid while
 *  @c valid and until the next step (LMDB-owned bytes). */
typedef struct tpc_iter {
	tpc_txn_t *t;
	MDB_cursor *cur;
	MDB_val key, val;    /* the current record */
	const uint8_t *from; /* the seek key (borrowed: must outlive the loop) */
	size_t plen;         /* its first plen bytes are the prefix every key must share */
	int valid;           /* 1 while positioned on a record of the prefix */
} tpc_iter_t;

/** Position @p it on the first key >= @p from[0..flen) of @p dbi (the first key when @p flen
 *  is 0) that shares its first @p plen bytes (@p plen <= @p flen; 0 = to the end of dbi).
 *  Sets it->valid; a cursor failure sets t->ret. */
void tpc_iter_seek(tpc_iter_t *it, tpc_txn_t *t, MDB_dbi dbi, const void *from, size_t flen,
                   size_t plen);

/** Step to the next key of the prefix; past its end (or on error) the cursor is closed. */
void tpc_iter_next(tpc_iter_t *it);

/** Close the cursor (idempotent). Required after leaving a loop early. */
void tpc_iter_close(tpc_iter_t *it);

/** Walk every record of @p dbi from @p from whose first @p plen bytes match it:
 *  @code
 *  tpc_iter_t it;
 *  tpc_txn_foreach(&it, &t, db->lines, key, 12, 8) { ...it.key, it.val... }
 *  tpc_iter_close(&it);
 *  @endcode */
#define tpc_txn_foreach(it, t, dbi, from, flen, plen)                                              \
	for (tpc_iter_seek((it), (t), (dbi), (from), (flen), (plen)); (it)->valid;                 \
	     tpc_iter_next(it))

/* ---- keys ---------------------------------------------------------------------------------- */

/* Keys are big endian so that LMDB's byte order is numeric order (records.h). */
static inline void tpc_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t tpc_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void tpc_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint32_t tpc_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/** Key of a sequence, posting or run number: u64 BE in @p buf. */
static inline MDB_val tpc_key_u64(uint8_t buf[8], uint64_t v)
{
	tpc_put_be64(buf, v);
	return (MDB_val){8, buf};
}

/** Key (sequence, line) or (run, payment): u64 BE + u32 BE in @p buf. */
static inline MDB_val tpc_key_u64_u32(uint8_t buf[12], uint64_t a, uint32_t b)
{
	tpc_put_be64(buf, a);
	tpc_put_be32(buf + 8, b);
	return (MDB_val){12, buf};
}

/** Key of "payables" and "paid": sequence + line + part (TPC_PAYABLE_KEY, 13 bytes). */
static inline MDB_val tpc_key_payable(uint8_t buf[13], uint64_t seq, uint32_t line, uint8_t part)
{
	tpc_key_u64_u32(buf, seq, line);
	buf[12] = part;
	return (MDB_val){13, buf};
}

/** Key of "settlements": sequence (u64) + run (u64) + payment (u32), 20 bytes. */
static inline MDB_val tpc_key_settlement(uint8_t buf[20], uint64_t seq, uint64_t run,
                                         uint32_t payment)
{
	tpc_put_be64(buf, seq);
	tpc_key_u64_u32(buf + 8, run, payment);
	return (MDB_val){20, buf};
}

/** Key of two names joined by a NUL, without a trailing NUL ("sendings": sender NUL key,
 *  "payrun_ids": sender NUL request id). @return mv_size 0 when it does not fit @p cap. */
MDB_val tpc_key_names(uint8_t *buf, size_t cap, const char *a, const char *b);

#endif /* TPC_STORE_TXN_H */
