/* tests/crash/crash.c - the crash campaign's driver: options, trials, the report (see crash.h
 * and docs/reliability.md).
 *
 *   tpc_crash [--trials N] [--seed S] [--from T] [--segment K] [--payrun-share PCT]
 *             [--power-trials P] [--cuts C] [--nometasync-trials Q] [--keep] [--verbose]
 *
 * A kill trial: start the engine on the segment's ledger (a third of the trials with a crash
 * point armed inside the payment run), send a random load, SIGKILL the engine at a random
 * instant (or see it die at its crash point), restart it, check it online (load.c), stop it
 * and check its files (books.c). The ledger is carried from trial to trial for --segment
 * trials (default 25), then a fresh one: carried, because the later kills then strike a
 * ledger with history (payables of earlier trials, paid runs, credited invoices) and every
 * check covers everything answered since the segment began, so a kill that damaged an earlier
 * trial's answer is caught; bounded, so that a check's cost does not grow without end and a
 * failing trial is rerun from its segment's start in minutes.
 *
 * Exit status: 0 when every check held, 1 when one failed, 77 when asked only for what this
 * build cannot do (the power-loss trials under AddressSanitizer), 2 on a usage error.
 */
#include "crash.h"

#include "testutil.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#if defined(__SANITIZE_ADDRESS__)
#define CRASH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_ASAN 1
#endif
#endif

const char *const crash_points[3] = {"payrun.payment", "payrun.committed", "payrun.files"};

typedef struct opts {
	unsigned long long seed;
	unsigned trials, from, segment, payrun_share, power_trials, cuts, nms_trials;
	int keep, verbose;
} opts_t;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int crash_start(crash_ctx_t *c, const char *dir, const char *extra_ini, const char *point)
{
	char *fresh = NULL;
	int rc;

	if (!dir) {
		/* a directory of our own rather than tpc_td_start(NULL), which would zero the
		 * context we share */
		memset(&c->d, 0, sizeof(c->d));
		if (!(dir = fresh = tpc_test_tmpdir()))
			return -1;
	}
	c->d.zctx = c->zctx;
	if (point)
		setenv("TPC_CRASHPOINT", point, 1);
	/* the attestation journal on unless the trial says otherwise (a nometasync trial: it
	 * needs sync = full), so that the campaign checks its promise too */
	rc = tpc_td_start(&c->d, dir, extra_ini ? extra_ini : "[ledger]\nattest_journal = 1\n");
	unsetenv("TPC_CRASHPOINT"); /* for this start only: the restart runs unarmed */
	free(fresh);
	if (rc != 0) {
		tpc_td_dump_log(&c->d);
		return -1;
	}
	c->sock = tpc_td_connect(&c->d);
	return c->sock ? 0 : -1;
}

/* The plan of trial @p t, and the crash point armed for it (NULL: a timed kill). */
static const char *plan_trial(const opts_t *o, crash_rng_t *r, double ms_per_request,
                              crash_plan_t *plan, char *point, size_t cap, int *which)
{
	memset(plan, 0, sizeof(*plan));
	plan->requests = 8 + crash_below(r, 33);
	plan->window = 1 + crash_below(r, 8);
	plan->kill_after = -1;
	*which = -1;
	if (crash_chance(r, o->payrun_share)) {
		/* a payment run's crash point: runs are a quarter of the load, the kill is the
		 * engine's own; the point inside the transaction gets most of these trials */
		unsigned roll = crash_below(r, 100);

		*which = roll < 60 ? 0 : roll < 80 ? 1 : 2;
		snprintf(point, cap, "%s:%u", crash_points[*which],
		         1 + crash_below(r, *which ? 2 : 3));
		plan->kill_ms = 0;
		plan->payrun_pc = 25;
		return point;
	}
	plan->payrun_pc = 8;
	if (crash_chance(r, 60)) {
		/* within 5 ms of a random answer: requests are in flight in every stage then
		 * (window > 1), at a random phase of their work */
		plan->kill_after = (int)crash_below(r, plan->requests);
		plan->kill_us = crash_below(r, 5000);
		return NULL;
	}
	/* anywhere in the load, or a little after it: the estimate is what a request took in
	 * the timed trials that drained */
	plan->kill_ms = 1 + crash_below(r, (unsigned)(plan->requests * ms_per_request * 1.2) + 1);
	return NULL;
}

/* One kill trial on the segment's ledger. @return 0 or -1 (c->why says why). */
static int kill_trial(crash_ctx_t *c, crash_model_t *m, const opts_t *o, unsigned t,
                      double *ms_per_request)
{
	crash_rng_t r;
	crash_plan_t plan;
	char point_buf[64], how[96];
	const char *point;
	int which, end, rc = 0;
	double t0 = now_s(), t1;

	crash_rng_seed(&r, o->seed, t);
	point = plan_trial(o, &r, *ms_per_request, &plan, point_buf, sizeof(point_buf), &which);
	c->why[0] = 0;
	if (crash_start(c, c->d.dir[0] ? c->d.dir : NULL, NULL, point) != 0)
		return crash_fail(c, "trial %u: the engine does not start", t);
	t1 = now_s();
	end = crash_load(c, m, &r, &plan);
	t1 = now_s() - t1;
	zmq_close(c->sock);
	tpc_td_kill9(&c->d); /* reaped already unless the load failed before the kill */
	/* (a crash point trial that drained waited for its point: not a measure of the load) */
	if (end == CRASH_END_DRAINED && plan.kill_ms)
		*ms_per_request = 0.7 * *ms_per_request + 0.3 * t1 * 1000.0 / plan.requests;
	c->st->kills_load += end == CRASH_END_KILLED;
	c->st->kills_idle += end == CRASH_END_DRAINED;
	if (end == CRASH_END_POINT)
		c->st->kills_payrun[which]++;
	if (!point && plan.kill_after >= 0)
		snprintf(how, sizeof(how), "kill %u us after answer %d", plan.kill_us,
		         plan.kill_after);
	else if (!point)
		snprintf(how, sizeof(how), "kill at %u ms", plan.kill_ms);
	else
		snprintf(how, sizeof(how), "crash point %s", point);
	fprintf(c->log, "trial %u: %u requests, window %u, %s -> %s\n", t, plan.requests,
	        plan.window, how,
	        end == CRASH_END_POINT     ? "killed at its crash point"
	        : end == CRASH_END_KILLED  ? "killed during the load"
	        : end == CRASH_END_DRAINED ? "killed idle (load answered)"
	                                   : "failed");
	if (end < 0)
		rc = -1;
	if (crash_start(c, c->d.dir, NULL, NULL) != 0)
		return crash_fail(c, "trial %u: the engine does not restart after the kill", t);
	rc |= crash_check_online(c, m, &r);
	zmq_close(c->sock);
	if (tpc_td_stop(&c->d) != 0)
		rc |= crash_fail(c, "trial %u: the engine did not stop cleanly", t);
	rc |= crash_check_books(c, c->d.data, m);
	rc |= crash_verify(c, c->d.data);
	c->st->trials++;
	if (c->verbose || rc)
		fprintf(c->log, "  trial %u %s (%.1f s)\n", t, rc ? "FAILED" : "ok", now_s() - t0);
	return rc ? -1 : 0;
}

/* A fresh ledger from trial @p t on: the last one removed (unless kept), a new model. */
static void new_ledger(crash_ctx_t *c, crash_model_t *m, unsigned t, int keep)
{
	/* the leftovers the ledger's last check saw, counted once per ledger */
	c->st->stray_tmp += c->st->stray_last;
	c->st->stray_last = 0;
	if (c->d.pid > 0)
		tpc_td_kill9(&c->d);
	if (!keep)
		tpc_td_cleanup(&c->d);
	memset(&c->d, 0, sizeof(c->d));
	crash_model_release(m);
	/* the model's segment is the trial the ledger began with: keys derive from it, so a
	 * rerun from that trial sends the same sendings */
	crash_model_init(m, t);
}

/* The kill trials, a fresh ledger every --segment trials and after a failure.
 * @return the number of failed trials. */
static unsigned kill_trials(crash_ctx_t *c, const opts_t *o)
{
	crash_model_t m;
	double ms_per_request = 5.0;
	unsigned failed = 0, begun = o->from;

	memset(&c->d, 0, sizeof(c->d));
	crash_model_init(&m, begun);
	for (unsigned t = o->from; t < o->from + o->trials; t++) {
		if (t != begun && t % o->segment == 0)
			new_ledger(c, &m, begun = t, 0);
		if (kill_trial(c, &m, o, t, &ms_per_request) == 0)
			continue;
		failed++;
		fprintf(c->log,
		        "FAILED trial %u: %s\n  rerun: tests/crash/run --seed %llu --from %u "
		        "--trials %u --segment %u\n  data directory: %s%s\n",
		        t, c->why, o->seed, begun, t - begun + 1, o->segment, c->d.dir,
		        o->keep ? " (kept)" : " (removed; --keep keeps it)");
		new_ledger(c, &m, begun = t + 1, o->keep);
	}
	new_ledger(c, &m, o->from + o->trials, 0);
	crash_model_release(&m);
	return failed;
}

/* The power-loss trials (full sync, then nometasync). @return the number that failed. */
static unsigned power_trials(crash_ctx_t *c, const opts_t *o)
{
	unsigned failed = 0;

	for (unsigned k = 0; k < o->power_trials + o->nms_trials; k++) {
		int nms = k >= o->power_trials;
		crash_rng_t r;

		/* streams apart from the kill trials' */
		crash_rng_seed(&r, o->seed, 1000000000ull + k);
		c->why[0] = 0;
		/* under nometasync a lost commit is counted, not failed; anything else fails */
		if (crash_power_trial(c, &r, o->cuts, nms) == 0)
			continue;
		failed++;
		fprintf(c->log,
		        "FAILED power-loss trial %u: %s\n  rerun: tests/crash/run --seed %llu "
		        "--trials 0 --power-trials %u --cuts %u --nometasync-trials %u\n",
		        k, c->why, o->seed, nms ? o->power_trials : k + 1, o->cuts,
		        nms ? k - o->power_trials + 1 : 0);
	}
	return failed;
}

static void report(FILE *f, const crash_stats_t *s, double secs, const opts_t *o)
{
	unsigned payrun = s->kills_payrun[0] + s->kills_payrun[1] + s->kills_payrun[2];

	fprintf(f, "\n== crash campaign, seed %llu\n", o->seed);
	fprintf(f, "kill trials               %u (fresh ledger every %u)\n", s->trials, o->segment);
	fprintf(f, "  killed during the load  %u\n", s->kills_load);
	fprintf(f, "  killed after the load   %u\n", s->kills_idle);
	fprintf(f,
	        "  killed in payment runs  %u (in the transaction %u, after the commit %u, "
	        "after the files %u)\n",
	        payrun, s->kills_payrun[0], s->kills_payrun[1], s->kills_payrun[2]);
	fprintf(f, "requests sent             %lu\n", s->requests);
	fprintf(f, "answered sendings checked %lu (queries after a restart, byte for byte)\n",
	        s->answered_checked);
	fprintf(f,
	        "resubmissions / retries   %lu / %lu (%lu of them committed before the kill, "
	        "never answered)\n",
	        s->resubmissions, s->retried, s->retried_stored);
	fprintf(f, "payment runs answered     %lu\n", s->payruns_answered);
	fprintf(f, "SEPA files checked        %lu (failures %lu; stray .tmp files %lu)\n",
	        s->sepa_checked, s->sepa_failures, s->stray_tmp);
	fprintf(f,
	        "power-loss cuts           %u (sync = full), sendings held at the cuts %lu "
	        "(+ %lu eAttests held by the journal only), failed %u\n",
	        s->cuts, s->cut_sendings, s->cut_journal, s->cut_failures);
	if (s->cuts_unborn)
		fprintf(
		    f,
		    "  before the first commit %u more cuts (nothing answered yet: not checked); "
		    "the engine did not start after %u\n",
		    s->cuts_unborn, s->unborn_refused);
	if (s->nms_cuts)
		fprintf(f,
		        "  sync = nometasync       %u cuts: %u lost sendings (%lu in all), %lu "
		        "payment runs lost, %u failed a check after the cut\n",
		        s->nms_cuts, s->nms_cuts_lost, s->nms_sendings_lost, s->nms_runs_lost,
		        s->nms_broken);
	fprintf(f, "losses                    %lu (+ %u at power cuts)\n", s->losses,
	        s->cut_losses);
	fprintf(f, "changed answers           %lu\n", s->changed);
	fprintf(f, "paid twice                %lu\n", s->paid_twice);
	fprintf(f, "other book failures       %lu\n", s->book_failures);
	fprintf(f, "tpclear verify            %lu runs, %lu failures%s\n", s->verify_runs,
	        s->verify_failures, s->verify_runs ? "" : " (not in this tpclear)");
	fprintf(f, "failed trials             %u\n", s->failures);
	fprintf(f, "duration                  %.0f s\n", secs);
}

static int usage(FILE *f, int rc)
{
	fprintf(
	    f, "usage: tpc_crash [--trials N] [--seed S] [--from T] [--segment K]\n"
	       "                 [--payrun-share PCT] [--power-trials P] [--cuts C]\n"
	       "                 [--nometasync-trials Q] [--keep] [--verbose]\n"
	       "  --trials N            kill trials (default 50)\n"
	       "  --seed S              the campaign's seed (default: drawn, printed)\n"
	       "  --from T              number of the first trial (a rerun starts where the\n"
	       "                        failing trial's ledger began)\n"
	       "  --segment K           trials per ledger before a fresh one (default 25)\n"
	       "  --payrun-share PCT    trials killed at a payment run's crash point (default 33)\n"
	       "  --power-trials P      power-loss trials under sync = full (default 1)\n"
	       "  --cuts C              cut points replayed per power-loss trial (default 8)\n"
	       "  --nometasync-trials Q power-loss trials under sync = nometasync, counted as\n"
	       "                        findings, not failures (default 0)\n"
	       "  --keep                keep the data directory of a failed trial\n"
	       "  --verbose             a line per trial's outcome\n");
	return rc;
}

static int parse(int argc, char **argv, opts_t *o)
{
	static const struct option lo[] = {{"trials", required_argument, NULL, 't'},
	                                   {"seed", required_argument, NULL, 's'},
	                                   {"from", required_argument, NULL, 'f'},
	                                   {"segment", required_argument, NULL, 'g'},
	                                   {"payrun-share", required_argument, NULL, 'p'},
	                                   {"power-trials", required_argument, NULL, 'P'},
	                                   {"cuts", required_argument, NULL, 'c'},
	                                   {"nometasync-trials", required_argument, NULL, 'n'},
	                                   {"keep", no_argument, NULL, 'k'},
	                                   {"verbose", no_argument, NULL, 'v'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	int ch;

	*o = (opts_t){0, 50, 0, 25, 33, 1, 8, 0, 0, 0};
	/* an unpinned seed is printed first, so even a run that hangs can be repeated */
	o->seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		unsigned long v = optarg ? strtoul(optarg, NULL, 10) : 0;

		switch (ch) {
		case 't':
			o->trials = (unsigned)v;
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			o->from = (unsigned)v;
			break;
		case 'g':
			o->segment = v ? (unsigned)v : 1;
			break;
		case 'p':
			o->payrun_share = v > 100 ? 100 : (unsigned)v;
			break;
		case 'P':
			o->power_trials = (unsigned)v;
			break;
		case 'c':
			o->cuts = (unsigned)v;
			break;
		case 'n':
			o->nms_trials = (unsigned)v;
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	opts_t o;
	crash_stats_t st;
	crash_ctx_t c;
	double t0 = now_s();

	switch (parse(argc, argv, &o)) {
	case 0:
		break;
	case 1:
		return usage(stdout, 0);
	default:
		return usage(stderr, 2);
	}
	memset(&st, 0, sizeof(st));
	memset(&c, 0, sizeof(c));
	c.st = &st;
	c.log = stderr;
	c.verbose = o.verbose;
	setvbuf(stderr, NULL, _IOLBF, 0);
	fprintf(stderr,
	        "crash campaign: seed %llu, %u kill trials from %u, %u power-loss trials of "
	        "%u cuts (+%u nometasync)\n",
	        o.seed, o.trials, o.from, o.power_trials, o.cuts, o.nms_trials);
	if (!getenv("TPC_TPCLEARD") || !getenv("TPC_TPCLEAR") || !getenv("TPC_SOURCE_DIR")) {
		fprintf(stderr, "TPC_TPCLEARD, TPC_TPCLEAR and TPC_SOURCE_DIR must be set "
		                "(tests/crash/run and ctest set them)\n");
		return 2;
	}
#ifdef CRASH_ASAN
	if (o.power_trials + o.nms_trials) {
		/* the shim would have to load before the sanitizer's runtime, which refuses that */
		fprintf(stderr, "SKIP power-loss trials: the journal shim is an LD_PRELOAD library "
		                "and AddressSanitizer must be the first library loaded\n");
		o.power_trials = o.nms_trials = 0;
		if (!o.trials)
			return 77;
	}
#endif
	c.zctx = zmq_ctx_new();
	st.failures = kill_trials(&c, &o);
	st.failures += power_trials(&c, &o);
	report(stderr, &st, now_s() - t0, &o);
	/* the context is left to the exit: a socket of a failed check may still be open */
	return st.failures ? 1 : 0;
}
