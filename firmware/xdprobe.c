/* xdprobe: command-line client of a running xdprobed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "cli_query.h"
#include "config.h"
#include "scgi.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xdprobe [-s SOCKET] COMMAND\n"
		"Talks to a running xdprobed over its SCGI socket.\n\n"
		"Commands:\n"
		"  metrics        print the Prometheus metrics\n"
		"  get PATH       print the response to GET PATH\n"
		"  query SQL      read-only SQL on the history database, as CSV\n"
		"                 (xdprobe query --help for its options)\n"
		"  version        print the version\n\n"
		"Options:\n"
		"  -s, --socket PATH  daemon socket (default /run/xdprobe/xdprobed.sock)\n"
		"  -h, --help         show this help\n\n"
		"Exit status: 0 success, 1 the daemon answered with an error or is not\n"
		"reachable, 2 usage error.\n");
}

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends GET uri and prints the body; returns the HTTP status or -errno. */
static int get(const char *socket_path, const char *uri)
{
	struct buf req, resp;
	char chunk[65536], *body;
	int fd = connect_unix(socket_path), status = 0;
	ssize_t n;

	if (fd < 0)
		return fd;
	buf_init(&req, 0);
	buf_init(&resp, 256 << 20);
	scgi_build(&req, "GET", uri, NULL, 0);
	if (write_all(fd, req.data, req.len) == 0)
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			buf_add(&resp, chunk, (size_t)n);
	close(fd);
	body = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
	if (body && sscanf(resp.data, "Status: %d", &status) == 1)
		fwrite(body + 4, 1, resp.len - (size_t)(body + 4 - resp.data), stdout);
	else
		status = -EPROTO;
	buf_free(&req);
	buf_free(&resp);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct config defaults;
	const char *socket_path, *cmd, *uri;
	int opt, status;

	config_defaults(&defaults);
	socket_path = defaults.socket_path;
	while ((opt = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		if (opt == 's') {
			socket_path = optarg;
		} else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "version")) {
		printf("xdprobe %s\n", XDPROBE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "query"))
		return cli_query(argc - optind, argv + optind, defaults.storage_path);
	if (!strcmp(cmd, "metrics") && optind + 1 == argc) {
		uri = "/metrics";
	} else if (!strcmp(cmd, "get") && optind + 2 == argc && argv[optind + 1][0] == '/') {
		uri = argv[optind + 1];
	} else {
		fprintf(stderr, "xdprobe: unknown command or arguments: %s\n", cmd);
		usage(stderr);
		return 2;
	}
	status = get(socket_path, uri);
	if (status < 0) {
		fprintf(stderr, "xdprobe: cannot reach xdprobed at %s: %s (is it running? "
			"use -s to name its socket)\n", socket_path, strerror(-status));
		return 1;
	}
	return status == 200 ? 0 : 1;
}
