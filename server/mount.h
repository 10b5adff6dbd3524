/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mounting a libfuse3 session either on our fuseiomap file system (through
 * /dev/fuse-iomap, which libfuse does not know) or on the stock fuse.
 */
#ifndef FI_MOUNT_H
#define FI_MOUNT_H

#include <stdbool.h>

#define FI_DEV_PATH	"/dev/fuse-iomap"
#define FI_FSTYPE	"fuseiomap"

struct fuse_session;

struct fi_mount {
	const char *prog;	/* program name, for messages */
	const char *mountpoint;
	const char *fsname;	/* source shown in /proc/mounts */
	const char *subtype;	/* fuseiomap.<subtype> */
	const char *extra_opts;	/* appended to the kernel mount options, or NULL */
	bool stock;		/* mount through /dev/fuse with libfuse instead */
	bool readonly;		/* MS_RDONLY */
	bool mounted_by_us;	/* we called mount(2) and must unmount */
	int fd;			/* the /dev/fuse-iomap fd, or -1 */
};

/*
 * Before a server opens anything: refuse, with a message starting with
 * @prog, to run without root (when @need_root) or on a MOUNTPOINT that is
 * not a directory.  0 or -errno.
 */
int fi_check_mountpoint(const char *prog, const char *mountpoint, bool need_root);

/* Mount @m->mountpoint and attach @se to it.  Returns 0 or -errno, after
 * printing one line naming the mountpoint and the reason. */
int fi_mount(struct fuse_session *se, struct fi_mount *m);
void fi_unmount(struct fuse_session *se, struct fi_mount *m);

#endif
