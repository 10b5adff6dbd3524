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

#include "fuse_iomap_bpf.h"

#define FI_EXTENT_MAX_FILES	65536
/* Binary search steps: enough for 2^24 extents in one file. */
#define FI_EXTENT_SEARCH_STEPS	24

struct fi_file_key {
	__u64 nodeid;
};

/* fi_file.flags */
#define FI_FILE_NO_WRITES	(1U << 0)	/* every write asks the server (out of place) */
/*
 * The server takes FUSE_IOMAP_IOEND: writes into UNWRITTEN extents are
 * answered (converted at ioend), and writes that may grow the file ask for
 * ioend instead of FUSE_IOMAP_END.  Without it, neither.
 */
#define FI_FILE_IOEND		(1U << 1)

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

/*
 * written: device blocks of UNWRITTEN extents that the program's
 * iomap_ioend saw written, one entry per block, keyed by device block
 * (not file block: a truncate or a new allocation never has I/O in
 * flight to the blocks it frees or hands out, so the server deletes
 * their entries then, with no race).  iomap_begin answers such a block
 * MAPPED although the server's extent still says UNWRITTEN; once the
 * server applied the queued record its extent says so too.
 */
#define FI_WRITTEN_MAX		(1U << 20)
/* Blocks one iomap_ioend may mark; a longer range goes to the server. */
#define FI_IOEND_MAX_BLOCKS	256

struct fi_written_key {
	__u32 dev;
	__u32 reserved;
	__u64 pblk;
};

/*
 * ioend_queue: a BPF ring buffer of the ioends the program handled, in
 * completion order.  The server applies each as if it had come as a
 * FUSE_IOMAP_IOEND upcall (nodeid and the request's fields).
 */
#define FI_IOEND_QUEUE_BYTES	(256 * 1024)

struct fi_ioend_rec {
	__u64 nodeid;
	struct fuse_iomap_ioend_in in;
};

#endif
