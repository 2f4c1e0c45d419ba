/*
 * The daemon's event loop on io_uring. Every submission carries a struct
 * loop_op whose callback runs with the completion's result; the owner of the
 * op keeps it alive until the callback ran. Single-threaded.
 */
#ifndef XDPROBE_LOOP_H
#define XDPROBE_LOOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct loop_op;
typedef void (*loop_cb)(struct loop_op *op, int res);

struct loop_op {
	loop_cb cb;
	struct __kernel_timespec ts; /* storage for timeouts */
};

struct loop {
	struct io_uring ring;
	bool stop;
};

int loop_init(struct loop *l, unsigned int entries);
void loop_fini(struct loop *l);
/* Returns an SQE tagged with op (submitting pending ones if the ring is full). */
struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op);
/* Fires op once CLOCK_MONOTONIC reaches at_ns (res is -ETIME). */
void loop_timeout_at(struct loop *l, struct loop_op *op, uint64_t at_ns);
/* Runs until loop->stop; returns 0 or a negative errno. */
int loop_run(struct loop *l);
uint64_t loop_now_ns(void);

#endif
