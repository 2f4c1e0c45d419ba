/* simutil: helpers shared by xdprobe-wanem and xdprobe-tcpgen (see simutil.h). */
#define _GNU_SOURCE
#include "simutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

uint64_t sim_ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

uint64_t sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return sim_ts_ns(&ts);
}

int sim_parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		return -EINVAL;	/* strtoull() would wrap it around */
	v = strtoull(s, &end, base);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int sim_parse_double(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int sim_usage_error(const struct sim_cli *cli, const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s\nTry 'xdprobe-%s --help'.\n", cli->name, msg,
		arg ? ": " : "", arg ? arg : "", cli->name);
	return SIM_EXIT_USAGE;
}

int sim_parse_opts(const struct sim_cli *cli, int argc, char **argv,
		   const struct option *lo, sim_opt_fn fn, void *arg)
{
	int opt, r;

	opterr = 0;	/* our own messages, in the usage_error format */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == '?')
			return sim_usage_error(cli, "unknown option or missing argument",
					       argv[optind - 1]);
		r = fn(arg, opt, optarg);
		if (r == 1) {
			cli->usage(stdout);
			return 0;
		}
		if (r)
			return sim_usage_error(cli, "invalid value", optarg);
	}
	if (optind < argc)
		return sim_usage_error(cli, "unexpected argument", argv[optind]);
	return -1;
}

int sim_signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

void sim_kv_print(FILE *f, const struct sim_kv *kv, size_t n, const char *tag)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s%s %" PRIu64 "\n", kv[i].key, tag ? "_" : "", tag ? tag : "",
			kv[i].val);
}

/* Write to a temporary file and rename: readers never see half a file. */
int sim_write_atomic(const char *path, sim_emit_fn emit, const void *arg)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	emit(f, arg);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -errno;
	return 0;
}

struct kv_list {
	const struct sim_kv *kv;
	size_t n;
};

static void kv_emit(FILE *f, const void *arg)
{
	const struct kv_list *l = arg;

	sim_kv_print(f, l->kv, l->n, NULL);
}

int sim_kv_write_file(const char *path, const struct sim_kv *kv, size_t n)
{
	return sim_write_atomic(path, kv_emit, &(struct kv_list){ kv, n });
}
