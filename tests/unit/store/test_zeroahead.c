/* tests/unit/store/test_zeroahead.c - written zeros ahead of the ledger's last page
 * (engine/store/zeroahead.c): how far, in what steps, never over written bytes, never past the
 * map, and an error that stops it. Real files in a temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/zeroahead.h"
#include "testutil.h"

#define MIB (1024u * 1024u)

static char *dir;
static char path[4200];

static void setup(void)
{
	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
}

static void teardown(void)
{
	tpc_test_rmtree_free(&dir);
}

TestSuite(zeroahead, .init = setup, .fini = teardown);

/* A file of @p len bytes of 0xA5, standing for LMDB's pages. */
static void make_file(size_t len)
{
	unsigned char *b = malloc(len);
	FILE *f = fopen(path, "wb");

	cr_assert(b && f);
	memset(b, 0xA5, len);
	cr_assert_eq(fwrite(b, 1, len, f), len);
	fclose(f);
	free(b);
}

static off_t file_size(void)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

/* Are bytes [from, to) of the file all @p v? */
static int all_bytes(off_t from, off_t to, unsigned char v)
{
	FILE *f = fopen(path, "rb");
	int c, ok = 1;

	cr_assert_not_null(f);
	cr_assert_eq(fseeko(f, from, SEEK_SET), 0);
	for (off_t i = from; i < to && ok; i++)
		ok = (c = fgetc(f)) == v;
	fclose(f);
	return ok;
}

Test(zeroahead, steps_of_one_chunk_up_to_the_headroom_and_the_pages_stay_as_they_were)
{
	tpc_zeroahead_t *z = NULL;
	int steps = 0, rc;

	make_file(8192);
	cr_assert_eq(tpc_zeroahead_new(path, 5 * MIB, &z), 0);
	/* one chunk (2 MiB) a step, so a sending arriving meanwhile waits for one chunk only */
	cr_assert_eq(tpc_zeroahead_step(z, 8192, 1024 * MIB), 1);
	cr_assert_eq(file_size(), 8192 + 2 * MIB);
	while ((rc = tpc_zeroahead_step(z, 8192, 1024 * MIB)) == 1)
		steps++;
	cr_assert_eq(rc, 0, "nothing left to do once the headroom is there");
	cr_assert_eq(steps, 2, "5 MiB in chunks of 2: three steps in all");
	cr_assert_eq(file_size(), 8192 + 5 * MIB);
	cr_assert(all_bytes(0, 8192, 0xA5), "the pages before the end are not touched");
	cr_assert(all_bytes(8192, 8192 + 5 * MIB, 0), "what was added is zeros");
	/* the ledger grew into the zeros: the room is counted from its last page again */
	cr_assert_eq(tpc_zeroahead_step(z, 4 * MIB, 1024 * MIB), 1);
	cr_assert_eq(file_size(), 8192 + 7 * MIB);
	tpc_zeroahead_free(&z);
	cr_assert_null(z);
	tpc_zeroahead_free(&z); /* twice: a no-op */
}

Test(zeroahead, never_past_the_map_size)
{
	tpc_zeroahead_t *z = NULL;

	make_file(4096);
	cr_assert_eq(tpc_zeroahead_new(path, 64 * MIB, &z), 0);
	while (tpc_zeroahead_step(z, 4096, 3 * MIB) == 1)
		;
	cr_assert_eq(file_size(), 3 * MIB, "LMDB maps no more than the map size");
	tpc_zeroahead_free(&z);
}

Test(zeroahead, a_file_shorter_than_the_last_page_is_left_alone)
{
	tpc_zeroahead_t *z = NULL;

	/* never between committed transactions: zeros written there could land on pages LMDB
	 * has not written yet */
	make_file(4096);
	cr_assert_eq(tpc_zeroahead_new(path, 4 * MIB, &z), 0);
	cr_assert_eq(tpc_zeroahead_step(z, 8192, 1024 * MIB), 0);
	cr_assert_eq(file_size(), 4096);
	tpc_zeroahead_free(&z);
}

Test(zeroahead, a_missing_file_is_an_error_not_a_new_file)
{
	tpc_zeroahead_t *z = NULL;

	cr_assert_eq(tpc_zeroahead_new(path, 4 * MIB, &z), -ENOENT);
	cr_assert_null(z);
	cr_assert_neq(access(path, F_OK), 0, "the file is LMDB's to create");
}

Test(zeroahead, a_write_refused_by_the_system_is_returned)
{
	tpc_zeroahead_t *z = NULL;
	struct rlimit lim, old;

	/* a file size limit stands for a full disk: the write past it fails (EFBIG), and the
	 * caller is told, to stop calling */
	make_file(4096);
	cr_assert_eq(tpc_zeroahead_new(path, 4 * MIB, &z), 0);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim =
	    (struct rlimit){1 * MIB, old.rlim_max}; /* the soft limit only: it can be raised back */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_lt(tpc_zeroahead_step(z, 4096, 1024 * MIB), 0);
	lim.rlim_cur = old.rlim_cur;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert(all_bytes(0, 4096, 0xA5));
	tpc_zeroahead_free(&z);
}
