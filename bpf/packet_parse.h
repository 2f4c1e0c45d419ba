/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded, inline packet parsing for the BPF programs (katran / xdp-tools
 * style): a cursor walks the frame with direct packet access, every read is
 * bounds-checked against data_end, every loop has a named constant bound.
 *
 * parse_packet() fills a struct pkt_info with what the RTT methods need
 * (addresses, ports, TCP sequence/ack/flags and where its options are, ICMP
 * echo id/seq, DNS id/QR, the QUIC first byte) and returns no packet
 * pointers, so the caller may call helpers that invalidate them
 * (bpf_skb_pull_data) freely. The caller then loads the TCP options to the
 * stack and runs parse_tcp_opts() for the timestamps.
 *
 * Frames: Ethernet, up to PARSE_MAX_VLAN 802.1Q / 802.1ad tags, IPv4 (with
 * options), IPv6 with up to PARSE_MAX_IPV6_EXT extension headers (hop-by-hop,
 * routing, destination options, fragment), TCP with an option walk bounded by
 * PARSE_MAX_TCP_OPTS, UDP, ICMP and ICMPv6.
 *
 * Needs vmlinux.h (or the UAPI headers) and bpf_endian.h before inclusion.
 */
#ifndef XDPROBE_PACKET_PARSE_H
#define XDPROBE_PACKET_PARSE_H

#define PARSE_MAX_VLAN 2      /* 802.1ad outer + 802.1Q inner (QinQ) */
#define PARSE_MAX_IPV6_EXT 6  /* extension headers walked before giving up */
#define PARSE_MAX_TCP_OPTS 40 /* option area is <= 40 bytes, an option >= 1 byte */
#define PARSE_TCP_OPT_MAX_LEN 40
#define PARSE_TCP_OPT_MAX_LEN_POW2 64

#define PARSE_ETH_P_IP 0x0800
#define PARSE_ETH_P_IPV6 0x86DD
#define PARSE_ETH_P_8021Q 0x8100
#define PARSE_ETH_P_8021AD 0x88A8

#define PARSE_AF_INET 2
#define PARSE_AF_INET6 10

#define PARSE_IPPROTO_HOPOPTS 0
#define PARSE_IPPROTO_ICMP 1
#define PARSE_IPPROTO_TCP 6
#define PARSE_IPPROTO_UDP 17
#define PARSE_IPPROTO_ROUTING 43
#define PARSE_IPPROTO_FRAGMENT 44
#define PARSE_IPPROTO_ICMPV6 58
#define PARSE_IPPROTO_DSTOPTS 60

#define PARSE_TCP_FIN 0x01
#define PARSE_TCP_SYN 0x02
#define PARSE_TCP_RST 0x04
#define PARSE_TCP_ACK 0x10

#define PARSE_TCPOPT_EOL 0
#define PARSE_TCPOPT_NOP 1
#define PARSE_TCPOPT_TS 8
#define PARSE_TCPOLEN_TS 10

#define PARSE_DNS_PORT 53
#define PARSE_QUIC_PORT 443

enum parse_result {
	PARSE_OK = 0,
	PARSE_NOT_IP,      /* neither IPv4 nor IPv6 */
	PARSE_TRUNCATED,   /* a header runs past the end of the (linear) data */
	PARSE_MALFORMED,   /* impossible lengths: ihl < 5, doff < 5, TCP option lengths */
	PARSE_TOO_DEEP,    /* more than PARSE_MAX_VLAN tags / PARSE_MAX_IPV6_EXT headers */
	PARSE_UNSUPPORTED, /* non-first fragment, IP protocol without an RTT method */
};

enum pkt_echo {
	PKT_ECHO_NONE = 0,
	PKT_ECHO_REQUEST,
	PKT_ECHO_REPLY,
};

struct pkt_info {
	__u8 saddr[16]; /* as in the packet; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;    /* host byte order; ICMP: the echo identifier in both */
	__u16 dport;
	__u8 family;    /* PARSE_AF_INET(6); 0 until the addresses are known */
	__u8 proto;     /* L4 protocol after the extension headers */
	__u8 tcp_flags;
	__u8 has_ts;    /* TCP timestamp option found */
	__u32 seq;      /* TCP, host byte order */
	__u32 ack;
	__u32 tsval;
	__u32 tsecr;
	__u32 payload_len; /* TCP/UDP payload per the IP lengths */
	__u8 echo;      /* enum pkt_echo (ICMP / ICMPv6) */
	__u8 dns;       /* UDP port 53 with a full DNS header */
	__u8 dns_qr;    /* 1: response */
	__u8 quic_first; /* first UDP payload byte of port-443 traffic */
	__u16 echo_seq; /* host byte order */
	__u16 dns_id;
	__u8 quic;      /* port-443 UDP with at least one payload byte */
	__u8 tcp_opt_len; /* bytes of TCP options (0..40) */
	__u16 tcp_opt_off; /* their offset from the start of the frame */
};

struct parse_cursor {
	void *start;
	void *pos;
	void *end;
};

#define PARSE_NEED(c, n) ((void *)(c)->pos + (n) > (c)->end)

static __always_inline int parse_eth(struct parse_cursor *c, __u16 *proto)
{
	struct ethhdr *eth = c->pos;
	__u16 type;

	if ((void *)(eth + 1) > c->end)
		return PARSE_TRUNCATED;
	type = eth->h_proto;
	c->pos = eth + 1;
#pragma unroll
	for (int i = 0; i < PARSE_MAX_VLAN; i++) {
		struct vlan_hdr *vh = c->pos;

		if (type != bpf_htons(PARSE_ETH_P_8021Q) && type != bpf_htons(PARSE_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > c->end)
			return PARSE_TRUNCATED;
		type = vh->h_vlan_encapsulated_proto;
		c->pos = vh + 1;
	}
	if (type == bpf_htons(PARSE_ETH_P_8021Q) || type == bpf_htons(PARSE_ETH_P_8021AD))
		return PARSE_TOO_DEEP;
	*proto = bpf_ntohs(type);
	return PARSE_OK;
}

/* IPv4; *l4_len is the length of what follows the header per tot_len. */
static __always_inline int parse_ipv4(struct parse_cursor *c, struct pkt_info *pi, __u32 *l4_len)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end)
		return PARSE_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	__builtin_memcpy(pi->saddr, &ip->saddr, 4);
	__builtin_memcpy(pi->daddr, &ip->daddr, 4);
	pi->family = PARSE_AF_INET;
	pi->proto = ip->protocol;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen)
		return PARSE_MALFORMED;
	if (PARSE_NEED(c, hlen))
		return PARSE_TRUNCATED;
	if (ip->frag_off & bpf_htons(0x1fff)) /* offset != 0: no L4 header here */
		return PARSE_UNSUPPORTED;
	c->pos += hlen;
	*l4_len = tot - hlen;
	return PARSE_OK;
}

/* IPv6 and its extension headers, at most PARSE_MAX_IPV6_EXT of them. */
static __always_inline int parse_ipv6(struct parse_cursor *c, struct pkt_info *pi, __u32 *l4_len)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 len;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return PARSE_TRUNCATED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	__builtin_memcpy(pi->saddr, &ip6->saddr, 16);
	__builtin_memcpy(pi->daddr, &ip6->daddr, 16);
	pi->family = PARSE_AF_INET6;
	next = ip6->nexthdr;
	len = bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	for (int i = 0; i < PARSE_MAX_IPV6_EXT; i++) {
		struct ipv6_opt_hdr *oh = c->pos;
		__u32 hl;

		switch (next) {
		case PARSE_IPPROTO_HOPOPTS:
		case PARSE_IPPROTO_ROUTING:
		case PARSE_IPPROTO_DSTOPTS:
			if ((void *)(oh + 1) > c->end)
				return PARSE_TRUNCATED;
			hl = ((__u32)oh->hdrlen + 1) * 8;
			break;
		case PARSE_IPPROTO_FRAGMENT: {
			struct frag_hdr *fh = c->pos;

			if ((void *)(fh + 1) > c->end)
				return PARSE_TRUNCATED;
			if (fh->frag_off & bpf_htons(0xfff8))
				return PARSE_UNSUPPORTED; /* non-first fragment */
			hl = sizeof(*fh);
			break;
		}
		default:
			pi->proto = next;
			*l4_len = len;
			return PARSE_OK;
		}
		if (hl > len)
			return PARSE_MALFORMED;
		if (PARSE_NEED(c, hl))
			return PARSE_TRUNCATED;
		next = oh->nexthdr;
		len -= hl;
		c->pos += hl;
	}
	pi->proto = next;
	switch (next) {
	case PARSE_IPPROTO_HOPOPTS:
	case PARSE_IPPROTO_ROUTING:
	case PARSE_IPPROTO_DSTOPTS:
	case PARSE_IPPROTO_FRAGMENT:
		return PARSE_TOO_DEEP;
	}
	*l4_len = len;
	return PARSE_OK;
}

/*
 * TCP options, from a copy on the stack (the caller loads them with
 * bpf_skb_load_bytes / bpf_xdp_load_bytes at pi->tcp_opt_off: walking them
 * in packet memory behind every L2/L3 path costs the verifier too much).
 * Finds the timestamp option (kind 8, length 10). An option whose length
 * is < 2 or runs past the header is malformed, as is a timestamp option of
 * another length.
 */
static __always_inline int parse_tcp_opts(const __u8 *buf, __u32 olen, struct pkt_info *pi)
{
	__u32 off = 0;

	for (int i = 0; i < PARSE_MAX_TCP_OPTS; i++) {
		__u8 kind, len;

		if (off >= olen || off >= PARSE_TCP_OPT_MAX_LEN)
			return PARSE_OK;
		kind = buf[off];
		if (kind == PARSE_TCPOPT_EOL)
			return PARSE_OK;
		if (kind == PARSE_TCPOPT_NOP) {
			off++;
			continue;
		}
		if (off + 2 > olen)
			return PARSE_MALFORMED;
		len = buf[(off + 1) & (PARSE_TCP_OPT_MAX_LEN_POW2 - 1)];
		if (len < 2 || off + len > olen)
			return PARSE_MALFORMED;
		if (kind == PARSE_TCPOPT_TS) {
			__u32 o = off & (PARSE_TCP_OPT_MAX_LEN_POW2 - 1);
			if (len != PARSE_TCPOLEN_TS || o + PARSE_TCPOLEN_TS > PARSE_TCP_OPT_MAX_LEN)
				return PARSE_MALFORMED;
			pi->tsval = ((__u32)buf[o + 2] << 24) | ((__u32)buf[o + 3] << 16) |
				    ((__u32)buf[o + 4] << 8) | buf[o + 5];
			pi->tsecr = ((__u32)buf[o + 6] << 24) | ((__u32)buf[o + 7] << 16) |
				    ((__u32)buf[o + 8] << 8) | buf[o + 9];
			pi->has_ts = 1;
			return PARSE_OK; /* the rest is of no interest */
		}
		off += len;
	}
	return PARSE_OK;
}

static __always_inline int parse_tcp(struct parse_cursor *c, struct pkt_info *pi, __u32 l4_len)
{
	struct tcphdr *th = c->pos;
	__u32 hlen;

	if ((void *)(th + 1) > c->end)
		return PARSE_TRUNCATED;
	hlen = th->doff * 4;
	if (hlen < sizeof(*th) || hlen > l4_len)
		return PARSE_MALFORMED;
	if (PARSE_NEED(c, hlen))
		return PARSE_TRUNCATED;
	pi->sport = bpf_ntohs(th->source);
	pi->dport = bpf_ntohs(th->dest);
	pi->seq = bpf_ntohl(th->seq);
	pi->ack = bpf_ntohl(th->ack_seq);
	pi->tcp_flags = ((__u8 *)th)[13];
	pi->payload_len = l4_len - hlen;
	/* options: offset from the frame start, walked by parse_tcp_opts() */
	pi->tcp_opt_off = (__u16)((void *)(th + 1) - c->start);
	pi->tcp_opt_len = (__u8)(hlen - sizeof(*th));
	return PARSE_OK;
}

static __always_inline int parse_udp(struct parse_cursor *c, struct pkt_info *pi, __u32 l4_len)
{
	struct udphdr *uh = c->pos;
	__u8 *payload;
	__u32 ulen;

	if ((void *)(uh + 1) > c->end)
		return PARSE_TRUNCATED;
	ulen = bpf_ntohs(uh->len);
	if (ulen < sizeof(*uh) || ulen > l4_len)
		return PARSE_MALFORMED;
	pi->sport = bpf_ntohs(uh->source);
	pi->dport = bpf_ntohs(uh->dest);
	pi->payload_len = ulen - sizeof(*uh);
	payload = (__u8 *)(uh + 1);
	if (pi->sport == PARSE_DNS_PORT || pi->dport == PARSE_DNS_PORT) {
		if (pi->payload_len < 12) /* DNS header */
			return PARSE_MALFORMED;
		if ((void *)(payload + 4) > c->end)
			return PARSE_TRUNCATED;
		pi->dns_id = ((__u16)payload[0] << 8) | payload[1];
		pi->dns_qr = payload[2] >> 7;
		pi->dns = 1;
	} else if ((pi->sport == PARSE_QUIC_PORT || pi->dport == PARSE_QUIC_PORT) &&
		   pi->payload_len > 0) {
		if ((void *)(payload + 1) > c->end)
			return PARSE_TRUNCATED;
		pi->quic_first = payload[0];
		pi->quic = 1;
	}
	return PARSE_OK;
}

/* ICMP echo (type 8/0) and ICMPv6 echo (128/129): identifier and sequence. */
static __always_inline int parse_icmp(struct parse_cursor *c, struct pkt_info *pi, bool v6)
{
	__u8 *h = c->pos;
	__u8 type;

	if ((void *)(h + 8) > c->end)
		return PARSE_TRUNCATED;
	type = h[0];
	if (type == (v6 ? 128 : 8))
		pi->echo = PKT_ECHO_REQUEST;
	else if (type == (v6 ? 129 : 0))
		pi->echo = PKT_ECHO_REPLY;
	else
		return PARSE_OK; /* other ICMP: pi->echo stays PKT_ECHO_NONE */
	pi->sport = pi->dport = ((__u16)h[4] << 8) | h[5];
	pi->echo_seq = ((__u16)h[6] << 8) | h[7];
	return PARSE_OK;
}

/*
 * Parses one frame starting at its Ethernet header. On error the fields
 * parsed so far stay valid: pi->family != 0 means the addresses are known.
 */
static __always_inline int parse_packet(void *data, void *data_end, struct pkt_info *pi)
{
	struct parse_cursor c = { .start = data, .pos = data, .end = data_end };
	__u32 l4_len = 0;
	__u16 eth_proto;
	int r;

	r = parse_eth(&c, &eth_proto);
	if (r != PARSE_OK)
		return r;
	if (eth_proto == PARSE_ETH_P_IP)
		r = parse_ipv4(&c, pi, &l4_len);
	else if (eth_proto == PARSE_ETH_P_IPV6)
		r = parse_ipv6(&c, pi, &l4_len);
	else
		return PARSE_NOT_IP;
	if (r != PARSE_OK)
		return r;
	switch (pi->proto) {
	case PARSE_IPPROTO_TCP:
		return parse_tcp(&c, pi, l4_len);
	case PARSE_IPPROTO_UDP:
		return parse_udp(&c, pi, l4_len);
	case PARSE_IPPROTO_ICMP:
		return pi->family == PARSE_AF_INET ? parse_icmp(&c, pi, false) : PARSE_UNSUPPORTED;
	case PARSE_IPPROTO_ICMPV6:
		return pi->family == PARSE_AF_INET6 ? parse_icmp(&c, pi, true) : PARSE_UNSUPPORTED;
	}
	return PARSE_UNSUPPORTED;
}

#endif
