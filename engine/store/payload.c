/* engine/store/payload.c - the "payloads" values (see payload.h).
 *
 * LZ4 for the same reason as the answers (records.c, worker.c): the compression runs on a
 * worker, in the job's arena, so the one writer thread copies about a fifth of the bytes of an
 * eFact sending (its records are mostly zeros and spaces) and the ledger grows by as much. The
 * raw form stays readable: a value the worker could not compress, or one that would not
 * shrink, is stored as it is and read back the same way.
 */
#include "store/payload.h"

#include "core/error.h"

#include <limits.h>
#include <lz4.h>
#include <string.h>

tpc_payload_hdr_t tpc_payload_raw_header(size_t len)
{
	tpc_payload_hdr_t h;

	/* zeroed first: a stored header is bytes on disk, the same for the same payload */
	memset(&h, 0, sizeof(h));
	h.magic = TPC_PAYLOAD_MAGIC;
	h.raw_len = len;
	return h;
}

int tpc_payload_encode(const uint8_t *buf, size_t len, tpc_arena_t *arena, const uint8_t **out,
                       size_t *out_len)
{
	tpc_payload_hdr_t h = tpc_payload_raw_header(len);
	uint8_t *v;
	int cap, n = 0;

	/* LZ4 takes int sizes: a larger payload is stored as it is */
	cap = len <= (size_t)LZ4_MAX_INPUT_SIZE ? LZ4_compressBound((int)len) : 0;
	v = tpc_arena_alloc_uninit(arena, sizeof(h) + (cap > 0 ? (size_t)cap : len), 8);
	if (!v)
		return TPC_ENOMEM;
	if (cap > 0)
		n = LZ4_compress_default((const char *)buf, (char *)v + sizeof(h), (int)len, cap);
	/* under an eighth saved, the raw form: every read would pay the decompression for
	 * little space (the same rule as the answers, worker.c) */
	if (n > 0 && (size_t)n < len - len / 8) {
		h.flags = TPC_PAYLOAD_LZ4;
		*out_len = sizeof(h) + (size_t)n;
	} else {
		/* fits: LZ4's bound is never below len */
		memcpy(v + sizeof(h), buf, len);
		*out_len = sizeof(h) + len;
	}
	memcpy(v, &h, sizeof(h));
	*out = v;
	return 0;
}

int tpc_payload_decode(const void *value, size_t size, tpc_arena_t *arena, const uint8_t **out,
                       size_t *len)
{
	const uint8_t *p = value;
	tpc_payload_hdr_t h;
	uint8_t *copy;

	/* copied out, not cast: LMDB aligns values on two bytes only */
	if (size < sizeof(h))
		return TPC_EDB;
	memcpy(&h, p, sizeof(h));
	/* a raw value is exactly header + payload; a compressed one must decompress to exactly
	 * raw_len, which LZ4's sizes (ints) bound */
	if (h.magic != TPC_PAYLOAD_MAGIC || (h.flags & ~TPC_PAYLOAD_LZ4) != 0 ||
	    (!(h.flags & TPC_PAYLOAD_LZ4) && size - sizeof(h) != h.raw_len) ||
	    ((h.flags & TPC_PAYLOAD_LZ4) && h.raw_len > INT_MAX))
		return TPC_EDB;
	copy = tpc_arena_alloc_uninit(arena, h.raw_len ? (size_t)h.raw_len : 1, 8);
	if (!copy)
		return TPC_ENOMEM;
	if (!(h.flags & TPC_PAYLOAD_LZ4))
		memcpy(copy, p + sizeof(h), (size_t)h.raw_len);
	/* _safe: bytes from disk, and never a write past raw_len whatever they say */
	else if (LZ4_decompress_safe((const char *)p + sizeof(h), (char *)copy,
	                             (int)(size - sizeof(h)), (int)h.raw_len) != (int)h.raw_len)
		return TPC_EDB;
	*out = copy;
	*len = (size_t)h.raw_len;
	return 0;
}
