/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuse-iomap-blockfs: the reference server of the iomap data path.
 *
 * File data lives on a block device and never passes through this server:
 * it keeps the namespace (memns) and, per regular file, a list of extents,
 * and answers FUSE_IOMAP_BEGIN, END and IOEND.  The metadata lives in
 * memory, saved to a side file (--meta) on fsync, syncfs and exit, and
 * read back at start.
 *
 * In place (the default), ext4's way: a write into a hole preallocates at
 * least BFS_PREALLOC blocks (also past EOF) as UNWRITTEN extents, which
 * read as zeros; writes into them are answered UNWRITTEN with
 * FUSE_IOMAP_F_WANT_IOEND, and FUSE_IOMAP_IOEND converts what reached the
 * device.  The size grows at ioend too (FUSE_IOMAP_IOEND_APPEND): only
 * data on the device becomes part of the file.  No FUSE_IOMAP_END.
 *
 * --out-of-place: every write goes to newly allocated blocks, staged in
 * the file's "cow" list (copy on write) beside its extents.  BEGIN for a
 * write stages them (or hands out the ones already staged there: dirty
 * pages wait for writeback on them), END gives back those of a new
 * staging the write did not touch, writeback stages blocks where none
 * are, and IOEND, once the data is on the device, moves the written ones
 * into the file's extents and frees the blocks they replace.  Until then
 * the file reads its old blocks: a crash never shows blocks that were not
 * written.
 *
 * With --meta, freed blocks are not reused until the side file no longer
 * points at them (the next save): else another file's data could land in
 * a block that the saved metadata still gives to the file that freed it.
 *
 * Its files: map.c answers the kernel's mapping requests, blockfs.c keeps
 * a file's data for the namespace and syncs, meta.c saves and loads the
 * side file, main.c reads the command line and serves; extents.c holds
 * the extent lists and the block allocator.
 */
#ifndef FI_BLOCKFS_H
#define FI_BLOCKFS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <fuse_lowlevel.h>

#include "extents.h"
#include "fuse_iomap_server.h"

/* Blocks a write into a hole allocates at least (up to the next extent). */
#define BFS_PREALLOC	64
/* Devices one server stripes over, at most. */
#define BFS_MAX_DEVS	16

struct bfs_file {
	struct ext_list ext;
	struct ext_list cow;	/* --out-of-place: staged blocks, not yet in ext */
};

struct bfs_dev {
	const char *path;		/* as given */
	int fd;
	uint32_t cookie;		/* as registered with the library */
	struct balloc alloc;
	/* With --meta: blocks freed since the last save, by device block (lblk = pblk). */
	struct ext_list freed;
};

struct blockfs {
	struct fi_memns ns;		/* first: the session's userdata */
	unsigned int bbits;		/* log2 of the block size */
	struct bfs_dev dev[BFS_MAX_DEVS];
	unsigned int ndev;
	uint64_t chunk;			/* --stripe: blocks a chunk; 0: one device */
	bool out_of_place;
	struct fi_server *srv;
	bool bpf;			/* --bpf: the extent_map tier */
	const char *meta;		/* --meta, or NULL */
};

/* blockfs.c */
extern const struct fi_memns_backend bfs_backend;
int bfs_commit_locked(struct blockfs *bfs);
int bfs_syncfs(void *ctx);
struct bfs_file *bfs_file(struct fi_memns_node *n);
struct fi_extent bfs_fi_extent(struct blockfs *bfs, const struct ext *e);
uint32_t bfs_stripe_dev(struct blockfs *bfs, uint64_t lblk);
void bfs_blocks_reset(struct blockfs *bfs, uint32_t dev, uint64_t pblk, uint64_t len);
void bfs_bpf_forget(struct blockfs *bfs, struct fi_memns_node *n);
void bfs_bpf_update(struct blockfs *bfs, struct fi_memns_node *n, uint64_t lblk,
		    uint64_t len, const struct ext *e);
void bfs_free_piece(void *arg, struct ext piece);
void bfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* map.c */
int bfs_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
	      struct fuse_iomap_begin_out *out);
int bfs_end(void *ctx, uint64_t nodeid, const struct fuse_iomap_end_in *in);
int bfs_extents(void *ctx, uint64_t nodeid, struct fi_extent **vp, uint32_t *np,
		uint32_t *flags);
int bfs_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
	      struct fuse_iomap_ioend_out *out);

/* meta.c */
int bfs_load(struct blockfs *bfs, FILE *fp);
int bfs_save(struct blockfs *bfs, const char *path);

#endif
