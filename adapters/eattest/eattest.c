/* adapters/eattest/eattest.c - the "eattest" adapter: one attestation, in its canonical
 * protobuf form or as the Kmehr eAttest v3 request (see eattest.h).
 *
 * Which form a payload is in is read from its first bytes: a Kmehr request is XML, so it
 * starts with '<' (after an optional UTF-8 byte order mark and white space); a packed
 * tpclear.Attestation never does - '<' (0x3c) is field 7 with wire type 4 (end group), which
 * protobuf-c refuses, and every white-space byte is a tag that either protobuf-c refuses
 * (0x09, 0x0d: wrong wire types) or that begins a field whose value could only be refused
 * (0x0a: a provider of 60 bytes; 0x20: a date of 60). So no payload that could be cleared as a
 * protobuf Attestation is read as Kmehr, and the sender needs no format name of its own.
 *
 * The protobuf form is unpacked into the sending's arena (no malloc); its strings become the
 * views of the sending. Both forms then go through tpc_attestation_sending(), the one rule
 * path (attestation.h). pos of a protobuf finding is its field number.
 */
#include "eattest/eattest.h"

#include "common/pb.h"
#include "eattest/attestation.h"
#include "eattest/kmehr.h"
#include "eattest/kmehr_answer.h"
#include "tpclear.pb-c.h"

#include <string.h>

int tpc_eattest_is_kmehr(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf)
		i = 3;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < len && buf[i] == '<';
}

static const char *ea_describe(const void *state, const char *code)
{
	(void)state;
	return tpc_attest_describe(code);
}

#define view tpc_pb_view

/* The protobuf message as the internal form: one service, record 1 for the attestation and 2
 * for its service, each value at its field number. */
static void from_message(const Tpclear__Attestation *m, tpc_attestation_t *a,
                         tpc_attest_service_t *v)
{
	memset(a, 0, sizeof(*a));
	memset(v, 0, sizeof(*v));
	a->number = view(m->number);
	a->provider = view(m->provider);
	a->patient = view(m->patient);
	a->cancels = view(m->cancels);
	a->record = 1;
	a->at_provider = (tpc_attest_at_t){1, 1};
	a->at_patient = (tpc_attest_at_t){1, 2};
	a->at_number = (tpc_attest_at_t){1, 11};
	a->total_paid_cents = m->fee_paid_cents;
	a->nservices = 1;
	a->services = v;
	v->record = 2;
	v->code = view(m->code);
	v->date = m->date < 0 ? 0 : (uint32_t)m->date;
	v->units = m->units;
	v->fee_paid_cents = m->fee_paid_cents;
	v->country = view(m->country);
	v->real_cost_cents = m->real_cost_cents;
	v->reference = view(m->reference);
	v->at_code = (tpc_attest_at_t){2, 3};
	v->at_date = (tpc_attest_at_t){2, 4};
	v->at_units = (tpc_attest_at_t){2, 5};
	v->at_fee = (tpc_attest_at_t){2, 6};
	v->at_country = (tpc_attest_at_t){2, 7};
	v->at_cost = (tpc_attest_at_t){2, 8};
}

static int ea_decode(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
                     tpc_sending_t *out)
{
	tpc_pb_arena_t pc;
	Tpclear__Attestation *m;
	tpc_attestation_t a;
	tpc_attest_service_t v;

	(void)state;
	if (tpc_eattest_is_kmehr(buf, len))
		return tpc_kmehr_decode(buf, len, host, out);
	tpc_pb_arena_init(&pc, host);
	m = tpclear__attestation__unpack(&pc.alloc, len, buf);
	if (!m && pc.out_of_memory)
		return TPC_ADAPTER_ETOOBIG;
	/* a string cut at a NUL byte by unpacking is not what was sent (adapters/common/pb.h) */
	if (!m || tpc_pb_nul_string(&tpclear__attestation__descriptor, buf, len)) {
		out->blocked = 1;
		return tpc_sending_add_finding(out, host, &(tpc_finding_t){"T40001", 'B', 0, 0, 0});
	}
	from_message(m, &a, &v);
	/* the services array lives in this frame: the sending keeps views, never the array */
	return tpc_attestation_sending(&a, host, out);
}

/* A native answer for the Kmehr form only: the protobuf form's answer is the Result. */
static int ea_encode_answer(const void *state, const uint8_t *buf, size_t len,
                            const tpc_sending_t *s, enum tpc_answer_kind kind,
                            const tpc_host_t *host, tpc_blob_t *out)
{
	(void)state;
	if (kind != TPC_ANSWER_RESULT || !s || !tpc_eattest_is_kmehr(buf, len))
		return TPC_ADAPTER_ENOTSUP;
	return tpc_kmehr_answer(buf, len, s, host, out);
}

static int ea_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	tpc_kmehr_init(); /* libxml2's one-time set-up, on the main thread */
	return 0;
}

const tpc_adapter_t tpc_eattest_adapter = {
    .abi = TPC_ADAPTER_ABI,
    .name = "eattest",
    .init = ea_init,
    .decode = ea_decode,
    .encode_answer = ea_encode_answer,
    .describe = ea_describe,
    .fini = tpc_pb_no_state_fini,
};
