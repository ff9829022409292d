/* tests/fuzz/fuzz_sepa.c - the SEPA credit-transfer renderer (engine/payments/sepa.h).
 *
 * A payment run's file is made of names, IBANs, BICs and references that came in through the
 * feeds (providers.csv, members.csv, ossom.csv) and the payment run request, so the checks and
 * the XML writer see outside text. The input is a batch as text, one field a line:
 *
 *     message_id, payment_info_id, created_ms, execution_day, debtor_name, debtor_iban,
 *     debtor_bic, then per payment: end_to_end, name, iban, bic, amount_cents, remittance
 *
 * (at most 64 payments; numbers in decimal, signed). Oracles besides the sanitizers:
 * tpc_sepa_check and tpc_sepa_render agree, and a rendered file is a NUL-terminated,
 * well-formed XML document whose totals are the batch's.
 */
#include "fuzz.h"

#include "core/error.h"
#include "payments/sepa.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYMENTS 64
#define HEAD_FIELDS  7
#define PAY_FIELDS   6
#define MAX_FIELDS   (HEAD_FIELDS + MAX_PAYMENTS * PAY_FIELDS)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	return 0;
}

static void no_errors(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *field[MAX_FIELDS];
	tpc_sepa_payment_t pay[MAX_PAYMENTS];
	tpc_sepa_batch_t b;
	tpc_sepa_totals_t tot;
	char *text, *p, *xml = NULL, err[256];
	size_t nf = 0, len = 0, np;
	int64_t sum = 0;
	int overflow = 0, checked, rendered;

	/* split into NUL-terminated lines; a NUL in the input ends its field early */
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = 0;
	for (p = text; nf < MAX_FIELDS;) {
		char *nl = strchr(p, '\n');

		field[nf++] = p;
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	if (nf < HEAD_FIELDS + PAY_FIELDS)
		goto out;
	np = (nf - HEAD_FIELDS) / PAY_FIELDS;
	memset(&b, 0, sizeof(b));
	b.message_id = field[0];
	b.payment_info_id = field[1];
	b.created_ms = strtoull(field[2], NULL, 10);
	b.execution_day = (int32_t)strtol(field[3], NULL, 10);
	b.debtor_name = field[4];
	b.debtor_iban = field[5];
	b.debtor_bic = field[6];
	for (size_t i = 0; i < np; i++) {
		char **f = &field[HEAD_FIELDS + i * PAY_FIELDS];

		pay[i].end_to_end = f[0];
		pay[i].name = f[1];
		pay[i].iban = f[2];
		pay[i].bic = f[3];
		pay[i].amount_cents = strtoll(f[4], NULL, 10);
		pay[i].remittance = f[5];
		overflow |= __builtin_add_overflow(sum, pay[i].amount_cents, &sum);
	}
	b.payments = pay;
	b.npayments = np;

	checked = tpc_sepa_check(&b, err, sizeof(err));
	FUZZ_CHECK(checked == 0 || checked == TPC_EINVAL || checked == TPC_ENOMEM);
	memset(&tot, 0, sizeof(tot));
	rendered = tpc_sepa_render(&b, &xml, &len, &tot, err, sizeof(err));
	FUZZ_CHECK(rendered == 0 || rendered == TPC_EINVAL || rendered == TPC_ENOMEM);
	if (checked != TPC_ENOMEM && rendered != TPC_ENOMEM)
		FUZZ_CHECK((checked == 0) == (rendered == 0));
	if (rendered == 0) {
		xmlDocPtr doc;

		FUZZ_CHECK(!overflow);
		FUZZ_CHECK(xml && strlen(xml) == len);
		FUZZ_CHECK(tot.transactions == np && tot.control_cents == sum);
		xmlSetGenericErrorFunc(NULL, no_errors);
		doc = xmlReadMemory(xml, (int)len, "sepa.xml", NULL, XML_PARSE_NONET);
		FUZZ_CHECK(doc != NULL);
		xmlFreeDoc(doc);
	}
	free(xml);
out:
	free(text);
	return 0;
}
