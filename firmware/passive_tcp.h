/* Loads, attaches and drains bpf/tcp_sockets.bpf.c. */
#ifndef XDPROBE_PASSIVE_TCP_H
#define XDPROBE_PASSIVE_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "tcp_sockets.h"

struct passive_tcp_opts {
	uint64_t netns_cookie; /* only sockets of this network namespace; 0: all */
	unsigned int prefix_v4, prefix_v6;
	uint32_t max_peers;      /* map entries per window */
	const char *cgroup_path; /* cgroup v2 root for the sockops RTT program */
};

struct passive_tcp;

/* 0, or a negative errno after logging what is missing and how to fix it.
 * A missing cgroup v2 only disables RTT samples (see passive_tcp_has_rtt). */
int passive_tcp_open(struct passive_tcp **out, const struct passive_tcp_opts *o);
/* Receives one window's aggregates, each peer once per window. */
struct tcp_window_sink {
	void (*hist)(void *ctx, const struct tcp_peer_metric *key, const struct latency_hist *h);
	void (*counters)(void *ctx, const struct tcp_peer *key, const struct tcp_peer_counters *c);
	void *ctx;
};

/* Swaps in the spare maps and hands the finished window to sink. 0 or -errno. */
int passive_tcp_drain(struct passive_tcp *p, const struct tcp_window_sink *sink);
void passive_tcp_drops(struct passive_tcp *p, uint64_t out[TCP_DROP_MAX]);
bool passive_tcp_has_rtt(const struct passive_tcp *p);
void passive_tcp_close(struct passive_tcp *p);

#endif
