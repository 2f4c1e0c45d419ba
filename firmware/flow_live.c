#include "flow_live.h"

static void init_hist(void *value)
{
	latency_hist_init(value);
}

void flow_live_init(struct flow_live *l, uint32_t max_series, uint64_t idle_ns,
		    uint8_t prefix_v4, uint8_t prefix_v6)
{
	*l = (struct flow_live){ .budget = { .max_series = max_series, .idle_ns = idle_ns },
				 .prefix_v4 = prefix_v4,
				 .prefix_v6 = prefix_v6 };
	live_table_init(&l->hists, sizeof(struct flow_prefix_key), sizeof(struct latency_hist),
			init_hist);
	live_table_init(&l->traffic, sizeof(struct flow_traffic_key), sizeof(struct flow_traffic),
			NULL);
}

void flow_live_free(struct flow_live *l)
{
	live_table_free(&l->hists, &l->budget);
	live_table_free(&l->traffic, &l->budget);
}

void flow_live_add_hist(struct flow_live *l, const struct flow_prefix_key *key,
			const struct latency_hist *h, uint64_t now_ns)
{
	struct latency_hist *e = live_table_upsert(&l->hists, &l->budget, key, now_ns);

	if (e)
		latency_hist_merge(e, h);
}

void flow_live_add_traffic(struct flow_live *l, const struct flow_traffic_key *key,
			   const struct flow_traffic *t, uint64_t now_ns)
{
	struct flow_traffic *e = live_table_upsert(&l->traffic, &l->budget, key, now_ns);

	if (!e)
		return;
	e->packets_out += t->packets_out;
	e->bytes_out += t->bytes_out;
	e->packets_in += t->packets_in;
	e->bytes_in += t->bytes_in;
}

void flow_live_expire(struct flow_live *l, uint64_t now_ns)
{
	live_table_expire(&l->hists, &l->budget, now_ns);
	live_table_expire(&l->traffic, &l->budget, now_ns);
}
