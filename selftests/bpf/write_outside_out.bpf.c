// SPDX-License-Identifier: GPL-2.0
/* Test program: stores into its arguments, which the verifier must refuse. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/iomap_begin")
int BPF_PROG(write_args_begin, struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	args->pos = 0;
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops write_outside_out = {
	.iomap_begin = (void *)write_args_begin,
	.name = "write_args",
};
