// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: opening the image and closing it.  What the server
 * cannot serve safely is refused before anything is written; a journal
 * that needs recovery is replayed first (replay.c), orphan inodes a crash
 * left are cleaned up, and the journal started (journal.c).  With
 * --journal=off (or no journal) the image is marked not clean while
 * served, and clean again when the server stops normally.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>

#include "ext4.h"

/* What this server can't serve at all, or not read-write; checked before anything is written. */
static const char *ext4_unsupported(ext2_filsys fs, bool rw)
{
	struct ext2_super_block *sb = fs->super;

	if (ext2fs_has_feature_inline_data(sb))
		return "feature inline_data is not supported";
	if (ext2fs_has_feature_encrypt(sb))
		return "feature encrypt is not supported";
	if (ext2fs_has_feature_verity(sb))
		return "feature verity is not supported";
	if (ext2fs_has_feature_casefold(sb))
		return "feature casefold is not supported";
	if (fs->blocksize > 4096)
		return "block sizes above 4096 are not supported";
	if (!rw) {
		if (ext2fs_has_feature_journal_needs_recovery(sb))
			return "its journal needs recovery (serve it read-write once to replay "
			       "it, or run e2fsck -E journal_only)";
		return NULL;
	}
	/* Writing: only what this server keeps right (serve the rest with --read-only). */
	if (!ext2fs_has_feature_extents(sb))
		return "writing needs feature extent (use --read-only)";
	if (ext2fs_has_feature_bigalloc(sb))
		return "writing with feature bigalloc is not supported (use --read-only)";
	if (ext2fs_has_feature_quota(sb))
		return "writing with feature quota is not supported (use --read-only)";
	return NULL;
}

/* What the image's state (after journal replay) must be for writing. */
static const char *ext4_unwritable(ext2_filsys fs)
{
	struct ext2_super_block *sb = fs->super;

	if (!(sb->s_state & EXT2_VALID_FS) || (sb->s_state & EXT2_ERROR_FS))
		return "it was not cleanly unmounted or has errors (run e2fsck -f first, or use --read-only)";
	return NULL;
}

/*
 * The block device to serve for @image, claimed, or made from an image
 * file, as fi_open_device() says; with our own words for what is not ext4.
 */
int ext4_open_dev(const char *image, bool ro)
{
	struct stat st;
	int fd, err;

	if (stat(image, &st) < 0) {
		err = errno;
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: %s\n", image, strerror(err));
		return -err;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: not an ext4 file system "
			"(neither an image file nor a block device)\n", image);
		return -EINVAL;
	}
	fd = fi_open_device("fuse-iomap-ext4", image, !ro);
	if (fd == -EROFS)
		fprintf(stderr, "fuse-iomap-ext4: %s is read-only: serve it with --read-only\n", image);
	return fd;
}

/* Read-write: not clean while we serve (no journal), clean again when we stop. */
static int ext4_set_clean(struct ext4srv *s, bool clean)
{
	if (clean)
		s->fs->super->s_state |= EXT2_VALID_FS;
	else
		s->fs->super->s_state &= ~EXT2_VALID_FS;
	ext2fs_mark_super_dirty(s->fs);
	return to_errno(ext2fs_flush(s->fs));
}

/*
 * Opening read-write starts MMP in libext2fs (and closing stops it); a
 * read-only open skips it, but a reader must not read under a writer on
 * another host either.  Read-only, ext2fs_mmp_start() only checks.
 */
static int ext4_check_mmp(const char *image, struct ext4srv *s)
{
	errcode_t err;

	if (!ext2fs_has_feature_mmp(s->fs->super))
		return 0;
	err = ext2fs_mmp_start(s->fs);
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't serve %s: in use elsewhere (%s)\n", image,
		error_message(err));
	ext2fs_close_free(&s->fs);
	return -1;
}

/* libext2fs's ways of saying there is no ext2/3/4 super block to be found. */
static bool ext4_not_ext4(errcode_t err)
{
	return err == EXT2_ET_BAD_MAGIC || err == EXT2_ET_SHORT_READ;
}

static int ext4_open_image(const char *image, int flags, ext2_filsys *fs)
{
	errcode_t err = ext2fs_open2(image, NULL, flags, 0, 0, ext4_journal_io_manager, fs);

	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: can't open %s as ext4: %s%s%s\n", image,
			ext4_not_ext4(err) ? "not an ext4 file system (" : "",
			err < 256 ? strerror(err) : error_message(err),
			ext4_not_ext4(err) ? ")" : "");
		return -1;
	}
	/*
	 * No write-back cache in libext2fs: a metadata block it freed (an
	 * extent tree block, say) and the kernel then filled with file data
	 * must not be written over later by a cached copy.
	 */
	err = io_channel_set_options((*fs)->io, "cache=off");
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't turn off the block cache for %s: %s\n", image,
		error_message(err));
	ext2fs_close_free(fs);
	return -1;
}

/*
 * The kernel's ext4 keeps the super block's free counts only roughly (the
 * group descriptors are exact): after a crash they are sums to redo, as
 * the kernel does at mount and e2fsck does.
 */
static void ext4_count_free(ext2_filsys fs)
{
	blk64_t blocks = 0;
	uint64_t inodes = 0;
	dgrp_t g;

	for (g = 0; g < fs->group_desc_count; g++) {
		blocks += ext2fs_bg_free_blocks_count(fs, g);
		inodes += ext2fs_bg_free_inodes_count(fs, g);
	}
	ext2fs_free_blocks_count_set(fs->super, blocks);
	fs->super->s_free_inodes_count = inodes;
}

/*
 * Committed journal transactions go home before anything is read, as the
 * kernel's ext4 does at mount; then the image is opened again, since
 * replay rewrote metadata under what libext2fs had read.
 */
static int ext4_recover(const char *image, int flags, struct ext4srv *s)
{
	struct ext4_replay_stats st;

	if (!ext2fs_has_feature_journal_needs_recovery(s->fs->super))
		return 0;
	if (ext4_journal_replay(s->fs, image, &st)) {
		ext2fs_close_free(&s->fs);
		return -1;
	}
	ext2fs_mmp_stop(s->fs);
	ext2fs_free(s->fs);
	s->fs = NULL;
	if (ext4_open_image(image, flags, &s->fs))
		return -1;
	ext2fs_clear_feature_journal_needs_recovery(s->fs->super);
	ext4_count_free(s->fs);
	ext2fs_mark_super_dirty(s->fs);
	s->replayed = st;
	s->did_replay = true;
	fprintf(stderr, "fuse-iomap-ext4: %s: journal replayed: %u transactions, %llu blocks "
		"written, %llu revoked\n", image, st.transactions,
		(unsigned long long)st.blocks, (unsigned long long)st.revoked);
	return 0;
}

/*
 * The inodes a crash left on the orphan list or in the orphan file, freed
 * (or truncated) as the kernel's ext4 does, in a transaction of their own.
 */
static int ext4_recover_orphans(const char *image, struct ext4srv *s)
{
	unsigned int n = 0, m = 0;
	int err;

	if (!s->fs->super->s_last_orphan && !ext2fs_has_feature_orphan_present(s->fs->super))
		return 0;
	err = ext4_orphans_recover(s, &n);
	if (!err)
		err = ext4_orphan_file_recover(s, &m);
	n += m;
	if (!err)
		err = ext4_sync(s, true);
	if (err) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: can't clean up its orphan inodes: "
			"%s (run e2fsck -f)\n", image, strerror(err));
		return -1;
	}
	fprintf(stderr, "fuse-iomap-ext4: %s: %u orphan inodes cleaned up\n", image, n);
	return 0;
}

/* --journal: "ordered" unless told otherwise or there is no journal. */
static int ext4_journal_mode(const char *image, struct ext4srv *s)
{
	bool has = ext2fs_has_feature_journal(s->fs->super);

	if (s->journal_opt && !strcmp(s->journal_opt, "off")) {
		s->journal = false;
		return 0;
	}
	if (s->journal_opt && !has) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s with --journal=ordered: it has no "
			"journal (tune2fs -O has_journal adds one)\n", image);
		return -1;
	}
	s->journal = has;
	return 0;
}

/*
 * The largest file, as the kernel's ext4 sets s_maxbytes for extent files:
 * an extent's first logical block is 32 bits, and the kernel keeps the
 * end of the last one (block 2^32 - 2, plus one) in 32 bits too, so
 * 2^32 - 1 blocks.  Without huge_file, i_blocks counts 512-byte sectors
 * in 32 bits, which caps a file lower.  A block number past it would be
 * cut to 32 bits in the extent tree, over the file's first blocks.
 */
static uint64_t ext4_max_file_size(ext2_filsys fs, unsigned int bbits)
{
	uint64_t max = ((1ULL << 32) - 1) << bbits;
	uint64_t sectors_cap = (((1ULL << 32) - 1) >> (bbits - 9)) << bbits;

	if (!ext2fs_has_feature_huge_file(fs->super) && sectors_cap < max)
		max = sectors_cap;
	return max;
}

/*
 * Free blocks that data allocation leaves to the extent trees.  Every
 * write into unwritten blocks that has not reached its ioend may split an
 * extent in two or three when it is converted, and a split may need a
 * new tree block; the conversion runs after writeback has ended, often
 * queued by the BPF tier, where ENOSPC can only fail a later fsync.
 * Their number is bounded by the data in flight, not by anything the
 * server sees, so reserve as the kernel's ext4 does for the same reason
 * (s_resv_clusters): 2% of the file system, at most 4096 blocks, and at
 * least 64 for a small one.
 */
static blk64_t ext4_tree_reserve(ext2_filsys fs)
{
	blk64_t r = ext2fs_blocks_count(fs->super) / 50;

	if (r > EXT4_TREE_RESERVE_MAX)
		r = EXT4_TREE_RESERVE_MAX;
	return r < EXT4_TREE_RESERVE_MIN ? EXT4_TREE_RESERVE_MIN : r;
}

int ext4_open_fs(const char *image, struct ext4srv *s)
{
	int flags = EXT2_FLAG_64BITS | (s->rw ? EXT2_FLAG_RW : 0);
	const char *why;
	struct stat st;
	errcode_t err;

	/* The kernel writes a block device around its page cache: so must we. */
	if (stat(image, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= EXT2_FLAG_DIRECT_IO;
	if (ext4_open_image(image, flags, &s->fs))
		return -1;
	why = ext4_unsupported(s->fs, s->rw);
	if (why) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: %s\n", image, why);
		goto out_close;
	}
	s->bbits = __builtin_ctz(s->fs->blocksize);
	s->maxbytes = ext4_max_file_size(s->fs, s->bbits);
	s->tree_reserve = ext4_tree_reserve(s->fs);
	if (!s->rw)
		return ext4_check_mmp(image, s);
	if (ext4_recover(image, flags, s))
		return -1;
	why = ext4_unwritable(s->fs);
	if (why) {
		fprintf(stderr, "fuse-iomap-ext4: can't serve %s: %s\n", image, why);
		goto out_close;
	}
	err = ext2fs_read_bitmaps(s->fs);
	if (!err && ext4_journal_mode(image, s))
		goto out_close;
	if (!err && s->journal && ext4_journal_start(s, image))
		goto out_close;
	if (!err && !s->journal)
		err = ext4_set_clean(s, false);
	if (!err && !ext4_recover_orphans(image, s))
		return 0;
	if (err)
		fprintf(stderr, "fuse-iomap-ext4: can't prepare %s for writing: %s\n", image,
			err < 256 ? strerror(err) : error_message(err));
	ext4_journal_stop(s);
out_close:
	ext2fs_close_free(&s->fs);
	return -1;
}

/* Write back everything and close; 0 if the image is clean on disk. */
int ext4_close_fs(const char *image, struct ext4srv *s)
{
	errcode_t err = 0;

	ext4_free_orphans(s);
	if (s->jnl)
		err = ext4_journal_stop(s) ? EIO : 0;
	else if (s->rw)
		err = ext4_set_clean(s, true);
	if (!err)
		err = ext2fs_close_free(&s->fs);
	else
		ext2fs_free(s->fs);
	if (!err)
		return 0;
	fprintf(stderr, "fuse-iomap-ext4: can't write back %s: %s\n", image,
		err < 256 ? strerror(err) : error_message(err));
	return -1;
}
