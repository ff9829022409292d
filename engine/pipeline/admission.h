/* engine/pipeline/admission.h - admission of sendings by the time their work waits.
 *
 * Under overload the engine answers "busy" (T00064, retry_after_ms) rather than queue work that
 * only waits: a sending taken when the engine already holds seconds of work is answered seconds
 * later, and everything queued holds memory. The bound is in time: the payload bytes of the
 * sendings taken and not yet answered, divided by the rate at which the engine has recently
 * answered payload bytes, is the delay a new sending would wait behind them; while that delay
 * is at [engine] admission_delay_ms, a new sending is answered busy at once.
 *
 * In bytes of payload, not lines or sendings: the loop thread knows a payload's size before
 * decoding it, and a sending's cost grows with its lines, hence its bytes. The rate is measured
 * over the time something was in flight (an idle engine is not a slow one), per window of
 * ADMISSION_WINDOW_US, smoothed.
 *
 * The bound in bytes (rate x delay) is kept between a floor and a ceiling: never under
 * TPC_ADMISSION_FLOOR (what the engine needs in flight to reach its maximum, and one large
 * sending), so that a rate measured low (at startup, after a light period) cannot starve the
 * pipeline; never over [engine] max_payload_in_flight, the memory cap. And a sending is taken
 * whenever the bytes in flight are under the bound, whatever its own size: "at the bound", not
 * "would pass it", so a sending larger than the bound gets in as soon as the engine is under it
 * (at the latest when nothing is in flight) and is never starved by a stream of small ones.
 *
 * Threads: the loop thread only (server.c); no locks.
 */
#ifndef TPC_ADMISSION_H
#define TPC_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

/** The least the bound in bytes may be, whatever the rate: 8 MiB, one hospital sending of
 *  ~20,000 eFact lines, and above the ~5 MB the closed loop of 4 x 4 senders holds when the
 *  engine clears at its maximum (docs/benchmarks.md, "Issue 15: admission in time"). */
#define TPC_ADMISSION_FLOOR ((size_t)8 << 20)

typedef struct tpc_admission tpc_admission_t;

/** @param delay_ms  the delay a new sending may wait behind those in flight; 0 = no bound in
 *                   time, the bound is @p cap
 *  @param floor     the least bound in bytes (TPC_ADMISSION_FLOOR; lowered to @p cap if above)
 *  @param cap       the most bound in bytes ([engine] max_payload_in_flight)
 *  @param[out] out  the state, owned by the caller (tpc_admission_free)
 *  @return 0, TPC_EINVAL (a zero cap), TPC_ENOMEM. */
int tpc_admission_new(uint32_t delay_ms, size_t floor, size_t cap, tpc_admission_t **out);

/** Free @p a; NULL-safe, sets *@p a to NULL. */
void tpc_admission_free(tpc_admission_t **a);

/** Take a sending of @p len payload bytes at @p now_us (monotonic), or refuse it.
 *  @return 0 when taken (give it back with tpc_admission_done), TPC_EAGAIN when the bytes in
 *          flight are at the bound: answer busy. */
int tpc_admission_take(tpc_admission_t *a, size_t len, uint64_t now_us);

/** Give back @p len bytes taken at @p now_us. @p answered: the sending was answered by the
 *  pipeline (its bytes count in the rate); 0 when it was refused after being taken (a full job
 *  queue): it only leaves the bytes in flight. */
void tpc_admission_done(tpc_admission_t *a, size_t len, int answered, uint64_t now_us);

/** The bound now, in bytes: rate x delay between the floor and the cap; the floor while no
 *  rate has been measured yet. */
size_t tpc_admission_bound(const tpc_admission_t *a);

/** Payload bytes taken and not yet given back. */
size_t tpc_admission_in_flight(const tpc_admission_t *a);

/** The measured rate, payload bytes answered per second while something was in flight;
 *  0 = none measured yet. */
uint64_t tpc_admission_rate(const tpc_admission_t *a);

/** The estimated time to answer what is in flight, ms: bytes in flight / rate (0 with nothing
 *  in flight; with no rate yet, estimated at the delay target for a full bound). */
uint64_t tpc_admission_delay_ms(const tpc_admission_t *a);

/** The retry hint of a busy answer, ms: the estimated time to answer what is in flight
 *  (tpc_admission_delay_ms), by when a sending sent again finds the engine under its bound; at
 *  least @p least_ms ([engine] retry_after_ms), at most 600000 (config.c's ceiling for it). */
uint32_t tpc_admission_retry_ms(const tpc_admission_t *a, uint32_t least_ms);

#endif /* TPC_ADMISSION_H */
