/* adapters/adapter.h - the one versioned adapter descriptor, and the sending model it fills.
 *
 * An adapter turns a sender's bytes into a tpc_sending_t (decode) and the engine's verdicts back
 * into the sender's native answer format (encode_answer). Built-in adapters (adapters/registry.c)
 * and plugins (a .so in the configured adapter directory, loaded with dlopen) use the same
 * descriptor and pass the same checks: ABI number, a non-empty unique name, every callback set.
 *
 * A plugin exports exactly one symbol, a const tpc_adapter_t named "tpc_adapter":
 *
 *     TPC_ADAPTER_EXPORT const tpc_adapter_t tpc_adapter = {
 *             .abi = TPC_ADAPTER_ABI, .name = "myformat", .init = ..., .decode = ...,
 *             .encode_answer = ..., .describe = ..., .fini = ... };
 *
 * Threads: init and fini run once, on the main thread, before and after every other call.
 * decode, encode_answer and describe run concurrently on worker threads (and encode_answer of a
 * receipt on the loop thread): they must be reentrant and treat the state as read-only.
 *
 * Memory: an adapter never calls malloc on the per-sending path. Every structure it returns
 * (arrays of invoices and lines, findings, answer bytes) comes from host->alloc, a bump arena
 * owned by the engine and released in one go after the sending's result is committed. Views
 * (tpc_view_t) point into the received payload, which outlives the sending's processing.
 *
 * Bump TPC_ADAPTER_ABI on any change to a struct or a signature in this file, and say below
 * what changed: the registry refuses a plugin of any other ABI and names the change in its log.
 *
 * ABI history:
 *  - 3: encode_settlement() reads the stored result answer only.
 *  - 4: encode_settlement() also gets the sending's payload as received (the ledger keeps it
 *       in "payloads" since this ABI; NULL for a sending stored before), so a settlement can
 *       echo the records it settles; tpc_sending_t.refused_share, which ABI 3 engines had
 *       already taken from reserved bytes without a bump (a plugin of ABI 3 read 0 there), is
 *       part of this ABI.
 *  - 5: tpc_host_t.alloc_uninit, appended: memory that is not zeroed, for a buffer the
 *       adapter writes whole (an answer's echo). Use it through tpc_host_alloc_uninit(), which
 *       falls back to alloc when a host leaves it NULL. An ABI 4 plugin never reads the new
 *       field, so the registry still loads it (TPC_ADAPTER_ABI_MIN).
 *
 * DESIGN (adapters/): the formats senders speak, at the edge of the engine.
 *  - Owns: this descriptor and sending model, the registry (registry.c: built-ins and
 *    plugins), the eFact adapter (efact/: decode, answers, settlements, codes), canonical/
 *    (tpclear's own protobuf format), eattest/ (electronic attestations) and common/ (check
 *    digits, dates, protobuf helpers shared by the adapters).
 *  - Threads: as above; the registry is built on the main thread and read-only afterwards.
 *  - Never: an adapter never judges amounts against reference data or the ledger (that is
 *    engine/clearing/'s), never allocates outside host->alloc on the per-sending path, and
 *    reaches into engine/ no further than engine/core/error.h (built-ins only: a plugin is
 *    built against this file alone).
 */
#ifndef TPC_ADAPTER_H
#define TPC_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI of this header. A descriptor outside TPC_ADAPTER_ABI_MIN..TPC_ADAPTER_ABI is refused at
 *  load time. */
#define TPC_ADAPTER_ABI 5u

/** The oldest ABI still loaded: every change since it only appended to tpc_host_t, which the
 *  engine allocates and an older adapter reads no further than it knew. */
#define TPC_ADAPTER_ABI_MIN 4u

/** Mark the descriptor of a plugin built with -fvisibility=hidden. */
#define TPC_ADAPTER_EXPORT __attribute__((visibility("default")))

/** A borrowed slice of the payload (not NUL-terminated). len 0 means absent. */
typedef struct tpc_view {
	const char *ptr;
	uint32_t len;
} tpc_view_t;

/** Outcome of a line, an invoice or a sending. */
enum tpc_outcome {
	TPC_OUTCOME_PENDING = 0,  /* not judged yet */
	TPC_OUTCOME_ACCEPTED = 1, /* passes every check */
	TPC_OUTCOME_REFUSED = 2,  /* at least one finding refuses it */
};

/** One finding: an error code attached to a place in the payload.
 *
 * code is an official eFact code RRZZNN (efact-errors.md) where one fits, or one of tpclear's own
 * codes "Tnnnnn" (docs/errors.md), which never collide with official codes. letter is the official
 * severity: 'B' blocks the whole sending, 'F' refuses the invoice, 'R' refuses the line, 'E' and
 * 'S' are signals that do not refuse anything. */
typedef struct tpc_finding {
	char code[7];    /* NUL-terminated, 6 characters */
	char letter;     /* B, F, R, E or S */
	uint32_t record; /* 1-based ordinal of the record in the sending; 0 = file header */
	uint16_t pos;    /* 1-based position of the zone in the record; 0 = whole record */
	uint16_t len;    /* length of the zone; 0 = unknown */
} tpc_finding_t;

/** Most findings kept per line or invoice (eFact answers carry three per record). */
#define TPC_MAX_FINDINGS 3

/** One service line: one code, one date range, units and amounts (int64 cents). */
typedef struct tpc_line {
	uint32_t record;    /* ordinal of the record in the sending (eFact: sequence number) */
	uint32_t offset;    /* byte offset of the record in the payload */
	char code[8];       /* nomenclature code, 6 digits, NUL-terminated */
	int32_t date_first; /* days since 1970-01-01 */
	int32_t date_last;  /* days since 1970-01-01; == date_first for a single act */
	int32_t units;      /* signed: negative on a credit note */
	uint8_t account;    /* financial account: 0 = A, 1 = B */
	uint8_t outcome;    /* enum tpc_outcome, set by the engine */
	uint8_t nfindings;  /* used entries of findings[] */
	uint8_t reserved0;
	int64_t insurer_cents; /* insurer amount as invoiced */
	int64_t patient_cents; /* patient share as invoiced */
	int64_t supplement_cents;
	tpc_view_t performer;  /* NIHII (11 digits) of the provider who performed the act */
	tpc_view_t reference;  /* the sender's line reference, free text */
	tpc_view_t commitment; /* payment-commitment reference (eFact ET51), if any */
	/* verdict, filled by the engine */
	int64_t expected_insurer_cents;
	int64_t expected_patient_cents;
	int64_t accepted_cents; /* amount that will be paid for this line (0 when refused):
	                         * the insurer part, plus the patient share when share_budget */
	uint16_t scheme;        /* scheme that pays the line (engine enum), 0 = none */
	uint8_t budget;         /* budget charged with the insurer part (engine enum), 0 = none */
	uint8_t share_budget;   /* budget that also pays the patient share, 0 = the patient does */
	uint32_t reserved2;
	const char *scheme_ref;  /* the scheme's reference for the line (Mediprima decision, prison,
	                          * Fedasil structure...), engine memory; NULL = none */
	const char *scheme_org;  /* the institution behind it (Mediprima: the CPAS BCE), or NULL */
	int64_t real_cost_cents; /* care abroad: what the patient really paid (eAttest), else 0 */
	char country[4];         /* care abroad: ISO 3166 alpha-2 country, "" = Belgium */
	uint32_t reserved3;
	tpc_finding_t findings[TPC_MAX_FINDINGS];
} tpc_line_t;

/** Invoice kinds (eFact ET20 zone 10). */
enum tpc_invoice_kind {
	TPC_INVOICE_AMBULATORY = 0,
	TPC_INVOICE_HOSPITALISED = 1,
	TPC_INVOICE_PHARMACY = 2,
};

/** Invoicing types (eFact ET20 zone 11). */
enum tpc_invoicing_type {
	TPC_INVOICING_NORMAL = 0,
	TPC_INVOICING_CORRECTIVE = 1,
	TPC_INVOICING_CREDIT_NOTE = 3,
};

/** One invoice: one patient, one provider, a run of consecutive lines. */
typedef struct tpc_invoice {
	uint32_t record;             /* ordinal of the invoice header record */
	uint32_t offset;             /* byte offset of the invoice header */
	tpc_view_t patient;          /* NISS, 11 digits (leading zeros matter) */
	tpc_view_t provider;         /* invoicing provider NIHII, 11 digits */
	tpc_view_t number;           /* individual invoice number */
	tpc_view_t previous;         /* referenced invoice number (credit note, correction) */
	char mutuality[4];           /* destination mutuality, 3 digits */
	uint8_t kind;                /* enum tpc_invoice_kind */
	uint8_t invoicing;           /* enum tpc_invoicing_type */
	uint8_t sex;                 /* 1 male, 2 female, 0 unknown */
	uint8_t outcome;             /* enum tpc_outcome, set by the engine */
	int32_t admission;           /* days since epoch, 0 = none */
	int32_t discharge;           /* days since epoch, 0 = none */
	uint16_t ct1, ct2;           /* insurability codes as invoiced, 0 = none */
	int64_t total_insurer_cents; /* invoice trailer totals as invoiced */
	int64_t total_patient_cents;
	uint32_t first_line; /* index into tpc_sending_t.lines */
	uint32_t nlines;
	int64_t accepted_cents; /* set by the engine */
	int64_t refused_cents;  /* set by the engine */
	uint8_t nfindings;
	uint8_t reserved[7];
	tpc_finding_t findings[TPC_MAX_FINDINGS];
} tpc_invoice_t;

/** Whom a sending's accepted amounts are paid to. */
enum tpc_payee {
	TPC_PAYEE_THIRD_PARTY = 0, /* the invoicing provider (third-party payment) */
	TPC_PAYEE_PATIENT = 1,     /* the insured, who paid the provider (eAttest) */
};

/** A decoded sending. decode() fills the header part, invoices, lines and findings; the engine
 * fills outcomes and amounts. Sending-level findings (letter B, or any finding that does not
 * belong to one line or invoice, or overflows their three slots) go to findings[]. */
typedef struct tpc_sending {
	tpc_view_t reference;   /* the sender's 14-digit reference or other sending key */
	tpc_view_t third_party; /* NIHII of the invoicing third party */
	int32_t created;        /* creation date, days since epoch */
	uint32_t year_month;    /* invoiced period YYYYMM */
	uint32_t number;        /* sending number */
	uint32_t nrecords;      /* records read */
	tpc_invoice_t *invoices;
	uint32_t ninvoices;
	uint32_t nlines;
	tpc_line_t *lines;
	tpc_finding_t *findings;
	uint32_t nfindings;
	uint32_t findings_cap;
	int64_t total_cents; /* sending trailer total as invoiced (account A + B) */
	uint8_t blocked;     /* 1 when a blocking finding refuses the whole sending */
	uint8_t outcome;     /* enum tpc_outcome, set by the engine */
	uint8_t payee;       /* enum tpc_payee: whom the accepted amounts are paid to */
	uint8_t reserved0;
	uint16_t refused_share; /* set by the engine (clear.h): the refused share of the judged
	                         * insurer amount in hundredths of a percent, 0..10000, as the
	                         * refusal threshold judged it (before it refuses everything) */
	uint8_t reserved[2];
	int64_t accepted_cents; /* set by the engine */
	int64_t refused_cents;  /* set by the engine */
} tpc_sending_t;

/** Services the engine lends an adapter for one call. */
typedef struct tpc_host {
	/** Bump allocation from the sending's arena, aligned to @p align (a power of two).
	 *  @return zeroed memory valid until the sending is released, or NULL when the sending's
	 *          memory limit is reached (decode then returns TPC_ADAPTER_ETOOBIG). */
	void *(*alloc)(void *arena, size_t size, size_t align);
	void *arena;
	/** Upper bounds the adapter must enforce while decoding (0 = no bound). */
	uint32_t max_invoices;
	uint32_t max_lines;
	/** ABI 5: the same as alloc, but the memory is NOT zeroed: only for a buffer the adapter
	 *  writes whole before anyone reads it. May be NULL: call tpc_host_alloc_uninit(). */
	void *(*alloc_uninit)(void *arena, size_t size, size_t align);
} tpc_host_t;

/** Memory for a buffer written whole: host->alloc_uninit when the host lends it, host->alloc
 *  (zeroed) otherwise. @return as host->alloc. */
static inline void *tpc_host_alloc_uninit(const tpc_host_t *host, size_t size, size_t align)
{
	if (host->alloc_uninit)
		return host->alloc_uninit(host->arena, size, align);
	return host->alloc(host->arena, size, align);
}

/** Return codes an adapter may use (same values as the engine's TPC_E* codes). */
#define TPC_ADAPTER_OK      0
#define TPC_ADAPTER_ENOMEM  (-12) /* host->alloc failed */
#define TPC_ADAPTER_EINVAL  (-22) /* bad argument or configuration */
#define TPC_ADAPTER_ENOTSUP (-95) /* no native answer of that kind */
#define TPC_ADAPTER_ETOOBIG (-7)  /* a configured bound was exceeded (E2BIG) */

/** Kinds of native answers. */
enum tpc_answer_kind {
	TPC_ANSWER_RECEIPT = 0, /* at reception, before decoding (eFact 931000) */
	TPC_ANSWER_RESULT = 1,  /* after validation (eFact 920098 / 920099 / 920999) */
};

/** A native answer produced by encode_answer, in host memory. */
typedef struct tpc_blob {
	const uint8_t *ptr;
	size_t len;
	char type[16]; /* short name of the answer type, e.g. "931000"; used in file names */
} tpc_blob_t;

/** One line of a settlement: what one payment paid for one line of an earlier sending. */
typedef struct tpc_settled_line {
	uint32_t record;   /* ordinal of the line's record in the sending (tpc_line_t.record) */
	uint8_t account;   /* financial account: 0 = A, 1 = B */
	uint8_t outcome;   /* enum tpc_outcome the line was judged with */
	char mutuality[4]; /* destination mutuality of the line's invoice, 3 digits */
	uint8_t reserved[2];
	int64_t requested_cents; /* insurer amount as invoiced */
	int64_t accepted_cents;  /* amount accepted when the sending was judged (0 when refused) */
	int64_t paid_cents;      /* paid by this payment (0 when refused or paid by another one) */
} tpc_settled_line_t;

/** A settlement: one payment of a payment run, seen from one sending it pays lines of. Lines
 *  are every line of the sending, in sending order, so refused amounts can be reported. */
typedef struct tpc_settlement {
	const char *payment_reference; /* NUL-terminated, at most 22 characters */
	uint64_t run;                  /* payment run number */
	int32_t paid_on;               /* execution date, days since 1970-01-01 */
	uint32_t nlines;
	const tpc_settled_line_t *lines;
} tpc_settlement_t;

/** The adapter descriptor. */
typedef struct tpc_adapter {
	uint32_t abi;     /* must equal TPC_ADAPTER_ABI */
	const char *name; /* unique, [a-z0-9_-]{1,31}, e.g. "efact" */

	/** Build the adapter's read-only state.
	 *  @param[in]  config  the adapter's section of the configuration as "key=value\n" lines
	 *                      (borrowed; may be "" but never NULL).
	 *  @param[out] state   new state, owned by the adapter until fini(). May be set to NULL.
	 *  @return 0 or a negative TPC_ADAPTER_E* code. */
	int (*init)(const char *config, void **state);

	/** Decode and structurally validate @p buf into @p out (zeroed by the caller).
	 *  Findings never make decode fail: a structurally broken sending is returned with findings
	 *  (and blocked = 1 when nothing can be cleared).
	 *  @param[in]  buf   the payload (borrowed; outlives @p out). Views in @p out point into
	 * it.
	 *  @return 0, TPC_ADAPTER_ENOMEM or TPC_ADAPTER_ETOOBIG. */
	int (*decode)(const void *state, const uint8_t *buf, size_t len, const tpc_host_t *host,
	              tpc_sending_t *out);

	/** Encode a native answer of @p kind.
	 *  @param[in]  buf  the payload as received (borrowed).
	 *  @param[in]  s    the judged sending; NULL for TPC_ANSWER_RECEIPT.
	 *  @param[out] out  the answer, allocated with host->alloc.
	 *  @return 0, TPC_ADAPTER_ENOTSUP when the format has no such answer, or
	 * TPC_ADAPTER_ENOMEM. */
	int (*encode_answer)(const void *state, const uint8_t *buf, size_t len,
	                     const tpc_sending_t *s, enum tpc_answer_kind kind,
	                     const tpc_host_t *host, tpc_blob_t *out);

	/** A short human reason for one of the adapter's finding codes, or NULL if unknown.
	 *  @return a static string. */
	const char *(*describe)(const void *state, const char *code);

	/** Encode the native settlement answer (eFact 920900) of an earlier sending. May be NULL
	 *  for a format without one (its senders get the tpclear.Settlement message alone).
	 *  The engine keeps the payload of a sending only for the formats that have this
	 *  callback (docs/ledger.md, "payloads").
	 *  @param[in]  answer   the adapter's own TPC_ANSWER_RESULT bytes stored for the sending
	 *                       (eFact: the 920098 echo; borrowed)
	 *  @param[in]  payload  the sending as received, byte for byte (borrowed), or NULL (with
	 *                       @p payload_len 0) for a sending stored before the ledger kept
	 *                       payloads: the answer alone must then do
	 *  @param[in]  st       what the payment paid, per line (borrowed)
	 *  @param[out] out      the answer, allocated with host->alloc
	 *  @return 0, TPC_ADAPTER_EINVAL when @p answer is not one of the adapter's result answers
	 *          or @p payload is not the sending it answers, or TPC_ADAPTER_ENOMEM. */
	int (*encode_settlement)(const void *state, const uint8_t *answer, size_t len,
	                         const uint8_t *payload, size_t payload_len,
	                         const tpc_settlement_t *st, const tpc_host_t *host,
	                         tpc_blob_t *out);

	/** Release the state built by init(). Accepts NULL. */
	void (*fini)(void *state);
} tpc_adapter_t;

/** Record a finding on the sending (growing findings[] through host->alloc).
 *  Adapters and the engine share it (engine/clearing/tariff.c and clear.c add their own
 *  findings with it).
 *  @return 0 or TPC_ADAPTER_ENOMEM. */
static inline int tpc_sending_add_finding(tpc_sending_t *s, const tpc_host_t *host,
                                          const tpc_finding_t *f)
{
	if (s->nfindings == s->findings_cap) {
		uint32_t cap = s->findings_cap ? s->findings_cap * 2 : 16;
		tpc_finding_t *n = (tpc_finding_t *)host->alloc(host->arena, cap * sizeof(*n),
		                                                _Alignof(tpc_finding_t));
		if (!n)
			return TPC_ADAPTER_ENOMEM;
		for (uint32_t i = 0; i < s->nfindings; i++)
			n[i] = s->findings[i];
		s->findings = n;
		s->findings_cap = cap;
	}
	s->findings[s->nfindings++] = *f;
	return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* TPC_ADAPTER_H */
