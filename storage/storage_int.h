/* Internals shared by the storage sources; not part of the API. */
#ifndef XDPROBE_STORAGE_INT_H
#define XDPROBE_STORAGE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "storage.h"

struct latency_hist;
struct series_entry; /* series.c cache */

/* A queued window: the caller's row plus its histogram, already encoded as
 * the stored blob (tens of bytes, where struct latency_hist is kilobytes). */
struct queued_window {
	struct storage_window w; /* w.hist is NULL: the histogram is hist_blob */
	uint8_t *hist_blob;      /* NULL: no histogram */
	size_t hist_len;
};

/* Bounded array of windows; the writer swaps it out whole under qmu. */
struct window_queue {
	struct queued_window *v;
	size_t n, cap;
};

struct storage {
	struct storage_opts o;  /* defaults applied; o.path points to path */
	char *path;
	sqlite3 *db;            /* the one connection; used under dbmu only */
	pthread_mutex_t dbmu;

	pthread_mutex_t qmu;    /* guards queue, flush handshake, stats, stop */
	pthread_cond_t wake;    /* writer: time to work */
	pthread_cond_t done;    /* flushers: a cycle finished */
	struct window_queue queue;   /* producers append here */
	struct window_queue backlog; /* writer only: taken, not yet committed */
	uint64_t flush_req, flush_done;
	int flush_rc, stop;
	int64_t last_drop_log_ms;
	struct storage_stats st;

	pthread_t thread;
	int thread_started;
	int64_t last_maint_ms; /* monotonic */

	sqlite3_stmt *ins_window; /* writer.c, prepared once */
	struct series_entry *series; /* uthash, under dbmu */
};

/* schema.c: opens (creating/migrating or refusing) and configures the connection. */
int schema_open(const char *path, const char *vfs, sqlite3 **out, char err[STORAGE_ERR_MAX]);
/* Per-connection settings for every connection the library opens. */
int schema_configure(sqlite3 *db);

/* writer.c */
int writer_start(struct storage *s);
void writer_stop(struct storage *s);
void queue_free(struct window_queue *q);

/* rollup.c: each runs its own short transactions; caller holds dbmu. */
int rollup_run(struct storage *s, int64_t now_ms);
int retention_run(struct storage *s, int64_t now_ms);
int size_cap_run(struct storage *s);
/* Lowers the rollup watermarks to cover rows at or after min_t (inside the
 * caller's write transaction, so late rows are rolled up again). */
int rollup_note_written(sqlite3 *db, int64_t min_t);
uint64_t storage_db_bytes(struct storage *s);

/* series.c */
void series_cache_free(struct storage *s);

/* storage.c */
int64_t storage_now_ms(const struct storage *s);
int64_t storage_mono_ms(void);
/* Records an error in stats and the log (at most once per second per kind). */
void storage_set_error(struct storage *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int storage_exec(sqlite3 *db, const char *sql);
int errno_of_sqlite(int rc);

#endif
