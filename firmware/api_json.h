/* JSON responses of the /api/v1 endpoints (jansson). */
#ifndef XDPROBE_API_JSON_H
#define XDPROBE_API_JSON_H

#include <jansson.h>

#include "scgi_server.h"

#define API_JSON_TYPE "application/json; charset=utf-8"

/* Sends body (and takes its reference). */
void api_send_json(struct scgi_response *resp, int status, json_t *body);
/* Sends {"error": msg}. */
void api_send_error(struct scgi_response *resp, int status, const char *msg);

#endif
