#include "window_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>

int window_pairs_point(const struct window_pair *pairs, size_t n, unsigned int next)
{
	__u32 zero = 0;

	for (size_t i = 0; i < n; i++) {
		int inner = bpf_map__fd(pairs[i].inner[next]);

		if (bpf_map_update_elem(bpf_map__fd(pairs[i].outer), &zero, &inner, BPF_ANY))
			return -errno;
	}
	return 0;
}

int window_drain(int fd, void *keys, size_t key_size, void *values, size_t value_size,
		 unsigned int batch, window_emit emit, void *ctx)
{
	__u64 cursor = 0;
	bool first = true;

	for (;;) {
		__u32 n = batch;
		int err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &cursor, &cursor, keys,
							  values, &n, NULL);

		if (err && errno != ENOENT)
			return -errno;
		for (__u32 i = 0; i < n; i++)
			emit(ctx, (char *)keys + i * key_size, (char *)values + i * value_size);
		if (err)
			return 0; /* ENOENT: the map is empty now */
		first = false;
	}
}

int window_swap_drain(const struct window_pair *pairs, const struct window_scratch *scratch,
		      size_t n, unsigned int *slot, unsigned int batch, void *ctx)
{
	unsigned int old = *slot;
	int err = window_pairs_point(pairs, n, !old);

	if (err)
		return err;
	*slot = !old;
	for (size_t i = 0; i < n && !err; i++)
		err = window_drain(bpf_map__fd(pairs[i].inner[old]), scratch[i].keys,
				   scratch[i].key_size, scratch[i].values, scratch[i].value_size,
				   batch, scratch[i].emit, ctx);
	return err;
}

void percpu_counters_sum(int fd, unsigned int n, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 percpu[ncpus > 0 ? ncpus : 1];

	for (__u32 r = 0; r < n; r++) {
		out[r] = 0;
		if (ncpus <= 0 || bpf_map_lookup_elem(fd, &r, percpu))
			continue;
		for (int c = 0; c < ncpus; c++)
			out[r] += percpu[c];
	}
}
