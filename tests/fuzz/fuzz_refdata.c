/* tests/fuzz/fuzz_refdata.c - the reference-data and feed parsers (engine/refdata/refdata.h
 * tpc_refdata_parse), one harness per kind: built once per kind with -DFUZZ_KIND=TPC_REF_<KIND>
 * as fuzz_refdata_<kind> (tests/fuzz/CMakeLists.txt).
 *
 * Why one binary per kind rather than one whose first input byte picks the kind: the kinds
 * share the CSV reader but each has its own header, columns and row checks, and a mutation of a
 * valid providers file is almost never a valid tariffs file. One harness per kind keeps one
 * corpus per kind seeded with that kind's file (config/refdata/<kind>.csv), so every run goes
 * past the header into that kind's row checks, and a finding names its parser.
 *
 * The input is the whole CSV file of a `tpclear load KIND FILE` or a REQUEST_LOAD, parsed as
 * the worker does (engine/pipeline/worker.c process_load) into a fresh arena with no limit. Oracles
 * besides the sanitizers: a refusal says "FILE:LINE:COLUMN: reason" within the error buffer,
 * and an accepted file gives at most one row per line with its ids of the right length.
 */
#include "fuzz.h"

#include "core/arena.h"
#include "core/error.h"
#include "refdata/refdata.h"

#include <string.h>

#ifndef FUZZ_KIND
#error "build with -DFUZZ_KIND=TPC_REF_<KIND>"
#endif

#define FILE_NAME "fuzz.csv"

static size_t lines_in(const uint8_t *data, size_t size)
{
	size_t n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n' || data[i] == '\r';
	return n;
}

static void check_id(const char *id, size_t cap, size_t want)
{
	FUZZ_CHECK(memchr(id, 0, cap) != NULL);
	FUZZ_CHECK(strlen(id) == want);
}

/* Free text: present, valid UTF-8 without control characters, at most TPC_REF_TEXT_MAX bytes. */
static void check_text(const char *s)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(tpc_text_check(s, strlen(s), TPC_REF_TEXT_MAX, NULL) == NULL);
}

static void check_rows(const tpc_ref_table_t *t)
{
	for (uint32_t i = 0; i < t->nrows; i++) {
		switch (t->kind) {
		case TPC_REF_PROVIDERS: {
			const tpc_ref_provider_t *r = (const tpc_ref_provider_t *)t->rows + i;

			check_id(r->nihii, sizeof(r->nihii), 11);
			check_text(r->name);
			FUZZ_CHECK(memchr(r->iban, 0, sizeof(r->iban)) != NULL);
			FUZZ_CHECK(memchr(r->bic, 0, sizeof(r->bic)) != NULL);
			break;
		}
		case TPC_REF_MEMBERS: {
			const tpc_ref_member_t *r = (const tpc_ref_member_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			FUZZ_CHECK(r->valid_from <= r->valid_to);
			break;
		}
		case TPC_REF_TARIFFS: {
			const tpc_ref_tariff_t *r = (const tpc_ref_tariff_t *)t->rows + i;

			check_id(r->code, sizeof(r->code), 6);
			FUZZ_CHECK(r->valid_from <= r->valid_to);
			FUZZ_CHECK(r->insurer <= r->fee && r->insurer_bim <= r->fee);
			break;
		}
		case TPC_REF_AGREEMENTS: {
			const tpc_ref_agreement_t *r = (const tpc_ref_agreement_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			check_id(r->code, sizeof(r->code), 6);
			check_text(r->reference);
			break;
		}
		case TPC_REF_MEDIPRIMA: {
			const tpc_ref_mediprima_t *r = (const tpc_ref_mediprima_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			check_id(r->cpas_bce, sizeof(r->cpas_bce), 10);
			check_text(r->decision);
			FUZZ_CHECK(r->care && (r->care & ~TPC_CARE_ALL) == 0);
			break;
		}
		case TPC_REF_FEDASIL: {
			const tpc_ref_fedasil_t *r = (const tpc_ref_fedasil_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			check_text(r->structure);
			break;
		}
		case TPC_REF_FEDASIL_EXCLUSIONS: {
			const tpc_ref_exclusion_t *r = (const tpc_ref_exclusion_t *)t->rows + i;

			check_id(r->code, sizeof(r->code), 6);
			break;
		}
		case TPC_REF_DETENTION: {
			const tpc_ref_detention_t *r = (const tpc_ref_detention_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			check_text(r->prison);
			break;
		}
		case TPC_REF_WAR_VICTIMS: {
			const tpc_ref_war_victim_t *r = (const tpc_ref_war_victim_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			check_text(r->category);
			break;
		}
		case TPC_REF_OSSOM: {
			const tpc_ref_ossom_t *r = (const tpc_ref_ossom_t *)t->rows + i;

			check_id(r->niss, sizeof(r->niss), 11);
			FUZZ_CHECK(r->contract == 'A' || r->contract == 'B');
			FUZZ_CHECK(r->contribution_years <= 99);
			FUZZ_CHECK(memchr(r->iban, 0, sizeof(r->iban)) != NULL);
			break;
		}
		default:
			FUZZ_CHECK(!"unknown kind");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tpc_arena_t *arena = NULL;
	tpc_ref_table_t t;
	char err[512];
	int rc;

	FUZZ_CHECK(tpc_arena_new(4096, 0, &arena) == 0);
	memset(err, 0x55, sizeof(err));
	rc = tpc_refdata_parse(FUZZ_KIND, FILE_NAME, (const char *)data, size, arena, &t, err,
	                       sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == TPC_EINVAL || rc == TPC_ENOMEM);
	if (rc == TPC_EINVAL) {
		FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, FILE_NAME ":", sizeof(FILE_NAME)) == 0);
		/* the message goes into a protobuf string and JSON: valid UTF-8 whatever the input
		 */
		FUZZ_CHECK(tpc_text_check(err, strlen(err), sizeof(err), NULL) == NULL);
	} else if (rc == 0) {
		FUZZ_CHECK(t.kind == FUZZ_KIND);
		FUZZ_CHECK(t.nrows < lines_in(data, size));
		FUZZ_CHECK(t.nrows == 0 || t.rows);
		check_rows(&t);
	}
	tpc_arena_free(&arena);
	return 0;
}
