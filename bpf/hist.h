/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Log-linear latency histogram shared by the BPF programs and the daemon.
 *
 * Values are recorded in microseconds. Below HIST_SUB the buckets are exact
 * (one per microsecond); above, every power of two is split into HIST_SUB
 * equal sub-buckets, so a bucket is never wider than 1/HIST_SUB of its lower
 * bound (6.25 %): interpolated percentiles stay within about 3 % from 1 us to
 * 38 h, which a 5 % accuracy target for medians needs.
 * Histograms with this layout merge by adding buckets.
 */
#ifndef XDPROBE_HIST_H
#define XDPROBE_HIST_H

#ifndef __bpf__
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

#define HIST_SUB_BITS 4
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_MSB 36 /* 2^37 us - 1 (38 h) is the largest resolved value */
#define HIST_BUCKETS ((HIST_MAX_MSB - HIST_SUB_BITS + 2) * HIST_SUB)

/* Position of the highest set bit of v (v > 0), branch-free enough for BPF. */
static __always_inline unsigned int hist_msb(__u64 v)
{
	unsigned int r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* Bucket index of a value in microseconds; values past the range clamp. */
static __always_inline unsigned int hist_bucket(__u64 us)
{
	unsigned int msb, sub;

	if (us < HIST_SUB)
		return (unsigned int)us;
	msb = hist_msb(us);
	if (msb > HIST_MAX_MSB)
		return HIST_BUCKETS - 1;
	sub = (unsigned int)(us >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return (msb - HIST_SUB_BITS + 1) * HIST_SUB + sub;
}

/*
 * Bucket of a value in nanoseconds. Bucket b holds (lower(b), lower(b+1)] us,
 * so cumulative counts at a bucket bound are exact "<= bound" counts, as
 * Prometheus' "le" requires.
 */
static __always_inline unsigned int hist_bucket_ns(__u64 ns)
{
	return hist_bucket(ns ? (ns - 1) / 1000 : 0);
}

/* Lower bound, in microseconds, of bucket b; for b = HIST_BUCKETS it is the
 * upper bound of the last bucket. */
static __always_inline __u64 hist_bucket_lower(unsigned int b)
{
	unsigned int octave = b / HIST_SUB, sub = b % HIST_SUB;

	if (octave == 0)
		return b;
	return ((__u64)(HIST_SUB + sub)) << (octave - 1);
}

struct latency_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 sumsq_us2; /* sum of squares in us^2: no overflow below ~4e9 s^2 */
	__u64 min_ns; /* ~0 while empty */
	__u64 max_ns;
	__u64 buckets[HIST_BUCKETS];
};

#endif
