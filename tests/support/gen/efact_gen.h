/* tests/support/gen/efact_gen.h - writing valid eFact 920000 files.
 *
 * The writer computes what a provider's software computes: sequence numbers, record controls,
 * ET80 and ET90 totals and controls (the codes of every ET50, ET51 and ET52 of the scope,
 * efact-real.md 2), records 95 (one per destination mutuality, in ascending order) and 96.
 * tpc_efact_sending_in_t.style and .counts write it the way real hospital software does
 * (ET21, the fillers, other record counts). Used by tests (valid files, then corrupted zone by
 * zone), by the benchmark's generator and for the bundled samples. The layout it writes is the one
 * efact.c reads.
 */
#ifndef TPC_EFACT_WRITER_H
#define TPC_EFACT_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tpc_efact_line_in {
	char code[7];       /* 6-digit nomenclature code */
	uint32_t date;      /* YYYYMMDD */
	uint32_t date_last; /* YYYYMMDD, 0 = same as date */
	int32_t units;
	int64_t insurer_cents;
	int64_t patient_cents;
	int64_t supplement_cents;
	char performer[12];  /* NIHII, 11 digits; "" = none */
	char reference[26];  /* free text, up to 25 characters */
	char commitment[49]; /* payment-commitment reference: writes an ET51 when set */
	uint8_t account;     /* 0 = A, 1 = B */
	/* what real files carry besides (efact-real.md 2); zero = not written (zeros) */
	uint8_t et52;        /* 1: an ET52 (eID reading of the service) after the line (and ET51) */
	uint16_t lump_share; /* ET50 283-285, share in a lump sum, 0..999 */
	char eid_flag;       /* ET50 286, eID-reading flag, a digit ('\0' = '0') */
	char gps_flag;       /* ET50 316, GPS flag, a digit ('\0' = '0') */
} tpc_efact_line_in_t;

typedef struct tpc_efact_invoice_in {
	char niss[12];
	char number[13];               /* individual invoice number, up to 12 digits */
	char previous[13];             /* referenced invoice (credit note), "" = none */
	char mutuality[4];             /* destination mutuality, 3 digits */
	char kind;                     /* '1' hospitalised, '3' ambulatory */
	char invoicing;                /* '0' normal, '1' corrective, '3' credit note */
	char sex;                      /* '1' or '2' */
	uint32_t admission, discharge; /* YYYYMMDD or 0 */
	uint16_t ct1, ct2;
	uint16_t discharge_hour; /* HHMM, written 0HHMM at 108-112 of ET20 and ET80; 0 = none */
	const tpc_efact_line_in_t *lines;
	size_t nlines;
} tpc_efact_invoice_in_t;

typedef struct tpc_efact_sending_in {
	char reference[15];   /* 14 digits (segment 200 zone 204) */
	char third_party[12]; /* NIHII of the invoicing third party */
	uint32_t sending_no;  /* 1..999 */
	uint32_t year_month;  /* YYYYMM */
	uint32_t created;     /* YYYYMMDD */
	char bce[11];         /* "" = none */
	char iban[35];
	char bic[12];
	char contact[46];
	/* ET10 85-87, the third party's profession code (efact-real.md 2: not zero for a person
	 * from 2024-04); "" writes "001", a placeholder (the code list is not known here), "000"
	 * the zeros files carried before 2024 */
	char profession[4];
	unsigned style; /* TPC_EFACT_STYLE_* flags: how real hospital software writes the file */
	int counts;     /* enum tpc_efact_counts: the record counts written in 95/96 */
	/* invoices in ascending destination mutuality */
	const tpc_efact_invoice_in_t *invoices;
	size_t ninvoices;
} tpc_efact_sending_in_t;

/** How real hospital software writes what the defaults write otherwise (efact-real.md 2);
 *  tpc_efact_sending_in_t.style. The defaults stay as they are: the committed samples are the
 *  writer's output and must stay reproducible. */
enum tpc_efact_style_flags {
	/* an ET21 (the patient's eID read at invoice level) after each ET20: shaped like an ET52
	 * without a code (25-32 read date, 36-48 beneficiary, 49 input type 1, 50 media type 1,
	 * 52-55 read hour, 80-94 card number), which is our guess at its zones */
	TPC_EFACT_STYLE_ET21 = 1u << 0,
	/* the fillers of real files: spaces in the unused account-B zones (ET10 and ET90 BIC B
	 * 219-229 and IBAN B 271-304, ET20 reference B 271-292), ET50 231-260 as thirty '+', ET50
	 * 262-269 as 00000000 (S1's +0000000 otherwise), 95/96 amount C and its error field
	 * (80-93) blank */
	TPC_EFACT_STYLE_FILLERS = 1u << 1,
};

/** The record counts written in 95/96 (66-73); tpc_efact_sending_in_t.counts. */
enum tpc_efact_counts {
	TPC_EFACT_COUNTS_TPCLEAR = 0, /* what the decoder counts: ET20..ET80 of the mutuality for a
	                               * 95, ET10..ET90 for the 96 (S1's reading) */
	TPC_EFACT_COUNTS_NO_ET52 = 1, /* the same without the ET52s (a widely used client) */
	TPC_EFACT_COUNTS_CIN = 2,     /* fixed 6 and 8, whatever the content (the CIN test files) */
};

/** What tpc_efact_sending_head() fills besides the header zones. */
enum {
	TPC_EFACT_HEAD_BCE = 1,  /* the sample BCE number 0999999922 */
	TPC_EFACT_HEAD_BANK = 2, /* the sample IBAN BE10001232152604 and BIC GEBABEBB */
};

/** Zero @p s, then give it the sample third party's header: @p reference (14 digits), third
 *  party 18334780004, sending @p sending_no of November 2026 made on 2026-11-20, and what
 *  @p with asks for (TPC_EFACT_HEAD_*). The invoices are the caller's to attach. */
void tpc_efact_sending_head(tpc_efact_sending_in_t *s, const char *reference, uint32_t sending_no,
                            int with);

/** Zero @p v, then make it a normal ambulatory invoice ('3', '0', sex '1', CT 110/110) of
 *  @p niss, @p number and destination mutuality @p mut over @p n lines at @p lines (borrowed:
 *  they must outlive the write). */
void tpc_efact_invoice(tpc_efact_invoice_in_t *v, const char *niss, const char *number,
                       const char *mut, const tpc_efact_line_in_t *lines, size_t n);

/** Write @p in as a 920000 file.
 *  @param[out] out  malloc'd bytes (the caller frees them)
 *  @param[out] len  their length
 *  @return 0, TPC_ADAPTER_EINVAL (a field does not fit its zone) or TPC_ADAPTER_ENOMEM. */
int tpc_efact_write(const tpc_efact_sending_in_t *in, uint8_t **out, size_t *len);

/** Recompute the record control (349-350) of the 350-character record at @p rec. */
void tpc_efact_reseal(char *rec);

/** A deterministic sample that clears against config/refdata/ (see canonical_gen.h): @p ninv
 *  ambulatory invoices of @p nlines lines from provider 18334780004, reference derived from
 *  @p seed, patients as tpc_sample_patient(). @return malloc'd bytes or NULL. */
uint8_t *tpc_efact_sample(unsigned seed, unsigned patients, int ninv, int nlines, size_t *len);

/** A line of one unit by the sample performer (17385467004), for builders and tests. */
tpc_efact_line_in_t tpc_efact_line(const char *code, uint32_t date, int64_t insurer_cents,
                                   int64_t patient_cents, const char *reference);

/** The acceptance sending of the eFact issue, against config/refdata/: among good lines, one
 *  with a wrong NISS check digit (record 4, 500802), a code without tariff (record 5, 500403), a
 *  wrong insurer amount (record 6, 501940), a repeat of the first line (record 7, 500423) and a
 *  service date between two insurability periods (record 11, 500540). @p reference: 14 digits.
 *  @return malloc'd bytes or NULL. config/samples/sample-faults.920000 is this sending. */
uint8_t *tpc_efact_faults_sample(const char *reference, size_t *len);

/** A sending as a hospital's software writes it (efact-real.md 2), against config/refdata/:
 *  TPC_EFACT_STYLE_ET21 and _FILLERS, an ET52 after every line (so the invoice controls sum
 *  ET50, ET51 and ET52 codes), a hospital stay with its discharge hour (ET20 and ET80
 *  108-112), a line with a payment commitment (ET51), ET50 283-285 / 286 / 316 filled, two
 *  destination mutualities (300 and 600), and the record counts of @p counts
 *  (enum tpc_efact_counts). Records: 1 ET10; 2 ET20, 3 ET21, 4 ET50, 5 ET52, 6 ET50, 7 ET51,
 *  8 ET52, 9 ET80 (mutuality 300, hospitalised); 10 ET20, 11 ET21, 12 ET50, 13 ET52, 14 ET80
 *  (600); 15 ET90; 16 95 (300); 17 95 (600); 18 96. Every line clears. @p reference: 14 digits.
 *  @return malloc'd bytes or NULL. */
uint8_t *tpc_efact_hospital_sample(const char *reference, int counts, size_t *len);

/** One sending with lines of every scheme, against config/refdata/ and its sample feeds
 *  (docs/schemes.md, "Worked examples"): a detainee detained, released and detained again, a
 *  Fedasil applicant, a Mediprima patient in hospital and ambulatory, a war victim, an OSSOM BC
 *  contract (doubled, capped), OSSOM deferred rights, an AMI member. With @p refusals, also a
 *  code Fedasil never pays, a hospital day after the Mediprima decision ended and an unknown
 *  person (refused 500431, 500540, 500820). @p reference: 14 digits.
 *  @return malloc'd bytes or NULL. config/samples/sample-schemes.920000 is this sending
 *  without refusals, reference 20261100000701. */
uint8_t *tpc_efact_schemes_sample(const char *reference, int refusals, size_t *len);

#endif
