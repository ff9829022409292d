/* engine/cli/tpclear.c - the command-line client: submit sendings, query stored results.
 *
 * DESIGN: one ZeroMQ DEALER socket, requests pipelined up to a window; every answer carries the
 * request's correlation number, so answers may arrive in any order. A submission ends with its
 * Result, a Conflict, or a refusal; "busy" is retried after the engine's hint.
 *
 * Never leave the user guessing (issue 16): ZeroMQ connects lazily and queues silently, so a
 * wrong endpoint looks exactly like a slow engine. Every command that talks to the engine
 * therefore pings it first with a short timeout (PING_MS) and stops with exit status 3 and the
 * endpoint named when nothing answers, instead of waiting --timeout per request. Every failure
 * is said on stderr with its code; stdout carries only results. Exit statuses: help.h.
 */
#include "pipeline/client.h"
#include "admin.h"
#include "cli_version.h"
#include "common/check.h"
#include "common/date.h"
#include "core/file.h"
#include "curve.h"
#include "eattest/eattest.h"
#include "eattest/kmehr.h"
#include "help.h"
#include "json.h"
#include "money.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5570"
/* The ping before the first request: the engine answers it from its loop thread at once, even
 * when busy or draining, so a few seconds mean nobody is there (a CURVE handshake on a slow link
 * included); 3 s keeps "a dead endpoint is reported within 5 s" with room to spare. */
#define PING_MS     3000
#define KEY_REFUSED "the engine refused this client's CURVE key (not in its senders registry?)"
#define HANDSHAKE_HINT                                                                             \
	" (the CURVE handshake failed: is --server-key the engine's public key, and CURVE on?)"

struct opts {
	const char *endpoint;
	const char *sender;
	const char *format;
	const char *key;
	const char *save_dir;
	int json;
	int window;
	int timeout_ms;
	int quiet;
	int no_print;           /* exchange() prints nothing: the command prints */
	int settlement;         /* query: the latest settlement */
	int upsert;             /* load: merge a delta instead of replacing the kind */
	int force;              /* load: replace past the engine's guard (empty file, big drop) */
	const char *out_dir;    /* payrun --out */
	const char *budget;     /* payrun / ledger --budget */
	const char *request_id; /* payrun --request-id */
	const char *until, *at; /* dates */
	const char *from, *to;
	const char *month;      /* statement --month YYYY-MM */
	const char *server_key; /* CURVE: the engine's public key file (--server-key) */
	const char *client_key; /* CURVE: this client's key pair, PREFIX[.key] (--client-key) */
	const char *kmehr;      /* eattest --kmehr FILE: a Kmehr eAttest v3 request */
	const char *data_dir;   /* verify, backup: the data directory (--data-dir) */
	void *monitor;          /* the DEALER's handshake failures (CURVE), or NULL */
};

enum state { ST_IDLE, ST_SENT, ST_RECEIVED, ST_DONE };

struct item {
	const char *file;
	uint8_t *data;
	size_t len;
	char format[32];
	char key[128];
	enum state st;
	uint64_t corr;
	int64_t deadline_ms;
	int64_t retry_at_ms;
	int ok;         /* final: accepted */
	int unanswered; /* no answer within the timeout (exit status 3) */
	int printed;
	Tpclear__Answer *receipt; /* last receipt */
	Tpclear__Answer *final;   /* result, conflict or refusal */
	char error[256];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tpclear: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---- format and key detection --------------------------------------------------------------- */

/* The format and the idempotency key of a file to submit. The key is the sending's own
 * reference when it has one, so resubmitting the same file (even renamed, even from another
 * machine) is recognised as a replay by the engine; the content's hash is the last resort,
 * which still makes an unchanged resubmission a replay. */
static void detect(struct item *it, const struct opts *o)
{
	const char *dot = strrchr(it->file, '.');

	if (o->format)
		snprintf(it->format, sizeof(it->format), "%s", o->format);
	else if (dot && strcmp(dot, ".pb") == 0)
		snprintf(it->format, sizeof(it->format), "canonical");
	else if (it->len >= 6 && memcmp(it->data, "920000", 6) == 0)
		snprintf(it->format, sizeof(it->format), "efact");
	else
		snprintf(it->format, sizeof(it->format), "canonical");

	if (o->key) {
		snprintf(it->key, sizeof(it->key), "%s", o->key);
		return;
	}
	if (strcmp(it->format, "efact") == 0 && it->len >= 34) {
		/* segment 200, positions 21-34: the sender's 14-digit reference */
		memcpy(it->key, it->data + 20, 14);
		it->key[14] = 0;
		return;
	}
	if (strcmp(it->format, "canonical") == 0) {
		Tpclear__CanonicalSending *cs =
		    tpclear__canonical_sending__unpack(NULL, it->len, it->data);
		if (cs && cs->reference && *cs->reference) {
			snprintf(it->key, sizeof(it->key), "%s", cs->reference);
			tpclear__canonical_sending__free_unpacked(cs, NULL);
			return;
		}
		if (cs)
			tpclear__canonical_sending__free_unpacked(cs, NULL);
	}
	/* no reference in the payload: the content's hash is the key */
	{
		uint8_t h[16];
		crypto_generichash(h, sizeof(h), it->data, it->len, NULL, 0);
		for (int i = 0; i < 16; i++)
			sprintf(it->key + 2 * i, "%02x", h[i]);
	}
}

/* ---- wire ---------------------------------------------------------------------------------- */

/* Write a native answer frame to DIR/KEY.TYPE byte for byte: these files go back to the
 * sender's own software (931000, 920098), which reads them as the official formats, so nothing
 * is converted. A write failure is reported but does not fail the sending: the answer is
 * stored by the engine and can be queried again. */
static void save_native(const struct opts *o, const char *key, const char *type,
                        const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;

	if (!o->save_dir || !data)
		return;
	mkdir(o->save_dir, 0755);
	snprintf(path, sizeof(path), "%s/%s.%s", o->save_dir, key, type && *type ? type : "answer");
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		fprintf(stderr, "tpclear: cannot write %s: %s\n", path, strerror(errno));
	if (f)
		fclose(f);
}

/* The native receipt type is the first six characters of the 931000 file when printable. */
static void native_type_of(const uint8_t *data, size_t len, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < 6 && i < len && i + 1 < cap; i++) {
		if (data[i] < '0' || data[i] > '9')
			break;
		out[i] = (char)data[i];
	}
	out[i] = 0;
	if (i < 6)
		snprintf(out, cap, "receipt");
}

/* ---- printing ------------------------------------------------------------------------------- */

static const char *outcome_name(Tpclear__Outcome o)
{
	switch (o) {
	case TPCLEAR__OUTCOME__OUTCOME_ACCEPTED:
		return "accepted";
	case TPCLEAR__OUTCOME__OUTCOME_REFUSED:
		return "refused";
	case TPCLEAR__OUTCOME__OUTCOME_PARTIAL:
		return "partial";
	default:
		return "pending";
	}
}

static const char *status_name(Tpclear__ReceiptStatus s)
{
	switch (s) {
	case TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED:
		return "received";
	case TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY:
		return "busy";
	default:
		return "refused";
	}
}

/* ---- JSON (json.h: jansson; amounts in cents and euros, times ISO 8601) -------------------- */

static json_t *j_findings(Tpclear__Finding **fs, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *o = json_object();

		tpc_cli_jset_str(o, "code", fs[i]->code);
		tpc_cli_jset_str(o, "letter", fs[i]->letter);
		json_object_set_new(o, "record", json_integer(fs[i]->record));
		json_object_set_new(o, "pos", json_integer(fs[i]->pos));
		json_object_set_new(o, "len", json_integer(fs[i]->len));
		tpc_cli_jset_str(o, "reason", fs[i]->reason);
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *j_line(const Tpclear__LineResult *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "record", json_integer(l->record));
	tpc_cli_jset_str(o, "code", l->code);
	/* the engine sends the care day as days since 1970-01-01: a calendar day here */
	tpc_cli_jset_day(o, "date", l->date);
	json_object_set_new(o, "units", json_integer(l->units));
	json_object_set_new(o, "outcome", json_string(outcome_name(l->outcome)));
	tpc_cli_jset_money(o, "insurer", l->insurer_cents);
	tpc_cli_jset_money(o, "patient", l->patient_cents);
	tpc_cli_jset_money(o, "expected_insurer", l->expected_insurer_cents);
	tpc_cli_jset_money(o, "expected_patient", l->expected_patient_cents);
	tpc_cli_jset_money(o, "accepted", l->accepted_cents);
	tpc_cli_jset_str(o, "scheme", l->scheme);
	tpc_cli_jset_str(o, "budget", l->budget);
	json_object_set_new(o, "findings", j_findings(l->findings, l->n_findings));
	return o;
}

static json_t *j_result(const Tpclear__Result *r)
{
	json_t *o = json_object(), *invs = json_array();

	tpc_cli_jset_str(o, "sender", r->sender);
	tpc_cli_jset_str(o, "key", r->key);
	tpc_cli_jset_str(o, "format", r->format);
	json_object_set_new(o, "outcome", json_string(outcome_name(r->outcome)));
	json_object_set_new(o, "payload_hash",
	                    tpc_cli_jhex(r->payload_hash.data, r->payload_hash.len));
	json_object_set_new(o, "sequence", json_integer((json_int_t)r->sequence));
	tpc_cli_jset_time(o, "committed_at", r->committed_at);
	json_object_set_new(o, "replay", json_boolean(r->replay));
	json_object_set_new(o, "invoices", json_integer(r->invoices));
	json_object_set_new(o, "lines", json_integer(r->lines));
	json_object_set_new(o, "lines_accepted", json_integer(r->lines_accepted));
	json_object_set_new(o, "lines_refused", json_integer(r->lines_refused));
	tpc_cli_jset_money(o, "accepted", r->accepted_cents);
	tpc_cli_jset_money(o, "refused", r->refused_cents);
	tpc_cli_jset_str(o, "native_type", r->native_type);
	json_object_set_new(o, "findings", j_findings(r->findings, r->n_findings));
	for (size_t i = 0; i < r->n_invoice_results; i++) {
		const Tpclear__InvoiceResult *ir = r->invoice_results[i];
		json_t *inv = json_object(), *lines = json_array();

		json_object_set_new(inv, "record", json_integer(ir->record));
		tpc_cli_jset_str(inv, "patient", ir->patient);
		tpc_cli_jset_str(inv, "provider", ir->provider);
		tpc_cli_jset_str(inv, "number", ir->number);
		json_object_set_new(inv, "outcome", json_string(outcome_name(ir->outcome)));
		tpc_cli_jset_money(inv, "accepted", ir->accepted_cents);
		tpc_cli_jset_money(inv, "refused", ir->refused_cents);
		json_object_set_new(inv, "findings", j_findings(ir->findings, ir->n_findings));
		for (size_t k = 0; k < ir->n_lines; k++)
			json_array_append_new(lines, j_line(ir->lines[k]));
		json_object_set_new(inv, "lines", lines);
		json_array_append_new(invs, inv);
	}
	json_object_set_new(o, "invoices_detail", invs);
	return o;
}

static json_t *j_receipt(const Tpclear__Receipt *rc)
{
	json_t *o = json_object();

	json_object_set_new(o, "status", json_string(status_name(rc->status)));
	tpc_cli_jset_str(o, "code", rc->code);
	tpc_cli_jset_str(o, "reason", rc->reason);
	json_object_set_new(o, "retry_after_ms", json_integer(rc->retry_after_ms));
	return o;
}

static json_t *j_conflict(const Tpclear__Conflict *c)
{
	json_t *o = json_object();

	tpc_cli_jset_str(o, "key", c->key);
	json_object_set_new(o, "sequence", json_integer((json_int_t)c->sequence));
	json_object_set_new(o, "stored_hash",
	                    tpc_cli_jhex(c->stored_hash.data, c->stored_hash.len));
	json_object_set_new(o, "payload_hash",
	                    tpc_cli_jhex(c->payload_hash.data, c->payload_hash.len));
	tpc_cli_jset_str(o, "reason", c->reason);
	return o;
}

/* One JSON object per item on one line (JSON lines): a script reads the output as a stream,
 * one sending at a time, without waiting for the whole run. */
static void print_json(const struct item *it)
{
	const Tpclear__Answer *a = it->final;
	json_t *o = json_object();

	tpc_cli_jset_str(o, "file", it->file);
	tpc_cli_jset_str(o, "key", it->key);
	tpc_cli_jset_str(o, "format", it->format);
	json_object_set_new(o, "accepted", json_boolean(it->ok));
	if (it->receipt && it->receipt->receipt)
		json_object_set_new(o, "receipt", j_receipt(it->receipt->receipt));
	if (a && a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		json_object_set_new(o, "result", j_result(a->result));
	} else if (a && a->body_case == TPCLEAR__ANSWER__BODY_LOAD) {
		json_t *l = json_object();

		tpc_cli_jset_str(l, "kind", a->load->kind);
		json_object_set_new(l, "rows", json_integer(a->load->rows));
		tpc_cli_jset_time(l, "committed_at", a->load->committed_at);
		json_object_set_new(o, "load", l);
	} else if (a && a->body_case == TPCLEAR__ANSWER__BODY_CONFLICT) {
		json_object_set_new(o, "conflict", j_conflict(a->conflict));
	} else if (a && a->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT) {
		json_object_set_new(o, "settlement", tpc_cli_j_settlement(a->settlement));
	} else if (a && a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		json_object_set_new(o, "refusal", j_receipt(a->receipt));
	}
	if (it->error[0])
		tpc_cli_jset_str(o, "error", it->error);
	tpc_cli_jprint(stdout, o);
}

/* "EUR 12.34": every amount a person reads says its currency */
static void money(char *buf, size_t cap, int64_t cents)
{
	char e[32];

	tpc_cli_eur(e, sizeof(e), cents);
	snprintf(buf, cap, "EUR %s", e);
}

static void print_text_findings(const char *indent, Tpclear__Finding **fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s%s %s record %u pos %u: %s\n", indent, fs[i]->code, fs[i]->letter,
		       fs[i]->record, fs[i]->pos, fs[i]->reason);
}

static void print_text(const struct item *it)
{
	char acc[64], ref[64];

	if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		const Tpclear__Result *r = it->final->result;
		time_t t = (time_t)(r->committed_at / 1000);
		struct tm tm;
		char when[32];

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		money(acc, sizeof(acc), r->accepted_cents);
		money(ref, sizeof(ref), r->refused_cents);
		printf("%s: key %s, %s%s: %u invoice%s, %u of %u line%s accepted, %s accepted, %s "
		       "refused (sequence %" PRIu64 ", committed %s)\n",
		       it->file, it->key, outcome_name(r->outcome),
		       r->replay ? " (stored answer)" : "", r->invoices, tpc_cli_s(r->invoices),
		       r->lines_accepted, r->lines, tpc_cli_s(r->lines), acc, ref, r->sequence,
		       when);
		print_text_findings("  sending: ", r->findings, r->n_findings);
		for (size_t i = 0; i < r->n_invoice_results; i++) {
			const Tpclear__InvoiceResult *ir = r->invoice_results[i];
			char prefix[96];

			snprintf(prefix, sizeof(prefix), "  invoice %s (record %u): ", ir->number,
			         ir->record);
			print_text_findings(prefix, ir->findings, ir->n_findings);
			for (size_t k = 0; k < ir->n_lines; k++) {
				const Tpclear__LineResult *l = ir->lines[k];
				snprintf(prefix, sizeof(prefix),
				         "  line record %u code %s refused: ", l->record, l->code);
				if (l->outcome == TPCLEAR__OUTCOME__OUTCOME_REFUSED)
					print_text_findings(prefix, l->findings, l->n_findings);
			}
		}
		if (r->native_type && *r->native_type)
			printf("  native answer %s\n", r->native_type);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_LOAD) {
		printf("%s: %s replaced: %u row%s, live\n", it->file, it->final->load->kind,
		       it->final->load->rows, tpc_cli_s(it->final->load->rows));
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT) {
		tpc_cli_print_settlement(stdout, it->final->settlement, 0);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_CONFLICT) {
		printf("%s: key %s: conflict: %s (stored as sequence %" PRIu64 ")\n", it->file,
		       it->key, it->final->conflict->reason, it->final->conflict->sequence);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		printf("%s: key %s: refused %s: %s\n", it->file, it->key, it->final->receipt->code,
		       it->final->receipt->reason);
	} else {
		printf("%s: key %s: %s\n", it->file, it->key,
		       it->error[0] ? it->error : "no answer");
	}
}

/* Progress goes to stderr, and only on a terminal (see exchange()): stdout stays the results
 * alone, whatever is redirected, and a log file never fills with carriage returns. Several
 * items get a bar; one long request (a payment run, a statement, a big load) a line saying
 * what it waits for and for how long, so 41 seconds of work never look like a hang. */
static void progress(int done, int total)
{
	int width = 30, fill = total ? done * width / total : width;

	fprintf(stderr, "\r[");
	for (int i = 0; i < width; i++)
		fputc(i < fill ? '=' : ' ', stderr);
	fprintf(stderr, "] %d/%d", done, total);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void waiting(const struct item *it, int64_t started, int64_t now)
{
	const char *what = it->st == ST_RECEIVED ? "received, the engine is working"
	                                         : "sent, waiting for the engine";

	fprintf(stderr, "\r\033[K%s: %s (%" PRId64 " s)", it->file, what, (now - started) / 1000);
	fflush(stderr);
}

/* ---- the exchange --------------------------------------------------------------------------- */

/* One DEALER for the whole run: answers come back on the socket that sent the request (the
 * engine's ROUTER routes by connection), so every item must go through this one. */
static void *connect_dealer(void *ctx, struct opts *o)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 1000;
	char err[600];

	if (!sock)
		die("zmq_socket: %s", zmq_strerror(errno));
	/* a second to flush what is queued at exit, never a hang on an absent engine */
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	/* CURVE is set before connecting: the handshake starts with the connection */
	if (tpc_cli_curve_setup(ctx, sock, o->server_key, o->client_key, &o->monitor, err,
	                        sizeof(err)) != 0)
		die("%s", err);
	if (zmq_connect(sock, o->endpoint) != 0)
		die("cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
	return sock;
}

/* An item's final answer (or NULL after a local failure, with it->error set). "ok" drives the
 * exit code: a sending counts when accepted or partly accepted (refused lines are the
 * sender's to fix, not a failure of the run); a load, payrun, ledger or settlement answer
 * counts by arriving. */
static void finish(struct item *it, Tpclear__Answer *a, int *done)
{
	it->final = a;
	it->st = ST_DONE;
	(*done)++;
	if (a && a->body_case == TPCLEAR__ANSWER__BODY_RESULT)
		it->ok = a->result->outcome == TPCLEAR__OUTCOME__OUTCOME_ACCEPTED ||
		         a->result->outcome == TPCLEAR__OUTCOME__OUTCOME_PARTIAL;
	if (a && (a->body_case == TPCLEAR__ANSWER__BODY_LOAD ||
	          a->body_case == TPCLEAR__ANSWER__BODY_PAYRUN ||
	          a->body_case == TPCLEAR__ANSWER__BODY_LEDGER ||
	          a->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT))
		it->ok = 1;
}

/* One run of requests over one socket. Items move IDLE -> SENT -> RECEIVED -> DONE (a busy
 * receipt sends one back to IDLE with a retry time); the loop in exchange() ends when every
 * item is DONE. Only the loop's own thread touches any of it. */
struct exchange {
	void *sock;
	struct item *items;
	int n;
	const struct opts *o;
	Tpclear__RequestType type;
	int done, inflight, ok;
	int show; /* progress on a terminal (a bar, or a waiting line for one item) */
	int64_t started, shown_at;
	uint64_t corr_base;   /* the pid in the high bits: answers to an earlier run are ignored */
	int handshake_failed; /* the CURVE monitor saw a failed handshake: said in timeouts */
};

/* Send what the window and busy hints allow. */
static void send_ready(struct exchange *x, int64_t now)
{
	for (int i = 0; i < x->n && x->inflight < x->o->window; i++) {
		struct item *it = &x->items[i];

		if (it->st != ST_IDLE || it->retry_at_ms > now)
			continue;
		it->corr = x->corr_base + (uint64_t)i + 1;
		/* the deadline runs from the first send: busy retries do not extend it */
		if (!it->deadline_ms)
			it->deadline_ms = now + x->o->timeout_ms;
		if (tpc_client_send(x->sock, x->type, x->o->sender, it->key, it->format, it->corr,
		                    it->data, it->len) != 0) {
			snprintf(it->error, sizeof(it->error), "send failed: %s",
			         zmq_strerror(errno));
			finish(it, NULL, &x->done);
			continue;
		}
		it->st = ST_SENT;
		x->inflight++;
	}
}

/* Give up on items past their deadline. @return how long to wait for the next deadline or
 * retry, at most 200 ms (the CURVE monitor is looked at between waits). */
static int64_t expire_and_wait(struct exchange *x, int64_t now)
{
	int64_t wait = 200;

	for (int i = 0; i < x->n; i++) {
		struct item *it = &x->items[i];

		if (it->st == ST_SENT || it->st == ST_RECEIVED) {
			if (now >= it->deadline_ms) {
				snprintf(it->error, sizeof(it->error),
				         "no answer from %s within %d ms%s", x->o->endpoint,
				         x->o->timeout_ms,
				         x->handshake_failed ? HANDSHAKE_HINT : "");
				/* a failed handshake is no answer either: a wrong server key or
				 * something else than the engine there (exit 3, the hint says
				 * which) */
				it->unanswered = 1;
				finish(it, NULL, &x->done);
				x->inflight--;
			} else if (it->deadline_ms - now < wait) {
				wait = it->deadline_ms - now;
			}
		} else if (it->st == ST_IDLE && it->retry_at_ms > now &&
		           it->retry_at_ms - now < wait) {
			wait = it->retry_at_ms - now;
		}
	}
	return wait;
}

/* The engine refused our key: nothing will ever come back, so every item ends now. */
static void fail_if_key_refused(struct exchange *x)
{
	if (!tpc_cli_curve_refused(x->o->monitor, &x->handshake_failed))
		return;
	for (int i = 0; i < x->n; i++)
		if (x->items[i].st != ST_DONE) {
			snprintf(x->items[i].error, sizeof(x->items[i].error), "%s", KEY_REFUSED);
			finish(&x->items[i], NULL, &x->done);
		}
}

/* The item still waiting for the answer with @p corr, or NULL (a late answer to an item that
 * timed out, or to another run). */
static struct item *item_of(struct exchange *x, uint64_t corr)
{
	struct item *it = NULL;

	for (int i = 0; i < x->n; i++)
		if (x->items[i].corr == corr &&
		    (x->items[i].st == ST_SENT || x->items[i].st == ST_RECEIVED))
			it = &x->items[i];
	return it;
}

/* Act on one answer for @p it: a receipt (keep it, or retry after "busy"), or the final answer.
 * Takes @p a; the native frame stays the caller's. */
static void take_answer(struct exchange *x, struct item *it, Tpclear__Answer *a,
                        const uint8_t *native, size_t nlen)
{
	int receipt = a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT;

	if (receipt && a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED &&
	    it->st == ST_SENT && x->type != TPCLEAR__REQUEST_TYPE__REQUEST_PING) {
		/* received: the final answer follows; the native receipt (931000) is saved now */
		char t[16];

		native_type_of(native, nlen, t, sizeof(t));
		save_native(x->o, it->key, t, native, nlen);
		if (it->receipt)
			tpclear__answer__free_unpacked(it->receipt, NULL);
		it->receipt = a;
		it->st = ST_RECEIVED;
		return;
	}
	x->inflight--;
	if (receipt && a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
		it->st = ST_IDLE;
		it->retry_at_ms =
		    now_ms() + (a->receipt->retry_after_ms ? a->receipt->retry_after_ms : 100);
		tpclear__answer__free_unpacked(a, NULL);
		return;
	}
	if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT)
		save_native(x->o, it->key, a->result->native_type, native, nlen);
	if (a->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT)
		save_native(x->o, it->key, a->settlement->native_type, native, nlen);
	if (x->type == TPCLEAR__REQUEST_TYPE__REQUEST_PING && receipt)
		it->ok = a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED;
	finish(it, a, &x->done);
}

/* Wait up to @p wait ms for one answer and act on it. */
static void receive_answer(struct exchange *x, int64_t wait)
{
	zmq_pollitem_t pi[2] = {{x->sock, 0, ZMQ_POLLIN, 0}, {x->o->monitor, 0, ZMQ_POLLIN, 0}};
	uint8_t *native;
	size_t nlen;
	Tpclear__Answer *a;
	struct item *it;

	/* the monitor is polled too, so a refused handshake wakes us before the deadline */
	if (zmq_poll(pi, x->o->monitor ? 2 : 1, (long)(wait > 0 ? wait : 1)) <= 0 ||
	    !(pi[0].revents & ZMQ_POLLIN))
		return;
	a = tpc_client_recv(x->sock, &native, &nlen);
	it = a ? item_of(x, a->correlation) : NULL;
	if (!it) {
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		free(native);
		return;
	}
	take_answer(x, it, a, native, nlen);
	free(native);
	if (x->show && x->n > 1)
		progress(x->done, x->n);
}

/* The first finding of a refused sending, wherever it was found (sending, invoice, line), for
 * the one-line message on stderr; the full list is in the output. */
static const Tpclear__Finding *first_finding(const Tpclear__Result *r)
{
	if (r->n_findings)
		return r->findings[0];
	for (size_t i = 0; i < r->n_invoice_results; i++) {
		const Tpclear__InvoiceResult *ir = r->invoice_results[i];

		if (ir->n_findings)
			return ir->findings[0];
		for (size_t k = 0; k < ir->n_lines; k++)
			if (ir->lines[k]->n_findings)
				return ir->lines[k]->findings[0];
	}
	return NULL;
}

/* Why @p it failed, on stderr, with the code: a refusal's T-code, a refused sending's first
 * finding, a conflict's stored sequence, or the local reason (no answer, key refused). */
static void say_failure(const struct item *it)
{
	const Tpclear__Answer *a = it->final;

	if (!a) {
		fprintf(stderr, "tpclear: %s: %s\n", it->file,
		        it->error[0] ? it->error : "no answer");
	} else if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		fprintf(stderr, "tpclear: %s: refused %s: %s\n", it->file, a->receipt->code,
		        a->receipt->reason);
	} else if (a->body_case == TPCLEAR__ANSWER__BODY_CONFLICT) {
		/* a conflict has no T-code: it is an answer of its own (docs/protocol.md) */
		fprintf(stderr,
		        "tpclear: %s: conflict: key %s was stored (sequence %" PRIu64
		        ") with other content; nothing changed: %s\n",
		        it->file, a->conflict->key, a->conflict->sequence, a->conflict->reason);
	} else if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		const Tpclear__Finding *f = first_finding(a->result);

		fprintf(stderr, "tpclear: %s: key %s: %s: %s%s%s\n", it->file, a->result->key,
		        outcome_name(a->result->outcome), f ? f->code : "no finding", f ? ": " : "",
		        f ? f->reason : "");
	}
}

/* Print finished items in order as soon as their predecessors are printed: the output reads
 * like the command line, whatever order the answers came in. */
static void print_in_order(struct exchange *x)
{
	for (int i = 0; i < x->n; i++) {
		struct item *it = &x->items[i];

		if (it->printed)
			continue;
		if (it->st != ST_DONE)
			break;
		if (x->type != TPCLEAR__REQUEST_TYPE__REQUEST_PING && !x->o->no_print) {
			if (x->o->json)
				print_json(it);
			else
				print_text(it);
			/* the result first, then why it failed: stdout is flushed before stderr
			 * so the two read in order on one terminal or one log */
			fflush(stdout);
			if (!it->ok)
				say_failure(it);
		}
		fflush(stdout);
		it->printed = 1;
		x->ok += it->ok;
	}
}

/* Correlation numbers: the pid in the high bits (answers to another process's run are
 * ignored) and a run counter above the item numbers, so the preflight ping and the run after
 * it never share one. */
static uint64_t next_corr_base(void)
{
	static uint32_t runs;

	return ((uint64_t)getpid() << 32) | ((uint64_t)++runs << 24);
}

/* Run requests for every item; @return number of items that ended accepted. */
static int exchange(void *sock, struct item *items, int n, const struct opts *o,
                    Tpclear__RequestType type)
{
	struct exchange x = {sock, items, n, o, type, 0, 0, 0, 0, 0, 0, next_corr_base(), 0};

	x.show = !o->quiet && type != TPCLEAR__REQUEST_TYPE__REQUEST_PING && isatty(STDERR_FILENO);
	x.started = x.shown_at = now_ms();
	while (x.done < n) {
		int64_t now = now_ms(), wait;

		send_ready(&x, now);
		wait = expire_and_wait(&x, now);
		fail_if_key_refused(&x);
		if (x.done < n)
			receive_answer(&x, wait);
		/* one item: a line once a second after the first, so a quick answer shows none */
		now = now_ms();
		if (x.show && n == 1 && x.done < n && now - x.shown_at >= 1000) {
			waiting(&items[0], x.started, now);
			x.shown_at = now;
		}
		print_in_order(&x);
	}
	if (x.show && n == 1 && x.shown_at != x.started) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	return x.ok;
}

/* Is an engine there? One ping with a short timeout before the first request (the DESIGN note
 * above). @return 0 when it answered (even with a refusal: then the request will say why), else
 * the exit status after saying why on stderr: 3 when nothing answered, 1 when the engine
 * refused this client's CURVE key. */
static int reach(void *sock, const struct opts *o)
{
	struct item it;
	struct opts q = *o;

	memset(&it, 0, sizeof(it));
	it.file = "ping";
	it.data = (uint8_t *)"";
	q.no_print = 1;
	q.window = 1;
	q.timeout_ms = o->timeout_ms < PING_MS ? o->timeout_ms : PING_MS;
	exchange(sock, &it, 1, &q, TPCLEAR__REQUEST_TYPE__REQUEST_PING);
	if (it.final) {
		tpclear__answer__free_unpacked(it.final, NULL);
		return 0;
	}
	/* nothing will be delivered: closing must not wait ZMQ_LINGER for the queued ping */
	zmq_setsockopt(sock, ZMQ_LINGER, &(int){0}, sizeof(int));
	if (it.unanswered)
		fprintf(stderr,
		        "tpclear: no engine answers at %s (no answer to a ping within %d ms): is "
		        "tpcleard running, and is --endpoint (or TPCLEAR_ENDPOINT) its intake?\n",
		        o->endpoint, q.timeout_ms);
	else
		fprintf(stderr, "tpclear: %s: %s\n", o->endpoint, it.error);
	return it.unanswered ? TPC_CLI_UNREACHABLE : TPC_CLI_REFUSED;
}

/* ---- commands ------------------------------------------------------------------------------ */

/* One request, its final answer in *@p out (caller frees). @return 0, or the exit status after
 * saying on stderr why there is no usable answer: 3 when the engine is not there or stopped
 * answering, 1 for a refusal or a conflict (an eAttest number used with other fields). */
static int run_one(const struct opts *o, Tpclear__RequestType type, const char *label,
                   uint8_t *payload, size_t len, Tpclear__Answer **out)
{
	struct item it;
	struct opts q = *o;
	void *ctx = zmq_ctx_new(), *sock;
	int rc;

	memset(&it, 0, sizeof(it));
	it.file = label;
	snprintf(it.key, sizeof(it.key), "%s", label);
	it.data = payload;
	it.len = len;
	/* the command prints the answer itself, in its own shape; one request needs no window */
	q.no_print = 1;
	q.window = 1;
	sock = connect_dealer(ctx, &q);
	if ((rc = reach(sock, &q)) == 0)
		exchange(sock, &it, 1, &q, type);
	zmq_close(sock);
	if (q.monitor)
		zmq_close(q.monitor);
	zmq_ctx_term(ctx);
	if (it.receipt)
		tpclear__answer__free_unpacked(it.receipt, NULL);
	*out = it.final;
	if (rc)
		return rc;
	if (!it.final || it.final->body_case == TPCLEAR__ANSWER__BODY_RECEIPT ||
	    it.final->body_case == TPCLEAR__ANSWER__BODY_CONFLICT) {
		say_failure(&it);
		return it.unanswered ? TPC_CLI_UNREACHABLE : TPC_CLI_REFUSED;
	}
	return 0;
}

/* A date option: the calendar rules the engine applies too (common/date.h), so a date passed
 * here is one the engine takes; a bad one is a usage error naming the value and the rule. */
static int32_t date_opt(const char *name, const char *v)
{
	char why[160];
	uint32_t d = 0;

	if (v && tpc_date_parse(v, &d, why, sizeof(why)) != 0)
		die("--%s %s", name, why);
	return (int32_t)d;
}

/* An answer of another kind than the request's (a protocol mismatch between client and
 * engine versions): said, never printed as if it were the expected one. @return 1. */
static int unexpected(const char *label, const Tpclear__Answer *a)
{
	fprintf(stderr,
	        "tpclear: %s: unexpected answer from the engine (kind %d): is it the same "
	        "version as this client?\n",
	        label, a ? (int)a->body_case : -1);
	return TPC_CLI_REFUSED;
}

/* ---- eattest --kmehr ------------------------------------------------------------------------ */

/* The date of a line (days since 1970-01-01) as YYYY-MM-DD. */
static void line_day(char *buf, size_t cap, int32_t days)
{
	uint32_t d = tpc_check_days_to_yyyymmdd(days);

	snprintf(buf, cap, "%04u-%02u-%02u", d / 10000, d / 100 % 100, d % 100);
}

/* The answer to a Kmehr eAttest request, from its Result: the invoicing number (the
 * attestation's invoice number), each service's reimbursed fee, the findings. The Kmehr answer
 * itself is the native frame (--save-answers DIR writes it to DIR/KEY.kmehr). */
static int print_kmehr(FILE *f, const Tpclear__Answer *a, int json)
{
	const Tpclear__Result *r = a->result;
	const Tpclear__InvoiceResult *ir;
	char eur[40], day[16];
	int ok;

	if (a->body_case != TPCLEAR__ANSWER__BODY_RESULT || r->n_invoice_results != 1) {
		print_text_findings("  ", r ? r->findings : NULL, r ? r->n_findings : 0);
		return 1;
	}
	ir = r->invoice_results[0];
	ok = ir->outcome == TPCLEAR__OUTCOME__OUTCOME_ACCEPTED;
	if (json) {
		json_t *o = json_object(), *svc = json_array();

		tpc_cli_jset_str(o, "key", r->key);
		tpc_cli_jset_str(o, "invoicing_number", ir->number);
		json_object_set_new(o, "accepted", json_boolean(ok));
		tpc_cli_jset_money(o, "reimbursed", r->accepted_cents);
		json_object_set_new(o, "sequence", json_integer((json_int_t)r->sequence));
		json_object_set_new(o, "replay", json_boolean(r->replay));
		tpc_cli_jset_str(o, "native_type", r->native_type);
		json_object_set_new(o, "findings", j_findings(r->findings, r->n_findings));
		json_object_set_new(o, "attestation_findings",
		                    j_findings(ir->findings, ir->n_findings));
		for (size_t i = 0; i < ir->n_lines; i++) {
			const Tpclear__LineResult *l = ir->lines[i];
			json_t *x = json_object();

			tpc_cli_jset_str(x, "code", l->code);
			tpc_cli_jset_day(x, "date", l->date);
			json_object_set_new(x, "units", json_integer(l->units));
			tpc_cli_jset_money(x, "fee", l->accepted_cents);
			json_object_set_new(x, "outcome", json_string(outcome_name(l->outcome)));
			tpc_cli_jset_str(x, "scheme", l->scheme);
			json_object_set_new(x, "findings", j_findings(l->findings, l->n_findings));
			json_array_append_new(svc, x);
		}
		json_object_set_new(o, "services", svc);
		tpc_cli_jprint(f, o);
		return ok ? 0 : 1;
	}
	money(eur, sizeof(eur), r->accepted_cents);
	if (ok && ir->number[0])
		fprintf(f, "attestation %s (request %s): reimbursed %s to the insured%s\n",
		        ir->number, r->key, eur, r->replay ? " (stored answer)" : "");
	else if (ok)
		fprintf(f, "cancellation (request %s): accepted, %s%s\n", r->key, eur,
		        r->replay ? " (stored answer)" : "");
	else
		fprintf(f, "request %s: refused\n", r->key);
	print_text_findings("  ", r->findings, r->n_findings);
	print_text_findings("  ", ir->findings, ir->n_findings);
	for (size_t i = 0; i < ir->n_lines; i++) {
		line_day(day, sizeof(day), ir->lines[i]->date);
		money(eur, sizeof(eur), ir->lines[i]->accepted_cents);
		fprintf(f, "  service %s on %s: %s (%s)\n", ir->lines[i]->code, day, eur,
		        outcome_name(ir->lines[i]->outcome));
		print_text_findings("    ", ir->lines[i]->findings, ir->lines[i]->n_findings);
	}
	return ok ? 0 : 1;
}

/* One attestation in either form: send it and print the answer with @p print. Takes
 * @p payload. @return the exit status. */
static int send_attestation(const struct opts *o, const char *key, uint8_t *payload, size_t len,
                            int (*print)(FILE *, const Tpclear__Answer *, int))
{
	Tpclear__Answer *a = NULL;
	int rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, key, payload, len, &a);

	if (rc == 0)
		rc = print(stdout, a, o->json);
	/* refused: the answer above lists every finding; stderr says it once, with the code */
	if (rc == TPC_CLI_REFUSED && a && a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		const Tpclear__Finding *f = first_finding(a->result);

		fprintf(stderr, "tpclear: %s: refused %s: %s\n", key, f ? f->code : "",
		        f ? f->reason : "no finding given");
	}
	free(payload);
	if (a)
		tpclear__answer__free_unpacked(a, NULL);
	return rc;
}

/* eattest --kmehr FILE: the request is sent as it is; its key is its own request id (so the
 * same request again is answered from the ledger), or --key. */
static int kmehr_command(int argc, const struct opts *o)
{
	uint8_t *payload;
	size_t len;
	char key[128];

	if (argc)
		die("eattest --kmehr FILE takes no KEY=VALUE arguments (see tpclear help eattest)");
	if (tpc_file_read_all(o->kmehr, &payload, &len) != 0)
		die("eattest: cannot read '%s'", o->kmehr);
	if (!tpc_eattest_is_kmehr(payload, len))
		die("eattest: '%s' is not a Kmehr (XML) request", o->kmehr);
	if (o->key)
		snprintf(key, sizeof(key), "%s", o->key);
	else if (tpc_kmehr_request_id(payload, len, key, sizeof(key)) != 0)
		die("eattest: '%s' has no request id (request/id, or header/id): give --key",
		    o->kmehr);
	return send_attestation(o, key, payload, len, print_kmehr);
}

/* payrun, ledger balance|show|export */
static int money_command(const char *cmd, int argc, char **argv, const struct opts *o)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a = NULL;
	uint8_t *payload;
	size_t len;
	int rc;

	if (strcmp(cmd, "eattest") == 0 && o->kmehr)
		return kmehr_command(argc, o);
	if (strcmp(cmd, "eattest") == 0) {
		char number[128], err[256];

		if (tpc_cli_eattest_request(argc, argv, &payload, &len, number, sizeof(number), err,
		                            sizeof(err)))
			die("eattest: %s (see tpclear help eattest)", err);
		return send_attestation(o, number, payload, len, tpc_cli_print_eattest);
	}
	if (strcmp(cmd, "payrun") == 0) {
		if (argc)
			die("payrun takes no arguments (see tpclear help payrun)");
		if (tpc_cli_payrun_request(date_opt("until", o->until), o->budget, o->request_id,
		                           &payload, &len))
			die("out of memory");
		rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, "payrun", payload, len, &a);
		if (rc == 0 && a->body_case == TPCLEAR__ANSWER__BODY_PAYRUN)
			rc = tpc_cli_print_payrun(stdout, a->payrun, o->json, o->out_dir) ? 1 : 0;
		else if (rc == 0)
			rc = unexpected("payrun", a);
		free(payload);
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		return rc;
	}
	if (argc < 1)
		die("ledger: balance, show KEY or export (see tpclear help ledger)");
	rq.budget = (char *)(o->budget ? o->budget : "");
	if (strcmp(argv[0], "balance") == 0) {
		rq.op = TPCLEAR__LEDGER_REQUEST__OP__BALANCE;
		rq.at = date_opt("at", o->at);
	} else if (strcmp(argv[0], "show") == 0) {
		if (argc != 2)
			die("ledger show KEY: a sending key, PROVIDER/INVOICE or a payee NIHII");
		rq.op = TPCLEAR__LEDGER_REQUEST__OP__SHOW;
		rq.target = argv[1];
	} else if (strcmp(argv[0], "export") == 0) {
		rq.op = TPCLEAR__LEDGER_REQUEST__OP__EXPORT;
		rq.from = date_opt("from", o->from);
		rq.to = date_opt("to", o->to);
	} else {
		die("ledger: unknown subcommand '%s' (balance, show, export)", argv[0]);
	}
	for (int page = 0;; page++) {
		if (tpc_cli_ledger_request(&rq, &payload, &len))
			die("out of memory");
		rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, "ledger", payload, len, &a);
		free(payload);
		if (rc || a->body_case != TPCLEAR__ANSWER__BODY_LEDGER) {
			rc = rc ? rc : unexpected("ledger", a);
			if (a)
				tpclear__answer__free_unpacked(a, NULL);
			return rc;
		}
		if (rq.op == TPCLEAR__LEDGER_REQUEST__OP__EXPORT)
			tpc_cli_print_postings(stdout, a->ledger, o->json, page == 0);
		else
			tpc_cli_print_ledger(stdout, a->ledger, rq.op, o->json);
		rq.after = a->ledger->next_after;
		tpclear__answer__free_unpacked(a, NULL);
		a = NULL;
		if (rq.op != TPCLEAR__LEDGER_REQUEST__OP__EXPORT || !rq.after)
			return 0;
	}
}

/* statement sppis --month YYYY-MM [--out FILE] [--json]: the summary on stdout and the
 * document in FILE; without --out the document is the output (stdout) and the summary goes to
 * stderr, so that `tpclear statement ... > file.xml` keeps a clean file. */
static int statement_command(int argc, char **argv, const struct opts *o)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a = NULL;
	const char *file = o->out_dir;
	int to_stdout = !file || strcmp(file, "-") == 0;
	uint32_t month;
	uint8_t *payload;
	size_t len;
	char why[160];
	int rc;

	if (argc != 1)
		die("statement: which institution? (sppis; see tpclear help statement)");
	if (!o->month)
		die("statement: --month YYYY-MM is required");
	if (tpc_date_parse_month(o->month, &month, why, sizeof(why)))
		die("statement: --month %s", why);
	if (to_stdout && o->json)
		die("statement: --json prints the summary on stdout: give the document --out FILE");
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = argv[0];
	rq.month = month;
	if (tpc_cli_ledger_request(&rq, &payload, &len))
		die("out of memory");
	rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, "statement", payload, len, &a);
	free(payload);
	if (rc || a->body_case != TPCLEAR__ANSWER__BODY_LEDGER || !a->ledger->statement) {
		rc = rc ? rc : unexpected("statement", a);
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		return rc;
	}
	if (tpc_cli_write_document(to_stdout ? NULL : file, &a->ledger->statement->document)) {
		fprintf(stderr, "tpclear: cannot write %s: %s\n", file, strerror(errno));
		rc = 1;
	}
	tpc_cli_print_statement(to_stdout ? stderr : stdout, a->ledger->statement, o->json,
	                        to_stdout ? NULL : file);
	tpclear__answer__free_unpacked(a, NULL);
	return rc;
}

/* One item of a batch: a file to submit or load (read whole now, so a missing file stops the
 * command before anything is sent), a key to query, or the ping. */
static void fill_item(struct item *it, Tpclear__RequestType type, const char *arg,
                      const struct opts *o)
{
	int rrc;

	if (type == TPCLEAR__REQUEST_TYPE__REQUEST_QUERY) {
		it->file = arg;
		snprintf(it->key, sizeof(it->key), "%s", arg);
		if (o->settlement)
			snprintf(it->format, sizeof(it->format), "settlement");
		it->data = (uint8_t *)"";
		return;
	}
	it->file = arg;
	rrc = tpc_file_read_all(it->file, &it->data, &it->len);
	if (rrc)
		die("cannot read %s: %s", it->file, strerror(-rrc));
	if (type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD) {
		/* the file's base name is the key: loading the same file twice is a replay */
		const char *base = strrchr(it->file, '/');

		snprintf(it->format, sizeof(it->format), "%s%s",
		         o->upsert  ? "upsert:"
		         : o->force ? "force:"
		                    : "",
		         o->format);
		snprintf(it->key, sizeof(it->key), "%s", base ? base + 1 : it->file);
	} else {
		detect(it, o);
	}
}

/* ---- the command table --------------------------------------------------------------------- */

/* The request-per-item commands (submit, load, query, ping): one item per file or key, all
 * pipelined over one socket. @return the exit code: 0 only when every item ended accepted. */
static int batch(const char *cmd, Tpclear__RequestType type, int argc, char **argv, struct opts *o)
{
	int is_load = type == TPCLEAR__REQUEST_TYPE__REQUEST_LOAD;
	struct item *items;
	void *ctx, *sock;
	int n = argc, ok = 0, rc, unanswered = 0;

	if (n < 1)
		die("%s: nothing to do (see tpclear help %s)", cmd, cmd);
	if (type == TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT && o->key && n > 1)
		die("submit: --key applies to one file only");
	if (sodium_init() < 0)
		die("libsodium initialisation failed");
	items = calloc((size_t)n, sizeof(*items));
	if (!items)
		die("out of memory");
	for (int i = 0; i < n; i++)
		fill_item(&items[i], type, argv[i], o);
	ctx = zmq_ctx_new();
	sock = connect_dealer(ctx, o);
	if ((rc = reach(sock, o)) == 0)
		ok = exchange(sock, items, n, o, type);
	for (int i = 0; i < n; i++) {
		unanswered += items[i].unanswered;
		if (is_load || type == TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT)
			free(items[i].data);
		if (items[i].receipt)
			tpclear__answer__free_unpacked(items[i].receipt, NULL);
		if (items[i].final)
			tpclear__answer__free_unpacked(items[i].final, NULL);
	}
	free(items);
	zmq_close(sock);
	if (o->monitor)
		zmq_close(o->monitor);
	zmq_ctx_term(ctx);
	/* an engine that stopped answering mid-run outranks refusals: the run is incomplete and
	 * is to be run again (what was answered is stored, so that is safe) */
	if (rc || unanswered)
		return rc ? rc : TPC_CLI_UNREACHABLE;
	return ok == n ? TPC_CLI_OK : TPC_CLI_REFUSED;
}

static int cmd_submit(const char *cmd, int argc, char **argv, struct opts *o)
{
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, argc, argv, o);
}

static int cmd_query(const char *cmd, int argc, char **argv, struct opts *o)
{
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, argc, argv, o);
}

/* ping: the preflight itself, with its short timeout (at most --timeout) */
static int cmd_ping(const char *cmd, int argc, char **argv, struct opts *o)
{
	void *ctx, *sock;
	int rc;

	(void)cmd;
	(void)argv;
	if (argc)
		die("ping takes no arguments");
	ctx = zmq_ctx_new();
	sock = connect_dealer(ctx, o);
	rc = reach(sock, o);
	if (rc == 0)
		printf("pong\n");
	zmq_close(sock);
	if (o->monitor)
		zmq_close(o->monitor);
	zmq_ctx_term(ctx);
	return rc;
}

/* load KIND FILE...: the kind travels as the format, the file name as the key */
static int cmd_load(const char *cmd, int argc, char **argv, struct opts *o)
{
	if (argc < 1)
		die("load: which kind? (providers, members, tariffs, agreements, mediprima, "
		    "fedasil, fedasil_exclusions, detention, war_victims, ossom)");
	/* a delta removes nothing, so there is nothing to force */
	if (o->force && o->upsert)
		die("load: --force applies to a replace, not to --upsert");
	o->format = argv[0];
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, argc - 1, argv + 1, o);
}

/* payrun, ledger and eattest answer one request each (engine/cli/money.c prints them) */
static int cmd_money(const char *cmd, int argc, char **argv, struct opts *o)
{
	return money_command(cmd, argc, argv, o);
}

static int cmd_statement(const char *cmd, int argc, char **argv, struct opts *o)
{
	(void)cmd;
	return statement_command(argc, argv, o);
}

/* keygen needs no engine: the key pair is made here */
static int cmd_keygen(const char *cmd, int argc, char **argv, struct opts *o)
{
	(void)cmd;
	(void)argv;
	if (argc != 0)
		die("keygen takes no arguments (tpclear keygen [--out PREFIX])");
	return tpc_cli_keygen(o->out_dir ? o->out_dir : "tpclear");
}

/* `tpclear verify` and `tpclear backup DIR` (admin.h): on the data directory, not the engine */
static int cmd_verify(const char *cmd, int argc, char **argv, struct opts *o)
{
	(void)cmd;
	(void)argv;
	if (argc != 0) {
		fprintf(stderr, "tpclear: verify takes no arguments (tpclear verify [--data-dir D] "
		                "[--json])\n");
		return 2;
	}
	return tpc_cli_verify(o->data_dir, o->json, o->quiet);
}

static int cmd_backup(const char *cmd, int argc, char **argv, struct opts *o)
{
	(void)cmd;
	if (argc != 1) {
		fprintf(stderr, "tpclear: backup takes one directory (tpclear backup DIR "
		                "[--data-dir D])\n");
		return 2;
	}
	return tpc_cli_backup(o->data_dir, argv[0]);
}

/* Every command and what runs it (with the arguments after the name); what each does, its
 * options and its help are help.c's table, which `tpclear help`, the man page and README's
 * list are made from. */
static const struct command {
	const char *name;
	int (*run)(const char *cmd, int argc, char **argv, struct opts *o);
} commands[] = {
    {"submit", cmd_submit},       {"query", cmd_query},   {"load", cmd_load},
    {"eattest", cmd_money},       {"payrun", cmd_money},  {"ledger", cmd_money},
    {"statement", cmd_statement}, {"ping", cmd_ping},     {"verify", cmd_verify},
    {"backup", cmd_backup},       {"keygen", cmd_keygen},
};

static const struct command *command_named(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* `tpclear help [COMMAND]`, and the two generators the build and the tests run:
 * `help --man` (tpclear(1)) and `help --readme` (README's command list). */
static int help_command(const char *what)
{
	if (!what) {
		tpc_cli_help_overview(stdout);
		return TPC_CLI_OK;
	}
	if (strcmp(what, "--man") == 0) {
		tpc_cli_help_man(stdout, TPC_VERSION);
		return TPC_CLI_OK;
	}
	if (strcmp(what, "--readme") == 0) {
		tpc_cli_help_readme(stdout);
		return TPC_CLI_OK;
	}
	if (tpc_cli_help_command(stdout, what) == 0)
		return TPC_CLI_OK;
	fprintf(stderr, "tpclear: help: no command '%s'\n", what);
	tpc_cli_help_overview(stderr);
	return TPC_CLI_USAGE;
}

/* ---- options ------------------------------------------------------------------------------- */

enum opt_kind { OPT_STR, OPT_INT, OPT_FLAG };

/* Every option and the field of struct opts it sets; getopt's table is made from this one. */
static const struct opt_field {
	const char *name;
	int val;
	enum opt_kind kind;
	size_t off;
} opt_fields[] = {
#define O(name, val, kind, field)                                                                  \
	{                                                                                          \
		name, val, kind, offsetof(struct opts, field)                                      \
	}
    O("endpoint", 'e', OPT_STR, endpoint),
    O("sender", 's', OPT_STR, sender),
    O("timeout", 't', OPT_INT, timeout_ms),
    O("format", 'f', OPT_STR, format),
    O("key", 'k', OPT_STR, key),
    O("json", 'j', OPT_FLAG, json),
    O("save-answers", 'a', OPT_STR, save_dir),
    O("window", 'w', OPT_INT, window),
    O("quiet", 'q', OPT_FLAG, quiet),
    O("until", 'U', OPT_STR, until),
    O("budget", 'B', OPT_STR, budget),
    O("request-id", 'R', OPT_STR, request_id),
    O("out", 'O', OPT_STR, out_dir),
    O("at", 'A', OPT_STR, at),
    O("from", 'F', OPT_STR, from),
    O("to", 'T', OPT_STR, to),
    O("settlement", 'S', OPT_FLAG, settlement),
    O("month", 'Y', OPT_STR, month),
    O("server-key", 'K', OPT_STR, server_key),
    O("client-key", 'C', OPT_STR, client_key),
    O("upsert", 'M', OPT_FLAG, upsert),
    O("force", 'G', OPT_FLAG, force),
    O("kmehr", 'X', OPT_STR, kmehr),
    O("data-dir", 'D', OPT_STR, data_dir),
#undef O
};

#define NOPTS (sizeof(opt_fields) / sizeof(opt_fields[0]))

/* A whole number of 1..INT_MAX: "60s", "-1", "0" and "1e3" are usage errors, never read as
 * something else (atoi() made "5s" 5 ms and "abc" 0, which then meant the default). */
static int positive_int(const char *name, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > INT_MAX)
		die("--%s: '%s' is not a whole number from 1 to %d%s", name, arg, INT_MAX,
		    strcmp(name, "timeout") == 0 ? " (milliseconds, e.g. --timeout 5000)" : "");
	return (int)v;
}

/* Set the field of @p o that option @p val names. @return 0, or -1 for an unknown option. */
static int set_option(struct opts *o, int val, const char *arg)
{
	for (size_t i = 0; i < NOPTS; i++) {
		char *field = (char *)o + opt_fields[i].off;

		if (opt_fields[i].val != val)
			continue;
		if (opt_fields[i].kind == OPT_STR)
			*(const char **)field = arg;
		else if (opt_fields[i].kind == OPT_INT)
			*(int *)field = positive_int(opt_fields[i].name, arg);
		else
			*(int *)field = 1;
		return 0;
	}
	return -1;
}

/* Defaults from the environment, then the options. @return 0, or -1 on an unknown option. */
static int parse_options(int argc, char **argv, struct opts *o, int *want_help, int *want_version)
{
	struct option gopts[NOPTS + 3];
	int c;

	for (size_t i = 0; i < NOPTS; i++)
		gopts[i] = (struct option){opt_fields[i].name,
		                           opt_fields[i].kind == OPT_FLAG ? no_argument
		                                                          : required_argument,
		                           NULL, opt_fields[i].val};
	gopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	gopts[NOPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
	gopts[NOPTS + 2] = (struct option){NULL, 0, NULL, 0};
	o->endpoint = getenv("TPCLEAR_ENDPOINT") ? getenv("TPCLEAR_ENDPOINT") : DEFAULT_ENDPOINT;
	o->server_key = getenv("TPCLEAR_SERVER_KEY");
	o->client_key = getenv("TPCLEAR_CLIENT_KEY");
	o->sender = getenv("TPCLEAR_SENDER") ? getenv("TPCLEAR_SENDER") : "local";
	o->data_dir = getenv("TPCLEAR_DATA_DIR") ? getenv("TPCLEAR_DATA_DIR") : "tpclear-data";
	o->window = 8;
	o->timeout_ms = 60000;
	/* one pass: GNU getopt moves options found after the command ahead of it; "+" is not
	 * used for that reason, and "-" keeps getopt from printing its own message */
	while ((c = getopt_long(argc, argv, ":e:s:t:f:k:ja:w:qhV", gopts, NULL)) != -1) {
		if (c == 'h')
			*want_help = 1;
		else if (c == 'V')
			*want_version = 1;
		else if (c == '?' || c == ':')
			return -1;
		else if (set_option(o, c, optarg) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	const struct command *c;
	const char *cmd;
	int want_help = 0, want_version = 0;

	/* the generators take no other option: read before getopt, which would take --man */
	if (argc == 3 && strcmp(argv[1], "help") == 0 && strncmp(argv[2], "--", 2) == 0)
		return help_command(argv[2]);
	opterr = 0;
	if (parse_options(argc, argv, &o, &want_help, &want_version) != 0) {
		fprintf(stderr, "tpclear: %s '%s' (tpclear help: every option)\n",
		        optopt && strchr("estfkawUBROAFTYKCXD", optopt) ? "option needs a value:"
		                                                        : "unknown option",
		        argv[optind - 1]);
		return TPC_CLI_USAGE;
	}
	if (want_version) {
		printf("tpclear %s%s%s\n", TPC_VERSION, *TPC_CLI_GIT_REV ? " git " : "",
		       TPC_CLI_GIT_REV);
		return TPC_CLI_OK;
	}
	if (optind >= argc) {
		/* no command: --help asked for the overview, anything else is a mistake */
		tpc_cli_help_overview(want_help ? stdout : stderr);
		return want_help ? TPC_CLI_OK : TPC_CLI_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0)
		return help_command(optind < argc ? argv[optind] : NULL);
	if (want_help)
		return help_command(cmd);
	c = command_named(cmd);
	if (!c) {
		fprintf(stderr, "tpclear: unknown command '%s' (tpclear help: every command)\n",
		        cmd);
		return TPC_CLI_USAGE;
	}
	return c->run(cmd, argc - optind, argv + optind, &o);
}
