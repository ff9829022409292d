/* tests/fuzz/fuzz_envelope.c - the request envelope (tpclear.Envelope, proto/tpclear.proto).
 *
 * The input is frame 1 of a request, as any client that reaches the intake socket can send it.
 * engine/pipeline/server.c receive_one() unpacks it with a protobuf-c allocator over a fixed
 * 4096-byte buffer and checks version, sender, key and type before anything else looks at it.
 * server.c exposes no checking function, so those checks are re-stated here, line for line (keep
 * them in step with receive_one()), followed by what the intake then does with the fields: the
 * refusal receipt echoing the key, the sender and key copies into the job, the query format
 * and the kind of a load ("upsert:KIND").
 *
 * The allocator keeps server.c's budget (16-byte aligned bumps in 4096 bytes) but gives each
 * allocation its own malloc, so AddressSanitizer sees each field's bounds. Oracle besides the
 * sanitizers: the fields of an envelope that unpacks pack again and unpack to the same values.
 */
#include "fuzz.h"

#include "pipeline/job.h"
#include "refdata/refdata.h"
#include "pipeline/result.h"
#include "tpclear.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET 4096 /* server.c: struct fixed_alloc */

struct budget {
	size_t used;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	size_t at = (b->used + 15) & ~(size_t)15;

	if (at + size > BUDGET)
		return NULL;
	b->used = at + size;
	return malloc(size ? size : 1);
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

/* An independent model of what the server accepts (tpc_check_token(s, 1, max - 1)): 1..max-1
 * characters, each 0x21..0x7e */
static int printable(const char *p, size_t max)
{
	size_t n = 0;

	for (; p[n]; n++)
		if ((unsigned char)p[n] < 0x21 || (unsigned char)p[n] > 0x7e || n >= max)
			return 0;
	return n > 0 && n < max;
}

static void same_envelope(const Tpclear__Envelope *a, const Tpclear__Envelope *b)
{
	FUZZ_CHECK(a->version == b->version);
	FUZZ_CHECK(a->type == b->type);
	FUZZ_CHECK(strcmp(a->sender, b->sender) == 0);
	FUZZ_CHECK(strcmp(a->key, b->key) == 0);
	FUZZ_CHECK(strcmp(a->format, b->format) == 0);
	FUZZ_CHECK(a->correlation == b->correlation);
}

/* Pack the known fields again and unpack them. Unknown fields are left out: protobuf-c keeps
 * them as read and writes them back normalised, and 1.4.1 reads a field number 0 written as a
 * two-byte varint (82 00) that it refuses in the one-byte form, so they need not round-trip
 * (tests/fuzz/corpus/envelope/unknown-field-0). tpclear never looks at them. */
static void repack(const Tpclear__Envelope *env)
{
	Tpclear__Envelope known = TPCLEAR__ENVELOPE__INIT, *again;
	size_t n;
	uint8_t *buf;

	known.version = env->version;
	known.type = env->type;
	known.sender = env->sender;
	known.key = env->key;
	known.format = env->format;
	known.correlation = env->correlation;
	n = tpclear__envelope__get_packed_size(&known);
	buf = malloc(n ? n : 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(tpclear__envelope__pack(&known, buf) == n);
	again = tpclear__envelope__unpack(NULL, n, buf);
	FUZZ_CHECK(again != NULL);
	same_envelope(env, again);
	tpclear__envelope__free_unpacked(again, NULL);
	free(buf);
}

/* What receive_one() does with the fields of an envelope that passed its checks. */
static void intake(const Tpclear__Envelope *env)
{
	char sender[TPC_SENDER_MAX], key[TPC_KEY_MAX];
	enum tpc_ref_kind kind;
	uint8_t receipt[1024];

	snprintf(sender, sizeof(sender), "%s", env->sender);
	snprintf(key, sizeof(key), "%s", env->key);
	FUZZ_CHECK(strcmp(sender, env->sender) == 0);
	if (env->type != TPCLEAR__REQUEST_TYPE__REQUEST_PING)
		FUZZ_CHECK(strcmp(key, env->key) == 0);
	if (env->type == TPCLEAR__REQUEST_TYPE__REQUEST_QUERY) {
		(void)(strcmp(env->format, "settlement") == 0);
	} else if (env->type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD) {
		const char *k = env->format;

		if (strncmp(k, "upsert:", 7) == 0)
			k += 7;
		if (tpc_refdata_kind(k, &kind) == 0)
			FUZZ_CHECK(strcmp(tpc_refdata_kind_name(kind), k) == 0);
	}
	/* the receipt that echoes the key (send_receipt: a refusal after admission) */
	FUZZ_CHECK(tpc_answer_receipt(env->correlation, TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED,
	                              "T00000", "", 0, env->key, receipt, sizeof(receipt)) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget b = {0};
	ProtobufCAllocator pa = {budget_alloc, budget_free, &b};
	Tpclear__Envelope *env;
	const char *code = NULL;

	env = tpclear__envelope__unpack(&pa, size, data);
	if (!env)
		return 0; /* T-code BAD_ENVELOPE */
	FUZZ_CHECK(env->sender && env->key && env->format);
	repack(env);
	/* receive_one(), in order */
	if (env->version > 1)
		code = "bad version";
	else if (!printable(env->sender, TPC_SENDER_MAX))
		code = "bad sender";
	else if (env->type != TPCLEAR__REQUEST_TYPE__REQUEST_PING &&
	         !printable(env->key, TPC_KEY_MAX))
		code = "bad key";
	else if (env->type > TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST)
		code = "bad type";
	if (!code)
		intake(env);
	tpclear__envelope__free_unpacked(env, &pa);
	return 0;
}
