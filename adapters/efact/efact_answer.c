/* adapters/efact/efact_answer.c - native eFact answers (efact.md sections 2, 5.2 and 6).
 *
 *   931000  at reception: segment 200 (type 931000) + a 160-character 300 naming 920000.
 *   920999  refused at reception (s->blocked: a blocking finding on the file, segment
 *           200/300, record 10, 90, 95 or 96): segment 200 (type 920999) + the 160-character
 *           300 + records 95/96 echoed, with 2-digit errors after the zones at fault.
 *   920099  the sending is refused; 920098 it is accepted (possibly with refused lines). Both:
 *           segment 200 + the 610-character 300 (error percentage at 141-145, refusal type at
 *           148-149) + every record 10..90 echoed at 800 characters, up to three errors at
 *           457-463 / 464-470 / 471-477 (letter + code), the amount paid on a line at 478-489,
 *           the record's ordinal at 795-800 + records 95/96 echoed at 350.
 * The answer is written into the sending's arena; nothing else is allocated.
 */
#include "efact.h"

#include "common/check.h"

#include <stdio.h>
#include <string.h>

/* Up to three findings per record, from lines, invoices and the sending. */
struct slots {
	const tpc_finding_t *(*f)[3];
	uint32_t n;
};

static void slot_add(struct slots *sl, const tpc_finding_t *f)
{
	if (f->record == 0 || f->record > sl->n)
		return;
	for (int k = 0; k < 3; k++)
		if (!sl->f[f->record - 1][k]) {
			sl->f[f->record - 1][k] = f;
			return;
		}
}

static int encode_result(const uint8_t *buf, size_t len, const tpc_sending_t *s,
                         const tpc_host_t *host, tpc_blob_t *out)
{
	uint32_t nrec = (uint32_t)((len - TPC_EFACT_HEADER) / TPC_EFACT_RECORD);
	uint32_t n800 = 0, n350 = 0;
	struct slots sl = {NULL, nrec};
	int64_t total = s->accepted_cents + s->refused_cents;
	int refused = s->blocked || s->outcome == TPC_OUTCOME_REFUSED;
	uint32_t inv_i = 0, line_i = 0;
	char *o, *p;

	for (uint32_t i = 0; i < nrec; i++) {
		const char *rec =
		    (const char *)buf + TPC_EFACT_HEADER + (size_t)i * TPC_EFACT_RECORD;
		if (rec[0] == '9' && (rec[1] == '5' || rec[1] == '6'))
			n350++;
		else
			n800++;
	}
	sl.f = host->alloc(host->arena, ((size_t)nrec + 1) * sizeof(*sl.f), 8);
	o = host->alloc(host->arena,
	                TPC_EFACT_SEG200 + TPC_EFACT_SEG300_ANSWER +
	                    (size_t)n800 * TPC_EFACT_RECORD_ANSWER +
	                    (size_t)n350 * TPC_EFACT_RECORD,
	                1);
	if (!sl.f || !o)
		return TPC_ADAPTER_ENOMEM;
	for (uint32_t i = 0; i < s->nlines; i++)
		for (unsigned k = 0; k < s->lines[i].nfindings; k++)
			slot_add(&sl, &s->lines[i].findings[k]);
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (unsigned k = 0; k < s->invoices[i].nfindings; k++)
			slot_add(&sl, &s->invoices[i].findings[k]);
	for (uint32_t i = 0; i < s->nfindings; i++)
		slot_add(&sl, &s->findings[i]);

	/* segment 200 and the answer's 300 */
	p = o;
	memcpy(p, buf, TPC_EFACT_SEG200);
	memcpy(p, refused ? "920099" : "920098", 6);
	p += TPC_EFACT_SEG200;
	memset(p, '0', TPC_EFACT_SEG300_ANSWER);
	memcpy(p, buf + TPC_EFACT_SEG200, 140);
	/* refused share of the invoiced amount, in hundredths of a percent (0..10000) */
	{
		int64_t share =
		    total > 0 ? s->refused_cents * 10000 / total : (refused ? 10000 : 0);

		share = share < 0 ? 0 : share > 10000 ? 10000 : share;
		tpc_check_put_uint(p + 140, 5, (uint64_t)share);
	}
	memcpy(p + 147, refused ? "01" : "00", 2);
	p += TPC_EFACT_SEG300_ANSWER;

	for (uint32_t i = 0; i < nrec; i++) {
		const char *rec =
		    (const char *)buf + TPC_EFACT_HEADER + (size_t)i * TPC_EFACT_RECORD;
		const char *mut = "000";

		if (rec[0] == '9' && (rec[1] == '5' || rec[1] == '6')) {
			memcpy(p, rec, TPC_EFACT_RECORD);
			p += TPC_EFACT_RECORD;
			continue;
		}
		memcpy(p, rec, TPC_EFACT_RECORD);
		memset(p + 350, '0', TPC_EFACT_RECORD_ANSWER - 350);
		/* trailer: sending no., creation date, invoiced month, mutuality */
		memcpy(p + 350, (const char *)buf + TPC_EFACT_SEG200 + 8, 3);
		memcpy(p + 353, (const char *)buf + TPC_EFACT_SEG200 + 13, 8);
		memcpy(p + 361, (const char *)buf + TPC_EFACT_SEG200, 6);
		/* the invoice block this record belongs to (ET20 opens it, ET80 closes it) */
		if (rec[0] == '2' && rec[1] == '0')
			while (inv_i < s->ninvoices && s->invoices[inv_i].record < i + 1)
				inv_i++;
		if (inv_i < s->ninvoices && s->invoices[inv_i].record <= i + 1 &&
		    (rec[0] == '2' || rec[0] == '5' || rec[0] == '8'))
			mut = s->invoices[inv_i].mutuality;
		memcpy(p + 367, mut[0] ? mut : "000", 3);
		memset(p + 456, ' ', 21);
		for (int k = 0; k < 3; k++) {
			const tpc_finding_t *f = sl.f[i][k];
			if (!f)
				break;
			p[456 + 7 * k] = f->letter;
			memcpy(p + 457 + 7 * k, f->code, 6);
		}
		if (rec[0] == '5' && rec[1] == '0') {
			while (line_i < s->nlines && s->lines[line_i].record < i + 1)
				line_i++;
			tpc_check_put_signed(p + 477, 12,
			                     line_i < s->nlines &&
			                             s->lines[line_i].record == i + 1 && !refused
			                         ? s->lines[line_i].accepted_cents
			                         : 0);
		}
		tpc_check_put_uint(p + 794, 6, i + 1);
		p += TPC_EFACT_RECORD_ANSWER;
	}
	out->ptr = (const uint8_t *)o;
	out->len = (size_t)(p - o);
	snprintf(out->type, sizeof(out->type), "%s", refused ? "920099" : "920098");
	return 0;
}

/* Where a finding of 920999 goes: the 2-digit error field after the zone it names, in segment
 * 200/300 (offset from the file's start) or in a record 95/96 (offset in the record). */
static const struct {
	const char *code;
	int in_record; /* 0: header, 1: record 95/96 */
	uint16_t at;   /* 0-based offset of the 2-digit field */
	char err[3];
} err_fields[] = {
    {"T30003", 0, 6, "22"},                     /* 200: not 920000 */
    {"T30004", 0, 34, "20"},                    /* 200: reference */
    {"T30005", 0, TPC_EFACT_SEG200 + 6, "20"},  /* 300: year-month */
    {"T30014", 0, TPC_EFACT_SEG200 + 11, "20"}, /* 300: sending number */
    {"T30007", 0, TPC_EFACT_SEG200 + 11, "20"}, /* 300: differs from ET10 */
    {"T30006", 0, TPC_EFACT_SEG200 + 21, "20"}, /* 300: creation date */
    {"T30015", 1, 7, "21"},                     /* 95: mutuality not in detail */
    {"T30008", 1, 35, "41"},                    /* 95: amount A differs */
    {"T30009", 1, 35, "41"},                    /* 96: amount A differs */
    {"T30011", 1, 73, "20"},                    /* 95/96: record count */
    {"T30010", 1, 77, "20"},                    /* 95/96: control */
};

/* 920999: segment 200 (type 920999) and the 160-character 300 as received, then records 95/96
 * as received; the 2-digit error fields name what could be placed there (the findings
 * themselves travel in the Result). */
static int encode_refusal(const uint8_t *buf, size_t len, const tpc_sending_t *s,
                          const tpc_host_t *host, tpc_blob_t *out)
{
	size_t head = len < TPC_EFACT_HEADER ? len : TPC_EFACT_HEADER, n;
	char *o = host->alloc(host->arena, TPC_EFACT_HEADER + len, 1);

	if (!o)
		return TPC_ADAPTER_ENOMEM;
	memset(o, '0', TPC_EFACT_HEADER);
	if (buf && head)
		memcpy(o, buf, head);
	memcpy(o, "920999", 6);
	for (uint32_t i = 0; i < s->nfindings; i++)
		for (size_t k = 0; k < sizeof(err_fields) / sizeof(err_fields[0]); k++)
			if (!err_fields[k].in_record &&
			    strcmp(s->findings[i].code, err_fields[k].code) == 0)
				memcpy(o + err_fields[k].at, err_fields[k].err, 2);
	n = TPC_EFACT_HEADER;
	for (size_t off = TPC_EFACT_HEADER; buf && off + TPC_EFACT_RECORD <= len;
	     off += TPC_EFACT_RECORD) {
		uint32_t ord = (uint32_t)((off - TPC_EFACT_HEADER) / TPC_EFACT_RECORD) + 1;

		if (buf[off] != '9' || (buf[off + 1] != '5' && buf[off + 1] != '6'))
			continue;
		memcpy(o + n, buf + off, TPC_EFACT_RECORD);
		for (uint32_t i = 0; i < s->nfindings; i++)
			for (size_t k = 0; k < sizeof(err_fields) / sizeof(err_fields[0]); k++)
				if (err_fields[k].in_record && s->findings[i].record == ord &&
				    strcmp(s->findings[i].code, err_fields[k].code) == 0)
					memcpy(o + n + err_fields[k].at, err_fields[k].err, 2);
		n += TPC_EFACT_RECORD;
	}
	out->ptr = (const uint8_t *)o;
	out->len = n;
	snprintf(out->type, sizeof(out->type), "920999");
	return 0;
}

static int encode_receipt(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_blob_t *out)
{
	char *o = host->alloc(host->arena, TPC_EFACT_HEADER, 1);

	if (!o)
		return TPC_ADAPTER_ENOMEM;
	memset(o, '0', TPC_EFACT_HEADER);
	if (buf && len)
		memcpy(o, buf, len < TPC_EFACT_SEG200 ? len : TPC_EFACT_SEG200);
	memcpy(o, "931000", 6);
	memcpy(o + TPC_EFACT_SEG200, "920000", 6);
	out->ptr = (const uint8_t *)o;
	out->len = TPC_EFACT_HEADER;
	snprintf(out->type, sizeof(out->type), "931000");
	return 0;
}

int tpc_efact_encode_answer_(const void *state, const uint8_t *buf, size_t len,
                             const tpc_sending_t *s, enum tpc_answer_kind kind,
                             const tpc_host_t *host, tpc_blob_t *out)
{
	(void)state;
	if (kind == TPC_ANSWER_RECEIPT)
		return encode_receipt(buf, len, host, out);
	if (!s)
		return TPC_ADAPTER_EINVAL;
	if (!buf || len < TPC_EFACT_HEADER || s->blocked)
		return encode_refusal(buf, len, s, host, out);
	return encode_result(buf, len, s, host, out);
}
