/* bench/pack.h - a pack of generated sendings: written by `tpcgen pack`, read by
 * `tpcbench ... --pack FILE`.
 *
 * Every measurement of bench/run (the in-process ceilings, the transport ceiling, the engine at
 * each offered load, the scaling runs) reads the same file, so they all work on the same bytes.
 *
 * Layout (integers little endian, the machine's order on x86-64):
 *   header   tpc_pack_header_t (48 bytes)
 *   records  tpc_pack_record_t (16 bytes), then `len` payload bytes, then zero padding to a
 *            multiple of 8; as many records as header.sendings
 * The header's counts are written last (the writer seeks back), so a file cut short by a crash
 * has sendings = 0 and is refused by the reader.
 *
 * Header only: both tools are single-file programs (CMake builds each .c file of bench/ as a tool),
 * so the few functions below are static inline.
 */
#ifndef TPC_BENCH_PACK_H
#define TPC_BENCH_PACK_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TPC_PACK_MAGIC "TPCPACK1"

enum tpc_pack_format {
	TPC_PACK_EFACT = 0,     /* eFact 920000 files */
	TPC_PACK_CANONICAL = 1, /* packed tpclear.CanonicalSending */
	TPC_PACK_EATTEST = 2,   /* packed tpclear.Attestation, one line each */
};

/** Kind of provider that sent a sending (its shape). */
enum tpc_pack_kind {
	TPC_PACK_HOSPITAL = 0,
	TPC_PACK_GP = 1,
	TPC_PACK_PHARMACIST = 2,
	TPC_PACK__KINDS
};

typedef struct tpc_pack_header {
	char magic[8];     /* TPC_PACK_MAGIC, no NUL */
	uint32_t format;   /* enum tpc_pack_format */
	uint32_t faults;   /* percent of lines the generator corrupted */
	uint64_t sendings; /* records that follow */
	uint64_t lines;    /* sum of their lines */
	uint64_t invoices; /* sum of their invoices */
	uint64_t seed;     /* generator seed */
} tpc_pack_header_t;

typedef struct tpc_pack_record {
	uint32_t len;      /* payload bytes */
	uint32_t lines;    /* lines in the sending (faulty ones included) */
	uint32_t invoices; /* invoices in the sending */
	uint32_t kind;     /* enum tpc_pack_kind */
} tpc_pack_record_t;

/** One sending of an opened pack: a view into the mapping. */
typedef struct tpc_pack_entry {
	const uint8_t *data;
	size_t len;
	uint32_t lines, invoices, kind;
} tpc_pack_entry_t;

typedef struct tpc_pack {
	tpc_pack_header_t h;
	void *map;
	size_t map_len;
	tpc_pack_entry_t *e; /* h.sendings entries */
} tpc_pack_t;

static inline const char *tpc_pack_kind_name(uint32_t kind)
{
	static const char *names[] = {"hospital", "gp", "pharmacist"};

	return kind < TPC_PACK__KINDS ? names[kind] : "?";
}

/** Append one record to @p f (header already written). @return 0 or -1 (errno set). */
static inline int tpc_pack_put(FILE *f, const uint8_t *data, size_t len, uint32_t lines,
                               uint32_t invoices, uint32_t kind)
{
	static const uint8_t zeros[8];
	tpc_pack_record_t r = {(uint32_t)len, lines, invoices, kind};
	size_t pad = (8 - len % 8) % 8;

	if (len > UINT32_MAX || fwrite(&r, sizeof(r), 1, f) != 1 ||
	    fwrite(data, 1, len, f) != len || (pad && fwrite(zeros, 1, pad, f) != pad))
		return -1;
	return 0;
}

/** Map @p path and index its records.
 *  @param[out] p  filled on success; release with tpc_pack_close()
 *  @return 0, or -1 with a message on stderr (unreadable, not a pack, cut short). */
static inline int tpc_pack_open(const char *path, tpc_pack_t *p)
{
	struct stat st;
	const uint8_t *at, *end;
	int fd = open(path, O_RDONLY);

	memset(p, 0, sizeof(*p));
	if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(p->h)) {
		fprintf(stderr, "pack: cannot read '%s'\n", path);
		goto out_close_fd;
	}
	p->map_len = (size_t)st.st_size;
	p->map = mmap(NULL, p->map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		fprintf(stderr, "pack: cannot map '%s'\n", path);
		goto out_close_fd;
	}
	close(fd);
	fd = -1;
	memcpy(&p->h, p->map, sizeof(p->h));
	if (memcmp(p->h.magic, TPC_PACK_MAGIC, 8) != 0 || p->h.sendings == 0) {
		fprintf(stderr, "pack: '%s' is not a complete pack\n", path);
		goto out_unmap;
	}
	p->e = calloc(p->h.sendings, sizeof(*p->e));
	if (!p->e)
		goto out_unmap;
	at = (const uint8_t *)p->map + sizeof(p->h);
	end = (const uint8_t *)p->map + p->map_len;
	for (uint64_t i = 0; i < p->h.sendings; i++) {
		tpc_pack_record_t r;

		if ((size_t)(end - at) < sizeof(r))
			goto out_short;
		memcpy(&r, at, sizeof(r));
		at += sizeof(r);
		if ((size_t)(end - at) < r.len)
			goto out_short;
		p->e[i] = (tpc_pack_entry_t){at, r.len, r.lines, r.invoices, r.kind};
		at += r.len;
		at += (size_t)(end - at) < (8 - r.len % 8) % 8 ? (size_t)(end - at)
		                                               : (8 - r.len % 8) % 8;
	}
	madvise(p->map, p->map_len, MADV_SEQUENTIAL);
	return 0;

out_short:
	fprintf(stderr, "pack: '%s' is cut short\n", path);
	free(p->e);
	p->e = NULL;
out_unmap:
	if (p->map)
		munmap(p->map, p->map_len);
	p->map = NULL;
out_close_fd:
	if (fd >= 0)
		close(fd);
	return -1;
}

/** Unmap; NULL-safe on a zeroed or closed pack. */
static inline void tpc_pack_close(tpc_pack_t *p)
{
	if (p->map)
		munmap(p->map, p->map_len);
	free(p->e);
	memset(p, 0, sizeof(*p));
}

#endif /* TPC_BENCH_PACK_H */
