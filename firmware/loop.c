#include "loop.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"

int loop_init(struct loop *l, unsigned int entries)
{
	int err;

	memset(l, 0, sizeof(*l));
	err = io_uring_queue_init(entries, &l->ring, 0);
	if (err < 0)
		log_error("io_uring setup failed: %s (the kernel needs io_uring enabled: "
			  "sysctl kernel.io_uring_disabled=0)", strerror(-err));
	return err;
}

void loop_fini(struct loop *l)
{
	io_uring_queue_exit(&l->ring);
}

struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	/* The ring has room for every op the daemon keeps in flight. */
	if (sqe)
		io_uring_sqe_set_data(sqe, op);
	return sqe;
}

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void loop_timeout_at(struct loop *l, struct loop_op *op, uint64_t at_ns)
{
	struct io_uring_sqe *sqe = loop_sqe(l, op);

	op->ts.tv_sec = (long long)(at_ns / 1000000000ULL);
	op->ts.tv_nsec = (long long)(at_ns % 1000000000ULL);
	if (sqe)
		io_uring_prep_timeout(sqe, &op->ts, 0, IORING_TIMEOUT_ABS);
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;
		int err = io_uring_submit_and_wait(&l->ring, 1);

		if (err < 0 && err != -EINTR && err != -ETIME) {
			log_error("io_uring wait failed: %s", strerror(-err));
			return err;
		}
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			struct loop_op *op = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			seen++;
			if (op && op->cb)
				op->cb(op, res);
		}
		io_uring_cq_advance(&l->ring, seen);
	}
	return 0;
}
