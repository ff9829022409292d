/* engine/refdata/snapshot.c - the reference data in memory (see snapshot.h).
 *
 * One table per kind, built by walking the kind's sub-database in key order (tpc_refdata_walk):
 * the rows in that order as their decoded structs, each row's valid_from as its key gives it,
 * the distinct ids (the key before its period) with the range of rows of each, and an
 * open-addressing index from id to its number. What one lookup reads sits together: an id's
 * entry holds its range of rows beside its bytes, and a row's valid_from its "no row" flag, so
 * a lookup misses the cache on the index slot, the entry (which holds the date of an id's only
 * row) and the row itself: three lines, where it was six arrays, each a miss on a table of
 * 167 k members (docs/benchmarks.md, "Issue 15, sixth session"). LMDB's key order is (id,
 * valid_from), so the rows of one id are contiguous and sorted by date, which is all the period
 * lookups need: the cursor code's "SET_RANGE to (id, day + 1), then PREV" is "the last row of the
 * id begun on or before the day" here, found by a binary search over that id's rows.
 *
 * Nothing is allocated after the build, and nothing in a snapshot changes once published: the
 * readers take no lock. Only the live holder's pointer is guarded, by a mutex held for a load
 * and an increment (acquire) or a store (publish). A lock-free acquire would need hazard
 * pointers or an epoch to keep the snapshot alive between reading the pointer and counting the
 * reference; one uncontended mutex per sending costs far less than that machinery is worth.
 */
#include "refdata/snapshot.h"

#include "core/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* One id: its rows are [first, end); its id_len bytes follow (struct table's ents). Most ids
 * have one row: the first row's date and flag are copied here, so that a lookup of such an id
 * reads no struct when. */
struct ent {
	uint32_t first, end;
	int32_t from0; /* when[first].from */
	uint8_t bad0;  /* when[first].bad */
};

/* One row's date, read by the binary search, with the flag read right after it. */
struct when {
	int32_t from; /* valid_from, from its key (the order LMDB keeps) */
	uint8_t bad;  /* 1: a value of no known layout, or a key of another length: no row */
};

/* One kind: rows in LMDB key order, grouped by id. */
struct table {
	enum tpc_ref_kind kind;
	size_t row_size, id_len, text_off;
	size_t ent_size; /* a struct ent and the id's bytes, rounded up to a power of two */
	uint32_t nrows, nids, cap;
	uint8_t *rows;     /* nrows structs of row_size bytes */
	struct when *when; /* one per row */
	uint8_t *ents;     /* nids entries of ent_size bytes, in key order */
	uint32_t *slots;   /* index: id number + 1, 0 = free; mask + 1 slots */
	uint32_t mask;
};

static struct ent *ent_at(const struct table *t, uint32_t x)
{
	return (struct ent *)(void *)(t->ents + (size_t)x * t->ent_size);
}

static uint8_t *ent_id(const struct table *t, uint32_t x)
{
	return t->ents + (size_t)x * t->ent_size + sizeof(struct ent);
}

struct tpc_refsnap {
	_Atomic unsigned refs;
	struct table t[TPC_REF__COUNT];
	char *text; /* every free text, NUL-terminated, one after the other */
	size_t text_len, text_cap;
	size_t bytes; /* allocated, for tpc_refsnap_bytes() */
	uint64_t rows;
};

struct tpc_refsnap_live {
	pthread_mutex_t lock; /* guards cur only */
	tpc_refsnap_t *cur;   /* one reference held here */
};

/* ---- building ---------------------------------------------------------------------------- */

static void *zalloc(tpc_refsnap_t *s, size_t n, size_t size)
{
	s->bytes += n * size;
	return calloc(n ? n : 1, size);
}

/* A text into the pool; @return its offset + 1 (0 never names a text), 0 when out of memory.
 * Offsets, not pointers: the pool moves while it grows, and the rows are pointed at it once
 * the whole snapshot is built (fix_texts()). */
static uintptr_t pool_add(tpc_refsnap_t *s, const char *text)
{
	size_t n = strlen(text) + 1;

	if (s->text_len + n > s->text_cap) {
		size_t cap = s->text_cap ? s->text_cap * 2 : 1u << 16;
		char *p;

		while (cap < s->text_len + n)
			cap *= 2;
		if (!(p = realloc(s->text, cap)))
			return 0;
		s->text = p;
		s->text_cap = cap;
	}
	memcpy(s->text + s->text_len, text, n);
	s->text_len += n;
	return (uintptr_t)(s->text_len - n) + 1;
}

struct walk {
	tpc_refsnap_t *s;
	struct table *t;
};

/* One row of the walk, in key order. */
static int add_row(void *arg, const MDB_val *key, void *row)
{
	struct walk *w = arg;
	struct table *t = w->t;
	const uint8_t *k = key->mv_data;
	uint32_t i = t->nrows, from = 0;
	int period = t->kind != TPC_REF_PROVIDERS && t->kind != TPC_REF_FEDASIL_EXCLUSIONS;

	/* shorter than an id: no lookup can find it (they all match a whole id) */
	if (key->mv_size < t->id_len)
		return 0;
	if (i == t->cap)
		return TPC_EDB; /* more rows than mdb_stat counted in this very transaction */
	if (!t->nids || memcmp(ent_id(t, t->nids - 1), k, t->id_len) != 0) {
		memcpy(ent_id(t, t->nids), k, t->id_len);
		ent_at(t, t->nids++)->first = i;
	}
	ent_at(t, t->nids - 1)->end = i + 1;
	for (size_t b = 0; period && b < 4 && t->id_len + b < key->mv_size; b++)
		from = from << 8 | k[t->id_len + b];
	t->when[i].from = (int32_t)(from ^ 0x80000000u);
	/* the cursor lookups of a period kind take a key of another length for no row (only
	 * mediprima's keys go on, with the decision) */
	t->when[i].bad =
	    !row || (period && t->kind != TPC_REF_MEDIPRIMA && key->mv_size != t->id_len + 4);
	if (ent_at(t, t->nids - 1)->first == i) {
		ent_at(t, t->nids - 1)->from0 = t->when[i].from;
		ent_at(t, t->nids - 1)->bad0 = t->when[i].bad;
	}
	if (!t->when[i].bad) {
		uint8_t *r = t->rows + (size_t)i * t->row_size;

		memcpy(r, row, t->row_size);
		if (t->text_off) {
			const char *text;
			uintptr_t off;

			memcpy(&text, r + t->text_off, sizeof(text));
			if (!(off = pool_add(w->s, text)))
				return TPC_ENOMEM;
			memcpy(r + t->text_off, &off, sizeof(off));
		}
	}
	t->nrows++;
	return 0;
}

/* The index of ids: at least twice as many slots as ids, so a probe always ends on a free
 * slot. */
static int index_ids(tpc_refsnap_t *s, struct table *t)
{
	uint32_t cap = 16;

	while (cap < t->nids * 2)
		cap <<= 1;
	if (!(t->slots = zalloc(s, cap, sizeof(*t->slots))))
		return TPC_ENOMEM;
	t->mask = cap - 1;
	for (uint32_t n = 0; n < t->nids; n++) {
		uint32_t i = (uint32_t)XXH3_64bits(ent_id(t, n), t->id_len);

		for (i &= t->mask; t->slots[i]; i = (i + 1) & t->mask)
			;
		t->slots[i] = n + 1;
	}
	return 0;
}

static int build_kind(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, tpc_refsnap_t *s,
                      enum tpc_ref_kind kind)
{
	struct table *t = &s->t[kind];
	struct walk w = {s, t};
	uint64_t n;
	int rc;

	t->kind = kind;
	t->row_size = tpc_refdata_row_size(kind);
	t->id_len = tpc_refdata_id_len(kind);
	t->text_off = tpc_refdata_text_offset(kind);
	/* a power of two, so no entry straddles two cache lines */
	for (t->ent_size = 8; t->ent_size < sizeof(struct ent) + t->id_len;)
		t->ent_size *= 2;
	if ((rc = tpc_refdata_count(txn, dbs, kind, &n)))
		return tpc_err_from_mdb(rc);
	if (n >= UINT32_MAX / 2)
		return TPC_E2BIG;
	t->cap = (uint32_t)n;
	t->rows = zalloc(s, n, t->row_size);
	t->when = zalloc(s, n, sizeof(*t->when));
	t->ents = zalloc(s, n, t->ent_size);
	if (!t->rows || !t->when || !t->ents)
		return TPC_ENOMEM;
	rc = tpc_refdata_walk(txn, dbs, kind, add_row, &w);
	if (rc)
		return rc < 0 ? rc : tpc_err_from_mdb(rc);
	s->rows += t->nrows;
	return index_ids(s, t);
}

/* The texts' offsets become pointers into the pool, now that it no longer moves. */
static void fix_texts(tpc_refsnap_t *s)
{
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		struct table *t = &s->t[k];

		for (uint32_t i = 0; t->text_off && i < t->nrows; i++) {
			uint8_t *r = t->rows + (size_t)i * t->row_size;
			uintptr_t off;
			const char *text;

			if (t->when[i].bad)
				continue;
			memcpy(&off, r + t->text_off, sizeof(off));
			text = s->text + (off - 1);
			memcpy(r + t->text_off, &text, sizeof(text));
		}
	}
}

static void snap_free(tpc_refsnap_t *s)
{
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		struct table *t = &s->t[k];

		free(t->rows);
		free(t->when);
		free(t->ents);
		free(t->slots);
	}
	free(s->text);
	free(s);
}

int tpc_refsnap_build(MDB_txn *txn, const tpc_refdata_dbs_t *dbs, tpc_refsnap_t **out)
{
	tpc_refsnap_t *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (!s)
		return TPC_ENOMEM;
	atomic_init(&s->refs, 1);
	for (int k = 0; k < TPC_REF__COUNT && !rc; k++)
		rc = build_kind(txn, dbs, s, (enum tpc_ref_kind)k);
	if (rc) {
		snap_free(s);
		return rc;
	}
	fix_texts(s);
	s->bytes += s->text_cap + sizeof(*s);
	*out = s;
	return 0;
}

void tpc_refsnap_release(tpc_refsnap_t **sp)
{
	if (!sp || !*sp)
		return;
	/* acq_rel: the last one to let go sees every other holder's reads finished */
	if (atomic_fetch_sub_explicit(&(*sp)->refs, 1, memory_order_acq_rel) == 1)
		snap_free(*sp);
	*sp = NULL;
}

uint64_t tpc_refsnap_rows(const tpc_refsnap_t *s)
{
	return s ? s->rows : 0;
}

size_t tpc_refsnap_bytes(const tpc_refsnap_t *s)
{
	return s ? s->bytes : 0;
}

/* ---- the snapshot in force ---------------------------------------------------------------- */

int tpc_refsnap_live_new(tpc_refsnap_live_t **out)
{
	tpc_refsnap_live_t *l = calloc(1, sizeof(*l));

	if (!l)
		return TPC_ENOMEM;
	if (pthread_mutex_init(&l->lock, NULL)) {
		free(l);
		return TPC_ENOMEM;
	}
	*out = l;
	return 0;
}

void tpc_refsnap_live_free(tpc_refsnap_live_t **lp)
{
	if (!lp || !*lp)
		return;
	tpc_refsnap_release(&(*lp)->cur);
	pthread_mutex_destroy(&(*lp)->lock);
	free(*lp);
	*lp = NULL;
}

void tpc_refsnap_live_publish(tpc_refsnap_live_t *l, tpc_refsnap_t **s)
{
	tpc_refsnap_t *old;

	pthread_mutex_lock(&l->lock);
	old = l->cur;
	l->cur = *s;
	pthread_mutex_unlock(&l->lock);
	*s = NULL;
	/* outside the lock: freeing a large snapshot must not hold up the workers' acquires */
	tpc_refsnap_release(&old);
}

tpc_refsnap_t *tpc_refsnap_live_acquire(tpc_refsnap_live_t *l)
{
	tpc_refsnap_t *s;

	pthread_mutex_lock(&l->lock);
	s = l->cur;
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&l->lock);
	return s;
}

/* ---- lookups ------------------------------------------------------------------------------- */

/* The number of @p id in @p t. @return 1 when found. */
static int find_id(const struct table *t, const void *id, uint32_t *n)
{
	uint32_t i;

	if (!t->nids)
		return 0;
	for (i = (uint32_t)XXH3_64bits(id, t->id_len) & t->mask; t->slots[i];
	     i = (i + 1) & t->mask) {
		uint32_t x = t->slots[i] - 1;

		if (memcmp(ent_id(t, x), id, t->id_len) == 0) {
			*n = x;
			return 1;
		}
	}
	return 0;
}

/* The last row of @p id begun on or before @p day (what the cursor code reaches with
 * SET_RANGE (id, day + 1) then PREV), if it is a row; with @p covering, only if its period
 * also covers @p day. */
static const void *period_row(const struct table *t, const void *id, int32_t day, int covering)
{
	const struct ent *e;
	uint32_t x, lo, hi;
	const uint8_t *row;
	int32_t from, to;

	if (!find_id(t, id, &x))
		return NULL;
	e = ent_at(t, x);
	/* one row: its date and flag are in the entry */
	if (e->end - e->first == 1) {
		if (e->from0 > day || e->bad0)
			return NULL;
		lo = e->end;
	} else {
		for (lo = e->first, hi = e->end; lo < hi;) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (t->when[mid].from <= day)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == e->first || t->when[lo - 1].bad)
			return NULL;
	}
	row = t->rows + (size_t)(lo - 1) * t->row_size;
	tpc_refdata_row_period(t->kind, row, &from, &to);
	if (day < from || (covering && day > to))
		return NULL;
	return row;
}

static int found(const void *row, const void **out)
{
	if (!row)
		return MDB_NOTFOUND;
	*out = row;
	return 0;
}

int tpc_refsnap_provider(const tpc_refsnap_t *s, const char *nihii, const tpc_ref_provider_t **out)
{
	const struct table *t = &s->t[TPC_REF_PROVIDERS];
	uint32_t x;

	if (!find_id(t, nihii, &x) || ent_at(t, x)->bad0)
		return MDB_NOTFOUND;
	*out = (const tpc_ref_provider_t *)(t->rows + (size_t)ent_at(t, x)->first * t->row_size);
	return 0;
}

int tpc_refsnap_member_on(const tpc_refsnap_t *s, const char *niss, int32_t day,
                          const tpc_ref_member_t **out)
{
	return found(period_row(&s->t[TPC_REF_MEMBERS], niss, day, 1), (const void **)out);
}

int tpc_refsnap_tariff_on(const tpc_refsnap_t *s, const char *code, int32_t day,
                          const tpc_ref_tariff_t **out)
{
	return found(period_row(&s->t[TPC_REF_TARIFFS], code, day, 1), (const void **)out);
}

int tpc_refsnap_agreement_on(const tpc_refsnap_t *s, const char *niss, const char *code,
                             int32_t day, const tpc_ref_agreement_t **out)
{
	char id[17];

	memcpy(id, niss, 11);
	memcpy(id + 11, code, 6);
	return found(period_row(&s->t[TPC_REF_AGREEMENTS], id, day, 1), (const void **)out);
}

int tpc_refsnap_feed_on(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const char *niss,
                        int32_t day, const void **out)
{
	return found(period_row(&s->t[kind], niss, day, 1), out);
}

int tpc_refsnap_feed_last(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const char *niss,
                          int32_t day, const void **out)
{
	return found(period_row(&s->t[kind], niss, day, 0), out);
}

int tpc_refsnap_mediprima_on(const tpc_refsnap_t *s, const char *niss, int32_t day, unsigned care,
                             const tpc_ref_mediprima_t **out)
{
	const struct table *t = &s->t[TPC_REF_MEDIPRIMA];
	const tpc_ref_mediprima_t *best = NULL;
	uint32_t x;

	if (!find_id(t, niss, &x))
		return MDB_NOTFOUND;
	/* every decision of the person in key order (valid_from, then the decision id): the
	 * latest that covers the day and the care, as the cursor walk keeps */
	for (uint32_t i = ent_at(t, x)->first; i < ent_at(t, x)->end; i++) {
		const tpc_ref_mediprima_t *r =
		    (const tpc_ref_mediprima_t *)(t->rows + (size_t)i * t->row_size);

		if (t->when[i].bad)
			continue;
		if (r->valid_from > day)
			break;
		if (r->valid_to >= day && (r->care & care))
			best = r;
	}
	return found(best, (const void **)out);
}

int tpc_refsnap_excluded(const tpc_refsnap_t *s, const char *code)
{
	uint32_t x;

	return find_id(&s->t[TPC_REF_FEDASIL_EXCLUSIONS], code, &x);
}

int tpc_refsnap_exists(const tpc_refsnap_t *s, enum tpc_ref_kind kind, const void *id)
{
	uint32_t x;

	return find_id(&s->t[kind], id, &x);
}
