/* engine/pipeline/client.h - the sender's side of the wire contract (docs/protocol.md), shared by
 * the tpclear CLI, the benchmark and the tests. Blocking helpers over a caller-owned DEALER socket;
 * not used by the daemon itself. */
#ifndef TPC_CLIENT_H
#define TPC_CLIENT_H

#include "tpclear.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/** Send one request: an Envelope frame then the payload frame (@p payload may be NULL: an
 *  empty frame). Strings are borrowed. @return 0, or -1 with errno set by ZeroMQ. */
int tpc_client_send(void *sock, Tpclear__RequestType type, const char *sender, const char *key,
                    const char *format, uint64_t correlation, const void *payload, size_t len);

/** Receive one whole answer (blocking; poll first for a timeout).
 *  @param[out] native  when not NULL, the native answer frame (malloc'd, caller frees) or NULL
 *  @return the unpacked Answer (free with tpclear__answer__free_unpacked(a, NULL)), or NULL
 *          when the socket failed or the first frame is not an Answer. */
Tpclear__Answer *tpc_client_recv(void *sock, uint8_t **native, size_t *native_len);

#endif
