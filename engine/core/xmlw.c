/* engine/core/xmlw.c - XML documents in memory (see xmlw.h).
 *
 * Every call but begin/finish is void and a no-op once x->rc is set (the sticky error of
 * xmlw.h), so sepa.c and statement.c write a whole document as straight-line code and check
 * once. */
#include "core/xmlw.h"

#include "core/error.h"

#include <stdio.h>

/* xmlTextWriter* return the bytes written, or -1 without saying why. Into a memory buffer that
 * is a failed allocation, or a call out of order (a bug in the caller); TPC_ENOMEM names the
 * first, the only one that can happen to correct code. The first failure wins: later ones are
 * its consequences. */
static void note(tpc_xmlw_t *x, int xmlrc)
{
	if (xmlrc < 0 && !x->rc)
		x->rc = TPC_ENOMEM;
}

int tpc_xmlw_begin(tpc_xmlw_t *x, const char *root, const char *ns)
{
	x->w = NULL;
	x->rc = 0;
	/* idempotent; tpcleard's main() makes the first call before any thread starts (libxml2
	 * before 2.11 wants its initialisation done by one thread) */
	xmlInitParser();
	x->buf = xmlBufferCreate();
	if (!x->buf)
		return x->rc = TPC_ENOMEM;
	x->w = xmlNewTextWriterMemory(x->buf, 0);
	if (!x->w)
		return x->rc = TPC_ENOMEM;
	note(x, xmlTextWriterSetIndent(x->w, 1));
	note(x, xmlTextWriterSetIndentString(x->w, BAD_CAST "  "));
	if (!x->rc)
		note(x, xmlTextWriterStartDocument(x->w, "1.0", "UTF-8", NULL));
	if (!x->rc)
		note(x, xmlTextWriterStartElementNS(x->w, NULL, BAD_CAST root, BAD_CAST ns));
	return x->rc;
}

void tpc_xmlw_start(tpc_xmlw_t *x, const char *name)
{
	if (!x->rc)
		note(x, xmlTextWriterStartElement(x->w, BAD_CAST name));
}

void tpc_xmlw_end(tpc_xmlw_t *x)
{
	if (!x->rc)
		note(x, xmlTextWriterEndElement(x->w));
}

void tpc_xmlw_leaf(tpc_xmlw_t *x, const char *name, const char *value)
{
	if (!x->rc)
		note(x, xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST value));
}

void tpc_xmlw_attr(tpc_xmlw_t *x, const char *name, const char *value)
{
	if (!x->rc)
		note(x, xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value));
}

void tpc_xmlw_text(tpc_xmlw_t *x, const char *text)
{
	if (!x->rc)
		note(x, xmlTextWriterWriteString(x->w, BAD_CAST text));
}

int tpc_xmlw_finish(tpc_xmlw_t *x, const uint8_t **data, size_t *len)
{
	if (!x->rc)
		note(x, xmlTextWriterEndDocument(x->w)); /* closes the root, flushes */
	/* the writer goes first: it holds the last bytes until freed */
	xmlFreeTextWriter(x->w);
	x->w = NULL;
	if (x->rc)
		return x->rc;
	*data = xmlBufferContent(x->buf);
	*len = (size_t)xmlBufferLength(x->buf);
	return 0;
}

void tpc_xmlw_free(tpc_xmlw_t *x)
{
	if (x->w)
		xmlFreeTextWriter(x->w);
	if (x->buf)
		xmlBufferFree(x->buf);
	x->w = NULL;
	x->buf = NULL;
}

/* Integer division, never a double (xmlw.h: money without floating point): cents / 100.0 is
 * inexact for most amounts, and a double holds whole cents exactly only up to 2^53. The magnitude
 * is taken in unsigned arithmetic because -INT64_MIN overflows an int64_t. */
void tpc_xmlw_decimal(char *buf, size_t size, int64_t cents)
{
	uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;

	snprintf(buf, size, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(a / 100),
	         (unsigned long long)(a % 100));
}
