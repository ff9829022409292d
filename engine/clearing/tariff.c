/* engine/clearing/tariff.c - AMI clearing rules (see tariff.h).
 *
 * Per line the work is a few lookups in the reference data's in-memory snapshot (member,
 * tariff, maybe an agreement, the scheme feeds: refdata/snapshot.h), two LMDB reads of what
 * earlier sendings left (the dedup and units indexes, which the writer adds to) and two
 * open-addressing tables in the arena for the checks within the sending. Nothing is allocated
 * per line outside the arena.
 */
#include "clearing/tariff.h"

#include "clearing/budget.h"
#include "core/codes.h"

#include "core/error.h"

#include <sodium.h>
#include <string.h>
#include <xxhash.h>

/* The limitation period of 500546, counted as 730 days (no leap day). */
#define TWO_YEARS_DAYS 730

/* The table behind tpc_tariff_describe() and each finding's letter: TPC_CLEARING_CODES, the one
 * list of the official codes clearing emits (tariff.h). */
static const struct {
	const char *code;
	char letter;
	const char *reason;
} letters[] = {
#define X(code, letter, reason) {code, letter, reason},
    TPC_CLEARING_CODES(X)
#undef X
};

const char *tpc_tariff_describe(const char *code)
{
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (strcmp(letters[i].code, code) == 0)
			return letters[i].reason;
	return NULL;
}

/* A finding with the letter the official list gives its code, so the letter (what it refuses)
 * is never chosen at the call site; 'R' for a code not in the list (the eAttest T-codes). */
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

/* Findings go to the first free slot; past three they are kept on the sending. An eFact record
 * has room for three errors (zones 457-477); the rest are kept, not dropped. Adding a
 * finding refuses what it is attached to: every code clearing emits refuses its line or
 * invoice. */
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

/* Refused already, by the adapter (its letters) or by an earlier check (its outcome). */
static int refused(const tpc_line_t *ln)
{
	for (unsigned i = 0; i < ln->nfindings; i++)
		if (ln->findings[i].letter == 'R' || ln->findings[i].letter == 'B' ||
		    ln->findings[i].letter == 'F')
			return 1;
	return ln->outcome == TPC_OUTCOME_REFUSED;
}

/* Copy a view into a fixed-width field (zero-padded with '0'); views may be empty. Index keys
 * have fixed offsets, so a short or empty number still takes its full width. */
static void put_view(uint8_t *dst, size_t width, tpc_view_t v)
{
	memset(dst, '0', width);
	if (v.ptr && v.len)
		memcpy(dst, v.ptr, v.len < width ? v.len : width);
}

/* A provider or patient number (11 characters, as put_view() pads it) as a 5-byte big-endian
 * number: 11 digits are below 10^11 < 2^37, so the key keeps their order. Anything else (no
 * adapter hands one over accepted, but a key must exist for every line) takes 39 bits of its
 * hash with the top bit set, above every number: only locality rests on this part, the
 * identity's 64-bit hash covers the 11 characters themselves. */
static void put_number(uint8_t *dst, const uint8_t digits[11])
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < 11 && digits[i] >= '0' && digits[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(digits[i] - '0');
	if (i < 11)
		n = (XXH3_64bits(digits, 11) & 0x7fffffffffu) | 0x8000000000u;
	for (i = 0; i < 5; i++)
		dst[i] = (uint8_t)(n >> (32 - 8 * i));
}

static void put_be64(uint8_t *dst, uint64_t h)
{
	for (int i = 0; i < 8; i++)
		dst[i] = (uint8_t)(h >> (56 - 8 * i));
}

size_t tpc_tariff_line_identity(const tpc_invoice_t *inv, const tpc_line_t *ln, unsigned form,
                                uint8_t out[TPC_TARIFF_ID_LEN])
{
	/* the day big endian with its sign bit flipped, so days before 1970 still sort first */
	uint32_t d = (uint32_t)ln->date_first ^ 0x80000000u;
	uint8_t id[TPC_TARIFF_ID_LEN];

	/* provider and patient first: the lines of one invoice sit together in the index. The line
	 * reference (free text, any length) enters as an 8-byte hash so the key keeps a fixed
	 * width; a false duplicate needs two references of the same provider, patient, code and
	 * day whose 64-bit hashes match. XXH3-64 since issue 15 (a tenth of BLAKE2b's cost per
	 * line), BLAKE2b-64 in a ledger created before: its index holds BLAKE2b keys, and a line
	 * sent again must be found (store/dbs.h, enum tpc_dedup_form). */
	put_view(id, 11, inv->provider);
	put_view(id + 11, 11, inv->patient);
	memcpy(id + 22, ln->code, 6);
	for (int i = 0; i < 4; i++)
		id[28 + i] = (uint8_t)(d >> (24 - 8 * i));
	if (form == TPC_DEDUP_BLAKE2B_40) {
		crypto_generichash(out + 32, 8, (const uint8_t *)ln->reference.ptr,
		                   ln->reference.len, NULL, 0);
		memcpy(out, id, 32);
		return TPC_TARIFF_ID_LEN;
	}
	put_be64(id + 32, XXH3_64bits(ln->reference.ptr, ln->reference.len));
	if (form == TPC_DEDUP_XXH3_40) {
		memcpy(out, id, TPC_TARIFF_ID_LEN);
		return TPC_TARIFF_ID_LEN;
	}
	/* The short key (issue 15, 91 bytes of ledger a line with the 40-byte one): provider and
	 * patient as numbers keep an invoice's lines together, then a 64-bit hash of the whole
	 * 40-byte identity, so two lines are one identity exactly when their 40-byte keys were,
	 * but for a 64-bit collision between two lines of the same provider and patient: with n
	 * lines of one pair over two years, about n^2 / 2^65 (10^5 lines of one pair: 3 x 10^-10;
	 * 10^9 lines in all, none above 10^5 a pair: under 3 x 10^-6 over the window). Such a
	 * collision refuses a new line 500423, it never pays one twice (docs/ledger.md). */
	put_number(out, id);
	put_number(out + 5, id + 11);
	put_be64(out + 10, XXH3_64bits(id, sizeof(id)));
	return TPC_TARIFF_ID_SHORT;
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
	int64_t units;
};

/* An open-addressing index of slot numbers over the slots in insertion order: only the index
 * (4 bytes a position) starts zeroed, the slots (48 bytes) are written when inserted. */
struct table {
	uint32_t *index; /* slot number + 1, 0 = free; mask + 1 positions */
	struct slot *slots;
	uint32_t mask, used;
};

/* At least twice as many positions as keys: the index never fills, so table_get()'s probe
 * always ends on a free position, and it needs no growth (nor anything outside the arena). Each
 * line (or invoice) inserts at most one key, so half the positions is room for every slot. */
static int table_init(struct table *t, tpc_arena_t *arena, uint32_t n)
{
	uint32_t cap = 16;

	while (cap < n * 2)
		cap <<= 1;
	t->index = tpc_arena_alloc(arena, cap * sizeof(*t->index), 4);
	t->slots = tpc_arena_alloc_uninit(arena, cap / 2 * sizeof(*t->slots), 8);
	t->mask = cap - 1;
	t->used = 0;
	return t->index && t->slots ? 0 : TPC_ENOMEM;
}

/* Find or insert @p key (klen <= TPC_TARIFF_ID_LEN). @return the slot; *fresh set when inserted
 * (its units 0). */
static struct slot *table_get(struct table *t, const uint8_t *key, size_t klen, int *fresh)
{
	uint32_t h = 2166136261u; /* FNV-1a: keys are short, this is per line */

	for (size_t i = 0; i < klen; i++)
		h = (h ^ key[i]) * 16777619u;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct slot *sl;

		if (!t->index[i]) {
			sl = &t->slots[t->used++];
			t->index[i] = t->used;
			memcpy(sl->key, key, klen);
			sl->units = 0;
			*fresh = 1;
			return sl;
		}
		sl = &t->slots[t->index[i] - 1];
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
	/* a credit may take back more than was counted on the key (units accepted while the
	 * code had no maximum were never counted): the count stops at 0 rather than go
	 * negative and lend room to later lines */
	u += delta;
	if (u < 0)
		u = 0;
	v.mv_data = &u;
	v.mv_size = sizeof(u);
	return mdb_put(txn, units, &k, &v, 0);
}

/* Per-sending lookup state: the reference data snapshot and two small caches (most lines of an
 * invoice share the patient's period; a sending uses few codes). The rows are the snapshot's,
 * held for the whole sending. */
struct lookups {
	const tpc_refsnap_t *ref;
	tpc_schemes_t *schemes;
	char niss[12];
	const tpc_ref_member_t *member; /* cached period of niss, NULL when none */
	const tpc_ref_tariff_t *tariff[64];
};

/* The member period covering @p d; the cached one when it is the same person and it covers d
 * too, since an invoice's lines are one patient's. @return 0 or MDB_NOTFOUND. */
static int member_on(struct lookups *lk, const char *niss, int32_t d, const tpc_ref_member_t **m)
{
	int rc;

	if (lk->member && memcmp(lk->niss, niss, 11) == 0 && d >= lk->member->valid_from &&
	    d <= lk->member->valid_to) {
		*m = lk->member;
		return 0;
	}
	lk->member = NULL;
	rc = tpc_refsnap_member_on(lk->ref, niss, d, m);
	if (rc == 0) {
		memcpy(lk->niss, niss, 12);
		lk->member = *m;
	}
	return rc;
}

static int tariff_on(struct lookups *lk, const char *code, int32_t d, const tpc_ref_tariff_t **t)
{
	/* a direct-mapped cache of 64 rows hashed on the code's last digits: a clash only costs a
	 * lookup, and a row is reused only while its validity covers the date */
	unsigned h = ((unsigned)code[3] * 31u + (unsigned)code[4] * 7u + (unsigned)code[5]) & 63u;
	const tpc_ref_tariff_t *c = lk->tariff[h];
	int rc;

	if (c && memcmp(c->code, code, 6) == 0 && d >= c->valid_from && d <= c->valid_to) {
		*t = c;
		return 0;
	}
	rc = tpc_refsnap_tariff_on(lk->ref, code, d, t);
	lk->tariff[h] = rc == 0 ? *t : NULL;
	return rc;
}

/* ---- the line checks, in the order tariff.h lists them ------------------------------------- */

/* What every check of one sending shares: the snapshot, the lookups and the in-sending tables. */
struct run {
	struct lookups *lk;
	struct sink *k;
	MDB_txn *txn;
	const tpc_ledger_dbs_t *dbs;
	int32_t created;            /* the sending's creation date (or today) */
	int eattest;                /* reimbursed to the patient: amounts are what they paid */
	struct table *seen, *units; /* line identities and units per day within the sending */
	tpc_tariff_marks_t *marks;
};

/* One line under check. The first checks fill in what the later ones read (the member period,
 * the scheme's verdict, the tariff row and the amounts it gives). */
struct line {
	const struct run *r;
	tpc_invoice_t *inv;
	tpc_line_t *ln;
	uint32_t li;   /* index of ln in the sending (and in the marks) */
	unsigned care; /* enum tpc_care of the invoice */
	int32_t d;     /* service date */
	char niss[12];
	const tpc_ref_member_t *mem; /* NULL when no period covers d */
	const tpc_ref_tariff_t *tar;
	tpc_scheme_out_t sv;
	int64_t exp_ins, exp_pat; /* the tariff's amounts under the scheme */
};

/* A check's verdict: go on with the next check, or stop at this one (the line is refused, or
 * has nothing more to be checked against); a negative TPC_E* code aborts the sending. */
#define NEXT 0
#define STOP 1

/* Refuse the line with @p code and stop checking it: the first refusing finding is the one the
 * sender needs, further checks would only repeat it. */
static int refuse_line(const struct line *l, const char *code)
{
	int rc = add_line(l->r->k, l->ln, finding(code, l->ln->record, 0, 0));

	return rc ? rc : STOP;
}

/* 1. beneficiary (500820, 500540; Mediprima, OSSOM... through engine/clearing/schemes.c): who
 *    pays is the first scheme that covers the person on the date. */
static int check_beneficiary(struct line *l)
{
	tpc_scheme_in_t in;
	int rc;

	if (member_on(l->r->lk, l->niss, l->d, &l->mem))
		l->mem = NULL;
	in = (tpc_scheme_in_t){
	    l->niss, l->d,
	    l->care, l->ln->code,
	    l->mem,  l->mem != NULL || tpc_refsnap_exists(l->r->lk->ref, TPC_REF_MEMBERS, l->niss)};
	if ((rc = tpc_schemes_resolve(l->r->lk->schemes, &in, &l->sv)))
		return rc;
	return l->sv.refuse ? refuse_line(l, l->sv.refuse) : NEXT;
}

/* 2. dates: 500510 after the sending's creation, 500546 over two years before it, 500511 /
 *    500513 outside a hospital stay. */
static int check_dates(struct line *l)
{
	const tpc_invoice_t *inv = l->inv;
	int hospital = inv->kind == TPC_INVOICE_HOSPITALISED;

	/* measured from the sending's creation date, as the official rules are stated (today
	 * stands in only when the sending has none); 0 admission/discharge = not given */
	if (l->d > l->r->created)
		return refuse_line(l, "500510");
	if (l->d < l->r->created - TWO_YEARS_DAYS)
		return refuse_line(l, "500546");
	if (hospital && inv->admission && l->d < inv->admission)
		return refuse_line(l, "500511");
	if (hospital && inv->discharge && l->d > inv->discharge)
		return refuse_line(l, "500513");
	return NEXT;
}

/* 3. tariff: 500403 for a code with no tariff at all, 500420 for one not valid on the date.
 *    The line takes the scheme's verdict only once it has a tariff (what it records). */
static int check_tariff(struct line *l)
{
	tpc_line_t *ln = l->ln;

	if (tariff_on(l->r->lk, ln->code, l->d, &l->tar))
		return refuse_line(l, tpc_refsnap_exists(l->r->lk->ref, TPC_REF_TARIFFS, ln->code)
		                          ? "500420"
		                          : "500403");
	ln->scheme = l->sv.scheme;
	ln->budget = l->sv.budget;
	ln->share_budget = l->sv.share_budget;
	ln->scheme_ref = l->sv.ref;
	ln->scheme_org = l->sv.org;
	tpc_schemes_amounts(&l->sv, l->tar, ln->units, &l->exp_ins, &l->exp_pat);
	return NEXT;
}

/* 4a. eAttest amounts (T40xxx): reimbursed to the insured, AMI or OSSOM only. The checks of
 *     invoiced amounts make no sense here: the patient paid what they paid. */
static int eattest_amounts(struct line *l)
{
	tpc_line_t *ln = l->ln;
	int64_t paid = ln->patient_cents, back;

	if (l->sv.scheme != TPC_SCHEME_AMI && l->sv.scheme != TPC_SCHEME_OSSOM)
		return refuse_line(l, TPC_CODE_EATTEST_PUBLIC);
	if (ln->country[0]) {
		/* care abroad: 75 % of the real cost, for a code with a Belgian tariff on that
		 * date (found above), rounded half away from zero to the cent */
		int64_t c = ln->real_cost_cents * 75;

		if (l->sv.scheme != TPC_SCHEME_OSSOM)
			return refuse_line(l, TPC_CODE_EATTEST_ABROAD);
		back = (c >= 0 ? c + 50 : c - 50) / 100;
	} else {
		/* in Belgium: the insurer part, never more than the patient paid */
		back = l->exp_ins;
		if ((paid >= 0 && back > paid) || (paid < 0 && back < paid))
			back = paid;
	}
	ln->insurer_cents = back;
	ln->expected_insurer_cents = back;
	ln->expected_patient_cents = paid - back;
	ln->share_budget = TPC_BUDGET_NONE;
	return NEXT;
}

/* 4. amounts: 501940 insurer part, 502741 patient share, to the cent. Both are reported (a
 *    sender fixing one wants to see the other), and neither stops the line's checks. */
static int check_amounts(struct line *l)
{
	tpc_line_t *ln = l->ln;
	int rc;

	if (l->r->eattest)
		return eattest_amounts(l);
	ln->expected_insurer_cents = l->exp_ins;
	ln->expected_patient_cents = l->exp_pat;
	if (ln->insurer_cents != l->exp_ins &&
	    (rc = add_line(l->r->k, ln, finding("501940", ln->record, 0, 0))))
		return rc;
	if (ln->patient_cents != l->exp_pat &&
	    (rc = add_line(l->r->k, ln, finding("502741", ln->record, 0, 0))))
		return rc;
	return NEXT;
}

/* 5. prior agreement: a code flagged `agreement` needs a payment-commitment reference or an
 *    agreement covering (patient, code, date): 5004K2 none, 500548 one on other dates. */
static int check_agreement(struct line *l)
{
	const tpc_ref_agreement_t *agr;
	char id[17];

	if (!(l->tar->flags & TPC_TARIFF_AGREEMENT) || l->ln->commitment.len != 0)
		return NEXT;
	if (tpc_refsnap_agreement_on(l->r->lk->ref, l->niss, l->ln->code, l->d, &agr) == 0)
		return NEXT;
	memcpy(id, l->niss, 11);
	memcpy(id + 11, l->ln->code, 6);
	return refuse_line(l, tpc_refsnap_exists(l->r->lk->ref, TPC_REF_AGREEMENTS, id) ? "500548"
	                                                                                : "5004K2");
}

/* Gate before the checks against accepted lines: a refused line, or a line of an invoice
 * refused as a whole, is never accepted, so it must not use up a daily maximum or count as
 * billed for the other invoices. */
static int check_still_standing(struct line *l)
{
	return refused(l->ln) || l->inv->outcome == TPC_OUTCOME_REFUSED ? STOP : NEXT;
}

/* 6. credit note (202921, 500423): a credit line cancels the line it repeats (same identity),
 *    which must be an accepted line of the credited invoice's provider and patient. A credit
 *    line is not billed, so the checks after this one do not apply to it. */
static int check_credit_line(struct line *l)
{
	uint8_t *id = l->r->marks->dedup[l->li];
	MDB_val dk = {l->r->marks->id_len, id}, dv;
	int fresh;

	if (l->inv->invoicing != TPC_INVOICING_CREDIT_NOTE)
		return NEXT;
	if (mdb_get(l->r->txn, l->r->dbs->dedup, &dk, &dv) != 0)
		return refuse_line(l, "202921");
	table_get(l->r->seen, id, dk.mv_size, &fresh);
	return fresh ? STOP : refuse_line(l, "500423");
}

/* 7. duplicates (500423): already billed within the sending, then in earlier ones. The
 *    in-sending table is filled first so a line repeated here is caught without LMDB. */
static int check_duplicate(struct line *l)
{
	uint8_t *id = l->r->marks->dedup[l->li];
	MDB_val dk = {l->r->marks->id_len, id}, dv;
	int fresh;

	table_get(l->r->seen, id, dk.mv_size, &fresh);
	if (!fresh || mdb_get(l->r->txn, l->r->dbs->dedup, &dk, &dv) == 0)
		return refuse_line(l, "500423");
	return NEXT;
}

/* 8. max_per_day (502255): units of (patient, code, date) here plus in earlier accepted
 *    sendings. The earlier units are read once per key, then counted in the table. */
static int check_max_per_day(struct line *l)
{
	uint32_t max = l->tar->max_per_day;
	uint8_t ukey[21];
	struct slot *sl;
	int fresh, rc;

	if (!max)
		return NEXT;
	tpc_tariff_units_key(&l->inv->patient, l->ln->code, l->d, ukey);
	sl = table_get(l->r->units, ukey, 21, &fresh);
	if (fresh && (rc = tpc_tariff_units_get(l->r->txn, l->r->dbs->units, ukey, &sl->units)))
		return tpc_err_from_mdb(rc);
	if (sl->units + l->ln->units > (int64_t)max)
		return refuse_line(l, "502255");
	sl->units += l->ln->units;
	l->r->marks->max_per_day[l->li] = max; /* the writer re-checks it in its transaction */
	return NEXT;
}

/* The order of tariff.h's list: the first refusing check names the line's finding, so this
 * order is behaviour. Add a check here and in tariff.h's list together. */
static int (*const line_checks[])(struct line *) = {
    check_beneficiary,    /* 1 */
    check_dates,          /* 2 */
    check_tariff,         /* 3 */
    check_amounts,        /* 4 */
    check_agreement,      /* 5 */
    check_still_standing, /* gate */
    check_credit_line,    /* 6 */
    check_duplicate,      /* 7 */
    check_max_per_day,    /* 8 */
};

/* Run the checks over one line until one stops. @return 0 or a negative TPC_E* code. */
static int check_line(const struct run *r, tpc_invoice_t *inv, uint32_t li, unsigned care)
{
	struct line l = {.r = r, .inv = inv, .ln = &r->k->s->lines[li], .li = li, .care = care};

	l.d = l.ln->date_first;
	memcpy(l.niss, inv->patient.ptr, 11);
	l.niss[11] = 0;
	for (size_t i = 0; i < sizeof(line_checks) / sizeof(line_checks[0]); i++) {
		int rc = line_checks[i](&l);

		if (rc < 0)
			return rc;
		if (rc == STOP)
			return 0;
	}
	return 0;
}

/* ---- the invoice checks -------------------------------------------------------------------- */

/* The invoicing provider must be known (201420, on the invoice). @return the care type of the
 * invoice, for Mediprima decisions (and Fedasil's pilot), through @p care. */
static int check_provider(const struct run *r, tpc_invoice_t *inv, unsigned *care)
{
	const tpc_ref_provider_t *prov = NULL;
	int rc = 0;

	if (inv->provider.len != 11 || tpc_refsnap_provider(r->lk->ref, inv->provider.ptr, &prov))
		rc = add_invoice(r->k, inv, finding("201420", inv->record, 0, 0));
	*care = (prov && prov->kind == TPC_PROVIDER_PHARMACIST) || inv->kind == TPC_INVOICE_PHARMACY
	            ? TPC_CARE_PHARMACY
	        : inv->kind == TPC_INVOICE_HOSPITALISED ? TPC_CARE_HOSPITAL
	                                                : TPC_CARE_AMBULATORY;
	return rc;
}

/* Invoice numbers are unique per provider (202420): against earlier sendings, then within this
 * one. Only keys that fit a table slot are tracked within the sending (longer ones are still
 * checked against the index). */
static int check_invoice_number(const struct run *r, struct table *numbers, tpc_invoice_t *inv)
{
	uint8_t ikey[160];
	MDB_val kk = {0, ikey}, vv;
	int fresh = 1;

	kk.mv_size = tpc_tariff_invoice_key(inv, ikey, sizeof(ikey));
	if (!kk.mv_size || !inv->number.len)
		return 0;
	if (kk.mv_size <= TPC_TARIFF_ID_LEN) {
		uint8_t padded[TPC_TARIFF_ID_LEN] = {0};

		memcpy(padded, ikey, kk.mv_size);
		table_get(numbers, padded, TPC_TARIFF_ID_LEN, &fresh);
	}
	if (!fresh || mdb_get(r->txn, r->dbs->invoices, &kk, &vv) == 0)
		return add_invoice(r->k, inv, finding("202420", inv->record, 0, 0));
	return 0;
}

/* A credit note's credited invoice must have been accepted (202920) and not credited yet
 * (202921: its '~' credit key is in the same index). */
static int check_credited_invoice(const struct run *r, tpc_invoice_t *inv)
{
	tpc_invoice_t prev = *inv;
	uint8_t ikey[160];
	MDB_val kk = {0, ikey}, vv;

	if (inv->invoicing != TPC_INVOICING_CREDIT_NOTE || !inv->previous.len)
		return 0;
	prev.number = inv->previous;
	kk.mv_size = tpc_tariff_invoice_key(&prev, ikey, sizeof(ikey));
	if (!kk.mv_size || mdb_get(r->txn, r->dbs->invoices, &kk, &vv) != 0)
		return add_invoice(r->k, inv, finding("202920", inv->record, 0, 0));
	kk.mv_size = tpc_tariff_credit_key(inv, ikey, sizeof(ikey));
	if (kk.mv_size && mdb_get(r->txn, r->dbs->invoices, &kk, &vv) == 0)
		return add_invoice(r->k, inv, finding("202921", inv->record, 0, 0));
	return 0;
}

/* One invoice: its own checks, then each of its lines still standing. Every line gets its
 * identity even when refused: the writer records the marks of the whole sending. */
static int check_invoice(const struct run *r, struct table *numbers, tpc_invoice_t *inv)
{
	tpc_sending_t *s = r->k->s;
	unsigned care;
	int rc;

	if ((rc = check_provider(r, inv, &care)) || (rc = check_invoice_number(r, numbers, inv)) ||
	    (rc = check_credited_invoice(r, inv)))
		return rc;
	for (uint32_t n = 0; n < inv->nlines; n++) {
		uint32_t li = inv->first_line + n;
		tpc_line_t *ln = &s->lines[li];

		tpc_tariff_line_identity(inv, ln, r->dbs->dedup_form, r->marks->dedup[li]);
		/* a patient number not 11 long cannot be looked up; no adapter hands one over
		 * unrefused (eFact's zone is 11 wide, canonical and eAttest refuse it: 200802) */
		if (refused(ln) || inv->patient.len != 11)
			continue;
		if ((rc = check_line(r, inv, li, care)))
			return rc;
	}
	return 0;
}

/* Marks and the in-sending tables, all in the arena. @return 0 or TPC_ENOMEM. */
static int prepare(tpc_sending_t *s, tpc_arena_t *arena, tpc_tariff_marks_t *marks,
                   struct table *seen, struct table *units, struct table *numbers,
                   struct lookups **lk)
{
	memset(marks, 0, sizeof(*marks));
	marks->nlines = s->nlines;
	marks->dedup = tpc_arena_alloc(arena, (s->nlines + 1) * TPC_TARIFF_ID_LEN, 8);
	marks->max_per_day = tpc_arena_alloc(arena, (s->nlines + 1) * sizeof(uint32_t), 4);
	*lk = tpc_arena_alloc(arena, sizeof(**lk), 8);
	if (!marks->dedup || !marks->max_per_day || !*lk || table_init(units, arena, s->nlines) ||
	    table_init(seen, arena, s->nlines) || table_init(numbers, arena, s->ninvoices))
		return TPC_ENOMEM;
	return 0;
}

int tpc_tariff_apply(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, const tpc_refsnap_t *ref,
                     int32_t today, tpc_sending_t *s, tpc_arena_t *arena, tpc_tariff_marks_t *marks)
{
	struct sink k = {s, {tpc_arena_host_alloc, arena, 0, 0, NULL}};
	struct lookups *lk;
	struct table units, seen, numbers;
	struct run r = {NULL,
	                &k,
	                txn,
	                dbs,
	                s->created ? s->created : today,
	                s->payee == TPC_PAYEE_PATIENT,
	                &seen,
	                &units,
	                marks};
	int rc;

	if ((rc = prepare(s, arena, marks, &seen, &units, &numbers, &lk)))
		return rc;
	/* every identity of the sending has the ledger's length: the writer's keys are these */
	marks->id_len =
	    dbs->dedup_form == TPC_DEDUP_XXH3_18 ? TPC_TARIFF_ID_SHORT : TPC_TARIFF_ID_LEN;
	memset(lk, 0, sizeof(*lk));
	lk->ref = ref;
	r.lk = lk;
	if ((rc = tpc_schemes_begin(ref, arena, &lk->schemes)))
		return rc;
	/* a blocked sending is refused whole: nothing more to learn from its lines */
	for (uint32_t i = 0; i < s->ninvoices && !s->blocked && !rc; i++)
		rc = check_invoice(&r, &numbers, &s->invoices[i]);
	return rc;
}
