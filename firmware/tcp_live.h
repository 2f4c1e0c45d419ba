/*
 * Live state of the passive TCP metrics: cumulative histograms and counters
 * per peer, fed by the per-window drains and read by /metrics. Bounded: at
 * most max_series entries; peers idle for idle_ns are forgotten. Pure.
 */
#ifndef XDPROBE_TCP_LIVE_H
#define XDPROBE_TCP_LIVE_H

#include <stdint.h>

#include "histogram.h"
#include "live_table.h"
#include "tcp_sockets.h"

struct tcp_live {
	struct live_table hists;    /* struct tcp_peer_metric -> struct latency_hist */
	struct live_table counters; /* struct tcp_peer -> struct tcp_peer_counters */
	struct live_budget budget;  /* shared by both tables */
	uint8_t prefix_v4; /* remote prefix lengths the BPF side masks to */
	uint8_t prefix_v6;
};

void tcp_live_init(struct tcp_live *l, uint32_t max_series, uint64_t idle_ns, uint8_t prefix_v4,
		   uint8_t prefix_v6);
void tcp_live_free(struct tcp_live *l);
void tcp_live_add_hist(struct tcp_live *l, const struct tcp_peer_metric *key,
		       const struct latency_hist *h, uint64_t now_ns);
void tcp_live_add_counters(struct tcp_live *l, const struct tcp_peer *key,
			   const struct tcp_peer_counters *c, uint64_t now_ns);
void tcp_live_expire(struct tcp_live *l, uint64_t now_ns);

#endif
