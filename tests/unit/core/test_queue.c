/* tests/unit/core/test_queue.c - the bounded intrusive FIFO between threads (engine/core/queue.c).
 *
 * Helper threads never call cr_assert (Criterion asserts belong to the test's own thread):
 * they record what they saw and the test thread checks it after joining them.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/queue.h"

struct item {
	tpc_qnode_t node; /* first member: the queue carries items */
	uint32_t producer;
	uint32_t seq;
};

static struct item *item_of(tpc_qnode_t *n)
{
	return (struct item *)n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Is fd readable right now? */
static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc = poll(&p, 1, 0);

	cr_assert_geq(rc, 0, "poll failed");
	return rc == 1 && (p.revents & POLLIN);
}

TestSuite(queue, .timeout = 120);

/* A new queue of @p capacity (0 = unbounded), asserted to say so (the caller frees it). */
static tpc_queue_t *queue_of(uint32_t capacity)
{
	tpc_queue_t *q = NULL;

	cr_assert_eq(tpc_queue_new(capacity, 0, &q), 0);
	cr_assert_eq(tpc_queue_capacity(q), capacity);
	return q;
}

Test(queue, fifo_order)
{
	tpc_queue_t *q = queue_of(0);
	struct item it[10];
	tpc_qnode_t *n;

	cr_assert_eq(tpc_queue_fd(q), -1, "no eventfd unless asked for");
	for (uint32_t i = 0; i < 10; i++) {
		it[i].seq = i;
		cr_assert_eq(tpc_queue_push(q, &it[i].node), 0);
	}
	cr_assert_eq(tpc_queue_depth(q), 10);
	for (uint32_t i = 0; i < 10; i++) {
		cr_assert_eq(tpc_queue_pop(q, &n), 0);
		cr_assert_eq(item_of(n)->seq, i, "popped %u, expected %u", item_of(n)->seq, i);
	}
	cr_assert_eq(tpc_queue_depth(q), 0);
	cr_assert_eq(tpc_queue_pop_many(q, 5, 0, &n), 0, "empty non-waiting pop takes nothing");
	cr_assert_null(n);
	tpc_queue_free(&q);
	cr_assert_null(q);
	tpc_queue_free(&q); /* NULL-safe */
}

Test(queue, try_push_refuses_when_full_and_succeeds_after_pop)
{
	tpc_queue_t *q = queue_of(3);
	struct item it[4];
	tpc_qnode_t *n;

	for (int i = 0; i < 3; i++) {
		it[i].seq = (uint32_t)i;
		cr_assert_eq(tpc_queue_try_push(q, &it[i].node), 0);
	}
	it[3].seq = 3;
	cr_assert_eq(tpc_queue_try_push(q, &it[3].node), TPC_EAGAIN);
	cr_assert_eq(tpc_queue_depth(q), 3);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->seq, 0);
	cr_assert_eq(tpc_queue_try_push(q, &it[3].node), 0);
	for (uint32_t i = 1; i < 4; i++) {
		cr_assert_eq(tpc_queue_pop(q, &n), 0);
		cr_assert_eq(item_of(n)->seq, i);
	}
	tpc_queue_free(&q);
}

struct pusher {
	tpc_queue_t *q;
	struct item *it;
	atomic_int done;
	int rc;
};

static void *push_one(void *arg)
{
	struct pusher *p = arg;

	p->rc = tpc_queue_push(p->q, &p->it->node);
	atomic_store(&p->done, 1);
	return NULL;
}

/* A queue of two holding @p a and @p b, and a thread (@p t) blocked pushing @p p's item into
 * it: the state the full-queue tests start from. The caller joins @p t and frees the queue. */
static tpc_queue_t *full_with_a_blocked_pusher(struct item *a, struct item *b, struct pusher *p,
                                               pthread_t *t)
{
	tpc_queue_t *q = NULL;

	cr_assert_eq(tpc_queue_new(2, 0, &q), 0);
	p->q = q;
	cr_assert_eq(tpc_queue_push(q, &a->node), 0);
	cr_assert_eq(tpc_queue_push(q, &b->node), 0);
	cr_assert_eq(pthread_create(t, NULL, push_one, p), 0);
	sleep_ms(100);
	cr_assert_eq(atomic_load(&p->done), 0, "push returned while the queue was full");
	return q;
}

Test(queue, push_blocks_while_full_and_resumes_after_pop)
{
	tpc_queue_t *q = NULL;
	struct item a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3};
	struct pusher p = {.it = &c};
	pthread_t t;
	tpc_qnode_t *n;

	q = full_with_a_blocked_pusher(&a, &b, &p, &t);
	cr_assert_eq(tpc_queue_depth(q), 2);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->seq, 1);
	pthread_join(t, NULL);
	cr_assert_eq(p.rc, 0);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->seq, 2);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->seq, 3, "the blocked push lands after the older nodes");
	tpc_queue_free(&q);
}

Test(queue, pop_many_takes_at_most_max_in_order)
{
	tpc_queue_t *q = NULL;
	struct item it[10];
	tpc_qnode_t *head, *n;
	size_t got;
	uint32_t expect = 0;

	cr_assert_eq(tpc_queue_new(16, 0, &q), 0);
	for (uint32_t i = 0; i < 10; i++) {
		it[i].seq = i;
		cr_assert_eq(tpc_queue_push(q, &it[i].node), 0);
	}
	got = tpc_queue_pop_many(q, 4, 1, &head);
	cr_assert_eq(got, 4);
	for (n = head; n; n = n->next)
		cr_assert_eq(item_of(n)->seq, expect++);
	cr_assert_eq(expect, 4, "the list is NULL-terminated after max nodes");
	cr_assert_eq(tpc_queue_depth(q), 6);

	got = tpc_queue_pop_many(q, 100, 0, &head);
	cr_assert_eq(got, 6, "takes what is there when max is larger");
	for (n = head; n; n = n->next)
		cr_assert_eq(item_of(n)->seq, expect++);
	cr_assert_eq(expect, 10);
	cr_assert_eq(tpc_queue_depth(q), 0);

	/* the queue is usable again after being emptied by pop_many */
	cr_assert_eq(tpc_queue_push(q, &it[0].node), 0);
	cr_assert_eq(tpc_queue_pop_many(q, 1, 0, &head), 1);
	cr_assert_eq(head, &it[0].node);
	cr_assert_null(head->next);
	tpc_queue_free(&q);
}

/* Issue 15: the writer's groups are bounded by a weight (a job's lines) as well as a count; the
 * first node is taken whatever it weighs. */
static size_t weight_of_seq(const tpc_qnode_t *n)
{
	return ((const struct item *)n)->seq;
}

Test(queue, pop_group_bounds_by_weight_and_count)
{
	tpc_queue_t *q = queue_of(16);
	uint32_t w[] = {3, 4, 5, 20, 1, 1, 1, 1};
	struct item it[8];
	tpc_qnode_t *head;

	for (uint32_t i = 0; i < 8; i++) {
		it[i].seq = w[i];
		cr_assert_eq(tpc_queue_push(q, &it[i].node), 0);
	}
	/* 3 + 4 = 7 <= 10, + 5 would pass */
	cr_assert_eq(tpc_queue_pop_group(q, 100, 10, weight_of_seq, 0, &head), 2);
	cr_assert_eq(head, &it[0].node);
	cr_assert_eq(head->next, &it[1].node);
	cr_assert_null(head->next->next);
	/* 5, then 20 would pass */
	cr_assert_eq(tpc_queue_pop_group(q, 100, 10, weight_of_seq, 0, &head), 1);
	cr_assert_eq(head, &it[2].node);
	/* 20 alone is heavier than the bound: taken alone, never left behind */
	cr_assert_eq(tpc_queue_pop_group(q, 100, 10, weight_of_seq, 0, &head), 1);
	cr_assert_eq(head, &it[3].node);
	/* the count bounds too */
	cr_assert_eq(tpc_queue_pop_group(q, 3, 10, weight_of_seq, 0, &head), 3);
	cr_assert_eq(tpc_queue_depth(q), 1);
	cr_assert_eq(tpc_queue_pop_group(q, 3, 10, NULL, 0, &head), 1);
	cr_assert_eq(head, &it[7].node);
	cr_assert_eq(tpc_queue_pop_group(q, 3, 10, NULL, 0, &head), 0);
	tpc_queue_free(&q);
}

/* Issue 15: the express lane overtakes the bound as well as the order (its jobs are bounded
 * upstream): push_front on a full queue returns at once instead of waiting for a pop. */
Test(queue, push_front_does_not_wait_for_room)
{
	tpc_queue_t *q = queue_of(2);
	struct item it[3];
	tpc_qnode_t *n;

	cr_assert_eq(tpc_queue_push(q, &it[0].node), 0);
	cr_assert_eq(tpc_queue_push(q, &it[1].node), 0);
	cr_assert_eq(tpc_queue_try_push(q, &it[2].node), TPC_EAGAIN);
	cr_assert_eq(tpc_queue_push_front(q, &it[2].node), 0);
	cr_assert_eq(tpc_queue_depth(q), 3);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(n, &it[2].node, "first out");
	tpc_queue_free(&q);
}

struct popper {
	tpc_queue_t *q;
	atomic_int done;
	int rc;
	size_t many;
};

static void *pop_one(void *arg)
{
	struct popper *p = arg;
	tpc_qnode_t *n;

	p->rc = tpc_queue_pop(p->q, &n);
	atomic_store(&p->done, 1);
	return NULL;
}

static void *pop_many_waiting(void *arg)
{
	struct popper *p = arg;
	tpc_qnode_t *n;

	p->many = tpc_queue_pop_many(p->q, 8, 1, &n);
	atomic_store(&p->done, 1);
	return NULL;
}

Test(queue, close_wakes_blocked_consumers)
{
	tpc_queue_t *q = NULL;
	struct popper a = {0}, b = {0};
	pthread_t ta, tb;

	cr_assert_eq(tpc_queue_new(4, 0, &q), 0);
	a.q = b.q = q;
	a.rc = 1;
	b.many = 99;
	cr_assert_eq(pthread_create(&ta, NULL, pop_one, &a), 0);
	cr_assert_eq(pthread_create(&tb, NULL, pop_many_waiting, &b), 0);
	sleep_ms(100);
	cr_assert_eq(atomic_load(&a.done) + atomic_load(&b.done), 0, "pop returned on empty");
	tpc_queue_close(q);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	cr_assert_eq(a.rc, TPC_ECANCELED);
	cr_assert_eq(b.many, 0);
	tpc_queue_free(&q);
}

Test(queue, close_wakes_blocked_producers_and_keeps_queued_nodes)
{
	tpc_queue_t *q = NULL;
	struct item a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3}, d = {.seq = 4};
	struct pusher p = {.it = &c};
	pthread_t t;
	tpc_qnode_t *n;

	q = full_with_a_blocked_pusher(&a, &b, &p, &t);
	tpc_queue_close(q);
	pthread_join(t, NULL);
	cr_assert_eq(p.rc, TPC_ECANCELED, "a producer blocked on a full queue is cancelled");

	cr_assert_eq(tpc_queue_push(q, &d.node), TPC_ECANCELED);
	cr_assert_eq(tpc_queue_try_push(q, &d.node), TPC_ECANCELED);
	cr_assert_eq(tpc_queue_depth(q), 2);
	cr_assert_eq(tpc_queue_pop(q, &n), 0, "queued nodes still pop after close");
	cr_assert_eq(item_of(n)->seq, 1);
	cr_assert_eq(tpc_queue_pop_many(q, 8, 1, &n), 1);
	cr_assert_eq(item_of(n)->seq, 2);
	cr_assert_eq(tpc_queue_pop(q, &n), TPC_ECANCELED, "closed and empty");
	cr_assert_eq(tpc_queue_pop_many(q, 8, 1, &n), 0);
	tpc_queue_free(&q);
}

Test(queue, eventfd_signals_only_the_empty_to_nonempty_edge)
{
	tpc_queue_t *q = NULL;
	struct item it[3];
	tpc_qnode_t *head;
	int fd;

	cr_assert_eq(tpc_queue_new(0, TPC_QUEUE_EVENTFD, &q), 0);
	fd = tpc_queue_fd(q);
	cr_assert_geq(fd, 0);
	cr_assert_not(readable(fd), "readable while empty");

	cr_assert_eq(tpc_queue_push(q, &it[0].node), 0);
	cr_assert(readable(fd), "the empty -> non-empty push must wake the loop");
	tpc_queue_ack(q);
	cr_assert_not(readable(fd), "ack must clear the eventfd");

	/* the queue is not empty: further pushes do not wake the loop again */
	cr_assert_eq(tpc_queue_push(q, &it[1].node), 0);
	cr_assert_eq(tpc_queue_try_push(q, &it[2].node), 0);
	cr_assert_not(readable(fd), "a push onto a non-empty queue woke the loop");

	/* the consumer drains everything; the next push is an edge again */
	cr_assert_eq(tpc_queue_pop_many(q, 16, 0, &head), 3);
	cr_assert_not(readable(fd));
	cr_assert_eq(tpc_queue_try_push(q, &it[0].node), 0);
	cr_assert(readable(fd), "try_push on the edge must wake the loop too");
	tpc_queue_ack(q);
	cr_assert_not(readable(fd));
	tpc_queue_ack(q); /* acking a clear eventfd is harmless */
	cr_assert_eq(tpc_queue_pop_many(q, 16, 0, &head), 1);
	tpc_queue_free(&q);
}

/* ---- multi-producer / multi-consumer stress ------------------------------------------------ */

#define NPROD   4
#define NCONS   2
#define PER_PRO 100000u

struct stress {
	tpc_queue_t *q;
	struct item *items; /* NPROD * PER_PRO */
	atomic_uchar *seen; /* times each item was popped */
};

struct prod_arg {
	struct stress *s;
	uint32_t id;
	int failures;
};

struct cons_arg {
	struct stress *s;
	int use_many;
	size_t popped;
	int out_of_order; /* one producer's nodes seen out of order by this consumer */
	uint32_t last[NPROD];
	int have[NPROD];
};

static void *producer(void *arg)
{
	struct prod_arg *p = arg;

	for (uint32_t i = 0; i < PER_PRO; i++) {
		struct item *it = &p->s->items[p->id * PER_PRO + i];
		int rc;

		it->producer = p->id;
		it->seq = i;
		/* mix both push flavours: retry try_push on EAGAIN, else block */
		if (i % 2) {
			while ((rc = tpc_queue_try_push(p->s->q, &it->node)) == TPC_EAGAIN)
				sched_yield();
		} else {
			rc = tpc_queue_push(p->s->q, &it->node);
		}
		if (rc)
			p->failures++;
	}
	return NULL;
}

static void consume(struct cons_arg *c, tpc_qnode_t *n)
{
	struct item *it = item_of(n);
	size_t idx = (size_t)it->producer * PER_PRO + it->seq;

	atomic_fetch_add(&c->s->seen[idx], 1);
	if (c->have[it->producer] && it->seq <= c->last[it->producer])
		c->out_of_order++;
	c->have[it->producer] = 1;
	c->last[it->producer] = it->seq;
	c->popped++;
}

static void *consumer(void *arg)
{
	struct cons_arg *c = arg;
	tpc_qnode_t *n, *next;

	for (;;) {
		if (c->use_many) {
			if (tpc_queue_pop_many(c->s->q, 37, 1, &n) == 0)
				break;
			for (; n; n = next) {
				next = n->next; /* read before the node may be reused */
				consume(c, n);
			}
		} else {
			if (tpc_queue_pop(c->s->q, &n) != 0)
				break;
			consume(c, n);
		}
	}
	return NULL;
}

Test(queue, stress_every_node_seen_exactly_once)
{
	struct stress s = {0};
	struct prod_arg pa[NPROD];
	struct cons_arg ca[NCONS];
	pthread_t pt[NPROD], ct[NCONS];
	size_t total = (size_t)NPROD * PER_PRO, popped = 0, missing = 0, dup = 0;

	cr_assert_eq(tpc_queue_new(64, TPC_QUEUE_EVENTFD, &s.q), 0);
	s.items = calloc(total, sizeof(*s.items));
	s.seen = calloc(total, sizeof(*s.seen));
	cr_assert(s.items && s.seen);
	for (int i = 0; i < NCONS; i++) {
		memset(&ca[i], 0, sizeof(ca[i]));
		ca[i].s = &s;
		ca[i].use_many = i % 2;
		cr_assert_eq(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
	}
	for (int i = 0; i < NPROD; i++) {
		pa[i] = (struct prod_arg){.s = &s, .id = (uint32_t)i};
		cr_assert_eq(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(pt[i], NULL);
	tpc_queue_close(s.q); /* consumers drain what is left, then see the close */
	for (int i = 0; i < NCONS; i++)
		pthread_join(ct[i], NULL);

	for (int i = 0; i < NPROD; i++)
		cr_assert_eq(pa[i].failures, 0, "producer %d had failed pushes", i);
	for (int i = 0; i < NCONS; i++) {
		cr_assert_eq(ca[i].out_of_order, 0, "consumer %d saw a producer out of order", i);
		popped += ca[i].popped;
	}
	for (size_t i = 0; i < total; i++) {
		unsigned v = atomic_load(&s.seen[i]);
		missing += v == 0;
		dup += v > 1;
	}
	cr_assert_eq(missing, 0, "%zu nodes never popped", missing);
	cr_assert_eq(dup, 0, "%zu nodes popped more than once", dup);
	cr_assert_eq(popped, total);
	cr_assert_eq(tpc_queue_depth(s.q), 0);
	free(s.items);
	free(s.seen);
	tpc_queue_free(&s.q);
}

/* ---- ordered queues ([engine] small_first_ms): lightest first, within an age bound ---- */

/* An item's weight in the ordered tests: its seq; producer is its name. */
static size_t seq_weight(const tpc_qnode_t *n)
{
	return item_of((tpc_qnode_t *)n)->seq;
}

/* Push items of the given weights, named 0, 1, 2... in that order. */
static void push_weights(tpc_queue_t *q, struct item *it, const uint32_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		it[i].producer = (uint32_t)i;
		it[i].seq = w[i];
		cr_assert_eq(tpc_queue_push(q, &it[i].node), 0);
	}
}

/* The names of a popped list, in its order, as a string of digits ("20314"). */
static void names_of(tpc_qnode_t *n, char *out, size_t cap)
{
	size_t k = 0;

	for (; n && k + 1 < cap; n = n->next)
		out[k++] = (char)('0' + item_of(n)->producer);
	out[k] = '\0';
}

Test(queue, ordered_pops_take_the_lightest_first_ties_in_arrival_order)
{
	tpc_queue_t *q = queue_of(0);
	static const uint32_t w[] = {8000, 900, 8000, 120, 900, 5};
	struct item it[6];
	char got[8] = "";
	tpc_qnode_t *n;

	/* a bound far above the test's duration: only the weights decide */
	tpc_queue_set_order(q, seq_weight, 60u * 1000000u, TPC_QUEUE_SCAN);
	push_weights(q, it, w, 6);
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(tpc_queue_pop(q, &n), 0);
		got[i] = (char)('0' + item_of(n)->producer);
	}
	cr_assert_str_eq(got, "531402", "lightest first, equal weights oldest first");
	cr_assert_eq(tpc_queue_depth(q), 0);
	tpc_queue_free(&q);
}

Test(queue, ordered_pop_serves_the_oldest_once_it_waited_the_bound)
{
	tpc_queue_t *q = queue_of(0);
	struct item big = {.producer = 0, .seq = 8000}, small[3];
	tpc_qnode_t *n;

	tpc_queue_set_order(q, seq_weight, 50u * 1000u, TPC_QUEUE_SCAN); /* 50 ms */
	cr_assert_eq(tpc_queue_push(q, &big.node), 0);
	small[0] = (struct item){.producer = 1, .seq = 10};
	cr_assert_eq(tpc_queue_push(q, &small[0].node), 0);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 1, "the large one is young: the small one goes first");
	/* small ones keep coming: once the large one has waited the bound it goes next, whatever
	 * is lighter behind it */
	sleep_ms(70);
	small[1] = (struct item){.producer = 2, .seq = 10};
	cr_assert_eq(tpc_queue_push(q, &small[1].node), 0);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 0, "waited past the bound: taken before lighter ones");
	small[2] = (struct item){.producer = 3, .seq = 5};
	cr_assert_eq(tpc_queue_push(q, &small[2].node), 0);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 3, "the old one gone, the order is by weight again");
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 2);
	tpc_queue_free(&q);
}

Test(queue, ordered_zero_bound_is_arrival_order)
{
	tpc_queue_t *q = queue_of(0);
	static const uint32_t w[] = {8000, 900, 5};
	struct item it[3];
	tpc_qnode_t *n;

	tpc_queue_set_order(q, seq_weight, 0, TPC_QUEUE_SCAN);
	push_weights(q, it, w, 3);
	for (uint32_t i = 0; i < 3; i++) {
		cr_assert_eq(tpc_queue_pop(q, &n), 0);
		cr_assert_eq(item_of(n)->producer, i);
	}
	tpc_queue_free(&q);
}

Test(queue, ordered_pop_looks_only_at_the_first_scan_nodes)
{
	tpc_queue_t *q = queue_of(0);
	static const uint32_t w[] = {900, 800, 700, 1};
	struct item it[4];
	tpc_qnode_t *n;

	tpc_queue_set_order(q, seq_weight, 60u * 1000000u, 3);
	push_weights(q, it, w, 4);
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 2, "the lightest of the first three");
	cr_assert_eq(tpc_queue_pop(q, &n), 0);
	cr_assert_eq(item_of(n)->producer, 3, "now within the first three");
	tpc_queue_free(&q);
}

Test(queue, ordered_group_that_fits_keeps_arrival_order)
{
	tpc_queue_t *q = queue_of(0);
	static const uint32_t w[] = {8000, 900, 120};
	struct item it[3], express = {.producer = 7, .seq = 1};
	char got[8];
	tpc_qnode_t *head;

	/* the writer's shape: everything waiting fits one group, so it leaves as it came, the
	 * express job pushed to the front still first (writer.c write_batch()) */
	tpc_queue_set_order(q, seq_weight, 60u * 1000000u, TPC_QUEUE_SCAN);
	push_weights(q, it, w, 3);
	cr_assert_eq(tpc_queue_push_front(q, &express.node), 0);
	cr_assert_eq(tpc_queue_pop_group(q, 256, 65536, seq_weight, 0, &head), 4);
	names_of(head, got, sizeof(got));
	cr_assert_str_eq(got, "7012");
	tpc_queue_free(&q);
}

Test(queue, ordered_group_over_its_bound_takes_the_lightest)
{
	tpc_queue_t *q = queue_of(0);
	static const uint32_t w[] = {8000, 900, 120, 3000, 50};
	struct item it[5];
	char got[8];
	tpc_qnode_t *head;

	tpc_queue_set_order(q, seq_weight, 60u * 1000000u, TPC_QUEUE_SCAN);
	push_weights(q, it, w, 5);
	/* 5,000 lines a group: 50 + 120 + 900 + 3000 fit, the 8,000 waits */
	cr_assert_eq(tpc_queue_pop_group(q, 256, 5000, seq_weight, 0, &head), 4);
	names_of(head, got, sizeof(got));
	cr_assert_str_eq(got, "4213");
	cr_assert_eq(tpc_queue_depth(q), 1);
	cr_assert_eq(tpc_queue_pop_group(q, 256, 5000, seq_weight, 0, &head), 1);
	cr_assert_eq(item_of(head)->producer, 0, "heavier than the bound: a group of its own");
	/* and by count: two a group, the two lightest */
	push_weights(q, it, w, 5);
	cr_assert_eq(tpc_queue_pop_group(q, 2, SIZE_MAX, seq_weight, 0, &head), 2);
	names_of(head, got, sizeof(got));
	cr_assert_str_eq(got, "42");
	cr_assert_eq(tpc_queue_taken(q), 7);
	tpc_queue_free(&q);
}
