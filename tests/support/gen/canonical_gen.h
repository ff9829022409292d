/* tests/support/gen/canonical_gen.h - deterministic canonical sendings for tests, samples and
 * the benchmark. The sendings clear fully against the sample reference data in config/refdata/
 * (members 86103130262 ordinary and 05031412595 BIM, provider 18334780004, codes 101032 and
 * 102771 with their November 2026 tariffs), so a test or a benchmark measures the whole path. */
#ifndef TPC_CANONICAL_GEN_H
#define TPC_CANONICAL_GEN_H

#include "tpclear.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/** Room for a canonical sending built by hand: its invoices and lines, initialised, with
 *  pointer arrays as protobuf-c wants them. */
typedef struct tpc_canonical_frame {
	Tpclear__CanonicalSending cs; /* cs.invoices and cs.n_invoices set; the rest the caller's */
	Tpclear__CanonicalInvoice *inv, **invp;
	Tpclear__CanonicalLine *ln, **lnp; /* lnp[k] = &ln[k], in sending order */
} tpc_canonical_frame_t;

/** Make @p f room for @p ninv invoices and @p nlines lines in all. The caller gives each
 *  invoice its lines (lines = f->lnp + first, n_lines) and fills the fields with strings that
 *  outlive the pack. @return 0, or -1 out of memory (@p f then holds nothing to free). */
int tpc_canonical_frame_new(tpc_canonical_frame_t *f, size_t ninv, size_t nlines);

/** f->cs packed into malloc'd bytes (the caller frees them). @return NULL out of memory. */
uint8_t *tpc_canonical_frame_pack(const tpc_canonical_frame_t *f, size_t *len);

/** Free what tpc_canonical_frame_new() allocated (not the strings the caller pointed at). */
void tpc_canonical_frame_free(tpc_canonical_frame_t *f);

/** A packed tpclear.CanonicalSending of @p ninv invoices of @p nlines lines each. @p seed makes
 *  it unique: reference "T<seed>", invoice numbers and line references derive from it.
 *  @p patients 0: the two members of config/refdata; N: one of N generated members per invoice
 *  (tpc_sample_patient(), members written by `tpcbench make-members N`).
 *  @param[out] len  size of the result
 *  @return malloc'd bytes (the caller frees them), or NULL when out of memory. */
uint8_t *tpc_canonical_sample(unsigned seed, unsigned patients, int ninv, int nlines, size_t *len);

/** The patient of invoice @p i of sample @p seed among @p patients generated members (see
 *  above): its NISS into @p niss and whether it is a BIM member (ct1 111). With @p patients 0,
 *  one of the two members of config/refdata. */
void tpc_sample_patient(unsigned seed, unsigned patients, int i, char niss[12], int *bim);

#endif
