/* adapters/efact/efact_trailer.h - the 450-character trailer of an 800-character record of
 * the answers 920098 / 920099 / 920900 (efact-real.md 1.1, docs/formats/efact.md "Record
 * trailer"). Shared by the result answers (efact_answer.c) and the settlement
 * (efact_settlement.c), which reads back the record's place in the sending from it.
 *
 * Positions are 1-based, as in the docs; the offsets below are 0-based (pos - 1).
 */
#ifndef TPC_EFACT_TRAILER_H
#define TPC_EFACT_TRAILER_H

#include "adapter.h"

#include <stdint.h>

/* 0-based offsets of the trailer zones in an 800-character record. */
enum {
	TPC_EFACT_TR_START = 350,   /* 351: the trailer begins */
	TPC_EFACT_TR_MONTH = 361,   /* 362-367 invoicing year and month */
	TPC_EFACT_TR_MUT = 367,     /* 368-370 destination mutuality */
	TPC_EFACT_TR_REF_A = 412,   /* 413-434 our reference, account A */
	TPC_EFACT_TR_REF_B = 434,   /* 435-456 our reference, account B */
	TPC_EFACT_TR_SLOTS = 456,   /* 457-477 three error slots: letter + code */
	TPC_EFACT_TR_ZONE114 = 477, /* 478-489 amount accepted / paid (sign + 11 digits) */
	TPC_EFACT_TR_INDEX = 794,   /* 795-800 index of the record within its invoice */
};

/** What one record's trailer says. */
typedef struct tpc_efact_trailer {
	const char *s300;              /* the sending's segment 300, 160 characters (borrowed) */
	const char *et20;              /* the ET20 of the record's invoice, NULL outside one */
	uint32_t ordinal;              /* 1-based place of the record in the sending */
	uint32_t index;                /* 1-based place within its invoice (ET20 = 1), 0: none */
	int account_b;                 /* the sending uses account B (ET10 position 9 is 1) */
	const tpc_finding_t *slots[3]; /* up to three errors, NULL = empty slot */
	int with_amount;               /* write amount_cents at 478-489 (ET50, ET80) */
	int64_t amount_cents;
} tpc_efact_trailer_t;

/** Write the 800-character answer record of @p rec (350 characters as sent) into @p out: the
 *  record as sent, then the trailer of @p t. ET10 trailers are all '1', ET90 trailers all '9'
 *  (efact-real.md 1.1), their error slots excepted when they carry errors.
 *  @param[out] out  800 characters (no NUL) */
void tpc_efact_trailer_write(char *out, const char *rec, const tpc_efact_trailer_t *t);

/** The 1-based place in the sending of an 800-character record written by
 *  tpc_efact_trailer_write(), read back from our reference (413-434).
 *  @return 0, or TPC_ADAPTER_EINVAL when the reference is not ours (ET10 and ET90 have none). */
int tpc_efact_trailer_ordinal(const char *rec800, uint32_t *ordinal);

#endif /* TPC_EFACT_TRAILER_H */
