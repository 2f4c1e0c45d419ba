/*
 * Unit tests of the daemon configuration (firmware/config.c). An operator
 * fixes a bad config from the error message alone, so every rejection must
 * name file:line and say what is expected, and every accepted value must land
 * in the right field.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define NS_PER_S 1000000000ULL

/*
 * Files go to a fresh directory under /tmp, not $TMPDIR: error messages embed
 * the path, and a short, known prefix keeps these tests about config.c
 * (test_error_long_path covers long paths on purpose).
 */
static char tmpdir[64];
static char conf_path[PATH_MAX];

static int make_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/xdprobe-cfg-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/xdprobed.conf", tmpdir);
	return 0;
}

static int remove_tmpdir(void **state)
{
	unlink(conf_path);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int load(struct config *c, const char *text, char err[CONFIG_ERR_MAX])
{
	write_file(conf_path, text);
	config_defaults(c);
	err[0] = '\0';
	return config_load_file(c, conf_path, err);
}

/* The error must start with "<path>:<line>: " and contain the hint. */
static void expect_error_at(const char *text, int line, const char *hint)
{
	char err[CONFIG_ERR_MAX], prefix[PATH_MAX + 16];
	struct config c;

	if (load(&c, text, err) != -1)
		fail_msg("accepted: %s", text);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, hint))
		fail_msg("config:\n%s\nerror: %s\nwant prefix \"%s\" and \"%s\"", text, err, prefix,
			 hint);
}

/* ---- defaults and a valid file ---- */

static void test_defaults(void **state)
{
	struct config c;

	memset(&c, 0xa5, sizeof(c)); /* defaults must set everything */
	config_defaults(&c);
	assert_string_equal(c.socket_path, "/run/xdprobe/xdprobed.sock");
	assert_int_equal(c.window_ns, NS_PER_S);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_string_equal(c.user, "");
	assert_string_equal(c.gateway, "");
	assert_true(c.tcp_enabled);
	assert_int_equal(c.tcp_prefix_v4, 24);
	assert_int_equal(c.tcp_prefix_v6, 48);
	assert_int_equal(c.tcp_max_peers, 1024);
	assert_int_equal(c.tcp_max_series, 8192);
	assert_int_equal(c.tcp_idle_ns, 3600 * NS_PER_S);
}

static const char valid_conf[] = "; xdprobed test configuration\n"
				 "# both comment styles\n"
				 "[daemon]\n"
				 "socket = /run/x/probe.sock\n"
				 "window = 250ms\n"
				 "log_level = debug\n"
				 "user = xdprobe\n"
				 "gateway = gw-01 ; inline comment\n"
				 "\n"
				 "[tcp]\n"
				 "enabled = no\n"
				 "ipv4_prefix = 32\n"
				 "ipv6_prefix = 64\n"
				 "max_peers = 4096\n"
				 "max_series = 100000\n"
				 "series_idle_timeout = 2h\n";

static void test_valid_file_overrides(void **state)
{
	char err[CONFIG_ERR_MAX];
	struct config c;

	if (load(&c, valid_conf, err) != 0)
		fail_msg("rejected: %s", err);
	assert_string_equal(c.socket_path, "/run/x/probe.sock");
	assert_int_equal(c.window_ns, 250000000ULL);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_string_equal(c.user, "xdprobe");
	assert_string_equal(c.gateway, "gw-01");
	assert_false(c.tcp_enabled);
	assert_int_equal(c.tcp_prefix_v4, 32);
	assert_int_equal(c.tcp_prefix_v6, 64);
	assert_int_equal(c.tcp_max_peers, 4096);
	assert_int_equal(c.tcp_max_series, 100000);
	assert_int_equal(c.tcp_idle_ns, 7200 * NS_PER_S);
}

/* Keys a file does not mention keep their earlier values. */
static void test_partial_file_keeps_defaults(void **state)
{
	char err[CONFIG_ERR_MAX];
	struct config c;

	assert_int_equal(load(&c, "[tcp]\nmax_peers = 16\n", err), 0);
	assert_int_equal(c.tcp_max_peers, 16);
	assert_int_equal(c.tcp_max_series, 8192);
	assert_int_equal(c.window_ns, NS_PER_S);
	assert_string_equal(c.socket_path, "/run/xdprobe/xdprobed.sock");
}

static void test_bool_spellings(void **state)
{
	static const struct {
		const char *text;
		bool want;
	} cases[] = { { "yes", true },  { "no", false },   { "true", true }, { "false", false },
		      { "1", true },    { "0", false },    { "on", true },   { "off", false },
		      { "YES", true },  { "False", false }, { "On", true },  { "OFF", false } };
	char text[64], err[CONFIG_ERR_MAX];
	struct config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[tcp]\nenabled = %s\n", cases[i].text);
		if (load(&c, text, err) != 0)
			fail_msg("enabled = %s: %s", cases[i].text, err);
		c.tcp_enabled = !cases[i].want; /* reload over the opposite value */
		assert_int_equal(config_load_file(&c, conf_path, err), 0);
		assert_int_equal(c.tcp_enabled, cases[i].want);
	}
}

/* ---- errors ---- */

static const struct {
	const char *text;
	int line;
	const char *hint;
} errors[] = {
	{ "[nope]\nx = 1\n", 2, "unknown section [nope]" },
	{ "window = 1s\n", 1, "unknown section []" }, /* key before any section */
	{ "[daemon]\nwindw = 1s\n", 2, "unknown key \"windw\" in section [daemon]" },
	{ "[tcp]\nwindow = 1s\n", 2, "unknown key \"window\" in section [tcp]" },
	{ "[daemon]\nwindow = 1x\n", 2, "expected a duration from 100ms to 1h" },
	{ "[daemon]\nwindow = -1s\n", 2, "expected a duration" },
	{ "[daemon]\nwindow =\n", 2, "[daemon] window = \"\": expected a duration" },
	{ "[daemon]\nwindow = 1e30h\n", 2, "expected a duration" },
	{ "[daemon]\nwindow = 50ms\n", 2, "from 100ms to 1h" },
	{ "[daemon]\nwindow = 61m\n", 2, "from 100ms to 1h" },
	{ "[tcp]\nseries_idle_timeout = 999ms\n", 2, "from 1s to 30 days" },
	{ "[tcp]\nipv4_prefix = 23\n", 2, "a prefix length from 24 to 32" },
	{ "[tcp]\nipv4_prefix = 33\n", 2, "a prefix length from 24 to 32" },
	{ "[tcp]\nipv6_prefix = 47\n", 2, "a prefix length from 48 to 128" },
	{ "[tcp]\nipv6_prefix = 129\n", 2, "a prefix length from 48 to 128" },
	{ "[tcp]\nmax_peers = abc\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_peers = 12abc\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_peers = -16\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_peers = +16\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_peers = 0x20\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_peers = 99999999999999999999999\n", 2, "from 16 to 1048576" },
	{ "[tcp]\nmax_series = 4194305\n", 2, "from 16 to 4194304" },
	{ "[tcp]\nenabled = maybe\n", 2, "expected yes or no" },
	{ "[tcp]\nenabled =\n", 2, "expected yes or no" },
	{ "[daemon]\nlog_level = verbose\n", 2, "one of error, warn, info, debug" },
	{ "[daemon]\nlog_level = INFO\n", 2, "one of error, warn, info, debug" },
	{ "[daemon]\nwindow 1s\n", 2, "syntax error" },
	{ "[daemon\n", 1, "syntax error" },
	{ "[daemon]\nwindow = 2s\nuser = a\n\n[tcp]\nipv4_prefix = 8\n", 6, "from 24 to 32" },
};

static void test_errors_name_file_line_and_hint(void **state)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		expect_error_at(errors[i].text, errors[i].line, errors[i].hint);
}

static void test_string_too_long(void **state)
{
	char text[256], err[CONFIG_ERR_MAX];
	struct config c;

	snprintf(text, sizeof(text), "[daemon]\nsocket = /%0107d\n", 0); /* 108 bytes */
	expect_error_at(text, 2, "shorter than 108 bytes");
	snprintf(text, sizeof(text), "[daemon]\ngateway = %064d\n", 0);
	expect_error_at(text, 2, "at most 63 bytes");
	snprintf(text, sizeof(text), "[daemon]\ngateway = %063d\n", 0); /* fits */
	if (load(&c, text, err) != 0)
		fail_msg("63-byte gateway rejected: %s", err);
	assert_int_equal(strlen(c.gateway), 63);
}

static void test_missing_file(void **state)
{
	char err[CONFIG_ERR_MAX], path[PATH_MAX];
	struct config c;

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err), -1);
	if (strncmp(err, path, strlen(path)) != 0 || !strstr(err, "cannot open") ||
	    !strstr(err, strerror(ENOENT)))
		fail_msg("error: %s", err);
}

/* The command-line path (section.key=value) has the same contract minus file:line. */
static void test_config_set(void **state)
{
	char err[CONFIG_ERR_MAX];
	struct config c;

	config_defaults(&c);
	assert_int_equal(config_set(&c, "tcp", "ipv4_prefix", "28", err), 0);
	assert_int_equal(c.tcp_prefix_v4, 28);
	assert_int_equal(config_set(&c, "tcp", "ipv4_prefix", "23", err), -1);
	assert_string_equal(err, "[tcp] ipv4_prefix = \"23\": expected a prefix length from 24 to 32");
	assert_int_equal(c.tcp_prefix_v4, 28); /* a rejected value changes nothing */
	assert_int_equal(config_set(&c, "x", "y", "1", err), -1);
	assert_string_equal(err, "unknown section [x] (known: daemon, tcp, passive, storage)");
}

/* The first problem in the file is reported: here a syntax error that
 * precedes a rejected value, and an unclosed section header. */
static void test_error_syntax_before_bad_value(void **state)
{
	expect_error_at("[daemon]\ngarbage line\nwindow = 1x\n", 2, "syntax error");
	expect_error_at("[daemon\nwindow = 1s\n", 1, "syntax error");
}

/* Messages name the whole path, however long. */
static void test_error_long_path(void **state)
{
	char dir[128], path[160], err[CONFIG_ERR_MAX], want[176];
	struct config c;
	int rc;

	snprintf(dir, sizeof(dir), "%s/conf.d-with-a-longer-name", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/10-site.conf", dir);
	write_file(path, "[tcp]\nipv4_prefix = 8\n");
	config_defaults(&c);
	rc = config_load_file(&c, path, err);
	unlink(path);
	rmdir(dir);
	assert_int_equal(rc, -1);
	snprintf(want, sizeof(want), "%s:2: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error: %s\nwant prefix: %s", err, want);
}

/* ---- durations ---- */

static const struct {
	const char *text;
	uint64_t ns;
} durations[] = {
	{ "250ms", 250000000ULL },  { "1.5s", 1500000000ULL }, { "2m", 120 * NS_PER_S },
	{ "1h", 3600 * NS_PER_S },  { "30", 30 * NS_PER_S },   { "0.5", NS_PER_S / 2 },
	{ "0", 0 },                 { "100ms", 100000000ULL }, { "1s", NS_PER_S },
	{ "0.1s", 100000000ULL },   { "1000000000s", 1000000000ULL * NS_PER_S },
};

static const char *const bad_durations[] = {
	"1x", "-1s", "", "1e30h", "s", "ms", "1 s", "1S", "1sec", "1m30s", "inf", "1e10h",
};

static void test_parse_duration(void **state)
{
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		uint64_t ns = 1;

		if (config_parse_duration(durations[i].text, &ns) != 0 || ns != durations[i].ns)
			fail_msg("\"%s\": %llu ns, want %llu", durations[i].text,
				 (unsigned long long)ns, (unsigned long long)durations[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
		uint64_t ns = 0;

		if (config_parse_duration(bad_durations[i], &ns) != -1)
			fail_msg("\"%s\" accepted as %llu ns", bad_durations[i],
				 (unsigned long long)ns);
	}
}

/* strtod accepts "nan", and converting NaN to an integer is undefined:
 * durations must start with a digit. */
static void test_parse_duration_nan(void **state)
{
	static const char *const nans[] = { "nan", "NaN", "nanms" };

	for (size_t i = 0; i < sizeof(nans) / sizeof(nans[0]); i++) {
		uint64_t ns = 0;

		if (config_parse_duration(nans[i], &ns) != -1)
			fail_msg("\"%s\" accepted as %llu ns", nans[i], (unsigned long long)ns);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_file_overrides),
		cmocka_unit_test(test_partial_file_keeps_defaults),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_errors_name_file_line_and_hint),
		cmocka_unit_test(test_string_too_long),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_config_set),
		cmocka_unit_test(test_error_syntax_before_bad_value),
		cmocka_unit_test(test_error_long_path),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_duration_nan),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
