/* engine/security/authz.c - authorization rules (see authz.h).
 *
 * DESIGN: the rules only read an immutable registry entry and the request, so they run on
 * whichever thread has the request (intake checks on the loop thread, the sending check on the
 * worker that decoded it) without sharing anything. Denials are decided without looking at
 * whether the target exists, so a refusal never tells a sender what another sender has.
 */
#include "security/authz.h"

#include "core/codes.h"
#include "core/error.h"
#include "refdata/refdata.h"

#include <string.h>

int tpc_authz_request(const tpc_sender_t *s, Tpclear__RequestType type, const char *format,
                      const char **code)
{
	switch (type) {
	case TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT:
	case TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST: /* billed by a provider, like a sending */
		if (tpc_sender_nihii_count(s) == 0) {
			*code = TPC_CODE_MAY_NOT_SUBMIT;
			return TPC_EACCES;
		}
		return 0;
	case TPCLEAR__REQUEST_TYPE__REQUEST_LOAD: {
		/* the kind is the last part of the format ("upsert:KIND" merges a delta) */
		const char *kind = format ? strrchr(format, ':') : NULL;

		enum tpc_ref_kind known;

		kind = kind ? kind + 1 : format ? format : "";
		/* a kind the engine does not have is refused as such (T00017), to anyone */
		if (tpc_refdata_kind(kind, &known) == 0 && !tpc_sender_may_feed(s, kind)) {
			*code = TPC_CODE_FEED_NOT_ALLOWED;
			return TPC_EACCES;
		}
		return 0;
	}
	case TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN:
		if (tpc_sender_kind(s) != TPC_SENDER_OPS) {
			*code = TPC_CODE_OPS_ONLY;
			return TPC_EACCES;
		}
		return 0;
	default:
		/* QUERY and PING are scoped by the ledger; LEDGER is decided once decoded */
		return 0;
	}
}

int tpc_authz_sending(const tpc_sender_t *s, const tpc_sending_t *sd, tpc_authz_denial_t *why)
{
	const char *last_ok = NULL; /* invoices of one provider follow each other: check once */

	if (sd->third_party.len &&
	    !tpc_sender_may_bill(s, sd->third_party.ptr, sd->third_party.len)) {
		why->nihii = sd->third_party;
		why->field = "third party";
		why->record = 0;
		return TPC_EACCES;
	}
	/* The first provider not the sender's refuses the whole sending, not only its invoice
	 * (docs/security.md, threat model: T00041); why names it with its record. */
	for (uint32_t i = 0; i < sd->ninvoices; i++) {
		const tpc_invoice_t *inv = &sd->invoices[i];

		if (!inv->provider.len || (last_ok && inv->provider.len == 11 &&
		                           memcmp(last_ok, inv->provider.ptr, 11) == 0))
			continue;
		if (!tpc_sender_may_bill(s, inv->provider.ptr, inv->provider.len)) {
			why->nihii = inv->provider;
			why->field = "invoicing provider";
			why->record = inv->record;
			return TPC_EACCES;
		}
		last_ok = inv->provider.ptr;
	}
	return 0;
}

static int digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

int tpc_authz_ledger(const tpc_sender_t *s, const Tpclear__LedgerRequest *rq, int own_sending,
                     const char **code)
{
	const char *t = rq->target ? rq->target : "";
	const char *slash = strchr(t, '/');
	int invoice = slash && slash - t == 11, payee = strlen(t) == 11 && digits(t, 11);

	/* The order goes from the widest grant to the narrowest: ops sees everything, an
	 * institution its own statement, anyone else SHOW of what is its own. */
	if (tpc_sender_kind(s) == TPC_SENDER_OPS)
		return 0;
	/* an institution's own statement (SPP IS: the Mediprima recovery statement) */
	if (rq->op == TPCLEAR__LEDGER_REQUEST__OP__STATEMENT && rq->institution &&
	    strcmp(rq->institution, tpc_sender_kind_name(tpc_sender_kind(s))) == 0)
		return 0;
	if (rq->op != TPCLEAR__LEDGER_REQUEST__OP__SHOW) {
		/* balances of every budget, every posting: the insurer's view, not a sender's */
		*code = TPC_CODE_OPS_ONLY;
		return TPC_EACCES;
	}
	if (own_sending)
		return 0;
	/* the ledger reads PROVIDER/NUMBER as an invoice and 11 digits as a payee (NIHII or
	 * NISS): only the sender's own NIHII numbers */
	if (invoice || payee) {
		if (digits(t, 11) && tpc_sender_may_bill(s, t, 11))
			return 0;
		*code = TPC_CODE_LEDGER_SCOPE;
		return TPC_EACCES;
	}
	return 0; /* anything else is a sending key, looked up in this sender's scope only */
}
