/* adapters/efact/efact_codes.c - every code the eFact adapter emits, with its letter and a short
 * reason in our own words. Official codes and letters: shared/domain/efact-errors.md; the
 * T3xxxx codes are tpclear's own, for the parts the official list does not cover (the file as a
 * whole, segments 200/300, records 95/96): docs/formats/efact.md, which
 * tests/unit/core/test_codes.c checks against this list (every code listed there, every code
 * there listed here, each code once and well formed).
 *
 * EFACT_CODES is X(name, code, letter, text). An official code is named by its own number
 * (E + RRZZNN: record, zone, number), as the official list names it; a word would be a second name
 * to keep in step. The adapter keeps its own list rather than joining engine/core/codes.h: an
 * adapter is a plugin in waiting and may include only adapter.h and adapters/common.
 *
 * The table is small (about 150 entries) and read on findings only, but a faulty line reads it
 * twice (its letter, then its reason for the Result): a linear search of strcmp() calls was
 * 2 % of the worker's instructions at 2 % faulty lines, so find() searches a sorted copy of the
 * codes' bytes instead, made once (docs/benchmarks.md, "Issue 15, sixth session").
 */
#include "efact.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EFACT_CODES(X)                                                                             \
	/* the file, segments 200/300, records 95/96: no official code exists */                   \
	X(T30001, "T30001", 'B', "file length is not 67 + 160 + a multiple of 350 characters")     \
	X(T30002, "T30002", 'B', "unknown record type, or record out of place")                    \
	X(T30003, "T30003", 'B', "segment 200: message type is not 920000")                        \
	X(T30004, "T30004", 'B', "segment 200: provider reference (zone 204) is not 14 digits")    \
	X(T30005, "T30005", 'B', "segment 300: invoicing year-month is not a valid YYYYMM")        \
	X(T30006, "T30006", 'B', "segment 300: creation date is not a valid date")                 \
	X(T30007, "T30007", 'B',                                                                   \
	  "record 10: sending number or invoiced month differs from segment 300")                  \
	X(T30008, "T30008", 'B', "record 95: amounts differ from the invoices of its mutuality")   \
	X(T30009, "T30009", 'B', "record 96: amounts differ from the whole sending")               \
	X(T30010, "T30010", 'B', "record 95/96: control number wrong")                             \
	X(T30011, "T30011", 'B', "record 95/96: record count wrong")                               \
	X(T30012, "T30012", 'F',                                                                   \
	  "record 30/40 (lump sums, pharmaceutical products) not supported")                       \
	X(T30013, "T30013", 'B', "records 95 and 96 missing, incomplete or out of place")          \
	X(T30014, "T30014", 'B', "segment 300: sending number is not numeric")                     \
	X(T30015, "T30015", 'B', "record 95: no invoice for this mutuality")                       \
	X(T30016, "T30016", 'B', "record 10 missing: the file does not start with it")             \
	X(T30017, "T30017", 'B', "record 95/96: amount C neither blank nor a signed amount")       \
	X(T30018, "T30018", 'S',                                                                   \
	  "record 95/96: record count differs from tpclear's count (a signal, not a refusal)")     \
	X(T30019, "T30019", 'B',                                                                   \
	  "record 96: mutuality is not a federation digit of the sending + 99")                    \
	/* record order */                                                                         \
	X(E100111, "100111", 'B', "record 10 not followed by record 20")                           \
	X(E200110, "200110", 'B', "record 20 not after record 10 or 80")                           \
	X(E200111, "200111", 'B', "record 20 not followed by a service record")                    \
	X(E210110, "210110", 'B', "record 21 not after record 20")                                 \
	X(E210111, "210111", 'B', "record 21 not followed by a service record")                    \
	X(E500110, "500110", 'B', "record 50 not after record 20 or a service record")             \
	X(E500111, "500111", 'B', "record 50 not followed by a service record or record 80")       \
	X(E510110, "510110", 'B', "record 51 not after record 50")                                 \
	X(E510111, "510111", 'B', "record 51 not followed by a service record or record 80")       \
	X(E520110, "520110", 'B', "record 52 not after record 50 or 51")                           \
	X(E520111, "520111", 'B', "record 52 not followed by record 50 or 80")                     \
	X(E800110, "800110", 'B', "record 80 not after a service record")                          \
	X(E800111, "800111", 'B', "record 80 not followed by record 20 or 90")                     \
	X(E900104, "900104", 'B', "record 90 missing")                                             \
	X(E900110, "900110", 'B', "record 90 not after record 80")                                 \
	X(E900111, "900111", 'B', "record 90 is not the last numbered record")                     \
	/* sequence numbers */                                                                     \
	X(E100110, "100110", 'B', "record 10: sequence number is not 000001")                      \
	X(E100201, "100201", 'B', "record 10: sequence number not numeric")                        \
	X(E200201, "200201", 'B', "record 20: sequence number not numeric")                        \
	X(E210201, "210201", 'B', "record 21: sequence number not numeric")                        \
	X(E500201, "500201", 'B', "record 50: sequence number not numeric")                        \
	X(E510201, "510201", 'B', "record 51: sequence number not numeric")                        \
	X(E520201, "520201", 'B', "record 52: sequence number not numeric")                        \
	X(E800201, "800201", 'B', "record 80: sequence number not numeric")                        \
	X(E900201, "900201", 'B', "record 90: sequence number not numeric")                        \
	X(E200210, "200210", 'B', "record 20: sequence number is not the previous + 1")            \
	X(E210210, "210210", 'B', "record 21: sequence number is not the previous + 1")            \
	X(E300210, "300210", 'B', "record 30: sequence number is not the previous + 1")            \
	X(E400210, "400210", 'B', "record 40: sequence number is not the previous + 1")            \
	X(E500210, "500210", 'B', "record 50: sequence number is not the previous + 1")            \
	X(E510210, "510210", 'B', "record 51: sequence number is not the previous + 1")            \
	X(E520210, "520210", 'B', "record 52: sequence number is not the previous + 1")            \
	X(E800210, "800210", 'B', "record 80: sequence number is not the previous + 1")            \
	X(E900210, "900210", 'B', "record 90: sequence number is not the previous + 1")            \
	/* record, invoice and sending controls */                                                 \
	X(E109902, "109902", 'B', "record 10: record control (zone 99) wrong")                     \
	X(E209902, "209902", 'B', "record 20: record control (zone 99) wrong")                     \
	X(E219902, "219902", 'B', "record 21: record control (zone 99) wrong")                     \
	X(E309902, "309902", 'B', "record 30: record control (zone 99) wrong")                     \
	X(E409902, "409902", 'B', "record 40: record control (zone 99) wrong")                     \
	X(E509902, "509902", 'B', "record 50: record control (zone 99) wrong")                     \
	X(E519902, "519902", 'B', "record 51: record control (zone 99) wrong")                     \
	X(E529902, "529902", 'B', "record 52: record control (zone 99) wrong")                     \
	X(E809902, "809902", 'B', "record 80: record control (zone 99) wrong")                     \
	X(E909902, "909902", 'B', "record 90: record control (zone 99) wrong")                     \
	X(E809802, "809802", 'B', "record 80: invoice control (zone 98) wrong")                    \
	X(E909801, "909801", 'B', "record 90: sending control (zone 98) not numeric")              \
	X(E909802, "909802", 'B', "record 90: sending control (zone 98) wrong")                    \
	/* record 10 */                                                                            \
	X(E100301, "100301", 'B', "record 10: index code (position 9) not numeric")                \
	X(E100303, "100303", 'B', "record 10: index code (position 9) is not 0 or 1")              \
	X(E100313, "100313", 'B', "record 10: index code 0 but an IBAN for account B")             \
	X(E100314, "100314", 'B', "record 10: index code 1 but no IBAN for account B")             \
	X(E100315, "100315", 'B', "record 10: index code 0 but a BIC for account B")               \
	X(E100316, "100316", 'B', "record 10: index code 1 but no BIC for account B")              \
	X(E100701, "100701", 'B', "record 10: sending number not numeric")                         \
	X(E100703, "100703", 'B', "record 10: sending number is zero")                             \
	X(E101401, "101401", 'B', "record 10: third-party number not numeric")                     \
	X(E101402, "101402", 'B', "record 10: third-party number check digit wrong")               \
	X(E101801, "101801", 'B', "record 10: profession code (85-87) not numeric")                \
	X(E101810, "101810", 'B',                                                                  \
	  "record 10: profession code zero for a person's third-party number (from 2024-04)")      \
	X(E102201, "102201", 'B', "record 10: invoiced year not numeric")                          \
	X(E102301, "102301", 'B', "record 10: invoiced month not numeric")                         \
	X(E102303, "102303", 'B', "record 10: invoiced month is not 01 to 12")                     \
	X(E102501, "102501", 'B', "record 10: creation date not numeric")                          \
	X(E102503, "102503", 'B', "record 10: creation date not a valid date")                     \
	X(E102702, "102702", 'B', "record 10: BCE/KBO number check digit wrong")                   \
	X(E102704, "102704", 'B', "record 10: BCE/KBO number not numeric")                         \
	X(E103602, "103602", 'B', "record 10: IBAN of account A wrong")                            \
	X(E104303, "104303", 'B', "record 10: BIC of account B not allowed")                       \
	X(E104902, "104902", 'B', "record 10: IBAN of account B wrong")                            \
	/* record 20 */                                                                            \
	X(E200501, "200501", 'B', "record 20: admission date not numeric")                         \
	X(E200503, "200503", 'F', "record 20: admission date not a valid date")                    \
	X(E200601, "200601", 'B', "record 20: discharge date not numeric")                         \
	X(E200603, "200603", 'F', "record 20: discharge date not a valid date")                    \
	X(E200610, "200610", 'F', "record 20: discharge before admission")                         \
	X(E200801, "200801", 'B', "record 20: beneficiary not numeric")                            \
	X(E200802, "200802", 'F', "record 20: beneficiary NISS check digit wrong")                 \
	X(E200903, "200903", 'F', "record 20: sex is not 1 or 2")                                  \
	X(E201003, "201003", 'F', "record 20: invoice type not allowed")                           \
	X(E201103, "201103", 'F', "record 20: invoicing type not allowed")                         \
	X(E201140, "201140", 'F', "credit note: not every amount is negative")                     \
	X(E201401, "201401", 'B', "record 20: invoicing provider not numeric")                     \
	X(E201402, "201402", 'F', "record 20: invoicing provider NIHII check digit wrong")         \
	X(E201412, "201412", 'F',                                                                  \
	  "record 20: invoicing provider differs from the third party of record 10")               \
	X(E201801, "201801", 'B', "record 20: destination mutuality not numeric")                  \
	X(E201812, "201812", 'B', "record 20: invoices not sorted by destination mutuality")       \
	X(E202401, "202401", 'B', "record 20: individual invoice number not numeric")              \
	X(E202403, "202403", 'B', "record 20: individual invoice number is zero")                  \
	X(E202201, "202201", 'B', "record 20: discharge hour not numeric")                         \
	X(E202203, "202203", 'F', "record 20: discharge hour not an hour (0HHMM)")                 \
	X(E202701, "202701", 'B', "record 20: CT1/CT2 not numeric")                                \
	X(E202901, "202901", 'B', "record 20: previous invoice number not numeric")                \
	X(E202910, "202910", 'F',                                                                  \
	  "record 20: correction or credit note without the previous invoice number")              \
	X(E202911, "202911", 'F', "record 20: previous invoice number on a normal invoice")        \
	/* record 50 */                                                                            \
	X(E500401, "500401", 'B', "record 50: nomenclature code not numeric")                      \
	X(E500402, "500402", 'R', "record 50: nomenclature code check digit wrong")                \
	X(E500404, "500404", 'B', "record 50: first digit of the code zone is not zero")           \
	X(E500501, "500501", 'B', "record 50: first service date not numeric")                     \
	X(E500503, "500503", 'R', "record 50: first service date missing or not a valid date")     \
	X(E500601, "500601", 'B', "record 50: last service date not numeric")                      \
	X(E500603, "500603", 'R', "record 50: last service date not a valid date")                 \
	X(E500612, "500612", 'R', "record 50: last service date before the first")                 \
	X(E500712, "500712", 'R', "record 50: affiliation mutuality differs from record 20")       \
	X(E500801, "500801", 'B', "record 50: beneficiary not numeric")                            \
	X(E500802, "500802", 'R', "record 50: beneficiary NISS check digit wrong")                 \
	X(E500812, "500812", 'F', "record 50: beneficiary differs from record 20")                 \
	X(E500912, "500912", 'R', "record 50: sex differs from record 20")                         \
	X(E501103, "501103", 'B', "record 50: account reference is not 0 or 1")                    \
	X(E501501, "501501", 'B', "record 50: performing provider not numeric")                    \
	X(E501502, "501502", 'R', "record 50: performing provider NIHII check digit wrong")        \
	X(E501905, "501905", 'B', "record 50: insurer amount does not start with + or -")          \
	X(E501906, "501906", 'B', "record 50: insurer amount has a non-digit after the sign")      \
	X(E502203, "502203", 'R', "record 50: units are zero")                                     \
	X(E502205, "502205", 'B', "record 50: units do not start with + or -")                     \
	X(E502206, "502206", 'B', "record 50: units have a non-digit after the sign")              \
	X(E502212, "502212", 'R',                                                                  \
	  "record 50: sign of the units differs from the insurer amount's")                        \
	X(E502248, "502248", 'R', "credit note: units not negative")                               \
	X(E502705, "502705", 'B', "record 50: patient share does not start with + or -")           \
	X(E502706, "502706", 'B', "record 50: patient share has a non-digit after the sign")       \
	X(E502712, "502712", 'R',                                                                  \
	  "record 50: sign of the patient share differs from the insurer amount's")                \
	X(E503005, "503005", 'B', "record 50: supplement does not start with + or -")              \
	X(E503006, "503006", 'B', "record 50: supplement has a non-digit after the sign")          \
	X(E504701, "504701", 'B',                                                                  \
	  "record 50: zone 47 (262-269) neither 8 digits nor a sign and 7")                        \
	X(E505001, "505001", 'B',                                                                  \
	  "record 50: share in a lump sum or eID-reading flag not numeric")                        \
	X(E505401, "505401", 'B', "record 50: GPS flag (316) not numeric")                         \
	/* record 51 */                                                                            \
	X(E510401, "510401", 'B', "record 51: nomenclature code not numeric")                      \
	X(E510402, "510402", 'R', "record 51: nomenclature code check digit wrong")                \
	X(E510412, "510412", 'R', "record 51: nomenclature code differs from its record 50")       \
	X(E511905, "511905", 'B', "record 51: amount does not start with + or -")                  \
	X(E511906, "511906", 'B', "record 51: amount has a non-digit after the sign")              \
	X(E512701, "512701", 'B', "record 51: CT1/CT2 not numeric")                                \
	X(E512704, "512704", 'B', "record 51: first four digits of CT1/CT2 not zero")              \
	X(E512712, "512712", 'R', "record 51: CT1/CT2 differ from record 20")                      \
	/* record 52 */                                                                            \
	X(E520401, "520401", 'B', "record 52: nomenclature code not numeric")                      \
	X(E520412, "520412", 'R', "record 52: nomenclature code differs from its record 50")       \
	X(E521901, "521901", 'B', "record 52: agreement number (132-151) not numeric")             \
	/* record 80 */                                                                            \
	X(E800812, "800812", 'F', "record 80: beneficiary differs from record 20")                 \
	X(E801505, "801505", 'B', "record 80: total B does not start with + or -")                 \
	X(E801506, "801506", 'B', "record 80: total B has a non-digit after the sign")             \
	X(E801510, "801510", 'F',                                                                  \
	  "record 80: total B differs from the sum of its lines (account B)")                      \
	X(E801812, "801812", 'B', "record 80: destination mutuality differs from record 20")       \
	X(E801905, "801905", 'B', "record 80: total A does not start with + or -")                 \
	X(E801906, "801906", 'B', "record 80: total A has a non-digit after the sign")             \
	X(E801910, "801910", 'F',                                                                  \
	  "record 80: total A differs from the sum of its lines (account A)")                      \
	X(E802201, "802201", 'B', "record 80: discharge hour not numeric")                         \
	X(E802203, "802203", 'F', "record 80: discharge hour not an hour (0HHMM)")                 \
	X(E802212, "802212", 'F', "record 80: discharge hour differs from record 20")              \
	X(E802412, "802412", 'F', "record 80: invoice number differs from record 20")              \
	X(E802705, "802705", 'B', "record 80: total patient share does not start with + or -")     \
	X(E802706, "802706", 'B', "record 80: total patient share has a non-digit after the sign") \
	X(E802710, "802710", 'F',                                                                  \
	  "record 80: total patient share differs from the sum of its lines")                      \
	X(E803005, "803005", 'B', "record 80: total supplements does not start with + or -")       \
	X(E803006, "803006", 'B', "record 80: total supplements has a non-digit after the sign")   \
	X(E803010, "803010", 'F',                                                                  \
	  "record 80: total supplements differs from the sum of its lines")                        \
	/* record 90 */                                                                            \
	X(E900712, "900712", 'B', "record 90: sending number differs from record 10")              \
	X(E901412, "901412", 'B', "record 90: third-party number differs from record 10")          \
	X(E901505, "901505", 'B', "record 90: total B does not start with + or -")                 \
	X(E901506, "901506", 'B', "record 90: total B has a non-digit after the sign")             \
	X(E901510, "901510", 'B', "record 90: total B differs from the sum of the invoices")       \
	X(E901905, "901905", 'B', "record 90: total A does not start with + or -")                 \
	X(E901906, "901906", 'B', "record 90: total A has a non-digit after the sign")             \
	X(E901910, "901910", 'B', "record 90: total A differs from the sum of the invoices")       \
	X(E902212, "902212", 'B', "record 90: invoiced year differs from record 10")               \
	X(E902312, "902312", 'B', "record 90: invoiced month differs from record 10")              \
	X(E902712, "902712", 'B', "record 90: BCE/KBO number differs from record 10")              \
	X(E903612, "903612", 'B', "record 90: IBAN of account A differs from record 10")           \
	X(E904312, "904312", 'B', "record 90: BIC of account B differs from record 10")            \
	X(E904912, "904912", 'B', "record 90: IBAN of account B differs from record 10")

/* A name listed twice is a duplicate enumerator: since names are made of the codes, a code
 * listed twice fails to compile here rather than shadowing its second entry in find(). */
enum efact_code_name {
#define X(name, code, letter, text) EFACT_##name,
	EFACT_CODES(X)
#undef X
};

static const struct {
	const char *code;
	char letter;
	const char *reason;
} codes[] = {
#define X(name, code, letter, text) {code, letter, text},
    EFACT_CODES(X)
#undef X
};

#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* A code's first 8 bytes as one number, in the order memcmp() compares them, zeros past its
 * end: two codes of at most 8 bytes are equal when their numbers are. */
static uint64_t code_key(const char *code)
{
	uint64_t k = 0;
	size_t i = 0;

	for (; i < 8 && code[i]; i++)
		k = k << 8 | (unsigned char)code[i];
	/* an empty code is 0: a shift by 64 bits is undefined (UBSan found it) */
	return i ? k << (8 * (8 - i)) : 0;
}

/* The codes' keys, sorted, each with its index in codes[]; made by the first find(). */
struct code_key {
	uint64_t key;
	uint32_t i;
};
static struct code_key sorted[NCODES];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int by_key(const void *a, const void *b)
{
	uint64_t x = ((const struct code_key *)a)->key, y = ((const struct code_key *)b)->key;

	return x < y ? -1 : x > y;
}

static void sort_codes(void)
{
	for (size_t i = 0; i < NCODES; i++) {
		sorted[i].key = code_key(codes[i].code);
		sorted[i].i = (uint32_t)i;
	}
	qsort(sorted, NCODES, sizeof(sorted[0]), by_key);
}

static int find(const char *code)
{
	size_t lo = 0, hi = NCODES;
	uint64_t k;

	if (!code)
		return -1;
	pthread_once(&sorted_once, sort_codes);
	k = code_key(code);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid].key < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the key holds 8 bytes: strcmp() says whether the rest matches too (every code is
	 * 6 bytes, so a longer string never does) */
	if (lo < NCODES && sorted[lo].key == k && strcmp(codes[sorted[lo].i].code, code) == 0)
		return (int)sorted[lo].i;
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
