// SPDX-License-Identifier: GPL-2.0
/* Test program: never has an answer, so every mapping falls back to the upcall. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fuse_iomap_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/iomap_begin")
int BPF_PROG(no_answer_begin, const struct fuse_bpf_iomap_begin_args *args,
	     struct fuse_iomap_begin_out *out)
{
	return FUSE_BPF_NO_ANSWER;
}

SEC(".struct_ops.link")
struct fuse_bpf_ops no_answer = {
	.iomap_begin = (void *)no_answer_begin,
	.name = "no_answer",
};
