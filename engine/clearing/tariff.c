/* engine/clearing/tariff.c - AMI clearing rules (see tariff.h).
 *
 * Per line the work is a handful of LMDB lookups in the snapshot (member, tariff, maybe an
 * agreement, the dedup and units indexes) plus two open-addressing tables in the arena for the
 * checks within the sending. Nothing is allocated per line outside the arena.
 */
#include "clearing/tariff.h"

#include "clearing/budget.h"
#include "core/codes.h"

#include "core/error.h"

#include <sodium.h>
#include <string.h>

#define TWO_YEARS_DAYS 730

static const struct {
	const char *code;
	char letter;
	const char *reason;
} letters[] = {
    {"500820", 'R', "beneficiary unknown to the insurer"},
    {"500540", 'R', "beneficiary not in order (not insured) on the service date"},
    {"201420", 'F', "invoicing provider unknown"},
    {"500403", 'R', "nomenclature code unknown (no tariff)"},
    {"500420", 'R', "nomenclature code not valid on the service date"},
    {"500510", 'R', "service date after the sending's creation date"},
    {"500546", 'R', "limitation period expired: service more than two years old"},
    {"500511", 'R', "service date before the admission"},
    {"500513", 'R', "service date after the discharge"},
    {"501940", 'R', "insurer amount differs from the tariff"},
    {"502741", 'R', "patient share differs from the tariff"},
    {"5004K2", 'R', "prior agreement required and missing"},
    {"500548", 'R', "service date outside the agreement period"},
    {"502255", 'R', "maximum units per day exceeded"},
    {"500423", 'R', "service already billed"},
    {"202420", 'B', "individual invoice number already used by this provider"},
    {"202920", 'F', "credited invoice unknown (not accepted for this provider)"},
    {"202921", 'F',
     "credit note does not match the credited invoice (already credited, or a line "
     "that was not accepted)"},
};

const char *tpc_tariff_describe(const char *code)
{
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (strcmp(letters[i].code, code) == 0)
			return letters[i].reason;
	return NULL;
}

static tpc_finding_t finding(const char *code, uint32_t record, uint16_t pos, uint16_t len)
{
	tpc_finding_t f;

	memset(&f, 0, sizeof(f));
	memcpy(f.code, code, 6);
	f.letter = 'R';
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (strcmp(letters[i].code, code) == 0)
			f.letter = letters[i].letter;
	f.record = record;
	f.pos = pos;
	f.len = len;
	return f;
}

/* Findings go to the first free slot; past three they are kept on the sending. */
struct sink {
	tpc_sending_t *s;
	tpc_host_t host;
};

static int add_line(struct sink *k, tpc_line_t *ln, tpc_finding_t f)
{
	ln->outcome = TPC_OUTCOME_REFUSED;
	if (ln->nfindings < TPC_MAX_FINDINGS) {
		ln->findings[ln->nfindings++] = f;
		return 0;
	}
	return tpc_sending_add_finding(k->s, &k->host, &f);
}

static int add_invoice(struct sink *k, tpc_invoice_t *inv, tpc_finding_t f)
{
	inv->outcome = TPC_OUTCOME_REFUSED;
	if (inv->nfindings < TPC_MAX_FINDINGS) {
		inv->findings[inv->nfindings++] = f;
		return 0;
	}
	return tpc_sending_add_finding(k->s, &k->host, &f);
}

static int refused(const tpc_line_t *ln)
{
	for (unsigned i = 0; i < ln->nfindings; i++)
		if (ln->findings[i].letter == 'R' || ln->findings[i].letter == 'B' ||
		    ln->findings[i].letter == 'F')
			return 1;
	return ln->outcome == TPC_OUTCOME_REFUSED;
}

/* Copy a view into a fixed-width field (zero-padded with '0'); views may be empty. */
static void put_view(uint8_t *dst, size_t width, tpc_view_t v)
{
	memset(dst, '0', width);
	if (v.ptr && v.len)
		memcpy(dst, v.ptr, v.len < width ? v.len : width);
}

void tpc_tariff_line_identity(const tpc_invoice_t *inv, const tpc_line_t *ln,
                              uint8_t out[TPC_TARIFF_ID_LEN])
{
	uint32_t d = (uint32_t)ln->date_first ^ 0x80000000u;

	/* provider and patient first: the lines of one invoice sit together in the index */
	put_view(out, 11, inv->provider);
	put_view(out + 11, 11, inv->patient);
	memcpy(out + 22, ln->code, 6);
	for (int i = 0; i < 4; i++)
		out[28 + i] = (uint8_t)(d >> (24 - 8 * i));
	crypto_generichash(out + 32, 8, (const uint8_t *)ln->reference.ptr, ln->reference.len, NULL,
	                   0);
}

size_t tpc_tariff_units_key(const tpc_view_t *patient, const char *code, int32_t day,
                            uint8_t out[21])
{
	uint32_t d = (uint32_t)day ^ 0x80000000u;

	put_view(out, 11, *patient);
	memcpy(out + 11, code, 6);
	for (int i = 0; i < 4; i++)
		out[17 + i] = (uint8_t)(d >> (24 - 8 * i));
	return 21;
}

size_t tpc_tariff_credit_key(const tpc_invoice_t *inv, uint8_t *out, size_t cap)
{
	if (inv->previous.len + 12 > cap)
		return 0;
	out[0] = '~'; /* never the first byte of a provider number */
	put_view(out + 1, 11, inv->provider);
	memcpy(out + 12, inv->previous.ptr, inv->previous.len);
	return 12 + inv->previous.len;
}

size_t tpc_tariff_invoice_key(const tpc_invoice_t *inv, uint8_t *out, size_t cap)
{
	if (inv->number.len + 11 > cap)
		return 0;
	put_view(out, 11, inv->provider);
	if (inv->number.len)
		memcpy(out + 11, inv->number.ptr, inv->number.len);
	return 11 + inv->number.len;
}

/* ---- tables for the checks within one sending ---------------------------------------------- */

struct slot {
	uint8_t key[TPC_TARIFF_ID_LEN];
	uint8_t used;
	int64_t units;
};

struct table {
	struct slot *slots;
	uint32_t mask;
};

static int table_init(struct table *t, tpc_arena_t *arena, uint32_t n)
{
	uint32_t cap = 16;

	while (cap < n * 2)
		cap <<= 1;
	t->slots = tpc_arena_alloc(arena, cap * sizeof(*t->slots), 8);
	t->mask = cap - 1;
	return t->slots ? 0 : TPC_ENOMEM;
}

/* Find or insert @p key (klen <= TPC_TARIFF_ID_LEN). @return the slot; *fresh set when inserted. */
static struct slot *table_get(struct table *t, const uint8_t *key, size_t klen, int *fresh)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ key[i]) * 16777619u;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct slot *sl = &t->slots[i];
		if (!sl->used) {
			sl->used = 1;
			memcpy(sl->key, key, klen);
			*fresh = 1;
			return sl;
		}
		if (memcmp(sl->key, key, klen) == 0) {
			*fresh = 0;
			return sl;
		}
	}
}

int tpc_tariff_units_get(MDB_txn *txn, MDB_dbi units, const uint8_t key[21], int64_t *out)
{
	MDB_val k = {21, (void *)key}, v;
	int rc = mdb_get(txn, units, &k, &v);

	*out = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v.mv_size != sizeof(*out))
		return MDB_CORRUPTED;
	memcpy(out, v.mv_data, sizeof(*out)); /* values are 2-byte aligned only */
	return 0;
}

int tpc_tariff_units_add(MDB_txn *txn, MDB_dbi units, const uint8_t key[21], int64_t delta)
{
	MDB_val k = {21, (void *)key}, v;
	int64_t u;
	int rc = tpc_tariff_units_get(txn, units, key, &u);

	if (rc)
		return rc;
	if (u == 0 && delta <= 0)
		return 0; /* nothing counted on that key: nothing to take back */
	u += delta;
	if (u < 0)
		u = 0;
	v.mv_data = &u;
	v.mv_size = sizeof(u);
	return mdb_put(txn, units, &k, &v, 0);
}

/* Per-sending lookup state: cursors opened once, and small caches (most lines of an invoice
 * share the patient's period; a sending uses few codes). */
struct lookups {
	MDB_cursor *members, *tariffs, *agreements;
	tpc_schemes_t *schemes;
	char niss[12];
	int have_member;
	tpc_ref_member_t member; /* cached period of niss */
	struct {
		int used;
		tpc_ref_tariff_t row;
	} tariff[64];
};

static int member_on(struct lookups *lk, const char *niss, int32_t d, const tpc_ref_member_t **m)
{
	int rc;

	if (lk->have_member && memcmp(lk->niss, niss, 11) == 0 && d >= lk->member.valid_from &&
	    d <= lk->member.valid_to) {
		*m = &lk->member;
		return 0;
	}
	lk->have_member = 0;
	rc = tpc_refdata_member_on(lk->members, niss, d, &lk->member);
	if (rc == 0) {
		memcpy(lk->niss, niss, 12);
		lk->have_member = 1;
		*m = &lk->member;
	}
	return rc;
}

static int tariff_on(struct lookups *lk, const char *code, int32_t d, const tpc_ref_tariff_t **t)
{
	unsigned h = ((unsigned)code[3] * 31u + (unsigned)code[4] * 7u + (unsigned)code[5]) & 63u;
	int rc;

	if (lk->tariff[h].used && memcmp(lk->tariff[h].row.code, code, 6) == 0 &&
	    d >= lk->tariff[h].row.valid_from && d <= lk->tariff[h].row.valid_to) {
		*t = &lk->tariff[h].row;
		return 0;
	}
	lk->tariff[h].used = 0;
	rc = tpc_refdata_tariff_on(lk->tariffs, code, d, &lk->tariff[h].row);
	if (rc == 0) {
		lk->tariff[h].used = 1;
		*t = &lk->tariff[h].row;
	}
	return rc;
}

static int check_line(struct lookups *lk, struct sink *k, MDB_txn *txn, const tpc_ledger_dbs_t *dbs,
                      int32_t created, unsigned care, int eattest, tpc_invoice_t *inv,
                      tpc_line_t *ln, uint32_t li, struct table *seen, struct table *units,
                      tpc_tariff_marks_t *marks)
{
	const tpc_ref_member_t *mem;
	const tpc_ref_tariff_t *tar;
	tpc_ref_agreement_t agr;
	tpc_scheme_out_t sv;
	char niss[12];
	int64_t exp_ins, exp_pat;
	int32_t d = ln->date_first;
	int fresh, rc;

	memcpy(niss, inv->patient.ptr, 11);
	niss[11] = 0;
	/* who pays: the first scheme that covers the person on the date (engine/clearing/) */
	rc = member_on(lk, niss, d, &mem);
	if (rc == MDB_NOTFOUND)
		mem = NULL;
	else if (rc)
		return tpc_err_from_mdb(rc);
	{
		tpc_scheme_in_t in = {
		    niss,     d,   care,
		    ln->code, mem, mem != NULL || tpc_refdata_exists(lk->members, niss, 11)};

		if ((rc = tpc_schemes_resolve(lk->schemes, &in, &sv)))
			return rc;
		if (sv.refuse)
			return add_line(k, ln, finding(sv.refuse, ln->record, 0, 0));
	}
	/* dates */
	if (d > created)
		return add_line(k, ln, finding("500510", ln->record, 0, 0));
	if (d < created - TWO_YEARS_DAYS)
		return add_line(k, ln, finding("500546", ln->record, 0, 0));
	if (inv->kind == TPC_INVOICE_HOSPITALISED && inv->admission && d < inv->admission)
		return add_line(k, ln, finding("500511", ln->record, 0, 0));
	if (inv->kind == TPC_INVOICE_HOSPITALISED && inv->discharge && d > inv->discharge)
		return add_line(k, ln, finding("500513", ln->record, 0, 0));
	/* tariff and amounts */
	rc = tariff_on(lk, ln->code, d, &tar);
	if (rc == MDB_NOTFOUND)
		return add_line(
		    k, ln,
		    finding(tpc_refdata_exists(lk->tariffs, ln->code, 6) ? "500420" : "500403",
		            ln->record, 0, 0));
	if (rc)
		return tpc_err_from_mdb(rc);
	ln->scheme = sv.scheme;
	ln->budget = sv.budget;
	ln->share_budget = sv.share_budget;
	ln->scheme_ref = sv.ref;
	ln->scheme_org = sv.org;
	tpc_schemes_amounts(&sv, tar, ln->units, &exp_ins, &exp_pat);
	if (eattest) {
		/* reimbursed to the insured: AMI or OSSOM only; the checks of invoiced amounts
		 * make no sense, the patient paid what they paid */
		int64_t paid = ln->patient_cents, back;

		if (sv.scheme != TPC_SCHEME_AMI && sv.scheme != TPC_SCHEME_OSSOM)
			return add_line(k, ln, finding(TPC_CODE_EATTEST_PUBLIC, ln->record, 0, 0));
		if (ln->country[0]) {
			/* care abroad: 75 % of the real cost, for a code with a Belgian tariff on
			 * that date (found above), rounded half away from zero to the cent */
			int64_t c = ln->real_cost_cents * 75;

			if (sv.scheme != TPC_SCHEME_OSSOM)
				return add_line(k, ln,
				                finding(TPC_CODE_EATTEST_ABROAD, ln->record, 0, 0));
			back = (c >= 0 ? c + 50 : c - 50) / 100;
		} else {
			/* in Belgium: the insurer part, never more than the patient paid */
			back = exp_ins;
			if ((paid >= 0 && back > paid) || (paid < 0 && back < paid))
				back = paid;
		}
		ln->insurer_cents = back;
		ln->expected_insurer_cents = back;
		ln->expected_patient_cents = paid - back;
		ln->share_budget = TPC_BUDGET_NONE;
		goto agreement;
	}
	ln->expected_insurer_cents = exp_ins;
	ln->expected_patient_cents = exp_pat;
	if (ln->insurer_cents != exp_ins &&
	    (rc = add_line(k, ln, finding("501940", ln->record, 0, 0))))
		return rc;
	if (ln->patient_cents != exp_pat &&
	    (rc = add_line(k, ln, finding("502741", ln->record, 0, 0))))
		return rc;
	/* prior agreement */
agreement:
	if ((tar->flags & TPC_TARIFF_AGREEMENT) && ln->commitment.len == 0) {
		rc = tpc_refdata_agreement_on(lk->agreements, niss, ln->code, d, &agr);
		if (rc == MDB_NOTFOUND) {
			char id[17];

			memcpy(id, niss, 11);
			memcpy(id + 11, ln->code, 6);
			return add_line(k, ln,
			                finding(tpc_refdata_exists(lk->agreements, id, 17)
			                            ? "500548"
			                            : "5004K2",
			                        ln->record, 0, 0));
		}
		if (rc)
			return tpc_err_from_mdb(rc);
	}
	/* a refused line, or a line of an invoice refused as a whole, is never accepted: it must
	 * not use up a daily maximum or count as billed for the other invoices */
	if (refused(ln) || inv->outcome == TPC_OUTCOME_REFUSED)
		return 0;
	if (inv->invoicing == TPC_INVOICING_CREDIT_NOTE) {
		/* a credit line cancels the line it repeats (same identity), which must be an
		 * accepted line of the credited invoice's provider and patient */
		MDB_val dk = {TPC_TARIFF_ID_LEN, marks->dedup[li]}, dv;

		if (mdb_get(txn, dbs->dedup, &dk, &dv) != 0)
			return add_line(k, ln, finding("202921", ln->record, 0, 0));
		table_get(seen, marks->dedup[li], TPC_TARIFF_ID_LEN, &fresh);
		if (!fresh)
			return add_line(k, ln, finding("500423", ln->record, 0, 0));
		return 0;
	}
	/* already billed: within the sending, then in earlier ones */
	table_get(seen, marks->dedup[li], TPC_TARIFF_ID_LEN, &fresh);
	{
		MDB_val dk = {TPC_TARIFF_ID_LEN, marks->dedup[li]}, dv;

		if (!fresh || mdb_get(txn, dbs->dedup, &dk, &dv) == 0)
			return add_line(k, ln, finding("500423", ln->record, 0, 0));
	}
	/* maximum units per day */
	if (tar->max_per_day) {
		uint8_t ukey[21];
		struct slot *sl;

		tpc_tariff_units_key(&inv->patient, ln->code, d, ukey);
		sl = table_get(units, ukey, 21, &fresh);
		if (fresh && (rc = tpc_tariff_units_get(txn, dbs->units, ukey, &sl->units)))
			return tpc_err_from_mdb(rc);
		if (sl->units + ln->units > (int64_t)tar->max_per_day)
			return add_line(k, ln, finding("502255", ln->record, 0, 0));
		sl->units += ln->units;
		marks->max_per_day[li] = tar->max_per_day;
	}
	return 0;
}

int tpc_tariff_apply(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, int32_t today, tpc_sending_t *s,
                     tpc_arena_t *arena, tpc_tariff_marks_t *marks)
{
	struct sink k = {s, {tpc_arena_host_alloc, arena, 0, 0}};
	struct lookups *lk;
	struct table units, seen, numbers;
	int32_t created = s->created ? s->created : today;
	int rc;

	memset(marks, 0, sizeof(*marks));
	marks->nlines = s->nlines;
	marks->dedup = tpc_arena_alloc(arena, (s->nlines + 1) * TPC_TARIFF_ID_LEN, 8);
	marks->max_per_day = tpc_arena_alloc(arena, (s->nlines + 1) * sizeof(uint32_t), 4);
	lk = tpc_arena_alloc(arena, sizeof(*lk), 8);
	if (!marks->dedup || !marks->max_per_day || !lk || table_init(&units, arena, s->nlines) ||
	    table_init(&seen, arena, s->nlines) || table_init(&numbers, arena, s->ninvoices))
		return TPC_ENOMEM;
	if ((rc = mdb_cursor_open(txn, dbs->ref.dbi[TPC_REF_MEMBERS], &lk->members)))
		goto out_mdb;
	if ((rc = mdb_cursor_open(txn, dbs->ref.dbi[TPC_REF_TARIFFS], &lk->tariffs)))
		goto out_close_members;
	if ((rc = mdb_cursor_open(txn, dbs->ref.dbi[TPC_REF_AGREEMENTS], &lk->agreements)))
		goto out_close_tariffs;
	if ((rc = tpc_schemes_begin(txn, &dbs->ref, arena, &lk->schemes))) {
		mdb_cursor_close(lk->agreements);
		mdb_cursor_close(lk->tariffs);
		mdb_cursor_close(lk->members);
		return rc;
	}

	for (uint32_t i = 0; i < s->ninvoices && !s->blocked; i++) {
		tpc_invoice_t *inv = &s->invoices[i];
		tpc_ref_provider_t prov;
		uint8_t ikey[160];
		MDB_val kk, vv;

		unsigned care;

		prov.kind = TPC_PROVIDER_OTHER;
		if (inv->provider.len != 11 ||
		    tpc_refdata_provider(txn, &dbs->ref, inv->provider.ptr, &prov) != 0)
			if ((rc = add_invoice(&k, inv, finding("201420", inv->record, 0, 0))))
				goto out_close_all;
		/* the care type of the invoice, for Mediprima decisions (and Fedasil's pilot) */
		care = prov.kind == TPC_PROVIDER_PHARMACIST || inv->kind == TPC_INVOICE_PHARMACY
		           ? TPC_CARE_PHARMACY
		       : inv->kind == TPC_INVOICE_HOSPITALISED ? TPC_CARE_HOSPITAL
		                                               : TPC_CARE_AMBULATORY;
		kk.mv_data = ikey;
		kk.mv_size = tpc_tariff_invoice_key(inv, ikey, sizeof(ikey));
		if (kk.mv_size && inv->number.len) {
			/* unique per provider: against earlier sendings, then within this one */
			int fresh = 1;

			if (kk.mv_size <= TPC_TARIFF_ID_LEN) {
				uint8_t padded[TPC_TARIFF_ID_LEN] = {0};

				memcpy(padded, ikey, kk.mv_size);
				table_get(&numbers, padded, TPC_TARIFF_ID_LEN, &fresh);
			}
			if ((!fresh || mdb_get(txn, dbs->invoices, &kk, &vv) == 0) &&
			    (rc = add_invoice(&k, inv, finding("202420", inv->record, 0, 0))))
				goto out_close_all;
		}
		if (inv->invoicing == TPC_INVOICING_CREDIT_NOTE && inv->previous.len) {
			/* the credited invoice must have been accepted, and not credited yet */
			tpc_invoice_t prev = *inv;

			prev.number = inv->previous;
			kk.mv_size = tpc_tariff_invoice_key(&prev, ikey, sizeof(ikey));
			if (!kk.mv_size || mdb_get(txn, dbs->invoices, &kk, &vv) != 0)
				rc = add_invoice(&k, inv, finding("202920", inv->record, 0, 0));
			else if ((kk.mv_size = tpc_tariff_credit_key(inv, ikey, sizeof(ikey))) &&
			         mdb_get(txn, dbs->invoices, &kk, &vv) == 0)
				rc = add_invoice(&k, inv, finding("202921", inv->record, 0, 0));
			if (rc)
				goto out_close_all;
		}
		for (uint32_t n = 0; n < inv->nlines; n++) {
			uint32_t li = inv->first_line + n;
			tpc_line_t *ln = &s->lines[li];

			tpc_tariff_line_identity(inv, ln, marks->dedup[li]);
			if (refused(ln) || inv->patient.len != 11)
				continue;
			rc = check_line(lk, &k, txn, dbs, created, care,
			                s->payee == TPC_PAYEE_PATIENT, inv, ln, li, &seen, &units,
			                marks);
			if (rc)
				goto out_close_all;
		}
	}
	rc = 0;

out_close_all:
	tpc_schemes_end(lk->schemes);
	mdb_cursor_close(lk->agreements);
out_close_tariffs:
	mdb_cursor_close(lk->tariffs);
out_close_members:
	mdb_cursor_close(lk->members);
	return rc;
out_mdb:
	return tpc_err_from_mdb(rc);
}
