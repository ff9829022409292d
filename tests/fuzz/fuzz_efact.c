/* tests/fuzz/fuzz_efact.c - the eFact adapter (adapters/efact) on one 920000 file.
 *
 * The input is the payload of a sending, as a hospital sends it. The path is the engine's:
 * the receipt 931000 at reception (engine/pipeline/server.c), then decode, judge, the refusal
 * threshold, the result answer 920098/920099/920999 and the packed Result
 * (engine/pipeline/worker.c), then - as a payment run does later (engine/payments/payrun.c) - the
 * settlement 920900 built from the stored result answer and (every other input) the payload the
 * ledger kept, with one settled line per decoded line in sending order.
 *
 * Oracles besides the sanitizers: the invariants of fuzz_check_sending (every view inside the
 * payload: the adapter decodes in place), answer types that match the outcome, and return
 * codes within each function's contract. The settlement may well be refused (EINVAL: a line's
 * mutuality other than its echoed invoice's, a sum over 11 digits): what is checked is that walking
 * and rewriting the adapter's own answer stays in bounds.
 */
#include "fuzz.h"

#include "efact/efact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The worker's arena limit for a sending of this size is 8 * len + 16 MiB
 * (engine/pipeline/server.c). */
#define LIMIT(len) (8 * (len) + ((size_t)16 << 20))

static void settle(const uint8_t *answer, size_t alen, const uint8_t *payload, size_t plen,
                   const tpc_sending_t *s, const tpc_host_t *host, unsigned pattern)
{
	tpc_settled_line_t *lines = NULL;
	tpc_settlement_t st;
	tpc_blob_t out;
	uint32_t n = 0;
	int rc;

	if (s->nlines) {
		lines = calloc(s->nlines, sizeof(*lines));
		FUZZ_CHECK(lines != NULL);
	}
	/* every line, in sending order, as the ledger keeps them (engine/payments/payrun.c settle)
	 */
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		for (uint32_t k = 0; k < inv->nlines; k++, n++) {
			const tpc_line_t *ln = &s->lines[inv->first_line + k];
			tpc_settled_line_t *sl = &lines[n];

			sl->record = ln->record;
			sl->account = ln->account;
			sl->outcome = ln->outcome;
			memcpy(sl->mutuality, inv->mutuality, 3);
			sl->requested_cents = ln->insurer_cents;
			sl->accepted_cents = ln->accepted_cents;
			/* some lines paid by this payment, the others by another one */
			sl->paid_cents = (n + pattern) % 3 ? ln->accepted_cents : 0;
		}
	}
	memset(&st, 0, sizeof(st));
	st.payment_reference = "RUN1-PAY-000001";
	st.run = 1;
	st.paid_on = 20790; /* 2026-12-03 */
	st.nlines = n;
	st.lines = lines;
	memset(&out, 0, sizeof(out));
	/* with the payload (a ledger that keeps them) and without (an older one) */
	rc = tpc_efact_adapter.encode_settlement(NULL, answer, alen, pattern & 1 ? payload : NULL,
	                                         pattern & 1 ? plen : 0, &st, host, &out);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_EINVAL || rc == TPC_ADAPTER_ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(out.ptr && out.len);
		FUZZ_CHECK(strcmp(out.type, "920900") == 0);
	}
	free(lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_heap_t heap;
	tpc_host_t host;
	tpc_sending_t s;
	tpc_blob_t receipt, answer;
	uint8_t *copy;
	int rc;

	fuzz_host_init(&host, &heap, LIMIT(size));
	memset(&receipt, 0, sizeof(receipt));
	rc = tpc_efact_adapter.encode_answer(NULL, data, size, NULL, TPC_ANSWER_RECEIPT, &host,
	                                     &receipt);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_ENOMEM);

	memset(&s, 0, sizeof(s));
	rc = tpc_efact_adapter.decode(NULL, data, size, &host, &s);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_ENOMEM || rc == TPC_ADAPTER_ETOOBIG);
	if (rc)
		goto out;
	fuzz_check_sending(&s, data, size);
	if (fuzz_judge_and_answer(&tpc_efact_adapter, data, size, &s, &host, &answer))
		goto out;
	FUZZ_CHECK(answer.ptr != NULL);
	if (s.blocked) {
		FUZZ_CHECK(strcmp(answer.type, "920999") == 0);
		goto out;
	}
	FUZZ_CHECK(strcmp(answer.type, s.outcome == TPC_OUTCOME_REFUSED ? "920099" : "920098") ==
	           0);
	/* the stored answer is a copy of its exact size (LMDB), so ASan sees reads past it */
	copy = malloc(answer.len);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, answer.ptr, answer.len);
	settle(copy, answer.len, data, size, &s, &host, (unsigned)size);
	free(copy);
out:
	fuzz_heap_release(&heap);
	return 0;
}
