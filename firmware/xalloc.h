/*
 * Allocation policy: control-plane allocations are small and bounded by
 * configuration, so failing them aborts through these wrappers with a clear
 * message. Bulk and data-path buffers use malloc directly and degrade.
 */
#ifndef XDPROBE_XALLOC_H
#define XDPROBE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
