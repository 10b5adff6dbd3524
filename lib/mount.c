// SPDX-License-Identifier: GPL-2.0
/*
 * libfuse3 only knows /dev/fuse.  To use ours we open /dev/fuse-iomap,
 * call mount(2) with fd=N ourselves, and hand libfuse the "/dev/fd/N"
 * mountpoint, which it takes as "already mounted, use this fd" (libfuse
 * 3.3 and later).  libfuse then never unmounts, so we do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>

#include "internal.h"

int fi_check_mountpoint(const char *prog, const char *mountpoint, bool need_root)
{
	struct stat st;
	int err;

	if (need_root && geteuid() != 0) {
		fprintf(stderr, "%s: needs root (mounting fuseiomap needs CAP_SYS_ADMIN, and "
			"iomap CAP_SYS_RAWIO)\n", prog);
		return -EPERM;
	}
	if (stat(mountpoint, &st) < 0) {
		err = errno;
		fprintf(stderr, "%s: can't mount on %s: %s\n", prog, mountpoint, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: can't mount on %s: not a directory\n", prog, mountpoint);
		return -ENOTDIR;
	}
	return 0;
}

static int fi_mount_kernel(struct fuse_session *se, struct fi_mount *m)
{
	char opts[512], type[64], fdpath[32], maxbytes[40] = "";
	int n, err;

	err = fi_check_mountpoint(m->prog, m->mountpoint, false);
	if (err)
		return err;
	m->fd = open(FI_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (m->fd < 0) {
		err = errno;
		fprintf(stderr, "%s: can't open %s: %s%s\n", m->prog, FI_DEV_PATH, strerror(err),
			err == ENOENT ? " (fuse_iomap.ko is not loaded)" : "");
		return -err;
	}
	/* The server's largest file: the kernel refuses to go past it (EFBIG). */
	if (m->max_file_size)
		snprintf(maxbytes, sizeof(maxbytes), ",iomap_maxbytes=%llu",
			 (unsigned long long)m->max_file_size);
	n = snprintf(opts, sizeof(opts), "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s%s",
		     m->fd, S_IFDIR, getuid(), getgid(),
		     m->extra_opts ? "," : "", m->extra_opts ? m->extra_opts : "", maxbytes);
	if (n < 0 || (size_t)n >= sizeof(opts)) {
		fprintf(stderr, "%s: can't mount %s: mount options too long\n", m->prog,
			m->mountpoint);
		err = E2BIG;
		goto out_close;
	}
	snprintf(type, sizeof(type), FI_FSTYPE "%s%s", m->subtype ? "." : "",
		 m->subtype ? m->subtype : "");
	if (mount(m->fsname, m->mountpoint, type,
		  MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0), opts) < 0) {
		err = errno;
		fprintf(stderr, "%s: can't mount %s on %s: %s\n", m->prog, type, m->mountpoint,
			strerror(err));
		goto out_close;
	}
	m->mounted_by_us = true;
	/* From here on libfuse owns the fd and closes it on session destroy. */
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", m->fd);
	if (fuse_session_mount(se, fdpath) != 0) {
		fprintf(stderr, "%s: can't attach the session to %s\n", m->prog, m->mountpoint);
		umount2(m->mountpoint, MNT_DETACH);
		m->mounted_by_us = false;
		err = EIO;
		goto out_close;
	}
	return 0;

out_close:
	close(m->fd);
	m->fd = -1;
	return -err;
}

int fi_lib_mount(struct fuse_session *se, struct fi_mount *m)
{
	int err;

	m->fd = -1;
	m->mounted_by_us = false;
	if (!m->stock)
		return fi_mount_kernel(se, m);
	err = fi_check_mountpoint(m->prog, m->mountpoint, false);
	if (err)
		return err;
	if (fuse_session_mount(se, m->mountpoint) != 0) {
		fprintf(stderr, "%s: can't mount %s through /dev/fuse\n", m->prog, m->mountpoint);
		return -EIO;
	}
	return 0;
}

void fi_lib_unmount(struct fuse_session *se, struct fi_mount *m)
{
	if (m->stock) {
		fuse_session_unmount(se);
		return;
	}
	/* EINVAL: already unmounted by someone else, which is how a server
	 * is usually told to go away. */
	if (m->mounted_by_us && umount2(m->mountpoint, MNT_DETACH) < 0 && errno != EINVAL)
		fprintf(stderr, "%s: can't unmount %s: %s\n", m->prog, m->mountpoint,
			strerror(errno));
	m->mounted_by_us = false;
}
