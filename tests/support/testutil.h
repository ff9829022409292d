/* tests/support/testutil.h - helpers shared by the Criterion suites. */
#ifndef TPC_TESTUTIL_H
#define TPC_TESTUTIL_H

#include "core/arena.h"
#include "refdata/refdata.h"
#include "tpclear.pb-c.h"

#include <libxml/tree.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/** Make a fresh temporary directory; @return a malloc'd path (the caller frees it). */
char *tpc_test_tmpdir(void);

/** Remove a directory tree (best effort). */
void tpc_test_rmtree(const char *path);

/** Remove the tree at *@p dir (from tpc_test_tmpdir()), free the path and set it NULL: a
 *  suite's teardown, safe when setup never made it. */
void tpc_test_rmtree_free(char **dir);

/** Read a whole file into a malloc'd buffer; @return NULL on failure. */
unsigned char *tpc_test_slurp(const char *path, size_t *len);

/** Path of a file under the source tree (TPC_SOURCE_DIR); @return a static buffer. */
const char *tpc_test_src(const char *rel);

/** Run `promtool check metrics` on the exposition @p text (docs/metrics.md); what it printed
 *  goes to @p out (NUL-terminated, cut at @p cap).
 *  @return its exit status (0: clean, and then @p out is empty), or -1 when promtool is not
 *  installed (the caller skips, saying so). */
int tpc_test_promtool_metrics(const char *text, char *out, size_t cap);

/** Open a scratch LMDB environment (32 named databases, 16 MiB) in a fresh temporary
 *  directory and begin a write transaction in it, asserting each step.
 *  @param[out] dir  the directory, malloc'd (tpc_test_lmdb_close() frees it)
 *  @param[out] env  the environment (tpc_test_lmdb_close() closes it)
 *  @param[out] txn  the write transaction: the caller opens its databases and commits it */
void tpc_test_lmdb_open(char **dir, MDB_env **env, MDB_txn **txn);

/** Close @p env (when set), remove @p dir and free it: the undo of tpc_test_lmdb_open(). */
void tpc_test_lmdb_close(MDB_env *env, char *dir);

/** The store of the refdata and schemes suites: an arena of @p arena_size bytes, a scratch
 *  LMDB environment (tpc_test_lmdb_open()) and the reference databases opened in it into
 *  @p dbs and committed. Undone by tpc_test_store_close(). */
void tpc_test_refdata_open(size_t arena_size, tpc_arena_t **arena, char **dir, MDB_env **env,
                           tpc_refdata_dbs_t *dbs);

/** Free @p arena and tpc_test_lmdb_close() @p env and @p dir: a suite's teardown. */
void tpc_test_store_close(tpc_arena_t **arena, MDB_env *env, char *dir);

/** config/refdata/<kind>.csv parsed into @p arena (asserted to read and parse). */
tpc_ref_table_t tpc_test_refdata_sample(enum tpc_ref_kind kind, tpc_arena_t *arena);

/** What a tpclear.Result adds up to: its outcome, counts and amounts. */
typedef struct tpc_test_totals {
	Tpclear__Outcome outcome;
	uint32_t invoices, lines, lines_accepted, lines_refused;
	int64_t accepted_cents, refused_cents;
} tpc_test_totals_t;

/** Assert that @p r adds up to @p want, a failure naming the field and both values. */
void tpc_test_expect_totals(const Tpclear__Result *r, tpc_test_totals_t want);

/** The XPath 1.0 string() of @p expr in @p doc, @p prefix bound to namespace @p ns: the text
 *  of the first node it selects, "" when none. @return malloc'd (the caller frees it). */
char *tpc_test_xpath_string(xmlDocPtr doc, const char *prefix, const char *ns, const char *expr);

/** The XPath 1.0 string value of @p expr in the Kmehr document @p xml (@p len bytes), with
 *  p, c and k bound to the messageservices protocol v1, core v1 and kmehr schema v1
 *  namespaces (docs/formats/eattest.md). @return malloc'd (the caller frees it). */
char *tpc_test_kmehr_string(const void *xml, size_t len, const char *expr);

/** Days since 1970-01-01 of a test date YYYYMMDD (asserted valid). */
int32_t tpc_test_day(uint32_t yyyymmdd);

#endif
