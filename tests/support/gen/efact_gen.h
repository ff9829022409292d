/* tests/support/gen/efact_gen.h - writing valid eFact 920000 files.
 *
 * The writer computes what a provider's software computes: sequence numbers, record controls,
 * ET80 and ET90 totals and controls, records 95 (one per destination mutuality, in ascending
 * order) and 96. Used by tests (valid files, then corrupted zone by zone), by the benchmark's
 * generator and for the bundled samples. The layout it writes is the one efact.c reads.
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
	/* invoices in ascending destination mutuality */
	const tpc_efact_invoice_in_t *invoices;
	size_t ninvoices;
} tpc_efact_sending_in_t;

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
