/* engine/store/records.h - the ledger's sub-databases and record layouts.
 *
 * Shared by the modules that read or write the ledger environment: engine/ledger/ledger.c (the writer
 * thread and readers), engine/payments/payrun.c (payment runs, run by the writer thread) and
 * engine/ledger/ledger_query.c (balances, histories and exports, run by workers on read
 * transactions). Not a public API: other modules go through ledger.h. docs/ledger.md describes
 * every sub-database for mdb_dump users; keep it in step with this file.
 *
 * Keys are big endian so that LMDB's byte order is numeric order; values are the structs below
 * in the machine's byte order, read with memcpy (LMDB aligns values on two bytes only).
 */
#ifndef TPC_LEDGER_DB_H
#define TPC_LEDGER_DB_H

#include "pipeline/job.h"
#include "clearing/tariff.h"

#include <lmdb.h>
#include <stdint.h>
#include <string.h>

#define TPC_LEDGER_SCHEMA 3u
#define TPC_ANSWER_MAGIC  0x32415054u /* "TPA2" little endian */
#define TPC_ANSWER_LZ4    1u          /* tpc_answer_hdr_t.flags */

/** Every sub-database handle, opened once by tpc_ledger_open(). */
typedef struct tpc_ledger_db {
	MDB_env *env;
	MDB_dbi meta, sendings, answers, lines, postings;
	MDB_dbi payables;     /* (sequence, line, part) -> tpc_payable_t: accepted, not yet paid */
	MDB_dbi paid;         /* (sequence, line, part) -> tpc_paid_t: which payment paid it */
	MDB_dbi scheme_refs;  /* (sequence, line) -> tpc_scheme_ref_t: lines paid by a scheme */
	MDB_dbi payruns;      /* run (u64) -> tpc_payrun_rec_t */
	MDB_dbi payrun_ids;   /* sender NUL request id -> tpc_payrun_id_t: idempotent runs */
	MDB_dbi payments;     /* run (u64) + payment (u32) -> tpc_payment_rec_t */
	MDB_dbi settlements;  /* sequence (u64) + run (u64) + payment (u32) -> settlement */
	tpc_ledger_dbs_t dbs; /* dedup, units, invoices and reference data (tariff.h) */
} tpc_ledger_db_t;

/** Header of a stored answer (value of "answers"), then the packed Result, then the native
 *  answer bytes. */
typedef struct tpc_answer_hdr {
	uint32_t magic;
	uint32_t result_len;
	uint32_t native_len;
	uint32_t flags; /* TPC_ANSWER_LZ4: result and native stored as one LZ4 block */
	char native_type[16];
	uint8_t hash[TPC_HASH_LEN];
	uint64_t committed_ms; /* accepted or refused: durable decision */
	uint64_t sequence;
	uint64_t received_ms;  /* received at the intake */
	uint64_t validated_ms; /* decoded, validated and tariffed by a worker */
	char sender[TPC_SENDER_MAX];
	char key[TPC_KEY_MAX];
	char format[32];
} tpc_answer_hdr_t;

/** One line verdict (value of "lines", 96 bytes). */
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
} tpc_line_rec_t;

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
	uint8_t pad2[16];
} tpc_posting_rec_t;

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
	uint64_t pad3;
} tpc_payable_t;

/** Key of "payables" and "paid": sequence (u64 BE) + line (u32 BE) + part (0 = the insurer
 *  part, 1 = the patient share when a scheme pays it to another budget or the same one). */
#define TPC_PAYABLE_KEY 13

/** The scheme reference of a line (value of "scheme_refs"): what an institution's statement
 *  needs (SPP IS: the CPAS and the decision). */
typedef struct tpc_scheme_ref {
	uint8_t scheme; /* enum tpc_scheme */
	uint8_t pad[3];
	char ref[33]; /* Mediprima decision, prison, Fedasil structure, war victims category, AC/BC
	               */
	char org[11]; /* Mediprima: CPAS BCE */
} tpc_scheme_ref_t;

/** Which payment paid a line (value of "paid"). */
typedef struct tpc_paid {
	uint64_t run;
	uint32_t payment;
	uint32_t pad;
	uint64_t paid_ms;
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
	char name[71];
	char end_to_end[24]; /* also the payment reference of the 920900 */
	uint8_t pad2[6];
} tpc_payment_rec_t;

_Static_assert(sizeof(tpc_answer_hdr_t) == 320, "stored layout");
_Static_assert(sizeof(tpc_line_rec_t) == 96, "stored layout");
_Static_assert(sizeof(tpc_posting_rec_t) == 96, "stored layout");
_Static_assert(sizeof(tpc_payable_t) == 56, "stored layout");
_Static_assert(sizeof(tpc_paid_t) == 24, "stored layout");
_Static_assert(sizeof(tpc_scheme_ref_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_payrun_rec_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_payrun_id_t) == 48, "stored layout");
_Static_assert(sizeof(tpc_payment_rec_t) == 184, "stored layout");

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

#endif /* TPC_LEDGER_DB_H */
