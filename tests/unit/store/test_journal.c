/* tests/unit/store/test_journal.c - the attestation journal's file (engine/store/journal.h):
 * records read back, the checksum, a torn last write, damage before good records, what a
 * rewind leaves behind. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "store/journal.h"
#include "testutil.h"

static char *dir;
static tpc_journal_t *j;

static void setup(void)
{
	dir = tpc_test_tmpdir();
}

static void teardown(void)
{
	tpc_journal_free(&j);
	tpc_test_rmtree_free(&dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 30);

/* A body of @p len bytes made from @p seed, so that each record reads back as itself. */
static void body(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 31u + i);
}

static void append(uint64_t jseq, size_t len)
{
	uint8_t *b = malloc(len);

	body(b, len, (unsigned)jseq);
	cr_assert_eq(tpc_journal_append(j, jseq, b, len), 0);
	free(b);
}

static void reopen(void)
{
	tpc_journal_free(&j);
	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
}

static int scan(uint64_t folded, tpc_journal_scan_t *s)
{
	reopen();
	return tpc_journal_scan(j, folded, s);
}

static void check_recs(const tpc_journal_scan_t *s, uint64_t first, size_t n)
{
	uint8_t b[20000];

	cr_assert_eq(s->nrecs, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(s->recs[i].jseq, first + i);
		body(b, s->recs[i].len, (unsigned)(first + i));
		cr_assert_eq(memcmp(s->recs[i].body, b, s->recs[i].len), 0, "record %zu", i);
	}
}

/* Flip one byte of the file at @p off. */
static void flip(uint64_t off)
{
	char path[4096];
	uint8_t c;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, TPC_JOURNAL_NAME);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x5a;
	cr_assert_eq(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

Test(journal, records_read_back_in_order_after_the_folded_ones)
{
	tpc_journal_scan_t s;

	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
	cr_assert_eq(tpc_journal_scan(j, 0, &s), 0);
	cr_assert_eq(s.nrecs, 0, "a new file holds nothing");
	append(1, 100);
	append(2, 5000); /* two blocks */
	append(3, 0);
	append(4, 17000); /* past the first blocks, fine */
	cr_assert_eq(scan(0, &s), 0);
	check_recs(&s, 1, 4);
	cr_assert_eq(s.torn_at, UINT64_MAX);
	cr_assert_eq(s.last_jseq, 4);
	cr_assert_eq(s.end, 4096 + 8192 + 4096 + 20480);
	cr_assert_eq(scan(2, &s), 0);
	check_recs(&s, 3, 2);
	cr_assert_eq(scan(4, &s), 0);
	cr_assert_eq(s.nrecs, 0);
	/* appends go on where the scan ended */
	append(5, 10);
	cr_assert_eq(scan(4, &s), 0);
	check_recs(&s, 5, 1);
}

Test(journal, the_file_grows_with_written_zeros)
{
	tpc_journal_scan_t s;

	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
	cr_assert_eq(tpc_journal_scan(j, 0, &s), 0);
	for (uint64_t q = 1; q <= 300; q++)
		append(q, 3000); /* 300 blocks: past the first MiB */
	cr_assert_eq(scan(0, &s), 0);
	check_recs(&s, 1, 300);
}

Test(journal, a_torn_last_record_is_left_out_and_written_over)
{
	tpc_journal_scan_t s;

	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
	cr_assert_eq(tpc_journal_scan(j, 0, &s), 0);
	append(1, 100);
	append(2, 100);
	append(3, 6000);
	flip(2 * 4096 + 24 + 5000); /* the body of the last record, in its second block */
	cr_assert_eq(scan(0, &s), 0);
	check_recs(&s, 1, 2);
	cr_assert_eq(s.torn_at, 2 * 4096);
	cr_assert_eq(s.end, 2 * 4096);
	/* the next record takes its place */
	append(3, 50);
	cr_assert_eq(scan(0, &s), 0);
	check_recs(&s, 1, 3);
	cr_assert_eq(s.torn_at, UINT64_MAX, "a zero header follows the new record");
	/* a header torn in its magic */
	flip(2 * 4096);
	cr_assert_eq(scan(0, &s), 0);
	check_recs(&s, 1, 2);
	cr_assert_eq(s.torn_at, 2 * 4096);
}

Test(journal, damage_before_good_records_is_refused)
{
	tpc_journal_scan_t s;

	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
	cr_assert_eq(tpc_journal_scan(j, 0, &s), 0);
	for (uint64_t q = 1; q <= 4; q++)
		append(q, 100);
	flip(4096 + 30); /* record 2's body */
	cr_assert_eq(scan(0, &s), TPC_EDAMAGED);
	cr_assert_eq(s.damaged_at, 2 * 4096, "record 3 is good and newer");
	/* folded past the damage: what follows is not newer than what the ledger holds, and the
	 * records still to fold are read */
	cr_assert_eq(scan(3, &s), TPC_EDAMAGED, "record 4 is still to fold");
	cr_assert_eq(scan(4, &s), 0);
	cr_assert_eq(s.nrecs, 0);
	cr_assert_eq(s.torn_at, 4096);
}

Test(journal, records_left_from_before_a_rewind_end_the_records)
{
	tpc_journal_scan_t s;

	cr_assert_eq(tpc_journal_open(dir, 0, &j), 0);
	cr_assert_eq(tpc_journal_scan(j, 0, &s), 0);
	for (uint64_t q = 1; q <= 5; q++)
		append(q, 100);
	tpc_journal_rewind(j); /* 1-5 folded */
	append(6, 100);
	append(7, 100);
	cr_assert_eq(scan(5, &s), 0);
	check_recs(&s, 6, 2);
	cr_assert_eq(s.end, 2 * 4096, "3, 4 and 5 are older than 7");
	cr_assert_eq(s.torn_at, UINT64_MAX);
	/* a torn first record after the rewind, with old ones after it: a torn tail, not damage */
	tpc_journal_rewind(j);
	append(8, 100);
	flip(30);
	cr_assert_eq(scan(7, &s), 0);
	cr_assert_eq(s.nrecs, 0);
	cr_assert_eq(s.torn_at, 0);
}

Test(journal, read_only_opens_no_file)
{
	cr_assert_eq(tpc_journal_open(dir, 1, &j), TPC_ENOENT);
	cr_assert_null(j);
}
