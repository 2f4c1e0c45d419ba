/* Unit tests of firmware/top_flows.c: the bounded top-flows table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "top_flows.h"

#define S 1000000000ULL

static struct flow_rtt_event event(uint16_t port, uint64_t rtt_ns)
{
	struct flow_rtt_event e;

	memset(&e, 0, sizeof(e));
	e.version = FLOW_EVENT_VERSION;
	e.family = AF_INET;
	e.role = FLOW_ROLE_WAN;
	e.method = FLOW_M_TCP_TS;
	e.protocol = 6;
	e.local[0] = 198;
	e.remote[0] = 203;
	e.local_port = port;
	e.remote_port = 443;
	e.rtt_ns = rtt_ns;
	return e;
}

static void add(struct top_flows *t, uint16_t port, uint64_t rtt_ns, uint64_t now)
{
	struct flow_rtt_event e = event(port, rtt_ns);

	top_flows_add(t, &e, sizeof(e), now);
}

static void test_per_flow_stats(void **state)
{
	struct top_flows t;
	const struct top_flow *top[4];

	(void)state;
	top_flows_init(&t, 16, 60 * S);
	add(&t, 1000, 30, 1);
	add(&t, 1000, 10, 2);
	add(&t, 1000, 20, 3);
	assert_int_equal(top_flows_top(&t, top, 4), 1);
	assert_int_equal(top[0]->samples, 3);
	assert_int_equal(top[0]->min_rtt_ns, 10);
	assert_int_equal(top[0]->max_rtt_ns, 30);
	assert_int_equal(top[0]->last_rtt_ns, 20);
	top_flows_free(&t);
}

static void test_top_orders_by_samples(void **state)
{
	struct top_flows t;
	const struct top_flow *top[3];

	(void)state;
	top_flows_init(&t, 16, 60 * S);
	for (uint16_t port = 1; port <= 6; port++)
		for (int i = 0; i < port; i++) /* flow p has p samples */
			add(&t, port, 1000, 1);
	assert_int_equal(top_flows_top(&t, top, 3), 3);
	assert_int_equal(top[0]->key.local_port, 6);
	assert_int_equal(top[1]->key.local_port, 5);
	assert_int_equal(top[2]->key.local_port, 4);
	top_flows_free(&t);
}

static void test_bounded_and_counted(void **state)
{
	struct top_flows t;

	(void)state;
	top_flows_init(&t, 100, 60 * S);
	for (uint32_t i = 0; i < 100000; i++)
		add(&t, (uint16_t)i, 1000, i + 1);
	assert_int_equal(t.count, 100);
	assert_int_equal(t.evicted, 100000 - 100);
	top_flows_free(&t);
}

/* The flow seen longest ago goes first, not the one added first. */
static void test_evicts_least_recent(void **state)
{
	struct top_flows t;
	const struct top_flow *top[2];

	(void)state;
	top_flows_init(&t, 2, 60 * S);
	add(&t, 1, 1000, 1);
	add(&t, 2, 1000, 2);
	add(&t, 1, 1000, 3); /* flow 1 is fresh again */
	add(&t, 3, 1000, 4); /* evicts flow 2 */
	assert_int_equal(top_flows_top(&t, top, 2), 2);
	assert_int_equal(top[0]->key.local_port, 1);
	assert_int_equal(top[1]->key.local_port, 3);
	top_flows_free(&t);
}

static void test_malformed_and_expiry(void **state)
{
	struct top_flows t;
	struct flow_rtt_event e = event(1, 1);

	(void)state;
	top_flows_init(&t, 16, 10 * S);
	top_flows_add(&t, &e, sizeof(e) - 1, 1); /* short */
	e.version = 99;
	top_flows_add(&t, &e, sizeof(e), 1);
	e = event(1, 1);
	e.method = FLOW_M_COUNT;
	top_flows_add(&t, &e, sizeof(e), 1);
	assert_int_equal(t.bad_events, 3);
	assert_int_equal(t.count, 0);
	add(&t, 1, 5, 1 * S);
	add(&t, 2, 5, 8 * S);
	top_flows_expire(&t, 12 * S);
	assert_int_equal(t.count, 1);
	top_flows_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_flow_stats),
		cmocka_unit_test(test_top_orders_by_samples),
		cmocka_unit_test(test_bounded_and_counted),
		cmocka_unit_test(test_evicts_least_recent),
		cmocka_unit_test(test_malformed_and_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
