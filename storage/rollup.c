/*
 * Incremental rollups (1 s -> 1 min -> 1 h), retention and the size cap.
 *
 * meta.rollup_1m_done / rollup_1h_done are watermarks: every complete minute
 * (hour) before them is rolled up. A rollup step and its watermark move
 * commit in one transaction, so a crash repeats at most a step, and a step is
 * idempotent (INSERT OR REPLACE of a full recomputation). A write of rows
 * older than a watermark lowers it in the same transaction as the rows
 * (rollup_note_written), so late rows are rolled up again.
 *
 * The window tables are WITHOUT ROWID with no secondary index. window_1s is
 * keyed (t, series_id): a time range of it is one contiguous primary-key
 * range, so its statements (rollup source, retention, size cap) read and
 * delete by t alone. window_1m and window_1h are keyed (series_id, t), so
 * their time-range statements walk the (small) series table and do one
 * primary-key range per series (CROSS JOIN fixes that loop order). Deletes go
 * in batches of about DELETE_BATCH rows, each its own transaction, so readers
 * and the writer never wait on one long delete.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "storage_int.h"

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL
#define DELETE_BATCH 5000
#define ROLLUP_CHUNK_UNITS 60 /* minutes (hours) per rollup transaction */

/* The window tables and their key order (schema.c). */
static const struct table {
	const char *name;
	int by_time; /* PRIMARY KEY (t, series_id), else (series_id, t) */
} tables[STORAGE_RES_COUNT] = {
	{ "window_1s", 1 },
	{ "window_1m", 0 },
	{ "window_1h", 0 },
};

static const struct level {
	const struct table *src, *dst;
	const char *key;
	int64_t unit;
} levels[] = {
	{ &tables[STORAGE_RES_1S], &tables[STORAGE_RES_1M], "rollup_1m_done", MINUTE_MS },
	{ &tables[STORAGE_RES_1M], &tables[STORAGE_RES_1H], "rollup_1h_done", HOUR_MS },
};

static int64_t floor_to(int64_t t, int64_t unit)
{
	return t >= 0 ? t / unit * unit : -((-t + unit - 1) / unit) * unit;
}

/* Runs sql with integer parameters; returns an SQLite rc, *out = first column
 * of the first row (NULL -> *found = 0). */
static int run_ints(sqlite3 *db, const char *sql, const int64_t *args, int nargs, int64_t *out,
		    int *found)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (found)
		*found = 0;
	if (rc)
		return rc;
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && out && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(st, 0);
		if (found)
			*found = 1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int meta_get(sqlite3 *db, const char *key, int64_t *v, int *found)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT CAST(value AS INTEGER) FROM meta WHERE key = '%s'", key);
	return run_ints(db, sql, NULL, 0, v, found);
}

int rollup_note_written(sqlite3 *db, int64_t min_t)
{
	int rc = SQLITE_OK;

	if (min_t == INT64_MAX)
		return SQLITE_OK;
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(levels) / sizeof(*levels); i++) {
		char sql[256];
		int64_t mark = floor_to(min_t, levels[i].unit);

		/* create the watermark at the first row, lower it for a late one */
		snprintf(sql, sizeof(sql),
			 "INSERT INTO meta (key, value) VALUES ('%s', ?1) ON CONFLICT (key) DO UPDATE "
			 "SET value = excluded.value WHERE CAST(value AS INTEGER) > ?1",
			 levels[i].key);
		rc = run_ints(db, sql, &mark, 1, NULL, NULL);
	}
	return rc;
}

/* Earliest t >= from in table: one primary-key seek (by time) or one per
 * series (by series). */
static int next_t(sqlite3 *db, const struct table *tb, int64_t from, int64_t *t, int *found)
{
	char sql[256];

	if (tb->by_time)
		snprintf(sql, sizeof(sql), "SELECT min(t) FROM %s WHERE t >= ?1", tb->name);
	else
		snprintf(sql, sizeof(sql),
			 "SELECT min((SELECT t FROM %s WHERE series_id = s.id AND t >= ?1 ORDER BY t "
			 "LIMIT 1)) FROM series s", tb->name);
	return run_ints(db, sql, &from, 1, t, found);
}

/* Rolls [a, b) of one level and moves its watermark to b, in one transaction. */
static int rollup_step(struct storage *s, const struct level *l, int64_t a, int64_t b)
{
	char sql[768], from[128];
	int64_t args[2] = { a, b };
	int rc;

	/* by time: [a, b) is one key range; by series: one range per series */
	if (l->src->by_time)
		snprintf(from, sizeof(from), "%s w WHERE w.t >= ?1 AND w.t < ?2", l->src->name);
	else
		snprintf(from, sizeof(from),
			 "series s CROSS JOIN %s w ON w.series_id = s.id AND w.t >= ?1 AND w.t < ?2",
			 l->src->name);
	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO %s (series_id, t, count, sum, sumsq, min, max, hist, lost, "
		 "dup, reorder) SELECT w.series_id, w.t / %lld * %lld, sum(w.count), sum(w.sum), "
		 "sum(w.sumsq), min(w.min), max(w.max), hist_merge(w.hist), sum(w.lost), sum(w.dup), "
		 "sum(w.reorder) FROM %s GROUP BY w.series_id, w.t / %lld",
		 l->dst->name, (long long)l->unit, (long long)l->unit, from, (long long)l->unit);
	rc = storage_exec(s->db, "BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = run_ints(s->db, sql, args, 2, NULL, NULL);
	if (rc == SQLITE_OK) {
		int n = sqlite3_changes(s->db);
		char up[128];

		snprintf(up, sizeof(up), "UPDATE meta SET value = ?1 WHERE key = '%s'", l->key);
		rc = run_ints(s->db, up, &b, 1, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = storage_exec(s->db, "COMMIT");
		if (rc == SQLITE_OK) {
			pthread_mutex_lock(&s->qmu);
			s->st.rollup_rows += (uint64_t)n;
			pthread_mutex_unlock(&s->qmu);
		}
	}
	if (rc && !sqlite3_get_autocommit(s->db))
		storage_exec(s->db, "ROLLBACK");
	return rc;
}

/* Rolls every complete unit before `until` of one level. */
static int rollup_level(struct storage *s, const struct level *l, int64_t until)
{
	int64_t done, next;
	int found, rc = meta_get(s->db, l->key, &done, &found);

	if (rc || !found)
		return rc; /* no row was ever written */
	while (rc == SQLITE_OK && done < until) {
		int64_t end;

		rc = next_t(s->db, l->src, done, &next, &found);
		if (rc)
			break;
		/* jump over empty stretches instead of stepping through them */
		next = found && next > done ? floor_to(next, l->unit) : done;
		end = next + ROLLUP_CHUNK_UNITS * l->unit;
		if (!found || end > until)
			end = until;
		rc = rollup_step(s, l, done, end);
		done = end;
	}
	return rc;
}

int rollup_run(struct storage *s, int64_t now_ms)
{
	int64_t until = floor_to(now_ms - (int64_t)s->o.rollup_delay_ms, MINUTE_MS), done_1m;
	int found, rc = rollup_level(s, &levels[0], until);

	if (rc == SQLITE_OK)
		rc = meta_get(s->db, levels[0].key, &done_1m, &found);
	/* an hour is complete once all of its minutes are */
	if (rc == SQLITE_OK && found)
		rc = rollup_level(s, &levels[1], floor_to(done_1m, HOUR_MS));
	if (rc)
		storage_set_error(s, "rollup failed: %s", sqlite3_errmsg(s->db));
	return rc;
}

/* Deletes rows of table with t < before, in batches. */
static int delete_before(struct storage *s, const struct table *tb, int64_t before)
{
	char sql[384];
	int rc, n;

	if (tb->by_time)
		/* one key range: every t up to that of the DELETE_BATCH-th row (so a
		 * batch is DELETE_BATCH rows plus the rest of that row's window) */
		snprintf(sql, sizeof(sql),
			 "DELETE FROM %s WHERE t < ?1 AND t <= coalesce((SELECT t FROM %s WHERE t < ?1 "
			 "ORDER BY t LIMIT 1 OFFSET %d), ?1)",
			 tb->name, tb->name, DELETE_BATCH - 1);
	else
		snprintf(sql, sizeof(sql),
			 "DELETE FROM %s WHERE (series_id, t) IN (SELECT w.series_id, w.t FROM series s "
			 "CROSS JOIN %s w ON w.series_id = s.id AND w.t < ?1 LIMIT %d)",
			 tb->name, tb->name, DELETE_BATCH);
	do {
		rc = run_ints(s->db, sql, &before, 1, NULL, NULL);
		n = rc ? 0 : sqlite3_changes(s->db);
		pthread_mutex_lock(&s->qmu);
		s->st.retention_deleted += (uint64_t)n;
		pthread_mutex_unlock(&s->qmu);
	} while (rc == SQLITE_OK && n >= DELETE_BATCH);
	return rc;
}

/* Retention horizon of one resolution; never past what is rolled up further. */
static int horizon(struct storage *s, int res, int64_t now_ms, int64_t *h)
{
	int64_t done;
	int found = 0, rc = SQLITE_OK;

	if (s->o.retention_ms[res] < 0)
		return SQLITE_DONE;
	*h = now_ms - s->o.retention_ms[res];
	if (res < STORAGE_RES_1H)
		rc = meta_get(s->db, levels[res].key, &done, &found);
	if (rc == SQLITE_OK && found && done < *h)
		*h = done;
	return rc;
}

int retention_run(struct storage *s, int64_t now_ms)
{
	int rc = SQLITE_OK;

	for (int r = 0; rc == SQLITE_OK && r < STORAGE_RES_COUNT; r++) {
		int64_t h;
		int hr = horizon(s, r, now_ms, &h);

		if (hr == SQLITE_DONE)
			continue;
		rc = hr ? hr : delete_before(s, &tables[r], h);
	}
	if (rc)
		storage_set_error(s, "retention failed: %s", sqlite3_errmsg(s->db));
	return rc;
}

static uint64_t file_size(const char *path, const char *suffix)
{
	char p[4096];
	struct stat sb;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) ? 0 : (uint64_t)sb.st_size;
}

uint64_t storage_db_bytes(struct storage *s)
{
	return file_size(s->path, "") + file_size(s->path, "-wal");
}

/* Returns free pages to the file system: the freelist is cut off the end of
 * the file (auto_vacuum=INCREMENTAL), and the truncating checkpoint copies
 * that into the main file and empties the WAL. */
static void shrink(struct storage *s)
{
	storage_exec(s->db, "PRAGMA incremental_vacuum");
	storage_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
}

/* Deletes the oldest slab of a table; *deleted = whether it had rows. */
static int delete_oldest(struct storage *s, const struct table *tb, int64_t slab, int *deleted)
{
	int64_t oldest;
	int rc = next_t(s->db, tb, INT64_MIN, &oldest, deleted);

	if (rc || !*deleted)
		return rc;
	return delete_before(s, tb, oldest + slab);
}

/*
 * While database + WAL exceed the cap: delete the oldest 10 minutes of 1 s
 * windows; when there are none left, the oldest day of 1 min windows. 1 h
 * windows are never deleted for size (they are small). Rows not yet rolled
 * up are lost this way: the cap wins over completeness.
 */
int size_cap_run(struct storage *s)
{
	int rc = SQLITE_OK, rounds = 0, deleted = 0;

	if (!s->o.size_cap_bytes)
		return 0;
	if (storage_db_bytes(s) > s->o.size_cap_bytes)
		shrink(s); /* free pages first: maybe nothing needs deleting */
	while (rc == SQLITE_OK && storage_db_bytes(s) > s->o.size_cap_bytes && rounds++ < 10000) {
		rc = delete_oldest(s, &tables[STORAGE_RES_1S], 10 * MINUTE_MS, &deleted);
		if (rc == SQLITE_OK && !deleted)
			rc = delete_oldest(s, &tables[STORAGE_RES_1M], 24 * HOUR_MS, &deleted);
		if (rc || !deleted)
			break;
		shrink(s);
	}
	if (rc)
		storage_set_error(s, "size cap: %s", sqlite3_errmsg(s->db));
	else if (storage_db_bytes(s) > s->o.size_cap_bytes)
		log_warn("storage: %s is %llu bytes, over the %llu byte cap, with nothing left to "
			 "delete but hourly windows", s->path,
			 (unsigned long long)storage_db_bytes(s), (unsigned long long)s->o.size_cap_bytes);
	return rc;
}
