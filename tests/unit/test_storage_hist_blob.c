/*
 * Histogram blob codec (storage/hist_blob.c): round trips, the exact byte
 * layout of DESIGN.md, strict rejection of malformed blobs (the decoder reads
 * files a user may have edited), and the SQL functions over blobs.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "hist_blob.h"
#include "histogram.h"

static void fill(struct latency_hist *h, uint64_t seed, int n)
{
	latency_hist_init(h);
	for (int i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		latency_hist_add(h, seed % 50000000ULL); /* up to 50 ms */
	}
}

static void test_round_trip(void **state)
{
	struct latency_hist h, d;
	uint8_t buf[HIST_BLOB_MAX];
	size_t n;

	fill(&h, 88172645463325252ULL, 5000);
	n = hist_blob_encode(&h, buf);
	assert_true(n > 1 && n < 600);
	assert_int_equal(hist_blob_decode(buf, n, &d), 0);
	assert_memory_equal(d.buckets, h.buckets, sizeof(h.buckets));
	assert_int_equal(d.count, h.count);

	/* every bucket, at the largest count: the worst case fits HIST_BLOB_MAX */
	for (unsigned int b = 0; b < HIST_BUCKETS; b++)
		h.buckets[b] = (uint64_t)INT64_MAX / HIST_BUCKETS;
	n = hist_blob_encode(&h, buf);
	assert_true(n <= HIST_BLOB_MAX);
	assert_int_equal(hist_blob_decode(buf, n, &d), 0);
	assert_memory_equal(d.buckets, h.buckets, sizeof(h.buckets));

	latency_hist_init(&h);
	n = hist_blob_encode(&h, buf);
	assert_int_equal(n, 1);
	assert_int_equal(hist_blob_decode(buf, n, &d), 0);
	assert_int_equal(d.count, 0);
}

static void test_layout(void **state)
{
	struct latency_hist h;
	uint8_t buf[HIST_BLOB_MAX];
	/* version, index 3 count 2, gap 200 (2-byte varint) count 300 (2-byte varint) */
	const uint8_t want[] = { 1, 3, 2, 0xc8, 0x01, 0xac, 0x02 };

	latency_hist_init(&h);
	h.buckets[3] = 2;
	h.buckets[203] = 300;
	assert_int_equal(hist_blob_encode(&h, buf), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_malformed(void **state)
{
	static const struct {
		const char *why;
		uint8_t b[12];
		size_t n;
	} bad[] = {
		{ "empty", { 0 }, 0 },
		{ "version 2", { 2 }, 1 },
		{ "truncated pair", { 1, 3 }, 2 },
		{ "truncated varint", { 1, 0x83 }, 2 },
		{ "zero count", { 1, 3, 0 }, 3 },
		{ "index past end", { 1, 0xa0, 0x04, 1 }, 4 }, /* 544 = HIST_BUCKETS */
		{ "zero gap", { 1, 3, 1, 0, 1 }, 5 },
		{ "gap past end", { 1, 3, 1, 0x9d, 0x04, 1 }, 6 }, /* 3 + 541 = 544 */
		{ "overlong varint", { 1, 0x83, 0x00, 1 }, 4 },
		{ "11-byte varint", { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 12 },
		{ "count overflow", { 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 12 },
	};
	struct latency_hist h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		/* exact-size heap copy: ASan flags any read past the end */
		uint8_t *p = malloc(bad[i].n ? bad[i].n : 1);

		memcpy(p, bad[i].b, bad[i].n);
		if (hist_blob_decode(p, bad[i].n, &h) != -EINVAL)
			fail_msg("accepted malformed blob: %s", bad[i].why);
		free(p);
	}
	assert_int_equal(hist_blob_decode(NULL, 0, &h), -EINVAL);
}

/* Every truncation and single-byte mutation of a valid blob: no crash, no OOB. */
static void test_mutations(void **state)
{
	struct latency_hist h, d;
	uint8_t buf[HIST_BLOB_MAX];
	size_t n;

	fill(&h, 12345, 300);
	n = hist_blob_encode(&h, buf);
	for (size_t len = 0; len <= n; len++) {
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, buf, len);
		(void)hist_blob_decode(p, len, &d);
		for (size_t i = 0; i < len; i++)
			for (int v = 0; v < 256; v += 17) {
				uint8_t keep = p[i];

				p[i] = (uint8_t)v;
				(void)hist_blob_decode(p, len, &d);
				p[i] = keep;
			}
		free(p);
	}
}

static sqlite3 *mem_db(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(hist_blob_register(db), SQLITE_OK);
	return db;
}

static void test_sql_functions(void **state)
{
	struct latency_hist a, b, m;
	uint8_t ba[HIST_BLOB_MAX], bb[HIST_BLOB_MAX];
	sqlite3 *db = mem_db();
	sqlite3_stmt *st;

	fill(&a, 1, 1000);
	fill(&b, 2, 3000);
	latency_hist_init(&m);
	latency_hist_merge(&m, &a);
	latency_hist_merge(&m, &b);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE h (x BLOB)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO h VALUES (?1)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, ba, (int)hist_blob_encode(&a, ba), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
	sqlite3_bind_blob(st, 1, bb, (int)hist_blob_encode(&b, bb), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
	sqlite3_bind_null(st, 1); /* NULLs are skipped by hist_merge */
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT hist_count(hist_merge(x)), hist_quantile(hist_merge(x), 0.99), hist_merge(x) FROM h",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 4000);
	{
		struct latency_hist d;

		assert_int_equal(hist_blob_decode(sqlite3_column_blob(st, 2),
						  (size_t)sqlite3_column_bytes(st, 2), &d), 0);
		assert_memory_equal(d.buckets, m.buckets, sizeof(m.buckets));
		/* same interpolation as the C code, on the bucket-bounded histogram */
		assert_true(fabs(sqlite3_column_double(st, 1) - latency_hist_quantile(&d, 0.99) / 1e9) < 1e-12);
		assert_true(fabs(sqlite3_column_double(st, 1) - latency_hist_quantile(&m, 0.99) / 1e9) <
			    0.13 * latency_hist_quantile(&m, 0.99) / 1e9);
	}
	sqlite3_finalize(st);

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT hist_merge(x) IS NULL, hist_count(NULL) IS NULL FROM h WHERE x IS NULL",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	sqlite3_finalize(st);

	/* malformed input and a bad q are SQL errors, not garbage */
	assert_int_not_equal(sqlite3_exec(db, "SELECT hist_count(x'0203')", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT hist_merge(x'01ff')", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT hist_quantile(x'010301', 1.5)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_layout),
		cmocka_unit_test(test_malformed),   cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_sql_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
