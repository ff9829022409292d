/* engine/clearing/budget.c - budget names (see budget.h). */
#include "clearing/budget.h"

#include "core/error.h"

#include <string.h>

/* Indexed by the number postings and payables store (budget.h: never renumber). The names are
 * the ones docs/ledger.md, the [budget.NAME] sections and the SEPA file names use. */
static const char *const names[TPC_BUDGET__COUNT] = {
    [TPC_BUDGET_NONE] = "",           [TPC_BUDGET_AMI] = "AMI",
    [TPC_BUDGET_SPPIS] = "SPPIS",     [TPC_BUDGET_FEDASIL] = "FEDASIL",
    [TPC_BUDGET_JUSTICE] = "JUSTICE", [TPC_BUDGET_WARVICTIMS] = "WARVICTIMS",
    [TPC_BUDGET_OSSOM] = "OSSOM",
};

const char *tpc_budget_name(unsigned budget)
{
	return budget < TPC_BUDGET__COUNT ? names[budget] : "";
}

/* From 1: NONE's empty name must not match an empty filter, which means "every budget" to the
 * callers (they test name[0] first). */
int tpc_budget_by_name(const char *name, enum tpc_budget *out)
{
	for (unsigned b = 1; b < TPC_BUDGET__COUNT; b++)
		if (strcmp(names[b], name) == 0) {
			*out = (enum tpc_budget)b;
			return 0;
		}
	return TPC_EINVAL;
}
