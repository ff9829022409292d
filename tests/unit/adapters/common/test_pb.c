/* tests/unit/adapters/common/test_pb.c - NUL bytes in protobuf strings found on the wire
 * (adapters/common/pb.h: tpc_pb_nul_string). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/pb.h"
#include "tpclear.pb-c.h"

/* A canonical sending of one invoice whose patient is @p patient (NUL-free), packed, with the
 * byte at @p at of the patient then set to @p c. */
static uint8_t *packed(const char *patient, size_t at, char c, size_t *len)
{
	Tpclear__CanonicalSending cs = TPCLEAR__CANONICAL_SENDING__INIT;
	Tpclear__CanonicalInvoice inv = TPCLEAR__CANONICAL_INVOICE__INIT, *invs[1] = {&inv};
	uint8_t *buf;

	cs.reference = "R1";
	inv.patient = (char *)patient;
	inv.number = "7";
	cs.invoices = invs;
	cs.n_invoices = 1;
	*len = tpclear__canonical_sending__get_packed_size(&cs);
	buf = malloc(*len);
	tpclear__canonical_sending__pack(&cs, buf);
	for (size_t i = 0; i + strlen(patient) <= *len; i++)
		if (memcmp(buf + i, patient, strlen(patient)) == 0) {
			buf[i + at] = (uint8_t)c;
			break;
		}
	return buf;
}

Test(pb, finds_a_nul_inside_a_nested_string)
{
	size_t len;
	uint8_t *b = packed("86103130262", 3, 0, &len);
	const ProtobufCFieldDescriptor *f =
	    tpc_pb_nul_string(&tpclear__canonical_sending__descriptor, b, len);

	cr_assert_not_null(f);
	cr_assert_str_eq(f->name, "patient");
	free(b);
}

Test(pb, clean_and_malformed_messages_have_none)
{
	size_t len;
	uint8_t *b = packed("86103130262", 3, '1', &len);

	cr_assert_null(tpc_pb_nul_string(&tpclear__canonical_sending__descriptor, b, len));
	/* cut short inside a length: unpacking refuses it, the walk just stops */
	cr_assert_null(tpc_pb_nul_string(&tpclear__canonical_sending__descriptor, b, len - 3));
	cr_assert_null(tpc_pb_nul_string(&tpclear__canonical_sending__descriptor,
	                                 (const uint8_t *)"\xff\xff\xff", 3));
	cr_assert_null(tpc_pb_nul_string(&tpclear__canonical_sending__descriptor, NULL, 0));
	free(b);
}
