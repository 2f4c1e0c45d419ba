/* Renders the passive TCP live state as Prometheus metric families. */
#ifndef XDPROBE_TCP_METRICS_H
#define XDPROBE_TCP_METRICS_H

#include "buf.h"
#include "tcp_live.h"

/* drops: per-reason totals of events the BPF programs could not record. */
void tcp_metrics_render(struct buf *out, const struct tcp_live *live,
			const uint64_t drops[TCP_DROP_MAX]);
/* Writes the label set of a peer: direction, remote prefix, port. */
void tcp_peer_labels(struct buf *out, const struct tcp_live *live, const struct tcp_peer *peer);

#endif
