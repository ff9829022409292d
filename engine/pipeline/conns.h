/* engine/pipeline/conns.h - requests outstanding per connection, answers read or not.
 *
 * A connection is a ZeroMQ routing identity (one per DEALER connected to the ROUTER, in every
 * security mode). A request of it is outstanding from the moment the loop thread takes it
 * until ZeroMQ has written its final answer to the connection's socket: while it is in the
 * engine, and afterwards while its answer waits in ZeroMQ's queue for a peer that does not read.
 * Bounding that count ([engine] max_outstanding_per_connection) bounds the answers the engine
 * holds for one connection, which a bound on requests in flight alone does not: a sender that
 * pipelines without reading would otherwise make ZeroMQ keep up to [intake] sndhwm answers of
 * any size for it (issue 14: 2.8 GB).
 *
 * The count goes back when ZeroMQ frees the answer's last frame (zmq_msg_init_data's free
 * function, called by ZeroMQ's I/O thread once the bytes are in the kernel, or by whoever drops
 * the message): so the count is atomic, and an entry is freed by the loop thread only once it
 * is back at zero (tpc_conns_sweep).
 * Threads: the loop thread owns the table (new, take, sweep, free); tpc_conns_release() and the
 * free function of tpc_conns_msg() may run on any thread.
 */
#ifndef TPC_CONNS_H
#define TPC_CONNS_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct tpc_conns tpc_conns_t;
typedef struct tpc_conn tpc_conn_t;

/** @param limit  most requests outstanding per connection (0 = no bound: nothing counted)
 *  @param[out] out  the table, owned by the caller (tpc_conns_free)
 *  @return 0 or TPC_ENOMEM. */
int tpc_conns_new(uint32_t limit, tpc_conns_t **out);

/** Free the table and its entries; NULL-safe, sets *@p c to NULL. Only once nothing can give a
 *  count back: after zmq_ctx_term(), which frees every message ZeroMQ still held. */
void tpc_conns_free(tpc_conns_t **c);

/** Count one more outstanding request of the connection @p id (@p idlen bytes).
 *  @param[out] out  the connection's entry, to give the count back through (NULL when the
 *                   table counts nothing: limit 0)
 *  @return 0, TPC_EAGAIN when the connection is at the limit, TPC_ENOMEM. */
int tpc_conns_take(tpc_conns_t *c, const uint8_t *id, size_t idlen, tpc_conn_t **out);

/** Give back one count taken on @p conn (NULL-safe). Any thread. */
void tpc_conns_release(tpc_conn_t *conn);

/** Make @p m a message holding a copy of @p data (@p len bytes) that gives @p conn's count back
 *  when ZeroMQ frees it (sent and written, or dropped, or closed by the caller after a failed
 *  send). @p conn NULL: a plain copy. On failure nothing is taken from @p conn.
 *  @return 0 or TPC_ENOMEM. */
int tpc_conns_msg(zmq_msg_t *m, const void *data, size_t len, tpc_conn_t *conn);

/** Requests outstanding on connection @p id (0 when it has no entry). */
uint32_t tpc_conns_outstanding(const tpc_conns_t *c, const uint8_t *id, size_t idlen);

/** Free the entries back at zero (connections with nothing outstanding, closed ones included).
 *  @return the entries left. Loop thread; cheap enough for every idle tick. */
size_t tpc_conns_sweep(tpc_conns_t *c);

#endif /* TPC_CONNS_H */
