/* tests/unit/store/test_check.c - the startup check of a ledger file before LMDB maps it
 * (engine/store/check.c, tpc_check_file), on a real LMDB file with its meta pages altered one
 * field at a time. The daemon-level refusals and their messages are in
 * tests/integration/test_storage.c.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "store/check.h"
#include "testutil.h"

static char *dir;
static char file[4200];
static uint32_t psize;

/* A ledger-like file: two commits, so that each meta page holds a transaction. */
static void setup(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {3, "key"}, v = {5, "value"};
	int fd;

	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
		cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
		cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
	}
	mdb_env_close(env);
	fd = open(file, O_RDONLY);
	cr_assert_eq(pread(fd, &psize, 4, 40), 4);
	close(fd);
}

static void teardown(void)
{
	tpc_test_rmtree_free(&dir);
}

TestSuite(check, .init = setup, .fini = teardown);

static uint64_t get64(int page, size_t off)
{
	uint64_t v;
	int fd = open(file, O_RDONLY);

	cr_assert_eq(pread(fd, &v, 8, (off_t)page * psize + (off_t)off), 8);
	close(fd);
	return v;
}

static void put(int page, size_t off, const void *p, size_t n)
{
	int fd = open(file, O_WRONLY);

	cr_assert_eq(pwrite(fd, p, n, (off_t)page * psize + (off_t)off), (ssize_t)n);
	close(fd);
}

static void put64(int page, size_t off, uint64_t v)
{
	put(page, off, &v, 8);
}

/* the meta page LMDB uses: the one with the greater transaction id */
static int newest(void)
{
	return get64(0, 144) < get64(1, 144);
}

Test(check, a_sound_file_and_no_file_pass)
{
	cr_assert_eq(tpc_check_file(dir), 0);
	cr_assert_eq(unlink(file), 0);
	cr_assert_eq(tpc_check_file(dir), 0, "no data.mdb is a new ledger");
}

Test(check, an_unknown_data_version_is_refused)
{
	uint32_t v = 2;

	put(newest(), 20, &v, 4);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}

Test(check, an_impossible_page_size_is_refused)
{
	uint32_t v = 3000;

	put(1 - newest(), 40, &v, 4);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB, "the older meta page is judged too");
}

Test(check, a_root_beyond_the_last_page_is_refused)
{
	int m = newest();

	put64(m, 128, get64(m, 136) + 5);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}

Test(check, a_root_on_a_meta_page_is_refused)
{
	put64(newest(), 80, 1);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}

Test(check, the_length_is_judged_by_the_newest_meta_page_only)
{
	int m = newest();
	uint64_t last = get64(m, 136);

	/* the older meta page may name fewer pages; one more page than the file holds, in the
	 * older meta page, is what LMDB never reads: accepted */
	put64(1 - m, 136, last + 1);
	cr_assert_eq(tpc_check_file(dir), 0);
	/* in the newest, it is a truncated file */
	put64(m, 136, last + 1);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}

Test(check, a_last_page_out_of_range_is_refused_not_overflowed)
{
	/* (last + 1) * page size must not wrap around to a small number */
	put64(newest(), 136, UINT64_MAX / 2);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}

Test(check, a_file_shorter_than_a_meta_header_is_refused)
{
	cr_assert_eq(truncate(file, 100), 0);
	cr_assert_eq(tpc_check_file(dir), TPC_EDB);
}
