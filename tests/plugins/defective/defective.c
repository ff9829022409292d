/* tests/plugins/defective/defective.c - plugins the loader must refuse, one per build variant
 * (tests/CMakeLists.txt compiles this file four times):
 *   PLUGIN_BAD_ABI  built against another adapter ABI      -> TPC_EABI   (plugin_bad_abi.so)
 *   PLUGIN_OLD_ABI  built against the previous ABI (3)     -> TPC_EABI   (plugin_old_abi.so)
 *   PLUGIN_DUP      reuses the built-in name "canonical"    -> TPC_EEXIST (plugin_dup.so)
 *   PLUGIN_NOCB     has no decode callback                  -> TPC_EINVAL (plugin_nocb.so) */
#include "adapter.h"

#include <stddef.h>

#if defined(PLUGIN_BAD_ABI)
#define P_ABI    (TPC_ADAPTER_ABI + 1)
#define P_NAME   "badabi"
#define P_DECODE p_decode
#elif defined(PLUGIN_OLD_ABI)
#define P_ABI    3u /* encode_settlement() without the payload; 4 is still loaded */
#define P_NAME   "oldabi"
#define P_DECODE p_decode
#elif defined(PLUGIN_DUP)
#define P_ABI    TPC_ADAPTER_ABI
#define P_NAME   "canonical"
#define P_DECODE p_decode
#elif defined(PLUGIN_NOCB)
#define P_ABI    TPC_ADAPTER_ABI
#define P_NAME   "nocb"
#define P_DECODE NULL /* the defect under test */
#else
#error "build with one of PLUGIN_BAD_ABI, PLUGIN_OLD_ABI, PLUGIN_DUP, PLUGIN_NOCB"
#endif

static int p_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return 0;
}

__attribute__((unused)) static int p_decode(const void *state, const uint8_t *buf, size_t len,
                                            const tpc_host_t *host, tpc_sending_t *out)
{
	(void)state;
	(void)buf;
	(void)len;
	(void)host;
	(void)out;
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
    .abi = P_ABI,
    .name = P_NAME,
    .init = p_init,
    .decode = P_DECODE,
    .encode_answer = p_encode_answer,
    .describe = p_describe,
    .fini = p_fini,
};
