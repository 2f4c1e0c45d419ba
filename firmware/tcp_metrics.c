#include "tcp_metrics.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "addr_text.h"
#include "prom.h"

#define LABELS_MAX 256

static const struct {
	const char *name;
	const char *help;
	struct prom_buckets range;
} hist_families[TCP_M_COUNT] = {
	[TCP_M_CONNECT] = { "xdprobe_tcp_connect_latency_seconds",
			    "TCP handshake latency of connections this host opened (SYN to "
			    "established) or accepted (SYN-ACK to ACK).",
			    { 4, 25 } },
	[TCP_M_RTT] = { "xdprobe_tcp_rtt_seconds",
			"Round-trip times the kernel measured on each ACK of this host's TCP "
			"connections.",
			{ 4, 25 } },
	[TCP_M_LIFETIME] = { "xdprobe_tcp_connection_duration_seconds",
			     "Time from established to close of this host's TCP connections.",
			     { 10, 36 } },
};

_Static_assert(sizeof(struct tcp_peer_counters) == TCP_COUNTER_FAMILIES * sizeof(uint64_t),
	       "one family per counter");

const struct tcp_counter_family tcp_counter_families[TCP_COUNTER_FAMILIES] = {
	{ "xdprobe_tcp_connect_failures_total", "Connection attempts that never got established.",
	  offsetof(struct tcp_peer_counters, connect_failures) },
	{ "xdprobe_tcp_connections_closed_total", "Established connections that closed.",
	  offsetof(struct tcp_peer_counters, closed) },
	{ "xdprobe_tcp_sent_bytes_total", "Bytes acknowledged by the peer, counted at close.",
	  offsetof(struct tcp_peer_counters, bytes_sent) },
	{ "xdprobe_tcp_received_bytes_total", "Bytes received from the peer, counted at close.",
	  offsetof(struct tcp_peer_counters, bytes_received) },
	{ "xdprobe_tcp_retransmits_total", "Retransmitted TCP segments.",
	  offsetof(struct tcp_peer_counters, retransmits) },
	{ "xdprobe_tcp_resets_sent_total", "TCP resets this host sent.",
	  offsetof(struct tcp_peer_counters, resets_sent) },
	{ "xdprobe_tcp_resets_received_total", "TCP resets this host received.",
	  offsetof(struct tcp_peer_counters, resets_received) },
};

static const char *const drop_reasons[TCP_DROP_MAX] = {
	[TCP_DROP_HIST_FULL] = "histogram_map_full",
	[TCP_DROP_COUNT_FULL] = "counter_map_full",
	[TCP_DROP_NO_STORAGE] = "socket_storage_failed",
	[TCP_DROP_NO_RTT] = "rtt_callback_without_sample",
	[TCP_DROP_UNTRACKED] = "opened_before_start",
};

const char *tcp_hist_family_name(unsigned int metric)
{
	return hist_families[metric].name;
}

void tcp_peer_text(const struct tcp_live *live, const struct tcp_peer *peer,
		   struct tcp_peer_text *t)
{
	prefix_text(peer->family, peer->addr,
		    peer->family == AF_INET6 ? live->prefix_v6 : live->prefix_v4, t->remote,
		    sizeof(t->remote));
	snprintf(t->port, sizeof(t->port), "%u", peer->port);
	t->direction = peer->dir == TCP_DIR_OUTBOUND ? "outbound" : "inbound";
}

void tcp_peer_labels(struct buf *out, const struct tcp_live *live, const struct tcp_peer *peer)
{
	struct tcp_peer_text t;

	tcp_peer_text(live, peer, &t);
	prom_label(out, "direction", t.direction);
	prom_label(out, "remote", t.remote);
	prom_label(out, "port", t.port);
}

static void render_histograms(struct buf *out, const struct tcp_live *live, unsigned int metric)
{
	char storage[LABELS_MAX];
	struct buf labels;

	buf_init_fixed(&labels, storage, sizeof(storage));
	prom_family(out, hist_families[metric].name, "histogram", hist_families[metric].help);
	for (struct live_entry *e = live->hists.head; e; e = e->hh.next) {
		const struct tcp_peer_metric *key = live_entry_key(e);

		if (key->metric != metric)
			continue;
		buf_reset(&labels);
		tcp_peer_labels(&labels, live, &key->peer);
		prom_histogram(out, hist_families[metric].name, labels.data,
			       live_entry_value(&live->hists, e), &hist_families[metric].range);
	}
}

static void render_counters(struct buf *out, const struct tcp_live *live, unsigned int i)
{
	char storage[LABELS_MAX];
	struct buf labels;

	buf_init_fixed(&labels, storage, sizeof(storage));
	prom_family(out, tcp_counter_families[i].name, "counter", tcp_counter_families[i].help);
	for (struct live_entry *e = live->counters.head; e; e = e->hh.next) {
		const uint64_t *v = (const uint64_t *)((const char *)live_entry_value(
								&live->counters, e) +
							tcp_counter_families[i].offset);

		buf_reset(&labels);
		tcp_peer_labels(&labels, live, live_entry_key(e));
		prom_sample_u64(out, tcp_counter_families[i].name, labels.data, *v);
	}
}

static void render_health(struct buf *out, const struct tcp_live *live,
			  const uint64_t drops[TCP_DROP_MAX])
{
	char labels[64];

	prom_family(out, "xdprobe_tcp_events_dropped_total", "counter",
		    "TCP events the kernel programs could not record, by reason.");
	for (unsigned int r = 0; r < TCP_DROP_MAX; r++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", drop_reasons[r]);
		prom_sample_u64(out, "xdprobe_tcp_events_dropped_total", labels, drops[r]);
	}
	prom_single_u64(out, "xdprobe_tcp_series", "gauge", "TCP series held in the live state.",
			live->budget.series);
	prom_single_u64(out, "xdprobe_tcp_series_rejected_total", "counter",
			"Window aggregates dropped because the live state was full (max_series).",
			live->budget.rejected);
	prom_single_u64(out, "xdprobe_tcp_series_expired_total", "counter",
			"TCP series forgotten after being idle (series_idle_timeout).",
			live->budget.expired);
}

void tcp_metrics_render(struct buf *out, const struct tcp_live *live,
			const uint64_t drops[TCP_DROP_MAX])
{
	for (unsigned int m = 0; m < TCP_M_COUNT; m++)
		render_histograms(out, live, m);
	for (unsigned int i = 0; i < TCP_COUNTER_FAMILIES; i++)
		render_counters(out, live, i);
	render_health(out, live, drops);
}
