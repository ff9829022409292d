/* engine/store/check.h - the ledger's startup checks: damage found before it is served.
 *
 * DESIGN
 * - Owns: what tpc_store_open() checks of a ledger before the engine takes a sending from it.
 *   Two steps. Before LMDB maps the file, tpc_check_file() reads the two LMDB meta pages itself
 *   and measures the file: a file shorter than the pages its meta says it holds would be mapped
 *   and read past its end, which is a SIGBUS, not an error code. After the environment is open
 *   and the schema checked, tpc_check_newest() reads the newest sendings through the same
 *   decoders as a replay or a query (store/records.h): a damage there would be served.
 * - Each refusal is one log line naming the file and what is wrong; the caller stops startup.
 *   docs/operations.md ("Startup checks") lists every message and what to do.
 * - Also here: the device holding the ledger, described once at startup for the log line of a
 *   full disk (pipeline/writer.c).
 * - Threads: the thread that opens the store, before any other thread exists.
 * - Must never: write anything (these are checks), or trust a length read from the file before
 *   it is bounded.
 */
#ifndef TPC_STORE_CHECK_H
#define TPC_STORE_CHECK_H

#include "store/dbs.h"

#include <lmdb.h>
#include <stddef.h>

/** Sendings read back by tpc_check_newest() at startup: enough to catch a damage of the last
 *  commits (where a crash or a full disk strikes), few enough to cost milliseconds. */
#define TPC_CHECK_NEWEST 64

/** Check DIR/data.mdb before LMDB maps it: both meta pages valid (page flag, magic 0xBEEFC0DE,
 *  version, page size, root pages within the file's pages), and the file at least as long as the
 *  pages the newest meta says it holds. No file is a new ledger, and fine.
 *  @return 0, TPC_EDB for a damaged file (logged: the file and what is wrong), or a negative
 *  errno when it cannot be read. */
int tpc_check_file(const char *dir);

/** Read back the newest @p n sendings of an open store: each answer's header and body decode,
 *  its sequence is its key's, its stored Result unpacks, its (sender, key) entry in "sendings"
 *  names it with the same payload hash, and its line records are there, one per line of the
 *  Result, each of the line layout.
 *  @param[in] db   the store's handles (borrowed)
 *  @param[in] dir  the data directory, for the message
 *  @return 0, TPC_EDB on a damage (logged), TPC_ENOMEM, or the LMDB failure translated. */
int tpc_check_newest(const tpc_store_db_t *db, unsigned n, const char *dir);

/** Describe the device that holds @p path for a log line: "MAJOR:MINOR mounted on MOUNT
 *  (FSTYPE SOURCE)", or "MAJOR:MINOR" when /proc/self/mountinfo does not say.
 *  Writes a NUL-terminated string of at most @p len bytes to @p buf. */
void tpc_check_device(const char *path, char *buf, size_t len);

#endif /* TPC_STORE_CHECK_H */
