/* adapters/eattest/eattest.h - the built-in "eattest" adapter: one electronic attestation.
 *
 * An eAttest is care the patient paid the provider for, reimbursed to the insured
 * (docs/formats/eattest.md). The payload is a tpclear.Attestation protobuf message; the request
 * type REQUEST_EATTEST sends it through its own lane (an express worker and the front of the
 * ledger writer's queue), so an attestation is not answered behind large sendings. decode()
 * turns it into a sending of one invoice and one line, paid to the patient
 * (TPC_PAYEE_PATIENT); a cancellation (`cancels`) is a credit note of the cancelled
 * attestation, repeating its fields with negative units. No native answer: the Result is the
 * answer (reimbursement, scheme, the attestation number as the key).
 */
#ifndef TPC_EATTEST_H
#define TPC_EATTEST_H

#include "adapter.h"

/** The descriptor, registered by adapters/registry.c. */
extern const tpc_adapter_t tpc_eattest_adapter;

#endif
