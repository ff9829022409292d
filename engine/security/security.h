/* engine/security/security.h - transport security, authorization and per-sender limits of the intake
 * (docs/security.md).
 *
 * Two modes ([security] mode):
 *  - curve: the intake ROUTER is a CURVE server; a ZAP handler (engine/security/zap.h) admits only the
 *    public keys of the senders registry (engine/security/senders.h). Every request then carries the
 *    sender id the key is registered under, which replaces the envelope's sender for
 *    idempotency keys, queries and settlements, and the rules of engine/security/authz.h apply.
 *  - plain: no authentication, the envelope's sender is taken at its word. Allowed only when
 *    every endpoint (intake and HTTP) is loopback or ipc, and announced by a warning at start.
 * The default, auto, is curve unless every endpoint is local.
 *
 * Threads: tpc_security_t belongs to the loop thread (intake checks, the current registry, the
 * per-sender in-flight table, SIGHUP reloads). What travels with a job is a tpc_job_auth_t: a
 * reference to the registry snapshot and the sender's entry in it, immutable, so the worker
 * checks (tpc_security_check_sending, tpc_security_check_ledger) need no shared state.
 */
#ifndef TPC_SECURITY_H
#define TPC_SECURITY_H

#include "security/authz.h"
#include "core/config.h"
#include "core/metrics.h"
#include "tpclear.pb-c.h"

#include <stddef.h>
#include <zmq.h>

struct event_base;
struct tpc_job;
struct tpc_store_reader;

typedef struct tpc_security tpc_security_t;

/** Is a ZeroMQ endpoint reachable only from this machine: ipc://, inproc://, or tcp:// on
 *  127.0.0.0/8, ::1, localhost or the interface lo? Anything else (a wildcard, another address,
 *  another transport) is not. */
int tpc_security_endpoint_is_local(const char *endpoint);

/** The same for an HTTP listen address (host:port); "off" is local (nothing listens). */
int tpc_security_http_is_local(const char *listen);

/** The mode in force for @p cfg: TPC_SECURITY_CURVE or TPC_SECURITY_PLAIN (auto resolved). */
enum tpc_security_mode tpc_security_mode_of(const tpc_config_t *cfg);

/** Refuse a configuration that asks for plain mode with an endpoint other machines can reach.
 *  @return 0 or TPC_ECONFIG with @p err saying which endpoint and what to do. */
int tpc_security_check_config(const tpc_config_t *cfg, char *err, size_t errlen);

/** Set up security for the intake of @p zctx: in curve mode, load (or make) the engine's key
 *  pair, load the senders registry and start the ZAP handler; in plain mode, warn. Adds a
 *  SIGHUP event to @p base that reloads the registry. Call before the intake binds.
 *  @param[in] loop_shard  the loop thread's metrics shard (borrowed)
 *  @param[out] out        release with tpc_security_free() after the intake socket is closed
 *  @return 0, or a negative TPC_E* code after logging why. */
int tpc_security_new(const tpc_config_t *cfg, void *zctx, struct event_base *base,
                     tpc_metrics_t *metrics, tpc_metrics_shard_t *loop_shard, tpc_security_t **out);

/** Configure the intake socket before zmq_bind: CURVE server, key, ZAP domain (curve mode),
 *  and the largest message ZeroMQ accepts (both modes). @return 0 or TPC_EZMQ. */
int tpc_security_router(tpc_security_t *sec, void *router);

/** Reload the senders registry (what SIGHUP does). A bad file is refused with its line and the
 *  registry in force stays. @return 0 or the load's TPC_E* code. Loop thread. */
int tpc_security_reload(tpc_security_t *sec);

/** Is CURVE on? */
int tpc_security_curve(const tpc_security_t *sec);

/** Stop the ZAP handler and free; NULL-safe; sets *@p sec to NULL. */
void tpc_security_free(tpc_security_t **sec);

/** Intake (loop thread): who sent @p msg (a frame of the request), and may they make it?
 *  @param[out] auth    on success: the sender's registry entry and a snapshot reference
 *                      (curve), and the peer address; release with tpc_security_release()
 *  @param[out] sender  on success: the sender id to use (authenticated, or the envelope's)
 *  @return NULL when admitted, else the refusal code (static), already logged and counted. */
const char *tpc_security_admit(tpc_security_t *sec, zmq_msg_t *msg, const Tpclear__Envelope *env,
                               tpc_job_auth_t *auth, char sender[TPC_SENDERS_ID_MAX]);

/** Intake: count one more request of @p sender in flight.
 *  @return NULL, or TPC_CODE_SENDER_BUSY (logged and counted) when the sender is at
 *          [engine] max_in_flight_per_sender. */
const char *tpc_security_take(tpc_security_t *sec, tpc_job_auth_t *auth, const char *sender,
                              const char *key);

/** Release what @p auth holds (registry reference, in-flight count). Loop thread; safe on a
 *  zeroed or already released @p auth. */
void tpc_security_release(tpc_security_t *sec, tpc_job_auth_t *auth, const char *sender);

/** Log and count a refusal the server decided itself (e.g. TPC_CODE_LOAD_TOO_LARGE). */
void tpc_security_refused(tpc_security_t *sec, const char *code, const tpc_job_auth_t *auth,
                          const char *sender, const char *key, const char *detail);

/** Worker: refuse a decoded sending that bills as a NIHII number its sender may not (curve
 *  mode). @return 1 when refused (the job is failed with TPC_CODE_NOT_YOUR_NIHII and a reason
 *  naming the number), 0 to go on. */
int tpc_security_check_sending(struct tpc_job *job, tpc_metrics_shard_t *shard);

/** Worker: refuse a ledger request outside its sender's scope (curve mode).
 *  @return 1 when refused (job failed), 0 to go on. */
int tpc_security_check_ledger(struct tpc_store_reader *reader, tpc_metrics_shard_t *shard,
                              struct tpc_job *job);

#endif /* TPC_SECURITY_H */
