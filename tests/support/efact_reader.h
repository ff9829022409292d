/* tests/support/efact_reader.h - a reader of eFact answers written from the layouts of
 * shared/domain/efact-real.md section 1 (and efact.md section 6 for the error slots), as a
 * hospital's software reads them. It shares no code with adapters/efact: it exists to check
 * what the encoder writes against the real layouts, so it knows only what those pages say.
 *
 *   931000          segment 200 (67) + segment 300 (160), nothing else.
 *   920999          200 (67) + 300 (160) + records of 350 characters, each a 95 or a 96 with a
 *                   2-digit error after each zone.
 *   920098 / 920099 / 920900
 *                   200 (67) + 300 (610) + every 800 characters after position 677 one record,
 *                   dispatched on its type (1-2); anything shorter than 800 left at the end, or
 *                   a 95/96 among them, makes the answer unreadable (what the real clients do).
 *                   Records 10..90 carry the trailer of efact-real.md 1.1 from position 351:
 *                   ET10's all '1', ET90's all '9', the others' zones read below.
 *
 * Positions in comments are 1-based and inclusive.
 */
#ifndef TPC_TEST_EFACT_READER_H
#define TPC_TEST_EFACT_READER_H

#include <stddef.h>
#include <stdint.h>

/** One error slot of a trailer (457-463, 464-470, 471-477). */
typedef struct efr_slot {
	char letter;  /* B, F, R, S, E... */
	char code[7]; /* six characters, NUL-terminated; any code, known or not */
} efr_slot_t;

/** One record of an answer. Strings are NUL-terminated copies of the zones. */
typedef struct efr_record {
	const char *raw; /* its first character in the answer (borrowed) */
	size_t len;      /* 800, or 350 in a 920999 */
	int type;        /* 1-2 as a number */
	uint32_t seq;    /* 3-8, the sequence number as sent (records 10..90), 0 when not digits */
	/* trailer of a record 10..90 at 800 characters */
	char filler;               /* '1' when 351-800 are all '1', '9' when all '9', 0 otherwise */
	char month[7];             /* 362-367 invoicing year and month */
	char mutuality[4];         /* 368-370 destination mutuality */
	char third_party[13];      /* 395-406 third-party number (or 9s) */
	char ct1[4], ct2[4];       /* 407-409, 410-412 */
	char ref_a[23], ref_b[23]; /* 413-434, 435-456 */
	efr_slot_t slots[3];
	unsigned nslots; /* the slots that hold an error */
	uint32_t index;  /* 795-800 index of the record within its invoice */
	/* 478-489 (zone 114 of efact.md 6): a sign and 11 digits of cents - the amount paid on
	 * an ET50 or an ET80 of a 920900 - or 12 digits where nothing is written (has_amount 0) */
	int has_amount;
	long long amount;
	/* 920999: the 2-digit errors of a record 95/96 that are not 00 */
	unsigned nzone_errors;
	struct {
		unsigned pos; /* 1-based position of the 2-digit field */
		char value[3];
	} zone_errors[10];
} efr_record_t;

/** A parsed answer. */
typedef struct efr_answer {
	char type[7];     /* 200: 1-6 */
	char status[3];   /* 200: 17-18 message status */
	const char *s200; /* 67 characters (borrowed) */
	const char *s300; /* 160 or 610 characters (borrowed) */
	size_t s300_len;
	int share;         /* 610-character 300: 141-145, hundredths of a percent; -1 otherwise */
	char refusal[3];   /* 610-character 300: 148-149 */
	efr_record_t *rec; /* malloc'd, efr_release() */
	uint32_t nrec;
} efr_answer_t;

/** Parse @p buf (borrowed; @p out points into it) as one eFact answer.
 *  @param[out] why  the reason when it is not readable
 *  @return 0, or -1 when a real client could not read it (then @p out holds nothing to
 *          release). */
int efr_parse(const uint8_t *buf, size_t len, efr_answer_t *out, char *why, size_t n);

/** Free what efr_parse() allocated. Accepts a zeroed answer. */
void efr_release(efr_answer_t *a);

/** The first record of @p type at or after index @p from, or -1. */
int efr_find(const efr_answer_t *a, int type, uint32_t from);

#endif
