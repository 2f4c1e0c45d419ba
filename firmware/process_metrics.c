#include "process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "prom.h"

struct proc_stat {
	double cpu_seconds;
	double start_seconds; /* since the epoch */
	unsigned long long vsize, rss_bytes;
};

static double boot_time(void)
{
	char line[256];
	double btime = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

static int read_proc_stat(struct proc_stat *ps)
{
	char buf[1024], *p;
	unsigned long utime, stime;
	unsigned long long start, vsize;
	long rss, hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may contain spaces */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
			 "%*d %*d %llu %llu %ld",
			 &utime, &stime, &start, &vsize, &rss) != 5)
		return -1;
	ps->cpu_seconds = (double)(utime + stime) / (double)hz;
	ps->start_seconds = boot_time() + (double)start / (double)hz;
	ps->vsize = vsize;
	ps->rss_bytes = (unsigned long long)rss * (unsigned long long)sysconf(_SC_PAGESIZE);
	return 0;
}

static unsigned long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned long n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n > 3 ? n - 3 : 0; /* ".", "..", and the directory's own fd */
}

void process_metrics_render(struct buf *out)
{
	struct proc_stat ps;
	struct rlimit rl;

	if (read_proc_stat(&ps) == 0) {
		prom_single_f64(out, "process_cpu_seconds_total", "counter",
				"Total user and system CPU time spent in seconds.", ps.cpu_seconds);
		prom_single_u64(out, "process_resident_memory_bytes", "gauge",
				"Resident memory size in bytes.", ps.rss_bytes);
		prom_single_u64(out, "process_virtual_memory_bytes", "gauge",
				"Virtual memory size in bytes.", ps.vsize);
		prom_single_f64(out, "process_start_time_seconds", "gauge",
				"Start time of the process since unix epoch in seconds.",
				ps.start_seconds);
	}
	prom_single_u64(out, "process_open_fds", "gauge", "Number of open file descriptors.",
			open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		prom_single_u64(out, "process_max_fds", "gauge",
				"Maximum number of open file descriptors.", rl.rlim_cur);
}
