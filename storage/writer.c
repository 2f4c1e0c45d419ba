/*
 * The writer thread and its bounded queue.
 *
 * Producers append to `queue` under qmu (encoding the histogram into its
 * stored blob outside the lock: tens of bytes to keep instead of a
 * struct latency_hist of kilobytes). Each cycle the writer moves the whole
 * queue into `backlog`, which it alone owns, and commits the backlog in ONE
 * transaction with one prepared INSERT OR REPLACE. If the commit fails (disk
 * full, I/O error) the backlog is kept and retried next cycle; new rows are
 * appended behind it and, beyond the queue capacity, the OLDEST backlog rows
 * are dropped (counted), so memory is bounded by 2 x capacity windows plus
 * their histogram blobs.
 *
 * INSERT OR REPLACE rather than plain INSERT: (series_id, t) identifies a
 * window, and the collector's row for it is authoritative. A retry after a
 * commit whose outcome was unknown, or a collector re-sending a window, then
 * replaces the row instead of failing the whole batch on a PRIMARY KEY conflict
 * (which would block every other row behind it) or double counting it. It
 * writes the same pages as a plain INSERT when there is no conflict (measured,
 * storage/DESIGN.md): window_1s is keyed (t, series_id), so the rows of one
 * flush land side by side at the right edge of its B-tree.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist_blob.h"
#include "log.h"
#include "storage_int.h"

static const char insert_sql[] =
	"INSERT OR REPLACE INTO window_1s (series_id, t, count, sum, sumsq, min, max, hist, lost, "
	"dup, reorder) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

void queue_free(struct window_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].hist_blob);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* Grows q's array (up to cap entries in all); 0 or -ENOMEM. */
static int queue_reserve(struct window_queue *q, size_t want, size_t cap)
{
	size_t n = q->cap ? q->cap : 64;
	void *v;

	if (want <= q->cap)
		return 0;
	while (n < want)
		n *= 2;
	if (n > cap)
		n = cap;
	v = realloc(q->v, n * sizeof(*q->v));
	if (!v)
		return -ENOMEM;
	q->v = v;
	q->cap = n;
	return 0;
}

int storage_put(struct storage *s, const struct storage_window *w)
{
	uint8_t *copy = NULL;
	size_t len = 0;
	int rc = 0, log_drop = 0;
	int64_t now;

	/* a row older than the 1 s retention would be deleted at once, and
	 * re-rolling its minute (whose other 1 s rows are gone) would clobber
	 * the 1 min row with a partial one */
	if (isnan(w->sum) || w->series_id <= 0 ||
	    (s->o.retention_ms[STORAGE_RES_1S] >= 0 &&
	     w->t_ms < storage_now_ms(s) - s->o.retention_ms[STORAGE_RES_1S])) {
		pthread_mutex_lock(&s->qmu);
		s->st.dropped_invalid++;
		pthread_mutex_unlock(&s->qmu);
		return -EINVAL;
	}
	if (w->hist) {
		uint8_t blob[HIST_BLOB_MAX];

		len = hist_blob_encode(w->hist, blob);
		/* data-path buffer: degrade (count and drop), do not abort */
		copy = malloc(len);
		if (copy)
			memcpy(copy, blob, len);
	}
	pthread_mutex_lock(&s->qmu);
	if (w->hist && !copy) {
		s->st.dropped_invalid++;
		rc = -ENOMEM;
	} else if (s->queue.n >= s->o.queue_capacity ||
		   queue_reserve(&s->queue, s->queue.n + 1, s->o.queue_capacity)) {
		/* drop the NEWEST: what is queued is older and already paid for */
		s->st.dropped_queue_full++;
		now = storage_mono_ms();
		if (now - s->last_drop_log_ms >= 1000) {
			s->last_drop_log_ms = now;
			log_drop = 1;
		}
		rc = -ENOBUFS;
	} else {
		struct queued_window *q = &s->queue.v[s->queue.n++];

		q->w = *w;
		q->w.hist = NULL;
		q->hist_blob = copy;
		q->hist_len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&s->qmu);
	free(copy);
	if (log_drop)
		log_warn("storage: queue full (%zu windows), dropping new windows; the writer is "
			 "not keeping up", s->o.queue_capacity);
	return rc;
}

/* Moves the producers' queue behind the backlog; caller holds qmu. */
static void take_queue(struct storage *s)
{
	struct window_queue *q = &s->queue, *b = &s->backlog, tmp;
	size_t cap = s->o.queue_capacity, drop;

	if (b->n == 0) {
		tmp = *b;
		*b = *q;
		*q = tmp;
		return;
	}
	drop = b->n + q->n > cap ? b->n + q->n - cap : 0;
	if (drop > b->n)
		drop = b->n; /* q->n <= cap, so this cannot happen; defensive */
	for (size_t i = 0; i < drop; i++)
		free(b->v[i].hist_blob);
	memmove(b->v, b->v + drop, (b->n - drop) * sizeof(*b->v));
	b->n -= drop;
	s->st.dropped_backlog += drop;
	if (queue_reserve(b, b->n + q->n, cap)) {
		/* no memory to merge: keep the older rows, drop the new ones */
		for (size_t i = 0; i < q->n; i++)
			free(q->v[i].hist_blob);
		s->st.dropped_backlog += q->n;
	} else if (q->n) { /* an empty queue may have no array yet: no memcpy(NULL) */
		memcpy(b->v + b->n, q->v, q->n * sizeof(*q->v));
		b->n += q->n;
	}
	q->n = 0;
}

static void bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static int insert_one(sqlite3_stmt *st, const struct queued_window *q)
{
	const struct storage_window *w = &q->w;
	int rc;

	sqlite3_bind_int64(st, 1, w->series_id);
	sqlite3_bind_int64(st, 2, w->t_ms);
	sqlite3_bind_int64(st, 3, w->count);
	sqlite3_bind_double(st, 4, w->sum);
	bind_real_or_null(st, 5, w->sumsq);
	bind_real_or_null(st, 6, w->min);
	bind_real_or_null(st, 7, w->max);
	if (q->hist_blob)
		sqlite3_bind_blob(st, 8, q->hist_blob, (int)q->hist_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	bind_int_or_null(st, 9, w->lost);
	bind_int_or_null(st, 10, w->dup);
	bind_int_or_null(st, 11, w->reorder);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st); /* the blob binding points into the queue */
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Commits the backlog in one transaction; caller holds dbmu. SQLite rc. */
static int write_backlog(struct storage *s)
{
	struct window_queue *b = &s->backlog;
	int64_t min_t = INT64_MAX;
	int rc;

	if (!s->ins_window &&
	    (rc = sqlite3_prepare_v3(s->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT,
				     &s->ins_window, NULL)))
		return rc;
	rc = storage_exec(s->db, "BEGIN IMMEDIATE");
	for (size_t i = 0; rc == SQLITE_OK && i < b->n; i++) {
		rc = insert_one(s->ins_window, &b->v[i]);
		if (b->v[i].w.t_ms < min_t)
			min_t = b->v[i].w.t_ms;
	}
	if (rc == SQLITE_OK)
		rc = rollup_note_written(s->db, min_t);
	if (rc == SQLITE_OK)
		rc = storage_exec(s->db, "COMMIT");
	if (rc && !sqlite3_get_autocommit(s->db))
		storage_exec(s->db, "ROLLBACK");
	return rc;
}

static void record_write(struct storage *s, int rc, const char *msg)
{
	struct window_queue *b = &s->backlog;

	pthread_mutex_lock(&s->qmu);
	if (rc == SQLITE_OK) {
		s->st.rows_written += b->n;
		s->st.transactions++;
		s->st.last_error[0] = '\0';
		for (size_t i = 0; i < b->n; i++)
			free(b->v[i].hist_blob);
		b->n = 0;
	} else {
		s->st.write_errors++;
	}
	pthread_mutex_unlock(&s->qmu);
	if (rc == SQLITE_OK)
		return;
	if ((rc & 0xff) == SQLITE_FULL)
		storage_set_error(s, "database disk full: %zu windows waiting in memory (%s)", b->n, msg);
	else
		storage_set_error(s, "database write failed (%s): %zu windows waiting in memory", msg,
				  b->n);
}

/* One cycle: write, roll up, and now and then retention. Returns -errno. */
static int cycle(struct storage *s)
{
	int rc = SQLITE_OK;
	int64_t mono = storage_mono_ms();

	pthread_mutex_lock(&s->qmu);
	take_queue(s);
	pthread_mutex_unlock(&s->qmu);
	pthread_mutex_lock(&s->dbmu);
	if (s->backlog.n) {
		rc = write_backlog(s);
		record_write(s, rc, rc ? sqlite3_errmsg(s->db) : "");
	}
	/* while writes fail the disk is the problem; do not add rollup writes */
	if (rc == SQLITE_OK)
		rollup_run(s, storage_now_ms(s));
	if (rc == SQLITE_OK && mono - s->last_maint_ms >= (int64_t)s->o.maintenance_interval_ms) {
		s->last_maint_ms = mono;
		retention_run(s, storage_now_ms(s));
		size_cap_run(s);
	}
	pthread_mutex_unlock(&s->dbmu);
	return errno_of_sqlite(rc);
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *writer_main(void *arg)
{
	struct storage *s = arg;
	struct timespec next;
	uint64_t req;
	int rc, stop;

	deadline_after(&next, s->o.flush_interval_ms);
	pthread_mutex_lock(&s->qmu);
	for (;;) {
		while (!s->stop && s->flush_req == s->flush_done &&
		       pthread_cond_timedwait(&s->wake, &s->qmu, &next) != ETIMEDOUT)
			;
		stop = s->stop;
		req = s->flush_req;
		pthread_mutex_unlock(&s->qmu);
		deadline_after(&next, s->o.flush_interval_ms);
		rc = cycle(s);
		pthread_mutex_lock(&s->qmu);
		s->flush_done = req;
		s->flush_rc = rc;
		pthread_cond_broadcast(&s->done);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&s->qmu);
	return NULL;
}

int storage_flush(struct storage *s)
{
	uint64_t mine;
	int rc;

	pthread_mutex_lock(&s->qmu);
	mine = ++s->flush_req;
	pthread_cond_signal(&s->wake);
	while (s->flush_done < mine)
		pthread_cond_wait(&s->done, &s->qmu);
	rc = s->flush_rc;
	pthread_mutex_unlock(&s->qmu);
	return rc;
}

int writer_start(struct storage *s)
{
	int rc = pthread_create(&s->thread, NULL, writer_main, s);

	s->thread_started = rc == 0;
	return -rc;
}

/* The thread runs one last cycle after seeing stop, so queued rows are written. */
void writer_stop(struct storage *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->qmu);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->qmu);
	pthread_join(s->thread, NULL);
	s->thread_started = 0;
}
