/* tests/fuzz/fuzz_eattest.c - the eAttest adapter (adapters/eattest) on one
 * tpclear.Attestation.
 *
 * The input is the payload of a REQUEST_EATTEST in the protobuf form (an XML one is the Kmehr
 * form, fuzz_kmehr.c). Path as in engine/pipeline/worker.c: decode,
 * judge, the refusal threshold, the result answer (none: ENOTSUP) and the packed Result. A decoded
 * attestation is always one invoice of one line paid to the patient, unless the payload is not
 * an Attestation at all (blocked, T40001).
 */
#include "fuzz.h"

#include "eattest/eattest.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_heap_t heap;
	tpc_host_t host;
	tpc_sending_t s;
	tpc_blob_t answer;
	int rc;

	/* an XML payload is the Kmehr form: fuzz_kmehr's (its invariants are not these) */
	if (tpc_eattest_is_kmehr(data, size))
		return 0;
	fuzz_host_init(&host, &heap, 8 * size + ((size_t)16 << 20));
	memset(&s, 0, sizeof(s));
	rc = tpc_eattest_adapter.decode(NULL, data, size, &host, &s);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_ENOMEM || rc == TPC_ADAPTER_ETOOBIG);
	if (rc == 0) {
		fuzz_check_sending(&s, NULL, 0);
		if (s.blocked) {
			FUZZ_CHECK(s.ninvoices == 0 && s.nfindings == 1);
		} else {
			FUZZ_CHECK(s.ninvoices == 1 && s.nlines == 1);
			FUZZ_CHECK(s.payee == TPC_PAYEE_PATIENT);
			/* a cancellation credits: units and amounts never positive */
			if (s.invoices[0].invoicing == TPC_INVOICING_CREDIT_NOTE)
				FUZZ_CHECK(s.lines[0].nfindings || s.lines[0].units < 0);
		}
		if (fuzz_judge_and_answer(&tpc_eattest_adapter, data, size, &s, &host, &answer) ==
		    0)
			FUZZ_CHECK(answer.ptr == NULL);
	}
	fuzz_heap_release(&heap);
	return 0;
}
