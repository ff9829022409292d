/* tests/crash/journal.h - the record layout of the write journal that journal_shim.c appends and
 * powercut.c reads back (both run on the same machine: native byte order). */
#ifndef TPC_CRASH_JOURNAL_H
#define TPC_CRASH_JOURNAL_H

#include <stdint.h>

#define TPC_JOURNAL_MAGIC 0x4c4e524au /* "JRNL" */

/** One record; a 'W' record is followed by its len bytes. */
struct tpc_journal_rec {
	uint32_t magic;
	uint8_t type;  /* 'W' write, 'S' fsync/fdatasync, 'T' ftruncate, 'R' SEPA file renamed */
	uint8_t dsync; /* 'W': the descriptor was opened O_DSYNC (durable when the call returned) */
	uint8_t file;  /* 'W': 0 data.mdb, 1 eattest.journal (the attestation journal, O_DSYNC) */
	uint8_t pad;
	uint64_t off; /* 'W': file offset; 'T': the new length */
	uint64_t len; /* 'W': bytes that follow; 'R': the file's base name that follows */
};

#endif
