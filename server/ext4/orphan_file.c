// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: the orphan file after a crash.  With feature
 * orphan_file (in mke2fs's defaults from e2fsprogs 1.47.1 on, so on
 * Debian 13) the kernel's ext4 records an inode that loses its last name
 * while in use, or that it is truncating, in the orphan file instead of
 * the super block's list, and sets orphan_present until it has dealt with
 * them.  After a crash the flag stays, and whoever writes the image next
 * must free those inodes (or cut them back to their size), as for the
 * list.
 *
 * The orphan file's blocks each hold an array of inode numbers (0: free
 * slot) and, at the block's end, a tail: a magic number and a checksum of
 * the block under metadata_csum.  A block that fails either is refused:
 * e2fsck, not a guess, decides what such an image holds.
 */
#include <errno.h>
#include <stdlib.h>

#include "ext4.h"

/* Recover every inode block @pblk of the orphan file @ino names, then clear them. */
static int orphan_block_recover(struct ext4srv *s, ext2_ino_t ino, blk64_t pblk, char *buf,
				unsigned int *freed)
{
	struct ext2_super_block *sb = s->fs->super;
	struct ext4_orphan_block_tail *tail = ext2fs_orphan_block_tail(s->fs, buf);
	uint32_t *slot = (uint32_t *)buf;
	int i, n = ext2fs_inodes_per_orphan_block(s->fs), err;
	bool dirty = false;
	ext2_ino_t o;

	err = to_errno(io_channel_read_blk64(s->fs->io, pblk, 1, buf));
	if (err)
		return err;
	if (ext2fs_le32_to_cpu(tail->ob_magic) != EXT4_ORPHAN_BLOCK_MAGIC ||
	    !ext2fs_orphan_file_block_csum_verify(s->fs, ino, pblk, buf))
		return EUCLEAN;
	for (i = 0; i < n; i++) {
		o = ext2fs_le32_to_cpu(slot[i]);
		if (!o)
			continue;
		if (o < EXT2_FIRST_INO(sb) || o > sb->s_inodes_count)
			return EUCLEAN;
		err = ext4_orphan_recover_one(s, o);
		if (err)
			return err;
		slot[i] = 0;
		dirty = true;
		(*freed)++;
	}
	if (!dirty)
		return 0;
	err = to_errno(ext2fs_orphan_file_block_csum_set(s->fs, ino, pblk, buf));
	return err ?: to_errno(io_channel_write_blk64(s->fs->io, pblk, 1, buf));
}

/* What orphan_present says is left: recovered, and the flag cleared. */
int ext4_orphan_file_recover(struct ext4srv *s, unsigned int *freed)
{
	struct ext2_super_block *sb = s->fs->super;
	ext2_ino_t ino = sb->s_orphan_file_inum;
	struct ext2_inode_large inode;
	blk64_t lblk, nblk, pblk;
	char *buf;
	int err;

	if (!ext2fs_has_feature_orphan_present(sb))
		return 0;
	if (!ext2fs_has_feature_orphan_file(sb) || ino < 1 || ino > sb->s_inodes_count)
		return EUCLEAN;
	err = ext4_read_inode(s, ino, &inode);
	if (err)
		return err;
	buf = malloc(s->fs->blocksize);
	if (!buf)
		return ENOMEM;
	nblk = EXT2_I_SIZE(&inode) >> s->bbits;
	for (lblk = 0; !err && lblk < nblk; lblk++) {
		err = to_errno(ext2fs_bmap2(s->fs, ino, ext2(&inode), NULL, 0, lblk, NULL, &pblk));
		if (!err && !pblk)
			err = EUCLEAN;
		if (!err)
			err = orphan_block_recover(s, ino, pblk, buf, freed);
	}
	free(buf);
	if (err)
		return err;
	ext2fs_clear_feature_orphan_present(sb);
	ext2fs_mark_super_dirty(s->fs);
	return 0;
}
