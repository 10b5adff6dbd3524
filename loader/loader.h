/* SPDX-License-Identifier: GPL-2.0 */
/* fuse-iomap-bpf: the loader's shared parts. */
#ifndef FI_LOADER_H
#define FI_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#define FI_SYSFS	"/sys/fs/fuseiomap/iomap"
#define FI_PIN_DIR	"/sys/fs/bpf"

/* One fuse_bpf_ops attached through a link. */
struct fi_attached {
	uint32_t conn_id;
	uint64_t conn_gen;
	char name[16];
	uint32_t link_id, map_id;
	int link_fd;		/* open while the callback runs */
};

/* conn.c */
/* A mount's connection: its id (st_dev) and generation (never reused). */
struct fi_conn {
	uint32_t id;
	uint64_t gen;
};

int fi_conn_of(const char *mountpoint, struct fi_conn *c);
int fi_conn_mountpoint(uint32_t id, char *buf, size_t size);
int fi_conn_counter(uint32_t id, const char *name, long long *value);

/* links.c: calls @fn for every attached fuse_bpf_ops; stops at nonzero. */
int fi_for_each_attached(int (*fn)(struct fi_attached *a, void *arg), void *arg);
/* The fuse_bpf_ops in struct_ops map @map_fd (map_id, conn_id, conn_gen, name); -EINVAL if none. */
int fi_map_ops(int map_fd, struct fi_attached *a);

#endif
