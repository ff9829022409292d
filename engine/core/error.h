/* engine/core/error.h - one number space for every error in tpclear.
 *
 * DESIGN (engine/core/, the folder this header heads)
 * Owns:   what every other folder stands on and nothing about health care: the per-sending arena
 *         (arena.h), the bounded queues between threads (queue.h), this error space, one-line
 *         logs (log.h), whole-file reads and durable writes (file.h), the XML writer (xmlw.h),
 *         the metrics registry (metrics.h), the configuration (config.h), the registry of
 *         tpclear's own codes (codes.h) and the crash points of test builds (crashpoint.h).
 * Thread: none of its own. Each module says which threads may call it; the queues are the only
 *         objects two threads touch, the metrics shards are written by one thread and summed by
 *         the loop thread.
 * Never:  include a header from another engine folder (core is at the bottom of the include
 *         graph: tests/house/check finds cycles; the one exception is clearing/budget.h, a leaf
 *         holding the closed list of budgets that config's [budget.NAME] sections name), know a
 *         scheme, a tariff or a record layout, or block on anything but its own mutex (queues)
 *         and the file it was asked to write.
 *
 * Every function that can fail returns int: 0, or a negative TPC_E* code. Codes that mirror an
 * errno value are exactly -errno (TPC_ENOMEM == -ENOMEM), so a failing system call translates
 * with `return -errno;`. tpclear's own codes sit in a reserved range below TPC_E_BASE, far from
 * any errno; LMDB and ZeroMQ codes are translated at their wrapper boundary
 * (tpc_err_from_mdb()). tpc_strerror() names every code.
 */
#ifndef TPC_ERROR_H
#define TPC_ERROR_H

#include <errno.h>

enum tpc_error {
	TPC_OK = 0,
	TPC_ENOMEM = -ENOMEM,
	TPC_EINVAL = -EINVAL,
	TPC_EAGAIN = -EAGAIN, /* queue full: try again later */
	TPC_EEXIST = -EEXIST,
	TPC_ENOENT = -ENOENT,
	TPC_EIO = -EIO,
	TPC_ENOTSUP = -EOPNOTSUPP,
	TPC_E2BIG = -E2BIG,
	TPC_ENOSPC = -ENOSPC,
	TPC_ECANCELED = -ECANCELED, /* shutting down */
	TPC_EACCES = -EACCES,       /* not allowed (authorization, file permissions) */
	TPC_EBUSY = -EBUSY,         /* held by another process (the data directory's lock) */
	TPC_E_BASE = -10000,
	TPC_EPROTO = TPC_E_BASE - 1,    /* malformed protocol message */
	TPC_ECONFIG = TPC_E_BASE - 2,   /* bad configuration */
	TPC_EABI = TPC_E_BASE - 3,      /* adapter ABI mismatch */
	TPC_ECONFLICT = TPC_E_BASE - 4, /* same key, different payload */
	TPC_EMAPFULL = TPC_E_BASE - 5,  /* LMDB map at its configured ceiling */
	TPC_EDB = TPC_E_BASE - 6,       /* other LMDB failure */
	TPC_EZMQ = TPC_E_BASE - 7,      /* ZeroMQ failure */
	TPC_EDAMAGED = TPC_E_BASE - 8,  /* a stored record failed its checksum (store/records.h) */
};

/** Name an error code.
 *  @return a static string; never NULL (unknown codes give "unknown error"). Thread-safe. */
const char *tpc_strerror(int code);

/** Translate an LMDB return code (0, errno or MDB_*) into a TPC_E* code; a TPC_E* code of our
 *  own range (kept in a sticky txn error, store/txn.h) passes through. */
int tpc_err_from_mdb(int mdb_rc);

/** Fatal even under NDEBUG: a broken invariant the process cannot survive. */
#define TPC_REQUIRE(x)                                                                             \
	do {                                                                                       \
		if (!(x))                                                                          \
			tpc_die_(__FILE__, __LINE__, #x);                                          \
	} while (0)

/** A recoverable "can't happen": logs in debug builds, evaluates to true when @p x is false. */
#ifdef NDEBUG
#define TPC_FAILS(x) (!(x))
#else
#define TPC_FAILS(x) (!(x) ? (tpc_fails_(__FILE__, __LINE__, #x), 1) : 0)
#endif

_Noreturn void tpc_die_(const char *file, int line, const char *expr);
void tpc_fails_(const char *file, int line, const char *expr);

#endif /* TPC_ERROR_H */
