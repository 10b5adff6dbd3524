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
	if (!b->max_extents)
		b->max_extents = 1 << 20;
	b->skel->struct_ops.extent_map->conn_id = b->conn_id;
	b->skel->struct_ops.extent_map->conn_gen = gen;
	err = bpf_map__set_max_entries(b->skel->maps.extents, b->max_extents);
	/* libbpf rounds a ring buffer up to a power-of-2 number of pages. */
	if (!err && b->queue_bytes)
		err = bpf_map__set_max_entries(b->skel->maps.ioend_queue, b->queue_bytes);
	if (!err)
		err = extent_map_bpf__load(b->skel);
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
	extent_map_bpf__destroy(b->skel);
	b->skel = NULL;
	return err;
}

void fi_lib_bpf_stop(struct fi_bpf *b)
{
	bpf_link__destroy(b->link);
	extent_map_bpf__destroy(b->skel);
	b->link = NULL;
	b->skel = NULL;
}

static void delete_extents(struct fi_bpf *b, uint64_t nodeid, uint32_t gen, uint32_t n)
{
	int fd = bpf_map__fd(b->skel->maps.extents);

	for (uint32_t i = 0; i < n; i++) {
		struct fi_extent_key k = { .nodeid = nodeid, .gen = gen, .idx = i };

		bpf_map_delete_elem(fd, &k);
	}
}

void fi_lib_bpf_forget(struct fi_bpf *b, uint64_t nodeid)
{
	int fd = b->skel ? bpf_map__fd(b->skel->maps.files) : -1;
	struct fi_file_key k = { .nodeid = nodeid };
	struct fi_file f;

	if (!b->skel || bpf_map_lookup_elem(fd, &k, &f))
		return;
	/* The entry first: from here on the program has no answer for the file. */
	bpf_map_delete_elem(fd, &k);
	delete_extents(b, nodeid, f.gen, f.count);
}

/*
 * The new list goes in beside the old one (a new generation), the file's
 * entry switches to it, then the old one goes: the program answers from
 * one list or the other throughout, never from a mix, and never misses
 * for want of a list.  On failure the file has no list (an upcall, never
 * a stale answer).
 */
int fi_lib_bpf_publish(struct fi_bpf *b, uint64_t nodeid, const struct fi_extent *v, uint32_t n,
		   uint32_t flags)
{
	struct fi_file_key fk = { .nodeid = nodeid };
	struct fi_file f = { .gen = ++b->next_gen, .count = n, .flags = flags }, old;
	int files = b->skel ? bpf_map__fd(b->skel->maps.files) : -1;
	struct fi_extent_key *keys;
	uint32_t count = n;
	bool had_old;
	int err = 0;

	if (!b->skel)
		return -ENODEV;
	had_old = !bpf_map_lookup_elem(files, &fk, &old);
	keys = n <= b->max_extents ? calloc(n ? n : 1, sizeof(*keys)) : NULL;
	if (!keys) {
		fi_lib_bpf_forget(b, nodeid);
		return n > b->max_extents ? -E2BIG : -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		keys[i] = (struct fi_extent_key){ .nodeid = nodeid, .gen = f.gen, .idx = i };
	if (n)
		err = bpf_map_update_batch(bpf_map__fd(b->skel->maps.extents), keys, v, &count, NULL);
	if (!err)
		err = bpf_map_update_elem(files, &fk, &f, BPF_ANY);
	if (err) {
		err = -errno;
		delete_extents(b, nodeid, f.gen, n);
		fi_lib_bpf_forget(b, nodeid);
	}
	if (had_old)
		delete_extents(b, nodeid, old.gen, old.count);
	free(keys);
	return err;
}

int fi_lib_bpf_queue_fd(struct fi_bpf *b)
{
	return b->skel ? bpf_map__fd(b->skel->maps.ioend_queue) : -1;
}

/*
 * One delete per block: the hash map has no range delete, and a batch
 * delete stops at the first key that is not there.  Skipped while the
 * program never marked a block (most servers, most of the time).
 */
void fi_lib_bpf_written_reset(struct fi_bpf *b, uint32_t dev, uint64_t pblk, uint64_t len)
{
	int fd;

	if (!b->skel || !__atomic_load_n(&b->skel->bss->marked_blocks, __ATOMIC_ACQUIRE))
		return;
	fd = bpf_map__fd(b->skel->maps.written);
	for (uint64_t i = 0; i < len; i++) {
		struct fi_written_key k = { .dev = dev, .pblk = pblk + i };

		bpf_map_delete_elem(fd, &k);
	}
}
