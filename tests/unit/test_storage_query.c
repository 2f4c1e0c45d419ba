/*
 * Unit tests of the C query API (storage/query.c) on a real database file
 * with the real schema: label matchers, the resolution choice across
 * retention edges, re-bucketing against a hand-computed truth, aggregation.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "hist_blob.h"
#include "histogram.h"
#include "query.h"
#include "storage_int.h"

#define S 1000LL
#define M (60 * S)
#define H (60 * M)
/* An hour boundary in Nov 2023: the "origin" of every fixture. */
#define T0 (1700000000000LL / H * H)

struct fixture {
	char dir[64];
	sqlite3 *db;
	sqlite3_stmt *ins[QUERY_RES_COUNT];
};

static void must_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* A distribution window of n samples of us microseconds each (and, with
 * truth, the same samples added to it); lost = -1 stores NULL. */
static void put_dist(struct fixture *f, int res, int64_t id, int64_t t, int n, uint64_t us,
		     int64_t lost, struct latency_hist *truth)
{
	struct latency_hist h;
	uint8_t blob[HIST_BLOB_MAX];
	sqlite3_stmt *st = f->ins[res];
	double v = (double)us / 1e6;

	latency_hist_init(&h);
	for (int i = 0; i < n; i++) {
		latency_hist_add(&h, us * 1000);
		if (truth)
			latency_hist_add(truth, us * 1000);
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, t);
	sqlite3_bind_int64(st, 3, n);
	sqlite3_bind_double(st, 4, n * v);
	sqlite3_bind_double(st, 5, n * v * v);
	sqlite3_bind_double(st, 6, v);
	sqlite3_bind_double(st, 7, v);
	sqlite3_bind_blob(st, 8, blob, (int)hist_blob_encode(&h, blob), SQLITE_TRANSIENT);
	if (lost < 0)
		sqlite3_bind_null(st, 9);
	else
		sqlite3_bind_int64(st, 9, lost);
	if (sqlite3_step(st) != SQLITE_DONE)
		fail_msg("insert: %s", sqlite3_errmsg(f->db));
}

static int setup(void **state)
{
	static const char *const ins[QUERY_RES_COUNT] = {
		"INSERT INTO window_1s VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)",
		"INSERT INTO window_1m VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)",
		"INSERT INTO window_1h VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)",
	};
	struct fixture *f = calloc(1, sizeof(*f));
	char err[STORAGE_ERR_MAX], path[96];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/xdprobe-query-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/history.db", f->dir);
	/* the daemon's own schema code: DESIGN.md schema, hist_* registered */
	if (schema_open(path, NULL, &f->db, err))
		fail_msg("schema_open: %s", err);
	must_exec(f->db,
		  "INSERT INTO series VALUES (1, 'rtt', 0, 'peer=10.0.0.1,port=502', 0),"
		  " (2, 'rtt', 0, 'peer=10.0.0.2,port=502', 0), (3, 'rtt', 0, 'peer=10.1.0.1', 0),"
		  " (4, 'retrans', 1, 'peer=10.0.0.1', 0);"
		  "INSERT INTO series_label VALUES (1, 'peer', '10.0.0.1'), (1, 'port', '502'),"
		  " (2, 'peer', '10.0.0.2'), (2, 'port', '502'), (3, 'peer', '10.1.0.1'),"
		  " (4, 'peer', '10.0.0.1');");
	for (int r = 0; r < QUERY_RES_COUNT; r++)
		assert_int_equal(sqlite3_prepare_v2(f->db, ins[r], -1, &f->ins[r], NULL), SQLITE_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	for (int r = 0; r < QUERY_RES_COUNT; r++)
		sqlite3_finalize(f->ins[r]);
	assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* ---- query_series ---- */

struct ids {
	int n;
	int64_t id[8];
};

static int collect_ids(void *ctx, const struct query_series_row *row)
{
	struct ids *x = ctx;

	if (x->n < 8)
		x->id[x->n++] = row->id;
	return 0;
}

/* Runs query_series with matchers given as "k=v" texts; returns ids as "1,2". */
static const char *series_ids(struct fixture *f, const char *metric, int n, ...)
{
	static char out[64];
	struct query_match m[4];
	char text[4][64];
	struct ids x = { 0 };
	va_list ap;
	size_t len = 0;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "%s", va_arg(ap, const char *));
		assert_int_equal(query_match_parse(text[i], &m[i]), 0);
	}
	va_end(ap);
	assert_int_equal(query_series(f->db, metric, m, (size_t)n, collect_ids, &x), 0);
	out[0] = '\0';
	for (int i = 0; i < x.n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lld", i ? "," : "",
					(long long)x.id[i]);
	return out;
}

static void test_series_filters(void **state)
{
	struct fixture *f = *state;
	struct query_match m;
	char bad[] = "=x", bad2[] = "k!x";

	assert_string_equal(series_ids(f, NULL, 0), "1,2,3,4");
	assert_string_equal(series_ids(f, "rtt", 0), "1,2,3");
	assert_string_equal(series_ids(f, NULL, 1, "peer=10.0.0.1"), "1,4");
	assert_string_equal(series_ids(f, NULL, 1, "peer^=10.0."), "1,2,4");
	assert_string_equal(series_ids(f, NULL, 1, "peer^="), "1,2,3,4");
	/* != matches series without the label too, like Prometheus */
	assert_string_equal(series_ids(f, NULL, 1, "port!=502"), "3,4");
	assert_string_equal(series_ids(f, "rtt", 2, "peer^=10.0.", "port=502"), "1,2");
	assert_string_equal(series_ids(f, NULL, 2, "__name__=rtt", "peer^=10.0."), "1,2");
	assert_string_equal(series_ids(f, NULL, 1, "__name__!=rtt"), "4");
	assert_string_equal(series_ids(f, NULL, 1, "__name__^=re"), "4");
	/* values are bound, never spliced into the SQL */
	assert_string_equal(series_ids(f, NULL, 1, "peer=x' OR 1=1 --"), "");
	assert_string_equal(series_ids(f, NULL, 1, "peer^=%"), "");

	assert_int_equal(query_match_parse(bad, &m), -EINVAL);
	assert_int_equal(query_match_parse(bad2, &m), -EINVAL);
}

/* ---- query_range: resolution choice ---- */

/*
 * Series 1 as retention leaves it at T0 + 3h: 1h rows for the last 24 h
 * (T0-24h .. T0+2h), 1m rows for the last 5 h (T0-2h .. T0+3h), 1s rows for
 * the last 30 min (T0+2h30m .. T0+3h). Each window: 1 sample of 1 ms.
 */
static void retention_fixture(struct fixture *f)
{
	must_exec(f->db, "BEGIN");
	for (int64_t t = T0 - 24 * H; t <= T0 + 2 * H; t += H)
		put_dist(f, QUERY_RES_1H, 1, t, 1, 1000, 0, NULL);
	for (int64_t t = T0 - 2 * H; t < T0 + 3 * H; t += M)
		put_dist(f, QUERY_RES_1M, 1, t, 1, 1000, 0, NULL);
	for (int64_t t = T0 + 2 * H + 30 * M; t < T0 + 3 * H; t += S)
		put_dist(f, QUERY_RES_1S, 1, t, 1, 1000, 0, NULL);
	must_exec(f->db, "COMMIT");
}

static void expect_range(struct fixture *f, int64_t from, int64_t to, size_t max, int res,
			 int64_t step, size_t n)
{
	struct query_result r;

	assert_int_equal(query_range(f->db, 1, from, to, max, &r), 0);
	if ((int)r.res != res || r.step_ms != step || r.n != n)
		fail_msg("[%lld, %lld) max %zu: got res %d step %lld n %zu, want %d %lld %zu",
			 (long long)(from - T0), (long long)(to - T0), max, r.res,
			 (long long)r.step_ms, r.n, res, (long long)step, n);
	assert_true(r.n <= max);
	query_result_free(&r);
}

static void test_range_resolution(void **state)
{
	struct fixture *f = *state;

	retention_fixture(f);
	/* 5 min: 300 windows of 1 s fit 1000 points */
	expect_range(f, T0 + 2 * H + 40 * M, T0 + 2 * H + 45 * M, 1000, QUERY_RES_1S, S, 300);
	/* ... but not 100: 5 points of 1 min */
	expect_range(f, T0 + 2 * H + 40 * M, T0 + 2 * H + 45 * M, 100, QUERY_RES_1M, M, 5);
	/* 1 s would fit, but its rows start 10 min after t_from: 1 min */
	expect_range(f, T0 + 2 * H + 20 * M, T0 + 2 * H + 45 * M, 2000, QUERY_RES_1M, M, 25);
	/* 1 min lost the start too (rows from T0-2h): 1 h */
	expect_range(f, T0 - 5 * H, T0, 1000, QUERY_RES_1H, H, 5);
	/* before all data: the coarsest starts late, nothing coarser has more */
	expect_range(f, T0 - 30 * H, T0, 100, QUERY_RES_1H, H, 24);
	/* a range that starts mid-hour gets the hour that contains t_from */
	expect_range(f, T0 - 5 * H + 30 * M, T0 - 4 * H, 1000, QUERY_RES_1H, H, 1);
	/* 200 h in 10 points: whole hours merged into ~20 h steps */
	{
		struct query_result r;
		int64_t total = 0;

		assert_int_equal(query_range(f->db, 1, T0 - 200 * H, T0, 10, &r), 0);
		assert_int_equal(r.res, QUERY_RES_1H);
		/* 20 h, or a little more when epoch alignment costs a point */
		assert_true(r.step_ms % H == 0 && r.step_ms >= 20 * H && r.step_ms <= 22 * H);
		assert_true(r.n <= 10);
		for (size_t i = 0; i < r.n; i++)
			total += r.v[i].count;
		assert_int_equal(total, 24); /* every hourly row in range, once */
		query_result_free(&r);
	}
	/* nothing there: empty, not an error */
	expect_range(f, T0 + 10 * H, T0 + 11 * H, 100, QUERY_RES_1M, M, 0);
}

/* As expect_range, for any series and flags; step 0: any step. */
static void expect_range_ex(struct fixture *f, int64_t id, int64_t from, int64_t to, size_t max,
			    unsigned flags, int res, int64_t step, size_t n)
{
	struct query_result r;

	assert_int_equal(query_range_ex(f->db, id, from, to, max, flags, &r), 0);
	if ((int)r.res != res || (step && r.step_ms != step) || r.n != n)
		fail_msg("series %lld [%lld, %lld) max %zu: got res %d step %lld n %zu, want %d %lld %zu",
			 (long long)id, (long long)(from - T0), (long long)(to - T0), max, r.res,
			 (long long)r.step_ms, r.n, res, (long long)step, n);
	query_result_free(&r);
}

/*
 * window_1s is keyed by time: reading it for one series reads all series in
 * the range, so it is read only for ranges up to QUERY_1S_MAX_RANGE_MS, even
 * where QUERY_REBUCKET would allow more windows.
 */
static void test_range_1s_bound(void **state)
{
	struct fixture *f = *state;
	const int64_t a = T0 + 2 * H + 30 * M;

	retention_fixture(f);
	/* 10 000 s: 1 s, merged 10:1 into 1000 points (1800 s of rows: 180) */
	expect_range_ex(f, 1, a, a + QUERY_1S_MAX_RANGE_MS, 1000, QUERY_REBUCKET, QUERY_RES_1S,
			10 * S, 180);
	/* 1 s more: 1 min, though 10 001 windows of 1 s are within 60 x 1000 */
	expect_range_ex(f, 1, a, a + QUERY_1S_MAX_RANGE_MS + S, 1000, QUERY_REBUCKET,
			QUERY_RES_1M, M, 30);
	/* a series only in window_1s (younger than its first rollup) */
	must_exec(f->db, "BEGIN");
	for (int64_t t = T0 + 3 * H - 10 * S; t < T0 + 3 * H; t += S)
		put_dist(f, QUERY_RES_1S, 3, t, 1, 1000, 0, NULL);
	must_exec(f->db, "COMMIT");
	expect_range_ex(f, 3, T0 + 2 * H, T0 + 3 * H, 3600, 0, QUERY_RES_1S, S, 10);
	/* over a year it is not scanned for: empty, from the 1 min table (step: any) */
	expect_range_ex(f, 3, T0 - 365 * 24 * H, T0 + 3 * H, 100, 0, QUERY_RES_1M, 0, 0);
}

static void test_range_args(void **state)
{
	struct fixture *f = *state;
	struct query_result r;

	assert_int_equal(query_range(f->db, 1, T0, T0, 10, &r), -EINVAL);
	assert_int_equal(query_range(f->db, 1, T0, T0 + H, 0, &r), -EINVAL);
	assert_int_equal(query_range(f->db, 1, T0, T0 + H, QUERY_MAX_POINTS + 1, &r), -EINVAL);
	assert_int_equal(query_range_ex(f->db, 1, T0, T0 + H, 10, 0x80, &r), -EINVAL);
	assert_null(r.v);
}

/* ---- re-bucketing against a hand-computed truth ---- */

static double truth_quantile(sqlite3 *db, const struct latency_hist *h, double q)
{
	uint8_t blob[HIST_BLOB_MAX];
	sqlite3_stmt *st;
	double v;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT hist_quantile(?, ?)", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, blob, (int)hist_blob_encode(h, blob), SQLITE_STATIC);
	sqlite3_bind_double(st, 2, q);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

#define NSEC 600 /* 10 min of 1 s windows, no rollups yet */
#define STEP_SEC 10

struct truth {
	int64_t count, lost;
	double sum, min, max;
	struct latency_hist h;
};

static void check_point(struct fixture *f, const struct query_point *p, const struct truth *w)
{
	assert_int_equal(p->count, w->count);
	assert_float_equal(p->sum, w->sum, 1e-12);
	assert_float_equal(p->min, w->min, 1e-12);
	assert_float_equal(p->max, w->max, 1e-12);
	assert_float_equal(p->mean, w->sum / (double)w->count, 1e-12);
	assert_int_equal(p->lost, w->lost);
	assert_float_equal(p->p50, truth_quantile(f->db, &w->h, 0.5), 1e-12);
	assert_float_equal(p->p90, truth_quantile(f->db, &w->h, 0.9), 1e-12);
	assert_float_equal(p->p99, truth_quantile(f->db, &w->h, 0.99), 1e-12);
	assert_true(isnan(p->min) == 0 && p->dup == -1 && p->reorder == -1);
}

static void test_rebucket_truth(void **state)
{
	struct fixture *f = *state;
	static struct truth want[NSEC / STEP_SEC];
	const int64_t t0 = T0 + 7 * M; /* a multiple of the 10 s step */

	memset(want, 0, sizeof(want));
	must_exec(f->db, "BEGIN");
	for (int i = 0; i < NSEC; i++) {
		struct truth *w = &want[i / STEP_SEC];
		int n = 1 + i % 3;
		uint64_t us = 100 + (uint64_t)(i * 37 % 1000) * 10; /* 0.1 .. 10 ms */
		double v = (double)us / 1e6;

		if (w->count == 0) {
			latency_hist_init(&w->h);
			w->min = v;
			w->max = v;
		}
		put_dist(f, QUERY_RES_1S, 2, t0 + i * S, n, us, i % 4 ? i % 7 : -1, &w->h);
		w->count += n;
		w->sum += n * v;
		w->min = fmin(w->min, v);
		w->max = fmax(w->max, v);
		w->lost += i % 4 ? i % 7 : 0;
	}
	must_exec(f->db, "COMMIT");

	/* without the flag: 1 min has no rows yet, so 1 s is merged 10:1 */
	for (unsigned flags = 0; flags <= QUERY_REBUCKET; flags += QUERY_REBUCKET) {
		struct query_result r;

		assert_int_equal(query_range_ex(f->db, 2, t0, t0 + NSEC * S, NSEC / STEP_SEC, flags,
						&r), 0);
		assert_int_equal(r.res, QUERY_RES_1S);
		assert_int_equal(r.step_ms, STEP_SEC * S);
		assert_int_equal(r.n, NSEC / STEP_SEC);
		for (size_t i = 0; i < r.n; i++) {
			assert_int_equal(r.v[i].t, t0 + (int64_t)i * STEP_SEC * S);
			check_point(f, &r.v[i], &want[i]);
		}
		query_result_free(&r);
	}
}

/* ---- aggregation ---- */

static void test_aggregate(void **state)
{
	struct fixture *f = *state;
	struct latency_hist all[2];
	struct query_match m[2];
	char a[] = "__name__=rtt", b[] = "peer^=10.0.";
	struct query_result r;

	latency_hist_init(&all[0]);
	latency_hist_init(&all[1]);
	must_exec(f->db, "BEGIN");
	/* two minutes; series 3 (10.1.0.1) must not count, series 4 is a counter */
	put_dist(f, QUERY_RES_1M, 1, T0, 10, 1000, 1, &all[0]);
	put_dist(f, QUERY_RES_1M, 2, T0, 30, 4000, 2, &all[0]);
	put_dist(f, QUERY_RES_1M, 3, T0, 99, 90000, 5, NULL);
	put_dist(f, QUERY_RES_1M, 1, T0 + M, 5, 2000, -1, &all[1]);
	must_exec(f->db, "INSERT INTO window_1m (series_id, t, count, sum) VALUES (4, 0, 60, 7)");
	must_exec(f->db, "COMMIT");

	assert_int_equal(query_match_parse(a, &m[0]), 0);
	assert_int_equal(query_match_parse(b, &m[1]), 0);
	assert_int_equal(query_aggregate(f->db, m, 2, T0, T0 + 2 * M, 100, &r), 0);
	assert_int_equal(r.res, QUERY_RES_1M);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[0].count, 40);
	assert_float_equal(r.v[0].sum, 10 * 0.001 + 30 * 0.004, 1e-12);
	assert_float_equal(r.v[0].min, 0.001, 1e-12);
	assert_float_equal(r.v[0].max, 0.004, 1e-12);
	assert_int_equal(r.v[0].lost, 3);
	assert_float_equal(r.v[0].p50, truth_quantile(f->db, &all[0], 0.5), 1e-12);
	assert_float_equal(r.v[0].p99, truth_quantile(f->db, &all[0], 0.99), 1e-12);
	assert_true(r.v[0].p99 > 0.003 && r.v[0].p99 < 0.005); /* 3/4 of samples are 4 ms */
	assert_int_equal(r.v[1].count, 5);
	assert_int_equal(r.v[1].lost, -1); /* NULL stays NULL */
	assert_float_equal(r.v[1].p50, truth_quantile(f->db, &all[1], 0.5), 1e-12);
	query_result_free(&r);

	/* a counter: sums add, no histogram */
	assert_int_equal(query_match_parse((char[]){ "__name__=retrans" }, &m[0]), 0);
	assert_int_equal(query_aggregate(f->db, m, 1, 0, M, 10, &r), 0);
	assert_int_equal(r.n, 1);
	assert_float_equal(r.v[0].sum, 7, 0);
	assert_true(isnan(r.v[0].p99) && isnan(r.v[0].min));
	query_result_free(&r);

	/* no match: empty */
	assert_int_equal(query_match_parse((char[]){ "peer=nowhere" }, &m[0]), 0);
	assert_int_equal(query_aggregate(f->db, m, 1, T0, T0 + H, 10, &r), 0);
	assert_int_equal(r.n, 0);
	query_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_series_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_resolution, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_1s_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebucket_truth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
