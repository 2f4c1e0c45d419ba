#include "api_passive.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api_json.h"
#include "flow_map.h"
#include "flow_metrics.h"
#include "url_query.h"

/* Optional parameter as a number in [0, max]; def when absent. */
static int int_param(const char *query, const char *name, long def, long max, long *out)
{
	char text[8], *end;
	int rc = url_query_param(query, name, text, sizeof(text));

	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	*out = strtol(text, &end, 10);
	return *end || *out > max ? -EINVAL : 0;
}

static int side_param(const char *query, int *side)
{
	char text[8];
	int rc = url_query_param(query, "side", text, sizeof(text));

	*side = -1;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!strcmp(text, "lan"))
		*side = FLOW_ROLE_LAN;
	else if (!strcmp(text, "wan"))
		*side = FLOW_ROLE_WAN;
	else
		return -EINVAL;
	return 0;
}

static json_t *cell_json(const struct latency_hist *h, int level, long within, unsigned int i)
{
	char prefix[24];

	if (level == 8)
		snprintf(prefix, sizeof(prefix), "%u.0.0.0/8", i);
	else
		snprintf(prefix, sizeof(prefix), "%ld.%u.0.0/16", within, i);
	return json_pack("{s:i,s:s,s:I,s:f,s:f,s:f,s:f}", "index", (int)i, "prefix", prefix,
			 "samples", (json_int_t)h->count, "rtt_mean_seconds",
			 (double)h->sum_ns / (double)h->count / 1e9, "rtt_min_seconds",
			 (double)h->min_ns / 1e9, "rtt_p50_seconds",
			 latency_hist_quantile(h, 0.5) / 1e9, "rtt_p95_seconds",
			 latency_hist_quantile(h, 0.95) / 1e9);
}

void api_passive_map(const struct flow_live *live, const struct scgi_request *req,
		     struct scgi_response *resp)
{
	static struct flow_map map;
	long level, within;
	json_t *cells;
	int side;

	if (strcmp(req->method, "GET")) {
		api_send_error(resp, 405, "use GET");
		return;
	}
	if (!live) {
		api_send_error(resp, 503, "passive RTT is off: set [passive] lan and wan");
		return;
	}
	if (int_param(req->query, "level", 8, 16, &level) || (level != 8 && level != 16) ||
	    int_param(req->query, "within", 0, 255, &within) || side_param(req->query, &side)) {
		api_send_error(resp, 400, "level is 8 or 16, within 0..255, side lan or wan");
		return;
	}
	flow_map_build(&map, live, (int)level, (uint8_t)within, side);
	cells = json_array();
	for (unsigned int i = 0; i < FLOW_MAP_CELLS; i++)
		if (map.cells[i].count)
			json_array_append_new(cells, cell_json(&map.cells[i], (int)level, within, i));
	api_send_json(resp, 200,
		      json_pack("{s:i,s:o,s:o}", "level", (int)level, "within",
				level == 16 ? json_integer(within) : json_null(), "cells", cells));
}

static json_t *flow_json(const struct top_flow *f)
{
	char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
	int af = f->key.family == AF_INET6 ? AF_INET6 : AF_INET;

	inet_ntop(af, f->key.local, local, sizeof(local));
	inet_ntop(af, f->key.remote, remote, sizeof(remote));
	return json_pack("{s:s,s:s,s:i,s:s,s:i,s:s,s:I,s:f,s:f,s:f}", "side",
			 flow_role_name(f->key.role), "local", local, "local_port",
			 f->key.local_port, "remote", remote, "remote_port", f->key.remote_port,
			 "method", flow_method_name(f->key.method), "samples",
			 (json_int_t)f->samples, "rtt_last_seconds", (double)f->last_rtt_ns / 1e9,
			 "rtt_min_seconds", (double)f->min_rtt_ns / 1e9, "rtt_max_seconds",
			 (double)f->max_rtt_ns / 1e9);
}

void api_passive_top_flows(const struct top_flows *top, const struct scgi_request *req,
			   struct scgi_response *resp)
{
	const struct top_flow *best[100];
	json_t *flows;
	size_t n;
	long want;

	if (strcmp(req->method, "GET")) {
		api_send_error(resp, 405, "use GET");
		return;
	}
	if (!top || !top->capacity) {
		api_send_error(resp, 503, "the top-flows view is off: set [passive] lan/wan and "
					  "top_flows");
		return;
	}
	if (int_param(req->query, "n", 20, 100, &want) || want < 1) {
		api_send_error(resp, 400, "n is 1..100");
		return;
	}
	n = top_flows_top(top, best, (size_t)want);
	flows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(flows, flow_json(best[i]));
	api_send_json(resp, 200, json_pack("{s:o}", "flows", flows));
}
