/* tests/crash/crash.h - the crash campaign (docs/reliability.md): kill -9 the real daemon at
 * random instants and inside payment runs, replay power losses, and check after each that
 * nothing answered was lost or changed and nothing was paid twice.
 *
 * DESIGN. One process, one thread: the driver (crash.c) runs trials against a real tpcleard
 * started by tests/support/daemon.c. Each trial sends a random mix of requests (load.c), kills
 * the engine, restarts it and checks it online (load.c: every answered sending's stored answer
 * byte for byte, resubmissions, retried payment runs), then stops it and checks the files
 * offline (books.c: the books, the payments, the SEPA files, `tpclear verify`). powercut.c
 * replays the write journal of journal_shim.c to build the data file a power cut could have
 * left. Every random choice comes from a crash_rng_t seeded from the campaign seed and the
 * trial number, so a failing trial is rerun with --seed and --from (the instants of the kills
 * are timings, so a rerun makes the same choices, not always the same interleaving).
 */
#ifndef TPC_CRASH_H
#define TPC_CRASH_H

#include "daemon.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- random numbers --------------------------------------------------------------------- */

typedef struct crash_rng {
	uint64_t s;
} crash_rng_t;

/** Seed @p r from the campaign @p seed and a @p stream (the trial number). */
void crash_rng_seed(crash_rng_t *r, uint64_t seed, uint64_t stream);
/** Uniform in [0, @p n) (n > 0). */
unsigned crash_below(crash_rng_t *r, unsigned n);
/** True with probability @p percent / 100. */
int crash_chance(crash_rng_t *r, unsigned percent);

/* ---- what the client knows -------------------------------------------------------------- */

enum crash_state {
	CRASH_SENT = 0,     /* sent, no final answer yet */
	CRASH_ANSWERED = 1, /* a Result: stored, its bytes below */
	CRASH_REFUSED = 2,  /* refused with a receipt: nothing stored */
};

/** One sending the driver made, and what the engine answered for it. */
typedef struct crash_sending {
	char key[40];
	char format[12];
	uint8_t *payload; /* malloc'd */
	size_t len;
	int state;       /* enum crash_state */
	uint8_t *result; /* the Result's bytes as first answered, without the replay flag */
	size_t rlen;
	uint8_t *native; /* the native answer frame (eFact 920098/920099), or NULL */
	size_t nlen;
	uint64_t seq;
	char number[13]; /* eFact: the invoice number, "" for canonical */
	int creditable;  /* an accepted eFact invoice no credit note was sent for */
	uint32_t day;    /* eFact: the first line's date, YYYYMMDD */
	unsigned serial; /* eFact: what its line references derive from */
	unsigned mask;   /* eFact: which of the two lines it has (1: 101032, 2: 102771) */
} crash_sending_t;

/** One payment run request. */
typedef struct crash_payrun {
	char id[40]; /* request_id, "" = none */
	int answered;
	uint64_t run; /* as answered, 0 = nothing paid */
	int64_t total_cents;
	uint8_t *file; /* the first SEPA file's content as answered (malloc'd), or NULL */
	size_t flen;
} crash_payrun_t;

/** The client's memory of one ledger (a segment of trials). */
typedef struct crash_model {
	crash_sending_t *s;
	size_t n, cap;
	crash_payrun_t *p;
	size_t np, capp;
	unsigned serial; /* makes keys, invoice numbers and line references unique */
	uint64_t segment;
} crash_model_t;

void crash_model_init(crash_model_t *m, uint64_t segment);
void crash_model_release(crash_model_t *m);
/** A new sending of @p format with its payload (taken). @return its index. */
size_t crash_model_add(crash_model_t *m, const char *format, uint8_t *payload, size_t len);
/** A new payment run request. @return its index. */
size_t crash_model_add_payrun(crash_model_t *m, const char *id);
/** How many sendings are stored (answered). */
size_t crash_model_stored(const crash_model_t *m);

/** A new canonical sending (hospital or GP, 1-3 invoices of 1-6 lines). @return its index. */
size_t crash_make_canonical(crash_model_t *m, crash_rng_t *r);
/** A new eAttest (format "eattest": sent as REQUEST_EATTEST, keyed by its number). */
size_t crash_make_eattest(crash_model_t *m, crash_rng_t *r);
/** A new eFact invoice of the sample hospital (1-2 lines). @return its index. */
size_t crash_make_efact(crash_model_t *m, crash_rng_t *r);
/** An eFact credit note of a creditable invoice, or (size_t)-1 when there is none. */
size_t crash_make_credit(crash_model_t *m, crash_rng_t *r);

/* ---- the campaign's counts ---------------------------------------------------------------- */

typedef struct crash_stats {
	unsigned trials, kills_load, kills_idle, kills_payrun[3];
	unsigned long requests, answered_checked, resubmissions, retried, payruns_answered;
	unsigned long retried_stored; /* retried after a kill and found committed */
	unsigned long losses, changed, paid_twice, book_failures, verify_runs, verify_failures;
	unsigned long sepa_checked, sepa_failures;
	unsigned long stray_tmp, stray_last; /* NAME.tmp.PID files left in payments/ by a kill */
	unsigned power_trials, cuts, cut_failures, cut_losses;
	unsigned cuts_unborn;    /* cuts before the engine's first commit: not checked */
	unsigned unborn_refused; /* ... after which the engine did not start */
	unsigned long cut_sendings;
	unsigned long cut_journal; /* of them: attestations only the journal's image held */
	unsigned nms_cuts, nms_cuts_lost, nms_broken; /* broken: a check failed on the cut */
	unsigned long nms_sendings_lost, nms_runs_lost;
	unsigned failures; /* trials that failed a check */
} crash_stats_t;

/** The names of the payment-run crash points, index as crash_stats_t.kills_payrun. */
extern const char *const crash_points[3];

/* ---- one engine under test ------------------------------------------------------------- */

typedef struct crash_ctx {
	tpc_td_t d;
	void *zctx; /* one ZeroMQ context for the campaign (d.zctx before every start) */
	void *sock; /* DEALER as identity "test" */
	crash_stats_t *st;
	FILE *log; /* the trial's account (stderr) */
	int verbose;
	int findings;  /* a failed check is a finding to count, not a failure (nometasync cuts) */
	char why[512]; /* the first failed check of the trial */
} crash_ctx_t;

/** Record a failed check (the first one is kept in ctx->why) and print it. @return -1. */
int crash_fail(crash_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* load.c: one trial's load and the online checks after a restart. */

/** How a load ended. */
enum crash_end {
	CRASH_END_KILLED = 0,  /* the driver's SIGKILL at the chosen instant */
	CRASH_END_POINT = 1,   /* the engine killed itself at its crash point */
	CRASH_END_DRAINED = 2, /* everything was answered before the instant: killed idle */
};

/** The plan of one trial's load. */
typedef struct crash_plan {
	unsigned requests; /* how many requests */
	unsigned window;   /* requests in flight at most */
	unsigned kill_ms;  /* the instant, from the first send; 0 = only at a crash point */
	int kill_after;    /* >= 0: kill kill_us after this many final answers instead */
	unsigned kill_us;
	unsigned payrun_pc; /* share of payment runs among the requests */
} crash_plan_t;

/** Send the plan's requests, kill the engine at the plan's instant (or see it die at its crash
 *  point), reap it. @return enum crash_end, or -1 when a check failed on the way. */
int crash_load(crash_ctx_t *c, crash_model_t *m, crash_rng_t *r, const crash_plan_t *plan);
/** Query every answered sending of @p m: found, with the bytes first answered.
 *  @return 0 or -1. */
int crash_check_answers(crash_ctx_t *c, crash_model_t *m);
/** After a restart: every answered sending queried (same bytes), the unanswered ones sent
 *  again, some answered ones resubmitted (replays, same bytes), payment runs retried.
 *  @return 0 or -1. */
int crash_check_online(crash_ctx_t *c, crash_model_t *m, crash_rng_t *r);

/* books.c: the stopped engine's files. */

/** The books of the stopped engine in @p data: they balance per budget; each payable paid at
 *  most once; payments, lines and runs agree; the SEPA files are the ledger's; the number of
 *  stored sendings is the model's (when @p m is not NULL). @return 0 or -1. */
int crash_check_books(crash_ctx_t *c, const char *data, const crash_model_t *m);
/** `tpclear verify --data-dir @p data --json` when this tpclear has it (probed once).
 *  @return 0 clean or not available, -1 damaged or cannot open. */
int crash_verify(crash_ctx_t *c, const char *data);

/** Start the engine in @p dir (a fresh temporary directory when NULL) on the campaign's
 *  context, with TPC_CRASHPOINT=@p point for this start only (NULL = none), and connect.
 *  @return 0 or -1 (the log is printed). */
int crash_start(crash_ctx_t *c, const char *dir, const char *extra_ini, const char *point);

/* powercut.c */

/** One power-loss trial: a fresh engine under journal_shim, a load, then @p cuts cut points
 *  replayed from the journal and checked. @p nometasync: run the engine with
 *  sync = nometasync and count what it loses instead of failing. @return 0 or -1. */
int crash_power_trial(crash_ctx_t *c, crash_rng_t *r, unsigned cuts, int nometasync);

#endif
