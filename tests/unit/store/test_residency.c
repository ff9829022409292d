/* tests/unit/store/test_residency.c - the ledger's mapped pages dropped from the resident set
 * (engine/store/residency.c, tpc_store_unmap_pages): above the budget the pages leave the
 * process's page tables and read back with the same bytes; under it, or within
 * TPC_RESIDENCY_PERIOD_MS of the last look, nothing happens. A real LMDB store in a temporary
 * directory, the process's own /proc/self/statm. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/residency.h"
#include "store/store.h"
#include "testutil.h"

#define MIB    (1024u * 1024u)
#define VALUES 64 /* of 256 KiB: 16 MiB of overflow pages */
#define VALUE  (256u * 1024u)

static char *dir;
static tpc_store_t *st;

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	cr_assert_eq(
	    tpc_store_open(
	        &(tpc_store_opts_t){.dir = dir, .map_size = 64u * MIB, .map_max = 256u * MIB}, &st),
	    0);
}

static void teardown(void)
{
	tpc_store_free(&st);
	tpc_test_rmtree_free(&dir);
}

TestSuite(residency, .init = setup, .fini = teardown);

/* The process's shared resident bytes, as the module reads them. */
static uint64_t shared_bytes(void)
{
	unsigned long long size, resident, shared;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%llu %llu %llu", &size, &resident, &shared), 3);
	fclose(f);
	return shared * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Values of byte i + k, in the "payloads" sub-database: written by pwrite (not through the map),
 * then read whole through the map by a read transaction, which makes them resident. */
static void write_values(void)
{
	const tpc_store_db_t *db = tpc_store_db(st);
	unsigned char *v = malloc(VALUE);
	MDB_txn *txn;

	cr_assert_not_null(v);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	for (uint64_t k = 0; k < VALUES; k++) {
		for (size_t i = 0; i < VALUE; i++)
			v[i] = (unsigned char)(i + k);
		cr_assert_eq(mdb_put(txn, db->payloads, &(MDB_val){8, &k}, &(MDB_val){VALUE, v}, 0),
		             0);
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	free(v);
}

/* Read every value through the map and check its bytes. @return the bytes' sum (kept live). */
static uint64_t read_values(void)
{
	const tpc_store_db_t *db = tpc_store_db(st);
	MDB_txn *txn;
	uint64_t sum = 0;

	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	for (uint64_t k = 0; k < VALUES; k++) {
		MDB_val v;

		cr_assert_eq(mdb_get(txn, db->payloads, &(MDB_val){8, &k}, &v), 0);
		cr_assert_eq(v.mv_size, VALUE);
		for (size_t i = 0; i < VALUE; i += 4096) {
			cr_assert_eq(((const unsigned char *)v.mv_data)[i], (unsigned char)(i + k),
			             "value %llu byte %zu", (unsigned long long)k, i);
			sum += ((const unsigned char *)v.mv_data)[i];
		}
	}
	mdb_txn_abort(txn);
	return sum;
}

Test(residency, above_the_budget_the_pages_leave_and_read_back_the_same)
{
	tpc_residency_t *r = NULL;
	uint64_t before, after;

	write_values();
	(void)read_values();
	before = shared_bytes();
	cr_assert_eq(tpc_residency_new(before / 2, &r), 0);
	int rc = tpc_residency_check(r, st, 1000);
	cr_assert_eq(rc, 1, "over the budget: dropped (rc %d, last %llu, before %llu)", rc,
	             (unsigned long long)tpc_residency_last(r), (unsigned long long)before);
	cr_assert_geq(tpc_residency_last(r), before - MIB, "the figure compared is statm's");
	after = shared_bytes();
	/* 16 MiB of values were resident through the map; at least most of them left */
	cr_assert_lt(after + 12 * MIB, before, "shared %llu -> %llu", (unsigned long long)before,
	             (unsigned long long)after);
	(void)read_values(); /* the same bytes, faulted back in from the page cache */
	cr_assert_gt(shared_bytes(), after + 12 * MIB, "and resident again once read");
	/* within the period of the last look: not even a look */
	cr_assert_eq(tpc_residency_check(r, st, 1000 + TPC_RESIDENCY_PERIOD_MS - 1), 0);
	cr_assert_gt(shared_bytes(), after + 12 * MIB);
	cr_assert_eq(tpc_residency_check(r, st, 1000 + TPC_RESIDENCY_PERIOD_MS), 1,
	             "a period later: dropped again");
	tpc_residency_free(&r);
	cr_assert_null(r);
	tpc_residency_free(&r); /* NULL-safe */
}

Test(residency, under_the_budget_nothing_moves)
{
	tpc_residency_t *r = NULL;
	uint64_t before;

	write_values();
	(void)read_values();
	before = shared_bytes();
	cr_assert_eq(tpc_residency_new(before + 256u * MIB, &r), 0);
	cr_assert_eq(tpc_residency_check(r, st, 1000), 0);
	cr_assert_gt(tpc_residency_last(r), 0);
	cr_assert_geq(shared_bytes() + MIB, before, "nothing dropped");
	tpc_residency_free(&r);
}

/* The map grown (remapped elsewhere) between two looks: the drop follows the current map. */
Test(residency, after_the_map_grew_the_current_map_is_dropped)
{
	tpc_residency_t *r = NULL;
	uint64_t before;

	write_values();
	cr_assert_eq(tpc_store_grow(st), 0);
	(void)read_values();
	before = shared_bytes();
	cr_assert_eq(tpc_residency_new(1, &r), 0);
	cr_assert_eq(tpc_residency_check(r, st, 5000), 1);
	cr_assert_lt(shared_bytes() + 12 * MIB, before);
	(void)read_values();
	tpc_residency_free(&r);
}
