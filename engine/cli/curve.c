/* engine/cli/curve.c - see curve.h.
 *
 * DESIGN: a CURVE client whose key the engine refuses gets nothing back, by design (no receipt
 * for an unknown key). So that a user is not left waiting for a timeout, the DEALER is watched
 * with zmq_socket_monitor: libzmq reports ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with the ZAP status
 * (400) as soon as the engine says no, and the command stops with a message that names the
 * registry.
 */
#include "curve.h"

#include "security/keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int tpc_cli_curve_setup(void *ctx, void *sock, const char *server_key, const char *client_key,
                        void **monitor, char *err, size_t errlen)
{
	char server_pub[TPC_KEY_Z85 + 1], path[4096], ep[64], why[512];
	tpc_keypair_t me;
	size_t n;
	int rc;

	/* Both keys or neither: a CURVE client needs the engine's public key to know it talks to
	 * the right engine and a key pair of its own to be admitted; one without the other is a
	 * mistake on the command line, said before anything connects. Neither: plain mode. */
	*monitor = NULL;
	if (!server_key || !*server_key) {
		if (client_key && *client_key) {
			snprintf(err, errlen,
			         "--client-key needs --server-key (the engine's public key, "
			         "DATA_DIR/server.pub)");
			return -1;
		}
		return 0;
	}
	if (!client_key || !*client_key) {
		snprintf(err, errlen,
		         "--server-key needs --client-key (this client's key pair, "
		         "made by tpclear keygen)");
		return -1;
	}
	if (tpc_keys_read_public(server_key, server_pub, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--server-key: %s", why);
		return -1;
	}
	/* PREFIX as given to keygen, or the .key file itself: both name the same pair */
	n = strlen(client_key);
	snprintf(path, sizeof(path), "%s%s", client_key,
	         n > 4 && strcmp(client_key + n - 4, ".key") == 0 ? "" : ".key");
	if (tpc_keys_read_secret(path, 1, &me, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "--client-key: %s", why);
		return -1;
	}
	/* the socket keeps its own copy of the keys: the secret half is wiped here at once */
	rc = tpc_keys_client_socket(sock, server_pub, &me);
	tpc_keys_wipe(&me);
	if (rc) {
		snprintf(err, errlen, "cannot set up CURVE: %s", zmq_strerror(errno));
		return -1;
	}
	/* The monitor is a help, not a need: when it cannot be set up the command still works,
	 * and a refused key shows as a timeout instead. Its inproc name is unique per socket,
	 * since inproc endpoints are shared by the whole ZeroMQ context. */
	snprintf(ep, sizeof(ep), "inproc://tpclear-monitor-%p", sock);
	if (zmq_socket_monitor(sock, ep,
	                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
		*monitor = zmq_socket(ctx, ZMQ_PAIR);
		if (*monitor && zmq_connect(*monitor, ep) != 0) {
			zmq_close(*monitor);
			*monitor = NULL;
		}
	}
	return 0;
}

/* A monitor event is two frames: 6 bytes (event u16, value u32, host order) then the endpoint.
 * For ZMQ_EVENT_HANDSHAKE_FAILED_AUTH the value is the ZAP status: the engine answers 400 for
 * a key it does not know (engine/security/zap.c); a 500, a ZAP request it could not read,
 * counts as a refusal too. Any other failure (a wrong server key, an engine in plain mode)
 * only sets *failed, so the command can say which of the two went wrong. */
int tpc_cli_curve_refused(void *monitor, int *failed)
{
	int refused = 0;

	while (monitor) {
		zmq_msg_t ev, addr;
		uint16_t event = 0;
		uint32_t value = 0;

		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, monitor, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			break;
		}
		if (zmq_msg_size(&ev) >= 6) {
			memcpy(&event, zmq_msg_data(&ev), 2);
			memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, 4);
		}
		zmq_msg_close(&ev);
		zmq_msg_init(&addr); /* every event is two frames: the second names the endpoint */
		zmq_msg_recv(&addr, monitor, ZMQ_DONTWAIT);
		zmq_msg_close(&addr);
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && value >= 400)
			refused = 1;
		else if (event)
			*failed = 1;
	}
	return refused;
}

/* The output ends with the line to paste into the engine's senders registry (docs/security.md):
 * the public key is all the engine needs to know of a client. */
int tpc_cli_keygen(const char *prefix)
{
	tpc_keypair_t kp;
	char err[4200];

	if (tpc_keys_generate(&kp) != 0) {
		fprintf(stderr, "tpclear: keygen: this libzmq has no CURVE support\n");
		return 1;
	}
	if (tpc_keys_write(prefix, &kp, err, sizeof(err)) != 0) {
		tpc_keys_wipe(&kp);
		fprintf(stderr, "tpclear: keygen: %s\n", err);
		return 1;
	}
	printf("wrote %s.key (secret: mode 0600, keep it on this machine) and %s.pub (public)\n"
	       "public key: %s\n"
	       "for the engine's senders registry: key = %s\n",
	       prefix, prefix, kp.public_z85, kp.public_z85);
	tpc_keys_wipe(&kp);
	return 0;
}
