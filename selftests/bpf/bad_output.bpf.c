// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: for file block k (4 KiB blocks) answer a mapping that
 * breaks validation rule k, so a test can read block k and see EIO and
 * that rule's counter move.  Block 0 and blocks past the list fall back
 * to the upcall; blocks 12 and 13 return a bogus value and an errno.
 * Block 16 gets a valid mapping (device block 10), which a test reading
 * a file of more than 16 blocks can use as its control.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define BLK	4096ULL
#define COOKIE	1	/* the first device a server registers */

SEC("struct_ops/iomap_begin")
int BPF_PROG(bad_output_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	__u64 pos = args->pos & ~(BLK - 1);

	out->read.offset = pos;
	out->read.length = BLK;
	out->read.addr = 40960;
	out->read.type = FUSE_IOMAP_TYPE_MAPPED;
	out->read.dev = COOKIE;
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	switch (pos / BLK) {
	case 1:
		out->read.type = 9;
		break;
	case 2:
		out->read.flags = FUSE_IOMAP_F_BOUNDARY;
		break;
	case 3:
		out->read.length = 0;
		break;
	case 4:
		out->read.length = 0xfffffffffffff000ULL;
		break;
	case 5:
		out->read.addr = 40961;
		break;
	case 6:
		out->read.dev = FUSE_IOMAP_DEV_NULL;
		break;
	case 7:
		out->read.type = FUSE_IOMAP_TYPE_HOLE;
		break;
	case 8:
		out->read.offset = pos + 2 * BLK;
		break;
	case 9:
		out->read.dev = 99;
		break;
	case 10:
		out->read.addr = 1ULL << 40;
		break;
	case 11:
		out->read.type = FUSE_IOMAP_TYPE_INLINE;
		out->read.addr = FUSE_IOMAP_NULL_ADDR;
		out->read.dev = FUSE_IOMAP_DEV_NULL;
		break;
	case 12:
		return 12345;
	case 13:
		return -28;	/* ENOSPC */
	case 16:
		break;		/* valid: the defaults above */
	default:
		return FUSE_BPF_NO_ANSWER;
	}
	return 0;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops bad_output = {
	.iomap_begin = (void *)bad_output_begin,
	.name = "bad_output",
};
