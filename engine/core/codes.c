/* engine/core/codes.c - the table of tpclear's own codes, generated from TPC_CODE_LIST
 * (see codes.h, docs/errors.md).
 */
#include "core/codes.h"

#include <string.h>

/* One definition per name: a name listed twice is a redefinition, caught when this file compiles
 * (a code listed twice under two names is caught by tests/unit/core/test_codes.c). */
#define X(name, code, letter, text) const char TPC_CODE_##name[7] = code;
TPC_CODE_LIST(X)
#undef X

static const struct {
	const char *code;
	const char *reason;
} table[] = {
#define X(name, code, letter, text) {TPC_CODE_##name, text},
    TPC_CODE_LIST(X)
#undef X
};

const char *tpc_codes_describe(const char *code)
{
	/* About fifty entries, read once per refusal or finding: a linear search is enough. But
	 * the Result asks here first for every finding, most of which are official codes: each
	 * code here is "T" and five digits (tests/unit/core/test_codes.c), so one byte tells
	 * those apart without fifty strcmp() calls. */
	if (!code || code[0] != 'T')
		return NULL;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].code, code) == 0)
			return table[i].reason;
	return NULL;
}
