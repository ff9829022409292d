/* engine/store/postings.h - the postings as every reader sees them, and the running balances.
 *
 * DESIGN
 * - Since schema 7 the charge and payable of an accepted line part are not stored: they are
 *   derived from the sending's lines block (store/records.h), numbered from the block's first
 *   posting, two numbers per part (charge n, payable n + 1), in line order, insurer part
 *   before patient share: the numbers the writer's counter gave them when it stored the
 *   sending. "postings" keeps the payment runs' settle and payout, the pairs of schema 6 and
 *   every posting before. This module merges both, by number, so that a balance, an export,
 *   a statement or a check reads one ordered list of tpc_posting_rec_t whatever the schema
 *   each sending was written in (meta "schema7_from": the first sequence whose postings are
 *   derived; a ledger of schema 6 or older, not raised, has none).
 * - The running balances (meta "balances", tpc_balances_t) are what the derived postings are
 *   checked against: the writer adds each sending's, a payment run its own, in the
 *   transaction that makes them (tpc_balances_add()).
 * - Threads: any, inside a transaction the caller owns; a tpc_postings_t is the caller's
 *   memory and lives no longer than that transaction. Nothing is allocated.
 */
#ifndef TPC_STORE_POSTINGS_H
#define TPC_STORE_POSTINGS_H

#include "store/dbs.h"
#include "store/records.h"

#include <lmdb.h>
#include <stdint.h>

/** A walk over the postings in number order (stored and derived). The caller's memory. */
typedef struct tpc_postings {
	MDB_txn *txn;
	MDB_cursor *stored;   /* "postings" */
	MDB_cursor *lines;    /* "lines", from derive_from on */
	uint64_t derive_from; /* first sequence whose postings are derived; UINT64_MAX: none */
	uint64_t from;        /* first number wanted */
	/* the stored record held: its postings not yet returned */
	tpc_posting_rec_t sp[2];
	uint64_t snum[2];
	int sn, si, s_end;
	/* the lines block held: the next part to derive, and the derived pair not yet returned */
	const uint8_t *blk;
	tpc_lines_hdr_t h;
	uint64_t seq, dnum;
	uint32_t line;
	uint8_t part;
	tpc_posting_rec_t dp[2];
	uint64_t dpnum[2];
	int dn, di, d_end;
	/* a damaged record met: its sub-database and key (tpc_records_damaged()) */
	enum tpc_rec_db bad_db;
	uint8_t bad_key[8];
	MDB_val bad;
} tpc_postings_t;

/** The first sequence whose line postings are derived from its block: 0 in a ledger made at
 *  schema 7, meta "schema7_from" in one raised to it, UINT64_MAX below schema 7.
 *  @return 0 or an LMDB code. */
int tpc_postings_derive_from(MDB_txn *txn, const tpc_store_db_t *db, uint64_t *out);

/** Start a walk at posting number @p from (0 or 1: all) in @p txn (borrowed).
 *  @return 0 or an LMDB code (then nothing to close). */
int tpc_postings_open(tpc_postings_t *it, MDB_txn *txn, const tpc_store_db_t *db, uint64_t from);

/** The next posting, into @p p with its number in @p num.
 *  @return 1, 0 at the end, TPC_EDAMAGED (it->bad_db and it->bad name the record: a posting
 *  or a lines block that failed its sum) or an LMDB code. */
int tpc_postings_next(tpc_postings_t *it, tpc_posting_rec_t *p, uint64_t *num);

void tpc_postings_close(tpc_postings_t *it);

/** The number the next posting gets: one past the last stored one (two past a pair) or the
 *  last derived one, whichever is higher; 1 in an empty ledger. @return 0 or an LMDB code
 *  (TPC_EDAMAGED: the last block is damaged). */
int tpc_postings_next_number(MDB_txn *txn, const tpc_store_db_t *db, uint64_t *out);

/** The postings sending @p seq's block @p block (its header @p h, sums checked) derives, in
 *  number order, to @p fn (stops at its first non-zero return, which it returns). */
typedef int (*tpc_postings_fn)(void *arg, const tpc_posting_rec_t *p, uint64_t num);
int tpc_postings_of_block(uint64_t seq, const uint8_t *block, const tpc_lines_hdr_t *h,
                          tpc_postings_fn fn, void *arg);

/* ---- running balances ---------------------------------------------------------------------- */

/** Add posting @p p to @p b (its budget's row; a budget beyond the rows is not counted). */
void tpc_balances_count(tpc_balances_t *b, const tpc_posting_rec_t *p);

/** Add @p delta (its sums and count) to meta "balances" in write transaction @p txn. A stored
 *  value that fails its sum is logged (T00055, tpc_records_damaged()) and left as it is.
 *  @return 0 or an LMDB code. */
int tpc_balances_add(MDB_txn *txn, const tpc_store_db_t *db, const tpc_balances_t *delta);

/** Meta "balances" into @p out (zeroed when absent: nothing posted yet).
 *  @return 0, MDB_NOTFOUND (absent), TPC_EDAMAGED or an LMDB code. */
int tpc_balances_get(MDB_txn *txn, const tpc_store_db_t *db, tpc_balances_t *out);

/** The balances every posting gives (a walk: the raise to schema 7, the checks).
 *  @return 0, TPC_EDAMAGED or an LMDB code. */
int tpc_balances_compute(MDB_txn *txn, const tpc_store_db_t *db, tpc_balances_t *out);

#endif /* TPC_STORE_POSTINGS_H */
