/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A file's extent list (sorted, non-overlapping, merged when contiguous,
 * on one device and of one kind: written or unwritten) and a block
 * allocator over a device, in file system blocks.
 */
#ifndef FI_EXTENTS_H
#define FI_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

struct ext {
	uint64_t lblk;		/* first file block */
	uint64_t pblk;		/* first device block */
	uint64_t len;		/* blocks */
	/* Allocated, never written: reads as zeros (FUSE_IOMAP_TYPE_UNWRITTEN). */
	uint8_t unwritten;
	uint32_t dev;		/* which of the server's devices pblk is on */
};

struct ext_list {
	struct ext *v;
	size_t nr, cap;
};

/* Index of the first extent that ends after @lblk (nr if none). */
size_t ext_find(const struct ext_list *l, uint64_t lblk);
/* Insert @e (which must not overlap), merging with contiguous neighbours. */
int ext_insert(struct ext_list *l, struct ext e);
/* Remove blocks [lblk, lblk+len); each removed piece goes to @cb. */
int ext_remove(struct ext_list *l, uint64_t lblk, uint64_t len,
	       void (*cb)(void *arg, struct ext piece), void *arg);
/*
 * Make the unwritten blocks of [lblk, lblk+len) written (splitting and
 * merging as needed); each converted piece goes to @cb.  0 or -ENOMEM
 * (then nothing of the piece at hand changed).
 */
int ext_convert(struct ext_list *l, uint64_t lblk, uint64_t len,
		void (*cb)(void *arg, struct ext piece), void *arg);
void ext_free(struct ext_list *l);

struct balloc {
	uint8_t *map;		/* one bit per block, 1 = in use */
	uint64_t nblocks;
	uint64_t nfree;
	uint64_t cursor;	/* where the next search starts */
};

int balloc_init(struct balloc *b, uint64_t nblocks);
/* Up to @want contiguous free blocks: returns how many (0 = full), *pblk. */
uint64_t balloc_alloc(struct balloc *b, uint64_t want, uint64_t *pblk);
void balloc_mark(struct balloc *b, uint64_t pblk, uint64_t len, int used);
void balloc_destroy(struct balloc *b);

#endif
