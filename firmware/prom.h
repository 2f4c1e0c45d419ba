/* Prometheus text exposition format 0.0.4 writers. */
#ifndef XDPROBE_PROM_H
#define XDPROBE_PROM_H

#include <stdint.h>

#include "buf.h"
#include "histogram.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Range of exported "le" bounds: every power of two of microseconds from
 * 2^first_pow2_us to 2^last_pow2_us, then +Inf. */
struct prom_buckets {
	unsigned int first_pow2_us;
	unsigned int last_pow2_us;
};

void prom_family(struct buf *b, const char *name, const char *type, const char *help);
/* Appends name="value" with the value escaped; adds the separating comma. */
void prom_label(struct buf *b, const char *name, const char *value);
void prom_sample_u64(struct buf *b, const char *name, const char *labels, uint64_t v);
void prom_sample_f64(struct buf *b, const char *name, const char *labels, double v);
/* A family with a single unlabelled sample: HELP, TYPE and the value. */
void prom_single_u64(struct buf *b, const char *name, const char *type, const char *help,
		     uint64_t v);
void prom_single_f64(struct buf *b, const char *name, const char *type, const char *help,
		     double v);
/* name_bucket/_sum/_count lines of one histogram series, in seconds. */
void prom_histogram(struct buf *b, const char *name, const char *labels,
		    const struct latency_hist *h, const struct prom_buckets *range);

#endif
