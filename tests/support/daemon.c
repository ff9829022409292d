/* tests/support/daemon.c - see daemon.h. */
#include "daemon.h"

#include "clearing/budget.h"
#include "gen/canonical_gen.h"
#include "pipeline/client.h"
#include "core/config.h"
#include "core/error.h"
#include "gen/efact_gen.h"
#include "security/keys.h"
#include "ledger/ledger.h"
#include "pipeline/writer.h"
#include "store/postings.h"
#include "store/records.h"
#include "core/metrics.h"
#include "refdata/refdata.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Load the bundled sample reference data (config/refdata/KIND.csv) into a started daemon. */
static int load_refdata(tpc_td_t *d)
{
	static const char *kinds[] = {
	    "providers",          "members",   "tariffs",     "agreements", "mediprima", "fedasil",
	    "fedasil_exclusions", "detention", "war_victims", "ossom"};
	void *s = tpc_td_connect(d);
	int rc = 0;

	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; i++) {
		char rel[64];
		size_t len;
		unsigned char *csv;
		Tpclear__Answer *a;

		snprintf(rel, sizeof(rel), "config/refdata/%s.csv", kinds[i]);
		csv = tpc_test_slurp(tpc_test_src(rel), &len);
		if (!csv || tpc_client_send(s, TPCLEAR__REQUEST_TYPE__REQUEST_LOAD, "ops", rel,
		                            kinds[i], 1, csv, len) != 0) {
			free(csv);
			rc = -1;
			break;
		}
		free(csv);
		while ((a = tpc_td_recv(s, 10000, NULL, NULL)) &&
		       a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
		       a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED)
			tpclear__answer__free_unpacked(a, NULL);
		if (!a || a->body_case != TPCLEAR__ANSWER__BODY_LOAD)
			rc = -1;
		if (a)
			tpclear__answer__free_unpacked(a, NULL);
	}
	zmq_close(s);
	return rc;
}

static int curve_prepare(tpc_td_t *d);

int tpc_td_start(tpc_td_t *d, const char *dir, const char *extra_ini)
{
	return tpc_td_start_ex(d, dir, extra_ini, 0);
}

void tpc_td_start_or_fail(tpc_td_t *d, const char *extra_ini)
{
	memset(d, 0, sizeof(*d));
	if (tpc_td_start(d, NULL, extra_ini) != 0) {
		/* the log says why (a config it refused, a port, a missing binary) */
		tpc_td_dump_log(d);
		cr_assert_fail("tpcleard did not start");
	}
}

int tpc_td_start_ex(tpc_td_t *d, const char *dir, const char *extra_ini, unsigned flags)
{
	char cfg[400], eps[400], log[400], sec[1200];
	const char *bin = getenv("TPC_TPCLEARD");
	FILE *f;

	if (!bin)
		return -1;
	if (!dir) {
		char *t = tpc_test_tmpdir();
		if (!t)
			return -1;
		memset(d, 0, sizeof(*d));
		snprintf(d->dir, sizeof(d->dir), "%s", t);
		free(t);
	} else if (dir != d->dir) {
		snprintf(d->dir, sizeof(d->dir), "%s", dir);
	}
	snprintf(d->data, sizeof(d->data), "%s/data", d->dir);
	snprintf(cfg, sizeof(cfg), "%s/tpcleard.ini", d->dir);
	snprintf(eps, sizeof(eps), "%s/tpcleard.endpoints", d->data);
	snprintf(log, sizeof(log), "%s/tpcleard.log", d->dir);
	unlink(eps);
	/* CURVE on unless asked otherwise (or started plain before, for a restart) */
	d->plain = (flags & TPC_TD_PLAIN) || (dir && d->plain);
	if (d->plain)
		snprintf(sec, sizeof(sec), "[security]\nmode = plain\n");
	else if (curve_prepare(d) == 0)
		snprintf(sec, sizeof(sec),
		         "[security]\nmode = curve\nserver_key = %s/server.key\nsenders = %s\n",
		         d->dir, d->senders);
	else
		return -1;
	f = fopen(cfg, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "%s[intake]\nendpoint = tcp://127.0.0.1:*\n[http]\nlisten = 127.0.0.1:0\n"
	        "[engine]\nworkers = 2\n%s\n",
	        sec, extra_ini ? extra_ini : "");
	fclose(f);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		/* the daemon must exit cleanly and leak nothing: LeakSanitizer turns a leak into
		 * exit status 23, which tpc_td_stop() reports */
		setenv("ASAN_OPTIONS", "detect_leaks=1:exitcode=23", 1);
		execl(bin, bin, "--config", cfg, "--data-dir", d->data, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		char line[300];
		int st;

		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return -1;
		}
		f = fopen(eps, "r");
		if (f) {
			while (fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = 0;
				if (strncmp(line, "intake=", 7) == 0)
					snprintf(d->intake, sizeof(d->intake), "%.255s", line + 7);
				else if (strncmp(line, "http=", 5) == 0) {
					char *c = strrchr(line + 5, ':');
					if (c) {
						*c = 0;
						snprintf(d->http_host, sizeof(d->http_host),
						         "%.63s", line + 5);
						d->http_port = atoi(c + 1);
					}
				}
			}
			fclose(f);
			if (d->intake[0])
				break;
		}
		sleep_ms(10);
	}
	if (!d->intake[0])
		return -1;
	if (!d->zctx)
		d->zctx = zmq_ctx_new();
	return load_refdata(d);
}

static int reap(tpc_td_t *d, int timeout_ms)
{
	int st;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(d->pid, &st, WNOHANG);
		if (r == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		sleep_ms(10);
	}
	return -2;
}

int tpc_td_stop(tpc_td_t *d)
{
	int rc;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	rc = reap(d, 60000);
	if (rc == -2) {
		kill(d->pid, SIGKILL);
		reap(d, 5000);
		return -1;
	}
	return rc;
}

void tpc_td_kill9(tpc_td_t *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		reap(d, 10000);
	}
}

void tpc_td_cleanup(tpc_td_t *d)
{
	if (d->pid > 0)
		tpc_td_kill9(d);
	/* the context is left to process exit: after a failed assertion a socket may still be
	 * open, and zmq_ctx_term would wait for it forever */
	if (d->dir[0])
		tpc_test_rmtree(d->dir);
}

void tpc_td_dump_log(const tpc_td_t *d)
{
	char path[400];
	size_t len;
	unsigned char *b;

	snprintf(path, sizeof(path), "%s/tpcleard.log", d->dir);
	b = tpc_test_slurp(path, &len);
	if (b) {
		fprintf(stderr, "---- tpcleard.log ----\n%s----\n", (char *)b);
		free(b);
	}
}

int tpc_td_log_has(const tpc_td_t *d, const char *needle)
{
	char path[400];
	size_t len;
	unsigned char *b;
	int found;

	snprintf(path, sizeof(path), "%s/tpcleard.log", d->dir);
	b = tpc_test_slurp(path, &len);
	if (!b)
		return 0;
	found = strstr((char *)b, needle) != NULL;
	free(b);
	return found;
}

void *tpc_td_connect(tpc_td_t *d)
{
	return tpc_td_connect_keys(d, d->plain || !d->nids ? NULL : &d->ids[0].keys);
}

void *tpc_td_connect_keys(tpc_td_t *d, const tpc_keypair_t *client)
{
	void *s = zmq_socket(d->zctx, ZMQ_DEALER);
	int linger = 0;

	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (client && tpc_keys_client_socket(s, d->server_pub, client) != 0) {
		zmq_close(s);
		return NULL;
	}
	if (zmq_connect(s, d->intake) != 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

int tpc_td_send(void *sock, Tpclear__RequestType type, const char *sender, const char *key,
                const char *format, uint64_t corr, const void *payload, size_t len)
{
	return tpc_client_send(sock, type, sender, key, format, corr, payload, len);
}

int tpc_td_send_raw(void *sock, const void *const *frames, const size_t *lens, int n)
{
	for (int i = 0; i < n; i++)
		if (zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return -1;
	return 0;
}

Tpclear__Answer *tpc_td_recv(void *sock, int timeout_ms, uint8_t **native, size_t *nlen)
{
	zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};

	if (native)
		*native = NULL;
	if (nlen)
		*nlen = 0;
	if (zmq_poll(&pi, 1, timeout_ms) <= 0)
		return NULL;
	return tpc_client_recv(sock, native, nlen);
}

static int is_final(const Tpclear__Answer *a)
{
	return a->body_case != TPCLEAR__ANSWER__BODY_RECEIPT ||
	       a->receipt->status != TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED;
}

Tpclear__Answer *tpc_td_submit(void *sock, const char *sender, const char *key, const char *format,
                               const void *payload, size_t len, Tpclear__Answer **receipt)
{
	static uint64_t corr = 1000;
	uint64_t my = ++corr;
	Tpclear__Answer *a;

	if (receipt)
		*receipt = NULL;
	if (tpc_td_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, sender, key, format, my,
	                payload, len))
		return NULL;
	while ((a = tpc_td_recv(sock, 30000, NULL, NULL))) {
		if (a->correlation != my) {
			tpclear__answer__free_unpacked(a, NULL);
			continue;
		}
		if (is_final(a))
			return a;
		if (receipt && !*receipt)
			*receipt = a;
		else
			tpclear__answer__free_unpacked(a, NULL);
	}
	return NULL;
}

Tpclear__Answer *tpc_td_request(void *sock, Tpclear__RequestType type, const char *sender,
                                const char *key, const char *format, const void *payload,
                                size_t len, uint8_t **native, size_t *nlen)
{
	static uint64_t corr = 9000000;
	uint64_t my = ++corr;
	Tpclear__Answer *a;

	if (native)
		*native = NULL;
	if (tpc_td_send(sock, type, sender, key, format, my, payload, len))
		return NULL;
	for (;;) {
		uint8_t *n = NULL;
		size_t nl = 0;

		a = tpc_td_recv(sock, 60000, &n, &nl);
		if (!a)
			return NULL;
		if (a->correlation == my && is_final(a)) {
			if (native) {
				*native = n;
				*nlen = nl;
			} else {
				free(n);
			}
			return a;
		}
		free(n);
		tpclear__answer__free_unpacked(a, NULL);
	}
}

Tpclear__Answer *tpc_td_payrun(void *sock, int32_t until, const char *budget)
{
	return tpc_td_payrun_id(sock, until, budget, "");
}

Tpclear__Answer *tpc_td_payrun_id(void *sock, int32_t until, const char *budget,
                                  const char *request_id)
{
	Tpclear__PayrunRequest rq = TPCLEAR__PAYRUN_REQUEST__INIT;
	uint8_t buf[256];
	size_t n;

	rq.until = until;
	rq.budget = (char *)budget;
	rq.request_id = (char *)request_id;
	if (tpclear__payrun_request__get_packed_size(&rq) > sizeof(buf))
		return NULL;
	n = tpclear__payrun_request__pack(&rq, buf);
	return tpc_td_request(sock, TPCLEAR__REQUEST_TYPE__REQUEST_PAYRUN, "ops", "payrun", "", buf,
	                      n, NULL, NULL);
}

Tpclear__Answer *tpc_td_ledger(void *sock, const char *sender, const Tpclear__LedgerRequest *rq)
{
	uint8_t buf[512];
	size_t n;

	if (tpclear__ledger_request__get_packed_size(rq) > sizeof(buf))
		return NULL;
	n = tpclear__ledger_request__pack(rq, buf);
	return tpc_td_request(sock, TPCLEAR__REQUEST_TYPE__REQUEST_LEDGER, sender, "ledger", "",
	                      buf, n, NULL, NULL);
}

Tpclear__Answer *tpc_td_query(void *sock, const char *sender, const char *key)
{
	static uint64_t corr = 5000000;
	uint64_t my = ++corr;
	Tpclear__Answer *a;

	if (tpc_td_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_QUERY, sender, key, "", my, NULL, 0))
		return NULL;
	while ((a = tpc_td_recv(sock, 30000, NULL, NULL))) {
		if (a->correlation == my && is_final(a))
			return a;
		tpclear__answer__free_unpacked(a, NULL);
	}
	return NULL;
}

char *tpc_td_http_get(const tpc_td_t *d, const char *path, int *status)
{
	struct sockaddr_in sa;
	char req[512], *buf = NULL, *body;
	size_t cap = 0, len = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	*status = 0;
	if (fd < 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)d->http_port);
	inet_pton(AF_INET, d->http_host, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, d->http_host);
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[len] = 0;
	sscanf(buf, "HTTP/%*s %d", status);
	body = strstr(buf, "\r\n\r\n");
	if (!body) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
}

long long tpc_td_metric(const tpc_td_t *d, const char *series)
{
	int st;
	char *body = tpc_td_http_get(d, "/metrics", &st);
	long long v = -1;
	size_t n = strlen(series);

	if (!body)
		return -1;
	for (char *line = body; line && *line;) {
		char *nl = strchr(line, '\n');
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			v = atoll(line + n + 1);
		line = nl ? nl + 1 : NULL;
	}
	free(body);
	return v;
}

/* The (sequence, line, part) keys of one sub-database, in order. */
static int keys_of(MDB_txn *txn, MDB_dbi dbi, uint8_t (**out)[TPC_PAYABLE_KEY], size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (mdb_cursor_open(txn, dbi, &c))
		return -1;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != TPC_PAYABLE_KEY)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			*out = realloc(*out, cap * TPC_PAYABLE_KEY);
		}
		memcpy((*out)[(*n)++], k.mv_data, TPC_PAYABLE_KEY);
	}
	mdb_cursor_close(c);
	return 0;
}

/* The unpaid line parts of "unpaid" (schema 6) as the keys of "payables", appended to @p out. */
static int unpaid_keys(MDB_txn *txn, MDB_dbi dbi, uint8_t (**out)[TPC_PAYABLE_KEY], size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t cap = *n;
	int rc;

	if (mdb_cursor_open(txn, dbi, &c))
		return -1;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tpc_unpaid_hdr_t h;
		const uint8_t *bits;

		if (k.mv_size != 8 || tpc_records_unpaid_read(&v, &h, &bits)) {
			mdb_cursor_close(c);
			return -1; /* damaged: the check fails */
		}
		for (uint64_t b = 0; b < 2 * (uint64_t)h.nlines; b++) {
			if (!(bits[b / 8] & (1u << (b % 8))))
				continue;
			if (*n >= cap) {
				cap = cap ? cap * 2 : 1024;
				*out = realloc(*out, cap * TPC_PAYABLE_KEY);
			}
			tpc_key_payable((*out)[(*n)++], tpc_get_be64(k.mv_data), (uint32_t)(b / 2),
			                (uint8_t)(b % 2));
		}
	}
	mdb_cursor_close(c);
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, TPC_PAYABLE_KEY);
}

/* Schema 7: the running balances (meta "balances") must be what the postings sum to, kind by
 * kind; absent only while nothing was posted, or in a ledger below schema 7. @return 0 or -1
 * with the reason in @p err. */
static int balances_differ(MDB_txn *txn, const tpc_store_db_t *db, const tpc_balances_t *seen,
                           char *err, size_t errlen)
{
	tpc_balances_t b;
	uint64_t from;
	int rc = tpc_balances_get(txn, db, &b);

	if (tpc_postings_derive_from(txn, db, &from) || from == UINT64_MAX)
		return 0;
	if (rc == MDB_NOTFOUND && !seen->postings)
		return 0;
	if (rc) {
		snprintf(err, errlen, "meta balances: %s",
		         rc == MDB_NOTFOUND ? "absent" : "damaged");
		return -1;
	}
	if (b.postings != seen->postings ||
	    memcmp(b.cents, seen->cents, sizeof(b.cents) + sizeof(b.insured)) != 0) {
		snprintf(err, errlen,
		         "meta balances: %llu postings, the ledger %llu, or sums differ",
		         (unsigned long long)b.postings, (unsigned long long)seen->postings);
		return -1;
	}
	return 0;
}

int tpc_td_ledger_check(const tpc_td_t *d, char *err, size_t errlen, uint64_t *paid_lines,
                        uint64_t *unpaid_lines)
{
	tpc_config_t cfg;
	tpc_metrics_t *m = NULL;
	tpc_writer_t *l = NULL;
	tpc_store_reader_t *r = NULL;
	const tpc_store_db_t *db;
	MDB_txn *txn;
	tpc_postings_t it;
	tpc_posting_rec_t p;
	tpc_balances_t seen = {0};
	uint64_t num = 0;
	int g;
	int64_t sum = 0, per_budget[TPC_BUDGET__COUNT] = {0};
	uint8_t(*payable)[TPC_PAYABLE_KEY] = NULL, (*unpaid)[TPC_PAYABLE_KEY] = NULL,
	(*paid)[TPC_PAYABLE_KEY] = NULL;
	size_t npayable = 0, nunpaid = 0, npaid = 0, cap = 0;
	int rc = -1;

	snprintf(err, errlen, "cannot open the ledger");
	tpc_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", d->data);
	snprintf(cfg.payments_dir, sizeof(cfg.payments_dir), "%s/payments", d->data);
	if (tpc_metrics_new(2, &m) || tpc_writer_open(&cfg, m, &l) ||
	    tpc_store_reader_new(tpc_writer_store(l), &r) || tpc_store_read_begin(r, &txn, &db))
		goto out;
	/* every posting: stored, or derived from a lines block (schema 7, store/postings.h) */
	if (tpc_postings_open(&it, txn, db, 0))
		goto out_end;
	while ((g = tpc_postings_next(&it, &p, &num)) == 1) {
		sum += p.amount_cents;
		tpc_balances_count(&seen, &p);
		if (p.budget < TPC_BUDGET__COUNT)
			per_budget[p.budget] += p.amount_cents;
		if (p.kind != TPC_POST_PAYABLE)
			continue;
		if (npayable == cap) {
			cap = cap ? cap * 2 : 1024;
			payable = realloc(payable, cap * TPC_PAYABLE_KEY);
		}
		tpc_put_be64(payable[npayable], p.sequence);
		tpc_put_be32(payable[npayable] + 8, p.line);
		payable[npayable][12] = p.part;
		npayable++;
	}
	tpc_postings_close(&it);
	if (g) {
		snprintf(err, errlen, "posting after %llu: %s", (unsigned long long)num,
		         g == TPC_EDAMAGED ? "damaged" : mdb_strerror(g));
		goto out_end;
	}
	if (balances_differ(txn, db, &seen, err, errlen))
		goto out_end;
	/* the unpaid parts: "payables" of schema 3-5, then the bits of "unpaid" (schema 6) */
	if (keys_of(txn, db->payables, &unpaid, &nunpaid) ||
	    unpaid_keys(txn, db->unpaid, &unpaid, &nunpaid) ||
	    keys_of(txn, db->paid, &paid, &npaid)) {
		snprintf(err, errlen, "cannot read the unpaid and paid line parts (damaged?)");
		goto out_end;
	}
	if (nunpaid) /* none: the array is NULL, which qsort may not be given */
		qsort(unpaid, nunpaid, TPC_PAYABLE_KEY, cmp_key);
	if (sum != 0) {
		snprintf(err, errlen, "postings sum to %lld, not 0", (long long)sum);
		goto out_end;
	}
	for (unsigned b = 0; b < TPC_BUDGET__COUNT; b++)
		if (per_budget[b] != 0) {
			snprintf(err, errlen, "budget %s sums to %lld", tpc_budget_name(b),
			         (long long)per_budget[b]);
			goto out_end;
		}
	if (npayable)
		qsort(payable, npayable, TPC_PAYABLE_KEY, cmp_key);
	for (size_t i = 1; i < npayable; i++)
		if (memcmp(payable[i - 1], payable[i], TPC_PAYABLE_KEY) == 0) {
			snprintf(err, errlen, "a line has two payable postings");
			goto out_end;
		}
	if (nunpaid + npaid != npayable) {
		snprintf(err, errlen, "%zu payable postings but %zu unpaid + %zu paid lines",
		         npayable, nunpaid, npaid);
		goto out_end;
	}
	for (size_t i = 0, a = 0, b = 0; i < npayable; i++) {
		int in_unpaid = a < nunpaid && memcmp(unpaid[a], payable[i], TPC_PAYABLE_KEY) == 0;
		int in_paid = b < npaid && memcmp(paid[b], payable[i], TPC_PAYABLE_KEY) == 0;

		if (in_unpaid == in_paid) {
			snprintf(err, errlen, "line %zu is %s", i,
			         in_paid ? "both paid and unpaid" : "neither paid nor unpaid");
			goto out_end;
		}
		a += in_unpaid;
		b += in_paid;
	}
	*paid_lines = npaid;
	*unpaid_lines = nunpaid;
	rc = 0;
out_end:
	tpc_store_read_end(r);
out:
	free(payable);
	free(unpaid);
	free(paid);
	tpc_store_reader_free(&r);
	tpc_writer_free(&l);
	tpc_metrics_free(&m);
	return rc;
}

void tpc_td_books(const tpc_td_t *d, uint64_t *paid_lines, uint64_t *unpaid_lines)
{
	char err[256];
	uint64_t paid = 0, unpaid = 0;

	/* the reason is the message: which invariant broke, on which sending or run; a test
	 * that wants only the check passes NULL for the counts */
	cr_assert_eq(tpc_td_ledger_check(d, err, sizeof(err), &paid, &unpaid), 0, "%s", err);
	if (paid_lines)
		*paid_lines = paid;
	if (unpaid_lines)
		*unpaid_lines = unpaid;
}

void tpc_td_stop_books(tpc_td_t *d, uint64_t *paid_lines, uint64_t *unpaid_lines)
{
	/* the books are read from the files: the daemon must have let go of them first */
	cr_assert_eq(tpc_td_stop(d), 0);
	tpc_td_books(d, paid_lines, unpaid_lines);
}

char tpc_td_tally(const Tpclear__Answer *a, int *busy, int *received, int *results)
{
	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT &&
	    a->receipt->status == TPCLEAR__RECEIPT_STATUS__RECEIPT_BUSY) {
		(*busy)++;
		return 'B';
	}
	if (a->body_case == TPCLEAR__ANSWER__BODY_RECEIPT) {
		cr_assert_eq(a->receipt->status, TPCLEAR__RECEIPT_STATUS__RECEIPT_RECEIVED, "%s",
		             a->receipt->reason);
		(*received)++;
		return 'R';
	}
	cr_assert_eq(a->body_case, TPCLEAR__ANSWER__BODY_RESULT);
	(*results)++;
	return 'S';
}

uint8_t *tpc_td_efact_invoice(const char *reference, const char *number, char invoicing,
                              const char *previous, int sign, uint32_t day, size_t *len)
{
	tpc_efact_line_in_t l[2];
	tpc_efact_invoice_in_t inv;
	tpc_efact_sending_in_t sd;
	uint8_t *out = NULL;

	l[0] = tpc_efact_line("101032", day, sign * 2400, sign * 600, "C1");
	l[1] = tpc_efact_line("102771", day + 1, sign * 1960, sign * 750, "C2");
	l[0].units = l[1].units = sign;
	tpc_efact_invoice(&inv, "86103130262", number, "600", l, 2);
	snprintf(inv.previous, sizeof(inv.previous), "%s", previous);
	inv.invoicing = invoicing;
	tpc_efact_sending_head(&sd, reference, 3, TPC_EFACT_HEAD_BANK);
	sd.invoices = &inv;
	sd.ninvoices = 1;
	if (tpc_efact_write(&sd, &out, len) != 0)
		return NULL;
	return out;
}

void tpc_td_send_canonical(void *sock, const char *sender, const char *key, uint64_t corr,
                           unsigned seed, int ninv, int nlines)
{
	size_t len;
	uint8_t *p = tpc_td_canonical(seed, ninv, nlines, &len);

	cr_assert_not_null(p);
	cr_assert_eq(tpc_td_send(sock, TPCLEAR__REQUEST_TYPE__REQUEST_SUBMIT, sender, key,
	                         "canonical", corr, p, len),
	             0, "sending %s", key);
	free(p);
}

uint8_t *tpc_td_canonical(unsigned seed, int ninv, int nlines, size_t *len)
{
	return tpc_canonical_sample(seed, 0, ninv, nlines, len);
}

int tpc_td_ledger_totals(const tpc_td_t *d, int64_t *sum, int64_t *credited, uint64_t *postings,
                         uint64_t *sendings)
{
	tpc_config_t cfg;
	tpc_metrics_t *m = NULL;
	tpc_writer_t *l = NULL;
	tpc_store_reader_t *r = NULL;
	int rc = -1;

	tpc_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", d->data);
	if (tpc_metrics_new(2, &m) == 0 && tpc_writer_open(&cfg, m, &l) == 0 &&
	    tpc_store_reader_new(tpc_writer_store(l), &r) == 0 &&
	    tpc_ledger_postings_sum(r, sum, credited, postings) == 0 &&
	    tpc_store_count_sendings(r, sendings) == 0)
		rc = 0;
	tpc_store_reader_free(&r);
	tpc_writer_free(&l);
	tpc_metrics_free(&m);
	return rc;
}

/* ---- CURVE identities -------------------------------------------------------------------- */

/* The identities every curve daemon starts with: id, kind, NIHII numbers, feeds ("*" = every
 * reference data kind this engine has). The first one is tpc_td_connect()'s. */
static const struct {
	const char *id, *kind, *nihii, *feeds;
} default_ids[] = {
    {"test", "ops", "18334780004 17385467004 10065828001", "*"},
    {"ops", "ops", "", "*"},
    {"hospital", "hospital", "18334780004", ""},
    {"gp", "gp", "17385467004", ""},
    {"pharmacist", "pharmacist", "10065828001", ""},
    {"cpas", "cpas", "", ""},
    {"sppis", "sppis", "", "mediprima"},
    {"fedasil", "fedasil", "", "fedasil fedasil_exclusions"},
    {"justice", "justice", "", "detention"},
};

/* Append one [section] to the registry; feeds "*" = every kind, unknown kinds are left out so
 * the registry stays valid whatever kinds this engine build has. */
static int append_sender(const tpc_td_t *d, const char *id, const char *kind, const char *nihii,
                         const char *feeds, const tpc_keypair_t *kp)
{
	FILE *f = fopen(d->senders, "a");
	char list[512] = "", word[64];
	enum tpc_ref_kind k;

	if (!f)
		return -1;
	if (strcmp(feeds, "*") == 0) {
		for (int i = 0; i < TPC_REF__COUNT; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			         list[0] ? " " : "", tpc_refdata_kind_name((enum tpc_ref_kind)i));
	} else {
		for (const char *p = feeds; *p;) {
			size_t n = strcspn(p, " ");

			snprintf(word, sizeof(word), "%.*s", (int)n, p);
			if (n && tpc_refdata_kind(word, &k) == 0)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				         list[0] ? " " : "", word);
			p += n;
			p += *p == ' ';
		}
	}
	fprintf(f, "\n[%s]\nkind = %s\nkey = %s\nnihii = %s\nfeeds = %s\n", id, kind,
	        kp->public_z85, nihii, list);
	return fclose(f) == 0 ? 0 : -1;
}

static int write_keys(const tpc_td_t *d, const char *id, const tpc_keypair_t *kp)
{
	char prefix[400], err[512];

	snprintf(prefix, sizeof(prefix), "%s/keys/%s", d->dir, id);
	return tpc_keys_write(prefix, kp, err, sizeof(err)) == 0 ? 0 : -1;
}

/* First start in this directory: the engine's key pair, the client identities, the registry. */
static int curve_prepare(tpc_td_t *d)
{
	char prefix[400], err[512], keys[400];
	tpc_keypair_t server;
	struct stat st;
	FILE *f;

	snprintf(d->senders, sizeof(d->senders), "%s/senders.ini", d->dir);
	if (stat(d->senders, &st) == 0 && d->nids > 0)
		return 0; /* a restart: same keys, same registry */
	d->nids = 0;
	snprintf(prefix, sizeof(prefix), "%s/server", d->dir);
	snprintf(keys, sizeof(keys), "%s/keys", d->dir);
	mkdir(keys, 0700);
	if (tpc_keys_generate(&server) || tpc_keys_write(prefix, &server, err, sizeof(err)))
		return -1;
	snprintf(d->server_pub, sizeof(d->server_pub), "%s", server.public_z85);
	tpc_keys_wipe(&server);
	f = fopen(d->senders, "w");
	if (!f)
		return -1;
	fprintf(f, "# written by tests/support/daemon.c\n");
	fclose(f);
	for (size_t i = 0; i < sizeof(default_ids) / sizeof(default_ids[0]); i++)
		if (tpc_td_add_sender(d, default_ids[i].id, default_ids[i].kind,
		                      default_ids[i].nihii, default_ids[i].feeds) != 0)
			return -1;
	return 0;
}

int tpc_td_add_sender(tpc_td_t *d, const char *id, const char *kind, const char *nihii,
                      const char *feeds)
{
	tpc_td_id_t *e;

	if (d->nids >= TPC_TD_IDS)
		return -1;
	e = &d->ids[d->nids];
	snprintf(e->id, sizeof(e->id), "%s", id);
	if (tpc_keys_generate(&e->keys) || write_keys(d, id, &e->keys) ||
	    append_sender(d, id, kind, nihii ? nihii : "", feeds ? feeds : "", &e->keys))
		return -1;
	d->nids++;
	return 0;
}

const tpc_keypair_t *tpc_td_keys_of(const tpc_td_t *d, const char *id)
{
	for (int i = 0; i < d->nids; i++)
		if (strcmp(d->ids[i].id, id) == 0)
			return &d->ids[i].keys;
	return NULL;
}

void *tpc_td_connect_as(tpc_td_t *d, const char *id)
{
	const tpc_keypair_t *kp = tpc_td_keys_of(d, id);

	return kp ? tpc_td_connect_keys(d, kp) : NULL;
}

static long long reloads(const tpc_td_t *d, const char *result)
{
	char series[96];

	snprintf(series, sizeof(series), "tpclear_senders_reloads_total{result=\"%s\"}", result);
	return tpc_td_metric(d, series);
}

int tpc_td_reload(tpc_td_t *d)
{
	long long ok = reloads(d, "ok"), failed = reloads(d, "failed");

	if (d->pid <= 0 || kill(d->pid, SIGHUP) != 0)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (reloads(d, "ok") > ok)
			return 0;
		if (reloads(d, "failed") > failed)
			return 1;
		sleep_ms(10);
	}
	return -1;
}

const char *tpc_td_cli_keys(const tpc_td_t *d, const char *id)
{
	static char buf[1200];

	if (d->plain) {
		buf[0] = 0;
		return buf;
	}
	snprintf(buf, sizeof(buf), "--server-key '%s/server.pub' --client-key '%s/keys/%s'", d->dir,
	         d->dir, id ? id : d->ids[0].id);
	return buf;
}

void tpc_td_start_with_shim(tpc_td_t *d, const char *shim, const char *control)
{
	/* the daemon inherits the environment at exec; the test process itself is not affected */
	setenv("TPC_FAULT_CONTROL", control, 1);
	setenv("LD_PRELOAD", shim, 1);
	memset(d, 0, sizeof(*d));
	if (tpc_td_start(d, NULL, NULL) != 0) {
		unsetenv("LD_PRELOAD");
		tpc_td_dump_log(d);
		cr_assert_fail("tpcleard did not start with the fault shim");
	}
	unsetenv("LD_PRELOAD");
	unsetenv("TPC_FAULT_CONTROL");
}
