/* engine/core/codes.h - tpclear's own finding and refusal codes: the registry.
 *
 * DESIGN: TPC_CODE_LIST is the one list of tpclear's own codes, X(name, code, letter, text):
 * it generates the TPC_CODE_<name> constants the engine answers with, the table behind
 * tpc_codes_describe(), and tests/unit/core/test_codes.c checks docs/errors.md against it (every
 * code documented, every documented code listed, the same letter). Add a code here and in the
 * doc, nowhere else. Owns no state; any thread may read it.
 *
 * Official eFact codes are RRZZNN (two digits of record type first) and each adapter lists the
 * ones it emits (adapters/efact/efact_codes.c). tpclear's own codes are "T" followed by five
 * digits, so they can never collide with an official code: T000nn intake and engine, T0003n
 * statements (docs/formats/sppis-statement.md), T0004n security (docs/security.md), T00050 and
 * T00051 the ledger's storage, T00055 a damaged stored record, T0006n data safety and memory
 * bounds (docs/operations.md).
 *
 * The letter is the eFact letter a code is answered with when it is a finding in a result ('B'
 * refuses the sending, 'R' the line). Most codes are refusals (a receipt or a final refusal
 * carries a code and a reason, never a letter): those have '-', TPC_CODE_NO_LETTER.
 */
#ifndef TPC_CODES_H
#define TPC_CODES_H

/** Letter of a code that is never a finding (a refusal: receipt or final answer). The list writes
 *  it '-' so that its columns read like docs/errors.md's. */
#define TPC_CODE_NO_LETTER '-'

/* Sorted by code; the texts are the reasons sent on the wire: changing one changes answers. */
#define TPC_CODE_LIST(X)                                                                           \
	X(BAD_ENVELOPE, "T00001", '-', "envelope frame is not a valid tpclear.Envelope")           \
	X(BAD_FRAMES, "T00002", '-', "a request is two frames: envelope and payload")              \
	X(UNKNOWN_FORMAT, "T00003", '-', "no adapter of that format name")                         \
	X(BAD_VERSION, "T00004", '-', "unsupported protocol version")                              \
	X(TOO_LARGE, "T00005", '-', "payload larger than engine.max_sending_bytes")                \
	X(BAD_KEY, "T00006", '-', "idempotency key missing, too long or not printable")            \
	X(SHUTTING_DOWN, "T00007", '-', "engine is shutting down: retry later")                    \
	X(BAD_SENDER, "T00008", '-', "sender id missing, too long or not printable")               \
	X(STORAGE_FULL, "T00009", '-', "ledger storage full: retry later")                         \
	X(LEDGER_FAILED, "T00010", '-', "ledger write failed: retry later")                        \
	X(STORED_UNREADABLE, "T00011", '-', "stored answer unreadable")                            \
	X(UNKNOWN_KEY, "T00012", '-', "no sending stored under that key for this sender")          \
	X(TOO_MANY, "T00013", '-', "sending has more invoices or lines than the engine accepts")   \
	X(EMPTY_PAYLOAD, "T00014", '-', "payload frame is empty")                                  \
	X(BAD_TYPE, "T00015", '-', "unknown request type")                                         \
	X(INTERNAL, "T00016", '-', "internal error while clearing: retry later")                   \
	X(UNKNOWN_KIND, "T00017", '-', "unknown reference data kind")                              \
	X(BAD_REFDATA, "T00018", '-', "reference data file refused")                               \
	X(RACE, "T00019", '-',                                                                     \
	  "a concurrent sending changed what this one was checked against: resubmit it")           \
	X(REFUSED_SHARE, "T00020", 'B',                                                            \
	  "refused share of the sending above clearing.max_refused_percent: nothing is paid")      \
	X(NOT_SETTLED, "T00021", '-',                                                              \
	  "the sending has no settlement yet: no payment run has paid it")                         \
	X(BAD_LEDGER_REQ, "T00022", '-',                                                           \
	  "ledger request refused: not a valid tpclear.LedgerRequest")                             \
	X(BAD_PAYRUN, "T00023", '-',                                                               \
	  "payment run refused: not a valid tpclear.PayrunRequest, unknown budget or date")        \
	X(UNKNOWN_TARGET, "T00024", '-', "nothing in the ledger under that key, invoice or payee") \
	X(EATTEST_PUBLIC, "T00025", 'R',                                                           \
	  "eAttest: this public (detention, Fedasil, Mediprima, war victims) is cleared in "       \
	  "third-party payment only")                                                              \
	X(EATTEST_ABROAD, "T00026", 'R', "eAttest: care abroad is reimbursed under OSSOM only")    \
	X(PAYRUN_ID_REUSED, "T00027", '-',                                                         \
	  "payment run refused: this request_id was used with another until or budget")            \
	X(BAD_STATEMENT, "T00030", '-',                                                            \
	  "statement refused: the institution is not sppis or the month is not YYYYMM")            \
	X(UNRECONCILED, "T00031", '-',                                                             \
	  "statement refused: its lines do not add up to the budget's charges of the month (a "    \
	  "ledger inconsistency: report it)")                                                      \
	X(STATEMENT_NO_LINE, "T00032", '-',                                                        \
	  "statement refused: a charge to the budget has no accepted Mediprima line with its "     \
	  "decision and CPAS in the ledger")                                                       \
	X(STATEMENT_RENDER, "T00033", '-',                                                         \
	  "statement refused: the document could not be written (out of memory)")                  \
	X(UNREGISTERED, "T00040", '-', "sender no longer in the senders registry")                 \
	X(NOT_YOUR_NIHII, "T00041", '-',                                                           \
	  "the sending bills as a NIHII number this sender is not registered for")                 \
	X(FEED_NOT_ALLOWED, "T00042", '-', "this sender may not send that kind of reference data") \
	X(OPS_ONLY, "T00043", '-', "only an ops sender may make this request")                     \
	X(LEDGER_SCOPE, "T00044", '-',                                                             \
	  "ledger show: the target is not this sender's (another NIHII, a NISS)")                  \
	X(SENDER_BUSY, "T00045", '-',                                                              \
	  "too many requests of this sender in flight (engine.max_in_flight_per_sender): retry "   \
	  "later")                                                                                 \
	X(LOAD_TOO_LARGE, "T00046", '-', "reference data file larger than engine.max_load_bytes")  \
	X(MAY_NOT_SUBMIT, "T00047", '-',                                                           \
	  "this sender has no NIHII number to bill as: it may not submit")                         \
	X(DISK_FULL, "T00050", '-',                                                                \
	  "the ledger's disk is full: the sending is refused, nothing stored: retry later")        \
	X(LEDGER_LOST, "T00051", '-',                                                              \
	  "a write of the ledger failed: the engine no longer trusts it and is stopping: retry "   \
	  "after its restart")                                                                     \
	X(STORED_DAMAGED, "T00055", '-',                                                           \
	  "a stored record failed its checksum: the ledger is damaged and nothing of it was "      \
	  "served (tpclear verify names it)")                                                      \
	X(LOAD_DROP, "T00060", '-',                                                                \
	  "load: the replace would remove more than engine.max_load_drop_percent of the kind's "   \
	  "rows (send it forced if that is meant)")                                                \
	X(LOAD_EMPTY, "T00061", '-',                                                               \
	  "load: the file has no row after its header (send it forced if that is meant)")          \
	X(CONN_BUSY, "T00062", '-',                                                                \
	  "too many requests of this connection unanswered or unread "                             \
	  "(engine.max_outstanding_per_connection): read the answers, then retry")                 \
	X(MEMORY_BUSY, "T00063", '-',                                                              \
	  "the requests in flight hold engine.max_memory_in_flight: retry later")                  \
	X(PAYLOAD_BUSY, "T00064", '-',                                                             \
	  "the sendings in flight would take engine.admission_delay_ms to answer (or hold "        \
	  "engine.max_payload_in_flight bytes): the engine is at its capacity, retry later")       \
	X(JOURNAL_DAMAGED, "T00065", '-',                                                          \
	  "the attestation journal has a damaged record with good records after it: the engine "   \
	  "does not start (docs/operations.md)")                                                   \
	X(JOURNAL_FAILED, "T00066", '-',                                                           \
	  "the attestation journal cannot be written or read back: eAttests are answered after "   \
	  "their own commit until the next start")                                                 \
	X(JOURNAL_TORN, "T00067", '-',                                                             \
	  "the attestation journal's last record was being written when the engine stopped "       \
	  "(never answered): left out")

/* TPC_CODE_<name>: the code as a NUL-terminated string of 6 characters (codes.c defines them).
 * Arrays, not #defines, because a list cannot generate #defines; they are constant addresses, so
 * static tables of codes (security.c's metric map) still initialise from them. */
#define X(name, code, letter, text) extern const char TPC_CODE_##name[7];
TPC_CODE_LIST(X)
#undef X

/** Reason for one of tpclear's own codes. @return a static string, or NULL if unknown (or NULL
 *  @p code). */
const char *tpc_codes_describe(const char *code);

#endif
