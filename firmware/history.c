#include "history.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "prom.h"
#include "storage.h"
#include "flow_metrics.h"
#include "tcp_metrics.h"

struct history {
	struct storage *storage;
	uint64_t no_series; /* windows dropped: their series could not be created */
};

static int make_parent_dir(const char *path)
{
	char copy[sizeof(((struct config *)0)->storage_path)];

	snprintf(copy, sizeof(copy), "%s", path);
	if (mkdir(dirname(copy), 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

struct history *history_open(const struct config *cfg)
{
	struct storage_opts o = {
		.path = cfg->storage_path,
		.flush_interval_ms = (uint32_t)(cfg->storage_flush_ns / 1000000),
		.retention_ms = { (int64_t)(cfg->storage_retention_ns[0] / 1000000),
				  (int64_t)(cfg->storage_retention_ns[1] / 1000000),
				  (int64_t)(cfg->storage_retention_ns[2] / 1000000) },
		.size_cap_bytes = (uint64_t)cfg->storage_size_cap_mib << 20,
	};
	char err[STORAGE_ERR_MAX];
	struct history *h;
	int rc;

	if (!cfg->storage_path[0])
		return NULL;
	rc = make_parent_dir(cfg->storage_path);
	if (rc) {
		log_error("history disabled: cannot create the directory of %s: %s",
			  cfg->storage_path, strerror(-rc));
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (storage_open(&h->storage, &o, err)) {
		log_error("history disabled: %s", err);
		free(h);
		return NULL;
	}
	log_info("history in %s", cfg->storage_path);
	return h;
}

/* Finds (creates) a series; -1, counted, when it cannot be stored. */
static int64_t series_id(struct history *h, const char *metric, int kind,
			 const struct storage_label *labels, size_t n)
{
	int64_t id;

	if (storage_series(h->storage, metric, kind, labels, n, &id)) {
		h->no_series++; /* e.g. a full disk: counted, never silent */
		return -1;
	}
	return id;
}

static void put_distribution(struct history *h, const char *metric,
			     const struct storage_label *labels, size_t n,
			     const struct latency_hist *hist, int64_t t_ms)
{
	struct storage_window w = { .t_ms = t_ms, .hist = hist, .lost = -1, .dup = -1,
				    .reorder = -1 };

	if (!hist->count)
		return;
	w.series_id = series_id(h, metric, STORAGE_KIND_DISTRIBUTION, labels, n);
	if (w.series_id < 0)
		return;
	w.count = (int64_t)hist->count;
	w.sum = (double)hist->sum_ns / 1e9;
	w.sumsq = (double)hist->sumsq_us2 / 1e12;
	w.min = (double)hist->min_ns / 1e9;
	w.max = (double)hist->max_ns / 1e9;
	storage_put(h->storage, &w); /* a full queue is counted by storage */
}

/* An increase of a counter series; an absent row reads as zero increase. */
static void put_counter(struct history *h, const char *metric, const struct storage_label *labels,
			size_t n, uint64_t increase, int64_t t_ms)
{
	struct storage_window w = { .t_ms = t_ms, .count = 1, .sum = (double)increase,
				    .sumsq = NAN, .min = NAN, .max = NAN,
				    .lost = -1, .dup = -1, .reorder = -1 };

	if (!increase)
		return;
	w.series_id = series_id(h, metric, STORAGE_KIND_COUNTER, labels, n);
	if (w.series_id >= 0)
		storage_put(h->storage, &w);
}

static void peer_labels(const struct tcp_live *live, const struct tcp_peer *peer,
			struct tcp_peer_text *t, struct storage_label labels[3])
{
	tcp_peer_text(live, peer, t);
	labels[0] = (struct storage_label){ "direction", t->direction };
	labels[1] = (struct storage_label){ "remote", t->remote };
	labels[2] = (struct storage_label){ "port", t->port };
}

void history_tcp_hist(struct history *h, const struct tcp_live *live,
		      const struct tcp_peer_metric *key, const struct latency_hist *hist,
		      int64_t t_ms)
{
	struct storage_label labels[3];
	struct tcp_peer_text t;

	if (!h)
		return;
	peer_labels(live, &key->peer, &t, labels);
	put_distribution(h, tcp_hist_family_name(key->metric), labels, 3, hist, t_ms);
}

void history_tcp_counters(struct history *h, const struct tcp_live *live,
			  const struct tcp_peer *key, const struct tcp_peer_counters *c, int64_t t_ms)
{
	struct storage_label labels[3];
	struct tcp_peer_text t;

	if (!h)
		return;
	peer_labels(live, key, &t, labels);
	for (unsigned int i = 0; i < TCP_COUNTER_FAMILIES; i++)
		put_counter(h, tcp_counter_families[i].name, labels, 3,
			    *(const uint64_t *)((const char *)c + tcp_counter_families[i].offset),
			    t_ms);
}

static void flow_labels(const struct flow_live *live, uint8_t role, uint8_t family,
			const uint8_t *addr, char remote[PREFIX_TEXT_MAX],
			struct storage_label labels[2])
{
	prefix_text(family, addr, family == AF_INET6 ? live->prefix_v6 : live->prefix_v4, remote,
		    PREFIX_TEXT_MAX);
	labels[0] = (struct storage_label){ "side", flow_role_name(role) };
	labels[1] = (struct storage_label){ "remote", remote };
}

void history_flow_hist(struct history *h, const struct flow_live *live,
		       const struct flow_prefix_key *key, const struct latency_hist *hist,
		       int64_t t_ms)
{
	struct storage_label labels[3];
	char remote[PREFIX_TEXT_MAX];

	if (!h)
		return;
	flow_labels(live, key->role, key->family, key->addr, remote, labels);
	labels[2] = (struct storage_label){ "method", flow_method_name(key->method) };
	put_distribution(h, "xdprobe_passive_rtt_seconds", labels, 3, hist, t_ms);
}

void history_flow_traffic(struct history *h, const struct flow_live *live,
			  const struct flow_traffic_key *key, const struct flow_traffic *t,
			  int64_t t_ms)
{
	struct storage_label labels[3];
	char remote[PREFIX_TEXT_MAX];

	if (!h)
		return;
	flow_labels(live, key->role, key->family, key->addr, remote, labels);
	labels[2] = (struct storage_label){ "direction", "out" };
	put_counter(h, "xdprobe_passive_packets_total", labels, 3, t->packets_out, t_ms);
	put_counter(h, "xdprobe_passive_bytes_total", labels, 3, t->bytes_out, t_ms);
	labels[2] = (struct storage_label){ "direction", "in" };
	put_counter(h, "xdprobe_passive_packets_total", labels, 3, t->packets_in, t_ms);
	put_counter(h, "xdprobe_passive_bytes_total", labels, 3, t->bytes_in, t_ms);
}

void history_render(struct history *h, struct buf *out)
{
	struct storage_stats st;

	prom_single_u64(out, "xdprobe_storage_enabled", "gauge",
			"1 when windows are written to the on-device history.", h != NULL);
	if (!h)
		return;
	storage_stats(h->storage, &st);
	prom_single_u64(out, "xdprobe_storage_rows_written_total", "counter",
			"Windows committed to the database.", st.rows_written);
	prom_single_u64(out, "xdprobe_storage_transactions_total", "counter",
			"Write transactions committed.", st.transactions);
	prom_single_u64(out, "xdprobe_storage_write_errors_total", "counter",
			"Write transactions that failed (rows kept for retry).", st.write_errors);
	prom_family(out, "xdprobe_storage_dropped_total", "counter",
		    "Windows that could not be stored, by reason.");
	prom_sample_u64(out, "xdprobe_storage_dropped_total", "reason=\"queue_full\"",
			st.dropped_queue_full);
	prom_sample_u64(out, "xdprobe_storage_dropped_total", "reason=\"backlog\"",
			st.dropped_backlog);
	prom_sample_u64(out, "xdprobe_storage_dropped_total", "reason=\"invalid\"",
			st.dropped_invalid);
	prom_sample_u64(out, "xdprobe_storage_dropped_total", "reason=\"series_not_created\"",
			h->no_series);
	prom_single_u64(out, "xdprobe_storage_pending", "gauge",
			"Windows in memory waiting to be written.", st.pending);
	prom_single_u64(out, "xdprobe_storage_bytes", "gauge",
			"Size of the database and its WAL on disk.", st.db_bytes);
}

void history_close(struct history *h)
{
	if (!h)
		return;
	storage_close(h->storage);
	free(h);
}
