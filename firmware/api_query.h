/* GET /api/v1/query?sql=...: the on-device read-only SQL, as JSON. */
#ifndef XDPROBE_API_QUERY_H
#define XDPROBE_API_QUERY_H

#include "scgi_server.h"

struct sqlro;

#define API_QUERY_MAX_MS 1000 /* the daemon's loop waits for a query: keep it short */
#define API_QUERY_MAX_ROWS 10000

/* ro may be NULL (no history): answers 503. */
void api_query(struct sqlro *ro, const struct scgi_request *req, struct scgi_response *resp);

#endif
