/* tests/plugins/plugin_nocb.c - a plugin without a decode callback: refused with TPC_EINVAL. */
#include "adapter.h"

#include <stddef.h>

static int p_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return 0;
}

static int p_encode_answer(const void *state, const uint8_t *buf, size_t len,
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

static const char *p_describe(const void *state, const char *code)
{
	(void)state;
	(void)code;
	return NULL;
}

static void p_fini(void *state)
{
	(void)state;
}

TPC_ADAPTER_EXPORT const tpc_adapter_t tpc_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "nocb",
    .init = p_init,
    .decode = NULL, /* the defect under test */
    .encode_answer = p_encode_answer,
    .describe = p_describe,
    .fini = p_fini,
};
