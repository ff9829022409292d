/* tests/unit/store/test_dirlock.c - the data directory's lock (engine/store/dirlock.c). A flock
 * belongs to an open file, so two takes in one process conflict as two daemons would. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "store/dirlock.h"
#include "testutil.h"

Test(dirlock, a_second_take_is_refused_until_the_first_is_released)
{
	char *dir = tpc_test_tmpdir(), path[4200];
	int a = -1, b = -1;
	unsigned char *pid;
	size_t len;

	cr_assert_not_null(dir);
	cr_assert_eq(tpc_dirlock_take(dir, &a), 0);
	cr_assert_geq(a, 0);
	/* the holder's pid is in the file, for the refusal's message */
	snprintf(path, sizeof(path), "%s/lock", dir);
	pid = tpc_test_slurp(path, &len);
	cr_assert_not_null(pid);
	cr_assert_eq(atol((char *)pid), (long)getpid());
	free(pid);
	cr_assert_eq(tpc_dirlock_take(dir, &b), TPC_EBUSY);
	cr_assert_eq(b, -1, "a refused take hands out no descriptor");
	tpc_dirlock_release(&a);
	cr_assert_eq(a, -1);
	tpc_dirlock_release(&a); /* twice: a no-op */
	cr_assert_eq(tpc_dirlock_take(dir, &b), 0, "the lock goes with its holder");
	tpc_dirlock_release(&b);
	tpc_test_rmtree_free(&dir);
}

Test(dirlock, a_missing_directory_is_an_error_not_a_crash)
{
	int fd = -1;

	cr_assert_eq(tpc_dirlock_take("/nonexistent/tpclear/data", &fd), -ENOENT);
	cr_assert_eq(fd, -1);
}
