// SPDX-License-Identifier: GPL-2.0
/* See internal.h, and include/fuse_iomap_extent_map.h for the protocol. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "extent_map.skel.h"

/*
 * The connection id of the mount at @mountpoint, from mountinfo: a stat()
 * of the mountpoint would ask this very server, which is not serving yet.
 */
static int conn_id_of(const char *mountpoint, uint32_t *id)
{
	char line[4096], mnt[4096], want[PATH_MAX];
	unsigned int ma, mi;
	int found = 0;
	FILE *f;

	if (!realpath(mountpoint, want))
		return -errno;
	f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -errno;
	/* The last mount on the path is the one on top. */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) == 3 &&
		    !strcmp(mnt, want)) {
			*id = (uint32_t)makedev(ma, mi);
			found = 1;
		}
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* The generation that tells connection @id from an earlier mount with the same st_dev. */
static int conn_gen_of(uint32_t id, uint64_t *gen)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/fs/fuseiomap/iomap/%u/generation", id);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu64, gen) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

/*
 * The arena's pages for @max_extents in one file (0: the default): room
 * for the file table, the list in a power-of-two array, and as much again
 * for a republish and the other files.  Pages are only address space
 * until written.  An arena spans at most 4 GiB.
 */
static uint32_t fi_store_pages(uint32_t max_extents)
{
	uint64_t ext = 1, pages;

	while (ext < max_extents)
		ext <<= 1;
	pages = (2 * ext * sizeof(struct fi_store_extent) +
		 FI_STORE_FILES * sizeof(struct fi_store_file)) / 4096 + 16;
	if (pages < FI_STORE_PAGES)
		pages = FI_STORE_PAGES;
	return pages > (1U << 20) ? 1U << 20 : pages;
}

/* libbpf's own errors (from 4000 up) have no strerror() text. */
static const char *bpf_errstr(int err, char *buf, size_t size)
{
	if (libbpf_strerror(err, buf, size) < 0)
		snprintf(buf, size, "%s", strerror(err));
	return buf;
}

int fi_lib_bpf_start(struct fi_bpf *b, const char *name, const char *mountpoint)
{
	uint64_t gen;
	char msg[128];
	int err;

	err = conn_id_of(mountpoint, &b->conn_id);
	if (err) {
		fprintf(stderr, "%s: can't find the mount at %s: %s\n", name, mountpoint, strerror(-err));
		return err;
	}
	err = conn_gen_of(b->conn_id, &gen);
	if (err) {
		fprintf(stderr, "%s: can't read the generation of connection %u: %s\n", name,
			b->conn_id, strerror(-err));
		return err;
	}
	b->skel = extent_map_bpf__open();
	if (!b->skel) {
		err = -errno;
		fprintf(stderr, "%s: can't open the extent_map BPF object: %s\n", name,
			bpf_errstr(-err, msg, sizeof(msg)));
		return err;
	}
	b->skel->struct_ops.extent_map->conn_id = b->conn_id;
	b->skel->struct_ops.extent_map->conn_gen = gen;
	err = bpf_map__set_max_entries(b->skel->maps.store, fi_store_pages(b->max_extents));
	/* libbpf rounds a ring buffer up to a power-of-2 number of pages. */
	if (!err && b->queue_bytes)
		err = bpf_map__set_max_entries(b->skel->maps.ioend_queue, b->queue_bytes);
	if (!err)
		err = extent_map_bpf__load(b->skel);
	if (!err)
		err = fi_lib_store_init(b);
	if (err) {
		fprintf(stderr, "%s: can't load extent_map: %s\n", name,
			bpf_errstr(-err, msg, sizeof(msg)));
		goto fail;
	}
	b->link = bpf_map__attach_struct_ops(b->skel->maps.extent_map);
	if (!b->link) {
		err = -errno;
		fprintf(stderr, "%s: can't attach extent_map to %s (connection %u): %s\n", name,
			mountpoint, b->conn_id, bpf_errstr(-err, msg, sizeof(msg)));
		goto fail;
	}
	return 0;
fail:
	fi_lib_store_destroy(b);
	extent_map_bpf__destroy(b->skel);
	b->skel = NULL;
	return err;
}

void fi_lib_bpf_stop(struct fi_bpf *b)
{
	bpf_link__destroy(b->link);
	fi_lib_store_destroy(b);
	extent_map_bpf__destroy(b->skel);
	b->link = NULL;
	b->skel = NULL;
}

int fi_lib_bpf_queue_fd(struct fi_bpf *b)
{
	return b->skel ? bpf_map__fd(b->skel->maps.ioend_queue) : -1;
}
