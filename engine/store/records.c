/* engine/store/records.c - encode and decode the store's records (see records.h).
 *
 * The encoders are the only place a judged job becomes stored bytes and the decoders the only
 * place those bytes become a job's answer again: a replay, a lookup, a history and a
 * settlement all read through here, so they cannot disagree about a layout.
 */
#include "store/records.h"

#include "core/error.h"

#include <limits.h>
#include <stddef.h>
#include <lz4.h>
#include <stdio.h>

int tpc_records_read(const MDB_val *v, void *out, size_t size)
{
	/* a record of another size belongs to another schema or a damaged page */
	if (v->mv_size != size)
		return TPC_EDB;
	memcpy(out, v->mv_data, size);
	return 0;
}

void tpc_records_answer_header(const tpc_job_t *job, uint64_t committed_ms, tpc_answer_hdr_t *h)
{
	/* zeroed first: the padding and the unused tails of the names are stored bytes too, and
	 * two stores of one answer must be byte-identical */
	memset(h, 0, sizeof(*h));
	h->magic = TPC_ANSWER_MAGIC;
	h->flags = job->stored ? TPC_ANSWER_LZ4 : 0;
	h->result_len = (uint32_t)job->result_len;
	h->native_len = job->native.ptr ? (uint32_t)job->native.len : 0;
	memcpy(h->native_type, job->native.type, sizeof(h->native_type));
	memcpy(h->hash, job->hash, TPC_HASH_LEN);
	h->committed_ms = committed_ms;
	h->sequence = job->sequence;
	h->received_ms = job->received_ms;
	h->validated_ms = job->validated_ms;
	snprintf(h->sender, sizeof(h->sender), "%s", job->sender);
	snprintf(h->key, sizeof(h->key), "%s", job->key);
	snprintf(h->format, sizeof(h->format), "%s", job->adapter ? job->adapter->name : "");
}

size_t tpc_records_answer_size(const tpc_job_t *job)
{
	size_t native = job->native.ptr ? job->native.len : 0;

	/* the worker's LZ4 block replaces both raw parts when it compressed them */
	return sizeof(tpc_answer_hdr_t) +
	       (job->stored ? job->stored_len : job->result_len + native);
}

void tpc_records_answer_encode(const tpc_job_t *job, const tpc_answer_hdr_t *h, void *out)
{
	uint8_t *p = out;

	memcpy(p, h, sizeof(*h));
	p += sizeof(*h);
	if (job->stored) {
		memcpy(p, job->stored, job->stored_len);
		return;
	}
	if (h->result_len)
		memcpy(p, job->result, h->result_len);
	if (h->native_len)
		memcpy(p + h->result_len, job->native.ptr, h->native_len);
}

int tpc_records_answer_header_read(const void *value, size_t size, tpc_answer_hdr_t *h)
{
	/* copied out, not cast: LMDB aligns values on two bytes only, and the header has u64s */
	if (size < sizeof(*h))
		return TPC_EDB;
	memcpy(h, value, sizeof(*h));
	if (h->magic != TPC_ANSWER_MAGIC)
		return TPC_EDB;
	/* the names are written with snprintf, but a damaged value must not run off its end */
	h->sender[sizeof(h->sender) - 1] = h->key[sizeof(h->key) - 1] = 0;
	h->format[sizeof(h->format) - 1] = 0;
	return 0;
}

int tpc_records_answer_decode(const void *value, size_t size, tpc_arena_t *arena, tpc_stored_t *out)
{
	tpc_answer_hdr_t h;
	const uint8_t *p = value;
	size_t raw;
	uint8_t *copy;

	if (size < sizeof(h))
		return TPC_EDB;
	memcpy(&h, p, sizeof(h));
	raw = (size_t)h.result_len + (size_t)h.native_len;
	/* an uncompressed value must be exactly header + parts; a compressed one is checked by
	 * the decompressor, which must produce exactly the raw size */
	/* raw > INT_MAX: LZ4's sizes are ints, so a damaged length must not reach the cast below */
	if (h.magic != TPC_ANSWER_MAGIC ||
	    (!(h.flags & TPC_ANSWER_LZ4) && sizeof(h) + raw != size) || raw > INT_MAX)
		return TPC_EDB;
	copy = tpc_arena_alloc(arena, raw + 1, 8);
	if (!copy)
		return TPC_ENOMEM;
	if (!(h.flags & TPC_ANSWER_LZ4))
		memcpy(copy, p + sizeof(h), raw);
	/* _safe: the input is bytes from disk, and never writes past raw whatever they say */
	else if (LZ4_decompress_safe((const char *)p + sizeof(h), (char *)copy,
	                             (int)(size - sizeof(h)), (int)raw) != (int)raw)
		return TPC_EDB;
	/* the pointers go into the arena copy, never into LMDB's page: the caller keeps them
	 * after its transaction ends */
	out->sequence = h.sequence;
	out->committed_ms = h.committed_ms;
	memcpy(out->hash, h.hash, TPC_HASH_LEN);
	out->result = copy;
	out->result_len = h.result_len;
	out->native.ptr = h.native_len ? copy + h.result_len : NULL;
	out->native.len = h.native_len;
	memcpy(out->native.type, h.native_type, sizeof(out->native.type));
	out->native.type[sizeof(out->native.type) - 1] = 0;
	return 0;
}

void tpc_records_line_encode(const tpc_sending_t *s, uint32_t line, uint32_t invoice,
                             tpc_line_rec_t *out)
{
	const tpc_line_t *ln = &s->lines[line];
	int accepted = ln->outcome == TPC_OUTCOME_ACCEPTED;

	/* zeroed first: padding and the unused finding slots are stored bytes too */
	memset(out, 0, sizeof(*out));
	memcpy(out->code, ln->code, 6); /* 6 digits, stored without the NUL */
	out->outcome = ln->outcome;
	out->nfindings = ln->nfindings;
	out->date_first = ln->date_first;
	out->units = ln->units;
	out->invoice = invoice;
	out->record = ln->record;
	/* no invoice to read the mutuality from when the sending has none (invoices[] unset) */
	if (s->ninvoices)
		memcpy(out->mutuality, s->invoices[invoice].mutuality, 3);
	out->account = ln->account;
	out->scheme = (uint8_t)ln->scheme;
	/* a refused line charges no budget: statements and settlements skip it by this */
	out->budget = accepted ? ln->budget : 0;
	out->share_budget = accepted ? ln->share_budget : 0;
	out->insurer_cents = ln->insurer_cents;
	out->patient_cents = ln->patient_cents;
	out->expected_insurer_cents = ln->expected_insurer_cents;
	out->expected_patient_cents = ln->expected_patient_cents;
	out->accepted_cents = ln->accepted_cents;
	/* the fixed 96-byte record keeps "up to three finding codes" (docs/ledger.md); nfindings
	 * above still says how many the line had */
	for (int f = 0; f < ln->nfindings && f < 3; f++)
		memcpy(out->finding[f], ln->findings[f].code, 6);
}

/* ---- scheme references ---------------------------------------------------------------------- */

/* Schema 3 kept the reference in a 33-byte array: a Fedasil structure of 40 characters was
 * refused at load because it could not be stored. Now the reference follows the head, as long
 * as it is; this record is read back as it was written. */
struct scheme_ref_v3 {
	uint8_t scheme;
	uint8_t pad[3];
	char ref[33];
	char org[11];
};
_Static_assert(sizeof(struct scheme_ref_v3) == 48, "schema 3 layout");

size_t tpc_records_scheme_ref_size(const char *ref)
{
	return sizeof(tpc_scheme_ref_t) + strlen(ref) + 1;
}

void tpc_records_scheme_ref_encode(unsigned scheme, const char *ref, const char *org, void *out)
{
	tpc_scheme_ref_t h;
	size_t n = strlen(ref);

	/* zeroed: the unused tail of org is stored bytes too */
	memset(&h, 0, sizeof(h));
	h.scheme = (uint8_t)scheme;
	h.layout = TPC_SCHEME_REF_LAYOUT;
	h.ref_len = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	if (org)
		snprintf(h.org, sizeof(h.org), "%s", org);
	memcpy(out, &h, sizeof(h));
	memcpy((char *)out + sizeof(h), ref, n + 1);
}

int tpc_records_scheme_ref_read(const MDB_val *v, tpc_scheme_ref_view_t *out)
{
	const char *b = v->mv_data;
	tpc_scheme_ref_t h;

	/* schema 3: 48 bytes, whose second byte (padding) was always 0 */
	if (v->mv_size == sizeof(struct scheme_ref_v3) && b[1] == 0) {
		const struct scheme_ref_v3 *o = v->mv_data; /* char arrays: any alignment */

		if (!memchr(o->ref, 0, sizeof(o->ref)) || !memchr(o->org, 0, sizeof(o->org)))
			return TPC_EDB;
		out->scheme = (uint8_t)b[0];
		out->ref = o->ref;
		out->org = o->org;
		return 0;
	}
	if (v->mv_size < sizeof(h) + 1)
		return TPC_EDB;
	memcpy(&h, b, sizeof(h));
	if (h.layout != TPC_SCHEME_REF_LAYOUT || v->mv_size != sizeof(h) + h.ref_len + 1u ||
	    b[v->mv_size - 1] != 0 || !memchr(h.org, 0, sizeof(h.org)))
		return TPC_EDB;
	out->scheme = h.scheme;
	out->ref = b + sizeof(h);
	out->org = b + offsetof(tpc_scheme_ref_t, org);
	return 0;
}
