/* engine/ledger/ledger.c - what a judged sending leaves in the store (see ledger.h).
 *
 * Every function here runs on the writer thread inside the group's write transaction, through
 * the sticky-error helper (store/txn.h): a failed put makes the rest of the job a no-op and
 * the writer aborts the whole group, so a sending is stored whole or not at all.
 */
#include "ledger/ledger.h"

#include "clearing/budget.h"
#include "core/codes.h"
#include "core/error.h"
#include "ledger/claims.h"
#include "store/payload.h"
#include "store/postings.h"

#include <string.h>

/* indexes() and credit() in check mode: another sending of the group took a key first */
#define RACE 1

/* Refuse this job alone: only its status and code change and t->ret stays clear, so the
 * group's transaction goes on and the other sendings in it still commit. */
static void fail_job(tpc_job_t *job, const char *code)
{
	job->status = TPC_JOB_FAILED;
	job->fail_code = code;
	job->fail_reason = tpc_codes_describe(code);
}

/* In the check pass, before key @p k is read: may a transaction after the worker's read snapshot
 * have taken it (ledger/claims.h)? When surely not, what the worker read of it still holds and
 * the B-tree is not read again. Without a record (@p cl NULL), or a snapshot unknown, always. */
static int maybe_taken(tpc_txn_t *t, tpc_claims_t *cl, const tpc_job_t *job, const MDB_val *k)
{
	int m;

	if (!cl)
		return 1;
	m = tpc_claims_take(cl, k->mv_data, k->mv_size, mdb_txn_id(t->txn), job->snapshot_txn);
	/* held by the journal (ledger/attest.h): taken by an attestation already answered, which
	 * no B-tree holds yet, so a race whatever the B-tree says - unless this job is that very
	 * attestation being folded, whose own keys are its to take */
	return m == TPC_CLAIMS_HELD && job->journalled ? 1 : m;
}

/* In the check pass: is key @p k of @p dbi taken by someone else? Held by the journal, or
 * maybe taken since the snapshot and found in the B-tree. */
static int taken(tpc_txn_t *t, MDB_dbi dbi, tpc_claims_t *cl, const tpc_job_t *job,
                 const MDB_val *k)
{
	MDB_val got;
	int m = maybe_taken(t, cl, job, k);

	return m == TPC_CLAIMS_HELD || (m && tpc_txn_find(t, dbi, k, &got));
}

/* Units of earlier accepted lines of the same job on the same (patient, code, day) key: the
 * units index only holds committed sendings, this one's own lines count too. */
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

/* Add @p delta units to a (patient, code, day) key (tariff.h keeps the value's layout).
 * tpc_tariff_units_add() takes the raw MDB_txn, outside the sticky-error helper, so the guard
 * on t->ret is ours: after a failure nothing more may be written to the doomed transaction. */
static void units_add(tpc_txn_t *t, const tpc_store_db_t *db, const uint8_t *key, int64_t delta)
{
	if (!t->ret)
		tpc_txn_fail(t, tpc_tariff_units_add(t->txn, db->dbs.units, key, delta));
}

/* An accepted credit note cancels the lines it repeats: their identities leave the dedup index
 * (so they may be billed again, corrected), their units leave the daily counts, and the credited
 * invoice is marked so it cannot be credited twice. With @p check, only look for races.
 * @return RACE (check only) or 0; errors in t->ret. */
static int credit(tpc_txn_t *t, const tpc_store_db_t *db, tpc_claims_t *cl, const tpc_job_t *job,
                  const tpc_invoice_t *inv, int check)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t key[160];
	MDB_val k = {tpc_tariff_credit_key(inv, key, sizeof(key)), key}, got;

	/* The '~' key of the credited invoice: the worker saw it absent in its snapshot (202921),
	 * so finding it now means a credit note judged at the same time credited that invoice
	 * first. Written with NOOVERWRITE: were the check pass ever skipped, a second credit would
	 * abort the group (MDB_KEYEXIST) instead of crediting one invoice twice. A key of 0 bytes
	 * (number too long for the key) is neither checked nor written, like in tariff.c. */
	if (k.mv_size && check && taken(t, db->dbs.invoices, cl, job, &k))
		return RACE;
	if (k.mv_size && !check)
		tpc_txn_put(t, db->dbs.invoices, &k, &job->sequence, sizeof(job->sequence),
		            MDB_NOOVERWRITE);
	for (uint32_t n = 0; n < inv->nlines && !t->ret; n++) {
		uint32_t li = inv->first_line + n;
		const tpc_line_t *ln = &s->lines[li];
		MDB_val dk = {job->marks.id_len, job->marks.dedup[li]};
		bool had;

		if (ln->outcome != TPC_OUTCOME_ACCEPTED)
			continue;
		/* the worker saw the line billed (202921): untaken since, it still is */
		if (check) {
			int m = maybe_taken(t, cl, job, &dk);

			/* held: billed by an attestation not folded yet, a race either way */
			had = m != TPC_CLAIMS_HELD &&
			      (!m || tpc_txn_find(t, db->dbs.dedup, &dk, &got));
		} else {
			had = tpc_txn_del(t, db->dbs.dedup, &dk);
		}
		if (!had && !t->ret) {
			/* cancelled meanwhile by another credit note: a race when checking; when
			 * writing, after a check in this very transaction, it cannot happen */
			if (check)
				return RACE;
			tpc_txn_fail(t, MDB_KEYEXIST);
		}
		if (check || t->ret)
			continue;
		/* a credit line carries the cancelled line's units negative (eFact 502248), so
		 * adding them frees that day's maximum; units_add() never goes below 0. Not taken
		 * in the claims (maybe_taken()): a count that only falls cannot put a line over the
		 * maximum the worker checked it against. */
		tpc_tariff_units_key(&inv->patient, ln->code, ln->date_first, key);
		units_add(t, db, key, ln->units);
	}
	return 0;
}

/* One accepted line in the dedup and units indexes. @return RACE (check only) or 0. */
static int index_line(tpc_txn_t *t, const tpc_store_db_t *db, tpc_claims_t *cl,
                      const tpc_job_t *job, const tpc_invoice_t *inv, uint32_t li, int check)
{
	const tpc_line_t *ln = &job->sending.lines[li];
	MDB_val k = {job->marks.id_len, job->marks.dedup[li]};
	uint8_t key[21];
	int64_t units;
	int m;

	/* the identity is the 500423 check's key: the worker found it free in its snapshot, so a
	 * hit here is a sending committed since that snapshot, or earlier in this group, that
	 * billed the same line first */
	if (check && taken(t, db->dbs.dedup, cl, job, &k))
		return RACE;
	if (!check)
		tpc_txn_put(t, db->dbs.dedup, &k, &job->sequence, sizeof(job->sequence),
		            MDB_NOOVERWRITE);
	/* only codes with a daily maximum keep a units count (tariff.c marks them): the index
	 * stays as small as the codes that need it */
	if (!job->marks.max_per_day[li] || t->ret)
		return 0;
	tpc_tariff_units_key(&inv->patient, ln->code, ln->date_first, key);
	if (!check) {
		units_add(t, db, key, ln->units);
		return 0;
	}
	/* untaken since the snapshot: the worker counted what is committed, and refused the
	 * line had it gone over */
	m = maybe_taken(t, cl, job, &(MDB_val){sizeof(key), key});
	if (!m)
		return 0;
	if (m == TPC_CLAIMS_HELD) /* units of an attestation not folded yet: counted nowhere */
		return RACE;
	if (tpc_txn_fail(t, tpc_tariff_units_get(t->txn, db->dbs.units, key, &units)))
		return 0;
	/* the maximum counts what is committed, this sending's earlier lines and this one */
	units += units_before(job, inv, li, key) + ln->units;
	return units > (int64_t)job->marks.max_per_day[li] ? RACE : 0;
}

/* The indexes later sendings are checked against (tariff.h): accepted invoice numbers, line
 * identities and units per (patient, code, day). With @p check, only look: a key already
 * taken (or a maximum now exceeded) means another sending judged at the same time got there
 * first - RACE, and nothing of this job is written. Without, write them.
 * @return RACE or 0; errors in t->ret. */
static int indexes(tpc_txn_t *t, const tpc_store_db_t *db, tpc_claims_t *cl, const tpc_job_t *job,
                   int check)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t key[160];
	MDB_val got;
	int race = 0;

	if (!job->marks.dedup)
		return 0; /* not tariffed (no reference data snapshot): nothing to index */
	for (uint32_t i = 0; i < s->ninvoices && !race && !t->ret; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];
		MDB_val k = {0, key};

		/* Only what was accepted is indexed: a refused invoice or line was never billed,
		 * so it must not block its corrected resubmission (tariff.c's gate before the
		 * checks against accepted lines). A credit note's own number is an invoice number
		 * like any other (202420); its lines take entries out instead (credit()). */
		if (inv->outcome != TPC_OUTCOME_ACCEPTED)
			continue;
		if (inv->number.len)
			k.mv_size = tpc_tariff_invoice_key(inv, key, sizeof(key));
		if (k.mv_size && check && maybe_taken(t, cl, job, &k) &&
		    tpc_txn_find(t, db->dbs.invoices, &k, &got))
			return RACE;
		if (k.mv_size && !check)
			tpc_txn_put(t, db->dbs.invoices, &k, &job->sequence, sizeof(job->sequence),
			            MDB_NOOVERWRITE);
		if (inv->invoicing == TPC_INVOICING_CREDIT_NOTE) {
			race = credit(t, db, cl, job, inv, check);
			continue;
		}
		for (uint32_t n = 0; n < inv->nlines && !race && !t->ret; n++)
			if (s->lines[inv->first_line + n].outcome == TPC_OUTCOME_ACCEPTED)
				race = index_line(t, db, cl, job, inv, inv->first_line + n, check);
	}
	return race;
}

/* The parts of line @p ln that move money (records.h tpc_line_parts()): bit 0 the insurer part,
 * bit 1 the patient share a scheme pays. The lines block stores every field this reads, so the
 * readers derive the same parts from it (store/postings.h). */
static unsigned parts_of(const tpc_line_t *ln, int64_t amount[2])
{
	return tpc_line_parts(ln->outcome, ln->accepted_cents, ln->share_budget, ln->patient_cents,
	                      amount);
}

/* The payables of the sending: one bit per line part post() wrote, in one value under the
 * sequence ("unpaid", store/records.h), which the payment runs read and clear. Written in the
 * same transaction as the postings, so every payable posting is unpaid until a run pays it;
 * none when nothing is to be paid. The key only grows, hence MDB_APPEND. */
static void unpaid(tpc_txn_t *t, const tpc_store_db_t *db, const tpc_job_t *job)
{
	const tpc_sending_t *s = &job->sending;
	size_t size = tpc_unpaid_size(s->nlines);
	tpc_unpaid_hdr_t h = {TPC_UNPAID_MAGIC, s->nlines, 0};
	uint8_t skey[8], *v = NULL;
	MDB_val k = tpc_key_u64(skey, job->sequence);

	for (uint32_t i = 0; i < s->nlines && !t->ret; i++) {
		int64_t amount[2];
		unsigned parts = parts_of(&s->lines[i], amount);

		if (!parts)
			continue;
		/* reserved at the first part to pay and zeroed once; no other write comes
		 * between the reserve and the seal */
		if (!v) {
			if (!(v = tpc_txn_reserve(t, db->unpaid, &k, size, MDB_APPEND)))
				return;
			memset(v, 0, size);
		}
		for (unsigned part = 0; part < 2; part++)
			if (parts & (1u << part))
				v[sizeof(h) + (2 * i + part) / 8] |=
				    (uint8_t)(1u << ((2 * i + part) % 8));
	}
	if (!v || t->ret)
		return;
	memcpy(v, &h, sizeof(h));
	tpc_records_unpaid_seal(v, size);
}

/* Double entry: each accepted line part debits the budget that pays it (its charge, numbered
 * n) and credits the payee (its payable, n + 1) inside that budget, so every budget sums to
 * zero at every commit; the payable is a bit of unpaid() for the payment runs. When a scheme
 * pays the patient share too, the share is a second part, charged to its own budget (SPF
 * Justice for a detainee, the war victims budget...) or the same one (Fedasil, Mediprima). A
 * credit note's negative amounts reverse the entries of the lines it cancels (a negative
 * payable, netted by the next run).
 * Schema 7 stores none of these postings: the lines block, sealed with the sending's first
 * posting number, holds every field they are made of, and the readers derive them in this
 * order (store/postings.h). Here the numbers are taken (two per part, so the payment runs'
 * postings number after them) and the sums added to the running balances, which the derived
 * postings are checked against (tpclear verify). */
static void post(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                 const tpc_job_t *job)
{
	const tpc_sending_t *s = &job->sending;
	tpc_balances_t d;
	int any = 0;

	memset(&d, 0, sizeof(d));
	for (uint32_t li = 0; li < s->nlines; li++) {
		const tpc_line_t *ln = &s->lines[li];
		int64_t amount[2];
		unsigned parts = parts_of(ln, amount);

		for (unsigned part = 0; part < 2; part++) {
			unsigned budget = part ? ln->share_budget : ln->budget;

			if (!(parts & (1u << part)))
				continue;
			c->next_posting += 2;
			any = 1;
			if (budget >= TPC_BALANCES_BUDGETS)
				continue; /* as tpc_balances_count(): no row to add it to */
			d.postings += 2;
			d.cents[budget][TPC_POST_CHARGE - 1] -= amount[part];
			d.cents[budget][TPC_POST_PAYABLE - 1] += amount[part];
			if (s->payee == TPC_PAYEE_PATIENT)
				d.insured[budget] += amount[part];
		}
	}
	if (any && !t->ret)
		tpc_txn_fail(t, tpc_balances_add(t->txn, db, &d));
}

/* The scheme references of a sending's lines (appended under (sequence, line)): what an
 * institution's statement needs and the line verdict has no room for. */
static void scheme_refs(tpc_txn_t *t, const tpc_store_db_t *db, const tpc_job_t *job)
{
	uint8_t key[12];

	for (uint32_t i = 0; i < job->sending.nlines && !t->ret; i++) {
		const tpc_line_t *ln = &job->sending.lines[i];
		MDB_val k = tpc_key_u64_u32(key, job->sequence, i);
		void *r;

		if (ln->outcome != TPC_OUTCOME_ACCEPTED || !ln->scheme_ref)
			continue;
		/* the reference whole, however long the feed's text (store/records.h) */
		r = tpc_txn_reserve(t, db->scheme_refs, &k,
		                    tpc_records_scheme_ref_size(ln->scheme_ref), MDB_APPEND);
		if (r)
			tpc_records_scheme_ref_encode(ln->scheme, ln->scheme_ref, ln->scheme_org,
			                              r);
	}
}

/* Was (sender, key) stored before, in an earlier transaction or earlier in this one (a
 * transaction reads its own writes)? Then the job is decided here: a conflict when the payload
 * differs, else a replay of the stored answer. @return 1 when decided (or on error). */
static int stored_before(tpc_txn_t *t, const tpc_store_db_t *db, tpc_job_t *job)
{
	uint8_t hash[TPC_HASH_LEN], skey[8];
	uint64_t seq;
	size_t hash_len;
	MDB_val k, v;
	tpc_stored_t st;

	if (!tpc_store_find_sending(t, db, job->sender, job->key, &seq, hash, &hash_len))
		return t->ret != 0;
	/* stored by an older engine (BLAKE2b-256): this payload hashed so too, to compare */
	if (hash_len != job->hash_len) {
		job->hash_len = (uint8_t)hash_len;
		tpc_records_payload_hash(zmq_msg_data(&job->payload), zmq_msg_size(&job->payload),
		                         hash_len, job->hash);
	}
	if (memcmp(hash, job->hash, hash_len) != 0) {
		job->status = TPC_JOB_CONFLICT;
		job->sequence = seq;
		memcpy(job->stored_hash, hash, TPC_HASH_LEN);
		return 1;
	}
	k = tpc_key_u64(skey, seq);
	if (!tpc_txn_find(t, db->answers, &k, &v)) {
		tpc_txn_fail(t, MDB_CORRUPTED); /* indexed but not stored: written together */
		return 1;
	}
	switch (tpc_records_answer_decode(v.mv_data, v.mv_size, job->arena, &st)) {
	case 0:
		break;
	case TPC_EDAMAGED: /* never a replay of bytes that are not what was stored */
		tpc_records_damaged(TPC_REC_ANSWERS, &k);
		fail_job(job, TPC_CODE_STORED_DAMAGED);
		return 1;
	default:
		fail_job(job, TPC_CODE_STORED_UNREADABLE);
		return 1;
	}
	job->sequence = st.sequence;
	job->committed_ms = st.committed_ms;
	job->result = (uint8_t *)st.result;
	job->result_len = st.result_len;
	job->native = st.native;
	job->status = TPC_JOB_REPLAY;
	return 1;
}

/* The payload under the sequence, in the same transaction as the sending: the worker's value
 * (store/payload.h) as it is, or - when the worker had no room to compress it - the header and
 * the bytes received, still in the job's message. */
static void store_payload(tpc_txn_t *t, const tpc_store_db_t *db, tpc_job_t *job)
{
	uint8_t skey[8];
	MDB_val k = tpc_key_u64(skey, job->sequence);
	size_t len = zmq_msg_size(&job->payload);
	tpc_payload_hdr_t h;
	uint8_t *space;

	if (job->payload_stored) {
		tpc_txn_put(t, db->payloads, &k, job->payload_stored, job->payload_stored_len,
		            MDB_APPEND);
		return;
	}
	h = tpc_payload_raw_header(len);
	space = tpc_txn_reserve(t, db->payloads, &k, sizeof(h) + len, MDB_APPEND);
	if (!space)
		return;
	memcpy(space, &h, sizeof(h));
	memcpy(space + sizeof(h), zmq_msg_data(&job->payload), len);
}

/* The answer and the lines block (store/records.h), appended under the new sequence. The
 * block carries the number of the sending's first posting (the counter before post()) and
 * the commit time, which the writer alone knows: it seals the block's header, the worker
 * summed its body. */
static void store_answer(tpc_txn_t *t, const tpc_store_db_t *db, tpc_job_t *job,
                         const tpc_ledger_counters_t *c, uint64_t committed_ms)
{
	const tpc_sending_t *s = &job->sending;
	uint8_t skey[8];
	MDB_val k = tpc_key_u64(skey, job->sequence);
	tpc_answer_hdr_t h;
	void *space;
	size_t n;

	tpc_records_answer_header(job, committed_ms, &h);
	space = tpc_txn_reserve(t, db->answers, &k, tpc_records_answer_size(job), MDB_APPEND);
	if (space)
		tpc_records_answer_encode(job, &h, space);
	if (!s->nlines)
		return;
	/* one value for all the lines: no key, no node per line (docs/ledger.md) */
	n = job->lines_block ? job->lines_block_len : tpc_records_lines_size(s);
	space = tpc_txn_reserve(t, db->lines, &k, n, MDB_APPEND);
	if (!space)
		return;
	/* the worker encoded it (records.h); a job that did not pass a worker (unit tests) or
	 * found no room in its arena is encoded here */
	if (job->lines_block)
		memcpy(space, job->lines_block, n);
	else
		tpc_records_lines_block(s, space);
	tpc_records_lines_seal(space, c->next_posting, committed_ms);
}

/* The replace guard (engine/refdata/refdata.h), read in the transaction that would replace, so
 * the count it compares with is the one the replace removes. @return 1 when the job was refused
 * (or the count could not be read: t->ret), 0 when the replace may go ahead. */
static int load_guarded(tpc_txn_t *t, const tpc_store_db_t *db, tpc_job_t *job)
{
	const char *code = NULL;
	char why[400];

	tpc_txn_fail(t, tpc_refdata_replace_guard(t->txn, &db->dbs.ref, &job->table, job->key,
	                                          job->load_max_drop, &code, why, sizeof(why)));
	if (t->ret)
		return 1;
	if (!code)
		return 0;
	fail_job(job, code);
	/* the reason names the counts; without room in the arena, the code's own text */
	job->fail_reason = tpc_arena_strndup(job->arena, why, strlen(why));
	if (!job->fail_reason)
		job->fail_reason = tpc_codes_describe(code);
	return 1;
}

int tpc_ledger_write_job(tpc_txn_t *t, const tpc_store_db_t *db, tpc_ledger_counters_t *c,
                         tpc_claims_t *claims, tpc_job_t *job, uint64_t committed_ms)
{
	uint8_t kbuf[TPC_SENDER_MAX + TPC_KEY_MAX + 2], sval[8 + TPC_HASH_LEN];
	MDB_val k;
	int race;

	if (t->ret)
		return t->ret;
	if (job->type == TPC_JOB_LOAD) {
		if (!job->load_upsert && !job->load_force && load_guarded(t, db, job))
			return t->ret;
		/* a reference data load replaces its kind whole, in this transaction */
		tpc_txn_fail(t, job->load_upsert
		                    ? tpc_refdata_upsert(t->txn, &db->dbs.ref, &job->table)
		                    : tpc_refdata_replace(t->txn, &db->dbs.ref, &job->table));
		if (t->ret)
			return t->ret;
		job->committed_ms = committed_ms;
		job->status = TPC_JOB_COMMITTED;
		return 0;
	}
	/* Idempotency first, inside the write transaction: two copies of one sending judged in
	 * parallel both reach here, and the second finds the first's entry (a transaction reads
	 * its own writes) and becomes its replay instead of a second store. */
	if (stored_before(t, db, job))
		return t->ret;

	/* Races first, before anything of this sending is written: if another sending of the
	 * group took one of its index keys, it is refused whole and the group goes on. */
	job->sequence = c->next_seq;
	k = tpc_key_names(kbuf, sizeof(kbuf), job->sender, job->key);
	if (claims)
		tpc_claims_lock(claims);
	/* the idempotency key is taken too: an attestation answered from the journal and not
	 * folded yet holds it (ledger/attest.h), and the express worker peeks at it */
	race = maybe_taken(t, claims, job, &k) == TPC_CLAIMS_HELD ||
	       indexes(t, db, claims, job, 1) == RACE;
	if (claims)
		tpc_claims_unlock(claims);
	if (race && !t->ret) {
		fail_job(job, TPC_CODE_RACE);
		return 0;
	}
	if (t->ret)
		return t->ret;
	/* Then everything of the sending, all under its sequence: the idempotency entry, the
	 * answer and line verdicts, the indexes, the double entry. NOOVERWRITE on the entry is
	 * a guard: stored_before() just saw it absent. */
	job->committed_ms = committed_ms;
	memcpy(sval, &job->sequence, 8);
	memcpy(sval + 8, job->hash, job->hash_len); /* its length names the algorithm */
	tpc_txn_put(t, db->sendings, &k, sval, 8 + (size_t)job->hash_len, MDB_NOOVERWRITE);
	store_answer(t, db, job, c, committed_ms);
	if (job->keep_payload)
		store_payload(t, db, job);
	indexes(t, db, claims, job, 0);
	post(t, db, c, job);
	unpaid(t, db, job);
	scheme_refs(t, db, job);
	/* the sequence is taken only now: a replay, a conflict or a race refusal stores nothing
	 * under a new one, so sequences number the stored sendings without gaps (and resume()
	 * in pipeline/writer.c, which restarts after the last stored answer, agrees) */
	if (t->ret)
		return t->ret;
	c->next_seq++;
	job->status = TPC_JOB_COMMITTED;
	return 0;
}

uint64_t tpc_ledger_next_posting(tpc_txn_t *t, const tpc_store_db_t *db)
{
	uint64_t next = 0;

	/* from the data (the last stored posting, the last block's derived ones), never from a
	 * counter stored beside it */
	if (!t->ret)
		tpc_txn_fail(t, tpc_postings_next_number(t->txn, db, &next));
	return next;
}

int tpc_ledger_postings_sum(tpc_ledger_reader_t *r, int64_t *sum, int64_t *credited,
                            uint64_t *count)
{
	const tpc_store_db_t *db;
	tpc_postings_t it;
	tpc_posting_rec_t p;
	uint64_t num;
	MDB_txn *txn;
	int rc;

	*sum = *credited = 0;
	*count = 0;
	if ((rc = tpc_store_read_begin(r, &txn, &db)))
		return rc;
	/* stored and derived postings alike (store/postings.h) */
	if (!(rc = tpc_postings_open(&it, txn, db, 0))) {
		while ((rc = tpc_postings_next(&it, &p, &num)) == 1) {
			*sum += p.amount_cents;
			if (p.kind == TPC_POST_PAYABLE)
				*credited += p.amount_cents;
			(*count)++;
		}
		tpc_postings_close(&it);
	}
	tpc_store_read_end(r);
	return tpc_err_from_mdb(rc);
}
