/* engine/store/store.h - the LMDB environment of the data directory: sub-databases, schema, map
 * size and its growth, readers with short read transactions, the lookup of a stored sending.
 *
 * DESIGN
 * - Owns: the MDB_env, every sub-database handle (store/dbs.h), the schema check ("meta",
 *   TPC_LEDGER_SCHEMA), the map size and the lock that makes growing it safe. Record layouts are
 *   in store/records.h, the transaction helper in store/txn.h. docs/ledger.md is the map of the
 *   sub-databases.
 * - Threads: tpc_store_open() and tpc_store_free() run on the thread that builds the engine.
 *   Any thread reads, each through its own tpc_store_reader_t (one short read transaction at a
 *   time, renewed per use). Exactly one thread writes: the ledger writer
 *   (pipeline/writer.h), which alone calls tpc_store_grow().
 * - Map growth: mdb_env_set_mapsize needs no live transaction in the process, so readers hold
 *   the resize lock shared around their transactions and tpc_store_grow() takes it exclusively;
 *   the one lock shared outside a queue, taken on that rare path only.
 * - One writer process: tpc_store_open() is the writer's open. It takes DATA_DIR/lock
 *   (store/dirlock.h) before LMDB creates or maps anything, and checks the ledger for damage
 *   before it is served (store/check.h); tpc_store_free() lets the lock go. Read-only tools
 *   open LMDB themselves with MDB_RDONLY and need neither.
 * - Must never: keep a read transaction open across a queue wait (it pins old pages and would
 *   block a map resize), or write outside the writer thread.
 */
#ifndef TPC_STORE_H
#define TPC_STORE_H

#include "core/arena.h"
#include "store/dbs.h"
#include "store/records.h"
#include "refdata/snapshot.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tpc_store tpc_store_t;
typedef struct tpc_store_reader tpc_store_reader_t;
struct tpc_attest; /* ledger/attest.h */

/** Where and how to open the store (the writer fills it from the configuration: the store
 *  knows nothing of the configuration file). */
typedef struct tpc_store_opts {
	const char *dir;    /* data directory, created if missing (borrowed) */
	size_t map_size;    /* initial map size in bytes */
	size_t map_max;     /* ceiling of tpc_store_grow() */
	unsigned env_flags; /* 0, MDB_NOMETASYNC or MDB_NOSYNC (durability) */
} tpc_store_opts_t;

/** Open (creating if needed) the store in opts->dir for writing: the data directory's lock
 *  taken, the file checked before it is mapped (meta pages, length), every sub-database, the
 *  schema checked (or written in a new store), the newest sendings read back, the map at least
 *  opts->map_size (an existing larger map is adopted).
 *  @param[out] out  new store, owned by the caller; release with tpc_store_free()
 *  @return 0, TPC_EBUSY (another process holds the directory), TPC_EDB (a damaged ledger) or
 *  another negative TPC_E* code; every refusal is logged naming the directory or file. */
int tpc_store_open(const tpc_store_opts_t *opts, tpc_store_t **out);

/** Open the store in @p dir read-only, for the tools (tpclear verify, backup): nothing is
 *  created or written, the schema is read and not raised, the reference data's handles are not
 *  opened. Works while a daemon runs on @p dir: LMDB's reader table is shared, and no lock the
 *  daemon holds is taken.
 *  @param[out] out     new store, owned by the caller; release with tpc_store_free()
 *  @param[out] schema  the store's schema number (TPC_LEDGER_SCHEMA_READ..TPC_LEDGER_SCHEMA)
 *  @return 0 or a negative TPC_E* code (logged: no such ledger, a missing sub-database, a
 *  schema this build does not read). */
int tpc_store_open_readonly(const char *dir, tpc_store_t **out, uint32_t *schema);

/** Close the environment; NULL-safe; sets *@p st to NULL. No reader or writer may be left. */
void tpc_store_free(tpc_store_t **st);

/** The sub-database handles (borrowed, valid until tpc_store_free()). */
const tpc_store_db_t *tpc_store_db(const tpc_store_t *st);

/** Double the map, up to opts->map_max. Writer thread only, with no transaction of its own.
 *  @return 0, TPC_EMAPFULL at the ceiling, or another negative TPC_E* code. */
int tpc_store_grow(tpc_store_t *st);

/** Current map size in bytes (any thread). */
size_t tpc_store_map_size(const tpc_store_t *st);
/** The bytes LMDB uses, (last page number + 1) x page size, and the map size: between write
 *  transactions, on the writer thread (store/zeroahead.h).
 *  @return 0 or a negative error from LMDB. */
int tpc_store_extent(tpc_store_t *st, uint64_t *used, uint64_t *map);

/** Drop the map's pages, up to LMDB's last page, from the daemon's page tables
 *  (MADV_DONTNEED; the pages stay in the page cache, a later read faults them back in):
 *  store/residency.h. Writer thread only, between transactions (it alone remaps the map); never
 *  with MDB_WRITEMAP, which the store does not use. @return 0 or a negative errno. */
int tpc_store_unmap_pages(tpc_store_t *st);

/** The device holding the ledger, as store/check.h describes it (borrowed; any thread). */
const char *tpc_store_device(const tpc_store_t *st);

/** After a failed commit: does the environment still take transactions? LMDB refuses every
 *  one (MDB_PANIC) once a commit failed writing its meta page. Writer thread, with no
 *  transaction of its own. @return 0 when usable, else the translated LMDB code. */
int tpc_store_usable(tpc_store_t *st);

/** @param[out] out a reader for one thread; release with tpc_store_reader_free().
 *  @return 0 or TPC_ENOMEM. */
int tpc_store_reader_new(tpc_store_t *st, tpc_store_reader_t **out);

/** Release a reader (NULL-safe; sets *@p r to NULL). */
void tpc_store_reader_free(tpc_store_reader_t **r);

/** Begin a read transaction on every sub-database. End it with tpc_store_read_end() before
 *  any other call on @p r.
 *  @param[out] txn, db  valid until the transaction ends
 *  @return 0 or a negative TPC_E* code. */
int tpc_store_read_begin(tpc_store_reader_t *r, MDB_txn **txn, const tpc_store_db_t **db);
void tpc_store_read_end(tpc_store_reader_t *r);

/** The same transaction, seen as the snapshot the clearing checks read (reference data and the
 *  indexes of earlier sendings): one committed state however long a sending takes. */
int tpc_store_snapshot_begin(tpc_store_reader_t *r, MDB_txn **txn, const tpc_ledger_dbs_t **dbs);
void tpc_store_snapshot_end(tpc_store_reader_t *r);

/** The reference data in memory (refdata/snapshot.h) in force, one reference taken for the
 *  caller: release it with tpc_refsnap_release() once the sending is judged. NULL for a store
 *  opened read-only (the tools do not clear). Any reader's thread. */
tpc_refsnap_t *tpc_store_refdata(tpc_store_reader_t *r);

/** Build the reference data in memory from the committed state and put it in force: at open,
 *  and by the writer after each committed load. On failure the one before stays in force.
 *  @return 0 or a negative TPC_E* code (TPC_ENOMEM). Writer thread. */
int tpc_store_refdata_rebuild(tpc_store_t *st);

/** Find (sender, key) in "sendings" inside @p t.
 *  @param[out] seq, hash  the stored sequence and payload hash, zero-padded (either may be NULL)
 *  @param[out] hash_len   the hash's length: 16 (XXH3-128) or 32 (BLAKE2b-256, an older
 *                         engine's; store/records.h "Payload hash"); may be NULL
 *  @return true when found; false when absent or on error (t->ret: MDB_CORRUPTED for a value
 *  of the wrong size, MDB_BAD_VALSIZE for names too long for a key). */
bool tpc_store_find_sending(tpc_txn_t *t, const tpc_store_db_t *db, const char *sender,
                            const char *key, uint64_t *seq, uint8_t hash[TPC_HASH_LEN],
                            size_t *hash_len);

/** Look up (sender, key) and decode its stored answer.
 *  @param[in]  arena  receives copies of the stored bytes (borrowed)
 *  @param[out] out    filled when found
 *  @return 0, TPC_ENOENT, TPC_EINVAL (names too long), TPC_ENOMEM or TPC_EDB. */
int tpc_store_lookup(tpc_store_reader_t *r, const char *sender, const char *key, tpc_arena_t *arena,
                     tpc_stored_t *out);

/** Count the line verdicts stored for sequence @p seq (tests and tools). */
int tpc_store_count_lines(tpc_store_reader_t *r, uint64_t seq, uint64_t *count);

/** Count the sendings in the idempotency index (tests and tools). */
int tpc_store_count_sendings(tpc_store_reader_t *r, uint64_t *count);

/** The attestation journal (ledger/attest.h) the writer opened, lent to the express worker
 *  through the store both are given (borrowed; NULL: none). Set before the workers start. */
void tpc_store_set_attest(tpc_store_t *st, struct tpc_attest *a);
struct tpc_attest *tpc_store_attest(const tpc_store_t *st);

#endif /* TPC_STORE_H */
