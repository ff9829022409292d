/* adapters/efact/efact_trailer.c - the trailer of an 800-character answer record (see
 * efact_trailer.h and docs/formats/efact.md, "Record trailer").
 *
 * The zones efact-real.md 1.1 names are filled from the sending itself (segment 300 and the
 * invoice's ET20), so the answer says what the sender wrote: the insurers echo the invoicing
 * month, the destination mutuality, the invoicing provider and the beneficiary's CT1/CT2 in
 * the same way. "Our reference" (413-434 / 435-456), the insurer's own reference in a real
 * answer, is tpclear's reference of the record: sending number / invoicing month /
 * destination mutuality / the record's place in the sending, e.g. "007/202611/300/000003".
 * It has the shape of the payment reference real ET91s carry (efact-real.md 1.4:
 * "186/202403/900/") extended with the record, so a sender can match any echoed record with
 * its own line even when the sequence number (3-8) was what was wrong; the settlement reads
 * the place back from it.
 */
#include "efact/efact_trailer.h"

#include "common/check.h"

#include <string.h>

/* The empty error slot: a space and six zeros, the first of the three spellings real answers
 * use (efact-real.md 1.1), the one a reader that knows only one is most likely to know. */
static const char empty_slot[] = " 000000";

/* Length of "SSS/YYYYMM/MMM/OOOOOO". */
#define REF_LEN 21

static int digits(const char *p, size_t n)
{
	return tpc_check_all_digits(p, n);
}

/* Copy @p n characters of the zone at @p src when they are digits, else @p fill. */
static void copy_digits(char *dst, const char *src, size_t n, char fill)
{
	if (src && digits(src, n))
		memcpy(dst, src, n);
	else
		memset(dst, fill, n);
}

/* "SSS/YYYYMM/MMM/OOOOOO" into the 22-character zone at @p dst (left-aligned, space). */
static void put_reference(char *dst, const tpc_efact_trailer_t *t, const char *mut)
{
	memset(dst, ' ', 22);
	copy_digits(dst, t->s300 + 8, 3, '0');
	dst[3] = '/';
	copy_digits(dst + 4, t->s300, 6, '0');
	dst[10] = '/';
	memcpy(dst + 11, mut, 3);
	dst[14] = '/';
	tpc_check_put_uint(dst + 15, 6, t->ordinal);
}

static void put_slots(char *out, const tpc_efact_trailer_t *t)
{
	for (int k = 0; k < 3; k++) {
		char *slot = out + TPC_EFACT_TR_SLOTS + 7 * k;
		const tpc_finding_t *f = t->slots[k];

		if (!f) {
			memcpy(slot, empty_slot, 7);
			continue;
		}
		slot[0] = f->letter;
		memcpy(slot + 1, f->code, 6);
	}
}

void tpc_efact_trailer_write(char *out, const char *rec, const tpc_efact_trailer_t *t)
{
	char mut[3];

	memcpy(out, rec, 350);
	/* ET10 and ET90 are the sending's own records: their trailer is a filler */
	if ((rec[0] == '1' || rec[0] == '9') && rec[1] == '0') {
		memset(out + TPC_EFACT_TR_START, rec[0], 800 - TPC_EFACT_TR_START);
		if (t->slots[0])
			put_slots(out, t);
		return;
	}
	memset(out + TPC_EFACT_TR_START, '0', 800 - TPC_EFACT_TR_START);
	/* 351-361 sending number and creation date (efact.md 6), 362-367 invoicing month */
	copy_digits(out + 350, t->s300 + 8, 3, '0');
	copy_digits(out + 353, t->s300 + 13, 8, '0');
	copy_digits(out + TPC_EFACT_TR_MONTH, t->s300, 6, '0');
	/* the invoice's destination mutuality (ET20 85-87) */
	copy_digits(mut, t->et20 ? t->et20 + 84 : NULL, 3, '0');
	memcpy(out + TPC_EFACT_TR_MUT, mut, 3);
	/* 395-406 the invoicing provider (ET20 56-67), all 9s when there is none to name */
	copy_digits(out + 394, t->et20 ? t->et20 + 55 : NULL, 12, '9');
	/* 407-412 CT1 and CT2 (ET20 132-134 and 135-137) */
	copy_digits(out + 406, t->et20 ? t->et20 + 131 : NULL, 6, '0');
	put_reference(out + TPC_EFACT_TR_REF_A, t, mut);
	if (t->account_b)
		put_reference(out + TPC_EFACT_TR_REF_B, t, mut);
	else
		memset(out + TPC_EFACT_TR_REF_B, ' ', 22);
	put_slots(out, t);
	if (t->with_amount)
		tpc_check_put_signed(out + TPC_EFACT_TR_ZONE114, 12, t->amount_cents);
	tpc_check_put_uint(out + TPC_EFACT_TR_INDEX, 6, t->index);
}

int tpc_efact_trailer_ordinal(const char *rec800, uint32_t *ordinal)
{
	const char *r = rec800 + TPC_EFACT_TR_REF_A;
	uint64_t v;

	if (r[3] != '/' || r[10] != '/' || r[14] != '/' || !digits(r, 3) || !digits(r + 4, 6) ||
	    !digits(r + 11, 3) || tpc_check_parse_uint(r + 15, 6, &v) != 0 || v == 0 ||
	    !tpc_check_all_char(r + REF_LEN, 22 - REF_LEN, ' '))
		return TPC_ADAPTER_EINVAL;
	*ordinal = (uint32_t)v;
	return 0;
}
