/* engine/store/journal.c - the attestation journal's file (see journal.h).
 *
 * Why blocks: a record starts on a 4 KiB boundary so that, past a record that fails its
 * checksum, the scan can still tell a torn last write (nothing good and newer after it) from
 * damage in the middle (a good, newer record after it), without a second index. Why rewind
 * rather than truncate: a truncate, like growing the file, makes the next O_DSYNC write commit
 * the file system's journal too; writing over old records costs one write, and the scan tells
 * them apart by their sequence (they are older than the record before them).
 */
#include "store/journal.h"

#include "core/error.h"
#include "store/zeroahead.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC 0x314a5054u /* "TPJ1" */

/* The header of a record; the sum covers the header (sum zero) and the body. */
struct hdr {
	uint32_t magic;
	uint32_t len; /* the body's bytes */
	uint64_t jseq;
	uint64_t sum;
};

struct tpc_journal {
	int fd;
	int readonly;
	uint64_t size;  /* the file's length (zeros included) */
	uint64_t end;   /* where the next record goes */
	uint8_t *image; /* the last scan's copy of the file */
	tpc_journal_entry_t *recs;
};

/* the padding after a record: to the end of its last block, and the next header (< 2 blocks) */
static const char zeros[2 * TPC_JOURNAL_BLOCK];

static uint64_t record_sum(const struct hdr *h, const void *body)
{
	struct hdr z = *h;

	/* the header (its sum zero) seeds the body's hash: one sum over both */
	z.sum = 0;
	return XXH3_64bits_withSeed(body, h->len, XXH3_64bits(&z, sizeof(z)));
}

static uint64_t blocks_of(size_t len)
{
	uint64_t n = sizeof(struct hdr) + len;

	return (n + TPC_JOURNAL_BLOCK - 1) / TPC_JOURNAL_BLOCK * TPC_JOURNAL_BLOCK;
}

int tpc_journal_open(const char *dir, int readonly, tpc_journal_t **out)
{
	char path[4096];
	tpc_journal_t *j;
	struct stat sb;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, TPC_JOURNAL_NAME) >= (int)sizeof(path))
		return TPC_EINVAL;
	if (!(j = calloc(1, sizeof(*j))))
		return TPC_ENOMEM;
	j->readonly = readonly;
	j->fd = readonly ? open(path, O_RDONLY | O_CLOEXEC)
	                 : open(path, O_RDWR | O_CREAT | O_DSYNC | O_CLOEXEC, 0600);
	if (j->fd < 0 || fstat(j->fd, &sb) != 0) {
		rc = -errno;
		goto fail;
	}
	j->size = (uint64_t)sb.st_size;
	/* zeros written once, so that appends write into blocks the file has */
	if (!readonly && j->size < TPC_JOURNAL_PREALLOC) {
		if ((rc = tpc_zeros_write(j->fd, j->size, TPC_JOURNAL_PREALLOC)))
			goto fail;
		j->size = TPC_JOURNAL_PREALLOC;
	}
	*out = j;
	return 0;
fail:
	if (j->fd >= 0)
		close(j->fd);
	free(j);
	return rc;
}

void tpc_journal_free(tpc_journal_t **j)
{
	if (!j || !*j)
		return;
	close((*j)->fd);
	free((*j)->image);
	free((*j)->recs);
	free(*j);
	*j = NULL;
}

/* The record at @p off if it is good (magic, length, sum): its header, else NULL. */
static const struct hdr *good_at(const tpc_journal_t *j, uint64_t off)
{
	const struct hdr *h = (const struct hdr *)(j->image + off);

	if (off + sizeof(*h) > j->size || h->magic != MAGIC || h->len > TPC_JOURNAL_MAX_BODY ||
	    off + sizeof(*h) + h->len > j->size)
		return NULL;
	return record_sum(h, h + 1) == h->sum ? h : NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Past where the records end (@p off): a good record newer than @p newest means the end was
 * damage, not the end. @return its offset, or UINT64_MAX. */
static uint64_t newer_after(const tpc_journal_t *j, uint64_t off, uint64_t newest)
{
	for (off += TPC_JOURNAL_BLOCK; off < j->size; off += TPC_JOURNAL_BLOCK) {
		const struct hdr *h = good_at(j, off);

		if (h && h->jseq > newest)
			return off;
	}
	return UINT64_MAX;
}

static int read_image(tpc_journal_t *j)
{
	struct stat sb;
	uint64_t got = 0;

	if (fstat(j->fd, &sb) != 0)
		return -errno;
	j->size = (uint64_t)sb.st_size / TPC_JOURNAL_BLOCK * TPC_JOURNAL_BLOCK;
	free(j->image);
	if (!(j->image = malloc(j->size ? j->size : 1)))
		return TPC_ENOMEM;
	while (got < j->size) {
		ssize_t r = pread(j->fd, j->image + got, j->size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : TPC_EIO;
		got += (uint64_t)r;
	}
	return 0;
}

int tpc_journal_scan(tpc_journal_t *j, uint64_t folded, tpc_journal_scan_t *out)
{
	uint64_t off = 0, prev = 0, cap = 0;
	const struct hdr *h;
	int rc;

	memset(out, 0, sizeof(*out));
	out->torn_at = out->damaged_at = UINT64_MAX;
	if ((rc = read_image(j)))
		return rc;
	free(j->recs);
	j->recs = NULL;
	for (; off < j->size; off += blocks_of(h->len)) {
		if (!(h = good_at(j, off))) {
			/* a header never written ends the records; anything else is a write cut */
			if (!all_zero(j->image + off, sizeof(struct hdr)))
				out->torn_at = off;
			break;
		}
		/* older than the record before it: left from before a rewind */
		if (prev && h->jseq != prev + 1)
			break;
		prev = h->jseq;
		if (h->jseq <= folded)
			continue;
		if (out->nrecs == cap) {
			tpc_journal_entry_t *n =
			    realloc(j->recs, (cap = cap ? 2 * cap : 16) * sizeof(*n));

			if (!n)
				return TPC_ENOMEM;
			j->recs = n;
		}
		j->recs[out->nrecs++] =
		    (tpc_journal_entry_t){h->jseq, (const uint8_t *)(h + 1), h->len};
	}
	out->recs = j->recs;
	out->last_jseq = prev;
	out->end = j->end = off < j->size ? off : j->size;
	/* wherever the records ended, nothing newer may follow */
	if (off < j->size &&
	    (out->damaged_at = newer_after(j, off, prev > folded ? prev : folded)) != UINT64_MAX) {
		out->torn_at = UINT64_MAX;
		return TPC_EDAMAGED;
	}
	out->damaged_at = UINT64_MAX;
	return 0;
}

int tpc_journal_append(tpc_journal_t *j, uint64_t jseq, const void *body, size_t len)
{
	struct hdr h = {MAGIC, (uint32_t)len, jseq, 0};
	uint64_t need = j->end + blocks_of(len);
	/* the record, zeros to the end of its last block, and a zero header after it: the scan
	 * then ends right after the newest record, whatever older bytes lie further on */
	struct iovec v[3] = {{&h, sizeof(h)},
	                     {(void *)body, len},
	                     {(void *)zeros, need - j->end - sizeof(h) - len + sizeof(h)}};
	uint64_t done = 0, total = need - j->end + sizeof(h);
	int rc;

	if (j->readonly)
		return TPC_EINVAL;
	if (len > TPC_JOURNAL_MAX_BODY)
		return TPC_E2BIG;
	h.sum = record_sum(&h, body);
	/* past the zeros: more zeros first, so that the record's blocks exist before it is written
	 */
	if (need + sizeof(h) > j->size) {
		uint64_t to = (need + sizeof(h) + TPC_JOURNAL_PREALLOC - 1) / TPC_JOURNAL_PREALLOC *
		              TPC_JOURNAL_PREALLOC;

		if ((rc = tpc_zeros_write(j->fd, j->size, to)))
			return rc;
		j->size = to;
	}
	while (done < total) {
		ssize_t w = pwritev(j->fd, v, 3, (off_t)(j->end + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : TPC_EIO;
		done += (uint64_t)w;
		/* a short write: move the vector on past what went */
		for (int i = 0; i < 3; i++) {
			size_t n = (size_t)w < v[i].iov_len ? (size_t)w : v[i].iov_len;

			v[i].iov_base = (uint8_t *)v[i].iov_base + n;
			v[i].iov_len -= n;
			w -= (ssize_t)n;
		}
	}
	j->end = need;
	return 0;
}

void tpc_journal_rewind(tpc_journal_t *j)
{
	j->end = 0;
}

uint64_t tpc_journal_end(const tpc_journal_t *j)
{
	return j->end;
}
