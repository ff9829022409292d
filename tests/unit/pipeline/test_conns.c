/* tests/unit/pipeline/test_conns.c - requests outstanding per connection (pipeline/conns.h):
 * the bound, the count given back when ZeroMQ frees an answer, and the sweep. */
#include <criterion/criterion.h>
#include <zmq.h>

#include "core/error.h"
#include "pipeline/conns.h"

static const uint8_t A[5] = {0, 0, 0, 0, 1}, B[5] = {0, 0, 0, 0, 2};

Test(conns, bounds_each_connection_on_its_own)
{
	tpc_conns_t *c = NULL;
	tpc_conn_t *e[3], *f;

	cr_assert_eq(tpc_conns_new(2, &c), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e[0]), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e[1]), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e[2]), TPC_EAGAIN);
	cr_assert_eq(tpc_conns_take(c, B, 5, &f), 0, "another connection has its own count");
	cr_assert_eq(tpc_conns_outstanding(c, A, 5), 2);
	tpc_conns_release(e[0]);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e[2]), 0);
	tpc_conns_free(&c);
	cr_assert_null(c);
}

Test(conns, an_answer_message_gives_the_count_back_when_freed)
{
	tpc_conns_t *c = NULL;
	tpc_conn_t *e;
	zmq_msg_t m;

	cr_assert_eq(tpc_conns_new(1, &c), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e), 0);
	cr_assert_eq(tpc_conns_msg(&m, "answer", 6, e), 0);
	cr_assert_eq(zmq_msg_size(&m), 6);
	cr_assert_eq(tpc_conns_outstanding(c, A, 5), 1, "held while ZeroMQ holds the answer");
	cr_assert_eq(tpc_conns_take(c, A, 5, &e), TPC_EAGAIN);
	zmq_msg_close(&m);
	cr_assert_eq(tpc_conns_outstanding(c, A, 5), 0);
	/* at zero the entry is swept; a new take makes a new one */
	cr_assert_eq(tpc_conns_sweep(c), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e), 0);
	cr_assert_eq(tpc_conns_sweep(c), 1, "an entry with a count stays");
	tpc_conns_release(e);
	tpc_conns_free(&c);
}

Test(conns, no_bound_counts_nothing)
{
	tpc_conns_t *c = NULL;
	tpc_conn_t *e;
	zmq_msg_t m;

	cr_assert_eq(tpc_conns_new(0, &c), 0);
	cr_assert_eq(tpc_conns_take(c, A, 5, &e), 0);
	cr_assert_null(e);
	cr_assert_eq(tpc_conns_msg(&m, "x", 1, NULL), 0, "a plain copy");
	zmq_msg_close(&m);
	cr_assert_eq(tpc_conns_outstanding(c, A, 5), 0);
	tpc_conns_free(&c);
}
