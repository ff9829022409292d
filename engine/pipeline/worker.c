/* engine/pipeline/worker.c - worker threads (see worker.h).
 *
 * DESIGN: a worker owns its ledger reader and metrics shard and borrows each job's arena while
 * it holds the job. The per-line path (decode, judge, pack) allocates only from that arena,
 * which the loop thread recycles with the job: no malloc per line or per sending once warm.
 *
 * Return convention of the process_* functions: 0 sends the job on to the ledger writer (a
 * verdict to make durable), 1 straight to the done queue (a failure, a replay, a query: nothing
 * to write). A NULL reader means no ledger: the unit tests drive tpc_worker_process() that way
 * (tests/unit/pipeline/test_worker.c), so every use of it is guarded.
 */
#include "pipeline/worker.h"

#include "clearing/budget.h"
#include "clearing/clear.h"
#include "clearing/schemes.h"
#include "core/codes.h"
#include "common/check.h"
#include "common/date.h"
#include "common/pb.h"
#include "core/error.h"
#include "core/log.h"
#include "ledger/attest.h"
#include "ledger/credit.h"
#include "ledger/ledger_query.h"
#include "pipeline/result.h"
#include "store/records.h"
#include "security/security.h"
#include "store/payload.h"
#include "clearing/tariff.h"
#include "tpclear.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <lz4.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct worker {
	pthread_t thread;
	struct tpc_workers *pool;
	tpc_ledger_reader_t *reader;
	tpc_metrics_shard_t *shard;
};

struct tpc_workers {
	int n;
	enum tpc_workers_lane lane;
	const tpc_config_t *cfg;
	tpc_queue_t *jobs, *to_ledger, *done;
	struct worker *w;
	tpc_attest_t *attest; /* the express lane's journal (ledger/attest.h), or NULL */
};

/* Wall clock, not monotonic: validated_ms is a date stored with the answer (records.c). */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The stage timestamps (job.h): per sending, not per line. */
static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Days since 1970-01-01 of the local calendar day, the unit of tpc_tariff_apply()'s as-of day.
 * Local, not UTC: care dates and tariff validity are Belgian calendar days, and between
 * midnight and 01:00 (02:00 in summer) Brussels the UTC day is still yesterday, which would judge
 * a line against yesterday's tariffs and refuse care given today as "in the future". */
static int32_t today(void)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!localtime_r(&now, &tm))
		return (int32_t)(now / 86400);
	return (int32_t)((now + tm.tm_gmtoff) / 86400);
}

static void fail(tpc_job_t *job, const char *code)
{
	job->status = TPC_JOB_FAILED;
	job->fail_code = code;
	job->fail_reason = tpc_codes_describe(code);
}

static int process_query(tpc_ledger_reader_t *reader, tpc_job_t *job)
{
	tpc_stored_t st;
	int rc = tpc_ledger_lookup(reader, job->sender, job->key, job->arena, &st);

	/* absent and unreadable are told apart: the first is the sender's (a key never
	 * submitted), the second ours (a damaged or unreadable record) */
	if (rc == TPC_ENOENT) {
		fail(job, TPC_CODE_UNKNOWN_KEY);
		return 1;
	}
	if (rc) {
		fail(job,
		     rc == TPC_EDAMAGED ? TPC_CODE_STORED_DAMAGED : TPC_CODE_STORED_UNREADABLE);
		return 1;
	}
	job->status = TPC_JOB_FOUND;
	job->sequence = st.sequence;
	job->committed_ms = st.committed_ms;
	job->result = (uint8_t *)st.result;
	job->result_len = st.result_len;
	job->native = st.native;
	return 1;
}

/* Parse a whole reference data file; the writer replaces the kind with it. */
static int process_load(tpc_job_t *job)
{
	char err[512];
	int rc = tpc_refdata_parse(job->table.kind, job->key, zmq_msg_data(&job->payload),
	                           zmq_msg_size(&job->payload), job->arena, &job->table, err,
	                           sizeof(err));

	/* the parser's message names file, line and column: it goes back to the sender as the
	 * reason, copied into the arena since err dies with this frame */
	if (rc == TPC_EINVAL) {
		fail(job, TPC_CODE_BAD_REFDATA);
		job->fail_reason = tpc_arena_strndup(job->arena, err, strlen(err));
		if (!job->fail_reason)
			job->fail_reason = tpc_codes_describe(TPC_CODE_BAD_REFDATA);
		return 1;
	}
	if (rc) {
		fail(job, TPC_CODE_TOO_MANY);
		return 1;
	}
	job->status = TPC_JOB_CLEARED;
	return 0;
}

/* What the ledger stores of the answer, compressed here on a worker (the one writer thread
 * then writes about a tenth of the bytes): result and native as one LZ4 block in the arena.
 * Small or incompressible answers, or an arena at its bound, are stored as they are. */
static void store_compressed(tpc_job_t *job)
{
	size_t raw = job->result_len + (job->native.ptr ? job->native.len : 0);
	char *src, *dst;
	int cap, n;

	job->stored = NULL;
	job->stored_len = 0;
	if (raw < 256 || raw > (size_t)LZ4_MAX_INPUT_SIZE)
		return;
	cap = LZ4_compressBound((int)raw);
	/* one allocation, the block first and the copy behind it, so that tpc_arena_shrink()
	 * gives back both the copy and the unused bound once the block's size is known */
	dst = tpc_arena_alloc_uninit(job->arena, (size_t)cap + raw, 8);
	if (!dst)
		return;
	src = dst + cap;
	memcpy(src, job->result, job->result_len);
	if (job->native.ptr)
		memcpy(src + job->result_len, job->native.ptr, job->native.len);
	/* result and native are copied side by side first, so they make one block that
	 * records.c decompresses in one call into one buffer. Under 1/8 saved, the raw form is
	 * kept: every later read would pay the decompression for little space. */
	n = LZ4_compress_fast(src, dst, (int)raw, cap, TPC_PAYLOAD_LZ4_ACCELERATION);
	if (n <= 0 || (size_t)n >= raw - raw / 8) {
		tpc_arena_shrink(job->arena, dst, 0);
		return; /* not worth it */
	}
	tpc_arena_shrink(job->arena, dst, (size_t)n);
	job->stored = (const uint8_t *)dst;
	job->stored_len = (size_t)n;
}

/* What the ledger keeps of the payload ("payloads", store/payload.h): the sending as received,
 * for a format whose payments answer natively (encode_settlement: the eFact 920900 echoes the
 * records it settles from it), compressed here like the answer. A sending refused at reception
 * is never paid, so nothing is kept of it. */
static void store_payload(tpc_job_t *job, const uint8_t *buf, size_t len)
{
	job->payload_stored = NULL;
	job->payload_stored_len = 0;
	job->keep_payload = job->adapter->encode_settlement && !job->sending.blocked;
	if (job->keep_payload && tpc_payload_encode(buf, len, job->arena, &job->payload_stored,
	                                            &job->payload_stored_len))
		job->payload_stored = NULL; /* no room: the writer stores it raw */
}

/* Check a payment run request; the writer runs it. */
static int process_payrun(tpc_job_t *job)
{
	Tpclear__PayrunRequest *rq;
	enum tpc_budget b = TPC_BUDGET_NONE;
	int32_t until = INT32_MAX;
	char why[160] = "", reason[200];
	int bad = 0;

	/* malloc'd by protobuf-c (NULL allocator), not the arena: payment runs are rare, and the
	 * message is freed before this function returns, after its fields were copied */
	rq = tpclear__payrun_request__unpack(NULL, zmq_msg_size(&job->payload),
	                                     zmq_msg_data(&job->payload));
	/* a NUL inside the budget or request_id would be cut off unseen (adapters/common/pb.h) */
	if (!rq || tpc_pb_nul_string(&tpclear__payrun_request__descriptor,
	                             zmq_msg_data(&job->payload), zmq_msg_size(&job->payload))) {
		if (rq)
			tpclear__payrun_request__free_unpacked(rq, NULL);
		fail(job, TPC_CODE_BAD_PAYRUN);
		return 1;
	}
	if (rq->budget[0] && tpc_budget_by_name(rq->budget, &b))
		bad = 1;
	/* the calendar's rules and wording are the client's too (common/date.h) */
	if (rq->until < 0)
		bad = 1;
	else if (rq->until && tpc_date_check((uint32_t)rq->until, &until, why, sizeof(why)))
		bad = 1;
	if (!tpc_check_token(rq->request_id, 0, 64)) /* "" = none */
		bad = 1;
	else
		snprintf(job->payrun_id, sizeof(job->payrun_id), "%s", rq->request_id);
	tpclear__payrun_request__free_unpacked(rq, NULL);
	if (bad) {
		fail(job, TPC_CODE_BAD_PAYRUN);
		snprintf(reason, sizeof(reason), "payment run refused: until %s", why);
		if (why[0])
			job->fail_reason = tpc_arena_strndup(job->arena, reason, strlen(reason));
		if (!job->fail_reason)
			job->fail_reason = tpc_codes_describe(TPC_CODE_BAD_PAYRUN);
		return 1;
	}
	job->payrun_until = until;
	job->payrun_budget = (uint8_t)b;
	job->status = TPC_JOB_CLEARED;
	return 0;
}

/* ---- authorization after decoding (engine/security/authz.h) -------------------------------- */

/* The worker-side checks live here, not in security/, because the ledger check needs a ledger
 * reader and only workers hold one: security/ decides at intake and owns the counting, the
 * pipeline applies the same rules to what decoding reveals. Both return 1 when the job failed. */

/* Refuse a decoded sending that bills as a NIHII number its sender may not (curve mode): the
 * whole sending is refused before any tariff, with a reason naming the number. */
static int authorize_sending(tpc_job_t *job, tpc_metrics_shard_t *shard)
{
	const tpc_sender_t *e = job->auth.sender;
	tpc_authz_denial_t why;
	char reason[320], where[64];

	/* no entry: plain mode, where the envelope's sender is believed and there is no registry
	 * to check against (docs/security.md, Modes) */
	if (!e || tpc_authz_sending(e, &job->sending, &why) == 0)
		return 0;
	if (why.record)
		snprintf(where, sizeof(where), "%s, record %u", why.field, (unsigned)why.record);
	else
		snprintf(where, sizeof(where), "%s", why.field);
	snprintf(reason, sizeof(reason),
	         "the sending bills as NIHII %.*s (%s) and sender '%s' is not registered for it: "
	         "the whole sending is refused",
	         (int)(why.nihii.len > 16 ? 16 : why.nihii.len), why.nihii.ptr, where,
	         tpc_sender_id(e));
	fail(job, TPC_CODE_NOT_YOUR_NIHII);
	/* the reason outlives this frame in the job's arena; without room, the code's own text */
	job->fail_reason = tpc_arena_strndup(job->arena, reason, strlen(reason));
	if (!job->fail_reason)
		job->fail_reason = tpc_codes_describe(TPC_CODE_NOT_YOUR_NIHII);
	tpc_security_note(shard, TPC_CODE_NOT_YOUR_NIHII, &job->auth, job->sender, job->key,
	                  reason);
	return 1;
}

/* May the sender's ledger request be answered? A SHOW target that the rules deny may still be
 * one of the sender's own sending keys: looked up only then, as the lookup copies the stored
 * answer into the arena. */
static int ledger_denied(tpc_ledger_reader_t *reader, tpc_job_t *job,
                         const Tpclear__LedgerRequest *rq, const char **code)
{
	const tpc_sender_t *e = job->auth.sender;
	tpc_stored_t st;
	int own;

	if (tpc_authz_ledger(e, rq, 0, code) == 0)
		return 0;
	if (rq->op != TPCLEAR__LEDGER_REQUEST__OP__SHOW || !reader || !rq->target || !rq->target[0])
		return 1;
	own = tpc_ledger_lookup(reader, job->sender, rq->target, job->arena, &st) == 0;
	return tpc_authz_ledger(e, rq, own, code) != 0;
}

/* Refuse a ledger request outside its sender's scope (curve mode; ops may ask anything). */
static int authorize_ledger(tpc_ledger_reader_t *reader, tpc_metrics_shard_t *shard, tpc_job_t *job)
{
	const tpc_sender_t *e = job->auth.sender;
	Tpclear__LedgerRequest *rq;
	const char *code = NULL;
	char detail[200];
	int denied;

	if (!e || tpc_sender_kind(e) == TPC_SENDER_OPS)
		return 0;
	rq = tpclear__ledger_request__unpack(NULL, zmq_msg_size(&job->payload),
	                                     zmq_msg_data(&job->payload));
	if (!rq)
		return 0; /* the ledger refuses it with its own code (T00022) */
	denied = ledger_denied(reader, job, rq, &code);
	if (denied)
		snprintf(detail, sizeof(detail), "ledger %s%s%.64s: %s",
		         rq->op == TPCLEAR__LEDGER_REQUEST__OP__SHOW      ? "show"
		         : rq->op == TPCLEAR__LEDGER_REQUEST__OP__BALANCE ? "balance"
		                                                          : "export",
		         rq->target && rq->target[0] ? " " : "", rq->target ? rq->target : "",
		         tpc_codes_describe(code));
	tpclear__ledger_request__free_unpacked(rq, NULL);
	if (!denied)
		return 0;
	fail(job, code);
	tpc_security_note(shard, code, &job->auth, job->sender, job->key, detail);
	return 1;
}

/* A ledger request: answered here from the reader, once the sender may ask it. */
static int process_ledger(tpc_ledger_reader_t *reader, tpc_metrics_shard_t *shard, tpc_job_t *job)
{
	tpc_metrics_add(shard, TPC_M_ledger_queries, 1);
	/* a target cut at a NUL byte would be looked up as another one (adapters/common/pb.h) */
	if (tpc_pb_nul_string(&tpclear__ledger_request__descriptor, zmq_msg_data(&job->payload),
	                      zmq_msg_size(&job->payload))) {
		fail(job, TPC_CODE_BAD_LEDGER_REQ);
		return 1;
	}
	if (authorize_ledger(reader, shard, job))
		return 1; /* outside the sender's scope (engine/security/authz.h) */
	if (reader)
		tpc_ledger_query(reader, job);
	else
		fail(job, TPC_CODE_STORED_UNREADABLE);
	return 1;
}

/* AMI tariffing: the reference data in memory in force, held until this sending is judged (a
 * reload in the meantime does not change it under its lines: refdata/snapshot.h), and one
 * read snapshot of what earlier sendings left (dedup, units, invoices, lines).
 * @return 0 or a negative TPC_E* code. */
static int tariff_sending(tpc_ledger_reader_t *reader, const tpc_config_t *cfg, tpc_job_t *job)
{
	tpc_refsnap_t *ref = tpc_store_refdata(reader);
	const tpc_ledger_dbs_t *dbs;
	MDB_txn *txn;
	int rc = ref ? tpc_ledger_snapshot_begin(reader, &txn, &dbs) : TPC_EDB;

	if (rc == 0) {
		job->snapshot_txn = (uint64_t)mdb_txn_id(txn);
		/* a cancellation naming only the invoice credits its lines (credit.h) */
		rc = tpc_credit_whole_invoice(txn, dbs, &job->sending, job->arena);
		if (rc == 0)
			rc = tpc_tariff_apply(txn, dbs, ref,
			                      cfg->as_of_day ? cfg->as_of_day : today(),
			                      &job->sending, job->arena, &job->marks);
		tpc_ledger_snapshot_end(reader);
	}
	tpc_refsnap_release(&ref);
	return rc;
}

/* A sending: hash, replay check, decode, authorize, tariff, judge, pack. */
/* A counter only grows: a credit note's negative amount goes to the credited sum. */
static void add_cents(tpc_metrics_lines_t *t, int64_t cents)
{
	if (cents >= 0)
		t->accepted_cents += (uint64_t)cents;
	else
		t->credited_cents += (uint64_t)0 - (uint64_t)cents;
}

_Static_assert(TPC_SCHEME__COUNT <= TPC_METRIC_DIM_MAX, "a scheme past the metrics' labels");
_Static_assert(TPC_BUDGET__COUNT <= TPC_METRIC_DIM_MAX, "a budget past the metrics' labels");

/* Per scheme and per budget, what the judged sending adds to /metrics once it is durable (the
 * loop thread adds it at commit, like lines_accepted). Here, on the worker, while the lines are
 * still in its cache; into the job's own arrays, so nothing is allocated. A budget is charged
 * the insurer part, the share budget the patient share (clear.c: accepted_cents is their sum);
 * a refused line is counted under the scheme and budget it was resolved to, 0 ("none") when it
 * was refused before. */
static void tally_lines(tpc_job_t *job)
{
	memset(job->by_scheme, 0, sizeof(job->by_scheme));
	memset(job->by_budget, 0, sizeof(job->by_budget));
	for (uint32_t i = 0; i < job->sending.nlines; i++) {
		const tpc_line_t *ln = &job->sending.lines[i];
		tpc_metrics_lines_t *sc =
		    &job->by_scheme[ln->scheme < TPC_SCHEME__COUNT ? ln->scheme : 0];
		tpc_metrics_lines_t *bu =
		    &job->by_budget[ln->budget < TPC_BUDGET__COUNT ? ln->budget : 0];

		if (ln->outcome != TPC_OUTCOME_ACCEPTED) {
			sc->refused++;
			bu->refused++;
			continue;
		}
		sc->accepted++;
		bu->accepted++;
		add_cents(sc, ln->accepted_cents);
		add_cents(bu, ln->insurer_cents);
		if (ln->share_budget && ln->share_budget < TPC_BUDGET__COUNT)
			add_cents(&job->by_budget[ln->share_budget], ln->patient_cents);
	}
}

static int process_submit(tpc_ledger_reader_t *reader, tpc_metrics_shard_t *shard,
                          const tpc_config_t *cfg, tpc_job_t *job)
{
	const uint8_t *buf = zmq_msg_data(&job->payload);
	size_t len = zmq_msg_size(&job->payload);
	tpc_host_t host = {tpc_arena_host_alloc, job->arena, cfg->max_invoices, cfg->max_lines,
	                   tpc_arena_host_alloc_uninit};
	tpc_clear_summary_t sum;
	tpc_stored_t st;
	int rc;

	/* the hash of the exact bytes received: the idempotency triple is (sender, key, hash),
	 * and a resubmission with other bytes under the same key is a conflict, not a replay.
	 * XXH3-128 (store/records.h, "Payload hash"): BLAKE2b was a fifth of this path. */
	job->hash_len = TPC_HASH_XXH3_LEN;
	tpc_records_payload_hash(buf, len, job->hash_len, job->hash);

	/* Fast path for resubmissions; the writer decides for good inside its transaction. */
	if (reader) {
		rc = tpc_ledger_lookup(reader, job->sender, job->key, job->arena, &st);
		if (rc == 0) {
			job->sequence = st.sequence;
			/* a sending stored by an older engine holds a BLAKE2b-256: this payload is
			 * hashed so too, and the conflict answer shows two hashes of one kind */
			if (st.hash_len != job->hash_len) {
				job->hash_len = st.hash_len;
				tpc_records_payload_hash(buf, len, job->hash_len, job->hash);
			}
			if (memcmp(st.hash, job->hash, job->hash_len) != 0) {
				job->status = TPC_JOB_CONFLICT;
				memcpy(job->stored_hash, st.hash, TPC_HASH_LEN);
			} else {
				job->status = TPC_JOB_REPLAY;
				job->committed_ms = st.committed_ms;
				job->result = (uint8_t *)st.result;
				job->result_len = st.result_len;
				job->native = st.native;
			}
			return 1;
		}
		/* a damaged stored answer is never replayed, nor cleared again under its key */
		if (rc == TPC_EDAMAGED) {
			fail(job, TPC_CODE_STORED_DAMAGED);
			return 1;
		}
		/* whatever a miss or a failed read left in the arena; a read error is not
		 * fatal here, the writer's own check inside its transaction still decides */
		tpc_arena_reset(job->arena);
	}

	/* a reused job must not show the adapter the previous sending's counts */
	memset(&job->sending, 0, sizeof(job->sending));
	rc = job->adapter->decode(job->adapter_state, buf, len, &host, &job->sending);
	if (rc == TPC_ADAPTER_ETOOBIG || rc == TPC_ADAPTER_ENOMEM) {
		fail(job, TPC_CODE_TOO_MANY);
		return 1;
	}
	if (rc) {
		fail(job, TPC_CODE_INTERNAL);
		return 1;
	}
	/* the sender may bill only as its own NIHII numbers: refused whole before any tariff */
	if (authorize_sending(job, shard))
		return 1;
	if (reader && (rc = tariff_sending(reader, cfg, job))) {
		fail(job, rc == TPC_ENOMEM     ? TPC_CODE_TOO_MANY
		          : rc == TPC_EDAMAGED ? TPC_CODE_STORED_DAMAGED
		                               : TPC_CODE_INTERNAL);
		return 1;
	}
	tpc_clear_judge(&job->sending, &sum);
	if (tpc_clear_threshold(&job->sending, (unsigned)cfg->max_refused_percent, &host, &sum) <
	    0) {
		fail(job, TPC_CODE_TOO_MANY);
		return 1;
	}
	rc = job->adapter->encode_answer(job->adapter_state, buf, len, &job->sending,
	                                 TPC_ANSWER_RESULT, &host, &job->native);
	/* ENOTSUP: the format has no native answer (the protobuf formats, adapters/common/pb.h):
	 * the Result alone is sent */
	if (rc == TPC_ADAPTER_ENOTSUP) {
		memset(&job->native, 0, sizeof(job->native));
	} else if (rc) {
		fail(job, TPC_CODE_TOO_MANY);
		return 1;
	}
	if (tpc_result_pack(job, job->adapter, job->adapter_state)) {
		fail(job, TPC_CODE_TOO_MANY);
		return 1;
	}
	store_compressed(job);
	store_payload(job, buf, len);
	/* the checksums of what the writer stores, computed here off its path (store/records.h);
	 * without arena room for the lines block the writer encodes it itself */
	job->body_sum = tpc_records_answer_body_sum(job);
	job->body_summed = job->stored ? job->stored : job->result;
	(void)tpc_records_lines_encode(job);
	job->lines_accepted = sum.lines_accepted;
	job->lines_refused = sum.lines_refused;
	job->invoices_accepted = sum.invoices_accepted;
	job->invoices_refused = sum.invoices_refused;
	tally_lines(job);
	job->validated_ms = wall_ms();
	job->status = TPC_JOB_CLEARED;
	return 0;
}

int tpc_worker_process(tpc_ledger_reader_t *reader, tpc_metrics_shard_t *shard,
                       const tpc_config_t *cfg, tpc_job_t *job)
{
	switch (job->type) {
	case TPC_JOB_QUERY:
		tpc_metrics_add(shard, TPC_M_queries, 1);
		if (!job->query_settlement)
			return process_query(reader, job);
		if (reader)
			tpc_ledger_query_settlement(reader, job);
		else
			fail(job, TPC_CODE_UNKNOWN_KEY);
		return 1;
	case TPC_JOB_LOAD:
		return process_load(job);
	case TPC_JOB_PAYRUN:
		return process_payrun(job);
	case TPC_JOB_LEDGER:
		return process_ledger(reader, shard, job);
	default:
		return process_submit(reader, shard, cfg, job);
	}
}

/* Stage boundary, loop -> worker: what tpc_worker_process relies on without checking again.
 * The loop thread (server.c) builds every job; a job without its arena or, for a sending, its
 * payload and adapter is a bug there, not a bad request. */
static void assert_job_handed(const tpc_job_t *job)
{
	assert(job->arena);
	assert(job->status == TPC_JOB_NEW);
	assert(job->identity_len > 0 && job->identity_len <= TPC_IDENTITY_MAX);
	assert(job->type != TPC_JOB_SUBMIT || (job->adapter && zmq_msg_size(&job->payload) > 0));
	assert(job->type != TPC_JOB_LOAD || zmq_msg_size(&job->payload) > 0);
	(void)job; /* NDEBUG */
}

/* Stage boundary, worker -> ledger writer: only a judged verdict goes to the writer (a failed,
 * replayed or answered job goes straight to the done queue), and a judged sending's counts add
 * up: every invoice is accepted or refused, and no more lines were judged than decoded. */
static void assert_verdict_handed(const tpc_job_t *job)
{
	assert(job->status == TPC_JOB_CLEARED);
	assert(job->type != TPC_JOB_SUBMIT || (job->result && job->result_len > 0));
	assert(job->type != TPC_JOB_SUBMIT ||
	       job->invoices_accepted + job->invoices_refused == job->sending.ninvoices);
	assert(job->type != TPC_JOB_SUBMIT ||
	       job->lines_accepted + job->lines_refused <= job->sending.nlines);
	(void)job; /* NDEBUG */
}

/* Why the workers step back: every sending goes through the one ledger writer in turn, while
 * any worker can judge any sending. When the cores are all busy (the closed loop keeps both
 * full), a writer left waiting in the run queue holds every answer behind it, whereas a worker
 * left waiting only delays a sending the writer could not take yet. Measured with schedstat in
 * the closed loop: the writer spent ~30 % of its wall time runnable but not running at equal
 * niceness (docs/benchmarks.md, "Issue 15, fifth session"). Raising one's own niceness needs
 * no privilege; a refusal (a seccomp filter that does not allow setpriority) is logged once
 * and the worker runs at the writer's niceness, as before. Off by default: on the quiet machine
 * 0, 5 and 10 gave the same figures within the host's noise once the workers got cheaper. */
static void step_back(const tpc_config_t *cfg)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;

	int now, want;

	if (cfg->worker_nice == 0)
		return;
	/* relative to the daemon's own niceness (a unit's Nice=, inherited from the thread that
	 * started the worker): an absolute value could put the workers ahead of the writer */
	errno = 0;
	now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (now == -1 && errno)
		now = 0;
	want = now + cfg->worker_nice > 19 ? 19 : now + cfg->worker_nice;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), want) != 0 &&
	    !atomic_flag_test_and_set(&warned))
		tpc_warn("workers: niceness %d not set (%s); they run as the writer", want,
		         strerror(errno));
}

/* A judged eAttest: answered once its record is in the journal (ledger/attest.h), the writer
 * woken to fold it; else - the journal off, or not sure of its keys - to the front of the
 * writer's queue, committed alone and first. */
static void express_to(struct tpc_workers *p, tpc_job_t *job)
{
	tpc_job_t *wake = NULL;

	if (!p->attest || tpc_attest_journal(p->attest, job, &wake) != 0) {
		TPC_REQUIRE(tpc_queue_push_front(p->to_ledger, &job->node) == 0);
		return;
	}
	if (wake)
		TPC_REQUIRE(tpc_queue_push_front(p->to_ledger, &wake->node) == 0);
	TPC_REQUIRE(tpc_queue_push(p->done, &job->node) == 0);
}

/* One job at a time (tpc_queue_pop): a worker busy with a large sending must not hold jobs
 * another idle worker could take. The loop ends when the job queue is closed and empty. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct tpc_workers *p = w->pool;
	tpc_qnode_t *n;

	if (p->lane == TPC_WORKERS_EXPRESS) {
		(void)pthread_setname_np(pthread_self(), "tpc-express");
	} else {
		(void)pthread_setname_np(pthread_self(), "tpc-worker");
		step_back(p->cfg);
	}
	while (tpc_queue_pop(p->jobs, &n) == 0) {
		tpc_job_t *job = tpc_job_of(n);
		int next;

		assert_job_handed(job);
		job->judge0_us = mono_us();
		next = tpc_worker_process(w->reader, w->shard, p->cfg, job);
		job->judge1_us = mono_us();
		if (next == 0)
			assert_verdict_handed(job);
		else /* a judged verdict never skips the writer */
			assert(job->status != TPC_JOB_CLEARED);
		/* the ledger queue closes only after every worker has exited: push cannot fail */
		if (next == 0 && job->express)
			express_to(p, job);
		else if (next == 0)
			TPC_REQUIRE(tpc_queue_push(p->to_ledger, &job->node) == 0);
		else
			TPC_REQUIRE(tpc_queue_push(p->done, &job->node) == 0);
	}
	return NULL;
}

int tpc_workers_start(int n, enum tpc_workers_lane lane, const tpc_config_t *cfg, tpc_queue_t *jobs,
                      tpc_queue_t *to_ledger, tpc_queue_t *done, tpc_store_t *ledger,
                      tpc_metrics_t *metrics, tpc_workers_t **out)
{
	tpc_workers_t *p = calloc(1, sizeof(*p));
	int rc = 0, i;

	if (!p)
		return TPC_ENOMEM;
	p->w = calloc((size_t)n, sizeof(*p->w));
	if (!p->w) {
		free(p);
		return TPC_ENOMEM;
	}
	p->lane = lane;
	p->cfg = cfg;
	p->attest = lane == TPC_WORKERS_EXPRESS ? tpc_store_attest(ledger) : NULL;
	p->jobs = jobs;
	p->to_ledger = to_ledger;
	p->done = done;
	/* Each worker gets its own shard and reader before it starts: nothing is shared between
	 * workers but the queues (STYLE.md rule 6). On any failure the workers already running
	 * are stopped by closing the job queue, the one thing they wait on. */
	for (i = 0; i < n; i++) {
		struct worker *w = &p->w[i];
		w->pool = p;
		w->shard = tpc_metrics_shard(metrics);
		if (!w->shard) {
			rc = TPC_E2BIG;
			break;
		}
		if ((rc = tpc_ledger_reader_new(ledger, &w->reader)))
			break;
		if ((rc = -pthread_create(&w->thread, NULL, worker_main, w))) {
			tpc_ledger_reader_free(&w->reader);
			break;
		}
		p->n++;
	}
	if (rc) {
		tpc_queue_close(jobs);
		tpc_workers_join(&p);
		return rc;
	}
	*out = p;
	return 0;
}

void tpc_workers_join(tpc_workers_t **pp)
{
	tpc_workers_t *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->w[i].thread, NULL);
		tpc_ledger_reader_free(&p->w[i].reader);
	}
	free(p->w);
	free(p);
	*pp = NULL;
}
