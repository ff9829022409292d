/* engine/ledger/ledger.c - LMDB ledger and its single writer thread (see ledger.h).
 *
 * DESIGN
 * - One writer. LMDB allows one write transaction at a time; we make that structural: only the
 *   thread started by tpc_ledger_start() ever opens one. Workers open read-only transactions.
 * - Group commit. The writer pops every judged job waiting (up to group_max) and writes them all
 *   in one transaction, so one fsync covers many sendings; while it syncs, workers keep judging
 *   and the next group grows. Jobs leave for the done queue only after mdb_txn_commit returned:
 *   nothing is answered before it is durable.
 * - Idempotency is decided here, inside the write transaction, so two copies of one sending
 *   judged in parallel still store once: the second finds the first (even within one group,
 *   since a transaction reads its own writes) and becomes a replay, or a conflict when its
 *   payload hash differs. Workers pre-check with a read transaction only to skip work.
 * - Monotonic keys. Sequence numbers only grow, so answers and lines are written with
 *   MDB_APPEND (no page splits in the middle of the tree).
 * - Map growth. MDB_MAP_FULL aborts the group, the map doubles (up to map_max) and the group is
 *   replayed from memory: nothing is lost. mdb_env_set_mapsize needs no live transaction in the
 *   process, so readers hold resize_lock (shared) around their short transactions and the
 *   writer takes it exclusively to resize: the one lock shared outside a queue, taken only on
 *   that rare path. At the ceiling, jobs are retried one by one and those that still do not fit
 *   are answered T00009 (storage full) - refused, never half-stored.
 */
#include "ledger/ledger.h"

#include "clearing/budget.h"
#include "store/records.h"
#include "payments/payrun.h"

#include "core/codes.h"
#include "core/error.h"
#include "core/log.h"

#include <limits.h>
#include <lmdb.h>
#include <lz4.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SCHEMA_VERSION TPC_LEDGER_SCHEMA
#define ANSWER_MAGIC   TPC_ANSWER_MAGIC

struct tpc_ledger {
	tpc_ledger_db_t db;
	tpc_config_t cfg; /* copy: payer accounts, payments directory */
	char payments_dir[TPC_PATH_MAX];
	const tpc_adapters_t *adapters; /* settlement encoders (borrowed) */
	uint64_t next_run;              /* writer thread only */

	pthread_rwlock_t resize_lock;
	_Atomic size_t map_size;
	size_t map_max;
	int group_max;
	uint64_t next_seq;     /* writer thread only */
	uint64_t next_posting; /* writer thread only */
	tpc_queue_t *in, *done;
	pthread_t thread;
	int started;
	tpc_metrics_t *metrics;
	tpc_metrics_shard_t *shard;
};

struct tpc_ledger_reader {
	tpc_ledger_t *l;
	MDB_txn *txn; /* reset between uses, renewed on the next one */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define put_be64 tpc_put_be64
#define get_be64 tpc_get_be64
#define put_be32 tpc_put_be32

/* key of "sendings": sender NUL key (no trailing NUL) */
static size_t sending_key(uint8_t *buf, size_t cap, const char *sender, const char *key)
{
	size_t a = strlen(sender), b = strlen(key);

	if (a + 1 + b > cap)
		return 0;
	memcpy(buf, sender, a);
	buf[a] = 0;
	memcpy(buf + a + 1, key, b);
	return a + 1 + b;
}

int tpc_ledger_open(const tpc_config_t *cfg, tpc_metrics_t *metrics, tpc_ledger_t **out)
{
	tpc_ledger_t *l;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	MDB_envinfo info;
	unsigned flags = MDB_NOTLS;
	int rc;

	if (mkdir(cfg->data_dir, 0750) != 0 && errno != EEXIST) {
		tpc_error("data directory %s: %s", cfg->data_dir, strerror(errno));
		return -errno;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return TPC_ENOMEM;
	l->cfg = *cfg;
	if (cfg->payments_dir[0])
		snprintf(l->payments_dir, sizeof(l->payments_dir), "%s", cfg->payments_dir);
	else
		snprintf(l->payments_dir, sizeof(l->payments_dir), "%.*s/payments",
		         (int)sizeof(l->payments_dir) - 10, cfg->data_dir);
	l->map_max = cfg->map_max;
	l->group_max = cfg->group_max;
	l->metrics = metrics;
	{
		/* writer-preferring: a steady stream of readers must not starve a map resize */
		pthread_rwlockattr_t attr;
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&l->resize_lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	if (cfg->sync == TPC_SYNC_NOMETASYNC)
		flags |= MDB_NOMETASYNC;
	else if (cfg->sync == TPC_SYNC_NONE)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&l->db.env)))
		goto out_free;
	if ((rc = mdb_env_set_maxdbs(l->db.env, 32)) ||
	    (rc = mdb_env_set_maxreaders(l->db.env, 512)) ||
	    (rc = mdb_env_set_mapsize(l->db.env, cfg->map_size)))
		goto out_close_env;
	if ((rc = mdb_env_open(l->db.env, cfg->data_dir, flags, 0640))) {
		tpc_error("ledger %s: %s", cfg->data_dir, mdb_strerror(rc));
		goto out_close_env;
	}
	/* an existing environment may be larger than the configured initial size: adopt it */
	if ((rc = mdb_env_info(l->db.env, &info)))
		goto out_close_env;
	atomic_store(&l->map_size, info.me_mapsize);
	if ((rc = mdb_txn_begin(l->db.env, NULL, 0, &txn)))
		goto out_close_env;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &l->db.meta)) ||
	    (rc = mdb_dbi_open(txn, "sendings", MDB_CREATE, &l->db.sendings)) ||
	    (rc = mdb_dbi_open(txn, "answers", MDB_CREATE, &l->db.answers)) ||
	    (rc = mdb_dbi_open(txn, "lines", MDB_CREATE, &l->db.lines)) ||
	    (rc = mdb_dbi_open(txn, "postings", MDB_CREATE, &l->db.postings)) ||
	    (rc = mdb_dbi_open(txn, "dedup", MDB_CREATE, &l->db.dbs.dedup)) ||
	    (rc = mdb_dbi_open(txn, "units", MDB_CREATE, &l->db.dbs.units)) ||
	    (rc = mdb_dbi_open(txn, "invoices", MDB_CREATE, &l->db.dbs.invoices)) ||
	    (rc = mdb_dbi_open(txn, "payables", MDB_CREATE, &l->db.payables)) ||
	    (rc = mdb_dbi_open(txn, "paid", MDB_CREATE, &l->db.paid)) ||
	    (rc = mdb_dbi_open(txn, "payruns", MDB_CREATE, &l->db.payruns)) ||
	    (rc = mdb_dbi_open(txn, "payrun_ids", MDB_CREATE, &l->db.payrun_ids)) ||
	    (rc = mdb_dbi_open(txn, "payments", MDB_CREATE, &l->db.payments)) ||
	    (rc = mdb_dbi_open(txn, "settlements", MDB_CREATE, &l->db.settlements)) ||
	    (rc = mdb_dbi_open(txn, "scheme_refs", MDB_CREATE, &l->db.scheme_refs)) ||
	    (rc = tpc_refdata_open(txn, &l->db.dbs.ref)))
		goto out_abort;
	k.mv_data = "schema";
	k.mv_size = 6;
	rc = mdb_get(txn, l->db.meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		uint32_t ver = SCHEMA_VERSION;
		v.mv_data = &ver;
		v.mv_size = sizeof(ver);
		if ((rc = mdb_put(txn, l->db.meta, &k, &v, 0)))
			goto out_abort;
	} else if (rc) {
		goto out_abort;
	} else if (v.mv_size != 4 || *(const uint32_t *)v.mv_data != SCHEMA_VERSION) {
		tpc_error("ledger %s: schema version differs from this engine's (%u)",
		          cfg->data_dir, SCHEMA_VERSION);
		rc = MDB_INCOMPATIBLE;
		goto out_abort;
	}
	/* resume the sequence after the last stored answer */
	l->next_seq = 1;
	if ((rc = mdb_cursor_open(txn, l->db.answers, &cur)))
		goto out_abort;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		l->next_seq = get_be64(k.mv_data) + 1;
	else if (rc && rc != MDB_NOTFOUND)
		goto out_close_cursor;
	mdb_cursor_close(cur);
	/* and the posting numbers after the last posting */
	l->next_posting = 1;
	if ((rc = mdb_cursor_open(txn, l->db.postings, &cur)))
		goto out_abort;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		l->next_posting = get_be64(k.mv_data) + 1;
	else if (rc && rc != MDB_NOTFOUND)
		goto out_close_cursor;
	mdb_cursor_close(cur);
	/* and the payment runs after the last run */
	l->next_run = 1;
	if ((rc = mdb_cursor_open(txn, l->db.payruns, &cur)))
		goto out_abort;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		l->next_run = get_be64(k.mv_data) + 1;
	else if (rc && rc != MDB_NOTFOUND)
		goto out_close_cursor;
	mdb_cursor_close(cur);
	if ((rc = mdb_txn_commit(txn)))
		goto out_close_env;
	/* a crash between a run's commit and its SEPA files: write them again (before the
	 * writer thread starts, so this transaction is the only writer) */
	if ((rc = mdb_txn_begin(l->db.env, NULL, 0, &txn)))
		goto out_close_env;
	{
		tpc_payrun_ctx_t ctx = {&l->db, &l->cfg, NULL, l->payments_dir, &l->next_posting};
		int n = tpc_payrun_restore_files(&ctx, txn);

		if (n < 0)
			tpc_error("ledger: cannot check the SEPA files of past payment runs");
		if (n > 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc)
			goto out_close_env;
	}
	*out = l;
	return 0;

out_close_cursor:
	mdb_cursor_close(cur);
out_abort:
	mdb_txn_abort(txn);
out_close_env:
	mdb_env_close(l->db.env);
out_free:
	pthread_rwlock_destroy(&l->resize_lock);
	free(l);
	return tpc_err_from_mdb(rc);
}

static int read_begin(tpc_ledger_reader_t *r);
static void read_end(tpc_ledger_reader_t *r);

/* ---- writer thread ------------------------------------------------------------------------- */

/* Copy a stored answer value into the arena (uncompressed) and fill the replay fields. */
static int load_answer(tpc_arena_t *arena, const MDB_val *v, tpc_stored_t *st)
{
	tpc_answer_hdr_t h;
	const uint8_t *p = v->mv_data;
	size_t raw;
	uint8_t *copy;

	if (v->mv_size < sizeof(h))
		return TPC_EDB;
	memcpy(&h, p, sizeof(h));
	raw = (size_t)h.result_len + (size_t)h.native_len;
	if (h.magic != ANSWER_MAGIC ||
	    (!(h.flags & TPC_ANSWER_LZ4) && sizeof(h) + raw != v->mv_size) || raw > INT_MAX)
		return TPC_EDB;
	copy = tpc_arena_alloc(arena, raw + 1, 8);
	if (!copy)
		return TPC_ENOMEM;
	if (!(h.flags & TPC_ANSWER_LZ4))
		memcpy(copy, p + sizeof(h), raw);
	else if (LZ4_decompress_safe((const char *)p + sizeof(h), (char *)copy,
	                             (int)(v->mv_size - sizeof(h)), (int)raw) != (int)raw)
		return TPC_EDB;
	st->sequence = h.sequence;
	st->committed_ms = h.committed_ms;
	memcpy(st->hash, h.hash, TPC_HASH_LEN);
	st->result = copy;
	st->result_len = h.result_len;
	st->native.ptr = h.native_len ? copy + h.result_len : NULL;
	st->native.len = h.native_len;
	memcpy(st->native.type, h.native_type, sizeof(st->native.type));
	st->native.type[sizeof(st->native.type) - 1] = 0;
	return 0;
}

static void job_from_stored(tpc_job_t *job, const tpc_stored_t *st)
{
	job->sequence = st->sequence;
	job->committed_ms = st->committed_ms;
	job->result = (uint8_t *)st->result;
	job->result_len = st->result_len;
	job->native = st->native;
}

static void fail_job(tpc_job_t *job, const char *code, const char *reason)
{
	job->status = TPC_JOB_FAILED;
	job->fail_code = code;
	job->fail_reason = reason;
}

/* Units of earlier accepted lines of the same job on the same (patient, code, day) key. */
static int64_t units_before(const tpc_job_t *job, const tpc_invoice_t *inv, uint32_t li,
                            const uint8_t *key)
{
	const tpc_sending_t *s = &job->sending;
	int64_t sum = 0;
	uint8_t other[21];

	for (uint32_t j = inv->first_line; j < li; j++) {
		const tpc_line_t *o = &s->lines[j];

		if (o->outcome != TPC_OUTCOME_ACCEPTED || !job->marks.max_per_day[j])
			continue;
		tpc_tariff_units_key(&inv->patient, o->code, o->date_first, other);
		if (memcmp(other, key, 21) == 0)
			sum += o->units;
	}
	return sum;
}

/* An accepted credit note cancels the lines it repeats: their identities leave the dedup index
 * (so they may be billed again, corrected), their units leave the daily counts, and the credited
 * invoice is marked so it cannot be credited twice. With @p check, only look for races. */
static int credit(tpc_ledger_t *l, MDB_txn *txn, const tpc_job_t *job, const tpc_invoice_t *inv,
                  int check)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t key[160];
	MDB_val k, v, got;
	int rc;

	k.mv_data = key;
	k.mv_size = tpc_tariff_credit_key(inv, key, sizeof(key));
	v.mv_data = (void *)&job->sequence;
	v.mv_size = sizeof(job->sequence);
	if (k.mv_size) {
		rc = check ? mdb_get(txn, l->db.dbs.invoices, &k, &got)
		           : mdb_put(txn, l->db.dbs.invoices, &k, &v, MDB_NOOVERWRITE);
		if (check && rc == 0)
			return MDB_KEYEXIST;
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	for (uint32_t n = 0; n < inv->nlines; n++) {
		uint32_t li = inv->first_line + n;
		const tpc_line_t *ln = &s->lines[li];

		if (ln->outcome != TPC_OUTCOME_ACCEPTED)
			continue;
		k.mv_data = job->marks.dedup[li];
		k.mv_size = TPC_TARIFF_ID_LEN;
		rc = check ? mdb_get(txn, l->db.dbs.dedup, &k, &got)
		           : mdb_del(txn, l->db.dbs.dedup, &k, NULL);
		if (rc == MDB_NOTFOUND)
			return MDB_KEYEXIST; /* cancelled meanwhile by another credit note */
		if (rc)
			return rc;
		if (check)
			continue;
		tpc_tariff_units_key(&inv->patient, ln->code, ln->date_first, key);
		if ((rc = tpc_tariff_units_add(txn, l->db.dbs.units, key, ln->units)))
			return rc;
	}
	return 0;
}

/* The indexes later sendings are checked against (tariff.h): accepted invoice numbers, line
 * identities and units per (patient, code, day). With @p check, only look: a key already
 * taken (or a maximum now exceeded) means another sending judged at the same time got there
 * first - MDB_KEYEXIST, and nothing of this job is written. Without, write them.
 * @return 0, MDB_KEYEXIST, or an LMDB code. */
static int indexes(tpc_ledger_t *l, MDB_txn *txn, const tpc_job_t *job, int check)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t key[160];
	MDB_val k, v, got;
	int rc;

	if (!job->marks.dedup)
		return 0; /* not tariffed (no reference data snapshot): nothing to index */
	v.mv_data = (void *)&job->sequence;
	v.mv_size = sizeof(job->sequence);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		if (inv->outcome != TPC_OUTCOME_ACCEPTED)
			continue;
		if (inv->number.len) {
			k.mv_data = key;
			k.mv_size = tpc_tariff_invoice_key(inv, key, sizeof(key));
			rc = !k.mv_size ? 0
			     : check    ? mdb_get(txn, l->db.dbs.invoices, &k, &got)
			                : mdb_put(txn, l->db.dbs.invoices, &k, &v, MDB_NOOVERWRITE);
			if (check && rc == 0 && k.mv_size)
				return MDB_KEYEXIST;
			if (rc && rc != MDB_NOTFOUND)
				return rc;
		}
		if (inv->invoicing == TPC_INVOICING_CREDIT_NOTE) {
			if ((rc = credit(l, txn, job, inv, check)))
				return rc;
			continue;
		}
		for (uint32_t n = 0; n < inv->nlines; n++) {
			uint32_t li = inv->first_line + n;
			const tpc_line_t *ln = &s->lines[li];

			if (ln->outcome != TPC_OUTCOME_ACCEPTED)
				continue;
			k.mv_data = job->marks.dedup[li];
			k.mv_size = TPC_TARIFF_ID_LEN;
			rc = check ? mdb_get(txn, l->db.dbs.dedup, &k, &got)
			           : mdb_put(txn, l->db.dbs.dedup, &k, &v, MDB_NOOVERWRITE);
			if (check && rc == 0)
				return MDB_KEYEXIST;
			if (rc && rc != MDB_NOTFOUND)
				return rc;
			if (job->marks.max_per_day[li]) {
				int64_t units;

				tpc_tariff_units_key(&inv->patient, ln->code, ln->date_first, key);
				if (!check) {
					rc = tpc_tariff_units_add(txn, l->db.dbs.units, key,
					                          ln->units);
					if (rc)
						return rc;
					continue;
				}
				if ((rc = tpc_tariff_units_get(txn, l->db.dbs.units, key, &units)))
					return rc;
				units += units_before(job, inv, li, key) + ln->units;
				if (units > (int64_t)job->marks.max_per_day[li])
					return MDB_KEYEXIST;
			}
		}
	}
	return 0;
}

/* Double entry: each accepted line debits the budget that pays it and credits the payee (the
 * invoicing provider under third-party payment), and becomes a payable for the payment runs. A
 * credit note's negative amounts reverse the entries of the lines it cancels (a negative
 * payable, netted by the next run). Postings are appended under monotonic numbers and never
 * change; payables are appended under (sequence, line), which only grows too. */
/* One part of a line: a posting pair in its budget and its payable. */
static int post_part(tpc_ledger_t *l, MDB_txn *txn, const tpc_job_t *job, const tpc_invoice_t *inv,
                     uint32_t ii, uint32_t li, uint8_t part, unsigned budget, int64_t amount,
                     uint64_t at_ms)
{
	const tpc_line_t *ln = &job->sending.lines[li];
	/* the payee: the provider under third-party payment, the insured for an eAttest */
	int insured = job->sending.payee == TPC_PAYEE_PATIENT;
	tpc_view_t who = insured ? inv->patient : inv->provider;
	uint8_t payee_kind = insured ? TPC_PAYEE_INSURED : TPC_PAYEE_PROVIDER;
	size_t plen = who.len < 11 ? who.len : 11;
	uint8_t key[TPC_PAYABLE_KEY];
	MDB_val k = {8, key}, v;
	tpc_posting_rec_t p[2];
	tpc_payable_t pay;
	int rc;

	memset(p, 0, sizeof(p));
	for (int side = 0; side < 2; side++) {
		p[side].sequence = job->sequence;
		p[side].line = li;
		p[side].part = part;
		p[side].budget = (uint8_t)budget;
		p[side].at_ms = at_ms;
	}
	p[0].kind = TPC_POST_CHARGE;
	p[0].payee_kind = TPC_PAYEE_BUDGET;
	snprintf(p[0].account, sizeof(p[0].account), "%s", tpc_budget_name(budget));
	p[0].amount_cents = -amount;
	p[1].kind = TPC_POST_PAYABLE;
	p[1].payee_kind = payee_kind;
	if (plen)
		memcpy(p[1].account, who.ptr, plen);
	p[1].amount_cents = amount;
	for (int side = 0; side < 2; side++) {
		put_be64(key, l->next_posting);
		v.mv_data = &p[side];
		v.mv_size = sizeof(p[side]);
		if ((rc = mdb_put(txn, l->db.postings, &k, &v, MDB_APPEND)))
			return rc;
		l->next_posting++;
	}
	memset(&pay, 0, sizeof(pay));
	pay.committed_ms = at_ms;
	pay.amount_cents = amount;
	pay.budget = (uint8_t)budget;
	pay.payee_kind = payee_kind;
	pay.account = ln->account;
	memcpy(pay.mutuality, inv->mutuality, 3);
	if (plen)
		memcpy(pay.payee, who.ptr, plen);
	pay.invoice = ii;
	put_be64(key, job->sequence);
	put_be32(key + 8, li);
	key[12] = part;
	k.mv_size = TPC_PAYABLE_KEY;
	v.mv_data = &pay;
	v.mv_size = sizeof(pay);
	return mdb_put(txn, l->db.payables, &k, &v, MDB_APPEND);
}

/* Double entry: each accepted line debits the budget that pays it and credits the payee (the
 * invoicing provider under third-party payment), and becomes a payable for the payment runs.
 * When a scheme pays the patient share too, the share is a second part, charged to its own
 * budget (SPF Justice for a detainee, the war victims budget...) or the same one (Fedasil,
 * Mediprima). A credit note's negative amounts reverse the entries of the lines it cancels (a
 * negative payable, netted by the next run). Postings are appended under monotonic numbers and
 * never change; payables are appended under (sequence, line, part), which only grows too. */
static int post(tpc_ledger_t *l, MDB_txn *txn, const tpc_job_t *job, uint64_t at_ms)
{
	const tpc_sending_t *s = &job->sending;
	int rc;

	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		for (uint32_t n = 0; n < inv->nlines; n++) {
			uint32_t li = inv->first_line + n;
			const tpc_line_t *ln = &s->lines[li];
			int64_t share = ln->share_budget ? ln->patient_cents : 0;
			int64_t insurer = ln->accepted_cents - share;

			if (ln->outcome != TPC_OUTCOME_ACCEPTED || ln->accepted_cents == 0)
				continue;
			if (insurer && (rc = post_part(l, txn, job, inv, i, li, 0, ln->budget,
			                               insurer, at_ms)))
				return rc;
			if (share && (rc = post_part(l, txn, job, inv, i, li, 1, ln->share_budget,
			                             share, at_ms)))
				return rc;
		}
	}
	return 0;
}

/* The scheme references of a sending's lines (appended under (sequence, line)). */
static int scheme_refs(tpc_ledger_t *l, MDB_txn *txn, const tpc_job_t *job)
{
	uint8_t key[12];
	MDB_val k = {sizeof(key), key}, v;
	int rc;

	for (uint32_t i = 0; i < job->sending.nlines; i++) {
		const tpc_line_t *ln = &job->sending.lines[i];
		tpc_scheme_ref_t r;

		if (ln->outcome != TPC_OUTCOME_ACCEPTED || !ln->scheme_ref)
			continue;
		memset(&r, 0, sizeof(r));
		r.scheme = (uint8_t)ln->scheme;
		snprintf(r.ref, sizeof(r.ref), "%s", ln->scheme_ref);
		if (ln->scheme_org)
			snprintf(r.org, sizeof(r.org), "%s", ln->scheme_org);
		put_be64(key, job->sequence);
		put_be32(key + 8, i);
		v.mv_data = &r;
		v.mv_size = sizeof(r);
		if ((rc = mdb_put(txn, l->db.scheme_refs, &k, &v, MDB_APPEND)))
			return rc;
	}
	return 0;
}

/* Write one judged job inside @p txn. @return 0 or an LMDB code (MDB_MAP_FULL included). */
static int write_job(tpc_ledger_t *l, MDB_txn *txn, tpc_job_t *job, uint64_t committed_ms)
{
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2], skey[8], lkey[12];
	uint8_t sval[8 + TPC_HASH_LEN];
	tpc_answer_hdr_t h;
	MDB_val k, v;
	size_t klen;
	int rc;

	if (job->type == TPC_JOB_LOAD) {
		/* a reference data load replaces its kind whole, in this transaction */
		if ((rc = job->load_upsert ? tpc_refdata_upsert(txn, &l->db.dbs.ref, &job->table)
		                           : tpc_refdata_replace(txn, &l->db.dbs.ref, &job->table)))
			return rc;
		job->committed_ms = committed_ms;
		job->status = TPC_JOB_COMMITTED;
		return 0;
	}
	klen = sending_key(kbuf, sizeof(kbuf), job->sender, job->key);
	k.mv_data = kbuf;
	k.mv_size = klen;
	rc = mdb_get(txn, l->db.sendings, &k, &v);
	if (rc == 0) {
		uint64_t seq;
		MDB_val ak, av;
		tpc_stored_t st;

		if (v.mv_size != sizeof(sval))
			return MDB_CORRUPTED;
		memcpy(&seq, v.mv_data, 8);
		if (memcmp((const uint8_t *)v.mv_data + 8, job->hash, TPC_HASH_LEN) != 0) {
			job->status = TPC_JOB_CONFLICT;
			job->sequence = seq;
			memcpy(job->stored_hash, (const uint8_t *)v.mv_data + 8, TPC_HASH_LEN);
			return 0;
		}
		put_be64(skey, seq);
		ak.mv_data = skey;
		ak.mv_size = 8;
		if ((rc = mdb_get(txn, l->db.answers, &ak, &av)))
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		if (load_answer(job->arena, &av, &st)) {
			fail_job(job, TPC_CODE_STORED_UNREADABLE,
			         tpc_codes_describe(TPC_CODE_STORED_UNREADABLE));
			return 0;
		}
		job_from_stored(job, &st);
		job->status = TPC_JOB_REPLAY;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;

	/* Races first, before anything of this sending is written: if another sending of the
	 * group took one of its index keys, it is refused whole and the group goes on. */
	job->sequence = l->next_seq;
	rc = indexes(l, txn, job, 1);
	if (rc == MDB_KEYEXIST) {
		fail_job(job, TPC_CODE_RACE, tpc_codes_describe(TPC_CODE_RACE));
		return 0;
	}
	if (rc)
		return rc;
	job->committed_ms = committed_ms;
	memcpy(sval, &job->sequence, 8);
	memcpy(sval + 8, job->hash, TPC_HASH_LEN);
	v.mv_data = sval;
	v.mv_size = sizeof(sval);
	if ((rc = mdb_put(txn, l->db.sendings, &k, &v, MDB_NOOVERWRITE)))
		return rc;

	memset(&h, 0, sizeof(h));
	h.magic = ANSWER_MAGIC;
	h.flags = job->stored ? TPC_ANSWER_LZ4 : 0;
	h.result_len = (uint32_t)job->result_len;
	h.native_len = job->native.ptr ? (uint32_t)job->native.len : 0;
	memcpy(h.native_type, job->native.type, sizeof(h.native_type));
	memcpy(h.hash, job->hash, TPC_HASH_LEN);
	h.committed_ms = committed_ms;
	h.sequence = job->sequence;
	h.received_ms = job->received_ms;
	h.validated_ms = job->validated_ms;
	snprintf(h.sender, sizeof(h.sender), "%s", job->sender);
	snprintf(h.key, sizeof(h.key), "%s", job->key);
	snprintf(h.format, sizeof(h.format), "%s", job->adapter ? job->adapter->name : "");
	put_be64(skey, job->sequence);
	k.mv_data = skey;
	k.mv_size = 8;
	v.mv_data = NULL;
	v.mv_size = sizeof(h) + (job->stored ? job->stored_len : h.result_len + h.native_len);
	if ((rc = mdb_put(txn, l->db.answers, &k, &v, MDB_APPEND | MDB_RESERVE)))
		return rc;
	memcpy(v.mv_data, &h, sizeof(h));
	if (job->stored) {
		memcpy((uint8_t *)v.mv_data + sizeof(h), job->stored, job->stored_len);
	} else {
		if (h.result_len)
			memcpy((uint8_t *)v.mv_data + sizeof(h), job->result, h.result_len);
		if (h.native_len)
			memcpy((uint8_t *)v.mv_data + sizeof(h) + h.result_len, job->native.ptr,
			       h.native_len);
	}

	/* one verdict per line, appended under (sequence, index) */
	put_be64(lkey, job->sequence);
	k.mv_data = lkey;
	k.mv_size = sizeof(lkey);
	for (uint32_t i = 0, inv = 0; i < job->sending.nlines; i++) {
		const tpc_line_t *ln = &job->sending.lines[i];
		tpc_line_rec_t rec;

		while (inv + 1 < job->sending.ninvoices &&
		       i >= job->sending.invoices[inv].first_line +
		                job->sending.invoices[inv].nlines)
			inv++;
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.code, ln->code, 6);
		rec.outcome = ln->outcome;
		rec.nfindings = ln->nfindings;
		rec.date_first = ln->date_first;
		rec.units = ln->units;
		rec.invoice = inv;
		rec.record = ln->record;
		if (job->sending.ninvoices)
			memcpy(rec.mutuality, job->sending.invoices[inv].mutuality, 3);
		rec.account = ln->account;
		rec.scheme = (uint8_t)ln->scheme;
		rec.budget = ln->outcome == TPC_OUTCOME_ACCEPTED ? ln->budget : 0;
		rec.share_budget = ln->outcome == TPC_OUTCOME_ACCEPTED ? ln->share_budget : 0;
		rec.insurer_cents = ln->insurer_cents;
		rec.patient_cents = ln->patient_cents;
		rec.expected_insurer_cents = ln->expected_insurer_cents;
		rec.expected_patient_cents = ln->expected_patient_cents;
		rec.accepted_cents = ln->accepted_cents;
		for (int f = 0; f < ln->nfindings && f < 3; f++)
			memcpy(rec.finding[f], ln->findings[f].code, 6);
		put_be32(lkey + 8, i);
		v.mv_data = &rec;
		v.mv_size = sizeof(rec);
		if ((rc = mdb_put(txn, l->db.lines, &k, &v, MDB_APPEND)))
			return rc;
	}
	if ((rc = indexes(l, txn, job, 0)) || (rc = post(l, txn, job, committed_ms)) ||
	    (rc = scheme_refs(l, txn, job)))
		return rc;
	l->next_seq++;
	job->status = TPC_JOB_COMMITTED;
	return 0;
}

static int grow_map(tpc_ledger_t *l)
{
	size_t cur = atomic_load(&l->map_size), want = cur * 2;
	int rc;

	if (cur >= l->map_max)
		return TPC_EMAPFULL;
	if (want > l->map_max)
		want = l->map_max;
	pthread_rwlock_wrlock(&l->resize_lock);
	rc = mdb_env_set_mapsize(l->db.env, want);
	pthread_rwlock_unlock(&l->resize_lock);
	if (rc) {
		tpc_error("ledger: cannot grow the map to %zu bytes: %s", want, mdb_strerror(rc));
		return tpc_err_from_mdb(rc);
	}
	atomic_store(&l->map_size, want);
	tpc_metrics_add(l->shard, TPC_M_ledger_map_grows, 1);
	tpc_info("ledger: map grown from %zu to %zu bytes", cur, want);
	return 0;
}

/* Write the jobs of @p list (n of them) in one transaction. @return 0, MDB_MAP_FULL, or another
 * LMDB code; on any non-zero return nothing of the group is stored and statuses are restored. */
static int write_group(tpc_ledger_t *l, tpc_job_t **jobs, size_t n)
{
	MDB_txn *txn;
	uint64_t first_seq = l->next_seq, first_posting = l->next_posting, now = now_ms();
	size_t i;
	int rc;

	if ((rc = mdb_txn_begin(l->db.env, NULL, 0, &txn)))
		return rc;
	for (i = 0; i < n; i++)
		jobs[i]->ledger_pending =
		    jobs[i]->status == TPC_JOB_CLEARED && jobs[i]->type != TPC_JOB_PAYRUN;
	for (i = 0; i < n; i++) {
		if (!jobs[i]->ledger_pending)
			continue;
		if ((rc = write_job(l, txn, jobs[i], now)))
			break;
	}
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc) {
		l->next_seq = first_seq;
		l->next_posting = first_posting;
		/* Everything decided in the aborted transaction is undone: a commit, a conflict,
		 * a replay of a sending written earlier in it, a race refusal. Such jobs are
		 * decided again on the retry. (A replay's result bytes are the stored copy of the
		 * same payload's result, so storing them on the retry stores the same thing.) */
		for (i = 0; i < n; i++)
			if (jobs[i]->ledger_pending) {
				jobs[i]->status = TPC_JOB_CLEARED;
				jobs[i]->fail_code = NULL;
				jobs[i]->fail_reason = NULL;
			}
	}
	return rc;
}

static void commit_jobs(tpc_ledger_t *l, tpc_job_t **jobs, size_t n)
{
	int rc;

	for (;;) {
		rc = write_group(l, jobs, n);
		if (rc != MDB_MAP_FULL)
			break;
		if (grow_map(l) != 0)
			break;
	}
	if (rc == MDB_MAP_FULL && n > 1) {
		/* at the ceiling: store what fits, one sending per transaction */
		for (size_t i = 0; i < n; i++)
			commit_jobs(l, &jobs[i], 1);
		return;
	}
	if (rc == MDB_MAP_FULL) {
		tpc_metrics_add(l->shard, TPC_M_ledger_map_full, 1);
		if (jobs[0]->status == TPC_JOB_CLEARED)
			fail_job(jobs[0], TPC_CODE_STORAGE_FULL,
			         tpc_codes_describe(TPC_CODE_STORAGE_FULL));
		return;
	}
	if (rc) {
		tpc_error("ledger: write transaction failed: %s", mdb_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (jobs[i]->status == TPC_JOB_CLEARED)
				fail_job(jobs[i], TPC_CODE_LEDGER_FAILED,
				         tpc_codes_describe(TPC_CODE_LEDGER_FAILED));
		return;
	}
	tpc_metrics_add(l->shard, TPC_M_ledger_commits, 1);
}

/* A payment run, alone in its write transaction (payrun.h). */
static void run_payrun(tpc_ledger_t *l, tpc_job_t *job)
{
	tpc_payrun_ctx_t ctx = {&l->db, &l->cfg, l->adapters, l->payments_dir, &l->next_posting};

	for (;;) {
		uint64_t first_posting = l->next_posting, now = now_ms();
		tpc_payrun_t *p = NULL;
		MDB_txn *txn;
		int rc = mdb_txn_begin(l->db.env, NULL, 0, &txn);

		if (rc == 0) {
			rc = tpc_payrun_execute(&ctx, txn, job, l->next_run, now, &p);
			if (rc == 0 && tpc_payrun_refusal(p)) {
				mdb_txn_abort(txn);
				fail_job(job, tpc_payrun_refusal(p),
				         tpc_codes_describe(tpc_payrun_refusal(p)));
				tpc_payrun_free(&p);
				return;
			}
			if (rc == 0 && tpc_payrun_must_commit(p))
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn); /* failed, a replay, or nothing to store */
		}
		if (rc == 0) {
			if (tpc_payrun_paid(p)) {
				uint64_t payments, lines;
				int64_t cents;

				tpc_payrun_totals(p, &payments, &lines, &cents);
				l->next_run++;
				tpc_metrics_add(l->shard, TPC_M_ledger_commits, 1);
				tpc_metrics_add(l->shard, TPC_M_payruns, 1);
				tpc_metrics_add(l->shard, TPC_M_payments, payments);
				tpc_metrics_add(l->shard, TPC_M_payment_lines, lines);
				tpc_metrics_add(l->shard, TPC_M_paid_cents, (uint64_t)cents);
			} else if (tpc_payrun_must_commit(p)) {
				tpc_metrics_add(l->shard, TPC_M_ledger_commits,
				                1); /* the request id */
			} else if (tpc_payrun_replayed(p)) {
				tpc_metrics_add(l->shard, TPC_M_payruns_replayed, 1);
			}
			int paid = tpc_payrun_paid(p);
			uint64_t run = l->next_run - 1;

			job->committed_ms = now;
			job->status = TPC_JOB_COMMITTED;
			if (tpc_payrun_finish(&ctx, &p, job) == 0 && paid &&
			    mdb_txn_begin(l->db.env, NULL, 0, &txn) == 0) {
				/* files on disk: never write them again */
				if (tpc_payrun_mark_written(&ctx, txn, run) == 0)
					mdb_txn_commit(txn);
				else
					mdb_txn_abort(txn);
			}
			if (!job->answer_ready)
				fail_job(job, TPC_CODE_TOO_MANY,
				         tpc_codes_describe(TPC_CODE_TOO_MANY));
			return;
		}
		tpc_payrun_free(&p);
		l->next_posting = first_posting;
		if (rc == MDB_MAP_FULL && grow_map(l) == 0)
			continue;
		tpc_error("ledger: payment run failed: %s", mdb_strerror(rc));
		if (rc == MDB_MAP_FULL)
			fail_job(job, TPC_CODE_STORAGE_FULL,
			         tpc_codes_describe(TPC_CODE_STORAGE_FULL));
		else
			fail_job(job, TPC_CODE_LEDGER_FAILED,
			         tpc_codes_describe(TPC_CODE_LEDGER_FAILED));
		return;
	}
}

static void *writer_main(void *arg)
{
	tpc_ledger_t *l = arg;
	tpc_job_t **jobs = calloc((size_t)l->group_max, sizeof(*jobs));
	tpc_qnode_t *head;
	size_t n, committed;

	TPC_REQUIRE(jobs);
	l->shard = tpc_metrics_shard(l->metrics);
	TPC_REQUIRE(l->shard);
	while ((n = tpc_queue_pop_many(l->in, (size_t)l->group_max, 1, &head)) > 0) {
		size_t i = 0;
		for (tpc_qnode_t *q = head; q; q = q->next)
			jobs[i++] = tpc_job_of(q);
		/* in arrival order: runs of sendings share a transaction, a payment run has its
		 * own (it sees every sending committed before it) */
		for (size_t a = 0, e; a < n; a = e) {
			if (jobs[a]->type == TPC_JOB_PAYRUN) {
				if (jobs[a]->status == TPC_JOB_CLEARED)
					run_payrun(l, jobs[a]);
				e = a + 1;
				continue;
			}
			for (e = a; e < n && jobs[e]->type != TPC_JOB_PAYRUN; e++)
				;
			commit_jobs(l, &jobs[a], e - a);
		}
		committed = 0;
		for (i = 0; i < n; i++) {
			if (jobs[i]->status == TPC_JOB_COMMITTED && jobs[i]->type == TPC_JOB_LOAD)
				tpc_metrics_add(l->shard, TPC_M_refdata_loads, 1);
			else if (jobs[i]->status == TPC_JOB_COMMITTED &&
			         jobs[i]->type == TPC_JOB_SUBMIT)
				committed++;
			/* the done queue is unbounded: its jobs are bounded by the job queue
			 * upstream */
			if (tpc_queue_push(l->done, &jobs[i]->node) != 0)
				TPC_REQUIRE(!"done queue closed before the ledger writer");
		}
		tpc_metrics_add(l->shard, TPC_M_ledger_sendings, committed);
	}
	free(jobs);
	return NULL;
}

void tpc_ledger_set_adapters(tpc_ledger_t *l, const tpc_adapters_t *adapters)
{
	l->adapters = adapters;
}

int tpc_ledger_read_begin(tpc_ledger_reader_t *r, MDB_txn **txn, const tpc_ledger_db_t **db)
{
	int rc = read_begin(r);

	if (rc)
		return tpc_err_from_mdb(rc);
	*txn = r->txn;
	*db = &r->l->db;
	return 0;
}

void tpc_ledger_read_end(tpc_ledger_reader_t *r)
{
	read_end(r);
}

const char *tpc_ledger_payments_dir(const tpc_ledger_t *l)
{
	return l->payments_dir;
}

int tpc_ledger_start(tpc_ledger_t *l, tpc_queue_t *in, tpc_queue_t *done)
{
	int rc;

	l->in = in;
	l->done = done;
	rc = pthread_create(&l->thread, NULL, writer_main, l);
	if (rc)
		return -rc;
	l->started = 1;
	return 0;
}

void tpc_ledger_join(tpc_ledger_t *l)
{
	if (l && l->started) {
		pthread_join(l->thread, NULL);
		l->started = 0;
	}
}

void tpc_ledger_free(tpc_ledger_t **lp)
{
	tpc_ledger_t *l;

	if (!lp || !*lp)
		return;
	l = *lp;
	TPC_REQUIRE(!l->started);
	mdb_env_close(l->db.env);
	pthread_rwlock_destroy(&l->resize_lock);
	free(l);
	*lp = NULL;
}

size_t tpc_ledger_map_size(const tpc_ledger_t *l)
{
	return atomic_load(&l->map_size);
}

uint64_t tpc_ledger_next_sequence(const tpc_ledger_t *l)
{
	return l->next_seq;
}

/* ---- readers ------------------------------------------------------------------------------- */

int tpc_ledger_reader_new(tpc_ledger_t *l, tpc_ledger_reader_t **out)
{
	tpc_ledger_reader_t *r = calloc(1, sizeof(*r));

	if (!r)
		return TPC_ENOMEM;
	r->l = l;
	*out = r;
	return 0;
}

void tpc_ledger_reader_free(tpc_ledger_reader_t **rp)
{
	if (!rp || !*rp)
		return;
	if ((*rp)->txn)
		mdb_txn_abort((*rp)->txn);
	free(*rp);
	*rp = NULL;
}

/* Begin a read transaction with the resize lock held shared; end with read_end(). */
static int read_begin(tpc_ledger_reader_t *r)
{
	int rc;

	pthread_rwlock_rdlock(&r->l->resize_lock);
	if (r->txn)
		rc = mdb_txn_renew(r->txn);
	else
		rc = mdb_txn_begin(r->l->db.env, NULL, MDB_RDONLY, &r->txn);
	if (rc) {
		if (r->txn) {
			mdb_txn_abort(r->txn);
			r->txn = NULL;
		}
		pthread_rwlock_unlock(&r->l->resize_lock);
	}
	return rc;
}

static void read_end(tpc_ledger_reader_t *r)
{
	mdb_txn_reset(r->txn);
	pthread_rwlock_unlock(&r->l->resize_lock);
}

int tpc_ledger_answer_decode(const void *value, size_t size, tpc_arena_t *arena, tpc_stored_t *out)
{
	MDB_val v = {size, (void *)value};

	return load_answer(arena, &v, out);
}

int tpc_ledger_lookup(tpc_ledger_reader_t *r, const char *sender, const char *key,
                      tpc_arena_t *arena, tpc_stored_t *out)
{
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2], skey[8];
	MDB_val k, v;
	uint64_t seq;
	int rc;

	k.mv_size = sending_key(kbuf, sizeof(kbuf), sender, key);
	k.mv_data = kbuf;
	if (!k.mv_size)
		return TPC_EINVAL;
	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	rc = mdb_get(r->txn, r->l->db.sendings, &k, &v);
	if (rc)
		goto out_end;
	if (v.mv_size != 8 + TPC_HASH_LEN) {
		rc = MDB_CORRUPTED;
		goto out_end;
	}
	memcpy(&seq, v.mv_data, 8);
	put_be64(skey, seq);
	k.mv_data = skey;
	k.mv_size = 8;
	rc = mdb_get(r->txn, r->l->db.answers, &k, &v);
	if (rc == 0) {
		rc = load_answer(arena, &v, out);
		read_end(r);
		return rc;
	}
	if (rc == MDB_NOTFOUND)
		rc = MDB_CORRUPTED;
out_end:
	read_end(r);
	return tpc_err_from_mdb(rc);
}

int tpc_ledger_snapshot_begin(tpc_ledger_reader_t *r, MDB_txn **txn, const tpc_ledger_dbs_t **dbs)
{
	int rc = read_begin(r);

	if (rc)
		return tpc_err_from_mdb(rc);
	*txn = r->txn;
	*dbs = &r->l->db.dbs;
	return 0;
}

void tpc_ledger_snapshot_end(tpc_ledger_reader_t *r)
{
	read_end(r);
}

int tpc_ledger_count_lines(tpc_ledger_reader_t *r, uint64_t seq, uint64_t *count)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[12] = {0};
	int rc;

	*count = 0;
	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	if ((rc = mdb_cursor_open(r->txn, r->l->db.lines, &cur)))
		goto out_end;
	put_be64(key, seq);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || get_be64(k.mv_data) != seq)
			break;
		(*count)++;
	}
	mdb_cursor_close(cur);
	rc = 0;
out_end:
	read_end(r);
	return tpc_err_from_mdb(rc);
}

int tpc_ledger_count_sendings(tpc_ledger_reader_t *r, uint64_t *count)
{
	MDB_stat st;
	int rc;

	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	rc = mdb_stat(r->txn, r->l->db.sendings, &st);
	if (rc == 0)
		*count = st.ms_entries;
	read_end(r);
	return tpc_err_from_mdb(rc);
}

int tpc_ledger_postings_sum(tpc_ledger_reader_t *r, int64_t *sum, int64_t *credited,
                            uint64_t *count)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*sum = *credited = 0;
	*count = 0;
	if ((rc = read_begin(r)))
		return tpc_err_from_mdb(rc);
	if ((rc = mdb_cursor_open(r->txn, r->l->db.postings, &cur)))
		goto out_end;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tpc_posting_rec_t p;

		if (v.mv_size != sizeof(p))
			continue;
		memcpy(&p, v.mv_data, sizeof(p));
		*sum += p.amount_cents;
		if (p.kind == TPC_POST_PAYABLE)
			*credited += p.amount_cents;
		(*count)++;
	}
	mdb_cursor_close(cur);
	rc = 0;
out_end:
	read_end(r);
	return tpc_err_from_mdb(rc);
}
