/*
 * xdprobe-wanem: a small WAN/field-link emulator for the netns testbeds.
 *
 * sch_netem is not available on the development machines (no kernel modules),
 * so this program bridges two interfaces at L2 with AF_PACKET sockets and
 * delays, drops or passes every frame itself. It runs in its own network
 * namespace; the two ports carry no addresses, so the only frames leaving
 * them are the ones we forward.
 *
 * Time base: every timestamp in the log is CLOCK_MONOTONIC.
 *  - rx: the kernel's receive timestamp (SO_TIMESTAMPNS, taken when the
 *    frame reached the port), converted from CLOCK_REALTIME with the offset
 *    between the two clocks read right after recvmsg(). Measured here, a
 *    user-space read after recvmsg() lags it by ~30 us at the median and
 *    ~150 us at p99 (wake-up latency), which would hide part of the delay
 *    the frame really spent in the emulator. The release time is computed
 *    from this arrival time too. If the stamp is missing or implausible
 *    (clock step: more than 1 s old or in the future) we fall back to the
 *    user-space read and count it (rx_ts_fallback_*).
 *  - tx: read right after the send call returns. On veth the frame reaches
 *    the peer inside that call, which may also run the peer's receive
 *    softirq or be preempted, so tx can be late by up to the call's
 *    duration: every fwd line ends with send_ns=<duration>, so the true
 *    hand-off lies in [tx - send_ns, tx]; calls over 100 us are counted
 *    (send_slow_*).
 * Applied delay = tx - rx: the per-packet truth tests compare against.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "simutil.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define SLOT_SIZE 2048u		/* one preallocated buffer per queued frame */
#define VLAN_HLEN 4u		/* room kept in front of a slot to re-insert a tag */
#define RX_BATCH 64		/* frames read per socket per wake-up: keeps sends timely */
#define DEFAULT_QUEUE 65536u
#define MAX_QUEUE (1u << 22)
#define SOCK_BUF (4 << 20)
#define SLOW_SEND_NS 100000ull	/* 100 us: counted as a slow send */

enum { DIR_AB, DIR_BA, NDIR };
enum { EXIT_RUNTIME = 1 };	/* 2, usage: SIM_EXIT_USAGE */

/* Per-direction impairments; --reorder-pct and --dup-pct belong here too. */
struct impair {
	uint64_t delay_ns;
	uint64_t jitter_ns;
	double loss;		/* probability 0..1 */
	uint64_t drop_tcp_data;	/* TCP segments with payload still to drop */
	uint64_t rng_loss;	/* separate streams: enabling jitter must not */
	uint64_t rng_jitter;	/* change which frames the loss stream drops */
};

struct frame {
	uint64_t rx_ns;
	uint64_t due_ns;
	uint32_t buf;		/* slab index */
	uint16_t off;		/* frame start inside the slot (0 or VLAN_HLEN) */
	uint16_t len;
};

/*
 * Bounded FIFO: a ring of frame descriptors plus a slab of fixed buffers
 * handed out from a LIFO free stack, so recently used (hot) buffers are
 * reused and resident memory follows the peak queue depth.
 */
struct fqueue {
	struct frame *ring;
	uint8_t *slab;
	uint32_t *free_stack;
	uint32_t cap, head, count, nfree;
	uint64_t last_due;	/* jitter must never reorder a direction */
};

struct dir_stats {
	uint64_t rx, fwd, drop_loss, drop_tcpdata, drop_queue, drop_oversize;
	uint64_t drop_txerr, drop_sock, queue_max;
	uint64_t send_slow, send_max_ns;	/* send calls longer than SLOW_SEND_NS */
	uint64_t rx_ts_fallback;	/* no usable kernel rx timestamp */
};

struct port {
	const char *name;
	int ifindex;
	int fd;
	unsigned int mtu;
};

struct direction {
	const char *tag;	/* "ab" or "ba" */
	struct port *in, *out;
	struct impair imp;
	struct fqueue q;
	struct dir_stats st;
};

struct options {
	const char *if_a, *if_b, *log_path, *stats_path;
	double delay_ms, delay_ab_ms, delay_ba_ms, jitter_ms;
	double loss_pct, loss_ab_pct, loss_ba_pct, spin_us;
	bool delay_ab_set, delay_ba_set, loss_ab_set, loss_ba_set;
	uint64_t drop_tcp_data_ab, seed;
	uint32_t queue_frames;
};

struct ctx {
	struct port port[2];
	struct direction dir[NDIR];
	int timer_fd, signal_fd, stats_fd;
	uint64_t spin_ns;	/* busy-wait this long before a release */
	FILE *log;
	const char *stats_path;
	uint8_t scratch[SLOT_SIZE];	/* receives frames we are going to drop */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* xorshift64* (Vigna); the state must never be 0. */
static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double rng_unit(uint64_t *s)
{
	return (double)(xorshift64s(s) >> 11) * 0x1.0p-53;
}

static uint64_t rng_seed(uint64_t *sm)
{
	uint64_t v = splitmix64(sm);

	return v ? v : 0x1d2c3b4a59687766ull;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- frame parsing (bounds-checked, for the log and --drop-tcp-data) --- */

struct pinfo {
	uint16_t ethertype;	/* innermost */
	int vlan;		/* outer VLAN id or -1 */
	int family;		/* AF_INET, AF_INET6 or 0 */
	uint8_t proto;
	bool l4_ok;		/* L4 header present and complete */
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint16_t sport, dport;
	uint8_t tcp_flags, icmp_type;
	uint16_t icmp_id, icmp_seq;
	uint32_t tcp_payload;
	bool tcp_ts;		/* TCP timestamp option present */
	uint32_t tsval, tsecr;
};

/* Finds the TCP timestamp option (kind 8, length 10) in opt[0..len). */
static void parse_tcp_ts(const uint8_t *opt, size_t len, struct pinfo *pi)
{
	size_t i = 0;

	while (i < len && opt[i] != 0) { /* 0: end of options */
		if (opt[i] == 1) { /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			return; /* malformed: no timestamp */
		if (opt[i] == 8 && opt[i + 1] == 10) {
			pi->tcp_ts = true;
			pi->tsval = ((uint32_t)rd16(opt + i + 2) << 16) | rd16(opt + i + 4);
			pi->tsecr = ((uint32_t)rd16(opt + i + 6) << 16) | rd16(opt + i + 8);
			return;
		}
		i += opt[i + 1];
	}
}

static void parse_l4(const uint8_t *l4, size_t len, struct pinfo *pi)
{
	bool icmp = pi->proto == IPPROTO_ICMP || pi->proto == IPPROTO_ICMPV6;

	if (pi->proto == IPPROTO_TCP && len >= 20) {
		size_t doff = (size_t)(l4[12] >> 4) * 4;

		if (doff < 20 || doff > len)
			return;
		pi->tcp_flags = l4[13];
		pi->tcp_payload = (uint32_t)(len - doff);
		parse_tcp_ts(l4 + 20, doff - 20, pi);
	} else if (!(pi->proto == IPPROTO_UDP || icmp) || len < 8) {
		return;
	}
	pi->sport = rd16(l4);
	pi->dport = rd16(l4 + 2);
	pi->icmp_type = l4[0];
	pi->icmp_id = rd16(l4 + 4);
	pi->icmp_seq = rd16(l4 + 6);
	pi->l4_ok = true;
}

static void parse_ipv4(const uint8_t *p, size_t len, struct pinfo *pi)
{
	size_t ihl, tot;

	if (len < 20 || (p[0] >> 4) != 4)
		return;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	tot = rd16(p + 2);
	if (tot > len)
		tot = len;	/* only our capture is truncated (oversize drops) */
	if (ihl < 20 || tot < ihl)
		return;
	pi->family = AF_INET;
	pi->proto = p[9];
	inet_ntop(AF_INET, p + 12, pi->src, sizeof(pi->src));
	inet_ntop(AF_INET, p + 16, pi->dst, sizeof(pi->dst));
	if ((rd16(p + 6) & 0x1fff) == 0)	/* later fragments carry no L4 header */
		parse_l4(p + ihl, tot - ihl, pi);
}

static void parse_ipv6(const uint8_t *p, size_t len, struct pinfo *pi)
{
	size_t plen;

	if (len < 40 || (p[0] >> 4) != 6)
		return;
	plen = rd16(p + 4);
	if (plen > len - 40)
		plen = len - 40;	/* truncated capture */
	pi->family = AF_INET6;
	pi->proto = p[6];	/* extension headers are not walked */
	inet_ntop(AF_INET6, p + 8, pi->src, sizeof(pi->src));
	inet_ntop(AF_INET6, p + 24, pi->dst, sizeof(pi->dst));
	parse_l4(p + 40, plen, pi);
}

static void parse_frame(const uint8_t *p, size_t len, struct pinfo *pi)
{
	size_t off = 12;

	memset(pi, 0, sizeof(*pi));
	pi->vlan = -1;
	if (len < ETH_HLEN)
		return;
	pi->ethertype = rd16(p + off);
	for (int i = 0; i < 2 && (pi->ethertype == ETH_P_8021Q ||
				   pi->ethertype == ETH_P_8021AD); i++) {
		if (len < off + 6)
			return;
		if (pi->vlan < 0)
			pi->vlan = rd16(p + off + 2) & 0x0fff;
		off += 4;
		pi->ethertype = rd16(p + off);
	}
	off += 2;
	if (pi->ethertype == ETH_P_IP)
		parse_ipv4(p + off, len - off, pi);
	else if (pi->ethertype == ETH_P_IPV6)
		parse_ipv6(p + off, len - off, pi);
}

static bool is_tcp_data(const uint8_t *p, size_t len)
{
	struct pinfo pi;

	parse_frame(p, len, &pi);
	return pi.family && pi.proto == IPPROTO_TCP && pi.l4_ok && pi.tcp_payload > 0;
}

static void tcp_flag_str(uint8_t f, char *out)
{
	static const char names[] = "FSRPAUEC";

	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			*out++ = names[i];
	*out = '\0';
}

static void ep_str(char *out, size_t n, const struct pinfo *pi, bool src)
{
	const char *a = src ? pi->src : pi->dst;
	unsigned int port = src ? pi->sport : pi->dport;

	if (pi->family == AF_INET6)
		snprintf(out, n, "[%s]:%u", a, port);
	else
		snprintf(out, n, "%s:%u", a, port);
}

static void describe_l4(char *out, size_t n, const struct pinfo *pi)
{
	char s[INET6_ADDRSTRLEN + 8], d[INET6_ADDRSTRLEN + 8], fl[9];
	const char *v6 = pi->family == AF_INET6 ? "6" : "";

	ep_str(s, sizeof(s), pi, true);
	ep_str(d, sizeof(d), pi, false);
	if (pi->proto == IPPROTO_TCP) {
		tcp_flag_str(pi->tcp_flags, fl);
		int w = snprintf(out, n, "tcp%s %s>%s flags=%s len=%u", v6, s, d, fl,
				 pi->tcp_payload);

		/* the timestamps let tests pair a TSval with its echo exactly */
		if (pi->tcp_ts && w > 0 && (size_t)w < n)
			snprintf(out + w, n - (size_t)w, " ts=%u ecr=%u", pi->tsval, pi->tsecr);
	} else if (pi->proto == IPPROTO_UDP) {
		snprintf(out, n, "udp%s %s>%s", v6, s, d);
	} else {
		snprintf(out, n, "icmp%s %s>%s id=%u seq=%u type=%u", v6, pi->src,
			 pi->dst, pi->icmp_id, pi->icmp_seq, pi->icmp_type);
	}
}

static void describe(const uint8_t *p, size_t len, char *out, size_t n)
{
	struct pinfo pi;
	char vl[24] = "";
	size_t used;

	parse_frame(p, len, &pi);
	if (pi.vlan >= 0)
		snprintf(vl, sizeof(vl), "vlan=%d ", pi.vlan);
	used = (size_t)snprintf(out, n, "%s", vl);
	out += used;
	n -= used;
	if (!pi.family)
		snprintf(out, n, "other 0x%04x", pi.ethertype);
	else if (pi.l4_ok)
		describe_l4(out, n, &pi);
	else
		snprintf(out, n, "ip%s proto=%u %s>%s", pi.family == AF_INET6 ? "6" : "",
			 pi.proto, pi.src, pi.dst);
}

/* ---- queue ------------------------------------------------------------ */

static int fq_init(struct fqueue *q, uint32_t cap)
{
	memset(q, 0, sizeof(*q));
	q->ring = calloc(cap, sizeof(*q->ring));
	q->free_stack = calloc(cap, sizeof(*q->free_stack));
	q->slab = malloc((size_t)cap * SLOT_SIZE);	/* untouched pages stay virtual */
	if (!q->ring || !q->free_stack || !q->slab)
		return -ENOMEM;
	q->cap = cap;
	for (uint32_t i = 0; i < cap; i++)
		q->free_stack[i] = cap - 1 - i;	/* slot 0 on top */
	q->nfree = cap;
	return 0;
}

static void fq_free(struct fqueue *q)
{
	free(q->ring);
	free(q->free_stack);
	free(q->slab);
}

static uint8_t *fq_slot(struct fqueue *q, uint32_t buf)
{
	return q->slab + (size_t)buf * SLOT_SIZE;
}

/* Buffer the next enqueue will use, or NULL when the queue is full. */
static uint8_t *fq_peek_free(struct fqueue *q)
{
	return q->nfree ? fq_slot(q, q->free_stack[q->nfree - 1]) : NULL;
}

static void fq_push(struct fqueue *q, const struct frame *f)
{
	struct frame *slot = &q->ring[(q->head + q->count) % q->cap];

	*slot = *f;
	slot->buf = q->free_stack[--q->nfree];
	q->count++;
}

static const struct frame *fq_head(const struct fqueue *q)
{
	return q->count ? &q->ring[q->head] : NULL;
}

static void fq_pop(struct fqueue *q)
{
	q->free_stack[q->nfree++] = q->ring[q->head].buf;
	q->head = (q->head + 1) % q->cap;
	q->count--;
}

/* ---- log and stats ---------------------------------------------------- */

struct logrec {
	const char *action;	/* "fwd" or "drop" */
	const char *why;	/* drop reason or NULL */
	uint64_t rx_ns, tx_ns;
	uint64_t send_ns;	/* duration of the send call */
	const uint8_t *p;
	size_t caplen;		/* bytes of p we may parse */
	size_t len;		/* length of the frame on the wire */
};

static void log_frame(struct ctx *c, const struct direction *d, const struct logrec *l)
{
	char sum[256], send[32] = "";

	if (!c->log)
		return;
	describe(l->p, l->caplen, sum, sizeof(sum));
	if (l->tx_ns)
		snprintf(send, sizeof(send), " send_ns=%" PRIu64, l->send_ns);
	fprintf(c->log, "%s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu %s%s%s%s\n",
		d->tag, l->action, l->rx_ns, l->tx_ns, l->tx_ns ? l->tx_ns - l->rx_ns : 0,
		l->len, sum, send, l->why ? " drop=" : "", l->why ? l->why : "");
}

static void log_drop(struct ctx *c, const struct direction *d, uint64_t rx,
		     const uint8_t *p, size_t caplen, size_t len, const char *why)
{
	log_frame(c, d, &(struct logrec){ .action = "drop", .why = why, .rx_ns = rx,
					  .p = p, .caplen = caplen, .len = len });
}

/* PACKET_STATISTICS resets on read, so accumulate kernel-side drops. */
static void collect_sock_drops(struct ctx *c)
{
	for (int i = 0; i < NDIR; i++) {
		struct tpacket_stats st;
		socklen_t sl = sizeof(st);

		if (getsockopt(c->dir[i].in->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0)
			c->dir[i].st.drop_sock += st.tp_drops;
	}
}

/* Keys carry the direction: "rx_ab", "drop_loss_ba", ... */
static void stats_print(FILE *f, const struct direction *d)
{
	const struct dir_stats *s = &d->st;
	const struct sim_kv kv[] = {
		{ "rx", s->rx }, { "fwd", s->fwd },
		{ "drop_loss", s->drop_loss }, { "drop_tcpdata", s->drop_tcpdata },
		{ "drop_queue", s->drop_queue }, { "drop_oversize", s->drop_oversize },
		{ "drop_txerr", s->drop_txerr }, { "drop_sock", s->drop_sock },
		{ "queued", d->q.count }, { "queue_max", s->queue_max },
		{ "send_slow", s->send_slow }, { "send_max_ns", s->send_max_ns },
		{ "rx_ts_fallback", s->rx_ts_fallback },
	};

	sim_kv_print(f, kv, sizeof(kv) / sizeof(kv[0]), d->tag);
}

static void stats_emit(FILE *f, const void *arg)
{
	const struct ctx *c = arg;

	for (int i = 0; i < NDIR; i++)
		stats_print(f, &c->dir[i]);
}

/* Atomic rewrite so readers never see a half-written file. */
static int stats_write(struct ctx *c)
{
	if (!c->stats_path)
		return 0;
	collect_sock_drops(c);
	return sim_write_atomic(c->stats_path, stats_emit, c);
}

/* ---- receive path ----------------------------------------------------- */

/*
 * Veth hands over TCP/UDP frames with CHECKSUM_PARTIAL (the checksum field
 * holds only the pseudo-header sum). PACKET_VNET_HDR tells us where the sum
 * goes; we complete it so the frame we send out is valid on any link.
 */
static void complete_csum(uint8_t *p, size_t len, const struct virtio_net_hdr *vh)
{
	size_t start = le16toh(vh->csum_start), field = start + le16toh(vh->csum_offset);
	uint32_t sum = 0;

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || field + 2 > len)
		return;
	for (size_t i = start; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if ((len - start) & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	wr16(p + field, sum ? (uint16_t)sum : 0xffff);
}

/* Packet sockets strip the VLAN tag into metadata; put it back in the frame. */
static size_t reinsert_vlan(uint8_t *slot, const struct tpacket_auxdata *aux)
{
	uint16_t tpid = ETH_P_8021Q;

	if (!aux || !(aux->tp_status & TP_STATUS_VLAN_VALID))
		return VLAN_HLEN;	/* frame starts after the reserved room */
	if (aux->tp_status & TP_STATUS_VLAN_TPID_VALID)
		tpid = aux->tp_vlan_tpid;
	memmove(slot, slot + VLAN_HLEN, 12);
	wr16(slot + 12, tpid);
	wr16(slot + 14, aux->tp_vlan_tci);
	return 0;
}

/* Kernel rx timestamp on the monotonic clock, or `mono` (read after recv). */
static uint64_t rx_time(struct msghdr *m, uint64_t mono, struct dir_stats *st)
{
	struct timespec rt, k;
	int64_t conv;

	clock_gettime(CLOCK_REALTIME, &rt);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS ||
		    cm->cmsg_len < CMSG_LEN(sizeof(k)))
			continue;
		memcpy(&k, CMSG_DATA(cm), sizeof(k));
		conv = (int64_t)sim_ts_ns(&k) - ((int64_t)sim_ts_ns(&rt) - (int64_t)mono);
		if (conv > 0 && (uint64_t)conv <= mono && mono - (uint64_t)conv < NSEC_PER_SEC)
			return (uint64_t)conv;
		break;
	}
	st->rx_ts_fallback++;
	return mono;
}

static const struct tpacket_auxdata *find_aux(struct msghdr *m)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
		if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata)))
			return (const struct tpacket_auxdata *)CMSG_DATA(cm);
	return NULL;
}

struct rxmeta {
	struct virtio_net_hdr vh;
	struct sockaddr_ll sll;
	union {
		char buf[128];	/* auxdata + timestamp control messages */
		size_t align;	/* struct cmsghdr alignment */
	} ctl;
	struct msghdr msg;
	struct iovec iov[2];
};

/* Returns the frame length (>= 0), -EAGAIN when drained, or -errno. */
static ssize_t recv_frame(int fd, uint8_t *data, size_t cap, struct rxmeta *m)
{
	ssize_t n;

	memset(m, 0, sizeof(*m));
	m->iov[0] = (struct iovec){ &m->vh, sizeof(m->vh) };
	m->iov[1] = (struct iovec){ data, cap };
	m->msg.msg_name = &m->sll;
	m->msg.msg_namelen = sizeof(m->sll);
	m->msg.msg_iov = m->iov;
	m->msg.msg_iovlen = 2;
	m->msg.msg_control = m->ctl.buf;
	m->msg.msg_controllen = sizeof(m->ctl.buf);
	do {
		n = recvmsg(fd, &m->msg, MSG_TRUNC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(m->vh))
		return 0;
	return n - (ssize_t)sizeof(m->vh);	/* MSG_TRUNC: the real length */
}

static bool frame_fits(const struct direction *d, const struct rxmeta *m,
		       const uint8_t *p, size_t len, size_t cap)
{
	size_t max = d->out->mtu + ETH_HLEN;

	if (len > cap || (m->msg.msg_flags & MSG_TRUNC) ||
	    m->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return false;	/* GSO super-frame: offloads were left on */
	if (len >= ETH_HLEN && (rd16(p + 12) == ETH_P_8021Q || rd16(p + 12) == ETH_P_8021AD))
		max += VLAN_HLEN;
	return len <= max;
}

/* Decide the fate of a received frame: NULL = forward, else drop reason. */
static const char *judge(struct direction *d, const uint8_t *p, size_t len)
{
	struct impair *imp = &d->imp;

	if (imp->drop_tcp_data && is_tcp_data(p, len)) {
		imp->drop_tcp_data--;
		d->st.drop_tcpdata++;
		return "tcpdata";
	}
	if (imp->loss > 0 && rng_unit(&imp->rng_loss) < imp->loss) {
		d->st.drop_loss++;
		return "loss";
	}
	return NULL;
}

static uint64_t release_time(struct direction *d, uint64_t rx)
{
	uint64_t due = rx + d->imp.delay_ns;

	if (d->imp.jitter_ns)
		due += (uint64_t)llround(rng_unit(&d->imp.rng_jitter) *
					 (double)d->imp.jitter_ns);
	if (due < d->q.last_due)
		due = d->q.last_due;	/* no reordering by jitter */
	d->q.last_due = due;
	return due;
}

static void accept_frame(struct ctx *c, struct direction *d, struct rxmeta *m,
			 uint8_t *slot, size_t len, uint64_t rx)
{
	size_t off = reinsert_vlan(slot, find_aux(&m->msg));
	size_t cap = SLOT_SIZE - off;
	uint8_t *p = slot + off;
	const char *why;

	len += VLAN_HLEN - off;
	if (!frame_fits(d, m, p, len, cap)) {
		d->st.drop_oversize++;
		log_drop(c, d, rx, p, len < cap ? len : cap, len, "oversize");
		return;
	}
	why = judge(d, p, len);
	if (why) {
		log_drop(c, d, rx, p, len, len, why);
		return;
	}
	fq_push(&d->q, &(struct frame){ .rx_ns = rx, .due_ns = release_time(d, rx),
					.off = (uint16_t)off, .len = (uint16_t)len });
	if (d->q.count > d->st.queue_max)
		d->st.queue_max = d->q.count;
}

/* Read one frame from d->in. Returns 1 if a frame was consumed, 0 when drained. */
static int rx_one(struct ctx *c, struct direction *d)
{
	const size_t cap = SLOT_SIZE - VLAN_HLEN;
	uint8_t *slot = fq_peek_free(&d->q);
	uint8_t *buf = slot ? slot : c->scratch;
	struct rxmeta m;
	ssize_t n = recv_frame(d->in->fd, buf + VLAN_HLEN, cap, &m);
	uint64_t rx = sim_now_ns();

	if (n == -EAGAIN || n == -EWOULDBLOCK || n == -ENETDOWN)
		return 0;	/* drained, or port down: poll() says when it is back */
	if (n < 0)
		return (int)n;
	if (m.sll.sll_pkttype == PACKET_OUTGOING || n < ETH_HLEN)
		return 1;	/* our own send seen by the tap, or a runt */
	rx = rx_time(&m.msg, rx, &d->st);
	d->st.rx++;
	if (!slot) {
		d->st.drop_queue++;
		log_drop(c, d, rx, buf + VLAN_HLEN, (size_t)n < cap ? (size_t)n : cap,
			 (size_t)n, "queue");
		return 1;
	}
	if ((size_t)n <= cap)
		complete_csum(buf + VLAN_HLEN, (size_t)n, &m.vh);
	accept_frame(c, d, &m, slot, (size_t)n, rx);
	return 1;
}

static int rx_batch(struct ctx *c, struct direction *d)
{
	for (int i = 0; i < RX_BATCH; i++) {
		int r = rx_one(c, d);

		if (r <= 0)
			return r;
	}
	return 0;
}

/* ---- transmit path ---------------------------------------------------- */

static int send_frame(int fd, const uint8_t *p, size_t len)
{
	struct virtio_net_hdr vh = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { (void *)p, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	do {
		n = sendmsg(fd, &msg, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static struct direction *earliest(struct ctx *c)
{
	const struct frame *a = fq_head(&c->dir[DIR_AB].q);
	const struct frame *b = fq_head(&c->dir[DIR_BA].q);

	if (!a && !b)
		return NULL;
	if (a && (!b || a->due_ns <= b->due_ns))
		return &c->dir[DIR_AB];
	return &c->dir[DIR_BA];
}

/*
 * The send call hands the frame to the peer synchronously, and can also run
 * pending softirq work or be preempted (vCPU steal), so the tx time taken
 * after it may be late. Count such calls so the log's accuracy is known.
 */
static void note_send_time(struct dir_stats *st, uint64_t ns)
{
	if (ns > st->send_max_ns)
		st->send_max_ns = ns;
	if (ns > SLOW_SEND_NS)
		st->send_slow++;
}

/*
 * --spin-us: the timer is armed that much early and we busy-wait the rest,
 * trading CPU for release times that do not depend on wake-up latency.
 */
static void spin_until_due(struct ctx *c)
{
	struct direction *d = earliest(c);
	uint64_t due, now = sim_now_ns();

	if (!c->spin_ns || !d)
		return;
	due = fq_head(&d->q)->due_ns;
	if (due <= now || due - now > c->spin_ns)
		return;
	while (sim_now_ns() < due)
		;
}

/* The timer may fire late: send everything that is due, oldest first. */
static void flush_due(struct ctx *c)
{
	struct direction *d;
	uint64_t now;

	spin_until_due(c);
	now = sim_now_ns();

	while ((d = earliest(c)) && fq_head(&d->q)->due_ns <= now) {
		const struct frame *f = fq_head(&d->q);
		const uint8_t *p = fq_slot(&d->q, f->buf) + f->off;
		uint64_t before = sim_now_ns();
		int r = send_frame(d->out->fd, p, f->len);

		now = sim_now_ns();
		if (r == 0) {
			d->st.fwd++;
			note_send_time(&d->st, now - before);
			log_frame(c, d, &(struct logrec){ .action = "fwd", .rx_ns = f->rx_ns,
							  .tx_ns = now, .send_ns = now - before,
							  .p = p, .caplen = f->len, .len = f->len });
		} else {
			d->st.drop_txerr++;
			log_drop(c, d, f->rx_ns, p, f->len, f->len, "txerr");
		}
		fq_pop(&d->q);
	}
}

static int arm_timer(struct ctx *c)
{
	struct direction *d = earliest(c);
	struct itimerspec its = { 0 };

	if (d) {
		uint64_t due = fq_head(&d->q)->due_ns;

		due = due > c->spin_ns ? due - c->spin_ns : 1;
		its.it_value.tv_sec = (time_t)(due / NSEC_PER_SEC);
		its.it_value.tv_nsec = (long)(due % NSEC_PER_SEC);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;	/* all-zero would disarm */
	}
	if (timerfd_settime(c->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

static int setopt_int(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) < 0 ? -errno : 0;
}

static int port_mtu(struct port *p)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->name);
	if (ioctl(p->fd, SIOCGIFMTU, &ifr) < 0)
		return -errno;
	p->mtu = (unsigned int)ifr.ifr_mtu;
	return 0;
}

static int port_sockopts(int fd, int ifindex)
{
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	int r;

	if ((r = setopt_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1)) ||
	    (r = setopt_int(fd, SOL_PACKET, PACKET_AUXDATA, 1)) ||
	    (r = setopt_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)))
		return r;
	/* Cheaper than filtering PACKET_OUTGOING; we still check it (old kernels). */
	setopt_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
	if (setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF))
		setopt_int(fd, SOL_SOCKET, SO_RCVBUF, SOCK_BUF);
	if (setopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCK_BUF))
		setopt_int(fd, SOL_SOCKET, SO_SNDBUF, SOCK_BUF);
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		return -errno;
	return 0;
}

static int port_open(struct port *p)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int r;

	p->ifindex = (int)if_nametoindex(p->name);
	if (!p->ifindex) {
		fprintf(stderr, "wanem: interface '%s' not found in this network namespace\n",
			p->name);
		return -ENODEV;
	}
	/* Protocol 0 until bind(): no frames from other interfaces sneak in. */
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	sll.sll_ifindex = p->ifindex;
	r = port_sockopts(p->fd, p->ifindex);
	if (!r && bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		r = -errno;
	if (!r)
		r = port_mtu(p);
	if (r)
		fprintf(stderr, "wanem: cannot open packet socket on '%s': %s\n", p->name,
			strerror(-r));
	return r;
}

static int stats_timer_open(void)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void impair_init(struct impair *imp, const struct options *o, double delay_ms,
			double loss_pct, uint64_t *sm)
{
	imp->delay_ns = (uint64_t)llround(delay_ms * (double)NSEC_PER_MSEC);
	imp->jitter_ns = (uint64_t)llround(o->jitter_ms * (double)NSEC_PER_MSEC);
	imp->loss = loss_pct / 100.0;
	imp->rng_loss = rng_seed(sm);
	imp->rng_jitter = rng_seed(sm);
}

static int ctx_init(struct ctx *c, const struct options *o)
{
	uint64_t sm = o->seed;
	int r;

	c->port[0] = (struct port){ .name = o->if_a, .fd = -1 };
	c->port[1] = (struct port){ .name = o->if_b, .fd = -1 };
	c->timer_fd = c->signal_fd = c->stats_fd = -1;
	c->spin_ns = (uint64_t)llround(o->spin_us * 1000.0);
	c->dir[DIR_AB] = (struct direction){ .tag = "ab", .in = &c->port[0], .out = &c->port[1] };
	c->dir[DIR_BA] = (struct direction){ .tag = "ba", .in = &c->port[1], .out = &c->port[0] };
	impair_init(&c->dir[DIR_AB].imp, o, o->delay_ab_set ? o->delay_ab_ms : o->delay_ms,
		    o->loss_ab_set ? o->loss_ab_pct : o->loss_pct, &sm);
	impair_init(&c->dir[DIR_BA].imp, o, o->delay_ba_set ? o->delay_ba_ms : o->delay_ms,
		    o->loss_ba_set ? o->loss_ba_pct : o->loss_pct, &sm);
	c->dir[DIR_AB].imp.drop_tcp_data = o->drop_tcp_data_ab;
	for (int i = 0; i < NDIR; i++)
		if ((r = fq_init(&c->dir[i].q, o->queue_frames))) {
			fprintf(stderr, "wanem: cannot allocate a queue of %u frames\n",
				o->queue_frames);
			return r;
		}
	for (int i = 0; i < 2; i++)
		if ((r = port_open(&c->port[i])))
			return r;	/* port_open() said which interface */
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->stats_fd = stats_timer_open();
	c->signal_fd = sim_signals_open();
	if (c->timer_fd < 0 || c->stats_fd < 0 || c->signal_fd < 0) {
		r = -errno;
		fprintf(stderr, "wanem: timerfd/signalfd: %s\n", strerror(-r));
		return r;
	}
	return 0;
}

static int log_open(struct ctx *c, const char *path)
{
	if (!path)
		return 0;
	c->log = fopen(path, "a");
	if (!c->log)
		return -errno;
	setvbuf(c->log, NULL, _IOFBF, 1 << 20);
	return 0;
}

static void ctx_free(struct ctx *c)
{
	for (int i = 0; i < 2; i++)
		if (c->port[i].fd >= 0)
			close(c->port[i].fd);
	for (int i = 0; i < NDIR; i++)
		fq_free(&c->dir[i].q);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	if (c->signal_fd >= 0)
		close(c->signal_fd);
	if (c->log)
		fclose(c->log);
}

/* ---- main loop -------------------------------------------------------- */

static void drain_fd(int fd)
{
	uint64_t buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int on_tick(struct ctx *c)
{
	int r;

	drain_fd(c->stats_fd);
	if (c->log)
		fflush(c->log);	/* lets tests read the truth while we run */
	r = stats_write(c);
	if (r)
		fprintf(stderr, "wanem: cannot write stats '%s': %s\n", c->stats_path,
			strerror(-r));
	return r;
}

static int run(struct ctx *c)
{
	struct pollfd pfd[5] = {
		{ .fd = c->port[0].fd, .events = POLLIN },
		{ .fd = c->port[1].fd, .events = POLLIN },
		{ .fd = c->timer_fd, .events = POLLIN },
		{ .fd = c->stats_fd, .events = POLLIN },
		{ .fd = c->signal_fd, .events = POLLIN },
	};
	int r;

	for (;;) {
		flush_due(c);
		if ((r = arm_timer(c)))
			return r;
		if (poll(pfd, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[4].revents)
			return 0;
		if (pfd[2].revents)
			drain_fd(c->timer_fd);
		flush_due(c);	/* sends first: they are already late */
		for (int i = 0; i < NDIR; i++)
			if (pfd[i].revents && (r = rx_batch(c, &c->dir[i])))
				return r;
		if (pfd[3].revents && (r = on_tick(c)))
			return r;
	}
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdprobe-wanem --a IFACE --b IFACE [options]\n"
		"Transparent L2 bridge between IFACE a and b that delays and drops frames.\n"
		"\n"
		"  --a IFACE, --b IFACE     the two ports (no IP addresses on them)\n"
		"  --delay-ms F             one-way delay for both directions (ms, float)\n"
		"  --delay-ab-ms F          delay a->b, overrides --delay-ms\n"
		"  --delay-ba-ms F          delay b->a, overrides --delay-ms\n"
		"  --jitter-ms F            extra uniform delay in [0,F]; never reorders\n"
		"  --loss-pct P             drop each frame with probability P%%\n"
		"  --loss-ab-pct P          loss a->b, overrides --loss-pct\n"
		"  --loss-ba-pct P          loss b->a, overrides --loss-pct\n"
		"  --drop-tcp-data-ab N     drop the first N TCP segments with payload a->b\n"
		"  --seed N                 PRNG seed (default 1)\n"
		"  --queue-frames N         queue capacity per direction (default %u)\n"
		"  --spin-us N              wake N us early and busy-wait until a release is\n"
		"                           due: precise delays for CPU (default 0: timer only)\n"
		"  --log FILE               append one line per frame:\n"
		"                           dir action rx_ns tx_ns delay_ns len summary\n"
		"                           (CLOCK_MONOTONIC; rx = kernel arrival stamp,\n"
		"                           tx = right after the send call, which took\n"
		"                           send_ns= at the end of the line)\n"
		"  --stats FILE             rewrite key/value counters every second and on exit\n"
		"  --help                   this text\n"
		"\n"
		"Disable GRO, GSO and TSO on both ports and on their peers first\n"
		"(ethtool -K IF gro off gso off tso off): packet sockets would otherwise\n"
		"see super-frames larger than the MTU, which are dropped as 'oversize'.\n"
		"Exit status: 0 clean exit on SIGTERM/SIGINT, 1 runtime error, 2 usage.\n",
		DEFAULT_QUEUE);
}

/* Milliseconds, up to an hour; --spin-us and the percentages narrow it. */
static int parse_ms(const char *s, double *out)
{
	return sim_parse_double(s, 3.6e6, out);
}

static int parse_pct(const char *s, double *out)
{
	return parse_ms(s, out) || *out > 100 ? -EINVAL : 0;
}

/* Base 0: counts and the seed may also be given as 0x... (or octal 0...). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	return sim_parse_u64(s, 0, max, out);
}

enum {
	OPT_A = 256, OPT_B, OPT_DELAY, OPT_DELAY_AB, OPT_DELAY_BA, OPT_JITTER, OPT_LOSS,
	OPT_LOSS_AB, OPT_LOSS_BA, OPT_SPIN, OPT_DROP_TCP, OPT_SEED, OPT_LOG, OPT_STATS, OPT_QUEUE, OPT_HELP,
};

static const struct option long_opts[] = {
	{ "a", required_argument, NULL, OPT_A },
	{ "b", required_argument, NULL, OPT_B },
	{ "delay-ms", required_argument, NULL, OPT_DELAY },
	{ "delay-ab-ms", required_argument, NULL, OPT_DELAY_AB },
	{ "delay-ba-ms", required_argument, NULL, OPT_DELAY_BA },
	{ "jitter-ms", required_argument, NULL, OPT_JITTER },
	{ "loss-pct", required_argument, NULL, OPT_LOSS },
	{ "loss-ab-pct", required_argument, NULL, OPT_LOSS_AB },
	{ "loss-ba-pct", required_argument, NULL, OPT_LOSS_BA },
	{ "drop-tcp-data-ab", required_argument, NULL, OPT_DROP_TCP },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "queue-frames", required_argument, NULL, OPT_QUEUE },
	{ "spin-us", required_argument, NULL, OPT_SPIN },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* Returns 0, -EINVAL for a bad value, or 1 for --help. */
static int apply_opt(void *ctx, int opt, const char *arg)
{
	struct options *o = ctx;
	uint64_t v;

	switch (opt) {
	case OPT_A: o->if_a = arg; return 0;
	case OPT_B: o->if_b = arg; return 0;
	case OPT_LOG: o->log_path = arg; return 0;
	case OPT_STATS: o->stats_path = arg; return 0;
	case OPT_HELP: return 1;
	case OPT_DELAY: return parse_ms(arg, &o->delay_ms);
	case OPT_JITTER: return parse_ms(arg, &o->jitter_ms);
	case OPT_SPIN:
		return parse_ms(arg, &o->spin_us) || o->spin_us > 100000 ? -EINVAL : 0;
	case OPT_DELAY_AB:
		o->delay_ab_set = true;
		return parse_ms(arg, &o->delay_ab_ms);
	case OPT_DELAY_BA:
		o->delay_ba_set = true;
		return parse_ms(arg, &o->delay_ba_ms);
	case OPT_LOSS: return parse_pct(arg, &o->loss_pct);
	case OPT_LOSS_AB:
		o->loss_ab_set = true;
		return parse_pct(arg, &o->loss_ab_pct);
	case OPT_LOSS_BA:
		o->loss_ba_set = true;
		return parse_pct(arg, &o->loss_ba_pct);
	case OPT_DROP_TCP: return parse_u64(arg, UINT64_MAX, &o->drop_tcp_data_ab);
	case OPT_SEED: return parse_u64(arg, UINT64_MAX, &o->seed);
	case OPT_QUEUE:
		if (parse_u64(arg, MAX_QUEUE, &v) || v == 0)
			return -EINVAL;
		o->queue_frames = (uint32_t)v;
		return 0;
	default: return -EINVAL;
	}
}

static const struct sim_cli cli = { "wanem", usage };

/* Returns -1 to continue, else the exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int r;

	*o = (struct options){ .seed = 1, .queue_frames = DEFAULT_QUEUE };
	r = sim_parse_opts(&cli, argc, argv, long_opts, apply_opt, o);
	if (r >= 0)
		return r;
	if (!o->if_a || !o->if_b)
		return sim_usage_error(&cli, "--a and --b are required", NULL);
	if (strcmp(o->if_a, o->if_b) == 0)
		return sim_usage_error(&cli, "--a and --b must differ", NULL);
	return -1;
}

static int setup(struct ctx *c, const struct options *o)
{
	int r = ctx_init(c, o);	/* reports its own errors */

	if (r)
		return r;
	if ((r = log_open(c, o->log_path))) {
		fprintf(stderr, "wanem: cannot open log '%s': %s\n", o->log_path, strerror(-r));
		return r;
	}
	if ((r = stats_write(c)))	/* the file's presence means "ready" */
		fprintf(stderr, "wanem: cannot write stats '%s': %s\n", o->stats_path,
			strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	struct options o;
	struct ctx *c;
	int r = parse_args(argc, argv, &o);

	if (r >= 0)
		return r;
	/* Default slack is 50 us; we want the timer as close to due as it gets. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "wanem: out of memory\n");
		return EXIT_RUNTIME;
	}
	c->stats_path = o.stats_path;
	r = setup(c, &o);
	if (!r) {
		r = run(c);
		if (r)
			fprintf(stderr, "wanem: %s\n", strerror(-r));
		if (stats_write(c) && !r)
			r = -EIO;
	}
	ctx_free(c);
	free(c);
	return r ? EXIT_RUNTIME : 0;
}
