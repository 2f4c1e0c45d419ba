/*
 * The C query API the HTTP layer uses: pure functions over a read connection
 * that the caller owns (opened on the history database, with the hist_*
 * functions registered: hist_blob_register()). Nothing here writes.
 *
 * Return convention: 0, or a negative errno:
 *   -EINVAL  bad arguments (NULL, t_from >= t_to, max_points 0 or above
 *            QUERY_MAX_POINTS, more than QUERY_MAX_MATCHERS matchers,
 *            a key or value longer than QUERY_MAX_VALUE)
 *   -ENOMEM  allocation failed
 *   -ECANCELED  a callback returned nonzero
 *   -EIO     SQLite failed (query_last_sqlite_rc() of the thread tells which)
 * Times are unix ms; value columns are in the units of storage/DESIGN.md
 * (distributions in seconds; counters: sum = increase).
 */
#ifndef XDPROBE_QUERY_H
#define XDPROBE_QUERY_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

#define QUERY_MAX_MATCHERS 16
#define QUERY_MAX_VALUE 256      /* bytes of a matcher key or value */
#define QUERY_MAX_POINTS 10000   /* per result: bounds every allocation */
/* With QUERY_REBUCKET, a resolution may be read at up to this many windows
 * per output point before a coarser one is preferred. */
#define QUERY_REBUCKET_SCAN 60
/* window_1s is keyed by time (storage/DESIGN.md): reading it for one series
 * reads every series in the range. It is therefore only read for ranges of at
 * most this many ms (2 h 46 min 40 s, the most 1 s points a result can hold),
 * with or without QUERY_REBUCKET. */
#define QUERY_1S_MAX_RANGE_MS (QUERY_MAX_POINTS * 1000LL)

enum query_op {
	QUERY_EQ,     /* key=value: the series has the label with that value */
	QUERY_NE,     /* key!=value: it has not (a series without the label matches) */
	QUERY_PREFIX, /* key^=prefix: it has the label and the value starts with prefix */
};

/* A label matcher; key "__name__" matches the metric name instead. */
struct query_match {
	const char *key;
	enum query_op op;
	const char *value;
};

/* Parses "key=value", "key!=value" or "key^=prefix" into m, pointing into
 * buf (which it modifies). 0 or -EINVAL. */
int query_match_parse(char *buf, struct query_match *m);

struct query_series_row {
	int64_t id;
	const char *metric;
	int kind; /* 0 distribution, 1 counter */
	const char *labels; /* canonical 'k1=v1,k2=v2' */
};

/* Called per series, ordered by id; strings valid during the call only. */
typedef int (*query_series_cb)(void *ctx, const struct query_series_row *row);

/* Lists the series of metric (NULL: any) matching all n matchers. */
int query_series(struct sqlite3 *db, const char *metric, const struct query_match *m, size_t n,
		 query_series_cb cb, void *ctx);

enum query_resolution { QUERY_RES_1S = 0, QUERY_RES_1M, QUERY_RES_1H, QUERY_RES_COUNT };

/* One point: the merge of the windows whose start falls in [t, t + step_ms).
 * Absent values (counters have no min/max/hist; probe counters may be NULL)
 * are NAN for doubles and -1 for lost/dup/reorder. */
struct query_point {
	int64_t t;
	int64_t count;
	double sum, min, max, mean;
	double p50, p90, p99;
	int64_t lost, dup, reorder;
};

struct query_result {
	enum query_resolution res; /* table the points were read from */
	int64_t step_ms;           /* width of one point: the resolution, or a multiple */
	struct query_point *v;     /* n points, increasing t, empty buckets omitted */
	size_t n;
};

/* Frees r->v and zeroes r; safe on a zeroed or already freed result. */
void query_result_free(struct query_result *r);

/*
 * Flags of query_range_ex / query_aggregate_ex.
 * QUERY_REBUCKET: read the finest resolution that has data for the range and
 * at most max_points * QUERY_REBUCKET_SCAN windows in it, then merge adjacent
 * windows into steps of k whole windows so that about max_points points come
 * out (at most max_points; fewer when the range is not a multiple of the step).
 */
#define QUERY_REBUCKET 0x1u

/*
 * Reads one series over [t_from, t_to) at the finest of 1s/1m/1h that
 * (a) has at most max_points windows in the range and (b) still holds the
 * data at t_from: a resolution whose first row is later than t_from while a
 * coarser one has rows before that is taken to have lost the start to
 * retention, and the next coarser one is used. When even 1h has too many
 * windows, adjacent windows are merged (as with QUERY_REBUCKET) so the result
 * never exceeds max_points. 1s is only considered for ranges of at most
 * QUERY_1S_MAX_RANGE_MS, so over a longer range a series whose rows are all
 * still in 1s (younger than its first rollup, about a minute) reads as empty.
 * Points are aligned to multiples of step_ms since the epoch; the first may
 * start before t_from (it contains t_from).
 */
int query_range(struct sqlite3 *db, int64_t series_id, int64_t t_from, int64_t t_to,
		size_t max_points, struct query_result *out);
int query_range_ex(struct sqlite3 *db, int64_t series_id, int64_t t_from, int64_t t_to,
		   size_t max_points, unsigned flags, struct query_result *out);

/*
 * Like query_range, across every series matching the matchers (use
 * "__name__" to pick the metric; mixing distributions and counters sums
 * meaningless things): per point, counts/sums/lost/dup/reorder add, min/max
 * are extremes, percentiles come from the merged histograms.
 */
int query_aggregate(struct sqlite3 *db, const struct query_match *m, size_t n, int64_t t_from,
		    int64_t t_to, size_t max_points, struct query_result *out);
int query_aggregate_ex(struct sqlite3 *db, const struct query_match *m, size_t n, int64_t t_from,
		       int64_t t_to, size_t max_points, unsigned flags, struct query_result *out);

/* The SQLite result code behind the calling thread's last -EIO. */
int query_last_sqlite_rc(void);

#endif
