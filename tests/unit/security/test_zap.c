/* tests/unit/security/test_zap.c - the ZAP decision and handler thread (engine/security/zap.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "core/error.h"
#include "security/keys.h"
#include "core/metrics.h"
#include "security/senders.h"
#include "security/zap.h"

TestSuite(zap, .timeout = 30);

static tpc_keypair_t known, stranger;

static tpc_senders_t *registry(void)
{
	char text[256], err[256];
	tpc_senders_t *r = NULL;

	cr_assert_eq(tpc_keys_generate(&known), 0);
	cr_assert_eq(tpc_keys_generate(&stranger), 0);
	snprintf(text, sizeof(text), "[chu-a]\nkind = hospital\nkey = %s\nnihii = 18334780004\n",
	         known.public_z85);
	cr_assert_eq(tpc_senders_parse("t", text, strlen(text), &r, err, sizeof(err)), 0, "%s",
	             err);
	return r;
}

/* A ZAP 1.0 request as libzmq sends it; @p mech and @p domain may be changed. */
static enum tpc_zap_verdict ask(const tpc_senders_t *r, const char *version, const char *domain,
                                const char *mech, const tpc_keypair_t *kp, size_t n,
                                tpc_zap_reply_t *out)
{
	uint8_t key[TPC_KEY_BYTES] = {0};
	const uint8_t *f[7];
	size_t l[7];

	if (kp)
		cr_assert_eq(tpc_keys_decode(kp->public_z85, TPC_KEY_Z85, key), 0);
	f[0] = (const uint8_t *)version, l[0] = strlen(version);
	f[1] = (const uint8_t *)"7", l[1] = 1;
	f[2] = (const uint8_t *)domain, l[2] = strlen(domain);
	f[3] = (const uint8_t *)"10.1.2.3", l[3] = 8;
	f[4] = (const uint8_t *)"", l[4] = 0;
	f[5] = (const uint8_t *)mech, l[5] = strlen(mech);
	f[6] = key, l[6] = sizeof(key);
	return tpc_zap_decide(r, n, f, l, out);
}

Test(zap, a_registered_key_is_admitted_as_its_sender)
{
	tpc_senders_t *r = registry();
	tpc_zap_reply_t rep;

	cr_assert_eq(ask(r, "1.0", TPC_ZAP_DOMAIN, "CURVE", &known, 7, &rep), TPC_ZAP_ALLOW);
	cr_assert_str_eq(rep.status, "200");
	cr_assert_str_eq(rep.user_id, "chu-a");
	cr_assert_str_eq(rep.key, known.public_z85);
	cr_assert_str_eq(rep.address, "10.1.2.3");
	tpc_senders_unref(&r);
}

Test(zap, everything_else_is_denied)
{
	tpc_senders_t *r = registry();
	tpc_zap_reply_t rep;

	cr_assert_eq(ask(r, "1.0", TPC_ZAP_DOMAIN, "CURVE", &stranger, 7, &rep), TPC_ZAP_DENY_KEY);
	cr_assert_str_eq(rep.status, "400");
	cr_assert_str_eq(rep.user_id, "", "no user id for a stranger");
	cr_assert_str_eq(rep.key, stranger.public_z85, "the key is logged");
	cr_assert_eq(ask(NULL, "1.0", TPC_ZAP_DOMAIN, "CURVE", &known, 7, &rep), TPC_ZAP_DENY_KEY,
	             "no registry: nobody");
	cr_assert_eq(ask(r, "1.0", TPC_ZAP_DOMAIN, "NULL", NULL, 6, &rep), TPC_ZAP_DENY_REQUEST);
	cr_assert_str_eq(rep.status, "400");
	cr_assert_eq(ask(r, "1.0", TPC_ZAP_DOMAIN, "PLAIN", &known, 7, &rep), TPC_ZAP_DENY_REQUEST);
	cr_assert_eq(ask(r, "1.0", "other", "CURVE", &known, 7, &rep), TPC_ZAP_DENY_REQUEST);
	cr_assert_eq(ask(r, "2.0", TPC_ZAP_DOMAIN, "CURVE", &known, 7, &rep), TPC_ZAP_DENY_REQUEST);
	cr_assert_str_eq(rep.status, "500");
	cr_assert_eq(ask(r, "1.0", TPC_ZAP_DOMAIN, "CURVE", &known, 5, &rep), TPC_ZAP_DENY_REQUEST,
	             "too few frames");
	cr_assert_eq(tpc_zap_decide(r, 0, NULL, NULL, &rep), TPC_ZAP_DENY_REQUEST);
	tpc_senders_unref(&r);
}

/* A CURVE DEALER of @p client to @p server at @p ep that has sent @p hello (the caller closes
 * it): the handshake it starts is what the ZAP handler decides. */
static void *dial(void *ctx, const tpc_keypair_t *server, const tpc_keypair_t *client,
                  const char *ep, const char *hello)
{
	void *dealer = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;

	cr_assert_not_null(dealer);
	zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
	cr_assert_eq(tpc_keys_client_socket(dealer, server->public_z85, client), 0);
	zmq_connect(dealer, ep);
	zmq_send(dealer, hello, strlen(hello), 0);
	return dealer;
}

/* The handler thread with a real CURVE ROUTER: a known client is admitted and its messages
 * carry User-Id and X-Curve-Key; after an update, the new registry decides. */
Test(zap, the_handler_thread_admits_and_follows_updates)
{
	void *ctx = zmq_ctx_new(), *router, *dealer;
	tpc_metrics_t *m = NULL;
	tpc_senders_t *r = registry(), *r2 = NULL;
	tpc_zap_t *z = NULL;
	tpc_keypair_t server;
	char ep[128], text[256], err[256];
	size_t eplen = sizeof(ep);
	int one = 1, zero = 0, timeout = 3000;
	zmq_msg_t id, body;

	cr_assert_eq(tpc_metrics_new(4, &m), 0);
	cr_assert_eq(tpc_keys_generate(&server), 0);
	cr_assert_eq(tpc_zap_start(ctx, &r, m, &z), 0);
	cr_assert_null(r, "the handler took the reference");
	router = zmq_socket(ctx, ZMQ_ROUTER);
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server.secret_z85, 40);
	zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, TPC_ZAP_DOMAIN, strlen(TPC_ZAP_DOMAIN));
	zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	cr_assert_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen);

	dealer = dial(ctx, &server, &known, ep, "hello");
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	cr_assert_geq(zmq_msg_recv(&id, router, 0), 0, "the known client gets through");
	cr_assert_geq(zmq_msg_recv(&body, router, 0), 0);
	cr_assert_str_eq(zmq_msg_gets(&body, "User-Id"), "chu-a");
	cr_assert_str_eq(zmq_msg_gets(&body, TPC_ZAP_KEY_PROP), known.public_z85);
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	zmq_close(dealer);

	/* the stranger's message never arrives */
	dealer = dial(ctx, &server, &stranger, ep, "hello");
	timeout = 500;
	zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_msg_init(&id);
	cr_assert_lt(zmq_msg_recv(&id, router, 0), 0, "nothing from an unknown key");
	zmq_msg_close(&id);
	zmq_close(dealer);
	cr_assert_geq(tpc_metrics_get(m, TPC_M_zap_denied), 1);
	cr_assert_geq(tpc_metrics_get(m, TPC_M_sec_unknown_key), 1);
	cr_assert_eq(tpc_metrics_get(m, TPC_M_zap_allowed), 1);

	/* register the stranger: the next handshake is decided by the new snapshot */
	snprintf(text, sizeof(text), "[new]\nkind = gp\nkey = %s\nnihii = 17385467004\n",
	         stranger.public_z85);
	cr_assert_eq(tpc_senders_parse("t2", text, strlen(text), &r2, err, sizeof(err)), 0);
	cr_assert_eq(tpc_zap_update(z, &r2), 0);
	cr_assert_null(r2);
	dealer = dial(ctx, &server, &stranger, ep, "again");
	timeout = 3000;
	zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	cr_assert_geq(zmq_msg_recv(&id, router, 0), 0);
	cr_assert_geq(zmq_msg_recv(&body, router, 0), 0);
	cr_assert_str_eq(zmq_msg_gets(&body, "User-Id"), "new");
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	zmq_close(dealer);

	zmq_close(router);
	tpc_zap_stop(&z);
	cr_assert_null(z);
	tpc_zap_stop(&z); /* NULL-safe */
	zmq_ctx_term(ctx);
	tpc_metrics_free(&m);
}

Test(zap, only_one_handler_per_context)
{
	void *ctx = zmq_ctx_new();
	tpc_metrics_t *m = NULL;
	tpc_senders_t *a = registry(), *b = tpc_senders_ref(a);
	tpc_zap_t *z1 = NULL, *z2 = NULL;

	cr_assert_eq(tpc_metrics_new(4, &m), 0);
	cr_assert_eq(tpc_zap_start(ctx, &a, m, &z1), 0);
	cr_assert_eq(tpc_zap_start(ctx, &b, m, &z2), TPC_EZMQ, "the endpoint is taken");
	cr_assert_null(b, "the reference is released on failure");
	tpc_zap_stop(&z1);
	zmq_ctx_term(ctx);
	tpc_metrics_free(&m);
}
