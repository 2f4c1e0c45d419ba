/*
 * Driver of bench_storage.sh (not part of the build; the script compiles it
 * against a build tree). Modes, each printing "key value" lines:
 *   real DB SERIES SECONDS   SERIES x SECONDS 1 s windows (with histograms)
 *                            through the real writer (1 s flush, rollups on),
 *                            as fast as it takes them: rows/s.
 *   naive DB ROWS            the same rows, one INSERT per transaction: rows/s.
 *   query DB SERIES SECONDS  reads every row of the range per series from
 *                            window_1s and from window_1m: seconds each.
 *   io DB SERIES SECONDS EVERY  SECONDS of SERIES windows/s, one writer cycle
 *                            per EVERY simulated seconds (= flush interval),
 *                            time-compressed by a fake clock:
 *                            /proc/self/io write_bytes per simulated hour.
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

static struct storage *open_db(const char *path, int64_t **ids, int series)
{
	struct storage_opts o = { .path = path, .queue_capacity = 1 << 20, .now_ms = clock_fn,
				  .retention_ms = { -1, -1, -1 } };
	struct storage *s;
	char err[STORAGE_ERR_MAX];

	if (storage_open(&s, &o, err))
		die(err);
	*ids = calloc((size_t)series, sizeof(**ids));
	for (int i = 0; i < series; i++) {
		char v[16];
		struct storage_label l[] = { { "peer", v }, { "dir", "out" } };

		snprintf(v, sizeof(v), "10.0.%d.%d", i / 256, i % 256);
		if (storage_series(s, "tcp_rtt_seconds", 0, l, 2, &(*ids)[i]))
			die("series");
	}
	return s;
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

static double read_range(sqlite3 *db, const char *table, int series, int64_t a, int64_t b, long *rows)
{
	char sql[256];
	sqlite3_stmt *st;
	double t0 = mono(), acc = 0;

	snprintf(sql, sizeof(sql), "SELECT t, count, sum, min, max FROM %s WHERE series_id = ?1 AND t >= ?2 AND t < ?3", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		die(sqlite3_errmsg(db));
	*rows = 0;
	for (int i = 1; i <= series; i++) {
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

static int mode_query(const char *path, int series, int seconds)
{
	sqlite3 *db;
	long r1, r2;
	double q1, q2;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL))
		die("open");
	read_range(db, "window_1m", series, T0, T0 + seconds * 1000LL, &r2); /* warm the cache */
	q1 = read_range(db, "window_1s", series, T0, T0 + seconds * 1000LL, &r1);
	q2 = read_range(db, "window_1m", series, T0, T0 + seconds * 1000LL, &r2);
	printf("query_1s_rows %ld\nquery_1s_seconds %.3f\nquery_1m_rows %ld\nquery_1m_seconds %.4f\n"
	       "query_ratio %.0f\n", r1, q1, r2, q2, q1 / q2);
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

static int mode_io(const char *path, int series, int seconds, int every)
{
	struct latency_hist h;
	struct storage_window w;
	int64_t *ids;
	struct storage *s = open_db(path, &ids, series);
	long long b0 = write_bytes(), b1;

	for (int sec = 0; sec < seconds; sec++) {
		fake_now = T0 + sec * 1000LL + 1000; /* the window just ended */
		for (int i = 0; i < series; i++) {
			make_window(&w, &h, ids[i], T0 + sec * 1000LL);
			put_retry(s, &w);
		}
		if (sec % every == every - 1)
			storage_flush(s); /* one writer cycle per flush interval */
	}
	storage_close(s);
	b1 = write_bytes();
	printf("io_flush_%ds_write_bytes %lld\nio_flush_%ds_bytes_per_hour %.0f\n", every, b1 - b0,
	       every, (double)(b1 - b0) * 3600.0 / seconds);
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
	if (argc == 6 && !strcmp(argv[1], "io"))
		return mode_io(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: bench_storage real|query DB SERIES SECONDS | io DB SERIES SECONDS EVERY | naive DB ROWS\n");
	return 2;
}
