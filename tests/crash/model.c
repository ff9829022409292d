/* tests/crash/model.c - the client's side of a trial: random numbers, the sendings it made and
 * what it was answered, and the sendings themselves (see crash.h).
 *
 * The sendings clear against the sample reference data of config/refdata/ (the daemon helper
 * loads it at every start), so most lines are accepted and become payables for the payment
 * runs: canonical sendings of the sample hospital or the sample GP (two accounts, so a run
 * makes one or two payments), eFact invoices of the hospital, and eFact credit notes of
 * invoices answered accepted (negative payables, netted by the next run). A tenth of the
 * canonical lines carry a wrong insurer amount, so answers mix accepted and refused lines.
 */
#include "crash.h"

#include "gen/canonical_gen.h"
#include "gen/efact_gen.h"

#include <stdlib.h>
#include <string.h>

/* ---- random numbers: splitmix64, one stream per trial ------------------------------------- */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void crash_rng_seed(crash_rng_t *r, uint64_t seed, uint64_t stream)
{
	/* two different trials of one seed must not share a stream: mix both in */
	r->s = mix(seed ^ mix(stream + 0x9e3779b97f4a7c15ull));
}

static uint64_t next(crash_rng_t *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return mix(r->s);
}

unsigned crash_below(crash_rng_t *r, unsigned n)
{
	return n ? (unsigned)(next(r) % n) : 0;
}

int crash_chance(crash_rng_t *r, unsigned percent)
{
	return crash_below(r, 100) < percent;
}

/* ---- the model --------------------------------------------------------------------------- */

void crash_model_init(crash_model_t *m, uint64_t segment)
{
	memset(m, 0, sizeof(*m));
	m->segment = segment;
}

void crash_model_release(crash_model_t *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->s[i].payload);
		free(m->s[i].result);
		free(m->s[i].native);
	}
	for (size_t i = 0; i < m->np; i++)
		free(m->p[i].file);
	free(m->s);
	free(m->p);
	memset(m, 0, sizeof(*m));
}

size_t crash_model_add(crash_model_t *m, const char *format, uint8_t *payload, size_t len)
{
	crash_sending_t *x;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->s = realloc(m->s, m->cap * sizeof(*m->s));
		if (!m->s)
			abort(); /* a test driver: out of memory ends the campaign */
	}
	x = &m->s[m->n];
	memset(x, 0, sizeof(*x));
	/* keys are unique across segments too, so a log line names one sending */
	snprintf(x->key, sizeof(x->key), "s%llu-%u", (unsigned long long)m->segment, m->serial);
	snprintf(x->format, sizeof(x->format), "%s", format);
	x->payload = payload;
	x->len = len;
	return m->n++;
}

size_t crash_model_add_payrun(crash_model_t *m, const char *id)
{
	crash_payrun_t *x;

	if (m->np == m->capp) {
		m->capp = m->capp ? m->capp * 2 : 64;
		m->p = realloc(m->p, m->capp * sizeof(*m->p));
		if (!m->p)
			abort();
	}
	x = &m->p[m->np];
	memset(x, 0, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", id ? id : "");
	return m->np++;
}

size_t crash_model_stored(const crash_model_t *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->s[i].state == CRASH_ANSWERED;
	return n;
}

/* ---- canonical sendings ---------------------------------------------------------------- */

static const char *const providers[] = {"18334780004", "17385467004"}; /* hospital, GP */
static const char *const members[] = {"86103130262", "05031412595"};   /* ordinary, BIM */
static const char *const codes[] = {"101032", "102771"};
static const int64_t fee[] = {3000, 2710}, ins[] = {2400, 1960}, bim[] = {2900, 2560};

/* Strings the frame points at, kept until it is packed. */
struct canon_strings {
	char ref[32];
	char numbers[3][24];
	char refs[18][32];
};

size_t crash_make_canonical(crash_model_t *m, crash_rng_t *r)
{
	tpc_canonical_frame_t f;
	struct canon_strings str;
	int ninv = 1 + (int)crash_below(r, 3), nl = 1 + (int)crash_below(r, 6), k = 0;
	const char *prov = providers[crash_below(r, 2)];
	unsigned serial = ++m->serial;
	uint8_t *out;
	size_t len;

	if (tpc_canonical_frame_new(&f, (size_t)ninv, (size_t)(ninv * nl)) != 0)
		abort();
	snprintf(str.ref, sizeof(str.ref), "K%llu-%u", (unsigned long long)m->segment, serial);
	f.cs.reference = str.ref;
	f.cs.third_party = (char *)prov;
	f.cs.created = 20261120;
	f.cs.year_month = 202611;
	for (int i = 0; i < ninv; i++) {
		Tpclear__CanonicalInvoice *inv = &f.inv[i];
		unsigned who = crash_below(r, 2);

		inv->patient = (char *)members[who];
		inv->provider = (char *)prov;
		snprintf(str.numbers[i], sizeof(str.numbers[i]), "C%llu-%u-%d",
		         (unsigned long long)m->segment, serial, i);
		inv->number = str.numbers[i];
		inv->mutuality = "600";
		inv->n_lines = (size_t)nl;
		inv->lines = f.lnp + i * nl;
		for (int j = 0; j < nl; j++, k++) {
			Tpclear__CanonicalLine *l = &f.ln[k];
			unsigned c = crash_below(r, 2);

			l->code = (char *)codes[c];
			l->date = 20261101 + crash_below(r, 19);
			l->units = 1 + (int32_t)crash_below(r, 3);
			l->insurer_cents = l->units * (who ? bim[c] : ins[c]);
			/* a wrong insurer amount now and then: refused 501940, nothing payable */
			if (crash_chance(r, 10))
				l->insurer_cents += 1;
			l->patient_cents = l->units * fee[c] - l->insurer_cents;
			snprintf(str.refs[k], sizeof(str.refs[k]), "L%llu-%u-%d",
			         (unsigned long long)m->segment, serial, k);
			l->reference = str.refs[k];
			l->performer = (char *)providers[1];
		}
	}
	out = tpc_canonical_frame_pack(&f, &len);
	tpc_canonical_frame_free(&f);
	if (!out)
		abort();
	return crash_model_add(m, "canonical", out, len);
}

/* ---- eAttests ------------------------------------------------------------------------------ */

/* An attestation by the GP for one of the two members, its own act (the reference from the
 * serial), sent on the express lane: with [ledger] attest_journal = 1 (crash_start()), answered
 * from the attestation journal when the express worker is sure, else through a commit. */
size_t crash_make_eattest(crash_model_t *m, crash_rng_t *r)
{
	Tpclear__Attestation a = TPCLEAR__ATTESTATION__INIT;
	unsigned serial = ++m->serial, c = crash_below(r, 2);
	char number[40], ref[40];
	uint8_t *out;
	size_t len;

	snprintf(number, sizeof(number), "E%llu-%u", (unsigned long long)m->segment, serial);
	snprintf(ref, sizeof(ref), "A%llu-%u", (unsigned long long)m->segment, serial);
	a.number = number;
	a.provider = (char *)providers[1];
	a.patient = (char *)members[crash_below(r, 2)];
	a.code = (char *)codes[c];
	a.date = 20261101 + (int32_t)crash_below(r, 19);
	a.units = 1;
	a.fee_paid_cents = fee[c];
	a.reference = ref;
	len = tpclear__attestation__get_packed_size(&a);
	if (!(out = malloc(len)))
		abort();
	tpclear__attestation__pack(&a, out);
	return crash_model_add(m, "eattest", out, len);
}

/* ---- eFact invoices and credit notes ---------------------------------------------------- */

/* An invoice (sign 1) or its credit note (sign -1, invoicing '3' of @p previous): the lines of
 * @p mask on @p day and the day after, references from @p serial (a credit note repeats its
 * invoice's lines, references included: that is how the clearing finds what it credits). */
static uint8_t *efact_bytes(const crash_model_t *m, unsigned ref_serial, unsigned serial,
                            const char *number, const char *previous, int sign, uint32_t day,
                            unsigned mask, size_t *len)
{
	tpc_efact_line_in_t l[2];
	tpc_efact_invoice_in_t inv;
	tpc_efact_sending_in_t sd;
	char reference[15], lref[2][26];
	size_t n = 0;
	uint8_t *out = NULL;

	for (unsigned c = 0; c < 2; c++) {
		if (!(mask & (1u << c)))
			continue;
		snprintf(lref[c], sizeof(lref[c]), "E%llu-%u-%u", (unsigned long long)m->segment,
		         serial, c);
		l[n] = tpc_efact_line(codes[c], day + c, sign * ins[c], sign * (fee[c] - ins[c]),
		                      lref[c]);
		l[n].units = sign;
		n++;
	}
	tpc_efact_invoice(&inv, members[0], number, "600", l, n);
	if (sign < 0) {
		inv.invoicing = '3';
		snprintf(inv.previous, sizeof(inv.previous), "%s", previous);
	}
	/* 14 digits, unique per sending: 2026, then the segment and the serial */
	snprintf(reference, sizeof(reference), "2026%04llu%06u",
	         (unsigned long long)(m->segment % 10000), ref_serial % 1000000);
	tpc_efact_sending_head(&sd, reference, 1 + ref_serial % 999, TPC_EFACT_HEAD_BANK);
	sd.invoices = &inv;
	sd.ninvoices = 1;
	if (tpc_efact_write(&sd, &out, len) != 0)
		abort();
	return out;
}

size_t crash_make_efact(crash_model_t *m, crash_rng_t *r)
{
	unsigned serial = ++m->serial, mask = 1 + crash_below(r, 3);
	uint32_t day = 20261101 + crash_below(r, 17);
	char number[13];
	size_t len, i;
	uint8_t *out;

	snprintf(number, sizeof(number), "%04llu%08u", (unsigned long long)(m->segment % 10000),
	         serial % 100000000);
	out = efact_bytes(m, serial, serial, number, "", 1, day, mask, &len);
	i = crash_model_add(m, "efact", out, len);
	snprintf(m->s[i].number, sizeof(m->s[i].number), "%s", number);
	m->s[i].day = day;
	m->s[i].serial = serial;
	m->s[i].mask = mask;
	return i;
}

size_t crash_make_credit(crash_model_t *m, crash_rng_t *r)
{
	size_t cand[64], nc = 0, i;
	crash_sending_t orig;
	unsigned serial;
	char number[13];
	uint8_t *out;
	size_t len;

	for (size_t k = m->n; k-- > 0 && nc < 64;)
		if (m->s[k].creditable)
			cand[nc++] = k;
	if (!nc)
		return (size_t)-1;
	i = cand[crash_below(r, (unsigned)nc)];
	m->s[i].creditable = 0; /* one credit note per invoice, answered or not */
	orig = m->s[i];
	serial = ++m->serial;
	snprintf(number, sizeof(number), "%04llu%08u", (unsigned long long)(m->segment % 10000),
	         serial % 100000000);
	out =
	    efact_bytes(m, serial, orig.serial, number, orig.number, -1, orig.day, orig.mask, &len);
	return crash_model_add(m, "efact", out, len);
}
