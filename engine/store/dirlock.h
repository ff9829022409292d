/* engine/store/dirlock.h - one daemon per data directory: the lock on DATA_DIR/lock.
 *
 * DESIGN
 * - Owns: the file DATA_DIR/lock and an exclusive flock(2) on it, taken before anything of the
 *   ledger is created or touched (tpc_store_open() takes it before mdb_env_open) and held for
 *   the life of the store. The file holds the pid of the holder, for the message a second daemon
 *   prints; the lock itself is the flock, which the kernel drops when the holder dies however
 *   it dies (kill -9 included), so a stale file never blocks a restart.
 * - Why not LMDB's lock.mdb: LMDB lets any number of processes open an environment (its lock
 *   file is the readers' table), and a second writer process is what broke the first's
 *   numbering (issue 14). Read-only tools (mdb_stat, mdb_dump, tpclear verify and backup) open
 *   LMDB with MDB_RDONLY and never take this lock: they may run beside the daemon.
 * - Threads: the thread that opens the store; no state of its own beyond the descriptor.
 */
#ifndef TPC_STORE_DIRLOCK_H
#define TPC_STORE_DIRLOCK_H

/** Take the lock of data directory @p dir (which must exist) without waiting, and write this
 *  process's pid into DATA_DIR/lock. A refusal is logged with the directory and the holder's pid.
 *  @param[out] fd  the lock's descriptor (close-on-exec), owned by the caller: release it with
 *                  tpc_dirlock_release()
 *  @return 0, TPC_EBUSY when another process holds it, or another negative errno. */
int tpc_dirlock_take(const char *dir, int *fd);

/** Release the lock (closing its descriptor); NULL-safe and -1-safe; sets *@p fd to -1. The file
 *  stays: removing it would race a daemon starting at that moment. */
void tpc_dirlock_release(int *fd);

#endif /* TPC_STORE_DIRLOCK_H */
