/* engine/store/dbs.h - the handles of the store's sub-databases (opened by tpc_store_open()).
 *
 * Plain data with no behaviour, in a header of its own so that the clearing checks
 * (clearing/tariff.h) and the record readers can name the handles without including the store
 * or the job: this header depends on LMDB and the reference data only, which keeps it a leaf of
 * the include graph. docs/ledger.md describes every sub-database for mdb_dump users.
 */
#ifndef TPC_STORE_DBS_H
#define TPC_STORE_DBS_H

#include "refdata/refdata.h"

#include <lmdb.h>

/** How a ledger's "dedup" keys are made (clearing/tariff.h tpc_tariff_line_identity()): chosen
 *  when the ledger is created (meta "dedup_hash") and never changed, since every key of the
 *  index must be made the same way for a line sent again after an upgrade to be found. */
enum tpc_dedup_form {
	/* no "dedup_hash" record (before issue 15): the 40-byte identity, its line reference
	 * hashed with BLAKE2b-64 */
	TPC_DEDUP_BLAKE2B_40 = 0,
	/* "xxh3-64": the same 40 bytes, the reference hashed with XXH3-64 */
	TPC_DEDUP_XXH3_40 = 1,
	/* "xxh3-64-18": 18 bytes, provider and patient as 5-byte numbers, then the XXH3-64 of the
	 * whole 40-byte XXH3 identity (a ledger created since issue 15's fourth target) */
	TPC_DEDUP_XXH3_18 = 2,
};

/** Sub-databases of the store the clearing checks read (clearing/tariff.h). */
typedef struct tpc_ledger_dbs {
	tpc_refdata_dbs_t ref;
	MDB_dbi dedup;      /* line identity (18 or 40 bytes: dedup_form) -> sequence (u64) */
	MDB_dbi units;      /* patient[11] + code[6] + day (u32 BE) -> units accepted (i64) */
	MDB_dbi invoices;   /* provider[11] + invoice number -> sequence (u64) */
	MDB_dbi lines;      /* the store's "lines" (tpc_store_db_t.lines): what a cancellation that
	                     * names only the invoice credits (engine/ledger/credit.h) */
	uint8_t dedup_form; /* how "dedup" keys are made: enum tpc_dedup_form, the ledger's */
} tpc_ledger_dbs_t;

/** Every sub-database handle. The handles are valid in any transaction of the environment once
 *  tpc_store_open() returned (LMDB dbi handles are process-wide). */
typedef struct tpc_store_db {
	MDB_env *env;
	MDB_dbi meta, sendings, answers, lines, postings;
	MDB_dbi payables; /* (sequence, line, part) -> tpc_payable_t: not yet paid (schema 3-5) */
	MDB_dbi unpaid;   /* sequence -> tpc_unpaid_hdr_t + bits: parts not yet paid (schema 6); 0
	                   * in a read-only open of an older ledger no daemon raised yet */
	MDB_dbi paid;     /* (sequence, line, part) -> tpc_paid_t: which payment paid it */
	MDB_dbi scheme_refs;  /* (sequence, line) -> tpc_scheme_ref_t: lines paid by a scheme */
	MDB_dbi payruns;      /* run (u64) -> tpc_payrun_rec_t */
	MDB_dbi payrun_ids;   /* sender NUL request id -> tpc_payrun_id_t: idempotent runs */
	MDB_dbi payments;     /* run (u64) + payment (u32) -> tpc_payment_rec_t */
	MDB_dbi settlements;  /* sequence (u64) + run (u64) + payment (u32) -> settlement */
	MDB_dbi payloads;     /* sequence (u64) -> the sending as received (store/payload.h) */
	tpc_ledger_dbs_t dbs; /* dedup, units, invoices and reference data (tariff.h) */
} tpc_store_db_t;

#endif /* TPC_STORE_DBS_H */
