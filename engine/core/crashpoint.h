/* engine/core/crashpoint.h - named places where a test build kills its own process, for the
 * crash campaign (tests/crash/, docs/reliability.md).
 *
 * A crash point is a line such as TPC_CRASHPOINT("payrun.payment") placed where a kill -9 is
 * worth testing but hard to hit by timing alone: inside a payment run's write transaction,
 * between its commit and its SEPA files. With the environment variable TPC_CRASHPOINT set to
 * "NAME:N", the N-th time this process passes the point NAME it raises SIGKILL: no handler, no
 * atexit, no LMDB abort, exactly what a kill -9 at that instruction does. Unset, or naming
 * another point, nothing happens.
 *
 * Compiled in only when the build defines TPC_CRASHPOINTS (CMake option TPC_CRASHPOINTS: on by
 * default in developer builds that build the tests, refused in Release and MinSizeRel builds,
 * which is what deploy/ packages). Without it TPC_CRASHPOINT() is an empty statement and the
 * variable is never read, so a production engine cannot be made to kill itself this way.
 *
 * Thread-safe: the variable is read once, the count is atomic.
 */
#ifndef TPC_CRASHPOINT_H
#define TPC_CRASHPOINT_H

#ifdef TPC_CRASHPOINTS
/** Count one pass through the point @p name (a static string) and raise SIGKILL when it is the
 *  pass TPC_CRASHPOINT asks for. Use through TPC_CRASHPOINT(). */
void tpc_crashpoint_(const char *name);
#define TPC_CRASHPOINT(name) tpc_crashpoint_(name)
#else
#define TPC_CRASHPOINT(name) ((void)0)
#endif

#endif /* TPC_CRASHPOINT_H */
