/* engine/cli/tpclear.c - the command-line client: submit sendings, query stored results.
 *
 * DESIGN: one ZeroMQ DEALER socket, requests pipelined up to a window; every answer carries the
 * request's correlation number, so answers may arrive in any order. A submission ends with its
 * Result, a Conflict, or a refusal; "busy" is retried after the engine's hint.
 */
#include "pipeline/client.h"
#include "admin.h"
#include "curve.h"
#include "common/check.h"
#include "core/file.h"
#include "eattest/eattest.h"
#include "eattest/kmehr.h"
#include "money.h"
#include "tpclear.pb-c.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
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
#define KEY_REFUSED      "the engine refused this client's CURVE key (not in its senders registry?)"
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
	int ok; /* final: accepted */
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

#define json_str tpc_cli_json_str

static void json_hex(FILE *f, ProtobufCBinaryData b)
{
	fputc('"', f);
	for (size_t i = 0; i < b.len; i++)
		fprintf(f, "%02x", b.data[i]);
	fputc('"', f);
}

static void json_findings(FILE *f, Tpclear__Finding **fs, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{\"code\":", i ? "," : "");
		json_str(f, fs[i]->code);
		fprintf(f, ",\"letter\":");
		json_str(f, fs[i]->letter);
		fprintf(f, ",\"record\":%u,\"pos\":%u,\"len\":%u,\"reason\":", fs[i]->record,
		        fs[i]->pos, fs[i]->len);
		json_str(f, fs[i]->reason);
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_result(FILE *f, const Tpclear__Result *r)
{
	fprintf(f, "{\"sender\":");
	json_str(f, r->sender);
	fprintf(f, ",\"key\":");
	json_str(f, r->key);
	fprintf(f, ",\"format\":");
	json_str(f, r->format);
	fprintf(f, ",\"outcome\":\"%s\",\"payload_hash\":", outcome_name(r->outcome));
	json_hex(f, r->payload_hash);
	fprintf(f,
	        ",\"sequence\":%" PRIu64 ",\"committed_at\":%" PRIu64 ",\"replay\":%s"
	        ",\"invoices\":%u,\"lines\":%u,\"lines_accepted\":%u,\"lines_refused\":%u"
	        ",\"accepted_cents\":%" PRId64 ",\"refused_cents\":%" PRId64 ",\"native_type\":",
	        r->sequence, r->committed_at, r->replay ? "true" : "false", r->invoices, r->lines,
	        r->lines_accepted, r->lines_refused, r->accepted_cents, r->refused_cents);
	json_str(f, r->native_type);
	fprintf(f, ",\"findings\":");
	json_findings(f, r->findings, r->n_findings);
	fprintf(f, ",\"invoices_detail\":[");
	for (size_t i = 0; i < r->n_invoice_results; i++) {
		const Tpclear__InvoiceResult *ir = r->invoice_results[i];
		fprintf(f, "%s{\"record\":%u,\"patient\":", i ? "," : "", ir->record);
		json_str(f, ir->patient);
		fprintf(f, ",\"provider\":");
		json_str(f, ir->provider);
		fprintf(f, ",\"number\":");
		json_str(f, ir->number);
		fprintf(f,
		        ",\"outcome\":\"%s\",\"accepted_cents\":%" PRId64
		        ",\"refused_cents\":%" PRId64 ",\"findings\":",
		        outcome_name(ir->outcome), ir->accepted_cents, ir->refused_cents);
		json_findings(f, ir->findings, ir->n_findings);
		fprintf(f, ",\"lines\":[");
		for (size_t k = 0; k < ir->n_lines; k++) {
			const Tpclear__LineResult *l = ir->lines[k];
			fprintf(f, "%s{\"record\":%u,\"code\":", k ? "," : "", l->record);
			json_str(f, l->code);
			fprintf(f,
			        ",\"date\":%d,\"units\":%d,\"outcome\":\"%s\",\"insurer_cents\":"
			        "%" PRId64 ",\"patient_cents\":%" PRId64
			        ",\"expected_insurer_cents\":%" PRId64
			        ",\"expected_patient_cents\":%" PRId64
			        ",\"accepted_cents\":%" PRId64 ",\"scheme\":",
			        l->date, l->units, outcome_name(l->outcome), l->insurer_cents,
			        l->patient_cents, l->expected_insurer_cents,
			        l->expected_patient_cents, l->accepted_cents);
			json_str(f, l->scheme);
			fprintf(f, ",\"budget\":");
			json_str(f, l->budget);
			fprintf(f, ",\"findings\":");
			json_findings(f, l->findings, l->n_findings);
			fputc('}', f);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}");
}

static void json_receipt(FILE *f, const Tpclear__Receipt *rc)
{
	fprintf(f, "{\"status\":\"%s\",\"code\":", status_name(rc->status));
	json_str(f, rc->code);
	fprintf(f, ",\"reason\":");
	json_str(f, rc->reason);
	fprintf(f, ",\"retry_after_ms\":%u}", rc->retry_after_ms);
}

/* One JSON object per item on one line (JSON lines): a script reads the output as a stream,
 * one sending at a time, without waiting for the whole run. */
static void print_json(const struct item *it)
{
	FILE *f = stdout;

	fprintf(f, "{\"file\":");
	json_str(f, it->file);
	fprintf(f, ",\"key\":");
	json_str(f, it->key);
	fprintf(f, ",\"format\":");
	json_str(f, it->format);
	fprintf(f, ",\"accepted\":%s", it->ok ? "true" : "false");
	if (it->receipt && it->receipt->receipt) {
		fprintf(f, ",\"receipt\":");
		json_receipt(f, it->receipt->receipt);
	}
	if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
		fprintf(f, ",\"result\":");
		json_result(f, it->final->result);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_LOAD) {
		fprintf(f, ",\"load\":{\"kind\":");
		json_str(f, it->final->load->kind);
		fprintf(f, ",\"rows\":%u,\"committed_at\":%" PRIu64 "}", it->final->load->rows,
		        it->final->load->committed_at);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_CONFLICT) {
		const Tpclear__Conflict *c = it->final->conflict;
		fprintf(f, ",\"conflict\":{\"key\":");
		json_str(f, c->key);
		fprintf(f, ",\"sequence\":%" PRIu64 ",\"stored_hash\":", c->sequence);
		json_hex(f, c->stored_hash);
		fprintf(f, ",\"payload_hash\":");
		json_hex(f, c->payload_hash);
		fprintf(f, ",\"reason\":");
		json_str(f, c->reason);
		fputc('}', f);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT) {
		fprintf(f, ",\"settlement\":");
		tpc_cli_json_settlement(f, it->final->settlement);
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		fprintf(f, ",\"refusal\":");
		json_receipt(f, it->final->receipt);
	}
	if (it->error[0]) {
		fprintf(f, ",\"error\":");
		json_str(f, it->error);
	}
	fprintf(f, "}\n");
}

static void money(char *buf, size_t cap, int64_t cents)
{
	int64_t a = cents < 0 ? -cents : cents;

	snprintf(buf, cap, "%sEUR %" PRId64 ".%02" PRId64, cents < 0 ? "-" : "", a / 100, a % 100);
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
		printf("%s: key %s, %s%s: %u invoices, %u/%u lines accepted, %s accepted, %s "
		       "refused (sequence %" PRIu64 ", committed %s)\n",
		       it->file, it->key, outcome_name(r->outcome),
		       r->replay ? " (stored answer)" : "", r->invoices, r->lines_accepted,
		       r->lines, acc, ref, r->sequence, when);
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
			printf("  native answer %s%s%s\n", r->native_type, it->final ? "" : "", "");
	} else if (it->final && it->final->body_case == TPCLEAR__ANSWER__BODY_LOAD) {
		printf("%s: %s replaced: %u rows, live\n", it->file, it->final->load->kind,
		       it->final->load->rows);
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

/* The progress bar goes to stderr (and only on a terminal, see exchange()): stdout stays the
 * results alone, whatever is redirected. */
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
	int show;             /* a progress bar on a terminal */
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
				snprintf(it->error, sizeof(it->error), "no answer within %d ms%s",
				         x->o->timeout_ms,
				         x->handshake_failed ? HANDSHAKE_HINT : "");
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
	if (x->show)
		progress(x->done, x->n);
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
		}
		fflush(stdout);
		it->printed = 1;
		x->ok += it->ok;
	}
}

/* Run requests for every item; @return number of items that ended accepted. */
static int exchange(void *sock, struct item *items, int n, const struct opts *o,
                    Tpclear__RequestType type)
{
	struct exchange x = {sock, items, n, o, type, 0, 0, 0, 0, (uint64_t)getpid() << 32, 0};

	x.show = !o->json && !o->quiet && n > 1 && isatty(STDERR_FILENO);
	while (x.done < n) {
		int64_t now = now_ms(), wait;

		send_ready(&x, now);
		wait = expire_and_wait(&x, now);
		fail_if_key_refused(&x);
		if (x.done < n)
			receive_answer(&x, wait);
		print_in_order(&x);
	}
	return x.ok;
}

/* ---- commands ------------------------------------------------------------------------------ */

/* One request, its final answer in *@p out (caller frees). @return 0, or 1 after printing why
 * there is no usable answer. */
static int run_one(const struct opts *o, Tpclear__RequestType type, const char *label,
                   uint8_t *payload, size_t len, Tpclear__Answer **out)
{
	struct item it;
	struct opts q = *o;
	void *ctx = zmq_ctx_new(), *sock;

	memset(&it, 0, sizeof(it));
	it.file = label;
	snprintf(it.key, sizeof(it.key), "%s", label);
	it.data = payload;
	it.len = len;
	/* the command prints the answer itself, in its own shape; one request needs no window */
	q.no_print = 1;
	q.window = 1;
	sock = connect_dealer(ctx, &q);
	exchange(sock, &it, 1, &q, type);
	zmq_close(sock);
	if (q.monitor)
		zmq_close(q.monitor);
	zmq_ctx_term(ctx);
	if (it.receipt)
		tpclear__answer__free_unpacked(it.receipt, NULL);
	*out = it.final;
	if (!it.final) {
		fprintf(stderr, "tpclear: %s: %s\n", label, it.error[0] ? it.error : "no answer");
		return 1;
	}
	if (it.final->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		fprintf(stderr, "tpclear: %s: refused %s: %s\n", label, it.final->receipt->code,
		        it.final->receipt->reason);
		return 1;
	}
	return 0;
}

static int32_t date_opt(const char *name, const char *v)
{
	int32_t d = 0;

	if (v && tpc_cli_date(v, &d) != 0)
		die("--%s: '%s' is not a date (YYYY-MM-DD)", name, v);
	return d;
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
		fprintf(f, "{\"key\":");
		json_str(f, r->key);
		fprintf(f, ",\"invoicing_number\":");
		json_str(f, ir->number);
		fprintf(f,
		        ",\"accepted\":%s,\"reimbursed_cents\":%" PRId64 ",\"sequence\":%" PRIu64
		        ",\"replay\":%s,\"native_type\":",
		        ok ? "true" : "false", r->accepted_cents, r->sequence,
		        r->replay ? "true" : "false");
		json_str(f, r->native_type);
		fprintf(f, ",\"findings\":");
		json_findings(f, r->findings, r->n_findings);
		fprintf(f, ",\"attestation_findings\":");
		json_findings(f, ir->findings, ir->n_findings);
		fprintf(f, ",\"services\":[");
		for (size_t i = 0; i < ir->n_lines; i++) {
			line_day(day, sizeof(day), ir->lines[i]->date);
			fprintf(f, "%s{\"code\":", i ? "," : "");
			json_str(f, ir->lines[i]->code);
			fprintf(f,
			        ",\"date\":\"%s\",\"units\":%d,\"fee_cents\":%" PRId64
			        ",\"outcome\":\"%s\",\"scheme\":",
			        day, ir->lines[i]->units, ir->lines[i]->accepted_cents,
			        outcome_name(ir->lines[i]->outcome));
			json_str(f, ir->lines[i]->scheme);
			fprintf(f, ",\"findings\":");
			json_findings(f, ir->lines[i]->findings, ir->lines[i]->n_findings);
			fputc('}', f);
		}
		fprintf(f, "]}\n");
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
			if (a)
				tpclear__answer__free_unpacked(a, NULL);
			return 1;
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
	int32_t month;
	uint8_t *payload;
	size_t len;
	int rc;

	if (argc != 1)
		die("statement: which institution? (sppis; see tpclear help statement)");
	if (!o->month || tpc_cli_month(o->month, &month))
		die("statement: --month YYYY-MM is required (got '%s')", o->month ? o->month : "");
	if (to_stdout && o->json)
		die("statement: --json prints the summary on stdout: give the document --out FILE");
	rq.op = TPCLEAR__LEDGER_REQUEST__OP__STATEMENT;
	rq.institution = argv[0];
	rq.month = (uint32_t)month;
	if (tpc_cli_ledger_request(&rq, &payload, &len))
		die("out of memory");
	rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, "statement", payload, len, &a);
	free(payload);
	if (rc || a->body_case != TPCLEAR__ANSWER__BODY_LEDGER || !a->ledger->statement) {
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		return 1;
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

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: tpclear [--endpoint E] [--sender S] [--timeout MS] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  submit [--format F] [--key K] [--json] [--save-answers DIR] [--window N] FILE...\n"
	    "        clear each file; prints its receipt and result. Exit 0 only when every\n"
	    "        sending was accepted (possibly with some lines refused).\n"
	    "  query [--json] [--save-answers DIR] [--settlement] KEY...\n"
	    "        print the stored result of each key (this sender's sendings only);\n"
	    "        --settlement: the latest settlement (eFact 920900) instead\n"
	    "  payrun [--until DATE] [--budget B] [--request-id ID] [--out DIR]\n"
	    "        pay the accepted lines: SEPA credit-transfer files, settlements\n"
	    "  ledger balance|show KEY|export [--budget B] [--at D] [--from D] [--to D]\n"
	    "        balances per budget, a line history, postings as CSV\n"
	    "  statement sppis --month YYYY-MM [--out FILE]\n"
	    "        SPP IS monthly recovery statement (per CPAS, per decision), XML\n"
	    "  load [--upsert | --force] KIND FILE...\n"
	    "        replace one kind of reference data (providers, members, tariffs,\n"
	    "        agreements) with a CSV file, atomically; live without restart\n"
	    "  ping  check that the engine answers\n"
	    "  keygen [--out PREFIX]\n"
	    "        make a CURVE key pair: PREFIX.key (secret) and PREFIX.pub (public)\n"
	    "  verify [--data-dir D] [--json]\n"
	    "        check the ledger offline: checksums, budgets, payables, indexes\n"
	    "  backup DIR [--data-dir D]\n"
	    "        hot, consistent copy of the data directory into the empty DIR\n"
	    "  help [COMMAND]\n"
	    "\n"
	    "options:\n"
	    "  --endpoint E   engine intake (default $TPCLEAR_ENDPOINT or " DEFAULT_ENDPOINT ")\n"
	    "  --sender S     sender id (default $TPCLEAR_SENDER or \"local\")\n"
	    "  --timeout MS   give up on a request after MS milliseconds (default 60000)\n"
	    "  --quiet        no progress bar\n"
	    "  --server-key FILE    CURVE: the engine's public key (default\n"
	    "                 $TPCLEAR_SERVER_KEY; the engine writes it to DATA_DIR/server.pub)\n"
	    "  --client-key PREFIX  CURVE: this client's key pair PREFIX.key (default\n"
	    "                 $TPCLEAR_CLIENT_KEY); without both, plain (loopback engines)\n"
	    "  --data-dir D   verify, backup: the engine's data directory (default\n"
	    "                 $TPCLEAR_DATA_DIR or tpclear-data, [ledger] data_dir's default)\n"
	    "\n"
	    "submit: --format is guessed when absent (.pb = canonical, a file starting with\n"
	    "920000 = efact); --key defaults to the sending's own reference (eFact segment 200\n"
	    "positions 21-34, canonical 'reference') or else a hash of the file.\n"
	    "--save-answers DIR writes each native answer frame (e.g. 931000, 920098) to\n"
	    "DIR/KEY.TYPE, byte for byte.\n");
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
	if (type == TPCLEAR__REQUEST_TYPE__REQUEST_PING) {
		it->file = "ping";
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
	int is_submit = is_load || type == TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT;
	int is_query = type == TPCLEAR__REQUEST_TYPE__REQUEST_QUERY;
	struct item *items;
	void *ctx, *sock;
	int n = argc, ok;

	if (o->window < 1)
		o->window = 1;
	if (o->timeout_ms < 1)
		o->timeout_ms = 60000;
	if ((is_submit || is_query) && n < 1)
		die("%s: nothing to do (see tpclear help %s)", cmd, cmd);
	if (is_submit && o->key && n > 1)
		die("submit: --key applies to one file only");
	if (sodium_init() < 0)
		die("libsodium initialisation failed");
	if (!is_submit && !is_query)
		n = 1; /* ping: one request, whatever follows the command */
	items = calloc((size_t)n, sizeof(*items));
	if (!items)
		die("out of memory");
	for (int i = 0; i < n; i++)
		fill_item(&items[i], type, argv[i], o);
	ctx = zmq_ctx_new();
	sock = connect_dealer(ctx, o);
	ok = exchange(sock, items, n, o, type);
	if (type == TPCLEAR__REQUEST_TYPE__REQUEST_PING)
		printf("%s\n", ok ? "pong" : items[0].error[0] ? items[0].error : "no answer");
	for (int i = 0; i < n; i++) {
		if (is_submit)
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
	return ok == n ? 0 : 1;
}

static int cmd_submit(const char *cmd, int argc, char **argv, struct opts *o)
{
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, argc, argv, o);
}

static int cmd_query(const char *cmd, int argc, char **argv, struct opts *o)
{
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, argc, argv, o);
}

static int cmd_ping(const char *cmd, int argc, char **argv, struct opts *o)
{
	return batch(cmd, TPCLEAR__REQUEST_TYPE__REQUEST_PING, argc, argv, o);
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
	if (o->timeout_ms < 1)
		o->timeout_ms = 60000;
	return money_command(cmd, argc, argv, o);
}

static int cmd_statement(const char *cmd, int argc, char **argv, struct opts *o)
{
	(void)cmd;
	if (o->timeout_ms < 1)
		o->timeout_ms = 60000;
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

/* Every command: its name, what runs it (with the arguments after the name) and what
 * `tpclear help NAME` prints. usage() is the overview of them all. */
static const struct command {
	const char *name;
	int (*run)(const char *cmd, int argc, char **argv, struct opts *o);
	const char *help;
} commands[] = {
    {"submit", cmd_submit,
     "usage: tpclear submit [--format F] [--key K] [--json] [--save-answers DIR] "
     "[--window N] FILE...\n"
     "  --format F          adapter name (canonical, efact, or a plugin's)\n"
     "  --key K             idempotency key (only with one FILE)\n"
     "  --json              one JSON object per sending on stdout\n"
     "  --save-answers DIR  write native answer frames to DIR/KEY.TYPE\n"
     "  --window N          sendings in flight at once (default 8)\n"
     "Resubmitting the same file with the same key returns the stored answer;\n"
     "the same key with other content is a conflict and changes nothing.\n"},
    {"query", cmd_query,
     "usage: tpclear query [--json] [--save-answers DIR] KEY...\n"
     "  prints the stored result of each of this sender's keys\n"},
    {"load", cmd_load,
     "usage: tpclear load [--upsert | --force] KIND FILE...\n"
     "  KIND: providers, members, tariffs or agreements (docs/formats/"
     "reference-data.md), or a scheme feed: mediprima, fedasil,\n"
     "  fedasil_exclusions, detention, war_victims, ossom (docs/formats/feeds.md)\n"
     "  Each file replaces the whole kind in one transaction; a bad row refuses\n"
     "  the file with its line, column and reason, and nothing changes.\n"
     "  --upsert: the file is a delta: its rows replace the stored rows of the\n"
     "  same key (NISS and valid_from; code; decision) and the others stay.\n"
     "  A replace by a file with no row, or with fewer rows than stored by more\n"
     "  than [engine] max_load_drop_percent (10 %) of them, is refused (T00061,\n"
     "  T00060) and nothing changes.\n"
     "  --force: replace anyway (a kind that really shrank, or is emptied).\n"},
    {"eattest", cmd_money,
     "usage: tpclear eattest number=N provider=NIHII patient=NISS code=C date=D\n"
     "                      fee=EUR [units=1] [country=CC real_cost=EUR]\n"
     "                      [cancels=N] [reference=TEXT] [--json]\n"
     "  one electronic attestation (docs/formats/eattest.md), answered at once\n"
     "  with the reimbursement to the insured and the scheme. The number is the\n"
     "  idempotency key; cancels=N (repeating N's fields) reverses attestation "
     "N.\n"
     "usage: tpclear eattest --kmehr FILE [--key K] [--json] [--save-answers DIR]\n"
     "  sends FILE, a Kmehr eAttest v3 request (SendTransactionRequest) as MyCareNet\n"
     "  clients write it, and prints the answer: the invoicing number\n"
     "  (OOO-1-YYMMDD-NNNNNNN-CC) and each service's reimbursed fee, or the findings\n"
     "  (code, transaction and item). The key is the request's id (request/id), so\n"
     "  the same file again gets the stored answer. A cgacancellation naming an\n"
     "  invoicing number cancels that attestation. --save-answers DIR writes the\n"
     "  Kmehr answer (SendTransactionResponse) to DIR/KEY.kmehr.\n"},
    {"payrun", cmd_money,
     "usage: tpclear payrun [--until DATE] [--budget B] [--request-id ID] [--out "
     "DIR]\n"
     "                      [--json]\n"
     "  pays every unpaid accepted line (committed up to DATE, of budget B): one\n"
     "  credit transfer per payee account and budget, marked paid in the same\n"
     "  transaction; the engine writes one SEPA pain.001.001.03 file per budget\n"
     "  in its payments directory (default DATA_DIR/payments); --out DIR writes a\n"
     "  copy of each file there. Running it again pays nothing twice.\n"
     "  --request-id ID (up to 64 printable ASCII characters, no space) makes\n"
     "  the request idempotent: the same ID again answers the run it made the\n"
     "  first time (marked replay) and pays nothing that came since; the same ID\n"
     "  with another --until or --budget is refused T00027.\n"},
    {"ledger", cmd_money,
     "usage: tpclear ledger balance [--budget B] [--at DATE] [--json]\n"
     "       tpclear ledger show KEY [--json]\n"
     "       tpclear ledger export [--from DATE] [--to DATE] [--json]\n"
     "  balance: per budget, charged, paid, still owed; every budget sums to 0\n"
     "  show: a sending key of this sender, PROVIDER/INVOICE, or a payee NIHII:\n"
     "        amounts per line (invoiced, expected, accepted, paid) and history\n"
     "  export: postings as CSV (or JSON lines), in commit order\n"},
    {"statement", cmd_statement,
     "usage: tpclear statement sppis --month YYYY-MM [--out FILE] [--json]\n"
     "  the monthly recovery statement for SPP IS of the Mediprima lines accepted\n"
     "  in that month (UTC), credit notes included: per CPAS and per decision,\n"
     "  lines, insurer part, patient share and totals, reconciled to the cent with\n"
     "  the SPPIS budget's charges of the month (docs/formats/sppis-statement.md).\n"
     "  --out FILE  write the XML document to FILE (atomically) and print the\n"
     "              summary per CPAS on stdout (--json: one JSON object)\n"
     "  without --out (or with --out -) the document goes to stdout and the\n"
     "  summary to stderr. The statement of a month not over yet is marked\n"
     "  provisional. Exit 1 when the engine refuses it (T00030..T00033).\n"},
    {"ping", cmd_ping, "usage: tpclear ping\n  exit 0 when the engine answers\n"},
    {"verify", cmd_verify,
     "usage: tpclear verify [--data-dir D] [--json] [--quiet]\n"
     "  checks the ledger in D offline and read-only (it works while the engine\n"
     "  runs on D, and takes no lock of it): every record's checksum, every budget\n"
     "  summing to 0, each accepted line part payable or paid (not both) for its\n"
     "  amount, and every index (sendings, dedup, invoices, scheme references,\n"
     "  settlements, payments) pointing at stored records. Each problem is one\n"
     "  line on stdout (sub-database, key, what); records written before schema 5\n"
     "  carry no checksum and are counted. A progress bar on stderr when it is a\n"
     "  terminal (--quiet: none). --json: one JSON document.\n"
     "  Exit 0 when clean, 1 when damaged, 2 when D cannot be opened.\n"},
    {"backup", cmd_backup,
     "usage: tpclear backup DIR [--data-dir D]\n"
     "  copies the ledger in D into DIR/data.mdb while the engine runs: one\n"
     "  consistent snapshot, compacted (LMDB mdb_env_copy2), then the other files\n"
     "  of D a restore needs (server.key/.pub, senders.ini, payments/). DIR must\n"
     "  be empty or absent. Restore: docs/operations.md, \"Backup and restore\".\n"
     "  Exit 0 when done, 1 when the copy failed, 2 on a bad DIR or D.\n"},
    {"keygen", cmd_keygen,
     "usage: tpclear keygen [--out PREFIX]\n"
     "  writes a new CURVE key pair: PREFIX.key, the secret (mode 0600: keep it\n"
     "  on this machine) and PREFIX.pub, the public key (mode 0644: give it to\n"
     "  the engine's operators for the senders registry). PREFIX defaults to\n"
     "  'tpclear'; existing files are never overwritten. docs/security.md\n"},
};

static const struct command *command_named(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* `tpclear help [COMMAND]`: the command's own help, else the overview */
static void help_command(const char *cmd)
{
	const struct command *c = cmd ? command_named(cmd) : NULL;

	if (c)
		fputs(c->help, stdout);
	else
		usage(stdout);
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
			*(int *)field = atoi(arg);
		else
			*(int *)field = 1;
		return 0;
	}
	return -1;
}

/* Defaults from the environment, then the options. @return 0, or -1 on an unknown option. */
static int parse_options(int argc, char **argv, struct opts *o, int *want_help)
{
	struct option gopts[NOPTS + 2];
	int c;

	for (size_t i = 0; i < NOPTS; i++)
		gopts[i] = (struct option){opt_fields[i].name,
		                           opt_fields[i].kind == OPT_FLAG ? no_argument
		                                                          : required_argument,
		                           NULL, opt_fields[i].val};
	gopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	gopts[NOPTS + 1] = (struct option){NULL, 0, NULL, 0};
	o->endpoint = getenv("TPCLEAR_ENDPOINT") ? getenv("TPCLEAR_ENDPOINT") : DEFAULT_ENDPOINT;
	o->server_key = getenv("TPCLEAR_SERVER_KEY");
	o->client_key = getenv("TPCLEAR_CLIENT_KEY");
	o->sender = getenv("TPCLEAR_SENDER") ? getenv("TPCLEAR_SENDER") : "local";
	o->data_dir = getenv("TPCLEAR_DATA_DIR") ? getenv("TPCLEAR_DATA_DIR") : "tpclear-data";
	o->window = 8;
	o->timeout_ms = 60000;
	/* one pass: GNU getopt moves options found after the command ahead of it */
	while ((c = getopt_long(argc, argv, "e:s:t:f:k:ja:w:qh", gopts, NULL)) != -1) {
		if (c == 'h')
			*want_help = 1;
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
	int want_help = 0;

	if (parse_options(argc, argv, &o, &want_help) != 0) {
		usage(stderr);
		return 2;
	}
	if (optind >= argc) {
		/* no command: --help asked for the overview, anything else is a mistake */
		usage(want_help ? stdout : stderr);
		return want_help ? 0 : 2;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0) {
		help_command(optind < argc ? argv[optind] : NULL);
		return 0;
	}
	if (want_help) {
		help_command(cmd);
		return 0;
	}
	c = command_named(cmd);
	if (!c) {
		fprintf(stderr, "tpclear: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	return c->run(cmd, argc - optind, argv + optind, &o);
}
