/*
 * Live state of the passive TCP metrics: cumulative histograms and counters
 * per peer, fed by the per-window drains and read by /metrics. Bounded: at
 * most max_series entries; peers idle for idle_ns are forgotten. Pure.
 */
#ifndef XDPROBE_TCP_LIVE_H
#define XDPROBE_TCP_LIVE_H

#include <stdint.h>

#include "histogram.h"
#include "tcp_sockets.h"
#include "uthash.h"

struct tcp_live_hist {
	struct tcp_peer_metric key;
	struct latency_hist hist;
	uint64_t updated_ns;
	UT_hash_handle hh;
};

struct tcp_live_counters {
	struct tcp_peer key;
	struct tcp_peer_counters c;
	uint64_t updated_ns;
	UT_hash_handle hh;
};

struct tcp_live {
	struct tcp_live_hist *hists;
	struct tcp_live_counters *counters;
	uint8_t prefix_v4; /* remote prefix lengths the BPF side masks to */
	uint8_t prefix_v6;
	uint32_t series;
	uint32_t max_series;
	uint64_t idle_ns;
	uint64_t series_rejected; /* drained records dropped: table full */
	uint64_t series_expired;
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
