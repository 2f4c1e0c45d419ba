#include "flow_metrics.h"

#include <stdio.h>
#include <sys/socket.h>

#include "addr_text.h"
#include "prom.h"

#define LABELS_MAX 256
#define RTT_NAME "xdprobe_passive_rtt_seconds"

static const char *const method_names[FLOW_M_COUNT] = {
	[FLOW_M_TCP_TS] = "tcp_timestamp", [FLOW_M_TCP_SEQ] = "tcp_seq_ack",
	[FLOW_M_ICMP] = "icmp_echo",       [FLOW_M_DNS] = "dns",
	[FLOW_M_QUIC_SPIN] = "quic_spin",
};

static const char *const unmeasured_names[FLOW_U_MAX] = {
	[FLOW_U_PARSE_ERROR] = "parse_error",
	[FLOW_U_NOT_IP] = "not_ip",
	[FLOW_U_UNSUPPORTED] = "unsupported_protocol",
	[FLOW_U_TCP_NO_TS_NO_SEQ] = "tcp_without_timestamps_or_seq",
	[FLOW_U_QUIC_NO_SPIN] = "quic_without_spin_bit",
	[FLOW_U_RATE_LIMITED] = "rate_limited",
	[FLOW_U_FLOW_TABLE_FULL] = "flow_table_full",
	[FLOW_U_PENDING_FULL] = "pending_table_full",
	[FLOW_U_HIST_FULL] = "histogram_map_full",
	[FLOW_U_TRAFFIC_FULL] = "traffic_map_full",
	[FLOW_U_NO_MATCH] = "reply_without_request",
	[FLOW_U_EVENT_DROPPED] = "event_ring_full",
};

static const struct prom_buckets rtt_buckets = { 4, 25 }; /* 16 us .. 33 s */

const char *flow_method_name(unsigned int method)
{
	return method < FLOW_M_COUNT ? method_names[method] : "unknown";
}

const char *flow_role_name(unsigned int role)
{
	return role == FLOW_ROLE_WAN ? "wan" : "lan";
}

static void side_remote(struct buf *labels, const struct flow_live *live, uint8_t role,
			uint8_t family, const uint8_t *addr)
{
	char remote[PREFIX_TEXT_MAX];

	prefix_text(family, addr, family == AF_INET6 ? live->prefix_v6 : live->prefix_v4, remote,
		    sizeof(remote));
	prom_label(labels, "side", flow_role_name(role));
	prom_label(labels, "remote", remote);
}

static void render_rtt(struct buf *out, const struct flow_live *live)
{
	char storage[LABELS_MAX];
	struct buf labels;

	buf_init_fixed(&labels, storage, sizeof(storage));
	prom_family(out, RTT_NAME, "histogram",
		    "Passive round-trip times of traffic crossing the gateway, from the monitored "
		    "interface to the remote end and back, by method.");
	for (struct live_entry *e = live->hists.head; e; e = e->hh.next) {
		const struct flow_prefix_key *k = live_entry_key(e);

		buf_reset(&labels);
		side_remote(&labels, live, k->role, k->family, k->addr);
		prom_label(&labels, "method", flow_method_name(k->method));
		prom_histogram(out, RTT_NAME, labels.data, live_entry_value(&live->hists, e),
			       &rtt_buckets);
	}
}

/* One traffic family: the in and out counters of every prefix. */
static void render_traffic(struct buf *out, const struct flow_live *live, const char *name,
			   const char *help, int bytes)
{
	char storage[LABELS_MAX];
	struct buf labels;

	buf_init_fixed(&labels, storage, sizeof(storage));
	prom_family(out, name, "counter", help);
	for (struct live_entry *e = live->traffic.head; e; e = e->hh.next) {
		const struct flow_traffic_key *k = live_entry_key(e);
		const struct flow_traffic *t = live_entry_value(&live->traffic, e);

		for (int dir = 0; dir < 2; dir++) {
			buf_reset(&labels);
			side_remote(&labels, live, k->role, k->family, k->addr);
			prom_label(&labels, "direction", dir ? "in" : "out");
			prom_sample_u64(out, name, labels.data,
					bytes ? (dir ? t->bytes_in : t->bytes_out)
					      : (dir ? t->packets_in : t->packets_out));
		}
	}
}

void flow_metrics_render(struct buf *out, const struct flow_live *live,
			 const uint64_t unmeasured[FLOW_U_MAX])
{
	char labels[64];

	render_rtt(out, live);
	render_traffic(out, live, "xdprobe_passive_packets_total",
		       "Packets through the monitored interfaces, towards (out) and from (in) "
		       "the remote prefix.", 0);
	render_traffic(out, live, "xdprobe_passive_bytes_total",
		       "Bytes through the monitored interfaces, towards (out) and from (in) the "
		       "remote prefix.", 1);
	prom_family(out, "xdprobe_passive_unmeasured_total", "counter",
		    "Packets or samples the passive programs could not measure or record, by "
		    "reason.");
	for (unsigned int r = 0; r < FLOW_U_MAX; r++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", unmeasured_names[r]);
		prom_sample_u64(out, "xdprobe_passive_unmeasured_total", labels, unmeasured[r]);
	}
	prom_single_u64(out, "xdprobe_passive_series", "gauge",
			"Passive series held in the live state.", live->budget.series);
	prom_single_u64(out, "xdprobe_passive_series_rejected_total", "counter",
			"Window aggregates dropped because the live state was full.",
			live->budget.rejected);
}
