#include "flow_map.h"

#include <sys/socket.h>

int flow_map_build(struct flow_map *map, const struct flow_live *live, int level, uint8_t within,
		   int side)
{
	int merged = 0;

	if (level != 8 && level != 16)
		return -1;
	for (unsigned int i = 0; i < FLOW_MAP_CELLS; i++)
		latency_hist_init(&map->cells[i]);
	if (live->prefix_v4 < level)
		return 0; /* the kernel aggregates coarser than the map asks */
	for (struct live_entry *e = live->hists.head; e; e = e->hh.next) {
		const struct flow_prefix_key *k = live_entry_key(e);

		if (k->family != AF_INET || (side >= 0 && k->role != side))
			continue;
		if (level == 16 && k->addr[0] != within)
			continue;
		latency_hist_merge(&map->cells[level == 8 ? k->addr[0] : k->addr[1]],
				   live_entry_value(&live->hists, e));
		merged++;
	}
	return merged;
}
