/* engine/core/xmlw.h - an XML document written in memory with libxml2's xmlTextWriter.
 *
 * The SEPA files (engine/payments/sepa.c) and the SPP IS statements (engine/ledger/statement.c) are
 * written the same way: indented, UTF-8, one root element in a namespace, and a sticky error - the
 * first libxml2 failure is kept and every later call does nothing - so a document is built with
 * plain calls and checked once at the end. Money is written from int64 cents without floating
 * point. Reentrant: each document has its own writer.
 */
#ifndef TPC_XMLW_H
#define TPC_XMLW_H

#include <libxml/xmlwriter.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tpc_xmlw {
	xmlTextWriterPtr w;
	xmlBufferPtr buf;
	int rc; /* 0, or the first failure (TPC_ENOMEM): every call is a no-op once set */
} tpc_xmlw_t;

/** Start a document whose root element is @p root in namespace @p ns.
 *  @param[out] x  release with tpc_xmlw_free() whatever happens
 *  @return 0 or TPC_ENOMEM. */
int tpc_xmlw_begin(tpc_xmlw_t *x, const char *root, const char *ns);

void tpc_xmlw_start(tpc_xmlw_t *x, const char *name);
void tpc_xmlw_end(tpc_xmlw_t *x);
/** <name>value</name> (escaped by libxml2). */
void tpc_xmlw_leaf(tpc_xmlw_t *x, const char *name, const char *value);
/** Text content of the element just started (after its attributes). */
void tpc_xmlw_text(tpc_xmlw_t *x, const char *text);
/** An attribute of the element just started. */
void tpc_xmlw_attr(tpc_xmlw_t *x, const char *name, const char *value);

/** End the document (closing the root).
 *  @param[out] data, len  the bytes, owned by @p x (valid until tpc_xmlw_free); an indenting
 *                         writer ends without a final line break: the caller adds one
 *  @return 0 or the first failure. */
int tpc_xmlw_finish(tpc_xmlw_t *x, const uint8_t **data, size_t *len);

/** Release the writer and its buffer. Safe on a zeroed or finished @p x. */
void tpc_xmlw_free(tpc_xmlw_t *x);

/** "-123.45" from -12345 cents (any int64), without floating point. */
void tpc_xmlw_decimal(char *buf, size_t size, int64_t cents);

#endif /* TPC_XMLW_H */
