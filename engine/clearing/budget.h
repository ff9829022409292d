/* engine/clearing/budget.h - the budgets that pay cleared lines, and their payer accounts.
 *
 * A scheme (who pays a line, engine/clearing/schemes.h) charges one budget: AMI for CAAMI's own
 * insured, SPPIS for Mediprima, FEDASIL, JUSTICE for detainees' patient shares, WARVICTIMS and
 * OSSOM. Budgets are a closed list, numbered for compact ledger records (the number is stored in
 * postings and payables: never renumber, only append). Each budget's payer account (the debtor
 * of its SEPA credit transfers) comes from the configuration, [budget.NAME] sections.
 */
#ifndef TPC_BUDGET_H
#define TPC_BUDGET_H

#include <stdint.h>

enum tpc_budget {
	TPC_BUDGET_NONE = 0,
	TPC_BUDGET_AMI = 1,
	TPC_BUDGET_SPPIS = 2,
	TPC_BUDGET_FEDASIL = 3,
	TPC_BUDGET_JUSTICE = 4,
	TPC_BUDGET_WARVICTIMS = 5,
	TPC_BUDGET_OSSOM = 6,
	TPC_BUDGET__COUNT
};

/** The payer account of one budget. */
typedef struct tpc_payer {
	char name[71]; /* debtor name in SEPA files */
	char iban[35];
	char bic[12]; /* "" = not provided */
} tpc_payer_t;

/** Name of a budget ("AMI", "SPPIS"...), "" for TPC_BUDGET_NONE or out of range. */
const char *tpc_budget_name(unsigned budget);

/** Budget by name (case-sensitive, as printed by tpc_budget_name).
 *  @return 0 or TPC_EINVAL. */
int tpc_budget_by_name(const char *name, enum tpc_budget *out);

#endif /* TPC_BUDGET_H */
