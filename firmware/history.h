/*
 * The daemon's side of the on-device history: names the windows the
 * collectors produce and hands them to storage/ (which writes on its own
 * thread). Absent (NULL) when [storage] path is empty or the file was refused.
 */
#ifndef XDPROBE_HISTORY_H
#define XDPROBE_HISTORY_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "flow_live.h"
#include "tcp_live.h"

struct history;

/* Opens the database of cfg; on failure logs what to fix and returns NULL. */
struct history *history_open(const struct config *cfg);
/* Stores one window (start t_ms, unix ms) of a TCP peer. */
void history_tcp_hist(struct history *h, const struct tcp_live *live,
		      const struct tcp_peer_metric *key, const struct latency_hist *hist,
		      int64_t t_ms);
void history_tcp_counters(struct history *h, const struct tcp_live *live,
			  const struct tcp_peer *key, const struct tcp_peer_counters *c, int64_t t_ms);
void history_flow_hist(struct history *h, const struct flow_live *live,
		       const struct flow_prefix_key *key, const struct latency_hist *hist,
		       int64_t t_ms);
void history_flow_traffic(struct history *h, const struct flow_live *live,
			  const struct flow_traffic_key *key, const struct flow_traffic *t,
			  int64_t t_ms);
/* xdprobe_storage_* metrics. */
void history_render(struct history *h, struct buf *out);
void history_close(struct history *h);

#endif
