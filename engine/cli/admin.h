/* engine/cli/admin.h - the commands that work on a data directory, not through the engine:
 * `tpclear verify` and `tpclear backup` (docs/operations.md).
 *
 * Both open the ledger read-only in this process (store/store.h tpc_store_open_readonly()), so
 * they work while a daemon runs on the same directory and take no lock it holds. Exit codes:
 * 0 done (verify: clean), 1 verify found problems / backup failed, 2 usage or the ledger cannot
 * be opened.
 */
#ifndef TPC_CLI_ADMIN_H
#define TPC_CLI_ADMIN_H

/** `tpclear verify [--json]`: check every record and invariant of the ledger in @p data_dir
 *  (ledger/verify.h); the problems on stdout (one per line, or one JSON document with
 *  @p json), a progress bar on stderr when it is a terminal and @p quiet is 0.
 *  @return the exit code. */
int tpc_cli_verify(const char *data_dir, int json, int quiet);

/** `tpclear backup DIR`: a compacted, consistent copy of the ledger in @p data_dir into
 *  @p dest/data.mdb (LMDB's mdb_env_copy2 with MDB_CP_COMPACT: one read snapshot, taken while
 *  the engine runs), then the other files a restore needs (the engine's key pair, the senders
 *  registry, the SEPA files of payments/). @p dest must be empty or absent.
 *  @return the exit code. */
int tpc_cli_backup(const char *data_dir, const char *dest);

#endif /* TPC_CLI_ADMIN_H */
