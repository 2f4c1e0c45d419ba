/*
 * Schema v1 (storage/DESIGN.md), PRAGMA user_version migrations and the
 * refusal of files that are not ours. Nothing is written to a file until it
 * is known to be empty or ours, intact and not newer than this build.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hist_blob.h"
#include "storage_int.h"

/* One table per resolution, identical columns (DESIGN.md). window_1s is keyed by
 * time first, so each flush appends to the right edge of one B-tree; window_1m
 * and window_1h, written once a minute / hour, stay keyed by series first. */
#define WINDOW_TABLE(res, key)                                                                     \
	"CREATE TABLE window_" res " (series_id INTEGER NOT NULL, t INTEGER NOT NULL, "           \
	"count INTEGER NOT NULL, sum REAL NOT NULL, sumsq REAL, min REAL, max REAL, hist BLOB, "   \
	"lost INTEGER, dup INTEGER, reorder INTEGER, PRIMARY KEY " key ") WITHOUT ROWID;\n"
/* t (ms, the key) is a column of the views so that a filter on it can use the key;
 * a filter on time (an expression) cannot. */
#define WINDOW_VIEW(res)                                                                           \
	"CREATE VIEW v_windows_" res " AS SELECT s.metric, s.labels, w.t / 1000.0 AS time, "       \
	"w.count, w.sum, w.min, w.max, CASE WHEN w.count > 0 THEN w.sum / w.count END AS mean, "   \
	"w.lost, w.dup, w.reorder, w.t FROM window_" res " w JOIN series s ON s.id = w.series_id;\n"

static const char schema_v1[] =
	"CREATE TABLE series (id INTEGER PRIMARY KEY, metric TEXT NOT NULL, kind INTEGER NOT NULL,"
	" labels TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE (metric, labels));\n"
	"CREATE TABLE series_label (series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE "
	"CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (series_id, key)) WITHOUT "
	"ROWID;\n"
	"CREATE INDEX series_label_kv ON series_label (key, value);\n"
	WINDOW_TABLE("1s", "(t, series_id)") WINDOW_TABLE("1m", "(series_id, t)")
	WINDOW_TABLE("1h", "(series_id, t)")
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;\n"
	WINDOW_VIEW("1s") WINDOW_VIEW("1m") WINDOW_VIEW("1h")
	"CREATE VIEW v_series AS SELECT id, metric, kind, labels FROM series;\n"
	"PRAGMA application_id = 1480872018;\n";

/* Migration i takes user_version to[i] - 1 to to[i]; v0 is an empty file. */
static const struct migration {
	int to;
	const char *sql;
} migrations[] = {
	{ 1, schema_v1 },
};

/* Every schema object any version creates; anything else is someone else's. */
static const char *const known_objects[] = {
	"series", "series_label", "series_label_kv", "window_1s", "window_1m", "window_1h",
	"meta", "v_windows_1s", "v_windows_1m", "v_windows_1h", "v_series",
};

int storage_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int errno_of_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: return 0;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
	case SQLITE_CONSTRAINT: return -EEXIST;
	default: return -EIO;
	}
}

int schema_configure(sqlite3 *db)
{
	int rc;

	sqlite3_extended_result_codes(db, 1);
	/* readers (sqlite3 CLI, the web UI) may hold locks briefly: wait, never fail */
	sqlite3_busy_timeout(db, 5000);
	rc = storage_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
			      /* keep the WAL from staying large after a burst (size cap) */
			      "PRAGMA journal_size_limit = 4194304;"
			      /* builds that default to secure_delete = ON (Debian's) write
			       * every page retention frees, as zeros, to the WAL and again
			       * at checkpoint; FAST only zeroes what is written anyway */
			      "PRAGMA secure_delete = FAST;");
	return rc ? rc : hist_blob_register(db);
}

static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A non-empty file that lacks the SQLite magic is refused before SQLite sees it. */
static int check_magic(const char *path, char *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16] = { 0 };
	struct stat sb = { 0 };
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = errno;

	if (fd < 0 && e == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(err, STORAGE_ERR_MAX, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	n = fstat(fd, &sb) ? -1 : read(fd, head, sizeof(head));
	close(fd);
	if (sb.st_size == 0)
		return 0;
	if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0) {
		snprintf(err, STORAGE_ERR_MAX,
			 "%s: file is not a database (no SQLite header); it was left untouched: "
			 "move it away or choose another storage path", path);
		return -EEXIST;
	}
	return 0;
}

/* Names the first schema object that no schema version of ours creates. */
static int find_foreign(sqlite3 *db, char *name, size_t len, int64_t *nobj)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
				    -1, &st, NULL);

	*name = '\0';
	*nobj = 0;
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		size_t i;

		++*nobj;
		for (i = 0; i < sizeof(known_objects) / sizeof(*known_objects); i++)
			if (strcmp(n, known_objects[i]) == 0)
				break;
		if (i == sizeof(known_objects) / sizeof(*known_objects) && !*name)
			snprintf(name, len, "%s", n);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int corrupt(const char *path, const char *what, char *err)
{
	snprintf(err, STORAGE_ERR_MAX,
		 "%s: database is corrupt (%s); it was left untouched: move it away (keep it for "
		 "analysis) and restart to start a new history, or choose another storage path",
		 path, what);
	return -EIO;
}

static int quick_check(sqlite3 *db, const char *path, char *err)
{
	sqlite3_stmt *st;
	char first[160] = "";
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(first, sizeof(first), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return corrupt(path, sqlite3_errstr(rc), err);
	if (strcmp(first, "ok") != 0)
		return corrupt(path, first, err);
	return 0;
}

/* Decides whether the opened file may be used; *fresh = it has no schema yet. */
static int inspect(sqlite3 *db, const char *path, int *fresh, int64_t *version, char *err)
{
	int64_t app = 0, nobj = 0;
	char foreign[128];
	int rc;

	rc = query_int(db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = query_int(db, "PRAGMA user_version", version);
	if (rc == SQLITE_OK)
		rc = find_foreign(db, foreign, sizeof(foreign), &nobj);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		snprintf(err, STORAGE_ERR_MAX, "%s: file is not a database; it was left untouched: "
			 "move it away or choose another storage path", path);
		return -EEXIST;
	}
	if ((rc & 0xff) == SQLITE_CORRUPT)
		return corrupt(path, sqlite3_errstr(rc), err);
	if (rc) {
		snprintf(err, STORAGE_ERR_MAX, "%s: cannot read: %s", path, sqlite3_errmsg(db));
		return errno_of_sqlite(rc);
	}
	*fresh = app == 0 && *version == 0 && nobj == 0;
	if (*fresh)
		return 0;
	if (app != STORAGE_APPLICATION_ID) {
		snprintf(err, STORAGE_ERR_MAX,
			 "%s: SQLite database of another application (application_id 0x%08llx, %lld "
			 "schema objects, e.g. '%s'); it was left untouched: move it away or choose "
			 "another storage path", path, (unsigned long long)(uint32_t)app,
			 (long long)nobj, foreign);
		return -EEXIST;
	}
	if (*version > STORAGE_SCHEMA_VERSION) {
		snprintf(err, STORAGE_ERR_MAX,
			 "%s: written by a newer xdprobe (schema version %lld, this build knows up to "
			 "%d); it was left untouched: upgrade xdprobe, or move the file away",
			 path, (long long)*version, STORAGE_SCHEMA_VERSION);
		return -ENOTSUP;
	}
	if (*foreign) {
		snprintf(err, STORAGE_ERR_MAX,
			 "%s: xdprobe database with foreign schema object '%s'; it was left "
			 "untouched: remove that object with sqlite3, or move the file away", path,
			 foreign);
		return -EEXIST;
	}
	return quick_check(db, path, err);
}

static int migrate(sqlite3 *db, int64_t from, const char *path, char *err)
{
	for (size_t i = 0; i < sizeof(migrations) / sizeof(*migrations); i++) {
		char bump[64];
		int rc;

		if (migrations[i].to <= from)
			continue;
		/* the step and its user_version bump commit together, or not at all */
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", migrations[i].to);
		rc = storage_exec(db, "BEGIN IMMEDIATE");
		if (rc == SQLITE_OK)
			rc = storage_exec(db, migrations[i].sql);
		if (rc == SQLITE_OK)
			rc = storage_exec(db, bump);
		if (rc == SQLITE_OK)
			rc = storage_exec(db, "COMMIT");
		if (rc) {
			snprintf(err, STORAGE_ERR_MAX, "%s: migration to schema version %d failed: %s",
				 path, migrations[i].to, sqlite3_errmsg(db));
			storage_exec(db, "ROLLBACK");
			return errno_of_sqlite(rc);
		}
	}
	return 0;
}

static int prepare_file(sqlite3 *db, const char *path, char *err)
{
	int64_t version = 0;
	int fresh = 0, rc;

	rc = inspect(db, path, &fresh, &version, err);
	if (rc)
		return rc;
	/* auto_vacuum only takes effect before the first table is created */
	if (fresh && storage_exec(db, "PRAGMA auto_vacuum = INCREMENTAL") != SQLITE_OK)
		goto sqlerr;
	if (storage_exec(db, "PRAGMA journal_mode = WAL") != SQLITE_OK)
		goto sqlerr;
	return migrate(db, version, path, err);
sqlerr:
	snprintf(err, STORAGE_ERR_MAX, "%s: %s", path, sqlite3_errmsg(db));
	return -EIO;
}

int schema_open(const char *path, const char *vfs, sqlite3 **out, char err[STORAGE_ERR_MAX])
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	rc = check_magic(path, err);
	if (rc)
		return rc;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
	if (rc) {
		snprintf(err, STORAGE_ERR_MAX, "%s: cannot open: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	rc = schema_configure(db);
	if (rc) {
		snprintf(err, STORAGE_ERR_MAX, "%s: %s", path, sqlite3_errmsg(db));
		rc = -EIO;
	} else {
		rc = prepare_file(db, path, err);
	}
	if (rc) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}
