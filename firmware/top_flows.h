/*
 * The "top flows" view of the passive RTT: per-flow RTT events from the
 * kernel's ring buffer (rate-limited there per flow) kept in a bounded
 * table; the most active flows are exported. Pure.
 */
#ifndef XDPROBE_TOP_FLOWS_H
#define XDPROBE_TOP_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "flow_rtt.h"
#include "uthash.h"

struct top_flow_key {
	uint8_t family, role, method, protocol;
	uint16_t local_port, remote_port;
	uint8_t local[16], remote[16];
};

struct top_flow {
	struct top_flow_key key;
	uint64_t samples;
	uint64_t last_rtt_ns, min_rtt_ns, max_rtt_ns;
	uint64_t last_seen_ns; /* monotonic */
	UT_hash_handle hh;
};

struct top_flows {
	struct top_flow *flows;
	size_t count, capacity;
	uint64_t idle_ns;
	uint64_t events, evicted, bad_events;
};

void top_flows_init(struct top_flows *t, size_t capacity, uint64_t idle_ns);
void top_flows_free(struct top_flows *t);
/* Adds one ring-buffer record of len bytes; malformed ones are counted. */
void top_flows_add(struct top_flows *t, const void *record, size_t len, uint64_t now_ns);
void top_flows_expire(struct top_flows *t, uint64_t now_ns);
/* Fills out with up to n flows, most samples first; returns how many. */
size_t top_flows_top(const struct top_flows *t, const struct top_flow **out, size_t n);

#endif
