/* SCGI server on a Unix socket, driven by the io_uring loop. */
#ifndef XDPROBE_SCGI_SERVER_H
#define XDPROBE_SCGI_SERVER_H

#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "scgi.h"

#define SCGI_MAX_CONNS 64
#define SCGI_CONN_TIMEOUT_NS (5ULL * 1000000000ULL)

struct scgi_response {
	int status;
	const char *content_type;
	struct buf body;
};

typedef void (*scgi_handler)(void *ctx, const struct scgi_request *req,
			     struct scgi_response *resp);

struct scgi_server;

/* Binds path (mode 0660); refuses with -EADDRINUSE when another process
 * answers on it, replaces a stale socket file. */
int scgi_server_start(struct scgi_server **out, struct loop *l, const char *path,
		      scgi_handler handler, void *ctx);
/* Closes connections older than SCGI_CONN_TIMEOUT_NS (slow or stuck clients). */
void scgi_server_reap(struct scgi_server *s, uint64_t now_ns);
void scgi_server_stop(struct scgi_server *s);
/* Requests answered since start, for the daemon's own metrics. */
uint64_t scgi_server_requests(const struct scgi_server *s);

#endif
