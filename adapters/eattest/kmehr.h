/* adapters/eattest/kmehr.h - the Kmehr eAttest v3 request, read with libxml2.
 *
 * What is read, element by element, and the public examples followed are in
 * docs/formats/eattest.md ("Kmehr request"): a SendTransactionRequest (messageservices
 * protocol v1) holding a request and a kmehrmessage, or a bare kmehrmessage; in its folder, the
 * patient, one `cga` transaction (the attestation: amount the patient paid, the company number
 * of the receiving party, supplements) and one `cgd` transaction per service (claim = CD-NIHDI
 * code and its norm, encounter date-time, amount paid, decision reference, encounter location,
 * requestor); or one `cgacancellation` naming an invoicing number.
 *
 * Safety: libxml2 parses with XML_PARSE_NONET and without entity substitution or DTD loading;
 * a document that declares a DOCTYPE is refused before anything in it is read (T40008), so no
 * external entity is ever fetched or expanded. Bounds are libxml2's defaults (depth, text node
 * size) under the engine's payload bound. Malformed XML is a finding with its line and column
 * (T40007), never a failure. libxml2 allocates with malloc while parsing (it cannot use the
 * sending's arena); the tree is freed before each call returns, and every value kept is
 * copied into the arena first.
 *
 * Threads: reentrant; tpc_kmehr_init() must have run once on the main thread (the adapter's
 * init does it).
 */
#ifndef TPC_EATTEST_KMEHR_H
#define TPC_EATTEST_KMEHR_H

#include "adapter.h"
#include "eattest/attestation.h"
#include "eattest/invoicing.h"

/** Where a message-level finding points (record 0): docs/formats/eattest.md lists the paths. */
enum tpc_kmehr_place {
	TPC_KMEHR_AT_ROOT = 1,    /* the root element */
	TPC_KMEHR_AT_SENDER = 2,  /* kmehrmessage/header/sender/hcparty */
	TPC_KMEHR_AT_PATIENT = 3, /* kmehrmessage/folder/patient */
	TPC_KMEHR_AT_DATE = 4,    /* kmehrmessage/header/date */
	TPC_KMEHR_AT_FOLDER = 5,  /* kmehrmessage/folder */
	TPC_KMEHR_AT_DTD = 6,     /* the DOCTYPE */
};

/** One cgd as read: its service, and what the answer echoes of it. */
typedef struct tpc_kmehr_cgd {
	tpc_view_t norm; /* the claim's NIHDI-CLAIM-NORM */
	tpc_view_t date; /* encounterdatetime content/date as sent */
	tpc_view_t time; /* encounterdatetime content/time as sent, or empty */
} tpc_kmehr_cgd_t;

/** A finding met while reading, for the sending (-1), the attestation (0) or service k (k). */
typedef struct tpc_kmehr_found {
	tpc_finding_t f;
	int32_t on;
} tpc_kmehr_found_t;

/** A Kmehr request as read. Views point into host memory. */
typedef struct tpc_kmehr_msg {
	tpc_attestation_t a;      /* the attestation (services: one per cgd) */
	tpc_kmehr_cgd_t *cgd;     /* a.nservices entries */
	int well_formed;          /* 0: not XML, or refused before reading (DOCTYPE, root) */
	int wrapped;              /* the kmehrmessage is in a SendTransactionRequest */
	int cancellation;         /* a cgacancellation: a.cancels is its invoicing number */
	tpc_view_t request_id;    /* request/id, or header/id without a request */
	tpc_view_t date, time;    /* header date and time as sent */
	tpc_view_t requestor;     /* request/author/hcparty ID-HCPARTY, or the header sender */
	tpc_view_t invoicing;     /* the attestation's invoicing number (a.number), or empty */
	tpc_kmehr_found_t *found; /* what could not be read, in document order */
	uint32_t nfound;
} tpc_kmehr_msg_t;

/** libxml2's one-time set-up; call once on the main thread before any other call. */
void tpc_kmehr_init(void);

/** Read @p buf into @p msg (everything in @p host's arena), with what cannot be read as
 *  findings in msg->found.
 *  @return 0, TPC_ADAPTER_ENOMEM or TPC_ADAPTER_ETOOBIG. */
int tpc_kmehr_read(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_kmehr_msg_t *msg);

/** decode() of the Kmehr form: read, then tpc_attestation_sending(). */
int tpc_kmehr_decode(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_sending_t *out);

/** The request id of a Kmehr request, for a client's idempotency key (no findings, no arena).
 *  @param[out] out  NUL-terminated, truncated to @p cap - 1.
 *  @return 0, or -1 when @p buf is not a readable Kmehr request or has no id. */
int tpc_kmehr_request_id(const uint8_t *buf, size_t len, char *out, size_t cap);

#endif
