#include "histogram.h"

#include <string.h>

void latency_hist_init(struct latency_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

void latency_hist_add(struct latency_hist *h, uint64_t ns)
{
	h->count++;
	h->sum_ns += ns;
	h->sumsq_us2 += (ns / 1000) * (ns / 1000);
	h->buckets[hist_bucket_ns(ns)]++;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void latency_hist_merge(struct latency_hist *dst, const struct latency_hist *src)
{
	if (!src->count)
		return;
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	dst->sumsq_us2 += src->sumsq_us2;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t latency_hist_count_le(const struct latency_hist *h, uint64_t bound_us)
{
	uint64_t n = 0;

	/* bucket b holds (lower(b), lower(b+1)] us; the last one also holds
	 * the values clamped into it */
	for (unsigned int b = 0; b < HIST_BUCKETS && hist_bucket_lower(b + 1) <= bound_us; b++)
		n += h->buckets[b];
	return n;
}

double latency_hist_quantile(const struct latency_hist *h, double q)
{
	double rank, lo, hi, v;
	uint64_t seen = 0;
	unsigned int b;

	if (!h->count)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = q * (double)h->count;
	for (b = 0; b < HIST_BUCKETS - 1; b++) {
		if ((double)(seen + h->buckets[b]) >= rank && h->buckets[b])
			break;
		seen += h->buckets[b];
	}
	lo = (double)hist_bucket_lower(b) * 1000.0;
	hi = (double)hist_bucket_lower(b + 1) * 1000.0;
	v = h->buckets[b] ? lo + (hi - lo) * ((rank - (double)seen) / (double)h->buckets[b]) : lo;
	if (v < (double)h->min_ns)
		v = (double)h->min_ns;
	if (v > (double)h->max_ns)
		v = (double)h->max_ns;
	return v;
}
