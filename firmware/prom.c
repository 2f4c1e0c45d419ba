#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
	/* help strings are ours and contain no backslash or newline */
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_label(struct buf *b, const char *name, const char *value)
{
	if (b->len && b->data[b->len - 1] != '{' && b->data[b->len - 1] != ',')
		buf_puts(b, ",");
	buf_printf(b, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else if (*p == '"')
			buf_puts(b, "\\\"");
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else
			buf_add(b, p, 1);
	}
	buf_puts(b, "\"");
}

static void sample_head(struct buf *b, const char *name, const char *labels)
{
	if (labels && *labels)
		buf_printf(b, "%s{%s} ", name, labels);
	else
		buf_printf(b, "%s ", name);
}

void prom_sample_u64(struct buf *b, const char *name, const char *labels, uint64_t v)
{
	sample_head(b, name, labels);
	buf_printf(b, "%llu\n", (unsigned long long)v);
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static const char *prom_format_double(double v, char *out, size_t size)
{
	snprintf(out, size, "%.15g", v);
	if (strtod(out, NULL) != v)
		snprintf(out, size, "%.17g", v);
	return out;
}

void prom_sample_f64(struct buf *b, const char *name, const char *labels, double v)
{
	char num[32];

	sample_head(b, name, labels);
	if (isnan(v))
		buf_puts(b, "NaN\n");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf\n" : "-Inf\n");
	else
		buf_printf(b, "%s\n", prom_format_double(v, num, sizeof(num)));
}

void prom_single_u64(struct buf *b, const char *name, const char *type, const char *help,
		     uint64_t v)
{
	prom_family(b, name, type, help);
	prom_sample_u64(b, name, NULL, v);
}

void prom_single_f64(struct buf *b, const char *name, const char *type, const char *help,
		     double v)
{
	prom_family(b, name, type, help);
	prom_sample_f64(b, name, NULL, v);
}

static void bucket_line(struct buf *b, const char *name, const char *labels, const char *le,
			uint64_t n)
{
	buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels ? labels : "",
		   labels && *labels ? "," : "", le, (unsigned long long)n);
}

void prom_histogram(struct buf *b, const char *name, const char *labels,
		    const struct latency_hist *h, const struct prom_buckets *range)
{
	char le[32], metric[128];

	for (unsigned int k = range->first_pow2_us; k <= range->last_pow2_us; k++) {
		uint64_t bound = 1ULL << k;

		/* powers of two of microseconds are exact with six decimals */
		snprintf(le, sizeof(le), "%llu.%06llu", (unsigned long long)(bound / 1000000),
			 (unsigned long long)(bound % 1000000));
		bucket_line(b, name, labels, le, latency_hist_count_le(h, bound));
	}
	bucket_line(b, name, labels, "+Inf", h->count);
	snprintf(metric, sizeof(metric), "%s_sum", name);
	prom_sample_f64(b, metric, labels, (double)h->sum_ns / 1e9);
	snprintf(metric, sizeof(metric), "%s_count", name);
	prom_sample_u64(b, metric, labels, h->count);
}
