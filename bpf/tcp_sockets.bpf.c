// SPDX-License-Identifier: GPL-2.0-only
/*
 * Passive TCP metrics of the host's own sockets, without kprobes or fentry:
 *  - tp_btf/inet_sock_set_state: connect latency, failures, lifetime, bytes
 *  - sockops RTT callback: every RTT sample the kernel measures
 *  - tp_btf/tcp_retransmit_skb, tcp_send_reset, tcp_receive_reset: counters
 *
 * Aggregates go to the inner maps the outer arrays hist_cur/count_cur point
 * at. The daemon swaps in the other inner map once per window (the map-in-map
 * update waits for running programs) and then drains the old one, so no
 * update is ever lost between a lookup and a delete.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "prefix.h"
#include "tcp_sockets.h"
#include "window_hist.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define E2BIG 7

/* Knobs set by the daemon before load. */
const volatile __u64 netns_cookie = 0;     /* 0: every network namespace */
const volatile __u8 prefix_v4 = 24;        /* remote prefix length, 24..32 */
const volatile __u8 prefix_v6 = 48;        /* 48..128 */
const volatile __u16 ephemeral_lo = 32768; /* local port range of the host */
const volatile __u16 ephemeral_hi = 60999;

struct sock_state {
	__u64 born_ns;   /* state change that created the socket */
	__u64 opened_ns; /* reached ESTABLISHED; 0 before and after close */
	struct tcp_peer peer; /* fixed at ESTABLISHED: the kernel clears the local
			       * port of a closing socket before we see it */
	__u64 acked_base; /* bytes_acked at ESTABLISHED: the SYN of an active open */
	__u32 retrans_counted; /* retransmitted segments already exported */
	__u8 dir;
	__u8 has_peer;
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} sock_states SEC(".maps");

struct hist_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct tcp_peer_metric);
	__type(value, struct latency_hist);
} hist_a SEC(".maps"), hist_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct hist_map);
} hist_cur SEC(".maps") = { .values = { &hist_a } };

struct count_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct tcp_peer);
	__type(value, struct tcp_peer_counters);
} count_a SEC(".maps"), count_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct count_map);
} count_cur SEC(".maps") = { .values = { &count_a } };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCP_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &reason);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline bool is_ephemeral(__u16 port)
{
	return port >= ephemeral_lo && port <= ephemeral_hi;
}

static __always_inline bool is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

/* The remote address, masked to the configured prefix. IPv4 peers of
 * dual-stack sockets (::ffff:a.b.c.d) are keyed as IPv4. */
static __always_inline bool key_set_remote(const struct sock *sk, struct tcp_peer *key)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 v6[16];

	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		if (!is_v4_mapped(v6)) {
			__builtin_memcpy(key->addr, v6, 16);
			mask_prefix(key->addr, prefix_v6, 128);
			key->family = AF_INET6;
			return true;
		}
		__builtin_memcpy(key->addr, v6 + 12, 4);
	} else if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)key->addr, sk, __sk_common.skc_daddr);
	} else {
		return false;
	}
	mask_prefix(key->addr, prefix_v4, 32);
	key->family = AF_INET;
	return true;
}

/* Fills key from a socket; returns false for sockets we do not watch. */
static __always_inline bool key_from_sock(const struct sock *sk, struct tcp_peer *key, int dir)
{
	__u16 lport, rport;

	if (netns_cookie && BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) != netns_cookie)
		return false;
	__builtin_memset(key, 0, sizeof(*key));
	if (!key_set_remote(sk, key))
		return false;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (dir < 0) /* unknown opener: an ephemeral local port means we connected */
		dir = is_ephemeral(lport) && !is_ephemeral(rport) ? TCP_DIR_OUTBOUND : TCP_DIR_INBOUND;
	key->dir = dir;
	key->port = dir == TCP_DIR_OUTBOUND ? rport : lport;
	return true;
}

static __always_inline void record(const struct tcp_peer *key, __u32 metric, __u64 ns)
{
	struct tcp_peer_metric hk = { .peer = *key, .metric = metric };
	static const struct latency_hist empty = { .min_ns = ~0ULL };
	struct latency_hist *h;
	void *map = window_current(&hist_cur);

	if (!map)
		return;
	h = bpf_map_lookup_elem(map, &hk);
	if (!h) {
		/* NOEXIST: a concurrent creator wins, we then add to its entry */
		if (bpf_map_update_elem(map, &hk, &empty, BPF_NOEXIST) == -E2BIG) {
			count_drop(TCP_DROP_HIST_FULL);
			return;
		}
		h = bpf_map_lookup_elem(map, &hk);
		if (!h)
			return;
	}
	window_hist_add(h, ns);
}

static __always_inline struct tcp_peer_counters *counters(const struct tcp_peer *key)
{
	static const struct tcp_peer_counters empty;
	struct tcp_peer_counters *c;
	void *map = window_current(&count_cur);

	if (!map)
		return NULL;
	c = bpf_map_lookup_elem(map, key);
	if (c)
		return c;
	if (bpf_map_update_elem(map, key, &empty, BPF_NOEXIST) == -E2BIG) {
		count_drop(TCP_DROP_COUNT_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

#define COUNT(key, field, n)                                                                       \
	do {                                                                                       \
		struct tcp_peer_counters *c_ = counters(key);                                           \
		if (c_)                                                                            \
			__sync_fetch_and_add(&c_->field, (n));                                     \
	} while (0)

/*
 * The tcp_retransmit_skb tracepoint misses retransmissions the kernel sends
 * outside tcp_retransmit_skb() (tail loss probes) and counts skbs, not
 * segments. The kernel's per-socket total_retrans counts them all, so it is
 * the truth: on every RTT sample and at close, export what it adds.
 */
static __always_inline void reconcile_retrans(struct sock_state *st, const struct tcp_peer *key,
					      __u32 total_retrans)
{
	if (total_retrans > st->retrans_counted) {
		COUNT(key, retransmits, total_retrans - st->retrans_counted);
		st->retrans_counted = total_retrans;
	}
}

/* The peer of a socket: as fixed when it was established, else derived. */
static __always_inline bool sock_peer(const struct sock *sk, struct tcp_peer *key)
{
	struct sock_state *st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, 0);

	if (st && st->has_peer) { /* storage exists only in the watched namespace */
		*key = st->peer;
		return true;
	}
	return key_from_sock(sk, key, st ? st->dir : -1);
}

static __always_inline struct sock_state *new_state(const struct sock *sk, __u8 dir, __u64 now)
{
	struct sock_state *st;

	st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		count_drop(TCP_DROP_NO_STORAGE);
		return NULL;
	}
	st->born_ns = now;
	st->opened_ns = 0;
	st->dir = dir;
	st->has_peer = 0;
	st->retrans_counted = 0;
	return st;
}

static __always_inline void on_established(const struct sock *sk, int oldstate, __u64 now)
{
	struct sock_state *st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, 0);
	struct tcp_peer key;
	__u64 latency;

	if (!st || st->opened_ns)
		return;
	st->opened_ns = now;
	if (!key_from_sock(sk, &key, st->dir))
		return;
	st->peer = key;
	st->has_peer = 1;
	st->acked_base = BPF_CORE_READ((struct tcp_sock *)sk, bytes_acked);
	if (oldstate == TCP_SYN_SENT) {
		latency = now - st->born_ns;
	} else {
		/* The accepted socket is born with the final ACK; the kernel has
		 * just measured SYN-ACK -> ACK into srtt (us << 3). */
		latency = (__u64)(BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3) * 1000;
		if (!latency)
			return;
	}
	record(&key, TCP_M_CONNECT, latency);
}

/*
 * The kernel counts sequence space, not payload: a FIN the peer acked, and a
 * FIN received, each add one. Our FIN is acked once we left FIN_WAIT1 for
 * FIN_WAIT2, or closed from CLOSING/LAST_ACK with nothing unacked; the
 * peer's FIN sets SOCK_DONE.
 */
static __always_inline void add_payload_bytes(struct tcp_peer_counters *c, const struct sock *sk,
					      const struct sock_state *st, int oldstate)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked) - st->acked_base;
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	bool fin_acked = oldstate == TCP_FIN_WAIT2 ||
			 ((oldstate == TCP_CLOSING || oldstate == TCP_LAST_ACK) &&
			  BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq));

	if (fin_acked && acked)
		acked--;
	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE)) && received)
		received--;
	__sync_fetch_and_add(&c->bytes_sent, acked);
	__sync_fetch_and_add(&c->bytes_received, received);
}

static __always_inline void on_close(const struct sock *sk, int oldstate, __u64 now)
{
	struct sock_state *st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, 0);
	struct tcp_peer_counters *c;
	struct tcp_peer key;

	if (!st) {
		if (oldstate != TCP_LISTEN && key_from_sock(sk, &key, -1))
			count_drop(TCP_DROP_UNTRACKED);
		return;
	}
	if (!sock_peer(sk, &key))
		return;
	if (!st->opened_ns) {
		if (oldstate == TCP_SYN_SENT)
			COUNT(&key, connect_failures, 1);
		return;
	}
	record(&key, TCP_M_LIFETIME, now - st->opened_ns);
	reconcile_retrans(st, &key, BPF_CORE_READ((struct tcp_sock *)sk, total_retrans));
	c = counters(&key);
	if (c) {
		__sync_fetch_and_add(&c->closed, 1);
		add_payload_bytes(c, sk, st, oldstate);
	}
	st->opened_ns = 0; /* a socket closes once */
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_change, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 now = bpf_ktime_get_ns();

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (netns_cookie && BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie) != netns_cookie)
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT:
		new_state(sk, TCP_DIR_OUTBOUND, now);
		break;
	case TCP_SYN_RECV:
		new_state(sk, TCP_DIR_INBOUND, now);
		break;
	case TCP_ESTABLISHED:
		on_established(sk, oldstate, now);
		break;
	case TCP_CLOSE:
		on_close(sk, oldstate, now);
		break;
	}
	return 0;
}

SEC("sockops")
int tcp_rtt_sample(struct bpf_sock_ops *skops)
{
	struct bpf_sock *bsk = skops->sk;
	struct sock_state *st;
	struct tcp_peer key;
	struct sock *sk;
	long mrtt_us;

	if (netns_cookie && bpf_get_netns_cookie(skops) != netns_cookie)
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_RTT_CB:
		break;
	default:
		return 1;
	}
	/* args[0]: the RTT just measured (us), args[1]: the smoothed one. */
	mrtt_us = (long)skops->args[0];
	if (mrtt_us <= 0 || !bsk) {
		count_drop(TCP_DROP_NO_RTT);
		return 1;
	}
	sk = (struct sock *)bpf_skc_to_tcp_sock(bsk);
	if (!sk || !sock_peer(sk, &key))
		return 1;
	record(&key, TCP_M_RTT, (__u64)mrtt_us * 1000);
	st = bpf_sk_storage_get(&sock_states, sk, 0, 0);
	if (st)
		reconcile_retrans(st, &key, skops->total_retrans);
	return 1;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct sock_state *st;
	struct tcp_peer key;

	if (err || !sock_peer(sk, &key)) /* failed attempts are not retransmissions */
		return 0;
	st = bpf_sk_storage_get(&sock_states, (void *)sk, 0, 0);
	/* counted now, so the number is live; reconcile_retrans fixes the rest */
	COUNT(&key, retransmits, 1);
	if (st)
		st->retrans_counted++;
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_reset_received, struct sock *sk)
{
	struct tcp_peer key;

	if (sock_peer(sk, &key))
		COUNT(&key, resets_received, 1);
	return 0;
}

/* A reset for a segment no socket owns: the remote is the segment's source. */
static __always_inline bool key_from_segment(const struct sk_buff *skb, struct tcp_peer *key)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th_off = BPF_CORE_READ(skb, transport_header);
	struct tcphdr th;
	__u8 version;

	if (netns_cookie && BPF_CORE_READ(skb, dev, nd_net.net, net_cookie) != netns_cookie)
		return false;
	if (bpf_probe_read_kernel(&version, 1, head + nh) ||
	    bpf_probe_read_kernel(&th, sizeof(th), head + th_off))
		return false;
	__builtin_memset(key, 0, sizeof(*key));
	key->dir = TCP_DIR_INBOUND;
	key->port = bpf_ntohs(th.dest);
	if ((version >> 4) == 4) {
		key->family = AF_INET;
		if (bpf_probe_read_kernel(key->addr, 4, head + nh + offsetof(struct iphdr, saddr)))
			return false;
		mask_prefix(key->addr, prefix_v4, 32);
	} else {
		key->family = AF_INET6;
		if (bpf_probe_read_kernel(key->addr, 16, head + nh + offsetof(struct ipv6hdr, saddr)))
			return false;
		mask_prefix(key->addr, prefix_v6, 128);
	}
	return true;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_reset_sent, const struct sock *sk, const struct sk_buff *skb)
{
	struct tcp_peer key;
	bool ok;

	if (sk)
		ok = sock_peer(sk, &key);
	else
		ok = skb && key_from_segment(skb, &key);
	if (ok)
		COUNT(&key, resets_sent, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
