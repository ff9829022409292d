/* engine/codes.c - the table of tpclear's own codes (see codes.h, docs/errors.md). */
#include "codes.h"

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
    {"T00020", "refused share of the sending above clearing.max_refused_percent: nothing is paid"},
};

const char *tpc_codes_describe(const char *code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].code, code) == 0)
			return table[i].reason;
	return NULL;
}
