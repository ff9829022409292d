/* engine/core/error.c - error names and translations (see error.h). */
#include "core/error.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our own codes first, then the errno range (-1 .. TPC_E_BASE + 1): codes that mirror errno
 * are exactly -errno (error.h), so the C library names them without a table of ours. glibc's
 * strerror() returns its static table entry for every errno it knows, which is what makes this
 * usable from any thread as error.h promises; an unknown errno would use a shared buffer. */
const char *tpc_strerror(int code)
{
	switch (code) {
	case TPC_OK:
		return "success";
	case TPC_EPROTO:
		return "malformed protocol message";
	case TPC_ECONFIG:
		return "bad configuration";
	case TPC_EABI:
		return "adapter ABI mismatch";
	case TPC_ECONFLICT:
		return "idempotency key already used with a different payload";
	case TPC_EMAPFULL:
		return "ledger map reached its configured ceiling";
	case TPC_EDB:
		return "ledger database error";
	case TPC_EZMQ:
		return "ZeroMQ error";
	case TPC_EDAMAGED:
		return "stored record damaged (checksum mismatch)";
	default:
		break;
	}
	if (code < 0 && code > TPC_E_BASE)
		return strerror(-code);
	return "unknown error";
}

/* LMDB returns 0, a positive errno (ENOMEM, ENOSPC, EACCES ... from the system calls it makes)
 * or a negative MDB_* code in -30799..-30780. The three MDB_* codes callers act on get their own
 * TPC_E*: NOTFOUND (absent key), KEYEXIST (MDB_NOOVERWRITE), MAP_FULL (the writer grows the map
 * and replays, docs/architecture.md); the rest are all "the database failed" to a caller. */
int tpc_err_from_mdb(int rc)
{
	if (rc == 0)
		return 0;
	if (rc > 0)
		return -rc; /* errno value */
	/* one of ours, e.g. TPC_EDAMAGED from a record decoder kept in a sticky txn error */
	if (rc < TPC_E_BASE && rc > MDB_KEYEXIST)
		return rc;
	switch (rc) {
	case MDB_NOTFOUND:
		return TPC_ENOENT;
	case MDB_KEYEXIST:
		return TPC_EEXIST;
	case MDB_MAP_FULL:
		return TPC_EMAPFULL;
	default:
		return TPC_EDB;
	}
}

/* fprintf, not tpc_log(): the process is about to abort and the record must not depend on the
 * log level. abort() rather than exit() so a core dump keeps the broken state. */
void tpc_die_(const char *file, int line, const char *expr)
{
	fprintf(stderr, "tpclear: fatal: %s:%d: requirement failed: %s\n", file, line, expr);
	abort();
}

void tpc_fails_(const char *file, int line, const char *expr)
{
	fprintf(stderr, "tpclear: %s:%d: check failed: %s\n", file, line, expr);
}
