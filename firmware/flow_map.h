/*
 * The IPv4 address-space map of the passive RTT (like epping's Hilbert-curve
 * figure): the per-prefix histograms merged into one cell per /8, or per /16
 * inside one /8. Pure; the dashboard lays the cells out on the curve.
 */
#ifndef XDPROBE_FLOW_MAP_H
#define XDPROBE_FLOW_MAP_H

#include <stdint.h>

#include "flow_live.h"

#define FLOW_MAP_CELLS 256

struct flow_map {
	struct latency_hist cells[FLOW_MAP_CELLS]; /* index: the /8 or the /16's second byte */
};

/*
 * Merges every IPv4 histogram of live into map, per /8 (level 8) or, for
 * level 16, per /16 inside the /8 named by within. side is FLOW_ROLE_* or -1
 * for both. Prefixes shorter than the level cannot be split and are skipped.
 * Returns the number of histograms merged, or -1 for a bad level.
 */
int flow_map_build(struct flow_map *map, const struct flow_live *live, int level, uint8_t within,
		   int side);

#endif
