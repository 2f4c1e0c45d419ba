/* Operations on the log-linear latency histogram of bpf/hist.h. Pure. */
#ifndef XDPROBE_HISTOGRAM_H
#define XDPROBE_HISTOGRAM_H

#include <linux/types.h>
#include <stdint.h>

#include "hist.h"

void latency_hist_init(struct latency_hist *h);
void latency_hist_add(struct latency_hist *h, uint64_t ns);
void latency_hist_merge(struct latency_hist *dst, const struct latency_hist *src);
/* Number of samples <= bound_us; exact when bound_us is a bucket bound
 * (every power of two from 8 us up is one). */
uint64_t latency_hist_count_le(const struct latency_hist *h, uint64_t bound_us);
/* Quantile q in [0,1] in nanoseconds, interpolated inside its bucket and
 * clamped to the observed min/max; 0 for an empty histogram. */
double latency_hist_quantile(const struct latency_hist *h, double q);

#endif
