/* engine/core/queue.h - bounded intrusive FIFO between threads.
 *
 * The only thing threads share. A node is embedded in the item it carries (struct tpc_qnode as
 * first member), so pushing allocates nothing. Blocking consumers (workers, the ledger writer)
 * sleep on a condition variable; an event-loop consumer asks for TPC_QUEUE_EVENTFD and watches
 * tpc_queue_fd(): the eventfd is written only when the queue goes from empty to non-empty, and
 * the consumer drains the whole queue per wakeup. A full queue refuses try_push (the caller
 * answers "busy") and makes push wait, so memory never grows without bound.
 *
 * A queue may be ordered (tpc_queue_set_order()): its pops then take the lightest queued node
 * first (a sending's bytes or lines), so a small sending is not held behind large ones, unless
 * the oldest node has waited max_wait_us: from then on the queue is served in arrival order
 * until its oldest node is younger again, so no node waits much past that bound for lighter
 * ones (docs/benchmarks.md, "Issue 15: the smallest first").
 */
#ifndef TPC_QUEUE_H
#define TPC_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_qnode {
	struct tpc_qnode *next;
	/* an ordered queue's (tpc_queue_set_order()), set at the push: when it was queued
	 * (monotonic microseconds) and its weight */
	uint64_t queued_us;
	size_t weight;
} tpc_qnode_t;

typedef struct tpc_queue tpc_queue_t;

/* nodes an ordered queue's pop looks at (tpc_queue_set_order()): enough for every sending a
 * half-loaded engine holds queued, few enough that a pop under overload stays a few
 * microseconds */
#define TPC_QUEUE_SCAN 64

enum tpc_queue_flags {
	TPC_QUEUE_EVENTFD = (1u << 0), /* wake an event loop through an eventfd */
};

/** @param[in]  capacity most nodes held (0 = unbounded, for queues bounded upstream)
 *  @param[out] out      new queue, owned by the caller; release with tpc_queue_free()
 *  @return 0, TPC_ENOMEM or a negative errno from eventfd(). */
int tpc_queue_new(size_t capacity, unsigned flags, tpc_queue_t **out);
/** Free the queue (it must be empty or its nodes owned elsewhere); NULL-safe; NULLs *@p q. */
void tpc_queue_free(tpc_queue_t **q);

/** Append @p n without waiting; on success the queue owns @p n.
 *  @return 0, TPC_EAGAIN when full, TPC_ECANCELED when closed. */
int tpc_queue_try_push(tpc_queue_t *q, tpc_qnode_t *n);
/** Append @p n, waiting while the queue is full. @return 0 or TPC_ECANCELED when closed. */
int tpc_queue_push(tpc_queue_t *q, tpc_qnode_t *n);
/** Put @p n first, even when the queue is full: the express lane (eAttest) overtakes what is
 *  queued and the bound (the caller bounds its own pushes). @return 0 or TPC_ECANCELED when
 *  closed. */
int tpc_queue_push_front(tpc_queue_t *q, tpc_qnode_t *n);
/** Take the oldest node, waiting while empty.
 *  @return 0, or TPC_ECANCELED once the queue is closed and empty. */
int tpc_queue_pop(tpc_queue_t *q, tpc_qnode_t **out);
/** Take up to @p max nodes in order as a NULL-terminated list.
 *  @param[in] wait  block until at least one node (or close) when non-zero
 *  @return number of nodes taken (0 when empty and not waiting, or closed and empty). */
size_t tpc_queue_pop_many(tpc_queue_t *q, size_t max, int wait, tpc_qnode_t **head);
/** The weight of a queued node for tpc_queue_pop_group() (e.g. a job's lines). */
typedef size_t (*tpc_queue_weight_fn)(const tpc_qnode_t *n);
/** Take nodes in order as a NULL-terminated list: at most @p max, and while their weights
 *  (@p weight, NULL = 1 each) sum to at most @p max_weight; the first node is always taken,
 *  whatever it weighs. An ordered queue takes them lightest first when they do not all fit
 *  (the file header). Called with the queue's lock held: @p weight must not block.
 *  @param[in] wait  block until at least one node (or close) when non-zero
 *  @return number of nodes taken (0 when empty and not waiting, or closed and empty). */
size_t tpc_queue_pop_group(tpc_queue_t *q, size_t max, size_t max_weight,
                           tpc_queue_weight_fn weight, int wait, tpc_qnode_t **head);
/** Order the pops of @p q, lightest node first (the file header). Call before the first push,
 *  from the thread that made the queue.
 *  @param[in] weight      a node's weight, called at its push with the queue's lock held (must
 *                         not block); NULL makes the queue FIFO again
 *  @param[in] max_wait_us how long a node may be overtaken by lighter ones (0: arrival order)
 *  @param[in] scan        nodes looked at per pop from the oldest, >= 1 (bounds a pop's cost
 *                         under the lock; a lighter node past them waits its turn) */
void tpc_queue_set_order(tpc_queue_t *q, tpc_queue_weight_fn weight, uint64_t max_wait_us,
                         size_t scan);
/** Stop accepting pushes and wake every waiter; nodes already queued can still be popped. */
void tpc_queue_close(tpc_queue_t *q);
/** Nodes queued now (a snapshot, for metrics). */
size_t tpc_queue_depth(const tpc_queue_t *q);
/** Nodes popped since creation (a snapshot): the consumers' progress, for the watchdog. */
size_t tpc_queue_taken(const tpc_queue_t *q);
/** Capacity given at creation (0 = unbounded). */
size_t tpc_queue_capacity(const tpc_queue_t *q);
/** The eventfd of a TPC_QUEUE_EVENTFD queue (-1 otherwise). */
int tpc_queue_fd(const tpc_queue_t *q);
/** Clear the eventfd after a wakeup (call before draining). */
void tpc_queue_ack(tpc_queue_t *q);

#endif /* TPC_QUEUE_H */
