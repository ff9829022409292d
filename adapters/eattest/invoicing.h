/* adapters/eattest/invoicing.h - the eAttest invoicing number, OOO-1-YYMMDD-NNNNNNN-CC.
 *
 * The insurer gives every accepted Kmehr attestation an invoicing number (docs/formats/
 * eattest.md, "The invoicing number"); a cancellation names it. The real rule is not public:
 * ours, documented there, is
 *  - OOO: the insurer's code, 600 (CAAMI-HZIV, the only insurer tpclear clears for);
 *  - 1: as in every public example;
 *  - YYMMDD: the date of the Kmehr message (header/date);
 *  - NNNNNNN: the first 7 decimal digits of the request's BLAKE2b digest (the number must be in
 *    the answer, which is encoded before the ledger gives the sending its sequence); the
 *    engine's invoice-number index, written by the one ledger writer, keeps it unique per
 *    provider (a taken number is refused 202420, never stored twice);
 *  - CC: 97 - (OOO1YYMMDDNNNNNNN mod 97), two digits (01-97), as the Belgian company-number and
 *    structured-communication checks: any one wrong digit or two swapped digits change it.
 */
#ifndef TPC_EATTEST_INVOICING_H
#define TPC_EATTEST_INVOICING_H

#include <stddef.h>
#include <stdint.h>

/** Length of an invoicing number (no NUL). */
#define TPC_INVOICING_LEN 23

/** The insurer code tpclear answers with. */
#define TPC_INVOICING_INSURER "600"

/** Make the invoicing number of a request dated @p yyyymmdd (valid date) whose payload is
 *  @p buf. @param[out] out  23 characters and a NUL. */
void tpc_invoicing_make(uint32_t yyyymmdd, const uint8_t *buf, size_t len,
                        char out[TPC_INVOICING_LEN + 1]);

/** Why tpc_invoicing_check() refused a number. */
enum tpc_invoicing_fault {
	TPC_INVOICING_OK = 0,
	TPC_INVOICING_SHAPE = 1,        /* not OOO-1-YYMMDD-NNNNNNN-CC, digits where digits go */
	TPC_INVOICING_CHECK = 2,        /* the check pair does not match */
	TPC_INVOICING_OTHER_INSURER = 3 /* another insurer's code */
};

/** Check @p p (@p n bytes, as read). @return an enum tpc_invoicing_fault. */
int tpc_invoicing_check(const char *p, size_t n);

#endif
