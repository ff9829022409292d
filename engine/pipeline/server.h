/* engine/pipeline/server.h - tpcleard: the loop thread and everything it wires together.
 *
 * The server owns the libevent loop and, on that one thread, every socket: the ZeroMQ ROUTER
 * intake and the HTTP listener (/metrics, /healthz). It starts the worker pool and the ledger
 * writer, and stops them in order on SIGTERM/SIGINT: stop taking sendings, let every accepted
 * one be judged, committed and answered, then exit.
 */
#ifndef TPC_SERVER_H
#define TPC_SERVER_H

#include "core/config.h"

typedef struct tpc_server tpc_server_t;

/** Open the ledger, load adapters (built-ins and plugins), bind the sockets, start the threads.
 *  Writes "<data_dir>/tpcleard.endpoints" with the bound endpoints once ready.
 *  @param[in]  cfg  copied
 *  @param[out] out  the server, owned by the caller; release with tpc_server_free()
 *  @return 0 or a negative TPC_E* code (the reason is logged). */
int tpc_server_new(const tpc_config_t *cfg, tpc_server_t **out);

/** Run the loop until a stop is requested and every accepted sending is answered.
 *  @return 0 on a clean stop. */
int tpc_server_run(tpc_server_t *s);

/** Ask the server to drain and stop (async-signal-safe is not required: call from the loop
 *  thread or before run). */
void tpc_server_request_stop(tpc_server_t *s);

/** Stop threads, close sockets and the ledger, free; NULL-safe; sets *@p s to NULL. */
void tpc_server_free(tpc_server_t **s);

#endif
