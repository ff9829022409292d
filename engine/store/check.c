/* engine/store/check.c - the ledger's startup checks (see check.h).
 *
 * LMDB's meta page, as liblmdb 0.9 writes it (mdb.c: MDB_page, MDB_meta, MDB_db; 64-bit page
 * numbers and sizes, the machine's byte order). Offsets are from the start of the page:
 *   10  u16 page flags, P_META (0x08) on a meta page
 *   16  u32 magic 0xBEEFC0DE       20  u32 data version (1)
 *   24  u64 fixed address (unused) 32  u64 map size
 *   40  MDB_db of the free list: its first u32 is the page size, its root page at 80
 *   88  MDB_db of the main database: its root page at 128
 *  136  u64 last page used        144  u64 transaction id
 * Meta page 0 is at offset 0, meta page 1 one page further. LMDB uses the meta with the greater
 * transaction id, and (0.9.24, observed: docs/operations.md) refuses the file with MDB_INVALID
 * when either meta page is not a meta page, so this check names which one is damaged.
 */
#include "store/check.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/log.h"
#include "store/records.h"
#include "store/txn.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define META_BYTES   152 /* page header (16) + MDB_meta (136): what LMDB itself reads */
#define META_MAGIC   0xBEEFC0DEu
#define META_VERSION 1u
#define P_META       0x08u
#define P_INVALID    UINT64_MAX /* root of an empty database */

/* One meta page as read from the file. */
struct meta {
	const char *bad; /* why it is not a valid meta page, NULL when it is */
	uint32_t psize;
	uint64_t last_pg, txnid, roots[2];
};

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* Read and judge the meta page at @p off. Everything LMDB would act on is bounded here: the
 * page size it steps by, and the root pages it would read first. */
static void read_meta(int fd, off_t off, struct meta *m)
{
	uint8_t b[META_BYTES];
	uint16_t flags;
	ssize_t n = pread(fd, b, sizeof(b), off);

	memset(m, 0, sizeof(*m));
	if (n != (ssize_t)sizeof(b)) {
		m->bad = "missing: the file ends before it";
		return;
	}
	memcpy(&flags, b + 10, 2);
	m->psize = u32_at(b, 40);
	m->last_pg = u64_at(b, 136);
	m->txnid = u64_at(b, 144);
	m->roots[0] = u64_at(b, 80);
	m->roots[1] = u64_at(b, 128);
	if (!(flags & P_META) || u32_at(b, 16) != META_MAGIC)
		m->bad = "not a meta page (flag or magic 0xBEEFC0DE missing)";
	else if (u32_at(b, 20) != META_VERSION)
		m->bad = "LMDB data version unknown";
	else if (m->psize < 512 || m->psize > 65536 || (m->psize & (m->psize - 1)))
		m->bad = "page size not a power of two in 512..65536";
	else if (m->last_pg < 1 || m->last_pg > (uint64_t)INT64_MAX / m->psize)
		m->bad = "last page number out of range";
	/* pages 0 and 1 are the metas: a root is a later page, or none */
	for (int i = 0; i < 2 && !m->bad; i++)
		if (m->roots[i] != P_INVALID && (m->roots[i] < 2 || m->roots[i] > m->last_pg))
			m->bad = "a root page beyond the last page";
}

/* Refuse: one line, naming the file and what is wrong, and where the operator reads on. */
static int damaged(const char *dir, const char *what)
{
	tpc_error("ledger %s/data.mdb is damaged: %s; not served (docs/operations.md, Startup "
	          "checks)",
	          dir, what);
	return TPC_EDB;
}

/* Judge both metas and the file's length against the one LMDB will use. */
static int judge_metas(const char *dir, int fd, off_t size)
{
	struct meta m[2];
	const struct meta *use;
	char what[512];
	uint64_t need;

	read_meta(fd, 0, &m[0]);
	/* LMDB steps to meta 1 by meta 0's page size; without one, the system's page size */
	read_meta(fd, m[0].bad ? sysconf(_SC_PAGESIZE) : (off_t)m[0].psize, &m[1]);
	if (m[0].bad && m[1].bad) {
		snprintf(what, sizeof(what), "neither meta page is valid (page 0: %s; page 1: %s)",
		         m[0].bad, m[1].bad);
		return damaged(dir, what);
	}
	for (int i = 0; i < 2; i++)
		if (m[i].bad) {
			snprintf(
			    what, sizeof(what),
			    "meta page %d is %s (page %d is sound: LMDB opens a file only with "
			    "both)",
			    i, m[i].bad, 1 - i);
			return damaged(dir, what);
		}
	use = &m[m[0].txnid < m[1].txnid];
	need = (use->last_pg + 1) * use->psize;
	if ((uint64_t)size < need) {
		snprintf(what, sizeof(what),
		         "it is %jd bytes long, but its meta page of transaction %" PRIu64
		         " holds %" PRIu64 " pages of %u bytes (%" PRIu64 " bytes): truncated",
		         (intmax_t)size, use->txnid, use->last_pg + 1, use->psize, need);
		return damaged(dir, what);
	}
	return 0;
}

int tpc_check_file(const char *dir)
{
	char path[4096];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* a new ledger: LMDB creates it */
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		tpc_error("ledger %s: cannot read it: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* LMDB takes an empty file for a new environment and would start an empty ledger over
	 * it: a ledger that lost everything must not look like a fresh one */
	if (st.st_size == 0)
		rc = damaged(dir, "it is empty (0 bytes); a new ledger has no data.mdb at all");
	else
		rc = judge_metas(dir, fd, st.st_size);
	close(fd);
	return rc;
}

/* ---- the newest sendings ------------------------------------------------------------------- */

/* What the scan of the newest sendings reads through. */
struct scan {
	tpc_txn_t t;
	const tpc_store_db_t *db;
	tpc_arena_t *arena;
	const uint8_t *map, *end; /* the mapped file: [map, end) are the bytes the file has */
};

/* Does @p v lie within the file? LMDB checks a page number against the last page, but not the
 * length of a value: a damaged length of a large value (on overflow pages) would send a read
 * past the end of the file, a SIGBUS. Checked before a byte of the value is read. */
static int in_file(const struct scan *sc, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;

	return p >= sc->map && p <= sc->end && v->mv_size <= (size_t)(sc->end - p);
}

/* The sending's entry in "sendings" must name this answer: same sequence, same payload hash. */
static const char *check_index(struct scan *sc, const tpc_answer_hdr_t *h, uint64_t seq)
{
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2];
	MDB_val k = tpc_key_names(kbuf, sizeof(kbuf), h->sender, h->key), v;
	uint64_t s;

	if (!k.mv_size)
		return "its sender and key are not a valid index key";
	if (!tpc_txn_find(&sc->t, sc->db->sendings, &k, &v))
		return "no entry in \"sendings\" names its sender and key";
	/* the entry's length names the hash's algorithm, which the header's flag names too
	 * (store/records.h, "Payload hash") */
	if (v.mv_size != 8 + tpc_records_hash_len(h->flags) || !in_file(sc, &v))
		return "its entry in \"sendings\" has the wrong size";
	memcpy(&s, v.mv_data, 8);
	if (s != seq)
		return "its entry in \"sendings\" names another sequence";
	if (memcmp((const uint8_t *)v.mv_data + 8, h->hash, v.mv_size - 8) != 0)
		return "its entry in \"sendings\" has another payload hash";
	return NULL;
}

/* One line record per line of the Result, numbered 0..lines-1, each of the line layout: a
 * lines block (schema 6) holding as many, or records of schema 3-5 under (sequence, line). */
static const char *check_lines(struct scan *sc, uint64_t seq, uint32_t lines)
{
	uint8_t key[12];
	tpc_line_rec_t rec;
	tpc_lines_hdr_t h;
	uint32_t n = 0;
	tpc_iter_t it;
	const char *bad = NULL;
	MDB_val k = tpc_key_u64(key, seq), v;

	if (tpc_txn_find(&sc->t, sc->db->lines, &k, &v)) {
		if (!in_file(sc, &v) || tpc_records_lines_check(&v, &h) != 0)
			return "its lines block is of the wrong size or fails its checksum";
		return h.nlines == lines
		           ? NULL
		           : "it has not as many line records as its Result has lines";
	}
	tpc_key_u64_u32(key, seq, 0);
	tpc_txn_foreach(&it, &sc->t, sc->db->lines, key, 12, 8)
	{
		if (it.key.mv_size != 12 || !in_file(sc, &it.val) ||
		    tpc_get_be32((const uint8_t *)it.key.mv_data + 8) != n ||
		    tpc_records_line_read(&it.val, &rec) != 0) {
			bad = "a line record is out of order, of the wrong size or fails its "
			      "checksum";
			break;
		}
		n++;
	}
	tpc_iter_close(&it);
	if (!bad && n != lines)
		bad = "it has not as many line records as its Result has lines";
	return bad;
}

/* One answer, read back the way a replay reads it. @return NULL when sound, else what is
 * wrong. */
static const char *check_answer(struct scan *sc, const MDB_val *k, const MDB_val *v, uint64_t *seq)
{
	tpc_answer_hdr_t h;
	tpc_stored_t st;
	Tpclear__Result *r;
	uint32_t lines;
	const char *bad;

	if (k->mv_size != 8)
		return "a key of \"answers\" is not a sequence";
	*seq = tpc_get_be64(k->mv_data);
	if (!in_file(sc, v))
		return "its length runs past the end of the file";
	switch (tpc_records_answer_header_read(v->mv_data, v->mv_size, &h)) {
	case 0:
		break;
	case TPC_EDAMAGED:
		return "it fails its checksum";
	default:
		return "its header is unreadable";
	}
	if (h.sequence != *seq)
		return "its header names another sequence";
	tpc_arena_reset(sc->arena);
	if (tpc_records_answer_decode(v->mv_data, v->mv_size, sc->arena, &st) != 0)
		return "its body does not decode";
	r = tpclear__result__unpack(NULL, st.result_len, st.result);
	if (!r)
		return "its Result does not unpack";
	lines = r->lines;
	tpclear__result__free_unpacked(r, NULL);
	if ((bad = check_index(sc, &h, *seq)))
		return bad;
	return check_lines(sc, *seq, lines);
}

/* Where the file is mapped, and how long it is. LMDB does not say where its map is
 * (mdb_env_info's me_mapaddr is the meta page's fixed address, 0 without MDB_FIXEDMAP), so it
 * is looked up in /proc/self/maps: the mapping of this file (device and inode) at offset 0. */
static int map_bounds(struct scan *sc)
{
	unsigned long long from, to, off, ino;
	unsigned maj, mnr;
	char line[4096];
	struct stat st;
	int fd, rc;
	FILE *f;

	if ((rc = mdb_env_get_fd(sc->db->env, &fd)))
		return rc;
	if (fstat(fd, &st) != 0 || !(f = fopen("/proc/self/maps", "re")))
		return errno;
	while (!sc->map && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &from, &to, &off, &maj, &mnr,
		           &ino) == 6 &&
		    off == 0 && ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) &&
		    mnr == minor(st.st_dev))
			sc->map = (const uint8_t *)(uintptr_t)from;
	fclose(f);
	if (!sc->map)
		return MDB_PANIC; /* no map of the file: not an environment we opened */
	sc->end = sc->map + st.st_size;
	return 0;
}

int tpc_check_newest(const tpc_store_db_t *db, unsigned n, const char *dir)
{
	struct scan sc = {.db = db};
	MDB_cursor *c = NULL;
	const char *bad = NULL;
	uint64_t seq = 0;
	char what[256];
	MDB_val k, v;
	int rc, g;

	if ((rc = tpc_arena_new(64 * 1024, 0, &sc.arena)))
		return rc;
	if (tpc_txn_begin(db->env, MDB_RDONLY, &sc.t))
		goto out_free;
	if (tpc_txn_fail(&sc.t, map_bounds(&sc)) ||
	    tpc_txn_fail(&sc.t, mdb_cursor_open(sc.t.txn, db->answers, &c)))
		goto out_abort;
	/* newest first: the last commits are where a crash or a full disk would have struck */
	g = mdb_cursor_get(c, &k, &v, MDB_LAST);
	for (; g == 0 && n > 0 && !bad; n--) {
		bad = check_answer(&sc, &k, &v, &seq);
		if (!bad && n > 1)
			g = mdb_cursor_get(c, &k, &v, MDB_PREV);
	}
	if (g != 0 && g != MDB_NOTFOUND)
		tpc_txn_fail(&sc.t, g); /* an empty ledger has no last answer: that is fine */
	mdb_cursor_close(c);
out_abort:
	tpc_txn_abort(&sc.t);
out_free:
	tpc_arena_free(&sc.arena);
	if (bad) {
		snprintf(what, sizeof(what), "the stored answer of sequence %" PRIu64 ": %s", seq,
		         bad);
		return damaged(dir, what);
	}
	if (sc.t.ret)
		tpc_error("ledger %s/data.mdb: cannot read its newest sendings: %s", dir,
		          mdb_strerror(sc.t.ret));
	return tpc_err_from_mdb(sc.t.ret);
}

/* ---- the device ---------------------------------------------------------------------------- */

void tpc_check_device(const char *path, char *buf, size_t len)
{
	char line[2048], dev[32], real[PATH_MAX], best[2048] = "";
	size_t best_len = 0;
	struct stat st;
	FILE *f;

	snprintf(buf, len, "unknown device");
	if (stat(path, &st) != 0)
		return;
	snprintf(dev, sizeof(dev), "%u:%u", major(st.st_dev), minor(st.st_dev));
	snprintf(buf, len, "%s", dev);
	if (!realpath(path, real) || !(f = fopen("/proc/self/mountinfo", "re")))
		return;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTS": of the mounts
	 * of this device (bind mounts repeat it), the longest mount point the path lies under */
	while (fgets(line, sizeof(line), f)) {
		char mdev[32], mnt[1024], fstype[64] = "", source[512] = "";
		const char *tail = strstr(line, " - ");
		size_t ml;

		if (sscanf(line, "%*s %*s %31s %*s %1023s", mdev, mnt) != 2 || strcmp(mdev, dev))
			continue;
		ml = strlen(mnt);
		if (strncmp(real, mnt, ml) != 0 || (real[ml] != '/' && real[ml] && ml > 1) ||
		    ml < best_len)
			continue;
		if (tail)
			sscanf(tail, " - %63s %511s", fstype, source);
		best_len = ml;
		snprintf(best, sizeof(best), "%s mounted on %s (%s %s)", dev, mnt, fstype, source);
	}
	fclose(f);
	if (best[0])
		snprintf(buf, len, "%s", best);
}
