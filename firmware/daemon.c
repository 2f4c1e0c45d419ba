#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_passive.h"
#include "api_query.h"
#include "flow_metrics.h"
#include "log.h"
#include "process_metrics.h"
#include "prom.h"
#include "tcp_metrics.h"
#include "version.h"

static void on_tick(struct loop_op *op, int res);
static void on_events(struct loop_op *op, int res);

static void arm_events(struct daemon *d)
{
	int fd = d->flows ? passive_flows_events_fd(d->flows) : -1;
	struct io_uring_sqe *sqe;

	if (fd < 0)
		return;
	sqe = loop_sqe(&d->loop, &d->events_op);
	if (sqe)
		io_uring_prep_poll_add(sqe, fd, POLLIN);
}

static void on_events(struct loop_op *op, int res)
{
	struct daemon *d = (struct daemon *)((char *)op - offsetof(struct daemon, events_op));
	int err = passive_flows_consume(d->flows);

	if (err)
		log_warn("reading the per-flow RTT events failed: %s", strerror(-err));
	arm_events(d);
}

void daemon_flow_event(void *ctx, const void *record, size_t len)
{
	struct daemon *d = ctx;

	top_flows_add(&d->top_flows, record, len, loop_now_ns());
}
static void on_signal(struct loop_op *op, int res);

static void arm_signal(struct daemon *d)
{
	struct io_uring_sqe *sqe = loop_sqe(&d->loop, &d->signal_op);

	if (sqe)
		io_uring_prep_read(sqe, d->signal_fd, &d->siginfo, sizeof(d->siginfo), 0);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One window's aggregates go to the live state and to the history. */
static void window_hist(void *ctx, const struct tcp_peer_metric *key, const struct latency_hist *h)
{
	struct daemon *d = ctx;

	tcp_live_add_hist(&d->tcp_live, key, h, d->drain_ns);
	history_tcp_hist(d->history, &d->tcp_live, key, h, d->window_start_ms);
}

static void window_counters(void *ctx, const struct tcp_peer *key,
			    const struct tcp_peer_counters *c)
{
	struct daemon *d = ctx;

	tcp_live_add_counters(&d->tcp_live, key, c, d->drain_ns);
	history_tcp_counters(d->history, &d->tcp_live, key, c, d->window_start_ms);
}

static void window_flow_hist(void *ctx, const struct flow_prefix_key *key,
			     const struct latency_hist *h)
{
	struct daemon *d = ctx;

	flow_live_add_hist(&d->flow_live, key, h, d->drain_ns);
	history_flow_hist(d->history, &d->flow_live, key, h, d->window_start_ms);
}

static void window_flow_traffic(void *ctx, const struct flow_traffic_key *key,
				const struct flow_traffic *t)
{
	struct daemon *d = ctx;

	flow_live_add_traffic(&d->flow_live, key, t, d->drain_ns);
	history_flow_traffic(d->history, &d->flow_live, key, t, d->window_start_ms);
}

static void drain_failed(struct daemon *d, const char *what, int err)
{
	d->drain_errors++;
	log_warn("draining the %s maps failed: %s", what, strerror(-err));
}

static void drain_window(struct daemon *d, uint64_t now)
{
	const struct tcp_window_sink tcp_sink = { window_hist, window_counters, d };
	const struct flow_window_sink flow_sink = { window_flow_hist, window_flow_traffic, d };
	int err;

	d->drain_ns = now;
	if (d->tcp && (err = passive_tcp_drain(d->tcp, &tcp_sink)))
		drain_failed(d, "TCP", err);
	if (d->flows && (err = passive_flows_drain(d->flows, &flow_sink)))
		drain_failed(d, "passive RTT", err);
	tcp_live_expire(&d->tcp_live, now);
	flow_live_expire(&d->flow_live, now);
	top_flows_expire(&d->top_flows, now);
	d->window_start_ms = wall_ms();
}

static void on_tick(struct loop_op *op, int res)
{
	struct daemon *d = (struct daemon *)((char *)op - offsetof(struct daemon, tick_op));
	uint64_t start = loop_now_ns();

	drain_window(d, start);
	d->windows++;
	d->last_drain_ns = loop_now_ns() - start;
	scgi_server_reap(d->scgi, start);
	d->next_tick_ns += d->cfg.window_ns;
	if (d->next_tick_ns <= start) { /* overran: skip the missed windows */
		d->windows_late++;
		d->next_tick_ns = start + d->cfg.window_ns;
	}
	loop_timeout_at(&d->loop, &d->tick_op, d->next_tick_ns);
}

static void on_signal(struct loop_op *op, int res)
{
	struct daemon *d = (struct daemon *)((char *)op - offsetof(struct daemon, signal_op));

	if (res != sizeof(d->siginfo)) {
		arm_signal(d);
		return;
	}
	log_info("signal %u received, shutting down", d->siginfo.ssi_signo);
	d->loop.stop = true;
}

int daemon_start(struct daemon *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d->signal_fd < 0)
		return -errno;
	d->signal_op.cb = on_signal;
	d->tick_op.cb = on_tick;
	d->events_op.cb = on_events;
	arm_signal(d);
	arm_events(d);
	d->window_start_ms = wall_ms();
	d->next_tick_ns = loop_now_ns() + d->cfg.window_ns;
	loop_timeout_at(&d->loop, &d->tick_op, d->next_tick_ns);
	return 0;
}

static void render_self(struct daemon *d, struct buf *out)
{
	char storage[192];
	struct buf labels;

	buf_init_fixed(&labels, storage, sizeof(storage));
	prom_label(&labels, "version", XDPROBE_VERSION);
	prom_label(&labels, "gateway", d->cfg.gateway);
	prom_family(out, "xdprobe_build_info", "gauge",
		    "Constant 1, labelled with the version and the gateway name.");
	prom_sample_u64(out, "xdprobe_build_info", labels.data, 1);
	prom_single_f64(out, "xdprobe_window_seconds", "gauge", "Aggregation window length.",
			(double)d->cfg.window_ns / 1e9);
	prom_single_u64(out, "xdprobe_windows_total", "counter", "Windows drained since start.",
			d->windows);
	prom_single_u64(out, "xdprobe_windows_late_total", "counter",
			"Window ticks that came later than a whole window.", d->windows_late);
	prom_single_u64(out, "xdprobe_drain_errors_total", "counter", "Failed map drains.",
			d->drain_errors);
	prom_single_f64(out, "xdprobe_drain_duration_seconds", "gauge",
			"Time the last window's drain of the kernel maps took.",
			(double)d->last_drain_ns / 1e9);
	prom_family(out, "xdprobe_feature_enabled", "gauge",
		    "1 when a measurement is active, 0 when disabled or unsupported here.");
	prom_sample_u64(out, "xdprobe_feature_enabled", "feature=\"tcp_sockets\"", d->tcp != NULL);
	prom_sample_u64(out, "xdprobe_feature_enabled", "feature=\"tcp_rtt\"",
			d->tcp && passive_tcp_has_rtt(d->tcp));
	prom_sample_u64(out, "xdprobe_feature_enabled", "feature=\"passive_rtt\"", d->flows != NULL);
	prom_single_u64(out, "xdprobe_http_requests_total", "counter",
			"Requests the daemon answered for lighttpd.", scgi_server_requests(d->scgi));
}

static void render_metrics(struct daemon *d, struct buf *out)
{
	uint64_t drops[TCP_DROP_MAX] = { 0 };

	render_self(d, out);
	process_metrics_render(out);
	if (d->tcp)
		passive_tcp_drops(d->tcp, drops);
	tcp_metrics_render(out, &d->tcp_live, drops);
	if (d->flows) {
		uint64_t unmeasured[FLOW_U_MAX];

		passive_flows_unmeasured(d->flows, unmeasured);
		flow_metrics_render(out, &d->flow_live, unmeasured);
		prom_single_u64(out, "xdprobe_passive_flow_events_total", "counter",
				"Per-flow RTT events read for the top-flows view.",
				d->top_flows.events);
		prom_single_u64(out, "xdprobe_passive_top_flows", "gauge",
				"Flows held for the top-flows view.", d->top_flows.count);
		prom_single_u64(out, "xdprobe_passive_top_flows_evicted_total", "counter",
				"Flows forgotten to make room in the top-flows table.",
				d->top_flows.evicted);
	}
	history_render(d->history, out);
}

static int path_is(const char *uri, const char *path)
{
	size_t n = strlen(path);

	return strncmp(uri, path, n) == 0 && (uri[n] == '\0' || uri[n] == '?');
}

void daemon_handle(void *ctx, const struct scgi_request *req, struct scgi_response *resp)
{
	struct daemon *d = ctx;

	if (path_is(req->uri, "/metrics")) {
		if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
			resp->status = 405;
			buf_puts(&resp->body, "only GET and HEAD are allowed here\n");
			return;
		}
		resp->content_type = PROM_CONTENT_TYPE;
		render_metrics(d, &resp->body);
		return;
	}
	if (path_is(req->uri, "/api/v1/query")) {
		api_query(d->sqlro, req, resp);
		return;
	}
	if (path_is(req->uri, "/api/v1/passive/top-flows")) {
		api_passive_top_flows(d->flows ? &d->top_flows : NULL, req, resp);
		return;
	}
	if (path_is(req->uri, "/api/v1/passive/ipv4-map")) {
		api_passive_map(d->flows ? &d->flow_live : NULL, req, resp);
		return;
	}
	resp->status = 404;
	buf_puts(&resp->body, "not found\n");
}
