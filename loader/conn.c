// SPDX-License-Identifier: GPL-2.0
/*
 * Connections: a mountpoint's iomap connection id is st_dev of the
 * mountpoint, the name of its directory under /sys/fs/fuseiomap/iomap,
 * whose "generation" tells it from earlier mounts that had the same st_dev.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "loader.h"

int fi_conn_of(const char *mountpoint, struct fi_conn *c)
{
	struct stat st;
	long long gen;

	if (stat(mountpoint, &st) < 0)
		return -errno;
	c->id = (uint32_t)st.st_dev;
	if (fi_conn_counter(c->id, "generation", &gen))
		return -ENODEV;
	c->gen = gen;
	return 0;
}

/* Where connection @id is mounted, from /proc/self/mountinfo ("major:minor" field). */
int fi_conn_mountpoint(uint32_t id, char *buf, size_t size)
{
	char line[4096], mnt[4096];
	unsigned int ma, mi;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) == 3 &&
		    (uint32_t)makedev(ma, mi) == id) {
			snprintf(buf, size, "%s", mnt);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

int fi_conn_counter(uint32_t id, const char *name, long long *value)
{
	char path[192];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), FI_SYSFS "/%u/%s", id, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%lld", value) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}
