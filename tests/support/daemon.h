/* tests/support/daemon.h - start the real tpcleard for integration tests and talk to it.
 *
 * Each daemon gets a fresh temporary data directory, a generated config binding the intake to
 * tcp://127.0.0.1:* and HTTP to 127.0.0.1:0 (free ports chosen by the kernel), and is found
 * through the endpoints file it writes once ready. stderr goes to DIR/tpcleard.log.
 */
#ifndef TPC_TEST_DAEMON_H
#define TPC_TEST_DAEMON_H

#include "security/keys.h"
#include "tpclear.pb-c.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TPC_TD_IDS 24 /* client identities one daemon can have */

/** A client identity of the registry the helper writes (CURVE). */
typedef struct tpc_td_id {
	char id[64];
	tpc_keypair_t keys;
} tpc_td_id_t;

typedef struct tpc_td {
	pid_t pid;
	char dir[256];    /* temp root: config, log, data/ */
	char data[300];   /* data directory */
	char intake[256]; /* bound intake endpoint */
	char http_host[64];
	int http_port;
	void *zctx;
	/* security: CURVE unless started with TPC_TD_PLAIN */
	int plain;
	char server_pub[TPC_KEY_Z85 + 1]; /* the engine's public key (DIR/server.pub) */
	char senders[320];                /* the registry file (DIR/senders.ini) */
	int nids;
	tpc_td_id_t ids[TPC_TD_IDS]; /* ids[0] is "test", the identity of tpc_td_connect() */
} tpc_td_t;

enum tpc_td_flags {
	TPC_TD_PLAIN = (1u << 0), /* [security] mode = plain: no CURVE, envelope senders */
};

/** Start a daemon. @p dir NULL = make a new temp dir (else reuse it, e.g. after a restart).
 *  @p extra_ini is appended to the generated config (may be NULL). @return 0 or -1.
 *
 *  CURVE is on: at the first start in a directory the helper makes the engine's key pair
 *  (DIR/server.key, .pub), one key pair per client identity (DIR/keys/ID.key, .pub) and the
 *  senders registry (DIR/senders.ini) with these identities:
 *    test        ops, NIHII of the sample hospital, GP and pharmacist, every feed: the
 *                identity of tpc_td_connect(), so a test may do anything on one socket
 *    ops         ops, every feed, no NIHII
 *    hospital    hospital 18334780004 (the sample hospital)
 *    gp          gp 17385467004;  pharmacist  pharmacist 10065828001
 *    cpas        cpas, nothing;   sppis: mediprima;  fedasil: fedasil, fedasil_exclusions;
 *    justice     detention
 *  The sender id of every request is the identity's, whatever the envelope says. */
int tpc_td_start(tpc_td_t *d, const char *dir, const char *extra_ini);
/** Zero @p d and tpc_td_start() it in a fresh directory with @p extra_ini, or fail the test
 *  with the daemon's log on stderr. */
void tpc_td_start_or_fail(tpc_td_t *d, const char *extra_ini);
/** Zero @p d and start it in a fresh directory with the LD_PRELOAD library @p shim, which reads
 *  its fault from the file @p control (tests/support/fault/); fail the test with the daemon's
 *  log when it does not start. Only the daemon's environment carries the shim. */
void tpc_td_start_with_shim(tpc_td_t *d, const char *shim, const char *control);
/** tpc_td_start() with flags (enum tpc_td_flags). A restart keeps the mode it started with. */
int tpc_td_start_ex(tpc_td_t *d, const char *dir, const char *extra_ini, unsigned flags);
/** Send (tpc_td_send(), asserted) a generated canonical sending, tpc_td_canonical(@p seed,
 *  @p ninv, @p nlines), as @p sender's @p key with correlation @p corr. */
void tpc_td_send_canonical(void *sock, const char *sender, const char *key, uint64_t corr,
                           unsigned seed, int ninv, int nlines);
/** SIGTERM and wait. @return the exit status (0 = clean), or -1 on a signal death/timeout. */
int tpc_td_stop(tpc_td_t *d);
/** SIGKILL and reap. */
void tpc_td_kill9(tpc_td_t *d);
/** Remove the temp dir and terminate the ZeroMQ context. */
void tpc_td_cleanup(tpc_td_t *d);
/** Print the daemon log to stderr (for failing tests). */
void tpc_td_dump_log(const tpc_td_t *d);
/** Does the daemon log contain @p needle? */
int tpc_td_log_has(const tpc_td_t *d, const char *needle);

/** A connected DEALER socket (owned by the caller; zmq_close it), as identity "test" (CURVE)
 *  or plain. */
void *tpc_td_connect(tpc_td_t *d);
/** A DEALER with the registered identity @p id's keys. @return NULL when unknown. */
void *tpc_td_connect_as(tpc_td_t *d, const char *id);
/** A DEALER with any client key pair (e.g. one the registry does not know); NULL = plain.
 *  Once the engine has refused its handshake, libzmq does not reconnect and a DEALER has no
 *  peer left: send on such a socket once only (a second blocking send would wait forever). */
void *tpc_td_connect_keys(tpc_td_t *d, const tpc_keypair_t *client);
/** The key pair of identity @p id, or NULL. */
const tpc_keypair_t *tpc_td_keys_of(const tpc_td_t *d, const char *id);
/** Register a new identity: make its key pair (DIR/keys/ID.key), append its section to the
 *  registry (@p nihii and @p feeds space-separated, "*" = every feed). Before the start, or
 *  followed by tpc_td_reload(). @return 0 or -1. */
int tpc_td_add_sender(tpc_td_t *d, const char *id, const char *kind, const char *nihii,
                      const char *feeds);
/** SIGHUP, and wait for the reload to be counted in /metrics.
 *  @return 0 (reloaded), 1 (the registry was refused), -1 (no answer). */
int tpc_td_reload(tpc_td_t *d);
/** The tpclear options to talk to this daemon as @p id (NULL = "test"): "--server-key F
 *  --client-key P", or "" when plain. @return a static buffer. */
const char *tpc_td_cli_keys(const tpc_td_t *d, const char *id);
/** Send a request: envelope + payload frames (@p payload may be NULL for queries). */
int tpc_td_send(void *sock, Tpclear__RequestType type, const char *sender, const char *key,
                const char *format, uint64_t corr, const void *payload, size_t len);
/** Send raw frames (for malformed requests). */
int tpc_td_send_raw(void *sock, const void *const *frames, const size_t *lens, int n);
/** Receive one answer within @p timeout_ms; the native frame, if any, is malloc'd into
 *  *native (may be NULL to drop it). @return the answer or NULL on timeout. */
Tpclear__Answer *tpc_td_recv(void *sock, int timeout_ms, uint8_t **native, size_t *nlen);
/** Submit and wait for the final answer (Result, Conflict or refusal). *receipt gets the
 *  first answer when not NULL. @return the final answer, or NULL. */
Tpclear__Answer *tpc_td_submit(void *sock, const char *sender, const char *key, const char *format,
                               const void *payload, size_t len, Tpclear__Answer **receipt);
/** Query a key. @return the answer or NULL. */
Tpclear__Answer *tpc_td_query(void *sock, const char *sender, const char *key);

/** Any request: send, skip the receipt, return the final answer with this correlation (the
 *  native frame in *native when not NULL). @return the answer or NULL after 60 s. */
Tpclear__Answer *tpc_td_request(void *sock, Tpclear__RequestType type, const char *sender,
                                const char *key, const char *format, const void *payload,
                                size_t len, uint8_t **native, size_t *nlen);
/** A payment run (until YYYYMMDD or 0, budget "" = all). @return the answer or NULL. */
Tpclear__Answer *tpc_td_payrun(void *sock, int32_t until, const char *budget);
/** The same with an idempotency key (@p request_id, "" = none). */
Tpclear__Answer *tpc_td_payrun_id(void *sock, int32_t until, const char *budget,
                                  const char *request_id);
/** A ledger request. @return the answer or NULL. */
Tpclear__Answer *tpc_td_ledger(void *sock, const char *sender, const Tpclear__LedgerRequest *rq);

/** GET http://host:port/path. @return malloc'd body and *status, or NULL. */
char *tpc_td_http_get(const tpc_td_t *d, const char *path, int *status);
/** Value of one series in /metrics (exact series text, e.g. "tpclear_in_flight"). -1 = absent */
long long tpc_td_metric(const tpc_td_t *d, const char *series);

/** Open the stopped daemon's ledger and read its totals: the sum of all postings (0 when the
 *  books balance), what payees are credited, the number of postings and of sendings stored.
 *  @return 0 or -1. */
int tpc_td_ledger_totals(const tpc_td_t *d, int64_t *sum, int64_t *credited, uint64_t *postings,
                         uint64_t *sendings);

/** The exactly-once invariants of a stopped daemon's ledger, checked by reading every
 *  sub-database: postings sum to zero overall and per budget; every payable posting (one per
 *  accepted line) is either unpaid (in "payables") or paid (in "paid"), never both, never
 *  twice; every payment's amount equals the SETTLE postings of its run and number.
 *  @param[out] err  why, when it fails
 *  @return 0 when every invariant holds, -1 otherwise. */
int tpc_td_ledger_check(const tpc_td_t *d, char *err, size_t errlen, uint64_t *paid_lines,
                        uint64_t *unpaid_lines);
/** tpc_td_ledger_check() asserted to hold (its reason as the failure message).
 *  @param[out] paid_lines, unpaid_lines  as there, for the caller to compare (NULL: not wanted) */
void tpc_td_books(const tpc_td_t *d, uint64_t *paid_lines, uint64_t *unpaid_lines);
/** tpc_td_stop() asserted clean (exit 0), then tpc_td_books(): how a test ends its daemon. */
void tpc_td_stop_books(tpc_td_t *d, uint64_t *paid_lines, uint64_t *unpaid_lines);
/** Count what a flooded intake answered: a BUSY receipt in @p busy, another receipt (asserted
 *  to be RECEIVED, its reason the message) in @p received, a result (asserted) in @p results.
 *  @return 'B', 'R' or 'S', which one it was. */
char tpc_td_tally(const Tpclear__Answer *a, int *busy, int *received, int *results);

/** An eFact sending of one ambulatory invoice of the sample hospital (config/refdata) for the
 *  ordinary member 86103130262: codes 101032 on @p day and 102771 the day after, one unit
 *  each (-1 and negative amounts when @p sign is -1, for a credit note).
 *  @param invoicing  '0' normal, '3' credit note of @p previous
 *  @return malloc'd bytes. */
uint8_t *tpc_td_efact_invoice(const char *reference, const char *number, char invoicing,
                              const char *previous, int sign, uint32_t day, size_t *len);

/** A valid canonical sending (check digits right) of @p ninv invoices x @p nlines lines, made
 *  unique by @p seed. @return malloc'd protobuf bytes. */
uint8_t *tpc_td_canonical(unsigned seed, int ninv, int nlines, size_t *len);

#endif
