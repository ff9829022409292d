/* engine/core/queue.c - mutex + condvar FIFO with an optional eventfd (see queue.h).
 *
 * DESIGN: one lock per queue, held only to link or unlink nodes. Producers signal not_empty
 * only when a consumer may be waiting (the queue was empty), and kick the eventfd only on the
 * empty -> non-empty edge, so a burst costs one wakeup. The depth is kept in an atomic mirror
 * so metrics read it without the lock.
 *
 * Who uses what (engine/pipeline/): the job queue has several blocking consumers (the workers,
 * one node per pop); to_ledger has one (the writer: up to group_max nodes per pop, and
 * group_max_lines lines through tpc_queue_pop_group()'s weights); done has the loop thread, which
 * watches the eventfd and pops everything per wakeup. The signalling below has to be right for all
 * three shapes.
 *
 * Ordered queues (tpc_queue_set_order(): the job queue by payload bytes, to_ledger by lines) keep
 * the same list: a node's weight and push time are written into it at the push, and a pop looks
 * at the first `scan` nodes for the lightest. The list stays in arrival order, so the age bound
 * needs only the head (the oldest: pushes append; push_front's express jobs are the lightest
 * and leave first). When the head has waited max_wait_us the pop is FIFO: under sustained
 * overload every head is old and the queue behaves exactly as an unordered one.
 */
#include "core/queue.h"

#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct tpc_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	tpc_qnode_t *head, *tail;
	size_t len;
	size_t cap;
	_Atomic size_t depth; /* mirror of len for lock-free reads */
	_Atomic size_t taken; /* nodes ever popped: the consumers' progress, for the watchdog */
	int closed;           /* set once, under the lock; pushes fail, pops drain what is left */
	int efd;              /* -1 unless TPC_QUEUE_EVENTFD */
	/* the order (tpc_queue_set_order()): set before the first push, read under the lock */
	tpc_queue_weight_fn order; /* NULL: FIFO */
	uint64_t max_wait_us;
	size_t scan;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* An ordered queue's node learns its weight and push time (the lock held): a pop then compares
 * nodes without calling back into the items, one read per node it looks at. */
static void stamp(const tpc_queue_t *q, tpc_qnode_t *n)
{
	if (!q->order)
		return;
	n->queued_us = mono_us();
	n->weight = q->order(n);
}

int tpc_queue_new(size_t capacity, unsigned flags, tpc_queue_t **out)
{
	tpc_queue_t *q = calloc(1, sizeof(*q));

	if (!q)
		return TPC_ENOMEM;
	q->cap = capacity;
	q->efd = -1;
	if (flags & TPC_QUEUE_EVENTFD) {
		/* Non-blocking: the loop thread reads it from a libevent callback and must never
		 * sleep there; a read of a zero counter then fails with EAGAIN instead. Not
		 * EFD_SEMAPHORE: one read clears every kick at once, since one drain serves them
		 * all. */
		q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->efd < 0) {
			int rc = -errno;
			free(q);
			return rc;
		}
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	*out = q;
	return 0;
}

void tpc_queue_free(tpc_queue_t **qp)
{
	tpc_queue_t *q;

	if (!qp || !*qp)
		return;
	q = *qp;
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
	free(q);
	*qp = NULL;
}

/* Called with the lock held and room available. */
static void link_node(tpc_queue_t *q, tpc_qnode_t *n, int *was_empty)
{
	n->next = NULL;
	stamp(q, n);
	*was_empty = q->len == 0;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
}

/* Called with the lock held. Only the empty -> non-empty edge wakes anyone: a consumer only sleeps
 * on an empty queue, so a push onto a non-empty one finds nobody asleep who would not already be
 * woken. With several consumers, the one woken passes the wakeup on (tpc_queue_pop_many()). */
static void wake_consumer(tpc_queue_t *q, int was_empty)
{
	if (!was_empty)
		return;
	pthread_cond_signal(&q->not_empty);
	if (q->efd >= 0) {
		uint64_t one = 1;
		/* write() adds to the counter and fails with EAGAIN only if the counter would pass
		 * 2^64 - 2, which cannot happen while the consumer reads it on every wakeup: the
		 * loop is woken either way. Anything else is a bug, reported but not fatal. */
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			(void)TPC_FAILS(0);
	}
}

int tpc_queue_try_push(tpc_queue_t *q, tpc_qnode_t *n)
{
	int was_empty;

	pthread_mutex_lock(&q->lock);
	/* two codes so a caller can tell shutdown from back-pressure (the loop thread answers
	 * busy to both: a sender retries either way) */
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return TPC_ECANCELED;
	}
	if (q->cap && q->len >= q->cap) {
		pthread_mutex_unlock(&q->lock);
		return TPC_EAGAIN;
	}
	link_node(q, n, &was_empty);
	wake_consumer(q, was_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int tpc_queue_push(tpc_queue_t *q, tpc_qnode_t *n)
{
	int was_empty;

	/* A loop, not an if: pop_many broadcasts not_full, so several producers wake for the room
	 * one pop made and each must look again; close() also wakes them, to return. This wait is
	 * the back-pressure of docs/architecture.md: a slow writer stops the workers here. */
	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->cap && q->len >= q->cap)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return TPC_ECANCELED;
	}
	link_node(q, n, &was_empty);
	wake_consumer(q, was_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int tpc_queue_push_front(tpc_queue_t *q, tpc_qnode_t *n)
{
	int was_empty;

	/* No wait for room: the express lane overtakes the queue's bound as well as its order.
	 * Its jobs are bounded upstream (the express job queue, pipeline/server.c), and an
	 * eAttest that waited here for the sendings' group commits to make room (a full
	 * to_ledger under load) would wait for as many groups as the queue holds. */
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return TPC_ECANCELED;
	}
	was_empty = q->len == 0;
	stamp(q, n);
	n->next = q->head;
	q->head = n;
	if (!q->tail)
		q->tail = n;
	q->len++;
	atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
	wake_consumer(q, was_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Unlink the nodes to take from the front (the lock held): at most @p max, and while their
 * weights sum to at most @p max_weight, the first always taken. */
static size_t take_front(tpc_queue_t *q, size_t max, size_t max_weight, tpc_queue_weight_fn weight,
                         tpc_qnode_t **head)
{
	size_t n = 0, sum = 0;
	tpc_qnode_t *first = q->head, *last = NULL;

	while (q->head && n < max) {
		size_t w = weight ? weight(q->head) : 1;

		/* the first node is taken whatever it weighs: a group is never empty, and a node
		 * heavier than the bound is a group of its own */
		if (n && sum + w > max_weight)
			break;
		sum += w;
		last = q->head;
		q->head = q->head->next;
		n++;
	}
	if (!n)
		return 0;
	last->next = NULL;
	if (!q->head)
		q->tail = NULL;
	q->len -= n;
	atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
	/* under the lock: a plain read-modify-write is enough, the watchdog only reads it */
	atomic_store_explicit(&q->taken, q->taken + n, memory_order_relaxed);
	*head = first;
	return n;
}

/* Would one pop take every queued node (the lock held)? Then the order does not matter: they
 * all leave together, in arrival order (an express job pushed to the front stays first for
 * the writer's write_batch()). */
static int all_fit(const tpc_queue_t *q, size_t max, size_t max_weight, tpc_queue_weight_fn weight)
{
	size_t sum = 0;

	if (q->len > max)
		return 0;
	if (q->len <= 1 || max_weight == SIZE_MAX)
		return 1;
	for (const tpc_qnode_t *c = q->head; c; c = c->next) {
		sum += weight ? weight(c) : 1;
		if (sum > max_weight)
			return 0;
	}
	return 1;
}

/* The lightest of the first `scan` queued nodes, and the node before it (NULL: it is the head).
 * Ties go to the older node, so nodes of one weight leave in arrival order. */
static tpc_qnode_t *lightest(const tpc_queue_t *q, tpc_qnode_t **prev_out)
{
	tpc_qnode_t *best = q->head;
	size_t seen = 1;

	*prev_out = NULL;
	for (tpc_qnode_t *c = q->head; c->next && seen < q->scan; c = c->next, seen++)
		if (c->next->weight < best->weight) {
			best = c->next;
			*prev_out = c;
		}
	return best;
}

/* take_front()'s bounds, lightest first (the lock held, the queue not empty): each step takes
 * the lightest of the first `scan` nodes left, until the next would pass @p max_weight (the
 * first is always taken). O(taken x scan) under the lock, hence the scan bound. */
static size_t take_lightest(tpc_queue_t *q, size_t max, size_t max_weight,
                            tpc_queue_weight_fn weight, tpc_qnode_t **head)
{
	tpc_qnode_t *first = NULL, *last = NULL, *best, *prev;
	size_t n = 0, sum = 0;

	while (q->head && n < max) {
		size_t w;

		best = lightest(q, &prev);
		w = weight ? weight(best) : 1;
		if (n && sum + w > max_weight)
			break;
		sum += w;
		if (prev)
			prev->next = best->next;
		else
			q->head = best->next;
		if (q->tail == best)
			q->tail = prev;
		best->next = NULL;
		if (last)
			last->next = best;
		else
			first = best;
		last = best;
		n++;
	}
	q->len -= n;
	atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
	atomic_store_explicit(&q->taken, q->taken + n, memory_order_relaxed);
	*head = first;
	return n;
}

size_t tpc_queue_pop_group(tpc_queue_t *q, size_t max, size_t max_weight,
                           tpc_queue_weight_fn weight, int wait, tpc_qnode_t **head)
{
	size_t n;

	*head = NULL;
	/* A loop for spurious wakeups and for a consumer that lost the race to another one. After
	 * close() it still drains what is queued: the caller gets 0 only once closed AND empty, so
	 * no judged sending is dropped at shutdown. */
	pthread_mutex_lock(&q->lock);
	while (wait && q->len == 0 && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->lock);
	if (q->order && !all_fit(q, max, max_weight, weight) &&
	    q->head->queued_us + q->max_wait_us > mono_us())
		n = take_lightest(q, max, max_weight, weight, head);
	else
		n = take_front(q, max, max_weight, weight, head);
	if (n) {
		/* broadcast, not signal: n slots were freed, so up to n producers may go on */
		if (q->cap)
			pthread_cond_broadcast(&q->not_full);
		/* Another consumer may be waiting for what is left: producers signal only on the
		 * empty edge, so without this relay a second worker would sleep beside a non-empty
		 * queue while the first one is busy with its job. */
		if (q->len)
			pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t tpc_queue_pop_many(tpc_queue_t *q, size_t max, int wait, tpc_qnode_t **head)
{
	return tpc_queue_pop_group(q, max, SIZE_MAX, NULL, wait, head);
}

int tpc_queue_pop(tpc_queue_t *q, tpc_qnode_t **out)
{
	return tpc_queue_pop_many(q, 1, 1, out) ? 0 : TPC_ECANCELED;
}

void tpc_queue_set_order(tpc_queue_t *q, tpc_queue_weight_fn weight, uint64_t max_wait_us,
                         size_t scan)
{
	pthread_mutex_lock(&q->lock);
	/* a zero bound is arrival order: nothing may be overtaken at all */
	q->order = max_wait_us ? weight : NULL;
	q->max_wait_us = max_wait_us;
	q->scan = scan ? scan : 1;
	pthread_mutex_unlock(&q->lock);
}

/* Both conditions are broadcast: every blocked producer must return TPC_ECANCELED and every
 * idle consumer must see the queue closed (workers exit their loop on it). */
void tpc_queue_close(tpc_queue_t *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

/* Relaxed: a gauge for /metrics, read by the loop thread at scrape time. No node is reached
 * through it, so it needs no ordering with the list; it may be a moment stale. */
size_t tpc_queue_depth(const tpc_queue_t *q)
{
	return atomic_load_explicit(&q->depth, memory_order_relaxed);
}

/* Relaxed as the depth: only compared with its own earlier value by the loop thread. */
size_t tpc_queue_taken(const tpc_queue_t *q)
{
	return atomic_load_explicit(&q->taken, memory_order_relaxed);
}

size_t tpc_queue_capacity(const tpc_queue_t *q)
{
	return q->cap;
}

int tpc_queue_fd(const tpc_queue_t *q)
{
	return q->efd;
}

/* Read (and so zero) the counter BEFORE draining: a push that lands during the drain then
 * writes the counter again and the loop wakes once more. Acking after the drain could swallow
 * that kick and leave a node waiting until some later, unrelated push. EAGAIN just means no kick
 * was pending. */
void tpc_queue_ack(tpc_queue_t *q)
{
	uint64_t v;

	if (q->efd >= 0 && read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		(void)TPC_FAILS(0);
}
