// SPDX-License-Identifier: GPL-2.0-only
/*
 * Passive RTT of all traffic crossing the gateway (epping-class), on TC:
 * flow_egress records what leaves through an interface, flow_ingress
 * matches what comes back (see flow_rtt.h for the contract).
 *
 * Methods: TCP timestamps (TSval -> TSecr), TCP SEQ/ACK for flows without
 * timestamps (one outstanding sample per flow, Karn), ICMP/ICMPv6 echo,
 * DNS over UDP by id, QUIC spin-bit edges (ingress).
 *
 * Samples go to the inner histogram map hist_cur points at, traffic to the
 * inner map traffic_cur points at; the daemon swaps and drains them once
 * per window exactly like tcp_sockets' hist_cur/count_cur. Both programs
 * only observe and always return TC_ACT_OK.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flow_rtt.h"
#include "packet_parse.h"
#include "prefix.h"
#include "window_hist.h"

#define TC_ACT_OK 0
#define E2BIG 7
#define EEXIST 17
#define AF_INET 2
#define AF_INET6 10

#define FLOW_TABLE_SIZE 16384 /* LRU: oldest flows are evicted */
#define PENDING_SIZE 16384    /* LRU: oldest unanswered samples are evicted */
#define WINDOW_KEYS 4096      /* prefix x role (x method) keys per window */
#define PARSE_PULL_MAX 256    /* linear bytes pulled when headers sit in frags */
#define QUIC_NOSPIN_PACKETS 32 /* short-header packets before "spin never moved" */
#define QUIC_SPIN_BIT 0x20

/* Knobs set by the daemon before load. */
const volatile __u8 prefix_v4 = 24;  /* remote prefix length, 24..32 */
const volatile __u8 prefix_v6 = 48;  /* 48..128 */
const volatile __u64 sample_interval_ns = 10 * 1000 * 1000; /* per-flow gap between samples */
const volatile __u8 events_enabled = 0;
const volatile __u64 event_interval_ns = 1000 * 1000 * 1000; /* per-flow gap between events */

/* A flow as seen on egress: local = source, remote = destination. */
struct flow_key {
	__u8 local[16];
	__u8 remote[16];
	__u16 local_port; /* host byte order; ICMP: the echo identifier */
	__u16 remote_port; /* ICMP: 0 */
	__u8 family;
	__u8 proto;
	__u8 pad[2];
};

#define FLOW_F_TS 0x01           /* last_tsval holds the newest TSval sent */
#define FLOW_F_TS_AWAIT 0x02     /* await_tsval recorded, its echo not seen yet */
#define FLOW_F_SEQ_INIT 0x04     /* seq_high holds the highest end sequence sent */
#define FLOW_F_SEQ_PENDING 0x08  /* a SEQ sample (seq_sample, seq_sent_ns) is outstanding */
#define FLOW_F_SEQ_RECOVERY 0x10 /* retransmitted: no sample until seq_sample is acked */
#define FLOW_F_SPIN_INIT 0x20    /* spin holds the last spin value seen */
#define FLOW_F_SPIN_EDGE 0x40    /* spin_edge_ns holds the time of the last edge */
#define FLOW_F_NOSPIN_COUNTED 0x80

struct flow_state {
	__u64 last_sample_ns; /* rate limit: last sample taken (recorded on egress) */
	__u64 last_event_ns;
	__u64 seq_sent_ns;
	__u64 spin_edge_ns;
	__u32 last_tsval;
	__u32 await_tsval;
	__u32 seq_high;
	__u32 seq_sample;
	__u32 quic_packets; /* short-header packets seen on ingress */
	__u8 flags;
	__u8 spin;
	__u8 pad[2];
};

/* A timestamp waiting for its echo. */
struct pending_key {
	struct flow_key flow;
	__u32 id;     /* TSval, ICMP sequence, DNS id */
	__u8 method;  /* enum flow_method */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);  /* ifindex */
	__type(value, __u8); /* FLOW_ROLE_* */
} iface_roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOW_TABLE_SIZE);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PENDING_SIZE);
	__type(key, struct pending_key);
	__type(value, __u64); /* bpf_ktime_get_ns() on egress */
} pending_ts SEC(".maps");

struct hist_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WINDOW_KEYS);
	__type(key, struct flow_prefix_key);
	__type(value, struct latency_hist);
} hist_a SEC(".maps"), hist_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct hist_map);
} hist_cur SEC(".maps") = { .values = { &hist_a } };

struct traffic_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WINDOW_KEYS);
	__type(key, struct flow_traffic_key);
	__type(value, struct flow_traffic);
} traffic_a SEC(".maps"), traffic_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct traffic_map);
} traffic_cur SEC(".maps") = { .values = { &traffic_a } };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_U_MAX);
	__type(key, __u32);
	__type(value, __u64);
} unmeasured SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void count_unmeasured(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&unmeasured, &reason);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline void set_prefix(__u8 *dst, const __u8 *remote, __u8 family)
{
	if (family == AF_INET6) {
		__builtin_memcpy(dst, remote, 16);
		mask_prefix(dst, prefix_v6, 128);
	} else if (family == AF_INET) {
		__builtin_memcpy(dst, remote, 4);
		mask_prefix(dst, prefix_v4, 32);
	}
}

/* Every packet of a monitored interface, measured or not. Frames without
 * known addresses (non-IP, truncated before them) count under family 0. */
static __always_inline void count_traffic(const struct pkt_info *pi, __u8 role, bool egress,
					  __u32 len)
{
	static const struct flow_traffic empty;
	struct flow_traffic_key k = {};
	struct flow_traffic *t;
	void *map = window_current(&traffic_cur);

	if (!map)
		return;
	if (pi->family) {
		k.family = pi->family;
		set_prefix(k.addr, egress ? pi->daddr : pi->saddr, pi->family);
	}
	k.role = role;
	t = bpf_map_lookup_elem(map, &k);
	if (!t) {
		if (bpf_map_update_elem(map, &k, &empty, BPF_NOEXIST) == -E2BIG) {
			count_unmeasured(FLOW_U_TRAFFIC_FULL);
			return;
		}
		t = bpf_map_lookup_elem(map, &k);
		if (!t)
			return;
	}
	if (egress) {
		__sync_fetch_and_add(&t->packets_out, 1);
		__sync_fetch_and_add(&t->bytes_out, len);
	} else {
		__sync_fetch_and_add(&t->packets_in, 1);
		__sync_fetch_and_add(&t->bytes_in, len);
	}
}

static __always_inline void emit_event(struct flow_state *st, const struct flow_key *fk, __u8 role,
				       __u8 method, __u64 rtt, __u64 now)
{
	struct flow_rtt_event *e;

	if (!events_enabled || !st)
		return;
	if (st->last_event_ns && now - st->last_event_ns < event_interval_ns)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_unmeasured(FLOW_U_EVENT_DROPPED);
		return;
	}
	st->last_event_ns = now;
	e->version = FLOW_EVENT_VERSION;
	e->family = fk->family;
	e->role = role;
	e->method = method;
	e->protocol = fk->proto;
	e->pad = 0;
	__builtin_memcpy(e->local, fk->local, 16);
	__builtin_memcpy(e->remote, fk->remote, 16);
	e->local_port = fk->local_port;
	e->remote_port = fk->remote_port;
	e->pad2 = 0;
	e->rtt_ns = rtt;
	e->time_ns = now;
	bpf_ringbuf_submit(e, 0);
}

/* One RTT sample: into the window's histogram of the remote prefix. */
static __always_inline void record(const struct flow_key *fk, struct flow_state *st, __u8 role,
				   __u8 method, __u64 rtt, __u64 now)
{
	static const struct latency_hist empty = { .min_ns = ~0ULL };
	struct flow_prefix_key hk = {};
	struct latency_hist *h;
	void *map = window_current(&hist_cur);

	if (!map)
		return;
	set_prefix(hk.addr, fk->remote, fk->family);
	hk.family = fk->family;
	hk.role = role;
	hk.method = method;
	h = bpf_map_lookup_elem(map, &hk);
	if (!h) {
		/* NOEXIST: a concurrent creator wins, we then add to its entry */
		if (bpf_map_update_elem(map, &hk, &empty, BPF_NOEXIST) == -E2BIG) {
			count_unmeasured(FLOW_U_HIST_FULL);
			return;
		}
		h = bpf_map_lookup_elem(map, &hk);
		if (!h)
			return;
	}
	window_hist_add(h, rtt);
	emit_event(st, fk, role, method, rtt, now);
}

static __always_inline struct flow_state *flow_get(const struct flow_key *fk, bool create)
{
	static const struct flow_state empty;
	struct flow_state *st = bpf_map_lookup_elem(&flows, fk);
	long err;

	if (st || !create)
		return st;
	err = bpf_map_update_elem(&flows, fk, &empty, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		count_unmeasured(FLOW_U_FLOW_TABLE_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&flows, fk);
}

static __always_inline bool rate_limited(const struct flow_state *st, __u64 now)
{
	return st->last_sample_ns && now - st->last_sample_ns < sample_interval_ns;
}

/* Egress: remember when id left; false if the pending map refused it. */
static __always_inline bool pending_add(const struct flow_key *fk, __u32 id, __u8 method, __u64 now)
{
	struct pending_key pk = { .flow = *fk, .id = id, .method = method };
	long err = bpf_map_update_elem(&pending_ts, &pk, &now, BPF_NOEXIST);

	if (err && err != -EEXIST) {
		count_unmeasured(FLOW_U_PENDING_FULL);
		return false;
	}
	return true;
}

/* Ingress: the RTT of id if it was pending (and forget it), else 0. */
static __always_inline __u64 pending_take(const struct flow_key *fk, __u32 id, __u8 method,
					  __u64 now)
{
	struct pending_key pk = { .flow = *fk, .id = id, .method = method };
	__u64 *t = bpf_map_lookup_elem(&pending_ts, &pk);
	__u64 sent;

	if (!t)
		return 0;
	sent = *t;
	bpf_map_delete_elem(&pending_ts, &pk);
	/* 0 is "no match" to the callers: a same-nanosecond echo counts as 1 ns */
	return now > sent ? now - sent : 1;
}

/* Egress of a request-like packet (ICMP echo request, DNS query). */
static __always_inline void request_out(const struct flow_key *fk, __u32 id, __u8 method, __u64 now)
{
	struct flow_state *st = flow_get(fk, true);

	if (!st)
		return;
	if (rate_limited(st, now)) {
		count_unmeasured(FLOW_U_RATE_LIMITED);
		return;
	}
	if (pending_add(fk, id, method, now))
		st->last_sample_ns = now;
}

/* Ingress of the matching reply. */
static __always_inline void reply_in(const struct flow_key *fk, __u32 id, __u8 method, __u8 role,
				     __u64 now)
{
	struct flow_state *st = bpf_map_lookup_elem(&flows, fk);
	__u64 rtt = pending_take(fk, id, method, now);

	if (rtt)
		record(fk, st, role, method, rtt, now);
	else if (st)
		count_unmeasured(FLOW_U_NO_MATCH);
}

static __always_inline void flow_forget(const struct flow_key *fk)
{
	struct flow_state *st = bpf_map_lookup_elem(&flows, fk);

	if (!st)
		return;
	if (st->flags & FLOW_F_TS_AWAIT) { /* the one pending entry we know cheaply */
		struct pending_key pk = { .flow = *fk, .id = st->await_tsval, .method = FLOW_M_TCP_TS };

		bpf_map_delete_elem(&pending_ts, &pk);
	}
	bpf_map_delete_elem(&flows, fk);
}

static __always_inline void tcp_egress(const struct pkt_info *pi, const struct flow_key *fk, __u64 now)
{
	struct flow_state *st;
	__u32 seg_len, end;

	if (pi->tcp_flags & (PARSE_TCP_FIN | PARSE_TCP_RST)) {
		flow_forget(fk);
		return;
	}
	seg_len = pi->payload_len + ((pi->tcp_flags & PARSE_TCP_SYN) ? 1 : 0);
	if (!pi->has_ts && !seg_len) {
		count_unmeasured(FLOW_U_TCP_NO_TS_NO_SEQ); /* a pure ACK: nothing to time */
		return;
	}
	st = flow_get(fk, true);
	if (!st)
		return;
	if (pi->has_ts) {
		/* Only a newer TSval (wrap-safe) starts a sample; pure ACKs too. */
		if ((st->flags & FLOW_F_TS) && (__s32)(pi->tsval - st->last_tsval) <= 0)
			return;
		st->last_tsval = pi->tsval;
		st->flags |= FLOW_F_TS;
		if (rate_limited(st, now)) {
			count_unmeasured(FLOW_U_RATE_LIMITED);
			return;
		}
		if (pending_add(fk, pi->tsval, FLOW_M_TCP_TS, now)) {
			st->last_sample_ns = now;
			st->await_tsval = pi->tsval;
			st->flags |= FLOW_F_TS_AWAIT;
		}
		return;
	}
	/* SEQ/ACK: a segment ending beyond everything sent so far is new data. */
	end = pi->seq + seg_len;
	if ((st->flags & FLOW_F_SEQ_INIT) && (__s32)(end - st->seq_high) <= 0) {
		/* Retransmission (Karn): drop the outstanding sample and take no
		 * new one until everything sent so far has been acked. */
		st->flags &= ~FLOW_F_SEQ_PENDING;
		st->flags |= FLOW_F_SEQ_RECOVERY;
		st->seq_sample = st->seq_high;
		return;
	}
	st->seq_high = end;
	st->flags |= FLOW_F_SEQ_INIT;
	if (st->flags & (FLOW_F_SEQ_PENDING | FLOW_F_SEQ_RECOVERY))
		return; /* one outstanding sample per flow */
	if (rate_limited(st, now)) {
		count_unmeasured(FLOW_U_RATE_LIMITED);
		return;
	}
	st->seq_sample = end;
	st->seq_sent_ns = now;
	st->last_sample_ns = now;
	st->flags |= FLOW_F_SEQ_PENDING;
}

static __always_inline void tcp_ingress(const struct pkt_info *pi, const struct flow_key *fk,
					__u8 role, __u64 now)
{
	struct flow_state *st = bpf_map_lookup_elem(&flows, fk);
	bool acks = pi->tcp_flags & PARSE_TCP_ACK;

	if (pi->has_ts) {
		__u64 rtt;

		if (!acks) /* TSecr is valid only with ACK (RFC 7323) */
			goto out;
		rtt = pending_take(fk, pi->tsecr, FLOW_M_TCP_TS, now);
		if (rtt) {
			if (st && pi->tsecr == st->await_tsval)
				st->flags &= ~FLOW_F_TS_AWAIT;
			record(fk, st, role, FLOW_M_TCP_TS, rtt, now);
		} else if (st && (st->flags & FLOW_F_TS_AWAIT) &&
			   (__s32)(pi->tsecr - st->await_tsval) >= 0) {
			/* echoes what we waited for, or later: the entry is gone */
			count_unmeasured(FLOW_U_NO_MATCH);
			st->flags &= ~FLOW_F_TS_AWAIT;
		}
		goto out;
	}
	if (!acks) {
		count_unmeasured(FLOW_U_TCP_NO_TS_NO_SEQ);
		goto out;
	}
	if (st && (st->flags & (FLOW_F_SEQ_PENDING | FLOW_F_SEQ_RECOVERY)) &&
	    (__s32)(pi->ack - st->seq_sample) >= 0) {
		if (st->flags & FLOW_F_SEQ_PENDING)
			record(fk, st, role, FLOW_M_TCP_SEQ, now - st->seq_sent_ns, now);
		st->flags &= ~(FLOW_F_SEQ_PENDING | FLOW_F_SEQ_RECOVERY);
	}
out:
	if (pi->tcp_flags & (PARSE_TCP_FIN | PARSE_TCP_RST))
		flow_forget(fk);
}

/* QUIC short header on ingress: a spin-bit edge per round trip. */
static __always_inline void quic_ingress(const struct pkt_info *pi, const struct flow_key *fk,
					 __u8 role, __u64 now)
{
	struct flow_state *st;
	__u8 spin;

	if (pi->quic_first & 0x80) /* long header (handshake): no spin bit */
		return;
	st = flow_get(fk, true);
	if (!st)
		return;
	spin = (pi->quic_first & QUIC_SPIN_BIT) ? 1 : 0;
	if (st->quic_packets < 0xffffffff)
		st->quic_packets++;
	if (!(st->flags & FLOW_F_SPIN_INIT)) {
		st->spin = spin;
		st->flags |= FLOW_F_SPIN_INIT;
	} else if (spin != st->spin) {
		st->spin = spin;
		if (st->flags & FLOW_F_SPIN_EDGE) {
			if (rate_limited(st, now)) {
				count_unmeasured(FLOW_U_RATE_LIMITED);
			} else {
				st->last_sample_ns = now;
				record(fk, st, role, FLOW_M_QUIC_SPIN, now - st->spin_edge_ns, now);
			}
		}
		st->spin_edge_ns = now;
		st->flags |= FLOW_F_SPIN_EDGE;
	}
	if (!(st->flags & (FLOW_F_SPIN_EDGE | FLOW_F_NOSPIN_COUNTED)) &&
	    st->quic_packets >= QUIC_NOSPIN_PACKETS) {
		count_unmeasured(FLOW_U_QUIC_NO_SPIN);
		st->flags |= FLOW_F_NOSPIN_COUNTED;
	}
}

/*
 * A global function: the verifier checks it once, on its own, instead of
 * once per call site and caller state (called again after
 * bpf_skb_pull_data(), from both programs).
 */
__noinline int parse_skb(struct __sk_buff *skb, struct pkt_info *pi)
{
	__u8 opts[PARSE_TCP_OPT_MAX_LEN_POW2] = {};
	void *data, *data_end;
	__u32 olen;
	int r;

	if (!skb || !pi)
		return PARSE_MALFORMED;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	__builtin_memset(pi, 0, sizeof(*pi));
	r = parse_packet(data, data_end, pi);
	if (r != PARSE_OK || pi->proto != PARSE_IPPROTO_TCP || !pi->tcp_opt_len)
		return r;
	olen = pi->tcp_opt_len;
	barrier_var(olen);
	if (olen < 1 || olen > PARSE_TCP_OPT_MAX_LEN)
		return PARSE_MALFORMED;
	if (bpf_skb_load_bytes(skb, pi->tcp_opt_off, opts, olen))
		return PARSE_TRUNCATED;
	return parse_tcp_opts(opts, olen, pi);
}

static __always_inline int handle(struct __sk_buff *skb, bool egress)
{
	__u32 ifindex = skb->ifindex;
	struct flow_key fk = {};
	struct pkt_info pi = {};
	__u8 *rolep, role;
	__u64 now;
	int r;

	rolep = bpf_map_lookup_elem(&iface_roles, &ifindex);
	if (!rolep)
		return TC_ACT_OK;
	role = *rolep;
	r = parse_skb(skb, &pi);
	if (r == PARSE_TRUNCATED && skb->len > skb->data_end - skb->data) {
		/* headers partly in paged data: make them linear once, retry */
		if (bpf_skb_pull_data(skb, skb->len < PARSE_PULL_MAX ? skb->len : PARSE_PULL_MAX) == 0)
			r = parse_skb(skb, &pi);
	}
	count_traffic(&pi, role, egress, skb->len);
	switch (r) {
	case PARSE_OK:
		break;
	case PARSE_NOT_IP:
		count_unmeasured(FLOW_U_NOT_IP);
		return TC_ACT_OK;
	case PARSE_UNSUPPORTED:
		count_unmeasured(FLOW_U_UNSUPPORTED);
		return TC_ACT_OK;
	default:
		count_unmeasured(FLOW_U_PARSE_ERROR);
		return TC_ACT_OK;
	}

	fk.family = pi.family;
	fk.proto = pi.proto;
	if (egress) {
		__builtin_memcpy(fk.local, pi.saddr, 16);
		__builtin_memcpy(fk.remote, pi.daddr, 16);
		fk.local_port = pi.sport;
		fk.remote_port = pi.dport;
	} else {
		__builtin_memcpy(fk.local, pi.daddr, 16);
		__builtin_memcpy(fk.remote, pi.saddr, 16);
		fk.local_port = pi.dport;
		fk.remote_port = pi.sport;
	}
	now = bpf_ktime_get_ns();

	switch (pi.proto) {
	case PARSE_IPPROTO_TCP:
		if (egress)
			tcp_egress(&pi, &fk, now);
		else
			tcp_ingress(&pi, &fk, role, now);
		return TC_ACT_OK;
	case PARSE_IPPROTO_ICMP:
	case PARSE_IPPROTO_ICMPV6:
		if (pi.echo == PKT_ECHO_NONE) {
			count_unmeasured(FLOW_U_UNSUPPORTED);
			return TC_ACT_OK;
		}
		fk.remote_port = 0; /* the identifier is the local "port" */
		if (egress && pi.echo == PKT_ECHO_REQUEST)
			request_out(&fk, pi.echo_seq, FLOW_M_ICMP, now);
		else if (!egress && pi.echo == PKT_ECHO_REPLY)
			reply_in(&fk, pi.echo_seq, FLOW_M_ICMP, role, now);
		/* requests from remote hosts: their RTT is not observable here */
		return TC_ACT_OK;
	case PARSE_IPPROTO_UDP:
		if (pi.dns) {
			if (egress && fk.remote_port == PARSE_DNS_PORT && !pi.dns_qr)
				request_out(&fk, pi.dns_id, FLOW_M_DNS, now);
			else if (!egress && fk.remote_port == PARSE_DNS_PORT && pi.dns_qr)
				reply_in(&fk, pi.dns_id, FLOW_M_DNS, role, now);
			return TC_ACT_OK;
		}
		if (pi.quic) {
			if (!egress)
				quic_ingress(&pi, &fk, role, now);
			return TC_ACT_OK;
		}
		break;
	}
	count_unmeasured(FLOW_U_UNSUPPORTED);
	return TC_ACT_OK;
}

SEC("tc")
int flow_egress(struct __sk_buff *skb)
{
	return handle(skb, true);
}

SEC("tc")
int flow_ingress(struct __sk_buff *skb)
{
	return handle(skb, false);
}

char LICENSE[] SEC("license") = "GPL";
