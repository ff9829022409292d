/* engine/pipeline/server.h - tpcleard: the loop thread and everything it wires together.
 *
 * The server owns the libevent loop and, on that one thread, every socket: the ZeroMQ ROUTER
 * intake and the HTTP listener (/metrics, /healthz). It starts the worker pool and the ledger
 * writer, and stops them in order on SIGTERM/SIGINT: stop taking sendings, let every accepted
 * one be judged, committed and answered, then exit.
 *
 * DESIGN (engine/pipeline/): the path of a request between the rooms, and nothing else.
 *  - Owns: the loop thread (server.c: sockets, intake, answers), the worker threads (worker.c:
 *    decode, authorize, tariff, judge, pack), the job that carries a request through the queues
 *    (job.h), the packing of results (result.c) and the client side of the wire (client.c).
 *    The ledger writer thread it starts is engine/ledger/'s.
 *  - Threads: one job belongs to one thread at a time and moves only through the queues
 *    (loop -> jobs -> worker -> to_ledger -> writer -> done -> loop); the stage boundaries
 *    assert what the next stage relies on (worker.c: assert_job_handed, assert_verdict_handed).
 *  - Never: the loop thread never blocks (no disk but the rare SIGHUP reload, no LMDB write, no
 *    decoding); a worker never writes LMDB (only the ledger writer does) and never touches a
 *    socket; no thread reads a job it has handed on.
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
 *  @return 0 on a clean stop; TPC_EIO when the loop failed or when the engine stopped because a
 *  write of the ledger failed (pipeline/writer.h: the process must exit non-zero for its
 *  supervisor to restart it). */
int tpc_server_run(tpc_server_t *s);

/** Ask the server to drain and stop (async-signal-safe is not required: call from the loop
 *  thread or before run). */
void tpc_server_request_stop(tpc_server_t *s);

/** Stop threads, close sockets and the ledger, free; NULL-safe; sets *@p s to NULL. */
void tpc_server_free(tpc_server_t **s);

#endif
