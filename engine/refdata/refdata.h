/* engine/refdata/refdata.h - reference data: providers, members, tariffs, agreements, and the
 * scheme feeds (mediprima, fedasil, fedasil_exclusions, detention, war_victims, ossom;
 * docs/formats/feeds.md).
 *
 * Loaded from CSV (docs/formats/reference-data.md) by `tpclear load KIND FILE` or a feed over
 * the intake. A worker parses and checks the whole file (all or nothing: the first bad row
 * refuses the load with file, line, column and reason), the ledger writer replaces the whole
 * kind in one write transaction, and clearing reads it through the snapshot of the sending's
 * read transaction, so a reload never blocks clearing and a sending never sees half a reload.
 *
 * Sub-databases (keys big endian so LMDB order is (id, date) order):
 *   ref_providers   nihii[11]                         -> tpc_ref_provider_t
 *   ref_members     niss[11] + valid_from            -> tpc_ref_member_t
 *   ref_tariffs     code[6] + valid_from             -> tpc_ref_tariff_t
 *   ref_agreements  niss[11] + code[6] + valid_from  -> tpc_ref_agreement_t
 *   ref_mediprima   niss[11] + valid_from + decision (its bytes, NUL-padded to 16 when
 *                   shorter) -> tpc_ref_mediprima_t (decisions of one person may overlap: one
 *                   per care type)
 *   ref_fedasil, ref_detention, ref_war_victims, ref_ossom   niss[11] + valid_from -> row
 *   ref_fedasil_exclusions   code[6] -> tpc_ref_exclusion_t
 * A file replaces its kind whole; in upsert mode (daily deltas) its rows replace the stored
 * rows of the same key and the others stay.
 *
 * Values. The kinds without free text (members, tariffs, fedasil_exclusions, ossom) store their
 * row struct as it is, in native byte order. The six kinds with a free-text column (providers'
 * name, agreements' reference, mediprima's decision id, fedasil's structure, detention's prison,
 * war_victims' category: up to TPC_REF_TEXT_MAX bytes of UTF-8, refdata/text.h) store
 *     0x01, the row struct's bytes up to its text pointer (the fixed part), the text, a NUL
 * so a value is as long as its text and no longer. A lookup copies the fixed part out (LMDB
 * aligns values on two bytes only) and points the row's text at the bytes in the map: no copy
 * and no allocation on the per-line path, the text valid as long as the read transaction.
 * The leading 0x01 tells these values from those of ledger schema 3, whose rows held their text
 * in fixed arrays (name 71, reference 48, decision 16, structure and prison 32, category 16
 * bytes) and began with a digit or a letter: such rows are still read (a schema 3 ledger opens
 * and keeps its reference data; the next load of a kind rewrites it in this layout).
 *
 * DESIGN (engine/refdata/): the reference data and scheme feeds, from CSV to rows in LMDB.
 *  - Owns: the CSV reader and the per-kind row checks (tpc_refdata_parse), the row layouts and
 *    their keys, the ref_* sub-databases and the lookups clearing uses (tpc_refdata_*_on).
 *  - Threads: parsing runs on a worker, on the job's arena; the replace or upsert runs on the
 *    ledger writer, in its write transaction. Clearing reads the rows through the in-memory
 *    copy refdata/snapshot.h builds with tpc_refdata_walk(); the cursor lookups below are the
 *    writer's (payment runs) and the reference that copy is tested against.
 *  - Never: decide anything about a sending (engine/clearing/ reads these rows and judges), nor
 *    write outside the transaction it is handed; a bad file changes nothing.
 */
#ifndef TPC_REFDATA_H
#define TPC_REFDATA_H

#include "core/arena.h"
#include "refdata/text.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/** Kinds of reference data. */
enum tpc_ref_kind {
	TPC_REF_PROVIDERS = 0,
	TPC_REF_MEMBERS = 1,
	TPC_REF_TARIFFS = 2,
	TPC_REF_AGREEMENTS = 3,
	TPC_REF_MEDIPRIMA = 4,          /* from SPP IS: CPAS decisions of urgent medical aid */
	TPC_REF_FEDASIL = 5,            /* from Fedasil: applicants for international protection */
	TPC_REF_FEDASIL_EXCLUSIONS = 6, /* codes Fedasil never pays */
	TPC_REF_DETENTION = 7,          /* from SPF Justice: periods of detention */
	TPC_REF_WAR_VICTIMS = 8,
	TPC_REF_OSSOM = 9, /* overseas social security: contracts and deferred rights */
	TPC_REF__COUNT
};

/** Care types (a bit mask in a Mediprima decision). */
enum tpc_care {
	TPC_CARE_HOSPITAL = 1u << 0,
	TPC_CARE_AMBULATORY = 1u << 1,
	TPC_CARE_PHARMACY = 1u << 2,
	TPC_CARE_ALL = 7u,
};

/** Date meaning "open-ended" (empty valid_to). */
#define TPC_REF_OPEN_END INT32_MAX

enum tpc_provider_kind {
	TPC_PROVIDER_HOSPITAL = 0,
	TPC_PROVIDER_PHARMACIST = 1,
	TPC_PROVIDER_GP = 2,
	TPC_PROVIDER_OTHER = 3,
};

enum tpc_tariff_flags {
	TPC_TARIFF_AGREEMENT = (1u << 0), /* needs a prior agreement */
};

typedef struct tpc_ref_provider {
	char nihii[12];
	char bce[11];
	char iban[35];
	char bic[12];
	uint8_t kind;     /* enum tpc_provider_kind */
	const char *name; /* free text: the payee's name (see "Values" above for who owns it) */
} tpc_ref_provider_t;

typedef struct tpc_ref_member {
	char niss[12];
	int32_t valid_from, valid_to; /* days since 1970-01-01, inclusive */
	uint16_t ct1, ct2;
	char iban[35];
} tpc_ref_member_t;

typedef struct tpc_ref_tariff {
	char code[7];
	int32_t valid_from, valid_to;
	int64_t fee, insurer, insurer_bim; /* cents per unit */
	uint32_t flags;                    /* enum tpc_tariff_flags */
	uint32_t max_per_day;              /* 0 = no limit */
} tpc_ref_tariff_t;

typedef struct tpc_ref_agreement {
	char niss[12];
	char code[7];
	int32_t valid_from, valid_to;
	const char *reference; /* free text */
} tpc_ref_agreement_t;

typedef struct tpc_ref_mediprima {
	char cpas_bce[11]; /* BCE of the deciding CPAS, 10 digits */
	char niss[12];
	int32_t valid_from, valid_to;
	uint8_t care;                 /* enum tpc_care mask */
	uint8_t covers_patient_share; /* 1: the patient share is paid too */
	const char *decision;         /* free text: the decision id, also part of the key */
} tpc_ref_mediprima_t;

typedef struct tpc_ref_fedasil {
	char niss[12];
	int32_t valid_from, valid_to;
	const char *structure; /* free text: the reception structure */
} tpc_ref_fedasil_t;

typedef struct tpc_ref_exclusion {
	char code[7];
} tpc_ref_exclusion_t;

typedef struct tpc_ref_detention {
	char niss[12];
	int32_t valid_from, valid_to;
	const char *prison; /* free text */
} tpc_ref_detention_t;

typedef struct tpc_ref_war_victim {
	char niss[12];
	int32_t valid_from, valid_to;
	const char *category; /* free text */
} tpc_ref_war_victim_t;

typedef struct tpc_ref_ossom {
	char niss[12];
	char contract; /* 'A' = AC, 'B' = BC (the employer's contract doubles the refund) */
	int32_t valid_from, valid_to;
	int32_t birth_date; /* days since epoch */
	uint16_t contribution_years;
	char iban[35]; /* optional last column: where eAttest refunds go, "" = none */
} tpc_ref_ossom_t;

/** A parsed file: rows of one kind, in the arena (their text too). */
typedef struct tpc_ref_table {
	enum tpc_ref_kind kind;
	uint32_t nrows;
	void *rows; /* array of the kind's row struct */
} tpc_ref_table_t;

/** Kind by name ("providers", ...). @return 0 or TPC_EINVAL. */
int tpc_refdata_kind(const char *name, enum tpc_ref_kind *out);
/** Name of a kind. */
const char *tpc_refdata_kind_name(enum tpc_ref_kind kind);

/** Parse and check a whole CSV file of @p kind.
 *  Every byte must be UTF-8 (refdata/text.h); free text is kept whole, up to TPC_REF_TEXT_MAX
 *  bytes; identifiers keep their exact formats.
 *  @param[in]  file  name used in error messages (borrowed)
 *  @param[out] out   rows allocated in @p arena, their text too
 *  @param[out] err   on failure: "FILE:LINE:COLUMN: reason", COLUMN counted in characters
 *                    from 1 (valid UTF-8 itself, whatever the file held)
 *  @return 0, TPC_EINVAL (bad content, @p err set) or TPC_ENOMEM. */
int tpc_refdata_parse(enum tpc_ref_kind kind, const char *file, const char *csv, size_t len,
                      tpc_arena_t *arena, tpc_ref_table_t *out, char *err, size_t errlen);

/** The sub-database handles, opened once by the ledger. */
typedef struct tpc_refdata_dbs {
	MDB_dbi dbi[TPC_REF__COUNT];
} tpc_refdata_dbs_t;

/** Open (create) the sub-databases inside @p txn. @return an LMDB code. */
int tpc_refdata_open(MDB_txn *txn, tpc_refdata_dbs_t *dbs);

/** Replace every row of @p t->kind with @p t's rows inside the write transaction @p txn.
 *  @return an LMDB code (MDB_MAP_FULL included: the caller grows the map and retries). */
int tpc_refdata_replace(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t);

/** May @p t replace its kind? Refused (unless the sender forced it, which the caller decides):
 *  a file with no row at all, whatever is stored (T00061), and a file with fewer rows than
 *  stored by more than @p max_drop_percent of the stored rows (T00060).
 *  @param[in]  file  the file's name, for the reason (borrowed)
 *  @param[out] code  the refusal's code, NULL when the replace may go ahead
 *  @param[out] why   on refusal: the reason, naming the file, the counts and the bound
 *  @return 0 or an LMDB code (counting the stored rows failed). */
int tpc_refdata_replace_guard(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t,
                              const char *file, unsigned max_drop_percent, const char **code,
                              char *why, size_t whylen);

/** Upsert: each row of @p t replaces the stored row of the same key, or is added; other rows
 *  stay. @return an LMDB code. */
int tpc_refdata_upsert(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const tpc_ref_table_t *t);

/** Lookups. The period lookups go through a cursor the caller opened on the kind's
 *  sub-database (one per sending, so the per-line path allocates nothing). The row's fixed part
 *  is copied into @p out (LMDB aligns values on two bytes only); its text points into LMDB's
 *  map, valid until @p txn (the cursor's transaction) ends or writes: copy it to keep it.
 *  @return 0, MDB_NOTFOUND (also for a stored value of no known layout), or an LMDB code. */
int tpc_refdata_provider(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const char *nihii,
                         tpc_ref_provider_t *out);
int tpc_refdata_member_on(MDB_cursor *members, const char *niss, int32_t day,
                          tpc_ref_member_t *out);
int tpc_refdata_tariff_on(MDB_cursor *tariffs, const char *code, int32_t day,
                          tpc_ref_tariff_t *out);
int tpc_refdata_agreement_on(MDB_cursor *agreements, const char *niss, const char *code,
                             int32_t day, tpc_ref_agreement_t *out);

/** The period row of a feed (fedasil, detention, war_victims, ossom) of @p niss covering
 *  @p day, through a cursor on that kind's sub-database; @p out points to the kind's row
 *  struct. @return 0, MDB_NOTFOUND or an LMDB code. */
int tpc_refdata_feed_on(MDB_cursor *cur, enum tpc_ref_kind kind, const char *niss, int32_t day,
                        void *out);

/** The latest Mediprima decision of @p niss covering @p day and a care type of @p care (a
 *  decision with care `all` covers every type). @return 0, MDB_NOTFOUND or an LMDB code. */
int tpc_refdata_mediprima_on(MDB_cursor *cur, const char *niss, int32_t day, unsigned care,
                             tpc_ref_mediprima_t *out);

/** The last row of a feed (any period) of @p niss at or before @p day, for the deferred
 *  rights of OSSOM: the period row whose valid_from <= day. @return 0, MDB_NOTFOUND, or an
 *  LMDB code. */
int tpc_refdata_feed_last(MDB_cursor *cur, enum tpc_ref_kind kind, const char *niss, int32_t day,
                          void *out);

/** Is @p code in fedasil_exclusions? @return 1, 0, or a negative TPC_E* code. */
int tpc_refdata_excluded(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, const char *code);

/** Does any row start with the key prefix @p id (whatever its period)? */
int tpc_refdata_exists(MDB_cursor *cur, const void *id, size_t idlen);

/* ---- the snapshot's side (refdata/snapshot.h builds its tables through these) ---- */

/** Walk every stored row of @p kind in key order. @p fn gets the key, the row decoded into a
 *  buffer of tpc_refdata_row_size() bytes (its text points into LMDB's map, valid until @p txn
 *  ends), or NULL for a value of no layout we know (the lookups above treat it as no row), and
 *  @p arg. @return 0, @p fn's non-zero return, or an LMDB code. */
int tpc_refdata_walk(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, enum tpc_ref_kind kind,
                     int (*fn)(void *arg, const MDB_val *key, void *row), void *arg);
/** Bytes of a row struct of @p kind. */
size_t tpc_refdata_row_size(enum tpc_ref_kind kind);
/** Bytes of the part of a key that names what the row is about (before its period): 11 for a
 *  NISS or a NIHII, 6 for a code, 17 for an agreement (NISS, code). */
size_t tpc_refdata_id_len(enum tpc_ref_kind kind);
/** The period of @p row (0 and TPC_REF_OPEN_END for the kinds without one). */
void tpc_refdata_row_period(enum tpc_ref_kind kind, const void *row, int32_t *from, int32_t *to);
/** Offset of the row struct's free-text pointer; 0 when the kind has no free text. */
size_t tpc_refdata_text_offset(enum tpc_ref_kind kind);

/** Rows stored of @p kind. */
int tpc_refdata_count(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, enum tpc_ref_kind kind,
                      uint64_t *out);

#endif
