/* engine/security/zap.c - the ZAP handler thread (see zap.h).
 *
 * DESIGN
 * Threads: one thread, started by the loop thread at startup. It owns the REP socket bound on
 *          inproc://zeromq.zap.01 (created and bound by tpc_zap_start() so the endpoint exists
 *          before the intake binds, then used only here) and the receiving end of a PAIR
 *          control socket. Its only state is its registry snapshot and a log limiter.
 * Control: the loop thread sends fixed-size messages on the PAIR socket: "swap to this
 *          snapshot" (the pointer and its reference move with the message) or "stop". The
 *          control socket is polled before the ZAP socket, so a handshake that starts after a
 *          reload returned is decided with the new registry.
 * Denials: every one is counted; log lines are limited to a burst per window (a client with an
 *          unknown key reconnects forever and must not flood the log), with a count of the
 *          ones left out.
 * Failure: the intake socket also sets ZMQ_ZAP_ENFORCE_DOMAIN where libzmq has it, so if this
 *          handler were ever missing, handshakes would fail instead of passing unchecked.
 */
#include "security/zap.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define LOG_BURST    10 /* denial lines per window */
#define LOG_WINDOW_S 60
#define MAX_FRAMES   8 /* a ZAP 1.0 CURVE request has 7 */

enum ctl_op { CTL_SWAP = 1, CTL_STOP = 2 };

/* Sent by value over inproc: both ends are in this process, so the pointer stays meaningful,
 * and the fixed size lets the receiver reject anything else by its length. */
struct ctl {
	enum ctl_op op;
	tpc_senders_t *snapshot; /* CTL_SWAP: the reference moves with the message */
};

struct tpc_zap {
	pthread_t thread;
	int started;
	void *rep;     /* zap thread */
	void *ctl_in;  /* zap thread */
	void *ctl_out; /* starting (loop) thread */
	tpc_senders_t *reg;
	tpc_metrics_shard_t *shard;
	time_t window_start;
	unsigned logged, suppressed;
};

static int frame_is(const uint8_t *f, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(f, s, n) == 0;
}

/* The peer address comes from the network side of libzmq and ends up in a log line: anything
 * not printable ASCII becomes '?', so a crafted value cannot forge or split log lines. */
static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < cap; i++)
		dst[o++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[o] = 0;
}

enum tpc_zap_verdict tpc_zap_decide(const tpc_senders_t *reg, size_t n,
                                    const uint8_t *const *frames, const size_t *lens,
                                    tpc_zap_reply_t *out)
{
	const tpc_sender_t *e;

	/* Denied unless proven otherwise: every early return below leaves "400" (RFC 27: the
	 * client is refused) or sets "500" (a malformed request: libzmq's fault, not the peer's).
	 */
	memset(out, 0, sizeof(*out));
	snprintf(out->status, sizeof(out->status), "400");
	if (n >= 4)
		copy_text(out->address, sizeof(out->address), frames[3], lens[3]);
	/* version, request id, domain, address, identity, mechanism, credentials */
	if (n < 6 || !frame_is(frames[0], lens[0], "1.0")) {
		snprintf(out->status, sizeof(out->status), "500");
		snprintf(out->text, sizeof(out->text), "not a ZAP 1.0 request");
		return TPC_ZAP_DENY_REQUEST;
	}
	/* the domain set on our intake only: another socket of the context using ZAP (none
	 * today) must not be admitted by this registry */
	if (!frame_is(frames[2], lens[2], TPC_ZAP_DOMAIN)) {
		snprintf(out->text, sizeof(out->text), "unknown domain");
		return TPC_ZAP_DENY_REQUEST;
	}
	/* NULL and PLAIN carry no key to look up: only CURVE can be admitted */
	if (!frame_is(frames[5], lens[5], "CURVE") || n != 7 || lens[6] != TPC_KEY_BYTES) {
		snprintf(out->text, sizeof(out->text), "CURVE only");
		return TPC_ZAP_DENY_REQUEST;
	}
	tpc_keys_encode(frames[6], out->key);
	e = reg ? tpc_senders_by_key(reg, frames[6]) : NULL;
	if (!e) {
		snprintf(out->text, sizeof(out->text), "unknown key");
		return TPC_ZAP_DENY_KEY;
	}
	snprintf(out->status, sizeof(out->status), "200");
	snprintf(out->text, sizeof(out->text), "OK");
	snprintf(out->user_id, sizeof(out->user_id), "%s", tpc_sender_id(e));
	return TPC_ZAP_ALLOW;
}

/* ZMTP metadata (RFC 23/37): name-len:1 name value-len:4 (network order) value. */
/* The key rides along as a connection property, so the loop thread can check it again against
 * the registry in force at every message (security.c), not only at the handshake. One property:
 * 1 + 11 + 4 + 40 = 56 bytes, within the caller's 64. */
static size_t metadata(const tpc_zap_reply_t *r, uint8_t *buf)
{
	size_t nl = strlen(TPC_ZAP_KEY_PROP), vl = strlen(r->key), at = 0;

	if (!vl)
		return 0;
	buf[at++] = (uint8_t)nl;
	memcpy(buf + at, TPC_ZAP_KEY_PROP, nl);
	at += nl;
	buf[at++] = 0;
	buf[at++] = 0;
	buf[at++] = 0;
	buf[at++] = (uint8_t)vl;
	memcpy(buf + at, r->key, vl);
	return at + vl;
}

static void log_denial(tpc_zap_t *z, const tpc_zap_reply_t *r, enum tpc_zap_verdict v)
{
	time_t now = time(NULL);

	if (now - z->window_start >= LOG_WINDOW_S) {
		if (z->suppressed)
			tpc_warn(
			    "security: %u more refused CURVE handshakes not logged in the last %d "
			    "s (see tpclear_security_refusals_total)",
			    z->suppressed, LOG_WINDOW_S);
		z->window_start = now;
		z->logged = z->suppressed = 0;
	}
	if (z->logged >= LOG_BURST) {
		z->suppressed++;
		return;
	}
	z->logged++;
	if (v == TPC_ZAP_DENY_KEY)
		tpc_warn("security: refused CURVE handshake from %s: key %s is not in the senders "
		         "registry",
		         r->address[0] ? r->address : "?", r->key);
	else
		tpc_warn("security: refused handshake from %s: %s",
		         r->address[0] ? r->address : "?", r->text);
}

static void handle_request(tpc_zap_t *z)
{
	zmq_msg_t f[MAX_FRAMES];
	const uint8_t *frames[MAX_FRAMES];
	size_t lens[MAX_FRAMES], n = 0;
	uint8_t md[64];
	size_t mdlen;
	int more = 1, overflow = 0;
	tpc_zap_reply_t r;
	enum tpc_zap_verdict v;

	/* Read every frame of the request even past MAX_FRAMES: a REP socket must take the whole
	 * message before it may reply, and the reply must still go out (a denial) or libzmq would
	 * leave the handshake hanging. The frames past the array go to a sink. */
	while (more) {
		zmq_msg_t sink, *m = n < MAX_FRAMES ? &f[n] : &sink;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, z->rep, 0) < 0) {
			zmq_msg_close(m);
			break;
		}
		more = zmq_msg_more(m);
		if (m == &sink) {
			zmq_msg_close(m);
			overflow = 1; /* more frames than any ZAP request has: malformed */
			continue;
		}
		frames[n] = zmq_msg_data(m);
		lens[n] = zmq_msg_size(m);
		n++;
	}
	v = tpc_zap_decide(z->reg, overflow ? 0 : n, frames, lens, &r);
	mdlen = v == TPC_ZAP_ALLOW ? metadata(&r, md) : 0;
	/* the reply: version, request id, status code, status text, user id, metadata; the frames
	 * are sent before f[] is closed, since frames[1] (the request id echoed) points into it */
	zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(z->rep, n >= 2 ? frames[1] : NULL, n >= 2 ? lens[1] : 0, ZMQ_SNDMORE);
	zmq_send(z->rep, r.status, strlen(r.status), ZMQ_SNDMORE);
	zmq_send(z->rep, r.text, strlen(r.text), ZMQ_SNDMORE);
	zmq_send(z->rep, r.user_id, strlen(r.user_id), ZMQ_SNDMORE);
	zmq_send(z->rep, md, mdlen, 0);
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	if (v == TPC_ZAP_ALLOW) {
		tpc_metrics_add(z->shard, TPC_M_zap_allowed, 1);
		tpc_debug("security: CURVE handshake of sender '%s' from %s", r.user_id, r.address);
		return;
	}
	/* counted twice on purpose: once as a ZAP verdict, once under the refusal reason that
	 * docs/metrics.md lists (unknown_key, bad_handshake) */
	tpc_metrics_add(z->shard, TPC_M_zap_denied, 1);
	tpc_metrics_add(z->shard,
	                v == TPC_ZAP_DENY_KEY ? TPC_M_sec_unknown_key : TPC_M_sec_bad_handshake, 1);
	log_denial(z, &r, v);
}

/* @return 1 when told to stop. */
static int handle_ctl(tpc_zap_t *z)
{
	struct ctl c;

	if (zmq_recv(z->ctl_in, &c, sizeof(c), 0) != (int)sizeof(c))
		return 0;
	if (c.op == CTL_STOP)
		return 1;
	/* Our old reference goes; if the loop thread and every job have dropped theirs, this frees
	 * the old snapshot here (senders.c: whoever drops the last reference frees). */
	tpc_senders_unref(&z->reg);
	z->reg = c.snapshot;
	return 0;
}

static void *zap_main(void *arg)
{
	tpc_zap_t *z = arg;
	zmq_pollitem_t items[2] = {{z->ctl_in, 0, ZMQ_POLLIN, 0}, {z->rep, 0, ZMQ_POLLIN, 0}};

	/* No timeout: the thread has nothing to do but answer, and the stop message wakes it. */
	for (;;) {
		if (zmq_poll(items, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ETERM: the context is going away */
		}
		if ((items[0].revents & ZMQ_POLLIN) && handle_ctl(z))
			break;
		if (items[1].revents & ZMQ_POLLIN)
			handle_request(z);
	}
	/* closed here, by the thread that used them: ZeroMQ sockets belong to one thread */
	zmq_close(z->rep);
	zmq_close(z->ctl_in);
	z->rep = z->ctl_in = NULL;
	return NULL;
}

int tpc_zap_start(void *zctx, tpc_senders_t **registry, tpc_metrics_t *metrics, tpc_zap_t **out)
{
	tpc_zap_t *z = calloc(1, sizeof(*z));
	char ctl[64];
	int zero = 0, rc = TPC_EZMQ;

	if (!z) {
		tpc_senders_unref(registry);
		return TPC_ENOMEM;
	}
	z->reg = *registry;
	*registry = NULL;
	z->shard = tpc_metrics_shard(metrics);
	if (!z->shard) {
		rc = TPC_E2BIG;
		goto out_free;
	}
	snprintf(ctl, sizeof(ctl), "inproc://tpclear-zap-ctl-%p", (void *)z);
	z->rep = zmq_socket(zctx, ZMQ_REP);
	z->ctl_in = zmq_socket(zctx, ZMQ_PAIR);
	z->ctl_out = zmq_socket(zctx, ZMQ_PAIR);
	if (!z->rep || !z->ctl_in || !z->ctl_out)
		goto out_free;
	/* Linger 0: at shutdown a reply to a handshake nobody waits for any more is dropped, not
	 * kept, so zmq_ctx_term() does not hang on it. */
	zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(z->ctl_in, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(z->ctl_out, ZMQ_LINGER, &zero, sizeof(zero));
	/* Bound here, on the starting thread, before the intake binds: libzmq asks a ZAP handler
	 * only if this endpoint is bound when a handshake starts (docs/architecture.md). The REP
	 * socket is then used by the ZAP thread alone. */
	if (zmq_bind(z->rep, TPC_ZAP_ENDPOINT) != 0) {
		tpc_error("security: cannot bind the ZAP handler on %s: %s", TPC_ZAP_ENDPOINT,
		          zmq_strerror(errno));
		goto out_free;
	}
	if (zmq_bind(z->ctl_out, ctl) != 0 || zmq_connect(z->ctl_in, ctl) != 0)
		goto out_free;
	z->window_start = time(NULL);
	if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	z->started = 1;
	*out = z;
	return 0;

out_free:
	if (z->rep)
		zmq_close(z->rep);
	if (z->ctl_in)
		zmq_close(z->ctl_in);
	if (z->ctl_out)
		zmq_close(z->ctl_out);
	tpc_senders_unref(&z->reg);
	free(z);
	return rc;
}

/* Loop thread. The reference travels inside the message: on success the ZAP thread owns it
 * (handle_ctl), on failure it is dropped here, so it is never leaked nor held twice. */
int tpc_zap_update(tpc_zap_t *z, tpc_senders_t **registry)
{
	struct ctl c = {CTL_SWAP, *registry};

	if (zmq_send(z->ctl_out, &c, sizeof(c), 0) != (int)sizeof(c)) {
		tpc_senders_unref(registry);
		return TPC_EZMQ;
	}
	*registry = NULL; /* the handler owns it now */
	return 0;
}

void tpc_zap_stop(tpc_zap_t **zp)
{
	tpc_zap_t *z;
	struct ctl c = {CTL_STOP, NULL};

	if (!zp || !*zp)
		return;
	z = *zp;
	/* Ask, then join: the thread closes its own sockets on the way out. Only then may ctl_out
	 * close and the last reference go; the context can then terminate without a socket left
	 * open. */
	if (z->started) {
		zmq_send(z->ctl_out, &c, sizeof(c), 0);
		pthread_join(z->thread, NULL);
	}
	zmq_close(z->ctl_out);
	tpc_senders_unref(&z->reg);
	free(z);
	*zp = NULL;
}
