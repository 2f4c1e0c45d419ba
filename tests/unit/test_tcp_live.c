/*
 * Unit tests of the passive TCP live state (firmware/tcp_live.c): per-window
 * drains accumulate into cumulative series, and the state stays bounded
 * (max_series, idle expiry) whatever the traffic looks like, since a scan or
 * a SYN flood can present an unbounded number of peers.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tcp_live.h"

#define S 1000000000ULL /* ns per second */

/* Keys are hashed as raw bytes: always build them from zeroed memory. */
static struct tcp_peer peer_v4(uint32_t addr, uint16_t port, uint8_t dir)
{
	struct tcp_peer p;
	uint32_t be = htonl(addr);

	memset(&p, 0, sizeof(p));
	memcpy(p.addr, &be, sizeof(be));
	p.port = port;
	p.family = AF_INET;
	p.dir = dir;
	return p;
}

static struct tcp_peer_metric hist_key(struct tcp_peer peer, enum tcp_metric m)
{
	struct tcp_peer_metric k;

	memset(&k, 0, sizeof(k));
	k.peer = peer;
	k.metric = m;
	return k;
}

/* A one-window histogram with n samples of ns each. */
static void window_hist(struct latency_hist *h, uint64_t ns, int n)
{
	latency_hist_init(h);
	for (int i = 0; i < n; i++)
		latency_hist_add(h, ns);
}

static void add_sample_hist(struct tcp_live *l, struct tcp_peer peer, uint64_t now)
{
	struct tcp_peer_metric k = hist_key(peer, TCP_M_RTT);
	struct latency_hist h;

	window_hist(&h, 1000000, 1);
	tcp_live_add_hist(l, &k, &h, now);
}

static void add_sample_counters(struct tcp_live *l, struct tcp_peer peer, uint64_t now)
{
	struct tcp_peer_counters c = { .closed = 1 };

	tcp_live_add_counters(l, &peer, &c, now);
}

/* The series counter must always match what the hash tables hold. */
static void assert_series_consistent(const struct tcp_live *l)
{
	assert_int_equal(l->budget.series, HASH_COUNT(l->hists.head) + HASH_COUNT(l->counters.head));
}

/*
 * Each test gets a fresh state from the fixture, and the teardown frees it
 * even when an assertion failed, so a failing test is not also reported as a
 * leak by the -DXDPROBE_SANITIZE=ON build.
 */
static int live_new(void **state)
{
	*state = calloc(1, sizeof(struct tcp_live));
	return *state ? 0 : -1;
}

static int live_free(void **state)
{
	tcp_live_free(*state);
	free(*state);
	return 0;
}

static void test_init(void **state)
{
	struct tcp_live *l = *state;

	memset(l, 0x5a, sizeof(*l)); /* init must set every field */
	tcp_live_init(l, 100, 60 * S, 24, 48);
	assert_null(l->hists.head);
	assert_null(l->counters.head);
	assert_int_equal(l->budget.max_series, 100);
	assert_int_equal(l->budget.idle_ns, 60 * S);
	assert_int_equal(l->prefix_v4, 24);
	assert_int_equal(l->prefix_v6, 48);
	assert_int_equal(l->budget.series, 0);
	assert_int_equal(l->budget.rejected, 0);
	assert_int_equal(l->budget.expired, 0);
}

static void test_hist_windows_accumulate(void **state)
{
	struct tcp_peer_metric k = hist_key(peer_v4(0x0a000100, 443, TCP_DIR_OUTBOUND), TCP_M_CONNECT);
	struct latency_hist w1, w2;
	struct live_entry *e;
	struct latency_hist *h;
	struct tcp_live *l = *state;

	window_hist(&w1, 2000000, 3);
	window_hist(&w2, 500000, 2);
	tcp_live_init(l, 100, 60 * S, 24, 48);
	tcp_live_add_hist(l, &k, &w1, 1 * S);
	tcp_live_add_hist(l, &k, &w2, 2 * S);
	assert_int_equal(l->budget.series, 1);
	HASH_FIND(hh, l->hists.head, &k, sizeof(k), e);
	assert_non_null(e);
	h = live_entry_value(&l->hists, e);
	assert_int_equal(h->count, 5);
	assert_int_equal(h->sum_ns, 3 * 2000000 + 2 * 500000);
	assert_int_equal(h->min_ns, 500000);
	assert_int_equal(h->max_ns, 2000000);
	assert_int_equal(h->buckets[hist_bucket_ns(2000000)], 3);
	assert_int_equal(h->buckets[hist_bucket_ns(500000)], 2);
	assert_int_equal(e->updated_ns, 2 * S); /* touched by the last window */
}

static void test_counter_windows_accumulate(void **state)
{
	struct tcp_peer p = peer_v4(0x0a000100, 22, TCP_DIR_INBOUND);
	struct tcp_peer_counters w1 = { 1, 2, 3, 4, 5, 6, 7 }, w2 = { 10, 20, 30, 40, 50, 60, 70 };
	struct tcp_peer_counters want = { 11, 22, 33, 44, 55, 66, 77 };
	struct live_entry *e;
	struct tcp_live *l = *state;

	tcp_live_init(l, 100, 60 * S, 24, 48);
	tcp_live_add_counters(l, &p, &w1, 1 * S);
	tcp_live_add_counters(l, &p, &w2, 2 * S);
	assert_int_equal(l->budget.series, 1);
	HASH_FIND(hh, l->counters.head, &p, sizeof(p), e);
	assert_non_null(e);
	assert_memory_equal(live_entry_value(&l->counters, e), &want, sizeof(want));
	assert_int_equal(e->updated_ns, 2 * S);
}

/* Every key field separates series; hists and counters share the budget. */
static void test_distinct_keys(void **state)
{
	struct tcp_peer base = peer_v4(0x0a000100, 443, TCP_DIR_OUTBOUND);
	struct tcp_peer other_dir = peer_v4(0x0a000100, 443, TCP_DIR_INBOUND);
	struct tcp_peer other_port = peer_v4(0x0a000100, 80, TCP_DIR_OUTBOUND);
	struct tcp_peer other_addr = peer_v4(0x0a000200, 443, TCP_DIR_OUTBOUND);
	struct tcp_peer v6 = base;
	struct tcp_live *l = *state;

	v6.family = AF_INET6;
	tcp_live_init(l, 100, 60 * S, 24, 48);
	add_sample_hist(l, base, 0);
	add_sample_hist(l, other_dir, 0);
	add_sample_hist(l, other_port, 0);
	add_sample_hist(l, other_addr, 0);
	add_sample_hist(l, v6, 0);
	add_sample_hist(l, base, 0); /* same key again: no new series */
	add_sample_counters(l, base, 0);
	assert_int_equal(HASH_COUNT(l->hists.head), 5);
	assert_int_equal(l->budget.series, 6);
	assert_series_consistent(l);
}

static void test_max_series_rejects_and_counts(void **state)
{
	struct tcp_peer p1 = peer_v4(0x0a000100, 1, TCP_DIR_OUTBOUND);
	struct tcp_peer_metric k1 = hist_key(p1, TCP_M_RTT);
	struct tcp_peer_counters *c;
	struct latency_hist *h;
	struct tcp_live *l = *state;

	tcp_live_init(l, 4, 60 * S, 24, 48);
	for (uint16_t port = 1; port <= 3; port++)
		add_sample_hist(l, peer_v4(0x0a000100, port, TCP_DIR_OUTBOUND), 0);
	add_sample_counters(l, peer_v4(0x0a000100, 1, TCP_DIR_OUTBOUND), 0);
	assert_int_equal(l->budget.series, 4);
	add_sample_hist(l, peer_v4(0x0a000100, 9, TCP_DIR_OUTBOUND), 0); /* new: rejected */
	add_sample_counters(l, peer_v4(0x0a000100, 9, TCP_DIR_OUTBOUND), 0);
	assert_int_equal(l->budget.series, 4);
	assert_int_equal(l->budget.rejected, 2);
	/* existing series keep accumulating while the table is full */
	add_sample_hist(l, p1, 1 * S);
	add_sample_counters(l, p1, 1 * S);
	assert_int_equal(l->budget.rejected, 2);
	h = live_table_find(&l->hists, &k1);
	c = live_table_find(&l->counters, &p1);
	assert_non_null(h);
	assert_non_null(c);
	assert_int_equal(h->count, 2);
	assert_int_equal(c->closed, 2);
	assert_series_consistent(l);
}

static void test_idle_expiry(void **state)
{
	struct tcp_peer a = peer_v4(0x0a000100, 1, TCP_DIR_OUTBOUND);
	struct tcp_peer b = peer_v4(0x0a000100, 2, TCP_DIR_OUTBOUND);
	struct tcp_live *l = *state;

	tcp_live_init(l, 100, 10 * S, 24, 48);
	add_sample_hist(l, a, 0);
	add_sample_counters(l, a, 0);
	add_sample_hist(l, b, 5 * S);
	add_sample_counters(l, b, 5 * S);
	tcp_live_expire(l, 10 * S - 1); /* a idle for just under idle_ns: kept */
	assert_int_equal(l->budget.series, 4);
	tcp_live_expire(l, 10 * S); /* a idle for exactly idle_ns: gone */
	assert_int_equal(l->budget.series, 2);
	assert_int_equal(l->budget.expired, 2);
	assert_series_consistent(l);
	add_sample_counters(l, b, 12 * S); /* b's counters touched again */
	tcp_live_expire(l, 15 * S);
	assert_int_equal(l->budget.series, 1);
	assert_int_equal(HASH_COUNT(l->counters.head), 1);
	assert_int_equal(l->budget.expired, 3);
}

/* Expiry frees room: a full table accepts new peers again. */
static void test_expiry_makes_room(void **state)
{
	struct tcp_live *l = *state;

	tcp_live_init(l, 2, 10 * S, 24, 48);
	add_sample_hist(l, peer_v4(1, 1, 0), 0);
	add_sample_hist(l, peer_v4(2, 1, 0), 0);
	add_sample_hist(l, peer_v4(3, 1, 0), 1 * S);
	assert_int_equal(l->budget.rejected, 1);
	tcp_live_expire(l, 20 * S);
	assert_int_equal(l->budget.series, 0);
	add_sample_hist(l, peer_v4(3, 1, 0), 21 * S);
	assert_int_equal(l->budget.series, 1);
	assert_series_consistent(l);
}

/* A scan presenting 100 000 peers must not grow the state past max_series. */
/* Regression: a series updated after the expiry's "now" was taken (the
 * drain runs after the tick reads the clock) wrapped the age around and
 * was forgotten at once. */
static void test_update_after_now_is_fresh(void **state)
{
	struct tcp_live *l = *state;

	tcp_live_init(l, 16, 60 * S, 24, 48);
	add_sample_hist(l, peer_v4(0xc0000201, 443, TCP_DIR_OUTBOUND), 100 * S + 5);
	add_sample_counters(l, peer_v4(0xc0000201, 443, TCP_DIR_OUTBOUND), 100 * S + 5);
	tcp_live_expire(l, 100 * S);
	assert_int_equal(l->budget.series, 2);
	assert_int_equal(l->budget.expired, 0);
}

static void test_memory_bounded(void **state)
{
	struct tcp_live *l = *state;

	tcp_live_init(l, 1000, 3600 * S, 32, 128);
	for (uint32_t i = 0; i < 100000; i++) {
		struct tcp_peer p = peer_v4(0x0a000000 + i, 443, TCP_DIR_INBOUND);

		if (i % 2)
			add_sample_hist(l, p, i);
		else
			add_sample_counters(l, p, i);
	}
	assert_int_equal(l->budget.series, 1000);
	assert_int_equal(l->budget.rejected, 99000);
	assert_series_consistent(l);
	tcp_live_free(l);
	assert_int_equal(l->budget.series, 0);
	assert_null(l->hists.head);
	assert_null(l->counters.head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_hist_windows_accumulate, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_counter_windows_accumulate, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_distinct_keys, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_max_series_rejects_and_counts, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_idle_expiry, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_expiry_makes_room, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_update_after_now_is_fresh, live_new, live_free),
		cmocka_unit_test_setup_teardown(test_memory_bounded, live_new, live_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
