/* Lifecycle and stats of struct storage: open, close, stats, clocks, errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "storage_int.h"
#include "xalloc.h"

#define DAY_MS (24LL * 3600 * 1000)

static const int64_t default_retention[STORAGE_RES_COUNT] = { DAY_MS, 31 * DAY_MS,
							      5 * 365 * DAY_MS };

int64_t storage_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t storage_now_ms(const struct storage *s)
{
	struct timespec ts;

	if (s->o.now_ms)
		return s->o.now_ms(s->o.now_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void storage_set_error(struct storage *s, const char *fmt, ...)
{
	static int64_t last_log_ms; /* rate limit across instances: at most 1/s */
	char msg[STORAGE_ERR_MAX];
	int64_t now = storage_mono_ms();
	int log_it;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->qmu);
	memcpy(s->st.last_error, msg, sizeof(msg));
	log_it = now - last_log_ms >= 1000 || !last_log_ms;
	if (log_it)
		last_log_ms = now;
	pthread_mutex_unlock(&s->qmu);
	if (log_it)
		log_error("storage: %s: %s", s->path, msg);
}

static void apply_defaults(struct storage_opts *o)
{
	if (!o->flush_interval_ms)
		o->flush_interval_ms = 1000;
	if (!o->queue_capacity)
		o->queue_capacity = 16384;
	for (int r = 0; r < STORAGE_RES_COUNT; r++)
		if (!o->retention_ms[r])
			o->retention_ms[r] = default_retention[r];
	if (!o->maintenance_interval_ms)
		o->maintenance_interval_ms = 60000;
	if (!o->rollup_delay_ms)
		o->rollup_delay_ms = 5000;
}

static struct storage *storage_new(const struct storage_opts *o)
{
	struct storage *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t ca;

	s->o = *o;
	apply_defaults(&s->o);
	s->path = xstrdup(o->path);
	s->o.path = s->path;
	pthread_mutex_init(&s->dbmu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the writer's deadline clock */
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->done, NULL);
	s->last_maint_ms = storage_mono_ms();
	return s;
}

static void storage_free(struct storage *s)
{
	sqlite3_finalize(s->ins_window);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_error("storage: closing %s: %s", s->path, sqlite3_errmsg(s->db));
	series_cache_free(s);
	queue_free(&s->queue);
	queue_free(&s->backlog);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->qmu);
	pthread_mutex_destroy(&s->dbmu);
	free(s->path);
	free(s);
}

int storage_open(struct storage **out, const struct storage_opts *o, char err[STORAGE_ERR_MAX])
{
	struct storage *s;
	int rc;

	*out = NULL;
	err[0] = '\0';
	if (!o || !o->path || !*o->path) {
		snprintf(err, STORAGE_ERR_MAX, "no storage path configured");
		return -EINVAL;
	}
	s = storage_new(o);
	rc = schema_open(s->path, s->o.vfs, &s->db, err);
	if (rc == 0) {
		rc = writer_start(s);
		if (rc)
			snprintf(err, STORAGE_ERR_MAX, "%s: cannot start the writer thread: %s",
				 s->path, strerror(-rc));
	}
	if (rc) {
		storage_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int storage_maintain(struct storage *s)
{
	int rc;

	pthread_mutex_lock(&s->dbmu);
	rc = retention_run(s, storage_now_ms(s));
	if (rc == SQLITE_OK)
		rc = size_cap_run(s);
	pthread_mutex_unlock(&s->dbmu);
	return errno_of_sqlite(rc);
}

void storage_stats(struct storage *s, struct storage_stats *st)
{
	uint64_t bytes = storage_db_bytes(s);

	pthread_mutex_lock(&s->qmu);
	*st = s->st;
	st->pending = s->queue.n + s->backlog.n;
	pthread_mutex_unlock(&s->qmu);
	st->db_bytes = bytes;
}

void storage_close(struct storage *s)
{
	if (!s)
		return;
	writer_stop(s);
	storage_free(s);
}
