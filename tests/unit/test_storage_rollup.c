/*
 * Rollups, retention and the size cap (storage/rollup.c), against sums
 * computed here from the same synthetic 1 s windows.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "histogram.h"
#include "storage_test.h"

#define HOURS 2
#define SECONDS (HOURS * 3600)

struct fixture {
	struct tmpdir t;
	struct storage *s;
	int64_t dist, ctr;
	struct latency_hist hour[HOURS]; /* expected merged histograms */
};

/* Window i of the distribution: count 1 + i % 5 samples of (i % 977 + 1) * 10 us. */
static void window_hist(int i, struct latency_hist *h)
{
	latency_hist_init(h);
	for (int k = 0; k <= i % 5; k++)
		latency_hist_add(h, (uint64_t)(i % 977 + 1 + k) * 10000);
}

static void open_fixture(struct fixture *f, const struct storage_opts *extra)
{
	struct storage_opts o;
	char err[STORAGE_ERR_MAX];

	test_opts(&o, f->t.path);
	if (extra) {
		memcpy(o.retention_ms, extra->retention_ms, sizeof(o.retention_ms));
		o.size_cap_bytes = extra->size_cap_bytes;
		o.queue_capacity = extra->queue_capacity;
	}
	if (storage_open(&f->s, &o, err))
		fail_msg("%s", err);
	assert_int_equal(storage_series(f->s, "lat", 0, NULL, 0, &f->dist), 0);
	assert_int_equal(storage_series(f->s, "ctr", 1, NULL, 0, &f->ctr), 0);
}

static void write_two_hours(struct fixture *f)
{
	struct latency_hist h;

	for (int hr = 0; hr < HOURS; hr++)
		latency_hist_init(&f->hour[hr]);
	for (int i = 0; i < SECONDS; i++) {
		struct storage_window w = { .series_id = f->dist, .t_ms = T0 + i * 1000LL,
					    .lost = i % 3, .dup = -1, .reorder = -1 };
		struct storage_window c = { .series_id = f->ctr, .t_ms = T0 + i * 1000LL, .count = 1,
					    .sum = i % 7, .sumsq = NAN, .min = NAN, .max = NAN,
					    .lost = -1, .dup = -1, .reorder = -1 };

		window_hist(i, &h);
		w.count = (int64_t)h.count;
		w.sum = (double)h.sum_ns / 1e9;
		w.sumsq = w.sum * w.sum;
		w.min = (double)h.min_ns / 1e9;
		w.max = (double)h.max_ns / 1e9;
		w.hist = &h;
		latency_hist_merge(&f->hour[i / 3600], &h);
		assert_int_equal(storage_put(f->s, &w), 0);
		assert_int_equal(storage_put(f->s, &c), 0);
		if (i % 1000 == 999)
			assert_int_equal(storage_flush(f->s), 0);
	}
	assert_int_equal(storage_flush(f->s), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	tmpdir_make(&f->t);
	test_clock_ms = T0; /* nothing is complete yet */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	storage_close(f->s);
	tmpdir_remove(&f->t);
	free(f);
	return 0;
}

/* Expected 1 min row of the distribution for minute m, from the generator. */
static void expect_minute(int m, int64_t *count, double *sum, double *min, double *max, int64_t *lost)
{
	struct latency_hist h;

	*count = 0;
	*sum = 0;
	*min = INFINITY;
	*max = 0;
	*lost = 0;
	for (int i = m * 60; i < m * 60 + 60; i++) {
		window_hist(i, &h);
		*count += (int64_t)h.count;
		*sum += (double)h.sum_ns / 1e9;
		*min = fmin(*min, (double)h.min_ns / 1e9);
		*max = fmax(*max, (double)h.max_ns / 1e9);
		*lost += i % 3;
	}
}

static void check_minutes(struct fixture *f)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int rows = 0;

	assert_int_equal(sqlite3_open_v2(f->t.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT t, count, sum, min, max, lost FROM window_1m WHERE series_id = ?1 ORDER BY t",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, f->dist);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t count, lost;
		double sum, min, max;
		int m = (int)((sqlite3_column_int64(st, 0) - T0) / 60000);

		assert_int_equal(m, rows);
		expect_minute(m, &count, &sum, &min, &max, &lost);
		assert_int_equal(sqlite3_column_int64(st, 1), count);
		assert_true(fabs(sqlite3_column_double(st, 2) - sum) < 1e-9);
		assert_true(sqlite3_column_double(st, 3) == min);
		assert_true(sqlite3_column_double(st, 4) == max);
		assert_int_equal(sqlite3_column_int64(st, 5), lost);
		rows++;
	}
	assert_int_equal(rows, HOURS * 60);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void check_hours(struct fixture *f)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int hr = 0;

	assert_int_equal(sqlite3_open_v2(f->t.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(hist_blob_register(db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT hist, count, hist_count(hist), hist_quantile(hist, 0.5) FROM window_1h WHERE series_id = ?1 ORDER BY t",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, f->dist);
	for (; sqlite3_step(st) == SQLITE_ROW; hr++) {
		struct latency_hist d;

		assert_int_equal(hist_blob_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &d), 0);
		assert_memory_equal(d.buckets, f->hour[hr].buckets, sizeof(d.buckets));
		assert_int_equal(sqlite3_column_int64(st, 1), f->hour[hr].count);
		assert_int_equal(sqlite3_column_int64(st, 2), f->hour[hr].count);
		assert_true(fabs(sqlite3_column_double(st, 3) - latency_hist_quantile(&d, 0.5) / 1e9) < 1e-12);
		/* within the bucket precision of the exact quantile */
		assert_true(fabs(sqlite3_column_double(st, 3) * 1e9 - latency_hist_quantile(&f->hour[hr], 0.5)) <
			    0.13 * latency_hist_quantile(&f->hour[hr], 0.5));
	}
	assert_int_equal(hr, HOURS);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_rollup_exact(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	open_fixture(f, NULL);
	write_two_hours(f);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1m"), 0); /* clock at T0 */
	test_clock_ms = T0 + HOURS * 3600000LL + 5000; /* just past the rollup delay */
	assert_int_equal(storage_flush(f->s), 0);
	check_minutes(f);
	check_hours(f);
	/* counters: count = windows merged, sum = increase; distribution-only columns NULL */
	assert_int_equal(sql_int(f->t.path, "SELECT sum(count) FROM window_1h WHERE series_id = 2"), SECONDS);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1m WHERE series_id = 2 AND count = 60 AND hist IS NULL AND min IS NULL AND lost IS NULL"), 120);
	sql_text(f->t.path, "SELECT value FROM meta WHERE key = 'rollup_1h_done'", buf, sizeof(buf));
	assert_int_equal(strtoll(buf, NULL, 10), T0 + HOURS * 3600000LL);
}

/* Running a rollup twice (a crash before the watermark) changes nothing. */
static void test_rollup_idempotent_and_late_rows(void **state)
{
	struct fixture *f = *state;
	const char *digest = "SELECT count(*) || ':' || total(count) || ':' || total(sum) || ':' || total(length(hist)) FROM ";
	char m1[128], h1[128], m2[128], h2[128], sql[256];
	struct storage_window late = { .series_id = 2, .t_ms = T0 + 30000, .count = 1, .sum = 1000,
				       .sumsq = NAN, .min = NAN, .max = NAN, .lost = -1, .dup = -1,
				       .reorder = -1 };

	open_fixture(f, NULL);
	write_two_hours(f);
	test_clock_ms = T0 + HOURS * 3600000LL + 5000;
	assert_int_equal(storage_flush(f->s), 0);
	snprintf(sql, sizeof(sql), "%swindow_1m", digest);
	sql_text(f->t.path, sql, m1, sizeof(m1));
	snprintf(sql, sizeof(sql), "%swindow_1h", digest);
	sql_text(f->t.path, sql, h1, sizeof(h1));
	sql_exec_rw(f->t.path, "UPDATE meta SET value = '" "1699999200000" "'");
	assert_int_equal(T0, 1699999200000LL);
	assert_int_equal(storage_flush(f->s), 0);
	snprintf(sql, sizeof(sql), "%swindow_1m", digest);
	sql_text(f->t.path, sql, m2, sizeof(m2));
	snprintf(sql, sizeof(sql), "%swindow_1h", digest);
	sql_text(f->t.path, sql, h2, sizeof(h2));
	assert_string_equal(m1, m2);
	assert_string_equal(h1, h2);
	check_minutes(f);
	check_hours(f);

	/* a late window (after a disk-full backlog) is rolled up again */
	assert_int_equal(storage_put(f->s, &late), 0);
	assert_int_equal(storage_flush(f->s), 0);
	/* minute 0 of the counter: sum of i % 7 for i < 60 (174), with i = 30 (30 % 7 = 2) replaced by 1000 */
	assert_int_equal(sql_int(f->t.path, "SELECT sum FROM window_1m WHERE series_id = 2 AND t = 1699999200000"), 174 - 2 + 1000);
	assert_int_equal(sql_int(f->t.path, "SELECT sum FROM window_1h WHERE series_id = 2 AND t = 1699999200000"),
			 sql_int(f->t.path, "SELECT sum(sum) FROM window_1s WHERE series_id = 2 AND t < 1699999200000 + 3600000"));
}

static void test_retention(void **state)
{
	struct fixture *f = *state;
	struct storage_opts o = { .retention_ms = { 30 * 60000, 90 * 60000, -1 } };
	struct storage_stats st;
	int64_t now = T0 + HOURS * 3600000LL + 10000;

	open_fixture(f, &o);
	write_two_hours(f);
	test_clock_ms = now;
	assert_int_equal(storage_flush(f->s), 0); /* rolls up */
	assert_int_equal(storage_maintain(f->s), 0);
	storage_stats(f->s, &st);
	/* 1 s: keep t >= now - 30 min; 1 min: keep t >= now - 90 min; 1 h: forever */
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1s WHERE series_id = 1"),
			 (T0 + SECONDS * 1000LL - (now - 30 * 60000) + 999) / 1000);
	assert_int_equal(sql_int(f->t.path, "SELECT min(t) FROM window_1s") - T0, 5410000);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1m WHERE series_id = 1"), 120 - 31);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1h"), 2 * HOURS);
	assert_int_equal(st.retention_deleted, 2 * (5410 + 31));
	check_hours(f);
}

/* window_1s is deleted by t range in batches of about 5000 rows; a batch
 * takes whole windows, even when one window holds more rows than a batch. */
static void test_retention_by_time_batches(void **state)
{
	struct fixture *f = *state;
	struct storage_opts o = { .retention_ms = { 60000, -1, -1 } };
	struct storage_stats st;
	char sql[640];

	open_fixture(f, &o);
	/* 6000 series x 3 windows (T0, T0+1s, T0+2s), rolled up "already" */
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 6000) "
		 "INSERT INTO window_1s (series_id, t, count, sum) SELECT n, %lld + k * 1000, 1, n "
		 "FROM i, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2);"
		 "INSERT OR REPLACE INTO meta VALUES ('rollup_1m_done', '%lld');",
		 (long long)T0, (long long)(T0 + 3600000));
	sql_exec_rw(f->t.path, sql);
	test_clock_ms = T0 + 2000 + 60000; /* keep t >= T0 + 2 s */
	assert_int_equal(storage_maintain(f->s), 0);
	storage_stats(f->s, &st);
	assert_int_equal(st.retention_deleted, 12000);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1s"), 6000);
	assert_int_equal(sql_int(f->t.path, "SELECT min(t) FROM window_1s") - T0, 2000);
	assert_int_equal(sql_int(f->t.path, "SELECT sum(sum) FROM window_1s"), 6000 * 6001 / 2);
}

/* Retention never deletes 1 s rows that are not rolled up yet. */
static void test_retention_waits_for_rollup(void **state)
{
	struct fixture *f = *state;
	struct storage_opts o = { .retention_ms = { 1000, 1000, 1000 } };

	open_fixture(f, &o);
	write_two_hours(f); /* clock at T0: nothing rolled up */
	test_clock_ms = T0 + 10 * 3600000LL;
	assert_int_equal(storage_maintain(f->s), 0);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1s"), 2 * SECONDS);
}

static void test_size_cap(void **state)
{
	struct fixture *f = *state;
	struct storage_opts o = { .size_cap_bytes = 400 * 1024, .queue_capacity = 100000 };
	struct storage_stats st;
	int64_t min_before;

	open_fixture(f, &o);
	write_two_hours(f);
	test_clock_ms = T0 + HOURS * 3600000LL + 5000;
	assert_int_equal(storage_flush(f->s), 0);
	storage_stats(f->s, &st);
	assert_true(st.db_bytes > o.size_cap_bytes);
	min_before = sql_int(f->t.path, "SELECT min(t) FROM window_1s");
	assert_int_equal(storage_maintain(f->s), 0);
	storage_stats(f->s, &st);
	if (st.db_bytes > o.size_cap_bytes)
		fail_msg("%llu bytes after the size cap of %llu", (unsigned long long)st.db_bytes,
			 (unsigned long long)o.size_cap_bytes);
	/* oldest 1 s windows went first; the newest and all rollups are still there */
	assert_true(sql_int(f->t.path, "SELECT min(t) FROM window_1s") > min_before);
	assert_int_equal(sql_int(f->t.path, "SELECT max(t) FROM window_1s") - T0, (SECONDS - 1) * 1000LL);
	assert_int_equal(sql_int(f->t.path, "SELECT count(*) FROM window_1h"), 2 * HOURS);
	check_hours(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rollup_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollup_idempotent_and_late_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_time_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_waits_for_rollup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
