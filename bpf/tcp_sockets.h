/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Contract between bpf/tcp_sockets.bpf.c and firmware/tcp_sockets.c:
 * keys and values of the maps the daemon drains once per window.
 */
#ifndef XDPROBE_TCP_SOCKETS_H
#define XDPROBE_TCP_SOCKETS_H

#include "hist.h"

#define TCP_DIR_OUTBOUND 0 /* this host connected (active open) */
#define TCP_DIR_INBOUND 1  /* this host accepted (passive open) */

/* Histogram metrics; values recorded in nanoseconds, bucketed in microseconds. */
enum tcp_metric {
	TCP_M_CONNECT = 0,  /* handshake latency */
	TCP_M_RTT = 1,      /* per-ACK measured RTT (sockops RTT callback) */
	TCP_M_LIFETIME = 2, /* established-to-close duration */
	TCP_M_COUNT
};

/*
 * Who the traffic is with: the remote address masked to the configured
 * prefix, and the service port (the local port of accepted connections, the
 * remote port of initiated ones: ephemeral ports would explode cardinality).
 */
struct tcp_peer {
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u16 port;    /* host byte order */
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 dir;      /* TCP_DIR_* */
};

struct tcp_peer_metric {
	struct tcp_peer peer;
	__u32 metric; /* enum tcp_metric */
};

struct tcp_peer_counters {
	__u64 connect_failures; /* SYN_SENT -> CLOSE */
	__u64 closed;           /* established connections that closed */
	__u64 bytes_sent;       /* acked bytes of closed connections */
	__u64 bytes_received;
	__u64 retransmits;      /* retransmitted segments (skbs) */
	__u64 resets_sent;
	__u64 resets_received;
};

/* Per-CPU counters of events the programs could not record, by reason. */
enum tcp_drop_reason {
	TCP_DROP_HIST_FULL = 0,   /* histogram map of the window full */
	TCP_DROP_COUNT_FULL = 1,  /* counter map of the window full */
	TCP_DROP_NO_STORAGE = 2,  /* socket storage could not be allocated */
	TCP_DROP_NO_RTT = 3,      /* RTT callback without a measured sample */
	TCP_DROP_UNTRACKED = 4,   /* connection opened before xdprobe started */
	TCP_DROP_MAX
};

#ifndef __bpf__
_Static_assert(sizeof(struct tcp_peer) == 20, "tcp_peer layout");
_Static_assert(sizeof(struct tcp_peer_metric) == 24, "tcp_peer_metric layout");
_Static_assert(sizeof(struct tcp_peer_counters) == 7 * 8, "tcp_peer_counters layout");
#endif

#endif
