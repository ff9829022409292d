/* tests/support/testutil.c - helpers shared by the Criterion suites. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tpc_test_tmpdir(void)
{
	char tmpl[] = "/tmp/tpctest.XXXXXX";
	char *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

void tpc_test_rmtree(const char *path)
{
	char cmd[4200];

	if (!path || strncmp(path, "/tmp/tpctest.", 13) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

unsigned char *tpc_test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

const char *tpc_test_src(const char *rel)
{
	static char path[4096];
	const char *root = getenv("TPC_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	return path;
}
