/* adapters/eattest/kmehr_answer.c - the Kmehr answer (see kmehr_answer.h).
 *
 * The request is read again (kmehr.c) for what the sending does not keep: the request's id,
 * date and author, each claim's norm and encounter date-time as sent. The answer is written
 * with libxml2's xmlTextWriter into a libxml2 buffer (malloc, like the parser), then copied
 * into the sending's arena and the buffer freed before returning.
 *
 * Element names, namespaces and code systems follow the public eAttest v3 clients named in
 * docs/formats/eattest.md: the element `kmehrmessage` and the response/acknowledge parts are
 * in messageservices core v1, everything inside the kmehrmessage in the kmehr schema v1.
 */
#include "eattest/kmehr_answer.h"

#include "eattest/attestation.h"
#include "eattest/kmehr.h"

#include <libxml/xmlwriter.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NS_PROTOCOL "http://www.ehealth.fgov.be/messageservices/protocol/v1"
#define NS_CORE     "http://www.ehealth.fgov.be/messageservices/core/v1"
#define NS_KMEHR    "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"

/* The writer and its sticky error: a failed write makes the rest no-ops. */
struct wr {
	xmlTextWriter *w;
	int bad;
};

static void start(struct wr *x, const char *prefix, const char *name)
{
	if (!x->bad && xmlTextWriterStartElementNS(x->w, BAD_CAST prefix, BAD_CAST name, NULL) < 0)
		x->bad = 1;
}

static void end(struct wr *x)
{
	if (!x->bad && xmlTextWriterEndElement(x->w) < 0)
		x->bad = 1;
}

static void at(struct wr *x, const char *name, const char *value)
{
	if (!x->bad && xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value) < 0)
		x->bad = 1;
}

/* <prefix:name>text</prefix:name>, @p n bytes of @p text (not NUL-terminated). */
static void elem(struct wr *x, const char *prefix, const char *name, const char *text, size_t n)
{
	start(x, prefix, name);
	if (!x->bad && n && xmlTextWriterWriteFormatString(x->w, "%.*s", (int)n, text) < 0)
		x->bad = 1;
	end(x);
}

/* An element of a value as read; absent (nothing written) when the request had none. */
static void elem_v(struct wr *x, const char *prefix, const char *name, tpc_view_t v)
{
	if (v.len)
		elem(x, prefix, name, v.ptr, v.len);
}

/* <kmehr:cd|id S=".." SV="..">value</...> */
static void coded(struct wr *x, const char *prefix, const char *el, const char *s, const char *sv,
                  const char *value, size_t n)
{
	start(x, prefix, el);
	at(x, "S", s);
	at(x, "SV", sv);
	if (!x->bad && n && xmlTextWriterWriteFormatString(x->w, "%.*s", (int)n, value) < 0)
		x->bad = 1;
	end(x);
}

#define CSTR(s) (s), strlen(s)

/* The insurer as a Kmehr hcparty: the codes MyCareNet answers with for an insurer (the
 * clients only read the transactions, but a Kmehr author must be an hcparty with an id). */
static void insurer(struct wr *x)
{
	start(x, "kmehr", "hcparty");
	coded(x, "kmehr", "id", "ID-INSURANCE", "1.0", CSTR("600"));
	coded(x, "kmehr", "cd", "CD-HCPARTY", "1.16", CSTR("orginsurance"));
	elem(x, "kmehr", "name", CSTR("CAAMI-HZIV"));
	end(x);
}

/* A care provider (NIHII @p nihii) as a Kmehr hcparty. */
static void provider(struct wr *x, tpc_view_t nihii)
{
	start(x, "kmehr", "hcparty");
	coded(x, "kmehr", "id", "ID-HCPARTY", "1.0", nihii.ptr, nihii.len);
	coded(x, "kmehr", "cd", "CD-HCPARTY", "1.16", CSTR("persphysician"));
	end(x);
}

/* The response part: its id, the insurer, the date, and the request echoed. */
static void response(struct wr *x, const tpc_kmehr_msg_t *m)
{
	/* the response's own id: the insurer's code and what it answers for */
	tpc_view_t what = m->invoicing.len  ? m->invoicing
	                  : m->cancellation ? m->a.cancels
	                                    : m->request_id;
	char rid[160];
	int n = snprintf(rid, sizeof(rid), "600.%.*s", (int)(what.len > 150 ? 150 : what.len),
	                 what.len ? what.ptr : "");

	start(x, "core", "response");
	coded(x, "core", "id", "ID-KMEHR", "1.0", rid, (size_t)n);
	start(x, "core", "author");
	insurer(x);
	end(x);
	elem_v(x, "core", "date", m->date);
	elem_v(x, "core", "time", m->time);
	start(x, "core", "request");
	coded(x, "core", "id", "ID-KMEHR", "1.0", m->request_id.ptr, m->request_id.len);
	start(x, "core", "author");
	provider(x, m->requestor);
	end(x);
	elem_v(x, "core", "date", m->date);
	elem_v(x, "core", "time", m->time);
	end(x);
	end(x);
}

void tpc_kmehr_xpath(int wrapped, uint32_t record, uint16_t pos, char *out, size_t cap)
{
	static const char *const place[] = {
	    "", "", "/header/sender/hcparty", "/folder/patient", "/header/date", "/folder", ""};
	const char *root = wrapped ? "/SendTransactionRequest/kmehrmessage" : "/kmehrmessage";

	if (record == 0)
		snprintf(out, cap, "%s%s", pos == TPC_KMEHR_AT_DTD ? "/" : root,
		         pos < sizeof(place) / sizeof(place[0]) ? place[pos] : "");
	else if (pos)
		snprintf(out, cap, "%s/folder/transaction[%" PRIu32 "]/item[%u]", root, record,
		         (unsigned)pos);
	else
		snprintf(out, cap, "%s/folder/transaction[%" PRIu32 "]", root, record);
}

/* One error of the acknowledge: our code, its reason, the XPath of its item. The public
 * clients take the code from the CD-ERROR cd and evaluate the url against their request to
 * show the field, so the url is the path of the item, not of the value inside it. */
static void error(struct wr *x, const tpc_kmehr_msg_t *m, const tpc_finding_t *f)
{
	const char *why = tpc_attest_describe(f->code);
	char url[160], text[320];
	int n;

	tpc_kmehr_xpath(m->wrapped, f->record, f->pos, url, sizeof(url));
	if (strcmp(f->code, "T40007") == 0) /* not XML: record and pos are a line and column */
		snprintf(url, sizeof(url), "/");
	if (strcmp(f->code, "T40007") == 0)
		n = snprintf(text, sizeof(text), "%s: line %" PRIu32 ", column %u", why, f->record,
		             (unsigned)f->pos);
	else if (why)
		n = snprintf(text, sizeof(text), "%s", why);
	else /* an engine rule: its reason is in tpclear's Result and docs/errors.md */
		n = snprintf(text, sizeof(text), "refused by rule %s (docs/errors.md)", f->code);
	start(x, "core", "error");
	coded(x, "kmehr", "cd", "CD-ERROR", "1.0", f->code, strlen(f->code));
	start(x, "kmehr", "description");
	at(x, "L", "en");
	if (!x->bad && xmlTextWriterWriteFormatString(x->w, "%.*s", n, text) < 0)
		x->bad = 1;
	end(x);
	elem(x, "kmehr", "url", CSTR(url));
	end(x);
}

/* The acknowledge: complete when the attestation (or cancellation) was accepted; one error per
 * finding, the request's first, then the attestation's, then each service's. */
static void acknowledge(struct wr *x, const tpc_kmehr_msg_t *m, const tpc_sending_t *s, int ok)
{
	start(x, "core", "acknowledge");
	elem(x, "core", "iscomplete", CSTR(ok ? "true" : "false"));
	for (uint32_t i = 0; i < s->nfindings; i++)
		error(x, m, &s->findings[i]);
	for (uint32_t i = 0; i < s->ninvoices; i++)
		for (uint32_t k = 0; k < s->invoices[i].nfindings; k++)
			error(x, m, &s->invoices[i].findings[k]);
	for (uint32_t i = 0; i < s->nlines; i++)
		for (uint32_t k = 0; k < s->lines[i].nfindings; k++)
			error(x, m, &s->lines[i].findings[k]);
	end(x);
}

/* Open a folder transaction: id @p n, type @p type, dated as the request, by the insurer. */
static void transaction(struct wr *x, const tpc_kmehr_msg_t *m, unsigned n, const char *type)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", n);
	start(x, "kmehr", "transaction");
	coded(x, "kmehr", "id", "ID-KMEHR", "1.0", CSTR(id));
	coded(x, "kmehr", "cd", "CD-TRANSACTION-MYCARENET", "1.5", CSTR(type));
	elem_v(x, "kmehr", "date", m->date);
	elem_v(x, "kmehr", "time", m->time);
	start(x, "kmehr", "author");
	insurer(x);
	end(x);
	elem(x, "kmehr", "iscomplete", CSTR("true"));
	elem(x, "kmehr", "isvalidated", CSTR("true"));
}

/* Open item @p n of type @p type (@p scheme CD-ITEM or CD-ITEM-MYCARENET). */
static void item(struct wr *x, unsigned n, const char *scheme, const char *type)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", n);
	start(x, "kmehr", "item");
	coded(x, "kmehr", "id", "ID-KMEHR", "1.0", CSTR(id));
	coded(x, "kmehr", "cd", scheme, strcmp(scheme, "CD-ITEM") == 0 ? "1.11" : "1.6",
	      CSTR(type));
}

/* <item>invoicingnumber</item> with @p number as its text. */
static void invoicing_item(struct wr *x, tpc_view_t number)
{
	item(x, 1, "CD-ITEM-MYCARENET", "invoicingnumber");
	start(x, "kmehr", "content");
	start(x, "kmehr", "text");
	at(x, "L", "en");
	if (!x->bad &&
	    xmlTextWriterWriteFormatString(x->w, "%.*s", (int)number.len, number.ptr) < 0)
		x->bad = 1;
	end(x);
	end(x);
	end(x);
}

/* One cgd: the claim (code and norm), the encounter date-time, the fee reimbursed. The fee
 * is the line's accepted amount (0 for a refused line, whose error is in the acknowledge):
 * every cgd of the request is answered, in order, so a client can pair them by position.
 * Code, norm, date and time are echoed as sent, not as the engine normalised them. */
static void cgd(struct wr *x, const tpc_kmehr_msg_t *m, uint32_t i, const tpc_line_t *ln)
{
	char fee[32];
	int64_t c = ln->accepted_cents < 0 ? -ln->accepted_cents : ln->accepted_cents;
	int n = snprintf(fee, sizeof(fee), "%s%" PRId64 ".%02" PRId64,
	                 ln->accepted_cents < 0 ? "-" : "", c / 100, c % 100);

	transaction(x, m, i + 2, "cgd");
	item(x, 1, "CD-ITEM", "claim");
	start(x, "kmehr", "content");
	coded(x, "kmehr", "cd", "CD-NIHDI", "1.0", m->a.services[i].code.ptr,
	      m->a.services[i].code.len);
	end(x);
	start(x, "kmehr", "content");
	start(x, "kmehr", "cd");
	at(x, "S", "LOCAL");
	at(x, "SL", "NIHDI-CLAIM-NORM");
	at(x, "SV", "1.0");
	if (!x->bad && m->cgd[i].norm.len &&
	    xmlTextWriterWriteFormatString(x->w, "%.*s", (int)m->cgd[i].norm.len,
	                                   m->cgd[i].norm.ptr) < 0)
		x->bad = 1;
	end(x);
	end(x);
	end(x);
	item(x, 2, "CD-ITEM", "encounterdatetime");
	start(x, "kmehr", "content");
	elem_v(x, "kmehr", "date", m->cgd[i].date);
	if (m->cgd[i].time.len)
		elem_v(x, "kmehr", "time", m->cgd[i].time);
	end(x);
	end(x);
	item(x, 3, "CD-ITEM-MYCARENET", "fee");
	start(x, "kmehr", "cost");
	elem(x, "kmehr", "decimal", fee, (size_t)n);
	start(x, "kmehr", "unit");
	coded(x, "kmehr", "cd", "CD-CURRENCY", "1.0", CSTR("EUR"));
	end(x);
	end(x);
	end(x);
	end(x);
}

/* The kmehrmessage of an accepted attestation or cancellation. */
static void message(struct wr *x, const tpc_kmehr_msg_t *m, const tpc_sending_t *s)
{
	start(x, "core", "kmehrmessage");
	start(x, "kmehr", "header");
	start(x, "kmehr", "standard");
	coded(x, "kmehr", "cd", "CD-STANDARD", "1.35", CSTR("20210120"));
	end(x);
	coded(x, "kmehr", "id", "ID-KMEHR", "1.0", CSTR("1"));
	elem_v(x, "kmehr", "date", m->date);
	elem_v(x, "kmehr", "time", m->time);
	start(x, "kmehr", "sender");
	insurer(x);
	end(x);
	start(x, "kmehr", "recipient");
	provider(x, m->a.provider);
	end(x);
	end(x);
	start(x, "kmehr", "folder");
	coded(x, "kmehr", "id", "ID-KMEHR", "1.0", CSTR("1"));
	start(x, "kmehr", "patient");
	coded(x, "kmehr", "id", "ID-PATIENT", "1.0", m->a.patient.ptr, m->a.patient.len);
	end(x);
	transaction(x, m, 1, m->cancellation ? "cgacancellation" : "cga");
	invoicing_item(x, m->cancellation ? m->a.cancels : m->invoicing);
	end(x);
	for (uint32_t i = 0; !m->cancellation && i < m->a.nservices && i < s->nlines; i++)
		cgd(x, m, i, &s->lines[i]);
	end(x);
	end(x);
}

/* The whole document into @p buf. Prefixes are fixed (core, kmehr) and declared once on the
 * root: readers match namespaces, and one declaration keeps the answer small. */
static int document(xmlBuffer *buf, const tpc_kmehr_msg_t *m, const tpc_sending_t *s)
{
	struct wr x = {xmlNewTextWriterMemory(buf, 0), 0};
	int ok = s->outcome == TPC_OUTCOME_ACCEPTED && s->ninvoices &&
	         s->invoices[0].outcome == TPC_OUTCOME_ACCEPTED;

	if (!x.w)
		return -1;
	if (xmlTextWriterStartDocument(x.w, "1.0", "UTF-8", NULL) < 0)
		x.bad = 1;
	start(&x, NULL, "SendTransactionResponse");
	at(&x, "xmlns", NS_PROTOCOL);
	at(&x, "xmlns:core", NS_CORE);
	at(&x, "xmlns:kmehr", NS_KMEHR);
	at(&x, "messageProtocoleSchemaVersion", "1.34");
	if (m->well_formed)
		response(&x, m);
	acknowledge(&x, m, s, ok);
	if (ok && m->well_formed)
		message(&x, m, s);
	end(&x);
	if (!x.bad && xmlTextWriterEndDocument(x.w) < 0)
		x.bad = 1;
	xmlFreeTextWriter(x.w);
	return x.bad ? -1 : 0;
}

int tpc_kmehr_answer(const uint8_t *buf, size_t len, const tpc_sending_t *s, const tpc_host_t *host,
                     tpc_blob_t *out)
{
	tpc_kmehr_msg_t m;
	xmlBuffer *xb;
	uint8_t *p = NULL;
	int rc = tpc_kmehr_read(buf, len, host, &m);

	if (rc)
		return rc == TPC_ADAPTER_ETOOBIG ? TPC_ADAPTER_ENOMEM : rc;
	xb = xmlBufferCreate();
	if (!xb)
		return TPC_ADAPTER_ENOMEM;
	if (document(xb, &m, s) == 0)
		p = host->alloc(host->arena, (size_t)xmlBufferLength(xb), 1);
	if (p) {
		memcpy(p, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
		out->ptr = p;
		out->len = (size_t)xmlBufferLength(xb);
		snprintf(out->type, sizeof(out->type), "kmehr");
	}
	xmlBufferFree(xb);
	return p ? 0 : TPC_ADAPTER_ENOMEM;
}
