#include "top_flows.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void top_flows_init(struct top_flows *t, size_t capacity, uint64_t idle_ns)
{
	*t = (struct top_flows){ .capacity = capacity, .idle_ns = idle_ns };
}

void top_flows_free(struct top_flows *t)
{
	struct top_flow *f, *tmp;

	HASH_ITER(hh, t->flows, f, tmp) {
		HASH_DEL(t->flows, f);
		free(f);
	}
	t->count = 0;
}

/* The least recently seen flow makes room when the table is full: flows are
 * re-added on every event, so the hash's insertion order is recency order
 * and the oldest is its head. */
static void evict_oldest(struct top_flows *t)
{
	struct top_flow *oldest = t->flows;

	if (!oldest)
		return;
	HASH_DEL(t->flows, oldest);
	free(oldest);
	t->count--;
	t->evicted++;
}

void top_flows_add(struct top_flows *t, const void *record, size_t len, uint64_t now_ns)
{
	const struct flow_rtt_event *e = record;
	struct top_flow_key k;
	struct top_flow *f;

	if (len < sizeof(*e) || e->version != FLOW_EVENT_VERSION || e->method >= FLOW_M_COUNT) {
		t->bad_events++;
		return;
	}
	t->events++;
	memset(&k, 0, sizeof(k));
	k.family = e->family;
	k.role = e->role;
	k.method = e->method;
	k.protocol = e->protocol;
	k.local_port = e->local_port;
	k.remote_port = e->remote_port;
	memcpy(k.local, e->local, sizeof(k.local));
	memcpy(k.remote, e->remote, sizeof(k.remote));
	HASH_FIND(hh, t->flows, &k, sizeof(k), f);
	if (f) {
		HASH_DEL(t->flows, f); /* re-added below: now the most recent */
	} else {
		if (t->count >= t->capacity)
			evict_oldest(t);
		f = xcalloc(1, sizeof(*f));
		f->key = k;
		f->min_rtt_ns = UINT64_MAX;
		t->count++;
	}
	HASH_ADD(hh, t->flows, key, sizeof(k), f);
	f->samples++;
	f->last_rtt_ns = e->rtt_ns;
	if (e->rtt_ns < f->min_rtt_ns)
		f->min_rtt_ns = e->rtt_ns;
	if (e->rtt_ns > f->max_rtt_ns)
		f->max_rtt_ns = e->rtt_ns;
	f->last_seen_ns = now_ns;
}

void top_flows_expire(struct top_flows *t, uint64_t now_ns)
{
	struct top_flow *f, *tmp;

	HASH_ITER(hh, t->flows, f, tmp) {
		if (f->last_seen_ns >= now_ns || now_ns - f->last_seen_ns < t->idle_ns)
			continue;
		HASH_DEL(t->flows, f);
		free(f);
		t->count--;
	}
}

/* Keeps out[0..n) sorted by samples, descending, while scanning once. */
size_t top_flows_top(const struct top_flows *t, const struct top_flow **out, size_t n)
{
	size_t have = 0;

	for (const struct top_flow *f = t->flows; f && n; f = f->hh.next) {
		size_t i = have < n ? have++ : n;

		if (i == n) {
			if (f->samples <= out[n - 1]->samples)
				continue;
			i = n - 1;
		}
		while (i > 0 && out[i - 1]->samples < f->samples) {
			out[i] = out[i - 1];
			i--;
		}
		out[i] = f;
	}
	return have;
}
