/* engine/pipeline/admission.c - admission of sendings by the time their work waits (see
 * admission.h).
 *
 * DESIGN: the rate is bytes answered over busy time, per window. A window closes at the first
 * answer once it spans ADMISSION_WINDOW_US and held something in flight for at least
 * ADMISSION_MIN_BUSY_US; its rate is folded into a moving average (weight 1/4, so a change of
 * the engine's pace shows within a few windows, and one odd window moves the bound by a
 * quarter). Busy time, not wall time: between bursts nothing is answered because nothing was
 * sent, and counting that as slowness would shrink the bound just when a burst arrives. The
 * least busy time keeps a window of a few instant answers (replays: a stored answer, no
 * clearing) from reading as an engine of unbounded speed.
 * Integer arithmetic throughout: bytes and microseconds fit in 64 bits with room (a rate of
 * 2^40 bytes/s times the longest delay, 600,000 ms, is under 2^60).
 */
#include "pipeline/admission.h"

#include "core/error.h"

#include <stdlib.h>

#define ADMISSION_WINDOW_US   100000u             /* a rate is measured over 100 ms at least */
#define ADMISSION_MIN_BUSY_US 10000u              /* ... of which 10 ms with something in flight */
#define ADMISSION_RATE_MAX    ((uint64_t)1 << 40) /* 1 TiB/s: no engine answers faster */
#define RETRY_MAX_MS          600000u             /* config.c's ceiling for retry_after_ms */

struct tpc_admission {
	uint64_t delay_ms;   /* the target: what a new sending may wait behind the others */
	size_t floor, cap;   /* the bound's range, bytes */
	size_t in_flight;    /* payload bytes taken and not given back */
	uint64_t rate;       /* bytes per second of busy time, averaged; 0 = none yet */
	int started;         /* a window is open (the first take opened it) */
	uint64_t win_start;  /* when the window opened, us */
	uint64_t win_bytes;  /* bytes answered in it */
	uint64_t win_idle;   /* us of it with nothing in flight */
	uint64_t idle_since; /* when in_flight last fell to 0 (valid while it is 0) */
};

/* ---- public API ---------------------------------------------------------------------------- */

int tpc_admission_new(uint32_t delay_ms, size_t floor, size_t cap, tpc_admission_t **out)
{
	tpc_admission_t *a;

	*out = NULL;
	if (cap == 0)
		return TPC_EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return TPC_ENOMEM;
	a->delay_ms = delay_ms;
	a->cap = cap;
	/* a cap under the floor (a small max_payload_in_flight) is the operator's memory limit:
	 * it wins */
	a->floor = floor < cap ? floor : cap;
	*out = a;
	return 0;
}

void tpc_admission_free(tpc_admission_t **a)
{
	if (!a || !*a)
		return;
	free(*a);
	*a = NULL;
}

size_t tpc_admission_bound(const tpc_admission_t *a)
{
	uint64_t b;

	if (a->delay_ms == 0)
		return a->cap; /* no bound in time: the memory cap alone */
	if (a->rate == 0)
		return a->floor; /* nothing measured yet: enough to fill the pipeline, no more */
	b = a->rate * a->delay_ms / 1000u;
	if (b < a->floor)
		return a->floor;
	return b > a->cap ? a->cap : (size_t)b;
}

int tpc_admission_take(tpc_admission_t *a, size_t len, uint64_t now_us)
{
	/* "at the bound", not "would pass it": see admission.h */
	if (a->in_flight >= tpc_admission_bound(a))
		return TPC_EAGAIN;
	if (!a->started) {
		a->started = 1;
		a->win_start = now_us;
	} else if (a->in_flight == 0 && now_us > a->idle_since) {
		a->win_idle += now_us - a->idle_since; /* the idle period ends here */
	}
	a->in_flight += len;
	return 0;
}

/* Close the window when it is long enough, folding its rate into the average. */
static void close_window(tpc_admission_t *a, uint64_t now_us)
{
	uint64_t span = now_us > a->win_start ? now_us - a->win_start : 0;
	uint64_t busy = span > a->win_idle ? span - a->win_idle : 0, r;

	if (span < ADMISSION_WINDOW_US || busy < ADMISSION_MIN_BUSY_US)
		return;
	r = a->win_bytes * 1000000u / busy; /* win_bytes < 2^40 in any real window */
	if (r > ADMISSION_RATE_MAX)
		r = ADMISSION_RATE_MAX;
	if (a->rate == 0)
		a->rate = r; /* the first measurement is taken as it is */
	else if (r >= a->rate)
		a->rate += (r - a->rate) / 4;
	else
		a->rate -= (a->rate - r) / 4;
	if (a->rate == 0)
		a->rate = 1; /* measured, if very slow: keep "measured" distinct from "none yet" */
	a->win_start = now_us;
	a->win_bytes = 0;
	a->win_idle = 0;
}

void tpc_admission_done(tpc_admission_t *a, size_t len, int answered, uint64_t now_us)
{
	if (len == 0)
		return;
	a->in_flight -= len < a->in_flight ? len : a->in_flight;
	if (answered) {
		a->win_bytes += len;
		close_window(a, now_us);
	}
	if (a->in_flight == 0)
		a->idle_since = now_us;
}

size_t tpc_admission_in_flight(const tpc_admission_t *a)
{
	return a->in_flight;
}

uint64_t tpc_admission_rate(const tpc_admission_t *a)
{
	return a->rate;
}

uint64_t tpc_admission_delay_ms(const tpc_admission_t *a)
{
	if (a->in_flight == 0)
		return 0;
	/* no rate yet: the floor is taken as what drains in the target delay */
	if (a->rate == 0)
		return (uint64_t)a->in_flight * a->delay_ms / (a->floor ? a->floor : 1);
	return (uint64_t)a->in_flight * 1000u / a->rate;
}

uint32_t tpc_admission_retry_ms(const tpc_admission_t *a, uint32_t least_ms)
{
	uint64_t d = tpc_admission_delay_ms(a);

	if (d < least_ms)
		d = least_ms;
	return d > RETRY_MAX_MS ? RETRY_MAX_MS : (uint32_t)d;
}
