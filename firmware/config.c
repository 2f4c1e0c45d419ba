#include "config.h"

#include <errno.h>
#include <math.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define NS_PER_S 1000000000ULL
#define DAY_NS (86400 * NS_PER_S)

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "/run/xdprobe/xdprobed.sock");
	c->window_ns = NS_PER_S;
	c->log_level = LOG_INFO;
	c->tcp_enabled = true;
	c->tcp_prefix_v4 = 24;
	c->tcp_prefix_v6 = 48;
	c->tcp_max_peers = 1024;
	c->tcp_max_series = 8192;
	c->tcp_idle_ns = 3600 * NS_PER_S;
	c->passive_prefix_v4 = 24;
	c->passive_prefix_v6 = 48;
	c->passive_max_prefixes = 4096;
	c->passive_sample_interval_ns = 10000000ULL;
	c->passive_top_flows = 1024;
	snprintf(c->storage_path, sizeof(c->storage_path), "/var/lib/xdprobe/history.db");
	c->storage_flush_ns = NS_PER_S;
	c->storage_retention_ns[0] = DAY_NS;
	c->storage_retention_ns[1] = 31 * DAY_NS;
	c->storage_retention_ns[2] = 5 * 365 * DAY_NS;
}

int config_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		uint64_t scale;
	} units[] = { { "ms", 1000000ULL }, { "s", NS_PER_S }, { "m", 60 * NS_PER_S },
		      { "h", 3600 * NS_PER_S }, { "d", DAY_NS }, { "", NS_PER_S } };
	char *end;
	double v;

	/* digits first: strtod would also take "nan", "inf" and hex */
	if (!((*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0 || (end[0] == 'x' || end[0] == 'X'))
		return -1;
	for (unsigned int i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v * (double)units[i].scale > 1e18)
				return -1;
			*ns = (uint64_t)(v * (double)units[i].scale);
			return 0;
		}
	}
	return -1;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") ||
	    !strcasecmp(s, "off")) {
		*out = false;
		return 0;
	}
	return -1;
}

static int set_string(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return -1;
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

enum kind { K_STRING, K_DURATION, K_UINT, K_BOOL, K_LOG_LEVEL };

struct option_def {
	const char *section;
	const char *key;
	enum kind kind;
	size_t offset;
	size_t size; /* strings: capacity; uints: 4 or 8 is not needed, all fit */
	unsigned long min, max;
	const char *expect;
};

#define OFF(f) offsetof(struct config, f)
static const struct option_def options[] = {
	{ "daemon", "socket", K_STRING, OFF(socket_path), sizeof(((struct config *)0)->socket_path),
	  0, 0, "a filesystem path shorter than 108 bytes" },
	{ "daemon", "window", K_DURATION, OFF(window_ns), 0, 100000000ULL, 3600 * NS_PER_S,
	  "a duration from 100ms to 1h, e.g. 1s" },
	{ "daemon", "log_level", K_LOG_LEVEL, OFF(log_level), 0, 0, 0,
	  "one of error, warn, info, debug" },
	{ "daemon", "user", K_STRING, OFF(user), sizeof(((struct config *)0)->user), 0, 0,
	  "a user name" },
	{ "daemon", "gateway", K_STRING, OFF(gateway), sizeof(((struct config *)0)->gateway), 0, 0,
	  "a name of at most 63 bytes" },
	{ "tcp", "enabled", K_BOOL, OFF(tcp_enabled), 0, 0, 0, "yes or no" },
	{ "tcp", "ipv4_prefix", K_UINT, OFF(tcp_prefix_v4), sizeof(unsigned int), 24, 32,
	  "a prefix length from 24 to 32" },
	{ "tcp", "ipv6_prefix", K_UINT, OFF(tcp_prefix_v6), sizeof(unsigned int), 48, 128,
	  "a prefix length from 48 to 128" },
	{ "tcp", "max_peers", K_UINT, OFF(tcp_max_peers), sizeof(uint32_t), 16, 1 << 20,
	  "a number of peers per window from 16 to 1048576" },
	{ "tcp", "max_series", K_UINT, OFF(tcp_max_series), sizeof(uint32_t), 16, 1 << 22,
	  "a number of series from 16 to 4194304" },
	{ "tcp", "series_idle_timeout", K_DURATION, OFF(tcp_idle_ns), 0, NS_PER_S,
	  30ULL * 24 * 3600 * NS_PER_S, "a duration from 1s to 30 days, e.g. 1h" },
	{ "passive", "lan", K_STRING, OFF(passive_lan), sizeof(((struct config *)0)->passive_lan),
	  0, 0, "interface names, comma-separated" },
	{ "passive", "wan", K_STRING, OFF(passive_wan), sizeof(((struct config *)0)->passive_wan),
	  0, 0, "interface names, comma-separated" },
	{ "passive", "ipv4_prefix", K_UINT, OFF(passive_prefix_v4), sizeof(unsigned int), 8, 32,
	  "a prefix length from 8 to 32" },
	{ "passive", "ipv6_prefix", K_UINT, OFF(passive_prefix_v6), sizeof(unsigned int), 16, 128,
	  "a prefix length from 16 to 128" },
	{ "passive", "max_prefixes", K_UINT, OFF(passive_max_prefixes), sizeof(uint32_t), 16,
	  1 << 20, "a number of prefixes per window from 16 to 1048576" },
	{ "passive", "sample_interval", K_DURATION, OFF(passive_sample_interval_ns), 0, 0,
	  NS_PER_S, "a duration from 0 to 1s, e.g. 10ms" },
	{ "passive", "top_flows", K_UINT, OFF(passive_top_flows), sizeof(uint32_t), 0, 1 << 16,
	  "a number of flows from 0 (no top view) to 65536" },
	{ "storage", "path", K_STRING, OFF(storage_path), sizeof(((struct config *)0)->storage_path),
	  0, 0, "a database path shorter than 256 bytes, or empty for no history" },
	{ "storage", "flush_interval", K_DURATION, OFF(storage_flush_ns), 0, 100000000ULL,
	  600 * NS_PER_S, "a duration from 100ms to 10m, e.g. 1s" },
	{ "storage", "retention_1s", K_DURATION, OFF(storage_retention_ns[0]), 0, 60 * NS_PER_S,
	  366 * DAY_NS, "a duration from 1m to 366d, e.g. 1d" },
	{ "storage", "retention_1m", K_DURATION, OFF(storage_retention_ns[1]), 0, 3600 * NS_PER_S,
	  3660 * DAY_NS, "a duration from 1h to 3660d, e.g. 31d" },
	{ "storage", "retention_1h", K_DURATION, OFF(storage_retention_ns[2]), 0, DAY_NS,
	  3660 * DAY_NS, "a duration from 1d to 3660d, e.g. 1825d" },
	{ "storage", "size_cap_mib", K_UINT, OFF(storage_size_cap_mib), sizeof(uint32_t), 0,
	  1 << 20, "a size in MiB from 0 (no cap) to 1048576" },
};

static int apply(struct config *c, const struct option_def *o, const char *value)
{
	char *field = (char *)c + o->offset;
	unsigned long u;
	uint64_t ns;
	bool b;
	int lvl;

	switch (o->kind) {
	case K_STRING:
		return set_string(field, o->size, value);
	case K_DURATION:
		if (config_parse_duration(value, &ns) || ns < o->min || ns > o->max)
			return -1;
		memcpy(field, &ns, sizeof(ns));
		return 0;
	case K_UINT:
		if (parse_uint(value, o->min, o->max, &u))
			return -1;
		if (o->size == sizeof(uint32_t)) {
			uint32_t v = (uint32_t)u;

			memcpy(field, &v, sizeof(v));
		} else {
			unsigned int v = (unsigned int)u;

			memcpy(field, &v, sizeof(v));
		}
		return 0;
	case K_BOOL:
		if (parse_bool(value, &b))
			return -1;
		memcpy(field, &b, sizeof(b));
		return 0;
	case K_LOG_LEVEL:
		lvl = log_level_parse(value);
		if (lvl < 0)
			return -1;
		memcpy(field, &lvl, sizeof(lvl));
		return 0;
	}
	return -1;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
	       char err[CONFIG_ERR_MAX])
{
	bool section_known = false;

	for (unsigned int i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option_def *o = &options[i];

		if (strcmp(o->section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(o->key, key) != 0)
			continue;
		if (apply(c, o, value) == 0)
			return 0;
		snprintf(err, CONFIG_ERR_MAX, "[%.64s] %.64s = \"%.64s\": expected %s", section, key,
			 value, o->expect);
		return -1;
	}
	if (section_known)
		snprintf(err, CONFIG_ERR_MAX, "unknown key \"%.64s\" in section [%s]", key,
			 section);
	else
		snprintf(err, CONFIG_ERR_MAX, "unknown section [%.64s] (known: daemon, tcp, passive, storage)",
			 section);
	return -1;
}

struct load_ctx {
	FILE *file;
	struct config *c;
	char *err;
	int line;      /* line inih is at, counted by our reader */
	int fail_line; /* first line a value was rejected on; 0: none */
};

/* inih reads line by line through this, so we know where a value was. */
static char *read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	char *r = fgets(str, num, ctx->file);

	if (r)
		ctx->line++;
	return r;
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *ctx = user;

	if (ctx->fail_line)
		return 1;
	if (config_set(ctx->c, section, key, value, ctx->err) != 0)
		ctx->fail_line = ctx->line;
	return 1;
}

int config_load_file(struct config *c, const char *path, char err[CONFIG_ERR_MAX])
{
	struct load_ctx ctx = { .c = c, .err = err };
	char detail[CONFIG_ERR_MAX];
	int syntax_line;

	ctx.file = fopen(path, "r");
	if (!ctx.file) {
		snprintf(err, CONFIG_ERR_MAX, "%.300s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	syntax_line = ini_parse_stream(read_line, &ctx, on_ini_entry, &ctx);
	fclose(ctx.file);
	if (syntax_line == -2) {
		snprintf(err, CONFIG_ERR_MAX, "%.300s: out of memory while parsing", path);
		return -1;
	}
	/* report whichever came first: a syntax error or a rejected value */
	if (syntax_line > 0 && (!ctx.fail_line || syntax_line < ctx.fail_line)) {
		snprintf(err, CONFIG_ERR_MAX,
			 "%.300s:%d: syntax error (expected \"[section]\" or \"key = value\")", path,
			 syntax_line);
		return -1;
	}
	if (ctx.fail_line) {
		memcpy(detail, err, CONFIG_ERR_MAX);
		snprintf(err, CONFIG_ERR_MAX, "%.300s:%d: %.200s", path, ctx.fail_line, detail);
		return -1;
	}
	return 0;
}
