/* Growable, length-carrying byte buffer for rendering responses. */
#ifndef XDPROBE_BUF_H
#define XDPROBE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unlimited; growth past it sets overflow */
	bool overflow;
};

void buf_init(struct buf *b, size_t limit);
/* A buffer over caller storage that never grows (for short strings). */
void buf_init_fixed(struct buf *b, char *storage, size_t size);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
