/*
 * Unit tests of the /metrics rendering of the passive TCP state
 * (firmware/tcp_metrics.c): exact label sets, one HELP/TYPE per family,
 * families contiguous (the text format requires it), and, when promtool is
 * installed, Prometheus' own parser and linter accept the page.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcp_metrics.h"

#define FAMILIES_MAX 32

static struct tcp_peer make_peer(int family, const char *addr, uint16_t port, uint8_t dir)
{
	struct tcp_peer p;

	memset(&p, 0, sizeof(p)); /* keys are hashed as raw bytes */
	assert_int_equal(inet_pton(family, addr, p.addr), 1);
	p.port = port;
	p.family = (uint8_t)family;
	p.dir = dir;
	return p;
}

static void add_hist(struct tcp_live *l, struct tcp_peer peer, enum tcp_metric m, uint64_t ns)
{
	struct tcp_peer_metric k;
	struct latency_hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	memset(&k, 0, sizeof(k));
	k.peer = peer;
	k.metric = m;
	latency_hist_init(h);
	latency_hist_add(h, ns);
	tcp_live_add_hist(l, &k, h, 1);
	free(h);
}

/* Two IPv4 and two IPv6 peers, in both directions, with every metric. */
static int setup_live(void **state)
{
	struct tcp_peer v4_out = make_peer(AF_INET, "10.1.2.0", 443, TCP_DIR_OUTBOUND);
	struct tcp_peer v4_in = make_peer(AF_INET, "192.168.7.0", 22, TCP_DIR_INBOUND);
	struct tcp_peer v6_out = make_peer(AF_INET6, "2001:db8:1::", 443, TCP_DIR_OUTBOUND);
	struct tcp_peer v6_in = make_peer(AF_INET6, "fd00:abcd:ef01::", 8443, TCP_DIR_INBOUND);
	struct tcp_peer_counters c = { 1, 2, 3, 4, 5, 6, 7 };
	struct tcp_live *l = malloc(sizeof(*l));

	if (!l)
		return -1;
	tcp_live_init(l, 100, 3600000000000ULL, 24, 48);
	add_hist(l, v4_out, TCP_M_CONNECT, 16000);
	add_hist(l, v6_out, TCP_M_CONNECT, 16001);
	add_hist(l, v4_in, TCP_M_RTT, 250000);
	add_hist(l, v6_in, TCP_M_LIFETIME, 90000000000ULL);
	tcp_live_add_counters(l, &v4_out, &c, 1);
	c.closed = 20;
	tcp_live_add_counters(l, &v6_in, &c, 1);
	l->budget.rejected = 3;
	l->budget.expired = 9;
	*state = l;
	return 0;
}

static int teardown_live(void **state)
{
	tcp_live_free(*state);
	free(*state);
	return 0;
}

static const uint64_t drops[TCP_DROP_MAX] = { 11, 12, 13, 14, 15 };

/*
 * Renders into static storage, not the heap: a failing assertion longjmps
 * out of the test, and a heap page would then be LeakSanitizer noise.
 */
static char *render(const struct tcp_live *l)
{
	static char page[1 << 16];
	struct buf b;

	buf_init_fixed(&b, page, sizeof(page));
	tcp_metrics_render(&b, l, drops);
	assert_false(b.overflow);
	return b.data;
}

static void assert_has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	for (; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("missing line: %s", line);
}

/* ---- labels ---- */

static void test_peer_labels(void **state)
{
	struct tcp_peer v4 = make_peer(AF_INET, "10.1.2.0", 443, TCP_DIR_OUTBOUND);
	struct tcp_peer v6 = make_peer(AF_INET6, "2001:db8:1::", 65535, TCP_DIR_INBOUND);
	char storage[256];
	struct buf b;

	buf_init_fixed(&b, storage, sizeof(storage));
	tcp_peer_labels(&b, *state, &v4);
	assert_string_equal(b.data, "direction=\"outbound\",remote=\"10.1.2.0/24\",port=\"443\"");
	buf_reset(&b);
	tcp_peer_labels(&b, *state, &v6);
	assert_string_equal(b.data,
			    "direction=\"inbound\",remote=\"2001:db8:1::/48\",port=\"65535\"");
}

/* ---- exact lines ---- */

static const char *const expected_lines[] = {
	"# HELP xdprobe_tcp_connect_latency_seconds TCP handshake latency of connections this "
	"host opened (SYN to established) or accepted (SYN-ACK to ACK).",
	"# TYPE xdprobe_tcp_connect_latency_seconds histogram",
	"xdprobe_tcp_connect_latency_seconds_bucket{direction=\"outbound\",remote=\"10.1.2.0/24\","
	"port=\"443\",le=\"0.000016\"} 1",
	"xdprobe_tcp_connect_latency_seconds_bucket{direction=\"outbound\",remote=\"2001:db8:1::/"
	"48\",port=\"443\",le=\"0.000016\"} 0",
	"xdprobe_tcp_connect_latency_seconds_bucket{direction=\"outbound\",remote=\"2001:db8:1::/"
	"48\",port=\"443\",le=\"0.000032\"} 1",
	"xdprobe_tcp_connect_latency_seconds_bucket{direction=\"outbound\",remote=\"2001:db8:1::/"
	"48\",port=\"443\",le=\"33.554432\"} 1",
	"xdprobe_tcp_connect_latency_seconds_sum{direction=\"outbound\",remote=\"10.1.2.0/24\","
	"port=\"443\"} 1.6e-05",
	"xdprobe_tcp_connect_latency_seconds_count{direction=\"outbound\",remote=\"10.1.2.0/24\","
	"port=\"443\"} 1",
	"xdprobe_tcp_rtt_seconds_bucket{direction=\"inbound\",remote=\"192.168.7.0/24\","
	"port=\"22\",le=\"0.000256\"} 1",
	"xdprobe_tcp_connection_duration_seconds_bucket{direction=\"inbound\",remote=\"fd00:abcd:"
	"ef01::/48\",port=\"8443\",le=\"0.001024\"} 0",
	"xdprobe_tcp_connection_duration_seconds_bucket{direction=\"inbound\",remote=\"fd00:abcd:"
	"ef01::/48\",port=\"8443\",le=\"68719.476736\"} 1",
	"xdprobe_tcp_connection_duration_seconds_sum{direction=\"inbound\",remote=\"fd00:abcd:"
	"ef01::/48\",port=\"8443\"} 90",
	"# TYPE xdprobe_tcp_connections_closed_total counter",
	"xdprobe_tcp_connections_closed_total{direction=\"outbound\",remote=\"10.1.2.0/24\","
	"port=\"443\"} 2",
	"xdprobe_tcp_connections_closed_total{direction=\"inbound\",remote=\"fd00:abcd:ef01::/48\","
	"port=\"8443\"} 20",
	"xdprobe_tcp_resets_received_total{direction=\"inbound\",remote=\"fd00:abcd:ef01::/48\","
	"port=\"8443\"} 7",
	"xdprobe_tcp_events_dropped_total{reason=\"histogram_map_full\"} 11",
	"xdprobe_tcp_events_dropped_total{reason=\"opened_before_start\"} 15",
	"# TYPE xdprobe_tcp_series gauge",
	"xdprobe_tcp_series 6",
	"xdprobe_tcp_series_rejected_total 3",
	"xdprobe_tcp_series_expired_total 9",
};

static void test_exact_lines(void **state)
{
	char *text = render(*state);

	for (size_t i = 0; i < sizeof(expected_lines) / sizeof(expected_lines[0]); i++)
		assert_has_line(text, expected_lines[i]);
	assert_int_equal(text[strlen(text) - 1], '\n');
}

/* ---- structure: HELP/TYPE once, families contiguous ---- */

struct family_walk {
	char names[FAMILIES_MAX][96];
	int n;
	char type[16];
	int help_seen; /* HELP of the current family came right before its TYPE */
};

/* Family a sample belongs to: histogram suffixes fold into their family. */
static void sample_family(const char *line, const char *type, char *out, size_t size)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t n = strcspn(line, "{ ");

	snprintf(out, size, "%.*s", (int)n, line);
	if (strcmp(type, "histogram") != 0)
		return;
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffixes[i]), ol = strlen(out);

		if (ol > sl && !strcmp(out + ol - sl, suffixes[i])) {
			out[ol - sl] = '\0';
			return;
		}
	}
}

static void walk_line(struct family_walk *w, const char *line)
{
	char name[96], type[16], family[96];

	if (sscanf(line, "# HELP %95s", name) == 1) {
		for (int i = 0; i < w->n; i++)
			if (!strcmp(w->names[i], name))
				fail_msg("second HELP for %s: family not contiguous", name);
		assert_true(w->n < FAMILIES_MAX);
		snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", name);
		w->help_seen = 1;
		w->type[0] = '\0';
	} else if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
		assert_true(w->n > 0 && w->help_seen);
		assert_string_equal(name, w->names[w->n - 1]);
		snprintf(w->type, sizeof(w->type), "%s", type);
		w->help_seen = 0;
	} else {
		assert_true(w->n > 0 && w->type[0]); /* a sample before any TYPE */
		sample_family(line, w->type, family, sizeof(family));
		if (strcmp(family, w->names[w->n - 1]) != 0)
			fail_msg("sample of %s inside family %s", family, w->names[w->n - 1]);
	}
}

static void test_families_once_and_contiguous(void **state)
{
	char *text = render(*state), *save = NULL;
	struct family_walk w = { .n = 0 };

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		walk_line(&w, line);
	assert_int_equal(w.n, 3 + 7 + 4); /* histograms, per-peer counters, health */
}

/* An empty state still declares its families, with only health samples. */
static void test_empty_state(void **state)
{
	struct tcp_live l;
	char *text;

	tcp_live_init(&l, 10, 1, 24, 48);
	text = render(&l);
	assert_has_line(text, "# TYPE xdprobe_tcp_rtt_seconds histogram");
	assert_has_line(text, "xdprobe_tcp_series 0");
	assert_null(strstr(text, "_bucket"));
	assert_null(strstr(text, "direction="));
}

/* ---- promtool ---- */

/* $PROMTOOL (set by CMake) or the first promtool on $PATH; NULL if none. */
static const char *find_promtool(char *out, size_t size)
{
	const char *env = getenv("PROMTOOL"), *path = getenv("PATH");

	if (env && *env && access(env, X_OK) == 0)
		return env;
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		snprintf(out, size, "%.*s/promtool", (int)n, p);
		if (n && access(out, X_OK) == 0)
			return out;
		p += n + (p[n] == ':');
	}
	return NULL;
}

static void write_tmp(char *path, const char *text)
{
	int fd = mkstemp(path);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static char *slurp(const char *path)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	buf_init(&b, 0);
	buf_puts(&b, "");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return b.data;
}

/* Any promtool complaint, lint included, fails the test and is printed. */
static void test_promtool_check_metrics(void **state)
{
	char tool_buf[PATH_MAX], cmd[PATH_MAX * 2], in[] = "/tmp/xdprobe-metrics-XXXXXX",
						    out[] = "/tmp/xdprobe-promtool-XXXXXX";
	const char *tool = find_promtool(tool_buf, sizeof(tool_buf));
	char *text, *report;
	int status, complained;

	if (!tool)
		skip();
	text = render(*state);
	write_tmp(in, text);
	write_tmp(out, "");
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' > '%s' 2>&1", tool, in, out);
	status = system(cmd);
	report = slurp(out);
	unlink(in);
	unlink(out);
	complained = *report != '\0';
	if (complained)
		print_message("promtool check metrics said:\n%s", report);
	free(report);
	if (status != 0 || complained)
		fail_msg("promtool check metrics: exit status %d", status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_labels),
		cmocka_unit_test(test_exact_lines),
		cmocka_unit_test(test_families_once_and_contiguous),
		cmocka_unit_test(test_empty_state),
		cmocka_unit_test(test_promtool_check_metrics),
	};

	return cmocka_run_group_tests(tests, setup_live, teardown_live);
}
