/* tests/fuzz/fuzz_canonical.c - the canonical adapter (adapters/canonical) on one
 * tpclear.CanonicalSending.
 *
 * The input is the payload of a sending in the canonical format. Path as in
 * engine/pipeline/worker.c: decode (protobuf-c unpacks into host memory), judge, the refusal
 * threshold, the result answer (the format has none: ENOTSUP) and the packed Result. The views
 * point into the unpacked message, not the payload, so fuzz_check_sending reads them without a
 * bound.
 */
#include "fuzz.h"

#include "canonical/canonical.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_heap_t heap;
	tpc_host_t host;
	tpc_sending_t s;
	tpc_blob_t answer;
	int rc;

	fuzz_host_init(&host, &heap, 8 * size + ((size_t)16 << 20));
	memset(&s, 0, sizeof(s));
	rc = tpc_canonical_adapter.decode(NULL, data, size, &host, &s);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_ENOMEM || rc == TPC_ADAPTER_ETOOBIG);
	if (rc == 0) {
		fuzz_check_sending(&s, NULL, 0);
		if (fuzz_judge_and_answer(&tpc_canonical_adapter, data, size, &s, &host, &answer) ==
		    0)
			FUZZ_CHECK(answer.ptr == NULL);
	}
	fuzz_heap_release(&heap);
	return 0;
}
