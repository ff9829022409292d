/* adapters/common/pb.c - shared by the protobuf adapters (see pb.h). */
#include "common/pb.h"

#include <string.h>

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

void tpc_pb_arena_init(tpc_pb_arena_t *a, const tpc_host_t *host)
{
	a->alloc.alloc = pb_alloc;
	a->alloc.free = pb_free;
	a->alloc.allocator_data = a;
	a->host = host;
	a->out_of_memory = 0;
}

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

tpc_view_t tpc_pb_view(const char *s)
{
	tpc_view_t v = {s, s ? (uint32_t)strlen(s) : 0};

	return v;
}
