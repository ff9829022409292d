/* tests/support/gen/canonical_gen.h - deterministic canonical sendings for tests, samples and
 * the benchmark. The sendings clear fully against the sample reference data in config/refdata/
 * (members 86103130262 ordinary and 05031412595 BIM, provider 18334780004, codes 101032 and
 * 102771 with their November 2026 tariffs), so a test or a benchmark measures the whole path. */
#ifndef TPC_CANONICAL_GEN_H
#define TPC_CANONICAL_GEN_H

#include <stddef.h>
#include <stdint.h>

/** A packed tpclear.CanonicalSending of @p ninv invoices of @p nlines lines each. @p seed makes
 *  it unique: reference "T<seed>", invoice numbers and line references derive from it.
 *  @p patients 0: the two members of config/refdata; N: one of N generated members per invoice
 *  (tpc_sample_patient(), members written by `tpcbench make-members N`).
 *  @param[out] len  size of the result
 *  @return malloc'd bytes (the caller frees them), or NULL when out of memory. */
uint8_t *tpc_canonical_sample(unsigned seed, unsigned patients, int ninv, int nlines,
                              size_t *len);

/** The patient of invoice @p i of sample @p seed among @p patients generated members (see
 *  above): its NISS into @p niss and whether it is a BIM member (ct1 111). With @p patients 0,
 *  one of the two members of config/refdata. */
void tpc_sample_patient(unsigned seed, unsigned patients, int i, char niss[12], int *bim);

#endif
