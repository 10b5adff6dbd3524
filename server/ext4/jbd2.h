/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuse-iomap-ext4: the jbd2 journal's on-disk format, as the kernel's
 * Documentation/filesystems/ext4/journal.rst describes it.  Every field is
 * big-endian; offsets are bytes from the start of a journal block.
 */
#ifndef FI_EXT4_JBD2_H
#define FI_EXT4_JBD2_H

#include <stdbool.h>
#include <stdint.h>
#include <ext2fs/ext2fs.h>

#define JBD2_MAGIC		0xc03b3998U

/* Every block the journal writes itself starts with this header. */
#define JBD2_H_MAGIC		0x00
#define JBD2_H_TYPE		0x04
#define JBD2_H_SEQUENCE		0x08
#define JBD2_H_SIZE		12

enum jbd2_block_type {
	JBD2_DESCRIPTOR = 1,
	JBD2_COMMIT = 2,
	JBD2_SB_V1 = 3,
	JBD2_SB_V2 = 4,
	JBD2_REVOKE = 5,
};

/* The journal's super block, in its block 0. */
#define JBD2_S_BLOCKSIZE	0x0c
#define JBD2_S_MAXLEN		0x10
#define JBD2_S_FIRST		0x14
#define JBD2_S_SEQUENCE		0x18
#define JBD2_S_START		0x1c
#define JBD2_S_ERRNO		0x20
#define JBD2_S_COMPAT		0x24
#define JBD2_S_INCOMPAT		0x28
#define JBD2_S_RO_COMPAT	0x2c
#define JBD2_S_UUID		0x30
#define JBD2_S_CSUM_TYPE	0x50	/* one byte */
#define JBD2_S_CHECKSUM		0xfc
#define JBD2_SB_SIZE		1024

#define JBD2_COMPAT_CHECKSUM	0x01	/* v1 commit checksums */
#define JBD2_INCOMPAT_REVOKE	0x01
#define JBD2_INCOMPAT_64BIT	0x02
#define JBD2_INCOMPAT_ASYNC_COMMIT 0x04
#define JBD2_INCOMPAT_CSUM_V2	0x08
#define JBD2_INCOMPAT_CSUM_V3	0x10
#define JBD2_INCOMPAT_FAST_COMMIT 0x20
#define JBD2_CSUM_TYPE_CRC32C	4

/*
 * A descriptor block's tags follow its header; each names the file system
 * block the next journal block goes to, and is followed by a 16-byte UUID
 * unless SAME_UUID is set.  With csum v3 a tag is blocknr, flags,
 * blocknr_high, checksum (32 bits each); before it, blocknr (32),
 * checksum (16, v2 only), flags (16) and blocknr_high (32, 64bit only).
 */
#define JBD2_TAG_ESCAPE		0x1	/* the block began with the magic, zeroed here */
#define JBD2_TAG_SAME_UUID	0x2
#define JBD2_TAG_LAST		0x8
#define JBD2_UUID_SIZE		16

/* With csum v2 or v3, descriptor and revoke blocks end with a checksum. */
#define JBD2_TAIL_SIZE		4

/* A revoke block: bytes in use, then 4- or 8-byte (64bit) block numbers. */
#define JBD2_R_COUNT		0x0c
#define JBD2_R_RECORDS		0x10

/* A commit block's checksum (v2, v3) covers the block with it zeroed. */
#define JBD2_C_CHECKSUM		0x10
#define JBD2_C_SEC		0x30	/* commit time, 64 bits */
#define JBD2_C_NSEC		0x38

static inline uint32_t jbd2_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t jbd2_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void jbd2_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * An internal journal (jbd2.c), as replay and the writer see it: its
 * super block in jsb (block-aligned), and with jbd2_log_map() where each
 * journal block is on the device.
 */
struct jbd2_log {
	ext2_filsys fs;
	const char *image;
	const char *verb;	/* what messages say we can't do: "replay", ... */
	unsigned int bsize;
	blk64_t *map;		/* journal block -> file system block */
	uint32_t first, last;	/* the log's blocks: [first, last) */
	uint32_t start, seq;	/* where the log starts, and its first transaction */
	uint32_t incompat;
	bool csum, v3, b64;
	uint32_t seed;		/* crc32c of the journal's UUID */
	unsigned int tag_bytes;
	unsigned char *jsb;
};

void __attribute__((format(printf, 2, 3))) jbd2_err(const struct jbd2_log *l, const char *fmt, ...);
uint32_t jbd2_crc(uint32_t seed, const unsigned char *p, size_t len);
/* The checksum of @b, its 4-byte field at @at counted as zero. */
uint32_t jbd2_crc_zeroed(uint32_t seed, const unsigned char *b, size_t len, size_t at);
/* Reads and checks the super block: 0, or -1 after a message. */
int jbd2_log_open(struct jbd2_log *l, ext2_filsys fs, const char *image, const char *verb);
int jbd2_log_map(struct jbd2_log *l);
void jbd2_log_close(struct jbd2_log *l);
/* Sets the log's start and first transaction (and features) in jsb, with its checksum. */
void jbd2_sb_set(struct jbd2_log *l, uint32_t seq, uint32_t start);

static inline uint32_t jbd2_next(const struct jbd2_log *l, uint32_t jblk)
{
	return ++jblk == l->last ? l->first : jblk;
}

#endif
