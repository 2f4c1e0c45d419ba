/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * BPF side of the per-window histograms: adding one sample to a
 * struct latency_hist that lives in a shared (non-per-CPU) map value, with
 * atomic adds and compare-and-swap min/max, exactly as tcp_sockets.bpf.c's
 * record() does. Include after bpf_helpers.h.
 */
#ifndef XDPROBE_WINDOW_HIST_H
#define XDPROBE_WINDOW_HIST_H

#include "hist.h"

#ifndef WINDOW_HIST_CMPXCHG_TRIES
#define WINDOW_HIST_CMPXCHG_TRIES 8
#endif

static __always_inline void window_atomic_min(__u64 *p, __u64 v)
{
	for (int i = 0; i < WINDOW_HIST_CMPXCHG_TRIES; i++) {
		__u64 cur = *(volatile __u64 *)p;

		if (cur <= v || __sync_val_compare_and_swap(p, cur, v) == cur)
			return;
	}
}

static __always_inline void window_atomic_max(__u64 *p, __u64 v)
{
	for (int i = 0; i < WINDOW_HIST_CMPXCHG_TRIES; i++) {
		__u64 cur = *(volatile __u64 *)p;

		if (cur >= v || __sync_val_compare_and_swap(p, cur, v) == cur)
			return;
	}
}

/* The inner map an ARRAY_OF_MAPS outer map currently points at (slot 0). */
static __always_inline void *window_current(void *outer)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(outer, &zero);
}

/* Adds one sample of ns nanoseconds. */
static __always_inline void window_hist_add(struct latency_hist *h, __u64 ns)
{
	__u64 b = hist_bucket_ns(ns);

	barrier_var(b); /* keep the bounds check on the register used for the access */
	if (b >= HIST_BUCKETS)
		return;
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
	__sync_fetch_and_add(&h->sumsq_us2, (ns / 1000) * (ns / 1000));
	__sync_fetch_and_add(&h->buckets[b], 1);
	window_atomic_min(&h->min_ns, ns);
	window_atomic_max(&h->max_ns, ns);
}

#endif
