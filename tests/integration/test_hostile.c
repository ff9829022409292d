/* tests/integration/test_hostile.c - hostile input against the real daemon (issue 14, item 4):
 * NUL bytes inside protobuf strings, bytes that are not UTF-8 echoed in answers, and reference
 * data replaces that would empty or shrink a kind.
 *
 * The NUL cases are built on the wire by hand: protobuf-c packs C strings, so it cannot write
 * one. Every answer of the UTF-8 cases is read raw and each of its strings checked by a strict
 * validator (core/utf8.h's decoder, RFC 3629); one test also decodes it with Python's protobuf,
 * a strict decoder that refuses a whole message for one bad string.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "core/utf8.h"
#include "daemon.h"
#include "testutil.h"

static tpc_td_t d;

static void teardown(void)
{
	tpc_td_cleanup(&d);
}

TestSuite(hostile, .fini = teardown, .timeout = 120);

/* ---- wire helpers -----------------------------------------------------------------------------
 */

/* A length-delimited field (@p n < 128 bytes) at @p b. @return bytes written. */
static size_t put_bytes(uint8_t *b, unsigned field, const void *s, size_t n)
{
	b[0] = (uint8_t)(field << 3 | 2);
	b[1] = (uint8_t)n;
	memcpy(b + 2, s, n);
	return n + 2;
}

/* An Envelope whose strings are given with their lengths, NUL bytes included. */
static size_t envelope(uint8_t *b, Tpclear__RequestType type, const char *sender, size_t slen,
                       const char *key, size_t klen, const char *format, size_t flen)
{
	size_t n = 0;

	b[n++] = 1 << 3; /* version 1 */
	b[n++] = 1;
	b[n++] = 2 << 3; /* type */
	b[n++] = (uint8_t)type;
	n += put_bytes(b + n, 3, sender, slen);
	n += put_bytes(b + n, 4, key, klen);
	n += put_bytes(b + n, 5, format, flen);
	b[n++] = 6 << 3; /* correlation 7 */
	b[n++] = 7;
	return n;
}

/* Send @p env and @p payload as a request and expect a refusal receipt with @p code. */
static void expect_refused_raw(void *s, const uint8_t *env, size_t elen, const void *payload,
                               size_t plen, const char *code)
{
	const void *frames[2] = {env, payload};
	size_t lens[2] = {elen, plen};
	Tpclear__Answer *a;

	cr_assert_eq(tpc_td_send_raw(s, frames, lens, 2), 0);
	a = tpc_td_recv(s, 10000, NULL, NULL);
	cr_assert_not_null(a, "no answer");
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_REFUSED);
	cr_assert_str_eq(a->receipt->code, code, "code %s: %s", a->receipt->code,
	                 a->receipt->reason);
	tpclear__answer__free_unpacked(a, NULL);
}

/* The final answer of a request (receipts of reception skipped). */
static Tpclear__Answer *final_answer(void *s)
{
	for (;;) {
		Tpclear__Answer *a = tpc_td_recv(s, 30000, NULL, NULL);

		cr_assert_not_null(a, "no answer");
		if (a->body_case != TPCLEAR__ANSWER__BODY_RECEIPT ||
		    a->receipt->status != TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED)
			return a;
		tpclear__answer__free_unpacked(a, NULL);
	}
}

/* Replace the first @p n bytes equal to @p what in @p buf (@p len) with @p with. */
static void patch(uint8_t *buf, size_t len, const char *what, const char *with, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, what, n) == 0) {
			memcpy(buf + i, with, n);
			return;
		}
	cr_assert_fail("'%s' not found", what);
}

/* ---- NUL bytes --------------------------------------------------------------------------------
 */

Test(hostile, nul_bytes_in_envelope_strings_are_refused_not_cut)
{
	size_t len, n;
	uint8_t *p = tpc_td_canonical(41, 1, 1, &len), env[256];
	Tpclear__Answer *a;
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	/* "K1\0aaa" was stored as "K1" (issue 14), so a later "K1" became its replay */
	n = envelope(env, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", 1, "K1\0aaa", 6, "canonical",
	             9);
	expect_refused_raw(s, env, n, p, len, "T00006");
	n = envelope(env, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h\0x", 3, "K2", 2, "canonical",
	             9);
	expect_refused_raw(s, env, n, p, len, "T00008");
	n = envelope(env, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", 1, "K3", 2, "canonical\0junk",
	             14);
	expect_refused_raw(s, env, n, p, len, "T00003");
	n = envelope(env, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "h", 1, "m.csv", 5, "members\0x", 9);
	expect_refused_raw(s, env, n, "niss\n", 5, "T00017");
	n = envelope(env, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "h", 1, "K1\0", 3, "", 0);
	expect_refused_raw(s, env, n, "", 0, "T00006");
	/* nothing was stored under the cut key: K1 is new, and accepted */
	a = tpc_td_submit(s, "h", "K1", "canonical", p, len, NULL);
	cr_assert(a && a->body_case == TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->replay, 0, "K1 is a first submission");
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_ACCEPTED);
	tpclear__answer__free_unpacked(a, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* Send @p m, packed with @p what patched into @p with (a NUL inside), as a request of @p type;
 * its final answer must be a refusal with @p code. */
static void refused_with_nul(void *s, Tpclear__RequestType type, const ProtobufCMessage *m,
                             const char *what, const char *with, size_t n, const char *code)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len);
	Tpclear__Answer *a;

	protobuf_c_message_pack(m, buf);
	patch(buf, len, what, with, n);
	cr_assert_eq(tpc_td_send(s, type, "h", "nul", "", 1, buf, len), 0);
	a = final_answer(s);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, code);
	tpclear__answer__free_unpacked(a, NULL);
	free(buf);
}

Test(hostile, nul_bytes_inside_protobuf_payloads_are_refused)
{
	size_t len, plen;
	uint8_t *p = tpc_td_canonical(42, 1, 1, &len), *buf;
	Tpclear__CanonicalSending *cs = tpclear__canonical_sending__unpack(NULL, len, p);
	Tpclear__PayrunRequest pr = TPCLEAR__PAYRUN_REQUEST__INIT;
	Tpclear__LedgerRequest lr = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;
	char *ref;
	void *s;

	cr_assert_not_null(cs);
	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	/* the canonical sending's reference, "REF-A\0B" on the wire */
	ref = cs->reference;
	cs->reference = "REF-AXB";
	plen = tpclear__canonical_sending__get_packed_size(cs);
	buf = malloc(plen);
	tpclear__canonical_sending__pack(cs, buf);
	cs->reference = ref; /* unpacked, freed with the message */
	patch(buf, plen, "REF-AXB", "REF-A\0B", 7);
	a = tpc_td_submit(s, "h", "NUL1", "canonical", buf, plen, NULL);
	cr_assert(a && a->body_case == TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_eq(a->result->outcome, TPCLEAR__OUTCOME__OUTCOME_REFUSED);
	cr_assert_str_eq(a->result->findings[0]->code, "T20001");
	tpclear__answer__free_unpacked(a, NULL);
	free(buf);
	/* a payment run's request_id and a ledger target */
	pr.request_id = "RUNXID";
	refused_with_nul(s, TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, &pr.base, "RUNXID", "RUN\0ID", 6,
	                 "T00023");
	lr.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	lr.target = "NUL1XZZ";
	refused_with_nul(s, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, &lr.base, "NUL1XZZ", "NUL1\0ZZ",
	                 7, "T00022");
	tpclear__canonical_sending__free_unpacked(cs, NULL);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
	free(p);
}

/* ---- UTF-8 in answers -------------------------------------------------------------------------
 */

/* Every string of @p m (sub-messages included) is valid UTF-8; @p path names the first that is
 * not in the failure. */
static void all_strings_valid(const ProtobufCMessage *m, const char *path)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;

	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const char *at = (const char *)m + f->offset;
		size_t count = 1;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)((const char *)m + f->quantifier_offset);
			at = *(const char *const *)at;
		}
		for (size_t k = 0; at && k < count; k++) {
			const void *v = ((const void *const *)at)[k];

			if (!v)
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE)
				all_strings_valid(v, f->name);
			else
				cr_assert(tpc_utf8_valid(v, strlen(v)), "%s.%s is not UTF-8: %s",
				          path, f->name, (const char *)v);
		}
	}
}

/* The frames of the next answer, raw: frame 1 (the Answer) into @p buf. @return its length. */
static size_t recv_raw(void *s, uint8_t *buf, size_t cap)
{
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	int more = 1, first = 1;
	size_t n = 0;

	cr_assert_eq(zmq_poll(&it, 1, 30000), 1, "no answer");
	while (more) {
		zmq_msg_t m;
		size_t sz = sizeof(more);

		zmq_msg_init(&m);
		cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
		if (first) {
			n = zmq_msg_size(&m);
			cr_assert_leq(n, cap);
			memcpy(buf, zmq_msg_data(&m), n);
			first = 0;
		}
		zmq_msg_close(&m);
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
	}
	return n;
}

/* The Result of an eFact invoice whose patient (NISS) zone starts with a byte 0xFF: the
 * engine echoes the zone in InvoiceResult.patient. @return the raw final answer (malloc'd). */
static uint8_t *bad_byte_result(void *s, size_t *alen)
{
	size_t len;
	uint8_t *p = tpc_td_efact_invoice("20261100009001", "9001", '0', "", 1, 20261103, &len);
	uint8_t *buf = malloc(1 << 20);
	Tpclear__Answer *a;

	patch(p, len, "86103130262",
	      "\xff"
	      "6103130262",
	      11);
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "h", "FF1", "efact", 9, p, len),
	    0);
	for (;;) {
		*alen = recv_raw(s, buf, 1 << 20);
		a = tpclear__answer__unpack(NULL, *alen, buf);
		cr_assert_not_null(a);
		if (a->body_case != TPCLEAR__ANSWER__BODY_RECEIPT)
			break;
		tpclear__answer__free_unpacked(a, NULL);
	}
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	cr_assert_str_eq(a->result->invoice_results[0]->patient, "\\xFF6103130262",
	                 "the bad byte escaped, the rest kept");
	all_strings_valid(&a->base, "Answer");
	tpclear__answer__free_unpacked(a, NULL);
	free(p);
	return buf;
}

Test(hostile, bytes_that_are_not_utf8_are_escaped_in_every_answer)
{
	char csv[] = "niss,valid_from,valid_to,ct1,ct2,iban\n86103130262,\xff\xfe,,1\n";
	uint8_t *tgt;
	size_t alen, tlen;
	Tpclear__LedgerRequest lr = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a;
	void *s;

	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	free(bad_byte_result(s, &alen));
	/* a reference data file with bytes FF FE: the refusal quotes the line */
	cr_assert_eq(tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "h", "ff.csv", "members",
	                         3, csv, strlen(csv)),
	             0);
	a = final_answer(s);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RECEIPT);
	cr_assert_str_eq(a->receipt->code, "T00018");
	all_strings_valid(&a->base, "Answer");
	tpclear__answer__free_unpacked(a, NULL);
	/* a ledger SHOW echoes its target, here "\xC3(" (a cut two-byte character) */
	lr.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
	lr.target = "\xc3(";
	tlen = tpclear__ledger_request__get_packed_size(&lr);
	tgt = malloc(tlen);
	tpclear__ledger_request__pack(&lr, tgt);
	cr_assert_eq(
	    tpc_td_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, "h", "show", "", 4, tgt, tlen),
	    0);
	a = final_answer(s);
	all_strings_valid(&a->base, "Answer");
	tpclear__answer__free_unpacked(a, NULL);
	free(tgt);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* Python's protobuf refuses a whole message when one string is not UTF-8 (as Go and Java do):
 * the Result of the 0xFF sending must decode with it. Needs protoc-c (the descriptor set) and
 * python3-protobuf (deploy/deps.sh installs both). */
Test(hostile, a_strict_decoder_accepts_the_result)
{
	char cmd[2048], desc[400], ans[400];
	const char *py = NULL;
	uint8_t *raw;
	size_t alen;
	FILE *f;
	void *s;

	if (system("python3 -c 'import google.protobuf' 2>/dev/null") == 0)
		py = "python3";
	else if (system("/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null") == 0)
		py = "/usr/bin/python3";
	if (!py || system("protoc-c --version >/dev/null 2>&1") != 0)
		cr_skip_test("python3-protobuf or protoc-c missing: no strict decoder to ask "
		             "(the strings are still checked by bytes_that_are_not_utf8_...)");
	tpc_td_start_or_fail(&d, NULL);
	s = tpc_td_connect(&d);
	raw = bad_byte_result(s, &alen);
	snprintf(desc, sizeof(desc), "%s/tpclear.desc", d.dir);
	snprintf(ans, sizeof(ans), "%s/answer.bin", d.dir);
	f = fopen(ans, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(raw, 1, alen, f), alen);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "protoc-c -I'%s/proto' --descriptor_set_out='%s' tpclear.proto && %s -c '"
	         "import sys\n"
	         "from google.protobuf import descriptor_pb2, descriptor_pool, message_factory\n"
	         "fds = descriptor_pb2.FileDescriptorSet()\n"
	         "fds.ParseFromString(open(sys.argv[1], \"rb\").read())\n"
	         "pool = descriptor_pool.DescriptorPool()\n"
	         "[pool.Add(x) for x in fds.file]\n"
	         "cls = message_factory.MessageFactory(pool).GetPrototype("
	         "pool.FindMessageTypeByName(\"tpclear.Answer\"))\n"
	         "a = cls.FromString(open(sys.argv[2], \"rb\").read())\n"
	         "assert a.result.invoice_results[0].patient == \"\\\\xFF6103130262\"\n"
	         "' '%s' '%s'",
	         getenv("TPC_SOURCE_DIR"), desc, py, desc, ans);
	cr_assert_eq(system(cmd), 0, "the strict decoder refused the answer: %s", cmd);
	free(raw);
	zmq_close(s);
	cr_assert_eq(tpc_td_stop(&d), 0);
}

/* ---- replace guard ----------------------------------------------------------------------------
 */

/* Run tpclear with @p args; its stdout into @p out (malloc'd). @return the exit status. */
static int tpclear(const char *args, char **out)
{
	char cmd[2048], path[400];
	size_t len;
	int st;

	snprintf(path, sizeof(path), "%s/out.txt", d.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --endpoint '%s' --quiet %s %s >'%s' 2>&1",
	         getenv("TPC_TPCLEAR"), d.intake, tpc_td_cli_keys(&d, NULL), args, path);
	st = system(cmd);
	*out = (char *)tpc_test_slurp(path, &len);
	cr_assert_not_null(*out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* DIR/NAME.csv: the header and the first @p rows rows of the generated members. */
static void members_file(const char *name, int rows)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "head -n %d '%s/gen/members.csv' > '%s/%s.csv'", rows + 1, d.dir,
	         d.dir, name);
	cr_assert_eq(system(cmd), 0);
}

static void load_expect(const char *opts, const char *name, int want_rc, const char *want)
{
	char args[600], *out;
	int rc;

	snprintf(args, sizeof(args), "load %s members '%s/%s.csv'", opts, d.dir, name);
	rc = tpclear(args, &out);
	cr_assert_eq(rc, want_rc, "exit %d: %s", rc, out);
	cr_assert(strstr(out, want), "'%s' not in: %s", want, out);
	free(out);
}

Test(hostile, a_replace_that_would_empty_or_shrink_a_kind_is_refused_unless_forced)
{
	char cmd[1200];

	tpc_td_start_or_fail(&d, NULL);
	snprintf(cmd, sizeof(cmd),
	         "'%s/tpcgen' refdata --members 100 --out-dir '%s/gen' >/dev/null",
	         getenv("TPC_BUILD_DIR"), d.dir);
	cr_assert_eq(system(cmd), 0);
	members_file("m100", 100);
	members_file("m95", 95);
	members_file("m47", 47);
	members_file("empty", 0);
	load_expect("", "m100", 0, "100 rows");
	/* 5 % fewer: under the 10 % of max_load_drop_percent */
	load_expect("", "m95", 0, "95 rows");
	/* half of them: refused, the reason naming the counts; nothing changed */
	load_expect("", "m47", 1, "T00060");
	load_expect("", "m47", 1, "47 rows where 95 members rows are stored");
	/* header only: refused whatever the share, unless --force; a delta of nothing is taken */
	load_expect("", "empty", 1, "T00061");
	load_expect("--upsert", "empty", 0, "0 rows");
	load_expect("--force", "m47", 0, "47 rows");
	load_expect("--force", "empty", 0, "0 rows");
	cr_assert_eq(tpc_td_metric(&d, "tpclear_refdata_loads_total") >= 4, 1);
	cr_assert_eq(tpc_td_stop(&d), 0);
}
