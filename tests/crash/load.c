/* tests/crash/load.c - one trial's requests, the kill, and the online checks after the restart
 * (see crash.h).
 *
 * Requests are pipelined up to the plan's window on one DEALER, the way an integrator's client
 * sends, and every answer is matched to its request by correlation. The first Result of a
 * sending is its truth: its bytes (the Result as stored, without the replay flag a query or a
 * replay adds, and the native frame) are kept, and every later answer for the same key - a
 * resubmission during the load, a query or a retry after the restart - must carry exactly
 * those bytes, sequence and commit time included. A query that finds nothing for an answered
 * key is a loss.
 */
#include "crash.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

enum op_kind {
	OP_NEW = 0,      /* a sending's first submission */
	OP_RESUBMIT = 1, /* an answered sending again, same bytes: a replay */
	OP_CONFLICT = 2, /* an answered key with another sending's bytes: a conflict */
	OP_RETRY = 3,    /* an unanswered sending again after the restart */
	OP_QUERY = 4,    /* the stored answer of an answered sending */
	OP_PAYRUN = 5,   /* a payment run request (new, or a retry of its request_id) */
};

static const char *const op_names[] = {"submit", "resubmit", "conflict",
                                       "retry",  "query",    "payrun"};

typedef struct op {
	uint64_t corr;
	int kind;     /* enum op_kind */
	size_t idx;   /* the sending (or payment run) */
	size_t other; /* OP_CONFLICT: whose bytes are sent */
} op_t;

#define MAX_WINDOW 64

/* The requests in flight on the socket. */
typedef struct flight {
	op_t ops[MAX_WINDOW];
	size_t n;
	op_t busy[MAX_WINDOW]; /* answered busy: to send again (exchange()) or leave unanswered */
	size_t nbusy;
} flight_t;

/* One received answer: the Answer frame and the native frame, as they came. */
typedef struct msg {
	uint8_t *a, *native;
	size_t alen, nlen;
	Tpclear__Answer *ans;
} msg_t;

static uint64_t corr_next = 1; /* 0 is what pushed settlements carry */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_ms(void)
{
	return now_us() / 1000u;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};

	nanosleep(&ts, NULL);
}

int crash_fail(crash_ctx_t *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!c->why[0])
		snprintf(c->why, sizeof(c->why), "%s", buf);
	fprintf(c->log, "  %s %s\n", c->findings ? "finding:" : "FAIL", buf);
	return -1;
}

static void msg_free(msg_t *m)
{
	if (m->ans)
		tpclear__answer__free_unpacked(m->ans, NULL);
	free(m->a);
	free(m->native);
	memset(m, 0, sizeof(*m));
}

/* Receive one whole answer within @p timeout_ms. @return 1, 0 on timeout, -1 on error. */
static int recv_msg(void *sock, int timeout_ms, msg_t *m)
{
	zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
	int more = 1;

	memset(m, 0, sizeof(m[0]));
	if (zmq_poll(&pi, 1, timeout_ms) <= 0)
		return 0;
	for (int f = 0; more; f++) {
		zmq_msg_t z;
		size_t ml = sizeof(more);
		uint8_t **dst = f == 0 ? &m->a : &m->native;
		size_t *dlen = f == 0 ? &m->alen : &m->nlen;

		zmq_msg_init(&z);
		if (zmq_msg_recv(&z, sock, 0) < 0) {
			zmq_msg_close(&z);
			msg_free(m);
			return -1;
		}
		if (f < 2) {
			*dlen = zmq_msg_size(&z);
			*dst = malloc(*dlen ? *dlen : 1);
			memcpy(*dst, zmq_msg_data(&z), *dlen);
		}
		zmq_msg_close(&z);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
	}
	m->ans = tpclear__answer__unpack(NULL, m->alen, m->a);
	if (!m->ans) {
		msg_free(m);
		return -1;
	}
	return 1;
}

/* Read a protobuf varint. @return bytes used, 0 when malformed. */
static size_t varint(const uint8_t *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

/* The Result's bytes inside an Answer frame (field 4), without the replay flag the engine
 * appends to a query's or a replay's answer (result.c: 0x80 0x01 0x01, last). @return 0 or -1. */
static int result_bytes(const msg_t *m, const uint8_t **r, size_t *rlen)
{
	const uint8_t *p = m->a, *end = m->a + m->alen;

	while (p < end) {
		uint64_t tag, v;
		size_t k = varint(p, (size_t)(end - p), &tag);

		if (!k)
			return -1;
		p += k;
		if ((tag & 7) == 0) {
			if (!(k = varint(p, (size_t)(end - p), &v)))
				return -1;
			p += k;
			continue;
		}
		if ((tag & 7) != 2 || !(k = varint(p, (size_t)(end - p), &v)) ||
		    v > (uint64_t)(end - p - (ptrdiff_t)k))
			return -1;
		p += k;
		if (tag >> 3 == 4) {
			*r = p;
			*rlen = (size_t)v;
			if (m->ans->result->replay) {
				if (v < 3 || memcmp(p + v - 3, "\x80\x01\x01", 3) != 0)
					return -1;
				*rlen -= 3;
			}
			return 0;
		}
		p += v;
	}
	return -1;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (!d)
		abort();
	memcpy(d, p, n);
	return d;
}

/* A Result for sending @p s: the first one is kept, every later one must be the same. */
static int on_result(crash_ctx_t *c, crash_sending_t *s, const op_t *op, const msg_t *m)
{
	const Tpclear__Result *res = m->ans->result;
	const uint8_t *rb;
	size_t rl;

	if (result_bytes(m, &rb, &rl) != 0)
		return crash_fail(c, "%s %s: the Result frame cannot be read", op_names[op->kind],
		                  s->key);
	if (op->kind == OP_RESUBMIT && !res->replay)
		return crash_fail(c,
		                  "resubmission of answered %s cleared again (sequence %llu, "
		                  "first %llu)",
		                  s->key, (unsigned long long)res->sequence,
		                  (unsigned long long)s->seq);
	if (s->state != CRASH_ANSWERED) {
		/* stored before the kill, never answered: the kill fell between the commit and
		 * the answer, and the retry gets the stored one */
		c->st->retried_stored += op->kind == OP_RETRY && res->replay;
		s->state = CRASH_ANSWERED;
		s->result = dup_bytes(rb, rl);
		s->rlen = rl;
		s->native = m->native ? dup_bytes(m->native, m->nlen) : NULL;
		s->nlen = m->native ? m->nlen : 0;
		s->seq = res->sequence;
		/* an invoice whose every line was accepted can be credited later */
		s->creditable = s->number[0] && res->lines_refused == 0 && res->lines_accepted > 0;
		return 0;
	}
	if (rl != s->rlen || memcmp(rb, s->result, rl) != 0) {
		c->st->changed++;
		return crash_fail(c,
		                  "%s %s: the stored answer changed (sequence %llu, first %llu, "
		                  "%zu bytes, first %zu)",
		                  op_names[op->kind], s->key, (unsigned long long)res->sequence,
		                  (unsigned long long)s->seq, rl, s->rlen);
	}
	if (m->nlen != s->nlen || (s->nlen && memcmp(m->native, s->native, s->nlen) != 0)) {
		c->st->changed++;
		return crash_fail(c, "%s %s: the native answer changed (%zu bytes, first %zu)",
		                  op_names[op->kind], s->key, m->nlen, s->nlen);
	}
	return 0;
}

/* A payment run's answer: a retried request_id must come back as its first run. */
static int on_payrun(crash_ctx_t *c, crash_payrun_t *p, const msg_t *m)
{
	const Tpclear__PayrunResult *pr = m->ans->payrun;
	const Tpclear__SepaFile *f = pr->n_files ? pr->files[0] : NULL;

	c->st->payruns_answered++;
	if (!p->answered) {
		p->answered = 1;
		p->run = pr->run;
		p->total_cents = pr->total_cents;
		if (f) {
			p->file = dup_bytes(f->content.data, f->content.len);
			p->flen = f->content.len;
		}
		return 0;
	}
	if (!pr->replay || pr->run != p->run || pr->total_cents != p->total_cents)
		return crash_fail(
		    c,
		    "payment run '%s' retried: run %llu, %lld cents, replay %d; first "
		    "answered run %llu, %lld cents",
		    p->id, (unsigned long long)pr->run, (long long)pr->total_cents, pr->replay,
		    (unsigned long long)p->run, (long long)p->total_cents);
	if (p->file &&
	    (!f || f->content.len != p->flen || memcmp(f->content.data, p->file, p->flen) != 0))
		return crash_fail(c,
		                  "payment run '%s' retried: its SEPA file is not the one first "
		                  "answered",
		                  p->id);
	return 0;
}

/* A final receipt (a refusal, busy): nothing was stored. */
static int on_receipt(crash_ctx_t *c, crash_model_t *mo, const op_t *op, const msg_t *m, int *again)
{
	const Tpclear__Receipt *rc = m->ans->receipt;

	*again = rc->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY;
	if (*again)
		return 0;
	if (op->kind == OP_QUERY) {
		c->st->losses++;
		return crash_fail(c, "LOSS: answered sending %s (sequence %llu) not found: %s %s",
		                  mo->s[op->idx].key, (unsigned long long)mo->s[op->idx].seq,
		                  rc->code, rc->reason);
	}
	/* a valid sending refused: not a loss (nothing was answered), but not expected either */
	return crash_fail(c, "%s %s refused: %s %s", op_names[op->kind],
	                  op->kind == OP_PAYRUN ? mo->p[op->idx].id : mo->s[op->idx].key, rc->code,
	                  rc->reason);
}

/* Match an answer to its request. @return 1 when it was final for @p op (removed from the
 * flight), 0 when not (a receipt, a push), -1 when a check failed. */
static int on_answer(crash_ctx_t *c, crash_model_t *mo, flight_t *fl, const msg_t *m)
{
	const Tpclear__Answer *a = m->ans;
	size_t i;
	op_t op;
	int again = 0, rc = 0;

	for (i = 0; i < fl->n && fl->ops[i].corr != a->correlation; i++)
		;
	if (i == fl->n)
		return 0; /* a pushed settlement, or an answer to a request of before the kill */
	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
	    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED)
		return 0;
	op = fl->ops[i];
	fl->ops[i] = fl->ops[--fl->n];
	switch (a->body_case) {
	case TPCLEAR__ANSWER__BODY_RESULT:
		rc = op.kind == OP_PAYRUN || op.kind == OP_CONFLICT
		         ? crash_fail(c, "%s: a Result", op_names[op.kind])
		         : on_result(c, &mo->s[op.idx], &op, m);
		break;
	case TPCLEAR__ANSWER__BODY_CONFLICT:
		if (op.kind != OP_CONFLICT)
			rc = crash_fail(c, "%s %s: a conflict", op_names[op.kind],
			                mo->s[op.idx].key);
		else if (a->conflict->sequence != mo->s[op.idx].seq)
			rc =
			    crash_fail(c, "conflict on %s names sequence %llu, not %llu",
			               mo->s[op.idx].key, (unsigned long long)a->conflict->sequence,
			               (unsigned long long)mo->s[op.idx].seq);
		break;
	case TPCLEAR__ANSWER__BODY_PAYRUN:
		rc = op.kind == OP_PAYRUN ? on_payrun(c, &mo->p[op.idx], m)
		                          : crash_fail(c, "%s: a payment run", op_names[op.kind]);
		break;
	case TPCLEAR__ANSWER__BODY_RECEIPT:
		rc = on_receipt(c, mo, &op, m, &again);
		break;
	default:
		rc = crash_fail(c, "%s: answer body %d", op_names[op.kind], a->body_case);
	}
	if (again)
		fl->busy[fl->nbusy++] = op; /* nothing stored: the request is as if never sent */
	return rc ? -1 : 1;
}

/* Put @p op on the wire. @return 0 or -1. */
static int send_op(crash_ctx_t *c, crash_model_t *mo, flight_t *fl, op_t op)
{
	Tpclear__PayrunRequest rq = TPCLEAR__PAYRUN_REQUEST__INIT;
	uint8_t buf[128];
	int rc;

	op.corr = corr_next++;
	if (op.kind == OP_PAYRUN) {
		rq.budget = "";
		rq.request_id = mo->p[op.idx].id;
		rc = tpc_td_send(c->sock, TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, "ops", "payrun",
		                 "", op.corr, buf, tpclear__payrun_request__pack(&rq, buf));
	} else if (op.kind == OP_QUERY) {
		rc = tpc_td_send(c->sock, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, "test",
		                 mo->s[op.idx].key, "", op.corr, NULL, 0);
	} else {
		const crash_sending_t *s = &mo->s[op.idx];
		const crash_sending_t *body = op.kind == OP_CONFLICT ? &mo->s[op.other] : s;

		int att = strcmp(s->format, "eattest") == 0;

		rc = tpc_td_send(c->sock,
		                 att ? TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST
		                     : TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT,
		                 "test", s->key, att ? "" : s->format, op.corr, body->payload,
		                 body->len);
	}
	if (rc != 0)
		return crash_fail(c, "cannot send %s", op_names[op.kind]);
	fl->ops[fl->n++] = op;
	c->st->requests++;
	return 0;
}

/* An answered sending at random, or (size_t)-1. */
static size_t some_answered(const crash_model_t *m, crash_rng_t *r)
{
	for (int tries = 0; tries < 16 && m->n; tries++) {
		size_t i = crash_below(r, (unsigned)m->n);

		if (m->s[i].state == CRASH_ANSWERED)
			return i;
	}
	return (size_t)-1;
}

/* The next request of the load, drawn from the mix (docs/reliability.md, "A trial"). */
static op_t next_op(crash_model_t *m, crash_rng_t *r, const crash_plan_t *plan)
{
	op_t op = {0, OP_NEW, 0, 0};
	unsigned roll = crash_below(r, 100);
	size_t a = some_answered(m, r), b = some_answered(m, r);

	if (roll < plan->payrun_pc) {
		char id[40];

		op.kind = OP_PAYRUN;
		/* a retry of an earlier request id now and then: it must replay */
		for (size_t k = 0; k < m->np && crash_chance(r, 20); k++) {
			size_t j = crash_below(r, (unsigned)m->np);

			if (m->p[j].id[0] && m->p[j].answered) {
				op.idx = j;
				return op;
			}
		}
		snprintf(id, sizeof(id), "r%llu-%zu", (unsigned long long)m->segment, m->np);
		op.idx = crash_model_add_payrun(m, crash_chance(r, 50) ? id : "");
		return op;
	}
	roll = crash_below(r, 100);
	if (roll < 12 && a != (size_t)-1) {
		op.kind = OP_RESUBMIT;
		op.idx = a;
	} else if (roll < 15 && a != (size_t)-1 && b != (size_t)-1 && a != b &&
	           strcmp(m->s[a].format, "eattest") != 0 &&
	           strcmp(m->s[b].format, "eattest") != 0) {
		/* a conflict between sendings of one request type: an eAttest's key with a
		 * sending's bytes is refused as undecodable, not a conflict */
		op.kind = OP_CONFLICT;
		op.idx = a;
		op.other = b;
	} else if (roll < 25 && (op.idx = crash_make_credit(m, r)) != (size_t)-1) {
		op.kind = OP_NEW;
	} else if (roll < 40) {
		op.idx = crash_make_eattest(m, r);
	} else if (roll < 60) {
		op.idx = crash_make_efact(m, r);
	} else {
		op.idx = crash_make_canonical(m, r);
	}
	return op;
}

/* Has the engine died by itself (its crash point)? Reaps it. @return the signal, -1 if it
 * exited, 0 while it runs. */
static int died(crash_ctx_t *c)
{
	int st;

	if (c->d.pid <= 0 || waitpid(c->d.pid, &st, WNOHANG) != c->d.pid)
		return 0;
	c->d.pid = 0;
	return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

/* Receive for at most @p wait_ms and handle what came. @return 1 when it was a request's
 * final answer, 0 when nothing (or nothing final) came, -1 when a check failed. */
static int pump(crash_ctx_t *c, crash_model_t *m, flight_t *fl, int wait_ms)
{
	msg_t msg;
	int got = recv_msg(c->sock, wait_ms, &msg), rc = 0;

	if (got < 0)
		return crash_fail(c, "receive failed: %s", zmq_strerror(zmq_errno()));
	if (got > 0) {
		rc = on_answer(c, m, fl, &msg);
		msg_free(&msg);
	}
	return rc;
}

/* When the driver kills, in microseconds since the load began: at the plan's instant, or
 * kill_us after the kill_after-th final answer (unknown yet: UINT64_MAX); 0 = never (a crash
 * point trial). */
static uint64_t deadline(const crash_plan_t *plan, unsigned answers, uint64_t t_us, uint64_t armed)
{
	if (plan->kill_after >= 0) {
		if (armed != UINT64_MAX)
			return armed;
		return answers >= (unsigned)plan->kill_after ? t_us + plan->kill_us : UINT64_MAX;
	}
	return plan->kill_ms ? (uint64_t)plan->kill_ms * 1000u : 0;
}

int crash_load(crash_ctx_t *c, crash_model_t *m, crash_rng_t *r, const crash_plan_t *plan)
{
	flight_t fl = {.n = 0};
	uint64_t t0 = now_us(), due = UINT64_MAX;
	unsigned sent = 0, answers = 0;
	int sig, failed = 0;

	for (;;) {
		uint64_t t = now_us() - t0;

		if ((sig = died(c)) != 0) {
			if (sig == SIGKILL)
				return CRASH_END_POINT;
			return crash_fail(c, "the engine died by itself (%s %d)",
			                  sig > 0 ? "signal" : "exit", sig);
		}
		due = deadline(plan, answers, t, due);
		if (due && due != UINT64_MAX && t + 1000 >= due) {
			/* the last stretch slept, not polled: sub-millisecond instants */
			if (due > t)
				sleep_us(due - t);
			tpc_td_kill9(&c->d);
			return failed ? -1 : CRASH_END_KILLED;
		}
		while (fl.n < plan->window && sent < plan->requests) {
			if (send_op(c, m, &fl, next_op(m, r, plan)) != 0)
				return -1;
			sent++;
		}
		if (sent == plan->requests && fl.n == 0) {
			/* all answered before the instant; at a crash point, give the engine a
			 * moment to reach it (a run's files are written after its answer was
			 * queued) */
			for (int i = 0; i < 20 && !due && (sig = died(c)) == 0; i++)
				pump(c, m, &fl, 10);
			if (sig == SIGKILL)
				return CRASH_END_POINT;
			tpc_td_kill9(&c->d);
			return failed ? -1 : CRASH_END_DRAINED;
		}
		switch (pump(c, m, &fl,
		             due && due != UINT64_MAX && due - t < 20000 ? (int)((due - t) / 1000)
		                                                         : 20)) {
		case 1:
			answers++;
			break;
		case 0:
			break;
		default:
			failed = 1;
		}
		fl.nbusy = 0; /* a busy sending stays unanswered: retried after the restart */
		if (t > 120000000u)
			return crash_fail(c, "load: not over after 120 s (%zu in flight)", fl.n);
	}
}

/* Send @p n ops, @p window at a time, and wait for each one's final answer. @return 0 or -1. */
static int exchange(crash_ctx_t *c, crash_model_t *m, const op_t *ops, size_t n, size_t window)
{
	flight_t fl = {.n = 0};
	size_t next = 0;
	int failed = 0;

	while (next < n || fl.n || fl.nbusy) {
		uint64_t t0 = now_ms();

		while (fl.n < window && fl.nbusy)
			if (send_op(c, m, &fl, fl.busy[--fl.nbusy]) != 0)
				return -1;
		while (fl.n < window && next < n)
			if (send_op(c, m, &fl, ops[next++]) != 0)
				return -1;
		while (fl.n) {
			size_t before = fl.n;

			if (pump(c, m, &fl, 100) < 0)
				failed = 1;
			if (fl.n < before)
				break;
			if (now_ms() - t0 > 60000)
				return crash_fail(
				    c, "%s %s: no answer in 60 s", op_names[fl.ops[0].kind],
				    fl.ops[0].kind == OP_PAYRUN ? m->p[fl.ops[0].idx].id
				                                : m->s[fl.ops[0].idx].key);
		}
	}
	return failed ? -1 : 0;
}

/* Append an op to a growing list. */
static void push_op(op_t **v, size_t *n, int kind, size_t idx)
{
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (!*v)
		abort();
	(*v)[(*n)++] = (op_t){0, kind, idx, 0};
}

int crash_check_answers(crash_ctx_t *c, crash_model_t *m)
{
	op_t *ops = NULL;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].state == CRASH_ANSWERED)
			push_op(&ops, &n, OP_QUERY, i);
	c->st->answered_checked += n;
	rc = exchange(c, m, ops, n, 32);
	free(ops);
	return rc;
}

int crash_check_online(crash_ctx_t *c, crash_model_t *m, crash_rng_t *r)
{
	op_t *ops = NULL;
	size_t n = 0;
	int rc = 0;

	/* 1. every answered sending of this ledger, byte for byte */
	rc |= crash_check_answers(c, m);
	/* 2. what was in flight at the kill, sent again as a client would: a replay if it was
	 * stored, cleared now if not; and a few answered ones resubmitted */
	n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].state == CRASH_SENT)
			push_op(&ops, &n, OP_RETRY, i);
	c->st->retried += n;
	for (int k = 0; k < 5; k++) {
		size_t i = some_answered(m, r);

		if (i != (size_t)-1) {
			push_op(&ops, &n, OP_RESUBMIT, i);
			c->st->resubmissions++;
		}
	}
	rc |= exchange(c, m, ops, n, 16);
	/* 3. payment runs: an unanswered request id is retried (its run, if it committed, or a
	 * new one), one answered id must replay, and now and then a run pays the rest */
	n = 0;
	for (size_t i = 0; i < m->np; i++)
		if (m->p[i].id[0] && !m->p[i].answered)
			push_op(&ops, &n, OP_PAYRUN, i);
	for (int k = 0; k < 3 && m->np; k++) {
		size_t i = crash_below(r, (unsigned)m->np);

		if (m->p[i].id[0] && m->p[i].answered) {
			push_op(&ops, &n, OP_PAYRUN, i);
			break;
		}
	}
	if (crash_chance(r, 50))
		push_op(&ops, &n, OP_PAYRUN, crash_model_add_payrun(m, ""));
	/* one at a time: runs are serialised by the writer anyway, and a replay must not race
	 * the run it replays */
	rc |= exchange(c, m, ops, n, 1);
	free(ops);
	return rc ? -1 : 0;
}
