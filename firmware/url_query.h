/* Reading parameters of a URL query string ("a=1&sql=SELECT%201"). Pure. */
#ifndef XDPROBE_URL_QUERY_H
#define XDPROBE_URL_QUERY_H

#include <stddef.h>

/*
 * Finds parameter name in query and writes its percent-decoded value ('+'
 * is a space) to out. 0; -ENOENT when absent; -EINVAL for a bad escape or
 * an encoded NUL; -E2BIG when the value does not fit in size (with its NUL).
 */
int url_query_param(const char *query, const char *name, char *out, size_t size);

#endif
