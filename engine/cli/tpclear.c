/* engine/cli/tpclear.c - the command-line client: submit sendings, query stored results.
 *
 * DESIGN: one ZeroMQ DEALER socket, requests pipelined up to a window; every answer carries the
 * request's correlation number, so answers may arrive in any order. A submission ends with its
 * Result, a Conflict, or a refusal; "busy" is retried after the engine's hint.
 */
#include "pipeline/client.h"
#include "curve.h"
#include "core/file.h"
#include "money.h"
#include "tpclear.pb-c.h"

#include <errno.h>
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
	const char *out_dir;    /* payrun --out */
	const char *budget;     /* payrun / ledger --budget */
	const char *request_id; /* payrun --request-id */
	const char *until, *at; /* dates */
	const char *from, *to;
	const char *month;      /* statement --month YYYY-MM */
	const char *server_key; /* CURVE: the engine's public key file (--server-key) */
	const char *client_key; /* CURVE: this client's key pair, PREFIX[.key] (--client-key) */
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

static void *connect_dealer(void *ctx, struct opts *o)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 1000;
	char err[600];

	if (!sock)
		die("zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (tpc_cli_curve_setup(ctx, sock, o->server_key, o->client_key, &o->monitor, err,
	                        sizeof(err)) != 0)
		die("%s", err);
	if (zmq_connect(sock, o->endpoint) != 0)
		die("cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
	return sock;
}

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

/* Run requests for every item; @return number of items that ended accepted. */
static int exchange(void *sock, struct item *items, int n, const struct opts *o,
                    Tpclear__RequestType type)
{
	int done = 0, sent = 0, inflight = 0, ok = 0,
	    show = !o->json && !o->quiet && n > 1 && isatty(STDERR_FILENO);
	uint64_t corr_base = (uint64_t)getpid() << 32;
	int handshake_failed = 0;

	while (done < n) {
		int64_t now = now_ms(), wait = 200;

		/* send what the window and busy hints allow */
		for (int i = 0; i < n && inflight < o->window; i++) {
			struct item *it = &items[i];
			if (it->st != ST_IDLE || it->retry_at_ms > now)
				continue;
			it->corr = corr_base + (uint64_t)i + 1;
			if (!it->deadline_ms)
				it->deadline_ms = now + o->timeout_ms;
			if (tpc_client_send(sock, type, o->sender, it->key, it->format, it->corr,
			                    it->data, it->len) != 0) {
				snprintf(it->error, sizeof(it->error), "send failed: %s",
				         zmq_strerror(errno));
				finish(it, NULL, &done);
				continue;
			}
			it->st = ST_SENT;
			inflight++;
			sent++;
		}
		for (int i = 0; i < n; i++) {
			struct item *it = &items[i];
			if (it->st == ST_SENT || it->st == ST_RECEIVED) {
				if (now >= it->deadline_ms) {
					snprintf(it->error, sizeof(it->error),
					         "no answer within %d ms%s", o->timeout_ms,
					         handshake_failed ? HANDSHAKE_HINT : "");
					finish(it, NULL, &done);
					inflight--;
				} else if (it->deadline_ms - now < wait) {
					wait = it->deadline_ms - now;
				}
			} else if (it->st == ST_IDLE && it->retry_at_ms > now &&
			           it->retry_at_ms - now < wait) {
				wait = it->retry_at_ms - now;
			}
		}
		int refused = tpc_cli_curve_refused(o->monitor, &handshake_failed);

		/* the engine refused our key: nothing will ever come back */
		for (int i = 0; refused && i < n; i++)
			if (items[i].st != ST_DONE) {
				snprintf(items[i].error, sizeof(items[i].error), "%s", KEY_REFUSED);
				finish(&items[i], NULL, &done);
			}
		zmq_pollitem_t pi[2] = {{sock, 0, ZMQ_POLLIN, 0}, {o->monitor, 0, ZMQ_POLLIN, 0}};
		if (done < n && zmq_poll(pi, o->monitor ? 2 : 1, (long)(wait > 0 ? wait : 1)) > 0 &&
		    (pi[0].revents & ZMQ_POLLIN)) {
			uint8_t *native;
			size_t nlen;
			Tpclear__Answer *a = tpc_client_recv(sock, &native, &nlen);
			struct item *it = NULL;

			if (a)
				for (int i = 0; i < n; i++)
					if (items[i].corr == a->correlation &&
					    (items[i].st == ST_SENT || items[i].st == ST_RECEIVED))
						it = &items[i];
			if (!it) {
				if (a)
					tpclear__answer__free_unpacked(a, NULL);
				free(native);
				continue;
			}
			if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
			    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED &&
			    it->st == ST_SENT && type != TPCLEAR__REQUEST_TYPE__REQUEST_PING) {
				char t[16];
				native_type_of(native, nlen, t, sizeof(t));
				save_native(o, it->key, t, native, nlen);
				if (it->receipt)
					tpclear__answer__free_unpacked(it->receipt, NULL);
				it->receipt = a;
				it->st = ST_RECEIVED;
			} else if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
			           a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
				it->st = ST_IDLE;
				it->retry_at_ms =
				    now_ms() +
				    (a->receipt->retry_after_ms ? a->receipt->retry_after_ms : 100);
				inflight--;
				tpclear__answer__free_unpacked(a, NULL);
			} else {
				if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT)
					save_native(o, it->key, a->result->native_type, native,
					            nlen);
				if (a->body_case == TPCLEAR__ANSWER__BODY_SETTLEMENT)
					save_native(o, it->key, a->settlement->native_type, native,
					            nlen);
				if (type == TPCLEAR__REQUEST_TYPE__REQUEST_PING &&
				    a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT)
					it->ok = a->receipt->status ==
					         TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED;
				finish(it, a, &done);
				inflight--;
			}
			free(native);
			if (show)
				progress(done, n);
		}
		/* print finished items in order as soon as their predecessors are printed */
		for (int i = 0; i < n; i++) {
			struct item *it = &items[i];
			if (it->printed)
				continue;
			if (it->st != ST_DONE)
				break;
			if (type != TPCLEAR__REQUEST_TYPE__REQUEST_PING && !o->no_print) {
				if (o->json)
					print_json(it);
				else
					print_text(it);
			}
			fflush(stdout);
			it->printed = 1;
			ok += it->ok;
		}
	}
	(void)sent;
	return ok;
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

/* payrun, ledger balance|show|export */
static int money_command(const char *cmd, int argc, char **argv, const struct opts *o)
{
	Tpclear__LedgerRequest rq = TPCLEAR__LEDGER_REQUEST__INIT;
	Tpclear__Answer *a = NULL;
	uint8_t *payload;
	size_t len;
	int rc;

	if (strcmp(cmd, "eattest") == 0) {
		char number[128], err[256];

		if (tpc_cli_eattest_request(argc, argv, &payload, &len, number, sizeof(number), err,
		                            sizeof(err)))
			die("eattest: %s (see tpclear help eattest)", err);
		rc = run_one(o, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST, number, payload, len, &a);
		if (rc == 0)
			rc = tpc_cli_print_eattest(stdout, a, o->json);
		free(payload);
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
		return rc;
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
	    "  load KIND FILE...\n"
	    "        replace one kind of reference data (providers, members, tariffs,\n"
	    "        agreements) with a CSV file, atomically; live without restart\n"
	    "  ping  check that the engine answers\n"
	    "  keygen [--out PREFIX]\n"
	    "        make a CURVE key pair: PREFIX.key (secret) and PREFIX.pub (public)\n"
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
	    "\n"
	    "submit: --format is guessed when absent (.pb = canonical, a file starting with\n"
	    "920000 = efact); --key defaults to the sending's own reference (eFact segment 200\n"
	    "positions 21-34, canonical 'reference') or else a hash of the file.\n"
	    "--save-answers DIR writes each native answer frame (e.g. 931000, 920098) to\n"
	    "DIR/KEY.TYPE, byte for byte.\n");
}

static void help_command(const char *cmd)
{
	if (cmd && strcmp(cmd, "submit") == 0)
		printf("usage: tpclear submit [--format F] [--key K] [--json] [--save-answers DIR] "
		       "[--window N] FILE...\n"
		       "  --format F          adapter name (canonical, efact, or a plugin's)\n"
		       "  --key K             idempotency key (only with one FILE)\n"
		       "  --json              one JSON object per sending on stdout\n"
		       "  --save-answers DIR  write native answer frames to DIR/KEY.TYPE\n"
		       "  --window N          sendings in flight at once (default 8)\n"
		       "Resubmitting the same file with the same key returns the stored answer;\n"
		       "the same key with other content is a conflict and changes nothing.\n");
	else if (cmd && strcmp(cmd, "query") == 0)
		printf("usage: tpclear query [--json] [--save-answers DIR] KEY...\n"
		       "  prints the stored result of each of this sender's keys\n");
	else if (cmd && strcmp(cmd, "load") == 0)
		printf(
		    "usage: tpclear load [--upsert] KIND FILE...\n"
		    "  KIND: providers, members, tariffs or agreements (docs/formats/"
		    "reference-data.md), or a scheme feed: mediprima, fedasil,\n"
		    "  fedasil_exclusions, detention, war_victims, ossom (docs/formats/feeds.md)\n"
		    "  Each file replaces the whole kind in one transaction; a bad row refuses\n"
		    "  the file with its line, column and reason, and nothing changes.\n"
		    "  --upsert: the file is a delta: its rows replace the stored rows of the\n"
		    "  same key (NISS and valid_from; code; decision) and the others stay.\n");
	else if (cmd && strcmp(cmd, "eattest") == 0)
		printf("usage: tpclear eattest number=N provider=NIHII patient=NISS code=C date=D\n"
		       "                      fee=EUR [units=1] [country=CC real_cost=EUR]\n"
		       "                      [cancels=N] [reference=TEXT] [--json]\n"
		       "  one electronic attestation (docs/formats/eattest.md), answered at once\n"
		       "  with the reimbursement to the insured and the scheme. The number is the\n"
		       "  idempotency key; cancels=N (repeating N's fields) reverses attestation "
		       "N.\n");
	else if (cmd && strcmp(cmd, "payrun") == 0)
		printf(
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
		    "  with another --until or --budget is refused T00027.\n");
	else if (cmd && strcmp(cmd, "ledger") == 0)
		printf("usage: tpclear ledger balance [--budget B] [--at DATE] [--json]\n"
		       "       tpclear ledger show KEY [--json]\n"
		       "       tpclear ledger export [--from DATE] [--to DATE] [--json]\n"
		       "  balance: per budget, charged, paid, still owed; every budget sums to 0\n"
		       "  show: a sending key of this sender, PROVIDER/INVOICE, or a payee NIHII:\n"
		       "        amounts per line (invoiced, expected, accepted, paid) and history\n"
		       "  export: postings as CSV (or JSON lines), in commit order\n");
	else if (cmd && strcmp(cmd, "statement") == 0)
		printf(
		    "usage: tpclear statement sppis --month YYYY-MM [--out FILE] [--json]\n"
		    "  the monthly recovery statement for SPP IS of the Mediprima lines accepted\n"
		    "  in that month (UTC), credit notes included: per CPAS and per decision,\n"
		    "  lines, insurer part, patient share and totals, reconciled to the cent with\n"
		    "  the SPPIS budget's charges of the month (docs/formats/sppis-statement.md).\n"
		    "  --out FILE  write the XML document to FILE (atomically) and print the\n"
		    "              summary per CPAS on stdout (--json: one JSON object)\n"
		    "  without --out (or with --out -) the document goes to stdout and the\n"
		    "  summary to stderr. The statement of a month not over yet is marked\n"
		    "  provisional. Exit 1 when the engine refuses it (T00030..T00033).\n");
	else if (cmd && strcmp(cmd, "ping") == 0)
		printf("usage: tpclear ping\n  exit 0 when the engine answers\n");
	else if (cmd && strcmp(cmd, "keygen") == 0)
		printf("usage: tpclear keygen [--out PREFIX]\n"
		       "  writes a new CURVE key pair: PREFIX.key, the secret (mode 0600: keep it\n"
		       "  on this machine) and PREFIX.pub, the public key (mode 0644: give it to\n"
		       "  the engine's operators for the senders registry). PREFIX defaults to\n"
		       "  'tpclear'; existing files are never overwritten. docs/security.md\n");
	else
		usage(stdout);
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
	    {"endpoint", required_argument, NULL, 'e'},
	    {"sender", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'f'},
	    {"key", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"save-answers", required_argument, NULL, 'a'},
	    {"window", required_argument, NULL, 'w'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"until", required_argument, NULL, 'U'},
	    {"budget", required_argument, NULL, 'B'},
	    {"request-id", required_argument, NULL, 'R'},
	    {"out", required_argument, NULL, 'O'},
	    {"at", required_argument, NULL, 'A'},
	    {"from", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 'T'},
	    {"settlement", no_argument, NULL, 'S'},
	    {"month", required_argument, NULL, 'Y'},
	    {"server-key", required_argument, NULL, 'K'},
	    {"client-key", required_argument, NULL, 'C'},
	    {"upsert", no_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	const char *cmd;
	struct item *items;
	void *ctx, *sock;
	int c, n, ok, is_submit, is_query, is_load = 0, want_help = 0;
	Tpclear__RequestType type;

	o.endpoint = getenv("TPCLEAR_ENDPOINT") ? getenv("TPCLEAR_ENDPOINT") : DEFAULT_ENDPOINT;
	o.server_key = getenv("TPCLEAR_SERVER_KEY");
	o.client_key = getenv("TPCLEAR_CLIENT_KEY");
	o.sender = getenv("TPCLEAR_SENDER") ? getenv("TPCLEAR_SENDER") : "local";
	o.window = 8;
	o.timeout_ms = 60000;
	/* one pass: GNU getopt moves options found after the command ahead of it */
	while ((c = getopt_long(argc, argv, "e:s:t:f:k:ja:w:qh", gopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o.endpoint = optarg;
			break;
		case 's':
			o.sender = optarg;
			break;
		case 't':
			o.timeout_ms = atoi(optarg);
			break;
		case 'f':
			o.format = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'a':
			o.save_dir = optarg;
			break;
		case 'w':
			o.window = atoi(optarg);
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'U':
			o.until = optarg;
			break;
		case 'B':
			o.budget = optarg;
			break;
		case 'R':
			o.request_id = optarg;
			break;
		case 'O':
			o.out_dir = optarg;
			break;
		case 'A':
			o.at = optarg;
			break;
		case 'F':
			o.from = optarg;
			break;
		case 'T':
			o.to = optarg;
			break;
		case 'S':
			o.settlement = 1;
			break;
		case 'Y':
			o.month = optarg;
			break;
		case 'K':
			o.server_key = optarg;
			break;
		case 'C':
			o.client_key = optarg;
			break;
		case 'M':
			o.upsert = 1;
			break;
		case 'h':
			want_help = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		if (want_help) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
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
	if (strcmp(cmd, "keygen") == 0) {
		if (optind != argc)
			die("keygen takes no arguments (tpclear keygen [--out PREFIX])");
		return tpc_cli_keygen(o.out_dir ? o.out_dir : "tpclear");
	}
	if (strcmp(cmd, "payrun") == 0 || strcmp(cmd, "ledger") == 0 ||
	    strcmp(cmd, "eattest") == 0) {
		if (o.timeout_ms < 1)
			o.timeout_ms = 60000;
		return money_command(cmd, argc - optind, argv + optind, &o);
	}
	if (strcmp(cmd, "statement") == 0) {
		if (o.timeout_ms < 1)
			o.timeout_ms = 60000;
		return statement_command(argc - optind, argv + optind, &o);
	}
	is_submit = strcmp(cmd, "submit") == 0;
	is_query = strcmp(cmd, "query") == 0;
	is_load = strcmp(cmd, "load") == 0;
	if (is_load) {
		/* load KIND FILE...: the kind travels as the format, the file name as the key */
		if (optind >= argc)
			die("load: which kind? (providers, members, tariffs, agreements, "
			    "mediprima, "
			    "fedasil, fedasil_exclusions, detention, war_victims, ossom)");
		o.format = argv[optind++];
		is_submit = 1;
	}
	if (!is_submit && !is_query && strcmp(cmd, "ping") != 0) {
		fprintf(stderr, "tpclear: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (o.window < 1)
		o.window = 1;
	if (o.timeout_ms < 1)
		o.timeout_ms = 60000;
	n = argc - optind;
	if ((is_submit || is_query) && n < 1)
		die("%s: nothing to do (see tpclear help %s)", cmd, cmd);
	if (is_submit && o.key && n > 1)
		die("submit: --key applies to one file only");
	if (sodium_init() < 0)
		die("libsodium initialisation failed");
	if (!is_submit && !is_query)
		n = 1;
	items = calloc((size_t)n, sizeof(*items));
	if (!items)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		struct item *it = &items[i];
		if (is_submit) {
			it->file = argv[optind + i];
			int rrc = tpc_file_read_all(it->file, &it->data, &it->len);

			if (rrc)
				die("cannot read %s: %s", it->file, strerror(-rrc));
			if (is_load) {
				const char *base = strrchr(it->file, '/');
				snprintf(it->format, sizeof(it->format), "%s%s",
				         o.upsert ? "upsert:" : "", o.format);
				snprintf(it->key, sizeof(it->key), "%s",
				         base ? base + 1 : it->file);
			} else {
				detect(it, &o);
			}
		} else if (is_query) {
			it->file = argv[optind + i];
			snprintf(it->key, sizeof(it->key), "%s", argv[optind + i]);
			if (o.settlement)
				snprintf(it->format, sizeof(it->format), "settlement");
			it->data = (uint8_t *)"";
		} else {
			it->file = "ping";
			it->data = (uint8_t *)"";
		}
	}
	type = is_load     ? TPCLEAR__REQUEST_TYPE__REQUEST_LOAD
	       : is_submit ? TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT
	       : is_query  ? TPCLEAR__REQUEST_TYPE__REQUEST_QUERY
	                   : TPCLEAR__REQUEST_TYPE__REQUEST_PING;
	ctx = zmq_ctx_new();
	sock = connect_dealer(ctx, &o);
	ok = exchange(sock, items, n, &o, type);
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
	if (o.monitor)
		zmq_close(o.monitor);
	zmq_ctx_term(ctx);
	return ok == n ? 0 : 1;
}
