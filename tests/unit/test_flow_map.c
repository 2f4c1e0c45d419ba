/* Unit tests of firmware/flow_map.c: the IPv4 address-space map cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "flow_map.h"

#define MS 1000000ULL

static void add(struct flow_live *l, uint8_t a, uint8_t b, uint8_t c, uint8_t family, uint8_t role,
		uint64_t rtt_ns, int n)
{
	struct flow_prefix_key k;
	struct latency_hist h;

	memset(&k, 0, sizeof(k));
	k.addr[0] = a;
	k.addr[1] = b;
	k.addr[2] = c;
	k.family = family;
	k.role = role;
	latency_hist_init(&h);
	for (int i = 0; i < n; i++)
		latency_hist_add(&h, rtt_ns);
	flow_live_add_hist(l, &k, &h, 1);
}

static int setup(void **state)
{
	static struct flow_live l;

	flow_live_init(&l, 1000, 60 * 1000 * MS, 24, 48);
	add(&l, 10, 1, 2, AF_INET, FLOW_ROLE_WAN, 10 * MS, 3);
	add(&l, 10, 1, 3, AF_INET, FLOW_ROLE_WAN, 20 * MS, 1);
	add(&l, 10, 7, 0, AF_INET, FLOW_ROLE_LAN, 1 * MS, 2);
	add(&l, 198, 19, 2, AF_INET, FLOW_ROLE_WAN, 5 * MS, 4);
	add(&l, 0x20, 0x01, 0x0d, AF_INET6, FLOW_ROLE_WAN, 9 * MS, 5); /* never on the v4 map */
	*state = &l;
	return 0;
}

static int teardown(void **state)
{
	flow_live_free(*state);
	return 0;
}

static void test_per_slash8(void **state)
{
	static struct flow_map m;

	assert_int_equal(flow_map_build(&m, *state, 8, 0, -1), 4);
	assert_int_equal(m.cells[10].count, 6);
	assert_int_equal(m.cells[198].count, 4);
	assert_int_equal(m.cells[0x20].count, 0); /* the IPv6 prefix is not an IPv4 /8 */
	assert_int_equal(m.cells[10].min_ns, 1 * MS);
	assert_int_equal(m.cells[10].max_ns, 20 * MS);
}

static void test_per_slash16_within(void **state)
{
	static struct flow_map m;

	assert_int_equal(flow_map_build(&m, *state, 16, 10, -1), 3);
	assert_int_equal(m.cells[1].count, 4);
	assert_int_equal(m.cells[7].count, 2);
	assert_int_equal(m.cells[19].count, 0); /* 198.19/16 is not inside 10/8 */
}

static void test_side_filter(void **state)
{
	static struct flow_map m;

	assert_int_equal(flow_map_build(&m, *state, 8, 0, FLOW_ROLE_LAN), 1);
	assert_int_equal(m.cells[10].count, 2);
	assert_int_equal(m.cells[198].count, 0);
}

static void test_bad_level_and_coarse_prefixes(void **state)
{
	static struct flow_map m;
	struct flow_live coarse;

	assert_int_equal(flow_map_build(&m, *state, 12, 0, -1), -1);
	flow_live_init(&coarse, 10, MS, 8, 48); /* /8 aggregates cannot fill a /16 map */
	assert_int_equal(flow_map_build(&m, &coarse, 16, 10, -1), 0);
	flow_live_free(&coarse);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_per_slash8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_slash16_within, setup, teardown),
		cmocka_unit_test_setup_teardown(test_side_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_level_and_coarse_prefixes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
