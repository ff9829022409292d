/* adapters/eattest/attestation.c - the attestation's checks and its sending (attestation.h).
 *
 * Both readers (eattest.c for the protobuf form, kmehr.c for Kmehr) stop at reading: whether a
 * value is there and can be read exactly. What a value must be (a NIHII with its check digit,
 * a nomenclature code, a real date, units and amounts in range) is judged here once, so an
 * attestation is refused for the same reason with the same code whatever form it came in. The
 * findings point where the reader read the value (tpc_attest_at_t).
 *
 * Codes are the official eFact ones where the same rule exists, else the adapter's own T400nn
 * (docs/errors.md). The Kmehr reader's structural codes sit in the same table so that one
 * describe() answers for the whole adapter (tests/unit/core/test_codes.c probes T40000-T40099).
 */
#include "eattest/attestation.h"

#include "common/check.h"
#include "common/pb.h"

#include <string.h>

static const tpc_pb_code_t codes[] = {
    {"T40001", 'B', "payload is not a tpclear.Attestation message"},
    {"T40002", 'R', "units must be a whole number, 1 or more"},
    {"T40003", 'R', "fee paid must not be negative"},
    {"T40004", 'R', "care abroad: country must be two upper-case letters (ISO 3166)"},
    {"T40005", 'R', "care abroad: the real cost must be more than zero"},
    {"T40006", 'R', "an amount has more than 11 digits of cents"},
    /* the Kmehr request (docs/formats/eattest.md, "Kmehr request") */
    {"T40007", 'B', "Kmehr: not well-formed XML (record = line, pos = column)"},
    {"T40008", 'B', "Kmehr: a DOCTYPE or entity declaration (Kmehr has none; refused unread)"},
    {"T40009", 'B',
     "Kmehr: the root is not a SendTransactionRequest (messageservices protocol v1) or a "
     "kmehrmessage (kmehr schema v1), or an element is in another namespace"},
    {"T40010", 'B', "Kmehr: header date missing or not a date (YYYY-MM-DD)"},
    {"T40011", 'B', "Kmehr: the folder must hold exactly one cga transaction"},
    {"T40012", 'F', "Kmehr: cga item patientpaid missing or not an amount"},
    {"T40013", 'F',
     "Kmehr: cga item paymentreceivingparty missing or not a company number (ID-CBE, 10 "
     "digits, check 97)"},
    {"T40014", 'B', "Kmehr: no cgd transaction (one per service)"},
    {"T40015", 'R', "Kmehr: cgd item claim missing, or without its CD-NIHDI code"},
    {"T40016", 'R', "Kmehr: claim norm (LOCAL NIHDI-CLAIM-NORM) missing or not one digit"},
    {"T40017", 'R', "Kmehr: cgd item encounterdatetime missing or without its date"},
    {"T40018", 'R', "Kmehr: cgd item patientpaid missing"},
    {"T40019", 'R',
     "Kmehr: an amount is not a decimal in euros with at most two decimals (e.g. 12.50; "
     "not 12,5, 1e3 or negative)"},
    {"T40020", 'F', "Kmehr: cga patientpaid is not the sum of the cgd patientpaid"},
    {"T40021", 'B',
     "Kmehr: a transaction is neither cga, cgd nor cgacancellation, or a cancellation is "
     "mixed with an attestation"},
    {"T40022", 'F',
     "Kmehr: cancellation: item invoicingnumber missing or not shaped OOO-1-YYMMDD-NNNNNNN-CC"},
    {"T40023", 'F', "Kmehr: cancellation: the invoicing number's check pair (CC) is wrong"},
    {"T40024", 'F', "Kmehr: cancellation: not an invoicing number of this insurer (600)"},
    {"T40025", 'R',
     "Kmehr: encounterlocation or requestor: hcparty without a valid NIHII (ID-HCPARTY), or "
     "a hospital service code (NIHDI-SERVICE-CD) that is not 3 digits"},
    {"T40026", 'R', "Kmehr: decisionreference item without its reference"},
    {"200802", 'F', "beneficiary NISS missing or check digit wrong"},
    {"201402", 'F', "provider NIHII missing or check digit wrong"},
    {"202403", 'F', "attestation number missing"},
    {"500402", 'R', "nomenclature code missing or check digit wrong"},
    {"500503", 'R', "date of care not a valid date"},
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

const char *tpc_attest_describe(const char *code)
{
	return tpc_pb_describe(codes, NCODES, code);
}

tpc_finding_t tpc_attest_finding(const char *code, tpc_attest_at_t at)
{
	return tpc_pb_finding(codes, NCODES, code, at.record, at.pos);
}

int tpc_attest_add(tpc_finding_t *slots, uint8_t *n, tpc_sending_t *s, const tpc_host_t *host,
                   tpc_finding_t f)
{
	/* a blocking finding refuses the whole sending: it goes to the sending's list */
	if (f.letter == 'B') {
		s->blocked = 1;
		return tpc_sending_add_finding(s, host, &f);
	}
	if (*n < TPC_MAX_FINDINGS) {
		slots[(*n)++] = f;
		return 0;
	}
	return tpc_sending_add_finding(s, host, &f);
}

static int in_range(int64_t cents)
{
	return cents >= -TPC_ATTEST_MAX_CENTS && cents <= TPC_ATTEST_MAX_CENTS;
}

/* Units as the line carries them. A cancellation negates; -INT32_MIN does not exist, so that
 * value stays as sent, and units outside int32 are not carried (0): both are refused by
 * T40002 anyway. */
static int32_t line_units(int64_t u, int sign)
{
	if (u == INT32_MIN)
		return INT32_MIN;
	if (u < -INT32_MAX || u > INT32_MAX)
		return 0;
	return (int32_t)(sign * u);
}

/* The care-abroad part of a service: a two-letter country and a real cost above zero. */
static int check_abroad(const tpc_attest_service_t *v, int sign, tpc_line_t *ln, tpc_sending_t *s,
                        const tpc_host_t *host)
{
	const char *c = v->country.ptr;
	int rc = 0;

	if (v->country.len != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
		rc = tpc_attest_add(ln->findings, &ln->nfindings, s, host,
		                    tpc_attest_finding("T40004", v->at_country));
	else
		memcpy(ln->country, c, 2);
	if (!rc && v->real_cost_cents <= 0)
		rc = tpc_attest_add(ln->findings, &ln->nfindings, s, host,
		                    tpc_attest_finding("T40005", v->at_cost));
	else if (!rc && v->real_cost_cents > TPC_ATTEST_MAX_CENTS)
		rc = tpc_attest_add(ln->findings, &ln->nfindings, s, host,
		                    tpc_attest_finding("T40006", v->at_cost));
	/* over 11 digits either way the amount is not carried (the refused line keeps 0): it
	 * would overflow the 75 % of care abroad (engine/clearing/tariff.c) */
	if (in_range(v->real_cost_cents))
		ln->real_cost_cents = sign * v->real_cost_cents;
	return rc;
}

/* One service: its line, and the checks of its values. @return 0 or TPC_ADAPTER_ENOMEM. */
static int service_line(const tpc_attest_service_t *v, int sign, tpc_line_t *ln, tpc_sending_t *s,
                        const tpc_host_t *host)
{
	const char *bad[4];
	tpc_attest_at_t where[4];
	int nbad = 0, rc = 0;

	ln->record = v->record;
	if (v->code.len == 6)
		memcpy(ln->code, v->code.ptr, 6);
	if (!(v->reported & TPC_ATTEST_CODE) &&
	    (v->code.len != 6 || !tpc_check_nomenclature(v->code.ptr, 6)))
		bad[nbad] = "500402", where[nbad++] = v->at_code;
	if (tpc_check_date_yyyymmdd(v->date, &ln->date_first) != 0 &&
	    !(v->reported & TPC_ATTEST_DATE))
		bad[nbad] = "500503", where[nbad++] = v->at_date;
	ln->date_last = ln->date_first;
	if ((v->units < 1 || v->units > INT32_MAX) && !(v->reported & TPC_ATTEST_UNITS))
		bad[nbad] = "T40002", where[nbad++] = v->at_units;
	if (v->reported & TPC_ATTEST_FEE)
		; /* unreadable or missing: the reader said so */
	else if (v->fee_paid_cents < 0)
		bad[nbad] = "T40003", where[nbad++] = v->at_fee;
	else if (v->fee_paid_cents > TPC_ATTEST_MAX_CENTS)
		bad[nbad] = "T40006", where[nbad++] = v->at_fee;
	for (int i = 0; i < nbad && !rc; i++)
		rc = tpc_attest_add(ln->findings, &ln->nfindings, s, host,
		                    tpc_attest_finding(bad[i], where[i]));
	ln->units = line_units(v->units, sign);
	/* what the patient paid; the engine computes what is reimbursed */
	if (in_range(v->fee_paid_cents))
		ln->patient_cents = sign * v->fee_paid_cents;
	if (in_range(v->supplement_cents))
		ln->supplement_cents = sign * v->supplement_cents;
	ln->reference = v->reference;
	ln->commitment = v->decision;
	if (!rc && v->country.len && !(v->country.len == 2 && memcmp(v->country.ptr, "BE", 2) == 0))
		rc = check_abroad(v, sign, ln, s, host);
	return rc;
}

/* The invoice's own checks: the insured, the provider, the number. */
static int invoice_checks(const tpc_attestation_t *a, tpc_invoice_t *inv, tpc_sending_t *s,
                          const tpc_host_t *host)
{
	int rc = 0;

	if (!tpc_check_niss(inv->patient.ptr, inv->patient.len))
		rc = tpc_attest_add(inv->findings, &inv->nfindings, s, host,
		                    tpc_attest_finding("200802", a->at_patient));
	if (!rc && !tpc_check_nihii(inv->provider.ptr, inv->provider.len))
		rc = tpc_attest_add(inv->findings, &inv->nfindings, s, host,
		                    tpc_attest_finding("201402", a->at_provider));
	if (!rc && inv->number.len == 0 && !a->number_optional)
		rc = tpc_attest_add(inv->findings, &inv->nfindings, s, host,
		                    tpc_attest_finding("202403", a->at_number));
	return rc;
}

int tpc_attestation_sending(const tpc_attestation_t *a, const tpc_host_t *host, tpc_sending_t *out)
{
	int cancel = a->cancels.len > 0, sign = cancel ? -1 : 1, rc;
	tpc_invoice_t *inv;

	out->invoices = host->alloc(host->arena, sizeof(tpc_invoice_t), 8);
	out->lines =
	    host->alloc(host->arena, (a->nservices ? a->nservices : 1) * sizeof(tpc_line_t), 8);
	if (!out->invoices || !out->lines)
		return TPC_ADAPTER_ENOMEM;
	out->payee = TPC_PAYEE_PATIENT;
	out->third_party = a->provider;
	out->ninvoices = 1;
	out->nlines = a->nservices;
	out->nrecords = 1 + a->nservices;
	inv = &out->invoices[0];
	inv->record = a->record;
	inv->patient = a->patient;
	inv->provider = a->provider;
	inv->number = a->number;
	inv->kind = TPC_INVOICE_AMBULATORY;
	/* the attestation is its own invoice; a cancellation credits the cancelled one */
	inv->invoicing = cancel ? TPC_INVOICING_CREDIT_NOTE : TPC_INVOICING_NORMAL;
	inv->previous = a->cancels;
	inv->first_line = 0;
	inv->nlines = a->nservices;
	if ((rc = invoice_checks(a, inv, out, host)))
		return rc;
	for (uint32_t i = 0; i < a->nservices && !rc; i++)
		rc = service_line(&a->services[i], sign, &out->lines[i], out, host);
	if (in_range(a->total_paid_cents))
		inv->total_patient_cents = sign * a->total_paid_cents;
	return rc;
}
