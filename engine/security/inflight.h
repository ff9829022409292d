/* engine/security/inflight.h - requests in flight per sender, and their bound.
 *
 * The loop thread counts, per sender id, the requests it has accepted (receipt sent) and not
 * yet answered, and refuses one more above [engine] max_in_flight_per_sender: one sender can
 * then never fill the whole job queue and starve the others. An entry exists only while its
 * count is above zero, so memory is bounded by the requests in flight, whatever ids arrive.
 * Not thread-safe: the loop thread owns the table.
 */
#ifndef TPC_INFLIGHT_H
#define TPC_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_inflight tpc_inflight_t;

/** @param limit  most requests in flight per sender (0 = no bound: nothing is counted)
 *  @param[out] out  the table, owned by the caller (tpc_inflight_free)
 *  @return 0 or TPC_ENOMEM. */
int tpc_inflight_new(uint32_t limit, tpc_inflight_t **out);

/** Free the table; NULL-safe; sets *@p t to NULL. */
void tpc_inflight_free(tpc_inflight_t **t);

/** Count one more request of @p sender.
 *  @return 1 when counted (release it later), 0 when the table does not count (limit 0),
 *          TPC_EAGAIN when @p sender is at the limit, TPC_ENOMEM. */
int tpc_inflight_take(tpc_inflight_t *t, const char *sender);

/** The request counted by a take() that returned 1 is answered. */
void tpc_inflight_release(tpc_inflight_t *t, const char *sender);

/** Requests of @p sender in flight. */
uint32_t tpc_inflight_count(const tpc_inflight_t *t, const char *sender);

/** Senders with at least one request in flight. */
size_t tpc_inflight_senders(const tpc_inflight_t *t);

#endif /* TPC_INFLIGHT_H */
