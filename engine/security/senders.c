/* engine/security/senders.c - the senders registry (see senders.h, docs/security.md).
 *
 * DESIGN
 * Sharing: a snapshot is built whole by one thread (the loop thread, at startup and on SIGHUP),
 *          then only read. It is handed to other threads by reference: the ZAP thread gets its
 *          own reference through its control socket, each job carries one while it travels.
 *          The count is the only mutable field, an atomic; the thread that drops it to zero
 *          frees the snapshot. No lock, and no thread can see a half-built or half-freed
 *          registry, so "threads share nothing but queues" holds: what is shared is immutable.
 * Layout:  one array of entries in file order; two index arrays sorted by id and by key for
 *          binary search (a hospital network or every pharmacy of a country is thousands of
 *          entries); NIHII numbers and feeds live in pools, each entry owning a sorted slice.
 * Parsing: a hand-written line parser, not inih: every error must name its line, including
 *          the ones only visible at the end of a section (no key) or across sections (a key
 *          given to two senders), and the parser must stay small enough to fuzz.
 */
#include "security/senders.h"

#include "common/check.h"
#include "core/error.h"
#include "refdata/refdata.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tpc_sender {
	char id[TPC_SENDERS_ID_MAX];
	enum tpc_sender_kind kind;
	int has_kind;
	unsigned line;       /* the [section] line */
	unsigned feeds_line; /* the last feeds = line, for messages */
	/* Offsets while parsing, pointers after: the pools are realloc'd as lines come in, so a
	 * pointer taken then would dangle. finish() resolves them once nothing moves any more. */
	size_t nihii_off, nnihii;
	size_t feeds_off, nfeeds;
	size_t nkeys;
	const char (*nihii)[12]; /* resolved once the pools stop moving */
	const char (*feeds)[TPC_SENDERS_FEED_MAX];
};

struct key_entry {
	uint8_t key[TPC_KEY_BYTES];
	size_t sender; /* index into senders */
	unsigned line;
};

struct tpc_senders {
	_Atomic long refs;          /* the only field written after the snapshot is published */
	struct tpc_sender *senders; /* file order */
	size_t nsenders;
	const struct tpc_sender **by_id; /* senders sorted by id */
	struct key_entry *keys;
	size_t nkeys;      /* sorted by key */
	char (*nihii)[12]; /* 11 digits and a NUL: fixed width, so memcmp sorts and finds them */
	size_t nnihii;
	char (*feeds)[TPC_SENDERS_FEED_MAX];
	size_t nfeeds;
};

/* Indexed by enum tpc_sender_kind; the words are the file's and docs/security.md's, and also the
 * institution names a ledger STATEMENT request compares against (authz.c). */
static const char *const kind_names[TPC_SENDER__COUNT] = {
    "hospital", "pharmacist", "gp", "cpas", "sppis", "fedasil", "justice", "ops"};

const char *tpc_sender_kind_name(enum tpc_sender_kind k)
{
	return (unsigned)k < TPC_SENDER__COUNT ? kind_names[k] : "?";
}

int tpc_sender_kind_by_name(const char *name, enum tpc_sender_kind *out)
{
	for (int k = 0; k < TPC_SENDER__COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (enum tpc_sender_kind)k;
			return 0;
		}
	return TPC_EINVAL;
}

enum tpc_sender_kind tpc_senders_feed_owner(const char *feed)
{
	/* the feeds the issue names: only SPP IS sends mediprima, only Fedasil sends fedasil,
	 * only SPF Justice sends detention; the insurer's own reference data only ops */
	static const struct {
		const char *feed;
		enum tpc_sender_kind kind;
	} owners[] = {
	    {"mediprima", TPC_SENDER_SPPIS},
	    {"fedasil", TPC_SENDER_FEDASIL},
	    {"fedasil_exclusions", TPC_SENDER_FEDASIL},
	    {"detention", TPC_SENDER_JUSTICE},
	};

	for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
		if (strcmp(owners[i].feed, feed) == 0)
			return owners[i].kind;
	return TPC_SENDER_OPS;
}

/* ---- parsing -------------------------------------------------------------------------------- */

struct parser {
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	int failed;
	tpc_senders_t *r;
	size_t cap_senders, cap_keys, cap_nihii, cap_feeds;
	struct tpc_sender *cur; /* the open section, or NULL */
};

/* Only the first error is kept: a file is refused whole (docs/security.md), so one precise
 * FILE:LINE: reason is what the operator needs, and later errors are often its echo. */
__attribute__((format(printf, 3, 4))) static int fail_at(struct parser *p, unsigned line,
                                                         const char *fmt, ...)
{
	char why[384];
	va_list ap;

	if (p->failed)
		return TPC_EINVAL;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->name, line, why);
	p->failed = 1;
	return TPC_EINVAL;
}

/* Doubling, so loading a registry of thousands of entries costs a few reallocs, not one per
 * line. Only the loop thread parses, at startup or on SIGHUP: not a hot path, but a large file
 * must not turn quadratic. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *n;
	size_t c;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * elem);
	if (!n)
		return TPC_ENOMEM;
	*arr = n;
	*cap = c;
	return 0;
}

/* Printable ASCII without spaces: the id is logged, becomes the ZAP User-Id and replaces the
 * envelope's sender in the ledger's keys. No brackets, so a section header reads one way. */
static int id_ok(const char *s, size_t n)
{
	if (n == 0 || n >= TPC_SENDERS_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '[' ||
		    s[i] == ']')
			return 0;
	return 1;
}

static int feed_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= TPC_SENDERS_FEED_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

/* Close the open section: what can only be checked once all its lines are read. */
static int end_section(struct parser *p)
{
	struct tpc_sender *e = p->cur;

	p->cur = NULL;
	if (!e)
		return 0;
	if (e->nkeys == 0)
		return fail_at(p, e->line, "sender '%s' has no key (key = its CURVE public key)",
		               e->id);
	if (!e->has_kind)
		return fail_at(p, e->line,
		               "sender '%s' has no kind (hospital, pharmacist, gp, cpas, sppis, "
		               "fedasil, justice or ops)",
		               e->id);
	/* Checked here, not on the feeds = line: kind may come after feeds in the section. Feeds
	 * have owners (docs/security.md): only ops may be granted another kind's feed. */
	for (size_t i = 0; i < e->nfeeds; i++) {
		const char *f = p->r->feeds[e->feeds_off + i];
		enum tpc_sender_kind owner = tpc_senders_feed_owner(f);

		if (e->kind != TPC_SENDER_OPS && e->kind != owner)
			return fail_at(
			    p, e->feeds_line,
			    "sender '%s' of kind %s may not send feed '%s': only %s%s do", e->id,
			    kind_names[e->kind], f, kind_names[owner],
			    owner == TPC_SENDER_OPS ? "" : " (and ops)");
	}
	return 0;
}

static int open_section(struct parser *p, const char *id, size_t n)
{
	struct tpc_sender *e;
	int rc;

	if ((rc = end_section(p)))
		return rc;
	if (!id_ok(id, n))
		return fail_at(p, p->line,
		               "sender id '%.*s': expected 1-63 printable characters, no spaces or "
		               "brackets",
		               (int)(n > 80 ? 80 : n), id);
	if (grow((void **)&p->r->senders, &p->cap_senders, p->r->nsenders + 1,
	         sizeof(*p->r->senders)))
		return TPC_ENOMEM;
	e = &p->r->senders[p->r->nsenders++];
	/* zeroed: id[] is then NUL-terminated (n < TPC_SENDERS_ID_MAX, id_ok) and the counts 0 */
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, n);
	e->line = p->line;
	e->nihii_off = p->r->nnihii;
	e->feeds_off = p->r->nfeeds;
	p->cur = e;
	return 0;
}

/* The next word of a list value (separators: spaces, tabs, commas). */
static const char *next_word(const char **s, size_t *n)
{
	const char *w;

	while (**s == ' ' || **s == '\t' || **s == ',')
		(*s)++;
	if (!**s)
		return NULL;
	w = *s;
	while (**s && **s != ' ' && **s != '\t' && **s != ',')
		(*s)++;
	*n = (size_t)(*s - w);
	return w;
}

static int set_value(struct parser *p, const char *key, const char *v)
{
	struct tpc_sender *e = p->cur;
	tpc_senders_t *r = p->r;
	const char *w;
	size_t n;

	if (!e)
		return fail_at(p, p->line, "'%s' before the first [sender] section", key);
	if (strcmp(key, "key") == 0) {
		struct key_entry *k;

		/* Repeatable: two keys let a sender roll its key without a gap. A key registered to
		 * two senders is caught in finish(), once every section has been read. */
		if (grow((void **)&r->keys, &p->cap_keys, r->nkeys + 1, sizeof(*r->keys)))
			return TPC_ENOMEM;
		k = &r->keys[r->nkeys];
		if (tpc_keys_decode(v, strlen(v), k->key) != 0)
			return fail_at(p, p->line,
			               "key: expected a CURVE public key, 40 characters of Z85 "
			               "(tpclear keygen writes one in PREFIX.pub)");
		k->sender = (size_t)(e - r->senders);
		k->line = p->line;
		r->nkeys++;
		e->nkeys++;
		return 0;
	}
	if (strcmp(key, "kind") == 0) {
		if (e->has_kind)
			return fail_at(p, p->line, "kind given twice for sender '%s'", e->id);
		if (tpc_sender_kind_by_name(v, &e->kind) != 0)
			return fail_at(
			    p, p->line,
			    "kind '%.40s': expected hospital, pharmacist, gp, cpas, sppis, "
			    "fedasil, justice or ops",
			    v);
		e->has_kind = 1;
		return 0;
	}
	if (strcmp(key, "nihii") == 0) {
		/* may be repeated: each line adds to the list */
		while ((w = next_word(&v, &n))) {
			int digits = n == 11;

			for (size_t i = 0; digits && i < n; i++)
				digits = w[i] >= '0' && w[i] <= '9';
			if (!digits)
				return fail_at(p, p->line, "nihii '%.*s': expected 11 digits",
				               (int)(n > 40 ? 40 : n), w);
			/* the check digits catch a mistyped number here, at load, rather than as
			 * a refused sending (T00041) from the hospital it was meant for */
			if (!tpc_check_nihii(w, n))
				return fail_at(p, p->line, "nihii %.11s: check digits wrong", w);
			if (grow((void **)&r->nihii, &p->cap_nihii, r->nnihii + 1,
			         sizeof(*r->nihii)))
				return TPC_ENOMEM;
			memcpy(r->nihii[r->nnihii], w, 11);
			r->nihii[r->nnihii][11] = 0;
			r->nnihii++;
			e->nnihii++;
		}
		return 0;
	}
	if (strcmp(key, "feeds") == 0) {
		e->feeds_line = p->line;
		while ((w = next_word(&v, &n))) {
			char name[TPC_SENDERS_FEED_MAX];
			enum tpc_ref_kind kind;

			if (!feed_name_ok(w, n))
				return fail_at(p, p->line, "feed '%.*s': not a feed name",
				               (int)(n > 40 ? 40 : n), w);
			memcpy(name, w, n);
			name[n] = 0;
			/* a feed the engine cannot load would be a grant that never works */
			if (tpc_refdata_kind(name, &kind) != 0)
				return fail_at(
				    p, p->line,
				    "feed '%s': not a reference data kind of this engine "
				    "(docs/formats/reference-data.md)",
				    name);
			if (grow((void **)&r->feeds, &p->cap_feeds, r->nfeeds + 1,
			         sizeof(*r->feeds)))
				return TPC_ENOMEM;
			memcpy(r->feeds[r->nfeeds], name, n + 1);
			r->nfeeds++;
			e->nfeeds++;
		}
		return 0;
	}
	return fail_at(p, p->line, "unknown key '%.40s' (key, kind, nihii, feeds)", key);
}

/* Trim blanks (and a CR: files written on Windows end lines with CRLF) and NUL-terminate the
 * result in place; the caller's buffer is a private copy of the line. */
static void trim(char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
	(*s)[*n] = 0;
}

static int parse_line(struct parser *p, char *s, size_t n)
{
	char *eq;

	/* Control characters are refused, not skipped: a stray byte in a key or an id would make
	 * two values that print alike compare different. A CR is allowed as the last byte only. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && !(s[i] == '\r' && i + 1 == n))
			return fail_at(p, p->line, "control character (byte %u) in the line",
			               (unsigned char)s[i]);
	trim(&s, &n);
	if (n == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == '[') {
		if (s[n - 1] != ']')
			return fail_at(p, p->line, "section header without its closing ']'");
		s++;
		n -= 2;
		trim(&s, &n);
		return open_section(p, s, n);
	}
	/* the first '=' splits: a Z85 key may itself contain '=' (docs/security.md: values run to
	 * the end of the line) */
	eq = memchr(s, '=', n);
	if (!eq)
		return fail_at(p, p->line, "expected 'key = value' or '[sender-id]'");
	{
		char *k = s, *v = eq + 1;
		size_t kn = (size_t)(eq - s), vn = n - kn - 1;

		trim(&k, &kn);
		trim(&v, &vn);
		return set_value(p, k, v);
	}
}

/* ---- sorting and duplicates ----------------------------------------------------------------- */

static int cmp_str12(const void *a, const void *b)
{
	return memcmp(a, b, 12);
}

static int cmp_feed(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(((const struct key_entry *)a)->key, ((const struct key_entry *)b)->key,
	              TPC_KEY_BYTES);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((*(const struct tpc_sender *const *)a)->id,
	              (*(const struct tpc_sender *const *)b)->id);
}

/* Sort and dedupe one slice of a pool in place. @return the new count. */
static size_t sort_unique(void *base, size_t n, size_t elem, int (*cmp)(const void *, const void *))
{
	char *b = base;
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(b, n, elem, cmp);
	for (size_t i = 1; i < n; i++)
		if (cmp(b + out * elem, b + i * elem) != 0) {
			out++;
			if (out != i)
				memcpy(b + out * elem, b + i * elem, elem);
		}
	return out + 1;
}

/* After the last line: sort every slice and index for binary search, and find what only the
 * whole file shows (a sender id or a key given twice). */
static int finish(struct parser *p)
{
	tpc_senders_t *r = p->r;
	unsigned dup_line = 0, first_line = 0;
	const char *dup_id = NULL;
	int dup_is_key = 0;

	for (size_t i = 0; i < r->nsenders; i++) {
		struct tpc_sender *e = &r->senders[i];

		e->nnihii =
		    sort_unique(r->nihii + e->nihii_off, e->nnihii, sizeof(*r->nihii), cmp_str12);
		e->nfeeds =
		    sort_unique(r->feeds + e->feeds_off, e->nfeeds, sizeof(*r->feeds), cmp_feed);
		e->nihii = (const char(*)[12])(r->nihii ? r->nihii + e->nihii_off : NULL);
		e->feeds = (const char(*)[TPC_SENDERS_FEED_MAX])(r->feeds ? r->feeds + e->feeds_off
		                                                          : NULL);
	}
	r->by_id = malloc((r->nsenders ? r->nsenders : 1) * sizeof(*r->by_id));
	if (!r->by_id)
		return TPC_ENOMEM;
	for (size_t i = 0; i < r->nsenders; i++)
		r->by_id[i] = &r->senders[i];
	if (r->nsenders) /* qsort wants a valid pointer even for nothing */
		qsort(r->by_id, r->nsenders, sizeof(*r->by_id), cmp_id);
	if (r->nkeys)
		qsort(r->keys, r->nkeys, sizeof(*r->keys), cmp_key);
	/* Duplicates: report the one whose second occurrence comes first in the file, at the line
	 * of that second occurrence, naming the first; the sort above made equal ids and keys
	 * neighbours, so one pass finds them all. */
	for (size_t i = 1; i < r->nsenders; i++) {
		const struct tpc_sender *a = r->by_id[i - 1], *b = r->by_id[i];

		if (strcmp(a->id, b->id) == 0) {
			unsigned later = a->line > b->line ? a->line : b->line;

			if (!dup_line || later < dup_line) {
				dup_line = later;
				first_line = a->line < b->line ? a->line : b->line;
				dup_id = a->id;
				dup_is_key = 0;
			}
		}
	}
	for (size_t i = 1; i < r->nkeys; i++) {
		const struct key_entry *a = &r->keys[i - 1], *b = &r->keys[i];

		if (memcmp(a->key, b->key, TPC_KEY_BYTES) == 0) {
			unsigned later = a->line > b->line ? a->line : b->line;

			if (!dup_line || later < dup_line) {
				dup_line = later;
				first_line = a->line < b->line ? a->line : b->line;
				dup_id = r->senders[a->line < b->line ? a->sender : b->sender].id;
				dup_is_key = 1;
			}
		}
	}
	if (dup_line && dup_is_key)
		return fail_at(p, dup_line,
		               "key already registered at line %u (sender '%s'): a key belongs to "
		               "one sender",
		               first_line, dup_id);
	if (dup_line)
		return fail_at(p, dup_line, "sender '%s' is already defined at line %u", dup_id,
		               first_line);
	return 0;
}

static void free_snapshot(tpc_senders_t *r)
{
	if (!r)
		return;
	free(r->senders);
	free(r->by_id);
	free(r->keys);
	free(r->nihii);
	free(r->feeds);
	free(r);
}

int tpc_senders_parse(const char *name, const char *text, size_t len, tpc_senders_t **out,
                      char *err, size_t errlen)
{
	struct parser p = {name, err, errlen, 0, 0, NULL, 0, 0, 0, 0, NULL};
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	*out = NULL;
	if (errlen)
		err[0] = 0;
	p.r = calloc(1, sizeof(*p.r));
	if (!p.r)
		return TPC_ENOMEM;
	/* the caller's reference; nobody else can see the snapshot until it is returned */
	atomic_init(&p.r->refs, 1);
	for (size_t at = 0; at < len && !rc;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;

		p.line++;
		if (n + 1 > cap) {
			char *b = realloc(line, n + 1);
			if (!b) {
				rc = TPC_ENOMEM;
				break;
			}
			line = b;
			cap = n + 1;
		}
		/* Each line is copied so the parser may NUL-terminate its parts in place. A NUL
		 * inside the line is refused: the string functions below would stop at it and
		 * silently drop the rest of the line. */
		memcpy(line, text + at, n);
		line[n] = 0;
		if (memchr(text + at, 0, n))
			rc = fail_at(&p, p.line, "NUL byte in the line");
		else
			rc = parse_line(&p, line, n);
		at += n + 1;
	}
	free(line);
	if (!rc)
		rc = end_section(&p);
	if (!rc)
		rc = finish(&p);
	if (rc) {
		if (rc == TPC_ENOMEM && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		free_snapshot(p.r);
		return rc;
	}
	*out = p.r;
	return 0;
}

int tpc_senders_load(const char *path, tpc_senders_t **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n = 0;
	size_t got = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return TPC_EINVAL;
	}
	/* The cap bounds what the loop thread reads (and blocks on) on SIGHUP: the one place it
	 * touches disk after startup (docs/architecture.md). */
	if ((uint64_t)st.st_size > TPC_SENDERS_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u MiB", path, TPC_SENDERS_FILE_MAX >> 20);
		close(fd);
		return TPC_E2BIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return TPC_ENOMEM;
	}
	/* read(2) may return less than asked; the loop stops at the size fstat gave, so a file
	 * that grows meanwhile is read as it was */
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	/* A read error, or a file that shrank while read (an editor truncating it before writing
	 * it anew), would load a partial registry: senders missing from it would be refused until
	 * the next reload. Refuse the load instead, so the registry in force stays. */
	if (n < 0 || got != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: read %zu of %lld bytes (%s): registry kept as it was",
		         path, got, (long long)st.st_size,
		         n < 0 ? strerror(errno) : "file shrank while read");
		close(fd);
		free(buf);
		return n < 0 ? TPC_EIO : TPC_EAGAIN;
	}
	close(fd);
	rc = tpc_senders_parse(path, buf, got, out, err, errlen);
	free(buf);
	return rc;
}

/* ---- snapshot ------------------------------------------------------------------------------- */

/* Relaxed: a new reference is always made from one the caller already holds, so the count
 * cannot reach zero meanwhile, and the handoff of the pointer itself (the ZAP control message,
 * the job queue) carries the ordering. */
tpc_senders_t *tpc_senders_ref(tpc_senders_t *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void tpc_senders_unref(tpc_senders_t **sp)
{
	tpc_senders_t *s;

	if (!sp || !*sp)
		return;
	s = *sp;
	*sp = NULL;
	/* Release: our reads of the snapshot happen before its free in another thread; acquire:
	 * the thread that drops the last reference sees every other thread's reads finished before
	 * it frees. */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		free_snapshot(s);
}

size_t tpc_senders_count(const tpc_senders_t *s)
{
	return s ? s->nsenders : 0;
}

const tpc_sender_t *tpc_senders_at(const tpc_senders_t *s, size_t i)
{
	return s && i < s->nsenders ? &s->senders[i] : NULL;
}

const tpc_sender_t *tpc_senders_by_key(const tpc_senders_t *s, const uint8_t key[TPC_KEY_BYTES])
{
	size_t lo = 0, hi = s ? s->nkeys : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->keys[mid].key, key, TPC_KEY_BYTES);

		if (c == 0)
			return &s->senders[s->keys[mid].sender];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const tpc_sender_t *tpc_senders_by_id(const tpc_senders_t *s, const char *id)
{
	size_t lo = 0, hi = s ? s->nsenders : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tpc_sender *e = s->by_id[mid];
		int c = strcmp(e->id, id);

		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *tpc_sender_id(const tpc_sender_t *e)
{
	return e->id;
}

enum tpc_sender_kind tpc_sender_kind(const tpc_sender_t *e)
{
	return e->kind;
}

size_t tpc_sender_nihii_count(const tpc_sender_t *e)
{
	return e->nnihii;
}

const char *tpc_sender_nihii_at(const tpc_sender_t *e, size_t i)
{
	return i < e->nnihii ? e->nihii[i] : NULL;
}

size_t tpc_sender_feed_count(const tpc_sender_t *e)
{
	return e->nfeeds;
}

unsigned tpc_sender_line(const tpc_sender_t *e)
{
	return e->line;
}

/* Called for every provider of a sending (authz.c) on a worker: a binary search over the
 * slice finish() sorted, on the same 12-byte form, so no allocation and no strlen. */
int tpc_sender_may_bill(const tpc_sender_t *e, const char *nihii, size_t len)
{
	char want[12];
	size_t lo = 0, hi = e->nnihii;

	if (len != 11)
		return 0;
	memcpy(want, nihii, 11);
	want[11] = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(e->nihii[mid], want, 12);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Linear: a sender holds at most the few reference-data kinds there are. */
int tpc_sender_may_feed(const tpc_sender_t *e, const char *feed)
{
	for (size_t i = 0; i < e->nfeeds; i++)
		if (strcmp(e->feeds[i], feed) == 0)
			return 1;
	return 0;
}
