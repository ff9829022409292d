/* tests/unit/pipeline/test_admission.c - the overload bound in time (pipeline/admission.h): the
 * rate measured over busy time, the bound between its floor and cap, a sending larger than the
 * bound, no rate yet, odd rates, the retry hint. */
#include <criterion/criterion.h>

#include "core/error.h"
#include "pipeline/admission.h"

#define MIB   ((size_t)1 << 20)
#define MS    1000u /* us */
#define T0    1000000000u
#define CAP   (64 * MIB)
#define FLOOR (8 * MIB)

static tpc_admission_t *make(uint32_t delay_ms, size_t floor, size_t cap)
{
	tpc_admission_t *a = NULL;

	cr_assert_eq(tpc_admission_new(delay_ms, floor, cap, &a), 0);
	cr_assert_not_null(a);
	return a;
}

/* One sending of @p len bytes taken at @p t and answered @p took_us later: @return its end. */
static uint64_t one(tpc_admission_t *a, size_t len, uint64_t t, uint64_t took_us)
{
	cr_assert_eq(tpc_admission_take(a, len, t), 0);
	tpc_admission_done(a, len, 1, t + took_us);
	return t + took_us;
}

Test(admission, bad_arguments_are_refused)
{
	tpc_admission_t *a = (tpc_admission_t *)1;

	cr_assert_eq(tpc_admission_new(250, FLOOR, 0, &a), TPC_EINVAL);
	cr_assert_null(a);
	tpc_admission_free(&a); /* NULL-safe */
	tpc_admission_free(NULL);
}

Test(admission, with_no_rate_yet_the_bound_is_the_floor)
{
	tpc_admission_t *a = make(250, FLOOR, CAP);

	cr_assert_eq(tpc_admission_rate(a), 0);
	cr_assert_eq(tpc_admission_bound(a), FLOOR);
	cr_assert_eq(tpc_admission_delay_ms(a), 0, "nothing in flight, nothing to wait for");
	cr_assert_eq(tpc_admission_take(a, 5 * MIB, T0), 0);
	cr_assert_eq(tpc_admission_take(a, 5 * MIB, T0), 0, "under the floor: taken");
	cr_assert_eq(tpc_admission_in_flight(a), 10 * MIB);
	cr_assert_eq(tpc_admission_take(a, 1, T0), TPC_EAGAIN, "at the floor: busy");
	/* the floor is taken as what drains in the delay target: 10 of 8 MiB = 312 ms */
	cr_assert_eq(tpc_admission_delay_ms(a), 312);
	tpc_admission_free(&a);
	cr_assert_null(a);
}

Test(admission, a_sending_larger_than_the_bound_gets_in_when_nothing_is_in_flight)
{
	tpc_admission_t *a = make(250, FLOOR, CAP);

	cr_assert_eq(tpc_admission_take(a, 1 * MIB, T0), 0);
	cr_assert_eq(tpc_admission_take(a, 500 * MIB, T0), 0,
	             "under the bound: taken whatever its size, past the cap too");
	cr_assert_eq(tpc_admission_take(a, 1, T0), TPC_EAGAIN);
	tpc_admission_done(a, 1 * MIB, 1, T0 + 5 * MS);
	cr_assert_eq(tpc_admission_take(a, 1, T0 + 5 * MS), TPC_EAGAIN, "still over the bound");
	tpc_admission_done(a, 500 * MIB, 1, T0 + 2000 * MS);
	cr_assert_eq(tpc_admission_in_flight(a), 0);
	cr_assert_eq(tpc_admission_take(a, 500 * MIB, T0 + 2000 * MS), 0, "alone: always taken");
	tpc_admission_free(&a);
}

Test(admission, the_bound_is_the_rate_answered_times_the_delay)
{
	tpc_admission_t *a = make(250, FLOOR, 1024 * MIB);

	/* 40 MiB answered in 100 ms of busy time: 400 MiB/s, 250 ms of it is 100 MiB */
	one(a, 40 * MIB, T0, 100 * MS);
	cr_assert_eq(tpc_admission_rate(a), 400 * MIB);
	cr_assert_eq(tpc_admission_bound(a), 100 * MIB);
	cr_assert_eq(tpc_admission_take(a, 60 * MIB, T0 + 200 * MS), 0);
	cr_assert_eq(tpc_admission_delay_ms(a), 150, "60 MiB at 400 MiB/s");
	cr_assert_eq(tpc_admission_take(a, 39 * MIB, T0 + 200 * MS), 0);
	cr_assert_eq(tpc_admission_take(a, 1 * MIB, T0 + 200 * MS), 0, "just under: taken");
	cr_assert_eq(tpc_admission_take(a, 1, T0 + 200 * MS), TPC_EAGAIN);
	tpc_admission_free(&a);
}

Test(admission, the_bound_stays_between_its_floor_and_its_cap)
{
	tpc_admission_t *a = make(250, FLOOR, CAP);

	one(a, 1000 * MIB, T0, 100 * MS); /* 10 GiB/s x 250 ms: far above the cap */
	cr_assert_eq(tpc_admission_bound(a), CAP);
	tpc_admission_free(&a);
	a = make(250, FLOOR, CAP);
	one(a, 1, T0, 1000 * MS); /* 1 byte/s: measured, and very slow */
	cr_assert_eq(tpc_admission_rate(a), 1);
	cr_assert_eq(tpc_admission_bound(a), FLOOR, "never under the floor");
	tpc_admission_free(&a);
	/* a cap under the floor is the operator's memory limit: it wins */
	a = make(250, FLOOR, 1 * MIB);
	cr_assert_eq(tpc_admission_bound(a), 1 * MIB);
	tpc_admission_free(&a);
}

Test(admission, a_delay_of_zero_leaves_the_cap_alone)
{
	tpc_admission_t *a = make(0, FLOOR, CAP);

	cr_assert_eq(tpc_admission_bound(a), CAP);
	one(a, 1 * MIB, T0, 100 * MS);
	cr_assert_eq(tpc_admission_bound(a), CAP);
	tpc_admission_free(&a);
}

Test(admission, idle_time_is_not_slowness)
{
	tpc_admission_t *a = make(250, FLOOR, 1024 * MIB);
	uint64_t t;

	/* 20 MiB in 50 ms, ten seconds of nothing, 20 MiB in 50 ms: 400 MiB/s, not 4 */
	t = one(a, 20 * MIB, T0, 50 * MS);
	t = one(a, 20 * MIB, t + 10000 * MS, 50 * MS);
	cr_assert_eq(tpc_admission_rate(a), 400 * MIB);
	tpc_admission_free(&a);
}

Test(admission, a_short_or_empty_window_measures_nothing)
{
	tpc_admission_t *a = make(250, FLOOR, CAP);

	/* answered at once (a replay): under 10 ms of busy time, no rate from it */
	one(a, 30 * MIB, T0, 1 * MS);
	one(a, 30 * MIB, T0 + 200 * MS, 1 * MS);
	cr_assert_eq(tpc_admission_rate(a), 0);
	cr_assert_eq(tpc_admission_bound(a), FLOOR);
	/* taken then refused (a full job queue): its bytes leave, they were not answered */
	cr_assert_eq(tpc_admission_take(a, 4 * MIB, T0 + 300 * MS), 0);
	tpc_admission_done(a, 4 * MIB, 0, T0 + 400 * MS);
	cr_assert_eq(tpc_admission_in_flight(a), 0);
	cr_assert_eq(tpc_admission_rate(a), 0);
	tpc_admission_done(a, 0, 1, T0 + 500 * MS); /* nothing: no effect */
	cr_assert_eq(tpc_admission_in_flight(a), 0);
	tpc_admission_free(&a);
}

Test(admission, the_rate_follows_the_engine_by_quarters)
{
	tpc_admission_t *a = make(250, FLOOR, 1024 * MIB);
	uint64_t t;

	t = one(a, 40 * MIB, T0, 100 * MS); /* 400 MiB/s */
	t = one(a, 8 * MIB, t, 100 * MS);   /* 80 MiB/s: a quarter of the way down */
	cr_assert_eq(tpc_admission_rate(a), 320 * MIB);
	one(a, 72 * MIB, t, 100 * MS); /* 720 MiB/s: a quarter of the way up */
	cr_assert_eq(tpc_admission_rate(a), 420 * MIB);
	tpc_admission_free(&a);
}

Test(admission, the_retry_hint_is_the_time_to_answer_what_is_in_flight)
{
	tpc_admission_t *a = make(250, FLOOR, 1024 * MIB);

	cr_assert_eq(tpc_admission_retry_ms(a, 200), 200, "nothing in flight: the least hint");
	one(a, 40 * MIB, T0, 100 * MS); /* 400 MiB/s */
	cr_assert_eq(tpc_admission_take(a, 120 * MIB, T0 + 200 * MS), 0);
	cr_assert_eq(tpc_admission_retry_ms(a, 200), 300, "120 MiB at 400 MiB/s");
	cr_assert_eq(tpc_admission_retry_ms(a, 500), 500, "never under the configured hint");
	tpc_admission_free(&a);
	/* a very slow engine: the hint stops at config.c's ceiling */
	a = make(250, FLOOR, CAP);
	one(a, 1, T0, 1000 * MS);
	cr_assert_eq(tpc_admission_take(a, 1 * MIB, T0 + 2000 * MS), 0);
	cr_assert_eq(tpc_admission_retry_ms(a, 200), 600000);
	tpc_admission_free(&a);
}
