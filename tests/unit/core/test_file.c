/* tests/unit/core/test_file.c - whole files (engine/core/file.c): tpc_file_write_atomic creates and
 * replaces atomically, with mode 0640, and leaves no temporary behind, also over a stale
 * temporary and when the rename fails; tpc_file_read_all reads a file of any size, an empty
 * one, and says why it cannot.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "testutil.h"

static char *dir;

static void teardown(void)
{
	if (dir) {
		tpc_test_rmtree(dir);
		free(dir);
		dir = NULL;
	}
}

TestSuite(file, .fini = teardown, .timeout = 60);

/* Names in @p d, "|"-joined in readdir order, "." and ".." left out. */
static void list_dir(const char *d, char *out, size_t size)
{
	DIR *h = opendir(d);
	struct dirent *e;

	cr_assert_not_null(h);
	out[0] = 0;
	while ((e = readdir(h)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(out + strlen(out), size - strlen(out), "%s|", e->d_name);
	closedir(h);
}

Test(file, write_atomic_writes_and_replaces)
{
	static const char doc[] =
	    "<?xml version=\"1.0\"?>\n<Document>a longer first file</Document>\n";
	char path[4200], names[256];
	unsigned char *got;
	size_t len;
	struct stat st;

	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	snprintf(path, sizeof(path), "%s/run42-bud1.xml", dir);

	cr_assert_eq(tpc_file_write_atomic(path, doc, strlen(doc)), 0);
	got = tpc_test_slurp(path, &len);
	cr_assert_not_null(got);
	cr_assert_eq(len, strlen(doc));
	cr_assert_eq(memcmp(got, doc, len), 0);
	free(got);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777 & ~0640, 0, "mode %o", st.st_mode & 0777);

	/* replace with a shorter file: no tail of the old one survives */
	cr_assert_eq(tpc_file_write_atomic(path, "short", 5), 0);
	got = tpc_test_slurp(path, &len);
	cr_assert_not_null(got);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(got, "short", 5), 0);
	free(got);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "run42-bud1.xml|", "temporary left behind: %s", names);

	/* a stale temporary from a crashed run with our pid is overwritten, then renamed away */
	{
		char tmp[4300];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
		f = fopen(tmp, "w");
		cr_assert_not_null(f);
		fputs("stale stale stale", f);
		fclose(f);
	}
	cr_assert_eq(tpc_file_write_atomic(path, "new", 3), 0);
	got = tpc_test_slurp(path, &len);
	cr_assert_not_null(got);
	cr_assert_eq(len, 3);
	free(got);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "run42-bud1.xml|");
}

Test(file, write_atomic_failure_leaves_no_temporary)
{
	char path[4200], names[256];

	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);

	/* the target is a non-empty directory: the temporary is written, the rename fails */
	snprintf(path, sizeof(path), "%s/out.xml", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/out.xml/keep", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/out.xml", dir);
	cr_assert_eq(tpc_file_write_atomic(path, "data", 4), -EISDIR);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "out.xml|", "temporary left behind: %s", names);

	/* no such directory */
	snprintf(path, sizeof(path), "%s/missing/out.xml", dir);
	cr_assert_eq(tpc_file_write_atomic(path, "data", 4), -ENOENT);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "out.xml|");
}

Test(file, read_all_reads_any_size_and_says_why_not)
{
	char path[4200];
	uint8_t *got = NULL, *big;
	size_t len = 0, n = 200000; /* larger than the first read buffer: it grows */

	dir = tpc_test_tmpdir();
	cr_assert_not_null(dir);
	big = malloc(n);
	cr_assert_not_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 131u);
	snprintf(path, sizeof(path), "%s/big", dir);
	cr_assert_eq(tpc_file_write_atomic(path, big, n), 0);
	cr_assert_eq(tpc_file_read_all(path, &got, &len), 0);
	cr_assert_eq(len, n);
	cr_assert_eq(memcmp(got, big, n), 0);
	free(got);
	free(big);

	snprintf(path, sizeof(path), "%s/empty", dir);
	cr_assert_eq(tpc_file_write_atomic(path, "", 0), 0);
	got = NULL;
	cr_assert_eq(tpc_file_read_all(path, &got, &len), 0);
	cr_assert_eq(len, 0);
	free(got);

	snprintf(path, sizeof(path), "%s/missing", dir);
	got = NULL;
	len = 7;
	cr_assert_eq(tpc_file_read_all(path, &got, &len), -ENOENT);
	cr_assert_null(got, "nothing set on failure");
	cr_assert_eq(len, 7);
}
