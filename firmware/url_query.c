#include "url_query.h"

#include <errno.h>
#include <string.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes src[0..len) into out. */
static int decode(const char *src, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < len ? hex_digit(src[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(src[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL; /* malformed, or an encoded NUL */
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n + 1 >= size)
			return -E2BIG;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

int url_query_param(const char *query, const char *name, char *out, size_t size)
{
	size_t name_len = strlen(name);
	const char *p = query;

	if (!size)
		return -E2BIG;
	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=')
			return decode(p + name_len + 1, len - name_len - 1, out, size);
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}
