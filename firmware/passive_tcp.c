#include "passive_tcp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tcp_sockets.skel.h"
#include "window_maps.h"
#include "xalloc.h"

#define DRAIN_BATCH 64

struct passive_tcp {
	struct tcp_sockets_bpf *skel;
	struct bpf_link *rtt_link;
	int cgroup_fd;
	unsigned int slot; /* inner maps currently written by the programs: 0 a, 1 b */
	/* drain scratch */
	struct tcp_peer_metric hkeys[DRAIN_BATCH];
	struct latency_hist hvals[DRAIN_BATCH];
	struct tcp_peer ckeys[DRAIN_BATCH];
	struct tcp_peer_counters cvals[DRAIN_BATCH];
};

static int read_port_range(__u16 *lo, __u16 *hi)
{
	unsigned int a, b;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%u %u", &a, &b) == 2 && a <= b && b <= 65535;
	fclose(f);
	if (!ok)
		return -EINVAL;
	*lo = (__u16)a;
	*hi = (__u16)b;
	return 0;
}

static void set_knobs(struct tcp_sockets_bpf *skel, const struct passive_tcp_opts *o)
{
	__u16 lo = 32768, hi = 60999;

	if (read_port_range(&lo, &hi))
		log_warn("cannot read the local port range; assuming %u-%u", lo, hi);
	skel->rodata->netns_cookie = o->netns_cookie;
	skel->rodata->prefix_v4 = (__u8)o->prefix_v4;
	skel->rodata->prefix_v6 = (__u8)o->prefix_v6;
	skel->rodata->ephemeral_lo = lo;
	skel->rodata->ephemeral_hi = hi;
	bpf_map__set_max_entries(skel->maps.hist_a, o->max_peers * TCP_M_COUNT);
	bpf_map__set_max_entries(skel->maps.hist_b, o->max_peers * TCP_M_COUNT);
	bpf_map__set_max_entries(skel->maps.count_a, o->max_peers);
	bpf_map__set_max_entries(skel->maps.count_b, o->max_peers);
}

static int attach_tracing(struct passive_tcp *p)
{
	struct tcp_sockets_bpf *s = p->skel;
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
	} progs[] = {
		{ s->progs.tcp_state_change, &s->links.tcp_state_change },
		{ s->progs.tcp_retransmit, &s->links.tcp_retransmit },
		{ s->progs.tcp_reset_received, &s->links.tcp_reset_received },
		{ s->progs.tcp_reset_sent, &s->links.tcp_reset_sent },
	};

	for (unsigned int i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		*progs[i].link = bpf_program__attach(progs[i].prog);
		if (!*progs[i].link) {
			int err = -errno;

			log_error("cannot attach %s: %s (xdprobe needs BTF tracepoints: "
				  "CONFIG_DEBUG_INFO_BTF=y and a kernel >= 5.8)",
				  bpf_program__name(progs[i].prog), strerror(-err));
			return err;
		}
	}
	return 0;
}

static void attach_rtt(struct passive_tcp *p, const char *cgroup_path)
{
	if (!cgroup_path) {
		log_warn("no cgroup v2 hierarchy: TCP RTT samples are disabled");
		return;
	}
	p->cgroup_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->cgroup_fd < 0) {
		log_warn("cannot open cgroup %s: %s: TCP RTT samples are disabled", cgroup_path,
			 strerror(errno));
		return;
	}
	p->rtt_link = bpf_program__attach_cgroup(p->skel->progs.tcp_rtt_sample, p->cgroup_fd);
	if (!p->rtt_link)
		log_warn("cannot attach the sockops RTT program to %s: %s: TCP RTT samples are "
			 "disabled", cgroup_path, strerror(errno));
}

int passive_tcp_open(struct passive_tcp **out, const struct passive_tcp_opts *o)
{
	struct passive_tcp *p = xcalloc(1, sizeof(*p));
	int err;

	p->cgroup_fd = -1;
	p->skel = tcp_sockets_bpf__open();
	if (!p->skel) {
		err = -errno;
		log_error("cannot open the TCP programs: %s", strerror(-err));
		goto fail;
	}
	set_knobs(p->skel, o);
	err = tcp_sockets_bpf__load(p->skel);
	if (err) {
		log_error("the kernel refused the TCP programs: %s (needs BTF, tp_btf and "
			  "socket storage: Linux >= 5.11 with CONFIG_DEBUG_INFO_BTF=y; run with "
			  "--log-level debug for the verifier log)", strerror(-err));
		goto fail;
	}
	err = attach_tracing(p);
	if (err)
		goto fail;
	attach_rtt(p, o->cgroup_path);
	*out = p;
	return 0;
fail:
	passive_tcp_close(p);
	return err ? err : -EINVAL;
}

bool passive_tcp_has_rtt(const struct passive_tcp *p)
{
	return p->rtt_link != NULL;
}

static void emit_hist(void *ctx, const void *key, const void *value)
{
	const struct tcp_window_sink *sink = ctx;

	sink->hist(sink->ctx, key, value);
}

static void emit_counters(void *ctx, const void *key, const void *value)
{
	const struct tcp_window_sink *sink = ctx;

	sink->counters(sink->ctx, key, value);
}

int passive_tcp_drain(struct passive_tcp *p, const struct tcp_window_sink *sink)
{
	struct tcp_sockets_bpf *s = p->skel;
	const struct window_pair pairs[] = {
		{ s->maps.hist_cur, { s->maps.hist_a, s->maps.hist_b } },
		{ s->maps.count_cur, { s->maps.count_a, s->maps.count_b } },
	};
	const struct window_scratch scratch[] = {
		{ p->hkeys, sizeof(p->hkeys[0]), p->hvals, sizeof(p->hvals[0]), emit_hist },
		{ p->ckeys, sizeof(p->ckeys[0]), p->cvals, sizeof(p->cvals[0]), emit_counters },
	};

	return window_swap_drain(pairs, scratch, 2, &p->slot, DRAIN_BATCH, (void *)sink);
}

void passive_tcp_drops(struct passive_tcp *p, uint64_t out[TCP_DROP_MAX])
{
	percpu_counters_sum(bpf_map__fd(p->skel->maps.drops), TCP_DROP_MAX, out);
}

void passive_tcp_close(struct passive_tcp *p)
{
	if (!p)
		return;
	bpf_link__destroy(p->rtt_link);
	tcp_sockets_bpf__destroy(p->skel);
	if (p->cgroup_fd >= 0)
		close(p->cgroup_fd);
	free(p);
}
