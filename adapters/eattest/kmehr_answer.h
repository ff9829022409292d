/* adapters/eattest/kmehr_answer.h - the Kmehr answer to a Kmehr eAttest request.
 *
 * A SendTransactionResponse (messageservices protocol v1), as MyCareNet answers an eAttest v3
 * request and as the public clients read it (docs/formats/eattest.md, "Kmehr answer"): the
 * response echoing the request, an acknowledge (iscomplete, and one error per finding: our
 * code in a CD-ERROR cd, its reason, and the XPath of the item it is about), and for an
 * accepted attestation a kmehrmessage whose folder holds a `cga` with the invoicing number and
 * one `cgd` per service with the claim, the encounter date-time and the reimbursed fee; for an
 * accepted cancellation, the `cgacancellation` with the number it cancelled. The answer is a
 * function of the request and the verdict only (it is dated as the request), so the stored
 * answer and every replay are the same bytes.
 */
#ifndef TPC_EATTEST_KMEHR_ANSWER_H
#define TPC_EATTEST_KMEHR_ANSWER_H

#include "adapter.h"

/** Encode the answer to the Kmehr request @p buf judged as @p s into host memory.
 *  @param[out] out  type "kmehr"
 *  @return 0 or TPC_ADAPTER_ENOMEM. */
int tpc_kmehr_answer(const uint8_t *buf, size_t len, const tpc_sending_t *s, const tpc_host_t *host,
                     tpc_blob_t *out);

/** The XPath of a finding at (@p record, @p pos) of a Kmehr request (@p wrapped: in a
 *  SendTransactionRequest), for the answer's error url. @param[out] out NUL-terminated. */
void tpc_kmehr_xpath(int wrapped, uint32_t record, uint16_t pos, char *out, size_t cap);

#endif
