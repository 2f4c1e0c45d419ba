/*
 * Series ids: canonical labels, an in-memory cache (uthash) in front of the
 * series / series_label tables. The cache is guarded by dbmu like the
 * connection, so a lookup that misses can go straight to the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "storage_int.h"
#include "xalloc.h"

struct series_entry {
	UT_hash_handle hh;
	int64_t id;
	int kind;
	char key[]; /* metric '\n' canonical labels */
};

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct storage_label *)a)->key, ((const struct storage_label *)b)->key);
}

static size_t escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += (*s == ',' || *s == '=' || *s == '\\') ? 2 : 1;
	return n;
}

static char *append_escaped(char *p, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '=' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	return p;
}

/* 'k1=v1,k2=v2' with keys sorted; sorted gets the sorted copy of labels. */
static int canonical_labels(const struct storage_label *labels, size_t n,
			    struct storage_label *sorted, char **out)
{
	size_t len = 1;
	char *p;

	if (n)
		memcpy(sorted, labels, n * sizeof(*labels));
	qsort(sorted, n, sizeof(*sorted), cmp_label);
	for (size_t i = 0; i < n; i++) {
		if (!sorted[i].key || !*sorted[i].key || !sorted[i].value)
			return -EINVAL;
		if (i && strcmp(sorted[i - 1].key, sorted[i].key) == 0)
			return -EINVAL;
		len += escaped_len(sorted[i].key) + escaped_len(sorted[i].value) + 2;
	}
	p = *out = xmalloc(len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		p = append_escaped(p, sorted[i].key);
		*p++ = '=';
		p = append_escaped(p, sorted[i].value);
	}
	*p = '\0';
	return 0;
}

static int select_series(sqlite3 *db, const char *metric, const char *labels, int64_t *id,
			 int *kind)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT id, kind FROM series WHERE metric = ?1 AND labels = ?2",
				    -1, &st, NULL);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, labels, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*kind = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	return rc;
}

static int insert_labels(sqlite3 *db, int64_t id, const struct storage_label *l, size_t n)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "INSERT INTO series_label (series_id, key, value) VALUES (?1, ?2, ?3)",
				    -1, &st, NULL);

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, l[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, l[i].value, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Inserts series + series_label rows in one transaction. */
static int create_series(struct storage *s, const char *metric, int kind, const char *labels,
			 const struct storage_label *sorted, size_t n, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = storage_exec(s->db, "BEGIN IMMEDIATE");

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "INSERT INTO series (metric, kind, labels, created) VALUES (?1, ?2, ?3, ?4)",
					-1, &st, NULL);
	if (rc)
		goto out;
	sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_text(st, 3, labels, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, storage_now_ms(s));
	rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
	sqlite3_finalize(st);
	*id = sqlite3_last_insert_rowid(s->db);
	if (rc == SQLITE_OK)
		rc = insert_labels(s->db, *id, sorted, n);
	if (rc == SQLITE_OK)
		rc = storage_exec(s->db, "COMMIT");
out:
	if (rc) {
		storage_set_error(s, "creating series %s{%s}: %s", metric, labels, sqlite3_errmsg(s->db));
		storage_exec(s->db, "ROLLBACK");
	}
	return rc;
}

static int lookup_or_create(struct storage *s, const char *metric, int kind, const char *labels,
			    const struct storage_label *sorted, size_t n, int64_t *id, int *found_kind)
{
	int rc = select_series(s->db, metric, labels, id, found_kind);

	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE) {
		storage_set_error(s, "looking up series %s: %s", metric, sqlite3_errmsg(s->db));
		return errno_of_sqlite(rc);
	}
	*found_kind = kind;
	return errno_of_sqlite(create_series(s, metric, kind, labels, sorted, n, id));
}

int storage_series(struct storage *s, const char *metric, int kind,
		   const struct storage_label *labels, size_t n, int64_t *id)
{
	struct storage_label *sorted;
	struct series_entry *e;
	char *canon = NULL, *key;
	size_t mlen;
	int rc, found_kind = kind;

	if (!metric || !*metric || strchr(metric, '\n') || (n && !labels) ||
	    (kind != STORAGE_KIND_DISTRIBUTION && kind != STORAGE_KIND_COUNTER))
		return -EINVAL;
	sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
	rc = canonical_labels(labels, n, sorted, &canon);
	if (rc)
		goto out;
	mlen = strlen(metric);
	key = xmalloc(mlen + strlen(canon) + 2);
	sprintf(key, "%s\n%s", metric, canon);
	pthread_mutex_lock(&s->dbmu);
	HASH_FIND_STR(s->series, key, e);
	if (e) {
		*id = e->id;
		found_kind = e->kind;
	} else {
		rc = lookup_or_create(s, metric, kind, canon, sorted, n, id, &found_kind);
		if (rc == 0) {
			e = xmalloc(sizeof(*e) + strlen(key) + 1);
			strcpy(e->key, key);
			e->id = *id;
			e->kind = found_kind;
			HASH_ADD_STR(s->series, key, e);
		}
	}
	pthread_mutex_unlock(&s->dbmu);
	if (rc == 0 && found_kind != kind)
		rc = -EEXIST;
	free(key);
out:
	free(canon);
	free(sorted);
	return rc;
}

void series_cache_free(struct storage *s)
{
	struct series_entry *e, *tmp;

	HASH_ITER(hh, s->series, e, tmp) {
		HASH_DEL(s->series, e);
		free(e);
	}
}
