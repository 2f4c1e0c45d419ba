#include "sysfs_mounts.h"

#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "log.h"

/* Path of the first mount of fstype, or -ENOENT. */
static int find_mount(const char *fstype, char *out, size_t size)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, fstype) == 0) {
			snprintf(out, size, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

static void ensure(const char *fstype, const char *dir)
{
	char found[256];

	if (find_mount(fstype, found, sizeof(found)) == 0)
		return;
	if (mount(fstype, dir, fstype, 0, NULL) == 0)
		log_info("mounted %s on %s", fstype, dir);
	else
		log_warn("cannot mount %s on %s: %s", fstype, dir, strerror(errno));
}

void mounts_ensure_bpffs_tracefs(void)
{
	ensure("bpf", "/sys/fs/bpf");
	ensure("tracefs", "/sys/kernel/tracing");
}

int mounts_cgroup2(const char *runtime_dir, char *out, size_t size)
{
	if (find_mount("cgroup2", out, size) == 0)
		return 0;
	snprintf(out, size, "%s/cgroup2", runtime_dir);
	if (mkdir(out, 0700) && errno != EEXIST)
		return -errno;
	if (mount("cgroup2", out, "cgroup2", 0, NULL))
		return -errno;
	log_info("mounted cgroup2 on %s", out);
	return 0;
}
