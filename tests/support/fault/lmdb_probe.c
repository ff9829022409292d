/* tests/support/fault/lmdb_probe.c - how liblmdb behaves after a failed commit, under the fault
 * shim (fault.c): docs/operations.md, "How LMDB behaves after a failed commit", was observed
 * with it. Not a test: a probe to run again when liblmdb changes.
 *
 *   build/test-support/tpc_lmdb_probe DIR
 *       under LD_PRELOAD=build/test-support/tpc_fault.so TPC_FAULT_CONTROL=FILE: for each
 *       fault (enospc, short, eio-sync), one commit under it, then a read transaction, then a
 *       commit without it. With TPC_FAULT_AFTER=1 the first write of the faulted commit (its
 *       one data page) passes and the second (the meta page) fails.
 *
 * It writes FILE itself (the control file the shim reads at every call).
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int put(MDB_env *env, MDB_dbi dbi, int i)
{
	char kb[16], vb[3000];
	MDB_val k = {0, kb}, v = {sizeof(vb), vb};
	MDB_txn *t;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, &t))) {
		printf("  write txn_begin: %d %s\n", rc, mdb_strerror(rc));
		return rc;
	}
	k.mv_size = (size_t)snprintf(kb, sizeof(kb), "k%08d", i);
	memset(vb, 'x', sizeof(vb));
	if ((rc = mdb_put(t, dbi, &k, &v, 0))) {
		mdb_txn_abort(t);
		return rc;
	}
	rc = mdb_txn_commit(t);
	printf("  commit %d: %d %s\n", i, rc, rc ? mdb_strerror(rc) : "ok");
	return rc;
}

static void read_txn(MDB_env *env)
{
	MDB_txn *t;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t);

	printf("  read txn_begin: %d %s\n", rc, rc ? mdb_strerror(rc) : "ok");
	if (rc == 0)
		mdb_txn_abort(t);
}

static void set_fault(const char *mode)
{
	const char *ctl = getenv("TPC_FAULT_CONTROL");
	FILE *f = ctl ? fopen(ctl, "w") : NULL;

	if (!f) {
		fprintf(stderr, "TPC_FAULT_CONTROL must name a writable file\n");
		exit(2);
	}
	fputs(mode, f);
	fclose(f);
	printf("fault: %s\n", mode);
}

int main(int argc, char **argv)
{
	static const char *modes[] = {"enospc", "short", "eio-sync"};
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;

	if (argc != 2) {
		fprintf(stderr, "usage: tpc_lmdb_probe DIR (a new directory)\n");
		return 2;
	}
	set_fault("off");
	mkdir(argv[1], 0700);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 1u << 24) ||
	    mdb_env_open(env, argv[1], 0, 0600) || mdb_txn_begin(env, NULL, 0, &t) ||
	    mdb_dbi_open(t, NULL, 0, &dbi) || mdb_txn_commit(t))
		return 1;
	put(env, dbi, 1);
	for (int m = 0; m < 3; m++) {
		set_fault(modes[m]);
		put(env, dbi, 10 + m);
		read_txn(env);
		set_fault("off");
		put(env, dbi, 20 + m);
		read_txn(env);
	}
	mdb_env_close(env);
	return 0;
}
