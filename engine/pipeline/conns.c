/* engine/pipeline/conns.c - requests outstanding per connection (see conns.h).
 *
 * DESIGN: a chained hash table of the routing identities with something outstanding, as
 * security/inflight.c keeps senders, with one difference: the count is given back on another
 * thread (ZeroMQ's free function), so it is atomic and entries are not freed when their count
 * reaches zero but swept by the loop thread later. An entry at zero is found again and reused
 * by the next take of the same connection; the sweep frees the others on the idle tick, and
 * take() sweeps when the table has grown past SWEEP_AT entries, so even a stream of short
 * connections keeps it small. A release's decrement is its last touch of the entry, so an
 * entry seen at zero by the loop thread has no release still running on it.
 */
#include "pipeline/conns.h"

#include "core/error.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS  1024 /* power of two */
#define SWEEP_AT 4096 /* entries before take() sweeps the ones at zero */

struct tpc_conn {
	struct tpc_conn *next;
	_Atomic uint32_t count;
	uint16_t idlen;
	uint8_t id[]; /* the routing identity, idlen bytes */
};

struct tpc_conns {
	uint32_t limit;
	size_t nentries;
	struct tpc_conn *buckets[BUCKETS];
};

/* FNV-1a over the identity's bytes: ROUTER identities are a zero byte and a 32-bit counter, or
 * what a peer set with ZMQ_ROUTING_ID; either way a few bytes. */
static size_t bucket(const uint8_t *id, size_t idlen)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < idlen; i++)
		h = (h ^ id[i]) * 16777619u;
	return h & (BUCKETS - 1);
}

int tpc_conns_new(uint32_t limit, tpc_conns_t **out)
{
	tpc_conns_t *c = calloc(1, sizeof(*c));

	if (!c)
		return TPC_ENOMEM;
	c->limit = limit;
	*out = c;
	return 0;
}

void tpc_conns_free(tpc_conns_t **cp)
{
	if (!cp || !*cp)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct tpc_conn *e = (*cp)->buckets[b], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(*cp);
	*cp = NULL;
}

static struct tpc_conn *find(const tpc_conns_t *c, const uint8_t *id, size_t idlen)
{
	struct tpc_conn *e = c->buckets[bucket(id, idlen)];

	while (e && (e->idlen != idlen || memcmp(e->id, id, idlen) != 0))
		e = e->next;
	return e;
}

int tpc_conns_take(tpc_conns_t *c, const uint8_t *id, size_t idlen, tpc_conn_t **out)
{
	struct tpc_conn *e;
	size_t b;

	*out = NULL;
	if (c->limit == 0)
		return 0;
	e = find(c, id, idlen);
	if (e) {
		/* the loop thread is the only one to add, so a count read below the limit cannot
		 * be overtaken before the increment; releases only lower it */
		if (atomic_load(&e->count) >= c->limit)
			return TPC_EAGAIN;
		atomic_fetch_add(&e->count, 1);
		*out = e;
		return 0;
	}
	if (c->nentries >= SWEEP_AT)
		tpc_conns_sweep(c);
	e = malloc(sizeof(*e) + idlen);
	if (!e)
		return TPC_ENOMEM;
	atomic_init(&e->count, 1);
	e->idlen = (uint16_t)idlen;
	memcpy(e->id, id, idlen);
	b = bucket(id, idlen);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->nentries++;
	*out = e;
	return 0;
}

void tpc_conns_release(tpc_conn_t *conn)
{
	if (conn)
		atomic_fetch_sub(&conn->count, 1);
}

/* ZeroMQ's free function: the answer's bytes are gone (written, dropped or closed). */
static void msg_freed(void *data, void *hint)
{
	free(data);
	tpc_conns_release(hint);
}

int tpc_conns_msg(zmq_msg_t *m, const void *data, size_t len, tpc_conn_t *conn)
{
	void *copy;

	if (!conn) {
		if (zmq_msg_init_size(m, len) != 0)
			return TPC_ENOMEM;
		if (len)
			memcpy(zmq_msg_data(m), data, len);
		return 0;
	}
	/* our own copy, so that its release is ours to see */
	copy = malloc(len ? len : 1);
	if (!copy)
		return TPC_ENOMEM;
	if (len)
		memcpy(copy, data, len);
	if (zmq_msg_init_data(m, copy, len, msg_freed, conn) != 0) {
		free(copy);
		return TPC_ENOMEM;
	}
	return 0;
}

uint32_t tpc_conns_outstanding(const tpc_conns_t *c, const uint8_t *id, size_t idlen)
{
	const struct tpc_conn *e = find(c, id, idlen);

	return e ? atomic_load(&e->count) : 0;
}

size_t tpc_conns_sweep(tpc_conns_t *c)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		struct tpc_conn **at = &c->buckets[b];

		while (*at) {
			struct tpc_conn *e = *at;

			if (atomic_load(&e->count) == 0) {
				*at = e->next;
				free(e);
				c->nentries--;
			} else {
				at = &e->next;
			}
		}
	}
	return c->nentries;
}
