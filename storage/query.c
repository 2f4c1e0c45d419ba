/*
 * The C query API (query.h): series listing with label matchers, range reads
 * with automatic resolution, and aggregation across series. All SQL is built
 * from constant fragments; every user string is a bound parameter.
 */
#include "query.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define SQL_MAX 4096
/* Parameters ?1..?3 are the step and the time bounds, ?4 a series id;
 * matcher values follow. */
#define SERIES_PARAM 4
#define FIRST_MATCH_PARAM 5
#define MAX_T_MS (INT64_C(1) << 52) /* far beyond year 100000: no overflow below */

static const int64_t res_ms[QUERY_RES_COUNT] = { 1000, 60000, 3600000 };
static const char *const res_table[QUERY_RES_COUNT] = { "window_1s", "window_1m", "window_1h" };
/* Key order (storage/DESIGN.md): window_1s is PRIMARY KEY (t, series_id), the
 * others (series_id, t). A read of a table keyed by time costs every row of
 * every series in its t range, so such a table is read only for ranges of at
 * most QUERY_1S_MAX_RANGE_MS. */
static const bool res_by_time[QUERY_RES_COUNT] = { true, false, false };

static _Thread_local int last_rc;

int query_last_sqlite_rc(void)
{
	return last_rc;
}

/* Records an SQLite failure for the caller and the log; returns -EIO/-ENOMEM. */
static int sql_fail(sqlite3 *db, int rc, const char *what)
{
	last_rc = rc;
	log_warn("query: %s: %s", what, sqlite3_errmsg(db));
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

/* ---- matchers ---- */

int query_match_parse(char *s, struct query_match *m)
{
	char *op = strpbrk(s, "!^=");

	if (!op || op == s)
		return -EINVAL;
	m->key = s;
	if (op[0] == '=') {
		m->op = QUERY_EQ;
		m->value = op + 1;
	} else if (op[1] == '=') {
		m->op = op[0] == '!' ? QUERY_NE : QUERY_PREFIX;
		m->value = op + 2;
	} else {
		return -EINVAL;
	}
	*op = '\0';
	return 0;
}

/* Values bound after prepare, in parameter order from FIRST_MATCH_PARAM. */
struct binds {
	const char *v[3 * QUERY_MAX_MATCHERS + 1];
	int n;
	/* prefix upper bounds: prefix + 0xFF, above any UTF-8 continuation */
	char upper[QUERY_MAX_MATCHERS][QUERY_MAX_VALUE + 2];
};

static int validate(const char *metric, const struct query_match *m, size_t n)
{
	if (n > QUERY_MAX_MATCHERS || (n && !m) || (metric && strlen(metric) > QUERY_MAX_VALUE))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!m[i].key || !m[i].value || strlen(m[i].key) > QUERY_MAX_VALUE ||
		    strlen(m[i].value) > QUERY_MAX_VALUE || m[i].op > QUERY_PREFIX)
			return -EINVAL;
	}
	return 0;
}

static int param(struct binds *b, const char *v)
{
	b->v[b->n] = v;
	return FIRST_MATCH_PARAM + b->n++;
}

/* One matcher on the metric column (key "__name__"). */
static void match_metric(struct buf *sql, const struct query_match *m, struct binds *b, char *up)
{
	if (m->op == QUERY_EQ) {
		buf_printf(sql, " AND s.metric = ?%d", param(b, m->value));
	} else if (m->op == QUERY_NE) {
		buf_printf(sql, " AND s.metric <> ?%d", param(b, m->value));
	} else {
		buf_printf(sql, " AND s.metric >= ?%d", param(b, m->value));
		buf_printf(sql, " AND s.metric < ?%d", param(b, up));
	}
}

/* One label matcher: a lookup in series_label's (key, value) index. */
static void match_label(struct buf *sql, const struct query_match *m, struct binds *b, char *up)
{
	int k = param(b, m->key), v = param(b, m->value);

	buf_printf(sql, " AND s.id %sIN (SELECT series_id FROM series_label WHERE key = ?%d AND ",
		   m->op == QUERY_NE ? "NOT " : "", k);
	if (m->op == QUERY_PREFIX)
		buf_printf(sql, "value >= ?%d AND value < ?%d)", v, param(b, up));
	else
		buf_printf(sql, "value = ?%d)", v);
}

/* Appends " AND ..." restricting series s to metric and the matchers. */
static void series_filter(struct buf *sql, const char *metric, const struct query_match *m,
			  size_t n, struct binds *b)
{
	if (metric)
		buf_printf(sql, " AND s.metric = ?%d", param(b, metric));
	for (size_t i = 0; i < n; i++) {
		char *up = b->upper[i];

		snprintf(up, sizeof(b->upper[i]), "%s\xff", m[i].value);
		if (strcmp(m[i].key, "__name__") == 0)
			match_metric(sql, &m[i], b, up);
		else
			match_label(sql, &m[i], b, up);
	}
}

static int bind_all(sqlite3_stmt *st, const struct binds *b)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < b->n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_text(st, FIRST_MATCH_PARAM + i, b->v[i], -1, SQLITE_STATIC);
	return rc;
}

/* Prepares sql and binds the matcher values. */
static int prepare(sqlite3 *db, const struct buf *sql, const struct binds *b, sqlite3_stmt **st)
{
	int rc;

	*st = NULL;
	if (sql->overflow)
		return -EINVAL; /* cannot happen within the matcher bounds */
	rc = sqlite3_prepare_v2(db, sql->data, -1, st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_all(*st, b);
	return rc == SQLITE_OK ? 0 : sql_fail(db, rc, "prepare");
}

/* ---- query_series ---- */

int query_series(sqlite3 *db, const char *metric, const struct query_match *m, size_t n,
		 query_series_cb cb, void *ctx)
{
	char text[SQL_MAX];
	struct buf sql;
	struct binds b = { .n = 0 };
	sqlite3_stmt *st;
	int rc, err;

	if (!db || !cb || validate(metric, m, n))
		return -EINVAL;
	buf_init_fixed(&sql, text, sizeof(text));
	buf_puts(&sql, "SELECT s.id, s.metric, s.kind, s.labels FROM series s WHERE 1");
	series_filter(&sql, metric, m, n, &b);
	buf_puts(&sql, " ORDER BY s.id");
	err = prepare(db, &sql, &b, &st);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct query_series_row row = {
			.id = sqlite3_column_int64(st, 0),
			.metric = (const char *)sqlite3_column_text(st, 1),
			.kind = sqlite3_column_int(st, 2),
			.labels = (const char *)sqlite3_column_text(st, 3),
		};

		if (cb(ctx, &row))
			err = -ECANCELED;
	}
	if (!err && rc != SQLITE_DONE)
		err = sql_fail(db, rc, "series");
	sqlite3_finalize(st);
	return err;
}

/* ---- resolution choice ---- */

/* Which series a range or aggregate reads: one id, or matchers. */
struct selector {
	int64_t id; /* when by_id */
	bool by_id;
	const struct query_match *m;
	size_t n;
};

static int64_t floor_to(int64_t t, int64_t step)
{
	return t / step * step;
}

/* Points (or windows) of width step that cover [from, to). */
static int64_t buckets(int64_t from, int64_t to, int64_t step)
{
	return (to - floor_to(from, step) + step - 1) / step;
}

/*
 * Earliest window start per resolution; has[r] = 0 when there is none.
 * Keyed by series: the earliest row of the selected series (one primary-key
 * seek per series). Keyed by time: the earliest row of the table, whatever
 * the series (one seek at the left edge of the key; a per-series minimum
 * would scan until that series' first row, the whole table for a series
 * without rows). Retention and the size cap trim such a table by t for all
 * series at once, so its first row is where its coverage starts.
 */
static int first_rows(sqlite3 *db, const struct selector *sel, int64_t first[], bool has[])
{
	for (int r = 0; r < QUERY_RES_COUNT; r++) {
		char text[SQL_MAX];
		struct buf sql;
		struct binds b = { .n = 0 };
		sqlite3_stmt *st;
		int rc, err;

		buf_init_fixed(&sql, text, sizeof(text));
		if (res_by_time[r]) {
			buf_printf(&sql, "SELECT min(t) FROM %s", res_table[r]);
		} else {
			buf_printf(&sql, "SELECT min((SELECT min(w.t) FROM %s w WHERE "
				   "w.series_id = s.id)) FROM series s WHERE ", res_table[r]);
			buf_puts(&sql, sel->by_id ? "s.id = ?4" : "1");
			series_filter(&sql, NULL, sel->m, sel->n, &b);
		}
		err = prepare(db, &sql, &b, &st);
		if (err)
			return err;
		if (!res_by_time[r])
			sqlite3_bind_int64(st, SERIES_PARAM, sel->id);
		rc = sqlite3_step(st);
		has[r] = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
		first[r] = has[r] ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return sql_fail(db, rc, "first rows");
	}
	return 0;
}

/* True when resolution r cannot serve a range from t_from: it has no rows,
 * or retention removed its start (a coarser table has a window that ends
 * before r's first window begins). */
static bool lost_start(const int64_t first[], const bool has[], int r, int64_t t_from)
{
	if (!has[r])
		return true;
	if (first[r] <= t_from)
		return false;
	for (int c = r + 1; c < QUERY_RES_COUNT; c++)
		if (has[c] && first[c] < floor_to(first[r], res_ms[c]))
			return true;
	return false;
}

/* Whether reading resolution r over [from, to) stays within the scan bound. */
static bool readable(int r, int64_t from, int64_t to)
{
	return !res_by_time[r] || to - floor_to(from, res_ms[r]) <= QUERY_1S_MAX_RANGE_MS;
}

static int pick_resolution(const int64_t first[], const bool has[], int64_t from, int64_t to,
			   int64_t limit)
{
	for (int r = 0; r < QUERY_RES_COUNT; r++)
		if (!lost_start(first, has, r, from) && buckets(from, to, res_ms[r]) <= limit &&
		    readable(r, from, to))
			return r;
	/* too many windows everywhere: the coarsest that has the data, merged */
	for (int r = QUERY_RES_COUNT - 1; r >= 0; r--)
		if (!lost_start(first, has, r, from) && readable(r, from, to))
			return r;
	/* no data at all (or only in a table too costly to scan for this
	 * range): an empty result from the finest table keyed by series */
	for (int r = 0; r < QUERY_RES_COUNT; r++)
		if (!res_by_time[r])
			return r;
	return QUERY_RES_1S;
}

/* Smallest whole multiple of the resolution that fits the range in max points. */
static int64_t pick_step(int64_t res, int64_t from, int64_t to, int64_t max_points)
{
	int64_t k = (buckets(from, to, res) + max_points - 1) / max_points;

	while (buckets(from, to, k * res) > max_points)
		k++; /* alignment can add one point: at most a step or two */
	return k * res;
}

/* ---- reading points ---- */

static double col_double(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int64_t col_count(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static void read_point(sqlite3_stmt *st, struct query_point *p)
{
	p->t = sqlite3_column_int64(st, 0);
	p->count = sqlite3_column_int64(st, 1);
	p->sum = sqlite3_column_double(st, 2);
	p->min = col_double(st, 3);
	p->max = col_double(st, 4);
	p->mean = p->count > 0 ? p->sum / (double)p->count : NAN;
	p->p50 = col_double(st, 5);
	p->p90 = col_double(st, 6);
	p->p99 = col_double(st, 7);
	p->lost = col_count(st, 8);
	p->dup = col_count(st, 9);
	p->reorder = col_count(st, 10);
}

/* The merge of each step: ?1 step, ?2 first window, ?3 end (exclusive). */
static void points_sql(struct buf *sql, int r, const struct selector *sel, struct binds *b)
{
	buf_puts(sql, "SELECT bt, c, su, mn, mx, hist_quantile(h, 0.5), hist_quantile(h, 0.9), "
		      "hist_quantile(h, 0.99), l, d, ro FROM (SELECT (w.t / ?1) * ?1 AS bt, "
		      "sum(w.count) AS c, total(w.sum) AS su, min(w.min) AS mn, max(w.max) AS mx, "
		      "hist_merge(w.hist) AS h, sum(w.lost) AS l, sum(w.dup) AS d, "
		      "sum(w.reorder) AS ro FROM ");
	buf_printf(sql, "%s w WHERE w.t >= ?2 AND w.t < ?3 AND ", res_table[r]);
	if (sel->by_id) {
		buf_puts(sql, "w.series_id = ?4");
	} else {
		buf_puts(sql, "w.series_id IN (SELECT s.id FROM series s WHERE 1");
		series_filter(sql, NULL, sel->m, sel->n, b);
		buf_puts(sql, ")");
	}
	buf_puts(sql, " GROUP BY bt ORDER BY bt)");
}

static int read_points(sqlite3 *db, int r, const struct selector *sel, int64_t from, int64_t to,
		       size_t cap, struct query_result *out)
{
	char text[SQL_MAX];
	struct buf sql;
	struct binds b = { .n = 0 };
	sqlite3_stmt *st;
	int rc, err;

	buf_init_fixed(&sql, text, sizeof(text));
	points_sql(&sql, r, sel, &b);
	err = prepare(db, &sql, &b, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, out->step_ms);
	sqlite3_bind_int64(st, 2, floor_to(from, out->step_ms));
	sqlite3_bind_int64(st, 3, to);
	sqlite3_bind_int64(st, SERIES_PARAM, sel->id);
	/* cap is the number of steps in the range: GROUP BY cannot exceed it */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < cap)
		read_point(st, &out->v[out->n++]);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = sql_fail(db, rc, "points");
	sqlite3_finalize(st);
	return err;
}

static int query_points(sqlite3 *db, const struct selector *sel, int64_t from, int64_t to,
			size_t max_points, unsigned flags, struct query_result *out)
{
	int64_t first[QUERY_RES_COUNT], limit = (int64_t)max_points;
	bool has[QUERY_RES_COUNT];
	size_t cap;
	int err, r;

	memset(out, 0, sizeof(*out));
	if (!db || from < 0 || to <= from || to > MAX_T_MS || !max_points ||
	    max_points > QUERY_MAX_POINTS || (flags & ~QUERY_REBUCKET))
		return -EINVAL;
	err = first_rows(db, sel, first, has);
	if (err)
		return err;
	if (flags & QUERY_REBUCKET)
		limit *= QUERY_REBUCKET_SCAN;
	r = pick_resolution(first, has, from, to, limit);
	out->res = (enum query_resolution)r;
	out->step_ms = pick_step(res_ms[r], from, to, (int64_t)max_points);
	cap = (size_t)buckets(from, to, out->step_ms);
	out->v = calloc(cap, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	err = read_points(db, r, sel, from, to, cap, out);
	if (err)
		query_result_free(out);
	return err;
}

void query_result_free(struct query_result *r)
{
	if (!r)
		return;
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int query_range_ex(sqlite3 *db, int64_t series_id, int64_t t_from, int64_t t_to,
		   size_t max_points, unsigned flags, struct query_result *out)
{
	struct selector sel = { .id = series_id, .by_id = true };

	return query_points(db, &sel, t_from, t_to, max_points, flags, out);
}

int query_range(sqlite3 *db, int64_t series_id, int64_t t_from, int64_t t_to,
		size_t max_points, struct query_result *out)
{
	return query_range_ex(db, series_id, t_from, t_to, max_points, 0, out);
}

int query_aggregate_ex(sqlite3 *db, const struct query_match *m, size_t n, int64_t t_from,
		       int64_t t_to, size_t max_points, unsigned flags, struct query_result *out)
{
	struct selector sel = { .m = m, .n = n };

	if (validate(NULL, m, n)) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return query_points(db, &sel, t_from, t_to, max_points, flags, out);
}

int query_aggregate(sqlite3 *db, const struct query_match *m, size_t n, int64_t t_from,
		    int64_t t_to, size_t max_points, struct query_result *out)
{
	return query_aggregate_ex(db, m, n, t_from, t_to, max_points, 0, out);
}
