/*
 * Unit tests of the SCGI request parser and builder (firmware/scgi.c). The
 * parser reads bytes straight from a socket, so besides the happy path every
 * truncation and malformation must be classified, never over-read: each
 * input is copied into a heap block of exactly its length so that ASan builds
 * (-DXDPROBE_SANITIZE=ON) catch a read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scgi.h"

/* A string literal with its embedded NULs, without the final implicit one. */
#define RAW(s) s, sizeof(s) - 1

static const char *parse_name(enum scgi_parse r)
{
	switch (r) {
	case SCGI_INCOMPLETE: return "INCOMPLETE";
	case SCGI_OK: return "OK";
	case SCGI_BAD: return "BAD";
	case SCGI_TOO_LARGE: return "TOO_LARGE";
	}
	return "?";
}

/*
 * The private copy of the last input. It is freed on the next parse and by
 * the group teardown, never by the test itself: a failing assertion longjmps
 * out, and a copy freed only on success would be LeakSanitizer noise.
 */
static char *last_copy;

static int free_last_copy(void **state)
{
	free(last_copy);
	last_copy = NULL;
	return 0;
}

/* Parses a private, exactly-sized, writable copy of data[0..len). */
static enum scgi_parse parse_copy(const void *data, size_t len, struct scgi_request *req)
{
	free_last_copy(NULL);
	last_copy = malloc(len);
	assert_true(last_copy || !len);
	if (len)
		memcpy(last_copy, data, len);
	return scgi_parse(last_copy, len, req);
}

static void expect_parse(const void *data, size_t len, enum scgi_parse want, const char *what)
{
	struct scgi_request req;
	enum scgi_parse got = parse_copy(data, len, &req);

	if (got != want)
		fail_msg("%s (len %zu): got %s, want %s", what, len, parse_name(got),
			 parse_name(want));
}

/* Test requests are small: fixed storage, so nothing leaks when a test fails. */
#define REQ_MAX 1024

/* Wraps a header block (NULs included) as a netstring followed by a body. */
static void netstring(struct buf *out, char storage[REQ_MAX], const char *headers, size_t hlen,
		      const char *body)
{
	buf_init_fixed(out, storage, REQ_MAX);
	buf_printf(out, "%zu:", hlen);
	buf_add(out, headers, hlen);
	buf_puts(out, ",");
	buf_puts(out, body);
	assert_false(out->overflow);
}

static void expect_headers(const char *headers, size_t hlen, const char *body,
			   enum scgi_parse want, const char *what)
{
	char storage[REQ_MAX];
	struct buf b;

	netstring(&b, storage, headers, hlen, body);
	expect_parse(b.data, b.len, want, what);
}

/* ---- round trip ---- */

static const struct {
	const char *method, *uri, *query, *body;
	size_t body_len;
} requests[] = {
	{ "GET", "/metrics", "", NULL, 0 },
	{ "GET", "/api/v1/query?name=tcp&limit=5", "name=tcp&limit=5", NULL, 0 },
	{ "GET", "/x?", "", NULL, 0 },
	{ "POST", "/api/v1/config", "", "{\"window\":\"1s\"}", 16 },
	{ "PUT", "/bin?a=b?c", "a=b?c", "a\0b\0c", 5 }, /* the body is binary-safe */
};

static void check_round_trip(size_t i)
{
	char storage[REQ_MAX];
	struct scgi_request req;
	struct buf b;

	buf_init_fixed(&b, storage, sizeof(storage));
	scgi_build(&b, requests[i].method, requests[i].uri, requests[i].body,
		   requests[i].body_len);
	assert_false(b.overflow);
	assert_int_equal(parse_copy(b.data, b.len, &req), SCGI_OK);
	assert_string_equal(req.method, requests[i].method);
	assert_string_equal(req.uri, requests[i].uri);
	assert_string_equal(req.query, requests[i].query);
	assert_int_equal(req.body_len, requests[i].body_len);
	if (req.body_len)
		assert_memory_equal(req.body, requests[i].body, req.body_len);
	/* strings point into the caller's buffer, as documented */
	assert_true(req.method > last_copy && req.method < last_copy + b.len);
}

static void test_round_trip(void **state)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		check_round_trip(i);
}

/* Bytes after the request (a pipelined one) do not change the result. */
static void test_trailing_bytes_ignored(void **state)
{
	char storage[REQ_MAX];
	struct buf b;

	buf_init_fixed(&b, storage, sizeof(storage));
	scgi_build(&b, "POST", "/p", "xyz", 3);
	buf_puts(&b, "garbage");
	expect_parse(b.data, b.len, SCGI_OK, "trailing bytes");
}

/* Whatever prefix of a valid request has arrived, the answer is "read more". */
static void test_every_prefix_incomplete(void **state)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		char storage[REQ_MAX];
		struct buf b;

		buf_init_fixed(&b, storage, sizeof(storage));
		scgi_build(&b, requests[i].method, requests[i].uri, requests[i].body,
			   requests[i].body_len);
		for (size_t len = 0; len < b.len; len++)
			expect_parse(b.data, len, SCGI_INCOMPLETE, requests[i].uri);
		expect_parse(b.data, b.len, SCGI_OK, requests[i].uri);
	}
}

/* ---- headers ---- */

#define H_LEN0 "CONTENT_LENGTH\0" "0\0"
#define H_REST "SCGI\0" "1\0" "REQUEST_METHOD\0" "GET\0" "REQUEST_URI\0" "/m\0"

static void test_query_string_defaults_empty(void **state)
{
	char storage[REQ_MAX];
	struct scgi_request req;
	struct buf b;

	netstring(&b, storage, RAW(H_LEN0 H_REST), "");
	assert_int_equal(parse_copy(b.data, b.len, &req), SCGI_OK);
	assert_non_null(req.query);
	assert_string_equal(req.query, "");
	assert_int_equal(req.body_len, 0);
}

static const struct {
	const char *what;
	const char *data;
	size_t len;
	enum scgi_parse want;
} bad_framing[] = {
	{ "no colon", RAW("70,"), SCGI_BAD },
	{ "letters", RAW("abc"), SCGI_BAD },
	{ "digit then letter", RAW("7a:"), SCGI_BAD },
	{ "empty length", RAW(":,"), SCGI_BAD },
	{ "negative length", RAW("-5:"), SCGI_BAD },
	{ "leading zero", RAW("070:"), SCGI_BAD },
	{ "7 digits, no colon", RAW("1234567"), SCGI_TOO_LARGE },
	{ "empty header block", RAW("0:,"), SCGI_BAD },
	{ "missing comma", RAW("2:a\0;"), SCGI_BAD },
	{ "headers over max", RAW("16385:"), SCGI_TOO_LARGE },
	{ "headers far over max", RAW("999999:"), SCGI_TOO_LARGE },
	{ "headers at max", RAW("16384:"), SCGI_INCOMPLETE },
};

static void test_bad_framing(void **state)
{
	for (size_t i = 0; i < sizeof(bad_framing) / sizeof(bad_framing[0]); i++)
		expect_parse(bad_framing[i].data, bad_framing[i].len, bad_framing[i].want,
			     bad_framing[i].what);
}

static const struct {
	const char *what;
	const char *headers;
	size_t hlen;
	enum scgi_parse want;
} bad_headers[] = {
	{ "CONTENT_LENGTH not first", RAW("SCGI\0" "1\0" H_LEN0
					  "REQUEST_METHOD\0" "GET\0" "REQUEST_URI\0" "/\0"),
	  SCGI_BAD },
	{ "missing SCGI", RAW(H_LEN0 "REQUEST_METHOD\0" "GET\0" "REQUEST_URI\0" "/\0"), SCGI_BAD },
	{ "SCGI=0", RAW(H_LEN0 "SCGI\0" "0\0" "REQUEST_METHOD\0" "GET\0" "REQUEST_URI\0" "/\0"),
	  SCGI_BAD },
	{ "missing method", RAW(H_LEN0 "SCGI\0" "1\0" "REQUEST_URI\0" "/\0"), SCGI_BAD },
	{ "missing uri", RAW(H_LEN0 "SCGI\0" "1\0" "REQUEST_METHOD\0" "GET\0"), SCGI_BAD },
	{ "odd block, no final NUL", RAW(H_LEN0 H_REST "QUERY_STRING"), SCGI_BAD },
	{ "name without value", RAW(H_LEN0 H_REST "QUERY_STRING\0"), SCGI_BAD },
	{ "empty name", RAW(H_LEN0 H_REST "\0" "x\0"), SCGI_BAD },
	{ "block is one NUL", RAW("\0"), SCGI_BAD },
	{ "valid", RAW(H_LEN0 H_REST), SCGI_OK },
};

static void test_bad_headers(void **state)
{
	for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++)
		expect_headers(bad_headers[i].headers, bad_headers[i].hlen, "", bad_headers[i].want,
			       bad_headers[i].what);
}

/* ---- CONTENT_LENGTH ---- */

static void expect_content_length(const char *value, const char *body, enum scgi_parse want)
{
	char storage[REQ_MAX];
	struct buf h;

	buf_init_fixed(&h, storage, sizeof(storage));
	buf_add(&h, "CONTENT_LENGTH", sizeof("CONTENT_LENGTH"));
	buf_add(&h, value, strlen(value) + 1);
	buf_add(&h, H_REST, sizeof(H_REST) - 1);
	assert_false(h.overflow);
	expect_headers(h.data, h.len, body, want, value);
}

static void test_body_shorter_than_length(void **state)
{
	expect_content_length("5", "", SCGI_INCOMPLETE);
	expect_content_length("5", "abcd", SCGI_INCOMPLETE);
	expect_content_length("5", "abcde", SCGI_OK);
	expect_content_length("65536", "", SCGI_INCOMPLETE); /* SCGI_BODY_MAX is allowed */
}

/* Regression: the limit was once checked before the last digit was added,
 * so lengths up to SCGI_BODY_MAX * 10 + 9 slipped through. */
static void test_content_length_too_large(void **state)
{
	expect_content_length("9999999", "", SCGI_TOO_LARGE); /* 7 digits: caught */
	expect_content_length("655370", "", SCGI_TOO_LARGE);
	expect_content_length("65537", "", SCGI_TOO_LARGE);
	expect_content_length("100000", "", SCGI_TOO_LARGE);
}

/* A malformed CONTENT_LENGTH is a bad request (400), not a large one (413). */
static void test_content_length_not_a_number(void **state)
{
	static const char *const bad[] = { "", "abc", "-1", "1 ", "0x10" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_content_length(bad[i], "", SCGI_BAD);
}

/* Any header length past SCGI_HEADERS_MAX is too large, however many digits. */
static void test_header_length_seven_digits(void **state)
{
	expect_parse(RAW("1000000:"), SCGI_TOO_LARGE, "7-digit header length");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_trailing_bytes_ignored),
		cmocka_unit_test(test_every_prefix_incomplete),
		cmocka_unit_test(test_query_string_defaults_empty),
		cmocka_unit_test(test_bad_framing),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_body_shorter_than_length),
		cmocka_unit_test(test_content_length_too_large),
		cmocka_unit_test(test_content_length_not_a_number),
		cmocka_unit_test(test_header_length_seven_digits),
	};

	return cmocka_run_group_tests(tests, NULL, free_last_copy);
}
