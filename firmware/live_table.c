#include "live_table.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void live_table_init(struct live_table *t, size_t key_size, size_t value_size,
		     void (*init_value)(void *value))
{
	*t = (struct live_table){ .key_size = key_size,
				  .value_offset = (key_size + 7) & ~(size_t)7,
				  .value_size = value_size,
				  .init_value = init_value };
}

void *live_table_find(const struct live_table *t, const void *key)
{
	struct live_entry *e;

	HASH_FIND(hh, t->head, key, t->key_size, e);
	return e ? live_entry_value(t, e) : NULL;
}

void *live_table_upsert(struct live_table *t, struct live_budget *b, const void *key,
			uint64_t now_ns)
{
	struct live_entry *e;

	HASH_FIND(hh, t->head, key, t->key_size, e);
	if (!e) {
		if (b->series >= b->max_series) {
			b->rejected++;
			return NULL;
		}
		e = xcalloc(1, sizeof(*e) + t->value_offset + t->value_size);
		memcpy(e->data, key, t->key_size);
		if (t->init_value)
			t->init_value(live_entry_value(t, e));
		HASH_ADD(hh, t->head, data[0], t->key_size, e);
		b->series++;
	}
	e->updated_ns = now_ns;
	return live_entry_value(t, e);
}

void live_table_expire(struct live_table *t, struct live_budget *b, uint64_t now_ns)
{
	struct live_entry *e, *tmp;

	HASH_ITER(hh, t->head, e, tmp) {
		/* an update stamped after now is fresh, not 2^64 ns old */
		if (e->updated_ns >= now_ns || now_ns - e->updated_ns < b->idle_ns)
			continue;
		HASH_DEL(t->head, e);
		free(e);
		b->series--;
		b->expired++;
	}
}

void live_table_free(struct live_table *t, struct live_budget *b)
{
	struct live_entry *e, *tmp;

	HASH_ITER(hh, t->head, e, tmp) {
		HASH_DEL(t->head, e);
		free(e);
		b->series--;
	}
}
