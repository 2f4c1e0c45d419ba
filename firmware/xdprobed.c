/* xdprobed: the xdprobe appliance daemon. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "privileges.h"
#include "sysfs_mounts.h"
#include "version.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,     /* bad command line or configuration */
	EXIT_KERNEL = 3,    /* the kernel lacks a feature xdprobe needs */
	EXIT_IN_USE = 4,    /* the socket is served by another daemon */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xdprobed [OPTIONS]\n"
		"The xdprobe daemon: measures this host's TCP connections with eBPF and serves\n"
		"Prometheus metrics to lighttpd over an SCGI socket.\n\n"
		"  -c, --config FILE         configuration file (default %s, if present)\n"
		"  -s, --socket PATH         SCGI socket for lighttpd ([daemon] socket)\n"
		"  -w, --window DURATION     aggregation window, e.g. 1s ([daemon] window)\n"
		"  -g, --gateway NAME        name exported as the gateway label\n"
		"  -l, --log-level LEVEL     error, warn, info or debug\n"
		"  -o, --set SECTION.KEY=VALUE  set any configuration key\n"
		"      --check-config        validate the configuration and exit\n"
		"  -h, --help                show this help\n"
		"  -V, --version             show the version\n\n"
		"Exit status: 0 clean shutdown, 1 runtime failure, 2 usage or configuration\n"
		"error, 3 a kernel feature is missing, 4 the socket is in use by another daemon.\n",
		CONFIG_DEFAULT_PATH);
}

/* Applies "section.key=value" from --set. */
static int set_option(struct config *c, const char *arg, char err[CONFIG_ERR_MAX])
{
	char copy[512], *dot, *eq;

	snprintf(copy, sizeof(copy), "%s", arg);
	dot = strchr(copy, '.');
	eq = strchr(copy, '=');
	if (!dot || !eq || dot > eq) {
		snprintf(err, CONFIG_ERR_MAX, "--set %.200s: expected SECTION.KEY=VALUE", arg);
		return -1;
	}
	*dot = *eq = '\0';
	return config_set(c, copy, dot + 1, eq + 1, err);
}

struct cli {
	const char *config_path;
	bool check_only;
};

/* Command-line flags override the file, so they are applied after loading it. */
static int parse_args(int argc, char **argv, struct config *c, struct cli *cli)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "set", required_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char err[CONFIG_ERR_MAX];
	int opt, rc = 0;

	/* first pass: the config file */
	while ((opt = getopt_long(argc, argv, "c:s:w:g:l:o:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cli->config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("xdprobed %s\n", XDPROBE_VERSION);
			return 1;
		case '?':
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xdprobed: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (cli->config_path || access(CONFIG_DEFAULT_PATH, F_OK) == 0) {
		const char *path = cli->config_path ? cli->config_path : CONFIG_DEFAULT_PATH;

		if (config_load_file(c, path, err)) {
			fprintf(stderr, "xdprobed: %s\n", err);
			return -1;
		}
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:w:g:l:o:hV", opts, NULL)) != -1 && !rc) {
		switch (opt) {
		case 's': rc = config_set(c, "daemon", "socket", optarg, err); break;
		case 'w': rc = config_set(c, "daemon", "window", optarg, err); break;
		case 'g': rc = config_set(c, "daemon", "gateway", optarg, err); break;
		case 'l': rc = config_set(c, "daemon", "log_level", optarg, err); break;
		case 'o': rc = set_option(c, optarg, err); break;
		case 'C': cli->check_only = true; break;
		default: break;
		}
	}
	if (rc)
		fprintf(stderr, "xdprobed: %s\n", err);
	return rc ? -1 : 0;
}

static int make_runtime_dir(const char *socket_path, char *dir, size_t size)
{
	char copy[sizeof(((struct config *)0)->socket_path)];

	snprintf(copy, sizeof(copy), "%s", socket_path);
	snprintf(dir, size, "%s", dirname(copy));
	if (mkdir(dir, 0755) && errno != EEXIST) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static uint64_t own_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	if (fd >= 0)
		close(fd);
	if (!cookie)
		log_warn("cannot read this network namespace's cookie (Linux >= 5.14): "
			 "sockets of every namespace are measured");
	return cookie;
}

static int open_tcp(struct daemon *d, const char *runtime_dir)
{
	char cgroup[256];
	struct passive_tcp_opts o = {
		.netns_cookie = own_netns_cookie(),
		.prefix_v4 = d->cfg.tcp_prefix_v4,
		.prefix_v6 = d->cfg.tcp_prefix_v6,
		.max_peers = d->cfg.tcp_max_peers,
		.cgroup_path = cgroup,
	};
	int err = mounts_cgroup2(runtime_dir, cgroup, sizeof(cgroup));

	if (err) {
		log_warn("no cgroup v2 hierarchy and cannot mount one: %s", strerror(-err));
		o.cgroup_path = NULL;
	}
	tcp_live_init(&d->tcp_live, d->cfg.tcp_max_series, d->cfg.tcp_idle_ns,
		      (uint8_t)d->cfg.tcp_prefix_v4, (uint8_t)d->cfg.tcp_prefix_v6);
	if (!d->cfg.tcp_enabled)
		return 0;
	return passive_tcp_open(&d->tcp, &o);
}

/* The passive RTT programs, when [passive] names interfaces. */
static int open_flows(struct daemon *d)
{
	struct passive_flows_opts o = {
		.prefix_v4 = d->cfg.passive_prefix_v4,
		.prefix_v6 = d->cfg.passive_prefix_v6,
		.max_prefixes = d->cfg.passive_max_prefixes,
		.sample_interval_ns = d->cfg.passive_sample_interval_ns,
		.on_event = d->cfg.passive_top_flows ? daemon_flow_event : NULL,
		.event_ctx = d,
	};
	char err[128];

	flow_live_init(&d->flow_live, d->cfg.tcp_max_series, d->cfg.tcp_idle_ns,
		       (uint8_t)d->cfg.passive_prefix_v4, (uint8_t)d->cfg.passive_prefix_v6);
	top_flows_init(&d->top_flows, d->cfg.passive_top_flows, 60ULL * 1000000000ULL);
	if (passive_parse_ifaces(d->cfg.passive_lan, FLOW_ROLE_LAN, &o, err, sizeof(err)) ||
	    passive_parse_ifaces(d->cfg.passive_wan, FLOW_ROLE_WAN, &o, err, sizeof(err))) {
		log_error("[passive]: %s", err);
		return -EINVAL;
	}
	if (!o.n_ifaces)
		return 0;
	return passive_flows_open(&d->flows, &o);
}

static int start(struct daemon *d)
{
	char runtime_dir[128];
	int err;

	if (make_runtime_dir(d->cfg.socket_path, runtime_dir, sizeof(runtime_dir)))
		return EXIT_RUNTIME;
	mounts_ensure_bpffs_tracefs();
	if (loop_init(&d->loop, 256))
		return EXIT_KERNEL;
	if (open_tcp(d, runtime_dir))
		return EXIT_KERNEL;
	err = open_flows(d);
	if (err)
		return err == -EINVAL || err == -ENODEV ? EXIT_USAGE : EXIT_KERNEL;
	err = scgi_server_start(&d->scgi, &d->loop, d->cfg.socket_path, daemon_handle, d);
	if (err == -EADDRINUSE) {
		log_error("another xdprobed already serves %s: stop it or choose another "
			  "[daemon] socket", d->cfg.socket_path);
		return EXIT_IN_USE;
	}
	if (err) {
		log_error("cannot listen on %s: %s", d->cfg.socket_path, strerror(-err));
		return EXIT_RUNTIME;
	}
	d->history = history_open(&d->cfg); /* before the privilege drop: creates files */
	if (d->history) {
		struct sqlro_status st;

		if (sqlro_open(d->cfg.storage_path, &d->sqlro, &st))
			log_warn("on-device SQL unavailable: %s", st.msg);
	}
	/* Classic TC filters (kernels before tcx links) need CAP_NET_ADMIN to be
	 * removed at exit; links go away with the process. */
	err = privileges_drop(d->cfg.user, d->flows && !passive_flows_link_based(d->flows));
	if (err) {
		log_error("cannot drop privileges: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	if (daemon_start(d))
		return EXIT_RUNTIME;
	log_info("xdprobed %s serving %s, window %.3f s, %d capabilities left", XDPROBE_VERSION,
		 d->cfg.socket_path, (double)d->cfg.window_ns / 1e9, privileges_effective_count());
	return EXIT_OK;
}

static void stop(struct daemon *d)
{
	scgi_server_stop(d->scgi);
	passive_tcp_close(d->tcp); /* links close: every program detaches */
	passive_flows_close(d->flows);
	flow_live_free(&d->flow_live);
	top_flows_free(&d->top_flows);
	sqlro_close(d->sqlro);
	history_close(d->history); /* writes what is still queued */
	tcp_live_free(&d->tcp_live);
	if (d->loop.ring.ring_fd > 0)
		loop_fini(&d->loop);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct cli cli = { 0 };
	sigset_t mask;
	int rc;

	/* Until the loop reads them, termination signals wait in the queue. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.signal_fd = -1;
	config_defaults(&d.cfg);
	rc = parse_args(argc, argv, &d.cfg, &cli);
	if (rc)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	if (cli.check_only) {
		printf("configuration ok\n");
		return EXIT_OK;
	}
	log_threshold = (enum log_level)d.cfg.log_level;
	log_hook_libbpf();
	if (geteuid() != 0) {
		log_error("xdprobed must start as root: it loads BPF programs, then drops every "
			  "privilege");
		return EXIT_RUNTIME;
	}
	rc = start(&d);
	if (rc == EXIT_OK && loop_run(&d.loop))
		rc = EXIT_RUNTIME;
	stop(&d);
	if (rc == EXIT_OK)
		log_info("stopped");
	return rc;
}
