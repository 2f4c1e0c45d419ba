/* Loads, attaches and drains bpf/flow_rtt.bpf.c on the monitored interfaces. */
#ifndef XDPROBE_PASSIVE_FLOWS_H
#define XDPROBE_PASSIVE_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_rtt.h"
#include "histogram.h"

#define PASSIVE_MAX_IFACES 8

struct passive_iface {
	char name[16];
	uint8_t role; /* FLOW_ROLE_* */
};

struct passive_flows_opts {
	struct passive_iface ifaces[PASSIVE_MAX_IFACES];
	unsigned int n_ifaces;
	unsigned int prefix_v4, prefix_v6;
	uint32_t max_prefixes;       /* map entries per window */
	uint64_t sample_interval_ns; /* per-flow rate limit */
	/* Per-flow RTT events (at most one per flow and second), or NULL. */
	void (*on_event)(void *ctx, const void *record, size_t len);
	void *event_ctx;
};

/* Receives one window's aggregates. */
struct flow_window_sink {
	void (*hist)(void *ctx, const struct flow_prefix_key *key, const struct latency_hist *h);
	void (*traffic)(void *ctx, const struct flow_traffic_key *key, const struct flow_traffic *t);
	void *ctx;
};

struct passive_flows;

/* 0, or a negative errno after logging what is missing and how to fix it. */
int passive_flows_open(struct passive_flows **out, const struct passive_flows_opts *o);
int passive_flows_drain(struct passive_flows *p, const struct flow_window_sink *sink);
/* The descriptor that becomes readable when events wait (-1 without events),
 * and the call that hands them to on_event. */
int passive_flows_events_fd(const struct passive_flows *p);
int passive_flows_consume(struct passive_flows *p);
void passive_flows_unmeasured(struct passive_flows *p, uint64_t out[FLOW_U_MAX]);
/* True when the programs hang on links that vanish with the process; false
 * when classic TC filters were used and must be removed at exit (which
 * needs CAP_NET_ADMIN). */
bool passive_flows_link_based(const struct passive_flows *p);
void passive_flows_close(struct passive_flows *p);

/* Parses "br-lan, eth1" into ifaces with role; 0 or -1 with err set. */
int passive_parse_ifaces(const char *list, uint8_t role, struct passive_flows_opts *o,
			 char *err, size_t err_size);

#endif
