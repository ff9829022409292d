/* tests/unit/security/test_inflight.c - requests in flight per sender (engine/security/inflight.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "core/error.h"
#include "security/inflight.h"

TestSuite(inflight, .timeout = 30);

Test(inflight, each_sender_is_bounded_on_its_own)
{
	tpc_inflight_t *t = NULL;

	cr_assert_eq(tpc_inflight_new(3, &t), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tpc_inflight_take(t, "a"), 1);
	cr_assert_eq(tpc_inflight_take(t, "a"), TPC_EAGAIN, "a is at its bound");
	cr_assert_eq(tpc_inflight_take(t, "b"), 1, "b is not held up by a");
	cr_assert_eq(tpc_inflight_count(t, "a"), 3);
	tpc_inflight_release(t, "a");
	cr_assert_eq(tpc_inflight_take(t, "a"), 1, "room again once one is answered");
	cr_assert_eq(tpc_inflight_senders(t), 2);
	for (int i = 0; i < 3; i++)
		tpc_inflight_release(t, "a");
	tpc_inflight_release(t, "b");
	cr_assert_eq(tpc_inflight_senders(t), 0, "entries go when their count does");
	cr_assert_eq(tpc_inflight_count(t, "a"), 0);
	tpc_inflight_free(&t);
	cr_assert_null(t);
	tpc_inflight_free(&t);
}

Test(inflight, memory_follows_the_requests_not_the_ids)
{
	tpc_inflight_t *t = NULL;
	char id[32];

	cr_assert_eq(tpc_inflight_new(1, &t), 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 5000; i++) {
			snprintf(id, sizeof(id), "s%d-%d", round, i);
			cr_assert_eq(tpc_inflight_take(t, id), 1);
		}
		cr_assert_eq(tpc_inflight_senders(t), 5000);
		for (int i = 0; i < 5000; i++) {
			snprintf(id, sizeof(id), "s%d-%d", round, i);
			tpc_inflight_release(t, id);
		}
		cr_assert_eq(tpc_inflight_senders(t), 0);
	}
	tpc_inflight_free(&t);
}

Test(inflight, a_zero_bound_counts_nothing)
{
	tpc_inflight_t *t = NULL;

	cr_assert_eq(tpc_inflight_new(0, &t), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(tpc_inflight_take(t, "a"), 0);
	cr_assert_eq(tpc_inflight_senders(t), 0);
	tpc_inflight_free(&t);
}
