/* engine/core/crashpoint.c - see crashpoint.h. Test builds only (TPC_CRASHPOINTS). */
#include "core/crashpoint.h"

#ifdef TPC_CRASHPOINTS
#include "core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The armed point, parsed once: the variable is the test's, set before the engine starts. */
static char armed[64];
static unsigned long armed_at;
static atomic_ulong passes;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void arm(void)
{
	const char *v = getenv("TPC_CRASHPOINT");
	const char *colon = v ? strrchr(v, ':') : NULL;
	size_t n;

	if (!colon || colon == v)
		return;
	n = (size_t)(colon - v);
	if (n >= sizeof(armed))
		return;
	memcpy(armed, v, n);
	armed[n] = 0;
	armed_at = strtoul(colon + 1, NULL, 10);
	/* loud on purpose: an engine that will kill itself must say so in its log */
	if (armed_at)
		tpc_warn("crash point armed: SIGKILL at pass %lu of '%s' (TPC_CRASHPOINT, a test "
		         "build)",
		         armed_at, armed);
}

void tpc_crashpoint_(const char *name)
{
	pthread_once(&once, arm);
	if (!armed_at || strcmp(name, armed) != 0)
		return;
	if (atomic_fetch_add(&passes, 1) + 1 == armed_at)
		raise(SIGKILL);
}
#else
/* ISO C wants a translation unit to declare something */
typedef int tpc_crashpoint_unused_t;
#endif
