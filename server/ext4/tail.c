// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: allocation ahead of appends.  A write into a hole that
 * reaches past EOF gets an uninitialized extent four times as long as
 * the file reaches already (the write's first block: the size we know lags
 * buffered appends, whose ioends bring it), at least EXT4_AHEAD_MIN
 * blocks and at most
 * EXT4_MAP_MAX_ALLOC (16 MiB of 4 KiB blocks; never more than a 16th of
 * the free space, so that a few writers at once leave room for each
 * other), at the block after the file's last one.  The next appends find
 * their blocks mapped (with --bpf, mostly without an upcall), and the
 * file stays in few extents.  Growing with the file keeps a small file's
 * unused tail small: libext2fs frees a punched range one block at a time,
 * and a file of one block that got 16 MiB ahead cost 4,095 such frees at
 * its close (make bench-explain: the unlink that followed waited on them).
 *
 * The blocks of such a tail past EOF that no write used are freed when
 * the last writer closes the file, and when the kernel forgets it.  Not
 * before: while a file is open for writing, the kernel may hold dirty
 * pages past the size we know (it owns the size until their ioend), on
 * tail blocks it was handed.  At the last close fuse has written them
 * back, and the ioends (and queued ones) came before RELEASE.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "ext4.h"

blk64_t ext4_ahead(struct ext4srv *s, const struct ext2_inode_large *inode, blk64_t lblk,
		   blk64_t want)
{
	blk64_t eofb = (EXT2_I_SIZE(inode) + s->fs->blocksize - 1) >> s->bbits;
	blk64_t room = ext2fs_free_blocks_count(s->fs->super) / 16;
	/* From where the write starts: the size we know lags buffered appends. */
	blk64_t ahead = 4 * lblk > EXT4_AHEAD_MIN ? 4 * lblk : EXT4_AHEAD_MIN;

	if (lblk + want <= eofb)
		return want;
	if (ahead > EXT4_MAP_MAX_ALLOC)
		ahead = EXT4_MAP_MAX_ALLOC;
	if (ahead > room)
		ahead = room;
	return ahead > want ? ahead : want;
}

void ext4_tail_note(struct ext4srv *s, ext2_ino_t ino, blk64_t from, blk64_t to)
{
	struct ext4_ref *r = ext4_ref_find(s, ino);

	if (!r || from >= to)
		return;
	if (r->tail_to == r->tail_from || from < r->tail_from)
		r->tail_from = from;
	if (to > r->tail_to)
		r->tail_to = to;
}

/* Frees the unused part of @r's tail: its blocks past EOF. */
int ext4_tail_trim(struct ext4srv *s, struct ext4_ref *r)
{
	blk64_t eofb, from, to = r->tail_to;
	struct ext2_inode_large inode;
	int err;

	if (to == r->tail_from || !s->rw)
		return 0;
	err = ext4_read_inode(s, r->ino, &inode);
	if (err)
		return err;
	eofb = (EXT2_I_SIZE(&inode) + s->fs->blocksize - 1) >> s->bbits;
	from = eofb > r->tail_from ? eofb : r->tail_from;
	r->tail_from = r->tail_to = 0;
	if (from >= to || !inode.i_links_count)
		return 0;
	ext4_bpf_forget(s, r->ino);
	err = ext4_punch(s, r->ino, &inode, from, to - 1);
	if (!err)
		err = ext4_shrink_tree(s, r->ino, &inode);
	if (!err)
		err = ext4_write_inode(s, r->ino, &inode);
	return err;
}

/* A file opened for writing: its tail stays until the last such close. */
void ext4_writer_open(struct ext4srv *s, ext2_ino_t ino, const struct fuse_file_info *fi)
{
	struct ext4_ref *r = ext4_ref_find(s, ino);

	if (r && (fi->flags & O_ACCMODE) != O_RDONLY)
		r->writers++;
}

void ext4_release(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct ext4srv *s = srv_of(req);
	struct ext4_ref *r = ext4_ref_find(s, to_ino(nodeid));

	int err;

	if (r && (fi->flags & O_ACCMODE) != O_RDONLY && r->writers && !--r->writers) {
		err = ext4_tail_trim(s, r);
		if (err)
			fprintf(stderr, "fuse-iomap-ext4: can't free the blocks preallocated past "
				"EOF of inode %u: %s\n", r->ino, strerror(err));
	}
	fuse_reply_err(req, 0);
}

/* What fallocate allocates from @from on is the user's: the tail ends before it. */
void ext4_tail_keep(struct ext4srv *s, ext2_ino_t ino, blk64_t from)
{
	struct ext4_ref *r = ext4_ref_find(s, ino);

	if (!r)
		return;
	if (from <= r->tail_from)
		r->tail_from = r->tail_to = 0;
	else if (from < r->tail_to)
		r->tail_to = from;
}
