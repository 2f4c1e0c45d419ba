/*
 * Unit tests of the Prometheus text-format writers (firmware/prom.c). A
 * scraper rejects the whole page on one malformed line, so exact output
 * matters: escaping, float spelling, and histogram invariants.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

#define US 1000ULL

/*
 * Output goes to fixed caller storage, never the heap: a failing assertion
 * longjmps out of the test, and heap buffers would then be LeakSanitizer
 * noise in the -DXDPROBE_SANITIZE=ON build.
 */
#define OUT_MAX 8192
#define OUT(b)                   \
	char b##_storage[OUT_MAX]; \
	struct buf b;              \
	buf_init_fixed(&b, b##_storage, OUT_MAX)

/* ---- labels ---- */

static const struct {
	const char *value;
	const char *want; /* rendered name="..." */
} label_cases[] = {
	{ "plain", "k=\"plain\"" },
	{ "", "k=\"\"" },
	{ "a\\b", "k=\"a\\\\b\"" },
	{ "say \"hi\"", "k=\"say \\\"hi\\\"\"" },
	{ "l1\nl2", "k=\"l1\\nl2\"" },
	{ "\\\"\n", "k=\"\\\\\\\"\\n\"" },
	{ "tab\there", "k=\"tab\there\"" }, /* only \\, \" and \n are escaped */
	{ "2001:db8::/48", "k=\"2001:db8::/48\"" },
};

static void test_label_escaping(void **state)
{
	OUT(b);

	for (size_t i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
		buf_reset(&b);
		prom_label(&b, "k", label_cases[i].value);
		assert_string_equal(b.data, label_cases[i].want);
		assert_int_equal(b.len, strlen(label_cases[i].want));
	}
}

/* prom_label adds the comma between labels, never after '{' or ','. */
static void test_label_separators(void **state)
{
	OUT(b);

	prom_label(&b, "a", "1");
	prom_label(&b, "b", "2");
	assert_string_equal(b.data, "a=\"1\",b=\"2\"");
	buf_reset(&b);
	buf_puts(&b, "m{");
	prom_label(&b, "a", "1");
	buf_puts(&b, ",");
	prom_label(&b, "b", "2");
	assert_string_equal(b.data, "m{a=\"1\",b=\"2\"");
}

/* ---- samples ---- */

static void test_family_and_u64(void **state)
{
	OUT(b);

	prom_family(&b, "x_total", "counter", "Things.");
	prom_sample_u64(&b, "x_total", NULL, 0);
	prom_sample_u64(&b, "x_total", "", 7);
	prom_sample_u64(&b, "x_total", "a=\"1\"", UINT64_MAX);
	assert_string_equal(b.data, "# HELP x_total Things.\n"
				    "# TYPE x_total counter\n"
				    "x_total 0\n"
				    "x_total 7\n"
				    "x_total{a=\"1\"} 18446744073709551615\n");
}

static const char *render_f64(struct buf *b, double v)
{
	buf_reset(b);
	prom_sample_f64(b, "m", NULL, v);
	assert_true(b->len > 3 && strncmp(b->data, "m ", 2) == 0);
	assert_int_equal(b->data[b->len - 1], '\n');
	return b->data + 2;
}

static const struct {
	double v;
	const char *want;
} f64_cases[] = {
	{ 0, "0\n" },
	{ 1, "1\n" },
	{ 0.1, "0.1\n" },
	{ 1795443632.33, "1795443632.33\n" }, /* a Unix time with centiseconds */
	{ 0.000016, "1.6e-05\n" },
	{ -2.5, "-2.5\n" },
	{ 1e21, "1e+21\n" },
};

static void test_f64_exact_text(void **state)
{
	OUT(b);

	for (size_t i = 0; i < sizeof(f64_cases) / sizeof(f64_cases[0]); i++)
		assert_string_equal(render_f64(&b, f64_cases[i].v), f64_cases[i].want);
	assert_string_equal(render_f64(&b, NAN), "NaN\n");
	assert_string_equal(render_f64(&b, INFINITY), "+Inf\n");
	assert_string_equal(render_f64(&b, -INFINITY), "-Inf\n");
}

/* Every finite double must read back bit-exact (no %g precision loss). */
static void check_round_trip(struct buf *b, double v)
{
	const char *text = render_f64(b, v);
	double back = strtod(text, NULL);

	if (memcmp(&back, &v, sizeof(v)) != 0)
		fail_msg("%.17g rendered as %s", v, text);
}

static void test_f64_round_trip(void **state)
{
	static const double values[] = { 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 1795443632.33,
					 1e-9, 123456789.123456789, DBL_MAX, DBL_MIN,
					 5e-324, -1e-300, 9007199254740993.0 };
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	OUT(b);

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_round_trip(&b, values[i]);
	for (int i = 0; i < 20000; i++) { /* random finite bit patterns */
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, &x, sizeof(v));
		if (isfinite(v))
			check_round_trip(&b, v);
	}
}

/* ---- histograms ---- */

struct parsed_hist {
	char le[32][24];
	uint64_t bucket[32];
	int nbuckets;
	double sum;
	uint64_t count;
	int nsum, ncount;
};

/* Parses the lines prom_histogram wrote for name{labels,...}. */
static void parse_hist(char *text, const char *name, const char *labels, struct parsed_hist *p)
{
	char bucket_prefix[128], sum_prefix[128], count_prefix[128], *save = NULL;
	const char *sep = *labels ? "," : "";
	const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";

	memset(p, 0, sizeof(*p));
	snprintf(bucket_prefix, sizeof(bucket_prefix), "%s_bucket{%s%sle=\"", name, labels, sep);
	snprintf(sum_prefix, sizeof(sum_prefix), "%s_sum%s%s%s ", name, open, labels, close);
	snprintf(count_prefix, sizeof(count_prefix), "%s_count%s%s%s ", name, open, labels, close);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, bucket_prefix, strlen(bucket_prefix))) {
			char *le = line + strlen(bucket_prefix), *q = strstr(le, "\"} ");

			assert_non_null(q);
			assert_true(p->nbuckets < 32);
			snprintf(p->le[p->nbuckets], sizeof(p->le[0]), "%.*s", (int)(q - le), le);
			p->bucket[p->nbuckets++] = strtoull(q + 3, NULL, 10);
		} else if (!strncmp(line, sum_prefix, strlen(sum_prefix))) {
			p->sum = strtod(line + strlen(sum_prefix), NULL);
			p->nsum++;
		} else if (!strncmp(line, count_prefix, strlen(count_prefix))) {
			p->count = strtoull(line + strlen(count_prefix), NULL, 10);
			p->ncount++;
		} else {
			fail_msg("unexpected line: %s", line);
		}
	}
}

static void sample_hist(struct latency_hist *h)
{
	static const uint64_t ns[] = { 900, 16000, 16001, 250 * US, 3100 * US, 1048576 * US,
				       1048576 * US + 1, 40000000 * US };

	latency_hist_init(h);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		latency_hist_add(h, ns[i]);
}

static void render_and_parse(const char *labels, struct latency_hist *h, struct parsed_hist *p)
{
	static const struct prom_buckets range = { 4, 25 };
	OUT(b);

	prom_histogram(&b, "lat_seconds", labels, h, &range);
	assert_false(b.overflow);
	parse_hist(b.data, "lat_seconds", labels ? labels : "", p);
}

static void test_histogram_le_strings(void **state)
{
	struct latency_hist hist, *h = &hist;
	struct parsed_hist p;

	sample_hist(h);
	render_and_parse("dir=\"in\"", h, &p);
	assert_int_equal(p.nbuckets, 25 - 4 + 1 + 1);
	assert_string_equal(p.le[0], "0.000016");
	assert_string_equal(p.le[1], "0.000032");
	assert_string_equal(p.le[16], "1.048576");
	assert_string_equal(p.le[21], "33.554432");
	assert_string_equal(p.le[22], "+Inf");
}

static void test_histogram_invariants(void **state)
{
	struct latency_hist hist, *h = &hist;
	struct parsed_hist p;

	sample_hist(h);
	render_and_parse("dir=\"in\",port=\"22\"", h, &p);
	assert_int_equal(p.nsum, 1);
	assert_int_equal(p.ncount, 1);
	for (int i = 1; i < p.nbuckets; i++)
		if (p.bucket[i] < p.bucket[i - 1])
			fail_msg("le=%s: %llu < previous %llu", p.le[i],
				 (unsigned long long)p.bucket[i], (unsigned long long)p.bucket[i - 1]);
	assert_int_equal(p.bucket[p.nbuckets - 1], p.count);
	assert_int_equal(p.count, h->count);
	assert_true(p.sum == (double)h->sum_ns / 1e9); /* seconds, exact round trip */
}

/* The le values are exact "<=" counts: 16000 ns is in le 16 us, 16001 is not. */
static void test_histogram_bucket_values(void **state)
{
	struct latency_hist hist, *h = &hist;
	struct parsed_hist p;

	sample_hist(h);
	render_and_parse(NULL, h, &p);
	assert_int_equal(p.bucket[0], 2);  /* le 16 us: 900 ns, 16000 ns */
	assert_int_equal(p.bucket[1], 3);  /* le 32 us: + 16001 ns */
	assert_int_equal(p.bucket[16], 6); /* le 1.048576 s: up to exactly 2^20 us */
	assert_int_equal(p.bucket[17], 7); /* le 2.097152 s: + 1 ns above 2^20 us */
	assert_int_equal(p.bucket[21], 7); /* le 33.55 s: 40 s is only in +Inf */
	assert_int_equal(p.bucket[22], 8);
}

static void test_histogram_empty(void **state)
{
	static const struct prom_buckets range = { 4, 5 };
	struct latency_hist h;
	OUT(b);

	latency_hist_init(&h);
	prom_histogram(&b, "e", "", &h, &range);
	assert_string_equal(b.data, "e_bucket{le=\"0.000016\"} 0\n"
				    "e_bucket{le=\"0.000032\"} 0\n"
				    "e_bucket{le=\"+Inf\"} 0\n"
				    "e_sum 0\n"
				    "e_count 0\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_label_separators),
		cmocka_unit_test(test_family_and_u64),
		cmocka_unit_test(test_f64_exact_text),
		cmocka_unit_test(test_f64_round_trip),
		cmocka_unit_test(test_histogram_le_strings),
		cmocka_unit_test(test_histogram_invariants),
		cmocka_unit_test(test_histogram_bucket_values),
		cmocka_unit_test(test_histogram_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
