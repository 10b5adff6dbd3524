// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-iomap-ext4: what journal replay (replay.c) and the journal writer
 * (journal.c) share: the journal super block, read and checked, and the
 * place of each journal block on the device.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>

#include "ext4.h"
#include "jbd2.h"

void jbd2_err(const struct jbd2_log *l, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuse-iomap-ext4: can't %s the journal of %s: ", l->verb, l->image);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint32_t jbd2_crc(uint32_t seed, const unsigned char *p, size_t len)
{
	return ext2fs_crc32c_le(seed, p, len);
}

uint32_t jbd2_crc_zeroed(uint32_t seed, const unsigned char *b, size_t len, size_t at)
{
	static const unsigned char zero[4];

	seed = jbd2_crc(seed, b, at);
	seed = jbd2_crc(seed, zero, 4);
	return jbd2_crc(seed, b + at + 4, len - at - 4);
}

static int jbd2_read_sb(struct jbd2_log *l)
{
	struct ext2_super_block *sb = l->fs->super;
	struct ext2_inode inode;
	blk64_t blk;
	uint32_t type;

	if (!sb->s_journal_inum) {
		jbd2_err(l, "an external journal is not supported");
		return -1;
	}
	if (ext2fs_read_inode(l->fs, sb->s_journal_inum, &inode) ||
	    ext2fs_bmap2(l->fs, sb->s_journal_inum, &inode, NULL, 0, 0, NULL, &blk) || !blk ||
	    io_channel_read_blk64(l->fs->io, blk, 1, l->jsb)) {
		jbd2_err(l, "can't read the journal inode %u", sb->s_journal_inum);
		return -1;
	}
	type = jbd2_get32(l->jsb + JBD2_H_TYPE);
	if (jbd2_get32(l->jsb + JBD2_H_MAGIC) != JBD2_MAGIC ||
	    (type != JBD2_SB_V1 && type != JBD2_SB_V2)) {
		jbd2_err(l, "its super block is corrupt (no jbd2 magic)");
		return -1;
	}
	l->first = jbd2_get32(l->jsb + JBD2_S_FIRST);
	l->last = jbd2_get32(l->jsb + JBD2_S_MAXLEN);
	if (l->last > EXT2_I_SIZE(&inode) / l->bsize) {
		jbd2_err(l, "its super block is corrupt (%u blocks in a journal of %llu)", l->last,
			 (unsigned long long)(EXT2_I_SIZE(&inode) / l->bsize));
		return -1;
	}
	l->start = jbd2_get32(l->jsb + JBD2_S_START);
	l->seq = jbd2_get32(l->jsb + JBD2_S_SEQUENCE);
	if (type == JBD2_SB_V2)
		l->incompat = jbd2_get32(l->jsb + JBD2_S_INCOMPAT);
	l->csum = l->incompat & (JBD2_INCOMPAT_CSUM_V2 | JBD2_INCOMPAT_CSUM_V3);
	l->v3 = l->incompat & JBD2_INCOMPAT_CSUM_V3;
	l->b64 = l->incompat & JBD2_INCOMPAT_64BIT;
	return 0;
}

static int jbd2_check_sb(struct jbd2_log *l)
{
	uint32_t known = JBD2_INCOMPAT_REVOKE | JBD2_INCOMPAT_64BIT | JBD2_INCOMPAT_CSUM_V2 |
			 JBD2_INCOMPAT_CSUM_V3;

	if (jbd2_get32(l->jsb + JBD2_S_BLOCKSIZE) != l->bsize) {
		jbd2_err(l, "its block size %u is not the file system's (%u)",
			 jbd2_get32(l->jsb + JBD2_S_BLOCKSIZE), l->bsize);
		return -1;
	}
	if (l->incompat & JBD2_INCOMPAT_FAST_COMMIT) {
		jbd2_err(l, "fast commits (feature fast_commit) are not supported");
		return -1;
	}
	if (l->incompat & JBD2_INCOMPAT_ASYNC_COMMIT) {
		jbd2_err(l, "asynchronous commits (journal_async_commit) are not supported");
		return -1;
	}
	if (l->incompat & ~known) {
		jbd2_err(l, "unknown incompatible journal features 0x%x", l->incompat & ~known);
		return -1;
	}
	if (!l->csum && (jbd2_get32(l->jsb + JBD2_S_COMPAT) & JBD2_COMPAT_CHECKSUM)) {
		jbd2_err(l, "v1 journal checksums are not supported");
		return -1;
	}
	if (l->csum && (l->jsb[JBD2_S_CSUM_TYPE] != JBD2_CSUM_TYPE_CRC32C ||
			jbd2_crc_zeroed(~0U, l->jsb, JBD2_SB_SIZE, JBD2_S_CHECKSUM) !=
				jbd2_get32(l->jsb + JBD2_S_CHECKSUM))) {
		jbd2_err(l, "its super block is corrupt (bad checksum)");
		return -1;
	}
	if (l->first < 1 || l->first >= l->last ||
	    (l->start && (l->start < l->first || l->start >= l->last))) {
		jbd2_err(l, "its super block is corrupt (log start %u, length %u)", l->start, l->last);
		return -1;
	}
	if (jbd2_get32(l->jsb + JBD2_S_ERRNO)) {
		jbd2_err(l, "it records an error (errno %d): run e2fsck -f",
			 -(int32_t)jbd2_get32(l->jsb + JBD2_S_ERRNO));
		return -1;
	}
	l->seed = jbd2_crc(~0U, l->jsb + JBD2_S_UUID, JBD2_UUID_SIZE);
	if (l->v3)
		l->tag_bytes = 16;
	else
		l->tag_bytes = 8 + (l->b64 ? 4 : 0) + (l->csum ? 2 : 0);
	return 0;
}

int jbd2_log_open(struct jbd2_log *l, ext2_filsys fs, const char *image, const char *verb)
{
	memset(l, 0, sizeof(*l));
	l->fs = fs;
	l->image = image;
	l->verb = verb;
	l->bsize = fs->blocksize;
	/* Aligned: a block device is opened O_DIRECT. */
	if (posix_memalign((void **)&l->jsb, l->bsize, l->bsize)) {
		l->jsb = NULL;
		jbd2_err(l, "out of memory");
		return -1;
	}
	return jbd2_read_sb(l) ?: jbd2_check_sb(l);
}

static int jbd2_map_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
			  blk64_t ref_blk, int ref_offset, void *priv)
{
	struct jbd2_log *l = priv;

	(void)fs, (void)ref_blk, (void)ref_offset;
	if (blockcnt >= 0 && (uint64_t)blockcnt < l->last)
		l->map[blockcnt] = *blocknr;
	return 0;
}

int jbd2_log_map(struct jbd2_log *l)
{
	uint32_t i;

	l->map = calloc(l->last, sizeof(*l->map));
	if (!l->map) {
		jbd2_err(l, "out of memory");
		return -1;
	}
	if (ext2fs_block_iterate3(l->fs, l->fs->super->s_journal_inum,
				  BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL,
				  jbd2_map_block, l)) {
		jbd2_err(l, "can't map the journal inode %u", l->fs->super->s_journal_inum);
		return -1;
	}
	for (i = 0; i < l->last; i++) {
		if (!l->map[i] || l->map[i] >= ext2fs_blocks_count(l->fs->super)) {
			jbd2_err(l, "journal block %u of %u is not mapped", i, l->last);
			return -1;
		}
	}
	return 0;
}

void jbd2_log_close(struct jbd2_log *l)
{
	free(l->map);
	free(l->jsb);
	l->map = NULL;
	l->jsb = NULL;
}

void jbd2_sb_set(struct jbd2_log *l, uint32_t seq, uint32_t start)
{
	jbd2_put32(l->jsb + JBD2_S_SEQUENCE, seq);
	jbd2_put32(l->jsb + JBD2_S_START, start);
	jbd2_put32(l->jsb + JBD2_S_INCOMPAT, l->incompat);
	if (l->csum)
		jbd2_put32(l->jsb + JBD2_S_CHECKSUM,
			   jbd2_crc_zeroed(~0U, l->jsb, JBD2_SB_SIZE, JBD2_S_CHECKSUM));
}
