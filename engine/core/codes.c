/* engine/core/codes.c - the table of tpclear's own codes (see codes.h, docs/errors.md). */
#include "core/codes.h"

#include <string.h>

static const struct {
	const char *code;
	const char *reason;
} table[] = {
    {TPC_CODE_BAD_ENVELOPE, "envelope frame is not a valid tpclear.Envelope"},
    {TPC_CODE_BAD_FRAMES, "a request is two frames: envelope and payload"},
    {TPC_CODE_UNKNOWN_FORMAT, "no adapter of that format name"},
    {TPC_CODE_BAD_VERSION, "unsupported protocol version"},
    {TPC_CODE_TOO_LARGE, "payload larger than engine.max_sending_bytes"},
    {TPC_CODE_BAD_KEY, "idempotency key missing, too long or not printable"},
    {TPC_CODE_SHUTTING_DOWN, "engine is shutting down: retry later"},
    {TPC_CODE_BAD_SENDER, "sender id missing, too long or not printable"},
    {TPC_CODE_STORAGE_FULL, "ledger storage full: retry later"},
    {TPC_CODE_LEDGER_FAILED, "ledger write failed: retry later"},
    {TPC_CODE_STORED_UNREADABLE, "stored answer unreadable"},
    {TPC_CODE_UNKNOWN_KEY, "no sending stored under that key for this sender"},
    {TPC_CODE_TOO_MANY, "sending has more invoices or lines than the engine accepts"},
    {TPC_CODE_EMPTY_PAYLOAD, "payload frame is empty"},
    {TPC_CODE_BAD_TYPE, "unknown request type"},
    {TPC_CODE_INTERNAL, "internal error while clearing: retry later"},
    {TPC_CODE_UNKNOWN_KIND, "unknown reference data kind"},
    {TPC_CODE_BAD_REFDATA, "reference data file refused"},
    {TPC_CODE_RACE, "a concurrent sending changed what this one was checked against: resubmit it"},
    {TPC_CODE_NOT_SETTLED, "the sending has no settlement yet: no payment run has paid it"},
    {TPC_CODE_BAD_LEDGER_REQ, "ledger request refused: not a valid tpclear.LedgerRequest"},
    {TPC_CODE_BAD_PAYRUN,
     "payment run refused: not a valid tpclear.PayrunRequest, unknown budget or date"},
    {TPC_CODE_UNKNOWN_TARGET, "nothing in the ledger under that key, invoice or payee"},
    {TPC_CODE_EATTEST_PUBLIC,
     "eAttest: this public (detention, Fedasil, Mediprima, war victims) is cleared in "
     "third-party payment only"},
    {TPC_CODE_EATTEST_ABROAD, "eAttest: care abroad is reimbursed under OSSOM only"},
    {TPC_CODE_PAYRUN_ID_REUSED,
     "payment run refused: this request_id was used with another until or budget"},
    {"T00020", "refused share of the sending above clearing.max_refused_percent: nothing is paid"},
    {TPC_CODE_UNREGISTERED, "sender no longer in the senders registry"},
    {TPC_CODE_NOT_YOUR_NIHII,
     "the sending bills as a NIHII number this sender is not registered for"},
    {TPC_CODE_FEED_NOT_ALLOWED, "this sender may not send that kind of reference data"},
    {TPC_CODE_OPS_ONLY, "only an ops sender may make this request"},
    {TPC_CODE_LEDGER_SCOPE, "ledger show: the target is not this sender's (another NIHII, a NISS)"},
    {TPC_CODE_SENDER_BUSY,
     "too many requests of this sender in flight (engine.max_in_flight_per_sender): retry later"},
    {TPC_CODE_LOAD_TOO_LARGE, "reference data file larger than engine.max_load_bytes"},
    {TPC_CODE_MAY_NOT_SUBMIT, "this sender has no NIHII number to bill as: it may not submit"},
    {TPC_CODE_BAD_STATEMENT, "statement refused: the institution is not sppis or the month is "
                             "not YYYYMM"},
    {TPC_CODE_UNRECONCILED, "statement refused: its lines do not add up to the budget's charges "
                            "of the month (a ledger inconsistency: report it)"},
    {TPC_CODE_STATEMENT_NO_LINE, "statement refused: a charge to the budget has no accepted "
                                 "Mediprima line with its decision and CPAS in the ledger"},
    {TPC_CODE_STATEMENT_RENDER, "statement refused: the document could not be written (out of "
                                "memory)"},
};

const char *tpc_codes_describe(const char *code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].code, code) == 0)
			return table[i].reason;
	return NULL;
}
