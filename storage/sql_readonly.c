/* The user SQL path: see sql_readonly.h for the fence this file builds. */
#include "sql_readonly.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "hist_blob.h"

/* VM steps between two clock reads: cheap, and fine-grained enough that a
 * runaway statement overshoots its bound by well under a millisecond. */
#define SQLRO_PROGRESS_STEPS 1000
#define SQLRO_BUSY_TIMEOUT_MS 1000

struct sqlro {
	sqlite3 *db;
	char deny[128];      /* why the authorizer refused, for the user */
	int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = no statement running */
	int timed_out;
};

/* ---- allow-lists ---- */

/* Built-in functions a read query may call. Everything else is refused, in
 * particular load_extension(), fts3_tokenizer() (takes a raw pointer) and the
 * FTS/R*Tree internals. Sorted for bsearch. */
static const char *const allowed_functions[] = {
	"->", "->>", "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "avg",
	"ceil", "ceiling", "char", "coalesce", "cos", "cosh", "count", "cume_dist",
	"current_date", "current_time", "current_timestamp", "date", "datetime", "degrees",
	"dense_rank", "exp", "first_value", "floor", "format", "glob", "group_concat", "hex",
	"hist_count", "hist_merge", "hist_quantile", "ifnull", "iif", "instr", "json",
	"json_array", "json_array_length", "json_extract", "json_group_array",
	"json_group_object", "json_insert", "json_object", "json_patch", "json_quote",
	"json_remove", "json_replace", "json_set", "json_type", "json_valid", "julianday", "lag",
	"last_value", "lead", "length", "like", "likelihood", "likely", "ln", "log", "log10",
	"log2", "lower", "ltrim", "max", "min", "mod", "nth_value", "ntile", "nullif",
	"percent_rank", "pi", "pow", "power", "printf", "quote", "radians", "random",
	"randomblob", "rank", "replace", "round", "row_number", "rtrim", "sign", "sin", "sinh",
	"sqlite_source_id", "sqlite_version", "sqrt", "strftime", "substr", "substring", "sum",
	"tan", "tanh", "time", "total", "trim", "trunc", "typeof", "unicode", "unixepoch",
	"unlikely", "upper", "zeroblob",
};

/* PRAGMAs that only describe the schema; their argument is a name, never a
 * new value, so they are allowed with or without one. Sorted. */
static const char *const schema_pragmas[] = {
	"foreign_key_list", "index_info", "index_list", "index_xinfo", "table_info",
	"table_list", "table_xinfo",
};

/* PRAGMAs that read a setting; allowed only without an argument, because
 * with one they would change it (PRAGMA user_version = 7). journal_mode is
 * not here: SQLite counts even its query form as a write. Sorted. */
static const char *const query_pragmas[] = {
	"application_id", "collation_list", "data_version", "encoding", "freelist_count",
	"page_count", "page_size", "schema_version", "user_version",
};

static int cmp_name(const void *key, const void *elem)
{
	return strcasecmp(key, *(const char *const *)elem);
}

static int in_list(const char *name, const char *const *list, size_t n)
{
	return name && bsearch(name, list, n, sizeof(*list), cmp_name) != NULL;
}

#define IN_LIST(name, list) in_list((name), (list), sizeof(list) / sizeof((list)[0]))

/* ---- authorizer ---- */

static int deny(struct sqlro *h, const char *why, const char *name)
{
	/* keep the first reason: it names what the user wrote */
	if (!h->deny[0])
		snprintf(h->deny, sizeof(h->deny), "not allowed: %s%s", why, name ? name : "");
	return SQLITE_DENY;
}

static int authorize_pragma(struct sqlro *h, const char *name, const char *arg)
{
	if (IN_LIST(name, schema_pragmas) || (!arg && IN_LIST(name, query_pragmas)))
		return SQLITE_OK;
	return deny(h, "PRAGMA ", name);
}

static int is_schema_table(const char *name)
{
	return name && (!strcasecmp(name, "sqlite_master") || !strcasecmp(name, "sqlite_schema") ||
			!strcasecmp(name, "sqlite_temp_master") ||
			!strcasecmp(name, "sqlite_temp_schema"));
}

/* Reason for the action codes that are never allowed. */
static const char *refusal(int action, const char *table)
{
	switch (action) {
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		/* CREATE/DROP first ask to write the schema table */
		return is_schema_table(table) ? "schema changes" : "writes";
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return "ATTACH/DETACH";
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return "transactions";
	default:
		/* CREATE_*, DROP_*, ALTER_TABLE, REINDEX, ANALYZE, *_VTABLE */
		return "schema changes";
	}
}

static int authorizer(void *ctx, int action, const char *a1, const char *a2, const char *db,
		      const char *trigger)
{
	struct sqlro *h = ctx;

	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_FUNCTION: /* a1 is NULL, a2 the function name */
		if (IN_LIST(a2, allowed_functions))
			return SQLITE_OK;
		return deny(h, "function ", a2);
	case SQLITE_PRAGMA:
		return authorize_pragma(h, a1, a2);
	case SQLITE_UPDATE:
		/*
		 * The first use of an eponymous virtual table (pragma_table_info,
		 * json_each) on a connection compiles an UPDATE of the schema
		 * table's columns that is never run. Letting it through is safe:
		 * a real write is still refused by sqlite3_stmt_readonly() in
		 * prepare_one(), query_only, DEFENSIVE and the read-only open.
		 */
		if (is_schema_table(a1) && !trigger)
			return SQLITE_OK;
		return deny(h, refusal(action, a1), NULL);
	default:
		return deny(h, refusal(action, a1), NULL);
	}
}

/* ---- time bound ---- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Nonzero interrupts the running statement (sqlite3_step -> SQLITE_INTERRUPT). */
static int progress(void *ctx)
{
	struct sqlro *h = ctx;

	if (h->deadline_ns && mono_ns() >= h->deadline_ns) {
		h->timed_out = 1;
		return 1;
	}
	return 0;
}

/* ---- open ---- */

__attribute__((format(printf, 3, 4))) static void status_set(struct sqlro_status *st,
							       int sqlite_rc, const char *fmt, ...)
{
	va_list ap;

	st->sqlite_rc = sqlite_rc;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
}

/* "file:" URI of path with mode=ro. Percent-encoding '%', '?' and '#' keeps
 * every byte of path literal: no URI parameter can be smuggled in. */
static int ro_uri(const char *path, struct buf *uri)
{
	buf_puts(uri, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			buf_printf(uri, "%%%02X", (unsigned char)*p);
		else
			buf_add(uri, p, 1);
	}
	buf_puts(uri, "?mode=ro");
	return uri->overflow ? -ENAMETOOLONG : 0;
}

/* Everything after the open: each setting narrows what a statement can do. */
static int fence(struct sqlro *h)
{
	sqlite3 *db = h->db;
	int rc = SQLITE_OK;

	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, SQLRO_MAX_VALUE_LENGTH);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, SQLRO_MAX_SQL_LENGTH);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
	if (rc == SQLITE_OK) /* no writable_schema tricks, no shadow-table writes */
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	if (rc == SQLITE_OK) /* functions in views must be innocuous */
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_enable_load_extension(db, 0);
	if (rc == SQLITE_OK) /* a second lock, below the authorizer */
		rc = sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = hist_blob_register(db);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, SQLRO_BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		rc = sqlite3_set_authorizer(db, authorizer, h);
	sqlite3_progress_handler(db, SQLRO_PROGRESS_STEPS, progress, h);
	return rc;
}

int sqlro_open(const char *path, struct sqlro **out, struct sqlro_status *st)
{
	const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
	struct sqlro *h;
	struct buf uri;
	int rc;

	memset(st, 0, sizeof(*st));
	*out = NULL;
	if (!path || !*path) {
		status_set(st, SQLITE_OK, "no database path");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		status_set(st, SQLITE_NOMEM, "out of memory");
		return -ENOMEM;
	}
	buf_init(&uri, 8192);
	if (ro_uri(path, &uri)) {
		buf_free(&uri);
		free(h);
		status_set(st, SQLITE_OK, "database path too long");
		return -EINVAL;
	}
	rc = sqlite3_open_v2(uri.data, &h->db, flags, NULL);
	buf_free(&uri);
	if (rc == SQLITE_OK)
		rc = fence(h);
	if (rc != SQLITE_OK) {
		status_set(st, rc, "cannot open the database read-only: %s",
			   h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
		sqlro_close(h);
		return rc == SQLITE_CANTOPEN ? -ENOENT : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	*out = h;
	return 0;
}

void sqlro_close(struct sqlro *h)
{
	if (!h)
		return;
	sqlite3_close_v2(h->db);
	free(h);
}

/* ---- exec ---- */

/* True when the text after the first statement holds no second one:
 * only whitespace, comments and empty statements (';'). */
static int tail_is_empty(const char *p)
{
	while (*p) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
		    *p == '\v' || *p == ';') {
			p++;
		} else if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");

			/* SQLite, too, reads an unterminated comment to the end */
			p = end ? end + 2 : p + strlen(p);
		} else {
			return 0;
		}
	}
	return 1;
}

/* Maps a prepare failure to errno and message, preferring the authorizer's reason. */
static int prepare_error(struct sqlro *h, int rc, struct sqlro_status *st)
{
	if (h->deny[0]) {
		status_set(st, rc, "%s", h->deny);
		return -EPERM;
	}
	status_set(st, rc, "%s", sqlite3_errmsg(h->db));
	if (rc == SQLITE_TOOBIG)
		return -EFBIG;
	return rc == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
}

/* Prepares the one statement of sql; *stmt is NULL on error. */
static int prepare_one(struct sqlro *h, const char *sql, sqlite3_stmt **stmt,
		       struct sqlro_status *st)
{
	const char *tail = NULL;
	int rc;

	h->deny[0] = '\0';
	rc = sqlite3_prepare_v2(h->db, sql, -1, stmt, &tail);
	if (rc != SQLITE_OK)
		return prepare_error(h, rc, st);
	if (!*stmt) {
		status_set(st, SQLITE_OK, "empty statement");
		return -EINVAL;
	}
	if (!tail_is_empty(tail)) {
		status_set(st, SQLITE_OK, "only one statement is allowed");
		return -EINVAL;
	}
	/* Below the authorizer: statements it has no action code for (VACUUM)
	 * and any that would write, or that return nothing to read. */
	if (!sqlite3_stmt_readonly(*stmt)) {
		status_set(st, SQLITE_OK, "not allowed: writes");
		return -EPERM;
	}
	if (sqlite3_column_count(*stmt) == 0) {
		status_set(st, SQLITE_OK, "not allowed: only statements that return rows");
		return -EPERM;
	}
	return 0;
}

/* Renders column i of the current row into vals[i] (NULL for SQL NULL).
 * Blobs become X'hex' in out, which owns the text until the next row. */
static void column_text(sqlite3_stmt *stmt, int i, struct buf *out, size_t *off)
{
	const unsigned char *b = sqlite3_column_blob(stmt, i);
	int n = sqlite3_column_bytes(stmt, i);

	*off = out->len;
	buf_puts(out, "X'");
	for (int k = 0; k < n; k++)
		buf_printf(out, "%02X", b[k]);
	buf_add(out, "'", 2); /* with the NUL: values are NUL-separated in out */
}

/* Fills vals for the current row; 0, or -ENOMEM. */
static int row_values(sqlite3_stmt *stmt, int ncol, const char **vals, size_t *offs,
		      struct buf *blobs)
{
	buf_reset(blobs);
	for (int i = 0; i < ncol; i++) {
		offs[i] = SIZE_MAX;
		switch (sqlite3_column_type(stmt, i)) {
		case SQLITE_NULL:
			vals[i] = NULL;
			break;
		case SQLITE_BLOB:
			column_text(stmt, i, blobs, &offs[i]);
			break;
		default:
			vals[i] = (const char *)sqlite3_column_text(stmt, i);
			if (!vals[i])
				return -ENOMEM;
		}
	}
	if (blobs->overflow)
		return -EFBIG;
	/* blob texts are placed only now: buf may have moved while growing */
	for (int i = 0; i < ncol; i++)
		if (offs[i] != SIZE_MAX)
			vals[i] = blobs->data + offs[i];
	return 0;
}

struct exec_state {
	struct sqlro *h;
	sqlite3_stmt *stmt;
	int ncol;
	const char **names, **vals;
	size_t *offs;
	struct buf blobs;
};

/* Maps a failed sqlite3_step to errno and message. */
static int step_error(struct exec_state *x, int rc, unsigned max_ms, struct sqlro_status *st)
{
	if (x->h->deny[0]) { /* authorized at run time: VACUUM, pragma_* tables */
		status_set(st, rc, "%s", x->h->deny);
		return -EPERM;
	}
	if (x->h->timed_out) {
		status_set(st, SQLITE_INTERRUPT, "query took longer than %u ms", max_ms);
		return -ETIMEDOUT;
	}
	status_set(st, rc, "%s", sqlite3_errmsg(x->h->db));
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	return rc == SQLITE_TOOBIG ? -EFBIG : -EIO;
}

/* Steps the prepared statement, delivering at most max_rows rows. */
static int run_rows(struct exec_state *x, size_t max_rows, unsigned max_ms, sqlro_row_cb cb,
		    void *ctx, struct sqlro_status *st)
{
	int rc, err;

	if (cb(ctx, x->ncol, x->names, NULL))
		goto cancelled;
	while ((rc = sqlite3_step(x->stmt)) == SQLITE_ROW) {
		if (st->rows == max_rows) {
			/* one row past the bound: proof that the result was cut */
			st->truncated = true;
			return 0;
		}
		err = row_values(x->stmt, x->ncol, x->vals, x->offs, &x->blobs);
		if (err) {
			status_set(st, SQLITE_OK, err == -EFBIG ? "value too large" : "out of memory");
			return err;
		}
		st->rows++;
		if (cb(ctx, x->ncol, x->names, x->vals))
			goto cancelled;
	}
	return rc == SQLITE_DONE ? 0 : step_error(x, rc, max_ms, st);
cancelled:
	status_set(st, SQLITE_OK, "stopped by the caller");
	return -ECANCELED;
}

static int exec_prepared(struct exec_state *x, size_t max_rows, unsigned max_ms, sqlro_row_cb cb,
			 void *ctx, struct sqlro_status *st)
{
	size_t n;

	x->ncol = sqlite3_column_count(x->stmt);
	n = (size_t)x->ncol;
	x->names = calloc(n, sizeof(*x->names));
	x->vals = calloc(n, sizeof(*x->vals));
	x->offs = calloc(n, sizeof(*x->offs));
	if (!x->names || !x->vals || !x->offs) {
		status_set(st, SQLITE_NOMEM, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < x->ncol; i++) {
		x->names[i] = sqlite3_column_name(x->stmt, i);
		if (!x->names[i]) {
			status_set(st, SQLITE_NOMEM, "out of memory");
			return -ENOMEM;
		}
	}
	/* blob texts: hex doubles the size, plus quotes, per column */
	buf_init(&x->blobs, 2 * (size_t)SQLRO_MAX_VALUE_LENGTH * n + 4 * n + 1);
	return run_rows(x, max_rows, max_ms, cb, ctx, st);
}

int sqlro_exec(struct sqlro *h, const char *sql, size_t max_rows, unsigned max_ms,
	       sqlro_row_cb cb, void *ctx, struct sqlro_status *st)
{
	struct exec_state x = { .h = h };
	int err;

	memset(st, 0, sizeof(*st));
	if (!h || !sql || !cb) {
		status_set(st, SQLITE_OK, "invalid arguments");
		return -EINVAL;
	}
	max_rows = max_rows ? max_rows : SQLRO_DEFAULT_MAX_ROWS;
	max_ms = max_ms ? max_ms : SQLRO_DEFAULT_MAX_MS;
	err = prepare_one(h, sql, &x.stmt, st);
	if (!err) {
		h->timed_out = 0;
		h->deadline_ns = mono_ns() + (int64_t)max_ms * 1000000;
		err = exec_prepared(&x, max_rows, max_ms, cb, ctx, st);
		h->deadline_ns = 0;
	}
	sqlite3_finalize(x.stmt);
	buf_free(&x.blobs);
	free(x.names);
	free(x.vals);
	free(x.offs);
	return err;
}
