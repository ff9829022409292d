/* adapters/efact/efact_codes.c - every code the eFact adapter emits, with its letter and a short
 * reason in our own words (official codes: shared/domain/efact-errors.md; T3xxxx: ours,
 * docs/formats/efact.md). */
#include "efact.h"

#include <string.h>

static const struct {
	const char *code;
	char letter;
	const char *reason;
} codes[] = {
    /* file, segments 200/300, records 95/96: no official code exists */
    {"T30001", 'B', "file length is not 67 + 160 + a multiple of 350 characters"},
    {"T30002", 'B', "unknown record type"},
    {"T30003", 'B', "segment 200: message type is not 920000"},
    {"T30004", 'B', "segment 200: provider reference (zone 204) is not 14 digits"},
    {"T30005", 'B', "segment 300: invoicing year-month is not a valid YYYYMM"},
    {"T30006", 'B', "segment 300: creation date is not a valid date"},
    {"T30007", 'B', "segment 300: sending number differs from record 10"},
    {"T30008", 'B', "record 95: amounts differ from the invoices of its mutuality"},
    {"T30009", 'B', "record 96: amounts differ from the whole sending"},
    {"T30010", 'B', "record 95/96: control number wrong"},
    {"T30011", 'B', "record 95/96: record count wrong"},
    {"T30012", 'F', "record 30/40 (lump sums, pharmaceutical products) not supported"},
    {"T30013", 'B', "records 95 and 96 missing or out of place"},
    {"T30014", 'B', "segment 200/300: a zone is not numeric"},
    /* record type, sequence, order */
    {"100110", 'B', "record 10: sequence number is not 000001"},
    {"100111", 'B', "record 10 not followed by record 20"},
    {"200110", 'B', "record 20 not after record 10 or 80"},
    {"200111", 'B', "record 20 not followed by a detail record"},
    {"500110", 'B', "record 50 not after record 20, 50, 51 or 52"},
    {"510110", 'B', "record 51 not after record 50"},
    {"520110", 'B', "record 52 not after record 50 or 51"},
    {"800110", 'B', "record 80 not after a detail record"},
    {"900104", 'B', "record 90 missing"},
    {"900110", 'B', "record 90 not after record 80"},
    {"900111", 'B', "record 90 is not the last numbered record"},
    {"100201", 'B', "record 10: sequence number not numeric"},
    {"200201", 'B', "record 20: sequence number not numeric"},
    {"500201", 'B', "record 50: sequence number not numeric"},
    {"510201", 'B', "record 51: sequence number not numeric"},
    {"520201", 'B', "record 52: sequence number not numeric"},
    {"800201", 'B', "record 80: sequence number not numeric"},
    {"900201", 'B', "record 90: sequence number not numeric"},
    {"200210", 'B', "record 20: sequence number is not the previous + 1"},
    {"500210", 'B', "record 50: sequence number is not the previous + 1"},
    {"510210", 'B', "record 51: sequence number is not the previous + 1"},
    {"520210", 'B', "record 52: sequence number is not the previous + 1"},
    {"800210", 'B', "record 80: sequence number is not the previous + 1"},
    {"900210", 'B', "record 90: sequence number is not the previous + 1"},
    /* record controls */
    {"109902", 'B', "record 10: record control (zone 99) wrong"},
    {"209902", 'B', "record 20: record control (zone 99) wrong"},
    {"509902", 'B', "record 50: record control (zone 99) wrong"},
    {"519902", 'B', "record 51: record control (zone 99) wrong"},
    {"529902", 'B', "record 52: record control (zone 99) wrong"},
    {"809902", 'B', "record 80: record control (zone 99) wrong"},
    {"909902", 'B', "record 90: record control (zone 99) wrong"},
    {"809802", 'B', "record 80: invoice control (zone 98) wrong"},
    {"909802", 'B', "record 90: sending control (zone 98) wrong"},
    /* record 10 */
    {"101401", 'B', "record 10: third-party number not numeric"},
    {"101402", 'B', "record 10: third-party number check digit wrong"},
    {"100701", 'B', "record 10: sending number not numeric"},
    {"102201", 'B', "record 10: invoiced year not numeric"},
    {"102501", 'B', "record 10: creation date not numeric"},
    {"102503", 'B', "record 10: creation date not a valid date"},
    {"102702", 'B', "record 10: BCE check digit wrong"},
    {"103602", 'B', "record 10: IBAN of account A wrong"},
    /* record 20 */
    {"200801", 'B', "record 20: beneficiary not numeric"},
    {"200802", 'F', "record 20: beneficiary NISS check digit wrong"},
    {"201401", 'B', "record 20: invoicing provider not numeric"},
    {"201402", 'F', "record 20: invoicing provider NIHII check digit wrong"},
    {"201412", 'F', "record 20: invoicing provider differs from the third party of record 10"},
    {"201103", 'F', "record 20: invoicing type not allowed"},
    {"201003", 'F', "record 20: invoice type not allowed"},
    {"200503", 'F', "record 20: admission date not a valid date"},
    {"200603", 'F', "record 20: discharge date not a valid date"},
    {"200610", 'F', "record 20: discharge before admission"},
    {"202401", 'B', "record 20: individual invoice number not numeric"},
    {"201140", 'F', "credit note: not every amount is negative"},
    {"202910", 'F', "record 20: correction or credit note without the previous invoice number"},
    {"202911", 'F', "record 20: previous invoice number on a normal invoice"},
    /* record 50 */
    {"500401", 'B', "record 50: nomenclature code not numeric"},
    {"500404", 'B', "record 50: first digit of the code zone is not zero"},
    {"500402", 'R', "record 50: nomenclature code check digit wrong"},
    {"500501", 'B', "record 50: first service date not numeric"},
    {"500503", 'R', "record 50: first service date not a valid date"},
    {"500601", 'B', "record 50: last service date not numeric"},
    {"500603", 'R', "record 50: last service date not a valid date"},
    {"500612", 'R', "record 50: last service date before the first"},
    {"500801", 'B', "record 50: beneficiary not numeric"},
    {"500802", 'R', "record 50: beneficiary NISS check digit wrong"},
    {"500812", 'F', "record 50: beneficiary differs from record 20"},
    {"501501", 'B', "record 50: performing provider not numeric"},
    {"501502", 'R', "record 50: performing provider NIHII check digit wrong"},
    {"501103", 'B', "record 50: account reference is not 0 or 1"},
    {"501905", 'B', "record 50: insurer amount does not start with + or -"},
    {"501906", 'B', "record 50: insurer amount digits not numeric"},
    {"502205", 'B', "record 50: units do not start with + or -"},
    {"502206", 'B', "record 50: units digits not numeric"},
    {"502203", 'R', "record 50: units not allowed (zero)"},
    {"502705", 'B', "record 50: patient share does not start with + or -"},
    {"502706", 'B', "record 50: patient share digits not numeric"},
    {"503005", 'B', "record 50: supplement does not start with + or -"},
    {"503006", 'B', "record 50: supplement digits not numeric"},
    {"502248", 'R', "credit note: units not negative"},
    /* record 51 */
    {"510402", 'R', "record 51: nomenclature code check digit wrong"},
    {"511905", 'B', "record 51: amount does not start with + or -"},
    /* record 80 */
    {"801905", 'B', "record 80: total A does not start with + or -"},
    {"801505", 'B', "record 80: total B does not start with + or -"},
    {"802705", 'B', "record 80: total patient share does not start with + or -"},
    {"801910", 'F', "record 80: total A differs from the sum of its lines (account A)"},
    {"801510", 'F', "record 80: total B differs from the sum of its lines (account B)"},
    {"802710", 'F', "record 80: total patient share differs from the sum of its lines"},
    /* record 90 */
    {"901905", 'B', "record 90: total A does not start with + or -"},
    {"901505", 'B', "record 90: total B does not start with + or -"},
    {"901910", 'B', "record 90: total A differs from the sum of the invoices"},
    {"901510", 'B', "record 90: total B differs from the sum of the invoices"},
    {"901412", 'B', "record 90: third-party number differs from record 10"},
    {"900712", 'B', "record 90: sending number differs from record 10"},
};

const char *tpc_efact_describe(const char *code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].code, code) == 0)
			return codes[i].reason;
	return NULL;
}

char tpc_efact_letter(const char *code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].code, code) == 0)
			return codes[i].letter;
	return 'B';
}
