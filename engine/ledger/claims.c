/* engine/ledger/claims.c - the index keys recent write transactions took (see claims.h).
 *
 * Two open-addressing tables of (key hash, last transaction id), linear probing. Only the
 * current one takes inserts; the previous one is only read, and is dropped (cleared and made
 * current) when the current one is half full, so a probe stays short and nothing is ever
 * deleted from a table in use. What the record covers is one id, the floor: every key taken by a
 * transaction after it is in one of the two tables.
 */
#include "ledger/claims.h"

#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct slot {
	uint64_t hash; /* 0: empty */
	uint64_t txn;  /* the last transaction that took a key of this hash */
};

struct table {
	struct slot *slots;
	size_t used;
	uint64_t first_txn; /* the transaction of the first insert since cleared; 0: none yet */
};

/* A held key: its hash and how many holders (0: a spent slot, kept so that probes go on past it
 * until the whole table is cleared when nothing is held). */
struct held {
	uint64_t hash;
	uint32_t count;
};

struct tpc_claims {
	struct table t[2]; /* t[cur] takes inserts, t[!cur] is the previous one */
	unsigned cur;
	size_t mask;
	uint64_t floor; /* complete for the transactions after it; UINT64_MAX: nothing yet */
	struct held held[TPC_CLAIMS_HELD_SLOTS];
	size_t held_used; /* slots with a hash, spent or not */
	size_t holds;     /* the sum of the counts */
	pthread_mutex_t lock;
};

int tpc_claims_new(size_t slots, tpc_claims_t **out)
{
	tpc_claims_t *c;

	if (!slots)
		slots = TPC_CLAIMS_SLOTS;
	if (slots < 16 || (slots & (slots - 1)))
		return TPC_EINVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return TPC_ENOMEM;
	c->mask = slots - 1;
	c->floor = UINT64_MAX;
	pthread_mutex_init(&c->lock, NULL);
	for (int i = 0; i < 2; i++)
		if (!(c->t[i].slots = calloc(slots, sizeof(struct slot)))) {
			tpc_claims_free(&c);
			return TPC_ENOMEM;
		}
	*out = c;
	return 0;
}

void tpc_claims_free(tpc_claims_t **c)
{
	if (!c || !*c)
		return;
	free((*c)->t[0].slots);
	free((*c)->t[1].slots);
	pthread_mutex_destroy(&(*c)->lock);
	free(*c);
	*c = NULL;
}

void tpc_claims_begin(tpc_claims_t *c, uint64_t last)
{
	if (c->floor == UINT64_MAX)
		c->floor = last;
}

uint64_t tpc_claims_floor(const tpc_claims_t *c)
{
	return c->floor;
}

/* The slot of @p h in @p t: its own, or the empty one where it would go. Never full: a table
 * is switched at half its slots. */
static struct slot *probe(const tpc_claims_t *c, const struct table *t, uint64_t h)
{
	size_t i = (size_t)h & c->mask;

	while (t->slots[i].hash && t->slots[i].hash != h)
		i = (i + 1) & c->mask;
	return &t->slots[i];
}

/* The current table is half full: drop the previous one and start afresh in its slots. The
 * kept table's first transaction may have taken keys into the dropped one before it, so the
 * record is complete only for the transactions after that one. */
static void switch_tables(tpc_claims_t *c)
{
	struct table *old = &c->t[!c->cur], *kept = &c->t[c->cur];

	memset(old->slots, 0, (c->mask + 1) * sizeof(struct slot));
	old->used = 0;
	old->first_txn = 0;
	c->floor = kept->first_txn;
	c->cur = !c->cur;
}

static uint64_t key_hash(const void *key, size_t len)
{
	uint64_t h = XXH3_64bits(key, len);

	return h + !h; /* 0 marks an empty slot */
}

/* The held slot of @p h, or the empty one that ends its probe. Never full: holds are refused at
 * half the slots. */
static struct held *held_probe(const tpc_claims_t *c, uint64_t h)
{
	size_t i = (size_t)h & (TPC_CLAIMS_HELD_SLOTS - 1);

	while (c->held[i].hash && c->held[i].hash != h)
		i = (i + 1) & (TPC_CLAIMS_HELD_SLOTS - 1);
	return (struct held *)&c->held[i];
}

static int is_held(const tpc_claims_t *c, uint64_t h)
{
	return c->holds && held_probe(c, h)->count;
}

int tpc_claims_peek(const tpc_claims_t *c, const void *key, size_t len, uint64_t since)
{
	uint64_t h = key_hash(key, len);
	const struct slot *s, *p;

	if (is_held(c, h))
		return TPC_CLAIMS_HELD;
	s = probe(c, &c->t[c->cur], h);
	p = probe(c, &c->t[!c->cur], h);
	return since == 0 || c->floor == UINT64_MAX || since < c->floor ||
	       (s->hash && s->txn > since) || (p->hash && p->txn > since);
}

int tpc_claims_hold(tpc_claims_t *c, const void *key, size_t len)
{
	struct held *e = held_probe(c, key_hash(key, len));

	if (!e->hash) {
		if (c->held_used >= TPC_CLAIMS_HELD_SLOTS / 2)
			return TPC_EAGAIN;
		e->hash = key_hash(key, len);
		c->held_used++;
	}
	e->count++;
	c->holds++;
	return 0;
}

void tpc_claims_release(tpc_claims_t *c, const void *key, size_t len)
{
	struct held *e = held_probe(c, key_hash(key, len));

	if (!e->count)
		return;
	e->count--;
	/* nothing held any more: every spent slot goes at once, probes stay short */
	if (--c->holds == 0) {
		memset(c->held, 0, sizeof(c->held));
		c->held_used = 0;
	}
}

size_t tpc_claims_held(const tpc_claims_t *c)
{
	return c->holds;
}

void tpc_claims_lock(tpc_claims_t *c)
{
	pthread_mutex_lock(&c->lock);
}

void tpc_claims_unlock(tpc_claims_t *c)
{
	pthread_mutex_unlock(&c->lock);
}

void tpc_claims_wait(tpc_claims_t *c, pthread_cond_t *cv)
{
	pthread_cond_wait(cv, &c->lock);
}

int tpc_claims_take(tpc_claims_t *c, const void *key, size_t len, uint64_t txn, uint64_t since)
{
	uint64_t h = key_hash(key, len);
	struct table *cur;
	struct slot *s, *p;
	int maybe;

	if (c->t[c->cur].used >= (c->mask + 1) / 2)
		switch_tables(c);
	/* the first take: every transaction from this one on is recorded (the writer takes every
	 * key it checks, and it checks every key before it writes it) */
	if (c->floor == UINT64_MAX)
		c->floor = txn - 1;
	cur = &c->t[c->cur];
	s = probe(c, cur, h);
	p = probe(c, &c->t[!c->cur], h);
	/* a snapshot the record does not reach back to, or an unknown one: read the B-tree */
	maybe = since == 0 || since < c->floor || (s->hash && s->txn > since) ||
	        (p->hash && p->txn > since);
	if (!s->hash) {
		s->hash = h;
		s->txn = txn;
		if (!cur->used++)
			cur->first_txn = txn;
	} else if (txn > s->txn) {
		s->txn = txn;
	}
	return is_held(c, h) ? TPC_CLAIMS_HELD : maybe;
}
