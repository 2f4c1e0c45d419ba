/*
 * libFuzzer target for config_load_file (firmware/config.c, inih): the input
 * is written to a memfd and loaded through /proc/self/fd/N, the same file
 * path the daemon uses. Checks memory safety and the error contract: a
 * rejection always comes with a message naming the file; an accepted file
 * always yields values inside the documented ranges.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: contract violated: %s\n", __FILE__, \
				__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

static int memfd = -1;
static char path[64];

/* One memfd for the whole run: truncated and rewritten for each input. */
static int put_input(const uint8_t *data, size_t len)
{
	if (memfd < 0) {
		memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (memfd < 0)
			return -1;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) != 0)
		return -1;
	return pwrite(memfd, data, len, 0) == (ssize_t)len ? 0 : -1;
}

static void check_accepted(const struct config *c)
{
	CHECK(memchr(c->socket_path, '\0', sizeof(c->socket_path)) != NULL);
	CHECK(memchr(c->user, '\0', sizeof(c->user)) != NULL);
	CHECK(memchr(c->gateway, '\0', sizeof(c->gateway)) != NULL);
	CHECK(c->window_ns >= 100000000ULL && c->window_ns <= 3600000000000ULL);
	CHECK(c->log_level >= 0 && c->log_level <= 3);
	CHECK(c->tcp_prefix_v4 >= 24 && c->tcp_prefix_v4 <= 32);
	CHECK(c->tcp_prefix_v6 >= 48 && c->tcp_prefix_v6 <= 128);
	CHECK(c->tcp_max_peers >= 16 && c->tcp_max_peers <= (1u << 20));
	CHECK(c->tcp_max_series >= 16 && c->tcp_max_series <= (1u << 22));
	CHECK(c->tcp_idle_ns >= 1000000000ULL && c->tcp_idle_ns <= 30ULL * 24 * 3600 * 1000000000ULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char err[CONFIG_ERR_MAX];
	struct config c;

	if (put_input(data, len) != 0)
		return 0;
	config_defaults(&c);
	memset(err, 'X', sizeof(err)); /* an unterminated message would show */
	if (config_load_file(&c, path, err) == 0) {
		check_accepted(&c);
		return 0;
	}
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK(strncmp(err, path, strlen(path)) == 0);
	return 0;
}
