/*
 * Unit tests of the log-linear latency histogram (bpf/hist.h bucket mapping,
 * firmware/histogram.c operations). The BPF side and the daemon share the
 * layout, so a mapping error here corrupts every exported latency.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "histogram.h"

#define US 1000ULL        /* ns per us */
#define MS (1000ULL * US) /* ns per ms */
#define HIST_TOP_US (1ULL << (HIST_MAX_MSB + 1)) /* 2^37 us: end of resolved range */

/*
 * Histograms live on the stack (2.3 KB each), never the heap: a failing
 * assertion longjmps out of the test, and heap blocks would then show up as
 * LeakSanitizer noise in the -DXDPROBE_SANITIZE=ON build.
 */
#define HIST(name)                                                  \
	struct latency_hist name##_storage, *name = &name##_storage; \
	latency_hist_init(name)

static void assert_close(double got, double want, double rel_tol, const char *what)
{
	if (fabs(got - want) > rel_tol * fabs(want))
		fail_msg("%s: got %.1f, want %.1f +- %.1f%%", what, got, want, rel_tol * 100);
}

/* ---- bucket mapping (bpf/hist.h) ---- */

static void test_exact_below_sub(void **state)
{
	for (uint64_t v = 0; v < HIST_SUB; v++) {
		assert_int_equal(hist_bucket(v), v);
		assert_int_equal(hist_bucket_lower((unsigned int)v), v);
	}
	assert_int_equal(hist_bucket(HIST_SUB), HIST_SUB);
}

static void test_bounds_monotonic_and_narrow(void **state)
{
	for (unsigned int b = 1; b < HIST_BUCKETS; b++) {
		uint64_t lo = hist_bucket_lower(b - 1), hi = hist_bucket_lower(b);

		if (hi <= lo)
			fail_msg("lower(%u)=%llu <= lower(%u)=%llu", b, (unsigned long long)hi, b - 1,
				 (unsigned long long)lo);
		/* the documented precision: a bucket is at most 1/HIST_SUB of its bound */
		if (b - 1 >= HIST_SUB)
			assert_true((hi - lo) * HIST_SUB <= lo);
	}
}

/* lower(bucket(v)) <= v < lower(bucket(v) + 1), i.e. v lands in its own bucket. */
static void check_bucket_contains(uint64_t v)
{
	unsigned int b = hist_bucket(v);
	uint64_t upper = b + 1 < HIST_BUCKETS ? hist_bucket_lower(b + 1) : HIST_TOP_US;

	assert_in_range(b, 0, HIST_BUCKETS - 1);
	if (hist_bucket_lower(b) > v || v >= upper)
		fail_msg("v=%llu in bucket %u = [%llu, %llu)", (unsigned long long)v, b,
			 (unsigned long long)hist_bucket_lower(b), (unsigned long long)upper);
}

static void test_bucket_contains_value(void **state)
{
	uint64_t x = 88172645463325252ULL; /* xorshift64 seed: fixed, reproducible */

	for (uint64_t v = 0; v < 70000; v++)
		check_bucket_contains(v);
	for (unsigned int k = 1; k <= HIST_MAX_MSB + 1; k++) {
		check_bucket_contains((1ULL << k) - 1);
		if (k <= HIST_MAX_MSB) {
			check_bucket_contains(1ULL << k);
			check_bucket_contains((1ULL << k) + 1);
		}
	}
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		check_bucket_contains(x % HIST_TOP_US);
	}
}

static void test_huge_values_clamp(void **state)
{
	static const uint64_t huge[] = { HIST_TOP_US - 1, HIST_TOP_US, HIST_TOP_US + 1,
					 1ULL << 40, 1ULL << 63, UINT64_MAX };

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
		assert_int_equal(hist_bucket(huge[i]), HIST_BUCKETS - 1);
	/* nanosecond mapping must not overflow either */
	assert_int_equal(hist_bucket_ns(UINT64_MAX), HIST_BUCKETS - 1);
}

/* ---- nanosecond boundaries: bucket b holds (lower(b), lower(b+1)] us ---- */

static const struct {
	uint64_t ns;
	uint64_t bound_us;
	uint64_t want_le; /* latency_hist_count_le(h, bound_us) after adding ns */
} le_cases[] = {
	{ 16000, 16, 1 },   /* exactly on the bound: counted, as Prometheus' le needs */
	{ 16001, 16, 0 },   /* 1 ns above: not counted ... */
	{ 16001, 32, 1 },   /* ... until the next exported bound */
	{ 15999, 16, 1 },   { 15999, 15, 0 }, { 8000, 8, 1 },      { 8001, 8, 0 },
	{ 1000, 1, 1 },     { 1001, 1, 0 },   { 1001, 2, 1 },      { 1, 1, 1 },
	{ 1048576000, 1048576, 1 },          { 1048576001, 1048576, 0 },
	{ 1048576001, 2097152, 1 },
};

static void test_bucket_ns_le_boundaries(void **state)
{
	HIST(h);

	for (size_t i = 0; i < sizeof(le_cases) / sizeof(le_cases[0]); i++) {
		latency_hist_init(h);
		latency_hist_add(h, le_cases[i].ns);
		if (latency_hist_count_le(h, le_cases[i].bound_us) != le_cases[i].want_le)
			fail_msg("%llu ns: count_le(%llu us) = %llu, want %llu",
				 (unsigned long long)le_cases[i].ns,
				 (unsigned long long)le_cases[i].bound_us,
				 (unsigned long long)latency_hist_count_le(h, le_cases[i].bound_us),
				 (unsigned long long)le_cases[i].want_le);
	}
}

/* ---- operations (firmware/histogram.c) ---- */

static void test_init_and_min_max(void **state)
{
	static const uint64_t samples[] = { 5 * MS, 3 * US, 900 * MS, 3 * US, 42 };
	HIST(h);
	uint64_t sum = 0;

	assert_int_equal(h->count, 0);
	assert_int_equal(h->min_ns, UINT64_MAX); /* "~0 while empty" */
	assert_int_equal(h->max_ns, 0);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		latency_hist_add(h, samples[i]);
		sum += samples[i];
	}
	assert_int_equal(h->count, 5);
	assert_int_equal(h->sum_ns, sum);
	assert_int_equal(h->min_ns, 42);
	assert_int_equal(h->max_ns, 900 * MS);
}

static void add_range(struct latency_hist *h, uint64_t from_ns, uint64_t step_ns, int n)
{
	for (int i = 0; i < n; i++)
		latency_hist_add(h, from_ns + (uint64_t)i * step_ns);
}

/* Merging two windows must equal having recorded every sample in one. */
static void test_merge_is_adding(void **state)
{
	HIST(a);
	HIST(b);
	HIST(all);

	add_range(a, 700, 3 * US + 17, 500);
	add_range(b, 2 * MS, 91 * US, 300);
	add_range(all, 700, 3 * US + 17, 500);
	add_range(all, 2 * MS, 91 * US, 300);
	latency_hist_merge(a, b);
	assert_memory_equal(a, all, sizeof(*a));
}

static void test_merge_empty(void **state)
{
	HIST(dst);
	HIST(empty);
	HIST(copy);

	add_range(dst, 5 * US, US, 10);
	memcpy(copy, dst, sizeof(*copy));
	latency_hist_merge(dst, empty); /* empty src: no change, min stays */
	assert_memory_equal(dst, copy, sizeof(*dst));
	latency_hist_merge(empty, copy); /* empty dst: becomes src */
	assert_memory_equal(empty, copy, sizeof(*empty));
}

/* One sample on every power of two of us and one just above it. */
static void test_count_le_powers_of_two(void **state)
{
	HIST(h);

	for (unsigned int k = 0; k <= 30; k++) {
		latency_hist_add(h, (1ULL << k) * US);
		latency_hist_add(h, (1ULL << k) * US + 1);
	}
	for (unsigned int j = 0; j <= 30; j++) {
		/* samples <= 2^j us: the j+1 exact ones and the j "just above" of lower k */
		uint64_t want = 2 * (j + 1) - 1;

		if (latency_hist_count_le(h, 1ULL << j) != want)
			fail_msg("count_le(2^%u us) = %llu, want %llu", j,
				 (unsigned long long)latency_hist_count_le(h, 1ULL << j),
				 (unsigned long long)want);
	}
	assert_int_equal(latency_hist_count_le(h, UINT64_MAX), h->count);
}

/* The last bucket ends at 2^37 us: a sample just below is counted there. */
static void test_count_le_top_of_range(void **state)
{
	HIST(h);

	latency_hist_add(h, (HIST_TOP_US - 1) * US);
	assert_int_equal(latency_hist_count_le(h, HIST_TOP_US / 2), 0);
	assert_int_equal(latency_hist_count_le(h, HIST_TOP_US), 1);
}

/* ---- quantiles ---- */

/* Exact q-quantile (same rank convention as the histogram) of 1..20 ms evenly. */
static double uniform_quantile(double q, int n)
{
	return 1e6 + 19e6 * (ceil(q * n) - 1) / (n - 1);
}

static void test_quantile_uniform(void **state)
{
	static const double qs[] = { 0.5, 0.9, 0.99 };
	HIST(h);
	const int n = 10000;
	char what[32];

	for (int i = 0; i < n; i++)
		latency_hist_add(h, 1 * MS + (uint64_t)i * 19 * MS / (uint64_t)(n - 1));
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		snprintf(what, sizeof(what), "p%g", qs[i] * 100);
		assert_close(latency_hist_quantile(h, qs[i]), uniform_quantile(qs[i], n), 0.03,
			     what);
	}
	/* ends of the distribution are clamped to the observed extremes */
	assert_true(latency_hist_quantile(h, 0) == 1e6);
	assert_true(latency_hist_quantile(h, 1) == 20e6);
	assert_true(latency_hist_quantile(h, -1) == 1e6);
	assert_true(latency_hist_quantile(h, 7) == 20e6);
}

static void test_quantile_single_value(void **state)
{
	static const uint64_t values[] = { 0, 1, 999, 1000, 16000, 16001, 12345678, 5000000000ULL };
	static const double qs[] = { 0, 0.01, 0.5, 0.9, 0.99, 1 };
	HIST(h);

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		latency_hist_init(h);
		for (int k = 0; k < 3; k++)
			latency_hist_add(h, values[i]);
		for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++)
			if (latency_hist_quantile(h, qs[j]) != (double)values[i])
				fail_msg("value %llu: q%g = %f", (unsigned long long)values[i],
					 qs[j], latency_hist_quantile(h, qs[j]));
	}
}

static void test_quantile_empty(void **state)
{
	HIST(h);

	assert_true(latency_hist_quantile(h, 0) == 0);
	assert_true(latency_hist_quantile(h, 0.5) == 0);
	assert_true(latency_hist_quantile(h, 1) == 0);
}

/*
 * Two clusters: each quantile must come from its own cluster, never from the
 * empty gap between them. Tolerance is one bucket width (1/HIST_SUB), since a
 * 6 us wide cluster is not uniform across its 8 us bucket.
 */
static void test_quantile_bimodal(void **state)
{
	HIST(h);

	add_range(h, 100 * US, 10, 600); /* 100.00 .. 105.99 us */
	add_range(h, 50 * MS, 100, 400); /* 50.0000 .. 50.0399 ms */
	assert_close(latency_hist_quantile(h, 0.5), 100 * US + 499 * 10, 1.0 / HIST_SUB, "p50");
	assert_close(latency_hist_quantile(h, 0.9), 50 * MS + 299 * 100, 1.0 / HIST_SUB, "p90");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_below_sub),
		cmocka_unit_test(test_bounds_monotonic_and_narrow),
		cmocka_unit_test(test_bucket_contains_value),
		cmocka_unit_test(test_huge_values_clamp),
		cmocka_unit_test(test_bucket_ns_le_boundaries),
		cmocka_unit_test(test_init_and_min_max),
		cmocka_unit_test(test_merge_is_adding),
		cmocka_unit_test(test_merge_empty),
		cmocka_unit_test(test_count_le_powers_of_two),
		cmocka_unit_test(test_count_le_top_of_range),
		cmocka_unit_test(test_quantile_uniform),
		cmocka_unit_test(test_quantile_single_value),
		cmocka_unit_test(test_quantile_empty),
		cmocka_unit_test(test_quantile_bimodal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
