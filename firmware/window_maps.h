/*
 * The per-window double buffer of the BPF programs: an ARRAY_OF_MAPS outer
 * map with one slot points at inner map A or B. The daemon points it at the
 * spare map (the kernel waits for running programs before the update
 * returns), then drains the old one. Shared by every BPF unit.
 */
#ifndef XDPROBE_WINDOW_MAPS_H
#define XDPROBE_WINDOW_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct bpf_map;

struct window_pair {
	struct bpf_map *outer;
	struct bpf_map *inner[2];
};

/* Points every pair's outer map at inner[next]. 0 or -errno. */
int window_pairs_point(const struct window_pair *pairs, size_t n, unsigned int next);

/* Called for each drained entry; ctx is the caller's. */
typedef void (*window_emit)(void *ctx, const void *key, const void *value);

/* Empties map fd with lookup_and_delete_batch, handing every entry to emit.
 * keys/values are scratch arrays of batch entries. 0 or -errno. */
int window_drain(int fd, void *keys, size_t key_size, void *values, size_t value_size,
		 unsigned int batch, window_emit emit, void *ctx);

/* Where the entries of one pair's inner map go while it is drained. */
struct window_scratch {
	void *keys;
	size_t key_size;
	void *values;
	size_t value_size;
	window_emit emit;
};

/* Points the n pairs at the spare inner maps (*slot flips), then drains the
 * old ones through scratch[i].emit(ctx, ...). 0 or -errno. */
int window_swap_drain(const struct window_pair *pairs, const struct window_scratch *scratch,
		      size_t n, unsigned int *slot, unsigned int batch, void *ctx);

/* Sums the first n slots of a PERCPU_ARRAY of __u64 counters over every CPU
 * (a slot that cannot be read sums to 0). */
void percpu_counters_sum(int fd, unsigned int n, uint64_t *out);

#endif
