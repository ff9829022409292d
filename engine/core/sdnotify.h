/* engine/core/sdnotify.h - telling systemd how the engine is doing (sd_notify(3)), and the
 * judge that decides whether the watchdog may be pinged.
 *
 * Under a Type=notify unit systemd passes NOTIFY_SOCKET (and WATCHDOG_USEC when the unit has
 * WatchdogSec=); elsewhere every call here does nothing and costs a getenv. The server sends
 * READY=1 once the ledger is open and the sockets are bound, STOPPING=1 when the drain starts,
 * STATUS= lines a person reads in `systemctl status`, and WATCHDOG=1 from the loop thread while
 * the stages behind it make progress (docs/operations.md, systemd).
 *
 * The watchdog judge (tpc_watchdog_*) is what makes a ping mean something: a loop thread that
 * pings on a timer proves only that the loop turns. It watches the queues in front of the
 * stages (the workers' jobs, the ledger writer's): a stage whose queue holds work and has
 * taken nothing for the stall time is stuck, and then no ping is sent, so systemd kills and
 * restarts the engine once WatchdogSec has passed. A stage that is idle, or slow but taking,
 * is not stuck.
 *
 * Thread-safety: the notify calls may come from any thread (each is one datagram); a
 * tpc_watchdog_t is the loop thread's alone.
 */
#ifndef TPC_SDNOTIFY_H
#define TPC_SDNOTIFY_H

#include "core/queue.h"

#include <stddef.h>
#include <stdint.h>

/** READY=1 with a STATUS= line formatted from @p fmt. */
void tpc_sdnotify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** STOPPING=1 with a STATUS= line. */
void tpc_sdnotify_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** A STATUS= line alone. */
void tpc_sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** WATCHDOG=1. */
void tpc_sdnotify_watchdog(void);
/** The watchdog interval systemd set for this process (WATCHDOG_USEC, WATCHDOG_PID), in
 *  microseconds; 0 when there is none. */
uint64_t tpc_sdnotify_watchdog_usec(void);

#define TPC_WATCHDOG_STAGES 6

typedef struct tpc_watchdog tpc_watchdog_t;

/** A judge of @p stall_us: a stage is stuck once its queue has held work for that long
 *  without taking any.
 *  @param[out] out  owned by the caller; release with tpc_watchdog_free()
 *  @return 0 or TPC_ENOMEM. */
int tpc_watchdog_new(uint64_t stall_us, tpc_watchdog_t **out);
/** Watch the stage @p name (static storage) that consumes the queue @p q: its progress is the
 *  count of nodes @p q has given out. Its work is what waits in @p q when @p work is NULL, else
 *  the count at @p work, read at each check (for the whole pipeline: the requests in flight,
 *  which catches a stage stuck with all the work in hand and nothing left waiting). Both are
 *  borrowed and must outlive the judge; @p work is read on the judge's thread only.
 *  @return 0, or TPC_ENOSPC past TPC_WATCHDOG_STAGES. */
int tpc_watchdog_watch(tpc_watchdog_t *w, const char *name, const tpc_queue_t *q,
                       const size_t *work);
/** Look at every stage at time @p now_us (a monotonic clock).
 *  @return NULL when none is stuck (the ping may go), else the first stuck stage's name. */
const char *tpc_watchdog_check(tpc_watchdog_t *w, uint64_t now_us);
/** NULL-safe; sets *@p w to NULL. */
void tpc_watchdog_free(tpc_watchdog_t **w);

#endif /* TPC_SDNOTIFY_H */
