/* tests/support/ledgerfix.h - a real LMDB ledger in a temporary directory, fed the way the
 * engine feeds it (test_payrun.c, test_ledger_query.c).
 *
 * Jobs go through tpc_worker_process on the test's thread (with a ledger reader, so sendings
 * are tariffed against the reference data like on a worker), then through the ledger writer
 * thread (input queue, done queue). Sendings are canonical (tpclear.CanonicalSending) built with
 * lfx_begin / lfx_invoice / lfx_line; reference data are the samples of config/refdata/, with a
 * providers file of the test's choosing.
 *
 * Every job made by lfx_job() is tracked and freed by lfx_teardown(), so a failed assertion
 * leaks nothing. Answers are unpacked into their job's arena (lfx_answer), freed with the job.
 */
#ifndef TPC_LEDGERFIX_H
#define TPC_LEDGERFIX_H

#include "core/config.h"
#include "pipeline/job.h"
#include "ledger/ledger.h"
#include "pipeline/writer.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "refdata/refdata.h"
#include "tpclear.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define LFX_SENDER   "hospital-a"
#define LFX_HOSPITAL "18334780004" /* sample providers (config/refdata/providers.csv) */
#define LFX_GP       "17385467004"
#define LFX_PHARMACY "10065828001"
#define LFX_PATIENT  "86103130262" /* ordinary insured, covered from 2020 */
#define LFX_CODE     "101032"      /* fee 3000, insurer 2400 (ordinary) */
#define LFX_INSURER  2400          /* insurer part of one unit of LFX_CODE for LFX_PATIENT */
#define LFX_SHARE    600           /* patient share of one unit */
#define LFX_CREATED  20261120      /* creation date of every sending */
#define LFX_DATE     20261110      /* service date of every line */
#define LFX_MAX_JOBS 256

typedef struct lfx {
	char *dir;
	tpc_config_t cfg;
	tpc_metrics_t *metrics;
	tpc_metrics_shard_t *shard; /* the test thread's, for tpc_worker_process */
	tpc_writer_t *ledger;
	tpc_store_reader_t *reader;
	tpc_queue_t *in, *done;
	tpc_job_t *live[LFX_MAX_JOBS]; /* jobs not freed yet */
} lfx_t;

extern lfx_t lfx;

/** Criterion .init / .fini: a fresh directory and configuration (the ledger is not open). */
void lfx_setup(void);
void lfx_teardown(void);

/** Open the ledger in lfx.cfg.data_dir, make a reader and start the writer. */
void lfx_open(void);
/** The same in two steps: jobs pushed in between wait together for the writer's first pop. */
void lfx_open_stopped(void);
void lfx_start(void);
/** Stop the writer and close everything lfx_open made (idempotent). */
void lfx_close(void);

/** A new job of @p type from LFX_SENDER with @p key, tracked until lfx_free_job/teardown. */
tpc_job_t *lfx_job(enum tpc_job_type type, const char *key);
void lfx_free_job(tpc_job_t *j);
/** Replace the job's payload with a copy of @p len bytes. */
void lfx_set_payload(tpc_job_t *j, const void *data, size_t len);
/** Push @p j to the writer and wait for it on the done queue. */
void lfx_roundtrip(tpc_job_t *j);
/** The job's packed tpclear.Answer (job->result), unpacked into the job's arena. */
Tpclear__Answer *lfx_answer(tpc_job_t *j);

/** A reference data file of @p kind parsed by the worker path: status CLEARED, rows in
 *  j->table, not yet written (lfx_commit writes it). */
tpc_job_t *lfx_load_job(enum tpc_ref_kind kind, const char *csv);
/** Send a judged job to the writer; assert it is committed and free it. */
void lfx_commit(tpc_job_t *j);
/** Parse and write one reference data file. */
void lfx_load(enum tpc_ref_kind kind, const char *csv);
/** Load the sample members, tariffs and agreements, and @p providers_csv (NULL: the sample). */
void lfx_load_samples(const char *providers_csv);

/** Start a canonical sending with key @p key (created LFX_CREATED). */
void lfx_begin(const char *key);
/** Add an invoice for LFX_PATIENT by @p provider. @p invoicing: 0 normal, 3 credit note
 *  (then @p previous is the credited number). */
void lfx_invoice(const char *provider, const char *number, int invoicing, const char *previous);
/** Make the last invoice one for patient @p niss, of @p kind (0 ambulatory, 1 hospitalised,
 *  2 pharmacy): e.g. a Mediprima patient of config/refdata/mediprima.csv. */
void lfx_invoice_for(const char *niss, int kind);
/** Add a line of LFX_CODE on LFX_DATE to the last invoice. @p ref makes its identity. */
void lfx_line(const char *ref, int units, int64_t insurer_cents, int64_t patient_cents);
/** A line as the tariff wants it (@p units of LFX_CODE: negative on a credit note). */
void lfx_good_line(const char *ref, int units);
/** Judge the sending through the worker path: status CLEARED, not yet written. */
tpc_job_t *lfx_judge(void);
/** The same, whatever the worker decided (CLEARED, or REPLAY found in its snapshot). */
tpc_job_t *lfx_process(void);
/** Judge the sending and commit it; the job is kept (tracked). */
tpc_job_t *lfx_submit(void);

/** Run a payment run through the writer. @p until: days since epoch (INT32_MAX = all),
 *  @p budget: 0 = every budget. @return the job; its answer's payrun body is asserted set. */
tpc_job_t *lfx_payrun(int32_t until, unsigned budget);
/** The same request, not pushed yet (status CLEARED). */
tpc_job_t *lfx_payrun_job(int32_t until, unsigned budget);
Tpclear__PayrunResult *lfx_payrun_result(tpc_job_t *j);

/** Assert the postings sum to 0; @return their number (and what payees were credited). */
uint64_t lfx_postings_zero(int64_t *credited);

/** Days since epoch of unix milliseconds, and YYYYMMDD of a day. */
int32_t lfx_day_of_ms(uint64_t ms);
int32_t lfx_yyyymmdd(int32_t day);

#endif
