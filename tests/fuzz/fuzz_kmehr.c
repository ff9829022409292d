/* tests/fuzz/fuzz_kmehr.c - the Kmehr eAttest v3 reader (adapters/eattest/kmehr.c) and its
 * answer (kmehr_answer.c), through the eAttest adapter.
 *
 * The input is the payload of a REQUEST_EATTEST, taken as XML whatever its first bytes (a '<'
 * is put in front when it has none, so libFuzzer's mutations all reach libxml2 and the reader
 * rather than the protobuf form, which fuzz_eattest covers). Path as in
 * engine/pipeline/worker.c: decode, judge, the refusal threshold, the Kmehr answer and the
 * packed Result. Invariants: a Kmehr request is one attestation (one invoice) or refused whole
 * (blocked, no invoice); it is paid to the patient; every finding it carries is one the adapter
 * describes or an engine's own; the answer is well-formed XML.
 */
#include "fuzz.h"

#include "eattest/eattest.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser(); /* what the adapter's init does on the engine's main thread */
	return 0;
}

/* The answer parses back as XML (network off, no entities: the same as the reader). */
static void check_answer(const tpc_blob_t *answer)
{
	xmlDocPtr doc;

	FUZZ_CHECK(answer->ptr && answer->len > 0 && strcmp(answer->type, "kmehr") == 0);
	doc = xmlReadMemory((const char *)answer->ptr, (int)answer->len, NULL, NULL,
	                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	FUZZ_CHECK(doc != NULL);
	xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_heap_t heap;
	tpc_host_t host;
	tpc_sending_t s;
	tpc_blob_t answer;
	uint8_t *buf;
	size_t len = size;
	int rc;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (!tpc_eattest_is_kmehr(buf, len)) {
		memmove(buf + 1, buf, size);
		buf[0] = '<';
		len++;
	}
	fuzz_host_init(&host, &heap, 8 * len + ((size_t)16 << 20));
	memset(&s, 0, sizeof(s));
	rc = tpc_eattest_adapter.decode(NULL, buf, len, &host, &s);
	FUZZ_CHECK(rc == 0 || rc == TPC_ADAPTER_ENOMEM || rc == TPC_ADAPTER_ETOOBIG);
	if (rc == 0) {
		fuzz_check_sending(&s, NULL, 0);
		FUZZ_CHECK(s.payee == TPC_PAYEE_PATIENT || s.ninvoices == 0);
		FUZZ_CHECK(s.ninvoices <= 1);
		FUZZ_CHECK(s.ninvoices == 1 || s.blocked);
		for (uint32_t i = 0; i < s.nfindings; i++)
			FUZZ_CHECK(tpc_eattest_adapter.describe(NULL, s.findings[i].code) != NULL);
		if (s.ninvoices && s.invoices[0].invoicing == TPC_INVOICING_CREDIT_NOTE)
			FUZZ_CHECK(s.nlines == 0); /* the engine credits the named attestation */
		if (fuzz_judge_and_answer(&tpc_eattest_adapter, buf, len, &s, &host, &answer) == 0)
			check_answer(&answer);
	}
	fuzz_heap_release(&heap);
	free(buf);
	return 0;
}
