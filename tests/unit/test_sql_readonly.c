/*
 * Unit tests of the user SQL path (storage/sql_readonly.c) on a real
 * database file: reads work, every kind of write or escape is refused with a
 * clear reason, the time and row bounds hold, and the file stays
 * byte-identical whatever was attempted.
 */
#include <errno.h>
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
#include <sqlite3.h>

#include "hist_blob.h"
#include "histogram.h"
#include "sql_readonly.h"
#include "storage_int.h"

struct fixture {
	char dir[64];
	char path[96];
	struct sqlro *ro;
};

/* Rows a statement delivered: the header, and the first rows' text. */
#define KEEP_ROWS 8
#define KEEP_COLS 8
struct rows {
	int ncol, headers;
	size_t n;
	char names[KEEP_COLS][32];
	char val[KEEP_ROWS][KEEP_COLS][64];
	int is_null[KEEP_ROWS][KEEP_COLS];
	size_t cancel_after; /* 0 = never */
};

static int collect(void *ctx, int ncol, const char *const *names, const char *const *values)
{
	struct rows *r = ctx;

	r->ncol = ncol;
	if (!values) {
		r->headers++;
		for (int i = 0; i < ncol && i < KEEP_COLS; i++)
			snprintf(r->names[i], sizeof(r->names[i]), "%s", names[i]);
		return 0;
	}
	for (int i = 0; i < ncol && i < KEEP_COLS && r->n < KEEP_ROWS; i++) {
		r->is_null[r->n][i] = values[i] == NULL;
		snprintf(r->val[r->n][i], sizeof(r->val[0][0]), "%s", values[i] ? values[i] : "");
	}
	r->n++;
	return r->cancel_after && r->n >= r->cancel_after;
}

static void must_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* A histogram blob holding count samples of us microseconds each. */
static size_t one_bucket_blob(uint64_t us, uint64_t count, uint8_t out[HIST_BLOB_MAX])
{
	struct latency_hist h;

	latency_hist_init(&h);
	for (uint64_t i = 0; i < count; i++)
		latency_hist_add(&h, us * 1000);
	return hist_blob_encode(&h, out);
}

/* The real schema (schema_open, as the daemon creates it) with two series. */
static void populate(const char *path)
{
	char err[STORAGE_ERR_MAX];
	uint8_t blob[HIST_BLOB_MAX];
	sqlite3_stmt *st;
	sqlite3 *db;
	size_t n;

	if (schema_open(path, NULL, &db, err))
		fail_msg("schema_open: %s", err);
	must_exec(db, "INSERT INTO series VALUES (1, 'tcp_rtt_seconds', 0, 'peer=10.0.0.1', 0),"
		      " (2, 'tcp_retransmits_total', 1, 'peer=10.0.0.1', 0);"
		      "INSERT INTO series_label VALUES (1, 'peer', '10.0.0.1'), (2, 'peer', '10.0.0.1');"
		      "INSERT INTO window_1s (series_id, t, count, sum) VALUES (2, 1000, 1, 3), (2, 2000, 1, 0);"
		      "INSERT INTO meta VALUES ('rollup_1m_done', '0');");
	n = one_bucket_blob(1000, 4, blob);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO window_1s VALUES (1, 1000, 4, 0.004, "
					    "0.000004, 0.001, 0.001, ?, 0, 0, 0)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, blob, (int)n, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	/* closing the last connection checkpoints the WAL into the main file */
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sqlro_status st;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/xdprobe-sqlro-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/history.db", f->dir);
	populate(f->path);
	if (sqlro_open(f->path, &f->ro, &st))
		fail_msg("sqlro_open: %s", st.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	sqlro_close(f->ro);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int run(struct fixture *f, const char *sql, size_t max_rows, unsigned max_ms,
	       struct rows *r, struct sqlro_status *st)
{
	memset(r, 0, sizeof(*r));
	return sqlro_exec(f->ro, sql, max_rows, max_ms, collect, r, st);
}

/* Runs sql, which must succeed, and returns its rows. */
static void ok(struct fixture *f, const char *sql, struct rows *r)
{
	struct sqlro_status st;
	int rc = run(f, sql, 100, 5000, r, &st);

	if (rc)
		fail_msg("%s: %d %s", sql, rc, st.msg);
	assert_int_equal(r->headers, 1);
	assert_false(st.truncated);
	assert_int_equal(st.rows, r->n);
}

/* ---- reads ---- */

static void test_select_join_view_cte(void **state)
{
	struct fixture *f = *state;
	struct rows r;

	ok(f, "SELECT s.metric, w.t, w.sum FROM window_1s w JOIN series s ON s.id = w.series_id "
	      "WHERE s.kind = 1 ORDER BY w.t", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.names[0], "metric");
	assert_string_equal(r.val[0][0], "tcp_retransmits_total");
	assert_string_equal(r.val[0][1], "1000");
	assert_string_equal(r.val[0][2], "3.0");

	ok(f, "WITH per AS (SELECT metric, sum(sum) AS total FROM v_windows_1s GROUP BY metric) "
	      "SELECT metric, total FROM per ORDER BY metric", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.val[0][0], "tcp_retransmits_total");

	ok(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) "
	      "SELECT sum(x), group_concat(x, '-') FROM c", &r);
	assert_string_equal(r.val[0][0], "15");
	assert_string_equal(r.val[0][1], "1-2-3-4-5");

	ok(f, "SELECT id, labels FROM v_series ORDER BY id", &r);
	assert_int_equal(r.n, 2);
	ok(f, "SELECT time, mean FROM v_windows_1s WHERE metric = 'tcp_rtt_seconds'", &r);
	assert_string_equal(r.val[0][0], "1.0");
	assert_string_equal(r.val[0][1], "0.001");
}

static void test_nulls_blobs_and_hist_functions(void **state)
{
	struct fixture *f = *state;
	struct rows r;

	ok(f, "SELECT NULL, '', X'00ff10', 1.5, 7 -- trailing comment", &r);
	assert_true(r.is_null[0][0]);
	assert_false(r.is_null[0][1]); /* empty text is not NULL */
	assert_string_equal(r.val[0][1], "");
	assert_string_equal(r.val[0][2], "X'00FF10'");
	assert_string_equal(r.val[0][3], "1.5");
	assert_string_equal(r.val[0][4], "7");

	ok(f, "SELECT hist_count(hist), round(hist_quantile(hist, 0.5) * 1000, 1), "
	      "hist_count(hist_merge(hist)) FROM window_1s WHERE series_id = 1;", &r);
	assert_string_equal(r.val[0][0], "4");
	assert_string_equal(r.val[0][2], "4");
	/* 1 ms samples: the median lies in the bucket around 1 ms */
	assert_true(strtod(r.val[0][1], NULL) > 0.8 && strtod(r.val[0][1], NULL) < 1.2);
}

static void test_readonly_pragmas(void **state)
{
	struct fixture *f = *state;
	struct rows r;

	ok(f, "PRAGMA table_info(series)", &r);
	assert_int_equal(r.n, 5);
	ok(f, "PRAGMA user_version", &r);
	assert_string_equal(r.val[0][0], "1");
	ok(f, "SELECT name FROM pragma_table_info('window_1m') WHERE pk > 0 ORDER BY pk", &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.val[1][0], "t");
	ok(f, "SELECT page_size FROM pragma_page_size", &r);
	assert_string_equal(r.val[0][0], "4096");
}

/* ---- refusals ---- */

struct refusal {
	const char *sql;
	int err;
	const char *msg; /* substring of the reason */
};

static const struct refusal refusals[] = {
	{ "INSERT INTO meta VALUES ('x', 'y')", -EPERM, "not allowed: writes" },
	{ "UPDATE series SET metric = 'x'", -EPERM, "not allowed: writes" },
	{ "DELETE FROM window_1s", -EPERM, "not allowed: writes" },
	{ "REPLACE INTO meta VALUES ('rollup_1m_done', '9')", -EPERM, "not allowed: writes" },
	{ "WITH x AS (SELECT 1) DELETE FROM series", -EPERM, "not allowed: writes" },
	{ "DROP TABLE window_1s", -EPERM, "not allowed: schema changes" },
	{ "DROP VIEW v_series", -EPERM, "not allowed: schema changes" },
	{ "CREATE TABLE t (x)", -EPERM, "not allowed: schema changes" },
	{ "CREATE TEMP TABLE t (x)", -EPERM, "not allowed: schema changes" },
	{ "CREATE TEMP VIEW v AS SELECT 1", -EPERM, "not allowed: schema changes" },
	{ "CREATE INDEX i ON meta (value)", -EPERM, "not allowed: schema changes" },
	{ "ALTER TABLE meta ADD COLUMN z", -EPERM, "not allowed: schema changes" },
	{ "ANALYZE", -EPERM, "not allowed: schema changes" },
	{ "REINDEX", -EPERM, "not allowed: schema changes" },
	{ "ATTACH DATABASE '/tmp/xdprobe-sqlro-attach.db' AS a", -EPERM, "ATTACH" },
	{ "DETACH DATABASE main", -EPERM, "ATTACH" },
	{ "PRAGMA journal_mode=DELETE", -EPERM, "not allowed: PRAGMA journal_mode" },
	{ "PRAGMA writable_schema=1", -EPERM, "not allowed: PRAGMA writable_schema" },
	{ "PRAGMA user_version = 7", -EPERM, "not allowed: PRAGMA user_version" },
	{ "PRAGMA query_only = 0", -EPERM, "not allowed: PRAGMA query_only" },
	{ "PRAGMA wal_checkpoint(TRUNCATE)", -EPERM, "not allowed: PRAGMA wal_checkpoint" },
	/* the table form of a PRAGMA is authorized as the PRAGMA, when it runs */
	{ "SELECT * FROM pragma_journal_mode", -EPERM, "not allowed: PRAGMA journal_mode" },
	{ "SELECT * FROM pragma_journal_mode('delete')", -EIO, "unknown database" },
	{ "UPDATE sqlite_master SET sql = 'x'", -EINVAL, "may not be modified" },
	{ "SELECT load_extension('x')", -EPERM, "not allowed: function load_extension" },
	{ "SELECT fts3_tokenizer('simple')", -EPERM, "not allowed: function fts3_tokenizer" },
	{ "SELECT 1; DELETE FROM series", -EINVAL, "only one statement" },
	{ "SELECT 1; SELECT 2", -EINVAL, "only one statement" },
	{ "SELECT 1; /* c */ ; x", -EINVAL, "only one statement" },
	{ "VACUUM", -EPERM, "not allowed" },
	{ "VACUUM INTO '/tmp/xdprobe-sqlro-vacuum.db'", -EPERM, "not allowed" },
	{ "BEGIN", -EPERM, "not allowed: transactions" },
	{ "COMMIT", -EPERM, "not allowed: transactions" },
	{ "SAVEPOINT a", -EPERM, "not allowed: transactions" },
	{ "", -EINVAL, "empty statement" },
	{ "  -- only a comment", -EINVAL, "empty statement" },
	{ "SELEKT 1", -EINVAL, "syntax error" },
	{ "SELECT zeroblob(2000000)", -EFBIG, "too big" },
};

static void file_bytes(const char *path, char **data, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct stat sb;

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &sb), 0);
	*len = (size_t)sb.st_size;
	*data = malloc(*len + 1);
	assert_non_null(*data);
	assert_int_equal(fread(*data, 1, *len, fp), *len);
	fclose(fp);
}

static void test_refusals_leave_file_identical(void **state)
{
	struct fixture *f = *state;
	char *before, *after;
	size_t nb, na;
	struct sqlro_status st;
	struct rows r;

	file_bytes(f->path, &before, &nb);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(*refusals); i++) {
		const struct refusal *x = &refusals[i];
		int rc = run(f, x->sql, 10, 2000, &r, &st);

		if (rc != x->err || !strstr(st.msg, x->msg))
			fail_msg("'%s': got %d '%s', want %d '%s'", x->sql, rc, st.msg, x->err, x->msg);
		assert_int_equal(r.n, 0); /* refused before any row */
	}
	/* the connection still works, and nothing reached the disk */
	ok(f, "SELECT count(*) FROM series", &r);
	assert_string_equal(r.val[0][0], "2");
	assert_int_equal(access("/tmp/xdprobe-sqlro-vacuum.db", F_OK), -1);
	assert_int_equal(access("/tmp/xdprobe-sqlro-attach.db", F_OK), -1);
	file_bytes(f->path, &after, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	free(before);
	free(after);
}

/* ---- bounds ---- */

static void test_time_bound(void **state)
{
	struct fixture *f = *state;
	struct sqlro_status st;
	struct rows r;
	int rc;

	rc = run(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
		    "SELECT count(*) FROM c", 10, 200, &r, &st);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_string_equal(st.msg, "query took longer than 200 ms");
	assert_int_equal(r.n, 0);
	/* a later statement gets its own, fresh deadline */
	ok(f, "SELECT 1", &r);
}

static void test_row_bound(void **state)
{
	struct fixture *f = *state;
	const char *sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
			  "LIMIT 25) SELECT x FROM c";
	struct sqlro_status st;
	struct rows r;

	assert_int_equal(run(f, sql, 5, 2000, &r, &st), 0);
	assert_int_equal(st.rows, 5);
	assert_int_equal(r.n, 5);
	assert_true(st.truncated);
	assert_string_equal(r.val[4][0], "5");

	/* exactly at the bound is not truncated */
	assert_int_equal(run(f, sql, 25, 2000, &r, &st), 0);
	assert_int_equal(st.rows, 25);
	assert_false(st.truncated);

	/* an endless result is cut by the row bound, long before the time bound */
	assert_int_equal(run(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
				"SELECT x FROM c", 3, 60000, &r, &st), 0);
	assert_true(st.truncated);
	assert_int_equal(st.rows, 3);
}

static void test_callback_stops(void **state)
{
	struct fixture *f = *state;
	struct sqlro_status st;
	struct rows r = { .cancel_after = 2 };

	assert_int_equal(sqlro_exec(f->ro, "SELECT id FROM series UNION ALL SELECT 3", 10, 1000,
				    collect, &r, &st), -ECANCELED);
	assert_int_equal(st.rows, 2);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct sqlro_status st;
	struct sqlro *h = (struct sqlro *)1;
	char path[128];

	snprintf(path, sizeof(path), "%s/absent.db", f->dir);
	assert_int_equal(sqlro_open(path, &h, &st), -ENOENT);
	assert_null(h);
	assert_non_null(strstr(st.msg, "cannot open"));
	assert_int_equal(access(path, F_OK), -1); /* read-only never creates */
	assert_int_equal(sqlro_open("", &h, &st), -EINVAL);

	/* URI syntax in a path is taken literally: no parameter reaches SQLite */
	snprintf(path, sizeof(path), "%s/history.db?mode=rwc", f->dir);
	assert_int_equal(sqlro_open(path, &h, &st), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select_join_view_cte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nulls_blobs_and_hist_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_leave_file_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
