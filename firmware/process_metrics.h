/* The standard process_* metrics of Prometheus client libraries, from /proc. */
#ifndef XDPROBE_PROCESS_METRICS_H
#define XDPROBE_PROCESS_METRICS_H

#include "buf.h"

void process_metrics_render(struct buf *out);

#endif
