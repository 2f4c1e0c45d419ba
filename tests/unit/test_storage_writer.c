/*
 * The writer (storage/writer.c, series.c): read back what was put, label
 * canonicalisation, the queue-full policy, a full disk injected through a
 * VFS shim (after SQLite's test_vfs approach), and a concurrent reader.
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

/* ---- a VFS that fails writes with SQLITE_FULL while disk_full is set ---- */

static volatile int disk_full;
static sqlite3_vfs full_vfs, *real_vfs;

struct full_file {
	sqlite3_file base;
	sqlite3_file *real; /* lives right after this struct */
};

#define REAL(f) (((struct full_file *)(f))->real)
static int ff_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return disk_full ? SQLITE_FULL : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int ff_sync(sqlite3_file *f, int fl) { return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int ff_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int ff_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int ff_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int ff_fcntl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int ff_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int ff_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int ff_shmmap(sqlite3_file *f, int i, int sz, int e, void volatile **p) { return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, e, p); }
static int ff_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void ff_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int ff_shmunmap(sqlite3_file *f, int d) { return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }

static const sqlite3_io_methods ff_methods = {
	2, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_unlock,
	ff_reserved, ff_fcntl, ff_sector, ff_devchar, ff_shmmap, ff_shmlock, ff_shmbarrier,
	ff_shmunmap, NULL, NULL,
};

static int ff_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct full_file *ff = (struct full_file *)f;
	int rc;

	ff->real = (sqlite3_file *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	/* SQLite calls xClose only when pMethods is set: leave it NULL on failure */
	f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &ff_methods : NULL;
	return rc;
}

static void register_full_vfs(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	full_vfs = *real_vfs;
	full_vfs.zName = "xdprobe_full";
	full_vfs.szOsFile = (int)sizeof(struct full_file) + real_vfs->szOsFile;
	full_vfs.xOpen = ff_open;
	full_vfs.pNext = NULL;
	assert_int_equal(sqlite3_vfs_register(&full_vfs, 0), SQLITE_OK);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct tmpdir *t = malloc(sizeof(*t));

	tmpdir_make(t);
	test_clock_ms = T0 + 3600000;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tmpdir_remove(*state);
	free(*state);
	return 0;
}

static struct storage_window dist_window(int64_t id, int64_t t, const struct latency_hist *h)
{
	struct storage_window w = {
		.series_id = id, .t_ms = t, .count = (int64_t)h->count, .sum = (double)h->sum_ns / 1e9,
		.sumsq = NAN, .min = (double)h->min_ns / 1e9, .max = (double)h->max_ns / 1e9,
		.hist = h, .lost = 1, .dup = -1, .reorder = 0,
	};
	return w;
}

static struct storage_window counter_window(int64_t id, int64_t t, double inc)
{
	struct storage_window w = { .series_id = id, .t_ms = t, .count = 1, .sum = inc,
				    .sumsq = NAN, .min = NAN, .max = NAN, .lost = -1, .dup = -1,
				    .reorder = -1 };
	return w;
}

static struct storage *open_ok(const char *path, size_t cap, const char *vfs)
{
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];

	test_opts(&o, path);
	o.queue_capacity = cap;
	o.vfs = vfs;
	if (storage_open(&s, &o, err))
		fail_msg("storage_open: %s", err);
	return s;
}

static void test_write_read_back(void **state)
{
	struct tmpdir *t = *state;
	struct storage *s = open_ok(t->path, 0, NULL);
	struct storage_label l[] = { { "peer", "10.0.0.1:502" }, { "dir", "out" } };
	struct storage_stats st;
	struct latency_hist h;
	struct storage_window w;
	int64_t d, c;
	char buf[256];

	latency_hist_init(&h);
	latency_hist_add(&h, 1500000);
	latency_hist_add(&h, 2500000);
	assert_int_equal(storage_series(s, "tcp_connect_latency_seconds", STORAGE_KIND_DISTRIBUTION, l, 2, &d), 0);
	assert_int_equal(storage_series(s, "tcp_retransmits_total", STORAGE_KIND_COUNTER, NULL, 0, &c), 0);
	w = dist_window(d, T0, &h);
	assert_int_equal(storage_put(s, &w), 0);
	latency_hist_add(&h, 9000000); /* put copied the histogram: this must not show */
	w = counter_window(c, T0, 42);
	assert_int_equal(storage_put(s, &w), 0);
	assert_int_equal(storage_flush(s), 0);
	storage_stats(s, &st);
	assert_int_equal(st.rows_written, 2);
	assert_int_equal(st.transactions, 1);
	assert_int_equal(st.pending, 0);
	assert_string_equal(st.last_error, "");
	assert_true(st.db_bytes > 0);

	assert_int_equal(sql_int(t->path, "SELECT hist_count(hist) FROM window_1s WHERE series_id = 1"), 2);
	sql_text(t->path, "SELECT printf('%d %.4f %.4f %.4f %s %s %s %s', count, sum, min, max, lost, "
			  "quote(dup), reorder, quote(sumsq)) FROM window_1s WHERE series_id = 1", buf, sizeof(buf));
	assert_string_equal(buf, "2 0.0040 0.0015 0.0025 1 NULL 0 NULL");
	sql_text(t->path, "SELECT printf('%d %g %s %s', count, sum, quote(hist), quote(min)) FROM window_1s WHERE series_id = 2",
		 buf, sizeof(buf));
	assert_string_equal(buf, "1 42 NULL NULL");
	sql_text(t->path, "SELECT printf('%s|%s|%.3f', metric, labels, time) FROM v_windows_1s WHERE mean IS NOT NULL",
		 buf, sizeof(buf));
	assert_non_null(strstr(buf, "tcp_connect_latency_seconds|dir=out,peer=10.0.0.1:502|"));
	/* a window written again replaces its row (INSERT OR REPLACE) */
	w = counter_window(c, T0, 43);
	assert_int_equal(storage_put(s, &w), 0);
	assert_int_equal(storage_flush(s), 0);
	assert_int_equal(sql_int(t->path, "SELECT sum FROM window_1s WHERE series_id = 2"), 43);
	storage_close(s);
}

static void test_series_labels(void **state)
{
	struct tmpdir *t = *state;
	struct storage *s = open_ok(t->path, 0, NULL);
	struct storage_label a[] = { { "b", "x,y" }, { "a", "1=2\\" } };
	struct storage_label b[] = { { "a", "1=2\\" }, { "b", "x,y" } };
	struct storage_label dup[] = { { "a", "1" }, { "a", "2" } };
	struct storage_label empty[] = { { "", "1" } };
	int64_t i1, i2, i3;
	char buf[128];

	assert_int_equal(storage_series(s, "m", 0, a, 2, &i1), 0);
	assert_int_equal(storage_series(s, "m", 0, b, 2, &i2), 0);
	assert_int_equal(i1, i2);
	assert_int_equal(storage_series(s, "m2", 0, b, 2, &i3), 0);
	assert_int_not_equal(i1, i3);
	assert_int_equal(storage_series(s, "m", 1, b, 2, &i3), -EEXIST);
	assert_int_equal(storage_series(s, "m", 0, dup, 2, &i3), -EINVAL);
	assert_int_equal(storage_series(s, "m", 0, empty, 1, &i3), -EINVAL);
	assert_int_equal(storage_series(s, "m", 7, NULL, 0, &i3), -EINVAL);
	storage_close(s);
	sql_text(t->path, "SELECT labels FROM series WHERE id = 1", buf, sizeof(buf));
	assert_string_equal(buf, "a=1\\=2\\\\,b=x\\,y");
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM series_label WHERE series_id = 1"), 2);
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM series_label WHERE key = 'b' AND value = 'x,y'"), 2);
	/* a new process finds the same series through the database, not the cache */
	s = open_ok(t->path, 0, NULL);
	assert_int_equal(storage_series(s, "m", 0, b, 2, &i2), 0);
	assert_int_equal(i1, i2);
	storage_close(s);
}

static void test_queue_full_drops_newest(void **state)
{
	struct tmpdir *t = *state;
	struct storage *s = open_ok(t->path, 10, NULL);
	struct storage_stats st;
	struct storage_window w;
	int64_t c;

	assert_int_equal(storage_series(s, "c", 1, NULL, 0, &c), 0);
	for (int i = 0; i < 15; i++) {
		w = counter_window(c, T0 + i * 1000, i);
		assert_int_equal(storage_put(s, &w), i < 10 ? 0 : -ENOBUFS);
	}
	storage_stats(s, &st);
	assert_int_equal(st.dropped_queue_full, 5);
	assert_int_equal(st.pending, 10);
	w = counter_window(c, T0, NAN);
	assert_int_equal(storage_put(s, &w), -EINVAL);
	w = counter_window(c, test_clock_ms - 86400001, 1); /* past the 1 s retention */
	assert_int_equal(storage_put(s, &w), -EINVAL);
	assert_int_equal(storage_flush(s), 0);
	storage_stats(s, &st);
	assert_int_equal(st.rows_written, 10);
	assert_int_equal(st.dropped_invalid, 2);
	assert_int_equal(sql_int(t->path, "SELECT max(t) FROM window_1s") - T0, 9000);
	storage_close(s);
}

static void put_counters(struct storage *s, int64_t id, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		struct storage_window w = counter_window(id, T0 + i * 1000LL, i);

		assert_int_equal(storage_put(s, &w), 0);
	}
}

static void test_disk_full(void **state)
{
	struct tmpdir *t = *state;
	struct storage *s;
	struct storage_stats st;
	struct latency_hist h;
	struct storage_window w;
	int64_t c, d;

	register_full_vfs();
	s = open_ok(t->path, 10, "xdprobe_full");
	assert_int_equal(storage_series(s, "c", 1, NULL, 0, &c), 0);
	assert_int_equal(storage_series(s, "d", 0, NULL, 0, &d), 0);
	put_counters(s, c, 0, 2);
	assert_int_equal(storage_flush(s), 0);

	disk_full = 1;
	put_counters(s, c, 2, 4);
	latency_hist_init(&h);
	latency_hist_add(&h, 1000);
	w = dist_window(d, T0, &h);
	assert_int_equal(storage_put(s, &w), 0);
	assert_int_equal(storage_flush(s), -ENOSPC);
	storage_stats(s, &st);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.pending, 5);
	assert_non_null(strstr(st.last_error, "database disk full: 5 windows waiting in memory"));
	put_counters(s, c, 6, 4);
	assert_int_equal(storage_flush(s), -ENOSPC);
	storage_stats(s, &st);
	assert_int_equal(st.pending, 9);
	/* beyond the capacity (10) the OLDEST waiting rows go */
	put_counters(s, c, 10, 4);
	assert_int_equal(storage_flush(s), -ENOSPC);
	storage_stats(s, &st);
	assert_int_equal(st.pending, 10);
	assert_int_equal(st.dropped_backlog, 3);
	assert_int_equal(st.write_errors, 3);
	assert_int_equal(st.rows_written, 2);

	disk_full = 0; /* space is back: the next flush writes everything waiting */
	assert_int_equal(storage_flush(s), 0);
	storage_stats(s, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.rows_written, 12);
	assert_string_equal(st.last_error, "");
	storage_close(s);
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM window_1s"), 12);
	/* dropped: counters 2, 3, 4 (oldest waiting); kept: the histogram row and 5..13 */
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM window_1s WHERE series_id = 1 AND sum BETWEEN 2 AND 4"), 0);
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM window_1s WHERE series_id = 2"), 1);
	sql_exec_rw(t->path, "SELECT 1"); /* file opens cleanly */
	{
		char ok[32];

		sql_text(t->path, "PRAGMA integrity_check", ok, sizeof(ok));
		assert_string_equal(ok, "ok");
	}
}

static void test_concurrent_reader(void **state)
{
	struct tmpdir *t = *state;
	struct storage *s = open_ok(t->path, 0, NULL);
	struct storage_stats st;
	sqlite3 *rd;
	sqlite3_stmt *q;
	int64_t c;

	assert_int_equal(storage_series(s, "c", 1, NULL, 0, &c), 0);
	put_counters(s, c, 0, 100);
	assert_int_equal(storage_flush(s), 0);
	assert_int_equal(sqlite3_open_v2(t->path, &rd, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* an open read transaction (a long sqlite3 query) during many writes */
	assert_int_equal(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(rd, "SELECT count(*) FROM window_1s", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 100);
	sqlite3_reset(q);
	for (int i = 1; i <= 20; i++) {
		put_counters(s, c, i * 100, 100);
		assert_int_equal(storage_flush(s), 0);
	}
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 100); /* its snapshot */
	sqlite3_reset(q);
	assert_int_equal(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 2100);
	sqlite3_finalize(q);
	sqlite3_close(rd);
	storage_stats(s, &st);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(st.rows_written, 2100);
	storage_close(s);
}

/* The timer, not storage_flush, writes: close must also flush. */
static void test_timer_and_close_flush(void **state)
{
	struct tmpdir *t = *state;
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];
	struct storage_stats st;
	int64_t c;

	test_opts(&o, t->path);
	o.flush_interval_ms = 20;
	assert_int_equal(storage_open(&s, &o, err), 0);
	assert_int_equal(storage_series(s, "c", 1, NULL, 0, &c), 0);
	put_counters(s, c, 0, 10);
	for (int i = 0; i < 200; i++) {
		storage_stats(s, &st);
		if (st.rows_written == 10)
			break;
		usleep(10000);
	}
	assert_int_equal(st.rows_written, 10);
	put_counters(s, c, 10, 10);
	storage_close(s);
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM window_1s"), 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_drops_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_and_close_flush, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
