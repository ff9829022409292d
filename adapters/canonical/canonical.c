/* adapters/canonical/canonical.c - decode tpclear.CanonicalSending (see canonical.h).
 *
 * protobuf-c unpacks into the sending's arena through a custom allocator, so decoding costs no
 * malloc; strings of the message become the views of the sending (the arena outlives them).
 * Checks: required identifiers present and well formed (NISS, NIHII and nomenclature check
 * digits, via adapters/common/check.h), valid dates, units non-zero, credit-note signs, amounts
 * within 11 digits of cents (as eFact's amount zones; larger ones refuse the sending). Codes are
 * the official eFact ones for the same rule where one exists (a canonical invoice maps to ET20,
 * a line to ET50), else tpclear's own T2xxxx codes; pos is the protobuf field number.
 */
#include "canonical.h"

#include "common/check.h"
#include "common/pb.h"
#include "tpclear.pb-c.h"

#include <stdint.h>
#include <string.h>

/* The largest amount an eFact amount zone holds: 11 digits of cents. */
#define MAX_CENTS 99999999999LL

static int in_range(int64_t cents)
{
	return cents >= -MAX_CENTS && cents <= MAX_CENTS;
}

/* Every code this adapter emits, with its letter: the letter decides how far a finding reaches
 * (B the sending, F the invoice, R the line: clear.c), so it is fixed here once and never at a
 * call site. The official codes mean the same rule as in eFact, so a sender sees the same code
 * for the same mistake whatever the format; T2xxxx are tpclear's own, for the rules without an
 * official code. docs/errors.md lists them (tests/unit/core/test_codes.c keeps it in step). */
static const tpc_pb_code_t codes[] = {
    {"T20001", 'B', "payload is not a tpclear.CanonicalSending message"},
    {"T20002", 'B', "sending has no invoice"},
    {"T20003", 'F', "invoice has no line"},
    {"T20004", 'R', "units must not be zero"},
    {"T20005", 'R', "line amounts must not be negative outside a credit note"},
    {"T20006", 'B', "a line amount has more than 11 digits of cents"},
    {"200802", 'F', "beneficiary NISS missing or check digit wrong"},
    {"201402", 'F', "invoicing provider NIHII missing or check digit wrong"},
    {"202403", 'F', "individual invoice number missing"},
    {"201140", 'F', "credit note: every amount must be negative"},
    {"500402", 'R', "nomenclature code missing or check digit wrong"},
    {"500503", 'R', "first service date not a valid date"},
    {"500603", 'R', "last service date not a valid date"},
    {"500612", 'R', "last service date before the first"},
    {"501502", 'R', "performing provider NIHII check digit wrong"},
};

static const char *can_describe(const void *state, const char *code)
{
	(void)state;
	return tpc_pb_describe(codes, sizeof(codes) / sizeof(codes[0]), code);
}

static tpc_finding_t finding(const char *code, uint32_t record, uint16_t field)
{
	return tpc_pb_finding(codes, sizeof(codes) / sizeof(codes[0]), code, record, field);
}

/* Attach to a line or invoice slot; overflow goes to the sending. Three slots per record, as an
 * eFact answer record has room for three errors; the fourth is kept, not dropped. */
static int add(tpc_sending_t *s, const tpc_host_t *host, tpc_finding_t *slots, uint8_t *n,
               tpc_finding_t f)
{
	if (slots && *n < TPC_MAX_FINDINGS) {
		slots[(*n)++] = f;
		return 0;
	}
	return tpc_sending_add_finding(s, host, &f);
}

#define view tpc_pb_view

/* Refuse the sending whole with the B finding @p code: nothing of it is cleared. `blocked` is
 * what tariff.c and clear.c test, so no line of it is looked up, indexed or paid. */
static int block(tpc_sending_t *out, const tpc_host_t *host, const char *code)
{
	tpc_finding_t f = {.letter = 'B'};

	memcpy(f.code, code, 6);
	out->blocked = 1;
	return tpc_sending_add_finding(out, host, &f);
}

/* The host's bounds, before anything is allocated. @return 0 (lines counted in @p nlines) or
 * TPC_ADAPTER_ETOOBIG. The arrays below are sized from these counts, so they are checked first:
 * [engine] max_invoices and max_lines refuse the sending T00013, as for eFact. */
static int check_counts(const Tpclear__CanonicalSending *cs, const tpc_host_t *host,
                        uint32_t *nlines)
{
	*nlines = 0;
	if (host->max_invoices && cs->n_invoices > host->max_invoices)
		return TPC_ADAPTER_ETOOBIG;
	for (size_t i = 0; i < cs->n_invoices; i++)
		*nlines += (uint32_t)cs->invoices[i]->n_lines;
	if (host->max_lines && *nlines > host->max_lines)
		return TPC_ADAPTER_ETOOBIG;
	return 0;
}

/* Amounts beyond what eFact can carry (11 digits of cents) would overflow the sums of invoices,
 * sendings and the engine's judging: such a sending is refused before any sum is made. */
static int amounts_in_range(const Tpclear__CanonicalSending *cs)
{
	for (size_t i = 0; i < cs->n_invoices; i++)
		for (size_t k = 0; k < cs->invoices[i]->n_lines; k++)
			if (!in_range(cs->invoices[i]->lines[k]->insurer_cents) ||
			    !in_range(cs->invoices[i]->lines[k]->patient_cents))
				return 0;
	return 1;
}

/* One line's fields and checks. Line findings ignore allocation failures: they use fixed slots
 * or the sending list, whose growth failure is reported by the next checked add. */
static void decode_line(tpc_sending_t *out, const tpc_host_t *host,
                        const Tpclear__CanonicalLine *cl, uint32_t record, tpc_line_t *ln)
{
	size_t clen = cl->code ? strlen(cl->code) : 0;

	/* a code of another length is not copied: ln->code is six characters, and 500402 below
	 * refuses the line anyway. A missing last date is the first: a one-day line. */
	ln->record = record;
	if (clen == 6)
		memcpy(ln->code, cl->code, 6);
	ln->units = cl->units;
	ln->insurer_cents = cl->insurer_cents;
	ln->patient_cents = cl->patient_cents;
	ln->performer = view(cl->performer);
	ln->reference = view(cl->reference);
	ln->commitment = view(cl->commitment);
	if (clen != 6 || !tpc_check_nomenclature(cl->code, 6))
		add(out, host, ln->findings, &ln->nfindings, finding("500402", ln->record, 1));
	if (tpc_check_date_yyyymmdd((uint32_t)cl->date, &ln->date_first) != 0)
		add(out, host, ln->findings, &ln->nfindings, finding("500503", ln->record, 2));
	ln->date_last = ln->date_first;
	if (cl->date_last && tpc_check_date_yyyymmdd((uint32_t)cl->date_last, &ln->date_last) != 0)
		add(out, host, ln->findings, &ln->nfindings, finding("500603", ln->record, 3));
	else if (ln->date_last < ln->date_first)
		add(out, host, ln->findings, &ln->nfindings, finding("500612", ln->record, 3));
	if (cl->units == 0)
		add(out, host, ln->findings, &ln->nfindings, finding("T20004", ln->record, 4));
	if (ln->performer.len && !tpc_check_nihii(ln->performer.ptr, ln->performer.len))
		add(out, host, ln->findings, &ln->nfindings, finding("501502", ln->record, 7));
}

/* The invoice's own fields (ET20's counterparts). An admission or discharge that is not a date
 * is left 0, which tariff.c reads as "not given": it turns off 500511/500513 for the invoice
 * instead of refusing it. A mutuality not 3 characters long is left empty. */
static void decode_invoice_fields(const Tpclear__CanonicalInvoice *ci, tpc_invoice_t *inv)
{
	int32_t days;

	inv->patient = view(ci->patient);
	inv->provider = view(ci->provider);
	inv->number = view(ci->number);
	inv->previous = view(ci->previous);
	inv->kind = (uint8_t)ci->kind;
	inv->invoicing = (uint8_t)ci->invoicing;
	if (ci->mutuality && strlen(ci->mutuality) == 3)
		memcpy(inv->mutuality, ci->mutuality, 3);
	if (ci->admission && tpc_check_date_yyyymmdd((uint32_t)ci->admission, &days) == 0)
		inv->admission = days;
	if (ci->discharge && tpc_check_date_yyyymmdd((uint32_t)ci->discharge, &days) == 0)
		inv->discharge = days;
}

/* One invoice and its lines, from line @p *li and record @p *record on (both advanced).
 * @return 0 or TPC_ADAPTER_ENOMEM. */
static int decode_invoice(tpc_sending_t *out, const tpc_host_t *host,
                          const Tpclear__CanonicalInvoice *ci, tpc_invoice_t *inv, uint32_t *record,
                          uint32_t *li)
{
	int credit = ci->invoicing == TPC_INVOICING_CREDIT_NOTE, bad_sign = 0, rc;

	inv->record = (*record)++;
	decode_invoice_fields(ci, inv);
	inv->first_line = *li;
	inv->nlines = (uint32_t)ci->n_lines;
	/* Every check runs: each `!ok && (rc = add(...))` adds its finding and goes on (add()
	 * returns 0); only a finding that cannot be stored ends the chain. A malformed patient or
	 * provider is F: it refuses the invoice and every line of it (clear.c). */
	if ((!tpc_check_niss(inv->patient.ptr, inv->patient.len) &&
	     (rc = add(out, host, inv->findings, &inv->nfindings,
	               finding("200802", inv->record, 1)))) ||
	    (!tpc_check_nihii(inv->provider.ptr, inv->provider.len) &&
	     (rc = add(out, host, inv->findings, &inv->nfindings,
	               finding("201402", inv->record, 2)))) ||
	    (inv->number.len == 0 && (rc = add(out, host, inv->findings, &inv->nfindings,
	                                       finding("202403", inv->record, 3)))) ||
	    (ci->n_lines == 0 && (rc = add(out, host, inv->findings, &inv->nfindings,
	                                   finding("T20003", inv->record, 10)))))
		return rc;
	for (size_t k = 0; k < ci->n_lines; k++, (*li)++) {
		const Tpclear__CanonicalLine *cl = ci->lines[k];

		decode_line(out, host, cl, (*record)++, &out->lines[*li]);
		/* a credit note's amounts are all negative: one wrong sign refuses the invoice
		 * (201140, once); outside one, a negative amount refuses its line */
		if (credit && (cl->insurer_cents > 0 || cl->patient_cents > 0 || cl->units > 0))
			bad_sign = 1;
		if (!credit && (cl->insurer_cents < 0 || cl->patient_cents < 0))
			add(out, host, out->lines[*li].findings, &out->lines[*li].nfindings,
			    finding("T20005", out->lines[*li].record, 5));
		inv->total_insurer_cents += cl->insurer_cents;
		inv->total_patient_cents += cl->patient_cents;
	}
	if (bad_sign && (rc = add(out, host, inv->findings, &inv->nfindings,
	                          finding("201140", inv->record, 5))))
		return rc;
	/* the sending's total is the insurer amounts, like eFact's sending total */
	out->total_cents += inv->total_insurer_cents;
	return 0;
}

static int can_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                      tpc_sending_t *out)
{
	tpc_pb_arena_t pc;
	Tpclear__CanonicalSending *cs;
	uint32_t nlines, li = 0, record = 1;
	int32_t days;
	int rc;

	(void)state;
	tpc_pb_arena_init(&pc, host);
	cs = tpclear__canonical_sending__unpack(&pc.alloc, len, buf);
	/* Out of arena while unpacking says "too big" (T00013), not "not a message": the sender
	 * must split it, not fix it. Then the bounds, then the amounts, before anything is
	 * summed or allocated; a sending refused here (blocked) is still answered, with its
	 * finding. */
	if (!cs && pc.out_of_memory)
		return TPC_ADAPTER_ETOOBIG; /* well formed perhaps, but over the memory bound */
	/* a string cut at a NUL byte by unpacking is not what was sent: not a valid sending */
	if (!cs || tpc_pb_nul_string(&tpclear__canonical_sending__descriptor, buf, len))
		return block(out, host, "T20001");
	if ((rc = check_counts(cs, host, &nlines)))
		return rc;
	if (!amounts_in_range(cs))
		return block(out, host, "T20006");
	out->reference = view(cs->reference);
	out->third_party = view(cs->third_party);
	if (cs->created && tpc_check_date_yyyymmdd((uint32_t)cs->created, &days) == 0)
		out->created = days;
	out->year_month = cs->year_month;
	if (cs->n_invoices == 0)
		return block(out, host, "T20002");
	/* records are numbered 1.. in message order, an invoice then its lines (as the records
	 * of an eFact file), so a finding's record and field number point into the message */
	out->invoices = host->alloc(host->arena, cs->n_invoices * sizeof(tpc_invoice_t), 8);
	out->lines = host->alloc(host->arena, (nlines ? nlines : 1) * sizeof(tpc_line_t), 8);
	if (!out->invoices || !out->lines)
		return TPC_ADAPTER_ENOMEM;
	out->ninvoices = (uint32_t)cs->n_invoices;
	out->nlines = nlines;
	for (size_t i = 0; i < cs->n_invoices; i++)
		if ((rc = decode_invoice(out, host, cs->invoices[i], &out->invoices[i], &record,
		                         &li)))
			return rc;
	out->nrecords = record - 1;
	return 0;
}

const tpc_adapter_t tpc_canonical_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "canonical",
    .init = tpc_pb_no_state_init,
    .decode = can_decode,
    .encode_answer = tpc_pb_no_native_answer,
    .describe = can_describe,
    .fini = tpc_pb_no_state_fini,
};
