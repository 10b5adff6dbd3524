// SPDX-License-Identifier: GPL-2.0
/*
 * interleave: answers FUSE_IOMAP_BEGIN by arithmetic for striped files
 * (see interleave.h): the chunk, its stripe and its place there, then the
 * rest of the chunk as one mapping.  Reads, zeroing, writeback and
 * overwrites inside the file's blocks are answered; past them a read gets
 * a hole, and a write or writeback the server.  A file without a layout, or a layout
 * that does not add up, falls back to the upcall.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"
#include "interleave.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FI_INTERLEAVE_MAX_FILES);
	__type(key, __u64);
	__type(value, struct fi_interleave);
} layouts SEC(".maps");

SEC("struct_ops/iomap_begin")
int BPF_PROG(interleave_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	__u64 nodeid = args->nodeid, lblk, chunk, in_chunk, cblocks, k, s;
	__u32 bits = args->blkbits, n;
	struct fi_interleave *l;
	struct fi_stripe *st;
	bool write;

	l = bpf_map_lookup_elem(&layouts, &nodeid);
	if (!l || bits > 16 || l->chunk_bits > 20)
		return FUSE_BPF_NO_ANSWER;
	n = l->nstripes;
	if (n == 0 || n > FI_INTERLEAVE_MAX_STRIPES)
		return FUSE_BPF_NO_ANSWER;
	write = (args->opflags & FUSE_IOMAP_OP_WRITE) &&
		!(args->opflags & (FUSE_IOMAP_OP_ZERO | FUSE_IOMAP_OP_WRITEBACK));
	lblk = args->pos >> bits;
	out->write.type = FUSE_IOMAP_TYPE_PURE_OVERWRITE;
	if (lblk >= l->blocks) {
		if (args->opflags & FUSE_IOMAP_OP_WRITE && !(args->opflags & FUSE_IOMAP_OP_ZERO))
			return FUSE_BPF_NO_ANSWER;
		out->read.offset = lblk << bits;
		out->read.length = ((FUSE_IOMAP_MAX_END >> bits) - lblk) << bits;
		out->read.addr = FUSE_IOMAP_NULL_ADDR;
		out->read.type = FUSE_IOMAP_TYPE_HOLE;
		out->read.dev = FUSE_IOMAP_DEV_NULL;
		return 0;
	}
	cblocks = 1ULL << l->chunk_bits;
	chunk = lblk >> l->chunk_bits;
	in_chunk = lblk & (cblocks - 1);
	s = chunk % n;
	k = chunk / n;
	/* Keep the bounded value the check below is made on: the verifier follows it. */
	barrier_var(s);
	if (s >= FI_INTERLEAVE_MAX_STRIPES)
		return FUSE_BPF_NO_ANSWER;
	st = &l->stripe[s];
	if ((k + 1) << l->chunk_bits > st->len)
		return FUSE_BPF_NO_ANSWER;
	out->read.offset = lblk << bits;
	out->read.length = (cblocks - in_chunk) << bits;
	if (lblk + (cblocks - in_chunk) > l->blocks)
		out->read.length = (l->blocks - lblk) << bits;
	out->read.addr = (st->start + (k << l->chunk_bits) + in_chunk) << bits;
	out->read.type = FUSE_IOMAP_TYPE_MAPPED;
	out->read.dev = st->dev;
	if (write)
		out->read.flags = FUSE_IOMAP_F_WANT_IOMAP_END;
	return 0;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops interleave = {
	.iomap_begin = (void *)interleave_begin,
	.name = "interleave",
};
