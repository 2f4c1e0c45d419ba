#include "scgi_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define RECV_CAP (SCGI_HEADERS_MAX + SCGI_BODY_MAX + 16)

struct conn {
	struct loop_op op; /* first: the op pointer is the conn pointer */
	struct scgi_server *server;
	struct conn *next;
	int fd;
	uint64_t started_ns;
	char *in;
	size_t in_len;
	struct buf head;
	struct scgi_response resp;
	size_t sent;
	int stage; /* 0 receiving, 1 sending head, 2 sending body */
};

struct scgi_server {
	struct loop_op accept_op;
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	scgi_handler handler;
	void *ctx;
	struct conn *conns;
	unsigned int nconns;
	bool accepting;
	uint64_t requests;
};

static void arm_accept(struct scgi_server *s);

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void conn_free(struct conn *c)
{
	struct scgi_server *s = c->server;
	struct conn **pp;

	for (pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	close(c->fd);
	buf_free(&c->head);
	buf_free(&c->resp.body);
	free(c->in);
	free(c);
	s->nconns--;
	if (!s->accepting && s->fd >= 0)
		arm_accept(s);
}

static void conn_send(struct conn *c)
{
	struct buf *b = c->stage == 1 ? &c->head : &c->resp.body;
	struct io_uring_sqe *sqe = loop_sqe(c->server->loop, &c->op);

	if (!sqe) {
		conn_free(c);
		return;
	}
	io_uring_prep_send(sqe, c->fd, b->data + c->sent, b->len - c->sent, MSG_NOSIGNAL);
}

static void conn_respond(struct conn *c)
{
	buf_init(&c->head, 4096);
	buf_printf(&c->head, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\n\r\n", c->resp.status, status_text(c->resp.status),
		   c->resp.content_type ? c->resp.content_type : "text/plain; charset=utf-8",
		   c->resp.body.len);
	c->stage = 1;
	c->sent = 0;
	c->server->requests++;
	conn_send(c);
}

static void conn_error(struct conn *c, int status, const char *msg)
{
	buf_reset(&c->resp.body);
	c->resp.status = status;
	c->resp.content_type = NULL;
	buf_puts(&c->resp.body, msg);
	conn_respond(c);
}

static void conn_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c->server->loop, &c->op);

	if (!sqe) {
		conn_free(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, RECV_CAP - 1 - c->in_len, 0);
}

static void on_received(struct conn *c, int res)
{
	struct scgi_request req;

	if (res <= 0) { /* peer closed, error, or reaped */
		conn_free(c);
		return;
	}
	c->in_len += (size_t)res;
	c->in[c->in_len] = '\0';
	switch (scgi_parse(c->in, c->in_len, &req)) {
	case SCGI_INCOMPLETE:
		if (c->in_len < RECV_CAP - 1) {
			conn_recv(c);
			return;
		}
		/* a request that does not fit is too large */
		__attribute__((fallthrough));
	case SCGI_TOO_LARGE:
		conn_error(c, 413, "request too large\n");
		return;
	case SCGI_BAD:
		conn_error(c, 400, "malformed SCGI request\n");
		return;
	case SCGI_OK:
		break;
	}
	c->resp.status = 200;
	c->server->handler(c->server->ctx, &req, &c->resp);
	if (c->resp.body.overflow)
		conn_error(c, 500, "response too large\n");
	else
		conn_respond(c);
}

static void on_conn_io(struct loop_op *op, int res)
{
	struct conn *c = (struct conn *)op;
	struct buf *b;

	if (c->stage == 0) {
		on_received(c, res);
		return;
	}
	if (res < 0) {
		conn_free(c);
		return;
	}
	b = c->stage == 1 ? &c->head : &c->resp.body;
	c->sent += (size_t)res;
	if (c->sent < b->len) {
		conn_send(c);
		return;
	}
	if (c->stage == 1 && c->resp.body.len) {
		c->stage = 2;
		c->sent = 0;
		conn_send(c);
		return;
	}
	conn_free(c);
}

static void on_accept(struct loop_op *op, int res)
{
	struct scgi_server *s = (struct scgi_server *)op;
	struct conn *c;

	s->accepting = false;
	if (res < 0) {
		if (res != -ECANCELED && s->fd >= 0)
			log_warn("accept on %s failed: %s", s->path, strerror(-res));
		if (s->fd >= 0 && res != -ECANCELED)
			arm_accept(s);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->op.cb = on_conn_io;
	c->server = s;
	c->fd = res;
	c->started_ns = loop_now_ns();
	c->in = malloc(RECV_CAP);
	buf_init(&c->resp.body, 64 << 20);
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	if (!c->in) {
		conn_free(c);
		return;
	}
	conn_recv(c);
	if (s->nconns < SCGI_MAX_CONNS)
		arm_accept(s);
}

static void arm_accept(struct scgi_server *s)
{
	struct io_uring_sqe *sqe = loop_sqe(s->loop, &s->accept_op);

	if (!sqe)
		return;
	io_uring_prep_accept(sqe, s->fd, NULL, NULL, SOCK_CLOEXEC);
	s->accepting = true;
}

/* A socket file somebody still answers on belongs to a running daemon. */
static int claim_path(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return -errno;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	if (live)
		return -EADDRINUSE;
	if (unlink(addr->sun_path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int listen_unix(const char *path, int *out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	err = claim_path(&addr);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(path, 0660) ||
	    listen(fd, 128)) {
		err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int scgi_server_start(struct scgi_server **out, struct loop *l, const char *path,
		      scgi_handler handler, void *ctx)
{
	struct scgi_server *s = xcalloc(1, sizeof(*s));
	int err;

	s->accept_op.cb = on_accept;
	s->loop = l;
	s->handler = handler;
	s->ctx = ctx;
	snprintf(s->path, sizeof(s->path), "%s", path);
	err = listen_unix(path, &s->fd);
	if (err) {
		free(s);
		return err;
	}
	arm_accept(s);
	*out = s;
	return 0;
}

void scgi_server_reap(struct scgi_server *s, uint64_t now_ns)
{
	for (struct conn *c = s->conns; c; c = c->next)
		if (now_ns - c->started_ns > SCGI_CONN_TIMEOUT_NS)
			shutdown(c->fd, SHUT_RDWR); /* the pending op completes and frees */
}

uint64_t scgi_server_requests(const struct scgi_server *s)
{
	return s->requests;
}

void scgi_server_stop(struct scgi_server *s)
{
	if (!s)
		return;
	/* Connections still in flight are abandoned with the ring at exit. */
	while (s->conns) {
		struct conn *c = s->conns;

		s->conns = c->next;
		close(c->fd);
		buf_free(&c->head);
		buf_free(&c->resp.body);
		free(c->in);
		free(c);
	}
	close(s->fd);
	unlink(s->path);
	free(s);
}
