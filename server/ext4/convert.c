// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: uninitialized extents become initialized at ioend, for
 * exactly the blocks written.  An extent splits into up to three
 * (uninitialized, initialized, uninitialized) at any position in the
 * tree; a converted piece that continues a written neighbour on disk
 * joins it instead, so appends stay one extent.
 *
 * Each step keeps the tree whole.  The extent is shortened to its first
 * piece, and the others go in after it; an insert that fails takes out
 * what went in and puts the extent back as it was, so the blocks stay
 * uninitialized (zeros), never unmapped or mapped twice.  Before each
 * insert the handle goes back to the piece it follows: an insert that
 * split a leaf leaves the handle where the split put it.  Inserts can
 * only fail for want of a tree block or on an I/O error: data
 * allocation keeps ext4srv.tree_reserve blocks free for them.
 */
#include "ext4.h"
#include <ext2fs/ext3_extents.h>	/* EXT_*_MAX_LEN; needs ext2fs.h first */

#define UNINIT	EXT2_EXTENT_FLAGS_UNINIT

bool ext4_extent_continues(const struct ext2fs_extent *prev, const struct ext2fs_extent *e)
{
	bool uninit = e->e_flags & UNINIT;

	return (prev->e_flags & UNINIT) == (e->e_flags & UNINIT) &&
	       prev->e_lblk + prev->e_len == e->e_lblk && prev->e_pblk + prev->e_len == e->e_pblk &&
	       prev->e_len + e->e_len <= (uninit ? EXT_UNINIT_MAX_LEN : EXT_INIT_MAX_LEN);
}

/* [from, to) of @e, uninitialized or not. */
static struct ext2fs_extent piece(const struct ext2fs_extent *e, blk64_t from, blk64_t to,
				  bool uninit)
{
	return (struct ext2fs_extent){
		.e_lblk = from, .e_pblk = e->e_pblk + (from - e->e_lblk), .e_len = to - from,
		.e_flags = uninit ? UNINIT : 0,
	};
}

static errcode_t replace_at(ext2_extent_handle_t h, blk64_t at, struct ext2fs_extent *e)
{
	errcode_t err = ext2fs_extent_goto(h, at);

	if (!err)
		err = ext2fs_extent_replace(h, 0, e);
	if (!err)
		err = ext2fs_extent_fix_parents(h);
	return err;
}

static errcode_t insert_after(ext2_extent_handle_t h, blk64_t after, struct ext2fs_extent *e)
{
	errcode_t err = ext2fs_extent_goto(h, after);

	if (!err)
		err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, e);
	if (!err)
		err = ext2fs_extent_fix_parents(h);
	return err;
}

/* Undo a split that inserted @n of @p[1..]: @e as it was. */
static void unsplit(ext2_extent_handle_t h, struct ext2fs_extent *e, struct ext2fs_extent *p,
		    int n)
{
	while (n > 0)
		if (!ext2fs_extent_goto(h, p[n--].e_lblk))
			ext2fs_extent_delete(h, 0);
	replace_at(h, e->e_lblk, e);
}

/* [m0, m1) of uninitialized @e (the handle's current extent) initialized, in up to 3 pieces. */
static errcode_t split(ext2_extent_handle_t h, struct ext2fs_extent *e, blk64_t m0, blk64_t m1)
{
	blk64_t end = e->e_lblk + e->e_len;
	struct ext2fs_extent p[3];
	errcode_t err;
	int n = 0, i;

	if (m0 > e->e_lblk)
		p[n++] = piece(e, e->e_lblk, m0, true);
	p[n++] = piece(e, m0, m1, false);
	if (m1 < end)
		p[n++] = piece(e, m1, end, true);
	err = ext2fs_extent_replace(h, 0, &p[0]);
	for (i = 1; !err && i < n; i++) {
		err = insert_after(h, p[i - 1].e_lblk, &p[i]);
		if (err)
			unsplit(h, e, p, i - 1);
	}
	return err;
}

/*
 * [m0, m1) of @e joins the written extent before it (@m0 is where @e
 * starts) or after it (@m1 is where it ends), if one continues it on
 * disk.  *@joined says whether it did.
 */
static errcode_t join(ext2_extent_handle_t h, struct ext2fs_extent *e, blk64_t m0, blk64_t m1,
		      bool *joined)
{
	struct ext2fs_extent mid = piece(e, m0, m1, false), rest, nb;
	blk64_t end = e->e_lblk + e->e_len;
	bool before = m0 == e->e_lblk;
	errcode_t err;

	*joined = false;
	if (!before && m1 != end)
		return 0;
	err = ext2fs_extent_get(h, before ? EXT2_EXTENT_PREV_SIB : EXT2_EXTENT_NEXT_SIB, &nb);
	if (err || !(before ? ext4_extent_continues(&nb, &mid) : ext4_extent_continues(&mid, &nb))) {
		/* Back to @e for split(). */
		return ext2fs_extent_goto(h, e->e_lblk);
	}
	/* @e loses the piece first: a failure in between leaves it unmapped, not mapped twice. */
	if (before && m1 == end) {
		err = ext2fs_extent_goto(h, e->e_lblk);
		if (!err)
			err = ext2fs_extent_delete(h, 0);
	} else {
		rest = before ? piece(e, m1, end, true) : piece(e, e->e_lblk, m0, true);
		err = replace_at(h, e->e_lblk, &rest);
	}
	if (err)
		return err;
	if (before) {
		nb.e_len += mid.e_len;
	} else {
		nb.e_lblk = mid.e_lblk;
		nb.e_pblk = mid.e_pblk;
		nb.e_len += mid.e_len;
	}
	err = replace_at(h, before ? nb.e_lblk : nb.e_lblk + mid.e_len, &nb);
	*joined = !err;
	return err;
}

/* Moves the handle to the first leaf extent that ends after @lblk; EXT2_ET_EXTENT_NO_NEXT if none. */
static errcode_t find(ext2_extent_handle_t h, blk64_t lblk, struct ext2fs_extent *e)
{
	errcode_t err = ext2fs_extent_goto(h, lblk);

	if (!err)
		return ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, e);
	if (err != EXT2_ET_EXTENT_NOT_FOUND)
		return err;
	/* In a hole: the next leaf extent, from the start (holes here are rare). */
	for (err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, e); !err;
	     err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, e))
		if ((e->e_flags & EXT2_EXTENT_FLAGS_LEAF) && e->e_len && e->e_lblk + e->e_len > lblk)
			return 0;
	return err;
}

int ext4_convert(struct ext4srv *s, ext2_ino_t ino, struct ext2_inode_large *inode,
		 blk64_t lblk, blk64_t len)
{
	blk64_t end = lblk + len, m1;
	struct ext2fs_extent e;
	ext2_extent_handle_t h;
	errcode_t err;
	bool joined;

	err = ext2fs_extent_open2(s->fs, ino, ext2(inode), &h);
	if (err)
		return to_errno(err);
	while (lblk < end) {
		err = find(h, lblk, &e);
		if (err || e.e_lblk >= end)
			break;
		if (e.e_lblk > lblk)
			lblk = e.e_lblk;
		m1 = e.e_lblk + e.e_len < end ? e.e_lblk + e.e_len : end;
		if (e.e_flags & UNINIT) {
			err = join(h, &e, lblk, m1, &joined);
			if (!err && !joined)
				err = split(h, &e, lblk, m1);
			if (err)
				break;
		}
		lblk = m1;
	}
	ext2fs_extent_free(h);
	return err == EXT2_ET_EXTENT_NO_NEXT ? 0 : to_errno(err);
}
