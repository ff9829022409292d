/* engine/ledger/credit.c - a cancellation that names only what it cancels (see credit.h).
 *
 * The credited invoice is found as the tariff finds it (tpc_tariff_invoice_key: provider and
 * number), which gives its sending's sequence; the sending's line verdicts follow under
 * (sequence, line). Only an accepted line was paid, so only those are credited, with what
 * the line carried as sent (code, date, units, the patient's payment), negated: the tariff
 * then computes the reversal as for any credit line, and the line identity (provider, patient,
 * code, date, an empty reference) is the one the credited line was indexed under. Only a
 * sending of one invoice is credited so (an attestation): the line verdicts do not say which
 * invoice number a line of a larger sending had.
 */
#include "ledger/credit.h"

#include "clearing/tariff.h"
#include "core/error.h"
#include "store/records.h"

#include <string.h>

/* Whether @p s is a credit note that names its invoice and credits nothing itself. */
static int names_only(const tpc_sending_t *s)
{
	const tpc_invoice_t *inv = s->ninvoices == 1 ? &s->invoices[0] : NULL;

	if (!inv || s->nlines != 0 || s->blocked || inv->invoicing != TPC_INVOICING_CREDIT_NOTE ||
	    !inv->previous.len)
		return 0;
	for (unsigned i = 0; i < inv->nfindings; i++)
		if (inv->findings[i].letter == 'B' || inv->findings[i].letter == 'F')
			return 0; /* refused as it is: nothing to look up */
	return 1;
}

/* The sequence of the sending whose invoice @p s credits. @return 0, MDB_NOTFOUND, or LMDB's. */
static int credited_sequence(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, const tpc_sending_t *s,
                             uint64_t *seq)
{
	tpc_invoice_t prev = s->invoices[0];
	uint8_t key[160];
	MDB_val k = {0, key}, v;
	int rc;

	prev.number = s->invoices[0].previous;
	k.mv_size = tpc_tariff_invoice_key(&prev, key, sizeof(key));
	if (!k.mv_size)
		return MDB_NOTFOUND;
	if ((rc = mdb_get(txn, dbs->invoices, &k, &v)))
		return rc;
	if (v.mv_size != sizeof(*seq))
		return MDB_CORRUPTED;
	memcpy(seq, v.mv_data, sizeof(*seq));
	return 0;
}

/* The credit line of the accepted line @p rec. */
static void credit_line(const tpc_line_rec_t *rec, tpc_line_t *ln)
{
	memset(ln, 0, sizeof(*ln));
	ln->record = rec->record;
	memcpy(ln->code, rec->code, 6);
	ln->date_first = ln->date_last = rec->date_first;
	ln->units = -rec->units;
	ln->patient_cents = -rec->patient_cents; /* what the patient paid: the tariff's input */
	ln->account = rec->account;
}

/* Read the verdicts of sending @p seq: with @p out NULL, count its accepted lines into *n;
 * else fill @p out. *other is set when a line is of another invoice than the first.
 * @return 0 or LMDB's code. */
static int read_lines(MDB_txn *txn, MDB_dbi lines, uint64_t seq, tpc_line_t *out, uint32_t *n,
                      int *other)
{
	uint8_t kb[12];
	uint32_t got = 0;
	tpc_lines_t l;
	int rc = 0;

	*other = 0;
	/* in either layout (store/records.h): a block, or records under (sequence, line) */
	tpc_lines_init(&l, txn, lines);
	for (uint32_t i = 0; !*other; i++) {
		tpc_line_rec_t rec;

		if ((rc = tpc_lines_get(&l, seq, i, &rec, NULL)) == MDB_NOTFOUND) {
			rc = 0;
			break; /* past its last line */
		}
		/* a damaged line is not credited from: the cancellation is refused T00055 */
		if (rc == TPC_EDAMAGED) {
			MDB_val k = tpc_key_u64_u32(kb, seq, i);

			tpc_records_damaged(TPC_REC_LINES, &k);
		}
		if (rc)
			break;
		*other = rec.invoice != 0;
		if (!*other && rec.outcome == TPC_OUTCOME_ACCEPTED && out && got < *n)
			credit_line(&rec, &out[got]);
		got += !*other && rec.outcome == TPC_OUTCOME_ACCEPTED;
	}
	if (!out)
		*n = got;
	return rc; /* TPC_EDAMAGED passes tpc_err_from_mdb() */
}

int tpc_credit_whole_invoice(MDB_txn *txn, const tpc_ledger_dbs_t *dbs, tpc_sending_t *s,
                             tpc_arena_t *arena)
{
	tpc_invoice_t *inv = &s->invoices[0];
	tpc_line_t *lines;
	uint64_t seq;
	uint32_t n = 0;
	int rc, other;

	if (!names_only(s))
		return 0;
	rc = credited_sequence(txn, dbs, s, &seq);
	if (rc == MDB_NOTFOUND)
		return 0; /* the tariff refuses it: 202920 */
	if (rc || (rc = read_lines(txn, dbs->lines, seq, NULL, &n, &other)))
		return tpc_err_from_mdb(rc);
	if (other || n == 0) {
		/* another kind of sending, or nothing accepted left to credit */
		inv->outcome = TPC_OUTCOME_REFUSED;
		if (inv->nfindings < TPC_MAX_FINDINGS)
			inv->findings[inv->nfindings++] =
			    (tpc_finding_t){"202920", 'F', inv->record, 0, 0};
		return 0;
	}
	lines = tpc_arena_alloc(arena, n * sizeof(*lines), 8);
	if (!lines)
		return TPC_ENOMEM;
	if ((rc = read_lines(txn, dbs->lines, seq, lines, &n, &other)))
		return tpc_err_from_mdb(rc);
	s->lines = lines;
	s->nlines = n;
	s->nrecords += n;
	inv->first_line = 0;
	inv->nlines = n;
	return 0;
}
