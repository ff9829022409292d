/* engine/security/zap.h - the ZAP handler: admits registered CURVE keys only (ZeroMQ RFC 27).
 *
 * libzmq asks the handler bound on inproc://zeromq.zap.01 of its context about every CURVE
 * handshake on a socket with a ZAP domain. This one answers 200 with the sender id as User-Id
 * for a key found in the senders registry, and 400 for anything else (default deny); the
 * client's key is also returned as the metadata property X-Curve-Key, so the loop thread can
 * check every message against the registry in force when it arrives, not only at handshake.
 *
 * The handler runs in its own thread with its own sockets (a REP socket for ZAP, a PAIR socket
 * for control). It holds one reference to a registry snapshot; a reload hands it the next one
 * through the control socket (tpc_zap_update), so it never shares mutable state with the loop.
 */
#ifndef TPC_ZAP_H
#define TPC_ZAP_H

#include "security/keys.h"
#include "core/metrics.h"
#include "security/senders.h"

#include <stddef.h>
#include <stdint.h>

#define TPC_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define TPC_ZAP_DOMAIN   "tpclear" /* ZMQ_ZAP_DOMAIN of the intake socket */
#define TPC_ZAP_KEY_PROP "X-Curve-Key"

/** What the handler decided. */
enum tpc_zap_verdict {
	TPC_ZAP_ALLOW = 0,
	TPC_ZAP_DENY_KEY = 1,     /* a well-formed CURVE request with a key nobody registered */
	TPC_ZAP_DENY_REQUEST = 2, /* not a ZAP 1.0 CURVE request for our domain */
};

/** The reply to send, as text (RFC 27 frames 3-5, and the key for frame 6 and logs). */
typedef struct tpc_zap_reply {
	char status[4];                   /* "200", "400" or "500" */
	char text[64];                    /* status text */
	char user_id[TPC_SENDERS_ID_MAX]; /* the sender id when allowed, else "" */
	char key[TPC_KEY_Z85 + 1];        /* the client's public key (Z85), "" when not CURVE */
	char address[64];                 /* the peer's address as libzmq gave it */
} tpc_zap_reply_t;

/** Decide one ZAP request: @p n frames @p frames[i] of @p lens[i] bytes (version, request id,
 *  domain, address, identity, mechanism, credentials...). Pure: reads @p reg only.
 *  @p reg may be NULL (nothing registered: everything is denied). */
enum tpc_zap_verdict tpc_zap_decide(const tpc_senders_t *reg, size_t n,
                                    const uint8_t *const *frames, const size_t *lens,
                                    tpc_zap_reply_t *out);

typedef struct tpc_zap tpc_zap_t;

/** Bind the handler on TPC_ZAP_ENDPOINT of @p zctx (before any CURVE socket binds, so no
 *  handshake is ever decided without it) and start its thread.
 *  @param[in] registry  the first snapshot; the handler takes this reference (*registry NULL)
 *  @param[in] metrics   the handler takes a shard of it for its counters
 *  @param[out] out      stop with tpc_zap_stop() after the CURVE sockets are closed
 *  @return 0, TPC_EZMQ (e.g. another handler is bound) or TPC_ENOMEM. */
int tpc_zap_start(void *zctx, tpc_senders_t **registry, tpc_metrics_t *metrics, tpc_zap_t **out);

/** Hand the handler a new snapshot (the reference moves; *@p registry is set to NULL). The
 *  handler uses it for every handshake after this returns. Call from the thread that started
 *  the handler. @return 0 or TPC_EZMQ. */
int tpc_zap_update(tpc_zap_t *z, tpc_senders_t **registry);

/** Stop the thread, close its sockets, drop its snapshot; NULL-safe; sets *@p z to NULL. */
void tpc_zap_stop(tpc_zap_t **z);

#endif /* TPC_ZAP_H */
