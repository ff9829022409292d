/* tests/plugins/plugin_good.c - a well-formed adapter plugin named "echo".
 *
 * decode() makes one invoice holding one line from the payload: the line's code is the first six
 * bytes, its reference is the whole payload, its insurer amount is 100 cents per byte and its
 * units come from the "units=N" key of the [adapter.echo] section (default 1). init() refuses a
 * section holding "fail=1", so the tests can see the configuration reach the plugin. fini()
 * appends "fini\n" to the file named by TPC_TEST_ECHO_MARK, so the tests can see it run.
 * Built a second time with PLUGIN_ABI_MIN: the same plugin named "echo-old", declaring the oldest
 * ABI the registry loads (it reads none of tpc_host_t's later fields, as a plugin built against
 * that ABI's header could not).
 */
#include "adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAGIC 0xec40ec40u

#ifdef PLUGIN_ABI_MIN
#define ECHO_ABI  TPC_ADAPTER_ABI_MIN
#define ECHO_NAME "echo-old"
#else
#define ECHO_ABI  TPC_ADAPTER_ABI
#define ECHO_NAME "echo"
#endif

struct echo_state {
	unsigned magic;
	int units;
};

static int echo_init(const char *config, void **state)
{
	struct echo_state *st;
	const char *u;

	if (strstr(config, "fail=1"))
		return TPC_ADAPTER_EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return TPC_ADAPTER_ENOMEM;
	st->magic = ECHO_MAGIC;
	st->units = 1;
	u = strstr(config, "units=");
	if (u)
		st->units = atoi(u + 6);
	*state = st;
	return 0;
}

static int echo_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                       tpc_sending_t *out)
{
	const struct echo_state *st = state;
	tpc_invoice_t *inv;
	tpc_line_t *ln;

	if (!st || st->magic != ECHO_MAGIC)
		return TPC_ADAPTER_EINVAL;
	if ((host->max_invoices && host->max_invoices < 1) ||
	    (host->max_lines && host->max_lines < 1))
		return TPC_ADAPTER_ETOOBIG;
	inv = host->alloc(host->arena, sizeof(*inv), _Alignof(tpc_invoice_t));
	ln = host->alloc(host->arena, sizeof(*ln), _Alignof(tpc_line_t));
	if (!inv || !ln)
		return TPC_ADAPTER_ENOMEM;
	inv->record = 1;
	inv->patient.ptr = (const char *)buf;
	inv->patient.len = (uint32_t)len;
	inv->first_line = 0;
	inv->nlines = 1;
	ln->record = 2;
	memcpy(ln->code, buf, len < 6 ? len : 6);
	ln->units = st->units;
	ln->insurer_cents = 100 * (int64_t)len;
	ln->reference.ptr = (const char *)buf;
	ln->reference.len = (uint32_t)len;
	out->invoices = inv;
	out->ninvoices = 1;
	out->lines = ln;
	out->nlines = 1;
	out->nrecords = 2;
	return 0;
}

static int echo_encode_answer(const void *state, const uint8_t *buf, size_t len,
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
	return TPC_ADAPTER_ENOTSUP; /* no native answer */
}

static const char *echo_describe(const void *state, const char *code)
{
	(void)state;
	return strcmp(code, "E00001") == 0 ? "echo finding" : NULL;
}

static void echo_fini(void *state)
{
	const char *mark = getenv("TPC_TEST_ECHO_MARK");

	if (mark) {
		FILE *f = fopen(mark, "a");
		if (f) {
			fputs("fini\n", f);
			fclose(f);
		}
	}
	free(state);
}

TPC_ADAPTER_EXPORT const tpc_adapter_t tpc_adapter = {
    .abi = ECHO_ABI,
    .name = ECHO_NAME,
    .init = echo_init,
    .decode = echo_decode,
    .encode_answer = echo_encode_answer,
    .describe = echo_describe,
    .fini = echo_fini,
};
