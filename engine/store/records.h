/* engine/store/records.h - the record layouts of the store and their encode/decode.
 *
 * DESIGN
 * - Owns the bytes on disk: every value layout of the store's sub-databases (store/dbs.h has
 *   the handles, store/store.h the environment) and the functions that turn a judged job into
 *   those bytes and back. docs/ledger.md describes every sub-database for mdb_dump users; keep
 *   it in step with this file. The layouts are frozen by the _Static_asserts below and by the
 *   schema number: changing one is a schema change (TPC_LEDGER_SCHEMA), never an edit.
 * - Keys are big endian so that LMDB's byte order is numeric order (store/txn.h builds them);
 *   values are the structs below in the machine's byte order, read with memcpy (LMDB aligns
 *   values on two bytes only).
 * - Checksums (schema 5): every stored answer, line, posting, payable and paid record carries
 *   an XXH3-64 of its bytes (tpc_records_sum()), checked by the decoders below on every read:
 *   a mismatch is TPC_EDAMAGED, never data. A record of schema 4 or older has none and is read
 *   unchecked (answers: magic TPA2; lines: 96 bytes; paid: 24 bytes; postings and payables: a
 *   zero sum field); `tpclear verify` counts them.
 * - Threads: pure functions on caller memory; workers encode the answer body's and the line
 *   records' sums, the writer the rest; workers and the writer decode. Nothing here opens a
 *   transaction. tpc_records_damaged() is the one shared state: process-wide counters.
 */
#ifndef TPC_STORE_RECORDS_H
#define TPC_STORE_RECORDS_H

#include "core/arena.h"
#include "pipeline/job.h"
#include "store/txn.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 7: no posting of a line part is stored: the charge and payable of each accepted line part
 * are derived from the sending's lines block (store/postings.h: numbered from its header's
 * first posting, two per part, in line order); meta "balances" (tpc_balances_t) keeps the
 * running sums per budget and kind, written in the same transaction. A schema 3 to 6 store is
 * raised to 7: its pairs and postings are read as they are, meta "schema7_from" says from
 * which sequence the postings are derived.
 * 6: one posting pair of 56 bytes per accepted line part (tpc_posting_pair_t) where schema 5
 * wrote two postings of 96 bytes; settlements compressed (LZ4) and checksummed (TPS2,
 * tpc_settlement_hdr_t). A schema 5
 * store is raised to 6 and its TPS1 settlements read as they are; meta "schema6_from" says
 * where the TPS2 ones begin.
 * 5: checksums on answers, lines, postings, payables and paid (see DESIGN above).
 * 4: the reference data's free text and the scheme references are stored whole (variable
 * length, refdata/refdata.h "Values", tpc_scheme_ref_t below). A schema 3 or 4 store is opened
 * and raised to 5 (store/store.c): its values are still read as they are, nothing is
 * rewritten, and meta "sums_from" records where the checksummed records begin. */
#define TPC_LEDGER_SCHEMA      7u
#define TPC_LEDGER_SCHEMA_READ 3u          /* the oldest schema this engine opens */
#define TPC_ANSWER_MAGIC       0x35415054u /* "TPA5" little endian: header with its sum */
#define TPC_ANSWER_MAGIC_V4    0x32415054u /* "TPA2": schemas 3 and 4, 320 bytes, no sum */
#define TPC_ANSWER_HDR_V4      320u
#define TPC_ANSWER_LZ4         1u  /* tpc_answer_hdr_t.flags */
#define TPC_ANSWER_XXH3        2u  /* tpc_answer_hdr_t.flags: hash is XXH3-128 (see below) */
#define TPC_LINE_REC_V4        96u /* a line record of schema 4: no sum */
#define TPC_PAID_V4            24u /* a paid record of schema 4: no sum */

/** Value of meta "sums_from": in a store raised from schema 3 or 4 (store/store.c), the first
 *  sequence (answers, lines, payables), posting and payment run (paid) written with a sum.
 *  Records before them are unchecked; records from them on must carry one (tpclear verify).
 *  Absent in a store created at schema 5: every record has its sum. */
#define TPC_SCHEMA6_FROM "schema6_from" /* meta key: a tpc_sums_from_t */
#define TPC_SCHEMA7_FROM "schema7_from" /* meta key: a tpc_sums_from_t */
typedef struct tpc_sums_from {
	uint64_t sequence;
	uint64_t posting;
	uint64_t run;
} tpc_sums_from_t;

/* Payload hash. The idempotency triple is (sender, key, hash of the payload). This engine
 * hashes with XXH3-128 (16 bytes, canonical big-endian form), engines before it with
 * BLAKE2b-256 (32 bytes). Both stay readable without a schema change: an answer header with
 * TPC_ANSWER_XXH3 holds the 16 bytes then 16 zero bytes, one without it a BLAKE2b-256; the
 * "sendings" value is the sequence then the hash, 24 bytes (XXH3-128) or 40 (BLAKE2b-256).
 * A resubmission is compared in the algorithm of the stored sending (the rare old one costs
 * one BLAKE2b of the payload). Not a security hash: the sender is authenticated, and a sender
 * who wants a conflict under its own key only has to send other bytes. */

/** The hash of @p len bytes at @p buf in the algorithm of @p hash_len (TPC_HASH_XXH3_LEN or
 *  TPC_HASH_LEN) into @p out, zero-padded to TPC_HASH_LEN bytes. Any thread. */
void tpc_records_payload_hash(const uint8_t *buf, size_t len, size_t hash_len,
                              uint8_t out[TPC_HASH_LEN]);

/** The length of the payload hash a header holds (TPC_ANSWER_XXH3: 16, else 32). */
static inline size_t tpc_records_hash_len(uint32_t flags)
{
	return flags & TPC_ANSWER_XXH3 ? TPC_HASH_XXH3_LEN : TPC_HASH_LEN;
}

/** Header of a stored answer (value of "answers"), then the packed Result, then the native
 *  answer bytes. */
typedef struct tpc_answer_hdr {
	uint32_t magic;
	uint32_t result_len;
	uint32_t native_len;
	uint32_t flags; /* TPC_ANSWER_LZ4: result and native stored as one LZ4 block;
	                 * TPC_ANSWER_XXH3: hash is an XXH3-128 (Payload hash, above) */
	char native_type[16];
	uint8_t hash[TPC_HASH_LEN];
	uint64_t committed_ms; /* accepted or refused: durable decision */
	uint64_t sequence;
	uint64_t received_ms;  /* received at the intake */
	uint64_t validated_ms; /* decoded, validated and tariffed by a worker */
	char sender[TPC_SENDER_MAX];
	char key[TPC_KEY_MAX];
	char format[32];
	/* XXH3-64 of this header (sum 0 while hashing) seeded with the XXH3-64 of the bytes after
	 * it: the body's sum is computed by a worker, the writer only hashes the header. 0 in a
	 * TPA2 header read back (it has no such field). */
	uint64_t sum;
} tpc_answer_hdr_t;

/** Header of a stored settlement (value of "settlements"), then the packed tpclear.Settlement
 *  and the native settlement bytes (eFact 920900): as they are, or - flag TPC_SETTLEMENT_LZ4 -
 *  as one LZ4 block of both. Written by the payment runs, read by the queries. Schema 6 writes
 *  TPS2 (with its sum); a TPS1 value (32 bytes, no flags, no sum) of an older ledger is read as
 *  it is. */
#define TPC_SETTLEMENT_MAGIC_V5 0x31535054u /* "TPS1" little endian: schemas 3 to 5 */
#define TPC_SETTLEMENT_MAGIC    0x32535054u /* "TPS2": flags and sum */
#define TPC_SETTLEMENT_HDR_V5   32u
#define TPC_SETTLEMENT_LZ4      1u /* tpc_settlement_hdr_t.flags */
typedef struct tpc_settlement_hdr {
	uint32_t magic;
	uint32_t proto_len;
	uint32_t native_len;
	char native_type[16];
	uint32_t flags; /* TPC_SETTLEMENT_LZ4; padding (0) in TPS1 */
	/* XXH3-64 of this header (sum 0 while hashing) seeded with the XXH3-64 of the bytes after
	 * it, as for the answers; absent from TPS1 (read back as 0) */
	uint64_t sum;
} tpc_settlement_hdr_t;

/** A decoded settlement: pointers into the caller's arena. */
typedef struct tpc_settlement_view {
	const uint8_t *proto; /* packed tpclear.Settlement */
	size_t proto_len;
	tpc_blob_t native; /* ptr NULL when none */
} tpc_settlement_view_t;

/** One line verdict (value of "lines", 104 bytes; 96 without the sum in schema 4). */
typedef struct tpc_line_rec {
	char code[6];
	uint8_t outcome;
	uint8_t nfindings;
	int32_t date_first;
	int32_t units;
	uint32_t invoice;     /* index of the invoice in the sending */
	uint32_t record;      /* ordinal of the line's record in the sending */
	char mutuality[3];    /* destination mutuality, not NUL-terminated */
	uint8_t account;      /* 0 = A, 1 = B */
	uint8_t budget;       /* enum tpc_budget charged with the insurer part, 0 when refused */
	uint8_t scheme;       /* enum tpc_scheme */
	uint8_t share_budget; /* enum tpc_budget paying the patient share too, 0 = the patient */
	uint8_t pad0;
	int64_t insurer_cents;          /* invoiced */
	int64_t patient_cents;          /* invoiced */
	int64_t expected_insurer_cents; /* by tariff */
	int64_t expected_patient_cents; /* by tariff */
	int64_t accepted_cents;         /* payable (0 when refused) */
	char finding[3][6];             /* finding codes, not NUL-terminated */
	uint8_t pad1[6];
	uint64_t sum; /* tpc_records_sum() of the 96 bytes above; 0 = schema 4, unchecked */
} tpc_line_rec_t;

/** The line records of one sending since schema 6 (value of "lines" under the sequence alone,
 *  8 bytes): this header, then one tpc_line_payee_t per invoice, one tpc_line6_t per line and
 *  one tpc_line_finding_t per finding code (up to three per line, in line order). Schema 3-5
 *  records (tpc_line_rec_t, key sequence + line) are read beside them (tpc_lines_get()). */
#define TPC_LINES_MAGIC 0x364c5054u /* "TPL6" little endian */
typedef struct tpc_lines_hdr {
	uint32_t magic;
	uint32_t nlines;
	uint32_t ninvoices;
	uint32_t nfindings;
	uint64_t first_posting; /* the writer's: number of the sending's first posting */
	uint64_t committed_ms;  /* the writer's: commit time */
	uint64_t body_sum;      /* XXH3-64 of the bytes after the header (the worker's) */
	uint64_t sum;           /* XXH3-64 of this header (sum 0) seeded with body_sum */
} tpc_lines_hdr_t;

/** The payee and destination of an invoice's lines (in a lines block). */
typedef struct tpc_line_payee {
	char payee[12];     /* NIHII (third-party payment) or NISS (eAttest), NUL-padded */
	char mutuality[3];  /* destination mutuality, not NUL-terminated */
	uint8_t payee_kind; /* enum tpc_payee_kind */
} tpc_line_payee_t;

/** One line verdict in a lines block: tpc_line_rec_t without the mutuality (its invoice's),
 *  the findings (the block's tail) and the sum (the block's). */
typedef struct tpc_line6 {
	int64_t insurer_cents;
	int64_t patient_cents;
	int64_t expected_insurer_cents;
	int64_t expected_patient_cents;
	int64_t accepted_cents;
	char code[6];
	uint8_t outcome;
	uint8_t nfindings;
	int32_t date_first;
	int32_t units;
	uint32_t invoice;
	uint32_t record;
	uint8_t account, budget, scheme, share_budget;
	/* the low 32 bits of the XXH3-64 of the 68 bytes before: the block's sums find damage,
	 * this one names the line (tpclear verify) */
	uint32_t sum;
} tpc_line6_t;

/** A finding code of a line (the block's tail, in line order). */
typedef struct tpc_line_finding {
	uint32_t line;
	char code[6];
	uint8_t pad[2];
} tpc_line_finding_t;

/** Kinds of postings. Per budget: CHARGE + PAYABLE = 0 for each line, SETTLE + PAYOUT = 0 for
 *  each payment, so every budget - and the whole ledger - sums to zero. */
enum tpc_posting_kind {
	TPC_POST_CHARGE = 1,  /* budget debited for an accepted line (negative) */
	TPC_POST_PAYABLE = 2, /* payee credited for it (positive) */
	TPC_POST_SETTLE = 3,  /* payee debited when a payment run pays it (negative) */
	TPC_POST_PAYOUT = 4,  /* the budget's bank account credited by the transfer (positive) */
};

/** Whom an account names. */
enum tpc_payee_kind {
	TPC_PAYEE_BUDGET = 0,   /* account = budget name */
	TPC_PAYEE_PROVIDER = 1, /* account = NIHII (third-party payment) */
	TPC_PAYEE_INSURED = 2,  /* account = NISS (eAttest) */
	TPC_PAYEE_BANK = 3,     /* account = payer IBAN of the budget */
};

/** One posting (value of "postings", 96 bytes). Immutable once written. */
typedef struct tpc_posting_rec {
	uint64_t sequence;    /* the sending (0 for payment postings) */
	uint64_t run;         /* the payment run (payment postings), 0 otherwise */
	uint32_t line;        /* line index in the sending; payment number for payment postings */
	uint8_t kind;         /* enum tpc_posting_kind */
	uint8_t budget;       /* enum tpc_budget */
	uint8_t payee_kind;   /* enum tpc_payee_kind */
	uint8_t part;         /* line postings: 0 = insurer part, 1 = patient share */
	char account[40];     /* NUL-terminated */
	int64_t amount_cents; /* debits negative, credits positive */
	uint64_t at_ms;       /* commit time, unix milliseconds */
	uint64_t sum;         /* tpc_records_sum() of the record with sum 0; 0 = unchecked */
	uint8_t pad2[8];
} tpc_posting_rec_t;

/** The two postings of one accepted line part (value of "postings" since schema 6, 56 bytes):
 *  the CHARGE of its budget under the key's number n and the PAYABLE of its payee under n + 1,
 *  which no key holds. One record where schema 5 wrote two postings of 96 bytes (the charge's
 *  account is the budget's name, its amount the payable's negative, every other field shared):
 *  the readers expand it (tpc_records_postings_read()), so every posting keeps its number and
 *  the pair still sums to zero inside its budget. Payment postings stay tpc_posting_rec_t. */
typedef struct tpc_posting_pair {
	uint64_t sequence;
	uint32_t line;
	uint8_t budget;     /* enum tpc_budget */
	uint8_t payee_kind; /* enum tpc_payee_kind of the payable */
	uint8_t part;       /* 0 = insurer part, 1 = patient share */
	uint8_t pad;
	int64_t amount_cents; /* the payable's (the charge posts its negative) */
	uint64_t at_ms;       /* commit time, unix milliseconds */
	char payee[12];       /* NIHII or NISS, NUL-terminated */
	uint32_t pad2;
	uint64_t sum; /* tpc_records_sum() of the 48 bytes before it */
} tpc_posting_pair_t;

/** The running balances of the ledger (meta "balances", schema 7): per budget, the sum of
 *  its postings of each kind, and of its payables to insured persons (eAttest: the rest of
 *  the payables are to providers), with the number of postings. The writer adds each
 *  sending's charges and payables, a payment run its settles and payouts, in the transaction
 *  that makes them: the postings derived from the lines blocks are checked against it
 *  (tpclear verify, the tests' ledger check), and each budget's row sums to zero. */
#define TPC_BALANCES_KEY     "balances"
#define TPC_BALANCES_MAGIC   0x37425054u /* "TPB7" little endian */
#define TPC_BALANCES_BUDGETS 8u          /* rows: room for budgets after TPC_BUDGET__COUNT */
typedef struct tpc_balances {
	uint32_t magic;
	uint32_t budgets;                       /* TPC_BALANCES_BUDGETS */
	uint64_t postings;                      /* how many postings the sums hold */
	int64_t cents[TPC_BALANCES_BUDGETS][4]; /* [budget][kind - 1] */
	int64_t insured[TPC_BALANCES_BUDGETS];  /* PAYABLE to TPC_PAYEE_INSURED, in [][1] too */
	uint64_t sum;                           /* tpc_records_sum() of the bytes before it */
} tpc_balances_t;

/** The parts of a line that move money, as the writer posts them: bit 0 the insurer part of
 *  @p amount[0] cents, bit 1 the patient share a scheme pays (@p share_budget set), of
 *  @p amount[1]. A refused line, or a zero one (a credit note may have them), moves none. */
static inline unsigned tpc_line_parts(uint8_t outcome, int64_t accepted, uint8_t share_budget,
                                      int64_t patient, int64_t amount[2])
{
	amount[1] = share_budget ? patient : 0;
	amount[0] = accepted - amount[1];
	if (outcome != TPC_OUTCOME_ACCEPTED || accepted == 0)
		return 0;
	return (amount[0] != 0) | (amount[1] != 0) << 1;
}

/** An accepted line not yet paid (value of "payables"). A credit note's lines are negative
 *  payables: they reduce the next payment to the same payee. */
typedef struct tpc_payable {
	uint64_t committed_ms;
	int64_t amount_cents;
	uint8_t budget;     /* enum tpc_budget */
	uint8_t payee_kind; /* enum tpc_payee_kind */
	uint8_t account;    /* financial account A/B of the line */
	uint8_t pad;
	char mutuality[4];
	char payee[12]; /* NIHII or NISS, NUL-terminated */
	uint32_t invoice;
	uint32_t pad2;
	uint64_t sum; /* tpc_records_sum() of the record with sum 0; 0 = unchecked (schema 4) */
} tpc_payable_t;

/** The unpaid line parts of one sending (value of "unpaid" under its sequence, schema 6): where
 *  schema 5 kept one payable record per line part. This header, then ceil(2 * nlines / 8)
 *  bytes: bit 2 * line + part (byte bit / 8, bit bit % 8) set while that part is owed to its
 *  payee and no payment run paid it. What a run pays it reads from the lines block (amount,
 *  budget, payee, commit time); it clears the bits it pays in its own transaction and removes
 *  the value once none is left. Written only for a sending with a part to pay. */
#define TPC_UNPAID_MAGIC 0x36555054u /* "TPU6" little endian */
typedef struct tpc_unpaid_hdr {
	uint32_t magic;
	uint32_t nlines;
	uint64_t sum; /* XXH3-64 of the whole value with this field 0 */
} tpc_unpaid_hdr_t;

/** Bytes of a value of "unpaid" for @p nlines lines. */
static inline size_t tpc_unpaid_size(uint32_t nlines)
{
	return sizeof(tpc_unpaid_hdr_t) + ((size_t)nlines * 2 + 7) / 8;
}

/** Key of "payables" and "paid": sequence (u64 BE) + line (u32 BE) + part (0 = the insurer
 *  part, 1 = the patient share when a scheme pays it to another budget or the same one). */
#define TPC_PAYABLE_KEY 13

/** The scheme reference of a line (value of "scheme_refs"): what an institution's statement
 *  needs (SPP IS: the CPAS and the decision). This fixed head, then the reference itself (the
 *  Mediprima decision, prison, Fedasil structure, war victims category, AC/BC: free text of the
 *  feeds, up to TPC_REF_TEXT_MAX bytes of UTF-8) and a NUL: whole, as the feed gave it. */
typedef struct tpc_scheme_ref {
	uint8_t scheme; /* enum tpc_scheme */
	uint8_t layout; /* TPC_SCHEME_REF_LAYOUT; 0 in the 48-byte records of schema 3 */
	uint16_t ref_len;
	char org[12]; /* Mediprima: CPAS BCE, NUL-terminated */
} tpc_scheme_ref_t;
#define TPC_SCHEME_REF_LAYOUT 2

/** A decoded scheme reference. @p ref and @p org point into the stored value: valid until the
 *  transaction ends. */
typedef struct tpc_scheme_ref_view {
	unsigned scheme;
	const char *ref; /* NUL-terminated */
	const char *org; /* NUL-terminated, "" when none */
} tpc_scheme_ref_view_t;

/** Which payment paid a line (value of "paid"). */
typedef struct tpc_paid {
	uint64_t run;
	uint32_t payment;
	uint32_t pad;
	uint64_t paid_ms;
	uint64_t sum; /* tpc_records_sum() of the 24 bytes above; 0 = schema 4 (24-byte value) */
} tpc_paid_t;

/** A payment run (value of "payruns"). */
typedef struct tpc_payrun_rec {
	uint64_t at_ms;        /* commit time */
	int32_t until_day;     /* payables committed up to this day (inclusive); INT32_MAX = all */
	int32_t execution_day; /* requested execution date of the transfers */
	uint8_t budget;        /* budget filter, 0 = every budget */
	uint8_t files_written; /* 1 once every SEPA file of the run was written */
	uint8_t pad[2];
	uint32_t payments;
	uint64_t lines;
	int64_t total_cents;
	uint32_t budgets_paid; /* bit b set: a file for budget b */
	uint32_t pad2;
} tpc_payrun_rec_t;

/** A payment run request's idempotency key (value of "payrun_ids"): what it asked, what it
 *  made. */
typedef struct tpc_payrun_id {
	uint64_t run;      /* the run it made; 0 = nothing was due (no run stored) */
	uint64_t at_ms;    /* when it ran */
	int32_t until_day; /* the request, as in tpc_payrun_rec_t */
	uint8_t budget;
	uint8_t pad[3];
	uint32_t settlements; /* what its answer said, for the replay */
	uint32_t pad2;
	uint64_t lines_carried, lines_no_account;
} tpc_payrun_id_t;

/** One credit transfer of a run (value of "payments"). */
typedef struct tpc_payment_rec {
	int64_t amount_cents;
	uint64_t lines;
	uint8_t budget;
	uint8_t payee_kind;
	uint8_t pad[6];
	char payee[12]; /* the first payee paid on that account */
	char iban[35];
	char bic[12];
	/* the payee's name as its SEPA file writes it: transliterated to the SEPA Latin set and
	 * cut at 70 characters, pain.001's Max70Text (tpc_sepa_text()). It serves that file only;
	 * the name itself stays whole in ref_providers. */
	char name[71];
	char end_to_end[24]; /* also the payment reference of the 920900 */
	uint8_t pad2[6];
} tpc_payment_rec_t;

_Static_assert(sizeof(tpc_answer_hdr_t) == 328, "stored layout");
_Static_assert(sizeof(tpc_settlement_hdr_t) == 40, "stored layout");
_Static_assert(offsetof(tpc_settlement_hdr_t, sum) == TPC_SETTLEMENT_HDR_V5, "stored layout");
_Static_assert(sizeof(tpc_line_rec_t) == 104, "stored layout");
_Static_assert(offsetof(tpc_line_rec_t, sum) == TPC_LINE_REC_V4, "stored layout");
_Static_assert(offsetof(tpc_answer_hdr_t, sum) == TPC_ANSWER_HDR_V4, "stored layout");
_Static_assert(sizeof(tpc_lines_hdr_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_unpaid_hdr_t) == 16, "stored layout");
_Static_assert(sizeof(tpc_line_payee_t) == 16, "stored layout");
_Static_assert(sizeof(tpc_line6_t) == 72, "stored layout");
_Static_assert(sizeof(tpc_line_finding_t) == 12, "stored layout");
_Static_assert(sizeof(tpc_posting_rec_t) == 96, "stored layout");
_Static_assert(sizeof(tpc_posting_pair_t) == 56, "stored layout");
_Static_assert(sizeof(tpc_payable_t) == 56, "stored layout");
_Static_assert(sizeof(tpc_balances_t) == 344, "stored layout");
_Static_assert(sizeof(tpc_paid_t) == 32, "stored layout");
_Static_assert(offsetof(tpc_paid_t, sum) == TPC_PAID_V4, "stored layout");
_Static_assert(sizeof(tpc_scheme_ref_t) == 16, "stored layout");
_Static_assert(sizeof(tpc_payrun_rec_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_payrun_id_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_payment_rec_t) == 184, "stored layout");

/** The payment reference of payment @p payment of run @p run ("TPC" + run + "-" + payment). */
static inline void tpc_payment_reference(uint64_t run, uint32_t payment, char out[24])
{
	char tmp[24];
	int n = 0;
	uint64_t r = run;

	/* "TPCrrrrrrrr-pppppp": 8-digit run, 6-digit payment, 18 characters */
	tmp[n++] = 'T', tmp[n++] = 'P', tmp[n++] = 'C';
	for (int i = 7; i >= 0; i--, r /= 10)
		tmp[n + i] = (char)('0' + r % 10);
	n += 8;
	tmp[n++] = '-';
	for (int i = 5; i >= 0; i--, payment /= 10)
		tmp[n + i] = (char)('0' + payment % 10);
	n += 6;
	tmp[n] = 0;
	memcpy(out, tmp, (size_t)n + 1);
}

/** What the store holds for one sending. Byte pointers are in the caller's arena. */
typedef struct tpc_stored {
	uint64_t sequence;
	uint64_t committed_ms;
	uint8_t hash[TPC_HASH_LEN];
	uint8_t hash_len;      /* 16: XXH3-128, 32: BLAKE2b-256 (Payload hash, above) */
	const uint8_t *result; /* packed tpclear.Result as stored (ledger fields not included) */
	size_t result_len;
	tpc_blob_t native;
} tpc_stored_t;

/** Copy a value of exactly @p size bytes (one of the layouts above) out of LMDB's memory.
 *  For the records without a checksum (payruns, payrun_ids, payments); the others have their
 *  own readers below. @return 0, or TPC_EDB when the value has another size. */
int tpc_records_read(const MDB_val *v, void *out, size_t size);

/* ---- checksums ------------------------------------------------------------------------------ */

/** The sub-databases whose records carry a checksum: the metric's label and verify's names. */
enum tpc_rec_db {
	TPC_REC_ANSWERS = 0,
	TPC_REC_LINES,
	TPC_REC_POSTINGS,
	TPC_REC_PAYABLES,
	TPC_REC_PAID,
	TPC_REC_SETTLEMENTS,
	TPC_REC_UNPAID,
	TPC_REC__COUNT
};

/** @p db's name as docs/ledger.md and tpclear_store_damaged_total{db=...} write it. */
const char *tpc_records_db_name(enum tpc_rec_db db);

/** XXH3-64 of @p n bytes at @p p, never 0 (0 marks a record written without a sum). Pure. */
uint64_t tpc_records_sum(const void *p, size_t n);

/** Log that the record of @p db under @p key is damaged (failed its checksum or cannot be a
 *  record of @p db: T00055, not served) and count it for tpclear_store_damaged_total. The
 *  decoders never call it (verify reports on its own): the daemon's read paths do. Any thread.
 */
void tpc_records_damaged(enum tpc_rec_db db, const MDB_val *key);

/** @p key of a record of @p db as the log and tpclear verify name it ("sequence 12 line 3",
 *  "posting 40"; hex when it has no such shape), NUL-terminated in @p out. */
void tpc_records_key_text(enum tpc_rec_db db, const MDB_val *key, char *out, size_t cap);

/** Records of @p db this process found damaged so far (any thread; the metrics scrape). */
uint64_t tpc_records_damaged_total(enum tpc_rec_db db);

/** Set the sum of a record whose other fields are final (writer: postings, payables, paid;
 *  worker: lines). */
void tpc_records_line_seal(tpc_line_rec_t *r);
void tpc_records_posting_seal(tpc_posting_rec_t *p);
void tpc_records_payable_seal(tpc_payable_t *p);
void tpc_records_paid_seal(tpc_paid_t *p);

/** Read a value of "lines" (104 bytes, checked; or 96, schema 4: read with sum 0).
 *  @return 0, or TPC_EDAMAGED (another size, or a sum that does not match). */
int tpc_records_line_read(const MDB_val *v, tpc_line_rec_t *out);
/** Read a value of "postings" (sum 0: written before schema 5, read unchecked).
 *  @return 0 or TPC_EDAMAGED. */
int tpc_records_posting_read(const MDB_val *v, tpc_posting_rec_t *out);
/** Seal a posting pair (writer). */
void tpc_records_posting_pair_seal(tpc_posting_pair_t *p);
/** The postings of the value @p v of "postings" under key @p k: one (a posting of 96 bytes:
 *  payments' postings, and every posting before schema 6) or two (a line part's pair, 56
 *  bytes: the charge numbered as the key, the payable the next number). Each comes with its
 *  number in @p num and the record's sum in its sum field (0: unchecked, schema 4).
 *  @return 1 or 2, or TPC_EDAMAGED (another size, a key that is not a number, a sum that
 *  does not match). */
int tpc_records_postings_read(const MDB_val *k, const MDB_val *v, tpc_posting_rec_t out[2],
                              uint64_t num[2]);
/** The two postings of pair @p q: the charge, then the payable (the number is the caller's). */
void tpc_records_pair_expand(const tpc_posting_pair_t *q, tpc_posting_rec_t out[2]);
/** Seal the running balances @p b (magic and rows set here). */
void tpc_records_balances_seal(tpc_balances_t *b);
/** Read meta "balances". @return 0 or TPC_EDAMAGED (size, magic, rows or sum). */
int tpc_records_balances_read(const MDB_val *v, tpc_balances_t *out);
/** Seal a value of "unpaid" of @p size bytes (its sum over the header and the bits). */
void tpc_records_unpaid_seal(void *value, size_t size);
/** Check a value of "unpaid": magic, size for its lines, sum. *@p bits points at its bits in
 *  @p v (LMDB's memory). @return 0 or TPC_EDAMAGED. */
int tpc_records_unpaid_read(const MDB_val *v, tpc_unpaid_hdr_t *h, const uint8_t **bits);
/** Read a value of "payables" (sum 0: unchecked). @return 0 or TPC_EDAMAGED. */
int tpc_records_payable_read(const MDB_val *v, tpc_payable_t *out);
/** Read a value of "paid" (32 bytes, checked; or 24, schema 4: sum 0).
 *  @return 0 or TPC_EDAMAGED. */
int tpc_records_paid_read(const MDB_val *v, tpc_paid_t *out);

/** Check the sum of a value of "answers" without decoding it.
 *  @return 0 (sum matches), 1 (a TPA2 answer: no sum to check) or TPC_EDAMAGED. */
int tpc_records_answer_check(const void *value, size_t size);

/* ---- LZ4 blocks: answers, payloads and settlements ------------------------------------------ */

/** Room an LZ4 block of @p len bytes may need; 0 when @p len is beyond LZ4's int sizes (such
 *  bytes are stored as they are). */
size_t tpc_records_lz4_bound(size_t len);

/** Compress @p len bytes at @p src into @p dst (@p cap bytes, tpc_records_lz4_bound(len)).
 *  @return the block's length when it saves an eighth or more, else 0: then the bytes are
 *  stored as they are (every read would pay the decompression for little space). */
size_t tpc_records_lz4_pack(const void *src, size_t len, void *dst, size_t cap);

/** Decompress the @p n bytes of a block at @p src into exactly @p raw bytes at @p dst.
 *  @return 0, or TPC_EDB (not a block of that size: never a write past @p raw). */
int tpc_records_lz4_unpack(const void *src, size_t n, void *dst, size_t raw);

/* ---- settlements ------------------------------------------------------------------------- */

/** Build a value of "settlements" in @p arena: the TPS2 header (its sum set), then the packed
 *  Settlement (@p proto, @p proto_len) and @p native (NULL or empty: none) as one LZ4 block
 *  when it saves an eighth, else as they are.
 *  @param[out] out, out_len  the value, in @p arena (valid until it is reset)
 *  @return 0, TPC_EINVAL (parts beyond 4 GiB) or TPC_ENOMEM. */
int tpc_records_settlement_encode(const uint8_t *proto, size_t proto_len, const tpc_blob_t *native,
                                  tpc_arena_t *arena, const uint8_t **out, size_t *out_len);

/** Decode a value of "settlements" (TPS2, its sum checked, or TPS1) into @p arena.
 *  @return 0, TPC_EDAMAGED (a sum that does not match, or not a settlement), TPC_EDB (lengths
 *  that do not add up in a TPS1 value, a block that does not decompress) or TPC_ENOMEM. */
int tpc_records_settlement_decode(const void *value, size_t size, tpc_arena_t *arena,
                                  tpc_settlement_view_t *out);

/* ---- answers and lines ---------------------------------------------------------------------- */

/** Fill the header of @p job's stored answer (committed at @p committed_ms). */
void tpc_records_answer_header(const tpc_job_t *job, uint64_t committed_ms, tpc_answer_hdr_t *h);

/** Size of @p job's stored answer value: the header, then the result and native bytes (or
 *  the worker's LZ4 block of both, job->stored). */
size_t tpc_records_answer_size(const tpc_job_t *job);

/** The sum of the bytes @p job's stored answer holds after its header (the worker's LZ4 block,
 *  or the result then the native answer): computed by the worker, off the writer's path. */
uint64_t tpc_records_answer_body_sum(const tpc_job_t *job);

/** Write @p h and @p job's answer bytes to @p out (tpc_records_answer_size() bytes), with the
 *  header's sum: seeded with job->body_sum when the worker computed it over these bytes
 *  (job->body_summed), else computed here. */
void tpc_records_answer_encode(const tpc_job_t *job, const tpc_answer_hdr_t *h, void *out);

/** Read the header of a value of "answers" (no decompression): sum and magic checked (TPA2:
 *  none to check), sender, key and format NUL-terminated.
 *  @return 0, TPC_EDAMAGED or TPC_EDB (not an answer of any schema). */
int tpc_records_answer_header_read(const void *value, size_t size, tpc_answer_hdr_t *h);

/** Decode a value of "answers" (header, then result and native, stored as they are or as one
 *  LZ4 block) into @p arena (borrowed; @p out points into it). The sum is checked first.
 *  @return 0, TPC_EDAMAGED, TPC_EDB or TPC_ENOMEM. */
int tpc_records_answer_decode(const void *value, size_t size, tpc_arena_t *arena,
                              tpc_stored_t *out);

/** Size of the "scheme_refs" value of reference @p ref (NUL-terminated). */
size_t tpc_records_scheme_ref_size(const char *ref);

/** Write the "scheme_refs" value of (@p scheme, @p ref, @p org) to @p out, which holds
 *  tpc_records_scheme_ref_size(@p ref) bytes. @p org may be NULL; longer than 11 bytes it is
 *  cut (a BCE is 10 digits). */
void tpc_records_scheme_ref_encode(unsigned scheme, const char *ref, const char *org, void *out);

/** Decode a value of "scheme_refs", in this schema's layout or in schema 3's 48 bytes.
 *  @return 0, or TPC_EDB when it is neither. */
int tpc_records_scheme_ref_read(const MDB_val *v, tpc_scheme_ref_view_t *out);

/* ---- lines blocks (schema 6) ------------------------------------------------------------- */

/** Size of the lines block of @p s. */
size_t tpc_records_lines_size(const tpc_sending_t *s);

/** Write the lines block of @p s to @p out (tpc_records_lines_size() bytes): header with its
 *  body sum (first_posting, committed_ms and the header's sum left to
 *  tpc_records_lines_seal()), the invoices' payees (the provider under third-party payment,
 *  the insured for an eAttest), the lines, their findings. Refused lines charge no budget. */
void tpc_records_lines_block(const tpc_sending_t *s, void *out);

/** Set the writer's fields of the block at @p block (its first posting, its commit time) and
 *  the header's sum. */
void tpc_records_lines_seal(void *block, uint64_t first_posting, uint64_t committed_ms);

/** Reads "lines" in either layout, one sending at a time: the block of the sending asked last
 *  is kept (its sum checked once), so walking a sending's lines costs one lookup. Valid while
 *  its transaction lives; the caller's memory. */
typedef struct tpc_lines {
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t seq;         /* the sending of block (0: none held) */
	const uint8_t *block; /* in LMDB's map */
	size_t size;
	tpc_lines_hdr_t h;
	int bad; /* the held block failed its sum */
} tpc_lines_t;

void tpc_lines_init(tpc_lines_t *l, MDB_txn *txn, MDB_dbi dbi);

/** Line @p line of sending @p seq as a tpc_line_rec_t (a block's line with its invoice's
 *  mutuality and the block's sum; a schema 3-5 record as it is). @p payee may be NULL; it gets
 *  the invoice's payee of a block's line, zeroed for an older record.
 *  @return 0, MDB_NOTFOUND (no such line), TPC_EDAMAGED (its sum, or its block's, does not
 *  match) or another LMDB code. */
int tpc_lines_get(tpc_lines_t *l, uint64_t seq, uint32_t line, tpc_line_rec_t *out,
                  tpc_line_payee_t *payee);

/** The block of sending @p seq, when it has one: *@p h its header.
 *  @return 1 (a block), 0 (none: older records, or no lines), TPC_EDAMAGED or an LMDB code. */
int tpc_lines_block(tpc_lines_t *l, uint64_t seq, tpc_lines_hdr_t *h);

/** Read a lines block standing alone (verify's walk): header and body sums checked.
 *  @return 0 or TPC_EDAMAGED (also for lengths that do not add up). */
int tpc_records_lines_check(const MDB_val *v, tpc_lines_hdr_t *h);

/** In a block that failed its check, whether line @p line fails its own sum (or lies outside
 *  the value): what verify names. */
int tpc_records_lines_line_damaged(const MDB_val *v, uint32_t line);

/** Compute the body and header sums of the block at @p block (@p size bytes) again after an
 *  edit (tests and tools: a rewrite, not damage). */
void tpc_records_lines_resum(void *block, size_t size);

/** The line record of line @p line (of invoice @p invoice) of @p s, sealed (its sum set).
 *  Refused lines charge no budget. */
void tpc_records_line_encode(const tpc_sending_t *s, uint32_t line, uint32_t invoice,
                             tpc_line_rec_t *out);

/** Encode the lines block of @p job's sending into its arena (job->lines_block, its body sum
 *  computed), so that the writer only copies it and seals its header: the worker's side of the
 *  checksums. @return 0, or TPC_ENOMEM (job->lines_block stays NULL and the writer encodes it
 *  itself). */
int tpc_records_lines_encode(tpc_job_t *job);

#endif /* TPC_STORE_RECORDS_H */
