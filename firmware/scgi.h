/*
 * SCGI (python.ca/scgi/protocol.txt) request parsing and building. lighttpd
 * terminates HTTP and forwards requests to the daemon as SCGI: a netstring
 * of NUL-separated headers followed by CONTENT_LENGTH body bytes. Pure.
 */
#ifndef XDPROBE_SCGI_H
#define XDPROBE_SCGI_H

#include <stddef.h>

#include "buf.h"

#define SCGI_HEADERS_MAX 16384
#define SCGI_BODY_MAX 65536

struct scgi_request {
	const char *method;
	const char *uri;   /* REQUEST_URI: path and query as the client sent them */
	const char *query; /* QUERY_STRING, "" when absent */
	const char *body;
	size_t body_len;
};

enum scgi_parse {
	SCGI_INCOMPLETE = 0, /* read more */
	SCGI_OK = 1,
	SCGI_BAD = -1,       /* malformed: answer 400 and close */
	SCGI_TOO_LARGE = -2, /* answer 413 and close */
};

/*
 * Parses a request from data[0..len). On SCGI_OK, the request's strings point
 * into data, which must stay alive (headers are NUL-terminated in place).
 */
enum scgi_parse scgi_parse(char *data, size_t len, struct scgi_request *req);
/* Builds a request, for the CLI and the tests. */
void scgi_build(struct buf *out, const char *method, const char *uri, const char *body,
		size_t body_len);

#endif
