#include "tcp_live.h"

static void init_hist(void *value)
{
	latency_hist_init(value);
}

void tcp_live_init(struct tcp_live *l, uint32_t max_series, uint64_t idle_ns, uint8_t prefix_v4,
		   uint8_t prefix_v6)
{
	*l = (struct tcp_live){ .budget = { .max_series = max_series, .idle_ns = idle_ns },
				.prefix_v4 = prefix_v4,
				.prefix_v6 = prefix_v6 };
	live_table_init(&l->hists, sizeof(struct tcp_peer_metric), sizeof(struct latency_hist),
			init_hist);
	live_table_init(&l->counters, sizeof(struct tcp_peer), sizeof(struct tcp_peer_counters),
			NULL);
}

void tcp_live_free(struct tcp_live *l)
{
	live_table_free(&l->hists, &l->budget);
	live_table_free(&l->counters, &l->budget);
}

void tcp_live_add_hist(struct tcp_live *l, const struct tcp_peer_metric *key,
		       const struct latency_hist *h, uint64_t now_ns)
{
	struct latency_hist *e = live_table_upsert(&l->hists, &l->budget, key, now_ns);

	if (e)
		latency_hist_merge(e, h);
}

void tcp_live_add_counters(struct tcp_live *l, const struct tcp_peer *key,
			   const struct tcp_peer_counters *c, uint64_t now_ns)
{
	uint64_t *e = live_table_upsert(&l->counters, &l->budget, key, now_ns);
	const uint64_t *add = (const uint64_t *)c;

	if (!e)
		return;
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		e[i] += add[i];
}

void tcp_live_expire(struct tcp_live *l, uint64_t now_ns)
{
	live_table_expire(&l->hists, &l->budget, now_ns);
	live_table_expire(&l->counters, &l->budget, now_ns);
}
