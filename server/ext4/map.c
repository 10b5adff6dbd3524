// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: where file data lives.  FUSE_IOMAP_BEGIN reads the
 * inode's extent tree (or block map): holes are HOLE, uninitialized
 * extents UNWRITTEN.  Written blocks are overwritten in place.  A write
 * into a hole gets a new uninitialized extent, longer than the write if
 * it reaches past EOF (tail.c); writes into uninitialized
 * blocks go out as UNWRITTEN with FUSE_IOMAP_F_WANT_IOEND, and
 * FUSE_IOMAP_IOEND initializes exactly what reached the device
 * (convert.c), so nothing is zeroed on disk and a block is readable only
 * once its data is there.  The size of a write past EOF is committed at
 * ioend too (FUSE_IOMAP_IOEND_APPEND); the kernel keeps the times.  No
 * FUSE_IOMAP_END.
 * New blocks that continue the extent before them on disk lengthen it: an
 * append is not one more extent (e2fsck wants trees no deeper than needed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>

#include "ext4.h"
#include <ext2fs/ext3_extents.h>	/* EXT_*_MAX_LEN; needs ext2fs.h first */

static struct fuse_iomap_io extent_map(struct ext4srv *s, blk64_t lblk, blk64_t pblk,
				       blk64_t len, bool uninit)
{
	return (struct fuse_iomap_io){
		.offset = lblk << s->bbits, .length = len << s->bbits,
		.addr = pblk << s->bbits, .dev = s->cookie,
		.type = uninit ? FUSE_IOMAP_TYPE_UNWRITTEN : FUSE_IOMAP_TYPE_MAPPED,
	};
}

/* Walk the extent tree's leaves for the one holding @lblk, or the hole around it. */
static int map_extents(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		       blk64_t lblk, struct fuse_iomap_io *map)
{
	/* Nothing is allocated past the largest file, ahead of appends neither. */
	blk64_t hole_end = s->maxbytes >> s->bbits;
	struct ext2fs_extent e;
	ext2_extent_handle_t h;
	errcode_t err;

	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		return to_errno(err);
	for (err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e); !err;
	     err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e)) {
		if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF) || !e.e_len)
			continue;
		if (e.e_lblk > lblk) {
			hole_end = e.e_lblk;
			break;
		}
		if (lblk < e.e_lblk + e.e_len) {
			*map = extent_map(s, e.e_lblk, e.e_pblk, e.e_len,
					  e.e_flags & EXT2_EXTENT_FLAGS_UNINIT);
			ext2fs_extent_free(h);
			return 0;
		}
	}
	ext2fs_extent_free(h);
	if (err && err != EXT2_ET_EXTENT_NO_NEXT && err != EXT2_ET_EXTENT_NOT_FOUND)
		return to_errno(err);
	*map = fi_iomap_hole(lblk << s->bbits, (hole_end - lblk) << s->bbits);
	return 0;
}

/* Block-mapped (ext2/3 style) files: one run of contiguous blocks. */
static int map_blockmap(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
			blk64_t lblk, blk64_t want, struct fuse_iomap_io *map)
{
	blk64_t first, pblk, n;
	errcode_t err;

	err = ext2fs_bmap2(s->fs, ino, ext2(inode), NULL, 0, lblk, NULL, &first);
	if (err)
		return to_errno(err);
	for (n = 1; n < want; n++) {
		err = ext2fs_bmap2(s->fs, ino, ext2(inode), NULL, 0, lblk + n, NULL, &pblk);
		if (err)
			return to_errno(err);
		if (!first ? pblk != 0 : pblk != first + n)
			break;
	}
	*map = first ? extent_map(s, lblk, first, n, false)
		     : fi_iomap_hole(lblk << s->bbits, n << s->bbits);
	return 0;
}

static int map_at(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		  blk64_t lblk, blk64_t want, struct fuse_iomap_io *map)
{
	if (inode->i_flags & EXT4_EXTENTS_FL)
		return map_extents(s, ino, inode, lblk, map);
	return map_blockmap(s, ino, inode, lblk, want, map);
}

/*
 * Free blocks at @goal for file data, *len of them (n at most).  Blocks
 * freed since the last commit are not among them (journal.c); when only
 * they are left, a commit frees them for good and the search runs again,
 * as the kernel's ext4 retries an allocation after forcing a commit.
 */
static int new_data_range(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
			  blk64_t goal, blk64_t n, blk64_t *pblk, blk64_t *len)
{
	errcode_t err = ext2fs_new_range(s->fs, 0, goal, n, NULL, pblk, len);
	int ret;

	if (err != EXT2_ET_BLOCK_ALLOC_FAIL || !ext4_journal_deferred(s))
		return to_errno(err);
	/*
	 * The commit takes what this request changed so far: the inode with
	 * it, its tree no deeper than e2fsck wants (a punch may come before).
	 */
	ret = ext4_shrink_tree(s, ino, inode);
	if (!ret)
		ret = ext4_write_inode(s, ino, inode);
	if (!ret)
		ret = ext4_journal_commit(s);
	if (ret)
		return ret;
	return to_errno(ext2fs_new_range(s->fs, 0, goal, n, NULL, pblk, len));
}

/*
 * New blocks for the hole [lblk, lblk + n): one extent as long as the free
 * space at the goal allows (at least a block), uninitialized or not.  Not
 * ext2fs_fallocate(): in a hole before a file's first extent it allocates
 * up to that extent, whatever the length asked, and those blocks (not
 * zeroed) would become readable.
 */
static int alloc_extent(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
			blk64_t lblk, blk64_t n, bool uninit, blk64_t *pblk, blk64_t *len)
{
	blk64_t goal = ext2fs_find_inode_goal(s->fs, ino, ext2(inode), lblk);
	struct ext2fs_extent e, cur;
	blk64_t avail = ext2fs_free_blocks_count(s->fs->super);
	ext2_extent_handle_t h;
	errcode_t err;

	if (n > (uninit ? EXT_UNINIT_MAX_LEN : EXT_INIT_MAX_LEN))
		n = uninit ? EXT_UNINIT_MAX_LEN : EXT_INIT_MAX_LEN;
	/* The last blocks are the tree's: a conversion at ioend must not fail. */
	if (avail <= s->tree_reserve)
		return ENOSPC;
	if (n > avail - s->tree_reserve)
		n = avail - s->tree_reserve;
	err = new_data_range(s, ino, inode, goal, n, pblk, len);
	if (err)
		return err;
	/* Ours before the tree takes a block for a split. */
	ext4_block_range_stats(s->fs, *pblk, *len, +1);
	/* The BPF tier must not remember them written under an earlier owner. */
	if (s->bpf)
		fi_server_bpf_blocks_reset(s->srv, s->cookie, *pblk, *len);
	err = ext2fs_iblk_add_blocks(s->fs, ext2(inode), *len);
	if (err) {
		ext4_block_range_stats(s->fs, *pblk, *len, -1);
		return to_errno(err);
	}
	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		goto out_unclaim;
	e = (struct ext2fs_extent){
		.e_lblk = lblk, .e_pblk = *pblk, .e_len = *len,
		.e_flags = uninit ? EXT2_EXTENT_FLAGS_UNINIT : 0,
	};
	/* After the extent before lblk (as its continuation if it can be); first if none. */
	ext2fs_extent_goto(h, lblk);
	if (ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &cur) || cur.e_lblk > lblk) {
		err = ext2fs_extent_insert(h, 0, &e);
	} else if (ext4_extent_continues(&cur, &e)) {
		cur.e_len += e.e_len;
		err = ext2fs_extent_replace(h, 0, &cur);
	} else {
		err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &e);
	}
	if (err) {
		ext2fs_extent_free(h);
		goto out_unclaim;
	}
	/* Inserted, the blocks are the file's, whatever happens next. */
	err = ext2fs_extent_fix_parents(h);
	ext2fs_extent_free(h);
	return to_errno(err);
out_unclaim:
	ext2fs_iblk_sub_blocks(s->fs, ext2(inode), *len);
	ext4_block_range_stats(s->fs, *pblk, *len, -1);
	return to_errno(err);
}

/*
 * ext2fs_punch(), but what lies at the end of the file goes by whole
 * extents: the last one shortened or deleted, its blocks freed in one
 * call.  ext2fs_punch() frees one block per call, each with its group's
 * checksum and our journal's bookkeeping, and the 1 MiB allocated ahead of
 * a small file cost 256 of them at its close: 0.8 ms of server time per
 * file in the TCG guest (make bench-explain, metadata_create_unlink).
 * ext2fs_punch() then does the rest, a range inside the file, or nothing.
 * The caller writes @inode.
 */
int ext4_punch(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
	       blk64_t first, blk64_t last)
{
	struct ext3_extent_header *root = (struct ext3_extent_header *)inode->i_block;
	ext2_extent_handle_t h;
	struct ext2fs_extent e;
	errcode_t err;

	if (!(inode->i_flags & EXT4_EXTENTS_FL))
		goto rest;
	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		return to_errno(err);
	/* The root is in @inode: libext2fs empties it to depth 0 at the end. */
	while (ext2fs_le16_to_cpu(root->eh_entries)) {
		blk64_t pblk, n;

		err = ext2fs_extent_get(h, EXT2_EXTENT_LAST_LEAF, &e);
		if (err || e.e_lblk + e.e_len <= first || e.e_lblk + e.e_len - 1 > last)
			break;
		if (e.e_lblk >= first) {
			pblk = e.e_pblk;
			n = e.e_len;
			err = ext2fs_extent_delete(h, 0);
		} else {
			n = e.e_lblk + e.e_len - first;
			e.e_len -= n;
			pblk = e.e_pblk + e.e_len;
			err = ext2fs_extent_replace(h, 0, &e);
		}
		if (err)
			break;
		ext2fs_iblk_sub_blocks(s->fs, ext2(inode), n);
		ext4_block_range_stats(s->fs, pblk, n, -1);
	}
	ext2fs_extent_free(h);
	if (err && err != EXT2_ET_EXTENT_NO_NEXT)
		return to_errno(err);
rest:
	return to_errno(ext2fs_punch(s->fs, ino, ext2(inode), NULL, first, last));
}

/*
 * ext2fs_punch leaves a tree as deep as it was; e2fsck wants extents that
 * fit in the inode back in the inode ("extent tree could be shorter").
 * Rebuilds the root from the (at most 4) extents and frees the tree blocks.
 * The caller writes the inode.
 */
#define EXT4_ROOT_EXTENTS	4	/* what i_block holds after the header */
#define EXT4_SHRINK_MAX_NODES	16	/* tree blocks over at most 4 extents, any depth */

int ext4_shrink_tree(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	struct ext3_extent_header *eh = (struct ext3_extent_header *)inode->i_block;
	struct ext2fs_extent v[EXT4_ROOT_EXTENTS], e;
	blk64_t nodes[EXT4_SHRINK_MAX_NODES];
	unsigned int nv = 0, nn = 0, i;
	ext2_extent_handle_t h;
	errcode_t err;

	if (!(inode->i_flags & EXT4_EXTENTS_FL) || !ext2fs_le16_to_cpu(eh->eh_depth))
		return 0;
	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		return to_errno(err);
	for (err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e); !err;
	     err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e)) {
		if (e.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT)
			continue;
		if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF)) {
			if (nn == EXT4_SHRINK_MAX_NODES)
				break;
			nodes[nn++] = e.e_pblk;
		} else if (e.e_len) {
			if (nv == EXT4_ROOT_EXTENTS)
				break;
			v[nv++] = e;
		}
	}
	ext2fs_extent_free(h);
	if (err != EXT2_ET_EXTENT_NO_NEXT)
		return err ? to_errno(err) : 0;	/* 0: too many to fit */
	ext4_bpf_forget(s, ino);
	/* An all-zero i_block opens as an empty tree of depth 0. */
	memset(inode->i_block, 0, sizeof(inode->i_block));
	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		return to_errno(err);
	for (i = 0; !err && i < nv; i++)
		err = ext2fs_extent_insert(h, i ? EXT2_EXTENT_INSERT_AFTER : 0, &v[i]);
	ext2fs_extent_free(h);
	if (err)
		return to_errno(err);
	for (i = 0; i < nn; i++) {
		ext2fs_block_alloc_stats2(s->fs, nodes[i], -1);
		ext2fs_iblk_sub_blocks(s->fs, ext2(inode), 1);
	}
	return 0;
}

/*
 * The rest of an allocation ahead that free space cut short (a backup
 * superblock, another file's blocks): a few more runs, so that the next
 * appends still find their blocks mapped.  The write itself needs only the
 * first run; running out of space here is no error.
 */
static int alloc_rest(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		      blk64_t lblk, blk64_t n, blk64_t *got)
{
	blk64_t pblk, len;
	int runs, err = 0;

	for (runs = 1; !err && *got < n && runs < EXT4_AHEAD_RUNS; runs++) {
		err = alloc_extent(s, ino, inode, lblk + *got, n - *got, true, &pblk, &len);
		if (!err)
			*got += len;
	}
	return err == ENOSPC ? 0 : err;
}

/*
 * A write at @lblk: in place over written blocks (asking for an ioend if
 * it may grow the file); uninitialized ones, new in a hole or not, are
 * written as UNWRITTEN and initialized at ioend.
 */
static int begin_write(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		       const struct fuse_iomap_begin_in *in, blk64_t want,
		       struct fuse_iomap_begin_out *out)
{
	blk64_t lblk = in->pos >> s->bbits, n, hole, pblk, got;
	struct fuse_iomap_io cur;
	int err;

	err = map_at(s, ino, inode, lblk, want, &cur);
	if (!err && cur.type != FUSE_IOMAP_TYPE_MAPPED &&
	    !(inode->i_flags & EXT4_EXTENTS_FL))
		err = EOPNOTSUPP;	/* no allocation in block-mapped files */
	if (!err && cur.type == FUSE_IOMAP_TYPE_HOLE) {
		hole = ((cur.offset + cur.length) >> s->bbits) - lblk;
		n = ext4_ahead(s, inode, lblk, want);
		if (n > hole)
			n = hole;
		if (n > EXT4_MAP_MAX_ALLOC)
			n = EXT4_MAP_MAX_ALLOC;
		err = alloc_extent(s, ino, inode, lblk, n, true, &pblk, &got);
		if (!err) {
			cur = extent_map(s, lblk, pblk, got, true);
			err = alloc_rest(s, ino, inode, lblk, n, &got);
		}
		if (!err)
			err = ext4_write_inode(s, ino, inode);
		if (!err && got > want)
			ext4_tail_note(s, ino, lblk + want, lblk + got);
	}
	if (err)
		return err;
	out->read = cur;
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	if (cur.type == FUSE_IOMAP_TYPE_UNWRITTEN || in->pos + in->count > EXT2_I_SIZE(inode))
		out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
	return 0;
}

static int add_extent(struct fi_extent **v, uint32_t *n, uint32_t *cap, struct fi_extent e)
{
	if (*n == *cap) {
		uint32_t ncap = *cap ? 2 * *cap : 64;
		void *tmp = realloc(*v, ncap * sizeof(**v));

		if (!tmp)
			return ENOMEM;
		*v = tmp;
		*cap = ncap;
	}
	(*v)[(*n)++] = e;
	return 0;
}

/* The file's whole extent list, for the BPF tier: its next reads need no upcall. */
static int ext4_extents(void *ctx, uint64_t nodeid, struct fi_extent **vp, uint32_t *np,
			uint32_t *flags)
{
	struct ext4srv *s = ctx;
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	struct fi_extent *v = NULL;
	uint32_t n = 0, cap = 0;
	struct ext2fs_extent e;
	ext2_extent_handle_t h;
	errcode_t err;

	/* extent_map answers writes into uninitialized extents and takes their ioends. */
	*flags = FI_FILE_IOEND;
	if (ext4_read_inode(s, ino, &inode) || !LINUX_S_ISREG(inode.i_mode) ||
	    !(inode.i_flags & EXT4_EXTENTS_FL) || ext2fs_extent_open2(s->fs, ino, ext2(&inode), &h))
		return -EAGAIN;
	for (err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e); !err;
	     err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e)) {
		if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF) || !e.e_len)
			continue;
		if (add_extent(&v, &n, &cap, (struct fi_extent){
				.lblk = e.e_lblk, .len = e.e_len, .pblk = e.e_pblk, .dev = s->cookie,
				.type = e.e_flags & EXT2_EXTENT_FLAGS_UNINIT ?
					FUSE_IOMAP_TYPE_UNWRITTEN : FUSE_IOMAP_TYPE_MAPPED }))
			break;
	}
	ext2fs_extent_free(h);
	*vp = v;
	*np = n;
	return err == EXT2_ET_EXTENT_NO_NEXT ? 0 : -EAGAIN;
}

static int ext4_begin(void *ctx, uint64_t nodeid, const struct fuse_iomap_begin_in *in,
		      struct fuse_iomap_begin_out *out)
{
	struct ext4srv *s = ctx;
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	blk64_t lblk = in->pos >> s->bbits;
	uint64_t count = in->count ? in->count : 1;
	blk64_t want;
	int err;

	/*
	 * The kernel was told the limit (fi_server_opts.max_file_size) and
	 * asks nothing past it; a block number past 32 bits would be cut to
	 * 32 in the extent tree, over the file's first blocks.
	 */
	if (in->pos >= s->maxbytes)
		return -EFBIG;
	if (count > s->maxbytes - in->pos)
		count = s->maxbytes - in->pos;
	want = ((in->pos + count - 1) >> s->bbits) - lblk + 1;
	err = ext4_read_inode(s, ino, &inode);
	if (err)
		return -err;
	if (!LINUX_S_ISREG(inode.i_mode))
		return -EINVAL;
	if (in->opflags & FUSE_IOMAP_OP_WRITE) {
		if (!s->rw)
			return -EROFS;
		/* Zeroing touches only what is written; writeback what BEGIN gave out. */
		if (!(in->opflags & (FUSE_IOMAP_OP_ZERO | FUSE_IOMAP_OP_WRITEBACK)))
			return -begin_write(s, ino, &inode, in, want, out);
	}
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	err = map_at(s, ino, &inode, lblk, want, &out->read);
	/* Writeback initializes at ioend, and commits a size past ours there. */
	if (!err && (in->opflags & FUSE_IOMAP_OP_WRITEBACK) &&
	    (out->read.type == FUSE_IOMAP_TYPE_UNWRITTEN ||
	     (out->read.type == FUSE_IOMAP_TYPE_MAPPED &&
	      in->pos + in->count > EXT2_I_SIZE(&inode))))
		out->read.flags |= FUSE_IOMAP_F_WANT_IOEND;
	return -err;
}

/* Data on the device: its blocks initialized, and the size committed if it grew. */
static int ext4_ioend(void *ctx, uint64_t nodeid, const struct fuse_iomap_ioend_in *in,
		      struct fuse_iomap_ioend_out *out)
{
	struct ext4srv *s = ctx;
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	uint64_t bs = s->fs->blocksize, first, end;
	int err;

	if (!s->rw)
		return -EROFS;
	/* Gone (its last writeback raced an unlink and the eviction): nothing to do. */
	if (ino <= s->fs->super->s_inodes_count &&
	    !ext2fs_test_inode_bitmap2(s->fs->inode_map, ino))
		return 0;
	err = ext4_read_inode(s, ino, &inode);
	if (err)
		return -err;
	if (!LINUX_S_ISREG(inode.i_mode))
		return -EINVAL;
	if ((in->flags & FUSE_IOMAP_IOEND_UNWRITTEN) && in->written &&
	    (inode.i_flags & EXT4_EXTENTS_FL)) {
		first = in->pos / bs;
		end = (in->pos + in->written + bs - 1) / bs;
		err = ext4_convert(s, ino, &inode, first, end - first);
		if (err)
			return -err;
	}
	if ((in->flags & FUSE_IOMAP_IOEND_APPEND) && in->pos + in->written > EXT2_I_SIZE(&inode)) {
		err = to_errno(ext2fs_inode_size_set(s->fs, ext2(&inode), in->pos + in->written));
		if (err)
			return -err;
	}
	out->newsize = EXT2_I_SIZE(&inode);
	return -ext4_write_inode(s, ino, &inode);
}

/* After the queued ioends (the library applied them before this). */
static int ext4_syncfs(void *ctx)
{
	return -ext4_sync(ctx, true);
}

const struct fi_iomap_ops ext4_iomap_ops = {
	.begin = ext4_begin,
	.ioend = ext4_ioend,
	.ioend_in_place = true,	/* ext4_convert() splits extents, never moves a block */
	.extents = ext4_extents,
	.syncfs = ext4_syncfs,
	.idle = ext4_idle,
};

/* Uninitialized extents over every hole of [lblk, end). */
static int prealloc(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		    blk64_t lblk, blk64_t end)
{
	struct fuse_iomap_io map;
	blk64_t next, pblk, got;
	int err;

	while (lblk < end) {
		err = map_extents(s, ino, inode, lblk, &map);
		if (err)
			return err;
		next = (map.offset + map.length) >> s->bbits;
		if (next > end)
			next = end;
		if (map.type == FUSE_IOMAP_TYPE_HOLE) {
			err = alloc_extent(s, ino, inode, lblk, next - lblk, true, &pblk, &got);
			if (err)
				return err;
			next = lblk + got;
		}
		lblk = next;
	}
	return 0;
}

/* Bytes [from, to) of one file block zeroed on disk, if the block is written. */
static int zero_partial(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
			uint64_t from, uint64_t to)
{
	blk64_t lblk = from >> s->bbits, pblk;
	struct fuse_iomap_io map;
	errcode_t err;
	char *buf;
	int ret;

	if (from >= to)
		return 0;
	ret = map_at(s, ino, inode, lblk, 1, &map);
	if (ret || map.type != FUSE_IOMAP_TYPE_MAPPED)
		return ret;
	pblk = (map.addr >> s->bbits) + (lblk - (map.offset >> s->bbits));
	err = ext2fs_get_memalign(s->fs->blocksize, s->fs->blocksize, &buf);
	if (err)
		return to_errno(err);
	err = io_channel_read_blk64(s->fs->io, pblk, 1, buf);
	if (!err) {
		memset(buf + (from & (s->fs->blocksize - 1)), 0, to - from);
		err = ext4_journal_write_data(s, pblk, buf);
	}
	ext2fs_free_mem(&buf);
	return to_errno(err);
}

/*
 * PUNCH_HOLE frees the whole blocks of [offset, end) and ZERO_RANGE makes
 * them uninitialized; both zero the partial blocks at the edges on disk
 * (the kernel wrote the range back before, and drops its cached pages
 * after).
 */
static int punch_or_zero(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
			 uint64_t offset, uint64_t end, bool zero)
{
	uint64_t bmask = s->fs->blocksize - 1;
	blk64_t first = (offset + bmask) >> s->bbits, last = end >> s->bbits;
	int err;

	if (first > last)	/* inside one block */
		return zero_partial(s, ino, inode, offset, end);
	err = zero_partial(s, ino, inode, offset, first << s->bbits);
	if (!err)
		err = zero_partial(s, ino, inode, last << s->bbits, end);
	if (err || first == last)
		return err;
	err = ext4_punch(s, ino, inode, first, last - 1);
	if (!err && zero)
		err = prealloc(s, ino, inode, first, last);
	if (!err)
		err = ext4_shrink_tree(s, ino, inode);
	return err;
}

/*
 * fallocate: preallocation (uninitialized extents, read as zeros until
 * written), PUNCH_HOLE and ZERO_RANGE.
 */
void ext4_fallocate(fuse_req_t req, fuse_ino_t nodeid, int mode, off_t offset, off_t length,
		    struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);
	ext2_ino_t ino = to_ino(nodeid);
	struct ext2_inode_large inode;
	blk64_t start = offset >> s->bbits;
	blk64_t end = (offset + length + s->fs->blocksize - 1) >> s->bbits;
	int err;

	(void)fi;
	if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) ||
	    ((mode & FALLOC_FL_PUNCH_HOLE) &&
	     (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE)))) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/* The kernel refuses it first (s_maxbytes); as the kernel's ext4 does. */
	if ((uint64_t)offset + length > s->maxbytes) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	err = ext4_read_inode(s, ino, &inode);
	if (!err && !(inode.i_flags & EXT4_EXTENTS_FL))
		err = EOPNOTSUPP;
	if (!err && !LINUX_S_ISREG(inode.i_mode))
		err = EINVAL;
	if (!err)
		ext4_tail_keep(s, ino, start);
	if (!err && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		err = punch_or_zero(s, ino, &inode, offset, offset + length,
				    mode & FALLOC_FL_ZERO_RANGE);
	else if (!err)
		err = prealloc(s, ino, &inode, start, end);
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) &&
	    (uint64_t)(offset + length) > EXT2_I_SIZE(&inode))
		err = to_errno(ext2fs_inode_size_set(s->fs, ext2(&inode), offset + length));
	if (!err) {
		ext4_touch(&inode, !(mode & FALLOC_FL_KEEP_SIZE));
		err = ext4_write_inode(s, ino, &inode);
	}
	fuse_reply_err(req, err);
}
