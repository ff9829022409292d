/* bench/tpcbench.c - load generator and in-process ceiling for tpcleard.
 *
 *   tpcbench engine  [--endpoint E] [--clients K] [--window W] [--seconds S] [--rate R]
 *                    [--format F] [--key-prefix P] FILE...
 *       K DEALER clients (one thread each) submit the payload files round-robin under fresh
 *       keys: closed loop (W outstanding per client) or open loop at R sendings/s overall.
 *       Reports sendings/s, lines/s and receipt-to-result latency percentiles.
 *   tpcbench ceiling [--seconds S] [--format F] FILE...
 *       The same payloads through the same worker code (hash, decode, judge, pack) in this
 *       process, one thread, no transport, no ledger: the clearing ceiling per core.
 *
 * Output: one "key=value" line per figure (bench/run turns them into tables and CSV).
 */
#include "adapters.h"
#include "arena.h"
#include "canonical/canonical_gen.h"
#include "efact/efact_writer.h"

#include "client.h"
#include "common/check.h"
#include "config.h"
#include "job.h"
#include "metrics.h"
#include "tpclear.pb-c.h"
#include "worker.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct payload {
	uint8_t *data;
	size_t len;
};

static struct payload *payloads;
static int npayloads;
static const char *endpoint = "tcp://127.0.0.1:5570";
static const char *format = NULL;
static const char *key_prefix = NULL; /* default: unique per run */
static char key_prefix_buf[64];
static int clients = 4, window = 4;
static int unique; /* payloads are a generated pool, each sent once */
static double seconds = 5, rate = 0;
static void *zctx;

struct client {
	pthread_t thread;
	int id;
	uint64_t sent, results, lines, refused, busy, errors;
	uint64_t *lat_us; /* one per result */
	size_t nlat, caplat;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void load(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "tpcbench: cannot read %s\n", path);
		exit(2);
	}
	payloads = realloc(payloads, sizeof(*payloads) * (size_t)(npayloads + 1));
	payloads[npayloads].data = malloc((size_t)n + 1);
	payloads[npayloads].len = fread(payloads[npayloads].data, 1, (size_t)n, f);
	npayloads++;
	fclose(f);
}

static const char *format_of(const struct payload *p)
{
	if (format)
		return format;
	return p->len >= 6 && memcmp(p->data, "920000", 6) == 0 ? "efact" : "canonical";
}

static int send_one(void *sock, struct client *c, uint64_t seq)
{
	/* with a generated pool each sending is sent once (its lines are new to the ledger);
	 * payload files are cycled */
	uint64_t idx = unique ? (uint64_t)c->id + seq * (uint64_t)clients : seq;
	const struct payload *p = &payloads[idx % (uint64_t)npayloads];
	char key[96];

	if (unique && idx >= (uint64_t)npayloads)
		return -1; /* pool used up */

	snprintf(key, sizeof(key), "%s-%d-%" PRIu64, key_prefix, c->id, seq);
	/* the send time travels as the correlation number */
	if (tpc_client_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, "bench", key, format_of(p),
	                    now_us(), p->data, p->len) != 0)
		return -1;
	c->sent++;
	return 0;
}

static void record(struct client *c, uint64_t us)
{
	if (c->nlat == c->caplat) {
		c->caplat = c->caplat ? c->caplat * 2 : 4096;
		c->lat_us = realloc(c->lat_us, c->caplat * sizeof(*c->lat_us));
	}
	c->lat_us[c->nlat++] = us;
}

/* Read every answer waiting. @return final answers seen. */
static int drain(void *sock, struct client *c, int timeout_ms)
{
	zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
	int finals = 0;

	while (zmq_poll(&pi, 1, timeout_ms) > 0) {
		Tpclear__Answer *a = tpc_client_recv(sock, NULL, NULL);

		timeout_ms = 0;
		if (!a) {
			c->errors++;
			continue;
		}
		if (a->body_case == TPCLEAR__ANSWER__BODY_RESULT) {
			c->results++;
			c->lines += a->result->lines;
			if (a->result->outcome == TPCLEAR__OUTCOME__OUTCOME_REFUSED)
				c->refused++;
			record(c, now_us() - a->correlation);
			finals++;
		} else if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
		           a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
			c->busy++;
			finals++;
		} else if (a->body_case != TPCLEAR__ANSWER__BODY_RECEIPT ||
		           a->receipt->status != TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED) {
			c->errors++;
			finals++;
		}
		tpclear__answer__free_unpacked(a, NULL);
	}
	return finals;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	void *sock = zmq_socket(zctx, ZMQ_DEALER);
	int linger = 0, outstanding = 0;
	uint64_t seq = 0, start = now_us(), end = start + (uint64_t)(seconds * 1e6);
	double interval_us = rate > 0 ? 1e6 * clients / rate : 0;
	uint64_t next_send = start;

	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "tpcbench: cannot connect %s\n", endpoint);
		exit(2);
	}
	while (now_us() < end) {
		if (interval_us > 0) {
			/* open loop: send on schedule whatever the answers do */
			uint64_t now = now_us();
			while (next_send <= now) {
				if (send_one(sock, c, seq++) == 0)
					outstanding++;
				next_send += (uint64_t)interval_us;
			}
			outstanding -= drain(sock, c, (int)((next_send - now) / 1000));
		} else {
			while (outstanding < window && send_one(sock, c, seq++) == 0)
				outstanding++;
			outstanding -= drain(sock, c, 100);
		}
		if (unique && outstanding == 0 &&
		    (uint64_t)c->id + seq * (uint64_t)clients >= (uint64_t)npayloads)
			break; /* pool used up */
	}
	/* collect what is still outstanding (bounded wait) */
	for (uint64_t until = now_us() + 30000000u; outstanding > 0 && now_us() < until;)
		outstanding -= drain(sock, c, 100);
	zmq_close(sock);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int run_engine(void)
{
	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	uint64_t sent = 0, results = 0, lines = 0, busy = 0, errors = 0, refused = 0, t0, t1;
	uint64_t *all;
	size_t nall = 0;
	double wall;

	zctx = zmq_ctx_new();
	t0 = now_us();
	for (int i = 0; i < clients; i++) {
		cs[i].id = i;
		pthread_create(&cs[i].thread, NULL, client_main, &cs[i]);
	}
	for (int i = 0; i < clients; i++)
		pthread_join(cs[i].thread, NULL);
	t1 = now_us();
	for (int i = 0; i < clients; i++) {
		sent += cs[i].sent;
		results += cs[i].results;
		lines += cs[i].lines;
		busy += cs[i].busy;
		errors += cs[i].errors;
		refused += cs[i].refused;
		nall += cs[i].nlat;
	}
	all = malloc((nall ? nall : 1) * sizeof(*all));
	nall = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + nall, cs[i].lat_us, cs[i].nlat * sizeof(*all));
		nall += cs[i].nlat;
		free(cs[i].lat_us);
	}
	qsort(all, nall, sizeof(*all), cmp_u64);
	wall = (double)(t1 - t0) / 1e6;
	printf("mode=engine\nclients=%d\nwindow=%d\noffered_rate=%.0f\nseconds=%.2f\n", clients,
	       window, rate, wall);
	printf("sent=%" PRIu64 "\nresults=%" PRIu64 "\nrefused=%" PRIu64 "\nbusy=%" PRIu64
	       "\nerrors=%" PRIu64 "\n",
	       sent, results, refused, busy, errors);
	printf("sendings_per_s=%.1f\nlines_per_s=%.0f\n", (double)results / wall,
	       (double)lines / wall);
	printf(
	    "latency_p50_ms=%.3f\nlatency_p99_ms=%.3f\nlatency_p999_ms=%.3f\nlatency_max_ms=%.3f\n",
	    (double)pct(all, nall, 0.50) / 1e3, (double)pct(all, nall, 0.99) / 1e3,
	    (double)pct(all, nall, 0.999) / 1e3, nall ? (double)all[nall - 1] / 1e3 : 0.0);
	free(all);
	free(cs);
	zmq_ctx_term(zctx);
	return errors ? 1 : 0;
}

static int run_ceiling(void)
{
	tpc_config_t cfg;
	tpc_adapters_t *ad = NULL;
	tpc_metrics_t *m = NULL;
	tpc_metrics_shard_t *shard;
	tpc_job_t *job = calloc(1, sizeof(*job));
	uint64_t n = 0, lines = 0, t0, t1, end;

	tpc_config_defaults(&cfg);
	if (sodium_init() < 0 || tpc_adapters_new(&cfg, &ad) || tpc_metrics_new(2, &m))
		return 2;
	shard = tpc_metrics_shard(m);
	if (tpc_arena_new(1 << 20, 0, &job->arena))
		return 2;
	t0 = now_us();
	end = t0 + (uint64_t)(seconds * 1e6);
	do {
		const struct payload *p = &payloads[n % (uint64_t)npayloads];
		tpc_arena_t *arena = job->arena;

		memset(job, 0, sizeof(*job));
		job->arena = arena;
		job->type = TPC_JOB_SUBMIT;
		snprintf(job->sender, sizeof(job->sender), "bench");
		snprintf(job->key, sizeof(job->key), "k%" PRIu64, n);
		job->adapter = tpc_adapters_find(ad, format_of(p), &job->adapter_state);
		if (!job->adapter)
			return 2;
		/* the payload is wrapped, not copied: the worker reads it in place */
		zmq_msg_init_data(&job->payload, p->data, p->len, NULL, NULL);
		tpc_worker_process(NULL, shard, &cfg, job);
		lines += job->sending.nlines;
		zmq_msg_close(&job->payload);
		tpc_arena_reset(job->arena);
		n++;
	} while (now_us() < end);
	t1 = now_us();
	printf("mode=ceiling\nseconds=%.2f\nsendings=%" PRIu64 "\nlines=%" PRIu64
	       "\nlines_per_s=%.0f\nns_per_line=%.1f\n",
	       (double)(t1 - t0) / 1e6, n, lines, (double)lines / ((double)(t1 - t0) / 1e6),
	       lines ? (double)(t1 - t0) * 1e3 / (double)lines : 0.0);
	tpc_arena_free(&job->arena);
	free(job);
	tpc_metrics_free(&m);
	tpc_adapters_free(&ad);
	return 0;
}

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

/* make-faults REFERENCE FILE: the eFact acceptance sending (efact_writer.h) */
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"endpoint", required_argument, NULL, 'e'},   {"clients", required_argument, NULL, 'c'},
	    {"window", required_argument, NULL, 'w'},     {"seconds", required_argument, NULL, 's'},
	    {"rate", required_argument, NULL, 'r'},       {"format", required_argument, NULL, 'f'},
	    {"key-prefix", required_argument, NULL, 'k'}, {"make", required_argument, NULL, 'm'},
	    {"pool", required_argument, NULL, 'p'},       {"seed", required_argument, NULL, 'S'},
	    {"patients", required_argument, NULL, 'P'},   {NULL, 0, NULL, 0},
	};
	const char *mode;
	int c, make_inv = 0, make_lines = 0, pool = 1000;
	long seed_base = 0;
	int patients = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: tpcbench engine|ceiling [options] FILE...\n");
		return 2;
	}
	mode = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "e:c:w:s:r:f:k:m:p:S:P:", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'c':
			clients = atoi(optarg);
			break;
		case 'w':
			window = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
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
		default:
			return 2;
		}
	}
	if (strncmp(mode, "make-", 5) != 0)
		for (int i = optind; i < argc; i++)
			load(argv[i]);
	if (make_inv > 0 && make_lines > 0) {
		/* a pool of distinct sendings, generated before the clock starts */
		unsigned base = seed_base ? (unsigned)seed_base : (unsigned)time(NULL);
		payloads = calloc((size_t)pool, sizeof(*payloads));
		for (int i = 0; payloads && i < pool; i++) {
			int efact = format && strcmp(format, "efact") == 0;
			payloads[i].data = (efact ? tpc_efact_sample : tpc_canonical_sample)(
			    base + (unsigned)i, (unsigned)patients, make_inv, make_lines,
			    &payloads[i].len);
			if (!payloads[i].data)
				return 2;
		}
		npayloads = pool;
		unique = 1;
	}
	if (!npayloads && strncmp(mode, "make-", 5) != 0) {
		fprintf(stderr, "tpcbench: no payload files\n");
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
	if (strcmp(mode, "engine") == 0)
		return run_engine();
	if (strcmp(mode, "make-members") == 0)
		return make_members(argc - optind, argv + optind);
	if (strcmp(mode, "make-faults") == 0)
		return make_faults(argc - optind, argv + optind);
	if (strncmp(mode, "make-", 5) == 0)
		return make_sample(strcmp(mode, "make-efact") == 0, argc - optind, argv + optind);
	if (strcmp(mode, "ceiling") == 0)
		return run_ceiling();
	fprintf(stderr, "tpcbench: unknown mode %s\n", mode);
	return 2;
}
