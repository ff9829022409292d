/* engine/ledger/attest.c - attestations answered from the journal (see attest.h).
 *
 * A record's body is the job as the writer takes it: fixed fields, then sections each starting
 * on 8 bytes (so that a body read back from the file, whose blocks start on 4 KiB, can be read
 * where it lies), the invoices and lines as the engine holds them with their strings after them.
 * The layout is the running engine's: the body names the sizes of both structures and a record
 * of another layout is refused (TPC_EDAMAGED), which only a crash followed by an upgrade could
 * meet (a stop folds everything: pipeline/writer.c).
 */
#include "ledger/attest.h"

#include "core/codes.h"
#include "core/crashpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "ledger/ledger.h"
#include "store/txn.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAGIC 0x31425441u /* "ATB1" */
#define NONE       UINT32_MAX  /* a string that is NULL */
#define ALIGN8(n)  (((n) + 7u) & ~(size_t)7u)

struct fixed {
	uint32_t magic;
	uint16_t line_size, invoice_size; /* the layout of the raw structures below */
	uint64_t seq, committed_ms, received_ms, validated_ms, snapshot_txn, body_sum;
	uint32_t sender_len, key_len, format_len, result_len;
	uint32_t native_len, stored_len, lines_len, payload_len;
	uint32_t ninvoices, nlines;
	uint8_t hash_len, payee, id_len, summed; /* summed: 0 none, 1 stored, 2 result */
	uint8_t native_set, keep_payload, marks_set, pad;
	char native_type[16];
	uint8_t hash[TPC_HASH_LEN];
};

/* One record written and not folded yet: its body and the keys it holds ([u16 len][bytes]...). */
struct rec {
	uint64_t jseq;
	uint8_t *body;
	size_t len;
	uint8_t *keys;
	size_t keys_len;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

struct tpc_attest {
	tpc_journal_t *file;
	tpc_claims_t *claims; /* borrowed: its lock is ours */
	/* under the claims' lock: */
	int on;            /* 0 until started, and after a failed write */
	uint64_t next_seq; /* shared with the writer's groups */
	uint64_t next_jseq;
	unsigned in_flight;
	pthread_cond_t idle; /* in_flight fell to 0 */
	struct recs pending, grabbed;
	tpc_journal_entry_t *gview; /* the grabbed records as tpc_attest_grabbed() lends them */
	int token_queued;
	tpc_job_t token;
	/* the startup's records (bodies in the journal's image) */
	tpc_journal_scan_t scan;
};

/* ---- the body ------------------------------------------------------------------------------ */

struct cur {
	uint8_t *p; /* NULL: only measure */
	size_t off;
};

static void put(struct cur *c, const void *src, size_t n)
{
	if (c->p && n)
		memcpy(c->p + c->off, src, n);
	c->off = ALIGN8(c->off + n);
}

/* A string with its length before it (NONE: NULL) and its NUL after it. */
static void put_str(struct cur *c, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : NONE;

	if (c->p)
		memcpy(c->p + c->off, &n, 4);
	c->off += 4;
	if (s)
		put(c, s, (size_t)n + 1);
	else
		c->off = ALIGN8(c->off);
}

static int journal_takes(const tpc_job_t *job)
{
	const tpc_sending_t *s = &job->sending;

	/* a credit note deletes keys and lowers counts (not taken in the claims: ledger.c); a
	 * payload kept raw lives in the job's message; a lines block encoded by the writer
	 * would be the writer's work */
	if (job->type != TPC_JOB_SUBMIT || job->status != TPC_JOB_CLEARED || !job->express ||
	    (s->nlines && !job->lines_block) || (job->keep_payload && !job->payload_stored) ||
	    !job->snapshot_txn)
		return 0;
	for (uint32_t i = 0; i < s->ninvoices; i++)
		if (s->invoices[i].invoicing == TPC_INVOICING_CREDIT_NOTE)
			return 0;
	return 1;
}

static void encode(const tpc_job_t *job, const struct fixed *f, struct cur *c)
{
	const tpc_sending_t *s = &job->sending;

	put(c, f, sizeof(*f));
	put(c, job->sender, f->sender_len + 1);
	put(c, job->key, f->key_len + 1);
	put(c, job->adapter ? job->adapter->name : "", f->format_len + 1);
	put(c, job->result, job->result_len);
	put(c, job->native.ptr, f->native_len);
	put(c, job->stored, f->stored_len);
	put(c, job->lines_block, f->lines_len);
	put(c, job->payload_stored, f->payload_len);
	put(c, s->invoices, sizeof(tpc_invoice_t) * s->ninvoices);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		put(c, inv->patient.ptr, inv->patient.len);
		put(c, inv->provider.ptr, inv->provider.len);
		put(c, inv->number.ptr, inv->number.len);
		put(c, inv->previous.ptr, inv->previous.len);
	}
	put(c, s->lines, sizeof(tpc_line_t) * s->nlines);
	for (uint32_t i = 0; i < s->nlines; i++) {
		put_str(c, s->lines[i].scheme_ref);
		put_str(c, s->lines[i].scheme_org);
	}
	if (f->marks_set) {
		for (uint32_t i = 0; i < s->nlines; i++)
			put(c, job->marks.dedup[i], f->id_len);
		put(c, job->marks.max_per_day, 4u * s->nlines);
	}
}

int tpc_attest_encode(const tpc_job_t *job, uint64_t seq, uint64_t committed_ms, uint8_t **out,
                      size_t *len)
{
	struct cur c = {NULL, 0};
	struct fixed f;

	if (!journal_takes(job))
		return 1;
	memset(&f, 0, sizeof(f));
	f.magic = BODY_MAGIC;
	f.line_size = sizeof(tpc_line_t);
	f.invoice_size = sizeof(tpc_invoice_t);
	f.seq = seq;
	f.committed_ms = committed_ms;
	f.received_ms = job->received_ms;
	f.validated_ms = job->validated_ms;
	f.snapshot_txn = job->snapshot_txn;
	f.body_sum = job->body_sum;
	f.sender_len = (uint32_t)strlen(job->sender);
	f.key_len = (uint32_t)strlen(job->key);
	f.format_len = job->adapter ? (uint32_t)strlen(job->adapter->name) : 0;
	f.result_len = (uint32_t)job->result_len;
	f.native_set = job->native.ptr != NULL;
	f.native_len = f.native_set ? (uint32_t)job->native.len : 0;
	memcpy(f.native_type, job->native.type, sizeof(f.native_type));
	f.stored_len = job->stored ? (uint32_t)job->stored_len : 0;
	f.lines_len = job->lines_block ? (uint32_t)job->lines_block_len : 0;
	f.keep_payload = job->keep_payload;
	f.payload_len = job->keep_payload ? (uint32_t)job->payload_stored_len : 0;
	f.ninvoices = job->sending.ninvoices;
	f.nlines = job->sending.nlines;
	f.hash_len = job->hash_len;
	f.payee = job->sending.payee;
	f.marks_set = job->marks.dedup != NULL;
	f.id_len = job->marks.id_len;
	f.summed = !job->body_summed                 ? 0
	           : job->body_summed == job->stored ? 1
	           : job->body_summed == job->result ? 2
	                                             : 0;
	memcpy(f.hash, job->hash, TPC_HASH_LEN);
	encode(job, &f, &c);
	*len = c.off;
	if (!(c.p = calloc(1, c.off)))
		return TPC_ENOMEM;
	c.off = 0;
	encode(job, &f, &c);
	*out = c.p;
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static const void *get(struct rd *r, size_t n)
{
	const void *at = r->p + r->off;

	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	r->off = ALIGN8(r->off + n) < r->len ? ALIGN8(r->off + n) : r->len;
	return at;
}

static const char *get_str(struct rd *r)
{
	const char *s;
	uint32_t n;

	/* put_str(): the length on 8 bytes' boundary, the string right after it */
	if (r->bad || r->len - r->off < 4) {
		r->bad = 1;
		return NULL;
	}
	memcpy(&n, r->p + r->off, 4);
	r->off += 4;
	if (n == NONE) {
		r->off = ALIGN8(r->off) < r->len ? ALIGN8(r->off) : r->len;
		return NULL;
	}
	s = get(r, (size_t)n + 1);
	if (s && s[n])
		r->bad = 1;
	return r->bad ? NULL : s;
}

/* The views of an invoice point at the strings after it, read in the order encode() wrote them. */
static void view_at(struct rd *r, tpc_view_t *v)
{
	v->ptr = v->len ? get(r, v->len) : NULL;
}

static int rebuild_sending(struct rd *r, const struct fixed *f, tpc_arena_t *arena, tpc_job_t *job)
{
	tpc_sending_t *s = &job->sending;
	const void *raw;

	s->ninvoices = f->ninvoices;
	s->nlines = f->nlines;
	s->payee = f->payee;
	raw = get(r, sizeof(tpc_invoice_t) * f->ninvoices);
	s->invoices = tpc_arena_alloc(arena, sizeof(tpc_invoice_t) * (f->ninvoices + 1), 8);
	if (!raw || !s->invoices)
		return r->bad ? TPC_EDAMAGED : TPC_ENOMEM;
	memcpy(s->invoices, raw, sizeof(tpc_invoice_t) * f->ninvoices);
	for (uint32_t i = 0; i < f->ninvoices; i++) {
		tpc_invoice_t *inv = &s->invoices[i];

		view_at(r, &inv->patient);
		view_at(r, &inv->provider);
		view_at(r, &inv->number);
		view_at(r, &inv->previous);
		if (inv->first_line > f->nlines || inv->nlines > f->nlines - inv->first_line)
			r->bad = 1;
	}
	raw = get(r, sizeof(tpc_line_t) * f->nlines);
	s->lines = tpc_arena_alloc(arena, sizeof(tpc_line_t) * (f->nlines + 1), 8);
	if (!raw || !s->lines)
		return r->bad ? TPC_EDAMAGED : TPC_ENOMEM;
	memcpy(s->lines, raw, sizeof(tpc_line_t) * f->nlines);
	for (uint32_t i = 0; i < f->nlines; i++) {
		tpc_line_t *ln = &s->lines[i];

		/* the writer reads none of the payload's views: the lines block holds them */
		memset(&ln->performer, 0, sizeof(ln->performer));
		memset(&ln->reference, 0, sizeof(ln->reference));
		memset(&ln->commitment, 0, sizeof(ln->commitment));
		ln->scheme_ref = get_str(r);
		ln->scheme_org = get_str(r);
	}
	return r->bad ? TPC_EDAMAGED : 0;
}

static int rebuild_marks(struct rd *r, const struct fixed *f, tpc_arena_t *arena, tpc_job_t *job)
{
	const uint8_t *ids;
	const void *max;

	if (!f->marks_set)
		return 0;
	if (f->id_len > TPC_TARIFF_ID_LEN)
		return TPC_EDAMAGED;
	ids = get(r, (size_t)f->id_len * f->nlines);
	max = get(r, 4u * f->nlines);
	job->marks.dedup = tpc_arena_alloc(arena, (size_t)TPC_TARIFF_ID_LEN * (f->nlines + 1), 8);
	job->marks.max_per_day = tpc_arena_alloc(arena, 4u * (f->nlines + 1), 8);
	if (r->bad)
		return TPC_EDAMAGED;
	if (!job->marks.dedup || !job->marks.max_per_day)
		return TPC_ENOMEM;
	for (uint32_t i = 0; i < f->nlines; i++)
		memcpy(job->marks.dedup[i], ids + (size_t)i * f->id_len, f->id_len);
	memcpy(job->marks.max_per_day, max, 4u * f->nlines);
	job->marks.nlines = f->nlines;
	job->marks.id_len = f->id_len;
	return 0;
}

int tpc_attest_rebuild(const uint8_t *body, size_t len, tpc_arena_t *arena, tpc_adapter_t *fmt,
                       tpc_job_t *job, uint64_t *committed_ms)
{
	struct rd r = {body, len, 0, 0};
	const struct fixed *f = get(&r, sizeof(*f));
	const char *sender, *key, *format;
	int rc;

	if (!f || f->magic != BODY_MAGIC || f->line_size != sizeof(tpc_line_t) ||
	    f->invoice_size != sizeof(tpc_invoice_t) || f->sender_len >= TPC_SENDER_MAX ||
	    f->key_len >= TPC_KEY_MAX || f->hash_len > TPC_HASH_LEN)
		return TPC_EDAMAGED;
	sender = get(&r, f->sender_len + 1);
	key = get(&r, f->key_len + 1);
	format = get(&r, f->format_len + 1);
	job->result = (uint8_t *)get(&r, f->result_len);
	job->native.ptr = f->native_set ? get(&r, f->native_len) : NULL;
	job->stored = f->stored_len ? get(&r, f->stored_len) : NULL;
	job->lines_block = f->lines_len ? get(&r, f->lines_len) : NULL;
	job->payload_stored = f->payload_len ? get(&r, f->payload_len) : NULL;
	if (r.bad || sender[f->sender_len] || key[f->key_len] || format[f->format_len])
		return TPC_EDAMAGED;
	job->type = TPC_JOB_SUBMIT;
	job->status = TPC_JOB_CLEARED;
	job->express = job->journalled = 1;
	job->arena = arena;
	memcpy(job->sender, sender, f->sender_len + 1);
	memcpy(job->key, key, f->key_len + 1);
	fmt->name = format;
	job->adapter = fmt;
	memcpy(job->hash, f->hash, TPC_HASH_LEN);
	job->hash_len = f->hash_len;
	job->sequence = f->seq;
	*committed_ms = f->committed_ms;
	job->received_ms = f->received_ms;
	job->validated_ms = f->validated_ms;
	job->snapshot_txn = f->snapshot_txn;
	job->result_len = f->result_len;
	job->native.len = f->native_len;
	memcpy(job->native.type, f->native_type, sizeof(job->native.type));
	job->stored_len = f->stored_len;
	job->lines_block_len = f->lines_len;
	job->keep_payload = f->keep_payload;
	job->payload_stored_len = f->payload_len;
	job->body_sum = f->body_sum;
	job->body_summed = f->summed == 1 ? job->stored : f->summed == 2 ? job->result : NULL;
	if ((rc = rebuild_sending(&r, f, arena, job)) || (rc = rebuild_marks(&r, f, arena, job)))
		return rc;
	return 0;
}

/* ---- the keys an attestation takes (ledger.c's check pass takes the same) ------------------ */

static int add_key(uint8_t **buf, size_t *len, size_t *cap, const void *k, size_t n)
{
	uint16_t n16 = (uint16_t)n;

	if (*len + 2 + n > *cap) {
		size_t c = *cap ? 2 * *cap + n : 256 + n;
		uint8_t *b = realloc(*buf, c);

		if (!b)
			return TPC_ENOMEM;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, &n16, 2);
	memcpy(*buf + *len + 2, k, n);
	*len += 2 + n;
	return 0;
}

/* (sender, key), then per accepted invoice its number and per accepted line its identity and,
 * under a daily maximum, its units key. @return 0 or TPC_ENOMEM (*keys freed). */
static int job_keys(const tpc_job_t *job, uint8_t **keys, size_t *len)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t kb[TPC_SENDER_MAX + TPC_KEY_MAX + 2], key[160];
	MDB_val k = tpc_key_names(kb, sizeof(kb), job->sender, job->key);
	size_t cap = 0;
	int rc;

	*keys = NULL;
	*len = 0;
	rc = add_key(keys, len, &cap, k.mv_data, k.mv_size);
	for (uint32_t i = 0; i < s->ninvoices && !rc && job->marks.dedup; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		size_t n;

		if (inv->outcome != TPC_OUTCOME_ACCEPTED)
			continue;
		if (inv->number.len && (n = tpc_tariff_invoice_key(inv, key, sizeof(key))))
			rc = add_key(keys, len, &cap, key, n);
		for (uint32_t li = inv->first_line; li < inv->first_line + inv->nlines && !rc;
		     li++) {
			const tpc_line_t *ln = &s->lines[li];

			if (ln->outcome != TPC_OUTCOME_ACCEPTED)
				continue;
			rc = add_key(keys, len, &cap, job->marks.dedup[li], job->marks.id_len);
			if (!rc && job->marks.max_per_day[li])
				rc = add_key(keys, len, &cap, key,
				             tpc_tariff_units_key(&inv->patient, ln->code,
				                                  ln->date_first, key));
		}
	}
	if (rc) {
		free(*keys);
		*keys = NULL;
	}
	return rc;
}

static void release_keys(tpc_claims_t *c, const uint8_t *keys, size_t len)
{
	for (size_t o = 0; o + 2 <= len;) {
		uint16_t n;

		memcpy(&n, keys + o, 2);
		tpc_claims_release(c, keys + o + 2, n);
		o += 2 + n;
	}
}

/* Under the lock: every key free for this snapshot, then all held. @return 1 when held. */
static int hold_keys(tpc_claims_t *c, const uint8_t *keys, size_t len, uint64_t since)
{
	size_t o, held;

	for (o = 0; o + 2 <= len;) {
		uint16_t n;

		memcpy(&n, keys + o, 2);
		if (tpc_claims_peek(c, keys + o + 2, n, since))
			return 0;
		o += 2 + n;
	}
	for (o = held = 0; o + 2 <= len; held = o) {
		uint16_t n;

		memcpy(&n, keys + o, 2);
		if (tpc_claims_hold(c, keys + o + 2, n)) {
			release_keys(c, keys, held); /* the table is full: none held */
			return 0;
		}
		o += 2 + n;
	}
	return 1;
}

/* ---- the state ----------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void recs_clear(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].body);
		free(r->v[i].keys);
	}
	r->n = 0;
}

int tpc_attest_open(const char *dir, tpc_claims_t *claims, uint64_t folded, tpc_attest_t **out)
{
	tpc_attest_t *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return TPC_ENOMEM;
	a->claims = claims;
	pthread_cond_init(&a->idle, NULL);
	a->token.type = TPC_JOB_FOLD;
	a->token.status = TPC_JOB_COMMITTED;
	if ((rc = tpc_journal_open(dir, 0, &a->file)))
		goto fail;
	rc = tpc_journal_scan(a->file, folded, &a->scan);
	if (rc == TPC_EDAMAGED)
		tpc_error(
		    "ledger: %s/%s: a damaged record at byte %llu with good records after it: "
		    "attestations answered may be behind it; the engine does not start (%s, "
		    "docs/operations.md)",
		    dir, TPC_JOURNAL_NAME, (unsigned long long)a->scan.damaged_at,
		    TPC_CODE_JOURNAL_DAMAGED);
	if (rc)
		goto fail;
	if (a->scan.torn_at != UINT64_MAX)
		tpc_warn("ledger: %s/%s: the record at byte %llu was being written when the engine "
		         "stopped (never answered): left out (%s)",
		         dir, TPC_JOURNAL_NAME, (unsigned long long)a->scan.torn_at,
		         TPC_CODE_JOURNAL_TORN);
	a->next_jseq = (a->scan.last_jseq > folded ? a->scan.last_jseq : folded) + 1;
	*out = a;
	return 0;
fail:
	tpc_attest_free(&a);
	return rc;
}

void tpc_attest_free(tpc_attest_t **ap)
{
	tpc_attest_t *a;

	if (!ap || !*ap)
		return;
	a = *ap;
	recs_clear(&a->pending);
	recs_clear(&a->grabbed);
	free(a->pending.v);
	free(a->grabbed.v);
	free(a->gview);
	tpc_journal_free(&a->file);
	pthread_cond_destroy(&a->idle);
	free(a);
	*ap = NULL;
}

const tpc_journal_entry_t *tpc_attest_recovered(const tpc_attest_t *a, size_t *n)
{
	*n = a->scan.nrecs;
	return a->scan.recs;
}

void tpc_attest_start(tpc_attest_t *a, uint64_t next_seq)
{
	tpc_claims_lock(a->claims);
	a->scan.nrecs = 0;
	tpc_journal_rewind(a->file); /* everything in it is folded */
	a->next_seq = next_seq;
	a->on = 1;
	tpc_claims_unlock(a->claims);
}

/* Room for @p n records in @p r. @return 0 or TPC_ENOMEM. */
static int recs_room(struct recs *r, size_t n)
{
	struct rec *v;
	size_t c = r->cap ? r->cap : 16;

	if (n <= r->cap)
		return 0;
	while (c < n)
		c *= 2;
	if (!(v = realloc(r->v, c * sizeof(*v))))
		return TPC_ENOMEM;
	r->v = v;
	r->cap = c;
	return 0;
}

/* Under the lock, before the write: room for the record in pending and in grabbed (so that
 * neither joining pending after the durable write nor the writer's grab can fail: a record left
 * behind would fold after the sequences of a later group), every key free and now held, a
 * sequence. @return 1 when taken. */
static int reserve(tpc_attest_t *a, const tpc_job_t *job, struct rec *x, uint64_t *seq)
{
	size_t all = a->pending.n + a->grabbed.n + 1;

	if (!a->on || recs_room(&a->pending, all) || recs_room(&a->grabbed, all))
		return 0;
	if (!hold_keys(a->claims, x->keys, x->keys_len, job->snapshot_txn))
		return 0;
	*seq = a->next_seq++;
	x->jseq = a->next_jseq++;
	a->in_flight++;
	return 1;
}

int tpc_attest_journal(tpc_attest_t *a, tpc_job_t *job, tpc_job_t **wake)
{
	struct rec x = {0};
	uint64_t seq = 0, at = now_ms();
	int rc, taken;

	*wake = NULL;
	/* measured and encoded outside the lock; the sequence is written into the body after */
	if (!a || tpc_attest_encode(job, 0, at, &x.body, &x.len) != 0)
		return 1;
	if (job_keys(job, &x.keys, &x.keys_len)) {
		free(x.body);
		return 1;
	}
	tpc_claims_lock(a->claims);
	taken = reserve(a, job, &x, &seq);
	tpc_claims_unlock(a->claims);
	if (!taken) {
		free(x.body);
		free(x.keys);
		return 1;
	}
	memcpy(x.body + offsetof(struct fixed, seq), &seq, sizeof(seq));
	rc = tpc_journal_append(a->file, x.jseq, x.body, x.len);
	/* test builds: a kill -9 with the record durable and nothing answered (tests/integration/
	 * test_attest_journal.c); the next start folds it */
	if (!rc)
		TPC_CRASHPOINT("attest.journalled");
	tpc_claims_lock(a->claims);
	a->in_flight--;
	if (rc) {
		/* nothing answered: the keys go back, the sequence stays a gap, and the journal
		 * is left alone until the next start (its end may hold part of this record) */
		release_keys(a->claims, x.keys, x.keys_len);
		a->on = 0;
	} else {
		a->pending.v[a->pending.n++] = x; /* room made by reserve() */
		if (!a->token_queued)
			*wake = &a->token;
		a->token_queued = 1;
	}
	pthread_cond_broadcast(&a->idle);
	tpc_claims_unlock(a->claims);
	if (rc) {
		tpc_error("ledger: the attestation journal cannot be written (%s): attestations go "
		          "through the ledger's commits until the next start (%s)",
		          tpc_strerror(rc), TPC_CODE_JOURNAL_FAILED);
		free(x.body);
		free(x.keys);
		return 1;
	}
	job->sequence = seq;
	job->committed_ms = at;
	job->status = TPC_JOB_COMMITTED;
	return 0;
}

uint64_t tpc_attest_begin_group(tpc_attest_t *a, size_t n)
{
	uint64_t first;

	tpc_claims_lock(a->claims);
	/* a record being written has its sequence already: it must fold before the group's */
	while (a->in_flight)
		tpc_claims_wait(a->claims, &a->idle);
	/* room made by reserve(): every pending record moves, in order (with none pending the
	 * arrays may still be NULL, which memcpy refuses: UBSan) */
	if (a->pending.n)
		memcpy(a->grabbed.v + a->grabbed.n, a->pending.v,
		       a->pending.n * sizeof(struct rec));
	a->grabbed.n += a->pending.n;
	a->pending.n = 0;
	first = a->next_seq;
	a->next_seq += n;
	tpc_claims_unlock(a->claims);
	return first;
}

const tpc_journal_entry_t *tpc_attest_grabbed(tpc_attest_t *a, size_t *n)
{
	tpc_journal_entry_t *v = realloc(a->gview, (a->grabbed.n + 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return NULL; /* the caller folds nothing and fails its transaction */
	a->gview = v;
	for (size_t i = 0; i < a->grabbed.n; i++)
		v[i] = (tpc_journal_entry_t){a->grabbed.v[i].jseq, a->grabbed.v[i].body,
		                             a->grabbed.v[i].len};
	*n = a->grabbed.n;
	return v;
}

void tpc_attest_committed(tpc_attest_t *a, int may_rewind)
{
	tpc_claims_lock(a->claims);
	for (size_t i = 0; i < a->grabbed.n; i++)
		release_keys(a->claims, a->grabbed.v[i].keys, a->grabbed.v[i].keys_len);
	recs_clear(&a->grabbed);
	/* every record written is folded: the next goes at the start (no write can be running:
	 * one in flight would be pending or counted) */
	if (!a->pending.n && !a->in_flight && may_rewind)
		tpc_journal_rewind(a->file);
	tpc_claims_unlock(a->claims);
}

void tpc_attest_token_popped(tpc_attest_t *a)
{
	tpc_claims_lock(a->claims);
	a->token_queued = 0;
	tpc_claims_unlock(a->claims);
}

int tpc_attest_waiting(tpc_attest_t *a)
{
	int n;

	tpc_claims_lock(a->claims);
	n = a->pending.n || a->grabbed.n || a->in_flight;
	tpc_claims_unlock(a->claims);
	return n;
}

/* ---- the fold (writer) ----------------------------------------------------------------------- */

#define META_FOLDED "attest_folded"

int tpc_attest_folded_get(tpc_txn_t *t, const tpc_store_db_t *db, uint64_t *folded)
{
	MDB_val k = {sizeof(META_FOLDED) - 1, META_FOLDED}, v;

	*folded = 0;
	if (!tpc_txn_find(t, db->meta, &k, &v))
		return t->ret;
	if (v.mv_size != sizeof(*folded))
		return tpc_txn_fail(t, MDB_CORRUPTED);
	memcpy(folded, v.mv_data, sizeof(*folded));
	return 0;
}

/* One record folded: rebuilt (pointing into @p r's body and @p arena) and written like any job. */
static void fold_one(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                     tpc_claims_t *claims, const tpc_journal_entry_t *r, tpc_arena_t *arena)
{
	tpc_adapter_t fmt = {0};
	tpc_ledger_counters_t cc;
	uint64_t at = 0;
	tpc_job_t job;
	int rc;

	memset(&job, 0, sizeof(job));
	zmq_msg_init(&job.payload);
	if ((rc = tpc_attest_rebuild(r->body, r->len, arena, &fmt, &job, &at))) {
		tpc_error("ledger: attestation journal record %llu does not read back (%s): not "
		          "folded, the engine does not start (%s)",
		          (unsigned long long)r->jseq, tpc_strerror(rc), TPC_CODE_JOURNAL_FAILED);
		tpc_txn_fail(t, rc);
		goto out;
	}
	cc.next_seq = job.sequence;
	cc.next_posting = c->next_posting;
	tpc_ledger_write_job(t, db, &cc, claims, &job, at);
	c->next_posting = cc.next_posting;
	/* its keys were held from before its answer: nothing can have taken them, so this is
	 * a broken promise, said as loudly as the log can */
	if (!t->ret && job.status != TPC_JOB_COMMITTED)
		tpc_error("ledger: attestation %s/%s answered under sequence %llu from the journal "
		          "was not folded: %s",
		          job.sender, job.key, (unsigned long long)job.sequence,
		          job.fail_code ? job.fail_code : "stored before");
out:
	zmq_msg_close(&job.payload);
}

int tpc_attest_fold(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                    tpc_claims_t *claims, const tpc_journal_entry_t *recs, size_t n,
                    tpc_arena_t *arena)
{
	MDB_val k = {sizeof(META_FOLDED) - 1, META_FOLDED};

	for (size_t i = 0; i < n && !t->ret; i++)
		fold_one(t, db, c, claims, &recs[i], arena);
	/* in the same transaction: a record is folded exactly when the ledger says so */
	if (n && !t->ret)
		tpc_txn_put(t, db->meta, &k, &recs[n - 1].jseq, sizeof(recs[n - 1].jseq), 0);
	return t->ret;
}
