/* engine/tariff.c - AMI clearing rules (see tariff.h).
 *
 * Per line the work is a handful of LMDB lookups in the snapshot (member, tariff, maybe an
 * agreement, the dedup and units indexes) plus two open-addressing tables in the arena for the
 * checks within the sending. Nothing is allocated per line outside the arena.
 */
#include "tariff.h"

#include "error.h"

#include <sodium.h>
#include <string.h>

#define TWO_YEARS_DAYS 730

static const struct {
	const char *code;
	char letter;
} letters[] = {
    {"500820", 'R'}, {"500540", 'R'}, {"201420", 'F'}, {"500403", 'R'},
    {"500420", 'R'}, {"500510", 'R'}, {"500546", 'R'}, {"500511", 'R'},
    {"500513", 'R'}, {"501940", 'R'}, {"502741", 'R'}, {"5004K2", 'R'},
    {"500548", 'R'}, {"502255", 'R'}, {"500423", 'R'}, {"202420", 'B'},
};

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

void tpc_tariff_line_identity(const tpc_invoice_t *inv, const tpc_line_t *ln, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t sep = 0x1f;

	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const uint8_t *)inv->provider.ptr, inv->provider.len);
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, (const uint8_t *)inv->patient.ptr, inv->patient.len);
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, (const uint8_t *)ln->code, 6);
	crypto_generichash_update(&st, (const uint8_t *)&ln->date_first, sizeof(ln->date_first));
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, (const uint8_t *)ln->reference.ptr, ln->reference.len);
	crypto_generichash_final(&st, out, 16);
}

size_t tpc_tariff_units_key(const tpc_view_t *patient, const char *code, int32_t day,
                            uint8_t out[21])
{
	uint32_t d = (uint32_t)day ^ 0x80000000u;

	memset(out, '0', 11);
	memcpy(out, patient->ptr, patient->len < 11 ? patient->len : 11);
	memcpy(out + 11, code, 6);
	for (int i = 0; i < 4; i++)
		out[17 + i] = (uint8_t)(d >> (24 - 8 * i));
	return 21;
}

size_t tpc_tariff_invoice_key(const tpc_invoice_t *inv, uint8_t *out, size_t cap)
{
	if (inv->number.len + 11 > cap)
		return 0;
	memset(out, '0', 11);
	memcpy(out, inv->provider.ptr, inv->provider.len < 11 ? inv->provider.len : 11);
	memcpy(out + 11, inv->number.ptr, inv->number.len);
	return 11 + inv->number.len;
}

/* ---- tables for the checks within one sending ---------------------------------------------- */

struct slot {
	uint8_t key[21];
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

/* Find or insert @p key (klen <= 21). @return the slot; *fresh set when inserted. */
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

/* Is any period of this person (or code) stored, whatever the date? */
static int any_row(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t idlen)
{
	MDB_cursor *cur;
	MDB_val k = {idlen, (void *)id}, v;
	int found = 0;

	if (mdb_cursor_open(txn, dbi, &cur) != 0)
		return 0;
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size >= idlen &&
	    memcmp(k.mv_data, id, idlen) == 0)
		found = 1;
	mdb_cursor_close(cur);
	return found;
}

static int64_t stored_units(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key)
{
	MDB_val k = {21, (void *)key}, v;
	int64_t u;

	if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != sizeof(u))
		return 0;
	memcpy(&u, v.mv_data, sizeof(u));
	return u;
}

int tpc_tariff_apply(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, int32_t today, tpc_sending_t *s,
                     tpc_arena_t *arena, tpc_tariff_marks_t *marks)
{
	struct sink k = {s, {tpc_arena_host_alloc, arena, 0, 0}};
	struct table units, seen;
	int32_t created = s->created ? s->created : today;
	int rc;

	memset(marks, 0, sizeof(*marks));
	marks->nlines = s->nlines;
	marks->dedup = tpc_arena_alloc(arena, (s->nlines + 1) * 16, 8);
	marks->max_per_day = tpc_arena_alloc(arena, (s->nlines + 1) * sizeof(uint32_t), 4);
	if (!marks->dedup || !marks->max_per_day || table_init(&units, arena, s->nlines) ||
	    table_init(&seen, arena, s->nlines))
		return TPC_ENOMEM;

	for (uint32_t i = 0; i < s->ninvoices; i++) {
		tpc_invoice_t *inv = &s->invoices[i];
		const tpc_ref_provider_t *prov;
		uint8_t ikey[160];
		size_t ilen;
		MDB_val kk, vv;

		if (s->blocked)
			break;
		if (inv->provider.len != 11 ||
		    tpc_refdata_provider(txn, &dbs->ref, inv->provider.ptr, &prov) != 0) {
			if ((rc = add_invoice(&k, inv, finding("201420", inv->record, 0, 0))))
				return rc;
		}
		ilen = tpc_tariff_invoice_key(inv, ikey, sizeof(ikey));
		kk.mv_data = ikey;
		kk.mv_size = ilen;
		if (ilen && inv->number.len && mdb_get(txn, dbs->invoices, &kk, &vv) == 0 &&
		    inv->invoicing != TPC_INVOICING_CREDIT_NOTE) {
			if ((rc = add_invoice(&k, inv, finding("202420", inv->record, 0, 0))))
				return rc;
		}
		for (uint32_t n = 0; n < inv->nlines; n++) {
			uint32_t li = inv->first_line + n;
			tpc_line_t *ln = &s->lines[li];
			const tpc_ref_member_t *mem;
			const tpc_ref_tariff_t *tar;
			const tpc_ref_agreement_t *agr;
			char niss[12];
			int64_t per_unit, exp_ins, exp_pat;
			int32_t d = ln->date_first;
			int fresh;

			tpc_tariff_line_identity(inv, ln, marks->dedup[li]);
			if (refused(ln) || inv->patient.len != 11)
				continue;
			memcpy(niss, inv->patient.ptr, 11);
			niss[11] = 0;
			/* beneficiary */
			rc = tpc_refdata_member_on(txn, &dbs->ref, niss, d, &mem);
			if (rc == MDB_NOTFOUND) {
				int known = any_row(txn, dbs->ref.dbi[TPC_REF_MEMBERS], niss, 11);
				add_line(&k, ln,
				         finding(known ? "500540" : "500820", ln->record, 0, 0));
				continue;
			} else if (rc) {
				return tpc_err_from_mdb(rc);
			}
			/* dates */
			if (d > created) {
				add_line(&k, ln, finding("500510", ln->record, 0, 0));
				continue;
			}
			if (d < created - TWO_YEARS_DAYS) {
				add_line(&k, ln, finding("500546", ln->record, 0, 0));
				continue;
			}
			if (inv->kind == TPC_INVOICE_HOSPITALISED && inv->admission &&
			    d < inv->admission) {
				add_line(&k, ln, finding("500511", ln->record, 0, 0));
				continue;
			}
			if (inv->kind == TPC_INVOICE_HOSPITALISED && inv->discharge &&
			    d > inv->discharge) {
				add_line(&k, ln, finding("500513", ln->record, 0, 0));
				continue;
			}
			/* tariff */
			rc = tpc_refdata_tariff_on(txn, &dbs->ref, ln->code, d, &tar);
			if (rc == MDB_NOTFOUND) {
				int known =
				    any_row(txn, dbs->ref.dbi[TPC_REF_TARIFFS], ln->code, 6);
				add_line(&k, ln,
				         finding(known ? "500420" : "500403", ln->record, 0, 0));
				continue;
			} else if (rc) {
				return tpc_err_from_mdb(rc);
			}
			per_unit = mem->ct1 % 10 == 1 ? tar->insurer_bim : tar->insurer;
			exp_ins = (int64_t)ln->units * per_unit;
			exp_pat = (int64_t)ln->units * tar->fee - exp_ins;
			ln->expected_insurer_cents = exp_ins;
			ln->expected_patient_cents = exp_pat;
			if (ln->insurer_cents != exp_ins)
				add_line(&k, ln, finding("501940", ln->record, 0, 0));
			if (ln->patient_cents != exp_pat)
				add_line(&k, ln, finding("502741", ln->record, 0, 0));
			/* agreement */
			if ((tar->flags & TPC_TARIFF_AGREEMENT) && ln->commitment.len == 0) {
				rc = tpc_refdata_agreement_on(txn, &dbs->ref, niss, ln->code, d,
				                              &agr);
				if (rc == MDB_NOTFOUND) {
					uint8_t id[17];
					memcpy(id, niss, 11);
					memcpy(id + 11, ln->code, 6);
					add_line(
					    &k, ln,
					    finding(any_row(txn, dbs->ref.dbi[TPC_REF_AGREEMENTS],
					                    (const char *)id, 17)
					                ? "500548"
					                : "5004K2",
					            ln->record, 0, 0));
				} else if (rc) {
					return tpc_err_from_mdb(rc);
				}
			}
			if (refused(ln))
				continue;
			/* duplicates within the sending, then against earlier sendings */
			table_get(&seen, marks->dedup[li], 16, &fresh);
			{
				MDB_val dk = {16, marks->dedup[li]}, dv;
				if (!fresh || mdb_get(txn, dbs->dedup, &dk, &dv) == 0) {
					add_line(&k, ln, finding("500423", ln->record, 0, 0));
					continue;
				}
			}
			/* maximum units per day */
			if (tar->max_per_day && inv->invoicing != TPC_INVOICING_CREDIT_NOTE) {
				uint8_t ukey[21];
				struct slot *sl;

				tpc_tariff_units_key(&inv->patient, ln->code, d, ukey);
				sl = table_get(&units, ukey, 21, &fresh);
				if (fresh)
					sl->units = stored_units(txn, dbs->units, ukey);
				if (sl->units + ln->units > (int64_t)tar->max_per_day) {
					add_line(&k, ln, finding("502255", ln->record, 0, 0));
					continue;
				}
				sl->units += ln->units;
				marks->max_per_day[li] = tar->max_per_day;
			}
		}
	}
	return 0;
}
