/* adapters/common/pb.h - what the protobuf adapters (canonical, eattest) share: messages
 * unpacked into the sending's arena, stateless descriptors, and a table of the adapter's own
 * finding codes with their letters and reasons.
 */
#ifndef TPC_ADAPTERS_PB_H
#define TPC_ADAPTERS_PB_H

#include "adapter.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/** A protobuf-c allocator over host->alloc: unpacking costs no malloc, and everything it makes
 *  is released with the sending's arena. */
typedef struct tpc_pb_arena {
	ProtobufCAllocator alloc; /* pass &alloc to *__unpack() */
	const tpc_host_t *host;
	int out_of_memory; /* the arena refused an allocation while unpacking */
} tpc_pb_arena_t;

/** @param[out] a  ready to unpack into @p host's arena (borrowed, outlives @p a). */
void tpc_pb_arena_init(tpc_pb_arena_t *a, const tpc_host_t *host);

/** init/fini of an adapter without state (tpc_adapter_t.init / .fini). */
int tpc_pb_no_state_init(const char *config, void **state);
void tpc_pb_no_state_fini(void *state);

/** encode_answer of a format without native answers: always TPC_ADAPTER_ENOTSUP. */
int tpc_pb_no_native_answer(const void *state, const uint8_t *buf, size_t len,
                            const tpc_sending_t *s, enum tpc_answer_kind kind,
                            const tpc_host_t *host, tpc_blob_t *out);

/** One of an adapter's finding codes. */
typedef struct tpc_pb_code {
	const char *code;
	char letter;
	const char *reason;
} tpc_pb_code_t;

/** The reason of @p code in @p table (@p n entries), or NULL. */
const char *tpc_pb_describe(const tpc_pb_code_t *table, size_t n, const char *code);

/** A finding of @p code (its letter from @p table) on @p record, protobuf field @p field. */
tpc_finding_t tpc_pb_finding(const tpc_pb_code_t *table, size_t n, const char *code,
                             uint32_t record, uint16_t field);

/** A view of a NUL-terminated string (NULL = absent). */
tpc_view_t tpc_pb_view(const char *s);

/** The first string field of a message of type @p d, in the packed bytes @p buf (@p len), that
 *  holds a NUL byte (sub-messages included), or NULL when none does (or the bytes are not a
 *  message: unpacking says so). protobuf-c unpacks such a string as a C string cut at the NUL,
 *  so this is checked on the wire, before the cut copy is trusted. */
const ProtobufCFieldDescriptor *tpc_pb_nul_string(const ProtobufCMessageDescriptor *d,
                                                  const uint8_t *buf, size_t len);

#endif /* TPC_ADAPTERS_PB_H */
