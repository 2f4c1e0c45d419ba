/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Contract between bpf/flow_rtt.bpf.c (passive RTT of all traffic crossing
 * the gateway, epping-class) and firmware/passive_flows.c.
 *
 * Where the hooks sit: one TC program on egress and one on ingress of every
 * monitored interface, each interface with a role (LAN or WAN side of the
 * gateway). Egress records what leaves through the interface (a new TCP
 * TSval, a data segment's end sequence, an ICMP echo request, a DNS query);
 * ingress matches what comes back (the TSecr that echoes it, the covering
 * ACK, the echo reply, the response). A sample is therefore the round trip
 * from this interface to the remote end and back: on the WAN interface the
 * uplink path, on the LAN interface the field side. Forwarded traffic and
 * the gateway's own traffic cross the same hooks, so both roles (middlebox
 * and host) are measured alike.
 *
 * The remote end is the destination of egress packets and the source of
 * ingress packets; aggregates are keyed by its prefix.
 */
#ifndef XDPROBE_FLOW_RTT_H
#define XDPROBE_FLOW_RTT_H

#include "hist.h"

#define FLOW_ROLE_LAN 0
#define FLOW_ROLE_WAN 1

/* How a sample was obtained (a label: the methods differ in what they see). */
enum flow_method {
	FLOW_M_TCP_TS = 0,  /* TSval recorded on egress, echoed as TSecr on ingress */
	FLOW_M_TCP_SEQ = 1, /* data segment end -> covering ACK (Karn: no retransmits) */
	FLOW_M_ICMP = 2,    /* echo request -> reply, by id and sequence (v4 and v6) */
	FLOW_M_DNS = 3,     /* UDP query -> response by id */
	FLOW_M_QUIC_SPIN = 4, /* time between spin-bit edges of one QUIC flow */
	FLOW_M_COUNT
};

/* Per remote prefix, interface role and method: the RTT histogram. */
struct flow_prefix_key {
	__u8 addr[16]; /* remote prefix; IPv4 in the first 4 bytes */
	__u8 family;   /* AF_INET or AF_INET6 */
	__u8 role;     /* FLOW_ROLE_* of the interface */
	__u8 method;   /* enum flow_method */
	__u8 pad;
};

/* Per remote prefix and role: the traffic seen, measured or not. */
struct flow_traffic_key {
	__u8 addr[16];
	__u8 family;
	__u8 role;
	__u8 pad[2];
};

struct flow_traffic {
	__u64 packets_out; /* egress through the interface, towards the remote */
	__u64 bytes_out;
	__u64 packets_in;
	__u64 bytes_in;
};

/* Per-CPU counters of traffic that could not be measured or recorded. */
enum flow_unmeasured {
	FLOW_U_PARSE_ERROR = 0,   /* truncated or malformed headers */
	FLOW_U_NOT_IP,            /* neither IPv4 nor IPv6 (ARP, LLDP, ...) */
	FLOW_U_UNSUPPORTED,       /* IP protocols without an RTT method */
	FLOW_U_TCP_NO_TS_NO_SEQ,  /* TCP with no timestamps and no usable SEQ/ACK */
	FLOW_U_QUIC_NO_SPIN,      /* QUIC flows whose spin bit never moved */
	FLOW_U_RATE_LIMITED,      /* samples skipped by the per-flow rate limit */
	FLOW_U_FLOW_TABLE_FULL,   /* flow state evicted before its reply came */
	FLOW_U_PENDING_FULL,      /* pending-timestamp map full */
	FLOW_U_HIST_FULL,         /* per-window prefix histogram map full */
	FLOW_U_TRAFFIC_FULL,      /* per-window traffic map full */
	FLOW_U_NO_MATCH,          /* replies that matched nothing (one-way, late) */
	FLOW_U_EVENT_DROPPED,     /* ring buffer full: an RTT event was not sent */
	FLOW_U_MAX
};

/* Optional per-flow RTT events for a "top flows" view (ring buffer). */
#define FLOW_EVENT_VERSION 1
struct flow_rtt_event {
	__u16 version;
	__u8 family;
	__u8 role;
	__u8 method;
	__u8 protocol; /* IPPROTO_* */
	__u16 pad;
	__u8 local[16]; /* the near end as seen from the interface */
	__u8 remote[16];
	__u16 local_port; /* ICMP: the echo identifier; host byte order */
	__u16 remote_port;
	__u32 pad2;
	__u64 rtt_ns;
	__u64 time_ns; /* bpf_ktime_get_ns() of the matching packet */
};

#ifndef __bpf__
_Static_assert(sizeof(struct flow_prefix_key) == 20, "flow_prefix_key layout");
_Static_assert(sizeof(struct flow_traffic_key) == 20, "flow_traffic_key layout");
_Static_assert(sizeof(struct flow_rtt_event) == 64, "flow_rtt_event layout");
#endif

#endif
