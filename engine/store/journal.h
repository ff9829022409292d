/* engine/store/journal.h - the attestation journal's file: records written with one durable
 * write each, read back at startup (docs/ledger.md, "The attestation journal").
 *
 * DESIGN
 * - Owns: the file DATA_DIR/eattest.journal and its descriptor (O_DSYNC: a write is on disk when
 *   it returns). What a record holds is the caller's (ledger/attest.h); this module gives it a
 *   header - magic, length, journal sequence, XXH3-64 of all three and the body - and a place:
 *   every record starts on a 4 KiB boundary, so a scan can look for good records past a bad one.
 *   The same write zeroes the rest of the record's last block and the next header, so the
 *   records end right after the newest one whatever older bytes lie further on.
 * - The file is kept at least TPC_JOURNAL_PREALLOC long with written zeros (an O_DSYNC write into
 *   blocks the file already has does not commit the file system's journal); once every record is
 *   folded into the ledger the writer rewinds it (tpc_journal_rewind): the next record goes at
 *   offset 0 over the old ones, nothing is truncated.
 * - The scan (tpc_journal_scan), given the last journal sequence the ledger folded: records at or
 *   under it are skipped; a good record whose sequence does not follow the previous one is left
 *   over from before a rewind - the end; a zero header - the end; a record that fails its
 *   checksum is torn (the write being made when the power went: never answered) when no later
 *   block holds a good record newer than the last one read, else the file is damaged
 *   (TPC_EDAMAGED: records answered may be behind the damage, the start is refused).
 * - Threads: append from one thread at a time, rewind from one thread while no append runs (the
 *   caller's lock, ledger/attest.c); scan before either.
 * - Must never: return from an append before the record is durable; call a torn record good.
 */
#ifndef TPC_STORE_JOURNAL_H
#define TPC_STORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define TPC_JOURNAL_NAME     "eattest.journal"
#define TPC_JOURNAL_BLOCK    4096u
#define TPC_JOURNAL_PREALLOC (1u << 20)
#define TPC_JOURNAL_MAX_BODY (1u << 20) /* a longer record is refused (TPC_E2BIG) */

typedef struct tpc_journal tpc_journal_t;

/** One record found by a scan: its journal sequence and body (borrowed from the scan's copy of
 *  the file, valid until the next scan or tpc_journal_free). */
typedef struct tpc_journal_entry {
	uint64_t jseq;
	const uint8_t *body;
	size_t len;
} tpc_journal_entry_t;

/** What a scan found. */
typedef struct tpc_journal_scan {
	tpc_journal_entry_t *recs; /* the records after the folded sequence, in order (owned by the
	                            * journal, valid until the next scan or free) */
	size_t nrecs;
	uint64_t last_jseq;  /* the newest good record's sequence (0: none) */
	uint64_t end;        /* where the next record goes */
	uint64_t torn_at;    /* offset of a torn record (UINT64_MAX: none) */
	uint64_t damaged_at; /* offset of the damage (TPC_EDAMAGED only) */
} tpc_journal_scan_t;

/** Open DIR/eattest.journal, creating it (and its zeros) if absent. @p readonly: for tpclear
 *  verify and backup (never created nor written). @return 0, TPC_ENOENT (read-only and absent),
 *  or a negative errno. The caller owns *out (tpc_journal_free). */
int tpc_journal_open(const char *dir, int readonly, tpc_journal_t **out);

/** Close and free; NULL-safe; sets *j to NULL. */
void tpc_journal_free(tpc_journal_t **j);

/** Read the whole file and judge it (the file header). @p folded: the last journal sequence the
 *  ledger holds. @return 0 (a torn tail is reported in out->torn_at, not an error),
 *  TPC_EDAMAGED, or a negative errno. Appends go to out->end afterwards. */
int tpc_journal_scan(tpc_journal_t *j, uint64_t folded, tpc_journal_scan_t *out);

/** Write one record durably (one pwrite on the O_DSYNC descriptor, after zeros written ahead when
 *  the file is too short). @return 0, TPC_E2BIG, or a negative errno (then nothing may be
 *  appended any more: the caller stops using the journal). */
int tpc_journal_append(tpc_journal_t *j, uint64_t jseq, const void *body, size_t len);

/** Every record is folded: the next goes at offset 0. */
void tpc_journal_rewind(tpc_journal_t *j);

/** Bytes from the start up to where the next record goes (for tests and metrics). */
uint64_t tpc_journal_end(const tpc_journal_t *j);

#endif /* TPC_STORE_JOURNAL_H */
