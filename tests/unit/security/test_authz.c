/* tests/unit/security/test_authz.c - authorization rules (engine/security/authz.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "security/authz.h"
#include "core/codes.h"
#include "core/error.h"
#include "security/keys.h"
#include "security/senders.h"

static tpc_senders_t *reg;

static void setup(void)
{
	tpc_keypair_t k[5];
	char text[2048], err[256];

	for (int i = 0; i < 5; i++)
		cr_assert_eq(tpc_keys_generate(&k[i]), 0);
	snprintf(text, sizeof(text),
	         "[hosp]\nkind = hospital\nkey = %s\nnihii = 18334780004\n"
	         "[cpas]\nkind = cpas\nkey = %s\n"
	         "[fedasil]\nkind = fedasil\nkey = %s\nfeeds = fedasil\n"
	         "[ops]\nkind = ops\nkey = %s\nfeeds = members\n"
	         "[spp-is]\nkind = sppis\nkey = %s\nfeeds = mediprima\n",
	         k[0].public_z85, k[1].public_z85, k[2].public_z85, k[3].public_z85,
	         k[4].public_z85);
	cr_assert_eq(tpc_senders_parse("t", text, strlen(text), &reg, err, sizeof(err)), 0, "%s",
	             err);
}

static void teardown(void)
{
	tpc_senders_unref(&reg);
}

TestSuite(authz, .init = setup, .fini = teardown, .timeout = 30);

static const tpc_sender_t *who(const char *id)
{
	const tpc_sender_t *e = tpc_senders_by_id(reg, id);

	cr_assert_not_null(e, "%s", id);
	return e;
}

static const char *request(const char *id, Tpclear__RequestType t, const char *format)
{
	const char *code = NULL;

	if (tpc_authz_request(who(id), t, format, &code) == 0)
		return NULL;
	cr_assert_not_null(code);
	return code;
}

Test(authz, requests_by_kind)
{
	/* submit: only with NIHII numbers */
	cr_assert_null(request("hosp", TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "efact"));
	cr_assert_str_eq(request("cpas", TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "efact"),
	                 TPC_CODE_MAY_NOT_SUBMIT);
	cr_assert_str_eq(request("cpas", TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, ""),
	                 TPC_CODE_MAY_NOT_SUBMIT, "an attestation is billed by a provider too");
	cr_assert_null(request("hosp", TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, ""));
	/* load: only its feeds; upsert of a feed is the same feed */
	cr_assert_null(request("fedasil", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "fedasil"));
	cr_assert_null(request("fedasil", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "upsert:fedasil"));
	cr_assert_str_eq(request("cpas", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "fedasil"),
	                 TPC_CODE_FEED_NOT_ALLOWED);
	cr_assert_str_eq(request("fedasil", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "members"),
	                 TPC_CODE_FEED_NOT_ALLOWED);
	cr_assert_str_eq(request("hosp", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "upsert:members"),
	                 TPC_CODE_FEED_NOT_ALLOWED);
	cr_assert_null(request("ops", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "members"));
	cr_assert_null(request("hosp", TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "nosuchkind"),
	               "an unknown kind is refused as such (T00017), not as a permission");
	/* payment runs: ops */
	cr_assert_str_eq(request("hosp", TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, ""),
	                 TPC_CODE_OPS_ONLY);
	cr_assert_null(request("ops", TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, ""));
	/* queries and pings: everyone (the ledger scopes queries) */
	cr_assert_null(request("cpas", TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, ""));
	cr_assert_null(request("cpas", TPCLEAR__REQUEST_TYPE__REQUEST_PING, ""));
}

static tpc_view_t v(const char *s)
{
	return (tpc_view_t){s, (uint32_t)strlen(s)};
}

Test(authz, a_sending_bills_only_as_the_senders_numbers)
{
	tpc_invoice_t inv[3];
	tpc_sending_t sd;
	tpc_authz_denial_t why;

	memset(&sd, 0, sizeof(sd));
	memset(inv, 0, sizeof(inv));
	sd.third_party = v("18334780004");
	for (int i = 0; i < 3; i++) {
		inv[i].provider = v("18334780004");
		inv[i].record = (uint32_t)(2 + 10 * i);
	}
	sd.invoices = inv;
	sd.ninvoices = 3;
	cr_assert_eq(tpc_authz_sending(who("hosp"), &sd, &why), 0);
	/* another provider on the third invoice */
	inv[2].provider = v("17385467004");
	cr_assert_eq(tpc_authz_sending(who("hosp"), &sd, &why), TPC_EACCES);
	cr_assert_eq(why.record, 22);
	cr_assert_str_eq(why.field, "invoicing provider");
	cr_assert_eq(memcmp(why.nihii.ptr, "17385467004", 11), 0);
	/* another third party */
	inv[2].provider = v("18334780004");
	sd.third_party = v("17385467004");
	cr_assert_eq(tpc_authz_sending(who("hosp"), &sd, &why), TPC_EACCES);
	cr_assert_str_eq(why.field, "third party");
	cr_assert_eq(why.record, 0);
	/* empty fields bill nobody: clearing refuses such invoices itself */
	sd.third_party = v("");
	inv[1].provider = v("");
	cr_assert_eq(tpc_authz_sending(who("hosp"), &sd, &why), 0);
	/* a malformed number is not the sender's */
	inv[1].provider = v("1833478000");
	cr_assert_eq(tpc_authz_sending(who("hosp"), &sd, &why), TPC_EACCES);
	/* a sender without numbers bills as nobody */
	inv[1].provider = v("18334780004");
	cr_assert_eq(tpc_authz_sending(who("cpas"), &sd, &why), TPC_EACCES);
}

static const char *ledger(const char *id, Tpclear__LedgerRequest__Op op, const char *target,
                          int own)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	const char *code = NULL;

	rq.op = op;
	rq.target = (char *)target;
	if (tpc_authz_ledger(who(id), &rq, own, &code) == 0)
		return NULL;
	return code;
}

Test(authz, ledger_requests_are_scoped_to_the_sender)
{
	const Tpclear__LedgerRequest__Op SHOW = TPCLEAR__LEDGER_REQUEST__OP__SHOW;

	/* balances and exports are the insurer's: ops only */
	cr_assert_str_eq(ledger("hosp", TPCLEAR__LEDGER_REQUEST__OP__BALANCE, "", 0),
	                 TPC_CODE_OPS_ONLY);
	cr_assert_str_eq(ledger("hosp", TPCLEAR__LEDGER_REQUEST__OP__EXPORT, "", 0),
	                 TPC_CODE_OPS_ONLY);
	cr_assert_null(ledger("ops", TPCLEAR__LEDGER_REQUEST__OP__BALANCE, "", 0));
	cr_assert_null(ledger("ops", SHOW, "86103130262", 0), "ops sees a patient's postings");
	/* show: its own sending, its own invoices and payee number */
	cr_assert_null(ledger("hosp", SHOW, "20261100000101", 1));
	cr_assert_null(ledger("hosp", SHOW, "20261100000101", 0),
	               "a key that is not its own is looked up in its scope only");
	cr_assert_null(ledger("hosp", SHOW, "18334780004/000000000401", 0));
	cr_assert_null(ledger("hosp", SHOW, "18334780004", 0));
	cr_assert_str_eq(ledger("hosp", SHOW, "17385467004/000000000401", 0),
	                 TPC_CODE_LEDGER_SCOPE);
	cr_assert_str_eq(ledger("hosp", SHOW, "17385467004", 0), TPC_CODE_LEDGER_SCOPE);
	cr_assert_str_eq(ledger("hosp", SHOW, "86103130262", 0), TPC_CODE_LEDGER_SCOPE,
	                 "never a patient's NISS");
	cr_assert_null(ledger("hosp", SHOW, "17385467004", 1),
	               "unless it is the sender's own sending key");
}

Test(authz, an_institution_gets_its_own_statement_only)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	const char *code = NULL;

	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = "sppis";
	cr_assert_eq(tpc_authz_ledger(who("spp-is"), &rq, 0, &code), 0);
	cr_assert_eq(tpc_authz_ledger(who("ops"), &rq, 0, &code), 0);
	cr_assert_eq(tpc_authz_ledger(who("cpas"), &rq, 0, &code), TPC_EACCES);
	cr_assert_str_eq(code, TPC_CODE_OPS_ONLY);
	cr_assert_eq(tpc_authz_ledger(who("hosp"), &rq, 0, &code), TPC_EACCES);
	rq.institution = "fedasil";
	cr_assert_eq(tpc_authz_ledger(who("spp-is"), &rq, 0, &code), TPC_EACCES,
	             "not another institution's");
}
