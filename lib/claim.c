// SPDX-License-Identifier: GPL-2.0
/*
 * See claim.h.  O_EXCL on a block device is the kernel's own claim: a
 * mount takes it too, so holding it keeps the kernel's file systems off
 * the device, and probing for it tells us someone else holds it.  Who that
 * is we find in mountinfo or, for a process, among the open files in /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fuse_iomap_server.h"

/* Whether @rdev is mounted here: its mountpoint in @mnt and *@ro. */
static bool fi_find_mount(dev_t rdev, char *mnt, size_t len, bool *ro)
{
	FILE *fp = fopen("/proc/self/mountinfo", "r");
	char *line = NULL, point[PATH_MAX], opts[256];
	size_t cap = 0;
	bool found = false;

	while (fp && !found && getline(&line, &cap, fp) > 0) {
		unsigned int maj, min;
		const char *super = strstr(line, " - ");

		if (!super || sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, point) != 3 ||
		    makedev(maj, min) != rdev || sscanf(super, " - %*s %*s %255s", opts) != 1)
			continue;
		/* The super block's options: a read-only bind of a rw mount still writes. */
		*ro = !strcmp(opts, "ro") || !strncmp(opts, "ro,", 3);
		snprintf(mnt, len, "%s", point);
		found = true;
	}
	free(line);
	if (fp)
		fclose(fp);
	return found;
}

static bool fi_pid_has_open(int pid, dev_t rdev)
{
	char path[64];
	struct dirent *e;
	struct stat st;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d)))
		found = fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISBLK(st.st_mode) &&
			st.st_rdev == rdev;
	if (d)
		closedir(d);
	return found;
}

/* "pid N (COMM)" of another process that has @rdev open, or "". */
static void fi_find_opener(dev_t rdev, char *who, size_t len)
{
	DIR *proc = opendir("/proc");
	char path[64], comm[64] = "?";
	struct dirent *p;
	FILE *fp;

	*who = 0;
	while (proc && (p = readdir(proc))) {
		int pid = atoi(p->d_name);

		if (pid <= 0 || pid == getpid() || !fi_pid_has_open(pid, rdev))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		fp = fopen(path, "r");
		if (fp && fgets(comm, sizeof(comm), fp))
			comm[strcspn(comm, "\n")] = 0;
		if (fp)
			fclose(fp);
		snprintf(who, len, "pid %d (%s)", pid, comm);
		break;
	}
	if (proc)
		closedir(proc);
}

/*
 * 0 if the users of block device @dev (@rdev) leave room for us: none for
 * a writer, read-only mounts for a reader.  Else -EBUSY after saying who
 * is in the way of @what.
 */
static int fi_check_users(const char *prog, const char *what, const char *dev, dev_t rdev,
			  bool rw)
{
	char mnt[PATH_MAX], who[128];
	bool ro;
	int fd;

	if (fi_find_mount(rdev, mnt, sizeof(mnt), &ro)) {
		if (!rw && ro)
			return 0;
		fprintf(stderr, "%s: %s is mounted %s on %s: %s\n", prog, what,
			ro ? "read-only" : "read-write", mnt,
			rw ? "refusing a second user while writing" :
			     "refusing to read under another writer");
		return -EBUSY;
	}
	/* Held exclusively and not mounted: a writer, such as another server. */
	fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EBUSY)
		return 0;
	fi_find_opener(rdev, who, sizeof(who));
	fprintf(stderr, "%s: %s is held open exclusively by %s: refusing to share it\n", prog,
		what, *who ? who : "the kernel (a mount in another namespace, device mapper, md or swap)");
	return -EBUSY;
}

int fi_claim_bdev(const char *prog, const char *path, bool rw)
{
	struct stat st;
	int fd, err;

	if (stat(path, &st) < 0) {
		err = errno;
		fprintf(stderr, "%s: can't open %s: %s\n", prog, path, strerror(err));
		return -err;
	}
	if (!S_ISBLK(st.st_mode)) {
		fprintf(stderr, "%s: %s is not a block device\n", prog, path);
		return -ENOTBLK;
	}
	err = fi_check_users(prog, path, path, st.st_rdev, rw);
	if (err)
		return err;
	fd = open(path, (rw ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "%s: can't open %s: %s\n", prog, path,
			err == EBUSY ? "in use (someone claimed it just now)" : strerror(err));
		return -err;
	}
	return fd;
}

/* Whether the loop device @loop (e.g. "loop3") is backed by @img. */
static bool fi_loop_backs(const char *loop, const struct stat *img)
{
	char path[PATH_MAX], file[PATH_MAX];
	struct stat st;
	bool ok;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", loop);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	ok = fgets(file, sizeof(file), fp) != NULL;
	fclose(fp);
	if (!ok)
		return false;
	file[strcspn(file, "\n")] = 0;
	return stat(file, &st) == 0 && st.st_dev == img->st_dev && st.st_ino == img->st_ino;
}

int fi_claim_check_loops(const char *prog, const char *image, bool rw)
{
	char dev[PATH_MAX], what[2 * PATH_MAX];
	struct stat img, st;
	struct dirent *e;
	int err = 0;
	DIR *d;

	if (stat(image, &img) < 0)
		return 0;	/* opening it says why */
	d = opendir("/sys/block");
	while (d && !err && (e = readdir(d))) {
		if (strncmp(e->d_name, "loop", 4) || !fi_loop_backs(e->d_name, &img))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
		if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
			continue;
		snprintf(what, sizeof(what), "%s (through %s)", image, dev);
		err = fi_check_users(prog, what, dev, st.st_rdev, rw);
	}
	if (d)
		closedir(d);
	return err;
}
