#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

static int switch_user(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		log_error("user \"%s\" does not exist: create it or remove [daemon] user", user);
		return -ENOENT;
	}
	if (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		return -errno;
	return 0;
}

int privileges_drop(const char *user, bool keep_net_admin)
{
	const cap_value_t net_admin = CAP_NET_ADMIN;
	cap_t none;
	int err = 0;

	if (user && *user) {
		err = switch_user(user);
		if (err)
			return err;
	}
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (!(keep_net_admin && c == net_admin) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	none = cap_init();
	if (!none)
		return -errno;
	if (keep_net_admin && (cap_set_flag(none, CAP_EFFECTIVE, 1, &net_admin, CAP_SET) ||
			       cap_set_flag(none, CAP_PERMITTED, 1, &net_admin, CAP_SET)))
		err = -errno;
	if (!err && cap_set_proc(none))
		err = -errno;
	cap_free(none);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	return err;
}

int privileges_effective_count(void)
{
	cap_t now = cap_get_proc();
	int n = 0;

	if (!now)
		return -1;
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (cap_get_flag(now, c, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET)
			n++;
	}
	cap_free(now);
	return n;
}
