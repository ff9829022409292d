/* engine/payments/sepa.c - SEPA credit-transfer files, pain.001.001.03 (see sepa.h).
 *
 * tpc_sepa_render() runs the whole check first, so the writer never sees a bad field: a refusal
 * is about the data, never about half a document. The writer then keeps a sticky error (as in
 * Knot's LMDB wrapper): every element helper is a no-op once one libxml2 call failed, and the
 * result is looked at once, at the end. Writing to a memory buffer can only fail for lack of
 * memory - our text is plain ASCII, so there is no encoding to get wrong - hence TPC_ENOMEM.
 * The UTF-8 names of the reference data reach it through tpc_sepa_text(), which turns them into
 * that ASCII subset as the EPC recommends and cuts them at the field's 70 characters.
 *
 * Limits come from the schema and the EPC rules, not from our types: identifiers are Max35Text,
 * names Max70Text, remittance Max140Text, all restricted to the SEPA Latin set; InstdAmt and
 * CtrlSum allow 18 digits in all, so with two decimals an amount or a sum stays below 10^18
 * cents. That bound sits under INT64_MAX, so keeping the sum under it also rules out overflow.
 */
#include "payments/sepa.h"

#include "common/check.h"
#include "core/config.h"
#include "core/error.h"
#include "core/xmlw.h"
#include "core/utf8.h"
#include "refdata/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>

#define PAIN001_NS "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
#define ID_LEN     35                /* Max35Text */
#define NAME_LEN   TPC_SEPA_NAME_MAX /* Max70Text */
#define REMIT_LEN  140               /* Max140Text */
/* 18 digits, the totalDigits of InstdAmt and CtrlSum */
#define MAX_CENTS  999999999999999999LL
#define MS_PER_DAY 86400000ull
#define LAST_DAY   376199 /* 2999-12-31, the end of tpc_check_days_to_yyyymmdd()'s range */

/* ---- checks ------------------------------------------------------------------------------- */

/* Format "WHERE: FIELD: reason" into @p err (which may be NULL). @return TPC_EINVAL. */
static int refuse(char *err, size_t errlen, const char *where, const char *field, const char *fmt,
                  ...)
{
	char reason[192];
	va_list ap;

	if (!err || !errlen)
		return TPC_EINVAL;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s: %s", where, field, reason);
	return TPC_EINVAL;
}

/* The SEPA restricted Latin character set (EPC guidance on the use of characters). Written out
 * rather than with isalnum(), whose answer depends on the locale. */
static bool latin(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("/-?:().,'+ ", c));
}

/* A text field of @p min..@p max characters of the Latin set; NULL counts as missing. */
static int check_text(const char *s, size_t min, size_t max, const char *where, const char *field,
                      char *err, size_t errlen)
{
	size_t n;

	if (!s)
		return refuse(err, errlen, where, field, "missing");
	n = strlen(s);
	if (n < min)
		return refuse(err, errlen, where, field, "empty");
	if (n > max)
		return refuse(err, errlen, where, field, "%zu characters, at most %zu", n, max);
	for (size_t i = 0; i < n; i++)
		if (!latin(s[i]))
			return refuse(err, errlen, where, field,
			              "character %zu (0x%02x) is outside the SEPA Latin set", i + 1,
			              (unsigned)(unsigned char)s[i]);
	return 0;
}

static int check_iban(const char *s, const char *where, char *err, size_t errlen)
{
	if (!s || !*s)
		return refuse(err, errlen, where, "iban", "missing");
	if (!tpc_check_iban(s, strlen(s)))
		return refuse(err, errlen, where, "iban",
		              "'%.40s' is not a valid IBAN (ISO 13616 mod 97)", s);
	return 0;
}

/* An optional BIC: NULL and "" both mean unknown. */
static int check_bic(const char *s, const char *where, char *err, size_t errlen)
{
	if (s && *s && !tpc_sepa_bic_ok(s))
		return refuse(err, errlen, where, "bic",
		              "'%.16s' is not a BIC (8 or 11 characters)", s);
	return 0;
}

static int cmp_end_to_end(const void *a, const void *b)
{
	const tpc_sepa_payment_t *pa = *(const tpc_sepa_payment_t *const *)a;
	const tpc_sepa_payment_t *pb = *(const tpc_sepa_payment_t *const *)b;
	int c = strcmp(pa->end_to_end, pb->end_to_end);

	/* equal ids stay in input order, so a group's first entry is its earliest payment */
	return c ? c : (pa > pb) - (pa < pb);
}

/* EndToEndIds unique: sort pointers to the payments, equal ids end up adjacent. The refusal names
 * the first payment (in input order) that repeats an earlier id, whatever the sort did. */
static int check_unique(const tpc_sepa_batch_t *b, char *err, size_t errlen)
{
	const tpc_sepa_payment_t **v;
	size_t dup = SIZE_MAX, orig = 0, group = 0;
	char where[32];

	v = malloc(b->npayments * sizeof(*v));
	if (!v)
		return TPC_ENOMEM;
	for (size_t i = 0; i < b->npayments; i++)
		v[i] = &b->payments[i];
	qsort(v, b->npayments, sizeof(*v), cmp_end_to_end);
	for (size_t i = 1; i < b->npayments; i++) {
		if (strcmp(v[i - 1]->end_to_end, v[i]->end_to_end) != 0) {
			group = i;
			continue;
		}
		if ((size_t)(v[i] - b->payments) < dup) {
			dup = (size_t)(v[i] - b->payments);
			orig = (size_t)(v[group] - b->payments);
		}
	}
	free(v);
	if (dup == SIZE_MAX)
		return 0;
	snprintf(where, sizeof(where), "payment %zu", dup + 1);
	return refuse(err, errlen, where, "end_to_end", "'%s' repeats payment %zu",
	              b->payments[dup].end_to_end, orig + 1);
}

/* The whole check; @p sum gets the control sum. Order: batch, debtor, payments in input order,
 * then duplicates, so the first bad field in reading order is the one reported. */
static int check_batch(const tpc_sepa_batch_t *b, int64_t *sum, char *err, size_t errlen)
{
	int64_t total = 0;
	int rc;

	if (TPC_FAILS(b))
		return TPC_EINVAL;
	if ((rc = check_text(b->message_id, 1, ID_LEN, "batch", "message_id", err, errlen)) ||
	    (rc = check_text(b->payment_info_id, 1, ID_LEN, "batch", "payment_info_id", err,
	                     errlen)))
		return rc;
	if (b->created_ms / MS_PER_DAY > (uint64_t)LAST_DAY)
		return refuse(err, errlen, "batch", "created_ms", "after 2999-12-31");
	if (b->execution_day < 0 || b->execution_day > LAST_DAY)
		return refuse(err, errlen, "batch", "execution_day",
		              "day %ld is outside 1970-01-01..2999-12-31", (long)b->execution_day);
	if ((rc = check_text(b->debtor_name, 1, NAME_LEN, "debtor", "name", err, errlen)) ||
	    (rc = check_iban(b->debtor_iban, "debtor", err, errlen)) ||
	    (rc = check_bic(b->debtor_bic, "debtor", err, errlen)))
		return rc;
	if (!b->payments || !b->npayments)
		return refuse(err, errlen, "batch", "payments", "no payments");

	for (size_t i = 0; i < b->npayments; i++) {
		const tpc_sepa_payment_t *p = &b->payments[i];
		char where[32];

		snprintf(where, sizeof(where), "payment %zu", i + 1);
		if ((rc = check_text(p->end_to_end, 1, ID_LEN, where, "end_to_end", err, errlen)) ||
		    (rc = check_text(p->name, 1, NAME_LEN, where, "name", err, errlen)) ||
		    (rc = check_iban(p->iban, where, err, errlen)) ||
		    (rc = check_bic(p->bic, where, err, errlen)))
			return rc;
		if (p->amount_cents <= 0)
			return refuse(err, errlen, where, "amount_cents", "%lld is not positive",
			              (long long)p->amount_cents);
		if (p->amount_cents > MAX_CENTS)
			return refuse(err, errlen, where, "amount_cents",
			              "%lld has more than 18 digits", (long long)p->amount_cents);
		/* total in 0..MAX_CENTS, amount in 1..MAX_CENTS: nothing here overflows */
		if (p->amount_cents > MAX_CENTS - total)
			return refuse(err, errlen, where, "amount_cents",
			              "control sum overflows 18 digits");
		total += p->amount_cents;
		if (!p->remittance)
			continue;
		rc = check_text(p->remittance, 0, REMIT_LEN, where, "remittance", err, errlen);
		if (rc)
			return rc;
	}
	if ((rc = check_unique(b, err, errlen)))
		return rc;
	*sum = total;
	return 0;
}

/* ---- transliteration ---------------------------------------------------------------------- */

/* U+00C0..U+00FF: the Latin-1 letters, by their base letter (EPC217-08); x and / signs are not
 * letters and become full stops. */
static const char *const latin1[64] = {
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I",  "I",
    "D", "N", "O", "O", "O", "O", "O",  ".", "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  ".", "o", "u", "u", "u", "u", "y", "th", "y"};

/* U+0100..U+017F, Latin Extended-A (Central European names: Č, Ł, Ő, Ş...), one base letter each;
 * '*' marks the five that take more than one letter (see extended()). */
static const char ext_a[129] = "AaAaAaCcCcCcCcDd"
                               "DdEeEeEeEeEeGgGg"
                               "GgGgHhHhIiIiIiIi"
                               "Ii**JjKkkLlLlLlL"
                               "lLlNnNnNn*NnOoOo"
                               "Oo**RrRrRrSsSsSs"
                               "SsTtTtTtUuUuUuUu"
                               "UuUuWwYyYZzZzZzs";

/* Characters past U+00FF that have a SEPA equivalent; NULL for the full stop. */
static const char *extended(uint32_t cp, char one[2])
{
	if (cp >= 0x100 && cp <= 0x17F) {
		switch (cp) {
		case 0x132:
			return "IJ";
		case 0x133:
			return "ij";
		case 0x149:
			return "'n";
		case 0x152:
			return "OE";
		case 0x153:
			return "oe";
		default:
			one[0] = ext_a[cp - 0x100];
			return one;
		}
	}
	if ((cp >= 0x2018 && cp <= 0x201F) || cp == 0x2032 || cp == 0x2033)
		return "'"; /* typographic quotes and primes */
	if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212)
		return "-"; /* hyphens, dashes, minus */
	if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return " ";
	if (cp == 0x2026)
		return "...";
	if (cp == 0x20AC)
		return "EUR";
	return NULL;
}

/* The SEPA text of one character. */
static const char *transliterate(uint32_t cp, char one[2])
{
	one[1] = 0;
	if (cp < 0x80) {
		one[0] = (char)cp;
		if (latin(one[0]))
			return one;
		if (cp == '&')
			return "+";
		return cp == '\t' || cp == '\n' || cp == '\r' ? " " : ".";
	}
	if (cp == 0xA0)
		return " "; /* no-break space */
	if (cp == 0xB4)
		return "'"; /* acute accent alone */
	if (cp >= 0xC0 && cp <= 0xFF)
		return latin1[cp - 0xC0];
	const char *t = extended(cp, one);
	return t ? t : ".";
}

int tpc_sepa_text(const char *utf8, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)(utf8 ? utf8 : "");
	size_t left = strlen((const char *)p), n = 0;
	int cut = 0;

	while (left && !cut) {
		uint32_t cp = 0xFFFD; /* a byte that is not UTF-8: a full stop, like any unknown */
		size_t len = tpc_utf8_next(p, left, &cp);
		char one[2];
		const char *t = transliterate(cp, one);

		len = len ? len : 1;
		/* the field's size is the one reason to drop characters: stop at max, even inside
		 * an expansion (ss, AE) */
		for (; *t && !cut; t++)
			if (n < max)
				out[n++] = *t;
			else
				cut = 1;
		p += len;
		left -= len;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	if (n == 0 && max > 0)
		out[n++] = '-';
	out[n] = 0;
	return cut;
}

/* ---- public checks ------------------------------------------------------------------------ */

/* The rule (pain.001.001.03's BICIdentifier pattern) lives in core/config.c: [budget.NAME] bic is
 * checked when the configuration loads, and core/ may not depend on payments/. */
int tpc_sepa_bic_ok(const char *bic)
{
	return tpc_config_bic_ok(bic);
}

int tpc_sepa_check(const tpc_sepa_batch_t *b, char *err, size_t errlen)
{
	int64_t sum;

	return check_batch(b, &sum, err, errlen);
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void leaf_cents(tpc_xmlw_t *wr, const char *name, int64_t cents)
{
	char num[32];

	tpc_xmlw_decimal(num, sizeof(num), cents);
	tpc_xmlw_leaf(wr, name, num);
}

static void leaf_count(tpc_xmlw_t *wr, const char *name, size_t n)
{
	char num[24];

	snprintf(num, sizeof(num), "%zu", n);
	tpc_xmlw_leaf(wr, name, num);
}

/* FinInstnId/BIC, or FinInstnId/Othr/Id NOTPROVIDED (the EPC's value for an unknown agent). */
static void agent(tpc_xmlw_t *wr, const char *name, const char *bic)
{
	tpc_xmlw_start(wr, name);
	tpc_xmlw_start(wr, "FinInstnId");
	if (bic && *bic) {
		tpc_xmlw_leaf(wr, "BIC", bic);
	} else {
		tpc_xmlw_start(wr, "Othr");
		tpc_xmlw_leaf(wr, "Id", "NOTPROVIDED");
		tpc_xmlw_end(wr);
	}
	tpc_xmlw_end(wr);
	tpc_xmlw_end(wr);
}

/* <name><Id><IBAN>iban</IBAN></Id></name> */
static void account(tpc_xmlw_t *wr, const char *name, const char *iban)
{
	tpc_xmlw_start(wr, name);
	tpc_xmlw_start(wr, "Id");
	tpc_xmlw_leaf(wr, "IBAN", iban);
	tpc_xmlw_end(wr);
	tpc_xmlw_end(wr);
}

static void party(tpc_xmlw_t *wr, const char *name, const char *nm)
{
	tpc_xmlw_start(wr, name);
	tpc_xmlw_leaf(wr, "Nm", nm);
	tpc_xmlw_end(wr);
}

static void transaction(tpc_xmlw_t *wr, const tpc_sepa_payment_t *p)
{
	char num[32];

	/* element order: CreditTransferTransactionInformation10 in the schema */
	tpc_xmlw_start(wr, "CdtTrfTxInf");
	tpc_xmlw_start(wr, "PmtId");
	tpc_xmlw_leaf(wr, "EndToEndId", p->end_to_end);
	tpc_xmlw_end(wr);
	tpc_xmlw_start(wr, "Amt");
	tpc_xmlw_decimal(num, sizeof(num), p->amount_cents);
	tpc_xmlw_start(wr, "InstdAmt");
	tpc_xmlw_attr(wr, "Ccy", "EUR");
	tpc_xmlw_text(wr, num);
	tpc_xmlw_end(wr);
	tpc_xmlw_end(wr);
	if (p->bic && *p->bic) {
		tpc_xmlw_start(wr, "CdtrAgt");
		tpc_xmlw_start(wr, "FinInstnId");
		tpc_xmlw_leaf(wr, "BIC", p->bic);
		tpc_xmlw_end(wr);
		tpc_xmlw_end(wr);
	}
	party(wr, "Cdtr", p->name);
	account(wr, "CdtrAcct", p->iban);
	if (p->remittance && *p->remittance) {
		tpc_xmlw_start(wr, "RmtInf");
		tpc_xmlw_leaf(wr, "Ustrd", p->remittance);
		tpc_xmlw_end(wr);
	}
	tpc_xmlw_end(wr);
}

static void document(tpc_xmlw_t *wr, const tpc_sepa_batch_t *b, int64_t sum)
{
	uint64_t secs = b->created_ms / 1000;
	uint32_t created = tpc_check_days_to_yyyymmdd((int32_t)(secs / 86400));
	uint32_t exec = tpc_check_days_to_yyyymmdd(b->execution_day);
	unsigned tod = (unsigned)(secs % 86400);
	char when[32], day[16];

	snprintf(when, sizeof(when), "%04u-%02u-%02uT%02u:%02u:%02u", created / 10000,
	         created / 100 % 100, created % 100, tod / 3600, tod / 60 % 60, tod % 60);
	snprintf(day, sizeof(day), "%04u-%02u-%02u", exec / 10000, exec / 100 % 100, exec % 100);

	tpc_xmlw_start(wr, "CstmrCdtTrfInitn");

	/* GroupHeader32 */
	tpc_xmlw_start(wr, "GrpHdr");
	tpc_xmlw_leaf(wr, "MsgId", b->message_id);
	tpc_xmlw_leaf(wr, "CreDtTm", when);
	leaf_count(wr, "NbOfTxs", b->npayments);
	leaf_cents(wr, "CtrlSum", sum);
	party(wr, "InitgPty", b->debtor_name);
	tpc_xmlw_end(wr);

	/* PaymentInstructionInformation3 */
	tpc_xmlw_start(wr, "PmtInf");
	tpc_xmlw_leaf(wr, "PmtInfId", b->payment_info_id);
	tpc_xmlw_leaf(wr, "PmtMtd", "TRF");
	tpc_xmlw_leaf(wr, "BtchBookg", "true");
	leaf_count(wr, "NbOfTxs", b->npayments);
	leaf_cents(wr, "CtrlSum", sum);
	tpc_xmlw_start(wr, "PmtTpInf");
	tpc_xmlw_start(wr, "SvcLvl");
	tpc_xmlw_leaf(wr, "Cd", "SEPA");
	tpc_xmlw_end(wr);
	tpc_xmlw_end(wr);
	tpc_xmlw_leaf(wr, "ReqdExctnDt", day);
	party(wr, "Dbtr", b->debtor_name);
	account(wr, "DbtrAcct", b->debtor_iban);
	agent(wr, "DbtrAgt", b->debtor_bic);
	tpc_xmlw_leaf(wr, "ChrgBr", "SLEV");
	for (size_t i = 0; i < b->npayments; i++)
		transaction(wr, &b->payments[i]);
	tpc_xmlw_end(wr);

	tpc_xmlw_end(wr); /* CstmrCdtTrfInitn */
}

int tpc_sepa_render(const tpc_sepa_batch_t *b, char **xml, size_t *len, tpc_sepa_totals_t *totals,
                    char *err, size_t errlen)
{
	tpc_xmlw_t wr = {0};
	const uint8_t *data;
	int64_t sum;
	size_t n;
	char *out;
	int rc;

	if (TPC_FAILS(b && xml && len))
		return TPC_EINVAL;
	if ((rc = check_batch(b, &sum, err, errlen)))
		return rc;
	if ((rc = tpc_xmlw_begin(&wr, "Document", PAIN001_NS)))
		goto out_free;
	document(&wr, b, sum);
	if ((rc = tpc_xmlw_finish(&wr, &data, &n)))
		goto out_free;
	/* copy out of libxml2's allocator, as the caller releases with free(); with the line
	 * break the indenting writer leaves out after the root */
	out = malloc(n + 2);
	if (!out) {
		rc = TPC_ENOMEM;
		goto out_free;
	}
	memcpy(out, data, n);
	if (!n || out[n - 1] != '\n')
		out[n++] = '\n';
	out[n] = 0;
	*xml = out;
	*len = n;
	if (totals) {
		totals->transactions = b->npayments;
		totals->control_cents = sum;
	}

out_free:
	tpc_xmlw_free(&wr);
	return rc;
}
