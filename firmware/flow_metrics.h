/* Renders the passive flow RTT live state as Prometheus metric families. */
#ifndef XDPROBE_FLOW_METRICS_H
#define XDPROBE_FLOW_METRICS_H

#include "buf.h"
#include "flow_live.h"

/* unmeasured: per-reason totals of traffic the programs could not measure. */
void flow_metrics_render(struct buf *out, const struct flow_live *live,
			 const uint64_t unmeasured[FLOW_U_MAX]);
const char *flow_method_name(unsigned int method);
const char *flow_role_name(unsigned int role);

#endif
