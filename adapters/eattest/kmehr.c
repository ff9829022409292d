/* adapters/eattest/kmehr.c - the Kmehr eAttest v3 request (see kmehr.h).
 *
 * The reader walks libxml2's tree once: root, header, folder, then each transaction in order.
 * It only reads: whether an element is there, in the right namespace, with a value it can
 * read exactly (a decimal amount to the cent, a date); what a value must be is judged by the
 * rule path shared with the protobuf form (attestation.c). A finding points at the
 * transaction and item it is about (record = the transaction's ordinal in the folder, pos =
 * the item's ordinal in the transaction), so the Kmehr answer can name the item by an XPath
 * (kmehr_answer.c) and the Result by record and position.
 *
 * Elements are matched by namespace and local name, never by prefix: senders use any
 * prefixes (the public clients write ns2:, kmehr: or default namespaces).
 */
#include "eattest/kmehr.h"

#include "common/check.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>

#define NS_PROTOCOL "http://www.ehealth.fgov.be/messageservices/protocol/v1"
#define NS_CORE     "http://www.ehealth.fgov.be/messageservices/core/v1"
#define NS_KMEHR    "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"

/* A finding met while reading is kept (msg->found) until the sending exists: on the sending
 * (-1), the attestation (0) or service k (k, 1-based). */
struct rd {
	const tpc_host_t *host;
	tpc_kmehr_msg_t *m;
	uint32_t cap;     /* of m->found */
	uint32_t paid_tr; /* the cga, if its patientpaid was read: for the total's check */
	uint16_t paid_at; /* that item */
	int rc;           /* sticky: TPC_ADAPTER_ENOMEM (or ETOOBIG) */
};

void tpc_kmehr_init(void)
{
	xmlInitParser();
}

/* Keep a finding of @p code at (@p record, @p pos) for @p on. */
static void note(struct rd *r, const char *code, uint32_t record, uint16_t pos, int32_t on)
{
	if (r->rc)
		return;
	if (r->m->nfound == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 8;
		tpc_kmehr_found_t *n = r->host->alloc(r->host->arena, cap * sizeof(*n), 8);

		if (!n) {
			r->rc = TPC_ADAPTER_ENOMEM;
			return;
		}
		if (r->m->nfound)
			memcpy(n, r->m->found, r->m->nfound * sizeof(*n));
		r->m->found = n;
		r->cap = cap;
	}
	r->m->found[r->m->nfound].f = tpc_attest_finding(code, (tpc_attest_at_t){record, pos});
	r->m->found[r->m->nfound++].on = on;
}

/* ---- the tree ------------------------------------------------------------------------------ */

static int is(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, ns) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The first child element of @p p named @p name in @p ns, or NULL. */
static xmlNode *child(const xmlNode *p, const char *ns, const char *name)
{
	for (xmlNode *c = p ? p->children : NULL; c; c = c->next)
		if (is(c, ns, name))
			return c;
	return NULL;
}

/* The value of the attribute @p name (no namespace), or NULL. */
static const char *attr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n ? n->properties : NULL; a; a = a->next)
		if (!a->ns && strcmp((const char *)a->name, name) == 0)
			return a->children && a->children->content
			           ? (const char *)a->children->content
			           : "";
	return NULL;
}

static int xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The text of @p n (its text children), without leading and trailing white space, copied
 * into the arena. An absent node or empty text is an empty view. Copied, not pointed at: the
 * tree is freed before decode returns, and the sending's views must outlive it (adapter.h).
 * xs:token values are trimmed by the schema's whitespace rule; inner spaces are kept. */
static tpc_view_t text(struct rd *r, const xmlNode *n)
{
	tpc_view_t v = {NULL, 0};
	size_t len = 0, at = 0;
	char *p;

	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_TEXT_NODE && c->content)
			len += strlen((const char *)c->content);
	if (!len || len > UINT32_MAX || r->rc)
		return v;
	p = r->host->alloc(r->host->arena, len + 1, 1);
	if (!p) {
		r->rc = TPC_ADAPTER_ENOMEM;
		return v;
	}
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_TEXT_NODE && c->content) {
			size_t k = strlen((const char *)c->content);
			memcpy(p + at, c->content, k);
			at += k;
		}
	p[len] = 0;
	while (len && xml_space(*p))
		p++, len--;
	while (len && xml_space(p[len - 1]))
		len--;
	v.ptr = p;
	v.len = (uint32_t)len;
	return v;
}

static int view_is(tpc_view_t v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

/* The first <cd S="@p scheme"> child of @p p (and SL="@p sl" when given), or NULL. */
static xmlNode *cd(const xmlNode *p, const char *scheme, const char *sl)
{
	for (xmlNode *c = p ? p->children : NULL; c; c = c->next) {
		const char *s = attr(c, "S"), *l = attr(c, "SL");

		if (is(c, NS_KMEHR, "cd") && s && strcmp(s, scheme) == 0 &&
		    (!sl || (l && strcmp(l, sl) == 0)))
			return c;
	}
	return NULL;
}

/* The first <id S="@p scheme"> child of @p p, or NULL. */
static xmlNode *id(const xmlNode *p, const char *ns, const char *scheme)
{
	for (xmlNode *c = p ? p->children : NULL; c; c = c->next) {
		const char *s = attr(c, "S");

		if (is(c, ns, "id") && (!scheme || (s && strcmp(s, scheme) == 0)))
			return c;
	}
	return NULL;
}

/* The first content of item @p it that has a child matching @p find, that child. */
static xmlNode *in_content(const xmlNode *it, xmlNode *(*find)(const xmlNode *, const void *),
                           const void *arg)
{
	for (xmlNode *c = it ? it->children : NULL; c; c = c->next) {
		xmlNode *x = is(c, NS_KMEHR, "content") ? find(c, arg) : NULL;

		if (x)
			return x;
	}
	return NULL;
}

static xmlNode *find_cd(const xmlNode *c, const void *arg)
{
	const char *const *s = arg;

	return cd(c, s[0], s[1]);
}

static xmlNode *find_child(const xmlNode *c, const void *arg)
{
	return child(c, NS_KMEHR, arg);
}

/* The item's own type: its <cd S="CD-ITEM-MYCARENET"> or <cd S="CD-ITEM">. The public
 * clients use both systems in one transaction (claim and encounterdatetime are CD-ITEM,
 * patientpaid and supplement CD-ITEM-MYCARENET), so the type is looked for in either. */
static int item_is(struct rd *r, const xmlNode *it, const char *value)
{
	xmlNode *c = cd(it, "CD-ITEM-MYCARENET", NULL);

	if (!c)
		c = cd(it, "CD-ITEM", NULL);
	return c && view_is(text(r, c), value);
}

/* ---- values -------------------------------------------------------------------------------- */

/* A Kmehr decimal amount in euros as cents, exactly: digits, an optional '+', an optional
 * '.' and decimals of which only two may be other than 0. Anything else ("12,5", "1e3", "-1",
 * "") is refused; more than 11 digits of cents reads as TPC_ATTEST_MAX_CENTS + 1 (the rule
 * path refuses it, T40006). @return 0, or -1 when not such an amount. */
static int amount(tpc_view_t v, int64_t *cents)
{
	const char *p = v.ptr, *end = v.ptr + v.len;
	int64_t c = 0;
	int ndigits = 0;

	if (p < end && *p == '+')
		p++;
	/* past 11 digits of cents the value only needs to stay too big: it is never carried */
	for (; p < end && *p >= '0' && *p <= '9'; p++, ndigits++)
		if (c <= TPC_ATTEST_MAX_CENTS)
			c = c * 10 + (*p - '0');
	c = c > TPC_ATTEST_MAX_CENTS / 100 ? TPC_ATTEST_MAX_CENTS + 1 : c * 100;
	if (p < end && *p == '.') {
		p++;
		for (int dec = 0; p < end && *p >= '0' && *p <= '9'; p++, dec++, ndigits++) {
			if (dec >= 2 && *p != '0')
				return -1; /* a fraction of a cent: not an amount in euros */
			if (dec < 2 && c <= TPC_ATTEST_MAX_CENTS)
				c += (*p - '0') * (dec == 0 ? 10 : 1);
		}
	}
	if (p != end || ndigits == 0)
		return -1;
	*cents = c > TPC_ATTEST_MAX_CENTS ? TPC_ATTEST_MAX_CENTS + 1 : c;
	return 0;
}

/* An xs:date "YYYY-MM-DD", with an optional time zone ("Z", "+01:00"), as YYYYMMDD; whether
 * that day exists is the rule path's check (500503). @return 0, or -1 when not so shaped. */
static int date_of(tpc_view_t v, uint32_t *yyyymmdd)
{
	const char *p = v.ptr;
	size_t n = v.len;

	if (n < 10 || p[4] != '-' || p[7] != '-' || !tpc_check_all_digits(p, 4) ||
	    !tpc_check_all_digits(p + 5, 2) || !tpc_check_all_digits(p + 8, 2))
		return -1;
	if (!(n == 10 || (n == 11 && p[10] == 'Z') ||
	      (n == 16 && (p[10] == '+' || p[10] == '-') && p[13] == ':')))
		return -1;
	*yyyymmdd = (uint32_t)((p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
	                       (p[3] - '0')) *
	                10000u +
	            (uint32_t)((p[5] - '0') * 10 + (p[6] - '0')) * 100u +
	            (uint32_t)((p[8] - '0') * 10 + (p[9] - '0'));
	return 0;
}

/* A whole quantity ("2", "2.0"), or -1. */
static int64_t quantity(tpc_view_t v)
{
	int64_t c;

	if (amount(v, &c) != 0 || c % 100 != 0 || c > TPC_ATTEST_MAX_CENTS)
		return -1;
	return c / 100;
}

/* The amount of item @p it (its cost/decimal): 0, or -1 when it has none or not an amount. */
static int item_amount(struct rd *r, const xmlNode *it, int64_t *cents)
{
	xmlNode *d = child(child(it, NS_KMEHR, "cost"), NS_KMEHR, "decimal");

	return d ? amount(text(r, d), cents) : -1;
}

static xmlNode *find_id(const xmlNode *c, const void *scheme)
{
	return id(c, NS_KMEHR, scheme);
}

/* A hcparty in a content of item @p it with a valid NIHII, and (@p service) a hospital service
 * code of 3 digits if it has one. @return 0, or -1. */
static int hcparty_ok(struct rd *r, const xmlNode *it, int service)
{
	static const char *const svc[2] = {"LOCAL", "NIHDI-SERVICE-CD"};
	xmlNode *hc = in_content(it, find_child, "hcparty");
	tpc_view_t nihii = text(r, id(hc, NS_KMEHR, "ID-HCPARTY"));
	xmlNode *sc = service ? in_content(it, find_cd, svc) : NULL;
	tpc_view_t code = text(r, sc);

	if (!hc || !tpc_check_nihii(nihii.ptr, nihii.len))
		return -1;
	return sc && (code.len != 3 || !tpc_check_all_digits(code.ptr, 3)) ? -1 : 0;
}

/* ---- the transactions ---------------------------------------------------------------------- */

/* cga, transaction @p tr: what the patient paid in all, the company number of the receiving
 * party, supplements. */
static void read_cga(struct rd *r, const xmlNode *t, uint32_t tr)
{
	tpc_attestation_t *a = &r->m->a;
	uint16_t k = 0, paid = 0, party = 0;
	int64_t c;

	a->record = tr;
	for (xmlNode *it = t->children; it; it = it->next) {
		if (!is(it, NS_KMEHR, "item"))
			continue;
		k++;
		if (item_is(r, it, "patientpaid")) {
			paid = k;
			if (item_amount(r, it, &a->total_paid_cents) != 0)
				note(r, "T40012", tr, k, 0);
			else
				r->paid_tr = tr, r->paid_at = k;
		} else if (item_is(r, it, "supplement")) {
			if (item_amount(r, it, &c) != 0)
				note(r, "T40019", tr, k, 0);
		} else if (item_is(r, it, "paymentreceivingparty")) {
			tpc_view_t cbe = text(r, in_content(it, find_id, "ID-CBE"));

			party = k;
			if (!tpc_check_bce(cbe.ptr, cbe.len))
				note(r, "T40013", tr, k, 0);
		}
	}
	if (!paid)
		note(r, "T40012", tr, 0, 0);
	if (!party)
		note(r, "T40013", tr, 0, 0);
}

/* The claim item (@p k of cgd @p tr): the CD-NIHDI code, its norm, the quantity (1 when
 * absent). */
static void read_claim(struct rd *r, const xmlNode *it, uint32_t tr, uint16_t k,
                       tpc_attest_service_t *v, tpc_kmehr_cgd_t *c, int32_t on)
{
	static const char *const nihdi[2] = {"CD-NIHDI", NULL};
	static const char *const norm[2] = {"LOCAL", "NIHDI-CLAIM-NORM"};
	xmlNode *code = in_content(it, find_cd, nihdi);
	xmlNode *q = child(child(it, NS_KMEHR, "quantity"), NS_KMEHR, "decimal");

	v->code = text(r, code);
	v->at_code = v->at_units = (tpc_attest_at_t){tr, k};
	if (!code) {
		note(r, "T40015", tr, k, on);
		v->reported |= TPC_ATTEST_CODE;
	}
	c->norm = text(r, in_content(it, find_cd, norm));
	if (c->norm.len != 1 || c->norm.ptr[0] < '0' || c->norm.ptr[0] > '9')
		note(r, "T40016", tr, k, on);
	/* not a whole number: -1, refused by the rule path as units (T40002) */
	v->units = q ? quantity(text(r, q)) : 1;
}

/* The encounterdatetime item: content/date (and content/time, echoed). */
static void read_encounter(struct rd *r, const xmlNode *it, uint32_t tr, uint16_t k,
                           tpc_attest_service_t *v, tpc_kmehr_cgd_t *c, int32_t on)
{
	xmlNode *d = in_content(it, find_child, "date");

	c->date = text(r, d);
	c->time = text(r, in_content(it, find_child, "time"));
	v->at_date = (tpc_attest_at_t){tr, k};
	if (!d) {
		note(r, "T40017", tr, k, on);
		v->reported |= TPC_ATTEST_DATE;
	} else if (date_of(c->date, &v->date) != 0) {
		v->date = 0; /* not a date: 500503 */
	}
}

/* One item (@p k) of cgd @p tr. @return a bit of what it was (1 claim, 2 encounter, 4 paid),
 * 0 for the others. */
static unsigned read_cgd_item(struct rd *r, const xmlNode *it, uint32_t tr, uint16_t k,
                              tpc_attest_service_t *v, tpc_kmehr_cgd_t *c, int32_t on)
{
	int64_t cents;

	/* items are matched by type, not position: the clients number and order them freely */
	if (item_is(r, it, "claim")) {
		read_claim(r, it, tr, k, v, c, on);
		return 1;
	}
	if (item_is(r, it, "encounterdatetime")) {
		read_encounter(r, it, tr, k, v, c, on);
		return 2;
	}
	if (item_is(r, it, "patientpaid")) {
		v->at_fee = (tpc_attest_at_t){tr, k};
		if (item_amount(r, it, &v->fee_paid_cents) != 0) {
			note(r, "T40019", tr, k, on);
			v->reported |= TPC_ATTEST_FEE;
		}
		return 4;
	}
	if (item_is(r, it, "supplement")) {
		if (item_amount(r, it, &cents) != 0)
			note(r, "T40019", tr, k, on);
		else
			v->supplement_cents = cents;
	} else if (item_is(r, it, "decisionreference")) {
		/* the insurer's own decision (an agreement it gave): the line's commitment, as an
		 * eFact ET51 reference, so the agreement check looks no further */
		v->decision = text(r, in_content(it, find_child, "id"));
		if (!v->decision.len)
			v->decision = text(r, in_content(it, find_child, "text"));
		if (!v->decision.len)
			note(r, "T40026", tr, k, on);
	} else if ((item_is(r, it, "encounterlocation") && hcparty_ok(r, it, 1) != 0) ||
	           (item_is(r, it, "requestor") && hcparty_ok(r, it, 0) != 0)) {
		note(r, "T40025", tr, k, on);
	}
	return 0;
}

/* cgd, transaction @p tr: service @p on (1-based). claim, encounterdatetime and patientpaid
 * are required. */
static void read_cgd(struct rd *r, const xmlNode *t, uint32_t tr, tpc_attest_service_t *v,
                     tpc_kmehr_cgd_t *c, int32_t on)
{
	unsigned seen = 0;
	uint16_t k = 0;

	v->record = tr;
	v->at_code = v->at_date = v->at_units = v->at_fee = (tpc_attest_at_t){tr, 0};
	for (xmlNode *it = t->children; it; it = it->next)
		if (is(it, NS_KMEHR, "item") && k < UINT16_MAX)
			seen |= read_cgd_item(r, it, tr, ++k, v, c, on);
	if (!(seen & 1)) {
		note(r, "T40015", tr, 0, on);
		v->reported |= TPC_ATTEST_CODE;
		v->units = 1; /* a claim's, when there is one */
	}
	if (!(seen & 2)) {
		note(r, "T40017", tr, 0, on);
		v->reported |= TPC_ATTEST_DATE;
	}
	if (!(seen & 4)) {
		note(r, "T40018", tr, 0, on);
		v->reported |= TPC_ATTEST_FEE;
	}
}

/* cgacancellation, transaction @p tr: the invoicing number it cancels. */
static void read_cancel(struct rd *r, const xmlNode *t, uint32_t tr)
{
	static const char *const fault[] = {NULL, "T40022", "T40023", "T40024"};
	tpc_attestation_t *a = &r->m->a;
	uint16_t k = 0, at = 0;
	int f;

	a->record = tr;
	a->number_optional = 1; /* a cancellation has no number of its own */
	r->m->cancellation = 1;
	for (xmlNode *it = t->children; it; it = it->next)
		if (is(it, NS_KMEHR, "item") && ++k && !at && item_is(r, it, "invoicingnumber")) {
			at = k;
			a->cancels = text(r, in_content(it, find_child, "text"));
		}
	if (!a->cancels.len) {
		note(r, "T40022", tr, at, 0);
		return;
	}
	f = tpc_invoicing_check(a->cancels.ptr, a->cancels.len);
	if (f)
		note(r, fault[f], tr, at, 0);
}

/* The cga's patientpaid is what the patient paid for the services in all (the public clients
 * write the sum of the cgd patientpaid there): checked when every amount could be read. */
static void check_total(struct rd *r)
{
	const tpc_attestation_t *a = &r->m->a;
	int64_t sum = 0;

	if (!r->paid_tr || !a->nservices)
		return;
	for (uint32_t i = 0; i < a->nservices; i++) {
		if (a->services[i].reported & TPC_ATTEST_FEE)
			return;
		sum += a->services[i].fee_paid_cents; /* each at most 12 digits: no overflow */
	}
	if (sum != a->total_paid_cents)
		note(r, "T40020", r->paid_tr, r->paid_at, 0);
}

/* Which transaction @p t is (counted before reading, so the services are one allocation
 * sized to the cgd count): 1 cga, 2 cgd, 3 cgacancellation, 0 another. */
static int kind_of(struct rd *r, const xmlNode *t)
{
	tpc_view_t v = text(r, cd(t, "CD-TRANSACTION-MYCARENET", NULL));

	return view_is(v, "cga")               ? 1
	       : view_is(v, "cgd")             ? 2
	       : view_is(v, "cgacancellation") ? 3
	                                       : 0;
}

/* The folder: the patient, then every transaction in order. */
static void read_folder(struct rd *r, const xmlNode *folder)
{
	tpc_kmehr_msg_t *m = r->m;
	uint32_t n[4] = {0, 0, 0, 0}, tr = 0, ncgd = 0;

	m->a.patient = text(r, id(child(folder, NS_KMEHR, "patient"), NS_KMEHR, "ID-PATIENT"));
	for (xmlNode *t = folder->children; t; t = t->next)
		if (is(t, NS_KMEHR, "transaction") && kind_of(r, t) == 2)
			ncgd++;
	if (r->host->max_lines && ncgd > r->host->max_lines) {
		r->rc = TPC_ADAPTER_ETOOBIG; /* the engine's bound on lines per sending */
		return;
	}
	m->a.services = r->host->alloc(r->host->arena, (ncgd + 1) * sizeof(*m->a.services), 8);
	m->cgd = r->host->alloc(r->host->arena, (ncgd + 1) * sizeof(*m->cgd), 8);
	if (!m->a.services || !m->cgd) {
		r->rc = TPC_ADAPTER_ENOMEM;
		return;
	}
	for (xmlNode *t = folder->children; t && !r->rc; t = t->next) {
		int kind;

		if (!is(t, NS_KMEHR, "transaction"))
			continue;
		kind = kind_of(r, t);
		n[kind]++, tr++;
		if (kind == 1 && n[1] == 1)
			read_cga(r, t, tr);
		else if (kind == 2)
			read_cgd(r, t, tr, &m->a.services[n[2] - 1], &m->cgd[n[2] - 1],
			         (int32_t)n[2]);
		else if (kind == 3 && n[3] == 1)
			read_cancel(r, t, tr);
		else if (kind == 0)
			note(r, "T40021", tr, 0, -1);
	}
	if (n[3] && (n[1] || n[2] || n[3] > 1))
		note(r, "T40021", 0, TPC_KMEHR_AT_FOLDER, -1);
	if (!n[3] && n[1] != 1)
		note(r, "T40011", 0, TPC_KMEHR_AT_FOLDER, -1);
	if (!n[3] && !n[2])
		note(r, "T40014", 0, TPC_KMEHR_AT_FOLDER, -1);
	m->a.nservices = n[3] ? 0 : n[2];
	check_total(r);
}

/* ---- the message --------------------------------------------------------------------------- */

/* The header (date, time, sender) and the request around it, if any. */
static void read_header(struct rd *r, const xmlNode *h, const xmlNode *request)
{
	tpc_kmehr_msg_t *m = r->m;
	xmlNode *sender = child(child(h, NS_KMEHR, "sender"), NS_KMEHR, "hcparty");
	uint32_t d;

	m->a.provider = text(r, id(sender, NS_KMEHR, "ID-HCPARTY"));
	m->a.at_provider = (tpc_attest_at_t){0, TPC_KMEHR_AT_SENDER};
	m->a.at_patient = (tpc_attest_at_t){0, TPC_KMEHR_AT_PATIENT};
	m->a.at_number = (tpc_attest_at_t){0, TPC_KMEHR_AT_DATE};
	m->date = text(r, child(h, NS_KMEHR, "date"));
	m->time = text(r, child(h, NS_KMEHR, "time"));
	if (!h || date_of(m->date, &d) != 0 || tpc_check_date_yyyymmdd(d, &(int32_t){0}) != 0)
		note(r, "T40010", 0, TPC_KMEHR_AT_DATE, -1);
	m->request_id = text(r, id(request, NS_CORE, NULL));
	if (!m->request_id.len)
		m->request_id = text(r, id(h, NS_KMEHR, "ID-KMEHR"));
	m->requestor = text(r, id(child(child(request, NS_CORE, "author"), NS_KMEHR, "hcparty"),
	                          NS_KMEHR, "ID-HCPARTY"));
	if (!m->requestor.len)
		m->requestor = m->a.provider;
}

/* The root: a SendTransactionRequest around a kmehrmessage, or a kmehrmessage alone.
 * @return the kmehrmessage, or NULL (refused). */
static const xmlNode *read_root(struct rd *r, const xmlDoc *doc, const xmlNode **request)
{
	xmlNode *root = xmlDocGetRootElement(doc), *km = NULL;

	*request = NULL;
	if (is(root, NS_PROTOCOL, "SendTransactionRequest")) {
		*request = child(root, NS_CORE, "request");
		/* the public clients put the kmehrmessage element in messageservices core v1 (its
		 * content in kmehr); the kmehr namespace is accepted there too */
		km = child(root, NS_CORE, "kmehrmessage");
		if (!km)
			km = child(root, NS_KMEHR, "kmehrmessage");
	} else if (is(root, NS_KMEHR, "kmehrmessage")) {
		km = root;
	}
	if (!km)
		note(r, "T40009", 0, TPC_KMEHR_AT_ROOT, -1);
	return km;
}

/* The invoicing number of an attestation, in the arena: made from the header date. */
static void invoicing(struct rd *r, const uint8_t *buf, size_t len)
{
	tpc_kmehr_msg_t *m = r->m;
	uint32_t d;
	char *p;

	if (m->cancellation || date_of(m->date, &d) != 0 ||
	    tpc_check_date_yyyymmdd(d, &(int32_t){0}) != 0)
		return;
	p = r->host->alloc(r->host->arena, TPC_INVOICING_LEN + 1, 1);
	if (!p) {
		r->rc = TPC_ADAPTER_ENOMEM;
		return;
	}
	tpc_invoicing_make(d, buf, len, p);
	m->invoicing = (tpc_view_t){p, TPC_INVOICING_LEN};
	m->a.number = m->invoicing;
}

/* A DOCTYPE anywhere before the root is refused unread: no entity is declared, fetched or
 * expanded (XXE, entity expansion). The bytes are looked at first, before libxml2; the tree's
 * subsets are checked again after parsing, for encodings the byte scan cannot see. */
static int has_doctype(const uint8_t *buf, size_t len)
{
	static const char d[] = "<!DOCTYPE";

	for (size_t i = 0; i + sizeof(d) - 1 <= len; i++)
		if (buf[i] == '<' && memcmp(buf + i, d, sizeof(d) - 1) == 0)
			return 1;
	return 0;
}

/* The parser's first error (libxml2 goes on after it and keeps the last, often a mere
 * "premature end of data" at the end): the one that says where the document went wrong. */
static void first_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxt *ctxt = data;
	xmlError *first = ctxt->_private;

	if (first && e && first->code == 0 && e->level >= XML_ERR_ERROR) {
		first->code = e->code ? e->code : -1;
		first->line = e->line;
		first->int2 = e->int2;
	}
}

/* Parse @p buf. @return the tree (free it with xmlFreeDoc), or NULL with the finding noted. */
static xmlDoc *parse(struct rd *r, const uint8_t *buf, size_t len)
{
	xmlParserCtxt *ctxt;
	xmlDoc *doc;
	xmlError first;

	if (has_doctype(buf, len)) {
		note(r, "T40008", 0, TPC_KMEHR_AT_DTD, -1);
		return NULL;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		r->rc = TPC_ADAPTER_ENOMEM;
		return NULL;
	}
	memset(&first, 0, sizeof(first));
	ctxt->_private = &first;
	ctxt->sax->serror = first_error;
	/* no network, no entity substitution, no DTD loading; errors are read, not printed */
	doc = xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL,
	                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                            XML_PARSE_NOCDATA);
	if (!doc || !ctxt->wellFormed) {
		note(r, "T40007", first.line > 0 ? (uint32_t)first.line : 0,
		     first.int2 > 0 ? (uint16_t)(first.int2 > UINT16_MAX ? UINT16_MAX : first.int2)
		                    : 0,
		     -1);
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc->intSubset || doc->extSubset) {
		note(r, "T40008", 0, TPC_KMEHR_AT_DTD, -1);
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

int tpc_kmehr_read(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_kmehr_msg_t *msg)
{
	struct rd r = {.host = host, .m = msg};
	const xmlNode *km, *request, *folder;
	xmlDoc *doc;

	memset(msg, 0, sizeof(*msg));
	if (len > INT_MAX)
		return TPC_ADAPTER_ETOOBIG; /* libxml2 takes an int; the engine bounds payloads */
	doc = parse(&r, buf, len);
	km = doc ? read_root(&r, doc, &request) : NULL;
	if (km) {
		msg->well_formed = 1;
		msg->wrapped = km != xmlDocGetRootElement(doc);
		read_header(&r, child(km, NS_KMEHR, "header"), request);
		folder = child(km, NS_KMEHR, "folder");
		if (folder)
			read_folder(&r, folder);
		else
			note(&r, "T40011", 0, TPC_KMEHR_AT_FOLDER, -1);
		invoicing(&r, buf, len);
	}
	xmlFreeDoc(doc);
	return r.rc;
}

int tpc_kmehr_decode(const uint8_t *buf, size_t len, const tpc_host_t *host, tpc_sending_t *out)
{
	tpc_kmehr_msg_t m;
	tpc_invoice_t *inv;
	int rc = tpc_kmehr_read(buf, len, host, &m);

	if (rc)
		return rc;
	if (m.well_formed && (rc = tpc_attestation_sending(&m.a, host, out)))
		return rc;
	inv = out->ninvoices ? &out->invoices[0] : NULL;
	/* what could not be read goes where it refuses: the whole request (B, or no attestation
	 * at all), the attestation, or one service */
	for (uint32_t i = 0; i < m.nfound && !rc; i++) {
		const tpc_kmehr_found_t *f = &m.found[i];

		if (!inv || f->on < 0 || (uint32_t)f->on > out->nlines || f->f.letter == 'B') {
			out->blocked |= f->f.letter == 'B' || !inv;
			rc = tpc_sending_add_finding(out, host, &f->f);
		} else if (f->on == 0) {
			rc = tpc_attest_add(inv->findings, &inv->nfindings, out, host, f->f);
		} else {
			tpc_line_t *ln = &out->lines[f->on - 1];
			rc = tpc_attest_add(ln->findings, &ln->nfindings, out, host, f->f);
		}
	}
	return rc;
}

/* The text of @p n as a C string in @p out (NUL-terminated, truncated). */
static void copy_text(const xmlNode *n, char *out, size_t cap)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *p = t ? (const char *)t : "";
	size_t len;

	while (xml_space(*p))
		p++;
	len = strlen(p);
	while (len && xml_space(p[len - 1]))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, p, len);
	out[len] = 0;
	xmlFree(t);
}

int tpc_kmehr_request_id(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	xmlDoc *doc;
	xmlNode *root, *n = NULL;

	if (!cap || len > INT_MAX || has_doctype(buf, len))
		return -1;
	out[0] = 0;
	doc = xmlReadMemory((const char *)buf, (int)len, NULL, NULL,
	                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (is(root, NS_PROTOCOL, "SendTransactionRequest"))
		n = id(child(root, NS_CORE, "request"), NS_CORE, NULL);
	if (!n && is(root, NS_PROTOCOL, "SendTransactionRequest"))
		root = child(root, NS_CORE, "kmehrmessage");
	if (!n && root)
		n = id(child(root, NS_KMEHR, "header"), NS_KMEHR, "ID-KMEHR");
	if (n)
		copy_text(n, out, cap);
	xmlFreeDoc(doc);
	return out[0] ? 0 : -1;
}
