/* tests/support/ledgerfix.c - a real ledger fed through the worker path (see ledgerfix.h). */
#include "ledgerfix.h"

#include "canonical/canonical.h"
#include "core/error.h"
#include "testutil.h"
#include "pipeline/worker.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

lfx_t lfx;

#define MAX_INVOICES 16
#define MAX_LINES    64

/* The canonical sending being built: protobuf-c structs pointing at strings kept here. */
static struct {
	char key[TPC_KEY_MAX];
	Tpclear__CanonicalInvoice inv[MAX_INVOICES];
	Tpclear__CanonicalInvoice *invp[MAX_INVOICES];
	Tpclear__CanonicalLine ln[MAX_LINES];
	Tpclear__CanonicalLine *lnp[MAX_LINES];
	char strs[MAX_INVOICES * 4 + MAX_LINES][32]; /* provider, number, previous, patient */
	size_t ninv, nln, nstr;
} sb;

static void *arena_alloc(void *data, size_t size)
{
	return tpc_arena_alloc(data, size ? size : 1, 8);
}

static void arena_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

void lfx_setup(void)
{
	memset(&lfx, 0, sizeof(lfx));
	lfx.dir = tpc_test_tmpdir();
	cr_assert_not_null(lfx.dir);
	tpc_config_defaults(&lfx.cfg);
	snprintf(lfx.cfg.data_dir, sizeof(lfx.cfg.data_dir), "%s/ledger", lfx.dir);
	lfx.cfg.max_refused_percent = 100; /* lines are judged one by one in these suites */
	cr_assert_eq(tpc_metrics_new(8, &lfx.metrics), 0);
	lfx.shard = tpc_metrics_shard(lfx.metrics);
	cr_assert_not_null(lfx.shard);
}

void lfx_teardown(void)
{
	lfx_close();
	for (size_t i = 0; i < LFX_MAX_JOBS; i++)
		lfx_free_job(lfx.live[i]);
	tpc_metrics_free(&lfx.metrics);
	tpc_test_rmtree(lfx.dir);
	free(lfx.dir);
	lfx.dir = NULL;
}

void lfx_open_stopped(void)
{
	int rc = tpc_writer_open(&lfx.cfg, lfx.metrics, &lfx.ledger);

	cr_assert_eq(rc, 0, "open: %s", tpc_strerror(rc));
	cr_assert_eq(tpc_store_reader_new(tpc_writer_store(lfx.ledger), &lfx.reader), 0);
	cr_assert_eq(tpc_queue_new(0, 0, &lfx.in), 0);
	cr_assert_eq(tpc_queue_new(0, 0, &lfx.done), 0);
}

void lfx_start(void)
{
	cr_assert_eq(tpc_writer_start(lfx.ledger, lfx.in, lfx.done), 0);
}

void lfx_open(void)
{
	lfx_open_stopped();
	lfx_start();
}

void lfx_close(void)
{
	if (lfx.in)
		tpc_queue_close(lfx.in);
	tpc_writer_join(lfx.ledger);
	tpc_store_reader_free(&lfx.reader);
	tpc_writer_free(&lfx.ledger);
	tpc_queue_free(&lfx.in);
	tpc_queue_free(&lfx.done);
}

tpc_job_t *lfx_job(enum tpc_job_type type, const char *key)
{
	tpc_job_t *j = calloc(1, sizeof(*j));
	size_t i;

	cr_assert_not_null(j);
	for (i = 0; i < LFX_MAX_JOBS && lfx.live[i]; i++)
		;
	cr_assert_lt(i, LFX_MAX_JOBS, "too many live jobs");
	lfx.live[i] = j;
	cr_assert_eq(tpc_arena_new(64 * 1024, 0, &j->arena), 0);
	zmq_msg_init(&j->payload);
	j->type = type;
	snprintf(j->sender, sizeof(j->sender), "%s", LFX_SENDER);
	snprintf(j->key, sizeof(j->key), "%s", key);
	return j;
}

void lfx_free_job(tpc_job_t *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < LFX_MAX_JOBS; i++)
		if (lfx.live[i] == j)
			lfx.live[i] = NULL;
	zmq_msg_close(&j->payload);
	tpc_arena_free(&j->arena);
	free(j);
}

void lfx_set_payload(tpc_job_t *j, const void *data, size_t len)
{
	zmq_msg_close(&j->payload);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	if (len)
		memcpy(zmq_msg_data(&j->payload), data, len);
}

void lfx_roundtrip(tpc_job_t *j)
{
	tpc_qnode_t *n;

	cr_assert_eq(tpc_queue_push(lfx.in, &j->node), 0);
	cr_assert_eq(tpc_queue_pop(lfx.done, &n), 0);
	cr_assert_eq(tpc_job_of(n), j, "another job came back");
}

Tpclear__Answer *lfx_answer(tpc_job_t *j)
{
	ProtobufCAllocator pa = {arena_alloc, arena_free, j->arena};
	Tpclear__Answer *a;

	cr_assert(j->answer_ready, "no answer (status %d, %s)", j->status,
	          j->fail_code ? j->fail_code : "");
	cr_assert_not_null(j->result);
	a = tpclear__answer__unpack(&pa, j->result_len, j->result);
	cr_assert_not_null(a, "the answer does not parse");
	cr_assert_eq(a->version, 1);
	return a;
}

tpc_job_t *lfx_load_job(enum tpc_ref_kind kind, const char *csv)
{
	tpc_job_t *j = lfx_job(TPC_JOB_LOAD, tpc_refdata_kind_name(kind));

	j->table.kind = kind;
	/* the fixture's loads are deliberate replaces (a provider dropped, a kind emptied): forced
	 * past the guard of engine/refdata/refdata.h, which tests/integration/test_hostile.c tests
	 */
	j->load_force = 1;
	lfx_set_payload(j, csv, strlen(csv));
	cr_assert_eq(tpc_worker_process(lfx.reader, lfx.shard, &lfx.cfg, j), 0,
	             "load %s refused: %s", tpc_refdata_kind_name(kind),
	             j->fail_reason ? j->fail_reason : "");
	cr_assert_eq(j->status, TPC_JOB_CLEARED);
	return j;
}

void lfx_commit(tpc_job_t *j)
{
	lfx_roundtrip(j);
	cr_assert_eq(j->status, TPC_JOB_COMMITTED, "status %d (%s)", j->status,
	             j->fail_code ? j->fail_code : "");
	lfx_free_job(j);
}

void lfx_load(enum tpc_ref_kind kind, const char *csv)
{
	lfx_commit(lfx_load_job(kind, csv));
}

void lfx_load_samples(const char *providers_csv)
{
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		char rel[64];
		unsigned char *buf;
		size_t len = 0;

		if (k == TPC_REF_PROVIDERS && providers_csv) {
			lfx_load(TPC_REF_PROVIDERS, providers_csv);
			continue;
		}
		snprintf(rel, sizeof(rel), "config/refdata/%s.csv",
		         tpc_refdata_kind_name((enum tpc_ref_kind)k));
		buf = tpc_test_slurp(tpc_test_src(rel), &len);
		cr_assert_not_null(buf, "cannot read %s", tpc_test_src(rel));
		lfx_load((enum tpc_ref_kind)k, (const char *)buf);
		free(buf);
	}
}

static char *keep(const char *s)
{
	cr_assert_lt(sb.nstr, sizeof(sb.strs) / sizeof(sb.strs[0]));
	cr_assert_lt(strlen(s), sizeof(sb.strs[0]));
	return strcpy(sb.strs[sb.nstr++], s);
}

void lfx_begin(const char *key)
{
	memset(&sb, 0, sizeof(sb));
	snprintf(sb.key, sizeof(sb.key), "%s", key);
}

void lfx_invoice(const char *provider, const char *number, int invoicing, const char *previous)
{
	Tpclear__CanonicalInvoice *inv;

	cr_assert_lt(sb.ninv, MAX_INVOICES);
	inv = &sb.inv[sb.ninv];
	tpclear__canonical_invoice__init(inv);
	sb.invp[sb.ninv++] = inv;
	inv->patient = LFX_PATIENT;
	inv->provider = keep(provider);
	inv->number = keep(number);
	inv->invoicing = invoicing;
	inv->previous = previous ? keep(previous) : "";
	inv->mutuality = "100";
	inv->lines = &sb.lnp[sb.nln]; /* its lines follow in lnp[] */
}

void lfx_invoice_for(const char *niss, int kind)
{
	Tpclear__CanonicalInvoice *inv;

	cr_assert_gt(sb.ninv, 0, "lfx_invoice first");
	inv = &sb.inv[sb.ninv - 1];
	inv->patient = keep(niss);
	inv->kind = kind;
}

void lfx_line(const char *ref, int units, int64_t insurer_cents, int64_t patient_cents)
{
	Tpclear__CanonicalInvoice *inv;
	Tpclear__CanonicalLine *l;

	cr_assert_gt(sb.ninv, 0, "a line needs an invoice");
	cr_assert_lt(sb.nln, MAX_LINES);
	inv = &sb.inv[sb.ninv - 1];
	l = &sb.ln[sb.nln];
	tpclear__canonical_line__init(l);
	sb.lnp[sb.nln++] = l;
	inv->n_lines++;
	l->code = LFX_CODE;
	l->date = LFX_DATE;
	l->units = units;
	l->insurer_cents = insurer_cents;
	l->patient_cents = patient_cents;
	l->reference = keep(ref);
}

void lfx_good_line(const char *ref, int units)
{
	lfx_line(ref, units, (int64_t)units * LFX_INSURER, (int64_t)units * LFX_SHARE);
}

tpc_job_t *lfx_judge(void)
{
	tpc_job_t *j = lfx_process();

	cr_assert_eq(j->status, TPC_JOB_CLEARED, "%s: status %d (%s)", sb.key, j->status,
	             j->fail_code ? j->fail_code : "");
	return j;
}

tpc_job_t *lfx_process(void)
{
	Tpclear__CanonicalSending cs = TPCLEAR__CANONICAL_SENDING__INIT;
	tpc_job_t *j = lfx_job(TPC_JOB_SUBMIT, sb.key);
	struct timespec ts;
	size_t len;

	cs.reference = "12345678901234";
	cs.third_party = LFX_HOSPITAL;
	cs.created = LFX_CREATED;
	cs.year_month = LFX_CREATED / 100;
	cs.n_invoices = sb.ninv;
	cs.invoices = sb.invp;
	len = tpclear__canonical_sending__get_packed_size(&cs);
	zmq_msg_close(&j->payload);
	cr_assert_eq(zmq_msg_init_size(&j->payload, len), 0);
	cr_assert_eq(tpclear__canonical_sending__pack(&cs, zmq_msg_data(&j->payload)), len);
	j->adapter = &tpc_canonical_adapter;
	clock_gettime(CLOCK_REALTIME, &ts);
	j->received_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	cr_assert_geq(tpc_worker_process(lfx.reader, lfx.shard, &lfx.cfg, j), 0,
	              "%s: status %d (%s)", sb.key, j->status, j->fail_code ? j->fail_code : "");
	return j;
}

tpc_job_t *lfx_submit(void)
{
	tpc_job_t *j = lfx_judge();

	lfx_roundtrip(j);
	cr_assert_eq(j->status, TPC_JOB_COMMITTED, "%s: status %d (%s)", j->key, j->status,
	             j->fail_code ? j->fail_code : "");
	return j;
}

tpc_job_t *lfx_payrun_job(int32_t until, unsigned budget)
{
	tpc_job_t *j = lfx_job(TPC_JOB_PAYRUN, "payrun");

	j->status = TPC_JOB_CLEARED; /* as process_payrun leaves a checked request */
	j->payrun_until = until;
	j->payrun_budget = (uint8_t)budget;
	j->correlation = 77;
	return j;
}

tpc_job_t *lfx_payrun(int32_t until, unsigned budget)
{
	tpc_job_t *j = lfx_payrun_job(until, budget);

	lfx_roundtrip(j);
	cr_assert_eq(j->status, TPC_JOB_COMMITTED, "payrun: status %d (%s)", j->status,
	             j->fail_code ? j->fail_code : "");
	return j;
}

Tpclear__PayrunResult *lfx_payrun_result(tpc_job_t *j)
{
	Tpclear__Answer *a = lfx_answer(j);

	cr_assert_eq(a->correlation, 77);
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_PAYRUN, "body %d", a->body_case);
	cr_assert_not_null(a->payrun);
	return a->payrun;
}

uint64_t lfx_postings_zero(int64_t *credited)
{
	int64_t sum = 1, cr = 0;
	uint64_t n = 0;

	cr_assert_eq(tpc_ledger_postings_sum(lfx.reader, &sum, &cr, &n), 0);
	cr_assert_eq(sum, 0, "the postings sum to %lld", (long long)sum);
	if (credited)
		*credited = cr;
	return n;
}

int32_t lfx_day_of_ms(uint64_t ms)
{
	return (int32_t)(ms / 86400000u);
}

int32_t lfx_yyyymmdd(int32_t day)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}
