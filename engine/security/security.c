/* engine/security/security.c - the intake's security (see security.h, docs/security.md).
 *
 * DESIGN
 * Threads: the loop thread owns this object: the registry snapshot in force ("current"), the
 *          per-sender in-flight table, the SIGHUP event and the control end of the ZAP handler.
 *          The ZAP thread (engine/security/zap.c) holds its own reference to a snapshot; every
 *          job holds one for its whole trip (job->auth), so a worker reads the sender's entry
 *          without a lock and a reload never pulls an entry from under a job in flight.
 *          Snapshots are immutable and freed by whoever drops the last reference
 *          (engine/security/senders.c): the only thing threads share is read-only data and the
 *          queues that carry it.
 * Checks:  at handshake, the ZAP handler admits registered keys only. At every message, the
 *          loop thread reads the User-Id and the key (X-Curve-Key metadata) that ZAP attached
 *          to the connection and looks the key up in the registry in force *now*: a key removed
 *          by a reload is refused at its next request even on a connection that was admitted
 *          before (ZeroMQ cannot close one peer of a ROUTER). Then the request rules
 *          (engine/security/authz.c). Workers check what only decoding reveals (the NIHII
 *          numbers a sending bills as, the target of a ledger request):
 *          engine/pipeline/worker.c applies authz.c there with what it looked up in the ledger,
 *          and counts the refusal through tpc_security_note(), so security/ never reads the
 *          ledger.
 * Reload:  SIGHUP, on the loop thread: the file is small and read rarely, so it is read there
 *          (a departure from "the loop thread never touches disk", bounded by the 16 MiB cap
 *          of the registry file). A bad file is refused whole, with file:line: reason, and the
 *          registry in force stays.
 * Logs:    every refusal is one line with the peer address; the loop thread's lines are
 *          limited to a burst per window so one misbehaving sender cannot flood the log.
 */
#include "security/security.h"

#include "core/codes.h"
#include "core/error.h"
#include "security/inflight.h"
#include "pipeline/job.h"
#include "pipeline/request.h"
#include "security/keys.h"
#include "core/log.h"
#include "security/senders.h"
#include "security/zap.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Defined by hand because distributions build libzmq without its draft API; the number is
 * libzmq's own, and an older libzmq refuses the option (tpc_security_router() copes). */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* libzmq >= 4.3 (a draft option in its headers) */
#endif

#define LOG_BURST    20 /* refusal lines per window (loop thread) */
#define LOG_WINDOW_S 60

_Static_assert(TPC_SENDERS_ID_MAX == TPC_SENDER_MAX, "sender ids fit the job's sender field");

struct tpc_security {
	int curve;
	const tpc_config_t *cfg;
	/* + 32: room for the "/senders.ini" or "/server.key" appended to a maximal data_dir */
	char senders_path[TPC_PATH_MAX + 32];
	char server_key[TPC_PATH_MAX + 32];
	tpc_keypair_t server;   /* the secret is wiped once the intake socket has it */
	tpc_senders_t *current; /* the registry in force (loop thread's reference) */
	uint64_t reloads;
	tpc_zap_t *zap;
	tpc_inflight_t *inflight;
	tpc_metrics_shard_t *shard; /* the loop thread's */
	struct event *sighup;
	time_t window_start;
	unsigned logged, suppressed;
};

/* ---- endpoints and mode --------------------------------------------------------------------- */

/* The locality rules live in core/config.c: the configuration check refuses plain mode on a
 * reachable endpoint with them, and core/ may not depend on security/. */
int tpc_security_endpoint_is_local(const char *ep)
{
	return tpc_config_endpoint_is_local(ep);
}

int tpc_security_http_is_local(const char *listen)
{
	return tpc_config_http_is_local(listen);
}

enum tpc_security_mode tpc_security_mode_of(const tpc_config_t *cfg)
{
	if (cfg->security_mode != TPC_SECURITY_AUTO)
		return cfg->security_mode;
	return tpc_security_endpoint_is_local(cfg->endpoint) &&
	               tpc_security_http_is_local(cfg->http_listen)
	           ? TPC_SECURITY_PLAIN
	           : TPC_SECURITY_CURVE;
}

/* ---- logging and counting refusals ---------------------------------------------------------- */

/* One counter per refusal reason (docs/security.md, "what /metrics counts"): an operator sees
 * which rule is refusing without reading logs that may have been rate-limited. */
static enum tpc_metric metric_of(const char *code)
{
	static const struct {
		const char *code;
		enum tpc_metric m;
	} map[] = {
	    {TPC_CODE_UNREGISTERED, TPC_M_sec_unregistered},
	    {TPC_CODE_NOT_YOUR_NIHII, TPC_M_sec_nihii},
	    {TPC_CODE_FEED_NOT_ALLOWED, TPC_M_sec_feed},
	    {TPC_CODE_OPS_ONLY, TPC_M_sec_ops_only},
	    {TPC_CODE_LEDGER_SCOPE, TPC_M_sec_ledger_scope},
	    {TPC_CODE_SENDER_BUSY, TPC_M_sec_in_flight},
	    {TPC_CODE_LOAD_TOO_LARGE, TPC_M_sec_load_too_large},
	    {TPC_CODE_MAY_NOT_SUBMIT, TPC_M_sec_no_nihii},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].m;
	return TPC_M_sec_bad_handshake; /* cannot happen: every code above is mapped */
}

/* A fixed window: at most LOG_BURST lines per LOG_WINDOW_S, then one line with the count left
 * out, so a client retrying in a loop cannot flood the log while the counters stay exact. Loop
 * thread only, so plain fields suffice. */
static int log_allowed(tpc_security_t *sec)
{
	time_t now = time(NULL);

	if (now - sec->window_start >= LOG_WINDOW_S) {
		if (sec->suppressed)
			tpc_warn("security: %u more refusals not logged in the last %d s (see "
			         "tpclear_security_refusals_total)",
			         sec->suppressed, LOG_WINDOW_S);
		sec->window_start = now;
		sec->logged = sec->suppressed = 0;
	}
	if (sec->logged >= LOG_BURST) {
		sec->suppressed++;
		return 0;
	}
	sec->logged++;
	return 1;
}

static void note(tpc_metrics_shard_t *shard, const char *code, const char *peer, const char *sender,
                 const char *key, const char *detail, int do_log)
{
	tpc_metrics_add(shard, metric_of(code), 1);
	if (do_log)
		tpc_warn("security: refused %s from sender '%s' at %s, key '%s': %s", code, sender,
		         peer && *peer ? peer : "?", key ? key : "",
		         detail ? detail : tpc_codes_describe(code));
}

void tpc_security_refused(tpc_security_t *sec, const char *code, const tpc_job_auth_t *auth,
                          const char *sender, const char *key, const char *detail)
{
	note(sec->shard, code, auth ? auth->peer : NULL, sender, key, detail, log_allowed(sec));
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	tpc_info("SIGHUP received: reloading the senders registry");
	tpc_security_reload(arg);
}

static const char *kinds_summary(const tpc_senders_t *reg, char *buf, size_t cap)
{
	size_t per[TPC_SENDER__COUNT] = {0}, used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < tpc_senders_count(reg); i++)
		per[tpc_sender_kind(tpc_senders_at(reg, i))]++;
	for (int k = 0; k < TPC_SENDER__COUNT && used < cap; k++)
		if (per[k])
			used +=
			    (size_t)snprintf(buf + used, cap - used, "%s%zu %s", used ? ", " : "",
			                     per[k], tpc_sender_kind_name((enum tpc_sender_kind)k));
	return buf;
}

int tpc_security_reload(tpc_security_t *sec)
{
	tpc_senders_t *fresh = NULL, *for_zap, *old;
	char err[512], kinds[256];
	int rc;

	if (!sec->curve) {
		tpc_info("security: plain mode: there is no senders registry to reload");
		return 0;
	}
	/* Parse the whole new file before touching anything: a bad file is refused whole and the
	 * registry in force stays (docs/security.md, "Reloading"). */
	rc = tpc_senders_load(sec->senders_path, &fresh, err, sizeof(err));
	if (rc) {
		tpc_metrics_add(sec->shard, TPC_M_senders_reload_failed, 1);
		tpc_error(
		    "senders: %s; the registry is NOT reloaded, the %zu senders loaded before "
		    "stay in force",
		    err, tpc_senders_count(sec->current));
		return rc;
	}
	/* The ZAP handler first, our own pointer second: if the handoff fails nothing has changed,
	 * so the handshake check and the per-message check are never left on different
	 * registries. */
	for_zap = tpc_senders_ref(fresh);
	if ((rc = tpc_zap_update(sec->zap, &for_zap))) {
		tpc_metrics_add(sec->shard, TPC_M_senders_reload_failed, 1);
		tpc_error("senders: cannot hand the new registry to the ZAP handler; the old one "
		          "stays in force");
		tpc_senders_unref(&fresh);
		return rc;
	}
	old = sec->current;
	sec->current = fresh;
	tpc_senders_unref(&old); /* jobs in flight keep theirs until answered */
	sec->reloads++;
	tpc_metrics_add(sec->shard, TPC_M_senders_reloaded, 1);
	tpc_info("senders: %zu senders from %s (%s), reload %llu", tpc_senders_count(fresh),
	         sec->senders_path, kinds_summary(fresh, kinds, sizeof(kinds)),
	         (unsigned long long)sec->reloads);
	return 0;
}

static int start_curve(tpc_security_t *sec, const tpc_config_t *cfg, void *zctx,
                       tpc_metrics_t *metrics)
{
	tpc_senders_t *reg = NULL, *for_zap;
	char err[1024], kinds[256], pub[TPC_PATH_MAX + 40];
	int created = 0, rc;

	if (cfg->server_key[0])
		snprintf(sec->server_key, sizeof(sec->server_key), "%s", cfg->server_key);
	else
		snprintf(sec->server_key, sizeof(sec->server_key), "%s/server.key", cfg->data_dir);
	if (cfg->senders_path[0])
		snprintf(sec->senders_path, sizeof(sec->senders_path), "%s", cfg->senders_path);
	else
		snprintf(sec->senders_path, sizeof(sec->senders_path), "%s/senders.ini",
		         cfg->data_dir);
	/* the default key is made at first start; a configured one must exist */
	rc = tpc_keys_server(sec->server_key, cfg->server_key[0] == 0, &sec->server, &created, err,
	                     sizeof(err));
	if (rc) {
		tpc_error("security: server key: %s", err);
		return rc;
	}
	tpc_keys_public_path(sec->server_key, pub, sizeof(pub));
	if (created)
		tpc_info("security: made a new server key pair: %s (secret, mode 0600) and %s "
		         "(public: give it to every sender)",
		         sec->server_key, pub);
	rc = tpc_senders_load(sec->senders_path, &reg, err, sizeof(err));
	/* A missing registry starts the engine with nobody admitted, so the file can be written
	 * afterwards and loaded with SIGHUP; a bad one stops startup (docs/security.md). */
	if (rc == TPC_ENOENT) {
		tpc_warn("senders: %s does not exist: no sender can connect until it is written "
		         "(docs/security.md) and tpcleard gets SIGHUP",
		         sec->senders_path);
		rc = tpc_senders_parse(sec->senders_path, "", 0, &reg, err, sizeof(err));
	}
	if (rc) {
		tpc_error("senders: %s", err);
		return rc;
	}
	for_zap = tpc_senders_ref(reg);
	sec->current = reg;
	if ((rc = tpc_zap_start(zctx, &for_zap, metrics, &sec->zap)))
		return rc;
	tpc_info("security: CURVE on the intake, server public key %s (%s); %zu senders from %s "
	         "(%s); SIGHUP reloads them",
	         sec->server.public_z85, pub, tpc_senders_count(reg), sec->senders_path,
	         kinds_summary(reg, kinds, sizeof(kinds)));
	return 0;
}

int tpc_security_new(const tpc_config_t *cfg, void *zctx, struct event_base *base,
                     tpc_metrics_t *metrics, tpc_metrics_shard_t *loop_shard, tpc_security_t **out)
{
	tpc_security_t *sec = calloc(1, sizeof(*sec));
	int rc;

	if (!sec)
		return TPC_ENOMEM;
	sec->cfg = cfg;
	sec->shard = loop_shard;
	sec->window_start = time(NULL);
	sec->curve = tpc_security_mode_of(cfg) == TPC_SECURITY_CURVE;
	if ((rc = tpc_inflight_new(cfg->max_in_flight_per_sender, &sec->inflight)))
		goto out_free;
	if (sec->curve) {
		if ((rc = start_curve(sec, cfg, zctx, metrics)))
			goto out_free;
	} else {
		tpc_warn(
		    "SECURITY WARNING: plain mode, NO CURVE: the intake (%s) and HTTP (%s) are "
		    "local only, and any local process may submit and bill as any sender. Set "
		    "[security] mode = curve for production (docs/security.md)",
		    cfg->endpoint, cfg->http_listen);
	}
	/* through libevent, not a signal handler: the reload then runs as an ordinary callback of
	 * the loop thread, the owner of everything it replaces */
	sec->sighup = evsignal_new(base, SIGHUP, on_sighup, sec);
	if (!sec->sighup || event_add(sec->sighup, NULL) != 0) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	*out = sec;
	return 0;

out_free:
	tpc_security_free(&sec);
	return rc;
}

int tpc_security_router(tpc_security_t *sec, void *router)
{
	const tpc_config_t *cfg = sec->cfg;
	size_t biggest = cfg->max_sending_bytes > cfg->max_load_bytes ? cfg->max_sending_bytes
	                                                              : cfg->max_load_bytes;
	/* ZeroMQ drops a connection that sends a bigger frame, before it is ever buffered whole;
	 * up to this size an oversized payload is received and refused with its code */
	int64_t maxmsg = (int64_t)biggest * 2 + 65536;
	int one = 1, rc = 0;

	if (zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0)
		return TPC_EZMQ;
	if (!sec->curve)
		return 0;
	if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, sec->server.secret_z85, TPC_KEY_Z85) != 0 ||
	    zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, TPC_ZAP_DOMAIN, strlen(TPC_ZAP_DOMAIN)) != 0) {
		tpc_error("security: cannot make the intake a CURVE server: %s",
		          zmq_strerror(errno));
		rc = TPC_EZMQ;
	}
	/* fail closed: were the ZAP handler ever missing, handshakes fail instead of passing */
	if (!rc && zmq_setsockopt(router, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) != 0)
		tpc_debug("security: ZMQ_ZAP_ENFORCE_DOMAIN not available in this libzmq");
	/* libzmq keeps its own copy of the secret from here on: ours is wiped, so no second copy
	 * lives for the life of the process (the struct comment above) */
	tpc_keys_wipe(&sec->server);
	return rc;
}

void tpc_security_free(tpc_security_t **sp)
{
	tpc_security_t *sec;

	if (!sp || !*sp)
		return;
	sec = *sp;
	if (sec->sighup)
		event_free(sec->sighup);
	tpc_zap_stop(&sec->zap);
	tpc_senders_unref(&sec->current);
	tpc_inflight_free(&sec->inflight);
	tpc_keys_wipe(&sec->server);
	free(sec);
	*sp = NULL;
}

/* ---- intake --------------------------------------------------------------------------------- */

const char *tpc_security_admit(tpc_security_t *sec, zmq_msg_t *msg, const Tpclear__Envelope *env,
                               tpc_job_auth_t *auth, char sender[TPC_SENDERS_ID_MAX])
{
	const char *peer = zmq_msg_gets(msg, "Peer-Address");
	const char *uid, *key, *code = NULL;
	const tpc_sender_t *e = NULL;
	uint8_t raw[TPC_KEY_BYTES];
	char detail[256];

	memset(auth, 0, sizeof(*auth));
	snprintf(auth->peer, sizeof(auth->peer), "%s", peer ? peer : "");
	/* Plain mode: the envelope's sender is believed (docs/security.md, Modes); config.c only
	 * allows it when nobody but this machine can reach the intake. */
	if (!sec->curve) {
		snprintf(sender, TPC_SENDERS_ID_MAX, "%s", env->sender);
		return NULL;
	}
	/* the connection's identity as ZAP admitted it, checked against the registry in force */
	uid = zmq_msg_gets(msg, "User-Id");
	key = zmq_msg_gets(msg, TPC_ZAP_KEY_PROP);
	if (uid && key && tpc_keys_decode(key, strlen(key), raw) == 0)
		e = tpc_senders_by_key(sec->current, raw);
	if (!e || strcmp(tpc_sender_id(e), uid) != 0) {
		snprintf(detail, sizeof(detail),
		         "key %s is no longer registered (the registry was reloaded)",
		         key ? key : "?");
		tpc_security_refused(sec, TPC_CODE_UNREGISTERED, auth, uid ? uid : "?", env->key,
		                     detail);
		return TPC_CODE_UNREGISTERED;
	}
	/* identity first, then what it may do: the rules are a registered sender's */
	if (tpc_authz_request(e, env->type, env->format, &code) != 0) {
		snprintf(detail, sizeof(detail), "%s%s%s: %s", tpc_request_type_name(env->type),
		         env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD ? " of " : "",
		         env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD ? env->format : "",
		         tpc_codes_describe(code));
		tpc_security_refused(sec, code, auth, tpc_sender_id(e), env->key, detail);
		return code;
	}
	if (strcmp(env->sender, tpc_sender_id(e)) != 0)
		tpc_debug("security: envelope sender '%s' replaced by the authenticated '%s'",
		          env->sender, tpc_sender_id(e));
	/* The job keeps the snapshot e lives in, not just e: a reload while the job travels frees
	 * nothing it points to; tpc_security_release() drops the reference when it is answered. */
	auth->snapshot = tpc_senders_ref(sec->current);
	auth->sender = e;
	snprintf(sender, TPC_SENDERS_ID_MAX, "%s", tpc_sender_id(e));
	return NULL;
}

const char *tpc_security_take(tpc_security_t *sec, tpc_job_auth_t *auth, const char *sender,
                              const char *key)
{
	char detail[160];
	int rc = tpc_inflight_take(sec->inflight, sender);

	/* 1: counted, so release must give it back; 0: no bound configured, nothing to give back.
	 * auth->counted keeps the difference for tpc_security_release(). */
	if (rc == 1) {
		auth->counted = 1;
		return NULL;
	}
	if (rc == 0)
		return NULL;
	if (rc == TPC_ENOMEM)
		return TPC_CODE_INTERNAL;
	snprintf(detail, sizeof(detail), "%u requests in flight already (max_in_flight_per_sender)",
	         tpc_inflight_count(sec->inflight, sender));
	tpc_security_refused(sec, TPC_CODE_SENDER_BUSY, auth, sender, key, detail);
	return TPC_CODE_SENDER_BUSY;
}

void tpc_security_release(tpc_security_t *sec, tpc_job_auth_t *auth, const char *sender)
{
	if (auth->counted)
		tpc_inflight_release(sec->inflight, sender);
	auth->counted = 0;
	auth->sender = NULL;
	tpc_senders_unref(&auth->snapshot);
}

/* ---- workers ----------------------------------------------------------------------------- */

/* Workers decide their refusals themselves (engine/pipeline/worker.c, over
 * engine/security/authz.h): only the counting and the log line are shared, so every refusal reads
 * the same in the log whichever thread made it. Workers have no tpc_security_t, hence no rate
 * limit: a refusal after decoding is rare (a sender past the intake checks) and each one is worth
 * its line. */
void tpc_security_note(tpc_metrics_shard_t *shard, const char *code, const tpc_job_auth_t *auth,
                       const char *sender, const char *key, const char *detail)
{
	note(shard, code, auth ? auth->peer : NULL, sender, key, detail, 1);
}
