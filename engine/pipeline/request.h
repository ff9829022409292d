/* engine/pipeline/request.h - the request types of the protocol, listed once.
 *
 * DESIGN: TPC_REQUEST_TYPES is X(id, name): id is the RequestType of proto/tpclear.proto without
 * its prefix (REQUEST_<id>), name the word the logs and refusal reasons use for it. Every switch
 * that names a request type expands this list, so a type added to the proto is named everywhere
 * at once; tests/unit/core/test_codes.c walks the proto's enum descriptor and fails if a type is
 * missing here (security.c's own switch had drifted: it named eattest "request"). Header only,
 * no state: any thread may call it.
 */
#ifndef TPC_REQUEST_H
#define TPC_REQUEST_H

#include "tpclear.pb-c.h"

/* In the proto's order, which is also the order of the enum values. */
#define TPC_REQUEST_TYPES(X)                                                                       \
	X(SUBMIT, "submit")                                                                        \
	X(QUERY, "query")                                                                          \
	X(PING, "ping")                                                                            \
	X(LOAD, "load")                                                                            \
	X(PAYRUN, "payrun")                                                                        \
	X(LEDGER, "ledger")                                                                        \
	X(EATTEST, "eattest")

/** Name of request type @p t for logs and reasons.
 *  @return a static string; "request" for a value the proto does not define. */
static inline const char *tpc_request_type_name(Tpclear__RequestType t)
{
	switch (t) {
#define X(id, name)                                                                                \
	case TPCLEAR__REQUEST_TYPE__REQUEST_##id:                                                  \
		return name;
		TPC_REQUEST_TYPES(X)
#undef X
	default:
		/* the type comes off the wire (open proto3 enum): any int may be named */
		return "request";
	}
}

#endif
