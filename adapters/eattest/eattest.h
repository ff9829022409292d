/* adapters/eattest/eattest.h - the built-in "eattest" adapter: one electronic attestation.
 *
 * An eAttest is care the patient paid the provider for, reimbursed to the insured
 * (docs/formats/eattest.md). The payload is either a tpclear.Attestation protobuf message (the
 * canonical form) or the Kmehr eAttest v3 request MyCareNet clients write (adapters/eattest/
 * kmehr.h); the adapter tells them apart by their first bytes (tpc_eattest_is_kmehr()). The
 * request type REQUEST_EATTEST sends either through its own lane (an express worker and the
 * front of the ledger writer's queue), so an attestation is not answered behind large
 * sendings. decode() turns it into a sending of one invoice and one line per service, paid to
 * the patient (TPC_PAYEE_PATIENT), through the one rule path of attestation.h; a cancellation
 * is a credit note of the cancelled attestation. The protobuf form has no native answer (the
 * Result is the answer); the Kmehr form is answered in Kmehr too (kmehr_answer.h): the
 * invoicing number and, per service, the reimbursed fee.
 */
#ifndef TPC_EATTEST_H
#define TPC_EATTEST_H

#include "adapter.h"

/** The descriptor, registered by adapters/registry.c. */
extern const tpc_adapter_t tpc_eattest_adapter;

/** 1 when @p buf is a Kmehr (XML) request: its first byte, after an optional UTF-8 byte order
 *  mark and white space, is '<'. A packed tpclear.Attestation that could be cleared never
 *  starts so (eattest.c says why). */
int tpc_eattest_is_kmehr(const uint8_t *buf, size_t len);

#endif
