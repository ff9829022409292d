/* adapters/eattest/eattest.c - decode tpclear.Attestation (see eattest.h).
 *
 * protobuf-c unpacks into the sending's arena (no malloc); the message's strings become the
 * views of the sending. Checks: provider NIHII, patient NISS and code check digits, a valid
 * date, units >= 1, a fee paid >= 0, for care abroad a two-letter country and a real cost > 0.
 * Codes are the official eFact ones where the same rule exists, else the adapter's own
 * T400nn; pos is the protobuf field number.
 */
#include "eattest/eattest.h"

#include "common/check.h"
#include "common/pb.h"
#include "tpclear.pb-c.h"

#include <stdint.h>
#include <string.h>

/* The largest amount an eFact amount zone holds (11 digits of cents), the bound of every amount
 * an attestation may carry. */
#define MAX_CENTS 99999999999LL

static int in_range(int64_t cents)
{
	return cents >= -MAX_CENTS && cents <= MAX_CENTS;
}

static const tpc_pb_code_t codes[] = {
    {"T40001", 'B', "payload is not a tpclear.Attestation message"},
    {"T40002", 'R', "units must be 1 or more"},
    {"T40003", 'R', "fee paid must not be negative"},
    {"T40004", 'R', "care abroad: country must be two upper-case letters (ISO 3166)"},
    {"T40005", 'R', "care abroad: the real cost must be more than zero"},
    {"T40006", 'R', "an amount has more than 11 digits of cents"},
    {"200802", 'F', "beneficiary NISS missing or check digit wrong"},
    {"201402", 'F', "provider NIHII missing or check digit wrong"},
    {"202403", 'F', "attestation number missing"},
    {"500402", 'R', "nomenclature code missing or check digit wrong"},
    {"500503", 'R', "date of care not a valid date"},
};

static const char *ea_describe(const void *state, const char *code)
{
	(void)state;
	return tpc_pb_describe(codes, sizeof(codes) / sizeof(codes[0]), code);
}

static tpc_finding_t finding(const char *code, uint32_t record, uint16_t field)
{
	return tpc_pb_finding(codes, sizeof(codes) / sizeof(codes[0]), code, record, field);
}

static void add(tpc_finding_t *slots, uint8_t *n, tpc_finding_t f)
{
	if (*n < TPC_MAX_FINDINGS)
		slots[(*n)++] = f;
}

#define view tpc_pb_view

static int ea_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                     tpc_sending_t *out)
{
	tpc_pb_arena_t pc;
	Tpclear__Attestation *at;
	tpc_invoice_t *inv;
	tpc_line_t *ln;
	int abroad, cancel, sign;
	size_t clen;

	(void)state;
	tpc_pb_arena_init(&pc, host);
	at = tpclear__attestation__unpack(&pc.alloc, len, buf);
	if (!at && pc.out_of_memory)
		return TPC_ADAPTER_ETOOBIG;
	if (!at) {
		out->blocked = 1;
		return tpc_sending_add_finding(out, host, &(tpc_finding_t){"T40001", 'B', 0, 0, 0});
	}
	out->invoices = host->alloc(host->arena, sizeof(tpc_invoice_t), 8);
	out->lines = host->alloc(host->arena, sizeof(tpc_line_t), 8);
	if (!out->invoices || !out->lines)
		return TPC_ADAPTER_ENOMEM;
	out->payee = TPC_PAYEE_PATIENT;
	out->third_party = view(at->provider);
	out->ninvoices = 1;
	out->nlines = 1;
	out->nrecords = 2;
	cancel = at->cancels && at->cancels[0];
	sign = cancel ? -1 : 1;
	inv = &out->invoices[0];
	ln = &out->lines[0];
	inv->record = 1;
	inv->patient = view(at->patient);
	inv->provider = view(at->provider);
	inv->number = view(at->number);
	inv->kind = TPC_INVOICE_AMBULATORY;
	/* the attestation is its own invoice; a cancellation credits the cancelled one */
	inv->invoicing = cancel ? TPC_INVOICING_CREDIT_NOTE : TPC_INVOICING_NORMAL;
	inv->previous = cancel ? view(at->cancels) : view(NULL);
	inv->first_line = 0;
	inv->nlines = 1;
	if (!tpc_check_niss(inv->patient.ptr, inv->patient.len))
		add(inv->findings, &inv->nfindings, finding("200802", 1, 2));
	if (!tpc_check_nihii(inv->provider.ptr, inv->provider.len))
		add(inv->findings, &inv->nfindings, finding("201402", 1, 1));
	if (inv->number.len == 0)
		add(inv->findings, &inv->nfindings, finding("202403", 1, 11));
	ln->record = 2;
	clen = at->code ? strlen(at->code) : 0;
	if (clen == 6)
		memcpy(ln->code, at->code, 6);
	if (clen != 6 || !tpc_check_nomenclature(at->code, 6))
		add(ln->findings, &ln->nfindings, finding("500402", 2, 3));
	if (tpc_check_date_yyyymmdd((uint32_t)at->date, &ln->date_first) != 0)
		add(ln->findings, &ln->nfindings, finding("500503", 2, 4));
	ln->date_last = ln->date_first;
	if (at->units < 1)
		add(ln->findings, &ln->nfindings, finding("T40002", 2, 5));
	if (at->fee_paid_cents < 0)
		add(ln->findings, &ln->nfindings, finding("T40003", 2, 6));
	else if (at->fee_paid_cents > MAX_CENTS)
		add(ln->findings, &ln->nfindings, finding("T40006", 2, 6));
	/* A cancellation negates: -INT32_MIN does not exist, that value stays as sent (refused by
	 * T40002). An amount over 11 digits either way is not carried (the refused line keeps
	 * 0): it would overflow the engine's sums and the 75 % of care abroad
	 * (engine/clearing/tariff.c), and -INT64_MIN does not exist either. */
	ln->units = at->units != INT32_MIN ? sign * at->units : at->units;
	/* what the patient paid; the engine computes what is reimbursed */
	if (in_range(at->fee_paid_cents))
		ln->patient_cents = sign * at->fee_paid_cents;
	ln->reference = view(at->reference);
	abroad = at->country && at->country[0] && strcmp(at->country, "BE") != 0;
	if (abroad) {
		const char *c = at->country;

		if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
			add(ln->findings, &ln->nfindings, finding("T40004", 2, 7));
		else
			memcpy(ln->country, c, 2);
		if (at->real_cost_cents <= 0)
			add(ln->findings, &ln->nfindings, finding("T40005", 2, 8));
		else if (at->real_cost_cents > MAX_CENTS)
			add(ln->findings, &ln->nfindings, finding("T40006", 2, 8));
		if (in_range(at->real_cost_cents))
			ln->real_cost_cents = sign * at->real_cost_cents;
	}
	inv->total_patient_cents = ln->patient_cents;
	return 0;
}

const tpc_adapter_t tpc_eattest_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "eattest",
    .init = tpc_pb_no_state_init,
    .decode = ea_decode,
    .encode_answer = tpc_pb_no_native_answer,
    .describe = ea_describe,
    .fini = tpc_pb_no_state_fini,
};
