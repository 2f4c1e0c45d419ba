/* Live state of the passive flow RTT: per remote prefix, side and method. Pure. */
#ifndef XDPROBE_FLOW_LIVE_H
#define XDPROBE_FLOW_LIVE_H

#include <stdint.h>

#include "flow_rtt.h"
#include "histogram.h"
#include "live_table.h"

struct flow_live {
	struct live_table hists;   /* struct flow_prefix_key -> struct latency_hist */
	struct live_table traffic; /* struct flow_traffic_key -> struct flow_traffic */
	struct live_budget budget;
	uint8_t prefix_v4;
	uint8_t prefix_v6;
};

void flow_live_init(struct flow_live *l, uint32_t max_series, uint64_t idle_ns,
		    uint8_t prefix_v4, uint8_t prefix_v6);
void flow_live_free(struct flow_live *l);
void flow_live_add_hist(struct flow_live *l, const struct flow_prefix_key *key,
			const struct latency_hist *h, uint64_t now_ns);
void flow_live_add_traffic(struct flow_live *l, const struct flow_traffic_key *key,
			   const struct flow_traffic *t, uint64_t now_ns);
void flow_live_expire(struct flow_live *l, uint64_t now_ns);

#endif
