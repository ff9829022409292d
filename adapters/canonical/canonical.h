/* adapters/canonical/canonical.h - the built-in "canonical" adapter.
 *
 * The canonical format is a tpclear.CanonicalSending protobuf message (proto/tpclear.proto):
 * the sending as tpclear models it, for tests and for senders that do not speak eFact. It has
 * no native answers: the Result of the wire contract is its answer.
 */
#ifndef TPC_CANONICAL_H
#define TPC_CANONICAL_H

#include "adapter.h"

/** The descriptor, registered by adapters/registry.c. */
extern const tpc_adapter_t tpc_canonical_adapter;

#endif
