/* engine/security/senders.h - the senders registry: who may connect, and as whom they may bill.
 *
 * One entry per sender (docs/security.md): its CURVE public keys, its sender id, its kind, the
 * NIHII numbers it may bill as and the feeds (reference data kinds) it may send. The file is an
 * INI-like text, one section per sender:
 *
 *     [chu-exemple]
 *     kind  = hospital
 *     key   = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
 *     nihii = 18334780004 71000436000
 *     feeds =
 *
 * A tpc_senders_t is an immutable snapshot of one parse of that file. It is shared between
 * threads by reference counting only: whoever holds a reference may read every entry from any
 * thread without a lock, and nothing in it ever changes. A reload makes a new snapshot; the old
 * one is freed when its last holder (the ZAP thread, a job still in flight) lets go. Entries
 * (tpc_sender_t) live inside their snapshot and are valid exactly as long as it is referenced.
 */
#ifndef TPC_SENDERS_H
#define TPC_SENDERS_H

#include "security/keys.h"

#include <stddef.h>
#include <stdint.h>

#define TPC_SENDERS_ID_MAX   64          /* a sender id and its NUL (= TPC_SENDER_MAX, job.h) */
#define TPC_SENDERS_FEED_MAX 32          /* a feed name and its NUL */
#define TPC_SENDERS_FILE_MAX (16u << 20) /* largest registry file read */

/** Kinds of senders. */
enum tpc_sender_kind {
	TPC_SENDER_HOSPITAL = 0,
	TPC_SENDER_PHARMACIST = 1,
	TPC_SENDER_GP = 2,
	TPC_SENDER_CPAS = 3,    /* a public social welfare centre */
	TPC_SENDER_SPPIS = 4,   /* SPP Intégration sociale: Mediprima */
	TPC_SENDER_FEDASIL = 5, /* Fedasil: applicants for international protection */
	TPC_SENDER_JUSTICE = 6, /* SPF Justice: detention */
	TPC_SENDER_OPS = 7,     /* the insurer's own operations: payment runs, ledger, any feed */
	TPC_SENDER__COUNT
};

typedef struct tpc_senders tpc_senders_t;
typedef struct tpc_sender tpc_sender_t;

/** Parse registry text. Every error is refused with its place, so a bad file never becomes a
 *  half registry.
 *  @param[in]  name  the file name used in messages (borrowed)
 *  @param[out] out   new snapshot with one reference, owned by the caller (tpc_senders_unref)
 *  @param[out] err   on failure, "NAME:LINE: reason" (the first error in the file)
 *  @return 0, TPC_EINVAL (bad content) or TPC_ENOMEM. */
int tpc_senders_parse(const char *name, const char *text, size_t len, tpc_senders_t **out,
                      char *err, size_t errlen);

/** Read and parse the file @p path (at most TPC_SENDERS_FILE_MAX bytes). Blocking I/O.
 *  @return 0, TPC_ENOENT (no such file), TPC_EINVAL, TPC_E2BIG or TPC_ENOMEM; @p err says why. */
int tpc_senders_load(const char *path, tpc_senders_t **out, char *err, size_t errlen);

/** Take one more reference (any thread). @return @p s. */
tpc_senders_t *tpc_senders_ref(tpc_senders_t *s);

/** Drop a reference and set *@p s to NULL; the last one frees the snapshot. NULL-safe, any
 *  thread. */
void tpc_senders_unref(tpc_senders_t **s);

/** Number of senders. */
size_t tpc_senders_count(const tpc_senders_t *s);

/** The @p i-th sender in file order (i < count). */
const tpc_sender_t *tpc_senders_at(const tpc_senders_t *s, size_t i);

/** The sender that owns the CURVE public key @p key (32 bytes), or NULL. O(log n). */
const tpc_sender_t *tpc_senders_by_key(const tpc_senders_t *s, const uint8_t key[TPC_KEY_BYTES]);

/** The sender with id @p id, or NULL. O(log n). */
const tpc_sender_t *tpc_senders_by_id(const tpc_senders_t *s, const char *id);

/** Accessors of an entry (valid while its snapshot is referenced). */
const char *tpc_sender_id(const tpc_sender_t *e);
enum tpc_sender_kind tpc_sender_kind(const tpc_sender_t *e);
size_t tpc_sender_nihii_count(const tpc_sender_t *e);
const char *tpc_sender_nihii_at(const tpc_sender_t *e, size_t i); /* sorted, 11 digits */
size_t tpc_sender_feed_count(const tpc_sender_t *e);
unsigned tpc_sender_line(const tpc_sender_t *e); /* line of its [section] */

/** May @p e bill as the NIHII @p nihii (@p len bytes, not NUL-terminated)? O(log n). */
int tpc_sender_may_bill(const tpc_sender_t *e, const char *nihii, size_t len);

/** May @p e send the feed (reference data kind) @p feed? */
int tpc_sender_may_feed(const tpc_sender_t *e, const char *feed);

/** Name of a kind ("hospital"...). */
const char *tpc_sender_kind_name(enum tpc_sender_kind k);

/** Kind by name. @return 0 or TPC_EINVAL. */
int tpc_sender_kind_by_name(const char *name, enum tpc_sender_kind *out);

/** The kind of sender that sends feed @p feed besides ops (mediprima: sppis; fedasil and
 *  fedasil_exclusions: fedasil; detention: justice), or TPC_SENDER_OPS when only ops may
 *  (the insurer's own reference data). */
enum tpc_sender_kind tpc_senders_feed_owner(const char *feed);

#endif /* TPC_SENDERS_H */
