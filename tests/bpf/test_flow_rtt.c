// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf/flow_rtt.bpf.c on the real kernel: the skeleton is loaded (passing
 * the verifier is the first test), then crafted frames run through
 * flow_egress / flow_ingress with bpf_prog_test_run_opts, table-driven:
 * each case is a sequence of frames (direction, headers, pause) and the
 * expected unmeasured counters, histogram entries and flow-table state.
 *
 * Invariants checked after every case: each frame counted once in the
 * traffic map (when the interface has a role), every histogram consistent
 * (bucket sum = count, min <= max, plausible RTT), one ring-buffer event
 * per sample (events on, interval 0), with the sample's method.
 *
 * Time is real time: RTTs are asserted to be plausible, not exact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "flow_rtt.h"
#include "flow_rtt.skel.h"

#define IFINDEX_LO 1
#define TEST_SAMPLE_INTERVAL_MS 5
#define MAX_STEPS 40
#define MAX_FRAME 2048 /* every frame of the table fits; build() asserts it */
#define PLAUSIBLE_RTT_NS (5ULL * 1000 * 1000 * 1000) /* a test case takes far less */

static struct flow_rtt_bpf *skel;
static struct ring_buffer *rb;
static int ncpus;

/* ---- frame construction ------------------------------------------------ */

enum { L_NONE = 0, L_V4 = 4, L_V6 = 6 };

struct pkt {
	uint8_t l3;            /* L_V4, L_V6; L_NONE: ethertype only */
	uint16_t ethertype;    /* L_NONE: e.g. ARP */
	uint8_t vlans;         /* 0..3 tags (outer 802.1ad, then 802.1Q) */
	uint8_t proto;         /* IPPROTO_* */
	uint16_t lport, rport; /* near / far end; 0: defaults per protocol */
	/* TCP */
	uint8_t flags;
	uint32_t seq, ack;
	bool ts;
	uint32_t tsval, tsecr;
	const char *opts;      /* raw TCP options instead of the TS option */
	uint8_t opts_len;
	uint16_t payload;
	/* ICMP */
	uint8_t icmp_type;
	uint16_t icmp_id, icmp_seq;
	/* DNS */
	uint16_t dns_id;
	bool dns_qr;
	/* QUIC */
	uint8_t quic_first;
	/* IP details */
	uint8_t v4_opt_words;  /* IPv4 options, 4-byte words */
	uint8_t v4_ihl;        /* override */
	uint16_t v4_frag;      /* frag_off field, host order */
	uint8_t n_ext;
	uint8_t ext[8];        /* IPv6 extension header types, in order */
	bool frag_nonfirst;    /* IPv6 fragment header with offset != 0 */
	uint16_t truncate;     /* cut the frame to this many bytes */
};

struct frame {
	uint8_t b[MAX_FRAME];
	size_t len;
};

static const char *V4_LOCAL = "10.0.0.1", *V4_REMOTE = "192.0.2.77";
static const char *V6_LOCAL = "fd00::1", *V6_REMOTE = "2001:db8:1:2::77";

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* L4 header + payload at p; returns its length. */
static size_t build_l4(uint8_t *p, const struct pkt *k, uint16_t sport, uint16_t dport)
{
	size_t n = 0;

	switch (k->proto) {
	case IPPROTO_TCP: {
		size_t ol = k->opts ? k->opts_len : (k->ts ? 12 : 0);

		put16(p, sport);
		put16(p + 2, dport);
		put32(p + 4, k->seq);
		put32(p + 8, k->ack);
		p[12] = (uint8_t)(((20 + ol) / 4) << 4);
		p[13] = k->flags;
		put16(p + 14, 65535);
		if (k->opts) {
			memcpy(p + 20, k->opts, ol);
		} else if (k->ts) {
			p[20] = 1; p[21] = 1; p[22] = 8; p[23] = 10; /* NOP NOP TS */
			put32(p + 24, k->tsval);
			put32(p + 28, k->tsecr);
		}
		n = 20 + ol;
		memset(p + n, 0xab, k->payload);
		n += k->payload;
		break;
	}
	case IPPROTO_UDP: {
		size_t pl = k->payload;

		put16(p, sport);
		put16(p + 2, dport);
		if (sport == 53 || dport == 53) {
			pl = pl ? pl : 12;
			memset(p + 8, 0, pl);
			put16(p + 8, k->dns_id);
			p[10] = k->dns_qr ? 0x81 : 0x01;
		} else if (sport == 443 || dport == 443) {
			pl = pl ? pl : 20;
			memset(p + 8, 0x5a, pl);
			p[8] = k->quic_first;
		} else {
			memset(p + 8, 0x11, pl);
		}
		put16(p + 4, (uint16_t)(8 + pl));
		n = 8 + pl;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		memset(p, 0, 16);
		p[0] = k->icmp_type;
		put16(p + 4, k->icmp_id);
		put16(p + 6, k->icmp_seq);
		n = 16 + k->payload;
		break;
	}
	return n;
}

static void build(struct frame *f, const struct pkt *k, bool egress)
{
	uint8_t *p = f->b, *l3;
	uint16_t sport, dport, type;
	size_t l4len;

	memset(f, 0, sizeof(*f));
	assert_true(k->payload + k->opts_len + 4u * k->vlans + 4u * k->v4_opt_words + 8u * k->n_ext +
		    128 <= MAX_FRAME);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p += 12;
	for (int i = 0; i < k->vlans; i++) {
		put16(p, i == 0 && k->vlans > 1 ? 0x88a8 : 0x8100);
		put16(p + 2, (uint16_t)(100 + i));
		p += 4;
	}
	type = k->l3 == L_V4 ? 0x0800 : k->l3 == L_V6 ? 0x86dd : k->ethertype;
	put16(p, type);
	p += 2;
	if (k->l3 == L_NONE) {
		memset(p, 0, 28);
		f->len = (size_t)(p - f->b) + 28;
		goto cut;
	}

	sport = k->lport, dport = k->rport;
	if (!sport)
		sport = k->proto == IPPROTO_UDP ? 40053 : 40000;
	if (!dport)
		dport = k->proto == IPPROTO_TCP ? 502 : 53;
	if (!egress) {
		uint16_t t = sport;

		sport = dport;
		dport = t;
	}
	l3 = p;
	if (k->l3 == L_V4) {
		size_t hl = 20 + 4u * k->v4_opt_words;

		p[0] = (uint8_t)(0x40 | (k->v4_ihl ? k->v4_ihl : hl / 4));
		p[8] = 64;
		p[9] = k->proto;
		put16(p + 6, k->v4_frag);
		inet_pton(AF_INET, egress ? V4_LOCAL : V4_REMOTE, p + 12);
		inet_pton(AF_INET, egress ? V4_REMOTE : V4_LOCAL, p + 16);
		memset(p + 20, 1, hl - 20); /* NOP options */
		l4len = build_l4(p + hl, k, sport, dport);
		put16(p + 2, (uint16_t)(hl + l4len));
		f->len = (size_t)(p - f->b) + hl + l4len;
	} else {
		uint8_t *next = p + 6;
		size_t off = 40;

		p[0] = 0x60;
		p[7] = 64;
		inet_pton(AF_INET6, egress ? V6_LOCAL : V6_REMOTE, p + 8);
		inet_pton(AF_INET6, egress ? V6_REMOTE : V6_LOCAL, p + 24);
		for (int i = 0; i < k->n_ext; i++) {
			*next = k->ext[i];
			memset(p + off, 0, 8);
			if (k->ext[i] == 44) { /* fragment: offset 0 (first) unless asked */
				put16(p + off + 2, k->frag_nonfirst ? (uint16_t)(185 << 3) : 1);
				put32(p + off + 4, 0x1234);
			} else if (k->ext[i] == 43) {
				p[off + 2] = 4; /* routing type, segments left 0 */
			} else {
				p[off + 2] = 1; p[off + 3] = 4; /* PadN */
			}
			next = p + off;
			off += 8;
		}
		*next = k->proto;
		l4len = build_l4(p + off, k, sport, dport);
		put16(p + 4, (uint16_t)(off - 40 + l4len));
		f->len = (size_t)(p - f->b) + off + l4len;
	}
	(void)l3;
cut:
	if (k->truncate && k->truncate < f->len)
		f->len = k->truncate;
}

/* ---- running frames and reading maps ------------------------------------ */

static void run_frame(bool egress, const struct frame *f)
{
	struct __sk_buff ctx = { .ifindex = IFINDEX_LO };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = (uint32_t)f->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int fd = bpf_program__fd(egress ? skel->progs.flow_egress : skel->progs.flow_ingress);
	int err = bpf_prog_test_run_opts(fd, &o);

	if (err)
		fail_msg("bpf_prog_test_run_opts: %s (frame of %zu bytes)", strerror(errno), f->len);
	assert_int_equal(o.retval, 0); /* TC_ACT_OK: the programs only observe */
}

static void clear_hash(int fd, size_t key_size)
{
	uint8_t key[128];

	assert_true(key_size <= sizeof(key));
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
}

static size_t count_entries(int fd, size_t key_size)
{
	uint8_t key[128], next[128];
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

static void read_unmeasured(uint64_t out[FLOW_U_MAX])
{
	uint64_t vals[ncpus];

	for (uint32_t i = 0; i < FLOW_U_MAX; i++) {
		out[i] = 0;
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.unmeasured), &i, vals), 0);
		for (int c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
}

static void clear_unmeasured(void)
{
	uint64_t zeros[ncpus];

	memset(zeros, 0, sizeof(zeros));
	for (uint32_t i = 0; i < FLOW_U_MAX; i++)
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.unmeasured), &i, zeros, 0), 0);
}

static void set_role(int role)
{
	uint32_t ifindex = IFINDEX_LO;
	uint8_t r = (uint8_t)role;
	int fd = bpf_map__fd(skel->maps.iface_roles);

	if (role < 0)
		bpf_map_delete_elem(fd, &ifindex);
	else
		assert_int_equal(bpf_map_update_elem(fd, &ifindex, &r, 0), 0);
}

static void point_outer(struct bpf_map *outer, struct bpf_map *inner)
{
	uint32_t zero = 0;
	int fd = bpf_map__fd(inner);

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(outer), &zero, &fd, 0), 0);
}

static struct {
	unsigned n;
	unsigned per_method[FLOW_M_COUNT];
	bool bad;
} ev;

static int on_event(void *ctx, void *data, size_t size)
{
	const struct flow_rtt_event *e = data;

	if (size < sizeof(*e) || e->version != FLOW_EVENT_VERSION || e->method >= FLOW_M_COUNT ||
	    e->rtt_ns == 0 || e->rtt_ns > PLAUSIBLE_RTT_NS || !e->time_ns) {
		ev.bad = true;
		return 0;
	}
	ev.n++;
	ev.per_method[e->method]++;
	return 0;
}

static void reset_all(void)
{
	set_role(FLOW_ROLE_LAN);
	point_outer(skel->maps.hist_cur, skel->maps.hist_a);
	point_outer(skel->maps.traffic_cur, skel->maps.traffic_a);
	clear_hash(bpf_map__fd(skel->maps.flows), 40);
	clear_hash(bpf_map__fd(skel->maps.pending_ts), 48);
	clear_hash(bpf_map__fd(skel->maps.hist_a), sizeof(struct flow_prefix_key));
	clear_hash(bpf_map__fd(skel->maps.hist_b), sizeof(struct flow_prefix_key));
	clear_hash(bpf_map__fd(skel->maps.traffic_a), sizeof(struct flow_traffic_key));
	clear_hash(bpf_map__fd(skel->maps.traffic_b), sizeof(struct flow_traffic_key));
	clear_unmeasured();
	ring_buffer__consume(rb);
	memset(&ev, 0, sizeof(ev));
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static struct flow_prefix_key prefix_key(const char *addr, uint8_t role, uint8_t method)
{
	struct flow_prefix_key k;

	memset(&k, 0, sizeof(k));
	if (strchr(addr, ':')) {
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
		k.family = AF_INET6;
	} else {
		assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
		k.family = AF_INET;
	}
	k.role = role;
	k.method = method;
	return k;
}

/* Checks one histogram entry for internal consistency; returns its count. */
static uint64_t check_hist(int map_fd, const struct flow_prefix_key *k)
{
	struct latency_hist h;
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(map_fd, k, &h))
		return 0;
	for (int b = 0; b < HIST_BUCKETS; b++)
		sum += h.buckets[b];
	assert_int_equal(sum, h.count);
	assert_true(h.count > 0);
	assert_true(h.min_ns > 0);
	assert_true(h.min_ns <= h.max_ns);
	assert_true(h.max_ns < PLAUSIBLE_RTT_NS);
	assert_true(h.sum_ns >= h.min_ns * h.count && h.sum_ns <= h.max_ns * h.count);
	return h.count;
}

/* ---- the table ------------------------------------------------------------ */

struct step {
	bool egress;
	struct pkt p;
	unsigned sleep_ms; /* before the frame */
	unsigned repeat;   /* send this frame 1 + repeat times */
};

struct want_hist {
	const char *prefix;
	uint8_t method;
	uint64_t count;
};

struct tcase {
	const char *name;
	int role;                     /* FLOW_ROLE_*; -1: interface without a role */
	struct step steps[MAX_STEPS]; /* until the first step with l3 == L_NONE && !ethertype */
	uint64_t unmeasured[FLOW_U_MAX];
	struct want_hist hist[4];
	int flows_after;              /* entries in `flows` at the end; -1: not checked */
};

#define E(...) { .egress = true, .p = { __VA_ARGS__ } }
#define I(...) { .egress = false, .p = { __VA_ARGS__ } }
#define ES(ms, ...) { .egress = true, .sleep_ms = (ms), .p = { __VA_ARGS__ } }
#define IS(ms, ...) { .egress = false, .sleep_ms = (ms), .p = { __VA_ARGS__ } }

#define TCP4 .l3 = L_V4, .proto = IPPROTO_TCP
#define TCP6 .l3 = L_V6, .proto = IPPROTO_TCP
#define TSE(v) .ts = true, .tsval = (v), .tsecr = 1, .flags = 0x10           /* egress ACK with TS */
#define TSI(e) .ts = true, .tsval = 7777, .tsecr = (e), .flags = 0x10        /* ingress echo */
#define ICMP4 .l3 = L_V4, .proto = IPPROTO_ICMP
#define ICMP6 .l3 = L_V6, .proto = IPPROTO_ICMPV6
#define UDP4 .l3 = L_V4, .proto = IPPROTO_UDP
#define UDP6 .l3 = L_V6, .proto = IPPROTO_UDP
#define P4 "192.0.2.0"
#define P6 "2001:db8:1::"
#define PARSE_ERR { [FLOW_U_PARSE_ERROR] = 1 }
#define DS(ms) TEST_SAMPLE_INTERVAL_MS + 1 + (ms) /* a pause past the rate limit */

/* Cases refine the macros' defaults (e.g. TSI(x), .flags = FIN|ACK). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct tcase cases[] = {
	{ "tcp_ts_basic", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100), .payload = 100), I(TCP4, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_role_wan", FLOW_ROLE_WAN,
	  { E(TCP4, TSE(100)), I(TCP4, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_v6", FLOW_ROLE_LAN,
	  { E(TCP6, TSE(100), .payload = 10), I(TCP6, TSI(100)) },
	  {}, { { P6, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_pure_ack_counts", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), I(TCP4, TSI(100), .payload = 1000) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_repeated_tsval_not_recorded_again", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), ES(DS(0), TCP4, TSE(100), .payload = 10), I(TCP4, TSI(100)),
	    I(TCP4, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_wraps", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(0xffffff00)), I(TCP4, TSI(0xffffff00)),
	    ES(DS(0), TCP4, TSE(0x00000010)), I(TCP4, TSI(0x00000010)),
	    ES(DS(0), TCP4, TSE(0xffffff80)), /* older than 0x10 after the wrap: ignored */
	    I(TCP4, TSI(0xffffff80)) },
	  {}, { { P4, FLOW_M_TCP_TS, 2 } }, 1 },
	{ "tcp_ts_rate_limited", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), E(TCP4, TSE(101)), I(TCP4, TSI(100)), I(TCP4, TSI(101)) },
	  { [FLOW_U_RATE_LIMITED] = 1 }, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_echo_of_lost_entry_is_no_match", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), I(TCP4, TSI(200)), I(TCP4, TSI(300)) },
	  { [FLOW_U_NO_MATCH] = 1 }, {}, 1 },
	{ "tcp_ts_unknown_flow_not_counted", FLOW_ROLE_LAN,
	  { I(TCP4, TSI(100)) }, {}, {}, 0 },
	{ "tcp_ts_no_role_counts_nothing", -1,
	  { E(TCP4, TSE(100)), I(TCP4, TSI(100)), E(.ethertype = 0x0806) }, {}, {}, 0 },
	{ "tcp_seq_happy_path", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x18, .seq = 1000, .payload = 100),
	    I(TCP4, .flags = 0x10, .ack = 1050), /* partial: not yet */
	    I(TCP4, .flags = 0x10, .ack = 1100) },
	  {}, { { P4, FLOW_M_TCP_SEQ, 1 } }, 1 },
	{ "tcp_seq_handshake", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x02, .seq = 5000), I(TCP4, .flags = 0x12, .seq = 1, .ack = 5001) },
	  {}, { { P4, FLOW_M_TCP_SEQ, 1 } }, 1 },
	{ "tcp_seq_wraps", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x18, .seq = 0xffffffc0, .payload = 100),
	    I(TCP4, .flags = 0x10, .ack = 0x24) },
	  {}, { { P4, FLOW_M_TCP_SEQ, 1 } }, 1 },
	{ "tcp_seq_retransmission_no_sample", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x18, .seq = 1000, .payload = 100),
	    E(TCP4, .flags = 0x18, .seq = 1000, .payload = 100), /* retransmitted */
	    I(TCP4, .flags = 0x10, .ack = 1100),                 /* ambiguous: Karn */
	    ES(DS(0), TCP4, .flags = 0x18, .seq = 1100, .payload = 100),
	    I(TCP4, .flags = 0x10, .ack = 1200) },                /* a clean one again */
	  {}, { { P4, FLOW_M_TCP_SEQ, 1 } }, 1 },
	{ "tcp_seq_one_outstanding_sample", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x18, .seq = 1000, .payload = 100),
	    E(TCP4, .flags = 0x18, .seq = 1100, .payload = 100),
	    I(TCP4, .flags = 0x10, .ack = 1200) },
	  {}, { { P4, FLOW_M_TCP_SEQ, 1 } }, 1 },
	{ "tcp_seq_pure_ack_unmeasured", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x10, .seq = 1000), I(TCP4, .flags = 0x02, .seq = 9) },
	  { [FLOW_U_TCP_NO_TS_NO_SEQ] = 2 }, {}, 0 },
	{ "tcp_fin_egress_removes_flow", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), E(TCP4, TSE(101), .flags = 0x11), I(TCP4, TSI(100)) },
	  {}, {}, 0 },
	{ "tcp_fin_ingress_measures_then_removes", FLOW_ROLE_LAN,
	  { E(TCP4, TSE(100)), I(TCP4, TSI(100), .flags = 0x11) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 0 },
	{ "tcp_rst_removes_flow", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x18, .seq = 1000, .payload = 10), I(TCP4, .flags = 0x14) },
	  {}, {}, 0 },
	{ "icmp_v4_echo", FLOW_ROLE_LAN,
	  { E(ICMP4, .icmp_type = 8, .icmp_id = 7, .icmp_seq = 1),
	    I(ICMP4, .icmp_type = 0, .icmp_id = 7, .icmp_seq = 1),
	    I(ICMP4, .icmp_type = 0, .icmp_id = 7, .icmp_seq = 1) /* duplicate */ },
	  { [FLOW_U_NO_MATCH] = 1 }, { { P4, FLOW_M_ICMP, 1 } }, 1 },
	{ "icmp_v6_echo", FLOW_ROLE_WAN,
	  { E(ICMP6, .icmp_type = 128, .icmp_id = 9, .icmp_seq = 3),
	    I(ICMP6, .icmp_type = 129, .icmp_id = 9, .icmp_seq = 3) },
	  {}, { { P6, FLOW_M_ICMP, 1 } }, 1 },
	{ "icmp_other_type_unsupported", FLOW_ROLE_LAN,
	  { I(ICMP4, .icmp_type = 3), E(ICMP6, .icmp_type = 135) },
	  { [FLOW_U_UNSUPPORTED] = 2 }, {}, 0 },
	{ "icmp_remote_ping_not_measured", FLOW_ROLE_LAN,
	  { I(ICMP4, .icmp_type = 8, .icmp_id = 7, .icmp_seq = 1),
	    E(ICMP4, .icmp_type = 0, .icmp_id = 7, .icmp_seq = 1) },
	  {}, {}, 0 },
	{ "dns_v4", FLOW_ROLE_LAN,
	  { E(UDP4, .dns_id = 0x1234), I(UDP4, .dns_id = 0x1234, .dns_qr = true),
	    I(UDP4, .dns_id = 0x9999, .dns_qr = true) },
	  { [FLOW_U_NO_MATCH] = 1 }, { { P4, FLOW_M_DNS, 1 } }, 1 },
	{ "dns_v6", FLOW_ROLE_LAN,
	  { E(UDP6, .dns_id = 0x4321), I(UDP6, .dns_id = 0x4321, .dns_qr = true) },
	  {}, { { P6, FLOW_M_DNS, 1 } }, 1 },
	{ "dns_short_header_is_parse_error", FLOW_ROLE_LAN,
	  { E(UDP4, .dns_id = 1, .payload = 6) }, PARSE_ERR, {}, 0 },
	{ "udp_other_port_unsupported", FLOW_ROLE_LAN,
	  { E(UDP4, .lport = 5000, .rport = 5001, .payload = 30) },
	  { [FLOW_U_UNSUPPORTED] = 1 }, {}, 0 },
	{ "vlan_802_1q", FLOW_ROLE_LAN,
	  { E(TCP4, .vlans = 1, TSE(100)), I(TCP4, .vlans = 1, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "qinq_802_1ad", FLOW_ROLE_LAN,
	  { E(TCP6, .vlans = 2, TSE(100)), I(TCP6, .vlans = 2, TSI(100)) },
	  {}, { { P6, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "three_vlan_tags_parse_error", FLOW_ROLE_LAN,
	  { E(TCP4, .vlans = 3, TSE(100)) }, PARSE_ERR, {}, 0 },
	{ "ipv4_options", FLOW_ROLE_LAN,
	  { E(TCP4, .v4_opt_words = 3, TSE(100)), I(TCP4, .v4_opt_words = 10, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "ipv4_ihl_below_5", FLOW_ROLE_LAN,
	  { E(TCP4, .v4_ihl = 4, TSE(100)) }, PARSE_ERR, {}, 0 },
	{ "ipv4_non_first_fragment", FLOW_ROLE_LAN,
	  { E(TCP4, .v4_frag = 185, TSE(100)) }, { [FLOW_U_UNSUPPORTED] = 1 }, {}, 0 },
	{ "ipv6_ext_chain_within_limit", FLOW_ROLE_LAN,
	  { E(TCP6, .n_ext = 6, .ext = { 0, 60, 43, 44, 60, 60 }, TSE(100)),
	    I(TCP6, .n_ext = 2, .ext = { 0, 44 }, TSI(100)) },
	  {}, { { P6, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "ipv6_ext_chain_beyond_limit", FLOW_ROLE_LAN,
	  { E(TCP6, .n_ext = 7, .ext = { 0, 60, 43, 60, 60, 60, 60 }, TSE(100)) },
	  PARSE_ERR, {}, 0 },
	{ "ipv6_non_first_fragment", FLOW_ROLE_LAN,
	  { E(TCP6, .n_ext = 1, .ext = { 44 }, .frag_nonfirst = true, TSE(100)) },
	  { [FLOW_U_UNSUPPORTED] = 1 }, {}, 0 },
	{ "ipv6_unknown_next_header", FLOW_ROLE_LAN,
	  { E(.l3 = L_V6, .proto = 47, .payload = 0) }, { [FLOW_U_UNSUPPORTED] = 1 }, {}, 0 },
	/* Truncated at every layer (lengths in the headers stay those of the whole frame).
	 * The kernel's test_run refuses an IPv4/IPv6 frame shorter than the base
	 * IP header (EINVAL), so those two run inside an 802.1Q tag, which it
	 * does not look into; the parser takes the same path. */
	{ "trunc_vlan", FLOW_ROLE_LAN, { E(TCP4, .vlans = 1, TSE(1), .truncate = 16) }, PARSE_ERR, {}, 0 },
	{ "trunc_qinq_inner", FLOW_ROLE_LAN, { E(TCP4, .vlans = 2, TSE(1), .truncate = 20) }, PARSE_ERR, {}, 0 },
	{ "trunc_ipv4_in_vlan", FLOW_ROLE_LAN, { E(TCP4, .vlans = 1, TSE(1), .truncate = 18 + 19) }, PARSE_ERR, {}, 0 },
	{ "trunc_ipv4_options", FLOW_ROLE_LAN, { E(TCP4, .v4_opt_words = 4, TSE(1), .truncate = 14 + 30) }, PARSE_ERR, {}, 0 },
	{ "trunc_ipv6_in_vlan", FLOW_ROLE_LAN, { E(TCP6, .vlans = 1, TSE(1), .truncate = 18 + 39) }, PARSE_ERR, {}, 0 },
	{ "trunc_ipv6_ext", FLOW_ROLE_LAN, { E(TCP6, .n_ext = 2, .ext = { 0, 60 }, TSE(1), .truncate = 14 + 40 + 12) }, PARSE_ERR, {}, 0 },
	{ "trunc_tcp", FLOW_ROLE_LAN, { E(TCP4, TSE(1), .truncate = 14 + 20 + 19) }, PARSE_ERR, {}, 0 },
	{ "trunc_tcp_options", FLOW_ROLE_LAN, { E(TCP4, TSE(1), .truncate = 14 + 20 + 26) }, PARSE_ERR, {}, 0 },
	{ "trunc_udp", FLOW_ROLE_LAN, { E(UDP4, .truncate = 14 + 20 + 7) }, PARSE_ERR, {}, 0 },
	{ "trunc_dns", FLOW_ROLE_LAN, { E(UDP4, .dns_id = 5, .truncate = 14 + 20 + 8 + 3) }, PARSE_ERR, {}, 0 },
	{ "trunc_icmp", FLOW_ROLE_LAN, { E(ICMP4, .icmp_type = 8, .truncate = 14 + 20 + 7) }, PARSE_ERR, {}, 0 },
	{ "trunc_icmp6", FLOW_ROLE_LAN, { E(ICMP6, .icmp_type = 128, .truncate = 14 + 40 + 7) }, PARSE_ERR, {}, 0 },
	{ "trunc_quic", FLOW_ROLE_LAN, { I(UDP4, .lport = 50000, .rport = 443, .truncate = 14 + 20 + 8) }, PARSE_ERR, {}, 0 },
	/* Bogus TCP options. */
	{ "tcp_opt_len_0", FLOW_ROLE_LAN, { E(TCP4, .flags = 0x10, .opts = "\x05\x00\x00\x00", .opts_len = 4) }, PARSE_ERR, {}, 0 },
	{ "tcp_opt_len_1", FLOW_ROLE_LAN, { E(TCP4, .flags = 0x10, .opts = "\x01\x05\x01\x00", .opts_len = 4) }, PARSE_ERR, {}, 0 },
	{ "tcp_opt_beyond_header", FLOW_ROLE_LAN, { E(TCP4, .flags = 0x10, .opts = "\x01\x01\x05\x0e\x00\x00\x00\x00", .opts_len = 8) }, PARSE_ERR, {}, 0 },
	{ "tcp_opt_kind_without_len", FLOW_ROLE_LAN, { E(TCP4, .flags = 0x10, .opts = "\x01\x01\x01\x05", .opts_len = 4) }, PARSE_ERR, {}, 0 },
	{ "tcp_opt_ts_wrong_len", FLOW_ROLE_LAN, { E(TCP4, .flags = 0x10, .opts = "\x08\x08\x00\x00\x00\x01\x00\x00", .opts_len = 8) }, PARSE_ERR, {}, 0 },
	{ "tcp_40_option_bytes", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x10, .opts = "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x08\x0a\x00\x00\x00\x2a\x00\x00\x00\x00", .opts_len = 40),
	    I(TCP4, TSI(42)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_after_sack_and_eol_padding", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x10, .opts = "\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x64\x00\x00\x00\x00\x01\x03\x03\x07", .opts_len = 20),
	    I(TCP4, TSI(100)) },
	  {}, { { P4, FLOW_M_TCP_TS, 1 } }, 1 },
	{ "tcp_ts_after_eol_ignored", FLOW_ROLE_LAN,
	  { E(TCP4, .flags = 0x10, .payload = 5, .opts = "\x00\x00\x08\x0a\x00\x00\x00\x64\x00\x00\x00\x00", .opts_len = 12),
	    I(TCP4, TSI(100)) },
	  {}, {}, 1 },
	{ "not_ip", FLOW_ROLE_LAN, { E(.ethertype = 0x0806), I(.ethertype = 0x88cc) },
	  { [FLOW_U_NOT_IP] = 2 }, {}, 0 },
	{ "quic_spin_edges", FLOW_ROLE_WAN,
	  { I(UDP4, .lport = 50000, .rport = 443, .quic_first = 0x40),
	    IS(2, UDP4, .lport = 50000, .rport = 443, .quic_first = 0x60),  /* edge 1 */
	    IS(DS(0), UDP4, .lport = 50000, .rport = 443, .quic_first = 0x40), /* edge 2: sample */
	    I(UDP4, .lport = 50000, .rport = 443, .quic_first = 0xc0), /* long header: ignored */
	    E(UDP4, .lport = 50000, .rport = 443, .quic_first = 0x60) },   /* egress: traffic only */
	  {}, { { P4, FLOW_M_QUIC_SPIN, 1 } }, 1 },
	{ "quic_spin_never_moves", FLOW_ROLE_LAN,
	  { { .egress = false, .repeat = 40, .p = { UDP4, .lport = 50001, .rport = 443, .quic_first = 0x41 } } },
	  { [FLOW_U_QUIC_NO_SPIN] = 1 }, {}, 1 },
};
#pragma GCC diagnostic pop

static int nsteps(const struct tcase *c)
{
	int n = 0;

	while (n < MAX_STEPS && (c->steps[n].p.l3 != L_NONE || c->steps[n].p.ethertype))
		n++;
	return n;
}

static void check_case(const struct tcase *c)
{
	uint64_t got[FLOW_U_MAX];
	uint64_t packets = 0, samples = 0;
	int hist_fd = bpf_map__fd(skel->maps.hist_a);
	int n = nsteps(c);
	struct flow_prefix_key tk, nk;
	void *prev = NULL;
	size_t want_entries = 0;

	reset_all();
	set_role(c->role);
	for (int i = 0; i < n; i++) {
		const struct step *s = &c->steps[i];
		struct frame f;

		if (s->sleep_ms)
			sleep_ms(s->sleep_ms);
		build(&f, &s->p, s->egress);
		for (unsigned r = 0; r <= s->repeat; r++) {
			run_frame(s->egress, &f);
			packets++;
		}
	}

	read_unmeasured(got);
	for (int u = 0; u < FLOW_U_MAX; u++)
		if (got[u] != c->unmeasured[u])
			fail_msg("%s: unmeasured[%d] = %llu, want %llu", c->name, u,
				 (unsigned long long)got[u], (unsigned long long)c->unmeasured[u]);

	for (int h = 0; h < 4 && c->hist[h].prefix; h++) {
		uint8_t role = c->role < 0 ? 0 : (uint8_t)c->role;
		struct flow_prefix_key k = prefix_key(c->hist[h].prefix, role, c->hist[h].method);
		uint64_t cnt = check_hist(hist_fd, &k);

		if (cnt != c->hist[h].count)
			fail_msg("%s: histogram %s method %u: %llu samples, want %llu", c->name,
				 c->hist[h].prefix, c->hist[h].method, (unsigned long long)cnt,
				 (unsigned long long)c->hist[h].count);
		want_entries++;
		samples += cnt;
	}
	if (count_entries(hist_fd, sizeof(struct flow_prefix_key)) != want_entries)
		fail_msg("%s: %zu histogram entries, want %zu", c->name,
			 count_entries(hist_fd, sizeof(struct flow_prefix_key)), want_entries);

	if (c->flows_after >= 0 &&
	    count_entries(bpf_map__fd(skel->maps.flows), 40) != (size_t)c->flows_after)
		fail_msg("%s: %zu flows, want %d", c->name,
			 count_entries(bpf_map__fd(skel->maps.flows), 40), c->flows_after);

	/* Every frame counted once as traffic (none without a role). */
	{
		uint64_t seen = 0;
		struct flow_traffic t;
		int tfd = bpf_map__fd(skel->maps.traffic_a);

		while (bpf_map_get_next_key(tfd, prev, &nk) == 0) {
			tk = nk;
			prev = &tk;
			assert_int_equal(bpf_map_lookup_elem(tfd, &tk, &t), 0);
			seen += t.packets_in + t.packets_out;
			assert_true(t.bytes_in >= t.packets_in * 14 && t.bytes_out >= t.packets_out * 14);
		}
		if (seen != (c->role < 0 ? 0 : packets))
			fail_msg("%s: traffic counted %llu frames, want %llu", c->name,
				 (unsigned long long)seen, (unsigned long long)packets);
	}

	/* One event per sample (events on, no per-flow event gap in this test). */
	ring_buffer__consume(rb);
	assert_false(ev.bad);
	if (ev.n != samples)
		fail_msg("%s: %u events, want %llu", c->name, ev.n, (unsigned long long)samples);
	for (int h = 0; h < 4 && c->hist[h].prefix; h++)
		assert_true(ev.per_method[c->hist[h].method] >= c->hist[h].count);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  case %s\n", cases[i].name);
		check_case(&cases[i]);
	}
}

/* The daemon's window swap: after pointing hist_cur/traffic_cur at the b
 * maps, samples and traffic land there and a's contents stay put. */
static void test_window_swap(void **state)
{
	struct frame f;
	struct pkt e = { TCP4, TSE(100) }, i = { TCP4, TSI(100) };
	struct pkt e2 = { TCP4, TSE(200) }, i2 = { TCP4, TSI(200) };
	struct flow_prefix_key k = prefix_key(P4, FLOW_ROLE_LAN, FLOW_M_TCP_TS);

	reset_all();
	build(&f, &e, true), run_frame(true, &f);
	build(&f, &i, false), run_frame(false, &f);
	point_outer(skel->maps.hist_cur, skel->maps.hist_b);
	point_outer(skel->maps.traffic_cur, skel->maps.traffic_b);
	sleep_ms(DS(0));
	build(&f, &e2, true), run_frame(true, &f);
	build(&f, &i2, false), run_frame(false, &f);
	assert_int_equal(check_hist(bpf_map__fd(skel->maps.hist_a), &k), 1);
	assert_int_equal(check_hist(bpf_map__fd(skel->maps.hist_b), &k), 1);
	assert_int_equal(count_entries(bpf_map__fd(skel->maps.traffic_a), sizeof(struct flow_traffic_key)), 1);
	assert_int_equal(count_entries(bpf_map__fd(skel->maps.traffic_b), sizeof(struct flow_traffic_key)), 1);
	reset_all();
}

/* The RTT of a sample spans the pause between request and reply. */
static void test_rtt_spans_the_pause(void **state)
{
	struct frame f;
	struct pkt e = { ICMP4, .icmp_type = 8, .icmp_id = 1, .icmp_seq = 1 };
	struct pkt i = { ICMP4, .icmp_type = 0, .icmp_id = 1, .icmp_seq = 1 };
	struct flow_prefix_key k = prefix_key(P4, FLOW_ROLE_LAN, FLOW_M_ICMP);
	struct latency_hist h;

	reset_all();
	build(&f, &e, true), run_frame(true, &f);
	sleep_ms(20);
	build(&f, &i, false), run_frame(false, &f);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.hist_a), &k, &h), 0);
	assert_int_equal(h.count, 1);
	assert_true(h.min_ns >= 20ULL * 1000 * 1000);
	assert_true(h.max_ns < 2ULL * 1000 * 1000 * 1000);
	reset_all();
}

/* Loading passed the verifier (setup); keep a margin to its 1M-insn limit,
 * since every new parse path multiplies the states it explores. */
#define VERIFIER_BUDGET 250000 /* ~130k today (Linux 6.18) */

static void test_verifier_budget(void **state)
{
	struct bpf_program *progs[] = { skel->progs.flow_egress, skel->progs.flow_ingress };

	for (size_t i = 0; i < 2; i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len), 0);
		print_message("  %s: %u instructions verified, %u translated\n",
			      bpf_program__name(progs[i]), info.verified_insns, info.xlated_prog_len / 8);
		assert_true(info.verified_insns > 0);
		assert_true(info.verified_insns < VERIFIER_BUDGET);
	}
}

static int setup(void **state)
{
	int err;

	skel = flow_rtt_bpf__open();
	if (!skel)
		return -1;
	skel->rodata->sample_interval_ns = TEST_SAMPLE_INTERVAL_MS * 1000ULL * 1000;
	skel->rodata->events_enabled = 1;
	skel->rodata->event_interval_ns = 0;
	/* Passing the verifier is part of the test. */
	err = flow_rtt_bpf__load(skel);
	if (err) {
		fprintf(stderr, "flow_rtt_bpf__load: %s\n", strerror(-err));
		return -1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb)
		return -1;
	ncpus = libbpf_num_possible_cpus();
	return ncpus > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	ring_buffer__free(rb);
	flow_rtt_bpf__destroy(skel);
	return 0;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_budget),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_window_swap),
		cmocka_unit_test(test_rtt_spans_the_pause),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: loading BPF programs needs root\n");
		return 77;
	}
	libbpf_set_print(print_libbpf);
	return cmocka_run_group_tests(tests, setup, teardown);
}
