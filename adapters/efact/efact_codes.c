/* adapters/efact/efact_codes.c - every code the eFact adapter emits, with its letter and a short
 * reason in our own words. Official codes and letters: shared/domain/efact-errors.md; the
 * T3xxxx codes are tpclear's own, for the parts the official list does not cover (the file as a
 * whole, segments 200/300, records 95/96): docs/formats/efact.md.
 *
 * The table is small (about 150 entries) and read on findings only, so a linear search will do.
 */
#include "efact.h"

#include <string.h>

static const struct {
	const char *code;
	char letter;
	const char *reason;
} codes[] = {
    /* the file, segments 200/300, records 95/96: no official code exists */
    {"T30001", 'B', "file length is not 67 + 160 + a multiple of 350 characters"},
    {"T30002", 'B', "unknown record type, or record out of place"},
    {"T30003", 'B', "segment 200: message type is not 920000"},
    {"T30004", 'B', "segment 200: provider reference (zone 204) is not 14 digits"},
    {"T30005", 'B', "segment 300: invoicing year-month is not a valid YYYYMM"},
    {"T30006", 'B', "segment 300: creation date is not a valid date"},
    {"T30007", 'B', "record 10: sending number or invoiced month differs from segment 300"},
    {"T30008", 'B', "record 95: amounts differ from the invoices of its mutuality"},
    {"T30009", 'B', "record 96: amounts differ from the whole sending"},
    {"T30010", 'B', "record 95/96: control number wrong"},
    {"T30011", 'B', "record 95/96: record count wrong"},
    {"T30012", 'F', "record 30/40 (lump sums, pharmaceutical products) not supported"},
    {"T30013", 'B', "records 95 and 96 missing, incomplete or out of place"},
    {"T30014", 'B', "segment 300: sending number is not numeric"},
    {"T30015", 'B', "record 95: no invoice for this mutuality"},
    {"T30016", 'B', "record 10 missing: the file does not start with it"},
    /* record order */
    {"100111", 'B', "record 10 not followed by record 20"},
    {"200110", 'B', "record 20 not after record 10 or 80"},
    {"200111", 'B', "record 20 not followed by a service record"},
    {"500110", 'B', "record 50 not after record 20 or a service record"},
    {"500111", 'B', "record 50 not followed by a service record or record 80"},
    {"510110", 'B', "record 51 not after record 50"},
    {"510111", 'B', "record 51 not followed by a service record or record 80"},
    {"520110", 'B', "record 52 not after record 50 or 51"},
    {"520111", 'B', "record 52 not followed by record 50 or 80"},
    {"800110", 'B', "record 80 not after a service record"},
    {"800111", 'B', "record 80 not followed by record 20 or 90"},
    {"900104", 'B', "record 90 missing"},
    {"900110", 'B', "record 90 not after record 80"},
    {"900111", 'B', "record 90 is not the last numbered record"},
    /* sequence numbers */
    {"100110", 'B', "record 10: sequence number is not 000001"},
    {"100201", 'B', "record 10: sequence number not numeric"},
    {"200201", 'B', "record 20: sequence number not numeric"},
    {"500201", 'B', "record 50: sequence number not numeric"},
    {"510201", 'B', "record 51: sequence number not numeric"},
    {"520201", 'B', "record 52: sequence number not numeric"},
    {"800201", 'B', "record 80: sequence number not numeric"},
    {"900201", 'B', "record 90: sequence number not numeric"},
    {"200210", 'B', "record 20: sequence number is not the previous + 1"},
    {"300210", 'B', "record 30: sequence number is not the previous + 1"},
    {"400210", 'B', "record 40: sequence number is not the previous + 1"},
    {"500210", 'B', "record 50: sequence number is not the previous + 1"},
    {"510210", 'B', "record 51: sequence number is not the previous + 1"},
    {"520210", 'B', "record 52: sequence number is not the previous + 1"},
    {"800210", 'B', "record 80: sequence number is not the previous + 1"},
    {"900210", 'B', "record 90: sequence number is not the previous + 1"},
    /* record, invoice and sending controls */
    {"109902", 'B', "record 10: record control (zone 99) wrong"},
    {"209902", 'B', "record 20: record control (zone 99) wrong"},
    {"309902", 'B', "record 30: record control (zone 99) wrong"},
    {"409902", 'B', "record 40: record control (zone 99) wrong"},
    {"509902", 'B', "record 50: record control (zone 99) wrong"},
    {"519902", 'B', "record 51: record control (zone 99) wrong"},
    {"529902", 'B', "record 52: record control (zone 99) wrong"},
    {"809902", 'B', "record 80: record control (zone 99) wrong"},
    {"909902", 'B', "record 90: record control (zone 99) wrong"},
    {"809802", 'B', "record 80: invoice control (zone 98) wrong"},
    {"909801", 'B', "record 90: sending control (zone 98) not numeric"},
    {"909802", 'B', "record 90: sending control (zone 98) wrong"},
    /* record 10 */
    {"100701", 'B', "record 10: sending number not numeric"},
    {"100703", 'B', "record 10: sending number is zero"},
    {"101401", 'B', "record 10: third-party number not numeric"},
    {"101402", 'B', "record 10: third-party number check digit wrong"},
    {"102201", 'B', "record 10: invoiced year not numeric"},
    {"102301", 'B', "record 10: invoiced month not numeric"},
    {"102303", 'B', "record 10: invoiced month is not 01 to 12"},
    {"102501", 'B', "record 10: creation date not numeric"},
    {"102503", 'B', "record 10: creation date not a valid date"},
    {"102702", 'B', "record 10: BCE/KBO number check digit wrong"},
    {"102704", 'B', "record 10: BCE/KBO number not numeric"},
    {"103602", 'B', "record 10: IBAN of account A wrong"},
    /* record 20 */
    {"200501", 'B', "record 20: admission date not numeric"},
    {"200503", 'F', "record 20: admission date not a valid date"},
    {"200601", 'B', "record 20: discharge date not numeric"},
    {"200603", 'F', "record 20: discharge date not a valid date"},
    {"200610", 'F', "record 20: discharge before admission"},
    {"200801", 'B', "record 20: beneficiary not numeric"},
    {"200802", 'F', "record 20: beneficiary NISS check digit wrong"},
    {"200903", 'F', "record 20: sex is not 1 or 2"},
    {"201003", 'F', "record 20: invoice type not allowed"},
    {"201103", 'F', "record 20: invoicing type not allowed"},
    {"201140", 'F', "credit note: not every amount is negative"},
    {"201401", 'B', "record 20: invoicing provider not numeric"},
    {"201402", 'F', "record 20: invoicing provider NIHII check digit wrong"},
    {"201412", 'F', "record 20: invoicing provider differs from the third party of record 10"},
    {"201801", 'B', "record 20: destination mutuality not numeric"},
    {"201812", 'B', "record 20: invoices not sorted by destination mutuality"},
    {"202401", 'B', "record 20: individual invoice number not numeric"},
    {"202403", 'B', "record 20: individual invoice number is zero"},
    {"202701", 'B', "record 20: CT1/CT2 not numeric"},
    {"202901", 'B', "record 20: previous invoice number not numeric"},
    {"202910", 'F', "record 20: correction or credit note without the previous invoice number"},
    {"202911", 'F', "record 20: previous invoice number on a normal invoice"},
    /* record 50 */
    {"500401", 'B', "record 50: nomenclature code not numeric"},
    {"500402", 'R', "record 50: nomenclature code check digit wrong"},
    {"500404", 'B', "record 50: first digit of the code zone is not zero"},
    {"500501", 'B', "record 50: first service date not numeric"},
    {"500503", 'R', "record 50: first service date missing or not a valid date"},
    {"500601", 'B', "record 50: last service date not numeric"},
    {"500603", 'R', "record 50: last service date not a valid date"},
    {"500612", 'R', "record 50: last service date before the first"},
    {"500712", 'R', "record 50: affiliation mutuality differs from record 20"},
    {"500801", 'B', "record 50: beneficiary not numeric"},
    {"500802", 'R', "record 50: beneficiary NISS check digit wrong"},
    {"500812", 'F', "record 50: beneficiary differs from record 20"},
    {"500912", 'R', "record 50: sex differs from record 20"},
    {"501103", 'B', "record 50: account reference is not 0 or 1"},
    {"501501", 'B', "record 50: performing provider not numeric"},
    {"501502", 'R', "record 50: performing provider NIHII check digit wrong"},
    {"501905", 'B', "record 50: insurer amount does not start with + or -"},
    {"501906", 'B', "record 50: insurer amount has a non-digit after the sign"},
    {"502203", 'R', "record 50: units are zero"},
    {"502205", 'B', "record 50: units do not start with + or -"},
    {"502206", 'B', "record 50: units have a non-digit after the sign"},
    {"502212", 'R', "record 50: sign of the units differs from the insurer amount's"},
    {"502248", 'R', "credit note: units not negative"},
    {"502705", 'B', "record 50: patient share does not start with + or -"},
    {"502706", 'B', "record 50: patient share has a non-digit after the sign"},
    {"502712", 'R', "record 50: sign of the patient share differs from the insurer amount's"},
    {"503005", 'B', "record 50: supplement does not start with + or -"},
    {"503006", 'B', "record 50: supplement has a non-digit after the sign"},
    /* record 51 */
    {"510401", 'B', "record 51: nomenclature code not numeric"},
    {"510402", 'R', "record 51: nomenclature code check digit wrong"},
    {"510412", 'R', "record 51: nomenclature code differs from its record 50"},
    {"511905", 'B', "record 51: amount does not start with + or -"},
    {"511906", 'B', "record 51: amount has a non-digit after the sign"},
    /* record 52 */
    {"520401", 'B', "record 52: nomenclature code not numeric"},
    {"520412", 'R', "record 52: nomenclature code differs from its record 50"},
    /* record 80 */
    {"800812", 'F', "record 80: beneficiary differs from record 20"},
    {"801505", 'B', "record 80: total B does not start with + or -"},
    {"801506", 'B', "record 80: total B has a non-digit after the sign"},
    {"801510", 'F', "record 80: total B differs from the sum of its lines (account B)"},
    {"801812", 'B', "record 80: destination mutuality differs from record 20"},
    {"801905", 'B', "record 80: total A does not start with + or -"},
    {"801906", 'B', "record 80: total A has a non-digit after the sign"},
    {"801910", 'F', "record 80: total A differs from the sum of its lines (account A)"},
    {"802412", 'F', "record 80: invoice number differs from record 20"},
    {"802705", 'B', "record 80: total patient share does not start with + or -"},
    {"802706", 'B', "record 80: total patient share has a non-digit after the sign"},
    {"802710", 'F', "record 80: total patient share differs from the sum of its lines"},
    {"803005", 'B', "record 80: total supplements does not start with + or -"},
    {"803006", 'B', "record 80: total supplements has a non-digit after the sign"},
    {"803010", 'F', "record 80: total supplements differs from the sum of its lines"},
    /* record 90 */
    {"900712", 'B', "record 90: sending number differs from record 10"},
    {"901412", 'B', "record 90: third-party number differs from record 10"},
    {"901505", 'B', "record 90: total B does not start with + or -"},
    {"901506", 'B', "record 90: total B has a non-digit after the sign"},
    {"901510", 'B', "record 90: total B differs from the sum of the invoices"},
    {"901905", 'B', "record 90: total A does not start with + or -"},
    {"901906", 'B', "record 90: total A has a non-digit after the sign"},
    {"901910", 'B', "record 90: total A differs from the sum of the invoices"},
    {"902212", 'B', "record 90: invoiced year differs from record 10"},
    {"902312", 'B', "record 90: invoiced month differs from record 10"},
    {"902712", 'B', "record 90: BCE/KBO number differs from record 10"},
    {"903612", 'B', "record 90: IBAN of account A differs from record 10"},
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

static int find(const char *code)
{
	if (!code)
		return -1;
	for (size_t i = 0; i < NCODES; i++)
		if (strcmp(codes[i].code, code) == 0)
			return (int)i;
	return -1;
}

const char *tpc_efact_describe(const char *code)
{
	int i = find(code);

	return i < 0 ? NULL : codes[i].reason;
}

char tpc_efact_letter(const char *code)
{
	int i = find(code);

	return i < 0 ? 'B' : codes[i].letter;
}

size_t tpc_efact_codes(const char **out, size_t cap)
{
	for (size_t i = 0; i < NCODES && i < cap; i++)
		out[i] = codes[i].code;
	return NCODES;
}
