/*
 * xdprobe-tcpgen: TCP traffic generator whose every connection is known.
 *
 * Protocol, per connection: the client sends a 12-byte header
 *   magic u32 0x58445047 ("XDPG") | up_bytes u32 | down_bytes u32
 * (network byte order) and up_bytes of payload; the server reads them all,
 * answers with down_bytes and closes (FIN). A bad magic gets an RST.
 * The client counts what it did (connections, resets it sent, bytes,
 * connect times), which is the truth the probe's passive statistics are
 * compared against.
 *
 * Both roles are single-threaded, non-blocking, on epoll; signals arrive
 * through a signalfd so shutdown is a normal event in the loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "simutil.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAGIC 0x58445047u
#define HDR_LEN 12
#define IOBUF 65536
#define MAX_LISTEN 32
#define MAX_SIZES 64
#define MAX_EVENTS 64

enum { EXIT_FAIL = 1 };	/* 2, usage: SIM_EXIT_USAGE */
enum { K_SIGNAL, K_LISTEN, K_CONN };

/* First member of everything registered with epoll: tells what it is. */
struct handle {
	int kind;
	int fd;
};

/*
 * Head of a connection of either role, first in struct sconn and cconn: what
 * epoll hands back, and a link in the role's list of open connections.
 */
struct conn {
	struct handle h;
	struct conn *prev, *next;
};

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* ---- shared helpers --------------------------------------------------- */

static int fill_endpoint(const char *host, uint16_t port, struct endpoint *ep)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->ss;

	memset(ep, 0, sizeof(*ep));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		ep->len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		ep->len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/* "198.18.1.1:502", "[2001:db8:1::1]:502"; without a port when !need_port
 * also "198.18.1.1", "2001:db8:1::1" and "[2001:db8:1::1]". */
static int parse_endpoint(const char *s, bool need_port, struct endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end;
	size_t hlen;
	uint64_t p = 0;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hlen = (size_t)(end - s - 1);
		s++;
		port = end[1] ? end + 2 : NULL;
	} else {
		end = strrchr(s, ':');
		bool v4port = end && strchr(s, ':') == end;	/* one colon: v4 + port */

		hlen = v4port ? (size_t)(end - s) : strlen(s);
		port = v4port ? end + 1 : NULL;
	}
	if (hlen == 0 || hlen >= sizeof(host) || (need_port && !port))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port && sim_parse_u64(port, 10, 65535, &p))
		return -EINVAL;
	return fill_endpoint(host, (uint16_t)p, ep);
}

/* Many concurrent connections: use the hard limit of open files. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int epoll_set(int ep, int op, struct handle *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(ep, op, h->fd, &ev) < 0 ? -errno : 0;
}

/* close() with SO_LINGER {1,0} sends an RST instead of a FIN. */
static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void conn_link(struct conn **head, struct conn *c)
{
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

/* Close (with an RST if asked), unlink from the role's list and free. */
static void conn_close(struct conn **head, struct conn *c, bool rst)
{
	if (rst)
		close_rst(c->h.fd);
	else
		close(c->h.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* recv() retried on EINTR: bytes, 0 at EOF, -EAGAIN when drained, or -errno. */
static ssize_t conn_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* sendmsg() likewise; MSG_NOSIGNAL: a reset peer is an error, not SIGPIPE. */
static ssize_t conn_send(int fd, struct iovec *iov, size_t cnt)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = cnt };
	ssize_t n;

	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* The epoll set of a role, holding the signalfd: shutdown is an event. */
static int loop_open(int *ep, struct handle *sig)
{
	int err;

	*ep = epoll_create1(EPOLL_CLOEXEC);
	*sig = (struct handle){ K_SIGNAL, sim_signals_open() };
	if (*ep >= 0 && sig->fd >= 0 && !epoll_set(*ep, EPOLL_CTL_ADD, sig, EPOLLIN))
		return 0;
	err = errno;
	fprintf(stderr, "tcpgen: epoll/signalfd: %s\n", strerror(err));
	return -err;
}

/* Stats to the role's terminal stream, and to a file when asked. */
static int kv_report(FILE *f, const struct sim_kv *kv, size_t n, const char *path)
{
	int r = 0;

	sim_kv_print(f, kv, n, NULL);
	fflush(f);
	if (path && (r = sim_kv_write_file(path, kv, n)))
		fprintf(stderr, "tcpgen: cannot write %s: %s\n", path, strerror(-r));
	return r;
}

static void fill_pattern(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)('a' + i % 26);
}

/* ---- server ----------------------------------------------------------- */

struct sconn {
	struct conn base;
	uint8_t hdr[HDR_LEN];
	uint32_t hdr_got;
	uint64_t up_left, down_left;
	bool writing;
};

struct server_stats {
	uint64_t accepted, completed, bad_magic, incomplete, reset_by_peer;
	uint64_t errors, accept_errors, bytes_in, bytes_out, active;
};

struct server {
	int ep;
	struct handle sig;
	struct handle lis[MAX_LISTEN];
	int nlis;
	struct conn *conns;	/* all open connections, freed on exit */
	struct server_stats st;
	const char *stats_path;
	uint8_t buf[IOBUF];
};

static void srv_close(struct server *s, struct sconn *c, bool rst)
{
	s->st.active--;
	/* Without rst: all input was read, so close() sends a FIN. */
	conn_close(&s->conns, &c->base, rst);
}

/* Map a socket error to a counter and drop the connection. */
static void srv_fail(struct server *s, struct sconn *c, int err)
{
	if (err == ECONNRESET || err == EPIPE)
		s->st.reset_by_peer++;
	else
		s->st.errors++;
	srv_close(s, c, false);
}

static void srv_write(struct server *s, struct sconn *c)
{
	while (c->down_left) {
		size_t n = c->down_left < IOBUF ? (size_t)c->down_left : IOBUF;
		ssize_t w = conn_send(c->base.h.fd, &(struct iovec){ s->buf, n }, 1);

		if (w == -EAGAIN)
			return;
		if (w < 0)
			return srv_fail(s, c, (int)-w);
		c->down_left -= (uint64_t)w;
		s->st.bytes_out += (uint64_t)w;
	}
	s->st.completed++;
	srv_close(s, c, false);
}

static void srv_start_reply(struct server *s, struct sconn *c)
{
	c->writing = true;
	if (epoll_set(s->ep, EPOLL_CTL_MOD, &c->base.h, EPOLLOUT))
		return srv_fail(s, c, errno);
	srv_write(s, c);
}

/* Consume received bytes. Returns false if the connection was closed. */
static bool srv_consume(struct server *s, struct sconn *c, size_t n)
{
	size_t take = 0;
	uint32_t f[3];

	if (c->hdr_got < HDR_LEN) {
		take = HDR_LEN - c->hdr_got < n ? HDR_LEN - c->hdr_got : n;
		memcpy(c->hdr + c->hdr_got, s->buf, take);
		c->hdr_got += (uint32_t)take;
		if (c->hdr_got < HDR_LEN)
			return true;
		memcpy(f, c->hdr, sizeof(f));
		if (ntohl(f[0]) != MAGIC) {
			s->st.bad_magic++;
			srv_close(s, c, true);
			return false;
		}
		c->up_left = ntohl(f[1]);
		c->down_left = ntohl(f[2]);
	}
	n -= take;	/* extra bytes beyond up_bytes are read and ignored */
	c->up_left -= n < c->up_left ? n : c->up_left;
	if (c->up_left)
		return true;
	srv_start_reply(s, c);
	return false;
}

static void srv_read(struct server *s, struct sconn *c)
{
	for (;;) {
		ssize_t n = conn_recv(c->base.h.fd, s->buf, IOBUF);

		if (n == -EAGAIN)
			return;
		if (n < 0)
			return srv_fail(s, c, (int)-n);
		if (n == 0) {
			s->st.incomplete++;	/* peer closed before the request was complete */
			return srv_close(s, c, false);
		}
		s->st.bytes_in += (uint64_t)n;
		if (!srv_consume(s, c, (size_t)n))
			return;
	}
}

static void srv_accept(struct server *s, struct handle *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sconn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				s->st.accept_errors++;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		c = calloc(1, sizeof(*c));
		if (c)
			c->base.h = (struct handle){ K_CONN, fd };
		if (!c || epoll_set(s->ep, EPOLL_CTL_ADD, &c->base.h, EPOLLIN) < 0) {
			s->st.errors++;
			free(c);
			close_rst(fd);
			continue;
		}
		conn_link(&s->conns, &c->base);
		s->st.accepted++;
		s->st.active++;
	}
}

static int srv_listen(struct server *s, const struct endpoint *ep, const char *text)
{
	int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A v6 address and a v4 address on the same port must not collide;
	 * [::] stays dual-stack, as servers usually listen. */
	if (ep->ss.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&ep->ss)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = errno;

		fprintf(stderr, "tcpgen: cannot listen on %s: %s\n", text, strerror(err));
		close(fd);
		return -err;
	}
	s->lis[s->nlis] = (struct handle){ K_LISTEN, fd };
	return epoll_set(s->ep, EPOLL_CTL_ADD, &s->lis[s->nlis++], EPOLLIN);
}

static void srv_event(struct server *s, struct handle *h)
{
	struct sconn *c = (struct sconn *)h;

	if (h->kind == K_LISTEN)
		srv_accept(s, h);
	else if (c->writing)
		srv_write(s, c);
	else
		srv_read(s, c);	/* errors and hang-ups surface through recv() */
}

static int srv_loop(struct server *s)
{
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(s->ep, ev, MAX_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct handle *h = ev[i].data.ptr;

			if (h->kind == K_SIGNAL)
				return 0;
			srv_event(s, h);
		}
	}
}

static void srv_report(const struct server *s)
{
	const struct server_stats *t = &s->st;
	const struct sim_kv kv[] = {
		{ "accepted", t->accepted },
		{ "completed", t->completed },
		{ "bad_magic", t->bad_magic },
		{ "incomplete", t->incomplete },
		{ "reset_by_peer", t->reset_by_peer },
		{ "errors", t->errors },
		{ "accept_errors", t->accept_errors },
		{ "bytes_in", t->bytes_in },
		{ "bytes_out", t->bytes_out },
		{ "active", t->active },
	};

	kv_report(stderr, kv, sizeof(kv) / sizeof(kv[0]), s->stats_path);
}

static void srv_finish(struct server *s)
{
	while (s->conns)
		srv_close(s, (struct sconn *)s->conns, false);
	for (int i = 0; i < s->nlis; i++)
		close(s->lis[i].fd);
	close(s->sig.fd);
	close(s->ep);
}

/* ---- client ----------------------------------------------------------- */

struct size_pair {
	uint32_t up, down;
};

struct copts {
	struct endpoint dst, src;
	bool have_src;
	uint64_t count, reset_every;
	double rate, duration_s, timeout_s;
	uint32_t concurrency;
	struct size_pair sizes[MAX_SIZES];
	int nsizes;
	const char *summary;
};

enum cstate { C_CONNECTING, C_SENDING, C_RECEIVING };

struct cconn {
	struct conn base;
	enum cstate state;
	bool rst;		/* end this one with an RST */
	uint8_t hdr[HDR_LEN];
	uint64_t t0, deadline;
	uint64_t tx_total, tx_done;	/* header + up bytes */
	uint64_t down, rx_done;
};

struct client_stats {
	uint64_t started, ok, failed, aborted, resets_sent, bytes_up, bytes_down;
	uint64_t connect_ns_sum, connect_ns_min, connect_ns_max, connected;
	uint64_t fail_refused, fail_timeout, fail_reset, fail_short, fail_other;
};

struct client {
	int ep;
	struct handle sig;
	struct copts o;
	struct client_stats st;
	struct conn *conns;
	uint32_t inflight;
	uint64_t t_begin, t_end, next_start, interval_ns;
	bool stopping;		/* signal: abort in-flight, start nothing */
	uint8_t buf[IOBUF];
};

static void cl_close(struct client *cl, struct cconn *c, bool rst)
{
	cl->inflight--;
	conn_close(&cl->conns, &c->base, rst);
}

static void cl_fail(struct client *cl, struct cconn *c, int err)
{
	struct client_stats *t = &cl->st;

	t->failed++;
	if (err == ECONNREFUSED)
		t->fail_refused++;
	else if (err == ETIMEDOUT)
		t->fail_timeout++;
	else if (err == ECONNRESET || err == EPIPE)
		t->fail_reset++;
	else if (err == ENODATA)
		t->fail_short++;	/* EOF before all expected bytes */
	else
		t->fail_other++;
	cl_close(cl, c, false);
}

static void cl_success(struct client *cl, struct cconn *c)
{
	cl->st.ok++;
	if (c->rst)
		cl->st.resets_sent++;
	cl_close(cl, c, c->rst);
}

static void cl_record_connect(struct client *cl, uint64_t ns)
{
	struct client_stats *t = &cl->st;

	if (!t->connected || ns < t->connect_ns_min)
		t->connect_ns_min = ns;
	if (ns > t->connect_ns_max)
		t->connect_ns_max = ns;
	t->connect_ns_sum += ns;
	t->connected++;
}

static void cl_receive(struct client *cl, struct cconn *c)
{
	for (;;) {
		ssize_t n = conn_recv(c->base.h.fd, cl->buf, IOBUF);

		if (n == -EAGAIN)
			return;
		if (n < 0)
			return cl_fail(cl, c, (int)-n);
		if (n == 0)
			return c->rx_done == c->down ? cl_success(cl, c)
						     : cl_fail(cl, c, ENODATA);
		c->rx_done += (uint64_t)n;
		cl->st.bytes_down += (uint64_t)n;
		if (c->rx_done > c->down)
			return cl_fail(cl, c, EPROTO);
		/* An RST must come after the exchange; with down == 0 wait for the FIN. */
		if (c->rst && c->rx_done == c->down)
			return cl_success(cl, c);
	}
}

static void cl_send(struct client *cl, struct cconn *c)
{
	while (c->tx_done < c->tx_total) {
		uint64_t left = c->tx_total - c->tx_done;
		size_t hoff = c->tx_done < HDR_LEN ? (size_t)c->tx_done : HDR_LEN;
		size_t body = left - (HDR_LEN - hoff) < IOBUF ? left - (HDR_LEN - hoff) : IOBUF;
		/* Header and payload in one call: no Nagle stall between them. */
		struct iovec iov[2] = { { c->hdr + hoff, HDR_LEN - hoff }, { cl->buf, body } };
		ssize_t w = conn_send(c->base.h.fd, iov, 2);

		if (w == -EAGAIN)
			return;
		if (w < 0)
			return cl_fail(cl, c, (int)-w);
		c->tx_done += (uint64_t)w;
		cl->st.bytes_up += (uint64_t)w - ((size_t)w < HDR_LEN - hoff ? (size_t)w : HDR_LEN - hoff);
	}
	c->state = C_RECEIVING;
	if (epoll_set(cl->ep, EPOLL_CTL_MOD, &c->base.h, EPOLLIN))
		return cl_fail(cl, c, errno);
	cl_receive(cl, c);
}

static void cl_connected(struct client *cl, struct cconn *c)
{
	cl_record_connect(cl, sim_now_ns() - c->t0);
	c->state = C_SENDING;
	cl_send(cl, c);
}

static void cl_event(struct client *cl, struct cconn *c)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->base.h.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err)
			return cl_fail(cl, c, err);
		return cl_connected(cl, c);
	}
	if (c->state == C_SENDING)
		return cl_send(cl, c);
	cl_receive(cl, c);
}

static int cl_socket(const struct copts *o)
{
	int fd = socket(o->dst.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->have_src) {
		/* Pick the port at connect(): bind() alone would exhaust ports early. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&o->src.ss, o->src.len) < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
	}
	return fd;
}

static struct cconn *cl_new(struct client *cl, int fd)
{
	uint64_t seq = ++cl->st.started;
	const struct size_pair *sz = &cl->o.sizes[(seq - 1) % (uint64_t)cl->o.nsizes];
	struct cconn *c = calloc(1, sizeof(*c));
	uint32_t f[3] = { htonl(MAGIC), htonl(sz->up), htonl(sz->down) };

	if (!c)
		return NULL;
	c->base.h = (struct handle){ K_CONN, fd };
	c->rst = cl->o.reset_every && seq % cl->o.reset_every == 0;
	memcpy(c->hdr, f, sizeof(f));
	c->tx_total = HDR_LEN + (uint64_t)sz->up;
	c->down = sz->down;
	conn_link(&cl->conns, &c->base);
	cl->inflight++;
	return c;
}

static void cl_start_one(struct client *cl, uint64_t now)
{
	int fd = cl_socket(&cl->o);
	struct cconn *c;

	if (fd < 0) {
		cl->st.started++;
		cl->st.failed++;
		cl->st.fail_other++;
		return;
	}
	c = cl_new(cl, fd);
	if (!c) {
		close(fd);
		cl->st.failed++;
		cl->st.fail_other++;
		return;
	}
	c->deadline = now + (uint64_t)(cl->o.timeout_s * (double)NSEC_PER_SEC);
	c->t0 = sim_now_ns();	/* from the connect() call ... */
	if (connect(fd, (const struct sockaddr *)&cl->o.dst.ss, cl->o.dst.len) == 0)
		return cl_connected(cl, c);	/* ... to established */
	if (errno != EINPROGRESS)
		return cl_fail(cl, c, errno);
	if (epoll_set(cl->ep, EPOLL_CTL_ADD, &c->base.h, EPOLLOUT))
		cl_fail(cl, c, errno);
}

static bool cl_more_to_start(const struct client *cl, uint64_t now)
{
	if (cl->stopping)
		return false;
	if (cl->o.count && cl->st.started >= cl->o.count)
		return false;
	return !cl->t_end || now < cl->t_end;
}

static void cl_start_due(struct client *cl, uint64_t now)
{
	/* Bounded per pass: connections failing at once must not starve epoll. */
	for (int i = 0; i < MAX_EVENTS && cl_more_to_start(cl, now) &&
			cl->inflight < cl->o.concurrency && now >= cl->next_start; i++) {
		cl_start_one(cl, now);
		if (!cl->interval_ns)
			continue;
		cl->next_start += cl->interval_ns;
		if (cl->next_start + cl->interval_ns < now)
			cl->next_start = now;	/* after a stall: no catch-up burst */
	}
}

static void cl_expire(struct client *cl, uint64_t now)
{
	struct conn *l = cl->conns, *next;

	for (; l; l = next) {
		struct cconn *c = (struct cconn *)l;	/* the list holds cconns */

		next = l->next;
		if (now >= c->deadline)
			cl_fail(cl, c, ETIMEDOUT);
	}
}

static int cl_timeout_ms(const struct client *cl, uint64_t now)
{
	uint64_t wake = now + NSEC_PER_SEC;

	if (cl_more_to_start(cl, now) && cl->inflight < cl->o.concurrency &&
	    cl->next_start < wake)
		wake = cl->next_start;
	for (const struct conn *l = cl->conns; l; l = l->next) {
		const struct cconn *c = (const struct cconn *)l;

		if (c->deadline < wake)
			wake = c->deadline;
	}
	if (cl->t_end && cl->t_end > now && cl->t_end < wake)
		wake = cl->t_end;
	if (wake <= now)
		return 0;
	return (int)((wake - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

static void cl_abort_all(struct client *cl)
{
	while (cl->conns) {
		cl->st.aborted++;
		cl_close(cl, (struct cconn *)cl->conns, false);
	}
}

static int cl_loop(struct client *cl)
{
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		uint64_t now = sim_now_ns();
		int n;

		cl_start_due(cl, now);
		if (!cl->inflight && !cl_more_to_start(cl, now))
			return 0;
		n = epoll_wait(cl->ep, ev, MAX_EVENTS, cl_timeout_ms(cl, now));
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct handle *h = ev[i].data.ptr;

			if (h->kind == K_SIGNAL) {
				cl->stopping = true;
				cl_abort_all(cl);
				return 0;
			}
			cl_event(cl, (struct cconn *)h);
		}
		cl_expire(cl, sim_now_ns());
	}
}

static int cl_report(const struct client *cl, uint64_t duration)
{
	const struct client_stats *t = &cl->st;
	const struct sim_kv kv[] = {
		{ "connections_ok", t->ok },
		{ "connections_failed", t->failed },
		{ "resets_sent", t->resets_sent },
		{ "bytes_up", t->bytes_up },
		{ "bytes_down", t->bytes_down },
		{ "connect_ns_sum", t->connect_ns_sum },
		{ "connect_ns_min", t->connect_ns_min },
		{ "connect_ns_max", t->connect_ns_max },
		{ "duration_ns", duration },
		{ "connections_started", t->started },
		{ "connections_established", t->connected },
		{ "connections_aborted", t->aborted },
		{ "fail_refused", t->fail_refused },
		{ "fail_timeout", t->fail_timeout },
		{ "fail_reset", t->fail_reset },
		{ "fail_short", t->fail_short },
		{ "fail_other", t->fail_other },
	};

	return kv_report(stdout, kv, sizeof(kv) / sizeof(kv[0]), cl->o.summary);
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdprobe-tcpgen server --listen ADDR:PORT [--listen ADDR:PORT ...]\n"
		"                             [--stats FILE]\n"
		"       xdprobe-tcpgen client --connect ADDR:PORT --count N [options]\n"
		"\n"
		"Addresses: 198.18.1.1:502 or [2001:db8:1::1]:502; [::]:502 also accepts IPv4.\n"
		"Per connection the client sends the header 'XDPG' up_bytes down_bytes (u32,\n"
		"network order) and up_bytes; the server answers down_bytes and closes.\n"
		"\n"
		"server: runs until SIGTERM/SIGINT, then prints key/value stats to stderr\n"
		"  (and to --stats FILE). A bad magic is answered with an RST.\n"
		"\n"
		"client options:\n"
		"  --count N            connections to make (0: until --duration or a signal)\n"
		"  --rate R             new connections per second (0: as fast as possible)\n"
		"  --concurrency C      at most C in flight (default 1)\n"
		"  --up B, --down B     bytes per direction (default 64 / 64)\n"
		"  --sizes LIST         cycle through up:down pairs, e.g. 100:1000,64:64\n"
		"  --reset-every K      end every K-th connection with an RST after the exchange\n"
		"  --bind ADDR          source address\n"
		"  --duration S         stop starting connections after S seconds (0: no limit)\n"
		"  --timeout S          per-connection time limit (default 10)\n"
		"  --summary FILE       also write the key/value summary to FILE\n"
		"The summary (stdout) counts payload bytes, not the 12-byte header.\n"
		"Exit status: 0 all connections succeeded, 1 some failed or runtime error,\n"
		"2 usage.\n");
}

static const struct sim_cli cli = { "tcpgen", usage };

static int parse_u32(const char *arg, uint32_t *out)
{
	uint64_t v;

	if (sim_parse_u64(arg, 10, UINT32_MAX, &v))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_sizes(const char *s, struct copts *o)
{
	char *dup = strdup(s), *save = NULL, *tok;
	int r = 0;

	if (!dup)
		return -ENOMEM;
	o->nsizes = 0;
	for (tok = strtok_r(dup, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		struct size_pair sz;

		if (!colon || o->nsizes == MAX_SIZES) {
			r = -EINVAL;
			break;
		}
		*colon = '\0';
		if (parse_u32(tok, &sz.up) || parse_u32(colon + 1, &sz.down))
			r = -EINVAL;
		else
			o->sizes[o->nsizes++] = sz;
	}
	free(dup);
	return r || o->nsizes == 0 ? -EINVAL : 0;
}

enum {
	OPT_LISTEN = 256, OPT_STATS, OPT_CONNECT, OPT_COUNT, OPT_RATE, OPT_CONC, OPT_UP,
	OPT_DOWN, OPT_SIZES, OPT_RESET, OPT_BIND, OPT_DURATION, OPT_TIMEOUT, OPT_SUMMARY,
	OPT_HELP,
};

static const struct option server_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

static const struct option client_opts[] = {
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "up", required_argument, NULL, OPT_UP },
	{ "down", required_argument, NULL, OPT_DOWN },
	{ "sizes", required_argument, NULL, OPT_SIZES },
	{ "reset-every", required_argument, NULL, OPT_RESET },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "summary", required_argument, NULL, OPT_SUMMARY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* Returns 0, 1 for --help, or -EINVAL. */
static int client_opt(struct copts *o, int opt, const char *arg, bool *have_dst)
{
	switch (opt) {
	case OPT_HELP: return 1;
	case OPT_CONNECT:
		*have_dst = true;
		return parse_endpoint(arg, true, &o->dst);
	case OPT_BIND:
		o->have_src = true;
		return parse_endpoint(arg, false, &o->src);
	case OPT_COUNT: return sim_parse_u64(arg, 10, UINT64_MAX, &o->count);
	case OPT_RESET: return sim_parse_u64(arg, 10, UINT64_MAX, &o->reset_every);
	case OPT_RATE: return sim_parse_double(arg, 1e6, &o->rate);
	case OPT_DURATION: return sim_parse_double(arg, 1e7, &o->duration_s);
	case OPT_TIMEOUT: return sim_parse_double(arg, 1e6, &o->timeout_s);
	case OPT_CONC: return parse_u32(arg, &o->concurrency) || !o->concurrency ? -EINVAL : 0;
	case OPT_UP: return parse_u32(arg, &o->sizes[0].up);
	case OPT_DOWN: return parse_u32(arg, &o->sizes[0].down);
	case OPT_SIZES: return parse_sizes(arg, o);
	case OPT_SUMMARY: o->summary = arg; return 0;
	default: return -EINVAL;
	}
}

struct client_args {
	struct copts *o;
	bool have_dst, have_count, sizes_set, updown_set;
};

static int client_opt_cb(void *arg, int opt, const char *val)
{
	struct client_args *a = arg;

	if (opt == OPT_COUNT)
		a->have_count = true;
	if (opt == OPT_SIZES)
		a->sizes_set = true;
	if (opt == OPT_UP || opt == OPT_DOWN)
		a->updown_set = true;
	return client_opt(a->o, opt, val, &a->have_dst);
}

static int client_parse(int argc, char **argv, struct copts *o)
{
	struct client_args a = { .o = o };
	int r;

	*o = (struct copts){ .concurrency = 1, .timeout_s = 10, .nsizes = 1,
			     .sizes = { { 64, 64 } } };
	r = sim_parse_opts(&cli, argc, argv, client_opts, client_opt_cb, &a);
	if (r >= 0)
		return r;
	if (!a.have_dst || !a.have_count)
		return sim_usage_error(&cli, "--connect and --count are required", NULL);
	if (a.sizes_set && a.updown_set)
		return sim_usage_error(&cli, "--sizes cannot be combined with --up/--down", NULL);
	if (o->have_src && o->src.ss.ss_family != o->dst.ss.ss_family)
		return sim_usage_error(&cli, "--bind and --connect must be the same address family", NULL);
	if (o->timeout_s <= 0)
		return sim_usage_error(&cli, "--timeout must be > 0", NULL);
	return -1;
}

static int client_main(int argc, char **argv)
{
	struct client *cl = calloc(1, sizeof(*cl));
	uint64_t start;
	int r;

	if (!cl)
		return EXIT_FAIL;
	r = client_parse(argc, argv, &cl->o);
	if (r >= 0) {
		free(cl);
		return r;
	}
	raise_nofile();
	fill_pattern(cl->buf, IOBUF);
	if (loop_open(&cl->ep, &cl->sig)) {
		free(cl);
		return EXIT_FAIL;
	}
	start = cl->t_begin = cl->next_start = sim_now_ns();
	if (cl->o.duration_s > 0)
		cl->t_end = start + (uint64_t)(cl->o.duration_s * (double)NSEC_PER_SEC);
	if (cl->o.rate > 0)
		cl->interval_ns = (uint64_t)((double)NSEC_PER_SEC / cl->o.rate);
	r = cl_loop(cl);
	if (r)
		fprintf(stderr, "tcpgen: %s\n", strerror(-r));
	cl_abort_all(cl);
	if (cl_report(cl, sim_now_ns() - start))
		r = -EIO;
	r = r || cl->st.failed ? EXIT_FAIL : 0;
	close(cl->sig.fd);
	close(cl->ep);
	free(cl);
	return r;
}

struct server_args {
	struct server *s;
	const char *listen[MAX_LISTEN];
	struct endpoint ep[MAX_LISTEN];
	int n;
};

static int server_opt_cb(void *arg, int opt, const char *val)
{
	struct server_args *a = arg;

	switch (opt) {
	case OPT_HELP: return 1;
	case OPT_STATS: a->s->stats_path = val; return 0;
	case OPT_LISTEN:
		if (a->n == MAX_LISTEN || parse_endpoint(val, true, &a->ep[a->n]))
			return -EINVAL;
		a->listen[a->n++] = val;
		return 0;
	default: return -EINVAL;
	}
}

static int server_setup(struct server *s, const struct server_args *a)
{
	int r = loop_open(&s->ep, &s->sig);

	if (r)
		return r;
	for (int i = 0; i < a->n && !r; i++)
		r = srv_listen(s, &a->ep[i], a->listen[i]);
	return r;
}

static int server_main(int argc, char **argv)
{
	struct server *s = calloc(1, sizeof(*s));
	struct server_args a = { .s = s };
	int r;

	if (!s)
		return EXIT_FAIL;
	r = sim_parse_opts(&cli, argc, argv, server_opts, server_opt_cb, &a);
	if (r < 0 && a.n == 0)
		r = sim_usage_error(&cli, "at least one --listen is required", NULL);
	if (r >= 0) {
		free(s);
		return r;
	}
	raise_nofile();
	fill_pattern(s->buf, IOBUF);
	signal(SIGPIPE, SIG_IGN);
	r = server_setup(s, &a);
	if (!r) {
		r = srv_loop(s);
		if (r)
			fprintf(stderr, "tcpgen: %s\n", strerror(-r));
		srv_report(s);
	}
	srv_finish(s);
	free(s);
	return r ? EXIT_FAIL : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "server") == 0)
		return server_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "client") == 0)
		return client_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	return sim_usage_error(&cli, "first argument must be 'server' or 'client'", NULL);
}
