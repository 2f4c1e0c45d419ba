/* Privilege drop after start-up: everything the daemon needs root for
 * (loading and attaching programs, mounting, binding) is done by then. */
#ifndef XDPROBE_PRIVILEGES_H
#define XDPROBE_PRIVILEGES_H

#include <stdbool.h>

/* Switches to user (if non-empty), then clears every capability set and the
 * bounding set (but CAP_NET_ADMIN when keep_net_admin) and forbids regaining
 * privileges. 0 or -errno. */
int privileges_drop(const char *user, bool keep_net_admin);
/* Number of capabilities still effective (for the tests and the log). */
int privileges_effective_count(void);

#endif
