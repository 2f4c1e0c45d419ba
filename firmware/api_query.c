#include "api_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "sql_readonly.h"
#include "url_query.h"

struct rows {
	json_t *columns;
	json_t *rows;
};

static int add_row(void *ctx, int ncol, const char *const *names, const char *const *values)
{
	struct rows *r = ctx;
	json_t *row = json_array();

	if (!row)
		return 1;
	for (int i = 0; i < ncol; i++) {
		const char *v = values ? values[i] : names[i];

		json_array_append_new(row, v ? json_string(v) : json_null());
	}
	json_array_append_new(values ? r->rows : r->columns, row);
	return 0;
}

/* HTTP status of a refused or failed statement. */
static int status_of(int rc)
{
	switch (rc) {
	case -EPERM: return 403;
	case -EINVAL: return 400;
	case -ETIMEDOUT: return 504;
	case -EFBIG: return 413;
	default: return 500;
	}
}

/* Optional numeric parameter within [1, max]; def when absent. */
static int number_param(const char *query, const char *name, unsigned long def,
			unsigned long max, unsigned long *out)
{
	char text[16], *end;
	int rc = url_query_param(query, name, text, sizeof(text));

	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc)
		return rc;
	*out = strtoul(text, &end, 10);
	return text[0] >= '0' && text[0] <= '9' && !*end && *out >= 1 && *out <= max ? 0 : -EINVAL;
}

void api_query(struct sqlro *ro, const struct scgi_request *req, struct scgi_response *resp)
{
	static char sql[SQLRO_MAX_SQL_LENGTH + 1];
	struct sqlro_status st = { 0 };
	struct rows r;
	unsigned long max_rows, max_ms;
	int rc;

	if (strcmp(req->method, "GET")) {
		api_send_error(resp, 405, "use GET /api/v1/query?sql=...");
		return;
	}
	if (!ro) {
		api_send_error(resp, 503, "this gateway keeps no history ([storage] path is empty "
				      "or the database was refused: see the daemon log)");
		return;
	}
	rc = url_query_param(req->query, "sql", sql, sizeof(sql));
	if (rc) {
		api_send_error(resp, rc == -E2BIG ? 413 : 400,
			   rc == -ENOENT ? "missing parameter sql" : "malformed parameter sql");
		return;
	}
	if (number_param(req->query, "max_rows", SQLRO_DEFAULT_MAX_ROWS, API_QUERY_MAX_ROWS,
			 &max_rows) ||
	    number_param(req->query, "timeout_ms", API_QUERY_MAX_MS, API_QUERY_MAX_MS, &max_ms)) {
		api_send_error(resp, 400, "max_rows must be 1..10000 and timeout_ms 1..1000");
		return;
	}
	r.columns = json_array();
	r.rows = json_array();
	rc = sqlro_exec(ro, sql, max_rows, (unsigned)max_ms, add_row, &r, &st);
	if (rc) {
		json_decref(r.columns);
		json_decref(r.rows);
		api_send_error(resp, status_of(rc), st.msg[0] ? st.msg : strerror(-rc));
		return;
	}
	api_send_json(resp, 200,
		  json_pack("{s:o,s:o,s:b}", "columns",
			    json_array_size(r.columns) ? json_incref(json_array_get(r.columns, 0))
						       : json_array(),
			    "rows", r.rows, "truncated", st.truncated));
	json_decref(r.columns);
}
