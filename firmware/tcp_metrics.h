/* Renders the passive TCP live state as Prometheus metric families. */
#ifndef XDPROBE_TCP_METRICS_H
#define XDPROBE_TCP_METRICS_H

#include "buf.h"
#include "tcp_live.h"

#include <stddef.h>

#include "addr_text.h"

/* The counters of struct tcp_peer_counters, with their metric names. */
#define TCP_COUNTER_FAMILIES 7
struct tcp_counter_family {
	const char *name;
	const char *help;
	size_t offset; /* of the uint64_t field in struct tcp_peer_counters */
};
extern const struct tcp_counter_family tcp_counter_families[TCP_COUNTER_FAMILIES];

/* Metric name of a histogram metric (enum tcp_metric). */
const char *tcp_hist_family_name(unsigned int metric);

/* A peer's label values as text. */
struct tcp_peer_text {
	const char *direction;
	char remote[PREFIX_TEXT_MAX];
	char port[8];
};
void tcp_peer_text(const struct tcp_live *live, const struct tcp_peer *peer,
		   struct tcp_peer_text *t);

/* drops: per-reason totals of events the BPF programs could not record. */
void tcp_metrics_render(struct buf *out, const struct tcp_live *live,
			const uint64_t drops[TCP_DROP_MAX]);
/* Writes the label set of a peer: direction, remote prefix, port. */
void tcp_peer_labels(struct buf *out, const struct tcp_live *live, const struct tcp_peer *peer);

#endif
