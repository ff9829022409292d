/* engine/security/inflight.c - requests in flight per sender (see inflight.h).
 *
 * DESIGN: a chained hash table owned by the loop thread. An entry is made when a sender's count
 * goes from 0 to 1 and freed when it goes back to 0, so the table never holds more entries
 * than there are requests in flight (bounded by the job queue and the writer's queue), even in
 * plain mode where any envelope sender id may arrive. One malloc per sender that becomes busy,
 * none per request after that.
 */
#include "security/inflight.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* Power of two, so a mask replaces the modulo. Fixed: entries only exist for busy senders, so
 * chains stay short without ever rehashing. */
#define BUCKETS 1024

struct entry {
	struct entry *next;
	uint32_t count;
	char sender[]; /* NUL-terminated */
};

struct tpc_inflight {
	uint32_t limit;
	size_t nentries;
	struct entry *buckets[BUCKETS];
};

/* FNV-1a: a few lines, no table, and good enough spread for short ids. Plain mode lets any
 * local process pick its sender id, but that mode is local-only by construction (config.c). */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (BUCKETS - 1);
}

int tpc_inflight_new(uint32_t limit, tpc_inflight_t **out)
{
	tpc_inflight_t *t = calloc(1, sizeof(*t));

	if (!t)
		return TPC_ENOMEM;
	t->limit = limit;
	*out = t;
	return 0;
}

void tpc_inflight_free(tpc_inflight_t **tp)
{
	if (!tp || !*tp)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry *e = (*tp)->buckets[b], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(*tp);
	*tp = NULL;
}

/* The link that points at the entry, or the NULL link at the end of its chain: take() inserts
 * and release() unlinks through it without walking the chain a second time. */
static struct entry **find(const tpc_inflight_t *t, const char *sender)
{
	struct entry *const *at = &t->buckets[hash(sender)];

	while (*at && strcmp((*at)->sender, sender) != 0)
		at = &(*at)->next;
	return (struct entry **)at;
}

int tpc_inflight_take(tpc_inflight_t *t, const char *sender)
{
	struct entry **at, *e;
	size_t n;

	/* no bound: count nothing, so no entry is made (0 tells the caller there is nothing to
	 * release) */
	if (t->limit == 0)
		return 0;
	at = find(t, sender);
	if (*at) {
		if ((*at)->count >= t->limit)
			return TPC_EAGAIN;
		(*at)->count++;
		return 1;
	}
	n = strlen(sender);
	e = malloc(sizeof(*e) + n + 1);
	if (!e)
		return TPC_ENOMEM;
	e->next = NULL;
	e->count = 1;
	memcpy(e->sender, sender, n + 1);
	*at = e;
	t->nentries++;
	return 1;
}

void tpc_inflight_release(tpc_inflight_t *t, const char *sender)
{
	struct entry **at = find(t, sender), *e = *at;

	/* a release without its take is a bookkeeping bug in the caller: report it, keep serving */
	if (TPC_FAILS(e && e->count > 0))
		return;
	if (--e->count == 0) {
		*at = e->next;
		free(e);
		t->nentries--;
	}
}

uint32_t tpc_inflight_count(const tpc_inflight_t *t, const char *sender)
{
	struct entry *const *at = find(t, sender);

	return *at ? (*at)->count : 0;
}

size_t tpc_inflight_senders(const tpc_inflight_t *t)
{
	return t->nentries;
}
