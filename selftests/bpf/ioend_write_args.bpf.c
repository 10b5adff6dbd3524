// SPDX-License-Identifier: GPL-2.0
/*
 * Test program: an iomap_ioend that stores into its arguments, which the
 * verifier must refuse (iomap_ioend has no answer: it may write only its
 * maps).  iomap_begin is the plain one of no_answer.bpf.c: the refusal is
 * the ioend member's.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/iomap_begin")
int BPF_PROG(write_args_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

/* Say the write was shorter: the kernel must never see such a store. */
SEC("struct_ops/iomap_ioend")
int BPF_PROG(write_args_ioend, struct fuse_bpf_iomap_ioend_args *args)
{
	args->written = 0;
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops ioend_write_args = {
	.iomap_begin = (void *)write_args_begin,
	.iomap_ioend = (void *)write_args_ioend,
	.name = "ioend_wr_args",
};
