/* Daemon configuration: defaults, INI file, command-line overrides, checks. */
#ifndef XDPROBE_CONFIG_H
#define XDPROBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/xdprobe/xdprobed.conf"
#define CONFIG_ERR_MAX 512

struct config {
	/* [daemon] */
	char socket_path[108]; /* sun_path size */
	uint64_t window_ns;
	int log_level;
	char user[64]; /* empty: stay root without capabilities */
	char gateway[64];
	/* [tcp] */
	bool tcp_enabled;
	unsigned int tcp_prefix_v4;
	unsigned int tcp_prefix_v6;
	uint32_t tcp_max_peers;
	uint32_t tcp_max_series;
	uint64_t tcp_idle_ns;
	/* [passive] */
	char passive_lan[128]; /* interfaces on the field side, comma-separated */
	char passive_wan[128]; /* interfaces on the uplink side */
	unsigned int passive_prefix_v4;
	unsigned int passive_prefix_v6;
	uint32_t passive_max_prefixes;
	uint64_t passive_sample_interval_ns;
	uint32_t passive_top_flows; /* flows kept for the top view; 0: no per-flow events */
	/* [storage] */
	char storage_path[256]; /* empty: no history */
	uint64_t storage_flush_ns;
	uint64_t storage_retention_ns[3]; /* 1 s, 1 min, 1 h windows */
	uint32_t storage_size_cap_mib;    /* 0: no cap */
};

void config_defaults(struct config *c);
/* Loads an INI file over the current values. 0, or -1 with a message in err
 * that names the file, the line and what to fix. */
int config_load_file(struct config *c, const char *path, char err[CONFIG_ERR_MAX]);
/* Sets one "section.key" (as from the command line); same error contract. */
int config_set(struct config *c, const char *section, const char *key, const char *value,
	       char err[CONFIG_ERR_MAX]);
/* Parses "250ms", "1s", "5m", "2h", "31d" (a bare number means seconds). */
int config_parse_duration(const char *s, uint64_t *ns);

#endif
