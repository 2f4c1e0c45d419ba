/*
 * The user SQL path: `xdprobe query "SELECT ..."` and a future API endpoint.
 *
 * A separate read-only connection on the history database, fenced so that a
 * user statement can neither change the file nor the filesystem, nor run
 * longer or return more than its caller allows:
 *  - opened SQLITE_OPEN_READONLY (URI mode=ro), defensive, untrusted schema;
 *  - no extension loading, no ATTACH (limit 0), bounded string/SQL lengths;
 *  - an authorizer that admits only reads (SELECT, column reads, recursive
 *    CTEs, an allow-list of functions and of read-only PRAGMAs);
 *  - exactly one statement, which must return rows;
 *  - a wall-time bound (progress handler on CLOCK_MONOTONIC) and a row bound.
 * One handle is one connection: use it from one thread at a time.
 */
#ifndef XDPROBE_SQL_READONLY_H
#define XDPROBE_SQL_READONLY_H

#include <stdbool.h>
#include <stddef.h>

#define SQLRO_DEFAULT_MAX_ROWS 1000
#define SQLRO_DEFAULT_MAX_MS 2000
#define SQLRO_MAX_SQL_LENGTH (64 * 1024)     /* longest statement text, bytes */
#define SQLRO_MAX_VALUE_LENGTH (1024 * 1024) /* longest string/blob a query may build */

struct sqlro;

/* Outcome of sqlro_open / sqlro_exec. msg is empty on success. */
struct sqlro_status {
	char msg[256];   /* user-facing reason: "not allowed: writes", ... */
	int sqlite_rc;   /* underlying SQLite result code, SQLITE_OK when none */
	size_t rows;     /* rows handed to the callback */
	bool truncated;  /* the row bound stopped a statement that had more rows */
};

/*
 * Called once with values == NULL (the header: column names) before any row,
 * then once per row. values[i] is NULL for SQL NULL, else text: integers and
 * reals as SQLite prints them, blobs as X'hex'. Pointers are valid only
 * during the call. A nonzero return stops the statement (sqlro_exec then
 * returns -ECANCELED).
 */
typedef int (*sqlro_row_cb)(void *ctx, int ncol, const char *const *names,
			    const char *const *values);

/*
 * Opens path read-only. 0, or -ENOENT (no such file / cannot open), -EIO
 * (other SQLite failure), -EINVAL; st->msg says why. The hist_* SQL functions
 * are registered when the storage library provides them.
 */
int sqlro_open(const char *path, struct sqlro **out, struct sqlro_status *st);
void sqlro_close(struct sqlro *h);

/*
 * Runs exactly one read-only statement. max_rows / max_ms of 0 select the
 * defaults above. Returns 0 (st->truncated tells whether rows were left),
 *   -EPERM      the statement is refused (st->msg: "not allowed: ...")
 *   -EINVAL     empty, more than one statement, syntax or other prepare error
 *   -ETIMEDOUT  max_ms of wall time elapsed ("query took longer than N ms")
 *   -ECANCELED  the callback returned nonzero
 *   -EFBIG      a value exceeded SQLRO_MAX_VALUE_LENGTH / the SQL is too long
 *   -ENOMEM     out of memory
 *   -EIO        any other SQLite runtime error (st->sqlite_rc, st->msg)
 * Rows delivered before an error stay delivered (st->rows counts them).
 */
int sqlro_exec(struct sqlro *h, const char *sql, size_t max_rows, unsigned max_ms,
	       sqlro_row_cb cb, void *ctx, struct sqlro_status *st);

#endif
