/* The running daemon: its parts, the window tick and the request router. */
#ifndef XDPROBE_DAEMON_H
#define XDPROBE_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "config.h"
#include "history.h"
#include "sql_readonly.h"
#include "loop.h"
#include "flow_live.h"
#include "passive_flows.h"
#include "passive_tcp.h"
#include "scgi_server.h"
#include "tcp_live.h"
#include "top_flows.h"

struct daemon {
	struct config cfg;
	struct loop loop;
	struct loop_op tick_op;
	struct loop_op signal_op;
	int signal_fd;
	struct signalfd_siginfo siginfo;
	uint64_t next_tick_ns;
	struct passive_tcp *tcp; /* NULL when [tcp] enabled = no */
	struct tcp_live tcp_live;
	struct passive_flows *flows; /* NULL when no interface is monitored */
	struct flow_live flow_live;
	struct top_flows top_flows;
	struct loop_op events_op; /* readable ring buffer of per-flow RTT events */
	struct history *history; /* NULL: no on-device history */
	struct sqlro *sqlro;     /* read-only connection for /api/v1/query; NULL without history */
	int64_t window_start_ms; /* wall clock when the current window began */
	uint64_t drain_ns;       /* monotonic time of the drain in progress */
	struct scgi_server *scgi;
	/* self-monitoring */
	uint64_t windows;
	uint64_t windows_late;
	uint64_t drain_errors;
	uint64_t last_drain_ns;
};

/* Arms the window tick and the signal watch; the loop then runs the daemon. */
int daemon_start(struct daemon *d);
/* Receives one per-flow RTT event (the passive programs' ring buffer). */
void daemon_flow_event(void *ctx, const void *record, size_t len);
/* The SCGI handler: /metrics and friends. */
void daemon_handle(void *ctx, const struct scgi_request *req, struct scgi_response *resp);

#endif
