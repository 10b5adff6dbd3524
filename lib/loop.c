// SPDX-License-Identifier: GPL-2.0
/*
 * fi_open_device(): what a server serves from, a block device or an image
 * file.  The kernel registers block devices only, so an image file gets a
 * loop device of its own that goes away with its last user
 * (LO_FLAGS_AUTOCLEAR).  Read-write, we hold it with O_EXCL: mount(8)
 * -o loop reuses a loop device backed by the same file, and the kernel
 * then finds it claimed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fuse_iomap_server.h"

/*
 * LOOP_CTL_GET_FREE names a device that is free now; another process may
 * bind it before we do (servers started at once, fstab lines mounted in
 * parallel at boot).  We then get EBUSY from the exclusive open or from
 * LOOP_CONFIGURE, and ask again, as losetup does.  A device stays "free"
 * for as long as its new owner has not configured it, hence the pause.
 */
#define FI_LOOP_TRIES		200
#define FI_LOOP_PAUSE_NS	(5 * 1000 * 1000)
#define FI_STR_(x)		#x
#define FI_STR(x)		FI_STR_(x)

/* One try: the bound loop device's fd, or -errno with @path naming it. */
static int fi_loop_try(int ctl, int fd, bool rw, char *path, size_t len)
{
	struct loop_config cfg = { .fd = fd };
	int nr, lfd, err;

	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr < 0) {
		snprintf(path, len, "a loop device");
		return -errno;
	}
	snprintf(path, len, "/dev/loop%d", nr);
	lfd = open(path, (rw ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC);
	if (lfd < 0)
		return -errno;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (rw ? 0 : LO_FLAGS_READ_ONLY);
	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
		err = errno;
		close(lfd);
		return -err;
	}
	return lfd;
}

static int fi_attach_loop(const char *name, const char *image, bool rw)
{
	struct timespec pause = { .tv_nsec = FI_LOOP_PAUSE_NS };
	char path[32] = "a loop device";
	int fd, ctl, lfd = -EBUSY, tries;

	fd = open(image, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		lfd = -errno;
		fprintf(stderr, "%s: can't open %s: %s\n", name, image, strerror(-lfd));
		return lfd;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		lfd = -errno;
		fprintf(stderr, "%s: can't get a loop device for %s: /dev/loop-control: %s\n",
			name, image, strerror(-lfd));
		close(fd);
		return lfd;
	}
	for (tries = 0; tries < FI_LOOP_TRIES; tries++) {
		lfd = fi_loop_try(ctl, fd, rw, path, sizeof(path));
		if (lfd != -EBUSY)
			break;
		nanosleep(&pause, NULL);
	}
	close(ctl);
	close(fd);
	if (lfd < 0)
		fprintf(stderr, "%s: can't attach %s to %s: %s%s\n", name, image, path,
			strerror(-lfd), lfd == -EBUSY ? " (taken by someone else each time, "
			FI_STR(FI_LOOP_TRIES) " times)" : "");
	return lfd;
}

int fi_open_device(const char *name, const char *path, bool rw)
{
	struct stat st;
	int err;

	if (stat(path, &st) < 0) {
		err = errno;
		fprintf(stderr, "%s: can't open %s: %s\n", name, path, strerror(err));
		return -err;
	}
	if (S_ISBLK(st.st_mode))
		return fi_claim_bdev(name, path, rw);
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: can't serve %s: neither an image file nor a block device\n",
			name, path);
		return -EINVAL;
	}
	err = fi_claim_check_loops(name, path, rw);
	return err ? err : fi_attach_loop(name, path, rw);
}
