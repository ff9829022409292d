/* engine/pipeline/client.c - see client.h.
 *
 * The sender's half of docs/protocol.md, used by the CLI and the tests: a request is two
 * frames (envelope, payload) on a DEALER, which adds no routing frame of its own; an answer is
 * one frame, or two when a native answer (eFact 931000, 920098...) follows. */
#include "pipeline/client.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int tpc_client_send(void *sock, Tpclear__RequestType type, const char *sender, const char *key,
                    const char *format, uint64_t correlation, const void *payload, size_t len)
{
	Tpclear__Envelope env = TPCLEAR__ENVELOPE__INIT;
	uint8_t buf[1024]; /* an envelope is a few short strings and integers */
	size_t n;

	env.version = 1;
	env.type = type;
	env.sender = (char *)(sender ? sender : "");
	env.key = (char *)(key ? key : "");
	env.format = (char *)(format ? format : "");
	env.correlation = correlation;
	if (tpclear__envelope__get_packed_size(&env) > sizeof(buf))
		return -1;
	n = tpclear__envelope__pack(&env, buf);
	if (zmq_send(sock, buf, n, ZMQ_SNDMORE) < 0)
		return -1;
	/* the payload frame is sent even when empty: the engine refuses any request that is not
	 * exactly envelope + payload (T00002, server.c parse_request()) */
	return zmq_send(sock, payload ? payload : "", payload ? len : 0, 0) < 0 ? -1 : 0;
}

Tpclear__Answer *tpc_client_recv(void *sock, uint8_t **native, size_t *native_len)
{
	Tpclear__Answer *a = NULL;
	zmq_msg_t m;
	int more, first = 1;

	if (native)
		*native = NULL;
	if (native_len)
		*native_len = 0;
	do {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			return a;
		}
		more = zmq_msg_more(&m);
		if (first) {
			a = tpclear__answer__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
			first = 0;
		} else if (native && !*native) {
			/* copied out: the frame dies at zmq_msg_close below. One byte for an empty
			 * frame, so "an empty native answer" stays distinct from "none". Frames
			 * after the second are read and dropped, so the next answer starts clean.
			 */
			size_t n = zmq_msg_size(&m);
			*native = malloc(n ? n : 1);
			if (*native) {
				memcpy(*native, zmq_msg_data(&m), n);
				if (native_len)
					*native_len = n;
			}
		}
		zmq_msg_close(&m);
	} while (more);
	return a;
}
