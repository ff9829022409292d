/* engine/core/codes.h - tpclear's own finding and refusal codes.
 *
 * Official eFact codes are RRZZNN (two digits of record type first). tpclear's own codes are
 * "T" followed by five digits, so they can never collide with an official code. The table in
 * codes.c is the single list; docs/errors.md mirrors it.
 */
#ifndef TPC_CODES_H
#define TPC_CODES_H

#define TPC_CODE_BAD_ENVELOPE      "T00001"
#define TPC_CODE_BAD_FRAMES        "T00002"
#define TPC_CODE_UNKNOWN_FORMAT    "T00003"
#define TPC_CODE_BAD_VERSION       "T00004"
#define TPC_CODE_TOO_LARGE         "T00005"
#define TPC_CODE_BAD_KEY           "T00006"
#define TPC_CODE_SHUTTING_DOWN     "T00007"
#define TPC_CODE_BAD_SENDER        "T00008"
#define TPC_CODE_STORAGE_FULL      "T00009"
#define TPC_CODE_LEDGER_FAILED     "T00010"
#define TPC_CODE_STORED_UNREADABLE "T00011"
#define TPC_CODE_UNKNOWN_KEY       "T00012"
#define TPC_CODE_TOO_MANY          "T00013"
#define TPC_CODE_EMPTY_PAYLOAD     "T00014"
#define TPC_CODE_BAD_TYPE          "T00015"
#define TPC_CODE_INTERNAL          "T00016"
#define TPC_CODE_UNKNOWN_KIND      "T00017"
#define TPC_CODE_BAD_REFDATA       "T00018"
#define TPC_CODE_RACE              "T00019"
#define TPC_CODE_NOT_SETTLED       "T00021"
#define TPC_CODE_BAD_LEDGER_REQ    "T00022"
#define TPC_CODE_BAD_PAYRUN        "T00023"
#define TPC_CODE_UNKNOWN_TARGET    "T00024"
#define TPC_CODE_EATTEST_PUBLIC    "T00025"
#define TPC_CODE_EATTEST_ABROAD    "T00026"
#define TPC_CODE_PAYRUN_ID_REUSED  "T00027"
/* security (engine/security/security.c, docs/security.md): T00040..T00059 */
#define TPC_CODE_UNREGISTERED     "T00040"
#define TPC_CODE_NOT_YOUR_NIHII   "T00041"
#define TPC_CODE_FEED_NOT_ALLOWED "T00042"
#define TPC_CODE_OPS_ONLY         "T00043"
#define TPC_CODE_LEDGER_SCOPE     "T00044"
#define TPC_CODE_SENDER_BUSY      "T00045"
#define TPC_CODE_LOAD_TOO_LARGE   "T00046"
#define TPC_CODE_MAY_NOT_SUBMIT   "T00047"
/* statements (engine/ledger/statement.c, docs/formats/sppis-statement.md): T00030..T00034 */
#define TPC_CODE_BAD_STATEMENT     "T00030"
#define TPC_CODE_UNRECONCILED      "T00031"
#define TPC_CODE_STATEMENT_NO_LINE "T00032"
#define TPC_CODE_STATEMENT_RENDER  "T00033"

/** Reason for one of tpclear's own codes. @return a static string, or NULL if unknown. */
const char *tpc_codes_describe(const char *code);

#endif
