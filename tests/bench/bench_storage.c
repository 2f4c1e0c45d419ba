/*
 * Driver of bench_storage.sh (not part of the build; the script compiles it
 * against a build tree). Modes, each printing "key value" lines:
 *   real DB SERIES SECONDS   SERIES x SECONDS 1 s windows (with histograms)
 *                            through the real writer (1 s flush, rollups on),
 *                            as fast as it takes them: rows/s.
 *   naive DB ROWS            the same rows, one INSERT per transaction: rows/s.
 *   zoom DB SERIES SECONDS   the C query API (query.h) on the last hour and
 *                            the whole range of one series (1 s and 1 min
 *                            points), and the last hour of all series
 *                            aggregated: ms of the first (cold) call and the
 *                            mean of 20 warm ones.
 *   query DB SERIES SECONDS  reads every row of the range, all series, from
 *                            window_1s (one t range: the table is keyed by
 *                            time) and from window_1m (one range per series):
 *                            seconds each.
 *   io DB SERIES SECONDS EVERY [RET_1S RET_1M]  SECONDS of SERIES windows/s,
 *                            one writer cycle per EVERY simulated seconds
 *                            (= flush interval), time-compressed by a fake
 *                            clock: /proc/self/io write_bytes per simulated
 *                            hour. With RET_1S and RET_1M (seconds), 1 s and
 *                            1 min windows are kept that long, retention runs
 *                            every simulated minute (the daemon's cadence) and
 *                            the count starts after a warm-up of the longer
 *                            one + 120 s: the steady state, which deletes as
 *                            many rows as it inserts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hist_blob.h"
#include "histogram.h"
#include "query.h"
#include "storage.h"

#define T0 (472222LL * 3600000LL) /* hour aligned */

static int64_t fake_now = T0;
static int64_t clock_fn(void *ctx) { (void)ctx; return fake_now; }

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) { fprintf(stderr, "bench_storage: %s\n", what); exit(1); }

static struct storage *open_db_ret(const char *path, int64_t **ids, int series, int64_t ret_1s,
				   int64_t ret_1m)
{
	struct storage_opts o = { .path = path, .queue_capacity = 1 << 20, .now_ms = clock_fn,
				  .retention_ms = { ret_1s, ret_1m, -1 } };
	struct storage *s;
	char err[STORAGE_ERR_MAX];

	if (storage_open(&s, &o, err))
		die(err);
	*ids = calloc((size_t)series, sizeof(**ids));
	for (int i = 0; i < series; i++) {
		char v[24];
		struct storage_label l[] = { { "peer", v }, { "dir", "out" } };

		snprintf(v, sizeof(v), "10.0.%d.%d", i / 256, i % 256);
		if (storage_series(s, "tcp_rtt_seconds", 0, l, 2, &(*ids)[i]))
			die("series");
	}
	return s;
}

static struct storage *open_db(const char *path, int64_t **ids, int series)
{
	return open_db_ret(path, ids, series, -1, -1);
}

/* A window of 20 samples around 1-3 ms: a typical small industrial link. */
static void make_window(struct storage_window *w, struct latency_hist *h, int64_t id, int64_t t)
{
	latency_hist_init(h);
	for (int k = 0; k < 20; k++)
		latency_hist_add(h, 1000000 + (uint64_t)((t / 1000 + k * 7919) % 2000) * 1000);
	*w = (struct storage_window){ .series_id = id, .t_ms = t, .count = (int64_t)h->count,
				      .sum = (double)h->sum_ns / 1e9, .sumsq = NAN,
				      .min = (double)h->min_ns / 1e9, .max = (double)h->max_ns / 1e9,
				      .hist = h, .lost = 0, .dup = 0, .reorder = 0 };
}

static void put_retry(struct storage *s, const struct storage_window *w)
{
	while (storage_put(s, w) == -ENOBUFS)
		usleep(500); /* measure the writer, not the queue bound */
}

static int mode_real(const char *path, int series, int seconds)
{
	struct storage_stats st;
	struct latency_hist h;
	struct storage_window w;
	int64_t *ids;
	struct storage *s = open_db(path, &ids, series);
	double t0 = mono(), el;

	for (int sec = 0; sec < seconds; sec++) {
		fake_now = T0 + sec * 1000LL + 6000; /* the writer's rollups follow the data */
		for (int i = 0; i < series; i++) {
			make_window(&w, &h, ids[i], T0 + sec * 1000LL);
			put_retry(s, &w);
		}
	}
	storage_flush(s);
	el = mono() - t0;
	storage_stats(s, &st);
	printf("real_rows %llu\nreal_seconds %.2f\nreal_rows_per_s %.0f\nreal_transactions %llu\n"
	       "real_dropped %llu\nreal_rollup_rows %llu\nreal_db_bytes %llu\n",
	       (unsigned long long)st.rows_written, el, (double)st.rows_written / el,
	       (unsigned long long)st.transactions,
	       (unsigned long long)(st.dropped_queue_full + st.dropped_backlog),
	       (unsigned long long)st.rollup_rows, (unsigned long long)st.db_bytes);
	storage_close(s);
	free(ids);
	return 0;
}

static int mode_naive(const char *path, int rows)
{
	struct latency_hist h;
	struct storage_window w;
	uint8_t blob[HIST_BLOB_MAX];
	int64_t *ids;
	sqlite3 *db;
	sqlite3_stmt *st;
	double t0, el;

	storage_close(open_db(path, &ids, 100)); /* schema and series */
	if (sqlite3_open(path, &db) ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", 0, 0, 0) ||
	    sqlite3_prepare_v2(db, "INSERT INTO window_1s (series_id, t, count, sum, min, max, hist, lost, dup, reorder) VALUES (?,?,?,?,?,?,?,0,0,0)",
			       -1, &st, NULL))
		die(sqlite3_errmsg(db));
	t0 = mono();
	for (int r = 0; r < rows; r++) {
		make_window(&w, &h, ids[r % 100], T0 + (r / 100) * 1000LL);
		sqlite3_bind_int64(st, 1, w.series_id);
		sqlite3_bind_int64(st, 2, w.t_ms);
		sqlite3_bind_int64(st, 3, w.count);
		sqlite3_bind_double(st, 4, w.sum);
		sqlite3_bind_double(st, 5, w.min);
		sqlite3_bind_double(st, 6, w.max);
		sqlite3_bind_blob(st, 7, blob, (int)hist_blob_encode(&h, blob), SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) /* autocommit: one transaction per row */
			die(sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	el = mono() - t0;
	printf("naive_rows %d\nnaive_seconds %.2f\nnaive_rows_per_s %.0f\n", rows, el, rows / el);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(ids);
	return 0;
}

/* Every row of [a, b) of all series: per series when by_series (a table keyed
 * (series_id, t)), else one t range (keyed (t, series_id)). */
static double read_range(sqlite3 *db, const char *table, int by_series, int series, int64_t a,
			 int64_t b, long *rows)
{
	char sql[256];
	sqlite3_stmt *st;
	double t0 = mono(), acc = 0;

	snprintf(sql, sizeof(sql), "SELECT t, count, sum, min, max FROM %s WHERE %s t >= ?2 AND t < ?3",
		 table, by_series ? "series_id = ?1 AND" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sqlite3_errmsg(db));
	*rows = 0;
	for (int i = 1; i <= (by_series ? series : 1); i++) {
		if (by_series)
			sqlite3_bind_int(st, 1, i);
		sqlite3_bind_int64(st, 2, a);
		sqlite3_bind_int64(st, 3, b);
		while (sqlite3_step(st) == SQLITE_ROW) {
			acc += sqlite3_column_double(st, 2);
			++*rows;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	(void)acc;
	return mono() - t0;
}

/* Whether table's primary key starts with t (pragma_table_info pk order). */
static int keyed_by_time(sqlite3 *db, const char *table)
{
	char sql[160];
	sqlite3_stmt *st;
	int r = 0;

	snprintf(sql, sizeof(sql), "SELECT name = 't' FROM pragma_table_info('%s') WHERE pk = 1", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return r;
}

static int mode_query(const char *path, int series, int seconds)
{
	sqlite3 *db;
	long r1, r2;
	double q1, q2;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL))
		die("open");
	int by1s = !keyed_by_time(db, "window_1s"), by1m = !keyed_by_time(db, "window_1m");

	read_range(db, "window_1m", by1m, series, T0, T0 + seconds * 1000LL, &r2); /* warm the cache */
	q1 = read_range(db, "window_1s", by1s, series, T0, T0 + seconds * 1000LL, &r1);
	q2 = read_range(db, "window_1m", by1m, series, T0, T0 + seconds * 1000LL, &r2);
	printf("query_1s_rows %ld\nquery_1s_seconds %.3f\nquery_1m_rows %ld\nquery_1m_seconds %.4f\n"
	       "query_ratio %.0f\n", r1, q1, r2, q2, q1 / q2);
	sqlite3_close(db);
	return 0;
}

/* ms of one call of the query API; *n = points, *res = resolution used. */
static double zoom_once(sqlite3 *db, int64_t id, int64_t a, int64_t b, size_t points, size_t *n,
			int *res)
{
	struct query_result r;
	char nm[] = "__name__=tcp_rtt_seconds";
	struct query_match m;
	double t0 = mono();
	int rc;

	if (id > 0) {
		rc = query_range(db, id, a, b, points, &r);
	} else {
		query_match_parse(nm, &m);
		rc = query_aggregate(db, &m, 1, a, b, points, &r);
	}
	if (rc)
		die("query");
	*n = r.n;
	*res = (int)r.res;
	query_result_free(&r);
	return (mono() - t0) * 1000;
}

static void zoom(sqlite3 *db, const char *name, int64_t id, int64_t a, int64_t b, size_t points)
{
	static const char *const res[] = { "1s", "1m", "1h" };
	double cold, warm = 0;
	size_t n;
	int r;

	cold = zoom_once(db, id, a, b, points, &n, &r);
	for (int i = 0; i < 20; i++)
		warm += zoom_once(db, id, a, b, points, &n, &r) / 20;
	printf("%s_points %zu\n%s_res %s\n%s_cold_ms %.1f\n%s_warm_ms %.2f\n", name, n, name,
	       res[r], name, cold, name, warm);
}

static int mode_zoom(const char *path, int series, int seconds)
{
	int64_t end = T0 + seconds * 1000LL;
	sqlite3 *db;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) || hist_blob_register(db))
		die("open");
	/* a series in the middle, the last complete hour: 3600 points of 1 s */
	zoom(db, "zoom_1h_1s", series / 2, end - 3600000, end, 3600);
	/* the whole day of it: 1440 points of 1 min */
	zoom(db, "zoom_1d_1m", series / 2, end - 86400000, end, 1440);
	/* all series merged, the last hour at 1 s */
	zoom(db, "agg_1h_1s", 0, end - 3600000, end, 3600);
	sqlite3_close(db);
	return 0;
}

static long long write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int mode_io(const char *path, int series, int seconds, int every, int retention,
		   int retention_1m)
{
	struct latency_hist h;
	struct storage_window w;
	int64_t *ids;
	struct storage *s = open_db_ret(path, &ids, series, retention > 0 ? retention * 1000LL : -1,
					retention > 0 ? retention_1m * 1000LL : -1);
	int warmup = retention > 0 ? (retention > retention_1m ? retention : retention_1m) + 120 : 0;
	long long b0 = write_bytes(), b1;
	char tag[32] = "";

	for (int sec = 0; sec < warmup + seconds; sec++) {
		if (sec == warmup)
			b0 = write_bytes();
		fake_now = T0 + sec * 1000LL + 1000; /* the window just ended */
		for (int i = 0; i < series; i++) {
			make_window(&w, &h, ids[i], T0 + sec * 1000LL);
			put_retry(s, &w);
		}
		if (sec % every == every - 1)
			storage_flush(s); /* one writer cycle per flush interval */
		if (retention > 0 && sec % 60 == 59)
			storage_maintain(s); /* the daemon's maintenance cadence */
	}
	storage_close(s);
	b1 = write_bytes();
	if (retention > 0)
		snprintf(tag, sizeof(tag), "_ret%ds_%ds", retention, retention_1m);
	printf("io_flush_%ds%s_write_bytes %lld\nio_flush_%ds%s_bytes_per_hour %.0f\n", every, tag,
	       b1 - b0, every, tag, (double)(b1 - b0) * 3600.0 / seconds);
	free(ids);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "real"))
		return mode_real(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "naive"))
		return mode_naive(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "query"))
		return mode_query(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "zoom"))
		return mode_zoom(argv[2], atoi(argv[3]), atoi(argv[4]));
	if ((argc == 6 || argc == 8) && !strcmp(argv[1], "io"))
		return mode_io(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
			       argc == 8 ? atoi(argv[6]) : 0, argc == 8 ? atoi(argv[7]) : 0);
	fprintf(stderr, "usage: bench_storage real|zoom|query DB SERIES SECONDS | "
		"io DB SERIES SECONDS EVERY [RET_1S RET_1M] | naive DB ROWS\n");
	return 2;
}
