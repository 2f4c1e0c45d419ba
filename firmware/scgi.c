#include "scgi.h"

#include <stdio.h>
#include <string.h>

/* Parses a decimal number of at most max; SCGI_BAD unless all digits,
 * SCGI_TOO_LARGE past max. */
static enum scgi_parse parse_size(const char *s, size_t n, size_t max, size_t *out)
{
	size_t v = 0;

	if (n == 0 || (n > 1 && s[0] == '0')) /* netstrings forbid leading zeros */
		return SCGI_BAD;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return SCGI_BAD;
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (size_t)(s[i] - '0');
		if (v > max)
			return SCGI_TOO_LARGE;
	}
	*out = v;
	return SCGI_OK;
}

/* Reads the netstring length prefix "<digits>:"; returns the bytes consumed
 * (> 0), 0 when more data is needed, or a negative enum scgi_parse. */
static long netstring_length(const char *data, size_t len, size_t *value)
{
	const char *colon = memchr(data, ':', len);
	enum scgi_parse r;

	if (!colon) {
		/* digits so far: wait for more, unless they already say too much */
		r = parse_size(data, len, SCGI_HEADERS_MAX, value);
		return len == 0 || r == SCGI_OK ? 0 : r;
	}
	r = parse_size(data, (size_t)(colon - data), SCGI_HEADERS_MAX, value);
	return r == SCGI_OK ? colon - data + 1 : r;
}

/* Walks the NUL-separated name/value pairs of the header block. */
static enum scgi_parse parse_headers(char *h, size_t hlen, struct scgi_request *req,
				     size_t *content_length)
{
	size_t pos = 0, pairs = 0;
	int have_length = 0, have_scgi = 0;

	if (hlen == 0 || h[hlen - 1] != '\0')
		return SCGI_BAD;
	while (pos < hlen) {
		char *name = h + pos, *value;
		size_t nlen = strlen(name);

		if (nlen == 0 || pos + nlen + 1 >= hlen)
			return SCGI_BAD;
		value = name + nlen + 1;
		pos += nlen + 1 + strlen(value) + 1;
		if (pairs++ == 0 && strcmp(name, "CONTENT_LENGTH") != 0)
			return SCGI_BAD; /* the protocol requires it first */
		if (!strcmp(name, "CONTENT_LENGTH")) {
			enum scgi_parse r = parse_size(value, strlen(value), SCGI_BODY_MAX,
						       content_length);

			if (r != SCGI_OK)
				return r;
			have_length = 1;
		} else if (!strcmp(name, "SCGI")) {
			have_scgi = !strcmp(value, "1");
		} else if (!strcmp(name, "REQUEST_METHOD")) {
			req->method = value;
		} else if (!strcmp(name, "REQUEST_URI")) {
			req->uri = value;
		} else if (!strcmp(name, "QUERY_STRING")) {
			req->query = value;
		}
	}
	if (!have_length || !have_scgi || !req->method || !req->uri)
		return SCGI_BAD;
	return SCGI_OK;
}

enum scgi_parse scgi_parse(char *data, size_t len, struct scgi_request *req)
{
	size_t hlen = 0, content_length = 0, need;
	long prefix = netstring_length(data, len, &hlen);
	enum scgi_parse r;

	if (prefix < 0)
		return (enum scgi_parse)prefix;
	if (prefix == 0)
		return SCGI_INCOMPLETE;
	if (len < (size_t)prefix + hlen + 1)
		return SCGI_INCOMPLETE;
	if (data[prefix + hlen] != ',')
		return SCGI_BAD;
	*req = (struct scgi_request){ .query = "" };
	r = parse_headers(data + prefix, hlen, req, &content_length);
	if (r != SCGI_OK)
		return r;
	need = (size_t)prefix + hlen + 1 + content_length;
	if (len < need)
		return SCGI_INCOMPLETE;
	req->body = data + prefix + hlen + 1;
	req->body_len = content_length;
	return SCGI_OK;
}

static void header(struct buf *h, const char *name, const char *value)
{
	buf_add(h, name, strlen(name) + 1);
	buf_add(h, value, strlen(value) + 1);
}

void scgi_build(struct buf *out, const char *method, const char *uri, const char *body,
		size_t body_len)
{
	struct buf h;
	char length[24];
	const char *q = strchr(uri, '?');

	buf_init(&h, 0);
	snprintf(length, sizeof(length), "%zu", body_len);
	header(&h, "CONTENT_LENGTH", length);
	header(&h, "SCGI", "1");
	header(&h, "REQUEST_METHOD", method);
	header(&h, "REQUEST_URI", uri);
	header(&h, "QUERY_STRING", q ? q + 1 : "");
	buf_printf(out, "%zu:", h.len);
	buf_add(out, h.data, h.len);
	buf_puts(out, ",");
	if (body_len)
		buf_add(out, body, body_len);
	buf_free(&h);
}
