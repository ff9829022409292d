/* adapters/eattest/attestation.h - the one internal form of an electronic attestation, and the
 * one rule path that turns it into a sending.
 *
 * An attestation reaches tpclear in two forms (docs/formats/eattest.md): the canonical
 * tpclear.Attestation protobuf message (one service) and the Kmehr eAttest v3 request that
 * MyCareNet clients write (a `cga` and one `cgd` per service, adapters/eattest/kmehr.h). Each
 * reader fills a tpc_attestation_t; tpc_attestation_sending() alone checks it and builds the
 * sending the engine clears (one invoice paid to the patient, one line per service), so both
 * forms are judged by the same checks and the same codes.
 *
 * Every value carries where it was read (tpc_attest_at_t): a protobuf field number, or for
 * Kmehr the transaction and item ordinals (docs/formats/eattest.md, "Where a finding points").
 * The finding codes (T400nn, and the official ones whose rule is the same) live in one table
 * here, shared by both readers and the Kmehr answer.
 */
#ifndef TPC_EATTEST_ATTESTATION_H
#define TPC_EATTEST_ATTESTATION_H

#include "adapter.h"

#include <stdint.h>

/** Where a value was read: the finding's record and pos (tpc_finding_t). */
typedef struct tpc_attest_at {
	uint32_t record;
	uint16_t pos;
} tpc_attest_at_t;

/** One service (a protobuf Attestation's fields; a Kmehr `cgd`). Amounts in cents, as read
 *  (the reader refuses what it cannot read exactly). */
typedef struct tpc_attest_service {
	uint32_t record;          /* the line's record: protobuf 2, Kmehr the cgd's ordinal */
	tpc_view_t code;          /* nomenclature code, 6 digits expected */
	uint32_t date;            /* YYYYMMDD, 0 = none or not a date */
	int64_t units;            /* 1 or more */
	int64_t fee_paid_cents;   /* what the patient paid for it */
	int64_t supplement_cents; /* supplement the patient paid on top (Kmehr), else 0 */
	int64_t real_cost_cents;  /* care abroad only */
	tpc_view_t country;       /* care abroad: ISO 3166 alpha-2, empty or BE = Belgium */
	tpc_view_t reference;     /* part of the line's identity */
	tpc_view_t decision;      /* the insurer's decision reference (Kmehr), or empty */
	tpc_attest_at_t at_code, at_date, at_units, at_fee, at_country, at_cost;
	uint8_t reported; /* TPC_ATTEST_* bits: values the reader already refused */
} tpc_attest_service_t;

/** tpc_attest_service_t.reported: the reader refused that value with its own code (missing,
 *  unreadable), so the rule path does not refuse it a second time. */
enum tpc_attest_reported {
	TPC_ATTEST_CODE = 1u << 0,
	TPC_ATTEST_DATE = 1u << 1,
	TPC_ATTEST_UNITS = 1u << 2,
	TPC_ATTEST_FEE = 1u << 3,
};

/** An attestation. Views point into the payload or the sending's arena. */
typedef struct tpc_attestation {
	tpc_view_t number;   /* the invoice number the engine indexes (unique per provider) */
	tpc_view_t provider; /* NIHII of the provider */
	tpc_view_t patient;  /* NISS or BIS number of the insured */
	tpc_view_t cancels;  /* the cancelled attestation's number, empty = not a cancellation */
	int number_optional; /* a Kmehr cancellation has no number of its own */
	uint32_t record;     /* the invoice's record (protobuf 1, Kmehr the cga's ordinal) */
	tpc_attest_at_t at_number, at_provider, at_patient;
	int64_t total_paid_cents; /* what the patient paid in all */
	uint32_t nservices;
	tpc_attest_service_t *services; /* host memory */
} tpc_attestation_t;

/** The largest amount an attestation may carry: 11 digits of cents, as an eFact amount zone. */
#define TPC_ATTEST_MAX_CENTS 99999999999LL

/** Build the sending of @p a into @p out (zeroed by the caller): one invoice, one line per
 *  service, paid to the patient; a cancellation is a credit note of the cancelled number with
 *  negated units and amounts (a Kmehr cancellation has no services: the engine credits the
 *  cancelled attestation's lines, engine/clearing/tariff.c). Every check of the form is made
 *  here and recorded as findings; none makes this fail.
 *  @param[in] a     the attestation (borrowed; its views must outlive @p out)
 *  @param[in] host  the sending's arena
 *  @return 0 or TPC_ADAPTER_ENOMEM. */
int tpc_attestation_sending(const tpc_attestation_t *a, const tpc_host_t *host, tpc_sending_t *out);

/** A finding of @p code (its letter from the eAttest code table) at @p at. */
tpc_finding_t tpc_attest_finding(const char *code, tpc_attest_at_t at);

/** Add @p f to the first of @p slots (@p n used) with room, else to the sending.
 *  @return 0 or TPC_ADAPTER_ENOMEM. */
int tpc_attest_add(tpc_finding_t *slots, uint8_t *n, tpc_sending_t *s, const tpc_host_t *host,
                   tpc_finding_t f);

/** The reason of one of the eAttest codes, or NULL (tpc_adapter_t.describe). */
const char *tpc_attest_describe(const char *code);

#endif /* TPC_EATTEST_ATTESTATION_H */
