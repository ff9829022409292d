/* engine/cli/money.h - the tpclear commands about money: payrun, ledger, settlement queries and
 * statements.
 *
 * DESIGN (engine/cli/): tpclear, the command-line client, a separate program from the engine.
 *  - Owns: the command table and options (tpclear.c: submit, query, load, ping, keygen, and
 *    the money commands here), the pipelined exchange over one DEALER socket, the CURVE client
 *    side (curve.c), and every printing of answers (text, JSON, CSV).
 *  - Threads: one; the socket, its CURVE monitor and all items belong to it.
 *  - Never: open the engine's stores or run its threads: it speaks only the wire protocol
 *    (proto/tpclear.proto, through engine/pipeline/client.h); and never mixes what a script
 *    parses (--json, CSV, a document on stdout) with the progress bar or messages (stderr).
 *
 * Requests are built here as packed protobuf payloads; the exchange itself is tpclear.c's.
 * Printing: plain text by default, one JSON object with --json, CSV for `ledger export`.
 */
#ifndef TPC_CLI_MONEY_H
#define TPC_CLI_MONEY_H

#include "json.h"
#include "tpclear.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Pack a PayrunRequest (@p request_id: its idempotency key, NULL = none).
 *  @param[out] out malloc'd (caller frees). @return 0 or -1. */
int tpc_cli_payrun_request(int32_t until, const char *budget, const char *request_id, uint8_t **out,
                           size_t *len);

/** Pack a LedgerRequest. @param[out] out malloc'd (caller frees). @return 0 or -1. */
int tpc_cli_ledger_request(const Tpclear__LedgerRequest *rq, uint8_t **out, size_t *len);

/** Print a payment run's result; with @p out_dir, also write each SEPA file there.
 *  @return 0, or -1 when a file could not be written. */
int tpc_cli_print_payrun(FILE *f, const Tpclear__PayrunResult *r, int json, const char *out_dir);

/** A settlement as a JSON object (json.h conventions). @return a new reference. */
json_t *tpc_cli_j_settlement(const Tpclear__Settlement *s);

/** Print a settlement (text, or one JSON object and a newline). */
void tpc_cli_print_settlement(FILE *f, const Tpclear__Settlement *s, int json);

/** Print a ledger answer for @p op (balance, show). */
void tpc_cli_print_ledger(FILE *f, const Tpclear__LedgerAnswer *a, Tpclear__LedgerRequest__Op op,
                          int json);

/** Print one page of exported postings: CSV (header with @p first) or JSON objects, one per
 *  line. */
void tpc_cli_print_postings(FILE *f, const Tpclear__LedgerAnswer *a, int json, int first);

/** Write @p doc to @p path (temporary file, fsync, rename), or to stdout when @p path is NULL.
 *  @return 0, or -1 with errno set. */
int tpc_cli_write_document(const char *path, const ProtobufCBinaryData *doc);

/** Print a statement's summary: per CPAS, decisions, lines and amounts, the grand total and
 *  the budget's charges (text, or one JSON object and a newline). @p file: where the document
 *  went (NULL: stdout). */
void tpc_cli_print_statement(FILE *f, const Tpclear__Statement *s, int json, const char *file);

/** Pack an Attestation from KEY=VALUE arguments (number, provider, patient, code, date,
 *  units, fee (EUR), country, real_cost (EUR), cancels, reference). The arguments are
 *  modified. @param[out] number the attestation number (the envelope key)
 *  @return 0, or -1 with @p err set. */
int tpc_cli_eattest_request(int argc, char **argv, uint8_t **out, size_t *len, char *number,
                            size_t cap, char *err, size_t errlen);

/** Print an eAttest's answer. @return 0 when reimbursed, 1 when refused. */
int tpc_cli_print_eattest(FILE *f, const Tpclear__Answer *a, int json);

#endif /* TPC_CLI_MONEY_H */
