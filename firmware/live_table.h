/*
 * A bounded table of live series for /metrics: entries keyed by the bytes
 * of a BPF map key, each holding a cumulative value that per-window drains
 * add to. A budget shared by several tables caps how many series exist;
 * series idle for too long are forgotten. Pure.
 */
#ifndef XDPROBE_LIVE_TABLE_H
#define XDPROBE_LIVE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uthash.h"

struct live_entry {
	UT_hash_handle hh;
	uint64_t updated_ns;
	_Alignas(8) unsigned char data[]; /* key, padded to 8, then the value */
};

struct live_table {
	struct live_entry *head;
	size_t key_size;
	size_t value_offset; /* key_size rounded up to 8 */
	size_t value_size;
	void (*init_value)(void *value); /* NULL: zeroed */
};

struct live_budget {
	uint32_t series;
	uint32_t max_series;
	uint64_t idle_ns;
	uint64_t rejected; /* drained records dropped: the budget was spent */
	uint64_t expired;
};

void live_table_init(struct live_table *t, size_t key_size, size_t value_size,
		     void (*init_value)(void *value));
/* The value of key, created when absent; NULL (and counted) when the budget
 * is spent. Marks the entry as updated at now_ns. */
void *live_table_upsert(struct live_table *t, struct live_budget *b, const void *key,
			uint64_t now_ns);
/* The value of key, or NULL. */
void *live_table_find(const struct live_table *t, const void *key);
/* Forgets entries not updated for b->idle_ns before now_ns. */
void live_table_expire(struct live_table *t, struct live_budget *b, uint64_t now_ns);
void live_table_free(struct live_table *t, struct live_budget *b);

static inline const void *live_entry_key(const struct live_entry *e)
{
	return e->data;
}

static inline void *live_entry_value(const struct live_table *t, struct live_entry *e)
{
	return e->data + t->value_offset;
}

#endif
