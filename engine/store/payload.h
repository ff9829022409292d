/* engine/store/payload.h - the sendings' payloads as the ledger keeps them ("payloads").
 *
 * A sending of a format with a native settlement (adapter.h, encode_settlement) is kept as it
 * was received, byte for byte, once, under its sequence: the settlement of a later payment run
 * echoes the records it settles from it (eFact 920900), and a format's native answers can be
 * rebuilt from it. The value is a 16-byte header, then the payload as one LZ4 block (flag 1)
 * or as it is (flag 0: when it does not shrink, or when the worker had no room to compress):
 *
 *     u32 magic "TPP1" | u32 flags | u64 length of the payload | block
 *
 * docs/ledger.md describes it for mdb_dump users. A ledger written before this sub-database
 * existed simply has no entry for its sendings: the reader then gets TPC_ENOENT and the
 * settlement falls back to the stored answer alone.
 *
 * Threads: pure functions on caller memory. A worker encodes (off the writer's path: the one
 * writer thread only copies the bytes), the ledger writer stores, the payment run decodes.
 */
#ifndef TPC_STORE_PAYLOAD_H
#define TPC_STORE_PAYLOAD_H

#include "core/arena.h"

#include <stddef.h>
#include <stdint.h>

#define TPC_PAYLOAD_MAGIC 0x31505054u /* "TPP1" little endian */
#define TPC_PAYLOAD_LZ4   1u          /* tpc_payload_hdr_t.flags */

/* LZ4 acceleration of what the workers compress per sending (payloads, stored answers). On the
 * bench's eFact pack, 2 instead of 1 (LZ4_compress_default) took a fifth off the compression's
 * CPU for 1.5 more bytes per line (57.2 -> 58.7 for the payload); 4 saved little more for 3
 * (docs/benchmarks.md, "Worker CPU per line"). Decompression is the same at any acceleration. */
#define TPC_PAYLOAD_LZ4_ACCELERATION 2

/** Header of a value of "payloads" (16 bytes), then the block. */
typedef struct tpc_payload_hdr {
	uint32_t magic;
	uint32_t flags;   /* TPC_PAYLOAD_LZ4: the block is LZ4, else the payload itself */
	uint64_t raw_len; /* length of the payload */
} tpc_payload_hdr_t;

_Static_assert(sizeof(tpc_payload_hdr_t) == 16, "stored layout");

/** Build the "payloads" value of @p len bytes at @p buf in @p arena: the header and the LZ4
 *  block, or the header and the bytes as they are when LZ4 saves less than an eighth.
 *  @param[out] out      the value, in @p arena (valid until it is reset)
 *  @param[out] out_len  its length
 *  @return 0, or TPC_ENOMEM when @p arena has no room (the caller may then store the payload
 *          raw with tpc_payload_raw_header()). */
int tpc_payload_encode(const uint8_t *buf, size_t len, tpc_arena_t *arena, const uint8_t **out,
                       size_t *out_len);

/** The header of a value holding the @p len bytes of a payload as they are (flag 0): the
 *  value is this header followed by the payload. */
tpc_payload_hdr_t tpc_payload_raw_header(size_t len);

/** Decode a value of "payloads" (@p value, @p size: LMDB's bytes, borrowed) into @p arena.
 *  @param[out] out  the payload, in @p arena (a copy: valid after the transaction ends)
 *  @return 0, TPC_EDB (not a value of this layout, or a block that does not decompress to its
 *          length) or TPC_ENOMEM. */
int tpc_payload_decode(const void *value, size_t size, tpc_arena_t *arena, const uint8_t **out,
                       size_t *len);

#endif /* TPC_STORE_PAYLOAD_H */
