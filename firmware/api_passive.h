/* GET /api/v1/passive/ipv4-map: the passive RTT per /8, or per /16 of one /8. */
#ifndef XDPROBE_API_PASSIVE_H
#define XDPROBE_API_PASSIVE_H

#include "flow_live.h"
#include "scgi_server.h"
#include "top_flows.h"

/* live may be NULL (passive RTT not enabled): answers 503. */
void api_passive_map(const struct flow_live *live, const struct scgi_request *req,
		     struct scgi_response *resp);

/* GET /api/v1/passive/top-flows?n=N: the N most active flows with their RTT. */
void api_passive_top_flows(const struct top_flows *top, const struct scgi_request *req,
			   struct scgi_response *resp);

#endif
