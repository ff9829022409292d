/* engine/security/authz.h - what an authenticated sender may do (docs/security.md,
 * "Authorization").
 *
 * Pure decisions over one registry entry: no I/O, no state, callable from any thread that holds
 * a reference to the entry's snapshot. engine/security/security.c applies them at intake (loop
 * thread) and in the workers, and turns a denial into a coded refusal, a log line and a counter.
 *
 * The rules:
 *  - SUBMIT and EATTEST: the sender must have at least one NIHII number; after decoding, the
 *    sending's third party and the invoicing provider of every invoice must be among them (an
 *    empty field bills nobody: clearing refuses such an invoice itself, 201420).
 *  - LOAD: the reference data kind ("KIND" or "upsert:KIND") must be one of the sender's feeds
 *    (a kind the engine does not have is left to the intake, which refuses it as unknown).
 *  - PAYRUN: kind ops only. LEDGER BALANCE and EXPORT (every budget, every posting): ops only;
 *    LEDGER STATEMENT: ops, or the institution itself (kind sppis for institution "sppis");
 *    LEDGER SHOW: the sender's own sending key, or an invoice (NIHII/NUMBER) or payee of one of
 *    its NIHII numbers; never a patient's NISS.
 *  - QUERY and PING: any registered sender (queries are scoped to the sender by the ledger).
 */
#ifndef TPC_AUTHZ_H
#define TPC_AUTHZ_H

#include "adapter.h"
#include "security/senders.h"
#include "tpclear.pb-c.h"

#include <stdint.h>

/** Who sent a job, carried by the job (job.h) from intake to the answer. */
typedef struct tpc_job_auth {
	tpc_senders_t *snapshot;    /* a reference held by the job; NULL in plain mode */
	const tpc_sender_t *sender; /* the authenticated sender (in snapshot); NULL in plain mode */
	uint8_t counted;            /* counted in the loop thread's per-sender in-flight table */
	char peer[48];              /* Peer-Address of the connection, for log lines */
} tpc_job_auth_t;

/** Why a sending was refused: the first NIHII it bills as that the sender may not. */
typedef struct tpc_authz_denial {
	tpc_view_t nihii;  /* borrowed from the sending */
	const char *field; /* "third party" or "invoicing provider" (static) */
	uint32_t record;   /* record of the invoice (0: the sending header) */
} tpc_authz_denial_t;

/** Decide a request at intake, before any payload is decoded.
 *  @param[in]  format  the envelope's format (for LOAD: the reference data kind)
 *  @param[out] code    on denial, the refusal code (TPC_CODE_*, static)
 *  @return 0 (allowed) or TPC_EACCES. */
int tpc_authz_request(const tpc_sender_t *s, Tpclear__RequestType type, const char *format,
                      const char **code);

/** Decide a decoded sending: every NIHII it bills as must be the sender's.
 *  @param[out] why  on denial, the offending number and where it is
 *  @return 0 or TPC_EACCES. */
int tpc_authz_sending(const tpc_sender_t *s, const tpc_sending_t *sd, tpc_authz_denial_t *why);

/** Decide a ledger request.
 *  @param own_sending  1 when rq->target is a sending key of this sender (the caller looked it
 *                      up: such a target is always allowed)
 *  @param[out] code    on denial, TPC_CODE_OPS_ONLY or TPC_CODE_LEDGER_SCOPE
 *  @return 0 or TPC_EACCES. */
int tpc_authz_ledger(const tpc_sender_t *s, const Tpclear__LedgerRequest *rq, int own_sending,
                     const char **code);

#endif /* TPC_AUTHZ_H */
