// SPDX-License-Identifier: GPL-2.0-only
/*
 * flowflood: many distinct UDP flows, fast, for the passive RTT flood test
 * (tests/integration/test_passive_flood.sh) and bench (bench_passive.sh).
 * Not part of the build: the scripts compile it with `cc -O2`.
 *
 *   flowflood send --src A --src-count N --dst A --dst-count N --dst-step S
 *                  [--dport 53] [--count N] [--seconds S] [--batch N]
 *                  [--report FILE]
 *       Raw IPv4 (IP_HDRINCL) datagrams sent with sendmmsg(), one per flow:
 *       flow i has source port 1024 + i % 64512, source address
 *       src + (i / 64512) % src-count, destination address
 *       dst + (i % dst-count) * dst-step, DNS id i & 0xffff. The 5-tuples
 *       are distinct for i < 64512 * src-count. The payload is a DNS query
 *       (12-byte header, one question) so port 53 looks like DNS. Stops
 *       after --count datagrams or --seconds, whichever comes first. The
 *       source addresses must be the sender's (no spoofing): give them to
 *       the interface first.
 *   flowflood sink --port P [--reply] [--report FILE]
 *       Binds UDP 0.0.0.0:P (IP_FREEBIND, so a "local" route for a whole
 *       prefix makes every address of it ours), counts datagrams until
 *       SIGTERM/SIGINT; with --reply answers each with the same payload
 *       and the DNS QR bit set.
 * Reports are "key value" lines (sent, seconds, pps / received, replied).
 * Only ever sends to the addresses given: the callers pass addresses of
 * their own network namespaces (198.18.0.0/15).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define PORTS 64512u
static const uint8_t question[] = { 1, 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1 };
#define DNS_LEN (12 + sizeof(question))
#define PKT_LEN (sizeof(struct iphdr) + sizeof(struct udphdr) + DNS_LEN)

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: flowflood send --src A [--src-count N] --dst A [--dst-count N] "
			"[--dst-step S] [--dport P] [--count N] [--seconds S] [--batch N] "
			"[--report FILE]\n"
			"       flowflood sink --port P [--reply] [--report FILE]\n");
	exit(2);
}

static uint32_t addr_arg(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "flowflood: bad address %s\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

static unsigned long num_arg(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "flowflood: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static void report(const char *file, const char *text)
{
	FILE *f = file ? fopen(file, "w") : stdout;

	if (!f) {
		perror(file);
		exit(1);
	}
	fputs(text, f);
	if (file)
		fclose(f);
}

static int do_send(int argc, char **argv)
{
	uint32_t src = 0, dst = 0, src_count = 1, dst_count = 1, dst_step = 1;
	unsigned long count = 1000000, batch = 256, dport = 53;
	double seconds = 0;
	const char *rep = NULL;
	static uint8_t pkts[MAX_BATCH][PKT_LEN];
	static struct sockaddr_in to[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	unsigned long sent = 0, errors = 0;
	double t0, t1;
	char text[256];
	int fd;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--src"))
			src = addr_arg(v);
		else if (!strcmp(a, "--src-count"))
			src_count = (uint32_t)num_arg(v);
		else if (!strcmp(a, "--dst"))
			dst = addr_arg(v);
		else if (!strcmp(a, "--dst-count"))
			dst_count = (uint32_t)num_arg(v);
		else if (!strcmp(a, "--dst-step"))
			dst_step = (uint32_t)num_arg(v);
		else if (!strcmp(a, "--dport"))
			dport = num_arg(v);
		else if (!strcmp(a, "--count"))
			count = num_arg(v);
		else if (!strcmp(a, "--seconds"))
			seconds = strtod(v, NULL);
		else if (!strcmp(a, "--batch"))
			batch = num_arg(v);
		else if (!strcmp(a, "--report"))
			rep = v;
		else
			usage();
		i++;
	}
	if (!src || !dst || !src_count || !dst_count || !batch || batch > MAX_BATCH ||
	    dport > 65535)
		usage();
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied */
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	t0 = now_s();
	while (sent < count && !stop) {
		unsigned int n = count - sent < batch ? (unsigned int)(count - sent) : (unsigned int)batch;
		int r;

		for (unsigned int k = 0; k < n; k++) {
			unsigned long i = sent + k;
			uint8_t *p = pkts[k];
			struct iphdr *ip = (struct iphdr *)p;
			struct udphdr *udp = (struct udphdr *)(ip + 1);
			uint8_t *dns = (uint8_t *)(udp + 1);
			uint32_t s = src + (uint32_t)((i / PORTS) % src_count);
			uint32_t d = dst + (uint32_t)(i % dst_count) * dst_step;

			memset(p, 0, PKT_LEN);
			ip->version = 4;
			ip->ihl = 5;
			ip->tot_len = htons(PKT_LEN);
			ip->ttl = 64;
			ip->protocol = IPPROTO_UDP;
			ip->saddr = htonl(s);
			ip->daddr = htonl(d);
			udp->source = htons((uint16_t)(1024 + i % PORTS));
			udp->dest = htons((uint16_t)dport);
			udp->len = htons(sizeof(*udp) + DNS_LEN);
			dns[0] = (uint8_t)(i >> 8);
			dns[1] = (uint8_t)i;
			dns[2] = 0x01; /* RD */
			dns[5] = 1;    /* one question */
			memcpy(dns + 12, question, sizeof(question));
			to[k].sin_family = AF_INET;
			to[k].sin_addr.s_addr = ip->daddr;
			iov[k].iov_base = p;
			iov[k].iov_len = PKT_LEN;
			msgs[k].msg_hdr = (struct msghdr){ .msg_name = &to[k],
							   .msg_namelen = sizeof(to[k]),
							   .msg_iov = &iov[k], .msg_iovlen = 1 };
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN) {
				/* the first datagram found a full queue (and was
				 * dropped there): send it again */
				errors++;
				continue;
			}
			perror("sendmmsg");
			return 1;
		}
		sent += (unsigned long)r;
		if (seconds > 0 && (sent & 0x3fff) < (unsigned long)r && now_s() - t0 >= seconds)
			break;
	}
	t1 = now_s();
	snprintf(text, sizeof(text), "sent %lu\nerrors %lu\nseconds %.3f\npps %.0f\n", sent, errors,
		 t1 - t0, sent / (t1 - t0));
	report(rep, text);
	return 0;
}

static int do_sink(int argc, char **argv)
{
	unsigned long port = 0, received = 0, replied = 0;
	int reply = 0, one = 1, buf = 8 << 20, fd;
	const char *rep = NULL;
	static uint8_t data[64][512];
	static struct sockaddr_in from[64];
	static uint8_t ctl[64][CMSG_SPACE(sizeof(struct in_pktinfo))];
	static struct iovec iov[64];
	static struct mmsghdr msgs[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction sact = { .sa_handler = on_signal }; /* no SA_RESTART */
	char text[128];

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--reply"))
			reply = 1;
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = num_arg(argv[++i]);
		else if (!strcmp(argv[i], "--report") && i + 1 < argc)
			rep = argv[++i];
		else
			usage();
	}
	if (!port || port > 65535)
		usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	setsockopt(fd, SOL_IP, IP_PKTINFO, &one, sizeof(one)); /* reply from the address asked */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	sa.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("bind");
		return 1;
	}
	sigaction(SIGTERM, &sact, NULL);
	sigaction(SIGINT, &sact, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n;

		for (int k = 0; k < 64; k++) {
			iov[k] = (struct iovec){ data[k], sizeof(data[k]) };
			msgs[k].msg_hdr = (struct msghdr){ .msg_name = &from[k],
							   .msg_namelen = sizeof(from[k]),
							   .msg_iov = &iov[k], .msg_iovlen = 1,
							   .msg_control = ctl[k],
							   .msg_controllen = sizeof(ctl[k]) };
		}
		n = recvmmsg(fd, msgs, 64, 0, NULL);
		if (n <= 0)
			continue;
		received += (unsigned long)n;
		if (!reply)
			continue;
		for (int k = 0; k < n; k++) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[k].msg_hdr);

			iov[k].iov_len = msgs[k].msg_len;
			if (c && c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);

				pi->ipi_spec_dst = pi->ipi_addr; /* source = where it went */
				pi->ipi_ifindex = 0;
			}
			if (msgs[k].msg_len >= 12)
				data[k][2] |= 0x80; /* QR: a response */
		}
		n = sendmmsg(fd, msgs, (unsigned int)n, MSG_DONTWAIT);
		if (n > 0)
			replied += (unsigned long)n;
	}
	snprintf(text, sizeof(text), "received %lu\nreplied %lu\n", received, replied);
	report(rep, text);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "send"))
		return do_send(argc, argv);
	if (!strcmp(argv[1], "sink"))
		return do_sink(argc, argv);
	usage();
}
