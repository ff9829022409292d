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
#include "store/records.h"

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
	size_t cap = tpc_records_lz4_bound(len), n;
	uint8_t *v;

	v = tpc_arena_alloc_uninit(arena, sizeof(h) + (cap > len ? cap : len), 8);
	if (!v)
		return TPC_ENOMEM;
	/* the records' one rule (records.c): raw when LZ4 saves less than an eighth; compressed
	 * here rather than by tpc_records_lz4_pack() for the acceleration (payload.h) */
	n = 0;
	if (cap && cap <= INT_MAX) {
		int c = LZ4_compress_fast((const char *)buf, (char *)v + sizeof(h), (int)len,
		                          (int)cap, TPC_PAYLOAD_LZ4_ACCELERATION);

		n = c > 0 && (size_t)c < len - len / 8 ? (size_t)c : 0;
	}
	if (n) {
		h.flags = TPC_PAYLOAD_LZ4;
		*out_len = sizeof(h) + n;
	} else {
		memcpy(v + sizeof(h), buf, len);
		*out_len = sizeof(h) + len;
	}
	memcpy(v, &h, sizeof(h));
	/* the arena keeps what the value holds, not LZ4's worst case (a seventh of it is used) */
	tpc_arena_shrink(arena, v, *out_len);
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
	else if (tpc_records_lz4_unpack(p + sizeof(h), size - sizeof(h), copy, (size_t)h.raw_len))
		return TPC_EDB;
	*out = copy;
	*len = (size_t)h.raw_len;
	return 0;
}
