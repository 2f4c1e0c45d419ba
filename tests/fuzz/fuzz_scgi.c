/*
 * libFuzzer target for scgi_parse (firmware/scgi.c): bytes straight from the
 * web server's socket. Besides memory safety (ASan/UBSan), it checks the
 * parser's contract on every accepted request; a violation aborts so that
 * libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scgi.h"

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: contract violated: %s\n", __FILE__, \
				__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* A returned string must start inside data and end (NUL) inside it. */
static void check_string(const char *s, const char *data, size_t len)
{
	CHECK(s != NULL);
	if (s[0] == '\0' && (s < data || s >= data + len))
		return; /* the static "" default of QUERY_STRING */
	CHECK(s >= data && s < data + len);
	CHECK(memchr(s, '\0', (size_t)(data + len - s)) != NULL);
}

/* A request rebuilt with scgi_build parses to the same method, URI and body. */
static void check_rebuild(const struct scgi_request *req)
{
	struct scgi_request again;
	struct buf b;

	buf_init(&b, 0);
	scgi_build(&b, req->method, req->uri, req->body, req->body_len);
	CHECK(scgi_parse(b.data, b.len, &again) == SCGI_OK);
	CHECK(strcmp(again.method, req->method) == 0);
	CHECK(strcmp(again.uri, req->uri) == 0);
	CHECK(again.body_len == req->body_len);
	CHECK(req->body_len == 0 || memcmp(again.body, req->body, req->body_len) == 0);
	buf_free(&b);
}

static void check_ok(char *data, size_t len, const struct scgi_request *req)
{
	struct scgi_request shorter;
	size_t need;

	check_string(req->method, data, len);
	check_string(req->uri, data, len);
	check_string(req->query, data, len);
	CHECK(req->body >= data && req->body_len <= len);
	CHECK(req->body + req->body_len <= data + len);
	CHECK(req->body_len <= SCGI_BODY_MAX);
	/* one byte less than the request is never a complete request */
	need = (size_t)(req->body + req->body_len - data);
	CHECK(scgi_parse(data, need - 1, &shorter) == SCGI_INCOMPLETE);
	check_rebuild(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	/* exactly sized and writable, as the server's receive buffer */
	char *data = malloc(len ? len : 1);
	struct scgi_request req;
	enum scgi_parse r;

	if (!data)
		return 0;
	memcpy(data, in, len);
	r = scgi_parse(data, len, &req);
	CHECK(r == SCGI_INCOMPLETE || r == SCGI_OK || r == SCGI_BAD || r == SCGI_TOO_LARGE);
	if (r == SCGI_OK)
		check_ok(data, len, &req);
	free(data);
	return 0;
}
