/*
 * simutil: what the test-bed tools (xdprobe-wanem, xdprobe-tcpgen) share, so
 * that both keep one contract: the monotonic clock, strict number parsing,
 * the command line (exit 2 with a hint on a usage error), the signalfd that
 * turns shutdown into an event, and key/value stats files that readers
 * never see half-written.
 */
#ifndef XDPROBE_SIM_SIMUTIL_H
#define XDPROBE_SIM_SIMUTIL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

enum { SIM_EXIT_USAGE = 2 };

uint64_t sim_ts_ns(const struct timespec *ts);
uint64_t sim_now_ns(void);	/* CLOCK_MONOTONIC */

/* Base as strtoull(); -EINVAL for a minus sign, trailing junk or > max. */
int sim_parse_u64(const char *s, int base, uint64_t max, uint64_t *out);
/* A finite number in [0, max]; -EINVAL otherwise. */
int sim_parse_double(const char *s, double max, double *out);

struct sim_cli {
	const char *name;	/* "wanem": message prefix; the binary is xdprobe-<name> */
	void (*usage)(FILE *f);
};

/* Prints the message and a pointer to --help; returns SIM_EXIT_USAGE. */
int sim_usage_error(const struct sim_cli *cli, const char *msg, const char *arg);

/* Applies one option: 0 done, 1 for --help, anything else an invalid value. */
typedef int (*sim_opt_fn)(void *arg, int opt, const char *val);

/* Long options only; returns -1 to go on, else the exit code. */
int sim_parse_opts(const struct sim_cli *cli, int argc, char **argv,
		   const struct option *lo, sim_opt_fn fn, void *arg);

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd for them
 * (non-blocking), or -1 with errno set. */
int sim_signals_open(void);

struct sim_kv {
	const char *key;
	uint64_t val;
};

/* "key value" lines; with a tag, "key_tag value". */
void sim_kv_print(FILE *f, const struct sim_kv *kv, size_t n, const char *tag);

typedef void (*sim_emit_fn)(FILE *f, const void *arg);

/* Writes PATH.tmp with emit() and renames it over PATH. 0 or -errno. */
int sim_write_atomic(const char *path, sim_emit_fn emit, const void *arg);
int sim_kv_write_file(const char *path, const struct sim_kv *kv, size_t n);

#endif
