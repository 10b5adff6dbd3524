/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * extent_map: the maps a server fills for bpf/extent_map.bpf.c.
 *
 * files:   fuse node id -> the generation and count of its extent list.
 *          No entry: no answer (the kernel asks the server).
 * extents: (node id, generation, index) -> one extent, sorted by lblk
 *          within a generation; holes are the gaps (a file's list is
 *          complete), past the last extent a hole to any file size.
 *
 * A server changes a file's list by deleting its files entry and old
 * extents first, then writing a new generation and its files entry last:
 * a program racing with the change either finds no entry or finds none of
 * the old keys, and answers nothing.  Blocks are in units of 1 << blkbits.
 */
#ifndef FI_EXTENT_MAP_H
#define FI_EXTENT_MAP_H

#include <linux/types.h>

#define FI_EXTENT_MAX_FILES	65536
/* Binary search steps: enough for 2^24 extents in one file. */
#define FI_EXTENT_SEARCH_STEPS	24

struct fi_file_key {
	__u64 nodeid;
};

/* fi_file.flags */
#define FI_FILE_NO_WRITES	(1U << 0)	/* every write asks the server (out of place) */

struct fi_file {
	__u32 gen;
	__u32 count;		/* extents, 0 = the file is one hole */
	__u32 flags;		/* FI_FILE_* */
	__u32 reserved;
};

struct fi_extent_key {
	__u64 nodeid;
	__u32 gen;
	__u32 idx;
};

struct fi_extent {
	__u64 lblk;		/* first file block */
	__u64 len;		/* blocks */
	__u64 pblk;		/* first device block */
	__u32 dev;		/* device cookie */
	__u16 type;		/* FUSE_IOMAP_TYPE_MAPPED or _UNWRITTEN */
	__u16 reserved;
};

#endif
