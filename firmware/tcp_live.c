#include "tcp_live.h"

#include <stdlib.h>

#include "xalloc.h"

void tcp_live_init(struct tcp_live *l, uint32_t max_series, uint64_t idle_ns, uint8_t prefix_v4,
		   uint8_t prefix_v6)
{
	*l = (struct tcp_live){ .max_series = max_series,
				.idle_ns = idle_ns,
				.prefix_v4 = prefix_v4,
				.prefix_v6 = prefix_v6 };
}

void tcp_live_free(struct tcp_live *l)
{
	struct tcp_live_hist *h, *htmp;
	struct tcp_live_counters *c, *ctmp;

	HASH_ITER(hh, l->hists, h, htmp) {
		HASH_DEL(l->hists, h);
		free(h);
	}
	HASH_ITER(hh, l->counters, c, ctmp) {
		HASH_DEL(l->counters, c);
		free(c);
	}
	l->series = 0;
}

static int room_for_one(struct tcp_live *l)
{
	if (l->series < l->max_series)
		return 1;
	l->series_rejected++;
	return 0;
}

void tcp_live_add_hist(struct tcp_live *l, const struct tcp_peer_metric *key,
		       const struct latency_hist *h, uint64_t now_ns)
{
	struct tcp_live_hist *e;

	HASH_FIND(hh, l->hists, key, sizeof(*key), e);
	if (!e) {
		if (!room_for_one(l))
			return;
		e = xcalloc(1, sizeof(*e));
		e->key = *key;
		latency_hist_init(&e->hist);
		HASH_ADD(hh, l->hists, key, sizeof(e->key), e);
		l->series++;
	}
	latency_hist_merge(&e->hist, h);
	e->updated_ns = now_ns;
}

static void add_counters(struct tcp_peer_counters *dst, const struct tcp_peer_counters *src)
{
	dst->connect_failures += src->connect_failures;
	dst->closed += src->closed;
	dst->bytes_sent += src->bytes_sent;
	dst->bytes_received += src->bytes_received;
	dst->retransmits += src->retransmits;
	dst->resets_sent += src->resets_sent;
	dst->resets_received += src->resets_received;
}

void tcp_live_add_counters(struct tcp_live *l, const struct tcp_peer *key,
			   const struct tcp_peer_counters *c, uint64_t now_ns)
{
	struct tcp_live_counters *e;

	HASH_FIND(hh, l->counters, key, sizeof(*key), e);
	if (!e) {
		if (!room_for_one(l))
			return;
		e = xcalloc(1, sizeof(*e));
		e->key = *key;
		HASH_ADD(hh, l->counters, key, sizeof(e->key), e);
		l->series++;
	}
	add_counters(&e->c, c);
	e->updated_ns = now_ns;
}

void tcp_live_expire(struct tcp_live *l, uint64_t now_ns)
{
	struct tcp_live_hist *h, *htmp;
	struct tcp_live_counters *c, *ctmp;

	HASH_ITER(hh, l->hists, h, htmp) {
		if (h->updated_ns >= now_ns || now_ns - h->updated_ns < l->idle_ns)
			continue;
		HASH_DEL(l->hists, h);
		free(h);
		l->series--;
		l->series_expired++;
	}
	HASH_ITER(hh, l->counters, c, ctmp) {
		if (c->updated_ns >= now_ns || now_ns - c->updated_ns < l->idle_ns)
			continue;
		HASH_DEL(l->counters, c);
		free(c);
		l->series--;
		l->series_expired++;
	}
}
