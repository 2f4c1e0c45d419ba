/*
 * Schema creation and the refusal of files that are not ours
 * (storage/schema.c): every refused file must be byte-for-byte unchanged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage_test.h"

static int setup(void **state)
{
	struct tmpdir *t = malloc(sizeof(*t));

	tmpdir_make(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tmpdir_remove(*state);
	free(*state);
	return 0;
}

static void test_creates_schema(void **state)
{
	struct tmpdir *t = *state;
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX], buf[64];
	static const char *const objects[] = {
		"series", "series_label", "series_label_kv", "window_1s", "window_1m", "window_1h",
		"meta", "v_windows_1s", "v_windows_1m", "v_windows_1h", "v_series",
	};

	test_opts(&o, t->path);
	assert_int_equal(storage_open(&s, &o, err), 0);
	storage_close(s);
	for (size_t i = 0; i < sizeof(objects) / sizeof(*objects); i++) {
		char sql[128];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", objects[i]);
		if (sql_int(t->path, sql) != 1)
			fail_msg("missing schema object %s", objects[i]);
	}
	assert_int_equal(sql_int(t->path, "PRAGMA application_id"), STORAGE_APPLICATION_ID);
	assert_int_equal(sql_int(t->path, "PRAGMA user_version"), STORAGE_SCHEMA_VERSION);
	assert_int_equal(sql_int(t->path, "PRAGMA auto_vacuum"), 2); /* incremental */
	sql_text(t->path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	/* WITHOUT ROWID as specified */
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'window_%' AND sql LIKE '%WITHOUT ROWID'"), 3);
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM v_windows_1h"), 0);
	/* window_1s is keyed by time, with no other index (a flush appends to one
	 * B-tree edge); the rollups are keyed by series */
	sql_text(t->path, "SELECT group_concat(name, ',') FROM (SELECT name FROM "
		 "pragma_table_info('window_1s') WHERE pk > 0 ORDER BY pk)", buf, sizeof(buf));
	assert_string_equal(buf, "t,series_id");
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM pragma_index_list('window_1s') "
				 "WHERE origin <> 'pk'"), 0);
	for (int i = 0; i < 2; i++) {
		char sql[160];

		snprintf(sql, sizeof(sql), "SELECT group_concat(name, ',') FROM (SELECT name FROM "
			 "pragma_table_info('window_1%c') WHERE pk > 0 ORDER BY pk)", "mh"[i]);
		sql_text(t->path, sql, buf, sizeof(buf));
		assert_string_equal(buf, "series_id,t");
	}
	/* the views carry the key t (ms) next to time (s) */
	assert_int_equal(sql_int(t->path, "SELECT count(*) FROM pragma_table_info('v_windows_1s') "
				 "WHERE name IN ('t', 'time')"), 2);
}

/* An empty (0-byte) file is a new database, like an absent one. */
static void test_empty_file_and_reopen(void **state)
{
	struct tmpdir *t = *state;
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];
	int64_t id, id2;
	FILE *f = fopen(t->path, "w");

	fclose(f);
	test_opts(&o, t->path);
	assert_int_equal(storage_open(&s, &o, err), 0);
	assert_int_equal(storage_series(s, "m", 0, NULL, 0, &id), 0);
	storage_close(s);
	assert_int_equal(storage_open(&s, &o, err), 0);
	assert_int_equal(storage_series(s, "m", 0, NULL, 0, &id2), 0);
	assert_int_equal(id, id2);
	storage_close(s);
}

/* Opens must fail with rc and a message containing what; file unchanged. */
static void expect_refused(const char *path, int want_rc, const char *what)
{
	struct storage_opts o;
	struct storage *s = (void *)1;
	char err[STORAGE_ERR_MAX];
	size_t n0, n1;
	unsigned char *before = slurp(path, &n0), *after;
	char wal[256];

	test_opts(&o, path);
	assert_int_equal(storage_open(&s, &o, err), want_rc);
	assert_null(s);
	if (!strstr(err, what) || !strstr(err, "move"))
		fail_msg("error message '%s' lacks '%s' or advice", err, what);
	after = slurp(path, &n1);
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(access(wal, F_OK), -1);
	free(before);
	free(after);
}

static void test_refuses_text_file(void **state)
{
	struct tmpdir *t = *state;
	FILE *f = fopen(t->path, "w");

	fputs("[storage]\npath = /var/lib/xdprobe/history.db\n", f);
	fclose(f);
	expect_refused(t->path, -EEXIST, "file is not a database");
}

static void test_refuses_other_application(void **state)
{
	struct tmpdir *t = *state;

	sql_exec_rw(t->path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);"
			     "INSERT INTO invoices VALUES (1, 9.5);");
	expect_refused(t->path, -EEXIST, "another application");
	sql_exec_rw(t->path, "PRAGMA application_id = 1234");
	expect_refused(t->path, -EEXIST, "another application");
}

static void test_refuses_foreign_tables(void **state)
{
	struct tmpdir *t = *state;
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];

	test_opts(&o, t->path);
	assert_int_equal(storage_open(&s, &o, err), 0);
	storage_close(s);
	sql_exec_rw(t->path, "CREATE TABLE notes (x TEXT); PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE");
	expect_refused(t->path, -EEXIST, "foreign schema object 'notes'");
}

static void test_refuses_newer_version(void **state)
{
	struct tmpdir *t = *state;

	sql_exec_rw(t->path, "PRAGMA application_id = 1480872018; PRAGMA user_version = 7;"
			     "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;");
	expect_refused(t->path, -ENOTSUP, "newer xdprobe (schema version 7");
}

static void test_refuses_corrupt(void **state)
{
	struct tmpdir *t = *state;
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];
	unsigned char junk[4096];
	int64_t id;
	FILE *f;

	test_opts(&o, t->path);
	assert_int_equal(storage_open(&s, &o, err), 0);
	for (int i = 0; i < 200; i++) {
		char m[32];

		snprintf(m, sizeof(m), "metric_%d", i);
		assert_int_equal(storage_series(s, m, 0, NULL, 0, &id), 0);
	}
	storage_close(s);
	/* page 1 (header + schema) stays intact, the b-tree pages after it do not */
	memset(junk, 0xa5, sizeof(junk));
	f = fopen(t->path, "r+b");
	fseek(f, 4096, SEEK_SET);
	fwrite(junk, 1, sizeof(junk), f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	expect_refused(t->path, -EIO, "corrupt");
}

static void test_bad_path(void **state)
{
	struct storage_opts o;
	struct storage *s;
	char err[STORAGE_ERR_MAX];

	test_opts(&o, "/nonexistent-dir/x/history.db");
	assert_true(storage_open(&s, &o, err) < 0);
	assert_non_null(strstr(err, "/nonexistent-dir/x/history.db"));
	o.path = NULL;
	assert_int_equal(storage_open(&s, &o, err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_text_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_application, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_newer_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_corrupt, setup, teardown),
		cmocka_unit_test(test_bad_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
