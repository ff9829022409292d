/* tests/unit/store/test_payload.c - the "payloads" values (engine/store/payload.c): what the
 * worker encodes reads back byte for byte, compressed or not, and a damaged value (bytes from
 * disk) is refused with TPC_EDB, never read past its end or written past its length. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "store/payload.h"

static tpc_arena_t *arena;

static void setup(void)
{
	cr_assert_eq(tpc_arena_new(1 << 16, 0, &arena), 0);
}

static void teardown(void)
{
	tpc_arena_free(&arena);
}

TestSuite(payload, .init = setup, .fini = teardown, .timeout = 60);

/* Encode @p len bytes at @p buf, then decode a malloc'd copy of the value of its exact size. */
static void roundtrip(const uint8_t *buf, size_t len, uint32_t want_flags)
{
	const uint8_t *v, *out;
	size_t vlen, olen;
	tpc_payload_hdr_t h;
	uint8_t *copy;

	cr_assert_eq(tpc_payload_encode(buf, len, arena, &v, &vlen), 0);
	memcpy(&h, v, sizeof(h));
	cr_assert_eq(h.magic, TPC_PAYLOAD_MAGIC);
	cr_assert_eq(h.flags, want_flags);
	cr_assert_eq(h.raw_len, len);
	copy = malloc(vlen);
	cr_assert_not_null(copy);
	memcpy(copy, v, vlen);
	cr_assert_eq(tpc_payload_decode(copy, vlen, arena, &out, &olen), 0);
	cr_assert_eq(olen, len);
	cr_assert_eq(memcmp(out, buf, len), 0);
	free(copy);
}

Test(payload, an_efact_like_payload_is_compressed_and_reads_back)
{
	uint8_t buf[227 + 40 * 350];

	memset(buf, '0', sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i += 97)
		buf[i] = (uint8_t)('A' + i % 26);
	roundtrip(buf, sizeof(buf), TPC_PAYLOAD_LZ4);
}

Test(payload, what_does_not_shrink_is_kept_as_it_is)
{
	uint8_t buf[4096];
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof(buf); i++) { /* xorshift: incompressible */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	roundtrip(buf, sizeof(buf), 0);
	roundtrip(buf, 0, 0);
}

Test(payload, a_damaged_value_is_refused)
{
	uint8_t buf[227 + 20 * 350], *bad;
	const uint8_t *v, *out;
	size_t vlen, olen;
	tpc_payload_hdr_t h;

	memset(buf, '0', sizeof(buf));
	cr_assert_eq(tpc_payload_encode(buf, sizeof(buf), arena, &v, &vlen), 0);
	bad = malloc(vlen);
	cr_assert_not_null(bad);
	/* shorter than a header; cut block; bad magic; unknown flag; a length it does not have */
	cr_assert_eq(tpc_payload_decode(v, sizeof(h) - 1, arena, &out, &olen), TPC_EDB);
	cr_assert_eq(tpc_payload_decode(v, vlen - 1, arena, &out, &olen), TPC_EDB);
	memcpy(bad, v, vlen);
	bad[0] ^= 1;
	cr_assert_eq(tpc_payload_decode(bad, vlen, arena, &out, &olen), TPC_EDB, "magic");
	memcpy(bad, v, vlen);
	memcpy(&h, bad, sizeof(h));
	h.flags |= 2;
	memcpy(bad, &h, sizeof(h));
	cr_assert_eq(tpc_payload_decode(bad, vlen, arena, &out, &olen), TPC_EDB, "flags");
	for (int d = -1; d <= 1; d += 2) {
		memcpy(bad, v, vlen);
		memcpy(&h, bad, sizeof(h));
		h.raw_len += (uint64_t)(int64_t)d;
		memcpy(bad, &h, sizeof(h));
		cr_assert_eq(tpc_payload_decode(bad, vlen, arena, &out, &olen), TPC_EDB,
		             "raw_len %+d", d);
	}
	/* a raw value must be exactly header + payload */
	h = tpc_payload_raw_header(10);
	memcpy(bad, &h, sizeof(h));
	memset(bad + sizeof(h), 'x', 10);
	cr_assert_eq(tpc_payload_decode(bad, sizeof(h) + 10, arena, &out, &olen), 0);
	cr_assert_eq(olen, 10);
	cr_assert_eq(tpc_payload_decode(bad, sizeof(h) + 9, arena, &out, &olen), TPC_EDB);
	/* LZ4 takes ints: a length past INT_MAX is refused before any allocation */
	memcpy(&h, v, sizeof(h));
	h.raw_len = (uint64_t)1 << 40;
	memcpy(bad, &h, sizeof(h));
	memcpy(bad + sizeof(h), v + sizeof(h), vlen - sizeof(h));
	cr_assert_eq(tpc_payload_decode(bad, vlen, arena, &out, &olen), TPC_EDB);
	free(bad);
}
