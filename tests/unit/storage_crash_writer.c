/*
 * Crash-test load for test_storage_crash.sh: writes RATE windows/s (RATE_PER_FLUSH
 * per 20 ms flush interval, with histograms) until killed. After every
 * batch it records, in STATUS (fixed width, rewritten in place), how many
 * rows it has put and how many the writer has committed, so the script can
 * bound what a SIGKILL lost. Usage: storage_crash_writer DB STATUS RUN
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "storage.h"

#define SERIES 8
#define BATCH 200 /* rows put between status updates */
#define FLUSH_MS 20
#define RATE 50000 /* rows/s: 1000 per flush interval */

static void report(int fd, uint64_t put, uint64_t committed)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%20llu %20llu\n", (unsigned long long)put,
			 (unsigned long long)committed);

	/* one pwrite of a fixed-size record: the file always holds one whole line */
	if (pwrite(fd, line, (size_t)n, 0) != n)
		exit(3);
}

/* Sleeps until `put` rows are due at RATE since the first call. */
static void pace(uint64_t put)
{
	static struct timespec start;
	struct timespec due;
	uint64_t ns;

	if (!start.tv_sec)
		clock_gettime(CLOCK_MONOTONIC, &start);
	ns = put * 1000000000ULL / RATE + (uint64_t)start.tv_nsec;
	due.tv_sec = start.tv_sec + (time_t)(ns / 1000000000ULL);
	due.tv_nsec = (long)(ns % 1000000000ULL);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
}

int main(int argc, char **argv)
{
	struct storage_opts o = { .flush_interval_ms = FLUSH_MS, .queue_capacity = 1 << 20 };
	struct storage *s;
	struct storage_stats st;
	struct latency_hist h;
	char err[STORAGE_ERR_MAX], metric[32];
	int64_t ids[SERIES], t0 = (int64_t)time(NULL) * 1000;
	uint64_t put = 0;
	int fd;

	if (argc != 4)
		return 2;
	o.path = argv[1];
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(metric, sizeof(metric), "crash_run_%d", atoi(argv[3]));
	if (fd < 0 || storage_open(&s, &o, err)) {
		fprintf(stderr, "storage_crash_writer: %s\n", err);
		return 1;
	}
	for (int i = 0; i < SERIES; i++) {
		char v[8];
		struct storage_label l = { "i", v };

		snprintf(v, sizeof(v), "%d", i);
		if (storage_series(s, metric, 0, &l, 1, &ids[i]))
			return 1;
	}
	latency_hist_init(&h);
	for (int k = 0; k < 64; k++)
		latency_hist_add(&h, (uint64_t)k * 37000);
	report(fd, 0, 0);
	for (int64_t n = 0;; n++) {
		struct storage_window w = { .series_id = ids[n % SERIES],
					    .t_ms = t0 + (n / SERIES) * 1000, .count = 64, .sum = 1,
					    .sumsq = 1, .min = 0, .max = 1, .hist = &h,
					    .lost = 0, .dup = 0, .reorder = 0 };

		if (storage_put(s, &w) == 0)
			put++;
		if (n % BATCH == BATCH - 1) {
			storage_stats(s, &st);
			report(fd, put, st.rows_written);
			pace(put);
		}
	}
}
