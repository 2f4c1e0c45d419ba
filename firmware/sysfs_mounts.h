/* The kernel filesystems the daemon needs, mounted when absent (an
 * `ip netns exec` shell starts with a fresh /sys that has none of them). */
#ifndef XDPROBE_SYSFS_MOUNTS_H
#define XDPROBE_SYSFS_MOUNTS_H

#include <stddef.h>

/* Mounts bpffs on /sys/fs/bpf and tracefs on /sys/kernel/tracing if absent.
 * Failures are logged, not fatal: nothing here needs them yet to run. */
void mounts_ensure_bpffs_tracefs(void);
/* Finds a cgroup v2 mount, or mounts one under runtime_dir. 0 and the path in
 * out, or -errno. */
int mounts_cgroup2(const char *runtime_dir, char *out, size_t size);

#endif
