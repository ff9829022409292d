/* tests/support/testutil.h - helpers shared by the Criterion suites. */
#ifndef TPC_TESTUTIL_H
#define TPC_TESTUTIL_H

#include <stddef.h>

/** Make a fresh temporary directory; @return a malloc'd path (the caller frees it). */
char *tpc_test_tmpdir(void);

/** Remove a directory tree (best effort). */
void tpc_test_rmtree(const char *path);

/** Read a whole file into a malloc'd buffer; @return NULL on failure. */
unsigned char *tpc_test_slurp(const char *path, size_t *len);

/** Path of a file under the source tree (TPC_SOURCE_DIR); @return a static buffer. */
const char *tpc_test_src(const char *rel);

#endif
