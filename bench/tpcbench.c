/* bench/tpcbench.c - the instrument behind bench/run (docs/benchmarks.md).
 *
 *   tpcbench engine  [--endpoint E] [--clients K] [--window W] [--seconds S] [--rate LINES/S]
 *                    [--probe HZ [--probe-pack FILE]] [--pid PID] [--http HOST:PORT]
 *                    [--format F] [--warmup S]
 *                    (--pack FILE [--from I] [--lines N] [--cycle] [--stage] |
 *                     --make I:L [--pool N] |
 *                     FILE...)
 *       K DEALER clients (one thread each) over tcp against a running tpcleard. Closed loop:
 *       W sendings outstanding per client, as fast as answers come back. Open loop (--rate):
 *       sendings are offered on a fixed schedule of LINES/S lines per second in all, whatever
 *       the answers do; latency counts from the scheduled instant, so a late client does not
 *       hide queueing. A generated pool (--pack, --make) sends each sending once, so every line
 *       is new to the ledger (--cycle reuses it, for the echo); payload files are cycled under
 *       fresh keys. --seconds 0 runs until the pool is used up. --probe HZ adds one more client
 *       that sends HZ small requests per second and times each round trip: with --probe-pack
 *       FILE (`tpcgen pack eattest`) one attestation each (REQUEST_EATTEST, until its durable
 *       Result), else REQUEST_PING (answered by the loop thread). --pid reads the daemon's CPU
 *       time, peak RSS and disk writes from /proc, --http its commit counters from /metrics.
 *       --warmup S: the answers of the first S seconds count in the throughput but not in the
 *       latencies (nor the probe's): a daemon just started answers its first sendings slower
 *       (warmup_results says how many were left out).
 *       Before the clock, the page tables of the part of the pack the point will send are
 *       filled; --stage also copies that part (at most 1 GiB) into huge pages, which makes
 *       the senders' sends about a third cheaper but takes seconds (stage_pack()).
 *   tpcbench echo    [--endpoint E] [--endpoint-file PATH]
 *       A plain ROUTER that answers every request at once with a receipt, then an empty Result
 *       with the payload echoed as its native frame: the ZeroMQ transport ceiling (same
 *       payloads, same frames and about the same bytes back, no work).
 *   tpcbench ceiling --pack FILE [--from I] [--lines N] --refdata DIR --data-dir DIR
 *                    [--seconds S] [--phases decode,tariff,ledger] [--batch-lines N]
 *                    [--map-size MB] [--sendings N]
 *       In this process, one thread, the same payloads through the worker's code
 *       (tpc_worker_process): `decode` without a ledger (hash, decode, structural checks, judge,
 *       answer, pack), `tariff` with a ledger reader on a fresh ledger holding the reference
 *       data of DIR (idempotency lookup, AMI tariffing and schemes added), `ledger` the judged
 *       jobs committed by the real writer thread with the default durability (fsync), timed
 *       alone, in batches of up to N lines (default 32,000) pushed at once. --sendings N:
 *       `decode` and `tariff` stop after N sendings (or S seconds), so that two trees run
 *       the very same sendings under callgrind, whatever the machine's load.
 *   tpcbench dsync [--data-dir DIR] [--lines N]
 *       N (default 300) writes of 4 KiB, each O_DSYNC, to a file in DIR: the disk's own
 *       durable-write latency, the floor under every durable answer (p50, p99, mean).
 *   tpcbench make-members N FILE | make-canonical|make-efact SEED INVOICES LINES FILE |
 *            make-faults REFERENCE FILE
 *       Sample files (see each function).
 *
 * Output: one "key=value" line per figure (bench/run turns them into tables and CSV).
 *
 * DESIGN: payloads are read-only views (the pack is mmapped) shared by every thread; each
 * client owns its socket and its samples and is merged after join, so the clients share
 * nothing but the atomic index of the next payload to send. The senders run on the daemon's
 * CPUs, so what they burn is taken from it: a sending leaves without a copy (a constant ZeroMQ
 * message over the pack, staged in huge pages before the clock), an answer is scanned for the
 * few fields the figures need, never unpacked (docs/benchmarks.md, "Issue 15: the senders'
 * share"); client_cpu_* print what they cost.
 */
#include "registry.h"
#include "core/arena.h"
#include "gen/canonical_gen.h"
#include "gen/efact_gen.h"

#include "pipeline/client.h"
#include "security/keys.h"
#include "common/check.h"
#include "core/config.h"
#include "core/error.h"
#include "pipeline/job.h"
#include "ledger/ledger.h"
#include "pipeline/writer.h"
#include "core/metrics.h"
#include "pack.h"
#include "core/queue.h"
#include "refdata/refdata.h"
#include "tpclear.pb-c.h"
#include "pipeline/worker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct payload {
	const uint8_t *data;
	size_t len;
	uint32_t lines; /* 0 = unknown (payload files): taken from the Result */
};

static struct payload *payloads;
static size_t npayloads;
static const char *endpoint = "tcp://127.0.0.1:5570";
/* CURVE (--server-key FILE --client-key PREFIX): every DEALER authenticates, as a real sender */
static char curve_server[TPC_KEY_Z85 + 1];
static tpc_keypair_t curve_client;
static int curve_on;

/* Make @p sock a CURVE client when --server-key was given. */
static void curve_setup(void *sock)
{
	if (curve_on && tpc_keys_client_socket(sock, curve_server, &curve_client) != 0) {
		fprintf(stderr, "tpcbench: cannot set up CURVE\n");
		exit(2);
	}
}
static const char *format = NULL;
static const char *key_prefix = NULL; /* default: unique per run */
static char key_prefix_buf[64];
static int clients = 4, window = 4;
static int unique; /* payloads are a generated pool, each sent once */
static int cycle;  /* ... or cycled (--cycle: the echo ROUTER has no ledger to mind) */
static int stage;  /* --stage: the part of the pack sent copied into huge pages first */
static double seconds = 5, rate = 0, probe_hz = 0;
static double warmup = 0;          /* --warmup S: answers in the first S seconds not timed */
static uint64_t warm_until_us = 0; /* set before the clients start, read-only after */
static long daemon_pid = 0;
static size_t batch_lines = 32000, map_size = 0; /* ledger ceiling */
static uint64_t max_sendings = 0;                /* --sendings: worker ceilings, 0 = timed only */
static const char *http_addr = NULL;
static void *zctx;

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile @p p of the sorted @p v (nearest rank). */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void print_latency(const char *prefix, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%s_n=%zu\n%s_p50_ms=%.3f\n%s_p99_ms=%.3f\n%s_p999_ms=%.3f\n%s_max_ms=%.3f\n",
	       prefix, n, prefix, (double)pct(v, n, 0.50) / 1e3, prefix,
	       (double)pct(v, n, 0.99) / 1e3, prefix, (double)pct(v, n, 0.999) / 1e3, prefix,
	       n ? (double)v[n - 1] / 1e3 : 0.0);
}

static void load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "tpcbench: cannot read %s\n", path);
		exit(2);
	}
	payloads = realloc(payloads, sizeof(*payloads) * (npayloads + 1));
	data = malloc((size_t)n + 1);
	if (!payloads || !data) {
		fprintf(stderr, "tpcbench: out of memory\n");
		exit(2);
	}
	payloads[npayloads].len = fread(data, 1, (size_t)n, f);
	payloads[npayloads].data = data;
	payloads[npayloads].lines = 0;
	npayloads++;
	fclose(f);
}

static tpc_pack_t pack;
static char (*payload_keys)[64]; /* an eAttest pack: the attestation numbers (envelope keys) */

/* The numbers of the attestations of @p pk, the keys they must be sent under. */
static char (*attestation_keys(const tpc_pack_t *pk))[64]
{
	char(*keys)[64] = calloc(pk->h.sendings, sizeof(*keys));

	for (uint64_t i = 0; keys && i < pk->h.sendings; i++) {
		Tpclear__Attestation *at =
		    tpclear__attestation__unpack(NULL, pk->e[i].len, pk->e[i].data);

		if (!at) {
			free(keys);
			return NULL;
		}
		snprintf(keys[i], sizeof(keys[i]), "%s", at->number);
		tpclear__attestation__free_unpacked(at, NULL);
	}
	return keys;
}

/* Sendings [from, ...) of the pack, as many as make @p want lines (0: all of them). */
static int use_pack(const char *path, uint64_t from, uint64_t want)
{
	uint64_t lines = 0;

	if (tpc_pack_open(path, &pack) != 0)
		return -1;
	if (from >= pack.h.sendings) {
		fprintf(stderr, "tpcbench: --from %" PRIu64 " beyond the %" PRIu64 " sendings\n",
		        from, pack.h.sendings);
		return -1;
	}
	payloads = calloc(pack.h.sendings - from, sizeof(*payloads));
	if (!payloads)
		return -1;
	for (uint64_t i = from; i < pack.h.sendings && (!want || lines < want); i++) {
		payloads[npayloads++] =
		    (struct payload){pack.e[i].data, pack.e[i].len, pack.e[i].lines};
		lines += pack.e[i].lines;
	}
	if (want && lines < want)
		fprintf(stderr,
		        "tpcbench: the pack holds %" PRIu64 " lines from sending %" PRIu64
		        ", not %" PRIu64 "\n",
		        lines, from, want);
	if (pack.h.format == TPC_PACK_EATTEST) {
		if (from) {
			fprintf(stderr, "tpcbench: --from with attestations\n");
			return -1;
		}
		payload_keys = attestation_keys(&pack);
		if (!payload_keys)
			return -1;
		format = "eattest";
	}
	if (!format)
		format = pack.h.format == TPC_PACK_CANONICAL ? "canonical" : "efact";
	return 0;
}

static const char *format_of(const struct payload *p)
{
	if (format)
		return format;
	return p->len >= 6 && memcmp(p->data, "920000", 6) == 0 ? "efact" : "canonical";
}

/* ---- the daemon seen from outside: /proc and /metrics ------------------------------------- */

/* utime + stime in seconds of /proc/@p what/stat (a process "PID", or a thread
 * "self/task/TID"), or -1. */
static double proc_cpu_path_s(const char *what)
{
	char path[128], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields 14 and 15, counted after the command name, which may hold spaces */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* utime + stime of process @p pid in seconds, or -1. */
static double proc_cpu_s(long pid)
{
	char what[32];

	snprintf(what, sizeof(what), "%ld", pid);
	return proc_cpu_path_s(what);
}

/* The number after "name:" on a line of /proc/PID/@p file, or 0: /proc/PID/status gives
 * "Name:  N kB" (in kB), /proc/PID/io "name: N" (wchar: bytes passed to write calls;
 * write_bytes: bytes sent to the block device). */
static uint64_t proc_field(long pid, const char *file, const char *name)
{
	char path[64], line[256];
	size_t nl = strlen(name);
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
			v = strtoull(line + nl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static uint64_t proc_status_kb(long pid, const char *name)
{
	return proc_field(pid, "status", name);
}

static uint64_t proc_io(long pid, const char *name)
{
	return proc_field(pid, "io", name);
}

/* GET /metrics from HOST:PORT and return the sum of the samples of @p family (0 when absent),
 * read as decimals (a histogram's _sum is in seconds). */
static int scrape_d(const char *addr, const char *family, double *out)
{
	char host[64], req[128], *buf = NULL, *p;
	size_t cap = 1 << 20, len = 0;
	struct sockaddr_in sa;
	int port, fd, rc = -1;
	ssize_t r;

	*out = 0;
	if (!addr || sscanf(addr, "%63[^:]:%d", host, &port) != 2)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	buf = malloc(cap);
	if (!buf || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out_close;
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", host);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out_close;
	while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	for (p = buf; (p = strstr(p, family)) != NULL; p += strlen(family)) {
		const char *v;

		if (p > buf && p[-1] != '\n')
			continue; /* inside a HELP or TYPE line */
		v = strchr(p, ' ');
		if (v)
			*out += strtod(v + 1, NULL);
	}
	rc = 0;
out_close:
	free(buf);
	close(fd);
	return rc;
}

/* scrape_d() of a counter (exact below 2^53). */
static int scrape(const char *addr, const char *family, uint64_t *out)
{
	double d = 0;
	int rc = scrape_d(addr, family, &d);

	*out = (uint64_t)d;
	return rc;
}

/* The daemon's stage histograms (tpclear_stage_*_seconds, docs/metrics.md): sums and counts at
 * the end of the warm-up (else at the start) and at the end, so that stage_*_ms is each stage's
 * mean over the sendings committed in the timed seconds. */
static const char *const stage_names[] = {"wait_worker", "judge", "wait_writer", "commit",
                                          "answer"};
#define NSTAGES (sizeof(stage_names) / sizeof(stage_names[0]))
struct stages {
	double sum[NSTAGES], count[NSTAGES];
};

static void scrape_stages(const char *addr, struct stages *s)
{
	char fam[96];

	for (size_t i = 0; i < NSTAGES; i++) {
		snprintf(fam, sizeof(fam), "tpclear_stage_%s_seconds_sum", stage_names[i]);
		scrape_d(addr, fam, &s->sum[i]);
		snprintf(fam, sizeof(fam), "tpclear_stage_%s_seconds_count", stage_names[i]);
		scrape_d(addr, fam, &s->count[i]);
	}
}

static void print_stages(const struct stages *a, const struct stages *b)
{
	for (size_t i = 0; i < NSTAGES; i++)
		if (b->count[i] > a->count[i])
			printf("stage_%s_ms=%.2f\n", stage_names[i],
			       (b->sum[i] - a->sum[i]) * 1000 / (b->count[i] - a->count[i]));
}

/* The first snapshot, taken when the warm-up ends (a thread: the main one waits for the
 * senders). */
struct stage_mark {
	pthread_t thread;
	const char *addr;
	uint64_t at_us;
	struct stages s;
};

static void *stage_mark_main(void *arg)
{
	struct stage_mark *m = arg;
	uint64_t t = now_us();

	if (m->at_us > t)
		usleep((useconds_t)(m->at_us - t));
	scrape_stages(m->addr, &m->s);
	return NULL;
}

/* ---- engine: the load generator ----------------------------------------------------------- */

struct client {
	pthread_t thread;
	int id;
	uint64_t sent, sent_lines, results, lines, accepted, refused, busy, errors;
	uint64_t stop_send_us, last_answer_us;
	uint64_t *lat_us;   /* one per result */
	uint64_t *lat1k_us; /* results of sendings of 500 to 2000 lines */
	uint64_t *at_us;    /* one per result: when it came, for the offered-period figures */
	uint32_t *at_lines; /* ... and its lines */
	size_t nat, nlat, n1k, caplat; /* nat results; nlat, n1k of them after the warm-up */
	uint64_t warm;                 /* results answered during the warm-up: not timed */
	int ran_out;                   /* the pool was used up before the time was */
};

static _Atomic uint64_t next_payload; /* generated pools: next payload to send, shared */
static uint64_t *send_us;             /* per payload (pools), when its request was offered */
static _Atomic int clients_done;
static uint64_t run_start_us;

/* One request as tpc_client_send() frames it (envelope, payload), without copying the
 * payload: it goes out as a constant ZeroMQ message over the pack's mapping (or the loaded
 * file), which lives until the process exits, so nothing is allocated or freed for it. The
 * copy and the allocation of a sending-sized buffer were most of the senders' CPU (before:
 * 1.1 us per line, docs/benchmarks.md "Issue 15: the senders' share"). The envelope, a few
 * dozen bytes, is still copied by zmq_send. @return 0, or -1 with errno set by ZeroMQ. */
static int bench_send(void *sock, Tpclear__RequestType type, const char *key, const char *fmt,
                      uint64_t correlation, const struct payload *p)
{
	Tpclear__Envelope env = TPCLEAR__ENVELOPE__INIT;
	uint8_t buf[256];
	zmq_msg_t m;

	env.version = 1;
	env.type = type;
	env.sender = "bench";
	env.key = (char *)key;
	env.format = (char *)fmt;
	env.correlation = correlation;
	if (tpclear__envelope__get_packed_size(&env) > sizeof(buf))
		return -1;
	if (zmq_send(sock, buf, tpclear__envelope__pack(&env, buf), ZMQ_SNDMORE) < 0)
		return -1;
	/* no free function: a constant message, ZeroMQ only reads it */
	zmq_msg_init_data(&m, (void *)p->data, p->len, NULL, NULL);
	if (zmq_msg_send(&m, sock, 0) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	return 0;
}

/* Send the next payload. @p at: the instant to count latency from; @p lines (may be NULL):
 * the lines it holds (1 when unknown). @return 0, or -1 when the pool is used up or the socket
 * failed. */
static int send_one(void *sock, struct client *c, uint64_t seq, uint64_t at, uint32_t *lines)
{
	uint64_t g = unique ? atomic_fetch_add(&next_payload, 1) : seq, idx = g % npayloads;
	const struct payload *p;
	char key[96];

	if (unique && !cycle && g >= npayloads) {
		c->ran_out = 1;
		return -1;
	}
	p = &payloads[idx];
	if (payload_keys) /* an attestation goes under its own number */
		snprintf(key, sizeof(key), "%s", payload_keys[idx]);
	else
		snprintf(key, sizeof(key), "%s-%d-%" PRIu64, key_prefix, c->id, seq);
	/* pools: the send number travels as the correlation, the send instant stays here (a
	 * cycled pool reuses a slot only after npayloads more sends); files: the instant itself */
	if (unique)
		send_us[idx] = at;
	if (bench_send(sock,
	               payload_keys ? TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST
	                            : TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT,
	               key, format_of(p), unique ? g : at, p) != 0)
		return -1;
	c->sent++;
	c->sent_lines += p->lines;
	if (lines)
		*lines = p->lines ? p->lines : 1;
	return 0;
}

static void record(struct client *c, uint64_t now, uint64_t us, uint32_t lines)
{
	if (c->nat == c->caplat) {
		c->caplat = c->caplat ? c->caplat * 2 : 4096;
		c->lat_us = realloc(c->lat_us, c->caplat * sizeof(*c->lat_us));
		c->lat1k_us = realloc(c->lat1k_us, c->caplat * sizeof(*c->lat1k_us));
		c->at_us = realloc(c->at_us, c->caplat * sizeof(*c->at_us));
		c->at_lines = realloc(c->at_lines, c->caplat * sizeof(*c->at_lines));
		TPC_REQUIRE(c->lat_us && c->lat1k_us && c->at_us && c->at_lines);
	}
	c->at_us[c->nat] = now;
	c->at_lines[c->nat++] = lines;
	/* a daemon just started answers its first sendings slower (fresh arenas, the first
	 * commits grow the file, cold caches): --warmup keeps them out of the latencies */
	if (now < warm_until_us) {
		c->warm++;
		return;
	}
	c->lat_us[c->nlat++] = us;
	if (lines >= 500 && lines <= 2000)
		c->lat1k_us[c->n1k++] = us;
}

/* ---- answers: only the fields the figures read ------------------------------------------- */

/* What drain() needs of an Answer (docs/protocol.md): its correlation, which body it carries,
 * a Receipt's status (and code and reason, cut, for the one error message), a Result's
 * outcome, lines and lines accepted. Unpacking the whole Answer (tpclear__answer__unpack) also
 * builds every InvoiceResult and LineResult - one allocation per line and per string, then as
 * many frees - for figures that never read them: that unpacking was the other half of the
 * senders' CPU. The scan below reads the protobuf wire format of the three messages and steps
 * over every other field, the invoice results in one jump. */
struct answer_peek {
	uint64_t correlation;
	uint32_t body;   /* Tpclear__Answer__BodyCase: the oneof's field number, 0 none */
	uint32_t status; /* Receipt.status */
	uint32_t outcome, lines, lines_accepted; /* Result */
	char code[16], reason[160];              /* Receipt.code, .reason, cut to fit */
};

/* A varint at *@p at. @return 0, or -1 when cut short or longer than 10 bytes. */
static int pb_varint(const uint8_t **at, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 70 && *at < end; shift += 7) {
		uint8_t b = *(*at)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* One field at *@p at: its number, and @p v its varint value or its length (then @p data points
 * at its bytes); fixed-size fields are stepped over. @return the wire type, or -1 when the
 * bytes are not protobuf (groups, cut short). */
static int pb_field(const uint8_t **at, const uint8_t *end, uint32_t *num, uint64_t *v,
                    const uint8_t **data)
{
	uint64_t tag;

	if (pb_varint(at, end, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -1;
	*num = (uint32_t)(tag >> 3);
	switch (tag & 7) {
	case 0:
		return pb_varint(at, end, v) == 0 ? 0 : -1;
	case 1:
	case 5:
		if ((size_t)(end - *at) < ((tag & 7) == 1 ? 8u : 4u))
			return -1;
		*at += (tag & 7) == 1 ? 8 : 4;
		return (int)(tag & 7);
	case 2:
		if (pb_varint(at, end, v) != 0 || *v > (uint64_t)(end - *at))
			return -1;
		*data = *at;
		*at += *v;
		return 2;
	default:
		return -1;
	}
}

/* Copy a string field, cut to @p cap - 1 bytes. */
static void pb_str(char *dst, size_t cap, const uint8_t *data, uint64_t len)
{
	size_t n = len < cap - 1 ? (size_t)len : cap - 1;

	memcpy(dst, data, n);
	dst[n] = 0;
}

/* The fields of @p pk in the message at [@p at, @p end): an Answer (@p msg 0), or the Receipt
 * or Result it carries (@p msg = the body's field number), into which it descends. @return 0,
 * or -1 when the bytes are not protobuf. */
static int peek(const uint8_t *at, const uint8_t *end, uint32_t msg, struct answer_peek *pk)
{
	while (at < end) {
		uint32_t num;
		uint64_t v = 0;
		const uint8_t *data = NULL;
		int wt = pb_field(&at, end, &num, &v, &data);

		if (wt < 0)
			return -1;
		if (msg == 0 && wt == 0 && num == 2)
			pk->correlation = v;
		else if (msg == 0 && wt == 2 && num >= TPCLEAR__ANSWER__BODY_RECEIPT &&
		         num <= TPCLEAR__ANSWER__BODY_LEDGER) {
			pk->body = num;
			if ((num == TPCLEAR__ANSWER__BODY_RECEIPT ||
			     num == TPCLEAR__ANSWER__BODY_RESULT) &&
			    peek(data, data + v, num, pk) != 0)
				return -1;
		} else if (msg == TPCLEAR__ANSWER__BODY_RECEIPT && wt == 0 && num == 1)
			pk->status = (uint32_t)v;
		else if (msg == TPCLEAR__ANSWER__BODY_RECEIPT && wt == 2 && num == 2)
			pb_str(pk->code, sizeof(pk->code), data, v);
		else if (msg == TPCLEAR__ANSWER__BODY_RECEIPT && wt == 2 && num == 3)
			pb_str(pk->reason, sizeof(pk->reason), data, v);
		else if (msg == TPCLEAR__ANSWER__BODY_RESULT && wt == 0 && num == 4)
			pk->outcome = (uint32_t)v;
		else if (msg == TPCLEAR__ANSWER__BODY_RESULT && wt == 0 && num == 9)
			pk->lines = (uint32_t)v;
		else if (msg == TPCLEAR__ANSWER__BODY_RESULT && wt == 0 && num == 10)
			pk->lines_accepted = (uint32_t)v;
	}
	return 0;
}

/* Scan one packed Answer. @return 0, or -1 when it is not one. */
static int peek_answer(const uint8_t *buf, size_t len, struct answer_peek *pk)
{
	memset(pk, 0, sizeof(*pk));
	return peek(buf, buf + len, 0, pk);
}

/* Receive one whole answer into @p pk, if one is waiting; its further frames (the native
 * answer: a 920098 echoes every line) are received and released unread, never copied.
 * @return 0, 1 when none is waiting, or -1 when the socket failed or the first frame is not an
 * Answer. */
static int bench_recv(void *sock, struct answer_peek *pk)
{
	zmq_msg_t m;
	int more, rc;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return errno == EAGAIN ? 1 : -1;
	}
	rc = peek_answer(zmq_msg_data(&m), zmq_msg_size(&m), pk);
	more = zmq_msg_more(&m);
	zmq_msg_close(&m);
	while (more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			return -1;
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	return rc;
}

/* Read every answer waiting, after waiting up to @p timeout_ms for one when none is. Answers
 * are taken without a poll before each, the socket polled only when it has nothing: on this
 * host's VM, system calls and wakeups were most of the client threads' remaining CPU, and this
 * took their calls from ~18 to ~14 per sending (perf trace, closed loop). @return final
 * answers seen. */
static int drain(void *sock, struct client *c, int timeout_ms)
{
	zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
	int finals = 0;

	for (;;) {
		struct answer_peek a;
		int rc = bench_recv(sock, &a);
		uint64_t now;

		if (rc == 1) {
			if (timeout_ms <= 0 || zmq_poll(&pi, 1, timeout_ms) <= 0)
				break;
			timeout_ms = 0;
			continue;
		}
		now = now_us();
		timeout_ms = 0;
		if (rc != 0) {
			c->errors++;
			continue;
		}
		if (a.body == TPCLEAR__ANSWER__BODY_RESULT) {
			uint64_t idx = a.correlation % npayloads;
			uint32_t lines =
			    unique && payloads[idx].lines ? payloads[idx].lines : a.lines;

			c->results++;
			c->lines += lines;
			c->accepted += a.lines_accepted;
			if (a.outcome == TPCLEAR__OUTCOME__OUTCOME_REFUSED)
				c->refused++;
			record(c, now, now - (unique ? send_us[idx] : a.correlation), lines);
			c->last_answer_us = now;
			finals++;
		} else if (a.body == TPCLEAR__ANSWER__BODY_RECEIPT &&
		           a.status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
			c->busy++;
			finals++;
		} else if (a.body != TPCLEAR__ANSWER__BODY_RECEIPT ||
		           a.status != TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED) {
			if (c->errors++ == 0 && a.body == TPCLEAR__ANSWER__BODY_RECEIPT)
				fprintf(stderr, "tpcbench: refused: %s %s\n", a.code, a.reason);
			finals++;
		}
	}
	return finals;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	void *sock = zmq_socket(zctx, ZMQ_DEALER);
	int linger = 0, hwm = 100000, outstanding = 0, exhausted = 0;
	uint64_t seq = 0, start = run_start_us;
	uint64_t end = seconds > 0 ? start + (uint64_t)(seconds * 1e6) : UINT64_MAX;
	double per_client = rate / clients, next_send = (double)start;

	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	curve_setup(sock);
	if (zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "tpcbench: cannot connect %s\n", endpoint);
		exit(2);
	}
	while (!exhausted && now_us() < end) {
		if (per_client > 0) {
			/* open loop: send on schedule whatever the answers do */
			uint64_t now = now_us(), wait;

			while (!exhausted && next_send <= (double)now) {
				uint32_t lines = 1;

				if (send_one(sock, c, seq++, (uint64_t)next_send, &lines) == 0)
					outstanding++;
				else
					exhausted = 1;
				/* the next sending is due when this one's lines have had their time
				 */
				next_send += 1e6 * lines / per_client;
			}
			/* sleep until the next sending is due, rounded up to the poll's
			 * millisecond: it leaves at most 1 ms late (its latency counts from its
			 * due instant all the same), with one wakeup per sending instead of two
			 * (rounded down, the poll woke early and then slept 1 ms more) */
			wait = (uint64_t)next_send > now ? (uint64_t)next_send - now : 0;
			/* ... but not past the end: at low rates a sending is due every few
			 * hundred ms, and sleeping past the end stretched the sending phase that
			 * offered_lines_per_s divides by (2 s points offered 6 % below the rate) */
			if (end - now < wait)
				wait = end - now;
			outstanding -= drain(sock, c, (int)((wait + 999) / 1000));
		} else {
			while (outstanding < window) {
				if (send_one(sock, c, seq++, now_us(), NULL) != 0) {
					exhausted = unique && !cycle;
					break;
				}
				outstanding++;
			}
			outstanding -= drain(sock, c, 100);
		}
	}
	c->stop_send_us = now_us();
	/* collect what is still outstanding (bounded wait) */
	for (uint64_t until = now_us() + 120000000u; outstanding > 0 && now_us() < until;)
		outstanding -= drain(sock, c, 100);
	zmq_close(sock);
	atomic_fetch_add(&clients_done, 1);
	return NULL;
}

/* The probe: one small request at a time, HZ per second, each round trip timed. With
 * --probe-pack (attestations from `tpcgen pack eattest`) it is the eAttest round trip of issue 6:
 * REQUEST_EATTEST, timed from send to its durable Result (express lane, docs/formats/eattest.md);
 * each attestation is sent once and probing stops when they are used up. Without, it sends
 * REQUEST_PING, which the loop thread answers at once (no worker, no ledger): the floor of any
 * round trip through the loop thread. */
static tpc_pack_t probe_pack;
static char (*probe_keys)[64]; /* attestation numbers, the envelope keys */

struct probe {
	pthread_t thread;
	uint64_t *rtt_us;
	size_t n, cap;
	uint64_t lost, refused;
};

/* Is @p a the final answer to probe request @p seq? Counts refusals. */
static int probe_final(struct probe *pr, const Tpclear__Answer *a, uint64_t seq)
{
	if (a->correlation != seq)
		return 0;
	if (!probe_keys)
		return 1; /* ping: the receipt is the answer */
	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
	    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED)
		return 0; /* eAttest: the Result follows its receipt */
	if (a->body_case != TPCLEAR__ANSWER__BODY_RESULT || a->result->lines_accepted != 1)
		pr->refused++;
	return 1;
}

static void *probe_main(void *arg)
{
	struct probe *pr = arg;
	void *sock = zmq_socket(zctx, ZMQ_DEALER);
	int linger = 0;
	uint64_t seq = 0, next = now_us();

	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	curve_setup(sock);
	if (zmq_connect(sock, endpoint) != 0)
		return NULL;
	while (atomic_load(&clients_done) < clients) {
		zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
		uint64_t t0 = now_us(), until;
		int got = 0, rc;

		if (t0 < next) {
			usleep((useconds_t)(next - t0));
			t0 = now_us();
		}
		until = t0 + 1000000u;
		next += (uint64_t)(1e6 / probe_hz);
		if (probe_keys && seq >= probe_pack.h.sendings)
			break; /* every attestation sent */
		if (probe_keys)
			rc = tpc_client_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_EATTEST,
			                     "bench-probe", probe_keys[seq], "eattest", seq + 1,
			                     probe_pack.e[seq].data, probe_pack.e[seq].len);
		else
			rc = tpc_client_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_PING,
			                     "bench-probe", "", "", seq + 1, NULL, 0);
		if (rc != 0)
			break;
		seq++;
		while (!got && now_us() < until && zmq_poll(&pi, 1, 100) >= 0) {
			Tpclear__Answer *a;

			if (!(pi.revents & ZMQ_POLLIN))
				continue;
			a = tpc_client_recv(sock, NULL, NULL);
			if (a && probe_final(pr, a, seq)) {
				if (pr->n == pr->cap) {
					pr->cap = pr->cap ? pr->cap * 2 : 1024;
					pr->rtt_us =
					    realloc(pr->rtt_us, pr->cap * sizeof(*pr->rtt_us));
					TPC_REQUIRE(pr->rtt_us);
				}
				if (now_us() >= warm_until_us)
					pr->rtt_us[pr->n++] = now_us() - t0;
				got = 1;
			}
			if (a)
				tpclear__answer__free_unpacked(a, NULL);
		}
		if (!got)
			pr->lost++;
	}
	zmq_close(sock);
	return NULL;
}

/* Attestations for the probe: their numbers, read before the clock starts. */
static int load_probe(const char *path)
{
	if (tpc_pack_open(path, &probe_pack) != 0)
		return -1;
	if (probe_pack.h.format != TPC_PACK_EATTEST) {
		fprintf(stderr, "tpcbench: %s is not a pack of attestations\n", path);
		return -1;
	}
	probe_keys = attestation_keys(&probe_pack);
	return probe_keys ? 0 : -1;
}

/* The pack as the senders read it (stage_pack): MB copied into huge pages (or 0), and the
 * seconds staging took, before the clock. */
static double staged_mb, staged_s;
static void *staged_map;
static size_t staged_map_len;

/* Fill the page tables of [@p lo, @p hi) of the pack's mapping, so that no send() takes a
 * page fault on its first touch of a page. */
static void populate(const uint8_t *lo, const uint8_t *hi, size_t page)
{
	lo = (const uint8_t *)((uintptr_t)lo & ~(uintptr_t)(page - 1));
	if (hi <= lo)
		return;
#ifdef MADV_POPULATE_READ
	if (madvise((void *)lo, (size_t)(hi - lo), MADV_POPULATE_READ) == 0)
		return;
#endif
	/* older kernels: one read per page does the same */
	for (volatile const uint8_t *q = lo; q < hi; q += page)
		(void)*q;
}

/* Copy payloads [0, @p used) into transparent huge pages and point them there. @return 0, or
 * -1 when the kernel gave too few huge pages (4 KiB anonymous pages measured worse than the
 * page cache: the copy is then dropped). */
static int stage_huge(size_t used, size_t page)
{
	size_t huge = (size_t)2 << 20, n;
	const uint8_t *lo = (const uint8_t *)((uintptr_t)payloads[0].data & ~(uintptr_t)(page - 1));
	uint64_t huge0 = proc_field((long)getpid(), "smaps_rollup", "AnonHugePages");
	uint8_t *at;

	n = (size_t)(payloads[used - 1].data + payloads[used - 1].len - lo);
	staged_map_len = n + huge;
	staged_map =
	    mmap(NULL, staged_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (staged_map == MAP_FAILED) {
		staged_map = NULL;
		return -1;
	}
	at = (uint8_t *)(((uintptr_t)staged_map + huge - 1) & ~(uintptr_t)(huge - 1));
	madvise(at, n, MADV_HUGEPAGE);
	memcpy(at, lo, n);
	if ((proc_field((long)getpid(), "smaps_rollup", "AnonHugePages") - huge0) * 1024 < n / 2) {
		munmap(staged_map, staged_map_len);
		staged_map = NULL;
		return -1;
	}
	for (size_t i = 0; i < used; i++)
		payloads[i].data = at + (payloads[i].data - lo);
	staged_mb = (double)n / 1e6;
	return 0;
}

/* Prepare, before the clock starts, the part of the pack this run will send, so that handing
 * its bytes to send() (bench_send) costs the senders as little as it can. Measured on this
 * host (docs/benchmarks.md, "Issue 15: the senders' share"): once nothing was copied in user
 * space, the kernel's copy out of the pack's 4 KiB page-cache pages into the socket was most
 * of the senders' CPU, and each page's first touch a fault inside send(); from transparent huge
 * pages the same sends cost about a third less (the pages more than the bytes). The part: what
 * an open loop offers in its seconds, x 1.1; a closed loop, 600 k lines a second (twice this
 * host's closed loop, idle); --seconds 0, the whole pool. Its page tables are filled (up to
 * 4 GiB; beyond, a --long pack, the faults stay in the run). With --stage it is first copied
 * into huge pages, at most 1 GiB (or an eighth of the memory) of it; the copy is not free
 * (zeroing huge pages, then the bytes: 0.42-0.51 GB took 2.8-4.7 s on this host under load
 * 9-12), so bench/run stages only the two points whose senders' share the targets read.
 * Sendings past the part are read from the page cache as they come. */
static void stage_pack(void)
{
	long page = sysconf(_SC_PAGESIZE), phys = sysconf(_SC_PHYS_PAGES);
	double need = seconds <= 0 ? -1
	              : rate > 0   ? rate * seconds * 1.1
	                           : seconds * 6e5,
	       lines = 0;
	size_t want = 0, used = 0, cap;
	const uint8_t *rest, *end;
	uint64_t t0;

	if (!pack.map || !npayloads || page <= 0 || phys <= 0)
		return;
	t0 = now_us();
	cap = (size_t)phys * (size_t)page / 8;
	if (cap > (size_t)1 << 30)
		cap = (size_t)1 << 30;
	while (want < npayloads && (need < 0 || lines < need))
		lines += payloads[want++].lines;
	while (used < want &&
	       (size_t)(payloads[used].data + payloads[used].len - payloads[0].data) <= cap)
		used++;
	end = payloads[want - 1].data + payloads[want - 1].len;
	rest = payloads[0].data;
	if (stage && used && stage_huge(used, (size_t)page) == 0)
		rest = used < want ? payloads[used].data : end;
	if ((size_t)(end - rest) <= cap * 4)
		populate(rest, end, (size_t)page);
	staged_s = (double)(now_us() - t0) / 1e6;
}

/* CPU seconds of this process's ZeroMQ threads (ZMQbg/...: the I/O thread that does the
 * senders' send() and recv() calls, and the reaper), read from /proc/self/task; -1 if unknown.
 * They start with the first socket, inside the measured window. */
static double zmq_threads_cpu_s(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	double sum = -1;

	while (d && (e = readdir(d)) != NULL) {
		char path[300], comm[64] = "";
		FILE *f;
		double t;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		snprintf(path, sizeof(path), "self/task/%s", e->d_name);
		if (strncmp(comm, "ZMQbg", 5) == 0 && (t = proc_cpu_path_s(path)) >= 0)
			sum = (sum < 0 ? 0 : sum) + t;
	}
	if (d)
		closedir(d);
	return sum;
}

/* The senders' own CPU over the run (every thread of this process: clients, probe, ZeroMQ's):
 * they share the machine with the daemon, so what they burn is taken from it. */
static void print_senders_cpu(const struct rusage *r0, const struct rusage *r1, double wall,
                              uint64_t lines)
{
	double s = (double)(r1->ru_utime.tv_sec - r0->ru_utime.tv_sec) +
	           (double)(r1->ru_stime.tv_sec - r0->ru_stime.tv_sec) +
	           (double)(r1->ru_utime.tv_usec - r0->ru_utime.tv_usec) / 1e6 +
	           (double)(r1->ru_stime.tv_usec - r0->ru_stime.tv_usec) / 1e6;
	double io = zmq_threads_cpu_s();

	printf("client_cpu_cores=%.2f\nclient_cpu_s=%.3f\nclient_cpu_us_per_line=%.3f\n",
	       wall > 0 ? s / wall : 0.0, s, lines ? s * 1e6 / (double)lines : 0.0);
	if (io >= 0)
		printf("client_zmq_cpu_s=%.3f\n", io);
	printf("pack_staged_mb=%.0f\npack_staged_seconds=%.2f\n", staged_mb, staged_s);
}

/* The offered period and what was answered in it. lines_per_s counts every Result up to the
 * last one, drain included: under overload the engine then clears its queue with nothing new
 * arriving, and that tail is not the load asked for. window_lines_per_s counts the lines of the
 * Results that came while the load was offered, over the offered period: from the start to the end
 * of --seconds, or to the moment a sender found the pool used up (then pool_ran_out=1: the point
 * offered less than asked from there on); with --seconds 0, to the last sending. Sendings answered
 * busy are not lines answered. bench/run's overload ratio is this figure at 2 x the closed-loop
 * maximum over that maximum (docs/benchmarks.md). */
static void print_offered_period(const struct client *cs, uint64_t t0, uint64_t t_sent)
{
	uint64_t end = seconds > 0 ? t0 + (uint64_t)(seconds * 1e6) : t_sent, lines = 0;
	int ran_out = 0;

	for (int i = 0; i < clients; i++)
		if (seconds > 0 && cs[i].ran_out) {
			ran_out = 1;
			if (cs[i].stop_send_us < end)
				end = cs[i].stop_send_us;
		}
	for (int i = 0; i < clients; i++)
		for (size_t k = 0; k < cs[i].nat; k++)
			if (cs[i].at_us[k] <= end)
				lines += cs[i].at_lines[k];
	printf("window_seconds=%.3f\nwindow_lines=%" PRIu64 "\nwindow_lines_per_s=%.0f\n"
	       "pool_ran_out=%d\n",
	       end > t0 ? (double)(end - t0) / 1e6 : 0.0, lines,
	       end > t0 ? (double)lines * 1e6 / (double)(end - t0) : 0.0, ran_out);
}

static int run_engine(void)
{
	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	struct probe pr;
	uint64_t sent = 0, sent_lines = 0, results = 0, lines = 0, accepted = 0, busy = 0;
	uint64_t errors = 0, refused = 0, t0, t_last = 0, t_sent = 0;
	uint64_t commits0 = 0, commits1 = 0, stored0 = 0, stored1 = 0;
	struct stage_mark mark;
	struct stages stages1 = {{0}, {0}};
	uint64_t wchar0 = 0, wchar1 = 0, wbytes0 = 0, wbytes1 = 0;
	uint64_t *all, *all1k;
	size_t nall = 0, n1k = 0;
	double cpu0 = -1, cpu1 = -1, wall, send_wall;
	struct rusage ru0, ru1;

	TPC_REQUIRE(cs);
	if (warmup < 0 || (seconds > 0 && warmup >= seconds)) {
		fprintf(stderr, "tpcbench: --warmup %.3f: from 0 to under --seconds\n", warmup);
		free(cs);
		return 2;
	}
	memset(&pr, 0, sizeof(pr));
	if (unique) {
		send_us = calloc(npayloads, sizeof(*send_us));
		TPC_REQUIRE(send_us);
	}
	stage_pack();
	zctx = zmq_ctx_new();
	if (daemon_pid) {
		cpu0 = proc_cpu_s(daemon_pid);
		wchar0 = proc_io(daemon_pid, "wchar");
		wbytes0 = proc_io(daemon_pid, "write_bytes");
	}
	scrape(http_addr, "tpclear_ledger_commits_total", &commits0);
	scrape(http_addr, "tpclear_ledger_sendings_committed_total", &stored0);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = run_start_us = now_us();
	warm_until_us = t0 + (uint64_t)(warmup * 1e6);
	mark = (struct stage_mark){.addr = http_addr, .at_us = warm_until_us};
	if (http_addr)
		pthread_create(&mark.thread, NULL, stage_mark_main, &mark);
	for (int i = 0; i < clients; i++) {
		cs[i].id = i;
		pthread_create(&cs[i].thread, NULL, client_main, &cs[i]);
	}
	if (probe_hz > 0)
		pthread_create(&pr.thread, NULL, probe_main, &pr);
	for (int i = 0; i < clients; i++)
		pthread_join(cs[i].thread, NULL);
	if (probe_hz > 0)
		pthread_join(pr.thread, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	if (daemon_pid) {
		cpu1 = proc_cpu_s(daemon_pid);
		wchar1 = proc_io(daemon_pid, "wchar");
		wbytes1 = proc_io(daemon_pid, "write_bytes");
	}
	scrape(http_addr, "tpclear_ledger_commits_total", &commits1);
	scrape(http_addr, "tpclear_ledger_sendings_committed_total", &stored1);
	if (http_addr) {
		pthread_join(mark.thread, NULL);
		scrape_stages(http_addr, &stages1);
	}
	for (int i = 0; i < clients; i++) {
		sent += cs[i].sent;
		sent_lines += cs[i].sent_lines;
		results += cs[i].results;
		lines += cs[i].lines;
		accepted += cs[i].accepted;
		busy += cs[i].busy;
		errors += cs[i].errors;
		refused += cs[i].refused;
		nall += cs[i].nlat;
		n1k += cs[i].n1k;
		if (cs[i].stop_send_us > t_sent)
			t_sent = cs[i].stop_send_us;
		if (cs[i].last_answer_us > t_last)
			t_last = cs[i].last_answer_us;
	}
	all = malloc((nall ? nall : 1) * sizeof(*all));
	all1k = malloc((n1k ? n1k : 1) * sizeof(*all1k));
	TPC_REQUIRE(all && all1k);
	nall = n1k = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + nall, cs[i].lat_us, cs[i].nlat * sizeof(*all));
		memcpy(all1k + n1k, cs[i].lat1k_us, cs[i].n1k * sizeof(*all1k));
		nall += cs[i].nlat;
		n1k += cs[i].n1k;
		free(cs[i].lat_us);
		free(cs[i].lat1k_us);
	}
	print_offered_period(cs, t0, t_sent);
	for (int i = 0; i < clients; i++) {
		free(cs[i].at_us);
		free(cs[i].at_lines);
	}
	/* throughput: lines answered from the start to the later of the end of the sending phase
	 * (time up or pool used) and the last answer; offered load: lines sent over the sending
	 * phase. The same start and, while the engine keeps up, about the same end. */
	send_wall = (double)((t_sent > t0 ? t_sent : now_us()) - t0) / 1e6;
	wall = (double)((t_last > t_sent ? t_last : t_sent > t0 ? t_sent : now_us()) - t0) / 1e6;
	printf("mode=engine\nloop=%s\nclients=%d\nwindow=%d\nformat=%s\n",
	       rate > 0 ? "open" : "closed", clients, rate > 0 ? 0 : window,
	       format ? format : "auto");
	printf("offered_lines_per_s=%.0f\nsend_seconds=%.3f\nseconds=%.3f\n",
	       rate > 0 && send_wall > 0 ? (double)sent_lines / send_wall : 0.0, send_wall, wall);
	printf("sent=%" PRIu64 "\nsent_lines=%" PRIu64 "\nresults=%" PRIu64 "\nlines=%" PRIu64
	       "\naccepted_lines=%" PRIu64 "\nrefused=%" PRIu64 "\nbusy=%" PRIu64
	       "\nerrors=%" PRIu64 "\n",
	       sent, sent_lines, results, lines, accepted, refused, busy, errors);
	printf("sendings_per_s=%.1f\nlines_per_s=%.0f\naccepted_lines_per_s=%.0f\n",
	       (double)results / wall, (double)lines / wall, (double)accepted / wall);
	{
		uint64_t warm = 0;

		for (int i = 0; i < clients; i++)
			warm += cs[i].warm;
		printf("warmup_seconds=%.1f\nwarmup_results=%" PRIu64 "\n", warmup, warm);
	}
	print_latency("latency", all, nall);
	print_latency("lat1k", all1k, n1k);
	if (probe_hz > 0) {
		printf("probe_kind=%s\nprobe_lost=%" PRIu64 "\nprobe_refused=%" PRIu64 "\n",
		       probe_keys ? "eattest" : "ping", pr.lost, pr.refused);
		print_latency("probe", pr.rtt_us, pr.n);
	}
	if (cpu0 >= 0 && cpu1 >= 0) {
		printf("daemon_cpu_s=%.2f\ndaemon_cpu_cores=%.2f\ncpu_us_per_line=%.2f\n",
		       cpu1 - cpu0, (cpu1 - cpu0) / wall,
		       lines ? (cpu1 - cpu0) * 1e6 / (double)lines : 0.0);
		printf("daemon_vmhwm_kb=%" PRIu64 "\ndaemon_vmrss_kb=%" PRIu64 "\n",
		       proc_status_kb(daemon_pid, "VmHWM"), proc_status_kb(daemon_pid, "VmRSS"));
		/* what the resident set is made of at the end: the daemon's own memory (anonymous)
		 * and the ledger's pages it touched through LMDB's map (file pages: the page cache,
		 * which the kernel takes back under pressure), which VmHWM counts together */
		printf("daemon_rss_anon_kb=%" PRIu64 "\ndaemon_rss_file_kb=%" PRIu64 "\n",
		       proc_status_kb(daemon_pid, "RssAnon"),
		       proc_status_kb(daemon_pid, "RssFile"));
		/* write amplification: what the process wrote (sockets included in wchar) and
		 * what reached the disk, per line */
		printf("daemon_wchar_per_line=%.0f\ndaemon_disk_bytes_per_line=%.0f\n",
		       lines ? (double)(wchar1 - wchar0) / (double)lines : 0.0,
		       lines ? (double)(wbytes1 - wbytes0) / (double)lines : 0.0);
	}
	if (http_addr && commits1 > commits0)
		printf("ledger_commits=%" PRIu64 "\nsendings_per_commit=%.2f\n",
		       commits1 - commits0,
		       (double)(stored1 - stored0) / (double)(commits1 - commits0));
	if (http_addr)
		print_stages(&mark.s, &stages1);
	print_senders_cpu(&ru0, &ru1, wall, lines);
	printf("payloads_used=%" PRIu64 "\n",
	       unique && !cycle && atomic_load(&next_payload) > npayloads ? (uint64_t)npayloads
	       : unique ? (uint64_t)atomic_load(&next_payload)
	                : (uint64_t)sent);
	free(pr.rtt_us);
	free(all);
	free(all1k);
	free(cs);
	free(send_us);
	if (staged_map)
		munmap(staged_map, staged_map_len);
	zmq_ctx_term(zctx);
	return errors ? 1 : 0;
}

/* ---- echo: the transport ceiling ---------------------------------------------------------- */

static volatile sig_atomic_t echo_stop;

static void on_term(int sig)
{
	(void)sig;
	echo_stop = 1;
}

/* Frame [identity][packed Answer] (+ [native]) out of @p router. */
static int echo_send(void *router, zmq_msg_t *id, const uint8_t *ans, size_t n, zmq_msg_t *native)
{
	zmq_msg_t idc;

	zmq_msg_init(&idc);
	zmq_msg_copy(&idc, id);
	if (zmq_msg_send(&idc, router, ZMQ_SNDMORE) < 0) {
		zmq_msg_close(&idc);
		return -1;
	}
	if (zmq_send(router, ans, n, native ? ZMQ_SNDMORE : 0) < 0)
		return -1;
	return native && zmq_msg_send(native, router, 0) < 0 ? -1 : 0;
}

static int run_echo(const char *endpoint_file)
{
	void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
	int hwm = 10000, linger = 0, tick_ms = 200;
	char bound[256];
	size_t blen = sizeof(bound);
	uint8_t buf[256];
	uint64_t answered = 0;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* the daemon's socket options (config/tpcleard.ini [intake]) */
	zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof(linger));
	/* SIGTERM may land on one of ZeroMQ's own threads, leaving a blocking receive here
	 * uninterrupted (bench/run then waited for ever): wake up to look at the flag */
	zmq_setsockopt(router, ZMQ_RCVTIMEO, &tick_ms, sizeof(tick_ms));
	if (zmq_bind(router, endpoint) != 0 ||
	    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound, &blen) != 0) {
		fprintf(stderr, "tpcbench: cannot bind %s: %s\n", endpoint, zmq_strerror(errno));
		return 2;
	}
	if (endpoint_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", endpoint_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%s\n", bound) < 0 || fclose(f) != 0 ||
		    rename(tmp, endpoint_file) != 0)
			return 2;
	}
	while (!echo_stop) {
		zmq_msg_t id, env, body;
		Tpclear__Envelope *e;
		Tpclear__Answer a = TPCLEAR__ANSWER__INIT;
		Tpclear__Receipt rc = TPCLEAR__RECEIPT__INIT;
		Tpclear__Result res = TPCLEAR__RESULT__INIT;
		int more;

		zmq_msg_init(&id);
		zmq_msg_init(&env);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&id, router, 0) < 0 || zmq_msg_recv(&env, router, 0) < 0)
			goto next;
		more = zmq_msg_more(&env);
		if (more && zmq_msg_recv(&body, router, 0) < 0)
			goto next;
		/* drop any further frames */
		while (zmq_msg_more(&body)) {
			zmq_msg_t x;

			zmq_msg_init(&x);
			zmq_msg_recv(&x, router, 0);
			zmq_msg_close(&x);
		}
		e = tpclear__envelope__unpack(NULL, zmq_msg_size(&env), zmq_msg_data(&env));
		a.version = 1;
		a.correlation = e ? e->correlation : 0;
		a.body_case = TPCLEAR__ANSWER__BODY_RECEIPT;
		a.receipt = &rc;
		rc.status = TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED;
		echo_send(router, &id, buf, tpclear__answer__pack(&a, buf), NULL);
		if (e && e->type == TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT) {
			a.body_case = TPCLEAR__ANSWER__BODY_RESULT;
			a.result = &res;
			res.sender = e->sender;
			res.key = e->key;
			res.format = e->format;
			res.outcome = TPCLEAR__OUTCOME__OUTCOME_ACCEPTED;
			res.native_type = "echo";
			/* the payload goes back as the native frame: as many bytes as a 920098
			 * holds for the lines, without building it */
			if (tpclear__answer__get_packed_size(&a) <= sizeof(buf))
				echo_send(router, &id, buf, tpclear__answer__pack(&a, buf), &body);
			answered++;
		}
		tpclear__envelope__free_unpacked(e, NULL);
	next:
		zmq_msg_close(&id);
		zmq_msg_close(&env);
		zmq_msg_close(&body);
	}
	fprintf(stderr, "tpcbench echo: %" PRIu64 " sendings answered\n", answered);
	zmq_close(router);
	zmq_ctx_term(ctx);
	return 0;
}

/* ---- ceiling: the worker's code in process, then the writer alone ------------------------- */

struct bench_ledger {
	tpc_config_t cfg;
	tpc_adapters_t *ad;
	tpc_metrics_t *m;
	tpc_metrics_shard_t *shard;
	tpc_writer_t *l;
	tpc_store_reader_t *reader;
	tpc_queue_t *in, *done;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static tpc_job_t *job_new(void)
{
	tpc_job_t *j = calloc(1, sizeof(*j));

	if (!j || tpc_arena_new(1 << 20, 0, &j->arena) != 0) {
		free(j);
		return NULL;
	}
	zmq_msg_init(&j->payload);
	return j;
}

static void job_free(tpc_job_t *j)
{
	if (!j)
		return;
	zmq_msg_close(&j->payload);
	tpc_arena_free(&j->arena);
	free(j);
}

/* Make @p j a fresh submission of payload @p p under key "c<n>" (the payload is wrapped, not
 * copied: the worker reads it in place). */
static int job_prepare(struct bench_ledger *b, tpc_job_t *j, const struct payload *p, uint64_t n)
{
	tpc_arena_t *arena = j->arena;

	zmq_msg_close(&j->payload);
	tpc_arena_reset(arena);
	memset(j, 0, sizeof(*j));
	j->arena = arena;
	j->type = TPC_JOB_SUBMIT;
	snprintf(j->sender, sizeof(j->sender), "bench");
	snprintf(j->key, sizeof(j->key), "c%" PRIu64, n);
	j->received_ms = wall_ms();
	j->adapter = tpc_adapters_find(b->ad, format_of(p), &j->adapter_state);
	if (!j->adapter)
		return -1;
	return zmq_msg_init_data(&j->payload, (void *)p->data, p->len, NULL, NULL);
}

/* Push @p j to the writer and wait until it comes back. */
static int writer_roundtrip(struct bench_ledger *b, tpc_job_t *j)
{
	tpc_qnode_t *n;

	if (tpc_queue_push(b->in, &j->node) != 0 || tpc_queue_pop(b->done, &n) != 0)
		return -1;
	return tpc_job_of(n) == j ? 0 : -1;
}

static int bench_ledger_open(struct bench_ledger *b, const char *data_dir, const char *refdata)
{
	uint64_t t0;
	int rc;

	memset(b, 0, sizeof(*b));
	tpc_config_defaults(&b->cfg); /* the daemon's defaults: sync = full */
	snprintf(b->cfg.data_dir, sizeof(b->cfg.data_dir), "%s", data_dir);
	if (map_size)
		b->cfg.map_size = map_size;
	if (sodium_init() < 0 ||
	    tpc_adapters_new(&(tpc_adapter_config_t){tpc_config_adapter_lookup, &b->cfg}, &b->ad) ||
	    tpc_metrics_new(4, &b->m))
		return -1;
	b->shard = tpc_metrics_shard(b->m);
	if ((rc = tpc_writer_open(&b->cfg, b->m, &b->l)) ||
	    (rc = tpc_store_reader_new(tpc_writer_store(b->l), &b->reader)) ||
	    (rc = tpc_queue_new(0, 0, &b->in)) || (rc = tpc_queue_new(0, 0, &b->done)) ||
	    (rc = tpc_writer_start(b->l, b->in, b->done))) {
		fprintf(stderr, "tpcbench: ledger in %s: %s\n", data_dir, tpc_strerror(rc));
		return -1;
	}
	if (!refdata)
		return 0;
	/* reference data the way `tpclear load` sends it: parsed by the worker, written by the
	 * writer */
	t0 = now_us();
	for (int k = 0; k < TPC_REF__COUNT; k++) {
		const char *kind = tpc_refdata_kind_name((enum tpc_ref_kind)k);
		char path[4096];
		tpc_job_t *j = job_new();
		FILE *f;
		long n;
		void *buf;

		snprintf(path, sizeof(path), "%s/%s.csv", refdata, kind);
		if (access(path, F_OK) != 0) {
			job_free(
			    j); /* kinds without a file stay empty, as in a daemon never fed them */
			continue;
		}
		f = fopen(path, "rb");
		if (!j || !f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) || zmq_msg_init_size(&j->payload, (size_t)n) ||
		    fread((buf = zmq_msg_data(&j->payload)), 1, (size_t)n, f) != (size_t)n) {
			fprintf(stderr, "tpcbench: cannot read %s\n", path);
			return -1;
		}
		fclose(f);
		j->type = TPC_JOB_LOAD;
		j->table.kind = (enum tpc_ref_kind)k;
		j->load_force = 1; /* a fresh ledger; tpcgen writes agreements.csv empty */
		snprintf(j->key, sizeof(j->key), "%s.csv", kind);
		if (tpc_worker_process(b->reader, b->shard, &b->cfg, j) != 0 ||
		    writer_roundtrip(b, j) != 0 || j->status != TPC_JOB_COMMITTED) {
			fprintf(stderr, "tpcbench: load %s refused: %s\n", path,
			        j->fail_reason ? j->fail_reason : "?");
			return -1;
		}
		job_free(j);
	}
	printf("refdata_load_s=%.3f\n", (double)(now_us() - t0) / 1e6);
	return 0;
}

static void bench_ledger_close(struct bench_ledger *b)
{
	if (b->in)
		tpc_queue_close(b->in);
	tpc_writer_join(b->l);
	tpc_store_reader_free(&b->reader);
	tpc_writer_free(&b->l);
	tpc_queue_free(&b->in);
	tpc_queue_free(&b->done);
	tpc_metrics_free(&b->m);
	tpc_adapters_free(&b->ad);
}

static off_t file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The worker's path on this thread for `seconds`, payloads cycled; @p reader NULL: no tariff,
 * no ledger. */
static int phase_worker(struct bench_ledger *b, const char *name, tpc_store_reader_t *reader)
{
	tpc_job_t *j = job_new();
	uint64_t n = 0, lines = 0, accepted = 0, t0, t1, end;

	if (!j)
		return -1;
	t0 = now_us();
	end = t0 + (uint64_t)(seconds * 1e6);
	do {
		if (job_prepare(b, j, &payloads[n % npayloads], n) != 0)
			return -1;
		tpc_worker_process(reader, b->shard, &b->cfg, j);
		if (j->status != TPC_JOB_CLEARED) {
			fprintf(stderr, "tpcbench: %s: sending %" PRIu64 " not cleared (%s)\n",
			        name, n % npayloads, j->fail_code ? j->fail_code : "?");
			return -1;
		}
		lines += j->sending.nlines;
		accepted += j->lines_accepted;
		n++;
	} while ((t1 = now_us()) < end && (!max_sendings || n < max_sendings));
	printf("%s_seconds=%.3f\n%s_sendings=%" PRIu64 "\n%s_lines=%" PRIu64
	       "\n%s_lines_per_s=%.0f\n%s_ns_per_line=%.1f\n%s_accepted_share=%.4f\n",
	       name, (double)(t1 - t0) / 1e6, name, n, name, lines, name,
	       (double)lines / ((double)(t1 - t0) / 1e6), name,
	       lines ? (double)(t1 - t0) * 1e3 / (double)lines : 0.0, name,
	       lines ? (double)accepted / (double)lines : 0.0);
	job_free(j);
	return 0;
}

/* Judge a batch (not timed), then commit it through the writer (timed), until `seconds` of
 * writing or the end of the pool. Each payload once: every line is new to the ledger. */
static int phase_ledger(struct bench_ledger *b)
{
	enum { MAX_BATCH = 256 };
	tpc_job_t *jobs[MAX_BATCH] = {0};
	uint64_t judge_us = 0, write_us = 0, lines = 0, sendings = 0, commits0, t;
	off_t size0 = file_size(b->cfg.data_dir, "data.mdb");
	/* the writer's page writes: every dirty page of a commit is one 4 KiB pwrite (wchar),
	 * what reaches the disk is write_bytes; per line they say how many pages a line dirties */
	uint64_t wchar0 = proc_io((long)getpid(), "wchar");
	uint64_t wbytes0 = proc_io((long)getpid(), "write_bytes");
	size_t next = 0;
	int rc = -1;

	commits0 = tpc_metrics_get(b->m, TPC_M_ledger_commits);
	while (next < npayloads && (double)write_us < seconds * 1e6) {
		size_t nb = 0, blines = 0;

		t = now_us();
		while (nb < MAX_BATCH && blines < batch_lines && next < npayloads) {
			tpc_job_t *j = jobs[nb] ? jobs[nb] : (jobs[nb] = job_new());

			if (!j || job_prepare(b, j, &payloads[next], next) != 0)
				goto out_free;
			if (tpc_worker_process(b->reader, b->shard, &b->cfg, j) != 0) {
				fprintf(stderr, "tpcbench: ledger: sending %zu not cleared (%s)\n",
				        next, j->fail_code ? j->fail_code : "?");
				goto out_free;
			}
			blines += j->sending.nlines;
			next++;
			nb++;
		}
		judge_us += now_us() - t;
		t = now_us();
		for (size_t i = 0; i < nb; i++)
			if (tpc_queue_push(b->in, &jobs[i]->node) != 0)
				goto out_free;
		for (size_t i = 0; i < nb; i++) {
			tpc_qnode_t *n;

			if (tpc_queue_pop(b->done, &n) != 0)
				goto out_free;
			if (tpc_job_of(n)->status != TPC_JOB_COMMITTED) {
				fprintf(stderr, "tpcbench: ledger: not committed (%s)\n",
				        tpc_job_of(n)->fail_code ? tpc_job_of(n)->fail_code : "?");
				goto out_free;
			}
		}
		write_us += now_us() - t;
		lines += blines;
		sendings += nb;
	}
	printf("ledger_seconds=%.3f\nledger_sendings=%" PRIu64 "\nledger_lines=%" PRIu64
	       "\nledger_lines_per_s=%.0f\nledger_sendings_per_s=%.1f\nledger_commits=%" PRIu64
	       "\nledger_bytes_per_line=%.0f\njudge_growing_lines_per_s=%.0f\n",
	       (double)write_us / 1e6, sendings, lines, (double)lines / ((double)write_us / 1e6),
	       (double)sendings / ((double)write_us / 1e6),
	       tpc_metrics_get(b->m, TPC_M_ledger_commits) - commits0,
	       lines ? (double)(file_size(b->cfg.data_dir, "data.mdb") - size0) / (double)lines
	             : 0.0,
	       (double)lines / ((double)judge_us / 1e6));
	printf("ledger_wchar_per_line=%.0f\nledger_disk_bytes_per_line=%.0f\n",
	       lines ? (double)(proc_io((long)getpid(), "wchar") - wchar0) / (double)lines : 0.0,
	       lines ? (double)(proc_io((long)getpid(), "write_bytes") - wbytes0) / (double)lines
	             : 0.0);
	rc = 0;
out_free:
	for (size_t i = 0; i < MAX_BATCH; i++)
		job_free(jobs[i]);
	return rc;
}

static int run_ceiling(const char *refdata, const char *data_dir, const char *phases)
{
	struct bench_ledger b;
	int rc = 0;

	if (!phases)
		phases = "decode,tariff,ledger";
	if (!data_dir || ((strstr(phases, "tariff") || strstr(phases, "ledger")) && !refdata)) {
		fprintf(
		    stderr,
		    "tpcbench: ceiling needs --data-dir, and --refdata for tariff and ledger\n");
		return 2;
	}
	if (bench_ledger_open(&b, data_dir, refdata) != 0)
		return 2;
	printf("mode=ceiling\nformat=%s\npayloads=%zu\n", format ? format : "auto", npayloads);
	if (strstr(phases, "decode"))
		rc |= phase_worker(&b, "decode", NULL);
	if (strstr(phases, "tariff"))
		rc |= phase_worker(&b, "tariff", b.reader);
	if (strstr(phases, "ledger"))
		rc |= phase_ledger(&b);
	bench_ledger_close(&b);
	return rc ? 1 : 0;
}

/* ---- sample files ------------------------------------------------------------------------- */

/* make-canonical|make-efact SEED INVOICES LINES FILE: a sending that clears against
 * config/refdata */
static int make_sample(int efact, int argc, char **argv)
{
	size_t len;
	uint8_t *p;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr,
		        "usage: tpcbench make-canonical|make-efact SEED INVOICES LINES FILE\n");
		return 2;
	}
	p = (efact ? tpc_efact_sample : tpc_canonical_sample)((unsigned)atoi(argv[0]), 0,
	                                                      atoi(argv[1]), atoi(argv[2]), &len);
	f = fopen(argv[3], "wb");
	if (!p || !f || fwrite(p, 1, len, f) != len) {
		fprintf(stderr, "tpcbench: cannot write %s\n", argv[3]);
		return 1;
	}
	fclose(f);
	free(p);
	return 0;
}

/* make-faults REFERENCE FILE: the eFact acceptance sending (gen/efact_gen.h) */
static int make_faults(int argc, char **argv)
{
	size_t len;
	uint8_t *p;
	FILE *f;

	if (argc != 2 || strlen(argv[0]) != 14) {
		fprintf(stderr, "usage: tpcbench make-faults REFERENCE(14 digits) FILE\n");
		return 2;
	}
	p = tpc_efact_faults_sample(argv[0], &len);
	f = fopen(argv[1], "wb");
	if (!p || !f || fwrite(p, 1, len, f) != len) {
		fprintf(stderr, "tpcbench: cannot write %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	free(p);
	return 0;
}

/* make-members N FILE: a members.csv of the N generated patients (tpc_sample_patient) */
static int make_members(int argc, char **argv)
{
	FILE *f;
	int n;

	if (argc != 2 || (n = atoi(argv[0])) <= 0) {
		fprintf(stderr, "usage: tpcbench make-members N FILE\n");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "niss,valid_from,valid_to,ct1,ct2,iban\n");
	for (int k = 0; k < n; k++) {
		char niss[12];
		int bim = k % 5 == 0;

		tpc_check_make_niss((uint32_t)k, niss);
		fprintf(f, "%s,2020-01-01,,%s,%s,\n", niss, bim ? "111" : "110",
		        bim ? "111" : "110");
	}
	return fclose(f) == 0 ? 0 : 1;
}

/* ---- dsync: the disk's own durable-write latency ------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The floor under every durable answer: N writes of 4 KiB, each O_DSYNC (the write returns
 * once the block is on stable storage), to a file in DIR - the ledger's directory, so the same
 * device and file system. Rewriting the same 64 blocks keeps the file's size (and so its
 * metadata) unchanged after the first pass, as a commit's data pages do; the first pass, which
 * allocates, is not timed. Prints p50, p99 and the mean in ms. */
static int run_dsync(const char *dir, int n)
{
	char path[4096];
	static char block[4096];
	double *ms = calloc((size_t)n, sizeof(*ms)), sum = 0;
	int fd, rc = 1;

	snprintf(path, sizeof(path), "%s/tpcbench-dsync.%ld", dir, (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC, 0600);
	if (fd < 0 || !ms) {
		fprintf(stderr, "tpcbench dsync: cannot open %s: %s\n", path, strerror(errno));
		goto out;
	}
	memset(block, 0x5a, sizeof(block));
	for (int i = 0; i < 64; i++)
		if (pwrite(fd, block, sizeof(block), (off_t)i * 4096) != (ssize_t)sizeof(block))
			goto out_write;
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_us();

		if (pwrite(fd, block, sizeof(block), (off_t)(i % 64) * 4096) !=
		    (ssize_t)sizeof(block))
			goto out_write;
		ms[i] = (double)(now_us() - t0) / 1000.0;
		sum += ms[i];
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("dsync_writes=%d\ndsync_p50_ms=%.3f\ndsync_p99_ms=%.3f\ndsync_mean_ms=%.3f\n", n,
	       ms[n / 2], ms[(size_t)((double)n * 0.99)], sum / n);
	rc = 0;
	goto out;
out_write:
	fprintf(stderr, "tpcbench dsync: write to %s: %s\n", path, strerror(errno));
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(ms);
	return rc;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"endpoint", required_argument, NULL, 'e'},
	    {"clients", required_argument, NULL, 'c'},
	    {"window", required_argument, NULL, 'w'},
	    {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'W'},
	    {"rate", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'f'},
	    {"key-prefix", required_argument, NULL, 'k'},
	    {"make", required_argument, NULL, 'm'},
	    {"pool", required_argument, NULL, 'p'},
	    {"seed", required_argument, NULL, 'S'},
	    {"patients", required_argument, NULL, 'P'},
	    {"pack", required_argument, NULL, 'K'},
	    {"from", required_argument, NULL, 'F'},
	    {"lines", required_argument, NULL, 'L'},
	    {"probe", required_argument, NULL, 'b'},
	    {"pid", required_argument, NULL, 'i'},
	    {"http", required_argument, NULL, 'H'},
	    {"refdata", required_argument, NULL, 'R'},
	    {"data-dir", required_argument, NULL, 'D'},
	    {"phases", required_argument, NULL, 'x'},
	    {"endpoint-file", required_argument, NULL, 'E'},
	    {"cycle", no_argument, NULL, 'y'},
	    {"stage", no_argument, NULL, 'g'},
	    {"batch-lines", required_argument, NULL, 'B'},
	    {"sendings", required_argument, NULL, 'N'},
	    {"map-size", required_argument, NULL, 'M'},
	    {"probe-pack", required_argument, NULL, 'Q'},
	    {"server-key", required_argument, NULL, 'V'},
	    {"client-key", required_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	const char *mode, *pack_path = NULL, *refdata = NULL, *data_dir = NULL, *phases = NULL;
	const char *endpoint_file = NULL, *probe_path = NULL;
	int c, make_inv = 0, make_lines = 0, pool = 1000, patients = 0;
	uint64_t from = 0, want_lines = 0;
	long seed_base = 0;

	if (argc < 2) {
		fprintf(stderr,
		        "usage: tpcbench engine|echo|ceiling|dsync|make-* [options] [FILE...]\n");
		return 2;
	}
	mode = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'V': {
			char why[256];

			if (tpc_keys_read_public(optarg, curve_server, why, sizeof(why)) != 0) {
				fprintf(stderr, "tpcbench: --server-key: %s\n", why);
				return 2;
			}
			curve_on = 1;
			break;
		}
		case 'C': {
			char why[256], path[1024];
			size_t n = strlen(optarg);

			snprintf(path, sizeof(path), "%s%s", optarg,
			         n > 4 && strcmp(optarg + n - 4, ".key") == 0 ? "" : ".key");
			if (tpc_keys_read_secret(path, 0, &curve_client, why, sizeof(why)) != 0) {
				fprintf(stderr, "tpcbench: --client-key: %s\n", why);
				return 2;
			}
			break;
		}
		case 'c':
			clients = atoi(optarg);
			break;
		case 'w':
			window = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'W':
			warmup = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'f':
			format = optarg;
			break;
		case 'k':
			key_prefix = optarg;
			break;
		case 'm':
			if (sscanf(optarg, "%d:%d", &make_inv, &make_lines) != 2)
				return 2;
			break;
		case 'p':
			pool = atoi(optarg);
			break;
		case 'S':
			seed_base = atol(optarg);
			break;
		case 'P':
			patients = atoi(optarg);
			break;
		case 'K':
			pack_path = optarg;
			break;
		case 'F':
			from = strtoull(optarg, NULL, 10);
			break;
		case 'L':
			want_lines = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			probe_hz = atof(optarg);
			break;
		case 'i':
			daemon_pid = atol(optarg);
			break;
		case 'H':
			http_addr = optarg;
			break;
		case 'R':
			refdata = optarg;
			break;
		case 'D':
			data_dir = optarg;
			break;
		case 'x':
			phases = optarg;
			break;
		case 'E':
			endpoint_file = optarg;
			break;
		case 'g':
			stage = 1;
			break;
		case 'y':
			cycle = 1;
			break;
		case 'B':
			batch_lines = strtoull(optarg, NULL, 10);
			break;
		case 'N':
			max_sendings = strtoull(optarg, NULL, 10);
			break;
		case 'M':
			map_size = strtoull(optarg, NULL, 10) << 20;
			break;
		case 'Q':
			probe_path = optarg;
			break;
		default:
			return 2;
		}
	}
	if (strcmp(mode, "make-members") == 0)
		return make_members(argc - optind, argv + optind);
	if (strcmp(mode, "make-faults") == 0)
		return make_faults(argc - optind, argv + optind);
	if (strncmp(mode, "make-", 5) == 0)
		return make_sample(strcmp(mode, "make-efact") == 0, argc - optind, argv + optind);
	if (strcmp(mode, "dsync") == 0)
		return run_dsync(data_dir ? data_dir : ".", want_lines ? (int)want_lines : 300);
	if (strcmp(mode, "echo") == 0) {
		if (strcmp(endpoint, "tcp://127.0.0.1:5570") == 0)
			endpoint = "tcp://127.0.0.1:*";
		return run_echo(endpoint_file);
	}
	for (int i = optind; i < argc; i++)
		load_file(argv[i]);
	if (pack_path) {
		if (use_pack(pack_path, from, want_lines) != 0)
			return 2;
		unique = 1;
	} else if (make_inv > 0 && make_lines > 0) {
		/* a pool of distinct sendings, generated before the clock starts */
		unsigned base = seed_base ? (unsigned)seed_base : (unsigned)time(NULL);
		int efact = format && strcmp(format, "efact") == 0;

		payloads = calloc((size_t)pool, sizeof(*payloads));
		for (int i = 0; payloads && i < pool; i++) {
			size_t len;
			uint8_t *p = (efact ? tpc_efact_sample : tpc_canonical_sample)(
			    base + (unsigned)i, (unsigned)patients, make_inv, make_lines, &len);

			if (!p)
				return 2;
			payloads[i] = (struct payload){p, len, (uint32_t)(make_inv * make_lines)};
		}
		npayloads = (size_t)pool;
		unique = 1;
	}
	if (!npayloads) {
		fprintf(stderr, "tpcbench: no payloads (--pack, --make or files)\n");
		return 2;
	}
	if (!key_prefix) {
		snprintf(key_prefix_buf, sizeof(key_prefix_buf), "bench-%ld-%ld", (long)getpid(),
		         (long)time(NULL));
		key_prefix = key_prefix_buf;
	}
	if (clients < 1)
		clients = 1;
	if (window < 1)
		window = 1;
	if (probe_path && load_probe(probe_path) != 0)
		return 2;
	if (strcmp(mode, "engine") == 0)
		return run_engine();
	if (strcmp(mode, "ceiling") == 0)
		return run_ceiling(refdata, data_dir, phases);
	fprintf(stderr, "tpcbench: unknown mode %s\n", mode);
	return 2;
}
