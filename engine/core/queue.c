/* engine/core/queue.c - mutex + condvar FIFO with an optional eventfd (see queue.h).
 *
 * DESIGN: one lock per queue, held only to link or unlink nodes. Producers signal not_empty
 * only when a consumer may be waiting (the queue was empty), and kick the eventfd only on the
 * empty -> non-empty edge, so a burst costs one wakeup. The depth is kept in an atomic mirror
 * so metrics read it without the lock.
 */
#include "core/queue.h"

#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct tpc_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	tpc_qnode_t *head, *tail;
	size_t len;
	size_t cap;
	_Atomic size_t depth; /* mirror of len for lock-free reads */
	int closed;
	int efd;
};

int tpc_queue_new(size_t capacity, unsigned flags, tpc_queue_t **out)
{
	tpc_queue_t *q = calloc(1, sizeof(*q));

	if (!q)
		return TPC_ENOMEM;
	q->cap = capacity;
	q->efd = -1;
	if (flags & TPC_QUEUE_EVENTFD) {
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
	*was_empty = q->len == 0;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
}

static void wake_consumer(tpc_queue_t *q, int was_empty)
{
	if (!was_empty)
		return;
	pthread_cond_signal(&q->not_empty);
	if (q->efd >= 0) {
		uint64_t one = 1;
		/* EAGAIN means the counter is already non-zero: the loop will wake anyway */
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			(void)TPC_FAILS(0);
	}
}

int tpc_queue_try_push(tpc_queue_t *q, tpc_qnode_t *n)
{
	int was_empty;

	pthread_mutex_lock(&q->lock);
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

	pthread_mutex_lock(&q->lock);
	while (!q->closed && q->cap && q->len >= q->cap)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return TPC_ECANCELED;
	}
	was_empty = q->len == 0;
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

size_t tpc_queue_pop_many(tpc_queue_t *q, size_t max, int wait, tpc_qnode_t **head)
{
	size_t n = 0;
	tpc_qnode_t *first, *last = NULL;

	*head = NULL;
	pthread_mutex_lock(&q->lock);
	while (wait && q->len == 0 && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->lock);
	first = q->head;
	while (q->head && n < max) {
		last = q->head;
		q->head = q->head->next;
		n++;
	}
	if (n) {
		last->next = NULL;
		if (!q->head)
			q->tail = NULL;
		q->len -= n;
		atomic_store_explicit(&q->depth, q->len, memory_order_relaxed);
		*head = first;
		if (q->cap)
			pthread_cond_broadcast(&q->not_full);
		/* another consumer may be waiting for what is left */
		if (q->len)
			pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

int tpc_queue_pop(tpc_queue_t *q, tpc_qnode_t **out)
{
	return tpc_queue_pop_many(q, 1, 1, out) ? 0 : TPC_ECANCELED;
}

void tpc_queue_close(tpc_queue_t *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

size_t tpc_queue_depth(const tpc_queue_t *q)
{
	return atomic_load_explicit(&q->depth, memory_order_relaxed);
}

size_t tpc_queue_capacity(const tpc_queue_t *q)
{
	return q->cap;
}

int tpc_queue_fd(const tpc_queue_t *q)
{
	return q->efd;
}

void tpc_queue_ack(tpc_queue_t *q)
{
	uint64_t v;

	if (q->efd >= 0 && read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		(void)TPC_FAILS(0);
}
