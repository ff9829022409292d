/* adapters/common/pb.c - shared by the protobuf adapters (see pb.h). */
#include "common/pb.h"

#include <string.h>

/* Aligned to 16, as malloc's memory is: protobuf-c takes any allocation to suit any of its
 * message structs. The flag
 * is the only way to tell why unpack returned NULL: protobuf-c says the same for bytes that are
 * not a message and for an allocation refused, and the adapters answer them differently
 * (refused as malformed, or T00013: too big for the sending's memory bound). */
static void *pb_alloc(void *data, size_t size)
{
	tpc_pb_arena_t *a = data;
	void *p = a->host->alloc(a->host->arena, size, 16);

	if (!p)
		a->out_of_memory = 1;
	return p;
}

static void pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* released with the arena */
}

/* The allocator points back at @p a, so @p a must stay where it is while unpacking (the
 * adapters keep it on their stack for the call). */
void tpc_pb_arena_init(tpc_pb_arena_t *a, const tpc_host_t *host)
{
	a->alloc.alloc = pb_alloc;
	a->alloc.free = pb_free;
	a->alloc.allocator_data = a;
	a->host = host;
	a->out_of_memory = 0;
}

/* The protobuf formats have no configuration and keep nothing between sendings: decode reads
 * nothing but its arguments, which makes it reentrant across the workers for free. */
int tpc_pb_no_state_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return 0;
}

void tpc_pb_no_state_fini(void *state)
{
	(void)state;
}

/* ENOTSUP, not an error: the worker then stores no native answer and the tpclear.Result is
 * the sender's only answer (canonical.h). */
int tpc_pb_no_native_answer(const void *state, const uint8_t *buf, size_t len,
                            const tpc_sending_t *s, enum tpc_answer_kind kind,
                            const tpc_host_t *host, tpc_blob_t *out)
{
	(void)state;
	(void)buf;
	(void)len;
	(void)s;
	(void)kind;
	(void)host;
	(void)out;
	return TPC_ADAPTER_ENOTSUP;
}

const char *tpc_pb_describe(const tpc_pb_code_t *table, size_t n, const char *code)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].code, code) == 0)
			return table[i].reason;
	return NULL;
}

/* The letter comes from the adapter's table, never from the call site. A code missing from the
 * table would get no letter and refuse nothing: each adapter keeps its table beside its call
 * sites (tests/unit/core/test_codes.c checks the tables against docs/errors.md). pos holds the
 * protobuf field number (canonical.c). */
tpc_finding_t tpc_pb_finding(const tpc_pb_code_t *table, size_t n, const char *code,
                             uint32_t record, uint16_t field)
{
	tpc_finding_t f;

	memset(&f, 0, sizeof(f));
	memcpy(f.code, code, 6);
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].code, code) == 0)
			f.letter = table[i].letter;
	f.record = record;
	f.pos = field;
	return f;
}

/* protobuf-c gives an absent string as "", but a NULL is taken as empty too */
tpc_view_t tpc_pb_view(const char *s)
{
	tpc_view_t v = {s, s ? (uint32_t)strlen(s) : 0};

	return v;
}

/* ---- NUL bytes in strings ------------------------------------------------------------------ */

/* A base-128 varint at *p (before end). @return 0, or -1 when cut short or over 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* protobuf-c unpacks a string into a C string, so "K1\0aaa" reads as "K1" and nothing says
 * it was cut: the wire is the only place the length is still known. The walk follows the
 * descriptor into sub-messages (repeated ones too: each occurrence is its own field on the
 * wire) and skips everything else. Malformed bytes end the walk quietly: unpacking them fails
 * and is answered as such. Depth is bounded so hostile nesting cannot exhaust the stack. */
static const ProtobufCFieldDescriptor *nul_walk(const ProtobufCMessageDescriptor *d,
                                                const uint8_t *p, const uint8_t *end, int depth)
{
	uint64_t tag, n;

	while (p < end && depth < 32) {
		const ProtobufCFieldDescriptor *f, *inner;

		if (read_varint(&p, end, &tag))
			return NULL;
		switch (tag & 7) {
		case 0:
			if (read_varint(&p, end, &n))
				return NULL;
			continue;
		case 1:
			n = 8;
			break;
		case 5:
			n = 4;
			break;
		case 2:
			if (read_varint(&p, end, &n) || n > (uint64_t)(end - p))
				return NULL;
			f = protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)n))
				return f;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    (inner = nul_walk(f->descriptor, p, p + n, depth + 1)))
				return inner;
			break;
		default:
			return NULL; /* groups (3, 4) are not proto3; 6 and 7 do not exist */
		}
		if (n > (uint64_t)(end - p))
			return NULL;
		p += n;
	}
	return NULL;
}

const ProtobufCFieldDescriptor *tpc_pb_nul_string(const ProtobufCMessageDescriptor *d,
                                                  const uint8_t *buf, size_t len)
{
	return buf ? nul_walk(d, buf, buf + len, 0) : NULL;
}
