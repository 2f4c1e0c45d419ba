#include "passive_flows.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow_rtt.skel.h"
#include "log.h"
#include "window_maps.h"
#include "xalloc.h"

/* Newer than the 6.1 UAPI headers of Debian 12: tcx links (Linux >= 6.6). */
#define XDP_BPF_TCX_INGRESS 46
#define XDP_BPF_TCX_EGRESS 47

#define DRAIN_BATCH 64
#define TC_HANDLE 0x5844 /* "XD" */
#define TC_PRIORITY 0x5844

struct attached {
	int ifindex;
	int link_fd[2]; /* tcx links, ingress and egress: they detach when closed */
	bool classic;              /* classic TC filters instead of links */
	bool created_hook;         /* we created the clsact qdisc */
};

struct passive_flows {
	struct flow_rtt_bpf *skel;
	struct ring_buffer *events;
	void (*on_event)(void *ctx, const void *record, size_t len);
	void *event_ctx;
	struct attached att[PASSIVE_MAX_IFACES];
	unsigned int n_att;
	unsigned int slot;
	struct flow_prefix_key hkeys[DRAIN_BATCH];
	struct latency_hist hvals[DRAIN_BATCH];
	struct flow_traffic_key tkeys[DRAIN_BATCH];
	struct flow_traffic tvals[DRAIN_BATCH];
};

int passive_parse_ifaces(const char *list, uint8_t role, struct passive_flows_opts *o,
			 char *err, size_t err_size)
{
	char copy[256], *save = NULL, *tok;

	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (strlen(tok) >= IF_NAMESIZE || o->n_ifaces >= PASSIVE_MAX_IFACES) {
			snprintf(err, err_size, "\"%.32s\": interface names are at most %d bytes, "
				 "and at most %d interfaces", tok, IF_NAMESIZE - 1,
				 PASSIVE_MAX_IFACES);
			return -1;
		}
		snprintf(o->ifaces[o->n_ifaces].name, IF_NAMESIZE, "%s", tok);
		o->ifaces[o->n_ifaces++].role = role;
	}
	return 0;
}

/* A tcx link (libbpf 1.1 has no API for it yet, the syscall does). */
static int tcx_attach(struct bpf_program *prog, int ifindex, int attach_type)
{
	return bpf_link_create(bpf_program__fd(prog), ifindex, attach_type, NULL);
}

static void close_links(struct attached *a)
{
	for (unsigned int i = 0; i < 2; i++) {
		if (a->link_fd[i] >= 0)
			close(a->link_fd[i]);
		a->link_fd[i] = -1;
	}
}

static int classic_attach(struct bpf_program *prog, struct attached *a, enum bpf_tc_attach_point p)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex, .attach_point = p);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
			    .prog_fd = bpf_program__fd(prog), .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	if (!err)
		a->created_hook = true;
	return bpf_tc_attach(&hook, &opts);
}

static int attach_iface(struct passive_flows *p, const struct passive_iface *pi)
{
	struct attached *a = &p->att[p->n_att];
	int err;

	a->ifindex = (int)if_nametoindex(pi->name);
	if (!a->ifindex) {
		log_error("passive: no interface \"%s\" in this network namespace: fix [passive] "
			  "lan/wan", pi->name);
		return -ENODEV;
	}
	err = bpf_map_update_elem(bpf_map__fd(p->skel->maps.iface_roles), &a->ifindex, &pi->role,
				  BPF_ANY);
	if (err)
		return -errno;
	p->n_att++; /* from here on, close() undoes whatever got attached */
	a->link_fd[0] = tcx_attach(p->skel->progs.flow_ingress, a->ifindex, XDP_BPF_TCX_INGRESS);
	a->link_fd[1] = tcx_attach(p->skel->progs.flow_egress, a->ifindex, XDP_BPF_TCX_EGRESS);
	if (a->link_fd[0] < 0 || a->link_fd[1] < 0) { /* a kernel without tcx (< 6.6) */
		close_links(a);
		a->classic = true;
		err = classic_attach(p->skel->progs.flow_ingress, a, BPF_TC_INGRESS);
		if (!err)
			err = classic_attach(p->skel->progs.flow_egress, a, BPF_TC_EGRESS);
		if (err) {
			log_error("passive: cannot attach to %s: %s", pi->name, strerror(-err));
			return err;
		}
	}
	log_info("passive RTT on %s (%s side, %s)", pi->name,
		 pi->role == FLOW_ROLE_WAN ? "WAN" : "LAN", a->classic ? "tc filter" : "tcx link");
	return 0;
}

static int deliver_event(void *ctx, void *data, size_t len)
{
	struct passive_flows *p = ctx;

	p->on_event(p->event_ctx, data, len);
	return 0;
}

int passive_flows_events_fd(const struct passive_flows *p)
{
	return p->events ? ring_buffer__epoll_fd(p->events) : -1;
}

int passive_flows_consume(struct passive_flows *p)
{
	int n = p->events ? ring_buffer__consume(p->events) : 0;

	return n < 0 ? n : 0;
}

int passive_flows_open(struct passive_flows **out, const struct passive_flows_opts *o)
{
	struct passive_flows *p = xcalloc(1, sizeof(*p));
	int err = 0;

	for (unsigned int i = 0; i < PASSIVE_MAX_IFACES; i++)
		p->att[i].link_fd[0] = p->att[i].link_fd[1] = -1;
	p->skel = flow_rtt_bpf__open();
	if (!p->skel) {
		err = -errno;
		goto fail;
	}
	p->skel->rodata->prefix_v4 = (__u8)o->prefix_v4;
	p->skel->rodata->prefix_v6 = (__u8)o->prefix_v6;
	p->skel->rodata->sample_interval_ns = o->sample_interval_ns;
	p->skel->rodata->events_enabled = o->on_event != NULL;
	p->on_event = o->on_event;
	p->event_ctx = o->event_ctx;
	bpf_map__set_max_entries(p->skel->maps.hist_a, o->max_prefixes);
	bpf_map__set_max_entries(p->skel->maps.hist_b, o->max_prefixes);
	bpf_map__set_max_entries(p->skel->maps.traffic_a, o->max_prefixes);
	bpf_map__set_max_entries(p->skel->maps.traffic_b, o->max_prefixes);
	err = flow_rtt_bpf__load(p->skel);
	if (err) {
		log_error("the kernel refused the passive RTT programs: %s (run with --log-level "
			  "debug for the verifier log)", strerror(-err));
		goto fail;
	}
	if (p->on_event) {
		p->events = ring_buffer__new(bpf_map__fd(p->skel->maps.events), deliver_event, p,
					     NULL);
		if (!p->events) {
			err = -errno;
			goto fail;
		}
	}
	for (unsigned int i = 0; i < o->n_ifaces && !err; i++)
		err = attach_iface(p, &o->ifaces[i]);
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	passive_flows_close(p);
	return err ? err : -EINVAL;
}

bool passive_flows_link_based(const struct passive_flows *p)
{
	for (unsigned int i = 0; i < p->n_att; i++)
		if (p->att[i].classic)
			return false;
	return true;
}

static void emit_hist(void *ctx, const void *key, const void *value)
{
	const struct flow_window_sink *sink = ctx;

	sink->hist(sink->ctx, key, value);
}

static void emit_traffic(void *ctx, const void *key, const void *value)
{
	const struct flow_window_sink *sink = ctx;

	sink->traffic(sink->ctx, key, value);
}

int passive_flows_drain(struct passive_flows *p, const struct flow_window_sink *sink)
{
	struct flow_rtt_bpf *s = p->skel;
	const struct window_pair pairs[] = {
		{ s->maps.hist_cur, { s->maps.hist_a, s->maps.hist_b } },
		{ s->maps.traffic_cur, { s->maps.traffic_a, s->maps.traffic_b } },
	};
	const struct window_scratch scratch[] = {
		{ p->hkeys, sizeof(p->hkeys[0]), p->hvals, sizeof(p->hvals[0]), emit_hist },
		{ p->tkeys, sizeof(p->tkeys[0]), p->tvals, sizeof(p->tvals[0]), emit_traffic },
	};

	return window_swap_drain(pairs, scratch, 2, &p->slot, DRAIN_BATCH, (void *)sink);
}

void passive_flows_unmeasured(struct passive_flows *p, uint64_t out[FLOW_U_MAX])
{
	percpu_counters_sum(bpf_map__fd(p->skel->maps.unmeasured), FLOW_U_MAX, out);
}

static void classic_detach(struct attached *a)
{
	static const enum bpf_tc_attach_point points[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };

	for (unsigned int i = 0; i < 2; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
				    .attach_point = points[i]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
				    .priority = TC_PRIORITY);

		bpf_tc_detach(&hook, &opts);
	}
	if (a->created_hook) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
}

void passive_flows_close(struct passive_flows *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->n_att; i++) {
		close_links(&p->att[i]);
		if (p->att[i].classic)
			classic_detach(&p->att[i]);
	}
	ring_buffer__free(p->events);
	flow_rtt_bpf__destroy(p->skel);
	free(p);
}
