/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memns: the in-memory namespace shared by our servers (see memns.c).
 * A server embeds struct memns first in its context, passes the context
 * as the session's userdata, and supplies a backend for file contents.
 */
#ifndef FI_MEMNS_H
#define FI_MEMNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <fuse_lowlevel.h>

#define MEMNS_MAX_NAME	255

struct memns_dirent {
	struct memns_dirent *next;
	fuse_ino_t ino;
	char name[];
};

struct memns_node {
	struct stat st;
	uint64_t nlookup;		/* kernel references (lookup - forget) */
	char *target;			/* symlinks */
	void *data;			/* regular files: the backend's */
	struct memns_dirent *entries;	/* directories: unsorted list */
};

struct memns;

struct memns_backend {
	/* Change the size of regular file @n (st_size is still the old one). */
	int (*resize)(struct memns *fs, struct memns_node *n, off_t size);
	/* Release what @n holds; it is being freed. */
	void (*free_data)(struct memns *fs, struct memns_node *n);
	/* Optional: fill in the block counts. */
	void (*statfs)(struct memns *fs, struct statvfs *sv);
};

struct memns {
	const struct memns_backend *be;
	unsigned int blksize;		/* st_blksize, f_bsize */
	struct memns_node **nodes;	/* indexed by inode number; NULL = free */
	size_t nr_nodes;
	size_t cap_nodes;
};

int memns_init(struct memns *fs, const struct memns_backend *be, unsigned int blksize);
void memns_destroy(struct memns *fs);
/* Fill in every namespace operation; a server adds the data ones. */
void memns_fill_ops(struct fuse_lowlevel_ops *ops);

struct memns *memns_of(fuse_req_t req);
struct memns_node *memns_node(struct memns *fs, fuse_ino_t ino);
struct memns_node *memns_new_node(struct memns *fs, mode_t mode, const struct fuse_ctx *ctx);
int memns_link_name(struct memns_node *dir, const char *name, struct memns_node *n);
void memns_touch(struct memns_node *n, bool data);

#endif
