/* engine/core/file.h - whole files: read one into memory, write one durably.
 *
 * DESIGN: the engine (SEPA files of payment runs) and the CLI (--out copies, statements) write
 * files that must never be seen half written, so every write goes through one path: a
 * temporary in the same directory, fsync, rename, fsync of the directory. Reads are whole
 * files (regular files, pipes or /dev/stdin alike), malloc'd for the caller.
 */
#ifndef TPC_FILE_H
#define TPC_FILE_H

#include <stddef.h>
#include <stdint.h>

/** Write @p len bytes to @p path durably: a temporary file in the same directory (mode 0640),
 *  fsync, rename over @p path, fsync of the directory. A crash leaves the old file or the new
 *  one; a failure leaves no temporary behind.
 *  @return 0 or a negative errno. */
int tpc_file_write_atomic(const char *path, const void *bytes, size_t len);

/** Read the whole of @p path.
 *  @param[out] out  malloc'd bytes (caller frees; not NUL-terminated), set on success only
 *  @param[out] len  their number
 *  @return 0 or a negative errno (-ENOENT, -ENOMEM, ...). */
int tpc_file_read_all(const char *path, uint8_t **out, size_t *len);

#endif /* TPC_FILE_H */
