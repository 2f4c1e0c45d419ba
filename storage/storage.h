/*
 * On-device history in SQLite: the public API of xdprobe_storage.
 * The schema and its meaning are specified in storage/DESIGN.md.
 *
 * Threads: one `struct storage` owns one SQLite connection and one writer
 * thread. All functions below may be called from any thread, except that
 * storage_close() must be the last call and must not race any other call.
 * storage_put() never waits for I/O: it appends to a bounded in-memory queue
 * under a mutex held only for a copy. storage_series() may wait for the
 * writer's current transaction the first time a (metric, labels) is seen;
 * later calls for the same series hit an in-memory cache.
 *
 * Return convention: 0 on success, a negative errno on failure (the SQLite
 * detail goes to storage_stats().last_error and the log).
 */
#ifndef XDPROBE_STORAGE_H
#define XDPROBE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct latency_hist;
struct storage;

#define STORAGE_ERR_MAX 512
#define STORAGE_APPLICATION_ID 1480872018 /* 0x58445052 'XDPR' */
#define STORAGE_SCHEMA_VERSION 1

enum storage_kind { STORAGE_KIND_DISTRIBUTION = 0, STORAGE_KIND_COUNTER = 1 };
enum storage_resolution { STORAGE_RES_1S = 0, STORAGE_RES_1M, STORAGE_RES_1H, STORAGE_RES_COUNT };

/* Zero means "default" for every numeric field. */
struct storage_opts {
	const char *path;                  /* database file; created when absent or empty */
	uint32_t flush_interval_ms;        /* writer period; default 1000 */
	size_t queue_capacity;             /* windows held in memory; default 16384 */
	int64_t retention_ms[STORAGE_RES_COUNT]; /* default 1 d, 31 d, 5 y; < 0 keeps forever */
	uint64_t size_cap_bytes;           /* database + WAL; 0 = no cap */
	uint32_t maintenance_interval_ms;  /* retention and size cap period; default 60000 */
	uint32_t rollup_delay_ms;          /* a minute is rolled up this long after it ends; default 5000 */
	const char *vfs;                   /* SQLite VFS name, NULL = default (tests inject faults) */
	int64_t (*now_ms)(void *ctx);      /* wall clock in unix ms, NULL = CLOCK_REALTIME (tests) */
	void *now_ctx;
};

struct storage_label {
	const char *key;
	const char *value;
};

/*
 * One collector window. Whatever the collector's window length (the daemon
 * drains every `window`, default 1 s), a window is stored as ONE row of
 * window_1s with t = its start; rollups group rows by the minute/hour their
 * start falls in, so longer windows roll up correctly as long as they do not
 * straddle a minute boundary (a window is attributed to the minute it starts in).
 * Distributions: count/sum/sumsq/min/max in seconds; counters: count = 1,
 * sum = increase, the rest NAN / NULL. lost/dup/reorder: -1 = NULL.
 */
struct storage_window {
	int64_t series_id;
	int64_t t_ms; /* window start, unix ms */
	int64_t count;
	double sum, sumsq, min, max; /* NAN = NULL (sum must not be NAN) */
	const struct latency_hist *hist; /* NULL = no histogram; copied by storage_put */
	int64_t lost, dup, reorder;
};

struct storage_stats {
	uint64_t rows_written;       /* rows committed to window_1s */
	uint64_t transactions;       /* committed write transactions */
	uint64_t dropped_queue_full; /* storage_put refused: queue full (newest dropped) */
	uint64_t dropped_backlog;    /* oldest rows dropped while the disk could not take them */
	uint64_t dropped_invalid;    /* rows rejected (bad series id, NaN sum, too old, no memory) */
	uint64_t write_errors;       /* failed write transactions (rows kept for retry) */
	uint64_t rollup_rows;        /* rows written to window_1m and window_1h */
	uint64_t retention_deleted;  /* rows deleted by retention and the size cap */
	uint64_t pending;            /* windows in memory, not yet committed */
	uint64_t db_bytes;           /* database file + WAL on disk */
	char last_error[STORAGE_ERR_MAX]; /* "" when the last write succeeded */
};

/*
 * Opens (creating or migrating) the database and starts the writer thread.
 * Refuses, without modifying it, a file that is not SQLite, belongs to another
 * application, has foreign tables, is corrupt or has a newer schema: returns a
 * negative errno and a message in err saying what was found and what to do.
 */
int storage_open(struct storage **out, const struct storage_opts *o, char err[STORAGE_ERR_MAX]);

/*
 * Finds or creates the series (metric, kind, labels) and returns its id.
 * Labels are canonicalised (sorted by key, ',' '=' '\' escaped); order does not
 * matter, duplicate or empty keys are -EINVAL. A known metric+labels with a
 * different kind is -EEXIST. The strings are not retained.
 */
int storage_series(struct storage *s, const char *metric, int kind,
		   const struct storage_label *labels, size_t n, int64_t *id);

/*
 * Enqueues one window without waiting for I/O; w is copied and w->hist encoded
 * (into the stored blob: the caller may reuse both at once).
 * -ENOBUFS when the queue is full (the row is dropped and counted),
 * -EINVAL for a NaN sum, a series id <= 0 or a window older than the 1 s
 * retention (counted in dropped_invalid), -ENOMEM when the histogram copy
 * cannot be allocated.
 */
int storage_put(struct storage *s, const struct storage_window *w);

/* Writes everything queued so far and runs the rollups, synchronously.
 * Returns the write result (-EIO / -ENOSPC; rows are then kept for retry). */
int storage_flush(struct storage *s);

/* Runs retention and the size cap now, synchronously (tests, shutdown). */
int storage_maintain(struct storage *s);

void storage_stats(struct storage *s, struct storage_stats *st);

/* Flushes, stops the writer thread, closes the database, frees s. NULL is a no-op. */
void storage_close(struct storage *s);

#endif
