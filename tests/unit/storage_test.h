/*
 * Helpers shared by the storage unit tests: a temporary directory per test,
 * whole-file reads for "left untouched" checks, a settable clock, and small
 * SQL helpers on a separate connection (what a sqlite3 user would see).
 */
#ifndef XDPROBE_STORAGE_TEST_H
#define XDPROBE_STORAGE_TEST_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hist_blob.h"
#include "storage.h"

/* Hour-aligned base time (unix ms) so minute/hour arithmetic is easy to read. */
#define T0 (472222LL * 3600000LL)

static int64_t test_clock_ms = T0;

static inline int64_t test_now(void *ctx)
{
	(void)ctx;
	return test_clock_ms;
}

struct tmpdir {
	char dir[64];
	char path[128];
};

static inline void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/xdprobe-storage-XXXXXX");
	if (!mkdtemp(t->dir))
		abort();
	snprintf(t->path, sizeof(t->path), "%s/history.db", t->dir);
}

/* The directory is flat (database, -wal, -shm, test files). */
static inline void tmpdir_remove(struct tmpdir *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[400];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(t->dir);
}

/* Whole file into a malloc'd buffer (caller frees); NULL if absent. */
static inline unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	*n = fread(buf, 1, (size_t)len, f);
	fclose(f);
	return buf;
}

static inline void test_opts(struct storage_opts *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->flush_interval_ms = 60000; /* tests flush explicitly */
	o->maintenance_interval_ms = 3600000;
	o->now_ms = test_now;
}

/* First column of the first row as int64 on a fresh connection (-1 on error). */
static inline int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    hist_blob_register(db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else {
		fprintf(stderr, "sql_int(%s): %s\n", sql, sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return v;
}

/* First column of the first row as text into buf. */
static inline void sql_text(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    hist_blob_register(db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static inline void sql_exec_rw(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	sqlite3_open(path, &db);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sql_exec_rw(%s): %s\n", sql, msg);
		abort();
	}
	sqlite3_close(db);
}

#endif
