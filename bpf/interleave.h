/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * interleave: famfs-style striping for bpf/interleave.bpf.c.  A file's
 * blocks go round-robin, one chunk at a time, over its stripes, each a
 * range of a device: file chunk c is chunk c / nstripes of stripe
 * c % nstripes.  No entry per extent: a few numbers per file, set by the
 * server (or anyone with the map) in "layouts", keyed by fuse node id.
 */
#ifndef FI_INTERLEAVE_H
#define FI_INTERLEAVE_H

#include <linux/types.h>

#define FI_INTERLEAVE_MAX_STRIPES	16
#define FI_INTERLEAVE_MAX_FILES		4096

struct fi_stripe {
	__u64 start;		/* first device block of the stripe */
	__u64 len;		/* its blocks */
	__u32 dev;		/* device cookie */
	__u32 reserved;
};

struct fi_interleave {
	__u32 nstripes;		/* 1..FI_INTERLEAVE_MAX_STRIPES */
	__u32 chunk_bits;	/* log2 of the chunk size in blocks */
	__u64 blocks;		/* the file's allocated blocks; past them: a hole */
	struct fi_stripe stripe[FI_INTERLEAVE_MAX_STRIPES];
};

#endif
