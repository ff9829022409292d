/* tests/support/testutil.c - helpers shared by the Criterion suites. */
#include "testutil.h"

#include "common/check.h"

#include <criterion/criterion.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *tpc_test_tmpdir(void)
{
	char tmpl[] = "/tmp/tpctest.XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

void tpc_test_rmtree(const char *path)
{
	char cmd[4200];

	if (!path || strncmp(path, "/tmp/tpctest.", 13) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

void tpc_test_rmtree_free(char **dir)
{
	tpc_test_rmtree(*dir);
	free(*dir);
	*dir = NULL;
}

unsigned char *tpc_test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

const char *tpc_test_src(const char *rel)
{
	static char path[4096];
	const char *root = getenv("TPC_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	return path;
}

void tpc_test_lmdb_open(char **dir, MDB_env **env, MDB_txn **txn)
{
	/* the refdata, clearing and ledger suites each want a small private store: 32 named
	 * databases covers every kind and index, 16 MiB every sample they load */
	*dir = tpc_test_tmpdir();
	cr_assert_not_null(*dir);
	cr_assert_eq(mdb_env_create(env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(*env, 32), 0);
	cr_assert_eq(mdb_env_set_mapsize(*env, 16u << 20), 0);
	cr_assert_eq(mdb_env_open(*env, *dir, MDB_NOTLS, 0600), 0);
	cr_assert_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

void tpc_test_lmdb_close(MDB_env *env, char *dir)
{
	/* a setup that failed half way leaves env unset: teardown still runs */
	if (env)
		mdb_env_close(env);
	tpc_test_rmtree_free(&dir);
}

void tpc_test_refdata_open(size_t arena_size, tpc_arena_t **arena, char **dir, MDB_env **env,
                           tpc_refdata_dbs_t *dbs)
{
	MDB_txn *txn;

	cr_assert_eq(tpc_arena_new(arena_size, 0, arena), 0);
	tpc_test_lmdb_open(dir, env, &txn);
	cr_assert_eq(tpc_refdata_open(txn, dbs), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

void tpc_test_store_close(tpc_arena_t **arena, MDB_env *env, char *dir)
{
	tpc_arena_free(arena);
	tpc_test_lmdb_close(env, dir);
}

tpc_ref_table_t tpc_test_refdata_sample(enum tpc_ref_kind kind, tpc_arena_t *arena)
{
	char rel[64], err[512] = "";
	unsigned char *buf;
	size_t len = 0;
	tpc_ref_table_t t;
	int rc;

	snprintf(rel, sizeof(rel), "config/refdata/%s.csv", tpc_refdata_kind_name(kind));
	buf = tpc_test_slurp(tpc_test_src(rel), &len);
	cr_assert_not_null(buf, "cannot read %s", tpc_test_src(rel));
	rc = tpc_refdata_parse(kind, rel, (const char *)buf, len, arena, &t, err, sizeof(err));
	free(buf); /* the rows are copies in the arena */
	cr_assert_eq(rc, 0, "%s refused: %s", rel, err);
	return t;
}

void tpc_test_expect_totals(const Tpclear__Result *r, tpc_test_totals_t want)
{
	cr_assert_eq(r->outcome, want.outcome, "outcome %d, want %d", r->outcome, want.outcome);
	cr_assert_eq(r->invoices, want.invoices, "invoices %u, want %u", r->invoices,
	             want.invoices);
	cr_assert_eq(r->lines, want.lines, "lines %u, want %u", r->lines, want.lines);
	cr_assert_eq(r->lines_accepted, want.lines_accepted, "lines accepted %u, want %u",
	             r->lines_accepted, want.lines_accepted);
	cr_assert_eq(r->lines_refused, want.lines_refused, "lines refused %u, want %u",
	             r->lines_refused, want.lines_refused);
	cr_assert_eq(r->accepted_cents, want.accepted_cents, "accepted %lld, want %lld",
	             (long long)r->accepted_cents, (long long)want.accepted_cents);
	cr_assert_eq(r->refused_cents, want.refused_cents, "refused %lld, want %lld",
	             (long long)r->refused_cents, (long long)want.refused_cents);
}

char *tpc_test_xpath_string(xmlDocPtr doc, const char *prefix, const char *ns, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;
	xmlChar *t;
	char *out, buf[512];

	/* string() answers "" for a missing node: the caller's string comparison then fails with
	 * both values in its message instead of crashing on NULL */
	cr_assert_not_null(ctx);
	snprintf(buf, sizeof(buf), "string(%s)", expr);
	xmlXPathRegisterNs(ctx, BAD_CAST prefix, BAD_CAST ns);
	o = xmlXPathEvalExpression(BAD_CAST buf, ctx);
	cr_assert_not_null(o, "xpath %s", expr);
	t = xmlXPathCastToString(o);
	out = strdup((const char *)t);
	xmlFree(t);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	cr_assert_not_null(out);
	return out;
}

char *tpc_test_kmehr_string(const void *xml, size_t len, const char *expr)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	xmlChar *t;
	char *out;

	cr_assert_not_null(doc, "not XML:\n%.*s", (int)len, (const char *)xml);
	ctx = xmlXPathNewContext(doc);
	cr_assert_not_null(ctx);
	xmlXPathRegisterNs(ctx, BAD_CAST "p",
	                   BAD_CAST "http://www.ehealth.fgov.be/messageservices/protocol/v1");
	xmlXPathRegisterNs(ctx, BAD_CAST "c",
	                   BAD_CAST "http://www.ehealth.fgov.be/messageservices/core/v1");
	xmlXPathRegisterNs(ctx, BAD_CAST "k",
	                   BAD_CAST "http://www.ehealth.fgov.be/standards/kmehr/schema/v1");
	o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	cr_assert_not_null(o, "xpath %s", expr);
	t = xmlXPathCastToString(o); /* count() and string() alike; "" for no node */
	out = strdup((const char *)t);
	xmlFree(t);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	cr_assert_not_null(out);
	return out;
}

int32_t tpc_test_day(uint32_t yyyymmdd)
{
	int32_t d;

	cr_assert_eq(tpc_check_date_yyyymmdd(yyyymmdd, &d), 0, "bad test date %u", yyyymmdd);
	return d;
}

int tpc_test_promtool_metrics(const char *text, char *out, size_t cap)
{
	char path[] = "/tmp/tpc-metrics-XXXXXX", cmd[128];
	size_t len = strlen(text), got;
	int fd, st;
	FILE *p;

	out[0] = 0;
	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return -1;
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	got = fread(out, 1, cap - 1, p);
	out[got] = 0;
	st = pclose(p);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}
